/*
 * finding/finding.h — findings: what the image doctor and the Dockerfile checks report.
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
 *   raise warnings to errors.  finding_report_apply_policy() does both; the caller decides the
 *   exit status from finding_report_count() (DESIGN.md: 3 when an error remains).
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
 *   A report owns copies of every string added to it; release it with finding_report_release().
 *
 * Layering
 *   Depends on base and json only, so the Dockerfile checks (lint/) and the image doctor
 *   (check/) share it without depending on each other.  Pure: no I/O.
 */
#ifndef PLATE_FINDING_H
#define PLATE_FINDING_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"

enum finding_severity {
	FINDING_INFO,
	FINDING_WARNING,
	FINDING_ERROR,
};

struct finding {
	char *id;
	enum finding_severity severity;
	char *file;    /* NULL when the finding is about the image only */
	unsigned line; /* 1-based; 0 when no line applies */
	char *path;    /* a path inside the image, or NULL */
	char *message;
	char *fix; /* NULL when there is no one-line fix */
};

struct finding_report {
	struct finding *items;
	size_t n, alloc;
};

#define FINDING_REPORT_INIT                       \
	{                                         \
		.items = NULL, .n = 0, .alloc = 0 \
	}

const char *finding_severity_name(enum finding_severity s);

/* Adds a finding; file, path and fix may be NULL.  The message is printf-formatted. */
int finding_report_add(struct finding_report *r, const char *id, enum finding_severity severity,
		       const char *file, unsigned line, const char *path, const char *fix,
		       struct plate_error **err, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

void finding_report_release(struct finding_report *r);

/* skip: IDs to drop (case-sensitive, as BuildKit), "all" drops every finding; NULL-terminated
 * or NULL.  errors_on_warnings raises every warning to an error. */
void finding_report_apply_policy(struct finding_report *r, const char *const *skip,
				 bool errors_on_warnings);

size_t finding_report_count(const struct finding_report *r, enum finding_severity severity);

/* Stable order: file, line, path, id; findings with no file come last. */
void finding_report_sort(struct finding_report *r);

int finding_report_render_text(const struct finding_report *r, struct buf *out);
int finding_report_render_json(const struct finding_report *r, struct buf *out,
			       struct plate_error **err);

#endif
