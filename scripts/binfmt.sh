#!/usr/bin/env bash
# binfmt.sh [ARCH...] — register QEMU's user-mode emulators (Debian's qemu-user-static) in
# binfmt_misc with the fix-binary flag (F), so that RUN in a stage of a foreign platform runs
# in plate's sandbox: the kernel opens the emulator at registration, and the sandbox's root,
# which holds none, still executes it.  Default ARCH: aarch64.  Needs root; idempotent (an
# entry registered without F is replaced).  What systemd-binfmt does at boot from
# /usr/lib/binfmt.d/qemu-*.conf, for machines (containers, CI) that skipped it.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "binfmt: needs root" >&2; exit 1; }
dir=/proc/sys/fs/binfmt_misc
[ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir"
for arch in "${@:-aarch64}"; do
	conf=/usr/lib/binfmt.d/qemu-$arch.conf
	[ -r "$conf" ] || { echo "binfmt: no $conf (apt-get install qemu-user-static)" >&2; exit 1; }
	if [ -e "$dir/qemu-$arch" ]; then
		grep -q '^flags: .*F' "$dir/qemu-$arch" && continue
		echo -1 >"$dir/qemu-$arch"
	fi
	line=$(grep -v '^#' "$conf" | head -n1)
	# The conf's last field is its flags: F must be among them.
	case "${line##*:}" in *F*) ;; *) line="${line}F" ;; esac
	printf '%s' "$line" >"$dir/register"
	echo "binfmt: registered qemu-$arch ($(sed -n 's/^flags: //p' "$dir/qemu-$arch"))"
done
