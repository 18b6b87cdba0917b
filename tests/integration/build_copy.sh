#!/usr/bin/env bash
# COPY and ADD: destination rules, flags (--chown --chmod --link --exclude --parents
# --from), globs, .dockerignore, symlinks, ADD of local archives and of URLs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
command -v python3 >/dev/null || tap_skip_all "python3 not installed"
make_base

C=$T/ctx
mkdir -p "$C/dir/sub" "$C/src/a/b" "$C/ignored-dir" "$C/arch"
echo a >"$C/a.txt"
echo b >"$C/b.txt"
echo c >"$C/c.md"
echo in-dir >"$C/dir/file"
echo deep >"$C/dir/sub/deep"
chmod 0750 "$C/dir/sub"
chmod 0755 "$C/dir/file"
echo nested >"$C/src/a/b/n.go"
echo keepme >"$C/ignored-dir/keep"
echo drop >"$C/ignored-dir/drop"
echo secret >"$C/.env"
ln -s a.txt "$C/link-to-a"
ln -s file "$C/dir/link"
mkdir -p "$T/tarsrc/pkg"
echo packed >"$T/tarsrc/pkg/inside"
tar -C "$T/tarsrc" -czf "$C/arch/pkg.tar.gz" pkg
printf '.env\nignored-dir\n!ignored-dir/keep\n*.log\n' >"$C/.dockerignore"
echo log >"$C/x.log"

cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS other
RUN mkdir -p /out && echo from-stage > /out/f && chown 1000:1001 /out/f && chmod 0640 /out/f

FROM base:test
RUN mkdir /existing
COPY a.txt /file-dest
COPY a.txt /dir-dest/
COPY a.txt /existing
COPY dir /contents
COPY *.txt /glob/
COPY a.txt b.txt /two/
COPY --chown=app:staff a.txt /owned-names
COPY --chown=1234:5678 dir /owned-numbers
COPY --chmod=0700 b.txt /moded
COPY --link c.md /linked/
COPY --exclude=*.md --exclude=dir . /ctx/
COPY --parents src/a/b/n.go /parents/
COPY --parents src/./a/b/n.go /pivot/
COPY link-to-a /links/
COPY --from=other /out/f /from-stage
COPY --from=base:test /etc/group /from-image
ADD arch/pkg.tar.gz /unpacked/
ADD a.txt /added
WORKDIR /w
COPY a.txt .
COPY a.txt rel/
EOF
build "$C" -t copies
ck "a build with every kind of COPY succeeds" test "$rc" = 0
r() { p run --network none copies "$@" 2>&1; }
ck "COPY file /path: the file is written at the path" test "$(r probe type /file-dest)" = file
ck "COPY file /dir/: into the directory" test "$(r cat /dir-dest/a.txt)" = a
ck "COPY file /existing-dir: into it" test "$(r cat /existing/a.txt)" = a
ck "COPY dir /x: the directory's contents" test "$(r probe ls /contents)" = "file
link
sub"
ck "... keeping modes" test "$(r probe mode /contents/sub , mode /contents/file)" = "0750
0755"
ck "... owned by root" test "$(r probe owner /contents/file)" = 0:0
ck "COPY *.txt: wildcards" test "$(r probe ls /glob)" = "a.txt
b.txt"
ck "COPY a b dir/: several sources" test "$(r probe ls /two)" = "a.txt
b.txt"
ck "--chown with names from /etc/passwd and /etc/group" test "$(r probe owner /owned-names)" = 1000:1001
ck "--chown with numbers, on every file and directory" test "$(r probe owner /owned-numbers , owner /owned-numbers/sub/deep)" = "1234:5678
1234:5678"
ck "--chmod" test "$(r probe mode /moded)" = 0700
ck "--link" test "$(r cat /linked/c.md)" = c
ck "--exclude" bash -c "'$PLATE' --root '$R' run --network none copies probe ls /ctx | tr '\n' ' ' | grep -qx '.dockerignore Dockerfile a.txt arch b.txt ignored-dir link-to-a src '"
ck ".dockerignore keeps files out, an exception brings one back" test "$(r probe ls /ctx/ignored-dir)" = keep
ck ".dockerignore: .env and *.log never reach the image" bash -c "! '$PLATE' --root '$R' run --network none copies probe ls /ctx | grep -qE '^(.env|x.log)$'"
ck "--parents keeps the source path" test "$(r cat /parents/src/a/b/n.go)" = nested
ck "--parents with a /./ pivot keeps what follows it" test "$(r cat /pivot/a/b/n.go)" = nested
ck "a symlink named as the source is followed" test "$(r probe type /links/link-to-a , cat /links/link-to-a)" = "file
a"
ck "a symlink inside a copied directory stays a symlink" test "$(r probe readlink /contents/link)" = file
ck "COPY --from=stage keeps owners and modes" test "$(r probe owner /from-stage , mode /from-stage)" = "1000:1001
0640"
ck "COPY --from=image" bash -c "'$PLATE' --root '$R' run --network none copies cat /from-image | grep -q '^staff:x:1001:app'"
ck "ADD unpacks a local tar.gz" test "$(r cat /unpacked/pkg/inside)" = packed
ck "ADD of a plain file copies it" test "$(r cat /added)" = a
ck "COPY a.txt . is relative to WORKDIR" test "$(r cat /w/a.txt)" = a
ck "COPY a.txt rel/ creates the directory under WORKDIR" test "$(r cat /w/rel/a.txt)" = a

skopeo inspect --config "oci:$R:docker.io/library/copies:latest" >"$T/copies.json" 2>/dev/null
ck "history: COPY lines as BuildKit writes them (no flags)" bash -c "jq -r '.history[].created_by' '$T/copies.json' | grep -qx 'COPY /out/f /from-stage # buildkit' && jq -r '.history[].created_by' '$T/copies.json' | grep -qx 'ADD arch/pkg.tar.gz /unpacked/ # buildkit'"
build "$C" -t copies
ck "a rebuild is all cached" grep -q '(11 steps, 11 cached)\|cached)' "$T/out"
ck "... every COPY shown CACHED" test "$(grep -c CACHED "$T/out")" -ge 20

# ---- refused forms ----------------------------------------------------------------------
C2=$T/ctx2
mkdir -p "$C2"
cp "$C/a.txt" "$C/b.txt" "$C2/"
printf 'FROM base:test\nCOPY --chown=nosuchuser a.txt /x\n' >"$C2/Dockerfile"
build "$C2"
ck "--chown with an unknown user fails" bash -c "test $rc = 1 && grep -q 'unable to find user nosuchuser' '$T/out'"
printf 'FROM base:test\nCOPY --chmod=rwx a.txt /x\n' >"$C2/Dockerfile"
build "$C2"
ck "--chmod must be octal (a Dockerfile error, located)" \
	bash -c "test $rc = 2 && grep -q 'Dockerfile:2:1: error: invalid --chmod' '$T/out'"
printf 'FROM base:test\nCOPY .env /x\n' >"$C2/Dockerfile"
printf '.env\n' >"$C2/.dockerignore"
echo s >"$C2/.env"
build "$C2"
ck "COPY of an ignored file fails as not found" bash -c "test $rc = 1 && grep -q \"'.env' not found in the build context (or excluded by .dockerignore)\" '$T/out'"

# ---- ADD <url> ----------------------------------------------------------------------------
mkdir -p "$T/www"
echo served >"$T/www/payload.txt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; rm_tmp' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/payload.txt" >/dev/null 2>&1 && break; sleep 0.1; done
sum=$(sha256sum "$T/www/payload.txt" | cut -d' ' -f1)
rm -f "$C2/.dockerignore"
cat >"$C2/Dockerfile" <<EOF
FROM base:test
ADD http://127.0.0.1:$port/payload.txt /dl/
ADD --checksum=sha256:$sum http://127.0.0.1:$port/payload.txt /checked
EOF
build "$C2" -t urls
ck "ADD <url> downloads" test "$(p run --network none urls cat /dl/payload.txt)" = served
ck "... named after the URL, mode 0600" test "$(p run --network none urls probe mode /dl/payload.txt)" = 0600
ck "ADD --checksum verifies the download" test "$(p run --network none urls cat /checked)" = served
build "$C2" -t urls
ck "ADD <url> of unchanged content is cached" test "$(grep -c CACHED "$T/out")" = 2
echo changed >"$T/www/payload.txt"
build "$C2" -t urls
ck "ADD --checksum of a URL whose content changed fails on a cache miss" bash -c "test $rc = 1 && grep -q 'checksum of' '$T/out'"
printf 'FROM base:test\nADD http://127.0.0.1:%s/missing /x\n' "$port" >"$C2/Dockerfile"
build "$C2"
ck "ADD of a missing URL fails with the HTTP status" bash -c "test $rc = 1 && grep -q 'HTTP status 404' '$T/out'"
# COPY --from=<index>: a stage by its number.
C3=$T/ctx-index
mkdir -p "$C3"
cat >"$C3/Dockerfile" <<'EOF'
FROM base:test
RUN echo by-index > /idx
FROM base:test
COPY --from=0 /idx /copied-idx
EOF
build "$C3" -t by-index
ck "COPY --from=<stage index>" test "$(p run --network none by-index cat /copied-idx)" = by-index
ck "the store is sound" p fsck
tap_done
