/*
 * transfer/transfer_internal.h — what pull.c and push.c share.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "transfer/transfer_internal.h is internal to the transfer module"
/* o's registry options, with blob byte counts forwarded to o->progress as
 * TRANSFER_EVENT_BLOB_BYTES events when o has a progress callback. */
void transfer_registry_options(const struct transfer_options *o, struct registry_options *out);

#endif
#ifndef PLATE_TRANSFER_INTERNAL_H
#define PLATE_TRANSFER_INTERNAL_H

#include "transfer/transfer.h"

/* The manifest of idx for platform ("os/arch[/variant]"; NULL: linux/amd64). */
int transfer_pick_platform(const struct oci_index *idx, const char *platform,
			   const struct oci_descriptor **out, struct plate_error **err);

/* o's registry options, with blob byte counts forwarded to o->progress as
 * TRANSFER_EVENT_BLOB_BYTES events when o has a progress callback. */
void transfer_registry_options(const struct transfer_options *o, struct registry_options *out);

#endif
