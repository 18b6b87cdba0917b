#!/usr/bin/env bash
# bench_network.sh — what RUN's private network namespace (slirp4netns) costs, in one run:
#   1. the peer benchmark's sample service (../shared/bench/app): a cold build (empty build
#      cache) and a no-op rebuild, with `--network host` (no network namespace, no helper:
#      what every RUN got before the default network was private) and with the default,
#      interleaved; with PLATE_BEFORE=path/to/an/older/plate, that binary's default too.
#      Besides the wall times, the cold build's RUN overhead: the sum over its RUN steps of
#      the step's time minus the time inside its process (--progress json), i.e. sandbox
#      setup and teardown, the network included, without the noise of `go build` itself;
#   2. the sandbox alone: a RUN-sized run of the static probe (`probe exit 0`) through
#      tests/helpers/sandbox-run with --net none, host and private (hyperfine), which is
#      the per-RUN setup and teardown cost of each network.
# Each build variant has its own store, loaded once with the golang base.  Prints medians of
# RUNS runs and the default network's cost relative to host.  Needs ../shared/bench/
# make-base.sh output in $BENCH_OUT (default /tmp/plate-bench-out), `make test-binaries`,
# hyperfine; runs as root.
#   bench/bench_network.sh [RUNS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
. bench/inputs.bash
SR=$PWD/build/helpers/sandbox-run
PROBE=$PWD/build/helpers/probe
[ -x "$PLATE" ] && [ -x "$SR" ] || { echo "missing $PLATE or $SR: make test-binaries" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "missing hyperfine" >&2; exit 1; }
W=$(mktemp -d "$BENCH_OUT/bench-network.XXXXXX")
trap 'rm -rf "$W"' EXIT

. "$(dirname "$0")/variants.bash"
variant host "$PLATE" --network host
variant default "$PLATE"
[ -n "${PLATE_BEFORE:-}" ] && variant before "$PLATE_BEFORE"

now() { date +%s.%N; }
# build_once VARIANT: one build, its wall time on stdout, its json progress in $W/VARIANT/json.
build_once() {
	local v=$1 t0 bin
	bin=$(cat "$W/$v/bin")
	mapfile -t args <"$W/$v/args"
	t0=$(now)
	"$bin" --root "$W/$v/store" build --progress json --build-arg GO_IMAGE=golang:1.19-local \
		-t my-awesome-service ${args[@]+"${args[@]}"} "$W/$v/app" >/dev/null 2>"$W/$v/json"
	echo "$(now) $t0" | awk '{ printf "%.3f\n", $1 - $2 }'
}
run_overhead() {
	jq -s '[.[] | select(.type == "done" and .process_seconds != null)
		| .seconds - .process_seconds] | add' "$W/$1/json"
}
for i in $(seq 1 "$RUNS"); do
	echo "run $i/$RUNS" >&2
	for v in "${variants[@]}"; do
		bin=$(cat "$W/$v/bin")
		"$bin" --root "$W/$v/store" rmi my-awesome-service >/dev/null 2>&1 || true
		"$bin" --root "$W/$v/store" prune --all --mounts >/dev/null
		build_once "$v" >>"$W/$v/cold"
		run_overhead "$v" >>"$W/$v/runs"
		build_once "$v" >>"$W/$v/noop"
	done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)   runs: $RUNS (medians, seconds)"
printf '%-28s %9s %9s %14s\n' "sample service" cold no-op "RUN overhead"
for v in "${variants[@]}"; do
	printf '%-28s %9.3f %9.3f %14.3f\n' "$v$(tr '\n' ' ' <"$W/$v/args" | sed 's/^/ /; s/ *$//')" \
		"$(median <"$W/$v/cold")" "$(median <"$W/$v/noop")" "$(median <"$W/$v/runs")"
done
awk -v d="$(median <"$W/default/runs")" -v h="$(median <"$W/host/runs")" \
	-v c="$(median <"$W/host/cold")" 'BEGIN {
	printf "the default network costs %+.3f s of RUN overhead per cold build: %+.2f %% of it\n",
		d - h, (d - h) / c * 100 }'

# The sandbox alone: one probe run per network.
mkdir -p "$W/root" "$W/tmp"
cp "$PROBE" "$W/root/probe"
hyperfine -N --warmup 5 --runs 60 --export-json "$W/hf.json" \
	"$SR --tmpdir $W/tmp --rootfs $W/root --net none -- /probe exit 0" \
	"$SR --tmpdir $W/tmp --rootfs $W/root --net host -- /probe exit 0" \
	"$SR --tmpdir $W/tmp --rootfs $W/root --net private -- /probe exit 0" >/dev/null
echo "one sandbox run of 'probe exit 0' (median ms):"
jq -r '.results[] | "  --net \(.command | split(" ")[6] | . + "        " | .[0:8]) \(.median * 1000 | . * 10 | floor / 10)"' "$W/hf.json"
