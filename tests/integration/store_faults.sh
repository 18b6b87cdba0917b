#!/usr/bin/env bash
# The store under a full disk and failing fsync: `plate load` and `plate import` that run out
# of space (a small tmpfs) and a `plate load` whose Nth fsync fails with EIO (strace fault
# injection, for every N the load makes) each end with one clear error line and exit 1, and
# leave the store as it was: the same index.json and images, nothing left in tmp/, fsck
# clean, and the next load works (a failed fsync of the root after index.json was renamed
# cannot be undone: its error says so, and the store is then the loaded one).
if [ -z "${PLATE_FAULTS_NS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	# A mount namespace of its own: the tmpfs goes away with the test, whatever happens.
	PLATE_FAULTS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
root_only "mounts a size-limited tmpfs in a private mount namespace to fill it (the host's root)"
[ -n "${PLATE_FAULTS_NS:-}" ] || tap_skip_all "unshare not installed"
command -v strace >/dev/null || tap_skip_all "strace not installed"

# A small image (a few files) and a big one (16 MiB that does not compress).
mkdir -p "$T/small/etc" "$T/big/data"
echo hello >"$T/small/etc/hello"
printf 'root:x:0:0::/root:/bin/sh\n' >"$T/small/etc/passwd"
head -c $((16 << 20)) /dev/urandom >"$T/big/data/blob"
tar -C "$T/small" -cf "$T/small.tar" .
tar -C "$T/big" -cf "$T/big.tar" .
"$PLATE" --root "$T/src" import "$T/small.tar" small:1 >/dev/null
"$PLATE" --root "$T/src" import "$T/big.tar" big:1 >/dev/null
"$PLATE" --root "$T/src" save -o "$T/small-img.tar" small:1
"$PLATE" --root "$T/src" save -o "$T/big-img.tar" big:1

# state ROOT: what must not change: the index, the images listed, and an empty tmp/.
state() {
	cat "$1/index.json"; echo
	"$PLATE" --root "$1" images
	ls -A "$1/tmp"
}
# unchanged NAME ROOT BEFORE: the state is BEFORE's and fsck is clean.
unchanged() {
	local now
	now=$(state "$2")
	if [ "$now" != "$3" ]; then
		echo "# $1: state before:"; sed 's/^/#   /' <<<"$3"
		echo "# after:"; sed 's/^/#   /' <<<"$now"
		return 1
	fi
	"$PLATE" --root "$2" fsck >"$T/fsck.out" 2>&1 || { sed 's/^/# /' "$T/fsck.out"; return 1; }
}
# one_line_error FILE WORDS: FILE holds exactly one line, which contains WORDS.
one_line_error() {
	test "$(wc -l <"$1")" = 1 && grep -q "$2" "$1" || { sed 's/^/# stderr: /' "$1"; false; }
}

# ---- no space left ---------------------------------------------------------------------------
R=$T/full
mkdir -p "$R"
trap 'umount "$R" 2>/dev/null; rm -rf "$T"' EXIT
mount -t tmpfs -o size=8m,mode=0700 tmpfs "$R"
"$PLATE" --root "$R" load -i "$T/small-img.tar" >/dev/null
before=$(state "$R")
"$PLATE" --root "$R" load -i "$T/big-img.tar" >"$T/out" 2>"$T/err"; rc=$?
tap_check "load on a full disk: exit 1" test "$rc" = 1
tap_check "... one error line naming the cause" one_line_error "$T/err" "No space left on device"
tap_check "... the store as it was, fsck clean" unchanged "load ENOSPC" "$R" "$before"
"$PLATE" --root "$R" import "$T/big.tar" big:1 >"$T/out" 2>"$T/err"; rc=$?
tap_check "import on a full disk: exit 1" test "$rc" = 1
tap_check "... one error line naming the cause" one_line_error "$T/err" "No space left on device"
tap_check "... the store as it was, fsck clean" unchanged "import ENOSPC" "$R" "$before"
"$PLATE" --root "$R" rmi small:1 >/dev/null
tap_check "the space comes back: after rmi, a load that fits works" \
	"$PLATE" --root "$R" load -i "$T/small-img.tar"

# ---- fsync fails -----------------------------------------------------------------------------
# Every fsync of a load into an empty store, counted first, fails in turn with EIO.  The
# last one, of the root after index.json was renamed, comes too late to undo: that error
# says the index was replaced but is not known to be on disk, and the store is the loaded one.
F=$T/fsync
fresh() { rm -rf "$F" && "$PLATE" --root "$F" images >/dev/null; }
fresh
before=$(state "$F")
# LeakSanitizer (SANITIZE=1) cannot stop the threads of a traced process: off under strace.
lsan_off="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
ASAN_OPTIONS=$lsan_off strace -f -qq -o "$T/trace" -e trace=fsync,fdatasync "$PLATE" --root "$F" load \
	-i "$T/small-img.tar" >/dev/null
after=$(state "$F")
n_sync=$(grep -c 'sync(' "$T/trace")
tap_check "a load fsyncs (counted: $n_sync)" test "$n_sync" -gt 0
bad=()
late=0
for n in $(seq 1 "$n_sync"); do
	fresh
	ASAN_OPTIONS=$lsan_off strace -f -qq -o /dev/null -e trace=fsync,fdatasync -e inject=fsync,fdatasync:error=EIO:when="$n" \
		"$PLATE" --root "$F" load -i "$T/small-img.tar" >"$T/out" 2>"$T/err"; rc=$?
	want=$before
	if grep -q "replaced but not known to be on disk" "$T/err"; then
		want=$after
		late=$((late + 1))
	fi
	if [ "$rc" != 1 ]; then
		bad+=("fsync $n: exit $rc")
	elif ! one_line_error "$T/err" "Input/output error" >/dev/null; then
		bad+=("fsync $n: $(head -c 300 "$T/err")")
	elif ! unchanged "fsync $n" "$F" "$want" >"$T/why"; then
		bad+=("fsync $n: store changed: $(head -c 600 "$T/why")")
	fi
done
tap_check "each of the $n_sync fsyncs failing: exit 1, one error line, store as it was, fsck clean" \
	test "${#bad[@]}" = 0
for b in "${bad[@]}"; do echo "# $b"; done
tap_check "... the index's directory only once, and then the store is the loaded one" test "$late" = 1
fresh
tap_check "then the load works" "$PLATE" --root "$F" load -i "$T/small-img.tar"
tap_done
