#!/usr/bin/env bash
# bench_build.sh — plate build against buildah on the peer benchmark's sample service
# (../shared/bench/app), in one run on this machine, and against `go build` alone in a chroot:
#   cold      base already in the store, empty build cache
#   noop      nothing changed
#   maingo    main.go edited (a comment appended)
#   gomod     go.mod edited (a comment appended)
#   cm-edit   plate only: a variant of the Dockerfile whose go build has
#             `--mount=type=cache` for /root/.cache/go-build and /go/pkg/mod (generated here,
#             never written into ../shared), main.go edited after a first build; compared
#             with buildah's plain main.go edit
#   chroot    CGO_ENABLED=0 go build in a chroot of the golang base, empty GOCACHE
# Builder overhead: plate = cold − the time spent inside its RUN processes (plate reports
# it per step in --progress json); buildah = cold − chroot (it reports no such figure).
# Peak RSS: the builder's own process (VmHWM, ../shared/bench/rsswrap.py), not its RUNs.
# Prints medians of RUNS runs and the ratios.  Needs ../shared/bench/make-base.sh output in
# $BENCH_OUT (default /tmp/plate-bench-out), a built plate, buildah; runs as root.
#   bench/bench_build.sh [RUNS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
. bench/inputs.bash
RSSWRAP=$SHARED/rsswrap.py
[ -d "$APP" ] || { echo "missing $APP" >&2; exit 1; }
command -v buildah >/dev/null || { echo "missing buildah (apt-get install buildah)" >&2; exit 1; }
W=$(mktemp -d "$BENCH_OUT/bench-build.XXXXXX")
BR=(buildah --root "$W/buildah/root" --runroot "$W/buildah/run" --storage-driver overlay)
cleanup() {
	"${BR[@]}" rmi --all --force >/dev/null 2>&1 || true
	local m
	for m in $(awk -v s="$W/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
export PLATE_ROOT=$W/store
p() { "$PLATE" "$@"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timed LABEL CMD...: runs CMD under rsswrap; appends wall time and own peak RSS (KiB).
timed() {
	local label=$1
	shift
	python3 "$RSSWRAP" "$W/rss.jsonl" "$label" -- "$@" >/dev/null 2>"$W/last.err" ||
		{ tail -20 "$W/last.err" >&2; exit 1; }
	tail -1 "$W/rss.jsonl" | jq -r .wall_s >>"$W/$label"
	tail -1 "$W/rss.jsonl" | jq -r .main_hwm_kb >>"$W/$label.rss"
}

p load -i "$ARCHIVE" >/dev/null
p tag "$(p images -q | head -1)" golang:1.19-local
for d in app app-b app-cm; do
	cp -r "$APP" "$W/$d"
	chmod -R u+w "$W/$d"
done
sed -i 's|^RUN CGO_ENABLED=0 GOOS=linux go build|RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod CGO_ENABLED=0 GOOS=linux go build|' \
	"$W/app-cm/Dockerfile"
grep -q -- '--mount=type=cache' "$W/app-cm/Dockerfile" || { echo "cannot make the cache-mount variant" >&2; exit 1; }
B=(build --build-arg GO_IMAGE=golang:1.19-local -t my-awesome-service)
BB=(build --layers --pull=false --isolation chroot --build-arg GO_IMAGE=localhost/golang:1.19-local
	-t localhost/my-awesome-service)
buildah_base() {
	"${BR[@]}" rmi --all --force >/dev/null 2>&1 || true
	"${BR[@]}" tag "$("${BR[@]}" pull -q "oci-archive:$ARCHIVE")" localhost/golang:1.19-local
}

# chroot baseline: the base's files, as `plate build -o` writes them.
printf 'FROM golang:1.19-local\n' | p build -q -f - -o "$W/rootfs" "$W/app" >/dev/null
mkdir -p "$W/rootfs/app" "$W/rootfs/proc" "$W/rootfs/dev"
cp "$W/app"/*.go "$W/app/go.mod" "$W/app/go.sum" "$W/rootfs/app/"
export W
chroot_build() {
	rm -rf "$W/rootfs/root/.cache"
	env -i unshare --mount --pid --fork --propagation private /bin/sh -c '
		mount -t proc proc "$1/proc"
		mount --rbind /dev "$1/dev"
		exec /usr/sbin/chroot "$1" /bin/sh -c "cd /app && HOME=/root GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CGO_ENABLED=0 GOOS=linux go build -o /app/svc"
	' sh "$W/rootfs"
}
export -f chroot_build
# The seconds plate spent inside RUN processes, from its json progress.
JSON=$W/cold.json
export JSON
process_seconds() { jq -s '[.[] | select(.type == "done") | .process_seconds // 0] | add' "$1"; }

for i in $(seq 1 "$RUNS"); do
	echo "run $i/$RUNS" >&2
	timed chroot bash -c chroot_build
	# plate
	p rmi my-awesome-service >/dev/null 2>&1 || true
	p prune --all --mounts >/dev/null
	timed p-cold sh -c 'exec "$0" "$@" --progress json 2>"$JSON"' "$PLATE" "${B[@]}" "$W/app"
	process_seconds "$JSON" >>"$W/p-process"
	timed p-noop "$PLATE" "${B[@]}" -q "$W/app"
	echo "// edit $i" >>"$W/app/main.go"
	timed p-maingo "$PLATE" "${B[@]}" -q "$W/app"
	echo "// edit $i" >>"$W/app/go.mod"
	timed p-gomod "$PLATE" "${B[@]}" -q "$W/app"
	p "${B[@]}" -q "$W/app-cm" >/dev/null
	echo "// edit $i" >>"$W/app-cm/main.go"
	timed p-cm "$PLATE" "${B[@]}" -q "$W/app-cm"
	# buildah
	buildah_base
	timed b-cold "${BR[@]}" "${BB[@]}" "$W/app-b"
	timed b-noop "${BR[@]}" "${BB[@]}" "$W/app-b"
	echo "// edit $i" >>"$W/app-b/main.go"
	timed b-maingo "${BR[@]}" "${BB[@]}" "$W/app-b"
	echo "// edit $i" >>"$W/app-b/go.mod"
	timed b-gomod "${BR[@]}" "${BB[@]}" "$W/app-b"
done

m() { median <"$W/$1"; }
r() { echo "$1 $2" | awk '{ printf "x%.3f", $1 / $2 }'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)   runs: $RUNS (medians, seconds)"
printf '%-34s %9s %9s %9s\n' scenario plate buildah plate/buildah
for s in cold noop maingo gomod; do
	printf '%-34s %9.3f %9.3f %9s\n' "$s" "$(m p-$s)" "$(m b-$s)" "$(r "$(m p-$s)" "$(m b-$s)")"
done
printf '%-34s %9.3f %9.3f %9s\n' "main.go edit, plate with cache mount" "$(m p-cm)" "$(m b-maingo)" \
	"$(r "$(m p-cm)" "$(m b-maingo)")"
po=$(paste "$W/p-cold" "$W/p-process" | awk '{print $1 - $2}' | median)
bo=$(echo "$(m b-cold) $(m chroot)" | awk '{print $1 - $2}')
printf '%-34s %9.3f %9.3f %9s\n' "builder overhead (cold)" "$po" "$bo" "$(r "$po" "$bo")"
pr=$(cat "$W"/p-*.rss | sort -n | tail -1)
brs=$(cat "$W"/b-*.rss | sort -n | tail -1)
printf '%-34s %9s %9s %9s\n' "peak RSS of the builder (KiB)" "$pr" "$brs" "$(r "$pr" "$brs")"
printf '%-34s %9.3f\n' "go build alone in a chroot" "$(m chroot)"
printf '%-34s %9.3f\n' "plate: inside RUN processes (cold)" "$(m p-process)"
