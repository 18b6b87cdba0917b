# A private dockerd for the tests that need Docker as a peer (sourced after lib.sh; root
# only: Debian's docker.io has no rootless mode without rootlesskit).  Socket, data and exec
# roots under $T/dk (a short path: the unix socket limit), its own socket (never the
# system's), no bridge, no iptables; stopped by its PID (containerd exits with it), then the
# mounts it left under $T are taken down.  DOCKER is Debian's 20.10 client (with its built-in
# BuildKit client); a newer CLI elsewhere in PATH may need buildx.
DOCKER=/usr/bin/docker
DOCKERD_DIR=$T/dk

# dockerd_need: skips the test when docker.io is not installed.
dockerd_need() {
	[ -x "$DOCKER" ] && command -v dockerd >/dev/null || tap_skip_all "docker.io not installed"
}

# start_dockerd STORAGE_DRIVER: 0 once the daemon answers, 1 when it died or did not answer
# within 30 s (its log: $DOCKERD_DIR/log).  Exports DOCKER_HOST and DOCKER_CONFIG for the
# client (only now: other peers, podman among them, read DOCKER_CONFIG too).
start_dockerd() {
	local dpid
	export DOCKER_HOST=unix://$DOCKERD_DIR/s DOCKER_CONFIG=$DOCKERD_DIR/client
	mkdir -p "$DOCKERD_DIR"
	echo '{}' >"$DOCKERD_DIR/daemon.json"
	setsid dockerd --config-file "$DOCKERD_DIR/daemon.json" --data-root "$DOCKERD_DIR/data" \
		--exec-root "$DOCKERD_DIR/x" --pidfile "$DOCKERD_DIR/pid" -H "$DOCKER_HOST" \
		--iptables=false --ip6tables=false --bridge=none --storage-driver "$1" \
		--log-level warn >"$DOCKERD_DIR/log" 2>&1 </dev/null &
	dpid=$!
	for _ in $(seq 1 300); do
		$DOCKER version >/dev/null 2>&1 && return 0
		kill -0 "$dpid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_dockerd: for the test's EXIT trap; harmless when none was started.
stop_dockerd() {
	local pid m
	if [ -f "$DOCKERD_DIR/pid" ] && pid=$(cat "$DOCKERD_DIR/pid") && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	fi
	for m in $(awk -v s="$T/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
}
