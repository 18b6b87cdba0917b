/*
 * Stored images: the view of an image's layer snapshots (with their indexes), the doctor
 * on a stored image, and the SBOM kept with an image as an OCI 1.1 referrer (image-spec
 * manifest.md, "Guidelines for Artifact Usage"): a manifest with artifactType
 * application/spdx+json, the empty config, one layer (the document) and subject = the
 * image manifest, listed in index.json without a name and with STORE_ANNOTATION_SUBJECT
 * naming the image's entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check/check.h"
#include "store/store.h"

#define SBOM_MEDIA_TYPE "application/spdx+json"
#define SBOM_MAX ((size_t)64 << 20)

int check_fs_open_image(struct store *s, const struct store_image *img, struct check_fs **out,
			struct plate_error **err)
{
	const struct oci_strings *ids = &img->config.diff_ids;
	struct check_fs_layer *layers = calloc(ids->n + 1, sizeof(*layers));
	int rc = -1;

	if (layers == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ids->n; i++) {
		layers[i].diff_id = ids->v[i];
		if ((layers[i].dir = store_snapshot_path(s, ids->v[i])) == NULL ||
		    (layers[i].index = store_snapshot_index_path(s, ids->v[i])) == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = check_fs_open_layers(layers, ids->n, out, err);
out:
	for (size_t i = 0; i < ids->n; i++) {
		free((char *)layers[i].dir);
		free((char *)layers[i].index);
	}
	free(layers);
	return rc;
}

static int64_t image_size(const struct store_image *img)
{
	int64_t n = img->manifest.config.size;

	for (size_t i = 0; i < img->manifest.n_layers; i++)
		n += img->manifest.layers[i].size;
	return n;
}

int check_stored_image(struct store *s, const char *name, const char *platform,
		       const struct check_stored_options *o, struct finding_report *r,
		       struct plate_error **err)
{
	struct store_image *img = NULL;
	struct check_fs *fs = NULL;
	int rc = -1;

	if (store_lock_shared(s, err) < 0)
		return -1;
	if (store_image_resolve(s, name, platform, &img, err) < 0 ||
	    check_fs_open_image(s, img, &fs, err) < 0)
		goto out;
	if (o->indexed_only && check_fs_indexed(fs) < img->config.diff_ids.n) {
		plate_err_new(err, EAGAIN, "a layer of '%s' has no index", name);
		goto out;
	}
	struct check_image_options io = { .max_size = o->max_size, .image_size = image_size(img) };
	if (check_image(fs, &img->config, &io, r, err) < 0)
		goto out;
	finding_report_apply_policy(r, o->skip, o->strict);
	finding_report_sort(r);
	rc = 0;
out:
	store_unlock_shared(s);
	check_fs_free(fs);
	store_image_free(img);
	return rc;
}

int check_sbom_image(struct store *s, const struct store_image *img, const char *ref, char **json,
		     size_t *len, struct plate_error **err)
{
	struct check_fs *fs = NULL;
	int r = -1;

	if (check_fs_open_image(s, img, &fs, err) == 0 &&
	    check_sbom(fs, img->names.n ? oci_familiar_name(img->names.v[0]) : ref,
		       img->manifest_desc.digest, img->config.created, json, len, err) == 0)
		r = 0;
	check_fs_free(fs);
	return r;
}

struct sbom_find {
	struct store *s;
	const struct store_image *img;
	char **json;
	size_t *len;
};

static int read_sbom_referrer(void *data, const struct oci_descriptor *d, struct plate_error **err)
{
	struct sbom_find *f = data;
	_cleanup_free_ char *doc = NULL;
	struct oci_manifest m;
	size_t n;
	int r = 1;

	if (d->artifact_type == NULL || strcmp(d->artifact_type, SBOM_MEDIA_TYPE) != 0)
		return 1;
	if (store_blob_read(f->s, d->digest, OCI_MAX_MANIFEST_SIZE, &doc, &n, err) < 0 ||
	    oci_manifest_parse(doc, n, 0, &m, err) < 0)
		return -1;
	if (m.subject != NULL && strcmp(m.subject->digest, f->img->manifest_desc.digest) == 0 &&
	    m.n_layers == 1 && strcmp(m.layers[0].media_type, SBOM_MEDIA_TYPE) == 0)
		r = store_blob_read(f->s, m.layers[0].digest, SBOM_MAX, f->json, f->len, err) < 0
			    ? -1
			    : 0;
	oci_manifest_release(&m);
	return r;
}

int check_sbom_stored(struct store *s, const struct store_image *img, char **json, size_t *len,
		      struct plate_error **err)
{
	struct sbom_find f = { .s = s, .img = img, .json = json, .len = len };

	return store_image_referrers(s, img, read_sbom_referrer, &f, err);
}

int check_sbom_attach(struct store *s, const char *digest, const char *platform,
		      struct plate_error **err)
{
	static const char empty[] = "{}";
	struct store_image *img = NULL;
	struct store_txn *t = NULL;
	_cleanup_free_ char *json = NULL, *mjson = NULL;
	char empty_digest[DIGEST_STRING_LEN + 1], layer_digest[DIGEST_STRING_LEN + 1];
	struct oci_descriptor layer = { .media_type = (char *)SBOM_MEDIA_TYPE };
	struct oci_manifest m = {
		.schema_version = 2,
		.media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
		.artifact_type = (char *)SBOM_MEDIA_TYPE,
		.config = { .media_type = (char *)OCI_MEDIA_TYPE_EMPTY, .size = 2 },
		.layers = &layer,
		.n_layers = 1,
	};
	struct oci_descriptor subject = { 0 },
			      entry = { .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
					.artifact_type = (char *)SBOM_MEDIA_TYPE };
	char mdigest[DIGEST_STRING_LEN + 1];
	size_t len = 0, mlen = 0;
	int r = -1;

	if (store_lock_shared(s, err) < 0)
		return -1;
	if (store_image_resolve(s, digest, platform, &img, err) < 0 ||
	    check_sbom_image(s, img, digest, &json, &len, err) < 0) {
		store_unlock_shared(s);
		goto out;
	}
	store_unlock_shared(s);
	subject = (struct oci_descriptor){ .media_type = img->manifest_desc.media_type,
					   .digest = img->manifest_desc.digest,
					   .size = img->manifest_desc.size };
	m.subject = &subject;
	if (store_txn_begin(s, &t, err) < 0 ||
	    store_txn_add_blob(t, empty, 2, empty_digest, err) < 0 ||
	    store_txn_add_blob(t, json, len, layer_digest, err) < 0)
		goto out;
	m.config.digest = empty_digest;
	layer.digest = layer_digest;
	layer.size = (int64_t)len;
	if (oci_manifest_write(&m, OCI_FORMAT_OCI, &mjson, &mlen, err) < 0 ||
	    store_txn_add_blob(t, mjson, mlen, mdigest, err) < 0)
		goto out;
	entry.digest = mdigest;
	entry.size = (int64_t)mlen;
	if (oci_map_set(&entry.annotations, STORE_ANNOTATION_SUBJECT, img->root.digest, err) < 0 ||
	    store_txn_tag(t, NULL, &entry, err) < 0 || store_txn_commit(t, err) < 0)
		goto out;
	r = 0;
out:
	oci_map_release(&entry.annotations);
	store_txn_free(t);
	store_image_free(img);
	return r < 0 ? plate_err_wrap(err, "cannot store the sbom") : 0;
}
