/* plate prune [-a|--all] [--mounts] — removes blobs, snapshots and build-cache entries that
 * nothing references (with --all, the whole build cache first); with --all or --mounts also
 * the RUN --mount=type=cache directories no build is using, as `docker builder prune -a`
 * does. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

int cli_cmd_prune(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "mounts", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_gc_result r;
	struct store *s = NULL;
	unsigned flags = 0;
	bool mounts = false;
	uint64_t n_mounts = 0;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "a", longopts)) != -1) {
		if (c == 'a') {
			flags |= STORE_GC_ALL_CACHE;
			mounts = true;
		} else if (c == 'm') {
			mounts = true;
		} else {
			return cli_usage_error(ctx, err, "prune: unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, err, "usage: plate prune [--all] [--mounts]");
	if (cli_open_store(ctx, &s, err) < 0 || store_gc(s, flags, &r, err) < 0 ||
	    (mounts && store_cache_mounts_prune(s, &n_mounts, err) < 0)) {
		store_free(s);
		return -1;
	}
	printf("Deleted %llu blobs (%.1f MB), %llu snapshots, %llu cache entries, %llu temporary "
	       "entries, %llu cache mounts\n",
	       (unsigned long long)r.blobs, (double)r.blob_bytes / 1e6,
	       (unsigned long long)r.snapshots, (unsigned long long)r.cache_entries,
	       (unsigned long long)r.tmp_entries, (unsigned long long)n_mounts);
	store_free(s);
	return CLI_EXIT_OK;
}
