/*
 * plate sbom [--platform OS/ARCH] REF
 *
 * Writes an SPDX 2.3 JSON document of a stored image on stdout: the Go modules and Go
 * version of each Go binary (from its build info), the Debian and Alpine packages.  The
 * document `plate build --sbom` stored with the image is printed when there is one.
 *
 * The stored form is an OCI 1.1 referrer (image-spec manifest.md, "Guidelines for Artifact
 * Usage"): a manifest with artifactType application/spdx+json, the empty config, one layer
 * (the document) and subject = the image manifest, listed in index.json without a name and
 * with STORE_ANNOTATION_SUBJECT naming the image's entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check/check.h"
#include "cli.h"

#define SBOM_MEDIA_TYPE "application/spdx+json"
#define SBOM_MAX ((size_t)64 << 20)

static const char usage[] = "usage: plate sbom [--platform OS/ARCH] REF\n";

static int compute_sbom(struct store *s, const struct store_image *img, const char *ref,
			char **json, size_t *len, struct plate_error **err)
{
	struct check_fs *fs = NULL;
	int r = -1;

	if (cli_image_fs(s, img, &fs, err) == 0 &&
	    check_sbom(fs, img->names.n ? cli_familiar_name(img->names.v[0]) : ref,
		       img->manifest_desc.digest, img->config.created, json, len, err) == 0)
		r = 0;
	check_fs_free(fs);
	return r;
}

/* The stored document of img: 0 found, 1 none, -1 error. */
static int stored_sbom(struct store *s, const struct store_image *img, char **json, size_t *len,
		       struct plate_error **err)
{
	struct oci_index idx = { 0 };
	int r = 1;

	if (store_index_read(s, &idx, err) < 0)
		return -1;
	for (size_t i = 0; i < idx.n_manifests && r == 1; i++) {
		const struct oci_descriptor *d = &idx.manifests[i];
		const char *subject = oci_map_get(&d->annotations, STORE_ANNOTATION_SUBJECT);
		_cleanup_free_ char *data = NULL;
		struct oci_manifest m;
		size_t n;

		if (subject == NULL || strcmp(subject, img->root.digest) != 0 ||
		    d->artifact_type == NULL || strcmp(d->artifact_type, SBOM_MEDIA_TYPE) != 0)
			continue;
		if (store_blob_read(s, d->digest, OCI_MAX_MANIFEST_SIZE, &data, &n, err) < 0 ||
		    oci_manifest_parse(data, n, 0, &m, err) < 0)
			return -1;
		if (m.subject != NULL && strcmp(m.subject->digest, img->manifest_desc.digest) == 0 &&
		    m.n_layers == 1 && strcmp(m.layers[0].media_type, SBOM_MEDIA_TYPE) == 0)
			r = store_blob_read(s, m.layers[0].digest, SBOM_MAX, json, len, err) < 0 ?
				    -1 : 0;
		oci_manifest_release(&m);
	}
	oci_index_release(&idx);
	return r;
}

int cli_sbom_attach(struct store *s, const char *digest, const char *platform,
		    struct plate_error **err)
{
	static const char empty[] = "{}";
	struct store_image *img = NULL;
	struct store_txn *t = NULL;
	_cleanup_free_ char *json = NULL, *mjson = NULL;
	char empty_digest[DIGEST_STRING_LEN + 1], layer_digest[DIGEST_STRING_LEN + 1];
	struct oci_descriptor layer = { .media_type = (char *)SBOM_MEDIA_TYPE };
	struct oci_manifest m = {
		.schema_version = 2, .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
		.artifact_type = (char *)SBOM_MEDIA_TYPE,
		.config = { .media_type = (char *)OCI_MEDIA_TYPE_EMPTY, .size = 2 },
		.layers = &layer, .n_layers = 1,
	};
	struct oci_descriptor subject = { 0 }, entry = { .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
							 .artifact_type = (char *)SBOM_MEDIA_TYPE };
	char mdigest[DIGEST_STRING_LEN + 1];
	size_t len = 0, mlen = 0;
	int r = -1;

	if (store_lock_shared(s, err) < 0)
		return -1;
	if (store_image_resolve(s, digest, platform ? platform : cli_host_platform(), &img, err) < 0 ||
	    compute_sbom(s, img, digest, &json, &len, err) < 0) {
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

int cli_cmd_sbom(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	const char *ref = NULL, *platform = NULL;
	struct store *s = NULL;
	struct store_image *img = NULL;
	_cleanup_free_ char *json = NULL;
	size_t len = 0;
	int rc = -1, found;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--platform") == 0 && i + 1 < argc)
			platform = argv[++i];
		else if (strncmp(argv[i], "--platform=", 11) == 0)
			platform = argv[i] + 11;
		else if (argv[i][0] == '-' || ref != NULL)
			return cli_usage_error(ctx, err, "unexpected argument '%s'\n%s", argv[i], usage);
		else
			ref = argv[i];
	}
	if (ref == NULL)
		return cli_usage_error(ctx, err, "sbom needs a REF\n%s", usage);
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	if (store_lock_shared(s, err) < 0)
		goto out_store;
	if (store_image_resolve(s, ref, platform ? platform : cli_host_platform(), &img, err) < 0 ||
	    (found = stored_sbom(s, img, &json, &len, err)) < 0 ||
	    (found == 1 && compute_sbom(s, img, ref, &json, &len, err) < 0))
		goto out;
	fwrite(json, 1, len, stdout);
	fputc('\n', stdout);
	rc = CLI_EXIT_OK;
out:
	store_unlock_shared(s);
out_store:
	store_image_free(img);
	store_free(s);
	return rc;
}
