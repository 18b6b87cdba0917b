/* The closure of a root descriptor: index -> manifests -> config and layers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "store/store_internal.h"

/* Indexes of indexes are legal; more than this many levels is a loop or an attack. */
#define WALK_MAX_DEPTH 8

static int source_open(const struct store_blob_source *src, const char *digest, int *fd,
		       int64_t *size, struct plate_error **err)
{
	if (src->txn != NULL && store_txn_staged_open(src->txn, digest, fd, size) == 0)
		return 0;
	return store_blob_open(src->store, digest, fd, size, err);
}

bool store_source_has(const struct store_blob_source *src, const char *digest, int64_t size)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_close_ int fd = -1;
	int64_t actual;

	if (source_open(src, digest, &fd, &actual, &err) < 0)
		return false;
	return size < 0 || actual == size;
}

int store_source_read(const struct store_blob_source *src, const struct oci_descriptor *d,
		      size_t max, char **data, size_t *len, struct plate_error **err)
{
	_cleanup_buf_ struct buf b = BUF_INIT(max);
	_cleanup_close_ int fd = -1;
	char actual[DIGEST_STRING_LEN + 1];
	int64_t size;

	if (source_open(src, d->digest, &fd, &size, err) < 0)
		return -1;
	if (size != d->size)
		return plate_err_new(err, EIO, "blob '%s' has %lld bytes, its descriptor says %lld",
				     d->digest, (long long)size, (long long)d->size);
	if ((size_t)size > max)
		return plate_err_new(err, EFBIG, "blob '%s' (%s) is larger than %zu bytes",
				     d->digest, d->media_type, max);
	if (buf_grow(&b, (size_t)size) < 0)
		return plate_err_new(err, errno, "blob '%s'", d->digest);
	while (b.len < (size_t)size) {
		ssize_t n = pread(fd, b.data + b.len, (size_t)size - b.len, (off_t)b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return plate_err_new(err, n < 0 ? errno : EIO, "cannot read blob '%s'",
					     d->digest);
		b.len += (size_t)n;
	}
	b.data[b.len] = '\0';
	if (digest_buffer(b.data, b.len, actual, err) < 0)
		return -1;
	if (strcmp(actual, d->digest) != 0)
		return plate_err_new(err, EIO, "blob '%s' is corrupt: its content hashes to '%s'",
				     d->digest, actual);
	*data = buf_detach(&b, len);
	return *data == NULL ? plate_err_new(err, ENOMEM, "out of memory") : 0;
}

struct walk {
	const struct store_blob_source *src;
	const struct store_walk_ops *ops;
	void *data;
};

/* In problem mode, reports *err and clears it; returns what the walk should return. */
static int trouble(struct walk *w, struct plate_error **err)
{
	_cleanup_free_ char *text = NULL;

	if (w->ops->problem == NULL)
		return -1;
	text = plate_error_format(*err);
	w->ops->problem(w->data, text ? text : (*err)->message);
	plate_error_free(*err);
	*err = NULL;
	return 0;
}

static int visit(struct walk *w, const struct oci_descriptor *d, unsigned depth,
		 struct plate_error **err);

static int visit_index(struct walk *w, const struct oci_descriptor *d, unsigned depth,
		       struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	struct oci_index idx;
	size_t len, absent = 0;
	int r = 0;

	if (depth >= WALK_MAX_DEPTH) {
		plate_err_new(err, ELOOP, "index '%s' nests more than %d levels", d->digest,
			      WALK_MAX_DEPTH);
		return trouble(w, err);
	}
	if (store_source_read(w->src, d, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_index_parse(data, len, 0, &idx, err) < 0) {
		plate_err_wrap(err, "index '%s'", d->digest);
		return trouble(w, err);
	}
	for (size_t i = 0; i < idx.n_manifests && r == 0; i++) {
		const struct oci_descriptor *m = &idx.manifests[i];
		const struct oci_media_type *t = oci_media_type_lookup(m->media_type);

		/* A partial index (containerd's model): a pull keeps the registry's index and
		 * fetches only the platforms asked for, so a platform's manifest may be absent;
		 * then nothing below it is looked for. */
		if (t != NULL && t->kind == OCI_KIND_MANIFEST &&
		    !store_source_has(w->src, m->digest, -1)) {
			absent++;
			continue;
		}
		r = visit(w, m, depth + 1, err);
	}
	if (r == 0 && absent > 0 && absent == idx.n_manifests) {
		plate_err_new(err, ENOENT, "index '%s' has none of its %zu manifests", d->digest,
			      idx.n_manifests);
		r = trouble(w, err);
	} else if (r == 0 && absent > 0 && w->ops->partial != NULL) {
		w->ops->partial(w->data, d, absent);
	}
	oci_index_release(&idx);
	return r;
}

static int visit_manifest(struct walk *w, const struct oci_descriptor *d, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL, *cdata = NULL;
	const struct oci_media_type *t;
	struct oci_manifest m;
	struct oci_config c;
	bool have_config = false;
	int r = -1, skip_config = 0;
	size_t len;

	if (store_source_read(w->src, d, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_manifest_parse(data, len, 0, &m, err) < 0) {
		plate_err_wrap(err, "manifest '%s'", d->digest);
		return trouble(w, err);
	}
	if (w->ops->blob != NULL && (skip_config = w->ops->blob(w->data, &m.config, err)) < 0)
		goto out;
	for (size_t i = 0; i < m.n_layers; i++)
		if (w->ops->blob != NULL && w->ops->blob(w->data, &m.layers[i], err) < 0)
			goto out;
	t = oci_media_type_lookup(m.config.media_type);
	if (skip_config > 0) {
		r = 0;
		goto out;
	}
	if (t != NULL && t->kind == OCI_KIND_CONFIG) {
		if (store_source_read(w->src, &m.config, OCI_MAX_CONFIG_SIZE, &cdata, &len, err) <
			    0 ||
		    oci_config_parse(cdata, len, 0, &c, err) < 0) {
			plate_err_wrap(err, "config '%s' of manifest '%s'", m.config.digest,
				       d->digest);
			r = trouble(w, err);
			goto out;
		}
		have_config = true;
	}
	r = 0;
	if (w->ops->image != NULL)
		r = w->ops->image(w->data, d, &m, have_config ? &c : NULL, err);
	if (have_config)
		oci_config_release(&c);
out:
	oci_manifest_release(&m);
	return r;
}

static int visit(struct walk *w, const struct oci_descriptor *d, unsigned depth,
		 struct plate_error **err)
{
	const struct oci_media_type *t = oci_media_type_lookup(d->media_type);
	int r = w->ops->blob != NULL ? w->ops->blob(w->data, d, err) : 0;

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (t != NULL && t->kind == OCI_KIND_INDEX)
		return visit_index(w, d, depth, err);
	if (t != NULL && t->kind == OCI_KIND_MANIFEST)
		return visit_manifest(w, d, err);
	return 0;
}

int store_walk(const struct store_blob_source *src, const struct oci_descriptor *root,
	       const struct store_walk_ops *ops, void *data, struct plate_error **err)
{
	struct walk w = { .src = src, .ops = ops, .data = data };

	return visit(&w, root, 0, err);
}
