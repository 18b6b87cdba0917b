#!/usr/bin/env bash
# The sandbox module end to end: tests/helpers/sandbox-run fills a spec and calls
# sandbox_run(); the static probe, alone in the root, reports what the command sees.
# Needs root (namespaces, overlayfs, mounts).
. "$(dirname "$0")/lib.sh"

SR=${PLATE_BUILD:?}/helpers/sandbox-run
PROBE=$PLATE_BUILD/helpers/probe
root_only "drives the sandbox through the sandbox-run helper, which enters no user namespace (the CLI does; build_sandbox.sh and rootless.sh try the rootless sandbox from inside)"
[ -x "$SR" ] && [ -x "$PROBE" ] || tap_skip_all "helpers not built (make test-binaries)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw overlay /proc/filesystems || tap_skip_all "no overlayfs"

mkdir -p "$T/root" "$T/tmp"
cp "$PROBE" "$T/root/probe"

# diag TEXT...: TAP diagnostics, each line prefixed with "# ".
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# out_is NAME WANT SANDBOX-RUN-ARGS...: the command's stdout must be exactly WANT.
out_is() {
	local name=$1 want=$2 got rc
	shift 2
	got=$("$SR" --tmpdir "$T/tmp" "$@" 2>"$T/stderr"); rc=$?
	_tap_n=$((_tap_n + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $_tap_n - $name"
	else
		echo "not ok $_tap_n - $name"
		_tap_failed=$((_tap_failed + 1))
		diag "want: $want" "got:  $got" "exit: $rc" "$(cat "$T/stderr")"
	fi
}

# rc_is NAME RC SANDBOX-RUN-ARGS...: sandbox-run must exit with RC.
rc_is() {
	local name=$1 want=$2 rc
	shift 2
	"$SR" --tmpdir "$T/tmp" "$@" >"$T/stdout" 2>"$T/stderr"; rc=$?
	_tap_n=$((_tap_n + 1))
	if [ "$rc" = "$want" ]; then
		echo "ok $_tap_n - $name"
	else
		echo "not ok $_tap_n - $name"
		_tap_failed=$((_tap_failed + 1))
		diag "want exit $want, got $rc" "$(cat "$T/stdout" "$T/stderr")"
	fi
}

# stderr_has NAME TEXT: the last run's stderr contains TEXT.
stderr_has() {
	_tap_n=$((_tap_n + 1))
	if grep -qF -- "$2" "$T/stderr"; then
		echo "ok $_tap_n - $1"
	else
		echo "not ok $_tap_n - $1"
		_tap_failed=$((_tap_failed + 1))
		diag "want stderr containing: $2" "got: $(cat "$T/stderr")"
	fi
}

# No mount of the host may mention the test directory (sandbox mounts live in the
# sandbox's own mount namespace only).
no_host_mounts() { ! grep -qF "$T" /proc/self/mountinfo; }

# pid1_of PID: the host pid of the sandbox's pid 1, the only child of sandbox-run PID.
pid1_of() {
	local i c
	for i in $(seq 100); do
		c=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
		[ -n "$c" ] && { echo "${c%% *}"; return 0; }
		sleep 0.05
	done
	return 1
}

wait_for_file() {
	local i
	for i in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}

wait_gone() {
	local i
	for i in $(seq 200); do [ -e "/proc/$1" ] || return 0; sleep 0.05; done
	return 1
}

DIR=(--rootfs "$T/root")

# --- identity, environment, process tree ----------------------------------------------
out_is "root by default" "uid=0 gid=0 groups=" "${DIR[@]}" -- /probe id
out_is "uid, gid and groups as requested" "uid=1000 gid=1001 groups=10,20" \
	"${DIR[@]}" --uid 1000 --gid 1001 --groups 20,10 -- /probe id
mkdir -p "$T/root/work"
out_is "cwd as requested" "/work" "${DIR[@]}" --cwd /work -- /probe cwd
out_is "env exactly as given, in order" "$(printf 'B=x y\nA=1\nPATH=/\nEMPTY=')" \
	"${DIR[@]}" --env "B=x y" --env A=1 --env PATH=/ --env EMPTY= -- /probe env
out_is "empty env" "" "${DIR[@]}" -- /probe env
out_is "argv[0] found through the env's PATH" "/" "${DIR[@]}" --env PATH=/nonexistent:/ -- probe cwd
out_is "hostname as requested" "buildbox" "${DIR[@]}" --hostname buildbox -- /probe hostname
out_is "default hostname" "sandbox" "${DIR[@]}" -- /probe hostname
out_is "command is pid 2 under pid 1" "$(printf '2\n1')" "${DIR[@]}" -- /probe pid , ppid
out_is "pid 1 is the sandbox's reaper" "sandbox-init" "${DIR[@]}" -- /probe cat /proc/1/comm
out_is "orphans are reaped by pid 1" "reaped" "${DIR[@]}" -- /probe orphan
out_is "stdin is passed" "piped" "${DIR[@]}" -- /probe cat /dev/stdin <<<"piped"

# --- mounts and devices -----------------------------------------------------------------
"$SR" --tmpdir "$T/tmp" "${DIR[@]}" -- /probe mounts >"$T/mounts" 2>&1
for m in "/ " "/proc proc" "/sys sysfs" "/dev tmpfs" "/dev/pts devpts" "/dev/shm tmpfs"; do
	tap_check "mount '$m' present" grep -q "^$m" "$T/mounts"
done
out_is "/dev/null takes writes, /dev/zero reads zeros" "00000000" \
	"${DIR[@]}" -- /probe write /dev/null x , head /dev/zero 4
got=$("$SR" --tmpdir "$T/tmp" "${DIR[@]}" -- /probe head /dev/urandom 8)
tap_check "/dev/urandom gives 8 bytes" test "${#got}" = 16
out_is "/dev/null is the real device" "char 1:3" "${DIR[@]}" -- /probe type /dev/null
rc_is "/dev/full refuses writes" 1 "${DIR[@]}" -- /probe write /dev/full x
out_is "/dev/fd and /dev/ptmx links" "$(printf '/proc/self/fd\npts/ptmx\n1777')" \
	"${DIR[@]}" -- /probe readlink /dev/fd , readlink /dev/ptmx , mode /dev/shm
rc_is "/proc/sys is read-only" 1 "${DIR[@]}" -- /probe write /proc/sys/kernel/hostname evil
stderr_has "/proc/sys write fails with EROFS" "Read-only file system"
rc_is "/sys is read-only" 1 "${DIR[@]}" -- /probe mkdir /sys/x

# --- isolation from the host ------------------------------------------------------------
echo secret >"$T/hostfile"
out_is "host files are invisible" "no" "${DIR[@]}" -- /probe exists "$T/hostfile"
out_is "the root holds only the probe and mount points" "$(printf 'dev\nprobe\nproc\nsys\nwork')" \
	"${DIR[@]}" -- /probe ls /
tap_check "mount point stubs are removed from a directory root" \
	test "$(ls "$T/root" | tr '\n' ' ')" = "probe work "
out_is "network none has only lo" "lo" "${DIR[@]}" -- /probe netdevs
host_devs=$("$PROBE" netdevs)
out_is "network host shares the host's interfaces" "$host_devs" "${DIR[@]}" --net host -- /probe netdevs
out_is "root gets Docker's default capabilities" \
	"$(printf 'CapEff=00000000a80425fb\nCapBnd=00000000a80425fb')" "${DIR[@]}" -- /probe caps
out_is "non-root gets no capabilities, same bound" \
	"$(printf 'CapEff=0000000000000000\nCapBnd=00000000a80425fb')" "${DIR[@]}" --uid 1000 -- /probe caps
out_is "no_new_privs is not set (setuid works, as in BuildKit)" "0" "${DIR[@]}" -- /probe nonewprivs
rc_is "host root can't be reached through /proc/1/root" 1 "${DIR[@]}" -- /probe ls /proc/1/root/

# --- the security profile: what Docker's default gives, tried from inside -------------------
out_is "a seccomp filter is loaded" "2" "${DIR[@]}" -- /probe seccomp
rc_is "no user namespace: unshare(CLONE_NEWUSER) fails" 1 "${DIR[@]}" -- /probe unshare
stderr_has "... with EPERM from the filter" "unshare 'CLONE_NEWUSER': Operation not permitted"
rc_is "non-root is filtered too" 1 "${DIR[@]}" --uid 1000 -- /probe unshare
mkdir -p "$T/root/suid"
cp "$PROBE" "$T/root/suid/probe"
chmod 4755 "$T/root/suid/probe"
out_is "a non-root command has its own euid" "65534" "${DIR[@]}" --uid 65534 --gid 65534 -- /probe euid
out_is "a setuid-root file gives it euid 0" "0" "${DIR[@]}" --uid 65534 --gid 65534 -- /suid/probe euid
out_is "... with Docker's default capabilities, no more" \
	"$(printf 'CapEff=00000000a80425fb\nCapBnd=00000000a80425fb')" "${DIR[@]}" --uid 65534 -- /suid/probe caps
rm -rf "$T/root/suid"

# Keys: the host user's keyring holds a key, which every process of the user possesses
# through its session keyring (plate's, inherited by pid 1); the sandbox has a session
# keyring of its own and no keyctl().
host_key=$("$PROBE" addkey @u "plate-sandbox-test-$$" host-s3cret)
trap '"$PROBE" delkey "$host_key" >/dev/null 2>&1; rm -rf "$T"' EXIT
tap_check "the host can read its key (the check below can fail)" \
	test "$("$PROBE" readkey "$host_key")" = host-s3cret
rc_is "a host key is not readable inside" 1 "${DIR[@]}" -- /probe readkey "$host_key"
stderr_has "... keyctl is denied" "Operation not permitted"
rc_is "no key can be added inside" 1 "${DIR[@]}" -- /probe addkey @u "plate-inside-$$" x
rc_is "insecure: the host key is still not readable (own session keyring)" 1 \
	"${DIR[@]}" --insecure -- /probe readkey "$host_key"
rc_is "insecure: a key can be added to the session keyring" 0 \
	"${DIR[@]}" --insecure -- /probe addkey @s "plate-inside-$$" x
tap_check "... and is not in the host's session keyring afterwards" \
	bash -c "! '$PROBE' findkey @s 'plate-inside-$$' 2>/dev/null && ! '$PROBE' findkey @u 'plate-inside-$$' 2>/dev/null"

# Devices: only the standard nodes open.
rc_is "mknod works (CAP_MKNOD) but the node does not open" 1 "${DIR[@]}" -- /probe mknod /kvm 10 232 , open /kvm
stderr_has "... nodev" "open '/kvm': Permission denied"
rm -f "$T/root/kvm"
rc_is "nor under /dev" 1 "${DIR[@]}" -- /probe mknod /dev/loop-control 10 237 , open /dev/loop-control
mknod "$T/root/shipped-null" c 1 3
rc_is "a device node shipped in the root does not open" 1 "${DIR[@]}" -- /probe open /shipped-null
rm -f "$T/root/shipped-null"
mkdir -p "$T/devdir"
mknod "$T/devdir/null" c 1 3
rc_is "nor one in a bind mount" 1 "${DIR[@]}" --bind "$T/devdir:/devdir" -- /probe open /devdir/null
out_is "the standard nodes do" "$(printf 'opened\nopened')" "${DIR[@]}" -- /probe open /dev/null , open /dev/zero

# Pid 1 and the host binary.
"$SR" --tmpdir "$T/tmp" "${DIR[@]}" --env MARK=plate-secret-arg -- /probe cat /proc/1/cmdline |
	tr '\0' ' ' >"$T/cmdline"
tap_check "pid 1's command line is a neutral name" test "$(sed 's/ *$//' "$T/cmdline")" = sandbox-init
rc_is "pid 1's environment is not readable" 1 "${DIR[@]}" -- /probe cat /proc/1/environ
rc_is "/proc/self/exe of the command does not run the host binary" 125 "${DIR[@]}" -- /proc/self/exe --help
stderr_has "... exec is refused" "sandbox: exec '/proc/self/exe': Permission denied"
ln -s /proc/self/exe "$T/root/selfexe"
printf '#!/proc/self/exe\n' >"$T/root/selfexe.sh"
chmod 755 "$T/root/selfexe.sh"
rc_is "nor through a symlink in the image" 125 "${DIR[@]}" --env PATH=/ -- selfexe --help
rc_is "nor as a script's interpreter" 125 "${DIR[@]}" -- /selfexe.sh
rc_is "nor /proc/1/exe" 125 "${DIR[@]}" -- /proc/1/exe --help
rm -f "$T/root/selfexe" "$T/root/selfexe.sh"
out_is "the command has only its three descriptors" "$(printf '0\n1\n2\n3')" "${DIR[@]}" -- /probe ls /proc/self/fd
"$SR" --tmpdir "$T/tmp" "${DIR[@]}" -- /probe ls /proc/1/fd >"$T/pid1fds" 2>&1
tap_check "pid 1 holds only its two pipes, none of the caller's descriptors" test "$(wc -l <"$T/pid1fds")" = 2
for fd in $(cat "$T/pid1fds"); do
	rc_is "and the command cannot follow pid 1's descriptor $fd" 1 "${DIR[@]}" -- /probe readlink "/proc/1/fd/$fd"
done

# Insecure (BuildKit's security.insecure): no filter, the caller's capabilities.
out_is "insecure: no seccomp filter" "0" "${DIR[@]}" --insecure -- /probe seccomp
out_is "insecure: the caller's capabilities" "$("$PROBE" caps)" "${DIR[@]}" --insecure -- /probe caps

# --- exit status ------------------------------------------------------------------------
rc_is "exit status is propagated" 7 "${DIR[@]}" -- /probe exit 7
rc_is "death by SIGKILL is 137" 137 "${DIR[@]}" --report "$T/report" -- /probe signal 9
tap_check "result names the signal" grep -qx "status=137 signal=9" "$T/report"
rc_is "death by SIGTERM is 143" 143 "${DIR[@]}" -- /probe signal 15
rc_is "exit 0" 0 "${DIR[@]}" --report "$T/report" -- /probe exit 0
tap_check "result of a clean exit" grep -qx "status=0 signal=0" "$T/report"

# --- setup errors -----------------------------------------------------------------------
rc_is "missing cwd fails the run" 125 "${DIR[@]}" --cwd /nope -- /probe cwd
stderr_has "missing cwd is named" "sandbox: cannot enter working directory '/nope': No such file or directory"
rc_is "missing command fails the run" 125 "${DIR[@]}" --env PATH=/bin -- gcc
stderr_has "missing command is named" "sandbox: exec 'gcc' (searched \$PATH): No such file or directory"
rc_is "missing rootfs fails the run" 125 --rootfs "$T/nope" -- /probe id
stderr_has "missing rootfs is named" "sandbox: open rootfs '$T/nope': No such file or directory"
rc_is "invalid spec fails the run" 125 "${DIR[@]}" --env NOEQUALS -- /probe id
stderr_has "invalid spec is named" "sandbox: env entry 'NOEQUALS' has no '='"
rc_is "missing bind source fails the run" 125 "${DIR[@]}" --bind "$T/nope:/data" -- /probe id
stderr_has "missing bind source is named" "sandbox: bind source '$T/nope': No such file or directory"
printf 'x' >"$T/root/notadir"
rc_is "mount point that is a file fails the run" 125 "${DIR[@]}" --tmpfs /notadir -- /probe id
stderr_has "mount point type error is named" "sandbox: mount point '/notadir': Not a directory"
rm -f "$T/root/notadir"

# --- extra mounts -----------------------------------------------------------------------
mkdir -p "$T/data"
echo hello >"$T/data/f"
out_is "read-only bind is readable" "hello" "${DIR[@]}" --bind "$T/data:/data:ro" -- /probe cat /data/f
rc_is "read-only bind refuses writes" 1 "${DIR[@]}" --bind "$T/data:/data:ro" -- /probe write /data/g x
tap_check "nothing written through the read-only bind" test ! -e "$T/data/g"
rc_is "read-write bind takes writes" 0 "${DIR[@]}" --bind "$T/data:/deep/data" -- /probe write /deep/data/g x
tap_check "write landed in the bind source" test "$(cat "$T/data/g")" = x
rc_is "tmpfs takes writes" 0 "${DIR[@]}" --tmpfs /scratch:1048576 -- /probe write /scratch/f x , mode /scratch
tap_check "mount targets created as stubs are removed" test ! -e "$T/root/deep" -a ! -e "$T/root/data" -a ! -e "$T/root/scratch"

# --- /etc files and symlinks in the image ------------------------------------------------
mkdir -p "$T/hostetc"
ln -s "$T/hostetc" "$T/root/etc"
out_is "/etc files bound inside the root" "$(printf 'nameserver 192.0.2.1\nboxname\n127.0.0.1\tlocalhost boxname\n::1\tlocalhost ip6-localhost ip6-loopback')" \
	"${DIR[@]}" --hostname boxname --etc resolv,hosts,hostname --resolv-conf $'nameserver 192.0.2.1\n' \
	-- /probe cat /etc/resolv.conf , cat /etc/hostname , cat /etc/hosts
tap_check "an image symlink to a host path is not followed on the host" test -z "$(ls "$T/hostetc")"
tap_check "stubs made through the image symlink are removed" test ! -e "$T/root/${T#/}"
rm -f "$T/root/etc"

# --- overlay root ------------------------------------------------------------------------
L1=$T/l1 L2=$T/l2 UP=$T/up WK=$T/wk
mkdir -p "$L1/etc" "$L2/bin" "$UP" "$WK"
cp "$PROBE" "$L2/bin/probe"
echo gone >"$L1/gone"
echo keep >"$L1/keep"
echo "root:x:0:0::/root:/bin/sh" >"$L1/etc/passwd"
echo "old hosts" >"$L1/etc/hosts"
lower_sum() { (cd "$T" && find l1 l2 -printf '%p %m %s\n' | sort && cat l1/gone l1/keep l1/etc/*) | sha256sum; }
before=$(lower_sum)
OV=(--lower "$L1" --lower "$L2" --upper "$UP" --work "$WK" --env PATH=/bin --hostname ovl)
out_is "overlay: top layer and bottom layer both visible" "$(printf 'keep\nroot:x:0:0::/root:/bin/sh')" \
	"${OV[@]}" --etc resolv,hosts,hostname -- probe write /new hello , rm /gone , cat /keep , cat /etc/passwd
tap_check "overlay: write landed in the upper dir" test "$(cat "$UP/new")" = hello
tap_check "overlay: deleted lower file is a whiteout (char 0:0) in upper" \
	test "$(stat -c '%F %t:%T' "$UP/gone")" = "character special file 0:0"
tap_check "overlay: lower dirs untouched" test "$(lower_sum)" = "$before"
tap_check "overlay: upper holds exactly the changes" test "$(cd "$UP" && find . -mindepth 1 | sort | tr '\n' ' ')" = "./gone ./new "
out_is "overlay: /etc files inside, over the image's" "$(printf 'ovl\n127.0.0.1\tlocalhost ovl\n::1\tlocalhost ip6-localhost ip6-loopback')" \
	"${OV[@]}" --etc resolv,hosts,hostname -- probe cat /etc/hostname , cat /etc/hosts
tap_check "overlay: /etc files not in the upper dir" test ! -e "$UP/etc"
out_is "overlay: changes persist in upper across runs" "hello" "${OV[@]}" -- probe cat /new
mkdir -p "$L1/lowerdir"
rc_is "overlay: renaming a lower directory fails (redirect_dir=off)" 1 "${OV[@]}" -- probe rename /lowerdir /moved
stderr_has "overlay: ... with EXDEV, so tools copy instead" "Invalid cross-device link"
rc_is "overlay: renaming a new directory works" 0 "${OV[@]}" -- probe mkdir /newdir , rename /newdir /moved
tap_check "overlay: renamed directory in upper, no redirect" test -d "$UP/moved" -a ! -e "$UP/newdir"
rm -rf "$UP/moved"
rc_is "overlay: missing lowerdir fails the run" 125 --lower "$T/missing" --lower "$L2" --upper "$UP" --work "$WK" -- /bin/probe id
stderr_has "overlay: missing lowerdir is named" "sandbox: open lowerdir '$T/missing': No such file or directory"
many=()
for i in $(seq 100); do mkdir -p "$T/layers/$i"; many+=(--lower "$T/layers/$i"); done
mkdir -p "$T/up2" "$T/wk2"
out_is "overlay: 101 lowerdirs with long paths" "/" "${many[@]}" --lower "$L2" --upper "$T/up2" --work "$T/wk2" -- /bin/probe cwd

# --- output, timeout, signals, cancellation -------------------------------------------------
out_is "output callback gets stdout" "[1] uid=0 gid=0 groups=" "${DIR[@]}" --output-callback -- /probe id
rc_is "output callback gets stderr" 1 "${DIR[@]}" --output-callback -- /probe cat /nope
stderr_has "stderr chunk is tagged" "[2] probe: open '/nope'"
rc_is "timeout kills the command" 124 "${DIR[@]}" --timeout 200 -- /probe sleep 30
stderr_has "timeout is reported" "sandbox: command timed out after 200 ms"

mkdir -p "$T/out"
"$SR" --tmpdir "$T/tmp" "${DIR[@]}" --bind "$T/out:/out" -- /probe write /out/ready 1 , sleep 30 &
sr=$!
wait_for_file "$T/out/ready"
p1=$(pid1_of $sr)
kill -TERM "$p1"
wait $sr; rc=$?
tap_check "SIGTERM to pid 1 is forwarded to the command (143)" test "$rc" = 143

rm -f "$T/out/ready"
"$SR" --tmpdir "$T/tmp" "${OV[@]}" --bind "$T/out:/out" -- probe write /out/ready 1 , sleep 30 2>"$T/stderr" &
sr=$!
wait_for_file "$T/out/ready"
p1=$(pid1_of $sr)
tap_check "the overlay is mounted inside the sandbox" grep -q " overlay " "/proc/$p1/mountinfo"
tap_check "and invisible to the host" no_host_mounts
kill -INT $sr
wait $sr; rc=$?
tap_check "cancelled run exits 130" test "$rc" = 130
stderr_has "cancellation is reported" "sandbox: command cancelled"
tap_check "cancelled sandbox's processes are gone" wait_gone "$p1"
tap_check "no mounts left behind after cancel" no_host_mounts
tap_check "scratch dir removed after cancel" test -z "$(ls "$T/tmp")"

rm -f "$T/out/ready"
"$SR" --tmpdir "$T/tmp" "${OV[@]}" --bind "$T/out:/out" -- probe write /out/ready 1 , sleep 30 &
sr=$!
wait_for_file "$T/out/ready"
p1=$(pid1_of $sr)
{ kill -KILL $sr; wait $sr; } 2>/dev/null # (no "Killed" job notice in the log)
tap_check "SIGKILL of the caller kills the sandbox (parent death signal)" wait_gone "$p1"
tap_check "no mounts left behind after the caller is killed" no_host_mounts
rm -rf "$T/tmp"/sandbox-* # a killed caller cannot clean its scratch dir; the store's tmp gc does

"$SR" --tmpdir "$T/tmp" "${DIR[@]}" -- /probe sleep 30 2>"$T/stderr" &
sr=$!
p1=$(pid1_of $sr)
sleep 0.2
kill -KILL "$p1"
wait $sr; rc=$?
tap_check "pid 1 killed from outside fails the run" test "$rc" = 125
stderr_has "a killed pid 1 is reported" "sandbox: pid 1 was killed by signal 9"

# Parallel stages: many sandboxes started at once from threads of one process, each
# sandbox's pid 1 inheriting the others' descriptors for a moment.  The mount points
# exist, so the runs share no stubs in this one directory root.
mkdir -p "$T/root/dev" "$T/root/proc" "$T/root/sys"
rc_is "16 sandboxes in parallel threads all report their status" 3 \
	"${DIR[@]}" --threads 16 -- /probe sleep 0.2 , exit 3
rc_is "parallel runs with output callbacks" 0 "${DIR[@]}" --threads 8 --output-callback -- /probe pid
tap_check "parallel output all arrived" test "$(grep -c '^\[1\] 2$' "$T/stdout")" = 8

tap_check "scratch dirs are cleaned after every run" test -z "$(ls "$T/tmp")"
tap_check "no mounts left behind at all" no_host_mounts
tap_done
