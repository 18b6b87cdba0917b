/*
 * Ready-made sources and sinks for pushes and blob downloads: a file descriptor or memory.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/output.h"
#include "registry/registry_internal.h"

static int fd_read_at(void *data, uint64_t offset, void *buf, size_t len, struct plate_error **err)
{
	struct registry_fd_source *s = data;
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(s->fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return plate_err_new(err, errno, "cannot read blob source");
		if (r == 0)
			return plate_err_new(err, EIO, "blob source ended at byte %llu",
					     (unsigned long long)(offset + done));
		done += (size_t)r;
	}
	return 0;
}

void registry_fd_source_init(struct registry_fd_source *s, int fd, uint64_t size,
			     struct registry_source *src)
{
	s->fd = fd;
	*src = (struct registry_source){ .read_at = fd_read_at, .data = s, .size = size };
}

static int mem_read_at(void *data, uint64_t offset, void *buf, size_t len, struct plate_error **err)
{
	struct registry_mem_source *s = data;

	(void)err;
	memcpy(buf, (const char *)s->data + offset, len);
	return 0;
}

void registry_mem_source_init(struct registry_mem_source *s, const void *data, size_t len,
			      struct registry_source *src)
{
	s->data = data;
	*src = (struct registry_source){ .read_at = mem_read_at, .data = s, .size = len };
}

static int fd_sink_write(void *data, const void *buf, size_t len, struct plate_error **err)
{
	struct registry_fd_sink *s = data;

	if (write_all(s->fd, buf, len) < 0)
		return plate_err_new(err, errno, "cannot write blob");
	return 0;
}

static int fd_sink_reset(void *data, struct plate_error **err)
{
	struct registry_fd_sink *s = data;

	if (s->start < 0)
		return plate_err_new(err, ESPIPE, "cannot restart a download into a pipe");
	if (ftruncate(s->fd, s->start) < 0 || lseek(s->fd, s->start, SEEK_SET) < 0)
		return plate_err_new(err, errno, "cannot rewind blob file");
	return 0;
}

int registry_fd_sink_init(struct registry_fd_sink *s, int fd, struct registry_sink *sink,
			  struct plate_error **err)
{
	off_t at = lseek(fd, 0, SEEK_CUR);

	(void)err;
	s->fd = fd;
	s->start = at < 0 ? -1 : (int64_t)at;
	*sink = (struct registry_sink){ .write = fd_sink_write, .reset = fd_sink_reset, .data = s };
	return 0;
}
