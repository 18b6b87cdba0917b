#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "base/printable.h"
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

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	int idx = -1, c = getopt_long(argc, argv, shortopts, longopts, &idx);
	bool separate;
	const char *word;

	if (c == -1 || idx < 0)
		return c;
	separate = optarg != NULL && optarg == argv[optind - 1];
	word = argv[optind - (separate ? 2 : 1)];
	if (strcspn(word + 2, "=") == strlen(longopts[idx].name))
		return c;
	/* As an unknown option: optind - 1 is the word, for the caller's message. */
	if (separate)
		optind--;
	optopt = 0;
	return '?';
}

int cli_operands(struct cli_ctx *ctx, const char *cmd, int argc, char **argv,
		 struct plate_error **err)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };

	optind = 0;
	opterr = 0;
	if (cli_getopt(argc, argv, "", none) != -1)
		return cli_bad_option(ctx, cmd, argv, err);
	return optind;
}

int cli_bad_option(struct cli_ctx *ctx, const char *cmd, char **argv, struct plate_error **err)
{
	const char *word = argv[optind - 1];

	/* A short option inside a cluster such as -xv: optind has not moved past it yet. */
	if (strncmp(word, "--", 2) != 0 && optopt > ' ' && optopt < 0x7f)
		return cli_usage_error(ctx, err, "unknown option '-%c' for %s", optopt, cmd);
	return cli_usage_error(ctx, err, "unknown option '%s' for %s", word, cmd);
}

int cli_parse_size(const char *s, int64_t *out)
{
	char *end;
	double v;
	double mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		mult = 1e3, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1e6, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1e9, end++;
	if (mult > 1 && *end == 'i') {
		mult = mult == 1e3 ? 1024.0 : mult == 1e6 ? 1048576.0 : 1073741824.0;
		end++;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || v * mult > 9e18)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}

int cli_source_date_epoch(struct cli_ctx *ctx, long long *epoch, struct plate_error **err)
{
	const char *v = getenv("SOURCE_DATE_EPOCH");
	char *end;

	*epoch = 0;
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	*epoch = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || *epoch < 0)
		return cli_usage_error(ctx, err,
				       "SOURCE_DATE_EPOCH '%s' is not a number of seconds", v);
	return 0;
}

int cli_read_file(const char *path, size_t max, char **data, size_t *len, struct plate_error **err)
{
	/* "-f -" is /dev/stdin, and a shell's <(...) is /dev/fd/N: a pipe there is the user's
	 * choice.  A FIFO anywhere else is refused rather than waited on. */
	unsigned flags = strncmp(path, "/dev/", 5) == 0 ? FILE_READ_STREAM : 0;

	return file_read_at(AT_FDCWD, path, flags, max, data, len, err);
}

const char *cli_safe(const char *s)
{
	static char *ring[8];
	static unsigned next;
	char **slot = &ring[next++ % 8];

	free(*slot);
	*slot = printable_dup(s, strlen(s), CLI_SAFE_MAX, 0);
	return *slot ? *slot : "?";
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
