#!/usr/bin/env bash
# The seed's Dockerfile, verbatim (tests/seed-go: FROM golang:1.22-alpine ... FROM scratch),
# built in an empty store whose only way to golang:1.22-alpine is a mirror: a local
# docker-registry serving a stand-in (scripts/make-builder-base.sh, pushed by plate as
# library/golang:1.22-alpine) through PLATE_REGISTRY_MIRRORS.  The image then runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
build_prereqs
reg_need docker-registry
[ -x /usr/lib/go-1.19/bin/go ] || tap_skip_all "golang-1.19-go not installed"

start_registry reg || tap_skip_all "docker-registry does not start here"
M=127.0.0.1:$REG_PORT
PLATE=$PLATE "$PLATE_SRC/scripts/make-builder-base.sh" golang:stand-in >"$T/base.log" 2>&1
ck "the stand-in builder base is made" test $? = 0 || diag "$(tail -5 "$T/base.log")"
p push -q golang:stand-in "$M/library/golang:1.22-alpine" >/dev/null 2>"$T/push.err"
ck "plate pushes it as library/golang:1.22-alpine" test $? = 0 || diag "$(cat "$T/push.err")"

S2=$T/fresh
cp -r "$PLATE_SRC/tests/seed-go" "$T/ctx"
PLATE_REGISTRY_MIRRORS="docker.io=http://$M" "$PLATE" --root "$S2" build --progress plain \
	-t my-service "$T/ctx" >"$T/build.out" 2>&1
ck "the seed's Dockerfile builds through the mirror" test $? = 0 || diag "$(tail -20 "$T/build.out")"
ck "golang:1.22-alpine was pulled from the mirror" grep -q "pulled docker.io/library/golang:1.22-alpine" "$T/build.out"
ck "the store names the base as docker.io/library/golang:1.22-alpine" \
	bash -c "'$PLATE' --root '$S2' images | grep -q '^golang *1.22-alpine'"
out=$("$PLATE" --root "$S2" run --network none my-service 2>&1)
ck "the image runs" test "$out" = "my-awesome-service: hello" || diag "$out"
ck "only the binary and the CA bundle" test "$("$PLATE" --root "$S2" inspect my-service | jq '.[0].RootFS.Layers | length')" = 2 ||
	diag "$("$PLATE" --root "$S2" inspect my-service | head -40)"
tap_done
