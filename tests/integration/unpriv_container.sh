#!/usr/bin/env bash
# plate's own image in an unprivileged container (issue 14, parts 2 and 3): plate builds its
# image from the repository's Dockerfile (the offline C builder base of
# scripts/make-c-builder-base.sh), `plate check` finds nothing in it, it is loaded into a
# private dockerd (Debian's docker.io: socket and data under $T, --bridge=none, stopped by
# PID) and run with Docker's defaults (default seccomp profile and capabilities, no
# --privileged, no /dev/fuse; --network host to reach the registry on 127.0.0.1):
#   - as the container's root it builds a Dockerfile whose RUN steps chown files and switch
#     USER, with chroot isolation (detected, and said), and pushes it to a local
#     docker-registry: the digest there is the one the host's namespaced build has;
#   - as a non-root container user it fails with the one precise error naming the cause and
#     the fix, and stores nothing.
# Time box: about 2 minutes on a quiet 2-core machine, most of it compiling plate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
. "$(dirname "$0")/dockerd-helpers.bash"
root_only "starts a private dockerd, which needs the host's root (Debian's docker.io has no rootless mode without rootlesskit)"
build_prereqs
reg_need docker-registry curl
dockerd_need
for pkg in gcc make pkgconf libarchive-dev libssl-dev libjansson-dev libcurl4-openssl-dev \
	libzstd-dev libdeflate-dev libisal-dev libseccomp-dev ca-certificates; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
		tap_skip_all "$pkg not installed (scripts/deps.sh): the C builder base is made from it"
done
make_base

stop_all() {
	stop_dockerd
	_reg_cleanup
}
trap stop_all EXIT

# 1. plate's image, built by plate on the host.
PLATE="$PLATE" "$PLATE_SRC/scripts/make-c-builder-base.sh" >"$T/base.log" 2>&1
ck "the C builder base is made from Debian packages" test $? = 0
p build --progress plain -t plate:local "$PLATE_SRC" >"$T/out" 2>&1
rc=$?
ck "plate builds its own image from the repository's Dockerfile" test "$rc" = 0
p check plate:local >"$T/check" 2>&1
rc=$?
ck "plate check of plate's image finds nothing" test "$rc" = 0 -a ! -s "$T/check"
p du --top 0 plate:local >"$T/du"
ck "plate's image has libcurl.so.4, which plate opens with dlopen()" \
	grep -q ' /lib/x86_64-linux-gnu/libcurl.so.4$' "$T/du"
ck "... and libarchive.so.13, likewise" \
	grep -q ' /lib/x86_64-linux-gnu/libarchive.so.13$' "$T/du"
p save --format docker -o "$T/plate.tar" plate:local >/dev/null

start_dockerd vfs || { diag "dockerd did not start:" "$(tail -20 "$DOCKERD_DIR/log")"; exit 1; }
$DOCKER load -i "$T/plate.tar" >/dev/null
ck "plate's image loads into dockerd" test $? = 0

start_registry reg || exit 1

# The work directory the containers see as /w: the base as a tarball, the contexts, stores.
W=$T/w
mkdir -p "$W/ctx" "$W/ctx-nochown"
cp "$T/base.tar" "$W/base.tar"
echo copied >"$W/ctx/f"
cat >"$W/ctx/Dockerfile" <<'EOF'
FROM base:test
COPY --chown=1000:1001 f /f-app
RUN mkdir /data && echo a > /data/a && echo b > /data/b && \
    chown 1000:1000 /data/a && chown 1001:65534 /data/b && \
    echo x > /home/app/x && chown app /home/app/x && rm /etc/group
USER app
RUN id -u > /home/app/uid && echo mine > /tmp/mine
USER root
RUN rm -rf /home && mkdir -p /home/n && ln -s /f-app /home/n/l
EOF
printf 'FROM base:test\nRUN echo hi > /hi\nUSER app\n' >"$W/ctx-nochown/Dockerfile"
chmod -R a+rwX "$W"

# The host's root build: the reference digest.
build "$W/ctx" -t ref:1
ck "the host's root build works (namespaces)" \
	sh -c "[ $rc = 0 ] && grep -qx 'isolation: namespaces (namespaces can be made here)' '$T/out'"
ref_digest=$(p inspect ref:1 | jq -r '.[0].Descriptor.digest')

# in_container USER CMD...: plate in its image under Docker's defaults.
in_container() {
	local user=$1
	shift
	$DOCKER run --rm --user "$user" --network host -e HOME=/w -v "$W:/w" plate:local "$@"
}
# The same base as make_base's: the tarball with the same config changes.
in_container 0 --root /w/st import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
	-c 'LABEL base=yes' -c 'CMD ["/bin/sh"]' /w/base.tar base:test >"$T/out" 2>&1
ck "container root: plate import works" test $? = 0
in_container 0 --root /w/st build --progress plain --push -t "127.0.0.1:$REG_PORT/unpriv/img:1" \
	/w/ctx >"$T/out" 2>&1
rc=$?
ck "container root: the chown + USER build works and is pushed" test "$rc" = 0
ck "container root: the build says it uses chroot isolation, detected" \
	grep -q '^isolation: chroot (namespaces and mounts are refused here;' "$T/out"
reg_digest=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://127.0.0.1:$REG_PORT/v2/unpriv/img/manifests/1" | tr -d '\r' |
	awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
# The host's build pushed: its layers, stored uncompressed, go out gzipped as the
# container's do.
ref_pushed=$(p push ref:1 "127.0.0.1:$REG_PORT/unpriv/ref:1" 2>/dev/null)
ck "container root: the pushed digest is the one the host root build pushes ($ref_pushed)" \
	test "${ref_pushed#sha256:}" != "$ref_pushed" -a "$reg_digest" = "$ref_pushed"
# As the Kubernetes example runs it: allowPrivilegeEscalation false is no_new_privs.
$DOCKER run --rm --user 0 --network host --security-opt no-new-privileges -v "$W:/w" plate:local \
	--root /w/st build --progress plain --no-cache -t nnp:1 /w/ctx >"$T/out" 2>&1
rc=$?
ck "container root with no-new-privileges: the same digest" \
	test "$rc" = 0 -a "$("$PLATE" --root "$W/st" inspect nnp:1 | jq -r '.[0].Descriptor.digest')" = "$ref_digest"
in_container 0 --root /w/st build --progress plain --network none /w/ctx >"$T/out" 2>&1
rc=$?
ck "container root: --network none is the precise error" \
	sh -c "[ $rc = 1 ] && grep -q 'network none needs a network namespace, which chroot isolation has not' '$T/out'"

in_container 0 --root /w/st run base:test /bin/true >"$T/out" 2>&1
rc=$?
ck "container root: plate run is the precise error" \
	sh -c "[ $rc = 1 ] && grep -q 'plate run needs namespaces and mounts, which are refused here' '$T/out'"

# A non-root container user: no user namespace, no chroot.
for c in ctx ctx-nochown; do
	in_container 1000:1000 build --progress plain -t "u-$c:1" "/w/$c" >"$T/out" 2>&1
	rc=$?
	ck "container user 1000 ($c): one precise error naming the cause and the fix" \
		sh -c "[ $rc = 1 ] && [ \$(grep -c 'error' '$T/out') = 1 ] && grep -q 'a seccomp filter refuses it' '$T/out' && grep -q 'run the container as root (docker run --user 0' '$T/out'"
done
ck "container user 1000: nothing stored" test ! -e "$W/.local/share/plate/index.json"

tap_done
