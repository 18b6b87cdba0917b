#!/usr/bin/env bash
# The store keeps other users out and stays whole when removal is killed: a setuid-root or
# file-capability binary of a loaded image cannot be run by another user from the store;
# stores made 0755 are tightened and fsck reports a loose one; rootless stores are 0700;
# SIGKILL of rmi or prune at any point (strace-injected at the Nth syscall, and at random
# moments) then a reload of the same archive gives the image whole and a clean fsck,
# which also checks unreferenced snapshots.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-helpers.bash"
for tool in setpriv setcap getcap strace; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done
root_only "gives files to root and file capabilities (setcap) and tries them as another user (setpriv to 65534): the host's root; rootless stores' 0700 is checked here as root and by rootless.sh"
# Only the store's own modes may keep the other user out, not those of the temp dir.
chmod 0755 "$T"

R=$T/root
p() { "$PLATE" --root "$R" "$@"; }
fsck_clean() { "$PLATE" --root "${1:-$R}" fsck >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out"; return 1; }; }
# as_nobody CMD...: CMD run by uid/gid 65534 without capabilities.  The exec is done by a
# shell already running as nobody: setpriv itself keeps root's capabilities until its
# own exec, which would resolve the path with CAP_DAC_OVERRIDE.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c 'exec "$@"' sh "$@"; }
mode() { stat -c %a "$1"; }
as_nobody test -x "$T" ||
	tap_skip_all "uid 65534 cannot reach $T (a parent is private): set PLATE_TEST_TMP"

# ---- another user cannot reach image files -------------------------------------------------
mkdir -p "$T/img/bin"
cp /bin/busybox "$T/img/bin/busybox"
cp /usr/bin/id "$T/img/bin/suid-id" && chmod 4755 "$T/img/bin/suid-id"
cp /bin/grep "$T/img/bin/cap-grep" && setcap cap_setuid=ep "$T/img/bin/cap-grep"
tar --xattrs --xattrs-include='security.capability' -C "$T/img" -cf "$T/img.tar" .
"$PLATE" --root "$T/src" import "$T/img.tar" hostile:1 >/dev/null
"$PLATE" --root "$T/src" save -o "$T/hostile.tar" hostile:1
p load -i "$T/hostile.tar" >/dev/null
fs=$(ls -d "$R"/snapshots/*/fs)
tap_check "the image keeps its setuid bit and file capability (what makes it dangerous)" \
	bash -c "test \$(stat -c %a '$fs/bin/suid-id') = 4755 && getcap '$fs/bin/cap-grep' | grep -q cap_setuid"
tap_check "store root is 0700" test "$(mode "$R")" = 700
for d in blobs blobs/sha256 snapshots cache tmp trash; do
	tap_check "$d/ is 0700" test "$(mode "$R/$d")" = 700
done
as_nobody "$fs/bin/suid-id" >"$T/out" 2>&1; rc=$?
tap_check "another user cannot exec the setuid binary in the store" \
	bash -c "test $rc != 0 && grep -q 'Permission denied' '$T/out' && ! grep -q euid=0 '$T/out' || { cat '$T/out'; false; }"
as_nobody "$fs/bin/cap-grep" CapEff /proc/self/status >"$T/out" 2>&1; rc=$?
tap_check "... nor the file-capability binary" \
	bash -c "test $rc != 0 && grep -q 'Permission denied' '$T/out' && ! grep -q CapEff '$T/out' || { cat '$T/out'; false; }"
tap_check "fsck clean" fsck_clean

# A store made before: 0755 everywhere.  The binary is reachable (the hole), fsck says so
# and names the directories, and the next plate command closes it.
chmod 0755 "$R" "$R"/blobs "$R"/blobs/sha256 "$R"/snapshots "$R"/cache "$R"/tmp "$R"/trash
as_nobody "$fs/bin/suid-id" >"$T/out" 2>&1
tap_check "with the old modes the setuid binary runs as euid 0 (the attack works)" grep -q euid=0 "$T/out"
as_nobody "$fs/bin/cap-grep" CapEff /proc/self/status >"$T/out" 2>&1
tap_check "... and the file capability is effective" grep -q 'CapEff:.*0000000000000080' "$T/out"
p fsck >"$T/out" 2>&1; rc=$?
tap_check "fsck reports a loose store: exit 1" test "$rc" = 1
tap_check "... naming the root and its mode" grep -q "store '$R' is mode 0755: other users" "$T/out"
tap_check "... and each loose directory" grep -q "'$R/snapshots' is mode 0755" "$T/out"
tap_check "fsck changed nothing" test "$(mode "$R")" = 755
p images >/dev/null
tap_check "the next command tightens root and layout dirs to 0700" \
	bash -c "for d in '$R' '$R'/blobs '$R'/blobs/sha256 '$R'/snapshots '$R'/cache '$R'/tmp '$R'/trash; do test \$(stat -c %a \"\$d\") = 700 || exit 1; done"
as_nobody "$fs/bin/suid-id" >"$T/out" 2>&1; rc=$?
tap_check "the setuid binary is out of reach again" bash -c "test $rc != 0 && ! grep -q euid=0 '$T/out'"
tap_check "fsck clean after tightening" fsck_clean

# Rootless: a store made by an unprivileged user, at the default place, is private to it.
mkdir -p "$T/home" && chown 65534:65534 "$T/home"
setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_DATA_HOME HOME="$T/home" \
	"$PLATE" import "$T/img.tar" mine:1 >/dev/null 2>"$T/err"
cat "$T/err"
tap_check "a rootless store is created 0700 and owned by its user" \
	test "$(stat -c '%a %u' "$T/home/.local/share/plate")" = "700 65534"
tap_check "... and so are its snapshots/" test "$(stat -c '%a %u' "$T/home/.local/share/plate/snapshots")" = "700 65534"

# ---- killed removal ------------------------------------------------------------------------
# An image with a few thousand files, so that gc has many points to be killed at.
mkdir -p "$T/many/bin" "$T/many/data"
cp /bin/busybox "$T/many/bin/busybox"
for i in $(seq 1 40); do mkdir "$T/many/data/d$i"; done
for i in $(seq 1 2000); do echo "$i" >"$T/many/data/d$((i % 40 + 1))/f$i"; done
tar -C "$T/many" -cf "$T/many.tar" .
"$PLATE" --root "$T/src" import "$T/many.tar" many:1 >/dev/null
"$PLATE" --root "$T/src" save -o "$T/many-img.tar" many:1
K=$T/k
k() { "$PLATE" --root "$K" "$@"; }
k load -i "$T/many-img.tar" >/dev/null
snap=$(basename "$(ls -d "$K"/snapshots/*)")
tree_listing "$K/snapshots/$snap/fs" >"$T/want"

# kill_at SYSCALLS N CMD...: SIGKILL delivered to plate on entry of its Nth call of one of
# SYSCALLS (the call is not made); returns 0 when plate was killed.
kill_at() {
	local calls=$1 n=$2; shift 2
	# In a subshell whose stderr is closed: bash reports a job killed by a signal there.
	(strace -f -qq -o /dev/null -e trace="$calls" -e inject="$calls:signal=KILL:when=$n" \
		"$PLATE" --root "$K" "$@" >/dev/null; echo $? >"$T/rc") 2>/dev/null
	test "$(cat "$T/rc")" = 137
}
# intact WHAT: reload, then the image's tree is the one first loaded and fsck is clean.
bad=()
intact() {
	if ! k load -i "$T/many-img.tar" >/dev/null 2>"$T/err"; then
		bad+=("$1: reload failed: $(cat "$T/err")"); return
	fi
	tree_listing "$K/snapshots/$snap/fs" >"$T/got"
	cmp -s "$T/want" "$T/got" || bad+=("$1: $(wc -l <"$T/got") lines of listing after reload, $(wc -l <"$T/want") before")
	"$PLATE" --root "$K" fsck >"$T/fsck.out" 2>&1 || bad+=("$1: fsck: $(head -3 "$T/fsck.out")")
}
killed=0
fsck_between=0
points="1 2 3 8 100 700 1500 2000 2040 2045"
for n in $points; do
	kill_at unlinkat "$n" rmi many:1 && killed=$((killed + 1))
	# Between the kill and the reload: whatever is left must not look sound when it is not.
	"$PLATE" --root "$K" fsck >"$T/fsck.out" 2>&1 && fsck_between=$((fsck_between + 1))
	intact "rmi killed at unlinkat $n"
done
tap_check "rmi killed at each of the $(wc -w <<<"$points") unlinkat points" test "$killed" = "$(wc -w <<<"$points")"
tap_check "fsck after each kill is clean: a snapshot is whole or gone, debris is in trash/" \
	test "$fsck_between" = "$(wc -w <<<"$points")"
for n in 1 2; do
	kill_at rename,renameat,renameat2 "$n" rmi many:1
	intact "rmi killed at rename $n"
done
# prune: rmi killed at its first unlinkat leaves the image untagged and all its files
# unreferenced; prune's gc is then killed.
killed=0
for n in 1 50 2030; do
	kill_at unlinkat 1 rmi many:1
	kill_at unlinkat "$n" prune && killed=$((killed + 1))
	intact "prune killed at unlinkat $n"
done
tap_check "prune killed at each of 3 unlinkat points" test "$killed" = 3
# Real SIGKILLs at moments spread over a whole rmi.
start=$(date +%s%N)
k rmi many:1 >/dev/null
dur_ms=$(( ($(date +%s%N) - start) / 1000000 + 5 ))
# On a loaded machine rmi waits on the disk; its gc still starts early.
[ "$dur_ms" -le 800 ] || dur_ms=800
k load -i "$T/many-img.tar" >/dev/null
for i in $(seq 1 4); do
	"$PLATE" --root "$K" rmi many:1 >/dev/null 2>&1 &
	pid=$!
	sleep "$(awk -v i=$i -v d=$dur_ms 'BEGIN{printf "%.3f", i / 5 * d / 1000}')"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	intact "rmi kill -9 after $i/5 of ${dur_ms} ms"
done
tap_check "after every kill the reload gives the image whole and fsck is clean" \
	bash -c "test ${#bad[@]} = 0 || { printf '# %s\n' \"\${@}\"; false; }" _ "${bad[@]}"
k prune >/dev/null
tap_check "prune leaves trash/ and tmp/ empty" bash -c "test -z \"\$(ls -A '$K/trash' '$K/tmp' | grep -v ':\$')\" || ls -lA '$K/trash' '$K/tmp'"

# ---- a store made before trash/ ------------------------------------------------------------
# An older plate deleted snapshots in place: killed, it left info.json beside a half-deleted
# tree, which its next load reused.  Such a store is modelled by removing trash/ and files.
kill_at unlinkat 1 rmi many:1
rm -rf "$K/trash" "$K/snapshots/$snap/fs/data/d1" "$K/snapshots/$snap/fs/data/d2"
p_k_fsck=$("$PLATE" --root "$K" fsck 2>&1)
tap_check "fsck finds the half-deleted unreferenced snapshot" \
	grep -q "unreferenced snapshot 'sha256:$snap' is damaged: tree has" <<<"$p_k_fsck"
intact "old store with a half-deleted snapshot"
tap_check "the next load re-creates it rather than trusting it" \
	bash -c "test ${#bad[@]} = 0 || { printf '# %s\n' \"\${@}\"; false; }" _ "${bad[@]}"
tap_check "... and makes trash/ (0700)" test "$(mode "$K/trash")" = 700

tap_done
