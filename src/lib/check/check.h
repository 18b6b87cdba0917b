/*
 * check/check.h — findings: what the image doctor and the Dockerfile checks report.
 *
 * Purpose
 *   One representation for every finding plate reports about a Dockerfile, a build context
 *   or a built image, so `plate check`, `plate build` and `--format json` show them alike.
 *   A finding has a stable ID (BuildKit's rule names for Dockerfile checks, e.g.
 *   "StageNameCasing"; CamelCase names of the same style for the doctor, e.g. "RunsAsRoot"),
 *   a severity, where it is (a file and line, and/or a path inside the image), a one-line
 *   message and a one-line fix.
 *
 * Policy
 *   `# check=skip=ID,ID` (or `skip=all`) drops findings; `# check=error=true` and `--strict`
 *   raise warnings to errors.  check_report_apply_policy() does both; the caller decides the
 *   exit status from check_report_count() (DESIGN.md: 3 when an error remains).
 *
 * Rendering
 *   Text, one finding per two lines:
 *       Dockerfile:12: warning: image runs as root [RunsAsRoot]
 *           fix: add `USER 65534:65534` to the final stage
 *   the location being FILE:LINE, FILE, or `image:/path` when only an image path is known.
 *   JSON: {"findings":[{"id","severity","file","line","path","message","fix"}...],
 *          "summary":{"error":N,"warning":N,"info":N}} with absent fields left out.
 *
 * Ownership
 *   A report owns copies of every string added to it; release it with check_report_release().
 */
#ifndef PLATE_CHECK_H
#define PLATE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"

enum check_severity {
	CHECK_INFO,
	CHECK_WARNING,
	CHECK_ERROR,
};

struct check_finding {
	char *id;
	enum check_severity severity;
	char *file;    /* NULL when the finding is about the image only */
	unsigned line; /* 1-based; 0 when no line applies */
	char *path;    /* a path inside the image, or NULL */
	char *message;
	char *fix;     /* NULL when there is no one-line fix */
};

struct check_report {
	struct check_finding *items;
	size_t n, alloc;
};

#define CHECK_REPORT_INIT { .items = NULL, .n = 0, .alloc = 0 }

const char *check_severity_name(enum check_severity s);

/* Adds a finding; file, path and fix may be NULL.  The message is printf-formatted. */
int check_report_add(struct check_report *r, const char *id, enum check_severity severity,
		     const char *file, unsigned line, const char *path, const char *fix,
		     struct plate_error **err, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

void check_report_release(struct check_report *r);

/* skip: IDs to drop (case-sensitive, as BuildKit), "all" drops every finding; NULL-terminated
 * or NULL.  errors_on_warnings raises every warning to an error. */
void check_report_apply_policy(struct check_report *r, const char *const *skip,
			       bool errors_on_warnings);

size_t check_report_count(const struct check_report *r, enum check_severity severity);

/* Stable order: file, line, path, id; findings with no file come last. */
void check_report_sort(struct check_report *r);

int check_report_render_text(const struct check_report *r, struct buf *out);
int check_report_render_json(const struct check_report *r, struct buf *out,
			     struct plate_error **err);

#endif
