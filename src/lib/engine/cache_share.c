/*
 * Sharing the build cache (docs/internals/cache.md): hits on entries imported from
 * --cache-from sources, the lazy fetch of their layers, and the entries a build exports.
 *
 * An imported hit carries the layer's diffID and blob descriptor but no files (path NULL):
 * keys and the image config need only the diffID, so a stage whose results are all reused
 * downloads nothing.  eng_layer_fetch() runs when something reads the files (a view, a RUN,
 * the image's blobs): it streams the blob into a transaction of its own, checks its digest,
 * extracts it checking the diffID, and commits it with a store cache entry for the step,
 * so the next build of this store hits locally.  A fetch that fails marks the build: the
 * step that took the hit has already been reported, so the caller builds again without the
 * entry (one warning) rather than continue from a layer it cannot have.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "engine/engine_internal.h"

static const struct engine_cache_entry *find_import(const struct engine *e, const char *key)
{
	for (size_t i = 0; i < e->o.n_cache_from; i++)
		if (strcmp(e->o.cache_from[i].key, key) == 0)
			return &e->o.cache_from[i];
	return NULL;
}

int eng_shared_note(struct eng_step_ctx *c, const char *key, bool empty,
		    const struct eng_layer *layer, const char *chain, struct plate_error **err)
{
	struct engine *e = c->e;
	struct eng_cache_put *grown, p = { .stage = c->st->index, .empty = empty };
	struct eng_layers tmp = { 0 };

	if (e->o.cache_export == ENGINE_CACHE_EXPORT_NONE && !e->o.cache_inline)
		return 0;
	if (chain != NULL)
		memcpy(p.chain, chain, sizeof(p.chain));
	if (!empty && eng_layers_add(&tmp, layer, err) < 0)
		return -1;
	if (!empty)
		p.layer = tmp.v[0];
	free(tmp.v);
	if ((p.key = strdup(key)) == NULL)
		goto nomem;
	pthread_mutex_lock(&e->lock);
	grown = realloc(e->hits, (e->n_hits + 1) * sizeof(*grown));
	if (grown != NULL) {
		e->hits = grown;
		e->hits[e->n_hits++] = p;
	}
	pthread_mutex_unlock(&e->lock);
	if (grown != NULL)
		return 0;
nomem:
	free(p.key);
	eng_layer_release(&p.layer);
	return plate_err_new(err, ENOMEM, "out of memory");
}

/* The layer of an imported entry: the store's snapshot when it has the diffID (built or
 * fetched before), else the entry's blob, fetched when needed. */
static int import_layer(struct engine *e, const struct engine_cache_entry *in, const char *key,
			struct eng_layer *l, struct plate_error **err)
{
	memset(l, 0, sizeof(*l));
	if ((l->diff_id = strdup(in->diff_id)) == NULL || (l->cache_key = strdup(key)) == NULL)
		goto nomem;
	l->remote = in->source + 1;
	if (in->blob[0] != '\0') {
		if ((l->blob = strdup(in->blob)) == NULL ||
		    (l->media_type = strdup(in->media_type)) == NULL)
			goto nomem;
		l->size = in->size;
	}
	pthread_mutex_lock(&e->lock);
	if (store_snapshot_exists(e->o.store, in->diff_id)) {
		if (store_txn_pin(e->txn, in->diff_id, err) < 0) {
			pthread_mutex_unlock(&e->lock);
			eng_layer_release(l);
			return -1;
		}
		if ((l->path = store_snapshot_path(e->o.store, in->diff_id)) == NULL) {
			pthread_mutex_unlock(&e->lock);
			eng_layer_release(l);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		/* The blob is the source's: this store may hold another encoding of the layer. */
		if (l->blob != NULL && !store_txn_has_blob(e->txn, l->blob)) {
			free(steal_pointer(&l->blob));
			free(steal_pointer(&l->media_type));
		}
	}
	pthread_mutex_unlock(&e->lock);
	return 0;
nomem:
	eng_layer_release(l);
	return plate_err_new(err, ENOMEM, "out of memory");
}

int eng_shared_lookup(struct eng_step_ctx *c, const char *key, bool *hit, bool *empty,
		      struct eng_layer *layer, char *chain, struct plate_error **err)
{
	struct engine *e = c->e;
	const struct engine_cache_entry *in = find_import(e, key);

	if (in == NULL)
		return 0;
	if (!in->empty && import_layer(e, in, key, layer, err) < 0)
		return -1;
	if (chain != NULL && in->chain[0] != '\0')
		memcpy(chain, in->chain, DIGEST_STRING_LEN + 1);
	*hit = true;
	*empty = in->empty;
	c->cache_source = e->o.cache_from_labels[in->source];
	return eng_shared_note(c, key, in->empty, in->empty ? NULL : layer,
			       in->chain[0] != '\0' ? in->chain : NULL, err);
}

/* The store cache entry (cache.c's format) of a fetched layer under key, so that the
 * store's own cache has it; chain as there, without its prefix. */
static int fetched_entry(struct store_txn *t, const struct eng_layer *l, const char *key,
			 const char *chain, struct plate_error **err)
{
	_cleanup_free_ char *text = NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "diff_id", l->diff_id, "blob", l->blob,
			      "media_type", l->media_type, "size", (json_int_t)l->size);
	size_t len;
	int r;

	if (o == NULL ||
	    (chain != NULL && json_object_set_new(o, "chain", json_string(chain + 7)) < 0)) {
		json_decref(o);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	r = json_canonical(o, &text, &len, err);
	json_decref(o);
	if (r < 0)
		return -1;
	return store_txn_cache_put(t, key, text, len, err);
}

/* The blob through the caller's fetcher, checked (digest, size) as the store takes it in,
 * then its snapshot (diffID checked), committed on their own. */
static int fetch_into_store(struct engine *e, const struct eng_layer *l, struct plate_error **err)
{
	struct store_txn *t = NULL;
	struct store_blob_writer *bw = NULL;
	char digest[DIGEST_STRING_LEN + 1];
	int64_t size;
	int r = -1;

	if (store_txn_begin(e->o.store, &t, err) < 0)
		return -1;
	if (!store_txn_has_blob(t, l->blob)) {
		if (store_txn_blob_writer(t, l->blob, l->size, &bw, err) < 0 ||
		    e->o.fetch_blob(e->o.fetch_blob_data, l->remote - 1, l->blob, l->size,
				    store_blob_writer_fd(bw), err) < 0 ||
		    store_blob_writer_finish(bw, digest, &size, err) < 0)
			goto out;
	}
	/* A COPY --from hit under its cheap key continues from the content key (chain_key):
	 * both entries, as the step would have recorded them. */
	if (store_txn_snapshot(t, l->blob, l->diff_id, err) < 0 ||
	    (l->cache_key != NULL && fetched_entry(t, l, l->cache_key, l->chain_key, err) < 0) ||
	    (l->chain_key != NULL && fetched_entry(t, l, l->chain_key, NULL, err) < 0) ||
	    store_txn_commit(t, err) < 0)
		goto out;
	r = 0;
out:
	store_blob_writer_free(bw);
	store_txn_free(t);
	return r;
}

int eng_layer_fetch(struct engine *e, struct eng_layer *l, struct plate_error **err)
{
	int r;

	if (l->path != NULL)
		return 0;
	/* The fetched blob is extracted into a snapshot, with the image's owners. */
	if (e->o.cached_only)
		return eng_needs_namespace(e, "a layer from a shared cache", err);
	pthread_mutex_lock(eng_fetch_lock(e));
	if (l->blob == NULL || e->o.fetch_blob == NULL)
		r = plate_err_new(err, ENOENT, "the cache has no files for layer '%s'", l->diff_id);
	else
		r = fetch_into_store(e, l, err);
	pthread_mutex_unlock(eng_fetch_lock(e));
	pthread_mutex_lock(&e->lock);
	if (r < 0 && !e->cache_failed) {
		e->cache_failed = true;
		e->cache_bad_source = l->remote - 1;
		snprintf(e->cache_bad_blob, sizeof(e->cache_bad_blob), "%s",
			 l->blob != NULL ? l->blob : "");
	}
	if (r < 0)
		plate_err_wrap(err, "cache from %s", e->o.cache_from_labels[l->remote - 1]);
	else if (store_txn_pin(e->txn, l->diff_id, err) < 0 ||
		 store_txn_pin(e->txn, l->blob, err) < 0)
		r = -1;
	pthread_mutex_unlock(&e->lock);
	if (r < 0)
		return -1;
	if ((l->path = store_snapshot_path(e->o.store, l->diff_id)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

/* ---- export ------------------------------------------------------------------------------ */

static bool in_image(const struct eng_stage *target, const struct eng_layer *l)
{
	for (size_t i = 0; i < target->layers.n; i++)
		if (strcmp(target->layers.v[i].diff_id, l->diff_id) == 0)
			return true;
	return false;
}

/* The blob of a layer the export names: one already written for the same diffID (the
 * image's, or a cache entry's), else, under MAX, written now from the snapshot. */
static int export_blob(struct engine *e, struct eng_stage *target, struct eng_layer *l,
		       struct plate_error **err)
{
	const struct eng_layer *known = NULL;

	for (size_t i = 0; l->blob == NULL && i < target->layers.n; i++)
		if (strcmp(target->layers.v[i].diff_id, l->diff_id) == 0 &&
		    target->layers.v[i].blob != NULL)
			known = &target->layers.v[i];
	for (size_t i = 0; l->blob == NULL && known == NULL && i < e->n_puts; i++)
		if (!e->puts[i].empty && e->puts[i].layer.blob != NULL &&
		    strcmp(e->puts[i].layer.diff_id, l->diff_id) == 0)
			known = &e->puts[i].layer;
	if (known != NULL) {
		free(l->blob);
		free(l->media_type);
		l->blob = strdup(known->blob);
		l->media_type = strdup(known->media_type);
		l->size = known->size;
		return l->blob && l->media_type ? 0 : plate_err_new(err, ENOMEM, "out of memory");
	}
	if (l->blob != NULL || l->path == NULL)
		return 0;
	return eng_layer_blob(e, l, err);
}

static int export_one(struct engine *e, struct eng_stage *target, struct eng_cache_put *p,
		      struct plate_error **err)
{
	struct engine_cache_entry *x = &e->exports[e->n_exports];
	bool want_blob;

	for (size_t i = 0; i < e->n_exports; i++)
		if (strcmp(e->exports[i].key, p->key) == 0)
			return 0;
	memset(x, 0, sizeof(*x));
	snprintf(x->key, sizeof(x->key), "%s", p->key);
	snprintf(x->chain, sizeof(x->chain), "%s", p->chain);
	x->empty = p->empty;
	e->export_remote[e->n_exports] = false;
	if (!p->empty) {
		snprintf(x->diff_id, sizeof(x->diff_id), "%s", p->layer.diff_id);
		want_blob =
			e->o.cache_export == ENGINE_CACHE_EXPORT_MAX || in_image(target, &p->layer);
		if (want_blob && export_blob(e, target, &p->layer, err) < 0)
			return -1;
		if (want_blob && p->layer.blob != NULL) {
			snprintf(x->blob, sizeof(x->blob), "%s", p->layer.blob);
			snprintf(x->media_type, sizeof(x->media_type), "%s", p->layer.media_type);
			x->size = p->layer.size;
			x->source = p->layer.remote ? p->layer.remote - 1 : 0;
			e->export_remote[e->n_exports] = !store_txn_has_blob(e->txn, x->blob);
		}
	}
	e->n_exports++;
	return 0;
}

int eng_shared_export(struct engine *e, struct eng_stage *target, struct plate_error **err)
{
	size_t n = e->n_hits + e->n_puts;

	e->exports = calloc(n + 1, sizeof(*e->exports));
	e->export_remote = calloc(n + 1, sizeof(*e->export_remote));
	if (e->exports == NULL || e->export_remote == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	/* Steps in the order they were looked up; the puts a blob write added name no step. */
	for (size_t i = 0; i < e->n_hits; i++)
		if (export_one(e, target, &e->hits[i], err) < 0)
			return -1;
	for (size_t i = 0; i < e->n_puts; i++)
		if (e->puts[i].stage != SIZE_MAX && export_one(e, target, &e->puts[i], err) < 0)
			return -1;
	return 0;
}

int engine_cache_entries(struct engine *e, const struct engine_cache_entry **v, const bool **remote,
			 size_t *n)
{
	*v = e->exports;
	*remote = e->export_remote;
	*n = e->n_exports;
	return 0;
}

void eng_shared_release(struct engine *e)
{
	for (size_t i = 0; i < e->n_hits; i++) {
		free(e->hits[i].key);
		eng_layer_release(&e->hits[i].layer);
	}
	free(e->hits);
	free(e->exports);
	free(e->export_remote);
}
