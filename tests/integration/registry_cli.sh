#!/usr/bin/env bash
# plate pull / push against a real docker-registry over http: what skopeo pushed, plate
# pulls with identical digests (OCI and Docker schema2); what plate pushes, skopeo inspects
# and copies back; an index pulled with --platform; faults injected by the proxy (retried,
# or a clear error, and `plate fsck` clean after); extraction overlapping the download, and
# falling back to the completed blob when a download starts over; FROM pulling what the
# store lacks.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry skopeo python3 jq

start_registry reg || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
S=$T/store
p() { "$PLATE" --root "$S" "$@"; }

# An OCI layout for skopeo to push.
make_image "$T/img" alpha
L=$T/layout
oci_layout "$T/img" "$L"
skopeo copy -q --dest-tls-verify=false "oci:$L:v1" "docker://$R/sk/oci:v1" >/dev/null 2>&1
skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$L:v1" "docker://$R/sk/docker:v1" >/dev/null 2>&1
SK_OCI=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/sk/oci:v1" 2>/dev/null)
SK_DOCKER=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/sk/docker:v1" 2>/dev/null)

p pull "$R/sk/oci:v1" >"$T/pull1" 2>"$T/pull1.err"
tap_check "plate pull of a skopeo-pushed OCI image" [ $? = 0 ]
tap_check "the stored manifest digest is the registry's" \
	[ "$(skopeo inspect --format '{{.Digest}}' "oci:$S:$R/sk/oci:v1" 2>/dev/null)" = "$SK_OCI" ]
tap_like "pull prints the digest" "digest: $SK_OCI" "$T/pull1.err"
p pull "$R/sk/docker:v1" >/dev/null 2>"$T/pull2.err"
# Named through its OCI twin, the Docker manifest kept beside it (registry_docker_format.sh).
tap_check "Docker schema2 pulled with its digest" \
	[ "$(jq -r --arg n "$R/sk/docker:v1" '(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest) as $t | .manifests[] | select(.annotations["dev.plate.subject"] == $t) | .digest' "$S/index.json")" = "$SK_DOCKER" ]
tap_like "blobs already in the store are not fetched again" "pulled 0 of 2 blobs" "$T/pull2.err"
tap_check "the layer was extracted" [ -f "$S/snapshots/$(jq -r '.rootfs.diff_ids[0]' "$T/img/config.json" | cut -d: -f2)/fs/alpha.txt" ]
p pull -q "$R/sk/oci@$SK_OCI" >"$T/pull3" 2>&1
tap_check "pull by digest" grep -qx "$SK_OCI" "$T/pull3"

# plate push: to another repository (mounted), then skopeo judges.
p push "$R/sk/oci:v1" "$R/pl/copy:v2" >"$T/push1" 2>"$T/push1.err"
tap_check "plate push to another repository" grep -qx "$SK_OCI" "$T/push1"
tap_like "blobs mounted from the image's own repository" "mounted" "$T/push1.err"
tap_check "skopeo inspect sees the same digest" \
	[ "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/pl/copy:v2" 2>/dev/null)" = "$SK_OCI" ]
skopeo copy -q --src-tls-verify=false "docker://$R/pl/copy:v2" "oci:$T/back:v2" >/dev/null 2>&1
tap_check "skopeo copy back keeps the layer" \
	cmp -s "$T/back/blobs/sha256/$(sha256_of "$T/img/layer.tar.gz" | cut -d: -f2)" "$T/img/layer.tar.gz"
p push "$R/sk/oci:v1" "$R/pl/copy:v3" >/dev/null 2>"$T/push2.err"
tap_like "a second push uploads nothing (HEAD)" "pushed 0 of 2 blobs" "$T/push2.err"
p push "$R/nothing:here" >/dev/null 2>"$T/push3.err"
tap_check "pushing an image the store lacks fails (exit 1)" [ $? = 1 ]
p pull "$R/sk/missing:v1" >/dev/null 2>"$T/miss.err"
tap_check "pulling a missing image fails (exit 1)" [ $? = 1 ]
tap_like "the 404 names the reference and the registry" "$R/sk/missing:v1.*http://$R.*404" "$T/miss.err"

# A two-platform index.
make_image "$T/amd" amd
make_image "$T/arm" arm
push_image "$T/amd" "$R/multi/app@$(sha256_of "$T/amd/manifest.json")" >/dev/null 2>&1
push_image "$T/arm" "$R/multi/app@$(sha256_of "$T/arm/manifest.json")" >/dev/null 2>&1
desc() { printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"%s"%s}}' \
	"$(sha256_of "$1/manifest.json")" "$(stat -c %s "$1/manifest.json")" "$2" "$3"; }
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' \
	"$(desc "$T/amd" amd64 '')" "$(desc "$T/arm" arm64 ',"variant":"v8"')" >"$T/index.json"
"$RT" push-manifest "$R/multi/app:v1" "$T/index.json" application/vnd.oci.image.index.v1+json >/dev/null 2>&1
p pull --platform linux/arm64 -q "$R/multi/app:v1" >/dev/null 2>&1
tap_check "--platform linux/arm64 keeps the index under the name, with the arm64 manifest alone" \
	bash -c "[ \"\$(jq -r --arg n '$R/multi/app:v1' '.manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \$n) | .digest' '$S/index.json')\" = '$(sha256_of "$T/index.json")' ] &&
		[ -e '$S/blobs/sha256/$(sha256_of "$T/arm/manifest.json" | cut -d: -f2)' ] && [ ! -e '$S/blobs/sha256/$(sha256_of "$T/amd/manifest.json" | cut -d: -f2)' ]"
p pull --platform linux/amd64 -q "$R/multi/app:v1" >/dev/null 2>&1
tap_check "--platform linux/amd64 adds the amd64 manifest beside it" \
	bash -c "[ -e '$S/blobs/sha256/$(sha256_of "$T/arm/manifest.json" | cut -d: -f2)' ] && [ -e '$S/blobs/sha256/$(sha256_of "$T/amd/manifest.json" | cut -d: -f2)' ]"
p pull --platform linux/s390x "$R/multi/app:v1" >/dev/null 2>"$T/plat.err"
tap_like "a platform the index lacks is a clear error" "no manifest for platform 'linux/s390x'" "$T/plat.err"

# Faults between plate and the registry.
PLOG=$T/proxy.log
: >"$PLOG"
start_helper PP fault_proxy.py "$REG_PORT" "$PLOG" || tap_skip_all "proxy does not start"
P=127.0.0.1:$PP
fault() { http_get "http://$P/__fault?$1"; }
mkdir -p "$T/big/root"
head -c 2000000 /dev/urandom >"$T/big/root/random"
image_from_root "$T/big" /random
push_image "$T/big" "$R/f/big:v1" >/dev/null 2>&1
BIG=$(sha256_of "$T/big/layer.tar.gz")

fault "mode=corrupt&count=9&method=GET&path=/blobs/$BIG"
p pull "$P/f/big:v1" >/dev/null 2>"$T/f1.err"
tap_check "a corrupted blob fails the pull (exit 1)" [ $? = 1 ]
tap_like "the error says the digest does not match" "$BIG.*(digest|match)" "$T/f1.err"
tap_check "nothing named after the failed pull" [ "$(jq --arg n "$P/f/big:v1" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n)] | length' "$S/index.json")" = 0 ]
tap_check "the corrupted blob is not in the store" [ ! -e "$S/blobs/sha256/${BIG#sha256:}" ]
fault "mode=&count=0"
fault "mode=drop,fail500,fail500&method=GET&path=/blobs/$BIG"
p pull "$P/f/big:v1" >/dev/null 2>"$T/f2.err"
tap_check "a dropped connection and 500s are retried" [ $? = 0 ]
tap_like "the proxy saw the resumed Range request" "GET /v2/f/big/blobs/$BIG range=bytes=[1-9]" "$PLOG"
p fsck >"$T/fsck" 2>&1
tap_check "plate fsck is clean after the faults" grep -q " 0 problems" "$T/fsck"

# Extraction is pipelined with the download: while the proxy holds back the last 64 KiB
# of the layer, the file at the head of the layer is already extracted (in the pull's
# transaction directory); then the pull completes.
mkdir -p "$T/pipe/root"
echo first >"$T/pipe/root/a-first"
head -c 1000000 /dev/urandom >"$T/pipe/root/b-random"
image_from_root "$T/pipe" /a-first
push_image "$T/pipe" "$R/f/pipe:v1" >/dev/null 2>&1
PIPE=$(sha256_of "$T/pipe/layer.tar.gz")
S3=$T/store3
fault "mode=hold&method=GET&path=/blobs/$PIPE&release=$T/release"
"$PLATE" --root "$S3" pull -q "$P/f/pipe:v1" >/dev/null 2>"$T/pipe.err" &
pull_pid=$!
seen=
for _ in $(seq 300); do
	for f in "$S3"/tmp/*/snapw-*/fs/a-first; do
		[ -f "$f" ] && [ "$(cat "$f")" = first ] && seen=1
	done
	[ -n "$seen" ] && break
	sleep 0.1
done
tap_check "the layer's first file is extracted before its last bytes arrive" \
	[ -n "$seen" ] && [ ! -e "$T/release" ]
touch "$T/release"
wait "$pull_pid"
tap_check "then the pull completes" [ $? = 0 ]
tap_check "with the snapshot in the store" \
	cmp -s "$S3/snapshots/$(sha256_of "$T/pipe/layer.tar" | cut -d: -f2)/fs/b-random" "$T/pipe/root/b-random"
# A download that starts over (Range ignored) cannot continue its stream: the layer is
# extracted from the completed blob instead.
fault "mode=drop,norange&method=GET&path=/blobs/$BIG"
"$PLATE" --root "$S3" pull "$P/f/big:v1" >/dev/null 2>"$T/restart.err"
tap_check "a restarted download still gives the snapshot" [ $? = 0 ] &&
	cmp -s "$S3/snapshots/$(sha256_of "$T/big/layer.tar" | cut -d: -f2)/fs/random" "$T/big/root/random"
tap_like "the proxy saw the request that ignored Range" "GET /v2/f/big/blobs/$BIG range=bytes=[1-9].* fault=norange" "$PLOG"
"$PLATE" --root "$S3" fsck >"$T/fsck3" 2>&1
tap_check "plate fsck is clean after both" grep -q " 0 problems" "$T/fsck3"
fault "mode=&count=0"

# FROM pulls what the store lacks; --pull never refuses.
if grep -qw overlay /proc/filesystems; then
	mkdir -p "$T/ctx"
	echo data >"$T/ctx/file"
	printf 'FROM %s/pl/copy:v2\nCOPY file /file\n' "$R" >"$T/ctx/Dockerfile"
	S2=$T/store2
	"$PLATE" --root "$S2" build --pull never -t x "$T/ctx" >/dev/null 2>"$T/b1.err"
	tap_check "--pull never with the base missing fails" [ $? = 1 ]
	tap_like "and says why" "'$R/pl/copy:v2' is not in the store \\(--pull never\\)" "$T/b1.err"
	"$PLATE" --root "$S2" build --progress plain -t "$R/pl/built:v1" --push "$T/ctx" >/dev/null 2>"$T/b2.err"
	tap_check "FROM pulls the missing base and --push pushes the result" [ $? = 0 ]
	tap_like "the base was pulled" "pulled $R/pl/copy:v2" "$T/b2.err"
	# The build's layers are stored uncompressed; the push sent the gzip form it stored.
	tap_check "skopeo sees the pushed build with the digest of the store's compressed form" \
		[ "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/pl/built:v1" 2>/dev/null)" = \
		  "$(jq -r --arg n "$R/pl/built:v1" '(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest) as $d | .manifests[] | select(.annotations["dev.plate.subject"] == $d and .annotations["dev.plate.form"] == "gzip") | .digest' "$S2/index.json")" ]
	"$PLATE" --root "$S2" build --progress plain -t "$R/pl/built:v1" "$T/ctx" >/dev/null 2>"$T/b3.err"
	tap_check "the next build does not pull again (default: missing)" bash -c "! grep -q pulling '$T/b3.err'"
	# The built image, named only locally, pushed to a new repository: the base's layer is
	# mounted from the repository the base was pulled from, the rest uploaded.
	"$PLATE" --root "$S2" build -q -t local/app "$T/ctx" >/dev/null 2>&1
	"$PLATE" --root "$S2" rmi "$R/pl/built:v1" >/dev/null 2>&1
	"$PLATE" --root "$S2" push local/app "$R/pl/fresh:v1" >/dev/null 2>"$T/push4.err"
	tap_like "a base layer is mounted from the base's repository" \
		"^mounted $(sha256_of "$T/img/layer.tar.gz" | cut -c1-19) " "$T/push4.err"
	tap_like "the image's own layer is uploaded" "uploaded" "$T/push4.err"
fi
tap_done
