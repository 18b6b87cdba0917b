#!/usr/bin/env bash
# The README's first command: install dependencies, build plate, and build and run the example
# service (examples/go-service) offline: a Go builder base is made from this machine's Debian
# packages (scripts/make-builder-base.sh), the multi-stage Dockerfile is built into a FROM
# scratch image, rebuilt (all cached), and run, answering /healthz.
# The store is $PLATE_ROOT (default: a fresh temporary directory, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -j"$(nproc)" >/dev/null
example=examples/go-service
if [ -z "${PLATE_ROOT:-}" ]; then
	PLATE_ROOT=$(mktemp -d /tmp/plate-demo.XXXXXX)
	trap 'rm -rf "$PLATE_ROOT"' EXIT
fi
export PLATE_ROOT
echo "== plate plan $example (the builder base is passed as a build-arg, as offline builds do)"
./plate plan --build-arg GO_IMAGE=golang:1.19-local "$example" | head -20
echo
echo "== scripts/make-builder-base.sh: golang:1.19-local from Debian's packages"
scripts/make-builder-base.sh
echo
echo "== plate build -t plate-demo $example"
./plate build --progress plain --build-arg GO_IMAGE=golang:1.19-local -t plate-demo "$example"
echo
echo "== again: every step comes from the cache"
./plate build --build-arg GO_IMAGE=golang:1.19-local -t plate-demo "$example"
echo
./plate images
./plate history plate-demo
echo
port=18080
echo "== plate run --network host plate-demo (LISTEN=127.0.0.1:$port), then GET /healthz"
./plate run --network host -e LISTEN=127.0.0.1:$port plate-demo &
pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
curl -s "http://127.0.0.1:$port/"
echo
kill "$pid"
wait "$pid" 2>/dev/null || true
