/*
 * Fuzz target for the front end as `plate plan` runs it: dockerfile_parse(), plan_build()
 * (default target, then the first named stage with a build-arg and a platform), and
 * plan_to_json().  Invariants: a plan renders to JSON that jansson parses back, its order
 * lists needed stages only with dependencies first, and plan_step_env() works on every
 * needed stage.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/cleanup.h"
#include "dockerfile/dockerfile.h"
#include "plan/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_plan(const struct plan *plan)
{
	_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
	_cleanup_error_ struct plate_error *err = NULL;
	struct dockerfile_vars env;
	json_error_t jerr;
	json_t *back;

	if (plan->target >= plan->n_stages || plan->n_order == 0 ||
	    plan->order[plan->n_order - 1] != plan->target)
		abort();
	for (size_t k = 0; k < plan->n_order; k++) {
		const struct plan_stage *st = &plan->stages[plan->order[k]];
		if (!st->needed)
			abort();
		for (size_t j = 0; j < st->n_depends_on; j++)
			if (st->depends_on[j] >= st->index ||
			    !plan->stages[st->depends_on[j]].needed)
				abort();
		dockerfile_vars_init(&env);
		if (plan_step_env(st, st->n_steps, &env) < 0)
			abort();
		dockerfile_vars_release(&env);
	}
	if (plan_to_json(plan, &out, &err) < 0)
		abort();
	back = json_loadb(out.data, out.len, 0, &jerr);
	if (back == NULL)
		abort();
	json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const args[] = { "V=1", "HTTP_PROXY=http://proxy", "BASE=scratch" };
	_cleanup_error_ struct plate_error *err = NULL;
	struct dockerfile *df = NULL;
	struct plan *plan = NULL;
	struct plan_options o = { .build_args = args,
				  .n_build_args = 3,
				  .target_platform = "linux/arm/v7" };

	/* Keep inputs small: the parser's and planner's caps are tested elsewhere. */
	if (size > 65536)
		return 0;
	if (dockerfile_parse((const char *)data, size, NULL, &df, &err) < 0) {
		if (err == NULL || err->line == 0)
			abort();
		return 0;
	}
	if (plan_build(df, NULL, &plan, &err) == 0) {
		check_plan(plan);
		plan_free(plan);
		plan = NULL;
	} else if (err == NULL) {
		abort();
	}
	plate_error_free(err);
	err = NULL;
	for (size_t i = 0; i < df->n_instructions; i++) {
		const struct dockerfile_instruction *in = &df->instructions[i];
		if (strcmp(in->keyword, "from") == 0 && in->n_args == 3) {
			o.target = in->args[2];
			break;
		}
	}
	if (plan_build(df, &o, &plan, &err) == 0) {
		check_plan(plan);
		plan_free(plan);
	}
	dockerfile_free(df);
	return 0;
}
