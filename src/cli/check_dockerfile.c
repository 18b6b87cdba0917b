/*
 * plate check [--strict] [--format text|json] [--build-arg NAME=VALUE]... [-f] DOCKERFILE
 *             [CONTEXT], its options parsed by check.c.
 *
 * Runs the Dockerfile checks (BuildKit's build-check rules and plate's context checks, see
 * lint/lint.h) and prints the findings.  CONTEXT defaults to the Dockerfile's directory.
 * Exit 0, or 3 when an error finding remains (`# check=error=true`, or --strict).
 * The checks themselves run in build_lint() (build/build.h), as `plate build` runs them.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "build/build.h"
#include "finding/finding.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"
#include "store/store.h"

int cli_check_dockerfile(struct cli_ctx *ctx, const struct cli_check_dockerfile_args *o,
			 struct plate_error **err)
{
	/* Outlives the call: main prints parse errors with the offending line. */
	static char *source;
	static size_t source_len;
	_cleanup_(finding_report_release) struct finding_report report = FINDING_REPORT_INIT;
	_cleanup_free_ char *dir_copy = NULL;
	const char *context;
	struct dockerfile *df = NULL;
	struct store *store = NULL;
	int rc;

	rc = cli_read_file(o->file, dockerfile_default_limits.max_file + 1, &source, &source_len,
			   err);
	if (rc < 0) {
		if ((*err)->errno_value == EFBIG)
			ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	ctx->error_file = o->file;
	ctx->error_source = source;
	ctx->error_source_len = source_len;
	if ((rc = dockerfile_parse(source, source_len, NULL, &df, err)) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	ctx->error_file = NULL;
	context = o->context;
	if (context == NULL) {
		if ((dir_copy = strdup(o->file)) == NULL) {
			rc = plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		context = dirname(dir_copy);
	}
	/* Base images in the store inform UndefinedVar and InvalidBaseImagePlatform; only a
	 * store named with --root or $PLATE_ROOT is used, so checking never creates one. */
	if (ctx->root != NULL && ctx->root[0] != '\0') {
		_cleanup_error_ struct plate_error *ignored = NULL;
		if (store_open(ctx->root, 0, &store, &ignored) < 0)
			store = NULL;
	}
	{
		struct build_lint_input in = { .df = df,
					       .store = store,
					       .platform = cli_host_platform(),
					       .source = source,
					       .source_len = source_len,
					       .display_name = o->file,
					       .dockerfile_path = o->file,
					       .context_dir = context,
					       .build_args = (const char *const *)o->build_args,
					       .n_build_args = o->n_build_args };
		rc = build_lint(&in, &report, err);
	}
	if (rc < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	if (o->strict)
		finding_report_apply_policy(&report, NULL, true);
	rc = cli_render_findings(&report, o->json, false, stdout, err);
	if (rc == 0)
		rc = finding_report_count(&report, FINDING_ERROR) > 0 ? CLI_EXIT_CHECK
								      : CLI_EXIT_OK;
out:
	store_free(store);
	dockerfile_free(df);
	return rc;
}
