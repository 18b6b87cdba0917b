#!/usr/bin/env bash
# The project lints (tools/checksrc) and the self-contained-header rule hold for the tree.
. "$(dirname "$0")/lib.sh"
cd "$PLATE_SRC" || exit 1
tap_check "tools/checksrc finds nothing" tools/checksrc
tap_check "every public header compiles on its own" make -s check-headers
tap_check "no function over ~150 lines in src/lib/engine/, ~80 in src/cli/ (tools/funclen)" \
	tools/funclen

# docs/ARCHITECTURE.md names every module of src/lib, and its dependency table is the one
# tools/checksrc enforces.
for m in $(ls src/lib); do
	tap_check "ARCHITECTURE.md lists src/lib/$m/" grep -q "^src/lib/$m/ " docs/ARCHITECTURE.md
	doc=$(awk -v m="$m" '$0 ~ "^" m "  " { $1 = ""; print }' docs/ARCHITECTURE.md | xargs)
	[ "$doc" = "—" ] && doc=""
	enforced=$(bash -c ". <(sed -n '/^deps() {/,/^}/p' tools/checksrc); deps $m")
	tap_check "ARCHITECTURE.md's dependencies of $m are checksrc's ($enforced)" \
		test "$doc" = "$enforced"
done

# The layering rule fails on an include against the graph: the doctor's header from the store.
git init -q "$T/tree" && mkdir -p "$T/tree/tools" "$T/tree/src/lib/store" "$T/tree/src/lib/check"
cp tools/checksrc "$T/tree/tools/"
printf '#include "check/check.h"\n' >"$T/tree/src/lib/store/bad.c"
printf '#include "store/store.h"\n' >"$T/tree/src/lib/check/good.c"
git -C "$T/tree" add -A
out=$("$T/tree/tools/checksrc" 2>&1)
rc=$?
tap_check "an upward include is refused" test "$rc" -ne 0
tap_check "... naming the file, line and edge" grep -q \
	"src/lib/store/bad.c:1: module 'store' must not include 'check/'" <<<"$out"
tap_check "... and only that one" test "$(grep -c layering <<<"$out")" = 1
# The tree is formatted by its .clang-format: `make format` rewrites it, this check fails on
# any difference (tables that read better by hand are fenced with clang-format off/on).
if command -v clang-format >/dev/null; then
	files=$(git ls-files '*.c' '*.h' 2>/dev/null) || files=$(find src tests bench tools -name '*.[ch]')
	# shellcheck disable=SC2086
	tap_check "clang-format finds nothing to change (make format)" \
		clang-format --dry-run --Werror $files
elif [ "${PLATE_MUST_WORK:-0}" = 1 ]; then
	tap_check "clang-format is installed (scripts/deps.sh)" false
fi
tap_done
