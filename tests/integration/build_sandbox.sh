#!/usr/bin/env bash
# The sandbox's security profile as RUN steps and `plate run` see it, tried from inside with
# the static probe: seccomp filter, no user namespaces, private keyring, no host devices, a
# clean pid 1, no way to run the host's plate binary, setuid after USER, and
# `RUN --security=insecure` behind `--allow security.insecure`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

# A key in the host user's keyring: possessed by every process of the user (plate
# included), so a sandbox sharing plate's session keyring could read it.
host_key=$("$PROBE" addkey @u "plate-build-test-$$" host-s3cret)
trap '"$PROBE" delkey "$host_key" >/dev/null 2>&1; rm_tmp' EXIT
ck "the host can read its key (the checks below can fail)" \
	test "$("$PROBE" readkey "$host_key")" = host-s3cret

C=$T/ctx
mkdir -p "$C"
# Device nodes: root's RUN may make them (CAP_MKNOD) but they never open (nodev); a user
# namespace refuses mknod of a device outright, so a rootless build has none to open.
devices=0
if root_part "device nodes made by RUN, which a user namespace refuses (checked below instead)"; then
	devices=1
	MKNOD='RUN probe mknod /kvm 10 232 && (probe open /kvm > /kvm-open 2>&1 || echo denied >> /kvm-open)
RUN mknod /shipped-null c 1 3 && (probe open /shipped-null > /shipped-open 2>&1 || echo denied >> /shipped-open)'
else
	MKNOD='RUN probe mknod /kvm 10 232 > /kvm-mknod 2>&1 || echo refused >> /kvm-mknod'
fi
# Every probe writes what it saw; a refused operation writes "denied".
cat >"$C/Dockerfile" <<EOF
FROM base:test
RUN probe seccomp > /seccomp
RUN probe unshare > /unshare 2>&1 || echo denied >> /unshare
RUN probe readkey $host_key > /readkey 2>&1 || echo denied >> /readkey
RUN probe addkey @u plate-inside-$$ x > /addkey 2>&1 || echo denied >> /addkey
$MKNOD
RUN probe cat /proc/1/cmdline | tr '\0' ' ' > /cmdline
RUN probe ls /proc/self/fd > /fds
RUN mkdir /suid && cp /bin/probe /suid/probe && chmod 4755 /suid/probe
RUN mkdir -p /mv/a /mv/b && echo x > /mv/a/f && ln /mv/a/f /mv/b/link && mv /mv/a/f /mv/b/moved && echo ok > /mv/result
USER nobody
RUN /suid/probe euid > /tmp/euid && probe euid > /tmp/own-euid
EOF
build "$C" -t secure --build-arg UNDECLARED=plate-secret-build-arg
ck "the probes build" test "$rc" = 0
in_image() { p run --network none secure cat "$1"; }
ck "RUN: a seccomp filter" test "$(in_image /seccomp)" = 2
ck "RUN: no user namespace" test "$(in_image /unshare)" = "probe: unshare 'CLONE_NEWUSER': Operation not permitted
denied"
ck "RUN: a host key is not readable" test "$(in_image /readkey | tail -1)" = denied
ck "RUN: no key can be added" test "$(in_image /addkey | tail -1)" = denied
ck "... and none appeared on the host" bash -c "! '$PROBE' findkey @u 'plate-inside-$$' 2>/dev/null"
if [ "$devices" = 1 ]; then
	ck "RUN: a device node made with mknod does not open" test "$(in_image /kvm-open | tail -1)" = denied
	ck "RUN: nor one from an earlier layer" test "$(in_image /shipped-open | tail -1)" = denied
else
	ck "RUN as a normal user: mknod of a device is refused" test "$(in_image /kvm-mknod)" = \
		"probe: mknod '/kvm': Operation not permitted
refused"
fi
ck "RUN: pid 1's command line shows nothing of the build" test "$(in_image /cmdline | sed 's/ *$//')" = sandbox-init
ck "RUN: no descriptor but the command's own" test "$(in_image /fds | tr '\n' ' ')" = "0 1 2 3 "
ck "RUN: the exec guard leaves links and renames across directories alone (Landlock REFER)" \
	test "$(in_image /mv/result)" = ok
ck "RUN: a setuid-root file after USER nobody gives euid 0" \
	test "$(in_image /tmp/euid)/$(in_image /tmp/own-euid)" = 0/65534

run_in() { p run --network none --user root secure /bin/probe "$@" 2>&1; }
ck "plate run: a seccomp filter" test "$(run_in seccomp)" = 2
ck "plate run: io_uring is answered ENOSYS (Docker's profile dropped it)" \
	test "$(run_in syscall 425)" = "probe: syscall '425': Function not implemented"
ck "plate run: fchmodat2 (452) is allowed, as in Docker's current profile (glibc 2.39 uses it)" \
	test "$(run_in syscall 452)" = "probe: syscall '452': Bad address"
ck "plate run: a syscall newer than the filter's libseccomp (458) is ENOSYS, so libc falls back" \
	test "$(run_in syscall 458)" = "probe: syscall '458': Function not implemented"
ck "plate run: a known syscall outside the allowlist is still EPERM" \
	test "$(run_in syscall 165)" = "probe: syscall '165': Operation not permitted"
ck "plate run: no user namespace" test "$(run_in unshare)" = "probe: unshare 'CLONE_NEWUSER': Operation not permitted"
ck "plate run: a host key is not readable" \
	test "$(run_in readkey "$host_key")" = "probe: readkey '$host_key': Operation not permitted"
if [ "$devices" = 1 ]; then
	ck "plate run: an image's device node does not open" \
		test "$(run_in open /shipped-null)" = "probe: open '/shipped-null': Permission denied"
fi
ck "plate run: the standard ones do" test "$(run_in open /dev/null)" = opened
ck "plate run: pid 1's command line is neutral" \
	test "$(p run --network none secure probe cat /proc/1/cmdline | tr '\0' ' ' | sed 's/ *$//')" = sandbox-init
ck "plate run: setuid after USER nobody (the image's user)" test "$(p run --network none secure /suid/probe euid)" = 0
ck "plate run: /proc/self/exe does not run plate" \
	bash -c "! p() { :; }; ! '$PLATE' --root '$R' run --network none secure /proc/self/exe version >'$T/selfexe' 2>&1 && grep -q \"exec '/proc/self/exe': Permission denied\" '$T/selfexe'"

# RUN ["/proc/self/exe", ...]: the command is a copy of plate until it execs.
printf 'FROM base:test\nRUN ["/proc/self/exe", "version"]\n' >"$T/Dockerfile.exe"
build "$C" -f "$T/Dockerfile.exe"
ck "RUN /proc/self/exe fails the build" \
	bash -c "test $rc = 1 && grep -q \"exec '/proc/self/exe': Permission denied\" '$T/out' && ! grep -q 'plate 0' '$T/out'"

# RUN --security=insecure: BuildKit's entitlement.
cat >"$T/Dockerfile.insecure" <<'EOF'
FROM base:test
RUN --security=insecure probe seccomp > /seccomp && probe caps > /caps && probe unshare > /unshare
EOF
build "$C" -f "$T/Dockerfile.insecure" -t insecure
ck "--security=insecure without --allow fails" \
	bash -c "test $rc = 1 && grep -q \"RUN --security=insecure needs 'plate build --allow security.insecure'\" '$T/out'"
build "$C" -f "$T/Dockerfile.insecure" -t insecure --allow security.insecure
ck "with --allow security.insecure it builds" test "$rc" = 0
ck "insecure: no seccomp filter" test "$(p run --network none insecure cat /seccomp)" = 0
ck "insecure: every capability plate has" test "$(p run --network none insecure cat /caps)" = "$(as_owner "$PROBE" caps)"
ck "insecure: namespaces can be made" test "$(p run --network none insecure cat /unshare)" = ok
build "$C" -f "$T/Dockerfile.insecure" --allow security.network
ck "--allow takes only security.insecure" bash -c "test $rc = 2 && grep -q \"'security.network'\" '$T/out'"
printf 'FROM base:test\nRUN --security=sandbox probe seccomp > /s\n' >"$T/Dockerfile.sandbox"
build "$C" -f "$T/Dockerfile.sandbox" -t sandboxed
ck "--security=sandbox is the default sandbox" test "$(p run --network none sandboxed cat /s)" = 2

# An image's /etc/passwd that is a device node (here /dev/zero's): the engine resolves USER
# on the host, where opening it would reach the host's device.  It is taken as missing,
# never opened (strace watches every open of plate and its children: the base's
# regular passwd is read, the device never); a FIFO does not block.
# (a device node made by RUN: root only, see above; a traced plate's newuidmap would not
# be setuid either)
if [ "$devices" = 1 ]; then
	printf 'FROM base:test\nRUN rm /etc/passwd && mknod /etc/passwd c 1 5\nUSER app\nRUN true\n' \
		>"$T/Dockerfile.devpasswd"
	strace -f -qq --decode-fds=path,dev -e trace=open,openat,openat2 -o "$T/devpasswd.trace" \
		"$PLATE" --root "$R" build --progress plain -f "$T/Dockerfile.devpasswd" -t devpasswd "$C" \
		>"$T/out" 2>&1
	rc=$?
	ck "USER over a device-node /etc/passwd fails: the user is unknown" \
		bash -c "test $rc = 1 && grep -q 'unable to find user app' '$T/out'"
	ck "... and the device was never opened" \
		bash -c "grep -q 'etc/passwd>$' '$T/devpasswd.trace' && ! grep -q 'passwd<char 1:5>' '$T/devpasswd.trace'"
fi
printf 'FROM base:test\nRUN rm /etc/passwd && mkfifo /etc/passwd\nUSER app\nRUN true\n' \
	>"$T/Dockerfile.fifopasswd"
build "$C" -f "$T/Dockerfile.fifopasswd" -t fifopasswd
ck "... a FIFO there does not block: the user is unknown" \
	bash -c "test $rc = 1 && grep -q 'unable to find user app' '$T/out'"
# The compiled filter kept in the store ($R/seccomp.bpf): plate compiles it once per program
# and libseccomp, later runs read it.  A file that is not this program's, damaged, or
# writable by others is compiled again and replaced; the sandbox refuses the same things.
F=$R/seccomp.bpf
ck "the compiled filter is kept in the store, readable by its owner only" \
	bash -c "test -f '$F' && test \"\$(stat -c %a '$F')\" = 600 && head -1 '$F' | grep -qx 'plate seccomp filter 1'"
cp "$F" "$T/filter.good"
ino=$(stat -c %i "$F")
run_in seccomp >/dev/null
ck "a later run reads it and leaves it alone" test "$(stat -c %i "$F")" = "$ino"
hdr=$(head -4 "$T/filter.good" | wc -c)
# One instruction, BPF_RET|BPF_K SECCOMP_RET_ALLOW: a filter that allows everything.
printf '\x06\x00\x00\x00\x00\x00\xff\x7f' >"$T/allow-all"
allow_sum=sha256:$(sha256sum "$T/allow-all" | cut -d' ' -f1)
key=$(sed -n 2p "$T/filter.good")
# forge KEYLINE DIGEST MODE: an allow-all filter under that header, in place of the cache.
forge() {
	{ printf 'plate seccomp filter 1\n%s\n%s\n\n' "$1" "$2"; cat "$T/allow-all"; } >"$F"
	chmod "$3" "$F"
}
forge "$key" "$(sed -n 3p "$T/filter.good")" 600
ck "a filter whose digest does not match is refused: no user namespace" \
	test "$(run_in unshare)" = "probe: unshare 'CLONE_NEWUSER': Operation not permitted"
ck "... and it is compiled again" cmp -s "$F" "$T/filter.good"
forge "$(echo "$key" | sed 's/build-id \(.\)/build-id x\1/')" "$allow_sum" 600
ck "a filter made by another program (its build ID) is refused" \
	test "$(run_in unshare)" = "probe: unshare 'CLONE_NEWUSER': Operation not permitted"
ck "... and it is compiled again" cmp -s "$F" "$T/filter.good"
forge "$key" "$allow_sum" 620
ck "a filter others could have written is refused" \
	test "$(run_in unshare)" = "probe: unshare 'CLONE_NEWUSER': Operation not permitted"
ck "... and it is compiled again" cmp -s "$F" "$T/filter.good"
head -c "$((hdr + 80))" "$T/filter.good" >"$F"
ck "a truncated filter is refused" test "$(run_in seccomp)/$(run_in syscall 165)" = "2/probe: syscall '165': Operation not permitted"
ck "... and it is compiled again" cmp -s "$F" "$T/filter.good"
# The store's owner is trusted with the filter as with the layers: the right key and digest
# are all a file needs, which proves that runs use the file rather than compile.
forge "$key" "$allow_sum" 600
ck "a well-formed file is what the sandbox loads" test "$(run_in unshare)" = ok
rm -f "$F"
ck "a removed filter is compiled and kept again" \
	bash -c "test \"\$('$PLATE' --root '$R' run --network none --user root secure /bin/probe unshare 2>&1)\" = \"probe: unshare 'CLONE_NEWUSER': Operation not permitted\" && cmp -s '$F' '$T/filter.good'"
tap_done
