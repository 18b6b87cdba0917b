#!/usr/bin/env bash
# Issue 16's CI scenario on the README's example: runner A builds examples/go-service with
# the offline Go base and exports its cache to docker-registry (mode=max); runner B, a fresh
# store holding only the base, builds with --cache-from: every step CACHED (registry), A's
# image (config and manifest digests), and only the final image's layers fetched; runner C
# after a main.go edit gets `go mod download` from the cache and rebuilds the binary, whose
# image answers /healthz.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
build_prereqs
reg_need docker-registry python3 curl
[ -x /usr/lib/go-1.19/bin/go ] || tap_skip_all "golang-1.19-go not installed"

A=$R
PLATE=$PLATE "$PLATE_SRC/scripts/make-builder-base.sh" >"$T/base.log" 2>&1 ||
	{ diag "$(cat "$T/base.log")"; tap_skip_all "make-builder-base.sh failed"; }
p save -o "$T/base.tar" golang:1.19-local >/dev/null
start_registry reg || tap_skip_all "docker-registry does not start here"
REF=127.0.0.1:$REG_PORT/ci/demo:cache
GO=(--build-arg GO_IMAGE=golang:1.19-local)
fresh() {
	R=$T/$1
	p load -i "$T/base.tar" >/dev/null
}
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
cached() { grep -c "^#[0-9]* CACHED (registry)\$" "$T/out"; }
mdigest() {
	jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] ==
		"docker.io/library/demo:latest") | .digest' "$R/index.json"
}

cp -r "$PLATE_SRC/examples/go-service" "$T/ctx"
build "$T/ctx" "${GO[@]}" -t demo --cache-to type=registry,ref="$REF",mode=max
ck "runner A builds the example and exports its cache" bash -c "test $rc = 0 && grep -q 'cache exported to $REF' '$T/out'"
ID=$(p inspect demo | jq -r '.[0].Id // empty')
MD=$(mdigest)
BASE_SNAPS=$(p inspect golang:1.19-local | jq '.[0].RootFS.Layers | length')

fresh B
build "$T/ctx" "${GO[@]}" -t demo --cache-from type=registry,ref="$REF"
ck "runner B (fresh store): every step CACHED (registry)" bash -c "test $rc = 0 && test $(cached) = 7 && grep -q '(7 steps, 7 cached)' '$T/out'"
ck "... A's image ID" same "$(p inspect demo | jq -r '.[0].Id // empty')" "$ID"
ck "... and A's manifest digest" same "$(mdigest)" "$MD"
ck "... only the final image's two layers were fetched" test "$(ls "$R/snapshots" | wc -l)" = "$((BASE_SNAPS + 2))"
p fsck >"$T/fsck" 2>&1
ck "... and the store is sound" test $? = 0 || diag "$(cat "$T/fsck")"

cp -a "$T/ctx" "$T/ctx2"
echo '// edited by the test' >>"$T/ctx2/main.go"
fresh C
build "$T/ctx2" "${GO[@]}" -t demo --cache-from type=registry,ref="$REF"
ck "runner C after a main.go edit: go mod download comes from the cache" \
	bash -c "test $rc = 0 && grep -A1 'RUN go mod download' '$T/out' | grep -q 'CACHED (registry)'"
ck "... go build runs" bash -c "grep -A1 'RUN CGO_ENABLED=0' '$T/out' | grep -q 'CACHE MISS'"
port=$(free_port)
"$PLATE" --root "$R" run --network host -e LISTEN=127.0.0.1:$port demo >"$T/run.log" 2>&1 &
runpid=$!
_reg_pids+=($runpid)
health=""
for _ in $(seq 1 100); do
	health=$(curl -s --max-time 2 "http://127.0.0.1:$port/healthz") && [ "$health" = ok ] && break
	kill -0 "$runpid" 2>/dev/null || break
	sleep 0.2
done
ck "... and its image serves /healthz" test "$health" = ok || diag "$(cat "$T/run.log")"
tap_done
