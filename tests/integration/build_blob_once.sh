#!/usr/bin/env bash
# What the inner loop's last steps write, and when it reaches the disk (issue 18):
# - a layer of the target stage goes to the store as its tar is hashed: the COPY's file is
#   read for a tar once there, never again at "exporting to image";
# - its blob hashes to its name, fsck finds the store clean, and the image is the one a
#   build whose target inherits the same layer (blob made at the export) gives;
# - the writeback of a new layer's large files starts as the harvest reads them, and after
#   a RUN the store's filesystem is flushed in the background; the commit still
#   syncs in its own thread before it links anything in; a SIGKILL at either flush or at
#   any staging rename leaves a store fsck finds clean, which then builds the same image;
# - a COPY --from that misses by key copies while its content digest is taken; when the
#   content is found after all, the copy is dropped and the layer built before is used;
# - in a group of platforms, the blobs are made at the export (a shared step's blob would be
#   staged in one platform's transaction only).
# docs/internals/engine.md, "Layers of the target stage".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
command -v strace >/dev/null || tap_skip_all "strace not installed"
make_base

C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS builder
RUN seq 1 300000 > /big

FROM scratch AS out
COPY --from=builder /big /app/big

FROM out AS inherited
EOF

build "$C" --target out -t out
ck "the target stage builds" [ "$rc" = 0 ]
# manifest NAME: the image saved as an OCI layout in $T/img-NAME; prints its manifest's hex digest.
manifest() {
	p save --format oci -o "$T/img-$1.tar" "$1" >/dev/null && mkdir -p "$T/img-$1" &&
		tar -C "$T/img-$1" -xf "$T/img-$1.tar" &&
		jq -r '.manifests[0].digest' "$T/img-$1/index.json" | cut -d: -f2
}
m=$(manifest out)
layer=$(jq -r '.layers[0].digest' "$T/img-out/blobs/sha256/$m" | cut -d: -f2)
blob=$R/blobs/sha256/$layer
tap_check "the target's layer blob is in the store, uncompressed" \
	[ "$(jq -r '.layers[0].mediaType' "$T/img-out/blobs/sha256/$m")" = application/vnd.oci.image.layer.v1.tar ]
tap_check "... and hashes to its name" [ "$(sha256sum <"$blob" | cut -d' ' -f1)" = "$layer" ]
tap_check "... holds the COPY's file" cmp -s <(tar -xOf "$blob" app/big) <(seq 1 300000)
p fsck >"$T/fsck" 2>&1
tap_check "fsck finds the store clean" [ $? = 0 ]

# The same layer reached through a stage the target inherits: its blob is made at the export.
R2=$T/root2
"$PLATE" --root "$R2" load -i <(p save base:test) >/dev/null
"$PLATE" --root "$R2" build -q --target inherited -t inherited "$C" >/dev/null 2>"$T/out"
rc=$?
ck "a build whose target inherits the layer" [ "$rc" = 0 ]
m2=$(R=$R2 manifest inherited)
tap_check "... has the same layers, byte for byte" \
	[ "$(jq -c .layers "$T/img-out/blobs/sha256/$m")" = "$(jq -c .layers "$T/img-inherited/blobs/sha256/$m2")" ]

# Two platforms whose target stage runs on $BUILDPLATFORM: its steps are built once and
# shared, so neither platform's image may take a blob staged in the other's transaction.
C2=$T/ctx-shared
mkdir -p "$C2"
printf 'FROM --platform=$BUILDPLATFORM base:test\nRUN seq 1 100000 > /big\n' >"$C2/Dockerfile"
good=0
for i in 1 2 3 4 5 6; do
	rm -rf "$T/shared"
	"$PLATE" --root "$T/shared" load -i <(p save base:test) >/dev/null
	"$PLATE" --root "$T/shared" build -q --platform linux/amd64,linux/arm64 -t multi "$C2" >/dev/null 2>"$T/out" &&
		"$PLATE" --root "$T/shared" fsck >/dev/null 2>&1 && good=$((good + 1)) || diag "build $i: $(cat "$T/out")"
done
tap_check "a two-platform build sharing its target stage's steps commits both images, 6 times of 6" [ "$good" = 6 ]

if root_part "strace cannot follow a plate that enters its user namespace through the setuid newuidmap"; then
	# LeakSanitizer (SANITIZE=1) cannot stop the threads of a traced process: off under strace.
	traced() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace "$@"; }
	# The file is read for a tar by the RUN's layer and by the COPY's, not a third time.
	sed -i 's/seq 1 300000/seq 1 300001/' "$C/Dockerfile"
	traced -f -qq -o "$T/open.log" -e trace=openat "$PLATE" --root "$R" build -q --target out -t out2 "$C" >/dev/null 2>&1
	rc=$?
	ck "a build under strace" [ "$rc" = 0 ]
	reads=$(grep -c '"big", O_RDONLY|O_NOCTTY|O_NOFOLLOW' "$T/open.log")
	tap_check "the file is read for a tar twice (the RUN's layer, the COPY's), not again for the blob ($reads)" \
		[ "$reads" = 2 ]

	# A flush in another thread after the RUN; the commit's own syncfs before any link.
	sed -i 's/seq 1 300001/seq 1 300002/' "$C/Dockerfile"
	traced -f -qq -o "$T/sync.log" -e trace=syncfs,linkat,renameat,sync_file_range "$PLATE" --root "$R" build -q --target out -t out3 "$C" >/dev/null 2>&1
	main=$(grep -m1 'linkat(.*blobs/sha256/' "$T/sync.log" | cut -d' ' -f1)
	order=$(awk -v main="$main" '
		/ syncfs\(/ { if ($1 == main) own = NR; else if (!first_link) other = NR }
		/linkat\(.*blobs\/sha256\// && !first_link { first_link = NR }
		/renameat\(.*"w\.[0-9]+"/ { staged = NR }
		END { print (other > 0 && other < staged) " " (own > staged && own < first_link) }' "$T/sync.log")
	tap_check "the store is flushed in another thread while the later steps run" [ "${order% *}" = 1 ]
	early=$(grep -c 'sync_file_range(' "$T/sync.log")
	tap_check "the writeback of the layers' large files starts as they are hashed, their blob's too ($early)" \
		[ "$early" -ge 3 ]
	tap_check "the commit syncs in its own thread after the last blob is staged, before linking any" \
		[ "${order#* }" = 1 ]

	# The builder changes but not the copied file: the COPY starts copying without waiting
	# for the content digest, which then finds the layer built before; the copy is dropped.
	snaps=$(ls "$R/snapshots" | wc -l)
	sed -i 's/^RUN seq 1 300002 > \/big$/RUN seq 1 300002 > \/big \&\& echo other > \/other/' "$C/Dockerfile"
	traced -f -qq -o "$T/mount.log" -e trace=mount "$PLATE" --root "$R" build --progress plain --target out -t out4 "$C" >"$T/out" 2>&1
	rc=$?
	ck "a builder change that leaves the copied file as it was: the COPY is CACHED by content" \
		bash -c "test $rc = 0 && grep -A1 'COPY --from=builder /big' '$T/out' | grep -q CACHED"
	tap_check "... its copy had started beside the content digest" grep -q 'mount("overlay", "[^"]*-mnt"' "$T/mount.log"
	tap_check "... and is dropped: one new snapshot, the RUN's" [ "$(ls "$R/snapshots" | wc -l)" = $((snaps + 1)) ]
	tap_check "... the image has the layer built before" [ "$(p inspect out4 | jq -r '.[0].RootFS.Layers[0]')" = "$(p inspect out3 | jq -r '.[0].RootFS.Layers[0]')" ]

	# SIGKILL at the background flush (strace counts calls per thread: the first syncfs of
	# any thread), at staging renames and at the links that publish blobs.
	points=0
	ok=0
	for spec in syncfs:1 linkat:1 linkat:2 renameat:1 renameat:2 renameat:3 renameat:4 renameat:5; do
		call=${spec%:*}
		k=${spec#*:}
		rm -rf "$T/k"
		cp -a "$R" "$T/k"
		sed -i "s/^RUN seq.*/RUN seq 1 300000 > \/big \&\& echo $spec >> \/big/" "$C/Dockerfile"
		(traced -f -qq -o /dev/null -e trace=$call -e inject=$call:signal=KILL:when=$k \
			"$PLATE" --root "$T/k" build -q --target out -t killed "$C" >/dev/null 2>&1
		echo $? >"$T/code") 2>/dev/null
		[ "$(cat "$T/code")" = 137 ] || { diag "$spec: not reached"; continue; }
		points=$((points + 1))
		"$PLATE" --root "$T/k" fsck >"$T/fsck" 2>&1 || { diag "$spec: $(cat "$T/fsck")"; continue; }
		a=$("$PLATE" --root "$T/k" build -q --target out -t killed "$C" 2>"$T/out") || { diag "$spec: $(cat "$T/out")"; continue; }
		b=$("$PLATE" --root "$R" build -q --target out -t unkilled "$C" 2>"$T/out")
		[ "$a" = "$b" ] && ok=$((ok + 1)) || diag "$spec: $a after the kill, $b without"
	done
	tap_check "a SIGKILL at each of $points points (the background flush, staging renames, publishing links) leaves fsck clean and the same image after" \
		[ "$points" -ge 7 ] && [ "$ok" = "$points" ]
fi
tap_done
