/*
 * layer/writer_internal.h — the writer handle, shared by writer.c and tree.c.
 */
#ifndef PLATE_LAYER_WRITER_INTERNAL_H
#define PLATE_LAYER_WRITER_INTERNAL_H

#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "writer_internal.h is private to the layer module"
/* Marks the writer BROKEN and returns -1. */
int layer_writer_break(struct layer_writer *w);

#endif

#include <locale.h>

#include "layer/layer_internal.h"

struct archive;
struct archive_entry;

enum layer_writer_state {
	WRITER_OPEN = 1 << 0,
	WRITER_CLOSED = 1 << 1,
	WRITER_BROKEN = 1 << 2,
};

struct layer_writer {
	unsigned magic;
	unsigned state; /* enum layer_writer_state */
	struct archive *a;
	struct archive_entry *entry;
	struct layer_stage *chain; /* head of the chain: the diffID stage */
	struct layer_stage *diff_stage;
	struct layer_stage *digest_stage;
	const struct layer_compressor *compressor;
	long long epoch;
	struct plate_error *io_err; /* first failure seen inside the libarchive callback */
	bool discard;		    /* drop output: the writer is being freed unfinished */
	char last[LAYER_MAX_PATH + 1];
	bool have_last;
	unsigned long long entries;
	struct layer_hashset files; /* FILE paths written, for hardlink checks */
	char *copy_buf;
	locale_t c_locale; /* installed around libarchive calls, see writer.c */
};

/* Checks the magic and that the state is one of `allowed`. */
int layer_writer_check(struct layer_writer *w, const char *fn, unsigned allowed,
		       struct plate_error **err);

/* Marks the writer BROKEN and returns -1. */
int layer_writer_break(struct layer_writer *w);

#endif
