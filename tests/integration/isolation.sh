#!/usr/bin/env bash
# Isolation modes on the host: chroot isolation (what plate uses inside an unprivileged
# container, forced here with --isolation / PLATE_ISOLATION) builds the image namespaces
# build, digest for digest (RUN chowns to several ids, switches USER, removes and remakes a
# directory, deletes files, WORKDIR creates one); each build says its isolation; what chroot
# isolation cannot honour is one precise error and nothing stored; and a command in a
# chroot RUN cannot chroot out, make a device node or lift the filter.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
root_only "chroot isolation is root's mode where namespaces are refused (a default container); a normal user builds in a user namespace, which rootless.sh tests"
build_prereqs
make_base

C=$T/ctx
mkdir -p "$C"
echo copied >"$C/f"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
COPY f /f
COPY --chown=1000:1001 f /f-app
RUN mkdir /data && echo a > /data/a && echo b > /data/b && \
    chown 1000:1000 /data/a && chown 1001:65534 /data/b && chmod 0750 /data/b && \
    echo x > /home/app/x && chown app /home/app/x && rm /etc/group && echo gone > /dev/null
WORKDIR /w/x
USER app
RUN id -u > /home/app/uid && echo mine > /tmp/mine && ln -s /f /home/app/link && \
    cp /home/app/uid /tmp/app-uid
USER root
RUN rm -rf /home && mkdir -p /home/n && ln -s /f /home/n/l && mkfifo /home/n/p && \
    touch /f && chown 65534 /f-app && rm -rf /data && echo file > /data && \
    rm /f && mkdir /f && ln /bin/busybox /bb && mv /tmp/app-uid /home/app-uid
EOF
EPOCH=1700000000

build "$C" --isolation namespaces -t ns:1
ck "namespaces: the build works" test "$rc" = 0
ck "namespaces: the build says its isolation" grep -qx 'isolation: namespaces (asked for)' "$T/out"
ns_digest=$(p inspect ns:1 | jq -r '.[0].Descriptor.digest')

build "$C" --isolation chroot --no-cache -t ch:1
ck "chroot: the build works" test "$rc" = 0
ck "chroot: the build says its isolation" grep -q '^isolation: chroot (asked for; layers are copied' "$T/out"
ck "chroot: every step ran (none from the cache)" test "$(grep -c 'CACHE MISS: --no-cache' "$T/out")" = 6
ch_digest=$(p inspect ch:1 | jq -r '.[0].Descriptor.digest')
ck "chroot: the same image digest as namespaces ($ns_digest)" \
	test "${ns_digest#sha256:}" != "$ns_digest" -a "$ch_digest" = "$ns_digest"
ck "chroot: RUN's owners and USER are in the image" \
	test "$(run_probe ch:1 owner /home/app-uid , owner /home/n/l , owner /f-app , type /data | tr '\n' ' ')" = \
	"1000:1000 0:0 65534:1001 file "

# The environment variable, and the json progress event.
PLATE_ISOLATION=chroot p build --progress json --no-cache -t ch:2 "$C" >"$T/out" 2>&1
rc=$?
ck "PLATE_ISOLATION=chroot: the same digest" \
	test "$rc" = 0 -a "$(p inspect ch:2 | jq -r '.[0].Descriptor.digest')" = "$ns_digest"
ck "--progress json: one isolation event, before the first step" \
	test "$(grep '"type"' "$T/out" | grep -v '"epoch"' | head -1 | jq -r '"\(.type) \(.name)"')" = "isolation chroot" -a \
	"$(grep -c '"type":"isolation"' "$T/out")" = 1
build "$C" -t auto:1
ck "auto on a host that makes namespaces: namespaces" \
	grep -qx 'isolation: namespaces (namespaces can be made here)' "$T/out"

# What chroot isolation cannot honour.
build "$C" --isolation bogus
ck "--isolation bogus: a usage error" \
	sh -c "[ $rc = 2 ] && grep -q \"'bogus': must be auto, namespaces or chroot\" '$T/out'"
PLATE_ISOLATION=jail p build "$C" >"$T/out" 2>&1
rc=$?
ck "PLATE_ISOLATION=jail: a usage error naming the variable" \
	sh -c "[ $rc = 2 ] && grep -q \"PLATE_ISOLATION 'jail'\" '$T/out'"
build "$C" --isolation chroot --network none -t nonet:1
ck "--network none under chroot: the precise error, nothing stored" \
	sh -c "[ $rc = 1 ] && grep -q 'network none needs a network namespace, which chroot isolation has not' '$T/out' && ! '$PLATE' --root '$R' inspect nonet:1 >/dev/null 2>&1"
mkdir -p "$T/c2"
printf 'FROM base:test\nRUN --network=none echo hi > /hi\n' >"$T/c2/Dockerfile"
build "$T/c2" --isolation chroot -t nonet:2
ck "RUN --network=none under chroot: the precise error, nothing stored" \
	sh -c "[ $rc = 1 ] && grep -q 'network none needs a network namespace' '$T/out' && ! '$PLATE' --root '$R' inspect nonet:2 >/dev/null 2>&1"
printf 'FROM base:test\nRUN --mount=type=cache,target=/c echo hi > /c/hi\n' >"$T/c2/Dockerfile"
build "$T/c2" --isolation chroot -t mnt:1
ck "RUN --mount under chroot: the precise error, nothing stored" \
	sh -c "[ $rc = 1 ] && grep -q 'need a mount namespace, which chroot isolation has not' '$T/out' && ! '$PLATE' --root '$R' inspect mnt:1 >/dev/null 2>&1"

# From inside a chroot RUN: what an attacker would try first.
cat >"$T/c2/Dockerfile" <<'EOF'
FROM base:test
RUN mkdir /x && { probe chroot /x > /out-chroot 2>&1; probe mknod /node 1 3 > /out-mknod 2>&1; \
    probe unshare > /out-unshare 2>&1; probe exists /proc/self > /out-proc; \
    probe exists /dev/null > /out-null; true; }
EOF
build "$T/c2" --isolation chroot -t attack:1
ck "the attack build ran" test "$rc" = 0
ck "chroot RUN: chroot(2) is refused (no CAP_SYS_CHROOT: no walking out)" \
	sh -c "run_out() { '$PLATE' --root '$R' run --network none attack:1 /bin/cat \"\$1\"; }; run_out /out-chroot | grep -q 'Operation not permitted'"
ck "chroot RUN: mknod is refused (no CAP_MKNOD)" \
	sh -c "'$PLATE' --root '$R' run --network none attack:1 /bin/cat /out-mknod | grep -q 'Operation not permitted'"
ck "chroot RUN: no user namespace (the filter)" \
	sh -c "'$PLATE' --root '$R' run --network none attack:1 /bin/cat /out-unshare | grep -q 'Operation not permitted'"
ck "chroot RUN: no /proc of the host, a /dev/null that works" \
	test "$(run_probe attack:1 cat /out-proc , cat /out-null | tr '\n' ' ')" = "no yes "
ck "chroot RUN: /dev stays out of the layer" \
	sh -c "! '$PLATE' --root '$R' run --network none attack:1 /bin/probe exists /node >/dev/null"

tap_done
