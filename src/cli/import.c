/* plate import [-c|--change INSTR]... [-m MSG] [--platform OS/ARCH[/VARIANT]] FILE|- [REF] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli.h"

int cli_cmd_import(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "change", required_argument, NULL, 'c' },
		{ "message", required_argument, NULL, 'm' },
		{ "platform", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_import_options o = { 0 };
	_cleanup_free_ const char **changes = calloc((size_t)argc + 1, sizeof(char *));
	_cleanup_free_ char *name = NULL, *platform = NULL;
	char digest[DIGEST_STRING_LEN + 1];
	struct store_image *img = NULL;
	struct store *s = NULL;
	int c, fd = -1, rc = -1;

	if (changes == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "c:m:", longopts)) != -1) {
		switch (c) {
		case 'c':
			changes[o.n_changes++] = optarg;
			break;
		case 'm':
			o.comment = optarg;
			break;
		case 'P':
			free(platform);
			platform = strdup(optarg);
			break;
		default:
			return cli_usage_error(ctx, err, "import: bad option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage_error(
			ctx, err, "usage: plate import [--change INSTR]... [-m MSG] FILE|- [REF]");
	o.changes = changes;
	if (cli_source_date_epoch(ctx, &o.epoch, err) < 0)
		return -1;
	if (argc - optind == 2) {
		if (cli_normalise_name(argv[optind + 1], true, &name, err) < 0) {
			ctx->error_exit = CLI_EXIT_USAGE;
			return -1;
		}
		o.name = name;
	}
	if (platform == NULL && (platform = strdup(cli_host_platform())) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	o.os = strtok(platform, "/");
	o.architecture = strtok(NULL, "/");
	o.variant = strtok(NULL, "/");
	if (o.os == NULL || o.architecture == NULL)
		return cli_usage_error(ctx, err, "import: --platform must be OS/ARCH[/VARIANT]");
	if (strcmp(argv[optind], "-") == 0) {
		fd = STDIN_FILENO;
	} else if ((fd = open(argv[optind], O_RDONLY | O_CLOEXEC)) < 0) {
		return plate_err_new(err, errno, "cannot open '%s'", argv[optind]);
	}
	if (cli_open_store(ctx, &s, err) < 0 || store_import(s, fd, &o, digest, err) < 0 ||
	    store_image_resolve(s, digest, NULL, &img, err) < 0)
		goto out;
	printf("%s\n", img->manifest.config.digest);
	rc = CLI_EXIT_OK;
out:
	if (fd > STDIN_FILENO)
		close(fd);
	store_image_free(img);
	store_free(s);
	return rc;
}
