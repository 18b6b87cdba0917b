/*
 * dockerfile/dockerfile.h — the Dockerfile front end: parser, AST dump, word expansion.
 *
 * Purpose
 *   dockerfile_parse() turns the bytes of a Dockerfile into a list of instructions, with the
 *   same splitting rules as BuildKit's parser (so `dockerfile_dump()` reproduces BuildKit's
 *   parser-test dump byte for byte).  dockerfile_expand_word()/_words() implement the
 *   shell-word expansion the Dockerfile reference prescribes for ARG/ENV substitution.
 *
 * Purity
 *   Everything here is a pure function over buffers: no I/O, no global state, no clock, no
 *   environment.  Inputs are bounded by `struct dockerfile_limits`; exceeding a limit is a
 *   located error ("line too long"), never unbounded growth.
 *
 * Ownership
 *   `struct dockerfile` and everything it points to is owned by the caller after a
 *   successful parse and released with dockerfile_free().  All strings are NUL-terminated
 *   heap copies.  `const char *` arguments are borrowed.
 *
 * Errors
 *   Parse errors carry the 1-based line and column (plate_err_at); the caller adds the
 *   file name.  Expansion errors carry no location: the caller wraps them with the
 *   instruction's location.
 *
 * Thread safety
 *   No shared state: distinct objects may be used from distinct threads.
 */
#ifndef PLATE_DOCKERFILE_H
#define PLATE_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"

/* A here-document attached to RUN, COPY or ADD (`<<EOF`, `<<-EOF`, `3<<"EOF"`). */
struct dockerfile_heredoc {
	char *name;    /* the delimiter word, quotes removed */
	char *content; /* raw body with its line endings, without the terminator line */
	bool expand;   /* false when any part of the delimiter was quoted */
	bool chomp;    /* `<<-`: leading tabs are to be stripped when the body is used */
	int fd;	       /* the digit prefix (`3<<EOF`), 0 if absent */
};

struct dockerfile_instruction {
	char *keyword;	/* lower-cased as written ("from", "run", or an unknown word) */
	char *original; /* the logical line after continuation joining, heredoc bodies excluded */
	char **flags;	/* leading `--name=value` words, quotes removed, e.g. "--from=builder" */
	size_t n_flags;
	char **args; /* argument nodes, split by the instruction's rule (see dump format) */
	size_t n_args;
	bool json_form; /* args came from a JSON (exec form) array */
	/* ONBUILD's nested instruction (then n_args == 0), NULL otherwise. */
	struct dockerfile_instruction *sub;
	struct dockerfile_heredoc *heredocs;
	size_t n_heredocs;
	unsigned start_line; /* 1-based, first physical line of the instruction */
	unsigned end_line;   /* last physical line, heredoc bodies included */
	unsigned column;     /* 1-based column of the keyword */
};

struct dockerfile_warning {
	unsigned line;
	char *message;
};

struct dockerfile {
	struct dockerfile_instruction *instructions;
	size_t n_instructions;
	char escape;			     /* '\\' or '`' (the `# escape=` directive) */
	char *syntax;			     /* `# syntax=` value or NULL */
	char *check;			     /* `# check=` value or NULL */
	struct dockerfile_warning *warnings; /* e.g. empty continuation lines */
	size_t n_warnings;
};

struct dockerfile_limits {
	size_t max_file;	 /* bytes in the whole Dockerfile */
	size_t max_line;	 /* bytes in one logical (joined) line */
	size_t max_heredoc;	 /* bytes in one here-document body */
	size_t max_instructions; /* instructions in the file */
};

/* 8 MiB file, 1 MiB logical line, 4 MiB heredoc, 100,000 instructions. */
extern const struct dockerfile_limits dockerfile_default_limits;

/* Parses a Dockerfile.  limits may be NULL for the defaults.  A file with no instruction, a
 * repeated parser directive, an ENV without a value, a JSON array with a non-string element
 * … are located errors. */
int dockerfile_parse(const char *data, size_t len, const struct dockerfile_limits *limits,
		     struct dockerfile **out, struct plate_error **err);
void dockerfile_free(struct dockerfile *df);

/* Appends BuildKit's `Node.Dump()` of the whole file, one "(keyword ...)" line per
 * instruction, each followed by "\n".  Returns 0, or -1 with errno (ENOMEM/E2BIG). */
int dockerfile_dump(const struct dockerfile *df, struct buf *out);

/* Parses the JSON (exec) form of an argument string.  Returns 1 and sets *args and *n_args when
 * text (after leading whitespace) is a JSON array of strings; 0 when it is not valid JSON
 * (the caller falls back to shell form); -1 with *err when it is a JSON array holding a
 * non-string element. */
int dockerfile_parse_json_array(const char *text, size_t len, char ***args, size_t *n_args,
				struct plate_error **err);

/*
 * Variables for expansion: an ordered set of name=value pairs.  Names are case-sensitive.
 * A variable may be set to the empty string, which differs from unset.
 */
struct dockerfile_vars {
	char **names;
	char **values;
	size_t n;
	size_t alloc;
};

void dockerfile_vars_init(struct dockerfile_vars *vars);
void dockerfile_vars_release(struct dockerfile_vars *vars);
/* Sets (copies) name=value, replacing an existing value.  -1 with errno on ENOMEM. */
int dockerfile_vars_set(struct dockerfile_vars *vars, const char *name, const char *value);
/* Returns the value, or NULL when unset.  name need not be NUL-terminated. */
const char *dockerfile_vars_get(const struct dockerfile_vars *vars, const char *name,
				size_t name_len);
int dockerfile_vars_copy(struct dockerfile_vars *dst, const struct dockerfile_vars *src);

enum dockerfile_expand_flags {
	/* Keep quote characters in the output (BuildKit's "raw quotes" mode). */
	DOCKERFILE_EXPAND_RAW_QUOTES = 1 << 0,
	/* Leave references to unset variables as written instead of expanding to "". */
	DOCKERFILE_EXPAND_SKIP_UNSET = 1 << 1,
};

/* Single-word expansion (BuildKit ProcessWord): expand variables, remove quotes, no
 * splitting.  escape is the active escape character. */
int dockerfile_expand_word(const char *word, size_t len, char escape,
			   const struct dockerfile_vars *vars, unsigned flags, char **out,
			   struct plate_error **err);

/* Expansion with word splitting (BuildKit ProcessWords): unquoted whitespace and unquoted
 * variable values split words. */
int dockerfile_expand_words(const char *text, size_t len, char escape,
			    const struct dockerfile_vars *vars, unsigned flags, char ***words,
			    size_t *n_words, struct plate_error **err);

/* Expands word as dockerfile_expand_word() does (no flags) and adds to *unset (value "") the
 * name of every variable the expansion looked up and found unset, including those of the
 * `${name:-word}` forms: what BuildKit's lexer reports as unmatched (the UndefinedVar and
 * UndefinedArgInFrom checks).  vars may be NULL (nothing set). */
int dockerfile_expand_unset(const char *word, size_t len, char escape,
			    const struct dockerfile_vars *vars, struct dockerfile_vars *unset,
			    struct plate_error **err);

#endif
