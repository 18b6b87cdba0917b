/*
 * plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]...
 *             [--no-cache] [--progress auto|tty|plain|json|quiet] [-q]
 *             [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]
 *             [--label KEY=VALUE]... [--platform OS/ARCH] [--network default|none|host]
 *             [--secret id=ID[,src=PATH|,env=VAR]]... [--strict] [--max-size SIZE] CONTEXT
 *
 * Builds the image and stores it (tagged with every -t, untagged without), then runs the
 * image doctor on it (check.c) and prints its findings on stderr (one JSON event line
 * {"type":"check",...} with --progress json, nothing with -q): --strict exits 3 when
 * any warning or error remains, --max-size sets a size budget whose excess exits 3.  Progress goes
 * to stderr; with -q only the image ID is printed, on stdout.  SOURCE_DATE_EPOCH sets the
 * epoch (default 0) that layer mtimes are clamped to and that config dates are.  Ctrl-C
 * stops the build: the sandbox is killed and the store is left as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"
#include "engine/engine.h"

static const char usage[] =
	"usage: plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]...\n"
	"                   [--no-cache] [--progress auto|tty|plain|json|quiet] [-q]\n"
	"                   [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]\n"
	"                   [--label KEY=VALUE]... [--platform OS/ARCH] [--network default|none|host]\n"
	"                   [--secret id=ID[,src=PATH|,env=VAR]]... [--strict] [--max-size SIZE]\n"
	"                   CONTEXT\n";

struct build_cli {
	const char *file;
	const char *target;
	const char *progress;
	const char *output;
	const char *iidfile;
	const char *platform;
	const char *network;
	const char *context;
	bool no_cache;
	bool quiet;
	bool strict;
	int64_t max_size;
	char **tags;
	size_t n_tags;
	char **build_args;
	size_t n_build_args;
	char **labels;
	size_t n_labels;
	char **secret_specs;
	size_t n_secret_specs;
};

static void build_cli_release(struct build_cli *o)
{
	strv_free(o->tags, o->n_tags);
	strv_free(o->build_args, o->n_build_args);
	strv_free(o->labels, o->n_labels);
	strv_free(o->secret_specs, o->n_secret_specs);
}

static int push(char ***v, size_t *n, const char *s, struct plate_error **err)
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

/* "--name VALUE", "--name=VALUE", or the short form "-x VALUE". */
static int take(int argc, char **argv, int *i, const char *name, const char *short_name,
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

static int parse_args(struct cli_ctx *ctx, int argc, char **argv, struct build_cli *o,
		      struct plate_error **err)
{
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m;

		if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
			if (o->context != NULL)
				return cli_usage_error(ctx, err, "build takes one CONTEXT, got '%s' and '%s'",
						       o->context, argv[i]);
			o->context = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--no-cache") == 0) {
			o->no_cache = true;
			continue;
		}
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			o->quiet = true;
			continue;
		}
		if (strcmp(argv[i], "--strict") == 0) {
			o->strict = true;
			continue;
		}
		if ((m = take(argc, argv, &i, "--tag", "-t", &v)) != 0) {
			if (m > 0 && push(&o->tags, &o->n_tags, v, err) < 0)
				return -1;
		} else if ((m = take(argc, argv, &i, "--file", "-f", &v)) != 0) {
			o->file = v;
		} else if ((m = take(argc, argv, &i, "--target", NULL, &v)) != 0) {
			o->target = v;
		} else if ((m = take(argc, argv, &i, "--build-arg", NULL, &v)) != 0) {
			if (m > 0) {
				if (strchr(v, '=') == NULL) {
					/* docker: NAME alone takes the value of the environment variable. */
					const char *env = getenv(v);
					_cleanup_free_ char *kv = NULL;
					if (env != NULL) {
						if (asprintf(&kv, "%s=%s", v, env) < 0)
							return plate_err_new(err, ENOMEM, "out of memory");
						if (push(&o->build_args, &o->n_build_args, kv, err) < 0)
							return -1;
					}
				} else if (push(&o->build_args, &o->n_build_args, v, err) < 0) {
					return -1;
				}
			}
		} else if ((m = take(argc, argv, &i, "--progress", NULL, &v)) != 0) {
			o->progress = v;
		} else if ((m = take(argc, argv, &i, "--output", "-o", &v)) != 0) {
			o->output = v;
		} else if ((m = take(argc, argv, &i, "--iidfile", NULL, &v)) != 0) {
			o->iidfile = v;
		} else if ((m = take(argc, argv, &i, "--label", NULL, &v)) != 0) {
			if (m > 0 && push(&o->labels, &o->n_labels, v, err) < 0)
				return -1;
		} else if ((m = take(argc, argv, &i, "--platform", NULL, &v)) != 0) {
			o->platform = v;
		} else if ((m = take(argc, argv, &i, "--max-size", NULL, &v)) != 0) {
			if (m > 0 && cli_parse_size(v, &o->max_size) < 0)
				return cli_usage_error(ctx, err, "--max-size '%s' is not a size", v);
		} else if ((m = take(argc, argv, &i, "--network", NULL, &v)) != 0) {
			o->network = v;
		} else if ((m = take(argc, argv, &i, "--secret", NULL, &v)) != 0) {
			if (m > 0 && push(&o->secret_specs, &o->n_secret_specs, v, err) < 0)
				return -1;
		} else {
			return cli_usage_error(ctx, err, "unknown option '%s' for build", argv[i]);
		}
		if (m < 0)
			return cli_usage_error(ctx, err, "option '%s' needs a value", argv[i]);
	}
	if (o->context == NULL)
		return cli_usage_error(ctx, err, "build needs a CONTEXT directory\n%s", usage);
	return 0;
}

/* "type=oci,dest=x.tar", "type=local,dest=dir", or a bare "dir" (type=local). */
static int parse_output(struct cli_ctx *ctx, const char *spec, struct engine_options *eo,
			char **dest, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *save = NULL, *kv;
	const char *type = NULL;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (strchr(spec, '=') == NULL) {
		eo->output = ENGINE_OUTPUT_LOCAL;
		*dest = strdup(spec);
		return *dest ? 0 : plate_err_new(err, ENOMEM, "out of memory");
	}
	for (kv = strtok_r(copy, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (eq == NULL)
			return cli_usage_error(ctx, err, "--output: '%s' is not KEY=VALUE", kv);
		*eq++ = '\0';
		if (strcmp(kv, "type") == 0)
			type = spec + (eq - copy);
		else if (strcmp(kv, "dest") == 0) {
			free(*dest);
			if ((*dest = strdup(eq)) == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
		} else if (strcmp(kv, "name") != 0 && strcmp(kv, "push") != 0)
			return cli_usage_error(ctx, err, "--output: unknown key '%s'", kv);
	}
	if (type == NULL)
		return cli_usage_error(ctx, err, "--output needs type=oci|docker|local|image");
	if (strncmp(type, "oci", 3) == 0 && (type[3] == ',' || type[3] == '\0'))
		eo->output = ENGINE_OUTPUT_OCI;
	else if (strncmp(type, "docker", 6) == 0 && (type[6] == ',' || type[6] == '\0'))
		eo->output = ENGINE_OUTPUT_DOCKER;
	else if (strncmp(type, "local", 5) == 0 && (type[5] == ',' || type[5] == '\0'))
		eo->output = ENGINE_OUTPUT_LOCAL;
	else if (strncmp(type, "image", 5) == 0 && (type[5] == ',' || type[5] == '\0'))
		eo->output = ENGINE_OUTPUT_STORE;
	else
		return cli_usage_error(ctx, err, "--output: unsupported type in '%s'", spec);
	if (eo->output != ENGINE_OUTPUT_STORE && *dest == NULL)
		return cli_usage_error(ctx, err, "--output '%s' needs dest=PATH", spec);
	return 0;
}

/* "id=ID,src=PATH" | "id=ID,env=VAR" | "id=ID" (the variable ID). */
static int parse_secret(struct cli_ctx *ctx, char *spec, struct engine_secret *s,
			struct plate_error **err)
{
	char *save = NULL, *kv;
	const char *env = NULL;

	*s = (struct engine_secret){ 0 };
	for (kv = strtok_r(spec, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (eq == NULL)
			return cli_usage_error(ctx, err, "--secret: '%s' is not KEY=VALUE", kv);
		*eq++ = '\0';
		if (strcmp(kv, "id") == 0)
			s->id = eq;
		else if (strcmp(kv, "src") == 0 || strcmp(kv, "source") == 0)
			s->path = eq;
		else if (strcmp(kv, "env") == 0)
			env = eq;
		else if (strcmp(kv, "type") != 0)
			return cli_usage_error(ctx, err, "--secret: unknown key '%s'", kv);
	}
	if (s->id == NULL)
		return cli_usage_error(ctx, err, "--secret needs id=ID");
	if (s->path == NULL) {
		s->value = getenv(env ? env : s->id);
		if (s->value == NULL)
			return cli_usage_error(ctx, err, "--secret id=%s: no src= and no variable '%s'",
					       s->id, env ? env : s->id);
	}
	return 0;
}

static char *dockerfile_path(const struct build_cli *o)
{
	char *path = NULL;
	struct stat st;

	if (o->file != NULL)
		return strdup(o->file);
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

static int epoch_from_env(struct cli_ctx *ctx, long long *epoch, struct plate_error **err)
{
	const char *v = getenv("SOURCE_DATE_EPOCH");
	char *end;

	*epoch = 0;
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	*epoch = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || *epoch < 0)
		return cli_usage_error(ctx, err, "SOURCE_DATE_EPOCH '%s' is not a number of seconds", v);
	return 0;
}

/* The Dockerfile's text must outlive cli_cmd_build(): main prints located errors from it. */
static struct {
	char *path;
	char *data;
} source;

static struct engine *running;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
	if (running != NULL)
		engine_cancel(running);
}

/* The doctor on the image just built: findings on stderr.  A failure of the doctor itself
 * is reported but does not fail the build.  Exit 3 under --strict when anything remains,
 * or when an error remains and a --max-size budget was given. */
static int run_doctor(struct cli_ctx *ctx, struct store *s, const struct build_cli *o,
		      bool json, const char *manifest_digest)
{
	_cleanup_error_ struct plate_error *derr = NULL;
	struct cli_doctor_options d = {
		.strict = o->strict, .max_size = o->max_size, .platform = o->platform, .out = stderr,
		.json = json, .event = json, .quiet = o->quiet,
	};
	int r = cli_doctor(ctx, s, manifest_digest, &d, &derr);

	if (r < 0 && o->quiet)
		return CLI_EXIT_OK;
	if (r < 0) {
		_cleanup_free_ char *text = plate_error_format(derr);
		fprintf(stderr, "plate: warning: image check skipped: %s\n",
			text ? text : derr->message);
		return CLI_EXIT_OK;
	}
	return r == CLI_EXIT_CHECK && (o->strict || o->max_size >= 0) ? CLI_EXIT_CHECK : CLI_EXIT_OK;
}

int cli_cmd_build(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	_cleanup_(build_cli_release) struct build_cli o = { .max_size = -1 };
	struct engine_options eo = { 0 };
	struct engine_result res;
	_cleanup_free_ char *context = NULL, *out_dest = NULL, *resolv = NULL;
	_cleanup_free_ char **norm_tags = NULL;
	_cleanup_free_ struct engine_secret *secrets = NULL;
	struct cli_progress *progress = NULL;
	struct dockerfile *df = NULL;
	struct engine *e = NULL;
	struct store *s = NULL;
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	size_t len = 0, resolv_len;
	double t0 = cli_now();
	int rc = -1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
	if (parse_args(ctx, argc, argv, &o, err) < 0 || epoch_from_env(ctx, &eo.epoch, err) < 0)
		return -1;
	if ((context = realpath(o.context, NULL)) == NULL)
		return plate_err_new(err, errno, "cannot use context '%s'", o.context);
	{
		struct stat st;
		if (stat(context, &st) < 0 || !S_ISDIR(st.st_mode))
			return plate_err_new(err, ENOTDIR, "cannot use context '%s'", o.context);
	}
	norm_tags = calloc(o.n_tags + 1, sizeof(*norm_tags));
	secrets = calloc(o.n_secret_specs + 1, sizeof(*secrets));
	if (norm_tags == NULL || secrets == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < o.n_tags; i++)
		if (cli_normalise_name(o.tags[i], true, &norm_tags[i], err) < 0) {
			ctx->error_exit = CLI_EXIT_USAGE;
			goto out;
		}
	for (size_t i = 0; i < o.n_secret_specs; i++)
		if (parse_secret(ctx, o.secret_specs[i], &secrets[i], err) < 0)
			goto out;
	if (o.output != NULL && parse_output(ctx, o.output, &eo, &out_dest, err) < 0)
		goto out;
	if (o.network != NULL) {
		if (strcmp(o.network, "none") == 0)
			eo.network = ENGINE_NET_NONE;
		else if (strcmp(o.network, "host") == 0)
			eo.network = ENGINE_NET_HOST;
		else if (strcmp(o.network, "default") != 0) {
			cli_usage_error(ctx, err, "--network must be default, none or host");
			goto out;
		}
	}
	if (cli_progress_new(o.quiet ? "quiet" : o.progress, &progress, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}

	/* The Dockerfile: -f FILE ("-" for stdin), else CONTEXT/Dockerfile. */
	if (o.file != NULL && strcmp(o.file, "-") == 0) {
		source.path = strdup("/dev/stdin");
	} else {
		source.path = dockerfile_path(&o);
	}
	if (source.path == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	if (cli_read_file(source.path, dockerfile_default_limits.max_file, &source.data, &len, err) < 0)
		goto out;
	ctx->error_file = o.file != NULL && strcmp(o.file, "-") == 0 ? "-" : source.path;
	ctx->error_source = source.data;
	ctx->error_source_len = len;
	if (dockerfile_parse(source.data, len, NULL, &df, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < df->n_warnings; i++)
		fprintf(stderr, "%s:%u: warning: %s\n", ctx->error_file, df->warnings[i].line,
			df->warnings[i].message);
	/* RUN gets the host's resolver configuration (RUN shares the host network). */
	{
		_cleanup_error_ struct plate_error *ignored = NULL;
		if (cli_read_file("/etc/resolv.conf", 65536, &resolv, &resolv_len, &ignored) < 0)
			resolv = NULL;
	}

	if (cli_open_store(ctx, &s, err) < 0)
		goto out;
	eo.store = s;
	eo.context_dir = context;
	eo.dockerfile_path = o.file != NULL && strcmp(o.file, "-") == 0 ? NULL : source.path;
	eo.dockerfile_name = o.file != NULL ? ctx->error_file : "Dockerfile";
	eo.target = o.target;
	eo.build_args = (const char *const *)o.build_args;
	eo.n_build_args = o.n_build_args;
	eo.platform = o.platform;
	eo.tags = (const char *const *)norm_tags;
	eo.n_tags = o.n_tags;
	eo.labels = (const char *const *)o.labels;
	eo.n_labels = o.n_labels;
	eo.no_cache = o.no_cache;
	eo.secrets = secrets;
	eo.n_secrets = o.n_secret_specs;
	eo.resolv_conf = resolv;
	eo.output_dest = out_dest;
	eo.progress = cli_progress_event;
	eo.progress_data = progress;
	if (engine_new(&eo, &e, err) < 0)
		goto out;

	running = e;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = engine_build(e, df, &res, err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	running = NULL;
	if (rc < 0) {
		/* Planning errors point into the Dockerfile (exit 2); build failures do not. */
		ctx->error_exit = (*err)->line > 0 ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
		if (stop_signal != 0)
			ctx->error_exit = 128 + stop_signal;
		goto out;
	}
	rc = -1;
	ctx->error_file = NULL;
	if (o.iidfile != NULL) {
		FILE *f = fopen(o.iidfile, "w");
		if (f == NULL || fprintf(f, "%s", res.image_id) < 0 || fclose(f) != 0) {
			plate_err_new(err, errno, "cannot write '%s'", o.iidfile);
			goto out;
		}
	}
	if (o.quiet) {
		printf("%s\n", res.image_id);
	} else if (!cli_progress_is_json(progress)) {
		fprintf(stderr, "built %s in %.1fs (%u steps, %u cached)\n", res.image_id,
			cli_now() - t0, res.steps, res.cached);
		for (size_t i = 0; i < o.n_tags; i++)
			fprintf(stderr, "tagged %s\n", cli_familiar_name(norm_tags[i]));
	}
	rc = run_doctor(ctx, s, &o, cli_progress_is_json(progress), res.manifest_digest);
out:
	if (norm_tags != NULL)
		for (size_t i = 0; i < o.n_tags; i++)
			free(norm_tags[i]);
	engine_free(e);
	store_free(s);
	dockerfile_free(df);
	cli_progress_free(progress);
	if (rc >= 0) {
		free(steal_pointer(&source.data));
		free(steal_pointer(&source.path));
	}
	return rc;
}
