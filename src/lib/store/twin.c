/*
 * Docker schema2 manifests in the store.  OCI layout readers (skopeo's oci: transport, umoci)
 * accept only OCI manifests with an OCI config media type in index.json, while a push must
 * send the manifest the registry gave, byte for byte, to keep its digest.  So a Docker
 * manifest is named through its OCI twin (the same config and layer blobs, OCI media types),
 * and the original stays in index.json under its own media type as an unnamed entry whose
 * STORE_ANNOTATION_SUBJECT is the twin: it leaves with the twin's last name, and push sends
 * it instead of the twin.
 */
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "store/store_internal.h"

static bool is_docker_manifest(const char *media_type)
{
	const struct oci_media_type *t = oci_media_type_lookup(media_type);

	return t != NULL && t->kind == OCI_KIND_MANIFEST && t->format == OCI_FORMAT_DOCKER;
}

int store_txn_tag_image(struct store_txn *t, const char *name, const struct oci_descriptor *d,
			struct plate_error **err)
{
	struct store_blob_source src = { .store = store_txn_store(t), .txn = t };
	_cleanup_free_ char *data = NULL, *twin_json = NULL;
	char twin_digest[DIGEST_STRING_LEN + 1];
	struct oci_descriptor twin = { 0 }, original = { 0 };
	struct oci_manifest m = { 0 };
	size_t len, twin_len;
	int r = -1;

	if (!is_docker_manifest(d->media_type))
		return store_txn_tag(t, name, d, err);
	if (store_source_read(&src, d, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_manifest_parse(data, len, 0, &m, err) < 0 ||
	    oci_manifest_write(&m, OCI_FORMAT_OCI, &twin_json, &twin_len, err) < 0 ||
	    store_txn_add_blob(t, twin_json, twin_len, twin_digest, err) < 0 ||
	    oci_descriptor_copy(&twin, d, err) < 0 || oci_descriptor_copy(&original, d, err) < 0)
		goto out;
	free(twin.media_type);
	free(twin.digest);
	twin.media_type = strdup(OCI_MEDIA_TYPE_MANIFEST);
	twin.digest = strdup(twin_digest);
	twin.size = (int64_t)twin_len;
	if (twin.media_type == NULL || twin.digest == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	oci_map_del(&original.annotations, OCI_ANNOTATION_REF_NAME);
	if (oci_map_set(&original.annotations, STORE_ANNOTATION_SUBJECT, twin_digest, err) < 0 ||
	    store_txn_tag(t, name, &twin, err) < 0 || store_txn_tag(t, NULL, &original, err) < 0)
		goto out;
	r = 0;
out:
	if (r < 0)
		plate_err_wrap(err, "Docker manifest '%s'", d->digest);
	oci_manifest_release(&m);
	oci_descriptor_release(&twin);
	oci_descriptor_release(&original);
	return r;
}

int store_image_referrers(struct store *s, const struct store_image *img, store_referrer_fn fn,
			  void *data, struct plate_error **err)
{
	struct oci_index idx;
	int r = 1;

	if (store_index_read(s, &idx, err) < 0)
		return -1;
	for (size_t i = 0; i < idx.n_manifests && r == 1; i++) {
		const struct oci_descriptor *d = &idx.manifests[i];
		const char *subject = oci_map_get(&d->annotations, STORE_ANNOTATION_SUBJECT);
		if (subject != NULL && strcmp(subject, img->root.digest) == 0)
			r = fn(data, d, err);
	}
	oci_index_release(&idx);
	return r;
}

static int copy_docker_manifest(void *data, const struct oci_descriptor *d,
				struct plate_error **err)
{
	if (!is_docker_manifest(d->media_type))
		return 1;
	return oci_descriptor_copy(data, d, err) < 0 ? -1 : 0;
}

int store_image_original(struct store *s, const struct store_image *img, struct oci_descriptor *out,
			 struct plate_error **err)
{
	return store_image_referrers(s, img, copy_docker_manifest, out, err);
}
