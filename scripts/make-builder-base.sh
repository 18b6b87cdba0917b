#!/usr/bin/env bash
# make-builder-base.sh [NAME] — make the offline Go builder base the README demo uses, with
# `plate import`, from this machine's Debian packages (no registry, no network):
#
#   busybox-static   /bin/busybox, /bin/sh and every applet as a symlink
#   golang-1.19-go   /usr/lib/go-1.19 (+ golang-1.19-src's /usr/share/go-1.19), the `go`
#                    command as /usr/bin/go and /usr/local/go/bin/go; Debian's `go` is
#                    dynamically linked, so ld.so and libc.so.6 come along (the compiler and
#                    linker are static, and CGO_ENABLED=0 builds need nothing else)
#   ca-certificates  /etc/ssl/certs/ca-certificates.crt
#   /etc/passwd, /etc/group (root, nobody), /tmp (1777), /root, /go
#
# and tags it NAME (default golang:1.19-local) in plate's store (--root / $PLATE_ROOT as for
# any plate command; PLATE=path/to/plate to choose the binary).  The image is reproducible:
# every file is owned by 0:0, and SOURCE_DATE_EPOCH (default 0) is the mtime and the date.
#
#   scripts/make-builder-base.sh && plate build --build-arg GO_IMAGE=golang:1.19-local \
#       -t plate-demo examples/go-service
set -euo pipefail
NAME=${1:-golang:1.19-local}
PLATE=${PLATE:-$(cd "$(dirname "$0")/.." && pwd)/plate}
GOROOT_HOST=/usr/lib/go-1.19
GOSRC_HOST=/usr/share/go-1.19
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

for f in /bin/busybox "$GOROOT_HOST/bin/go" "$GOSRC_HOST/src" /etc/ssl/certs/ca-certificates.crt; do
	[ -e "$f" ] || { echo "make-builder-base: missing $f (apt-get install busybox-static golang-1.19-go golang-1.19-src ca-certificates)" >&2; exit 1; }
done
[ -x "$PLATE" ] || { echo "make-builder-base: no plate binary at $PLATE (make, or set PLATE)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "make-builder-base: a root filesystem of busybox, Go ($GOROOT_HOST) and the CA bundle" >&2
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/lib,usr/share,usr/local/bin,usr/local/go/bin}
mkdir -p "$R"/{etc/ssl/certs,tmp,root,go/bin,go/src,lib64,lib/x86_64-linux-gnu,proc,sys,dev}
chmod 1777 "$R/tmp"
chmod 0700 "$R/root"
chmod -R 1777 "$R/go"

# busybox: the binary, and every applet as a link to it (/bin/sh among them).
cp /bin/busybox "$R/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	[ "$applet" = bin/busybox ] || ln -sfn /bin/busybox "$R/$applet"
done

# Go: the toolchain and the standard library sources, laid out as Debian does.
cp -a "$GOROOT_HOST" "$R/usr/lib/"
cp -a "$GOSRC_HOST" "$R/usr/share/"
rm -rf "$R$GOSRC_HOST/test"
ln -sfn "$GOROOT_HOST/bin/go" "$R/usr/bin/go"
ln -sfn "$GOROOT_HOST/bin/gofmt" "$R/usr/bin/gofmt"
ln -sfn "$GOROOT_HOST/bin/go" "$R/usr/local/go/bin/go"
# What the dynamically linked `go` command needs to start.
for lib in $(ldd "$GOROOT_HOST/bin/go" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
	cp -L "$lib" "$R/lib/x86_64-linux-gnu/$(basename "$lib")"
done
ln -sfn /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"

# Trust, users.
cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"

GO_VERSION=$("$GOROOT_HOST/bin/go" env GOVERSION)
echo "make-builder-base: $(du -sm "$R" | cut -f1) MB; plate import as $NAME (hashing and compressing it)" >&2
tar -C "$R" --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$SOURCE_DATE_EPOCH" -cf "$WORK/rootfs.tar" .
"$PLATE" import \
	--change "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	--change "ENV GOLANG_VERSION=${GO_VERSION#go}" \
	--change "ENV GOPATH=/go" \
	--change "ENV GOCACHE=/tmp/gocache" \
	--change "WORKDIR /go" \
	--change "CMD [\"/bin/sh\"]" \
	-m "scripts/make-builder-base.sh: busybox-static + golang-1.19-go + ca-certificates" \
	"$WORK/rootfs.tar" "$NAME"
echo "make-builder-base: $NAME ($GO_VERSION) is in the store" >&2
