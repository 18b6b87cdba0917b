/*
 * lint/lint.h — Dockerfile checks: BuildKit's build-check rules and plate's context checks.
 *
 * Purpose
 *   lint_dockerfile() reports, as findings in a struct finding_report (finding/finding.h):
 *   - the build-check rules of BuildKit's Dockerfile frontend, with BuildKit's names,
 *     messages and semantics (docs/internals/lint.md lists the 22 and where plate differs):
 *     StageNameCasing, FromAsCasing, NoEmptyContinuation, ConsistentInstructionCasing,
 *     DuplicateStageName, ReservedStageName, JSONArgsRecommended, MaintainerDeprecated,
 *     UndefinedArgInFrom, WorkdirRelativePath, UndefinedVar, MultipleInstructionsDisallowed,
 *     LegacyKeyValueFormat, InvalidBaseImagePlatform, RedundantTargetPlatform,
 *     SecretsUsedInArgOrEnv, InvalidDefaultArgInFrom, FromPlatformFlagConstDisallowed,
 *     ExposeProtoCasing, ExposeInvalidFormat, and the experimental CopyIgnoredFile and
 *     InvalidDefinitionDescription (run only when `experimental=` names them);
 *   - plate's context checks: SecretInContext (a secret-looking context file that a COPY or
 *     ADD sends into the image because .dockerignore lets it through) and
 *     DependencyDownloadAfterCopyAll (a dependency download placed after `COPY . .`).
 *   Every finding is a warning, as in BuildKit; the check policy may drop or raise them.
 *
 * Policy
 *   The `# check=` directive, or the BUILDKIT_DOCKERFILE_CHECK build argument when given
 *   (it replaces the directive, as in BuildKit), is `key=value` pairs separated by ';':
 *   skip=all|ID,ID  error=true|false (Go strconv.ParseBool)  experimental=all|ID,ID.
 *   Skipped rules are not reported; experimental rules named by `experimental=` run even
 *   when skipped; error=true raises every reported finding to an error.  An unknown key or
 *   a bad boolean is an error, as BuildKit fails the build on it.
 *
 * Purity
 *   Pure functions over the parsed Dockerfile and what the caller passes in struct
 *   lint_options (the raw Dockerfile bytes for comments, build arguments, the context's file
 *   list and its .dockerignore matcher, an optional lookup of base-image facts).  No I/O.
 *
 * Ownership
 *   Everything passed in is borrowed; findings are copied into the caller's report.
 */
#ifndef PLATE_LINT_H
#define PLATE_LINT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "finding/finding.h"
#include "dockerfile/dockerfile.h"
#include "ignore/ignore.h"

struct lint_policy {
	char **skip; /* rule IDs, NULL-terminated, or NULL */
	bool skip_all;
	bool error;
	char **experimental; /* rule IDs, NULL-terminated, or NULL */
	bool experimental_all;
};

#define LINT_POLICY_INIT                                                               \
	{                                                                              \
		.skip = NULL, .skip_all = false, .error = false, .experimental = NULL, \
		.experimental_all = false                                              \
	}

/* Parses a check string ("skip=A,B;error=true").  NULL or blank gives the default policy. */
int lint_policy_parse(const char *s, struct lint_policy *out, struct plate_error **err);
void lint_policy_release(struct lint_policy *p);
/* Whether a finding of rule `id` is reported under the policy. */
bool lint_policy_enabled(const struct lint_policy *p, const char *id);

/* Facts about a base image plate may know (from its store) but a Dockerfile does not say. */
struct lint_image_info {
	bool env_known; /* env below is the image's full Env (else unknown) */
	struct dockerfile_vars env;
	char *platform; /* "os/arch[/variant]" of the image, or NULL */
	bool shell_set; /* the image config sets Shell (JSONArgsRecommended) */
};

struct lint_options {
	const char *file; /* name shown in findings, e.g. "Dockerfile" */
	/* The raw Dockerfile (comments are not in the parse tree): InvalidDefinitionDescription.
	 * May be NULL: that rule then reports nothing. */
	const char *source;
	size_t source_len;
	/* --build-arg values; NULL for none.  BUILDKIT_DOCKERFILE_CHECK among them sets the
	 * policy. */
	const struct dockerfile_vars *build_args;
	/* "os/arch[/variant]" the build targets; NULL means linux/amd64 for the predefined
	 * platform arguments. */
	const char *target_platform;
	/* Context entries, relative clean '/'-separated paths (directories without a trailing
	 * '/'); NULL when no context is known: the context checks then report nothing. */
	const char *const *context;
	size_t n_context;
	const struct ignore *ignore; /* the context's .dockerignore, or NULL */
	/* Fills *info for an external base image reference as written after expansion; returns
	 * false when nothing is known.  NULL: nothing is known about any image, and UndefinedVar
	 * and InvalidBaseImagePlatform are reported only where the Dockerfile alone decides. */
	bool (*image_info)(void *data, const char *image, struct lint_image_info *info);
	void *image_info_data;
};

void lint_image_info_release(struct lint_image_info *info);

/* Runs every check on df and adds the findings that the policy keeps to *report (sorted).
 * *policy_out (may be NULL) receives the policy used, owned by the caller. */
int lint_dockerfile(const struct dockerfile *df, const struct lint_options *opt,
		    struct finding_report *report, struct lint_policy *policy_out,
		    struct plate_error **err);

/* The rules plate knows, for `--help` and docs: IDs in a stable order, NULL-terminated. */
extern const char *const lint_rule_ids[];

#endif
