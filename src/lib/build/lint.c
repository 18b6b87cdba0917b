/*
 * The Dockerfile checks of a build: the I/O lint/ leaves to its caller (the context's file
 * list, its .dockerignore, base images' facts from the store), then lint_dockerfile().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "build/build.h"
#include "ignore/ignore.h"
#include "lint/lint.h"
#include "oci/oci.h"

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
		_cleanup_free_ char *name =
			eq ? strndup(c->env.v[i], (size_t)(eq - c->env.v[i])) : strdup(c->env.v[i]);
		ok = name != NULL && dockerfile_vars_set(&info->env, name, eq ? eq + 1 : "") == 0;
	}
	if (ok && c->os && c->architecture &&
	    asprintf(&info->platform, "%s/%s%s%s", c->os, c->architecture, c->variant ? "/" : "",
		     c->variant ? c->variant : "") < 0) {
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
		_cleanup_free_ char *name =
			eq ? strndup(args[i], (size_t)(eq - args[i])) : strdup(args[i]);
		if (name == NULL || dockerfile_vars_set(vars, name, eq ? eq + 1 : "") < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

int build_lint(const struct build_lint_input *in, struct finding_report *report,
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
	struct oci_strings platforms = { 0 };
	int rc = -1;

	dockerfile_vars_init(&args);
	/* A --platform list is checked for its first platform, as the build's checks are. */
	if (in->platform != NULL && strchr(in->platform, ',') != NULL) {
		if (oci_platforms_parse(in->platform, &platforms, err) < 0)
			goto out;
		opt.target_platform = lookup.platform = platforms.v[0];
	}
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
		if (ignore_load_for(cfd, AT_FDCWD, in->dockerfile_path, &patterns, &n_patterns,
				    NULL, err) < 0)
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
	oci_strings_release(&platforms);
	return rc;
}
