#!/usr/bin/env bash
# COPY and ADD where plate once differed from BuildKit (issue 12 items 1-6, 9, 10): hardlink
# groups, wildcards in a middle component, wildcards that match nothing, --chown=UID,
# ADD's archive detection and --chown of unpacked entries, --exclude relative to each
# source, several sources onto a destination that is not a directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/build-helpers.bash"
build_prereqs
for t in xz bzip2 gzip; do
	command -v $t >/dev/null || tap_skip_all "$t not installed"
done
make_base
r() { p run --network none "$img" "$@" 2>&1; }
# one CONTEXT NAME LINE...: builds "FROM base:test" + LINEs as image NAME (so that each
# divergence is shown by a build of its own), and makes it the image r runs.
one() {
	local ctx=$1 name=$2
	shift 2
	printf 'FROM base:test\n' >"$ctx/$name.Dockerfile"
	printf '%s\n' "$@" >>"$ctx/$name.Dockerfile"
	build "$ctx" -f "$ctx/$name.Dockerfile" -t "$name"
	img=$name
}

# ---- 1: hardlinks inside a copied tree -------------------------------------------------
C=$T/links
mkdir -p "$C/tree/sub"
echo x >"$C/tree/f"
ln "$C/tree/f" "$C/tree/sub/g"
ln "$C/tree/f" "$C/tree/h"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test AS b
RUN mkdir -p /t/s && echo y > /t/f && ln /t/f /t/s/g
FROM base:test
COPY tree /tree/
COPY --from=b /t /t/
EOF
build "$C" -t links
img=links
ck "COPY keeps a hardlink group of the context (one inode, three names)" \
	test "$(r stat -c '%h %i' /tree/f /tree/sub/g /tree/h | sort -u | wc -l) $(r stat -c %h /tree/f)" = "1 3"
ck "COPY --from keeps a hardlink group of the stage" \
	test "$(r stat -c '%h %i' /t/f /t/s/g | sort -u | wc -l) $(r stat -c %h /t/f)" = "1 2"
rm "$C/tree/h"
echo x >"$C/tree/h"
build "$C" -t links
ck "breaking a link in the context misses the cache (the group is in the key)" \
	bash -c "test $rc = 0 && grep -A1 'COPY tree /tree/' '$T/out' | grep -q 'CACHE MISS'"
ck "... and the image has two names for f, one for h" \
	test "$(r stat -c %h /tree/f /tree/h | tr '\n' ' ')" = "2 1 "

# ---- 2, 3: wildcards ------------------------------------------------------------------------
C=$T/wild
mkdir -p "$C/dir/x" "$C/dir/y" "$C/a" "$C/b"
echo bx >"$C/dir/x/b.txt"
echo hidden >"$C/dir/.hidden"
echo ac >"$C/a/c.txt"
echo '{}' >"$C/package.json"
one "$C" mid 'COPY dir/*/b.txt /mid/'
ck "a wildcard in a middle component copies the matches that have the rest of the path" \
	test "$(r cat /mid/b.txt)" = bx
one "$C" par 'COPY --parents */c.txt /par/'
ck "--parents with a middle wildcard keeps the matching path, skips the others" \
	test "$(r cat /par/a/c.txt) $(r probe exists /par/b)" = "ac no"
one "$C" yarn 'WORKDIR /app' 'COPY package.json yarn.lock* ./'
ck "a wildcard source matching nothing beside one that matches" \
	test "$(r probe ls /app)" = package.json
one "$C" none 'COPY *.nothing /none/'
ck "a wildcard matching nothing at all copies nothing (no destination made)" \
	bash -c "test $rc = 0 && test \"\$('$PLATE' --root '$R' run --network none none probe exists /none)\" = no"
one "$C" parnone 'COPY --parents nothing*/c.txt /parnone/'
ck "--parents with nothing matched still makes the destination directory" \
	test "$(r probe type /parnone)" = dir
printf 'FROM base:test\nCOPY nodir/*.txt /x/\n' >"$C/Dockerfile"
build "$C"
ck "a wildcard under a directory that does not exist fails, naming it" \
	bash -c "test $rc = 1 && grep -q \"'nodir' not found in the build context\" '$T/out'"

# ---- 4, 10: --chown=UID, several sources onto a non-directory ------------------------------
C=$T/own
mkdir -p "$C/d1" "$C/d2"
echo a >"$C/a.txt"
echo b >"$C/b.txt"
echo 1 >"$C/d1/one"
echo 2 >"$C/d2/two"
one "$C" uid 'COPY --chown=4242 a.txt /uid-only' 'COPY --chown=app a.txt /by-name'
ck "--chown=UID: the uid is the gid too" test "$(r probe owner /uid-only)" = 4242:4242
ck "--chown=NAME: the user's primary group" test "$(r probe owner /by-name)" = 1000:1000
one "$C" notadir 'COPY a.txt b.txt /notadir'
ck "COPY a b /notadir: each source onto the destination, the last one stays" \
	test "$(r probe type /notadir) $(r cat /notadir)" = "file b"
one "$C" globfile 'COPY *.txt /globfile'
ck "... the same for the matches of a wildcard" test "$(r cat /globfile)" = b
one "$C" merged 'COPY d1 d2 /merged' 'COPY d1 a.txt /dir-then-file'
ck "two directories: their contents merged into the destination" \
	test "$(r probe ls /merged | tr '\n' ' ')" = "one two "
ck "a file after a directory goes into it" test "$(r cat /dir-then-file/a.txt)" = a

# ---- 5, 9: ADD's archives ----------------------------------------------------------------------
C=$T/arch
mkdir -p "$C" "$T/t/pkg" "$T/o/d"
echo packed >"$T/t/pkg/inside"
tar -C "$T/t" -cJf "$C/pkg.tar.xz" pkg
tar -C "$T/t" -cjf "$C/pkg.tar.bz2" pkg
echo plain | gzip >"$C/notatar.gz"
echo content0 >"$T/o/foo"
echo y >"$T/o/d/y"
tar -C "$T/o" --owner=0 --group=0 -cf "$C/owned.tar" foo d
gzsum=$(sha256sum "$C/notatar.gz" | cut -d' ' -f1)
one "$C" xz 'ADD pkg.tar.xz /xz/' 'ADD pkg.tar.bz2 /bz2/'
ck "ADD unpacks a .tar.xz" test "$(r cat /xz/pkg/inside)" = packed
ck "ADD unpacks a .tar.bz2" test "$(r cat /bz2/pkg/inside)" = packed
one "$C" gz 'ADD notatar.gz /gz/'
ck "ADD copies a .gz that is not a tar as it is" \
	test "$(r sha256sum /gz/notatar.gz | cut -d' ' -f1)" = "$gzsum"
one "$C" owned 'ADD --chown=100:200 owned.tar /owned/'
ck "ADD --chown of a tar owns every unpacked entry and the directory it made" \
	test "$(r probe owner /owned , owner /owned/foo , owner /owned/d , owner /owned/d/y | tr '\n' ' ')" = \
	"100:200 100:200 100:200 100:200 "

# ---- 6: --exclude relative to each source ---------------------------------------------------
C=$T/excl
mkdir -p "$C/dir" "$C/skip"
echo a >"$C/a.txt"
echo c >"$C/c.md"
echo b >"$C/dir/b.txt"
echo k >"$C/dir/keep.md"
echo s >"$C/skip/s"
cat >"$C/Dockerfile" <<'EOF'
FROM base:test
COPY --exclude=*.txt dir /fromdir/
COPY --exclude=*.md --exclude=skip . /ctx/
COPY --exclude=*.txt a.txt /single/
EOF
build "$C" -t excl
img=excl
ck "--exclude from the source's root: *.md drops c.md, not dir/keep.md" \
	test "$(r probe ls /ctx | tr '\n' ' ')|$(r probe ls /ctx/dir | tr '\n' ' ')" = \
	"Dockerfile a.txt dir |b.txt keep.md "
ck "--exclude relative to a directory source: *.txt drops dir/b.txt" \
	test "$(r probe ls /fromdir)" = keep.md
ck "--exclude never drops the named source itself" test "$(r cat /single/a.txt)" = a
echo changed >"$C/dir/b.txt"
build "$C" -t excl
ck "a change in an excluded file leaves the COPY cached" \
	bash -c "test $rc = 0 && grep -A1 'COPY --exclude=\*.txt dir' '$T/out' | grep -q CACHED"
ck "the store is sound" p fsck
tap_done
