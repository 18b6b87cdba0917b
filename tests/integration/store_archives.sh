#!/usr/bin/env bash
# plate load / save against the real tools: archives made by umoci and skopeo load; what
# plate saves passes skopeo inspect/copy, unpacks with umoci to the identical tree, and
# buildah pulls it.
. "$(dirname "$0")/lib.sh"
as_namespace_root
. "$(dirname "$0")/store-helpers.bash"
for tool in skopeo umoci buildah jq; do
	command -v $tool >/dev/null || tap_skip_all "$tool not installed"
done

R=$T/root
p() { "$PLATE" --root "$R" "$@"; }
make_rootfs "$T/rootfs"
umoci_image "$T/layout" t1 "$T/rootfs"
skopeo copy -q oci:"$T/layout":t1 oci-archive:"$T/in.oci.tar":docker.io/library/rt:oci
skopeo copy -q oci:"$T/layout":t1 docker-archive:"$T/in.docker.tar":rt:docker
gzip -c "$T/in.docker.tar" >"$T/in.docker.tar.gz"
umoci unpack --image "$T/layout":t1 "$T/ref" >/dev/null

# ---- load -------------------------------------------------------------------------------
p load -i "$T/in.oci.tar" >"$T/out" 2>&1
tap_check "load oci-archive (skopeo)" grep -qx 'Loaded image: rt:oci' "$T/out"
p load -i "$T/in.docker.tar" >"$T/out" 2>&1
tap_check "load docker-archive (skopeo)" grep -qx 'Loaded image: rt:docker' "$T/out"
p rmi rt:docker >/dev/null
p load <"$T/in.docker.tar.gz" >"$T/out" 2>&1
tap_check "load gzipped docker-archive from stdin" grep -qx 'Loaded image: rt:docker' "$T/out"
"$PLATE" --root "$T/root4" load -i "$T/layout" >"$T/out" 2>&1
tap_check "load an OCI layout dir (tag-only name: untagged)" grep -q '^Loaded image ID: sha256:' "$T/out"
tap_check "untagged image listed as <none>" bash -c "'$PLATE' --root '$T/root4' images | grep -q '^<none> '"
p load -i "$T/layout" >"$T/out" 2>&1
tap_check "an untagged load of a named image keeps the name" bash -c "'$PLATE' --root '$R' images | grep -q '^rt  *oci '"
tap_check "skopeo reads the store" bash -c "skopeo inspect oci:'$R':docker.io/library/rt:docker | jq -e '.Env == [\"A=1\"]' >/dev/null"
tap_check "every layer has a snapshot; fsck clean" bash -c "'$PLATE' --root '$R' fsck >/dev/null"

# docker-archive layers are uncompressed layer.tar files: they are stored as they came, as
# tar-typed blobs whose digest is their diffID, so a docker round trip is bit for bit.
dm=$(jq -r '.[0].Descriptor.digest' <(p inspect rt:docker))
tap_check "docker-archive layers stored uncompressed: digest = diffID, tar media type" bash -c "
	m='$R/blobs/sha256/${dm#sha256:}'; c=\$(jq -r .config.digest \"\$m\")
	test \"\$(jq -c '[.layers[] | .digest]' \"\$m\")\" = \"\$(jq -c .rootfs.diff_ids '$R/blobs/sha256/'\${c#sha256:})\" &&
	jq -e 'all(.layers[]; .mediaType == \"application/vnd.oci.image.layer.v1.tar\")' \"\$m\" >/dev/null"
p save --format docker -o "$T/dd.tar" rt:docker
mkdir "$T/dd"
tar -C "$T/dd" -xf "$T/dd.tar"
tap_check "saved again as docker-archive: each layer file hashes to its diffID" bash -c "
	cd '$T/dd' && cfg=\$(jq -r '.[0].Config' manifest.json) &&
	test \"\$(jq -r '.[0].Layers[]' manifest.json | xargs sha256sum | sed 's/^/sha256:/; s/ .*//' | jq -Rsc 'split(\"\n\")[:-1]')\" = \"\$(jq -c .rootfs.diff_ids \"\$cfg\")\""
tap_check "... skopeo copies it" skopeo copy -q docker-archive:"$T/dd.tar" oci:"$T/l4":z
"$PLATE" --root "$T/root5" load -i "$T/dd.tar" >/dev/null
tap_check "... and it loads back to the same manifest" test \
	"$(jq -r '.[0].Descriptor.digest' <("$PLATE" --root "$T/root5" inspect rt:docker))" = "$dm"

# ---- save, oci ----------------------------------------------------------------------------
p save --format oci -o "$T/s.oci.tar" rt:oci
tap_check "saved oci-archive passes skopeo inspect" \
	bash -c "skopeo inspect oci-archive:'$T/s.oci.tar':docker.io/library/rt:oci | jq -e '.Env == [\"A=1\"]' >/dev/null"
tap_check "skopeo copy of it" skopeo copy -q oci-archive:"$T/s.oci.tar":docker.io/library/rt:oci oci:"$T/l2":x
umoci unpack --image "$T/l2":x "$T/b2" >/dev/null
tap_check "umoci unpack gives the identical tree (oci)" diff <(tree_listing "$T/ref/rootfs") <(tree_listing "$T/b2/rootfs")
p save --format oci -o "$T/s2.oci.tar" rt:oci
tap_check "save is deterministic" cmp -s "$T/s.oci.tar" "$T/s2.oci.tar"

# ---- save, docker -------------------------------------------------------------------------
p save -o "$T/s.docker.tar" rt:oci
tap_check "saved docker-archive passes skopeo inspect" \
	bash -c "skopeo inspect docker-archive:'$T/s.docker.tar' | jq -e '.Env == [\"A=1\"]' >/dev/null"
tap_check "skopeo copy of it" skopeo copy -q docker-archive:"$T/s.docker.tar" oci:"$T/l3":y
umoci unpack --image "$T/l3":y "$T/b3" >/dev/null
tap_check "umoci unpack gives the identical tree (docker)" diff <(tree_listing "$T/ref/rootfs") <(tree_listing "$T/b3/rootfs")
tap_check "manifest.json names config and layers" \
	bash -c "tar -xOf '$T/s.docker.tar' manifest.json | jq -e '.[0].Config | startswith(\"blobs/sha256/\")' >/dev/null"

# ---- buildah ------------------------------------------------------------------------------
bah() { buildah --root "$T/buildah" --runroot "$T/buildah-run" --storage-driver vfs "$@"; }
pull() { bah pull -q "$1" >/dev/null 2>"$T/buildah.err" || { cat "$T/buildah.err"; return 1; }; }
tap_check "buildah pull oci-archive" pull oci-archive:"$T/s.oci.tar"
tap_check "buildah pull docker-archive" pull docker-archive:"$T/s.docker.tar"
tap_check "buildah lists them" bash -c "buildah --root '$T/buildah' --runroot '$T/buildah-run' --storage-driver vfs images | grep -q 'rt *oci'"

# ---- round trips and several images --------------------------------------------------------
"$PLATE" --root "$T/root2" load -i "$T/s.oci.tar" >/dev/null
tap_check "oci round trip keeps the manifest digest" test \
	"$(jq -r '.manifests[0].digest' "$T/root2/index.json")" = "$(jq -r '.[0].Descriptor.digest' <(p inspect rt:oci))"
"$PLATE" --root "$T/root2" load -i "$T/s.docker.tar" >/dev/null
tap_check "docker round trip keeps the image ID" test \
	"$(jq -r '.[0].Id' <("$PLATE" --root "$T/root2" inspect rt:oci))" = "$(jq -r '.[0].Id' <(p inspect rt:oci))"
p save --format oci -o "$T/two.tar" rt:oci rt:docker
tap_check "two images in one archive" bash -c "skopeo inspect oci-archive:'$T/two.tar':docker.io/library/rt:docker >/dev/null"
"$PLATE" --root "$T/root3" load -i "$T/two.tar" >"$T/out"
tap_check "both load back" test "$(grep -c '^Loaded image: rt:' "$T/out")" = 2
p save -o /dev/full rt:oci 2>/dev/null; rc=$?
tap_check "save to a full device fails" test "$rc" = 1
p save -o "$T/none.tar" nope:1 2>"$T/err"; rc=$?
tap_check "save of a missing image fails cleanly" bash -c "test $rc = 1 && ! test -e '$T/none.tar' && grep -q \"image 'nope:1' not found\" '$T/err'"

# ---- a multi-platform index: resolved for this machine, kept whole in oci-archives ------------
mani=$(jq -r '.manifests[0].digest' "$T/layout/index.json")
msize=$(jq -r '.manifests[0].size' "$T/layout/index.json")
jq -cn --arg d "$mani" --argjson s "$msize" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		platform: {os: "linux", architecture: "amd64"}}]}' >"$T/mi.json"
mi=$(sha256sum "$T/mi.json" | cut -d' ' -f1)
cp -a "$T/layout" "$T/multi"
cp "$T/mi.json" "$T/multi/blobs/sha256/$mi"
jq -cn --arg d "sha256:$mi" --argjson s "$(stat -c %s "$T/mi.json")" '{schemaVersion: 2, manifests: [{
	mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
	annotations: {"org.opencontainers.image.ref.name": "docker.io/library/multi:1"}}]}' >"$T/multi/index.json"
p load -i "$T/multi" >"$T/out" 2>&1
tap_check "load a layout whose name points at an index" grep -qx 'Loaded image: multi:1' "$T/out"
tap_check "inspect resolves the index to this platform's manifest" \
	test "$(jq -r '.[0].Descriptor.digest' <(p inspect multi:1))" = "$mani"
p save --format oci -o "$T/multi.tar" multi:1
tap_check "oci-archive keeps the index" bash -c "tar -xOf '$T/multi.tar' index.json | jq -e '.manifests[0].digest == \"sha256:$mi\"' >/dev/null"
p save -o "$T/multi-docker.tar" multi:1
tap_check "docker-archive holds the chosen manifest" \
	bash -c "skopeo inspect docker-archive:'$T/multi-docker.tar' | jq -e '.Env == [\"A=1\"]' >/dev/null"

# ---- whiteouts: a second layer deleting files --------------------------------------------------
umoci unpack --image "$T/layout":t1 "$T/edit" >/dev/null
rm "$T/edit/rootfs/etc/hello" && rm -r "$T/edit/rootfs/usr/share/doc" && echo new >"$T/edit/rootfs/etc/new"
umoci repack --image "$T/layout":t2 "$T/edit" >/dev/null
umoci unpack --image "$T/layout":t2 "$T/ref2" >/dev/null
skopeo copy -q oci:"$T/layout":t2 oci-archive:"$T/wh.tar":docker.io/library/wh:1
p load -i "$T/wh.tar" >/dev/null
top=$(jq -r '.[0].RootFS.Layers[1]' <(p inspect wh:1))
tap_check "the whiteout layer's snapshot keeps overlay whiteouts" \
	test -c "$R/snapshots/${top#sha256:}/fs/etc/hello"
tap_check "fsck clean with whiteout snapshots" bash -c "'$PLATE' --root '$R' fsck >/dev/null"
p save --format oci -o "$T/wh-saved.tar" wh:1
skopeo copy -q oci-archive:"$T/wh-saved.tar":docker.io/library/wh:1 oci:"$T/l4":z
umoci unpack --image "$T/l4":z "$T/b4" >/dev/null
tap_check "two-layer image with deletions unpacks identically" diff <(tree_listing "$T/ref2/rootfs") <(tree_listing "$T/b4/rootfs")

tap_done
