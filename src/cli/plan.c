/*
 * plate plan [-f FILE] [--target T] [--build-arg K=V]... [--platform os/arch] CONTEXT
 *
 * Parses the Dockerfile, plans the build and prints the plan as JSON (docs/plan-json.md).
 * Nothing is built.  Like `docker build`, -f is relative to the current directory and
 * defaults to CONTEXT/Dockerfile, then CONTEXT/dockerfile; `--build-arg NAME` without '='
 * takes NAME's value from the environment (and is dropped when NAME is unset).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"
#include "plan/plan.h"

struct plan_cli_options {
	const char *file;
	const char *target;
	const char *platform;
	char **build_args; /* "K=V", owned */
	size_t n_build_args;
	const char *context;
};

static void plan_cli_options_release(struct plan_cli_options *o)
{
	strv_free(o->build_args, o->n_build_args);
}

static const char usage[] =
	"usage: plate plan [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]...\n"
	"                  [--platform OS/ARCH[/VARIANT]] CONTEXT\n";

static int add_build_arg(struct plan_cli_options *o, const char *arg, struct plate_error **err)
{
	char **grown, *kv = NULL;

	if (strchr(arg, '=') == NULL) {
		/* docker: a bare NAME takes the value of the environment variable, if any. */
		const char *value = getenv(arg);
		if (value == NULL)
			return 0;
		if (asprintf(&kv, "%s=%s", arg, value) < 0)
			kv = NULL;
	} else {
		kv = strdup(arg);
	}
	grown = kv ? realloc(o->build_args, (o->n_build_args + 1) * sizeof(*grown)) : NULL;
	if (grown == NULL) {
		free(kv);
		return plate_err_new(err, ENOMEM, "cannot record build-arg");
	}
	grown[o->n_build_args++] = kv;
	o->build_args = grown;
	return 0;
}

/* Matches "--name VALUE" and "--name=VALUE" (and "-f VALUE" for short); *i is advanced past a
 * separate value.  Returns 1 when matched, 0 when not, -1 when the value is missing. */
static int take_value(int argc, char **argv, int *i, const char *name, const char *short_name,
		      const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) == 0 && a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	if (strcmp(a, name) != 0 && (short_name == NULL || strcmp(a, short_name) != 0))
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

static int parse_args(struct cli_ctx *ctx, int argc, char **argv, struct plan_cli_options *o,
		      struct plate_error **err)
{
	bool options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m;

		if (options_done || argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
			if (o->context != NULL)
				return cli_usage_error(ctx, err, "plan takes one CONTEXT, got '%s' and '%s'",
						       o->context, argv[i]);
			o->context = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			options_done = true;
			continue;
		}
		if ((m = take_value(argc, argv, &i, "--file", "-f", &v)) != 0) {
			o->file = v;
		} else if ((m = take_value(argc, argv, &i, "--target", NULL, &v)) != 0) {
			o->target = v;
		} else if ((m = take_value(argc, argv, &i, "--platform", NULL, &v)) != 0) {
			o->platform = v;
		} else if ((m = take_value(argc, argv, &i, "--build-arg", NULL, &v)) != 0) {
			if (m > 0 && add_build_arg(o, v, err) < 0)
				return -1;
		} else {
			return cli_usage_error(ctx, err, "unknown option '%s' for plan", argv[i]);
		}
		if (m < 0)
			return cli_usage_error(ctx, err, "option '%s' needs a value", argv[i]);
	}
	if (o->context == NULL)
		return cli_usage_error(ctx, err, "plan needs a CONTEXT directory");
	return 0;
}

/* -f FILE, else CONTEXT/Dockerfile, else CONTEXT/dockerfile (BuildKit dockerui). */
static char *dockerfile_path(const struct plan_cli_options *o)
{
	char *path = NULL;
	struct stat st;

	if (o->file != NULL)
		return strdup(strcmp(o->file, "-") == 0 ? "/dev/stdin" : o->file);
	if (asprintf(&path, "%s/Dockerfile", o->context) < 0)
		return NULL;
	if (stat(path, &st) == 0 || errno != ENOENT)
		return path;
	free(path);
	if (asprintf(&path, "%s/dockerfile", o->context) < 0)
		return NULL;
	if (stat(path, &st) == 0)
		return path;
	free(path);
	if (asprintf(&path, "%s/Dockerfile", o->context) < 0)
		return NULL;
	return path;
}

/* The Dockerfile's name and text must outlive cli_cmd_plan(): main prints located errors
 * from them after it returns.  Kept here (reachable, so not a leak) until then. */
static struct {
	char *path;
	char *data;
} source;

int cli_cmd_plan(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	_cleanup_(plan_cli_options_release) struct plan_cli_options o = { 0 };
	struct plan_options popts = { 0 };
	_cleanup_buf_ struct buf json = BUF_INIT(BUF_UNLIMITED);
	size_t len = 0;
	struct dockerfile *df = NULL;
	struct plan *plan = NULL;
	int rc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
	if (parse_args(ctx, argc, argv, &o, err) < 0)
		return -1;
	source.path = dockerfile_path(&o);
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
