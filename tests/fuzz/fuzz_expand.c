/*
 * Fuzz target for dockerfile_expand_word() / dockerfile_expand_words().
 *
 * Input: the first byte picks the mode, the rest is the word.
 *   bit 0  DOCKERFILE_EXPAND_RAW_QUOTES
 *   bit 1  DOCKERFILE_EXPAND_SKIP_UNSET
 *   bit 2  escape character '`' instead of '\'
 *   bit 3  word splitting (dockerfile_expand_words)
 * A few variables are always set, chosen to reach the pattern and splitting code.
 *
 * Beyond "no crash, no leak, bounded time" it checks: an error is set exactly on failure,
 * outputs stay under the 1 MiB cap, word lists are NULL-terminated without empty words, the
 * same input gives the same answer twice, a word holding NUL is refused, and a word without
 * `$`, quotes or the escape character comes back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerfile.h"

#define CAP ((size_t)1 << 20)

static void check(bool cond)
{
	if (!cond)
		abort();
}

static void fill_vars(struct dockerfile_vars *vars)
{
	/* clang-format off */
	static const char *const pairs[][2] = {
		{ "PWD", "/home" },     { "E", "" },	     { "S", "a b  c " },
		{ "P", "*" },	        { "K", "한국어" },   { "NL", "x\ny" },
		{ "BS", "\\" },	        { "D", "$0$$" },     { "Q", "'\"" },
		{ "R", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" },
	};
	/* clang-format on */

	dockerfile_vars_init(vars);
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		check(dockerfile_vars_set(vars, pairs[i][0], pairs[i][1]) == 0);
}

static int expand_once(const char *word, size_t len, char escape,
		       const struct dockerfile_vars *vars, unsigned flags, bool split, char **out,
		       char ***words, size_t *n)
{
	struct plate_error *err = NULL;
	int r;

	if (split)
		r = dockerfile_expand_words(word, len, escape, vars, flags, words, n, &err);
	else
		r = dockerfile_expand_word(word, len, escape, vars, flags, out, &err);
	check((r < 0) == (err != NULL));
	check(r == 0 || r == -1);
	if (err != NULL)
		check(err->message != NULL && err->message[0] != '\0');
	plate_error_free(err);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dockerfile_vars vars;
	unsigned flags = 0;
	char escape = '\\';
	bool split;
	const char *word;
	size_t len;
	char *out1 = NULL, *out2 = NULL, **w1 = NULL, **w2 = NULL;
	size_t n1 = 0, n2 = 0;
	int r1, r2;

	if (size == 0)
		return 0;
	if (data[0] & 1)
		flags |= DOCKERFILE_EXPAND_RAW_QUOTES;
	if (data[0] & 2)
		flags |= DOCKERFILE_EXPAND_SKIP_UNSET;
	if (data[0] & 4)
		escape = '`';
	split = data[0] & 8;
	word = (const char *)data + 1;
	len = size - 1;

	fill_vars(&vars);
	r1 = expand_once(word, len, escape, &vars, flags, split, &out1, &w1, &n1);
	r2 = expand_once(word, len, escape, &vars, flags, split, &out2, &w2, &n2);
	check(r1 == r2);
	if (memchr(word, '\0', len) != NULL)
		check(r1 < 0);
	if (r1 == 0 && !split) {
		check(strlen(out1) <= CAP && strcmp(out1, out2) == 0);
		if (memchr(word, '\0', len) == NULL && memchr(word, '$', len) == NULL &&
		    memchr(word, '\'', len) == NULL && memchr(word, '"', len) == NULL &&
		    memchr(word, escape, len) == NULL)
			check(strlen(out1) == len && memcmp(out1, word, len) == 0);
	}
	if (r1 == 0 && split) {
		check(w1 != NULL && w1[n1] == NULL && n1 == n2);
		for (size_t i = 0; i < n1; i++)
			check(w1[i][0] != '\0' && strlen(w1[i]) <= CAP &&
			      strcmp(w1[i], w2[i]) == 0);
	}
	free(out1);
	free(out2);
	if (w1 != NULL)
		for (size_t i = 0; i < n1; i++)
			free(w1[i]);
	if (w2 != NULL)
		for (size_t i = 0; i < n2; i++)
			free(w2[i]);
	free(w1);
	free(w2);
	dockerfile_vars_release(&vars);
	return 0;
}
