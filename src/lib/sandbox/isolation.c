/*
 * Which isolation this process can give a run.  Tried, not guessed: a short-lived child
 * attempts exactly what a run would do first, since capabilities alone do not tell (a
 * container's seccomp profile refuses unshare(2) and mount(2) to a root that holds
 * CAP_SYS_ADMIN's neighbours, a user namespace's root holds CAP_SYS_ADMIN only over its
 * own namespaces, an LSM may refuse either).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"

static _Noreturn void probe_exit(int code)
{
	_exit(code); /* checksrc: allow (the probing child) */
}

/* Runs what in a child cloned with flags; returns 0 when it worked, else its errno. */
static int try_in_child(unsigned long flags, int (*what)(void))
{
	int status;
	pid_t pid = sandbox_clone(flags | SIGCHLD);

	if (pid == 0)
		probe_exit(what() == 0 ? 0 : errno > 0 && errno < 256 ? errno : EPERM);
	if (pid < 0)
		return errno;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return errno;
	}
	if (!WIFEXITED(status))
		return EIO;
	return WEXITSTATUS(status);
}

static int make_mounts_private(void)
{
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static int chroot_to_root(void)
{
	return chroot("/");
}

int sandbox_isolation_detect(enum sandbox_isolation *out, struct plate_error **err)
{
	/* One child for both questions (can the namespaces be made, can mounts be changed in
	 * the new mount namespace): each probe is a fork and an exit, ~0.5 ms of every build. */
	int ns = try_in_child(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS,
			      make_mounts_private);
	int ch;

	if (ns == 0) {
		*out = SANDBOX_ISOLATION_NAMESPACES;
		return 0;
	}
	ch = try_in_child(0, chroot_to_root);
	if (ch == 0) {
		*out = SANDBOX_ISOLATION_CHROOT;
		return 0;
	}
	return plate_err_new(err, ch,
			     "no isolation for RUN: namespaces and mounts are refused (%s) and "
			     "so is chroot (%s, it needs CAP_SYS_CHROOT): run plate as root "
			     "(in a container: docker run --user 0, whose default capabilities "
			     "have CAP_SYS_CHROOT)",
			     strerror(ns), strerror(ch));
}

const char *sandbox_isolation_name(enum sandbox_isolation isolation)
{
	switch (isolation) {
	case SANDBOX_ISOLATION_NAMESPACES:
		return "namespaces";
	case SANDBOX_ISOLATION_CHROOT:
		return "chroot";
	default:
		return "unknown";
	}
}

bool sandbox_isolation_userns(void)
{
	/* One child for both questions, in a user namespace of its own. */
	return try_in_child(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
				    CLONE_NEWUTS,
			    make_mounts_private) == 0;
}
