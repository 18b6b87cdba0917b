/*
 * The Dockerfile parser against BuildKit's own parser tests (conformance/dockerfile-parser,
 * read at test time) and the 50 real-world Dockerfiles.  plate's own cases (errors with
 * exact locations, limits, quoting) are in test_dockerfile_cases.c.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerfile_internal.h"
#include "tap.h"

static char *path_join(const char *a, const char *b)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		abort();
	return p;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of a directory (no dot files), NULL-terminated. */
static char **list_dir(const char *dir, const char *suffix, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), sl = suffix ? strlen(suffix) : 0;

		if (de->d_name[0] == '.' || l < sl ||
		    (suffix && strcmp(de->d_name + l - sl, suffix)))
			continue;
		v = realloc(v, (*n + 2) * sizeof(*v));
		v[(*n)++] = strdup(de->d_name);
		v[*n] = NULL;
	}
	closedir(d);
	if (v != NULL)
		qsort(v, *n, sizeof(*v), cmp_names);
	return v;
}

static struct dockerfile *parse_file(const char *path, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	struct dockerfile *df = NULL;
	size_t len;

	data = tap_read_file(path, &len);
	if (data == NULL) {
		plate_err_new(err, 0, "cannot read '%s'", path);
		return NULL;
	}
	if (dockerfile_parse(data, len, NULL, &df, err) < 0)
		return NULL;
	return df;
}

static void test_testfiles(const char *conf)
{
	_cleanup_free_ char *dir = path_join(conf, "dockerfile-parser/testfiles");
	size_t n, pass = 0;
	char **names = list_dir(dir, NULL, &n);

	tap_ok(n == 33, "33 positive parser cases found (%zu)", n);
	for (size_t k = 0; k < n; k++) {
		_cleanup_free_ char *case_dir = path_join(dir, names[k]);
		_cleanup_free_ char *df_path = path_join(case_dir, "Dockerfile");
		_cleanup_free_ char *res_path = path_join(case_dir, "result");
		_cleanup_free_ char *want = tap_read_file(res_path, NULL);
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
		struct dockerfile *df = parse_file(df_path, &err);

		if (df == NULL) {
			tap_ok(false, "testfiles/%s parses (%s at %u:%u)", names[k], err->message,
			       err->line, err->column);
			continue;
		}
		tap_ok(dockerfile_dump(df, &out) == 0, "testfiles/%s dumps", names[k]);
		if (tap_streq(out.data, want ? want : "(missing result)",
			      "testfiles/%s dump equals result", names[k]))
			pass++;
		dockerfile_free(df);
	}
	tap_diag("BuildKit parser dumps: %zu/%zu identical", pass, n);
	strv_free(names, n);
}

static void test_negative(const char *conf)
{
	_cleanup_free_ char *dir = path_join(conf, "dockerfile-parser/testfiles-negative");
	size_t n;
	char **names = list_dir(dir, NULL, &n);

	tap_ok(n == 4, "4 negative parser cases found (%zu)", n);
	for (size_t k = 0; k < n; k++) {
		_cleanup_free_ char *case_dir = path_join(dir, names[k]);
		_cleanup_free_ char *df_path = path_join(case_dir, "Dockerfile");
		_cleanup_error_ struct plate_error *err = NULL;
		struct dockerfile *df = parse_file(df_path, &err);

		tap_ok(df == NULL && err != NULL && err->line > 0 && err->column > 0,
		       "testfiles-negative/%s fails with a located error (%s at %u:%u)", names[k],
		       err ? err->message : "no error", err ? err->line : 0, err ? err->column : 0);
		dockerfile_free(df);
	}
	strv_free(names, n);
}

static void test_line_numbers(const char *conf)
{
	_cleanup_free_ char *df_path =
		path_join(conf, "dockerfile-parser/testfile-line/Dockerfile");
	_cleanup_free_ char *tsv_path =
		path_join(conf, "dockerfile-parser/testfile-line/expected-lines.tsv");
	_cleanup_free_ char *tsv = tap_read_file(tsv_path, NULL);
	_cleanup_error_ struct plate_error *err = NULL;
	struct dockerfile *df = parse_file(df_path, &err);
	char *save = NULL, *line;
	int rows = 0;

	if (!tap_ok(df != NULL && tsv != NULL, "testfile-line parses"))
		return;
	for (line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char node[32];
		unsigned start, end, got_start, got_end;
		size_t child;

		if (sscanf(line, "%31s %u %u", node, &start, &end) != 3)
			continue;
		rows++;
		if (strcmp(node, "root") == 0) {
			got_start = df->instructions[0].start_line;
			got_end = df->instructions[df->n_instructions - 1].end_line;
			tap_ok(df->n_instructions == 3, "root has 3 instructions");
		} else if (sscanf(node, "child%zu", &child) == 1 && child < df->n_instructions) {
			got_start = df->instructions[child].start_line;
			got_end = df->instructions[child].end_line;
		} else {
			tap_ok(false, "unknown node %s", node);
			continue;
		}
		tap_ok(got_start == start && got_end == end, "%s spans %u-%u (got %u-%u)", node,
		       start, end, got_start, got_end);
	}
	tap_ok(rows == 4, "4 line-number rows checked");
	dockerfile_free(df);
}

static bool heredoc_matches(const struct dockerfile_heredoc *h, json_t *want)
{
	const char *name = json_string_value(json_object_get(want, "name"));
	const char *content = json_string_value(json_object_get(want, "content"));

	return name && content && strcmp(h->name, name) == 0 && h->content &&
	       strcmp(h->content, content) == 0 &&
	       h->expand == json_is_true(json_object_get(want, "expand")) &&
	       h->chomp == json_is_true(json_object_get(want, "chomp")) &&
	       h->fd == json_integer_value(json_object_get(want, "fd"));
}

/* Checks every {"child", "heredocs"} row of a jsonl file against a parsed Dockerfile. */
static void check_heredoc_rows(const char *label, const char *df_path, const char *jsonl_path)
{
	_cleanup_free_ char *jsonl = tap_read_file(jsonl_path, NULL);
	_cleanup_error_ struct plate_error *err = NULL;
	struct dockerfile *df = parse_file(df_path, &err);
	char *save = NULL, *line;
	int rows = 0;

	if (!tap_ok(df != NULL && jsonl != NULL, "%s parses (%s)", label,
		    err ? err->message : "ok"))
		return;
	for (line = strtok_r(jsonl, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *row = json_loads(line, 0, NULL);
		json_t *docs = json_object_get(row, "heredocs");
		size_t child = (size_t)json_integer_value(json_object_get(row, "child"));
		const struct dockerfile_instruction *inst;
		bool ok;

		if (row == NULL)
			continue;
		rows++;
		if (child >= df->n_instructions) {
			tap_ok(false, "%s child %zu exists", label, child);
			json_decref(row);
			continue;
		}
		inst = &df->instructions[child];
		if (json_is_null(docs)) {
			ok = inst->n_heredocs == 0;
		} else {
			ok = inst->n_heredocs == json_array_size(docs);
			for (size_t k = 0; ok && k < inst->n_heredocs; k++)
				ok = heredoc_matches(&inst->heredocs[k], json_array_get(docs, k));
		}
		tap_ok(ok, "%s child %zu (%s) heredocs", label, child, inst->original);
		json_decref(row);
	}
	tap_ok(rows > 0, "%s: %d rows checked", label, rows);
	dockerfile_free(df);
}

static void test_heredoc_words(const char *conf)
{
	_cleanup_free_ char *path =
		path_join(conf, "dockerfile-parser/heredoc/parse-heredoc-word.tsv");
	_cleanup_free_ char *tsv = tap_read_file(path, NULL);
	char *p = tsv, *nl;
	int rows = 0;

	if (!tap_ok(tsv != NULL, "parse-heredoc-word.tsv read"))
		return;
	for (bool header = true; p && *p; p = nl ? nl + 1 : NULL, header = false) {
		_cleanup_error_ struct plate_error *err = NULL;
		struct dockerfile_heredoc h = { 0 };
		char *tab, *want;
		int rc;

		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		tab = strchr(p, '\t');
		if (header || tab == NULL)
			continue;
		*tab = '\0';
		want = tab + 1;
		rows++;
		rc = dockerfile_heredoc_parse_word(p, strlen(p), &h, &err);
		if (strcmp(want, "error") == 0)
			tap_ok(rc < 0 && err != NULL, "word '%s' is a heredoc error", p);
		else if (strcmp(want, "none") == 0)
			tap_ok(rc == 0, "word '%s' is not a heredoc", p);
		else
			tap_ok(rc == 1 && strcmp(h.name, want) == 0, "word '%s' is heredoc %s", p,
			       want);
		dockerfile_heredoc_release(&h);
	}
	tap_ok(rows == 20, "20 heredoc words checked (%d)", rows);
}

static void test_heredocs_from_line(const char *conf)
{
	_cleanup_free_ char *path =
		path_join(conf, "dockerfile-parser/heredoc/heredocs-from-line.tsv");
	_cleanup_free_ char *tsv = tap_read_file(path, NULL);
	char *p = tsv, *nl;
	int rows = 0;

	if (!tap_ok(tsv != NULL, "heredocs-from-line.tsv read"))
		return;
	for (bool header = true; p && *p; p = nl ? nl + 1 : NULL, header = false) {
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_buf_ struct buf names = BUF_INIT(BUF_UNLIMITED);
		struct dockerfile_heredoc *docs = NULL;
		size_t n = 0;
		char *tab;
		int rc;

		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		tab = strchr(p, '\t');
		if (header || tab == NULL)
			continue;
		*tab = '\0';
		rows++;
		rc = dockerfile_heredocs_from_line(p, strlen(p), &docs, &n, &err);
		for (size_t k = 0; k < n; k++) {
			buf_addf(&names, "%s%s", k ? "," : "", docs[k].name);
			dockerfile_heredoc_release(&docs[k]);
		}
		free(docs);
		tap_ok(rc == 0, "line '%s' lexes", p);
		tap_streq(names.data, tab + 1, "heredocs of line '%s'", p);
	}
	tap_ok(rows == 9, "9 heredoc lines checked (%d)", rows);
}

static void test_json_arrays(const char *conf)
{
	_cleanup_free_ char *path = path_join(conf, "dockerfile-parser/json-arrays.jsonl");
	_cleanup_free_ char *jsonl = tap_read_file(path, NULL);
	char *save = NULL, *line;
	int rows = 0;

	if (!tap_ok(jsonl != NULL, "json-arrays.jsonl read"))
		return;
	for (line = strtok_r(jsonl, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *row = json_loads(line, JSON_ALLOW_NUL, NULL);
		json_t *input = json_object_get(row, "input"),
		       *want = json_object_get(row, "expected");
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_error_ struct plate_error *err2 = NULL;
		const char *text = json_string_value(input);
		char **args = NULL, **args2 = NULL;
		size_t *lens = NULL, n = 0, n2 = 0;
		int rc, rc2;
		bool ok;

		if (text == NULL)
			continue;
		rows++;
		rc = dockerfile_json_array_parse(text, json_string_length(input), &args, &lens, &n,
						 &err);
		rc2 = dockerfile_parse_json_array(text, json_string_length(input), &args2, &n2,
						  &err2);
		if (want == NULL) {
			tap_ok(rc == -1 && err != NULL && rc2 == -1, "%s is an error", text);
		} else {
			ok = rc == 1 && rc2 == 1 && n == json_array_size(want) && n2 == n;
			for (size_t k = 0; ok && k < n; k++) {
				json_t *e = json_array_get(want, k);
				size_t el = json_string_length(e);

				ok = lens[k] == el &&
				     memcmp(args[k], json_string_value(e), el) == 0 &&
				     strcmp(args2[k], args[k]) == 0;
			}
			tap_ok(ok, "%s decodes as expected", text);
		}
		strv_free(args, n);
		strv_free(args2, n2);
		free(lens);
		json_decref(row);
	}
	tap_ok(rows == 16, "16 JSON array rows checked (%d)", rows);
}

static void test_realworld(const char *conf)
{
	_cleanup_free_ char *dir = path_join(conf, "realworld");
	size_t n, pass = 0;
	char **names = list_dir(dir, ".Dockerfile", &n);

	tap_ok(n == 50, "50 real-world Dockerfiles found (%zu)", n);
	for (size_t k = 0; k < n; k++) {
		_cleanup_free_ char *p = path_join(dir, names[k]);
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
		struct dockerfile *df = parse_file(p, &err);

		if (tap_ok(df != NULL && dockerfile_dump(df, &out) == 0, "realworld/%s parses (%s)",
			   names[k], err ? err->message : "ok"))
			pass++;
		dockerfile_free(df);
	}
	tap_diag("real-world Dockerfiles: %zu/%zu parse", pass, n);
	strv_free(names, n);
}

int main(void)
{
	const char *conf = tap_conformance_dir();
	_cleanup_free_ char *hd = path_join(conf, "dockerfile-parser/heredoc");
	_cleanup_free_ char *ex_df = path_join(hd, "extracts.Dockerfile");
	_cleanup_free_ char *ex_jl = path_join(hd, "extracts.expected.jsonl");
	_cleanup_free_ char *nh_df = path_join(hd, "json-form-no-heredoc.Dockerfile");
	_cleanup_free_ char *nh_jl = path_join(hd, "json-form-no-heredoc.expected.jsonl");

	test_testfiles(conf);
	test_negative(conf);
	test_line_numbers(conf);
	check_heredoc_rows("heredoc/extracts", ex_df, ex_jl);
	check_heredoc_rows("heredoc/json-form-no-heredoc", nh_df, nh_jl);
	test_heredoc_words(conf);
	test_heredocs_from_line(conf);
	test_json_arrays(conf);
	test_realworld(conf);
	return tap_done();
}
