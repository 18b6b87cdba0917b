#!/usr/bin/env bash
# The platforms of a multi-platform build build at the same time, and a step whose key does
# not depend on the target is built once for all of them (issue 15).  Proved by order and
# state, not by timing:
#   - two target-dependent RUN steps (one per platform, FROM a per-platform base: amd64
#     busybox, and Debian's arm64 busybox-static under QEMU) meet through a cache mount: each
#     waits until the other has started, which only works when they run at the same time;
#   - a RUN in a `FROM --platform=$BUILDPLATFORM` stage appends to a file in a cache mount:
#     one line after a two-platform build, one more after a second one with --no-cache (no
#     cache to hide a second run: the other platform waited for it);
#   - json progress names each step's platform and says which step was shared with which;
#   - the shared step failing fails the build once, the waiting platform with it, store
#     unchanged; Ctrl-C while the other platform waits for it leaves the store as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
arm64_prereqs
buildpid=
cleanup() {
	[ -n "$buildpid" ] && kill "$buildpid" 2>/dev/null && wait "$buildpid" 2>/dev/null
	rm_tmp
}
trap cleanup EXIT

make_base
p tag base:test bb:amd64 >/dev/null
PLATE=$PLATE PLATE_ROOT=$R "$PLATE_SRC/scripts/make-busybox-base.sh" arm64 bb:arm64 >/dev/null 2>"$T/base.err" ||
	{ diag "$(cat "$T/base.err")"; tap_skip_all "make-busybox-base.sh arm64 failed"; }
PLATFORMS=linux/amd64,linux/arm64
# The cache mount of id ID, as the store keeps it (ROOT/mounts/<sha256 of the id>).
mount_dir() { echo "$R/mounts/$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"; }
# The store's state a failed or cancelled build must not change.
store_state() {
	{
		cat "$R/index.json"
		ls "$R/snapshots" "$R/blobs/sha256"
		grep -L '"step inputs"' "$R"/cache/*.json 2>/dev/null
	} | sha256sum
}

C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM bb:amd64 AS tools
RUN --mount=type=cache,id=once,target=/c echo "$(uname -m)" >>/c/log && echo built >/tools
FROM bb:${TARGETARCH}
ARG TARGETARCH
RUN --mount=type=cache,id=meet,target=/m sh -c 'case $TARGETARCH in amd64) o=arm64;; *) o=amd64;; esac; touch /m/$TARGETARCH; i=0; while [ ! -e /m/$o ]; do i=$((i+1)); [ $i -gt 1500 ] && exit 7; sleep 0.2; done; uname -m >/machine'
COPY --from=tools /tools /tools
EOF
build "$C" --platform $PLATFORMS -t par:multi
ck "the two-platform build succeeds" test "$rc" = 0
ck "the target-dependent RUN steps met: both ran at the same time (one after the other, the first waits in vain: exit 7)" \
	bash -c "test $rc = 0 && ! grep -q 'exit code: 7' '$T/out'"
ck "each platform's RUN ran on its own machine" \
	bash -c "test \"\$('$PLATE' --root '$R' run --network none --platform linux/arm64 par:multi /bin/cat /machine)\" = aarch64 &&
		test \"\$('$PLATE' --root '$R' run --network none --platform linux/amd64 par:multi /bin/cat /machine)\" = x86_64"
ck "the \$BUILDPLATFORM stage's RUN ran once for both platforms, natively" \
	test "$(cat "$(mount_dir once)/log")" = x86_64
ck "... the other platform took its result: one SHARED line, naming the first" \
	bash -c "test \$(grep -c 'SHARED with linux/' '$T/out') = 1"
ck "step names carry their platform" \
	bash -c "grep -q '^#[0-9]* \[linux/amd64 tools 2/2\] RUN' '$T/out' && grep -q '^#[0-9]* \[linux/arm64 tools 2/2\] RUN' '$T/out'"
ck "the isolation is said once for both platforms" \
	bash -c "test \$(grep -c '^isolation: ' '$T/out') = 1"
ck "step ids are unique across the platforms" \
	bash -c "test \$(grep -c '^#[0-9]* \[' '$T/out') = \$(sed -n 's/^#\([0-9]*\) \[.*/\1/p' '$T/out' | sort -u | wc -l)"
ck "both images carry the shared stage's file" \
	bash -c "test \"\$('$PLATE' --root '$R' run --network none --platform linux/arm64 par:multi /bin/cat /tools)\" = built"

# --no-cache: nothing to find in the cache, so only the wait keeps the step to one run.
p build --progress json --no-cache --platform $PLATFORMS -t par:multi "$C" >"$T/json" 2>&1
rc=$?
ck "again with --no-cache and json progress" test "$rc" = 0
ck "the \$BUILDPLATFORM stage's RUN ran once more, not twice" \
	test "$(wc -l <"$(mount_dir once)/log")" = 2
ck "json: every step event names its platform" \
	bash -c "grep '^{' '$T/json' | jq -e -s '[.[] | select(.type == \"start\")] | length > 0 and all(.platform == \"linux/amd64\" or .platform == \"linux/arm64\")' >/dev/null"
ck "json: one shared event, the waiting platform's step, from the other platform" \
	bash -c "grep '^{' '$T/json' | jq -e -s '[.[] | select(.type == \"shared\")] | length == 1 and (.[0].platform != .[0].from) and (.[0].name | test(\"tools 2/2\\\\] RUN\"))' >/dev/null"
ck "json: the shared step then counts as cached" \
	bash -c "id=\$(grep '^{' '$T/json' | jq -s '[.[] | select(.type == \"shared\")][0].id'); grep '^{' '$T/json' | jq -e -s --argjson id \"\$id\" 'any(.type == \"cached\" and .id == \$id)' >/dev/null"

# ---- the shared step fails ---------------------------------------------------------------
F=$T/fail
mkdir -p "$F"
cat >"$F/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM bb:amd64 AS tools
RUN --mount=type=cache,id=fail,target=/c sh -c 'echo try >>/c/log; echo broken >&2; exit 3'
FROM bb:${TARGETARCH}
COPY --from=tools /etc/passwd /p
EOF
before=$(store_state)
build "$F" --platform $PLATFORMS -t par:fail
ck "the shared step failing fails the build (exit 1)" test "$rc" = 1
ck "... it ran once" test "$(cat "$(mount_dir fail)/log")" = try
ck "... one error line, the failing platform's, with the step's exit code" \
	bash -c "test \$(grep -c '^plate: error:' '$T/out') = 1 && grep -q '^plate: error: linux/a[a-z0-9]*: \[linux/a[a-z0-9]* tools 2/2\] RUN .*exit code: 3' '$T/out'"
ck "... the waiting platform's step fails with it, naming the other" \
	bash -c "grep -q '^#[0-9]* ERROR: the same step failed for linux/' '$T/out'"
ck "... the store is unchanged" test "$(store_state)" = "$before"
ck "... no image under the name" bash -c "! '$PLATE' --root '$R' images | grep -q fail"

# ---- Ctrl-C while the other platform waits ------------------------------------------------
I=$T/intr
mkdir -p "$I"
cat >"$I/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM bb:amd64 AS tools
RUN --mount=type=cache,id=intr,target=/c sh -c 'touch /c/started; sleep 120'
FROM bb:${TARGETARCH}
COPY --from=tools /etc/passwd /p
EOF
before=$(store_state)
# plate itself in the background, not the p function: that would be a subshell, which a
# signal would not get through.
"$PLATE" --root "$R" build --progress plain --platform $PLATFORMS -t par:intr "$I" >"$T/out" 2>&1 &
buildpid=$!
for _ in $(seq 1 600); do
	grep -q 'SHARED with' "$T/out" && [ -e "$(mount_dir intr)/started" ] && break
	kill -0 "$buildpid" 2>/dev/null || break
	sleep 0.1
done
ck "the shared step runs and the other platform waits for it" \
	bash -c "grep -q 'SHARED with' '$T/out' && test -e '$(mount_dir intr)/started'"
kill -INT "$buildpid"
wait "$buildpid"
rc=$?
buildpid=
ck "Ctrl-C: exit 130" test "$rc" = 130
ck "... the store is as it was" test "$(store_state)" = "$before"
ck "... no transaction left behind" bash -c "test -z \"\$(ls -A '$R/tmp' 2>/dev/null | grep '^txn')\""

tap_done
