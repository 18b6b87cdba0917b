#!/usr/bin/env bash
# The build cache shared between stores (docs/internals/cache.md): --cache-to / --cache-from
# through an OCI layout directory, docker-registry (plain, and TLS with htpasswd Basic auth)
# and an image's inline cache.  Runner A builds and exports; fresh stores (runners B, C, ...)
# import: every step CACHED with the source named and A's image; a main.go edit keeps the
# dependency step; a context owned by another uid keeps every step; a hit fetches nothing
# until the files are needed (the builder's layers never reach B's store); a damaged, other-
# version or unreachable cache gives one warning and the right image; a re-export to a
# registry that has the blobs uploads only the manifest (counted in the registry's log);
# cache-mount and secret contents are never exported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
build_prereqs
reg_need docker-registry openssl htpasswd python3
make_base
p save -o "$T/base.tar" base:test >/dev/null
A=$R

C=$T/ctx
mkdir -p "$C"
echo 'module example' >"$C/go.mod"
echo 'package main // v1' >"$C/main.go"
printf 'Dockerfile\n' >"$C/.dockerignore"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS builder
WORKDIR /src
COPY go.mod ./
RUN --mount=type=cache,target=/cache echo "deps of $(cat go.mod)" > /deps && echo ran-deps && echo CACHEMOUNTSECRET > /cache/x
COPY . ./
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null && echo "built from $(cat main.go)" > /out && echo ran-build

FROM base:test
COPY --from=builder /deps /deps
COPY --from=builder /out /out
EOF
echo SECRETTOKENVALUE >"$T/tok"
SEC=(--secret id=tok,src="$T/tok")

# fresh NAME: a new store (runner) with only the base image; p then uses it.
fresh() {
	R=$T/$1
	p load -i "$T/base.tar" >/dev/null
}
ran() { grep -c "^#[0-9]* [0-9.]* ran-$1\$" "$T/out"; }
cached() { grep -c "^#[0-9]* CACHED ($1)\$" "$T/out"; }
id() { p inspect "$1" 2>/dev/null | jq -r '.[0].Id // empty'; }
snapshots() { ls "$R/snapshots" | wc -l; }
# same A B: A is not empty and equals B.
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
# mdigest NAME: the manifest digest the store names NAME with.
mdigest() {
	jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$R/index.json"
}
# pushed_digest REF: the digest of the form a push of REF sent (its layers compressed).
pushed_digest() {
	jq -r --arg n "$1" '(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest) as $d | .manifests[] | select(.annotations["dev.plate.subject"] == $d and .annotations["dev.plate.form"] == "gzip") | .digest' "$R/index.json"
}

# ---- runner A: local directory, mode=max --------------------------------------------------
build "$C" -t app "${SEC[@]}" --cache-to type=local,dest="$T/cache",mode=max
ck "A builds and exports to a directory" bash -c "test $rc = 0 && grep -q 'cache exported to $T/cache' '$T/out'"
ID=$(id app)
ck "the cache is an OCI layout whose manifest has plate's artifactType" \
	test "$(jq -r '.manifests[0].artifactType' "$T/cache/index.json")" = application/vnd.plate.build-cache.v1
ck "skopeo-free check: every blob of the layout matches its name" \
	bash -c "cd '$T/cache/blobs/sha256' && for f in *; do [ \"\$(sha256sum \$f | cut -c1-64)\" = \$f ] || exit 1; done"
ck "cache-mount and secret contents are in no exported blob" \
	bash -c "ls '$T/cache/blobs/sha256' | grep -q . && ! zgrep -qa -e CACHEMOUNTSECRET -e SECRETTOKENVALUE '$T'/cache/blobs/sha256/* 2>/dev/null && ! grep -qa -e CACHEMOUNTSECRET -e SECRETTOKENVALUE -r '$T/cache'"

fresh B
build "$C" -t app "${SEC[@]}" --cache-from type=local,src="$T/cache"
ck "B (fresh store): every step CACHED (local)" bash -c "test $rc = 0 && test $(cached local) = 7 && test $(ran deps) = 0"
ck "B gets A's image" same "$(id app)" "$ID"
ck "lazy: only the final image's layers were fetched (base + 2 snapshots)" test "$(snapshots)" = 3
build "$C" -t app "${SEC[@]}"
ck "B's own cache has what it fetched (a rebuild without --cache-from: the final steps CACHED)" \
	bash -c "test $rc = 0 && grep -A1 'COPY --from=builder /out' '$T/out' | grep -qx '#[0-9]* CACHED'"

cp -a "$C" "$T/ctx2"
echo 'package main // v2' >"$T/ctx2/main.go"
fresh C
build "$T/ctx2" -t app "${SEC[@]}" --cache-from type=local,src="$T/cache"
ck "C after a main.go edit: the dependency step comes from the cache" \
	bash -c "test $rc = 0 && test $(ran deps) = 0 && test $(ran build) = 1 && grep -A1 'RUN --mount=type=cache' '$T/out' | grep -q 'CACHED (local)'"
ck "... and the miss still says why" grep -q "CACHE MISS: no previous build of app:latest" "$T/out"
ck "... and the new file is in the image" test "$(p run --network none app cat /out)" = "built from package main // v2"

cp -a "$C" "$T/ctx3"
chown -R 4321:4321 "$T/ctx3"
touch -d 2001-01-01 "$T/ctx3"/*
fresh D
build "$T/ctx3" -t app "${SEC[@]}" --cache-from type=local,src="$T/cache"
ck "a checkout owned by another uid, other mtimes: every step CACHED, A's image" \
	bash -c "test $rc = 0 && test $(cached local) = 7 && test '$(id app)' = '$ID'"

# ---- robustness ---------------------------------------------------------------------------
cp -a "$T/cache" "$T/bad"
# The layer blobs (tars, or gzip when a layer came compressed), not the JSON documents.
for f in "$T"/bad/blobs/sha256/*; do
	{ gzip -t "$f" || tar -tf "$f"; } >/dev/null 2>&1 && echo garbage >"$f"
done
fresh E
build "$C" -t app "${SEC[@]}" --cache-from type=local,src="$T/bad"
ck "damaged blobs: one warning naming the cache" bash -c "test $rc = 0 && test \$(grep -c 'warning: cache .*bad.* not used' '$T/out') = 1"
ck "... and the right image" same "$(id app)" "$ID"

cp -a "$T/cache" "$T/v2"
m=$(jq -r '.manifests[0].digest' "$T/v2/index.json" | cut -d: -f2)
cfg=$(jq -r '.config.digest' "$T/v2/blobs/sha256/$m" | cut -d: -f2)
jq -c '.version = 2' "$T/v2/blobs/sha256/$cfg" >"$T/cfg2"
new=$(sha256sum "$T/cfg2" | cut -c1-64)
mv "$T/cfg2" "$T/v2/blobs/sha256/$new"
jq -c --arg d "sha256:$new" --argjson s "$(stat -c %s "$T/v2/blobs/sha256/$new")" \
	'.config.digest = $d | .config.size = $s' "$T/v2/blobs/sha256/$m" >"$T/m2"
nm=$(sha256sum "$T/m2" | cut -c1-64)
mv "$T/m2" "$T/v2/blobs/sha256/$nm"
jq -c --arg d "sha256:$nm" --argjson s "$(stat -c %s "$T/v2/blobs/sha256/$nm")" \
	'.manifests[0].digest = $d | .manifests[0].size = $s' "$T/v2/index.json" >"$T/i2" && mv "$T/i2" "$T/v2/index.json"
fresh F
build "$C" -t app "${SEC[@]}" --cache-from type=local,src="$T/v2" --cache-from type=local,src="$T/nothere"
ck "another version and a missing directory: one warning each, the build runs" \
	bash -c "test $rc = 0 && grep -q 'v2.* not used: build cache version 2, not 1' '$T/out' && grep -q 'nothere.* not used' '$T/out' && test $(ran deps) = 1"
ck "... the right image" same "$(id app)" "$ID"

# ---- docker-registry, plain http ------------------------------------------------------------
start_registry plain || tap_skip_all "docker-registry does not start here"
REG=127.0.0.1:$REG_PORT
R=$A
build "$C" -t app "${SEC[@]}" --cache-to type=registry,ref="$REG/ci/app:cache",mode=max
ck "A exports to the registry" bash -c "test $rc = 0 && grep -q 'cache exported to $REG/ci/app:cache' '$T/out'"
fresh G
build "$C" -t app "${SEC[@]}" --cache-from type=registry,ref="$REG/ci/app:cache"
ck "G: every step CACHED (registry), A's image" bash -c "test $rc = 0 && test $(cached registry) = 7 && test '$(id app)' = '$ID'"
mark=$(wc -l <"$T/plain.log")
build "$C" -t app "${SEC[@]}" --cache-from type=registry,ref="$REG/ci/app:cache" \
	--cache-to type=registry,ref="$REG/ci/app:cache",mode=max
uploads() { tail -n +"$((mark + 1))" "$T/plain.log" | grep -Eo '"(PUT|PATCH|POST) /v2/[^ ]*' | sed 's/?.*//'; }
ck "re-exporting a cache whose blobs the registry has uploads only the manifest (registry log)" \
	bash -c "test $rc = 0 && test \"\$(tail -n +$((mark + 1)) '$T/plain.log' | grep -Ec '\"(PUT|PATCH|POST) /v2/ci/app/blobs')\" = 0 && tail -n +$((mark + 1)) '$T/plain.log' | grep -q '\"PUT /v2/ci/app/manifests/cache'" ||
	diag "$(uploads)"

# ---- inline cache ----------------------------------------------------------------------------
R=$A
build "$C" -t "$REG/ci/app:inline" "${SEC[@]}" --cache-to type=inline --push
ck "A builds with an inline cache and pushes" bash -c "test $rc = 0 && grep -q 'pushed' '$T/out'"
IDIN=$(id "$REG/ci/app:inline")
MDIN=$(pushed_digest "$REG/ci/app:inline")
ck "the inline cache leaves the image ID (config) as without it" same "$IDIN" "$ID"
fresh H
build "$C" -t "$REG/ci/app:inline" "${SEC[@]}" --cache-from "$REG/ci/app:inline" --cache-to type=inline
ck "H with a bare --cache-from IMAGE: every step CACHED (inline)" bash -c "test $rc = 0 && test $(cached inline) = 7"
# H's layers came from the registry, compressed: its manifest is the one A pushed.
ck "... and the manifest digest A pushed" same "$(mdigest "$REG/ci/app:inline")" "$MDIN"
fresh I
build "$T/ctx2" -t app "${SEC[@]}" --cache-from "$REG/ci/app:inline"
ck "inline (mode=min) after a main.go edit: a warning for the builder's files, the right build" \
	bash -c "test $rc = 0 && test \$(grep -c 'warning: cache .* not used' '$T/out') = 1 && test '$(p run --network none app cat /out 2>/dev/null)' = 'built from package main // v2'"

# ---- TLS + htpasswd -----------------------------------------------------------------------------
export DOCKER_CONFIG=$T/docker
start_tls_basic_registry tls alice 's3cret' || tap_skip_all "docker-registry (TLS) does not start here"
TREG=127.0.0.1:$REG_PORT
TLS=(--tls-ca "$P/ca.crt" --secure-registry "$TREG")
R=$A
build "$C" -t app "${SEC[@]}" "${TLS[@]}" --cache-to type=registry,ref="$TREG/priv/app:cache"
ck "without credentials the export fails (401)" bash -c "test $rc = 1 && grep -q 401 '$T/out'"
fresh J
build "$C" -t app "${SEC[@]}" "${TLS[@]}" --cache-from type=registry,ref="$TREG/priv/app:cache"
ck "without credentials an import is one warning and the build runs" \
	bash -c "test $rc = 0 && test \$(grep -c 'warning: cache .* not used.*401' '$T/out') = 1 && test $(ran deps) = 1"
echo s3cret | p login "${TLS[@]}" -u alice --password-stdin "$TREG" >/dev/null 2>&1
R=$A
build "$C" -t app "${SEC[@]}" "${TLS[@]}" --cache-to type=registry,ref="$TREG/priv/app:cache"
ck "logged in, A exports (mode=min) over TLS" bash -c "test $rc = 0 && grep -q 'cache exported' '$T/out'"
fresh K
build "$C" -t app "${SEC[@]}" "${TLS[@]}" --cache-from type=registry,ref="$TREG/priv/app:cache"
ck "K: every step CACHED (registry) over TLS with Basic auth, A's image" \
	bash -c "test $rc = 0 && test $(cached registry) = 7 && test '$(id app)' = '$ID'"
ck "... and with mode=min only the final layers exist anywhere in K" test "$(snapshots)" = 3
tap_done
