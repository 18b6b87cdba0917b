#!/usr/bin/env bash
# The store under damage: fsck finds corruption; truncated archives and lying digests are
# refused with the store unchanged; kill -9 during load never leaves the store unsound;
# concurrent loads and prunes are safe.
. "$(dirname "$0")/lib.sh"
as_namespace_root
. "$(dirname "$0")/store-helpers.bash"
for tool in skopeo jq python3; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done

R=$T/root
p() { "$PLATE" --root "$R" "$@"; }
fsck_clean() { "$PLATE" --root "${1:-$R}" fsck >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out"; return 1; }; }

# A few-MB image of incompressible content, saved by plate and converted by skopeo.
mkdir -p "$T/big/data"
for i in 1 2 3 4; do head -c 1500000 /dev/urandom >"$T/big/data/f$i"; done
cp /bin/busybox "$T/big/busybox"
tar -C "$T/big" -cf "$T/big.tar" .
"$PLATE" --root "$T/src" import "$T/big.tar" big:1 >/dev/null
"$PLATE" --root "$T/src" save --format oci -o "$T/big.oci.tar" big:1
skopeo copy -q oci-archive:"$T/big.oci.tar":docker.io/library/big:1 docker-archive:"$T/big.docker.tar":bigd:1
make_rootfs "$T/small"
"$PLATE" --root "$T/src" import <(tar -C "$T/small" -cf - .) small:1 >/dev/null
"$PLATE" --root "$T/src" save --format oci -o "$T/small.oci.tar" small:1

p load -i "$T/small.oci.tar" >/dev/null
tap_check "fsck clean after a load" fsck_clean

# ---- fsck finds damage ------------------------------------------------------------------
layer=$(jq -r '.[0].Descriptor.digest' <(p inspect small:1))
layer=$(jq -r '.layers[0].digest' "$R/blobs/sha256/${layer#sha256:}")
blob=$R/blobs/sha256/${layer#sha256:}
cp "$blob" "$T/blob.bak"
printf 'X' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck exits 1 on a corrupted blob" test "$rc" = 1
tap_check "... and names it" grep -q "blob '$layer' is corrupt" "$T/out"
cp "$T/blob.bak" "$blob"
rm "$blob"
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck names a missing blob" bash -c "test $rc = 1 && grep -q \"blob '$layer' .* is missing\" '$T/out'"
cp "$T/blob.bak" "$blob"
snap=$(ls -d "$R"/snapshots/*/fs)
mv "$snap/etc/hello" "$T/hello.bak"
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck finds a damaged snapshot" bash -c "test $rc = 1 && grep -q 'is damaged: tree has' '$T/out'"
mv "$T/hello.bak" "$snap/etc/hello"
tap_check "fsck clean again once repaired" fsck_clean
# Damage that keeps the entry count and byte total: content, mode, symlink target.
cp -p "$snap/etc/passwd" "$T/passwd.bak"
printf 'X' | dd of="$snap/etc/passwd" bs=1 seek=3 conv=notrunc status=none
touch -r "$T/passwd.bak" "$snap/etc/passwd"
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck finds a same-size content change, by diffID and path" bash -c "test $rc = 1 &&
	grep -q \"snapshot '$(jq -r '.[0].RootFS.Layers[0]' <(p inspect small:1))' is damaged: 'etc/passwd' differs from layer .*content differs\" '$T/out' || { cat '$T/out'; false; }"
cp -p "$T/passwd.bak" "$snap/etc/passwd"
chmod 0600 "$snap/etc/passwd"
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck finds a changed mode" bash -c "test $rc = 1 && grep -q \"'etc/passwd' .*mode differs\" '$T/out'"
chmod 0644 "$snap/etc/passwd"
ln -sfn busybok "$snap/bin/sh"
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck finds a changed symlink target" bash -c "test $rc = 1 && grep -q \"'bin/sh' .*symlink target differs\" '$T/out'"
ln -sfn busybox "$snap/bin/sh"
tap_check "fsck clean once put back" fsck_clean
rm -rf "$(dirname "$snap")"
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck names a missing snapshot" bash -c "test $rc = 1 && grep -q 'snapshot of layer .* is missing' '$T/out'"
p load -i "$T/small.oci.tar" >/dev/null
tap_check "loading the image again restores it" fsck_clean

# ---- refused input leaves the store as it was ----------------------------------------------
refused() { # NAME ARCHIVE PATTERN
	local before after rc
	before=$(store_files "$R")
	p load -i "$2" >/dev/null 2>"$T/err"; rc=$?
	after=$(store_files "$R")
	tap_check "$1: load fails" test "$rc" = 1
	tap_check "$1: one-line error" bash -c "test \$(wc -l <'$T/err') = 1 && grep -q '$3' '$T/err' || { cat '$T/err'; false; }"
	tap_check "$1: store unchanged" test "$before" = "$after"
	tap_check "$1: fsck clean" fsck_clean
}
size=$(stat -c %s "$T/big.oci.tar")
head -c $((size / 2)) "$T/big.oci.tar" >"$T/trunc.oci.tar"
refused "truncated oci-archive" "$T/trunc.oci.tar" "cannot read the archive"
head -c $(($(stat -c %s "$T/big.docker.tar") - 3000)) "$T/big.docker.tar" >"$T/trunc.docker.tar"
refused "truncated docker-archive" "$T/trunc.docker.tar" "cannot read the archive"
gzip -c "$T/big.oci.tar" | head -c 2000000 >"$T/trunc.tar.gz"
refused "truncated gzip archive" "$T/trunc.tar.gz" "cannot read the archive"
head -c 5000 /dev/urandom >"$T/noise"
refused "random bytes" "$T/noise" "cannot read the archive"

# Archives whose content contradicts their digests, rewritten with Python's tarfile.
mkdir "$T/x"
tar -C "$T/x" -xf "$T/big.oci.tar"
repack() { (cd "$1" && tar --sort=name -cf "$2" .); }
mani=$(jq -r '.manifests[0].digest' "$T/x/index.json")
big_layer=$(jq -r '.layers[0].digest' "$T/x/blobs/sha256/${mani#sha256:}")
cp -a "$T/x" "$T/lie1"
printf 'X' | dd of="$T/lie1/blobs/sha256/${big_layer#sha256:}" bs=1 seek=5000 conv=notrunc status=none
repack "$T/lie1" "$T/lie1.tar"
refused "blob content not matching its name" "$T/lie1.tar" "does not match its digest"
cp -a "$T/x" "$T/lie2"
jq -c '.layers[0].size += 1' "$T/x/blobs/sha256/${mani#sha256:}" >"$T/m.json"
nm=$(sha256sum "$T/m.json" | cut -d' ' -f1)
cp "$T/m.json" "$T/lie2/blobs/sha256/$nm"
jq -c --arg d "sha256:$nm" --argjson s "$(stat -c %s "$T/m.json")" '.manifests[0].digest = $d | .manifests[0].size = $s' \
	"$T/x/index.json" >"$T/lie2/index.json"
repack "$T/lie2" "$T/lie2.tar"
refused "manifest stating a wrong layer size" "$T/lie2.tar" "is missing"
mkdir "$T/d"
tar -C "$T/d" -xf "$T/big.docker.tar"
cfg=$(jq -r '.[0].Config' "$T/d/manifest.json")
cp -a "$T/d" "$T/lie3"
jq -c '.rootfs.diff_ids[0] = "sha256:" + ("0" * 64)' "$T/d/$cfg" >"$T/c.json"
nc=$(sha256sum "$T/c.json" | cut -d' ' -f1)
cp "$T/c.json" "$T/lie3/$nc.json"
jq -c --arg c "$nc.json" '.[0].Config = $c' "$T/d/manifest.json" >"$T/lie3/manifest.json"
repack "$T/lie3" "$T/lie3.tar"
refused "docker config with a lying diffID" "$T/lie3.tar" "diff"
cp -a "$T/d" "$T/lie4"
printf ' ' >>"$T/lie4/$cfg"
repack "$T/lie4" "$T/lie4.tar"
refused "docker config not matching its name" "$T/lie4.tar" "does not match"

# ---- kill -9 during load -----------------------------------------------------------------
start=$(date +%s%N)
"$PLATE" --root "$T/timing" load -i "$T/big.docker.tar" >/dev/null
dur_ms=$(( ($(date +%s%N) - start) / 1000000 + 20 ))
bad=0
for i in $(seq 1 20); do
	"$PLATE" --root "$R" load -i "$T/big.docker.tar" >/dev/null 2>&1 &
	pid=$!
	sleep "$(awk -v r=$RANDOM -v d=$dur_ms 'BEGIN{printf "%.3f", r / 32768 * d / 1000}')"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	fsck_clean || { bad=$((bad + 1)); echo "# fsck failed after kill $i"; }
	if "$PLATE" --root "$R" inspect bigd:1 >/dev/null 2>&1; then
		"$PLATE" --root "$R" rmi bigd:1 >/dev/null
	fi
done
tap_check "fsck clean after each of 20 kill -9 during load (load ~${dur_ms} ms)" test "$bad" = 0
tap_check "the next load succeeds" bash -c "'$PLATE' --root '$R' load -i '$T/big.docker.tar' >/dev/null"
tap_check "fsck clean after it" fsck_clean
p prune >/dev/null
tap_check "prune leaves no crash debris in tmp" test -z "$(ls "$R/tmp")"

# ---- concurrency --------------------------------------------------------------------------
C=$T/conc
pids=()
for f in big.oci.tar big.docker.tar small.oci.tar; do
	"$PLATE" --root "$C" load -q -i "$T/$f" 2>>"$T/conc.err" &
	pids+=($!)
done
( for i in 1 2 3 4 5; do "$PLATE" --root "$C" prune >/dev/null 2>>"$T/conc.err"; done ) &
pids+=($!)
ok=0
for pid in "${pids[@]}"; do wait "$pid" || ok=1; done
tap_check "three loads and prunes at once all succeed" bash -c "test $ok = 0 || { cat '$T/conc.err'; false; }"
tap_check "all three images are there" test "$("$PLATE" --root "$C" images -q | wc -l)" = 3
tap_check "fsck clean after concurrent use" fsck_clean "$C"

tap_done
