/* plate save [-o FILE] [--format docker|oci] REF... */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli.h"

int cli_cmd_save(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	enum store_archive_format format = STORE_ARCHIVE_DOCKER;
	_cleanup_free_ char *tmp = NULL;
	const char *output = NULL;
	struct store *s = NULL;
	struct stat st;
	int c, fd = STDOUT_FILENO, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "docker") == 0 || strcmp(optarg, "docker-archive") == 0)
				format = STORE_ARCHIVE_DOCKER;
			else if (strcmp(optarg, "oci") == 0 || strcmp(optarg, "oci-archive") == 0)
				format = STORE_ARCHIVE_OCI;
			else
				return cli_usage_error(ctx, err, "save: unknown format '%s' (docker or oci)",
						       optarg);
			break;
		default:
			return cli_usage_error(ctx, err, "save: bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(ctx, err,
				       "usage: plate save [-o FILE] [--format docker|oci] REF...");
	if (output == NULL && isatty(STDOUT_FILENO))
		return cli_usage_error(ctx, err,
				       "save: refusing to write an archive to a terminal (use -o FILE)");
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	if (output != NULL && stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or a pipe is written in place. */
		fd = open(output, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			plate_err_new(err, errno, "cannot open '%s'", output);
			goto out;
		}
	} else if (output != NULL) {
		/* A file is written beside itself and renamed, so it is never half an archive. */
		if (asprintf(&tmp, "%s.tmp.%d", output, (int)getpid()) < 0) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			plate_err_new(err, errno, "cannot create '%s'", tmp);
			goto out;
		}
	}
	if (store_save(s, (const char *const *)argv + optind, (size_t)(argc - optind),
		       cli_host_platform(), format, fd, err) < 0)
		goto out;
	if (tmp != NULL) {
		if (fsync(fd) < 0 || close(fd) < 0) {
			fd = -1;
			plate_err_new(err, errno, "cannot write '%s'", output);
			goto out;
		}
		fd = -1;
		if (rename(tmp, output) < 0) {
			plate_err_new(err, errno, "cannot rename '%s' to '%s'", tmp, output);
			goto out;
		}
	}
	rc = CLI_EXIT_OK;
out:
	if (output != NULL && fd >= 0)
		close(fd);
	if (rc < 0 && tmp != NULL)
		unlink(tmp);
	store_free(s);
	return rc;
}
