#!/usr/bin/env bash
# The hostile layer corpus (tests/cases/hostile-layers, made by
# tests/hostile/make-hostile-layers.py) through the whole store: each layer the extractor
# must refuse is wrapped in an oci-archive whose digests are all correct, and `plate load`
# must fail with the extractor's error, leave the store byte for byte as it was
# (`plate fsck` clean) and write nothing anywhere else under the test's directory.  The
# layers it must accept load and pass fsck's comparison of snapshot and layer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-helpers.bash"
command -v jq >/dev/null || tap_skip_all "jq not installed"

CASES=$(cd "$(dirname "$0")/../cases/hostile-layers" && pwd)
R=$T/work/root
mkdir -p "$T/work/canary" "$T/arch"
echo keep >"$T/work/canary/keep"
p() { "$PLATE" --root "$R" "$@"; }

# A sound image first, so "unchanged" covers a store with content.
mkdir -p "$T/ok"
echo fine >"$T/ok/f"
tar -C "$T/ok" -cf "$T/ok.tar" .
oci_archive "$T/ok.tar" "$T/ok.oci.tar"
p load -q -i "$T/ok.oci.tar" >/dev/null
tap_check "a sound image loads" p fsck

listing() { (cd "$T/work" && find . ! -name plate.lock -printf '%P %y %s\n' | sort); }
n=0
while IFS=$'\t' read -r name how expect detail; do
	case $name in '#'*|'') continue ;; esac
	# Expected digests that lie are the archive's business (store_robust.sh); the
	# store extracts with overlay whiteouts, so "apply"-only refusals do not apply; as
	# root it makes device nodes (as docker does), which the corpus refuses unprivileged.
	[ "$expect" = refuse ] && [ "$how" = overlay ] || continue
	case $name in device-*) continue ;; esac
	oci_archive "$CASES/$name" "$T/arch/$name.oci.tar"
	before=$(listing)
	p load -i "$T/arch/$name.oci.tar" >/dev/null 2>"$T/err"; rc=$?
	after=$(listing)
	msg_ok=1
	IFS='|' read -ra toks <<<"$detail"
	for tok in "${toks[@]}"; do grep -qF -- "$tok" "$T/err" || msg_ok=0; done
	tap_check "$name: refused (exit 1) with one line naming the entry" \
		bash -c "test $rc = 1 && test $msg_ok = 1 && test \$(wc -l <'$T/err') = 1 || { cat '$T/err'; false; }"
	tap_check "$name: nothing changed in the store or beside it" test "$before" = "$after"
	tap_check "$name: fsck clean" p fsck
	n=$((n + 1))
done <"$CASES/cases.txt"
tap_check "at least 20 hostile layers went through plate load ($n)" test "$n" -ge 20

# The tricky layers that are accepted (a path named twice, a file replacing a symlink, a
# hardlink written through) load, and fsck compares their snapshots with them cleanly.
while IFS=$'\t' read -r name how expect detail; do
	case $name in '#'*|'') continue ;; esac
	[ "$expect" = ok ] && [ "$how" = overlay ] || continue
	oci_archive "$CASES/$name" "$T/arch/$name.oci.tar"
	tap_check "$name: loads" p load -q -i "$T/arch/$name.oci.tar"
	tap_check "$name: fsck compares its snapshot cleanly" p fsck
done <"$CASES/cases.txt"
tap_check "the canary is untouched" bash -c "test \"\$(ls -A '$T/work/canary')\" = keep && grep -qx keep '$T/work/canary/keep'"
tap_check "no 'pwned' file anywhere under the test directory" \
	test -z "$(find "$T" -name '*pwned*' -not -path "$T/arch/*" 2>/dev/null)"
tap_done
