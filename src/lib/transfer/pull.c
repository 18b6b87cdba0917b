/*
 * transfer_pull(): a registry image into the store.
 *
 * Threads: the caller's thread fetches the manifest and config, then extracts the layers
 * whose blobs it did not stream (present ones, restarted downloads); up to `jobs` workers
 * download the missing layers, each with its own registry client (a client is
 * single-threaded, registry.h), and each download feeds an extraction thread of its own
 * (struct stream).  A store transaction is not thread-safe, so every call on it is made
 * under txn_lock; the queue and the layer states are under q_lock.  Downloads and
 * extractions hold neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/output.h"
#include "transfer/transfer_internal.h"

enum layer_state {
	LAYER_QUEUED, /* to download */
	LAYER_FETCHING,
	LAYER_READY, /* the blob is staged or stored: extract it */
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
	struct registry_options reg; /* o's, with byte counts forwarded */
	const struct oci_reference *ref;
	struct store_txn *txn;
	pthread_mutex_t txn_lock;
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct pull_layer *layers;
	size_t n_layers;
	size_t next;		   /* first layer not yet taken by a worker */
	int stop;		   /* set (atomically) on the first failure */
	struct plate_error *error; /* the first failure, under q_lock */
	struct transfer_result *res;
};

static void forward_bytes(void *data, const char *digest, uint64_t done, uint64_t total)
{
	const struct transfer_options *o = data;
	struct transfer_event ev = {
		.type = TRANSFER_EVENT_BLOB_BYTES, .digest = digest, .size = total, .done = done
	};

	o->progress(o->progress_data, &ev);
}

void transfer_registry_options(const struct transfer_options *o, struct registry_options *out)
{
	*out = *o->registry;
	if (o->progress != NULL) {
		out->blob_progress = forward_bytes;
		out->blob_progress_data = (void *)o;
	}
}

static void blob_done(const struct transfer_options *o, const struct oci_descriptor *d,
		      const char *how)
{
	struct transfer_event ev = { .type = TRANSFER_EVENT_BLOB_DONE,
				     .digest = d->digest,
				     .size = (uint64_t)d->size,
				     .how = how };

	if (o->progress != NULL)
		o->progress(o->progress_data, &ev);
}

void transfer_result_release(struct transfer_result *r)
{
	free(r->name);
	oci_strings_release(&r->platforms);
	memset(r, 0, sizeof(*r));
}

/* ---- a layer download feeding its extraction ------------------------------------------ */

/* The extraction of a layer reading the bytes of its download as they arrive, through a
 * pipe, on a thread of its own.  The sink writes every byte to the blob writer, then to
 * the pipe; registry_fetch_blob() hands the sink the blob's bytes exactly once and in
 * order across resumed (Range) requests, so the pipe carries the blob as the file gets
 * it.  A download that starts over (the registry ignored Range, or another endpoint took
 * over) abandons the stream: the extraction sees it cut short and is discarded, and the
 * layer is extracted from the completed file instead, as one that was present.  The
 * extraction is only committed once the blob writer has verified the blob's digest. */
struct stream {
	struct store_snapshot_writer *sw; /* NULL: nothing streamed */
	int rfd, wfd;			  /* the pipe; -1 once closed */
	pthread_t thread;
	bool running;
	bool streamed;	/* the extraction thread was started */
	bool abandoned; /* the download started over: the stream is not the blob */
	int rc;		/* the extraction's result, once joined */
	struct plate_error *error;
};

/* Large enough that the download does not wait on every scheduling hiccup of the
 * extraction; pipe-max-size (1 MiB by default) caps it for unprivileged processes. */
#define STREAM_PIPE_SIZE (1 << 20)

static void *stream_extract(void *data)
{
	struct stream *st = data;
	char buf[16384];

	st->rc = store_snapshot_writer_extract(st->sw, st->rfd, &st->error);
	/* Read to the end whatever happened, so the download never writes into a pipe
	 * without a reader (no SIGPIPE, no error but its own). */
	for (;;) {
		ssize_t n = read(st->rfd, buf, sizeof(buf));
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		break;
	}
	return NULL;
}

/* Ends the stream (EOF for the extraction) and waits for the extraction. */
static void stream_close(struct stream *st)
{
	if (st->wfd >= 0) {
		close(st->wfd);
		st->wfd = -1;
	}
	if (st->running) {
		pthread_join(st->thread, NULL);
		st->running = false;
	}
	if (st->rfd >= 0) {
		close(st->rfd);
		st->rfd = -1;
	}
}

/* Starts the extraction thread; on failure (no pipe, no thread) the layer is just not
 * streamed: the caller extracts it from the file. */
static void stream_start(struct stream *st)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	(void)fcntl(fds[1], F_SETPIPE_SZ, STREAM_PIPE_SIZE);
	st->rfd = fds[0];
	st->wfd = fds[1];
	if (pthread_create(&st->thread, NULL, stream_extract, st) != 0) {
		stream_close(st);
		return;
	}
	st->running = st->streamed = true;
}

static int stream_write(struct stream *st, const char *buf, size_t len, struct plate_error **err)
{
	if (write_all(st->wfd, buf, len) < 0)
		return plate_err_new(err, errno, "cannot feed the extraction");
	return 0;
}

struct writer_sink {
	struct puller *p;
	const struct pull_layer *l;
	struct store_blob_writer *w;
	struct stream st;
	uint64_t n;
};

static int ws_write(void *data, const void *buf, size_t len, struct plate_error **err)
{
	struct writer_sink *s = data;

	if (__atomic_load_n(&s->p->stop, __ATOMIC_RELAXED))
		return plate_err_new(err, ECANCELED, "pull stopped");
	if (store_blob_writer_write(s->w, buf, len, err) < 0 ||
	    (s->st.wfd >= 0 && stream_write(&s->st, buf, len, err) < 0))
		return -1;
	s->n += len;
	return 0;
}

static int ws_open(struct writer_sink *s, struct plate_error **err)
{
	int r;

	pthread_mutex_lock(&s->p->txn_lock);
	r = store_txn_blob_writer(s->p->txn, s->l->d->digest, s->l->d->size, &s->w, err);
	pthread_mutex_unlock(&s->p->txn_lock);
	return r;
}

/* The download starts over: so does the blob writer, and the stream is abandoned. */
static int ws_reset(void *data, struct plate_error **err)
{
	struct writer_sink *s = data;

	s->st.abandoned = true;
	stream_close(&s->st);
	pthread_mutex_lock(&s->p->txn_lock);
	store_blob_writer_free(s->w);
	s->w = NULL;
	pthread_mutex_unlock(&s->p->txn_lock);
	return ws_open(s, err);
}

/* Downloads a layer into the store, extracting it on the way; *extracted tells whether
 * its snapshot is staged (else the caller extracts it from the stored blob). */
static int fetch_into_store(struct puller *p, struct registry_client *c, const struct pull_layer *l,
			    bool *extracted, struct plate_error **err)
{
	struct writer_sink s = { .p = p, .l = l, .st = { .rfd = -1, .wfd = -1 } };
	struct registry_sink sink = { .write = ws_write, .reset = ws_reset, .data = &s };
	const struct oci_descriptor *d = l->d;
	int r;

	*extracted = false;
	if (d->size < 0)
		return plate_err_new(err, EINVAL, "blob '%s' has a negative size", d->digest);
	if (ws_open(&s, err) < 0)
		return -1;
	pthread_mutex_lock(&p->txn_lock);
	r = store_txn_snapshot_writer(p->txn, d->digest, l->diff_id, &s.st.sw, err);
	pthread_mutex_unlock(&p->txn_lock);
	if (r == 0 && s.st.sw != NULL)
		stream_start(&s.st);
	if (r == 0)
		r = registry_fetch_blob(c, p->ref, d->digest, (uint64_t)d->size, 0, &sink, err);
	stream_close(&s.st);
	pthread_mutex_lock(&p->txn_lock);
	if (r == 0)
		r = store_blob_writer_finish(s.w, NULL, NULL, err);
	store_blob_writer_free(s.w);
	/* The blob's digest is good, so the bytes the extraction read were the blob. */
	if (r == 0 && s.st.streamed && !s.st.abandoned) {
		if (s.st.rc == 0) {
			r = store_snapshot_writer_commit(s.st.sw, err);
			*extracted = r == 0;
		} else {
			*err = steal_pointer(&s.st.error);
			r = -1;
		}
	}
	store_snapshot_writer_free(s.st.sw);
	pthread_mutex_unlock(&p->txn_lock);
	plate_error_free(s.st.error);
	if (r == 0) {
		pthread_mutex_lock(&p->q_lock);
		p->res->transferred++;
		p->res->bytes += s.n;
		pthread_mutex_unlock(&p->q_lock);
		blob_done(p->o, d, "fetched");
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

	if (registry_client_new(&p->reg, &c, &err) < 0) {
		fail(p, &err);
		return NULL;
	}
	for (;;) {
		struct pull_layer *l = NULL;
		bool extracted;

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
		if (fetch_into_store(p, c, l, &extracted, &err) < 0) {
			plate_err_wrap(&err, "layer '%s'", l->d->digest);
			fail(p, &err);
			break;
		}
		pthread_mutex_lock(&p->q_lock);
		l->state = extracted ? LAYER_DONE : LAYER_READY;
		pthread_cond_broadcast(&p->q_cond);
		pthread_mutex_unlock(&p->q_lock);
	}
	registry_client_free(c);
	return NULL;
}

/* Extracts a layer from its staged or stored blob, holding the transaction only to
 * prepare and to commit, so that downloads go on meanwhile. */
static int extract_stored(struct puller *p, const struct pull_layer *l, struct plate_error **err)
{
	struct store_snapshot_writer *sw = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	pthread_mutex_lock(&p->txn_lock);
	r = store_txn_snapshot_writer(p->txn, l->d->digest, l->diff_id, &sw, err);
	if (r == 0 && sw != NULL && store_txn_blob_open(p->txn, l->d->digest, &fd, NULL, err) < 0)
		r = plate_err_wrap(err, "layer '%s'", l->d->digest);
	pthread_mutex_unlock(&p->txn_lock);
	if (r < 0 || sw == NULL) {
		store_snapshot_writer_free(sw);
		return r;
	}
	r = store_snapshot_writer_extract(sw, fd, err);
	pthread_mutex_lock(&p->txn_lock);
	if (r == 0)
		r = store_snapshot_writer_commit(sw, err);
	store_snapshot_writer_free(sw);
	pthread_mutex_unlock(&p->txn_lock);
	return r;
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
		r = extract_stored(p, l, err);
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
static int fetch_small(struct registry_client *c, struct puller *p, const struct oci_descriptor *d,
		       size_t max, char **data, size_t *len, struct plate_error **err)
{
	struct buf_sink s = { .b = BUF_INIT(max) };
	struct registry_sink sink = { .write = bs_write, .reset = bs_reset, .data = &s };

	if (d->size < 0 || (uint64_t)d->size > max) {
		buf_release(&s.b);
		return plate_err_new(err, E2BIG, "blob '%s' is larger than %zu bytes", d->digest,
				     max);
	}
	if (registry_fetch_blob(c, p->ref, d->digest, (uint64_t)d->size, max, &sink, err) < 0 ||
	    store_txn_add_blob(p->txn, s.b.data, s.b.len, NULL, err) < 0) {
		buf_release(&s.b);
		return -1;
	}
	p->res->transferred++;
	p->res->bytes += s.b.len;
	*data = buf_detach(&s.b, len);
	blob_done(p->o, d, "fetched");
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
		const struct oci_media_type *t =
			oci_media_type_lookup(idx->manifests[i].media_type);
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

/* The image manifest idx lists for platform, fetched by digest into m. */
static int get_platform_manifest(struct registry_client *c, const struct oci_reference *ref,
				 const struct oci_index *idx, const char *platform,
				 struct registry_manifest *m, struct plate_error **err)
{
	const struct oci_media_type *t;
	const struct oci_descriptor *d;
	struct oci_reference by_digest;

	if (transfer_pick_platform(idx, platform, &d, err) < 0)
		return -1;
	by_digest = (struct oci_reference){ .domain = ref->domain,
					    .path = ref->path,
					    .digest = d->digest };
	if (registry_get_manifest(c, &by_digest, m, err) < 0)
		return -1;
	t = oci_media_type_lookup(m->media_type);
	if (t == NULL || t->kind != OCI_KIND_MANIFEST)
		return plate_err_new(err, ENOTSUP, "'%s' in the index is not an image manifest",
				     d->digest);
	/* The store reads a child by the media type its index gives (walk, resolve, push). */
	if (strcmp(m->media_type, d->media_type) != 0)
		return plate_err_new(err, EINVAL, "manifest '%s' is '%s', its index says '%s'",
				     d->digest, m->media_type, d->media_type);
	return 0;
}

/* Fetches ref's root document into m: an image manifest, or an index (OCI, or a Docker
 * manifest list: the same shape) whose platforms pull_index() fetches. */
static int get_root(struct registry_client *c, const struct oci_reference *ref,
		    struct registry_manifest *m, struct plate_error **err)
{
	const struct oci_media_type *t;

	if (registry_get_manifest(c, ref, m, err) < 0)
		return -1;
	t = oci_media_type_lookup(m->media_type);
	if (t == NULL || (t->kind != OCI_KIND_INDEX && t->kind != OCI_KIND_MANIFEST))
		return plate_err_new(err, ENOTSUP, "manifest of media type '%s' is not supported",
				     m->media_type);
	return 0;
}

static bool is_index_type(const char *media_type)
{
	const struct oci_media_type *t = oci_media_type_lookup(media_type);

	return t != NULL && t->kind == OCI_KIND_INDEX;
}

/* 0 (pinned) when the store has the blob, 1 when it must be fetched. */
static int pin_or_fetch(struct puller *p, const struct oci_descriptor *d, struct plate_error **err)
{
	if (store_txn_has_blob(p->txn, d->digest))
		return store_txn_pin(p->txn, d->digest, err);
	return 1;
}

/* Fetches an image manifest's config and layers into the transaction. */
static int pull_image(struct puller *p, struct registry_client *c, struct registry_manifest *rm,
		      struct plate_error **err)
{
	_cleanup_free_ char *config_data = NULL;
	struct oci_manifest m = { 0 };
	struct oci_config cfg = { 0 };
	size_t config_len = 0;
	int r = -1, have;

	if (oci_manifest_parse(rm->data, rm->len, 0, &m, err) < 0 ||
	    store_txn_add_blob(p->txn, rm->data, rm->len, NULL, err) < 0)
		goto out;
	if (p->o->progress) {
		struct transfer_event ev = { .type = TRANSFER_EVENT_MANIFEST,
					     .digest = rm->digest,
					     .size = rm->len };
		p->o->progress(p->o->progress_data, &ev);
	}
	p->res->blobs += (unsigned)m.n_layers + 1;
	if ((have = pin_or_fetch(p, &m.config, err)) < 0)
		goto out;
	if (have == 0) {
		if (store_blob_read(p->o->store, m.config.digest, OCI_MAX_CONFIG_SIZE, &config_data,
				    &config_len, err) < 0)
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
	free(p->layers);
	p->next = 0;
	p->layers = calloc(m.n_layers ? m.n_layers : 1, sizeof(*p->layers));
	if (p->layers == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	p->n_layers = m.n_layers;
	for (size_t i = 0; i < m.n_layers; i++) {
		p->layers[i] =
			(struct pull_layer){ .d = &m.layers[i], .diff_id = cfg.diff_ids.v[i] };
		if ((have = pin_or_fetch(p, &m.layers[i], err)) < 0)
			goto out;
		if (have == 0) {
			p->layers[i].state = LAYER_READY;
			blob_done(p->o, &m.layers[i], "present");
		}
	}
	r = pull_layers(p, err);
out:
	oci_config_release(&cfg);
	oci_manifest_release(&m);
	return r;
}

/* Keeps the registry's index and fetches the image of each platform asked for; the other
 * platforms' manifests stay absent (a partial index, see store.md), or present when an
 * earlier pull of the same index fetched them. */
static int pull_index(struct puller *p, struct registry_client *c, struct registry_manifest *ri,
		      const struct oci_strings *platforms, struct plate_error **err)
{
	struct oci_index idx;
	int r = -1;

	if (oci_index_parse(ri->data, ri->len, 0, &idx, err) < 0)
		return -1;
	if (store_txn_add_blob(p->txn, ri->data, ri->len, NULL, err) < 0)
		goto out;
	for (size_t i = 0; i < platforms->n; i++) {
		struct registry_manifest m = { 0 };
		int rr = get_platform_manifest(c, p->ref, &idx, platforms->v[i], &m, err);

		if (rr == 0)
			rr = pull_image(p, c, &m, err);
		registry_manifest_release(&m);
		if (rr < 0)
			goto out;
	}
	r = 0;
out:
	oci_index_release(&idx);
	return r;
}

/* Names the root (an image manifest or an index) with the digest the registry answered
 * with, under the repository it came from: what inspect shows as RepoDigests (a local tag
 * or build has none). */
static int tag_root(struct puller *p, struct registry_manifest *rm, const char *name,
		    struct plate_error **err)
{
	_cleanup_free_ char *repo_digest = NULL;
	struct oci_descriptor root = { .media_type = rm->media_type,
				       .digest = rm->digest,
				       .size = (int64_t)rm->len };
	int r;

	if (asprintf(&repo_digest, "%s/%s@%s", p->ref->domain, p->ref->path, rm->digest) < 0) {
		repo_digest = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	r = oci_map_set(&root.annotations, STORE_ANNOTATION_REPO_DIGEST, repo_digest, err) < 0 ||
			    store_txn_tag_image(p->txn, name, &root, err) < 0
		    ? -1
		    : 0;
	oci_map_release(&root.annotations);
	return r;
}

/* The index name has in the store now, to tell an added platform from a replaced index;
 * "" when it has none (an image manifest, as an older plate stored, is no index replaced). */
static void stored_root(struct store *s, const char *name, char out[DIGEST_STRING_LEN + 1])
{
	_cleanup_error_ struct plate_error *ignored = NULL;
	struct store_image *img = NULL;

	out[0] = '\0';
	if (name != NULL && store_image_resolve(s, name, NULL, &img, &ignored) == 0 &&
	    is_index_type(img->root.media_type))
		snprintf(out, DIGEST_STRING_LEN + 1, "%s", img->root.digest);
	store_image_free(img);
}

/* The platforms of index data whose manifests the store holds. */
static int present_platforms(struct store *s, const struct registry_manifest *ri,
			     struct oci_strings *out, struct plate_error **err)
{
	struct oci_index idx;
	int r = 0;

	if (oci_index_parse(ri->data, ri->len, 0, &idx, err) < 0)
		return -1;
	for (size_t i = 0; i < idx.n_manifests && r == 0; i++) {
		const struct oci_platform *pl = idx.manifests[i].platform;
		_cleanup_free_ char *text = NULL;

		if (pl == NULL || pl->os == NULL || pl->architecture == NULL ||
		    !store_blob_exists(s, idx.manifests[i].digest))
			continue;
		if (asprintf(&text, "%s/%s%s%s", pl->os, pl->architecture, pl->variant ? "/" : "",
			     pl->variant ? pl->variant : "") < 0) {
			text = NULL;
			r = plate_err_new(err, ENOMEM, "out of memory");
		} else {
			r = oci_strings_add(out, text, err);
		}
	}
	oci_index_release(&idx);
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
	struct oci_strings platforms = { 0 };
	char before[DIGEST_STRING_LEN + 1] = "";
	char *digest_saved;
	bool is_index;
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
	transfer_registry_options(o, &p.reg);
	if (oci_platforms_parse(o->platform ? o->platform : "linux/amd64", &platforms, err) < 0 ||
	    registry_client_new(&p.reg, &c, err) < 0 || get_root(c, &ref, &rm, err) < 0) {
		plate_err_wrap(err, "pull '%s'", reference);
		goto out;
	}
	is_index = is_index_type(rm.media_type);
	if (is_index)
		stored_root(o->store, res.name, before);
	if (store_txn_begin(o->store, &p.txn, err) < 0 ||
	    (is_index ? pull_index(&p, c, &rm, &platforms, err) : pull_image(&p, c, &rm, err)) <
		    0 ||
	    tag_root(&p, &rm, res.name, err) < 0 || store_txn_commit(p.txn, err) < 0 ||
	    (is_index && present_platforms(o->store, &rm, &res.platforms, err) < 0)) {
		plate_err_wrap(err, "pull '%s'", reference);
		goto out;
	}
	res.replaced = before[0] != '\0' && strcmp(before, rm.digest) != 0;
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
	oci_strings_release(&platforms);
	oci_reference_release(&ref);
	return r;
}
