/*
 * A stored uncompressed layer compressed on its way out of the store.  The tar bytes go
 * through the same chain as the layer writer's (sha256 -> compressor -> sha256 -> fd), and
 * the compressors' output depends only on their input, level and chunk size: the blob is
 * byte for byte the one the writer makes from the layer's tree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/layer_internal.h"

#define CONVERT_BUFFER (1024 * 1024)

int layer_compress_tar(int in_fd, int out_fd, const struct layer_writer_options *opts,
		       struct layer_result *result, struct plate_error **err)
{
	const char *name = opts != NULL && opts->compression != NULL ? opts->compression
								     : LAYER_DEFAULT_COMPRESSION;
	const struct layer_compressor *c = layer_compressor_find(name);
	struct layer_compress_params params = {
		.level = opts != NULL ? opts->level : 0,
		.threads = opts != NULL && opts->threads != 0 ? opts->threads : 2,
	};
	struct layer_stage *diff = NULL, *comp = NULL, *digest = NULL, *fd_stage = NULL;
	_cleanup_free_ unsigned char *buf = NULL;
	unsigned long long bytes;
	int r = -1;

	if (c == NULL)
		return plate_err_new(err, EINVAL, "unknown compression '%s'", name);
	if ((buf = malloc(CONVERT_BUFFER)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if ((diff = layer_stage_digest_new(err)) == NULL)
		goto out;
	if (c->stage_new(&params, &comp, err) < 0)
		goto out;
	diff->next = comp;
	if ((digest = layer_stage_digest_new(err)) == NULL)
		goto out;
	comp->next = digest;
	if ((fd_stage = layer_stage_fd_new(out_fd, err)) == NULL)
		goto out;
	digest->next = fd_stage;
	if (layer_chain_open(diff, err) < 0)
		goto out;
	for (;;) {
		ssize_t n = read(in_fd, buf, CONVERT_BUFFER);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			plate_err_new(err, errno, "cannot read the layer");
			goto out;
		}
		if (n == 0)
			break;
		if (layer_stage_write(diff, buf, (size_t)n, err) < 0)
			goto out;
	}
	if (layer_chain_close(diff, err) < 0)
		goto out;
	memset(result, 0, sizeof(*result));
	layer_stage_digest_result(diff, result->diff_id, &bytes);
	result->uncompressed_size = bytes;
	layer_stage_digest_result(digest, result->digest, &bytes);
	result->size = bytes;
	result->compression = c->name;
	r = 0;
out:
	layer_chain_free(diff);
	return r;
}
