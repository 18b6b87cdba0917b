/*
 * Steps: checking each instruction (keyword, flags, argument count), recording it with its
 * arguments as written and the stages or images it reads from, and — for needed stages —
 * the expansion the Dockerfile reference prescribes ("Environment replacement").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "oci/oci.h"
#include "plan/plan_internal.h"

enum expand_kind {
	EXPAND_NONE,	/* RUN CMD ENTRYPOINT SHELL HEALTHCHECK MAINTAINER: the shell's business */
	EXPAND_WORDS,	/* ADD COPY EXPOSE VOLUME USER WORKDIR STOPSIGNAL: each word */
	EXPAND_KV,	/* ENV LABEL: key and value of each pair */
	EXPAND_ARG,	/* ARG: build-arg, global or expanded default */
	EXPAND_STAGE,	/* FROM: handled by plan.c with the global scope */
	EXPAND_TRIGGER, /* ONBUILD: kept as written until the trigger runs */
};

struct rule {
	const char *keyword;
	enum expand_kind kind;
	unsigned min_args;
	const char *const *flags;      /* value flags (--name=value) */
	const char *const *bool_flags; /* --name or --name=true|false */
	const char *const *multi;      /* flags that may be repeated */
};

static const char *const from_flags[] = { "platform", NULL };
static const char *const copy_flags[] = { "from", "chown", "chmod", "exclude", NULL };
static const char *const copy_bool[] = { "link", "parents", NULL };
static const char *const add_flags[] = { "chown", "chmod", "checksum", "exclude", NULL };
static const char *const add_bool[] = { "link", "keep-git-dir", "unpack", NULL };
static const char *const exclude_multi[] = { "exclude", NULL };
/* BuildKit's stable syntax has no --device (a labs feature): refused as an unknown flag. */
static const char *const run_flags[] = { "mount", "network", "security", NULL };
static const char *const run_multi[] = { "mount", NULL };
static const char *const health_flags[] = { "interval",	      "timeout", "start-period",
					    "start-interval", "retries", NULL };

static const struct rule rules[] = {
	{ "add", EXPAND_WORDS, 2, add_flags, add_bool, exclude_multi },
	{ "arg", EXPAND_ARG, 1, NULL, NULL, NULL },
	{ "cmd", EXPAND_NONE, 0, NULL, NULL, NULL },
	{ "copy", EXPAND_WORDS, 2, copy_flags, copy_bool, exclude_multi },
	{ "entrypoint", EXPAND_NONE, 0, NULL, NULL, NULL },
	{ "env", EXPAND_KV, 3, NULL, NULL, NULL },
	{ "expose", EXPAND_WORDS, 1, NULL, NULL, NULL },
	{ "from", EXPAND_STAGE, 1, from_flags, NULL, NULL },
	{ "healthcheck", EXPAND_NONE, 1, health_flags, NULL, NULL },
	{ "label", EXPAND_KV, 3, NULL, NULL, NULL },
	{ "maintainer", EXPAND_NONE, 1, NULL, NULL, NULL },
	{ "onbuild", EXPAND_TRIGGER, 0, NULL, NULL, NULL },
	{ "run", EXPAND_NONE, 0, run_flags, NULL, run_multi },
	{ "shell", EXPAND_NONE, 1, NULL, NULL, NULL },
	{ "stopsignal", EXPAND_WORDS, 1, NULL, NULL, NULL },
	{ "user", EXPAND_WORDS, 1, NULL, NULL, NULL },
	{ "volume", EXPAND_WORDS, 1, NULL, NULL, NULL },
	{ "workdir", EXPAND_WORDS, 1, NULL, NULL, NULL },
};

static const struct rule *find_rule(const char *keyword)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rules[i].keyword, keyword) == 0)
			return &rules[i];
	return NULL;
}

static bool in_list(const char *const *list, const char *name, size_t len)
{
	for (; list != NULL && *list != NULL; list++)
		if (strlen(*list) == len && strncmp(*list, name, len) == 0)
			return true;
	return false;
}

static char *upper_dup(const char *s)
{
	char *u = strdup(s);

	for (char *p = u; p != NULL && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return u;
}

static int check_flags(const struct dockerfile_instruction *in, const struct rule *r, unsigned line,
		       unsigned column, struct plate_error **err)
{
	_cleanup_free_ char *kw = upper_dup(in->keyword);

	if (kw == NULL)
		return plate_err_new(err, ENOMEM, "cannot check flags");
	for (size_t i = 0; i < in->n_flags; i++) {
		const char *f = in->flags[i], *name = f + 2, *eq;
		size_t len;

		if (strncmp(f, "--", 2) != 0)
			return plate_err_at(err, line, column, "invalid flag '%s' for %s", f, kw);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if (in_list(r->bool_flags, name, len)) {
			if (eq != NULL && strcasecmp(eq + 1, "true") != 0 &&
			    strcasecmp(eq + 1, "false") != 0)
				return plate_err_at(err, line, column,
						    "expecting boolean value for flag '--%.*s', "
						    "not '%s'",
						    (int)len, name, eq + 1);
		} else if (in_list(r->flags, name, len)) {
			if (eq == NULL)
				return plate_err_at(err, line, column,
						    "missing a value on flag '--%.*s'", (int)len,
						    name);
		} else {
			return plate_err_at(err, line, column, "unknown flag '--%.*s' for %s",
					    (int)len, name, kw);
		}
		if (in_list(r->multi, name, len))
			continue;
		for (size_t j = 0; j < i; j++) {
			const char *g = in->flags[j] + 2;
			if (strncmp(g, name, len) == 0 && (g[len] == '=' || g[len] == '\0'))
				return plate_err_at(err, line, column,
						    "duplicate flag specified: '--%.*s'", (int)len,
						    name);
		}
	}
	return 0;
}

static int check_args(const struct dockerfile_instruction *in, const struct rule *r, unsigned line,
		      unsigned column, struct plate_error **err)
{
	_cleanup_free_ char *kw = upper_dup(in->keyword);

	if (kw == NULL)
		return plate_err_new(err, ENOMEM, "cannot check arguments");
	if (in->n_args < r->min_args) {
		if (r->min_args == 2)
			return plate_err_at(err, line, column,
					    "%s requires at least two arguments: sources and a "
					    "destination",
					    kw);
		return plate_err_at(err, line, column, "%s requires at least one argument", kw);
	}
	switch (r->kind) {
	case EXPAND_KV:
		for (size_t i = 0; i + 2 < in->n_args; i += 3)
			if (in->args[i][0] == '\0')
				return plate_err_at(err, line, column, "%s names can not be blank",
						    kw);
		break;
	case EXPAND_ARG:
		for (size_t i = 0; i < in->n_args; i++)
			if (in->args[i][0] == '=' || in->args[i][0] == '\0')
				return plate_err_at(err, line, column,
						    "ARG names can not be blank");
		break;
	case EXPAND_WORDS:
		if ((strcmp(in->keyword, "user") == 0 || strcmp(in->keyword, "workdir") == 0 ||
		     strcmp(in->keyword, "stopsignal") == 0) &&
		    in->n_args != 1)
			return plate_err_at(err, line, column, "%s requires exactly one argument",
					    kw);
		break;
	case EXPAND_NONE:
		if (strcmp(in->keyword, "shell") == 0 && !in->json_form)
			return plate_err_at(err, line, column,
					    "SHELL requires the arguments to be in JSON form");
		if (strcmp(in->keyword, "maintainer") == 0 && in->n_args != 1)
			return plate_err_at(err, line, column,
					    "MAINTAINER requires exactly one argument");
		if (strcmp(in->keyword, "healthcheck") == 0) {
			if (strcasecmp(in->args[0], "none") == 0) {
				if (in->n_args != 1)
					return plate_err_at(err, line, column,
							    "HEALTHCHECK NONE takes no arguments");
			} else if (strcasecmp(in->args[0], "cmd") != 0) {
				return plate_err_at(err, line, column,
						    "unknown type '%s' in HEALTHCHECK (try CMD)",
						    in->args[0]);
			} else if (in->n_args < 2) {
				return plate_err_at(err, line, column,
						    "missing command after HEALTHCHECK CMD");
			}
		}
		break;
	case EXPAND_TRIGGER:
	case EXPAND_STAGE:
		break;
	default:
		PLATE_BUG("unknown expansion kind");
	}
	return 0;
}

static int check_at(const struct dockerfile_instruction *in, unsigned line, unsigned column,
		    struct plate_error **err)
{
	const struct rule *r = find_rule(in->keyword);

	if (r == NULL) {
		_cleanup_free_ char *kw = upper_dup(in->keyword);
		return plate_err_at(err, line, column, "unknown instruction '%s'",
				    kw ? kw : in->keyword);
	}
	if (check_flags(in, r, line, column, err) < 0 || check_args(in, r, line, column, err) < 0)
		return -1;
	if (r->kind != EXPAND_TRIGGER)
		return 0;
	/* The parser refuses ONBUILD ONBUILD and ONBUILD FROM/MAINTAINER; an empty ONBUILD
	 * reaches us without a trigger. */
	if (in->sub == NULL)
		return plate_err_at(err, line, column, "ONBUILD requires at least one argument");
	return check_at(in->sub, line, column, err);
}

int plan_check_instruction(const struct dockerfile_instruction *in, struct plate_error **err)
{
	return check_at(in, in->start_line, in->column, err);
}

/* Arguments as written: ENV and LABEL triples become "key=value", ONBUILD its trigger. */
static int raw_args(const struct dockerfile_instruction *in, struct strv *v)
{
	const struct rule *r = find_rule(in->keyword);

	if (r != NULL && r->kind == EXPAND_KV) {
		for (size_t i = 0; i + 2 < in->n_args; i += 3) {
			char *kv = NULL;
			if (asprintf(&kv, "%s=%s", in->args[i], in->args[i + 1]) < 0)
				kv = NULL;
			if (strv_push(v, kv) < 0)
				return -1;
		}
		return 0;
	}
	if (r != NULL && r->kind == EXPAND_TRIGGER && in->sub != NULL) {
		if (strv_push(v, upper_dup(in->sub->keyword)) < 0)
			return -1;
		for (size_t i = 0; i < in->sub->n_flags; i++)
			if (strv_add(v, in->sub->flags[i]) < 0)
				return -1;
		return raw_args(in->sub, v);
	}
	for (size_t i = 0; i < in->n_args; i++)
		if (strv_add(v, in->args[i]) < 0)
			return -1;
	return 0;
}

/* A source that is not a stage: "scratch" or a normalised image reference. */
static int image_source(const char *name, struct plan_source *src, struct plate_error **err)
{
	struct oci_reference ref = { 0 };

	src->stage = -1;
	if (strcmp(name, "scratch") == 0) {
		src->image = strdup(name);
	} else {
		if (oci_reference_parse(name, strlen(name), &ref, err) < 0)
			return plate_err_wrap(err, "invalid image reference '%s'", name);
		src->image = oci_reference_format(&ref);
		oci_reference_release(&ref);
	}
	if (src->image == NULL)
		return plate_err_new(err, ENOMEM, "cannot record source");
	return 0;
}

static int add_source(struct plan_step *step, struct plan_source *src, struct plate_error **err)
{
	struct plan_source *grown =
		realloc(step->sources, (step->n_sources + 1) * sizeof(*step->sources));

	if (grown == NULL) {
		free(src->image);
		return plate_err_new(err, ENOMEM, "cannot record source");
	}
	grown[step->n_sources++] = *src;
	step->sources = grown;
	return 0;
}

/* strconv.Atoi's syntax: an optional sign and decimal digits. */
static bool parse_index(const char *s, long long *out)
{
	const char *p = s + (*s == '+' || *s == '-');
	long long v = 0;

	if (*p == '\0')
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v > 1000000000LL)
			v = 1000000000LL; /* already out of range for any stage index */
		else
			v = v * 10 + (*p - '0');
	}
	*out = *s == '-' ? -v : v;
	return true;
}

static int copy_from_source(struct plan_ctx *ctx, struct plan_step *step, const char *value,
			    struct plate_error **err)
{
	struct dockerfile_vars none;
	_cleanup_free_ char *expanded = NULL;
	struct plan_source src = { .stage = -1 };
	long long index;
	long named;
	int rc;

	/* BuildKit refuses variables in --from rather than expanding them. */
	dockerfile_vars_init(&none);
	rc = dockerfile_expand_word(value, strlen(value), ctx->df->escape, &none, 0, &expanded,
				    err);
	dockerfile_vars_release(&none);
	if (rc < 0)
		return plan_locate(err, step->line, step->column);
	if (strcmp(expanded, value) != 0)
		return plate_err_at(err, step->line, step->column,
				    "variable expansion is not supported for --from, define a new "
				    "stage with FROM using ARG from global scope as a workaround");
	if (parse_index(value, &index)) {
		if (index < 0 || index >= (long long)ctx->plan->n_stages)
			return plate_err_at(err, step->line, step->column,
					    "invalid stage index '%s'", value);
		src.stage = (int)index;
		return add_source(step, &src, err);
	}
	named = plan_find_stage(ctx, value);
	if (named >= 0) {
		src.stage = (int)named;
		return add_source(step, &src, err);
	}
	if (image_source(value, &src, err) < 0)
		return plan_locate(err, step->line, step->column);
	return add_source(step, &src, err);
}

int plan_add_named_source(struct plan_ctx *ctx, struct plan_step *step, const char *name,
			  struct plate_error **err)
{
	struct plan_source src = { .stage = -1 };
	long named = plan_find_stage(ctx, name);

	if (named >= 0)
		src.stage = (int)named;
	else if (image_source(name, &src, err) < 0)
		return -1;
	return add_source(step, &src, err);
}

static int make_step(struct plan_ctx *ctx, struct plan_step *step,
		     const struct dockerfile_instruction *in, bool trigger, unsigned line,
		     unsigned column, struct plate_error **err)
{
	_cleanup_strv_ struct strv args = STRV_INIT, flags = STRV_INIT;

	step->line = line;
	step->column = column;
	step->instr = in;
	step->onbuild = trigger;
	step->json_form = in->json_form;
	step->copy = (struct plan_copy_flags){ .from = -1, .chmod = -1, .unpack = -1 };
	if (!trigger && plan_check_instruction(in, err) < 0)
		return -1;
	if (strcmp(in->keyword, "from") == 0)
		PLATE_BUG("FROM inside a stage (the parser refuses ONBUILD FROM)");
	step->instruction = upper_dup(in->keyword);
	if (step->instruction == NULL || raw_args(in, &args) < 0)
		return plate_err_new(err, ENOMEM, "cannot record step");
	for (size_t i = 0; i < in->n_flags; i++)
		if (strv_add(&flags, in->flags[i]) < 0)
			return plate_err_new(err, ENOMEM, "cannot record step");
	step->args = strv_detach(&args, &step->n_args);
	step->flags = strv_detach(&flags, &step->n_flags);
	for (size_t i = 0; i < step->n_args; i++)
		if (plan_charge(ctx, strlen(step->args[i]), err) < 0)
			return plan_locate(err, line, column);
	/* An empty --from means the build context, as in BuildKit. */
	if (strcmp(in->keyword, "copy") == 0) {
		for (size_t i = 0; i < in->n_flags; i++)
			if (strncmp(in->flags[i], "--from=", 7) == 0 && in->flags[i][7] != '\0') {
				if (copy_from_source(ctx, step, in->flags[i] + 7, err) < 0)
					return -1;
				step->copy.from = 0;
			}
	} else if (strcmp(in->keyword, "run") == 0) {
		return plan_run_flags_parse(ctx, step, in, err);
	}
	return 0;
}

static void stage_range(const struct plan_ctx *ctx, size_t si, size_t *start, size_t *end)
{
	*start = ctx->from_at[si] + 1;
	*end = si + 1 < ctx->plan->n_stages ? ctx->from_at[si + 1] : ctx->df->n_instructions;
}

int plan_collect_steps(struct plan_ctx *ctx, size_t si, struct plate_error **err)
{
	struct plan_stage *st = &ctx->plan->stages[si];
	const struct plan_triggers *base = NULL;
	struct plan_triggers *own = &ctx->triggers[si];
	const struct dockerfile *image_triggers = NULL;
	const struct plan_options *o = ctx->opts;
	size_t start, end, n;

	stage_range(ctx, si, &start, &end);
	n = end - start;
	/* ONBUILD triggers of a base image (its config's OnBuild) run first too. */
	if (st->from_stage < 0 && st->from != NULL && strcmp(st->from, "scratch") != 0 &&
	    o->base_onbuild != NULL) {
		const char *platform = st->platform ? st->platform : ctx->plan->target_platform;
		if (o->base_onbuild(o->base_onbuild_data, st->from, platform, &image_triggers,
				    err) < 0) {
			plate_err_wrap(err, "ONBUILD triggers of base image '%s'", st->from);
			return plan_locate(err, st->line, st->column);
		}
		if (image_triggers != NULL)
			n += image_triggers->n_instructions;
	}
	/* ONBUILD triggers of a base stage run first, located at this stage's FROM (BuildKit).
	 * Stages are collected in file order, so the base's triggers are known. */
	if (st->from_stage >= 0) {
		base = &ctx->triggers[st->from_stage];
		n += base->n;
	}
	if (n > PLAN_MAX_STEPS - ctx->steps)
		return plate_err_at(err, st->line, st->column,
				    "plan too large: more than %zu steps", PLAN_MAX_STEPS);
	ctx->steps += n;
	if (n == 0)
		return 0;
	st->steps = calloc(n, sizeof(*st->steps));
	if (st->steps == NULL)
		return plate_err_new(err, ENOMEM, "cannot record steps");
	for (size_t k = 0; image_triggers != NULL && k < image_triggers->n_instructions; k++) {
		const struct dockerfile_instruction *in = &image_triggers->instructions[k];
		if (in->sub == NULL)
			return plate_err_at(err, st->line, st->column,
					    "base image '%s' has an invalid ONBUILD trigger",
					    st->from);
		if (make_step(ctx, &st->steps[st->n_steps++], in->sub, true, st->line, st->column,
			      err) < 0)
			return -1;
	}
	for (size_t k = 0; base != NULL && k < base->n; k++) {
		const struct dockerfile_instruction *in = &ctx->df->instructions[base->at[k]];
		if (make_step(ctx, &st->steps[st->n_steps++], in->sub, true, st->line, st->column,
			      err) < 0)
			return -1;
	}
	for (size_t i = start; i < end; i++) {
		const struct dockerfile_instruction *in = &ctx->df->instructions[i];
		if (make_step(ctx, &st->steps[st->n_steps++], in, false, in->start_line, in->column,
			      err) < 0)
			return -1;
		if (strcmp(in->keyword, "onbuild") != 0)
			continue;
		if (own->at == NULL) {
			own->at = calloc(end - start, sizeof(*own->at));
			if (own->at == NULL)
				return plate_err_new(err, ENOMEM, "cannot record ONBUILD triggers");
		}
		own->at[own->n++] = i;
	}
	return 0;
}

int plan_expand_word(struct plan_ctx *ctx, const char *word, const struct dockerfile_vars *vars,
		     char **out, struct plate_error **err)
{
	char *res = NULL;
	size_t len;

	if (dockerfile_expand_word(word, strlen(word), ctx->df->escape, vars, 0, &res, err) < 0)
		return -1;
	len = strlen(res);
	if (len > PLAN_MAX_WORD) {
		free(res);
		return plate_err_new(err, 0, "expansion of '%.40s' is longer than %u bytes", word,
				     PLAN_MAX_WORD);
	}
	if (plan_charge(ctx, len, err) < 0) {
		free(res);
		return -1;
	}
	*out = res;
	return 0;
}

/* `<<EOF`, `<<-EOF`, `3<<"EOF"`: the word that names a here-document, kept as written. */
static bool is_heredoc_word(const struct dockerfile_instruction *in, const char *w)
{
	if (in->n_heredocs == 0)
		return false;
	while (*w >= '0' && *w <= '9')
		w++;
	return w[0] == '<' && w[1] == '<';
}

static void replace_args(struct plan_step *step, struct strv *args)
{
	strv_free(step->args, step->n_args);
	step->args = strv_detach(args, &step->n_args);
}

static int expand_words(struct plan_ctx *ctx, struct plan_step *step,
			const struct dockerfile_vars *vars, struct plate_error **err)
{
	const struct dockerfile_instruction *in = step->instr;

	for (size_t i = 0; i < step->n_args; i++) {
		char *w = NULL;
		if (is_heredoc_word(in, step->args[i]))
			continue;
		if (plan_expand_word(ctx, step->args[i], vars, &w, err) < 0)
			return -1;
		free(step->args[i]);
		step->args[i] = w;
	}
	if (strcmp(in->keyword, "copy") != 0 && strcmp(in->keyword, "add") != 0)
		return 0;
	for (size_t i = 0; i < step->n_flags; i++) {
		char *eq = strchr(step->flags[i], '='), *w = NULL, *f = NULL;
		if (eq == NULL || strncmp(step->flags[i], "--from=", 7) == 0)
			continue;
		if (plan_expand_word(ctx, eq + 1, vars, &w, err) < 0)
			return -1;
		if (asprintf(&f, "%.*s=%s", (int)(eq - step->flags[i]), step->flags[i], w) < 0) {
			free(w);
			return plate_err_new(err, ENOMEM, "cannot expand flag");
		}
		free(w);
		free(step->flags[i]);
		step->flags[i] = f;
	}
	return plan_copy_flags_parse(step, err);
}

/* ENV and LABEL: every pair is expanded with the variables as they were before the
 * instruction ("Environment replacement": same value for each variable throughout). */
static int expand_kv(struct plan_ctx *ctx, struct plan_step *step, struct dockerfile_vars *vars,
		     bool is_env, struct plate_error **err)
{
	const struct dockerfile_instruction *in = step->instr;
	_cleanup_strv_ struct strv out = STRV_INIT, keys = STRV_INIT, values = STRV_INIT;

	for (size_t i = 0; i + 2 < in->n_args; i += 3) {
		char *k = NULL, *v = NULL, *kv = NULL;
		if (plan_expand_word(ctx, in->args[i], vars, &k, err) < 0)
			return -1;
		if (plan_expand_word(ctx, in->args[i + 1], vars, &v, err) < 0) {
			free(k);
			return -1;
		}
		if (asprintf(&kv, "%s=%s", k, v) < 0)
			kv = NULL;
		/* Each push takes ownership, even when it fails. */
		if ((strv_push(&keys, k) | strv_push(&values, v) | strv_push(&out, kv)) < 0)
			return plate_err_new(err, ENOMEM, "cannot expand %s", step->instruction);
	}
	for (size_t i = 0; is_env && i < keys.n; i++)
		if (plan_vars_set(vars, keys.v[i], values.v[i], err) < 0)
			return -1;
	replace_args(step, &out);
	return 0;
}

/* ARG inside a stage ("ARG" › "Scope"): a build-arg wins; without a default the global value
 * (declared global ARG, platform or predefined ARG) is inherited; else the default is
 * expanded with the stage's variables.  Each name is visible to the next one. */
static int expand_arg(struct plan_ctx *ctx, struct plan_step *step, struct dockerfile_vars *vars,
		      struct plate_error **err)
{
	const struct dockerfile_instruction *in = step->instr;
	_cleanup_strv_ struct strv out = STRV_INIT;

	for (size_t i = 0; i < in->n_args; i++) {
		const char *word = in->args[i], *eq = strchr(word, '='), *given;
		_cleanup_free_ char *name = NULL, *value = NULL;
		char *text = NULL;

		name = eq ? strndup(word, (size_t)(eq - word)) : strdup(word);
		if (name == NULL)
			goto oom;
		given = dockerfile_vars_get(&ctx->build_args, name, strlen(name));
		if (given != NULL) {
			value = strdup(given);
			if (value == NULL)
				goto oom;
		} else if (eq == NULL) {
			given = dockerfile_vars_get(&ctx->plan->global_args, name, strlen(name));
			if (given != NULL && (value = strdup(given)) == NULL)
				goto oom;
		} else if (plan_expand_word(ctx, eq + 1, vars, &value, err) < 0) {
			return -1;
		}
		if (value != NULL) {
			if (plan_vars_set(vars, name, value, err) < 0)
				return -1;
			if (asprintf(&text, "%s=%s", name, value) < 0)
				goto oom;
		} else {
			text = strdup(name);
		}
		if (strv_push(&out, text) < 0)
			goto oom;
	}
	replace_args(step, &out);
	return 0;
oom:
	return plate_err_new(err, ENOMEM, "cannot expand ARG");
}

int plan_expand_steps(struct plan_ctx *ctx, size_t si, struct dockerfile_vars *vars,
		      struct plate_error **err)
{
	struct plan_stage *st = &ctx->plan->stages[si];

	for (size_t i = 0; i < st->n_steps; i++) {
		struct plan_step *step = &st->steps[i];
		const struct rule *r = find_rule(step->instr->keyword);
		int rc = 0;

		switch (r->kind) {
		case EXPAND_WORDS:
			rc = expand_words(ctx, step, vars, err);
			break;
		case EXPAND_KV:
			rc = expand_kv(ctx, step, vars, strcmp(step->instr->keyword, "env") == 0,
				       err);
			break;
		case EXPAND_ARG:
			rc = expand_arg(ctx, step, vars, err);
			break;
		case EXPAND_NONE:
		case EXPAND_TRIGGER:
			break;
		case EXPAND_STAGE:
			PLATE_BUG("FROM inside a stage");
		default:
			PLATE_BUG("unknown expansion kind");
		}
		if (rc < 0)
			return plan_locate(err, step->line, step->column);
	}
	return 0;
}
