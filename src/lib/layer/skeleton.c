/* Temporary skeleton: every entry point reports ENOSYS until its implementation lands. */
#include <errno.h>
#include <string.h>

#include "layer/layer.h"













int layer_reader_new(int in_fd, const struct layer_reader_options *opts,
		     struct layer_reader **out, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer reader not implemented yet");
}

int layer_reader_next(struct layer_reader *r, struct layer_entry *e, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer reader not implemented yet");
}

ssize_t layer_reader_read(struct layer_reader *r, void *buf, size_t len, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer reader not implemented yet");
}

int layer_reader_finish(struct layer_reader *r, struct layer_result *result,
			struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer reader not implemented yet");
}

void layer_reader_free(struct layer_reader *r)
{
}

int layer_extract(int in_fd, int target_dirfd, const struct layer_extract_options *opts,
		  struct layer_extract_result *result, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer extraction not implemented yet");
}
