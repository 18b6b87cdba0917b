#!/usr/bin/env bash
# Reproducible by default (DESIGN.md): the example service (examples/go-service) built twice,
# in two fresh stores, the second one days later by the wall clock (libfaketime) from a
# context whose files have other mtimes, gives the same manifest, config and layer digests,
# and the same snapshots (the builder stage's layers too, but for Go's build cache).  Then
# SOURCE_DATE_EPOCH, on a small image (two more builds of the example would double the
# test's time): files get the epoch as mtime when they are newer, a store warmed at epoch
# 0 does not reuse those layers (the epoch is part of the cache keys) and builds what a
# fresh store builds days later.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
[ -x /usr/lib/go-1.19/bin/go ] || tap_skip_all "golang-1.19-go not installed"
command -v faketime >/dev/null || tap_skip_all "faketime not installed"

S1=$T/store1
S2=$T/store2
GO_ARG=(--build-arg GO_IMAGE=golang:1.19-local)
# Only plate's own clock moves: the faked clock is not handed to the processes of RUN
# (the sandbox sets their environment), and the kernel dates what they write.
# NO_FAKE_STAT: libfaketime would otherwise shift the mtimes plate reads with stat() (and
# sets with utimensat()), which is not a clock but a file system that lies.
# verify_asan_link_order=0: under `make check SANITIZE=1` libfaketime is preloaded before
# the ASan runtime, which ASan refuses by default (harmless for this test).
LATER=(env NO_FAKE_STAT=1 "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" faketime -f +3d)

# digests STORE REF: the manifest digest, then the config and layer digests it names, read
# from the store's OCI layout with jq (not through plate).
digests() {
	local m
	m=$(jq -r --arg r "docker.io/library/$2:latest" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$1/index.json")
	[ -n "$m" ] || return 1
	echo "$m"
	jq -r '.config.digest, .layers[].digest' "$1/blobs/sha256/${m#sha256:}"
}
# pbuild STORE OUT ARGS...: plate build --progress plain into OUT; status in $rc.
pbuild() {
	local s=$1 out=$2
	shift 2
	"$PLATE" --root "$s" build --progress plain "$@" >"$out" 2>&1
	rc=$?
}
# tchk NAME CMD...: tap_check, failing itself when the check failed (for `|| diag`).
tchk() {
	local before=$_tap_failed
	tap_check "$@"
	[ "$_tap_failed" = "$before" ]
}
same() { [ -n "$(cat "$1")" ] && cmp -s "$1" "$2"; }
show() { diag "$(cat "$@")"; }

for s in "$S1" "$S2"; do
	PLATE=$PLATE PLATE_ROOT=$s "$PLATE_SRC/scripts/make-builder-base.sh" >"$T/base.log" 2>&1 ||
		{ show "$T/base.log"; tap_skip_all "scripts/make-builder-base.sh failed"; }
done
cp -r "$PLATE_SRC/examples/go-service" "$T/ctx1"
cp -r "$PLATE_SRC/examples/go-service" "$T/ctx2"
touch -d '10 days ago' "$T/ctx2"/*
touch -d '3 days ago' "$T/ctx2"

# Epoch 0.
pbuild "$S1" "$T/b1" "${GO_ARG[@]}" -t demo "$T/ctx1"
tchk "the first build succeeds" test "$rc" = 0 || show "$T/b1"
"${LATER[@]}" "$PLATE" --root "$S2" build --progress plain "${GO_ARG[@]}" -t demo "$T/ctx2" >"$T/b2" 2>&1
tchk "the second build (clock +3 days, older context mtimes) succeeds" test $? = 0 || show "$T/b2"
ck "... ran every step (a fresh store)" grep -q '(7 steps, 0 cached)' "$T/b2"
digests "$S1" demo >"$T/d1"
digests "$S2" demo >"$T/d2"
tchk "manifest, config and layer digests are equal" same "$T/d1" "$T/d2" || diag "$(paste "$T/d1" "$T/d2")"
ck "the image has two layers" test "$(wc -l <"$T/d1")" = 4
# Go's build cache (GOCACHE=/tmp/gocache in the builder base, so in the layer of `go build`)
# stamps its entries with the time they were used: that layer differs under /tmp/gocache
# and nowhere else.  It is Go's, not plate's, and never reaches the final image (a cache
# mount for GOCACHE keeps it out of the layer).
ls "$S1/snapshots" >"$T/s1"
ls "$S2/snapshots" >"$T/s2"
only1=$(comm -23 "$T/s1" "$T/s2")
only2=$(comm -13 "$T/s1" "$T/s2")
tchk "every snapshot but the go build's is the same" test "$(echo "$only1" | wc -w)-$(echo "$only2" | wc -w)" = 1-1 ||
	diag "$(diff "$T/s1" "$T/s2")"
tchk "... which differs only in Go's build cache" \
	diff -rq --exclude=gocache "$S1/snapshots/$only1/fs" "$S2/snapshots/$only2/fs"
ck "config and history dates are the epoch" bash -c \
	"'$PLATE' --root '$S1' inspect demo | jq -e '.[0].Created == \"1970-01-01T00:00:00Z\"' >/dev/null"

# A small image: mtimes in the layer, and an epoch change in a warm store.
make_base
mkdir -p "$T/small"
echo hello >"$T/small/a.txt"
touch -d '2020-01-02 03:04:05Z' "$T/small/a.txt"
printf 'FROM base:test\nCOPY a.txt /a.txt\nRUN echo x >/b.txt\n' >"$T/small/Dockerfile"
build "$T/small" -t small
ck "small image at epoch 0" test "$rc" = 0
top=$(p save --format oci -o "$T/small.tar" small >/dev/null && mkdir -p "$T/sl" && tar -C "$T/sl" -xf "$T/small.tar" &&
	jq -r '.manifests[0].digest' "$T/sl/index.json" | cut -d: -f2)
lay=$(jq -r '.layers[-2].digest' "$T/sl/blobs/sha256/$top" | cut -d: -f2)
tchk "the COPY layer's file is dated 0" bash -c "TZ=UTC tar --full-time -tvf '$T/sl/blobs/sha256/$lay' | grep -q '1970-01-01 00:00:00 a.txt'" ||
	diag "$(tar --full-time -tvf "$T/sl/blobs/sha256/$lay")"
SOURCE_DATE_EPOCH=1700000000 pbuild "$R" "$T/out" -t small-sde "$T/small"
ck "the warm store rebuilds both steps under another epoch" grep -q '(2 steps, 0 cached)' "$T/out" || show "$T/out"
R2=$T/root2
mv "$R" "$R2"
make_base
SOURCE_DATE_EPOCH=1700000000 "${LATER[@]}" "$PLATE" --root "$R" build -q -t small-sde "$T/small" >/dev/null 2>"$T/out"
digests "$R2" small-sde >"$T/d5"
digests "$R" small-sde >"$T/d6"
tchk "... and gives what a fresh store builds" same "$T/d5" "$T/d6" || diag "$(paste "$T/d5" "$T/d6")"
rm -rf "$T/sl"
p save --format oci -o "$T/small.tar" small-sde >/dev/null && mkdir -p "$T/sl" && tar -C "$T/sl" -xf "$T/small.tar"
top=$(jq -r '.manifests[0].digest' "$T/sl/index.json" | cut -d: -f2)
lay=$(jq -r '.layers[-2].digest' "$T/sl/blobs/sha256/$top" | cut -d: -f2)
tchk "a file older than SOURCE_DATE_EPOCH keeps its mtime" bash -c \
	"TZ=UTC tar --full-time -tvf '$T/sl/blobs/sha256/$lay' | grep -q '2020-01-02 03:04:05 a.txt'" ||
	diag "$(TZ=UTC tar --full-time -tvf "$T/sl/blobs/sha256/$lay")"
lay=$(jq -r '.layers[-1].digest' "$T/sl/blobs/sha256/$top" | cut -d: -f2)
tchk "a file written by RUN is dated SOURCE_DATE_EPOCH" bash -c \
	"TZ=UTC tar --full-time -tvf '$T/sl/blobs/sha256/$lay' | grep -q '2023-11-14 22:13:20 b.txt'" ||
	diag "$(TZ=UTC tar --full-time -tvf "$T/sl/blobs/sha256/$lay")"
ck "the stores are sound" bash -c "'$PLATE' --root '$S1' fsck >/dev/null && '$PLATE' --root '$S2' fsck >/dev/null && '$PLATE' --root '$R' fsck >/dev/null"
tap_done
