#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "cli.h"

int cli_usage_error(struct cli_ctx *ctx, struct plate_error **err, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ctx->error_exit = CLI_EXIT_USAGE;
	return plate_err_new(err, 0, "%s", msg ? msg : "usage error");
}

int cli_read_file(const char *path, size_t max, char **data, size_t *len, struct plate_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_buf_ struct buf b = BUF_INIT(max);
	char chunk[65536];
	ssize_t n;

	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", path);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return plate_err_new(err, errno, "cannot read '%s'", path);
		}
		if (buf_add(&b, chunk, (size_t)n) < 0)
			return plate_err_new(err, errno == E2BIG ? EFBIG : errno, "cannot read '%s'",
					     path);
	}
	*data = buf_detach(&b, len);
	if (*data == NULL)
		return plate_err_new(err, ENOMEM, "cannot read '%s'", path);
	return 0;
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
