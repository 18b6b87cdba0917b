/*
 * plan/plan_internal.h — shared between the files of the plan module only.
 *
 * plan.c drives the build (options, global ARGs, stages, graph, order); steps.c checks each
 * instruction and turns it into a step, then expands the steps of needed stages; json.c
 * renders a plan.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "plan/plan_internal.h is internal to the plan module"
#endif

#ifndef PLATE_PLAN_INTERNAL_H
#define PLATE_PLAN_INTERNAL_H

#include "plan/plan.h"

/*
 * Caps, so that a hostile Dockerfile within the parser's limits cannot make the plan grow
 * without bound: `ENV A=$A$A` repeated, thousands of stages `FROM` one stage with ONBUILD
 * triggers (each gets a copy), or long chains of stages each inheriting every variable.
 */
#define PLAN_MAX_WORD (1u << 20)	      /* one expanded word */
#define PLAN_MAX_BYTES ((size_t)128 << 20)    /* argument bytes copied or expanded, in all */
#define PLAN_MAX_STEPS ((size_t)1 << 18)      /* steps, ONBUILD triggers included */
#define PLAN_MAX_VARS 4096		      /* variables in one scope */
#define PLAN_MAX_VAR_COPIES ((size_t)1 << 20) /* variables copied from stage to stage */

/* ONBUILD instructions of one stage (instruction indexes). */
struct plan_triggers {
	size_t *at;
	size_t n;
};

struct plan_ctx {
	const struct dockerfile *df;
	const struct plan_options *opts;
	struct plan *plan;
	struct dockerfile_vars build_args; /* from the options, NAME -> value */
	size_t *from_at;		   /* instruction index of each stage's FROM */
	struct plan_triggers *triggers;	   /* per stage, filled by plan_collect_steps() */
	size_t *names;			   /* hash table of stage index + 1 by lower-case name */
	size_t names_cap;		   /* a power of two, at least twice the stages */
	size_t bytes;			   /* charged against PLAN_MAX_BYTES */
	size_t steps;			   /* charged against PLAN_MAX_STEPS */
	size_t var_copies;		   /* charged against PLAN_MAX_VAR_COPIES */
};

/* Counts n bytes of arguments against the plan's budget: -1 with *err when exhausted. */
int plan_charge(struct plan_ctx *ctx, size_t n, struct plate_error **err);

/* dockerfile_vars_set() refusing to grow a scope beyond PLAN_MAX_VARS. */
int plan_vars_set(struct dockerfile_vars *vars, const char *name, const char *value,
		  struct plate_error **err);

/* Turns an unlocated error (from expansion or reference parsing) into one located at the
 * instruction, keeping its text.  Returns -1. */
int plan_locate(struct plate_error **err, unsigned line, unsigned column);

/* Index of the stage named name (case-insensitive) among the stages whose FROM has been
 * processed so far (all of them once plan.c is done with FROMs), or -1. */
long plan_find_stage(const struct plan_ctx *ctx, const char *name);

/* "builder", or "stage-3" for an unnamed stage, for messages. */
const char *plan_stage_label(const struct plan_stage *st, char buf[32]);

/* Checks one instruction's keyword, flags and argument count (steps.c). */
int plan_check_instruction(const struct dockerfile_instruction *in, struct plate_error **err);

/* Fills stage->steps (arguments as written) and their sources (steps.c). */
int plan_collect_steps(struct plan_ctx *ctx, size_t stage, struct plate_error **err);

/* Expands the steps of a needed stage in place, starting from *vars (the stage's initial
 * variables) and leaving the stage's final variables in *vars (steps.c). */
int plan_expand_steps(struct plan_ctx *ctx, size_t stage, struct dockerfile_vars *vars,
		      struct plate_error **err);

/* Single-word expansion with the plan's caps and the Dockerfile's escape character. */
int plan_expand_word(struct plan_ctx *ctx, const char *word, const struct dockerfile_vars *vars,
		     char **out, struct plate_error **err);

void plan_step_release(struct plan_step *step);

/* Records the source a COPY --from or a mount's from= names: a stage by name, else an
 * image (normalised; unlocated error when invalid).  Appended to step->sources. */
int plan_add_named_source(struct plan_ctx *ctx, struct plan_step *step, const char *name,
			  struct plate_error **err);

/* flags.c: parses one --mount value into *m (released on failure) and *from (the from=
 * field, NULL when absent; the caller resolves it).  Pure; errors are unlocated. */
int plan_mount_parse(const char *spec, struct plan_mount *m, char **from, struct plate_error **err);
void plan_mount_release(struct plan_mount *m);

/* flags.c: RUN's flags as written into step->run, recording from= sources (located
 * errors). */
int plan_run_flags_parse(struct plan_ctx *ctx, struct plan_step *step,
			 const struct dockerfile_instruction *in, struct plate_error **err);
void plan_run_flags_release(struct plan_run_flags *f);

/* flags.c: COPY/ADD flags, already expanded in step->flags, into step->copy (unlocated
 * errors). */
int plan_copy_flags_parse(struct plan_step *step, struct plate_error **err);
void plan_copy_flags_release(struct plan_copy_flags *f);

#endif
