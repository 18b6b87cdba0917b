/*
 * The snapshot index (docs/internals/layers.md "The snapshot index"): one file per layer
 * snapshot listing its tree and the ELF facts of its executables, so that the doctor reads
 * N small files instead of stat'ing, listing and opening thousands.
 *
 * Layout (integers little-endian, "varint" = unsigned LEB128, at most 10 bytes; a string
 * is a varint length and that many bytes, an optional string its length + 1, 0 = absent):
 *   "PLATEIDX"  u32 version  u32 body length  32 bytes SHA-256 of the body  body
 *   body:  string diffID, varint node count, the nodes breadth first (root first; the
 *          children of a directory follow each other, sorted by name with strcmp)
 *   node:  string name ("" for the root), varint flags (LAYER_INDEX_*), varint mode,
 *          varint uid, varint gid, then by type: regular file varint size; directory
 *          varint child count; symbolic link string target; device varint rdev.
 *          With LAYER_INDEX_ELF: u8 kind, optional strings interp, runpath, rpath,
 *          varint count + strings DT_NEEDED, u8 (1 Go build info, 2 CGO_ENABLED=1).
 * Breadth-first order makes each directory's children one run of the node array, so the
 * reader builds the tree in one pass without recursion, and a child is found by binary
 * search.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "digest/digest.h"
#include "layer/layer.h"

#define MAGIC "PLATEIDX"
#define HEADER_LEN (8 + 4 + 4 + 32)
#define MAX_NAME 255
#define MAX_TARGET 4095
#define MAX_BUILD_DEPTH 4096
#define GO_FLAG 1u
#define CGO_FLAG 2u

/* ---- building ---------------------------------------------------------------------- */

struct bnode {
	char *name, *target;
	struct stat st;
	uint32_t flags;
	struct elf elf;
	bool go, go_cgo;
	struct bnode *children;
	size_t n_children;
};

struct builder {
	size_t n_nodes;
	uint64_t bytes;
	char link[MAX_TARGET + 1]; /* here, not in build_child's frame: it recurses per level */
};

static void bnode_release(struct bnode *b)
{
	for (size_t i = 0; i < b->n_children; i++)
		bnode_release(&b->children[i]);
	free(b->children);
	free(b->name);
	free(b->target);
	if (b->flags & LAYER_INDEX_ELF)
		elf_release(&b->elf);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int build_dir(struct builder *bd, int fd, struct bnode *dir, unsigned depth,
		     struct plate_error **err);

static int build_child(struct builder *bd, int dfd, struct bnode *c, unsigned depth,
		       struct plate_error **err)
{
	if (fstatat(dfd, c->name, &c->st, AT_SYMLINK_NOFOLLOW) < 0)
		return plate_err_new(err, errno, "cannot stat '%s'", c->name);
	bd->n_nodes++;
	if (layer_overlay_is_whiteout(&c->st))
		c->flags |= LAYER_INDEX_WHITEOUT;
	if (S_ISDIR(c->st.st_mode)) {
		int sub = openat(dfd, c->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return plate_err_new(err, errno, "cannot open '%s'", c->name);
		if (build_dir(bd, sub, c, depth + 1, err) < 0)
			return plate_err_wrap(err, "'%s'", c->name);
	} else if (S_ISLNK(c->st.st_mode)) {
		ssize_t n = readlinkat(dfd, c->name, bd->link, sizeof(bd->link));
		if (n < 0 || n > MAX_TARGET)
			return plate_err_new(err, n < 0 ? errno : ENAMETOOLONG,
					     "cannot read link '%s'", c->name);
		if ((c->target = strndup(bd->link, (size_t)n)) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
	} else if (S_ISREG(c->st.st_mode)) {
		bd->bytes += (uint64_t)c->st.st_size;
		if ((c->st.st_mode & 0111) && c->st.st_size >= 16) {
			_cleanup_error_ struct plate_error *ignored = NULL;
			_cleanup_close_ int fd =
				openat(dfd, c->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
			int r = fd < 0 ? -1
				       : elf_facts_read(fd, (uint64_t)c->st.st_size, &c->elf,
							&c->go, &c->go_cgo, &ignored);
			/* an unreadable file (a mode without r in a rootless store) is left to
			 * whoever needs it, who reads it then and reports what goes wrong */
			c->flags |= r == 0 ? LAYER_INDEX_ELF : r < 0 ? LAYER_INDEX_UNREAD : 0;
		}
	}
	return 0;
}

/* Reads the directory open at fd (owned) into dir->children, sorted. */
static int build_dir(struct builder *bd, int fd, struct bnode *dir, unsigned depth,
		     struct plate_error **err)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	_cleanup_free_ char **names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	int rc = -1;

	if (d == NULL) {
		int e = errno;
		close(fd);
		return plate_err_new(err, e, "cannot read a directory");
	}
	if (depth > MAX_BUILD_DEPTH)
		return plate_err_new(err, ELOOP, "the tree is nested too deeply");
	if (layer_overlay_is_opaque(dirfd(d)))
		dir->flags |= LAYER_INDEX_OPAQUE;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == alloc) {
			size_t want = alloc ? alloc * 2 : 16;
			char **g = reallocarray(names, want, sizeof(*g));
			if (g == NULL)
				goto oom;
			names = g;
			alloc = want;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto oom;
		n++;
	}
	if (errno != 0) {
		plate_err_new(err, errno, "cannot read a directory");
		goto out;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	if (n > 0 && (dir->children = calloc(n, sizeof(*dir->children))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		dir->children[i].name = steal_pointer(&names[i]);
		dir->n_children = i + 1;
		if (build_child(bd, dirfd(d), &dir->children[i], depth, err) < 0)
			goto out;
	}
	rc = 0;
	goto out;
oom:
	plate_err_new(err, ENOMEM, "out of memory");
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

static int put_varint(struct buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return buf_add(b, tmp, n);
}

static int put_string(struct buf *b, const char *s, size_t n)
{
	return put_varint(b, n) < 0 || buf_add(b, s, n) < 0 ? -1 : 0;
}

static int put_optstring(struct buf *b, const char *s)
{
	if (s == NULL)
		return put_varint(b, 0);
	return put_varint(b, strlen(s) + 1) < 0 || buf_addstr(b, s) < 0 ? -1 : 0;
}

static int put_node(struct buf *b, const struct bnode *c)
{
	const struct elf *e = &c->elf;
	mode_t t = c->st.st_mode & S_IFMT;

	if (put_string(b, c->name ? c->name : "", c->name ? strlen(c->name) : 0) < 0 ||
	    put_varint(b, c->flags) < 0 || put_varint(b, (uint32_t)c->st.st_mode) < 0 ||
	    put_varint(b, (uint32_t)c->st.st_uid) < 0 || put_varint(b, (uint32_t)c->st.st_gid) < 0)
		return -1;
	if (t == S_IFREG && put_varint(b, (uint64_t)c->st.st_size) < 0)
		return -1;
	if (t == S_IFDIR && put_varint(b, c->n_children) < 0)
		return -1;
	if (t == S_IFLNK && put_string(b, c->target, strlen(c->target)) < 0)
		return -1;
	if ((t == S_IFCHR || t == S_IFBLK) && put_varint(b, (uint64_t)c->st.st_rdev) < 0)
		return -1;
	if (!(c->flags & LAYER_INDEX_ELF))
		return 0;
	if (buf_addch(b, (char)e->kind) < 0 || put_optstring(b, e->interp) < 0 ||
	    put_optstring(b, e->runpath) < 0 || put_optstring(b, e->rpath) < 0 ||
	    put_varint(b, e->n_needed) < 0)
		return -1;
	for (size_t i = 0; i < e->n_needed; i++)
		if (put_string(b, e->needed[i], strlen(e->needed[i])) < 0)
			return -1;
	return buf_addch(b, (char)((c->go ? GO_FLAG : 0) | (c->go_cgo ? CGO_FLAG : 0)));
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int layer_index_build(int dirfd, const char *diff_id, struct buf *out, uint64_t *entries,
		      uint64_t *bytes, struct plate_error **err)
{
	struct bnode root = { 0 };
	struct builder bd = { .n_nodes = 1 };
	_cleanup_buf_ struct buf body = BUF_INIT(LAYER_INDEX_MAX - HEADER_LEN);
	_cleanup_free_ const struct bnode **queue = NULL;
	unsigned char header[HEADER_LEN];
	char digest[DIGEST_STRING_LEN + 1];
	size_t head = 0, tail = 0;
	int fd, rc = -1;

	if (fstat(dirfd, &root.st) < 0)
		return plate_err_new(err, errno, "cannot read the tree");
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot read the tree");
	if (build_dir(&bd, fd, &root, 0, err) < 0)
		goto out;
	if ((queue = calloc(bd.n_nodes, sizeof(*queue))) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	if (put_string(&body, diff_id ? diff_id : "", diff_id ? strlen(diff_id) : 0) < 0 ||
	    put_varint(&body, bd.n_nodes) < 0)
		goto toolarge;
	queue[tail++] = &root;
	while (head < tail) {
		const struct bnode *c = queue[head++];
		if (put_node(&body, c) < 0)
			goto toolarge;
		for (size_t i = 0; i < c->n_children; i++)
			queue[tail++] = &c->children[i];
	}
	if (digest_buffer(body.data, body.len, digest, err) < 0)
		goto out;
	memcpy(header, MAGIC, 8);
	put_u32(header + 8, LAYER_INDEX_VERSION);
	put_u32(header + 12, (uint32_t)body.len);
	for (size_t i = 0; i < 32; i++) {
		const char *h = digest + sizeof(DIGEST_ALGORITHM) + 2 * i;
		unsigned hi = (unsigned)(h[0] <= '9' ? h[0] - '0' : h[0] - 'a' + 10);
		unsigned lo = (unsigned)(h[1] <= '9' ? h[1] - '0' : h[1] - 'a' + 10);
		header[16 + i] = (unsigned char)(hi << 4 | lo);
	}
	if (buf_add(out, header, sizeof(header)) < 0 || buf_add(out, body.data, body.len) < 0)
		goto toolarge;
	if (entries)
		*entries = bd.n_nodes - 1;
	if (bytes)
		*bytes = bd.bytes;
	rc = 0;
	goto out;
toolarge:
	/* buf_add's errno: E2BIG past the cap, ENOMEM when memory ran out first. */
	if (errno == ENOMEM)
		plate_err_new(err, ENOMEM, "out of memory");
	else
		plate_err_new(err, E2BIG, "the index is over %zu bytes", (size_t)LAYER_INDEX_MAX);
out:
	bnode_release(&root);
	return rc;
}

/* ---- parsing ----------------------------------------------------------------------- */

struct rd {
	const unsigned char *p;
	size_t len, pos;
	char *arena;
	size_t arena_pos;
	struct plate_error **err;
};

static int truncated(struct rd *r)
{
	return plate_err_new(r->err, EINVAL, "index: truncated at byte %zu", HEADER_LEN + r->pos);
}

static int get_varint(struct rd *r, uint64_t max, uint64_t *v, const char *what)
{
	uint64_t x = 0;

	*v = 0;
	for (unsigned shift = 0;; shift += 7) {
		unsigned char c;
		if (r->pos >= r->len)
			return truncated(r);
		if (shift > 63)
			return plate_err_new(r->err, EINVAL, "index: %s at byte %zu is too long",
					     what, HEADER_LEN + r->pos);
		c = r->p[r->pos++];
		if (shift == 63 && (c & 0x7e))
			return plate_err_new(r->err, EINVAL, "index: %s overflows", what);
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			break;
	}
	if (x > max)
		return plate_err_new(r->err, EINVAL, "index: %s %llu is over %llu", what,
				     (unsigned long long)x, (unsigned long long)max);
	*v = x;
	return 0;
}

static int get_u8(struct rd *r, unsigned *v)
{
	*v = 0;
	if (r->pos >= r->len)
		return truncated(r);
	*v = r->p[r->pos++];
	return 0;
}

/* A string of n bytes copied into the arena (NUL added); embedded NULs are refused. */
static int get_bytes(struct rd *r, uint64_t n, const char **out, const char *what)
{
	char *s;

	if (n > r->len - r->pos)
		return truncated(r);
	if (memchr(r->p + r->pos, '\0', (size_t)n) != NULL)
		return plate_err_new(r->err, EINVAL, "index: %s holds a NUL byte", what);
	s = r->arena + r->arena_pos;
	memcpy(s, r->p + r->pos, (size_t)n);
	s[n] = '\0';
	r->arena_pos += (size_t)n + 1;
	r->pos += (size_t)n;
	*out = s;
	return 0;
}

static int get_string(struct rd *r, uint64_t max, const char **out, const char *what)
{
	uint64_t n;

	return get_varint(r, max, &n, what) < 0 ? -1 : get_bytes(r, n, out, what);
}

static int get_optstring(struct rd *r, uint64_t max, const char **out, const char *what)
{
	uint64_t n;

	*out = NULL;
	if (get_varint(r, max + 1, &n, what) < 0)
		return -1;
	return n == 0 ? 0 : get_bytes(r, n - 1, out, what);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct needed_list {
	const char **v;
	size_t n, alloc;
};

static int parse_facts(struct rd *r, struct layer_index *ix, struct needed_list *nl, size_t *starts,
		       int32_t *slot)
{
	struct elf_facts *f = &ix->facts[ix->n_facts];
	unsigned kind, go;
	uint64_t n;

	if (get_u8(r, &kind) < 0)
		return -1;
	if (kind > ELF_KIND_OTHER)
		return plate_err_new(r->err, EINVAL, "index: unknown ELF kind %u", kind);
	f->kind = (enum elf_kind)kind;
	if (get_optstring(r, ELF_MAX_STRING, &f->interp, "interpreter") < 0 ||
	    get_optstring(r, ELF_MAX_STRING, &f->runpath, "runpath") < 0 ||
	    get_optstring(r, ELF_MAX_STRING, &f->rpath, "rpath") < 0 ||
	    get_varint(r, ELF_MAX_NEEDED, &n, "library count") < 0)
		return -1;
	if ((f->kind == ELF_KIND_DYNAMIC) != (f->interp != NULL))
		return plate_err_new(r->err, EINVAL,
				     "index: an interpreter goes with a dynamic ELF");
	starts[ix->n_facts] = nl->n;
	f->n_needed = (size_t)n;
	for (uint64_t i = 0; i < n; i++) {
		if (nl->n == nl->alloc) {
			size_t want = nl->alloc ? nl->alloc * 2 : 64;
			const char **g = reallocarray(nl->v, want, sizeof(*g));
			if (g == NULL)
				return plate_err_new(r->err, ENOMEM, "out of memory");
			nl->v = g;
			nl->alloc = want;
		}
		if (get_string(r, ELF_MAX_STRING, &nl->v[nl->n], "library") < 0)
			return -1;
		nl->n++;
	}
	if (get_u8(r, &go) < 0)
		return -1;
	if (go > (GO_FLAG | CGO_FLAG) || go == CGO_FLAG)
		return plate_err_new(r->err, EINVAL, "index: bad Go flags %u", go);
	f->go = go & GO_FLAG;
	f->go_cgo = go & CGO_FLAG;
	*slot = (int32_t)ix->n_facts++;
	return 0;
}

static int parse_node(struct rd *r, struct layer_index *ix, size_t i, size_t *next_child,
		      struct needed_list *nl, size_t *starts)
{
	struct layer_index_node *c = &ix->nodes[i];
	uint64_t v, mode, flags;
	uint32_t t;

	c->facts = -1;
	if (get_string(r, i == 0 ? 0 : MAX_NAME, &c->name, "name") < 0)
		return -1;
	if (i > 0 && (c->name[0] == '\0' || strchr(c->name, '/') || strcmp(c->name, ".") == 0 ||
		      strcmp(c->name, "..") == 0))
		return plate_err_new(r->err, EINVAL, "index: bad name '%s'", c->name);
	if (get_varint(r, LAYER_INDEX_FLAGS, &flags, "flags") < 0 ||
	    get_varint(r, UINT32_MAX, &mode, "mode") < 0 ||
	    get_varint(r, UINT32_MAX, &v, "uid") < 0)
		return -1;
	c->flags = (uint32_t)flags;
	c->mode = (uint32_t)mode;
	c->uid = (uint32_t)v;
	if (get_varint(r, UINT32_MAX, &v, "gid") < 0)
		return -1;
	c->gid = (uint32_t)v;
	t = c->mode & S_IFMT;
	if (t != S_IFREG && t != S_IFDIR && t != S_IFLNK && t != S_IFCHR && t != S_IFBLK &&
	    t != S_IFIFO && t != S_IFSOCK)
		return plate_err_new(r->err, EINVAL, "index: '%s' has an unknown type", c->name);
	if ((i == 0 && t != S_IFDIR) || ((flags & LAYER_INDEX_WHITEOUT) && t != S_IFCHR) ||
	    ((flags & LAYER_INDEX_OPAQUE) && t != S_IFDIR) ||
	    ((flags & (LAYER_INDEX_ELF | LAYER_INDEX_UNREAD)) && t != S_IFREG) ||
	    (flags & LAYER_INDEX_ELF && flags & LAYER_INDEX_UNREAD))
		return plate_err_new(r->err, EINVAL, "index: '%s' has flags its type cannot have",
				     c->name);
	if (t == S_IFREG && get_varint(r, INT64_MAX, &c->size, "size") < 0)
		return -1;
	if (t == S_IFDIR) {
		if (get_varint(r, ix->n - *next_child, &v, "child count") < 0)
			return -1;
		c->first_child = (uint32_t)*next_child;
		c->n_children = (uint32_t)v;
		*next_child += (size_t)v;
	}
	if (t == S_IFLNK && get_string(r, MAX_TARGET, &c->target, "link target") < 0)
		return -1;
	if ((t == S_IFCHR || t == S_IFBLK) && get_varint(r, UINT64_MAX, &c->rdev, "device") < 0)
		return -1;
	if (flags & LAYER_INDEX_ELF)
		return parse_facts(r, ix, nl, starts, &c->facts);
	return 0;
}

void layer_index_free(struct layer_index *ix)
{
	if (ix == NULL)
		return;
	free(ix->nodes);
	free(ix->facts);
	free(ix->needed);
	free(ix->arena);
	free(ix);
}

static int parse_body(struct rd *r, const char *diff_id, struct layer_index *ix)
{
	struct needed_list nl = { 0 };
	_cleanup_free_ size_t *starts = NULL;
	const char *recorded;
	size_t next_child = 1;
	uint64_t n;

	if (get_string(r, 4096, &recorded, "diffID") < 0)
		return -1;
	if (diff_id && strcmp(recorded, diff_id) != 0)
		return plate_err_new(r->err, EINVAL, "index: names '%s', not '%s'", recorded,
				     diff_id);
	/* every node takes at least 5 bytes */
	if (get_varint(r, (r->len - r->pos) / 5, &n, "node count") < 0)
		return -1;
	if (n == 0)
		return plate_err_new(r->err, EINVAL, "index: no root");
	ix->n = (size_t)n;
	if ((ix->nodes = calloc(ix->n, sizeof(*ix->nodes))) == NULL ||
	    (ix->facts = calloc(ix->n, sizeof(*ix->facts))) == NULL ||
	    (starts = calloc(ix->n, sizeof(*starts))) == NULL)
		return plate_err_new(r->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ix->n; i++) {
		if (i > 0 && i >= next_child) {
			free(nl.v);
			return plate_err_new(r->err, EINVAL, "index: node %zu has no parent", i);
		}
		if (parse_node(r, ix, i, &next_child, &nl, starts) < 0) {
			free(nl.v);
			return -1;
		}
		/* saturating: a forged index may claim sizes that wrap the total */
		if ((ix->nodes[i].mode & S_IFMT) == S_IFREG &&
		    __builtin_add_overflow(ix->bytes, ix->nodes[i].size, &ix->bytes))
			ix->bytes = UINT64_MAX;
	}
	ix->needed = nl.v;
	if (next_child != ix->n)
		return plate_err_new(r->err, EINVAL, "index: %zu nodes but %zu children", ix->n,
				     next_child - 1);
	if (r->pos != r->len)
		return plate_err_new(r->err, EINVAL, "index: %zu bytes after the last node",
				     r->len - r->pos);
	/* with no needed names at all there is no array to point into */
	if (ix->needed)
		for (size_t i = 0; i < ix->n_facts; i++)
			ix->facts[i].needed = ix->needed + starts[i];
	for (size_t i = 0; i < ix->n; i++) {
		const struct layer_index_node *d = &ix->nodes[i];
		for (uint32_t k = 1; k < d->n_children; k++)
			if (strcmp(ix->nodes[d->first_child + k - 1].name,
				   ix->nodes[d->first_child + k].name) >= 0)
				return plate_err_new(r->err, EINVAL,
						     "index: names of '%s' are not sorted",
						     d->name);
	}
	return 0;
}

int layer_index_parse(const void *data, size_t len, const char *diff_id, struct layer_index **out,
		      struct plate_error **err)
{
	const unsigned char *p = data;
	char digest[DIGEST_STRING_LEN + 1];
	struct layer_index *ix;
	struct rd r = { .err = err };
	uint32_t version, body;

	*out = NULL;
	if (len > LAYER_INDEX_MAX)
		return plate_err_new(err, EFBIG, "index: over %zu bytes", (size_t)LAYER_INDEX_MAX);
	if (len < HEADER_LEN || memcmp(p, MAGIC, 8) != 0)
		return plate_err_new(err, EINVAL, "index: not an index");
	version = get_u32(p + 8);
	body = get_u32(p + 12);
	if (version != LAYER_INDEX_VERSION)
		return plate_err_new(err, EINVAL, "index: version %u, this plate reads version %u",
				     version, LAYER_INDEX_VERSION);
	if (body != len - HEADER_LEN)
		return plate_err_new(err, EINVAL, "index: %u bytes of body announced, %zu present",
				     body, len - HEADER_LEN);
	if (digest_buffer(p + HEADER_LEN, body, digest, err) < 0)
		return -1;
	for (size_t i = 0; i < 32; i++) {
		char hex[3];
		snprintf(hex, sizeof(hex), "%02x", p[16 + i]);
		if (memcmp(hex, digest + sizeof(DIGEST_ALGORITHM) + 2 * i, 2) != 0)
			return plate_err_new(err, EINVAL, "index: checksum mismatch");
	}
	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	r.p = p + HEADER_LEN;
	r.len = body;
	/* each string costs at least its length byte, which pays for its NUL */
	if ((r.arena = malloc((size_t)body + 1)) == NULL) {
		free(ix);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	ix->arena = r.arena;
	if (parse_body(&r, diff_id, ix) < 0) {
		layer_index_free(ix);
		return -1;
	}
	*out = ix;
	return 0;
}

void layer_index_stats(const struct layer_index *ix, uint64_t *entries, uint64_t *bytes)
{
	*entries = ix->n - 1;
	*bytes = ix->bytes;
}
