/*
 * plate sbom [--platform OS/ARCH] REF
 *
 * Writes an SPDX 2.3 JSON document of a stored image on stdout: the Go modules and Go
 * version of each Go binary (from its build info), the Debian and Alpine packages.  The
 * document `plate build --sbom` stored with the image is printed when there is one (its
 * stored form: check/stored.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check/check.h"
#include "cli.h"

int cli_cmd_sbom(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "platform", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ref, *platform = NULL;
	struct store *s = NULL;
	struct store_image *img = NULL;
	_cleanup_free_ char *json = NULL;
	size_t len = 0;
	int rc = -1, found, c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":", longopts)) != -1) {
		if (c == 'P')
			platform = optarg;
		else if (c == ':')
			return cli_usage_error(ctx, err, "option '%s' needs a value",
					       argv[optind - 1]);
		else
			return cli_bad_option(ctx, "sbom", argv, err);
	}
	if (optind == argc)
		return cli_usage_error(ctx, err, "sbom needs a REF");
	if (argc - optind > 1)
		return cli_usage_error(ctx, err, "sbom takes one REF");
	ref = argv[optind];
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	if (store_lock_shared(s, err) < 0)
		goto out_store;
	if (store_image_resolve(s, ref, platform ? platform : cli_host_platform(), &img, err) < 0 ||
	    (found = check_sbom_stored(s, img, &json, &len, err)) < 0 ||
	    (found == 1 && check_sbom_image(s, img, ref, &json, &len, err) < 0))
		goto out;
	fwrite(json, 1, len, stdout);
	fputc('\n', stdout);
	rc = CLI_EXIT_OK;
out:
	store_unlock_shared(s);
out_store:
	store_image_free(img);
	store_free(s);
	return rc;
}
