#!/usr/bin/env bash
# plate login / pull / push / logout with credentials: htpasswd Basic auth over TLS with a
# CA made here (login --password-stdin writes the docker config, 0600; logout removes the
# entry), and the Bearer token flow against tests/helpers/token_server.py.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry openssl htpasswd python3 jq

S=$T/store
export DOCKER_CONFIG=$T/docker
p() { "$PLATE" --root "$S" "$@"; }

start_tls_basic_registry tls alice 's3cret:pw' || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
TLS=(--tls-ca "$P/ca.crt" --secure-registry "$R")
make_image "$T/img" tls
MDIGEST=$(sha256_of "$T/img/manifest.json")
push_image "$T/img" "$R/priv/app:v1" --secure "$R" --ca-file "$P/ca.crt" --user alice --password 's3cret:pw' >/dev/null 2>&1

p pull "${TLS[@]}" "$R/priv/app:v1" >/dev/null 2>"$T/anon.err"
tap_check "pull without credentials fails (exit 1)" [ $? = 1 ]
tap_like "the 401 names the reference and the registry" "$R/priv/app:v1.*https://$R.*401" "$T/anon.err"
echo wrong | p login "${TLS[@]}" -u alice --password-stdin "$R" >/dev/null 2>"$T/bad.err"
tap_check "login with a wrong password fails" [ $? = 1 ]
tap_check "and writes nothing" [ ! -e "$DOCKER_CONFIG/config.json" ]
echo 's3cret:pw' | p login "${TLS[@]}" -u alice --password-stdin "$R" >"$T/login" 2>&1
tap_check "login --password-stdin over TLS with the test CA" grep -q "login succeeded" "$T/login"
tap_check "config.json is 0600" [ "$(stat -c %a "$DOCKER_CONFIG/config.json")" = 600 ]
tap_check "config.json holds the Basic credentials" \
	[ "$(jq -r --arg r "$R" '.auths[$r].auth' "$DOCKER_CONFIG/config.json" | base64 -d)" = "alice:s3cret:pw" ]
p pull "${TLS[@]}" "$R/priv/app:v1" >/dev/null 2>"$T/pull.err"
tap_check "pull with the stored credentials" [ $? = 0 ]
tap_like "with the registry's digest" "digest: $MDIGEST" "$T/pull.err"
p push "${TLS[@]}" "$R/priv/app:v1" "$R/priv/copy:v1" >"$T/push" 2>&1
tap_check "push with the stored credentials" grep -qx "$MDIGEST" "$T/push"
p logout "$R" >/dev/null 2>&1
tap_check "logout removes the entry" [ "$(jq --arg r "$R" '.auths | has($r)' "$DOCKER_CONFIG/config.json")" = false ]
p pull "${TLS[@]}" "$R/priv/copy:v1" >/dev/null 2>&1
tap_check "after logout, pulls are refused again" [ $? = 1 ]
p pull "$R/priv/app:v1" >/dev/null 2>"$T/notls.err"
tap_check "without --secure-registry the loopback registry is spoken to in http, and fails" [ $? = 1 ]

# The token flow.
start_token_registry tok "bob:pw" || tap_skip_all "docker-registry does not start here"
K=127.0.0.1:$REG_PORT
push_image "$T/img" "$K/team/app:v1" --user bob --password pw >/dev/null 2>&1
echo pw | p login -u bob --password-stdin "$K" >/dev/null 2>&1
tap_check "login against a token registry" [ $? = 0 ]
p pull "$K/team/app:v1" >/dev/null 2>"$T/tok.err"
tap_check "pull with a bearer token" [ $? = 0 ]
tap_like "token requested for the repository" "scope=repository:team/app:pull" "$LOG"
p push "$K/team/app:v1" "$K/team/other:v1" >"$T/tokpush" 2>&1
tap_check "push with a bearer token (pull,push scope)" grep -qx "$MDIGEST" "$T/tokpush"
tap_done
