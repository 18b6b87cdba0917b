# Helpers for the store's integration tests (sourced after lib.sh; not a test itself).

# make_rootfs DIR: a small tree with what layers must carry faithfully: modes, owners,
# symlinks, a hardlink, an empty dir, setuid, a fifo and long names.
make_rootfs() {
	local r=$1
	mkdir -p "$r"/bin "$r"/etc "$r"/usr/share/doc "$r"/var/empty "$r"/home/user "$r"/tmp
	cp /bin/busybox "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	ln -s ../../bin/busybox "$r/usr/share/busybox-link"
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' >"$r/etc/passwd"
	echo hello >"$r/etc/hello"
	ln "$r/etc/hello" "$r/etc/hello-hardlink"
	echo secret >"$r/home/user/notes"
	chown -R 1000:1000 "$r/home/user"
	chmod 0600 "$r/home/user/notes"
	chmod 1777 "$r/tmp"
	cp /bin/true "$r/bin/suid" && chmod 4755 "$r/bin/suid"
	mkfifo "$r/var/fifo"
	head -c 300 /dev/zero | tr '\0' a >"$r/usr/share/doc/x" && mv "$r/usr/share/doc/x" "$r/usr/share/doc/$(head -c 200 /dev/zero | tr '\0' n)"
	find "$r" -exec touch -h -d @1700000000 {} +
}

# tree_listing DIR [no-mtime]: one line per entry with type, mode, owner, size, link
# target, content hash (and mtime unless asked not to), sorted.
tree_listing() {
	local dir=$1 fmt='%y %m %U:%G %s %l %P'
	[ "${2:-}" = no-mtime ] || fmt="$fmt %T@"
	(cd "$dir" && find . -mindepth 1 -printf "$fmt\n" | sed 's/\.[0-9]*$//' | sort -k6)
	(cd "$dir" && find . -mindepth 1 -type f -exec sha256sum {} + | sort -k2)
}

# umoci_image LAYOUT TAG ROOTFS: an OCI layout holding ROOTFS as one layer, made by umoci.
umoci_image() {
	local layout=$1 tag=$2 rootfs=$3 bundle
	bundle=$(mktemp -d "$T/bundle.XXXXXX")
	rmdir "$bundle"
	umoci init --layout "$layout" >/dev/null 2>&1 || true
	umoci new --image "$layout:$tag"
	umoci unpack --image "$layout:$tag" "$bundle" >/dev/null
	cp -a "$rootfs"/. "$bundle/rootfs/"
	umoci repack --image "$layout:$tag" "$bundle" >/dev/null
	umoci config --image "$layout:$tag" --config.cmd /bin/sh --config.env A=1 \
		--architecture amd64 --os linux >/dev/null
	rm -rf "$bundle"
}

# store_files ROOT: every path of the store except the lock file, for "store unchanged".
store_files() {
	(cd "$1" && find . ! -name plate.lock -printf '%P %s\n' | sort)
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# oci_archive LAYER OUT [MEDIA-TYPE [DIFF-ID]]: a one-layer image "hostile" around LAYER
# (by default an uncompressed tar, whose digest is its diffID), every digest correct but
# the diffID when one is given.
oci_archive() {
	local layer=$1 out=$2 mt=${3:-application/vnd.oci.image.layer.v1.tar} d lh ch mh diff
	d=$(mktemp -d "$T/img.XXXXXX")
	mkdir -p "$d/blobs/sha256"
	lh=$(sha "$layer")
	diff=${4:-$lh}
	cp "$layer" "$d/blobs/sha256/$lh"
	printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$diff" >"$d/c.json"
	ch=$(sha "$d/c.json")
	mv "$d/c.json" "$d/blobs/sha256/$ch"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%d}]}' \
		"$ch" "$(stat -c %s "$d/blobs/sha256/$ch")" "$mt" "$lh" "$(stat -c %s "$layer")" >"$d/m.json"
	mh=$(sha "$d/m.json")
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"hostile"}}]}' \
		"$mh" "$(stat -c %s "$d/m.json")" >"$d/index.json"
	mv "$d/m.json" "$d/blobs/sha256/$mh"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	(cd "$d" && tar --sort=name -cf "$out" oci-layout index.json blobs)
	rm -rf "$d"
}

# gzip_bomb OUT: a gzip'd tar whose one entry claims 2 GiB of zeros, 32 gzip members of 64 MiB
# each after the header (2 MiB to write).  Its diffID is never reached: a reader stops on the
# expansion ratio long before the end.
gzip_bomb() {
	python3 -c '
import sys, tarfile
t = tarfile.TarInfo("zeros"); t.size = 2 << 30
sys.stdout.buffer.write(t.tobuf(format=tarfile.GNU_FORMAT))' | gzip -c >"$1"
	head -c $((64 << 20)) /dev/zero | gzip -c >"$1.z64"
	for _ in $(seq 32); do cat "$1.z64"; done >>"$1"
	head -c 1024 /dev/zero | gzip -c >>"$1"
	rm -f "$1.z64"
}
