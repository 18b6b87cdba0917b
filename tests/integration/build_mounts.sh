#!/usr/bin/env bash
# Cache mount sharing modes (locked, private), `plate prune --mounts|--all` and cache mounts,
# RUN's network (`--network none` isolated, the default a private namespace), and the time inside a
# RUN's process reported by --progress json.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

# ---- sharing=locked: two parallel stages never hold the mount at once --------------------
C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS a
RUN --mount=type=cache,target=/c,id=lk,sharing=locked mkdir /c/busy && sleep 1 && rmdir /c/busy && echo a > /done
FROM base:test AS b
RUN --mount=type=cache,target=/c,id=lk,sharing=locked mkdir /c/busy && sleep 1 && rmdir /c/busy && echo b > /done
FROM base:test
COPY --from=a /done /a
COPY --from=b /done /b
EOF
build "$C" -t locked
ck "sharing=locked: concurrent steps take turns" test "$rc" = 0

# ---- sharing=private: concurrent users get separate instances -----------------------------
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS a
RUN --mount=type=cache,target=/c,id=pv,sharing=private touch /c/a && sleep 1 && ls /c > /seen
FROM base:test AS b
RUN --mount=type=cache,target=/c,id=pv,sharing=private touch /c/b && sleep 1 && ls /c > /seen
FROM base:test
COPY --from=a /seen /a
COPY --from=b /seen /b
EOF
build "$C" -t private
ck "sharing=private: builds" test "$rc" = 0
ck "... each concurrent step sees only its own instance" \
	test "$(p run --network none private cat /a /b | sort | tr '\n' ' ')" = "a b "
ck "... and both instances are kept" test "$(ls "$R/mounts" | wc -l)" -ge 3
printf 'FROM base:test\nRUN --mount=type=cache,target=/c,id=lk,sharing=bogus true\n' >"$C/Dockerfile"
build "$C"
ck "an unknown sharing mode is refused" grep -q "invalid cache mount sharing 'bogus'" "$T/out"
ck "... when planning, located" grep -q "Dockerfile:2:1: error: --mount=" "$T/out"

# ---- prune and cache mounts ---------------------------------------------------------------
before=$(ls "$R/mounts" | wc -l)
p prune >"$T/prune.out"
ck "plain prune keeps cache mounts" test "$(ls "$R/mounts" | wc -l)" = "$before"
p prune --mounts >"$T/prune.out"
ck "prune --mounts removes them" test "$(ls "$R/mounts" | wc -l)" = 0
ck "... and counts them" grep -q "$before cache mounts" "$T/prune.out"
printf 'FROM base:test\nRUN --mount=type=cache,target=/c,id=again echo x > /c/f\n' >"$C/Dockerfile"
build "$C" --no-cache
p prune --all >"$T/prune.out"
ck "prune --all removes them too" test "$(ls "$R/mounts" | wc -l)" = 0
# A cache mount in use is skipped: hold its lock as a build would.
build "$C" --no-cache
d=$R/mounts/$(ls "$R/mounts" | head -1)
flock -s "$d" sleep 3 &
sleep 0.5
p prune --mounts >"$T/prune.out"
ck "a cache mount in use survives prune" test -d "$d"
wait

# ---- RUN --mount=type=bind of the context respects .dockerignore ---------------------------
C4=$T/ctx-bind
mkdir -p "$C4/data"
echo keep >"$C4/keep.txt"
echo hidden >"$C4/secret.txt"
echo kept >"$C4/data/in"
echo noise >"$C4/data/x.log"
printf 'secret.txt\n**/*.log\n' >"$C4/.dockerignore"
cat >"$C4/Dockerfile" <<'EOF'
FROM base:test
RUN --mount=type=bind,target=/ctx ls /ctx | tr '\n' ' ' > /listing
RUN --mount=type=bind,source=data,target=/d ls /d | tr '\n' ' ' > /sub-listing
EOF
build "$C4" -t bindignore
ck "a bind of the context shows only what .dockerignore lets through" \
	test "$(p run --network none bindignore cat /listing)" = "Dockerfile data keep.txt "
ck "... in a subdirectory too" test "$(p run --network none bindignore cat /sub-listing)" = "in "

# ---- mounts are typed by the planner: each --mount gets its own source ----------------------
# An empty from= is the context.  Mount sources used to be matched to mounts by position,
# so the mount after an empty from= got the wrong tree and /b became a bind of the context.
mkdir -p "$C4/only-in-context"
cat >"$C4/Dockerfile" <<'EOF'
FROM base:test AS b
RUN mkdir /only-in-b
FROM base:test
RUN --mount=FROM=,target=/a --mount=from=b,TARGET=/b \
    ls -d /a/only-in-context /b/only-in-b > /seen
EOF
build "$C4" -t aligned
ck "an empty from= binds the context, the next mount its own stage" \
	test "$(p run --network none aligned cat /seen | tr '\n' ' ')" = "/a/only-in-context /b/only-in-b "

# ---- flags BuildKit refuses are refused when planning, before any step runs ----------------
for flag in '--device=/dev/fuse' '--mount=type=bind,target=/x,mode=0755' '--network=bridge' \
	'--security=paranoid' '--mount=type=cache,target=/c,required=true' '--mount=type=nfs,target=/n'; do
	printf 'FROM base:test\nRUN echo STEP-RAN\nRUN %s true\n' "$flag" >"$C/Dockerfile"
	build "$C" --no-cache
	ck "RUN $flag: refused at Dockerfile:3:1 (exit 2)" \
		bash -c "test $rc = 2 && grep -q '^$C/Dockerfile:3:1: error: ' '$T/out'"
	ck "... before the first RUN ran" bash -c "! grep -q STEP-RAN '$T/out'"
done

# ---- network ------------------------------------------------------------------------------
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
RUN --network=none grep -c : /proc/net/dev > /none-ifs
RUN grep -c : /proc/net/dev > /default-ifs
EOF
build "$C" -t net
ck "RUN --network=none sees only lo" test "$(p run --network none net cat /none-ifs)" = 1
ck "RUN's default network is its own: lo and tap0 (build_network.sh attacks it)" \
	test "$(p run --network none net cat /default-ifs)" = 2
build "$C" -t net2 --network none --no-cache
ck "build --network none isolates every RUN" test "$(p run --network none net2 cat /default-ifs)" = 1

# ---- time inside RUN processes ------------------------------------------------------------
printf 'FROM base:test\nRUN sleep 0.3\n' >"$C/Dockerfile"
p build --progress json --no-cache "$C" 2>"$T/json" >/dev/null
ps=$(jq -s '[.[] | select(.type == "done") | .process_seconds // 0] | add' "$T/json")
ck "json progress reports the time inside RUN" awk -v s="$ps" 'BEGIN { exit !(s >= 0.3 && s < 5) }'
tap_done
