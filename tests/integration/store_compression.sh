#!/usr/bin/env bash
# Layers a build writes are stored uncompressed (digest = diffID) and compressed on their
# way out: a push sends gzip layers, the same bytes and digest as an image built with
# --output type=image,compression=gzip; the compressed form is made once per image and
# once per diffID; a SIGKILL anywhere in its transaction leaves a store that fsck finds
# clean and that pushes the same digest afterwards; rmi takes the form away.  Peers read
# the uncompressed store: skopeo copies it, umoci unpacks it.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry skopeo jq strace
command -v umoci >/dev/null || tap_skip_all "umoci not installed"
start_registry reg || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
S1=$T/plain
S2=$T/gzip
TAR=application/vnd.oci.image.layer.v1.tar
GZ=application/vnd.oci.image.layer.v1.tar+gzip

mkdir -p "$T/ctx"
seq 1 200000 >"$T/ctx/numbers.txt"
seq 7 3 100000 >"$T/ctx/more.txt"
printf 'FROM scratch\nCOPY numbers.txt /data/\nCOPY more.txt /data/\nCMD ["/data/more.txt"]\n' \
	>"$T/ctx/Dockerfile"
# manifest STORE NAME: the stored manifest of NAME (read with jq, not through plate).
manifest() {
	local d
	d=$(jq -r --arg n "docker.io/library/$2:latest" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' \
		"$1/index.json")
	cat "$1/blobs/sha256/${d#sha256:}"
}
blobs() { find "$1/blobs/sha256" -type f | wc -l; }
forms() { jq '[.manifests[] | select(.annotations["dev.plate.form"] == "gzip")] | length' "$1/index.json"; }

"$PLATE" --root "$S1" build -q -t app "$T/ctx" >"$T/b1" 2>&1
tap_check "a build with the default storage succeeds" [ $? = 0 ]
manifest "$S1" app >"$T/m1"
tap_check "its layers are stored uncompressed" \
	[ "$(jq -r '[.layers[].mediaType] | unique | join(" ")' "$T/m1")" = "$TAR" ]
cfg=$(jq -r .config.digest "$T/m1")
tap_check "each layer's blob digest is its diffID" \
	[ "$(jq -c '[.layers[].digest]' "$T/m1")" = "$(jq -c .rootfs.diff_ids "$S1/blobs/sha256/${cfg#sha256:}")" ]
"$PLATE" --root "$S2" build -q -t app --output type=image,compression=gzip "$T/ctx" >"$T/b2" 2>&1
tap_check "compression=gzip stores gzip layers" \
	[ "$(manifest "$S2" app | jq -r '[.layers[].mediaType] | unique | join(" ")')" = "$GZ" ]
"$PLATE" --root "$S2" build -t x --output type=image,compression=lzma "$T/ctx" >/dev/null 2>"$T/bad.err"
tap_check "an unknown compression is a usage error (exit 2)" [ $? = 2 ]
tap_like "... naming the choices" "compression must be uncompressed, gzip or zstd" "$T/bad.err"

# The same push from both stores.
"$PLATE" --root "$S1" push app "$R/plain/app:v1" >"$T/p1" 2>"$T/p1.err"
tap_check "push of the uncompressed image succeeds" [ $? = 0 ]
"$PLATE" --root "$S2" push app "$R/gzip/app:v1" >"$T/p2" 2>"$T/p2.err"
tap_check "the pushed digest does not depend on the local storage" \
	[ -n "$(cat "$T/p1")" ] && cmp -s "$T/p1" "$T/p2"
skopeo inspect --raw --tls-verify=false "docker://$R/plain/app:v1" >"$T/remote.json" 2>/dev/null
tap_check "the registry holds gzip layers" \
	[ "$(jq -r '[.layers[].mediaType] | unique | join(" ")' "$T/remote.json")" = "$GZ" ]
tap_check "... and the config the store has" [ "$(jq -r .config.digest "$T/remote.json")" = "$cfg" ]
skopeo copy -q --src-tls-verify=false "docker://$R/plain/app:v1" "oci:$T/back:v1" >/dev/null 2>&1
l0=$(jq -r '.layers[0].digest' "$T/remote.json")
d0=$(jq -r '.layers[0].digest' "$T/m1")
tap_check "a pushed layer gunzips to the stored tar" \
	cmp -s <(gzip -dc "$T/back/blobs/sha256/${l0#sha256:}") "$S1/blobs/sha256/${d0#sha256:}"
tap_check "the compressed form is one referrer entry" [ "$(forms "$S1")" = 1 ]
n=$(blobs "$S1")
"$PLATE" --root "$S1" push app "$R/plain/again:v1" >"$T/p3" 2>/dev/null
tap_check "a second push compresses nothing (no new blob) and sends the same digest" \
	[ "$(blobs "$S1")" = "$n" ] && cmp -s "$T/p1" "$T/p3"
"$PLATE" --root "$S1" images >"$T/images"
tap_check "images lists the image once" [ "$(grep -c '^app ' "$T/images")" = 1 ]

cp -r "$T/ctx" "$T/ctx0"
# A store that pulled the pushed image before pushing its own build of it: the form is the
# pulled image's manifest, kept as a referrer beside the pulled name.
"$PLATE" --root "$T/s3" build -q -t app "$T/ctx" >/dev/null 2>&1
"$PLATE" --root "$T/s3" pull -q "$R/plain/app:v1" >/dev/null 2>&1
"$PLATE" --root "$T/s3" push app "$R/plain/s3:v1" >"$T/p5" 2>/dev/null
skopeo inspect --raw --tls-verify=false "docker://$R/plain/s3:v1" >"$T/remote3.json" 2>/dev/null
tap_check "with the compressed form also pulled under a name, push still sends gzip layers" \
	[ "$(jq -r '[.layers[].mediaType] | unique | join(" ")' "$T/remote3.json")" = "$GZ" ] && cmp -s "$T/p1" "$T/p5"
"$PLATE" --root "$T/s3" rmi "$R/plain/app:v1" >/dev/null 2>&1
"$PLATE" --root "$T/s3" push app "$R/plain/s3:v2" >"$T/p6" 2>/dev/null
tap_check "... and after that name is removed" cmp -s "$T/p1" "$T/p6"
tap_check "... fsck is clean" "$PLATE" --root "$T/s3" fsck

# A second image sharing the first layer: only its own layer is compressed.
seq 1 5 >"$T/ctx/more.txt"
"$PLATE" --root "$S1" build -q -t app2 "$T/ctx" >/dev/null 2>&1
n=$(blobs "$S1")
"$PLATE" --root "$S1" push app2 "$R/plain/app2:v1" >/dev/null 2>"$T/p4.err"
tap_check "a layer compressed for another image is reused (2 new blobs: a layer and a manifest)" \
	[ "$(blobs "$S1")" = $((n + 2)) ]

# SIGKILL at each rename and fsync of the compressing transaction, in a store that built
# the image and never pushed it.
"$PLATE" --root "$T/fresh" build -q -t app "$T/ctx0" >/dev/null 2>&1
points=0
ok=0
calls="renameat fsync"
root_part "a traced plate cannot run the setuid newuidmap that enters its user namespace" ||
	calls=
for call in $calls; do
	for k in 1 2 3 4 5 6 7 8; do
		rm -rf "$T/k"
		cp -a "$T/fresh" "$T/k"
		cp "$T/k/index.json" "$T/k.index"
		(strace -f -qq -o /dev/null -e trace=$call -e inject=$call:signal=KILL:when=$k \
			"$PLATE" --root "$T/k" push app "$R/kill/app:v$k" >/dev/null 2>&1) 2>/dev/null
		[ $? = 137 ] || break
		points=$((points + 1))
		"$PLATE" --root "$T/k" fsck >"$T/fsck" 2>&1 || { diag "$call #$k: $(cat "$T/fsck")"; continue; }
		if [ "$(forms "$T/k")" = 0 ] && ! cmp -s "$T/k/index.json" "$T/k.index"; then
			diag "$call #$k: index.json changed without a compressed form"
			continue
		fi
		"$PLATE" --root "$T/k" push app "$R/kill/app:w$k" >"$T/after" 2>/dev/null
		cmp -s "$T/after" "$T/p1" && ok=$((ok + 1)) || diag "$call #$k: the push after sent another digest"
	done
done
[ -z "$calls" ] || tap_check "a SIGKILL at each of $points points leaves fsck clean, index.json as it was or complete, and the next push sends the same digest" \
	[ "$points" -ge 4 ] && [ "$ok" = "$points" ]

# Peers read what the store holds.
"$PLATE" --root "$S1" save --format oci -o "$T/app.oci.tar" app >/dev/null 2>&1
skopeo copy -q "oci-archive:$T/app.oci.tar" "oci:$T/sk:app" >/dev/null 2>&1
tap_check "skopeo copies the saved uncompressed image" [ $? = 0 ]
umoci unpack --rootless --image "$T/sk:app" "$T/bundle" >/dev/null 2>&1
tap_check "umoci unpacks it" [ $? = 0 ]
tap_check "... with the files" cmp -s "$T/bundle/rootfs/data/numbers.txt" "$T/ctx/numbers.txt"

# The form leaves with the image.
"$PLATE" --root "$S1" rmi app app2 >/dev/null 2>&1
"$PLATE" --root "$S1" prune >/dev/null 2>&1
tap_check "after rmi no compressed form is left" [ "$(forms "$S1")" = 0 ]
tap_check "... and fsck is clean" "$PLATE" --root "$S1" fsck
tap_done
