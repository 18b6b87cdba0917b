/*
 * The PRIVATE network: slirp4netns, a user-mode TCP/IP stack, attached to the sandbox's
 * new network namespace.  It creates `tap0` there, configures it (10.0.2.100/24, default
 * route via 10.0.2.2, DNS forwarder 10.0.2.3) and turns the namespace's connections into
 * sockets of its own on the host: outbound traffic works as the caller's would, while
 * --disable-host-loopback refuses connections to the host's 127.0.0.0/8 and the host's
 * interfaces never appear in the namespace (no host packets to capture).
 * docs/internals/sandbox.md says why slirp4netns rather than pasta or a veth pair.
 *
 * One helper per sandbox run, started by the parent once pid 1 exists (the namespace is
 * named by pid 1's pid), killed by that pid when the run ends and reaped by a detached
 * thread.  It cannot outlive plate: PR_SET_PDEATHSIG kills it with the thread that started it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "sandbox/sandbox_internal.h"
#include "userns/userns.h"

/* Output beyond this is not read back for an error message. */
#define LOG_TAIL 512

void sandbox_net_init(struct sandbox_net *n)
{
	memset(n, 0, sizeof(*n));
	n->ready[0] = n->ready[1] = n->log_fd = n->null_fd = -1;
	n->pid = -1;
}

static void close_fd(int *fd)
{
	cleanup_closep(fd);
	*fd = -1;
}

/* The first executable SANDBOX_NET_HELPER in SANDBOX_DEFAULT_PATH: a fixed list rather than
 * the caller's $PATH, so what runs as root for every RUN does not depend on the environment. */
static int find_helper(char **out, struct plate_error **err)
{
	const char *p = SANDBOX_DEFAULT_PATH;

	while (*p != '\0') {
		size_t len = strcspn(p, ":");
		char *path = NULL;

		if (asprintf(&path, "%.*s/%s", (int)len, p, SANDBOX_NET_HELPER) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (access(path, X_OK) == 0) {
			*out = path;
			return 0;
		}
		free(path);
		p += len;
		if (*p == ':')
			p++;
	}
	return plate_err_new(err, ENOENT,
			     "'%s' not found in %s: the default network needs it (install "
			     "slirp4netns, or use --network none or host)",
			     SANDBOX_NET_HELPER, SANDBOX_DEFAULT_PATH);
}

int sandbox_net_prepare(struct sandbox_net *n, const struct sandbox_spec *spec, int scratch_fd,
			const char *scratch, struct plate_error **err)
{
	int fd;
	size_t i = 0;

	if (spec->net_helper != NULL) {
		if (access(spec->net_helper, X_OK) < 0)
			return plate_err_new(err, errno, "network helper '%s'", spec->net_helper);
		n->helper = strdup(spec->net_helper);
		if (n->helper == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
	} else if (find_helper(&n->helper, err) < 0) {
		return -1;
	}
	/* Rootless, slirp4netns opens the tap device as the user, whom a host that keeps it
	 * root's alone refuses; said here, not as the helper's bare EACCES. */
	if (userns_nested() && access("/dev/net/tun", R_OK | W_OK) < 0)
		return plate_err_new(err, errno,
				     "rootless: the default network needs /dev/net/tun readable "
				     "and writable by the user (as root: chmod 0666 /dev/net/tun, "
				     "Debian's default), or use --network none");
	if (pipe2(n->ready, O_CLOEXEC) < 0)
		return plate_err_new(err, errno, "create the network pipe");
	/* Above 2, so the helper's dup2() onto 0, 1 and 2 cannot overwrite it. */
	fd = fcntl(n->ready[1], F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return plate_err_new(err, errno, "duplicate the network pipe");
	close_fd(&n->ready[1]);
	n->ready[1] = fd;
	/* Unlinked at once: nothing to remove later, whatever way the run ends. */
	n->log_fd = openat(scratch_fd, "net.log", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (n->log_fd < 0)
		return plate_err_new(err, errno, "create '%s/net.log'", scratch);
	unlinkat(scratch_fd, "net.log", 0);
	n->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (n->null_fd < 0)
		return plate_err_new(err, errno, "open '/dev/null'");

	snprintf(n->ready_arg, sizeof(n->ready_arg), "--ready-fd=%d", n->ready[1]);
	n->argv[i++] = n->helper;
	n->argv[i++] = "--configure";
	/* The largest MTU slirp4netns takes: a quarter of the per-packet work of 1500 for
	 * bulk downloads (go mod download, apt-get). */
	n->argv[i++] = "--mtu=65520";
	n->argv[i++] = "--disable-host-loopback";
	/* The helper parses packets from RUN as root: its own mount namespace, capabilities
	 * dropped and a seccomp filter limit what a bug in it could reach. */
	n->argv[i++] = "--enable-sandbox";
	n->argv[i++] = "--enable-seccomp";
	n->argv[i++] = n->ready_arg;
	n->argv[i++] = n->target_arg;
	n->argv[i++] = "tap0";
	n->argv[i] = NULL;
	return 0;
}

/* The helper's side of the fork: only system calls (the caller may be multi-threaded). */
static _Noreturn void helper_main(const struct sandbox_net *n, pid_t parent)
{
	static char *const no_env[] = { NULL };
	static const char exec_failed[] = "cannot execute the network helper\n";

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(127); /* checksrc: allow (child process) */
	if (dup2(n->null_fd, 0) < 0 || dup2(n->log_fd, 1) < 0 || dup2(n->log_fd, 2) < 0 ||
	    fcntl(n->ready[1], F_SETFD, 0) < 0)
		_exit(127); /* checksrc: allow (child process) */
	/* Only its stdio and the ready pipe: not the caller's files, not other runs' pipes. */
	if (n->ready[1] > 3)
		close_range(3, (unsigned)n->ready[1] - 1, 0);
	close_range((unsigned)n->ready[1] + 1, ~0U, 0);
	execve(n->helper, (char *const *)n->argv, no_env);
	if (write(2, exec_failed, sizeof(exec_failed) - 1) < 0) {
		/* Nowhere else to say it: pid 1 reports the helper's exit. */
	}
	_exit(127); /* checksrc: allow (child process) */
}

int sandbox_net_start(struct sandbox_net *n, pid_t target, struct plate_error **err)
{
	pid_t parent = getpid();

	snprintf(n->target_arg, sizeof(n->target_arg), "%d", (int)target);
	n->pid = sandbox_clone(SIGCHLD);
	if (n->pid == 0)
		helper_main(n, parent);
	if (n->pid < 0) {
		n->pid = -1;
		return plate_err_new(err, errno, "start '%s'", n->helper);
	}
	/* From now on only the helper holds the write end: its exit is pid 1's end of file. */
	close_fd(&n->ready[1]);
	return 0;
}

char *sandbox_net_last_words(const struct sandbox_net *n)
{
	char tail[LOG_TAIL + 1];
	struct stat st;
	off_t from;
	ssize_t got;
	char *end, *start;

	if (n->log_fd < 0 || fstat(n->log_fd, &st) < 0)
		return strdup("");
	from = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
	got = pread(n->log_fd, tail, LOG_TAIL, from);
	if (got <= 0)
		return strdup("");
	tail[got] = '\0';
	end = tail + strlen(tail);
	while (end > tail && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(tail, '\n');
	return strdup(start != NULL ? start + 1 : tail);
}

static void *reap_helper(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;

	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return NULL;
}

void sandbox_net_release(struct sandbox_net *n)
{
	if (n->pid > 0) {
		pthread_attr_t attr;
		pthread_t t;
		bool detached = false;

		kill(n->pid, SIGKILL);
		/* Its exit takes 10-20 ms (the kernel unregisters tap0 and ends the helper's
		 * own namespaces), and nothing after a run depends on it: a SIGKILLed helper
		 * runs no more code.  A detached thread reaps it while the step goes on. */
		if (pthread_attr_init(&attr) == 0) {
			detached =
				pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
				pthread_create(&t, &attr, reap_helper, (void *)(intptr_t)n->pid) ==
					0;
			pthread_attr_destroy(&attr);
		}
		if (!detached)
			reap_helper((void *)(intptr_t)n->pid);
		n->pid = -1;
	}
	close_fd(&n->ready[0]);
	close_fd(&n->ready[1]);
	close_fd(&n->log_fd);
	close_fd(&n->null_fd);
	free(n->helper);
	n->helper = NULL;
}
