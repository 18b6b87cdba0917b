#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "finding/finding.h"
#include "json/json.h"

const char *finding_severity_name(enum finding_severity s)
{
	switch (s) {
	case FINDING_INFO:
		return "info";
	case FINDING_WARNING:
		return "warning";
	case FINDING_ERROR:
		return "error";
	default:
		return "unknown";
	}
}

static void finding_release(struct finding *f)
{
	free(f->id);
	free(f->file);
	free(f->path);
	free(f->message);
	free(f->fix);
}

static int dup_optional(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -1;
}

int finding_report_add(struct finding_report *r, const char *id, enum finding_severity severity,
		       const char *file, unsigned line, const char *path, const char *fix,
		       struct plate_error **err, const char *fmt, ...)
{
	struct finding f = { .severity = severity, .line = line };
	va_list ap;
	int n;

	if (r->n == r->alloc) {
		size_t want = r->alloc ? r->alloc * 2 : 8;
		struct finding *grown = reallocarray(r->items, want, sizeof(*grown));
		if (!grown)
			return plate_err_new(err, ENOMEM, "out of memory adding finding '%s'", id);
		r->items = grown;
		r->alloc = want;
	}
	va_start(ap, fmt);
	n = vasprintf(&f.message, fmt, ap);
	va_end(ap);
	if (n < 0) {
		f.message = NULL;
		goto oom;
	}
	if (dup_optional(id, &f.id) < 0 || dup_optional(file, &f.file) < 0 ||
	    dup_optional(path, &f.path) < 0 || dup_optional(fix, &f.fix) < 0)
		goto oom;
	r->items[r->n++] = f;
	return 0;
oom:
	finding_release(&f);
	return plate_err_new(err, ENOMEM, "out of memory adding finding '%s'", id);
}

void finding_report_release(struct finding_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		finding_release(&r->items[i]);
	free(r->items);
	*r = (struct finding_report)FINDING_REPORT_INIT;
}

static bool skipped(const char *id, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strcmp(*skip, "all") == 0 || strcmp(*skip, id) == 0)
			return true;
	return false;
}

void finding_report_apply_policy(struct finding_report *r, const char *const *skip,
				 bool errors_on_warnings)
{
	size_t kept = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct finding *f = &r->items[i];
		if (skipped(f->id, skip)) {
			finding_release(f);
			continue;
		}
		if (errors_on_warnings && f->severity == FINDING_WARNING)
			f->severity = FINDING_ERROR;
		r->items[kept++] = *f;
	}
	r->n = kept;
}

size_t finding_report_count(const struct finding_report *r, enum finding_severity severity)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->items[i].severity == severity;
	return n;
}

static int cmp_optional(const char *a, const char *b)
{
	if (!a || !b)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

static int finding_cmp(const void *pa, const void *pb)
{
	const struct finding *a = pa, *b = pb;
	int c = cmp_optional(a->file, b->file);

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	c = cmp_optional(a->path, b->path);
	return c ? c : strcmp(a->id, b->id);
}

void finding_report_sort(struct finding_report *r)
{
	if (r->n > 1)
		qsort(r->items, r->n, sizeof(*r->items), finding_cmp);
}

static int render_location(const struct finding *f, struct buf *out)
{
	if (f->file && f->line)
		return buf_addf(out, "%s:%u", f->file, f->line);
	if (f->file)
		return buf_addstr(out, f->file);
	if (f->path)
		return buf_addf(out, "image:%s", f->path);
	return buf_addstr(out, "image");
}

int finding_report_render_text(const struct finding_report *r, struct buf *out)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->items[i];
		if (render_location(f, out) < 0 ||
		    buf_addf(out, ": %s: %s [%s]\n", finding_severity_name(f->severity), f->message,
			     f->id) < 0)
			return -1;
		if (f->fix && buf_addf(out, "    fix: %s\n", f->fix) < 0)
			return -1;
	}
	return 0;
}

static int set_optional(json_t *obj, const char *key, const char *value)
{
	return value ? json_object_set_new(obj, key, json_string(value)) : 0;
}

int finding_report_render_json(const struct finding_report *r, struct buf *out,
			       struct plate_error **err)
{
	_cleanup_free_ char *text = NULL;
	json_t *doc = json_object(), *list = json_array(), *summary = json_object();
	size_t len = 0;
	int rc = -1;

	if (!doc || !list || !summary)
		goto oom;
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->items[i];
		json_t *o = json_object();
		if (!o || json_array_append_new(list, o) < 0 ||
		    json_object_set_new(o, "id", json_string(f->id)) < 0 ||
		    json_object_set_new(o, "severity",
					json_string(finding_severity_name(f->severity))) < 0 ||
		    set_optional(o, "file", f->file) < 0 ||
		    (f->line && json_object_set_new(o, "line", json_integer(f->line)) < 0) ||
		    set_optional(o, "path", f->path) < 0 ||
		    json_object_set_new(o, "message", json_string(f->message)) < 0 ||
		    set_optional(o, "fix", f->fix) < 0)
			goto oom;
	}
	for (enum finding_severity s = FINDING_INFO; s <= FINDING_ERROR; s++)
		if (json_object_set_new(summary, finding_severity_name(s),
					json_integer((json_int_t)finding_report_count(r, s))) < 0)
			goto oom;
	if (json_object_set(doc, "findings", list) < 0 ||
	    json_object_set(doc, "summary", summary) < 0)
		goto oom;
	if (json_canonical(doc, &text, &len, err) < 0)
		goto out;
	if (buf_add(out, text, len) < 0 || buf_addch(out, '\n') < 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	rc = plate_err_new(err, ENOMEM,
			   "cannot render findings as JSON (out of memory or text not UTF-8)");
out:
	json_decref(list);
	json_decref(summary);
	json_decref(doc);
	return rc;
}
