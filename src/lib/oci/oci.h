/*
 * oci/oci.h — OCI image model: references, and (below) manifests, indexes, configs.
 *
 * Purpose
 *   Pure models of what the OCI image and distribution specs define.  Parsing functions
 *   take a buffer and return a value or a plate_error; nothing here does I/O.
 *
 * Ownership
 *   Structs filled by *_parse() own their strings; release them with the matching
 *   *_release().  Returned char * are malloc'd and owned by the caller.
 *
 * Thread safety
 *   No shared state.
 */
#ifndef PLATE_OCI_H
#define PLATE_OCI_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* ---- image references ------------------------------------------------------------- */

/*
 * A normalised image reference, as docker resolves it:
 *   "golang:1.22-alpine"        -> docker.io / library/golang / tag 1.22-alpine
 *   "ghcr.io/o/r@sha256:…"      -> ghcr.io / o/r / digest
 *   "localhost:5000/x"          -> localhost:5000 / x / tag latest
 * A first component is a registry host when it contains '.' or ':', is "localhost", or has an
 * upper-case letter (docker's rule); hosts may be names, IPv4 or [IPv6] with a port.
 * "index.docker.io" becomes "docker.io".  Paths are lower-case components [a-z0-9]+ joined by
 * '.', '_', '__' or runs of '-'; tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; the normalised
 * "domain/path" is at most 255 bytes; a bare 64-hex string is refused (it looks like an ID).
 */
struct oci_reference {
	char *domain; /* "docker.io", "127.0.0.1:5000" */
	char *path;   /* "library/golang" */
	char *tag;    /* NULL only when a digest is given and no tag */
	char *digest; /* "sha256:<hex>" or NULL */
};

/* Parses and normalises s (len bytes, need not be NUL-terminated; at most 4096) with docker.io
 * as the default domain, the library/ prefix for docker.io single-component names, and tag
 * "latest" when neither tag nor digest is given.  Refuses upper case in the repository, empty
 * components, bad tags and digests that digest_parse() refuses.  On success *out is filled
 * (owned by the caller, release with oci_reference_release()); on failure it is untouched. */
int oci_reference_parse(const char *s, size_t len, struct oci_reference *out,
			struct plate_error **err);
void oci_reference_release(struct oci_reference *ref);
/* "docker.io/library/golang:1.22-alpine", "…@sha256:…", or "…:tag@sha256:…"; malloc'd, NULL
 * on ENOMEM.  Parsing the result gives the same reference back. */
char *oci_reference_format(const struct oci_reference *ref);

/* ---- image models (manifests, indexes, configs) ------------------------------------- */

#endif
