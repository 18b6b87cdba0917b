/*
 * COPY and ADD.  Sources are selected first (context files are hashed for the cache key);
 * on a cache miss they are copied through a writable overlay view of the stage's layers,
 * so the destination is resolved in the image's own tree (symlinks followed inside it,
 * existing directories merged) and the upper directory ends up holding exactly the new
 * layer.  Rules as BuildKit applies them:
 *   - a destination ending in '/' (or ".") is a directory, as is an existing directory;
 *     several sources need such a destination;
 *   - a source directory's contents are copied, not the directory itself (--parents keeps
 *     the source path, or the part after a "/./" pivot);
 *   - context files become 0:0, files of a stage or image keep their owners, --chown
 *     (names resolved in the destination's /etc/passwd and /etc/group) overrides both,
 *     and created parent directories get the same owner;
 *   - ADD unpacks local tar archives (plain, gzip, zstd) into the destination directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "registry/registry.h"
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
		char *file;     /* the download, in a scratch directory */
		char *name;     /* the file name the URL gives */
		long long mtime; /* Last-Modified, or -1 */
		char digest[DIGEST_STRING_LEN + 1];
	} *urls;
	size_t n_urls;
	struct eng_selection *sel;   /* context: selected before; other sources: in the view */
	const struct ignore *exclude;
	const char *what;
	char *dest;       /* absolute, clean */
	bool dest_dir;    /* written as a directory */
	const char *chown; /* NULL: keep (stage sources) or 0:0 (context) */
	int chmod;        /* -1: keep */
	bool parents;
	struct dir_time {
		char *path;
		struct timespec mtime;
	} *dir_times;
	size_t n_dir_times;
	uid_t uid;
	gid_t gid;
	bool set_owner;
};

/* "--name=value" / "--name" (true) among a step's flags. */
static const char *flag(const struct plan_step *step, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < step->n_flags; i++) {
		const char *f = step->flags[i];
		if (strncmp(f, "--", 2) != 0 || strncmp(f + 2, name, n) != 0)
			continue;
		if (f[2 + n] == '=')
			return f + 3 + n;
		if (f[2 + n] == '\0')
			return "true";
	}
	return NULL;
}

static bool flag_bool(const struct plan_step *step, const char *name)
{
	const char *v = flag(step, name);

	return v != NULL && strcmp(v, "false") != 0;
}

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

/* Writes one entry at target (absolute in the root).  src is the entry's path in srcroot. */
static int put_entry(struct copy_job *j, int rootfd, int srcroot, const char *src,
		     const struct eng_entry *en, const char *target, struct plate_error **err)
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
		in = eng_open_in_root(srcroot, src, O_RDONLY, 0);
		if (in < 0)
			return plate_err_new(err, errno, "cannot open source '%s'", src);
		out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
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

/* ADD: a local tar archive (plain, gzip or zstd) is unpacked instead of copied. */
static bool is_archive(int srcroot, const char *src)
{
	_cleanup_close_ int fd = eng_open_in_root(srcroot, src, O_RDONLY, 0);
	unsigned char b[512];
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, b, sizeof(b), 0);
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return true;
	if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
		return true;
	return n >= 262 && memcmp(b + 257, "ustar", 5) == 0;
}

static int unpack(struct copy_job *j, int rootfd, int srcroot, const char *src, const char *dest,
		  struct plate_error **err)
{
	struct layer_extract_options xo = {
		.limits = store_layer_limits(j->e->o.store),
		.whiteouts = LAYER_WHITEOUT_APPLY,
		.devices = LAYER_DEVICES_CREATE,
		.owners = LAYER_OWNER_KEEP,
		.flags = LAYER_EXTRACT_NO_XATTRS,
	};
	struct layer_extract_result xr;
	_cleanup_close_ int in = -1, dir = -1;

	if (eng_mkdir_p(rootfd, dest, j->set_owner ? j->uid : 0, j->set_owner ? j->gid : 0, NULL,
			err) < 0)
		return -1;
	in = eng_open_in_root(srcroot, src, O_RDONLY, 0);
	dir = eng_open_in_root(rootfd, dest, O_RDONLY | O_DIRECTORY, 0);
	if (in < 0 || dir < 0)
		return plate_err_new(err, errno, "cannot open '%s'", in < 0 ? src : dest);
	if (layer_extract(in, dir, &xo, &xr, err) < 0)
		return plate_err_wrap(err, "cannot unpack '%s'", src);
	return 0;
}

static bool dest_is_existing_dir(int rootfd, const char *dest)
{
	_cleanup_close_ int fd = eng_open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, 0);

	return fd >= 0;
}

static int copy_match(struct copy_job *j, int rootfd, int srcroot, const struct eng_match *m,
		      bool dest_dir, struct plate_error **err)
{
	_cleanup_free_ char *base = NULL;
	uid_t puid = j->set_owner ? j->uid : 0;
	gid_t pgid = j->set_owner ? j->gid : 0;

	if (m->is_dir) {
		base = j->parents && m->path[m->keep] != '\0' ? eng_path_join(j->dest, m->path + m->keep)
							       : strdup(j->dest);
		if (base == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (eng_mkdir_p(rootfd, base, puid, pgid, NULL, err) < 0)
			return -1;
	} else {
		_cleanup_free_ char *parent = NULL;
		if (dest_dir)
			base = eng_path_join(j->dest, j->parents ? m->path + m->keep : basename_of(m->path));
		else
			base = strdup(j->dest);
		if (base == NULL || (parent = dirname_of(base)) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (eng_mkdir_p(rootfd, parent, puid, pgid, NULL, err) < 0)
			return -1;
		if (j->add && S_ISREG(m->entries[0].st.st_mode) && is_archive(srcroot, m->path))
			return unpack(j, rootfd, srcroot, m->path, dest_dir ? j->dest : base, err);
		return put_entry(j, rootfd, srcroot, m->path, &m->entries[0], base, err);
	}
	for (size_t i = 1; i < m->n; i++) {
		const struct eng_entry *en = &m->entries[i];
		_cleanup_free_ char *src = NULL, *target = eng_path_join(base, en->rel);
		if (target == NULL || asprintf(&src, "%s%s%s", m->path, *m->path ? "/" : "", en->rel) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (put_entry(j, rootfd, srcroot, src, en, target, err) < 0)
			return -1;
	}
	return 0;
}

static int put_heredoc(struct copy_job *j, int rootfd, size_t i, bool dest_dir,
		       struct plate_error **err)
{
	_cleanup_free_ char *target = dest_dir ? eng_path_join(j->dest, j->heredocs[i]->name)
					       : strdup(j->dest);
	_cleanup_free_ char *parent = NULL;
	_cleanup_close_ int pfd = -1, fd = -1;
	const char *data = j->heredoc_data[i];
	size_t len = strlen(data);
	bool is_dir;

	if (target == NULL || (parent = dirname_of(target)) == NULL)
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
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return plate_err_new(err, errno, "cannot write '%s'", target);
		}
		off += (size_t)w;
	}
	if (fchown(fd, j->set_owner ? j->uid : 0, j->set_owner ? j->gid : 0) < 0 ||
	    fchmod(fd, j->chmod >= 0 ? (mode_t)j->chmod : 0644) < 0)
		return plate_err_new(err, errno, "cannot set attributes of '%s'", target);
	return 0;
}

/* ADD <url>: the download, mode 0600, dated by Last-Modified when the server sent one. */
static int put_url(struct copy_job *j, int rootfd, const struct url_source *u, bool dest_dir,
		   struct plate_error **err)
{
	_cleanup_free_ char *target = dest_dir ? eng_path_join(j->dest, u->name) : strdup(j->dest);
	_cleanup_free_ char *parent = NULL;
	_cleanup_close_ int pfd = -1, in = -1, out = -1;
	bool is_dir;

	if (target == NULL || (parent = dirname_of(target)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (eng_mkdir_p(rootfd, parent, j->set_owner ? j->uid : 0, j->set_owner ? j->gid : 0, NULL,
			err) < 0)
		return -1;
	pfd = eng_open_in_root(rootfd, parent, O_RDONLY | O_DIRECTORY, 0);
	in = open(u->file, O_RDONLY | O_CLOEXEC);
	if (pfd < 0 || in < 0)
		return plate_err_new(err, errno, "cannot open '%s'", pfd < 0 ? parent : u->file);
	if (clear_target(pfd, basename_of(target), false, &is_dir, err) < 0)
		return -1;
	out = openat(pfd, basename_of(target), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     0600);
	if (out < 0)
		return plate_err_new(err, errno, "cannot create '%s'", target);
	if (copy_data(in, out, err) < 0)
		return plate_err_wrap(err, "'%s'", u->url);
	if (fchown(out, j->set_owner ? j->uid : 0, j->set_owner ? j->gid : 0) < 0 ||
	    fchmod(out, j->chmod >= 0 ? (mode_t)j->chmod : 0600) < 0)
		return plate_err_new(err, errno, "cannot set attributes of '%s'", target);
	if (u->mtime >= 0) {
		struct timespec t[2] = { { .tv_sec = (time_t)u->mtime }, { .tv_sec = (time_t)u->mtime } };
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
	size_t sources;
	bool dest_dir;
	int r = -1;

	if (j->chown != NULL) {
		struct eng_user u;
		if (eng_user_resolve_root(rootfd, j->chown, false, &u, err) < 0)
			return plate_err_wrap(err, "--chown=%s", j->chown);
		j->uid = u.uid;
		j->gid = u.gid;
		j->set_owner = true;
		eng_user_release(&u);
	}
	if (!j->from_context && j->n_patterns > 0) {
		struct eng_select_opts so = { .exclude = j->exclude, .what = j->what };
		if (eng_select(srcfd, j->patterns, j->n_patterns, &so, &local, err) < 0)
			return -1;
		j->sel = &local;
	}
	sources = (j->sel ? j->sel->n : 0) + j->n_heredocs + j->n_urls;
	dest_dir = j->dest_dir || sources > 1 || dest_is_existing_dir(rootfd, j->dest);
	for (size_t i = 0; j->sel != NULL && i < j->sel->n; i++)
		if (copy_match(j, rootfd, srcroot, &j->sel->m[i], dest_dir, err) < 0)
			goto out;
	for (size_t i = 0; i < j->n_heredocs; i++)
		if (put_heredoc(j, rootfd, i, dest_dir, err) < 0)
			goto out;
	for (size_t i = 0; i < j->n_urls; i++)
		if (put_url(j, rootfd, &j->urls[i], dest_dir, err) < 0)
			goto out;
	/* Directory times last, deepest first: writing into a directory changes its mtime. */
	for (size_t i = j->n_dir_times; i-- > 0;) {
		struct timespec t[2] = { j->dir_times[i].mtime, j->dir_times[i].mtime };
		_cleanup_close_ int fd = eng_open_in_root(rootfd, j->dir_times[i].path,
							  O_RDONLY | O_DIRECTORY, 0);
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
	struct copy_job j = { .e = e, .from_context = true, .sel = sel, .what = "build context",
			      .dest = (char *)"/", .dest_dir = true, .chmod = -1 };
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
	struct eng_select_opts so = { .exclude = h->j->exclude, .what = h->j->what };
	struct eng_selection sel = { 0 };
	int r = -1;

	if (eng_select(fds[0], h->j->patterns, h->j->n_patterns, &so, &sel, err) == 0 &&
	    eng_selection_hash(NULL, fds[0], &sel, err) == 0) {
		eng_selection_key(h->d, &sel);
		r = 0;
	}
	eng_selection_release(&sel);
	return r;
}

/* ---- the step --------------------------------------------------------------------------- */

static int parse_chmod(const char *v, int *out, struct plate_error **err)
{
	char *end;
	long m;

	errno = 0;
	m = strtol(v, &end, 8);
	if (errno != 0 || *v == '\0' || *end != '\0' || m < 0 || m > 07777)
		return plate_err_new(err, EINVAL, "invalid --chmod '%s': an octal mode is expected", v);
	*out = (int)m;
	return 0;
}

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
				     "cannot name the file of '%s': give a destination file name", url);
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
	if (eng_scratch(e, "download", &dir, err) < 0 || asprintf(&u->file, "%s/data", dir) < 0)
		return u->file == NULL && dir != NULL ? plate_err_new(err, ENOMEM, "out of memory") : -1;
	fd = open(u->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot create '%s'", u->file);
	if (registry_url_get(u->url, fd, ENG_ADD_URL_MAX, u->digest, &u->mtime, err) < 0)
		return -1;
	if (checksum != NULL && strcmp(checksum, u->digest) != 0)
		return plate_err_new(err, 0, "checksum of '%s' is '%s', not '%s'", u->url, u->digest,
				     checksum);
	return 0;
}

int eng_step_copy(struct eng_step_ctx *c, struct plate_error **err)
{
	struct engine *e = c->e;
	struct eng_stage *st = c->st;
	const struct plan_step *step = c->step;
	struct copy_job j = { .e = e, .chmod = -1 };
	struct eng_selection sel = { 0 };
	struct eng_layers src_layers = { 0 };
	_cleanup_free_ const char **patterns = NULL;
	_cleanup_free_ const char **lowers = NULL, **src_lowers = NULL;
	_cleanup_free_ char *upper = NULL, *work = NULL, *mnt = NULL, *srcmnt = NULL, *what = NULL;
	struct ignore *exclude = NULL;
	const char *v, *dest, *checksum = NULL;
	const char *wd = st->config.working_dir ? st->config.working_dir : "/";
	char **excludes = NULL;
	size_t n_excludes = 0, n_lowers = 0, n_src_lowers = 0, next_heredoc = 0;
	eng_digest key, chain, common;
	struct digest d = { 0 };
	struct eng_layer layer = { 0 };
	bool hit = false, empty = false, link, by_content = false;
	int r = -1;

	j.add = strcmp(step->instruction, "ADD") == 0;
	if (step->n_args < 2)
		return plate_err_new(err, EINVAL, "%s needs a source and a destination",
				     step->instruction);
	dest = step->args[step->n_args - 1];
	j.dest_dir = strcmp(dest, ".") == 0 || dest[strlen(dest) - 1] == '/' ||
		     (strlen(dest) >= 2 && strcmp(dest + strlen(dest) - 2, "/.") == 0);
	if ((j.dest = eng_path_join(wd, dest)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (step->n_args > 2 && !j.dest_dir) {
		plate_err_new(err, EINVAL,
			      "when using %s with more than one source file, the destination must be a "
			      "directory and end with a /", step->instruction);
		goto out;
	}
	j.chown = flag(step, "chown");
	j.parents = flag_bool(step, "parents");
	link = flag_bool(step, "link");
	if ((v = flag(step, "chmod")) != NULL && parse_chmod(v, &j.chmod, err) < 0)
		goto out;
	for (size_t i = 0; i < step->n_flags; i++)
		if (strncmp(step->flags[i], "--exclude=", 10) == 0 &&
		    eng_strv_push(&excludes, &n_excludes, step->flags[i] + 10) < 0) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
	if (n_excludes > 0) {
		if (ignore_new((const char *const *)excludes, n_excludes, &exclude, err) < 0) {
			plate_err_wrap(err, "--exclude");
			goto out;
		}
		j.exclude = exclude;
	}

	/* Sources: here-documents, then files. */
	patterns = calloc(step->n_args, sizeof(*patterns));
	j.heredocs = calloc(step->n_args, sizeof(*j.heredocs));
	j.heredoc_data = calloc(step->n_args, sizeof(*j.heredoc_data));
	if (patterns == NULL || j.heredocs == NULL || j.heredoc_data == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i + 1 < step->n_args; i++) {
		const char *a = step->args[i];
		if (is_heredoc_arg(a) && step->instr != NULL && next_heredoc < step->instr->n_heredocs) {
			const struct dockerfile_heredoc *h = &step->instr->heredocs[next_heredoc++];
			_cleanup_free_ char *body = h->chomp ? chomp_tabs(h->content) : strdup(h->content);
			char *text = NULL;
			if (body == NULL) {
				plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
			if (h->expand) {
				if (dockerfile_expand_word(body, strlen(body), e->escape, &c->vars,
							   DOCKERFILE_EXPAND_RAW_QUOTES, &text, err) < 0) {
					plate_err_wrap(err, "here-document '%s'", h->name);
					goto out;
				}
			} else {
				text = steal_pointer(&body);
			}
			j.heredocs[j.n_heredocs] = h;
			j.heredoc_data[j.n_heredocs++] = text;
			continue;
		}
		if (j.add && (strncmp(a, "http://", 7) == 0 || strncmp(a, "https://", 8) == 0)) {
			if (url_source(&j, a, err) < 0)
				goto out;
			continue;
		}
		patterns[j.n_patterns++] = a;
	}
	j.patterns = patterns;
	if ((checksum = flag(step, "checksum")) != NULL) {
		if (j.n_urls != 1 || j.n_patterns > 0 || j.n_heredocs > 0) {
			plate_err_new(err, EINVAL, "ADD --checksum needs a single URL source");
			goto out;
		}
		if (!digest_is_valid(checksum)) {
			plate_err_new(err, EINVAL, "ADD --checksum=%s: a sha256:<hex> digest is expected",
				      checksum);
			goto out;
		}
	}

	/* The cache key: parent, instruction, destination, owner and the sources' identity.
	 * A stage's files are identified cheaply by the stage's key first; when that misses,
	 * by their content, so that a COPY --from of files that did not change (a CA bundle
	 * from a builder whose other files did) is still a hit. */
	eng_inputs_begin(c);
	if (digest_init(&d, err) < 0)
		goto out;
	eng_hash_field(&d, "plate copy v1");
	eng_hash_field(&d, link ? "" : st->key);
	/* --link drops the parent key, which carried the epoch: mtimes still depend on it. */
	eng_hash_u64(&d, (uint64_t)e->o.epoch);
	eng_hash_field(&d, step->instruction);
	for (size_t i = 0; i < step->n_flags; i++)
		eng_hash_field(&d, step->flags[i]);
	for (size_t i = 0; i < step->n_args; i++)
		eng_hash_field(&d, step->args[i]);
	eng_hash_field(&d, j.dest);
	for (size_t i = 0; i < j.n_heredocs; i++)
		eng_hash_field(&d, j.heredoc_data[i]);
	/* A URL is known by its checksum when ADD gives one (no download on a hit), else by
	 * what it serves now. */
	for (size_t i = 0; i < j.n_urls; i++) {
		eng_hash_field(&d, j.urls[i].url);
		if (checksum == NULL && download(e, &j.urls[i], NULL, err) < 0)
			goto out;
		eng_hash_field(&d, checksum ? checksum : j.urls[i].digest);
		if (checksum == NULL)
			eng_hash_u64(&d, (uint64_t)j.urls[i].mtime);
	}
	digest_final(&d, common);
	eng_hash_field(&d, common);
	if (step->n_sources > 0) {
		const struct plan_source *s = &step->sources[0];
		if (s->stage >= 0) {
			struct eng_stage *from = &e->stages[s->stage];
			if (asprintf(&what, "stage '%s'", from->label) < 0) {
				plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
			eng_hash_field(&d, "stage");
			eng_hash_field(&d, from->key);
			eng_inputs_set(c, "source", from->key);
			eng_inputs_set(c, "source_name", what);
			if (eng_layers_copy(&src_layers, &from->layers, err) < 0)
				goto out;
			by_content = true;
		} else if (strcmp(s->image, "scratch") == 0) {
			eng_hash_field(&d, "scratch");
			what = strdup("image 'scratch'");
		} else {
			const struct store_image *img;
			if (eng_image_get(e, s->image, e->plan->target_platform, &img, err) < 0 ||
			    eng_image_layers(e, img, &src_layers, err) < 0)
				goto out;
			eng_hash_field(&d, img->manifest_desc.digest);
			if (asprintf(&what, "image '%s'", s->image) < 0)
				what = NULL;
			eng_inputs_set(c, "source", img->manifest_desc.digest);
			eng_inputs_set(c, "source_name", what);
		}
		if (what == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		j.what = what;
	} else if (j.n_patterns > 0) {
		struct eng_select_opts so = { .ignore = e->ignore, .exclude = exclude,
					      .what = "build context" };
		j.from_context = true;
		if (eng_select(e->context_fd, patterns, j.n_patterns, &so, &sel, err) < 0 ||
		    eng_selection_hash(e, e->context_fd, &sel, err) < 0)
			goto out;
		j.sel = &sel;
		eng_selection_key(&d, &sel);
		eng_inputs_selection(c, &sel);
	}
	digest_final(&d, key);
	memcpy(chain, key, sizeof(chain));

	if (eng_cache_lookup(e, key, &hit, &empty, &layer, chain, err) < 0)
		goto out;
	if (!hit && step->n_sources > 0) {
		if (eng_scratch(e, "src", &srcmnt, err) < 0 ||
		    eng_layers_lowers(&src_layers, &src_lowers, &n_src_lowers, err) < 0)
			goto out;
	}
	if (!hit && by_content) {
		struct eng_view sv = { .lowers = src_lowers, .n_lowers = n_src_lowers,
				      .mountpoint = srcmnt };
		struct hash_job hj = { .j = &j, .d = &d };
		eng_hash_field(&d, common);
		eng_hash_field(&d, "content");
		if (eng_view_run(e, &sv, 1, hash_in_view, &hj, err) < 0)
			goto out;
		digest_final(&d, chain);
		if (eng_cache_lookup(e, chain, &hit, &empty, &layer, NULL, err) < 0)
			goto out;
		if (hit) {
			free(layer.cache_key);
			if ((layer.cache_key = strdup(key)) == NULL) {
				plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
			if (eng_cache_record(e, key, empty ? NULL : &layer, chain, err) < 0)
				goto out;
		}
	}
	if (!hit)
		eng_explain_miss(c, key);
	for (size_t i = 0; !hit && i < j.n_urls; i++)
		if (download(e, &j.urls[i], checksum, err) < 0)
			goto out;
	if (!hit) {
		struct eng_view views[2] = { { 0 } };
		if (eng_scratch(e, "upper", &upper, err) < 0 || eng_scratch(e, "work", &work, err) < 0 ||
		    eng_scratch(e, "mnt", &mnt, err) < 0)
			goto out;
		if (!link && eng_layers_lowers(&st->layers, &lowers, &n_lowers, err) < 0)
			goto out;
		views[0] = (struct eng_view){ .lowers = lowers, .n_lowers = n_lowers, .upper = upper,
					      .work = work, .mountpoint = mnt };
		if (step->n_sources > 0)
			views[1] = (struct eng_view){ .lowers = src_lowers, .n_lowers = n_src_lowers,
						      .mountpoint = srcmnt };
		if (eng_view_run(e, views, step->n_sources > 0 ? 2 : 1, copy_in_view, &j, err) < 0 ||
		    eng_harvest(e, upper, &layer, &empty, err) < 0)
			goto out;
		if (eng_cache_record(e, key, empty ? NULL : &layer, chain, err) < 0 ||
		    (by_content && eng_cache_record(e, chain, empty ? NULL : &layer, NULL, err) < 0))
			goto out;
		if (!empty && (layer.cache_key = strdup(key)) == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	/* BuildKit's history line: sources and destination, no flags. */
	{
		_cleanup_buf_ struct buf h = BUF_INIT(BUF_UNLIMITED);
		bool ok = buf_addstr(&h, step->instruction) == 0;
		for (size_t i = 0; ok && i < step->n_args; i++)
			ok = buf_addf(&h, " %s", step->args[i]) == 0;
		if (!ok || buf_addstr(&h, " # buildkit") < 0) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		c->history = h.data;
		r = eng_stage_apply(c, chain, empty ? NULL : &layer, empty, hit, err);
		c->history = NULL;
	}
out:
	digest_release(&d);
	eng_layer_release(&layer);
	eng_layers_release(&src_layers);
	eng_selection_release(&sel);
	ignore_free(exclude);
	strv_free(excludes, n_excludes);
	job_release(&j);
	return r;
}
