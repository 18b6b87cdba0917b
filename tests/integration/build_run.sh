#!/usr/bin/env bash
# RUN options (--mount=type=cache|secret|bind|tmpfs, --network), build outputs
# (--output type=oci|docker|local, --iidfile), progress formats, and `plate run`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

# ---- RUN --mount --------------------------------------------------------------------------
C=$T/ctx
mkdir -p "$C/data"
echo from-context >"$C/data/in"
printf s3cr3t-value >"$T/secret.txt"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS tools
RUN mkdir /tools && echo tool-v1 > /tools/version

FROM base:test
ARG RUNID=1
RUN --mount=type=cache,target=/cache,id=c1 \
	n=$(cat /cache/count 2>/dev/null || echo 0); echo $((n + 1)) > /cache/count; cat /cache/count > /count-seen
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /secret-copy-would-leak && probe mode /run/secrets/tok > /secret-mode && rm /secret-copy-would-leak
RUN --mount=type=secret,id=tok,env=TOKEN test "${#TOKEN}" = 12 && echo env-ok > /secret-env
RUN --mount=type=secret,id=absent,required=false probe exists /run/secrets/absent > /absent || true
RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/in > /bound && (touch /mnt/data/x 2>/dev/null && echo rw || echo ro) > /bound-mode
RUN --mount=type=bind,from=tools,source=/tools,target=/t cat /t/version > /from-tools
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/y && probe mounts | grep -q '^/scratch tmpfs$' && echo tmpfs-ok > /tmpfs
RUN --network=none probe netdevs > /netdevs
EOF
build "$C" -t mounts --secret id=tok,src="$T/secret.txt"
ck "a build with RUN --mount succeeds" test "$rc" = 0
r() { p run --network none mounts "$@" 2>&1; }
ck "cache mount: persists in the store" test "$(r cat /count-seen)" = 1
ck "secret: readable at /run/secrets/<id>, mode 0400" test "$(r cat /secret-mode)" = 0400
ck "secret: as an environment variable" test "$(r cat /secret-env)" = env-ok
layer_files mounts >"$T/mounts.files"
ck "secret: not in any layer" bash -c "! grep -q 'run/secrets' '$T/mounts.files'"
ck "secret: the content never lands in the image" bash -c "! p() { :; }; for f in \$(ls '$R'/blobs/sha256); do zcat -f '$R'/blobs/sha256/\$f 2>/dev/null | grep -q s3cr3t-value && exit 1; done; exit 0"
ck "an optional secret that is absent is not mounted" test "$(r cat /absent)" = no
ck "bind of the context, read-only" test "$(r cat /bound /bound-mode)" = "from-context
ro"
ck "bind of another stage's tree" test "$(r cat /from-tools)" = tool-v1
ck "tmpfs mount" test "$(r cat /tmpfs)" = tmpfs-ok
ck "mount targets leave nothing in the layers" bash -c "! grep -qE '^(mnt|scratch|t|cache)/' '$T/mounts.files'"
ck "--network=none: only loopback" test "$(r cat /netdevs)" = lo
build "$C" -t mounts --secret id=tok,src="$T/secret.txt" --build-arg RUNID=2
ck "cache mount: the second build sees the first one's files" test "$(r cat /count-seen)" = 2
printf 'FROM base:test\nRUN --mount=type=secret,id=needed,required=true true\n' >"$T/Dockerfile.req"
build "$C" -f "$T/Dockerfile.req"
ck "a required secret that is missing fails" bash -c "test $rc = 1 && grep -q \"secret 'needed' not provided\" '$T/out'"
build "$C" --network none -f /dev/stdin <<<'FROM base:test
RUN probe netdevs > /n'
ck "--network none for the whole build (and -f - as stdin)" test "$rc" = 0

# ---- outputs ------------------------------------------------------------------------------
C2=$T/ctx2
mkdir -p "$C2"
printf 'FROM base:test\nRUN mkdir -p /out && echo hi > /out/f && rm /bin/probe\n' >"$C2/Dockerfile"
build "$C2" -t outs --output type=oci,dest="$T/image.oci.tar" --iidfile "$T/iid"
ck "--output type=oci writes an oci-archive" test -s "$T/image.oci.tar"
ck "... that skopeo reads" skopeo inspect "oci-archive:$T/image.oci.tar"
ck "--iidfile holds the image ID" test "$(cat "$T/iid")" = "$(p inspect outs | jq -r '.[0].Id')"
build "$C2" --output type=docker,dest="$T/image.docker.tar"
ck "--output type=docker writes a docker-archive" bash -c "tar -tf '$T/image.docker.tar' | grep -qx manifest.json"
ck "... that skopeo reads" skopeo inspect "docker-archive:$T/image.docker.tar"
build "$C2" --output type=local,dest="$T/rootfs"
ck "--output type=local writes the files" test "$(cat "$T/rootfs/out/f")" = hi
ck "... with deletions applied" test ! -e "$T/rootfs/bin/probe"
build "$C2" -o "$T/rootfs2"
ck "-o DIR is type=local" test -f "$T/rootfs2/out/f"

# ---- progress -----------------------------------------------------------------------------
p build --progress json --no-cache "$C2" >"$T/json" 2>&1
ck "--progress json: one JSON object per line" jq -e -s 'length > 3' "$T/json"
ck "... with start, done, miss and isolation events" bash -c "jq -s -e '[.[].type] | index(\"start\") and index(\"done\") and index(\"miss\") and index(\"isolation\")' '$T/json' >/dev/null"
p build -q "$C2" >"$T/q" 2>"$T/qerr"
ck "-q prints only the image ID" bash -c "grep -qx 'sha256:[0-9a-f]\{64\}' '$T/q' && test ! -s '$T/qerr'"
p build --progress tty "$C2" >"$T/tty" 2>&1
ck "--progress tty without a terminal is plain (the display is tested on a pty: build_progress.sh)" \
	bash -c "grep -q '^#1 ' '$T/tty' && ! grep -q $'\033' '$T/tty'"

# ---- platform ---------------------------------------------------------------------------
native=linux/$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
cat >"$C2/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM base:test
ARG TARGETPLATFORM TARGETOS TARGETARCH BUILDPLATFORM
RUN echo "$TARGETPLATFORM $TARGETOS $TARGETARCH $BUILDPLATFORM" > /platform
EOF
build "$C2" -t plat --platform "$native"
ck "the platform ARGs are set" test "$(p run --network none plat cat /platform)" = "$native ${native%/*} ${native#*/} $native"
ck "the config names the platform" test "$(config plat '| [.Os, .Architecture] | join("/")')" = "\"$native\""
build "$C2" -t plat-s390x --platform linux/s390x
ck "FROM --platform=\$BUILDPLATFORM runs natively for another target" test "$(p run --network none plat-s390x cat /platform)" = "linux/s390x linux s390x $native"
printf 'FROM scratch\nCOPY Dockerfile /\nRUN true\n' >"$C2/Dockerfile"
build "$C2" --platform linux/s390x
ck "a RUN on a platform without emulator is refused before any step" bash -c "test $rc = 1 && grep -q \"stage 'scratch' (Dockerfile:1) runs on linux/s390x: no emulator for linux/s390x\" '$T/out' && ! grep -q '^#2' '$T/out'"
printf 'FROM base:test\nRUN true\n' >"$C2/Dockerfile"
build "$C2" --platform linux/s390x
ck "a base without the platform is refused before any step" bash -c "test $rc = 1 && grep -q \"$native only, the stage needs linux/s390x\" '$T/out' && ! grep -q '^#2' '$T/out'"

# ---- plate run ----------------------------------------------------------------------------
printf 'FROM base:test\nENV GREETING=hi\nWORKDIR /home/app\nUSER app\nENTRYPOINT ["/bin/probe"]\nCMD ["id"]\n' >"$C2/Dockerfile"
build "$C2" -t runme
ck "run: ENTRYPOINT + CMD as the image's user" test "$(p run --network none runme)" = "uid=1000 gid=1000 groups=1001"
ck "run: arguments replace CMD" test "$(p run --network none runme cwd)" = /home/app
ck "run: -e adds to the image's Env" bash -c "'$PLATE' --root '$R' run --network none -e EXTRA=1 runme env | grep -qx EXTRA=1 && '$PLATE' --root '$R' run runme env | grep -qx GREETING=hi"
ck "run: -u and -w" test "$(p run --network none -u 0:0 -w /tmp runme id , cwd)" = "uid=0 gid=0 groups=
/tmp"
ck "run: --entrypoint" test "$(p run --network none --entrypoint /bin/sh runme -c 'echo via-sh')" = via-sh
p run --network none runme exit 7
ck "run: exits with the command's status" test $? = 7
p run --network none --entrypoint /bin/sh runme -c 'echo x > /tmp/left-behind'
ck "run: changes are thrown away" bash -c "! '$PLATE' --root '$R' run --network none runme exists /tmp/left-behind >/dev/null"
# The upper directory is deleted after the run, so its unmount need not sync the store's
# filesystem: the root is a volatile overlay (the superblock options say fsync=volatile).
ck "run: the root is a volatile overlay (no syncfs for a throw-away upper directory)" \
	bash -c "'$PLATE' --root '$R' run --network none --entrypoint /bin/cat runme /proc/self/mountinfo | grep -q ' / / [^ ]* - overlay overlay .*volatile'"
ck "run: stdin reaches the command" test "$(echo piped | p run --network none --entrypoint /bin/cat runme)" = piped
ck "the store is sound" p fsck
ck "nothing left in the store's tmp/" test -z "$(ls -A "$R/tmp")"
tap_done
