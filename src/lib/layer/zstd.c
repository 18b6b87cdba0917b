/*
 * zstd (RFC 8878).  Compression uses libzstd's own worker threads (ZSTD_c_nbWorkers):
 * with nbWorkers >= 1 the output is the same whatever the number of workers (zstd.h,
 * "ZSTD_c_nbWorkers"), and the job size is pinned so that it does not depend on the
 * library's defaults for the level.  A content checksum is written, as the zstd CLI does.
 *
 * Decoding accepts concatenated frames (skippable frames included) and caps the window
 * at 2^LAYER_ZSTD_WINDOW_LOG_MAX bytes: a hostile frame header cannot make us allocate
 * more than that.
 */
#include <errno.h>
#include <stdlib.h>
#include <zstd.h>

#include "layer/layer_internal.h"

#define ZSTD_DEFAULT_LEVEL 3
#define LAYER_ZSTD_WINDOW_LOG_MAX 24
#define LAYER_ZSTD_JOB_SIZE (1024 * 1024)

struct zs {
	ZSTD_CCtx *cctx;
	void *out;
	size_t out_cap;
};

static int zs_flush(struct layer_stage *s, struct zs *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
		    struct plate_error **err)
{
	for (;;) {
		ZSTD_outBuffer out = { z->out, z->out_cap, 0 };
		size_t left = ZSTD_compressStream2(z->cctx, &out, in, mode);
		if (ZSTD_isError(left))
			return plate_err_new(err, EIO, "zstd: %s", ZSTD_getErrorName(left));
		if (layer_stage_write(s->next, z->out, out.pos, err) < 0)
			return -1;
		if (mode == ZSTD_e_continue ? in->pos == in->size : left == 0)
			return 0;
	}
}

static int zs_write(struct layer_stage *s, const void *buf, size_t len, struct plate_error **err)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	return zs_flush(s, s->data, &in, ZSTD_e_continue, err);
}

static int zs_close(struct layer_stage *s, struct plate_error **err)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };

	return zs_flush(s, s->data, &in, ZSTD_e_end, err);
}

static void zs_free(struct layer_stage *s)
{
	struct zs *z = s->data;

	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	free(z);
}

static const struct layer_stage_ops zs_stage_ops = {
	.name = "zstd",
	.write = zs_write,
	.close = zs_close,
	.free = zs_free,
};

static int zs_set(ZSTD_CCtx *c, ZSTD_cParameter p, int v, const char *what,
		  struct plate_error **err)
{
	size_t r = ZSTD_CCtx_setParameter(c, p, v);

	if (ZSTD_isError(r))
		return plate_err_new(err, EINVAL, "zstd: cannot set %s to %d: %s", what, v,
				     ZSTD_getErrorName(r));
	return 0;
}

int layer_zstd_stage_new(const struct layer_compress_params *p, struct layer_stage **out,
			 struct plate_error **err)
{
	int level = p->level != 0 ? p->level : ZSTD_DEFAULT_LEVEL;
	struct layer_stage *s;
	struct zs *z;

	if (level < 1 || level > ZSTD_maxCLevel())
		return plate_err_new(err, EINVAL, "zstd level %d is out of range 1-%d", level,
				     ZSTD_maxCLevel());
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return plate_err_new(err, ENOMEM, "cannot allocate the zstd stage");
	s = layer_stage_new(&zs_stage_ops, z, err);
	if (s == NULL)
		return -1;
	z->cctx = ZSTD_createCCtx();
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = malloc(z->out_cap);
	if (z->cctx == NULL || z->out == NULL) {
		layer_chain_free(s);
		return plate_err_new(err, ENOMEM, "cannot allocate the zstd compressor");
	}
	/* nbWorkers fails when libzstd was built without threads; the output would then
	 * differ from a threaded build, so say so rather than silently falling back. */
	if (zs_set(z->cctx, ZSTD_c_compressionLevel, level, "the level", err) < 0 ||
	    zs_set(z->cctx, ZSTD_c_checksumFlag, 1, "the checksum flag", err) < 0 ||
	    zs_set(z->cctx, ZSTD_c_nbWorkers, (int)(p->threads < 1 ? 1 : p->threads),
		   "the number of workers", err) < 0 ||
	    zs_set(z->cctx, ZSTD_c_jobSize, LAYER_ZSTD_JOB_SIZE, "the job size", err) < 0) {
		layer_chain_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

/* ---- decoder --------------------------------------------------------------------------- */

struct zs_dec {
	ZSTD_DCtx *dctx;
	size_t last; /* last ZSTD_decompressStream result: 0 at a frame boundary */
	bool any;
};

static int zs_decode(struct layer_decoder *d, const unsigned char **in, size_t *in_len,
		     unsigned char *out, size_t out_cap, size_t *produced, struct plate_error **err)
{
	struct zs_dec *z = d->data;
	ZSTD_inBuffer ib = { *in, *in_len, 0 };
	ZSTD_outBuffer ob = { out, out_cap, 0 };
	size_t r;

	*produced = 0;
	if (*in_len == 0 && z->last == 0)
		return 0;
	r = ZSTD_decompressStream(z->dctx, &ob, &ib);
	if (ZSTD_isError(r))
		return plate_err_new(err, EINVAL, "zstd: %s", ZSTD_getErrorName(r));
	z->last = r;
	z->any = true;
	*in += ib.pos;
	*in_len -= ib.pos;
	*produced = ob.pos;
	return 0;
}

static int zs_finish(struct layer_decoder *d, struct plate_error **err)
{
	struct zs_dec *z = d->data;

	if (!z->any)
		return plate_err_new(err, EINVAL, "zstd: empty stream");
	if (z->last != 0)
		return plate_err_new(err, EINVAL, "zstd: truncated stream");
	return 0;
}

static void zs_decoder_free(struct layer_decoder *d)
{
	struct zs_dec *z = d->data;

	ZSTD_freeDCtx(z->dctx);
	free(z);
	free(d);
}

static const struct layer_decoder_ops zs_decoder_ops = {
	.decode = zs_decode,
	.finish = zs_finish,
	.free = zs_decoder_free,
};

int layer_zstd_decoder_new(struct layer_decoder **out, struct plate_error **err)
{
	struct layer_decoder *d = calloc(1, sizeof(*d));
	struct zs_dec *z = calloc(1, sizeof(*z));

	if (d == NULL || z == NULL || (z->dctx = ZSTD_createDCtx()) == NULL) {
		free(d);
		free(z);
		return plate_err_new(err, ENOMEM, "cannot allocate the zstd decoder");
	}
	ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, LAYER_ZSTD_WINDOW_LOG_MAX);
	d->ops = &zs_decoder_ops;
	d->data = z;
	*out = d;
	return 0;
}
