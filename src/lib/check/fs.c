/*
 * The merged tree of an image without mounting it: the layer snapshots are consulted from
 * the top down as overlayfs does (Documentation/filesystems/overlayfs.rst): the topmost
 * layer holding a name provides it; a 0/0 character device hides the name below; a
 * directory merges with the directories of the same path below it until a layer holds
 * something else there or the directory is opaque (trusted.overlay.opaque=y, or the
 * user.overlay.opaque=y of unprivileged stores).
 *
 * Every layer is read as its index (layer/index.c): the snapshot's index file when it is sound,
 * else an index built now from the layer's tree, so both give the same view.  A merged
 * directory remembers the layers merged into it (its "contributors", top first; the
 * lowest is its "min"), and its children are merged from theirs the first time a lookup
 * or a walk enters it.  Files are only opened to be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "check/check.h"
#include "layer/layer.h"

#define MAX_LINKS 40
#define MAX_PATH 4096
#define MAX_DEPTH 256

struct contrib {
	const struct layer_index_node *node;
	size_t layer;
};

struct mnode {
	const struct layer_index_node *node; /* as the providing layer has it */
	size_t layer, min;
	struct contrib *contrib; /* directories: the layers merged, top first */
	size_t n_contrib;
	struct mnode *children; /* once merged: sorted by name */
	size_t n_children;
	bool merged;
};

struct live_facts {
	struct live_facts *next;
	struct elf elf;
	struct elf_facts facts;
};

struct check_fs {
	int *dirs; /* bottom first */
	struct layer_index **ix;
	size_t n, indexed;
	struct mnode root;
	struct live_facts *live;
};

static void mnode_release(struct mnode *m)
{
	for (size_t i = 0; i < m->n_children; i++)
		mnode_release(&m->children[i]);
	free(m->children);
	free(m->contrib);
}

void check_fs_free(struct check_fs *fs)
{
	if (fs == NULL)
		return;
	mnode_release(&fs->root);
	for (size_t i = 0; i < fs->n; i++) {
		close(fs->dirs[i]);
		layer_index_free(fs->ix[i]);
	}
	while (fs->live) {
		struct live_facts *l = fs->live;
		fs->live = l->next;
		elf_release(&l->elf);
		free(l);
	}
	free(fs->dirs);
	free(fs->ix);
	free(fs);
}

void check_fs_entry_release(struct check_fs_entry *e)
{
	free(e->path);
	memset(e, 0, sizeof(*e));
}

static const struct layer_index_node *child_of(const struct layer_index *ix,
					       const struct layer_index_node *dir, size_t k)
{
	return &ix->nodes[dir->first_child + k];
}

/* Reads the layer's index file when it is sound and names diff_id; 1 when it is not. */
static int read_index(const char *path, const char *diff_id, struct layer_index **out)
{
	_cleanup_error_ struct plate_error *unread = NULL, *unparsed = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (file_read_at(AT_FDCWD, path, 0, LAYER_INDEX_MAX, &data, &len, &unread) < 0)
		return 1;
	return layer_index_parse(data, len, diff_id, out, &unparsed) < 0 ? 1 : 0;
}

static int build_index(int dirfd, const char *what, struct layer_index **out,
		       struct plate_error **err)
{
	_cleanup_buf_ struct buf b = BUF_INIT(LAYER_INDEX_MAX);

	if (layer_index_build(dirfd, NULL, &b, NULL, NULL, err) < 0 ||
	    layer_index_parse(b.data, b.len, NULL, out, err) < 0)
		return plate_err_wrap(err, "layer '%s'", what);
	return 0;
}

int check_fs_open_layers(const struct check_fs_layer *layers, size_t n, struct check_fs **out,
			 struct plate_error **err)
{
	struct check_fs *fs = calloc(1, sizeof(*fs));
	size_t root_min = 0;

	*out = NULL;
	if (fs == NULL || (fs->dirs = calloc(n ? n : 1, sizeof(int))) == NULL ||
	    (fs->ix = calloc(n ? n : 1, sizeof(*fs->ix))) == NULL) {
		if (fs)
			free(fs->dirs);
		free(fs);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		fs->dirs[i] = open(layers[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fs->dirs[i] < 0) {
			int e = errno;
			check_fs_free(fs);
			return plate_err_new(err, e, "cannot open layer '%s'", layers[i].dir);
		}
		fs->n = i + 1;
		if (layers[i].index &&
		    read_index(layers[i].index, layers[i].diff_id, &fs->ix[i]) == 0)
			fs->indexed++;
		else if (build_index(fs->dirs[i], layers[i].dir, &fs->ix[i], err) < 0) {
			check_fs_free(fs);
			return -1;
		}
		if (fs->ix[i]->nodes[0].flags & LAYER_INDEX_OPAQUE)
			root_min = i;
	}
	if (n > 0) {
		fs->root.node = &fs->ix[n - 1]->nodes[0];
		fs->root.layer = n - 1;
		fs->root.min = root_min;
		fs->root.n_contrib = n - root_min;
		if ((fs->root.contrib = calloc(fs->root.n_contrib, sizeof(struct contrib))) ==
		    NULL) {
			check_fs_free(fs);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		for (size_t k = 0; k < fs->root.n_contrib; k++) {
			fs->root.contrib[k].layer = n - 1 - k;
			fs->root.contrib[k].node = &fs->ix[n - 1 - k]->nodes[0];
		}
	}
	*out = fs;
	return 0;
}

int check_fs_open(const char *const *layer_dirs, size_t n, struct check_fs **out,
		  struct plate_error **err)
{
	_cleanup_free_ struct check_fs_layer *layers = calloc(n ? n : 1, sizeof(*layers));

	if (layers == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		layers[i].dir = layer_dirs[i];
	return check_fs_open_layers(layers, n, out, err);
}

size_t check_fs_indexed(const struct check_fs *fs)
{
	return fs->indexed;
}

/* The merged directory m gets its children: for each name, the topmost contributor
 * holding it provides it (a whiteout hides it); a directory merges with the same name in
 * the contributors below until one holds a non-directory there or one is opaque. */
static int merge(struct check_fs *fs, struct mnode *m, struct plate_error **err)
{
	_cleanup_free_ size_t *cur = calloc(m->n_contrib, sizeof(*cur));
	_cleanup_free_ const struct layer_index_node **hit = calloc(m->n_contrib, sizeof(*hit));
	size_t total = 0;

	if (m->merged)
		return 0;
	if (cur == NULL || hit == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t k = 0; k < m->n_contrib; k++)
		total += m->contrib[k].node->n_children;
	if (total > 0 && (m->children = calloc(total, sizeof(*m->children))) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	m->merged = true;
	for (;;) {
		const char *best = NULL;
		size_t top = 0;
		for (size_t k = 0; k < m->n_contrib; k++) {
			const struct contrib *c = &m->contrib[k];
			const char *name;
			if (cur[k] >= c->node->n_children)
				continue;
			name = child_of(fs->ix[c->layer], c->node, cur[k])->name;
			if (best == NULL || strcmp(name, best) < 0) {
				best = name;
				top = k;
			}
		}
		if (best == NULL)
			break;
		for (size_t k = 0; k < m->n_contrib; k++) {
			const struct contrib *c = &m->contrib[k];
			const struct layer_index_node *x;
			hit[k] = NULL;
			if (cur[k] >= c->node->n_children)
				continue;
			x = child_of(fs->ix[c->layer], c->node, cur[k]);
			if (k >= top && strcmp(x->name, best) == 0)
				hit[k] = x;
		}
		for (size_t k = 0; k < m->n_contrib; k++)
			if (hit[k])
				cur[k]++;
		if (hit[top]->flags & LAYER_INDEX_WHITEOUT)
			continue;
		struct mnode *ch = &m->children[m->n_children++];
		ch->node = hit[top];
		ch->layer = ch->min = m->contrib[top].layer;
		if ((ch->node->mode & S_IFMT) != S_IFDIR)
			continue;
		if ((ch->contrib = calloc(m->n_contrib - top, sizeof(*ch->contrib))) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		for (size_t k = top; k < m->n_contrib; k++) {
			if (hit[k] == NULL)
				continue;
			if ((hit[k]->mode & S_IFMT) != S_IFDIR)
				break;
			ch->contrib[ch->n_contrib].node = hit[k];
			ch->contrib[ch->n_contrib++].layer = m->contrib[k].layer;
			ch->min = m->contrib[k].layer;
			if (hit[k]->flags & LAYER_INDEX_OPAQUE)
				break;
		}
	}
	return 0;
}

/* The merged child of directory m called c (n bytes), or NULL. */
static struct mnode *find_child(struct mnode *m, const char *c, size_t n)
{
	size_t lo = 0, hi = m->n_children;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *name = m->children[mid].node->name;
		int r = strncmp(name, c, n);
		if (r == 0 && name[n] != '\0')
			r = 1;
		if (r == 0)
			return &m->children[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void fill_stat(const struct layer_index_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = n->mode;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = (off_t)n->size;
	st->st_rdev = (dev_t)n->rdev;
	st->st_nlink = 1;
}

struct resolve_level {
	struct mnode *m;
	size_t len;
};

/* Resolves path to a merged node: 0 (*out, and the resolved path without its "/" in cur),
 * 1 missing. */
static int resolve(struct check_fs *fs, const char *path, bool follow, struct buf *cur,
		   struct mnode **out, struct plate_error **err)
{
	_cleanup_buf_ struct buf rest = BUF_INIT(8 * MAX_PATH);
	_cleanup_free_ struct resolve_level *lv = calloc(MAX_DEPTH, sizeof(*lv));
	unsigned links = 0;
	size_t pos = 0, depth = 0;

	if (lv == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (fs->n == 0)
		return 1;
	lv[0].m = &fs->root;
	if (buf_addstr(&rest, path) < 0)
		return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", path);
	while (pos < rest.len) {
		const char *c = rest.data + pos, *slash = memchr(c, '/', rest.len - pos);
		size_t n = slash ? (size_t)(slash - c) : rest.len - pos;
		struct mnode *next;
		bool last;

		pos += n + (slash != NULL);
		last = pos >= rest.len;
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if ((lv[depth].m->node->mode & S_IFMT) != S_IFDIR)
			return 1;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (depth > 0)
				depth--;
			buf_truncate(cur, lv[depth].len);
			continue;
		}
		if (depth + 1 >= MAX_DEPTH)
			return plate_err_new(err, ENAMETOOLONG, "path '%s' is too deep", path);
		if (merge(fs, lv[depth].m, err) < 0)
			return -1;
		if ((next = find_child(lv[depth].m, c, n)) == NULL)
			return 1;
		if ((cur->len > 0 && buf_addch(cur, '/') < 0) || buf_add(cur, c, n) < 0)
			return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", path);
		if ((next->node->mode & S_IFMT) == S_IFLNK && (!last || follow)) {
			_cleanup_buf_ struct buf again = BUF_INIT(8 * MAX_PATH);
			const char *target = next->node->target;
			if (++links > MAX_LINKS)
				return plate_err_new(err, ELOOP, "too many symbolic links in '%s'",
						     path);
			if (buf_addstr(&again, target) < 0 || buf_addch(&again, '/') < 0 ||
			    buf_add(&again, rest.data + pos, rest.len - pos) < 0)
				return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long",
						     path);
			buf_reset(&rest);
			if (buf_add(&rest, again.data, again.len) < 0)
				return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long",
						     path);
			pos = 0;
			if (target[0] == '/')
				depth = 0;
			buf_truncate(cur, lv[depth].len);
			continue;
		}
		lv[++depth].m = next;
		lv[depth].len = cur->len;
	}
	*out = lv[depth].m;
	return 0;
}

int check_fs_lookup(struct check_fs *fs, const char *path, bool follow, struct check_fs_entry *out,
		    struct plate_error **err)
{
	_cleanup_buf_ struct buf cur = BUF_INIT(MAX_PATH);
	struct mnode *m;
	int r = resolve(fs, path, follow, &cur, &m, err);

	memset(out, 0, sizeof(*out));
	if (r != 0)
		return r;
	fill_stat(m->node, &out->st);
	out->layer = m->layer;
	out->min = m->min;
	if (asprintf(&out->path, "/%s", cur.data) < 0) {
		out->path = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

#define OPEN_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

/* The entry may come from an index that is stale or forged (a checksum is not a MAC): the
 * open stays beneath the layer without following any symlink, never blocks on a FIFO, and
 * the type and size that count are those of the open file. */
static int open_regular(int layerfd, const char *rel, const char *path, off_t *size,
			struct plate_error **err)
{
	struct open_how how = {
		.flags = OPEN_FLAGS,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd = (int)syscall(SYS_openat2, layerfd, rel, &how, sizeof(how));

	/* ENOSYS: kernel before 5.6; EPERM: seccomp profiles that predate openat2 */
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = openat(layerfd, rel, OPEN_FLAGS);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		plate_err_new(err, errno, "cannot stat '%s'", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return plate_err_new(err, EINVAL, "'%s' is not a regular file in its layer", path);
	}
	*size = st.st_size;
	return fd;
}

int check_fs_open_entry(struct check_fs *fs, const struct check_fs_entry *e, int *fd, off_t *size,
			struct plate_error **err)
{
	*fd = open_regular(fs->dirs[e->layer], e->path[1] ? e->path + 1 : ".", e->path, size, err);
	return *fd < 0 ? -1 : 0;
}

int check_fs_facts(struct check_fs *fs, const char *path, const struct elf_facts **out,
		   struct plate_error **err)
{
	_cleanup_buf_ struct buf cur = BUF_INIT(MAX_PATH);
	_cleanup_close_ int fd = -1;
	struct live_facts *l;
	struct mnode *m;
	off_t size;
	int r = resolve(fs, path, false, &cur, &m, err);

	*out = NULL;
	if (r != 0)
		return r;
	if ((m->node->mode & S_IFMT) != S_IFREG)
		return 1;
	if (m->node->facts >= 0) {
		*out = &fs->ix[m->layer]->facts[m->node->facts];
		return 0;
	}
	if (!(m->node->flags & LAYER_INDEX_UNREAD))
		return 0;
	fd = open_regular(fs->dirs[m->layer], cur.len ? cur.data : ".", path, &size, err);
	if (fd < 0)
		return -1;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	r = elf_facts_read(fd, size, &l->elf, &l->facts.go, &l->facts.go_cgo, err);
	if (r != 0) {
		free(l);
		return r < 0 ? plate_err_wrap(err, "'%s'", path) : 0;
	}
	l->facts.kind = l->elf.kind;
	l->facts.interp = l->elf.interp;
	l->facts.runpath = l->elf.runpath;
	l->facts.rpath = l->elf.rpath;
	l->facts.needed = (const char *const *)l->elf.needed;
	l->facts.n_needed = l->elf.n_needed;
	l->next = fs->live;
	fs->live = l;
	*out = &l->facts;
	return 0;
}

int check_fs_read(struct check_fs *fs, const char *path, size_t max, char **data, size_t *len,
		  struct plate_error **err)
{
	struct check_fs_entry e;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *b = NULL;
	size_t got = 0;
	off_t size;
	int r = check_fs_lookup(fs, path, true, &e, err);

	*data = NULL;
	*len = 0;
	if (r != 0)
		return r;
	if (!S_ISREG(e.st.st_mode)) {
		check_fs_entry_release(&e);
		return 1;
	}
	r = check_fs_open_entry(fs, &e, &fd, &size, err);
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

struct walk {
	struct check_fs *fs;
	check_fs_walk_fn *fn;
	void *data;
	struct buf path; /* "/"-rooted */
};

static int walk_dir(struct walk *w, struct mnode *m, unsigned depth, struct plate_error **err)
{
	size_t base = w->path.len;

	if (depth >= MAX_DEPTH)
		return plate_err_new(err, ELOOP, "'%s' is nested too deeply", w->path.data);
	if (merge(w->fs, m, err) < 0)
		return -1;
	for (size_t k = 0; k < m->n_children; k++) {
		struct mnode *c = &m->children[k];
		struct stat st;
		buf_truncate(&w->path, base);
		if ((base > 1 && buf_addch(&w->path, '/') < 0) ||
		    buf_addstr(&w->path, c->node->name) < 0)
			return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long",
					     w->path.data);
		fill_stat(c->node, &st);
		if (w->fn(w->data, w->path.data, &st, c->layer, err) < 0)
			return -1;
		if (S_ISDIR(st.st_mode) && walk_dir(w, c, depth + 1, err) < 0)
			return -1;
	}
	buf_truncate(&w->path, base);
	return 0;
}

int check_fs_walk(struct check_fs *fs, const char *dir, check_fs_walk_fn *fn, void *data,
		  struct plate_error **err)
{
	struct walk w = { .fs = fs, .fn = fn, .data = data, .path = BUF_INIT(MAX_PATH) };
	struct mnode *m;
	int r;

	_cleanup_buf_ struct buf cur = BUF_INIT(MAX_PATH);

	if (fs->n == 0)
		return 0;
	r = resolve(fs, dir, true, &cur, &m, err);
	if (r == 0 && (m->node->mode & S_IFMT) == S_IFDIR) {
		if (buf_addch(&w.path, '/') < 0 || buf_add(&w.path, cur.data, cur.len) < 0)
			r = plate_err_new(err, ENAMETOOLONG, "path '%s' is too long", dir);
		else
			r = walk_dir(&w, m, 0, err);
	}
	buf_release(&w.path);
	return r < 0 ? -1 : 0;
}
