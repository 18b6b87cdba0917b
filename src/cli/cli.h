/*
 * cli/cli.h — the subcommands of the plate binary and the helpers they share.
 *
 * Each subcommand lives in src/cli/<name>.c as `int cli_cmd_<name>(struct cli_ctx *, int argc,
 * char **argv, struct plate_error **err)`.  It parses its options into a plain struct, calls
 * the library, renders the result on stdout, and returns an exit code (0 ok, 1 failure,
 * 2 usage or parse error, 3 check failed) or -1 with *err set.  Only main() prints errors.
 */
#ifndef PLATE_CLI_H
#define PLATE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "engine/engine.h"
#include "json/json.h"
#include "registry/registry.h"
#include "layer/layer.h"
#include "store/store.h"
#include "transfer/transfer.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_CHECK = 3,
};

struct cli_ctx {
	const char *root; /* --root or $PLATE_ROOT; NULL means the default */
	bool debug;	  /* --debug */
	const char *prog; /* argv[0] for messages */
	/* When a command fails on a located error in a file, it records where, so main can show
	 * "FILE:LINE:COL: error: ..." with the offending line and a caret. */
	const char *error_file;
	const char *error_source;
	size_t error_source_len;
	int error_exit; /* exit code to use for *err (default 1) */
	/* --max-layer-size/-ratio/-entries or $PLATE_MAX_LAYER_*: limits on incoming layers */
	struct layer_limits limits;
	/* main's command table, for help: the names, NULL-terminated */
	const char *const *commands;
	/* Rootless, for a command that enters the user namespace only when it needs it
	 * (docs/internals/rootless.md, "Entering late"): set while the process is outside it.
	 * enter_userns() enters (while the process has one thread); a command that found out
	 * too late, with threads running, sets userns_restart instead and main runs it again
	 * from the start inside the namespace. */
	bool userns_late;
	bool userns_restart;
	int (*enter_userns)(struct cli_ctx *ctx, struct plate_error **err);
};

/* The help of a command (help.c), the one text behind --help, `plate help`, the man pages
 * and the shell completion.  An option is its short letter (0: none), long name, value
 * name (NULL: a flag; optional_arg: only as --name=VALUE) and one line of text. */
struct cli_help_option {
	char short_name;
	const char *name;
	const char *arg;
	bool optional_arg;
	const char *text;
};
/* What the completion offers for a command's operands. */
enum cli_operand {
	CLI_OPERAND_NONE,
	CLI_OPERAND_IMAGE,
	CLI_OPERAND_FILE,
	CLI_OPERAND_DIR,
	CLI_OPERAND_COMMAND,
};
struct cli_help {
	const char *name;	 /* "plate" for the global options */
	const char *summary;	 /* one line, for the command list and the man page's NAME */
	const char *operands;	 /* the synopsis after "plate NAME" */
	const char *description; /* a paragraph per line */
	enum cli_operand operand;
	bool options_first; /* options end at the first operand (run: the rest is the
				  * command's) */
	const struct cli_help_option *options; /* ends with a NULL name; -h/--help implied */
};
const struct cli_help *cli_help_find(const char *name);
/* 1 when argv (a command's, argv[0] its name) asks for help with -h or --help: an option
 * word, not the value of an option nor a word after "--" (or after the first operand with
 * options_first). */
bool cli_help_wanted(const struct cli_help *h, int argc, char **argv);
/* The help text of h on out; for "plate", with ctx->commands and their summaries. */
void cli_help_print(const struct cli_ctx *ctx, const struct cli_help *h, FILE *out);
int cli_cmd_help(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);

/* Reports a usage problem: sets *err and makes main exit 2. */
int cli_usage_error(struct cli_ctx *ctx, struct plate_error **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* getopt_long() without its abbreviations: "--fil" is not "--file" (docker refuses it too,
 * and a prefix that names one option today may name two tomorrow).  An abbreviation comes
 * back as '?' with argv[optind - 1] the word, as an unknown option does. */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* getopt_long for a command that has no options: the index of its first operand, or -1 with
 * a usage error naming the option ("--" ends the options, "-" is an operand). */
int cli_operands(struct cli_ctx *ctx, const char *cmd, int argc, char **argv,
		 struct plate_error **err);
/* After getopt_long returned '?': the usage error "unknown option 'X' for CMD". */
int cli_bad_option(struct cli_ctx *ctx, const char *cmd, char **argv, struct plate_error **err);

/* $SOURCE_DATE_EPOCH in seconds, 0 when unset or empty; anything else is a usage error. */
int cli_source_date_epoch(struct cli_ctx *ctx, long long *epoch, struct plate_error **err);
/* A build's epoch (epoch.c): --build-arg SOURCE_DATE_EPOCH, else $SOURCE_DATE_EPOCH, else the
 * commit time of git HEAD when context is in a repository, else 0; source says which
 * ("from git HEAD", "default: ..."). */
int cli_build_epoch(struct cli_ctx *ctx, const char *context, const char *const *build_args,
		    size_t n_build_args, long long *epoch, char *source, size_t source_size,
		    struct plate_error **err);

/* file_read_at() of a file the user named: regular files only, except below /dev/ (stdin,
 * /dev/fd/N), where a pipe is accepted. */
int cli_read_file(const char *path, size_t max, char **data, size_t *len, struct plate_error **err);

/* s as base/printable.h shows it (escape sequences visible, at most CLI_SAFE_MAX
 * characters), for names, paths and messages from outside in the CLI's own output.  The
 * string lives until eight more calls: for the arguments of one printf. */
#define CLI_SAFE_MAX 4096
const char *cli_safe(const char *s);

/* The store commands' helpers (store_open.c): the store at --root / $PLATE_ROOT / the
 * default root, "linux/<arch>" of this machine, and a name normalised ("busybox" ->
 * "docker.io/library/busybox:latest"). */
int cli_open_store(struct cli_ctx *ctx, struct store **out, struct plate_error **err);
/* The same without creating or fixing anything: for fsck, which reports what it finds. */
int cli_open_store_as_found(struct cli_ctx *ctx, struct store **out, struct plate_error **err);
/* A normal user's store: $XDG_DATA_HOME/plate, else ~/.local/share/plate. */
int cli_user_store_path(char **out, struct plate_error **err);
const char *cli_host_platform(void);
int cli_normalise_name(const char *name, bool need_tag, char **out, struct plate_error **err);

/* Registry access shared by pull, push, login and build (registry_opts.c): the getopt
 * entries of --tls-ca FILE, --insecure-registry HOST and --secure-registry HOST (both
 * repeatable), their handler
 * (1: consumed), then options built from them, PLATE_REGISTRY_MIRRORS and the docker config
 * ($DOCKER_CONFIG/config.json or ~/.docker/config.json). */
enum {
	CLI_OPT_TLS_CA = 0x1001,
	CLI_OPT_INSECURE,
	CLI_OPT_SECURE
};
#define CLI_REGISTRY_LONGOPTS                                                       \
	{ "tls-ca", required_argument, NULL, CLI_OPT_TLS_CA },                      \
		{ "insecure-registry", required_argument, NULL, CLI_OPT_INSECURE }, \
	{                                                                           \
		"secure-registry", required_argument, NULL, CLI_OPT_SECURE          \
	}
struct cli_registry {
	const char *ca_file;
	char *insecure;
	char *secure;
	struct registry_docker_config config;
	struct registry_options opts;
};
int cli_registry_opt(struct cli_registry *r, int c, const char *arg, struct plate_error **err);
int cli_registry_setup(struct cli_registry *r, struct plate_error **err);
void cli_registry_release(struct cli_registry *r);
char *cli_docker_config_path(void);
/* pull and push progress on stderr (transfer_progress.c): bars on a terminal, a line per
 * blob otherwise; data is a view, thread-safe. */
struct cli_transfer_view;
int cli_transfer_view_new(struct cli_transfer_view **out, struct plate_error **err);
void cli_transfer_view_free(struct cli_transfer_view *v);
void cli_transfer_progress(void *data, const struct transfer_event *ev);
/* pull and push: [--platform P] [-q] and the registry options parsed, the store opened;
 * returns the index of the first operand.  cli_transfer_end() releases everything. */
struct cli_transfer {
	struct cli_registry reg;
	struct transfer_options o;
	struct transfer_result res;
	struct store *store;
	struct cli_transfer_view *view;
	bool quiet;
};
int cli_transfer_begin(struct cli_ctx *ctx, const char *cmd, int argc, char **argv,
		       struct cli_transfer *t, struct plate_error **err);
void cli_transfer_end(struct cli_transfer *t);
/* login.c: a registry argument's host, the config file edit (1 changed, 0 nothing to do),
 * and an atomic 0600 file replacement. */
char *cli_registry_host(const char *s);
int cli_docker_config_update(const char *host, const char *user, const char *password,
			     struct plate_error **err);
int cli_write_private_file(const char *path, const char *data, size_t len,
			   struct plate_error **err);
/* The credential helper that keeps host's login: credHelpers[host], else credsStore, else
 * NULL (the config file itself). */
const char *cli_login_helper(const struct registry_docker_config *cfg, const char *host);

/* Options shared by build and plan (dockerfile_opts.c): -f, --target, --platform,
 * --build-arg.  For getopt_long: CLI_DOCKERFILE_LONGOPTS and "f:" in the short options, then
 * cli_dockerfile_getopt() on what it returns: 1 consumed, 0 not one of these, -1 failed.
 * cli_dockerfile_path: -f ("-" is stdin), else CONTEXT/Dockerfile, else CONTEXT/dockerfile. */
enum {
	CLI_OPT_TARGET = 0x1101,
	CLI_OPT_PLATFORM,
	CLI_OPT_BUILD_ARG
};
#define CLI_DOCKERFILE_LONGOPTS                                            \
	{ "file", required_argument, NULL, 'f' },                          \
		{ "target", required_argument, NULL, CLI_OPT_TARGET },     \
		{ "platform", required_argument, NULL, CLI_OPT_PLATFORM }, \
	{                                                                  \
		"build-arg", required_argument, NULL, CLI_OPT_BUILD_ARG    \
	}
struct cli_dockerfile_opts {
	const char *file;
	const char *target;
	const char *platform;
	const char *context;
	char **build_args; /* "K=V", owned */
	size_t n_build_args;
};
int cli_strv_add(char ***v, size_t *n, const char *s, struct plate_error **err);
int cli_dockerfile_getopt(struct cli_dockerfile_opts *o, int c, const char *arg,
			  struct plate_error **err);
void cli_dockerfile_opts_release(struct cli_dockerfile_opts *o);
char *cli_dockerfile_path(const struct cli_dockerfile_opts *o);

/* build's --cache-from / --cache-to (opt names which) parsed in place in text, which out
 * then points into; mode=max raises *mode (cache_opts.c). */
struct build_cache_spec;
int cli_cache_spec(struct cli_ctx *ctx, const char *opt, char *text, struct build_cache_spec *out,
		   enum engine_cache_export *mode, struct plate_error **err);

int cli_cmd_parse(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_plan(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_version(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_images(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_inspect(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_history(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_tag(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_rmi(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_prune(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_save(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_load(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_import(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_fsck(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_build(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_pull(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_push(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_login(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_logout(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
/* `plate check` of a Dockerfile (check_dockerfile.c), with the options check.c parsed. */
struct cli_check_dockerfile_args {
	const char *file, *context;
	const char **build_args; /* "NAME=VALUE", borrowed */
	size_t n_build_args;
	bool strict, json;
};
int cli_check_dockerfile(struct cli_ctx *ctx, const struct cli_check_dockerfile_args *o,
			 struct plate_error **err);

int cli_cmd_du(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_check(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_sbom(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);

/* Findings as text, or JSON (event: as a progress event {"type":"check","findings":...}),
 * written to out (check.c). */
struct finding_report;
int cli_render_findings(const struct finding_report *r, bool json, bool event, FILE *out,
			struct plate_error **err);
/* A SIZE as docker reads it: 50M, 1GiB, 512kB (common.c). */
int cli_parse_size(const char *s, int64_t *out);

/* --format of images, inspect and history (format.c): "json", a Go template (json/json.h),
 * or "table" and a template (default_table when only "table") whose tab-separated cells are
 * aligned under a header, the template run over header (column names).  Rows go to stdout;
 * cli_format_end() prints a table. */
struct cli_format {
	struct json_template *t;
	bool json, table;
	struct buf rows;
};
int cli_format_init(struct cli_format *f, const char *spec, const char *default_table,
		    struct plate_error **err);
int cli_format_row(struct cli_format *f, json_t *item, struct plate_error **err);
int cli_format_end(struct cli_format *f, json_t *header, struct plate_error **err);
void cli_format_release(struct cli_format *f);
/* An RFC 3339 time (a config's "created"): 0, or -1 when it is not one. */
int cli_parse_time(const char *rfc3339, time_t *out);
/* docker's CREATED: "2 hours ago", "56 years ago"; and CreatedAt "2023-11-14 22:13:20 +0000 UTC". */
void cli_created_since(time_t created, time_t now, char *out, size_t size);
void cli_created_at(time_t created, char *out, size_t size);

/* Monotonic seconds, for durations shown to the user. */
double cli_now(void);

/* Progress rendering of engine events on stderr (progress.c): mode is auto, tty, plain,
 * json or quiet (NULL: auto). */
struct cli_progress;
int cli_progress_new(const char *mode, struct cli_progress **out, struct plate_error **err);
void cli_progress_event(void *data, const struct engine_event *ev);
/* tty: stops the ticker and draws the list a last time ("FINISHED" when success), so that
 * what follows on stderr goes below it; nothing in the other modes.  Idempotent. */
void cli_progress_finish(struct cli_progress *p, bool success);
/* A line of the build's own (a pull) on stderr; on a tty above the live list. */
void cli_progress_note(struct cli_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool cli_progress_is_json(const struct cli_progress *p);
/* Whether it draws on a terminal (redrawn lines, a ticker). */
bool cli_progress_is_tty(const struct cli_progress *p);
void cli_progress_free(struct cli_progress *p);

#endif
