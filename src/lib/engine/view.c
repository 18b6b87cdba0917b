/*
 * Overlay views of a stage's layers for the steps the engine performs itself (COPY, ADD,
 * WORKDIR, reading /etc/passwd).  The work runs in a thread that unshares its mount
 * namespace (CLONE_NEWNS implies CLONE_FS, which a thread may unshare alone), makes every
 * mount private and mounts the overlays there: the host never sees them, and they vanish
 * with the thread whatever happens.  Writing through the overlay leaves exactly the
 * change in the upper directory, whiteouts included, as a RUN does.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "engine/engine_internal.h"
#include "userns/userns.h"

int eng_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

int eng_mkdir_p(int rootfd, const char *path, uid_t uid, gid_t gid, bool *created,
		struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	char *p;

	if (created != NULL)
		*created = false;
	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (p = copy; *p == '/'; p++)
		;
	while (*p != '\0') {
		char *slash = strchr(p, '/');
		_cleanup_close_ int fd = -1, parent = -1;
		char saved = 0;

		if (slash != NULL) {
			saved = *slash;
			*slash = '\0';
		}
		fd = eng_open_in_root(rootfd, copy, O_PATH | O_DIRECTORY, 0);
		if (fd < 0 && errno == ENOENT) {
			char *last = strrchr(copy, '/');
			const char *name = last ? last + 1 : copy;
			if (last != NULL)
				*last = '\0';
			parent = eng_open_in_root(rootfd, last ? copy : "/", O_PATH | O_DIRECTORY,
						  0);
			if (last != NULL)
				*last = '/';
			if (parent < 0)
				return plate_err_new(err, errno, "cannot create directory '%s'",
						     copy);
			if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
				return plate_err_new(err, errno, "cannot create directory '%s'",
						     copy);
			fd = eng_open_in_root(rootfd, copy, O_RDONLY | O_DIRECTORY, 0);
			if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, 0755) < 0)
				return plate_err_new(err, errno, "cannot create directory '%s'",
						     copy);
			if (created != NULL)
				*created = true;
		} else if (fd < 0) {
			return plate_err_new(err, errno, "cannot create directory '%s'", copy);
		} else if (created != NULL) {
			*created = false;
		}
		if (slash == NULL)
			break;
		*slash = saved;
		p = slash + 1;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* ---- the view thread ---------------------------------------------------------------- */

struct view_job {
	const struct eng_view *views;
	size_t n_views;
	const char *empty[2];
	eng_view_fn *fn;
	void *data;
	struct plate_error *err;
	int rc;
};

/* Root of a user namespace: overlayfs keeps its marks in user.overlay.* ("userxattr") and
 * then takes redirect_dir=nofollow, not off (which means "follow"); neither creates any. */
#define OVERLAY_OPTS ",index=off,redirect_dir=off,metacopy=off"
#define OVERLAY_ROOTLESS_OPTS ",userxattr,index=off,redirect_dir=nofollow,metacopy=off"

/* In a user namespace, overlayfs needs Linux 5.11 (or a distribution's backport): an older
 * kernel refuses with EPERM, which alone would not say why. */
static int overlay_error(const char *mountpoint, struct plate_error **err)
{
	char why[256];
	int e = errno;

	if (e == EPERM && userns_nested()) {
		userns_overlay_refusal(why, sizeof(why));
		return plate_err_new(err, e,
				     "cannot mount overlay on '%s' in the user namespace of a "
				     "rootless build (%s)",
				     mountpoint, why);
	}
	return plate_err_new(err, e, "cannot mount overlay on '%s'", mountpoint);
}

/* Mounts one overlay.  Lower directories are passed as /proc/self/fd/N, opened in this
 * namespace (overlayfs refuses paths of another namespace's mounts, and the option string
 * must fit in a page whatever the store's path). */
static int mount_view(const struct eng_view *v, const char *const empty[2], bool readonly,
		      struct plate_error **err)
{
	_cleanup_buf_ struct buf opts = BUF_INIT(4096);
	const char **dirs = calloc(v->n_lowers + 2, sizeof(*dirs));
	int *fds = calloc(v->n_lowers + 2, sizeof(int));
	size_t n_dirs = 0, n_fds = 0;
	int r = -1;

	if (fds == NULL || dirs == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < v->n_lowers; i++)
		dirs[n_dirs++] = v->lowers[i];
	/* An overlay needs a lower directory, a read-only one two, and the same directory
	 * may not appear twice: empty directories at the bottom make up the count. */
	if (n_dirs == 0)
		dirs[n_dirs++] = empty[0];
	if (readonly && n_dirs < 2)
		dirs[n_dirs++] = empty[1];
	if (buf_addstr(&opts, "lowerdir=") < 0)
		goto toolong;
	for (size_t i = 0; i < n_dirs; i++) {
		int fd = open(dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			plate_err_new(err, errno, "cannot open layer '%s'", dirs[i]);
			goto out;
		}
		fds[n_fds++] = fd;
		if (buf_addf(&opts, "%s/proc/self/fd/%d", i > 0 ? ":" : "", fd) < 0)
			goto toolong;
	}
	if (!readonly && buf_addf(&opts, ",upperdir=%s,workdir=%s", v->upper, v->work) < 0)
		goto toolong;
	if (buf_addstr(&opts, userns_nested() ? OVERLAY_ROOTLESS_OPTS : OVERLAY_OPTS) < 0)
		goto toolong;
	/* volatile: the end of the view does not syncfs the store's filesystem; the build
	 * syncs once when it publishes its snapshots.  Kernels before 5.10 refuse it. */
	if (!readonly) {
		size_t len = opts.len;
		if (buf_addstr(&opts, ",volatile") < 0)
			goto toolong;
		if (mount("overlay", v->mountpoint, "overlay", MS_NODEV, opts.data) == 0) {
			r = 0;
			goto out;
		}
		if (errno != EINVAL) {
			overlay_error(v->mountpoint, err);
			goto out;
		}
		opts.len = len;
		opts.data[len] = '\0';
	}
	/* nodev: the engine reads an image's /etc/passwd and COPY sources through views as
	 * host root, and opening a device node an image planted there (a watchdog, a tape)
	 * would run its driver; mknod still works, so device nodes are still copied. */
	if (mount("overlay", v->mountpoint, "overlay", MS_NODEV | (readonly ? MS_RDONLY : 0),
		  opts.data) < 0) {
		overlay_error(v->mountpoint, err);
		goto out;
	}
	r = 0;
	goto out;
toolong:
	plate_err_new(err, E2BIG, "too many layers for an overlay mount");
out:
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	free(fds);
	free(dirs);
	return r;
}

static void *view_thread(void *arg)
{
	struct view_job *job = arg;
	int *fds = calloc(job->n_views + 1, sizeof(int));
	size_t mounted = 0;

	job->rc = -1;
	if (fds == NULL) {
		plate_err_new(&job->err, ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i <= job->n_views; i++)
		fds[i] = -1;
	if (unshare(CLONE_NEWNS | CLONE_FS) < 0) {
		plate_err_new(&job->err, errno, "cannot make a private mount namespace");
		goto out;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		plate_err_new(&job->err, errno, "cannot make mounts private");
		goto out;
	}
	for (; mounted < job->n_views; mounted++) {
		const struct eng_view *v = &job->views[mounted];
		if (mount_view(v, job->empty, v->upper == NULL, &job->err) < 0)
			goto out;
		fds[mounted] = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[mounted] < 0) {
			plate_err_new(&job->err, errno, "cannot open '%s'", v->mountpoint);
			mounted++;
			goto out;
		}
	}
	job->rc = job->fn(job->data, fds, &job->err);
out:
	for (size_t i = 0; i < job->n_views; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	/* Unmounted explicitly so that an upper directory is complete and unused before the
	 * caller reads it; the namespace goes with the thread anyway. */
	while (mounted-- > 0) {
		const struct eng_view *v = &job->views[mounted];
		if (umount2(v->mountpoint, v->upper ? 0 : MNT_DETACH) < 0 && job->rc == 0) {
			plate_err_new(&job->err, errno, "cannot unmount '%s'", v->mountpoint);
			job->rc = -1;
		}
	}
	return NULL;
}

int eng_view_run(struct engine *e, const struct eng_view *views, size_t n_views, eng_view_fn *fn,
		 void *data, struct plate_error **err)
{
	struct view_job job = { .views = views,
				.n_views = n_views,
				.empty = { e->empty_dir, e->empty_dir2 },
				.fn = fn,
				.data = data };
	pthread_t t;
	int r;

	if (e->isolation == SANDBOX_ISOLATION_CHROOT)
		return eng_copy_view_run(views, n_views, fn, data, err);
	if ((r = pthread_create(&t, NULL, view_thread, &job)) != 0)
		return plate_err_new(err, r, "cannot start a thread");
	pthread_join(t, NULL);
	if (job.rc < 0) {
		if (job.err == NULL)
			return plate_err_new(err, EIO,
					     "internal error: view failed without an error");
		*err = job.err;
		return -1;
	}
	return 0;
}
