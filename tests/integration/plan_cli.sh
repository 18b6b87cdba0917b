#!/usr/bin/env bash
# plate plan: the CLI contract (options, Dockerfile lookup, JSON shape, exit codes, located
# errors) and every real-world Dockerfile of the conformance corpus.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
: "${PLATE_CONFORMANCE:?PLATE_CONFORMANCE must name the conformance corpus}"
rw=$PLATE_CONFORMANCE/realworld
[ -f "$rw/manifest.tsv" ] || tap_skip_all "conformance corpus not found: no $rw/manifest.tsv"

# jq_is FILE FILTER WANT: the compact jq result equals WANT.
jq_is() {
	local got
	got=$(jq -c "$2" "$1" 2>&1)
	[ "$got" = "$3" ] || { echo "# $2: got $got, want $3"; return 1; }
}

# --- the seed's multi-stage pattern ----------------------------------------------------------
mkdir -p "$T/seed"
cat >"$T/seed/Dockerfile" <<'EOF'
ARG GO_IMAGE=golang:1.22-alpine
FROM ${GO_IMAGE} AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . ./
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/plate-demo .

FROM scratch
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=builder /out/plate-demo /app/plate-demo
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/app/plate-demo"]
EOF
"$PLATE" plan "$T/seed" >"$T/seed.json" 2>"$T/err"; rc=$?
tap_check "seed: exit 0" test "$rc" = 0
tap_check "seed: valid JSON" jq -e . "$T/seed.json" >/dev/null
tap_check "seed: target and order" jq_is "$T/seed.json" '[.target, .order]' '[1,[0,1]]'
tap_check "seed: stage keys in order" jq_is "$T/seed.json" '.stages[0] | keys_unsorted' \
	'["index","name","from","from_stage","needed","depends_on","steps"]'
tap_check "seed: step keys in order" jq_is "$T/seed.json" '.stages[0].steps[0] | keys_unsorted' \
	'["line","instruction","args"]'
tap_check "seed: builder image normalised" jq_is "$T/seed.json" '.stages[0].from' \
	'"docker.io/library/golang:1.22-alpine"'
tap_check "seed: scratch" jq_is "$T/seed.json" '[.stages[1].from, .stages[1].name, .stages[1].depends_on]' \
	'["scratch",null,[0]]'
tap_check "seed: COPY step" jq_is "$T/seed.json" '.stages[1].steps[1]' \
	'{"line":11,"instruction":"COPY","args":["/out/plate-demo","/app/plate-demo"]}'
tap_check "seed: 2-space indentation" grep -qx '  "target": 1,' "$T/seed.json"
tap_check "seed: nothing on stderr" test ! -s "$T/err"

# --- Dockerfile lookup -----------------------------------------------------------------------
mkdir -p "$T/lower" "$T/other"
printf 'FROM alpine\n' >"$T/lower/dockerfile"
"$PLATE" plan "$T/lower" >"$T/out" 2>&1; rc=$?
tap_check "lower-case dockerfile is the fallback" test "$rc" = 0
printf 'FROM busybox\n' >"$T/other/build.Dockerfile"
"$PLATE" plan -f "$T/other/build.Dockerfile" "$T/lower" >"$T/out" 2>&1
tap_check "-f FILE wins over CONTEXT/dockerfile" jq_is "$T/out" '.stages[0].from' '"docker.io/library/busybox:latest"'
"$PLATE" plan --file="$T/other/build.Dockerfile" "$T/lower" >"$T/out" 2>&1
tap_check "--file=FILE" jq_is "$T/out" '.stages[0].from' '"docker.io/library/busybox:latest"'
printf 'FROM debian\n' | "$PLATE" plan -f - "$T/lower" >"$T/out" 2>&1
tap_check "-f - reads stdin" jq_is "$T/out" '.stages[0].from' '"docker.io/library/debian:latest"'
mkdir -p "$T/empty"
"$PLATE" plan "$T/empty" >"$T/out" 2>"$T/err"; rc=$?
tap_check "missing Dockerfile exits 1" test "$rc" = 1
tap_check "missing Dockerfile is named" grep -q "cannot open '$T/empty/Dockerfile'" "$T/err"

"$PLATE" plan -f "$T/other/build.Dockerfile" "$T/no-such-dir" >"$T/out" 2>"$T/err"; rc=$?
tap_check "a missing CONTEXT exits 1 even with -f" test "$rc" = 1
tap_check "the missing CONTEXT is named" grep -q "no-such-dir" "$T/err"

# --- options ---------------------------------------------------------------------------------
cat >"$T/other/Dockerfile" <<'EOF'
ARG BASE=alpine
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ARG TARGETOS TARGETARCH VERSION=dev
WORKDIR /out/$TARGETOS/$TARGETARCH/$VERSION
FROM ${BASE} AS runtime
COPY --from=build /out /out
FROM scratch AS unused
EOF
"$PLATE" plan --target runtime --platform linux/arm64 --build-arg VERSION=1.2 \
	--build-arg=BASE=gcr.io/distroless/static:nonroot "$T/other" >"$T/out" 2>"$T/err"; rc=$?
tap_check "options: exit 0" test "$rc" = 0
tap_check "--target selects the stage" jq_is "$T/out" '[.target, .order, [.stages[].needed]]' \
	'[1,[0,1],[true,true,false]]'
tap_check "--build-arg and --platform reach the stage" jq_is "$T/out" '.stages[0].steps[1].args' \
	'["/out/linux/arm64/1.2"]'
tap_check "--build-arg=K=V reaches FROM" jq_is "$T/out" '.stages[1].from' '"gcr.io/distroless/static:nonroot"'
VERSION=from-env "$PLATE" plan --target=RUNTIME --build-arg VERSION "$T/other" >"$T/out" 2>&1
tap_check "--build-arg NAME takes the environment" jq_is "$T/out" '.stages[0].steps[1].args[0] | endswith("/from-env")' 'true'
env -u VERSION "$PLATE" plan --target=runtime --build-arg VERSION "$T/other" >"$T/out" 2>&1
tap_check "--build-arg NAME unset in the environment is dropped" jq_is "$T/out" '.stages[0].steps[0].args' \
	'["TARGETOS=linux","TARGETARCH=amd64","VERSION=dev"]'

# --- errors ----------------------------------------------------------------------------------
"$PLATE" plan --target nope "$T/other" >"$T/out" 2>"$T/err"; rc=$?
tap_check "unknown target exits 2" test "$rc" = 2
tap_check "unknown target is named" grep -q "target stage 'nope' could not be found" "$T/err"
mkdir -p "$T/bad"
printf 'FROM alpine\nARG V\n  WORKDIR ${V:?V is required}\n' >"$T/bad/Dockerfile"
"$PLATE" plan "$T/bad" >"$T/out" 2>"$T/err"; rc=$?
tap_check "expansion error exits 2" test "$rc" = 2
tap_check "expansion error is located" grep -q "^$T/bad/Dockerfile:3:3: error: .*V is required" "$T/err"
tap_check "the offending line and a caret" grep -qx '    \^' "$T/err"
tap_check "no JSON on error" test ! -s "$T/out"
"$PLATE" plan --build-arg V=/v "$T/bad" >"$T/out" 2>&1
tap_check "the build-arg fixes it" jq_is "$T/out" '.stages[0].steps[1].args' '["/v"]'
printf 'FROM alpine\nRUN echo "unterminated\nFROM ["x", 1]\n' >"$T/bad/Dockerfile"
"$PLATE" plan "$T/bad" >"$T/out" 2>"$T/err"; rc=$?
tap_check "parse error exits 2" test "$rc" = 2
tap_check "parse error is located" grep -q "^$T/bad/Dockerfile:3:[0-9]*: error:" "$T/err"
printf 'FROM alpine AS a\nCOPY --from=b / /\nFROM alpine AS b\nCOPY --from=a / /\n' >"$T/bad/Dockerfile"
"$PLATE" plan "$T/bad" >"$T/out" 2>"$T/err"; rc=$?
tap_check "circular dependency exits 2" test "$rc" = 2
tap_check "circular dependency is located" grep -q "Dockerfile:2:1: error: circular dependency" "$T/err"
# RUN --mount, typed once: each mount names its own source (an empty from= is the context).
printf 'FROM alpine AS b\nFROM alpine\nRUN --mount=from=,target=/a --mount=FROM=b,Dst=/b,rw \\\n    --mount=type=cache,target=/c --mount=type=secret,id=s,env=S true\nRUN true\n' \
	>"$T/bad/Dockerfile"
"$PLATE" plan "$T/bad" >"$T/out" 2>"$T/err"; rc=$?
tap_check "mounts: exit 0" test "$rc" = 0
tap_check "mounts: typed, each with its own source" jq_is "$T/out" \
	'[.stages[1].steps[0].mounts[] | [.type, .target, .from_stage, .from_image, .readonly, .id]]' \
	'[["bind","/a",null,null,true,null],["bind","/b",0,null,false,null],["cache","/c",null,null,false,"/c"],["secret",null,null,null,true,"s"]]'
tap_check "mounts: only RUN steps with mounts have the key" jq_is "$T/out" \
	'[(.stages[1].steps[1] | has("mounts")), (.stages[1].steps[0] | keys_unsorted)]' \
	'[false,["line","instruction","args","mounts"]]'
printf 'FROM alpine\nRUN true\n  RUN --device=/dev/fuse true\n' >"$T/bad/Dockerfile"
"$PLATE" plan "$T/bad" >"$T/out" 2>"$T/err"; rc=$?
tap_check "RUN --device is refused, located, exit 2" \
	sh -c "test $rc = 2 && grep -q \"^$T/bad/Dockerfile:3:3: error: unknown flag '--device' for RUN\" '$T/err'"
printf 'FROM alpine\nRUN --mount=type=cache,target=/c,size=1k true\n' >"$T/bad/Dockerfile"
"$PLATE" plan "$T/bad" >"$T/out" 2>"$T/err"; rc=$?
tap_check "a mount key of another type is refused, located, exit 2" \
	sh -c "test $rc = 2 && grep -q \"^$T/bad/Dockerfile:2:1: error: .*unexpected key 'size' for mount type 'cache'\" '$T/err'"
"$PLATE" plan >"$T/out" 2>&1; rc=$?
tap_check "no CONTEXT exits 2" test "$rc" = 2
"$PLATE" plan --frobnicate "$T/seed" >"$T/out" 2>&1; rc=$?
tap_check "unknown option exits 2" test "$rc" = 2
"$PLATE" plan --platform linux/ "$T/seed" >"$T/out" 2>"$T/err"; rc=$?
tap_check "malformed --platform exits 2" test "$rc" = 2
"$PLATE" plan --target >"$T/out" 2>&1; rc=$?
tap_check "option without value exits 2" test "$rc" = 2
"$PLATE" plan --help >"$T/out" 2>&1; rc=$?
tap_check "--help exits 0" test "$rc" = 0
tap_check "--help prints usage" grep -q '^usage: plate plan' "$T/out"

# --- the 50 real-world Dockerfiles -----------------------------------------------------------
# Build-args documented in manifest.tsv's language note, and the ones a file cannot do without
# (a global ARG with no default used in a FROM: BuildKit refuses those files without it too).
extra_args() {
	case $1 in
	dexidp_dex__Dockerfile.Dockerfile) echo "--build-arg BASE_IMAGE=distroless" ;;
	VictoriaMetrics_VictoriaMetrics__app_victoria-metrics_multiarch_Dockerfile.Dockerfile)
		echo "--build-arg root_image=scratch" ;;
	hashicorp_consul-dataplane__Dockerfile.Dockerfile) echo "--build-arg GOLANG_VERSION=1.25" ;;
	kubernetes-sigs_cluster-api__Dockerfile.Dockerfile) echo "--build-arg builder_image=golang:1.25" ;;
	projectcontour_contour__Dockerfile.Dockerfile) echo "--build-arg BUILD_BASE_IMAGE=golang:1.25" ;;
	esac
}
# A needed stage only depends on earlier stages, the target is last in order, and only needed
# stages are in order.
consistent='.target as $t | .order[-1] == $t and
	([.stages[] | select(.needed) | .index] == .order) and
	all(.stages[] | select(.needed); . as $s | all(.depends_on[]; . < $s.index)) and
	all(.stages[]; (.from == null) == (.from_stage != null))'
count=0
while IFS=$'\t' read -r file _repo _path _commit _lic _lf _lang stages _final _feat; do
	[ "$file" = file ] && continue
	count=$((count + 1))
	# shellcheck disable=SC2046
	"$PLATE" plan -f "$rw/$file" $(extra_args "$file") "$T" >"$T/rw.json" 2>"$T/rw.err"; rc=$?
	if [ "$rc" != 0 ]; then
		sed 's/^/# /' "$T/rw.err"
	fi
	tap_check "realworld $file: exit 0" test "$rc" = 0
	tap_check "realworld $file: valid JSON, $stages stages, consistent" \
		jq_is "$T/rw.json" "(.stages | length) == $stages and ($consistent)" true
done <"$rw/manifest.tsv"
tap_check "realworld: all 50 files seen" test "$count" = 50

# Without their required build-arg, the three files fail as they do with BuildKit.
for f in hashicorp_consul-dataplane__Dockerfile.Dockerfile kubernetes-sigs_cluster-api__Dockerfile.Dockerfile \
	projectcontour_contour__Dockerfile.Dockerfile; do
	"$PLATE" plan -f "$rw/$f" "$T" >"$T/out" 2>"$T/err"; rc=$?
	tap_check "realworld $f without its build-arg: located error, exit 2" \
		sh -c "test $rc = 2 && grep -q '^$rw/$f:[0-9]*:1: error:' '$T/err'"
done

tap_done
