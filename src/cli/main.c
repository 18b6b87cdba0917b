/*
 * The plate binary: global options, the command table, and the only place where an error
 * becomes text on stderr and an exit code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/printable.h"
#include "cli.h"
#include "userns/userns.h"

/* How a normal user's command meets the user namespace (rootless). */
enum cmd_userns {
	CMD_USER,	 /* runs as the user: no store, or only the store's own files, which
			  * are the user's inside the namespace too */
	CMD_USERNS,	 /* enters it first: it reads, writes or removes files owned by the
			  * image's ids, or mounts */
	CMD_USERNS_LATE, /* enters it once it knows it needs it (a build from the cache
			  * needs nothing of it) */
};

/* The command table; each command's summary, synopsis and options are in help.c. */
struct cli_command {
	const char *name;
	int (*handler)(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
	enum cmd_userns userns;
};

/* clang-format off */
static const struct cli_command commands[] = {
	{ "parse", cli_cmd_parse, CMD_USER },         { "plan", cli_cmd_plan, CMD_USER },
	{ "version", cli_cmd_version, CMD_USER },     { "images", cli_cmd_images, CMD_USER },
	{ "inspect", cli_cmd_inspect, CMD_USER },     { "history", cli_cmd_history, CMD_USER },
	{ "tag", cli_cmd_tag, CMD_USER },             { "rmi", cli_cmd_rmi, CMD_USERNS },
	{ "prune", cli_cmd_prune, CMD_USERNS },       { "save", cli_cmd_save, CMD_USERNS },
	{ "load", cli_cmd_load, CMD_USERNS },         { "import", cli_cmd_import, CMD_USERNS },
	{ "fsck", cli_cmd_fsck, CMD_USERNS },         { "build", cli_cmd_build, CMD_USERNS_LATE },
	{ "run", cli_cmd_run, CMD_USERNS },           { "pull", cli_cmd_pull, CMD_USERNS },
	{ "push", cli_cmd_push, CMD_USERNS },         { "login", cli_cmd_login, CMD_USER },
	{ "logout", cli_cmd_logout, CMD_USER },       { "check", cli_cmd_check, CMD_USERNS },
	{ "du", cli_cmd_du, CMD_USERNS },             { "sbom", cli_cmd_sbom, CMD_USERNS },
	{ "help", cli_cmd_help, CMD_USER },
};
/* clang-format on */

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Prints the offending source line and a caret under the column, as compilers do.  A long
 * line shows PRINTABLE_LINE_MAX characters around the column, each side cut with "…". */
static void print_source_line(const char *source, size_t len, unsigned line, unsigned column)
{
	_cleanup_buf_ struct buf before = BUF_INIT(BUF_UNLIMITED);
	_cleanup_buf_ struct buf shown = BUF_INIT(BUF_UNLIMITED);
	const char *p = source, *end = source + len, *eol, *from, *at;

	for (unsigned l = 1; l < line && p < end; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return;
		p = nl + 1;
	}
	if (p >= end)
		return;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	if (eol > p && eol[-1] == '\r')
		eol--;
	at = column - 1 < (size_t)(eol - p) ? p + column - 1 : eol;
	from = at - p > PRINTABLE_LINE_MAX / 2 ? at - PRINTABLE_LINE_MAX / 2 : p;
	while (from > p && ((unsigned char)*from & 0xc0) == 0x80)
		from--; /* not in the middle of a UTF-8 sequence */
	if ((from > p && buf_addstr(&before, "…") < 0) ||
	    printable_add(&before, from, (size_t)(at - from), SIZE_MAX, 0) < 0 ||
	    buf_addstr(&shown, before.data) < 0 ||
	    printable_add(&shown, at, (size_t)(eol - at), PRINTABLE_LINE_MAX / 2, 0) < 0)
		return;
	fprintf(stderr, "  %s\n  ", shown.data);
	for (const char *c = before.data; *c != '\0'; c++) {
		if (((unsigned char)*c & 0xc0) == 0x80)
			continue; /* one column per character */
		fputc(*c == '\t' ? '\t' : ' ', stderr);
	}
	fputs("^\n", stderr);
}

/* The longest error message printed: frames quote names and lines from outside. */
#define ERROR_PRINT_MAX 2000

static void report_error(const struct cli_ctx *ctx, const struct plate_error *error)
{
	_cleanup_free_ char *text = plate_error_format(error);
	const char *msg = text ? text : error->message;
	_cleanup_free_ char *safe =
		printable_dup(msg, strlen(msg), ERROR_PRINT_MAX, PRINTABLE_KEEP_NEWLINE);
	_cleanup_free_ char *file =
		ctx->error_file ? printable_dup(ctx->error_file, strlen(ctx->error_file),
						PRINTABLE_LINE_MAX, 0)
				: NULL;

	if (safe == NULL)
		safe = strdup("out of memory");
	if (ctx->error_file != NULL && error->line > 0) {
		fprintf(stderr, "%s:%u:%u: error: %s\n", file ? file : "?", error->line,
			error->column ? error->column : 1, safe ? safe : "out of memory");
		if (ctx->error_source != NULL)
			print_source_line(ctx->error_source, ctx->error_source_len, error->line,
					  error->column ? error->column : 1);
	} else {
		fprintf(stderr, "plate: error: %s\n", safe ? safe : "out of memory");
	}
}

/* The limits on incoming layers: one option, its environment variable, its field. */
static const struct limit_option {
	const char *option, *env;
	bool is_size;
	size_t offset;
} limit_options[] = {
	{ "--max-layer-size", "PLATE_MAX_LAYER_SIZE", true,
	  offsetof(struct layer_limits, max_size) },
	{ "--max-layer-ratio", "PLATE_MAX_LAYER_RATIO", false,
	  offsetof(struct layer_limits, max_ratio) },
	{ "--max-layer-entries", "PLATE_MAX_LAYER_ENTRIES", false,
	  offsetof(struct layer_limits, max_entries) },
};

/* SIZE as cli_parse_size() reads it, a count as a plain number; 0 means no limit. */
static int set_limit(struct layer_limits *l, const struct limit_option *o, const char *value)
{
	unsigned long long *field = (unsigned long long *)((char *)l + o->offset);
	int64_t size;
	char *end;

	if (o->is_size) {
		if (cli_parse_size(value, &size) < 0)
			return -1;
		*field = (unsigned long long)size;
		return 0;
	}
	errno = 0;
	*field = strtoull(value, &end, 10);
	return end == value || *end != '\0' || errno != 0 || value[0] == '-' ? -1 : 0;
}

/* A global option that takes a value: 1 when argv[*i] is NAME VALUE or NAME=VALUE (*i moved
 * past the value), 0 when not, -1 (message printed) when the value is missing. */
static int global_value(int argc, char **argv, int *i, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
		*value = argv[*i] + n + 1;
		return 1;
	}
	if (strcmp(argv[*i], name) != 0)
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "plate: error: option '%s' needs a value\n", name);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}

/* 1 when argv[*i] is one of limit_options (its value consumed), 0 when not, -1 when bad. */
static int take_limit(struct layer_limits *l, int argc, char **argv, int *i)
{
	for (size_t k = 0; k < sizeof(limit_options) / sizeof(limit_options[0]); k++) {
		const struct limit_option *o = &limit_options[k];
		const char *v;
		int m = global_value(argc, argv, i, o->option, &v);

		if (m == 0)
			continue;
		if (m < 0)
			return -1;
		if (set_limit(l, o, v) < 0) {
			fprintf(stderr, "plate: error: %s '%s' is not a %s\n", o->option, v,
				o->is_size ? "size" : "number");
			return -1;
		}
		return 1;
	}
	return 0;
}

static void print_see_help(void)
{
	fputs("see 'plate --help'\n", stderr);
}

/* What enter_userns() needs from main, and what report_unmapped() reads afterwards. */
static struct {
	struct userns_entry entry;
	char *root; /* the user's store, when neither --root nor $PLATE_ROOT named one */
} userns = { .entry = { .mapping = USERNS_MAPPING_SUBIDS } };

/* A command that enters late asks for its restart inside the namespace through this
 * variable, which main reads once and removes: the new process enters first. */
#define USERNS_RESTART_ENV "PLATE_USERNS_RESTART"

/* Rootless: the store's default moves to the user's data directory, decided before the
 * namespace makes us uid 0; then the namespace, with a notice when it maps one id only. */
static int enter_userns(struct cli_ctx *ctx, struct plate_error **err)
{
	if (ctx->root == NULL || ctx->root[0] == '\0') {
		if (cli_user_store_path(&userns.root, err) < 0)
			return -1;
		ctx->root = userns.root;
	}
	if (userns_enter(&userns.entry, err) < 0)
		return -1;
	ctx->userns_late = false;
	if (userns.entry.mapping == USERNS_MAPPING_SINGLE)
		fprintf(stderr,
			"plate: notice: rootless with one id: only uid 0 and gid 0 exist in the "
			"build, a chown or USER to any other id fails; %s\n",
			userns.entry.reason);
	return 0;
}

/* The command again, in a new process (this one has threads, which the kernel does not
 * let into a new user namespace): the same program, arguments and environment, plus the
 * request to enter first.  Returns only on failure. */
static int restart_in_userns(char **argv, struct plate_error **err)
{
	if (setenv(USERNS_RESTART_ENV, "1", 1) < 0)
		return plate_err_new(err, errno, "cannot set %s", USERNS_RESTART_ENV);
	fflush(stdout);
	fflush(stderr);
	execv("/proc/self/exe", argv);
	return plate_err_new(err, errno,
			     "cannot start plate again in the user namespace (/proc/self/exe)");
}

/* A chown, setuid or setgid to an id the namespace does not map fails with EINVAL: in
 * plate itself or in a RUN command, whose last output lines the error quotes.  EINVAL alone
 * says nothing (a layer's bad path is EINVAL too): the text must name an id operation. */
static void report_unmapped(const struct plate_error *error)
{
	const struct userns_entry *u = &userns.entry;
	static const char *const id_words[] = { "chown", "ownership", "set uid", "set gid",
						"supplementary groups" };
	_cleanup_free_ char *text = NULL;
	bool ids = false;

	if (!userns_nested() || error == NULL)
		return;
	text = plate_error_format(error);
	if (text == NULL || strstr(text, strerror(EINVAL)) == NULL)
		return;
	for (size_t i = 0; i < sizeof(id_words) / sizeof(id_words[0]) && !ids; i++)
		ids = strstr(text, id_words[i]) != NULL;
	if (!ids)
		return;
	if (u->mapping == USERNS_MAPPING_SINGLE)
		fprintf(stderr, "plate: hint: rootless with one id: %s\n", u->reason);
	else if (u->n_uids > 0)
		fprintf(stderr,
			"plate: hint: rootless: only uids 0-%llu and gids 0-%llu are mapped (the "
			"ranges of /etc/subuid and /etc/subgid); larger ids need larger ranges\n",
			(unsigned long long)u->n_uids - 1, (unsigned long long)u->n_gids - 1);
}

/* Runs the command argv[i] (cmd) as a normal user meets the user namespace: before it, or
 * inside it (late, or started again there).  Returns the exit code. */
static int run_command(struct cli_ctx *ctx, const struct cli_command *cmd, bool restarted,
		       char **argv, int i, int argc)
{
	_cleanup_error_ struct plate_error *err = NULL;
	bool user = cmd->userns == CMD_USER || geteuid() == 0;
	int rc;

	ctx->userns_late = !user && cmd->userns == CMD_USERNS_LATE && !restarted;
	if (!user && !ctx->userns_late && enter_userns(ctx, &err) < 0)
		rc = -1;
	else
		rc = cmd->handler(ctx, argc - i, argv + i, &err);
	if (ctx->userns_restart) {
		plate_error_free(steal_pointer(&err));
		rc = restart_in_userns(argv, &err);
	}
	if (rc < 0) {
		report_error(ctx, err);
		report_unmapped(err);
		rc = ctx->error_exit;
	}
	return rc;
}

/* Started with 0, 1 or 2 closed (a careless parent, a setuid wrapper), the first file
 * plate opens would take the number: an error message would then be written into a layer
 * or the store's index.  Those numbers are taken by /dev/null before anything is opened. */
static bool standard_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (null != fd) {
			if (null >= 0)
				close(null);
			return false;
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = { .prog = "plate", .root = getenv("PLATE_ROOT"), .error_exit = 1 };
	_cleanup_error_ struct plate_error *err = NULL;
	const char *names[N_COMMANDS + 1] = { NULL };
	const struct cli_help *help;
	const char *root;
	int i, rc, lim;

	bool restarted = getenv(USERNS_RESTART_ENV) != NULL;

	if (!standard_fds_open())
		return CLI_EXIT_FAILURE;
	unsetenv(USERNS_RESTART_ENV);
	ctx.enter_userns = enter_userns;
	ctx.limits = (struct layer_limits)LAYER_DEFAULT_LIMITS;
	for (size_t k = 0; k < sizeof(limit_options) / sizeof(limit_options[0]); k++) {
		const char *v = getenv(limit_options[k].env);
		if (v != NULL && v[0] != '\0' && set_limit(&ctx.limits, &limit_options[k], v) < 0) {
			fprintf(stderr, "plate: error: %s='%s' is not a %s\n", limit_options[k].env,
				v, limit_options[k].is_size ? "size" : "number");
			return CLI_EXIT_USAGE;
		}
	}
	for (size_t c = 0; c < N_COMMANDS; c++)
		names[c] = commands[c].name;
	ctx.commands = names;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if ((lim = take_limit(&ctx.limits, argc, argv, &i)) != 0) {
			if (lim < 0)
				return CLI_EXIT_USAGE;
		} else if ((lim = global_value(argc, argv, &i, "--root", &root)) != 0) {
			if (lim < 0)
				return CLI_EXIT_USAGE;
			if (root[0] == '\0') {
				fputs("plate: error: --root needs a directory, not an empty "
				      "string\n",
				      stderr);
				return CLI_EXIT_USAGE;
			}
			ctx.root = root;
		} else if (strcmp(argv[i], "--debug") == 0) {
			ctx.debug = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cli_help_print(&ctx, cli_help_find("plate"), stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			return cli_cmd_version(&ctx, 1, argv, &err) < 0 ? 1 : 0;
		} else {
			fprintf(stderr, "plate: error: unknown global option '%s'\n",
				cli_safe(argv[i]));
			print_see_help();
			return CLI_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cli_help_print(&ctx, cli_help_find("plate"), stderr);
		return CLI_EXIT_USAGE;
	}
	for (size_t c = 0; c < N_COMMANDS; c++) {
		if (strcmp(commands[c].name, argv[i]) != 0)
			continue;
		/* -h and --help are every command's, answered before anything is opened */
		if ((help = cli_help_find(commands[c].name)) != NULL &&
		    cli_help_wanted(help, argc - i, argv + i)) {
			cli_help_print(&ctx, help, stdout);
			return CLI_EXIT_OK;
		}
		rc = run_command(&ctx, &commands[c], restarted, argv, i, argc);
		free(userns.root);
		return rc;
	}
	fprintf(stderr, "plate: error: unknown command '%s'\n", cli_safe(argv[i]));
	print_see_help();
	return CLI_EXIT_USAGE;
}
