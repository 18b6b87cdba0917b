#!/usr/bin/env bash
# bench_store.sh — plate's store against its peers, in one run on this machine:
#   load:  plate load -i golang.oci.tar        vs  buildah pull oci-archive:golang.oci.tar
#   save:  plate save --format oci golang      vs  buildah push IMAGE oci-archive: (from
#          its vfs storage, after the pull above) and skopeo copy oci:LAYOUT -> oci-archive
#   layer: plate import ROOTFS.tar (gzip layer) vs umoci repack of the same tree into a new
#          image (gzip layer)
#                                               vs  tar -c ROOTFS | pigz -p2
# Prints medians of RUNS runs (wall seconds, peak RSS of the tool's process tree),
# speedups (peer time / plate time) against the goals of issue 3, and plate's peak RSS.
# PLATE_BEFORE=path/to/older/plate adds that binary's load and import for before/after.  Needs bench/make-base.sh output in $BENCH_OUT (default
# /tmp/plate-bench-out) and a built ./plate.  Everything goes to a scratch dir on the
# same filesystem as $BENCH_OUT.
#   bench/bench_store.sh [RUNS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
. bench/inputs.bash
LAYOUT=$BENCH_OUT/oci/golang
for t in buildah skopeo umoci pigz /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "missing $t (scripts/deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d "$BENCH_OUT/bench-store.XXXXXX")
trap 'rm -rf "$W"' EXIT

# measure LABEL SETUP CMD...: runs SETUP (untimed) then CMD RUNS times; records "secs kb".
declare -A RESULT
measure() {
	local label=$1 setup=$2
	shift 2
	local i out=()
	for i in $(seq "$RUNS"); do
		eval "$setup"
		sync
		/usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
		out+=("$(cat "$W/time")")
	done
	RESULT[$label]=$(printf '%s\n' "${out[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2)')
	printf '%-34s %8s s %8s KB\n' "$label" ${RESULT[$label]}
}
ratio() { # A B: A/B for time and RSS
	awk -v a="${RESULT[$1]}" -v b="${RESULT[$2]}" -v l="$1 / $2" 'BEGIN {
		split(a, x, " "); split(b, y, " ");
		printf "%-50s time x%.2f   rss x%.2f\n", l, x[1] / y[1], x[2] / y[2] }'
}

echo "== $(date -u +%FT%TZ) on $(nproc) cores; $(du -h "$ARCHIVE" | cut -f1) archive, $RUNS runs, medians"
measure "plate load" "rm -rf '$W/plate'" "$PLATE" --root "$W/plate" load -i "$ARCHIVE"
BAH=(buildah --root "$W/buildah" --runroot "$W/buildah-run" --storage-driver vfs)
measure "buildah pull (vfs)" "rm -rf '$W/buildah' '$W/buildah-run'" "${BAH[@]}" pull -q "oci-archive:$ARCHIVE"
if [ -n "${PLATE_BEFORE:-}" ]; then
	measure "plate load (before)" "rm -rf '$W/plate'" "$PLATE_BEFORE" --root "$W/plate" load -i "$ARCHIVE"
fi

"$PLATE" --root "$W/plate" load -q -i "$ARCHIVE"
id=$("$PLATE" --root "$W/plate" images -q --no-trunc | head -1)
measure "plate save --format oci" "rm -f '$W/s.tar'" "$PLATE" --root "$W/plate" save --format oci -o "$W/s.tar" "$id"
bid=$("${BAH[@]}" images -q | head -1)
measure "buildah push oci-archive:" "rm -f '$W/b.tar'" "${BAH[@]}" push -q "$bid" "oci-archive:$W/b.tar:x"
measure "skopeo copy oci: -> oci-archive:" "rm -f '$W/k.tar'" skopeo copy -q "oci:$LAYOUT:1.19-local" "oci-archive:$W/k.tar:x"

umoci unpack --image "$LAYOUT:1.19-local" "$W/bundle" >/dev/null
tar -C "$W/bundle/rootfs" -cf "$W/rootfs.tar" .
measure "plate import (gzip layer)" "rm -rf '$W/imp'" "$PLATE" --root "$W/imp" import "$W/rootfs.tar" imp:1
if [ -n "${PLATE_BEFORE:-}" ]; then
	measure "plate import (before)" "rm -rf '$W/imp'" "$PLATE_BEFORE" --root "$W/imp" import "$W/rootfs.tar" imp:1
fi
measure "umoci repack (gzip layer)" "rm -rf '$W/ul' '$W/ub'; umoci init --layout '$W/ul'; umoci new --image '$W/ul:t';
	umoci unpack --image '$W/ul:t' '$W/ub' >/dev/null; cp -a '$W/bundle/rootfs/.' '$W/ub/rootfs/'" \
	umoci repack --image "$W/ul:t" "$W/ub"
measure "tar | pigz -p2" "rm -f '$W/p.tgz'" sh -c "tar -C '$W/bundle/rootfs' -cf - . | pigz -p2 >'$W/p.tgz'"

echo "== speedups (peer time / plate time; goal in brackets) and memory"
speedup() { # PLATE PEER GOAL
	awk -v a="${RESULT[$1]}" -v b="${RESULT[$2]}" -v l="$2 / $1" -v g="$3" 'BEGIN {
		split(a, x, " "); split(b, y, " "); s = y[1] / x[1];
		printf "%-58s x%5.2f  [>= %s: %s]\n", l, s, g, (s >= g ? "met" : "NOT met") }'
}
speedup "plate load" "buildah pull (vfs)" 3
speedup "plate save --format oci" "buildah push oci-archive:" 3
speedup "plate save --format oci" "skopeo copy oci: -> oci-archive:" 1
# umoci repack is a peer without a goal in issue 3 (its goals: load and save >= 3x buildah,
# writing a layer >= 0.8x tar | pigz -p2): printed for comparison only.
awk -v a="${RESULT[plate import (gzip layer)]}" -v b="${RESULT[umoci repack (gzip layer)]}" 'BEGIN {
	split(a, x, " "); split(b, y, " ");
	printf "%-58s x%5.2f  (no goal)\n", "umoci repack (gzip layer) / plate import (gzip layer)", y[1] / x[1] }'
speedup "plate import (gzip layer)" "tar | pigz -p2" 0.8
if [ -n "${PLATE_BEFORE:-}" ]; then
	speedup "plate load" "plate load (before)" 1
	speedup "plate import (gzip layer)" "plate import (before)" 1
fi
for l in "plate load" "plate save --format oci" "plate import (gzip layer)"; do
	awk -v r="${RESULT[$l]}" -v l="$l" 'BEGIN { split(r, x, " ");
		printf "%-58s %6.1f MiB  [<= 32: %s]\n", l " peak RSS", x[2] / 1024, (x[2] <= 32768 ? "met" : "NOT met") }'
done
