/*
 * Engines building together: the platforms of a multi-platform build, one engine (and one
 * store transaction) each, at the same time.  A stage that does not depend on the target
 * (FROM --platform=$BUILDPLATFORM before its ARG TARGETARCH) has the same step keys in every
 * engine; without a word between them, each would build it.  So the group keeps every key a
 * member is building or built: the first to miss a key builds it, the others wait for it and
 * take its result as a cache hit.
 *
 * The result's layer is the builder's upper directory, inside the builder's transaction,
 * which the others then use as a lower layer; the builder's commit would move it.  Hence the
 * end of a build is shared too: every member waits for every other after its stages
 * (barrier 1: did all succeed?) and after staging its image (barrier 2: nobody reads
 * another's directories any more), then they commit one at a time, and the first one to
 * commit adopts every group layer with its cache entry, so that an image or cache entry of
 * a later commit finds the snapshot in the store.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "engine/engine_internal.h"

enum key_state {
	KEY_BUILDING,
	KEY_BUILT,
	KEY_FAILED
};

struct group_key {
	eng_digest key;
	enum key_state state;
	const struct engine *builder;
	char *platform; /* the builder's, for the waiters' events */
	bool empty;
	struct eng_layer layer;
	eng_digest chain; /* "" = key */
	char *dir;	  /* the upper directory to adopt as the snapshot, NULL: none */
	bool published;	  /* adopted by a commit (dir gone from where it was) */
};

struct engine_group {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct group_key **keys;
	size_t n_keys;
	size_t n_engines, arrived;
	unsigned round;
	bool round_failed, last_ok;
	pthread_mutex_t commit_lock;
	/* The members' progress callbacks, one at a time: they share the caller's display. */
	pthread_mutex_t progress_lock;
	pthread_mutex_t fetch_lock; /* eng_fetch_lock() */
	atomic_uint next_id;
};

int engine_group_new(size_t n_engines, struct engine_group **out, struct plate_error **err)
{
	struct engine_group *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	g->n_engines = n_engines;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->commit_lock, NULL);
	pthread_mutex_init(&g->progress_lock, NULL);
	pthread_mutex_init(&g->fetch_lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	*out = g;
	return 0;
}

void engine_group_free(struct engine_group *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n_keys; i++) {
		eng_layer_release(&g->keys[i]->layer);
		free(g->keys[i]->platform);
		free(g->keys[i]->dir);
		free(g->keys[i]);
	}
	free(g->keys);
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->commit_lock);
	pthread_mutex_destroy(&g->progress_lock);
	pthread_mutex_destroy(&g->fetch_lock);
	pthread_cond_destroy(&g->cond);
	free(g);
}

pthread_mutex_t *eng_group_progress_lock(struct engine *e)
{
	return &e->o.group->progress_lock;
}

pthread_mutex_t *eng_fetch_lock(struct engine *e)
{
	return e->o.group != NULL ? &e->o.group->fetch_lock : &e->fetch_lock;
}

unsigned eng_group_new_id(struct engine *e)
{
	return atomic_fetch_add(&e->o.group->next_id, 1) + 1;
}

/* Called with g->lock held. */
static struct group_key *find_key(struct engine_group *g, const char *key)
{
	for (size_t i = 0; i < g->n_keys; i++)
		if (strcmp(g->keys[i]->key, key) == 0)
			return g->keys[i];
	return NULL;
}

static int layer_copy(struct eng_layer *dst, const struct eng_layer *src, struct plate_error **err)
{
	struct eng_layers tmp = { 0 };

	if (eng_layers_add(&tmp, src, err) < 0)
		return -1;
	*dst = tmp.v[0];
	free(tmp.v);
	return 0;
}

/* Called with g->lock held; the key is built: its result for a waiter. */
static int take(struct eng_step_ctx *c, struct group_key *k, bool *empty, struct eng_layer *layer,
		char *chain, struct plate_error **err)
{
	struct engine *e = c->e;
	int r = 0;

	*empty = k->empty;
	if (chain != NULL)
		memcpy(chain, k->chain[0] ? k->chain : k->key, sizeof(eng_digest));
	if (k->empty)
		return 0;
	if (layer_copy(layer, &k->layer, err) < 0)
		return -1;
	/* A layer that was in the store already is this build's to keep from gc too. */
	if (k->dir == NULL) {
		pthread_mutex_lock(&e->lock);
		r = store_txn_pin(e->txn, k->layer.diff_id, err);
		pthread_mutex_unlock(&e->lock);
	}
	return r;
}

/* "SHARED with <platform>", called with the group's lock held; the event is emitted without
 * it (the progress callback may take its time), and the lock is held again on return. */
static void announce_shared(struct eng_step_ctx *c, const struct group_key *k)
{
	struct engine_group *g = c->e->o.group;
	struct engine_event ev = { .type = ENGINE_EVENT_STEP_SHARED,
				   .id = c->id,
				   .name = c->name,
				   .message = k->platform };

	pthread_mutex_unlock(&g->lock);
	eng_emit(c->e, &ev);
	pthread_mutex_lock(&g->lock);
}

int eng_group_claim(struct eng_step_ctx *c, const char *key, bool *hit, bool *empty,
		    struct eng_layer *layer, char *chain, struct plate_error **err)
{
	struct engine *e = c->e;
	struct engine_group *g = e->o.group;
	struct group_key *k, **grown;
	bool announced = false;
	int r;

	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->lock);
	k = find_key(g, key);
	if (k == NULL) {
		k = calloc(1, sizeof(*k));
		grown = k ? realloc(g->keys, (g->n_keys + 1) * sizeof(*grown)) : NULL;
		if (grown == NULL || (k->platform = strdup(e->o.platform)) == NULL) {
			pthread_mutex_unlock(&g->lock);
			if (k != NULL)
				free(k->platform);
			free(k);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		g->keys = grown;
		memcpy(k->key, key, sizeof(k->key));
		k->state = KEY_BUILDING;
		k->builder = e;
		g->keys[g->n_keys++] = k;
		pthread_mutex_unlock(&g->lock);
		return 0;
	}
	while (k->state == KEY_BUILDING) {
		struct timespec at;
		if (!announced) {
			announce_shared(c, k);
			announced = true;
			continue;
		}
		/* engine_cancel() cannot signal a condition variable (async-signal-safe): the
		 * cancel pipe is looked at ten times a second. */
		if (eng_cancelled(e)) {
			pthread_mutex_unlock(&g->lock);
			return plate_err_new(err, ECANCELED, "build cancelled");
		}
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += 100 * 1000 * 1000;
		if (at.tv_nsec >= 1000 * 1000 * 1000) {
			at.tv_sec++;
			at.tv_nsec -= 1000 * 1000 * 1000;
		}
		pthread_cond_timedwait(&g->cond, &g->lock, &at);
	}
	if (k->state == KEY_FAILED) {
		r = plate_err_new(err, ECANCELED, "the same step failed for %s", k->platform);
		pthread_mutex_unlock(&g->lock);
		return r;
	}
	if (!announced)
		announce_shared(c, k);
	r = take(c, k, empty, layer, chain, err);
	pthread_mutex_unlock(&g->lock);
	if (r < 0)
		return -1;
	*hit = true;
	return 0;
}

/* Takes path out of e's pending snapshots: the group publishes it (*found: it was there). */
static void unpend(struct engine *e, const char *path, bool *found)
{
	*found = false;
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n_pending; i++) {
		if (strcmp(e->pending_dirs[i], path) != 0)
			continue;
		free(e->pending_dirs[i]);
		free(e->pending_ids[i]);
		e->n_pending--;
		e->pending_dirs[i] = e->pending_dirs[e->n_pending];
		e->pending_ids[i] = e->pending_ids[e->n_pending];
		*found = true;
		break;
	}
	pthread_mutex_unlock(&e->lock);
}

int eng_group_done(struct eng_step_ctx *c, const char *key, const struct eng_layer *layer,
		   const char *chain, struct plate_error **err)
{
	struct engine_group *g = c->e->o.group;
	struct group_key *k;
	char *dir = NULL;
	bool pending = false;

	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->lock);
	k = find_key(g, key);
	pthread_mutex_unlock(&g->lock);
	if (layer != NULL && layer_copy(&k->layer, layer, err) < 0) {
		eng_group_fail(c, key);
		return -1;
	}
	if (layer != NULL && layer->path != NULL) {
		if ((dir = strdup(layer->path)) == NULL) {
			eng_group_fail(c, key);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		unpend(c->e, layer->path, &pending);
	}
	if (!pending) {
		free(dir);
		dir = NULL;
	}
	pthread_mutex_lock(&g->lock);
	k->empty = layer == NULL;
	k->dir = dir;
	if (chain != NULL && strcmp(chain, key) != 0)
		memcpy(k->chain, chain, sizeof(k->chain));
	k->state = KEY_BUILT;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void eng_group_fail(struct eng_step_ctx *c, const char *key)
{
	struct engine_group *g = c->e->o.group;
	struct group_key *k;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	k = find_key(g, key);
	if (k != NULL && k->state == KEY_BUILDING)
		k->state = KEY_FAILED;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* Called with g->lock held: ends the round when every member is there. */
static void round_check(struct engine_group *g)
{
	if (g->arrived > 0 && g->arrived >= g->n_engines) {
		g->last_ok = !g->round_failed;
		g->round_failed = false;
		g->arrived = 0;
		g->round++;
	}
	pthread_cond_broadcast(&g->cond);
}

void engine_group_leave(struct engine_group *g)
{
	pthread_mutex_lock(&g->lock);
	g->n_engines--;
	g->round_failed = true;
	round_check(g);
	pthread_mutex_unlock(&g->lock);
}

bool eng_group_barrier(struct engine *e, bool ok)
{
	struct engine_group *g = e->o.group;
	unsigned round;
	bool all;

	if (g == NULL)
		return ok;
	pthread_mutex_lock(&g->lock);
	/* Every step thread of e has ended: a key it still builds never will be. */
	for (size_t i = 0; i < g->n_keys; i++)
		if (g->keys[i]->builder == e && g->keys[i]->state == KEY_BUILDING)
			g->keys[i]->state = KEY_FAILED;
	round = g->round;
	g->round_failed = g->round_failed || !ok;
	g->arrived++;
	round_check(g);
	while (g->round == round)
		pthread_cond_wait(&g->cond, &g->lock);
	all = g->last_ok;
	pthread_mutex_unlock(&g->lock);
	return all;
}

void eng_group_commit_begin(struct engine *e)
{
	if (e->o.group != NULL)
		pthread_mutex_lock(&e->o.group->commit_lock);
}

int eng_group_adopt(struct engine *e, struct plate_error **err)
{
	struct engine_group *g = e->o.group;

	if (g == NULL)
		return 0;
	/* Under the commit lock: no member changes the keys any more. */
	for (size_t i = 0; i < g->n_keys; i++) {
		struct group_key *k = g->keys[i];
		if (k->state != KEY_BUILT || k->dir == NULL || k->published)
			continue;
		k->published = true;
		if (store_txn_snapshot_adopt(e->txn, k->layer.diff_id, k->dir, e->o.epoch, err) < 0)
			return -1;
		if (eng_cache_adopt(e, k->key, &k->layer, k->chain[0] ? k->chain : NULL, err) < 0)
			return -1;
	}
	return 0;
}

void eng_group_commit_end(struct engine *e)
{
	if (e->o.group != NULL)
		pthread_mutex_unlock(&e->o.group->commit_lock);
}
