# podman as a peer (sourced after lib.sh): storage under $T/pm (vfs), no events, cgroupfs,
# file locks.
# podman refuses a run root of more than 50 characters, so its run state (locks) goes to a
# short directory of its own, $PODMAN_RUN: call pm_start after the test's EXIT trap is set
# and pm_cleanup from that trap.  As root, or as root of a user namespace with the user's
# subordinate ids for a normal user (as_owner): podman then starts no pause process, so
# nothing stays running.
PODMAN_RUN=

# pm_start: true when podman is installed (its run directory made), false otherwise.  File
# locks under the run directory, not shared memory: root's /dev/shm/libpod_lock is the
# host's, and refused to root of a user namespace.
pm_start() {
	command -v podman >/dev/null || return 1
	PODMAN_RUN=$(mktemp -d /tmp/pmr.XXXXXX)
	printf '[engine]\nlock_type = "file"\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n' \
		>"$PODMAN_RUN/containers.conf"
	# Signatures are looked up in a directory of its own too: root's default,
	# /var/lib/containers/sigstore, is out of reach for root of a user namespace.  A
	# registries.d under $HOME wins over /etc/containers/registries.d.
	mkdir -p "$PODMAN_RUN/home/.config/containers/registries.d"
	printf 'default-docker:\n  lookaside: file://%s\n' "$PODMAN_RUN/home/sigstore" \
		>"$PODMAN_RUN/home/.config/containers/registries.d/default.yaml"
}

pm() {
	as_owner env CONTAINERS_CONF="$PODMAN_RUN/containers.conf" HOME="$PODMAN_RUN/home" \
		podman --root "$T/pm" --runroot "$PODMAN_RUN/run" --tmpdir "$PODMAN_RUN/tmp" \
		--storage-driver vfs "$@"
}

pm_cleanup() {
	[ -z "$PODMAN_RUN" ] || as_owner rm -rf "$PODMAN_RUN"
}
