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

/* Caps on what expansion may produce: one word, and all words of one plan together, so
 * that `ENV A=$A$A` repeated cannot grow without bound. */
#define PLAN_MAX_WORD (1u << 20)
#define PLAN_MAX_EXPANDED ((size_t)256 << 20)

struct plan_ctx {
	const struct dockerfile *df;
	const struct plan_options *opts;
	struct plan *plan;
	struct dockerfile_vars build_args; /* from the options, NAME -> value */
	size_t *from_at;                   /* instruction index of each stage's FROM */
	size_t expanded;                   /* bytes produced by expansion so far */
};

/* Turns an unlocated error (from expansion or reference parsing) into one located at the
 * instruction, keeping its text.  Returns -1. */
int plan_locate(struct plate_error **err, unsigned line, unsigned column);

/* Appends s (taking ownership; freed on failure) to a counted string array.  -1 on ENOMEM. */
int plan_strv_push(char ***v, size_t *n, char *s);

/* Index of the stage named name (case-insensitive) among the first limit stages, or -1. */
long plan_find_stage(const struct plan *plan, const char *name, size_t limit);

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

#endif
