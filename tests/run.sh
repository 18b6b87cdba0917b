#!/usr/bin/env bash
# Runs every test of the build in $BUILD (default build/) in parallel and ends with the
# summary line "N passed, N failed" (", N skipped" when some were skipped).
#   tests/run.sh [NAME-SUBSTRING...]   only the tests whose name contains one of the words
#   tests/run.sh --rootless [WORD...]  the integration tests again as a normal user with
#                                      subordinate ids (as root: a user made for the run)
# Each test speaks TAP; its output is kept in $BUILD/test-logs/<name>.log and printed
# when it fails.  Exit status 77 means an honest skip (a failure under PLATE_MUST_WORK=1),
# except a test's own `root_only REASON` declaration (tests/integration/lib.sh) run by a
# normal user: that skip is counted and printed with its reason.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
build=$src/$BUILD
rootless=0
if [ "${1:-}" = --rootless ]; then
	rootless=1
	shift
	if [ "$(id -u)" = 0 ]; then
		exec bash "$src/tests/rootless-pass.sh" "$@"
	fi
fi
logs=$build/test-logs
rm -rf "$logs"; mkdir -p "$logs"

export PLATE_SRC=$src
export PLATE=${PLATE:-$build/plate}
export PLATE_BUILD=$build
export PLATE_CONFORMANCE=${PLATE_CONFORMANCE:-$src/../shared/conformance}
export PLATE_TEST_TMP=${PLATE_TEST_TMP:-$build/test-tmp}
mkdir -p "$PLATE_TEST_TMP"

jobs=()
if [ "$rootless" = 0 ]; then
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] && jobs+=("unit:$(basename "$t")|$t")
	done
	for f in "$build"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		n=$(basename "$f"); n=${n#fuzz_}
		jobs+=("fuzz-replay:$n|$f $src/tests/fuzz/corpus/$n")
	done
fi
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

passed=0; failed=0; skipped=0; rootonly=0; parts=0
for j in "${jobs[@]}"; do
	name=${j%%|*}
	log=$logs/${name//[:\/]/_}.log
	rc=$(cat "$log.rc" 2>/dev/null || echo 127)
	p=$(grep -cE '^ok [0-9]+' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	read -r end start <"$log.time"
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
	script=$src/tests/integration/${name#integration:}.sh
	# A root-only skip counts only from a test that declares it (grep '^root_only ').
	if [ "$rc" = 77 ] && grep -q '^1\.\.0 # SKIP root-only: ' "$log" &&
		[ "$(id -u)" != 0 ] && grep -q '^root_only ' "$script" 2>/dev/null; then
		rootonly=$((rootonly + 1))
		echo "ROOT-ONLY $name ($(sed -n 's/^1\.\.0 # SKIP root-only: //p' "$log"))"
		continue
	fi
	while IFS= read -r why; do
		parts=$((parts + 1))
		echo "ROOT-ONLY PART $name (${why#\# SKIP root-only part: })"
	done < <(grep '^# SKIP root-only part: ' "$log")
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

summary="$passed passed, $failed failed"
[ "$skipped" = 0 ] || summary="$summary, $skipped skipped"
[ "$rootonly" = 0 ] && [ "$parts" = 0 ] ||
	summary="$summary, $rootonly root-only tests and $parts root-only parts skipped (reasons above)"
echo "$summary"
[ "$failed" = 0 ]
