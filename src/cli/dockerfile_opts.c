/* The options build and plan share: -f/--file, --target, --platform, --build-arg, and where
 * the Dockerfile is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "cli.h"

int cli_strv_add(char ***v, size_t *n, const char *s, struct plate_error **err)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(**v));
	char *copy = strdup(s);

	if (grown != NULL)
		*v = grown;
	if (grown == NULL || copy == NULL) {
		free(copy);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	grown[(*n)++] = copy;
	return 0;
}

static int add_build_arg(struct cli_dockerfile_opts *o, const char *arg, struct plate_error **err)
{
	_cleanup_free_ char *kv = NULL;
	const char *value;

	if (strchr(arg, '=') != NULL)
		return cli_strv_add(&o->build_args, &o->n_build_args, arg, err);
	/* docker: a bare NAME takes the value of the environment variable, if any. */
	if ((value = getenv(arg)) == NULL)
		return 0;
	if (asprintf(&kv, "%s=%s", arg, value) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	return cli_strv_add(&o->build_args, &o->n_build_args, kv, err);
}

int cli_dockerfile_getopt(struct cli_dockerfile_opts *o, int c, const char *arg,
			  struct plate_error **err)
{
	switch (c) {
	case 'f':
		o->file = arg;
		return 1;
	case CLI_OPT_TARGET:
		o->target = arg;
		return 1;
	case CLI_OPT_PLATFORM:
		o->platform = arg;
		return 1;
	case CLI_OPT_BUILD_ARG:
		return add_build_arg(o, arg, err) < 0 ? -1 : 1;
	default:
		return 0;
	}
}

void cli_dockerfile_opts_release(struct cli_dockerfile_opts *o)
{
	strv_free(o->build_args, o->n_build_args);
}

char *cli_dockerfile_path(const struct cli_dockerfile_opts *o)
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
