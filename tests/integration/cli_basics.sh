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

# Started with 0, 1 and 2 closed, plate's first files would take those numbers and its
# messages would land in them: it holds them with /dev/null (the build failed before).
mkdir -p "$T/ctx"
echo hi >"$T/ctx/f"
printf 'FROM scratch\nCOPY f /f\n' >"$T/ctx/Dockerfile"
"$PLATE" --root "$T/store" build --progress plain -t closed-fds "$T/ctx" <&- >&- 2>&-; rc=$?
tap_check "a build started with stdin, stdout and stderr closed succeeds" test "$rc" = 0
tap_check "... and its image is there" bash -c "'$PLATE' --root '$T/store' images | grep -q closed-fds"
tap_check "... in a store fsck finds clean" "$PLATE" --root "$T/store" fsck

tap_done
