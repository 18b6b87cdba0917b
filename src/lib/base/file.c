#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/file.h"

int file_read_fd(int fd, const char *name, unsigned flags, size_t max, char **data, size_t *len,
		 struct plate_error **err)
{
	_cleanup_buf_ struct buf b = BUF_INIT(max);
	struct stat st;
	char chunk[65536];
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return plate_err_new(err, errno, "cannot stat '%s'", name);
	if (!S_ISREG(st.st_mode) &&
	    !((flags & FILE_READ_STREAM) &&
	      (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))))
		return plate_err_new(err, 0, "'%s' is not a regular file", name);
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max)
		return plate_err_new(err, EFBIG, "'%s' is larger than %zu bytes", name, max);
	/* A stream opened non-blocking by someone else would fail with EAGAIN: the reader
	 * of a pipe the caller handed over is meant to wait for it. */
	if (!S_ISREG(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK))
			(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return plate_err_new(err, errno, "cannot read '%s'", name);
		}
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			if (errno == E2BIG)
				return plate_err_new(err, EFBIG, "'%s' is larger than %zu bytes",
						     name, max);
			return plate_err_new(err, errno, "cannot read '%s'", name);
		}
	}
	*data = buf_detach(&b, len);
	if (*data == NULL)
		return plate_err_new(err, ENOMEM, "cannot read '%s'", name);
	return 0;
}

int file_read_at(int dirfd, const char *path, unsigned flags, size_t max, char **data, size_t *len,
		 struct plate_error **err)
{
	int oflags = FILE_READ_OPEN_FLAGS | ((flags & FILE_READ_NOFOLLOW) ? O_NOFOLLOW : 0);
	_cleanup_close_ int fd = -1;
	struct stat st;

	/* The type before the open: opening a device node runs its driver's open (a watchdog
	 * arms, a tape rewinds) even non-blocking.  file_read_fd() checks the opened file
	 * again, so a swap in between is still refused. */
	if (fstatat(dirfd, path, &st, (flags & FILE_READ_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0) ==
		    0 &&
	    (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && !(flags & FILE_READ_STREAM))
		return plate_err_new(err, 0, "'%s' is not a regular file", path);
	fd = openat(dirfd, path, oflags);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", path);
	return file_read_fd(fd, path, flags, max, data, len, err);
}
