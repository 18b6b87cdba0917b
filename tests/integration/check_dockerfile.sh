#!/usr/bin/env bash
# plate check DOCKERFILE and plate build --check: exit codes, formats, context findings, and
# every real-world Dockerfile of the conformance set linted without a crash.
. "$(dirname "$0")/lib.sh"

rw=$PLATE_CONFORMANCE/realworld
[ -d "$rw" ] || tap_skip_all "conformance corpus not found at $rw"
mkdir -p "$T/empty" "$T/ctx"

# Every real-world Dockerfile: exit 0 (findings are warnings), never a crash or a parse error.
all_clean=true
for f in "$rw"/*.Dockerfile; do
	"$PLATE" check "$f" "$T/empty" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "# $f: exit $rc"; sed 's/^/#   /' "$T/err"; all_clean=false
	fi
done
tap_check "every realworld Dockerfile lints, exit 0" $all_clean
tap_check "realworld json output" bash -c \
	"'$PLATE' check --format json '$rw/coredns_coredns__Dockerfile.Dockerfile' '$T/empty' | grep -q '\"summary\"'"

# A finding known to be there: cloudflared uses global ARGs in a stage without declaring them.
tap_check "realworld: UndefinedVar in cloudflared" \
	grep -q "UndefinedVar" <("$PLATE" check "$rw/cloudflare_cloudflared__Dockerfile.Dockerfile" "$T/empty")

cd "$T/ctx" || exit 1
printf 'FROM scratch AS Build\nCOPY . /app\nCMD run\n' > Dockerfile
echo SECRET=1 > .env
echo code > main.go
"$PLATE" check Dockerfile . > "$T/out"
tap_check "warnings only: exit 0" test $? = 0
tap_check "StageNameCasing at line 1" grep -q "^Dockerfile:1: warning: Stage name 'Build' should be lowercase \[StageNameCasing\]" "$T/out"
tap_check "SecretInContext names .env and the COPY line" grep -q "^Dockerfile:2: warning: '.env' looks like a secret.*\[SecretInContext\]" "$T/out"
"$PLATE" check --strict Dockerfile . > /dev/null
tap_check "--strict: exit 3" test $? = 3
printf 'FROM scratch AS builder\nCOPY . /src\nFROM scratch\nCOPY --from=builder /src /app\n' > D3
"$PLATE" check D3 . > "$T/out"
tap_check "SecretInContext follows .env through COPY --from into /app/.env" \
	grep -q "^D3:4: warning: '.env' looks like a secret and reaches the image as '/app/.env' through COPY --from=builder '/src'.*\[SecretInContext\]" "$T/out"
rm D3
echo .env > .dockerignore
tap_check ".dockerignore excluding .env: no SecretInContext" \
	bash -c "! '$PLATE' check Dockerfile . | grep -q SecretInContext"
"$PLATE" check --format json Dockerfile . > "$T/json"
tap_check "json output" grep -q '"summary":{"error":0,"info":0,"warning":2}' "$T/json"
printf '# check=error=true;skip=StageNameCasing\nFROM scratch AS Build\nCMD run\n' > D2
"$PLATE" check D2 . > "$T/out"
tap_check "check=error=true: exit 3" test $? = 3
tap_check "skip honoured" bash -c "! grep -q StageNameCasing '$T/out'"
"$PLATE" check --build-arg BUILDKIT_DOCKERFILE_CHECK=skip=all D2 . > "$T/out"
tap_check "BUILDKIT_DOCKERFILE_CHECK build arg replaces the directive" test $? = 0 -a ! -s "$T/out"
"$PLATE" build --check -f D2 . > "$T/out" 2>/dev/null
tap_check "build --check: exit 3 under error=true, no build" test $? = 3
tap_check "build --check prints findings on stdout" grep -q JSONArgsRecommended "$T/out"
"$PLATE" build --check . > "$T/out" 2>/dev/null
tap_check "build --check: warnings exit 0" test $? = 0
printf 'FROM scratch\nENV A\n' > bad
"$PLATE" check bad . >/dev/null 2>&1
tap_check "unparsable Dockerfile: exit 2" test $? = 2
"$PLATE" check >/dev/null 2>&1
tap_check "no Dockerfile: usage exit 2" test $? = 2

# A base image in the store (--root) informs UndefinedVar and InvalidBaseImagePlatform.
mkdir -p "$T/rootfs/etc" && echo x > "$T/rootfs/etc/x"
tar -C "$T/rootfs" -cf "$T/r.tar" .
"$PLATE" --root "$T/store" import -c 'ENV GOPATH=/go' --platform linux/s390x "$T/r.tar" base:1 >/dev/null
printf 'FROM base:1\nLABEL a=$GOPATH b=$GOPTH\n' > D3
"$PLATE" --root "$T/store" check D3 "$T/empty" > "$T/out"
tap_check "store base image env: typo reported with a suggestion" \
	grep -q "Usage of undefined variable '\$GOPTH' (did you mean \$GOPATH?)" "$T/out"
tap_check "store base image env: its variables are defined" bash -c "! grep -q \"'\\\$GOPATH'\" '$T/out'"
tap_check "store base image platform: InvalidBaseImagePlatform" grep -q "InvalidBaseImagePlatform" "$T/out"
tap_done
