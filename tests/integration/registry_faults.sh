#!/usr/bin/env bash
# Failures between the client and a real docker-registry, injected by a proxy
# (tests/helpers/fault_proxy.py): a connection dropped mid-blob (resumed with Range, or
# restarted when Range is ignored), 500 twice then success, 429 with Retry-After, a stall
# (timeout error), a corrupted blob (refused, nothing published), failed upload requests.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry python3

start_registry reg || tap_skip_all "docker-registry does not start here"
PLOG=$T/proxy.log
: >"$PLOG"
start_helper PP fault_proxy.py "$REG_PORT" "$PLOG" || tap_skip_all "proxy does not start"
D=127.0.0.1:$REG_PORT
P=127.0.0.1:$PP
fault() { http_get "http://$P/__fault?$1"; }
FAST=(--backoff-ms 50 --stats)

head -c 1048576 /dev/urandom >"$T/blob"
B=$(sha256_of "$T/blob")
"$RT" push-blob "$D/f/app" "$T/blob" >/dev/null 2>&1
make_image "$T/img" faults
push_image "$T/img" "$D/f/app:v1" >/dev/null 2>&1

fault "mode=drop&count=1&method=GET&path=/blobs/"
"$RT" "${FAST[@]}" blob "$P/f/app" "$B" "$T/out1" >/dev/null 2>"$T/e1"
tap_check "blob survives a dropped connection" cmp -s "$T/out1" "$T/blob"
tap_like "download resumed with Range" "resumes=1 .*restarts=0" "$T/e1"
tap_like "proxy saw the Range request" "GET /v2/f/app/blobs/$B range=bytes=524288- " "$PLOG"

fault "mode=drop,norange&method=GET&path=/blobs/"
"$RT" "${FAST[@]}" blob "$P/f/app" "$B" "$T/out2" >/dev/null 2>"$T/e2"
tap_check "blob fetched when the resumed request ignores Range" cmp -s "$T/out2" "$T/blob"
tap_like "download started over (sink reset)" "restarts=1" "$T/e2"

fault "mode=drop&count=9&method=GET&path=/blobs/"
"$RT" "${FAST[@]}" --attempts 3 blob "$P/f/app" "$B" "$T/out3" >/dev/null 2>"$T/e3"
tap_check "connection dropped every time: fails, nothing published" [ $? = 1 ] && [ ! -e "$T/out3" ] && [ ! -e "$T/out3.part" ]
tap_like "the error names the blob and the registry" "cannot pull '$P/f/app@$B' at 'http://$P'" "$T/e3"
fault "mode=&count=0"

fault "mode=fail500&count=2&path=/manifests/"
"$RT" "${FAST[@]}" --info manifest "$P/f/app:v1" >"$T/m1" 2>"$T/m1.err"
tap_check "500 twice, then the manifest" grep -q "^$(sha256_of "$T/img/manifest.json") " "$T/m1"
tap_like "two retries" "retries=2 " "$T/m1.err"

fault "mode=fail500&count=10&path=/manifests/"
"$RT" "${FAST[@]}" --attempts 3 manifest "$P/f/app:v1" >/dev/null 2>"$T/m2.err"
tap_like "500 every time: bounded attempts, the registry's message" \
	"registry 'http://$P' failed pull '$P/f/app:v1': 500 internal server error: UNKNOWN: injected failure" "$T/m2.err"
tap_like "three attempts made" "retries=2 " "$T/m2.err"
fault "mode=&count=0"

fault "mode=fail429&count=1&path=/manifests/"
start=$(date +%s%N)
"$RT" "${FAST[@]}" manifest "$P/f/app:v1" >/dev/null 2>"$T/m3.err"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
tap_check "429 then success" [ $rc = 0 ]
tap_check "Retry-After: 1 honoured (${ms} ms)" [ "$ms" -ge 950 ]

fault "mode=stall&count=5&path=/blobs/"
start=$(date +%s)
"$RT" "${FAST[@]}" --attempts 2 --stall-timeout 2 blob "$P/f/app" "$B" "$T/out4" >/dev/null 2>"$T/e4"
rc=$?
secs=$(($(date +%s) - start))
tap_check "a stalled registry fails" [ $rc = 1 ] && [ ! -e "$T/out4" ]
tap_like "with a timeout error" "registry 'http://$P' timed out \(pull '$P/f/app@$B'\)" "$T/e4"
tap_check "within the stall budget (${secs}s)" [ "$secs" -lt 15 ]
fault "mode=&count=0"

fault "mode=corrupt&count=5&method=GET&path=/blobs/"
"$RT" "${FAST[@]}" blob "$P/f/app" "$B" "$T/out5" >/dev/null 2>"$T/e5"
tap_check "corrupted blob refused" [ $? = 1 ]
tap_check "nothing written as valid" [ ! -e "$T/out5" ] && [ ! -e "$T/out5.part" ]
tap_like "digest mismatch reported" "blob '$P/f/app@$B' from 'http://$P' does not match its digest" "$T/e5"
fault "mode=corrupt&count=5&method=GET&path=/manifests/"
"$RT" "${FAST[@]}" manifest "$P/f/app@$(sha256_of "$T/img/manifest.json")" >/dev/null 2>"$T/e6"
tap_like "corrupted manifest by digest refused" "does not match its digest" "$T/e6"
fault "mode=&count=0"

head -c 200000 /dev/urandom >"$T/up1"
fault "mode=fail500&count=1&method=PUT"
"$RT" "${FAST[@]}" push-blob "$P/f/up" "$T/up1" >"$T/u1" 2>"$T/u1.err"
tap_check "monolithic upload: 500 on PUT, new session, success" grep -q " uploaded$" "$T/u1"
"$RT" blob "$D/f/up" "$(sha256_of "$T/up1")" "$T/up1.back" >/dev/null 2>&1
tap_check "the blob is complete in the registry" cmp -s "$T/up1" "$T/up1.back"

head -c 200000 /dev/urandom >"$T/up2"
fault "mode=ok,fail500&method=PATCH"
"$RT" "${FAST[@]}" --chunk-size 65536 push-blob "$P/f/up" "$T/up2" >"$T/u2" 2>"$T/u2.err"
tap_check "chunked upload: a failed PATCH is recovered through the session status" grep -q " uploaded$" "$T/u2"
tap_like "proxy saw the status GET" "^GET /v2/f/up/blobs/uploads/" "$PLOG"
"$RT" blob "$D/f/up" "$(sha256_of "$T/up2")" "$T/up2.back" >/dev/null 2>&1
tap_check "the chunked blob is complete" cmp -s "$T/up2" "$T/up2.back"

fault "mode=redirect&count=1&method=GET&path=/blobs/"
: >"$PLOG"
"$RT" "${FAST[@]}" blob "$P/f/app" "$B" "$T/out7" >/dev/null 2>"$T/e7"
tap_check "blob GET redirected to another host:port is followed" cmp -s "$T/out7" "$T/blob"
tap_like "the redirect was served" "fault=redirect" "$PLOG"

for t in a b c d e; do
	"$RT" push-manifest "$D/f/app:$t" "$T/img/manifest.json" application/vnd.oci.image.manifest.v1+json >/dev/null 2>&1
done
fault "mode=paginate&count=1&method=GET&path=/tags/list"
"$RT" "${FAST[@]}" tags "$P/f/app" >"$T/tags" 2>"$T/tags.err"
tap_check "tags gathered over Link rel=next pages" [ "$(tr '\n' ' ' <"$T/tags")" = "a b c d e v1 " ]
tap_like "three pages requested" "requests=3 " "$T/tags.err"
tap_like "the relative Link was followed" "GET /v2/f/app/tags/list\?n=2&last=d " "$PLOG"

DEAD=$(free_port)
"$RT" --backoff-ms 10 --attempts 2 manifest "127.0.0.1:$DEAD/x:y" >/dev/null 2>"$T/dead"
tap_like "connection refused reported with the registry" "cannot pull '127.0.0.1:$DEAD/x:y' at 'http://127.0.0.1:$DEAD'" "$T/dead"
tap_done
