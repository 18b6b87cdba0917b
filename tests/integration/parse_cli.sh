#!/usr/bin/env bash
# plate parse: prints BuildKit's AST dump; a parse error exits 2 with FILE:LINE:COL and a caret.
. "$(dirname "$0")/lib.sh"

cases=$PLATE_CONFORMANCE/dockerfile-parser/testfiles
[ -d "$cases" ] || tap_skip_all "conformance corpus not found at $cases"

for c in env health lk4d4-the-edge-case-generator escape-with-syntax; do
	"$PLATE" parse "$cases/$c/Dockerfile" >"$T/$c.out" 2>"$T/$c.err"; rc=$?
	tap_check "parse $c exits 0" test "$rc" = 0
	tap_check "parse $c prints the conformance result" cmp -s "$T/$c.out" "$cases/$c/result"
done

printf 'FROM alpine\n\nRUN echo ok \\\n  && <<EOF cat\nhello\n' >"$T/bad.Dockerfile"
"$PLATE" parse "$T/bad.Dockerfile" >"$T/bad.out" 2>"$T/bad.err"; rc=$?
tap_check "unterminated heredoc exits 2" test "$rc" = 2
tap_check "error is FILE:LINE:COL: error:" \
	grep -qF "$T/bad.Dockerfile:3:1: error: unterminated heredoc 'EOF'" "$T/bad.err"
tap_check "the offending line is shown" grep -qxF "  RUN echo ok \\" "$T/bad.err"
tap_check "a caret marks the column" grep -qx '  \^' "$T/bad.err"
tap_check "nothing on stdout" test ! -s "$T/bad.out"

printf 'FROM a\n\tCMD ["a", 1]\n' >"$T/json.Dockerfile"
"$PLATE" parse "$T/json.Dockerfile" 2>"$T/json.err" >/dev/null; rc=$?
tap_check "non-string JSON array exits 2" test "$rc" = 2
tap_check "located at the array" grep -qF "json.Dockerfile:2:6: error: when using JSON" "$T/json.err"
tap_check "caret under the array, tab kept" grep -qxF "$(printf '  \t    ^')" "$T/json.err"

printf 'FROM a\nRUN a \\\n\n  b\n' >"$T/warn.Dockerfile"
"$PLATE" parse "$T/warn.Dockerfile" >"$T/warn.out" 2>"$T/warn.err"; rc=$?
tap_check "empty continuation line parses" test "$rc" = 0
tap_check "and is warned about with its line" grep -qF "warn.Dockerfile:4: warning: empty continuation" "$T/warn.err"

"$PLATE" parse "$T/missing.Dockerfile" 2>"$T/missing.err" >/dev/null; rc=$?
tap_check "missing file exits 1" test "$rc" = 1
"$PLATE" parse >/dev/null 2>&1; rc=$?
tap_check "no file is a usage error" test "$rc" = 2

tap_done
