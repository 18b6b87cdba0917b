/*
 * layer_writer_add_tree(): a depth-first walk of a directory in layer order, and the
 * conversion of an overlayfs upper directory into OCI whiteouts.
 *
 * overlayfs (Documentation/filesystems/overlayfs.rst) records a deleted lower name as a
 * character device 0/0 and a directory that hides its lower contents with the xattr
 * "trusted.overlay.opaque" = "y" ("user.overlay.opaque" with the userxattr mount option).
 * The image spec (layer.md, "Whiteouts") records them as ".wh.<name>" and ".wh..wh..opq".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/writer_internal.h"

/* Smaller files are not worth a system call: the syncfs writes them with the metadata. */
#define WRITEBACK_MIN (64 * 1024)

/* Linux's XATTR_LIST_MAX: the longest list of names listxattr() returns. */
#define XATTR_LIST_BYTES 65536

enum child_kind {
	CHILD_ENTRY,
	CHILD_WHITEOUT,
	CHILD_OPAQUE
};

struct child {
	char *name;	/* on disk */
	char *out_name; /* in the layer: name, or ".wh." name, or ".wh..wh..opq" */
	struct stat st;
	enum child_kind kind;
};

struct link_slot {
	dev_t dev;
	ino_t ino;
	char *path; /* NULL: empty slot */
};

struct walk {
	struct layer_writer *w;
	unsigned flags;
	char path[LAYER_MAX_PATH + 1];
	size_t len;
	/* files with several links seen so far: (dev, ino) -> first layer path */
	struct link_slot *links;
	size_t links_cap, links_n;
	/* xattrs of the current entry */
	char *names;
	char *values;
	struct layer_xattr xattrs[LAYER_MAX_XATTRS];
	size_t n_xattrs;
	bool opaque;
};

static size_t link_index(const struct walk *t, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)ino;
	size_t i = (size_t)(h ^ (h >> 31)) & (t->links_cap - 1);

	while (t->links[i].path != NULL && (t->links[i].dev != dev || t->links[i].ino != ino))
		i = (i + 1) & (t->links_cap - 1);
	return i;
}

static const char *link_find(const struct walk *t, dev_t dev, ino_t ino)
{
	return t->links_cap != 0 ? t->links[link_index(t, dev, ino)].path : NULL;
}

static int link_add(struct walk *t, dev_t dev, ino_t ino, const char *path,
		    struct plate_error **err)
{
	if ((t->links_n + 1) * 2 > t->links_cap) {
		struct walk grown = *t;
		grown.links_cap = t->links_cap != 0 ? 2 * t->links_cap : 64;
		grown.links = calloc(grown.links_cap, sizeof(*grown.links));
		if (grown.links == NULL)
			return plate_err_new(err, ENOMEM, "cannot record hardlinks");
		for (size_t i = 0; i < t->links_cap; i++)
			if (t->links[i].path != NULL)
				grown.links[link_index(&grown, t->links[i].dev, t->links[i].ino)] =
					t->links[i];
		free(t->links);
		t->links = grown.links;
		t->links_cap = grown.links_cap;
	}
	size_t i = link_index(t, dev, ino);
	t->links[i].dev = dev;
	t->links[i].ino = ino;
	t->links[i].path = strdup(path);
	if (t->links[i].path == NULL)
		return plate_err_new(err, ENOMEM, "cannot record hardlinks");
	t->links_n++;
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Reads the xattrs of an entry, from fd when >= 0, else from "/proc/self/fd/<dirfd>/<name>"
 * without following a final symlink (there is no listxattr relative to a dirfd before
 * Linux 6.13).  Filters out host-specific and overlay-internal names. */
static int read_xattrs(struct walk *t, int fd, int dirfd, const char *name,
		       struct plate_error **err)
{
	char proc[64 + LAYER_MAX_NAME];
	ssize_t list_len;
	size_t used = 0;

	t->n_xattrs = 0;
	t->opaque = false;
	if (t->flags & LAYER_TREE_NO_XATTRS && !(t->flags & LAYER_TREE_OVERLAY))
		return 0;
	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	list_len = fd >= 0 ? flistxattr(fd, t->names, XATTR_LIST_BYTES)
			   : llistxattr(proc, t->names, XATTR_LIST_BYTES);
	if (list_len < 0) {
		if (errno == ENOTSUP || (fd < 0 && errno == ENOENT))
			return 0;
		return plate_err_new(err, errno, "cannot list xattrs");
	}
	for (char *n = t->names; n < t->names + list_len; n += strlen(n) + 1) {
		bool overlay_name =
			has_prefix(n, "trusted.overlay.") || has_prefix(n, "user.overlay.");
		ssize_t vlen;

		/* The host's SELinux label says nothing about the image (docker drops it too). */
		if (strcmp(n, "security.selinux") == 0)
			continue;
		if (overlay_name && !(t->flags & LAYER_TREE_OVERLAY))
			overlay_name = false;
		if (!overlay_name && (t->flags & LAYER_TREE_NO_XATTRS))
			continue;
		if (t->n_xattrs == LAYER_MAX_XATTRS)
			return plate_err_new(err, E2BIG, "more than %d xattrs", LAYER_MAX_XATTRS);
		vlen = fd >= 0 ? fgetxattr(fd, n, t->values + used, LAYER_MAX_XATTR_TOTAL - used)
			       : lgetxattr(proc, n, t->values + used, LAYER_MAX_XATTR_TOTAL - used);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue; /* removed meanwhile */
			if (errno == ERANGE)
				return plate_err_new(err, E2BIG, "more than %d bytes of xattrs",
						     LAYER_MAX_XATTR_TOTAL);
			return plate_err_new(err, errno, "cannot read xattr '%s'", n);
		}
		if (overlay_name) {
			const char *key = strchr(n + 1, '.');
			key = strchr(key + 1, '.') + 1; /* after "<ns>.overlay." */
			if (strcmp(key, "opaque") == 0 && vlen == 1 && t->values[used] == 'y')
				t->opaque = true;
			else if (strcmp(key, "redirect") == 0 || strcmp(key, "metacopy") == 0)
				return plate_err_new(err, ENOTSUP,
						     "overlayfs xattr '%s' is not supported (mount "
						     "without redirect_dir and metacopy)",
						     n);
			continue;
		}
		t->xattrs[t->n_xattrs].name = n;
		t->xattrs[t->n_xattrs].value = t->values + used;
		t->xattrs[t->n_xattrs].size = (size_t)vlen;
		t->n_xattrs++;
		used += (size_t)vlen;
	}
	return 0;
}

static int child_cmp(const void *a, const void *b)
{
	return strcmp(((const struct child *)a)->out_name, ((const struct child *)b)->out_name);
}

static void children_free(struct child *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

/* Lists dirfd, classifies every child, and sorts them by their name in the layer. */
static int list_children(struct walk *t, int dirfd, bool opaque, struct child **out, size_t *n_out,
			 struct plate_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct child *c = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return plate_err_new(err, saved, "cannot read the directory");
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 1 >= cap) {
			cap = cap != 0 ? 2 * cap : 32;
			struct child *grown = realloc(c, cap * sizeof(*c));
			if (grown == NULL)
				goto nomem;
			c = grown;
		}
		struct child *ch = &c[n];
		memset(ch, 0, sizeof(*ch));
		if (fstatat(dirfd, de->d_name, &ch->st, AT_SYMLINK_NOFOLLOW) < 0) {
			int saved = errno;
			children_free(c, n);
			return plate_err_new(err, saved, "cannot stat '%s'", de->d_name);
		}
		if ((t->flags & LAYER_TREE_OVERLAY) && layer_overlay_is_whiteout(&ch->st)) {
			ch->kind = CHILD_WHITEOUT;
			if (asprintf(&ch->name, "%s%c" LAYER_WHITEOUT_PREFIX "%s", de->d_name, 0,
				     de->d_name) < 0) {
				ch->name = NULL;
				goto nomem;
			}
			ch->out_name = ch->name + strlen(ch->name) + 1;
		} else {
			if ((ch->name = strdup(de->d_name)) == NULL)
				goto nomem;
			ch->out_name = ch->name;
		}
		n++;
	}
	if (errno != 0) {
		int saved = errno;
		children_free(c, n);
		return plate_err_new(err, saved, "cannot read the directory");
	}
	if (opaque) {
		if (n + 1 > cap) {
			struct child *grown = realloc(c, (n + 1) * sizeof(*c));
			if (grown == NULL)
				goto nomem;
			c = grown;
		}
		memset(&c[n], 0, sizeof(c[n]));
		c[n].kind = CHILD_OPAQUE;
		if ((c[n].name = strdup(LAYER_OPAQUE_NAME)) == NULL)
			goto nomem;
		c[n].out_name = c[n].name;
		n++;
	}
	if (n > 0)
		qsort(c, n, sizeof(*c), child_cmp);
	*out = c;
	*n_out = n;
	return 0;
nomem:
	children_free(c, n);
	return plate_err_new(err, ENOMEM, "cannot list the directory");
}

static void fill_entry(struct walk *t, struct layer_entry *e, enum layer_entry_type type,
		       const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->path = t->path;
	e->mode = st->st_mode & 07777;
	e->uid = (t->flags & LAYER_TREE_ROOT_OWNER) ? 0 : st->st_uid;
	e->gid = (t->flags & LAYER_TREE_ROOT_OWNER) ? 0 : st->st_gid;
	e->mtime = st->st_mtim.tv_sec;
	e->xattrs = t->xattrs;
	e->n_xattrs = t->n_xattrs;
}

static int walk_dir(struct walk *t, int dirfd, bool opaque, struct plate_error **err);

static int add_child(struct walk *t, int dirfd, struct child *ch, struct plate_error **err)
{
	struct layer_writer *w = t->w;
	struct layer_entry e;

	switch (ch->kind) {
	case CHILD_OPAQUE:
		t->path[t->len] = '\0';
		return layer_writer_add_opaque(w, t->path, err);
	case CHILD_WHITEOUT:
		return layer_writer_add_whiteout(w, t->path, err);
	case CHILD_ENTRY:
		break;
	default:
		PLATE_BUG("bad child kind");
	}

	switch (ch->st.st_mode & S_IFMT) {
	case S_IFDIR: {
		_cleanup_close_ int fd =
			openat(dirfd, ch->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return plate_err_new(err, errno, "cannot open the directory");
		if (read_xattrs(t, fd, -1, NULL, err) < 0)
			return -1;
		bool child_opaque = t->opaque;
		struct stat st;
		if (fstat(fd, &st) < 0)
			return plate_err_new(err, errno, "cannot stat the directory");
		fill_entry(t, &e, LAYER_ENTRY_DIR, &st);
		if (layer_writer_add(w, &e, -1, err) < 0)
			return -1;
		return walk_dir(t, fd, child_opaque, err);
	}
	case S_IFREG: {
		_cleanup_close_ int fd =
			openat(dirfd, ch->name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		struct stat st;
		if (fd < 0)
			return plate_err_new(err, errno, "cannot open the file");
		if (fstat(fd, &st) < 0)
			return plate_err_new(err, errno, "cannot stat the file");
		if (!S_ISREG(st.st_mode))
			return plate_err_new(err, EAGAIN, "the file changed type during the walk");
		if ((t->flags & LAYER_TREE_WRITEBACK) && st.st_size >= WRITEBACK_MIN)
			(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		if (read_xattrs(t, fd, -1, NULL, err) < 0)
			return -1;
		if (st.st_nlink > 1) {
			const char *first = link_find(t, st.st_dev, st.st_ino);
			if (first != NULL) {
				fill_entry(t, &e, LAYER_ENTRY_HARDLINK, &st);
				e.link_target = first;
				e.n_xattrs = 0;
				return layer_writer_add(w, &e, -1, err);
			}
			if (link_add(t, st.st_dev, st.st_ino, t->path, err) < 0)
				return -1;
		}
		fill_entry(t, &e, LAYER_ENTRY_FILE, &st);
		e.size = (unsigned long long)st.st_size;
		return layer_writer_add(w, &e, fd, err);
	}
	case S_IFLNK: {
		char target[LAYER_MAX_LINK_TARGET + 1];
		ssize_t n = readlinkat(dirfd, ch->name, target, sizeof(target));
		if (n < 0)
			return plate_err_new(err, errno, "cannot read the symlink");
		if ((size_t)n >= sizeof(target))
			return plate_err_new(err, ENAMETOOLONG,
					     "symlink target longer than %d bytes",
					     LAYER_MAX_LINK_TARGET);
		target[n] = '\0';
		if (read_xattrs(t, -1, dirfd, ch->name, err) < 0)
			return -1;
		fill_entry(t, &e, LAYER_ENTRY_SYMLINK, &ch->st);
		e.link_target = target;
		return layer_writer_add(w, &e, -1, err);
	}
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		if (read_xattrs(t, -1, dirfd, ch->name, err) < 0)
			return -1;
		fill_entry(t, &e,
			   S_ISCHR(ch->st.st_mode)   ? LAYER_ENTRY_CHAR
			   : S_ISBLK(ch->st.st_mode) ? LAYER_ENTRY_BLOCK
						     : LAYER_ENTRY_FIFO,
			   &ch->st);
		e.dev_major = major(ch->st.st_rdev);
		e.dev_minor = minor(ch->st.st_rdev);
		return layer_writer_add(w, &e, -1, err);
	default:
		return 0; /* sockets cannot be archived; docker skips them too */
	}
}

static int walk_dir(struct walk *t, int dirfd, bool opaque, struct plate_error **err)
{
	struct child *c = NULL;
	size_t n = 0, saved_len = t->len;
	int r = 0;

	if (list_children(t, dirfd, opaque, &c, &n, err) < 0)
		return plate_err_wrap(err, "'%s'", saved_len ? t->path : ".");
	for (size_t i = 0; i < n && r == 0; i++) {
		/* the path of a whiteout child is the deleted name; add_whiteout adds ".wh." */
		const char *name = c[i].kind == CHILD_WHITEOUT ? c[i].name : c[i].out_name;
		size_t nlen = strlen(name);
		if (c[i].kind == CHILD_OPAQUE) {
			r = add_child(t, dirfd, &c[i], err);
			continue;
		}
		if (saved_len + (saved_len > 0) + nlen > LAYER_MAX_PATH) {
			t->path[saved_len] = '\0';
			r = plate_err_new(err, ENAMETOOLONG,
					  "path under '%s' is longer than %d bytes", t->path,
					  LAYER_MAX_PATH);
			break;
		}
		t->len = saved_len;
		if (t->len > 0)
			t->path[t->len++] = '/';
		memcpy(t->path + t->len, name, nlen + 1);
		t->len += nlen;
		r = add_child(t, dirfd, &c[i], err);
		if (r < 0 && (*err)->n_frames == 0)
			plate_err_wrap(err, "'%s'", t->path);
	}
	t->len = saved_len;
	t->path[saved_len] = '\0';
	children_free(c, n);
	return r;
}

int layer_writer_add_tree(struct layer_writer *w, int dirfd, const char *prefix, unsigned flags,
			  struct plate_error **err)
{
	struct walk t = { .w = w, .flags = flags };
	char clean[LAYER_MAX_PATH + 1];
	int n, r = -1;

	if (layer_writer_check(w, "layer_writer_add_tree", WRITER_OPEN, err) < 0)
		return -1;
	if (prefix == NULL)
		prefix = "";
	if (prefix[0] != '\0') {
		n = layer_path_clean(prefix, strlen(prefix), 0, clean, sizeof(clean), err);
		if (n < 0)
			return -1;
		if (strcmp(clean, prefix) != 0)
			return plate_err_new(err, EINVAL, "tree prefix '%s' is not in clean form",
					     prefix);
	} else if (flags & LAYER_TREE_WITH_ROOT) {
		return plate_err_new(err, EINVAL, "LAYER_TREE_WITH_ROOT needs a prefix");
	}
	t.names = malloc(XATTR_LIST_BYTES);
	t.values = malloc(LAYER_MAX_XATTR_TOTAL);
	if (t.names == NULL || t.values == NULL) {
		plate_err_new(err, ENOMEM, "cannot allocate xattr buffers");
		goto out;
	}
	memcpy(t.path, prefix, strlen(prefix) + 1);
	t.len = strlen(prefix);
	if (flags & LAYER_TREE_WITH_ROOT) {
		struct layer_entry e;
		struct stat st;
		if (fstat(dirfd, &st) < 0) {
			plate_err_new(err, errno, "cannot stat the tree root");
			goto out;
		}
		if (read_xattrs(&t, dirfd, -1, NULL, err) < 0)
			goto out;
		fill_entry(&t, &e, LAYER_ENTRY_DIR, &st);
		if (layer_writer_add(w, &e, -1, err) < 0)
			goto out;
		r = walk_dir(&t, dirfd, t.opaque, err);
	} else {
		bool opaque = false;
		if ((flags & LAYER_TREE_OVERLAY) && prefix[0] != '\0') {
			if (read_xattrs(&t, dirfd, -1, NULL, err) < 0)
				goto out;
			opaque = t.opaque;
		}
		r = walk_dir(&t, dirfd, opaque, err);
	}
out:
	for (size_t i = 0; i < t.links_cap; i++)
		free(t.links[i].path);
	free(t.links);
	free(t.names);
	free(t.values);
	if (r < 0) {
		plate_err_wrap(err, "cannot add tree '%s'", prefix[0] ? prefix : ".");
		/* Part of the tree may be in the stream already: the layer is unusable. */
		return layer_writer_break(w);
	}
	return 0;
}

bool layer_overlay_is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

bool layer_overlay_is_opaque(int dirfd)
{
	char v[4];
	ssize_t n = fgetxattr(dirfd, "trusted.overlay.opaque", v, sizeof(v));

	if (n < 0)
		n = fgetxattr(dirfd, "user.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}
