/*
 * The layer writer: a libarchive pax writer whose output callback feeds the stage chain
 *   tar -> sha256 (diffID) -> compressor -> sha256 (digest) -> fd
 * and the deterministic normalisation of every entry (layer.h has the list).
 *
 * Handle states (HOUSE_STYLE rule 13): OPEN after layer_writer_new(), CLOSED after
 * layer_writer_finish(), BROKEN once anything failed after bytes may have been produced.
 * An argument error caught before libarchive is called (a bad path, an out-of-order
 * entry) is reported without breaking the writer, since nothing was written.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/writer_internal.h"

#define WRITER_MAGIC 0x4c617957u /* "LayW" */
#define COPY_BUFFER (256 * 1024)

static const char *state_name(unsigned state)
{
	switch (state) {
	case WRITER_OPEN:
		return "OPEN";
	case WRITER_CLOSED:
		return "CLOSED";
	case WRITER_BROKEN:
		return "BROKEN";
	default:
		return "INVALID";
	}
}

int layer_writer_check(struct layer_writer *w, const char *fn, unsigned allowed,
		       struct plate_error **err)
{
	if (w == NULL || w->magic != WRITER_MAGIC)
		return plate_err_new(err, EINVAL,
				     "INTERNAL ERROR: '%s' called on an invalid layer writer", fn);
	if (w->state == WRITER_BROKEN && !(allowed & WRITER_BROKEN))
		return plate_err_new(err, EIO,
				     "'%s': the layer writer failed earlier and is unusable", fn);
	if (!(w->state & allowed))
		return plate_err_new(err, EINVAL, "INTERNAL ERROR: '%s' called in state %s", fn,
				     state_name(w->state));
	return 0;
}

int layer_writer_break(struct layer_writer *w)
{
	w->state = WRITER_BROKEN;
	return -1;
}

/*
 * libarchive converts names between the locale's charset and UTF-8 (pax "path"), so under
 * the process locale the bytes written would depend on LANG.  Every libarchive call runs
 * under the "C" locale instead, installed for this thread only (uselocale) and put back
 * before returning: non-ASCII names are then always stored as raw bytes.
 */
static locale_t pin_locale(struct layer_writer *w)
{
	return uselocale(w->c_locale);
}

/*
 * A failure is recorded in w->io_err and checked after every libarchive call, but not
 * reported to libarchive: an archive in its FATAL state skips its close on free and
 * leaks the output client's buffers (libarchive 3.6).  Output after a failure is dropped.
 */
static la_ssize_t tar_output(struct archive *a, void *client, const void *buf, size_t len)
{
	struct layer_writer *w = client;

	if (w->discard || w->io_err != NULL)
		return (la_ssize_t)len;
	layer_stage_write(w->chain, buf, len, &w->io_err);
	return (la_ssize_t)len;
}

/* Turns a libarchive failure into a plate_error, preferring the first cause recorded by
 * the output callback (HOUSE_STYLE rule 7). */
static int archive_failure(struct layer_writer *w, const char *what, struct plate_error **err)
{
	if (w->io_err != NULL) {
		*err = steal_pointer(&w->io_err);
		return plate_err_wrap(err, "%s", what);
	}
	const char *msg = archive_error_string(w->a);
	return plate_err_new(err, archive_errno(w->a) > 0 ? archive_errno(w->a) : EIO, "%s: %s",
			     what, msg != NULL ? msg : "libarchive error");
}

int layer_writer_new(int out_fd, const struct layer_writer_options *opts, struct layer_writer **out,
		     struct plate_error **err)
{
	static const struct layer_writer_options defaults = { 0 };
	struct layer_compress_params params;
	struct layer_stage *comp = NULL, *fd_stage;
	const char *name;
	struct layer_writer *w;
	locale_t old_locale;

	if (opts == NULL)
		opts = &defaults;
	name = opts->compression != NULL ? opts->compression : LAYER_DEFAULT_COMPRESSION;
	if (opts->epoch < 0)
		return plate_err_new(err, EINVAL, "layer epoch %lld is negative", opts->epoch);
	if (out_fd < 0)
		return plate_err_new(err, EBADF, "layer output fd %d is invalid", out_fd);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return plate_err_new(err, ENOMEM, "cannot allocate a layer writer");
	w->magic = WRITER_MAGIC;
	w->state = WRITER_BROKEN; /* until fully set up */
	w->epoch = opts->epoch;
	w->compressor = layer_compressor_find(name);
	if (w->compressor == NULL) {
		plate_err_new(err, EINVAL, "unknown compression '%s'", name);
		goto fail;
	}
	w->copy_buf = malloc(COPY_BUFFER);
	if (w->copy_buf == NULL) {
		plate_err_new(err, ENOMEM, "cannot allocate a layer writer");
		goto fail;
	}

	params.level = opts->level;
	params.threads = opts->threads != 0 ? opts->threads : 2;
	if ((w->diff_stage = layer_stage_digest_new(err)) == NULL)
		goto fail;
	w->chain = w->diff_stage;
	if (w->compressor->stage_new(&params, &comp, err) < 0)
		goto fail;
	w->diff_stage->next = comp;
	/* Uncompressed, the stored bytes are the tar: its digest is the diffID. */
	if (strcmp(w->compressor->name, "none") != 0) {
		if ((w->digest_stage = layer_stage_digest_new(err)) == NULL)
			goto fail;
		comp->next = w->digest_stage;
		comp = w->digest_stage;
	}
	if ((fd_stage = layer_stage_fd_new(out_fd, err)) == NULL)
		goto fail;
	comp->next = fd_stage;
	if (layer_chain_open(w->chain, err) < 0)
		goto fail;

	w->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (w->c_locale == (locale_t)0) {
		plate_err_new(err, errno, "cannot create the C locale");
		goto fail;
	}
	old_locale = pin_locale(w);
	w->a = archive_write_new();
	w->entry = archive_entry_new();
	if (w->a == NULL || w->entry == NULL) {
		plate_err_new(err, ENOMEM, "cannot allocate the tar writer");
		uselocale(old_locale);
		goto fail;
	}
	/*
	 * pax_restricted: plain ustar headers, plus a pax extended header only when a field
	 * does not fit (long path or link, large id or size, xattrs).  SCHILY.xattr.* is
	 * what Go's archive/tar, containerd and docker read; LIBARCHIVE.xattr.* would only
	 * duplicate it.  bytes_per_block 0: no padding of the stream to 10 KiB records.
	 */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w->a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_open(w->a, w, NULL, tar_output, NULL) != ARCHIVE_OK) {
		archive_failure(w, "cannot set up the tar writer", err);
		uselocale(old_locale);
		goto fail;
	}
	uselocale(old_locale);
	w->state = WRITER_OPEN;
	*out = w;
	return 0;
fail:
	layer_writer_free(w);
	return -1;
}

/* Path of the tar entry for e, written into name. */
static int entry_name(const struct layer_entry *e, char name[LAYER_MAX_PATH + 1],
		      struct plate_error **err)
{
	char q[LAYER_QUOTE_MAX];
	char dir[LAYER_MAX_PATH + 1];
	const char *path = e->path != NULL ? e->path : "";
	size_t len = strlen(path);
	int n;

	if (len == 0)
		return plate_err_new(err, EINVAL, "layer entry without a path");
	n = layer_path_clean(path, len, 0, name, LAYER_MAX_PATH + 1, err);
	if (n < 0)
		return -1;
	if ((size_t)n != len || memcmp(name, path, len) != 0)
		return plate_err_new(err, EINVAL,
				     "layer entry path '%s' is not in clean form ('%s')",
				     layer_quote(path, len, q), name);
	if (n == 0)
		return plate_err_new(err, EINVAL, "layer entry path '%s' names the root",
				     layer_quote(path, len, q));

	char base[LAYER_MAX_NAME + 1];
	snprintf(base, sizeof(base), "%s", layer_path_split(name, dir));
	switch (e->type) {
	case LAYER_ENTRY_WHITEOUT:
		if (strncmp(base, LAYER_WHITEOUT_PREFIX, 4) == 0)
			return plate_err_new(err, EINVAL,
					     "cannot white out '%s': already a whiteout name",
					     layer_quote(path, len, q));
		n = snprintf(name, LAYER_MAX_PATH + 1, "%s%s" LAYER_WHITEOUT_PREFIX "%s", dir,
			     dir[0] != '\0' ? "/" : "", base);
		if (n > LAYER_MAX_PATH || strlen(base) + 4 > LAYER_MAX_NAME)
			return plate_err_new(err, ENAMETOOLONG, "whiteout for '%s' is too long",
					     layer_quote(path, len, q));
		return 0;
	case LAYER_ENTRY_OPAQUE:
		n = snprintf(name, LAYER_MAX_PATH + 1, "%s/" LAYER_OPAQUE_NAME, path);
		if (n > LAYER_MAX_PATH)
			return plate_err_new(err, ENAMETOOLONG,
					     "opaque marker for '%s' is too long",
					     layer_quote(path, len, q));
		return 0;
	case LAYER_ENTRY_FILE:
	case LAYER_ENTRY_DIR:
	case LAYER_ENTRY_SYMLINK:
	case LAYER_ENTRY_HARDLINK:
	case LAYER_ENTRY_CHAR:
	case LAYER_ENTRY_BLOCK:
	case LAYER_ENTRY_FIFO:
		/* A stored ".wh." name would be read back as a whiteout (image-spec layer.md). */
		if (strncmp(base, LAYER_WHITEOUT_PREFIX, 4) == 0)
			return plate_err_new(err, EINVAL,
					     "layer entry '%s' has a name reserved for whiteouts",
					     layer_quote(path, len, q));
		return 0;
	default:
		return plate_err_new(err, EINVAL, "layer entry '%s' has an invalid type %d",
				     layer_quote(path, len, q), (int)e->type);
	}
}

static int xattr_cmp(const void *a, const void *b)
{
	const struct layer_xattr *x = *(const struct layer_xattr *const *)a;
	const struct layer_xattr *y = *(const struct layer_xattr *const *)b;

	return strcmp(x->name, y->name);
}

static int set_xattrs(struct layer_writer *w, const struct layer_entry *e, const char *name,
		      struct plate_error **err)
{
	const struct layer_xattr *sorted[LAYER_MAX_XATTRS];
	char q[LAYER_QUOTE_MAX];
	size_t total = 0;

	if (e->n_xattrs > LAYER_MAX_XATTRS)
		return plate_err_new(err, E2BIG, "entry '%s' has more than %d xattrs",
				     layer_quote(name, strlen(name), q), LAYER_MAX_XATTRS);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const struct layer_xattr *x = &e->xattrs[i];
		size_t nlen = x->name != NULL ? strlen(x->name) : 0;
		if (nlen == 0 || nlen > LAYER_MAX_XATTR_NAME || x->size > LAYER_MAX_XATTR_VALUE ||
		    (x->size > 0 && x->value == NULL))
			return plate_err_new(err, EINVAL, "entry '%s' has an invalid xattr",
					     layer_quote(name, strlen(name), q));
		total += nlen + x->size;
		sorted[i] = x;
	}
	if (total > LAYER_MAX_XATTR_TOTAL)
		return plate_err_new(err, E2BIG, "entry '%s' has more than %d bytes of xattrs",
				     layer_quote(name, strlen(name), q), LAYER_MAX_XATTR_TOTAL);
	qsort(sorted, e->n_xattrs, sizeof(sorted[0]), xattr_cmp);
	for (size_t i = 1; i < e->n_xattrs; i++)
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
			return plate_err_new(err, EINVAL, "entry '%s' has xattr '%s' twice",
					     layer_quote(name, strlen(name), q), sorted[i]->name);
	/* libarchive writes xattrs in the reverse order of addition. */
	for (size_t i = e->n_xattrs; i-- > 0;)
		archive_entry_xattr_add_entry(w->entry, sorted[i]->name, sorted[i]->value,
					      sorted[i]->size);
	return 0;
}

/* Checks everything about e that can be checked before writing, and fills w->entry. */
static int prepare_entry(struct layer_writer *w, const struct layer_entry *e, char *name,
			 unsigned long long size, struct plate_error **err)
{
	char q[LAYER_QUOTE_MAX], q2[LAYER_QUOTE_MAX];
	long long mtime;

	if (entry_name(e, name, err) < 0)
		return -1;
	if (w->have_last && layer_path_compare(w->last, name) >= 0)
		return plate_err_new(err, EINVAL,
				     "layer entry '%s' is out of order or repeated (after '%s')",
				     layer_quote(name, strlen(name), q),
				     layer_quote(w->last, strlen(w->last), q2));
	if (e->mode & ~07777u)
		return plate_err_new(err, EINVAL, "layer entry '%s' has invalid mode %o",
				     layer_quote(name, strlen(name), q), e->mode);

	archive_entry_clear(w->entry);
	archive_entry_copy_pathname(w->entry, name);
	mtime = e->mtime > w->epoch ? w->epoch : e->mtime;
	archive_entry_set_mtime(w->entry, mtime, 0);
	archive_entry_set_uid(w->entry, e->uid);
	archive_entry_set_gid(w->entry, e->gid);
	archive_entry_set_perm(w->entry, e->mode);

	switch (e->type) {
	case LAYER_ENTRY_FILE:
		archive_entry_set_filetype(w->entry, AE_IFREG);
		archive_entry_set_size(w->entry, (la_int64_t)size);
		break;
	case LAYER_ENTRY_DIR:
		archive_entry_set_filetype(w->entry, AE_IFDIR);
		break;
	case LAYER_ENTRY_SYMLINK: {
		size_t tlen = e->link_target != NULL ? strlen(e->link_target) : 0;
		if (tlen == 0 || tlen > LAYER_MAX_LINK_TARGET)
			return plate_err_new(err, EINVAL,
					     "symlink '%s' has an empty or too long target",
					     layer_quote(name, strlen(name), q));
		archive_entry_set_filetype(w->entry, AE_IFLNK);
		archive_entry_copy_symlink(w->entry, e->link_target);
		break;
	}
	case LAYER_ENTRY_HARDLINK: {
		char target[LAYER_MAX_PATH + 1];
		const char *t = e->link_target != NULL ? e->link_target : "";
		if (layer_path_clean(t, strlen(t), 0, target, sizeof(target), err) <= 0 ||
		    strcmp(target, t) != 0 ||
		    !layer_hashset_contains(&w->files, layer_hash(target, strlen(target)))) {
			plate_error_free(*err);
			*err = NULL;
			return plate_err_new(err, EINVAL,
					     "hardlink '%s' must point to an earlier file of the "
					     "layer, not '%s'",
					     layer_quote(name, strlen(name), q),
					     layer_quote(t, strlen(t), q2));
		}
		archive_entry_set_filetype(w->entry, AE_IFREG);
		archive_entry_copy_hardlink(w->entry, target);
		archive_entry_set_size(w->entry, 0);
		break;
	}
	case LAYER_ENTRY_CHAR:
	case LAYER_ENTRY_BLOCK:
		archive_entry_set_filetype(w->entry,
					   e->type == LAYER_ENTRY_CHAR ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdevmajor(w->entry, e->dev_major);
		archive_entry_set_rdevminor(w->entry, e->dev_minor);
		break;
	case LAYER_ENTRY_FIFO:
		archive_entry_set_filetype(w->entry, AE_IFIFO);
		break;
	case LAYER_ENTRY_WHITEOUT:
	case LAYER_ENTRY_OPAQUE:
		/* Empty regular files, as docker and containerd write them. */
		archive_entry_set_filetype(w->entry, AE_IFREG);
		archive_entry_set_size(w->entry, 0);
		archive_entry_set_perm(w->entry, 0);
		archive_entry_set_uid(w->entry, 0);
		archive_entry_set_gid(w->entry, 0);
		archive_entry_set_mtime(w->entry, 0, 0);
		return 0;
	default:
		return plate_err_new(err, EINVAL, "invalid entry type");
	}
	return set_xattrs(w, e, name, err);
}

/* Writes the prepared entry and its content (from fd when data is NULL). */
static int emit_entry(struct layer_writer *w, const struct layer_entry *e, const char *name, int fd,
		      const void *data, unsigned long long size, struct plate_error **err)
{
	char q[LAYER_QUOTE_MAX];
	unsigned long long left = size;

	/* ARCHIVE_WARN: a name not valid in the pinned "C" locale, stored as raw bytes with
	 * hdrcharset=BINARY; the entry was written. */
	if (archive_write_header(w->a, w->entry) < ARCHIVE_WARN || w->io_err != NULL) {
		archive_failure(w, "cannot write a tar header", err);
		goto broken;
	}
	while (left > 0) {
		const char *p;
		size_t n;
		if (data != NULL) {
			p = (const char *)data + (size - left);
			n = left;
		} else {
			ssize_t got =
				read(fd, w->copy_buf, left < COPY_BUFFER ? left : COPY_BUFFER);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				plate_err_new(err, errno, "cannot read the content");
				goto broken;
			}
			if (got == 0) {
				plate_err_new(err, EIO,
					      "file is %llu bytes shorter than its size (changed "
					      "while being read?)",
					      left);
				goto broken;
			}
			p = w->copy_buf;
			n = (size_t)got;
		}
		while (n > 0) {
			la_ssize_t wrote = archive_write_data(w->a, p, n);
			if (wrote <= 0 || w->io_err != NULL) {
				archive_failure(w, "cannot write tar data", err);
				goto broken;
			}
			p += wrote;
			n -= (size_t)wrote;
			left -= (unsigned long long)wrote;
		}
	}
	if (archive_write_finish_entry(w->a) != ARCHIVE_OK || w->io_err != NULL) {
		archive_failure(w, "cannot finish a tar entry", err);
		goto broken;
	}
	if (e->type == LAYER_ENTRY_FILE &&
	    layer_hashset_add(&w->files, layer_hash(name, strlen(name))) < 0) {
		plate_err_new(err, ENOMEM, "cannot record layer entries");
		goto broken;
	}
	memcpy(w->last, name, strlen(name) + 1);
	w->have_last = true;
	w->entries++;
	return 0;
broken:
	plate_err_wrap(err, "entry '%s'", layer_quote(name, strlen(name), q));
	return layer_writer_break(w);
}

static int add_entry(struct layer_writer *w, const char *fn, const struct layer_entry *e, int fd,
		     const void *data, size_t len, struct plate_error **err)
{
	char name[LAYER_MAX_PATH + 1];
	unsigned long long size;

	if (layer_writer_check(w, fn, WRITER_OPEN, err) < 0)
		return -1;
	if (e == NULL)
		return plate_err_new(err, EINVAL, "INTERNAL ERROR: '%s' called without an entry",
				     fn);
	size = e->type != LAYER_ENTRY_FILE ? 0 : data != NULL ? len : e->size;
	if (size > 0 && data == NULL && fd < 0)
		return plate_err_new(err, EBADF, "INTERNAL ERROR: '%s' called without content", fn);
	if (prepare_entry(w, e, name, size, err) < 0)
		return -1;
	locale_t old = pin_locale(w);
	int r = emit_entry(w, e, name, fd, data, size, err);
	uselocale(old);
	return r;
}

int layer_writer_add(struct layer_writer *w, const struct layer_entry *e, int content_fd,
		     struct plate_error **err)
{
	return add_entry(w, "layer_writer_add", e, content_fd, NULL, 0, err);
}

int layer_writer_add_data(struct layer_writer *w, const struct layer_entry *e, const void *data,
			  size_t len, struct plate_error **err)
{
	struct layer_entry copy;

	if (e == NULL || e->type != LAYER_ENTRY_FILE)
		return plate_err_new(err, EINVAL,
				     "INTERNAL ERROR: 'layer_writer_add_data' needs a file entry");
	copy = *e;
	copy.size = len;
	return add_entry(w, "layer_writer_add_data", &copy, -1, data != NULL ? data : "", len, err);
}

int layer_writer_add_whiteout(struct layer_writer *w, const char *path, struct plate_error **err)
{
	struct layer_entry e = { .type = LAYER_ENTRY_WHITEOUT, .path = path };

	return add_entry(w, "layer_writer_add_whiteout", &e, -1, NULL, 0, err);
}

int layer_writer_add_opaque(struct layer_writer *w, const char *dir, struct plate_error **err)
{
	struct layer_entry e = { .type = LAYER_ENTRY_OPAQUE, .path = dir };

	return add_entry(w, "layer_writer_add_opaque", &e, -1, NULL, 0, err);
}

int layer_writer_finish(struct layer_writer *w, struct layer_result *result,
			struct plate_error **err)
{
	unsigned long long bytes;

	if (layer_writer_check(w, "layer_writer_finish", WRITER_OPEN, err) < 0)
		return -1;
	locale_t old = pin_locale(w);
	int r = archive_write_close(w->a);
	uselocale(old);
	if (r != ARCHIVE_OK || w->io_err != NULL) {
		archive_failure(w, "cannot finish the tar stream", err);
		return layer_writer_break(w);
	}
	if (layer_chain_close(w->chain, err) < 0)
		return layer_writer_break(w);
	memset(result, 0, sizeof(*result));
	layer_stage_digest_result(w->diff_stage, result->diff_id, &bytes);
	result->uncompressed_size = bytes;
	if (w->digest_stage != NULL) {
		layer_stage_digest_result(w->digest_stage, result->digest, &bytes);
		result->size = bytes;
	} else {
		memcpy(result->digest, result->diff_id, sizeof(result->digest));
		result->size = result->uncompressed_size;
	}
	result->entries = w->entries;
	result->compression = w->compressor->name;
	w->state = WRITER_CLOSED;
	return 0;
}

void layer_writer_free(struct layer_writer *w)
{
	if (w == NULL || w->magic != WRITER_MAGIC)
		return;
	/* archive_write_free() closes an open archive, writing its trailer: drop it. */
	w->discard = true;
	if (w->a != NULL) {
		locale_t old = pin_locale(w);
		archive_write_free(w->a);
		uselocale(old);
	}
	if (w->c_locale != (locale_t)0)
		freelocale(w->c_locale);
	archive_entry_free(w->entry);
	layer_chain_free(w->chain);
	plate_error_free(w->io_err);
	free(w->copy_buf);
	layer_hashset_release(&w->files);
	w->magic = 0;
	free(w);
}
