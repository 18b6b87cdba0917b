/*
 * Snapshot content verification for fsck: the tree under snapshots/<hex>/fs is compared,
 * entry by entry, with the layer blob it was made from (streamed, so memory stays flat):
 * types, file sizes and content byte for byte, symlink targets, hardlinks sharing an inode,
 * and permission bits when running as root (unprivileged extraction may drop set-id bits).
 * Ownership and mtimes are not compared: the store may remap owners when not root, and
 * `plate import` clamps mtimes.  Whiteouts and opaque markers are overlay metadata and are
 * left to the entry count of info.json.
 *
 * A layer may name a path twice (the later entry wins) or replace a directory holding
 * earlier entries, so a mismatch is only a candidate until the end of the stream: a later
 * entry at the same path or above it withdraws it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/layer.h"
#include "store/store_internal.h"

#define VERIFY_MAX_CANDIDATES 16
#define VERIFY_BUFFER (64 * 1024)

struct candidate {
	char *path;
	const char *why;
};

struct verify {
	int fsfd;
	bool root;
	struct candidate c[VERIFY_MAX_CANDIDATES];
	size_t n;
	bool overflow;	  /* more mismatches than candidates: reported whatever follows */
	unsigned char *b; /* the snapshot's bytes being compared */
};

/* Opens path below fsfd without following any symlink, including in parents. */
static int open_beneath(int fsfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, fsfd, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = openat(fsfd, path, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static bool covers(const char *above, const char *path)
{
	size_t n = strlen(above);

	return strncmp(above, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void withdraw(struct verify *v, const char *path)
{
	for (size_t i = 0; i < v->n;) {
		if (covers(path, v->c[i].path)) {
			free(v->c[i].path);
			v->c[i] = v->c[--v->n];
		} else {
			i++;
		}
	}
}

static int mismatch(struct verify *v, const char *path, const char *why, struct plate_error **err)
{
	if (v->n == VERIFY_MAX_CANDIDATES) {
		v->overflow = true;
		return 0;
	}
	if ((v->c[v->n].path = strdup(path)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	v->c[v->n++].why = why;
	return 0;
}

/* Whether fd holds the bytes data[0..len) at off. */
static bool same_at(int fd, off_t off, const char *data, size_t len, unsigned char *buf)
{
	while (len > 0) {
		size_t want = len < VERIFY_BUFFER ? len : VERIFY_BUFFER;
		ssize_t k = pread(fd, buf, want, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || memcmp(buf, data, (size_t)k) != 0)
			return false;
		data += k;
		off += k;
		len -= (size_t)k;
	}
	return true;
}

/* Whether fd reads as zeros over [from, to): its holes are skipped with SEEK_DATA and
 * SEEK_HOLE, so a 32 GiB hole costs two syscalls; data found there is read and checked. */
static bool zeros_in(int fd, off_t from, off_t to, unsigned char *buf)
{
	while (from < to) {
		off_t data = lseek(fd, from, SEEK_DATA), end;
		if (data < 0 && errno == ENXIO)
			return true; /* nothing but a hole up to the end of the file */
		if (data < 0)
			data = from; /* no SEEK_DATA here: read it all */
		if (data >= to)
			return true;
		end = lseek(fd, data, SEEK_HOLE);
		if (end < 0 || end > to)
			end = to;
		for (from = data; from < end;) {
			size_t want = (size_t)(end - from) < VERIFY_BUFFER ? (size_t)(end - from)
									   : VERIFY_BUFFER;
			ssize_t k = pread(fd, buf, want, from);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return false;
			for (ssize_t i = 0; i < k; i++)
				if (buf[i] != 0)
					return false;
			from += k;
		}
	}
	return true;
}

/* The content of the current entry (size bytes) against fd: NULL when equal, else the
 * difference.  Only the layer's data blocks are compared byte for byte; where the layer
 * has a hole the file must read as zeros, which its own holes do without being read. */
static const char *compare_content(struct verify *v, struct layer_reader *r, int fd,
				   unsigned long long size, struct plate_error **err)
{
	const char *why = NULL;
	off_t pos = 0;

	for (;;) {
		const void *block;
		size_t len;
		int64_t off;
		int b = layer_reader_block(r, &block, &len, &off, err);
		if (b < 0)
			return NULL;
		if (b == 0)
			break;
		if (why != NULL)
			continue; /* the layer still has to be read to its end */
		if ((off > pos && !zeros_in(fd, pos, (off_t)off, v->b)) ||
		    !same_at(fd, (off_t)off, block, len, v->b))
			why = "content differs";
		pos = (off_t)off + (off_t)len;
	}
	if (why == NULL && (off_t)size > pos && !zeros_in(fd, pos, (off_t)size, v->b))
		why = "content differs";
	return why;
}

/* Checks one entry; returns the difference (NULL: none), or NULL with *err on failure. */
static const char *check_entry(struct verify *v, struct layer_reader *r,
			       const struct layer_entry *e, struct plate_error **err)
{
	_cleanup_close_ int fd = -1;
	struct stat st, target;
	char link[LAYER_MAX_PATH + 1];
	ssize_t n;

	switch (e->type) {
	case LAYER_ENTRY_WHITEOUT:
	case LAYER_ENTRY_OPAQUE:
		return NULL;
	case LAYER_ENTRY_CHAR:
	case LAYER_ENTRY_BLOCK:
		if (!v->root)
			return NULL; /* not made unprivileged */
		break;
	case LAYER_ENTRY_FILE:
	case LAYER_ENTRY_DIR:
	case LAYER_ENTRY_SYMLINK:
	case LAYER_ENTRY_HARDLINK:
	case LAYER_ENTRY_FIFO:
	default:
		break;
	}
	fd = open_beneath(v->fsfd, e->path, O_PATH);
	if (fd < 0 || fstat(fd, &st) < 0)
		return errno == ENOENT ? "missing" : "cannot be opened";
	switch (e->type) {
	case LAYER_ENTRY_FILE:
		if (!S_ISREG(st.st_mode))
			return "not a regular file";
		if ((unsigned long long)st.st_size != e->size)
			return "size differs";
		break;
	case LAYER_ENTRY_DIR:
		if (!S_ISDIR(st.st_mode))
			return "not a directory";
		break;
	case LAYER_ENTRY_SYMLINK:
		if (!S_ISLNK(st.st_mode))
			return "not a symlink";
		n = readlinkat(fd, "", link, sizeof(link) - 1);
		if (n < 0 || (link[n] = '\0', strcmp(link, e->link_target) != 0))
			return "symlink target differs";
		return NULL;
	case LAYER_ENTRY_HARDLINK: {
		_cleanup_close_ int tfd = open_beneath(v->fsfd, e->link_target, O_PATH);
		if (tfd < 0 || fstat(tfd, &target) < 0 || target.st_ino != st.st_ino ||
		    target.st_dev != st.st_dev)
			return "hardlink broken";
		return NULL;
	}
	case LAYER_ENTRY_CHAR:
	case LAYER_ENTRY_BLOCK:
		if ((e->type == LAYER_ENTRY_CHAR ? !S_ISCHR(st.st_mode) : !S_ISBLK(st.st_mode)) ||
		    st.st_rdev != makedev(e->dev_major, e->dev_minor))
			return "device differs";
		break;
	case LAYER_ENTRY_FIFO:
		if (!S_ISFIFO(st.st_mode))
			return "not a fifo";
		break;
	case LAYER_ENTRY_WHITEOUT:
	case LAYER_ENTRY_OPAQUE:
	default:
		return NULL;
	}
	if (v->root && (st.st_mode & 07777) != (e->mode & 07777))
		return "mode differs";
	if (e->type == LAYER_ENTRY_FILE) {
		/* Opened for reading only once known to be a regular file. */
		_cleanup_close_ int rfd = open_beneath(v->fsfd, e->path, O_RDONLY | O_NONBLOCK);
		if (rfd < 0)
			return "cannot be opened";
		return compare_content(v, r, rfd, e->size, err);
	}
	return NULL;
}

int store_snapshot_verify(struct store *s, const char *diff_id, const char *layer_digest,
			  struct plate_error **err)
{
	struct layer_reader_options ro = { .expected_diff_id = diff_id };
	struct verify v = { .fsfd = -1, .root = geteuid() == 0 };
	_cleanup_close_ int blobfd = -1;
	_cleanup_free_ char *fs = NULL;
	struct layer_reader *r = NULL;
	struct layer_result res;
	struct layer_entry e;
	int64_t size;
	int n, rc = -1;

	if ((fs = store_snapshot_path(s, diff_id)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (store_blob_open(s, layer_digest, &blobfd, &size, err) < 0)
		return -1;
	v.fsfd = open(fs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	v.b = malloc(VERIFY_BUFFER);
	if (v.fsfd < 0) {
		plate_err_new(err, errno, "cannot open '%s'", fs);
		goto out;
	}
	if (v.b == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	if (layer_reader_new(blobfd, &ro, &r, err) < 0)
		goto out;
	while ((n = layer_reader_next(r, &e, err)) > 0) {
		const char *why;

		withdraw(&v, e.path);
		why = check_entry(&v, r, &e, err);
		if (*err != NULL)
			goto out;
		if (why != NULL && mismatch(&v, e.path, why, err) < 0)
			goto out;
	}
	if (n < 0 || layer_reader_finish(r, &res, err) < 0) {
		plate_err_wrap(err, "layer '%s'", layer_digest);
		goto out;
	}
	if (v.n > 0 || v.overflow) {
		plate_err_new(err, 0, "'%s' differs from layer '%s': %s%s",
			      v.n > 0 ? v.c[0].path : "(several entries)", layer_digest,
			      v.n > 0 ? v.c[0].why : "content differs",
			      v.n > 1 || v.overflow ? " (and more)" : "");
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < v.n; i++)
		free(v.c[i].path);
	layer_reader_free(r);
	if (v.fsfd >= 0)
		close(v.fsfd);
	free(v.b);
	return rc;
}
