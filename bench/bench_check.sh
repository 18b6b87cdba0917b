#!/usr/bin/env bash
# bench_check.sh — the image doctor (`plate check`) and `plate sbom` on the ~500 MB golang
# base image of ../shared/bench/make-base.sh, against a bare walk of the same layer
# snapshots with find(1) (the least any tool examining the whole tree must do).  Goal: the
# doctor under 100 ms (issue 6).  Prints medians of RUNS runs (wall milliseconds) and
# the plate/find ratio.  The doctor reads each layer's index (snapshots/<hex>/fs.index,
# written by `plate load`); for comparison it is also timed with the indexes moved away
# (it walks the trees then, as on a store made before indexes), `plate version` gives the
# process start-up floor, and build/bench/bench_index (when built: make bench) times
# building and parsing the index of each snapshot.
#   bench/bench_check.sh [RUNS]     (default 5; needs $BENCH_OUT/golang-1.19-local.oci.tar)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
. bench/inputs.bash
W=$(mktemp -d "$BENCH_OUT/bench-check.XXXXXX")
trap 'rm -rf "$W"' EXIT
R=$W/root
"$PLATE" --root "$R" load -i "$ARCHIVE" >/dev/null
REF=$(jq -r '.manifests[0].digest' "$R/index.json")
BYTES=$(du -sb "$R/snapshots" | cut -f1)
FILES=$(find "$R/snapshots" -type f | wc -l)

ms() { # ms CMD...: median wall milliseconds of RUNS runs (one warm-up run first)
	local i t0 t1 out=()
	"$@" >/dev/null 2>&1 || true
	for i in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		out+=($(((t1 - t0) / 1000000)))
	done
	printf '%s\n' "${out[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'
}
check=$(ms "$PLATE" --root "$R" check "$REF")
sbom=$(ms "$PLATE" --root "$R" sbom "$REF")
walk=$(ms find "$R/snapshots" -printf '')
floor=$(ms "$PLATE" version)
for d in "$R"/snapshots/*; do mv "$d/fs.index" "$d/fs.index.away"; done
noindex=$(ms "$PLATE" --root "$R" check "$REF")
for d in "$R"/snapshots/*; do mv "$d/fs.index.away" "$d/fs.index"; done
echo "image $REF: $((BYTES / 1000000)) MB unpacked, $FILES files"
echo "plate check  ${check} ms   (goal < 100 ms)"
echo "plate sbom   ${sbom} ms"
echo "find walk    ${walk} ms   (bare walk of the snapshots)"
echo "plate version ${floor} ms  (process start-up: the floor of any plate command)"
echo "plate check  ${noindex} ms   without the indexes (the trees are walked)"
awk -v a="$check" -v b="$walk" 'BEGIN { if (b > 0) printf "ratio check/find %.2f\n", a / b }'
if [ -x "${BENCH_INDEX:-build/bench/bench_index}" ]; then
	for d in "$R"/snapshots/*; do "${BENCH_INDEX:-build/bench/bench_index}" "$d/fs" "$RUNS"; done
fi
"$PLATE" --root "$R" check "$REF" || true
