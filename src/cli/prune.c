/* plate prune [-a|--all] — removes blobs, snapshots and build-cache entries that nothing
 * references (with --all, the whole build cache first). */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

int cli_cmd_prune(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_gc_result r;
	struct store *s = NULL;
	unsigned flags = 0;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "a", longopts, NULL)) != -1) {
		if (c != 'a')
			return cli_usage_error(ctx, err, "prune: unknown option '%s'", argv[optind - 1]);
		flags |= STORE_GC_ALL_CACHE;
	}
	if (optind < argc)
		return cli_usage_error(ctx, err, "usage: plate prune [--all]");
	if (cli_open_store(ctx, &s, err) < 0 || store_gc(s, flags, &r, err) < 0) {
		store_free(s);
		return -1;
	}
	printf("Deleted %llu blobs (%.1f MB), %llu snapshots, %llu cache entries, %llu temporary "
	       "entries\n",
	       (unsigned long long)r.blobs, (double)r.blob_bytes / 1e6,
	       (unsigned long long)r.snapshots, (unsigned long long)r.cache_entries,
	       (unsigned long long)r.tmp_entries);
	store_free(s);
	return CLI_EXIT_OK;
}
