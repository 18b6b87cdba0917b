/* plate tag SRC DST */
#include <stdlib.h>

#include "base/cleanup.h"
#include "cli.h"

int cli_cmd_tag(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	_cleanup_free_ char *dst = NULL;
	struct store_image *img = NULL;
	struct store_txn *t = NULL;
	struct store *s = NULL;
	int rc = -1, i = cli_operands(ctx, "tag", argc, argv, err);

	if (i < 0)
		return -1;
	if (argc - i != 2)
		return cli_usage_error(ctx, err, "usage: plate tag SRC DST");
	if (cli_normalise_name(argv[i + 1], true, &dst, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	if (cli_open_store(ctx, &s, err) < 0 ||
	    store_image_resolve(s, argv[i], cli_host_platform(), &img, err) < 0 ||
	    store_txn_begin(s, &t, err) < 0 || store_txn_tag(t, dst, &img->root, err) < 0 ||
	    store_txn_commit(t, err) < 0)
		goto out;
	rc = CLI_EXIT_OK;
out:
	store_txn_free(t);
	store_image_free(img);
	store_free(s);
	return rc;
}
