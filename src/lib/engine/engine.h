/*
 * engine/engine.h — the build engine: executes a planned Dockerfile against the store.
 *
 * Purpose
 *   engine_build() plans a parsed Dockerfile (plan/plan.h), then runs the stages the target
 *   needs, independent stages in parallel threads:
 *     FROM     an image of the store, `scratch`, or an earlier stage
 *     COPY/ADD files of the build context (after .dockerignore), of a stage or of an image,
 *              written through a private overlay of the stage's layers
 *     RUN      the command in the sandbox over an overlay of the stage's layers
 *     WORKDIR  the directory, created when missing
 *     others   changes to the image config
 *   Each filesystem step's diff (the overlay upper directory) becomes a snapshot keyed by
 *   its diffID; a layer blob is only written when an image that contains the layer is
 *   stored.  Every step has a cache key (docs/internals/engine.md, "Cache keys"); a key
 *   found in the store's build cache reuses the snapshot without running the step.  The
 *   target stage becomes an OCI image (config + manifest, BuildKit-style history) in the
 *   store, tagged with the requested names, and optionally written to an archive or a
 *   directory.
 *
 * Determinism
 *   Nothing here reads the environment or the current directory: the caller passes the
 *   epoch (SOURCE_DATE_EPOCH or 0), paths and contents.  Layer mtimes are clamped to the
 *   epoch and config and history dates are the epoch, so equal inputs give equal image
 *   digests.  The epoch is part of every cache key (a layer's diffID depends on it).  The
 *   clock is read for progress durations only.
 *
 * Cache misses
 *   Each build keeps the inputs of its steps per tag in the build cache; a step that is
 *   not cached gets an ENGINE_EVENT_STEP_MISS event saying what changed since the last
 *   build of that tag (docs/internals/engine.md, "Cache-miss explanations").
 *
 * Progress
 *   The progress callback receives events from any build thread, one at a time (the engine
 *   serialises the calls); the pointers in an event are valid during the call only.
 *
 * Errors
 *   Problems in the Dockerfile that planning finds are located errors (line and column).
 *   Failures while building are not located: their frames name the step as
 *   "[stage n/m] INSTRUCTION (Dockerfile:LINE)".  A failing RUN is an error whose message
 *   gives the command, its exit status and the last lines of its output.  After a failure
 *   the cache entries of the steps that completed are kept; after cancellation nothing is.
 *
 * Cancellation
 *   engine_cancel() may be called from a signal handler: it makes running sandboxes stop
 *   and engine_build() return ECANCELED.  A transaction that is not committed leaves
 *   nothing behind in the store.
 *
 * Ownership
 *   Options are borrowed for the life of the engine.  Results are plain data.
 *
 * Thread safety
 *   One engine_build() at a time per engine; distinct engines are independent.
 */
#ifndef PLATE_ENGINE_H
#define PLATE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "digest/digest.h"
#include "dockerfile/dockerfile.h"
#include "oci/oci.h"
#include "store/store.h"

enum engine_event_type {
	ENGINE_EVENT_STEP_START,  /* a step begins: id, name */
	ENGINE_EVENT_STEP_CACHED, /* the step's result came from the build cache; message: the
				   * --cache-from source's type ("registry"), NULL: the store */
	ENGINE_EVENT_STEP_OUTPUT, /* output of a RUN: data, len, fd (1 or 2) */
	ENGINE_EVENT_STEP_DONE,	  /* the step finished: seconds */
	ENGINE_EVENT_STEP_ERROR,  /* the step failed: message, seconds */
	ENGINE_EVENT_WARNING,	  /* message (not tied to a step when id is 0) */
	ENGINE_EVENT_STEP_MISS,	  /* the step was not cached: message says why (--no-cache,
				   * what changed since the last build of the tag) */
	ENGINE_EVENT_ISOLATION,	  /* once, before the first step: name is the isolation RUN
				   * uses ("namespaces", "rootless", "chroot"), message why */
	ENGINE_EVENT_STEP_SHARED, /* (a group's engine) another engine of the group builds or
				   * built the step's key: this step takes its result, after
				   * waiting for it; message: that engine's platform */
};

struct engine_event {
	enum engine_event_type type;
	unsigned id;	  /* step number in start order, from 1; 0 when none */
	const char *name; /* "[builder 3/6] RUN go mod download" */
	const char *data; /* OUTPUT */
	size_t len;
	int fd;
	double seconds;		/* DONE, ERROR */
	double process_seconds; /* DONE, ERROR of a RUN that ran: time inside its process (the
				 * rest of `seconds` is the engine's and the sandbox's own) */
	const char *message;	/* ERROR, WARNING, MISS, SHARED */
	const char *platform;	/* the engine's platform when it is in a group, else NULL */
};

typedef void engine_progress_fn(void *data, const struct engine_event *ev);

enum engine_network {
	ENGINE_NET_DEFAULT, /* a private network namespace with outbound connections through a
			     * user-mode NAT (slirp4netns); the host's loopback is out of reach */
	ENGINE_NET_NONE,    /* a private network namespace with only loopback */
	ENGINE_NET_HOST,    /* the host's network namespace, only when asked for */
};

/* How RUN and the engine's own file steps are isolated (docs/internals/sandbox.md
 * "Isolation modes"). */
enum engine_isolation {
	ENGINE_ISOLATION_AUTO,	     /* namespaces when this process can make them, else chroot */
	ENGINE_ISOLATION_NAMESPACES, /* overlay views, the namespaced sandbox (rootless too) */
	ENGINE_ISOLATION_CHROOT,     /* copies of the layers, chroot: no namespace, no mount */
};

enum engine_output_type {
	ENGINE_OUTPUT_STORE,  /* only the store (tags, or an untagged image) */
	ENGINE_OUTPUT_OCI,    /* also an oci-archive at output_dest */
	ENGINE_OUTPUT_DOCKER, /* also a docker-archive at output_dest */
	ENGINE_OUTPUT_LOCAL,  /* also the image's files in the directory output_dest */
};

/* When FROM (and COPY --from / RUN --mount from= an image) fetches the image from a
 * registry through options.pull_image: only when the store lacks it (docker's default),
 * before every build, or never (a missing image is an error). */
enum engine_pull_policy {
	ENGINE_PULL_MISSING = 0,
	ENGINE_PULL_ALWAYS,
	ENGINE_PULL_NEVER,
};

/* ---- engines building together (a multi-platform build) ---------------------------------
 *
 * The engines of a group (one per platform, each in a thread of its own) build at the same
 * time and each step key once: a step whose key another engine of the group is building
 * waits for it and takes its result (ENGINE_EVENT_STEP_SHARED), as a cache hit; its failure
 * fails the waiting step (ECANCELED).  Step ids are numbered across the group and step names
 * carry the platform ("[linux/arm64 builder 3/6]").  The engines commit one after the other
 * once every one of them is done: the first to commit publishes the shared steps' layers;
 * when one of them failed the others commit their cache entries only, not their images; after
 * engine_cancel() of every engine none commits anything.  Every engine of the group must call
 * engine_build() exactly once (a group of n waits for n). */
struct engine_group;

int engine_group_new(size_t n_engines, struct engine_group **out, struct plate_error **err);
/* A member that will not build after all (its thread did not start): the group fails and
 * waits for one fewer. */
void engine_group_leave(struct engine_group *g);
/* After every engine of the group was freed. */
void engine_group_free(struct engine_group *g);

/* Puts image `name` (as the Dockerfile writes it) for platform into the store: 0 or -1. */
typedef int engine_pull_fn(void *data, const char *name, const char *platform,
			   struct plate_error **err);

/* Downloads url (ADD <url>) into fd at its offset, hashing the bytes into digest (at most max
 * bytes, else EFBIG); *mtime gets the Last-Modified time, or -1.  0 or -1. */
typedef int engine_fetch_fn(void *data, const char *url, int fd, uint64_t max,
			    char digest[DIGEST_STRING_LEN + 1], long long *mtime,
			    struct plate_error **err);

/* ---- sharing the build cache (docs/internals/cache.md) ----------------------------------
 *
 * A step result as a shared cache knows it: the step key, the key later steps continue from
 * (COPY --from's chain), and either "no change" or a layer by diffID, with the blob holding
 * its files when the cache has them (blob "": the result is known, its files are not in
 * that cache: a hit as long as nothing needs the files).  Imported entries are hits that
 * download nothing until a RUN, a COPY or the image needs the layer's files
 * (options.fetch_blob); a blob that cannot be had, or that is not what its descriptor and
 * diffID say, fails the build with engine_result.cache_failed set, so that the caller can
 * warn and build again without that entry. */
struct engine_cache_entry {
	char key[DIGEST_STRING_LEN + 1];
	char chain[DIGEST_STRING_LEN + 1]; /* "": the key itself */
	bool empty;
	char diff_id[DIGEST_STRING_LEN + 1]; /* "" when empty */
	char blob[DIGEST_STRING_LEN + 1];    /* "": files not in the cache */
	char media_type[128];
	int64_t size;
	unsigned source; /* import: which --cache-from it came from */
};

/* Puts blob `digest` (size bytes) of cache source `source` into fd (a fresh file of the
 * store's); the caller verifies the digest.  0 or -1. */
typedef int engine_blob_fn(void *data, unsigned source, const char *digest, int64_t size, int fd,
			   struct plate_error **err);

enum engine_cache_export {
	ENGINE_CACHE_EXPORT_NONE,
	ENGINE_CACHE_EXPORT_MIN, /* blobs of the final image's layers; other steps key-only */
	ENGINE_CACHE_EXPORT_MAX, /* blobs of every layer of every stage that ran */
};

/* The cache format (version ENGINE_CACHE_VERSION): entries as JSON, their blobs named by
 * their index among the layers of the manifest that carries them.  encode: a blob that
 * is not among `layers` is written key-only.  decode: pure over (data, len); every digest
 * and index is checked, an unknown version refused; entries get `source`. */
#define ENGINE_CACHE_VERSION 1
#define ENGINE_CACHE_MAX_ENTRIES 100000
int engine_cache_encode(const struct engine_cache_entry *v, size_t n,
			const struct oci_descriptor *layers, size_t n_layers, char **json,
			size_t *len, struct plate_error **err);
int engine_cache_decode(const char *data, size_t len, const struct oci_descriptor *layers,
			size_t n_layers, unsigned source, struct engine_cache_entry **out,
			size_t *n, struct plate_error **err);

/* A build secret (--secret id=ID,src=PATH or env=VAR): its contents are read from path,
 * or taken from value when path is NULL. */
struct engine_secret {
	const char *id;
	const char *path;
	const char *value;
};

struct engine_options {
	struct store *store;
	long long epoch;	       /* >= 0: mtimes clamped to it, config dates */
	const char *context_dir;       /* the build context directory */
	const char *dockerfile_path;   /* for "<Dockerfile>.dockerignore"; NULL: none */
	const char *dockerfile_name;   /* shown in messages ("Dockerfile") */
	const char *target;	       /* stage name, NULL: the last stage */
	const char *const *build_args; /* "NAME=value" */
	size_t n_build_args;
	const char *platform;	 /* "os/arch[/variant]", NULL: the native platform */
	const char *const *tags; /* normalised references to tag the image with */
	size_t n_tags;
	const char *const *labels; /* "key=value", added to the image's labels */
	size_t n_labels;
	bool no_cache;
	enum engine_network network; /* for RUN without --network or with --network=default;
				      * under chroot isolation `default` is the caller's network
				      * and `none` an error */
	enum engine_isolation isolation;
	bool allow_host_network; /* RUN --network=host is allowed (BuildKit's network.host
				      * entitlement): the Dockerfile alone cannot ask for it */
	bool allow_insecure;	 /* `--allow security.insecure`: RUN --security=insecure */
	const struct engine_secret *secrets;
	size_t n_secrets;
	const char *resolv_conf; /* contents of /etc/resolv.conf in RUN; NULL: empty */
	enum engine_output_type output;
	const char *output_dest;
	/* The blobs of the layers a build writes: "none" (NULL) keeps them uncompressed, as a
	 * local image store does, and a push compresses them (store_image_outgoing); "gzip" or
	 * "zstd" compress now.  A layer that already has a blob keeps it as it is. */
	const char *layer_compression;
	engine_progress_fn *progress;
	void *progress_data;
	enum engine_pull_policy pull;
	engine_pull_fn *pull_image; /* NULL: images only come from the store */
	void *pull_data;
	engine_fetch_fn *fetch_url; /* NULL: ADD <url> fails */
	void *fetch_data;
	/* --cache-from: entries looked up after the store's own cache misses (the first entry
	 * of a key wins); labels[source] names where they came from in CACHED events
	 * ("registry", "local", "inline"). */
	const struct engine_cache_entry *cache_from;
	size_t n_cache_from;
	const char *const *cache_from_labels;
	engine_blob_fn *fetch_blob;
	void *fetch_blob_data;
	/* --cache-to: what engine_cache_entries() lists after the build; inline also writes
	 * the entries into the image manifest (annotation ENGINE_CACHE_ANNOTATION). */
	enum engine_cache_export cache_export;
	bool cache_inline;
	/* Rootless, before entering the user namespace (docs/internals/rootless.md, "Entering
	 * late"): the build may only take what the store already holds.  The first step that
	 * misses the cache, or a layer whose blob would have to be written from its snapshot,
	 * stops it with result.needs_namespace set and nothing committed, before any view,
	 * mount or snapshot; the caller enters the namespace and builds again. */
	bool cached_only;
	struct engine_group *group; /* NULL: building alone */
};

#define ENGINE_CACHE_ANNOTATION "dev.plate.cache.v1"

struct engine_result {
	char image_id[DIGEST_STRING_LEN + 1]; /* the config digest */
	char manifest_digest[DIGEST_STRING_LEN + 1];
	size_t manifest_size;
	unsigned steps;	 /* filesystem steps of the needed stages (FROM included) */
	unsigned cached; /* of those, taken from the cache */
	/* A failure came from an imported cache entry whose files could not be had: its
	 * source, and its blob ("" for a key-only entry).  Building again without it is the
	 * remedy. */
	bool cache_failed;
	unsigned cache_bad_source;
	char cache_bad_blob[DIGEST_STRING_LEN + 1];
	/* options.cached_only: the build stopped where it needs the user namespace. */
	bool needs_namespace;
};

struct engine;

int engine_new(const struct engine_options *opts, struct engine **out, struct plate_error **err);
void engine_free(struct engine *e);

/* Builds df (borrowed) and fills *result. */
int engine_build(struct engine *e, const struct dockerfile *df, struct engine_result *result,
		 struct plate_error **err);

/* Writes the stored image `name` (an image index too: every platform) as an oci-archive
 * or, for ENGINE_OUTPUT_DOCKER, a docker-archive to dest ("-": standard output), replaced
 * whole: the output engine_build() writes, and a multi-platform build's over its index. */
int engine_output_archive(struct store *s, const char *name, enum engine_output_type type,
			  const char *dest, struct plate_error **err);

/* After a successful engine_build() with options.cache_export: the step results to share
 * (valid until engine_free()).  A blob is in the store, or, for a hit on an imported entry
 * whose files this build never needed, only in the source it came from (remote[i] set,
 * entry.source names the source). */
int engine_cache_entries(struct engine *e, const struct engine_cache_entry **v, const bool **remote,
			 size_t *n);

/* Async-signal-safe: stops the build as soon as possible. */
void engine_cancel(struct engine *e);

/* ---- running an image (`plate run`) ------------------------------------------------- */

struct engine_run_options {
	struct store *store;
	const char *image;	 /* a name store_image_resolve() accepts */
	const char *platform;	 /* NULL: the first manifest */
	const char *const *argv; /* replaces the image's CMD when n_argv > 0 */
	size_t n_argv;
	const char *entrypoint; /* replaces the image's ENTRYPOINT when not NULL ("" clears) */
	const char *const *env; /* "KEY=VALUE", over the image's Env */
	size_t n_env;
	const char *user;     /* NULL: the image's User */
	const char *workdir;  /* NULL: the image's WorkingDir */
	const char *hostname; /* NULL: the sandbox default */
	enum engine_network network;
	const char *resolv_conf;
	int stdin_fd, stdout_fd, stderr_fd;
	int cancel_fd; /* -1 or readable to stop the command */
};

/* Runs the image's command in the sandbox over its layers with a throw-away upper
 * directory.  *status is the command's status (128 + signal when killed). */
int engine_run(const struct engine_run_options *opts, int *status, struct plate_error **err);

#endif
