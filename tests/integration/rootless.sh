#!/usr/bin/env bash
# Rootless: a normal user with subordinate ids builds the image root builds, digest for
# digest (RUN chowns to several ids, USER switches), runs it, and a user without
# subordinate ids gets the notice and a precise error instead of a different image.
# Runs as root to make the test users (removed again, with their /etc/subuid and /etc/subgid
# lines, on exit); everything rootless runs as those users through setpriv.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
root_only "makes its own test users (useradd, usermod --add-subuids) and drives plate as them: the rootless test is run by root"
build_prereqs
reg_need docker-registry
make_base
command -v useradd >/dev/null || tap_skip_all "useradd not installed"
command -v setpriv >/dev/null || tap_skip_all "setpriv not installed"
[ -x /usr/bin/newuidmap ] && [ -x /usr/bin/newgidmap ] || tap_skip_all "uidmap not installed"
[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" != 0 ] ||
	tap_skip_all "user namespaces disabled (user.max_user_namespaces=0)"
[ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 1 ] ||
	tap_skip_all "unprivileged user namespaces disabled (kernel.unprivileged_userns_clone=0)"

U=plrl$$a   # with subordinate ids
V=plrl$$b   # without
users=()
START=
cleanup() {
	[ -z "$START" ] || usermod --del-subuids "$START-$((START + 65535))" \
		--del-subgids "$START-$((START + 65535))" "$U"
	for u in "${users[@]}"; do
		userdel "$u" 2>/dev/null
	done
	[ "${H:-$T}" = "$T" ] || rm -rf "$H"
	_reg_cleanup
}
trap cleanup EXIT
# System users (-r): useradd gives them no subordinate ids of its own; usermod edits the
# files under the shadow tools' lock.
for u in "$U" "$V"; do
	useradd -r -M -N -d /nonexistent -s /bin/false "$u" || tap_skip_all "useradd $u failed"
	users+=("$u")
done
# A range past every other one, so no one else's ids are this test's.
start=$(cat /etc/subuid /etc/subgid 2>/dev/null |
	awk -F: 'BEGIN { m = 1000000 } { e = $2 + $3; if (e > m) m = e } END { print m }')
usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$U" ||
	tap_skip_all "usermod --add-subuids failed"
START=$start

# The users' side: under $T when they can reach it and run $PLATE, else (a checkout under
# a 0700 home) a directory of this test under /tmp with a copy of the binary.
chmod 755 "$T"
H=$T
UPLATE=$PLATE
if ! setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups test -x "$PLATE" -a -x "$T"; then
	H=$(mktemp -d /tmp/plate-rootless.XXXXXX)
	chmod 755 "$H"
	cp "$PLATE" "$H/plate"
	UPLATE=$H/plate
fi
for u in "$U" "$V"; do
	mkdir -p "$H/$u"
	chown "$u" "$H/$u"
done
# as USER CMD...: a login-less normal user, its own HOME and data directory, nothing of root's.
as() {
	local u=$1
	shift
	(cd "$H/$u" && setpriv --reuid "$u" --regid "$(id -g "$u")" --clear-groups \
		env -i PATH=/usr/bin:/bin HOME="$H/$u" XDG_DATA_HOME="$H/$u/data" "$@")
}
EPOCH=1700000000
# not_listed USER NAME: NAME is not among the user's images.
not_listed() { ! as "$1" "$UPLATE" images 2>&1 | grep -q "$2"; }

C=$H/ctx
mkdir -p "$C"
echo copied >"$C/f"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
COPY f /f
COPY --chown=1000:1001 f /f-app
RUN mkdir /data && echo a > /data/a && echo b > /data/b && echo c > /data/c && \
    chown 1000:1000 /data/a && chown 1001:65534 /data/b && chown 65534:1000 /data/c && \
    echo x > /home/app/x && chown app /home/app/x
USER app
RUN id -u > /home/app/uid && echo mine > /tmp/mine
USER root
RUN --mount=type=cache,target=/cache n=$(cat /cache/n 2>/dev/null || echo 0); echo $((n + 1)) > /cache/n
RUN --mount=type=secret,id=tok,required=true test "$(cat /run/secrets/tok)" = s3cr3t
EOF
chmod -R a+rX "$C" "$T/base.tar" 2>/dev/null || true
printf s3cr3t >"$H/$U/secret"
chmod 600 "$H/$U/secret"
chown "$U" "$H/$U/secret"
cp "$T/base.tar" "$H/$U/base.tar"
cp "$T/base.tar" "$H/$V/base.tar"
chown "$U" "$H/$U/base.tar"
chown "$V" "$H/$V/base.tar"

# ---- root's build: the reference --------------------------------------------------------
SOURCE_DATE_EPOCH=$EPOCH build "$C" -t ref --network none --secret id=tok,src="$H/$U/secret" --iidfile "$T/ref.iid"
ck "root builds the reference image" test "$rc" = 0
ref_digest=$(p inspect ref | jq -r '.[0].Descriptor.digest')

# ---- the user with subordinate ids ------------------------------------------------------
as "$U" "$UPLATE" import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'LABEL base=yes' \
	-c 'CMD ["/bin/sh"]' base.tar base:test >"$T/out" 2>&1
rc=$?
ck "the user imports the base (owners 1000:1000 inside)" test "$rc" = 0
ck "its store is \$XDG_DATA_HOME/plate, owned by the user" \
	test "$(stat -c %U "$H/$U/data/plate")" = "$U"
as "$U" env SOURCE_DATE_EPOCH=$EPOCH "$PLATE" build --progress plain --network none \
	--secret id=tok,src=secret -t img --iidfile iid "$C" >"$T/out" 2>&1
rc=$?
ck "the user builds: COPY --chown, RUN chown to 1000, 1001 and 65534, USER app, cache, secret" test "$rc" = 0
ck "no notice with subordinate ids" sh -c "! grep -q notice '$T/out'"
user_digest=$(as "$U" "$UPLATE" inspect img | jq -r '.[0].Descriptor.digest')
ck "the same image digest as root's ($ref_digest)" \
	test "${ref_digest#sha256:}" != "$ref_digest" -a "$user_digest" = "$ref_digest"
ck "the same image id" cmp -s "$T/ref.iid" "$H/$U/iid"
# Entering late: a build that the cache answers, images and inspect run as the user, with
# no user namespace and so no newuidmap/newgidmap; a build that misses starts again in the
# namespace, prints its steps once and still builds root's image.  strace runs as root above
# setpriv, so that newuidmap stays setuid under it; FILE gets every execve that worked, its
# arguments whole (strace cuts strings at 32 characters by default: a longer plate path
# would never match).
# LeakSanitizer cannot run under ptrace: off there (an ASan build).
traced() {
	local out=$1
	shift
	(cd "$H/$U" && strace -f -qq -z -s 4096 -e trace=execve -o "$out" setpriv --reuid "$U" \
		--regid "$(id -g "$U")" --clear-groups env -i PATH=/usr/bin:/bin HOME="$H/$U" \
		XDG_DATA_HOME="$H/$U/data" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@")
}
# execs FILE PROGRAM: how many times PROGRAM (a path's last part) was executed; restarts
# FILE: how many times plate started itself again (/proc/self/exe, plate's own argv[0]).
execs() { grep -c "execve(\"[^\"]*/$2\"," "$1"; }
restarts() { grep -c "execve(\"/proc/self/exe\", \\[\"$UPLATE\"," "$1"; }
traced "$T/trace" env SOURCE_DATE_EPOCH=$EPOCH "$UPLATE" build --progress plain --network none \
	--secret id=tok,src=secret -t img "$C" >"$T/out" 2>&1
rc=$?
ck "a no-op rebuild as the user: every step cached" sh -c \
	"[ $rc = 0 ] && grep -Eq '^built .*\(([0-9]+) steps, \1 cached\)' '$T/out'"
ck "... without a user namespace: no newuidmap, no newgidmap, no second start" \
	test "$(execs "$T/trace" newuidmap) $(execs "$T/trace" newgidmap) $(restarts "$T/trace")" = "0 0 0"
ck "... the image is still root's" \
	test "$(as "$U" "$UPLATE" inspect img | jq -r '.[0].Descriptor.digest')" = "$ref_digest"
traced "$T/trace" sh -c "'$UPLATE' images && '$UPLATE' inspect img && '$UPLATE' history img" \
	>"$T/out" 2>&1
rc=$?
ck "images, inspect and history as the user without a user namespace" sh -c \
	"[ $rc = 0 ] && grep -q '^img ' '$T/out' && [ $(execs "$T/trace" newuidmap) = 0 ]"
cp -r "$C" "$H/ctx2"
echo changed >"$H/ctx2/f"
SOURCE_DATE_EPOCH=$EPOCH build "$H/ctx2" -t ref2 --network none --secret id=tok,src="$H/$U/secret"
ref2_digest=$(p inspect ref2 | jq -r '.[0].Descriptor.digest')
traced "$T/trace" env SOURCE_DATE_EPOCH=$EPOCH "$UPLATE" build --progress plain --network none \
	--secret id=tok,src=secret -t img2 "$H/ctx2" >"$T/out" 2>&1
rc=$?
counts="$rc $(restarts "$T/trace") $(execs "$T/trace" newuidmap) $(execs "$T/trace" newgidmap)"
ck "a build that misses as the user: started again in the user namespace (exit, restarts, newuidmap, newgidmap: $counts)" \
	test "$counts" = "0 1 1 1"
ck "... its output printed once" sh -c \
	"[ \$(grep -c 'FROM docker.io/library/base:test\$' '$T/out') = 1 ] && [ \$(grep -c '^built ' '$T/out') = 1 ]"
ck "... root's image ($ref2_digest)" \
	test "$(as "$U" "$UPLATE" inspect img2 | jq -r '.[0].Descriptor.digest')" = "$ref2_digest"
as "$U" "$UPLATE" rmi img2 >/dev/null
p rmi ref2 >/dev/null
# On disk the store holds the subordinate ids: uid 1000 inside is START+999 outside.
ck "the store's files are owned by subordinate ids on the host" \
	sh -c "find '$H/$U/data/plate' -uid $((START + 999)) | grep -q ."
as "$U" "$UPLATE" run --network none img /bin/sh -c \
	'stat -c "%u:%g %n" /data/a /data/b /data/c /home/app/x /home/app/uid /tmp/mine /f-app; cat /home/app/uid' \
	>"$T/run.out" 2>&1
rc=$?
ck "plate run as the user" test "$rc" = 0
ck "plate run sees the in-container owners" test "$(cat "$T/run.out")" = "1000:1000 /data/a
1001:65534 /data/b
65534:1000 /data/c
1000:0 /home/app/x
1000:1000 /home/app/uid
1000:1000 /tmp/mine
1000:1001 /f-app
1000"
as "$U" "$UPLATE" run --network none --user app img /bin/probe id >"$T/run.out" 2>&1
ck "plate run --user app" grep -q '^uid=1000 gid=1000' "$T/run.out"
# The host's network: sysfs cannot be mounted by a namespace that does not own it.
as "$U" "$UPLATE" run --network host img /bin/sh -c 'ls /sys/class/net; touch /sys/kernel/x' \
	>"$T/run.out" 2>&1
ck "plate run --network host as the user: the host's /sys, read-only" sh -c \
	"grep -qx lo '$T/run.out' && grep -q 'Read-only file system' '$T/run.out'"
# The default network: slirp4netns opens /dev/net/tun as the user.  A host that keeps it
# root's (mode 0600) gets the precise error; then the same run again in a private mount
# namespace of this test where a 0666 node of the same device is bound over it.
if ! as "$U" test -r /dev/net/tun -a -w /dev/net/tun; then
	as "$U" "$UPLATE" run img /bin/probe netdevs >"$T/run.out" 2>&1
	rc=$?
	ck "a /dev/net/tun the user cannot open: the precise error" sh -c \
		"[ $rc = 1 ] && grep -q 'rootless: the default network needs /dev/net/tun.*chmod 0666 /dev/net/tun.*--network none' '$T/run.out'"
	mknod -m 0666 "$H/tun" c 10 200
	# net as USER CMD...: CMD in a mount namespace where that node is /dev/net/tun.
	# shellcheck disable=SC2016
	net() {
		shift
		local u=$1
		shift
		unshare -m sh -c 'mount --bind "$1" /dev/net/tun && shift && exec "$@"' sh "$H/tun" \
			setpriv --reuid "$u" --regid "$(id -g "$u")" --clear-groups env -i \
			PATH=/usr/bin:/bin HOME="$H/$u" XDG_DATA_HOME="$H/$u/data" "$@"
	}
else
	net() { "$@"; }
fi
net as "$U" "$UPLATE" run img /bin/probe netdevs >"$T/run.out" 2>&1
ck "plate run's default network as the user: lo and tap0" \
	test "$(tr '\n' ' ' <"$T/run.out")" = "lo tap0 "
# What the command can do is root's sandbox, also where pid 1 stayed dumpable until the
# network helper had joined: the filter, the capabilities, no namespaces, pid 1 closed.
sec='probe seccomp; probe caps; probe unshare 2>&1
for f in $(seq 0 40); do probe readlink /proc/1/fd/$f >/dev/null 2>&1 && echo "pid 1 fd $f open"; done
probe cat /proc/1/environ >/dev/null 2>&1 || echo "pid 1 environ closed"
probe cat /proc/1/cmdline | tr "\0" " " | sed "s/ *\$//"'
p run ref /bin/sh -c "$sec" >"$T/sec.root" 2>&1
net as "$U" "$UPLATE" run img /bin/sh -c "$sec" >"$T/sec.user" 2>&1
ck "the user's sandbox: root's seccomp filter, capabilities, no user namespace, pid 1 closed" \
	sh -c "grep -q 'environ closed' '$T/sec.root' && cmp -s '$T/sec.root' '$T/sec.user'"
printf 'FROM img\nRUN probe netdevs > /devs\n' >"$H/$U/Dockerfile"
net as "$U" "$UPLATE" build -t net -f "$H/$U/Dockerfile" "$C" \
	>"$T/out" 2>&1 && as "$U" "$UPLATE" run --network none net cat /devs >"$T/run.out" 2>&1
rc=$?
ck "RUN's default network as the user: lo and tap0" \
	test "$rc" = 0 -a "$(tr '\n' ' ' <"$T/run.out")" = "lo tap0 "
# An id past the user's ranges: the step fails, the hint gives the ids there are.
printf 'FROM img\nRUN touch /far && chown 70000 /far\n' >"$H/$U/Dockerfile.far"
as "$U" "$UPLATE" build --network none -t far -f Dockerfile.far "$C" >"$T/out" 2>&1
rc=$?
ck "RUN chown to an id past the ranges fails, with the ids that are mapped" sh -c \
	"[ $rc = 1 ] && grep -q '^plate: hint: rootless: only uids 0-65536 and gids 0-65536 are mapped' '$T/out'"
# check, du and sbom read the user's store (files owned by subordinate ids) as root's.
for cmd in "check --format json" du sbom; do
	# shellcheck disable=SC2086
	p $cmd ref >"$T/cmd.root" 2>&1
	r1=$?
	# shellcheck disable=SC2086
	as "$U" "$UPLATE" $cmd img >"$T/cmd.user" 2>&1
	r2=$?
	sed -i 's/\bimg\b/ref/g; s/img:latest/ref:latest/g' "$T/cmd.user"
	ck "plate $cmd as the user: root's answer" sh -c \
		"[ $r1 = $r2 ] && [ -s '$T/cmd.root' ] && diff '$T/cmd.root' '$T/cmd.user' >&2"
done
# push as the user, pull as root: the registry holds root's manifest.
start_registry reg || tap_skip_all "docker-registry does not start here"
as "$U" "$UPLATE" push img "127.0.0.1:$REG_PORT/rl/img:v1" >"$T/out" 2>&1
rc=$?
ck "push as the user" test "$rc" = 0
p pull "127.0.0.1:$REG_PORT/rl/img:v1" >"$T/out" 2>&1
rc=$?
# Stored uncompressed, both builds go out as their compressed form: root's push of its
# own build sends the manifest the user's push sent.
root_pushed=$(p push ref "127.0.0.1:$REG_PORT/rl/ref:v1" 2>/dev/null)
ck "pull as root: the manifest root's build pushes" sh -c \
	"[ $rc = 0 ] && [ -n '$root_pushed' ] && [ \"\$('$PLATE' --root '$R' inspect 127.0.0.1:$REG_PORT/rl/img:v1 | jq -r '.[0].Descriptor.digest')\" = '$root_pushed' ]"
as "$U" "$UPLATE" fsck >"$T/out" 2>&1
rc=$?
ck "fsck of the user's store" test "$rc" = 0
as "$U" "$UPLATE" rmi img net >"$T/out" 2>&1 && as "$U" "$UPLATE" prune >>"$T/out" 2>&1
rc=$?
ck "rmi and prune remove files owned by subordinate ids" test "$rc" = 0
as "$U" "$UPLATE" pull "127.0.0.1:$REG_PORT/rl/img:v1" >"$T/out" 2>&1 &&
	as "$U" "$UPLATE" run --network none "127.0.0.1:$REG_PORT/rl/img:v1" stat -c %u:%g /data/b \
	>"$T/run.out" 2>&1
rc=$?
ck "pull as the user into the emptied store, owners in place" \
	test "$rc" = 0 -a "$(cat "$T/run.out")" = 1001:65534

# ---- the user without subordinate ids ---------------------------------------------------
mkdir -p "$H/$V/ctx"
printf 'FROM scratch\nCOPY f /f\n' >"$H/$V/ctx/Dockerfile"
echo copied >"$H/$V/ctx/f"
chown -R "$V" "$H/$V/ctx"
as "$V" "$UPLATE" build -q -t one ctx >"$T/out" 2>&1
rc=$?
ck "without subordinate ids: FROM scratch + COPY builds" test "$rc" = 0
ck "... with a notice naming the cause and the fix" \
	grep -q "^plate: notice: rootless with one id: .*no subordinate uids for $V.*/etc/subuid.*usermod --add-subuids" "$T/out"
as "$V" "$UPLATE" import base.tar base:test >"$T/out" 2>&1
rc=$?
ck "a layer owning files by uid 1000 is refused" test "$rc" = 1
ck "... naming the id, the cause and the fix" sh -c \
	"grep -q 'chown to 1000:1000.*Invalid argument' '$T/out' && grep -q '^plate: hint: rootless with one id: .*usermod' '$T/out'"
ck "... and no image was stored" not_listed "$V" base:test
tar -C "$T/base-rootfs" --numeric-owner --owner=0 --group=0 -cf "$H/$V/root.tar" .
chown "$V" "$H/$V/root.tar"
as "$V" "$UPLATE" import root.tar base:root >"$T/out" 2>&1
rc=$?
ck "a base owned by root only imports" test "$rc" = 0
printf 'FROM base:root\nRUN echo ok > /ok && probe id > /id\n' >"$H/$V/ctx/Dockerfile"
as "$V" "$UPLATE" build --network none -t runs ctx >"$T/out" 2>&1 &&
	as "$V" "$UPLATE" run --network none runs cat /ok /id >"$T/run.out" 2>"$T/run.err"
rc=$?
ck "with one id, RUN and plate run as root work" sh -c \
	"[ $rc = 0 ] && [ \"\$(head -1 '$T/run.out')\" = ok ] && grep -q '^uid=0 gid=0 groups=\$' '$T/run.out'"
printf 'FROM base:root\nUSER 1000\nRUN true\n' >"$H/$V/ctx/Dockerfile"
as "$V" "$UPLATE" build --network none -t user ctx >"$T/out" 2>&1
rc=$?
ck "USER 1000 with one id fails the build, with the hint" sh -c \
	"[ $rc = 1 ] && grep -q 'Invalid argument' '$T/out' && grep -q '^plate: hint: rootless with one id: .*usermod' '$T/out'"
printf 'FROM base:root\nRUN echo x > /x && chown 1000 /x\n' >"$H/$V/ctx/Dockerfile"
as "$V" "$UPLATE" build --network none -t chowned ctx >"$T/out" 2>&1
rc=$?
ck "RUN chown to an unmapped id fails the build" test "$rc" = 1
ck "... with the hint naming the cause and the fix" \
	grep -q '^plate: hint: rootless with one id: .*/etc/subuid' "$T/out"
ck "... and stores no image" not_listed "$V" chowned
# No unprivileged overlay: the test's no-overlay helper makes the kernel answer EPERM to
# plate's overlay mounts alone (a seccomp filter on mount's flags), as a kernel before 5.11
# answers in a user namespace; setarch --uname-2.6 makes uname say such a kernel runs.  Its
# no_new_privs would stop newuidmap: the user without subordinate ids needs none.
NOOV=$PLATE_BUILD/helpers/no-overlay
if [ "$UPLATE" != "$PLATE" ]; then
	cp "$NOOV" "$H/no-overlay"
	NOOV=$H/no-overlay
fi
kernel=$(uname -r)
# fails_with PATTERN: the last command failed (exit 1) with PATTERN in its output.
fails_with() { [ "$rc" = 1 ] && grep -q "$1" "$T/out"; }
printf 'FROM base:root\nRUN echo x > /x\n' >"$H/$V/ctx/Dockerfile"
as "$V" "$NOOV" "$UPLATE" build --network none -t noov ctx >"$T/out" 2>&1
rc=$?
ck "overlay refused in the user namespace: RUN fails with one error" \
	test "$rc" = 1 -a "$(grep -c '^plate: error' "$T/out")" = 1
ck "... naming the cause and the fix" grep -q "^plate: error: .*RUN echo x.*sandbox: mount overlay on '.*' in the user namespace of a rootless build (Linux $kernel allows it, so a security module's policy or the store's filesystem refuses it here: run plate as root, or put the store (--root) on a local filesystem" "$T/out"
ck "... and stores no image" not_listed "$V" noov
printf 'FROM base:root\nCOPY f /f\n' >"$H/$V/ctx/Dockerfile"
as "$V" setarch "$(uname -m)" --uname-2.6 "$NOOV" "$UPLATE" build --network none -t noov ctx >"$T/out" 2>&1
rc=$?
ck "a kernel before 5.11: COPY fails naming the kernel and what overlayfs needs there" \
	fails_with "^plate: error: .*COPY f /f.*cannot mount overlay on '.*' in the user namespace of a rootless build (overlayfs there needs Linux 5\.11 or later, this kernel is 2\.6\..*: run plate as root or on a newer kernel)"
as "$V" "$NOOV" "$UPLATE" run --network none base:root true >"$T/out" 2>&1
rc=$?
ck "plate run with overlay refused: the same error" \
	fails_with "^plate: error: cannot mount overlay on '.*' in the user namespace of a rootless build (Linux $kernel allows it"
# User namespaces refused: in a user namespace of this test whose max_user_namespaces is 0
# (a per-namespace limit), the user's plate cannot make its own.
vu=$(id -u "$V")
vg=$(id -g "$V")
unshare -U sleep 60 &
holder=$!
sleep 0.2
/usr/bin/printf '0 0 1\n%s %s 1\n' "$vu" "$vu" >"/proc/$holder/uid_map"
/usr/bin/printf '0 0 1\n%s %s 1\n' "$vg" "$vg" >"/proc/$holder/gid_map"
nsenter -t "$holder" -U --preserve-credentials sh -c \
	'echo 0 >/proc/sys/user/max_user_namespaces && cd "$1" && exec setpriv --reuid "$2" --regid "$3" \
	--clear-groups env -i HOME="$1" "$4" du' sh "$H/$V" "$vu" "$vg" "$UPLATE" >"$T/out" 2>&1
rc=$?
kill "$holder"
wait "$holder" 2>/dev/null
ck "user namespaces disabled: one error naming the knob and the fix" sh -c \
	"[ $rc = 1 ] && [ \$(wc -l <'$T/out') = 1 ] && grep -q '^plate: error: rootless: cannot create a user namespace: /proc/sys/user/max_user_namespaces is 0; as root: sysctl user.max_user_namespaces=' '$T/out'"
tap_done
