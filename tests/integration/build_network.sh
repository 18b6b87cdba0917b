#!/usr/bin/env bash
# The network of RUN and `plate run`, attacked from inside with the static probe: by default
# a private namespace (slirp4netns) where a listener on the host's 127.0.0.1, a host
# abstract UNIX socket and the host's packets (AF_PACKET) are out of reach while outbound
# connections work; all three reachable with --network host; `none` only loopback.
# Outbound traffic goes to a "remote test host" this test makes: a network namespace on
# 10.213.7.0/30 behind a veth pair, serving HTTP; no other address is ever contacted.
# DNS: plate runs in a mount namespace whose /etc/resolv.conf names a loopback resolver
# (127.213.7.53, a stub started here), as on hosts with systemd-resolved, and RUN resolves
# through the forwarder.  Needs root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
root_only "makes the remote test host, a network namespace behind a veth pair (ip netns, ip link: the host's root); rootless.sh checks the user's default network (lo and tap0)"
build_prereqs
for tool in slirp4netns ip python3 unshare curl; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done

NS=platenet$$
VH=pnh$$
VN=pnn$$
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	ip link del "$VH" 2>/dev/null
	rm_tmp
}
trap cleanup EXIT

# ---- the remote test host ------------------------------------------------------------------
ip netns add "$NS" &&
	ip link add "$VH" type veth peer name "$VN" netns "$NS" &&
	ip addr add 10.213.7.1/30 dev "$VH" && ip link set "$VH" up &&
	ip -n "$NS" addr add 10.213.7.2/30 dev "$VN" && ip -n "$NS" link set "$VN" up &&
	ip -n "$NS" link set lo up || tap_skip_all "cannot make a test network namespace"
mkdir -p "$T/www"
echo "remote-$$" >"$T/www/hello.txt"
ip netns exec "$NS" python3 -m http.server 8000 --bind 10.213.7.2 --directory "$T/www" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://10.213.7.2:8000/hello.txt >/dev/null && break; sleep 0.05; done

# ---- host bait: a TCP listener on 127.0.0.1, an abstract socket, marked packets on lo ------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ABS=plate-bait-$$
MARK=plate-mark-$$-$RANDOM
cat >"$T/bait.py" <<'EOF'
import socket, sys, threading, time
port, name, mark = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", port)); t.listen(64)
u = socket.socket(socket.AF_UNIX); u.bind("\0" + name); u.listen(64)
def serve(s):
    while True:
        c, _ = s.accept(); c.close()
for s in (t, u):
    threading.Thread(target=serve, args=(s,), daemon=True).start()
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
open(sys.argv[4], "w").close()
end = time.time() + 600   # bounded: the test kills it long before
while time.time() < end:
    d.sendto(mark, ("127.0.0.1", port)); time.sleep(0.01)
EOF
python3 "$T/bait.py" "$port" "$ABS" "$MARK" "$T/bait.ready" &
pids+=($!)
for _ in $(seq 100); do [ -e "$T/bait.ready" ] && break; sleep 0.05; done

make_base
C=$T/ctx
mkdir -p "$C"
# Every attack in one RUN; each result is a file of the image.
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
ARG PORT
ARG ABS
ARG MARK
RUN probe netdevs >/devs; \
    probe connect 127.0.0.1 $PORT >/lo; \
    probe connect 10.0.2.2 $PORT >/gw; \
    probe abstract $ABS >/abs; \
    probe sniff 1 $MARK >/sniff; \
    probe http 10.213.7.2 8000 hello.txt >/remote 2>&1; true
EOF
BA=(--build-arg PORT="$port" --build-arg ABS="$ABS" --build-arg MARK="$MARK")
in_img() { p run --network none "$1" cat "$2"; }

build "$C" "${BA[@]}" -t net-default
ck "the build with the default network succeeds" test "$rc" = 0
ck "default RUN: its own interfaces, lo and tap0" test "$(in_img net-default /devs | tr '\n' ' ')" = "lo tap0 "
ck "default RUN: the host's 127.0.0.1 listener is not reachable" \
	test "$(in_img net-default /lo)" = "failed: Connection refused"
ck "default RUN: nor through the gateway address" grep -q '^failed: ' <(in_img net-default /gw)
ck "default RUN: the host's abstract UNIX socket is not reachable" \
	test "$(in_img net-default /abs)" = "failed: Connection refused"
ck "default RUN: AF_PACKET sees none of the host's packets" grep -q ' marked=0$' <(in_img net-default /sniff)
ck "default RUN: outbound connections work (the remote test host answers)" \
	test "$(in_img net-default /remote)" = "remote-$$"

build "$C" "${BA[@]}" -t net-host-keyed --network host
ck "build --network host does not reuse the RUN cached under the default network" \
	test "$(in_img net-host-keyed /lo)" = connected
build "$C" "${BA[@]}" -t net-default-again
ck "... and the default network's RUN stays cached beside it" grep -q 'CACHED' "$T/out"

build "$C" "${BA[@]}" -t net-host --network host --no-cache
ck "build --network host: RUN reaches the host's 127.0.0.1" test "$(in_img net-host /lo)" = connected
ck "... and the host's abstract socket" test "$(in_img net-host /abs)" = connected
ck "... and sees the host's packets" grep -qv ' marked=0$' <(in_img net-host /sniff)
ck "... and the remote test host" test "$(in_img net-host /remote)" = "remote-$$"

build "$C" "${BA[@]}" -t net-none --network none --no-cache
ck "build --network none: only lo" test "$(in_img net-none /devs)" = lo
ck "... no host listener" test "$(in_img net-none /lo)" = "failed: Connection refused"
ck "... no outbound connection" grep -q 'probe: connect' <(in_img net-none /remote)

# Per step, as BuildKit: --network=host (with the caller's consent) and none override the
# build's network, default follows it.
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
ARG PORT
ARG ABS
RUN --network=host probe connect 127.0.0.1 $PORT >/host-lo; true
RUN --network=none probe netdevs >/none-devs
RUN --network=default probe abstract $ABS >/default-abs; true
EOF
build "$C" "${BA[@]}" -t net-steps
ck "RUN --network=host is refused without --allow network.host" test "$rc" = 1
ck "... saying what to do" grep -q 'RUN --network=host is not allowed: build with --allow network.host' "$T/out"
build "$C" "${BA[@]}" -t net-steps --allow network.host
ck "RUN --network=host reaches the host's loopback" test "$(in_img net-steps /host-lo)" = connected
ck "RUN --network=none has only lo" test "$(in_img net-steps /none-devs)" = lo
ck "RUN --network=default is the build's default: no host abstract socket" \
	test "$(in_img net-steps /default-abs)" = "failed: Connection refused"
build "$C" "${BA[@]}" -t net-steps-again
ck "a cached RUN --network=host is refused without --allow too" test "$rc" = 1
build "$C" "${BA[@]}" -t net-steps-again --allow network.bridge
ck "--allow takes only network.host and security.insecure" test "$rc" = 2
build "$C" "${BA[@]}" -t net-steps-hostbuild --network host
ck "build --network host allows RUN --network=host" test "$rc" = 0
build "$C" "${BA[@]}" -t net-steps-none --network none --allow network.host --no-cache
ck "RUN --network=default follows build --network none" \
	test "$(in_img net-steps-none /default-abs)" = "failed: Connection refused"

# ---- plate run -------------------------------------------------------------------------------
ck "plate run: the host's 127.0.0.1 listener is not reachable" \
	test "$(p run base:test probe connect 127.0.0.1 "$port")" = "failed: Connection refused"
ck "plate run: nor the host's abstract socket" \
	test "$(p run base:test probe abstract "$ABS")" = "failed: Connection refused"
ck "plate run: AF_PACKET sees none of the host's packets" \
	grep -q ' marked=0$' <(p run base:test probe sniff 1 "$MARK")
ck "plate run: outbound connections work" \
	test "$(p run base:test probe http 10.213.7.2 8000 hello.txt)" = "remote-$$"
ck "plate run --network host: the host's loopback" \
	test "$(p run --network host base:test probe connect 127.0.0.1 "$port")" = connected
ck "plate run --network host: the host's abstract socket" \
	test "$(p run --network host base:test probe abstract "$ABS")" = connected
ck "plate run --network host: the host's packets" \
	grep -qv ' marked=0$' <(p run --network host base:test probe sniff 1 "$MARK")
ck "plate run --network none: only lo" test "$(p run --network none base:test probe netdevs)" = lo
ck "plate run --network bogus is a usage error" bash -c "'$PLATE' --root '$R' run --network bogus base:test true; test \$? = 2"

# ---- DNS through the forwarder, with a loopback resolver on the host --------------------------
cat >"$T/dns.py" <<'EOF'
import socket, struct, sys
# Answers A queries for any name with 192.0.2.7, anything else with an empty answer.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 53))
open(sys.argv[2], "w").close()
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 17:
        continue
    end = 12 + q[12:].index(b"\0") + 5
    qtype = struct.unpack(">H", q[end - 4:end - 2])[0]
    ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.7") if qtype == 1 else b""
    s.sendto(q[:2] + b"\x81\x80\x00\x01" + struct.pack(">H", 1 if ans else 0) + b"\x00\x00\x00\x00" + q[12:end] + ans, peer)
EOF
python3 "$T/dns.py" 127.213.7.53 "$T/dns.ready" &
pids+=($!)
for _ in $(seq 100); do [ -e "$T/dns.ready" ] && break; sleep 0.05; done
printf 'nameserver 127.213.7.53\n' >"$T/resolv.conf"
# in_host_resolver CMD...: plate with the host's /etc/resolv.conf naming the loopback stub.
in_host_resolver() { unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf" "$@"; }
in_host_resolver "$PLATE" --root "$R" run base:test cat /etc/resolv.conf >"$T/rc" 2>&1
ck "resolv.conf of the default network: only the forwarder (the loopback resolver is the host's)" \
	test "$(cat "$T/rc")" = "nameserver 10.0.2.3"
in_host_resolver "$PLATE" --root "$R" run base:test nslookup plate-dns.test >"$T/ns" 2>&1
ck "a name resolves through the forwarder to the host's loopback resolver" grep -q '192.0.2.7' "$T/ns" ||
	diag "$(cat "$T/ns")"
tap_done
