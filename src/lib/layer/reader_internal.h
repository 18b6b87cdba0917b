/*
 * layer/reader_internal.h — reader access for extract.c.
 */
#ifndef PLATE_LAYER_READER_INTERNAL_H
#define PLATE_LAYER_READER_INTERNAL_H

#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "reader_internal.h is private to the layer module"
#endif

#include <stdint.h>

#include "layer/layer_internal.h"

/* The next block of the current FILE entry's content as libarchive holds it: *buf is
 * valid until the next call; *offset is where it goes in the file (sparse entries have
 * holes between blocks).  Returns 1 with a block, 0 at the end of the content, -1 on error
 * (not wrapped with the entry name: the caller does that). */
int layer_reader_block(struct layer_reader *r, const void **buf, size_t *len, int64_t *offset,
		       struct plate_error **err);

/* The raw path of the current entry as stored, quoted for messages. */
const char *layer_reader_raw_path(struct layer_reader *r, char out[LAYER_QUOTE_MAX]);

#endif
