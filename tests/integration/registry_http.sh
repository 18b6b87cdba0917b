#!/usr/bin/env bash
# The registry client against a real docker-registry over plain http (127.0.0.1 is local):
# what registry-tool pushes, skopeo reads back byte for byte, and what skopeo pushes,
# registry-tool fetches with identical digests.  Also chunked uploads, mounts, indexes,
# tags, 404 messages and mirrors.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry skopeo python3

start_registry reg || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
make_image "$T/img" alpha
CONFIG=$(sha256_of "$T/img/config.json")
LAYER=$(sha256_of "$T/img/layer.tar.gz")
MDIGEST=$(sha256_of "$T/img/manifest.json")

"$RT" push-blob "$R/plate/http" "$T/img/layer.tar.gz" >"$T/push1" 2>&1
tap_check "push-blob uploads a new blob" grep -qx "$LAYER uploaded" "$T/push1"
"$RT" push-blob "$R/plate/http" "$T/img/layer.tar.gz" >"$T/push2" 2>&1
tap_check "push-blob of a present blob only checks (HEAD)" grep -qx "$LAYER existed" "$T/push2"
"$RT" push-blob "$R/plate/http" "$T/img/config.json" >/dev/null 2>&1
"$RT" push-manifest "$R/plate/http:v1" "$T/img/manifest.json" application/vnd.oci.image.manifest.v1+json \
	>"$T/pm" 2>&1
tap_check "push-manifest prints the manifest digest" grep -qx "$MDIGEST" "$T/pm"

skopeo inspect --tls-verify=false "docker://$R/plate/http:v1" >"$T/inspect.json" 2>"$T/inspect.err"
tap_check "skopeo sees our manifest digest" [ "$(jq -r .Digest "$T/inspect.json")" = "$MDIGEST" ]
tap_check "skopeo sees our layer" [ "$(jq -r '.Layers[0]' "$T/inspect.json")" = "$LAYER" ]
skopeo inspect --raw --tls-verify=false "docker://$R/plate/http:v1" >"$T/raw.json" 2>/dev/null
tap_check "the registry stored the manifest bytes exactly" cmp -s "$T/raw.json" "$T/img/manifest.json"
skopeo copy -q --src-tls-verify=false "docker://$R/plate/http:v1" "oci:$T/copy:v1" >/dev/null 2>&1
tap_check "skopeo copy to an oci dir keeps our layer" cmp -s "$T/copy/blobs/sha256/${LAYER#sha256:}" "$T/img/layer.tar.gz"
tap_check "skopeo copy keeps our config" cmp -s "$T/copy/blobs/sha256/${CONFIG#sha256:}" "$T/img/config.json"

# The other way: an OCI layout pushed by skopeo, read by registry-tool.
make_image "$T/img2" beta
L=$T/layout
mkdir -p "$L/blobs/sha256"
for f in config.json layer.tar.gz manifest.json; do
	d=$(sha256_of "$T/img2/$f")
	cp "$T/img2/$f" "$L/blobs/sha256/${d#sha256:}"
done
echo '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
cat >"$L/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$(sha256_of "$T/img2/manifest.json")","size":$(stat -c %s "$T/img2/manifest.json"),"annotations":{"org.opencontainers.image.ref.name":"v2"}}]}
JSON
skopeo copy -q --dest-tls-verify=false "oci:$L:v2" "docker://$R/plate/skopeo:v2" >"$T/sc.out" 2>&1
tap_check "skopeo pushes an OCI layout" [ $? = 0 ]
SKOPEO_DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/plate/skopeo:v2" 2>/dev/null)
"$RT" --info manifest "$R/plate/skopeo:v2" >"$T/info" 2>&1
tap_check "registry-tool fetches skopeo's manifest with the same digest" \
	grep -qx "$SKOPEO_DIGEST application/vnd.oci.image.manifest.v1+json [0-9]*" "$T/info"
"$RT" manifest "$R/plate/skopeo:v2" >"$T/m2.json" 2>/dev/null
tap_check "manifest by tag: exact bytes" [ "$(sha256_of "$T/m2.json")" = "$SKOPEO_DIGEST" ]
"$RT" manifest "$R/plate/skopeo@$SKOPEO_DIGEST" >"$T/m3.json" 2>/dev/null
tap_check "manifest by digest: verified and identical" cmp -s "$T/m2.json" "$T/m3.json"
ok=true
for d in $(jq -r '.config.digest, .layers[].digest' "$T/m2.json"); do
	"$RT" blob "$R/plate/skopeo" "$d" "$T/blob-out" >/dev/null 2>&1 || ok=false
	[ "$(sha256_of "$T/blob-out")" = "$d" ] || ok=false
	cmp -s "$T/blob-out" "$L/blobs/sha256/${d#sha256:}" || ok=false
done
tap_check "every blob skopeo pushed is fetched with its digest" $ok
SIZE=$(jq -r '.layers[0].size' "$T/m2.json")
D=$(jq -r '.layers[0].digest' "$T/m2.json")
"$RT" head-blob "$R/plate/skopeo" "$D" >"$T/hb" 2>&1
tap_check "head-blob reports the size" grep -qx "$SIZE" "$T/hb"
"$RT" --expected-size $((SIZE - 1)) blob "$R/plate/skopeo" "$D" "$T/short" >/dev/null 2>"$T/short.err"
tap_check "a blob longer than its descriptor is refused" [ $? = 1 ] && [ ! -e "$T/short" ] && [ ! -e "$T/short.part" ]

# Chunked upload (PATCH with Content-Range) and a cross-repository mount.
head -c 70000 /dev/urandom >"$T/big"
BIG=$(sha256_of "$T/big")
"$RT" --chunk-size 16384 --stats push-blob "$R/plate/chunks" "$T/big" >"$T/ch" 2>"$T/ch.err"
tap_check "chunked push (5 PATCH + PUT)" grep -qx "$BIG uploaded" "$T/ch"
tap_like "chunked push made HEAD, POST, 5 PATCH, PUT" "requests=8 " "$T/ch.err"
"$RT" blob "$R/plate/chunks" "$BIG" "$T/big.back" >/dev/null 2>&1
tap_check "chunked blob reads back identical" cmp -s "$T/big" "$T/big.back"
"$RT" --mount-from plate/chunks push-blob "$R/plate/mounted" "$T/big" >"$T/mnt" 2>&1
tap_check "cross-repository mount" grep -qx "$BIG mounted" "$T/mnt"

# An index, and a docker schema2 manifest: media types survive the round trip.
cat >"$T/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$MDIGEST","size":$(stat -c %s "$T/img/manifest.json"),"platform":{"architecture":"amd64","os":"linux"}}]}
JSON
"$RT" push-manifest "$R/plate/http:multi" "$T/index.json" application/vnd.oci.image.index.v1+json >/dev/null 2>&1
"$RT" --info manifest "$R/plate/http:multi" >"$T/idx" 2>&1
tap_check "index served with its media type" grep -q " application/vnd.oci.image.index.v1+json " "$T/idx"
sed -e 's|application/vnd.oci.image.manifest.v1+json|application/vnd.docker.distribution.manifest.v2+json|' \
	-e 's|application/vnd.oci.image.config.v1+json|application/vnd.docker.container.image.v1+json|' \
	-e 's|application/vnd.oci.image.layer.v1.tar+gzip|application/vnd.docker.image.rootfs.diff.tar.gzip|' \
	"$T/img/manifest.json" >"$T/docker.json"
"$RT" push-manifest "$R/plate/http:docker" "$T/docker.json" application/vnd.docker.distribution.manifest.v2+json >/dev/null 2>&1
"$RT" --info manifest "$R/plate/http:docker" >"$T/dk" 2>&1
tap_check "docker schema2 manifest round trip" grep -qx "$(sha256_of "$T/docker.json") application/vnd.docker.distribution.manifest.v2+json [0-9]*" "$T/dk"
"$RT" push-manifest "$R/plate/http:bad" "$T/docker.json" application/vnd.oci.image.manifest.v1+json >/dev/null 2>"$T/mt.err"
tap_like "Content-Type must equal the manifest's mediaType" "mediaType .* but is pushed as" "$T/mt.err"

"$RT" tags "$R/plate/http" >"$T/tags" 2>&1
tap_check "tags listed" [ "$(sort "$T/tags" | tr '\n' ' ')" = "docker multi v1 " ]

for t in p1 p2 p3 p4; do
	"$RT" push-manifest "$R/plate/http:$t" "$T/img/manifest.json" application/vnd.oci.image.manifest.v1+json >/dev/null 2>&1
done
"$RT" --page-size 2 tags "$R/plate/http" >"$T/paged" 2>"$T/paged.err"
tap_check "tags with a page size" [ "$(sort "$T/paged" | tr '\n' ' ')" = "docker multi p1 p2 p3 p4 v1 " ]
"$RT" head-manifest "$R/plate/http:v1" >"$T/hm" 2>&1
tap_check "head-manifest: digest, type, size" grep -qx "$MDIGEST application/vnd.oci.image.manifest.v1+json $(stat -c %s "$T/img/manifest.json")" "$T/hm"
"$RT" head-manifest "$R/plate/http:absent" >/dev/null 2>&1
tap_check "head-manifest of an absent tag" [ $? = 3 ]

"$RT" manifest "$R/plate/http:nope" >/dev/null 2>"$T/404"
tap_like "404 names the reference, the registry and the registry's code" \
	"manifest '$R/plate/http:nope' not found at 'http://$R': 404 not found: MANIFEST_UNKNOWN" "$T/404"
"$RT" manifest "$R/plate/http@sha256:$(printf unknown | sha256sum | cut -d" " -f1)" >/dev/null 2>"$T/404d"
tap_like "manifest by an unknown digest is a 404" "404 not found" "$T/404d"

# Mirrors: docker.io served by the local registry (reads only, no network).
"$RT" --mirrors "docker.io=http://$R" --info manifest docker.io/plate/http:v1 >"$T/mirror" 2>&1
tap_check "docker.io read through a mirror" grep -q "^$MDIGEST " "$T/mirror"
"$RT" --mirrors "docker.io=$R" blob docker.io/plate/http "$LAYER" "$T/mirror-blob" >/dev/null 2>&1
tap_check "blob through a scheme-less local mirror" cmp -s "$T/mirror-blob" "$T/img/layer.tar.gz"
DEAD=$(free_port)
"$RT" --attempts 1 --mirrors "docker.io=http://127.0.0.1:$DEAD,docker.io=http://$R" --info \
	manifest docker.io/plate/http:v1 >"$T/mirror2" 2>&1
tap_check "an unreachable mirror falls through to the next one" grep -q "^$MDIGEST " "$T/mirror2"
tap_done
