/*
 * layer/layer.h — OCI layer tarballs: deterministic writing, streaming reading and safe
 * extraction.
 *
 * Purpose
 *   A layer is a tar stream, optionally compressed (gzip or zstd).  Its diffID is the
 *   SHA-256 of the uncompressed tar, its digest the SHA-256 of the bytes as stored.  This
 *   module is the only one that touches libarchive, libdeflate, ISA-L and libzstd.
 *
 *   Writing is one pass through a chain of stages (layer_internal.h):
 *     tar (libarchive) -> sha256 (diffID) -> compressor -> sha256 (digest) -> output fd
 *   Output is deterministic: the same entries give the same bytes on any machine.
 *     - entries must be added in layer order (layer_path_compare() ascending, each path
 *       at most once); layer_writer_add_tree() walks directories in that order itself;
 *     - uname/gname are always empty, numeric uid/gid are kept as given;
 *     - mtimes are clamped to the epoch given in the options (never read from the clock),
 *       sub-second parts, atime and ctime are dropped;
 *     - pax extended headers carry long names, long link targets, large ids/sizes and
 *       xattrs (SCHILY.xattr.*, sorted by name);
 *     - gzip output is a multi-member stream (RFC 1952 2.2) of independently compressed
 *       chunks, each with MTIME 0 and no file name, compressed by worker threads and
 *       written in order; zstd uses the library's deterministic multi-threaded mode.
 *   Memory use is bounded (a few MiB of chunk buffers) whatever the size of the layer.
 *
 *   Reading (layer_reader_*) auto-detects gzip (including multi-member), zstd and plain
 *   tar, hashes both the stored and the uncompressed bytes, cleans every path with
 *   layer_path_clean() and enforces the LAYER_MAX_* caps.  OCI whiteouts are reported
 *   as LAYER_ENTRY_WHITEOUT / LAYER_ENTRY_OPAQUE entries, not as ".wh." files.
 *
 *   Extraction (layer_extract()) creates entries relative to a directory fd and never
 *   writes outside it: paths are cleaned lexically, every parent component is opened
 *   without following symlinks (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
 *   RESOLVE_NO_MAGICLINKS, or a component-by-component O_NOFOLLOW walk where openat2 is
 *   missing — both give the same result), an existing final component is replaced, not
 *   followed, and hardlink targets must be entries already extracted by the same call.
 *   An entry whose parent is a symlink is refused rather than written through it: legal
 *   layers never need this (docker and overlayfs replace, they do not traverse).
 *   The diffID and digest are verified at the end; on any error the target directory
 *   holds partial content and the caller must discard it.
 *
 * Ownership
 *   struct layer_writer and struct layer_reader are opaque handles from *_new(), freed
 *   with *_free() (NULL is fine).  Strings in options and entries passed in are borrowed
 *   for the duration of the call.  Entries returned by layer_reader_next() are views
 *   valid until the next call on the reader.
 *
 * State and errors
 *   Every function returns 0 (or a count) on success and -1 with *err set on failure.
 *   Handles carry a magic number and a state and check both on entry: calling a function
 *   in the wrong state is an "internal error" naming the function and the state.  A
 *   failure after bytes may have reached the stream (I/O, a file shorter than announced,
 *   any failure inside layer_writer_add_tree()) poisons the writer: every later call
 *   fails and layer_writer_finish() never reports a result for a broken stream.  A bad
 *   argument caught before anything is written (unclean path, entry out of order, bad
 *   xattr) fails that call only.  Reader and extraction errors name the offending entry
 *   ("entry 'a/../../x': path 'a/../../x' escapes the root").
 *
 * Locale
 *   libarchive converts names using the thread's locale; every call into it runs under
 *   the "C" locale installed with uselocale() for the calling thread only and restored
 *   before returning, so names are stored and read back as raw bytes whatever LANG is.
 *
 * Thread safety
 *   A handle must be used from one thread at a time; the worker threads a writer starts
 *   are private to it.  Distinct handles are independent.  Nothing reads the clock, the
 *   environment, the locale or the current directory.
 */
#ifndef PLATE_LAYER_H
#define PLATE_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/error.h"
#include "digest/digest.h"
#include "elf/elf.h"

/* ---- limits ------------------------------------------------------------------------- */

/* Longest cleaned path or hardlink target accepted or written (Linux PATH_MAX). */
#define LAYER_MAX_PATH 4096
/* Longest symlink target. */
#define LAYER_MAX_LINK_TARGET 4096
/* Longest single path component (NAME_MAX). */
#define LAYER_MAX_NAME 255
/* Extended attributes per entry, bytes per value (XATTR_SIZE_MAX), name length, and the
 * total of names and values of one entry. */
#define LAYER_MAX_XATTRS 128
#define LAYER_MAX_XATTR_VALUE 65536
#define LAYER_MAX_XATTR_NAME 255
#define LAYER_MAX_XATTR_TOTAL (256 * 1024)

/*
 * Limits on a layer that comes from outside (load, pull, import).  A layer is refused when
 *   - its tar stream, or the sum of the sizes of its files (holes of sparse files count:
 *     extracting them costs no disk, but every reader of the tree pays for them), is
 *     larger than max_size;
 *   - it has more than max_entries entries;
 *   - once past LAYER_RATIO_FLOOR uncompressed bytes, it expands to more than max_ratio
 *     times the bytes read so far (a gzip bomb: 2 GiB of zeros is 2 MiB of gzip);
 *   - more than LAYER_MAX_TRAILING bytes follow the end-of-archive marker (an endless
 *     stream of zeros is an empty archive followed by padding that never ends).
 * 0 in a field means no limit on it.  Readers of layers the store already accepted pass
 * no limits.
 */
struct layer_limits {
	unsigned long long max_size;
	unsigned long long max_entries;
	unsigned long long max_ratio;
};
#define LAYER_DEFAULT_MAX_SIZE (16ULL << 30)
#define LAYER_DEFAULT_MAX_ENTRIES 1000000ULL
#define LAYER_DEFAULT_MAX_RATIO 100ULL
#define LAYER_RATIO_FLOOR (64ULL << 20)
#define LAYER_MAX_TRAILING (1ULL << 20)
#define LAYER_DEFAULT_LIMITS                                                                  \
	{                                                                                     \
		.max_size = LAYER_DEFAULT_MAX_SIZE, .max_entries = LAYER_DEFAULT_MAX_ENTRIES, \
		.max_ratio = LAYER_DEFAULT_MAX_RATIO                                          \
	}

/* OCI image-spec layer.md whiteout names. */
#define LAYER_WHITEOUT_PREFIX ".wh."
#define LAYER_OPAQUE_NAME ".wh..wh..opq"

/* ---- compression -------------------------------------------------------------------- */

/* Compressors are registered by name: "gzip" (the default), "zstd" and "none". */
#define LAYER_DEFAULT_COMPRESSION "gzip"

/* True when name is a registered compressor. */
bool layer_compression_is_known(const char *name);
/* The OCI layer media type for a compressor ("application/vnd.oci.image.layer.v1.tar+gzip",
 * "...tar+zstd", "...tar"), or NULL when the name is unknown. */
const char *layer_compression_media_type(const char *name);

/* ---- entries ------------------------------------------------------------------------ */

enum layer_entry_type {
	LAYER_ENTRY_FILE,
	LAYER_ENTRY_DIR,
	LAYER_ENTRY_SYMLINK,
	LAYER_ENTRY_HARDLINK, /* link_target: path of an earlier entry of the layer */
	LAYER_ENTRY_CHAR,
	LAYER_ENTRY_BLOCK,
	LAYER_ENTRY_FIFO,
	LAYER_ENTRY_WHITEOUT, /* path was deleted: stored as "<dir>/.wh.<name>" */
	LAYER_ENTRY_OPAQUE,   /* directory path hides lower content: "<path>/.wh..wh..opq" */
};

struct layer_xattr {
	const char *name; /* "user.x", "security.capability" */
	const void *value;
	size_t size;
};

/*
 * One tar entry.  path is relative, '/'-separated, without "." or ".." components or a
 * trailing slash (layer_path_clean() form).  mode holds permission bits only (07777);
 * the type comes from `type`.  WHITEOUT and OPAQUE entries use only path (an OPAQUE
 * entry read from a layer may have path "", the root).  The writer stores xattrs sorted
 * by name and the reader returns them sorted.
 */
struct layer_entry {
	enum layer_entry_type type;
	const char *path;
	unsigned mode;
	uid_t uid;
	gid_t gid;
	long long mtime;	       /* seconds since the epoch */
	unsigned long long size;       /* FILE: content length */
	const char *link_target;       /* SYMLINK: target as stored; HARDLINK: cleaned path */
	unsigned dev_major, dev_minor; /* CHAR and BLOCK */
	const struct layer_xattr *xattrs;
	size_t n_xattrs;
};

/* The order of entries in a layer: paths compared component by component (so "a" and
 * everything under "a/" come before "a-b"), byte-wise within a component.  Returns <0,
 * 0 or >0 like strcmp. */
int layer_path_compare(const char *a, const char *b);

/* ---- path canonicalisation (pure) --------------------------------------------------- */

enum layer_path_flags {
	/* Strip leading '/' (docker does) instead of refusing absolute paths. */
	LAYER_PATH_STRIP_ABSOLUTE = 1 << 0,
	/* Resolve "a/../b" lexically to "b" instead of refusing every "..".  A ".." that
	 * would climb above the root is always refused. */
	LAYER_PATH_RESOLVE_DOTDOT = 1 << 1,
};

/*
 * Cleans an entry path: drops "." components, repeated and trailing '/', applies the
 * flags above, and refuses empty input, NUL bytes, components longer than
 * LAYER_MAX_NAME and results longer than out_size - 1 (at most LAYER_MAX_PATH).
 * Writes the NUL-terminated result to out and returns its length; 0 means the path
 * names the root itself ("/", ".", "./").  No system calls, no allocation.
 */
int layer_path_clean(const char *in, size_t len, unsigned flags, char *out, size_t out_size,
		     struct plate_error **err);

/* ---- results ------------------------------------------------------------------------ */

struct layer_result {
	char diff_id[DIGEST_STRING_LEN + 1];  /* sha256 of the uncompressed tar */
	char digest[DIGEST_STRING_LEN + 1];   /* sha256 of the stored (compressed) bytes */
	unsigned long long size;	      /* stored bytes */
	unsigned long long uncompressed_size; /* tar bytes */
	unsigned long long entries;	      /* tar entries (whiteouts included) */
	const char *compression;	      /* "gzip", "zstd" or "none" (static string) */
};

/* ---- writer ------------------------------------------------------------------------- */

struct layer_writer;

struct layer_writer_options {
	const char *compression; /* registered name; NULL means LAYER_DEFAULT_COMPRESSION */
	int level;		 /* 0: the compressor's default (gzip 6, zstd 3) */
	long long epoch;	 /* mtimes above it are clamped to it; >= 0 */
	unsigned threads;	 /* compression worker threads; 0 means 2 */
};

/* Starts a layer written to out_fd (any writable fd, a pipe is fine; it is not closed). */
int layer_writer_new(int out_fd, const struct layer_writer_options *opts, struct layer_writer **out,
		     struct plate_error **err);

/*
 * Adds one entry.  For LAYER_ENTRY_FILE exactly e->size bytes are read from content_fd
 * (from its current offset; a shorter file is an error); content_fd is ignored for other
 * types.  Entries must come in layer_path_compare() order.  HARDLINK targets must be
 * earlier FILE entries of this layer.
 */
int layer_writer_add(struct layer_writer *w, const struct layer_entry *e, int content_fd,
		     struct plate_error **err);
/* Same for a FILE whose content is in memory (e->size is ignored, len is used). */
int layer_writer_add_data(struct layer_writer *w, const struct layer_entry *e, const void *data,
			  size_t len, struct plate_error **err);
/* Records the deletion of path (".wh.<name>" entry) / marks directory dir opaque. */
int layer_writer_add_whiteout(struct layer_writer *w, const char *path, struct plate_error **err);
int layer_writer_add_opaque(struct layer_writer *w, const char *dir, struct plate_error **err);

enum layer_tree_flags {
	/* The tree is an overlayfs upper dir: 0/0 character devices become ".wh.<name>",
	 * directories with trusted.overlay.opaque=y (or user.overlay.opaque=y) get a
	 * ".wh..wh..opq" entry, and overlay's own xattrs are dropped.  Redirect and
	 * metacopy xattrs (overlay features plate never enables) are refused. */
	LAYER_TREE_OVERLAY = 1 << 0,
	/* Also add the prefix directory itself, with dirfd's metadata (prefix must not be ""). */
	LAYER_TREE_WITH_ROOT = 1 << 1,
	/* Do not record extended attributes. */
	LAYER_TREE_NO_XATTRS = 1 << 2,
	/* Record every entry as owned by 0:0 instead of the files' numeric owners. */
	LAYER_TREE_ROOT_OWNER = 1 << 3,
	/* Starts the writeback of each regular file of 64 KiB or more as it is read, without
	 * waiting: the tree is about to be made durable by a syncfs, which then finds less to
	 * write.  Advisory. */
	LAYER_TREE_WRITEBACK = 1 << 4,
};

/*
 * Adds the contents of the directory dirfd under prefix ("" for the layer root, else a
 * cleaned relative path whose parents the caller has already added or does not need),
 * depth first in layer order.  Files with several links inside the tree become one FILE
 * and HARDLINK entries; sockets are skipped; security.selinux is never recorded.  dirfd
 * is borrowed; the walk never follows symlinks.
 */
int layer_writer_add_tree(struct layer_writer *w, int dirfd, const char *prefix, unsigned flags,
			  struct plate_error **err);

/* Writes the end-of-archive marker, flushes every stage and fills *result.  The writer
 * is CLOSED afterwards (only layer_writer_free() is allowed). */
int layer_writer_finish(struct layer_writer *w, struct layer_result *result,
			struct plate_error **err);

/* Frees the writer, stopping its threads; an unfinished layer is abandoned (the bytes
 * already written to out_fd are the caller's to discard). */
void layer_writer_free(struct layer_writer *w);

/* Compresses the uncompressed tar read from in_fd to out_fd with opts->compression and
 * opts->level (threads as the writer's; the epoch is unused): the same bytes the writer
 * makes from the layer's tree.  result gets the tar's diffID, the compressed digest and
 * both sizes; entries stays 0. */
int layer_compress_tar(int in_fd, int out_fd, const struct layer_writer_options *opts,
		       struct layer_result *result, struct plate_error **err);

/* ---- reader ------------------------------------------------------------------------- */

struct layer_reader;

struct layer_reader_options {
	const char *expected_diff_id;	   /* NULL: not checked */
	const char *expected_digest;	   /* NULL: not checked */
	const struct layer_limits *limits; /* NULL: none (copied, not kept) */
};

/* Starts reading a layer from in_fd (not closed; read sequentially, pipes are fine). */
int layer_reader_new(int in_fd, const struct layer_reader_options *opts, struct layer_reader **out,
		     struct plate_error **err);
/* Returns 1 and fills *e with the next entry (a view valid until the next call), 0 at the
 * end of the archive, -1 on error.  Root entries ("./") are skipped. */
int layer_reader_next(struct layer_reader *r, struct layer_entry *e, struct plate_error **err);
/* The next block of the current FILE entry's content as libarchive holds it, for readers
 * that must not pay for holes: *buf is valid until the next call; *offset is where it goes
 * in the file, and a gap between the end of one block and the offset of the next (or the
 * entry's size) is a hole of zeros.  Returns 1 with a block, 0 at the end of the content,
 * -1 on error (not wrapped with the entry name).  Do not mix with layer_reader_read() on
 * one entry. */
int layer_reader_block(struct layer_reader *r, const void **buf, size_t *len, int64_t *offset,
		       struct plate_error **err);
/* Reads content of the current FILE entry: returns bytes read, 0 at its end, -1 on error.
 * Holes of sparse entries are returned as zeros. */
ssize_t layer_reader_read(struct layer_reader *r, void *buf, size_t len, struct plate_error **err);
/* Reads the rest of the stream, verifies the expected digests and fills *result. */
int layer_reader_finish(struct layer_reader *r, struct layer_result *result,
			struct plate_error **err);
void layer_reader_free(struct layer_reader *r);

/* ---- extraction --------------------------------------------------------------------- */

/* The overlay form of LAYER_WHITEOUT_OVERLAY, for readers of extracted layers that stack them
 * without mounting: whether st is a whiteout (0/0 character device), and whether the open
 * directory fd is opaque (either xattr set to "y"). */
bool layer_overlay_is_whiteout(const struct stat *st);
bool layer_overlay_is_opaque(int dirfd);

enum layer_whiteout_mode {
	/* Keep whiteouts as overlayfs understands them, so the extracted layer can be a
	 * lowerdir: a 0/0 character device per deleted name, and the opaque xattr
	 * (trusted.overlay.opaque=y, or user.overlay.opaque=y with LAYER_EXTRACT_USER_XATTR). */
	LAYER_WHITEOUT_OVERLAY,
	/* Apply them: delete the named path, or empty the opaque directory of everything
	 * this extraction did not create (flattening layers onto one rootfs). */
	LAYER_WHITEOUT_APPLY,
};

enum layer_device_policy {
	LAYER_DEVICES_REFUSE, /* a device entry is an error */
	LAYER_DEVICES_SKIP,   /* device entries are skipped (counted in result.skipped) */
	LAYER_DEVICES_CREATE, /* mknod (needs CAP_MKNOD) */
};

enum layer_owner_policy {
	LAYER_OWNER_AUTO,   /* chown when running as uid 0, else keep the extracting user */
	LAYER_OWNER_KEEP,   /* always chown; failure is an error */
	LAYER_OWNER_IGNORE, /* never chown */
};

enum layer_extract_flags {
	/* Use user.overlay.* instead of trusted.overlay.* (overlayfs "userxattr", rootless). */
	LAYER_EXTRACT_USER_XATTR = 1 << 0,
	/* Do not restore extended attributes from the layer. */
	LAYER_EXTRACT_NO_XATTRS = 1 << 1,
	/* Never use openat2 (tests use it to exercise the fallback walk). */
	LAYER_EXTRACT_NO_OPENAT2 = 1 << 2,
};

struct layer_extract_options {
	const char *expected_diff_id;	   /* NULL: not checked */
	const char *expected_digest;	   /* NULL: not checked */
	const struct layer_limits *limits; /* NULL: none */
	enum layer_whiteout_mode whiteouts;
	enum layer_device_policy devices;
	enum layer_owner_policy owners;
	/* Every entry owned by uid:gid instead of the archive's owners (ADD --chown). */
	bool set_owner;
	uid_t uid;
	gid_t gid;
	unsigned flags; /* enum layer_extract_flags */
	/* Non-fatal problems (an xattr the filesystem refuses, a skipped device); may be NULL. */
	void (*warn)(void *data, const char *message);
	void *warn_data;
};

struct layer_extract_result {
	struct layer_result layer;
	unsigned long long skipped;	   /* entries skipped by policy */
	unsigned long long xattrs_ignored; /* xattrs the filesystem refused (EPERM, ENOTSUP) */
};

/*
 * Extracts the layer read from in_fd into the directory target_dirfd (borrowed; may
 * already hold lower layers when whiteouts are APPLY).  Returns 0 and fills *result once
 * every entry is in place and the digests match; -1 otherwise.
 */
int layer_extract(int in_fd, int target_dirfd, const struct layer_extract_options *opts,
		  struct layer_extract_result *result, struct plate_error **err);

/*
 * ADD's archive test (BuildKit's): is the file at fd, decompressed when it is gzip, bzip2,
 * xz or zstd, a tar stream with at least one valid header?  DIRECT: layer_extract() reads
 * it as it is (plain, gzip, zstd); DECODE: bzip2 or xz, to be decompressed first with
 * layer_archive_decode().  Reads from the start of fd and leaves its offset at 0.
 */
enum layer_archive {
	LAYER_ARCHIVE_NONE,
	LAYER_ARCHIVE_DIRECT,
	LAYER_ARCHIVE_DECODE,
};
enum layer_archive layer_archive_detect(int fd);
/* Writes the decompressed content of in_fd (any of the four compressions) to out_fd,
 * refused as soon as it passes limits' size or ratio (NULL: none). */
int layer_archive_decode(int in_fd, int out_fd, const struct layer_limits *limits,
			 struct plate_error **err);

/* ---- the snapshot index ---------------------------------------------------------------- */

/*
 * A layer snapshot's index (docs/internals/layers.md "The snapshot index"): every entry of
 * an extracted layer tree (name, type, mode, owner, size, link target, device, overlayfs
 * whiteout and opaque markers) and the ELF facts of its regular executables, written once
 * when the snapshot is made so that the doctor and the SBOM never walk the tree.
 * Binary, versioned (LAYER_INDEX_VERSION), checksummed (SHA-256 of the body), and bound to
 * the layer's diffID.  layer_index_build() is deterministic: the same tree gives the same
 * bytes, so checking an index is rebuilding it and comparing.
 */
#define LAYER_INDEX_VERSION 1
#define LAYER_INDEX_MAX ((size_t)256 << 20)

/* The parsed index, read-only for its users (the doctor's image view, check/fs.c). */
#define LAYER_INDEX_WHITEOUT 0x01u /* an overlayfs whiteout (0/0 character device) */
#define LAYER_INDEX_OPAQUE 0x02u   /* a directory with the overlay opaque xattr */
#define LAYER_INDEX_ELF 0x04u	   /* a regular executable with ELF facts */
#define LAYER_INDEX_UNREAD 0x08u   /* a regular executable the index could not read */
#define LAYER_INDEX_FLAGS 0x0fu

/* Nodes are in breadth-first order: node 0 is the root and a directory's children are
 * nodes[first_child .. first_child + n_children), sorted by name (strcmp). */
struct layer_index_node {
	const char *name;   /* "" for the root */
	const char *target; /* a symbolic link's target, else NULL */
	uint32_t mode, uid, gid, flags;
	uint64_t size, rdev;
	uint32_t first_child, n_children;
	int32_t facts; /* index into layer_index.facts, or -1 */
};

struct layer_index {
	struct layer_index_node *nodes;
	size_t n;
	struct elf_facts *facts;
	size_t n_facts;
	const char **needed;
	char *arena;
	uint64_t bytes;
};

/* Walks the tree at dirfd (not following links) and serialises its index into out (at most
 * LAYER_INDEX_MAX bytes).  diff_id may be NULL (recorded as "").  entries (every entry
 * but the root) and bytes (sizes of regular files) may be NULL. */
int layer_index_build(int dirfd, const char *diff_id, struct buf *out, uint64_t *entries,
		      uint64_t *bytes, struct plate_error **err);
/* Parses an index (outside input: bounds-checked, capped).  diff_id, when not NULL, must be
 * the one the index records.  -1 with *err for anything but a sound index of version
 * LAYER_INDEX_VERSION. */
int layer_index_parse(const void *data, size_t len, const char *diff_id, struct layer_index **out,
		      struct plate_error **err);
void layer_index_free(struct layer_index *ix);
/* Every entry but the root, and the bytes of regular files (as info.json counts them). */
void layer_index_stats(const struct layer_index *ix, uint64_t *entries, uint64_t *bytes);

#endif
