/*
 * base/buf.h — a growable byte buffer with a hard cap.
 *
 * Invariants
 *   - `data` is never NULL and is always NUL-terminated at data[len], so a buffer can be
 *     used as a C string (it may also hold NUL bytes before len).
 *   - `len <= max`.  Every append that would make the buffer longer than `max` fails with
 *     E2BIG and leaves the buffer unchanged: input-fed buffers cannot grow without bound.
 *   - A buffer made with BUF_INIT or buf_init() owns no memory until the first append.
 *
 * Errors
 *   Functions return 0 on success, -1 with errno set (ENOMEM or E2BIG) on failure.  They
 *   do not take a plate_error: the caller knows what the buffer was for and says so.
 *
 * Ownership
 *   buf_release() frees the contents and leaves an empty buffer with the same cap;
 *   buf_detach() hands the string to the caller (free() it) and empties the buffer.
 */
#ifndef PLATE_BASE_BUF_H
#define PLATE_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t alloc; /* bytes allocated for data, 0 while data points at the shared "" */
	size_t max;   /* cap on len */
};

extern char buf_empty_string[];

#define BUF_UNLIMITED ((size_t)-1 / 2)
#define BUF_INIT(cap)                                                        \
	{                                                                    \
		.data = buf_empty_string, .len = 0, .alloc = 0, .max = (cap) \
	}

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Empties the buffer but keeps its memory. */
void buf_reset(struct buf *b);
/* Returns the contents as a malloc'd string (never NULL unless out of memory) and empties b. */
char *buf_detach(struct buf *b, size_t *len);

int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Shortens the buffer to len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);

#endif
