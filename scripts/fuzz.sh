#!/usr/bin/env bash
# Runs every libFuzzer target (make fuzz) for SECONDS each, two at a time, starting from the
# committed corpus and the conformance data.  New inputs go to a scratch dir, never into the
# committed corpus; a crash leaves its input in build-fuzz/crashes/ and fails the run.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
out=build-fuzz/run
mkdir -p "$out" build-fuzz/crashes
targets=$(ls build-fuzz/fuzz_* 2>/dev/null | grep -v '\.' || true)
[ -n "$targets" ] || { echo "no fuzz targets built (make fuzz)"; exit 1; }

run_target() {
	local bin=$1 secs=$2 out=$3
	local name=${bin##*/fuzz_}
	local scratch=$out/$name
	mkdir -p "$scratch"
	local seeds=(tests/fuzz/corpus/$name)
	[ -f "tests/fuzz/seeds-$name.txt" ] && while read -r d; do
		[ -e "$d" ] && seeds+=("$d")
	done < <(sed "s|^\.\./shared|$PWD/../shared|" "tests/fuzz/seeds-$name.txt")
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build-fuzz/crashes/"$name"- "$scratch" "${seeds[@]}" \
		>"$out/$name.log" 2>&1; then
		echo "fuzz $name: $(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -1) in ${secs}s, no finding"
	else
		echo "fuzz $name: FINDING"; tail -n 40 "$out/$name.log"; return 1
	fi
}
export -f run_target
printf '%s\n' $targets | xargs -P 2 -I{} bash -c 'run_target "$@"' _ {} "$secs" "$out"
