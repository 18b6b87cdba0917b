#!/usr/bin/env bash
# The build cache across plate processes: what a change in the context, a build-arg or an
# instruction re-runs, the context stat cache, COPY --from by content, --no-cache, failed
# builds, prune, and independent stages running in parallel.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

C=$T/ctx
mkdir -p "$C"
echo 'module example' >"$C/go.mod"
echo 'package main // v1' >"$C/main.go"
printf 'Dockerfile\n.dockerignore\n' >"$C/.dockerignore"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS builder
WORKDIR /src
COPY go.mod ./
RUN echo "deps of $(cat go.mod)" > /deps && echo ran-deps
COPY . ./
ARG VERSION=1
RUN echo "built v$VERSION from $(cat main.go)" > /out && echo ran-build
LABEL stage=builder

FROM base:test
COPY --from=builder /deps /deps
COPY --from=builder /out /out
EOF
ran() { grep -c "^#[0-9]* [0-9.]* ran-$1\$" "$T/out"; }
cached() { grep -c CACHED "$T/out"; }

build "$C" -t app
ck "first build runs everything" bash -c "test $rc = 0 && test $(ran deps) = 1 && test $(ran build) = 1"
id1=$(p inspect app | jq -r '.[0].Id')
build "$C" -t app
ck "a rebuild in another process is all CACHED" bash -c "test $(cached) = 7 && test $(ran deps) = 0 && test $(ran build) = 0"
ck "... and gives the same image" test "$(p inspect app | jq -r '.[0].Id')" = "$id1"
ck "... reported as cached steps" grep -q '(7 steps, 7 cached)' "$T/out"

echo 'package main // v2' >"$C/main.go"
build "$C" -t app
ck "editing main.go re-runs only what follows COPY . ./" bash -c "test $(ran deps) = 0 && test $(ran build) = 1"
ck "... COPY go.mod and its RUN stay CACHED" bash -c "grep -A1 'COPY go.mod' '$T/out' | grep -q CACHED && grep -A1 'RUN echo \"deps' '$T/out' | grep -q CACHED"
ck "... COPY --from of an unchanged file is CACHED by content" bash -c "grep -A1 'COPY --from=builder /deps' '$T/out' | grep -q CACHED"
ck "... the changed file is copied" test "$(p run --network none app cat /out)" = "built v1 from package main // v2"

echo 'module example // edited' >"$C/go.mod"
build "$C" -t app
ck "editing go.mod re-runs from COPY go.mod" bash -c "test $(ran deps) = 1 && test $(ran build) = 1"
ck "... WORKDIR stays CACHED" bash -c "grep -A1 'WORKDIR /src' '$T/out' | grep -q CACHED"

touch -d '2001-01-01' "$C/main.go"
build "$C" -t app
ck "touching a file without changing it keeps the cache" test "$(cached)" = 7

# The stat cache: same size, mtime and inode means unchanged, without reading the file.
mt=$(stat -c %y "$C/main.go")
printf 'package main // v3\n' >"$T/main.go.tmp"
cat "$T/main.go.tmp" >"$C/main.go"
touch -d "$mt" "$C/main.go"
build "$C" -t app
ck "context digests are cached by path, size, mtime and inode" test "$(ran build)" = 0
echo 'package main // v4, longer' >"$C/main.go"
build "$C" -t app
ck "a size change is seen" test "$(ran build)" = 1

build "$C" -t app --build-arg VERSION=2
ck "a build-arg the RUN sees re-runs it" bash -c "test $(ran build) = 1 && test $(ran deps) = 0"
ck "... with the value" test "$(p run --network none app cat /out)" = "built v2 from package main // v4, longer"

sed -i 's/^LABEL stage=builder$/LABEL stage=changed/' "$C/Dockerfile"
build "$C" -t app --build-arg VERSION=2
ck "a LABEL change re-runs nothing" test "$(cached)" = 7

build "$C" -t app --no-cache --build-arg VERSION=2
ck "--no-cache runs everything" bash -c "test $(cached) = 0 && test $(ran deps) = 1 && test $(ran build) = 1"
ck "... and gives the same image" test "$(p inspect app | jq -r '.[0].Id')" = "$(p build -q --build-arg VERSION=2 "$C" 2>/dev/null)"

# A failed build keeps what it finished.
C2=$T/ctx2
mkdir -p "$C2"
printf 'FROM base:test\nRUN echo ran-first > /first\nRUN exit 1\n' >"$C2/Dockerfile"
build "$C2"
ck "a failing build fails" test "$rc" = 1
printf 'FROM base:test\nRUN echo ran-first > /first\nRUN true\n' >"$C2/Dockerfile"
build "$C2"
ck "the steps before the failure are cached for the next build" bash -c "test $rc = 0 && grep -A1 'RUN echo ran-first' '$T/out' | grep -q CACHED"

# prune: the cache survives an image's removal until --all.
p rmi app >/dev/null
p prune >/dev/null
build "$C" -t app --build-arg VERSION=2
ck "plain prune keeps the build cache" test "$(cached)" = 7
p rmi app >/dev/null
p prune --all >/dev/null
build "$C" -t app --build-arg VERSION=2
ck "prune --all drops it" test "$(cached)" = 0
ck "the store is sound" p fsck

# Concurrent builds on one store.
mkdir -p "$T/cc1" "$T/cc2"
printf 'FROM base:test\nRUN echo same > /s && probe sleep 0.5\nCOPY f /f\n' >"$T/cc1/Dockerfile"
cp "$T/cc1/Dockerfile" "$T/cc2/"
echo 1 >"$T/cc1/f"
echo 2 >"$T/cc2/f"
p build -q --no-cache -t cc1 "$T/cc1" >"$T/id1" 2>&1 &
p build -q --no-cache -t cc2 "$T/cc2" >"$T/id2" 2>&1 &
p build -q --no-cache -t cc3 "$T/cc1" >"$T/id3" 2>&1 &
wait
ck "three builds at once on one store succeed" bash -c "grep -q sha256 '$T/id1' && grep -q sha256 '$T/id2' && grep -q sha256 '$T/id3'"
ck "... equal inputs give equal images" test "$(cat "$T/id1")" = "$(cat "$T/id3")"
ck "... and the store is sound" p fsck

# Independent stages run at the same time.
C3=$T/ctx3
mkdir -p "$C3"
cat >"$C3/Dockerfile" <<'EOF'
FROM base:test AS a
RUN probe sleep 2 && echo a > /a
FROM base:test AS b
RUN probe sleep 2 && echo b > /b
FROM base:test AS c
RUN probe sleep 2 && echo c > /c
FROM base:test
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
EOF
# Proof by overlap, not by a stopwatch: in --progress json order, all three RUN steps start
# before any of them is done (run one after another, each would be done before the next starts).
p build --progress json -t parallel "$C3" >"$T/out" 2>&1
rc=$?
order=$(jq -r 'select(.name != null and (.name | test("RUN probe sleep"))) | select(.type == "start" or .type == "done") | .type' "$T/out" 2>/dev/null | tr '\n' ' ')
ck "three independent stages run at the same time (RUN events: $order)" test "$rc $order" = "0 start start start done done done "
ck "... and all land in the image" test "$(p run --network none parallel cat /a /b /c)" = "a
b
c"
tap_done
