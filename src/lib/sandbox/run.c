/*
 * sandbox_run(): the parent side.  Turns the spec into a plan (descriptors opened here so
 * that a missing lowerdir or bind source is reported with its path before any namespace
 * exists), clones pid 1 into new namespaces, then multiplexes the child's message pipe,
 * the command's output and the cancel descriptor until the sandbox is gone, and finally
 * removes mount point stubs and the scratch directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "sandbox/sandbox_internal.h"
#include "userns/userns.h"

/* A root with more stubs than this is not one the sandbox made. */
#define MAX_STUBS 4096

static const char *const etc_names[SANDBOX_N_ETC_FILES] = {
	[SANDBOX_ETC_FILE_RESOLV] = "resolv.conf",
	[SANDBOX_ETC_FILE_HOSTS] = "hosts",
	[SANDBOX_ETC_FILE_HOSTNAME] = "hostname",
};

struct stub {
	enum sandbox_stub_kind kind;
	char *path;
};

struct run {
	const struct sandbox_spec *spec;
	struct sandbox_plan plan;

	char *scratch; /* private directory under spec->tmpdir */
	int scratch_fd;
	char *root;
	char *etc_paths[SANDBOX_N_ETC_FILES];
	int rootfs_fd, upper_fd;
	bool *mount_dirs;
	const struct sandbox_bpf *seccomp;
	const char **argv, **envp;
	int stdio[3];
	int msg[2], alive[2], out[2], err[2];
	int *keep;
	struct sandbox_net net;

	/* What the child reported. */
	char inbox[2 * (sizeof(struct sandbox_msg_header) + SANDBOX_MSG_MAX_PAYLOAD)];
	size_t inbox_len;
	char *child_error;
	int child_errno;
	bool have_exit;
	int exit_status;
	uint64_t command_ns;
	struct stub *stubs;
	size_t n_stubs;
};

static void close_fd(int *fd)
{
	cleanup_closep(fd);
	*fd = -1;
}

static void run_init(struct run *r, const struct sandbox_spec *spec)
{
	memset(r, 0, sizeof(*r));
	r->spec = spec;
	r->scratch_fd = r->rootfs_fd = r->upper_fd = -1;
	for (int i = 0; i < 3; i++)
		r->stdio[i] = -1;
	for (int i = 0; i < 2; i++)
		r->msg[i] = r->alive[i] = r->out[i] = r->err[i] = -1;
	sandbox_net_init(&r->net);
}

static bool is_opaque(int dirfd, const char *name)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char v;

	if (fd < 0)
		return true; /* cannot tell: leave it */
	return fgetxattr(fd, "trusted.overlay.opaque", &v, 1) >= 0 ||
	       fgetxattr(fd, "user.overlay.opaque", &v, 1) >= 0;
}

/* Removes one stub under basefd if it is still what the sandbox made: an empty regular
 * file, or an empty directory (not an opaque one, which would hide the lower layers).
 * The walk never follows symlinks: the command could have replaced a parent with a link
 * to a host path.  Best effort: a stub left behind is an empty entry, not a hazard. */
static void remove_stub(int basefd, const struct stub *s, bool overlay)
{
	_cleanup_free_ char *copy = strdup(s->path);
	_cleanup_close_ int dirfd = -1;
	char *name, *slash;
	struct stat st;

	if (copy == NULL)
		return;
	name = copy;
	while ((slash = strchr(name, '/')) != NULL) {
		int fd;

		*slash = '\0';
		fd = openat(dirfd >= 0 ? dirfd : basefd, name,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return;
		close_fd(&dirfd);
		dirfd = fd;
		name = slash + 1;
	}
	if (fstatat(dirfd >= 0 ? dirfd : basefd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (s->kind == SANDBOX_STUB_FILE) {
		if (S_ISREG(st.st_mode) && st.st_size == 0)
			unlinkat(dirfd >= 0 ? dirfd : basefd, name, 0);
	} else if (S_ISDIR(st.st_mode)) {
		if (overlay && is_opaque(dirfd >= 0 ? dirfd : basefd, name))
			return;
		unlinkat(dirfd >= 0 ? dirfd : basefd, name, AT_REMOVEDIR); /* ENOTEMPTY: kept */
	}
}

static void run_release(struct run *r)
{
	bool overlay = r->spec->rootfs_mode == SANDBOX_ROOTFS_OVERLAY;
	int basefd = overlay ? r->upper_fd : r->rootfs_fd;

	sandbox_net_release(&r->net);

	/* Children first: a stub dir is removable only after the stubs inside it. */
	for (size_t i = r->n_stubs; i-- > 0;) {
		if (basefd >= 0)
			remove_stub(basefd, &r->stubs[i], overlay);
		free(r->stubs[i].path);
	}
	free(r->stubs);
	if (r->scratch_fd >= 0) {
		for (int i = 0; i < SANDBOX_N_ETC_FILES; i++) {
			if (r->etc_paths[i] != NULL)
				unlinkat(r->scratch_fd, etc_names[i], 0);
		}
		if (overlay)
			unlinkat(r->scratch_fd, "root", AT_REMOVEDIR);
		close_fd(&r->scratch_fd);
	}
	if (r->scratch != NULL)
		rmdir(r->scratch);
	free(r->scratch);
	free(r->root);
	for (int i = 0; i < SANDBOX_N_ETC_FILES; i++)
		free(r->etc_paths[i]);
	close_fd(&r->rootfs_fd);
	close_fd(&r->upper_fd);
	free(r->mount_dirs);
	free(r->argv);
	free(r->envp);
	for (int i = 0; i < 3; i++)
		close_fd(&r->stdio[i]);
	for (int i = 0; i < 2; i++) {
		close_fd(&r->msg[i]);
		close_fd(&r->alive[i]);
		close_fd(&r->out[i]);
		close_fd(&r->err[i]);
	}
	free(r->keep);
	free(r->child_error);
}

static int open_dir(const char *what, const char *path, int *out, struct plate_error **err)
{
	*out = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*out < 0)
		return plate_err_new(err, errno, "open %s '%s'", what, path);
	return 0;
}

static int write_scratch_file(struct run *r, enum sandbox_etc_file which, const char *data,
			      struct plate_error **err)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(data), off = 0;

	if (asprintf(&r->etc_paths[which], "%s/%s", r->scratch, etc_names[which]) < 0) {
		r->etc_paths[which] = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	fd = openat(r->scratch_fd, etc_names[which], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return plate_err_new(err, errno, "create '%s'", r->etc_paths[which]);
	/* The caller's umask must not make /etc/hosts unreadable to a non-root command. */
	if (fchmod(fd, 0644) < 0)
		return plate_err_new(err, errno, "chmod '%s'", r->etc_paths[which]);
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return plate_err_new(err, errno, "write '%s'", r->etc_paths[which]);
		off += (size_t)n;
	}
	return 0;
}

/* The child opens the overlay's directories again: overlayfs only takes directories on
 * mounts of the mounting process's namespace ("failed to clone upperpath"), so the
 * descriptors opened here only check that everything exists, with the path in the error. */
static int prepare_overlay(struct run *r, struct plate_error **err)
{
	const struct sandbox_spec *spec = r->spec;
	int fd;

	if (mkdirat(r->scratch_fd, "root", 0700) < 0)
		return plate_err_new(err, errno, "create '%s/root'", r->scratch);
	if (asprintf(&r->root, "%s/root", r->scratch) < 0) {
		r->root = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < spec->n_lowerdirs; i++) {
		if (open_dir("lowerdir", spec->lowerdirs[i], &fd, err) < 0)
			return -1;
		close(fd);
	}
	if (open_dir("workdir", spec->workdir, &fd, err) < 0)
		return -1;
	close(fd);
	return open_dir("upperdir", spec->upperdir, &r->upper_fd, err);
}

/* Bind sources are opened here only to report a missing one with its path and to know
 * whether the target is a file or a directory; the child binds them by path (a bind
 * source, too, must be a mount of the child's own namespace). */
static int prepare_mounts(struct run *r, struct plate_error **err)
{
	const struct sandbox_spec *spec = r->spec;

	r->mount_dirs = calloc(spec->n_mounts + 1, sizeof(bool));
	if (r->mount_dirs == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct sandbox_mount *m = &spec->mounts[i];
		struct stat st;

		if (m->type != SANDBOX_MOUNT_BIND) {
			r->mount_dirs[i] = true;
			continue;
		}
		if (stat(m->source, &st) < 0)
			return plate_err_new(err, errno, "bind source '%s'", m->source);
		r->mount_dirs[i] = S_ISDIR(st.st_mode);
	}
	return 0;
}

static int prepare_process(struct run *r, int null_fd, struct plate_error **err)
{
	const struct sandbox_spec *spec = r->spec;
	int src[3];

	r->argv = calloc(spec->n_argv + 1, sizeof(char *));
	r->envp = calloc(spec->n_env + 1, sizeof(char *));
	if (r->argv == NULL || r->envp == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	memcpy(r->argv, spec->argv, spec->n_argv * sizeof(char *));
	if (spec->n_env > 0)
		memcpy(r->envp, spec->env, spec->n_env * sizeof(char *));
	r->plan.path = SANDBOX_DEFAULT_PATH;
	for (size_t i = 0; i < spec->n_env; i++) {
		if (strncmp(spec->env[i], "PATH=", 5) == 0)
			r->plan.path = spec->env[i] + 5;
	}

	if (pipe2(r->msg, O_CLOEXEC) < 0 || pipe2(r->alive, O_CLOEXEC) < 0)
		return plate_err_new(err, errno, "create pipes");
	if (spec->output != NULL && (pipe2(r->out, O_CLOEXEC) < 0 || pipe2(r->err, O_CLOEXEC) < 0))
		return plate_err_new(err, errno, "create output pipes");
	src[0] = spec->stdin_fd >= 0 ? spec->stdin_fd : null_fd;
	src[1] = spec->output != NULL	? r->out[1]
		 : spec->stdout_fd >= 0 ? spec->stdout_fd
					: null_fd;
	src[2] = spec->output != NULL	? r->err[1]
		 : spec->stderr_fd >= 0 ? spec->stderr_fd
					: null_fd;
	/* Copies above 2, so the child's dup2() onto 0, 1 and 2 can never overwrite a source
	 * it still needs, whatever descriptors the caller passed. */
	for (int i = 0; i < 3; i++) {
		r->stdio[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
		if (r->stdio[i] < 0)
			return plate_err_new(err, errno, "duplicate descriptor %d for the command",
					     src[i]);
	}
	close_fd(&r->out[1]);
	close_fd(&r->err[1]);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Where the kernel finds this process's command line and environment: fields 48 to 51 of
 * /proc/self/stat (after the parenthesised name, which may contain anything). */
static int find_cmdline(struct sandbox_plan *p, struct plate_error **err)
{
	_cleanup_close_ int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	char buf[4096], *s;
	unsigned long v[4];
	ssize_t n;
	int field;

	if (fd < 0)
		return plate_err_new(err, errno, "open '/proc/self/stat'");
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return plate_err_new(err, n < 0 ? errno : EIO, "read '/proc/self/stat'");
	buf[n] = '\0';
	s = strrchr(buf, ')');
	for (field = 2; s != NULL && field < 51; field++) {
		s = strchr(s + 1, ' ');
		if (s != NULL && field >= 47)
			v[field - 47] = strtoul(s + 1, NULL, 10);
	}
	if (s == NULL || v[1] < v[0] || v[3] < v[2])
		return plate_err_new(err, EINVAL, "no argument range in '/proc/self/stat'");
	p->args = (char *)v[0];
	p->args_len = v[1] - v[0];
	p->envs = (char *)v[2];
	p->envs_len = v[3] - v[2];
	return 0;
}

static int prepare_plan(struct run *r, struct plate_error **err)
{
	const struct sandbox_spec *spec = r->spec;
	struct sandbox_plan *p = &r->plan;
	size_t n = 0;

	r->keep = malloc(7 * sizeof(int));
	if (r->keep == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	r->keep[n++] = r->msg[1];
	r->keep[n++] = r->alive[0];
	if (r->net.ready[0] >= 0)
		r->keep[n++] = r->net.ready[0];
	for (int i = 0; i < 3; i++)
		r->keep[n++] = r->stdio[i];
	if (r->upper_fd >= 0)
		r->keep[n++] = r->upper_fd;
	qsort(r->keep, n, sizeof(int), cmp_int);

	p->spec = spec;
	p->seccomp = r->seccomp;
	p->root = r->root;
	p->overlay = spec->rootfs_mode == SANDBOX_ROOTFS_OVERLAY;
	p->chroot = spec->isolation == SANDBOX_ISOLATION_CHROOT;
	p->caps = p->chroot ? SANDBOX_CHROOT_CAPS : SANDBOX_DEFAULT_CAPS;
	p->rootless = userns_nested();
	p->tty_gid = !p->rootless || userns_maps_gid(5);
	p->no_setgroups = p->rootless && userns_setgroups_denied();
	p->upper_fd = r->upper_fd;
	p->hostname = spec->hostname != NULL ? spec->hostname : SANDBOX_DEFAULT_HOSTNAME;
	for (int i = 0; i < SANDBOX_N_ETC_FILES; i++)
		p->etc_sources[i] = r->etc_paths[i];
	p->mount_dirs = r->mount_dirs;
	p->argv = (char *const *)r->argv;
	p->envp = (char *const *)r->envp;
	p->msg_fd = r->msg[1];
	p->alive_fd = r->alive[0];
	p->net_ready_fd = r->net.ready[0];
	for (int i = 0; i < 3; i++)
		p->stdio[i] = r->stdio[i];
	p->keep_fds = r->keep;
	p->n_keep = n;
	return find_cmdline(p, err);
}

static int prepare(struct run *r, struct plate_error **err)
{
	const struct sandbox_spec *spec = r->spec;
	const char *hostname = spec->hostname != NULL ? spec->hostname : SANDBOX_DEFAULT_HOSTNAME;
	_cleanup_close_ int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	_cleanup_free_ char *tmpl = NULL;

	if (null_fd < 0)
		return plate_err_new(err, errno, "open '/dev/null'");
	/* poll() would report a closed descriptor as ready, cancelling every run at once. */
	if (spec->cancel_fd >= 0 && fcntl(spec->cancel_fd, F_GETFD) < 0)
		return plate_err_new(err, errno, "cancel descriptor %d", spec->cancel_fd);
	if (asprintf(&tmpl, "%s/sandbox-XXXXXX", spec->tmpdir) < 0) {
		tmpl = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (mkdtemp(tmpl) == NULL)
		return plate_err_new(err, errno, "create a scratch directory in '%s'",
				     spec->tmpdir);
	r->scratch = steal_pointer(&tmpl);
	r->scratch_fd = open(r->scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r->scratch_fd < 0)
		return plate_err_new(err, errno, "open '%s'", r->scratch);

	if (spec->rootfs_mode == SANDBOX_ROOTFS_OVERLAY) {
		if (prepare_overlay(r, err) < 0)
			return -1;
	} else {
		if (open_dir("rootfs", spec->rootfs, &r->rootfs_fd, err) < 0)
			return -1;
		r->root = strdup(spec->rootfs);
		if (r->root == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
	}

	if (spec->network == SANDBOX_NET_PRIVATE &&
	    sandbox_net_prepare(&r->net, spec, r->scratch_fd, r->scratch, err) < 0)
		return -1;
	if (spec->etc_files & SANDBOX_ETC_RESOLV_CONF) {
		_cleanup_buf_ struct buf resolv = BUF_INIT(2 * SANDBOX_MAX_RESOLV_CONF);

		if (spec->network == SANDBOX_NET_PRIVATE) {
			if (sandbox_private_resolv_conf(spec->resolv_conf, &resolv) < 0)
				return plate_err_new(err, errno, "generate /etc/resolv.conf");
		} else if (spec->resolv_conf != NULL &&
			   buf_addstr(&resolv, spec->resolv_conf) < 0) {
			return plate_err_new(err, errno, "copy /etc/resolv.conf");
		}
		if (write_scratch_file(r, SANDBOX_ETC_FILE_RESOLV, resolv.data, err) < 0)
			return -1;
	}
	if (spec->etc_files & SANDBOX_ETC_HOSTS) {
		_cleanup_buf_ struct buf hosts = BUF_INIT(4096);

		if (sandbox_hosts_file(hostname, &hosts) < 0)
			return plate_err_new(err, errno, "generate /etc/hosts");
		if (write_scratch_file(r, SANDBOX_ETC_FILE_HOSTS, hosts.data, err) < 0)
			return -1;
	}
	if (spec->etc_files & SANDBOX_ETC_HOSTNAME) {
		_cleanup_buf_ struct buf name = BUF_INIT(128);

		if (buf_addf(&name, "%s\n", hostname) < 0)
			return plate_err_new(err, errno, "generate /etc/hostname");
		if (write_scratch_file(r, SANDBOX_ETC_FILE_HOSTNAME, name.data, err) < 0)
			return -1;
	}
	if (prepare_mounts(r, err) < 0 || prepare_process(r, null_fd, err) < 0)
		return -1;
	if (!spec->insecure && sandbox_seccomp_filter(spec->seccomp_cache, &r->seccomp, err) < 0)
		return -1;
	return prepare_plan(r, err);
}

static void handle_record(struct run *r, const struct sandbox_msg_header *h, const char *payload)
{
	switch ((enum sandbox_msg_type)h->type) {
	case SANDBOX_MSG_ERROR:
		/* The first failure is the cause; anything after it is a consequence. */
		if (r->child_error == NULL) {
			r->child_error = strndup(payload, h->len);
			r->child_errno = h->value;
		}
		break;
	case SANDBOX_MSG_STUB: {
		struct stub *grown;

		if (h->len < 2 || r->n_stubs >= MAX_STUBS)
			break;
		grown = realloc(r->stubs, (r->n_stubs + 1) * sizeof(*grown));
		if (grown == NULL)
			break;
		r->stubs = grown;
		r->stubs[r->n_stubs].kind = (enum sandbox_stub_kind)payload[0];
		r->stubs[r->n_stubs].path = strndup(payload + 1, h->len - 1);
		if (r->stubs[r->n_stubs].path != NULL)
			r->n_stubs++;
		break;
	}
	case SANDBOX_MSG_EXIT:
		r->have_exit = true;
		r->exit_status = h->value;
		if (h->len == sizeof(r->command_ns))
			memcpy(&r->command_ns, payload, sizeof(r->command_ns));
		break;
	default:
		break;
	}
}

/* Reads what is available on the message pipe and handles every complete record.
 * Returns false at end of file. */
static bool read_messages(struct run *r)
{
	ssize_t n;
	size_t off = 0;

	n = read(r->msg[0], r->inbox + r->inbox_len, sizeof(r->inbox) - r->inbox_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	r->inbox_len += (size_t)n;
	while (r->inbox_len - off >= sizeof(struct sandbox_msg_header)) {
		struct sandbox_msg_header h;

		memcpy(&h, r->inbox + off, sizeof(h));
		if (h.len > SANDBOX_MSG_MAX_PAYLOAD) {
			/* Not something the child writes: drop the stream rather than guess. */
			r->inbox_len = off = 0;
			break;
		}
		if (r->inbox_len - off < sizeof(h) + h.len)
			break;
		handle_record(r, &h, r->inbox + off + sizeof(h));
		off += sizeof(h) + h.len;
	}
	memmove(r->inbox, r->inbox + off, r->inbox_len - off);
	r->inbox_len -= off;
	return true;
}

static bool forward_output(struct run *r, int fd, int stream)
{
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	r->spec->output(r->spec->output_data, stream, chunk, (size_t)n);
	return true;
}

static long long now_ms(void)
{
	struct timespec ts;

	/* Monotonic time only bounds the wait; it never reaches an output. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum stop_reason {
	STOP_NONE,
	STOP_CANCELLED,
	STOP_TIMED_OUT
};

/* SIGKILL to pid 1 makes the kernel kill the whole pid namespace; without one (chroot
 * isolation) the command's process group, which pid 1's setsid() made pid 1's, goes too. */
static void kill_sandbox(const struct run *r, pid_t pid)
{
	kill(pid, SIGKILL);
	if (r->plan.chroot)
		kill(-pid, SIGKILL);
}

/* Runs until every pipe from the sandbox is closed, which happens once pid 1 has exited
 * (taking every process of the sandbox with it), then reaps pid 1 into *pid1_status. */
static enum stop_reason wait_for_sandbox(struct run *r, pid_t *pid, int *pid1_status)
{
	const struct sandbox_spec *spec = r->spec;
	long long deadline = spec->timeout_ms > 0 ? now_ms() + spec->timeout_ms : 0;
	enum stop_reason stop = STOP_NONE;
	bool msg_open = true;

	while (msg_open || r->out[0] >= 0 || r->err[0] >= 0) {
		struct pollfd fds[4];
		int nfds = 0, timeout = -1, ready;
		int i_msg = -1, i_out = -1, i_err = -1, i_cancel = -1;

		if (msg_open)
			fds[i_msg = nfds++] = (struct pollfd){ .fd = r->msg[0], .events = POLLIN };
		if (r->out[0] >= 0)
			fds[i_out = nfds++] = (struct pollfd){ .fd = r->out[0], .events = POLLIN };
		if (r->err[0] >= 0)
			fds[i_err = nfds++] = (struct pollfd){ .fd = r->err[0], .events = POLLIN };
		if (stop == STOP_NONE && spec->cancel_fd >= 0)
			fds[i_cancel = nfds++] =
				(struct pollfd){ .fd = spec->cancel_fd, .events = POLLIN };
		if (stop == STOP_NONE && deadline > 0) {
			long long left = deadline - now_ms();
			timeout = left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
		}
		ready = poll(fds, (nfds_t)nfds, timeout);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			/* Cannot wait properly: end the sandbox rather than leave it unattended. */
			kill_sandbox(r, *pid);
			break;
		}
		if (ready == 0 && stop == STOP_NONE && deadline > 0) {
			stop = STOP_TIMED_OUT;
			kill_sandbox(r, *pid);
			continue;
		}
		if (i_cancel >= 0 && fds[i_cancel].revents != 0) {
			stop = STOP_CANCELLED;
			kill_sandbox(r, *pid);
		}
		if (i_msg >= 0 && fds[i_msg].revents != 0)
			msg_open = read_messages(r);
		if (i_out >= 0 && fds[i_out].revents != 0 && !forward_output(r, r->out[0], 1))
			close_fd(&r->out[0]);
		if (i_err >= 0 && fds[i_err].revents != 0 && !forward_output(r, r->err[0], 2))
			close_fd(&r->err[0]);
	}
	*pid1_status = 0;
	while (waitpid(*pid, pid1_status, 0) < 0 && errno == EINTR)
		;
	*pid = -1;
	return stop;
}

int sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *result,
		struct plate_error **err)
{
	_cleanup_(run_release) struct run r;
	/* Declared after r, so released before it: pid 1 is dead before stubs are removed. */
	_cleanup_kill_child_ pid_t pid = -1;
	enum stop_reason stop;
	unsigned long flags;
	int pid1_status;

	run_init(&r, spec);
	if (sandbox_spec_validate(spec, err) < 0 || prepare(&r, err) < 0)
		return plate_err_wrap(err, "sandbox");

	flags = SIGCHLD;
	if (spec->isolation == SANDBOX_ISOLATION_NAMESPACES)
		flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
	if (spec->network != SANDBOX_NET_HOST)
		flags |= CLONE_NEWNET;
	pid = sandbox_clone(flags);
	if (pid == 0)
		sandbox_child_main(&r.plan);
	if (pid < 0) {
		plate_err_new(err, errno, "create namespaces");
		return plate_err_wrap(err, "sandbox");
	}
	close_fd(&r.msg[1]);
	close_fd(&r.alive[0]);
	close_fd(&r.net.ready[0]);
	for (int i = 0; i < 3; i++)
		close_fd(&r.stdio[i]);
	/* Pid 1 sets up the root meanwhile, and waits for the network only before the command. */
	if (spec->network == SANDBOX_NET_PRIVATE && sandbox_net_start(&r.net, pid, err) < 0)
		return plate_err_wrap(err, "sandbox");

	stop = wait_for_sandbox(&r, &pid, &pid1_status);
	if (r.child_error != NULL && r.child_errno == ENETDOWN && r.net.pid > 0) {
		/* The helper failed first: its status and last words are the cause. */
		_cleanup_free_ char *words = sandbox_net_last_words(&r.net);
		int status = 0;

		/* It closed the pipe, normally by exiting; one that lingers is ended here. */
		kill(r.net.pid, SIGKILL);
		if (waitpid(r.net.pid, &status, 0) == r.net.pid)
			r.net.pid = -1;
		plate_err_new(err, ENETDOWN,
			      "network helper '%s' %s %d before the network was up%s%s",
			      r.net.helper,
			      WIFSIGNALED(status) ? "was killed by signal" : "exited with",
			      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
			      words != NULL && *words != '\0' ? ": " : "",
			      words != NULL ? words : "");
		return plate_err_wrap(err, "sandbox");
	}
	if (r.child_error != NULL && r.child_errno == EPERM && userns_nested() &&
	    strncmp(r.child_error, "mount overlay", 13) == 0) {
		char why[256];

		userns_overlay_refusal(why, sizeof(why));
		plate_err_new(err, EPERM, "%s in the user namespace of a rootless build (%s)",
			      r.child_error, why);
		return plate_err_wrap(err, "sandbox");
	}
	if (r.child_error != NULL) {
		plate_err_new(err, r.child_errno, "%s", r.child_error);
		return plate_err_wrap(err, "sandbox");
	}
	if (!r.have_exit) {
		if (stop == STOP_CANCELLED)
			plate_err_new(err, ECANCELED, "command cancelled");
		else if (stop == STOP_TIMED_OUT)
			plate_err_new(err, ETIMEDOUT, "command timed out after %u ms",
				      spec->timeout_ms);
		else if (WIFSIGNALED(pid1_status))
			plate_err_new(err, 0, "pid 1 was killed by signal %d",
				      WTERMSIG(pid1_status));
		else
			plate_err_new(err, 0, "pid 1 exited with %d and no status",
				      WEXITSTATUS(pid1_status));
		return plate_err_wrap(err, "sandbox");
	}
	result->seconds = (double)r.command_ns / 1e9;
	if (WIFSIGNALED(r.exit_status)) {
		result->signal = WTERMSIG(r.exit_status);
		result->status = 128 + result->signal;
	} else {
		result->signal = 0;
		result->status = WEXITSTATUS(r.exit_status);
	}
	return 0;
}
