/*
 * base/printable.h — text from outside made safe to print on a terminal.
 *
 * A tag, a file name, a registry's message or a Dockerfile line can hold escape sequences
 * (ESC [ ... moves the cursor, rewrites the title, hides text) and can be a megabyte long.
 * Everything plate prints that came from outside goes through printable_add():
 *   - C0 controls, DEL and the C1 controls (U+0080..U+009F, which some terminals obey as
 *     CSI and OSC) are written as "\xNN" ("\u0085" for C1), tab kept, newline kept only
 *     with PRINTABLE_KEEP_NEWLINE;
 *   - the bidirectional controls (U+061C, U+200E/F, U+202A..U+202E, U+2066..U+2069), which
 *     make a terminal show text in another order than it is, are written as "\u202e";
 *   - bytes that are not valid UTF-8 are written as "\xNN"; valid UTF-8 is kept;
 *   - a backslash stays a backslash (the output is for people, not to be parsed back);
 *   - after max characters of input the rest is dropped and "…" appended.
 *
 * Pure: no I/O, nothing global.  Errors are buf's (ENOMEM, E2BIG from out's cap).
 */
#ifndef PLATE_BASE_PRINTABLE_H
#define PLATE_BASE_PRINTABLE_H

#include <stddef.h>

#include "base/buf.h"

enum printable_flags {
	PRINTABLE_KEEP_NEWLINE = 1 << 0,
};

/* The cap on one echoed line of input (a Dockerfile line under an error message). */
#define PRINTABLE_LINE_MAX 200

int printable_add(struct buf *out, const char *s, size_t len, size_t max, unsigned flags);

/* The same into a malloc'd string (NULL when out of memory). */
char *printable_dup(const char *s, size_t len, size_t max, unsigned flags);

#endif
