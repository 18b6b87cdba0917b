#!/usr/bin/env bash
# The README's first command: install dependencies, build plate, and show what plate does with
# the example service (examples/go-service): its parse tree and its build plan.
# (The build engine is not there yet; when it lands this script builds and runs the image.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -j"$(nproc)" >/dev/null
example=examples/go-service
echo "== plate parse $example/Dockerfile"
./plate parse "$example/Dockerfile"
echo
echo "== plate plan $example (the builder base is passed as a build-arg, as offline builds do)"
./plate plan --build-arg GO_IMAGE=golang:1.19-local "$example"
