/*
 * layer/reader_internal.h — reader access for extract.c.
 */
#ifndef PLATE_LAYER_READER_INTERNAL_H
#define PLATE_LAYER_READER_INTERNAL_H

#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "reader_internal.h is private to the layer module"
#endif

#include "layer/layer_internal.h"

/* The raw path of the current entry as stored, quoted for messages. */
const char *layer_reader_raw_path(struct layer_reader *r, char out[LAYER_QUOTE_MAX]);

#endif
