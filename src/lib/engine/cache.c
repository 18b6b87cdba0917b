/*
 * The build cache and the layers of built steps.
 *
 * An entry (cache/<hex of the step key>.json, docs/internals/engine.md) records what the
 * step produced: {"diff_id", "blob", "media_type", "size"} for a layer, {"empty": true}
 * for a step that changed nothing.  The store's gc keeps an entry as long as every
 * digest it names exists, and keeps those alive.  Entries are written at the end of the
 * build, in its transaction, after the snapshots they name were published.
 *
 * A step's diff (the overlay upper directory) is hashed as the tar the layer writer
 * produces, uncompressed, which gives its diffID.  The directory itself becomes the
 * snapshot; the blob (uncompressed unless the build asks for a compression) is only
 * written when an image containing the layer is stored, from the snapshot, and must give
 * the same diffID.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "layer/layer.h"
#include "engine/engine_internal.h"

#define ENTRY_MAX 65536

static int local_lookup(struct engine *e, const char *key, bool *hit, bool *empty,
			struct eng_layer *layer, char *chain, struct plate_error **err)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct plate_error *bad = NULL;
	const char *diff_id = NULL, *blob = NULL, *media_type = NULL, *next = NULL;
	json_t *root = NULL;
	int64_t size = -1;
	bool is_empty = false;
	size_t len;
	int r;

	*hit = false;
	*empty = false;
	if (chain != NULL)
		memmove(chain, key, DIGEST_STRING_LEN + 1);
	if (e->o.no_cache)
		return 0;
	r = store_cache_get(e->o.store, key, &json, &len, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* A damaged entry is a miss, not an error: it is only a cache. */
	if (json_parse(json, len, ENTRY_MAX, 4, &root, &bad) < 0 ||
	    json_get_bool(root, "empty", false, &is_empty, "cache entry", &bad) < 0 ||
	    json_get_string(root, "diff_id", false, &diff_id, "cache entry", &bad) < 0 ||
	    json_get_string(root, "blob", false, &blob, "cache entry", &bad) < 0 ||
	    json_get_string(root, "media_type", false, &media_type, "cache entry", &bad) < 0 ||
	    json_get_int(root, "size", false, &size, "cache entry", &bad) < 0 ||
	    json_get_string(root, "chain", false, &next, "cache entry", &bad) < 0)
		goto out;
	if (next != NULL) {
		char full[DIGEST_STRING_LEN + 8];
		snprintf(full, sizeof(full), "sha256:%s", next);
		if (!digest_is_valid(full))
			goto out;
		if (chain != NULL)
			memcpy(chain, full, DIGEST_STRING_LEN + 1);
	}
	if (is_empty) {
		*hit = *empty = true;
		goto out;
	}
	if (diff_id == NULL || !digest_is_valid(diff_id))
		goto out;
	pthread_mutex_lock(&e->lock);
	r = store_txn_pin(e->txn, diff_id, err);
	if (r == 0 && blob != NULL && digest_is_valid(blob))
		r = store_txn_pin(e->txn, blob, err);
	pthread_mutex_unlock(&e->lock);
	if (r < 0)
		goto fail;
	if (!store_snapshot_exists(e->o.store, diff_id))
		goto out;
	memset(layer, 0, sizeof(*layer));
	layer->diff_id = strdup(diff_id);
	layer->path = store_snapshot_path(e->o.store, diff_id);
	layer->cache_key = strdup(key);
	if (layer->diff_id == NULL || layer->path == NULL || layer->cache_key == NULL)
		goto nomem;
	if (blob != NULL && media_type != NULL && size >= 0 && digest_is_valid(blob) &&
	    store_blob_exists(e->o.store, blob)) {
		layer->blob = strdup(blob);
		layer->media_type = strdup(media_type);
		layer->size = size;
		if (layer->blob == NULL || layer->media_type == NULL)
			goto nomem;
	}
	*hit = true;
out:
	if (!*hit && chain != NULL)
		memmove(chain, key, DIGEST_STRING_LEN + 1);
	json_decref(root);
	return 0;
nomem:
	plate_err_new(err, ENOMEM, "out of memory");
fail:
	eng_layer_release(layer);
	json_decref(root);
	return -1;
}

int eng_cache_lookup(struct eng_step_ctx *c, const char *key, bool *hit, bool *empty,
		     struct eng_layer *layer, char *chain, struct plate_error **err)
{
	eng_digest next;

	if (local_lookup(c->e, key, hit, empty, layer, next, err) < 0)
		return -1;
	if (chain != NULL)
		memcpy(chain, next, sizeof(next));
	if (*hit)
		return eng_shared_note(c, key, *empty, *empty ? NULL : layer,
				       strcmp(next, key) != 0 ? next : NULL, err);
	if (!c->e->o.no_cache && eng_shared_lookup(c, key, hit, empty, layer, chain, err) < 0)
		return -1;
	if (!*hit && c->e->o.cached_only)
		return eng_needs_namespace(c->e, "a step that misses the cache", err);
	return 0;
}

int eng_needs_namespace(struct engine *e, const char *what, struct plate_error **err)
{
	pthread_mutex_lock(&e->lock);
	e->needs_namespace = true;
	pthread_mutex_unlock(&e->lock);
	return plate_err_new(err, EAGAIN, "%s needs the user namespace", what);
}

/* Called with e->lock held. */
static struct eng_cache_put *find_put(struct engine *e, const char *key)
{
	for (size_t i = 0; i < e->n_puts; i++)
		if (strcmp(e->puts[i].key, key) == 0)
			return &e->puts[i];
	return NULL;
}

/* Called with e->lock held. */
static int set_put(struct engine *e, const char *key, const struct eng_layer *layer,
		   const char *chain, struct plate_error **err)
{
	struct eng_cache_put *p = find_put(e, key);
	struct eng_layers tmp = { 0 };

	if (p == NULL) {
		struct eng_cache_put *grown = realloc(e->puts, (e->n_puts + 1) * sizeof(*grown));
		if (grown == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		e->puts = grown;
		p = &grown[e->n_puts];
		memset(p, 0, sizeof(*p));
		p->stage = SIZE_MAX;
		if ((p->key = strdup(key)) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		e->n_puts++;
	}
	eng_layer_release(&p->layer);
	if (chain != NULL && strcmp(chain, key) != 0)
		memcpy(p->chain, chain, sizeof(p->chain));
	p->empty = layer == NULL;
	if (layer == NULL)
		return 0;
	if (eng_layers_add(&tmp, layer, err) < 0)
		return -1;
	p->layer = tmp.v[0];
	free(tmp.v);
	return 0;
}

/* A blob was written for a layer: its cache entry (recorded in this build or not) learns
 * it.  Called with e->lock held. */
static int set_blob(struct engine *e, const struct eng_layer *l, struct plate_error **err)
{
	struct eng_cache_put *p = find_put(e, l->cache_key);

	if (p == NULL || p->empty)
		return set_put(e, l->cache_key, l, l->chain_key, err);
	free(p->layer.blob);
	free(p->layer.media_type);
	p->layer.blob = strdup(l->blob);
	p->layer.media_type = strdup(l->media_type);
	p->layer.size = l->size;
	if (p->layer.blob == NULL || p->layer.media_type == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

int eng_cache_record(struct eng_step_ctx *c, const char *key, const struct eng_layer *layer,
		     const char *chain, struct plate_error **err)
{
	struct engine *e = c->e;
	int r;

	pthread_mutex_lock(&e->lock);
	r = set_put(e, key, layer, chain, err);
	if (r == 0)
		find_put(e, key)->stage = c->st->index;
	pthread_mutex_unlock(&e->lock);
	return r;
}

int eng_cache_adopt(struct engine *e, const char *key, const struct eng_layer *layer,
		    const char *chain, struct plate_error **err)
{
	int r = 0;

	pthread_mutex_lock(&e->lock);
	if (find_put(e, key) == NULL)
		r = set_put(e, key, layer, chain, err);
	pthread_mutex_unlock(&e->lock);
	return r;
}

/* Stages every recorded entry in the transaction (called once, at the end). */
int eng_cache_flush(struct engine *e, struct plate_error **err)
{
	for (size_t i = 0; i < e->n_puts; i++) {
		const struct eng_cache_put *p = &e->puts[i];
		_cleanup_free_ char *text = NULL;
		json_t *o = json_object();
		size_t len;
		int r;

		if (o == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (p->empty) {
			r = json_object_set_new(o, "empty", json_true());
		} else {
			r = json_object_set_new(o, "diff_id", json_string(p->layer.diff_id));
			if (r == 0 && p->layer.blob != NULL)
				r = json_object_set_new(o, "blob", json_string(p->layer.blob)) |
				    json_object_set_new(o, "media_type",
							json_string(p->layer.media_type)) |
				    json_object_set_new(o, "size", json_integer(p->layer.size));
		}
		/* The chain key without its prefix: it names no object gc should look for. */
		if (r == 0 && p->chain[0] != '\0')
			r = json_object_set_new(o, "chain", json_string(p->chain + 7));
		if (r < 0) {
			json_decref(o);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		r = json_canonical(o, &text, &len, err);
		json_decref(o);
		if (r < 0 || store_txn_cache_put(e->txn, p->key, text, len, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- layers of built steps -------------------------------------------------------------- */

/* Whether the image takes st's layers as they are: the target stage's, stored
 * uncompressed (the default).  Their tar then goes to the store as it is hashed, once,
 * instead of once more by eng_layer_blob() at the end.  Not in a group of platforms: a
 * step another platform shares would hand it a blob staged in this build's transaction
 * only, which that platform's image cannot commit. */
static bool layer_blob_now(const struct engine *e, const struct eng_stage *st)
{
	return e->o.group == NULL && st->index == e->plan->target &&
	       (e->o.layer_compression == NULL || strcmp(e->o.layer_compression, "none") == 0);
}

/* Stages the blob the harvest wrote, under the digest the layer writer computed. */
static int harvested_blob(struct engine *e, struct store_blob_writer *bw,
			  const struct layer_result *res, struct eng_layer *out,
			  struct plate_error **err)
{
	char digest[DIGEST_STRING_LEN + 1];
	int64_t size;
	int r;

	store_blob_writer_hashed(bw, res->digest, res->size);
	pthread_mutex_lock(&e->lock);
	r = store_blob_writer_finish(bw, digest, &size, err);
	pthread_mutex_unlock(&e->lock);
	if (r < 0)
		return -1;
	out->blob = strdup(digest);
	out->media_type = strdup(layer_compression_media_type("none"));
	out->size = size;
	if (out->blob == NULL || out->media_type == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

int eng_harvest(struct engine *e, const struct eng_stage *st, const char *upper,
		struct eng_layer *out, bool *empty, struct plate_error **err)
{
	struct layer_writer_options wo = { .compression = "none", .epoch = e->o.epoch };
	struct layer_writer *w = NULL;
	struct store_blob_writer *bw = NULL;
	struct layer_result res;
	_cleanup_close_ int dirfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int null = -1;
	/* The commit's syncfs makes the snapshot durable: its big files start for the disk now. */
	const unsigned tree_flags = LAYER_TREE_OVERLAY | LAYER_TREE_WRITEBACK;
	int outfd, r = -1;

	memset(out, 0, sizeof(*out));
	*empty = false;
	if (dirfd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", upper);
	if (layer_blob_now(e, st)) {
		pthread_mutex_lock(&e->lock);
		r = store_txn_blob_writer(e->txn, NULL, -1, &bw, err);
		pthread_mutex_unlock(&e->lock);
		if (r < 0)
			return -1;
		r = -1;
		outfd = store_blob_writer_fd(bw);
	} else if ((outfd = null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		return plate_err_new(err, errno, "cannot open '/dev/null'");
	}
	if (layer_writer_new(outfd, &wo, &w, err) < 0 ||
	    layer_writer_add_tree(w, dirfd, "", tree_flags, err) < 0 ||
	    layer_writer_finish(w, &res, err) < 0)
		goto out;
	if (res.entries == 0) {
		*empty = true;
		r = 0;
		goto out;
	}
	if ((out->diff_id = strdup(res.diff_id)) == NULL)
		goto nomem;
	if (bw != NULL && harvested_blob(e, bw, &res, out, err) < 0)
		goto fail;
	pthread_mutex_lock(&e->lock);
	if (store_snapshot_exists(e->o.store, res.diff_id)) {
		/* Built before (by another build of the same inputs, or another path to the same
		 * tree): keep the stored one, the scratch copy goes with the transaction. */
		r = store_txn_pin(e->txn, res.diff_id, err);
		pthread_mutex_unlock(&e->lock);
		if (r < 0 || (out->path = store_snapshot_path(e->o.store, res.diff_id)) == NULL)
			goto fail;
		goto out;
	}
	r = -1;
	{
		char **dirs = realloc(e->pending_dirs, (e->n_pending + 1) * sizeof(*dirs));
		char **ids =
			dirs ? realloc(e->pending_ids, (e->n_pending + 1) * sizeof(*ids)) : NULL;
		if (dirs != NULL)
			e->pending_dirs = dirs;
		if (ids != NULL)
			e->pending_ids = ids;
		if (dirs == NULL || ids == NULL) {
			pthread_mutex_unlock(&e->lock);
			goto nomem;
		}
		dirs[e->n_pending] = strdup(upper);
		ids[e->n_pending] = strdup(res.diff_id);
		if (dirs[e->n_pending] == NULL || ids[e->n_pending] == NULL) {
			free(dirs[e->n_pending]);
			free(ids[e->n_pending]);
			pthread_mutex_unlock(&e->lock);
			goto nomem;
		}
		e->n_pending++;
	}
	pthread_mutex_unlock(&e->lock);
	if ((out->path = strdup(upper)) == NULL)
		goto nomem;
	r = 0;
	goto out;
nomem:
	plate_err_new(err, ENOMEM, "out of memory");
fail:
	r = -1;
	eng_layer_release(out);
out:
	layer_writer_free(w);
	/* Unfinished (an empty layer, an error): discarded with its staged file. */
	store_blob_writer_free(bw);
	return r;
}

int eng_layer_blob(struct engine *e, struct eng_layer *l, struct plate_error **err)
{
	const char *compression = e->o.layer_compression ? e->o.layer_compression : "none";
	struct layer_writer_options wo = { .compression = compression, .epoch = e->o.epoch };
	struct store_blob_writer *bw = NULL;
	struct layer_writer *w = NULL;
	struct layer_result res;
	char digest[DIGEST_STRING_LEN + 1];
	int64_t size;
	_cleanup_close_ int dirfd = -1;
	int r = -1;

	/* A layer from a shared cache: its blob comes from there, with its files. */
	if (eng_layer_fetch(e, l, err) < 0)
		return -1;
	if (l->blob != NULL && !(strcmp(compression, "none") != 0 && l->media_type != NULL &&
				 strcmp(l->media_type, layer_compression_media_type("none")) == 0))
		return 0;
	/* Outside the namespace the snapshot's files show host ids, not the image's. */
	if (e->o.cached_only)
		return eng_needs_namespace(e, "writing a layer from its snapshot", err);
	dirfd = open(l->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return plate_err_new(err, errno, "cannot open snapshot '%s'", l->path);
	pthread_mutex_lock(&e->lock);
	if (store_txn_blob_writer(e->txn, NULL, -1, &bw, err) < 0 ||
	    layer_writer_new(store_blob_writer_fd(bw), &wo, &w, err) < 0 ||
	    layer_writer_add_tree(w, dirfd, "", LAYER_TREE_OVERLAY, err) < 0 ||
	    layer_writer_finish(w, &res, err) < 0)
		goto out;
	store_blob_writer_hashed(bw, res.digest, res.size);
	if (store_blob_writer_finish(bw, digest, &size, err) < 0)
		goto out;
	if (strcmp(res.diff_id, l->diff_id) != 0) {
		plate_err_new(err, EIO, "layer '%s' was written as '%s': its snapshot changed",
			      l->diff_id, res.diff_id);
		goto out;
	}
	free(l->blob);
	free(l->media_type);
	l->blob = strdup(digest);
	l->media_type = strdup(layer_compression_media_type(compression));
	l->size = size;
	if (l->blob == NULL || l->media_type == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	r = l->cache_key != NULL ? set_blob(e, l, err) : 0;
out:
	pthread_mutex_unlock(&e->lock);
	layer_writer_free(w);
	store_blob_writer_free(bw);
	return r;
}
