#!/usr/bin/env bash
# bench_registry.sh — plate's registry transfers against the peers, in one run:
#   pull+extract of the golang base (/work/shared/bench/make-base.sh) from a local
#     docker-registry: `plate pull` (layers into snapshots) vs `buildah pull` (overlay
#     storage) vs `skopeo copy` to an OCI directory (no extraction);
#   push of a fresh ~100 MB image: `plate push` vs `skopeo copy` (from plate's store, which
#     is an OCI layout, so both send the same kind of blobs) to fresh repositories.  Every
#     push, of either tool, sends a layer the registry has never seen: a new image of fresh
#     random data is imported (untimed) before each one.  Pushing one image to several
#     repositories of a registry would let the second push mount the blob from the first
#     (skopeo's blob-info cache, /var/lib/containers/cache/blob-info-cache-v1.boltdb,
#     remembers where it pushed a blob and asks for a cross-repository mount), which
#     measures no upload at all.
# Prints seconds, user+sys CPU seconds, peak RSS (GNU time %e %U %S %M) and ratios.  Needs root (buildah's storage), the
# base from make-base.sh ($BENCH_OUT, default /tmp/plate-bench-out; made when missing),
# docker-registry, skopeo, buildah.  RUNS=N repeats each measurement (median reported).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PLATE=${PLATE:-$SRC/plate}
BENCH_OUT=${BENCH_OUT:-/tmp/plate-bench-out}
RUNS=${RUNS:-3}
W=$(mktemp -d /tmp/bench-registry.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	buildah --root "$W/buildah" --runroot "$W/buildah-run" rmi -a -f >/dev/null 2>&1 || true
	umount -R "$W/buildah" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
for c in docker-registry skopeo buildah /usr/bin/time python3; do
	command -v "$c" >/dev/null || { echo "bench_registry: $c not installed" >&2; exit 1; }
done
[ -x "$PLATE" ] || { echo "bench_registry: no plate at $PLATE" >&2; exit 1; }
if [ ! -d "$BENCH_OUT/oci/golang" ]; then
	BENCH_OUT=$BENCH_OUT /work/shared/bench/make-base.sh >"$W/make-base.log" 2>&1
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/reg"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
	"$W/reg" "$port" >"$W/reg.yml"
docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
R=127.0.0.1:$port
skopeo copy -q --dest-tls-verify=false "oci:$BENCH_OUT/oci/golang:1.19-local" "docker://$R/library/golang:1.19-local"

# measure NAME CMD...: runs CMD, appends "NAME seconds maxrss_kib user sys" to $W/times.
measure() {
	local name=$1
	shift
	/usr/bin/time -f "$name %e %M %U %S" -a -o "$W/times" "$@" >/dev/null 2>"$W/last.err" ||
		{ echo "bench_registry: $name failed:" >&2; cat "$W/last.err" >&2; exit 1; }
}
cpu() { grep "^$1 " "$W/times" | awk '{print $4 + $5}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
median() { grep "^$1 " "$W/times" | awk '{print $'"$2"'}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for i in $(seq "$RUNS"); do
	rm -rf "$W/plate" "$W/oci"
	measure plate-pull "$PLATE" --root "$W/plate" pull -q "$R/library/golang:1.19-local"
	measure buildah-pull buildah --root "$W/buildah" --runroot "$W/buildah-run" --storage-driver overlay \
		pull -q --tls-verify=false "docker://$R/library/golang:1.19-local"
	buildah --root "$W/buildah" --runroot "$W/buildah-run" rmi -a -f >/dev/null 2>&1
	measure skopeo-oci skopeo copy -q --src-tls-verify=false "docker://$R/library/golang:1.19-local" "oci:$W/oci:x"
done

# fresh_image TAG: a new ~100 MB image of random data (incompressible, so the gzip layer
# stays ~100 MB) in plate's store, never seen by the registry.
fresh_image() {
	rm -rf "$W/rootfs" && mkdir -p "$W/rootfs"
	head -c 100000000 /dev/urandom >"$W/rootfs/data"
	tar -C "$W/rootfs" -cf "$W/rootfs.tar" .
	"$PLATE" --root "$W/plate" import "$W/rootfs.tar" "bench/$1:latest" >/dev/null
}
for i in $(seq "$RUNS"); do
	fresh_image plate$i
	measure plate-push "$PLATE" --root "$W/plate" push -q "bench/plate$i:latest" "$R/push/plate$i:v1"
	fresh_image skopeo$i
	measure skopeo-push skopeo copy -q --dest-tls-verify=false \
		"oci:$W/plate:docker.io/bench/skopeo$i:latest" "docker://$R/push/skopeo$i:v1"
done

pp=$(median plate-pull 2); bp=$(median buildah-pull 2); sp=$(median skopeo-oci 2)
pu=$(median plate-push 2); su=$(median skopeo-push 2)
printf '%-34s %8s %10s %12s\n' "scenario (median of $RUNS)" seconds user+sys "peak RSS MiB"
for n in plate-pull buildah-pull skopeo-oci plate-push skopeo-push; do
	printf '%-34s %8s %10s %12.1f\n' "$n" "$(median $n 2)" "$(cpu $n)" "$(echo "$(median $n 3) / 1024" | bc -l)"
done
echo "pull+extract: buildah/plate = $(echo "scale=2; $bp / $pp" | bc -l)x (goal >= 3)," \
	"skopeo-to-OCI-dir/plate = $(echo "scale=2; $sp / $pp" | bc -l)x"
echo "push 100 MB: skopeo/plate = $(echo "scale=2; $su / $pu" | bc -l)x (goal >= 1)"
