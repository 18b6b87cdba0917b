#!/usr/bin/env bash
# `tests/run.sh --rootless [WORD...]` run by root (make check-rootless, CI's second pass): the
# integration tests again as a normal user with subordinate ids, as a developer without sudo
# or a CI job runs plate.  Root only prepares and cleans up:
#   - a system user made for this run ($PLATE_ROOTLESS_USER, default platetest<pid>) with
#     65536 subordinate uids and gids past every other range (usermod, under the shadow
#     tools' lock); the user, its ranges and everything below are removed on exit;
#   - a copy the user owns of what the tests read (the source tree without its builds and
#     .git, the build's plate and helpers, the conformance corpus): a checkout under a 0700
#     home is out of its reach, and its logs must not overwrite root's.  They are copied
#     back to $BUILD/test-logs-rootless;
#   - /dev/net/tun: slirp4netns opens it as the user.  A host that keeps it 0600 gets, for
#     this run only, a private mount namespace where a 0666 node of the same device is bound
#     over it; the host's node stays as it is.
# Then `tests/run.sh --rootless` runs as that user (setpriv, a clean environment) and
# prints the usual summary with the root-only skips and their reasons.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
build=$src/$BUILD
conf=${PLATE_CONFORMANCE:-$src/../shared/conformance}
U=${PLATE_ROOTLESS_USER:-platetest$$}
die() {
	echo "tests/run.sh --rootless: $*" >&2
	exit 1
}
for c in useradd usermod userdel setpriv unshare /usr/bin/newuidmap /usr/bin/newgidmap; do
	command -v "$c" >/dev/null || die "$c not found (Debian: apt-get install passwd util-linux uidmap)"
done
[ -x "$build/plate" ] || die "$build/plate not built (make test-binaries)"

W=$(mktemp -d "${TMPDIR:-/tmp}/plate-rootless.XXXXXX")
created=
start=
cleanup() {
	[ -z "$start" ] || usermod --del-subuids "$start-$((start + 65535))" \
		--del-subgids "$start-$((start + 65535))" "$U"
	[ -z "$created" ] || userdel "$U"
	rm -rf "$W"
}
trap cleanup EXIT
if ! id "$U" >/dev/null 2>&1; then
	useradd -r -M -N -d /nonexistent -s /bin/false "$U" || die "useradd $U failed"
	created=1
fi
if ! grep -q "^$U:" /etc/subuid 2>/dev/null || ! grep -q "^$U:" /etc/subgid 2>/dev/null; then
	s=$(cat /etc/subuid /etc/subgid 2>/dev/null |
		awk -F: 'BEGIN { m = 1000000 } { e = $2 + $3; if (e > m) m = e } END { print m }')
	usermod --add-subuids "$s-$((s + 65535))" --add-subgids "$s-$((s + 65535))" "$U" ||
		die "usermod --add-subuids for $U failed"
	start=$s
fi

mkdir -p "$W/src/$BUILD" "$W/home" "$W/shared"
for e in "$src"/* "$src"/.[!.]*; do
	case ${e##*/} in
	build | build-* | plate | .git) ;;
	*) cp -r "$e" "$W/src/" ;;
	esac
done
cp -r "$build/plate" "$build/helpers" "$W/src/$BUILD/"
[ ! -d "$conf" ] || cp -r "$conf" "$W/shared/conformance"
chown -R "$U:$(id -g "$U")" "$W/src" "$W/home" "$W/shared"
chmod 755 "$W"

as_user=(setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups env -i
	PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$W/home" LANG=C.UTF-8
	PLATE_MUST_WORK="${PLATE_MUST_WORK:-0}" BUILD="$BUILD" TEST_JOBS="${TEST_JOBS:-$(nproc)}"
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
echo "rootless pass: the integration tests as $U (uid $(id -u "$U"), subordinate ids" \
	"$(grep "^$U:" /etc/subuid | cut -d: -f2-))"
if "${as_user[@]}" test -r /dev/net/tun -a -w /dev/net/tun; then
	(cd "$W/home" && "${as_user[@]}" bash "$W/src/tests/run.sh" --rootless "$@")
else
	echo "rootless pass: /dev/net/tun is $(stat -c %a /dev/net/tun) here; a 0666 node is bound" \
		"over it in a mount namespace of this run"
	mknod -m 0666 "$W/tun" c 10 200 || die "cannot make a tun node in $W (as root: chmod 0666 /dev/net/tun)"
	# shellcheck disable=SC2016
	(cd "$W/home" && unshare -m --propagation private sh -c \
		'mount --bind "$0" /dev/net/tun && exec "$@"' "$W/tun" \
		"${as_user[@]}" bash "$W/src/tests/run.sh" --rootless "$@")
fi
rc=$?
rm -rf "$build/test-logs-rootless"
cp -r "$W/src/$BUILD/test-logs" "$build/test-logs-rootless" 2>/dev/null
exit "$rc"
