/* plate inspect [-f|--format FORMAT] REF... — a JSON list shaped like `docker image inspect`,
 * or FORMAT (a Go template, json/json.h) run over each image's object. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli.h"
#include "json/json.h"

static json_t *strings_array(const struct oci_strings *s, bool familiar)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < s->n; i++)
		json_array_append_new(a,
				      json_string(familiar ? oci_familiar_name(s->v[i]) : s->v[i]));
	return a;
}

/* "repo@digest" for every digest a registry gave this image when it was pulled, once each:
 * the annotations of its index.json entries. */
static json_t *repo_digests(const struct oci_index *idx, const struct store_image *img)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < idx->n_manifests; i++) {
		const char *v =
			oci_map_get(&idx->manifests[i].annotations, STORE_ANNOTATION_REPO_DIGEST);
		const char *shown = v ? oci_familiar_name(v) : NULL;
		bool seen = false;
		size_t k;
		json_t *e;

		if (v == NULL || strcmp(idx->manifests[i].digest, img->root.digest) != 0)
			continue;
		json_array_foreach(a, k, e) seen = seen || strcmp(json_string_value(e), shown) == 0;
		if (!seen)
			json_array_append_new(a, json_string(shown));
	}
	return a;
}

/* A multi-platform image: its index's entries, each with its platform and whether the
 * store holds it (a pull keeps the registry's index and fetches the platforms asked for). */
static int index_manifests(struct store *s, const struct store_image *img, json_t *o,
			   struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	json_t *idx = NULL, *list;
	size_t len;

	if (strcmp(img->root.digest, img->manifest_desc.digest) == 0)
		return 0;
	if (store_blob_read(s, img->root.digest, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    json_parse(data, len, OCI_MAX_MANIFEST_SIZE, JSON_DEFAULT_MAX_DEPTH, &idx, err) < 0)
		return -1;
	list = json_object_get(idx, "manifests");
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *m = json_array_get(list, i);
		const char *d = json_string_value(json_object_get(m, "digest"));
		json_object_set_new(m, "Present", json_boolean(d && store_blob_exists(s, d)));
	}
	json_object_set_new(o, "Manifests", json_is_array(list) ? json_incref(list) : json_array());
	json_decref(idx);
	return 0;
}

static json_t *image_json(struct store *s, const struct oci_index *idx,
			  const struct store_image *img, struct plate_error **err)
{
	json_t *o = json_object(), *raw = NULL, *cfg, *rootfs, *desc;
	const struct oci_config *c = &img->config;
	uint64_t size = 0;

	if (json_parse(img->config_json, img->config_len, OCI_MAX_CONFIG_SIZE,
		       JSON_DEFAULT_MAX_DEPTH, &raw, err) < 0) {
		json_decref(o);
		return NULL;
	}
	cfg = json_object_get(raw, "config");
	if (store_image_unpacked_size(s, img, &size, err) < 0) {
		json_decref(raw);
		json_decref(o);
		return NULL;
	}
	rootfs = json_object();
	json_object_set_new(rootfs, "Type", json_string("layers"));
	json_object_set_new(rootfs, "Layers", strings_array(&c->diff_ids, false));
	desc = json_object();
	json_object_set_new(desc, "mediaType", json_string(img->manifest_desc.media_type));
	json_object_set_new(desc, "digest", json_string(img->manifest_desc.digest));
	json_object_set_new(desc, "size", json_integer(img->manifest_desc.size));

	json_object_set_new(o, "Id", json_string(img->manifest.config.digest));
	json_object_set_new(o, "RepoTags", strings_array(&img->names, true));
	json_object_set_new(o, "RepoDigests", repo_digests(idx, img));
	json_object_set_new(o, "Parent", json_string(""));
	json_object_set_new(o, "Comment",
			    json_string(c->n_history > 0 && c->history[c->n_history - 1].comment
						? c->history[c->n_history - 1].comment
						: ""));
	json_object_set_new(o, "Created", json_string(c->created ? c->created : ""));
	json_object_set_new(o, "Author", json_string(c->author ? c->author : ""));
	json_object_set(o, "Config", json_is_object(cfg) ? cfg : json_object());
	json_object_set_new(o, "Architecture", json_string(c->architecture));
	if (c->variant != NULL)
		json_object_set_new(o, "Variant", json_string(c->variant));
	json_object_set_new(o, "Os", json_string(c->os));
	json_object_set_new(o, "Size", json_integer((json_int_t)size));
	json_object_set_new(o, "RootFS", rootfs);
	json_object_set_new(o, "Descriptor", desc);
	json_decref(raw);
	if (index_manifests(s, img, o, err) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int cli_cmd_inspect(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct store *s = NULL;
	json_t *list = json_array();
	_cleanup_free_ char *text = NULL;
	struct plate_error *first = NULL;
	struct cli_format f = { 0 };
	struct oci_index idx = { 0 };
	const char *format = NULL;
	int c, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "f:", longopts)) != -1) {
		if (c != 'f') {
			rc = optopt == 'f'
				     ? cli_usage_error(ctx, err, "inspect: --format needs a value")
				     : cli_bad_option(ctx, "inspect", argv, err);
			goto out;
		}
		format = optarg;
	}
	if (optind == argc) {
		rc = cli_usage_error(ctx, err, "usage: plate inspect [-f FORMAT] REF...");
		goto out;
	}
	if (format != NULL && cli_format_init(&f, format, "{{.Id}}", err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	if (cli_open_store(ctx, &s, err) < 0 || store_index_read(s, &idx, err) < 0)
		goto out;
	for (int i = optind; i < argc; i++) {
		struct plate_error *e = NULL;
		struct store_image *img = NULL;
		json_t *o;

		/* A partial index without this machine's platform: the first one present. */
		if (store_image_resolve(s, argv[i], cli_host_platform(), &img, &e) < 0 &&
		    e->errno_value == ENOENT) {
			plate_error_free(e);
			e = NULL;
			store_image_resolve(s, argv[i], NULL, &img, &e);
		}
		if (img == NULL || (o = image_json(s, &idx, img, &e)) == NULL) {
			if (first == NULL)
				first = e;
			else
				plate_error_free(e);
			store_image_free(img);
			continue;
		}
		json_array_append_new(list, o);
		store_image_free(img);
	}
	if (format != NULL) {
		size_t k;
		json_t *o;
		json_array_foreach(list, k, o) if (cli_format_row(&f, o, err) < 0) goto out;
	} else {
		text = json_dumps(list, JSON_INDENT(4));
		if (text != NULL)
			printf("%s\n", text);
	}
	if (first != NULL) {
		*err = steal_pointer(&first);
		goto out;
	}
	rc = CLI_EXIT_OK;
out:
	plate_error_free(first);
	cli_format_release(&f);
	oci_index_release(&idx);
	json_decref(list);
	store_free(s);
	return rc;
}
