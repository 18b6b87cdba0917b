/*
 * build/build_internal.h — what the pipeline's files share: the build and its engine runs
 * (pipeline.c), the platforms of a multi-platform build (platforms.c), the shared build
 * cache (cache.c reads sources and serves their blobs, cache_export.c writes a cache).
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "build/build_internal.h is internal to the build module"
#endif
#ifndef PLATE_BUILD_INTERNAL_H
#define PLATE_BUILD_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "build/build.h"

/* A pull of the build, by name and platform: the engines of a group that need the same base
 * (a $BUILDPLATFORM stage's) take one pull, the first's; the others wait for it. */
struct build_pull {
	char *name, *platform;
	enum {
		BUILD_PULL_RUNNING,
		BUILD_PULL_DONE,
		BUILD_PULL_FAILED
	} state;
	struct build_pull *next;
};

struct build {
	struct build_options o;
	pthread_mutex_t lock;	       /* one event at a time */
	pthread_cond_t pulled;	       /* a pull of `pulls` ended */
	struct build_pull *pulls;      /* this attempt's pulls (under lock) */
	struct engine *_Atomic engine; /* while it runs, for build_cancel() */
	/* The engines of a multi-platform build, one slot per platform, for build_cancel() */
	struct engine *_Atomic *_Atomic group;
	_Atomic size_t n_group;
	struct oci_strings platforms; /* --platform's list, normalised; empty: the host's */
	volatile sig_atomic_t cancelled;
	bool needs_namespace; /* engine.cached_only and a pull was needed (under lock) */
};

/* Runs the engine with eo (the pipeline's pulls and downloads injected), published in *slot
 * while it runs so that build_cancel() stops it; the engine is handed to *kept (the cache
 * export reads its entries), or freed when kept is NULL. */
int build_engine_run(struct build *b, const struct engine_options *eo, struct engine *_Atomic *slot,
		     struct engine_result *out, struct engine **kept, struct plate_error **err);

/* Builds every platform of the list (two or more, normalised) with engines made from eo
 * (its platform and tags replaced) and stores one image index over them under the build's
 * tags; *res describes the index (image_id and manifest_digest are its digest), steps and
 * cached summed over the platforms, and the first cache failure of a platform
 * (engine_result.cache_failed) when the build failed.  kept[i] gets platform i's engine
 * (NULL if it could not be made), for the caller to free. */
int build_platforms(struct build *b, const struct oci_strings *platforms,
		    const struct engine_options *eo, struct engine **kept,
		    struct engine_result *res, struct plate_error **err);

#define BUILD_CACHE_ARTIFACT_TYPE "application/vnd.plate.build-cache.v1"
#define BUILD_CACHE_CONFIG_TYPE "application/vnd.plate.build-cache.config.v1+json"

struct cache_source {
	const struct build_cache_spec *spec;
	struct oci_reference ref; /* registry, inline */
};

/* The --cache-from sources that answered and their entries, in the order given (the
 * engine takes the first entry of a key).  labels[i] is source i's type for progress. */
struct build_cache {
	const struct registry_options *registry;
	struct cache_source *sources;
	size_t n_sources;
	const char **labels;
	struct engine_cache_entry *entries;
	size_t n;
};

typedef void build_cache_warn_fn(void *data, const char *source, const struct plate_error *why);

/* Reads every source; one that cannot be read (missing, refused, damaged, another version)
 * is reported through warn and skipped.  -1 only when out of memory. */
int build_cache_import(struct build_cache *c, const struct build_cache_spec *specs, size_t n,
		       const struct registry_options *ro, build_cache_warn_fn *warn, void *data,
		       struct plate_error **err);
/* The engine's engine_blob_fn over c. */
int build_cache_fetch(void *data, unsigned source, const char *digest, int64_t size, int fd,
		      struct plate_error **err);
/* After a build failed on an entry of source (engine_result.cache_failed): a blob that
 * could not be had condemns the source (damaged, gone, refused), a key-only entry only the
 * source's key-only entries.  Returns the source's name for the warning. */
const char *build_cache_drop(struct build_cache *c, unsigned source, const char *bad_blob);
void build_cache_release(struct build_cache *c);
const char *build_cache_spec_name(const struct build_cache_spec *s);

/* Writes the entries as a cache to spec's registry or directory.  Blobs come from the
 * store, or (remote[i]) from the source in imports they were found in.  *uploaded and
 * *bytes count the blobs and bytes actually sent or written (manifest and config
 * included). */
int build_cache_export(const struct build_cache_spec *spec, struct store *store,
		       const struct registry_options *ro, struct build_cache *imports,
		       const struct engine_cache_entry *v, const bool *remote, size_t n,
		       unsigned *uploaded, uint64_t *bytes, struct plate_error **err);

#endif
