#!/usr/bin/env bash
# Help everywhere: every command `plate help` lists answers -h, --help and `plate help CMD`
# with its usage and its options on stdout, exit 0, touching nothing; every option the help
# names is one the command's parser knows; the global options' usage errors.
. "$(dirname "$0")/lib.sh"

export HOME=$T/home XDG_DATA_HOME=$T/xdg PLATE_ROOT=
mkdir -p "$HOME"

"$PLATE" help >"$T/list" 2>"$T/list.err"; rc=$?
tap_check "plate help exits 0" test "$rc" = 0
"$PLATE" --help >"$T/list2" 2>&1
tap_check "plate --help is plate help" cmp -s "$T/list" "$T/list2"
mapfile -t cmds < <(awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }' "$T/list")
tap_check "plate help lists the commands (${#cmds[@]})" test "${#cmds[@]}" -ge 20
grep -q '^  build ' "$T/list" && grep -q '^  logout ' "$T/list"
tap_check "the list has build and logout with their summaries" test $? = 0

bad=""
unknown=""
probed=0
for c in "${cmds[@]}"; do
	for form in "$c --help" "$c -h" "help $c"; do
		# shellcheck disable=SC2086
		"$PLATE" --root "$T/store-$c" $form >"$T/out" 2>"$T/err" </dev/null
		rc=$?
		if [ "$rc" != 0 ] || [ -s "$T/err" ] || ! head -1 "$T/out" | grep -q "^usage: plate $c\\b" ||
			! grep -q -- '^  -h, --help ' "$T/out" || [ -e "$T/store-$c" ]; then
			bad="$bad [$form: rc $rc, $(head -c 200 "$T/err")]"
		fi
	done
	"$PLATE" help "$c" >"$T/a"; "$PLATE" "$c" --help >"$T/b"
	cmp -s "$T/a" "$T/b" || bad="$bad [help $c differs from $c --help]"
	# Every option the help names is known to the command's parser: never "unknown option".
	while read -r opt arg; do
		value=()
		case $arg in
		'') ;;
		'[='*) opt="$opt=missing" ;;
		*) value=(x) ;;
		esac
		timeout 20 "$PLATE" --root "$T/probe" "$c" "$opt" "${value[@]}" >/dev/null \
			2>"$T/err" </dev/null
		if grep -q 'unknown option\|bad option' "$T/err"; then
			unknown="$unknown [$c $opt: $(head -c 200 "$T/err")]"
		fi
		probed=$((probed + 1))
	done < <(sed -n -E 's/^  (-[a-zA-Z], |    )(--[a-z-]+)(\[=[^ ]*| [^ ]+)?.*/\2 \3/p' "$T/b" |
		grep -v '^--help ')
done
tap_check "every command answers --help, -h and help CMD on stdout, exit 0, no store${bad}" \
	test -z "$bad"
tap_check "every option in a command's help is known to its parser ($probed)${unknown}" \
	test -z "$unknown" -a "$probed" -gt 60

# The other direction, read from the sources: every long option a command's parser takes is
# in its help, so an option added without help text fails here.
cli=$PLATE_SRC/src/cli
parsed_options() { # FILE...: the long option names the files parse
	local f m
	grep -ohE '\{ "--?[a-z][a-z-]*", |\{ "[a-z][a-z-]*", (no|required|optional)_argument|cli_take_value\(argc, argv, &i, "--[a-z-]+"|strcmp\([a-z]+(\[i\])?, "--[a-z-]+"\)' "$@" |
		grep -oE '"-?-?[a-z][a-z-]*"' | tr -d '"' | grep -v '^-[a-z]$' | sed 's/^--//'
	for m in $(grep -ohE 'CLI_[A-Z_]+_LONGOPTS' "$@" | sort -u); do
		awk -v m="$m" '$0 ~ "#define " m { f = 1 } f { print } f && !/\\$/ { exit }' \
			"$cli/cli.h" | grep -oE '\{ "[a-z-]+"' | tr -d '{" '
	done
}
undocumented=""
for c in "${cmds[@]}"; do
	case $c in
	pull | push) files=("$cli/registry_opts.c") ;;
	build | plan) files=("$cli/$c.c" "$cli/dockerfile_opts.c") ;;
	check) files=("$cli/check.c" "$cli/check_dockerfile.c") ;;
	help) files=("$cli/help_gen.c") ;;
	*) files=("$cli/$c.c") ;;
	esac
	[ -f "${files[0]}" ] || { undocumented="$undocumented [no source for $c]"; continue; }
	"$PLATE" help "$c" >"$T/h"
	for o in $(parsed_options "${files[@]}" | sort -u); do
		grep -qE -- "--$o([][ =]|\$)" "$T/h" || undocumented="$undocumented $c --$o"
	done
done
tap_check "every option a command parses is in its help${undocumented}" test -z "$undocumented"

# What the issue saw: inspect --help looked up an image '--help' and made a store, logout
# --help said "not logged in to --help", prune --help was an unknown option.
"$PLATE" --root "$T/s1" inspect --help >"$T/out" 2>&1; rc=$?
tap_check "inspect --help: usage, exit 0, no store" \
	sh -c "[ $rc = 0 ] && grep -q '^usage: plate inspect REF' '$T/out' && [ ! -e '$T/s1' ]"
"$PLATE" logout --help >"$T/out" 2>&1
tap_check "logout --help is help, not a logout" \
	sh -c "grep -q '^usage: plate logout' '$T/out' && ! grep -q 'logged in' '$T/out'"
"$PLATE" --root "$T/s1" prune --help >"$T/out" 2>&1; rc=$?
tap_check "prune --help is help" sh -c "[ $rc = 0 ] && grep -q -- '--mounts' '$T/out'"

# An option's value and a command's arguments are not requests for help.
"$PLATE" --root "$T/s2" run no-such-image --help >"$T/out" 2>"$T/err"; rc=$?
tap_check "run IMAGE --help: --help is the command's argument" \
	sh -c "[ $rc != 0 ] && grep -q 'no-such-image' '$T/err' && ! grep -q usage '$T/out'"
"$PLATE" --root "$T/s2" tag -- --help x >"$T/out" 2>"$T/err"; rc=$?
tap_check "after --, --help is an operand" sh -c "[ $rc != 0 ] && ! grep -q usage '$T/out'"
"$PLATE" --root "$T/s2" save -o --help >"$T/out" 2>"$T/err"; rc=$?
tap_check "save -o --help: --help is -o's value" sh -c "[ $rc = 2 ] && ! grep -q usage '$T/out'"
"$PLATE" --root "$T/s2" images -qh >"$T/out" 2>&1; rc=$?
tap_check "images -qh: -h in a cluster is help" sh -c "[ $rc = 0 ] && grep -q '^usage: plate images' '$T/out'"

# check parses with getopt: its two forms and its errors.
printf 'FROM scratch\nCOPY a /a\n' >"$T/Dockerfile"
"$PLATE" check --format=json "$T/Dockerfile" >"$T/out" 2>&1; rc=$?
tap_check "check --format=json DOCKERFILE: the Dockerfile checks as JSON" \
	sh -c "[ $rc = 0 ] && grep -q '\"findings\"' '$T/out'"
"$PLATE" check --skip ID "$T/Dockerfile" >/dev/null 2>"$T/err"; rc=$?
tap_check "check --skip with a Dockerfile: a usage error naming --skip" \
	sh -c "[ $rc = 2 ] && grep -q -- '--skip is for an image' '$T/err'"
"$PLATE" check --forma json x >/dev/null 2>"$T/err"; rc=$?
tap_check "check --forma: no abbreviations" \
	sh -c "[ $rc = 2 ] && grep -q \"unknown option '--forma'\" '$T/err'"
"$PLATE" check --max-size >/dev/null 2>"$T/err"; rc=$?
tap_check "check --max-size without a value says so" \
	sh -c "[ $rc = 2 ] && grep -q \"option '--max-size' needs a value\" '$T/err'"
"$PLATE" --root "$T/s3" check a b >/dev/null 2>"$T/err"; rc=$?
tap_check "check takes one REF" sh -c "[ $rc = 2 ] && grep -q 'check takes one REF' '$T/err'"
"$PLATE" sbom --platform >/dev/null 2>"$T/err"; rc=$?
tap_check "sbom --platform without a value says so" \
	sh -c "[ $rc = 2 ] && grep -q \"option '--platform' needs a value\" '$T/err'"

# Global options.
"$PLATE" --root >/dev/null 2>"$T/err"; rc=$?
tap_check "--root alone: needs a value (exit 2)" \
	sh -c "[ $rc = 2 ] && grep -q \"option '--root' needs a value\" '$T/err'"
"$PLATE" --root '' images >/dev/null 2>"$T/err"; rc=$?
tap_check "--root '': an error, not the default store" \
	sh -c "[ $rc = 2 ] && grep -q 'root needs a directory' '$T/err'"
"$PLATE" --max-layer-size >/dev/null 2>"$T/err"; rc=$?
tap_check "--max-layer-size alone: needs a value" \
	sh -c "[ $rc = 2 ] && grep -q \"option '--max-layer-size' needs a value\" '$T/err'"
"$PLATE" help no-such >/dev/null 2>"$T/err"; rc=$?
tap_check "help of an unknown command: exit 2" \
	sh -c "[ $rc = 2 ] && grep -q \"unknown command 'no-such'\" '$T/err'"

# Error texts: an errno the message already says is not repeated.
"$PLATE" --root "$T/s4" inspect no-such-image >/dev/null 2>"$T/err"
tap_check "image not found: no errno text after it" \
	test "$(cat "$T/err")" = "plate: error: image 'no-such-image' not found"
"$PLATE" --root "$T/s4" tag no-such-image x:1 >/dev/null 2>"$T/err"
tap_check "tag of a missing image: no errno text" sh -c "! grep -q 'No such file' '$T/err'"
mkdir -p "$T/ctxfile"; : >"$T/ctxfile/notadir"
"$PLATE" plan "$T/ctxfile/notadir" >/dev/null 2>"$T/err"
tap_check "a context that is not a directory says so" grep -q "context '.*notadir' is not a directory" "$T/err"

tap_done
