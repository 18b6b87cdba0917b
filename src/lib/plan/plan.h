/*
 * plan/plan.h — the build planner: from a parsed Dockerfile to a stage graph with resolved
 * variables, ready for the engine.
 *
 * Purpose
 *   plan_build() splits a `struct dockerfile` into stages at FROM, resolves build arguments
 *   the way BuildKit does (global ARGs before the first FROM are visible in FROM lines only;
 *   a stage sees a global or predefined ARG only after redeclaring it with `ARG name`;
 *   --build-arg values override defaults; the platform ARGs TARGETPLATFORM … BUILDVARIANT
 *   are predefined in the global scope), expands the instructions the Dockerfile reference
 *   lists under "Environment replacement" (ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER
 *   VOLUME WORKDIR, and ONBUILD triggers when they run), finds the dependencies between
 *   stages (`FROM <stage>`, `COPY --from=<stage|index>`, `RUN --mount=…,from=<stage>`),
 *   selects the target (`--target`, default the last stage) and the stages it needs, and
 *   orders them so that every stage comes after the stages it depends on.
 *
 *   Steps of stages that are not needed keep their arguments as written: the builder never
 *   evaluates them, so an expansion error there is not an error (as with BuildKit).
 *
 *   plan_to_json() renders the plan in the format documented in docs/plan-json.md.
 *
 * Purity
 *   No I/O, no environment, no clock.  The only outside knowledge is what the caller passes
 *   in `struct plan_options`, including the optional base_env callback for the ENV of base
 *   images (without it, every stage not based on another stage starts with BuildKit's default
 *   PATH only).
 *
 * Ownership
 *   The plan owns all its strings and arrays; plan_free() releases it.  Each step borrows its
 *   `instr` from the `struct dockerfile` given to plan_build(): the plan must not outlive it.
 *
 * Limits
 *   Input-fed growth is capped (plan_internal.h): 1 MiB per expanded word, 128 MiB of
 *   arguments in all, 262,144 steps (ONBUILD triggers copied into stages included), 4,096
 *   variables in one scope and 1,048,576 variables copied from stage to stage.  Exceeding a
 *   cap is an error ("plan too large …"), located when an instruction is to blame.
 *
 * Errors
 *   Problems in the Dockerfile (unknown instruction, bad FROM, unknown flag, expansion error,
 *   invalid image reference, circular or forward stage dependency …) are located errors
 *   (plate_err_at) carrying the line and column of the instruction.  Problems in the options
 *   (unknown target, malformed build-arg or platform) carry no location.
 *
 * Thread safety
 *   No shared state; a finished plan is read-only and may be shared between threads.
 */
#ifndef PLATE_PLAN_H
#define PLATE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"
#include "dockerfile/dockerfile.h"

/* BuildKit's PATH for images whose config has none (and for scratch). */
#define PLAN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Fills *env (initialised, empty) with the ENV of an image's config.  image is a normalised
 * reference, platform a normalised "os/arch[/variant]".  Called once per needed stage whose
 * FROM names an image (never for scratch or a stage).  Returns 0, or -1 with *err.
 */
typedef int (*plan_base_env_fn)(void *data, const char *image, const char *platform,
				struct dockerfile_vars *env, struct plate_error **err);

/*
 * Called for every stage based on an image (never scratch or a stage), needed or not: sets
 * *triggers to the image's ONBUILD triggers parsed as a Dockerfile of ONBUILD instructions
 * (borrowed; it must outlive the plan), or NULL when it has none or cannot be found (a
 * missing image of a needed stage is reported by base_env).  Returns 0, or -1 with *err.
 */
typedef int (*plan_base_onbuild_fn)(void *data, const char *image, const char *platform,
				    const struct dockerfile **triggers, struct plate_error **err);

struct plan_options {
	const char *target;	       /* stage name (case-insensitive), NULL = last stage */
	const char *const *build_args; /* "NAME=value" strings; a later NAME wins */
	size_t n_build_args;
	const char *target_platform; /* "os/arch[/variant]", NULL = the build platform */
	const char *build_platform;  /* NULL = oci_platform_native() */
	plan_base_env_fn base_env;   /* NULL = images start with PATH=PLAN_DEFAULT_PATH only */
	void *base_env_data;
	plan_base_onbuild_fn base_onbuild; /* NULL = images' ONBUILD triggers are not run */
	void *base_onbuild_data;
};

/* Where a `COPY --from` or a `RUN --mount=…,from=` reads from. */
struct plan_source {
	int stage;   /* stage index, or -1 for an image */
	char *image; /* normalised reference ("scratch" kept) when stage is -1, else NULL */
};

/*
 * Typed flags.  Every instruction flag is parsed once, here, with the grammar BuildKit's
 * Dockerfile frontend gives it; the engine reads only these fields.  RUN flags are parsed
 * when the step is recorded (for every stage, as BuildKit does: they are never expanded).
 * COPY and ADD flag values other than --from are expanded like the arguments, so they are
 * typed after expansion, for needed stages only: in other stages `copy` keeps its defaults.
 */

/* `RUN --mount=type=…` (BuildKit's mount types; plate's engine refuses ssh). */
enum plan_mount_type {
	PLAN_MOUNT_BIND,
	PLAN_MOUNT_CACHE,
	PLAN_MOUNT_TMPFS,
	PLAN_MOUNT_SECRET,
	PLAN_MOUNT_SSH,
};

/* `sharing=` of a cache mount. */
enum plan_mount_sharing {
	PLAN_SHARING_SHARED, /* the default */
	PLAN_SHARING_PRIVATE,
	PLAN_SHARING_LOCKED,
};

/*
 * One `--mount=` value: a CSV record of key=value fields (Go encoding/csv quoting; keys
 * case-insensitive; `type`, `sharing` values too).  Defaults are applied: a bind or a
 * secret is read-only unless rw/readonly=false is given, a cache or tmpfs is writable; a
 * cache's id is its target; a secret's id is its id, else its source, else the base name
 * of its target, and its target is /run/secrets/<id> unless only env= is given.
 */
struct plan_mount {
	enum plan_mount_type type;
	char *spec;   /* the value as written, for cache keys and messages */
	char *target; /* as written: NULL when absent (a secret given as env= only, or a
			  * mount at the WORKDIR), maybe relative to the WORKDIR */
	char *source; /* path in the source (bind), NULL = its root */
	int from;     /* index into the step's sources, or -1: the build context */
	bool readonly;
	char *id; /* cache and secret (never NULL for them), else NULL */
	enum plan_mount_sharing sharing;
	long mode;		 /* cache, secret: octal mode, -1 = unset */
	long uid, gid;		 /* cache, secret: -1 = unset */
	bool required;		 /* secret, ssh */
	char *env;		 /* secret: also (or only) exported as this variable, NULL = not */
	unsigned long long size; /* tmpfs: bytes, 0 = no limit */
};

/* `RUN --network=`: unset means the build's --network (plate build --network). */
enum plan_network {
	PLAN_NET_UNSET,
	PLAN_NET_DEFAULT,
	PLAN_NET_NONE,
	PLAN_NET_HOST
};

/* `RUN --security=`. */
enum plan_security {
	PLAN_SECURITY_SANDBOX,
	PLAN_SECURITY_INSECURE
};

struct plan_run_flags {
	struct plan_mount *mounts; /* in flag order */
	size_t n_mounts;
	enum plan_network network;
	enum plan_security security;
};

/* COPY and ADD flags (ADD has no --from or --parents; COPY no --checksum, --keep-git-dir or
 * --unpack: the planner refuses them where they do not belong). */
struct plan_copy_flags {
	int from;    /* index into the step's sources, or -1: the build context */
	char *chown; /* "user[:group]" as expanded, NULL = unset (also for --chown=) */
	int chmod;   /* octal mode, -1 = unset (also for --chmod=) */
	bool link;
	bool parents;
	bool keep_git_dir;
	int unpack;	/* ADD --unpack: 1 true, 0 false, -1 unset */
	char *checksum; /* ADD: "sha256:<hex>", NULL = unset */
	char **exclude; /* patterns, in flag order */
	size_t n_exclude;
};

/*
 * One instruction of a stage (FROM itself is the stage, not a step).
 *
 * args, by instruction (see docs/plan-json.md):
 *   ENV, LABEL   one "key=value" per pair, key and value expanded, quotes removed
 *   ARG          one "name=value" per declared name with the value it takes (build-arg,
 *                expanded default, or inherited global), or "name" when it stays unset
 *   ADD, COPY, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL
 *                the parser's argument words, each expanded (heredoc markers kept as written)
 *   RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER
 *                the parser's arguments as written (the shell expands them, not the builder)
 *   ONBUILD      the trigger: its keyword in upper case, then its flags and arguments as
 *                written (expanded only when the trigger runs in a stage based on this one)
 */
struct plan_step {
	unsigned line;	   /* 1-based first line of the instruction */
	unsigned column;   /* 1-based column of its keyword */
	char *instruction; /* upper case: "RUN", "COPY" … */
	char **args;
	size_t n_args;
	/* "--name=value" as written, except that ADD/COPY flag values other than --from are
	 * expanded like the arguments (--chown=$UID). */
	char **flags;
	size_t n_flags;
	bool json_form; /* the arguments came from a JSON (exec form) array */
	bool onbuild;	/* an ONBUILD trigger of the base stage, run first in this stage */
	const struct dockerfile_instruction *instr; /* borrowed; the trigger itself for onbuild */
	struct plan_source *sources; /* COPY --from / RUN --mount from=, in flag order */
	size_t n_sources;
	struct plan_run_flags run;   /* RUN only, else zero */
	struct plan_copy_flags copy; /* COPY and ADD of needed stages, else the defaults */
};

struct plan_stage {
	size_t index;
	char *name;	/* `AS name`, lower case; NULL when unnamed */
	char *base;	/* the FROM argument after expansion with the global ARGs */
	char *from;	/* normalised image reference, "scratch", or NULL when from_stage >= 0 */
	int from_stage; /* index of the stage this one is based on, or -1 */
	char *platform; /* normalised FROM --platform, or NULL for the target platform */
	unsigned line;	/* the FROM instruction */
	unsigned column;
	bool needed;	    /* reachable from the target */
	size_t *depends_on; /* stage indexes this stage needs, ascending, no duplicates */
	size_t n_depends_on;
	/* 0 for a needed stage with no stage dependency, else 1 + the highest level among its
	 * dependencies: stages of equal level never depend on each other and may run in
	 * parallel.  0 for stages that are not needed. */
	unsigned level;
	struct plan_step *steps;
	size_t n_steps;
	/* Variables in effect before the first step (from the base stage, or the base image's
	 * ENV and PATH); empty for stages that are not needed.  See plan_step_env(). */
	struct dockerfile_vars initial_vars;
};

struct plan {
	size_t target; /* index of the target stage */
	size_t *order; /* needed stages, dependencies first (ascending index) */
	size_t n_order;
	struct plan_stage *stages;
	size_t n_stages;
	char *target_platform; /* normalised */
	char *build_platform;
	/* The global scope after the ARGs before the first FROM: platform ARGs, predefined
	 * ARGs given as build-args, and declared global ARGs that have a value. */
	struct dockerfile_vars global_args;
	/* Predefined proxy ARGs (HTTP_PROXY …) given as build-args: the engine passes them to
	 * every RUN even when no ARG declares them, and keeps them out of cache keys. */
	struct dockerfile_vars proxy_args;
};

int plan_build(const struct dockerfile *df, const struct plan_options *opts, struct plan **out,
	       struct plate_error **err);
void plan_free(struct plan *plan);

/* Fills *env (initialised by the caller, replaced contents) with the ARG and ENV variables in
 * effect when step `step` of a needed stage runs: the stage's initial_vars updated by the
 * ARG and ENV steps before it.  This is the build-time environment of a RUN.  Returns 0, or
 * -1 with errno ENOMEM. */
int plan_step_env(const struct plan_stage *stage, size_t step, struct dockerfile_vars *env);

/* Appends the plan as pretty-printed JSON (2-space indent, keys in the documented order, no
 * trailing newline).  Bytes that are not valid UTF-8 are replaced by U+FFFD.  Fails with
 * E2BIG when out's cap is reached. */
int plan_to_json(const struct plan *plan, struct buf *out, struct plate_error **err);

#endif
