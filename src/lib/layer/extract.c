/*
 * layer_extract(): a layer_reader feeding *at() calls relative to the target directory.
 *
 * Safety rules (layer.h has the contract):
 *   - paths come cleaned from the reader; parents are opened by safe.c, which refuses
 *     symlinks anywhere in them;
 *   - the final component is never followed: whatever is there is removed (recursively,
 *     without following) and recreated with O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat,
 *     mknodat or linkat — except a directory over a directory, which is kept;
 *   - a hardlink must name a path this extraction created (and not a directory);
 *   - overlay's own xattrs are never taken from a layer: they would steer overlayfs.
 * Directories are created owner-writable and get their real mode and mtime at the end,
 * once nothing more is created inside them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/extract_internal.h"
#include "layer/reader_internal.h"

/* Directories whose final mode and mtime are applied at the end. */
#define MAX_DEFERRED_DIRS (1u << 20)
/* Files at least this large get their writeback started as soon as they are written
 * (write_content).  Smaller ones are left to the syncfs, which batches them: starting
 * writeback file by file for the thousands of small files of a base image cost more
 * system time than it saved (measured on the golang:1.19 layer). */
#define EARLY_WRITEBACK_MIN (64ull * 1024)

struct deferred_dir {
	char *path;
	unsigned mode;
	long long mtime;
};

struct extraction {
	const struct layer_extract_options *opts;
	struct layer_extract_result *result;
	struct layer_reader *reader;
	struct layer_root root;
	bool chown;
	const char *overlay_prefix; /* "trusted.overlay." or "user.overlay." */
	struct deferred_dir *dirs;
	size_t n_dirs, cap_dirs;
};

static void warn(struct extraction *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct extraction *x, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (x->opts->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	x->opts->warn(x->opts->warn_data, msg);
}

static int mark_created(struct extraction *x, const char *path, struct plate_error **err)
{
	if (layer_hashset_add(&x->root.created, layer_hash(path, strlen(path))) < 0)
		return plate_err_new(err, ENOMEM, "cannot record created paths");
	return 0;
}

static int defer_dir(struct extraction *x, const char *path, const struct layer_entry *e,
		     struct plate_error **err)
{
	if (x->n_dirs == x->cap_dirs) {
		if (x->cap_dirs >= MAX_DEFERRED_DIRS)
			return plate_err_new(err, E2BIG, "more than %u directories",
					     MAX_DEFERRED_DIRS);
		size_t cap = x->cap_dirs ? 2 * x->cap_dirs : 64;
		struct deferred_dir *grown = realloc(x->dirs, cap * sizeof(*grown));
		if (grown == NULL)
			return plate_err_new(err, ENOMEM, "cannot record directories");
		x->dirs = grown;
		x->cap_dirs = cap;
	}
	struct deferred_dir *d = &x->dirs[x->n_dirs];
	if ((d->path = strdup(path)) == NULL)
		return plate_err_new(err, ENOMEM, "cannot record directories");
	d->mode = e->mode;
	d->mtime = e->mtime;
	x->n_dirs++;
	return 0;
}

/* Applies xattrs through fd, or through "/proc/self/fd/<pfd>/<name>" without following
 * when fd < 0 (symlinks and special files cannot be opened for fsetxattr). */
static int set_xattrs(struct extraction *x, const struct layer_entry *e, int fd, int pfd,
		      const char *name, struct plate_error **err)
{
	char proc[64 + LAYER_MAX_NAME];

	if (x->opts->flags & LAYER_EXTRACT_NO_XATTRS)
		return 0;
	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, name);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const struct layer_xattr *xa = &e->xattrs[i];
		int r;
		if (strncmp(xa->name, "trusted.overlay.", 16) == 0 ||
		    strncmp(xa->name, "user.overlay.", 13) == 0) {
			warn(x, "entry '%s': ignoring overlayfs xattr '%s'", e->path, xa->name);
			x->result->xattrs_ignored++;
			continue;
		}
		r = fd >= 0 ? fsetxattr(fd, xa->name, xa->value, xa->size, 0)
			    : lsetxattr(proc, xa->name, xa->value, xa->size, 0);
		if (r < 0) {
			/* As docker does: a filesystem or a user that cannot hold an xattr is
			 * not a reason to fail the layer. */
			if (errno == EPERM || errno == ENOTSUP || errno == EACCES) {
				warn(x, "entry '%s': xattr '%s' not set: %s", e->path, xa->name,
				     strerror(errno));
				x->result->xattrs_ignored++;
				continue;
			}
			return plate_err_new(err, errno, "cannot set xattr '%s'", xa->name);
		}
	}
	return 0;
}

static int set_owner(struct extraction *x, const struct layer_entry *e, int fd, int pfd,
		     const char *name, struct plate_error **err)
{
	uid_t uid = x->opts->set_owner ? x->opts->uid : (uid_t)e->uid;
	gid_t gid = x->opts->set_owner ? x->opts->gid : (gid_t)e->gid;
	int r;

	if (!x->chown)
		return 0;
	r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return plate_err_new(err, errno, "cannot chown to %u:%u", (unsigned)uid,
				     (unsigned)gid);
	return 0;
}

static int set_mtime(int fd, int pfd, const char *name, long long mtime, struct plate_error **err)
{
	struct timespec ts[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };
	int r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);

	if (r < 0)
		return plate_err_new(err, errno, "cannot set the mtime");
	return 0;
}

static int write_content(struct extraction *x, const struct layer_entry *e, int fd,
			 struct plate_error **err)
{
	unsigned long long end = 0;

	for (;;) {
		const void *buf;
		size_t len;
		int64_t off;
		int r = layer_reader_block(x->reader, &buf, &len, &off, err);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (off < 0 || (unsigned long long)off + len > e->size)
			return plate_err_new(err, EINVAL, "content beyond the entry size");
		const char *p = buf;
		while (len > 0) {
			ssize_t n = pwrite(fd, p, len, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return plate_err_new(err, n < 0 ? errno : EIO,
						     "cannot write the content");
			p += n;
			off += n;
			len -= (size_t)n;
		}
		if ((unsigned long long)off > end)
			end = (unsigned long long)off;
	}
	/* A sparse tail leaves the file short: extend it with a hole. */
	if (end < e->size && ftruncate(fd, (off_t)e->size) < 0)
		return plate_err_new(err, errno, "cannot set the file size");
	/* Starts writeback now, without waiting for it: extracted trees are made durable
	 * by one syncfs at commit, which otherwise finds the whole layer dirty and waits for
	 * all of it (0.6 s for 461 MB here); started early, the disk writes while the rest of
	 * the layer is inflated.  Advisory: an error only means the syncfs does the work. */
	if (end >= EARLY_WRITEBACK_MIN)
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static int extract_file(struct extraction *x, const struct layer_entry *e, int pfd,
			const char *name, struct plate_error **err)
{
	_cleanup_close_ int fd = -1;

	/* Create first: whatever is in the way (O_EXCL fails on any existing name, dangling
	 * symlinks included) is removed only then, saving a stat per file. */
	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (layer_remove_tree(&x->root, pfd, name, err) < 0)
			return -1;
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return plate_err_new(err, errno, "cannot create the file");
	if (write_content(x, e, fd, err) < 0 || set_owner(x, e, fd, pfd, name, err) < 0)
		return -1;
	/* After the chown, which clears set-user-ID and set-group-ID. */
	if (fchmod(fd, e->mode) < 0)
		return plate_err_new(err, errno, "cannot set the mode");
	if (set_xattrs(x, e, fd, pfd, name, err) < 0)
		return -1;
	return set_mtime(fd, pfd, name, e->mtime, err);
}

static int extract_dir(struct extraction *x, const struct layer_entry *e, int pfd, const char *name,
		       struct plate_error **err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
	    layer_remove_tree(&x->root, pfd, name, err) < 0)
		return -1;
	if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create the directory");
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open the directory");
	if (set_owner(x, e, fd, pfd, name, err) < 0)
		return -1;
	/* Owner rwx until the end, so that entries can be created inside even when the
	 * final mode is read-only and we are not root. */
	if (fchmod(fd, e->mode | 0700) < 0)
		return plate_err_new(err, errno, "cannot set the mode");
	if (set_xattrs(x, e, fd, pfd, name, err) < 0)
		return -1;
	return defer_dir(x, e->path, e, err);
}

static int extract_symlink(struct extraction *x, const struct layer_entry *e, int pfd,
			   const char *name, struct plate_error **err)
{
	if (layer_remove_tree(&x->root, pfd, name, err) < 0)
		return -1;
	if (symlinkat(e->link_target, pfd, name) < 0)
		return plate_err_new(err, errno, "cannot create the symlink");
	if (set_owner(x, e, -1, pfd, name, err) < 0 || set_xattrs(x, e, -1, pfd, name, err) < 0)
		return -1;
	return set_mtime(-1, pfd, name, e->mtime, err);
}

static int extract_hardlink(struct extraction *x, const struct layer_entry *e, int pfd,
			    const char *name, struct plate_error **err)
{
	char tdir[LAYER_MAX_PATH + 1], q[LAYER_QUOTE_MAX];
	const char *tbase = layer_path_split(e->link_target, tdir);
	_cleanup_close_ int tfd = -1;
	struct stat st;
	int r;

	if (strcmp(e->link_target, e->path) == 0)
		return plate_err_new(err, EINVAL, "hardlink to itself");
	if (!layer_hashset_contains(&x->root.created,
				    layer_hash(e->link_target, strlen(e->link_target))))
		return plate_err_new(err, EINVAL,
				     "hardlink target '%s' is not an earlier entry of this layer",
				     layer_quote(e->link_target, strlen(e->link_target), q));
	r = layer_root_open_dir(&x->root, tdir, false, true, &tfd, err);
	if (r < 0)
		return plate_err_wrap(err, "hardlink target '%s'",
				      layer_quote(e->link_target, strlen(e->link_target), q));
	if (r > 0 || fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return plate_err_new(err, ENOENT, "hardlink target '%s' does not exist",
				     layer_quote(e->link_target, strlen(e->link_target), q));
	if (S_ISDIR(st.st_mode))
		return plate_err_new(err, EPERM, "hardlink target '%s' is a directory",
				     layer_quote(e->link_target, strlen(e->link_target), q));
	if (layer_remove_tree(&x->root, pfd, name, err) < 0)
		return -1;
	/* flags 0: a symlink target is linked itself, never followed */
	if (linkat(tfd, tbase, pfd, name, 0) < 0)
		return plate_err_new(err, errno, "cannot create the hardlink");
	return 0;
}

static int extract_node(struct extraction *x, const struct layer_entry *e, int pfd,
			const char *name, struct plate_error **err)
{
	mode_t type = e->type == LAYER_ENTRY_CHAR    ? S_IFCHR
		      : e->type == LAYER_ENTRY_BLOCK ? S_IFBLK
						     : S_IFIFO;

	if (type != S_IFIFO) {
		switch (x->opts->devices) {
		case LAYER_DEVICES_CREATE:
			break;
		case LAYER_DEVICES_SKIP:
			warn(x, "entry '%s': device node skipped", e->path);
			x->result->skipped++;
			return 0;
		case LAYER_DEVICES_REFUSE:
		default:
			return plate_err_new(err, EPERM, "device nodes are not allowed");
		}
	}
	if (layer_remove_tree(&x->root, pfd, name, err) < 0)
		return -1;
	if (mknodat(pfd, name, type | (e->mode & 0777), makedev(e->dev_major, e->dev_minor)) < 0)
		return plate_err_new(err, errno, "cannot create the %s",
				     type == S_IFIFO ? "fifo" : "device node");
	if (set_owner(x, e, -1, pfd, name, err) < 0)
		return -1;
	/* fchmodat cannot skip symlinks, but this is not one: we just made it. */
	if (fchmodat(pfd, name, e->mode, 0) < 0)
		return plate_err_new(err, errno, "cannot set the mode");
	if (set_xattrs(x, e, -1, pfd, name, err) < 0)
		return -1;
	return set_mtime(-1, pfd, name, e->mtime, err);
}

static int extract_whiteout(struct extraction *x, const struct layer_entry *e, int pfd,
			    const char *name, struct plate_error **err)
{
	if (layer_remove_tree(&x->root, pfd, name, err) < 0)
		return -1;
	if (x->opts->whiteouts == LAYER_WHITEOUT_APPLY)
		return 0;
	/* overlayfs whiteout: a character device 0/0 (Linux >= 5.8 lets anyone make it). */
	if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return plate_err_new(err, errno, "cannot create the overlay whiteout");
	return 0;
}

static int extract_opaque(struct extraction *x, const struct layer_entry *e,
			  struct plate_error **err)
{
	char xattr[32];
	int dfd;
	int r = layer_root_open_dir(&x->root, e->path, x->opts->whiteouts == LAYER_WHITEOUT_OVERLAY,
				    false, &dfd, err);

	if (r != 0)
		return r < 0 ? -1 : 0; /* APPLY and nothing there: nothing to hide */
	_cleanup_close_ int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open the directory");
	if (x->opts->whiteouts == LAYER_WHITEOUT_OVERLAY) {
		snprintf(xattr, sizeof(xattr), "%sopaque", x->overlay_prefix);
		if (fsetxattr(fd, xattr, "y", 1, 0) < 0)
			return plate_err_new(err, errno, "cannot set '%s'", xattr);
		return 0;
	}

	/* APPLY: remove what lower layers put there, keep what this layer created. */
	_cleanup_closedir_ DIR *d = fdopendir(steal_fd(&fd));
	struct dirent *de;
	char child[LAYER_MAX_PATH + 1];
	if (d == NULL)
		return plate_err_new(err, errno, "cannot read the directory");
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int n = snprintf(child, sizeof(child), "%s%s%s", e->path, e->path[0] ? "/" : "",
				 de->d_name);
		if (n < 0 || (size_t)n >= sizeof(child) ||
		    !layer_hashset_contains(&x->root.created, layer_hash(child, (size_t)n)))
			if (layer_remove_tree(&x->root, dirfd(d), de->d_name, err) < 0)
				return -1;
	}
	layer_root_invalidate(&x->root);
	return 0;
}

static int extract_entry(struct extraction *x, const struct layer_entry *e,
			 struct plate_error **err)
{
	char dir[LAYER_MAX_PATH + 1];
	const char *name;
	int pfd, r;
	bool create = true;

	if (e->type == LAYER_ENTRY_OPAQUE)
		return extract_opaque(x, e, err);
	name = layer_path_split(e->path, dir);
	if (e->type == LAYER_ENTRY_WHITEOUT && x->opts->whiteouts == LAYER_WHITEOUT_APPLY)
		create = false;
	r = layer_root_open_dir(&x->root, dir, create, false, &pfd, err);
	if (r < 0)
		return -1;
	if (r > 0)
		return 0; /* a whiteout below a directory that does not exist */

	switch (e->type) {
	case LAYER_ENTRY_FILE:
		r = extract_file(x, e, pfd, name, err);
		break;
	case LAYER_ENTRY_DIR:
		r = extract_dir(x, e, pfd, name, err);
		break;
	case LAYER_ENTRY_SYMLINK:
		r = extract_symlink(x, e, pfd, name, err);
		break;
	case LAYER_ENTRY_HARDLINK:
		r = extract_hardlink(x, e, pfd, name, err);
		break;
	case LAYER_ENTRY_CHAR:
	case LAYER_ENTRY_BLOCK:
	case LAYER_ENTRY_FIFO:
		r = extract_node(x, e, pfd, name, err);
		break;
	case LAYER_ENTRY_WHITEOUT:
		return extract_whiteout(x, e, pfd, name, err);
	case LAYER_ENTRY_OPAQUE:
	default:
		PLATE_BUG("unexpected entry type %d", (int)e->type);
	}
	if (r < 0)
		return -1;
	return mark_created(x, e->path, err);
}

/* Final modes and mtimes of directories, now that nothing else changes inside them. */
static int finish_dirs(struct extraction *x, struct plate_error **err)
{
	char dir[LAYER_MAX_PATH + 1], q[LAYER_QUOTE_MAX];

	for (size_t i = 0; i < x->n_dirs; i++) {
		struct deferred_dir *d = &x->dirs[i];
		const char *name = layer_path_split(d->path, dir);
		int pfd, r = layer_root_open_dir(&x->root, dir, false, false, &pfd, err);
		if (r > 0)
			continue; /* removed by a later entry */
		if (r < 0)
			return plate_err_wrap(err, "directory '%s'",
					      layer_quote(d->path, strlen(d->path), q));
		_cleanup_close_ int fd =
			openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue; /* replaced by a later entry */
			return plate_err_new(err, errno, "directory '%s': cannot open",
					     layer_quote(d->path, strlen(d->path), q));
		}
		if (fchmod(fd, d->mode) < 0 || set_mtime(fd, -1, NULL, d->mtime, err) < 0) {
			if (*err == NULL)
				plate_err_new(err, errno, "cannot set the mode");
			return plate_err_wrap(err, "directory '%s'",
					      layer_quote(d->path, strlen(d->path), q));
		}
	}
	return 0;
}

int layer_extract(int in_fd, int target_dirfd, const struct layer_extract_options *opts,
		  struct layer_extract_result *result, struct plate_error **err)
{
	static const struct layer_extract_options defaults = { 0 };
	struct layer_reader_options ropts = { 0 };
	struct extraction x = { 0 };
	struct layer_entry e;
	struct stat st;
	int r = -1, n;

	if (opts == NULL)
		opts = &defaults;
	if (fstat(target_dirfd, &st) < 0 || !S_ISDIR(st.st_mode))
		return plate_err_new(err, ENOTDIR, "extraction target is not a directory");
	memset(result, 0, sizeof(*result));
	x.opts = opts;
	x.result = result;
	switch (opts->owners) {
	case LAYER_OWNER_KEEP:
		x.chown = true;
		break;
	case LAYER_OWNER_IGNORE:
		x.chown = false;
		break;
	case LAYER_OWNER_AUTO:
	default:
		x.chown = geteuid() == 0;
		break;
	}
	x.overlay_prefix =
		(opts->flags & LAYER_EXTRACT_USER_XATTR) ? "user.overlay." : "trusted.overlay.";
	layer_root_init(&x.root, target_dirfd, !(opts->flags & LAYER_EXTRACT_NO_OPENAT2));
	ropts.expected_diff_id = opts->expected_diff_id;
	ropts.expected_digest = opts->expected_digest;
	ropts.limits = opts->limits;
	if (layer_reader_new(in_fd, &ropts, &x.reader, err) < 0)
		goto out;
	while ((n = layer_reader_next(x.reader, &e, err)) > 0) {
		if (extract_entry(&x, &e, err) < 0) {
			char q[LAYER_QUOTE_MAX];
			plate_err_wrap(err, "entry '%s'", layer_reader_raw_path(x.reader, q));
			goto out;
		}
	}
	if (n < 0 || finish_dirs(&x, err) < 0 ||
	    layer_reader_finish(x.reader, &result->layer, err) < 0)
		goto out;
	r = 0;
out:
	layer_reader_free(x.reader);
	layer_root_release(&x.root);
	for (size_t i = 0; i < x.n_dirs; i++)
		free(x.dirs[i].path);
	free(x.dirs);
	return r;
}
