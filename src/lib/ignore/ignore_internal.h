/*
 * ignore/ignore_internal.h — shared between the files of the ignore module and its tests.
 *
 * text.c   Go string helpers: strings.TrimSpace, filepath.Clean (utf8.DecodeRune: base/utf8.h).
 * glob.c   Go filepath.Match syntax check, patternmatcher's classification and translation
 *          to a regular expression, and a Thompson-NFA interpreter for that expression.
 * ignore.c the matcher (struct ignore) and the walk API.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "ignore_internal.h is internal to the ignore module"
#endif

#ifndef PLATE_IGNORE_INTERNAL_H
#define PLATE_IGNORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/utf8.h"

/* --- text.c --------------------------------------------------------------------------- */

#define IGNORE_RUNE_ERROR UTF8_RUNE_ERROR

/* Go utf8.DecodeRune (base/utf8.h) in the rune-returning shape the matcher's scanners use:
 * the rune at s[0..len) and its width; invalid input gives IGNORE_RUNE_ERROR, width 1. */
static inline uint32_t ignore_decode_rune(const char *s, size_t len, size_t *width)
{
	uint32_t r;

	*width = utf8_decode_rune(s, len, &r);
	return r;
}

/* Go strings.TrimSpace (Unicode white space): narrows [*s, *s + *len). */
void ignore_trim_space(const char **s, size_t *len);

/* Go filepath.Clean (Unix) of src[0..len) into dst, which must hold max(len, 1) + 1 bytes;
 * returns the cleaned length (dst is NUL-terminated). */
size_t ignore_clean(const char *src, size_t len, char *dst);

/* True when path[0..len) is what ignore_clean() would return for it and is relative and not
 * ".": no empty, "." or ".." components and no leading or trailing '/'. */
bool ignore_is_clean_relative(const char *path, size_t len);

/* --- glob.c --------------------------------------------------------------------------- */

/* How patternmatcher classifies a cleaned pattern (its matchType). */
enum ignore_kind {
	IGNORE_KIND_EXACT,  /* string equality */
	IGNORE_KIND_PREFIX, /* "x**" with no other wildcard: path starts with "x" */
	IGNORE_KIND_SUFFIX, /* "**" + "x" with no other wildcard: path ends with "x" (or, when "x"
			     * starts with '/', path is "x" without it) */
	IGNORE_KIND_REGEXP, /* the translated regular expression */
};

/* Go filepath.Match's syntax check of p[0..len): 0 when valid, -1 when Match would return
 * ErrBadPattern for it. */
int ignore_glob_check(const char *p, size_t len);

/* patternmatcher's compile step: classifies p[0..len) and, for IGNORE_KIND_REGEXP, appends
 * the regular expression it builds to *re ("^...$", Go RE2 syntax).  -1 (errno) only when
 * *re cannot grow. */
int ignore_glob_translate(const char *p, size_t len, enum ignore_kind *kind, struct buf *re);

/* A compiled regular expression (the subset patternmatcher's translation produces). */
struct ignore_prog;

/* Parses a translated expression with Go RE2 rules.  Errors name `pattern` (the glob it
 * came from): Go's own rejections, and the escapes plate does not interpret. */
int ignore_prog_compile(const char *re, size_t len, const char *pattern, struct ignore_prog **out,
			struct plate_error **err);
void ignore_prog_free(struct ignore_prog *g);

/* Whole-string match. */
bool ignore_prog_match(const struct ignore_prog *g, const char *s, size_t len);
/* True when some string that starts with s[0..len) + "/" could match (conservative: may
 * say true when none does, never false when one does). */
bool ignore_prog_match_below(const struct ignore_prog *g, const char *s, size_t len);
/* The literal bytes every match starts and ends with (possibly empty; they may overlap). */
void ignore_prog_literals(const struct ignore_prog *g, const char **prefix, size_t *prefix_len,
			  const char **suffix, size_t *suffix_len);
/* Number of '/' in every string the expression matches, or -1 when it varies. */
int ignore_prog_slashes(const struct ignore_prog *g);

#endif
