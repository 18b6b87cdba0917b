#!/usr/bin/env bash
# The sandbox's PRIVATE network (the default of RUN and `plate run`) at the module level:
# tests/helpers/sandbox-run with --net private.  What the namespace holds, how the resolver
# configuration is adapted, and the slirp4netns helper's life: it never outlives the run,
# whether the command ends, the run is cancelled, or the caller is killed; a helper that
# fails is reported with what it said.  The attacks (host loopback, abstract sockets,
# AF_PACKET) and outbound connections are in build_network.sh.  Needs root.
. "$(dirname "$0")/lib.sh"

SR=${PLATE_BUILD:?}/helpers/sandbox-run
PROBE=$PLATE_BUILD/helpers/probe
root_only "drives the sandbox through the sandbox-run helper, which enters no user namespace (the CLI does; the rootless default network is checked by rootless.sh and the build tests)"
[ -x "$SR" ] && [ -x "$PROBE" ] || tap_skip_all "helpers not built (make test-binaries)"
command -v slirp4netns >/dev/null || tap_skip_all "slirp4netns not installed"

mkdir -p "$T/root" "$T/tmp" "$T/out"
cp "$PROBE" "$T/root/probe"
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
NET=(--tmpdir "$T/tmp" --rootfs "$T/root" --net private)

# helper_of PID: the slirp4netns child of sandbox-run PID, once it has been executed.
helper_of() {
	local i c
	for i in $(seq 200); do
		for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
			[ "$(cat "/proc/$c/comm" 2>/dev/null)" = slirp4netns ] && { echo "$c"; return 0; }
		done
		sleep 0.05
	done
	return 1
}
wait_for_file() { local i; for i in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
wait_gone() { local i; for i in $(seq 200); do [ -e "/proc/$1" ] || return 0; sleep 0.05; done; return 1; }

got=$("$SR" "${NET[@]}" -- /probe netdevs 2>"$T/err")
tap_check "private network: lo and tap0" test "$got" = "$(printf 'lo\ntap0')" || diag "$got" "$(cat "$T/err")"
got=$("$SR" "${NET[@]}" --etc resolv \
	--resolv-conf "$(printf 'search corp.test\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions ndots:2\n')" \
	-- /probe cat /etc/resolv.conf 2>"$T/err")
tap_check "resolv.conf: the DNS forwarder first, the host's loopback resolver dropped, the rest kept" \
	test "$got" = "$(printf 'nameserver 10.0.2.3\nsearch corp.test\nnameserver 192.0.2.53\noptions ndots:2')" ||
	diag "$got" "$(cat "$T/err")"

# A finished run leaves no helper: sandbox-run waits in a second run so it can be inspected.
"$SR" "${NET[@]}" --bind "$T/out:/out" -- /probe write /out/ready 1 , sleep 0.5 2>"$T/err" &
sr=$!
helper=$(helper_of $sr)
tap_check "one slirp4netns per run, a child of the caller" test -n "$helper"
wait_for_file "$T/out/ready"
tap_check "it is attached to the sandbox's network namespace (pid 1's)" \
	test "$(readlink "/proc/$(ps -o pid= --ppid $sr | grep -vw "$helper" | tr -d ' ')/ns/net")" != "$(readlink /proc/self/ns/net)"
wait $sr
tap_check "a finished run stops its helper" wait_gone "$helper"

rm -f "$T/out/ready"
"$SR" "${NET[@]}" --bind "$T/out:/out" -- /probe write /out/ready 1 , sleep 30 2>"$T/err" &
sr=$!
helper=$(helper_of $sr)
wait_for_file "$T/out/ready"
kill -INT $sr
wait $sr; rc=$?
tap_check "cancelled run exits 130" test "$rc" = 130
tap_check "a cancelled run stops its helper" wait_gone "$helper"

rm -f "$T/out/ready"
"$SR" "${NET[@]}" --bind "$T/out:/out" -- /probe write /out/ready 1 , sleep 30 2>"$T/err" &
sr=$!
helper=$(helper_of $sr)
wait_for_file "$T/out/ready"
{ kill -KILL $sr; wait $sr; } 2>/dev/null
tap_check "a killed caller takes its helper along (parent death signal)" wait_gone "$helper"
rm -rf "$T/tmp"/sandbox-*

printf '#!/bin/sh\necho "cannot open /dev/net/tun: No such device" >&2\nexit 3\n' >"$T/bad-helper"
chmod +x "$T/bad-helper"
"$SR" "${NET[@]}" --net-helper "$T/bad-helper" -- /probe exit 0 2>"$T/err"; rc=$?
tap_check "a failing helper fails the run before the command" test "$rc" = 125
tap_check "... naming the helper, its status and its last words" grep -qF \
	"sandbox: network helper '$T/bad-helper' exited with 3 before the network was up: cannot open /dev/net/tun: No such device" \
	"$T/err" || diag "$(cat "$T/err")"
"$SR" "${NET[@]}" --net-helper "$T/missing" -- /probe exit 0 2>"$T/err"; rc=$?
tap_check "a missing helper is named" grep -qF "sandbox: network helper '$T/missing': No such file or directory" "$T/err" ||
	diag "$(cat "$T/err")"
tap_check "no scratch directory is left behind" test -z "$(ls "$T/tmp")"

"$SR" "${NET[@]}" --threads 8 -- /probe netdevs >"$T/par" 2>"$T/err"; rc=$?
tap_check "8 parallel runs, each with its own helper" test "$rc" = 0 || diag "$(cat "$T/err")"
tap_done
