/*
 * store/store_internal.h — what the store's files share: the handle, file helpers, the
 * lock, index.json, and the walk over an image's closure.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "store/store_internal.h is internal to the store module"
#endif
#ifndef PLATE_STORE_INTERNAL_H
#define PLATE_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "layer/layer.h"
#include "store/store.h"

#define STORE_LOCK_FILE "plate.lock"
#define STORE_INDEX_MAX ((size_t)64 << 20)
#define STORE_CACHE_ENTRY_MAX ((size_t)1 << 20)
/* Where removed snapshots go before they are deleted (trash.c). */
#define STORE_TRASH_DIR "trash"

struct store {
	char *root;
	int rootfd;
	int shared_lock_fd;	    /* store_lock_shared(), or -1 */
	struct layer_limits limits; /* on layers coming in (store_set_layer_limits) */
};

/* ---- files (fs.c) --------------------------------------------------------------------- */

/* Removes path (relative to dirfd) and everything below it; a missing path is fine. */
int store_fs_rm_rf(int dirfd, const char *path, struct plate_error **err);
int store_fs_fsync_dir(int dirfd, const char *path, struct plate_error **err);
/* Best effort: asks the filesystem to place new subdirectories of fd away from it (see
 * fs.c).  No error: a filesystem without the hint works as before. */
void store_fs_spread_subdirs(int fd);
int store_fs_read_file(int dirfd, const char *path, size_t max, char **data, size_t *len,
		       struct plate_error **err);
/* Writes data to path through a temp file in tmpdirfd (same filesystem), fsyncs it,
 * renames it over path and fsyncs dirfd. */
int store_fs_replace_file(int dirfd, const char *path, int tmpdirfd, const void *data, size_t len,
			  struct plate_error **err);
/* Hashes fd from offset 0 to its end. */
int store_fs_hash_fd(int fd, char digest[DIGEST_STRING_LEN + 1], int64_t *size,
		     struct plate_error **err);
/* Copies src (from its current offset, to its end) to dst. */
int store_fs_copy(int src, int dst, struct plate_error **err);
/* "sha256:<hex>" -> "<hex>", or NULL (with *err) when the digest is not a sha256 digest
 * the store can hold. */
const char *store_digest_hex(const char *digest, struct plate_error **err);

/* Calls visit for every entry below fd (owned: closed at the end) without following links,
 * the entries of a directory before the directory itself; stops at the first -1. */
typedef int (*store_fs_visit_fn)(int dirfd, const char *name, const struct stat *st, void *data,
				 struct plate_error **err);
int store_fs_walk(int fd, store_fs_visit_fn visit, void *data, struct plate_error **err);
/* Counts a snapshot tree (entries, regular-file bytes) without following links. */
int store_fs_tree_stats(int dirfd, uint64_t *entries, uint64_t *bytes, struct plate_error **err);

/* ---- lock and index (store.c) ----------------------------------------------------------- */

/* Appends one line to out for each of the root and the layout directories that other users
 * can enter (any group or other bit): fsck's view of store_open()'s tightening. */
int store_mode_problems(struct store *s, struct oci_strings *out, struct plate_error **err);

/* Opens the lock file and takes an flock (LOCK_SH or LOCK_EX); returns the fd to close. */
int store_lock_take(struct store *s, int op, struct plate_error **err);
void store_lock_drop(int fd);
int store_index_load(struct store *s, struct oci_index *out, struct plate_error **err);
int store_index_replace(struct store *s, const struct oci_index *idx, struct plate_error **err);

/* ---- the closure of an image (walk.c) ----------------------------------------------------- */

/* Where the walk reads blobs from: the store, and a transaction's staging first. */
struct store_blob_source {
	struct store *store;
	struct store_txn *txn; /* or NULL */
};

struct store_walk_ops {
	/* Every blob reachable from the root, the root included; size as the descriptor says.
	 * Returns -1 to end the walk, 1 to not look inside this blob, 0 to go on. */
	int (*blob)(void *data, const struct oci_descriptor *d, struct plate_error **err);
	/* Every image manifest reached, with its config (NULL when the config is not an image
	 * config, as for artifacts). */
	int (*image)(void *data, const struct oci_descriptor *desc, const struct oci_manifest *m,
		     const struct oci_config *c, struct plate_error **err);
	/* When set, unreadable or invalid documents are reported here and the walk goes on
	 * with what it can; when NULL they end the walk with the error. */
	void (*problem)(void *data, const char *message);
	/* An index some of whose manifests are absent (a pull of some of its platforms). */
	void (*partial)(void *data, const struct oci_descriptor *index, size_t absent);
};

int store_walk(const struct store_blob_source *src, const struct oci_descriptor *root,
	       const struct store_walk_ops *ops, void *data, struct plate_error **err);
/* Reads a document blob through src, checking digest and the descriptor's size. */
int store_source_read(const struct store_blob_source *src, const struct oci_descriptor *d,
		      size_t max, char **data, size_t *len, struct plate_error **err);
/* True when the blob is in src and has size bytes (size < 0: any size). */
bool store_source_has(const struct store_blob_source *src, const char *digest, int64_t size);

/* ---- transactions (txn.c) ------------------------------------------------------------------ */

/* Removes what crashed processes left in tmp/: a txn.* directory nobody holds a lock on,
 * and any other file (those only exist while the exclusive lock is held).  Called with
 * the exclusive store lock held; *removed (may be NULL) counts what went. */
int store_tmp_clean(struct store *s, uint64_t *removed, struct plate_error **err);
/* Every sha256 digest a cache entry mentions, anywhere in its JSON. */
int store_cache_digests(const char *json, size_t len, struct oci_strings *out,
			struct plate_error **err);
/* Opens a staged blob (not one of the store); -1 with ENOENT when not staged. */
int store_txn_staged_open(struct store_txn *t, const char *digest, int *fd, int64_t *size);
bool store_txn_has_snapshot(struct store_txn *t, const char *diff_id);
struct store *store_txn_store(struct store_txn *t);
/* Creates an empty scratch directory inside the transaction's directory (removed with it),
 * opens it and gives its path. */
int store_txn_workdir(struct store_txn *t, const char *name, int *fd, char **out_path,
		      struct plate_error **err);

/* ---- removal (trash.c) ---------------------------------------------------------------------- */

/* Moves dirfd/name into trash/ with one rename (same filesystem); a missing name is fine.
 * Called with the exclusive store lock held, after store_trash_clean(). */
int store_trash_move(struct store *s, int dirfd, const char *name, struct plate_error **err);
/* Deletes what trash/ holds (what a killed gc left, or what store_trash_move() just put
 * there); in a store made before trash/, first removes every snapshot that no longer
 * matches its info.json, then makes trash/.  Exclusive lock held; *removed (may be NULL)
 * counts what went. */
int store_trash_clean(struct store *s, uint64_t *removed, struct plate_error **err);

/* ---- snapshots (snapshot.c) ------------------------------------------------------------------ */

/* Extracts the layer read from fd into dirfd/name/fs and writes dirfd/name/info.json. */
int store_snapshot_make(int dirfd, const char *name, int layer_fd, const char *layer_digest,
			const char *diff_id, const struct layer_limits *limits,
			struct plate_error **err);
/* Moves the directory at path to dirfd/name/fs (same filesystem), clamps its mtimes to
 * epoch (when >= 0) and writes dirfd/name/info.json. */
int store_snapshot_adopt(int dirfd, const char *name, const char *src, const char *diff_id,
			 long long epoch, struct plate_error **err);
/* Checks ROOT/snapshots/<hex>/fs.index: present, sound, naming diff_id, and what
 * layer_index_build() makes of the tree today. */
int store_snapshot_index_check(struct store *s, const char *diff_id, struct plate_error **err);
/* Checks ROOT/snapshots/<hex>: info.json names diff_id and matches the tree. */
int store_snapshot_check(struct store *s, const char *diff_id, struct plate_error **err);
/* Compares ROOT/snapshots/<hex>/fs with the layer blob layer_digest it was made from
 * (verify.c): fails naming the first entry that differs. */
int store_snapshot_verify(struct store *s, const char *diff_id, const char *layer_digest,
			  struct plate_error **err);

#endif
