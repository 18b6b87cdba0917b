#!/usr/bin/env bash
# bench_cache.sh — issue 16's figure: the sample service (../shared/bench/app) built on a
# fresh store with the build cache of another runner, against its cold build, and against
# BuildKit's inline cache in the same run:
#   plate-cold       fresh store (base loaded, untimed), empty build cache
#   plate-registry   fresh store, --cache-from type=registry (exported once, mode=max, by a
#                    first runner's store)
#   plate-inline     fresh store, --cache-from IMAGE (an image pushed with type=inline)
#   bk-cold          a private dockerd with everything but the base removed
#                    (docker image rm + builder prune -af: a fresh BuildKit cache)
#   bk-inline        the same, `docker build --cache-from IMAGE` of an image built with
#                    BUILDKIT_INLINE_CACHE=1 and pushed
# Every variant builds from the same context and base (golang:1.19-local from
# ../shared/bench/make-base.sh) through one docker-registry on a free 127.0.0.1 port;
# variants are interleaved, RUNS rounds, medians printed with the ratios.  The dockerd is
# private (own data root and socket, no bridge, no iptables) and RUN steps of both builders
# use the host network.  Runs as root; stops everything it started, by PID.
#   bench/bench_cache.sh [RUNS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
. bench/inputs.bash
for t in docker-registry dockerd /usr/bin/docker skopeo python3; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
W=$(mktemp -d "$BENCH_OUT/bench-cache.XXXXXX")
D=$W/docker
DK=(env DOCKER_HOST="unix://$D/docker.sock" DOCKER_BUILDKIT=1 DOCKER_CONFIG="$D/client" /usr/bin/docker)
pids=()
cleanup() {
	local p m
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
	done
	for m in $(awk -v s="$W/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
now() { date +%s.%N; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/reg"
printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
	"$W/reg" "$port" >"$W/reg.yml"
docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
pids+=($!)
REG=127.0.0.1:$port
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

mkdir -p "$D/client"
echo '{}' >"$D/daemon.json"
dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
	--pidfile "$D/dockerd.pid" -H "unix://$D/docker.sock" --iptables=false --ip6tables=false \
	--bridge=none --storage-driver overlay2 --log-level warn >"$W/dockerd.log" 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 1 300); do "${DK[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${DK[@]}" version >/dev/null || { tail -20 "$W/dockerd.log" >&2; exit 1; }
skopeo copy -q "oci-archive:$ARCHIVE" "docker-archive:$W/base.docker.tar:golang:1.19-local"
"${DK[@]}" load -i "$W/base.docker.tar" >/dev/null

cp -r "$APP" "$W/ctx"
GO=(--build-arg GO_IMAGE=golang:1.19-local)

# A fresh plate store holding only the base (the archive names no tag).
fresh() {
	rm -rf "$W/store"
	"$PLATE" --root "$W/store" load -i "$ARCHIVE" >/dev/null
	"$PLATE" --root "$W/store" tag "$("$PLATE" --root "$W/store" images -q | head -1)" golang:1.19-local
}
pbuild() { "$PLATE" --root "$W/store" build -q --network host "${GO[@]}" -t svc "$@" "$W/ctx" >/dev/null; }
bk_reset() {
	"${DK[@]}" image rm -f "$REG/svc:inline" svc:bench >/dev/null 2>&1 || true
	"${DK[@]}" builder prune -af >/dev/null
}
# dockerd 20.10's BuildKit over overlay2 fails a RUN now and then on a loaded machine
# ("stat /bin/sh: no such file or directory", see tests/integration/differential.sh): a
# failed build is reset and run again, and only the successful one is timed.
dbuild() {
	"${DK[@]}" build -q --network host "${GO[@]}" "$@" "$W/ctx" >/dev/null 2>"$W/dbuild.err" &&
		return 0
	log "docker build failed: $(tail -1 "$W/dbuild.err")"
	return 1
}

log "runner A: the caches (plate: registry mode=max and inline; BuildKit: inline)"
fresh
pbuild --cache-to type=registry,ref="$REG/plate/svc:cache",mode=max
"$PLATE" --root "$W/store" build -q --network host "${GO[@]}" -t "$REG/plate/svc:inline" \
	--cache-to type=inline --push "$W/ctx" >/dev/null
bk_reset
until dbuild -t "$REG/svc:inline" --build-arg BUILDKIT_INLINE_CACHE=1; do bk_reset; done
"${DK[@]}" push -q "$REG/svc:inline" >/dev/null

declare -A times
# timed NAME RESET CMD...: RESET, then CMD timed; a failed CMD is reset and run again
# (at most 3 times).
timed() {
	local name=$1 reset=$2 t0 i
	shift 2
	for i in 1 2 3; do
		$reset
		t0=$(now)
		if "$@"; then
			times[$name]+="$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.3f", b-a}') "
			return 0
		fi
	done
	echo "$name failed 3 times" >&2
	exit 1
}
for r in $(seq 1 "$RUNS"); do
	log "round $r/$RUNS"
	timed plate-cold fresh pbuild
	timed plate-registry fresh pbuild --cache-from type=registry,ref="$REG/plate/svc:cache"
	timed plate-inline fresh pbuild --cache-from "$REG/plate/svc:inline"
	timed bk-cold bk_reset dbuild -t svc:bench
	timed bk-inline bk_reset dbuild -t svc:bench --cache-from "$REG/svc:inline"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "| variant | median (s) | runs |"
echo "|---|---|---|"
declare -A med
for v in plate-cold plate-registry plate-inline bk-cold bk-inline; do
	med[$v]=$(echo "${times[$v]}" | median)
	echo "| $v | ${med[$v]} | ${times[$v]}|"
done
awk -v pc="${med[plate-cold]}" -v pr="${med[plate-registry]}" -v pi="${med[plate-inline]}" \
	-v bc="${med[bk-cold]}" -v bi="${med[bk-inline]}" 'BEGIN {
	printf "\nplate registry / plate cold: %.3f (goal <= 0.333)\n", pr / pc
	printf "plate inline / plate cold:   %.3f\n", pi / pc
	printf "plate registry / BuildKit inline: %.3f (goal < 1)\n", pr / bi
	printf "plate inline / BuildKit inline:   %.3f\n", pi / bi
	printf "BuildKit inline / BuildKit cold:  %.3f\n", bi / bc
}'
