/*
 * dockerfile/dockerfile_internal.h — cross-file internals of the dockerfile parser.
 *
 * The parser is split by concern: parse.c (physical lines, continuations, directives,
 * heredoc bodies, limits), instruction.c (one logical line -> one instruction, BuildKit's
 * per-keyword splitting rules), json_array.c (exec form), heredoc.c (finding `<<WORD` in a
 * line with the shell-word rules BuildKit uses), dump.c (Node.Dump(); the quoting is
 * base/go_quote.h), utf8.c (the Unicode facts Go's runtime would supply).  Tests reach the
 * word- and line-level helpers through this header with PLATE_TESTING.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "dockerfile_internal.h is internal to the dockerfile module"
#endif
#ifndef PLATE_DOCKERFILE_INTERNAL_H
#define PLATE_DOCKERFILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/utf8.h"
#include "dockerfile/dockerfile.h"

/* --- utf8.c ---------------------------------------------------------------------------- */

/* Writes the UTF-8 encoding of r (U+FFFD for a value above U+10FFFF); returns its length. */
size_t dockerfile_utf8_encode(uint32_t r, char out[4]);
/* Appends the UTF-8 encoding of r; -1 with errno on failure. */
int dockerfile_buf_add_rune(struct buf *b, uint32_t r);
/* ASCII white space as one byte: \t \n \v \f \r and space. */
bool dockerfile_is_ascii_space(char c);

/* --- locations ------------------------------------------------------------------------ */

/* One physical-line piece of a logical line: the byte at `offset` of the logical line is at
 * (line, column) of the file. */
struct dockerfile_segment {
	size_t offset;
	unsigned line;
	unsigned column;
};

struct dockerfile_linemap {
	struct dockerfile_segment *segs;
	size_t n;
	size_t alloc;
};

void dockerfile_linemap_locate(const struct dockerfile_linemap *map, size_t offset, unsigned *line,
			       unsigned *column);

/* --- instruction.c -------------------------------------------------------------------- */

/* The first split of an instruction line (BuildKit splitCommand): keyword, leading flags,
 * and the trimmed remaining text.  keyword and rest point into the line. */
struct dockerfile_split {
	const char *keyword;
	size_t keyword_len;
	char **flags;
	size_t n_flags;
	size_t rest_offset; /* from the start of the line */
	size_t rest_len;
};

int dockerfile_split_command(const char *line, size_t len, struct dockerfile_split *out,
			     struct plate_error **err);
void dockerfile_split_release(struct dockerfile_split *split);

/* What one instruction is parsed with, and what it reports besides the instruction. */
struct dockerfile_line_ctx {
	const struct dockerfile_linemap *map; /* locates bytes of the logical line */
	char escape;			      /* the active escape token */
	bool json_nul; /* set when a JSON element held "\u0000": the C string stops there */
};

/* Parses one logical line into *out.  line starts at byte `base` of the logical line that
 * ctx->map describes; errors are located through it.  Sets start_line and column to the
 * keyword's position; end_line is left to the caller. */
int dockerfile_instruction_parse(const char *line, size_t len, size_t base,
				 struct dockerfile_line_ctx *ctx,
				 struct dockerfile_instruction *out, struct plate_error **err);
void dockerfile_instruction_release(struct dockerfile_instruction *inst);
/* True for RUN, COPY and ADD in shell form, directly or as an ONBUILD trigger. */
bool dockerfile_instruction_takes_heredocs(const struct dockerfile_instruction *inst);

/* --- json_array.c --------------------------------------------------------------------- */

/* dockerfile_parse_json_array() with the byte length of each element in *lens (optional):
 * a JSON "\u0000" puts a NUL inside an element, which only the length shows. */
int dockerfile_json_array_parse(const char *text, size_t len, char ***args, size_t **lens,
				size_t *n_args, struct plate_error **err);

/* --- heredoc.c ------------------------------------------------------------------------ */

/* BuildKit ParseHeredoc: is one shell word (`<<EOF`, `3<<-'EOF'`, `<< EOF`) a heredoc
 * opener?  1 with *out filled (name only; content NULL), 0 when not, -1 with *err when the
 * word is a malformed opener (an unterminated quote). */
int dockerfile_heredoc_parse_word(const char *word, size_t len, struct dockerfile_heredoc *out,
				  struct plate_error **err);
/* BuildKit heredocsFromLine: the heredoc openers among the shell words of a line, in
 * order.  A line that does not lex as shell words has none. */
int dockerfile_heredocs_from_line(const char *line, size_t len, struct dockerfile_heredoc **out,
				  size_t *n_out, struct plate_error **err);
void dockerfile_heredoc_release(struct dockerfile_heredoc *heredoc);

#endif
