/*
 * digest/digest.h — SHA-256 content digests as OCI writes them ("sha256:<64 hex>").
 *
 * Purpose
 *   Streaming hashing for layers and blobs (one pass, fed by the writer chain) and
 *   validation of digest strings read from manifests, indexes and registry headers.
 *   This is the only module that touches OpenSSL's EVP API.
 *
 * Ownership
 *   struct digest is owned by the caller: digest_init() fills it, digest_release() frees
 *   its contents (safe on a zeroed or already-released struct).
 *
 * Errors
 *   digest_init() can fail (allocation inside OpenSSL); updates and finals cannot once
 *   init succeeded.  digest_parse() reports why a string is not a valid digest.
 *
 * Thread safety
 *   A struct digest must not be shared between threads; distinct ones are independent.
 */
#ifndef PLATE_DIGEST_H
#define PLATE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define DIGEST_ALGORITHM "sha256"
#define DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex digits */
#define DIGEST_STRING_LEN (sizeof(DIGEST_ALGORITHM) + DIGEST_HEX_LEN)

struct digest {
	void *evp;		  /* EVP_MD_CTX, private */
	unsigned long long bytes; /* bytes hashed so far */
};

int digest_init(struct digest *d, struct plate_error **err);
void digest_update(struct digest *d, const void *data, size_t len);
/* Writes "sha256:<hex>" (DIGEST_STRING_LEN chars + NUL) and resets d for reuse. */
void digest_final(struct digest *d, char out[DIGEST_STRING_LEN + 1]);
void digest_release(struct digest *d);

/* One-shot digest of a buffer. */
int digest_buffer(const void *data, size_t len, char out[DIGEST_STRING_LEN + 1],
		  struct plate_error **err);

/* Checks that s (len bytes) is "sha256:" followed by exactly 64 lower-case hex digits.
 * Returns 0 or -1 with *err saying what is wrong. */
int digest_parse(const char *s, size_t len, struct plate_error **err);
/* Same check, as a predicate. */
bool digest_is_valid(const char *s);

#endif
