# Helpers for the `plate build` integration tests (sourced after lib.sh; not a test itself).
#
# Every test file gets its own store $R with one small base image, "base:test", made by
# `plate import` from busybox-static and the static probe (tests/helpers/probe.c):
#   /bin/busybox + applet links (sh, cat, ls, rm, mkdir, echo, …), /bin/probe
#   /etc/passwd: root, app (1000:1000, home /home/app), nobody; /etc/group: root, app,
#   staff (1001, members app), nogroup
#   config: PATH, a base label, WORKDIR /, CMD ["/bin/sh"]

PROBE=${PLATE_BUILD:?}/helpers/probe
R=$T/root
export PLATE_ROOT=$R
p() { "$PLATE" --root "$R" "$@"; }

# arm64_prereqs: QEMU for arm64 registered in binfmt_misc (with the F flag, as
# systemd-binfmt would at boot) and Debian's arm64 busybox-static in apt's archive.
arm64_prereqs() {
	[ -x /usr/bin/qemu-aarch64-static ] || tap_skip_all "qemu-user-static not installed"
	ls /var/cache/apt/archives/busybox-static_*_arm64.deb >/dev/null 2>&1 ||
		tap_skip_all "busybox-static:arm64 not in apt's archive (scripts/deps.sh downloads it)"
	grep -qs '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
		"$PLATE_SRC/scripts/binfmt.sh" aarch64 >/dev/null ||
		tap_skip_all "cannot register qemu-aarch64 in binfmt_misc"
}

build_prereqs() {
	[ "$(id -u)" = 0 ] || rootless_prereqs
	[ -x "$PROBE" ] || tap_skip_all "helpers not built (make test-binaries)"
	[ -x /bin/busybox ] || tap_skip_all "busybox-static not installed"
	command -v jq >/dev/null || tap_skip_all "jq not installed"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
	grep -qw overlay /proc/filesystems || tap_skip_all "no overlayfs"
}

# A normal user's plate builds in a user namespace with its subordinate ids (rootless.md):
# the user needs a range in /etc/subuid and /etc/subgid, newuidmap/newgidmap and user
# namespaces the kernel allows; the default network needs /dev/net/tun (tests/run.sh
# --rootless binds a 0666 node over a 0600 one).
rootless_prereqs() {
	local me
	me=$(id -un)
	[ -x /usr/bin/newuidmap ] && [ -x /usr/bin/newgidmap ] || tap_skip_all "uidmap not installed"
	grep -qE "^($me|$(id -u)):" /etc/subuid 2>/dev/null && grep -qE "^($me|$(id -u)):" /etc/subgid 2>/dev/null ||
		tap_skip_all "$me has no subordinate ids in /etc/subuid and /etc/subgid"
	[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" != 0 ] ||
		tap_skip_all "user namespaces disabled (user.max_user_namespaces=0)"
	[ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 1 ] ||
		tap_skip_all "unprivileged user namespaces disabled (kernel.unprivileged_userns_clone=0)"
	[ -r /dev/net/tun ] && [ -w /dev/net/tun ] || tap_skip_all "/dev/net/tun is not usable by $me"
}

# The owners are the tar's, not the files' (a normal user cannot chown): root's everywhere,
# then /home/app appended as 1000:1000, for root and everyone else alike.
make_base() {
	local r=$T/base-rootfs
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home/app}
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		[ "$a" = bin/busybox ] || ln -sfn /bin/busybox "$r/$a"
	done
	cp "$PROBE" "$r/bin/probe"
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\nstaff:x:1001:app\nnogroup:x:65534:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	tar -C "$r" --numeric-owner --owner=0 --group=0 --exclude=./home/app -cf "$T/base.tar" . &&
		tar -C "$r" --numeric-owner --owner=1000 --group=1000 -rf "$T/base.tar" ./home/app
	p import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'LABEL base=yes' -c 'CMD ["/bin/sh"]' \
		"$T/base.tar" base:test >/dev/null
}

# build NAME-OF-CONTEXT-DIR [ARGS...]: plain progress into $T/out, exit status kept in $rc.
build() {
	local ctx=$1
	shift
	p build --progress plain "$@" "$ctx" >"$T/out" 2>&1
	rc=$?
}

# config REF JQ: a field of the image config (plate inspect's .Config / full config).
config() { p inspect "$1" | jq -c ".[0]$2"; }

# run_probe REF ARGS...: the probe's output inside the image.
run_probe() {
	local ref=$1
	shift
	p run --network none "$ref" /bin/probe "$@"
}

# layer_files REF: "path" of every entry of every layer, in order, with whiteouts.
layer_files() {
	local layout=$T/layout-$$
	rm -rf "$layout"
	p save --format oci -o "$T/save.tar" "$1" >/dev/null &&
		mkdir -p "$layout" && tar -C "$layout" -xf "$T/save.tar" &&
		for d in $(jq -r '.manifests[0].digest' "$layout/index.json" | cut -d: -f2); do
			jq -r '.layers[].digest' "$layout/blobs/sha256/$d" | cut -d: -f2
		done | while read -r l; do
			tar -tf "$layout/blobs/sha256/$l"
		done
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
show_out() { diag "exit ${rc:-?}" "$(cat "$T/out" 2>/dev/null)"; }

# ck NAME CMD...: tap_check, showing the last build's output when the check fails.
ck() {
	local before=$_tap_failed
	tap_check "$@"
	[ "$_tap_failed" = "$before" ] || show_out
}
