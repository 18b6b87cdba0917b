#!/usr/bin/env bash
# bench_inner.sh — issue 18's inner loop (edit main.go, rebuild, run), plate against BuildKit
# and `docker run` in one run, every row with its goal:
#   1. ../shared/bench/versus.py --only plate,buildkit (cold, no-op, main.go, go.mod,
#      cache-mount edit, export, builder overhead; its own private dockerd), run from
#      ../shared as it is, in a private mount namespace whose /tmp/versus is this run's
#      directory, so that another versus.py on the machine cannot collide with it;
#   2. the cache-mount edit again with `--progress json`: wall against `process_seconds`, the
#      time inside the RUN processes (versus.py sees only the RUN steps' durations), and
#      plate's peak RSS (../shared/bench/rsswrap.py) on the cold build, the edit and a no-op;
#   3. `plate run` start latency: from the command to the first instruction of a static probe
#      entrypoint (tests/helpers/probe `started`), --network none and the default private
#      network, against `docker run` of the same image on a private dockerd beside it.
# PLATE_BEFORE=/path/to/old/plate adds the old binary's figures to the same run (versus.py a
# second time with --only plate, and in 2 and 3 interleaved with the new one).
# REUSE=DIR takes part 1 from an earlier run's samples directory (DIR/versus*.json).
# Prints load averages, the raw tables and the goals table; samples stay in $W (printed).
#   bench/bench_inner.sh [REPS [RUN_REPS]]    (defaults 3 and 15)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
RUN_REPS=${2:-15}
. bench/inputs.bash
TOP=$PWD
RSSWRAP=$SHARED/rsswrap.py
PROBE=$TOP/build/helpers/probe
[ -x "$PROBE" ] || make -s "$PROBE" >/dev/null
command -v dockerd >/dev/null || { echo "missing dockerd (apt-get install docker.io)" >&2; exit 1; }
[ -z "${PLATE_BEFORE:-}" ] || [ -x "$PLATE_BEFORE" ] || { echo "PLATE_BEFORE: not executable" >&2; exit 1; }
W=$(mktemp -d "$BENCH_OUT/bench-inner.XXXXXX")
D=$W/docker
DOCKER=(docker -H "unix://$D/docker.sock")
dockerd_pid=
cleanup() {
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null || true
		while kill -0 "$dockerd_pid" 2>/dev/null; do sleep 0.2; done
	fi
	local m
	for m in $(awk -v s="$W/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" || true
	done
	rm -rf "$W/versus" "$W/store-"* "$D"
	echo "samples kept in $W" >&2
}
trap cleanup EXIT
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
load | tee "$W/load"

# 1. versus.py, in its own /tmp/versus and BENCH_OUT.
mkdir -p "$W/versus" "$W/out"
ln -s "$ARCHIVE" "$W/out/"
ln -s "$BENCH_OUT/oci" "$W/out/oci"
# versus.py's unpacked base, when an earlier run left it: saves the unpacking, read only.
ln /tmp/versus/golang-rootfs.tar "$W/versus/" 2>/dev/null || true
versus() { # OUT_JSON ARGS...
	local out=$1
	shift
	BENCH_OUT=$W/out unshare -m --propagation private sh -c \
		'mount --bind "$0" /tmp/versus && exec python3 "$@"' "$W/versus" "$SHARED/versus.py" "$@"
	mv "$W/out/versus.json" "$W/$out"
}
mkdir -p /tmp/versus
if [ -n "${REUSE:-}" ]; then
	cp "$REUSE"/versus*.json "$W/"
else
	versus versus.json --reps "$REPS" --only plate,buildkit "$PLATE" | tee "$W/versus.txt"
	if [ -n "${PLATE_BEFORE:-}" ]; then
		versus versus-before.json --reps "$REPS" --only plate "$PLATE_BEFORE" |
			tee "$W/versus-before.txt"
	fi
fi
load | tee -a "$W/load"

# 2. the cache-mount edit with --progress json, and peak RSS.
WHO=(plate)
[ -z "${PLATE_BEFORE:-}" ] || WHO+=(before)
bin() { if [ "$1" = plate ]; then echo "$PLATE"; else echo "$PLATE_BEFORE"; fi; }
for who in "${WHO[@]}"; do
	export PLATE_ROOT=$W/store-$who
	"$(bin "$who")" load -i "$ARCHIVE" >/dev/null
	"$(bin "$who")" tag "$("$(bin "$who")" images -q | head -1)" golang:1.19-local
	cp -r "$APP" "$W/ctx-$who"
	chmod -R u+w "$W/ctx-$who"
	python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import versus; print(versus.CACHE_DF, end="")' \
		"$SHARED" >"$W/ctx-$who/Dockerfile.cache"
done
# measure WHO WHAT [DOCKERFILE]: one build under rsswrap; a line in cm.jsonl with the time
# inside the RUN processes.
measure() {
	local who=$1 what=$2
	shift 2
	PLATE_ROOT=$W/store-$who PROGRESS=$W/ctx-$who.progress \
		python3 "$RSSWRAP" "$W/rss-raw.jsonl" "$who-$what" -- \
		sh -c 'exec "$0" "$@" 2>"$PROGRESS"' "$(bin "$who")" build --progress json \
		-t svc --build-arg GO_IMAGE=golang:1.19-local "$@" "$W/ctx-$who" >/dev/null ||
		{ tail -5 "$W/ctx-$who.progress" >&2; exit 1; }
	jq -c --arg who "$who" --arg what "$what" \
		'{who: $who, what: $what, wall_s: .wall_s, main_hwm_kb: .main_hwm_kb}' \
		<(tail -1 "$W/rss-raw.jsonl") >>"$W/rss.jsonl"
	jq -s -c --arg who "$who" --arg what "$what" --argjson wall "$(tail -1 "$W/rss-raw.jsonl" | jq .wall_s)" \
		'{who: $who, what: $what, wall_s: $wall,
		  process_s: ([.[] | select(.type == "done") | .process_seconds // 0] | add)}' \
		"$W/ctx-$who.progress" >>"$W/cm.jsonl"
}
bump() { python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import versus; versus.bump(sys.argv[2], "main")' "$SHARED" "$1"; }
for who in "${WHO[@]}"; do
	measure "$who" cold -f "$W/ctx-$who/Dockerfile.cache"
done
for i in $(seq 1 "$REPS"); do
	echo "cache-mount edit: round $i/$REPS" >&2
	for who in "${WHO[@]}"; do
		bump "$W/ctx-$who"
		measure "$who" cachemount -f "$W/ctx-$who/Dockerfile.cache"
		measure "$who" noop -f "$W/ctx-$who/Dockerfile.cache"
	done
done

# 3. `plate run` and `docker run` start latency, a FROM scratch image of the static probe.
mkdir -p "$W/probe-ctx"
cp "$PROBE" "$W/probe-ctx/probe"
printf 'FROM scratch\nCOPY probe /probe\nENTRYPOINT ["/probe", "started"]\n' >"$W/probe-ctx/Dockerfile"
for who in "${WHO[@]}"; do
	PLATE_ROOT=$W/store-$who "$(bin "$who")" build -q -t probe "$W/probe-ctx" >/dev/null
done
PLATE_ROOT=$W/store-plate "$PLATE" save -o "$W/probe.tar" probe
mkdir -p "$D"
echo '{}' >"$D/daemon.json"
dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
	--pidfile "$D/dockerd.pid" -H "unix://$D/docker.sock" --iptables=false --ip6tables=false \
	--bridge=none --storage-driver overlay2 --log-level warn </dev/null >"$D/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 300); do "${DOCKER[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${DOCKER[@]}" version >/dev/null || { tail "$D/dockerd.log" >&2; exit 1; }
"${DOCKER[@]}" load -q -i "$W/probe.tar" >/dev/null
"${DOCKER[@]}" tag "$("${DOCKER[@]}" images -q | head -1)" probe
CMDS=()
for who in "${WHO[@]}"; do
	for net in none default; do
		CMDS+=("$who-$net" "$(bin "$who")" --root "$W/store-$who" run --network "$net" probe ---)
	done
done
# The daemon runs with --bridge=none (versus.py's setting): its default network is none too.
CMDS+=(docker-none "${DOCKER[@]}" run --rm --network none probe)
python3 bench/inner.py start "$W/start.jsonl" "$RUN_REPS" "${CMDS[@]}"
load | tee -a "$W/load"

echo
python3 bench/inner.py report "$W"
