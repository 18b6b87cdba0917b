/*
 * Fuzz target for ignore/: the input up to its last '\n' is a .dockerignore, the rest a
 * path.  The file goes through ignore_file_parse() + ignore_new(), and its raw lines through
 * ignore_new() directly; the path is matched.  Two properties are checked (abort on
 * violation): for a clean path the walk API agrees with ignore_match(), and a directory
 * reported skippable has the path excluded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "ignore/ignore.h"
#include "ignore/ignore_internal.h"

static void check(const struct ignore *m, const char *path)
{
	bool excluded = ignore_match(m, path);
	struct ignore_dir dir = IGNORE_DIR_ROOT, next;
	char *buf;

	if (!ignore_is_clean_relative(path, strlen(path)))
		return;
	buf = strdup(path);
	if (buf == NULL)
		return;
	for (char *s = buf; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		ignore_match_entry(m, &dir, buf, &next);
		dir = next;
		if (ignore_dir_skippable(m, &dir, buf) && !excluded)
			abort(); /* a skipped directory would hide an included path */
		*s = '/';
	}
	if (ignore_match_entry(m, &dir, path, NULL) != excluded)
		abort(); /* the two APIs disagree */
	free(buf);
}

static void run(const char *const *pats, size_t n, const char *path)
{
	struct ignore *m = NULL;
	struct plate_error *err = NULL;

	if (ignore_new(pats, n, &m, &err) < 0) {
		plate_error_free(err);
		return;
	}
	check(m, path);
	ignore_has_exceptions(m);
	ignore_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memrchr(in, '\n', size);
	size_t flen = nl ? (size_t)(nl - in) : 0;
	char *path, *file, **pats = NULL;
	const char **lines;
	size_t n = 0, nlines = 0;
	struct plate_error *err = NULL;

	path = strndup(nl ? nl + 1 : in, nl ? size - flen - 1 : size);
	file = malloc(flen + 1);
	lines = calloc(flen + 2, sizeof(*lines));
	if (path == NULL || file == NULL || lines == NULL)
		goto out;
	memcpy(file, in, flen);
	file[flen] = '\0';

	if (ignore_file_parse(file, flen, &pats, &n, &err) == 0)
		run((const char *const *)pats, n, path);
	plate_error_free(err);
	strv_free(pats, n);

	/* the raw lines, untrimmed and uncleaned (a NUL just ends a line early) */
	for (char *s = file; s != NULL && nlines <= flen; nlines++) {
		lines[nlines] = s;
		s = strchr(s, '\n');
		if (s != NULL)
			*s++ = '\0';
	}
	run(lines, nlines, path);
out:
	free(path);
	free(file);
	free(lines);
	return 0;
}
