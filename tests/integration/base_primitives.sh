#!/usr/bin/env bash
# The primitives written once in base/, through the real binary: a long exec-form CMD plans in
# linear time (the string vector doubles), every command parses its options with getopt_long
# without abbreviations (an option it does not know is refused, not taken as another by its
# prefix, nor a prefix taken for the whole), and archive
# outputs replace their destination through an unpredictable O_EXCL temp file (a symlink
# planted at the old predictable name DEST.tmp.PID is never written through).
. "$(dirname "$0")/lib.sh"
ROOT=$T/store
p() { "$PLATE" --root "$ROOT" "$@"; }

# --- a 200,000-element exec-form CMD ---------------------------------------------------------
# Reallocating the vector per element took more than 300 s under ASan; linear growth takes well
# under a second.  60 s is a bound no linear run misses, even sanitized on a busy machine.
mkdir -p "$T/big"
awk 'BEGIN { print "FROM scratch"; printf "CMD [\"a\""
	for (i = 1; i < 200000; i++) printf ",\"a\""; print "]" }' >"$T/big/Dockerfile"
start=$(date +%s)
timeout 60 "$PLATE" plan "$T/big" >"$T/big.json" 2>"$T/err"; rc=$?
took=$(($(date +%s) - start))
echo "# 200k-element CMD planned in ${took}s (exit $rc)"
tap_check "200k-element CMD: plans within the bound" test "$rc" = 0
tap_check "200k-element CMD: every element kept" \
	test "$(grep -c '"a"' "$T/big.json")" = 200000

# --- run: options by getopt_long -------------------------------------------------------------
p run --env-file "$T/env" some:image >"$T/out" 2>"$T/err"; rc=$?
tap_check "run --env-file: refused as unknown (exit 2)" test "$rc" = 2
tap_check "run --env-file: the message names it" grep -q "unknown option '--env-file'" "$T/err"
tap_check "run --env-file: not taken as -e (the image was never looked up)" \
	bash -c "! grep -q 'not found' '$T/err'"
p run -e 2>"$T/err"; rc=$?
tap_check "run -e without a value: usage error" test "$rc" = 2
tap_check "run -e without a value: says so" grep -q "option '-e' needs a value" "$T/err"

# --- every command: getopt_long, and no abbreviations ----------------------------------------
# An option is refused when it only starts like a known one (--fil for --file: getopt_long
# would take it) or when a known one is its prefix (--target-platform, as --env-file above);
# usage error, the word named, nothing looked up and no store created.
mkdir -p "$T/pctx"
printf 'FROM scratch\n' >"$T/pctx/Dockerfile"
while IFS='|' read -r word cmd; do
	rm -rf "$T/fresh"
	# shellcheck disable=SC2086 # cmd is a word list
	"$PLATE" --root "$T/fresh" $cmd >"$T/out" 2>"$T/err"; rc=$?
	tap_check "${cmd%% *} $word: usage error (exit 2)" test "$rc" = 2
	tap_check "${cmd%% *} $word: the message names it" grep -qF -- "'$word" "$T/err"
	tap_check "${cmd%% *} $word: nothing done" \
		bash -c "test ! -e '$T/fresh' && test ! -s '$T/out'"
done <<EOF2
--fil|plan --fil $T/pctx/Dockerfile $T/pctx
--target-platform|plan --target-platform linux/amd64 $T/pctx
--json|parse --json $T/pctx/Dockerfile
--quie|images --quie
--no-t|history --no-t busybox
--for|inspect --for {{.Id}} busybox
--force|tag --force busybox other
--forc|rmi --forc busybox
--al|prune --al
--to|du --to 3 busybox
--all|fsck --all
--outp|save --outp $T/x.tar busybox
--inpu|load --inpu $T/x.tar
--chang|import --chang ENV=1 $T/x.tar
--platf|pull --platf linux/amd64 127.0.0.1:1/a
--qui|push --qui 127.0.0.1:1/a
--user|login --user u 127.0.0.1:1
--all|logout --all 127.0.0.1:1
--entry|run --entry /bin/sh busybox true
EOF2

# --- archive outputs never write through a planted symlink -----------------------------------
mkdir -p "$T/ctx"
printf 'FROM scratch\nLABEL a=b\n' >"$T/ctx/Dockerfile"
p build -q -t prim:1 "$T/ctx" >/dev/null 2>"$T/err"
tap_check "build a small image" p inspect prim:1 >/dev/null
echo precious >"$T/victim"
# The subshell's PID is plate's after exec: the symlink sits at the name the old code opened
# with O_TRUNC and without O_EXCL.
( ln -s "$T/victim" "$T/out.tar.tmp.$BASHPID"; exec "$PLATE" --root "$ROOT" save -o "$T/out.tar" prim:1 ) \
	2>"$T/err"; rc=$?
tap_check "save -o beside a planted symlink: exit 0" test "$rc" = 0
tap_check "save -o: the symlink's target is untouched" \
	cmp -s "$T/victim" - <<<precious
tap_check "save -o: the destination is a whole archive" tar -tf "$T/out.tar" manifest.json >/dev/null
tap_check "save -o: no temporary file left" \
	test "$(find "$T" -maxdepth 1 -name '.out.tar.*' | wc -l)" = 0
( ln -s "$T/victim" "$T/b.tar.tmp-$BASHPID"
  exec "$PLATE" --root "$ROOT" build -q --output "type=oci,dest=$T/b.tar" "$T/ctx" ) \
	>/dev/null 2>"$T/err"; rc=$?
tap_check "build --output oci beside a planted symlink: exit 0" test "$rc" = 0
tap_check "build --output: the symlink's target is untouched" \
	cmp -s "$T/victim" - <<<precious
tap_check "build --output: the destination is a whole archive" tar -tf "$T/b.tar" index.json >/dev/null
echo old >"$T/keep.tar"
p save -o "$T/keep.tar" nope:1 2>/dev/null; rc=$?
tap_check "save -o of a missing image: fails, the old file is kept" \
	test "$rc" != 0 -a "$(cat "$T/keep.tar")" = old

tap_done
