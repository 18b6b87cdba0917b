/*
 * plate plan [-f FILE] [--target T] [--build-arg K=V]... [--platform os/arch] CONTEXT
 *
 * Parses the Dockerfile, plans the build and prints the plan as JSON (docs/plan-json.md).
 * Nothing is built.  Like `docker build`, -f is relative to the current directory and
 * defaults to CONTEXT/Dockerfile, then CONTEXT/dockerfile; `--build-arg NAME` without '='
 * takes NAME's value from the environment (and is dropped when NAME is unset).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"
#include "plan/plan.h"

static int parse_args(struct cli_ctx *ctx, int argc, char **argv, struct cli_dockerfile_opts *o,
		      struct plate_error **err)
{
	static const struct option longopts[] = {
		CLI_DOCKERFILE_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":f:", longopts)) != -1) {
		int r = cli_dockerfile_getopt(o, c, optarg, err);

		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (c == ':')
			return cli_usage_error(ctx, err, "option '%s' needs a value",
					       argv[optind - 1]);
		return cli_bad_option(ctx, "plan", argv, err);
	}
	if (argc - optind > 1)
		return cli_usage_error(ctx, err, "plan takes one CONTEXT, got '%s' and '%s'",
				       argv[optind], argv[optind + 1]);
	if (optind == argc)
		return cli_usage_error(ctx, err, "plan needs a CONTEXT directory");
	o->context = argv[optind];
	return 0;
}

/* The Dockerfile's name and text must outlive cli_cmd_plan(): main prints located errors
 * from them after it returns.  Kept here (reachable, so not a leak) until then. */
static struct {
	char *path;
	char *data;
} source;

int cli_cmd_plan(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	_cleanup_(cli_dockerfile_opts_release) struct cli_dockerfile_opts o = { 0 };
	struct plan_options popts = { 0 };
	_cleanup_buf_ struct buf json = BUF_INIT(BUF_UNLIMITED);
	size_t len = 0;
	struct dockerfile *df = NULL;
	struct plan *plan = NULL;
	struct stat st;
	int rc;

	if (parse_args(ctx, argc, argv, &o, err) < 0)
		return -1;
	/* As docker build: the context must be a directory even when -f points elsewhere. */
	if (stat(o.context, &st) != 0)
		return plate_err_new(err, errno, "cannot use context '%s'", o.context);
	if (!S_ISDIR(st.st_mode))
		return plate_err_new(err, ENOTDIR, "context '%s' is not a directory", o.context);
	source.path = cli_dockerfile_path(&o);
	if (source.path == NULL)
		return plate_err_new(err, ENOMEM, "cannot build the Dockerfile path");
	if (cli_read_file(source.path, dockerfile_default_limits.max_file, &source.data, &len,
			  err) < 0)
		return -1;
	ctx->error_file = o.file != NULL && strcmp(o.file, "-") == 0 ? "-" : source.path;
	ctx->error_source = source.data;
	ctx->error_source_len = len;
	ctx->error_exit = CLI_EXIT_USAGE;

	if (dockerfile_parse(source.data, len, NULL, &df, err) < 0)
		return -1;
	for (size_t i = 0; i < df->n_warnings; i++)
		fprintf(stderr, "%s:%u: warning: %s\n", ctx->error_file, df->warnings[i].line,
			df->warnings[i].message);

	popts.target = o.target;
	popts.build_args = (const char *const *)o.build_args;
	popts.n_build_args = o.n_build_args;
	popts.target_platform = o.platform;
	rc = plan_build(df, &popts, &plan, err);
	if (rc == 0)
		rc = plan_to_json(plan, &json, err);
	plan_free(plan);
	dockerfile_free(df);
	if (rc < 0)
		return -1;
	if (fwrite(json.data, 1, json.len, stdout) != json.len || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0) {
		ctx->error_exit = CLI_EXIT_FAILURE;
		return plate_err_new(err, errno, "cannot write the plan");
	}
	ctx->error_file = NULL;
	ctx->error_source = NULL;
	free(steal_pointer(&source.data));
	free(steal_pointer(&source.path));
	return CLI_EXIT_OK;
}
