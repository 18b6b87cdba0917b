#!/usr/bin/env bash
# bench_platform.sh — the peer benchmark's sample service (../shared/bench/app) built for two
# platforms against one, in one run on this machine, by plate and by buildah (the peer):
#   single   --platform linux/amd64
#   arm64    --platform linux/arm64 (the arm64 build alone: a floor for the two-platform one)
#   multi    --platform linux/amd64,linux/arm64 (an OCI image index; buildah: --manifest)
# Both cold (base loaded, empty build cache, a fresh store each run), from a cross-compiling
# variant of the sample's Dockerfile generated here (never written into ../shared): the
# builder runs `FROM --platform=$BUILDPLATFORM` and `go build` gets GOARCH=$TARGETARCH.  The
# builder's steps before `ARG TARGETARCH` do not depend on the target: the platforms build at
# the same time and one of them builds those steps while the other waits for them; the script
# lists which steps each platform ran and which it shared.  Goal: multi ≤ 2.1 × single.
# Prints medians of RUNS runs (default 3) of the wall and CPU (user + system, the builder and
# its RUN processes) times, the ratios, and the load average before and after.  buildah
# (chroot isolation, --layers, private storage emptied before each run) gets the same
# Dockerfile with `FROM --platform=linux/amd64`: buildah 1.28 does not expand $BUILDPLATFORM
# in FROM --platform and then looks for an arm64 base; on this machine the two are the same.
# BENCH_PEER=0 leaves buildah out.
# Needs ../shared/bench/make-base.sh output in $BENCH_OUT (default /tmp/plate-bench-out), a
# built plate, buildah; runs as root.
#   bench/bench_platform.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
. bench/inputs.bash
[ -d "$APP" ] || { echo "missing $APP" >&2; exit 1; }
W=$(mktemp -d "$BENCH_OUT/bench-platform.XXXXXX")
BUILDAH=(buildah --root "$W/buildah-root" --runroot "$W/buildah-run" --storage-driver overlay)
PEER=${BENCH_PEER:-1}
cleanup() {
	local m
	[ "$PEER" = 0 ] || "${BUILDAH[@]}" rmi --all --force >/dev/null 2>&1 || true
	for m in $(awk -v s="$W/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

cp -r "$APP" "$W/app"
sed -e 's|^FROM \${GO_IMAGE} AS builder|FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS builder|' \
	-e 's|^RUN CGO_ENABLED=0 GOOS=linux go build|ARG TARGETOS TARGETARCH\nRUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build|' \
	"$APP/Dockerfile" >"$W/app/Dockerfile"
grep -q 'GOARCH=\$TARGETARCH' "$W/app/Dockerfile" || { echo "the sample's Dockerfile changed: cannot make the cross-compiling variant" >&2; exit 1; }
sed 's|^FROM --platform=\$BUILDPLATFORM|FROM --platform=linux/amd64|' "$W/app/Dockerfile" >"$W/Dockerfile.buildah"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# cold LABEL PLATFORMS: one build in a fresh store with the base loaded; wall seconds
# appended to $W/LABEL, the plain progress kept in $W/LABEL.log.
cold() {
	local label=$1 platforms=$2 store=$W/store-$1 t0 t1
	rm -rf "$store"
	"$PLATE" --root "$store" load -i "$ARCHIVE" >/dev/null
	"$PLATE" --root "$store" tag "$("$PLATE" --root "$store" images -q | head -1)" golang:1.19-local
	/usr/bin/time -f '%e %U %S' -o "$W/$label.time" \
		"$PLATE" --root "$store" build --progress plain --build-arg GO_IMAGE=golang:1.19-local \
		--platform "$platforms" -t svc "$W/app" >"$W/$label.log" 2>&1 ||
		{ tail -20 "$W/$label.log" >&2; exit 1; }
	awk '{print $1}' "$W/$label.time" >>"$W/$label"
	awk '{print $2 + $3}' "$W/$label.time" >>"$W/$label.cpu"
	rm -rf "$store"
}
# peer LABEL PLATFORMS: the same with buildah, in a storage holding only the base.
peer() {
	local label=buildah-$1 platforms=$2 out=(-t localhost/svc:v)
	"${BUILDAH[@]}" rmi --all --force >/dev/null 2>&1 || true
	"${BUILDAH[@]}" pull -q "oci-archive:$ARCHIVE" >/dev/null
	"${BUILDAH[@]}" tag "$("${BUILDAH[@]}" images -q | head -1)" localhost/golang:1.19
	case $platforms in *,*) out=(--manifest localhost/svc:v) ;; esac
	/usr/bin/time -f '%e %U %S' -o "$W/$label.time" \
		"${BUILDAH[@]}" bud --layers --isolation chroot --pull=false --platform "$platforms" \
		"${out[@]}" --build-arg GO_IMAGE=localhost/golang:1.19 -f "$W/Dockerfile.buildah" \
		"$W/app" >"$W/$label.log" 2>&1 || { tail -20 "$W/$label.log" >&2; exit 1; }
	awk '{print $1}' "$W/$label.time" >>"$W/$label"
	awk '{print $2 + $3}' "$W/$label.time" >>"$W/$label.cpu"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
builders=(plate)
[ "$PEER" = 0 ] || builders+=(buildah)
for _ in $(seq 1 "$RUNS"); do
	cold single linux/amd64
	cold arm64 linux/arm64
	cold multi linux/amd64,linux/arm64
	if [ "$PEER" != 0 ]; then
		peer single linux/amd64
		peer arm64 linux/arm64
		peer multi linux/amd64,linux/arm64
	fi
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-7s %9s %9s   (medians of %s)\n' builder build wall CPU "$RUNS"
for builder in "${builders[@]}"; do
	prefix=
	[ "$builder" = plate ] || prefix=$builder-
	for label in single arm64 multi; do
		printf '%-8s %-7s %7.2f s %7.2f s\n' "$builder" "$label" \
			"$(median <"$W/$prefix$label")" "$(median <"$W/$prefix$label.cpu")"
	done
	s=$(median <"$W/${prefix}single")
	a=$(median <"$W/${prefix}arm64")
	m=$(median <"$W/${prefix}multi")
	printf '%-8s multi / single: %.2f× (goal ≤ 2.1×); multi / arm64 alone: %.2f×; arm64 / single: %.2f×\n' \
		"$builder" "$(echo "$m / $s" | bc -l)" "$(echo "$m / $a" | bc -l)" "$(echo "$a / $s" | bc -l)"
done
# Which steps each platform of the last multi build ran, and which it took from the other
# (SHARED: it waited for the other platform's run).  The platforms' lines are interleaved:
# a step's lines are those of its id.
echo "steps of the two-platform build (SHARED = built once, by the other platform):"
awk '/^#[0-9]+ \[linux\// {id = substr($1, 2); name[id] = substr($0, length($1) + 2)}
     /^#[0-9]+ SHARED with/ {shared[substr($1, 2)] = 1}
     /^#[0-9]+ (CACHED|DONE)/ {id = substr($1, 2)
	if ((id in name) && !(id in seen)) {
		seen[id] = 1
		printf "  %-7s %6s  %s\n", (id in shared) ? "SHARED" : $2, $2 == "DONE" ? $3 : "", substr(name[id], 1, 76)
	}}' "$W/multi.log"
# The go build of the single-platform build, for comparison: a cross-compilation also
# compiles the standard library for the target, which the toolchain ships built for its own.
go_build() { grep -A3 'GOARCH=$TARGETARCH go build' "$W/$1.log" | sed -n 's/^#[0-9]* DONE //p' | head -1; }
printf 'plate go build: single-platform %s, arm64 alone %s\n' "$(go_build single)" "$(go_build arm64)"
