# podman as a peer (sourced after lib.sh): storage under $T/pm (vfs), no events, cgroupfs.
# podman refuses a run root of more than 50 characters, so its run state (locks) goes to a
# short directory of its own, $PODMAN_RUN: call pm_start after the test's EXIT trap is set
# and pm_cleanup from that trap.  As root, or as root of a user namespace with the user's
# subordinate ids for a normal user (as_owner): podman then starts no pause process, so
# nothing stays running.
PODMAN_RUN=

# pm_start: true when podman is installed (its run directory made), false otherwise.
pm_start() {
	command -v podman >/dev/null || return 1
	PODMAN_RUN=$(mktemp -d /tmp/pmr.XXXXXX)
}

pm() {
	as_owner podman --root "$T/pm" --runroot "$PODMAN_RUN/run" --tmpdir "$PODMAN_RUN/tmp" \
		--storage-driver vfs --events-backend none --cgroup-manager cgroupfs "$@"
}

pm_cleanup() {
	[ -z "$PODMAN_RUN" ] || as_owner rm -rf "$PODMAN_RUN"
}
