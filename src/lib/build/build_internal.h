/* build/build_internal.h — what the pipeline's files share. */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "build/build_internal.h is internal to the build module"
#endif
#ifndef PLATE_BUILD_INTERNAL_H
#define PLATE_BUILD_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "build/build.h"

struct build {
	struct build_options o;
	pthread_mutex_t lock;          /* one event at a time */
	struct engine *_Atomic engine; /* while it runs, for build_cancel() */
	struct oci_strings platforms;  /* --platform's list, normalised; empty: the host's */
	volatile sig_atomic_t cancelled;
};

/* Runs the engine with eo (the pipeline's pulls and downloads injected), cancellable by
 * build_cancel(). */
int build_engine_run(struct build *b, const struct engine_options *eo,
		     struct engine_result *out, struct plate_error **err);

/* Builds every platform of the list (two or more, normalised) and stores one image index
 * over them under the build's tags; *res describes the index (image_id and
 * manifest_digest are its digest), steps and cached summed over the platforms. */
int build_platforms(struct build *b, const struct oci_strings *platforms,
		    struct engine_result *res, struct plate_error **err);

#endif
