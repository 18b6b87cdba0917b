#include <string.h>

#include "base/cleanup.h"
#include "finding/finding.h"
#include "tap.h"

static void fill(struct finding_report *r)
{
	struct plate_error *err = NULL;

	finding_report_add(r, "RunsAsRoot", FINDING_WARNING, "Dockerfile", 12, NULL,
			   "add `USER 65534:65534` to the final stage", &err, "image runs as %s",
			   "root");
	finding_report_add(r, "MissingCABundle", FINDING_ERROR, NULL, 0, "/app", NULL, &err,
			   "'%s' uses TLS but the image has no CA bundle", "/app");
	finding_report_add(r, "StageNameCasing", FINDING_WARNING, "Dockerfile", 3, NULL, NULL, &err,
			   "stage name 'Build' should be lowercase");
	tap_ok(err == NULL, "three findings added");
	plate_error_free(err);
}

int main(void)
{
	struct finding_report r = FINDING_REPORT_INIT;
	struct buf text = BUF_INIT(BUF_UNLIMITED), json = BUF_INIT(BUF_UNLIMITED);
	struct plate_error *err = NULL;

	fill(&r);
	finding_report_sort(&r);
	finding_report_render_text(&r, &text);
	tap_streq(text.data,
		  "Dockerfile:3: warning: stage name 'Build' should be lowercase "
		  "[StageNameCasing]\n"
		  "Dockerfile:12: warning: image runs as root [RunsAsRoot]\n"
		  "    fix: add `USER 65534:65534` to the final stage\n"
		  "image:/app: error: '/app' uses TLS but the image has no CA bundle "
		  "[MissingCABundle]\n",
		  "text rendering, sorted by file then line, image findings last");
	tap_ok(finding_report_render_json(&r, &json, &err) == 0, "json renders");
	tap_streq(
		json.data,
		"{\"findings\":[{\"file\":\"Dockerfile\",\"id\":\"StageNameCasing\",\"line\":3,"
		"\"message\":\"stage name 'Build' should be lowercase\",\"severity\":\"warning\"},"
		"{\"file\":\"Dockerfile\",\"fix\":\"add `USER 65534:65534` to the final stage\","
		"\"id\":\"RunsAsRoot\",\"line\":12,\"message\":\"image runs as root\","
		"\"severity\":\"warning\"},{\"id\":\"MissingCABundle\","
		"\"message\":\"'/app' uses TLS but the image has no CA bundle\",\"path\":\"/app\","
		"\"severity\":\"error\"}],\"summary\":{\"error\":1,\"info\":0,\"warning\":2}}\n",
		"json rendering with absent fields left out");

	const char *skip[] = { "StageNameCasing", NULL };
	finding_report_apply_policy(&r, skip, true);
	tap_ok(r.n == 2, "skip drops the named rule");
	tap_ok(finding_report_count(&r, FINDING_ERROR) == 2 &&
		       finding_report_count(&r, FINDING_WARNING) == 0,
	       "errors_on_warnings raises warnings to errors");
	const char *all[] = { "all", NULL };
	finding_report_apply_policy(&r, all, false);
	tap_ok(r.n == 0, "skip=all drops everything");

	finding_report_release(&r);
	buf_release(&text);
	buf_release(&json);
	plate_error_free(err);
	return tap_done();
}
