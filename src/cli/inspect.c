/* plate inspect REF... — a JSON list shaped like `docker image inspect`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli.h"
#include "json/json.h"

static json_t *strings_array(const struct oci_strings *s, bool familiar, const char *suffix)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < s->n; i++) {
		_cleanup_free_ char *v = NULL;
		const char *name = familiar ? oci_familiar_name(s->v[i]) : s->v[i];
		if (suffix != NULL) {
			/* RepoDigests: "repo@digest", the repository without its tag. */
			const char *colon = strrchr(name, ':');
			int len = colon && !strchr(colon, '/') ? (int)(colon - name) : (int)strlen(name);
			if (asprintf(&v, "%.*s@%s", len, name, suffix) < 0)
				v = NULL;
		}
		json_array_append_new(a, json_string(v ? v : name));
	}
	return a;
}

/* A multi-platform image: its index's entries, each with its platform. */
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
	json_object_set(o, "Manifests", json_is_array(list) ? list : json_array());
	json_decref(idx);
	return 0;
}

static json_t *image_json(struct store *s, const struct store_image *img,
			  struct plate_error **err)
{
	json_t *o = json_object(), *raw = NULL, *cfg, *rootfs, *desc;
	const struct oci_config *c = &img->config;
	int64_t size = 0;

	if (json_parse(img->config_json, img->config_len, OCI_MAX_CONFIG_SIZE, JSON_DEFAULT_MAX_DEPTH,
		       &raw, err) < 0) {
		json_decref(o);
		return NULL;
	}
	cfg = json_object_get(raw, "config");
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		size += img->manifest.layers[i].size;
	rootfs = json_object();
	json_object_set_new(rootfs, "Type", json_string("layers"));
	json_object_set_new(rootfs, "Layers", strings_array(&c->diff_ids, false, NULL));
	desc = json_object();
	json_object_set_new(desc, "mediaType", json_string(img->manifest_desc.media_type));
	json_object_set_new(desc, "digest", json_string(img->manifest_desc.digest));
	json_object_set_new(desc, "size", json_integer(img->manifest_desc.size));

	json_object_set_new(o, "Id", json_string(img->manifest.config.digest));
	json_object_set_new(o, "RepoTags", strings_array(&img->names, true, NULL));
	json_object_set_new(o, "RepoDigests",
			    strings_array(&img->names, true, img->root.digest));
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
	json_object_set_new(o, "Size", json_integer(size));
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
	struct store *s = NULL;
	json_t *list = json_array();
	_cleanup_free_ char *text = NULL;
	struct plate_error *first = NULL;
	int rc = -1, first_ref = cli_operands(ctx, "inspect", argc, argv, err);

	if (first_ref < 0)
		goto out;
	if (first_ref == argc) {
		rc = cli_usage_error(ctx, err, "usage: plate inspect REF...");
		goto out;
	}
	if (cli_open_store(ctx, &s, err) < 0)
		goto out;
	for (int i = first_ref; i < argc; i++) {
		struct plate_error *e = NULL;
		struct store_image *img = NULL;
		json_t *o;

		if (store_image_resolve(s, argv[i], cli_host_platform(), &img, &e) < 0 ||
		    (o = image_json(s, img, &e)) == NULL) {
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
	text = json_dumps(list, JSON_INDENT(4));
	if (text != NULL)
		printf("%s\n", text);
	if (first != NULL) {
		*err = first;
		goto out;
	}
	rc = CLI_EXIT_OK;
out:
	json_decref(list);
	store_free(s);
	return rc;
}
