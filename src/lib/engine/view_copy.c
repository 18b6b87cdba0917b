/*
 * Copy views: what eng_view_run() does under chroot isolation, where mounts are refused
 * (a default `docker run` container).  Each view's layers are copied, bottom layer first
 * and whiteouts applied, into its mount point directory; the tree is then recorded
 * (path → inode, type, mode, owner, size, mtime, ctime), the work runs on the plain
 * directory, and a writable view's changes are moved into its upper directory in the
 * form an overlay would have left them: new and changed files, the parents they need with
 * their metadata, whiteouts (0/0 character devices, which need no CAP_MKNOD) for what was
 * removed, and an opaque mark (user.overlay.opaque, settable without CAP_SYS_ADMIN) on a
 * directory that was removed and made again.  So a layer made here hashes as one made
 * through overlayfs: the same digest.
 *
 * A file counts as changed when its inode, type, mode, owner, size, mtime or ctime moved.
 * ctime is set by the kernel on every write or metadata change and cannot be set back by
 * the command; the copy waits for the coarse clock to tick once after the record, so a
 * change made in the same tick as the copy still shows.  A directory counts as changed
 * only by its own mode or owner, or because something beneath it changed: overlayfs copies
 * a directory up for those reasons, not for its mtime.
 *
 * A read-only view (a COPY --from source, /etc/passwd) gets hard links to the layers' files
 * instead of copies: the engine only reads them.
 *
 * Device nodes in the layers are not copied (as rootless snapshots skip them): with no
 * nodev mount a node in the copy would open.  A RUN view leaves /dev, /proc and /sys out
 * of the record and the diff: in a namespaced RUN they are mounts whose contents never
 * reach the layer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "engine/engine_internal.h"
#include "layer/layer.h"

struct rec {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	struct timespec btime; /* directories: birth time, {0, 0} when unknown */
	bool seen;
	bool remade; /* a directory removed and made again: opaque, no whiteouts beneath */
};

enum change_kind {
	CH_FILE,
	CH_DIR,
	CH_OPAQUE,
	CH_WHITEOUT
};

struct change {
	enum change_kind kind;
	char *path;
	struct stat st; /* CH_DIR, CH_OPAQUE: the directory's final metadata */
};

struct copy_view {
	const struct eng_view *v;
	bool run;		/* a RUN's root: /dev, /proc and /sys are not the image's */
	int root;		/* the mount point */
	struct eng_strmap recs; /* path → struct rec (relative, "a/b") */
	struct change *changes;
	size_t n_changes, alloc_changes;
};

static bool excluded(const struct copy_view *cv, const char *path)
{
	static const char *const mounts[] = { "dev", "proc", "sys" };

	if (!cv->run)
		return false;
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		size_t n = strlen(mounts[i]);
		if (strncmp(path, mounts[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

/* A directory removed and made again may get the same inode number straight back (ext4,
 * tmpfs): its birth time tells the two apart where the filesystem keeps one. */
static struct timespec birth_time(int dirfd, const char *name)
{
	struct statx stx;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return (struct timespec){ 0 };
	return (struct timespec){ .tv_sec = stx.stx_btime.tv_sec,
				  .tv_nsec = stx.stx_btime.tv_nsec };
}

static int join(const char *dir, const char *name, char **out, struct plate_error **err)
{
	if (asprintf(out, "%s%s%s", dir, *dir ? "/" : "", name) < 0) {
		*out = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- removing ----------------------------------------------------------------------- */

static int remove_tree(int dirfd, const char *name, struct plate_error **err);

static int empty_dir(int fd, struct plate_error **err)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (d == NULL) {
		close(fd);
		return plate_err_new(err, errno, "cannot read a directory of a copy view");
	}
	while (r == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* Removing what readdir returned does not make it skip or repeat others. */
		r = remove_tree(dirfd(d), de->d_name, err);
	}
	closedir(d);
	return r;
}

/* rm -rf of dirfd/name without following symlinks. */
static int remove_tree(int dirfd, const char *name, struct plate_error **err)
{
	int fd;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return plate_err_new(err, errno, "cannot remove '%s' from a copy view", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s' in a copy view", name);
	if (empty_dir(fd, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return plate_err_new(err, errno, "cannot remove '%s' from a copy view", name);
	return 0;
}

/* ---- copying the layers ------------------------------------------------------------- */

static int set_meta(int dirfd, const char *name, const struct stat *st, struct plate_error **err)
{
	struct timespec t[2] = { st->st_atim, st->st_mtim };

	if (fchownat(dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return plate_err_new(err, errno, "cannot chown '%s' to %u:%u in a copy view", name,
				     (unsigned)st->st_uid, (unsigned)st->st_gid);
	/* After the chown, which clears setuid and setgid bits. */
	if (!S_ISLNK(st->st_mode) && fchmodat(dirfd, name, st->st_mode & 07777, 0) < 0)
		return plate_err_new(err, errno, "cannot chmod '%s' in a copy view", name);
	if (utimensat(dirfd, name, t, AT_SYMLINK_NOFOLLOW) < 0)
		return plate_err_new(err, errno, "cannot set the times of '%s' in a copy view",
				     name);
	return 0;
}

/* File capabilities and other extended attributes travel with a file (an overlay copy-up
 * keeps them too); overlayfs's own marks do not. */
static int copy_xattrs(int from, int to, const char *name, struct plate_error **err)
{
	char names[4096], value[4096];
	ssize_t len = flistxattr(from, names, sizeof(names));

	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *x = names + off;
		ssize_t n;
		if (strstr(x, ".overlay.") != NULL)
			continue;
		n = fgetxattr(from, x, value, sizeof(value));
		if (n >= 0 && fsetxattr(to, x, value, (size_t)n, 0) < 0)
			return plate_err_new(err, errno, "cannot copy attribute '%s' of '%s'", x,
					     name);
	}
	return 0;
}

static int copy_file(int from_dir, int to_dir, const char *name, const struct stat *st,
		     struct plate_error **err)
{
	_cleanup_close_ int in = openat(from_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	off_t left = st->st_size;

	if (in < 0)
		return plate_err_new(err, errno, "cannot open layer file '%s'", name);
	out = openat(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return plate_err_new(err, errno, "cannot create '%s' in a copy view", name);
	while (left > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return plate_err_new(err, n < 0 ? errno : EIO,
					     "cannot copy '%s' into a copy view", name);
		left -= n;
	}
	return copy_xattrs(in, out, name, err);
}

/* A stream over the directory dirfd (its own descriptor: closedir() leaves dirfd open);
 * NULL with errno set. */
static DIR *dir_stream(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d == NULL && fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return d;
}

static int apply_layer(int from, int to, bool link, struct plate_error **err);

static int apply_dir(int from, int to, const char *name, const struct stat *st, bool link,
		     struct plate_error **err)
{
	_cleanup_close_ int sub_from = -1, sub_to = -1;
	struct stat cur;

	sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_from < 0)
		return plate_err_new(err, errno, "cannot open layer directory '%s'", name);
	if (fstatat(to, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!S_ISDIR(cur.st_mode) || layer_overlay_is_opaque(sub_from))) {
		if (remove_tree(to, name, err) < 0)
			return -1;
	}
	if (mkdirat(to, name, 0700) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create '%s' in a copy view", name);
	sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_to < 0)
		return plate_err_new(err, errno, "cannot open '%s' in a copy view", name);
	if (apply_layer(sub_from, sub_to, link, err) < 0)
		return -1;
	return set_meta(to, name, st, err);
}

/* link: a read-only view, whose files the engine only reads: a hard link to the layer's
 * file instead of a copy (a COPY --from of one file must not copy a whole toolchain). */
static int apply_entry(int from, int to, const char *name, bool link, struct plate_error **err)
{
	struct stat st;

	if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return plate_err_new(err, errno, "cannot stat layer entry '%s'", name);
	if (S_ISDIR(st.st_mode))
		return apply_dir(from, to, name, &st, link, err);
	if (remove_tree(to, name, err) < 0)
		return -1;
	if (layer_overlay_is_whiteout(&st) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
	    S_ISSOCK(st.st_mode))
		return 0;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(from, name, target, sizeof(target) - 1);
		if (n < 0)
			return plate_err_new(err, errno, "cannot read layer link '%s'", name);
		target[n] = '\0';
		if (symlinkat(target, to, name) < 0)
			return plate_err_new(err, errno, "cannot create link '%s' in a copy view",
					     name);
	} else if (S_ISFIFO(st.st_mode)) {
		if (mkfifoat(to, name, 0600) < 0)
			return plate_err_new(err, errno, "cannot create fifo '%s' in a copy view",
					     name);
	} else if (link && linkat(from, name, to, name, 0) == 0) {
		return 0;
	} else if (copy_file(from, to, name, &st, err) < 0) {
		return -1;
	}
	return set_meta(to, name, &st, err);
}

static int apply_layer(int from, int to, bool link, struct plate_error **err)
{
	DIR *d = dir_stream(from);
	struct dirent *de;
	int r = 0;

	if (d == NULL)
		return plate_err_new(err, errno, "cannot read a layer directory");
	while (r == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = apply_entry(from, to, de->d_name, link, err);
	}
	if (r == 0 && errno != 0)
		r = plate_err_new(err, errno, "cannot read a layer directory");
	closedir(d);
	return r;
}

/* ---- the record and the diff -------------------------------------------------------- */

/* The next entry of the directory d (dirfd) that the view keeps: 1 with its name, its path
 * under rel (*path, replaced on each call, the caller frees the last) and its lstat; 0 at
 * the end; -1. */
static int next_entry(struct copy_view *cv, DIR *d, int dirfd, const char *rel, const char **name,
		      char **path, struct stat *st, struct plate_error **err)
{
	struct dirent *de;

	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			return errno == 0 ? 0
					  : plate_err_new(err, errno,
							  "cannot read '%s' in a copy view", rel);
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		free(*path);
		*path = NULL;
		if (join(rel, de->d_name, path, err) < 0)
			return -1;
		if (excluded(cv, *path))
			continue;
		if (fstatat(dirfd, de->d_name, st, AT_SYMLINK_NOFOLLOW) < 0)
			return plate_err_new(err, errno, "cannot stat '%s' in a copy view", *path);
		*name = de->d_name;
		return 1;
	}
}

static int record_tree(struct copy_view *cv, int dirfd, const char *rel, struct plate_error **err)
{
	DIR *d = dir_stream(dirfd);
	_cleanup_free_ char *path = NULL;
	const char *name;
	struct stat st;
	int r = 0;

	if (d == NULL)
		return plate_err_new(err, errno, "cannot read '%s' in a copy view", rel);
	while (r == 0 && (r = next_entry(cv, d, dirfd, rel, &name, &path, &st, err)) > 0) {
		struct rec *rec;

		r = 0;
		rec = malloc(sizeof(*rec));
		if (rec == NULL || eng_strmap_put(&cv->recs, path, rec, NULL) < 0) {
			free(rec);
			r = plate_err_new(err, ENOMEM, "out of memory");
			break;
		}
		*rec = (struct rec){ .mode = st.st_mode,
				     .uid = st.st_uid,
				     .gid = st.st_gid,
				     .ino = st.st_ino,
				     .size = st.st_size,
				     .mtime = st.st_mtim,
				     .ctime = st.st_ctim };
		if (S_ISDIR(st.st_mode)) {
			rec->btime = birth_time(dirfd, name);
			_cleanup_close_ int sub =
				openat(dirfd, name,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				r = plate_err_new(err, errno, "cannot open '%s' in a copy view",
						  path);
			else
				r = record_tree(cv, sub, path, err);
		}
	}
	closedir(d);
	return r;
}

static int add_change(struct copy_view *cv, enum change_kind kind, const char *path,
		      const struct stat *st, struct plate_error **err)
{
	if (cv->n_changes == cv->alloc_changes) {
		size_t want = cv->alloc_changes ? cv->alloc_changes * 2 : 64;
		struct change *g = reallocarray(cv->changes, want, sizeof(*g));
		if (g == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		cv->changes = g;
		cv->alloc_changes = want;
	}
	cv->changes[cv->n_changes] = (struct change){ .kind = kind, .path = strdup(path) };
	if (cv->changes[cv->n_changes].path == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (st != NULL)
		cv->changes[cv->n_changes].st = *st;
	cv->n_changes++;
	return 0;
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Walks the tree after the work; fresh: everything beneath is new (a new or remade
 * directory).  Returns 1 when something at or beneath rel changed, 0 when not, -1. */
static int diff_tree(struct copy_view *cv, int dirfd, const char *rel, bool fresh,
		     struct plate_error **err)
{
	DIR *d = dir_stream(dirfd);
	_cleanup_free_ char *path = NULL;
	const char *name;
	struct stat st;
	int r = 0, any = 0;

	if (d == NULL)
		return plate_err_new(err, errno, "cannot read '%s' in a copy view", rel);
	while (r == 0 && (r = next_entry(cv, d, dirfd, rel, &name, &path, &st, err)) > 0) {
		struct rec *old;
		size_t mark;

		r = 0;
		old = fresh ? NULL : eng_strmap_get(&cv->recs, path);
		if (old != NULL)
			old->seen = true;
		if (!S_ISDIR(st.st_mode)) {
			/* A directory replaced by a file takes its contents along. */
			if (old != NULL && S_ISDIR(old->mode))
				old->remade = true;
			if (old == NULL || old->ino != st.st_ino ||
			    (old->mode & S_IFMT) != (st.st_mode & S_IFMT) ||
			    old->mode != st.st_mode || old->uid != st.st_uid ||
			    old->gid != st.st_gid || old->size != st.st_size ||
			    !same_time(old->mtime, st.st_mtim) ||
			    !same_time(old->ctime, st.st_ctim)) {
				r = add_change(cv, CH_FILE, path, NULL, err);
				any = 1;
			}
			continue;
		}
		/* A directory: recorded before its children so parents come first; dropped
		 * again when neither it nor anything beneath changed. */
		{
			bool remade =
				old != NULL && (old->ino != st.st_ino || !S_ISDIR(old->mode) ||
						!same_time(old->btime, birth_time(dirfd, name)));
			bool is_new = old == NULL || remade;
			_cleanup_close_ int sub =
				openat(dirfd, name,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int below;

			if (sub < 0) {
				r = plate_err_new(err, errno, "cannot open '%s' in a copy view",
						  path);
				break;
			}
			if (remade)
				old->remade = true;
			mark = cv->n_changes;
			if ((r = add_change(cv, remade ? CH_OPAQUE : CH_DIR, path, &st, err)) < 0)
				break;
			below = diff_tree(cv, sub, path, is_new, err);
			if (below < 0) {
				r = -1;
				break;
			}
			if (!is_new && below == 0 && old->mode == st.st_mode &&
			    old->uid == st.st_uid && old->gid == st.st_gid) {
				free(cv->changes[mark].path);
				cv->n_changes = mark;
			} else {
				any = 1;
			}
		}
	}
	closedir(d);
	return r < 0 ? -1 : any;
}

/* What was recorded and is gone: a whiteout for the top-most such path only (a removed
 * directory takes its contents along), none beneath a remade (opaque) directory. */
static int find_removed(struct copy_view *cv, struct plate_error **err)
{
	for (size_t i = 0; i < cv->recs.n; i++) {
		const char *path = cv->recs.keys[i];
		struct rec *rec = cv->recs.values[i];
		const char *slash = strrchr(path, '/');

		if (rec->seen)
			continue;
		if (slash != NULL) {
			_cleanup_free_ char *parent = strndup(path, (size_t)(slash - path));
			struct rec *p = parent ? eng_strmap_get(&cv->recs, parent) : NULL;
			if (parent == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
			if (p != NULL && (!p->seen || p->remade))
				continue;
		}
		if (add_change(cv, CH_WHITEOUT, path, NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* A path of the tree, symlinks refused on the way: a process the command left behind may
 * still change the tree while its changes are collected, and plate runs as root there.
 * Returns the parent directory (closed by the caller) and points *name at the last part. */
static int open_parent_in(int root, const char *path, const char **name, struct plate_error **err)
{
	_cleanup_free_ char *parent = strdup(path);
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
	char *slash;
	int fd;

	if (parent == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	slash = strrchr(parent, '/');
	*name = slash != NULL ? path + (slash - parent) + 1 : path;
	if (slash != NULL)
		*slash = '\0';
	fd = (int)syscall(SYS_openat2, root, slash != NULL ? parent : ".", &how, sizeof(how));
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open the directory of '%s' in a copy view",
				     path);
	return fd;
}

/* A whiteout's parents exist in the tree unless they were remade: their metadata then
 * comes from the tree, as overlayfs copies them up. */
static int ensure_parents(struct copy_view *cv, int upper, const char *path,
			  struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(path);

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (char *s = strchr(copy, '/'); s != NULL; s = strchr(s + 1, '/')) {
		struct stat st;
		*s = '\0';
		if (fstatat(upper, copy, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			const char *name;
			_cleanup_close_ int dir = open_parent_in(cv->root, copy, &name, err);
			if (dir < 0)
				return -1;
			if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return plate_err_new(err, errno, "cannot stat '%s' in a copy view",
						     copy);
			if (mkdirat(upper, copy, 0700) < 0)
				return plate_err_new(err, errno, "cannot create '%s' in the layer",
						     copy);
			if (set_meta(upper, copy, &st, err) < 0)
				return -1;
		}
		*s = '/';
	}
	return 0;
}

/* The mark overlayfs keeps for a directory that hides the lower ones' contents; the user.
 * form, which rootless overlays use too, needs no CAP_SYS_ADMIN. */
static int set_opaque(int upper, const char *path, struct plate_error **err)
{
	_cleanup_close_ int fd =
		openat(upper, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)
		return plate_err_new(err, errno, "cannot mark '%s' opaque in the layer", path);
	return 0;
}

static int move_into_layer(struct copy_view *cv, int upper, const char *path,
			   struct plate_error **err)
{
	const char *name;
	_cleanup_close_ int dir = open_parent_in(cv->root, path, &name, err);

	if (dir < 0)
		return -1;
	if (renameat(dir, name, upper, path) < 0)
		return plate_err_new(err, errno, "cannot move '%s' into the layer", path);
	return 0;
}

static int apply_changes(struct copy_view *cv, struct plate_error **err)
{
	_cleanup_close_ int upper = open(cv->v->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (upper < 0)
		return plate_err_new(err, errno, "cannot open '%s'", cv->v->upper);
	for (size_t i = 0; i < cv->n_changes; i++) {
		const struct change *c = &cv->changes[i];
		struct stat st;
		/* What the upper directory already holds there is replaced, but for a
		 * directory that stays one. */
		if ((c->kind != CH_DIR || (fstatat(upper, c->path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					   !S_ISDIR(st.st_mode))) &&
		    remove_tree(upper, c->path, err) < 0)
			return -1;
		switch (c->kind) {
		case CH_FILE:
			if (ensure_parents(cv, upper, c->path, err) < 0)
				return -1;
			if (move_into_layer(cv, upper, c->path, err) < 0)
				return -1;
			break;
		case CH_DIR:
		case CH_OPAQUE:
			if (ensure_parents(cv, upper, c->path, err) < 0)
				return -1;
			if (mkdirat(upper, c->path, 0700) < 0 && errno != EEXIST)
				return plate_err_new(err, errno, "cannot create '%s' in the layer",
						     c->path);
			if (c->kind == CH_OPAQUE && set_opaque(upper, c->path, err) < 0)
				return -1;
			break;
		case CH_WHITEOUT:
			if (ensure_parents(cv, upper, c->path, err) < 0)
				return -1;
			if (mknodat(upper, c->path, S_IFCHR, makedev(0, 0)) < 0)
				return plate_err_new(err, errno, "cannot make a whiteout for '%s'",
						     c->path);
			break;
		default:
			PLATE_BUG("change kind %d", (int)c->kind);
		}
	}
	/* Directory metadata last: adding entries above moved their mtimes. */
	for (size_t i = cv->n_changes; i-- > 0;) {
		const struct change *c = &cv->changes[i];
		if ((c->kind == CH_DIR || c->kind == CH_OPAQUE) &&
		    set_meta(upper, c->path, &c->st, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- the view ------------------------------------------------------------------------ */

static int fill_view(struct copy_view *cv, struct plate_error **err)
{
	const struct eng_view *v = cv->v;

	cv->root = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cv->root < 0)
		return plate_err_new(err, errno, "cannot open '%s'", v->mountpoint);
	/* An upper directory a step already wrote to (a RUN's WORKDIR made first) is the
	 * top layer, as in the overlay. */
	for (size_t i = v->n_lowers + (v->upper != NULL); i-- > 0;) {
		const char *dir = i < v->n_lowers ? v->lowers[i] : v->upper;
		_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return plate_err_new(err, errno, "cannot open layer '%s'", dir);
		if (apply_layer(fd, cv->root, v->upper == NULL, err) < 0)
			return plate_err_wrap(err, "copy layer '%s'", dir);
	}
	return v->upper != NULL ? record_tree(cv, cv->root, "", err) : 0;
}

static int harvest_view(struct copy_view *cv, struct plate_error **err)
{
	if (cv->v->upper == NULL)
		return 0;
	if (diff_tree(cv, cv->root, "", false, err) < 0 || find_removed(cv, err) < 0)
		return -1;
	return apply_changes(cv, err);
}

static void copy_view_release(struct copy_view *cv)
{
	_cleanup_error_ struct plate_error *ignored = NULL;

	/* The copy is scratch: emptied now rather than at the end of the build, which may
	 * copy a large base once per step. */
	if (cv->root >= 0) {
		int fd = openat(cv->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			empty_dir(fd, &ignored);
		close(cv->root);
	}
	eng_strmap_release(&cv->recs, free);
	for (size_t i = 0; i < cv->n_changes; i++)
		free(cv->changes[i].path);
	free(cv->changes);
}

/* A change made in the same tick of the coarse clock as the copy would leave the ctime
 * as recorded: one tick passes between the record and the work. */
static void let_the_clock_tick(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_REALTIME_COARSE, &res) < 0 || res.tv_sec > 0)
		res = (struct timespec){ .tv_nsec = 10 * 1000 * 1000 };
	res.tv_nsec += 1000 * 1000;
	while (nanosleep(&res, &res) < 0 && errno == EINTR)
		;
}

int eng_copy_view_run(const struct eng_view *views, size_t n_views, eng_view_fn *fn, void *data,
		      struct plate_error **err)
{
	struct copy_view *cvs = calloc(n_views, sizeof(*cvs));
	int *fds = calloc(n_views + 1, sizeof(int));
	int r = -1;

	if (cvs == NULL || fds == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_views; i++)
		cvs[i] = (struct copy_view){ .v = &views[i], .run = views[i].run, .root = -1 };
	for (size_t i = 0; i < n_views; i++) {
		if (fill_view(&cvs[i], err) < 0)
			goto out;
		fds[i] = cvs[i].root;
	}
	let_the_clock_tick();
	if (fn(data, fds, err) < 0)
		goto out;
	for (size_t i = 0; i < n_views; i++)
		if (harvest_view(&cvs[i], err) < 0)
			goto out;
	r = 0;
out:
	for (size_t i = 0; cvs != NULL && i < n_views; i++)
		copy_view_release(&cvs[i]);
	free(cvs);
	free(fds);
	return r;
}
