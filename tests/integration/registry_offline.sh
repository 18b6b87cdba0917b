#!/usr/bin/env bash
# Offline, a base image the store lacks: one attempt to resolve its registry (not four), and
# an error that says the image is neither in the store nor reachable and what brings it in.
# plate runs in a network namespace of its own with no network, so no query leaves the host.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || tap_skip_all "strace is not installed"
command -v getent >/dev/null || tap_skip_all "getent is not installed"
if [ "$(id -u)" = 0 ]; then netns=(unshare -n); else netns=(unshare -rn); fi
"${netns[@]}" true 2>/dev/null || tap_skip_all "cannot make a network namespace"

mkdir -p "$T/ctx"
cat >"$T/ctx/Dockerfile" <<'EOF'
FROM nonexistent.invalid/golang:1.22-alpine AS builder
RUN go build -o /app .
FROM scratch
COPY --from=builder /app /app
EOF
"${netns[@]}" "$PLATE" --root "$T/store" build --progress plain "$T/ctx" >"$T/out" 2>"$T/err"
rc=$?
tap_check "build with an unreachable base fails (exit 1)" test "$rc" = 1
tap_check "the base is pulled once, not once for its ONBUILD and once for its ENV" \
	test "$(grep -c '^pulling nonexistent.invalid/golang:1.22-alpine' "$T/err")" = 1
grep '^plate: error:' "$T/err" >"$T/msg"
tap_check "one error line" test "$(wc -l <"$T/msg")" = 1
for word in "neither in the store nor reachable" "Could not resolve host: nonexistent.invalid" \
	"'plate pull'" "'plate load'" "'plate import'" "PLATE_REGISTRY_MIRRORS"; do
	tap_check "the error says: $word" grep -qF "$word" "$T/msg"
done
tap_check "no errno text after curl's own message" \
	sh -c "! grep -q 'No route to host' '$T/msg'"
"$PLATE" --root "$T/store" images -q >"$T/images"
tap_check "the store has no image" test ! -s "$T/images"

# One attempt: as many resolver connections as one lookup makes (getent), where four attempts
# with back-off made four times as many.
"${netns[@]}" strace -f -qq -e trace=connect -o "$T/plate.trace" \
	"$PLATE" --root "$T/store" pull nonexistent.invalid/x:1 >/dev/null 2>"$T/pull.err"
"${netns[@]}" strace -f -qq -e trace=connect -o "$T/getent.trace" \
	getent ahosts nonexistent.invalid >/dev/null
n_plate=$(grep -c 'htons(53)' "$T/plate.trace")
n_one=$(grep -c 'htons(53)' "$T/getent.trace")
tap_check "pull of an unresolvable host: one lookup ($n_plate resolver connections, one lookup: $n_one)" \
	test "$n_one" -ge 1 -a "$n_plate" -ge 1 -a "$n_plate" -le "$n_one"
tap_check "pull names the host that does not resolve" \
	grep -q "Could not resolve host: nonexistent.invalid$" "$T/pull.err"

tap_done
