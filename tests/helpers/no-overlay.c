/*
 * no-overlay — a test helper (not a user command): runs a command whose overlay mounts the
 * kernel refuses with EPERM, as a kernel before 5.11 refuses them in a user namespace.
 *
 *   no-overlay CMD [ARG...]
 *
 * A seccomp filter (inherited by every child, in every namespace) answers EPERM to mount(2)
 * when its flags are MS_NODEV, with or without MS_RDONLY: plate's overlay mounts, and none of
 * its other mounts (binds, proc, sysfs, tmpfs, devpts carry other flags).  no_new_privs comes
 * with the filter, so a setuid newuidmap gains nothing under it: the command must not need
 * subordinate ids.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	scmp_filter_ctx f;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: no-overlay CMD [ARG...]\n");
		return 2;
	}
	f = seccomp_init(SCMP_ACT_ALLOW);
	if (f == NULL) {
		fprintf(stderr, "no-overlay: seccomp_init failed\n");
		return 1;
	}
	r = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mount), 1,
			     SCMP_A3(SCMP_CMP_MASKED_EQ, ~(scmp_datum_t)MS_RDONLY, MS_NODEV));
	if (r == 0)
		r = seccomp_load(f);
	seccomp_release(f);
	if (r != 0) {
		fprintf(stderr, "no-overlay: cannot load the filter: %s\n", strerror(-r));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-overlay: cannot run '%s': %s\n", argv[1], strerror(errno));
	return 127;
}
