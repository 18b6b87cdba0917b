/*
 * ADD's archive test.  BuildKit unpacks a local source when its content, decompressed if
 * moby's detection recognises gzip, bzip2, xz or zstd, starts with a tar header that Go's
 * archive/tar accepts (solver/llbsolver/file/unpack.go isArchivePath); anything else,
 * a gzip of a text file included, is copied as a file.  libarchive does the same test
 * here with exactly those four filters and the tar format only.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/output.h"
#include "layer/layer_internal.h"

static struct archive *open_filtered(int fd, bool raw)
{
	struct archive *a = layer_la.archive_read_new();

	if (a == NULL)
		return NULL;
	/* A filter missing from this libarchive is a failure, never a silent "not tar". */
	if (layer_la.archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    layer_la.archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
	    layer_la.archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    layer_la.archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    (raw ? layer_la.archive_read_support_format_raw(a)
		 : layer_la.archive_read_support_format_tar(a)) != ARCHIVE_OK ||
	    layer_la.archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
		layer_la.archive_read_free(a);
		return NULL;
	}
	return a;
}

enum layer_archive layer_archive_detect(int fd)
{
	enum layer_archive kind = LAYER_ARCHIVE_NONE;
	struct archive_entry *entry;
	struct archive *a;
	int dup_fd = dup(fd);

	/* Without libarchive there is no telling: DECODE sends the caller to
	 * layer_archive_decode(), whose error says why, rather than copying a tar as a file. */
	if (layer_la_load(NULL) < 0) {
		if (dup_fd >= 0)
			close(dup_fd);
		return LAYER_ARCHIVE_DECODE;
	}
	if (dup_fd < 0 || lseek(dup_fd, 0, SEEK_SET) < 0) {
		if (dup_fd >= 0)
			close(dup_fd);
		return LAYER_ARCHIVE_NONE;
	}
	a = open_filtered(dup_fd, false);
	if (a != NULL && layer_la.archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		switch (layer_la.archive_filter_code(a, 0)) {
		case ARCHIVE_FILTER_BZIP2:
		case ARCHIVE_FILTER_XZ:
			kind = LAYER_ARCHIVE_DECODE;
			break;
		default:
			kind = LAYER_ARCHIVE_DIRECT;
			break;
		}
	}
	if (a != NULL)
		layer_la.archive_read_free(a);
	close(dup_fd);
	lseek(fd, 0, SEEK_SET);
	return kind;
}

/* The limits of an incoming layer, applied to the decompressed stream as it grows: the
 * extraction that follows sees a plain tar (ratio 1), so a bzip2 or xz bomb is caught here
 * or not at all. */
static int check_limits(const struct layer_limits *l, unsigned long long out, unsigned long long in,
			struct plate_error **err)
{
	if (l == NULL)
		return 0;
	if (l->max_size != 0 && out > l->max_size)
		return plate_err_new(err, EFBIG,
				     "the archive expands to more than %llu bytes (raise the limit "
				     "with --max-layer-size)",
				     l->max_size);
	if (l->max_ratio != 0 && out > LAYER_RATIO_FLOOR && in > 0 && out / in >= l->max_ratio)
		return plate_err_new(err, EFBIG,
				     "the archive expands to more than %llu times its compressed "
				     "size (raise the limit with --max-layer-ratio)",
				     l->max_ratio);
	return 0;
}

int layer_archive_decode(int in_fd, int out_fd, const struct layer_limits *limits,
			 struct plate_error **err)
{
	struct archive_entry *entry;
	struct archive *a = NULL;
	char buf[1 << 16];
	unsigned long long out = 0, in = 0;
	struct stat st;
	int r = -1;

	if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
		in = (unsigned long long)st.st_size;
	if (layer_la_load(err) < 0)
		return -1;
	a = open_filtered(in_fd, true);
	if (a == NULL)
		return plate_err_new(err, EINVAL, "cannot read the archive");
	if (layer_la.archive_read_next_header(a, &entry) != ARCHIVE_OK) {
		plate_err_new(err, EINVAL, "cannot decompress the archive: %s",
			      layer_la.archive_error_string(a) ? layer_la.archive_error_string(a)
							       : "unknown error");
		goto out;
	}
	for (;;) {
		la_ssize_t n = layer_la.archive_read_data(a, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			plate_err_new(err, EINVAL, "cannot decompress the archive: %s",
				      layer_la.archive_error_string(a)
					      ? layer_la.archive_error_string(a)
					      : "unknown error");
			goto out;
		}
		out += (unsigned long long)n;
		if (check_limits(limits, out, in, err) < 0)
			goto out;
		if (write_all(out_fd, buf, (size_t)n) < 0) {
			plate_err_new(err, errno, "cannot write the decompressed archive");
			goto out;
		}
	}
	r = 0;
out:
	layer_la.archive_read_free(a);
	return r;
}
