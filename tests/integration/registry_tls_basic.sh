#!/usr/bin/env bash
# Basic authentication (htpasswd) over TLS with a CA made by the test: the CA given as an
# option and through a docker-style certs.d directory; credentials from options and from a
# docker config.json; a wrong password gives a clear 401 error.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry openssl htpasswd python3

start_tls_basic_registry tls alice 's3cret:pw' || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
make_image "$T/img" tls
MDIGEST=$(sha256_of "$T/img/manifest.json")
SEC=(--secure "$R" --certs-dir "$T/no-certs.d")
AUTH=(--user alice --password 's3cret:pw')

push_image "$T/img" "$R/priv/app:v1" "${SEC[@]}" --ca-file "$P/ca.crt" "${AUTH[@]}" >"$T/push" 2>&1
tap_check "push over TLS with Basic auth, CA from the option" grep -qx "$MDIGEST" "$T/push"
"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" "${AUTH[@]}" --stats --info manifest "$R/priv/app:v1" >"$T/m" 2>"$T/m.err"
tap_check "pull over TLS with Basic auth" grep -q "^$MDIGEST " "$T/m"
tap_like "Basic credentials sent after one challenge (2 requests)" "requests=2 " "$T/m.err"

mkdir -p "$T/certs.d/$R"
cp "$P/ca.crt" "$T/certs.d/$R/ca.crt"
"$RT" --certs-dir "$T/certs.d" "${AUTH[@]}" blob "$R/priv/app" "$(sha256_of "$T/img/layer.tar.gz")" "$T/layer" >/dev/null 2>"$T/cd.err"
tap_check "certs.d/<host:port>/ca.crt: https chosen and trusted" cmp -s "$T/layer" "$T/img/layer.tar.gz"

"$RT" "${SEC[@]}" "${AUTH[@]}" manifest "$R/priv/app:v1" >/dev/null 2>"$T/untrusted"
tap_like "unknown CA refused" "cannot pull '$R/priv/app:v1' at 'https://$R'.*(certificate|SSL)" "$T/untrusted"

"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" --user alice --password wrong manifest "$R/priv/app:v1" >/dev/null 2>"$T/wrong"
tap_check "wrong password fails" [ $? = 1 ]
tap_like "wrong password: clear 401 naming reference and registry" \
	"pull access denied for '$R/priv/app:v1' at 'https://$R': 401 unauthorized: UNAUTHORIZED" "$T/wrong"
"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" manifest "$R/priv/app:v1" >/dev/null 2>"$T/anon"
tap_like "no credentials: 401 says none were configured" "401 unauthorized.*no credentials configured" "$T/anon"

printf '{"auths":{"https://%s/v2/":{"auth":"%s"}}}\n' "$R" "$(printf 'alice:s3cret:pw' | base64 -w0)" >"$T/config.json"
"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" --config "$T/config.json" tags "$R/priv/app" >"$T/tags" 2>&1
tap_check "credentials from docker config.json (base64 auth)" grep -qx v1 "$T/tags"
"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" --config "$T/config.json" ping "$R" >"$T/ping" 2>&1
tap_check "ping (login check) with good credentials" [ $? = 0 ]
printf '{"auths":{"%s":{"username":"alice","password":"nope"}}}\n' "$R" >"$T/bad.json"
"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" --config "$T/bad.json" ping "$R" >/dev/null 2>"$T/ping.bad"
tap_like "ping with bad credentials fails with 401" "log in to access denied.*401" "$T/ping.bad"

mkdir -p "$T/helpers"
cat >"$T/helpers/docker-credential-test" <<SH
#!/bin/sh
read server
[ "\$server" = "$R" ] || exit 1
echo '{"ServerURL":"$R","Username":"alice","Secret":"s3cret:pw"}'
SH
chmod +x "$T/helpers/docker-credential-test"
printf '{"credHelpers":{"%s":"test"}}\n' "$R" >"$T/helper.json"
"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" --config "$T/helper.json" --cred-helpers --helper-dir "$T/helpers" \
	tags "$R/priv/app" >"$T/ht" 2>&1
tap_check "credHelpers: docker-credential-<helper> get" grep -qx v1 "$T/ht"
"$RT" "${SEC[@]}" --ca-file "$P/ca.crt" --config "$T/helper.json" --helper-dir "$T/helpers" \
	tags "$R/priv/app" >/dev/null 2>"$T/nohelper"
tap_like "helpers are not run unless enabled" "401" "$T/nohelper"
tap_done
