/*
 * The merged tree of an image without mounting it: the layer snapshots are consulted from
 * the top down as overlayfs does (Documentation/filesystems/overlayfs.rst): the topmost
 * layer holding a name provides it; a 0/0 character device hides the name below; a
 * directory merges with the directories of the same path below it until a layer holds
 * something else there or the directory is opaque (trusted.overlay.opaque=y, or the
 * user.overlay.opaque=y of unprivileged stores).
 *
 * Resolution works on canonical relative paths built one component at a time, and
 * remembers for each directory the lowest layer that still contributes to it ("min").
 * In every layer between a directory's top and its min, each ancestor of that directory
 * is a real directory or absent, so fstatat() on the relative path inside such a layer
 * cannot cross a symlink of the layer and never leaves it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "layer/layer.h"
#include "check/check.h"

#define MAX_LINKS 40
#define MAX_PATH 4096
#define MAX_DEPTH 256

struct check_fs {
	int *dirs; /* bottom first */
	size_t n;
	size_t root_min;
};

static bool opaque_at(int layer, const char *rel)
{
	_cleanup_close_ int fd = openat(layer, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd >= 0 && layer_overlay_is_opaque(fd);
}

int check_fs_open(const char *const *layer_dirs, size_t n, struct check_fs **out,
		  struct plate_error **err)
{
	struct check_fs *fs = calloc(1, sizeof(*fs));

	*out = NULL;
	if (fs == NULL || (fs->dirs = calloc(n ? n : 1, sizeof(int))) == NULL) {
		free(fs);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		fs->dirs[i] = open(layer_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fs->dirs[i] < 0) {
			int e = errno;
			fs->n = i;
			check_fs_free(fs);
			return plate_err_new(err, e, "cannot open layer '%s'", layer_dirs[i]);
		}
		fs->n = i + 1;
		if (layer_overlay_is_opaque(fs->dirs[i]))
			fs->root_min = i;
	}
	*out = fs;
	return 0;
}

void check_fs_free(struct check_fs *fs)
{
	if (fs == NULL)
		return;
	for (size_t i = 0; i < fs->n; i++)
		close(fs->dirs[i]);
	free(fs->dirs);
	free(fs);
}

void check_fs_entry_release(struct check_fs_entry *e)
{
	free(e->path);
	memset(e, 0, sizeof(*e));
}

/* The lowest layer (>= floor) contributing to the directory rel provided by layer top. */
static size_t dir_min(const struct check_fs *fs, const char *rel, size_t top, size_t floor)
{
	size_t min = top;
	struct stat st;

	if (opaque_at(fs->dirs[top], rel))
		return top;
	for (size_t j = top; j-- > floor;) {
		if (fstatat(fs->dirs[j], rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode))
			break;
		min = j;
		if (opaque_at(fs->dirs[j], rel))
			break;
	}
	return min;
}

/* Finds rel (whose parent directory reaches down to layer floor): 0 found, 1 missing. */
static int child_lookup(const struct check_fs *fs, const char *rel, size_t floor, size_t *layer,
			struct stat *st, size_t *min, struct plate_error **err)
{
	for (size_t i = fs->n; i-- > floor;) {
		if (fstatat(fs->dirs[i], rel, st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return plate_err_new(err, errno, "cannot look up '/%s'", rel);
		}
		if (layer_overlay_is_whiteout(st))
			return 1;
		*layer = i;
		*min = S_ISDIR(st->st_mode) ? dir_min(fs, rel, i, floor) : i;
		return 0;
	}
	return 1;
}

struct resolve_level {
	size_t min, len, layer;
	struct stat st;
};

int check_fs_lookup(struct check_fs *fs, const char *path, bool follow,
		    struct check_fs_entry *out, struct plate_error **err)
{
	_cleanup_buf_ struct buf cur = BUF_INIT(MAX_PATH), rest = BUF_INIT(8 * MAX_PATH);
	_cleanup_free_ struct resolve_level *lv = calloc(MAX_DEPTH, sizeof(*lv));
	unsigned links = 0;
	size_t pos = 0, depth = 0;

	memset(out, 0, sizeof(*out));
	if (lv == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (fs->n == 0)
		return 1;
	if (fstat(fs->dirs[fs->n - 1], &lv[0].st) < 0)
		return plate_err_new(err, errno, "cannot look up '/'");
	lv[0].min = fs->root_min;
	lv[0].layer = fs->n - 1;
	if (buf_addstr(&rest, path) < 0)
		return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", path);
	while (pos < rest.len) {
		const char *c = rest.data + pos, *slash = memchr(c, '/', rest.len - pos);
		size_t n = slash ? (size_t)(slash - c) : rest.len - pos;
		struct resolve_level next = { 0 };
		bool last;
		int r;

		pos += n + (slash != NULL);
		last = pos >= rest.len;
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (!S_ISDIR(lv[depth].st.st_mode))
			return 1;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (depth > 0)
				depth--;
			buf_truncate(&cur, lv[depth].len);
			continue;
		}
		if (depth + 1 >= MAX_DEPTH)
			return plate_err_new(err, ENAMETOOLONG, "path '%s' is too deep", path);
		if ((cur.len > 0 && buf_addch(&cur, '/') < 0) || buf_add(&cur, c, n) < 0)
			return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", path);
		r = child_lookup(fs, cur.data, lv[depth].min, &next.layer, &next.st, &next.min, err);
		if (r != 0)
			return r;
		if (S_ISLNK(next.st.st_mode) && (!last || follow)) {
			_cleanup_buf_ struct buf again = BUF_INIT(8 * MAX_PATH);
			char target[MAX_PATH];
			ssize_t tn;
			if (++links > MAX_LINKS)
				return plate_err_new(err, ELOOP, "too many symbolic links in '%s'", path);
			tn = readlinkat(fs->dirs[next.layer], cur.data, target, sizeof(target) - 1);
			if (tn < 0)
				return plate_err_new(err, errno, "cannot read link '/%s'", cur.data);
			target[tn] = '\0';
			if (buf_add(&again, target, (size_t)tn) < 0 || buf_addch(&again, '/') < 0 ||
			    buf_add(&again, rest.data + pos, rest.len - pos) < 0)
				return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", path);
			buf_reset(&rest);
			if (buf_add(&rest, again.data, again.len) < 0)
				return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", path);
			pos = 0;
			if (target[0] == '/')
				depth = 0;
			buf_truncate(&cur, lv[depth].len);
			continue;
		}
		next.len = cur.len;
		lv[++depth] = next;
	}
	out->st = lv[depth].st;
	out->layer = lv[depth].layer;
	out->min = lv[depth].min;
	if (asprintf(&out->path, "/%s", cur.data) < 0) {
		out->path = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

int check_fs_open_entry(struct check_fs *fs, const struct check_fs_entry *e, int *fd,
			struct plate_error **err)
{
	const char *rel = e->path[1] ? e->path + 1 : ".";

	*fd = openat(fs->dirs[e->layer], rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", e->path);
	return 0;
}

int check_fs_read(struct check_fs *fs, const char *path, size_t max, char **data, size_t *len,
		  struct plate_error **err)
{
	struct check_fs_entry e;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *b = NULL;
	size_t got = 0;
	int r = check_fs_lookup(fs, path, true, &e, err);

	*data = NULL;
	*len = 0;
	if (r != 0)
		return r;
	if (!S_ISREG(e.st.st_mode)) {
		check_fs_entry_release(&e);
		return 1;
	}
	r = check_fs_open_entry(fs, &e, &fd, err);
	check_fs_entry_release(&e);
	if (r < 0)
		return -1;
	b = malloc(max + 1);
	if (b == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	while (got < max) {
		ssize_t n = read(fd, b + got, max - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return plate_err_new(err, errno, "cannot read '%s'", path);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	b[got] = '\0';
	*data = steal_pointer(&b);
	*len = got;
	return 0;
}

/* ---- walking ------------------------------------------------------------------------ */

struct dirent_rec {
	char *name;
	size_t layer;
	unsigned char type;
};

static int rec_cmp(const void *pa, const void *pb)
{
	const struct dirent_rec *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	return a->layer < b->layer ? 1 : a->layer > b->layer ? -1 : 0;
}

struct walk {
	struct check_fs *fs;
	check_fs_walk_fn *fn;
	void *data;
};

static int walk_dir(struct walk *w, struct buf *rel, size_t top, size_t min, unsigned depth,
		    struct plate_error **err)
{
	struct check_fs *fs = w->fs;
	struct dirent_rec *recs = NULL;
	size_t n = 0, alloc = 0, base = rel->len, low = top;
	int rc = -1;

	if (depth >= MAX_DEPTH)
		return plate_err_new(err, ELOOP, "'/%s' is nested too deeply", rel->data);
	/* The directory's layers, from its top down to the first layer holding something else
	 * at this path or marking it opaque (min is only a floor). */
	for (size_t i = top + 1; i-- > min;) {
		int fd = openat(fs->dirs[i], rel->len ? rel->data : ".",
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		bool opaque;
		DIR *d;
		struct dirent *de;
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0)
			break;
		low = i;
		d = fdopendir(fd);
		if (d == NULL) {
			close(fd);
			plate_err_new(err, errno, "cannot read directory '/%s'", rel->data);
			goto out;
		}
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (n == alloc) {
				size_t want = alloc ? alloc * 2 : 32;
				struct dirent_rec *g = reallocarray(recs, want, sizeof(*g));
				if (g == NULL) {
					closedir(d);
					plate_err_new(err, ENOMEM, "out of memory");
					goto out;
				}
				recs = g;
				alloc = want;
			}
			recs[n].name = strdup(de->d_name);
			recs[n].layer = i;
			recs[n].type = de->d_type;
			if (recs[n].name == NULL) {
				closedir(d);
				plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
			n++;
		}
		opaque = layer_overlay_is_opaque(dirfd(d));
		closedir(d);
		if (opaque)
			break;
	}
	if (n > 1)
		qsort(recs, n, sizeof(*recs), rec_cmp);
	for (size_t k = 0; k < n;) {
		size_t end = k + 1;
		struct stat st;
		while (end < n && strcmp(recs[end].name, recs[k].name) == 0)
			end++;
		buf_truncate(rel, base);
		if ((base > 0 && buf_addch(rel, '/') < 0) || buf_addstr(rel, recs[k].name) < 0) {
			plate_err_new(err, ENAMETOOLONG, "path '/%s' is too long", rel->data);
			goto out;
		}
		if (fstatat(fs->dirs[recs[k].layer], rel->data, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			plate_err_new(err, errno, "cannot look up '/%s'", rel->data);
			goto out;
		}
		if (layer_overlay_is_whiteout(&st)) {
			k = end;
			continue;
		}
		_cleanup_free_ char *abs = NULL;
		if (asprintf(&abs, "/%s", rel->data) < 0) {
			abs = NULL;
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		if (w->fn(w->data, abs, &st, recs[k].layer, err) < 0)
			goto out;
		if (S_ISDIR(st.st_mode)) {
			if (walk_dir(w, rel, recs[k].layer, low, depth + 1, err) < 0)
				goto out;
		}
		k = end;
	}
	rc = 0;
out:
	buf_truncate(rel, base);
	for (size_t i = 0; i < n; i++)
		free(recs[i].name);
	free(recs);
	return rc;
}

int check_fs_walk(struct check_fs *fs, const char *dir, check_fs_walk_fn *fn, void *data,
		  struct plate_error **err)
{
	_cleanup_buf_ struct buf rel = BUF_INIT(MAX_PATH);
	struct check_fs_entry e;
	struct walk w = { .fs = fs, .fn = fn, .data = data };
	int r;

	if (fs->n == 0)
		return 0;
	r = check_fs_lookup(fs, dir, true, &e, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (!S_ISDIR(e.st.st_mode)) {
		check_fs_entry_release(&e);
		return 0;
	}
	if (buf_addstr(&rel, e.path + 1) < 0) {
		check_fs_entry_release(&e);
		return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", dir);
	}
	r = walk_dir(&w, &rel, e.layer, e.min, 0, err);
	check_fs_entry_release(&e);
	return r;
}
