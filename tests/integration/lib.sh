# Shared helpers for integration tests: TAP output and a private temp dir in $T.
# Tests drive the real binary named by $PLATE.
set -u
: "${PLATE:?PLATE must name the plate binary}"
: "${PLATE_TEST_TMP:=/tmp}"
T=$(mktemp -d "$PLATE_TEST_TMP/$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$T"' EXIT
# A build dates its image by the git HEAD its context is in: contexts made in $T must not be
# found inside plate's own checkout (where the test directory usually is).
export GIT_CEILING_DIRECTORIES=${T%/*}
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

tap_done() {
	echo "1..$_tap_n"
	[ "$_tap_failed" = 0 ]
}
