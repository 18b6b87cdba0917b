#!/usr/bin/env bash
# The README's example end to end: a Go builder base made offline by
# scripts/make-builder-base.sh, examples/go-service built with it, then judged by tools
# that share no code with plate: skopeo inspects it, GNU tar lists its layers (only the
# binary and the CA bundle), umoci unpacks it and runc runs it in a private network
# namespace where /healthz answers.  Also plate run, and a no-op rebuild.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
for tool in skopeo umoci runc curl ip unshare nsenter; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done
[ -x /usr/lib/go-1.19/bin/go ] || tap_skip_all "golang-1.19-go not installed"

# The private network namespace is bound onto a file of $T rather than named in /run/netns,
# which every `ip netns` user on the machine shares: a name there is an empty file before its
# namespace is bound onto it and after it is unmounted (a run killed then leaves it behind
# for the next test whose pid, recycled, gives the same name), and runc refuses an empty
# file ("failed to setns into net namespace: Invalid argument").  Its creation is checked.
NS=$T/netns
cleanup() {
	runc --root "$T/runc" delete -f demo >/dev/null 2>&1
	[ -n "${runpid:-}" ] && kill "$runpid" 2>/dev/null
	umount "$NS" 2>/dev/null
	rm_tmp
}
# wait_healthz PID URL [NSENTER...]: polls URL until it answers "ok" (stdout: the answer),
# for up to 120 s (a loaded machine can take seconds to start the server), giving up early
# when the process PID has gone.
wait_healthz() {
	local pid=$1 url=$2 answer="" deadline=$((SECONDS + 120))
	shift 2
	while [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do
		answer=$("$@" curl -s --max-time 5 "$url") && [ "$answer" = ok ] && break
		sleep 0.2
	done
	echo "$answer"
}
trap cleanup EXIT

PLATE=$PLATE "$PLATE_SRC/scripts/make-builder-base.sh" >"$T/base.log" 2>&1
ck "scripts/make-builder-base.sh makes golang:1.19-local" bash -c "'$PLATE' --root '$R' inspect golang:1.19-local >/dev/null" ||
	diag "$(cat "$T/base.log")"

cp -r "$PLATE_SRC/examples/go-service" "$T/ctx"
build "$T/ctx" --build-arg GO_IMAGE=golang:1.19-local -t plate-demo \
	--output type=oci,dest="$T/demo.oci.tar"
ck "the example builds" test "$rc" = 0
ck "no Dockerfile check and no doctor finding is printed for it" \
	bash -c "! grep -E ': (error|warning|info): .*\[[A-Za-z]+\]\$' '$T/out'"
ck "plate check finds nothing in it" test "$(p check --format json plate-demo | jq -c '.findings')" = "[]"

# skopeo, straight from the store and from the archive.
skopeo inspect --config "oci:$R:docker.io/library/plate-demo:latest" >"$T/config.json" 2>"$T/err"
ck "skopeo inspect reads it from the store" test -s "$T/config.json" || diag "$(cat "$T/err")"
ck "entrypoint, user and exposed port" test "$(jq -c '.config | [.Entrypoint, .User, .ExposedPorts]' "$T/config.json")" = \
	'[["/app/plate-demo"],"65534:65534",{"8080/tcp":{}}]'
ck "two layers: the CA bundle and the binary" test "$(jq '.rootfs.diff_ids | length' "$T/config.json")" = 2

mkdir -p "$T/layout"
tar -C "$T/layout" -xf "$T/demo.oci.tar"
jq '.manifests[0].annotations["org.opencontainers.image.ref.name"] = "demo"' "$T/layout/index.json" >"$T/index.json" &&
	mv "$T/index.json" "$T/layout/index.json"
skopeo inspect "oci:$T/layout:demo" >"$T/inspect.json" 2>"$T/err"
ck "skopeo inspect reads the --output archive" test -s "$T/inspect.json" || diag "$(cat "$T/err")"
: >"$T/files"
for l in $(jq -r '.Layers[]' "$T/inspect.json" | cut -d: -f2); do
	tar -tf "$T/layout/blobs/sha256/$l" >>"$T/files"
done
ck "the image holds only the binary and the CA bundle" test "$(sort "$T/files" | tr '\n' ' ')" = \
	"app/ app/plate-demo etc/ etc/ssl/ etc/ssl/certs/ etc/ssl/certs/ca-certificates.crt "

# umoci + runc in a private network namespace.
if root_part "umoci and runc judge the image in a network namespace bound under the test's directory (unshare --net as the host's root)"; then
	umoci unpack --image "$T/layout:demo" "$T/bundle" >/dev/null 2>"$T/err"
	ck "umoci unpacks it" test -x "$T/bundle/rootfs/app/plate-demo" || diag "$(cat "$T/err")"
	ck "it has no shell" test ! -e "$T/bundle/rootfs/bin/sh"
	touch "$NS"
	unshare --net="$NS" true && nsenter --net="$NS" ip link set lo up
	ck "a private network namespace for runc" test "$(stat -f -c %T "$NS")" = nsfs
	jq --arg ns "$NS" '.process.terminal = false |
		.linux.namespaces = ([.linux.namespaces[] | select(.type != "network")] + [{"type": "network", "path": $ns}])' \
		"$T/bundle/config.json" >"$T/config.runc.json" && mv "$T/config.runc.json" "$T/bundle/config.json"
	runc --root "$T/runc" run -d --pid-file "$T/pid" -b "$T/bundle" demo >"$T/runc.log" 2>&1 </dev/null
	health=$(wait_healthz "$(cat "$T/pid" 2>/dev/null || echo 0)" http://127.0.0.1:8080/healthz nsenter --net="$NS")
	ck "runc runs it and /healthz answers" test "$health" = ok || diag "$(cat "$T/runc.log")"
	ck "... as uid 65534" test "$(awk '/^Uid:/{print $2}' "/proc/$(cat "$T/pid")/status" 2>/dev/null)" = 65534
	runc --root "$T/runc" delete -f demo >/dev/null 2>&1
fi

# plate run on the host network (asked for: the default one is private), on a free port
# given through LISTEN.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PLATE" --root "$R" run --network host -e LISTEN=127.0.0.1:$port plate-demo >"$T/run.log" 2>&1 &
runpid=$!
health=$(wait_healthz "$runpid" "http://127.0.0.1:$port/healthz")
ck "plate run serves /healthz" test "$health" = ok || diag "$(cat "$T/run.log")"
ck "... as uid 65534" bash -c "curl -s http://127.0.0.1:$port/ | jq -e '.uid == 65534' >/dev/null"
kill "$runpid"
wait "$runpid" 2>/dev/null
runpid=

build "$T/ctx" --build-arg GO_IMAGE=golang:1.19-local -t plate-demo
ck "a no-op rebuild is all cached" grep -q '(7 steps, 7 cached)' "$T/out"
ck "the store is sound" p fsck
tap_done
