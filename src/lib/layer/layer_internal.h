/*
 * layer/layer_internal.h — pieces shared by the files of the layer module.
 *
 * The output side is a chain of stages (HOUSE_STYLE rule 12): each stage has a small
 * table of operations and an opaque data pointer, and passes its output to `next`.
 *   tar writer -> digest (diffID) -> compressor -> digest (digest) -> fd
 * Compressors and their decoders are registered by name in one table (compress.c); a new
 * one is one file plus one table line.
 */
#ifndef PLATE_LAYER_INTERNAL_H
#define PLATE_LAYER_INTERNAL_H

#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "layer_internal.h is private to the layer module"
#endif

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "digest/digest.h"
#include "layer/layer.h"

/* ---- output stages ------------------------------------------------------------------- */

struct layer_stage;

struct layer_stage_ops {
	const char *name;
	/* Called once before the first write; may be NULL. */
	int (*open)(struct layer_stage *s, struct plate_error **err);
	int (*write)(struct layer_stage *s, const void *buf, size_t len, struct plate_error **err);
	/* Flushes everything buffered into next; the chain then closes next. May be NULL. */
	int (*close)(struct layer_stage *s, struct plate_error **err);
	/* Releases data (threads included); must work after a failed or missing close. */
	void (*free)(struct layer_stage *s);
};

struct layer_stage {
	const struct layer_stage_ops *ops;
	void *data;
	struct layer_stage *next;
};

/* Allocates a stage with the given ops and data (owned by the stage from now on; freed by
 * ops->free even when this fails). */
struct layer_stage *layer_stage_new(const struct layer_stage_ops *ops, void *data,
				    struct plate_error **err);
int layer_stage_write(struct layer_stage *s, const void *buf, size_t len, struct plate_error **err);
/* Opens every stage of the chain, head first. */
int layer_chain_open(struct layer_stage *head, struct plate_error **err);
/* Closes every stage of the chain, head first, so each flush reaches the next stage. */
int layer_chain_close(struct layer_stage *head, struct plate_error **err);
/* Frees every stage of the chain. */
void layer_chain_free(struct layer_stage *head);

/* A pass-through stage hashing what goes through it. */
struct layer_stage *layer_stage_digest_new(struct plate_error **err);
/* "sha256:<hex>" and the byte count of everything written; only after close. */
void layer_stage_digest_result(struct layer_stage *s, char out[DIGEST_STRING_LEN + 1],
			       unsigned long long *bytes);
/* The terminal stage: writes to fd (borrowed), retrying short writes and EINTR. */
struct layer_stage *layer_stage_fd_new(int fd, struct plate_error **err);

/* ---- compressors and decoders --------------------------------------------------------- */

struct layer_compress_params {
	int level;	  /* 0: the compressor's default */
	unsigned threads; /* >= 1 */
};

/*
 * A decoder turns stored bytes into tar bytes.  decode() consumes input from *in (*in_len bytes) and
 * produces into out (at most out_cap), advancing the input; it sets *end once the
 * compressed stream is complete and no more input may follow.  finish() is called at the
 * end of input and fails when the stream is truncated.
 */
struct layer_decoder;
struct layer_decoder_ops {
	int (*decode)(struct layer_decoder *d, const unsigned char **in, size_t *in_len,
		      unsigned char *out, size_t out_cap, size_t *produced,
		      struct plate_error **err);
	int (*finish)(struct layer_decoder *d, struct plate_error **err);
	void (*free)(struct layer_decoder *d);
};
struct layer_decoder {
	const struct layer_decoder_ops *ops;
	void *data;
};

struct layer_compressor {
	const char *name;
	const char *media_type;
	const unsigned char *magic; /* stored stream starts with these bytes; NULL: fallback */
	size_t magic_len;
	int (*stage_new)(const struct layer_compress_params *p, struct layer_stage **out,
			 struct plate_error **err);
	int (*decoder_new)(struct layer_decoder **out, struct plate_error **err);
};

const struct layer_compressor *layer_compressor_find(const char *name);
/* The compressor whose magic starts buf (len may be short at the end of a tiny input);
 * "none" when no magic matches. */
/* The compressor of a stored layer from its first bytes: a magic, unless the first
 * LAYER_TAR_BLOCK bytes are a valid tar header (give it that many when the layer has them). */
#define LAYER_TAR_BLOCK 512
const struct layer_compressor *layer_compressor_detect(const unsigned char *buf, size_t len);

int layer_gzip_stage_new(const struct layer_compress_params *p, struct layer_stage **out,
			 struct plate_error **err);
int layer_gzip_decoder_new(struct layer_decoder **out, struct plate_error **err);
int layer_zstd_stage_new(const struct layer_compress_params *p, struct layer_stage **out,
			 struct plate_error **err);
int layer_zstd_decoder_new(struct layer_decoder **out, struct plate_error **err);
int layer_none_stage_new(const struct layer_compress_params *p, struct layer_stage **out,
			 struct plate_error **err);
int layer_none_decoder_new(struct layer_decoder **out, struct plate_error **err);

/* ---- libarchive ---------------------------------------------------------------------- */

/* The libarchive functions the module calls; layer_la.<function> points at each once
 * layer_la_load() has succeeded (libarchive.c says why it is not linked).  Every path into
 * libarchive (layer_writer_new(), layer_reader_new(), layer_archive_detect() and
 * layer_archive_decode()) calls layer_la_load() first; it is cheap after the first call and
 * safe from any thread. */
#define LAYER_LA_FUNCTIONS(X)                \
	X(archive_entry_clear)               \
	X(archive_entry_copy_hardlink)       \
	X(archive_entry_copy_pathname)       \
	X(archive_entry_copy_symlink)        \
	X(archive_entry_filetype)            \
	X(archive_entry_free)                \
	X(archive_entry_gid)                 \
	X(archive_entry_hardlink)            \
	X(archive_entry_mtime)               \
	X(archive_entry_new)                 \
	X(archive_entry_pathname)            \
	X(archive_entry_perm)                \
	X(archive_entry_rdevmajor)           \
	X(archive_entry_rdevminor)           \
	X(archive_entry_set_filetype)        \
	X(archive_entry_set_gid)             \
	X(archive_entry_set_mtime)           \
	X(archive_entry_set_perm)            \
	X(archive_entry_set_rdevmajor)       \
	X(archive_entry_set_rdevminor)       \
	X(archive_entry_set_size)            \
	X(archive_entry_set_uid)             \
	X(archive_entry_size)                \
	X(archive_entry_symlink)             \
	X(archive_entry_uid)                 \
	X(archive_entry_xattr_add_entry)     \
	X(archive_entry_xattr_next)          \
	X(archive_entry_xattr_reset)         \
	X(archive_errno)                     \
	X(archive_error_string)              \
	X(archive_filter_code)               \
	X(archive_read_data)                 \
	X(archive_read_data_block)           \
	X(archive_read_free)                 \
	X(archive_read_new)                  \
	X(archive_read_next_header)          \
	X(archive_read_open)                 \
	X(archive_read_open_fd)              \
	X(archive_read_support_filter_bzip2) \
	X(archive_read_support_filter_gzip)  \
	X(archive_read_support_filter_xz)    \
	X(archive_read_support_filter_zstd)  \
	X(archive_read_support_format_raw)   \
	X(archive_read_support_format_tar)   \
	X(archive_set_error)                 \
	X(archive_write_close)               \
	X(archive_write_data)                \
	X(archive_write_finish_entry)        \
	X(archive_write_free)                \
	X(archive_write_header)              \
	X(archive_write_new)                 \
	X(archive_write_open)                \
	X(archive_write_set_bytes_per_block) \
	X(archive_write_set_format_option)   \
	X(archive_write_set_format_pax_restricted)

struct layer_la_api {
	bool ready;
#define LAYER_LA_POINTER(name) __typeof__(name) *name;
	LAYER_LA_FUNCTIONS(LAYER_LA_POINTER)
#undef LAYER_LA_POINTER
};
extern struct layer_la_api layer_la;
/* Opens libarchive once per process; fails, naming the reason, when it cannot. */
int layer_la_load(struct plate_error **err);

/* ---- helpers ------------------------------------------------------------------------- */

/* Writes a printable, quotable form of s[0..len) into out (control and non-ASCII bytes as
 * \xNN, cut with "..." past ~120 bytes) and returns out. */
#define LAYER_QUOTE_MAX 160
char *layer_quote(const char *s, size_t len, char out[LAYER_QUOTE_MAX]);

/* Splits a cleaned path into its directory part (copied into dir, "" for the root) and
 * returns a pointer to its last component inside path. */
const char *layer_path_split(const char *path, char dir[LAYER_MAX_PATH + 1]);

/* 64-bit FNV-1a, for the sets of paths the writer and the extractor keep. */
uint64_t layer_hash(const void *data, size_t len);

/*
 * A set of 64-bit path hashes (open addressing).  Holding hashes rather than paths keeps
 * memory at 16 bytes per entry or less whatever the path lengths; a collision can only
 * make a hardlink or opaque check accept a path that is inside the root anyway.
 * Zero-initialised is empty.
 */
struct layer_hashset {
	uint64_t *slots;
	size_t cap; /* power of two, or 0 */
	size_t n;
};
int layer_hashset_add(struct layer_hashset *s, uint64_t h); /* -1 with errno ENOMEM */
bool layer_hashset_contains(const struct layer_hashset *s, uint64_t h);
void layer_hashset_release(struct layer_hashset *s);

#endif
