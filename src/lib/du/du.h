/*
 * du/du.h — where an image's bytes go: per layer, the largest files, files duplicated
 * across layers and bytes wasted by files that a later layer deletes or overwrites.
 *
 * Purpose
 *   `plate du REF`.  Every layer blob is streamed once through the layer reader (its
 *   digest verified) and every regular file's content is hashed.  The layers are then
 *   stacked as a runtime would (OCI image-layout "Applying Changesets"):
 *     - an entry hides the entry of the same path in every lower layer (overwritten);
 *     - a whiteout hides the path and everything under it, an opaque directory everything
 *       under it, a non-directory everything under its path (deleted);
 *   and a file hidden that way is *waste*, counted in the layer that holds it: the bytes
 *   are shipped and unpacked but nobody can see them.  `RUN chown -R` rewrites every file
 *   it touches into a new layer, so the earlier copies are all waste (and show as
 *   duplicates with the same content).
 *
 * Ownership
 *   du_image() and du_layers() give a struct du_report owned by the caller, freed with
 *   du_report_free().  Inputs are borrowed.
 *
 * Errors
 *   A layer that does not read (bad compression, digest mismatch, hostile tar) fails the
 *   whole call, naming the layer.  More than DU_MAX_ENTRIES entries over all layers is
 *   "too large".
 *
 * Thread safety
 *   None needed: no state outside the arguments.
 */
#ifndef PLATE_DU_H
#define PLATE_DU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "digest/digest.h"
#include "store/store.h"

#define DU_MAX_ENTRIES 8000000

struct du_options {
	size_t top; /* entries in each list (largest, duplicates, wasted); 0: all */
};

struct du_layer {
	char digest[DIGEST_STRING_LEN + 1];
	char diff_id[DIGEST_STRING_LEN + 1];
	char *created_by;	    /* the history line that made it, or NULL */
	uint64_t size;		    /* compressed (the blob) */
	uint64_t uncompressed_size; /* the tar */
	uint64_t files;		    /* entries that are not directories or whiteouts */
	uint64_t content_bytes;	    /* bytes of regular files */
	uint64_t wasted_files;	    /* regular files hidden by a later layer */
	uint64_t wasted_bytes;
};

struct du_file {
	char *path;   /* absolute ("/app/x") */
	size_t layer; /* index from 0 */
	uint64_t size;
};

enum du_waste_reason {
	DU_OVERWRITTEN, /* a later layer has an entry at the same path */
	DU_DELETED,	/* a later whiteout, opaque directory or non-directory parent */
};

struct du_waste {
	struct du_file file;
	enum du_waste_reason reason;
	size_t by_layer; /* the last layer that hides it */
};

struct du_duplicate {
	char *path;
	size_t *layers;	 /* the layers holding it as a regular file, ascending */
	uint64_t *sizes; /* its size in each */
	size_t n_layers;
	bool same_content;     /* every copy has the same bytes (chown, chmod, touch) */
	uint64_t wasted_bytes; /* of the copies hidden */
};

struct du_report {
	struct du_layer *layers;
	size_t n_layers;
	/* Totals over the layers; final_* are the regular files of the final image. */
	uint64_t size, uncompressed_size, content_bytes, wasted_bytes, wasted_files;
	uint64_t final_files, final_bytes;
	uint64_t n_duplicates_total; /* before the `top` cut */
	struct du_file *largest;     /* final image's regular files, largest first */
	size_t n_largest;
	struct du_duplicate *duplicates; /* most wasted bytes first */
	size_t n_duplicates;
	struct du_waste *wasted; /* largest first */
	size_t n_wasted;
};

/* A layer to analyse: its blob readable from fd, the digest it must have. */
struct du_layer_input {
	int fd;
	const char *digest;
	uint64_t size;
	const char *created_by; /* or NULL */
};

int du_layers(const struct du_layer_input *in, size_t n, const struct du_options *o,
	      struct du_report **out, struct plate_error **err);

/* The same for an image of the store: its layers' blobs, with history lines matched to
 * layers (each history entry without empty_layer makes the next layer). */
int du_image(struct store *s, const struct store_image *img, const struct du_options *o,
	     struct du_report **out, struct plate_error **err);

/* The report as canonical JSON (docs/internals/du.md lists the fields). */
int du_report_json(const struct du_report *r, char **out, size_t *len, struct plate_error **err);

void du_report_free(struct du_report *r);

/* docker's human sizes, as `docker images` prints them (go-units HumanSizeWithPrecision
 * with 3 significant digits, decimal units): "0B", "999B", "1.5kB", "12.3MB". */
void du_human_size(uint64_t bytes, char out[16]);

#endif
