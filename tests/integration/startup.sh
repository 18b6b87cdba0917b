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
