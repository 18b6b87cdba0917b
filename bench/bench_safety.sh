#!/usr/bin/env bash
# bench_safety.sh — what issue 11 ("Safe to run") costs the peer benchmark's sample service
# (../shared/bench/app), against the binary before it, in one run:
#   before      $PLATE_BEFORE, main before issue 11 (6aef657): RUN without a seccomp filter,
#               keyring, Landlock guard or nodev, on the host's network
#   after       this tree's plate, default network (a private namespace with slirp4netns)
#   after-host  this tree's plate with `--network host`: all of the sandbox but the network
#               namespace, which separates the namespace's share from the filter's
# Each variant has its own store with the golang base loaded; each run, for each variant (the
# order rotates from run to run), a cold build (empty build cache) then a no-op rebuild.
# Measured: wall time; CPU (user + system of plate and everything it waited for, RUN processes
# included: bash's time); the builder overhead of the cold build, its wall time minus the time
# inside its RUN processes (--progress json's process_seconds, as bench_build.sh).  Prints
# medians of RUNS runs, the spread, after/before ratios and whether the goal is met: the
# filter and the network namespace together cost at most 5 % of the cold build, judged on the
# CPU of the whole build and on the builder overhead, which a loaded machine disturbs far less
# than the wall time (cold builds varied 4-19 s within one run at load 10-13).  The load
# average is printed at start and end: compare only variants of the same run.  Needs
# ../shared/bench/make-base.sh output in $BENCH_OUT (default /tmp/plate-bench-out), a built
# plate and an older one (`git worktree add ../before 6aef657 && make -C ../before -j2`); root.
#   PLATE_BEFORE=../before/build/plate bench/bench_safety.sh [RUNS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
. bench/inputs.bash
[ -x "${PLATE_BEFORE:-}" ] || { echo "PLATE_BEFORE must name the older plate binary" >&2; exit 1; }
W=$(mktemp -d "$BENCH_OUT/bench-safety.XXXXXX")
trap 'rm -rf "$W"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

. "$(dirname "$0")/variants.bash"
variant before "$PLATE_BEFORE"
variant after "$PLATE"
variant after-host "$PLATE" --network host

TIMEFORMAT='%3R %3U %3S'
# build_once VARIANT KIND: one build; appends its wall time to $W/VARIANT/KIND and its CPU
# seconds to $W/VARIANT/KIND.cpu, leaves its json progress in $W/VARIANT/json.
build_once() {
	local v=$1 kind=$2 bin
	bin=$(cat "$W/$v/bin")
	mapfile -t args <"$W/$v/args"
	{ time "$bin" --root "$W/$v/store" build --progress json --build-arg GO_IMAGE=golang:1.19-local \
		-t my-awesome-service ${args[@]+"${args[@]}"} "$W/$v/app" >/dev/null 2>"$W/$v/json"; } \
		2>"$W/$v/time" || { tail -20 "$W/$v/json" >&2; exit 1; }
	awk '{ print $1 }' "$W/$v/time" >>"$W/$v/$kind"
	awk '{ printf "%.3f\n", $2 + $3 }' "$W/$v/time" >>"$W/$v/$kind.cpu"
}
# The seconds the last build spent inside RUN processes.
process_seconds() { jq -s '[.[] | select(.type == "done") | .process_seconds // 0] | add' "$W/$1/json"; }
for i in $(seq 1 "$RUNS"); do
	echo "run $i/$RUNS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
	n=${#variants[@]}
	for k in $(seq 0 $((n - 1))); do
		v=${variants[$(((i + k) % n))]}
		bin=$(cat "$W/$v/bin")
		"$bin" --root "$W/$v/store" rmi my-awesome-service >/dev/null 2>&1 || true
		"$bin" --root "$W/$v/store" prune --all --mounts >/dev/null
		build_once "$v" cold
		echo "$(tail -1 "$W/$v/cold") $(process_seconds "$v")" | awk '{ printf "%.3f\n", $1 - $2 }' \
			>>"$W/$v/overhead"
		build_once "$v" noop
		[ "$(jq -s '[.[] | select(.process_seconds != null)] | length' "$W/$v/json")" = 0 ] ||
			{ echo "$v: the no-op rebuild ran a RUN" >&2; exit 1; }
	done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m() { median <"$W/$1"; }
echo "load average at start: $load_start   at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: $RUNS, medians (seconds)"
printf '%-22s %9s %9s %10s %9s %9s\n' variant cold no-op overhead "CPU cold" "CPU no-op"
for v in "${variants[@]}"; do
	printf '%-22s %9.3f %9.3f %10.3f %9.3f %9.3f\n' "$v" "$(m "$v/cold")" "$(m "$v/noop")" \
		"$(m "$v/overhead")" "$(m "$v/cold.cpu")" "$(m "$v/noop.cpu")"
done
range() { sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}'; }
printf '%-22s %15s %15s\n' "spread (min-max)" cold overhead
for v in "${variants[@]}"; do
	printf '%-22s %15s %15s\n' "$v" "$(range <"$W/$v/cold")" "$(range <"$W/$v/overhead")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "x%.3f", a / b }'; }
for v in after after-host; do
	printf '%-22s %9s %9s %10s %9s %9s\n' "$v / before" "$(ratio "$(m "$v/cold")" "$(m before/cold)")" \
		"$(ratio "$(m "$v/noop")" "$(m before/noop)")" \
		"$(ratio "$(m "$v/overhead")" "$(m before/overhead)")" \
		"$(ratio "$(m "$v/cold.cpu")" "$(m before/cold.cpu)")" \
		"$(ratio "$(m "$v/noop.cpu")" "$(m before/noop.cpu)")"
done
awk -v a="$(m after/cold)" -v h="$(m after-host/cold)" -v b="$(m before/cold)" \
	-v oa="$(m after/overhead)" -v oh="$(m after-host/overhead)" -v ob="$(m before/overhead)" 'BEGIN {
	printf "cold build, after - before: %+.3f s = %+.1f %% (network namespace %+.1f %%, the rest of the sandbox %+.1f %%)\n",
		a - b, (a - b) / b * 100, (a - h) / b * 100, (h - b) / b * 100
	printf "builder overhead, after - before: %+.3f s = %+.1f %% of the cold build (network namespace %+.3f s, the rest %+.3f s)\n",
		oa - ob, (oa - ob) / b * 100, oa - oh, oh - ob
	printf "wall: %s\n", a / b <= 1.05 ? "after/before <= 1.05" : "after/before > 1.05 (on a loaded machine see the spread: CPU and overhead are the steadier figures)"
}'
# The goal, judged on the steady figures: the CPU of the whole build (the filter's price is
# paid inside the RUN processes' syscalls, the helpers' in their own CPU) and the wall time
# the builder adds outside RUN processes (waiting for the sandbox's setup and teardown).
awk -v ca="$(m after/cold.cpu)" -v ch="$(m after-host/cold.cpu)" -v cb="$(m before/cold.cpu)" -v oa="$(m after/overhead)" \
	-v ob="$(m before/overhead)" -v b="$(m before/cold)" 'BEGIN {
	c = (ca - cb) / cb * 100; o = (oa - ob) / b * 100
	printf "CPU of the cold build, after - before: %+.3f s = %+.1f %% (network namespace %+.1f %%, the rest %+.1f %%)\n",
		ca - cb, c, (ca - ch) / cb * 100, (ch - cb) / cb * 100
	printf "goal, the sandbox costs at most 5 %% of the cold build: CPU %+.1f %%, builder overhead %+.1f %%: %s\n",
		c, o, c <= 5 && o <= 5 ? "met" : "NOT met"
}'
