#!/usr/bin/env bash
# Other pullers take each platform of plate's multi-platform push (issue 15): a two-platform
# image (Debian's amd64 and arm64 busybox-static, plus a file whose content names the target)
# pushed with `plate build --push` to a docker-registry, then copied by skopeo into a Docker
# manifest list (`--all --format v2s2`), which plate pulls platform by platform and pushes
# back.  From the OCI index and from plate's Docker manifest list, podman (a private --root,
# vfs) and docker (a private dockerd, root only) pull linux/amd64 and linux/arm64: each one's
# Architecture, image ID and diffIDs are plate's, and the files are the ones built.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
. "$(dirname "$0")/dockerd-helpers.bash"
. "$(dirname "$0")/podman-helpers.bash"
build_prereqs
for tool in skopeo docker-registry; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done
for a in amd64 arm64; do
	ls /var/cache/apt/archives/busybox-static_*_$a.deb >/dev/null 2>&1 ||
		tap_skip_all "busybox-static:$a not in apt's archive (scripts/deps.sh downloads it)"
done
cleanup() {
	pm_cleanup
	stop_dockerd
	_reg_cleanup
}
trap cleanup EXIT
pm_start || tap_skip_all "podman not installed"
start_registry reg || tap_skip_all "docker-registry does not start here"
REG=127.0.0.1:$REG_PORT

# ---- plate's push and the Docker manifest list made of it ---------------------------------
for a in amd64 arm64; do
	PLATE=$PLATE PLATE_ROOT=$R "$PLATE_SRC/scripts/make-busybox-base.sh" $a bb-$a >/dev/null 2>"$T/base.err" ||
		{ diag "$(cat "$T/base.err")"; tap_skip_all "make-busybox-base.sh $a failed"; }
	deb=$(ls /var/cache/apt/archives/busybox-static_*_$a.deb | tail -n1)
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ./bin/busybox >"$T/busybox-$a"
done
C=$T/ctx
mkdir -p "$C"
printf 'FROM bb-$TARGETARCH\nARG TARGETARCH\nCOPY arch-$TARGETARCH.txt /arch.txt\nCMD ["cat", "/arch.txt"]\n' >"$C/Dockerfile"
for a in amd64 arm64; do echo "built for $a" >"$C/arch-$a.txt"; done
build "$C" --platform linux/amd64,linux/arm64 --push -t "$REG/pl/multi:1"
ck "a two-platform image is built and pushed (build --push)" test "$rc" = 0
skopeo inspect --raw --tls-verify=false "docker://$REG/pl/multi:1" >"$T/index" 2>/dev/null
ck "the registry holds an OCI index of linux/amd64 and linux/arm64" \
	test "$(jq -r '.mediaType + " " + ([.manifests[].platform | .os + "/" + .architecture] | join(","))' "$T/index")" = \
	"application/vnd.oci.image.index.v1+json linux/amd64,linux/arm64"
# What plate built, per platform: the config digest (the image ID) and the diffIDs.
for a in amd64 arm64; do
	m=$(jq -r --arg a $a '.manifests[] | select(.platform.architecture == $a) | .digest' "$T/index")
	cfg=$(jq -r .config.digest "$R/blobs/sha256/${m#sha256:}")
	echo "$cfg" >"$T/id-$a"
	jq -c .rootfs.diff_ids "$R/blobs/sha256/${cfg#sha256:}" >"$T/diffids-$a"
done

skopeo copy -q --all --format v2s2 --src-tls-verify=false --dest-tls-verify=false \
	"docker://$REG/pl/multi:1" "docker://$REG/pl/list:1" >/dev/null 2>"$T/sk.err"
skopeo inspect --raw --tls-verify=false "docker://$REG/pl/list:1" >"$T/list" 2>>"$T/sk.err"
ck "skopeo copies it into a Docker manifest list" test "$(jq -r .mediaType "$T/list" 2>/dev/null)" = \
	application/vnd.docker.distribution.manifest.list.v2+json
S=$T/s
for a in amd64 arm64; do
	"$PLATE" --root "$S" pull --platform linux/$a "$REG/pl/list:1" >"$T/out" 2>&1
done
ck "plate pulls linux/amd64, then linux/arm64 of the list: both kept" \
	grep -qx 'platforms in the store: linux/amd64 linux/arm64' "$T/out"
"$PLATE" --root "$S" push "$REG/pl/list:1" "$REG/pl/back:1" >"$T/push" 2>&1
ck "... and pushes the list back, byte for byte (the same digest)" \
	test "$(tail -n1 "$T/push")" = "sha256:$(sha256sum <"$T/list" | cut -d' ' -f1)"

# judge TOOL REF ARCH: the image TOOL pulled for ARCH is the one plate built.  $T/got holds
# "Architecture Id" and $T/got.layers the diffIDs (JSON), $T/got-arch.txt and $T/got-busybox
# the files copied out of a container made from it.
judge() {
	local tool=$1 ref=$2 a=$3
	tap_check "$tool: $ref linux/$a is $a" test "$(cut -d' ' -f1 "$T/got")" = $a
	tap_check "... plate's image ID" test "$(cut -d' ' -f2 "$T/got")" = "$(cat "$T/id-$a")"
	tap_check "... plate's diffIDs" test "$(jq -c . "$T/got.layers")" = "$(cat "$T/diffids-$a")"
	tap_check "... the file built for $a" test "$(cat "$T/got-arch.txt")" = "built for $a"
	tap_check "... Debian's $a busybox" cmp -s "$T/got-busybox" "$T/busybox-$a"
}

# ---- podman ----------------------------------------------------------------------------
for ref in "$REG/pl/multi:1" "$REG/pl/back:1"; do
	for a in amd64 arm64; do
		rm -f "$T/got"*
		if pm pull -q --tls-verify=false --platform linux/$a "$ref" >"$T/pm.out" 2>&1; then
			pm image inspect --format '{{.Architecture}} sha256:{{.Id}}' "$ref" >"$T/got"
			pm image inspect --format '{{json .RootFS.Layers}}' "$ref" >"$T/got.layers"
			cid=$(pm create --network none --platform linux/$a "$ref")
			pm cp "$cid:/arch.txt" - | tar -xO >"$T/got-arch.txt"
			pm cp "$cid:/bin/busybox" - | tar -xO >"$T/got-busybox"
			pm rm "$cid" >/dev/null
			pm rmi -f "$ref" >/dev/null
		else
			diag "$(cat "$T/pm.out")"
		fi
		judge podman "$ref" $a
	done
done

# ---- docker ----------------------------------------------------------------------------
if root_part "docker needs a private dockerd, which needs the host's root"; then
	dockerd_need
	start_dockerd vfs || { diag "dockerd did not start:" "$(tail -20 "$DOCKERD_DIR/log")"; exit 1; }
	for ref in "$REG/pl/multi:1" "$REG/pl/back:1"; do
		for a in amd64 arm64; do
			rm -f "$T/got"*
			# dockerd treats 127.0.0.0/8 as an insecure registry by itself.
			if $DOCKER pull -q --platform linux/$a "$ref" >"$T/dk.out" 2>&1; then
				$DOCKER image inspect -f '{{.Architecture}} {{.Id}}' "$ref" >"$T/got"
				$DOCKER image inspect -f '{{json .RootFS.Layers}}' "$ref" >"$T/got.layers"
				cid=$($DOCKER create --platform linux/$a "$ref")
				$DOCKER cp "$cid:/arch.txt" - | tar -xO >"$T/got-arch.txt"
				$DOCKER cp "$cid:/bin/busybox" - | tar -xO >"$T/got-busybox"
				$DOCKER rm "$cid" >/dev/null
				$DOCKER rmi -f "$ref" >/dev/null
			else
				diag "$(cat "$T/dk.out")"
			fi
			judge docker "$ref" $a
		done
	done
fi

tap_done
