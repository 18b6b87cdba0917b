/*
 * tests/unit/tap.h — a tiny TAP producer for plate's C tests.
 *
 * Each test program prints "ok N - name" / "not ok N - name" lines and a final plan
 * "1..N", and exits 0 when all passed, 1 otherwise.  tap_skip_all() prints "1..0 # SKIP"
 * and exits 77, unless PLATE_MUST_WORK=1 in which case a missing prerequisite fails.
 */
#ifndef PLATE_TESTS_TAP_H
#define PLATE_TESTS_TAP_H

#include <stdbool.h>
#include <stddef.h>

/* Records one result; returns cond so callers can chain diagnostics. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a "# ..." diagnostic line. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* String equality with a diff-friendly diagnostic on failure. */
bool tap_streq(const char *got, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void tap_skip_all(const char *why);
/* Prints the plan and returns the exit status for main. */
int tap_done(void);

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL on error. */
char *tap_read_file(const char *path, size_t *len);
/* The conformance corpus directory: $PLATE_CONFORMANCE, or ../shared/conformance relative
 * to the source tree ($PLATE_SRC).  Fails the test run (not skips) when it is missing. */
const char *tap_conformance_dir(void);

#define TAP_OK(cond, ...) tap_ok((cond), __VA_ARGS__)

#endif
