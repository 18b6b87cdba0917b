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
for tool in skopeo docker-registry; do
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
