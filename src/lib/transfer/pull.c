/*
 * transfer_pull(): a registry image into the store.
 *
 * Threads: the caller's thread fetches the manifest and config, then extracts layers as
 * they complete; up to `jobs` workers download the missing layers, each with its own
 * registry client (a client is single-threaded, registry.h).  A store transaction is not
 * thread-safe, so every call on it is made under txn_lock; the queue and the layer states
 * are under q_lock.  The bulk of a download (writing into a blob writer the worker owns)
 * holds neither.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "transfer/transfer_internal.h"

enum layer_state {
	LAYER_QUEUED,     /* to download */
	LAYER_FETCHING,
	LAYER_READY,      /* the blob is staged or stored: extract it */
	LAYER_EXTRACTING,
	LAYER_DONE,
};

struct pull_layer {
	const struct oci_descriptor *d;
	const char *diff_id;
	enum layer_state state;
};

struct puller {
	const struct transfer_options *o;
	const struct oci_reference *ref;
	struct store_txn *txn;
	pthread_mutex_t txn_lock;
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct pull_layer *layers;
	size_t n_layers;
	size_t next;      /* first layer not yet taken by a worker */
	int stop;         /* set (atomically) on the first failure */
	struct plate_error *error; /* the first failure, under q_lock */
	struct transfer_result *res;
};

void transfer_result_release(struct transfer_result *r)
{
	free(r->name);
	memset(r, 0, sizeof(*r));
}

/* ---- a sink into a store blob writer --------------------------------------------------- */

struct writer_sink {
	struct puller *p;
	const struct oci_descriptor *d;
	struct store_blob_writer *w;
	uint64_t n;
};

static int ws_write(void *data, const void *buf, size_t len, struct plate_error **err)
{
	struct writer_sink *s = data;

	if (__atomic_load_n(&s->p->stop, __ATOMIC_RELAXED))
		return plate_err_new(err, ECANCELED, "pull stopped");
	if (store_blob_writer_write(s->w, buf, len, err) < 0)
		return -1;
	s->n += len;
	return 0;
}

static int ws_open(struct writer_sink *s, struct plate_error **err)
{
	int r;

	pthread_mutex_lock(&s->p->txn_lock);
	r = store_txn_blob_writer(s->p->txn, s->d->digest, s->d->size, &s->w, err);
	pthread_mutex_unlock(&s->p->txn_lock);
	return r;
}

/* The registry ignored Range: start the blob over in a new writer. */
static int ws_reset(void *data, struct plate_error **err)
{
	struct writer_sink *s = data;

	pthread_mutex_lock(&s->p->txn_lock);
	store_blob_writer_free(s->w);
	s->w = NULL;
	pthread_mutex_unlock(&s->p->txn_lock);
	return ws_open(s, err);
}

static int fetch_into_store(struct puller *p, struct registry_client *c,
			    const struct oci_descriptor *d, struct plate_error **err)
{
	struct writer_sink s = { .p = p, .d = d };
	struct registry_sink sink = { .write = ws_write, .reset = ws_reset, .data = &s };
	int r;

	if (d->size < 0)
		return plate_err_new(err, EINVAL, "blob '%s' has a negative size", d->digest);
	if (ws_open(&s, err) < 0)
		return -1;
	r = registry_fetch_blob(c, p->ref, d->digest, (uint64_t)d->size, 0, &sink, err);
	pthread_mutex_lock(&p->txn_lock);
	if (r == 0)
		r = store_blob_writer_finish(s.w, NULL, NULL, err);
	store_blob_writer_free(s.w);
	pthread_mutex_unlock(&p->txn_lock);
	if (r == 0) {
		pthread_mutex_lock(&p->q_lock);
		p->res->transferred++;
		p->res->bytes += s.n;
		pthread_mutex_unlock(&p->q_lock);
	}
	return r;
}

/* ---- workers ------------------------------------------------------------------------- */

/* Records the first failure (later ones are dropped) and stops everyone. */
static void fail(struct puller *p, struct plate_error **err)
{
	pthread_mutex_lock(&p->q_lock);
	if (p->error == NULL) {
		p->error = steal_pointer(err);
	} else {
		plate_error_free(*err);
		*err = NULL;
	}
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&p->q_cond);
	pthread_mutex_unlock(&p->q_lock);
}

static void *worker(void *data)
{
	struct puller *p = data;
	_cleanup_error_ struct plate_error *err = NULL;
	struct registry_client *c = NULL;

	if (registry_client_new(p->o->registry, &c, &err) < 0) {
		fail(p, &err);
		return NULL;
	}
	for (;;) {
		struct pull_layer *l = NULL;

		pthread_mutex_lock(&p->q_lock);
		while (p->next < p->n_layers && p->layers[p->next].state != LAYER_QUEUED)
			p->next++;
		if (!p->stop && p->next < p->n_layers) {
			l = &p->layers[p->next++];
			l->state = LAYER_FETCHING;
		}
		pthread_mutex_unlock(&p->q_lock);
		if (l == NULL)
			break;
		if (fetch_into_store(p, c, l->d, &err) < 0) {
			plate_err_wrap(&err, "layer '%s'", l->d->digest);
			fail(p, &err);
			break;
		}
		pthread_mutex_lock(&p->q_lock);
		l->state = LAYER_READY;
		pthread_cond_broadcast(&p->q_cond);
		pthread_mutex_unlock(&p->q_lock);
	}
	registry_client_free(c);
	return NULL;
}

/* Extracts layers in the order their downloads complete, until all are done or one
 * failed. */
static int extract_all(struct puller *p, struct plate_error **err)
{
	for (;;) {
		struct pull_layer *l = NULL;
		bool all_done = true, failed;
		int r;

		pthread_mutex_lock(&p->q_lock);
		for (;;) {
			all_done = true;
			for (size_t i = 0; i < p->n_layers && l == NULL; i++) {
				if (p->layers[i].state != LAYER_DONE)
					all_done = false;
				if (p->layers[i].state == LAYER_READY)
					l = &p->layers[i];
			}
			if (l != NULL || all_done || p->error != NULL)
				break;
			pthread_cond_wait(&p->q_cond, &p->q_lock);
		}
		failed = p->error != NULL;
		if (l != NULL && !failed)
			l->state = LAYER_EXTRACTING;
		pthread_mutex_unlock(&p->q_lock);
		if (failed)
			return -1;
		if (l == NULL)
			return 0;
		pthread_mutex_lock(&p->txn_lock);
		r = store_txn_snapshot(p->txn, l->d->digest, l->diff_id, err);
		pthread_mutex_unlock(&p->txn_lock);
		if (r < 0) {
			fail(p, err);
			return -1;
		}
		pthread_mutex_lock(&p->q_lock);
		l->state = LAYER_DONE;
		pthread_mutex_unlock(&p->q_lock);
	}
}

static int pull_layers(struct puller *p, struct plate_error **err)
{
	unsigned jobs = p->o->jobs ? p->o->jobs : 3, started = 0, queued = 0;
	pthread_t threads[16];
	int r;

	if (jobs > 16)
		jobs = 16;
	for (size_t i = 0; i < p->n_layers; i++)
		if (p->layers[i].state == LAYER_QUEUED)
			queued++;
	if (jobs > queued)
		jobs = queued;
	for (; started < jobs; started++)
		if ((r = pthread_create(&threads[started], NULL, worker, p)) != 0) {
			struct plate_error *e = NULL;
			plate_err_new(&e, r, "cannot start a download thread");
			fail(p, &e);
			break;
		}
	if (started == 0 && queued > 0 && p->error == NULL) {
		struct plate_error *e = NULL;
		plate_err_new(&e, EAGAIN, "cannot start a download thread");
		fail(p, &e);
	}
	r = extract_all(p, err);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (p->error != NULL) {
		if (*err != NULL)
			plate_error_free(*err);
		*err = steal_pointer(&p->error);
		return -1;
	}
	return r;
}

/* ---- manifests -------------------------------------------------------------------------- */

struct buf_sink {
	struct buf b;
};

static int bs_write(void *data, const void *buf, size_t len, struct plate_error **err)
{
	struct buf_sink *s = data;

	if (buf_add(&s->b, buf, len) < 0)
		return plate_err_new(err, E2BIG, "document larger than %zu bytes", s->b.max);
	return 0;
}

static int bs_reset(void *data, struct plate_error **err)
{
	(void)err;
	buf_reset(&((struct buf_sink *)data)->b);
	return 0;
}

/* Fetches a small blob (a config) into memory and stages it. */
static int fetch_small(struct registry_client *c, struct puller *p,
		       const struct oci_descriptor *d, size_t max, char **data, size_t *len,
		       struct plate_error **err)
{
	struct buf_sink s = { .b = BUF_INIT(max) };
	struct registry_sink sink = { .write = bs_write, .reset = bs_reset, .data = &s };

	if (d->size < 0 || (uint64_t)d->size > max) {
		buf_release(&s.b);
		return plate_err_new(err, E2BIG, "blob '%s' is larger than %zu bytes", d->digest, max);
	}
	if (registry_fetch_blob(c, p->ref, d->digest, (uint64_t)d->size, max, &sink, err) < 0 ||
	    store_txn_add_blob(p->txn, s.b.data, s.b.len, NULL, err) < 0) {
		buf_release(&s.b);
		return -1;
	}
	p->res->transferred++;
	p->res->bytes += s.b.len;
	*data = buf_detach(&s.b, len);
	return 0;
}

/* The manifest of an index or manifest list for platform ("os/arch[/variant]"); arm64's
 * variant v8 is the default one and may be left out on either side. */
int transfer_pick_platform(const struct oci_index *idx, const char *platform,
			   const struct oci_descriptor **out, struct plate_error **err)
{
	char os[64] = "", arch[64] = "", variant[64] = "";
	const char *pl = platform ? platform : "linux/amd64";

	if (sscanf(pl, "%63[^/]/%63[^/]/%63s", os, arch, variant) < 2)
		return plate_err_new(err, EINVAL, "invalid platform '%s'", pl);
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct oci_platform *mp = idx->manifests[i].platform;
		const struct oci_media_type *t = oci_media_type_lookup(idx->manifests[i].media_type);
		const char *v;

		if (mp == NULL || t == NULL || t->kind != OCI_KIND_MANIFEST || mp->os == NULL ||
		    mp->architecture == NULL || strcmp(mp->os, os) != 0 ||
		    strcmp(mp->architecture, arch) != 0)
			continue;
		v = mp->variant ? mp->variant : "";
		if (variant[0] != '\0' && strcmp(v, variant) != 0 &&
		    !(strcmp(arch, "arm64") == 0 && strcmp(variant, "v8") == 0 && v[0] == '\0'))
			continue;
		*out = &idx->manifests[i];
		return 0;
	}
	return plate_err_new(err, ENOENT, "no manifest for platform '%s'", pl);
}

/* Resolves ref to an image manifest (through an index when it names one); m gets the
 * manifest's bytes as served. */
static int get_image_manifest(struct registry_client *c, const struct transfer_options *o,
			      const struct oci_reference *ref, struct registry_manifest *m,
			      struct plate_error **err)
{
	const struct oci_media_type *t;
	const struct oci_descriptor *d;
	struct oci_reference by_digest;
	struct oci_index idx;
	int r;

	if (registry_get_manifest(c, ref, m, err) < 0)
		return -1;
	t = oci_media_type_lookup(m->media_type);
	if (t == NULL || (t->kind != OCI_KIND_INDEX && t->kind != OCI_KIND_MANIFEST))
		return plate_err_new(err, ENOTSUP, "manifest of media type '%s' is not supported",
				     m->media_type);
	if (t->kind == OCI_KIND_MANIFEST)
		return 0;
	if (oci_index_parse(m->data, m->len, 0, &idx, err) < 0)
		return -1;
	r = transfer_pick_platform(&idx, o->platform, &d, err);
	if (r == 0) {
		by_digest = (struct oci_reference){ .domain = ref->domain, .path = ref->path,
						    .digest = d->digest };
		registry_manifest_release(m);
		r = registry_get_manifest(c, &by_digest, m, err);
		t = r == 0 ? oci_media_type_lookup(m->media_type) : NULL;
		if (r == 0 && (t == NULL || t->kind != OCI_KIND_MANIFEST))
			r = plate_err_new(err, ENOTSUP, "'%s' in the index is not an image manifest",
					  d->digest);
	}
	oci_index_release(&idx);
	return r;
}

/* 0 (pinned) when the store has the blob, 1 when it must be fetched. */
static int pin_or_fetch(struct puller *p, const struct oci_descriptor *d, struct plate_error **err)
{
	if (store_txn_has_blob(p->txn, d->digest))
		return store_txn_pin(p->txn, d->digest, err);
	return 1;
}

static int pull_image(struct puller *p, struct registry_client *c, struct registry_manifest *rm,
		      const char *name, struct plate_error **err)
{
	_cleanup_free_ char *config_data = NULL;
	struct oci_manifest m = { 0 };
	struct oci_config cfg = { 0 };
	struct oci_descriptor root = { .media_type = rm->media_type, .digest = rm->digest,
				       .size = (int64_t)rm->len };
	size_t config_len = 0;
	int r = -1, have;

	if (oci_manifest_parse(rm->data, rm->len, 0, &m, err) < 0 ||
	    store_txn_add_blob(p->txn, rm->data, rm->len, NULL, err) < 0)
		goto out;
	if (p->o->progress) {
		struct transfer_event ev = { .type = TRANSFER_EVENT_MANIFEST, .digest = rm->digest,
					     .size = rm->len };
		p->o->progress(p->o->progress_data, &ev);
	}
	p->res->blobs = (unsigned)m.n_layers + 1;
	if ((have = pin_or_fetch(p, &m.config, err)) < 0)
		goto out;
	if (have == 0) {
		if (store_blob_read(p->o->store, m.config.digest, OCI_MAX_CONFIG_SIZE,
				    &config_data, &config_len, err) < 0)
			goto out;
	} else if (fetch_small(c, p, &m.config, OCI_MAX_CONFIG_SIZE, &config_data, &config_len,
			       err) < 0) {
		goto out;
	}
	if (oci_config_parse(config_data, config_len, 0, &cfg, err) < 0)
		goto out;
	if (cfg.diff_ids.n != m.n_layers) {
		plate_err_new(err, EINVAL, "image has %zu layers and %zu diffIDs", m.n_layers,
			      cfg.diff_ids.n);
		goto out;
	}
	p->layers = calloc(m.n_layers ? m.n_layers : 1, sizeof(*p->layers));
	if (p->layers == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	p->n_layers = m.n_layers;
	for (size_t i = 0; i < m.n_layers; i++) {
		p->layers[i] = (struct pull_layer){ .d = &m.layers[i], .diff_id = cfg.diff_ids.v[i] };
		if ((have = pin_or_fetch(p, &m.layers[i], err)) < 0)
			goto out;
		if (have == 0) {
			p->layers[i].state = LAYER_READY;
			if (p->o->progress) {
				struct transfer_event ev = { .type = TRANSFER_EVENT_BLOB_DONE,
							     .digest = m.layers[i].digest,
							     .size = (uint64_t)m.layers[i].size,
							     .how = "present" };
				p->o->progress(p->o->progress_data, &ev);
			}
		}
	}
	if (pull_layers(p, err) < 0 || store_txn_tag(p->txn, name, &root, err) < 0)
		goto out;
	r = 0;
out:
	oci_config_release(&cfg);
	oci_manifest_release(&m);
	return r;
}

int transfer_pull(const struct transfer_options *o, const char *reference,
		  struct transfer_result *out, struct plate_error **err)
{
	struct transfer_result res = { 0 };
	struct registry_manifest rm = { 0 };
	struct registry_client *c = NULL;
	struct oci_reference ref;
	struct puller p = { .o = o, .ref = &ref, .res = &res };
	char *digest_saved;
	int r = -1;

	if (oci_reference_parse(reference, strlen(reference), &ref, err) < 0)
		return plate_err_wrap(err, "invalid image name '%s'", reference);
	/* Stored under its tag; by digest alone, untagged. */
	digest_saved = ref.digest;
	if (ref.tag != NULL) {
		ref.digest = NULL;
		res.name = oci_reference_format(&ref);
		ref.digest = digest_saved;
		if (res.name == NULL) {
			oci_reference_release(&ref);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
	}
	pthread_mutex_init(&p.txn_lock, NULL);
	pthread_mutex_init(&p.q_lock, NULL);
	pthread_cond_init(&p.q_cond, NULL);
	if (registry_client_new(o->registry, &c, err) < 0 ||
	    get_image_manifest(c, o, &ref, &rm, err) < 0 ||
	    store_txn_begin(o->store, &p.txn, err) < 0 || pull_image(&p, c, &rm, res.name, err) < 0 ||
	    store_txn_commit(p.txn, err) < 0) {
		plate_err_wrap(err, "pull '%s'", reference);
		goto out;
	}
	memcpy(res.digest, rm.digest, sizeof(res.digest));
	*out = res;
	memset(&res, 0, sizeof(res));
	r = 0;
out:
	store_txn_free(p.txn);
	free(p.layers);
	pthread_cond_destroy(&p.q_cond);
	pthread_mutex_destroy(&p.q_lock);
	pthread_mutex_destroy(&p.txn_lock);
	registry_manifest_release(&rm);
	registry_client_free(c);
	transfer_result_release(&res);
	oci_reference_release(&ref);
	return r;
}
