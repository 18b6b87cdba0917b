/*
 * build/build.h — `plate build` as one library call: the pipeline a front end runs.
 *
 * Purpose
 *   build_run() takes a parsed Dockerfile and runs, in order:
 *     lint     the Dockerfile checks (lint/), with the build context listed and the base
 *              images already in the store looked up; an error finding stops here
 *     engine   the build (engine/), with FROM images the store lacks pulled (transfer/)
 *              and ADD <url> downloaded (registry/): both injected into the engine here,
 *              so the engine depends on neither
 *     sbom     the SPDX document stored with the image as a referrer (check/), if asked
 *     doctor   the image doctor on the stored image (check/); under --strict any finding,
 *              with a size budget an error finding, fails the build
 *     push     every tag, unless the doctor failed the build (transfer/)
 *   A front end parses its options into struct build_options, calls build_run() and renders
 *   the events and the result: `plate build` (src/cli/build.c) is one.  build_lint() runs
 *   the Dockerfile checks alone (`plate check DOCKERFILE`, `plate build --check`).
 *
 * Events
 *   build_options.event receives the findings, pulls, the built image, the doctor's
 *   report and pushes in that order, one call at a time (pulls come from the engine's stage
 *   threads); the engine's own progress goes to engine.progress.  Pointers in an event are
 *   valid during the call only.  An event handler that fails stops the build with its error.
 *
 * Errors
 *   -1 with *err, and result->phase says where: BUILD_PHASE_LINT (the checks could not run:
 *   a bad `# check=` directive, an unreadable context), BUILD_PHASE_ENGINE (located errors
 *   point into the Dockerfile), BUILD_PHASE_PUBLISH (after the image was stored: an event
 *   handler, the SBOM, a push).  A failure of the doctor itself does not fail the build:
 *   it is a BUILD_EVENT_CHECK_SKIPPED event.
 *
 * Cancellation
 *   build_cancel() may be called from a signal handler: a running engine stops (ECANCELED)
 *   and a build not yet in the engine does not start it.
 */
#ifndef PLATE_BUILD_H
#define PLATE_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "dockerfile/dockerfile.h"
#include "engine/engine.h"
#include "finding/finding.h"
#include "registry/registry.h"
#include "store/store.h"
#include "transfer/transfer.h"

/* ---- the Dockerfile checks --------------------------------------------------------------- */

struct build_lint_input {
	const struct dockerfile *df;
	const char *source; /* the Dockerfile's bytes (comments are not in df) */
	size_t source_len;
	const char *display_name;      /* file name in findings */
	const char *dockerfile_path;   /* for <Dockerfile>.dockerignore; NULL for stdin */
	const char *context_dir;       /* NULL: no context checks */
	const char *const *build_args; /* "NAME=VALUE" */
	size_t n_build_args;
	const char *platform; /* target platform, NULL for linux/amd64 */
	struct store *store;  /* base images found here inform the checks; may be NULL */
};

/* Lists the context (without following symlinks, without entering .git), reads its
 * .dockerignore and runs lint_dockerfile(): findings added to *report, sorted, with the
 * check policy applied. */
int build_lint(const struct build_lint_input *in, struct finding_report *report,
	       struct plate_error **err);

/* ---- the pipeline ------------------------------------------------------------------------ */

/* A --cache-from or --cache-to (docs/internals/cache.md). */
enum build_cache_type {
	BUILD_CACHE_REGISTRY, /* ref: a cache artifact in a registry */
	BUILD_CACHE_LOCAL,    /* dir (+ tag, default "latest"): an OCI layout directory */
	BUILD_CACHE_INLINE,   /* from: ref, an image with an inline cache; to: this image */
};

struct build_cache_spec {
	enum build_cache_type type;
	const char *ref;
	const char *dir;
	const char *tag;
};

enum build_event_type {
	BUILD_EVENT_LINT,	    /* report: the Dockerfile checks, before building */
	BUILD_EVENT_PULL,	    /* name, platform: a base image is being pulled */
	BUILD_EVENT_PULLED,	    /* name, transfer: ... and is in the store */
	BUILD_EVENT_BUILT,	    /* image: the image is in the store */
	BUILD_EVENT_CHECK,	    /* report: the doctor's findings, policy applied */
	BUILD_EVENT_CHECK_SKIPPED,  /* error: the doctor could not examine the image */
	BUILD_EVENT_PUSHED,	    /* transfer: a tag was pushed */
	BUILD_EVENT_CACHE_WARNING,  /* name, error: a --cache-from source or entry is not used */
	BUILD_EVENT_CACHE_EXPORTED, /* name, transfer: a --cache-to was written */
};

struct build_event {
	enum build_event_type type;
	const struct finding_report *report;
	const char *name, *platform;
	const struct transfer_result *transfer;
	const struct engine_result *image;
	const struct plate_error *error;
};

typedef int build_event_fn(void *data, const struct build_event *ev, struct plate_error **err);

struct build_options {
	/* The engine's options; build_run() sets store, pull_image and fetch_url in its copy. */
	struct engine_options engine;
	struct store *store;
	const struct registry_options *registry; /* pulls and pushes */
	const struct dockerfile *df;
	const char *source; /* the Dockerfile's bytes, for the checks */
	size_t source_len;
	const char *display_name;  /* the Dockerfile's name in findings */
	const char *host_platform; /* what engine.platform NULL means to the checks and doctor */
	bool sbom;		   /* store the SBOM with the image */
	bool strict;		   /* doctor: every finding fails the build */
	int64_t max_size;	   /* doctor: size budget in bytes, < 0 none */
	bool push;		   /* push every tag (engine.tags) */
	build_event_fn *event;	   /* may be NULL */
	void *event_data;
	const struct build_cache_spec *cache_from; /* read before the build, first hit wins */
	size_t n_cache_from;
	const struct build_cache_spec *cache_to; /* written after the image is stored */
	size_t n_cache_to;
	enum engine_cache_export cache_mode; /* of registry and local --cache-to */
};

enum build_phase {
	BUILD_PHASE_LINT,
	BUILD_PHASE_ENGINE,
	BUILD_PHASE_PUBLISH,
};

enum build_outcome {
	BUILD_OK,
	BUILD_LINT_FAILED,  /* error findings (`# check=error=true`): nothing was built */
	BUILD_CHECK_FAILED, /* the doctor failed the image: stored, not pushed */
};

struct build_result {
	enum build_outcome outcome;
	size_t lint_errors;	    /* BUILD_LINT_FAILED: how many */
	enum build_phase phase;	    /* where a -1 came from */
	struct engine_result image; /* from BUILD_PHASE_PUBLISH on */
	/* engine.cached_only: the pipeline stopped where it needs the user namespace (the
	 * engine's reasons, a pull, a doctor that would read a layer's tree). */
	bool needs_namespace;
};

struct build;

int build_new(const struct build_options *opts, struct build **out, struct plate_error **err);
void build_free(struct build *b);

/* Runs the pipeline once: 0 with *result (whose outcome may still be a failed check), or
 * -1 with *err and result->phase. */
int build_run(struct build *b, struct build_result *result, struct plate_error **err);

/* Async-signal-safe: stops the build as soon as possible. */
void build_cancel(struct build *b);

#endif
