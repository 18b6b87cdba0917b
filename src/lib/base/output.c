#include "base/output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/cleanup.h"

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Tries before giving up on EEXIST: only a name taken by chance, or planted by someone
 * guessing 64 random bits, collides. */
#define REPLACE_TRIES 16

static void replace_file_release(struct replace_file *rf)
{
	if (rf->fd >= 0)
		close(rf->fd);
	if (rf->dirfd >= 0)
		close(rf->dirfd);
	free(rf->dest);
	free(rf->name);
	free(rf->tmp);
	*rf = (struct replace_file)REPLACE_FILE_INIT;
}

int replace_file_open(struct replace_file *rf, const char *dest, mode_t mode,
		      struct plate_error **err)
{
	_cleanup_free_ char *dir_copy = strdup(dest), *base_copy = strdup(dest);

	*rf = (struct replace_file)REPLACE_FILE_INIT;
	rf->dest = strdup(dest);
	if (dir_copy == NULL || base_copy == NULL || rf->dest == NULL ||
	    (rf->name = strdup(basename(base_copy))) == NULL) {
		replace_file_release(rf);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	rf->dirfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rf->dirfd < 0) {
		int e = errno;
		replace_file_release(rf);
		return plate_err_new(err, e, "cannot open the directory of '%s'", dest);
	}
	for (int i = 0; i < REPLACE_TRIES; i++) {
		unsigned long long r;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			int e = errno;
			replace_file_release(rf);
			return plate_err_new(err, e, "cannot create a temporary file for '%s'",
					     dest);
		}
		free(rf->tmp);
		if (asprintf(&rf->tmp, ".%s.%016llx.tmp", rf->name, r) < 0) {
			rf->tmp = NULL;
			replace_file_release(rf);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		rf->fd = openat(rf->dirfd, rf->tmp,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (rf->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	int e = errno;
	replace_file_release(rf);
	return plate_err_new(err, e, "cannot create a temporary file beside '%s'", dest);
}

int replace_file_commit(struct replace_file *rf, struct plate_error **err)
{
	int fd = steal_fd(&rf->fd), rc = 0;

	if (fsync(fd) < 0) {
		rc = plate_err_new(err, errno, "cannot write '%s'", rf->dest);
		close(fd);
	} else if (close(fd) < 0) {
		rc = plate_err_new(err, errno, "cannot write '%s'", rf->dest);
	} else if (renameat(rf->dirfd, rf->tmp, rf->dirfd, rf->name) < 0) {
		rc = plate_err_new(err, errno, "cannot replace '%s'", rf->dest);
	} else {
		free(steal_pointer(&rf->tmp));
		if (fsync(rf->dirfd) < 0)
			rc = plate_err_new(err, errno, "cannot sync the directory of '%s'",
					   rf->dest);
	}
	replace_file_abort(rf);
	return rc;
}

void replace_file_abort(struct replace_file *rf)
{
	if (rf->tmp != NULL && rf->dirfd >= 0)
		unlinkat(rf->dirfd, rf->tmp, 0);
	replace_file_release(rf);
}
