/* plate du [--format text|json] [--top N] REF — where the image's bytes go (du/du.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli.h"
#include "du/du.h"

static const char *hs(uint64_t v, char buf[16])
{
	du_human_size(v, buf);
	return buf;
}

static void print_text(const struct du_report *r)
{
	char a[16], b[16], c[16];

	printf("%-5s %-9s %-9s %-7s %-9s %s\n", "LAYER", "SIZE", "UNPACKED", "FILES", "WASTED",
	       "CREATED BY");
	for (size_t i = 0; i < r->n_layers; i++) {
		const struct du_layer *l = &r->layers[i];
		const char *by = cli_safe(l->created_by ? l->created_by : "");
		printf("%-5zu %-9s %-9s %-7llu %-9s %.*s%s\n", i + 1, hs(l->size, a),
		       hs(l->uncompressed_size, b), (unsigned long long)l->files,
		       hs(l->wasted_bytes, c), 60, by, strlen(by) > 60 ? "..." : "");
	}
	printf("\ntotal: %zu layers, %s compressed, %s unpacked; the final image holds %llu "
	       "regular files (%s)\n",
	       r->n_layers, hs(r->size, a), hs(r->uncompressed_size, b),
	       (unsigned long long)r->final_files, hs(r->final_bytes, c));
	printf("wasted: %s in %llu files deleted or overwritten by a later layer\n",
	       hs(r->wasted_bytes, a), (unsigned long long)r->wasted_files);
	if (r->n_largest > 0) {
		printf("\nLARGEST FILES\n%-9s %-5s %s\n", "SIZE", "LAYER", "PATH");
		for (size_t i = 0; i < r->n_largest; i++)
			printf("%-9s %-5zu %s\n", hs(r->largest[i].size, a),
			       r->largest[i].layer + 1, cli_safe(r->largest[i].path));
	}
	if (r->n_duplicates > 0) {
		printf("\nDUPLICATED ACROSS LAYERS\n%-9s %-12s %-13s %s\n", "WASTED", "LAYERS",
		       "CONTENT", "PATH");
		for (size_t i = 0; i < r->n_duplicates; i++) {
			const struct du_duplicate *d = &r->duplicates[i];
			char layers[64] = "";
			size_t off = 0;
			for (size_t k = 0; k < d->n_layers && off + 12 < sizeof(layers); k++)
				off += (size_t)snprintf(layers + off, sizeof(layers) - off, "%s%zu",
							k ? "," : "", d->layers[k] + 1);
			printf("%-9s %-12s %-13s %s\n", hs(d->wasted_bytes, a), layers,
			       d->same_content ? "same" : "different", cli_safe(d->path));
		}
	}
	if (r->n_wasted > 0) {
		printf("\nWASTED\n%-9s %-5s %-24s %s\n", "SIZE", "LAYER", "WHY", "PATH");
		for (size_t i = 0; i < r->n_wasted; i++) {
			const struct du_waste *w = &r->wasted[i];
			char why[32];
			snprintf(why, sizeof(why), "%s in layer %zu",
				 w->reason == DU_OVERWRITTEN ? "overwritten" : "deleted",
				 w->by_layer + 1);
			printf("%-9s %-5zu %-24s %s\n", hs(w->file.size, a), w->file.layer + 1, why,
			       cli_safe(w->file.path));
		}
	}
}

int cli_cmd_du(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "top", required_argument, NULL, 'n' },
		{ "platform", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct du_options o = { .top = 10 };
	struct store_image *img = NULL;
	struct du_report *rep = NULL;
	struct store *s = NULL;
	const char *platform = cli_host_platform();
	bool json = false;
	int c, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "", longopts)) != -1) {
		char *end;
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return cli_usage_error(ctx, err,
						       "du: --format must be text or json, not "
						       "'%s'",
						       optarg);
			json = strcmp(optarg, "json") == 0;
			break;
		case 'n':
			errno = 0;
			o.top = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || *optarg == '\0' || *optarg == '-')
				return cli_usage_error(ctx, err, "du: --top '%s' is not a count",
						       optarg);
			break;
		case 'P':
			platform = optarg;
			break;
		default:
			return cli_usage_error(ctx, err, "du: unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(ctx, err,
				       "usage: plate du [--format text|json] [--top N] "
				       "[--platform OS/ARCH] REF");
	if (cli_open_store(ctx, &s, err) < 0 ||
	    store_image_resolve(s, argv[optind], platform, &img, err) < 0 ||
	    du_image(s, img, &o, &rep, err) < 0)
		goto out;
	if (json) {
		_cleanup_free_ char *text = NULL;
		size_t len;
		if (du_report_json(rep, &text, &len, err) < 0)
			goto out;
		printf("%s\n", text);
	} else {
		print_text(rep);
	}
	rc = CLI_EXIT_OK;
out:
	du_report_free(rep);
	store_image_free(img);
	store_free(s);
	return rc;
}
