/* plate pull [--platform OS/ARCH[/VARIANT][,...]] [-q] [--tls-ca FILE] [--insecure-registry HOST]
 * REF */
#include <stdio.h>

#include "cli.h"

int cli_cmd_pull(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct cli_transfer t = { 0 };
	int first, rc = -1;

	first = cli_transfer_begin(ctx, "pull", argc, argv, &t, err);
	if (first < 0)
		goto out;
	if (argc - first != 1) {
		rc = cli_usage_error(ctx, err, "usage: plate pull [--platform OS/ARCH[,...]] REF");
		goto out;
	}
	if (transfer_pull(&t.o, argv[first], &t.res, err) < 0)
		goto out;
	if (!t.quiet)
		fprintf(stderr, "pulled %u of %u blobs (%.1f MiB)\n", t.res.transferred,
			t.res.blobs, (double)t.res.bytes / (1 << 20));
	printf("%s\n", t.res.name ? oci_familiar_name(t.res.name) : t.res.digest);
	if (!t.quiet && t.res.name)
		fprintf(stderr, "digest: %s\n", t.res.digest);
	if (!t.quiet && t.res.replaced)
		fprintf(stderr,
			"the registry's index for this name changed: the new one replaces it, "
			"the platforms pulled before are gone\n");
	if (!t.quiet && t.res.platforms.n > 0) {
		fprintf(stderr, "platforms in the store:");
		for (size_t i = 0; i < t.res.platforms.n; i++)
			fprintf(stderr, " %s", t.res.platforms.v[i]);
		fprintf(stderr, "\n");
	}
	rc = CLI_EXIT_OK;
out:
	cli_transfer_end(&t);
	return rc;
}
