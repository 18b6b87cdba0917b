#!/usr/bin/env bash
# The differential test: every case under tests/differential/cases/ is built by plate and by
# Docker's BuildKit (a private dockerd, Debian's docker.io) from the same base, and the
# results are compared: the config fields a Dockerfile sets and the whole final file tree
# (tests/differential/flatten.py), or both builds failing. See tests/differential/README.md
# for the case format (setup.sh, fails, expect, known-divergence).
CASES=${PLATE_SRC:?}/tests/differential/cases
FLATTEN=$PLATE_SRC/tests/differential/flatten.py
DOCKER=/usr/bin/docker # Debian's 20.10 client with its built-in BuildKit client

# One case's build by one builder (run in parallel by xargs): `__docker CASE` or `__plate
# CASE` leaves its exit code and listing in $T/r/CASE/.
if [ "${1:-}" = __docker ] || [ "${1:-}" = __plate ]; then
	n=$2 o=$T/r/$2 ctx=$T/ctx/$2 b=${1#__}
	mkdir -p "$o"
	if [ "$b" = docker ]; then
		# dockerd 20.10 fails a build now and then on a loaded machine (context transfer, RUN
		# mount stubs); a real failure fails every time, so BuildKit gets three tries.
		for try in 1 2 3; do
			$DOCKER build --network=host -t "diff-$n" "$ctx" >"$o/docker.log" 2>&1
			rc=$?
			[ "$rc" = 0 ] && break
			echo "(try $try failed)" >>"$o/docker.tries"
			cat "$o/docker.log" >>"$o/docker.tries"
		done
		echo "$rc" >"$o/docker.rc"
		save() { $DOCKER save -o "$o/docker.tar" "diff-$n"; }
	else
		"$PLATE" --root "$T/root" build --progress plain --network host -t "diff-$n" "$ctx" >"$o/plate.log" 2>&1
		echo $? >"$o/plate.rc"
		save() { "$PLATE" --root "$T/root" save -o "$o/plate.tar" "diff-$n"; }
	fi
	if [ "$(cat "$o/$b.rc")" = 0 ]; then
		save >>"$o/$b.log" 2>&1 && python3 "$FLATTEN" "$o/$b.tar" >"$o/$b.list" 2>>"$o/$b.log"
		rm -f "$o/$b.tar"
	fi
	exit 0
fi

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$(dirname "$0")/dockerd-helpers.bash"
root_only "starts a private dockerd, which needs the host's root (Debian's docker.io has no rootless mode without rootlesskit); the build tests compare the rootless image with root's"
build_prereqs
command -v python3 >/dev/null || tap_skip_all "python3 not installed"
dockerd_need

trap 'stop_dockerd; [ -n "${DIFF_KEEP:-}" ] || rm -rf "$T"' EXIT
export DOCKER_BUILDKIT=1
# vfs: the base is a few MB, so copying it per layer costs little, and BuildKit 0.8 over
# overlay2 fails a RUN now and then ("stat /bin/sh: no such file or directory").
start_dockerd vfs || { diag "dockerd did not start:" "$(tail -20 "$DOCKERD_DIR/log")"; exit 1; }

# The same base in both: plate's import, saved as a docker-archive and loaded by docker. It
# has /dev, /proc, /sys, /etc/hosts and /etc/resolv.conf as real bases have: BuildKit's RUN
# leaves the mount points it creates in its layer, plate's sandbox does not.
mkdir -p "$T/base-rootfs"/{dev,proc,sys,etc}
touch "$T/base-rootfs"/etc/{hosts,resolv.conf}
make_base
p save -o "$T/base.docker.tar" base:test >/dev/null &&
	$DOCKER load -q -i "$T/base.docker.tar" >/dev/null
tap_check "the base is loaded into dockerd" test $? = 0
tap_check "both bases have the same image ID" test \
	"$($DOCKER image inspect -f '{{.Id}}' base:test)" = "$(p inspect base:test | jq -r '.[0].Id')"

cases=()
for c in "$CASES"/*/; do
	n=$(basename "$c")
	[ -z "${DIFF_CASES:-}" ] || [[ " $DIFF_CASES " == *" $n "* ]] || continue
	mkdir -p "$T/ctx"
	cp -a "$c" "$T/ctx/$n"
	rm -f "$T/ctx/$n"/{expect,fails,known-divergence}
	if [ -f "$T/ctx/$n/setup.sh" ]; then
		(cd "$T/ctx/$n" && sh ./setup.sh) || { diag "$n: setup.sh failed"; exit 1; }
		rm -f "$T/ctx/$n/setup.sh"
	fi
	cases+=("$n")
done
export T PLATE DOCKER_HOST DOCKER_BUILDKIT DOCKER_CONFIG
# Docker's builds one at a time (concurrent builds in dockerd 20.10 fail now and then on
# context transfers and RUN mount stubs), plate's two at a time beside them.
for n in "${cases[@]}"; do
	[ -e "$CASES/$n/expect" ] || echo "$n"
done | xargs -I{} bash "$0" __docker {} &
dockers=$!
printf '%s\n' "${cases[@]}" | xargs -P 2 -I{} bash "$0" __plate {}
wait "$dockers"

# expect_ok CASE: plate's result meets the case's expect file. Lines: `fails` (the build must
# fail), `= FIELDS` (a listing line begins with these fields), `! PATH` (no such path),
# `# ...` comments (the first ones say where the expectation comes from).
expect_ok() {
	local o=$T/r/$1 line bad=0
	while IFS= read -r line; do
		case "$line" in
		'#'* | '') ;;
		fails) [ "$(cat "$o/plate.rc")" != 0 ] || { diag "plate built it"; bad=1; } ;;
		'= '*) awk -v x="${line#= }" '$0 == x || index($0, x " ") == 1 {f = 1} END {exit !f}' \
			"$o/plate.list" 2>/dev/null ||
			{ diag "missing: ${line#= }"; bad=1; } ;;
		'! '*) ! grep -q "^${line#! } " "$o/plate.list" 2>/dev/null ||
			{ diag "present: ${line#! }"; bad=1; } ;;
		*) diag "bad expect line: $line"; bad=1 ;;
		esac
	done <"$CASES/$1/expect"
	[ "$bad" = 0 ]
}

# same CASE: both failed, or both built the same listing.
same() {
	local o=$T/r/$1 drc prc
	drc=$(cat "$o/docker.rc") prc=$(cat "$o/plate.rc")
	if [ "$drc" != 0 ] && [ "$prc" != 0 ]; then
		return 0
	fi
	if [ -e "$CASES/$1/fails" ]; then
		diag "expected both to fail: docker $drc, plate $prc"
		return 1
	fi
	if [ "$drc" != 0 ] || [ "$prc" != 0 ]; then
		diag "docker exit $drc, plate exit $prc"
		[ "$drc" = 0 ] || diag "$(tail -15 "$o/docker.log")"
		[ "$prc" = 0 ] || diag "$(tail -15 "$o/plate.log")"
		return 1
	fi
	[ -s "$o/docker.list" ] && [ -s "$o/plate.list" ] || { diag "no listing"; return 1; }
	diff -u --label buildkit --label plate "$o/docker.list" "$o/plate.list" >"$o/diff" ||
		{ diag "$(head -40 "$o/diff")"; return 1; }
}

matched=0 known=0
for n in "${cases[@]}"; do
	if [ -e "$CASES/$n/expect" ]; then
		how="meets its expectation from BuildKit's documentation and tests"
		check=expect_ok
	else
		how="matches BuildKit"
		check=same
	fi
	if [ -e "$CASES/$n/known-divergence" ]; then
		item=$(head -1 "$CASES/$n/known-divergence")
		if $check "$n" >/dev/null 2>&1; then
			tap_check "$n: known divergence ($item) $how now: remove its known-divergence file" false
		else
			known=$((known + 1))
			tap_check "$n: known divergence ($item), still different" true
		fi
	elif $check "$n"; then
		matched=$((matched + 1))
		tap_check "$n $how" true
	else
		tap_check "$n $how" false
	fi
done
echo "differential: $matched/${#cases[@]} cases match BuildKit, $known known divergences"
tap_done
