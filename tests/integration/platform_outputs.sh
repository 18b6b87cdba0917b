#!/usr/bin/env bash
# The outputs of a multi-platform build, as BuildKit writes them for a list of platforms,
# judged by real readers.  A cross build that needs no emulator: a RUN on $BUILDPLATFORM
# writes a file naming each target, copied into a FROM scratch image with a dpkg status
# file of that target's architecture.
#   - --output type=oci: one oci-archive whose index.json names the image index; skopeo
#     reads the index and copies each platform out of it (--override-arch), umoci unpacks
#     each copy and finds that platform's files; the same bytes on standard output (dest=-);
#   - --output type=local: DEST/linux_amd64 and DEST/linux_arm64, each with its files
#     (DEST/linux_arm_v7 for a variant); a DEST that cannot be made is refused before any
#     step, the store unchanged;
#   - --sbom: a referrer of each platform's manifest, listing that platform's package;
#   - --output type=docker: one error before any step runs (a docker-archive holds no
#     index), the store unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
for tool in skopeo umoci; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done
make_base

# The store's state a refused build must not change.
store_state() { { cat "$R/index.json"; ls "$R/snapshots" "$R/blobs/sha256"; } | sha256sum; }
steps_ran() { grep -c '^#[0-9]* DONE' "$T/out"; }
# index_entry NAME: the digest of the store's index.json entry named NAME.
index_entry() {
	jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$R/index.json"
}

C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM base:test AS gen
ARG TARGETARCH
RUN mkdir /out && echo "for $TARGETARCH" >/out/target
FROM scratch
ARG TARGETARCH
COPY --from=gen /out/target /target
COPY status-$TARGETARCH /var/lib/dpkg/status
EOF
for a in amd64 arm64; do
	printf 'Package: hello-%s\nStatus: install ok installed\nArchitecture: %s\nVersion: 1.0\n\n' $a $a >"$C/status-$a"
done
PLATFORMS=linux/amd64,linux/arm64

# ---- type=docker: refused before any step runs ------------------------------------------
before=$(store_state)
build "$C" --platform $PLATFORMS -t multi:out -o "type=docker,dest=$T/d.tar"
ck "type=docker with several platforms: exit 1, one error saying to use type=oci" \
	bash -c "test $rc = 1 && test \"\$(grep -c '^plate: error' '$T/out')\" = 1 &&
		grep -qx 'plate: error: --output type=docker takes one platform: a docker-archive holds no image index (use type=oci for several platforms)' '$T/out'"
ck "... nothing built, no archive" bash -c "test $(steps_ran) = 0 && test ! -e '$T/d.tar'"
ck "... the store unchanged" test "$(store_state)" = "$before"

# ---- type=oci and --sbom ----------------------------------------------------------------
build "$C" --platform $PLATFORMS -t multi:out --sbom -o "type=oci,dest=$T/multi.tar"
ck "type=oci with --sbom for two platforms builds" test "$rc" = 0
INDEX=$(index_entry docker.io/library/multi:out)
mkdir -p "$T/archive" && tar -C "$T/archive" -xf "$T/multi.tar"
ck "the archive's index.json names the build's image index under the tag" \
	test "$(jq -r '.manifests | length, (.[0] | .mediaType, .digest, .annotations["org.opencontainers.image.ref.name"])' "$T/archive/index.json" | paste -sd' ')" = \
	"1 application/vnd.oci.image.index.v1+json $INDEX docker.io/library/multi:out"
skopeo inspect --raw "oci-archive:$T/multi.tar" >"$T/raw" 2>"$T/skopeo.err"
ck "skopeo inspect --raw reads the index of both platforms" \
	test "$(jq -r '.mediaType, ([.manifests[].platform | .os + "/" + .architecture] | join(","))' "$T/raw" 2>/dev/null | paste -sd' ')" = \
	"application/vnd.oci.image.index.v1+json $PLATFORMS"
for a in amd64 arm64; do
	m=$(jq -r --arg a $a '.manifests[] | select(.platform.architecture == $a) | .digest' "$T/raw")
	ck "skopeo inspect --override-arch $a: the $a config" \
		test "$(skopeo inspect --override-arch $a "oci-archive:$T/multi.tar" 2>/dev/null | jq -r '.Os + "/" + .Architecture')" = linux/$a
	cfg=$(jq -r .config.digest "$T/archive/blobs/sha256/${m#sha256:}" 2>/dev/null)
	skopeo copy -q --override-arch $a "oci-archive:$T/multi.tar" "oci:$T/layout-$a:x" >/dev/null 2>"$T/skopeo.err"
	# skopeo compresses the layers it copies: the manifest changes, the config stays.
	copied=$(jq -r '.manifests[0].digest' "$T/layout-$a/index.json" 2>/dev/null |
		cut -d: -f2 | xargs -I{} jq -r .config.digest "$T/layout-$a/blobs/sha256/{}" 2>/dev/null)
	ck "skopeo copy --override-arch $a takes the $a image out of the archive" \
		test -n "$cfg" -a "$copied" = "$cfg"
	(cd "$T" && umoci unpack --rootless --image "layout-$a:x" "bundle-$a") >"$T/umoci.err" 2>&1
	ck "umoci unpacks it: /target names $a" test "$(cat "$T/bundle-$a/rootfs/target" 2>/dev/null)" = "for $a"
	ck "... its dpkg status is the $a one" cmp -s "$C/status-$a" "$T/bundle-$a/rootfs/var/lib/dpkg/status"
	# The SBOM referrer of this platform's manifest (the entry's dev.plate.subject is the
	# index, the referrer's subject the manifest).
	ref=$(jq -r --arg s "$INDEX" '.manifests[] | select(.annotations["dev.plate.subject"] == $s and .artifactType == "application/spdx+json") | .digest' "$R/index.json" |
		while read -r d; do
			[ "$(jq -r .subject.digest "$R/blobs/sha256/${d#sha256:}")" = "$m" ] && echo "$d"
		done)
	ck "--sbom: one spdx referrer of the $a manifest" test "$(echo "$ref" | grep -c .)" = 1
	blob=$R/blobs/sha256/$(jq -r '.layers[0].digest' "$R/blobs/sha256/${ref#sha256:}" 2>/dev/null | cut -d: -f2)
	ck "... its document lists the $a package only" \
		test "$(jq -r '[.packages[].externalRefs[]?.referenceLocator] | join(",")' "$blob" 2>/dev/null)" = "pkg:deb/debian/hello-$a@1.0?arch=$a"
	p sbom --platform linux/$a multi:out >"$T/sbom-$a" 2>&1
	ck "... and plate sbom --platform linux/$a prints it" cmp -s <(cat "$blob"; echo) "$T/sbom-$a"
done
ck "two SBOM referrers in all" \
	test "$(jq --arg s "$INDEX" '[.manifests[] | select(.annotations["dev.plate.subject"] == $s)] | length' "$R/index.json")" = 2
p build --progress plain --platform $PLATFORMS -t multi:out -o type=oci,dest=- "$C" >"$T/stdout.tar" 2>"$T/out"
ck "dest=- writes the same archive on standard output" cmp -s "$T/multi.tar" "$T/stdout.tar"
p build -q --platform $PLATFORMS -t multi:out -o type=oci,dest=- "$C" >"$T/stdout-q.tar" 2>"$T/out-q"
ck "... with -q too: the image ID on standard error, not after the archive" sh -c \
	"cmp -s '$T/multi.tar' '$T/stdout-q.tar' && grep -qx 'sha256:[0-9a-f]\{64\}' '$T/out-q'"

# ---- type=local: a directory per platform ------------------------------------------------
build "$C" --platform $PLATFORMS -o "type=local,dest=$T/local"
ck "type=local for two platforms builds" test "$rc" = 0
ck "DEST holds linux_amd64 and linux_arm64 only (BuildKit's platform-split)" \
	test "$(ls "$T/local" | paste -sd' ')" = "linux_amd64 linux_arm64"
for a in amd64 arm64; do
	ck "linux_$a holds the $a files" \
		bash -c "test \"\$(cat '$T/local/linux_$a/target')\" = 'for $a' && cmp -s '$C/status-$a' '$T/local/linux_$a/var/lib/dpkg/status'"
done
printf 'Package: hello-arm\nStatus: install ok installed\nArchitecture: armhf\nVersion: 1.0\n\n' >"$C/status-arm"
build "$C" --platform linux/amd64,linux/arm/v7 -o "type=local,dest=$T/local-v7"
ck "a variant is part of its directory's name: linux_arm_v7" \
	bash -c "test $rc = 0 && test \"\$(ls '$T/local-v7' | paste -sd' ')\" = 'linux_amd64 linux_arm_v7' &&
		test \"\$(cat '$T/local-v7/linux_arm_v7/target')\" = 'for arm'"
before=$(store_state)
build "$C" --platform $PLATFORMS --no-cache -o "type=local,dest=$C/Dockerfile/out"
ck "a local dest that cannot be made: one error before any step runs" \
	bash -c "test $rc = 1 && test $(steps_ran) = 0 &&
		grep -qx \"plate: error: --output type=local: cannot create '$C/Dockerfile/out': Not a directory\" '$T/out'"
ck "... the store unchanged" test "$(store_state)" = "$before"

tap_done
