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
