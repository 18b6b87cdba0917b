/*
 * Unit tests for dockerfile/ word expansion: BuildKit's shell-expansion tables from the
 * conformance corpus (envVarTest, wordsTest, process-word-*.jsonl, read with the runner rules
 * of conformance/README.md section 2), then plate's own cases: backtick escape, raw quotes,
 * skip-unset, pattern corner cases, size and work caps, and the variables set.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "dockerfile/dockerfile.h"
#include "tap.h"

struct table_count {
	unsigned run, passed;
};

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static char *read_conformance(const char *name)
{
	char *path = NULL, *data;

	if (asprintf(&path, "%s/shell-expansion/%s", tap_conformance_dir(), name) < 0)
		return NULL;
	data = tap_read_file(path, NULL);
	if (data == NULL)
		tap_diag("cannot read %s", path);
	free(path);
	return data;
}

/* A printable, shortened copy of s for TAP lines (which must not hold a newline); four
 * rotating buffers so one printf can show several strings. */
static const char *show(const char *s)
{
	static char bufs[4][128];
	static unsigned next;
	char *out = bufs[next++ % 4];
	size_t o = 0;

	if (s == NULL)
		return "(null)";
	for (; *s != '\0' && o < 100; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n' || c == '\t' || c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, 128 - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	snprintf(out + o, 128 - o, "%s", *s != '\0' ? "..." : "");
	return out;
}

/* Expands one word; returns the output (caller frees) or NULL with *msg set on error. */
static char *expand(const char *word, char escape, const struct dockerfile_vars *vars,
		    unsigned flags, char **msg)
{
	struct plate_error *err = NULL;
	char *out = NULL;

	*msg = NULL;
	if (dockerfile_expand_word(word, strlen(word), escape, vars, flags, &out, &err) < 0) {
		*msg = err ? strdup(err->message) : strdup("(no error set)");
		plate_error_free(err);
		return NULL;
	}
	return out;
}

/* Checks one single-word case: want == NULL means it must fail. */
static bool check_word(struct table_count *tc, const char *table, unsigned line, const char *in,
		       const struct dockerfile_vars *vars, const char *want)
{
	char *msg = NULL;
	char *got = expand(in, '\\', vars, 0, &msg);
	bool ok = want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0;

	tc->run++;
	if (ok)
		tc->passed++;
	else
		tap_diag("%s:%u: input [%s]: got [%s]%s%s, want [%s]", table, line, in,
			 got ? got : "error", msg ? ": " : "", msg ? msg : "",
			 want ? want : "error");
	free(got);
	free(msg);
	return ok;
}

static void test_env_var_table(void)
{
	_cleanup_free_ char *data = read_conformance("envVarTest");
	struct table_count tc = { 0 };
	struct dockerfile_vars vars;
	unsigned line = 0, skipped_windows = 0, malformed = 0;
	char *save = NULL;

	if (!tap_ok(data != NULL, "envVarTest readable"))
		return;
	dockerfile_vars_init(&vars);
	dockerfile_vars_set(&vars, "PWD", "/home");
	dockerfile_vars_set(&vars, "SHELL", "bash");
	dockerfile_vars_set(&vars, "KOREAN", "한국어");
	dockerfile_vars_set(&vars, "NULL", "");
	/* Split by hand: strtok_r would merge the empty lines that keep line numbers right. */
	for (char *p = data; p != NULL && *p != '\0'; p = save) {
		char *nl = strchr(p, '\n'), *fields[4], *t;
		size_t n = 0;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		line++;
		if (p[0] == '#')
			continue;
		t = trim(p);
		if (*t == '\0')
			continue;
		for (char *f = t; n < 4; n++) {
			char *bar = strchr(f, '|');

			fields[n] = f;
			if (bar == NULL) {
				n++;
				break;
			}
			*bar = '\0';
			f = bar + 1;
		}
		if (n != 3) {
			malformed++;
			continue;
		}
		const char *platform = trim(fields[0]), *in = trim(fields[1]),
			   *want = trim(fields[2]);

		if (strcmp(platform, "W") == 0) {
			skipped_windows++;
			continue;
		}
		check_word(&tc, "envVarTest", line, in, &vars,
			   strcmp(want, "error") == 0 ? NULL : want);
	}
	dockerfile_vars_release(&vars);
	tap_ok(malformed == 0, "envVarTest: every row has 3 fields");
	tap_diag("envVarTest: %u/%u A+U rows pass (%u W rows not run)", tc.passed, tc.run,
		 skipped_windows);
	tap_ok(tc.run > 0 && tc.passed == tc.run, "envVarTest: %u/%u rows pass", tc.passed, tc.run);
}

static bool words_equal(char **got, size_t n, char **want, size_t n_want)
{
	if (n != n_want)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(got[i], want[i]) != 0)
			return false;
	return got[n] == NULL;
}

static void test_words_table(void)
{
	_cleanup_free_ char *data = read_conformance("wordsTest");
	struct table_count tc = { 0 };
	struct dockerfile_vars vars;
	unsigned line = 0, malformed = 0;
	char *save = NULL;

	if (!tap_ok(data != NULL, "wordsTest readable"))
		return;
	dockerfile_vars_init(&vars);
	for (char *p = data; p != NULL && *p != '\0'; p = save) {
		char *nl = strchr(p, '\n'), *bar, *in, *rhs;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		line++;
		if (p[0] == '#' || p[0] == '\0')
			continue;
		if (strncmp(p, "ENV ", 4) == 0) {
			char *kv = p + 3, *eq;

			while (*kv == ' ')
				kv++;
			eq = strchr(kv, '=');
			if (eq == NULL) {
				malformed++;
				continue;
			}
			*eq = '\0';
			dockerfile_vars_set(&vars, kv, eq + 1);
			continue;
		}
		bar = strchr(p, '|');
		if (bar == NULL || strchr(bar + 1, '|') != NULL) {
			malformed++;
			continue;
		}
		*bar = '\0';
		in = trim(p);
		rhs = bar + 1;
		while (*rhs == ' ')
			rhs++;

		char *want[64];
		size_t n_want = 0;
		bool want_error = strcmp(rhs, "error") == 0;

		for (char *w = rhs; n_want < 64;) {
			char *comma = strchr(w, ',');

			want[n_want++] = w;
			if (comma == NULL)
				break;
			*comma = '\0';
			w = comma + 1;
		}

		struct plate_error *err = NULL;
		char **got = NULL;
		size_t n = 0;
		int r = dockerfile_expand_words(in, strlen(in), '\\', &vars, 0, &got, &n, &err);
		bool ok = want_error ? r < 0 : r == 0 && words_equal(got, n, want, n_want);

		tc.run++;
		if (ok) {
			tc.passed++;
		} else {
			tap_diag("wordsTest:%u: input [%s]: %s", line, in,
				 r < 0 ? err->message : "words differ");
			for (size_t i = 0; r == 0 && i < n; i++)
				tap_diag("  got[%zu] = [%s]", i, got[i]);
		}
		if (r == 0)
			strv_free(got, n);
		plate_error_free(err);
	}
	dockerfile_vars_release(&vars);
	tap_ok(malformed == 0, "wordsTest: no malformed line");
	tap_diag("wordsTest: %u/%u rows pass", tc.passed, tc.run);
	tap_ok(tc.run > 0 && tc.passed == tc.run, "wordsTest: %u/%u rows pass", tc.passed, tc.run);
}

static void test_jsonl_table(const char *name)
{
	_cleanup_free_ char *data = read_conformance(name);
	struct table_count tc = { 0 };
	unsigned line = 0, malformed = 0;
	char *save = NULL;

	if (!tap_ok(data != NULL, "%s readable", name))
		return;
	for (char *p = data; p != NULL && *p != '\0'; p = save) {
		char *nl = strchr(p, '\n');
		json_error_t jerr;
		json_t *row, *env, *value;
		const char *input, *key, *want = NULL, *contains = NULL;
		struct dockerfile_vars vars;
		bool want_error;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		line++;
		if (*trim(p) == '\0')
			continue;
		row = json_loads(p, 0, &jerr);
		if (row == NULL || !json_is_string(json_object_get(row, "input")) ||
		    !json_is_object(json_object_get(row, "env"))) {
			malformed++;
			json_decref(row);
			continue;
		}
		input = json_string_value(json_object_get(row, "input"));
		env = json_object_get(row, "env");
		want_error = json_is_true(json_object_get(row, "error"));
		if (!want_error)
			want = json_string_value(json_object_get(row, "expected"));
		contains = json_string_value(json_object_get(row, "error_contains"));
		if (!want_error && want == NULL) {
			malformed++;
			json_decref(row);
			continue;
		}
		dockerfile_vars_init(&vars);
		json_object_foreach(env, key, value)
			dockerfile_vars_set(&vars, key, json_string_value(value));
		if (contains == NULL) {
			check_word(&tc, name, line, input, &vars, want);
		} else {
			char *msg = NULL, *got = expand(input, '\\', &vars, 0, &msg);

			tc.run++;
			if (got == NULL && strstr(msg, contains) != NULL)
				tc.passed++;
			else
				tap_diag("%s:%u: input [%s]: want an error containing [%s], got "
					 "[%s]",
					 name, line, input, contains, got ? got : msg);
			free(got);
			free(msg);
		}
		dockerfile_vars_release(&vars);
		json_decref(row);
	}
	tap_ok(malformed == 0, "%s: every line is a case", name);
	tap_diag("%s: %u/%u cases pass", name, tc.passed, tc.run);
	tap_ok(tc.run > 0 && tc.passed == tc.run, "%s: %u/%u cases pass", name, tc.passed, tc.run);
}

/* ------------------------------------------------------------------------------------- */

static struct dockerfile_vars own_vars;

static void expect(const char *in, char escape, unsigned flags, const char *want)
{
	char *msg = NULL, *got = expand(in, escape, &own_vars, flags, &msg);

	if (want == NULL)
		tap_ok(got == NULL, "[%s] fails (%s)", show(in), msg ? msg : "no error");
	else if (!tap_ok(got != NULL && strcmp(got, want) == 0, "[%s] -> [%s]", show(in),
			 show(want)))
		tap_diag("got [%s]%s", got ? show(got) : "error: ", got ? "" : msg);
	free(got);
	free(msg);
}

static void expect_error_contains(const char *in, const char *part)
{
	char *msg = NULL, *got = expand(in, '\\', &own_vars, 0, &msg);

	tap_ok(got == NULL && strstr(msg, part) != NULL, "[%s] fails with [%s] (got [%s])",
	       show(in), part, got ? show(got) : msg);
	free(got);
	free(msg);
}

/* Words of in, joined with "|" for comparison. */
static void expect_words(const char *in, char escape, unsigned flags, const char *want)
{
	_cleanup_buf_ struct buf joined = BUF_INIT(BUF_UNLIMITED);
	struct plate_error *err = NULL;
	char **words = NULL;
	size_t n = 0;

	if (dockerfile_expand_words(in, strlen(in), escape, &own_vars, flags, &words, &n, &err) <
	    0) {
		tap_ok(want == NULL, "words of [%s] fail (%s)", show(in), err->message);
		plate_error_free(err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_addch(&joined, '|');
		buf_addstr(&joined, words[i]);
	}
	tap_ok(words[n] == NULL, "words of [%s] are NULL-terminated", show(in));
	tap_streq(joined.data, want ? want : "(error)", "words of [%s] -> [%s]", show(in),
		  show(want ? want : "(error)"));
	strv_free(words, n);
}

static void test_backtick_escape(void)
{
	expect("he`$PWD", '`', 0, "he$PWD");
	expect("he``$PWD", '`', 0, "he`/home");
	expect("a\\b", '`', 0, "a\\b");
	expect("\"a\\$PWD\"", '`', 0, "a\\/home");
	expect("\"a`$PWD`\"b\"", '`', 0, "a$PWD\"b");
	expect("\"a`x\"", '`', 0, "a`x");
	expect("hello`", '`', 0, "hello");
	expect("'a`b'", '`', 0, "a`b");
	expect_words("a` b c", '`', 0, "a b|c");
	/* Inside a pattern the raw escape stays and the pattern reads `\`, not the backtick. */
	expect("${STAR#`*}", '`', 0, "*x");
	expect("${STAR#\\*}", '`', 0, "x");
}

static void test_raw_quotes(void)
{
	unsigned raw = DOCKERFILE_EXPAND_RAW_QUOTES;

	expect("'a b'\"c\"", '\\', raw, "'a b'\"c\"");
	expect("\"$PWD\"x", '\\', raw, "\"/home\"x");
	expect("'$PWD'", '\\', raw, "'$PWD'");
	expect("\"a\\\"b\"", '\\', raw, "\"a\"b\"");
	expect("'unterminated", '\\', raw, NULL);
	expect_words("a 'b c' \"d e\"", '\\', raw, "a|'b c'|\"d e\"");
	expect_words("x''", '\\', raw, "x''");
}

static void test_skip_unset(void)
{
	unsigned skip = DOCKERFILE_EXPAND_SKIP_UNSET;

	expect("$XX-$PWD", '\\', skip, "$XX-/home");
	expect("${XX}", '\\', skip, "${XX}");
	expect("${XX:-$PWD}", '\\', skip, "${XX:-/home}");
	expect("${XX+a}${NULL+b}", '\\', skip, "${XX+a}b");
	expect("${XX?oops}", '\\', skip, "${XX?oops}");
	expect("${XX#a*}", '\\', skip, "${XX#a*}");
	expect("${XX/a/b}", '\\', skip, "${XX/a/b}");
	/* BuildKit writes `//` back as `/`. */
	expect("${XX//a/b}", '\\', skip, "${XX/a/b}");
	/* An unknown modifier on an unset variable is kept, not rejected. */
	expect("${XX:YY}", '\\', skip, "${XX:YY}");
	expect("${PWD:YY}", '\\', skip, NULL);
	expect("${XX:#a}", '\\', skip, NULL);
	expect("$1$@", '\\', skip, "$1$@");
	expect("$", '\\', skip, "$");
	expect_words("$XX ${YY}", '\\', skip, "$XX|${YY}");
}

static void test_patterns(void)
{
	expect("${BRACKET#[ab]}", '\\', 0, "c");
	expect("${AC#[ab]}", '\\', 0, "ac");
	expect("${STAR%\\*}", '\\', 0, "*x");
	expect("${STAR#\\*}", '\\', 0, "x");
	expect("${STARX%x}", '\\', 0, "x*");
	expect("${PWD#\\a}", '\\', 0, NULL);
	expect_error_contains("${PWD#\\a}", "invalid escape");
	expect("${PWD##*/}", '\\', 0, "home");
	expect("${PWD#*/}", '\\', 0, "home");
	expect("${PATHS%/*}", '\\', 0, "/usr/local");
	expect("${PATHS%%/*}", '\\', 0, "");
	expect("${PATHS#/*/}", '\\', 0, "local/bin");
	expect("${PATHS##/*/}", '\\', 0, "bin");
	expect("${KOREAN#?}", '\\', 0, "국어");
	expect("${KOREAN%?}", '\\', 0, "한국");
	expect("${KOREAN/국/-}", '\\', 0, "한-어");
	/* `*` and `?` never match a newline (Go regexp `.`). */
	expect("${NL#*b}", '\\', 0, "a\nb");
	expect("${NL#a?}", '\\', 0, "a\nb");
	expect("${NL/*b/X}", '\\', 0, "a\nX");
	/* In `${v//p/r}` the replacement is a Go template: $0 is the match, $$ a dollar. */
	expect("${XA//a/'$0$0'}", '\\', 0, "xaa");
	expect("${XA//a/'$$'}", '\\', 0, "x$");
	expect("${XA//a/'${0}-$1-$x-$'}", '\\', 0, "xa---$");
	expect("${XA/a/'$0'}", '\\', 0, "x$0");
	/* Empty matches: each position once, none right after a previous match. */
	expect("${XA//$EMPTY/-}", '\\', 0, "-x-a-");
	expect("${XA//*/-}", '\\', 0, "-");
	expect("${XA//?/-}", '\\', 0, "--");
	/* Quotes inside the pattern are removed, what they held is still a pattern. */
	expect("${PWD#'*'/}", '\\', 0, "home");
	/* Escapes stay raw in "..." inside a pattern: `"a\b"` becomes `a\\b`. */
	expect("${BS#\"a\\b\"}", '\\', 0, "c");
}

static void test_errors(void)
{
	expect_error_contains("${XX:?}", "\"XX\" is not allowed to be unset");
	expect_error_contains("${NULL:?}", "\"NULL\" is not allowed to be empty");
	expect_error_contains("${XX?custom text}", "XX: custom text");
	expect_error_contains("${PWD=x}", "unsupported modifier \"=\"");
	expect_error_contains("${PWD:#x}", "unsupported modifier \":#\"");
	expect_error_contains("${}", "bad substitution");
	expect_error_contains("${PWD", "missing \"}\"");
	expect_error_contains("${PWD:-x", "missing \"}\"");
	expect_error_contains("${PWD/x", "missing \"/\"");
	expect_error_contains("'x", "unterminated single-quoted");
	expect_error_contains("\"x", "unterminated double-quoted");
	expect("${PWD:}x}", '\\', 0, NULL);
}

static void test_names_and_splitting(void)
{
	expect("$KOREAN.", '\\', 0, "한국어.");
	expect("$KOREAN한", '\\', 0, "");
	expect("${한}", '\\', 0, "값");
	expect("$_x$PWD_", '\\', 0, "");
	expect("$٣x", '\\', 0, "x");
	expect_words("", '\\', 0, "");
	expect_words("  ", '\\', 0, "");
	expect_words("\"\"", '\\', 0, "");
	expect_words("a$IDEO", '\\', 0, "aa|b");
	expect_words("a\"$IDEO\"", '\\', 0,
		     "aa\xe3\x80\x80"
		     "b");
	expect_words("a\tb\nc", '\\', 0, "a|b|c");
	/* Bytes that are not UTF-8 pass through unchanged. */
	expect("a\xff$PWD\xc3", '\\', 0, "a\xff/home\xc3");
	expect("${BAD#?}", '\\', 0, "\xfe");
}

static void test_caps(void)
{
	const size_t big = 600 * 1024;
	_cleanup_free_ char *value = malloc(big + 1);
	_cleanup_free_ char *long_word = malloc((1 << 20) + 2);
	_cleanup_free_ char *nest = NULL;
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);
	struct plate_error *err = NULL;
	char *out = NULL;
	clock_t t0;

	memset(value, 'a', big);
	value[big] = '\0';
	dockerfile_vars_set(&own_vars, "BIG", value);
	expect("${BIG%%a*}x", '\\', 0, "x");
	tap_ok(dockerfile_expand_word("$BIG", 4, '\\', &own_vars, 0, &out, &err) == 0 &&
		       strlen(out) == big,
	       "a 600 KiB value expands");
	free(out);
	out = NULL;
	tap_ok(dockerfile_expand_word("$BIG$BIG", 8, '\\', &own_vars, 0, &out, &err) < 0 &&
		       err->errno_value == E2BIG,
	       "two 600 KiB values exceed the 1 MiB output cap");
	plate_error_free(err);
	err = NULL;
	tap_ok(dockerfile_expand_word("${XX:-$BIG$BIG}", 15, '\\', &own_vars, 0, &out, &err) < 0 &&
		       err->errno_value == E2BIG,
	       "the cap holds for nested words");
	plate_error_free(err);
	err = NULL;
	tap_ok(dockerfile_expand_word("a\0b", 3, '\\', &own_vars, 0, &out, &err) < 0 &&
		       err->errno_value == EINVAL,
	       "a word holding NUL is refused");
	plate_error_free(err);
	err = NULL;
	memset(long_word, 'x', (1 << 20) + 1);
	tap_ok(dockerfile_expand_word(long_word, (1 << 20) + 1, '\\', &own_vars, 0, &out, &err) <
			       0 &&
		       err->errno_value == E2BIG,
	       "a word over 1 MiB is refused");
	plate_error_free(err);
	err = NULL;

	for (int i = 0; i < 64; i++)
		buf_addstr(&b, "${XX:-");
	buf_addstr(&b, "deep");
	for (int i = 0; i < 64; i++)
		buf_addch(&b, '}');
	expect(b.data, '\\', 0, "deep");
	buf_reset(&b);
	for (int i = 0; i < 65; i++)
		buf_addstr(&b, "${XX:-");
	for (int i = 0; i < 65; i++)
		buf_addch(&b, '}');
	expect_error_contains(b.data, "nested");

	/* Dropped words are expanded too, so their copying is what the work limit bounds. */
	buf_reset(&b);
	for (int i = 0; i < 600; i++)
		buf_addstr(&b, "${EMPTY:+$BIG}");
	tap_ok(dockerfile_expand_word(b.data, b.len, '\\', &own_vars, 0, &out, &err) < 0 &&
		       strstr(err->message, "work limit") != NULL,
	       "600 dropped copies of a 600 KiB value hit the work limit");
	plate_error_free(err);
	err = NULL;
	buf_reset(&b);
	for (int i = 0; i < 100; i++)
		buf_addstr(&b, "${EMPTY:+$BIG}");
	expect(b.data, '\\', 0, "");

	/* Pathological patterns: bounded time, right answer or a work-limit error. */
	t0 = clock();
	expect("${BIG#*a*a*a*a*a*a*a*a*b}", '\\', 0, value);
	expect("${BIG%*a*a*a*a*a*a*a*a*b}", '\\', 0, value);
	expect("${BIG/*a*a*a*a*a*a*a*a*b/x}", '\\', 0, value);
	tap_ok(dockerfile_expand_word("${BIG//a/bb}", 12, '\\', &own_vars, 0, &out, &err) < 0 &&
		       err->errno_value == E2BIG,
	       "replace-all output is capped");
	plate_error_free(err);
	err = NULL;
	buf_reset(&b);
	buf_addstr(&b, "${BIG#");
	for (int i = 0; i < 2000; i++)
		buf_addstr(&b, "*a");
	buf_addstr(&b, "b}");
	tap_ok(dockerfile_expand_word(b.data, b.len, '\\', &own_vars, 0, &out, &err) < 0 &&
		       strstr(err->message, "work limit") != NULL,
	       "a huge pattern on a huge value hits the work limit");
	plate_error_free(err);
	err = NULL;
	tap_ok((double)(clock() - t0) / CLOCKS_PER_SEC < 30,
	       "pathological patterns are bounded (%.2fs)",
	       (double)(clock() - t0) / CLOCKS_PER_SEC);
}

static void test_vars(void)
{
	struct dockerfile_vars a, b;

	dockerfile_vars_init(&a);
	tap_ok(dockerfile_vars_get(&a, "X", 1) == NULL, "empty set has no X");
	tap_ok(dockerfile_vars_set(&a, "X", "1") == 0 && dockerfile_vars_set(&a, "Y", "") == 0,
	       "set X and Y");
	tap_ok(dockerfile_vars_set(&a, "X", "2") == 0 && a.n == 2, "replacing keeps one entry");
	tap_streq(dockerfile_vars_get(&a, "X", 1), "2", "X replaced");
	tap_streq(dockerfile_vars_get(&a, "Y", 1), "", "Y set and empty");
	tap_streq(dockerfile_vars_get(&a, "XYZ", 1), "2", "name need not be NUL-terminated");
	tap_ok(dockerfile_vars_get(&a, "x", 1) == NULL, "names are case-sensitive");
	tap_ok(dockerfile_vars_get(&a, "X\0", 2) == NULL, "a name with NUL never matches");
	for (int i = 0; i < 100; i++) {
		char name[16];

		snprintf(name, sizeof(name), "V%d", i);
		dockerfile_vars_set(&a, name, name);
	}
	tap_streq(dockerfile_vars_get(&a, "V99", 3), "V99", "growth keeps entries");
	tap_ok(dockerfile_vars_copy(&b, &a) == 0 && b.n == a.n, "copy");
	dockerfile_vars_set(&b, "X", "3");
	tap_streq(dockerfile_vars_get(&a, "X", 1), "2", "copy is deep");
	tap_streq(b.names[0], "X", "copy keeps order");
	dockerfile_vars_release(&a);
	dockerfile_vars_release(&b);
	tap_ok(a.n == 0 && a.names == NULL, "release empties");
}

int main(void)
{
	test_env_var_table();
	test_words_table();
	test_jsonl_table("process-word-with-matches.jsonl");
	test_jsonl_table("process-word-extra.jsonl");

	dockerfile_vars_init(&own_vars);
	dockerfile_vars_set(&own_vars, "PWD", "/home");
	dockerfile_vars_set(&own_vars, "KOREAN", "한국어");
	dockerfile_vars_set(&own_vars, "한", "값");
	dockerfile_vars_set(&own_vars, "NULL", "");
	dockerfile_vars_set(&own_vars, "EMPTY", "");
	dockerfile_vars_set(&own_vars, "STAR", "*x");
	dockerfile_vars_set(&own_vars, "STARX", "x*x");
	dockerfile_vars_set(&own_vars, "BRACKET", "[ab]c");
	dockerfile_vars_set(&own_vars, "AC", "ac");
	dockerfile_vars_set(&own_vars, "PATHS", "/usr/local/bin");
	dockerfile_vars_set(&own_vars, "NL", "a\nb");
	dockerfile_vars_set(&own_vars, "XA", "xa");
	dockerfile_vars_set(&own_vars, "BS", "a\\bc");
	dockerfile_vars_set(&own_vars, "IDEO",
			    "a\xe3\x80\x80"
			    "b");
	dockerfile_vars_set(&own_vars, "BAD", "\xff\xfe");
	test_backtick_escape();
	test_raw_quotes();
	test_skip_unset();
	test_patterns();
	test_errors();
	test_names_and_splitting();
	test_caps();
	dockerfile_vars_release(&own_vars);
	test_vars();
	return tap_done();
}
