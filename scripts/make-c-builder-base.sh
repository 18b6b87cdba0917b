#!/usr/bin/env bash
# make-c-builder-base.sh [NAME] — make the offline C builder base that plate's own Dockerfile
# builds on, with `plate import`, from this machine's installed Debian packages (no registry,
# no network), as make-builder-base.sh does for Go:
#
#   gcc, make, pkgconf and the -dev packages plate compiles against (libarchive, OpenSSL,
#   jansson, libcurl's headers, zstd, libdeflate, ISA-L, libseccomp), with every package they
#   depend on (Depends and Pre-Depends, the first installed alternative), as dpkg installed
#   them: the files `dpkg -L` lists, minus documentation, manuals and translations
#   busybox-static   /bin/sh and the other applets (where no package has the command)
#   ca-certificates  /etc/ssl/certs/ca-certificates.crt (the final image needs it for pushes)
#   /etc/passwd, /etc/group (root, nobody), /tmp (1777), /root; merged /usr as Debian 12
#
# and tags it NAME (default plate-c-builder:local) in plate's store (--root / $PLATE_ROOT as
# for any plate command; PLATE=path/to/plate to choose the binary).  Reproducible: every file
# is owned by 0:0, SOURCE_DATE_EPOCH (default 0) is the mtime and the date.
#
#   scripts/make-c-builder-base.sh && plate build -t plate:local .
set -euo pipefail
NAME=${1:-plate-c-builder:local}
PLATE=${PLATE:-$(cd "$(dirname "$0")/.." && pwd)/plate}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
ROOTS=(gcc make pkgconf libc6-dev libarchive-dev libssl-dev libjansson-dev libcurl4-openssl-dev
	libzstd-dev libdeflate-dev libisal-dev libseccomp-dev)
# Packaging machinery a compiler never runs.
SKIP=" debconf dpkg perl-base install-info cdebconf libdebconfclient0 "

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in "${ROOTS[@]}" busybox-static ca-certificates; do
	installed "$p" || { echo "make-c-builder-base: $p is not installed (bash scripts/deps.sh)" >&2; exit 1; }
done
[ -x "$PLATE" ] || { echo "make-c-builder-base: no plate binary at $PLATE (make, or set PLATE)" >&2; exit 1; }

# The dependency closure, in a stable order.
declare -A seen=()
todo=("${ROOTS[@]}")
while [ ${#todo[@]} -gt 0 ]; do
	p=${todo[-1]}
	unset 'todo[-1]'
	[ -z "${seen[$p]:-}" ] && [[ "$SKIP" != *" $p "* ]] || continue
	seen[$p]=1
	deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p")
	IFS=',' read -ra alts <<<"$deps"
	for alt in "${alts[@]}"; do
		IFS='|' read -ra choices <<<"$alt"
		for c in "${choices[@]}"; do
			c=$(sed -E 's/\(.*\)//; s/:.*//; s/[[:space:]]//g' <<<"$c")
			[ -n "$c" ] && installed "$c" && { todo+=("$c"); break; }
		done
	done
done
mapfile -t pkgs < <(printf '%s\n' "${!seen[@]}" | LC_ALL=C sort)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs
mkdir -p "$R"/usr/{bin,sbin,lib,lib64,share} "$R"/{etc/ssl/certs,tmp,root,src}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$R/$d"; done
chmod 1777 "$R/tmp"
chmod 0700 "$R/root"

# busybox first, so that a package's own command (ar, as from binutils) replaces the applet.
cp /bin/busybox "$R/usr/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	a=${applet#usr/}
	[ "$a" = bin/busybox ] || ln -sfn /usr/bin/busybox "$R/usr/$a"
done

# Every file the packages installed; directories come along as the files' parents, the
# /bin, /lib, ... symlinks of the merged /usr kept.
for p in "${pkgs[@]}"; do dpkg -L "$p"; done | LC_ALL=C sort -u |
	grep -Ev '^/usr/share/(doc|man|info|locale|lintian|bug)/' | while read -r f; do
	[ -f "$f" ] || [ -L "$f" ] && printf '%s\n' "${f#/}"
done >"$WORK/files"
tar -C / --no-recursion -cf - -T "$WORK/files" | tar -C "$R" --keep-directory-symlink -xf -
# `cc` is an alternative (/etc/alternatives), not a file of the gcc package.
ln -sfn gcc "$R/usr/bin/cc"

cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"

tar -C "$R" --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$SOURCE_DATE_EPOCH" -cf "$WORK/rootfs.tar" .
"$PLATE" import \
	--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	--change "WORKDIR /src" \
	--change "CMD [\"/bin/sh\"]" \
	-m "scripts/make-c-builder-base.sh: gcc + make + pkgconf + plate's -dev packages (${#pkgs[@]} Debian packages) + busybox-static" \
	"$WORK/rootfs.tar" "$NAME"
echo "make-c-builder-base: $NAME (${#pkgs[@]} packages) is in the store" >&2
