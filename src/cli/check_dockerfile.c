/*
 * plate check [--strict] [--format text|json] [--build-arg NAME=VALUE]... [-f] DOCKERFILE
 *             [CONTEXT]
 *
 * Runs the Dockerfile checks (BuildKit's build-check rules and plate's context checks, see
 * lint/lint.h) and prints the findings.  CONTEXT defaults to the Dockerfile's directory.
 * Exit 0, or 3 when an error finding remains (`# check=error=true`, or --strict).
 * cli_lint_dockerfile() is shared with `plate build` (--check, and the warnings a build
 * prints before it starts).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "check/check.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"
#include "ignore/ignore.h"
#include "lint/lint.h"
#include "oci/oci.h"
#include "store/store.h"

/* Context entries listed for the context checks: enough for any real context. */
#define MAX_CONTEXT_ENTRIES 200000
#define MAX_CONTEXT_DEPTH 64


/* Lists fd_in's entries below `prefix` ("" for the root), without following symlinks and
 * without entering .git (its presence is what matters). */
static int walk(int fd_in, const char *prefix, unsigned depth, struct strv *out,
		struct plate_error **err)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > MAX_CONTEXT_DEPTH)
		return 0;
	d = fdopendir(fd_in);
	if (d == NULL) {
		close(fd_in);
		return 0;
	}
	while (rc == 0 && out->n < MAX_CONTEXT_ENTRIES && (de = readdir(d)) != NULL) {
		_cleanup_free_ char *path = NULL;
		bool dir;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) < 0) {
			path = NULL;
			rc = plate_err_new(err, ENOMEM, "out of memory listing the context");
			break;
		}
		if (strv_add(out, path) < 0)
			rc = plate_err_new(err, ENOMEM, "out of memory listing the context");
		dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			dir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			      S_ISDIR(st.st_mode);
		}
		if (rc == 0 && dir && strcmp(de->d_name, ".git") != 0) {
			int fd = openat(dirfd(d), de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				rc = walk(fd, path, depth + 1, out, err);
		}
	}
	closedir(d);
	return rc;
}

struct image_lookup {
	struct store *store;
	const char *platform;
};

/* What the store knows of a base image (lint_options.image_info): its Env, platform and
 * whether it sets a Shell.  An image not in the store is unknown, never an error. */
static bool image_info(void *data, const char *image, struct lint_image_info *info)
{
	const struct image_lookup *l = data;
	_cleanup_error_ struct plate_error *e = NULL;
	struct store_image *img = NULL;
	const struct oci_config *c;
	bool ok = true;

	if (store_image_resolve(l->store, image, l->platform, &img, &e) < 0)
		return false;
	c = &img->config;
	info->env_known = true;
	for (size_t i = 0; i < c->env.n && ok; i++) {
		const char *eq = strchr(c->env.v[i], '=');
		_cleanup_free_ char *name = eq ? strndup(c->env.v[i], (size_t)(eq - c->env.v[i]))
					       : strdup(c->env.v[i]);
		ok = name != NULL && dockerfile_vars_set(&info->env, name, eq ? eq + 1 : "") == 0;
	}
	if (ok && c->os && c->architecture &&
	    asprintf(&info->platform, "%s/%s%s%s", c->os, c->architecture,
		     c->variant ? "/" : "", c->variant ? c->variant : "") < 0) {
		info->platform = NULL;
		ok = false;
	}
	info->shell_set = c->shell.n > 0;
	store_image_free(img);
	return ok;
}

static int set_build_args(struct dockerfile_vars *vars, const char *const *args, size_t n,
			  struct plate_error **err)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		_cleanup_free_ char *name = eq ? strndup(args[i], (size_t)(eq - args[i]))
					       : strdup(args[i]);
		if (name == NULL || dockerfile_vars_set(vars, name, eq ? eq + 1 : "") < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

int cli_lint_dockerfile(const struct cli_lint_input *in, struct check_report *report,
			struct plate_error **err)
{
	struct strv ctx_entries = STRV_INIT;
	char **patterns = NULL;
	size_t n_patterns = 0;
	struct ignore *ign = NULL;
	struct dockerfile_vars args;
	struct lint_options opt = { .file = in->display_name,
				    .source = in->source,
				    .source_len = in->source_len,
				    .target_platform = in->platform };
	struct image_lookup lookup = { .store = in->store,
				       .platform = in->platform ? in->platform : "linux/amd64" };
	struct lint_policy policy;
	int rc = -1;

	dockerfile_vars_init(&args);
	if (set_build_args(&args, in->build_args, in->n_build_args, err) < 0)
		goto out;
	opt.build_args = &args;
	if (in->store != NULL) {
		opt.image_info = image_info;
		opt.image_info_data = &lookup;
	}
	if (in->context_dir != NULL) {
		_cleanup_close_ int cfd = open(in->context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int wfd;
		if (cfd < 0) {
			plate_err_new(err, errno, "cannot open context '%s'", in->context_dir);
			goto out;
		}
		if (ignore_load_for(cfd, AT_FDCWD, in->dockerfile_path, &patterns, &n_patterns, NULL,
				    err) < 0)
			goto out;
		if (ignore_new((const char *const *)patterns, n_patterns, &ign, err) < 0) {
			plate_err_wrap(err, ".dockerignore");
			goto out;
		}
		wfd = dup(cfd);
		if (wfd < 0) {
			plate_err_new(err, errno, "cannot read context '%s'", in->context_dir);
			goto out;
		}
		if (walk(wfd, "", 0, &ctx_entries, err) < 0)
			goto out;
		opt.context = (const char *const *)ctx_entries.v;
		opt.n_context = ctx_entries.n;
		opt.ignore = ign;
		if (opt.context == NULL)
			opt.context = (const char *const[]){ NULL };
	}
	if (lint_dockerfile(in->df, &opt, report, &policy, err) < 0)
		goto out;
	lint_policy_release(&policy);
	rc = 0;
out:
	strv_release(&ctx_entries);
	strv_free(patterns, n_patterns);
	ignore_free(ign);
	dockerfile_vars_release(&args);
	return rc;
}

static const char usage[] =
	"usage: plate check [--strict] [--format text|json] [--build-arg NAME=VALUE]... "
	"[-f] DOCKERFILE [CONTEXT]\n";

int cli_check_dockerfile(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	/* Outlives the call: main prints parse errors with the offending line. */
	static char *source;
	static size_t source_len;
	_cleanup_(check_report_release) struct check_report report = CHECK_REPORT_INIT;
	_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
	_cleanup_free_ char **build_args = NULL;
	_cleanup_free_ char *dir_copy = NULL;
	const char *file = NULL, *context = NULL, *format = "text";
	struct dockerfile *df = NULL;
	struct store *store = NULL;
	size_t n_build_args = 0;
	bool strict = false;
	int rc;

	build_args = calloc((size_t)argc + 1, sizeof(*build_args));
	if (build_args == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(a, "--strict") == 0) {
			strict = true;
		} else if (strcmp(a, "--format") == 0 || strcmp(a, "-f") == 0 ||
			   strcmp(a, "--build-arg") == 0 || strcmp(a, "--file") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error(ctx, err, "option '%s' needs a value", a);
			if (strcmp(a, "--format") == 0)
				format = argv[++i];
			else if (strcmp(a, "--build-arg") == 0)
				build_args[n_build_args++] = argv[++i];
			else if (file != NULL)
				return cli_usage_error(ctx, err, "check takes one Dockerfile");
			else
				file = argv[++i];
		} else if (strncmp(a, "--format=", 9) == 0) {
			format = a + 9;
		} else if (strncmp(a, "--build-arg=", 12) == 0) {
			build_args[n_build_args++] = argv[i] + 12;
		} else if (a[0] == '-' && a[1] != '\0') {
			return cli_usage_error(ctx, err, "unknown option '%s' for check\n%s", a, usage);
		} else if (file == NULL) {
			file = a;
		} else if (context == NULL) {
			context = a;
		} else {
			return cli_usage_error(ctx, err, "check takes a DOCKERFILE and a CONTEXT\n%s",
					       usage);
		}
	}
	if (file == NULL)
		return cli_usage_error(ctx, err, "check needs a DOCKERFILE\n%s", usage);
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error(ctx, err, "--format must be text or json");
	if (cli_read_file(file, dockerfile_default_limits.max_file + 1, &source, &source_len,
			  err) < 0) {
		if ((*err)->errno_value == EFBIG)
			ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	ctx->error_file = file;
	ctx->error_source = source;
	ctx->error_source_len = source_len;
	if (dockerfile_parse(source, source_len, NULL, &df, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	ctx->error_file = NULL;
	if (context == NULL) {
		dir_copy = strdup(file);
		if (dir_copy == NULL) {
			dockerfile_free(df);
			return plate_err_new(err, ENOMEM, "out of memory");
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
		struct cli_lint_input in = { .df = df,
					     .store = store,
					     .platform = cli_host_platform(),
					     .source = source,
					     .source_len = source_len,
					     .display_name = file,
					     .dockerfile_path = file,
					     .context_dir = context,
					     .build_args = (const char *const *)build_args,
					     .n_build_args = n_build_args };
		rc = cli_lint_dockerfile(&in, &report, err);
	}
	store_free(store);
	dockerfile_free(df);
	if (rc < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	if (strict)
		check_report_apply_policy(&report, NULL, true);
	if (strcmp(format, "json") == 0 ? check_report_render_json(&report, &out, err) < 0
					 : check_report_render_text(&report, &out) < 0)
		return out.len ? -1 : plate_err_new(err, ENOMEM, "out of memory");
	fwrite(out.data, 1, out.len, stdout);
	return check_report_count(&report, CHECK_ERROR) > 0 ? CLI_EXIT_CHECK : CLI_EXIT_OK;
}
