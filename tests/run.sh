#!/usr/bin/env bash
# Runs every test of the build in $BUILD (default build/) in parallel and ends with the
# summary line "N passed, N failed" (", N skipped" when some were skipped).
#   tests/run.sh [NAME-SUBSTRING...]   only the tests whose name contains one of the words
# Each test speaks TAP; its output is kept in $BUILD/test-logs/<name>.log and printed
# when it fails.  Exit status 77 means an honest skip (a failure under PLATE_MUST_WORK=1).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
build=$src/$BUILD
logs=$build/test-logs
rm -rf "$logs"; mkdir -p "$logs"

export PLATE_SRC=$src
export PLATE=${PLATE:-$build/plate}
export PLATE_BUILD=$build
export PLATE_CONFORMANCE=${PLATE_CONFORMANCE:-$src/../shared/conformance}
export PLATE_TEST_TMP=${PLATE_TEST_TMP:-$build/test-tmp}
mkdir -p "$PLATE_TEST_TMP"

jobs=()
for t in "$build"/tests/test_*; do
	[ -x "$t" ] && jobs+=("unit:$(basename "$t")|$t")
done
for f in "$build"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$(basename "$f"); n=${n#fuzz_}
	jobs+=("fuzz-replay:$n|$f $src/tests/fuzz/corpus/$n")
done
for s in "$src"/tests/integration/*.sh; do
	[ "$(basename "$s")" = lib.sh ] && continue
	[ -f "$s" ] && jobs+=("integration:$(basename "$s" .sh)|bash $s")
done

if [ $# -gt 0 ]; then
	selected=()
	for j in "${jobs[@]}"; do
		for w in "$@"; do
			case "${j%%|*}" in *"$w"*) selected+=("$j"); break ;; esac
		done
	done
	jobs=("${selected[@]}")
fi

run_one() {
	local name=${1%%|*} cmd=${1#*|}
	local log=$logs/${name//[:\/]/_}.log
	local start=$(date +%s.%N)
	# shellcheck disable=SC2086
	$cmd >"$log" 2>&1 </dev/null
	echo $? >"$log.rc"
	echo "$(date +%s.%N) $start" >"$log.time"
}
export -f run_one
export logs

printf '%s\n' "${jobs[@]}" | xargs -P "${TEST_JOBS:-$(nproc)}" -I{} bash -c 'run_one "$@"' _ {}

passed=0; failed=0; skipped=0
for j in "${jobs[@]}"; do
	name=${j%%|*}
	log=$logs/${name//[:\/]/_}.log
	rc=$(cat "$log.rc" 2>/dev/null || echo 127)
	p=$(grep -cE '^ok [0-9]+' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	read -r end start <"$log.time"
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
	if [ "$rc" = 77 ] && [ "${PLATE_MUST_WORK:-0}" = 1 ]; then
		rc=1 # a skip is a failure where everything must work (CI)
	fi
	if [ "$rc" = 77 ]; then
		skipped=$((skipped + 1))
		echo "SKIP $name ($(grep -m1 -o 'SKIP.*' "$log"))"
		continue
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 # crashed or exited non-zero without reporting a failure
	fi
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$f" = 0 ]; then
		echo "PASS $name ($p checks, ${secs}s)"
	else
		echo "FAIL $name ($p passed, $f failed, exit $rc, ${secs}s)"
		sed 's/^/    /' "$log" | grep -vE '^    ok [0-9]+' | tail -n 60
	fi
done

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
