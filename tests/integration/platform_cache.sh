#!/usr/bin/env bash
# The shared build cache of a multi-platform build (docs/internals/cache.md "Several
# platforms"): one --cache-to of a linux/amd64,linux/arm64 build exports both platforms'
# entries into one cache (registry and local), and a fresh store importing it rebuilds both
# with every step CACHED, nothing run, and the same index digest; a cache exported by a
# single-platform build serves that platform of a two-platform build; damaged blobs are one
# warning and the group builds again; an inline cache is written into each platform's
# manifest and read back from the pushed index.  No emulation: the RUNs are in a
# $BUILDPLATFORM stage, the images FROM scratch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
build_prereqs
reg_need docker-registry python3 curl
[ "$(uname -m)" = x86_64 ] || tap_skip_all "the base image is this machine's busybox: the test needs an x86_64 build platform"
make_base
p save -o "$T/base.tar" base:test >/dev/null
A=$R

C=$T/ctx
mkdir -p "$C"
echo data >"$C/data.txt"
printf 'Dockerfile\n' >"$C/.dockerignore"
cat >"$C/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM base:test AS gen
RUN echo generated >/gen && echo ran-gen
ARG TARGETARCH
RUN echo "for $TARGETARCH" >/arch && echo "ran-arch-$TARGETARCH"

FROM scratch
COPY --from=gen /gen /arch /
COPY data.txt /
EOF
PLAT=(--platform linux/amd64,linux/arm64)

# fresh NAME: a new store (runner) with only the base image; p then uses it.
fresh() {
	R=$T/$1
	p load -i "$T/base.tar" >/dev/null
}
ran() { grep -c "^#[0-9]* [0-9.]* ran-$1\$" "$T/out"; }
ran_any() { grep -c "^#[0-9]* [0-9.]* ran-" "$T/out"; }
cached() { grep -c "^#[0-9]* CACHED ($1)\$" "$T/out"; }
# cached_step NAME SOURCE: 1 when the step whose header has NAME came from SOURCE's cache.
cached_step() {
	local id
	id=$(grep -F "[$1]" "$T/out" | head -1 | cut -d' ' -f1)
	grep -c "^$id CACHED ($2)\$" "$T/out"
}
# The steps a two-platform build of the Dockerfile looks up: gen's RUN (once per platform:
# each finds it), the arch RUN and the final two COPYs per platform.
STEPS=8
# idx NAME: the digest the store names NAME with (the index).
idx() {
	jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$R/index.json"
}
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
# entries DIR: the number of entries of a local cache's config.
entries() {
	local m c
	m=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)
	c=$(jq -r '.config.digest' "$1/blobs/sha256/$m" | cut -d: -f2)
	jq '[.entries[].key] | unique | length' "$1/blobs/sha256/$c"
}

start_registry reg || tap_skip_all "docker-registry does not start here"
REG=127.0.0.1:$REG_PORT

# ---- runner A: two platforms, one cache to a registry and one to a directory -------------
build "$C" "${PLAT[@]}" -t app --cache-to type=registry,ref="$REG/ci/app:cache",mode=max \
	--cache-to type=local,dest="$T/cache",mode=max
ck "A builds two platforms and exports both caches" \
	bash -c "test $rc = 0 && grep -q 'cache exported to $REG/ci/app:cache' '$T/out' && grep -q 'cache exported to $T/cache' '$T/out'"
ck "... gen's RUN ran once, the arch RUN once per platform" \
	bash -c "test $(ran gen) = 1 && test $(ran arch-amd64) = 1 && test $(ran arch-arm64) = 1"
IDX=$(idx docker.io/library/app:latest)
ck "A's image is an index" test "$(jq -r .mediaType "$R/blobs/sha256/${IDX#sha256:}" 2>/dev/null)" = application/vnd.oci.image.index.v1+json
# gen's RUN once (the platforms share its key); per platform the arch RUN, COPY --from under
# its cheap key and its content key, COPY data.txt.
ck "the cache holds both platforms' entries, each key once: 9" test "$(entries "$T/cache")" = 9

fresh B
mark=$(wc -l <"$T/reg.log")
build "$C" "${PLAT[@]}" -t app --cache-from type=registry,ref="$REG/ci/app:cache"
ck "B (fresh store) from the registry: every step of both platforms CACHED (registry), none ran" \
	bash -c "test $rc = 0 && test $(cached registry) = $STEPS && test $(ran_any) = 0"
ck "... and A's index digest" same "$(idx docker.io/library/app:latest)" "$IDX"
# Both platforms' images have the data.txt layer (one blob): the registry's log shows each
# blob GET once, the shared one included.
blob_gets() { tail -n +"$((mark + 1))" "$T/reg.log" | grep -Eo '"GET /v2/ci/app/blobs/[^ ]*' | sort; }
ck "... each blob downloaded once, the layer both platforms need included" \
	bash -c "test \$(echo '$(blob_gets)' | grep -c sha256) -ge 4 && test -z '$(blob_gets | uniq -d)'" ||
	diag "$(blob_gets | uniq -c)"

fresh C
build "$C" "${PLAT[@]}" -t app --cache-from type=local,src="$T/cache"
ck "C (fresh store) from the directory: every step CACHED (local), none ran" \
	bash -c "test $rc = 0 && test $(cached local) = $STEPS && test $(ran_any) = 0"
ck "... and A's index digest" same "$(idx docker.io/library/app:latest)" "$IDX"

# ---- a single-platform cache serves its platform of a two-platform build -----------------
fresh D
build "$C" --platform linux/arm64 -t app --cache-to type=local,dest="$T/arm64-cache",mode=max
ck "D builds linux/arm64 alone and exports" test "$rc" = 0
fresh E
build "$C" "${PLAT[@]}" -t app --cache-from type=local,src="$T/arm64-cache"
ck "E: arm64's steps CACHED (local) from the one-platform cache, only amd64's arch RUN ran" \
	bash -c "test $rc = 0 && test $(ran arch-arm64) = 0 && test $(ran gen) = 0 && test $(ran arch-amd64) = 1 &&
		test $(cached_step 'linux/arm64 gen 3/3' local) = 1 && test $(cached_step 'linux/arm64 stage-1 2/3' local) = 1 &&
		test $(cached_step 'linux/arm64 stage-1 3/3' local) = 1"
ck "... and A's index digest" same "$(idx docker.io/library/app:latest)" "$IDX"

# ---- damaged blobs: one warning, the group builds again ---------------------------------
cp -a "$T/cache" "$T/bad"
for f in "$T"/bad/blobs/sha256/*; do
	{ gzip -t "$f" || tar -tf "$f"; } >/dev/null 2>&1 && echo garbage >"$f"
done
fresh F
build "$C" "${PLAT[@]}" -t app --cache-from type=local,src="$T/bad"
ck "damaged blobs: one warning naming the cache, the build succeeds" \
	bash -c "test $rc = 0 && test \$(grep -c 'warning: cache .*bad.* not used' '$T/out') = 1"
ck "... and A's index digest" same "$(idx docker.io/library/app:latest)" "$IDX"

# ---- inline: each platform's manifest carries its entries --------------------------------
R=$A
build "$C" "${PLAT[@]}" -t "$REG/ci/app:inline" --cache-to type=inline --push
ck "A builds two platforms with an inline cache and pushes" test "$rc" = 0
IIDX=$(idx "$REG/ci/app:inline")
ck "... both platforms' manifests have the annotation" \
	bash -c "test \$(for m in \$(jq -r '.manifests[].digest' '$R/blobs/sha256/${IIDX#sha256:}' | cut -d: -f2); do jq -e '.annotations[\"dev.plate.cache.v1\"]' '$R/blobs/sha256/'\$m >/dev/null && echo yes; done | wc -l) = 2"
fresh G
build "$C" "${PLAT[@]}" -t app --cache-from "$REG/ci/app:inline" --cache-to type=inline
ck "G with a bare --cache-from of the pushed index (--cache-to type=inline as A): every step CACHED (inline), none ran" \
	bash -c "test $rc = 0 && test $(cached inline) = $STEPS && test $(ran_any) = 0"
# G's layers came from the registry compressed, its manifests carry the inline cache as A's
# did: its index is the one A pushed.
ck "... and the index digest the registry has" same "$(idx docker.io/library/app:latest)" \
	"$(curl -sfI -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/ci/app/manifests/inline" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')"
fresh H
build "$C" --platform linux/arm64 -t app --cache-from "$REG/ci/app:inline"
ck "H, arm64 alone, takes its platform's entries from the index: none ran" \
	bash -c "test $rc = 0 && test $(ran_any) = 0"
tap_done
