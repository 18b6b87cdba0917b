#!/usr/bin/env bash
# The snapshot index (fs.index beside every snapshot's fs/): `plate build` writes one for
# its RUN and COPY layers as `plate import` does for imported ones; the doctor and the SBOM
# give the same answers with the index, without it and with a damaged one (they walk the
# layer then); that the doctor reads the index, not the tree, shows once the tree is
# tampered with behind its back; `plate fsck` reports a missing, damaged, foreign or stale
# index.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'DOCKERFILE'
FROM base:test
COPY Dockerfile /src/Dockerfile
RUN mkdir /app && cp /bin/probe /app/probe && rm /bin/cat
USER 65534:65534
ENTRYPOINT ["/app/probe"]
DOCKERFILE
build "$C" -t ix
ck "the image builds" test "$rc" = 0
n_snap=$(ls "$R/snapshots" | wc -l)
n_ix=$(ls "$R"/snapshots/*/fs.index | wc -l)
ck "every snapshot has an index, the RUN and COPY layers' too ($n_ix of $n_snap)" \
	test "$n_snap" -ge 3 -a "$n_snap" = "$n_ix"
tap_check "fsck accepts the indexes" p fsck
p check --format json ix >"$T/with.json"
p sbom ix >"$T/with.sbom"
tap_check "the doctor finds nothing in the image" test "$(jq '.findings | length' "$T/with.json")" = 0

# The RUN layer: the one holding /app/probe.
run=$(dirname "$(ls -d "$R"/snapshots/*/fs/app/probe)")
run=${run%/fs/app}
hex=$(basename "$run")

mkdir -p "$T/saved"
for d in "$R"/snapshots/*; do cp "$d/fs.index" "$T/saved/$(basename "$d")"; done
restore() { for d in "$R"/snapshots/*; do cp "$T/saved/$(basename "$d")" "$d/fs.index"; done; }

rm "$R"/snapshots/*/fs.index
p check --format json ix >"$T/without.json"
p sbom ix >"$T/without.sbom"
tap_check "without indexes (an older store): the same findings" cmp "$T/with.json" "$T/without.json"
tap_check "  and the same SBOM" cmp "$T/with.sbom" "$T/without.sbom"
p fsck >"$T/fsck" 2>&1
tap_check "fsck reports the missing index, naming the layer" \
	grep -q "snapshot 'sha256:$hex' has a bad index: fs.index is missing" "$T/fsck"

restore
printf '\001' | dd of="$run/fs.index" bs=1 seek=100 conv=notrunc status=none
p check --format json ix >"$T/damaged.json"
tap_check "a damaged index: the same findings (the layer is walked)" cmp "$T/with.json" "$T/damaged.json"
p fsck >"$T/fsck" 2>&1
tap_check "fsck reports the damaged index" grep -q "snapshot 'sha256:$hex' has a bad index: index: checksum mismatch" "$T/fsck"

restore
other=$(ls -d "$R"/snapshots/* | grep -v "$hex" | head -1)
cp "$other/fs.index" "$run/fs.index"
p fsck >"$T/fsck" 2>&1
tap_check "fsck reports another layer's index" grep -q "snapshot 'sha256:$hex' has a bad index: index: names" "$T/fsck"

restore
mv "$run/fs/app/probe" "$T/probe.moved"
p check --format json ix >"$T/tampered.json"
tap_check "the doctor reads the index: a program removed behind its back is still seen" \
	cmp "$T/with.json" "$T/tampered.json"
rm "$run/fs.index"
tap_check "  and without the index the tree is read: MissingEntrypoint" \
	bash -c "\"$PLATE\" --root '$R' check --format json ix | jq -e '[.findings[].id] | index(\"MissingEntrypoint\")' >/dev/null"
restore
p fsck >"$T/fsck" 2>&1
tap_check "fsck reports the tree that no longer matches" grep -q "snapshot 'sha256:$hex' is damaged" "$T/fsck"
mv "$T/probe.moved" "$run/fs/app/probe"
tap_check "fsck is clean again once the tree is put back" p fsck
as_owner chown 4242:4242 "$run/fs/app/probe"
p fsck >"$T/fsck" 2>&1
tap_check "fsck reports an index the tree no longer matches (an owner changed)" \
	grep -q "snapshot 'sha256:$hex' has a bad index: fs.index does not match the tree" "$T/fsck"
tap_done
