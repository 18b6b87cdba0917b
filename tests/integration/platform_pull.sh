#!/usr/bin/env bash
# Bases per platform (issue 15): a pull keeps the registry's index under the name and fetches
# the platforms asked for (a partial index, containerd's model).  A two-platform index on a
# docker-registry, pulled for amd64 into a fresh store, then for arm64: both under one name,
# `plate run --platform` of each (arm64 under QEMU), fsck clean, listed once, inspect marking
# which are present.  A pull of a list; save and push of a partial image; the registry's index
# replaced; rmi leaves nothing behind.  (load of a multi-platform archive: platform.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
build_prereqs
for tool in skopeo docker-registry curl; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done
[ -x /usr/bin/qemu-aarch64-static ] || tap_skip_all "qemu-user-static not installed"
for a in amd64 arm64; do
	ls /var/cache/apt/archives/busybox-static_*_$a.deb >/dev/null 2>&1 ||
		tap_skip_all "busybox-static:$a not in apt's archive (scripts/deps.sh downloads it)"
done
grep -qs '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
	"$PLATE_SRC/scripts/binfmt.sh" aarch64 >/dev/null ||
	tap_skip_all "cannot register qemu-aarch64 in binfmt_misc"
cleanup() {
	_reg_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
start_registry reg || tap_skip_all "docker-registry does not start here"
REG=127.0.0.1:$REG_PORT

# ---- a two-platform index on the registry ------------------------------------------------
for a in amd64 arm64; do
	PLATE=$PLATE PLATE_ROOT=$R "$PLATE_SRC/scripts/make-busybox-base.sh" $a bb-$a >/dev/null 2>"$T/base.err" ||
		{ diag "$(cat "$T/base.err")"; tap_skip_all "make-busybox-base.sh $a failed"; }
done
C=$T/ctx
mkdir -p "$C"
printf 'FROM bb-$TARGETARCH\nCMD ["uname", "-m"]\n' >"$C/Dockerfile"
build "$C" --platform linux/amd64,linux/arm64 -t bb:multi
ck "a two-platform image builds" test "$rc" = 0
p push bb:multi "$REG/bb:multi" >"$T/push" 2>&1
ck "... and is pushed to the registry" test $? = 0
INDEX=$(tail -n1 "$T/push")

# ---- one platform, then the other ----------------------------------------------------------
S=$T/s1
q() { "$PLATE" --root "$S" "$@"; }
q pull --platform linux/amd64 "$REG/bb:multi" >"$T/out" 2>&1
ck "pull --platform linux/amd64 of the index" test $? = 0
ck "... the name holds the registry's index (its digest kept)" \
	test "$(jq -r '.manifests[0].digest' "$S/index.json")" = "$INDEX"
ck "... says which platforms the store holds" grep -qx 'platforms in the store: linux/amd64' "$T/out"
ck "plate run of amd64" test "$(q run --network none "$REG/bb:multi" 2>&1)" = x86_64
q run --network none --platform linux/arm64 "$REG/bb:multi" >"$T/out" 2>&1; rc=$?
ck "run --platform linux/arm64 before it is pulled: one error naming the pull" \
	bash -c "test $rc != 0 && grep -q \"platform 'linux/arm64' was not pulled (plate pull --platform linux/arm64 $REG/bb:multi)\" '$T/out'"
q fsck >"$T/out" 2>&1
ck "fsck accepts the partial index and counts it" \
	bash -c "grep -q '^ok: .* 1 partial indexes; 0 problems' '$T/out'"
q save --format oci -o "$T/partial.tar" "$REG/bb:multi" >"$T/out" 2>&1; rc=$?
ck "save --format oci of a partial image: refused, naming the way out" \
	bash -c "test $rc != 0 && grep -q 'holds only some platforms of its index' '$T/out' && grep -q 'plate pull --platform P' '$T/out'"
q save --format docker -o "$T/partial.tar" "$REG/bb:multi" >"$T/out" 2>&1
ck "save --format docker writes this machine's platform" test $? = 0
q push "$REG/bb:multi" "$REG/bb:partial" >"$T/out" 2>&1; rc=$?
ck "push of a partial image: refused, naming --platform" \
	bash -c "test $rc != 0 && grep -q 'the store holds 1 of the 2 platforms of its index: push one of them with --platform' '$T/out'"
q push --platform linux/amd64 "$REG/bb:multi" "$REG/bb:partial" >"$T/out" 2>&1
ck "push --platform linux/amd64 of it pushes that platform alone" \
	bash -c "skopeo inspect --raw --tls-verify=false docker://$REG/bb:partial | jq -e '.config.mediaType' >/dev/null"

q pull --platform linux/arm64 "$REG/bb:multi" >"$T/out" 2>&1
ck "pull --platform linux/arm64 of the same index" test $? = 0
ck "... adds arm64 beside amd64" grep -qx 'platforms in the store: linux/amd64 linux/arm64' "$T/out"
ck "... under the same name, one entry" test "$(jq '.manifests | length' "$S/index.json")" = 1
ck "run --platform linux/amd64" test "$(q run --network none --platform linux/amd64 "$REG/bb:multi" 2>&1)" = x86_64
ck "run --platform linux/arm64 (under QEMU)" \
	test "$(q run --network none --platform linux/arm64 "$REG/bb:multi" 2>&1)" = aarch64
ck "fsck clean, no partial index" bash -c "'$PLATE' --root '$S' fsck | grep -q '^ok: .* 0 partial indexes; 0 problems'"
ck "images lists it once" test "$(q images | grep -c 'bb ')" = 1
ck "inspect lists the index's manifests, both present" \
	test "$(q inspect "$REG/bb:multi" | jq -r '[.[0].Manifests[] | .platform.architecture + "=" + (.Present | tostring)] | join(",")')" = amd64=true,arm64=true

# ---- a list --------------------------------------------------------------------------------
S2=$T/s2
"$PLATE" --root "$S2" pull --platform linux/amd64,linux/arm64 "$REG/bb:multi" >"$T/out" 2>&1
ck "pull --platform linux/amd64,linux/arm64 fetches both" \
	grep -qx 'platforms in the store: linux/amd64 linux/arm64' "$T/out"
"$PLATE" --root "$S2" fsck >"$T/out" 2>&1
ck "... fsck clean" grep -q '^ok: .* 0 partial indexes; 0 problems' "$T/out"

# ---- a Docker manifest list: the same as an OCI index ----------------------------------
# skopeo turns the OCI index into a Docker manifest list of Docker schema2 manifests.
LIST_MT=application/vnd.docker.distribution.manifest.list.v2+json
DOCKER_MT=application/vnd.docker.distribution.manifest.v2+json
skopeo copy -q --all --format v2s2 --src-tls-verify=false --dest-tls-verify=false \
	"docker://$REG/bb:multi" "docker://$REG/dl:list" >/dev/null 2>&1
skopeo inspect --raw --tls-verify=false "docker://$REG/dl:list" >"$T/list" 2>/dev/null
ck "skopeo makes a Docker manifest list of the index" \
	test "$(jq -r '.mediaType + " " + ([.manifests[].mediaType] | unique | join(","))' "$T/list")" = "$LIST_MT $DOCKER_MT"
LIST=sha256:$(sha256sum <"$T/list" | cut -d' ' -f1)
S4=$T/s4
l() { "$PLATE" --root "$S4" "$@"; }
l pull --platform linux/amd64 "$REG/dl:list" >"$T/out" 2>&1
ck "pull --platform linux/amd64 of the list" test $? = 0
ck "... the name holds the registry's list (its digest and media type kept)" \
	test "$(jq -r '.manifests[0] | .digest + " " + .mediaType' "$S4/index.json")" = "$LIST $LIST_MT"
ck "... says which platforms the store holds" grep -qx 'platforms in the store: linux/amd64' "$T/out"
l fsck >"$T/out" 2>&1
ck "fsck accepts the partial list and counts it" grep -q '^ok: .* 1 partial indexes; 0 problems' "$T/out"
l run --network none --platform linux/arm64 "$REG/dl:list" >"$T/out" 2>&1; rc=$?
ck "run --platform linux/arm64 before it is pulled: one error naming the pull" \
	bash -c "test $rc != 0 && grep -q \"platform 'linux/arm64' was not pulled (plate pull --platform linux/arm64 $REG/dl:list)\" '$T/out'"
l push "$REG/dl:list" "$REG/dl:partial" >"$T/out" 2>&1; rc=$?
ck "push of the partial list: refused, naming --platform" \
	bash -c "test $rc != 0 && grep -q 'the store holds 1 of the 2 platforms of its index: push one of them with --platform' '$T/out'"
l push --platform linux/amd64 "$REG/dl:list" "$REG/dl:partial" >"$T/out" 2>&1
ck "push --platform linux/amd64 of it pushes that Docker manifest alone, byte for byte" \
	test "$(tail -n1 "$T/out")" = "$(jq -r '.manifests[0].digest' "$T/list")"
l pull --platform linux/arm64 "$REG/dl:list" >"$T/out" 2>&1
ck "pull --platform linux/arm64 of the same list adds arm64 beside amd64" \
	grep -qx 'platforms in the store: linux/amd64 linux/arm64' "$T/out"
ck "... under the same name, one entry" test "$(jq '.manifests | length' "$S4/index.json")" = 1
ck "run --platform linux/amd64" test "$(l run --network none --platform linux/amd64 "$REG/dl:list" 2>&1)" = x86_64
ck "run --platform linux/arm64 (under QEMU)" \
	test "$(l run --network none --platform linux/arm64 "$REG/dl:list" 2>&1)" = aarch64
ck "fsck clean, no partial index" bash -c "'$PLATE' --root '$S4' fsck | grep -q '^ok: .* 0 partial indexes; 0 problems'"
ck "images lists it once" test "$(l images | grep -c 'dl ')" = 1
ck "inspect lists the list's manifests, both present" \
	test "$(l inspect "$REG/dl:list" | jq -r '[.[0].Manifests[] | .platform.architecture + "=" + (.Present | tostring)] | join(",")')" = amd64=true,arm64=true
l push "$REG/dl:list" "$REG/dl:back" >"$T/out" 2>&1
ck "push of the whole list: the registry's digest, byte for byte" test "$(tail -n1 "$T/out")" = "$LIST"
ck "... the registry serves it as a Docker manifest list" test \
	"$(skopeo inspect --raw --tls-verify=false "docker://$REG/dl:back" | jq -r .mediaType)" = "$LIST_MT"
l save --format oci -o "$T/list.tar" "$REG/dl:list" >/dev/null 2>&1 &&
	"$PLATE" --root "$T/s-load" load -i "$T/list.tar" >/dev/null 2>&1
ck "save --format oci and load of the list: both platforms under the name" \
	test "$("$PLATE" --root "$T/s-load" inspect "$REG/dl:list" | jq -r '.[0].Id + " " + ([.[0].Manifests[] | .platform.architecture + "=" + (.Present | tostring)] | join(","))')" = \
	"$(l inspect "$REG/dl:list" | jq -r '.[0].Id') amd64=true,arm64=true"
"$PLATE" --root "$T/s-load" push "$REG/dl:list" "$REG/dl:loaded" >"$T/out" 2>&1
ck "... pushed from there, the registry's list byte for byte" test "$(tail -n1 "$T/out")" = "$LIST"
"$PLATE" --root "$T/s5" pull --platform linux/amd64,linux/arm64 "$REG/dl:list" >"$T/out" 2>&1
ck "pull --platform linux/amd64,linux/arm64 of the list fetches both" \
	grep -qx 'platforms in the store: linux/amd64 linux/arm64' "$T/out"

# Bad lists: one error line each, the store unchanged.
before=$(find "$S4" -path "$S4/plate.lock" -prune -o -print | sort | md5sum)
l pull --platform linux/s390x "$REG/dl:list" >"$T/out" 2>&1; rc=$?
ck "a platform the list does not name: one error line" \
	bash -c "test $rc = 1 && test \$(grep -c error '$T/out') = 1 && grep -q \"pull '$REG/dl:list': no manifest for platform 'linux/s390x'\" '$T/out'"
ck "... the store unchanged" test "$(find "$S4" -path "$S4/plate.lock" -prune -o -print | sort | md5sum)" = "$before"
# A list naming a manifest the registry no longer has (deleted after the copy).
skopeo copy -q --all --format v2s2 --src-tls-verify=false --dest-tls-verify=false \
	"docker://$REG/bb:multi" "docker://$REG/gone:list" >/dev/null 2>&1
ARM=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$T/list")
curl -s -o /dev/null -X DELETE "http://$REG/v2/gone/manifests/$ARM"
S6=$T/s6
"$PLATE" --root "$S6" pull --platform linux/amd64 "$REG/gone:list" >/dev/null 2>&1
before=$(find "$S6" -path "$S6/plate.lock" -prune -o -print | sort | md5sum)
"$PLATE" --root "$S6" pull --platform linux/arm64 "$REG/gone:list" >"$T/out" 2>&1; rc=$?
ck "a list whose arm64 manifest is gone: one error line naming it" \
	bash -c "test $rc = 1 && test \$(grep -c error '$T/out') = 1 && grep -q \"pull '$REG/gone:list'.*$ARM\" '$T/out'"
ck "... the store unchanged, amd64 still there" bash -c "test \"\$(find '$S6' -path '$S6/plate.lock' -prune -o -print | sort | md5sum)\" = '$before' && '$PLATE' --root '$S6' fsck >/dev/null"
# A lying list: its entry says Docker schema2 for what is an OCI manifest (the registry
# checks that the manifest exists, not its type).
AMD_OCI=$(skopeo inspect --raw --tls-verify=false "docker://$REG/bb:multi" | jq -c '.manifests[] | select(.platform.architecture == "amd64")')
jq -n --argjson d "$AMD_OCI" --arg lt "$LIST_MT" --arg mt "$DOCKER_MT" \
	'{schemaVersion: 2, mediaType: $lt, manifests: [$d | .mediaType = $mt]}' >"$T/lie.json"
"$RT" push-manifest "$REG/bb:lie" "$T/lie.json" "$LIST_MT" >/dev/null 2>"$T/lie.err" ||
	diag "$(cat "$T/lie.err")"
"$PLATE" --root "$T/s7" pull --platform linux/amd64 "$REG/bb:lie" >"$T/out" 2>&1; rc=$?
ck "a list lying about its manifest's type: one error line naming both types" \
	bash -c "test $rc = 1 && test \$(grep -c error '$T/out') = 1 && grep -q \"manifest '$(jq -r .digest <<<"$AMD_OCI")' is 'application/vnd.oci.image.manifest.v1+json', its index says '$DOCKER_MT'\" '$T/out'"
ck "... nothing stored" bash -c "! jq -e '.manifests[0]' '$T/s7/index.json' >/dev/null 2>&1"

# ---- the registry's index changed meanwhile ---------------------------------------------
S3=$T/s3
"$PLATE" --root "$S3" pull --platform linux/amd64 "$REG/bb:multi" >/dev/null 2>&1
printf 'FROM bb-$TARGETARCH\nCMD ["uname", "-a"]\n' >"$C/Dockerfile"
build "$C" --platform linux/amd64,linux/arm64 -t bb:multi
p push bb:multi "$REG/bb:multi" >"$T/push" 2>&1
INDEX2=$(tail -n1 "$T/push")
"$PLATE" --root "$S3" pull --platform linux/arm64 "$REG/bb:multi" >"$T/out" 2>&1
ck "a pull after the registry's index changed: the new one replaces it, and says so" \
	bash -c "grep -q \"the registry's index for this name changed\" '$T/out' && grep -qx 'platforms in the store: linux/arm64' '$T/out' && test \"\$(jq -r '.manifests[0].digest' '$S3/index.json')\" = $INDEX2"
"$PLATE" --root "$S3" fsck >"$T/out" 2>&1
ck "... fsck clean (the old platforms are unreferenced)" grep -q '^ok: .* 1 partial indexes; 0 problems' "$T/out"

# ---- rmi leaves nothing behind -----------------------------------------------------------
q rmi "$REG/bb:multi" >/dev/null 2>&1
"$PLATE" --root "$S3" rmi "$REG/bb:multi" >/dev/null 2>&1
ck "rmi of the two-platform pull: no blob, no snapshot left" \
	test "$(find "$S/blobs/sha256" "$S/snapshots" -mindepth 1 -maxdepth 1 | wc -l)" = 0
"$PLATE" --root "$S3" prune >/dev/null 2>&1
ck "rmi of the partial pull: no blob, no snapshot left" \
	test "$(find "$S3/blobs/sha256" "$S3/snapshots" -mindepth 1 -maxdepth 1 | wc -l)" = 0

tap_done
