/*
 * base/output.h — writing to descriptors and replacing files.
 *
 * write_all() writes the whole buffer: it retries on EINTR and after short writes, and a
 * write() that returns 0 (nothing written, no error) is EIO rather than an endless loop.
 * It returns 0, or -1 with errno set; the caller says what was being written.
 *
 * A struct replace_file writes a new version of a file so that readers only ever see the
 * old one or the whole new one, and so that the destination's directory cannot be used to
 * redirect the write: the temporary file is created beside the destination with an
 * unpredictable name, O_CREAT|O_EXCL|O_NOFOLLOW (a symlink or file planted there is never
 * opened, let alone truncated), and replace_file_commit() fsyncs it, renames it over the
 * destination and fsyncs the directory.  replace_file_abort() (also safe after a commit or a
 * failed open) removes the temporary file.
 *
 * Ownership
 *   replace_file_open() fills a struct the caller owns; every path of a successful open
 *   must end in replace_file_commit() or replace_file_abort().  `fd` is the descriptor to
 *   write to; it belongs to the struct.
 */
#ifndef PLATE_BASE_OUTPUT_H
#define PLATE_BASE_OUTPUT_H

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

int write_all(int fd, const void *buf, size_t len);

struct replace_file {
	int fd;	    /* the temporary file, -1 when none */
	int dirfd;  /* the destination's directory */
	char *dest; /* as given, for messages */
	char *name; /* the destination's last component */
	char *tmp;  /* the temporary file's name in dirfd */
};

#define REPLACE_FILE_INIT             \
	{                             \
		.fd = -1, .dirfd = -1 \
	}

/* mode is the new file's mode before the umask. */
int replace_file_open(struct replace_file *rf, const char *dest, mode_t mode,
		      struct plate_error **err);
int replace_file_commit(struct replace_file *rf, struct plate_error **err);
void replace_file_abort(struct replace_file *rf);

#endif
