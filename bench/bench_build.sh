#!/usr/bin/env bash
# bench_build.sh — plate build on the peer benchmark's sample service (../shared/bench/app),
# the scenarios of ../shared/bench/buildah-bench.sh, against `go build` alone in a chroot of
# the same base, in one run on this machine:
#   cold      base already in the store, empty build cache
#   no-op     nothing changed
#   main.go   main.go edited (a comment appended)
#   go.mod    go.mod edited (a comment appended)
#   export    plate save --format oci of the final image
#   chroot    CGO_ENABLED=0 go build in a chroot of the golang base, empty GOCACHE
# Prints the median wall time of RUNS runs of each and plate's own overhead (cold − chroot).
# Needs ../shared/bench/make-base.sh output in $BENCH_OUT (default /tmp/plate-bench-out) and a
# built plate; runs as root.
#   bench/bench_build.sh [RUNS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BENCH_OUT=${BENCH_OUT:-/tmp/plate-bench-out}
PLATE=${PLATE:-$PWD/build/plate}
ARCHIVE=$BENCH_OUT/golang-1.19-local.oci.tar
APP=${APP:-$PWD/../shared/bench/app}
[ -f "$ARCHIVE" ] || { echo "missing $ARCHIVE: run ../shared/bench/make-base.sh first" >&2; exit 1; }
[ -x "$PLATE" ] || { echo "missing $PLATE: make first" >&2; exit 1; }
[ -d "$APP" ] || { echo "missing $APP" >&2; exit 1; }
W=$(mktemp -d "$BENCH_OUT/bench-build.XXXXXX")
trap 'rm -rf "$W"' EXIT
export PLATE_ROOT=$W/store
p() { "$PLATE" "$@"; }

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timed LABEL CMD...: appends the wall time of CMD to $W/LABEL.
timed() {
	local label=$1 t0
	shift
	t0=$(now)
	"$@" >/dev/null 2>"$W/last.err" || { cat "$W/last.err" >&2; exit 1; }
	echo "$(now) - $t0" | bc >>"$W/$label"
}

p load -i "$ARCHIVE" >/dev/null
id=$(p images -q | head -1)
p tag "$id" golang:1.19-local
cp -r "$APP" "$W/app"
chmod -R u+w "$W/app"
B=(build -q --build-arg GO_IMAGE=golang:1.19-local -t my-awesome-service "$W/app")

# chroot baseline: the base's files, as `plate build -o` writes them.
printf 'FROM golang:1.19-local\n' | p build -q -f - -o "$W/rootfs" "$W/app" >/dev/null
mkdir -p "$W/rootfs/app" "$W/rootfs/proc" "$W/rootfs/dev"
cp "$W/app"/*.go "$W/app/go.mod" "$W/app/go.sum" "$W/rootfs/app/"
chroot_build() {
	rm -rf "$W/rootfs/root/.cache"
	env -i unshare --mount --pid --fork --propagation private /bin/sh -c '
		mount -t proc proc "$1/proc"
		mount --rbind /dev "$1/dev"
		exec /usr/sbin/chroot "$1" /bin/sh -c "cd /app && HOME=/root GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CGO_ENABLED=0 GOOS=linux go build -o /app/svc"
	' sh "$W/rootfs"
}

for i in $(seq 1 "$RUNS"); do
	timed chroot chroot_build
	p rmi my-awesome-service >/dev/null 2>&1 || true
	p prune --all >/dev/null
	timed cold p "${B[@]}"
	timed noop p "${B[@]}"
	echo "// edit $i" >>"$W/app/main.go"
	timed maingo p "${B[@]}"
	echo "// edit $i" >>"$W/app/go.mod"
	timed gomod p "${B[@]}"
	timed export p save --format oci -o "$W/out.tar" my-awesome-service
done

printf '%-10s %8s\n' scenario seconds
for s in cold noop maingo gomod export chroot; do
	printf '%-10s %8.3f\n' "$s" "$(median <"$W/$s")"
done
cold=$(median <"$W/cold")
ch=$(median <"$W/chroot")
printf 'plate overhead on a cold build (cold - chroot go build): %.3f s\n' "$(echo "$cold - $ch" | bc)"
printf 'final image: %s bytes of layers\n' \
	"$(p inspect my-awesome-service | jq '[.[0].Descriptor] | length' >/dev/null && p images | awk '/my-awesome-service/ {print $NF}')"
