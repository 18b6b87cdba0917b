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

#include "base/error.h"
#include "engine/engine.h"
#include "store/store.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_CHECK = 3,
};

struct cli_ctx {
	const char *root;   /* --root or $PLATE_ROOT; NULL means the default */
	bool debug;         /* --debug */
	const char *prog;   /* argv[0] for messages */
	/* When a command fails on a located error in a file, it records where, so main can show
	 * "FILE:LINE:COL: error: ..." with the offending line and a caret. */
	const char *error_file;
	const char *error_source;
	size_t error_source_len;
	int error_exit; /* exit code to use for *err (default 1) */
};

/* Reports a usage problem: sets *err and makes main exit 2. */
int cli_usage_error(struct cli_ctx *ctx, struct plate_error **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'd buffer. */
int cli_read_file(const char *path, size_t max, char **data, size_t *len, struct plate_error **err);

/* The store commands' helpers (store_open.c): the store at --root / $PLATE_ROOT / the
 * default root, "linux/<arch>" of this machine, "busybox:1" for "docker.io/library/busybox:1",
 * and a name normalised ("busybox" -> "docker.io/library/busybox:latest"). */
int cli_open_store(struct cli_ctx *ctx, struct store **out, struct plate_error **err);
const char *cli_host_platform(void);
const char *cli_familiar_name(const char *name);
int cli_normalise_name(const char *name, bool need_tag, char **out, struct plate_error **err);

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
int cli_cmd_check(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);
int cli_cmd_sbom(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err);

/* The doctor on a stored image (check.c), shared by `plate check` and `plate build`:
 * prints the findings to out (stdout when NULL); returns 0, 3 when an error finding
 * remains, or -1.  max_size < 0: no budget.  SIZE strings: cli_parse_size(). */
struct check_fs;
struct cli_doctor_options {
	bool strict, json;
	bool quiet; /* print nothing, only the exit status */
	bool event; /* JSON as a progress event: {"type":"check","findings":...} */
	int64_t max_size;
	const char *skip; /* "ID,ID" or NULL */
	const char *platform;
	FILE *out;
};
int cli_doctor(struct cli_ctx *ctx, struct store *s, const char *name,
	       const struct cli_doctor_options *o, struct plate_error **err);
int cli_parse_size(const char *s, int64_t *out);
int cli_image_fs(struct store *s, const struct store_image *img, struct check_fs **out,
		 struct plate_error **err);

/* Monotonic seconds, for durations shown to the user. */
double cli_now(void);

/* Progress rendering of engine events on stderr (progress.c): mode is auto, tty, plain,
 * json or quiet (NULL: auto). */
struct cli_progress;
int cli_progress_new(const char *mode, struct cli_progress **out, struct plate_error **err);
void cli_progress_event(void *data, const struct engine_event *ev);
bool cli_progress_is_json(const struct cli_progress *p);
void cli_progress_free(struct cli_progress *p);

#endif
