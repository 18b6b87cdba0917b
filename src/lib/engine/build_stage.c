/*
 * A stage: its FROM, then each step in order.  Filesystem steps (COPY, ADD, RUN, WORKDIR)
 * have cache keys and may produce a layer; the others only change the image config.  Both
 * append to the image's history the way BuildKit does ("RUN /bin/sh -c … # buildkit",
 * "ENV A=1" with empty_layer), so that images built by plate and by docker look alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "engine/engine_internal.h"

#define HISTORY_COMMENT "buildkit.dockerfile.v0"

static bool is_fs_step(const char *instruction)
{
	return strcmp(instruction, "COPY") == 0 || strcmp(instruction, "ADD") == 0 ||
	       strcmp(instruction, "RUN") == 0 || strcmp(instruction, "WORKDIR") == 0;
}

char *eng_step_text(const struct plan_step *step)
{
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);

	if (buf_addstr(&b, step->instruction) < 0)
		return NULL;
	for (size_t i = 0; i < step->n_flags; i++)
		if (buf_addf(&b, " %s", step->flags[i]) < 0)
			return NULL;
	if (step->json_form) {
		char *q = eng_quote_list((const char *const *)step->args, step->n_args);
		int r = q ? buf_addf(&b, " %s", q) : -1;
		free(q);
		if (r < 0)
			return NULL;
	} else {
		for (size_t i = 0; i < step->n_args; i++)
			if (buf_addf(&b, " %s", step->args[i]) < 0)
				return NULL;
	}
	return buf_detach(&b, NULL);
}

int eng_history_add(struct eng_stage *st, long long epoch, const char *created_by, bool empty_layer,
		    struct plate_error **err)
{
	struct oci_history *grown;
	char created[32];

	if (eng_time_string(epoch, created, err) < 0)
		return -1;
	grown = realloc(st->config.history, (st->config.n_history + 1) * sizeof(*grown));
	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	st->config.history = grown;
	grown += st->config.n_history;
	memset(grown, 0, sizeof(*grown));
	grown->created = strdup(created);
	grown->created_by = strdup(created_by);
	grown->comment = strdup(HISTORY_COMMENT);
	grown->empty_layer = empty_layer;
	st->config.n_history++;
	if (grown->created == NULL || grown->created_by == NULL || grown->comment == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

int eng_stage_apply(struct eng_step_ctx *c, const char *key, const struct eng_layer *layer,
		    bool empty, bool cached, struct plate_error **err)
{
	struct eng_stage *st = c->st;
	_cleanup_free_ char *text = NULL;
	const char *created_by = c->history;

	memmove(st->key, key, sizeof(st->key));
	if (!empty && layer != NULL) {
		struct eng_layer l = *layer;
		if (l.cache_key == NULL)
			l.cache_key = (char *)key;
		l.chain_key = strcmp(l.cache_key, key) != 0 ? (char *)key : NULL;
		if (eng_layers_add(&st->layers, &l, err) < 0)
			return -1;
	}
	if (created_by == NULL) {
		if ((text = eng_step_text(c->step)) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		created_by = text;
	}
	c->cached = cached;
	if (c->id != 0) {
		/* Only filesystem steps count, as in the progress "n/m". */
		pthread_mutex_lock(&c->e->lock);
		c->e->steps++;
		if (cached)
			c->e->cached++;
		pthread_mutex_unlock(&c->e->lock);
	}
	return eng_history_add(st, c->e->o.epoch, created_by, empty, err);
}

/* ---- WORKDIR ------------------------------------------------------------------------------ */

struct workdir_job {
	const char *path;
	const char *user;
};

static int workdir_in_view(void *data, const int *fds, struct plate_error **err)
{
	struct workdir_job *j = data;
	struct eng_user u = { 0 };
	int r;

	/* BuildKit creates the directory as the current USER. */
	if (j->user != NULL && *j->user != '\0' &&
	    eng_user_resolve_root(fds[0], j->user, false, &u, err) < 0)
		return -1;
	r = eng_mkdir_p(fds[0], j->path, u.uid, u.gid, NULL, err);
	eng_user_release(&u);
	return r;
}

int eng_step_workdir(struct eng_step_ctx *c, struct plate_error **err)
{
	struct engine *e = c->e;
	struct eng_stage *st = c->st;
	_cleanup_free_ char *path = NULL, *written = NULL, *upper = NULL, *work = NULL, *mnt = NULL,
			    *history = NULL;
	_cleanup_free_ const char **lowers = NULL;
	struct eng_layer layer = { 0 };
	struct digest d = { 0 };
	eng_digest key;
	size_t n_lowers;
	bool hit = false, empty = true;
	int r = -1;

	if (c->step->n_args != 1)
		return plate_err_new(err, EINVAL, "WORKDIR takes one argument");
	path = eng_path_join(st->config.working_dir ? st->config.working_dir : "/",
			     c->step->args[0]);
	/* BuildKit (system.NormalizeWorkdir) stores an absolute WORKDIR as written and a
	 * relative one joined to the current one and cleaned; the directory made is the same. */
	written = strdup(c->step->args[0][0] == '/' ? c->step->args[0] : path ? path : "");
	if (path == NULL || written == NULL || asprintf(&history, "WORKDIR %s", written) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	free(st->config.working_dir);
	st->config.working_dir = steal_pointer(&written);
	c->history = history;
	eng_inputs_begin(c);
	eng_inputs_set(c, "path", path);
	if (digest_init(&d, err) < 0)
		return -1;
	eng_hash_field(&d, "plate workdir v1");
	eng_hash_field(&d, st->key);
	eng_hash_field(&d, st->config.working_dir);
	eng_hash_field(&d, st->config.user);
	digest_final(&d, key);
	digest_release(&d);
	if (strcmp(path, "/") != 0) {
		if (eng_cache_lookup(c, key, &hit, &empty, &layer, NULL, err) < 0 ||
		    (!hit && eng_group_claim(c, key, &hit, &empty, &layer, NULL, err) < 0))
			goto out;
		if (!hit) {
			struct workdir_job j = { .path = path, .user = st->config.user };
			eng_explain_miss(c, key);
			struct eng_view v;
			if (eng_scratch(e, "upper", &upper, err) < 0 ||
			    eng_scratch(e, "work", &work, err) < 0 ||
			    eng_scratch(e, "mnt", &mnt, err) < 0 ||
			    eng_layers_lowers(e, &st->layers, &lowers, &n_lowers, err) < 0) {
				eng_group_fail(c, key);
				goto out;
			}
			v = (struct eng_view){ .lowers = lowers,
					       .n_lowers = n_lowers,
					       .upper = upper,
					       .work = work,
					       .mountpoint = mnt };
			if (eng_view_run(e, &v, 1, workdir_in_view, &j, err) < 0 ||
			    eng_harvest(e, st, upper, &layer, &empty, err) < 0 ||
			    eng_cache_record(c, key, empty ? NULL : &layer, NULL, err) < 0) {
				eng_group_fail(c, key);
				goto out;
			}
			if (eng_group_done(c, key, empty ? NULL : &layer, NULL, err) < 0)
				goto out;
		}
	}
	st->workdir_exists = true;
	r = eng_stage_apply(c, key, empty ? NULL : &layer, empty, hit, err);
out:
	c->history = NULL;
	eng_layer_release(&layer);
	return r;
}

/* ---- FROM ----------------------------------------------------------------------------------- */

static int platform_parts(const char *platform, struct oci_config *c, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(platform);
	char *arch, *variant;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	arch = strchr(copy, '/');
	if (arch == NULL)
		return plate_err_new(err, EINVAL, "bad platform '%s'", platform);
	*arch++ = '\0';
	variant = strchr(arch, '/');
	if (variant != NULL)
		*variant++ = '\0';
	free(c->os);
	free(c->architecture);
	free(c->variant);
	c->os = strdup(copy);
	c->architecture = strdup(arch);
	c->variant = variant ? strdup(variant) : NULL;
	if (c->os == NULL || c->architecture == NULL || (variant != NULL && c->variant == NULL))
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

/* The key of FROM an image: its manifest digest (a re-tagged base invalidates every
 * step) and the epoch, as for scratch. */
static int image_key(const char *manifest, long long epoch, eng_digest out,
		     struct plate_error **err)
{
	struct digest d = { 0 };

	if (digest_init(&d, err) < 0)
		return -1;
	eng_hash_field(&d, "plate from image v1");
	eng_hash_field(&d, manifest);
	eng_hash_u64(&d, (uint64_t)epoch);
	digest_final(&d, out);
	digest_release(&d);
	return 0;
}

static int stage_from(struct engine *e, struct eng_stage *st, struct plate_error **err)
{
	const struct plan_stage *ps = st->ps;
	const char *platform = ps->platform ? ps->platform : e->plan->target_platform;

	if (ps->from_stage >= 0) {
		struct eng_stage *base = &e->stages[ps->from_stage];
		memcpy(st->key, base->key, sizeof(st->key));
		st->workdir_exists = base->workdir_exists;
		if (eng_layers_copy(&st->layers, &base->layers, err) < 0 ||
		    oci_config_copy(&st->config, &base->config, err) < 0)
			return -1;
	} else if (strcmp(ps->from, "scratch") == 0) {
		char seed[160];
		/* The epoch is part of every key: a layer's diffID depends on it (mtimes are
		 * clamped to it), so a result built under another epoch is not this one's. */
		snprintf(seed, sizeof(seed), "plate scratch v1\n%s\n%lld", platform, e->o.epoch);
		/* BuildKit's empty image (dockerfile2llb emptyImage) has WorkingDir "/". */
		if ((st->config.working_dir = strdup("/")) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (digest_buffer(seed, strlen(seed), st->key, err) < 0 ||
		    oci_strings_add(&st->config.env, "PATH=" PLAN_DEFAULT_PATH, err) < 0 ||
		    platform_parts(platform, &st->config, err) < 0)
			return -1;
		st->workdir_exists = true;
	} else {
		const struct store_image *img;
		if (eng_image_get(e, ps->from, platform, &img, err) < 0 ||
		    eng_image_layers(e, img, &st->layers, err) < 0 ||
		    oci_config_copy(&st->config, &img->config, err) < 0)
			return -1;
		if (image_key(img->manifest_desc.digest, e->o.epoch, st->key, err) < 0)
			return -1;
		st->workdir_exists = st->config.working_dir == NULL;
	}
	/* Triggers run in the stages built on this one, never inherited. */
	oci_strings_release(&st->config.on_build);
	oci_strings_release(&st->config.diff_ids);
	return 0;
}

/* ---- the stage ------------------------------------------------------------------------------- */

static char *step_name(const struct eng_stage *st, unsigned n, const char *text)
{
	char *name = NULL;

	/* In a group, BuildKit's "[linux/arm64 builder 3/6]". */
	if (st->engine->o.group != NULL
		    ? asprintf(&name, "[%s %s %u/%u] %s", st->engine->o.platform, st->label, n,
			       st->fs_steps, text) < 0
		    : asprintf(&name, "[%s %u/%u] %s", st->label, n, st->fs_steps, text) < 0)
		return NULL;
	return name;
}

static void emit(struct engine *e, enum engine_event_type type, unsigned id, const char *name,
		 double t0, const char *message, double process_seconds)
{
	struct engine_event ev = { .type = type,
				   .id = id,
				   .name = name,
				   .message = message,
				   .seconds = t0 > 0 ? eng_now() - t0 : 0,
				   .process_seconds = process_seconds };

	eng_emit(e, &ev);
}

static int run_step(struct eng_step_ctx *c, struct plate_error **err)
{
	const char *in = c->step->instruction;

	if (strcmp(in, "COPY") == 0 || strcmp(in, "ADD") == 0)
		return eng_step_copy(c, err);
	if (strcmp(in, "RUN") == 0)
		return eng_step_run(c, err);
	if (strcmp(in, "WORKDIR") == 0)
		return eng_step_workdir(c, err);
	return eng_step_config(c, err);
}

int eng_stage_build(struct engine *e, struct eng_stage *st, struct plate_error **err)
{
	const struct plan_stage *ps = st->ps;
	_cleanup_free_ char *from_text = NULL, *name = NULL;
	unsigned n = 1, id;
	double t0 = eng_now();

	st->fs_steps = 1;
	for (size_t i = 0; i < ps->n_steps; i++)
		if (is_fs_step(ps->steps[i].instruction))
			st->fs_steps++;
	if (asprintf(&from_text, "FROM %s",
		     ps->from_stage >= 0 ? e->stages[ps->from_stage].label : ps->from) < 0 ||
	    (name = step_name(st, 1, from_text)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	id = eng_new_id(e);
	emit(e, ENGINE_EVENT_STEP_START, id, name, 0, NULL, 0);
	if (stage_from(e, st, err) < 0) {
		plate_err_wrap(err, "%s (%s:%u)", name, e->o.dockerfile_name, ps->line);
		emit(e, ENGINE_EVENT_STEP_ERROR, id, name, t0, (*err)->message, 0);
		return -1;
	}
	emit(e, ENGINE_EVENT_STEP_DONE, id, name, t0, NULL, 0);

	for (size_t i = 0; i < ps->n_steps; i++) {
		struct eng_step_ctx c = { .e = e, .st = st, .step = &ps->steps[i], .index = i };
		_cleanup_free_ char *text = NULL;
		bool fs = is_fs_step(c.step->instruction);
		int r;

		if (eng_cancelled(e))
			return plate_err_new(err, ECANCELED, "build cancelled");
		dockerfile_vars_init(&c.vars);
		if (plan_step_env(ps, i, &c.vars) < 0) {
			dockerfile_vars_release(&c.vars);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		if ((text = eng_step_text(c.step)) == NULL ||
		    (c.name = step_name(st, fs ? ++n : n, text)) == NULL) {
			dockerfile_vars_release(&c.vars);
			free(c.name);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		c.t0 = eng_now();
		if (fs) {
			c.id = eng_new_id(e);
			emit(e, ENGINE_EVENT_STEP_START, c.id, c.name, 0, NULL, 0);
		}
		r = run_step(&c, err);
		if (r < 0) {
			if (fs)
				emit(e, ENGINE_EVENT_STEP_ERROR, c.id, c.name, c.t0,
				     (*err)->message, c.process_seconds);
			plate_err_wrap(err, "%s (%s:%u)", c.name, e->o.dockerfile_name,
				       c.step->line);
		} else if (fs) {
			eng_inputs_commit(&c);
			if (c.cached)
				emit(e, ENGINE_EVENT_STEP_CACHED, c.id, c.name, 0, c.cache_source,
				     0);
			emit(e, ENGINE_EVENT_STEP_DONE, c.id, c.name, c.t0, NULL,
			     c.process_seconds);
		}
		eng_inputs_release(&c);
		dockerfile_vars_release(&c.vars);
		free(c.name);
		if (r < 0)
			return -1;
	}
	return 0;
}
