/*
 * The build pipeline as a second front end would call it (build/build.h): the events come
 * in pipeline order, the checks stop a build before the engine, the doctor's verdict keeps
 * an image from being pushed, and a cancel before the engine stops the build.  A real
 * store in a temporary directory, real Dockerfiles; nothing is mocked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "build/build.h"
#include "tap.h"

static char root[256];

struct seen {
	enum build_event_type types[16];
	size_t n;
	size_t lint_findings, check_findings;
};

static int record(void *data, const struct build_event *ev, struct plate_error **err)
{
	struct seen *s = data;

	if (s->n < sizeof(s->types) / sizeof(*s->types))
		s->types[s->n++] = ev->type;
	if (ev->type == BUILD_EVENT_LINT)
		s->lint_findings = ev->report->n;
	if (ev->type == BUILD_EVENT_CHECK)
		s->check_findings = ev->report->n;
	return 0;
}

static char *seen_text(const struct seen *s)
{
	static const char *const names[] = { "lint",  "pull",	 "pulled", "built",
					     "check", "skipped", "pushed" };
	static char text[256];
	size_t len = 0;

	text[0] = '\0';
	for (size_t i = 0; i < s->n && len < sizeof(text) - 16; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", i ? " " : "",
					names[s->types[i]]);
	return text;
}

/* Runs the pipeline over CONTEXT/Dockerfile = text; returns build_run()'s value. */
static int run(struct store *st, const char *text, bool strict, bool push, bool cancel,
	       struct seen *seen, struct build_result *res, struct plate_error **err)
{
	static const char *const tags[] = { "127.0.0.1:1/plate-test/build:1" };
	struct registry_options reg = { 0 };
	char ctx[300], path[320];
	struct dockerfile *df = NULL;
	struct build *b = NULL;
	FILE *f;
	int r = -1;

	snprintf(ctx, sizeof(ctx), "%s/ctx", root);
	snprintf(path, sizeof(path), "%s/Dockerfile", ctx);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		return plate_err_new(err, errno, "cannot write '%s'", path);
	*seen = (struct seen){ 0 };
	struct build_options o = {
		.engine = { .context_dir = ctx,
			    .dockerfile_path = path,
			    .dockerfile_name = "Dockerfile",
			    .tags = tags,
			    .n_tags = 1 },
		.store = st,
		.registry = &reg,
		.source = text,
		.source_len = strlen(text),
		.display_name = "Dockerfile",
		.host_platform = "linux/amd64",
		.strict = strict,
		.max_size = -1,
		.push = push,
		.event = record,
		.event_data = seen,
	};
	if (dockerfile_parse(text, strlen(text), NULL, &df, err) < 0)
		return -1;
	o.df = df;
	if (build_new(&o, &b, err) == 0) {
		if (cancel)
			build_cancel(b);
		r = build_run(b, res, err);
	}
	build_free(b);
	dockerfile_free(df);
	return r;
}

int main(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	const char *tmp = getenv("PLATE_TEST_TMP");
	struct store *st = NULL;
	struct build_result res;
	struct seen seen;
	char cmd[600];
	int r;

	snprintf(root, sizeof(root), "%s/test_build.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL)
		tap_skip_all("cannot make a temporary directory");
	snprintf(cmd, sizeof(cmd), "mkdir '%s/ctx'", root);
	if (system(cmd) != 0 || store_open(root, STORE_OPEN_CREATE, &st, &err) < 0)
		tap_skip_all("cannot make a store");

	r = run(st, "FROM scratch\nLABEL a=b\n", false, false, false, &seen, &res, &err);
	tap_ok(r == 0 && res.outcome == BUILD_OK, "a build runs through the library call: %s",
	       err ? err->message : "ok");
	tap_streq(seen_text(&seen), "lint built check", "events in pipeline order");
	tap_ok(seen.lint_findings == 0 && seen.check_findings > 0,
	       "the doctor reports on the image (no command, runs as root): %zu findings",
	       seen.check_findings);
	tap_ok(strncmp(res.image.manifest_digest, "sha256:", 7) == 0, "the result names the image");
	plate_error_free(steal_pointer(&err));

	/* Under strict the doctor's findings fail the build before the push, which would
	 * otherwise fail: nothing listens on 127.0.0.1:1. */
	r = run(st, "FROM scratch\nLABEL a=b\n", true, true, false, &seen, &res, &err);
	tap_ok(r == 0 && res.outcome == BUILD_CHECK_FAILED, "strict: the doctor fails the build");
	tap_streq(seen_text(&seen), "lint built check", "... and nothing is pushed");
	plate_error_free(steal_pointer(&err));

	r = run(st, "# check=error=true\nFROM scratch AS Foo\nLABEL a=b\n", false, false, false,
		&seen, &res, &err);
	tap_ok(r == 0 && res.outcome == BUILD_LINT_FAILED && res.lint_errors == 1,
	       "an error finding of the checks stops the build: %zu", res.lint_errors);
	tap_streq(seen_text(&seen), "lint", "... before the engine");
	plate_error_free(steal_pointer(&err));

	r = run(st, "FROM scratch\nLABEL a=b\n", false, false, true, &seen, &res, &err);
	tap_ok(r < 0 && res.phase == BUILD_PHASE_ENGINE && err != NULL &&
		       err->errno_value == ECANCELED,
	       "a cancel before the engine stops the build (ECANCELED)");
	tap_streq(seen_text(&seen), "lint", "... and nothing is built");

	store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", root);
	return tap_done();
}
