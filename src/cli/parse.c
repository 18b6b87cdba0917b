/*
 * plate parse FILE: prints the parsed Dockerfile as BuildKit's AST dump, one
 * "(keyword ...)" line per instruction.  A parse error exits 2 with FILE:LINE:COL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"

int cli_cmd_parse(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static char *source;
	static size_t source_len;
	_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
	struct dockerfile *df = NULL;
	const char *path;
	int i = cli_operands(ctx, "parse", argc, argv, err);

	if (i < 0)
		return -1;
	/* "-" is not stdin here: the dump is of a file the error messages can name. */
	if (argc - i != 1 || strcmp(argv[i], "-") == 0)
		return cli_usage_error(ctx, err, "usage: plate parse FILE");
	path = argv[i];
	if (cli_read_file(path, dockerfile_default_limits.max_file + 1, &source, &source_len, err) <
	    0) {
		/* An oversized Dockerfile is malformed input, not a runtime failure. */
		if ((*err)->errno_value == EFBIG)
			ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	if (dockerfile_parse(source, source_len, NULL, &df, err) < 0) {
		/* main prints the located error with the offending line; source must outlive
		 * this call, so it is kept until exit. */
		ctx->error_file = path;
		ctx->error_source = source;
		ctx->error_source_len = source_len;
		ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	for (size_t k = 0; k < df->n_warnings; k++)
		fprintf(stderr, "%s:%u: warning: %s\n", path, df->warnings[k].line,
			df->warnings[k].message);
	if (dockerfile_dump(df, &out) < 0) {
		dockerfile_free(df);
		return plate_err_new(err, errno, "cannot print '%s'", path);
	}
	dockerfile_free(df);
	fwrite(out.data, 1, out.len, stdout);
	free(source);
	source = NULL;
	return fflush(stdout) == 0 ? CLI_EXIT_OK : plate_err_new(err, errno, "cannot write output");
}
