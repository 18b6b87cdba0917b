#!/usr/bin/env bash
# The CLI contract: version, usage errors exit 2.
. "$(dirname "$0")/lib.sh"

out=$("$PLATE" version)
tap_check "version prints the version" test "${out#plate }" != "$out"

"$PLATE" >/dev/null 2>&1; rc=$?
tap_check "no command exits 2" test "$rc" = 2

"$PLATE" no-such-command >/dev/null 2>"$T/err"; rc=$?
tap_check "unknown command exits 2" test "$rc" = 2
tap_check "unknown command is named" grep -q "unknown command 'no-such-command'" "$T/err"

tap_done
