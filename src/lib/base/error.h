/*
 * base/error.h — the one error type of the plate library.
 *
 * Contract
 *   Every library function that can fail takes `struct plate_error **err` as its last
 *   argument.  On failure it returns a negative value (or NULL) and sets `*err` exactly
 *   once; on success it leaves `*err` untouched.  `*err` must be NULL on entry.
 *
 *   An error records the innermost errno (0 when the failure is not a system error), the
 *   innermost message, an optional source location (line/column in some input buffer,
 *   for parse errors), and a list of context frames added on the way up with
 *   plate_err_wrap().  Frames are kept as a list, not one string, so that the CLI can
 *   format them and tests can check the innermost errno and message.
 *
 * Ownership
 *   The error belongs to whoever holds the pointer; release it with plate_error_free()
 *   or the _cleanup_error_ attribute.  Strings returned by plate_error_format() are owned
 *   by the caller.
 *
 * Thread safety
 *   Errors are plain heap objects with no shared state.
 *
 * Out-of-memory
 *   If memory for the error itself cannot be allocated, *err is set to a static
 *   "out of memory" error that plate_error_free() recognises and leaves alone.
 */
#ifndef PLATE_BASE_ERROR_H
#define PLATE_BASE_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct plate_error {
	int errno_value;    /* innermost errno, 0 if not a system error */
	bool errno_is_kind; /* errno_value was chosen by the caller (a constant such as
				* ENOENT for "not found"): the message says it all, and
				* plate_error_format() does not repeat strerror() */
	char *message;	    /* innermost message, never NULL */
	unsigned line;	    /* 1-based line in the input, 0 when not located */
	unsigned column;    /* 1-based column, 0 when unknown */
	char **frames;	    /* context frames, outermost first */
	size_t n_frames;
};

/* Sets *err to a new error and returns -1, so call sites can `return plate_err_new(...)`.
 * errnum is an errno value or 0.  An errno from a failed call (errno, -r) is a cause and is
 * printed after the message ("cannot open 'x': No such file or directory"); one written as
 * a constant classifies the error for callers and tests ("image 'x' not found" with ENOENT,
 * a registry's 400 with EPROTO) and is not printed: its strerror() adds nothing to a
 * message written for the case.  The macro tells the two apart at compile time. */
#define plate_err_new(err, errnum, ...) \
	plate_err_new_kind((err), (errnum), __builtin_constant_p(errnum), __VA_ARGS__)
int plate_err_new_kind(struct plate_error **err, int errnum, bool is_kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Like plate_err_new() with a location in the input (line and column are 1-based). */
int plate_err_at(struct plate_error **err, unsigned line, unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Adds an outer context frame ("step 5/9 RUN go build") to an existing error and returns -1.
 * A NULL *err is a programming error and is reported as a BUG. */
int plate_err_wrap(struct plate_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Formats "frame: frame: message[: strerror(errno)]" into a new string (NULL on ENOMEM);
 * the strerror() only when the errno is a cause, not a kind (see plate_err_new). */
char *plate_error_format(const struct plate_error *error);

void plate_error_free(struct plate_error *error);

/* Aborts with file and line: only for broken invariants, never for bad input. */
#define PLATE_BUG(...) plate_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void plate_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
