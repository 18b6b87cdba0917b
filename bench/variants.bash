# Shared by bench_network.sh and bench_safety.sh: the variants of one run, each a store of its
# own holding the base and a copy of the sample app.  Needs W (the run's directory), APP and
# ARCHIVE (the base as an OCI archive).
#
# variant NAME BINARY EXTRA-BUILD-ARGS...
variants=()
variant() {
	local name=$1 bin=$2
	shift 2
	variants+=("$name")
	mkdir -p "$W/$name"
	echo "$bin" >"$W/$name/bin"
	: >"$W/$name/args"
	[ $# -eq 0 ] || printf '%s\n' "$@" >"$W/$name/args"
	cp -r "$APP" "$W/$name/app"
	chmod -R u+w "$W/$name/app"
	"$bin" --root "$W/$name/store" load -i "$ARCHIVE" >/dev/null
	"$bin" --root "$W/$name/store" tag "$("$bin" --root "$W/$name/store" images -q | head -1)" \
		golang:1.19-local
}
