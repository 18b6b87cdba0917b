#!/usr/bin/env bash
# The engines of a multi-platform build pull a base image they all need once (pipeline.c
# pull_image): a `FROM --platform=$BUILDPLATFORM` stage's base missing from a fresh store is
# the same reference and platform for every platform's engine; the first pulls, the others
# wait for it.  Proved by the docker-registry's own log (one GET per blob, one manifest GET)
# and the build's pull lines, not by timing.  No emulation: the RUN is in the $BUILDPLATFORM
# stage, the images FROM scratch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
build_prereqs
reg_need docker-registry python3
[ "$(uname -m)" = x86_64 ] || tap_skip_all "the base image is this machine's busybox: the test needs an x86_64 build platform"
start_registry reg || tap_skip_all "docker-registry does not start here"
REG=127.0.0.1:$REG_PORT
make_base
p push base:test "$REG/lib/base:1" >"$T/out" 2>&1 || { show_out; tap_skip_all "cannot push the base"; }

C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<EOF
FROM --platform=\$BUILDPLATFORM $REG/lib/base:1 AS gen
ARG TARGETARCH
RUN echo "for \$TARGETARCH" >/arch
FROM scratch
COPY --from=gen /arch /
EOF
# gets KIND: the registry's successful GETs of lib/base's KIND (blobs, manifests) since mark.
gets() { tail -n +"$((mark + 1))" "$T/reg.log" | grep -Ec "\"GET /v2/lib/base/$1/[^ ]* HTTP/[0-9.]*\" 200"; }
pulls() { grep -c "^pulling $REG/lib/base:1 " "$T/out"; }
BLOBS=$(p inspect base:test | jq '.[0].RootFS.Layers | length + 1')

R=$T/fresh
mark=$(wc -l <"$T/reg.log")
build "$C" --platform linux/amd64,linux/arm64 -t app
ck "a two-platform build whose \$BUILDPLATFORM base is not in the store" test "$rc" = 0
ck "... the registry served each blob of the base once ($BLOBS)" test "$(gets blobs)" = "$BLOBS"
ck "... and its manifest once" test "$(gets manifests)" = 1
ck "... the build pulled it once" test "$(pulls)" = 1
tap_done
