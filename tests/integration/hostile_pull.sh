#!/usr/bin/env bash
# A gzip bomb served by a real docker-registry: `plate pull` stops inflating it after the
# ratio limit's floor (64 MiB, not 2 GiB), names the layer and the flag, and leaves the
# store unchanged (hostile_inputs.sh has the same layer through load, import and ADD).
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
. "$(dirname "$0")/store-helpers.bash"
reg_need docker-registry python3 gzip

start_registry reg || tap_skip_all "docker-registry does not start here"
D=127.0.0.1:$REG_PORT
S=$T/store
p() { "$PLATE" --root "$S" "$@"; }

mkdir -p "$T/img"
gzip_bomb "$T/img/layer.tar.gz"
# The diffID is never reached.
cat >"$T/img/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:$(printf never | sha256sum | cut -d' ' -f1)"]}}
JSON
cat >"$T/img/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$(sha256_of "$T/img/config.json")","size":$(stat -c %s "$T/img/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$(sha256_of "$T/img/layer.tar.gz")","size":$(stat -c %s "$T/img/layer.tar.gz")}]}
JSON
push_image "$T/img" "$D/bomb/app:v1" >/dev/null 2>&1 || tap_skip_all "cannot push to the registry"

p images >/dev/null
before=$(store_files "$S")
timeout -s KILL 20 "$PLATE" --root "$S" pull "$D/bomb/app:v1" >/dev/null 2>"$T/err"
rc=$?
tap_check "pull of a gzip bomb fails by itself (not killed by the timeout)" [ "$rc" != 0 ] && [ "$rc" != 137 ]
tap_like "the error names the layer" "layer '$(sha256_of "$T/img/layer.tar.gz")'" "$T/err"
tap_like "and the ratio limit with its flag" "times its compressed size .*--max-layer-ratio" "$T/err"
tap_check "the store is unchanged" [ "$(store_files "$S")" = "$before" ]
tap_check "and sound" p fsck
tap_done
