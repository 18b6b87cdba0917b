#!/usr/bin/env bash
# Output that matches docker's: images (unpacked SIZE, newest first, REPOSITORY[:TAG] filter,
# -a, --format with table and json), inspect --format (Go-template basics, errors that name
# the position), history (human sizes, -H=false, -q, --format, aligned columns, --no-trunc).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-helpers.bash"
command -v jq >/dev/null || tap_skip_all "jq not installed"
as_namespace_root "$@"

R=$T/root
p() { "$PLATE" --root "$R" "$@"; }
# A 3 MB file in a layer that gzip shrinks to a few kB: the unpacked and compressed sizes
# differ by three orders of magnitude.
mkdir -p "$T/fs/data"
head -c 3000000 /dev/zero >"$T/fs/data/zeros"
printf 'hello\n' >"$T/fs/data/hello"
tar -C "$T/fs" --numeric-owner -cf "$T/fs.tar" .
SOURCE_DATE_EPOCH=1000000000 p import -c 'USER 1000' -c 'LABEL org.x.y=v' -m 'a comment' \
	"$T/fs.tar" old:1 >/dev/null
SOURCE_DATE_EPOCH=$(($(date +%s) - 7200)) p import "$T/fs.tar" new:2 >/dev/null
p tag old:1 example.com/team/old:3
id_old=$(p inspect -f '{{.Id}}' old:1)

# ---- images -------------------------------------------------------------------------------
p images >"$T/images"
tap_check "images: docker's header, aligned" \
	grep -qE '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$' "$T/images"
tap_check "images: SIZE is the unpacked size (3MB), not the compressed one" \
	grep -qE '^new +2 +[0-9a-f]{12} +2 hours ago +3MB$' "$T/images"
tap_check "images: newest first" test "$(awk 'NR > 1 {print $1}' "$T/images" | head -1)" = new
tap_check "images: CREATED is readable" grep -qE '^old +1 +[0-9a-f]{12} +(2[0-9]) years ago +3MB$' "$T/images"
tap_check "images REPO: only that repository" test "$(p images old | awk 'NR > 1 {print $1 ":" $2}')" = old:1
tap_check "images REPO:TAG with a pattern" test "$(p images -q 'example.com/*/old:[0-9]')" = "${id_old:7:12}"
tap_check "images of a name nobody has: the header alone" test "$(p images nothing | wc -l)" = 1
tap_check "images -a lists the same (no intermediate images)" test "$(p images -a)" = "$(p images)"
tap_check "images --format: fields" test "$(p images --format '{{.Repository}}:{{.Tag}} {{.Size}}' old)" = "old:1 3MB"
tap_check "images --format: CreatedAt as docker prints it" \
	test "$(p images --format '{{.CreatedAt}}' old)" = "2001-09-09 01:46:40 +0000 UTC"
tap_check "images --format: Digest is the manifest's" \
	test "$(p images --format '{{.Digest}}' old)" = "$(p inspect -f '{{.Descriptor.digest}}' old:1)"
p images --format 'table {{.Repository}}\t{{.ID}}' old >"$T/table"
tap_check "images --format table: a header and aligned columns" \
	test "$(cat "$T/table")" = "$(printf 'REPOSITORY   IMAGE ID\nold          %s' "${id_old:7:12}")"
tap_check "images --format json: one object per line" \
	test "$(p images --format json | jq -r .Repository | sort | tr '\n' ' ')" = "example.com/team/old new old "
p images --format '{{.Repository' >"$T/out" 2>&1
tap_check "images --format with a bad template: usage error" test $? = 2
tap_check "it names the position" grep -q "template:1:1: unclosed action" "$T/out"

# ---- inspect ------------------------------------------------------------------------------
tap_check "inspect -f {{.Id}}" test "$(p inspect -f '{{.Id}}' old:1)" = "$id_old"
tap_check "inspect --format {{json .Config}}" \
	test "$(p inspect --format '{{json .Config}}' old:1 | jq -c '{User, Labels}')" = '{"User":"1000","Labels":{"org.x.y":"v"}}'
tap_check "inspect {{index .RepoTags 1}}" test "$(p inspect -f '{{index .RepoTags 1}}' old:1)" = "example.com/team/old:3"
tap_check "inspect {{.Config.User}}" test "$(p inspect -f '{{.Config.User}}' old:1)" = 1000
tap_check "inspect: one line per image" test "$(p inspect -f '{{.Config.User}}' old:1 new:2 | wc -l)" = 2
tap_check "inspect {{range}} and {{index}} of a label" \
	test "$(p inspect -f '{{range .RepoTags}}{{.}} {{end}}{{index .Config.Labels "org.x.y"}}' old:1)" = "old:1 example.com/team/old:3 v"
tap_check "inspect: Size is the unpacked size" \
	test "$(p inspect -f '{{.Size}}' old:1)" -ge 3000000
tap_check "inspect: no RepoDigests for an image no registry gave" test "$(p inspect -f '{{json .RepoDigests}}' old:1)" = "[]"
p inspect -f '{{.Id}} {{$x := 1}}' old:1 >"$T/out" 2>&1
rc=$?
tap_check "inspect: variables are a usage error" test "$rc" = 2
tap_check "the error names the position" grep -qF 'template:1:11: variables ($) are not supported' "$T/out"
p inspect -f '{{printf "%s" .Id}}' old:1 >"$T/out" 2>&1
tap_check "inspect: an unknown function is named" grep -q 'function "printf" is not supported' "$T/out"

# ---- history ------------------------------------------------------------------------------
p history old:1 >"$T/hist"
tap_check "history: docker's header, aligned" grep -qE '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$' "$T/hist"
tap_check "history: human sizes of the layer unpacked" \
	grep -qE "^${id_old:7:12} +2[0-9] years ago +plate import +3MB +a comment$" "$T/hist"
tap_check "history -H=false: bytes and RFC 3339 dates" \
	grep -qE "^${id_old:7:12} +2001-09-09T01:46:40Z +plate import +300000[0-9] +a comment$" <(p history -H=false old:1)
tap_check "history --human=false is the same" test "$(p history --human=false old:1)" = "$(p history -H=false old:1)"
tap_check "history -q: the IDs" test "$(p history -q old:1)" = "${id_old:7:12}"
tap_check "history --no-trunc: the whole ID" test "$(p history -q --no-trunc old:1)" = "$id_old"
tap_check "history --format" test "$(p history --format '{{.CreatedBy}}|{{.Comment}}' old:1)" = "plate import|a comment"
p history -H=maybe old:1 >"$T/out" 2>&1
tap_check "history -H=maybe: usage error" test $? = 2

tap_done
