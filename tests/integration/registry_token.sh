#!/usr/bin/env bash
# The Bearer token flow against docker-registry configured with `auth: token` and a token
# server of our own (tests/helpers/token_server.py) signing JWTs with a key made here:
# anonymous and authenticated pulls and pushes, tokens cached per scope (counted in the
# token server's log), refreshed when they expire and when the registry refuses them.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry openssl python3

start_token_registry tok "alice:pw" || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
AUTH=(--user alice --password pw)
tokens() { grep -c '^TOKEN' "$LOG"; }

make_image "$T/img" tok
MDIGEST=$(sha256_of "$T/img/manifest.json")
LAYER=$(sha256_of "$T/img/layer.tar.gz")

before=$(tokens)
"$RT" "${AUTH[@]}" --stats push-blob "$R/team/app" "$T/img/layer.tar.gz" >"$T/p1" 2>"$T/p1.err"
tap_check "push with a bearer token" grep -qx "$LAYER uploaded" "$T/p1"
tap_check "one token for HEAD, POST and PUT (server log)" [ $(($(tokens) - before)) = 1 ]
tap_like "the token asked for pull,push" "scope=repository:team/app:pull,push" "$LOG"
push_image "$T/img" "$R/team/app:v1" "${AUTH[@]}" >"$T/push" 2>&1
tap_check "push an image" grep -qx "$MDIGEST" "$T/push"

before=$(tokens)
"$RT" "${AUTH[@]}" --stats --repeat 3 --info manifest "$R/team/app:v1" >"$T/m" 2>"$T/m.err"
tap_check "pull with a bearer token" grep -q "^$MDIGEST " "$T/m"
tap_check "three pulls, one token: cached per scope (server log)" [ $(($(tokens) - before)) = 1 ]
tap_like "client counted one token request" "token_requests=1 " "$T/m.err"
tap_like "only the first request was challenged" "requests=4 " "$T/m.err"

"$RT" manifest "$R/team/app:v1" >/dev/null 2>"$T/anon"
tap_like "anonymous pull of a private repository: access denied with the registry's code" \
	"pull access denied for '$R/team/app:v1' at 'http://$R': 401 unauthorized: UNAUTHORIZED" "$T/anon"
"$RT" --user alice --password wrong manifest "$R/team/app:v1" >/dev/null 2>"$T/wrong"
tap_like "wrong password: the token server's 401 is reported" \
	"pull access denied for '$R/team/app:v1': token server 'http://127.0.0.1:$TP/token' answered 401 unauthorized: UNAUTHORIZED: incorrect username or password" "$T/wrong"

push_image "$T/img" "$R/public/app:v1" "${AUTH[@]}" >/dev/null 2>&1
"$RT" --info manifest "$R/public/app:v1" >"$T/pub" 2>&1
tap_check "anonymous token for a public repository" grep -q "^$MDIGEST " "$T/pub"
tap_like "anonymous token logged" "TOKEN user=- scope=repository:public/app:pull" "$LOG"
head -c 100 /dev/urandom >"$T/new"
"$RT" push-blob "$R/public/app" "$T/new" >/dev/null 2>"$T/anonpush"
tap_like "anonymous push refused" "push access denied for '$R/public/app@sha256:.*401" "$T/anonpush"

head -c 5000 /dev/urandom >"$T/extra"
"$RT" "${AUTH[@]}" push-blob "$R/team/app" "$T/extra" >/dev/null 2>&1
before=$(tokens)
"$RT" "${AUTH[@]}" --mount-from team/app push-blob "$R/team/other" "$T/extra" >"$T/mnt" 2>&1
tap_check "cross-repository mount with a token" grep -q " mounted$" "$T/mnt"
tap_like "mount token covers both repositories" \
	"scope=repository:team/other:pull,push repository:team/app:pull" "$LOG"

printf '{"auths":{"%s":{"identitytoken":"refresh-alice"}}}\n' "$R" >"$T/idtoken.json"
"$RT" --config "$T/idtoken.json" --info manifest "$R/team/app:v1" >"$T/idt" 2>&1
tap_check "identity token: OAuth2 refresh-token grant" grep -q "^$MDIGEST " "$T/idt"

# Expiry: a 2 s token must be fetched again after 2.5 s.
http_get "http://127.0.0.1:$TP/control?expires_in=2"
"$RT" "${AUTH[@]}" --stats --repeat 2 --pause-ms 2500 --info manifest "$R/team/app:v1" >"$T/exp" 2>"$T/exp.err"
tap_check "pull across a token expiry" [ "$(wc -l <"$T/exp")" = 2 ]
tap_like "expired token refreshed (2 token requests)" "token_requests=2 " "$T/exp.err"

# Refusal: the registry stops accepting a token the client still holds (its JWT expiry,
# with the registry's 60 s leeway, passes 5 s from now while expires_in says 300 s).
http_get "http://127.0.0.1:$TP/control?expires_in=300&first_exp_offset=-55"
"$RT" "${AUTH[@]}" --stats --repeat 2 --pause-ms 6500 --info manifest "$R/team/app:v1" >"$T/rej" 2>"$T/rej.err"
tap_check "pull after the registry refused a cached token" [ "$(wc -l <"$T/rej")" = 2 ]
tap_like "refused token dropped and fetched again" "token_requests=2 " "$T/rej.err"
tap_done
