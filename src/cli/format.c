/*
 * --format for images, inspect and history, as docker reads it: a Go template run once per
 * item (json/json.h), "json" for one JSON object per line, and a "table" prefix for columns
 * separated by tabs, aligned as docker's tabwriter does (cells padded by 3, at least 10
 * wide), under a header row that is the template run over the column names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "cli.h"

/* Most of the output of one command; a template that asks for more fails with EFBIG. */
#define FORMAT_OUTPUT_MAX ((size_t)64 << 20)

/* docker reads "\t" and "\n" in a format as a tab and a newline (a shell argument rarely
 * holds a real tab). */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && (s[1] == 't' || s[1] == 'n')) {
			*o++ = s[1] == 't' ? '\t' : '\n';
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

int cli_format_init(struct cli_format *f, const char *spec, const char *default_table,
		    struct plate_error **err)
{
	_cleanup_free_ char *text = NULL;

	*f = (struct cli_format){ 0 };
	buf_init(&f->rows, FORMAT_OUTPUT_MAX);
	if (strcmp(spec, "json") == 0) {
		f->json = true;
		return 0;
	}
	if (strncmp(spec, "table", 5) == 0 &&
	    (spec[5] == '\0' || spec[5] == ' ' || spec[5] == '\t')) {
		f->table = true;
		spec += 5 + strspn(spec + 5, " \t");
		if (*spec == '\0')
			spec = default_table;
	}
	if ((text = unescape(spec)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (json_template_parse(text, strlen(text), &f->t, err) < 0)
		return plate_err_wrap(err, "--format");
	return 0;
}

void cli_format_release(struct cli_format *f)
{
	json_template_free(f->t);
	buf_release(&f->rows);
}

int cli_format_row(struct cli_format *f, json_t *item, struct plate_error **err)
{
	if (f->json) {
		_cleanup_free_ char *text = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		printf("%s\n", text);
		return 0;
	}
	if (json_template_execute(f->t, item, &f->rows, err) < 0 || buf_addch(&f->rows, '\n') < 0)
		return plate_err_wrap(err, "--format");
	if (!f->table) {
		fwrite(f->rows.data, 1, f->rows.len, stdout);
		buf_reset(&f->rows);
	}
	return 0;
}

/* The widths of the tab-separated cells of every line (the last cell of a line is not
 * padded, as in Go's tabwriter). */
static size_t *column_widths(const char *text, size_t *n_cols)
{
	size_t *w = NULL, n = 0;

	for (const char *line = text; *line != '\0';) {
		const char *end = strchrnul(line, '\n');
		size_t col = 0;
		for (const char *cell = line; cell < end; col++) {
			const char *tab = memchr(cell, '\t', (size_t)(end - cell));
			if (tab == NULL)
				break;
			if (col >= n) {
				size_t *grown = realloc(w, (col + 1) * sizeof(*w));
				if (grown == NULL) {
					free(w);
					return NULL;
				}
				w = grown;
				w[n++] = 0;
			}
			if ((size_t)(tab - cell) > w[col])
				w[col] = (size_t)(tab - cell);
			cell = tab + 1;
		}
		line = *end ? end + 1 : end;
	}
	*n_cols = n;
	return w ? w : calloc(1, sizeof(*w));
}

int cli_format_end(struct cli_format *f, json_t *header, struct plate_error **err)
{
	_cleanup_free_ size_t *widths = NULL;
	size_t n_cols;

	if (!f->table)
		return 0;
	{
		/* The header goes first: run the template over the column names, put it in front. */
		struct buf all;
		buf_init(&all, FORMAT_OUTPUT_MAX);
		if (json_template_execute(f->t, header, &all, err) < 0 ||
		    buf_addch(&all, '\n') < 0 || buf_add(&all, f->rows.data, f->rows.len) < 0) {
			buf_release(&all);
			return *err ? -1 : plate_err_new(err, EFBIG, "--format: output too large");
		}
		buf_release(&f->rows);
		f->rows = all;
	}
	if ((widths = column_widths(f->rows.data, &n_cols)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (const char *line = f->rows.data; *line != '\0';) {
		const char *end = strchrnul(line, '\n'), *cell = line;
		for (size_t col = 0;; col++) {
			const char *tab = memchr(cell, '\t', (size_t)(end - cell));
			if (tab == NULL) {
				printf("%.*s\n", (int)(end - cell), cell);
				break;
			}
			size_t w = widths[col] + 3 < 10 ? 10 : widths[col] + 3;
			printf("%-*.*s", (int)w, (int)(tab - cell), cell);
			cell = tab + 1;
		}
		line = *end ? end + 1 : end;
	}
	return 0;
}

int cli_parse_time(const char *rfc3339, time_t *out)
{
	struct tm tm = { 0 };
	const char *rest;

	if (rfc3339 == NULL || (rest = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	*out = timegm(&tm);
	/* Fractions of a second and a zone other than Z (+hh:mm) */
	if (*rest == '.')
		rest += 1 + strspn(rest + 1, "0123456789");
	if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
		int h = (rest[1] - '0') * 10 + (rest[2] - '0'),
		    m = (rest[4] - '0') * 10 + (rest[5] - '0');
		*out -= (*rest == '+' ? 1 : -1) * (time_t)(h * 3600 + m * 60);
	}
	return 0;
}

void cli_created_since(time_t created, time_t now, char *out, size_t size)
{
	long long s = (long long)difftime(now, created), m = s / 60, h = (s + 1800) / 3600;

	/* The thresholds of docker's "N units ago" (go-units' HumanDuration). */
	if (s < 1)
		snprintf(out, size, "Less than a second ago");
	else if (s == 1)
		snprintf(out, size, "1 second ago");
	else if (s < 60)
		snprintf(out, size, "%lld seconds ago", s);
	else if (m == 1)
		snprintf(out, size, "About a minute ago");
	else if (m < 60)
		snprintf(out, size, "%lld minutes ago", m);
	else if (h == 1)
		snprintf(out, size, "About an hour ago");
	else if (h < 48)
		snprintf(out, size, "%lld hours ago", h);
	else if (h < 24 * 7 * 2)
		snprintf(out, size, "%lld days ago", h / 24);
	else if (h < 24 * 30 * 2)
		snprintf(out, size, "%lld weeks ago", h / 24 / 7);
	else if (h < 24 * 365 * 2)
		snprintf(out, size, "%lld months ago", h / 24 / 30);
	else
		snprintf(out, size, "%lld years ago", s / 3600 / 24 / 365);
}

void cli_created_at(time_t created, char *out, size_t size)
{
	struct tm tm;

	/* Go's time.Time.String() in UTC, as docker's CreatedAt. */
	if (gmtime_r(&created, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm) == 0)
		snprintf(out, size, "N/A");
}
