/*
 * plate's own Dockerfile parser cases: errors with their exact line:column, the limits,
 * locations, warnings, directives, heredoc bodies, flags and Go-style quoting in the dump.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerfile_internal.h"
#include "tap.h"

struct error_case {
	const char *name;
	const char *input;
	size_t input_len;		 /* 0: strlen(input) */
	struct dockerfile_limits limits; /* all zero: the defaults */
	unsigned line, column;
	const char *message; /* a substring of the innermost message */
};

/* clang-format off */
static const struct error_case error_cases[] = {
	{ "empty file", "", 0, { 0 }, 1, 1, "file with no instructions" },
	{ "only comments", "# a\n# b\n", 0, { 0 }, 2, 1, "file with no instructions" },
	{ "repeated escape directive", "# escape=`\n# escape=\\\nFROM a\n", 0, { 0 }, 2, 1,
	  "only one 'escape' parser directive" },
	{ "repeated syntax directive, any case", "# syntax=a\n  #SYNTAX = b\nFROM a\n", 0, { 0 }, 2,
	  3, "only one 'syntax' parser directive" },
	{ "repeated check directive", "# check=skip=all\n# check=error=true\nFROM a\n", 0, { 0 },
	  2, 1, "only one 'check' parser directive" },
	{ "invalid escape token", "# escape=x\nFROM a\n", 0, { 0 }, 1, 1,
	  "invalid escape token 'x'" },
	{ "escape directive with only a blank value", "# escape= \nFROM a\n", 0, { 0 }, 1, 1,
	  "invalid escape token ' '" },
	{ "ENV without a value", "FROM a\n  ENV PATH\n", 0, { 0 }, 2, 3,
	  "ENV must have two arguments" },
	{ "LABEL without a value", "FROM a\nLABEL x\n", 0, { 0 }, 2, 1,
	  "LABEL must have two arguments" },
	{ "ENV pair then a bare word", "FROM a\nENV a=b c\n", 0, { 0 }, 2, 1,
	  "can't find '=' in 'c'" },
	{ "JSON array with a number", "FROM a\nCMD [\"a\", 1]\n", 0, { 0 }, 2, 5,
	  "arrays must be comprised of strings only" },
	{ "JSON array with a number at the float64 limit", "CMD [\"a\", 1.7976931348623158e308]", 0,
	  { 0 }, 1, 5, "strings only" },
	{ "JSON array nested, on a continuation line", "FROM a\nRUN \\\n  [\"a\", [\"b\"]]\n", 0,
	  { 0 }, 3, 3, "strings only" },
	{ "unterminated heredoc", "FROM a\nRUN <<EOF\necho hi\n", 0, { 0 }, 2, 1,
	  "unterminated heredoc 'EOF'" },
	{ "unterminated second heredoc", "FROM a\n COPY <<A <<B /x\na\nA\nb\n", 0, { 0 }, 2, 2,
	  "unterminated heredoc 'B'" },
	{ "heredoc terminator with tabs needs <<-", "FROM a\nRUN <<EOF\nx\n\tEOF\n", 0, { 0 }, 2,
	  1, "unterminated heredoc" },
	{ "malformed heredoc word", "FROM a\nRUN <<${a:-\\'}\n", 0, { 0 }, 2, 1,
	  "syntax error: missing '}'" },
	{ "a blank inside ${} splits the heredoc word", "FROM a\n RUN <<${y:-a b}\n", 0, { 0 },
	  2, 2, "syntax error: missing '}'" },
	{ "ONBUILD ONBUILD", "FROM a\nONBUILD ONBUILD RUN x\n", 0, { 0 }, 2, 9,
	  "chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed" },
	{ "ONBUILD FROM", "FROM a\nONBUILD from b\n", 0, { 0 }, 2, 9,
	  "'from' isn't allowed as an ONBUILD trigger" },
	{ "ONBUILD trigger errors are located", "FROM a\nONBUILD \\\n  ENV X\n", 0, { 0 }, 3, 3,
	  "ENV must have two arguments" },
	{ "NUL byte", "FROM a\nRUN b\0c\n", 15, { 0 }, 2, 6, "unexpected NUL byte" },
	{ "physical line too long", "FROM a\nRUN 0123456789abcdef\n", 0,
	  { .max_file = 1000, .max_line = 16, .max_heredoc = 1000, .max_instructions = 10 }, 2, 17,
	  "line too long" },
	{ "logical line too long", "FROM a\nRUN aaaaaa \\\n bbbbbbbbbbbb\n", 0,
	  { .max_file = 1000, .max_line = 16, .max_heredoc = 1000, .max_instructions = 10 }, 3, 6,
	  "line too long" },
	{ "comment line too long", "FROM a\n# 0123456789abcdef\n", 0,
	  { .max_file = 1000, .max_line = 16, .max_heredoc = 1000, .max_instructions = 10 }, 2, 17,
	  "line too long" },
	{ "heredoc too large", "FROM a\nRUN <<EOF\n12345\n67890\nEOF\n", 0,
	  { .max_file = 1000, .max_line = 100, .max_heredoc = 8, .max_instructions = 10 }, 4, 1,
	  "heredoc 'EOF' too large" },
	{ "too many instructions", "FROM a\nRUN b\n  RUN c\n", 0,
	  { .max_file = 1000, .max_line = 100, .max_heredoc = 100, .max_instructions = 2 }, 3, 3,
	  "too many instructions" },
	{ "file too large", "FROM a\nRUN b\n", 0,
	  { .max_file = 10, .max_line = 100, .max_heredoc = 100, .max_instructions = 10 }, 2, 4,
	  "Dockerfile too large" },
};
/* clang-format on */

static void test_errors(void)
{
	for (size_t k = 0; k < sizeof(error_cases) / sizeof(error_cases[0]); k++) {
		const struct error_case *c = &error_cases[k];
		_cleanup_error_ struct plate_error *err = NULL;
		struct dockerfile *df = NULL;
		size_t len = c->input_len ? c->input_len : strlen(c->input);
		int rc = dockerfile_parse(c->input, len, c->limits.max_file ? &c->limits : NULL,
					  &df, &err);

		tap_ok(rc == -1 && df == NULL && err != NULL && err->line == c->line &&
			       err->column == c->column && strstr(err->message, c->message) != NULL,
		       "%s: error at %u:%u (got %u:%u '%s')", c->name, c->line, c->column,
		       err ? err->line : 0, err ? err->column : 0, err ? err->message : "no error");
		dockerfile_free(df);
	}
}

struct dump_case {
	const char *name;
	const char *input;
	const char *dump;
};

/* clang-format off */
static const struct dump_case dump_cases[] = {
	{ "keywords are case-insensitive", "FrOm a\nrun b\n", "(from \"a\")\n(run \"b\")\n" },
	{ "unknown keyword kept with flags", "FROM a\nFOO --x=1 bar\n",
	  "(from \"a\")\n(foo [\"--x=1\"] \"\")\n" },
	{ "flags are quote and escape aware",
	  "COPY --chown=\"a b\" --chmod='755' --from=x\\ y --link --exclude=*.md -- --a /b\n",
	  "(copy [\"--chown=a b\" \"--chmod=755\" \"--from=x y\" \"--link\" \"--exclude=*.md\"] "
	  "\"--a\" \"/b\")\n" },
	{ "RUN --mount flags", "RUN --mount=type=cache,target=/root/.cache --network=none go build\n",
	  "(run [\"--mount=type=cache,target=/root/.cache\" \"--network=none\"] \"go build\")\n" },
	{ "FROM --platform", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n",
	  "(from [\"--platform=$BUILDPLATFORM\"] \"golang:1.22\" \"AS\" \"build\")\n" },
	{ "ADD --checksum", "ADD --checksum=sha256:abc https://x/y.tgz /\n",
	  "(add [\"--checksum=sha256:abc\"] \"https://x/y.tgz\" \"/\")\n" },
	{ "ARG keeps quotes", "ARG a=\"x y\" b='c'\n", "(arg \"a=\\\"x y\\\"\" \"b='c'\")\n" },
	{ "LABEL triples", "LABEL a=b \"c d\"=e\n",
	  "(label \"a\" \"b\" \"=\" \"\\\"c d\\\"\" \"e\" \"=\")\n" },
	{ "SHELL, STOPSIGNAL, WORKDIR, USER, MAINTAINER, EXPOSE, VOLUME",
	  "SHELL [\"/bin/sh\", \"-c\"]\nSTOPSIGNAL SIGTERM\nWORKDIR /a b\nUSER 1:1\n"
	  "MAINTAINER me <m@e>\nEXPOSE 80/tcp 53/udp\nVOLUME /a /b\n",
	  "(shell \"/bin/sh\" \"-c\")\n(stopsignal \"SIGTERM\")\n(workdir \"/a b\")\n(user \"1:1\")\n"
	  "(maintainer \"me <m@e>\")\n(expose \"80/tcp\" \"53/udp\")\n(volume \"/a\" \"/b\")\n" },
	{ "HEALTHCHECK NONE and bare keywords", "HEALTHCHECK NONE\nRUN\nCMD\n",
	  "(healthcheck \"NONE\")\n(run)\n(cmd)\n" },
	{ "ONBUILD with flags and JSON", "ONBUILD COPY --from=a [\"x\", \"y\"]\n",
	  "(onbuild (copy [\"--from=a\"] \"x\" \"y\"))\n" },
	{ "BOM and CRLF", "\xEF\xBB\xBFRUN a \\\r\n  b\r\nCMD c\r\n",
	  "(run \"a   b\")\n(cmd \"c\")\n" },
	{ "escape directive: backtick continues, backslash is literal",
	  "# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo\n",
	  "(from \"a\")\n(run \"dir c:\\\\   && echo\")\n" },
	{ "a directive after a blank line is a comment", "\n# escape=`\nRUN a `\nRUN b\n",
	  "(run \"a `\")\n(run \"b\")\n" },
	{ "an escaped escape does not continue", "RUN a \\\\\nRUN b\n",
	  "(run \"a \\\\\\\\\")\n(run \"b\")\n" },
	{ "continuation at end of file", "RUN a \\", "(run \"a\")\n" },
	{ "Go quoting: invalid UTF-8, controls, non-printable and printable runes",
	  "RUN \xff \x01 \x7f \xc2\xa0 \xee\x80\x80 \xf0\x9f\x98\x80 \xe2\x80\x8b \xed\xa0\x80 \xf4\x8f\xbf\xbf\n",
	  "(run \"\\xff \\x01 \\x7f \\u00a0 \\ue000 \xf0\x9f\x98\x80 \\u200b \\xed\\xa0\\x80 "
	  "\\U0010ffff\")\n" },
	{ "JSON strings: surrogates and invalid UTF-8 become U+FFFD",
	  "CMD [\"\\ud83d\\ude00\", \"\\ud800x\", \"\xff\"]\n",
	  "(cmd \"\xf0\x9f\x98\x80\" \"\xef\xbf\xbdx\" \"\xef\xbf\xbd\")\n" },
	{ "invalid JSON falls back to shell form", "COPY [\"a\",] /b\nCMD [\"a\" \"b\"]\n",
	  "(copy \"[\\\"a\\\",]\" \"/b\")\n(cmd \"[\\\"a\\\" \\\"b\\\"]\")\n" },
	{ "a number beyond float64 makes the array not JSON",
	  "CMD [\"a\", 1.7976931348623159e308, {}]\n",
	  "(cmd \"[\\\"a\\\", 1.7976931348623159e308, {}]\")\n" },
	{ "heredoc bodies are not instructions",
	  "FROM a\nRUN <<EOF\nFROM b\n# not a comment\nEOF\nCMD c\n",
	  "(from \"a\")\n(run \"<<EOF\")\n(cmd \"c\")\n" },
};
/* clang-format on */

static void test_dumps(void)
{
	for (size_t k = 0; k < sizeof(dump_cases) / sizeof(dump_cases[0]); k++) {
		const struct dump_case *c = &dump_cases[k];
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
		struct dockerfile *df = NULL;

		if (!tap_ok(dockerfile_parse(c->input, strlen(c->input), NULL, &df, &err) == 0,
			    "%s: parses (%s)", c->name, err ? err->message : "ok"))
			continue;
		tap_ok(dockerfile_dump(df, &out) == 0, "%s: dumps", c->name);
		tap_streq(out.data, c->dump, "%s: dump", c->name);
		dockerfile_free(df);
	}
}

static struct dockerfile *parse_ok(const char *input)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct dockerfile *df = NULL;

	if (dockerfile_parse(input, strlen(input), NULL, &df, &err) < 0)
		tap_diag("unexpected error %u:%u %s", err->line, err->column, err->message);
	return df;
}

static void test_locations(void)
{
	const char *input = "# syntax=docker/dockerfile:1\n"
			    "# check=skip=JSONArgsRecommended\n"
			    "\n"
			    "  FROM a AS b\n"
			    "RUN x \\\n"
			    "\n"
			    "  # comment\n"
			    "  y\n"
			    "COPY <<-EOF /f\n"
			    "\tbody\r\n"
			    "\tEOF\n"
			    "\\\n"
			    "\tCMD z\n";
	struct dockerfile *df = parse_ok(input);
	const struct dockerfile_instruction *in;

	if (!tap_ok(df != NULL && df->n_instructions == 4, "location file parses"))
		return;
	tap_streq(df->syntax, "docker/dockerfile:1", "syntax directive value");
	tap_streq(df->check, "skip=JSONArgsRecommended", "check directive value");
	tap_ok(df->escape == '\\', "default escape");
	in = &df->instructions[0];
	tap_ok(in->start_line == 4 && in->end_line == 4 && in->column == 3, "FROM at 4:3");
	tap_streq(in->original, "FROM a AS b", "original is the trimmed line");
	in = &df->instructions[1];
	tap_ok(in->start_line == 5 && in->end_line == 8 && in->column == 1, "RUN spans 5-8");
	tap_streq(in->original, "RUN x   y", "original joins the continuation");
	tap_ok(df->n_warnings == 1 && df->warnings[0].line == 8 &&
		       strstr(df->warnings[0].message, "empty continuation line") != NULL,
	       "empty continuation line warned at line 8");
	in = &df->instructions[2];
	tap_ok(in->start_line == 9 && in->end_line == 11, "COPY spans its heredoc, 9-11");
	tap_ok(in->n_heredocs == 1 && strcmp(in->heredocs[0].name, "EOF") == 0 &&
		       strcmp(in->heredocs[0].content, "\tbody\r\n") == 0 &&
		       in->heredocs[0].chomp && in->heredocs[0].expand && in->heredocs[0].fd == 0,
	       "heredoc body kept raw with its line ending");
	tap_streq(in->original, "COPY <<-EOF /f", "original excludes the heredoc body");
	in = &df->instructions[3];
	tap_ok(in->start_line == 12 && in->end_line == 13 && in->column == 2,
	       "CMD starts at the escape-only line 12, keyword at column 2 of line 13");
	dockerfile_free(df);

	df = parse_ok("FROM a\nONBUILD RUN <<A 3<<'B'\na\nA\nb\nB\nRUN [\"<<C\"]\n");
	if (tap_ok(df != NULL && df->n_instructions == 3, "ONBUILD heredoc file parses")) {
		in = &df->instructions[1];
		tap_ok(in->n_heredocs == 2 && in->sub != NULL && in->end_line == 6 &&
			       strcmp(in->heredocs[1].content, "b\n") == 0 &&
			       in->heredocs[1].fd == 3 && !in->heredocs[1].expand &&
			       in->sub->column == 9,
		       "ONBUILD RUN reads heredocs for the trigger");
		tap_ok(df->instructions[2].json_form && df->instructions[2].n_heredocs == 0,
		       "JSON form opens no heredoc");
	}
	dockerfile_free(df);

	df = parse_ok("FROM a\nCMD [\"a\\u0000b\"]\n");
	tap_ok(df != NULL && df->n_warnings == 1 && df->warnings[0].line == 2 &&
		       strcmp(df->instructions[1].args[0], "a") == 0,
	       "a JSON NUL cuts the C string and is warned about");
	dockerfile_free(df);
}

struct heredoc_line_case {
	const char *line;
	const char *names; /* comma-separated, "!" marks a name whose body is not expanded */
};

static const struct heredoc_line_case heredoc_lines[] = {
	{ "RUN cat <<\"EOF\" | sh", "!EOF" },
	{ "RUN <<E\\OF", "EOF" },
	{ "RUN echo \"<<A\" '<<B' \\<<C <<D", "D" },
	{ "RUN <<EOF${x} <<${y:-a}", "EOF${x},${y:-a}" },
	{ "COPY <<-\"A\" <<B'' 2<<C /x", "!A,!B,C" },
	{ "RUN <<'EOF", "" },
	{ "RUN <<EOF \"unterminated", "" },
	{ "RUN <<<EOF <EOF", "" },
};

static void test_heredoc_lines(void)
{
	for (size_t k = 0; k < sizeof(heredoc_lines) / sizeof(heredoc_lines[0]); k++) {
		const struct heredoc_line_case *c = &heredoc_lines[k];
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_buf_ struct buf got = BUF_INIT(BUF_UNLIMITED);
		struct dockerfile_heredoc *docs = NULL;
		size_t n = 0;

		tap_ok(dockerfile_heredocs_from_line(c->line, strlen(c->line), &docs, &n, &err) ==
			       0,
		       "heredocs of '%s' found", c->line);
		for (size_t i = 0; i < n; i++) {
			buf_addf(&got, "%s%s%s", i ? "," : "", docs[i].expand ? "" : "!",
				 docs[i].name);
			dockerfile_heredoc_release(&docs[i]);
		}
		free(docs);
		tap_streq(got.data, c->names, "heredocs of '%s'", c->line);
	}
}

static void test_limits(void)
{
	struct dockerfile_limits lim = dockerfile_default_limits;
	_cleanup_buf_ struct buf big = BUF_INIT(BUF_UNLIMITED);
	_cleanup_error_ struct plate_error *err = NULL;
	struct dockerfile *df = NULL;

	tap_ok(dockerfile_parse(NULL, 0, NULL, &df, &err) == -1 && err->line == 1 && df == NULL,
	       "no bytes at all is 'file with no instructions'");
	plate_error_free(err);
	err = NULL;
	tap_ok(lim.max_file == 8u << 20 && lim.max_line == 1u << 20 &&
		       lim.max_heredoc == 4u << 20 && lim.max_instructions == 100000,
	       "default limits");
	/* A heredoc body may be longer than max_line: only max_heredoc bounds it. */
	buf_addstr(&big, "FROM a\nCOPY <<EOF /x\n");
	for (int k = 0; k < 3000; k++)
		buf_addstr(&big, "0123456789");
	buf_addstr(&big, "\nEOF\n");
	lim.max_line = 1000;
	tap_ok(dockerfile_parse(big.data, big.len, &lim, &df, &err) == 0 && df != NULL &&
		       strlen(df->instructions[1].heredocs[0].content) == 30001,
	       "a heredoc line longer than max_line is fine");
	dockerfile_free(df);
}

int main(void)
{
	test_errors();
	test_dumps();
	test_locations();
	test_heredoc_lines();
	test_limits();
	return tap_done();
}
