/* Temporary skeleton: every entry point reports ENOSYS until its implementation lands. */
#include <errno.h>
#include <string.h>

#include "layer/layer.h"

bool layer_compression_is_known(const char *name)
{
	return name != NULL && (strcmp(name, "gzip") == 0 || strcmp(name, "zstd") == 0 ||
				strcmp(name, "none") == 0);
}

const char *layer_compression_media_type(const char *name)
{
	if (name == NULL)
		return NULL;
	if (strcmp(name, "gzip") == 0)
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	if (strcmp(name, "zstd") == 0)
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	if (strcmp(name, "none") == 0)
		return "application/vnd.oci.image.layer.v1.tar";
	return NULL;
}

int layer_path_compare(const char *a, const char *b)
{
	return strcmp(a, b);
}

int layer_path_clean(const char *in, size_t len, unsigned flags, char *out, size_t out_size,
		     struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer_path_clean not implemented yet");
}

int layer_writer_new(int out_fd, const struct layer_writer_options *opts,
		     struct layer_writer **out, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer writer not implemented yet");
}

int layer_writer_add(struct layer_writer *w, const struct layer_entry *e, int content_fd,
		     struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer writer not implemented yet");
}

int layer_writer_add_data(struct layer_writer *w, const struct layer_entry *e, const void *data,
			  size_t len, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer writer not implemented yet");
}

int layer_writer_add_whiteout(struct layer_writer *w, const char *path, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer writer not implemented yet");
}

int layer_writer_add_opaque(struct layer_writer *w, const char *dir, struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer writer not implemented yet");
}

int layer_writer_add_tree(struct layer_writer *w, int dirfd, const char *prefix, unsigned flags,
			  struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer writer not implemented yet");
}

int layer_writer_finish(struct layer_writer *w, struct layer_result *result,
			struct plate_error **err)
{
	return plate_err_new(err, ENOSYS, "layer writer not implemented yet");
}

void layer_writer_free(struct layer_writer *w)
{
}

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
