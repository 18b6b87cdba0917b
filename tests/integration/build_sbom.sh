#!/usr/bin/env bash
# plate build --sbom: the SPDX document stored as an OCI 1.1 referrer of the image, read back
# by plate sbom, accepted by fsck, hidden from images, removed with the image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

quiet() { "$@" >/dev/null; }
fails() { ! "$@" >/dev/null 2>&1; }

C=$T/ctx
mkdir -p "$C"
printf 'FROM base:test\nCOPY f /f\n' >"$C/Dockerfile"
echo hi >"$C/f"
build "$C" -t withsbom
p sbom withsbom >"$T/computed"
ck "without --sbom no referrer is stored" test "$(jq '[.manifests[] | select(.artifactType)] | length' "$R/index.json")" = 0
build "$C" -t withsbom --sbom
ck "build --sbom succeeds" test "$rc" = 0
img=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/withsbom:latest") | .digest' "$R/index.json")
ref=$(jq -c --arg s "$img" '[.manifests[] | select(.annotations["dev.plate.subject"] == $s)]' "$R/index.json")
ck "one referrer entry names the image" test "$(jq length <<<"$ref")" = 1
ck "the entry is an spdx artifact without a name" \
	test "$(jq -r '.[0] | [.artifactType, .annotations["org.opencontainers.image.ref.name"]] | @tsv' <<<"$ref")" = "application/spdx+json	"
rm_hex=$(jq -r '.[0].digest' <<<"$ref" | cut -d: -f2)
m=$R/blobs/sha256/$rm_hex
ck "the referrer's subject is the image manifest" test "$(jq -r .subject.digest "$m")" = "$img"
ck "the referrer has the spdx artifactType" test "$(jq -r .artifactType "$m")" = application/spdx+json
ck "its config is the empty descriptor" \
	test "$(jq -c '.config | [.mediaType, .digest, .size]' "$m")" = '["application/vnd.oci.empty.v1+json","sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",2]'
ck "one spdx layer" test "$(jq -r '[.layers[].mediaType] | join(",")' "$m")" = application/spdx+json
blob=$R/blobs/sha256/$(jq -r '.layers[0].digest' "$m" | cut -d: -f2)
p sbom withsbom >"$T/printed"
ck "plate sbom prints the stored document" cmp -s <(cat "$blob"; echo) "$T/printed"
ck "the stored document is a spdx 2.3 document" test "$(jq -r .spdxVersion "$blob")" = SPDX-2.3
ck "the stored document equals the computed one" cmp -s "$T/computed" "$T/printed"
ck "the referrer's digest prefix names no image" fails p inspect "${rm_hex:0:12}"
p tag withsbom other
p rmi withsbom >/dev/null
ck "the referrer stays while its image has a name" \
	test "$(jq '[.manifests[] | select(.annotations["dev.plate.subject"] != null)] | length' "$R/index.json")" = 1
ck "fsck accepts the referrer" quiet p fsck
ck "images does not list the referrer" test "$(p images -q | wc -l)" = "$(jq '[.manifests[] | select(.annotations["dev.plate.subject"] == null)] | length' "$R/index.json")"
if command -v skopeo >/dev/null; then
	ck "skopeo still reads the image" quiet skopeo inspect "oci:$R:docker.io/library/other:latest"
else
	tap_check "skopeo still reads the image # SKIP skopeo not installed" true
fi
p rmi other >/dev/null
ck "rmi drops the referrer entry" \
	test "$(jq '[.manifests[] | select(.annotations["dev.plate.subject"] != null)] | length' "$R/index.json")" = 0
p prune >/dev/null 2>&1
ck "prune removes the referrer's blobs" test ! -e "$m" -a ! -e "$blob"
ck "fsck is clean after prune" quiet p fsck
tap_done
