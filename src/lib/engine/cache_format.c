/*
 * The shared build cache's entries as JSON (docs/internals/cache.md, version 1):
 *
 *   {"version":1,"entries":[{"key":K,"chain":K2,"empty":true} |
 *                           {"key":K,"diff_id":D,"layer":I} | {"key":K,"diff_id":D}]}
 *
 * "layer" indexes the layers of the manifest that carries the document (the cache
 * artifact's, or the image's for an inline cache); without it the result is known but its
 * files are not in this cache.  Decoding is pure and checks every field: a document of
 * another version or with one bad entry is refused whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "engine/engine.h"

#define DOC_MAX ((size_t)64 << 20)

static int entry_json(const struct engine_cache_entry *x, const struct oci_descriptor *layers,
		      size_t n_layers, json_t **out)
{
	json_t *o = json_pack("{s:s}", "key", x->key);
	int r = o == NULL ? -1 : 0;

	if (r == 0 && x->chain[0] != '\0')
		r = json_object_set_new(o, "chain", json_string(x->chain));
	if (r == 0 && x->empty)
		r = json_object_set_new(o, "empty", json_true());
	if (r == 0 && !x->empty)
		r = json_object_set_new(o, "diff_id", json_string(x->diff_id));
	for (size_t i = 0; r == 0 && !x->empty && x->blob[0] != '\0' && i < n_layers; i++)
		if (strcmp(layers[i].digest, x->blob) == 0) {
			r = json_object_set_new(o, "layer", json_integer((json_int_t)i));
			break;
		}
	if (r < 0) {
		json_decref(o);
		return -1;
	}
	*out = o;
	return 0;
}

int engine_cache_encode(const struct engine_cache_entry *v, size_t n,
			const struct oci_descriptor *layers, size_t n_layers, char **json,
			size_t *len, struct plate_error **err)
{
	json_t *doc = json_pack("{s:i, s:[]}", "version", ENGINE_CACHE_VERSION, "entries");
	json_t *entries = doc ? json_object_get(doc, "entries") : NULL;
	int r;

	if (doc == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *o;
		if (entry_json(&v[i], layers, n_layers, &o) < 0 ||
		    json_array_append_new(entries, o) < 0) {
			json_decref(doc);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
	}
	r = json_canonical(doc, json, len, err);
	json_decref(doc);
	return r;
}

static int copy_digest(char *dst, const char *src, const char *what, size_t i,
		       struct plate_error **err)
{
	if (src == NULL || !digest_is_valid(src))
		return plate_err_new(err, EINVAL, "cache entry %zu: bad %s", i, what);
	memcpy(dst, src, DIGEST_STRING_LEN + 1);
	return 0;
}

static int decode_entry(const json_t *o, size_t i, const struct oci_descriptor *layers,
			size_t n_layers, struct engine_cache_entry *x, struct plate_error **err)
{
	const char *key = NULL, *chain = NULL, *diff_id = NULL;
	int64_t layer = -1;

	if (!json_is_object(o))
		return plate_err_new(err, EINVAL, "cache entry %zu is not an object", i);
	if (json_get_string(o, "key", true, &key, "cache entry", err) < 0 ||
	    json_get_string(o, "chain", false, &chain, "cache entry", err) < 0 ||
	    json_get_bool(o, "empty", false, &x->empty, "cache entry", err) < 0 ||
	    json_get_string(o, "diff_id", false, &diff_id, "cache entry", err) < 0 ||
	    json_get_int(o, "layer", false, &layer, "cache entry", err) < 0)
		return -1;
	if (copy_digest(x->key, key, "key", i, err) < 0 ||
	    (chain != NULL && copy_digest(x->chain, chain, "chain", i, err) < 0))
		return -1;
	if (x->empty)
		return diff_id == NULL && layer < 0
			       ? 0
			       : plate_err_new(err, EINVAL, "cache entry %zu: empty with a layer",
					       i);
	if (copy_digest(x->diff_id, diff_id, "diff_id", i, err) < 0)
		return -1;
	if (layer < 0)
		return 0;
	if ((uint64_t)layer >= n_layers)
		return plate_err_new(err, EINVAL, "cache entry %zu: layer %lld out of range", i,
				     (long long)layer);
	if (copy_digest(x->blob, layers[layer].digest, "layer digest", i, err) < 0 ||
	    layers[layer].media_type == NULL || layers[layer].size < 0 ||
	    strlen(layers[layer].media_type) >= sizeof(x->media_type) ||
	    !oci_media_type_is_layer(layers[layer].media_type))
		return plate_err_new(err, EINVAL, "cache entry %zu: layer %lld is not a layer", i,
				     (long long)layer);
	snprintf(x->media_type, sizeof(x->media_type), "%s", layers[layer].media_type);
	x->size = layers[layer].size;
	return 0;
}

int engine_cache_decode(const char *data, size_t len, const struct oci_descriptor *layers,
			size_t n_layers, unsigned source, struct engine_cache_entry **out,
			size_t *n, struct plate_error **err)
{
	json_t *doc = NULL, *entries = NULL;
	struct engine_cache_entry *v = NULL;
	int64_t version = 0;
	size_t count;

	if (json_parse(data, len, DOC_MAX, 8, &doc, err) < 0)
		return -1;
	if (json_get_int(doc, "version", true, &version, "build cache", err) < 0 ||
	    json_get_typed(doc, "entries", JSON_ARRAY, true, &entries, "build cache", err) < 0)
		goto fail;
	if (version != ENGINE_CACHE_VERSION) {
		plate_err_new(err, EPROTONOSUPPORT, "build cache version %lld, not %d",
			      (long long)version, ENGINE_CACHE_VERSION);
		goto fail;
	}
	count = json_array_size(entries);
	if (count > ENGINE_CACHE_MAX_ENTRIES) {
		plate_err_new(err, E2BIG, "build cache has %zu entries", count);
		goto fail;
	}
	if ((v = calloc(count + 1, sizeof(*v))) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		if (decode_entry(json_array_get(entries, i), i, layers, n_layers, &v[i], err) < 0)
			goto fail;
		v[i].source = source;
	}
	json_decref(doc);
	*out = v;
	*n = count;
	return 0;
fail:
	free(v);
	json_decref(doc);
	return -1;
}
