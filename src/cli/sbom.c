/*
 * plate sbom [--platform OS/ARCH] REF
 *
 * Writes an SPDX 2.3 JSON document of a stored image on stdout: the Go modules and Go
 * version of each Go binary (from its build info), the Debian and Alpine packages.  The
 * document `plate build --sbom` stored with the image is printed when there is one (its
 * stored form: check/stored.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check/check.h"
#include "cli.h"

static const char usage[] = "usage: plate sbom [--platform OS/ARCH] REF\n";

int cli_cmd_sbom(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	const char *ref = NULL, *platform = NULL;
	struct store *s = NULL;
	struct store_image *img = NULL;
	_cleanup_free_ char *json = NULL;
	size_t len = 0;
	int rc = -1, found;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--platform") == 0 && i + 1 < argc)
			platform = argv[++i];
		else if (strncmp(argv[i], "--platform=", 11) == 0)
			platform = argv[i] + 11;
		else if (argv[i][0] == '-' || ref != NULL)
			return cli_usage_error(ctx, err, "unexpected argument '%s'\n%s", argv[i], usage);
		else
			ref = argv[i];
	}
	if (ref == NULL)
		return cli_usage_error(ctx, err, "sbom needs a REF\n%s", usage);
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
