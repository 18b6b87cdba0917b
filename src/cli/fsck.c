/* plate fsck — exit 1 with one line per problem when the store is not sound. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_fsck(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct store_fsck_result r;
	struct store *s = NULL;
	int rc, first = cli_operands(ctx, "fsck", argc, argv, err);

	if (first < 0)
		return -1;
	if (first != argc)
		return cli_usage_error(ctx, err, "usage: plate fsck");
	if (cli_open_store_as_found(ctx, &s, err) < 0 || store_fsck(s, &r, err) < 0) {
		store_free(s);
		return -1;
	}
	for (size_t i = 0; i < r.problems.n; i++)
		printf("%s\n", r.problems.v[i]);
	printf("%s: %llu blobs, %llu images, %llu snapshots checked; %llu unreferenced; "
	       "%llu leftovers; %llu partial indexes; %zu problems\n",
	       r.problems.n == 0 ? "ok" : "FAILED", (unsigned long long)r.blobs,
	       (unsigned long long)r.images, (unsigned long long)r.snapshots,
	       (unsigned long long)r.unreferenced, (unsigned long long)r.leftovers,
	       (unsigned long long)r.partial, r.problems.n);
	rc = r.problems.n == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
	store_fsck_result_release(&r);
	store_free(s);
	return rc;
}
