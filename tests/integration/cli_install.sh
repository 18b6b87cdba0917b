#!/usr/bin/env bash
# make install: the binary, one man page per command (from the --help text, warning-free
# troff) and the bash and zsh completion, under DESTDIR/PREFIX; make uninstall removes them.
# The bash completion is sourced and driven through COMP_WORDS as bash would.
. "$(dirname "$0")/lib.sh"

for tool in groff man zsh make; do
	command -v "$tool" >/dev/null || tap_skip_all "$tool is not installed"
done
src=${PLATE_SRC:?}
build=${PLATE_BUILD:?}
san=0
[ "$(basename "$build")" = build-asan ] && san=1
dest=$T/dest

make -s -C "$src" SANITIZE=$san BUILD="$(basename "$build")" install PREFIX=/usr \
	DESTDIR="$dest" >"$T/make.log" 2>&1
rc=$?
tap_check "make install PREFIX=/usr DESTDIR=… succeeds" test "$rc" = 0
tap_check "the binary is installed and runs" "$dest/usr/bin/plate" version
mapfile -t cmds < <("$PLATE" help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }')
missing=""
warnings=""
flags=""
for c in "" "${cmds[@]}"; do
	page=$dest/usr/share/man/man1/plate${c:+-$c}.1
	if [ ! -f "$page" ]; then
		missing="$missing ${page##*/}"
		continue
	fi
	w=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	[ -z "$w" ] || warnings="$warnings [${page##*/}: $w]"
	# the page says what --help says: every long option of the command
	MANWIDTH=200 man -l "$page" 2>/dev/null >"$T/page.txt"
	"$PLATE" help ${c:+"$c"} | sed -n -E 's/^  (-[a-zA-Z], |    )(--[a-z-]+).*/\2/p' |
		while read -r opt; do
			grep -q -- "$opt" "$T/page.txt" || echo "$c$opt"
		done >"$T/noflag"
	[ -s "$T/noflag" ] && flags="$flags $(tr '\n' ' ' <"$T/noflag")"
done
tap_check "a man page per command (${#cmds[@]} + plate.1)${missing}" test -z "$missing"
tap_check "the pages are warning-free troff (groff -man -ww)${warnings}" test -z "$warnings"
tap_check "every page lists the options --help lists${flags}" test -z "$flags"
MANWIDTH=100 man -l "$dest/usr/share/man/man1/plate-build.1" >"$T/build.txt" 2>&1
tap_check "man -l plate-build.1: NAME, SYNOPSIS, --tag and its text" \
	sh -c "grep -q 'plate-build - build an image from a Dockerfile' '$T/build.txt' &&
		grep -q 'SYNOPSIS' '$T/build.txt' && grep -q 'name the image REF' '$T/build.txt'"
bashc=$dest/usr/share/bash-completion/completions/plate
zshc=$dest/usr/share/zsh/site-functions/_plate
tap_check "bash completion installed" test -s "$bashc"
tap_check "zsh completion installed" test -s "$zshc"

# bash: the completion function on simulated command lines (PATH finds the installed plate).
store=$T/store
tar -cf "$T/empty.tar" -T /dev/null
"$PLATE" --root "$store" import "$T/empty.tar" demo/app:1.0 >/dev/null 2>&1
"$PLATE" --root "$store" import "$T/empty.tar" other:2 >/dev/null 2>&1
# complete_line WORD...: COMPREPLY, one per line, for the last word; a ':' word is glued to
# its neighbours in COMP_LINE, as bash splits "demo/app:1" into three words.
complete_line() {
	PATH=$dest/usr/bin:$PATH bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_LINE=${COMP_LINE// : /:}; COMP_LINE=${COMP_LINE% :}
		[ "${!#}" != : ] || COMP_LINE="$COMP_LINE:"
		COMP_POINT=${#COMP_LINE}
		_plate
		printf "%s\n" "${COMPREPLY[@]}"' _ "$bashc" "$@"
}
tap_check "bash: 'plate bu' completes to build" test "$(complete_line plate bu)" = build
out=$(complete_line plate --root "$store" build --no)
tap_check "bash: 'plate build --no' completes to --no-cache" test "$out" = --no-cache
out=$(complete_line plate --root "$store" run de)
tap_check "bash: 'plate run de' offers the image demo/app:1.0 (from plate images)" \
	test "$out" = demo/app:1.0
out=$(complete_line plate --root "$store" rmi demo/app :)
tap_check "bash: after 'demo/app:' (split at ':') only the tag part is offered" test "$out" = 1.0
mkdir -p "$T/ctx.d"
out=$(cd "$T" && complete_line plate build -f ctx)
tap_check "bash: a file for -f" test "$out" = ctx.d
out=$(complete_line plate push --)
echo "$out" | grep -qx -- --tls-ca && echo "$out" | grep -qx -- --quiet
tap_check "bash: push's options include --tls-ca and --quiet" test $? = 0

# zsh: compinit registers the function the #compdef line names.
out=$(zsh -f -c "fpath=('${zshc%/*}' \$fpath); autoload -U compinit; compinit -u -d '$T/zcd';
	print -r -- \$_comps[plate]" 2>&1)
tap_check "zsh: compinit takes _plate for plate ($out)" test "$out" = _plate

make -s -C "$src" SANITIZE=$san BUILD="$(basename "$build")" uninstall PREFIX=/usr \
	DESTDIR="$dest" >>"$T/make.log" 2>&1
left=$(find "$dest" -type f | head -5)
tap_check "make uninstall removes every file (${left:-none left})" test -z "$left"

tap_done
