/*
 * The engine: one build = one store transaction.  Every needed stage runs in a thread of
 * its own that first waits for the stages it depends on, so independent stages build in
 * parallel and a stage never waits longer than its inputs.  The first failure stops the
 * others (the sandboxes watch the engine's cancel pipe).  At the end the snapshots of the
 * built layers are published, the cache entries and the image staged, and the whole
 * transaction committed; after a failure only the finished steps' cache entries are.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "engine/engine_internal.h"
#include "userns/userns.h"

int eng_scratch(struct engine *e, const char *what, char **path, struct plate_error **err)
{
	char name[64];
	int r;

	pthread_mutex_lock(&e->lock);
	snprintf(name, sizeof(name), "%u-%s", ++e->scratch_seq, what);
	r = store_txn_scratch_dir(e->txn, name, path, err);
	pthread_mutex_unlock(&e->lock);
	return r;
}

bool eng_cancelled(struct engine *e)
{
	struct pollfd p = { .fd = e->cancel_pipe[0], .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

void engine_cancel(struct engine *e)
{
	int saved = errno;
	ssize_t ignored;

	e->user_cancelled = 1;
	ignored = write(e->cancel_pipe[1], "x", 1);
	(void)ignored;
	errno = saved;
}

void eng_emit(struct engine *e, const struct engine_event *ev)
{
	struct engine_event tagged = *ev;
	pthread_mutex_t *lock = &e->progress_lock;

	if (e->o.progress == NULL)
		return;
	if (e->o.group != NULL) {
		tagged.platform = e->o.platform;
		lock = eng_group_progress_lock(e);
	}
	pthread_mutex_lock(lock);
	e->o.progress(e->o.progress_data, &tagged);
	pthread_mutex_unlock(lock);
}

unsigned eng_new_id(struct engine *e)
{
	unsigned id;

	if (e->o.group != NULL)
		return eng_group_new_id(e);
	pthread_mutex_lock(&e->lock);
	id = ++e->next_id;
	pthread_mutex_unlock(&e->lock);
	return id;
}

/* A pull that failed for want of a network: the registry's host does not resolve, or does
 * not answer. */
static bool unreachable(int errnum)
{
	return errnum == EHOSTUNREACH || errnum == ENETUNREACH || errnum == ECONNREFUSED ||
	       errnum == ETIMEDOUT;
}

/* Pulls name for a FROM: when the registry cannot be reached, the error says what else
 * brings the image into the store. */
static int pull(struct engine *e, const char *name, const char *platform, struct plate_error **err)
{
	_cleanup_free_ char *cause = NULL;
	int errnum;

	if (e->o.pull_image(e->o.pull_data, name, platform, err) == 0)
		return 0;
	if (!unreachable((*err)->errno_value))
		return -1;
	errnum = (*err)->errno_value;
	cause = strdup((*err)->message); /* the transfer's frames repeat the name */
	plate_error_free(*err);
	*err = NULL;
	return plate_err_new_kind(err, errnum, true,
				  "image '%s' is neither in the store nor reachable (%s); bring it "
				  "in with 'plate pull' where the registry is reachable, 'plate "
				  "load' or 'plate import', or name a mirror with "
				  "PLATE_REGISTRY_MIRRORS=HOST=URL",
				  name, cause ? cause : "out of memory");
}

/* Resolves name in the store, pulling it first as the pull policy says. */
static int image_fetch_any(struct engine *e, const char *name, const char *platform,
			   struct store_image **img, struct plate_error **err)
{
	bool can_pull = e->o.pull_image != NULL && e->o.pull != ENGINE_PULL_NEVER;

	if (can_pull && e->o.pull == ENGINE_PULL_ALWAYS && pull(e, name, platform, err) < 0)
		return -1;
	if (store_image_resolve(e->o.store, name, platform, img, err) == 0)
		return 0;
	if ((*err)->errno_value != ENOENT)
		return -1;
	if (!can_pull || e->o.pull == ENGINE_PULL_ALWAYS)
		return plate_err_wrap(err,
				      e->o.pull == ENGINE_PULL_NEVER
					      ? "image '%s' is not in the store (--pull never)"
					      : "image '%s' is not in the store",
				      name);
	plate_error_free(*err);
	*err = NULL;
	if (pull(e, name, platform, err) < 0)
		return -1;
	return store_image_resolve(e->o.store, name, platform, img, err);
}

/* A single-platform image of another architecture or OS than the stage needs is refused: it
 * would run emulated under the wrong name, or not at all.  A config without them (old
 * imports) is taken as it is. */
static int platform_check(const char *platform, struct store_image *img, struct plate_error **err)
{
	const struct oci_config *c = &img->config;
	_cleanup_free_ char *have = NULL;
	size_t n;

	if (c->os == NULL || c->architecture == NULL)
		return 0;
	n = strlen(c->os) + 1 + strlen(c->architecture);
	if (asprintf(&have, "%s/%s", c->os, c->architecture) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (strncmp(platform, have, n) == 0 && (platform[n] == '\0' || platform[n] == '/'))
		return 0;
	plate_err_new(err, ENOENT,
		      "%s only, the stage needs %s (pull the image for %s, or build --platform %s)",
		      have, platform, platform, have);
	store_image_free(img);
	return -1;
}

/* Resolves name in the store, pulling it first as the pull policy says. */
static int image_fetch(struct engine *e, const char *name, const char *platform,
		       struct store_image **img, struct plate_error **err)
{
	if (image_fetch_any(e, name, platform, img, err) < 0)
		return -1;
	if (platform_check(platform, *img, err) < 0) {
		*img = NULL;
		return -1;
	}
	return 0;
}

/* Keeps img, or the failure in *err, as name's for the rest of the build (e->lock held). */
static int remember(struct engine *e, const char *name, const char *platform,
		    struct store_image *img, const struct plate_error *failure,
		    struct plate_error **err)
{
	struct eng_image *grown = realloc(e->images, (e->n_images + 1) * sizeof(*grown));
	struct eng_image *m;

	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	e->images = grown;
	m = &grown[e->n_images];
	*m = (struct eng_image){ .name = strdup(name),
				 .platform = strdup(platform),
				 .img = img,
				 .failure = failure ? plate_error_format(failure) : NULL,
				 .failure_errno = failure ? failure->errno_value : 0 };
	if (m->name == NULL || m->platform == NULL || (failure != NULL && m->failure == NULL)) {
		free(m->name);
		free(m->platform);
		free(m->failure);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	e->n_images++;
	return 0;
}

int eng_image_get(struct engine *e, const char *name, const char *platform,
		  const struct store_image **out, struct plate_error **err)
{
	struct store_image *img = NULL;
	int r = 0;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n_images; i++)
		if (strcmp(e->images[i].name, name) == 0 &&
		    strcmp(e->images[i].platform, platform) == 0) {
			const struct eng_image *m = &e->images[i];
			if (m->img == NULL)
				r = plate_err_new_kind(err, m->failure_errno, true, "%s",
						       m->failure);
			*out = m->img;
			pthread_mutex_unlock(&e->lock);
			return r;
		}
	pthread_mutex_unlock(&e->lock);
	/* Outside the lock: a pull takes a while and other stages go on meanwhile. */
	if (image_fetch(e, name, platform, &img, err) < 0) {
		_cleanup_error_ struct plate_error *ignored = NULL;
		pthread_mutex_lock(&e->lock);
		remember(e, name, platform, NULL, *err, &ignored);
		pthread_mutex_unlock(&e->lock);
		return -1;
	}
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n_images; i++)
		if (strcmp(e->images[i].name, name) == 0 &&
		    strcmp(e->images[i].platform, platform) == 0 && e->images[i].img != NULL) {
			store_image_free(img);
			*out = e->images[i].img;
			goto out;
		}
	r = remember(e, name, platform, img, NULL, err);
	if (r < 0)
		store_image_free(img);
	else
		*out = img;
out:
	pthread_mutex_unlock(&e->lock);
	return r;
}

int eng_image_layers(struct engine *e, const struct store_image *img, struct eng_layers *out,
		     struct plate_error **err)
{
	const struct oci_config *c = &img->config;
	const struct oci_manifest *m = &img->manifest;

	if (c->diff_ids.n != m->n_layers)
		return plate_err_new(err, EINVAL, "image has %zu layers and %zu diffIDs",
				     m->n_layers, c->diff_ids.n);
	for (size_t i = 0; i < m->n_layers; i++) {
		struct eng_layer l = { .diff_id = c->diff_ids.v[i],
				       .blob = m->layers[i].digest,
				       .media_type = m->layers[i].media_type,
				       .size = m->layers[i].size };
		int r;
		pthread_mutex_lock(&e->lock);
		r = store_txn_pin(e->txn, l.diff_id, err);
		pthread_mutex_unlock(&e->lock);
		if (r < 0)
			return -1;
		if (!store_snapshot_exists(e->o.store, l.diff_id))
			return plate_err_new(err, ENOENT,
					     "snapshot of layer '%s' is missing (run 'plate fsck')",
					     l.diff_id);
		l.path = store_snapshot_path(e->o.store, l.diff_id);
		if (l.path == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		r = eng_layers_add(out, &l, err);
		free(l.path);
		if (r < 0)
			return -1;
	}
	return 0;
}

int engine_new(const struct engine_options *opts, struct engine **out, struct plate_error **err)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	e->o = *opts;
	e->context_fd = -1;
	if (e->o.dockerfile_name == NULL)
		e->o.dockerfile_name = "Dockerfile";
	if (asprintf(&e->seccomp_cache, "%s/seccomp.bpf", store_root(e->o.store)) < 0) {
		free(e);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (pipe2(e->cancel_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(e->seccomp_cache);
		free(e);
		return plate_err_new(err, errno, "cannot create a pipe");
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->progress_lock, NULL);
	pthread_mutex_init(&e->fetch_lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	*out = e;
	return 0;
}

static void free_statrec(void *p)
{
	free(p);
}

void engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n_stages; i++) {
		struct eng_stage *st = &e->stages[i];
		free(st->label);
		eng_layers_release(&st->layers);
		oci_config_release(&st->config);
		strv_release(&st->arg_names);
	}
	free(e->stages);
	for (size_t i = 0; i < e->n_images; i++) {
		free(e->images[i].name);
		free(e->images[i].platform);
		free(e->images[i].failure);
		store_image_free(e->images[i].img);
	}
	free(e->images);
	for (size_t i = 0; i < e->n_puts; i++) {
		free(e->puts[i].key);
		eng_layer_release(&e->puts[i].layer);
	}
	free(e->puts);
	strv_free(e->pending_dirs, e->n_pending);
	strv_free(e->pending_ids, e->n_pending);
	eng_strmap_release(&e->statcache, free_statrec);
	plan_free(e->plan);
	for (size_t i = 0; i < e->n_onbuild; i++)
		dockerfile_free(e->onbuild[i]);
	free(e->onbuild);
	ignore_free(e->ignore);
	store_txn_free(e->txn);
	free(e->scratch);
	free(e->empty_dir);
	free(e->empty_dir2);
	free(e->sandbox_tmp);
	free(e->seccomp_cache);
	plate_error_free(e->first_error);
	eng_explain_release(e);
	eng_shared_release(e);
	if (e->context_fd >= 0)
		close(e->context_fd);
	close(e->cancel_pipe[0]);
	close(e->cancel_pipe[1]);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->progress_lock);
	pthread_mutex_destroy(&e->fetch_lock);
	pthread_cond_destroy(&e->cond);
	free(e);
}

/* ---- planning ------------------------------------------------------------------------- */

/* The ENV of a base image, for the planner's variables. */
static int base_env(void *data, const char *image, const char *platform,
		    struct dockerfile_vars *env, struct plate_error **err)
{
	struct engine *e = data;
	const struct store_image *img;

	if (eng_image_get(e, image, platform, &img, err) < 0) {
		e->base_missing = true;
		return -1;
	}
	for (size_t i = 0; i < img->config.env.n; i++) {
		const char *kv = img->config.env.v[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *k = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
		if (k == NULL || dockerfile_vars_set(env, k, eq ? eq + 1 : "") < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* The image's ONBUILD triggers as a Dockerfile of ONBUILD lines, kept by the engine. */
static int base_onbuild(void *data, const char *image, const char *platform,
			const struct dockerfile **triggers, struct plate_error **err)
{
	struct engine *e = data;
	const struct store_image *img;
	_cleanup_error_ struct plate_error *missing = NULL;
	_cleanup_buf_ struct buf text = BUF_INIT(BUF_UNLIMITED);
	struct dockerfile *df = NULL, **grown;

	*triggers = NULL;
	if (eng_image_get(e, image, platform, &img, &missing) < 0 || img->config.on_build.n == 0)
		return 0;
	for (size_t i = 0; i < img->config.on_build.n; i++)
		if (buf_addf(&text, "ONBUILD %s\n", img->config.on_build.v[i]) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	if (dockerfile_parse(text.data, text.len, NULL, &df, err) < 0)
		return -1;
	grown = realloc(e->onbuild, (e->n_onbuild + 1) * sizeof(*grown));
	if (grown == NULL) {
		dockerfile_free(df);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	e->onbuild = grown;
	e->onbuild[e->n_onbuild++] = df;
	*triggers = df;
	return 0;
}

/* Decided once per build and said before the first step: a build's isolation is part of
 * what its output must show (the image is the same either way, what RUN can reach is not). */
static int resolve_isolation(struct engine *e, struct plate_error **err)
{
	_cleanup_free_ char *message = NULL;
	const char *why = "asked for";
	struct engine_event ev = { .type = ENGINE_EVENT_ISOLATION };

	switch (e->o.isolation) {
	case ENGINE_ISOLATION_NAMESPACES:
		e->isolation = SANDBOX_ISOLATION_NAMESPACES;
		break;
	case ENGINE_ISOLATION_CHROOT:
		e->isolation = SANDBOX_ISOLATION_CHROOT;
		break;
	case ENGINE_ISOLATION_AUTO:
	default:
		/* cached_only: this process is not yet in the namespace that would run the
		 * steps; what it would get there is probed, and anything else is for the
		 * namespace to find out. */
		if (e->o.cached_only) {
			if (!sandbox_isolation_userns())
				return eng_needs_namespace(e, "choosing the isolation", err);
			e->isolation = SANDBOX_ISOLATION_NAMESPACES;
		} else if (sandbox_isolation_detect(&e->isolation, err) < 0) {
			return -1;
		}
		why = e->isolation == SANDBOX_ISOLATION_CHROOT
			      ? "namespaces and mounts are refused here"
			      : "namespaces can be made here";
		break;
	}
	if (e->isolation == SANDBOX_ISOLATION_CHROOT && e->o.network == ENGINE_NET_NONE)
		return plate_err_new(err, ENOTSUP, "%s", ENGINE_CHROOT_NETWORK_NONE);
	ev.name = sandbox_isolation_name(e->isolation);
	if (e->isolation == SANDBOX_ISOLATION_CHROOT) {
		if (asprintf(&message,
			     "%s; layers are copied, RUN shares this process's "
			     "network, processes and hostname",
			     why) < 0)
			message = NULL;
	} else {
		if (userns_nested() || e->o.cached_only)
			ev.name = "rootless";
		message = strdup(why);
	}
	if (message == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	ev.message = message;
	eng_emit(e, &ev);
	return 0;
}

static int prepare(struct engine *e, struct plate_error **err)
{
	char **patterns = NULL;
	size_t n = 0;
	int r;

	e->context_fd = open(e->o.context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->context_fd < 0)
		return plate_err_new(err, errno, "cannot open build context '%s'",
				     e->o.context_dir);
	if (ignore_load_for(e->context_fd, AT_FDCWD, e->o.dockerfile_path, &patterns, &n, NULL,
			    err) < 0)
		return -1;
	e->has_ignore = n > 0;
	r = ignore_new((const char *const *)patterns, n, &e->ignore, err);
	strv_free(patterns, n);
	if (r < 0)
		return plate_err_wrap(err, ".dockerignore");
	if (store_txn_begin(e->o.store, &e->txn, err) < 0 ||
	    eng_scratch(e, "empty", &e->empty_dir, err) < 0 ||
	    eng_scratch(e, "empty", &e->empty_dir2, err) < 0 ||
	    eng_scratch(e, "sandbox", &e->sandbox_tmp, err) < 0 || resolve_isolation(e, err) < 0)
		return -1;
	if (eng_statcache_load(e, err) < 0)
		return -1;
	return eng_explain_load(e, err);
}

/* ---- stage threads -------------------------------------------------------------------- */

static void *stage_thread(void *arg)
{
	struct eng_stage *st = arg;
	struct engine *e = st->engine;
	struct plate_error *err = NULL;
	bool ok = true;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < st->ps->n_depends_on; i++) {
		struct eng_stage *dep = &e->stages[st->ps->depends_on[i]];
		while (!dep->done && !e->failed)
			pthread_cond_wait(&e->cond, &e->lock);
		if (dep->failed || e->failed)
			ok = false;
	}
	pthread_mutex_unlock(&e->lock);
	if (ok && eng_stage_build(e, st, &err) < 0)
		ok = false;
	pthread_mutex_lock(&e->lock);
	st->done = true;
	st->failed = !ok;
	if (err != NULL) {
		/* The first real failure is the build's error; the others were stopped by it. */
		if (e->first_error == NULL && !(e->failed && err->errno_value == ECANCELED)) {
			e->first_error = err;
			err = NULL;
		}
		if (!e->failed) {
			e->failed = true;
			ssize_t ignored = write(e->cancel_pipe[1], "x", 1);
			(void)ignored;
		}
	}
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	plate_error_free(err);
	return NULL;
}

static int run_stages(struct engine *e, struct plate_error **err)
{
	int r;

	for (size_t k = 0; k < e->plan->n_order; k++) {
		struct eng_stage *st = &e->stages[e->plan->order[k]];
		if ((r = pthread_create(&st->thread, NULL, stage_thread, st)) != 0) {
			pthread_mutex_lock(&e->lock);
			if (!e->failed) {
				e->failed = true;
				plate_err_new(&e->first_error, r, "cannot start a build thread");
			}
			pthread_cond_broadcast(&e->cond);
			pthread_mutex_unlock(&e->lock);
			break;
		}
		st->thread_started = true;
	}
	for (size_t k = 0; k < e->plan->n_order; k++) {
		struct eng_stage *st = &e->stages[e->plan->order[k]];
		if (st->thread_started)
			pthread_join(st->thread, NULL);
	}
	if (!e->failed)
		return 0;
	if (e->first_error == NULL)
		return plate_err_new(err, ECANCELED, "build cancelled");
	*err = steal_pointer(&e->first_error);
	return -1;
}

/* Stages the built snapshots and the cache entries: done after a success and after a
 * failure (so that the next build starts from the steps that worked). */
static int finish(struct engine *e, struct plate_error **err)
{
	/* The upper directories become the snapshots (moved, not copied); the commit publishes
	 * those a cache entry or the image names. */
	for (size_t i = 0; i < e->n_pending; i++)
		if (store_txn_snapshot_adopt(e->txn, e->pending_ids[i], e->pending_dirs[i],
					     e->o.epoch, err) < 0)
			return -1;
	if (eng_group_adopt(e, err) < 0 || eng_cache_flush(e, err) < 0 ||
	    eng_statcache_save(e, err) < 0 || eng_explain_save(e, err) < 0)
		return -1;
	return 0;
}

/* A stage runs on its FROM --platform, else on the platform of the stage it is based on,
 * else on the target platform. */
static const char *stage_platform(const struct plan *plan, const struct plan_stage *ps)
{
	while (ps->platform == NULL && ps->from_stage >= 0)
		ps = &plan->stages[ps->from_stage];
	return ps->platform ? ps->platform : plan->target_platform;
}

/* Every needed stage with a RUN on a platform this machine cannot execute natively needs an
 * emulator: found missing before any step runs, not at its first RUN. */
static int check_emulators(struct engine *e, struct plate_error **err)
{
	for (size_t k = 0; k < e->plan->n_order; k++) {
		const struct plan_stage *ps = &e->plan->stages[e->plan->order[k]];
		const char *platform = stage_platform(e->plan, ps);
		bool runs = false;

		for (size_t i = 0; i < ps->n_steps && !runs; i++)
			runs = strcmp(ps->steps[i].instruction, "RUN") == 0;
		if (runs && sandbox_emulator_check(platform, e->plan->build_platform, err) < 0)
			return plate_err_wrap(err, "stage '%s' (%s:%u) runs on %s",
					      ps->name ? ps->name : ps->base,
					      e->o.dockerfile_name ? e->o.dockerfile_name
								   : "Dockerfile",
					      ps->line, platform);
	}
	return 0;
}

/* Prepares, plans and runs the stages: 0, or -1 with *err. */
static int build_stages(struct engine *e, const struct dockerfile *df, struct plate_error **err)
{
	struct plan_options po = {
		.target = e->o.target,
		.build_args = e->o.build_args,
		.n_build_args = e->o.n_build_args,
		.target_platform = e->o.platform,
		.base_env = base_env,
		.base_env_data = e,
		.base_onbuild = base_onbuild,
		.base_onbuild_data = e,
	};

	e->escape = df->escape;
	if (prepare(e, err) < 0)
		return -1;
	if (plan_build(df, &po, &e->plan, err) < 0) {
		/* A base image missing from the store is a build failure, not a Dockerfile error. */
		if (e->base_missing)
			(*err)->line = (*err)->column = 0;
		return -1;
	}
	if (check_emulators(e, err) < 0)
		return -1;
	e->stages = calloc(e->plan->n_stages, sizeof(*e->stages));
	if (e->stages == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	e->n_stages = e->plan->n_stages;
	for (size_t i = 0; i < e->n_stages; i++) {
		struct eng_stage *st = &e->stages[i];
		st->engine = e;
		st->ps = &e->plan->stages[i];
		st->index = i;
		if (st->ps->name != NULL)
			st->label = strdup(st->ps->name);
		else if (asprintf(&st->label, "stage-%zu", i) < 0)
			st->label = NULL;
		if (st->label == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	e->ran_stages = true;
	return run_stages(e, err);
}

static void cache_failure(struct engine *e, struct engine_result *result)
{
	result->cache_failed = e->cache_failed;
	result->cache_bad_source = e->cache_bad_source;
	memcpy(result->cache_bad_blob, e->cache_bad_blob, sizeof(e->cache_bad_blob));
	result->needs_namespace = e->needs_namespace;
}

int engine_build(struct engine *e, const struct dockerfile *df, struct engine_result *result,
		 struct plate_error **err)
{
	bool all_ok, image_failed = false;
	int r;

	memset(result, 0, sizeof(*result));
	r = build_stages(e, df, err);
	result->steps = e->steps;
	result->cached = e->cached;
	/* In a group, an image is staged only when every member built its stages. */
	all_ok = eng_group_barrier(e, r == 0);
	if (r == 0 && !all_ok)
		r = plate_err_new(err, ECANCELED, "another platform of the build failed");
	if (r == 0) {
		r = eng_image_commit(e, &e->stages[e->plan->target], result, err);
		image_failed = r < 0;
	}
	if (r < 0)
		cache_failure(e, result);
	/* Past it, no member reads another's layer directories: commits may move them. */
	all_ok = eng_group_barrier(e, r == 0);
	if (e->user_cancelled || !e->ran_stages || image_failed || (r == 0 && !all_ok)) {
		if (r == 0)
			r = plate_err_new(err, ECANCELED,
					  e->user_cancelled
						  ? "build cancelled"
						  : "another platform of the build failed");
		return -1;
	}
	eng_group_commit_begin(e);
	if (r < 0) {
		/* After a failure, the steps that worked are kept for the next build. */
		_cleanup_error_ struct plate_error *ignored = NULL;
		/* A build stopped for the namespace starts again in it: nothing of this one
		 * (its step records above all) may change what that one sees. */
		if (!e->needs_namespace && finish(e, &ignored) == 0)
			store_txn_commit(e->txn, &ignored);
	} else if (finish(e, err) < 0 || store_txn_commit(e->txn, err) < 0) {
		r = -1;
	}
	eng_group_commit_end(e);
	return r < 0 ? -1 : eng_output(e, result, err);
}
