#!/usr/bin/env bash
# The README's first command: install dependencies, build plate, and build and run the example
# service (examples/go-service) offline: a Go builder base is made from this machine's Debian
# packages (scripts/make-builder-base.sh), the multi-stage Dockerfile is built into a FROM
# scratch image, rebuilt (all cached), and run, answering /healthz.
# The store is $PLATE_ROOT, default build/demo-store, kept afterwards so that
# `./plate --root build/demo-store images` shows the result (a second run reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== scripts/deps.sh: the Debian packages plate needs (apt-get when some are missing)"
bash scripts/deps.sh
echo "== make: building plate (about 30 s on 2 cores)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# One line that counts the files compiled, rather than 30 s of silence or 150 compiler lines.
if ! make -j"$(nproc)" 2>&1 | tee "$log" |
	awk '/^(cc|gcc|clang) .* -c / { n++; printf "\r   %d files compiled", n; fflush() }
	     END { if (n) print "" }'; then
	tail -20 "$log" >&2
	exit 1
fi
example=examples/go-service
export PLATE_ROOT=${PLATE_ROOT:-$PWD/build/demo-store}
echo "== the demo's store: $PLATE_ROOT (kept)"
echo "== plate plan $example (the builder base is passed as a build-arg, as offline builds do)"
# The plan is JSON (docs/plan-json.md); summarised here: stages, their bases and steps.
./plate plan --build-arg GO_IMAGE=golang:1.19-local "$example" | jq -r '
	"target: stage \(.target), build order: \(.order | map(tostring) | join(", "))",
	(.stages[] | "stage \(.index)\(if .name then " (\(.name))" else "" end): FROM \(.from // .from_stage)"
		+ (if (.depends_on | length) > 0 then ", uses stage \(.depends_on | map(tostring) | join(", "))" else "" end),
		(.steps[] | "  line \(.line): \(.instruction) \(.args | join(" "))"))'
echo "(the whole plan: ./plate plan --build-arg GO_IMAGE=golang:1.19-local $example)"
echo
echo "== scripts/make-builder-base.sh: golang:1.19-local from Debian's packages (about 10 s)"
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
echo
echo "== done; the demo's store is kept in $PLATE_ROOT:"
echo "   ./plate --root $PLATE_ROOT images      (or: export PLATE_ROOT=$PLATE_ROOT)"
