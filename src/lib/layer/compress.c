/*
 * The compressor table, and the "none" compressor.  A new compressor is one file with a
 * stage and a decoder, plus one line here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layer/layer_internal.h"

/* RFC 1952 section 2.3.1 (ID1 ID2 CM=deflate); RFC 8878 section 3.1.1 (frame magic). */
static const unsigned char gzip_magic[] = { 0x1f, 0x8b, 0x08 };
static const unsigned char zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };

static const struct layer_compressor compressors[] = {
	{ "gzip", "application/vnd.oci.image.layer.v1.tar+gzip", gzip_magic, sizeof(gzip_magic),
	  layer_gzip_stage_new, layer_gzip_decoder_new },
	{ "zstd", "application/vnd.oci.image.layer.v1.tar+zstd", zstd_magic, sizeof(zstd_magic),
	  layer_zstd_stage_new, layer_zstd_decoder_new },
	{ "none", "application/vnd.oci.image.layer.v1.tar", NULL, 0, layer_none_stage_new,
	  layer_none_decoder_new },
};

const struct layer_compressor *layer_compressor_find(const char *name)
{
	for (size_t i = 0; i < sizeof(compressors) / sizeof(compressors[0]); i++)
		if (strcmp(compressors[i].name, name) == 0)
			return &compressors[i];
	return NULL;
}

/* POSIX.1-1988 section 10.1.1: chksum (offset 148, 8 bytes, octal) is the sum of the
 * header's bytes with chksum itself counted as spaces. */
static bool is_tar_header(const unsigned char *h)
{
	unsigned long want = 0, sum = 0;
	size_t i = 148;

	while (i < 156 && h[i] == ' ')
		i++;
	if (i == 156 || h[i] < '0' || h[i] > '7')
		return false;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		want = want * 8 + (unsigned long)(h[i] - '0');
	if (i < 156 && h[i] != ' ' && h[i] != '\0')
		return false;
	for (i = 0; i < LAYER_TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum == want;
}

const struct layer_compressor *layer_compressor_detect(const unsigned char *buf, size_t len)
{
	const struct layer_compressor *fallback = NULL;

	for (size_t i = 0; i < sizeof(compressors) / sizeof(compressors[0]); i++)
		if (compressors[i].magic == NULL)
			fallback = &compressors[i];
	/* A plain tar whose first name begins with a compressor's magic ("\x1f\x8b\x08...")
	 * is still a tar: a valid first header wins over the magic. */
	if (len >= LAYER_TAR_BLOCK && is_tar_header(buf))
		return fallback;
	for (size_t i = 0; i < sizeof(compressors) / sizeof(compressors[0]); i++) {
		const struct layer_compressor *c = &compressors[i];
		if (c->magic != NULL && len >= c->magic_len &&
		    memcmp(buf, c->magic, c->magic_len) == 0)
			return c;
	}
	return fallback;
}

bool layer_compression_is_known(const char *name)
{
	return name != NULL && layer_compressor_find(name) != NULL;
}

const char *layer_compression_media_type(const char *name)
{
	const struct layer_compressor *c = name != NULL ? layer_compressor_find(name) : NULL;

	return c != NULL ? c->media_type : NULL;
}

/* ---- none ------------------------------------------------------------------------------ */

static int none_write(struct layer_stage *s, const void *buf, size_t len, struct plate_error **err)
{
	return layer_stage_write(s->next, buf, len, err);
}

static void none_free(struct layer_stage *s)
{
}

static const struct layer_stage_ops none_stage_ops = {
	.name = "none",
	.write = none_write,
	.free = none_free,
};

int layer_none_stage_new(const struct layer_compress_params *p, struct layer_stage **out,
			 struct plate_error **err)
{
	struct layer_stage *s = layer_stage_new(&none_stage_ops, NULL, err);

	if (s == NULL)
		return -1;
	*out = s;
	return 0;
}

static int none_decode(struct layer_decoder *d, const unsigned char **in, size_t *in_len,
		       unsigned char *out, size_t out_cap, size_t *produced,
		       struct plate_error **err)
{
	size_t n = *in_len < out_cap ? *in_len : out_cap;

	memcpy(out, *in, n);
	*in += n;
	*in_len -= n;
	*produced = n;
	return 0;
}

static int none_finish(struct layer_decoder *d, struct plate_error **err)
{
	return 0;
}

static void none_decoder_free(struct layer_decoder *d)
{
	free(d);
}

static const struct layer_decoder_ops none_decoder_ops = {
	.decode = none_decode,
	.finish = none_finish,
	.free = none_decoder_free,
};

int layer_none_decoder_new(struct layer_decoder **out, struct plate_error **err)
{
	struct layer_decoder *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return plate_err_new(err, ENOMEM, "cannot allocate a decoder");
	d->ops = &none_decoder_ops;
	*out = d;
	return 0;
}
