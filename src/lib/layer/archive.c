/*
 * ADD's archive test.  BuildKit unpacks a local source when its content, decompressed if
 * moby's detection recognises gzip, bzip2, xz or zstd, starts with a tar header that Go's
 * archive/tar accepts (solver/llbsolver/file/unpack.go isArchivePath); anything else,
 * a gzip of a text file included, is copied as a file.  libarchive does the same test
 * here with exactly those four filters and the tar format only.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <unistd.h>

#include "layer/layer.h"

static struct archive *open_filtered(int fd, bool raw)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	/* A filter missing from this libarchive is a failure, never a silent "not tar". */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    (raw ? archive_read_support_format_raw(a) : archive_read_support_format_tar(a)) !=
		    ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
		archive_read_free(a);
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

	if (dup_fd < 0 || lseek(dup_fd, 0, SEEK_SET) < 0) {
		if (dup_fd >= 0)
			close(dup_fd);
		return LAYER_ARCHIVE_NONE;
	}
	a = open_filtered(dup_fd, false);
	if (a != NULL && archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		switch (archive_filter_code(a, 0)) {
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
		archive_read_free(a);
	close(dup_fd);
	lseek(fd, 0, SEEK_SET);
	return kind;
}

int layer_archive_decode(int in_fd, int out_fd, struct plate_error **err)
{
	struct archive_entry *entry;
	struct archive *a = open_filtered(in_fd, true);
	char buf[1 << 16];
	int r = -1;

	if (a == NULL)
		return plate_err_new(err, EINVAL, "cannot read the archive");
	if (archive_read_next_header(a, &entry) != ARCHIVE_OK) {
		plate_err_new(err, EINVAL, "cannot decompress the archive: %s",
			      archive_error_string(a) ? archive_error_string(a) : "unknown error");
		goto out;
	}
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			plate_err_new(err, EINVAL, "cannot decompress the archive: %s",
				      archive_error_string(a) ? archive_error_string(a) : "unknown error");
			goto out;
		}
		for (la_ssize_t off = 0; off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				plate_err_new(err, errno, "cannot write the decompressed archive");
				goto out;
			}
			off += w;
		}
	}
	r = 0;
out:
	archive_read_free(a);
	return r;
}
