#!/usr/bin/env bash
# plate build end to end on a tiny busybox + probe base: what RUN sees, config instructions,
# history, whiteouts, here-documents, unused stages, error reports, Ctrl-C.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

# ---- what RUN sees ------------------------------------------------------------------------
C=$T/ctx-see
mkdir -p "$C"
touch "$T/host-marker"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
ENV FOO=bar
ARG MARKER
ARG FROMARG=default
WORKDIR /work
RUN probe id > id-root && probe cwd > cwd && probe env > env && probe hostname > hostname \
	&& probe mounts > mounts && (probe exists "$MARKER" > hostfs; true) && probe caps > caps
USER app
RUN probe id > /tmp/id-app && probe env > /tmp/env-app
USER 1000:1001
RUN probe id > /tmp/id-num
EOF
build "$C" -t see --build-arg MARKER="$T/host-marker"
ck "a build with RUN steps succeeds" test "$rc" = 0
cat_in() { p run --network none see cat "$1"; }
ck "RUN runs as root by default" test "$(cat_in /work/id-root)" = "uid=0 gid=0 groups="
ck "RUN runs in WORKDIR" test "$(cat_in /work/cwd)" = /work
ck "RUN sees ENV" bash -c "'$PLATE' --root '$R' run see cat /work/env | grep -qx FOO=bar"
ck "RUN sees ARG values" bash -c "'$PLATE' --root '$R' run see cat /work/env | grep -qx FROMARG=default"
ck "RUN gets HOME from /etc/passwd" bash -c "'$PLATE' --root '$R' run see cat /work/env | grep -qx HOME=/root"
ck "RUN has the sandbox's hostname" test "$(cat_in /work/hostname)" = sandbox
ck "RUN does not see the host filesystem" test "$(cat_in /work/hostfs)" = no
ck "RUN's root is an overlay" bash -c "'$PLATE' --root '$R' run see cat /work/mounts | grep -qx '/ overlay'"
ck "RUN has its own /proc" bash -c "'$PLATE' --root '$R' run see cat /work/mounts | grep -qx '/proc proc'"
ck "RUN has Docker's capabilities" bash -c "'$PLATE' --root '$R' run see cat /work/caps | grep -q 'CapEff=00000000a80425fb'"
ck "USER name: uid, gid and groups from /etc/passwd and /etc/group" \
	test "$(cat_in /tmp/id-app)" = "uid=1000 gid=1000 groups=1001"
ck "USER name: HOME is the user's" bash -c "'$PLATE' --root '$R' run see cat /tmp/env-app | grep -qx HOME=/home/app"
ck "USER uid:gid numbers" test "$(cat_in /tmp/id-num)" = "uid=1000 gid=1001 groups="
layer_files see >"$T/see.files"
ck "the /etc files of RUN do not land in the image" \
	bash -c "! grep -E '^etc/(hostname|hosts|resolv.conf)' '$T/see.files'"

# ---- config instructions and history ------------------------------------------------------
C=$T/ctx-config
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
MAINTAINER someone@example.com
LABEL a=1 "b c"="d e"
EXPOSE 8080 9000-9001/udp
VOLUME /data
VOLUME ["/cache"]
ENV PATH=/bin:/usr/bin GREETING="hello world"
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=1m30s --retries=2 CMD probe exit 0
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
WORKDIR rel
WORKDIR sub
USER 65534:65534
ENTRYPOINT ["/bin/probe"]
CMD ["id"]
EOF
build "$C" -t cfg --label extra=from-cli
ck "a build of config instructions succeeds" test "$rc" = 0
ck "LABEL (with the base's and --label's)" test "$(config cfg .Config.Labels)" = '{"a":"1","b c":"d e","base":"yes","extra":"from-cli"}'
ck "EXPOSE, ranges and protocols" test "$(config cfg .Config.ExposedPorts)" = '{"8080/tcp":{},"9000/udp":{},"9001/udp":{}}'
ck "VOLUME, both forms" test "$(config cfg .Config.Volumes)" = '{"/cache":{},"/data":{}}'
ck "ENV replaces PATH, keeps quotes out" test "$(config cfg .Config.Env)" = '["PATH=/bin:/usr/bin","GREETING=hello world"]'
ck "STOPSIGNAL" test "$(config cfg .Config.StopSignal)" = '"SIGQUIT"'
ck "HEALTHCHECK test, durations and retries" test "$(config cfg .Config.Healthcheck)" = \
	'{"Interval":30000000000,"Retries":2,"Test":["CMD-SHELL","probe exit 0"],"Timeout":90000000000}'
ck "SHELL" test "$(config cfg .Config.Shell)" = '["/bin/sh","-ec"]'
ck "ONBUILD" test "$(config cfg .Config.OnBuild)" = '["RUN echo triggered"]'
ck "WORKDIR relative to the previous one" test "$(config cfg .Config.WorkingDir)" = '"/rel/sub"'
ck "USER" test "$(config cfg .Config.User)" = '"65534:65534"'
ck "ENTRYPOINT and CMD" test "$(config cfg '| [.Config.Entrypoint, .Config.Cmd]')" = '[["/bin/probe"],["id"]]'
ck "MAINTAINER is the author" test "$(config cfg .Author)" = '"someone@example.com"'
ck "created is the epoch (SOURCE_DATE_EPOCH unset)" test "$(config cfg .Created)" = '"1970-01-01T00:00:00Z"'
ck "the image runs its ENTRYPOINT and CMD" test "$(p run --network none cfg)" = "uid=65534 gid=65534 groups="
skopeo inspect --config "oci:$R:docker.io/library/cfg:latest" >"$T/cfg.json" 2>"$T/skopeo.err"
ck "skopeo reads the image from the store" test -s "$T/cfg.json" || diag "$(cat "$T/skopeo.err")"
ck "history: BuildKit's created_by lines" test "$(jq -c '[.history[1:][] | .created_by]' "$T/cfg.json")" = \
	'["MAINTAINER someone@example.com","LABEL a=1 b c=d e","EXPOSE map[8080/tcp:{} 9000/udp:{} 9001/udp:{}]","VOLUME [/data]","VOLUME [/cache]","ENV PATH=/bin:/usr/bin GREETING=hello world","STOPSIGNAL SIGQUIT","HEALTHCHECK [\"CMD-SHELL\" \"probe exit 0\"]","SHELL [/bin/sh -ec]","ONBUILD RUN echo triggered","WORKDIR /rel","WORKDIR /rel/sub","USER 65534:65534","ENTRYPOINT [\"/bin/probe\"]","CMD [\"id\"]"]'
ck "history: empty_layer for config-only steps, layers for WORKDIR" test \
	"$(jq -c '[.history[1:][] | .empty_layer // false]' "$T/cfg.json")" = \
	'[true,true,true,true,true,true,true,true,true,true,false,false,true,true,true]'
ck "history and layers agree" test "$(jq '[.history[] | select(.empty_layer != true)] | length' "$T/cfg.json")" = \
	"$(jq '.rootfs.diff_ids | length' "$T/cfg.json")"
ck "every history entry is dated at the epoch" test "$(jq -r '[.history[1:][] | .created] | unique | .[]' "$T/cfg.json")" = 1970-01-01T00:00:00Z

# ONBUILD triggers of a stage run in the stage built on it.
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS parent
ONBUILD RUN echo from-trigger > /trigger
FROM parent
RUN cat /trigger > /seen
EOF
build "$C" -t onbuild
ck "ONBUILD triggers run in the child stage" test "$(p run --network none onbuild cat /seen)" = from-trigger

# ONBUILD triggers stored in a base image's config run when a build uses it as FROM, first.
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
ONBUILD RUN echo image-trigger > /itrigger
ONBUILD ENV FROM_TRIGGER=yes
EOF
build "$C" -t with-triggers
ck "ONBUILD is stored in the image" test "$(config with-triggers .Config.OnBuild)" = '["RUN echo image-trigger > /itrigger","ENV FROM_TRIGGER=yes"]'
cat >"$C/Dockerfile" <<'EOF'
FROM with-triggers
RUN cat /itrigger > /iseen && echo "$FROM_TRIGGER" >> /iseen
EOF
build "$C" -t child-of-image
ck "a base image's ONBUILD triggers run before the stage's steps" \
	test "$(p run --network none child-of-image cat /iseen | tr '\n' ' ')" = "image-trigger yes "
ck "... and are not inherited" test "$(config child-of-image .Config.OnBuild)" = null

# ---- whiteouts --------------------------------------------------------------------------------
C=$T/ctx-wh
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
RUN mkdir -p /d/sub /e && echo x > /d/sub/f && echo y > /d/keep && echo z > /e/old
RUN rm -rf /d/sub && rm /bin/probe.none 2>/dev/null; rm -rf /e && mkdir /e && echo n > /e/new
EOF
build "$C" -t wh
ck "RUN rm -rf builds" test "$rc" = 0
layer_files wh >"$T/wh.files"
ck "a deleted directory becomes a whiteout" grep -qx 'd/.wh.sub' "$T/wh.files"
ck "a replaced directory becomes opaque" grep -qx 'e/.wh..wh..opq' "$T/wh.files"
ck "the deleted files are gone in the image" bash -c "! '$PLATE' --root '$R' run --network none wh probe exists /d/sub >/dev/null"
ck "the kept files stay" test "$(p run --network none wh cat /d/keep)" = y
ck "the replaced directory holds only the new file" test "$(p run --network none wh probe ls /e)" = new

# ---- here-documents -----------------------------------------------------------------------------
C=$T/ctx-heredoc
mkdir -p "$C"
cat >"$C/Dockerfile" <<'DOCKERFILE'
FROM base:test
ENV FOO=bar
RUN <<EOF
echo whole-command > /h1
echo second-line >> /h1
EOF
RUN <<EOF
#!/bin/sh
echo "shebang $0" > /h2
EOF
RUN cat <<EOF > /h3
inline $FOO
EOF
COPY <<EOF /h4
expanded $FOO
EOF
COPY <<'EOF' /h5
literal $FOO
EOF
COPY <<A <<B /multi/
one
A
two
B
DOCKERFILE
build "$C" -t heredoc
ck "here-documents build" test "$rc" = 0
ck "RUN <<EOF runs the body as the script" test "$(p run --network none heredoc cat /h1)" = "whole-command
second-line"
ck "a #! body is executed as a file" test "$(p run --network none heredoc cat /h2)" = "shebang /dev/pipes/EOF"
ck "a here-document inside the command goes to the shell" test "$(p run --network none heredoc cat /h3)" = "inline bar"
ck "COPY <<EOF expands variables" test "$(p run --network none heredoc cat /h4)" = "expanded bar"
ck "COPY <<'EOF' does not" test "$(p run --network none heredoc cat /h5)" = 'literal $FOO'
ck "COPY of several here-documents into a directory" test "$(p run --network none heredoc cat /multi/A /multi/B)" = "one
two"

# ---- unused stages, --target ------------------------------------------------------------------
C=$T/ctx-stages
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS broken
RUN false
FROM base:test AS fine
RUN echo fine > /fine
FROM fine AS last
RUN cat /fine > /last
EOF
build "$C" -t stages
ck "a stage the target does not need never runs" test "$rc" = 0
ck "... and is not in the progress" bash -c "! grep -q 'RUN false' '$T/out'"
build "$C" --target fine -t fine-only
ck "--target builds that stage" test "$(p run --network none fine-only cat /fine)" = fine
build "$C" --target broken
ck "--target of the broken stage fails with exit 1" test "$rc" = 1

# ---- errors -----------------------------------------------------------------------------------
C=$T/ctx-err
mkdir -p "$C"
printf 'FROM base:test\nWORKDIR /w\nRUN echo first line && echo to-stderr >&2 && exit 3\n' >"$C/Dockerfile"
build "$C"
ck "a failing RUN exits 1" test "$rc" = 1
ck "... naming the step n/m and the Dockerfile line" grep -q 'error: \[stage-0 3/3\] RUN echo first line.* (Dockerfile:3)' "$T/out"
ck "... the command and its exit status" grep -q 'process \["/bin/sh" "-c" "echo first line && echo to-stderr >&2 && exit 3"\] did not complete successfully: exit code: 3' "$T/out"
ck "... and the last lines of its output" bash -c "grep -A3 '^plate: error' '$T/out' | grep -q '> to-stderr'"
printf 'FROM base:test\nCOPY missing.txt /x/\n' >"$C/Dockerfile"
build "$C"
ck "COPY of a missing file fails naming it" bash -c "test $rc = 1 && grep -q \"'missing.txt' not found in the build context\" '$T/out'"
printf 'FROM base:test\nCOPY ../outside /x\n' >"$C/Dockerfile"
build "$C"
ck "a source outside the context is refused" bash -c "test $rc = 1 && grep -q \"'../outside' is outside the build context\" '$T/out'"
printf 'FROM base:test\nRUN true\nBOGUS x\n' >"$C/Dockerfile"
build "$C"
ck "a Dockerfile error exits 2 with FILE:LINE:COL" bash -c "test $rc = 2 && grep -q 'Dockerfile:3:1: error' '$T/out'"
printf 'FROM nothere:1\n' >"$C/Dockerfile"
build "$C" --pull never
ck "a base image missing from the store exits 1 (--pull never: no registry)" bash -c "test $rc = 1 && grep -q \"image 'docker.io/library/nothere:1' not found\" '$T/out'"

# ---- Ctrl-C during RUN ------------------------------------------------------------------------
printf 'FROM base:test\nRUN echo started; probe sleep 60\n' >"$C/Dockerfile"
"$PLATE" --root "$R" build --progress plain "$C" >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q started "$T/out" && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
rc=$?
ck "Ctrl-C stops the build (exit 130)" test "$rc" = 130
ck "... the sandbox is killed" bash -c "! pgrep -f '[p]robe sleep 60' >/dev/null"
ck "... nothing is left in the store's tmp/" test -z "$(ls -A "$R/tmp")"
ck "... and the store is sound" p fsck

# kill -9 of plate during RUN: the sandbox dies with it, the next command cleans up.
"$PLATE" --root "$R" build --progress plain "$C" >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q started "$T/out" && break; sleep 0.1; done
kill -KILL "$pid"
wait "$pid" 2>/dev/null
for _ in $(seq 1 50); do pgrep -f '[p]robe sleep 60' >/dev/null || break; sleep 0.1; done
ck "kill -9 of plate takes the sandbox down too" bash -c "! pgrep -f '[p]robe sleep 60' >/dev/null"
ck "... the store is sound" p fsck
p prune >/dev/null
ck "... and the next transaction removes what it left in tmp/" test -z "$(ls -A "$R/tmp")"

# ---- reproducibility ----------------------------------------------------------------------------
id1=$(p inspect see | jq -r '.[0].Id')
p build -q --no-cache --build-arg MARKER="$T/host-marker" -t see2 "$T/ctx-see" >"$T/id2" 2>"$T/out"
ck "a --no-cache rebuild gives the same image ID" test "$(cat "$T/id2")" = "$id1"
SOURCE_DATE_EPOCH=1700000000 p build -q -t epoch "$T/ctx-stages" >/dev/null 2>"$T/out"
ck "SOURCE_DATE_EPOCH dates the config" test "$(config epoch .Created)" = '"2023-11-14T22:13:20Z"'
ck "the store is sound after all this" p fsck
tap_done
