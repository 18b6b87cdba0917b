/*
 * BuildKit's build-check rules over the parse tree.  Messages and semantics follow BuildKit's
 * frontend/dockerfile/linter rule set and the rule pages of docs.docker.com (reference/
 * build-checks); docs/internals/lint.md says where plate can only approximate.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "lint/lint_internal.h"
#include "oci/oci.h"

/* BuildKit's predefined platform arguments: usable in FROM and never "undefined". */
/* clang-format off */
static const char *const platform_args[] = {
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
	"BUILDPLATFORM",  "BUILDOS",  "BUILDARCH",  "BUILDVARIANT",
	NULL,
};
/* clang-format on */

struct stage {
	char *name;	  /* lower-cased stage name, or NULL */
	bool shell_set;	  /* a SHELL in this stage or the stage it derives from */
	bool abs_workdir; /* an absolute WORKDIR set in this stage or the one it derives from */
	bool env_known;	  /* env holds every variable of the stage (scratch or a known image) */
	struct dockerfile_vars env;  /* ENV and ARG values (and the base image's Env if known) */
	struct dockerfile_vars args; /* ARG names declared in the stage */
	unsigned cmd_line, entrypoint_line, healthcheck_line; /* last seen, 0 for none */
};

struct rules {
	struct lint_run *run;
	struct dockerfile_vars meta;	 /* global ARGs, with build-arg values */
	struct dockerfile_vars defaults; /* global ARGs with their defaults only */
	struct stage *stages;
	size_t n_stages;
};

static void stage_release(struct stage *s)
{
	free(s->name);
	dockerfile_vars_release(&s->env);
	dockerfile_vars_release(&s->args);
}

static int oom(struct rules *r)
{
	return plate_err_new(r->run->err, ENOMEM, "out of memory while checking the Dockerfile");
}

const char *lint_flag(const struct dockerfile_instruction *inst, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < inst->n_flags; i++) {
		const char *f = inst->flags[i];
		if (strncmp(f, "--", 2) == 0 && strncmp(f + 2, name, n) == 0 && f[2 + n] == '=')
			return f + 3 + n;
	}
	return NULL;
}

static bool is_lower(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return false;
	return true;
}

static bool is_upper(const char *s)
{
	for (; *s; s++)
		if (islower((unsigned char)*s))
			return false;
	return true;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* The keyword as written: the first word of the logical line. */
static size_t keyword_as_written(const struct dockerfile_instruction *inst, char *out, size_t cap)
{
	const char *s = inst->original;
	size_t n = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	while (s[n] && s[n] != ' ' && s[n] != '\t' && n + 1 < cap) {
		out[n] = s[n];
		n++;
	}
	out[n] = '\0';
	return n;
}

/* Levenshtein distance, capped: the suggestions of UndefinedVar and UndefinedArgInFrom. */
static size_t distance(const char *a, const char *b, bool fold)
{
	size_t la = strlen(a), lb = strlen(b);
	_cleanup_free_ size_t *row = NULL;
	size_t best;

	if (la > 256 || lb > 256)
		return (size_t)-1;
	row = calloc(lb + 1, sizeof(*row));
	if (row == NULL)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			char ca = a[i - 1], cb = b[j - 1];
			bool same = fold ? tolower((unsigned char)ca) == tolower((unsigned char)cb)
					 : ca == cb;
			size_t v = diag + (same ? 0 : 1);
			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
		}
	}
	best = row[lb];
	return best;
}

/* The closest known name, as BuildKit's suggest.Search: a case-insensitive equal name, else
 * the nearest within distance 2 (and less than the name's length). */
static const char *suggest(const char *name, const struct dockerfile_vars *const *sets, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t s = 0; s < n; s++) {
		for (size_t i = 0; sets[s] && i < sets[s]->n; i++) {
			const char *cand = sets[s]->names[i];
			size_t d;
			if (strcmp(cand, name) == 0)
				continue;
			if (strcasecmp(cand, name) == 0)
				return cand;
			d = distance(name, cand, false);
			if (d < best_d && d < strlen(name)) {
				best = cand;
				best_d = d;
			}
		}
	}
	return best;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static const char *target_platform(const struct rules *r)
{
	return r->run->opt->target_platform ? r->run->opt->target_platform : "linux/amd64";
}

/* Sets the predefined platform arguments from the target (and, lacking better, the build)
 * platform. */
static int set_platform_args(struct rules *r, struct dockerfile_vars *v)
{
	const char *p = target_platform(r);
	const char *slash = strchr(p, '/');
	_cleanup_free_ char *os = slash ? strndup(p, (size_t)(slash - p)) : strdup(p);
	_cleanup_free_ char *arch = NULL;
	const char *variant = "";

	if (os == NULL)
		return -1;
	if (slash) {
		const char *s2 = strchr(slash + 1, '/');
		arch = s2 ? strndup(slash + 1, (size_t)(s2 - slash - 1)) : strdup(slash + 1);
		if (s2)
			variant = s2 + 1;
	} else {
		arch = strdup("");
	}
	if (arch == NULL)
		return -1;
	if (dockerfile_vars_set(v, "TARGETPLATFORM", p) < 0 ||
	    dockerfile_vars_set(v, "TARGETOS", os) < 0 ||
	    dockerfile_vars_set(v, "TARGETARCH", arch) < 0 ||
	    dockerfile_vars_set(v, "TARGETVARIANT", variant) < 0 ||
	    dockerfile_vars_set(v, "BUILDPLATFORM", p) < 0 ||
	    dockerfile_vars_set(v, "BUILDOS", os) < 0 ||
	    dockerfile_vars_set(v, "BUILDARCH", arch) < 0 ||
	    dockerfile_vars_set(v, "BUILDVARIANT", variant) < 0)
		return -1;
	return 0;
}

static const char *build_arg(const struct rules *r, const char *name)
{
	const struct dockerfile_vars *b = r->run->opt->build_args;
	return b ? dockerfile_vars_get(b, name, strlen(name)) : NULL;
}

/* Names `word` looks up that `vars` does not set.  An expansion error yields no names: the
 * build itself reports it. */
static int unset_names(struct rules *r, const char *word, const struct dockerfile_vars *vars,
		       struct dockerfile_vars *unset)
{
	_cleanup_error_ struct plate_error *e = NULL;

	dockerfile_vars_init(unset);
	if (dockerfile_expand_unset(word, strlen(word), r->run->df->escape, vars, unset, &e) < 0 &&
	    e != NULL && e->errno_value == ENOMEM)
		return oom(r);
	return 0;
}

/* ---- the whole file --------------------------------------------------------------------- */

static int check_casing(struct rules *r)
{
	const struct dockerfile *df = r->run->df;
	size_t lower = 0, upper = 0;
	char kw[64];

	for (size_t i = 0; i < df->n_instructions; i++) {
		keyword_as_written(&df->instructions[i], kw, sizeof(kw));
		if (is_lower(kw))
			lower++;
		else if (is_upper(kw))
			upper++;
	}
	/* A tie counts as upper case, like BuildKit's `lowerCount > upperCount`. */
	for (size_t i = 0; i < df->n_instructions; i++) {
		bool want_lower = lower > upper;
		keyword_as_written(&df->instructions[i], kw, sizeof(kw));
		if (want_lower ? is_lower(kw) : is_upper(kw))
			continue;
		if (lint_emit(r->run, "ConsistentInstructionCasing", df->instructions[i].start_line,
			      want_lower ? "write the instruction in lower case"
					 : "write the instruction in upper case",
			      "Command '%s' should match the case of the command majority (%s)", kw,
			      want_lower ? "lowercase" : "uppercase") < 0)
			return -1;
	}
	return 0;
}

static int check_empty_continuations(struct rules *r)
{
	const struct dockerfile *df = r->run->df;

	for (size_t i = 0; i < df->n_warnings; i++) {
		if (strncmp(df->warnings[i].message, "empty continuation line", 23) != 0)
			continue;
		if (lint_emit(r->run, "NoEmptyContinuation", df->warnings[i].line,
			      "remove the empty line or end it with a comment",
			      "Empty continuation line") < 0)
			return -1;
	}
	return 0;
}

/* The comment lines directly above `line` (1-based) in the raw source: the last one in
 * [*s, *e), or false when the line above is not a comment. */
static bool comment_above(const struct rules *r, unsigned line, const char **s, const char **e)
{
	const char *src = r->run->opt->source, *end, *p, *prev = NULL, *prev_end = NULL;
	unsigned l = 1;

	if (src == NULL || line < 2)
		return false;
	end = src + r->run->opt->source_len;
	for (p = src; p < end && l < line; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		prev = p;
		prev_end = nl ? nl : end;
		p = nl ? nl + 1 : end;
	}
	if (prev == NULL || l != line)
		return false;
	while (prev < prev_end && (*prev == ' ' || *prev == '\t'))
		prev++;
	if (prev_end > prev && prev_end[-1] == '\r')
		prev_end--;
	if (prev == prev_end || *prev != '#')
		return false;
	prev++;
	while (prev < prev_end && (*prev == ' ' || *prev == '\t'))
		prev++;
	*s = prev;
	*e = prev_end;
	return true;
}

/* InvalidDefinitionDescription: the comment right above a named FROM or an ARG must begin
 * with the name (BuildKit compares the first space-separated word of the last comment
 * line). */
static int check_description(struct rules *r, const struct dockerfile_instruction *inst,
			     const char *what, const char *const *names, size_t n)
{
	const char *s, *e, *sp;
	size_t wl;

	if (n == 0 || !comment_above(r, inst->start_line, &s, &e))
		return 0;
	/* Parser directives at the top of the file are not descriptions. */
	if (memchr(s, '=', (size_t)(e - s)) != NULL &&
	    (strncmp(s, "syntax=", 7) == 0 || strncmp(s, "check=", 6) == 0 ||
	     strncmp(s, "escape=", 7) == 0))
		return 0;
	sp = memchr(s, ' ', (size_t)(e - s));
	wl = (size_t)((sp ? sp : e) - s);
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == wl && memcmp(names[i], s, wl) == 0)
			return 0;
	return lint_emit(r->run, "InvalidDefinitionDescription", inst->start_line,
			 "start the comment with the name, or separate it with an empty line",
			 "Comment for %s should follow the format: `# %s <description>`", what,
			 n > 1 ? "<arg_key>" : names[0]);
}

/* SecretsUsedInArgOrEnv: a key with an '_'-separated word among BuildKit's secret tokens,
 * unless one word is "public". */
static bool secret_key(const char *key)
{
	static const char *const tokens[] = { "apikey", "auth",	    "credential", "credentials",
					      "key",	"password", "pword",	  "passwd",
					      "secret", "token",    NULL };
	bool secret = false, allow = false;
	const char *p = key;

	for (;;) {
		const char *u = strchr(p, '_');
		size_t n = u ? (size_t)(u - p) : strlen(p);
		for (size_t i = 0; tokens[i]; i++)
			if (strlen(tokens[i]) == n && strncasecmp(tokens[i], p, n) == 0)
				secret = true;
		if (n == 6 && strncasecmp(p, "public", 6) == 0)
			allow = true;
		if (u == NULL)
			break;
		p = u + 1;
	}
	return secret && !allow;
}

static int check_secret_key(struct rules *r, const struct dockerfile_instruction *inst,
			    const char *what, const char *key)
{
	if (!secret_key(key))
		return 0;
	return lint_emit(r->run, "SecretsUsedInArgOrEnv", inst->start_line,
			 "pass secrets with RUN --mount=type=secret instead",
			 "Do not use ARG or ENV instructions for sensitive data (%s \"%s\")", what,
			 key);
}

/* ---- global ARGs and FROM --------------------------------------------------------------- */

static int split_arg(const char *arg, char **name, const char **value)
{
	const char *eq = strchr(arg, '=');

	*name = eq ? strndup(arg, (size_t)(eq - arg)) : strdup(arg);
	*value = eq ? eq + 1 : NULL;
	return *name ? 0 : -1;
}

static int meta_arg(struct rules *r, const struct dockerfile_instruction *inst)
{
	for (size_t i = 0; i < inst->n_args; i++) {
		_cleanup_free_ char *name = NULL, *value = NULL, *dvalue = NULL;
		const char *raw, *given;
		_cleanup_error_ struct plate_error *e = NULL;

		if (split_arg(inst->args[i], &name, &raw) < 0)
			return oom(r);
		if (check_secret_key(r, inst, "ARG", name) < 0)
			return -1;
		given = build_arg(r, name);
		if (raw != NULL && dockerfile_expand_word(raw, strlen(raw), r->run->df->escape,
							  &r->defaults, 0, &dvalue, &e) < 0)
			dvalue = NULL;
		if (given)
			value = strdup(given);
		else if (dvalue)
			value = strdup(dvalue);
		if ((given || dvalue) && value == NULL)
			return oom(r);
		if (dockerfile_vars_set(&r->meta, name, value ? value : "") < 0 ||
		    (dvalue && dockerfile_vars_set(&r->defaults, name, dvalue) < 0))
			return oom(r);
	}
	if (inst->n_args > 0) {
		const char **names = calloc(inst->n_args, sizeof(*names));
		int rc;
		char **owned = calloc(inst->n_args, sizeof(*owned));
		if (names == NULL || owned == NULL) {
			free(names);
			free(owned);
			return oom(r);
		}
		for (size_t i = 0; i < inst->n_args; i++) {
			const char *v;
			if (split_arg(inst->args[i], &owned[i], &v) < 0) {
				strv_free(owned, i);
				free(names);
				return oom(r);
			}
			names[i] = owned[i];
		}
		rc = check_description(r, inst, "ARG", names, inst->n_args);
		strv_free(owned, inst->n_args);
		free(names);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int stage_index(const struct rules *r, const char *lname)
{
	for (size_t i = 0; i < r->n_stages; i++)
		if (r->stages[i].name && strcmp(r->stages[i].name, lname) == 0)
			return (int)i;
	return -1;
}

/* InvalidDefaultArgInFrom: with the global ARGs' defaults alone, the base must name
 * scratch, an earlier stage or a valid image reference. */
static int check_default_base(struct rules *r, const struct dockerfile_instruction *inst)
{
	const char *image = inst->args[0];
	_cleanup_free_ char *exp = NULL, *lower = NULL;
	_cleanup_error_ struct plate_error *e = NULL;
	struct oci_reference ref;
	bool ok;

	if (strchr(image, '$') == NULL)
		return 0;
	if (dockerfile_expand_word(image, strlen(image), r->run->df->escape, &r->defaults, 0, &exp,
				   &e) < 0)
		ok = false;
	else if (exp[0] == '\0')
		ok = false;
	else {
		lower = lower_dup(exp);
		if (lower == NULL)
			return oom(r);
		ok = strcmp(lower, "scratch") == 0 || stage_index(r, lower) >= 0;
		if (!ok) {
			_cleanup_error_ struct plate_error *e2 = NULL;
			ok = oci_reference_parse(exp, strlen(exp), &ref, &e2) == 0;
			if (ok)
				oci_reference_release(&ref);
		}
	}
	if (ok)
		return 0;
	return lint_emit(r->run, "InvalidDefaultArgInFrom", inst->start_line,
			 "give the ARG a default that makes a valid image name",
			 "Default value for ARG %s results in empty or invalid base image name",
			 image);
}

static int check_from_vars(struct rules *r, const struct dockerfile_instruction *inst,
			   const char *word)
{
	struct dockerfile_vars unset;
	int rc = 0;

	if (unset_names(r, word, &r->meta, &unset) < 0)
		return -1;
	for (size_t i = 0; i < unset.n && rc == 0; i++) {
		const struct dockerfile_vars *sets[] = { &r->meta };
		const char *s = suggest(unset.names[i], sets, 1);
		if (build_arg(r, unset.names[i]))
			continue;
		if (s)
			rc = lint_emit(r->run, "UndefinedArgInFrom", inst->start_line,
				       "declare it with ARG before the first FROM",
				       "FROM argument '%s' is not declared (did you mean %s?)",
				       unset.names[i], s);
		else
			rc = lint_emit(r->run, "UndefinedArgInFrom", inst->start_line,
				       "declare it with ARG before the first FROM",
				       "FROM argument '%s' is not declared", unset.names[i]);
	}
	dockerfile_vars_release(&unset);
	return rc;
}

/* The os and arch of a constant platform appear in the stage name: FROM --platform=linux/
 * amd64 ... AS build_amd64 is the documented exception of FromPlatformFlagConstDisallowed. */
static bool platform_in_name(const char *platform, const char *name)
{
	char buf[256];
	char *save = NULL;

	if (name == NULL || strlen(platform) >= sizeof(buf))
		return false;
	memcpy(buf, platform, strlen(platform) + 1);
	for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save))
		if (*t && strstr(name, t) != NULL)
			return true;
	return false;
}

static int check_platform_flag(struct rules *r, const struct dockerfile_instruction *inst,
			       const char *platform, const char *stage_name)
{
	if (strcmp(platform, "$TARGETPLATFORM") == 0 || strcmp(platform, "${TARGETPLATFORM}") == 0)
		return lint_emit(r->run, "RedundantTargetPlatform", inst->start_line,
				 "remove the --platform flag",
				 "Setting platform to predefined %s in FROM is redundant as this "
				 "is "
				 "the default behavior",
				 platform);
	if (strchr(platform, '$') == NULL && !platform_in_name(platform, stage_name))
		return lint_emit(r->run, "FromPlatformFlagConstDisallowed", inst->start_line,
				 "drop the flag and pass --platform to the build, or use "
				 "$BUILDPLATFORM",
				 "FROM --platform flag should not use constant value \"%s\"",
				 platform);
	return check_from_vars(r, inst, platform);
}

static int from(struct rules *r, const struct dockerfile_instruction *inst, struct stage **cur)
{
	struct stage *s, *grown;
	const char *name = inst->n_args >= 3 ? inst->args[2] : NULL;
	const char *platform = lint_flag(inst, "platform");
	_cleanup_free_ char *base = NULL, *lbase = NULL;
	_cleanup_error_ struct plate_error *e = NULL;
	char kw[64];
	int parent;

	if (inst->n_args == 0)
		return 0;
	keyword_as_written(inst, kw, sizeof(kw));
	if (name) {
		const char *as = inst->args[1];
		if (!is_lower(name) && lint_emit(r->run, "StageNameCasing", inst->start_line,
						 "write the stage name in lower case",
						 "Stage name '%s' should be lowercase", name) < 0)
			return -1;
		/* Mixed-case FROM is ConsistentInstructionCasing's business, not this rule's. */
		if (((is_upper(kw) && !is_upper(as)) || (is_lower(kw) && !is_lower(as))) &&
		    (is_upper(kw) || is_lower(kw)) &&
		    lint_emit(r->run, "FromAsCasing", inst->start_line,
			      "write 'as' in the case of 'from'",
			      "'%s' and '%s' keywords' casing do not match", as, kw) < 0)
			return -1;
	}
	if (check_from_vars(r, inst, inst->args[0]) < 0 || check_default_base(r, inst) < 0)
		return -1;
	if (platform && check_platform_flag(r, inst, platform, name) < 0)
		return -1;
	if (dockerfile_expand_word(inst->args[0], strlen(inst->args[0]), r->run->df->escape,
				   &r->meta, 0, &base, &e) < 0)
		base = NULL;
	if (base && (lbase = lower_dup(base)) == NULL)
		return oom(r);
	parent = lbase ? stage_index(r, lbase) : -1;

	grown = reallocarray(r->stages, r->n_stages + 1, sizeof(*grown));
	if (grown == NULL)
		return oom(r);
	r->stages = grown;
	s = &r->stages[r->n_stages++];
	*s = (struct stage){ 0 };
	dockerfile_vars_init(&s->env);
	dockerfile_vars_init(&s->args);
	*cur = s;
	if (name) {
		s->name = lower_dup(name);
		if (s->name == NULL)
			return oom(r);
		if (strcmp(s->name, "scratch") == 0 || strcmp(s->name, "context") == 0) {
			if (lint_emit(r->run, "ReservedStageName", inst->start_line,
				      "rename the stage",
				      "Stage name should not use the same name as reserved stage "
				      "\"%s\"",
				      s->name) < 0)
				return -1;
		}
		for (size_t i = 0; i + 1 < r->n_stages; i++)
			if (r->stages[i].name && strcmp(r->stages[i].name, s->name) == 0) {
				if (lint_emit(r->run, "DuplicateStageName", inst->start_line,
					      "rename one of the stages",
					      "Duplicate stage name \"%s\", stage names should be "
					      "unique",
					      name) < 0)
					return -1;
				break;
			}
		if (check_description(r, inst, "FROM", (const char *const *)&name, 1) < 0)
			return -1;
	}
	if (parent >= 0) {
		const struct stage *p = &r->stages[parent];
		s->shell_set = p->shell_set;
		s->abs_workdir = p->abs_workdir;
		s->env_known = p->env_known;
		if (dockerfile_vars_copy(&s->env, &p->env) < 0)
			return oom(r);
	} else if (lbase && strcmp(lbase, "scratch") == 0) {
		s->env_known = true;
	} else if (base && r->run->opt->image_info) {
		struct lint_image_info info = { 0 };
		dockerfile_vars_init(&info.env);
		if (r->run->opt->image_info(r->run->opt->image_info_data, base, &info)) {
			int rc = 0;
			s->shell_set = info.shell_set;
			if (info.env_known) {
				s->env_known = true;
				for (size_t i = 0; i < info.env.n && rc == 0; i++)
					if (dockerfile_vars_set(&s->env, info.env.names[i],
								info.env.values[i]) < 0)
						rc = oom(r);
			}
			if (rc == 0 && info.platform && platform == NULL &&
			    strcmp(info.platform, target_platform(r)) != 0)
				rc = lint_emit(r->run, "InvalidBaseImagePlatform", inst->start_line,
					       "pull the image for the target platform",
					       "Base image %s was pulled with platform \"%s\", "
					       "expected \"%s\" for current build",
					       base, info.platform, target_platform(r));
			lint_image_info_release(&info);
			if (rc < 0)
				return -1;
		} else {
			lint_image_info_release(&info);
		}
	}
	/* BuildKit gives every image a PATH (its default when the image has none). */
	if (dockerfile_vars_get(&s->env, "PATH", 4) == NULL &&
	    dockerfile_vars_set(&s->env, "PATH",
				"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
		return oom(r);
	return 0;
}

void lint_image_info_release(struct lint_image_info *info)
{
	dockerfile_vars_release(&info->env);
	free(info->platform);
	info->platform = NULL;
}

/* ---- stage instructions ----------------------------------------------------------------- */

/* UndefinedVar over one word expanded in the stage.  When the base image's Env is unknown
 * plate cannot tell "undefined" from "defined by the base image", so it reports only names
 * that are global ARGs not redeclared in the stage (the classic mistake: global ARGs are
 * not visible in a stage until declared again). */
static int check_word(struct rules *r, struct stage *s, const struct dockerfile_instruction *inst,
		      const char *word)
{
	struct dockerfile_vars unset;
	int rc = 0;

	if (strchr(word, '$') == NULL)
		return 0;
	if (unset_names(r, word, &s->env, &unset) < 0)
		return -1;
	for (size_t i = 0; i < unset.n && rc == 0; i++) {
		const char *n = unset.names[i];
		const struct dockerfile_vars *sets[] = { &s->env, &s->args };
		const char *sug;
		size_t nl = strlen(n);
		if (dockerfile_vars_get(&s->args, n, nl) || build_arg(r, n) ||
		    in_list(platform_args, n) || !(isalpha((unsigned char)n[0]) || n[0] == '_'))
			continue;
		if (!s->env_known && dockerfile_vars_get(&r->meta, n, nl) == NULL)
			continue;
		sug = suggest(n, sets, 2);
		if (sug)
			rc = lint_emit(r->run, "UndefinedVar", inst->start_line,
				       "declare it with ARG or ENV first",
				       "Usage of undefined variable '$%s' (did you mean $%s?)", n,
				       sug);
		else
			rc = lint_emit(r->run, "UndefinedVar", inst->start_line,
				       "declare it with ARG or ENV first",
				       "Usage of undefined variable '$%s'", n);
	}
	dockerfile_vars_release(&unset);
	return rc;
}

static int set_expanded(struct rules *r, struct stage *s, const char *name, const char *raw)
{
	_cleanup_free_ char *v = NULL;
	_cleanup_error_ struct plate_error *e = NULL;

	if (dockerfile_expand_word(raw, strlen(raw), r->run->df->escape, &s->env, 0, &v, &e) < 0)
		v = NULL;
	return dockerfile_vars_set(&s->env, name, v ? v : "") < 0 ? oom(r) : 0;
}

static int stage_arg(struct rules *r, struct stage *s, const struct dockerfile_instruction *inst)
{
	const char **names;
	char **owned;
	int rc = 0;

	if (inst->n_args == 0)
		return 0;
	names = calloc(inst->n_args, sizeof(*names));
	owned = calloc(inst->n_args, sizeof(*owned));
	if (names == NULL || owned == NULL) {
		free(names);
		free(owned);
		return oom(r);
	}
	for (size_t i = 0; i < inst->n_args && rc == 0; i++) {
		const char *raw, *given, *meta;
		if (split_arg(inst->args[i], &owned[i], &raw) < 0) {
			rc = oom(r);
			break;
		}
		names[i] = owned[i];
		rc = check_secret_key(r, inst, "ARG", owned[i]);
		if (rc == 0 && raw)
			rc = check_word(r, s, inst, raw);
		if (rc < 0)
			break;
		given = build_arg(r, owned[i]);
		meta = dockerfile_vars_get(&r->meta, owned[i], strlen(owned[i]));
		if (dockerfile_vars_set(&s->args, owned[i], "") < 0)
			rc = oom(r);
		else if (given || (!raw && meta))
			rc = dockerfile_vars_set(&s->env, owned[i], given ? given : meta) < 0
				     ? oom(r)
				     : 0;
		else if (raw)
			rc = set_expanded(r, s, owned[i], raw);
	}
	if (rc == 0)
		rc = check_description(r, inst, "ARG", names, inst->n_args);
	strv_free(owned, inst->n_args);
	free(names);
	return rc;
}

/* ENV and LABEL: (key, value, separator) triples; an empty separator is the legacy
 * `KEY value` form. */
static int key_values(struct rules *r, struct stage *s, const struct dockerfile_instruction *inst,
		      bool env)
{
	const char *what = env ? "ENV" : "LABEL";

	for (size_t i = 0; i + 1 < inst->n_args; i += 3) {
		const char *key = inst->args[i], *value = inst->args[i + 1];
		const char *sep = i + 2 < inst->n_args ? inst->args[i + 2] : "";
		if (sep[0] == '\0' &&
		    lint_emit(r->run, "LegacyKeyValueFormat", inst->start_line,
			      env ? "write ENV key=value" : "write LABEL key=value",
			      "\"%s key=value\" should be used instead of legacy \"%s key value\" "
			      "format",
			      what, what) < 0)
			return -1;
		if (env && check_secret_key(r, inst, "ENV", key) < 0)
			return -1;
		if (!env && check_word(r, s, inst, key) < 0)
			return -1;
		if (check_word(r, s, inst, value) < 0)
			return -1;
	}
	/* BuildKit expands every value of one ENV against the environment before it. */
	for (size_t i = 0; env && i + 1 < inst->n_args; i += 3)
		if (set_expanded(r, s, inst->args[i], inst->args[i + 1]) < 0)
			return -1;
	return 0;
}

static int expose(struct rules *r, struct stage *s, const struct dockerfile_instruction *inst)
{
	for (size_t i = 0; i < inst->n_args; i++) {
		const char *p = inst->args[i], *slash;
		if (check_word(r, s, inst, p) < 0)
			return -1;
		if (strchr(p, ':') &&
		    lint_emit(r->run, "ExposeInvalidFormat", inst->start_line,
			      "expose the container port only; publish with `docker run -p`",
			      "EXPOSE instruction should not define an IP address or host-port "
			      "mapping, found '%s'",
			      p) < 0)
			return -1;
		slash = strchr(p, '/');
		if (slash && !is_lower(slash + 1) &&
		    lint_emit(r->run, "ExposeProtoCasing", inst->start_line,
			      "write the protocol in lower case",
			      "Defined protocol '%s' in EXPOSE instruction should be lowercase",
			      p) < 0)
			return -1;
	}
	return 0;
}

static int used_once(struct rules *r, unsigned *last, const struct dockerfile_instruction *inst,
		     const char *what)
{
	unsigned prev = *last;

	*last = inst->start_line;
	if (prev == 0)
		return 0;
	return lint_emit(r->run, "MultipleInstructionsDisallowed", prev,
			 "remove all but the last one",
			 "Multiple %s instructions should not be used in the same stage because "
			 "only the last one will be used",
			 what);
}

static int workdir(struct rules *r, struct stage *s, const struct dockerfile_instruction *inst)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_error_ struct plate_error *e = NULL;
	struct dockerfile_vars unset;
	bool unknown;

	if (inst->n_args == 0)
		return 0;
	if (check_word(r, s, inst, inst->args[0]) < 0 ||
	    unset_names(r, inst->args[0], &s->env, &unset) < 0)
		return -1;
	unknown = unset.n > 0 && !s->env_known;
	dockerfile_vars_release(&unset);
	if (dockerfile_expand_word(inst->args[0], strlen(inst->args[0]), r->run->df->escape,
				   &s->env, 0, &path, &e) < 0 ||
	    unknown)
		return 0;
	if (path[0] == '/') {
		s->abs_workdir = true;
		return 0;
	}
	if (s->abs_workdir)
		return 0;
	return lint_emit(r->run, "WorkdirRelativePath", inst->start_line, "use an absolute path",
			 "Relative workdir \"%s\" can have unexpected results if the base image "
			 "changes",
			 path);
}

static int stage_instruction(struct rules *r, struct stage *s,
			     const struct dockerfile_instruction *inst)
{
	const char *k = inst->keyword;

	if (strcmp(k, "arg") == 0)
		return stage_arg(r, s, inst);
	if (strcmp(k, "env") == 0)
		return key_values(r, s, inst, true);
	if (strcmp(k, "label") == 0)
		return key_values(r, s, inst, false);
	if (strcmp(k, "expose") == 0)
		return expose(r, s, inst);
	if (strcmp(k, "workdir") == 0)
		return workdir(r, s, inst);
	if (strcmp(k, "maintainer") == 0)
		return lint_emit(r->run, "MaintainerDeprecated", inst->start_line,
				 "use LABEL org.opencontainers.image.authors=...",
				 "Maintainer instruction is deprecated in favor of using label");
	if (strcmp(k, "shell") == 0) {
		s->shell_set = true;
		return 0;
	}
	if (strcmp(k, "cmd") == 0 || strcmp(k, "entrypoint") == 0) {
		bool cmd = k[0] == 'c';
		if (used_once(r, cmd ? &s->cmd_line : &s->entrypoint_line, inst,
			      cmd ? "CMD" : "ENTRYPOINT") < 0)
			return -1;
		if (!inst->json_form && !s->shell_set)
			return lint_emit(r->run, "JSONArgsRecommended", inst->start_line,
					 "use the exec form: [\"program\", \"arg\"]",
					 "JSON arguments recommended for %s to prevent unintended "
					 "behavior related to OS signals",
					 cmd ? "CMD" : "ENTRYPOINT");
		return 0;
	}
	if (strcmp(k, "healthcheck") == 0)
		return used_once(r, &s->healthcheck_line, inst, "HEALTHCHECK");
	if (strcmp(k, "copy") == 0 || strcmp(k, "add") == 0) {
		static const char *const flags[] = { "chown", "chmod", NULL };
		for (size_t i = 0; i < inst->n_args; i++)
			if (check_word(r, s, inst, inst->args[i]) < 0)
				return -1;
		for (size_t i = 0; flags[i]; i++) {
			const char *v = lint_flag(inst, flags[i]);
			if (v && check_word(r, s, inst, v) < 0)
				return -1;
		}
		return 0;
	}
	if (strcmp(k, "user") == 0 || strcmp(k, "volume") == 0 || strcmp(k, "stopsignal") == 0) {
		for (size_t i = 0; i < inst->n_args; i++)
			if (check_word(r, s, inst, inst->args[i]) < 0)
				return -1;
	}
	return 0;
}

static int run_rules(struct rules *r)
{
	const struct dockerfile *df = r->run->df;
	struct stage *cur = NULL;

	if (set_platform_args(r, &r->meta) < 0 || set_platform_args(r, &r->defaults) < 0)
		return oom(r);
	if (check_casing(r) < 0 || check_empty_continuations(r) < 0)
		return -1;
	for (size_t i = 0; i < df->n_instructions; i++) {
		const struct dockerfile_instruction *inst = &df->instructions[i];
		int rc;
		if (strcmp(inst->keyword, "from") == 0)
			rc = from(r, inst, &cur);
		else if (cur == NULL)
			rc = strcmp(inst->keyword, "arg") == 0 ? meta_arg(r, inst) : 0;
		else
			rc = stage_instruction(r, cur, inst);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int policy_for(const struct dockerfile *df, const struct lint_options *opt,
		      struct lint_policy *p, struct plate_error **err)
{
	const char *arg =
		opt->build_args ? dockerfile_vars_get(opt->build_args, "BUILDKIT_DOCKERFILE_CHECK",
						      strlen("BUILDKIT_DOCKERFILE_CHECK"))
				: NULL;

	if (lint_policy_parse(arg ? arg : df->check, p, err) < 0)
		return plate_err_wrap(err,
				      arg ? "BUILDKIT_DOCKERFILE_CHECK" : "'# check=' directive");
	return 0;
}

int lint_dockerfile(const struct dockerfile *df, const struct lint_options *opt,
		    struct finding_report *report, struct lint_policy *policy_out,
		    struct plate_error **err)
{
	struct lint_policy policy;
	struct lint_run run = {
		.df = df, .opt = opt, .policy = &policy, .report = report, .err = err
	};
	struct rules r = { .run = &run };
	int rc;

	if (policy_for(df, opt, &policy, err) < 0)
		return -1;
	dockerfile_vars_init(&r.meta);
	dockerfile_vars_init(&r.defaults);
	rc = run_rules(&r);
	if (rc == 0)
		rc = lint_context_checks(&run);
	for (size_t i = 0; i < r.n_stages; i++)
		stage_release(&r.stages[i]);
	free(r.stages);
	dockerfile_vars_release(&r.meta);
	dockerfile_vars_release(&r.defaults);
	if (rc == 0)
		finding_report_sort(report);
	if (rc == 0 && policy_out)
		*policy_out = policy;
	else
		lint_policy_release(&policy);
	return rc;
}
