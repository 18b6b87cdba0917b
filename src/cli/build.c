/*
 * plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]... [--check]
 *             [--no-cache] [--sbom] [--progress auto|tty|plain|json|quiet] [-q]
 *             [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]
 *             [--label KEY=VALUE]... [--platform OS/ARCH] [--network default|none|host]
 *             [--allow network.host|security.insecure]...
 *             [--secret id=ID[,src=PATH|,env=VAR]]... [--pull[=missing|always|never]]
 *             [--push] [--check] [--strict] [--max-size SIZE] [--tls-ca FILE]
 *             [--insecure-registry HOST]... [--cache-to SPEC]... [--cache-from SPEC]...
 *             CONTEXT
 *
 * Builds the image and stores it (tagged with every -t, untagged without), then runs the
 * image doctor on it (build_run(), build/build.h) and prints its findings on stderr (one JSON event line
 * {"type":"check",...} with --progress json, nothing with -q): --strict exits 3 when
 * any warning or error remains, --max-size sets a size budget whose excess exits 3.  Progress goes
 * to stderr; with -q only the image ID is printed, on stdout.  The epoch that layer mtimes
 * are clamped to and that config dates are comes from SOURCE_DATE_EPOCH, else git HEAD
 * (epoch.c).  Ctrl-C
 * stops the build: the sandbox is killed and the store is left as it was.  RUN gets a
 * private network with outbound connections; `RUN --network=host` needs the caller's
 * consent, --allow network.host (BuildKit's entitlement) or --network host.  Base images the
 * store lacks are pulled (--pull); --push or --output type=registry pushes every -t tag.
 * --allow security.insecure lets `RUN --security=insecure` run without the sandbox's
 * seccomp filter and with every capability (BuildKit's entitlement of the same name).
 * --cache-to / --cache-from share the build cache through a registry, a directory or the
 * image (docs/internals/cache.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/output.h"
#include "build/build.h"
#include "finding/finding.h"
#include "cli.h"
#include "dockerfile/dockerfile.h"
#include "engine/engine.h"
#include "sandbox/sandbox.h"

#include <jansson.h>

static const char usage[] =
	"usage: plate build [-t REF]... [-f FILE] [--target STAGE] [--build-arg NAME[=VALUE]]...\n"
	"                   [--no-cache] [--sbom] [--progress auto|tty|plain|json|quiet] [-q]\n"
	"                   [--output type=oci|docker|local|image[,dest=PATH]] [--iidfile FILE]\n"
	"                   [--label KEY=VALUE]... [--platform OS/ARCH] [--network "
	"default|none|host]\n"
	"                   [--isolation auto|namespaces|chroot]\n"
	"                   [--allow network.host|security.insecure]...\n"
	"                   [--secret id=ID[,src=PATH|,env=VAR]]... "
	"[--pull[=missing|always|never]]\n"
	"                   [--push] [--check] [--strict] [--max-size SIZE] [--tls-ca FILE]\n"
	"                   [--insecure-registry HOST]... [--cache-to SPEC]... [--cache-from "
	"SPEC]...\n"
	"                   CONTEXT\n"
	"  SPEC: type=registry,ref=REF[,mode=min|max] | type=local,dest=DIR|src=DIR[,tag=T]\n"
	"        | type=inline | REF (--cache-from: an image with an inline cache)\n";

struct build_cli {
	struct cli_dockerfile_opts df;
	const char *progress;
	const char *output;
	const char *iidfile;
	const char *network;
	const char *isolation;
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
	char **cache_from;
	size_t n_cache_from;
	char **cache_to;
	size_t n_cache_to;
	struct cli_registry reg;
};

static void build_cli_release(struct build_cli *o)
{
	cli_dockerfile_opts_release(&o->df);
	strv_free(o->tags, o->n_tags);
	strv_free(o->labels, o->n_labels);
	strv_free(o->secret_specs, o->n_secret_specs);
	strv_free(o->cache_from, o->n_cache_from);
	strv_free(o->cache_to, o->n_cache_to);
	cli_registry_release(&o->reg);
}

enum {
	OPT_NO_CACHE = 0x1201,
	OPT_CHECK,
	OPT_PUSH,
	OPT_SBOM,
	OPT_STRICT,
	OPT_PULL,
	OPT_PROGRESS,
	OPT_IIDFILE,
	OPT_LABEL,
	OPT_MAX_SIZE,
	OPT_NETWORK,
	OPT_ALLOW,
	OPT_SECRET,
	OPT_CACHE_FROM,
	OPT_CACHE_TO,
	OPT_ISOLATION,
};

static const struct option longopts[] = {
	CLI_DOCKERFILE_LONGOPTS,
	CLI_REGISTRY_LONGOPTS,
	{ "tag", required_argument, NULL, 't' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "output", required_argument, NULL, 'o' },
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "push", no_argument, NULL, OPT_PUSH },
	{ "sbom", no_argument, NULL, OPT_SBOM },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "pull", optional_argument, NULL, OPT_PULL },
	{ "progress", required_argument, NULL, OPT_PROGRESS },
	{ "iidfile", required_argument, NULL, OPT_IIDFILE },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "isolation", required_argument, NULL, OPT_ISOLATION },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "secret", required_argument, NULL, OPT_SECRET },
	{ "cache-from", required_argument, NULL, OPT_CACHE_FROM },
	{ "cache-to", required_argument, NULL, OPT_CACHE_TO },
	{ NULL, 0, NULL, 0 },
};

/* docker's boolean --pull is "always"; "--pull VALUE" only with a policy name. */
static const char *pull_value(int argc, char **argv)
{
	const char *next = optind < argc ? argv[optind] : NULL;

	if (optarg != NULL)
		return optarg;
	if (next != NULL && (strcmp(next, "missing") == 0 || strcmp(next, "always") == 0 ||
			     strcmp(next, "never") == 0)) {
		optind++;
		return next;
	}
	return "always";
}

static int take_allow(struct cli_ctx *ctx, struct build_cli *o, const char *v,
		      struct plate_error **err)
{
	if (strcmp(v, "network.host") == 0)
		o->allow_host_network = true;
	else if (strcmp(v, "security.insecure") == 0)
		o->allow_insecure = true;
	else
		return cli_usage_error(ctx, err,
				       "--allow '%s': only network.host and "
				       "security.insecure are supported",
				       v);
	return 0;
}

/* The options without a value: the flag they set, or NULL. */
static bool *flag_of(struct build_cli *o, int c)
{
	switch (c) {
	case 'q':
		return &o->quiet;
	case OPT_NO_CACHE:
		return &o->no_cache;
	case OPT_CHECK:
		return &o->check;
	case OPT_PUSH:
		return &o->push;
	case OPT_SBOM:
		return &o->sbom;
	case OPT_STRICT:
		return &o->strict;
	default:
		return NULL;
	}
}

/* The repeatable options: the list they add to, or NULL. */
static char ***list_of(struct build_cli *o, int c, size_t **n)
{
	switch (c) {
	case 't':
		return *n = &o->n_tags, &o->tags;
	case OPT_LABEL:
		return *n = &o->n_labels, &o->labels;
	case OPT_SECRET:
		return *n = &o->n_secret_specs, &o->secret_specs;
	case OPT_CACHE_FROM:
		return *n = &o->n_cache_from, &o->cache_from;
	case OPT_CACHE_TO:
		return *n = &o->n_cache_to, &o->cache_to;
	default:
		return NULL;
	}
}

/* The options that are not the Dockerfile's or the registry's: 0, or -1 with *err. */
static int take_opt(struct cli_ctx *ctx, struct build_cli *o, int c, int argc, char **argv,
		    struct plate_error **err)
{
	bool *flag = flag_of(o, c);
	size_t *n = NULL;
	char ***list = list_of(o, c, &n);
	const char **value = c == 'o'		  ? &o->output
			     : c == OPT_PROGRESS  ? &o->progress
			     : c == OPT_IIDFILE	  ? &o->iidfile
			     : c == OPT_NETWORK	  ? &o->network
			     : c == OPT_ISOLATION ? &o->isolation
						  : NULL;

	if (flag != NULL)
		*flag = true;
	else if (list != NULL)
		return cli_strv_add(list, n, optarg, err);
	else if (value != NULL)
		*value = optarg;
	else if (c == OPT_PULL)
		o->pull = pull_value(argc, argv);
	else if (c == OPT_ALLOW)
		return take_allow(ctx, o, optarg, err);
	else if (c == OPT_MAX_SIZE && cli_parse_size(optarg, &o->max_size) < 0)
		return cli_usage_error(ctx, err, "--max-size '%s' is not a size", optarg);
	else if (c == ':')
		return cli_usage_error(ctx, err, "option '%s' needs a value", argv[optind - 1]);
	else if (c != OPT_MAX_SIZE)
		return cli_bad_option(ctx, "build", argv, err);
	return 0;
}

static int parse_args(struct cli_ctx *ctx, int argc, char **argv, struct build_cli *o,
		      struct plate_error **err)
{
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":f:t:qo:", longopts)) != -1) {
		if ((r = cli_dockerfile_getopt(&o->df, c, optarg, err)) == 0)
			r = cli_registry_opt(&o->reg, c, optarg, err);
		if (r < 0 || (r == 0 && take_opt(ctx, o, c, argc, argv, err) < 0))
			return -1;
	}
	if (argc - optind > 1)
		return cli_usage_error(ctx, err, "build takes one CONTEXT, got '%s' and '%s'",
				       argv[optind], argv[optind + 1]);
	if (optind == argc)
		return cli_usage_error(ctx, err, "build needs a CONTEXT directory\n%s", usage);
	o->df.context = argv[optind];
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
		return cli_usage_error(ctx, err,
				       "--pull must be missing, always or never, not '%s'", v);
	return 0;
}

/* BuildKit's names: "uncompressed" is the store's own default. */
static int parse_compression(struct cli_ctx *ctx, const char *v, struct engine_options *eo,
			     struct plate_error **err)
{
	if (strcmp(v, "uncompressed") == 0)
		eo->layer_compression = "none";
	else if (strcmp(v, "gzip") == 0 || strcmp(v, "zstd") == 0)
		eo->layer_compression = strcmp(v, "gzip") == 0 ? "gzip" : "zstd";
	else
		return cli_usage_error(ctx, err,
				       "--output: compression must be uncompressed, gzip or zstd, "
				       "not '%s'",
				       v);
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
		} else if (strcmp(kv, "compression") == 0) {
			if (parse_compression(ctx, eq, eo, err) < 0)
				return -1;
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
	} else
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
			return cli_usage_error(ctx, err,
					       "--secret id=%s: no src= and no variable '%s'",
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
	struct build_cache_spec *cache_from, *cache_to;
	enum engine_cache_export cache_mode;
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
	free(c->cache_from);
	free(c->cache_to);
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

/* --isolation, else $PLATE_ISOLATION, else auto: a forced mode lets chroot isolation be
 * tried where namespaces work too (tests, a host that should not nest namespaces). */
static int parse_isolation(struct cli_ctx *ctx, const char *opt, enum engine_isolation *out,
			   struct plate_error **err)
{
	const char *v = opt != NULL ? opt : getenv("PLATE_ISOLATION");

	if (v == NULL || *v == '\0' || strcmp(v, "auto") == 0)
		*out = ENGINE_ISOLATION_AUTO;
	else if (strcmp(v, "namespaces") == 0)
		*out = ENGINE_ISOLATION_NAMESPACES;
	else if (strcmp(v, "chroot") == 0)
		*out = ENGINE_ISOLATION_CHROOT;
	else
		return cli_usage_error(ctx, err, "%s '%s': must be auto, namespaces or chroot",
				       opt != NULL ? "--isolation" : "PLATE_ISOLATION", v);
	return 0;
}

/* --cache-from and --cache-to into the pipeline's terms. */
static int prepare_cache(struct build_cmd *c, struct plate_error **err)
{
	struct build_cli *o = &c->o;

	c->cache_mode = ENGINE_CACHE_EXPORT_MIN;
	c->cache_from = calloc(o->n_cache_from + 1, sizeof(*c->cache_from));
	c->cache_to = calloc(o->n_cache_to + 1, sizeof(*c->cache_to));
	if (c->cache_from == NULL || c->cache_to == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < o->n_cache_from; i++)
		if (cli_cache_spec(c->ctx, "--cache-from", o->cache_from[i], &c->cache_from[i],
				   &c->cache_mode, err) < 0)
			return -1;
	for (size_t i = 0; i < o->n_cache_to; i++)
		if (cli_cache_spec(c->ctx, "--cache-to", o->cache_to[i], &c->cache_to[i],
				   &c->cache_mode, err) < 0)
			return -1;
	return 0;
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
		return plate_err_new(err, ENOTDIR, "context '%s' is not a directory",
				     o->df.context);
	if (o->output != NULL && parse_output(ctx, o->output, &c->eo, &c->out_dest, o, err) < 0)
		return -1;
	if (parse_pull(ctx, o->pull, &c->eo.pull, err) < 0 || prepare_cache(c, err) < 0)
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
	if (parse_isolation(ctx, o->isolation, &c->eo.isolation, err) < 0)
		return -1;
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
		.df = c->df,
		.source = source.data,
		.source_len = c->len,
		.display_name = c->ctx->error_file,
		.dockerfile_path = c->eo.dockerfile_path,
		.context_dir = c->context,
		.build_args = c->eo.build_args,
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

/* One line of --progress json on stderr; takes o. */
static void json_event(json_t *o)
{
	_cleanup_free_ char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	if (text != NULL)
		fprintf(stderr, "%s\n", text);
	json_decref(o);
}

/* The last event of --progress json: what was built, under which names. */
static json_t *result_event(const struct build_cmd *c, const struct engine_result *r)
{
	json_t *tags = json_array();

	for (size_t i = 0; tags != NULL && i < c->o.n_tags; i++)
		json_array_append_new(tags, json_string(c->norm_tags[i]));
	return json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:f}", "type", "result", "id", r->image_id,
			 "digest", r->manifest_digest, "tags", tags ? tags : json_array(), "steps",
			 (int)r->steps, "cached", (int)r->cached, "seconds", cli_now() - c->t0);
}

/* Which epoch dates the image, and why: a build made from a checkout is dated by its
 * commit, one made elsewhere by 1970. */
static void announce_epoch(struct build_cmd *c, const char *from)
{
	if (c->o.quiet)
		return;
	if (cli_progress_is_json(c->progress))
		json_event(json_pack("{s:s, s:I, s:s}", "type", "epoch", "epoch",
				     (json_int_t)c->eo.epoch, "source", from));
	else
		fprintf(stderr, "SOURCE_DATE_EPOCH=%lld (%s)\n", c->eo.epoch, cli_safe(from));
}

/* The image is stored: --iidfile, then the ID (-q: on stdout, unless an archive is there)
 * or the summary. */
static int built(struct build_cmd *c, const struct engine_result *res, struct plate_error **err)
{
	handle_signals(c, false);
	cli_progress_finish(c->progress, true);
	c->ctx->error_file = NULL;
	if (c->o.iidfile != NULL) {
		FILE *f = fopen(c->o.iidfile, "w");
		if (f == NULL || fprintf(f, "%s", res->image_id) < 0 || fclose(f) != 0)
			return plate_err_new(err, errno, "cannot write '%s'", c->o.iidfile);
	}
	if (c->o.quiet) {
		/* An archive written to standard output (dest=-) keeps it to itself. */
		fprintf(c->out_dest != NULL && strcmp(c->out_dest, "-") == 0 ? stderr : stdout,
			"%s\n", res->image_id);
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
			cli_progress_note(c->progress, "pulling %s (%s)\n", ev->name, ev->platform);
		return 0;
	case BUILD_EVENT_PULLED:
		if (!quiet && !json)
			cli_progress_note(c->progress,
					  "pulled %s: %u of %u blobs fetched (%.1f MiB)\n",
					  ev->name, t->transferred, t->blobs,
					  (double)t->bytes / (1 << 20));
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
	case BUILD_EVENT_CACHE_WARNING: {
		_cleanup_free_ char *text = plate_error_format(ev->error);
		fprintf(stderr, "plate: warning: cache '%s' not used: %s\n", cli_safe(ev->name),
			cli_safe(text ? text : ev->error->message));
		return 0;
	}
	case BUILD_EVENT_CACHE_EXPORTED:
		if (!quiet)
			fprintf(stderr, "cache exported to %s: %u files written (%.1f MiB)\n",
				cli_safe(ev->name), t->transferred, (double)t->bytes / (1 << 20));
		return 0;
	default:
		return 0;
	}
}

/* Rootless, outside the user namespace: what the build prints (stdout and stderr) is held
 * in memory until it is known whether the build needs the namespace.  Then it is either
 * written out, or dropped and the build starts again inside, which prints it all. */
struct held_output {
	int saved[2]; /* the real stdout and stderr */
	int mem[2];
};

static int hold_output(struct held_output *h, struct plate_error **err)
{
	*h = (struct held_output){ .saved = { -1, -1 }, .mem = { -1, -1 } };
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		h->saved[i] = fcntl(i + 1, F_DUPFD_CLOEXEC, 3);
		h->mem[i] = memfd_create("plate-held-output", MFD_CLOEXEC);
		if (h->saved[i] < 0 || h->mem[i] < 0 || dup2(h->mem[i], i + 1) < 0) {
			int e = errno;
			for (int k = 0; k <= i; k++) {
				if (h->saved[k] >= 0)
					dup2(h->saved[k], k + 1);
				close(h->saved[k]);
				close(h->mem[k]);
			}
			return plate_err_new(err, e, "cannot hold the build's output");
		}
	}
	return 0;
}

/* The real stdout and stderr back; what was held written to them (stderr first: stdout
 * only carries the image ID of -q, printed last), unless dropped. */
static void release_output(struct held_output *h, bool write_out)
{
	char chunk[8192];

	fflush(stdout);
	fflush(stderr);
	for (int k = 2; k >= 1; k--) {
		int i = k - 1;
		ssize_t n;

		dup2(h->saved[i], k);
		close(h->saved[i]);
		if (write_out && lseek(h->mem[i], 0, SEEK_SET) == 0)
			while ((n = read(h->mem[i], chunk, sizeof(chunk))) > 0)
				if (write_all(k, chunk, (size_t)n) < 0)
					break;
		close(h->mem[i]);
	}
}

/* Whether this rootless build can start outside the user namespace, on the chance that
 * the store holds all it needs: not when it surely needs the namespace (--no-cache, a
 * shared cache, an output or an SBOM made from the layers' files, --pull=always), reads a
 * Dockerfile that is not a regular file (a pipe, -f - or /dev/stdin of one, cannot be read
 * by a second start), pushes (a second push), builds several platforms (their engines'
 * runs are not told apart) or draws a live display, which cannot be held back; nor where
 * no user namespace can be made (in a container, say): entering says why, before the
 * store is touched. */
static bool may_start_outside(const struct build_cmd *c)
{
	const struct build_cli *o = &c->o;
	struct stat st;

	return !o->no_cache && o->n_cache_from == 0 && o->n_cache_to == 0 && !o->push && !o->sbom &&
	       c->eo.output == ENGINE_OUTPUT_STORE && c->eo.pull != ENGINE_PULL_ALWAYS &&
	       stat(source.path, &st) == 0 && S_ISREG(st.st_mode) &&
	       (o->df.platform == NULL || strchr(o->df.platform, ',') == NULL) &&
	       !cli_progress_is_tty(c->progress) && sandbox_isolation_userns();
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

/* The pipeline, cancellable by a signal.  Started outside the user namespace, its output is
 * held until it is known whether it needs one: then it is dropped and
 * ctx->userns_restart set. */
static int run_pipeline(struct build_cmd *c, const struct build_options *bo, const char *epoch_from,
			struct build_result *res, struct plate_error **err)
{
	struct held_output held;
	struct build *b = NULL;
	int rc;

	if (build_new(bo, &b, err) < 0)
		return -1;
	if (c->eo.cached_only && hold_output(&held, err) < 0) {
		build_free(b);
		return -1;
	}
	announce_epoch(c, epoch_from);
	running = b;
	handle_signals(c, true);
	rc = build_run(b, res, err);
	handle_signals(c, false);
	running = NULL;
	build_free(b);
	if (c->eo.cached_only) {
		c->ctx->userns_restart = rc < 0 && res->needs_namespace && stop_signal == 0;
		release_output(&held, !c->ctx->userns_restart);
	}
	return rc;
}

int cli_cmd_build(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	_cleanup_(build_cmd_release) struct build_cmd c = { .ctx = ctx,
							    .o = { .max_size = -1 },
							    .t0 = cli_now() };
	struct build_options bo;
	struct build_result res;
	char epoch_from[320];
	size_t resolv_len;
	int rc;

	if (parse_args(ctx, argc, argv, &c.o, err) < 0 || prepare(&c, err) < 0 ||
	    cli_build_epoch(ctx, c.context, (const char *const *)c.o.df.build_args,
			    c.o.df.n_build_args, &c.eo.epoch, epoch_from, sizeof(epoch_from),
			    err) < 0 ||
	    read_dockerfile(&c, err) < 0)
		return -1;
	if (c.o.check)
		return check_only(&c, err);
	if (ctx->userns_late) {
		if (may_start_outside(&c))
			c.eo.cached_only = true;
		else if (ctx->enter_userns(ctx, err) < 0)
			return -1;
	}
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
		.engine = c.eo,
		.store = c.store,
		.registry = &c.o.reg.opts,
		.df = c.df,
		.source = source.data,
		.source_len = c.len,
		.display_name = ctx->error_file,
		.host_platform = cli_host_platform(),
		.sbom = c.o.sbom,
		.strict = c.o.strict,
		.max_size = c.o.max_size,
		.push = c.o.push,
		.event = on_event,
		.event_data = &c,
		.cache_from = c.cache_from,
		.n_cache_from = c.o.n_cache_from,
		.cache_to = c.cache_to,
		.n_cache_to = c.o.n_cache_to,
		.cache_mode = c.cache_mode,
	};
	if ((rc = run_pipeline(&c, &bo, epoch_from, &res, err)) < 0 && ctx->userns_restart)
		return -1;
	rc = exit_status(&c, rc, &res, err);
	if (rc >= 0 && cli_progress_is_json(c.progress))
		json_event(result_event(&c, &res.image));
	if (rc >= 0) {
		free(steal_pointer(&source.data));
		free(steal_pointer(&source.path));
	}
	return rc;
}
