/*
 * The build pipeline (build/build.h): the Dockerfile checks, the engine with pulls and
 * downloads injected, the SBOM, the doctor, the push.  Nothing here prints: every outcome
 * is an event or the result.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "build/build_internal.h"
#include "check/check.h"

int build_new(const struct build_options *opts, struct build **out, struct plate_error **err)
{
	struct build *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	b->o = *opts;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->pulled, NULL);
	*out = b;
	return 0;
}

/* The pulls of an attempt are forgotten before the next (no engine runs then): an image that
 * went missing meanwhile is pulled again. */
static void pulls_release(struct build *b)
{
	while (b->pulls != NULL) {
		struct build_pull *p = b->pulls;
		b->pulls = p->next;
		free(p->name);
		free(p->platform);
		free(p);
	}
}

void build_free(struct build *b)
{
	if (b == NULL)
		return;
	pulls_release(b);
	pthread_cond_destroy(&b->pulled);
	pthread_mutex_destroy(&b->lock);
	oci_strings_release(&b->platforms);
	free(b);
}

void build_cancel(struct build *b)
{
	struct engine *e;

	struct engine *_Atomic *group;
	size_t n;

	b->cancelled = 1;
	e = atomic_load(&b->engine);
	if (e != NULL)
		engine_cancel(e);
	n = atomic_load(&b->n_group);
	group = atomic_load(&b->group);
	for (size_t i = 0; group != NULL && i < n; i++)
		if ((e = atomic_load(&group[i])) != NULL)
			engine_cancel(e);
}

static int emit(struct build *b, const struct build_event *ev, struct plate_error **err)
{
	int r;

	if (b->o.event == NULL)
		return 0;
	pthread_mutex_lock(&b->lock);
	r = b->o.event(b->o.event_data, ev, err);
	pthread_mutex_unlock(&b->lock);
	return r;
}

/* One pull of name for platform, with its events. */
static int pull_one(struct build *b, const char *name, const char *platform,
		    struct plate_error **err)
{
	struct transfer_options to = { .store = b->o.store,
				       .registry = b->o.registry,
				       .platform = platform };
	struct transfer_result res = { 0 };
	int r;

	if (emit(b,
		 &(struct build_event){
			 .type = BUILD_EVENT_PULL, .name = name, .platform = platform },
		 err) < 0 ||
	    transfer_pull(&to, name, &res, err) < 0)
		return -1;
	r = emit(b,
		 &(struct build_event){ .type = BUILD_EVENT_PULLED,
					.name = name,
					.platform = platform,
					.transfer = &res },
		 err);
	transfer_result_release(&res);
	return r;
}

static bool same_platform(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* Under b->lock: 1 when another thread of the build pulls (or pulled) name for platform,
 * after waiting for it to end (*r its outcome); 0 with *mine the caller's new entry. */
static int pull_claim(struct build *b, const char *name, const char *platform,
		      struct build_pull **mine, int *r, struct plate_error **err)
{
	struct build_pull *p = b->pulls;

	while (p != NULL && (strcmp(p->name, name) != 0 || !same_platform(p->platform, platform)))
		p = p->next;
	if (p != NULL) {
		while (p->state == BUILD_PULL_RUNNING)
			pthread_cond_wait(&b->pulled, &b->lock);
		/* ECANCELED: the build's error is the failed pull's own (platforms.c). */
		*r = p->state == BUILD_PULL_DONE
			     ? 0
			     : plate_err_new(err, ECANCELED, "the pull of '%s' failed", name);
		return 1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->name = strdup(name)) == NULL ||
	    (platform != NULL && (p->platform = strdup(platform)) == NULL)) {
		if (p != NULL)
			free(p->name);
		free(p);
		*r = plate_err_new(err, ENOMEM, "out of memory");
		return 1;
	}
	p->next = b->pulls;
	b->pulls = p;
	*mine = p;
	return 0;
}

/* The engine's pull callback: FROM images the store lacks (from stage threads), one pull per
 * name and platform for the whole build. */
static int pull_image(void *data, const char *name, const char *platform, struct plate_error **err)
{
	struct build *b = data;
	struct build_pull *mine = NULL;
	int r;

	/* A pulled layer is extracted with the image's owners. */
	if (b->o.engine.cached_only) {
		pthread_mutex_lock(&b->lock);
		b->needs_namespace = true;
		pthread_mutex_unlock(&b->lock);
		return plate_err_new(err, EAGAIN, "pulling '%s' needs the user namespace", name);
	}
	pthread_mutex_lock(&b->lock);
	if (pull_claim(b, name, platform, &mine, &r, err)) {
		pthread_mutex_unlock(&b->lock);
		return r;
	}
	pthread_mutex_unlock(&b->lock);
	r = pull_one(b, name, platform, err);
	pthread_mutex_lock(&b->lock);
	mine->state = r == 0 ? BUILD_PULL_DONE : BUILD_PULL_FAILED;
	pthread_cond_broadcast(&b->pulled);
	pthread_mutex_unlock(&b->lock);
	return r;
}

/* The engine's fetcher for ADD <url>: plain downloads, no registry auth. */
static int fetch_url(void *data, const char *url, int fd, uint64_t max,
		     char digest[DIGEST_STRING_LEN + 1], long long *mtime, struct plate_error **err)
{
	return registry_url_get(url, fd, max, digest, mtime, err);
}

/* BuildKit runs its build checks before building and prints their warnings; base images
 * already in the store inform them. */
static int lint(struct build *b, struct build_result *res, struct plate_error **err)
{
	_cleanup_(finding_report_release) struct finding_report report = FINDING_REPORT_INIT;
	const struct engine_options *eo = &b->o.engine;
	struct build_lint_input in = {
		.df = b->o.df,
		.source = b->o.source,
		.source_len = b->o.source_len,
		.display_name = b->o.display_name,
		.dockerfile_path = eo->dockerfile_path,
		.context_dir = eo->context_dir,
		.build_args = eo->build_args,
		.n_build_args = eo->n_build_args,
		.platform = b->platforms.n > 0 ? b->platforms.v[0] : b->o.host_platform,
		.store = b->o.store,
	};

	if (build_lint(&in, &report, err) < 0 ||
	    emit(b, &(struct build_event){ .type = BUILD_EVENT_LINT, .report = &report }, err) < 0)
		return -1;
	res->lint_errors = finding_report_count(&report, FINDING_ERROR);
	return 0;
}

/* Runs an engine made from eo with the pipeline's pulls and downloads injected,
 * cancellable by build_cancel(); the engine is handed to *kept (the cache export reads its
 * entries) or freed. */
static int engine_with(struct build *b, struct engine_options *eo, struct engine *_Atomic *slot,
		       struct engine_result *out, struct engine **kept, struct plate_error **err)
{
	struct engine *e = NULL;
	int r;

	eo->store = b->o.store;
	eo->pull_image = pull_image;
	eo->pull_data = b;
	eo->fetch_url = fetch_url;
	if (engine_new(eo, &e, err) < 0) {
		if (eo->group != NULL)
			engine_group_leave(eo->group);
		return -1;
	}
	atomic_store(slot, e);
	/* A cancel that came before the engine was published is honoured here. */
	if (b->cancelled)
		engine_cancel(e);
	r = engine_build(e, b->o.df, out, err);
	atomic_store(slot, NULL);
	if (kept != NULL)
		*kept = e;
	else
		engine_free(e);
	return r;
}

int build_engine_run(struct build *b, const struct engine_options *opts,
		     struct engine *_Atomic *slot, struct engine_result *out, struct engine **kept,
		     struct plate_error **err)
{
	struct engine_options eo = *opts;

	return engine_with(b, &eo, slot, out, kept, err);
}

static void cache_warning(void *data, const char *source, const struct plate_error *why)
{
	_cleanup_error_ struct plate_error *ignored = NULL;

	emit(data,
	     &(struct build_event){
		     .type = BUILD_EVENT_CACHE_WARNING, .name = source, .error = why },
	     &ignored);
}

struct cache_union {
	struct engine_cache_entry *v;
	bool *remote;
	size_t n;
};

static void cache_union_release(struct cache_union *u)
{
	free(u->v);
	free(u->remote);
}

/* The entries of every platform's engine, each key once: a step that does not depend on the
 * target ($BUILDPLATFORM) has the same key in each.  The first platform's entry of a key
 * stands, unless only a later one has the layer's blob (mode=min keeps the blobs of each
 * platform's own image). */
static int cache_union(struct engine *const *kept, size_t n_kept, struct cache_union *u,
		       struct plate_error **err)
{
	size_t total = 0;

	for (size_t i = 0; i < n_kept; i++) {
		const struct engine_cache_entry *v;
		const bool *remote;
		size_t n;
		engine_cache_entries(kept[i], &v, &remote, &n);
		total += n;
	}
	u->v = calloc(total + 1, sizeof(*u->v));
	u->remote = calloc(total + 1, sizeof(*u->remote));
	if (u->v == NULL || u->remote == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_kept; i++) {
		const struct engine_cache_entry *v;
		const bool *remote;
		size_t n;
		engine_cache_entries(kept[i], &v, &remote, &n);
		for (size_t j = 0; j < n; j++) {
			size_t k = 0;
			while (k < u->n && strcmp(u->v[k].key, v[j].key) != 0)
				k++;
			if (k < u->n && (u->v[k].blob[0] != '\0' || v[j].blob[0] == '\0'))
				continue;
			u->v[k] = v[j];
			u->remote[k] = remote[j];
			if (k == u->n)
				u->n++;
		}
	}
	return 0;
}

/* --cache-to type=registry|local, after the image (or the index) is stored: one cache for
 * every platform of the build. */
static int export_cache(struct build *b, struct engine *const *kept, size_t n_kept,
			struct build_cache *imports, struct plate_error **err)
{
	struct cache_union u = { 0 };
	int r = 0;

	for (size_t i = 0; i < b->o.n_cache_to && r == 0; i++) {
		const struct build_cache_spec *spec = &b->o.cache_to[i];
		struct transfer_result tr = { .name = (char *)build_cache_spec_name(spec) };
		if (spec->type == BUILD_CACHE_INLINE)
			continue;
		if (u.v == NULL && cache_union(kept, n_kept, &u, err) < 0) {
			r = -1;
			break;
		}
		if (build_cache_export(spec, b->o.store, b->o.registry, imports, u.v, u.remote, u.n,
				       &tr.transferred, &tr.bytes, err) < 0 ||
		    emit(b,
			 &(struct build_event){ .type = BUILD_EVENT_CACHE_EXPORTED,
						.name = tr.name,
						.transfer = &tr },
			 err) < 0)
			r = -1;
	}
	cache_union_release(&u);
	return r;
}

/* One run of the build's engines (one per platform) over the imported entries; *retry when
 * it failed on one of them. */
static int engine_once(struct build *b, struct build_result *res, struct build_cache *cache,
		       bool *retry, struct plate_error **err)
{
	size_t n = b->platforms.n > 1 ? b->platforms.n : 1;
	_cleanup_free_ struct engine **kept = calloc(n, sizeof(*kept));
	struct engine_options eo = b->o.engine;
	int r;

	*retry = false;
	res->image = (struct engine_result){ 0 };
	pulls_release(b);
	if (kept == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	/* The engines only read the entries (cache->n changes between runs, never during one)
	 * and build_cache_fetch() makes a registry client per call: one import serves every
	 * platform's thread. */
	eo.cache_from = cache->entries;
	eo.n_cache_from = cache->n;
	eo.cache_from_labels = cache->labels;
	eo.fetch_blob = build_cache_fetch;
	eo.fetch_blob_data = cache;
	for (size_t i = 0; i < b->o.n_cache_to; i++) {
		if (b->o.cache_to[i].type == BUILD_CACHE_INLINE)
			eo.cache_inline = true;
		else
			eo.cache_export = b->o.cache_mode;
	}
	if (b->platforms.n > 1) {
		r = build_platforms(b, &b->platforms, &eo, kept, &res->image, err);
	} else {
		eo.platform = b->platforms.n > 0 ? b->platforms.v[0] : NULL;
		r = engine_with(b, &eo, &b->engine, &res->image, &kept[0], err);
	}
	*retry = r < 0 && res->image.cache_failed && !b->cancelled;
	if (r == 0)
		r = export_cache(b, kept, n, cache, err);
	for (size_t i = 0; i < n; i++)
		engine_free(kept[i]);
	return r;
}

/* A cache entry whose files cannot be had is found only once a step needs them, after
 * the steps that took it were reported: the build starts again without it (the steps that
 * ran are in the store's cache by then), after one warning.  Several platforms start again
 * together: their engines are one group. */
static int run_engine(struct build *b, struct build_result *res, struct plate_error **err)
{
	struct build_cache cache = { .registry = b->o.registry };
	bool retry = false;
	int r;

	if (build_cache_import(&cache, b->o.cache_from, b->o.n_cache_from, b->o.registry,
			       cache_warning, b, err) < 0) {
		build_cache_release(&cache);
		return -1;
	}
	for (unsigned attempt = 0;; attempt++) {
		r = engine_once(b, res, &cache, &retry, err);
		if (r == 0 || !retry)
			break;
		cache_warning(b,
			      build_cache_drop(&cache, res->image.cache_bad_source,
					       res->image.cache_bad_blob),
			      *err);
		plate_error_free(steal_pointer(err));
		if (attempt >= 2)
			cache.n = 0;
	}
	build_cache_release(&cache);
	return r;
}

/* The doctor on the stored image: a failure of the doctor itself is reported, and the
 * build goes on.  *failed under --strict when a finding remains, or when an error finding
 * remains and a size budget was given. */
static int doctor(struct build *b, const char *digest, const char *platform, bool *failed,
		  struct plate_error **err)
{
	_cleanup_(finding_report_release) struct finding_report r = FINDING_REPORT_INIT;
	_cleanup_error_ struct plate_error *derr = NULL;
	struct check_stored_options so = { .strict = b->o.strict,
					   .max_size = b->o.max_size,
					   .indexed_only = b->o.engine.cached_only };

	*failed = false;
	if (check_stored_image(b->o.store, digest, platform, &so, &r, &derr) < 0) {
		/* Outside the namespace a layer's files may be out of reach: the namespace's
		 * doctor tells whether it fails there too. */
		if (b->o.engine.cached_only) {
			b->needs_namespace = true;
			*err = steal_pointer(&derr);
			return -1;
		}
		return emit(b,
			    &(struct build_event){ .type = BUILD_EVENT_CHECK_SKIPPED,
						   .error = derr },
			    err);
	}
	if (emit(b, &(struct build_event){ .type = BUILD_EVENT_CHECK, .report = &r }, err) < 0)
		return -1;
	*failed =
		finding_report_count(&r, FINDING_ERROR) > 0 && (b->o.strict || b->o.max_size >= 0);
	return 0;
}

static int push(struct build *b, const char *digest, struct plate_error **err)
{
	for (size_t i = 0; i < b->o.engine.n_tags; i++) {
		struct transfer_options to = { .store = b->o.store,
					       .registry = b->o.registry,
					       .platform = b->platforms.n == 1 ? b->platforms.v[0]
									       : NULL };
		struct transfer_result pr = { 0 };
		int r;

		if (transfer_push(&to, digest, b->o.engine.tags[i], &pr, err) < 0)
			return -1;
		r = emit(b, &(struct build_event){ .type = BUILD_EVENT_PUSHED, .transfer = &pr },
			 err);
		transfer_result_release(&pr);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* --sbom: a referrer of each platform's manifest, from that platform's files. */
static int sbom_each(struct build *b, const char *digest, const char *platform,
		     struct plate_error **err)
{
	if (b->platforms.n < 2)
		return check_sbom_attach(b->o.store, digest, platform, err);
	for (size_t i = 0; i < b->platforms.n; i++)
		if (check_sbom_attach(b->o.store, digest, b->platforms.v[i], err) < 0)
			return plate_err_wrap(err, "%s", b->platforms.v[i]);
	return 0;
}

/* The doctor on each platform's image of the index: the build fails when one fails. */
static int doctor_each(struct build *b, const char *digest, bool *failed, struct plate_error **err)
{
	*failed = false;
	for (size_t i = 0; i < b->platforms.n; i++) {
		bool one;
		if (doctor(b, digest, b->platforms.v[i], &one, err) < 0)
			return -1;
		*failed = *failed || one;
	}
	return 0;
}

static int pipeline(struct build *b, struct build_result *res, struct plate_error **err)
{
	const char *platform;
	bool failed, multi;

	*res = (struct build_result){ .outcome = BUILD_OK, .phase = BUILD_PHASE_LINT };
	oci_strings_release(&b->platforms);
	if (b->o.engine.platform != NULL &&
	    oci_platforms_parse(b->o.engine.platform, &b->platforms, err) < 0)
		return plate_err_wrap(err, "--platform");
	multi = b->platforms.n > 1;
	platform = b->platforms.n > 0 ? b->platforms.v[0] : b->o.host_platform;
	if (lint(b, res, err) < 0)
		return -1;
	if (res->lint_errors > 0) {
		res->outcome = BUILD_LINT_FAILED;
		return 0;
	}
	res->phase = BUILD_PHASE_ENGINE;
	if (b->cancelled)
		return plate_err_new(err, ECANCELED, "build cancelled");
	if (run_engine(b, res, err) < 0)
		return -1;
	res->phase = BUILD_PHASE_PUBLISH;
	if (emit(b, &(struct build_event){ .type = BUILD_EVENT_BUILT, .image = &res->image }, err) <
	    0)
		return -1;
	if (b->o.sbom && sbom_each(b, res->image.manifest_digest, platform, err) < 0)
		return -1;
	/* The doctor first: a build that fails its checks is not pushed. */
	if ((multi ? doctor_each(b, res->image.manifest_digest, &failed, err)
		   : doctor(b, res->image.manifest_digest, platform, &failed, err)) < 0)
		return -1;
	if (failed) {
		res->outcome = BUILD_CHECK_FAILED;
		return 0;
	}
	return b->o.push ? push(b, res->image.manifest_digest, err) : 0;
}

int build_run(struct build *b, struct build_result *res, struct plate_error **err)
{
	int r = pipeline(b, res, err);

	res->needs_namespace = b->needs_namespace || res->image.needs_namespace;
	return r;
}
