/* plate rmi [-f] REF... — untags names; an image ID removes every name of the image (with
 * -f when it has several).  Blobs and snapshots nothing references any more are removed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli.h"

static bool index_has_name(const struct oci_index *idx, const char *name)
{
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const char *n =
			oci_map_get(&idx->manifests[i].annotations, OCI_ANNOTATION_REF_NAME);
		if (n != NULL && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

int cli_cmd_rmi(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct oci_strings untagged = { 0 }, removed = { 0 };
	struct store_gc_result gc;
	struct oci_index idx = { 0 };
	struct store_txn *t = NULL;
	struct store *s = NULL;
	bool force = false;
	int c, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "f", longopts)) != -1) {
		if (c != 'f')
			return cli_usage_error(ctx, err, "rmi: unknown option '%s'",
					       argv[optind - 1]);
		force = true;
	}
	if (optind >= argc)
		return cli_usage_error(ctx, err, "usage: plate rmi [-f] REF...");
	if (cli_open_store(ctx, &s, err) < 0 || store_index_read(s, &idx, err) < 0 ||
	    store_txn_begin(s, &t, err) < 0)
		goto out;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ struct plate_error *e = NULL;
		_cleanup_free_ char *name = NULL;
		struct store_image *img = NULL;

		if (cli_normalise_name(argv[i], true, &name, &e) == 0 &&
		    index_has_name(&idx, name)) {
			if (store_txn_untag(t, name, err) < 0 ||
			    oci_strings_add(&untagged, name, err) < 0)
				goto out;
			continue;
		}
		if (store_image_resolve(s, argv[i], NULL, &img, err) < 0)
			goto out;
		if (img->names.n > 1 && !force) {
			plate_err_new(err, 0,
				      "image '%s' has %zu names (%s, ...): remove them by name or "
				      "use -f",
				      argv[i], img->names.n, img->names.v[0]);
			store_image_free(img);
			goto out;
		}
		for (size_t j = 0; j < img->names.n; j++)
			oci_strings_add(&untagged, img->names.v[j], err);
		if (store_txn_remove(t, img->root.digest, err) < 0 ||
		    oci_strings_add(&removed, img->root.digest, err) < 0) {
			store_image_free(img);
			goto out;
		}
		store_image_free(img);
	}
	if (store_txn_commit(t, err) < 0)
		goto out;
	for (size_t i = 0; i < untagged.n; i++)
		printf("Untagged: %s\n", cli_safe(oci_familiar_name(untagged.v[i])));
	for (size_t i = 0; i < removed.n; i++)
		printf("Deleted: %s\n", removed.v[i]);
	if (store_gc(s, 0, &gc, err) < 0)
		goto out;
	if (gc.blobs > 0)
		printf("Deleted %llu blobs and %llu snapshots\n", (unsigned long long)gc.blobs,
		       (unsigned long long)gc.snapshots);
	rc = CLI_EXIT_OK;
out:
	store_txn_free(t);
	oci_index_release(&idx);
	oci_strings_release(&untagged);
	oci_strings_release(&removed);
	store_free(s);
	return rc;
}
