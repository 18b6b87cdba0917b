/*
 * store/store.h — the content store: blobs, image names, extracted layers, build cache.
 *
 * Layout (the root IS an OCI image layout, image-layout.md):
 *   oci-layout, index.json      the layout header and the list of images; an image's names
 *                               are org.opencontainers.image.ref.name annotations holding
 *                               the full normalised reference ("docker.io/library/x:tag"),
 *                               one index entry per name; an entry without a name is an
 *                               untagged image kept until removed
 *   blobs/sha256/<hex>          content-addressed blobs
 *   snapshots/<hex>/fs/         a layer extracted once (hex of its diffID), overlayfs
 *                               whiteouts kept, usable as a lowerdir; info.json beside fs/
 *                               records what the tree held when it was made, fs.index
 *                               lists it for the doctor (check.h, layer_index_build)
 *   cache/<hex>.json            build-cache entries (format owned by the engine); every
 *                               sha256 digest an entry mentions is kept alive by gc
 *   mounts/<hex>/               RUN --mount=type=cache directories (engine-owned, not gc'ed;
 *                               store_cache_mounts_prune() removes them)
 *   tmp/                        every write lands here first (one directory per open
 *                               transaction, flock'ed while alive)
 *   plate.lock                  flock: shared for multi-step reads, exclusive to publish
 *
 * Writes
 *   All changes go through a transaction.  Blobs are streamed into the transaction's
 *   directory, hashed on the way and checked against the digest they claim, and fsynced;
 *   snapshots are extracted there.  Nothing is visible until store_txn_commit(), which
 *   under the exclusive lock checks that every new name's closure (index -> manifests ->
 *   config, layers, snapshots) is complete, links blobs into blobs/ (EEXIST = already
 *   present), renames snapshots into snapshots/, fsyncs the directories, then replaces
 *   index.json whole (temp file, fsync, rename, fsync).  A crash or a failed transaction
 *   leaves at most unreferenced files that gc removes; index.json never names anything
 *   missing.  Concurrent processes are safe; a shared lock must not be held by the same
 *   thread while it commits.
 *
 * Handles and errors
 *   struct store and struct store_txn are opaque.  A transaction is OPEN until committed
 *   or aborted; any I/O error inside it makes it FAILED, after which every call but
 *   store_txn_free() is refused.  Misuse (wrong state) is an "internal error" naming the
 *   function and state.  Errors name the object: "blob 'sha256:…'", "image 'ref'".
 *
 * Ownership
 *   Results are owned by the caller (free with the matching *_free / *_release).
 *   The library never prints; nothing reads the environment or the clock.
 */
#ifndef PLATE_STORE_H
#define PLATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "digest/digest.h"
#include "oci/oci.h"

/* On an index.json entry: the digest of the entry (image) this one refers to, an OCI 1.1
 * referrer such as a build's SBOM.  Such an entry is no image of its own; a commit drops
 * it once no other entry has that digest. */
#define STORE_ANNOTATION_SUBJECT "dev.plate.subject"
/* On an index.json entry: "REPOSITORY@DIGEST", the manifest digest a registry gave for the
 * image when it was pulled (docker's RepoDigests). */
#define STORE_ANNOTATION_REPO_DIGEST "dev.plate.repo-digest"
/* On a referrer entry: the image it names as subject in another form, the one a push
 * sends ("gzip": its uncompressed layers compressed; store_image_compress()). */
#define STORE_ANNOTATION_FORM "dev.plate.form"

struct store;
struct store_txn;
struct layer_limits;
struct store_blob_writer;

enum store_open_flags {
	/* Create the root (0700) and its layout when missing (otherwise it must exist), and
	 * tighten the modes of an older store's root and layout directories to 0700.
	 * Without it the store is opened as found (fsck, to report what is loose). */
	STORE_OPEN_CREATE = 1 << 0,
};

int store_open(const char *root, unsigned flags, struct store **out, struct plate_error **err);
void store_free(struct store *s);
const char *store_root(const struct store *s);
/* Limits on every layer that comes in (load, pull, import, and the archives a build's ADD
 * unpacks); LAYER_DEFAULT_LIMITS unless set.  A refused layer fails its operation with
 * EFBIG and leaves the store unchanged.  The getter's pointer lives as long as s. */
void store_set_layer_limits(struct store *s, const struct layer_limits *limits);
const struct layer_limits *store_layer_limits(const struct store *s);

/* ---- reading ------------------------------------------------------------------------ */

/* The current index.json. */
int store_index_read(struct store *s, struct oci_index *out, struct plate_error **err);

/* A resolved image: the manifest chosen (through an index for the platform when the name
 * points at one), its parsed manifest and config, and every name of the same root. */
struct store_image {
	struct oci_descriptor root; /* the index.json entry (manifest or index) */
	struct oci_descriptor manifest_desc;
	struct oci_manifest manifest;
	struct oci_config config;
	char *config_json; /* raw config blob, NUL-terminated */
	size_t config_len;
	struct oci_strings names; /* normalised references naming root, sorted */
};

/*
 * Finds an image by name: a reference ("busybox", "docker.io/library/busybox:local"),
 * a full digest ("sha256:…") or a unique hex prefix of an image ID (config digest) or of
 * a manifest digest.  platform ("linux/amd64", "linux/arm64/v8") picks the manifest of a
 * multi-platform index; NULL takes the first.  The image's blobs are read and verified.
 */
int store_image_resolve(struct store *s, const char *name, const char *platform,
			struct store_image **out, struct plate_error **err);
/* Calls fn for each index entry naming img as its subject (STORE_ANNOTATION_SUBJECT: an
 * SBOM referrer, the Docker manifest img was stored from), in index order, until fn returns
 * 0 (found) or -1 (with *err).  Returns that, or 1 when every call returned 1. */
typedef int (*store_referrer_fn)(void *data, const struct oci_descriptor *d,
				 struct plate_error **err);
int store_image_referrers(struct store *s, const struct store_image *img, store_referrer_fn fn,
			  void *data, struct plate_error **err);
/* The Docker manifest img was stored from (store_txn_tag_image()), to push unchanged: 0 and
 * *out set, 1 when img has none. */
int store_image_original(struct store *s, const struct store_image *img, struct oci_descriptor *out,
			 struct plate_error **err);
/* Makes the compressed form of the image name (and platform) a push sends, when its
 * manifest (or a manifest of its index) has uncompressed layers and it has none yet: every
 * uncompressed layer compressed with gzip, once per diffID across the store, in one
 * transaction.  Takes the store's locks itself: call it holding none. */
int store_image_compress(struct store *s, const char *name, const char *platform,
			 struct plate_error **err);
/* img's compressed form: 0 and *out set, 1 when it has none (nothing to compress, or
 * store_image_compress() not called). */
int store_image_outgoing(struct store *s, const struct store_image *img, struct oci_descriptor *out,
			 struct plate_error **err);
/* The manifest of the compressed index form that stands at child's place in index root:
 * 0 and *out set (child itself when that platform needed nothing), -1 with *err. */
int store_outgoing_child(struct store *s, const struct oci_descriptor *root,
			 const struct oci_descriptor *form, const struct oci_descriptor *child,
			 struct oci_descriptor *out, struct plate_error **err);
void store_image_free(struct store_image *img);
/* The bytes of img's regular files, layer by layer (a file a later layer replaces counts
 * twice), from the snapshot indexes: docker's SIZE, the image as unpacked. */
int store_image_unpacked_size(struct store *s, const struct store_image *img, uint64_t *bytes,
			      struct plate_error **err);
/* The same for one layer, by diffID. */
int store_layer_unpacked_size(struct store *s, const char *diff_id, uint64_t *bytes,
			      struct plate_error **err);

/* Reads a small blob (at most max bytes) and verifies its digest. */
int store_blob_read(struct store *s, const char *digest, size_t max, char **data, size_t *len,
		    struct plate_error **err);
/* Opens a blob read-only; *size gets its length. */
int store_blob_open(struct store *s, const char *digest, int *fd, int64_t *size,
		    struct plate_error **err);
bool store_blob_exists(struct store *s, const char *digest);
/* Whether the index root lists a manifest the store lacks (a pull of some of its
 * platforms); false for a complete or unreadable index. */
bool store_index_partial(struct store *s, const struct oci_descriptor *root);
/* "ROOT/snapshots/<hex>/fs" for a diffID (malloc'd), whether or not it exists. */
char *store_snapshot_path(const struct store *s, const char *diff_id);
bool store_snapshot_exists(struct store *s, const char *diff_id);
/* "ROOT/snapshots/<hex>/fs.index" (malloc'd): the snapshot's layer_index, written with it. */
#define STORE_SNAPSHOT_INDEX "fs.index"
char *store_snapshot_index_path(const struct store *s, const char *diff_id);

/* Reads cache/<hex of key>.json (key is a sha256 digest); 0 found, 1 absent, -1 error. */
int store_cache_get(struct store *s, const char *key, char **json, size_t *len,
		    struct plate_error **err);

/* Holds a shared lock (gc and commits wait) until store_unlock_shared(). */
int store_lock_shared(struct store *s, struct plate_error **err);
void store_unlock_shared(struct store *s);

/* ---- transactions ------------------------------------------------------------------- */

int store_txn_begin(struct store *s, struct store_txn **out, struct plate_error **err);
/* Aborts an uncommitted transaction: everything it staged is removed. */
void store_txn_free(struct store_txn *t);
/* Starts flushing what was written so far to disk in the background (a syncfs of the
 * store's filesystem), unless a flush is still running: the commit's own syncfs, which
 * durability needs all the same, then finds less to write.  Advisory; never fails. */
void store_txn_writeback(struct store_txn *t);

/* Stages a blob held in memory; digest_out (may be NULL) gets its digest. */
int store_txn_add_blob(struct store_txn *t, const void *data, size_t len,
		       char digest_out[DIGEST_STRING_LEN + 1], struct plate_error **err);

/*
 * Streams a blob in.  expected_digest (or NULL) is what the blob must hash to, and
 * expected_size (or -1) its length: a mismatch fails store_blob_writer_finish().  Bytes
 * go in with store_blob_writer_write(), or straight to store_blob_writer_fd() (then
 * finish re-reads the file to hash it).  The writer belongs to the transaction; free it
 * after finish (freeing an unfinished writer discards it).
 */
int store_txn_blob_writer(struct store_txn *t, const char *expected_digest, int64_t expected_size,
			  struct store_blob_writer **out, struct plate_error **err);
int store_blob_writer_write(struct store_blob_writer *w, const void *data, size_t len,
			    struct plate_error **err);
int store_blob_writer_fd(struct store_blob_writer *w);
/* The caller hashed what it wrote to store_blob_writer_fd() itself (a layer writer hashes
 * its output anyway): finish then takes that digest instead of reading the file again,
 * as long as the file has exactly size bytes. */
void store_blob_writer_hashed(struct store_blob_writer *w, const char *digest, uint64_t size);
int store_blob_writer_finish(struct store_blob_writer *w, char digest_out[DIGEST_STRING_LEN + 1],
			     int64_t *size_out, struct plate_error **err);
void store_blob_writer_free(struct store_blob_writer *w);

/* Whether the transaction has staged this blob, or the store has it. */
bool store_txn_has_blob(struct store_txn *t, const char *digest);
/* Opens a staged or stored blob read-only. */
int store_txn_blob_open(struct store_txn *t, const char *digest, int *fd, int64_t *size,
			struct plate_error **err);

/* Stages the snapshot of a layer (a staged or stored blob) unless the store or the
 * transaction already has it; the layer's digest and its diffID are verified. */
int store_txn_snapshot(struct store_txn *t, const char *layer_digest, const char *diff_id,
		       struct plate_error **err);

/*
 * The same in three steps, so that the long middle one can run on another thread while
 * the transaction serves other calls (the transaction is not thread-safe; a snapshot
 * writer's extraction touches only its own directory inside the transaction's):
 *   store_txn_snapshot_writer() prepares one; *out is NULL (and 0 returned) when the
 *     store or the transaction already has the snapshot of diff_id;
 *   store_snapshot_writer_extract() reads the layer from fd once, front to back (a pipe is
 *     fine), verifying layer_digest and diff_id; it needs no lock on the transaction and
 *     may be called once;
 *   store_snapshot_writer_commit() (after a successful extract) stages the snapshot; when
 *     the transaction got that diffID meanwhile (two layers of one tar), it keeps that one.
 * store_snapshot_writer_free() removes what an uncommitted writer extracted.  Free every
 * writer before the transaction.
 */
struct store_snapshot_writer;
int store_txn_snapshot_writer(struct store_txn *t, const char *layer_digest, const char *diff_id,
			      struct store_snapshot_writer **out, struct plate_error **err);
int store_snapshot_writer_extract(struct store_snapshot_writer *w, int fd,
				  struct plate_error **err);
int store_snapshot_writer_commit(struct store_snapshot_writer *w, struct plate_error **err);
void store_snapshot_writer_free(struct store_snapshot_writer *w);

/* Stages the directory at path (on the store's filesystem: it is moved, not copied) as
 * the snapshot of diff_id, the tree a layer was written from (an overlayfs upper dir keeps
 * its whiteouts).  Modification times are cut to whole seconds and clamped to epoch as the
 * layer writer does, so the snapshot equals what extracting the layer gives; epoch < 0
 * leaves them.  Nothing happens (and path stays) when the snapshot is already there. */
int store_txn_snapshot_adopt(struct store_txn *t, const char *diff_id, const char *path,
			     long long epoch, struct plate_error **err);

/* Keeps a stored blob (or, for a diffID, snapshot) from gc while the transaction lives. */
int store_txn_pin(struct store_txn *t, const char *digest, struct plate_error **err);

/*
 * Name changes, applied at commit in call order to the index.json current then.
 * tag: points name (a normalised reference; NULL adds an untagged entry) at target,
 *      replacing an entry of that name and any untagged entry of the same digest.
 * untag: removes the entry of that name (missing is an error at commit).
 * remove: removes every entry whose digest is target_digest.
 */
int store_txn_tag(struct store_txn *t, const char *name, const struct oci_descriptor *target,
		  struct plate_error **err);
int store_txn_untag(struct store_txn *t, const char *name, struct plate_error **err);
/* store_txn_tag() for a staged or stored image manifest or index.  A Docker schema2
 * manifest is named through its OCI twin (same config and layers, OCI media types: what OCI
 * layout readers require), and kept as it is in an unnamed entry with its own media type
 * and STORE_ANNOTATION_SUBJECT naming the twin, for store_image_original(). */
int store_txn_tag_image(struct store_txn *t, const char *name, const struct oci_descriptor *d,
			struct plate_error **err);
int store_txn_remove(struct store_txn *t, const char *target_digest, struct plate_error **err);
/* Removes the untagged entry of digest, if there is one (its names stay): a manifest
 * built on its own that a multi-platform index now holds. */
int store_txn_drop_unnamed(struct store_txn *t, const char *digest, struct plate_error **err);

/* Stages a build-cache entry under key (a sha256 digest). */
int store_txn_cache_put(struct store_txn *t, const char *key, const char *json, size_t len,
			struct plate_error **err);

int store_txn_commit(struct store_txn *t, struct plate_error **err);

/* ---- for the build engine (build.c) ------------------------------------------------- */

/* Creates the empty directory `name` (unique within the transaction) inside the
 * transaction's directory, on the store's filesystem, and returns its absolute path
 * (malloc'd).  It is removed with the transaction unless adopted as a snapshot. */
int store_txn_scratch_dir(struct store_txn *t, const char *name, char **path,
			  struct plate_error **err);

/* The persistent directory of RUN --mount=type=cache with this id (ROOT/mounts/<sha256 of
 * id>), created when missing; malloc'd absolute path.  Not touched by gc. */
int store_cache_mount_dir(struct store *s, const char *id, char **path, struct plate_error **err);

/* Removes every cache mount directory no build is using (a build holds a flock on each it
 * mounts; busy ones are skipped) and counts them in *removed. */
int store_cache_mounts_prune(struct store *s, uint64_t *removed, struct plate_error **err);

/* ---- maintenance -------------------------------------------------------------------- */

enum store_gc_flags {
	/* Drop every build-cache entry first (otherwise only entries naming missing blobs). */
	STORE_GC_ALL_CACHE = 1 << 0,
};

struct store_gc_result {
	uint64_t blobs;
	uint64_t blob_bytes;
	uint64_t snapshots;
	uint64_t cache_entries;
	uint64_t tmp_entries;
};

/* Removes what no name, build-cache entry or live transaction references. */
int store_gc(struct store *s, unsigned flags, struct store_gc_result *out,
	     struct plate_error **err);

struct store_fsck_result {
	uint64_t blobs;		     /* blobs hashed */
	uint64_t images;	     /* index entries checked */
	uint64_t snapshots;	     /* snapshots checked */
	uint64_t unreferenced;	     /* blobs/snapshots nothing references (not a problem) */
	uint64_t leftovers;	     /* entries of trash/ and dead ones of tmp/ (not a problem) */
	uint64_t partial;	     /* indexes with some platforms absent (not a problem) */
	struct oci_strings problems; /* one line each; empty when the store is sound */
};

/* Verifies that no other user can enter the store (the root and layout directories
 * 0700), every blob's digest, every name's closure (blobs present with the sizes their
 * descriptors state, documents parse, diffIDs match the layer count), and every snapshot,
 * referenced or not (present for each stored image layer, info.json and fs.index
 * consistent with its tree, a referenced one compared with its layer blob). */
int store_fsck(struct store *s, struct store_fsck_result *out, struct plate_error **err);
void store_fsck_result_release(struct store_fsck_result *r);

/* ---- archives ----------------------------------------------------------------------- */

enum store_archive_format {
	STORE_ARCHIVE_OCI,    /* oci-archive: a tar of an OCI layout, names as ref.name */
	STORE_ARCHIVE_DOCKER, /* docker-archive: manifest.json + config + layers (docker load) */
};

struct store_load_result {
	struct oci_strings names;    /* references tagged */
	struct oci_strings untagged; /* manifest digests stored without a name */
};

/*
 * Loads every image of an archive read sequentially from fd: docker-archive or
 * oci-archive, plain or compressed (what layer_reader detects).  Each file is streamed
 * into the transaction with its digest checked (a blob's name in the layout, a config's
 * name in docker-archive, the config's diffIDs for layers), every layer is extracted to a
 * snapshot, and the whole load commits at once or not at all.
 */
int store_load(struct store *s, int fd, struct store_load_result *out, struct plate_error **err);
/* The same from an OCI image layout directory. */
int store_load_layout(struct store *s, const char *dir, struct store_load_result *out,
		      struct plate_error **err);
void store_load_result_release(struct store_load_result *r);

/* Writes the named images (store_image_resolve names) as an archive to fd, uncompressed
 * and deterministic (same images, same bytes). */
int store_save(struct store *s, const char *const *names, size_t n_names, const char *platform,
	       enum store_archive_format format, int fd, struct plate_error **err);

/* ---- import ------------------------------------------------------------------------- */

struct store_import_options {
	const char *name;	    /* normalised reference to tag, or NULL (untagged) */
	const char *const *changes; /* Dockerfile-style: ENV, ENTRYPOINT, CMD, WORKDIR, USER,
				       LABEL, EXPOSE, VOLUME, STOPSIGNAL */
	size_t n_changes;
	long long epoch;	  /* mtimes clamped to it, config created from it */
	const char *os;		  /* "linux" */
	const char *architecture; /* "amd64" */
	const char *variant;	  /* or NULL */
	const char *comment;	  /* history comment, or NULL */
};

/* Applies one --change instruction to a config (pure). */
int store_config_apply_change(struct oci_config *c, const char *change, struct plate_error **err);

/* Makes a one-layer image from a rootfs tar (plain or compressed) read from fd: the tree
 * is rewritten by the deterministic layer writer (gzip), so equal trees give equal
 * digests.  manifest_digest_out may be NULL. */
int store_import(struct store *s, int fd, const struct store_import_options *opts,
		 char manifest_digest_out[DIGEST_STRING_LEN + 1], struct plate_error **err);

#endif
