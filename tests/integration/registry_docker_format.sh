#!/usr/bin/env bash
# Docker-format images (schema2 manifest, Docker config and layer media types), pulled from a
# registry or loaded from a docker-archive: the store keeps each manifest's own media type in
# index.json, so skopeo and umoci read the entry in place; push sends the manifest as it is
# (same digest); `save --format oci` gives a layout skopeo reads (issue 12 item 11).
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry skopeo umoci python3 jq

start_registry reg || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
S=$T/store
p() { "$PLATE" --root "$S" "$@"; }
DOCKER_MT=application/vnd.docker.distribution.manifest.v2+json

make_image "$T/img" dock
L=$T/layout
oci_layout "$T/img" "$L"
skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$L:v1" "docker://$R/sk/docker:v1" >/dev/null
SK=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/sk/docker:v1")
tap_check "skopeo pushed a Docker schema2 manifest" test "$(skopeo inspect --raw --tls-verify=false \
	"docker://$R/sk/docker:v1" | jq -r .mediaType)" = "$DOCKER_MT"

p pull -q "$R/sk/docker:v1" >/dev/null 2>"$T/pull.err"
tap_check "plate pulls it" test $? = 0
entry() { jq -c --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n)' "$S/index.json"; }
NAMED=$(entry "$R/sk/docker:v1" | jq -r .digest)
tap_check "the name points at an OCI manifest (what OCI layout readers require)" \
	test "$(entry "$R/sk/docker:v1" | jq -r .mediaType)" = application/vnd.oci.image.manifest.v1+json
tap_check "with the same config and layers" test \
	"$(jq -c '[.config.digest, [.layers[].digest], .config.mediaType]' "$S/blobs/sha256/${NAMED#sha256:}")" = \
	"$(skopeo inspect --raw --tls-verify=false "docker://$R/sk/docker:v1" | jq -c '[.config.digest, [.layers[].digest], "application/vnd.oci.image.config.v1+json"]')"
tap_check "index.json keeps the Docker manifest with its digest and its own media type" test \
	"$(jq -r --arg s "$NAMED" '.manifests[] | select(.annotations["dev.plate.subject"] == $s) | .digest + " " + .mediaType' "$S/index.json")" = "$SK $DOCKER_MT"
tap_check "fsck is clean" p fsck
tap_check "plate images lists the image once" test "$(p images | grep -c "sk/docker")" = 1

p push "$R/sk/docker:v1" "$R/pl/again:v1" >"$T/push.out" 2>"$T/push.err"
tap_check "plate pushes it back" test $? = 0
sed 's/^/# /' "$T/push.err" | head -5
tap_check "pushed unchanged: the registry has the same digest" \
	test "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/pl/again:v1" 2>/dev/null)" = "$SK"
tap_check "and the same media type" test "$(skopeo inspect --raw --tls-verify=false \
	"docker://$R/pl/again:v1" 2>/dev/null | jq -r .mediaType)" = "$DOCKER_MT"

skopeo inspect "oci:$S:$R/sk/docker:v1" >"$T/sk.json" 2>"$T/sk.err"
tap_check "skopeo inspects the store's entry" test $? = 0
sed 's/^/# /' "$T/sk.err" | head -3
tap_check "skopeo sees the image's layers" test "$(jq -c .Layers "$T/sk.json" 2>/dev/null)" = \
	"$(skopeo inspect --tls-verify=false "docker://$R/sk/docker:v1" | jq -c .Layers)"
umoci unpack --rootless --image "$S:$R/sk/docker:v1" "$T/bundle" >"$T/umoci.out" 2>&1
tap_check "umoci unpacks the store's entry" grep -q "hello from dock" "$T/bundle/rootfs/dock.txt"
sed 's/^/# /' "$T/umoci.out" | head -3

p save --format oci -o "$T/saved.tar" "$R/sk/docker:v1"
tap_check "save --format oci" test $? = 0
skopeo inspect "oci-archive:$T/saved.tar" >"$T/saved.json" 2>"$T/saved.err"
tap_check "skopeo reads the saved OCI archive" test $? = 0
sed 's/^/# /' "$T/saved.err" | head -3
skopeo copy -q "oci-archive:$T/saved.tar" "dir:$T/saved-dir" 2>"$T/copy.err"
tap_check "skopeo copies the image out of it" test -s "$T/saved-dir/manifest.json"
sed 's/^/# /' "$T/copy.err" | head -3
if command -v podman >/dev/null; then
	# podman refuses a runroot longer than 50 characters, as $T often is.
	PR=$(mktemp -d /tmp/podman-run.XXXXXX)
	podman --root "$T/podman" --runroot "$PR" load -q -i "$T/saved.tar" >"$T/podman.out" 2>&1
	tap_check "podman loads the saved OCI archive" test $? = 0
	rm -rf "$PR"
fi
p pull -q "$R/sk/docker@$SK" >"$T/bydigest" 2>&1
tap_check "pull by the Docker manifest's digest" grep -qx "$SK" "$T/bydigest"
p tag "$R/sk/docker:v1" "$R/sk/docker:v2" && p rmi "$R/sk/docker:v2" >/dev/null
tap_check "the Docker manifest stays while a name of its image does" \
	test "$(jq --arg d "$SK" '[.manifests[] | select(.digest == $d)] | length' "$S/index.json")" = 1
# A docker-archive load (Docker config, docker media types) goes the same way.
p save -o "$T/saved.docker.tar" "$R/sk/docker:v1" && p rmi "$R/sk/docker:v1" >/dev/null &&
	p load -i "$T/saved.docker.tar" >/dev/null 2>&1
tap_check "a docker-archive is loaded back" test $? = 0
tap_check "the Docker manifest left with the image's last name" \
	test "$(jq --arg d "$SK" '[.manifests[] | select(.digest == $d)] | length' "$S/index.json")" = 0
E=$(entry "$R/sk/docker:v1")
skopeo inspect "oci:$S:$R/sk/docker:v1" >/dev/null 2>"$T/sk2.err"
tap_check "skopeo reads the loaded entry (media type $(jq -r .mediaType <<<"$E"))" test $? = 0
sed 's/^/# /' "$T/sk2.err" | head -3
# An OCI layout archive whose index.json lists a Docker manifest (as Docker 25's `docker
# save` writes): loaded the same way, pushed unchanged.
O=$T/oci-docker
mkdir -p "$O/blobs/sha256"
skopeo copy -q --src-tls-verify=false "docker://$R/sk/docker:v1" "dir:$T/d" >/dev/null
for f in "$T"/d/*; do
	case $f in */manifest.json | */version) ;; *) cp "$f" "$O/blobs/sha256/" ;; esac
done
cp "$T/d/manifest.json" "$O/blobs/sha256/${SK#sha256:}"
echo '{"imageLayoutVersion":"1.0.0"}' >"$O/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"lo/docker:v1"}}]}' \
	"$DOCKER_MT" "$SK" "$(stat -c %s "$T/d/manifest.json")" >"$O/index.json"
tar -C "$O" -cf "$T/oci-docker.tar" .
p load -i "$T/oci-docker.tar" >/dev/null 2>"$T/load.err"
tap_check "an OCI layout listing a Docker manifest is loaded" test $? = 0
sed 's/^/# /' "$T/load.err" | head -3
skopeo inspect "oci:$S:docker.io/lo/docker:v1" >/dev/null 2>"$T/sk3.err"
tap_check "skopeo reads its entry in the store" test $? = 0
sed 's/^/# /' "$T/sk3.err" | head -3
p push "lo/docker:v1" "$R/pl/loaded:v1" >/dev/null 2>&1
tap_check "pushed unchanged" test \
	"$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/pl/loaded:v1" 2>/dev/null)" = "$SK"
tap_done
