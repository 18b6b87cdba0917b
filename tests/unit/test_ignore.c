/*
 * Unit and conformance tests for ignore/: the patternmatcher tables, the compile-step
 * classification and regular expressions, ignorefile.ReadAll, the docs examples, and the
 * quirks and limits plate documents in ignore.h.  Every match is also checked through the
 * walk API (ignore_match_entry) when the path is clean, and ignore_dir_skippable is checked
 * for soundness against ignore_match on generated trees.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "ignore/ignore.h"
#include "ignore/ignore_internal.h"
#include "tap.h"

/* ignore_match() answered through the walk API, one directory level at a time. */
static bool walk_match(const struct ignore *m, const char *path)
{
	struct ignore_dir dir = IGNORE_DIR_ROOT, next;
	char *buf = strdup(path);
	bool excluded = false;

	for (char *s = buf;; s++) {
		s = strchr(s, '/');
		if (s == NULL)
			break;
		*s = '\0';
		ignore_match_entry(m, &dir, buf, &next);
		dir = next;
		*s = '/';
	}
	excluded = ignore_match_entry(m, &dir, path, NULL);
	free(buf);
	return excluded;
}

/* Builds a matcher; on error returns -1 and, when msg is not NULL, the message. */
static int build(const char *const *pats, size_t n, struct ignore **m, char **msg)
{
	_cleanup_error_ struct plate_error *err = NULL;

	if (ignore_new(pats, n, m, &err) == 0)
		return 0;
	if (msg != NULL)
		*msg = strdup(err->message);
	return -1;
}

/* Match with both APIs; fails the test run (not just this case) if they disagree. */
static bool match2(const struct ignore *m, const char *path)
{
	bool a = ignore_match(m, path);

	if (ignore_is_clean_relative(path, strlen(path))) {
		bool b = walk_match(m, path);
		if (a != b)
			tap_ok(false, "walk API agrees with ignore_match for \"%s\" (%d vs %d)",
			       path, a, b);
	}
	return a;
}

/* One case: "true"/"false"/"error" expected for pats against path. */
static bool check_case(const char *const *pats, size_t n, const char *path, const char *want,
		       char *got_out, size_t got_size)
{
	struct ignore *m = NULL;
	_cleanup_free_ char *msg = NULL;
	const char *got;

	if (build(pats, n, &m, &msg) < 0)
		got = "error";
	else if (strcmp(path, ".") == 0)
		got = "false"; /* what the package-level functions answer for "." */
	else
		got = match2(m, path) ? "true" : "false";
	snprintf(got_out, got_size, "%s%s%s", got, msg ? ": " : "", msg ? msg : "");
	ignore_free(m);
	return strcmp(got, want) == 0;
}

static void test_cases_jsonl(const char *dir)
{
	char path[4096], got[512];
	size_t len, total = 0, passed = 0;
	_cleanup_free_ char *data = NULL;

	snprintf(path, sizeof(path), "%s/dockerignore/patternmatcher-cases.jsonl", dir);
	data = tap_read_file(path, &len);
	if (!tap_ok(data != NULL, "read %s", path))
		return;
	for (char *line = data, *nl; *line != '\0'; line = nl + 1) {
		json_error_t jerr;
		json_t *j, *jp;
		const char **pats;
		size_t n;
		_cleanup_free_ char *subject = NULL;

		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line) - 1;
		j = json_loadb(line, (size_t)(nl - line + 1), 0, &jerr);
		if (j == NULL)
			continue;
		jp = json_object_get(j, "patterns");
		n = json_array_size(jp);
		pats = calloc(n + 1, sizeof(*pats));
		for (size_t i = 0; i < n; i++)
			pats[i] = json_string_value(json_array_get(jp, i));
		const char *p = json_string_value(json_object_get(j, "path"));
		const char *want = json_string_value(json_object_get(j, "matches"));
		const char *api = json_string_value(json_object_get(j, "api"));
		/* the package-level Matches cleans the path first and never matches "." */
		subject = strdup(p);
		if (strcmp(api, "Matches") == 0) {
			char *c = malloc(strlen(p) + 2);
			ignore_clean(p, strlen(p), c);
			free(subject);
			subject = c;
		}
		bool ok = check_case(pats, n, subject, want, got, sizeof(got));
		total++;
		passed += ok;
		_cleanup_free_ char *desc = json_dumps(jp, JSON_COMPACT);
		tap_ok(ok, "patternmatcher %s %s path=\"%s\": want %s, got %s",
		       json_string_value(json_object_get(j, "source_test")), desc, p, want, got);
		free(pats);
		json_decref(j);
	}
	tap_diag("patternmatcher-cases.jsonl: %zu/%zu cases agree", passed, total);
	tap_ok(total == 138, "all 138 patternmatcher cases were read (%zu)", total);
}

/* Splits a TSV line in place into at most max fields. */
static size_t split_tsv(char *line, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (line == NULL)
			break;
		*line++ = '\0';
	}
	return n;
}

static void test_compile_tsv(const char *dir)
{
	static const char *const kinds[] = {
		[IGNORE_KIND_EXACT] = "exactMatch",
		[IGNORE_KIND_PREFIX] = "prefixMatch",
		[IGNORE_KIND_SUFFIX] = "suffixMatch",
		[IGNORE_KIND_REGEXP] = "regexpMatch",
	};
	char path[4096];
	size_t total = 0, passed = 0;
	_cleanup_free_ char *data = NULL;

	snprintf(path, sizeof(path), "%s/dockerignore/patternmatcher-compile.tsv", dir);
	data = tap_read_file(path, NULL);
	if (!tap_ok(data != NULL, "read %s", path))
		return;
	char *line = strchr(data, '\n') + 1; /* header */
	for (char *nl; *line != '\0'; line = nl + 1) {
		char *f[4] = { 0 };
		enum ignore_kind kind;
		struct buf re = BUF_INIT(BUF_UNLIMITED);

		nl = strchr(line, '\n');
		*nl = '\0';
		if (split_tsv(line, f, 4) != 4)
			continue;
		/* the compile step runs on the cleaned pattern, as New stores it */
		char *clean = malloc(strlen(f[0]) + 2);
		size_t clen = ignore_clean(f[0], strlen(f[0]), clean);
		ignore_glob_translate(clean, clen, &kind, &re);
		bool ok = strcmp(kinds[kind], f[1]) == 0 && strcmp(re.data, f[2]) == 0;
		total++;
		passed += ok;
		tap_ok(ok, "compile \"%s\": %s %s (want %s %s)", f[0], kinds[kind], re.data, f[1],
		       f[2]);
		if (kind == IGNORE_KIND_REGEXP) {
			struct ignore_prog *g = NULL;
			_cleanup_error_ struct plate_error *err = NULL;
			tap_ok(ignore_prog_compile(re.data, re.len, f[0], &g, &err) == 0,
			       "expression of \"%s\" compiles", f[0]);
			ignore_prog_free(g);
		}
		free(clean);
		buf_release(&re);
	}
	tap_diag("patternmatcher-compile.tsv: %zu/%zu classifications and expressions agree",
		 passed, total);
}

static void test_readall(const char *dir)
{
	char path[4096];
	size_t len, n = 0;
	char **pats = NULL;
	_cleanup_free_ char *in = NULL, *want = NULL;
	_cleanup_error_ struct plate_error *err = NULL;
	struct buf got = BUF_INIT(BUF_UNLIMITED);

	snprintf(path, sizeof(path), "%s/dockerignore/ignorefile-readall/input.dockerignore", dir);
	in = tap_read_file(path, &len);
	snprintf(path, sizeof(path), "%s/dockerignore/ignorefile-readall/expected-patterns.txt",
		 dir);
	want = tap_read_file(path, NULL);
	if (!tap_ok(in != NULL && want != NULL, "read the ReadAll fixture"))
		return;
	tap_ok(ignore_file_parse(in, len, &pats, &n, &err) == 0, "ReadAll fixture parses");
	for (size_t i = 0; i < n; i++)
		buf_addf(&got, "%s\n", pats[i]);
	bool ok = tap_streq(got.data, want, "ReadAll fixture: expected pattern list");
	tap_diag("ignorefile-readall: %s (%zu patterns)", ok ? "1/1 agrees" : "0/1 agree", n);
	strv_free(pats, n);
	buf_release(&got);
}

static void test_docs_examples(const char *dir)
{
	char path[4096], got[512];
	size_t total = 0, passed = 0;
	_cleanup_free_ char *data = NULL;

	snprintf(path, sizeof(path), "%s/dockerignore/docs-examples.tsv", dir);
	data = tap_read_file(path, NULL);
	if (!tap_ok(data != NULL, "read %s", path))
		return;
	char *line = strchr(data, '\n') + 1;
	for (char *nl; *line != '\0'; line = nl + 1) {
		char *f[4] = { 0 };
		json_error_t jerr;

		nl = strchr(line, '\n');
		*nl = '\0';
		if (split_tsv(line, f, 4) != 4)
			continue;
		json_t *jp = json_loads(f[0], 0, &jerr);
		struct buf file = BUF_INIT(BUF_UNLIMITED);
		char **pats = NULL;
		size_t n = 0;
		_cleanup_error_ struct plate_error *err = NULL;

		/* the docs describe .dockerignore files: read them as one */
		for (size_t i = 0; i < json_array_size(jp); i++)
			buf_addf(&file, "%s\n", json_string_value(json_array_get(jp, i)));
		ignore_file_parse(file.data, file.len, &pats, &n, &err);
		buf_release(&file);
		bool ok = check_case((const char *const *)pats, n, f[1], f[2], got, sizeof(got));
		total++;
		passed += ok;
		tap_ok(ok, "docs %s path=%s: want %s, got %s (%s)", f[0], f[1], f[2], got, f[3]);
		strv_free(pats, n);
		json_decref(jp);
	}
	tap_diag("docs-examples.tsv: %zu/%zu cases agree", passed, total);
}

/* --- plate's own cases ------------------------------------------------------------------ */

static void test_text(void)
{
	static const struct {
		const char *in, *out;
	} clean[] = {
		{ "", "." },
		{ ".", "." },
		{ "/", "/" },
		{ "//", "/" },
		{ "a/", "a" },
		{ "a//b", "a/b" },
		{ "./a", "a" },
		{ "a/./b", "a/b" },
		{ "a/../b", "b" },
		{ "../a", "../a" },
		{ "/../a", "/a" },
		{ "a/b/../..", "." },
		{ "a/../../b", "../b" },
		{ "!a/..", "." },
		{ "!/a", "!/a" },
		{ "..", ".." },
		{ "../../x/../y", "../../y" },
		{ "/a/b/", "/a/b" },
		{ "**/", "**" },
	};
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		char out[64];
		ignore_clean(clean[i].in, strlen(clean[i].in), out);
		tap_streq(out, clean[i].out, "Clean(\"%s\")", clean[i].in);
	}

	static const struct {
		const char *in, *out;
	} trim[] = {
		{ " \t a b \r\n", "a b" },
		{ "\xC2\xA0x\xE3\x80\x80", "x" },     /* NBSP, ideographic space */
		{ "\xE2\x80\x8Ax\xC2\x85", "x" },     /* hair space, NEL */
		{ "\xE2\x80\x8Bx", "\xE2\x80\x8Bx" }, /* zero-width space is not white space */
		{ "x\xA0", "x\xA0" },		      /* a lone continuation byte is not NBSP */
		{ "\xEF\xBB\xBFx", "\xEF\xBB\xBFx" }, /* nor is a BOM */
	};
	for (size_t i = 0; i < sizeof(trim) / sizeof(trim[0]); i++) {
		const char *s = trim[i].in;
		size_t n = strlen(s);
		char out[64];
		ignore_trim_space(&s, &n);
		snprintf(out, sizeof(out), "%.*s", (int)n, s);
		tap_streq(out, trim[i].out, "TrimSpace case %zu", i);
	}

	size_t w;
	tap_ok(ignore_decode_rune("\xE2\x98\xBA", 3, &w) == 0x263A && w == 3, "decode U+263A");
	tap_ok(ignore_decode_rune("\xC0\x80", 2, &w) == IGNORE_RUNE_ERROR && w == 1,
	       "overlong rejected");
	tap_ok(ignore_decode_rune("\xED\xA0\x80", 3, &w) == IGNORE_RUNE_ERROR && w == 1,
	       "surrogate rejected");
	tap_ok(ignore_decode_rune("\xF4\x90\x80\x80", 4, &w) == IGNORE_RUNE_ERROR && w == 1,
	       "above U+10FFFF rejected");
	tap_ok(ignore_decode_rune("\xE2\x98", 2, &w) == IGNORE_RUNE_ERROR && w == 1,
	       "truncated rejected");
	tap_ok(ignore_is_clean_relative("a/b", 3) && !ignore_is_clean_relative("a//b", 4) &&
		       !ignore_is_clean_relative("a/./b", 5) &&
		       !ignore_is_clean_relative("/a", 2) && !ignore_is_clean_relative("a/", 2) &&
		       !ignore_is_clean_relative("..", 2) && ignore_is_clean_relative("...", 3),
	       "clean relative paths recognised");
}

#define EXPECT_PARSE(lit, want, what) expect_parse(lit, sizeof(lit) - 1, want, what)

static void expect_parse(const char *in, size_t len, const char *want, const char *what)
{
	char **pats = NULL;
	size_t n = 0;
	_cleanup_error_ struct plate_error *err = NULL;
	struct buf got = BUF_INIT(BUF_UNLIMITED);

	if (ignore_file_parse(in, len, &pats, &n, &err) < 0)
		buf_addf(&got, "error %u:%u: %s", err->line, err->column, err->message);
	for (size_t i = 0; i < n; i++)
		buf_addf(&got, "%s%s", i ? "|" : "", pats[i]);
	tap_streq(got.data, want, "parse: %s", what);
	strv_free(pats, n);
	buf_release(&got);
}

static void test_parse(void)
{
	EXPECT_PARSE("", "", "empty file");
	EXPECT_PARSE("a\r\nb\rc\r\n", "a|b\rc",
		     "CRLF: one CR dropped, an inner CR is trimmed only at ends");
	EXPECT_PARSE("\xEF\xBB\xBF#c\n\xEF\xBB\xBFx", "\xEF\xBB\xBFx",
		     "BOM stripped on line 1 only");
	EXPECT_PARSE(" #x\n#y\n", "#x", "'#' is a comment only in column 1");
	EXPECT_PARSE("!\n! \n!!a\n", "!|!|!!a", "lone '!' survives reading; '!!a' stays");
	EXPECT_PARSE("/\n/..\n//a//b/\n!/x/../y\n", "/|/|a/b|!y",
		     "Clean then drop one leading '/'");
	EXPECT_PARSE(".\n./\n", ".|.", "'.' is kept (it matches nothing)");
	EXPECT_PARSE("a\0b\n", "error 1:2: NUL byte in pattern", "NUL refused with its column");

	char *big = malloc(IGNORE_MAX_LINE + 2);
	memset(big, 'a', IGNORE_MAX_LINE + 1);
	big[IGNORE_MAX_LINE + 1] = '\n';
	expect_parse(big, IGNORE_MAX_LINE + 2,
		     "error 1:65536: line too long (more than 65535 bytes)",
		     "a 64 KiB line is an error, as with bufio.Scanner");
	big[0] = '#';
	expect_parse(big, IGNORE_MAX_LINE, "", "a 65535-byte comment line is fine");
	memset(big, 'a', IGNORE_MAX_PATTERN_LEN + 1);
	expect_parse(big, IGNORE_MAX_PATTERN_LEN + 1,
		     "error 1:1: pattern too long (more than 4096 bytes)", "pattern length cap");
	free(big);

	struct buf many = BUF_INIT(BUF_UNLIMITED);
	for (int i = 0; i <= IGNORE_MAX_PATTERNS; i++)
		buf_addstr(&many, "x\n");
	expect_parse(many.data, many.len, "error 32769:1: too many patterns (more than 32768)",
		     "pattern count cap");
	buf_release(&many);
}

/* Builds a matcher from a '|'-separated list (no '|' in these patterns). */
static struct ignore *mk(const char *list, char **msg)
{
	char *copy = strdup(list), *save = NULL;
	const char *pats[64];
	size_t n = 0;
	struct ignore *m = NULL;

	for (char *t = strtok_r(copy, "|", &save); t != NULL && n < 64;
	     t = strtok_r(NULL, "|", &save))
		pats[n++] = t;
	if (build(pats, n, &m, msg) < 0)
		m = NULL;
	free(copy);
	return m;
}

/* s with control and non-ASCII bytes as \xNN, so TAP lines stay single lines. */
static const char *shown(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s != '\0' && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7F)
			o += (size_t)snprintf(out + o, size - o, "\\x%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

/* "pattern|pattern" against path: want "true", "false", or an error message prefix. */
static void expect(const char *list, const char *path, const char *want, const char *why)
{
	char *msg = NULL;
	struct ignore *m = mk(list, &msg);
	const char *got = m == NULL ? msg : match2(m, path) ? "true" : "false";

	char a[256], b[256], c[256];

	tap_ok(got != NULL && strncmp(got, want, strlen(want)) == 0,
	       "%s: [%s] \"%s\" want %s, got %s", why, shown(list, a, sizeof(a)),
	       shown(path, b, sizeof(b)), want, got ? shown(got, c, sizeof(c)) : "(null)");
	ignore_free(m);
	free(msg);
}

static void test_semantics(void)
{
	/* classification quirks kept from patternmatcher */
	expect("**file", "afile", "true", "\"**x\" is a plain suffix test");
	expect("**/file", "afile", "false", "\"**\" + \"/x\" needs the slash or equality");
	expect("**/file", "file", "true", "\"**\" + \"/x\" equals x");
	expect("abc**", "abcdef", "true", "\"x**\" is a plain prefix test");
	expect("abc**", "ab", "false", "prefix");
	expect("a/**/b", "a/b", "true", "inner \"**/\" matches zero directories");
	expect("a/**/b", "a/x/y/b", "true", "inner \"**/\" matches several");
	expect("a/**/b", "ab", "false", "inner \"**/\" keeps the slash");
	expect("^a*", "abc", "true", "unescaped '^' is a regexp anchor (start only)");
	expect("x^a*", "x^abc", "false", "'^' after the start never matches");
	expect("^a", "^a", "true", "'^' is literal in an exact pattern");
	expect("a[*]", "a]", "true", "'*' in brackets garbles the class as upstream ([[^/]*])");
	expect("a[*]", "a*", "false", "... so '*' itself is not a member");
	expect("a[*]", "a[^/]", "true", "... the class is {[,^,/} repeated, then ']'");
	expect("a[?]", "a/]", "true", "'?' in brackets: class {[,^,/} then ']'");
	expect("[[:digit:]]x", "7x", "true",
	       "POSIX class as RE2 reads it (the glob would want \"[x]x\")");
	expect("[[:digit:]]x", "7x]", "false", "... so no literal ']'");
	expect("[[:^digit:]]x", "ax", "true", "negated POSIX class");
	expect("[[:^digit:]]x", "7x", "false", "negated POSIX class");
	expect("[[:foo:]]", "x", "invalid character class range",
	       "unknown POSIX class is an error");
	expect("[[:alpha:]", "a", "missing closing ]", "POSIX class swallowing the glob's ']'");
	expect("[[]", "[", "true", "'[' inside brackets");
	expect("[[:]", ":", "true", "'[:' without ':]' is plain characters");
	expect("[!a]", "!", "true", "'!' does not negate (Go)");
	expect("[!a]", "b", "false", "'!' does not negate (Go)");
	expect("[^a]", "/", "true", "negated class matches '/'");
	expect("a[^b]c", "a\nc", "true", "negated class matches newline (RE2 ClassNL)");
	expect("a?c", "a\nc", "true", "'?' matches newline");
	expect("a*/**", "ab/c\nd", "false", "trailing \"**\" as \".*\" stops at newline");
	expect("a/**", "a/c\nd", "true", "but a prefix pattern does not care");
	expect("[z-a]", "x", "invalid character class range \"z-a\"",
	       "reversed range (upstream: at match)");
	expect("[Local-Only]/", "x", "invalid character class range \"l-O\"",
	       "TestMatchesOrParentMatchesMalformed");
	expect("\\d", "1", "unsupported escape \"\\d\"",
	       "escaped letter refused (RE2 digit class upstream)");
	expect("a\\x41", "aA", "unsupported escape", "hex escape refused");
	expect("[\\d]", "1", "unsupported escape", "escaped letter in brackets refused");
	expect("a\\\xC3\xA9", "a\xC3\xA9", "unsupported escape", "escaped non-ASCII refused");
	expect("a\\_b*", "a_bc", "true", "escaped punctuation is literal");
	expect("a\\ b", "a b", "true", "escaped space");
	expect("a\\.c*", "a.cd", "true", "escaped dot");
	expect("a\\.c*", "abcd", "false", "escaped dot is literal");
	expect("a.c*", "abcd", "false", "'.' is literal");
	expect("a(b)c*", "a(b)cd", "true", "regexp metacharacters are literal");
	{
		const char *bar[] = { "a|b*" };
		char got[256];
		tap_ok(check_case(bar, 1, "a|bc", "true", got, sizeof(got)), "'|' is literal: %s",
		       got);
	}
	expect("a{1,2}*", "a{1,2}", "true", "braces are literal");
	expect("a+*", "a+", "true", "'+' is literal");
	expect("$*", "$x", "true", "'$' is literal");
	expect("a?b",
	       "a\xE2\x98\xBA"
	       "b",
	       "true", "'?' is one rune");
	expect("a?b",
	       "a\xFF"
	       "b",
	       "true", "'?' matches one invalid byte");
	expect("a??b",
	       "a\xE2\x98"
	       "b",
	       "true", "a truncated sequence is one rune per byte");
	expect("a\xFF*",
	       "a\xFE"
	       "b",
	       "true", "invalid pattern byte reads as U+FFFD, matching any invalid byte");
	expect("a\xFF*", "a\xEF\xBF\xBD", "true", "... and U+FFFD itself");
	expect("a\xFF", "a\xFE", "false", "but an exact pattern compares bytes");
	expect("\xEF\xBB\xBF"
	       "a*",
	       "abc", "true", "text/scanner skips a leading BOM in the translation");
	expect("\xEF\xBB\xBF"
	       "a",
	       "a", "false", "an exact pattern keeps it");
	expect("[\xFF]", "x", "syntax error",
	       "invalid UTF-8 in brackets is a filepath.Match error");
	expect("[a-\xCE\xB6]*", "\xCE\xB1", "true", "ranges are by rune");
	expect(".", "x", "false", "\".\" matches nothing");
	expect(".", ".", "true", "... except the path \".\" itself");
	expect("!", "a", "illegal exclusion pattern \"!\"", "lone '!'");
	expect(" ! ", "a", "illegal exclusion pattern", "trimmed lone '!'");
	expect("!a|a", "a", "true", "inclusion after exception");
	expect("a|!a/b|a", "a/b", "true",
	       "MatchesOrParentMatches, where MatchesUsingParentResults says false");
	expect("a|!a/b", "a/b/c", "false", "an exception for a directory re-includes beneath it");
	expect("**|!a|a/b/c", "a/b/c/d", "true", "last hit wins through ancestors");
	expect("  docs  |!docs/README.md  ", "docs/README.md", "false", "construction trims");
	expect("a/b/../c", "a/c", "true", "construction cleans");
	expect("/a", "a", "false", "a leading '/' survives New (ReadAll drops it)");
	expect("a", "a/b/", "true", "raw paths: trailing slash, parent is \"a/b\"");
	expect("a/b", "a//b/c", "true", "raw paths: the parent is cleaned");
	expect("b", "a/../b/c", "true", "raw paths: \"..\" in the parent");
	expect("a/../b", "a/../b", "false", "raw paths: the path itself is not cleaned");
	expect("**", "", "true", "\"**\" matches even the empty path");
	/* more than 64 automaton states: the multi-word interpreter */
	expect("**/a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*a*b*c*d*e*f*g*h*[0-9]",
	       "x/y/abcdefghijklmnopqrstuvwxyzabcdefgh7", "true", "long pattern, match");
	expect("**/a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*a*b*c*d*e*f*g*h*[0-9]",
	       "x/y/a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z-a-b-c-d-e-f-g-hh-1", "true",
	       "long pattern, match with fillers");
	expect("**/a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*a*b*c*d*e*f*g*h*[0-9]",
	       "x/y/abcdefghijklmnopqrstuvwxyzabcdefg7", "false", "long pattern, one letter short");
	expect("**/a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*a*b*c*d*e*f*g*h*[0-9]",
	       "x/abcdefghijklm/nopqrstuvwxyzabcdefgh7", "false",
	       "long pattern, '*' does not cross '/'");
	expect("a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*a*b*c*d*e*f*g*h*i*j*k*l*m*n",
	       "abcdefghijklmnopqrstuvwxyzabcdefghijklmn/x", "true",
	       "long pattern hits an ancestor");
	expect("x", "/", "false", "root path");
	expect("/", "/", "true", "\"/\" is an exact pattern");
	expect("/x", "/x/y", "true", "rooted parent prefixes");

	char *msg = NULL;
	const char *pats[IGNORE_MAX_PATTERNS + 1];
	for (size_t i = 0; i <= IGNORE_MAX_PATTERNS; i++)
		pats[i] = "x";
	struct ignore *m = NULL;
	tap_ok(build(pats, IGNORE_MAX_PATTERNS + 1, &m, &msg) < 0 &&
		       strstr(msg, "too many") != NULL,
	       "ignore_new caps the pattern count");
	free(msg);
	msg = NULL;
	char *longp = malloc(IGNORE_MAX_PATTERN_LEN + 2);
	memset(longp, '*', IGNORE_MAX_PATTERN_LEN);
	longp[IGNORE_MAX_PATTERN_LEN] = '\0';
	pats[0] = longp;
	tap_ok(build(pats, 1, &m, NULL) == 0, "a 4096-byte pattern of stars compiles");
	tap_ok(ignore_match(m, "a/b/c/d/e") && !ignore_match(m, "a\nb"),
	       "... it is (.*/)? repeated, then .*");
	ignore_free(m);
	for (size_t i = 0; i < IGNORE_MAX_PATTERN_LEN; i += 2)
		longp[i] = 'a';
	tap_ok(build(pats, 1, &m, NULL) == 0, "a 4096-byte \"a*a*a*...\" compiles");
	{
		/* the classic exponential case for a backtracking matcher */
		char *as = malloc(4001);
		memset(as, 'a', 4000);
		as[2047] = 'b';
		as[2048] = '\0';
		tap_ok(!ignore_match(m, as), "... fails on 2047 'a' + 'b' in bounded time");
		as[2047] = 'a';
		as[4000] = '\0';
		tap_ok(ignore_match(m, as), "... and matches 4000 'a'");
		free(as);
	}
	ignore_free(m);
	longp[IGNORE_MAX_PATTERN_LEN] = 'x';
	longp[IGNORE_MAX_PATTERN_LEN + 1] = '\0';
	tap_ok(build(pats, 1, &m, &msg) < 0 && strstr(msg, "too long") != NULL,
	       "ignore_new caps the pattern length");
	free(msg);
	free(longp);

	/* a long non-clean path takes the heap route for its parent */
	struct buf p = BUF_INIT(BUF_UNLIMITED);
	for (int i = 0; i < 1200; i++)
		buf_addstr(&p, "dir/./");
	buf_addstr(&p, "f");
	m = mk("dir/dir/dir", NULL);
	tap_ok(m != NULL && ignore_match(m, p.data), "8 KiB non-clean path");
	ignore_free(m);
	buf_release(&p);

	m = mk("a|!b", NULL);
	tap_ok(ignore_has_exceptions(m), "has exceptions");
	ignore_free(m);
	m = mk("a|b", NULL);
	tap_ok(!ignore_has_exceptions(m), "has no exceptions");
	ignore_free(m);
}

static void expect_skip(const char *list, const char *dirpath, bool want, const char *why)
{
	struct ignore *m = mk(list, NULL);
	struct ignore_dir d = IGNORE_DIR_ROOT, next;
	char *buf = strdup(dirpath);

	for (char *s = buf;; s++) {
		char *slash = strchr(s, '/');
		if (slash != NULL)
			*slash = '\0';
		ignore_match_entry(m, &d, buf, &next);
		d = next;
		if (slash == NULL)
			break;
		*slash = '/';
		s = slash;
	}
	tap_ok(ignore_dir_skippable(m, &d, dirpath) == want, "skippable [%s] %s: %s", list, dirpath,
	       why);
	free(buf);
	ignore_free(m);
}

static void test_skippable(void)
{
	expect_skip("node_modules", "node_modules", true, "no exceptions");
	expect_skip("node_modules|!src", "node_modules", true, "exception elsewhere");
	expect_skip("node_modules|!node_modules/keep", "node_modules", false, "exception beneath");
	expect_skip("node_modules|!node_modules", "node_modules", false, "not excluded at all");
	expect_skip("!node_modules/keep|node_modules", "node_modules", true,
		    "exception before the exclusion");
	expect_skip("node_modules|!**/keep", "node_modules", false,
		    "suffix exception can hit anywhere");
	expect_skip("node_modules|!node_mod*/keep", "node_modules", false,
		    "regexp exception can hit");
	expect_skip("node_modules|!node_modules/*.json", "node_modules/a", true,
		    "regexp cannot reach depth 2");
	expect_skip("node_modules|!nod**", "node_modules", false, "prefix exception covering it");
	expect_skip("node_modules|!node_modules/x**", "node_modules", false,
		    "longer prefix exception");
	expect_skip("node_modules|!nodf**", "node_modules", true, "unrelated prefix exception");
	expect_skip("**/.git|!.git/HEAD", "a/.git", true, "exception for another .git");
	expect_skip("**/.git|!.git/HEAD", ".git", false, "exception for this .git");
	expect_skip("a|!a/b|a/b/c", "a/b/c", true, "the last exclusion is after every exception");
	expect_skip("build", "src", false, "not excluded");
}

/* Deterministic pseudo-random trees: every path agrees between the two APIs, and a
 * directory reported skippable has only excluded paths beneath it. */
static void test_generated(void)
{
	static const char *const names[] = { "a",     "b",    "ab",  "node_modules", ".git",
					     "x.log", "keep", "src", "a.tmp",	     "b[1]" };
	/* clang-format off */
	static const char *const pool[] = {
		"a", "!a/b", "*.log", "**/*.tmp", "!**/keep", "node_modules", "!node_modules/keep",
		"src/**", "!src/a", "a?", "[ab]", "**/.git", "!.git/keep", "*/b", "a/**/b", "**b",
		"b\\[1]", "!*/*/keep", "ab**", "[!a]*",
		"!**/a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*a*b*",
		"**/?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*/keep",
	};
	/* clang-format on */
	uint64_t seed = 0x9E3779B97F4A7C15u;
	size_t checked = 0, bad = 0, skips = 0, unsound = 0;

	for (int round = 0; round < 200; round++) {
		const char *pats[8];
		size_t np = 1 + round % 7;
		struct ignore *m = NULL;

		for (size_t i = 0; i < np; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			pats[i] = pool[(seed >> 33) % (sizeof(pool) / sizeof(pool[0]))];
		}
		if (build(pats, np, &m, NULL) < 0) {
			bad++;
			continue;
		}
		for (int k = 0; k < 60; k++) {
			char path[256] = "";
			size_t depth = 1 + k % 4;
			for (size_t d = 0; d < depth; d++) {
				seed = seed * 6364136223846793005u + 1442695040888963407u;
				if (d > 0)
					strcat(path, "/");
				strcat(path,
				       names[(seed >> 33) % (sizeof(names) / sizeof(names[0]))]);
			}
			bool ex = ignore_match(m, path);
			checked++;
			if (ex != walk_match(m, path))
				bad++;
			/* every ancestor that says "skip" must have this path excluded */
			struct ignore_dir d = IGNORE_DIR_ROOT, next;
			for (char *s = path; (s = strchr(s, '/')) != NULL; s++) {
				*s = '\0';
				ignore_match_entry(m, &d, path, &next);
				d = next;
				if (ignore_dir_skippable(m, &d, path)) {
					skips++;
					unsound += !ex;
				}
				*s = '/';
			}
		}
		ignore_free(m);
	}
	tap_ok(bad == 0, "generated trees: both APIs agree on %zu paths (%zu disagreements)",
	       checked, bad);
	tap_ok(unsound == 0 && skips > 0, "generated trees: %zu skippable ancestors, all sound",
	       skips);
}

int main(void)
{
	const char *dir = tap_conformance_dir();

	test_cases_jsonl(dir);
	test_compile_tsv(dir);
	test_readall(dir);
	test_docs_examples(dir);
	test_text();
	test_parse();
	test_semantics();
	test_skippable();
	test_generated();
	return tap_done();
}
