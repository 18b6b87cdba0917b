#!/usr/bin/env bash
# What every command pays before it does anything (bench/README.md, "start-up"): the shared
# objects loaded at exec.  libarchive (and the libxml2, ICU, nettle... it drags in) is opened
# on first use (layer/libarchive.c): a command or a build that never reads or writes a tar
# must not load it, one that does must, and without the library the error says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs

# loaded NAME CMD...: runs CMD with the dynamic loader's file log; true when any process of
# the command (plate and the children it forks) loaded a shared object whose name has NAME.
loaded() {
	local name=$1 rc
	shift
	rm -rf "$T/ld"
	mkdir "$T/ld"
	LD_DEBUG=files LD_DEBUG_OUTPUT="$T/ld/log" "$@" >"$T/ld-out" 2>&1
	rc=$?
	[ "$rc" = 0 ] || { cat "$T/ld-out"; return 2; }
	grep -qh "file=[^ ]*$name" "$T/ld"/log.*
}
not_loaded() {
	loaded "$@"
	[ $? = 1 ]
}

tap_check "plate version loads no libarchive" not_loaded libarchive "$PLATE" version
tap_check "... nor what it drags in (libxml2, ICU, nettle, liblzma, libbz2, liblz4, libacl)" \
	not_loaded 'libxml2\|libicu\|libnettle\|liblzma\|libbz2\|liblz4\|libacl' "$PLATE" version
tap_check "the log above sees the libraries plate does load (libcrypto)" \
	loaded libcrypto "$PLATE" version

tap_check "plate import (writes a layer) loads libarchive" loaded libarchive make_base
mkdir -p "$T/ctx"
echo one >"$T/ctx/f"
printf 'FROM base:test\nCOPY f /f\nRUN echo ran >/r\n' >"$T/ctx/Dockerfile"
tap_check "a build whose steps run loads libarchive (the layers it writes)" \
	loaded libarchive p build -q -t app "$T/ctx"
tap_check "a no-op rebuild (every step from the cache) loads no libarchive" \
	not_loaded libarchive p build -q -t app "$T/ctx"
tap_check "plate images loads no libarchive" not_loaded libarchive p images

# A no-op rebuild writes nothing: the record of each step's inputs (the cache-miss
# explanations) is what the last build left, so it is not staged again, and a commit with
# nothing staged syncs nothing.  Every file of the store keeps its inode, size and mtime.
store_state() {
	find "$R" -path "$R/tmp" -prune -o ! -name plate.lock -printf '%p %i %s %T@\n' | sort
}
store_state >"$T/state-before"
p build -q -t app "$T/ctx" >/dev/null
store_state >"$T/state-after"
tap_check "a no-op rebuild rewrites no file of the store" diff "$T/state-before" "$T/state-after"
echo changed >"$T/ctx/f"
build "$T/ctx" -t app
tap_check "... and the record it kept still explains the next miss" \
	grep -q "CACHE MISS: 'f' changed since the last build of app:latest" "$T/out"

# The epoch: git is asked for HEAD's time only where a repository could be found.  A git in
# front of PATH notes each start, then runs the real one.
real_git=$(command -v git) || tap_skip_all "git not installed"
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "$*" >>%s/git-calls\nexec %s "$@"\n' "$T" "$real_git" >"$T/fakebin/git"
chmod +x "$T/fakebin/git"
printf 'FROM base:test\nLABEL dated=yes\n' >"$T/epoch.Dockerfile"
# epoch_of DIR: the epoch line of a build of DIR (with the counting git first in PATH).
epoch_of() {
	rm -f "$T/git-calls"
	PATH="$T/fakebin:$PATH" p build --progress plain -f "$T/epoch.Dockerfile" "$1" >"$T/out" 2>&1 &&
		grep '^SOURCE_DATE_EPOCH=' "$T/out"
}
commit_at() { # DIR SECONDS: a commit dated SECONDS in the repository DIR is in
	GIT_AUTHOR_DATE="@$2 +0000" GIT_COMMITTER_DATE="@$2 +0000" \
		git -C "$1" -c user.name=t -c user.email=t@t commit -q --allow-empty -m "at $2"
}
# A context in no repository needs a directory with no repository above it: the test's own
# may be inside plate's checkout (tests/run.sh puts it in build/test-tmp).
N=$(mktemp -d /tmp/plate-norepo.XXXXXX)
trap 'rm -rf "$N"; rm_tmp' EXIT
above() { # DIR: the names git would take for a repository, in DIR and its parents
	local d
	d=$(realpath "$1")
	while :; do
		ls -d "$d/.git" "$d/HEAD" 2>/dev/null
		[ "$d" = / ] && break
		d=$(dirname "$d")
	done
}
if [ -z "$(above "$N")" ]; then
	tap_check "a context in no repository: epoch 0, said so" test "$(epoch_of "$N")" = \
		'SOURCE_DATE_EPOCH=0 (default: the context is not in a git repository)'
	tap_check "... without starting git" test ! -e "$T/git-calls"
else
	tap_check "(/tmp is in a repository: $(above "$N" | head -1))" true
fi
if [ -n "$(above "$T")" ]; then
	tap_check "a context under a .git or HEAD that is no repository to git: epoch 0" \
		test "$(epoch_of "$T/ctx")" = \
		'SOURCE_DATE_EPOCH=0 (default: the context is not in a git repository)'
	tap_check "... as git says" test -s "$T/git-calls"
fi
mkdir -p "$T/repo/sub/ctx"
git -C "$T/repo" init -q
commit_at "$T/repo" 1700000000
tap_check "a context two levels under a repository's top: HEAD's time" \
	test "$(epoch_of "$T/repo/sub/ctx")" = 'SOURCE_DATE_EPOCH=1700000000 (from git HEAD)'
tap_check "... asked of git" test -s "$T/git-calls"
git -C "$T/repo" worktree add -q -b wt "$T/wt" 2>/dev/null
commit_at "$T/wt" 1700000500
mkdir -p "$T/wt/ctx"
tap_check "a linked worktree (.git is a file): its own HEAD's time" \
	test "$(epoch_of "$T/wt/ctx")" = 'SOURCE_DATE_EPOCH=1700000500 (from git HEAD)'
git init -q --bare "$T/bare.git"
git -C "$T/repo" push -q "$T/bare.git" HEAD:refs/heads/master HEAD:refs/heads/main 2>/dev/null
mkdir -p "$T/bare.git/ctx"
tap_check "a directory inside a bare repository (a parent with a HEAD): its HEAD's time" \
	test "$(epoch_of "$T/bare.git/ctx")" = 'SOURCE_DATE_EPOCH=1700000000 (from git HEAD)'
ln -s "$T/repo/sub" "$T/link"
tap_check "a symlink into a repository: the real directory's repository" \
	test "$(epoch_of "$T/link/ctx")" = 'SOURCE_DATE_EPOCH=1700000000 (from git HEAD)'

# Without the library (an empty file bound over it, in a mount namespace of this test's):
# what needs no tar works, what needs one fails naming the library, the store unchanged.
lib=$(ldconfig -p | awk '$1 == "libarchive.so.13" && /x86-64/ {print $NF; exit}')
if root_part "binds a file over the system's libarchive in a private mount namespace" &&
	[ -n "$lib" ]; then
	without() {
		unshare --mount --propagation private sh -c \
			'mount --bind /dev/null "$0" && exec "$@"' "$lib" "$@"
	}
	before=$(p images -q --no-trunc | sort)
	tap_check "without libarchive: plate version works" without "$PLATE" version
	without "$PLATE" --root "$R" build -q -t app "$T/ctx" >"$T/noop" 2>&1
	tap_check "... so does a no-op rebuild" test $? = 0
	echo two >"$T/ctx/f"
	without "$PLATE" --root "$R" build -q -t app2 "$T/ctx" >"$T/out" 2>&1
	tap_check "... a build that writes a layer fails (exit 1)" test $? = 1
	tap_check "... naming libarchive and why" \
		grep -q "cannot load libarchive: .*libarchive.so.13" "$T/out"
	tar -C "$T/ctx" -cf "$T/ctx/a.tar" f
	printf 'FROM base:test\nADD a.tar /x/\n' >"$T/ctx/Dockerfile.add"
	without "$PLATE" --root "$R" build -q -f "$T/ctx/Dockerfile.add" -t add "$T/ctx" \
		>"$T/out" 2>&1
	tap_check "... ADD of a tar fails rather than copying the archive as a file" test $? = 1
	tap_check "... naming libarchive" grep -q "cannot load libarchive" "$T/out"
	tap_check "... and the store is unchanged" test "$(p images -q --no-trunc | sort)" = "$before"
	tap_check "... and clean" p fsck
else
	tap_check "libarchive.so.13 is known to the dynamic loader" test -n "$lib"
fi

tap_done
