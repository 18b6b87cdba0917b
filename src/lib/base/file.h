/*
 * base/file.h — the one way to read a whole file that comes from outside: a Dockerfile, an
 * ignore file, an image's /etc/passwd, a manifest in an OCI layout, a config file.
 *
 * Contract
 *   file_read_at() opens path relative to dirfd (AT_FDCWD or an absolute path for the
 *   caller's own files) with O_NONBLOCK and O_NOCTTY, so that a FIFO or a device planted
 *   where a file is expected never blocks the open, and refuses anything but a regular
 *   file ("'PATH' is not a regular file", errno 0).  More than max bytes is EFBIG
 *   ("'PATH' is larger than MAX bytes"), decided from the size before anything is read
 *   when the file says so, and by the read loop when it grows while being read.
 *   file_read_fd() applies the same checks to an open descriptor (borrowed, read from its
 *   current offset); FILE_READ_STREAM also accepts a pipe or a terminal (the CLI's
 *   standard input), still capped.
 *
 * Ownership
 *   On success *data is a malloc'd, NUL-terminated copy (it may hold NUL bytes before
 *   *len); on failure *data and *len are untouched.
 *
 * Errors
 *   Messages name the path as given (name, for file_read_fd()); the innermost errno is
 *   the system's, or EINVAL/EFBIG as above.  ENOENT from the open is passed through, so
 *   callers can treat a missing file as absent.
 */
#ifndef PLATE_BASE_FILE_H
#define PLATE_BASE_FILE_H

#include <fcntl.h>
#include <stddef.h>

#include "base/error.h"

enum file_read_flags {
	/* Do not follow a symlink in the last component (ELOOP instead). */
	FILE_READ_NOFOLLOW = 1 << 0,
	/* Accept a pipe, socket or terminal as well as a regular file (standard input). */
	FILE_READ_STREAM = 1 << 1,
};

int file_read_at(int dirfd, const char *path, unsigned flags, size_t max, char **data, size_t *len,
		 struct plate_error **err);
int file_read_fd(int fd, const char *name, unsigned flags, size_t max, char **data, size_t *len,
		 struct plate_error **err);

/* The open flags file_read_at() uses, for callers that must open the file another way
 * (openat2 beneath a root) and then call file_read_fd(). */
#define FILE_READ_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

#endif
