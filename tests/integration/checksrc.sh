#!/usr/bin/env bash
# The project lints (tools/checksrc) and the self-contained-header rule hold for the tree.
. "$(dirname "$0")/lib.sh"
cd "$PLATE_SRC" || exit 1
tap_check "tools/checksrc finds nothing" tools/checksrc
tap_check "every public header compiles on its own" make -s check-headers
tap_done
