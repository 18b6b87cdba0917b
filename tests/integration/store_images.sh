#!/usr/bin/env bash
# plate import / images / inspect / history / tag / rmi / prune / fsck on a private store,
# judged by skopeo reading the store as an OCI layout.
. "$(dirname "$0")/lib.sh"
as_namespace_root
. "$(dirname "$0")/store-helpers.bash"
command -v skopeo >/dev/null || tap_skip_all "skopeo not installed"
command -v jq >/dev/null || tap_skip_all "jq not installed"

R=$T/root
p() { "$PLATE" --root "$R" "$@"; }
make_rootfs "$T/rootfs"
tar -C "$T/rootfs" --numeric-owner -cf "$T/rootfs.tar" .

id=$(p import -c 'ENV PATH=/bin' -c 'ENTRYPOINT ["/bin/sh", "-c"]' -c 'WORKDIR /home/user' \
	-c 'USER 1000:1000' -c 'CMD echo "a && b"' -c 'LABEL a=1 "b c"="d e"' -c 'EXPOSE 8080' \
	-m 'first import' "$T/rootfs.tar" example.com/team/app:v1)
tap_check "import prints the image ID" test "${id#sha256:}" != "$id"
tap_check "images lists it" bash -c "'$PLATE' --root '$R' images | grep -q '^example.com/team/app  *v1  *${id:7:12} '"
p inspect example.com/team/app:v1 >"$T/inspect.json"
tap_check "inspect is a list of one" test "$(jq length "$T/inspect.json")" = 1
tap_check "inspect Id is the config digest" test "$(jq -r '.[0].Id' "$T/inspect.json")" = "$id"
tap_check "inspect Config carries --change" test "$(jq -c '.[0].Config | [.Env, .Entrypoint, .WorkingDir, .User, .Cmd, .Labels, .ExposedPorts]' "$T/inspect.json")" = \
	'[["PATH=/bin"],["/bin/sh","-c"],"/home/user","1000:1000",["/bin/sh","-c","echo \"a && b\""],{"a":"1","b c":"d e"},{"8080/tcp":{}}]'
tap_check "inspect RepoTags" test "$(jq -c '.[0].RepoTags' "$T/inspect.json")" = '["example.com/team/app:v1"]'
tap_check "history shows the comment" bash -c "'$PLATE' --root '$R' history example.com/team/app:v1 | grep -q 'plate import.*first import'"

# The store is an OCI layout other tools read directly.
tap_check "skopeo inspect oci:\$ROOT:ref" bash -c "skopeo inspect oci:'$R':example.com/team/app:v1 | jq -e '.Env == [\"PATH=/bin\"]' >/dev/null"

# Determinism: the same tar imported into another store gives the same manifest.
d1=$(jq -r '.manifests[0].digest' "$R/index.json")
"$PLATE" --root "$T/root2" import -c 'ENV PATH=/bin' -c 'ENTRYPOINT ["/bin/sh", "-c"]' -c 'WORKDIR /home/user' \
	-c 'USER 1000:1000' -c 'CMD echo "a && b"' -c 'LABEL a=1 "b c"="d e"' -c 'EXPOSE 8080' \
	-m 'first import' "$T/rootfs.tar" example.com/team/app:v1 >/dev/null
tap_check "import is reproducible" test "$(jq -r '.manifests[0].digest' "$T/root2/index.json")" = "$d1"
gzip -c "$T/rootfs.tar" >"$T/rootfs.tar.gz"
"$PLATE" --root "$T/root5" import -c 'ENV PATH=/bin' -c 'ENTRYPOINT ["/bin/sh", "-c"]' -c 'WORKDIR /home/user' \
	-c 'USER 1000:1000' -c 'CMD echo "a && b"' -c 'LABEL a=1 "b c"="d e"' -c 'EXPOSE 8080' \
	-m 'first import' - example.com/team/app:v1 <"$T/rootfs.tar.gz" >/dev/null
tap_check "import of the gzipped tar from stdin gives the same image" \
	test "$(jq -r '.manifests[0].digest' "$T/root5/index.json")" = "$d1"
SOURCE_DATE_EPOCH=1700000000 "$PLATE" --root "$T/root3" import "$T/rootfs.tar" x:1 >/dev/null
tap_check "SOURCE_DATE_EPOCH sets created" test "$(jq -r '.[0].Created' <("$PLATE" --root "$T/root3" inspect x:1))" = 2023-11-14T22:13:20Z
rc=0; SOURCE_DATE_EPOCH=-5 "$PLATE" --root "$T/root3" import "$T/rootfs.tar" y:1 >/dev/null 2>"$T/epoch.err" || rc=$?
tap_check "a bad SOURCE_DATE_EPOCH is a usage error" test "$rc" = 2
tap_check "it names the value" grep -q "SOURCE_DATE_EPOCH '-5' is not a number of seconds" "$T/epoch.err"

# The snapshot is the layer's tree (content, modes, owners, links), mtimes aside.
snap=$(ls -d "$R"/snapshots/*/fs)
tap_check "snapshot equals the imported tree" diff <(tree_listing "$T/rootfs" no-mtime) <(tree_listing "$snap" no-mtime)

p save --format oci -o "$T/saved.tar" example.com/team/app:v1
"$PLATE" --root "$T/root4" load -i "$T/saved.tar" >/dev/null
tap_check "import's snapshot equals an extraction of its layer, mtimes included" \
	diff <(tree_listing "$snap") <(tree_listing "$(ls -d "$T"/root4/snapshots/*/fs)")

# tag / images / rmi
p tag example.com/team/app:v1 app:latest
tap_check "tag adds a name" test "$(p images -q | wc -l)" = 2
tap_check "tag by short name resolves" bash -c "'$PLATE' --root '$R' inspect app | jq -e '.[0].RepoTags | length == 2' >/dev/null"
tap_check "tag by ID prefix" p tag "${id:7:10}" app:v2
p tag "$id" app:v3 2>/dev/null
tap_check "tag by full ID" test "$(p images | grep -c '^app ')" = 3
p tag app:nope bad:1 2>"$T/err"; rc=$?
tap_check "tag of a missing image fails" test "$rc" = 1
tap_check "... naming it" grep -q "image 'app:nope' not found" "$T/err"
p tag app:v1 'Bad:1' 2>"$T/err"; rc=$?
tap_check "tag to an invalid name is a usage error" test "$rc" = 2
p rmi "${id:7:12}" >/dev/null 2>"$T/err"; rc=$?
tap_check "rmi by ID with several names needs -f" test "$rc" = 1
p rmi app:v2 app:v3 >"$T/out"
tap_check "rmi untags" grep -q 'Untagged: app:v2' "$T/out"
tap_check "blobs stay while a name remains" test "$(ls "$R/blobs/sha256" | wc -l)" = 3
p rmi -f "$id" >"$T/out"
tap_check "rmi -f removes every name" test "$(p images -q | wc -l)" = 0
tap_check "rmi deletes unreferenced blobs" test "$(ls "$R/blobs/sha256" | wc -l)" = 0
tap_check "rmi deletes unreferenced snapshots" test "$(ls "$R/snapshots" | wc -l)" = 0
tap_check "fsck is clean" bash -c "'$PLATE' --root '$R' fsck >/dev/null"

# prune keeps what is named, removes the rest
p import "$T/rootfs.tar" keep:1 >/dev/null
mkdir -p "$T/other"
echo other >"$T/other/file"
tar -C "$T/other" -cf "$T/other.tar" .
p import "$T/other.tar" gone:1 >/dev/null
jq '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] != "docker.io/library/gone:1"))' "$R/index.json" >"$T/index.json"
cp "$T/index.json" "$R/index.json"
tap_check "fsck counts unreferenced files without failing" bash -c "'$PLATE' --root '$R' fsck | grep -q '; 4 unreferenced;'"
p prune >"$T/out"
tap_check "prune removes what no name references" grep -q 'Deleted 3 blobs' "$T/out"
tap_check "prune keeps named images" bash -c "'$PLATE' --root '$R' inspect keep:1 >/dev/null"
tap_check "fsck clean after prune" bash -c "'$PLATE' --root '$R' fsck >/dev/null"

tap_done
