/*
 * gzip: a multi-member stream (RFC 1952 section 2.2: "a gzip file consists of a series of
 * members") of independently compressed 1 MiB chunks of the tar stream.  Chunks are
 * compressed by worker threads with libdeflate and written strictly in order, so the
 * output depends only on the input, the level and the chunk size, never on timing or
 * on the number of threads.  libdeflate writes MTIME 0, no FNAME and OS 255 (unknown).
 * Readers (Go's compress/gzip with multistream on by default, containerd, docker,
 * gzip -d, zcat, Python's gzip) concatenate the members.
 *
 * Decoding uses ISA-L's streaming inflate (igzip) and accepts any number of members;
 * bytes after the last member that are not another member are an error, as in Go's
 * reader.
 */
#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "layer/layer_internal.h"

#define GZ_CHUNK (1024 * 1024)
#define GZ_DEFAULT_LEVEL 6
#define GZ_MAX_THREADS 16

enum gz_slot_state {
	SLOT_FREE,
	SLOT_QUEUED,
	SLOT_RUNNING,
	SLOT_DONE
};

struct gz_slot {
	unsigned char *in;
	size_t in_len;
	unsigned char *out;
	size_t out_len; /* 0 after a failed compression */
	enum gz_slot_state state;
};

struct gz_worker {
	struct gz *gz;
	struct libdeflate_compressor *c;
	pthread_t thread;
	bool started;
};

struct gz {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a slot was queued, or stop */
	pthread_cond_t done; /* a slot is DONE */
	struct gz_slot *slots;
	size_t n_slots;
	size_t fill;   /* the slot the producer fills; FREE while being filled */
	size_t oldest; /* the next slot whose output is due */
	size_t out_cap;
	bool stop;
	bool emitted; /* at least one member was written */
	struct gz_worker *workers;
	unsigned n_workers;
};

static void *gz_worker_main(void *arg)
{
	struct gz_worker *wk = arg;
	struct gz *gz = wk->gz;

	pthread_mutex_lock(&gz->mu);
	for (;;) {
		struct gz_slot *slot = NULL;
		/* The earliest queued slot first, so output is never starved by later chunks. */
		for (size_t k = 0; k < gz->n_slots; k++) {
			struct gz_slot *cand = &gz->slots[(gz->oldest + k) % gz->n_slots];
			if (cand->state == SLOT_QUEUED) {
				slot = cand;
				break;
			}
		}
		if (slot == NULL) {
			if (gz->stop)
				break;
			pthread_cond_wait(&gz->work, &gz->mu);
			continue;
		}
		slot->state = SLOT_RUNNING;
		pthread_mutex_unlock(&gz->mu);
		size_t n = libdeflate_gzip_compress(wk->c, slot->in, slot->in_len, slot->out,
						    gz->out_cap);
		pthread_mutex_lock(&gz->mu);
		slot->out_len = n;
		slot->state = SLOT_DONE;
		pthread_cond_broadcast(&gz->done);
	}
	pthread_mutex_unlock(&gz->mu);
	return NULL;
}

/* Writes finished chunks in order.  Waits for the oldest chunk while `wait_all` is set or
 * while the slot the producer wants to fill next is still in use. */
static int gz_retire(struct layer_stage *s, struct gz *gz, bool wait_all, struct plate_error **err)
{
	for (;;) {
		struct gz_slot *slot = &gz->slots[gz->oldest];

		pthread_mutex_lock(&gz->mu);
		for (;;) {
			bool needed = wait_all || gz->slots[gz->fill].state != SLOT_FREE;
			if (slot->state == SLOT_FREE || slot->state == SLOT_DONE || !needed)
				break;
			pthread_cond_wait(&gz->done, &gz->mu);
		}
		enum gz_slot_state state = slot->state;
		pthread_mutex_unlock(&gz->mu);
		if (state != SLOT_DONE)
			return 0;
		if (slot->out_len == 0)
			return plate_err_new(err, EIO, "gzip compression failed");
		if (layer_stage_write(s->next, slot->out, slot->out_len, err) < 0)
			return -1;
		gz->emitted = true;
		pthread_mutex_lock(&gz->mu);
		slot->state = SLOT_FREE;
		slot->in_len = 0;
		gz->oldest = (gz->oldest + 1) % gz->n_slots;
		pthread_mutex_unlock(&gz->mu);
	}
}

static int gz_queue(struct layer_stage *s, struct gz *gz, struct plate_error **err)
{
	struct gz_slot *slot = &gz->slots[gz->fill];

	if (slot->out == NULL && (slot->out = malloc(gz->out_cap)) == NULL)
		return plate_err_new(err, ENOMEM, "cannot allocate a gzip buffer");
	if (slot->in == NULL && (slot->in = malloc(1)) == NULL)
		return plate_err_new(err, ENOMEM, "cannot allocate a gzip buffer");
	pthread_mutex_lock(&gz->mu);
	gz->slots[gz->fill].state = SLOT_QUEUED;
	gz->fill = (gz->fill + 1) % gz->n_slots;
	pthread_cond_signal(&gz->work);
	pthread_mutex_unlock(&gz->mu);
	return gz_retire(s, gz, false, err);
}

static int gz_write(struct layer_stage *s, const void *buf, size_t len, struct plate_error **err)
{
	struct gz *gz = s->data;
	const unsigned char *p = buf;

	while (len > 0) {
		struct gz_slot *slot = &gz->slots[gz->fill];
		/* Buffers are allocated on first use: a small layer touches one slot only. */
		if (slot->in == NULL && (slot->in = malloc(GZ_CHUNK)) == NULL)
			return plate_err_new(err, ENOMEM, "cannot allocate a gzip buffer");
		size_t n = GZ_CHUNK - slot->in_len;
		if (n > len)
			n = len;
		memcpy(slot->in + slot->in_len, p, n);
		slot->in_len += n;
		p += n;
		len -= n;
		if (slot->in_len == GZ_CHUNK && gz_queue(s, gz, err) < 0)
			return -1;
	}
	return 0;
}

static int gz_close(struct layer_stage *s, struct plate_error **err)
{
	struct gz *gz = s->data;
	bool pending;

	pthread_mutex_lock(&gz->mu);
	pending = gz->slots[gz->oldest].state != SLOT_FREE;
	pthread_mutex_unlock(&gz->mu);
	/* An empty input still needs one (empty) member to be a valid gzip file. */
	if ((gz->slots[gz->fill].in_len > 0 || (!gz->emitted && !pending)) &&
	    gz_queue(s, gz, err) < 0)
		return -1;
	return gz_retire(s, gz, true, err);
}

static void gz_free(struct layer_stage *s)
{
	struct gz *gz = s->data;

	if (gz == NULL)
		return;
	pthread_mutex_lock(&gz->mu);
	gz->stop = true;
	pthread_cond_broadcast(&gz->work);
	pthread_mutex_unlock(&gz->mu);
	for (unsigned i = 0; i < gz->n_workers; i++) {
		if (gz->workers[i].started)
			pthread_join(gz->workers[i].thread, NULL);
		if (gz->workers[i].c != NULL)
			libdeflate_free_compressor(gz->workers[i].c);
	}
	for (size_t i = 0; i < gz->n_slots; i++) {
		free(gz->slots[i].in);
		free(gz->slots[i].out);
	}
	free(gz->slots);
	free(gz->workers);
	pthread_cond_destroy(&gz->work);
	pthread_cond_destroy(&gz->done);
	pthread_mutex_destroy(&gz->mu);
	free(gz);
}

static const struct layer_stage_ops gz_stage_ops = {
	.name = "gzip",
	.write = gz_write,
	.close = gz_close,
	.free = gz_free,
};

int layer_gzip_stage_new(const struct layer_compress_params *p, struct layer_stage **out,
			 struct plate_error **err)
{
	int level = p->level != 0 ? p->level : GZ_DEFAULT_LEVEL;
	unsigned threads = p->threads;
	struct layer_stage *s;
	struct gz *gz;

	if (level < 1 || level > 12)
		return plate_err_new(err, EINVAL, "gzip level %d is out of range 1-12", level);
	if (threads < 1)
		threads = 1;
	if (threads > GZ_MAX_THREADS)
		threads = GZ_MAX_THREADS;
	gz = calloc(1, sizeof(*gz));
	if (gz == NULL)
		return plate_err_new(err, ENOMEM, "cannot allocate the gzip stage");
	pthread_mutex_init(&gz->mu, NULL);
	pthread_cond_init(&gz->work, NULL);
	pthread_cond_init(&gz->done, NULL);
	s = layer_stage_new(&gz_stage_ops, gz, err);
	if (s == NULL)
		return -1;

	/* Two slots per worker: one being compressed while the producer fills the other. */
	gz->slots = calloc(2 * (size_t)threads, sizeof(*gz->slots));
	gz->workers = calloc(threads, sizeof(*gz->workers));
	if (gz->slots == NULL || gz->workers == NULL)
		goto nomem;
	gz->n_slots = 2 * (size_t)threads;
	gz->n_workers = threads;
	for (unsigned i = 0; i < threads; i++) {
		gz->workers[i].gz = gz;
		gz->workers[i].c = libdeflate_alloc_compressor(level);
		if (gz->workers[i].c == NULL)
			goto nomem;
	}
	gz->out_cap = libdeflate_gzip_compress_bound(gz->workers[0].c, GZ_CHUNK);
	for (unsigned i = 0; i < threads; i++) {
		int r = pthread_create(&gz->workers[i].thread, NULL, gz_worker_main,
				       &gz->workers[i]);
		if (r != 0) {
			layer_chain_free(s);
			return plate_err_new(err, r, "cannot start a gzip thread");
		}
		gz->workers[i].started = true;
	}
	*out = s;
	return 0;
nomem:
	layer_chain_free(s);
	return plate_err_new(err, ENOMEM, "cannot allocate the gzip buffers");
}

/* ---- decoder --------------------------------------------------------------------------- */

/* ISA-L's igzip inflate: 2-3x zlib's speed on x86-64 (AVX2/AVX-512 decoding), which is
 * most of the reader thread's time for a gzip layer.  With crc_flag ISAL_GZIP it parses
 * the member header and checks the trailer's CRC-32 and ISIZE against the output
 * (ISAL_INCORRECT_CHECKSUM otherwise).  A member ends in state ISAL_BLOCK_FINISH with
 * next_in just past its trailer; the next member starts from a reset state on the rest. */
struct gz_dec {
	struct inflate_state st;
	bool in_member;
	unsigned long long members;
	size_t magic_seen; /* bytes of the current member's ID1 ID2 checked so far */
};

static const char *isal_message(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK:
		return "invalid block";
	case ISAL_INVALID_SYMBOL:
		return "invalid code";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance";
	case ISAL_INVALID_WRAPPER:
		return "bad header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unknown compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "crc or length mismatch";
	case ISAL_NEED_DICT:
		return "needs a dictionary";
	default:
		return "inflate error";
	}
}

static int gz_decode(struct layer_decoder *d, const unsigned char **in, size_t *in_len,
		     unsigned char *out, size_t out_cap, size_t *produced, struct plate_error **err)
{
	struct gz_dec *g = d->data;
	int r;

	*produced = 0;
	if (*in_len == 0 && !g->in_member)
		return 0;
	if (!g->in_member) {
		isal_inflate_reset(&g->st);
		g->st.crc_flag = ISAL_GZIP;
		g->in_member = true;
		g->magic_seen = 0;
	}
	/* ISA-L judges a header only once it has all of it, so a few bytes of trailing garbage
	 * would pass for a truncated member: check ID1 ID2 (RFC 1952 2.3.1) byte by byte, as
	 * zlib, Go and gzip -d do. */
	for (size_t i = 0; g->members > 0 && g->magic_seen < 2 && i < *in_len; i++)
		if ((*in)[i] != (g->magic_seen++ == 0 ? 0x1f : 0x8b))
			return plate_err_new(err, EINVAL,
					     "gzip: data after member %llu is not a gzip member "
					     "(bad header)",
					     g->members);
	g->st.next_in = (uint8_t *)*in;
	g->st.avail_in = *in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)*in_len;
	g->st.next_out = out;
	g->st.avail_out = out_cap > UINT32_MAX ? UINT32_MAX : (uint32_t)out_cap;
	r = isal_inflate(&g->st);
	*produced = (size_t)(g->st.next_out - out);
	*in_len -= (size_t)(g->st.next_in - *in);
	*in = g->st.next_in;
	if (r < 0) {
		/* A header refused before any output of the member: what follows the last
		 * member is not a member (Go's reader: "gzip: invalid header"). */
		if (g->members > 0 && g->st.total_out == 0 &&
		    (r == ISAL_INVALID_WRAPPER || r == ISAL_UNSUPPORTED_METHOD))
			return plate_err_new(err, EINVAL,
					     "gzip: data after member %llu is not a gzip member "
					     "(%s)",
					     g->members, isal_message(r));
		return plate_err_new(err, EINVAL, "gzip: corrupt data in member %llu (%s)",
				     g->members + 1, isal_message(r));
	}
	if (g->st.block_state == ISAL_BLOCK_FINISH) {
		g->in_member = false;
		g->members++;
	}
	return 0;
}

static int gz_finish(struct layer_decoder *d, struct plate_error **err)
{
	struct gz_dec *g = d->data;

	if (g->in_member)
		return plate_err_new(err, EINVAL, "gzip: truncated stream (member %llu incomplete)",
				     g->members + 1);
	if (g->members == 0)
		return plate_err_new(err, EINVAL, "gzip: empty stream");
	return 0;
}

static void gz_decoder_free(struct layer_decoder *d)
{
	free(d->data);
	free(d);
}

static const struct layer_decoder_ops gz_decoder_ops = {
	.decode = gz_decode,
	.finish = gz_finish,
	.free = gz_decoder_free,
};

int layer_gzip_decoder_new(struct layer_decoder **out, struct plate_error **err)
{
	struct layer_decoder *d = calloc(1, sizeof(*d));
	struct gz_dec *g = calloc(1, sizeof(*g));

	if (d == NULL || g == NULL) {
		free(d);
		free(g);
		return plate_err_new(err, ENOMEM, "cannot allocate the gzip decoder");
	}
	isal_inflate_init(&g->st);
	d->ops = &gz_decoder_ops;
	d->data = g;
	*out = d;
	return 0;
}
