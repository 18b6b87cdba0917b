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
#include "base/output.h"
#include "cli.h"

int cli_cmd_save(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	enum store_archive_format format = STORE_ARCHIVE_DOCKER;
	struct replace_file rf = REPLACE_FILE_INIT;
	_cleanup_close_ int dev_fd = -1;
	const char *output = NULL;
	struct store *s = NULL;
	struct stat st;
	int c, fd = STDOUT_FILENO, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "o:", longopts)) != -1) {
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
				return cli_usage_error(ctx, err,
						       "save: unknown format '%s' (docker or oci)",
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
		return cli_usage_error(
			ctx, err, "save: refusing to write an archive to a terminal (use -o FILE)");
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	if (output != NULL && stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or a pipe is written in place. */
		fd = dev_fd = open(output, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			plate_err_new(err, errno, "cannot open '%s'", output);
			goto out;
		}
	} else if (output != NULL) {
		/* A file is replaced whole, so it is never half an archive. */
		if (replace_file_open(&rf, output, 0644, err) < 0)
			goto out;
		fd = rf.fd;
	}
	if (store_save(s, (const char *const *)argv + optind, (size_t)(argc - optind),
		       cli_host_platform(), format, fd, err) < 0)
		goto out;
	if (rf.fd >= 0 && replace_file_commit(&rf, err) < 0)
		goto out;
	rc = CLI_EXIT_OK;
out:
	replace_file_abort(&rf);
	store_free(s);
	return rc;
}
