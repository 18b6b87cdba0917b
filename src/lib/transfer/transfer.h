/*
 * transfer/transfer.h — images between the store and registries: pull and push.
 *
 * Purpose
 *   The glue between store/ (blobs, snapshots, names) and registry/ (the distribution
 *   client).  This module never touches CURL itself: every request goes through registry/.
 *
 * Pull
 *   transfer_pull() resolves a reference, fetches its manifest (OCI or Docker schema2).  An
 *   index (OCI, or a Docker manifest list) is kept as the image's root with the image of
 *   each platform of options.platform (a comma list): a partial index, to which a later
 *   pull of another platform adds.  A manifest the index lists must have the media type
 *   its entry gives.
 *   The root's bytes are stored verbatim, so the image in the store has the source's digest.  Blobs the
 *   store already holds are not fetched; the missing layers are downloaded by up to
 *   options.jobs threads (one registry client each); each layer is extracted into its
 *   snapshot while it downloads (the bytes go to the blob file and, through a pipe, to an
 *   extraction thread), and the extraction is kept only once the blob's digest is verified.
 *   Everything happens in one store transaction: a failure (or the process dying) leaves
 *   the store as it was.
 *
 * Push
 *   transfer_push() sends a stored image (its config, layers and manifest; for an index,
 *   every manifest it lists, then the index; a partial index is refused unless
 *   options.platform_given, which pushes that platform's manifest alone) to a reference.  Each blob
 *   is checked with HEAD first, so nothing is uploaded twice; a blob of an image that also
 *   carries a name in another repository of the same registry, or that another stored
 *   image named there holds (a base pulled from there), is mounted from there (registries
 *   answer a mount they cannot do with an upload session).
 *
 * Ownership and threads
 *   Options are borrowed.  The registry options are shared read-only by the threads of one
 *   call; progress callbacks come from one thread at a time.
 *   Nothing here reads the environment or prints.
 */
#ifndef PLATE_TRANSFER_H
#define PLATE_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "digest/digest.h"
#include "registry/registry.h"
#include "store/store.h"

enum transfer_event_type {
	TRANSFER_EVENT_MANIFEST,   /* the manifest to transfer: digest */
	TRANSFER_EVENT_BLOB_DONE,  /* a blob moved (or was found present): digest, size, how */
	TRANSFER_EVENT_BLOB_BYTES, /* a blob moving: digest, done of size bytes (size 0: unknown);
				    * done goes back down when a transfer starts over */
};

struct transfer_event {
	enum transfer_event_type type;
	const char *digest;
	uint64_t size;
	const char *how; /* "present", "fetched", "uploaded", "mounted", "exists" */
	uint64_t done;	 /* BLOB_BYTES */
};

struct transfer_options {
	struct store *store;
	const struct registry_options *registry;
	const char *platform; /* "os/arch[/variant]" picked from an index; NULL: linux/amd64;
			       * pull: a comma list */
	bool platform_given;  /* push: --platform given (a partial index: push that one) */
	unsigned jobs;	      /* parallel layer downloads; 0: 3 */
	/* Events as the transfer goes; BLOB_BYTES and BLOB_DONE come from the parallel
	 * downloads' threads: the callback must be thread-safe. */
	void (*progress)(void *data, const struct transfer_event *ev);
	void *progress_data;
};

struct transfer_result {
	char *name; /* normalised reference tagged (pull) or pushed to; malloc'd */
	char digest[DIGEST_STRING_LEN + 1]; /* manifest (or index, for a push) digest */
	unsigned blobs;			    /* blobs of the image (config and layers) */
	unsigned transferred;		    /* of those, downloaded or uploaded (mounts included) */
	uint64_t bytes;			    /* bytes downloaded or uploaded */
	/* pull of an index: the platforms the store holds under the name now, and whether
	 * the name held another index before (the registry's changed: its platforms left) */
	struct oci_strings platforms;
	bool replaced;
};

void transfer_result_release(struct transfer_result *r);

/* Pulls reference (docker's short forms accepted) into the store and tags it with its
 * normalised name (by digest only: stored untagged). */
int transfer_pull(const struct transfer_options *o, const char *reference,
		  struct transfer_result *out, struct plate_error **err);

/* Pushes the stored image `name` (a name store_image_resolve() accepts) to reference
 * (NULL: the image's own name, which must then be given as a reference). */
int transfer_push(const struct transfer_options *o, const char *name, const char *reference,
		  struct transfer_result *out, struct plate_error **err);

#endif
