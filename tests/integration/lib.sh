# Shared helpers for integration tests: TAP output and a private temp dir in $T.
# Tests drive the real binary named by $PLATE.
set -u
: "${PLATE:?PLATE must name the plate binary}"
: "${PLATE_TEST_TMP:=/tmp}"
T=$(mktemp -d "$PLATE_TEST_TMP/$(basename "$0" .sh).XXXXXX")
# A build dates its image by the git HEAD its context is in: contexts made in $T must not be
# found inside plate's own checkout (where the test directory usually is).
export GIT_CEILING_DIRECTORIES=${T%/*}
# as_owner CMD...: CMD as the owner of every file of the test's stores.  A normal user's
# stores hold files of its subordinate ids, which only root of a user namespace with them
# mapped may change or remove: util-linux's unshare maps them through newuidmap as plate
# does (0 = the user, 1.. = the ranges), so an id inside is the id plate sees.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	else
		unshare --map-auto --map-root-user "$@"
	fi
}
rm_tmp() {
	rm -rf "$T" 2>/dev/null || as_owner rm -rf "$T"
}

# as_namespace_root: a test that makes trees with owners and edits a store's files itself
# runs, for a normal user, whole as root of a user namespace with the user's subordinate
# ids (as_owner's): plate inside finds itself nested (rootless.md) and enters no namespace
# of its own, as in a rootless container.  Call it right after sourcing this file.
as_namespace_root() {
	[ "$(id -u)" = 0 ] && return 0
	trap - EXIT
	rm -rf "$T"
	exec unshare --map-auto --map-root-user bash "$0" "$@"
}
trap rm_tmp EXIT
_tap_n=0
_tap_failed=0

# tap_check NAME CMD...: runs CMD; ok when it exits 0.
tap_check() {
	local name=$1; shift
	_tap_n=$((_tap_n + 1))
	if "$@"; then
		echo "ok $_tap_n - $name"
	else
		echo "not ok $_tap_n - $name"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# tap_skip_all WHY: honest skip (exit 77), a failure when PLATE_MUST_WORK=1.
tap_skip_all() {
	if [ "${PLATE_MUST_WORK:-0}" = 1 ]; then
		echo "not ok 1 - prerequisite missing under PLATE_MUST_WORK=1: $1"
		echo "1..1"; exit 1
	fi
	echo "1..0 # SKIP $1"; exit 77
}

# root_only REASON: the whole test needs the host's root for itself (REASON: what for).  Run
# by a normal user (the rootless pass, tests/run.sh --rootless) it skips with the reason;
# tests/run.sh accepts that skip under PLATE_MUST_WORK=1 only from a test that declares it
# at the start of a line, so the list is `grep -n '^root_only ' tests/integration/*.sh`.
root_only() {
	[ "$(id -u)" = 0 ] && return 0
	echo "1..0 # SKIP root-only: $1"
	exit 77
}

# root_part REASON: the same for a part of a test (`if root_part "why"; then ...; fi`): true
# for root; false for a normal user, with a line "# SKIP root-only part: REASON" that
# tests/run.sh counts and prints.
root_part() {
	[ "$(id -u)" = 0 ] && return 0
	echo "# SKIP root-only part: $1"
	return 1
}

tap_done() {
	echo "1..$_tap_n"
	[ "$_tap_failed" = 0 ]
}
