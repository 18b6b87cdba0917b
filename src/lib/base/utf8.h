/*
 * base/utf8.h — UTF-8 decoding with Go's rules.
 *
 * BuildKit and the libraries it uses are Go, and Go decodes strings strictly: overlong
 * forms, UTF-16 surrogates, values above U+10FFFF and truncated sequences are invalid, and
 * an invalid sequence counts as the single byte at its start, decoded as U+FFFD.  Both the
 * Dockerfile parser and the .dockerignore matcher must split text exactly that way.
 *
 * Pure functions; nothing is allocated.
 */
#ifndef PLATE_BASE_UTF8_H
#define PLATE_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_RUNE_ERROR 0xFFFDu

/* Go's utf8.DecodeRune on s[0..len) (len > 0): stores the rune in *rune and returns its
 * width in bytes; an invalid sequence gives UTF8_RUNE_ERROR and width 1 (a valid encoding
 * of U+FFFD has width 3, which is how callers tell the two apart). */
size_t utf8_decode_rune(const char *s, size_t len, uint32_t *rune);

/* Go's unicode.IsSpace: Latin-1 white space and the White_Space property above it. */
bool utf8_is_space(uint32_t r);

/* Bytes of the rune at s when it is white space for unicode.IsSpace, else 0. */
size_t utf8_space_len(const char *s, size_t len);

/* Go's strings.TrimSpace: narrows [*start, *end) of s by white space at both ends, decoding
 * backwards as utf8.DecodeLastRune does (a stray byte at the end is U+FFFD, not space). */
void utf8_trim_space(const char *s, size_t *start, size_t *end);

#endif
