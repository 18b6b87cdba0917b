/* plate pull [--platform OS/ARCH[/VARIANT]] [-q] [--tls-ca FILE] [--insecure-registry HOST] REF */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_cmd_pull(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "platform", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_REGISTRY_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_registry reg = { 0 };
	struct transfer_options o = { .platform = cli_host_platform() };
	struct transfer_result res = { 0 };
	struct store *s = NULL;
	bool quiet = false;
	int c, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "q", longopts, NULL)) != -1) {
		int r = cli_registry_opt(&reg, c, optarg, err);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		switch (c) {
		case 'P':
			o.platform = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			rc = cli_usage_error(ctx, err, "pull: bad option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error(ctx, err, "usage: plate pull [--platform OS/ARCH] REF");
		goto out;
	}
	if (cli_registry_setup(&reg, err) < 0 || cli_open_store(ctx, &s, err) < 0)
		goto out;
	o.store = s;
	o.registry = &reg.opts;
	if (!quiet)
		o.progress = cli_transfer_progress;
	if (transfer_pull(&o, argv[optind], &res, err) < 0)
		goto out;
	if (!quiet)
		fprintf(stderr, "pulled %u of %u blobs (%.1f MiB)\n", res.transferred, res.blobs,
			(double)res.bytes / (1 << 20));
	printf("%s\n", res.name ? cli_familiar_name(res.name) : res.digest);
	if (!quiet && res.name)
		fprintf(stderr, "digest: %s\n", res.digest);
	rc = CLI_EXIT_OK;
out:
	transfer_result_release(&res);
	store_free(s);
	cli_registry_release(&reg);
	return rc;
}
