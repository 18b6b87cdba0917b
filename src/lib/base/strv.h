/*
 * base/strv.h — a growable vector of malloc'd strings.
 *
 * Invariants
 *   - `v` is NULL until the first push; after it, v[n] is always NULL, so the vector can be
 *     handed to execve() or walked to its terminator.
 *   - `n < alloc` once anything was pushed.  The allocation doubles when it is full, so n
 *     pushes cost O(n) in all (a 200,000-element exec-form CMD must not reallocate 200,000
 *     times).
 *
 * Errors
 *   Functions return 0 on success, -1 with errno set to ENOMEM on failure, and leave the
 *   vector as it was.  The caller knows what the list was for and says so.
 *
 * Ownership
 *   strv_push() takes its string: on failure it frees it, and a NULL string (a strdup() or
 *   asprintf() that failed just before) is itself an ENOMEM failure, so callers can write
 *   `strv_push(&sv, strdup(s))`.  strv_add() copies.  strv_detach() hands the array out
 *   (free it with strv_free(v, n)) and empties the vector; strv_release() frees everything.
 */
#ifndef PLATE_BASE_STRV_H
#define PLATE_BASE_STRV_H

#include <stddef.h>

struct strv {
	char **v;
	size_t n;
	size_t alloc; /* slots allocated in v, terminator included */
};

#define STRV_INIT                             \
	{                                     \
		.v = NULL, .n = 0, .alloc = 0 \
	}

int strv_push(struct strv *sv, char *s);
int strv_add(struct strv *sv, const char *s);
/* Returns the array (NULL when nothing was pushed) and its length, and empties sv. */
char **strv_detach(struct strv *sv, size_t *n);
void strv_release(struct strv *sv);

/* Frees a counted array of malloc'd strings (NULL-terminated or not) and the array. */
void strv_free(char **v, size_t n);

#endif
