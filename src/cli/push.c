/* plate push [--platform OS/ARCH] [-q] [--tls-ca FILE] [--insecure-registry HOST] REF [DEST] */
#include <stdio.h>

#include "cli.h"

int cli_cmd_push(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct cli_transfer t = { 0 };
	int first, rc = -1;

	first = cli_transfer_begin(ctx, "push", argc, argv, &t, err);
	if (first < 0)
		goto out;
	if (argc - first < 1 || argc - first > 2) {
		rc = cli_usage_error(ctx, err, "usage: plate push REF [DEST]");
		goto out;
	}
	if (transfer_push(&t.o, argv[first], argc - first == 2 ? argv[first + 1] : NULL, &t.res,
			  err) < 0)
		goto out;
	if (!t.quiet)
		fprintf(stderr, "pushed %u of %u blobs (%.1f MiB) to %s\n", t.res.transferred,
			t.res.blobs, (double)t.res.bytes / (1 << 20), t.res.name);
	printf("%s\n", t.res.digest);
	rc = CLI_EXIT_OK;
out:
	cli_transfer_end(&t);
	return rc;
}
