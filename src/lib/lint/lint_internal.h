/*
 * lint/lint_internal.h — shared between the lint module's files.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "lint_internal.h is internal to the lint module"
#endif
#ifndef PLATE_LINT_INTERNAL_H
#define PLATE_LINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "lint/lint.h"

/* One lint run: where findings go and what the policy keeps. */
struct lint_run {
	const struct dockerfile *df;
	const struct lint_options *opt;
	const struct lint_policy *policy;
	struct finding_report *report;
	struct plate_error **err;
};

/* Adds a warning (an error under error=true) when the policy keeps rule `id`. */
int lint_emit(struct lint_run *run, const char *id, unsigned line, const char *fix, const char *fmt,
	      ...) __attribute__((format(printf, 5, 6)));

/* True when the rule is experimental (off unless `experimental=` names it). */
bool lint_rule_experimental(const char *id);

/* The value of flag `--name=` among inst's flags, or NULL. */
const char *lint_flag(const struct dockerfile_instruction *inst, const char *name);

/* A COPY or ADD that reads the build context (no --from, a source that is no URL or git
 * reference): true, with the source arguments in [0, n_args - 1). */
bool lint_copies_context(const struct dockerfile_instruction *inst);

/* The source, cleaned like Go's path.Clean relative to the context root ("./a/" -> "a",
 * "/" and "." -> "."); malloc'd or NULL on ENOMEM. */
char *lint_clean_source(const char *src);

/* Context checks (context.c): SecretInContext, DependencyDownloadAfterCopyAll,
 * CopyIgnoredFile. */
int lint_context_checks(struct lint_run *run);

#endif
