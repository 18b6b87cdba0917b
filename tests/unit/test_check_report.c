#include <string.h>

#include "base/cleanup.h"
#include "check/check.h"
#include "tap.h"

static void fill(struct check_report *r)
{
	struct plate_error *err = NULL;

	check_report_add(r, "RunsAsRoot", CHECK_WARNING, "Dockerfile", 12, NULL,
			 "add `USER 65534:65534` to the final stage", &err, "image runs as %s", "root");
	check_report_add(r, "MissingCABundle", CHECK_ERROR, NULL, 0, "/app", NULL, &err,
			 "'%s' uses TLS but the image has no CA bundle", "/app");
	check_report_add(r, "StageNameCasing", CHECK_WARNING, "Dockerfile", 3, NULL, NULL, &err,
			 "stage name 'Build' should be lowercase");
	tap_ok(err == NULL, "three findings added");
	plate_error_free(err);
}

int main(void)
{
	struct check_report r = CHECK_REPORT_INIT;
	struct buf text = BUF_INIT(BUF_UNLIMITED), json = BUF_INIT(BUF_UNLIMITED);
	struct plate_error *err = NULL;

	fill(&r);
	check_report_sort(&r);
	check_report_render_text(&r, &text);
	tap_streq(text.data,
		  "Dockerfile:3: warning: stage name 'Build' should be lowercase [StageNameCasing]\n"
		  "Dockerfile:12: warning: image runs as root [RunsAsRoot]\n"
		  "    fix: add `USER 65534:65534` to the final stage\n"
		  "image:/app: error: '/app' uses TLS but the image has no CA bundle [MissingCABundle]\n",
		  "text rendering, sorted by file then line, image findings last");
	tap_ok(check_report_render_json(&r, &json, &err) == 0, "json renders");
	tap_streq(json.data,
		  "{\"findings\":[{\"file\":\"Dockerfile\",\"id\":\"StageNameCasing\",\"line\":3,"
		  "\"message\":\"stage name 'Build' should be lowercase\",\"severity\":\"warning\"},"
		  "{\"file\":\"Dockerfile\",\"fix\":\"add `USER 65534:65534` to the final stage\","
		  "\"id\":\"RunsAsRoot\",\"line\":12,\"message\":\"image runs as root\","
		  "\"severity\":\"warning\"},{\"id\":\"MissingCABundle\","
		  "\"message\":\"'/app' uses TLS but the image has no CA bundle\",\"path\":\"/app\","
		  "\"severity\":\"error\"}],\"summary\":{\"error\":1,\"info\":0,\"warning\":2}}\n",
		  "json rendering with absent fields left out");

	const char *skip[] = { "StageNameCasing", NULL };
	check_report_apply_policy(&r, skip, true);
	tap_ok(r.n == 2, "skip drops the named rule");
	tap_ok(check_report_count(&r, CHECK_ERROR) == 2 && check_report_count(&r, CHECK_WARNING) == 0,
	       "errors_on_warnings raises warnings to errors");
	const char *all[] = { "all", NULL };
	check_report_apply_policy(&r, all, false);
	tap_ok(r.n == 0, "skip=all drops everything");

	check_report_release(&r);
	buf_release(&text);
	buf_release(&json);
	plate_error_free(err);
	return tap_done();
}
