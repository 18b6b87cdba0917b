#!/usr/bin/env bash
# COPY --from on a filesystem with reflinks (XFS): the copy shares the source snapshot's
# extents instead of writing the bytes again (copy_file_range through the overlays clones),
# the image is the one a store on ext4 (no reflinks) builds, byte for byte, and a later RUN
# that appends to the copied file leaves both the source stage's snapshot and the COPY's
# own snapshot as they were.  docs/internals/engine.md, "COPY and the filesystem".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
root_only "mounts an XFS and an ext4 image on loop devices"
build_prereqs
command -v mkfs.xfs >/dev/null || tap_skip_all "mkfs.xfs not installed (xfsprogs)"
command -v mkfs.ext4 >/dev/null || tap_skip_all "mkfs.ext4 not installed (e2fsprogs)"
command -v filefrag >/dev/null || tap_skip_all "filefrag not installed (e2fsprogs)"
grep -qw xfs /proc/filesystems || modprobe xfs 2>/dev/null
grep -qw xfs /proc/filesystems || tap_skip_all "no XFS in this kernel"

unmount_all() {
	local m
	for m in "$T/xfs" "$T/ext4"; do
		mountpoint -q "$m" && umount "$m"
	done
	rm_tmp
}
trap unmount_all EXIT
for fs in xfs ext4; do
	truncate -s 512M "$T/$fs.img"
	"mkfs.$fs" -q "$T/$fs.img" >/dev/null 2>&1 || tap_skip_all "mkfs.$fs failed"
	mkdir "$T/$fs"
	mount -o loop "$T/$fs.img" "$T/$fs" || tap_skip_all "cannot mount a loop device"
done
make_base
p save -o "$T/base.oci.tar" base:test >/dev/null

C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS builder
RUN seq 1 400000 > /big && chmod 0755 /big

FROM scratch AS out
COPY --from=builder /big /app/big

FROM base:test AS mod
COPY --from=builder /big /app/big
RUN echo changed >> /app/big
EOF
seq 1 400000 >"$T/expected"

for fs in xfs ext4; do
	r=$T/$fs/store
	"$PLATE" --root "$r" load -i "$T/base.oci.tar" >/dev/null
	for t in out mod; do
		"$PLATE" --root "$r" build -q --target "$t" -t "$t" "$C" >"$T/$fs-$t.id" 2>"$T/out" ||
			{ rc=$?; show_out; }
		"$PLATE" --root "$r" images --no-trunc --format '{{.Digest}} {{.ID}}' "$t" >"$T/$fs-$t.digest"
		cat "$T/$fs-$t.digest" | sed "s/^/# $fs $t: /"
	done
done

# The snapshot files: the builder's /big, the COPY's app/big (the same bytes), the RUN's
# app/big (appended to).
snap_file() { find "$T/$1/store/snapshots" -path "*/fs/$2" -type f | sort; }
copy_of() {
	local f
	for f in $(snap_file "$1" app/big); do
		cmp -s "$f" "$T/expected" && echo "$f"
	done
}
shared() { filefrag -v "$1" | grep -q shared; }

ck "the image built on XFS is byte for byte the one built on ext4 (COPY only)" \
	bash -c "grep -q '^sha256:' '$T/xfs-out.digest' && cmp -s '$T/xfs-out.digest' '$T/ext4-out.digest'"
ck "the image built on XFS is byte for byte the one built on ext4 (COPY, then a RUN appends)" \
	bash -c "grep -q '^sha256:' '$T/xfs-mod.digest' && cmp -s '$T/xfs-mod.digest' '$T/ext4-mod.digest'"
ck "XFS: the builder's /big and the COPY's app/big share their extents (a reflink)" \
	bash -c "$(declare -f snap_file copy_of shared); T=$T;
		b=\$(snap_file xfs big); c=\$(copy_of xfs);
		[ -n \"\$b\" ] && [ -n \"\$c\" ] && shared \"\$b\" && shared \"\$c\""
ck "ext4: nothing is shared (the check above can fail)" \
	bash -c "$(declare -f snap_file copy_of shared); T=$T;
		c=\$(copy_of ext4); [ -n \"\$c\" ] && ! shared \"\$c\""
for fs in xfs ext4; do
	ck "$fs: the later RUN's append left the builder's /big as it was" \
		cmp -s "$(snap_file "$fs" big)" "$T/expected"
	ck "$fs: ... and the COPY's snapshot, while the RUN's layer has the appended file" \
		bash -c "$(declare -f snap_file copy_of); T=$T;
			[ -n \"\$(copy_of $fs)\" ] &&
			for f in \$(snap_file $fs app/big); do
				cmp -s \"\$f\" \"\$T/expected\" || [ \"\$(tail -1 \"\$f\")\" = changed ] || exit 1
			done && [ \$(snap_file $fs app/big | wc -l) = 2 ]"
	ck "$fs: plate fsck finds the store clean" "$PLATE" --root "$T/$fs/store" fsck
done
tap_done
