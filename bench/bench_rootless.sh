#!/usr/bin/env bash
# bench_rootless.sh — what rootless costs the peer benchmark's sample service
# (../shared/bench/app), against root, in one run (issue 14: rootless within 1.15x of root):
#   root       this tree's plate as root
#   rootless   the same binary as a normal user with 65536 subordinate ids (a system user
#              made for the run and removed at its end, as tests/rootless-pass.sh does)
# Both use the default network (slirp4netns) and run through the same chain: a private mount
# namespace with a 0666 node bound over a 0600 /dev/net/tun (the host's stays as it is),
# setpriv to the variant's uid, a clean environment.
# Each variant has its own store with the golang base loaded; each run, for each variant (the
# order alternates from run to run): a cold build (empty build cache), NOOPS (default 10)
# no-op rebuilds and a rebuild after a main.go edit (a comment appended).  Measured: wall
# time; CPU (user + system of plate and everything it waited for: bash's time); the
# builder overhead of the cold build, its wall time minus the time inside its RUN processes
# (--progress json's process_seconds, as bench_build.sh).  Prints medians of RUNS runs, the spread, the
# rootless/root ratios and whether the goal is met (on the wall time of each scenario).  The
# load average is printed at start and end: compare only variants of the same run.  Needs
# ../shared/bench/make-base.sh output in $BENCH_OUT (default /tmp/plate-bench-out), a built
# plate, Debian's uidmap; root.
#   [NOOPS=10] bench/bench_rootless.sh [RUNS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
NOOPS=${NOOPS:-10}
. bench/inputs.bash
[ "$(id -u)" = 0 ] || { echo "run as root (it makes the rootless user)" >&2; exit 1; }
[ -x /usr/bin/newuidmap ] || { echo "missing newuidmap (apt-get install uidmap)" >&2; exit 1; }
W=$(mktemp -d "$BENCH_OUT/bench-rootless.XXXXXX")
U=platebench$$
created=
start=
cleanup() {
	[ -z "$start" ] || usermod --del-subuids "$start-$((start + 65535))" \
		--del-subgids "$start-$((start + 65535))" "$U"
	[ -z "$created" ] || userdel "$U"
	rm -rf "$W"
}
trap cleanup EXIT
useradd -r -M -N -d /nonexistent -s /bin/false "$U"
created=1
s=$(cat /etc/subuid /etc/subgid 2>/dev/null |
	awk -F: 'BEGIN { m = 1000000 } { e = $2 + $3; if (e > m) m = e } END { print m }')
usermod --add-subuids "$s-$((s + 65535))" --add-subgids "$s-$((s + 65535))" "$U"
start=$s
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# The user's side: a copy of the binary and of the base, all under $W, which it can reach.
chmod 755 "$W"
mkdir -p "$W/rootless" "$W/root"
cp "$PLATE" "$W/plate"
cp "$ARCHIVE" "$W/base.tar"
chmod a+r "$W/base.tar"
for v in root rootless; do
	cp -r "$APP" "$W/$v/app"
	chmod -R u+w "$W/$v/app"
done
chown -R "$U:$(id -g "$U")" "$W/rootless"
mknod -m 0666 "$W/tun" c 10 200
# plate_as VARIANT ARGS...: plate on the variant's store, as root or as the user, both through
# the same chain of programs (a mount namespace with the tun node, setpriv, a clean
# environment), so that the difference is plate's own.
plate_as() {
	local v=$1 uid=0 gid=0
	shift
	if [ "$v" = rootless ]; then
		uid=$(id -u "$U")
		gid=$(id -g "$U")
	fi
	# shellcheck disable=SC2016
	unshare -m --propagation private sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"' "$W/tun" \
		setpriv --reuid "$uid" --regid "$gid" --clear-groups env -i PATH=/usr/bin:/bin \
		HOME="$W/$v" "$W/plate" --root "$W/$v/store" "$@"
}
for v in root rootless; do
	plate_as "$v" load -i "$W/base.tar" >/dev/null
	plate_as "$v" tag "$(plate_as "$v" images -q | head -1)" golang:1.19-local
done

TIMEFORMAT='%3R %3U %3S'
# build_once VARIANT KIND: one build; appends its wall time to $W/VARIANT/KIND and its CPU
# seconds to $W/VARIANT/KIND.cpu, leaves its json progress in $W/VARIANT/json.
build_once() {
	local v=$1 kind=$2
	{ time plate_as "$v" build --progress json --build-arg GO_IMAGE=golang:1.19-local \
		-t my-awesome-service "$W/$v/app" >/dev/null 2>"$W/$v.json"; } \
		2>"$W/$v.time" || { tail -20 "$W/$v.json" >&2; exit 1; }
	awk '{ print $1 }' "$W/$v.time" >>"$W/$v.$kind"
	awk '{ printf "%.3f\n", $2 + $3 }' "$W/$v.time" >>"$W/$v.$kind.cpu"
}
# The seconds the last build spent inside RUN processes.
process_seconds() { jq -s '[.[] | select(.type == "done") | .process_seconds // 0] | add' "$W/$1.json"; }
# ran_runs VARIANT: how many RUN steps the last build ran (not cached).
ran_runs() { jq -s '[.[] | select(.process_seconds != null)] | length' "$W/$1.json"; }
variants=(root rootless)
for i in $(seq 1 "$RUNS"); do
	echo "run $i/$RUNS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
	for k in 0 1; do
		v=${variants[$(((i + k) % 2))]}
		plate_as "$v" rmi my-awesome-service >/dev/null 2>&1 || true
		plate_as "$v" prune --all --mounts >/dev/null
		build_once "$v" cold
		echo "$(tail -1 "$W/$v.cold") $(process_seconds "$v")" | awk '{ printf "%.3f\n", $1 - $2 }' \
			>>"$W/$v.overhead"
		# The no-op is a fraction of a second, which process start-up on a loaded machine
		# disturbs as much as anything plate does: NOOPS samples per run, and as many of
		# plate version, which opens no store and enters no namespace, through the same chain.
		for _ in $(seq 1 "$NOOPS"); do
			build_once "$v" noop
			{ time plate_as "$v" version >/dev/null; } 2>"$W/$v.time"
			awk '{ print $1 }' "$W/$v.time" >>"$W/$v.wrap"
		done
		[ "$(ran_runs "$v")" = 0 ] || { echo "$v: the no-op rebuild ran a RUN" >&2; exit 1; }
		echo "// edit $i" >>"$W/$v/app/main.go"
		build_once "$v" maingo
		[ "$(ran_runs "$v")" = 1 ] || { echo "$v: the main.go edit ran $(ran_runs "$v") RUNs, not 1" >&2; exit 1; }
	done
done
# Both built the same image.
d_root=$(plate_as root inspect my-awesome-service | jq -r '.[0].Descriptor.digest')
d_rl=$(plate_as rootless inspect my-awesome-service | jq -r '.[0].Descriptor.digest')

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m() { median <"$W/$1"; }
range() { sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "x%.3f", a / b }'; }
echo "load average at start: $load_start   at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: $RUNS ($NOOPS no-op rebuilds each), medians (seconds); image digests: root $d_root, rootless $d_rl"
printf '%-16s %9s %9s %9s %10s %9s %9s %10s\n' variant cold no-op main.go overhead "CPU cold" \
	"CPU no-op" "CPU main.go"
for v in "${variants[@]}"; do
	printf '%-16s %9.3f %9.3f %9.3f %10.3f %9.3f %9.3f %10.3f\n' "$v" "$(m "$v.cold")" \
		"$(m "$v.noop")" "$(m "$v.maingo")" "$(m "$v.overhead")" "$(m "$v.cold.cpu")" \
		"$(m "$v.noop.cpu")" "$(m "$v.maingo.cpu")"
done
printf '%-16s %9s %9s %9s %10s %9s %9s %10s\n' "rootless/root" \
	"$(ratio "$(m rootless.cold)" "$(m root.cold)")" "$(ratio "$(m rootless.noop)" "$(m root.noop)")" \
	"$(ratio "$(m rootless.maingo)" "$(m root.maingo)")" \
	"$(ratio "$(m rootless.overhead)" "$(m root.overhead)")" \
	"$(ratio "$(m rootless.cold.cpu)" "$(m root.cold.cpu)")" \
	"$(ratio "$(m rootless.noop.cpu)" "$(m root.noop.cpu)")" \
	"$(ratio "$(m rootless.maingo.cpu)" "$(m root.maingo.cpu)")"
printf '%-16s %17s %17s %17s\n' "spread (min-max)" cold no-op main.go
for v in "${variants[@]}"; do
	printf '%-16s %17s %17s %17s\n' "$v" "$(range <"$W/$v.cold")" "$(range <"$W/$v.noop")" \
		"$(range <"$W/$v.maingo")"
done
awk -v w="$(m rootless.wrap)" -v wr="$(m root.wrap)" -v n="$(m rootless.noop)" -v nr="$(m root.noop)" 'BEGIN {
	printf "plate version through the same chain (no store, no namespace): root %.3f s, rootless %.3f s\n", wr, w
	printf "no-op, rootless - root: %+.3f s (a build the cache answers enters no user namespace)\n", n - nr
}'
[ "$d_root" = "$d_rl" ] || echo "the digests differ: rootless does not build root's image"
awk -v c="$(m rootless.cold)" -v cr="$(m root.cold)" -v n="$(m rootless.noop)" -v nr="$(m root.noop)" \
	-v e="$(m rootless.maingo)" -v er="$(m root.maingo)" 'BEGIN {
	ok = c / cr <= 1.15 && n / nr <= 1.15 && e / er <= 1.15
	printf "goal, rootless within 1.15x of root (wall, each scenario): cold x%.3f, no-op x%.3f, main.go x%.3f: %s\n",
		c / cr, n / nr, e / er, ok ? "met" : "NOT met"
}'
