#!/usr/bin/env bash
# make-busybox-base.sh DEBARCH NAME — a busybox base image of another architecture from
# Debian's busybox-static package of that architecture (apt's multiarch download: the
# package of arm64 on an amd64 machine), imported with `plate import --platform`:
# /bin/busybox, every applet as a link to it (/bin/sh among them), /tmp, /etc/passwd.
# Offline once the package is in apt's archive (/var/cache/apt/archives); otherwise, as root,
# the architecture is added to dpkg and the package downloaded (`apt-get download`).
# --root / $PLATE_ROOT as for any plate command; PLATE=path/to/plate to choose the binary.
#
#   scripts/make-busybox-base.sh arm64 busybox-arm64:local
set -euo pipefail
DEBARCH=${1:?usage: make-busybox-base.sh DEBARCH NAME}
NAME=${2:?usage: make-busybox-base.sh DEBARCH NAME}
PLATE=${PLATE:-$(cd "$(dirname "$0")/.." && pwd)/plate}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
case $DEBARCH in
	amd64 | arm64 | s390x | ppc64el | riscv64 | i386 | armhf | armel) ;;
	*) echo "make-busybox-base: unknown Debian architecture '$DEBARCH'" >&2; exit 1 ;;
esac
case $DEBARCH in
	ppc64el) PLATFORM=linux/ppc64le ;; i386) PLATFORM=linux/386 ;;
	armhf) PLATFORM=linux/arm/v7 ;; armel) PLATFORM=linux/arm/v6 ;;
	*) PLATFORM=linux/$DEBARCH ;;
esac

deb=$(ls /var/cache/apt/archives/busybox-static_*_"$DEBARCH".deb 2>/dev/null | tail -n1 || true)
if [ -z "$deb" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "make-busybox-base: busybox-static:$DEBARCH is not in apt's archive; as root: dpkg --add-architecture $DEBARCH && apt-get update && apt-get download busybox-static:$DEBARCH" >&2; exit 1; }
	dpkg --print-foreign-architectures | grep -qx "$DEBARCH" ||
		{ dpkg --add-architecture "$DEBARCH" && apt-get update -qq; }
	(cd /var/cache/apt/archives && apt-get download -qq "busybox-static:$DEBARCH")
	deb=$(ls /var/cache/apt/archives/busybox-static_*_"$DEBARCH".deb | tail -n1)
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$deb" "$WORK/pkg"
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev}
chmod 1777 "$R/tmp"
cp "$WORK/pkg/bin/busybox" "$R/bin/busybox"
# The applets of the host's busybox of the same Debian version: the foreign binary may not
# run here.
for applet in $(busybox --list-full); do
	[ "$applet" = bin/busybox ] || ln -sfn /bin/busybox "$R/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$R" -cf "$WORK/rootfs.tar" .
"$PLATE" import --platform "$PLATFORM" -c 'CMD ["/bin/sh"]' "$WORK/rootfs.tar" "$NAME"
