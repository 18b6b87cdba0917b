/*
 * plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]... [--check]
 *             [--no-cache] [--sbom] [--progress auto|tty|plain|json|quiet] [-q]
 *             [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]
 *             [--label KEY=VALUE]... [--platform OS/ARCH] [--network default|none|host]
 *             [--allow network.host]
 *             [--secret id=ID[,src=PATH|,env=VAR]]... [--pull[=missing|always|never]]
 *             [--push] [--check] [--strict] [--max-size SIZE] [--tls-ca FILE]
 *             [--insecure-registry HOST]... CONTEXT
 *
 * Builds the image and stores it (tagged with every -t, untagged without), then runs the
 * image doctor on it (check.c) and prints its findings on stderr (one JSON event line
 * {"type":"check",...} with --progress json, nothing with -q): --strict exits 3 when
 * any warning or error remains, --max-size sets a size budget whose excess exits 3.  Progress goes
 * to stderr; with -q only the image ID is printed, on stdout.  SOURCE_DATE_EPOCH sets the
 * epoch (default 0) that layer mtimes are clamped to and that config dates are.  Ctrl-C
 * stops the build: the sandbox is killed and the store is left as it was.  RUN gets a
 * private network with outbound connections; `RUN --network=host` needs the caller's
 * consent, --allow network.host (BuildKit's entitlement) or --network host.  Base images the
 * store lacks are pulled (--pull); --push or --output type=registry pushes every -t tag.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include "engine/engine.h"

static const char usage[] =
	"usage: plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]...\n"
	"                   [--no-cache] [--sbom] [--progress auto|tty|plain|json|quiet] [-q]\n"
	"                   [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]\n"
	"                   [--label KEY=VALUE]... [--platform OS/ARCH] [--network default|none|host]\n"
	"                   [--allow network.host]\n"
	"                   [--secret id=ID[,src=PATH|,env=VAR]]... [--pull[=missing|always|never]]\n"
	"                   [--push] [--check] [--strict] [--max-size SIZE] [--tls-ca FILE]\n"
	"                   [--insecure-registry HOST]... CONTEXT\n";

struct build_cli {
	struct cli_dockerfile_opts df;
	const char *progress;
	const char *output;
	const char *iidfile;
	const char *network;
	bool allow_host_network;
	const char *pull;
	bool push;
	bool no_cache;
	bool quiet;
	bool check;
	bool strict;
	bool sbom;
	int64_t max_size;
	char **tags;
	size_t n_tags;
	char **labels;
	size_t n_labels;
	char **secret_specs;
	size_t n_secret_specs;
	struct cli_registry reg;
};

static void build_cli_release(struct build_cli *o)
{
	cli_dockerfile_opts_release(&o->df);
	strv_free(o->tags, o->n_tags);
	strv_free(o->labels, o->n_labels);
	strv_free(o->secret_specs, o->n_secret_specs);
	cli_registry_release(&o->reg);
}

static int parse_args(struct cli_ctx *ctx, int argc, char **argv, struct build_cli *o,
		      struct plate_error **err)
{
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m;

		if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
			if (o->df.context != NULL)
				return cli_usage_error(ctx, err, "build takes one CONTEXT, got '%s' and '%s'",
						       o->df.context, argv[i]);
			o->df.context = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--no-cache") == 0) {
			o->no_cache = true;
			continue;
		}
		if (strcmp(argv[i], "--check") == 0) {
			o->check = true;
			continue;
		}
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			o->quiet = true;
			continue;
		}
		if (strcmp(argv[i], "--push") == 0) {
			o->push = true;
			continue;
		}
		/* docker's boolean --pull is "always"; "--pull VALUE" only with a policy name. */
		if (strcmp(argv[i], "--pull") == 0) {
			o->pull = "always";
			if (i + 1 < argc && (strcmp(argv[i + 1], "missing") == 0 ||
					     strcmp(argv[i + 1], "always") == 0 ||
					     strcmp(argv[i + 1], "never") == 0))
				o->pull = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--sbom") == 0) {
			o->sbom = true;
			continue;
		}
		if (strcmp(argv[i], "--strict") == 0) {
			o->strict = true;
			continue;
		}
		if ((m = cli_dockerfile_opt(ctx, &o->df, argc, argv, &i, err)) < 0)
			return -1;
		if (m > 0)
			continue;
		if ((m = cli_take_value(argc, argv, &i, "--tag", "-t", &v)) != 0) {
			if (m > 0 && cli_strv_add(&o->tags, &o->n_tags, v, err) < 0)
				return -1;
		} else if ((m = cli_take_value(argc, argv, &i, "--pull", NULL, &v)) != 0) {
			o->pull = v;
		} else if ((m = cli_take_value(argc, argv, &i, "--tls-ca", NULL, &v)) != 0) {
			if (m > 0 && cli_registry_opt(&o->reg, CLI_OPT_TLS_CA, v, err) < 0)
				return -1;
		} else if ((m = cli_take_value(argc, argv, &i, "--insecure-registry", NULL, &v)) != 0) {
			if (m > 0 && cli_registry_opt(&o->reg, CLI_OPT_INSECURE, v, err) < 0)
				return -1;
		} else if ((m = cli_take_value(argc, argv, &i, "--secure-registry", NULL, &v)) != 0) {
			if (m > 0 && cli_registry_opt(&o->reg, CLI_OPT_SECURE, v, err) < 0)
				return -1;
		} else if ((m = cli_take_value(argc, argv, &i, "--progress", NULL, &v)) != 0) {
			o->progress = v;
		} else if ((m = cli_take_value(argc, argv, &i, "--output", "-o", &v)) != 0) {
			o->output = v;
		} else if ((m = cli_take_value(argc, argv, &i, "--iidfile", NULL, &v)) != 0) {
			o->iidfile = v;
		} else if ((m = cli_take_value(argc, argv, &i, "--label", NULL, &v)) != 0) {
			if (m > 0 && cli_strv_add(&o->labels, &o->n_labels, v, err) < 0)
				return -1;
		} else if ((m = cli_take_value(argc, argv, &i, "--max-size", NULL, &v)) != 0) {
			if (m > 0 && cli_parse_size(v, &o->max_size) < 0)
				return cli_usage_error(ctx, err, "--max-size '%s' is not a size", v);
		} else if ((m = cli_take_value(argc, argv, &i, "--network", NULL, &v)) != 0) {
			o->network = v;
		} else if ((m = cli_take_value(argc, argv, &i, "--allow", NULL, &v)) != 0) {
			if (m > 0 && strcmp(v, "network.host") != 0)
				return cli_usage_error(ctx, err, "--allow '%s': only network.host is "
							      "supported", v);
			o->allow_host_network = true;
		} else if ((m = cli_take_value(argc, argv, &i, "--secret", NULL, &v)) != 0) {
			if (m > 0 && cli_strv_add(&o->secret_specs, &o->n_secret_specs, v, err) < 0)
				return -1;
		} else {
			return cli_usage_error(ctx, err, "unknown option '%s' for build", argv[i]);
		}
		if (m < 0)
			return cli_usage_error(ctx, err, "option '%s' needs a value", argv[i]);
	}
	if (o->df.context == NULL)
		return cli_usage_error(ctx, err, "build needs a CONTEXT directory\n%s", usage);
	return 0;
}

static int parse_pull(struct cli_ctx *ctx, const char *v, enum engine_pull_policy *out,
		      struct plate_error **err)
{
	if (v == NULL || strcmp(v, "missing") == 0 || strcmp(v, "false") == 0)
		*out = ENGINE_PULL_MISSING;
	else if (strcmp(v, "always") == 0 || strcmp(v, "true") == 0)
		*out = ENGINE_PULL_ALWAYS;
	else if (strcmp(v, "never") == 0)
		*out = ENGINE_PULL_NEVER;
	else
		return cli_usage_error(ctx, err, "--pull must be missing, always or never, not '%s'", v);
	return 0;
}

struct pull_ctx {
	struct store *store;
	const struct registry_options *reg;
	bool quiet;
};

/* The engine's pull callback: FROM images the store lacks. */
static int pull_image(void *data, const char *name, const char *platform,
		      struct plate_error **err)
{
	const struct pull_ctx *p = data;
	struct transfer_options to = { .store = p->store, .registry = p->reg,
				       .platform = platform };
	struct transfer_result res = { 0 };

	if (!p->quiet)
		fprintf(stderr, "pulling %s (%s)\n", name, platform);
	if (transfer_pull(&to, name, &res, err) < 0)
		return -1;
	if (!p->quiet)
		fprintf(stderr, "pulled %s: %u of %u blobs fetched (%.1f MiB)\n", name,
			res.transferred, res.blobs, (double)res.bytes / (1 << 20));
	transfer_result_release(&res);
	return 0;
}

/* "type=oci,dest=x.tar", "type=local,dest=dir", or a bare "dir" (type=local). */
static int parse_output(struct cli_ctx *ctx, const char *spec, struct engine_options *eo,
			char **dest, struct build_cli *o, struct plate_error **err)
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
		} else if (strcmp(kv, "name") == 0) {
			if (cli_strv_add(&o->tags, &o->n_tags, eq, err) < 0)
				return -1;
		} else if (strcmp(kv, "push") == 0) {
			o->push = o->push || strcmp(eq, "true") == 0;
		} else {
			return cli_usage_error(ctx, err, "--output: unknown key '%s'", kv);
		}
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
	else if (strncmp(type, "registry", 8) == 0 && (type[8] == ',' || type[8] == '\0')) {
		eo->output = ENGINE_OUTPUT_STORE;
		o->push = true;
	}
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
struct dockerfile_source {
	char *path;
	char *data;
};
static struct dockerfile_source source;

static struct engine *running;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
	if (running != NULL)
		engine_cancel(running);
}

/* The Dockerfile checks of a build: findings go to stdout with --check, else to stderr.  An
 * error finding (`# check=error=true`) stops the build with exit 3. */
static int lint_build(struct cli_ctx *ctx, const struct build_cli *o,
		      const struct dockerfile_source *src, size_t len, const struct dockerfile *df,
		      const char *context, struct store *store, struct plate_error **err)
{
	_cleanup_(check_report_release) struct check_report report = CHECK_REPORT_INIT;
	_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
	bool stdin_file = o->df.file != NULL && strcmp(o->df.file, "-") == 0;
	struct cli_lint_input in = { .df = df,
				     .source = src->data,
				     .source_len = len,
				     .display_name = ctx->error_file,
				     .dockerfile_path = stdin_file ? NULL : src->path,
				     .context_dir = context,
				     .build_args = (const char *const *)o->df.build_args,
				     .n_build_args = o->df.n_build_args,
				     .platform = o->df.platform ? o->df.platform : cli_host_platform(),
				     .store = store };
	size_t errors;

	if (cli_lint_dockerfile(&in, &report, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	if (check_report_render_text(&report, &out) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	fwrite(out.data, 1, out.len, o->check ? stdout : stderr);
	errors = check_report_count(&report, CHECK_ERROR);
	if (errors == 0)
		return CLI_EXIT_OK;
	if (o->check)
		return CLI_EXIT_CHECK;
	ctx->error_file = NULL;
	ctx->error_exit = CLI_EXIT_CHECK;
	return plate_err_new(err, 0, "%zu Dockerfile check error%s (check=error=true)", errors,
			     errors == 1 ? "" : "s");
}

/* The doctor on the image just built: findings on stderr.  A failure of the doctor itself
 * is reported but does not fail the build.  Exit 3 under --strict when anything remains,
 * or when an error remains and a --max-size budget was given. */
static int run_doctor(struct cli_ctx *ctx, struct store *s, const struct build_cli *o,
		      bool json, const char *manifest_digest)
{
	_cleanup_error_ struct plate_error *derr = NULL;
	struct cli_doctor_options d = {
		.strict = o->strict, .max_size = o->max_size, .platform = o->df.platform, .out = stderr,
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
	struct pull_ctx pc;
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
	if ((context = realpath(o.df.context, NULL)) == NULL)
		return plate_err_new(err, errno, "cannot use context '%s'", o.df.context);
	{
		struct stat st;
		if (stat(context, &st) < 0 || !S_ISDIR(st.st_mode))
			return plate_err_new(err, ENOTDIR, "cannot use context '%s'", o.df.context);
	}
	if (o.output != NULL && parse_output(ctx, o.output, &eo, &out_dest, &o, err) < 0)
		return -1;
	if (parse_pull(ctx, o.pull, &eo.pull, err) < 0)
		return -1;
	if (o.push && o.n_tags == 0)
		return cli_usage_error(ctx, err, "--push needs a name (-t REF)");
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
	source.path = cli_dockerfile_path(&o.df);
	if (source.path == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	if (cli_read_file(source.path, dockerfile_default_limits.max_file, &source.data, &len, err) < 0)
		goto out;
	ctx->error_file = o.df.file != NULL && strcmp(o.df.file, "-") == 0 ? "-" : source.path;
	ctx->error_source = source.data;
	ctx->error_source_len = len;
	if (dockerfile_parse(source.data, len, NULL, &df, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	/* --check runs only the Dockerfile checks (BuildKit's `build --check`), without a store:
	 * checking must not create one. */
	if (o.check) {
		rc = lint_build(ctx, &o, &source, len, df, context, NULL, err);
		goto out;
	}
	/* RUN gets the host's resolver configuration, its nameservers adapted by the sandbox to
	 * the default network's DNS forwarder. */
	{
		_cleanup_error_ struct plate_error *ignored = NULL;
		if (cli_read_file("/etc/resolv.conf", 65536, &resolv, &resolv_len, &ignored) < 0)
			resolv = NULL;
	}

	if (cli_registry_setup(&o.reg, err) < 0 || cli_open_store(ctx, &s, err) < 0)
		goto out;
	pc = (struct pull_ctx){ .store = s, .reg = &o.reg.opts,
				.quiet = o.quiet || cli_progress_is_json(progress) };
	eo.pull_image = pull_image;
	eo.pull_data = &pc;
	/* BuildKit runs its build checks before building and prints their warnings; base images
	 * already in the store inform them. */
	{
		int lint_rc = lint_build(ctx, &o, &source, len, df, context, s, err);
		if (lint_rc != CLI_EXIT_OK) {
			rc = lint_rc;
			goto out;
		}
	}
	eo.store = s;
	eo.context_dir = context;
	eo.dockerfile_path = o.df.file != NULL && strcmp(o.df.file, "-") == 0 ? NULL : source.path;
	eo.dockerfile_name = o.df.file != NULL ? ctx->error_file : "Dockerfile";
	eo.target = o.df.target;
	eo.build_args = (const char *const *)o.df.build_args;
	eo.n_build_args = o.df.n_build_args;
	eo.platform = o.df.platform;
	eo.tags = (const char *const *)norm_tags;
	eo.n_tags = o.n_tags;
	eo.labels = (const char *const *)o.labels;
	eo.n_labels = o.n_labels;
	eo.no_cache = o.no_cache;
	eo.allow_host_network = o.allow_host_network || eo.network == ENGINE_NET_HOST;
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
	if (o.sbom && cli_sbom_attach(s, res.manifest_digest, o.df.platform, err) < 0)
		goto out;
	/* The doctor first: a build that fails its checks under --strict is not pushed. */
	rc = run_doctor(ctx, s, &o, cli_progress_is_json(progress), res.manifest_digest);
	if (rc != CLI_EXIT_OK)
		goto out;
	for (size_t i = 0; o.push && i < o.n_tags; i++) {
		struct transfer_options to = { .store = s, .registry = &o.reg.opts,
					       .platform = o.df.platform };
		struct transfer_result pr = { 0 };
		if (transfer_push(&to, res.manifest_digest, norm_tags[i], &pr, err) < 0) {
			rc = -1;
			goto out;
		}
		if (!o.quiet)
			fprintf(stderr, "pushed %s: %u of %u blobs uploaded (%.1f MiB), %s\n",
				cli_familiar_name(pr.name), pr.transferred, pr.blobs,
				(double)pr.bytes / (1 << 20), pr.digest);
		transfer_result_release(&pr);
	}
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
