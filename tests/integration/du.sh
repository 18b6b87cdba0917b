#!/usr/bin/env bash
# plate du: an image with the `RUN chown -R` bloat (every file copied up into a new layer)
# and a deleted file shows the wasted bytes exactly, in the text and JSON outputs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
make_base

mkdir -p "$T/ctx"
head -c 100000 /dev/zero | tr '\0' 'a' >"$T/ctx/big.bin"
printf '0123456789' >"$T/ctx/small.txt"
head -c 5000 /dev/zero | tr '\0' 'j' >"$T/ctx/junk.bin"
cat >"$T/ctx/Dockerfile" <<'DF'
FROM base:test
COPY big.bin /data/big.bin
COPY small.txt /data/small.txt
RUN chown -R 1000:1000 /data
RUN rm /data/small.txt
COPY junk.bin /tmp/junk.bin
RUN rm /tmp/junk.bin && echo hi >/data/new.txt
DF
build "$T/ctx" -t bloat
ck "the image builds" test "$rc" = 0

p du --format json bloat >"$T/du.json" 2>"$T/err"
ck "du --format json works" jq -e . "$T/du.json" >/dev/null || diag "$(cat "$T/err")"
j() { jq -c "$1" "$T/du.json"; }
ck "seven layers (base + 6)" test "$(j '.layers | length')" = 7
ck "layer 2 (COPY big.bin) wastes its 100000 bytes" test "$(j '.layers[1] | [.wasted_files, .wasted_bytes, .content_bytes]')" = '[1,100000,100000]'
ck "layer 3 (COPY small.txt) wastes 10 bytes" test "$(j '.layers[2] | [.wasted_files, .wasted_bytes]')" = '[1,10]'
ck "layer 4 (chown -R) wastes the copy of small.txt that is removed later" \
	test "$(j '.layers[3] | [.wasted_files, .wasted_bytes, .content_bytes]')" = '[1,10,100010]'
ck "layer 6 (COPY junk.bin) wastes 5000 bytes" test "$(j '.layers[5] | [.wasted_files, .wasted_bytes]')" = '[1,5000]'
ck "the base and the last layer waste nothing" test "$(j '[.layers[0].wasted_bytes, .layers[6].wasted_bytes]')" = '[0,0]'
ck "history lines name the layers" test "$(j '.layers[3].created_by')" = '"RUN /bin/sh -c chown -R 1000:1000 /data # buildkit"'
ck "total waste is 105020 bytes in 4 files" test "$(j '.total | [.wasted_bytes, .wasted_files]')" = '[105020,4]'
ck "layer sizes are the blobs' sizes" test "$(j '[.layers[].size] | add')" = "$(j '.total.size')"
ck "uncompressed sizes are the tars' sizes" bash -c "[ \$(jq '.layers[1].uncompressed_size' '$T/du.json') -gt 100000 ]"
ck "the largest file of the final image is /bin/busybox" test "$(j '.largest[0] | [.path, .layer]')" = '["/bin/busybox",1]'
ck "big.bin is in the final image from layer 4" bash -c \
	"jq -e '.largest[] | select(.path == \"/data/big.bin\" and .layer == 4 and .size == 100000)' '$T/du.json' >/dev/null"
ck "wasted list: big.bin overwritten in layer 4" test \
	"$(j '[.wasted[] | select(.path == "/data/big.bin")] | .[0] | [.layer, .reason, .by_layer, .size]')" = '[2,"overwritten",4,100000]'
ck "wasted list: junk.bin deleted in layer 7" test \
	"$(j '[.wasted[] | select(.path == "/tmp/junk.bin")] | .[0] | [.layer, .reason, .by_layer]')" = '[6,"deleted",7]'
ck "wasted list: small.txt of layer 4 deleted in layer 5" test \
	"$(j '[.wasted[] | select(.path == "/data/small.txt" and .layer == 4)] | .[0] | [.reason, .by_layer]')" = '["deleted",5]'
ck "duplicates: big.bin in layers 2 and 4, same content" test \
	"$(j '.duplicates[] | select(.path == "/data/big.bin") | [.layers, .same_content, .wasted_bytes]')" = '[[2,4],true,100000]'
ck "duplicates: small.txt, both copies wasted" test \
	"$(j '.duplicates[] | select(.path == "/data/small.txt") | [.layers, .wasted_bytes]')" = '[[3,4],20]'
ck "the final image's files" test "$(j '.total | [.final_bytes >= 100003, .duplicates]')" = '[true,2]'

p du bloat >"$T/du.txt" 2>"$T/err"
ck "text output" test -s "$T/du.txt" || diag "$(cat "$T/err")"
ck "... human sizes per layer" grep -qE '^2 +[0-9.]+(B|kB) +[0-9.]+kB +[0-9]+ +100kB +COPY big.bin /data/big.bin' "$T/du.txt" || diag "$(cat "$T/du.txt")"
ck "... the total waste" grep -q '^wasted: 105kB in 4 files' "$T/du.txt"
ck "... duplicated across layers" grep -qE '^100kB +2,4 +same +/data/big.bin' "$T/du.txt"
ck "... wasted files with the reason" grep -qE '^5kB +6 +deleted in layer 7 +/tmp/junk.bin' "$T/du.txt"
ck "--top 1 cuts the lists" test "$(p du --format json --top 1 bloat | jq -c '[(.largest | length), (.wasted | length), (.duplicates | length), .total.duplicates]')" = '[1,1,1,2]'
p du --format yaml bloat >/dev/null 2>&1
ck "a bad --format is a usage error (2)" test $? = 2
p du nosuch >/dev/null 2>&1
ck "an unknown image fails (1)" test $? = 1
tap_done
