/* plate history [--no-trunc] REF */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_cmd_history(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "no-trunc", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_image *img = NULL;
	struct store *s = NULL;
	bool no_trunc = false;
	size_t layer;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "", longopts)) != -1) {
		if (c != 'T')
			return cli_usage_error(ctx, err, "history: unknown option '%s'", argv[optind - 1]);
		no_trunc = true;
	}
	if (optind + 1 != argc)
		return cli_usage_error(ctx, err, "usage: plate history [--no-trunc] REF");
	if (cli_open_store(ctx, &s, err) < 0 ||
	    store_image_resolve(s, argv[optind], cli_host_platform(), &img, err) < 0) {
		store_free(s);
		return -1;
	}
	printf("%-12s %-20s %-45s %-10s %s\n", "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
	/* Newest first; each non-empty history entry owns the next layer from the top. */
	layer = img->manifest.n_layers;
	for (size_t k = img->config.n_history; k-- > 0;) {
		const struct oci_history *h = &img->config.history[k];
		const char *by = cli_safe(h->created_by ? h->created_by : "");
		long long size = 0;

		if (!h->empty_layer && layer > 0)
			size = img->manifest.layers[--layer].size;
		printf("%-12.12s %-20s ", k + 1 == img->config.n_history ? img->manifest.config.digest + 7
									: "<missing>",
		       h->created ? h->created : "");
		if (!no_trunc && strlen(by) > 45)
			printf("%-42.42s... ", by);
		else
			printf("%-45s ", by);
		printf("%-10lld %s\n", size, cli_safe(h->comment ? h->comment : ""));
	}
	store_image_free(img);
	store_free(s);
	return CLI_EXIT_OK;
}
