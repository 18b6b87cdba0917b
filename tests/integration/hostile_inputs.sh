#!/usr/bin/env bash
# Inputs that hang or amplify: a FIFO where a file is read (an image's /etc/passwd and
# /etc/group, a Dockerfile, a .dockerignore), an endless archive, a gzip bomb, a 32 GiB
# sparse file, a megabyte-long line and escape sequences in what is printed.  Each ends
# with a clear error well inside `timeout 20` (a hang is exit 124, never a pass), and a
# refused input leaves the store as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-helpers.bash"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
command -v gzip >/dev/null || tap_skip_all "gzip not installed"
command -v python3 >/dev/null || tap_skip_all "python3 not installed"
make_base

# within CMD...: runs CMD under `timeout 20` with its output in $T/out; ok when it failed
# on its own (not 0, not killed by the timeout).
within() {
	[ "$1" = p ] && set -- "$PLATE" --root "$R" "${@:2}"
	timeout -s KILL 20 "$@" >"$T/out" 2>&1
	rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 137 ]
}
# tp ARGS...: plate on the test's store under `timeout 20`.
tp() { timeout -s KILL 20 "$PLATE" --root "$R" "$@"; }
said() { grep -qF -- "$1" "$T/out"; }
unchanged() {
	[ "$(store_files "$R")" = "$store_before" ] && p fsck >/dev/null && return
	diff <(echo "$store_before") <(store_files "$R") | sed 's/^/# /' | head -20
	return 1
}

# ---- FIFOs where plate reads a file ------------------------------------------------------

# fifo_image NAME FILE...: base:test's tree with a FIFO at each FILE (under /etc).
fifo_image() {
	local name=$1 r=$T/fifo-$1
	shift
	mkdir -p "$r/bin" "$r/etc"
	cp "$PROBE" "$r/bin/probe"
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\n' >"$r/etc/group"
	for f in "$@"; do
		rm -f "$r/etc/$f"
		mkfifo "$r/etc/$f"
	done
	tar -C "$r" --numeric-owner -cf "$T/fifo-$name.tar" .
	p import "$T/fifo-$name.tar" "fifo-$name:t" >/dev/null
}
fifo_image passwd passwd
fifo_image group group

ck "run: a FIFO at /etc/passwd is refused, not waited on" \
	within p run --network none fifo-passwd:t /bin/probe exit 0
ck "  the error names the file" said "'/etc/passwd' is not a regular file"
ck "run -u: a FIFO at /etc/group is refused" \
	within p run --network none -u app fifo-group:t /bin/probe exit 0
ck "  the error names the file" said "'/etc/group' is not a regular file"
mkdir -p "$T/chown"
echo x >"$T/chown/f"
printf 'FROM fifo-passwd:t\nCOPY --chown=app f /f\n' >"$T/chown/Dockerfile"
ck "COPY --chown over a FIFO /etc/passwd fails" within p build --progress plain "$T/chown"
ck "  naming the step and the file" said "COPY --chown=app f /f (Dockerfile:2): --chown=app: '/etc/passwd' is not a regular file"
# (the steps before the failing one keep their cache entries, as in any failed build)
store_before=$(store_files "$R")

mkdir -p "$T/fifodf"
mkfifo "$T/fifodf/Dockerfile"
ck "build: a FIFO Dockerfile is refused" within p build "$T/fifodf"
ck "  naming it" said "'$T/fifodf/Dockerfile' is not a regular file"
ck "plan -f FIFO is refused" within "$PLATE" plan -f "$T/fifodf/Dockerfile" "$T/chown"
mkdir -p "$T/fifoign"
printf 'FROM scratch\n' >"$T/fifoign/Dockerfile"
mkfifo "$T/fifoign/.dockerignore"
ck "build: a FIFO .dockerignore is refused" within p build "$T/fifoign"
ck "  naming it" said "'.dockerignore' is not a regular file"
ck "the store is unchanged by the refused Dockerfile and .dockerignore" unchanged

# ---- archives that never end or expand without bound -----------------------------------

ck "load -i /dev/zero ends" within p load -i /dev/zero
ck "  with a clear error" said "follow the end of the archive"
mkdir -p "$T/fifolayout" "$T/okroot"
echo fine >"$T/okroot/f"
tar -C "$T/okroot" -cf "$T/ok.tar" .
oci_archive "$T/ok.tar" "$T/ok.oci.tar"
tar -C "$T/fifolayout" -xf "$T/ok.oci.tar"
rm "$T/fifolayout/blobs/sha256/$(sha "$T/ok.tar")"
mkfifo "$T/fifolayout/blobs/sha256/$(sha "$T/ok.tar")"
ck "load of an OCI layout whose layer blob is a FIFO ends" within p load -i "$T/fifolayout"
ck "  naming the blob" said "blob 'sha256:$(sha "$T/ok.tar")' is not a regular file"

gzip_bomb "$T/bomb.tar.gz"
# The diffID is never reached: the ratio stops the layer long before its end.
oci_archive "$T/bomb.tar.gz" "$T/bomb.oci.tar" application/vnd.oci.image.layer.v1.tar+gzip \
	"$(printf never | sha256sum | cut -d' ' -f1)"
bomb=sha256:$(sha "$T/bomb.tar.gz")
ck "load: a gzip bomb is refused" within p load -i "$T/bomb.oci.tar"
ck "  naming the layer and the flag" said "layer '$bomb'"
ck "  and why" said "times its compressed size"
ck "  (--max-layer-ratio raises it)" said "--max-layer-ratio"
ck "import: the same bomb is refused" within p import "$T/bomb.tar.gz" bomb:t
ck "  by its ratio" said "times its compressed size"
ck "the store is unchanged" unchanged
mkdir -p "$T/addbomb"
ln "$T/bomb.tar.gz" "$T/addbomb/bomb.tar.gz"
printf 'FROM base:test\nADD bomb.tar.gz /x/\n' >"$T/addbomb/Dockerfile"
ck "build: ADD of the bomb from the context is refused" within p build --progress plain "$T/addbomb"
ck "  by its ratio" said "times its compressed size"
# xz and bzip2 are decompressed before extraction: the limits apply while decoding.
{
	python3 -c '
import sys, tarfile
t = tarfile.TarInfo("zeros"); t.size = 2 << 30
sys.stdout.buffer.write(t.tobuf(format=tarfile.GNU_FORMAT))'
	head -c $((128 << 20)) /dev/zero
} | xz -0 -T2 -c >"$T/addbomb/bomb.tar.xz"
printf 'FROM base:test\nADD bomb.tar.xz /x/\n' >"$T/addbomb/Dockerfile"
ck "build: ADD of an xz bomb is refused while it is decompressed" \
	within p build --progress plain "$T/addbomb"
ck "  by its ratio" said "times its compressed size"
store_before=$(store_files "$R")

# A 32 GiB sparse file with data after the hole: a 10 KiB GNU sparse tar.
mkdir -p "$T/sparse"
truncate -s 32G "$T/sparse/big"
echo tail >>"$T/sparse/big"
echo small >"$T/sparse/small"
tar -C "$T/sparse" --sparse -cf "$T/sparse.tar" .
rm -rf "$T/sparse"
oci_archive "$T/sparse.tar" "$T/sparse.oci.tar"
ck "load: a 32 GiB sparse file is over the default size limit" within p load -i "$T/sparse.oci.tar"
ck "  naming the layer, the entry and the flag" \
	said "layer 'sha256:$(sha "$T/sparse.tar")': entry './big': the layer's files add up to more than 17179869184 bytes (the limit; raise it with --max-layer-size)"
ck "the store is unchanged" unchanged
ck "--max-layer-size 64G lets it in" eval 'tp --max-layer-size 64G load -i "$T/sparse.oci.tar" >"$T/out"'
id=$(sed -n 's/^Loaded image ID: //p' "$T/out")
ck "du of the sparse image ends (holes are not read)" eval 'tp du "$id" >"$T/out" 2>&1'
ck "  and shows the file" said "/big"
ck "fsck of the sparse image ends, clean" eval 'tp fsck >/dev/null'
big=$(find "$R/snapshots" -path '*/fs/big')
printf x | as_owner dd of="$big" bs=1 seek=$((1 << 30)) conv=notrunc 2>/dev/null
ck "fsck still sees a byte written into the hole" eval '! tp fsck >"$T/out" 2>&1 && said "content differs"'
printf '\0' | as_owner dd of="$big" bs=1 seek=$((1 << 30)) conv=notrunc 2>/dev/null
ck "  and a zero written back there is clean" eval 'tp fsck >/dev/null'
ck "PLATE_MAX_LAYER_SIZE is read too" eval \
	'PLATE_MAX_LAYER_SIZE=64GiB timeout 20 "$PLATE" --root "$T/root2" load -q -i "$T/sparse.oci.tar"'
store_before=$(store_files "$R")

mkdir -p "$T/many"
for i in $(seq 20); do : >"$T/many/f$i"; done
tar -C "$T/many" -cf "$T/many.tar" .
ck "--max-layer-entries refuses a layer with more entries" \
	within p --max-layer-entries 10 import "$T/many.tar" many:t
ck "  saying so" said "more than 10 entries"
ck "a bad limit is a usage error" eval '"$PLATE" --max-layer-size lots images >/dev/null 2>&1; [ $? = 2 ]'
ck "the store is unchanged" unchanged

# ---- what is printed ---------------------------------------------------------------------

python3 -c 'print("FROM scratch\nRUNX " + "a" * 1000000)' >"$T/long.Dockerfile"
ck "a 1 MB line in an error" within "$PLATE" plan -f "$T/long.Dockerfile" "$T/chown"
ck "  is cut: the output stays small" test "$(wc -c <"$T/out")" -lt 2000
ck "  with an ellipsis" said "…"
ck "  and the location" said "long.Dockerfile:2:1: error: unknown instruction"

esc=$(printf '\033]0;pwned\a\033[2J')
mkdir -p "$T/esc"
# No '[' in the missing name: a wildcard that matches nothing is not an error (BuildKit).
printf 'FROM scratch\nCOPY "%s" /\n' "$(printf '\033]0;pwned\a\033c')" >"$T/esc/Dockerfile"
ck "an error naming a file with escape sequences" within p build --progress plain "$T/esc"
ck "  shows them escaped" said '\x1b]0;pwned\x07\x1bc'
ck "  and never prints ESC or BEL raw" eval '! grep -q "$(printf "[\033\a]")" "$T/out"'
mkdir -p "$T/escroot"
printf x >"$T/escroot/evil$esc"
tar -C "$T/escroot" -cf "$T/esc.tar" .
p import "$T/esc.tar" esc:t >/dev/null
p du esc:t >"$T/out" 2>&1
ck "du shows a file name's escape sequences escaped" said '/evil\x1b]0;pwned\x07\x1b[2J'
ck "  never raw" eval '! grep -q "$(printf "[\033\a]")" "$T/out"'

mkdir -p "$T/ign"
printf 'FROM scratch\nCOPY . /\n' >"$T/ign/Dockerfile"
printf 'ok\nab\0c\n' >"$T/ign/.dockerignore"
ck "a .dockerignore error" within p build "$T/ign"
ck "  is located in the .dockerignore" said ".dockerignore:2:3: NUL byte in pattern"
ck "  not in the Dockerfile" eval '! grep -q "Dockerfile:" "$T/out"'

# ---- stopping a command that waits -------------------------------------------------------

mkfifo "$T/stall"
# (plate itself in the background, not the p function's subshell: $! must be plate)
"$PLATE" --root "$R" load <"$T/stall" >"$T/out" 2>&1 &
pid=$!
exec 9>"$T/stall" # a writer that never writes: load waits for the archive
sleep 0.5
kill -TERM "$pid"
timeout -s KILL 20 tail --pid="$pid" -f /dev/null
wait "$pid"
rc=$?
exec 9>&-
ck "SIGTERM stops a load waiting on its input" test "$rc" -gt 128 -a "$rc" != 137
ck "  and the store is sound" eval 'p fsck >/dev/null'

mkdir -p "$T/sleep"
printf 'FROM base:test\nRUN sleep 4321\n' >"$T/sleep/Dockerfile"
images_before=$(p images -q --no-trunc)
"$PLATE" --root "$R" build --progress plain "$T/sleep" >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "RUN sleep" "$T/out" && break; sleep 0.1; done
kill -TERM "$pid"
timeout -s KILL 20 tail --pid="$pid" -f /dev/null
wait "$pid"
rc=$?
ck "SIGTERM stops a build in RUN" test "$rc" != 0 -a "$rc" != 137
ck "  and its sandbox" eval '! pgrep -f "^sleep 4321$" >/dev/null'
ck "  with no image made and the store sound" \
	eval '[ "$(p images -q --no-trunc)" = "$images_before" ] && p fsck >/dev/null'

tap_done
