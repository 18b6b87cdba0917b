/*
 * plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]... [--check]
 *             [--no-cache] [--sbom] [--progress auto|tty|plain|json|quiet] [-q]
 *             [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]
 *             [--label KEY=VALUE]... [--platform OS/ARCH] [--network default|none|host]
 *             [--allow network.host|security.insecure]...
 *             [--secret id=ID[,src=PATH|,env=VAR]]... [--pull[=missing|always|never]]
 *             [--push] [--check] [--strict] [--max-size SIZE] [--tls-ca FILE]
 *             [--insecure-registry HOST]... CONTEXT
 *
 * Builds the image and stores it (tagged with every -t, untagged without), then runs the
 * image doctor on it (build_run(), build/build.h) and prints its findings on stderr (one JSON event line
 * {"type":"check",...} with --progress json, nothing with -q): --strict exits 3 when
 * any warning or error remains, --max-size sets a size budget whose excess exits 3.  Progress goes
 * to stderr; with -q only the image ID is printed, on stdout.  SOURCE_DATE_EPOCH sets the
 * epoch (default 0) that layer mtimes are clamped to and that config dates are.  Ctrl-C
 * stops the build: the sandbox is killed and the store is left as it was.  RUN gets a
 * private network with outbound connections; `RUN --network=host` needs the caller's
 * consent, --allow network.host (BuildKit's entitlement) or --network host.  Base images the
 * store lacks are pulled (--pull); --push or --output type=registry pushes every -t tag.
 * --allow security.insecure lets `RUN --security=insecure` run without the sandbox's
 * seccomp filter and with every capability (BuildKit's entitlement of the same name).
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
#include "build/build.h"
#include "finding/finding.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"
#include "engine/engine.h"

static const char usage[] =
	"usage: plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]...\n"
	"                   [--no-cache] [--sbom] [--progress auto|tty|plain|json|quiet] [-q]\n"
	"                   [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]\n"
	"                   [--label KEY=VALUE]... [--platform OS/ARCH] [--network default|none|host]\n"
	"                   [--allow network.host|security.insecure]...\n"
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
	bool allow_insecure;
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

/* The options without a value. */
static bool take_flag(struct build_cli *o, const char *a)
{
	bool *flag = NULL;

	if (strcmp(a, "--no-cache") == 0)
		flag = &o->no_cache;
	else if (strcmp(a, "--check") == 0)
		flag = &o->check;
	else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
		flag = &o->quiet;
	else if (strcmp(a, "--push") == 0)
		flag = &o->push;
	else if (strcmp(a, "--sbom") == 0)
		flag = &o->sbom;
	else if (strcmp(a, "--strict") == 0)
		flag = &o->strict;
	if (flag != NULL)
		*flag = true;
	return flag != NULL;
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
		if (take_flag(o, argv[i]))
			continue;
		/* docker's boolean --pull is "always"; "--pull VALUE" only with a policy name. */
		if (strcmp(argv[i], "--pull") == 0) {
			o->pull = "always";
			if (i + 1 < argc && (strcmp(argv[i + 1], "missing") == 0 ||
					     strcmp(argv[i + 1], "always") == 0 ||
					     strcmp(argv[i + 1], "never") == 0))
				o->pull = argv[++i];
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
			if (m > 0 && strcmp(v, "network.host") == 0)
				o->allow_host_network = true;
			else if (m > 0 && strcmp(v, "security.insecure") == 0)
				o->allow_insecure = true;
			else if (m > 0)
				return cli_usage_error(ctx, err, "--allow '%s': only network.host and "
							      "security.insecure are supported", v);
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

/* The Dockerfile's text must outlive cli_cmd_build(): main prints located errors from it. */
struct dockerfile_source {
	char *path;
	char *data;
};
static struct dockerfile_source source;

static struct build *running;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
	if (running != NULL)
		build_cancel(running);
}

/* What one `plate build` holds from its options to its end. */
struct build_cmd {
	struct cli_ctx *ctx;
	struct build_cli o;
	struct engine_options eo;
	char *context, *out_dest, *resolv;
	char **norm_tags;
	struct engine_secret *secrets;
	struct cli_progress *progress;
	struct dockerfile *df;
	struct store *store;
	size_t len;
	double t0;
	bool handlers;
	struct sigaction old_int, old_term;
};

static void build_cmd_release(struct build_cmd *c)
{
	if (c->norm_tags != NULL)
		for (size_t i = 0; i < c->o.n_tags; i++)
			free(c->norm_tags[i]);
	free(c->norm_tags);
	build_cli_release(&c->o);
	free(c->context);
	free(c->out_dest);
	free(c->resolv);
	free(c->secrets);
	cli_progress_free(c->progress);
	dockerfile_free(c->df);
	store_free(c->store);
}

/* Ctrl-C stops the build while it builds; once the image is stored, signals act as usual. */
static void handle_signals(struct build_cmd *c, bool on)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (on && !c->handlers) {
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &c->old_int);
		sigaction(SIGTERM, &sa, &c->old_term);
	} else if (!on && c->handlers) {
		sigaction(SIGINT, &c->old_int, NULL);
		sigaction(SIGTERM, &c->old_term, NULL);
	}
	c->handlers = on;
}

/* Options into the engine's terms: context, outputs, pull policy, names, secrets, network. */
static int prepare(struct build_cmd *c, struct plate_error **err)
{
	struct cli_ctx *ctx = c->ctx;
	struct build_cli *o = &c->o;
	struct stat st;

	if ((c->context = realpath(o->df.context, NULL)) == NULL)
		return plate_err_new(err, errno, "cannot use context '%s'", o->df.context);
	if (stat(c->context, &st) < 0 || !S_ISDIR(st.st_mode))
		return plate_err_new(err, ENOTDIR, "context '%s' is not a directory", o->df.context);
	if (o->output != NULL && parse_output(ctx, o->output, &c->eo, &c->out_dest, o, err) < 0)
		return -1;
	if (parse_pull(ctx, o->pull, &c->eo.pull, err) < 0)
		return -1;
	if (o->push && o->n_tags == 0)
		return cli_usage_error(ctx, err, "--push needs a name (-t REF)");
	c->norm_tags = calloc(o->n_tags + 1, sizeof(*c->norm_tags));
	c->secrets = calloc(o->n_secret_specs + 1, sizeof(*c->secrets));
	if (c->norm_tags == NULL || c->secrets == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < o->n_tags; i++)
		if (cli_normalise_name(o->tags[i], true, &c->norm_tags[i], err) < 0) {
			ctx->error_exit = CLI_EXIT_USAGE;
			return -1;
		}
	for (size_t i = 0; i < o->n_secret_specs; i++)
		if (parse_secret(ctx, o->secret_specs[i], &c->secrets[i], err) < 0)
			return -1;
	if (o->network != NULL) {
		if (strcmp(o->network, "none") == 0)
			c->eo.network = ENGINE_NET_NONE;
		else if (strcmp(o->network, "host") == 0)
			c->eo.network = ENGINE_NET_HOST;
		else if (strcmp(o->network, "default") != 0)
			return cli_usage_error(ctx, err, "--network must be default, none or host");
	}
	if (cli_progress_new(o->quiet ? "quiet" : o->progress, &c->progress, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	return 0;
}

/* The Dockerfile: -f FILE ("-" for stdin), else CONTEXT/Dockerfile. */
static int read_dockerfile(struct build_cmd *c, struct plate_error **err)
{
	struct cli_ctx *ctx = c->ctx;
	bool stdin_file = c->o.df.file != NULL && strcmp(c->o.df.file, "-") == 0;

	source.path = cli_dockerfile_path(&c->o.df);
	if (source.path == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (cli_read_file(source.path, dockerfile_default_limits.max_file, &source.data, &c->len,
			  err) < 0)
		return -1;
	ctx->error_file = stdin_file ? "-" : source.path;
	ctx->error_source = source.data;
	ctx->error_source_len = c->len;
	if (dockerfile_parse(source.data, c->len, NULL, &c->df, err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	c->eo.context_dir = c->context;
	c->eo.dockerfile_path = stdin_file ? NULL : source.path;
	c->eo.dockerfile_name = c->o.df.file != NULL ? ctx->error_file : "Dockerfile";
	c->eo.build_args = (const char *const *)c->o.df.build_args;
	c->eo.n_build_args = c->o.df.n_build_args;
	c->eo.platform = c->o.df.platform;
	return 0;
}

/* --check: only the Dockerfile checks (BuildKit's `build --check`), findings on stdout,
 * without a store: checking must not create one. */
static int check_only(struct build_cmd *c, struct plate_error **err)
{
	_cleanup_(finding_report_release) struct finding_report report = FINDING_REPORT_INIT;
	struct build_lint_input in = {
		.df = c->df, .source = source.data, .source_len = c->len,
		.display_name = c->ctx->error_file, .dockerfile_path = c->eo.dockerfile_path,
		.context_dir = c->context, .build_args = c->eo.build_args,
		.n_build_args = c->eo.n_build_args,
		.platform = c->o.df.platform ? c->o.df.platform : cli_host_platform(),
	};

	if (build_lint(&in, &report, err) < 0) {
		c->ctx->error_exit = CLI_EXIT_USAGE;
		return -1;
	}
	if (cli_render_findings(&report, false, false, stdout, err) < 0)
		return -1;
	return finding_report_count(&report, FINDING_ERROR) > 0 ? CLI_EXIT_CHECK : CLI_EXIT_OK;
}

/* The image is stored: --iidfile, then the ID (-q) or the summary. */
static int built(struct build_cmd *c, const struct engine_result *res, struct plate_error **err)
{
	handle_signals(c, false);
	c->ctx->error_file = NULL;
	if (c->o.iidfile != NULL) {
		FILE *f = fopen(c->o.iidfile, "w");
		if (f == NULL || fprintf(f, "%s", res->image_id) < 0 || fclose(f) != 0)
			return plate_err_new(err, errno, "cannot write '%s'", c->o.iidfile);
	}
	if (c->o.quiet) {
		printf("%s\n", res->image_id);
	} else if (!cli_progress_is_json(c->progress)) {
		fprintf(stderr, "built %s in %.1fs (%u steps, %u cached)\n", res->image_id,
			cli_now() - c->t0, res->steps, res->cached);
		for (size_t i = 0; i < c->o.n_tags; i++)
			fprintf(stderr, "tagged %s\n", oci_familiar_name(c->norm_tags[i]));
	}
	return 0;
}

/* The pipeline's events on stderr: the Dockerfile checks' findings always, pulls unless -q
 * or json progress, the doctor's findings (a json event with json progress) and pushes
 * unless -q. */
static int on_event(void *data, const struct build_event *ev, struct plate_error **err)
{
	struct build_cmd *c = data;
	bool quiet = c->o.quiet, json = cli_progress_is_json(c->progress);
	const struct transfer_result *t = ev->transfer;

	switch (ev->type) {
	case BUILD_EVENT_LINT:
		return cli_render_findings(ev->report, false, false, stderr, err);
	case BUILD_EVENT_PULL:
		if (!quiet && !json)
			fprintf(stderr, "pulling %s (%s)\n", ev->name, ev->platform);
		return 0;
	case BUILD_EVENT_PULLED:
		if (!quiet && !json)
			fprintf(stderr, "pulled %s: %u of %u blobs fetched (%.1f MiB)\n", ev->name,
				t->transferred, t->blobs, (double)t->bytes / (1 << 20));
		return 0;
	case BUILD_EVENT_BUILT:
		return built(c, ev->image, err);
	case BUILD_EVENT_CHECK:
		return quiet ? 0 : cli_render_findings(ev->report, json, json, stderr, err);
	case BUILD_EVENT_CHECK_SKIPPED:
		if (!quiet) {
			_cleanup_free_ char *text = plate_error_format(ev->error);
			fprintf(stderr, "plate: warning: image check skipped: %s\n",
				text ? text : ev->error->message);
		}
		return 0;
	case BUILD_EVENT_PUSHED:
		if (!quiet)
			fprintf(stderr, "pushed %s: %u of %u blobs uploaded (%.1f MiB), %s\n",
				oci_familiar_name(t->name), t->transferred, t->blobs,
				(double)t->bytes / (1 << 20), t->digest);
		return 0;
	default:
		return 0;
	}
}

/* The exit status of a build: errors in the Dockerfile's checks or planning exit 2,
 * findings that fail the build 3, a build stopped by a signal 128 + the signal. */
static int exit_status(struct build_cmd *c, int rc, const struct build_result *res,
		       struct plate_error **err)
{
	struct cli_ctx *ctx = c->ctx;

	if (rc < 0) {
		if (res->phase == BUILD_PHASE_LINT)
			ctx->error_exit = CLI_EXIT_USAGE;
		else if (res->phase == BUILD_PHASE_ENGINE)
			ctx->error_exit = (*err)->line > 0 ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
		else
			ctx->error_file = NULL;
		if (stop_signal != 0 && res->phase != BUILD_PHASE_PUBLISH)
			ctx->error_exit = 128 + stop_signal;
		return -1;
	}
	if (res->outcome == BUILD_LINT_FAILED) {
		ctx->error_file = NULL;
		ctx->error_exit = CLI_EXIT_CHECK;
		return plate_err_new(err, 0, "%zu Dockerfile check error%s (check=error=true)",
				     res->lint_errors, res->lint_errors == 1 ? "" : "s");
	}
	return res->outcome == BUILD_CHECK_FAILED ? CLI_EXIT_CHECK : CLI_EXIT_OK;
}

int cli_cmd_build(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	_cleanup_(build_cmd_release) struct build_cmd c = { .ctx = ctx, .o = { .max_size = -1 },
							    .t0 = cli_now() };
	struct build_options bo;
	struct build_result res;
	struct build *b = NULL;
	size_t resolv_len;
	int rc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
	if (parse_args(ctx, argc, argv, &c.o, err) < 0 || cli_source_date_epoch(ctx, &c.eo.epoch, err) < 0 ||
	    prepare(&c, err) < 0 || read_dockerfile(&c, err) < 0)
		return -1;
	if (c.o.check)
		return check_only(&c, err);
	/* RUN gets the host's resolver configuration, its nameservers adapted by the sandbox to
	 * the default network's DNS forwarder. */
	{
		_cleanup_error_ struct plate_error *ignored = NULL;
		if (cli_read_file("/etc/resolv.conf", 65536, &c.resolv, &resolv_len, &ignored) < 0)
			c.resolv = NULL;
	}
	if (cli_registry_setup(&c.o.reg, err) < 0 || cli_open_store(ctx, &c.store, err) < 0)
		return -1;
	c.eo.target = c.o.df.target;
	c.eo.tags = (const char *const *)c.norm_tags;
	c.eo.n_tags = c.o.n_tags;
	c.eo.labels = (const char *const *)c.o.labels;
	c.eo.n_labels = c.o.n_labels;
	c.eo.no_cache = c.o.no_cache;
	c.eo.allow_host_network = c.o.allow_host_network || c.eo.network == ENGINE_NET_HOST;
	c.eo.allow_insecure = c.o.allow_insecure;
	c.eo.secrets = c.secrets;
	c.eo.n_secrets = c.o.n_secret_specs;
	c.eo.resolv_conf = c.resolv;
	c.eo.output_dest = c.out_dest;
	c.eo.progress = cli_progress_event;
	c.eo.progress_data = c.progress;
	bo = (struct build_options){
		.engine = c.eo, .store = c.store, .registry = &c.o.reg.opts, .df = c.df,
		.source = source.data, .source_len = c.len, .display_name = ctx->error_file,
		.host_platform = cli_host_platform(), .sbom = c.o.sbom, .strict = c.o.strict,
		.max_size = c.o.max_size, .push = c.o.push, .event = on_event, .event_data = &c,
	};
	if (build_new(&bo, &b, err) < 0)
		return -1;
	running = b;
	handle_signals(&c, true);
	rc = build_run(b, &res, err);
	handle_signals(&c, false);
	running = NULL;
	build_free(b);
	rc = exit_status(&c, rc, &res, err);
	if (rc >= 0) {
		free(steal_pointer(&source.data));
		free(steal_pointer(&source.path));
	}
	return rc;
}
