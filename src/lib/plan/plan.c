/*
 * The build planner: options and the global ARG scope, stages at FROM, the stage graph,
 * the target and what it needs, the execution order, and the expansion of needed stages.
 *
 * The rules follow the Dockerfile reference ("Understand how ARG and FROM interact",
 * "ARG" › "Scope", "Predefined ARGs", "Automatic platform ARGs in the global scope") and
 * BuildKit's observable behaviour where the reference is silent:
 *   - a stage based on another stage (`FROM builder`) starts with that stage's variables;
 *   - `COPY --from` and `RUN --mount=from=` naming a stage that comes later in the file make
 *     the build fail only when the stage that uses them is needed;
 *   - base images are normalised even in stages that are not needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "oci/oci.h"
#include "plan/plan_internal.h"

/* The reference's "Predefined ARGs": usable without an ARG instruction. */
/* clang-format off */
static const char *const predefined_args[] = {
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
	"ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};
/* clang-format on */

static char lower_ascii(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int plan_locate(struct plate_error **err, unsigned line, unsigned column)
{
	struct plate_error *inner = *err;
	_cleanup_free_ char *msg = NULL;

	if (inner == NULL)
		PLATE_BUG("plan_locate without an error");
	if (inner->line > 0 || inner->errno_value == ENOMEM)
		return -1;
	msg = plate_error_format(inner);
	if (msg == NULL)
		return -1;
	*err = NULL;
	plate_error_free(inner);
	return plate_err_at(err, line, column, "%s", msg);
}

int plan_charge(struct plan_ctx *ctx, size_t n, struct plate_error **err)
{
	if (n > PLAN_MAX_BYTES - ctx->bytes)
		return plate_err_new(err, 0, "plan too large: more than %zu MiB of arguments",
				     PLAN_MAX_BYTES >> 20);
	ctx->bytes += n;
	return 0;
}

int plan_vars_set(struct dockerfile_vars *vars, const char *name, const char *value,
		  struct plate_error **err)
{
	if (vars->n >= PLAN_MAX_VARS && dockerfile_vars_get(vars, name, strlen(name)) == NULL)
		return plate_err_new(err, 0, "too many variables: more than %d in one scope",
				     PLAN_MAX_VARS);
	if (dockerfile_vars_set(vars, name, value) < 0)
		return plate_err_new(err, ENOMEM, "cannot set '%s'", name);
	return 0;
}

/*
 * Copies a scope into an empty dst.  Names in src are unique, so this copies the arrays
 * directly: dockerfile_vars_copy() sets each name in turn, a lookup per name, which is
 * quadratic in the size of the scope and dominated long chains of `FROM <stage>`.
 */
static int vars_copy(struct plan_ctx *ctx, struct dockerfile_vars *dst,
		     const struct dockerfile_vars *src, struct plate_error **err)
{
	struct dockerfile_vars copy;

	if (src->n > PLAN_MAX_VAR_COPIES - ctx->var_copies)
		return plate_err_new(err, 0,
				     "plan too large: more than %zu variables copied between "
				     "stages",
				     PLAN_MAX_VAR_COPIES);
	ctx->var_copies += src->n;
	dockerfile_vars_init(&copy);
	if (src->n > 0) {
		bool ok;

		copy.names = calloc(src->n, sizeof(*copy.names));
		copy.values = calloc(src->n, sizeof(*copy.values));
		ok = copy.names != NULL && copy.values != NULL;
		for (size_t i = 0; ok && i < src->n; i++) {
			copy.names[i] = strdup(src->names[i]);
			copy.values[i] = strdup(src->values[i]);
			ok = copy.names[i] != NULL && copy.values[i] != NULL;
		}
		if (!ok) {
			strv_free(copy.names, copy.names ? src->n : 0);
			strv_free(copy.values, copy.values ? src->n : 0);
			return plate_err_new(err, ENOMEM, "cannot copy stage variables");
		}
		copy.n = copy.alloc = src->n;
	}
	*dst = copy;
	return 0;
}

/* FNV-1a over the lower-cased name: stage names are case-insensitive. */
static size_t name_hash(const char *name)
{
	size_t h = (size_t)14695981039346656037ULL;

	for (; *name; name++) {
		h ^= (unsigned char)lower_ascii(*name);
		h *= (size_t)1099511628211ULL;
	}
	return h;
}

long plan_find_stage(const struct plan_ctx *ctx, const char *name)
{
	size_t mask = ctx->names_cap - 1;

	for (size_t i = name_hash(name) & mask; ctx->names[i] != 0; i = (i + 1) & mask) {
		const struct plan_stage *st = &ctx->plan->stages[ctx->names[i] - 1];
		if (strcasecmp(st->name, name) == 0)
			return (long)st->index;
	}
	return -1;
}

static void add_stage_name(struct plan_ctx *ctx, size_t si)
{
	size_t mask = ctx->names_cap - 1, i = name_hash(ctx->plan->stages[si].name) & mask;

	while (ctx->names[i] != 0)
		i = (i + 1) & mask;
	ctx->names[i] = si + 1;
}

const char *plan_stage_label(const struct plan_stage *st, char buf[32])
{
	if (st->name != NULL)
		return st->name;
	snprintf(buf, 32, "stage-%zu", st->index);
	return buf;
}

void plan_step_release(struct plan_step *step)
{
	free(step->instruction);
	strv_free(step->args, step->n_args);
	strv_free(step->flags, step->n_flags);
	for (size_t i = 0; i < step->n_sources; i++)
		free(step->sources[i].image);
	free(step->sources);
	plan_run_flags_release(&step->run);
	plan_copy_flags_release(&step->copy);
}

void plan_free(struct plan *plan)
{
	if (plan == NULL)
		return;
	for (size_t i = 0; i < plan->n_stages; i++) {
		struct plan_stage *st = &plan->stages[i];
		free(st->name);
		free(st->base);
		free(st->from);
		free(st->platform);
		free(st->depends_on);
		for (size_t j = 0; j < st->n_steps; j++)
			plan_step_release(&st->steps[j]);
		free(st->steps);
		dockerfile_vars_release(&st->initial_vars);
	}
	free(plan->stages);
	free(plan->order);
	free(plan->target_platform);
	free(plan->build_platform);
	dockerfile_vars_release(&plan->global_args);
	dockerfile_vars_release(&plan->proxy_args);
	free(plan);
}

static bool is_predefined(const char *name)
{
	for (size_t i = 0; i < sizeof(predefined_args) / sizeof(predefined_args[0]); i++)
		if (strcmp(name, predefined_args[i]) == 0)
			return true;
	return false;
}

static int read_build_args(struct plan_ctx *ctx, struct plate_error **err)
{
	const struct plan_options *o = ctx->opts;

	for (size_t i = 0; i < o->n_build_args; i++) {
		const char *kv = o->build_args[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *name = NULL;

		if (eq == NULL || eq == kv)
			return plate_err_new(err, 0, "invalid build-arg '%s': expected NAME=value",
					     kv);
		name = strndup(kv, (size_t)(eq - kv));
		if (name == NULL || dockerfile_vars_set(&ctx->build_args, name, eq + 1) < 0)
			return plate_err_new(err, ENOMEM, "cannot record build-arg '%s'", kv);
	}
	return 0;
}

/* Sets NAME to value in the global scope unless a build-arg overrides it. */
static int set_global_default(struct plan_ctx *ctx, const char *name, const char *value,
			      struct plate_error **err)
{
	const char *given = dockerfile_vars_get(&ctx->build_args, name, strlen(name));

	if (dockerfile_vars_set(&ctx->plan->global_args, name, given ? given : value) < 0)
		return plate_err_new(err, ENOMEM, "cannot set '%s'", name);
	return 0;
}

/* "Automatic platform ARGs in the global scope", plus the predefined proxy ARGs given as
 * build-args. */
static int set_global_scope(struct plan_ctx *ctx, struct plate_error **err)
{
	struct plan *plan = ctx->plan;
	const char *which[2] = { plan->build_platform, plan->target_platform };
	const char *prefix[2] = { "BUILD", "TARGET" };

	for (int k = 0; k < 2; k++) {
		_cleanup_free_ char *copy = strdup(which[k]);
		char name[32], *arch, *variant;

		if (copy == NULL)
			return plate_err_new(err, ENOMEM, "cannot set platform ARGs");
		arch = strchr(copy, '/');
		*arch++ = '\0';
		variant = strchr(arch, '/');
		if (variant != NULL)
			*variant++ = '\0';
		snprintf(name, sizeof(name), "%sPLATFORM", prefix[k]);
		if (set_global_default(ctx, name, which[k], err) < 0)
			return -1;
		snprintf(name, sizeof(name), "%sOS", prefix[k]);
		if (set_global_default(ctx, name, copy, err) < 0)
			return -1;
		snprintf(name, sizeof(name), "%sARCH", prefix[k]);
		if (set_global_default(ctx, name, arch, err) < 0)
			return -1;
		snprintf(name, sizeof(name), "%sVARIANT", prefix[k]);
		if (set_global_default(ctx, name, variant ? variant : "", err) < 0)
			return -1;
	}
	for (size_t i = 0; i < ctx->build_args.n; i++) {
		const char *name = ctx->build_args.names[i], *value = ctx->build_args.values[i];
		if (!is_predefined(name))
			continue;
		if (dockerfile_vars_set(&plan->global_args, name, value) < 0 ||
		    dockerfile_vars_set(&plan->proxy_args, name, value) < 0)
			return plate_err_new(err, ENOMEM, "cannot set '%s'", name);
	}
	return 0;
}

/* An ARG before the first FROM: a build-arg wins, else the default expanded with the global
 * scope so far; without either the name stays as it was (possibly a platform ARG). */
static int global_arg(struct plan_ctx *ctx, const struct dockerfile_instruction *in,
		      struct plate_error **err)
{
	for (size_t i = 0; i < in->n_args; i++) {
		const char *word = in->args[i], *eq = strchr(word, '=');
		_cleanup_free_ char *name = NULL, *value = NULL;
		const char *given;

		name = eq ? strndup(word, (size_t)(eq - word)) : strdup(word);
		if (name == NULL)
			return plate_err_new(err, ENOMEM, "cannot record ARG");
		given = dockerfile_vars_get(&ctx->build_args, name, strlen(name));
		if (given != NULL) {
			value = strdup(given);
		} else if (eq != NULL) {
			if (plan_expand_word(ctx, eq + 1, &ctx->plan->global_args, &value, err) < 0)
				return plan_locate(err, in->start_line, in->column);
		} else {
			continue;
		}
		if (value == NULL)
			return plate_err_new(err, ENOMEM, "cannot record ARG '%s'", name);
		if (plan_vars_set(&ctx->plan->global_args, name, value, err) < 0)
			return plan_locate(err, in->start_line, in->column);
	}
	return 0;
}

/* Stage names: `FROM image AS name`, matched as BuildKit's ^[a-z][a-z0-9-_.]*$ after
 * lower-casing. */
static bool valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

static const char *flag_value(const struct dockerfile_instruction *in, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < in->n_flags; i++) {
		const char *f = in->flags[i];
		if (strncmp(f, "--", 2) == 0 && strncmp(f + 2, name, n) == 0 && f[2 + n] == '=')
			return f + 3 + n;
	}
	return NULL;
}

static int from_platform(struct plan_ctx *ctx, const struct dockerfile_instruction *in,
			 struct plan_stage *st, struct plate_error **err)
{
	const char *raw = flag_value(in, "platform");
	_cleanup_free_ char *value = NULL;

	if (raw == NULL)
		return 0;
	if (plan_expand_word(ctx, raw, &ctx->plan->global_args, &value, err) < 0)
		return plan_locate(err, in->start_line, in->column);
	if (value[0] == '\0')
		return plate_err_at(err, in->start_line, in->column,
				    "empty platform value from expression '%s'", raw);
	st->platform = oci_platform_normalize(value, err);
	if (st->platform == NULL)
		return plan_locate(err, in->start_line, in->column);
	return 0;
}

static int process_from(struct plan_ctx *ctx, size_t si, struct plate_error **err)
{
	const struct dockerfile_instruction *in = &ctx->df->instructions[ctx->from_at[si]];
	struct plan_stage *st = &ctx->plan->stages[si];
	struct oci_reference ref = { 0 };
	long base;

	st->index = si;
	st->line = in->start_line;
	st->column = in->column;
	st->from_stage = -1;
	dockerfile_vars_init(&st->initial_vars);
	if (plan_check_instruction(in, err) < 0)
		return -1;
	if (in->n_args == 3 && strcasecmp(in->args[1], "as") == 0) {
		char *p;
		st->name = strdup(in->args[2]);
		if (st->name == NULL)
			return plate_err_new(err, ENOMEM, "cannot record stage name");
		for (p = st->name; *p; p++)
			*p = lower_ascii(*p);
		if (!valid_stage_name(st->name))
			return plate_err_at(
				err, in->start_line, in->column,
				"invalid name for build stage '%s': a name starts with a "
				"letter and holds only letters, digits, '-', '_' and '.'",
				in->args[2]);
		if (plan_find_stage(ctx, st->name) >= 0)
			return plate_err_at(err, in->start_line, in->column,
					    "duplicate stage name '%s'", st->name);
	} else if (in->n_args != 1) {
		return plate_err_at(err, in->start_line, in->column,
				    "FROM requires either one or three arguments");
	}

	if (plan_expand_word(ctx, in->args[0], &ctx->plan->global_args, &st->base, err) < 0)
		return plan_locate(err, in->start_line, in->column);
	if (st->base[0] == '\0')
		return plate_err_at(err, in->start_line, in->column,
				    "base name '%s' should not be blank", in->args[0]);
	if (from_platform(ctx, in, st, err) < 0)
		return -1;

	/* Looked up before this stage's own name is added: `FROM x AS x` names an image. */
	base = plan_find_stage(ctx, st->base);
	if (st->name != NULL)
		add_stage_name(ctx, si);
	if (base >= 0) {
		st->from_stage = (int)base;
		return 0;
	}
	if (strcmp(st->base, "scratch") == 0) {
		st->from = strdup("scratch");
	} else {
		if (oci_reference_parse(st->base, strlen(st->base), &ref, err) < 0) {
			plate_err_wrap(err, "invalid base image '%s'", st->base);
			return plan_locate(err, in->start_line, in->column);
		}
		st->from = oci_reference_format(&ref);
		oci_reference_release(&ref);
	}
	if (st->from == NULL)
		return plate_err_new(err, ENOMEM, "cannot record base image");
	return 0;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static int collect_depends(struct plan_stage *st, struct plate_error **err)
{
	size_t cap = st->from_stage >= 0 ? 1 : 0, n = 0;

	for (size_t i = 0; i < st->n_steps; i++)
		cap += st->steps[i].n_sources;
	if (cap == 0)
		return 0;
	st->depends_on = calloc(cap, sizeof(*st->depends_on));
	if (st->depends_on == NULL)
		return plate_err_new(err, ENOMEM, "cannot record stage dependencies");
	if (st->from_stage >= 0)
		st->depends_on[n++] = (size_t)st->from_stage;
	for (size_t i = 0; i < st->n_steps; i++)
		for (size_t j = 0; j < st->steps[i].n_sources; j++)
			if (st->steps[i].sources[j].stage >= 0)
				st->depends_on[n++] = (size_t)st->steps[i].sources[j].stage;
	qsort(st->depends_on, n, sizeof(*st->depends_on), cmp_size);
	st->n_depends_on = 0;
	for (size_t i = 0; i < n; i++)
		if (st->n_depends_on == 0 ||
		    st->depends_on[st->n_depends_on - 1] != st->depends_on[i])
			st->depends_on[st->n_depends_on++] = st->depends_on[i];
	return 0;
}

/* The first step of st that reads from stage dep (for locating errors). */
static const struct plan_step *step_using(const struct plan_stage *st, size_t dep)
{
	for (size_t i = 0; i < st->n_steps; i++)
		for (size_t j = 0; j < st->steps[i].n_sources; j++)
			if (st->steps[i].sources[j].stage == (int)dep)
				return &st->steps[i];
	return NULL;
}

/* Kahn's algorithm over all stages: whatever cannot be ordered lies on or behind a cycle. */
static int check_cycles(struct plan *plan, struct plate_error **err)
{
	_cleanup_free_ size_t *pending = calloc(plan->n_stages + 1, sizeof(size_t));
	_cleanup_free_ size_t *queue = calloc(plan->n_stages + 1, sizeof(size_t));
	_cleanup_free_ size_t *users_n = calloc(plan->n_stages + 1, sizeof(size_t));
	_cleanup_free_ size_t *users_at = calloc(plan->n_stages + 2, sizeof(size_t));
	_cleanup_free_ size_t *users = NULL;
	size_t edges = 0, head = 0, tail = 0;

	if (pending == NULL || queue == NULL || users_n == NULL || users_at == NULL)
		return plate_err_new(err, ENOMEM, "cannot order stages");
	for (size_t i = 0; i < plan->n_stages; i++) {
		pending[i] = plan->stages[i].n_depends_on;
		edges += pending[i];
		for (size_t j = 0; j < plan->stages[i].n_depends_on; j++)
			users_n[plan->stages[i].depends_on[j]]++;
	}
	users = calloc(edges + 1, sizeof(size_t));
	if (users == NULL)
		return plate_err_new(err, ENOMEM, "cannot order stages");
	for (size_t i = 0; i < plan->n_stages; i++)
		users_at[i + 1] = users_at[i] + users_n[i];
	memset(users_n, 0, plan->n_stages * sizeof(size_t));
	for (size_t i = 0; i < plan->n_stages; i++)
		for (size_t j = 0; j < plan->stages[i].n_depends_on; j++) {
			size_t d = plan->stages[i].depends_on[j];
			users[users_at[d] + users_n[d]++] = i;
		}
	for (size_t i = 0; i < plan->n_stages; i++)
		if (pending[i] == 0)
			queue[tail++] = i;
	while (head < tail) {
		size_t s = queue[head++];
		for (size_t k = users_at[s]; k < users_at[s + 1]; k++)
			if (--pending[users[k]] == 0)
				queue[tail++] = users[k];
	}
	if (tail == plan->n_stages)
		return 0;
	for (size_t i = 0; i < plan->n_stages; i++) {
		const struct plan_stage *st = &plan->stages[i];
		char label[32];
		if (pending[i] == 0)
			continue;
		for (size_t j = 0; j < st->n_depends_on; j++) {
			const struct plan_step *use;
			if (pending[st->depends_on[j]] == 0)
				continue;
			use = step_using(st, st->depends_on[j]);
			return plate_err_at(err, use ? use->line : st->line,
					    use ? use->column : st->column,
					    "circular dependency detected on stage '%s'",
					    plan_stage_label(st, label));
		}
	}
	PLATE_BUG("stage cycle not found");
}

static int select_target(struct plan_ctx *ctx, struct plate_error **err)
{
	struct plan *plan = ctx->plan;
	long t;

	if (ctx->opts->target == NULL) {
		plan->target = plan->n_stages - 1;
		return 0;
	}
	t = plan_find_stage(ctx, ctx->opts->target);
	if (t < 0)
		return plate_err_new(err, 0, "target stage '%s' could not be found",
				     ctx->opts->target);
	plan->target = (size_t)t;
	return 0;
}

/* Marks what the target reaches, checks that needed stages only read from earlier stages
 * (BuildKit dispatches in file order), and fills order and levels. */
static int mark_needed(struct plan *plan, struct plate_error **err)
{
	_cleanup_free_ size_t *stack = calloc(plan->n_stages + 1, sizeof(size_t));
	size_t top = 0;

	if (stack == NULL)
		return plate_err_new(err, ENOMEM, "cannot order stages");
	plan->stages[plan->target].needed = true;
	stack[top++] = plan->target;
	while (top > 0) {
		const struct plan_stage *st = &plan->stages[stack[--top]];
		for (size_t j = 0; j < st->n_depends_on; j++) {
			struct plan_stage *dep = &plan->stages[st->depends_on[j]];
			if (!dep->needed) {
				dep->needed = true;
				stack[top++] = dep->index;
			}
		}
	}

	plan->order = calloc(plan->n_stages, sizeof(*plan->order));
	if (plan->order == NULL)
		return plate_err_new(err, ENOMEM, "cannot order stages");
	for (size_t i = 0; i < plan->n_stages; i++) {
		struct plan_stage *st = &plan->stages[i];
		char label[32], dep_label[32];

		if (!st->needed)
			continue;
		for (size_t j = 0; j < st->n_depends_on; j++) {
			const struct plan_stage *dep = &plan->stages[st->depends_on[j]];
			const struct plan_step *use;

			if (dep->index < i) {
				if (dep->level + 1 > st->level)
					st->level = dep->level + 1;
				continue;
			}
			use = step_using(st, dep->index);
			return plate_err_at(
				err, use ? use->line : st->line, use ? use->column : st->column,
				"cannot copy from stage '%s', it needs to be defined before "
				"current stage '%s'",
				plan_stage_label(dep, dep_label), plan_stage_label(st, label));
		}
		plan->order[plan->n_order++] = i;
	}
	return 0;
}

/* The variables a needed stage starts with. */
static int initial_vars(struct plan_ctx *ctx, struct plan_stage *st,
			const struct dockerfile_vars *finals, struct dockerfile_vars *vars,
			struct plate_error **err)
{
	const struct plan_options *o = ctx->opts;

	if (st->from_stage >= 0)
		return vars_copy(ctx, vars, &finals[st->from_stage], err);
	if (o->base_env != NULL && strcmp(st->from, "scratch") != 0) {
		const char *platform = st->platform ? st->platform : ctx->plan->target_platform;
		if (o->base_env(o->base_env_data, st->from, platform, vars, err) < 0) {
			plate_err_wrap(err, "base image '%s'", st->from);
			return plan_locate(err, st->line, st->column);
		}
		if (vars->n > PLAN_MAX_VARS)
			return plate_err_at(err, st->line, st->column,
					    "base image '%s' has more than %d variables", st->from,
					    PLAN_MAX_VARS);
	}
	/* BuildKit gives every image without PATH in its config the default PATH. */
	if (dockerfile_vars_get(vars, "PATH", 4) == NULL &&
	    plan_vars_set(vars, "PATH", PLAN_DEFAULT_PATH, err) < 0)
		return plan_locate(err, st->line, st->column);
	return 0;
}

static int expand_needed(struct plan_ctx *ctx, struct plate_error **err)
{
	struct plan *plan = ctx->plan;
	struct dockerfile_vars *finals = calloc(plan->n_stages, sizeof(*finals));
	int rc = 0;

	if (finals == NULL)
		return plate_err_new(err, ENOMEM, "cannot expand stages");
	for (size_t i = 0; i < plan->n_stages; i++)
		dockerfile_vars_init(&finals[i]);
	for (size_t k = 0; k < plan->n_order && rc == 0; k++) {
		size_t si = plan->order[k];
		struct plan_stage *st = &plan->stages[si];

		rc = initial_vars(ctx, st, finals, &finals[si], err);
		if (rc == 0)
			rc = vars_copy(ctx, &st->initial_vars, &finals[si], err);
		if (rc < 0)
			plan_locate(err, st->line, st->column);
		if (rc == 0)
			rc = plan_expand_steps(ctx, si, &finals[si], err);
	}
	for (size_t i = 0; i < plan->n_stages; i++)
		dockerfile_vars_release(&finals[i]);
	free(finals);
	return rc;
}

static int split_stages(struct plan_ctx *ctx, struct plate_error **err)
{
	const struct dockerfile *df = ctx->df;
	size_t n = 0;

	for (size_t i = 0; i < df->n_instructions; i++)
		if (strcmp(df->instructions[i].keyword, "from") == 0)
			n++;
	if (n == 0)
		return plate_err_new(err, 0, "dockerfile contains no stages to build");
	for (ctx->names_cap = 16; ctx->names_cap < 2 * n; ctx->names_cap *= 2)
		;
	ctx->names = calloc(ctx->names_cap, sizeof(*ctx->names));
	ctx->from_at = calloc(n, sizeof(*ctx->from_at));
	ctx->triggers = calloc(n, sizeof(*ctx->triggers));
	ctx->plan->stages = calloc(n, sizeof(*ctx->plan->stages));
	if (ctx->names == NULL || ctx->from_at == NULL || ctx->triggers == NULL ||
	    ctx->plan->stages == NULL)
		return plate_err_new(err, ENOMEM, "cannot record stages");
	for (size_t i = 0; i < df->n_instructions; i++) {
		const struct dockerfile_instruction *in = &df->instructions[i];

		if (strcmp(in->keyword, "from") == 0) {
			ctx->from_at[ctx->plan->n_stages++] = i;
			continue;
		}
		if (ctx->plan->n_stages > 0)
			continue;
		/* Only ARG may come before the first FROM (reference, "FROM"). */
		if (plan_check_instruction(in, err) < 0)
			return -1;
		if (strcmp(in->keyword, "arg") != 0)
			return plate_err_at(err, in->start_line, in->column,
					    "no build stage in current context: only ARG may come "
					    "before the first FROM");
		if (global_arg(ctx, in, err) < 0)
			return -1;
	}
	return 0;
}

static int build(struct plan_ctx *ctx, struct plate_error **err)
{
	struct plan *plan = ctx->plan;
	const struct plan_options *o = ctx->opts;

	if (read_build_args(ctx, err) < 0)
		return -1;
	plan->build_platform = oci_platform_normalize(o->build_platform ? o->build_platform
									: oci_platform_native(),
						      err);
	if (plan->build_platform == NULL)
		return -1;
	plan->target_platform = oci_platform_normalize(o->target_platform ? o->target_platform
									  : plan->build_platform,
						       err);
	if (plan->target_platform == NULL)
		return -1;
	if (set_global_scope(ctx, err) < 0 || split_stages(ctx, err) < 0)
		return -1;
	for (size_t i = 0; i < plan->n_stages; i++)
		if (process_from(ctx, i, err) < 0)
			return -1;
	for (size_t i = 0; i < plan->n_stages; i++)
		if (plan_collect_steps(ctx, i, err) < 0 ||
		    collect_depends(&plan->stages[i], err) < 0)
			return -1;
	if (check_cycles(plan, err) < 0 || select_target(ctx, err) < 0 ||
	    mark_needed(plan, err) < 0)
		return -1;
	return expand_needed(ctx, err);
}

int plan_build(const struct dockerfile *df, const struct plan_options *opts, struct plan **out,
	       struct plate_error **err)
{
	static const struct plan_options no_options;
	struct plan_ctx ctx = { .df = df, .opts = opts ? opts : &no_options };
	struct plan *plan = calloc(1, sizeof(*plan));
	int rc;

	if (plan == NULL)
		return plate_err_new(err, ENOMEM, "cannot allocate plan");
	dockerfile_vars_init(&plan->global_args);
	dockerfile_vars_init(&plan->proxy_args);
	dockerfile_vars_init(&ctx.build_args);
	ctx.plan = plan;
	rc = build(&ctx, err);
	dockerfile_vars_release(&ctx.build_args);
	for (size_t i = 0; ctx.triggers != NULL && i < plan->n_stages; i++)
		free(ctx.triggers[i].at);
	free(ctx.triggers);
	free(ctx.names);
	free(ctx.from_at);
	if (rc < 0) {
		plan_free(plan);
		return -1;
	}
	*out = plan;
	return 0;
}

int plan_step_env(const struct plan_stage *stage, size_t step, struct dockerfile_vars *env)
{
	dockerfile_vars_release(env);
	dockerfile_vars_init(env);
	if (dockerfile_vars_copy(env, &stage->initial_vars) < 0)
		return -1;
	for (size_t i = 0; i < step && i < stage->n_steps; i++) {
		const struct plan_step *s = &stage->steps[i];

		if (strcmp(s->instruction, "ENV") != 0 && strcmp(s->instruction, "ARG") != 0)
			continue;
		for (size_t j = 0; j < s->n_args; j++) {
			const char *eq = strchr(s->args[j], '=');
			_cleanup_free_ char *name = NULL;

			if (eq == NULL)
				continue;
			name = strndup(s->args[j], (size_t)(eq - s->args[j]));
			if (name == NULL || dockerfile_vars_set(env, name, eq + 1) < 0) {
				errno = ENOMEM;
				return -1;
			}
		}
	}
	return 0;
}
