/*
 * ignore/ignore.h — .dockerignore files: reading, and matching context paths against them.
 *
 * Purpose
 *   Decide which files of a build context are excluded, with the semantics BuildKit uses
 *   (moby/patternmatcher, see ../shared/conformance/README.md section 3):
 *
 *   - ignore_file_parse() turns the bytes of a .dockerignore into a pattern list, as
 *     patternmatcher's ignorefile.ReadAll does: lines split at '\n' (one trailing '\r'
 *     dropped), a UTF-8 BOM stripped from the first line, lines whose first byte is '#'
 *     skipped, Unicode white space trimmed, empty lines skipped, a leading '!' kept as an
 *     exception marker (the rest trimmed again), each pattern cleaned like Go's
 *     filepath.Clean, then one leading '/' dropped.  A lone "!" survives reading.
 *   - ignore_new() compiles a pattern list, as patternmatcher.New does: trim, skip empty,
 *     Clean, "!" marks an exception (a lone "!" is an error), and a pattern that Go's
 *     filepath.Match syntax rejects anywhere is an error (current Go checks the whole
 *     pattern; Go 1.19 and older stopped at the first chunk that failed to match ".").
 *     Each pattern is then classified and translated exactly as patternmatcher does
 *     (exact / prefix "x" + "**" / suffix "**" + "x" / regular expression), and the regular
 *     expression is interpreted with Go RE2 rules.
 *   - ignore_match() answers "is this path excluded?" with MatchesOrParentMatches
 *     semantics: a pattern hits a path when it matches the path itself or one of its
 *     ancestor directories; the last pattern that hits decides (an exception re-includes).
 *
 * Pattern syntax (Go filepath.Match plus "**")
 *   `*` any run of characters except '/'; `?` one character except '/'; `[...]` a class
 *   with ranges and `^` negation (as in Go, `!` is not a negation); `\c` the character c;
 *   `**` any number of directories, including none.  Patterns are anchored at the context
 *   root.  Matching is bounded: O(len(path) * len(pattern)) per test, no backtracking.
 *   patternmatcher's oddities are kept, since they decide what reaches a build: "**x" is
 *   a plain suffix test ("**file" matches "afile"), "x**" a plain prefix test, an
 *   unescaped '^' outside brackets anchors, '*' or '?' inside brackets garble the class
 *   the way the translated expression does, "[[:digit:]]" is a POSIX class, and "**"
 *   translated to ".*" does not match '\n'.
 *
 * Deliberate differences from BuildKit (each is an error here, never a different answer)
 *   - An escape of a letter, digit or non-ASCII character ("\d", "\b", "\x41", "\é") is
 *     rejected: patternmatcher hands it to Go's regexp, where it means a digit class, a word
 *     boundary, a hex escape..., or fails when first matched.  Escapes of punctuation work.
 *   - Patterns whose translated regular expression Go rejects (a reversed range such as
 *     "[z-a]", an unknown "[[:name:]]" class) fail in ignore_new(); BuildKit reports them
 *     only when the pattern is first evaluated, i.e. almost always at the first path.
 *   - A pattern longer than IGNORE_MAX_PATTERN_LEN bytes, more than IGNORE_MAX_PATTERNS
 *     patterns, or a NUL byte in a pattern line of a file are errors.
 *
 * Tree walks
 *   BuildKit walks the context top-down.  struct ignore_dir carries a directory's result
 *   to its entries: ignore_match_entry() then tests only the entry itself, and only against
 *   the patterns after the last one that hit the directory.  ignore_dir_skippable() says
 *   whether an excluded directory can be left unread because no exception pattern after
 *   the deciding one could hit anything beneath it.  Both give exactly the answers
 *   ignore_match() gives.
 *
 *   Known difference: BuildKit's context walker (tonistiigi/fsutil) calls
 *   MatchesUsingParentResults, which differs from MatchesOrParentMatches in one corner: a
 *   pattern skipped while evaluating a directory (an inclusion after the directory was
 *   already excluded) is not remembered as a hit on that directory, so its entries do not
 *   inherit it.  With the patterns "a", "!a/b", "a", BuildKit sends "a/b/c" and plate
 *   excludes it.  plate follows MatchesOrParentMatches, the documented last-match-wins
 *   rule, everywhere.
 *
 * Ownership
 *   `const char *` arguments are borrowed.  Pattern arrays returned by ignore_file_parse()
 *   and ignore_load_for() belong to the caller: strv_free(patterns, n).  A struct ignore is
 *   released with ignore_free(); it keeps its own copies of the patterns.
 *
 * Errors
 *   ignore_file_parse() errors carry the 1-based line and column (plate_err_at).
 *   ignore_new() errors name the offending pattern.  ignore_load_for() wraps errors with the
 *   file name and keeps errno for system errors.  Matching never fails.
 *
 * Thread safety
 *   A struct ignore is immutable after ignore_new(): any number of threads may match
 *   against it at once.  Matching allocates nothing (see ignore_match() for the one
 *   exception) and keeps its scratch state on the stack (a few KiB at most).
 *
 * I/O
 *   Everything is pure except ignore_load_for() (load.c), which reads one file through
 *   openat-style calls relative to directory descriptors.
 */
#ifndef PLATE_IGNORE_H
#define PLATE_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Most patterns in one list, and the longest pattern in bytes (after trimming). */
#define IGNORE_MAX_PATTERNS 32768
#define IGNORE_MAX_PATTERN_LEN 4096
/* Longest line of a .dockerignore: Go's bufio.Scanner, which BuildKit reads the file with,
 * fails on a line of 64 KiB or more, so does ignore_file_parse(). */
#define IGNORE_MAX_LINE 65535
/* Largest .dockerignore ignore_load_for() reads. */
#define IGNORE_MAX_FILE (1024 * 1024)

/*
 * Parses a .dockerignore held in buf[0..len) (need not be NUL-terminated) into *patterns
 * (n strings, each NUL-terminated; exceptions keep their leading '!').  On success the
 * caller owns the array (strv_free(*patterns, *n)); *patterns may be NULL when *n is 0.
 */
int ignore_file_parse(const char *buf, size_t len, char ***patterns, size_t *n,
		      struct plate_error **err);

struct ignore;

/* Compiles patterns[0..n) (raw or as returned by ignore_file_parse()) into *out. */
int ignore_new(const char *const *patterns, size_t n, struct ignore **out,
	       struct plate_error **err);
void ignore_free(struct ignore *m);

/* True when at least one pattern is an exception ("!..."). */
bool ignore_has_exceptions(const struct ignore *m);

/*
 * True when `path` is excluded.  `path` is slash-separated and relative to the context
 * root, e.g. "src/main.go".  It is taken as is, like MatchesOrParentMatches does: the path
 * itself is tested raw and its ancestors are the prefixes of Go's filepath.Dir(path).  Only
 * an unusual path (not clean and over 4096 bytes, or with more than 256 '/') needs heap
 * memory for that; if the allocation fails the answer is "excluded".
 */
bool ignore_match(const struct ignore *m, const char *path);

/*
 * Per-directory state for top-down walks.  Treat the fields as private; start from
 * IGNORE_DIR_ROOT (the context root, which itself is never matched).
 */
struct ignore_dir {
	int last;	/* last pattern hitting the directory or an ancestor, -1 for none */
	unsigned depth; /* number of components of the directory's path, 0 for the root */
};
#define IGNORE_DIR_ROOT ((struct ignore_dir){ .last = -1, .depth = 0 })

/*
 * Like ignore_match() for an entry of the directory described by `parent`.  `path` is the
 * entry's full clean path ("a/b/c": no empty, "." or ".." components, no leading or
 * trailing '/') and its parent directory must be the one `parent` was computed for; other
 * input gives unspecified (but memory-safe) answers.  When `as_dir` is not NULL it
 * receives the state to pass for the entry's own entries if it is a directory.
 */
bool ignore_match_entry(const struct ignore *m, const struct ignore_dir *parent, const char *path,
			struct ignore_dir *as_dir);

/*
 * True when the directory `dirpath` (clean, as for ignore_match_entry(); `dir` is its
 * state) is excluded and nothing beneath it can be re-included by an exception pattern,
 * so a walker need not read it.  False means "read it" (it may still be excluded).
 */
bool ignore_dir_skippable(const struct ignore *m, const struct ignore_dir *dir,
			  const char *dirpath);

/* Which file ignore_load_for() used. */
enum ignore_source {
	IGNORE_SOURCE_NONE,	  /* neither file exists: no patterns */
	IGNORE_SOURCE_DOCKERFILE, /* <Dockerfile>.dockerignore beside the Dockerfile */
	IGNORE_SOURCE_CONTEXT,	  /* .dockerignore at the context root */
};

/*
 * Reads the ignore file that applies to a build, with BuildKit's precedence
 * (frontend/dockerui): "<dockerfile_path>.dockerignore", opened relative to
 * dockerfile_dirfd, if it exists (even empty); else ".dockerignore" at the root of the
 * context directory context_dirfd; else no patterns.  The two files are never merged.
 * dockerfile_path may be NULL (Dockerfile read from stdin): then only the context file is
 * considered.  dockerfile_dirfd may be AT_FDCWD.  Each file is resolved with its directory
 * as root (a symlink cannot leave it), as BuildKit reads both from transferred directories;
 * where openat2() is unavailable a symlinked ignore file is refused (ELOOP).  A file that
 * is not regular or is larger than IGNORE_MAX_FILE is an error.
 * On success *patterns and *n are as for ignore_file_parse() and *source (if not NULL) says
 * which file was used.
 */
int ignore_load_for(int context_dirfd, int dockerfile_dirfd, const char *dockerfile_path,
		    char ***patterns, size_t *n, enum ignore_source *source,
		    struct plate_error **err);

#endif
