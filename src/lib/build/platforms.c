/*
 * A build for several platforms (`--platform linux/amd64,linux/arm64`): one engine per
 * platform, all at the same time, each in a thread of its own, then one OCI image index over
 * the manifests, stored under the build's tags.  The engines are a group (engine.h): a stage
 * that does not depend on the target (FROM --platform=$BUILDPLATFORM, no TARGET* ARG before
 * a step) has the same step keys in each, and each key is built once, by the engine that
 * got to it first, while the others wait for it.  Each platform's manifest is committed
 * untagged by its engine; the index's commit names the index and drops those untagged
 * entries, so the store lists the image once.  The outputs are BuildKit's for a list of
 * platforms: an oci-archive of the index, written once it is stored; a directory per
 * platform under a local dest, each written by its engine; a docker-archive, which holds no
 * index, is refused before any step runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "build/build_internal.h"

/* "os/arch[/variant]" as an index entry's platform. */
static int platform_of(const char *s, struct oci_platform **out, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(s);
	struct oci_platform *p = calloc(1, sizeof(*p));
	char *save = NULL, *os, *arch, *variant;

	if (copy == NULL || p == NULL) {
		free(p);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	os = strtok_r(copy, "/", &save);
	arch = strtok_r(NULL, "/", &save);
	variant = strtok_r(NULL, "/", &save);
	p->os = strdup(os);
	p->architecture = strdup(arch);
	p->variant = variant ? strdup(variant) : NULL;
	if (p->os == NULL || p->architecture == NULL || (variant != NULL && p->variant == NULL)) {
		oci_platform_free(p);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	*out = p;
	return 0;
}

/* Stores the index over the built manifests and names it with every tag (untagged
 * without). */
static int store_index(struct build *b, const struct oci_strings *platforms,
		       const struct engine_result *built, struct engine_result *res,
		       struct plate_error **err)
{
	struct oci_index idx = { .schema_version = 2 };
	struct store_txn *t = NULL;
	_cleanup_free_ char *json = NULL;
	struct oci_descriptor root = { 0 };
	char digest[DIGEST_STRING_LEN + 1];
	size_t len;
	int r = -1;

	if ((idx.media_type = strdup(OCI_MEDIA_TYPE_INDEX)) == NULL ||
	    (idx.manifests = calloc(platforms->n, sizeof(*idx.manifests))) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < platforms->n; i++) {
		struct oci_descriptor *d = &idx.manifests[idx.n_manifests++];
		d->size = (int64_t)built[i].manifest_size;
		if ((d->media_type = strdup(OCI_MEDIA_TYPE_MANIFEST)) == NULL ||
		    (d->digest = strdup(built[i].manifest_digest)) == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		if (platform_of(platforms->v[i], &d->platform, err) < 0)
			goto out;
	}
	if (oci_index_write(&idx, OCI_FORMAT_OCI, &json, &len, err) < 0 ||
	    store_txn_begin(b->o.store, &t, err) < 0 ||
	    store_txn_add_blob(t, json, len, digest, err) < 0)
		goto out;
	root = (struct oci_descriptor){ .media_type = OCI_MEDIA_TYPE_INDEX,
					.digest = digest,
					.size = (int64_t)len };
	if (b->o.engine.n_tags == 0 && store_txn_tag(t, NULL, &root, err) < 0)
		goto out;
	for (size_t i = 0; i < b->o.engine.n_tags; i++)
		if (store_txn_tag(t, b->o.engine.tags[i], &root, err) < 0)
			goto out;
	for (size_t i = 0; i < platforms->n; i++)
		if (store_txn_drop_unnamed(t, built[i].manifest_digest, err) < 0)
			goto out;
	if (store_txn_commit(t, err) < 0)
		goto out;
	memcpy(res->image_id, digest, sizeof(digest));
	memcpy(res->manifest_digest, digest, sizeof(digest));
	res->manifest_size = len;
	r = 0;
out:
	store_txn_free(t);
	oci_index_release(&idx);
	return r;
}

struct platform_run {
	struct build *b;
	struct engine_options eo;
	char *dest; /* --output type=local: DEST/os_arch[_variant] */
	struct engine *_Atomic *slot;
	struct engine **kept;
	struct engine_result res;
	struct plate_error *err;
	int r;
	pthread_t thread;
	bool started;
};

static void *platform_thread(void *arg)
{
	struct platform_run *run = arg;

	run->r = build_engine_run(run->b, &run->eo, run->slot, &run->res, run->kept, &run->err);
	return NULL;
}

/* The build's error: the first platform's that is not a consequence of another's failure
 * (a waiting step, a stopped engine: ECANCELED), named after its platform. */
static int first_error(struct platform_run *runs, size_t n, struct plate_error **err)
{
	struct platform_run *pick = NULL;

	for (size_t i = 0; i < n; i++)
		if (runs[i].r < 0 && (pick == NULL || (pick->err->errno_value == ECANCELED &&
						       runs[i].err->errno_value != ECANCELED)))
			pick = &runs[i];
	if (pick == NULL)
		return 0;
	*err = steal_pointer(&pick->err);
	return plate_err_wrap(err, "%s", pick->eo.platform);
}

/* BuildKit's platform-split directory: DEST/linux_arm_v7 for linux/arm/v7. */
static int platform_dest(const char *dest, const char *platform, char **out,
			 struct plate_error **err)
{
	if (asprintf(out, "%s/%s", dest, platform) < 0) {
		*out = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	for (char *c = *out + strlen(dest) + 1; *c != '\0'; c++)
		if (*c == '/')
			*c = '_';
	return 0;
}

/* Before any engine starts: what is refused, each platform's local directory named, the
 * local dest made. */
static int prepare_output(const struct build *b, const struct oci_strings *platforms,
			  struct platform_run *runs, struct plate_error **err)
{
	const char *dest = b->o.engine.output_dest;

	if (b->o.engine.output == ENGINE_OUTPUT_DOCKER)
		return plate_err_new(err, ENOTSUP,
				     "--output type=docker takes one platform: a docker-archive "
				     "holds no image index (use type=oci for several platforms)");
	if (b->o.engine.output != ENGINE_OUTPUT_LOCAL)
		return 0;
	for (size_t i = 0; i < platforms->n; i++)
		if (platform_dest(dest, platforms->v[i], &runs[i].dest, err) < 0)
			return -1;
	if (mkdir(dest, 0755) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "--output type=local: cannot create '%s'", dest);
	return 0;
}

static void free_dests(struct platform_run *runs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(runs[i].dest);
}

int build_platforms(struct build *b, const struct oci_strings *platforms,
		    const struct engine_options *eo, struct engine **kept,
		    struct engine_result *res, struct plate_error **err)
{
	_cleanup_free_ struct engine_result *built = calloc(platforms->n, sizeof(*built));
	_cleanup_free_ struct platform_run *runs = calloc(platforms->n, sizeof(*runs));
	_cleanup_free_ struct engine *_Atomic *slots = calloc(platforms->n, sizeof(*slots));
	struct engine_group *group = NULL;
	int r;

	if (built == NULL || runs == NULL || slots == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (prepare_output(b, platforms, runs, err) < 0 ||
	    engine_group_new(platforms->n, &group, err) < 0) {
		free_dests(runs, platforms->n);
		return -1;
	}
	*res = (struct engine_result){ 0 };
	atomic_store(&b->group, slots);
	atomic_store(&b->n_group, platforms->n);
	for (size_t i = 0; i < platforms->n; i++) {
		struct platform_run *run = &runs[i];
		run->b = b;
		run->eo = *eo;
		run->eo.platform = platforms->v[i];
		run->eo.tags = NULL;
		run->eo.n_tags = 0;
		run->eo.group = group;
		run->slot = &slots[i];
		run->kept = &kept[i];
		/* The index's archive is written once the index is stored. */
		if (run->eo.output == ENGINE_OUTPUT_OCI)
			run->eo.output = ENGINE_OUTPUT_STORE;
		if (run->eo.output == ENGINE_OUTPUT_LOCAL)
			run->eo.output_dest = run->dest;
		if ((r = pthread_create(&run->thread, NULL, platform_thread, run)) != 0) {
			run->r = plate_err_new(&run->err, r, "cannot start a build thread");
			engine_group_leave(group);
			continue;
		}
		run->started = true;
	}
	for (size_t i = 0; i < platforms->n; i++)
		if (runs[i].started)
			pthread_join(runs[i].thread, NULL);
	atomic_store(&b->n_group, 0);
	atomic_store(&b->group, NULL);
	engine_group_free(group);
	free_dests(runs, platforms->n);
	r = first_error(runs, platforms->n, err);
	for (size_t i = 0; i < platforms->n; i++) {
		plate_error_free(runs[i].err);
		built[i] = runs[i].res;
		res->steps += built[i].steps;
		res->cached += built[i].cached;
		/* The group starts again after any platform's cache failure: one source dropped
		 * per attempt, the first platform's. */
		if (built[i].cache_failed && !res->cache_failed) {
			res->cache_failed = true;
			res->cache_bad_source = built[i].cache_bad_source;
			memcpy(res->cache_bad_blob, built[i].cache_bad_blob,
			       sizeof(res->cache_bad_blob));
		}
	}
	if (r < 0 || store_index(b, platforms, built, res, err) < 0)
		return -1;
	if (b->o.engine.output != ENGINE_OUTPUT_OCI)
		return 0;
	return engine_output_archive(b->o.store,
				     b->o.engine.n_tags > 0 ? b->o.engine.tags[0]
							    : res->manifest_digest,
				     ENGINE_OUTPUT_OCI, b->o.engine.output_dest, err);
}
