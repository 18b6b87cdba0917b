#!/usr/bin/env bash
# plate build's progress: the tty display on a pseudo-terminal (header, a timer that moves
# while a step prints nothing, NO_COLOR), BUILDKIT_PROGRESS, the fall-back to plain without a
# terminal, the json stream's closing result event; and the build's default epoch, taken from
# the context's git HEAD (without running what a hostile repository's config names).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
command -v python3 >/dev/null || tap_skip_all "python3 not installed (pty)"
command -v git >/dev/null || tap_skip_all "git not installed"
make_base

# on_pty OUT CMD...: CMD on a pseudo-terminal (80x24), what it wrote in OUT.
on_pty() { local out=$1; shift; TERM=xterm python3 "$PLATE_SRC/tests/helpers/on_pty.py" "$out" "$@"; }
# The text of a tty capture with colour codes removed and every redraw on a line of its own.
screens() { sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\x1b\[[0-9]*A/\n/g' -e 's/\x1b\[2K//g' "$1" | tr -d '\r'; }

C=$T/ctx-sleep
mkdir -p "$C"
printf 'FROM base:test\nRUN sleep 2\n' >"$C/Dockerfile"

# ---- tty ----------------------------------------------------------------------------------
on_pty "$T/tty.raw" "$PLATE" --root "$R" build --no-cache -t slept "$C"
rc=$?
screens "$T/tty.raw" >"$T/tty.txt"
ck "a build on a terminal succeeds" test "$rc" = 0
ck "the tty display has BuildKit's header" grep -qE '^\[\+\] Building [0-9]+\.[0-9]s \([0-9]+/[0-9]+\)' "$T/tty.txt"
ck "the last header says FINISHED with every step done" \
	grep -qE '^\[\+\] Building [0-9]+\.[0-9]s \(([0-9]+)/\1\) FINISHED' "$T/tty.txt"
# The timer of the silent RUN: the values drawn while it ran (its line without a state).
grep -E '^ => \[stage-0 2/2\] RUN sleep 2 +[0-9]+\.[0-9]s$' "$T/tty.txt" | awk '{print $NF}' | tr -d s |
	sort -un >"$T/ticks"
ck "the timer of a step that prints nothing moves (10 redraws a second)" \
	test "$(wc -l <"$T/ticks")" -ge 10
ck "it counts up to the step's two seconds" awk 'END { exit !($1 >= 1.5) }' "$T/ticks"
ck "colour: finished steps are drawn blue" grep -q $'\x1b\\[34m' "$T/tty.raw"

NO_COLOR=1 on_pty "$T/nocolor.raw" "$PLATE" --root "$R" build --no-cache "$C"
rc=$?
ck "NO_COLOR: the build succeeds" test "$rc" = 0
ck "NO_COLOR: no colour codes at all" bash -c "! grep -qE $'\x1b\\\\[[0-9;]*m' '$T/nocolor.raw'"
ck "NO_COLOR: still the live display (cursor moves)" grep -q $'\x1b\\[[0-9]*A' "$T/nocolor.raw"

BUILDKIT_PROGRESS=plain on_pty "$T/bkp.raw" "$PLATE" --root "$R" build --no-cache "$C"
ck "BUILDKIT_PROGRESS=plain on a terminal gives plain progress" \
	bash -c "grep -q '^#2 DONE' '$T/bkp.raw' && ! grep -q $'\x1b' '$T/bkp.raw'"
on_pty "$T/bkp2.raw" env BUILDKIT_PROGRESS=plain "$PLATE" --root "$R" build --progress tty --no-cache "$C"
ck "--progress wins over BUILDKIT_PROGRESS" grep -q 'Building' "$T/bkp2.raw"
BUILDKIT_PROGRESS=fancy p build "$C" >"$T/out" 2>&1
rc=$?
ck "a bad BUILDKIT_PROGRESS is a usage error naming the variable" \
	bash -c "test $rc = 2 && grep -q \"BUILDKIT_PROGRESS 'fancy'\" '$T/out'"

p build --progress tty --no-cache "$C" >"$T/out" 2>&1
rc=$?
ck "--progress tty without a terminal falls back to plain" \
	bash -c "test $rc = 0 && grep -q '^#2 \\[stage-0 2/2\\] RUN sleep 2' '$T/out' && ! grep -q $'\x1b' '$T/out'"

# ---- json ---------------------------------------------------------------------------------
p build --progress json --iidfile "$T/iid" -t j1 -t j2:v "$C" 2>"$T/json" >/dev/null
rc=$?
tail -n1 "$T/json" >"$T/last"
ck "json: every line is a JSON object" bash -c "test $rc = 0 && jq -e . '$T/json' >/dev/null"
ck "json: the last event is the result" jq -e '.type == "result"' "$T/last"
ck "json: it carries the image ID" test "$(jq -r .id "$T/last")" = "$(cat "$T/iid")"
ck "json: its manifest digest is the stored one" \
	test "$(jq -r .digest "$T/last")" = "$(p inspect j1 | jq -r '.[0].Descriptor.digest')"
ck "json: and the tags" test "$(jq -c .tags "$T/last")" = \
	'["docker.io/library/j1:latest","docker.io/library/j2:v"]'

# ---- the epoch ----------------------------------------------------------------------------
G=$T/ctx-git
mkdir -p "$G"
printf 'FROM base:test\nRUN echo hi > /hi\n' >"$G/Dockerfile"
git -C "$G" init -q
git -C "$G" add Dockerfile
GIT_AUTHOR_DATE='@1700000000 +0000' GIT_COMMITTER_DATE='@1700000000 +0000' \
	git -C "$G" -c user.name=t -c user.email=t@t commit -qm one
build "$G" -t dated --no-cache
ck "a context in git: the epoch is HEAD's commit time, and the build says so" \
	grep -qx 'SOURCE_DATE_EPOCH=1700000000 (from git HEAD)' "$T/out"
ck "the image is dated by the commit" test "$(p inspect dated | jq -r '.[0].Created')" = 2023-11-14T22:13:20Z
d1=$(p inspect dated | jq -r '.[0].Descriptor.digest')
git clone -q "$G" "$T/clone"
build "$T/clone" -t dated2 --no-cache
ck "a second checkout of the same commit builds the same digest" \
	test "$(p inspect dated2 | jq -r '.[0].Descriptor.digest')" = "$d1"
SOURCE_DATE_EPOCH=5 build "$G" -t env5
ck "an explicit SOURCE_DATE_EPOCH wins" bash -c \
	"grep -qx 'SOURCE_DATE_EPOCH=5 (from the environment)' '$T/out' && test \"\$('$PLATE' --root '$R' inspect env5 | jq -r '.[0].Created')\" = 1970-01-01T00:00:05Z"
SOURCE_DATE_EPOCH=5 build "$G" -t arg7 --build-arg SOURCE_DATE_EPOCH=7
ck "--build-arg SOURCE_DATE_EPOCH wins over the environment" \
	test "$(p inspect arg7 | jq -r '.[0].Created')" = 1970-01-01T00:00:07Z
N=$T/ctx-nogit
mkdir -p "$N"
cp "$G/Dockerfile" "$N/"
build "$N" -t undated
ck "outside git the epoch is 0, and the build says why" \
	grep -qx 'SOURCE_DATE_EPOCH=0 (default: the context is not in a git repository)' "$T/out"
ck "the image is dated 1970" test "$(p inspect undated | jq -r '.[0].Created')" = 1970-01-01T00:00:00Z

# A hostile checkout: a signed HEAD and a config that asks git log to verify signatures with
# a program of its choosing (and a pager, and an fsmonitor).  None of them may run.
H=$T/ctx-hostile
mkdir -p "$H"
cp "$G/Dockerfile" "$H/"
git -C "$H" init -q
printf '#!/bin/sh\ntouch %s/pwned\nexit 1\n' "$T" >"$T/evil"
chmod +x "$T/evil"
tree=$(git -C "$G" rev-parse 'HEAD^{tree}')
git -C "$H" fetch -q "$G" HEAD 2>/dev/null
c=$(printf 'tree %s\nauthor a <a@b> 1700000100 +0000\ncommitter a <a@b> 1700000100 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n x\n -----END PGP SIGNATURE-----\n\nsigned\n' "$tree" |
	git -C "$H" hash-object -t commit -w --stdin)
git -C "$H" update-ref HEAD "$c"
for kv in log.showSignature=true gpg.program="$T/evil" core.pager="$T/evil" core.fsmonitor="$T/evil"; do
	git -C "$H" config "${kv%%=*}" "${kv#*=}"
done
git -C "$H" log -1 --format=%ct HEAD >/dev/null 2>&1
ck "(the hostile repository does run its program under a plain git log)" test -e "$T/pwned"
rm -f "$T/pwned"
build "$H" -t hostile
ck "plate reads the hostile HEAD's time" grep -qx 'SOURCE_DATE_EPOCH=1700000100 (from git HEAD)' "$T/out"
ck "without running the repository's programs" test ! -e "$T/pwned"

tap_done
