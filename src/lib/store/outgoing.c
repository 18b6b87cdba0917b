/*
 * The form an image leaves the store in.  A build keeps the blobs of its layers
 * uncompressed (the tar itself, whose digest is the diffID), as a local image store does,
 * so a push compresses them.  The compressed image (the same config, gzip layers; for an
 * index, an index of such manifests in the same order) is stored once, as a referrer of
 * the image (STORE_ANNOTATION_SUBJECT, STORE_ANNOTATION_FORM), and pushed in its place; it
 * leaves the store with the image.  A layer already compressed for another image is
 * reused, so each diffID is compressed once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/layer.h"
#include "store/store_internal.h"

#define OUTGOING_FORM "gzip"

/* A compressed twin of an uncompressed layer blob (digest == diffID). */
struct known_layer {
	char diff_id[DIGEST_STRING_LEN + 1];
	char digest[DIGEST_STRING_LEN + 1];
	int64_t size;
};

struct outgoing {
	struct store *s;
	struct store_txn *t;
	struct known_layer *known;
	size_t n_known;
	bool scanned;
};

static bool is_uncompressed_layer(const struct oci_descriptor *d)
{
	return d->media_type != NULL &&
	       strcmp(d->media_type, layer_compression_media_type("none")) == 0;
}

static int known_add(struct outgoing *o, const char *diff_id, const char *digest, int64_t size,
		     struct plate_error **err)
{
	struct known_layer *v = realloc(o->known, (o->n_known + 1) * sizeof(*v));

	if (v == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	o->known = v;
	snprintf(v[o->n_known].diff_id, sizeof(v->diff_id), "%s", diff_id);
	snprintf(v[o->n_known].digest, sizeof(v->digest), "%s", digest);
	v[o->n_known].size = size;
	o->n_known++;
	return 0;
}

/* The layers of a compressed manifest, paired with its config's diffIDs. */
static int learn_manifest(struct outgoing *o, const char *digest, struct plate_error **err)
{
	_cleanup_free_ char *mdata = NULL, *cdata = NULL;
	struct oci_manifest m = { 0 };
	struct oci_config c = { 0 };
	size_t len;
	int r = -1;

	if (store_blob_read(o->s, digest, OCI_MAX_MANIFEST_SIZE, &mdata, &len, err) < 0 ||
	    oci_manifest_parse(mdata, len, 0, &m, err) < 0)
		return -1;
	if (store_blob_read(o->s, m.config.digest, OCI_MAX_CONFIG_SIZE, &cdata, &len, err) < 0 ||
	    oci_config_parse(cdata, len, 0, &c, err) < 0)
		goto out;
	r = 0;
	for (size_t i = 0; r == 0 && i < m.n_layers && i < c.diff_ids.n; i++)
		if (!is_uncompressed_layer(&m.layers[i]))
			r = known_add(o, c.diff_ids.v[i], m.layers[i].digest, m.layers[i].size,
				      err);
out:
	oci_config_release(&c);
	oci_manifest_release(&m);
	return r;
}

static int learn_entry(struct outgoing *o, const struct oci_descriptor *d, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	struct oci_index idx;
	size_t len;
	int r = 0;

	if (oci_media_type_lookup(d->media_type) == NULL ||
	    oci_media_type_lookup(d->media_type)->kind != OCI_KIND_INDEX)
		return learn_manifest(o, d->digest, err);
	if (store_blob_read(o->s, d->digest, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_index_parse(data, len, 0, &idx, err) < 0)
		return -1;
	for (size_t i = 0; r == 0 && i < idx.n_manifests; i++)
		if (store_blob_exists(o->s, idx.manifests[i].digest))
			r = learn_manifest(o, idx.manifests[i].digest, err);
	oci_index_release(&idx);
	return r;
}

/* Every layer some stored compressed form already holds. */
static int scan_known(struct outgoing *o, struct plate_error **err)
{
	struct oci_index idx;
	int r = 0;

	if (o->scanned)
		return 0;
	o->scanned = true;
	if (store_index_read(o->s, &idx, err) < 0)
		return -1;
	for (size_t i = 0; r == 0 && i < idx.n_manifests; i++) {
		const char *form =
			oci_map_get(&idx.manifests[i].annotations, STORE_ANNOTATION_FORM);
		if (form != NULL && strcmp(form, OUTGOING_FORM) == 0)
			r = learn_entry(o, &idx.manifests[i], err);
	}
	oci_index_release(&idx);
	return r;
}

static const struct known_layer *known_find(const struct outgoing *o, const char *diff_id)
{
	for (size_t i = 0; i < o->n_known; i++)
		if (strcmp(o->known[i].diff_id, diff_id) == 0)
			return &o->known[i];
	return NULL;
}

static int compress_layer(struct outgoing *o, const char *diff_id, struct plate_error **err)
{
	struct layer_writer_options wo = { .compression = OUTGOING_FORM };
	struct store_blob_writer *bw = NULL;
	struct layer_result res;
	char digest[DIGEST_STRING_LEN + 1];
	_cleanup_close_ int fd = -1;
	int64_t size;
	int r = -1;

	if (store_blob_open(o->s, diff_id, &fd, &size, err) < 0)
		return -1;
	if (store_txn_blob_writer(o->t, NULL, -1, &bw, err) < 0 ||
	    layer_compress_tar(fd, store_blob_writer_fd(bw), &wo, &res, err) < 0 ||
	    store_blob_writer_finish(bw, digest, &size, err) < 0)
		goto out;
	/* The tar blob is named by its own digest: reading it whole checked it. */
	if (strcmp(res.diff_id, diff_id) != 0) {
		plate_err_new(err, EIO, "layer blob '%s' reads as '%s': the store is damaged",
			      diff_id, res.diff_id);
		goto out;
	}
	r = known_add(o, diff_id, digest, size, err);
out:
	store_blob_writer_free(bw);
	return r < 0 ? plate_err_wrap(err, "cannot compress layer '%s'", diff_id) : 0;
}

/* Rewrites the manifest d with compressed layers into out (digest and size); *changed
 * false when it has no uncompressed layer (out is d). */
static int compress_manifest(struct outgoing *o, const struct oci_descriptor *d,
			     char out[DIGEST_STRING_LEN + 1], int64_t *out_size, bool *changed,
			     struct plate_error **err)
{
	_cleanup_free_ char *data = NULL, *json = NULL;
	struct oci_manifest m = { 0 };
	size_t len;
	int r = -1;

	*changed = false;
	snprintf(out, DIGEST_STRING_LEN + 1, "%s", d->digest);
	*out_size = d->size;
	if (store_blob_read(o->s, d->digest, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_manifest_parse(data, len, 0, &m, err) < 0)
		return -1;
	for (size_t i = 0; i < m.n_layers; i++) {
		struct oci_descriptor *l = &m.layers[i];
		const struct known_layer *k;
		if (!is_uncompressed_layer(l))
			continue;
		if (scan_known(o, err) < 0)
			goto out;
		if ((k = known_find(o, l->digest)) == NULL) {
			if (compress_layer(o, l->digest, err) < 0)
				goto out;
			k = &o->known[o->n_known - 1];
		}
		free(l->media_type);
		free(l->digest);
		l->media_type = strdup(layer_compression_media_type(OUTGOING_FORM));
		l->digest = strdup(k->digest);
		l->size = k->size;
		if (l->media_type == NULL || l->digest == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		*changed = true;
	}
	if (*changed) {
		if (oci_manifest_write(&m, OCI_FORMAT_OCI, &json, &len, err) < 0 ||
		    store_txn_add_blob(o->t, json, len, out, err) < 0)
			goto out;
		*out_size = (int64_t)len;
	}
	r = 0;
out:
	oci_manifest_release(&m);
	return r;
}

static int compress_index(struct outgoing *o, const struct oci_descriptor *d,
			  char out[DIGEST_STRING_LEN + 1], int64_t *out_size, bool *changed,
			  struct plate_error **err)
{
	_cleanup_free_ char *data = NULL, *json = NULL;
	struct oci_index idx;
	size_t len;
	int r = 0;

	*changed = false;
	snprintf(out, DIGEST_STRING_LEN + 1, "%s", d->digest);
	*out_size = d->size;
	if (store_blob_read(o->s, d->digest, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_index_parse(data, len, 0, &idx, err) < 0)
		return -1;
	for (size_t i = 0; r == 0 && i < idx.n_manifests; i++) {
		struct oci_descriptor *m = &idx.manifests[i];
		char digest[DIGEST_STRING_LEN + 1];
		bool one = false;
		/* A platform a partial pull never fetched goes out as the registry has it. */
		if (!store_blob_exists(o->s, m->digest))
			continue;
		r = compress_manifest(o, m, digest, &m->size, &one, err);
		if (r == 0 && one) {
			free(m->digest);
			if ((m->digest = strdup(digest)) == NULL)
				r = plate_err_new(err, ENOMEM, "out of memory");
			*changed = true;
		}
	}
	if (r == 0 && *changed &&
	    (oci_index_write(&idx, OCI_FORMAT_OCI, &json, &len, err) < 0 ||
	     store_txn_add_blob(o->t, json, len, out, err) < 0))
		r = -1;
	if (r == 0 && *changed)
		*out_size = (int64_t)len;
	oci_index_release(&idx);
	return r;
}

static int find_form(void *data, const struct oci_descriptor *d, struct plate_error **err)
{
	const char *form = oci_map_get(&d->annotations, STORE_ANNOTATION_FORM);

	if (form == NULL || strcmp(form, OUTGOING_FORM) != 0)
		return 1;
	return oci_descriptor_copy(data, d, err) < 0 ? -1 : 0;
}

int store_image_outgoing(struct store *s, const struct store_image *img, struct oci_descriptor *out,
			 struct plate_error **err)
{
	return store_image_referrers(s, img, find_form, out, err);
}

int store_image_compress(struct store *s, const char *name, const char *platform,
			 struct plate_error **err)
{
	struct outgoing o = { .s = s };
	struct store_image *img = NULL;
	struct oci_descriptor entry = { 0 };
	char digest[DIGEST_STRING_LEN + 1];
	const struct oci_media_type *t;
	bool changed = false;
	int64_t size;
	int r = -1;

	if (store_lock_shared(s, err) < 0)
		return -1;
	r = store_image_resolve(s, name, platform, &img, err);
	if (r == 0 && (r = store_image_outgoing(s, img, &entry, err)) == 0)
		r = 1; /* compressed before */
	else if (r == 1)
		r = 0;
	store_unlock_shared(s);
	if (r != 0)
		goto out;
	r = -1;
	t = oci_media_type_lookup(img->root.media_type);
	if (t == NULL || t->format != OCI_FORMAT_OCI) {
		r = 0; /* a Docker image leaves as it came in */
		goto out;
	}
	if (store_txn_begin(s, &o.t, err) < 0)
		goto out;
	if ((t->kind == OCI_KIND_INDEX ? compress_index : compress_manifest)(&o, &img->root, digest,
									     &size, &changed,
									     err) < 0)
		goto out;
	if (changed) {
		entry = (struct oci_descriptor){ .media_type = strdup(img->root.media_type),
						 .digest = strdup(digest),
						 .size = size };
		if (entry.media_type == NULL || entry.digest == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		if (oci_map_set(&entry.annotations, STORE_ANNOTATION_SUBJECT, img->root.digest,
				err) < 0 ||
		    oci_map_set(&entry.annotations, STORE_ANNOTATION_FORM, OUTGOING_FORM, err) <
			    0 ||
		    store_txn_tag(o.t, NULL, &entry, err) < 0)
			goto out;
	}
	r = changed ? store_txn_commit(o.t, err) : 0;
out:
	/* An image that cannot be resolved is the push's own error, unwrapped. */
	if (r < 0 && img != NULL)
		plate_err_wrap(err, "cannot compress '%s' for its push", name);
	store_txn_free(o.t);
	oci_descriptor_release(&entry);
	store_image_free(img);
	free(o.known);
	return r < 0 ? -1 : 0;
}

int store_outgoing_child(struct store *s, const struct oci_descriptor *root,
			 const struct oci_descriptor *form, const struct oci_descriptor *child,
			 struct oci_descriptor *out, struct plate_error **err)
{
	_cleanup_free_ char *rdata = NULL, *fdata = NULL;
	struct oci_index ri = { 0 }, fi = { 0 };
	size_t len;
	int r = -1;

	if (store_blob_read(s, root->digest, OCI_MAX_MANIFEST_SIZE, &rdata, &len, err) < 0 ||
	    oci_index_parse(rdata, len, 0, &ri, err) < 0)
		return -1;
	if (store_blob_read(s, form->digest, OCI_MAX_MANIFEST_SIZE, &fdata, &len, err) < 0 ||
	    oci_index_parse(fdata, len, 0, &fi, err) < 0)
		goto out;
	for (size_t i = 0; i < ri.n_manifests && i < fi.n_manifests; i++)
		if (strcmp(ri.manifests[i].digest, child->digest) == 0) {
			r = oci_descriptor_copy(out, &fi.manifests[i], err);
			goto out;
		}
	plate_err_new(err, ENOENT, "manifest '%s' is not in the compressed form of '%s'",
		      child->digest, root->digest);
out:
	oci_index_release(&fi);
	oci_index_release(&ri);
	return r;
}
