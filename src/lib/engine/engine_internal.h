/*
 * engine/engine_internal.h — what the engine's files share: the engine and stage state,
 * layers, the build-context selection, overlay views, and the step executors.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "engine/engine_internal.h is internal to the engine module"
#endif
#ifndef PLATE_ENGINE_INTERNAL_H
#define PLATE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/strv.h"
#include "digest/digest.h"
#include "engine/engine.h"
#include "ignore/ignore.h"
#include "oci/oci.h"
#include "plan/plan.h"
#include "sandbox/sandbox.h"
#include "store/store.h"

/* A cache key, an image digest or a diffID: "sha256:<hex>". */
typedef char eng_digest[DIGEST_STRING_LEN + 1];

/* Bytes of RUN output kept for the error message of a failing step. */
#define ENG_OUTPUT_TAIL 4096
/* Lines of that tail shown in the message. */
#define ENG_OUTPUT_TAIL_LINES 12
/* Entries one COPY/ADD may select (files, directories, links). */
#define ENG_MAX_SELECTED 1000000

/* ---- small helpers (util.c) --------------------------------------------------------- */

/* A string map with insertion order kept (the context stat cache). */
struct eng_strmap {
	char **keys;
	void **values;
	size_t n, alloc;
	size_t *slots; /* open addressing: index + 1, 0 = free */
	size_t n_slots;
};

int eng_strmap_put(struct eng_strmap *m, const char *key, void *value, void **old);
void *eng_strmap_get(const struct eng_strmap *m, const char *key);
/* Frees keys; values with free_value (may be NULL). */
void eng_strmap_release(struct eng_strmap *m, void (*free_value)(void *));

/* "1970-01-01T00:00:00Z" for the epoch. */
int eng_time_string(long long epoch, char out[32], struct plate_error **err);
/* Monotonic seconds. */
double eng_now(void);
/* path.Join-like: "/a/b" + "c/../d" → "/a/b/d"; an absolute rel replaces base.  The result
 * is absolute and clean, "/" at least. */
char *eng_path_join(const char *base, const char *rel);
/* Cleans a path lexically to an absolute path, never above "/". */
char *eng_path_clean_abs(const char *path);
/* Sets KEY=VALUE (or a bare KEY) in env, replacing the entry with the same KEY in place. */
int eng_env_set(struct oci_strings *env, const char *kv, struct plate_error **err);
/* Go's %q of a string list: ["a" "b"] (the form BuildKit writes in history). */
char *eng_quote_list(const char *const *v, size_t n);

/* Go's time.ParseDuration for HEALTHCHECK's flags: "30s", "1m30s", "1.5h", "500ms". */
int eng_parse_duration(const char *s, int64_t *ns, struct plate_error **err);

/* Feeds a length-prefixed field into a digest (so "ab"+"c" differs from "a"+"bc"). */
void eng_hash_field(struct digest *d, const char *s);
void eng_hash_bytes(struct digest *d, const void *p, size_t len);
void eng_hash_u64(struct digest *d, uint64_t v);

/* ---- layers ------------------------------------------------------------------------- */

struct eng_layer {
	char *diff_id;
	char *blob;	  /* layer digest, NULL until a blob is written */
	char *media_type; /* of the blob */
	int64_t size;
	char *path;	 /* the snapshot's tree: in the store, or a scratch dir of this build;
			   * NULL for a hit from a shared cache whose files are not here yet */
	unsigned remote; /* 1 + the --cache-from source that holds the blob, 0: local */
	char *cache_key; /* the step whose cache entry records this layer, or NULL */
	char *chain_key; /* that entry's chain key when it has one, or NULL */
};

struct eng_layers {
	struct eng_layer *v;
	size_t n;
};

void eng_layer_release(struct eng_layer *l);
int eng_layers_copy(struct eng_layers *dst, const struct eng_layers *src, struct plate_error **err);
void eng_layers_release(struct eng_layers *ls);
/* Appends a copy. */
int eng_layers_add(struct eng_layers *ls, const struct eng_layer *l, struct plate_error **err);
/* Snapshot paths, top-most first (overlayfs lowerdir order); *paths borrows from ls.  With
 * e, layers from a shared cache are fetched first (eng_layer_fetch). */
int eng_layers_lowers(struct engine *e, struct eng_layers *ls, const char ***paths, size_t *n,
		      struct plate_error **err);

/* ---- engine and stage state ----------------------------------------------------------- */

struct eng_image {
	char *name;
	char *platform;
	struct store_image *img; /* NULL when it could not be had: */
	char *failure;		 /* why, given again to the next caller rather than pulling
				   * again (the planner asks for a base's ONBUILD, then its ENV) */
	int failure_errno;
};

/* A cache entry to write at the end of the build. */
struct eng_cache_put {
	char *key;
	char chain[DIGEST_STRING_LEN + 1]; /* the key later steps continue from, "" = key */
	bool empty;
	struct eng_layer layer; /* when !empty */
	size_t stage;		/* the stage that looked it up, SIZE_MAX: none */
};

struct eng_statrec {
	uint64_t size, ino;
	int64_t mtime_ns;
	char hex[DIGEST_HEX_LEN + 1];
};

struct eng_stage {
	struct engine *engine;
	const struct plan_stage *ps;
	size_t index;
	char *label; /* the stage name, or "stage-N" */
	/* The stage's image so far; final once done. */
	eng_digest key;
	struct eng_layers layers;
	struct oci_config config;
	bool cmd_set;	       /* CMD given in this stage (ENTRYPOINT keeps it) */
	struct strv arg_names; /* ARGs declared in this stage, in order (history of RUN) */
	bool workdir_exists;   /* the config's WorkingDir is known to exist in the rootfs */
	unsigned fs_steps;     /* FROM + filesystem steps, for "n/m" */
	unsigned fs_done;
	bool done;
	bool failed;
	pthread_t thread;
	bool thread_started;
};

struct engine {
	struct engine_options o;
	int cancel_pipe[2];
	volatile sig_atomic_t user_cancelled;
	char escape;		       /* the Dockerfile's escape character */
	pthread_mutex_t progress_lock; /* progress callbacks, one at a time (alone) */
	pthread_mutex_t lock;	       /* everything below, and the transaction */
	pthread_cond_t cond;
	struct store_txn *txn;
	char *scratch;	 /* a scratch dir of the transaction */
	char *empty_dir; /* empty directories (bottom lowerdirs of views) */
	char *empty_dir2;
	char *sandbox_tmp;		  /* the sandbox's tmpdir */
	char *seccomp_cache;		  /* $PLATE_ROOT/seccomp.bpf */
	enum sandbox_isolation isolation; /* options' choice, or what detection found */
	unsigned scratch_seq;
	unsigned next_id;
	int context_fd;
	struct ignore *ignore;
	bool has_ignore; /* .dockerignore has patterns */
	eng_digest statcache_key;
	struct eng_strmap statcache; /* context path -> struct eng_statrec */
	bool statcache_dirty;
	char **pending_dirs; /* scratch trees to publish as snapshots */
	char **pending_ids;
	size_t n_pending;
	struct eng_cache_put *puts;
	size_t n_puts;
	/* Shared caches (cache_share.c): hits of this build (stage set), the entries to
	 * export, the first imported entry whose files could not be had. */
	struct eng_cache_put *hits;
	size_t n_hits;
	struct engine_cache_entry *exports;
	bool *export_remote;
	size_t n_exports;
	pthread_mutex_t fetch_lock; /* one layer fetched at a time */
	bool cache_failed;
	unsigned cache_bad_source;
	eng_digest cache_bad_blob;
	bool needs_namespace; /* options.cached_only, and something needs more (under lock) */
	struct eng_image *images;
	size_t n_images;
	struct plan *plan;
	struct dockerfile **onbuild; /* base images' ONBUILD triggers, borrowed by the plan */
	size_t n_onbuild;
	struct eng_stage *stages;
	size_t n_stages;
	struct plate_error *first_error; /* of a stage thread */
	bool failed;
	bool base_missing; /* planning failed on a base image */
	bool ran_stages;   /* prepared and planned: what the stages did may be committed */
	/* Cache-miss explanations (explain.c): the step inputs of the last build of this
	 * name, read-only, and those of this build (under lock). */
	eng_digest explain_key;
	char *explain_name;
	struct json_t *explain_old;
	struct json_t *explain_new;
	unsigned steps, cached;
};

/* A new scratch directory (absolute path) in the build's transaction. */
int eng_scratch(struct engine *e, const char *what, char **path, struct plate_error **err);
bool eng_cancelled(struct engine *e);
/* Progress, serialised. */
void eng_emit(struct engine *e, const struct engine_event *ev);
unsigned eng_new_id(struct engine *e);
/* Resolves an image of the store (cached per engine). */
int eng_image_get(struct engine *e, const char *name, const char *platform,
		  const struct store_image **out, struct plate_error **err);
/* The layers of a stored image (their snapshots must exist). */
int eng_image_layers(struct engine *e, const struct store_image *img, struct eng_layers *out,
		     struct plate_error **err);

/* ---- the build context (context.c) ---------------------------------------------------- */

struct eng_entry {
	char *rel; /* relative to the match ("" for the match itself) */
	struct stat st;
	char *link;		      /* symlink target */
	char hex[DIGEST_HEX_LEN + 1]; /* content digest of a regular file (context only) */
	size_t hardlink; /* 1 + index of the match's first entry with the same inode, or 0 */
};

struct eng_match {
	char *path;  /* relative to the source root, clean ("" for the root) */
	size_t keep; /* --parents: path + keep is what is kept (after a "/./" pivot) */
	bool is_dir;
	struct eng_entry *entries; /* the match first, then what is under it, parents first */
	size_t n;
};

struct eng_selection {
	struct eng_match *m;
	size_t n;
};

void eng_selection_release(struct eng_selection *s);

/* Copies a selection of the build context (after .dockerignore) into the directory dstfd,
 * as COPY would copy it to "/": what RUN --mount=type=bind of the context shows. */
int eng_context_tree(struct engine *e, struct eng_selection *sel, int dstfd,
		     struct plate_error **err);

struct eng_select_opts {
	const struct ignore *ignore;  /* .dockerignore (context only), may be NULL */
	const struct ignore *exclude; /* --exclude, may be NULL */
	const char *what;	      /* "build context", "stage 'builder'" for messages */
	/* COPY/ADD: a wildcard may match nothing (BuildKit's AllowEmptyWildcard). */
	bool allow_empty;
	/* --parents: --exclude is matched from the root (or the "/./" pivot), the matches
	 * included; otherwise from each match, which is never excluded itself. */
	bool parents;
};

/* Selects what the source patterns name under rootfd (clean relative patterns with
 * Go filepath.Match wildcards per component, as BuildKit resolves them: the part before the
 * first wildcard must exist, then every path under it whose components match, without
 * following symlinks between them).  A pattern that matches nothing is an error naming it,
 * except a wildcard with allow_empty.  Regular files of a match that share an inode are
 * linked to the first of them (eng_entry.hardlink). */
int eng_select(int rootfd, const char *const *patterns, size_t n, const struct eng_select_opts *o,
	       struct eng_selection *out, struct plate_error **err);
/* Fills the content digests of the selection's regular files under rootfd; with e, the
 * root is the build context and digests go through the stat cache. */
int eng_selection_hash(struct engine *e, int rootfd, struct eng_selection *sel,
		       struct plate_error **err);
/* Feeds the selection into a cache key.  Owners only with `owners`: the build context's
 * are the checkout's on this machine (a CI runner's uid), and COPY writes them as 0:0
 * (or --chown, which the key has), so a context key must not depend on them. */
void eng_selection_key(struct digest *d, const struct eng_selection *sel, bool owners);
int eng_statcache_load(struct engine *e, struct plate_error **err);
int eng_statcache_save(struct engine *e, struct plate_error **err);
/* Cleans a source path of COPY/ADD: relative to the source root, "/" stripped; a path
 * climbing out of the root is refused. */
int eng_source_clean(const char *src, const char *what, char **out, struct plate_error **err);

/* ---- overlay views (view.c) ---------------------------------------------------------- */

struct eng_view {
	const char *const *lowers; /* top-most first; may be empty */
	size_t n_lowers;
	const char *upper;	/* NULL: a read-only view */
	const char *work;	/* mounted `volatile`: never reuse it for another mount */
	const char *mountpoint; /* an empty directory */
	bool run;		/* a RUN's root: under chroot isolation, /dev, /proc and /sys
				    * stay out of its diff, as the mounts over them do */
};

/* fds[i] is the root of views[i]. */
typedef int eng_view_fn(void *data, const int *fds, struct plate_error **err);

/* Runs fn in a thread of its own with a private mount namespace in which the views are
 * mounted (a sandbox started by fn sees them too).  The mounts vanish with the thread. */
int eng_view_run(struct engine *e, const struct eng_view *views, size_t n_views, eng_view_fn *fn,
		 void *data, struct plate_error **err);

/* The same under chroot isolation, without a mount (view_copy.c): each view's layers are
 * copied into its mount point, and a writable view's changes are moved into its upper
 * directory as an overlay would leave them.  The mount point is emptied afterwards. */
int eng_copy_view_run(const struct eng_view *views, size_t n_views, eng_view_fn *fn, void *data,
		      struct plate_error **err);

/* openat2(RESOLVE_IN_ROOT) helpers on a view's root. */
int eng_open_in_root(int rootfd, const char *path, int flags, mode_t mode);
/* Creates the directory path (absolute inside the root) and missing parents, owned by
 * uid:gid, mode 0755; *created (may be NULL) tells whether the last one was created. */
int eng_mkdir_p(int rootfd, const char *path, uid_t uid, gid_t gid, bool *created,
		struct plate_error **err);

/* ---- users (users.c) --------------------------------------------------------------------- */

struct eng_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	char *home; /* the passwd entry's home directory, "/" without one */
};

/* An image's /etc/passwd and /etc/group (NULL when missing). */
struct eng_etc {
	char *passwd, *group;
	size_t passwd_len, group_len;
};

/* Reads them through a view's root (symlinks resolved inside it). */
int eng_etc_from_root(int rootfd, struct eng_etc *out, struct plate_error **err);
/* Reads them through a stack of snapshots, as overlayfs would show them, unmounted. */
int eng_etc_from_layers(const struct eng_layers *ls, struct eng_etc *out, struct plate_error **err);
void eng_etc_release(struct eng_etc *etc);

/* Resolves "user[:group]" (names or numbers) as docker does: a name must exist, a number
 * need not; a uid alone takes the passwd entry's group (0 without one); supplementary
 * groups (with `groups`) are those listing the user by name. */
int eng_user_resolve(const struct eng_etc *etc, const char *spec, bool groups, struct eng_user *out,
		     struct plate_error **err);
/* The same with the files read through a view's root. */
int eng_user_resolve_root(int rootfd, const char *spec, bool groups, struct eng_user *out,
			  struct plate_error **err);
void eng_user_release(struct eng_user *u);

/* ---- steps (build_stage.c, copy.c, run.c) ------------------------------------------------------ */

/* The sandbox network of an engine network: DEFAULT is the sandbox's PRIVATE one. */
enum sandbox_network eng_sandbox_network(enum engine_network net);
/* The one error for `--network none` / `RUN --network=none` under chroot isolation. */
#define ENGINE_CHROOT_NETWORK_NONE                                                              \
	"--network none needs a network namespace, which chroot isolation has not (namespaces " \
	"are refused here): build without --network none (RUN then shares this process's "      \
	"network), or run plate where it can make namespaces (root on a host, or rootless)"

struct eng_step_ctx {
	struct engine *e;
	struct eng_stage *st;
	const struct plan_step *step;
	size_t index;		     /* in the stage's steps */
	unsigned id;		     /* progress id, 0 before start */
	char *name;		     /* "[builder 3/6] RUN …" */
	struct dockerfile_vars vars; /* ARG + ENV in effect (plan_step_env) */
	double t0;
	double process_seconds;	  /* RUN: the command's own wall time (sandbox_result) */
	bool cached;		  /* set by eng_stage_apply() */
	const char *history;	  /* created_by for the history, NULL: the step's text */
	const char *cache_source; /* a hit from a shared cache: its label ("registry") */
	struct json_t *inputs; /* what the key covers, for explanations (explain.c); may be NULL */
};

/* Looks a step's key up in the build cache: on a hit, *empty or *layer is its result.
 * chain (may be NULL) receives the key the stage continues from: the entry's chain key
 * when it has one (COPY --from, whose entry under the cheap key points to the content
 * key), else key itself. */
int eng_cache_lookup(struct eng_step_ctx *c, const char *key, bool *hit, bool *empty,
		     struct eng_layer *layer, char *chain, struct plate_error **err);
/* Records a step's result (layer NULL: no change) to be written to the build cache;
 * chain as above, NULL when it is the key. */
int eng_cache_record(struct eng_step_ctx *c, const char *key, const struct eng_layer *layer,
		     const char *chain, struct plate_error **err);

/* Shared caches (cache_share.c).  lookup: the --cache-from entry of key, as a hit (the
 * layer's files fetched later), noted for the export.  note: a hit of the store's own
 * cache, noted for the export.  fetch: a layer's files and blob into the store (nothing
 * when it has a path); a failure marks the build cache_failed.  export: the entries to
 * share (after the image's blobs were written; writes the missing blobs under MAX). */
int eng_shared_lookup(struct eng_step_ctx *c, const char *key, bool *hit, bool *empty,
		      struct eng_layer *layer, char *chain, struct plate_error **err);
int eng_shared_note(struct eng_step_ctx *c, const char *key, bool empty,
		    const struct eng_layer *layer, const char *chain, struct plate_error **err);
/* options.cached_only: marks the build as needing the user namespace for `what` and
 * fails (EAGAIN). */
int eng_needs_namespace(struct engine *e, const char *what, struct plate_error **err);

int eng_layer_fetch(struct engine *e, struct eng_layer *l, struct plate_error **err);
int eng_shared_export(struct engine *e, struct eng_stage *target, struct plate_error **err);
void eng_shared_release(struct engine *e);
/* Records key's entry (layer NULL: no change) unless this build recorded one already. */
int eng_cache_adopt(struct engine *e, const char *key, const struct eng_layer *layer,
		    const char *chain, struct plate_error **err);
/* Stages every recorded entry in the build's transaction (once, at the end). */
int eng_cache_flush(struct engine *e, struct plate_error **err);

/* Turns an upper directory of a step of st into the step's layer: hashes it as a tar
 * (diffID), publishes it later as a snapshot, and stages its blob now when the image
 * takes it as it is.  *empty when the directory holds no change. */
int eng_harvest(struct engine *e, const struct eng_stage *st, const char *upper,
		struct eng_layer *out, bool *empty, struct plate_error **err);
/* Writes the blob of a layer (gzip) when it has none, into the build's transaction. */
int eng_layer_blob(struct engine *e, struct eng_layer *l, struct plate_error **err);

int eng_step_copy(struct eng_step_ctx *c, struct plate_error **err);
/* ADD <url> downloads larger than this are refused. */
#define ENG_ADD_URL_MAX ((uint64_t)8 << 30)
int eng_step_run(struct eng_step_ctx *c, struct plate_error **err);
int eng_step_workdir(struct eng_step_ctx *c, struct plate_error **err);
/* Config-only instructions: ENV LABEL EXPOSE VOLUME USER STOPSIGNAL SHELL HEALTHCHECK
 * ONBUILD MAINTAINER ARG CMD ENTRYPOINT (and WORKDIR's config part). */
int eng_step_config(struct eng_step_ctx *c, struct plate_error **err);
/* Appends a history entry to the stage's config. */
int eng_history_add(struct eng_stage *st, long long epoch, const char *created_by, bool empty_layer,
		    struct plate_error **err);
/* The step's instruction for messages: "COPY go.mod go.sum ./". */
char *eng_step_text(const struct plan_step *step);
/* Applies a layer-producing step result: a layer (or none) and the new key. */
int eng_stage_apply(struct eng_step_ctx *c, const char *key, const struct eng_layer *layer,
		    bool empty, bool cached, struct plate_error **err);
/* Runs every step of a stage. */
int eng_stage_build(struct engine *e, struct eng_stage *st, struct plate_error **err);

/* ---- cache-miss explanations (explain.c) ------------------------------------------------ */

/* Reads the step inputs of the last build of this name (the first tag, or the context and
 * Dockerfile) from the build cache. */
int eng_explain_load(struct engine *e, struct plate_error **err);
/* Stages this build's step inputs (those of steps that did not run are kept). */
int eng_explain_save(struct engine *e, struct plate_error **err);
void eng_explain_release(struct engine *e);
/* A step's inputs, recorded while its key is computed; best effort (no errors: a failure
 * drops the record).  begin records the parent key, instruction, USER and WORKDIR. */
void eng_inputs_begin(struct eng_step_ctx *c);
void eng_inputs_set(struct eng_step_ctx *c, const char *field, const char *value);
void eng_inputs_vars(struct eng_step_ctx *c);
void eng_inputs_selection(struct eng_step_ctx *c, const struct eng_selection *sel);
/* Keeps the record for the next build (the step succeeded). */
void eng_inputs_commit(struct eng_step_ctx *c);
void eng_inputs_release(struct eng_step_ctx *c);
/* Emits ENGINE_EVENT_STEP_MISS saying why the step (key: its cache key) was not cached. */
void eng_explain_miss(struct eng_step_ctx *c, const char *key);

/* ---- engines building together (group.c, engine.h "engines building together") --------- */

/* After a step's key missed the caches: *hit with the result another engine of the group
 * built, waited for (*empty, *layer, chain as eng_cache_lookup gives them), else this engine
 * builds it and exactly one of eng_group_done / eng_group_fail follows.  Alone: no hit. */
int eng_group_claim(struct eng_step_ctx *c, const char *key, bool *hit, bool *empty,
		    struct eng_layer *layer, char *chain, struct plate_error **err);
/* The claimed step's result (layer NULL: no change; chain NULL: the key): its upper
 * directory leaves this build's pending snapshots for the group's. */
int eng_group_done(struct eng_step_ctx *c, const char *key, const struct eng_layer *layer,
		   const char *chain, struct plate_error **err);
void eng_group_fail(struct eng_step_ctx *c, const char *key);
/* Waits until every engine of the group got here with its `ok`: true when all were ok.
 * Called twice per build (stages done; image staged), on every path. */
bool eng_group_barrier(struct engine *e, bool ok);
/* Around finish() and the commit: one engine at a time; adopt stages the group's layers no
 * engine published yet (with their cache entries) in this build's transaction. */
void eng_group_commit_begin(struct engine *e);
int eng_group_adopt(struct engine *e, struct plate_error **err);
void eng_group_commit_end(struct engine *e);
unsigned eng_group_new_id(struct engine *e);
/* The lock that serialises progress callbacks across the group's engines. */
pthread_mutex_t *eng_group_progress_lock(struct engine *e);
/* The lock around a layer fetched from a shared cache: the group's, so that a blob two
 * platforms need is downloaded once (the second finds it in the store); alone, e's own. */
pthread_mutex_t *eng_fetch_lock(struct engine *e);

/* ---- the image (image.c) ------------------------------------------------------------------- */

int eng_image_commit(struct engine *e, struct eng_stage *st, struct engine_result *res,
		     struct plate_error **err);
int eng_output(struct engine *e, struct engine_result *res, struct plate_error **err);

#endif
