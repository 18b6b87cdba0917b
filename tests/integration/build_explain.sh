#!/usr/bin/env bash
# Cache-miss explanations: with --progress plain each step that was not cached says why,
# since the last build of the tag (a context file, a build-arg, the previous step,
# --no-cache, a first build); --progress json carries it as "reason" in a "miss" event.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

mkdir -p "$T/ctx"
echo 'package main' >"$T/ctx/main.go"
echo 'module x' >"$T/ctx/go.mod"
cat >"$T/ctx/Dockerfile" <<'DF'
FROM base:test
ARG V=1
COPY . /src
RUN echo $V >/v
RUN cat /src/main.go >/x
DF
miss() { grep -E "^#[0-9]+ CACHE MISS: " "$T/out" | sed 's/^#[0-9]* CACHE MISS: //'; }
# step_miss TEXT: the reason given for the step whose name contains TEXT.
step_miss() {
	local id
	id=$(grep -F "$1" "$T/out" | head -1 | sed 's/^#\([0-9]*\) .*/\1/')
	[ -n "$id" ] && grep "^#$id CACHE MISS: " "$T/out" | sed 's/^#[0-9]* CACHE MISS: //'
}

build "$T/ctx" -t ex
ck "first build" test "$rc" = 0
ck "a first build says so" test "$(step_miss 'COPY . /src')" = "no previous build of ex:latest"
ck "... for every step" test "$(miss | wc -l)" = 3

build "$T/ctx" -t ex
ck "a no-op rebuild has no miss" test "$(miss | wc -l)" = 0

echo 'package main // edited' >"$T/ctx/main.go"
build "$T/ctx" -t ex
ck "editing main.go: COPY . says main.go changed" \
	test "$(step_miss 'COPY . /src')" = "'main.go' changed since the last build of ex:latest"
ck "... the RUN after it: the previous step changed" \
	test "$(step_miss 'RUN echo $V')" = "the previous step changed since the last build of ex:latest"
ck "... three misses" test "$(miss | wc -l)" = 3

build "$T/ctx" -t ex --build-arg V=2
ck "a --build-arg: COPY stays cached" test -z "$(step_miss 'COPY . /src')"
ck "... the RUN that sees it names it" \
	test "$(step_miss 'RUN echo $V')" = "build-arg 'V' changed since the last build of ex:latest"
ck "... and the next RUN (which sees V too)" \
	test "$(step_miss 'RUN cat /src/main.go')" = "build-arg 'V' changed since the last build of ex:latest"

echo x >"$T/ctx/new.txt"
rm "$T/ctx/go.mod"
build "$T/ctx" -t ex --build-arg V=2
ck "a file added and one removed" \
	test "$(step_miss 'COPY . /src')" = "'new.txt' added, 'go.mod' removed since the last build of ex:latest"

build "$T/ctx" -t ex --build-arg V=2 --no-cache
ck "--no-cache says so" test "$(step_miss 'COPY . /src')" = "--no-cache"
ck "... for every step" test "$(miss | sort -u)" = "--no-cache"

build "$T/ctx" -t other --build-arg V=3
ck "another tag has its own history" \
	test "$(step_miss 'RUN echo $V')" = "no previous build of other:latest"

echo Dockerfile >"$T/ctx/.dockerignore"
build "$T/ctx" -t ex --build-arg V=2
ck "a .dockerignore that drops a file" \
	test "$(step_miss 'COPY . /src')" = "'.dockerignore' added, 'Dockerfile' removed since the last build of ex:latest"
sed -i 's/^RUN cat/RUN head -1/' "$T/ctx/Dockerfile"
p build --progress json -t ex --build-arg V=2 "$T/ctx" >"$T/out" 2>&1
ck "json: a miss event with the reason" test "$(jq -rc 'select(.type == "miss" and .id == 4) | [.name, .reason]' "$T/out")" = \
	'["[stage-0 4/4] RUN head -1 /src/main.go >/x","the instruction changed since the last build of ex:latest"]' ||
	diag "$(cat "$T/out")"
ck "the store is sound" p fsck
tap_done
