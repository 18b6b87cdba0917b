#!/usr/bin/env bash
# plate push and pull progress against a real docker-registry: a line per blob in plain
# (what moved, its size, time and rate; what was already there), bars with bytes and rate on
# a terminal; and RepoDigests, the digest the registry gave, once per repository.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry python3 jq

start_registry reg || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
S1=$T/s1
S2=$T/s2
S3=$T/s3

# An image with a 4 MiB layer that gzip cannot shrink: the transfer takes many writes.
mkdir -p "$T/fs"
head -c 4194304 /dev/urandom >"$T/fs/noise"
tar -C "$T/fs" --numeric-owner -cf "$T/fs.tar" .
"$PLATE" --root "$S1" import "$T/fs.tar" app:1 >/dev/null
layer=$("$PLATE" --root "$S1" inspect -f '{{.Descriptor.digest}}' app:1 >/dev/null &&
	jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/app:1") | .digest' "$S1/index.json" |
	cut -d: -f2 | xargs -I{} jq -r '.layers[0].digest' "$S1/blobs/sha256/{}")
short=${layer:0:19}

# ---- plain --------------------------------------------------------------------------------
"$PLATE" --root "$S1" push app:1 "$R/pl/app:1" >"$T/push.out" 2>"$T/push.err"
tap_check "push succeeds" test $? = 0
tap_like "push: a line for the uploaded layer with its size, time and rate" \
	"^uploaded $short 4\.0 MiB in [0-9]+\.[0-9]s \([0-9.]+ (KiB|MiB)/s\)$" "$T/push.err"
tap_check "push: a line per blob (config and layer)" test "$(grep -cE '^uploaded sha256:' "$T/push.err")" = 2
tap_check "push: no terminal codes in plain" bash -c "! grep -q $'\x1b' '$T/push.err'"
"$PLATE" --root "$S1" push app:1 "$R/pl/app:1" >/dev/null 2>"$T/push2.err"
tap_like "push again: the registry has the layer" "^exists $short 4\.0 MiB$" "$T/push2.err"

"$PLATE" --root "$S2" pull "$R/pl/app:1" >"$T/pull.out" 2>"$T/pull.err"
tap_check "pull succeeds" test $? = 0
tap_like "pull: a line for the fetched layer with its size, time and rate" \
	"^fetched $short 4\.0 MiB in [0-9]+\.[0-9]s \([0-9.]+ (KiB|MiB)/s\)$" "$T/pull.err"
tap_check "pull: a line per blob (config and layer)" test "$(grep -cE '^fetched sha256:' "$T/pull.err")" = 2
"$PLATE" --root "$S2" pull "$R/pl/app:1" >/dev/null 2>"$T/pull2.err"
tap_like "pull again: the store has the layer" "^present $short 4\.0 MiB$" "$T/pull2.err"

# ---- RepoDigests --------------------------------------------------------------------------
digest=$(sed -n 's/^digest: //p' "$T/pull.err")
tap_check "RepoDigests: the digest the registry gave, under its repository" \
	test "$("$PLATE" --root "$S2" inspect -f '{{json .RepoDigests}}' "$R/pl/app:1")" = "[\"$R/pl/app@$digest\"]"
"$PLATE" --root "$S2" tag "$R/pl/app:1" mine:2
"$PLATE" --root "$S2" pull "$R/pl/app:1" >/dev/null 2>&1
tap_check "RepoDigests: each once, whatever the local tags and pulls" \
	test "$("$PLATE" --root "$S2" inspect -f '{{json .RepoDigests}}' mine:2)" = "[\"$R/pl/app@$digest\"]"
tap_check "a built or imported image has none" \
	test "$("$PLATE" --root "$S1" inspect -f '{{len .RepoDigests}}' app:1)" = 0

# ---- tty ----------------------------------------------------------------------------------
TERM=xterm python3 "$PLATE_SRC/tests/helpers/on_pty.py" "$T/tty.raw" "$PLATE" --root "$S3" pull "$R/pl/app:1"
tap_check "pull on a terminal succeeds" test $? = 0
tr -d '\r' <"$T/tty.raw" | sed -e 's/\x1b\[[0-9]*A/\n/g' -e 's/\x1b\[2K//g' >"$T/tty.txt"
tap_like "tty: a bar with bytes, total and rate" \
	"^$short \[=*>? *\] [0-9.]+ (KiB|MiB) / 4\.0 MiB  [0-9.]+ (KiB|MiB)/s$" "$T/tty.txt"
tap_like "tty: the blob's line once it is done" "^fetched $short 4\.0 MiB in " "$T/tty.txt"

tap_done
