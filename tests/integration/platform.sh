#!/usr/bin/env bash
# Multi-platform builds (issue 15).  The example service cross-compiled for linux/amd64 and
# linux/arm64 in one build (FROM --platform=$BUILDPLATFORM, GOARCH=$TARGETARCH): one OCI
# image index under the tag, the builder's target-independent steps built once, the arm64
# binary an aarch64 ELF that `plate run --platform linux/arm64` runs under QEMU; pushed to a
# docker-registry, skopeo takes each platform from the index; the index digest equal from a
# second store.  A RUN on an arm64 base (Debian's arm64 busybox-static, imported with
# --platform) sees `uname -m` = aarch64.  Bad input: an unknown platform, a base without the
# platform, no emulator — each one error before any step runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
build_prereqs
for tool in skopeo docker-registry curl od; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done
[ -x /usr/lib/go-1.19/bin/go ] || tap_skip_all "golang-1.19-go not installed"
arm64_prereqs
runpid=
cleanup() {
	[ -n "$runpid" ] && kill "$runpid" 2>/dev/null && wait "$runpid" 2>/dev/null
	_reg_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
start_registry reg || tap_skip_all "docker-registry does not start here"
REG=127.0.0.1:$REG_PORT
# e_machine of an ELF file: 62 x86-64, 183 aarch64.
elf_machine() { od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '; }
steps_ran() { grep -c '^#[0-9]* DONE' "$T/out"; }

# ---- bad input: each refused before any step runs -----------------------------------------
C=$T/ctx
mkdir -p "$C"
printf 'FROM scratch\nCOPY Dockerfile /\n' >"$C/Dockerfile"
build "$C" --platform linux/amd64,linux/mips
ck "an unknown platform: exit 2, the known ones listed" \
	bash -c "test $rc = 2 && grep -q \"unknown platform 'linux/mips': known platforms are linux/amd64, .*linux/arm64\" '$T/out'"
ck "... nothing built" test "$(steps_ran)" = 0

PLATE=$PLATE PLATE_ROOT=$R "$PLATE_SRC/scripts/make-busybox-base.sh" arm64 busybox:arm64 >/dev/null 2>"$T/base.err"
ck "an arm64 base from Debian's arm64 busybox-static, plate import --platform linux/arm64" \
	test "$(config busybox:arm64 '| [.Os, .Architecture] | join("/")')" = '"linux/arm64"'
printf 'FROM busybox:arm64\nRUN uname -m >/machine\nCMD ["cat", "/machine"]\n' >"$C/Dockerfile"
build "$C" --platform linux/amd64
ck "a base without the platform: one error naming both" \
	bash -c "test $rc = 1 && grep -q 'linux/arm64 only, the stage needs linux/amd64' '$T/out'"
ck "... nothing built" test "$(steps_ran)" = 0
noemu=
for m in s390x:linux/s390x riscv64:linux/riscv64 ppc64le:linux/ppc64le; do
	[ -e "/proc/sys/fs/binfmt_misc/qemu-${m%%:*}" ] || { noemu=${m#*:}; break; }
done
if [ -n "$noemu" ]; then
	printf 'FROM scratch AS odd\nCOPY Dockerfile /\nRUN true\n' >"$C/Dockerfile"
	build "$C" --platform "$noemu"
	ck "no emulator: one error naming the stage, the platform and the fix" \
		bash -c "test $rc = 1 && grep -q \"stage 'odd' (Dockerfile:1) runs on $noemu: no emulator for $noemu registered .*scripts/binfmt.sh\" '$T/out'"
	ck "... nothing built" test "$(steps_ran)" = 0
fi

# ---- RUN under emulation ----------------------------------------------------------------
printf 'FROM busybox:arm64\nRUN uname -m >/machine\nCMD ["cat", "/machine"]\n' >"$C/Dockerfile"
build "$C" --platform linux/arm64 -t machine:arm64
ck "RUN on the arm64 base runs under emulation" test "$rc" = 0
ck "... and sees uname -m = aarch64" test "$(p run --network none machine:arm64)" = aarch64
ck "the image is linux/arm64" test "$(config machine:arm64 '| [.Os, .Architecture] | join("/")')" = '"linux/arm64"'

# ---- the doctor: a binary of another architecture --------------------------------------
printf 'FROM --platform=linux/arm64 busybox:arm64 AS arm\nFROM scratch\nCOPY --from=arm /bin/busybox /busybox\nUSER 65534\nENTRYPOINT ["/busybox"]\n' >"$C/Dockerfile"
build "$C" --platform linux/amd64 -t wrong:arch
ck "an arm64 binary copied into an amd64 image builds, the doctor warns" \
	bash -c "test $rc = 0 && grep -q \"'/busybox' is a linux/arm64 binary in a linux/amd64 image \\[WrongArchitecture\\]\" '$T/out'"
p check wrong:arch >"$T/check" 2>&1; crc=$?
ck "plate check: WrongArchitecture is an error (exit 3)" bash -c "test $crc = 3 && grep -q WrongArchitecture '$T/check'"
p check machine:arm64 >"$T/check" 2>&1
ck "... not for the arm64 image's own binary" bash -c "! grep -q WrongArchitecture '$T/check'"

# ---- the example service for two platforms ----------------------------------------------
PLATE=$PLATE PLATE_ROOT=$R "$PLATE_SRC/scripts/make-builder-base.sh" >"$T/mb.out" 2>&1 ||
	{ diag "$(cat "$T/mb.out")"; tap_skip_all "make-builder-base.sh failed"; }
build "$PLATE_SRC/examples/go-service" --pull never --build-arg GO_IMAGE=golang:1.19-local \
	--platform linux/amd64,linux/arm64 -t demo:multi
ck "the example service builds for linux/amd64,linux/arm64" test "$rc" = 0
# The platforms build at the same time, their lines interleaved: a step's lines are those
# of its id.
step_ids() { sed -n "s/^#\([0-9]*\) \[linux\/[a-z0-9]* $1.*/\1/p" "$T/out"; }
count_ids() { local n=0 id; for id in $(step_ids "$1"); do grep -q "^#$id $2" "$T/out" && n=$((n + 1)); done; echo $n; }
dl='builder [0-9/]*\] RUN go mod download'
ck "go mod download ran once: the builder's target-independent steps are shared" \
	test "$(step_ids "$dl" | wc -l)/$(count_ids "$dl" 'SHARED with')" = 2/1
ck "go build ran for each target" \
	test "$(count_ids 'builder [0-9/]*\] RUN .*GOARCH=\$TARGETARCH go build' 'CACHE MISS')" = 2
ck "one entry in the store, an OCI image index under the tag" \
	test "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/demo:multi") | .mediaType' "$R/index.json")" = application/vnd.oci.image.index.v1+json
ck "no untagged per-platform manifests left behind" \
	test "$(jq '[.manifests[] | select(.annotations == null)] | length' "$R/index.json")" = 0
ck "plate images shows it once" test "$(p images | grep -c '^demo ')" = 1

p push demo:multi "$REG/demo:multi" >"$T/push" 2>"$T/push.err"
ck "push: the manifests, then the index" test $? = 0
LOCAL_INDEX=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/demo:multi") | .digest' "$R/index.json")
# The index of the manifests with their layers compressed (the store keeps them uncompressed).
INDEX=$(jq -r '(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/demo:multi") | .digest) as $d | .manifests[] | select(.annotations["dev.plate.subject"] == $d and .annotations["dev.plate.form"] == "gzip") | .digest' "$R/index.json")
ck "... the digest of the compressed index printed" grep -qx "$INDEX" "$T/push"
skopeo inspect --raw --tls-verify=false "docker://$REG/demo:multi" >"$T/raw" 2>/dev/null
ck "the registry holds the index with both platforms" \
	test "$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")' "$T/raw")" = linux/amd64,linux/arm64
for arch in amd64 arm64; do
	skopeo copy -q --src-tls-verify=false --override-arch $arch "docker://$REG/demo:multi" "oci:$T/pulled-$arch:x" >/dev/null 2>&1
	ck "skopeo pulls $arch from the index" test $? = 0
	m=$(jq -r '.manifests[0].digest' "$T/pulled-$arch/index.json" | cut -d: -f2)
	cfg=$(jq -r '.config.digest' "$T/pulled-$arch/blobs/sha256/$m" | cut -d: -f2)
	ck "... its config says $arch" test "$(jq -r .architecture "$T/pulled-$arch/blobs/sha256/$cfg")" = $arch
	mkdir -p "$T/fs-$arch"
	for l in $(jq -r '.layers[].digest' "$T/pulled-$arch/blobs/sha256/$m" | cut -d: -f2); do
		tar -C "$T/fs-$arch" -xf "$T/pulled-$arch/blobs/sha256/$l"
	done
done
ck "the amd64 binary is an x86-64 ELF" test "$(elf_machine "$T/fs-amd64/app/plate-demo")" = 62
ck "the arm64 binary is an aarch64 ELF" test "$(elf_machine "$T/fs-arm64/app/plate-demo")" = 183

port=$(free_port)
"$PLATE" --root "$R" run --network host --platform linux/arm64 -e LISTEN=127.0.0.1:$port demo:multi >"$T/run.out" 2>&1 &
runpid=$!
answer=
for _ in $(seq 1 600); do
	answer=$(curl -s --max-time 2 "http://127.0.0.1:$port/healthz") && [ "$answer" = ok ] && break
	kill -0 "$runpid" 2>/dev/null || break
	sleep 0.1
done
ck "plate run --platform linux/arm64 runs the arm64 binary under emulation (/healthz)" test "$answer" = ok
kill "$runpid" 2>/dev/null; wait "$runpid" 2>/dev/null; runpid=

ck "inspect lists the index's manifests with their platforms" \
	test "$(p inspect demo:multi | jq -r '[.[0].Manifests[].platform.architecture] | join(",")')" = amd64,arm64
p du --platform linux/arm64/v8 --format json demo:multi >"$T/du.json" 2>&1
ck "du --platform linux/arm64/v8 finds the arm64 image" test "$(jq '.layers | length' "$T/du.json" 2>/dev/null)" = 2
p save --format oci -o "$T/multi.tar" demo:multi >/dev/null 2>&1 &&
	"$PLATE" --root "$T/root3" load -i "$T/multi.tar" >/dev/null 2>&1
ck "save writes every platform, load keeps them all under the name" \
	bash -c "jq -e --arg d '$LOCAL_INDEX' '.manifests[] | select(.digest == \$d)' '$T/root3/index.json' >/dev/null && '$PLATE' --root '$T/root3' du --platform linux/arm64 demo:multi >/dev/null"

# The same build in a second store gives the same index.
R2=$T/root2
PLATE=$PLATE PLATE_ROOT=$R2 "$PLATE_SRC/scripts/make-builder-base.sh" >"$T/mb.out" 2>&1 || diag "$(cat "$T/mb.out")"
"$PLATE" --root "$R2" build -q --pull never --build-arg GO_IMAGE=golang:1.19-local \
	--platform linux/amd64,linux/arm64 -t demo:multi "$PLATE_SRC/examples/go-service" >"$T/out" 2>&1
ck "the index digest is the same from a second store (reproducible)" \
	test "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/demo:multi") | .digest' "$R2/index.json")" = "$LOCAL_INDEX"

tap_done
