/*
 * COPY and ADD.  Sources are selected first (context files are hashed for the cache key);
 * on a cache miss they are copied through a writable overlay view of the stage's layers,
 * so the destination is resolved in the image's own tree (symlinks followed inside it,
 * existing directories merged) and the upper directory ends up holding exactly the new
 * layer.  Rules as BuildKit applies them:
 *   - sources (each match of a wildcard too) are copied one after the other: into the
 *     destination when it ends in '/' (or ".") or is a directory by then, else onto it;
 *   - a source directory's contents are copied, not the directory itself (--parents keeps
 *     the source path, or the part after a "/./" pivot);
 *   - files of one source that share an inode stay one hardlink group;
 *   - context files become 0:0, files of a stage or image keep their owners, --chown
 *     (names resolved in the destination's /etc/passwd and /etc/group; a number alone is
 *     the group too) overrides both, and created parent directories get the same owner;
 *   - ADD unpacks local tar archives (plain, or compressed with gzip, bzip2, xz or zstd)
 *     into the destination directory; anything else, a .gz that is no tar included, is
 *     copied as a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/output.h"
#include "layer/layer.h"
#include "engine/engine_internal.h"

struct copy_job {
	struct engine *e;
	bool add;
	bool from_context;
	const char *const *patterns; /* sources that are not heredocs */
	size_t n_patterns;
	const struct dockerfile_heredoc **heredocs;
	char **heredoc_data; /* expanded contents */
	size_t n_heredocs;
	struct url_source {
		const char *url;
		char *file;	 /* the download, in a scratch directory */
		char *name;	 /* the file name the URL gives */
		long long mtime; /* Last-Modified, or -1 */
		char digest[DIGEST_STRING_LEN + 1];
	} * urls;
	size_t n_urls;
	struct eng_selection *sel; /* context: selected before; other sources: in the view */
	const struct ignore *exclude;
	const char *what;
	char *dest;	   /* absolute, clean */
	bool dest_dir;	   /* written as a directory */
	const char *chown; /* NULL: keep (stage sources) or 0:0 (context) */
	int chmod;	   /* -1: keep */
	bool parents;
	struct dir_time {
		char *path;
		struct timespec mtime;
	} * dir_times;
	size_t n_dir_times;
	uid_t uid;
	gid_t gid;
	bool set_owner;
};

static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Copies bytes, through copy_file_range where the kernel can. */
static int copy_data(int in, int out, struct plate_error **err)
{
	char buf[1 << 16];

	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return plate_err_new(err, errno, "copy failed");
		break;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return plate_err_new(err, errno, "read failed");
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return plate_err_new(err, errno, "write failed");
			}
			off += w;
		}
	}
}

/* Removes whatever is at name so that a new entry can take its place. */
static int clear_target(int parent, const char *name, bool keep_dir, bool *is_dir,
			struct plate_error **err)
{
	struct stat st;

	*is_dir = false;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : plate_err_new(err, errno, "cannot stat '%s'", name);
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*is_dir = true;
			return 0;
		}
		if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
			return plate_err_new(err, errno, "cannot replace directory '%s'", name);
		return 0;
	}
	if (unlinkat(parent, name, 0) < 0)
		return plate_err_new(err, errno, "cannot replace '%s'", name);
	return 0;
}

static int record_dir_time(struct copy_job *j, const char *path, const struct stat *st)
{
	struct dir_time *grown = realloc(j->dir_times, (j->n_dir_times + 1) * sizeof(*grown));

	if (grown == NULL)
		return -1;
	j->dir_times = grown;
	if ((grown[j->n_dir_times].path = strdup(path)) == NULL)
		return -1;
	grown[j->n_dir_times++].mtime = st->st_mtim;
	return 0;
}

/* Links target to the file already written at first (the same hardlink group). */
static int put_hardlink(int rootfd, int parent, const char *name, const char *first,
			const char *target, struct plate_error **err)
{
	_cleanup_free_ char *fdir = dirname_of(first);
	_cleanup_close_ int fparent = -1;

	if (fdir == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	fparent = eng_open_in_root(rootfd, fdir, O_RDONLY | O_DIRECTORY, 0);
	if (fparent < 0 || linkat(fparent, basename_of(first), parent, name, 0) < 0)
		return plate_err_new(err, errno, "cannot link '%s' to '%s'", target, first);
	return 0;
}

/* Writes one entry at target (absolute in the root).  src is the entry's path in srcroot;
 * link_to, when not NULL, the target of the first file of its hardlink group. */
static int put_entry(struct copy_job *j, int rootfd, int srcroot, const char *src,
		     const struct eng_entry *en, const char *target, const char *link_to,
		     struct plate_error **err)
{
	_cleanup_free_ char *dir = dirname_of(target);
	const char *name = basename_of(target);
	_cleanup_close_ int parent = -1, out = -1, in = -1;
	uid_t uid = j->set_owner ? j->uid : (j->from_context ? 0 : en->st.st_uid);
	gid_t gid = j->set_owner ? j->gid : (j->from_context ? 0 : en->st.st_gid);
	mode_t mode = j->chmod >= 0 ? (mode_t)j->chmod : en->st.st_mode & 07777;
	struct timespec times[2] = { en->st.st_mtim, en->st.st_mtim };
	bool is_dir;

	if (dir == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (*name == '\0')
		return 0; /* the root itself */
	parent = eng_open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (parent < 0)
		return plate_err_new(err, errno, "cannot open destination directory '%s'", dir);
	if (clear_target(parent, name, S_ISDIR(en->st.st_mode), &is_dir, err) < 0)
		return plate_err_wrap(err, "'%s'", target);
	switch (en->st.st_mode & S_IFMT) {
	case S_IFREG:
		if (link_to != NULL)
			return put_hardlink(rootfd, parent, name, link_to, target, err);
		in = eng_open_in_root(srcroot, src, O_RDONLY, 0);
		if (in < 0)
			return plate_err_new(err, errno, "cannot open source '%s'", src);
		out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     0600);
		if (out < 0)
			return plate_err_new(err, errno, "cannot create '%s'", target);
		if (copy_data(in, out, err) < 0)
			return plate_err_wrap(err, "'%s' to '%s'", src, target);
		/* chown before chmod: chown clears set-id bits. */
		if (fchown(out, uid, gid) < 0 || fchmod(out, mode) < 0 || futimens(out, times) < 0)
			return plate_err_new(err, errno, "cannot set attributes of '%s'", target);
		return 0;
	case S_IFDIR:
		if (!is_dir && mkdirat(parent, name, 0700) < 0)
			return plate_err_new(err, errno, "cannot create directory '%s'", target);
		out = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (out < 0 || fchown(out, uid, gid) < 0 ||
		    fchmod(out, j->chmod >= 0 ? (mode_t)j->chmod : en->st.st_mode & 07777) < 0)
			return plate_err_new(err, errno, "cannot set attributes of '%s'", target);
		if (record_dir_time(j, target, &en->st) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		return 0;
	case S_IFLNK:
		if (symlinkat(en->link, parent, name) < 0 ||
		    fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    utimensat(parent, name, times, AT_SYMLINK_NOFOLLOW) < 0)
			return plate_err_new(err, errno, "cannot create link '%s'", target);
		return 0;
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		if (mknodat(parent, name, en->st.st_mode, en->st.st_rdev) < 0 ||
		    fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(parent, name, mode, 0) < 0)
			return plate_err_new(err, errno, "cannot create '%s'", target);
		return 0;
	default:
		return 0;
	}
}

/* ADD of a local tar archive: unpacked into dest, every entry owned by --chown's user when
 * it is given (BuildKit v0.23 and later).  bzip2 and xz are decompressed into the
 * transaction's scratch space first, since the layer reader knows only gzip and zstd. */
static int unpack(struct copy_job *j, int rootfd, int in, enum layer_archive kind, const char *src,
		  const char *dest, struct plate_error **err)
{
	struct layer_extract_options xo = {
		.limits = store_layer_limits(j->e->o.store),
		.whiteouts = LAYER_WHITEOUT_APPLY,
		.devices = LAYER_DEVICES_CREATE,
		.owners = LAYER_OWNER_KEEP,
		.flags = LAYER_EXTRACT_NO_XATTRS,
		.set_owner = j->set_owner,
		.uid = j->uid,
		.gid = j->gid,
	};
	struct layer_extract_result xr;
	_cleanup_free_ char *scratch = NULL, *plain = NULL;
	_cleanup_close_ int dir = -1, decoded = -1;

	if (eng_mkdir_p(rootfd, dest, j->set_owner ? j->uid : 0, j->set_owner ? j->gid : 0, NULL,
			err) < 0)
		return -1;
	dir = eng_open_in_root(rootfd, dest, O_RDONLY | O_DIRECTORY, 0);
	if (dir < 0)
		return plate_err_new(err, errno, "cannot open '%s'", dest);
	if (kind == LAYER_ARCHIVE_DECODE) {
		if (eng_scratch(j->e, "unpack", &scratch, err) < 0)
			return -1;
		if (asprintf(&plain, "%s/tar", scratch) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		decoded = open(plain, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (decoded < 0)
			return plate_err_new(err, errno, "cannot create '%s'", plain);
		if (layer_archive_decode(in, decoded, xo.limits, err) < 0)
			return plate_err_wrap(err, "cannot unpack '%s'", src);
		if (lseek(decoded, 0, SEEK_SET) < 0)
			return plate_err_new(err, errno, "cannot read '%s'", plain);
		in = decoded;
	}
	if (layer_extract(in, dir, &xo, &xr, err) < 0)
		return plate_err_wrap(err, "cannot unpack '%s'", src);
	return 0;
}

static bool dest_is_existing_dir(int rootfd, const char *dest)
{
	_cleanup_close_ int fd = eng_open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, 0);

	return fd >= 0;
}

static bool dest_is_dir(const struct copy_job *j, int rootfd)
{
	return j->dest_dir || j->parents || dest_is_existing_dir(rootfd, j->dest);
}

/* "--chown=4242": a number and no group. */
static bool chown_uid_only(const char *spec)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);

	return (colon == NULL || colon[1] == '\0') && len > 0 && strspn(spec, "0123456789") == len;
}

static int copy_match(struct copy_job *j, int rootfd, int srcroot, const struct eng_match *m,
		      bool dest_dir, struct plate_error **err)
{
	_cleanup_free_ char *base = NULL;
	uid_t puid = j->set_owner ? j->uid : 0;
	gid_t pgid = j->set_owner ? j->gid : 0;

	if (m->is_dir) {
		base = j->parents && m->path[m->keep] != '\0'
			       ? eng_path_join(j->dest, m->path + m->keep)
			       : strdup(j->dest);
		if (base == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (eng_mkdir_p(rootfd, base, puid, pgid, NULL, err) < 0)
			return -1;
	} else {
		_cleanup_free_ char *parent = NULL;
		if (dest_dir)
			base = eng_path_join(j->dest,
					     j->parents ? m->path + m->keep : basename_of(m->path));
		else
			base = strdup(j->dest);
		if (base == NULL || (parent = dirname_of(base)) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (eng_mkdir_p(rootfd, parent, puid, pgid, NULL, err) < 0)
			return -1;
		if (j->add && S_ISREG(m->entries[0].st.st_mode)) {
			_cleanup_close_ int in = eng_open_in_root(srcroot, m->path, O_RDONLY, 0);
			enum layer_archive kind =
				in >= 0 ? layer_archive_detect(in) : LAYER_ARCHIVE_NONE;
			if (kind != LAYER_ARCHIVE_NONE)
				return unpack(j, rootfd, in, kind, m->path,
					      dest_dir ? j->dest : base, err);
		}
		return put_entry(j, rootfd, srcroot, m->path, &m->entries[0], base, NULL, err);
	}
	for (size_t i = 1; i < m->n; i++) {
		const struct eng_entry *en = &m->entries[i];
		_cleanup_free_ char *src = NULL, *target = eng_path_join(base, en->rel);
		_cleanup_free_ char *link_to = NULL;
		if (target == NULL ||
		    asprintf(&src, "%s%s%s", m->path, *m->path ? "/" : "", en->rel) < 0 ||
		    (en->hardlink > 0 &&
		     (link_to = eng_path_join(base, m->entries[en->hardlink - 1].rel)) == NULL))
			return plate_err_new(err, ENOMEM, "out of memory");
		if (put_entry(j, rootfd, srcroot, src, en, target, link_to, err) < 0)
			return -1;
	}
	return 0;
}

/* A new file at target, mode 0600 until set_attributes(): its parent made as needed and
 * what stood at target removed.  The descriptor, or -1 with *err. */
static int create_target(const struct copy_job *j, int rootfd, const char *target,
			 struct plate_error **err)
{
	_cleanup_free_ char *parent = dirname_of(target);
	_cleanup_close_ int pfd = -1;
	bool is_dir;
	int fd;

	if (parent == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (eng_mkdir_p(rootfd, parent, j->set_owner ? j->uid : 0, j->set_owner ? j->gid : 0, NULL,
			err) < 0)
		return -1;
	pfd = eng_open_in_root(rootfd, parent, O_RDONLY | O_DIRECTORY, 0);
	if (pfd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", parent);
	if (clear_target(pfd, basename_of(target), false, &is_dir, err) < 0)
		return -1;
	fd = openat(pfd, basename_of(target), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot create '%s'", target);
	return fd;
}

/* --chown (else root) and --chmod (else mode) on a file create_target() made. */
static int set_attributes(const struct copy_job *j, int fd, mode_t mode, const char *target,
			  struct plate_error **err)
{
	if (fchown(fd, j->set_owner ? j->uid : 0, j->set_owner ? j->gid : 0) < 0 ||
	    fchmod(fd, j->chmod >= 0 ? (mode_t)j->chmod : mode) < 0)
		return plate_err_new(err, errno, "cannot set attributes of '%s'", target);
	return 0;
}

static int put_heredoc(struct copy_job *j, int rootfd, size_t i, bool dest_dir,
		       struct plate_error **err)
{
	_cleanup_free_ char *target =
		dest_dir ? eng_path_join(j->dest, j->heredocs[i]->name) : strdup(j->dest);
	_cleanup_close_ int fd = -1;
	const char *data = j->heredoc_data[i];

	if (target == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if ((fd = create_target(j, rootfd, target, err)) < 0)
		return -1;
	if (write_all(fd, data, strlen(data)) < 0)
		return plate_err_new(err, errno, "cannot write '%s'", target);
	return set_attributes(j, fd, 0644, target, err);
}

/* ADD <url>: the download, mode 0600, dated by Last-Modified when the server sent one. */
static int put_url(struct copy_job *j, int rootfd, const struct url_source *u, bool dest_dir,
		   struct plate_error **err)
{
	_cleanup_free_ char *target = dest_dir ? eng_path_join(j->dest, u->name) : strdup(j->dest);
	_cleanup_close_ int in = -1, out = -1;

	if (target == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if ((in = open(u->file, O_RDONLY | O_CLOEXEC)) < 0)
		return plate_err_new(err, errno, "cannot open '%s'", u->file);
	if ((out = create_target(j, rootfd, target, err)) < 0)
		return -1;
	if (copy_data(in, out, err) < 0)
		return plate_err_wrap(err, "'%s'", u->url);
	if (set_attributes(j, out, 0600, target, err) < 0)
		return -1;
	if (u->mtime >= 0) {
		struct timespec t[2] = { { .tv_sec = (time_t)u->mtime },
					 { .tv_sec = (time_t)u->mtime } };
		futimens(out, t);
	}
	return 0;
}

static int copy_in_view(void *data, const int *fds, struct plate_error **err)
{
	struct copy_job *j = data;
	int rootfd = fds[0], srcfd = fds[1];
	struct eng_selection local = { 0 };
	int srcroot = j->from_context ? j->e->context_fd : srcfd;
	int r = -1;

	if (j->chown != NULL) {
		struct eng_user u;
		if (eng_user_resolve_root(rootfd, j->chown, false, &u, err) < 0)
			return plate_err_wrap(err, "--chown=%s", j->chown);
		j->uid = u.uid;
		/* A user given by number alone is also the group (BuildKit's readUser). */
		j->gid = chown_uid_only(j->chown) ? (gid_t)u.uid : u.gid;
		j->set_owner = true;
		eng_user_release(&u);
	}
	if (!j->from_context && j->n_patterns > 0) {
		struct eng_select_opts so = { .exclude = j->exclude,
					      .what = j->what,
					      .allow_empty = true,
					      .parents = j->parents };
		if (eng_select(srcfd, j->patterns, j->n_patterns, &so, &local, err) < 0)
			return -1;
		j->sel = &local;
	}
	/* --parents copies a tree, the root or the pivot, into the destination directory,
	 * which therefore exists even when no wildcard matched. */
	if (j->parents && eng_mkdir_p(rootfd, j->dest, j->set_owner ? j->uid : 0,
				      j->set_owner ? j->gid : 0, NULL, err) < 0)
		goto out;
	/* Sources are copied one after the other, each into the destination when it ends in
	 * '/' or is a directory by then, else onto it: "COPY a b /notadir" leaves b there, as
	 * BuildKit does (it has no rule against several sources). */
	for (size_t i = 0; j->sel != NULL && i < j->sel->n; i++)
		if (copy_match(j, rootfd, srcroot, &j->sel->m[i], dest_is_dir(j, rootfd), err) < 0)
			goto out;
	for (size_t i = 0; i < j->n_heredocs; i++)
		if (put_heredoc(j, rootfd, i, dest_is_dir(j, rootfd), err) < 0)
			goto out;
	for (size_t i = 0; i < j->n_urls; i++)
		if (put_url(j, rootfd, &j->urls[i], dest_is_dir(j, rootfd), err) < 0)
			goto out;
	/* Directory times last, deepest first: writing into a directory changes its mtime. */
	for (size_t i = j->n_dir_times; i-- > 0;) {
		struct timespec t[2] = { j->dir_times[i].mtime, j->dir_times[i].mtime };
		_cleanup_close_ int fd =
			eng_open_in_root(rootfd, j->dir_times[i].path, O_RDONLY | O_DIRECTORY, 0);
		if (fd >= 0)
			futimens(fd, t);
	}
	r = 0;
out:
	if (j->sel == &local) {
		eng_selection_release(&local);
		j->sel = NULL;
	}
	return r;
}

int eng_context_tree(struct engine *e, struct eng_selection *sel, int dstfd,
		     struct plate_error **err)
{
	struct copy_job j = { .e = e,
			      .from_context = true,
			      .sel = sel,
			      .what = "build context",
			      .dest = (char *)"/",
			      .dest_dir = true,
			      .chmod = -1 };
	int fds[2] = { dstfd, -1 };
	int r = copy_in_view(&j, fds, err);

	for (size_t i = 0; i < j.n_dir_times; i++)
		free(j.dir_times[i].path);
	free(j.dir_times);
	return r;
}

struct hash_job {
	struct copy_job *j;
	struct digest *d;
};

/* The content of what a COPY --from selects in the source stage, for its cache key. */
static int hash_in_view(void *data, const int *fds, struct plate_error **err)
{
	struct hash_job *h = data;
	struct eng_select_opts so = { .exclude = h->j->exclude,
				      .what = h->j->what,
				      .allow_empty = true,
				      .parents = h->j->parents };
	struct eng_selection sel = { 0 };
	int r = -1;

	if (eng_select(fds[0], h->j->patterns, h->j->n_patterns, &so, &sel, err) == 0 &&
	    eng_selection_hash(NULL, fds[0], &sel, err) == 0) {
		eng_selection_key(h->d, &sel, true);
		r = 0;
	}
	eng_selection_release(&sel);
	return r;
}

/* ---- the step --------------------------------------------------------------------------- */

/* The heredoc the argument "<<EOF" (or "<<-EOF", "<<'EOF'") refers to, in order. */
static bool is_heredoc_arg(const char *arg)
{
	return arg[0] == '<' && arg[1] == '<' && arg[2] != '\0';
}

static void job_release(struct copy_job *j)
{
	for (size_t i = 0; i < j->n_urls; i++) {
		free(j->urls[i].file);
		free(j->urls[i].name);
	}
	free(j->urls);
	for (size_t i = 0; i < j->n_heredocs; i++)
		free(j->heredoc_data[i]);
	free(j->heredoc_data);
	free(j->heredocs);
	free(j->dest);
	for (size_t i = 0; i < j->n_dir_times; i++)
		free(j->dir_times[i].path);
	free(j->dir_times);
}

/* Strips leading tabs of every line (<<-). */
static char *chomp_tabs(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	bool bol = true;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		if (bol && *s == '\t')
			continue;
		bol = *s == '\n';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

static int url_source(struct copy_job *j, const char *url, struct plate_error **err)
{
	struct url_source *grown = realloc(j->urls, (j->n_urls + 1) * sizeof(*grown));
	const char *path, *end;
	struct url_source *u;

	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	j->urls = grown;
	u = &grown[j->n_urls++];
	memset(u, 0, sizeof(*u));
	u->url = url;
	u->mtime = -1;
	/* The file name is the last component of the URL's path. */
	path = strstr(url, "://") + 3;
	path = strchr(path, '/');
	end = path ? path + strcspn(path, "?#") : NULL;
	if (path != NULL) {
		const char *p = end;
		while (p > path && p[-1] == '/')
			p--;
		const char *start = p;
		while (start > path && start[-1] != '/')
			start--;
		if (p > start && (u->name = strndup(start, (size_t)(p - start))) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (u->name == NULL && j->dest_dir)
		return plate_err_new(err, EINVAL,
				     "cannot name the file of '%s': give a destination file name",
				     url);
	if (u->name == NULL && (u->name = strdup("download")) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

static int download(struct engine *e, struct url_source *u, const char *checksum,
		    struct plate_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;

	if (u->file != NULL)
		return 0;
	if (e->o.fetch_url == NULL)
		return plate_err_new(err, ENOTSUP,
				     "cannot download '%s': this build has no URL fetcher", u->url);
	if (eng_scratch(e, "download", &dir, err) < 0 || asprintf(&u->file, "%s/data", dir) < 0)
		return u->file == NULL && dir != NULL ? plate_err_new(err, ENOMEM, "out of memory")
						      : -1;
	fd = open(u->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot create '%s'", u->file);
	if (e->o.fetch_url(e->o.fetch_data, u->url, fd, ENG_ADD_URL_MAX, u->digest, &u->mtime,
			   err) < 0)
		return -1;
	if (checksum != NULL && strcmp(checksum, u->digest) != 0)
		return plate_err_new(err, 0, "checksum of '%s' is '%s', not '%s'", u->url,
				     u->digest, checksum);
	return 0;
}

/* One COPY or ADD, from its typed flags to its layer. */
struct copy_step {
	struct eng_step_ctx *c;
	struct copy_job j;
	const struct plan_source *from; /* COPY --from, NULL: the context */
	struct eng_selection sel;	/* context sources */
	struct eng_layers src_layers;	/* --from sources */
	const char **patterns;
	struct ignore *exclude;
	char *what;
	bool by_content; /* a stage source: looked up again by the content it selects */
	struct digest d;
	eng_digest key, chain, common;
	struct eng_layer layer;
	bool hit, empty;
};

static void copy_step_release(struct copy_step *s)
{
	digest_release(&s->d);
	eng_layer_release(&s->layer);
	eng_layers_release(&s->src_layers);
	eng_selection_release(&s->sel);
	ignore_free(s->exclude);
	free(s->patterns);
	free(s->what);
	job_release(&s->j);
}

/* The destination (relative to the WORKDIR) and the flags the planner typed. */
static int copy_setup(struct copy_step *s, struct plate_error **err)
{
	const struct plan_step *step = s->c->step;
	const struct plan_copy_flags *f = &step->copy;
	const char *wd = s->c->st->config.working_dir ? s->c->st->config.working_dir : "/";
	const char *dest;

	s->j = (struct copy_job){
		.e = s->c->e, .chmod = f->chmod, .chown = f->chown, .parents = f->parents
	};
	s->j.add = strcmp(step->instruction, "ADD") == 0;
	if (f->from >= 0)
		s->from = &step->sources[f->from];
	if (step->n_args < 2)
		return plate_err_new(err, EINVAL, "%s needs a source and a destination",
				     step->instruction);
	dest = step->args[step->n_args - 1];
	s->j.dest_dir = strcmp(dest, ".") == 0 || dest[strlen(dest) - 1] == '/' ||
			(strlen(dest) >= 2 && strcmp(dest + strlen(dest) - 2, "/.") == 0);
	if ((s->j.dest = eng_path_join(wd, dest)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (f->n_exclude > 0) {
		if (ignore_new((const char *const *)f->exclude, f->n_exclude, &s->exclude, err) < 0)
			return plate_err_wrap(err, "--exclude");
		s->j.exclude = s->exclude;
	}
	return 0;
}

/* A here-document source: its contents, expanded unless its marker was quoted. */
static int heredoc_source(struct copy_step *s, const struct dockerfile_heredoc *h,
			  struct plate_error **err)
{
	_cleanup_free_ char *body = h->chomp ? chomp_tabs(h->content) : strdup(h->content);
	char *text = NULL;

	if (body == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (!h->expand) {
		text = steal_pointer(&body);
	} else if (dockerfile_expand_word(body, strlen(body), s->c->e->escape, &s->c->vars,
					  DOCKERFILE_EXPAND_RAW_QUOTES, &text, err) < 0) {
		return plate_err_wrap(err, "here-document '%s'", h->name);
	}
	s->j.heredocs[s->j.n_heredocs] = h;
	s->j.heredoc_data[s->j.n_heredocs++] = text;
	return 0;
}

/* Sources: here-documents, URLs (ADD), then files. */
static int copy_sources(struct copy_step *s, struct plate_error **err)
{
	const struct plan_step *step = s->c->step;
	const char *checksum = step->copy.checksum;
	size_t next_heredoc = 0;

	s->patterns = calloc(step->n_args, sizeof(*s->patterns));
	s->j.heredocs = calloc(step->n_args, sizeof(*s->j.heredocs));
	s->j.heredoc_data = calloc(step->n_args, sizeof(*s->j.heredoc_data));
	if (s->patterns == NULL || s->j.heredocs == NULL || s->j.heredoc_data == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i + 1 < step->n_args; i++) {
		const char *a = step->args[i];
		if (is_heredoc_arg(a) && step->instr != NULL &&
		    next_heredoc < step->instr->n_heredocs) {
			if (heredoc_source(s, &step->instr->heredocs[next_heredoc++], err) < 0)
				return -1;
		} else if (s->j.add &&
			   (strncmp(a, "http://", 7) == 0 || strncmp(a, "https://", 8) == 0)) {
			if (url_source(&s->j, a, err) < 0)
				return -1;
		} else {
			s->patterns[s->j.n_patterns++] = a;
		}
	}
	s->j.patterns = s->patterns;
	if (checksum != NULL && (s->j.n_urls != 1 || s->j.n_patterns > 0 || s->j.n_heredocs > 0))
		return plate_err_new(err, EINVAL, "ADD --checksum needs a single URL source");
	return 0;
}

/* The key's part that does not depend on where files come from: parent, instruction,
 * destination, owner, here-documents and URLs. */
static int copy_common_key(struct copy_step *s, struct plate_error **err)
{
	struct eng_step_ctx *c = s->c;
	const struct plan_step *step = c->step;
	const char *checksum = step->copy.checksum;

	eng_inputs_begin(c);
	if (digest_init(&s->d, err) < 0)
		return -1;
	/* v2: the rules of issue 12 (hardlinks, --chown=UID, archives, --exclude, wildcards)
	 * give other layers for the same inputs; no entry of v1 may be reused. */
	eng_hash_field(&s->d, "plate copy v2");
	eng_hash_field(&s->d, step->copy.link ? "" : c->st->key);
	/* --link drops the parent key, which carried the epoch: mtimes still depend on it. */
	eng_hash_u64(&s->d, (uint64_t)c->e->o.epoch);
	eng_hash_field(&s->d, step->instruction);
	for (size_t i = 0; i < step->n_flags; i++)
		eng_hash_field(&s->d, step->flags[i]);
	for (size_t i = 0; i < step->n_args; i++)
		eng_hash_field(&s->d, step->args[i]);
	eng_hash_field(&s->d, s->j.dest);
	for (size_t i = 0; i < s->j.n_heredocs; i++)
		eng_hash_field(&s->d, s->j.heredoc_data[i]);
	/* A URL is known by its checksum when ADD gives one (no download on a hit), else by
	 * what it serves now. */
	for (size_t i = 0; i < s->j.n_urls; i++) {
		eng_hash_field(&s->d, s->j.urls[i].url);
		if (checksum == NULL && download(c->e, &s->j.urls[i], NULL, err) < 0)
			return -1;
		eng_hash_field(&s->d, checksum ? checksum : s->j.urls[i].digest);
		if (checksum == NULL)
			eng_hash_u64(&s->d, (uint64_t)s->j.urls[i].mtime);
	}
	digest_final(&s->d, s->common);
	return 0;
}

/* The sources' identity: a stage's key (cheap; by content later if that misses), an
 * image's digest, or the selected context files' content. */
static int copy_source_key(struct copy_step *s, struct plate_error **err)
{
	struct eng_step_ctx *c = s->c;
	struct engine *e = c->e;

	eng_hash_field(&s->d, s->common);
	if (s->from != NULL && s->from->stage >= 0) {
		struct eng_stage *from = &e->stages[s->from->stage];
		if (asprintf(&s->what, "stage '%s'", from->label) < 0)
			s->what = NULL;
		eng_hash_field(&s->d, "stage");
		eng_hash_field(&s->d, from->key);
		eng_inputs_set(c, "source", from->key);
		eng_inputs_set(c, "source_name", s->what);
		if (eng_layers_copy(&s->src_layers, &from->layers, err) < 0)
			return -1;
		s->by_content = true;
	} else if (s->from != NULL && strcmp(s->from->image, "scratch") == 0) {
		eng_hash_field(&s->d, "scratch");
		s->what = strdup("image 'scratch'");
	} else if (s->from != NULL) {
		const struct store_image *img;
		if (eng_image_get(e, s->from->image, e->plan->target_platform, &img, err) < 0 ||
		    eng_image_layers(e, img, &s->src_layers, err) < 0)
			return -1;
		eng_hash_field(&s->d, img->manifest_desc.digest);
		if (asprintf(&s->what, "image '%s'", s->from->image) < 0)
			s->what = NULL;
		eng_inputs_set(c, "source", img->manifest_desc.digest);
		eng_inputs_set(c, "source_name", s->what);
	} else if (s->j.n_patterns > 0) {
		struct eng_select_opts so = { .ignore = e->ignore,
					      .exclude = s->exclude,
					      .what = "build context",
					      .allow_empty = true,
					      .parents = s->j.parents };
		s->j.from_context = true;
		if (eng_select(e->context_fd, s->patterns, s->j.n_patterns, &so, &s->sel, err) <
			    0 ||
		    eng_selection_hash(e, e->context_fd, &s->sel, err) < 0)
			return -1;
		s->j.sel = &s->sel;
		eng_selection_key(&s->d, &s->sel, false);
		eng_inputs_selection(c, &s->sel);
	}
	if (s->from != NULL && s->what == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	s->j.what = s->what;
	digest_final(&s->d, s->key);
	memcpy(s->chain, s->key, sizeof(s->chain));
	return 0;
}

/* A stage source that missed by key: the content it selects, so that a COPY --from of
 * files that did not change (a CA bundle from a builder whose other files did) is still a
 * hit.  A hit is recorded under the first key too. */
static int copy_lookup_by_content(struct copy_step *s, const char **src_lowers, size_t n_src_lowers,
				  const char *srcmnt, struct plate_error **err)
{
	struct engine *e = s->c->e;
	struct eng_view sv = { .lowers = src_lowers,
			       .n_lowers = n_src_lowers,
			       .mountpoint = srcmnt };
	struct hash_job hj = { .j = &s->j, .d = &s->d };

	eng_hash_field(&s->d, s->common);
	eng_hash_field(&s->d, "content");
	if (eng_view_run(e, &sv, 1, hash_in_view, &hj, err) < 0)
		return -1;
	digest_final(&s->d, s->chain);
	if (eng_cache_lookup(s->c, s->chain, &s->hit, &s->empty, &s->layer, NULL, err) < 0)
		return -1;
	if (!s->hit)
		return 0;
	free(s->layer.cache_key);
	if ((s->layer.cache_key = strdup(s->key)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return eng_cache_record(s->c, s->key, s->empty ? NULL : &s->layer, s->chain, err);
}

/* The copy itself: through a writable view of the stage (none with --link) and a
 * read-only view of the source stage or image, into *upper. */
static int copy_files(struct copy_step *s, const char **src_lowers, size_t n_src_lowers,
		      const char *srcmnt, char **upper, struct plate_error **err)
{
	struct engine *e = s->c->e;
	_cleanup_free_ const char **lowers = NULL;
	_cleanup_free_ char *work = NULL, *mnt = NULL;
	struct eng_view views[2] = { { 0 } };
	size_t n_lowers = 0;

	for (size_t i = 0; i < s->j.n_urls; i++)
		if (download(e, &s->j.urls[i], s->c->step->copy.checksum, err) < 0)
			return -1;
	if (eng_scratch(e, "upper", upper, err) < 0 || eng_scratch(e, "work", &work, err) < 0 ||
	    eng_scratch(e, "mnt", &mnt, err) < 0)
		return -1;
	if (!s->c->step->copy.link &&
	    eng_layers_lowers(e, &s->c->st->layers, &lowers, &n_lowers, err) < 0)
		return -1;
	views[0] = (struct eng_view){ .lowers = lowers,
				      .n_lowers = n_lowers,
				      .upper = *upper,
				      .work = work,
				      .mountpoint = mnt };
	if (s->from != NULL)
		views[1] = (struct eng_view){ .lowers = src_lowers,
					      .n_lowers = n_src_lowers,
					      .mountpoint = srcmnt };
	return eng_view_run(e, views, s->from != NULL ? 2 : 1, copy_in_view, &s->j, err);
}

/* The copied files become the step's layer, recorded under its key (and its content key). */
static int copy_harvest(struct copy_step *s, const char *upper, struct plate_error **err)
{
	if (eng_harvest(s->c->e, s->c->st, upper, &s->layer, &s->empty, err) < 0)
		return -1;
	if (eng_cache_record(s->c, s->key, s->empty ? NULL : &s->layer, s->chain, err) < 0 ||
	    (s->by_content &&
	     eng_cache_record(s->c, s->chain, s->empty ? NULL : &s->layer, NULL, err) < 0))
		return -1;
	if (!s->empty && (s->layer.cache_key = strdup(s->key)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

static int copy_execute(struct copy_step *s, const char **src_lowers, size_t n_src_lowers,
			const char *srcmnt, struct plate_error **err)
{
	_cleanup_free_ char *upper = NULL;

	eng_explain_miss(s->c, s->key);
	if (copy_files(s, src_lowers, n_src_lowers, srcmnt, &upper, err) < 0)
		return -1;
	return copy_harvest(s, upper, err);
}

struct content_lookup {
	struct copy_step *s;
	const char **src_lowers;
	size_t n_src_lowers;
	const char *srcmnt;
	struct plate_error *err;
	int rc;
};

static void *content_lookup_thread(void *data)
{
	struct content_lookup *l = data;

	l->rc = copy_lookup_by_content(l->s, l->src_lowers, l->n_src_lowers, l->srcmnt, &l->err);
	return NULL;
}

/* A stage source that missed by key: its content digest is taken in another thread while
 * this one copies, since a miss by content (the usual case: the stage's files changed)
 * needs the copy anyway; a hit drops the copied files with the transaction.  The two read
 * the same source in their own views of it.  Copy views (chroot isolation) are directories
 * at the view's mountpoint, which the two cannot share: there, one after the other. */
static int copy_by_content(struct copy_step *s, const char **src_lowers, size_t n_src_lowers,
			   const char *srcmnt, struct plate_error **err)
{
	struct content_lookup l = {
		.s = s, .src_lowers = src_lowers, .n_src_lowers = n_src_lowers, .srcmnt = srcmnt
	};
	_cleanup_free_ char *upper = NULL;
	pthread_t t;
	int r;

	if (s->c->e->isolation == SANDBOX_ISOLATION_CHROOT ||
	    pthread_create(&t, NULL, content_lookup_thread, &l) != 0) {
		if (copy_lookup_by_content(s, src_lowers, n_src_lowers, srcmnt, err) < 0)
			return -1;
		return s->hit ? 0 : copy_execute(s, src_lowers, n_src_lowers, srcmnt, err);
	}
	r = copy_files(s, src_lowers, n_src_lowers, srcmnt, &upper, err);
	pthread_join(t, NULL);
	if (l.rc < 0) {
		/* The lookup's error explains the step first; the copy's, if any, goes. */
		if (r < 0)
			plate_error_free(*err);
		*err = l.err;
		return -1;
	}
	if (r < 0 || s->hit)
		return r;
	eng_explain_miss(s->c, s->key);
	return copy_harvest(s, upper, err);
}

/* BuildKit's history line: sources and destination, no flags. */
static int copy_apply(struct copy_step *s, struct plate_error **err)
{
	const struct plan_step *step = s->c->step;
	_cleanup_buf_ struct buf h = BUF_INIT(BUF_UNLIMITED);
	bool ok = buf_addstr(&h, step->instruction) == 0;
	int r;

	for (size_t i = 0; ok && i < step->n_args; i++)
		ok = buf_addf(&h, " %s", step->args[i]) == 0;
	if (!ok || buf_addstr(&h, " # buildkit") < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	s->c->history = h.data;
	r = eng_stage_apply(s->c, s->chain, s->empty ? NULL : &s->layer, s->empty, s->hit, err);
	s->c->history = NULL;
	return r;
}

int eng_step_copy(struct eng_step_ctx *c, struct plate_error **err)
{
	struct copy_step s = { .c = c };
	_cleanup_free_ const char **src_lowers = NULL;
	_cleanup_free_ char *srcmnt = NULL;
	size_t n_src_lowers = 0;
	bool claimed = false;
	int r = -1;

	if (copy_setup(&s, err) < 0 || copy_sources(&s, err) < 0 || copy_common_key(&s, err) < 0 ||
	    copy_source_key(&s, err) < 0 ||
	    eng_cache_lookup(c, s.key, &s.hit, &s.empty, &s.layer, s.chain, err) < 0 ||
	    (!s.hit && eng_group_claim(c, s.key, &s.hit, &s.empty, &s.layer, s.chain, err) < 0))
		goto out;
	claimed = !s.hit;
	if (!s.hit && s.from != NULL &&
	    (eng_scratch(c->e, "src", &srcmnt, err) < 0 ||
	     eng_layers_lowers(c->e, &s.src_layers, &src_lowers, &n_src_lowers, err) < 0))
		goto out;
	if (!s.hit && (s.by_content ? copy_by_content(&s, src_lowers, n_src_lowers, srcmnt, err)
				    : copy_execute(&s, src_lowers, n_src_lowers, srcmnt, err)) < 0)
		goto out;
	/* Built here, or found by content: either way the group's waiters take it. */
	if (claimed) {
		claimed = false;
		if (eng_group_done(c, s.key, s.empty ? NULL : &s.layer, s.chain, err) < 0)
			goto out;
	}
	r = copy_apply(&s, err);
out:
	if (claimed)
		eng_group_fail(c, s.key);
	copy_step_release(&s);
	return r;
}
