/* Unit tests for json/template.c: the Go-template subset of --format, one row per case. */
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "json/json.h"
#include "tap.h"

#define IMAGE                                                                              \
	"{\"Id\":\"sha256:abc\",\"RepoTags\":[\"a:1\",\"b:2\"],\"Size\":1234,"             \
	"\"Config\":{\"User\":\"app\",\"Env\":[\"A=1\",\"B=2\"],"                          \
	"\"Labels\":{\"org.x.y\":\"v\",\"a\":\"z\"}},\"Empty\":[],\"T\":true,\"F\":false," \
	"\"Real\":1.5,\"Nested\":[[1,2],[3]]}"

/* want == NULL: the template must be refused (parse or execute) with err_has in the message. */
static const struct {
	const char *tmpl;
	const char *want;
	const char *err_has;
} cases[] = {
	{ "{{.Id}}", "sha256:abc", NULL },
	{ "id={{.Id}} size={{.Size}}\n", "id=sha256:abc size=1234\n", NULL },
	{ "{{.Config.User}}", "app", NULL },
	{ "{{.Config.Missing}}|{{.Nope.Deeper}}", "|", NULL },
	{ "{{json .Config.Env}}", "[\"A=1\",\"B=2\"]", NULL },
	{ "{{json .Config}}",
	  "{\"User\":\"app\",\"Env\":[\"A=1\",\"B=2\"],\"Labels\":{\"org.x.y\":\"v\",\"a\":\"z\"}}",
	  NULL },
	{ "{{index .RepoTags 0}}", "a:1", NULL },
	{ "{{index .RepoTags 1}}", "b:2", NULL },
	{ "{{index .Config.Labels \"org.x.y\"}}", "v", NULL },
	{ "{{index .Nested 0 1}}", "2", NULL },
	{ "{{.RepoTags}}", "[a:1 b:2]", NULL },
	{ "{{.Config.Labels}}", "map[a:z org.x.y:v]", NULL },
	{ "{{.T}} {{.F}} {{.Real}}", "true false 1.5", NULL },
	{ "{{.}}", NULL, NULL }, /* printed as a map: checked below only for success */
	{ "{{range .RepoTags}}<{{.}}>{{end}}", "<a:1><b:2>", NULL },
	{ "{{range .Empty}}x{{else}}none{{end}}", "none", NULL },
	{ "{{range .Config.Labels}}{{.}},{{end}}", "z,v,", NULL },
	{ "{{if .T}}yes{{else}}no{{end}}", "yes", NULL },
	{ "{{if .F}}yes{{else if .T}}elif{{else}}no{{end}}", "elif", NULL },
	{ "{{if .Empty}}yes{{end}}", "", NULL },
	{ "{{with .Config}}{{.User}}{{end}}", "app", NULL },
	{ "{{join .RepoTags \", \"}}", "a:1, b:2", NULL },
	{ "{{.RepoTags | len}}", "2", NULL },
	{ "{{len .Id}}", "10", NULL },
	{ "{{upper .Config.User}} {{lower \"AB\"}}", "APP ab", NULL },
	{ "{{truncate .Id 6}}", "sha256", NULL },
	{ "{{split \"a,b\" \",\"}}", "[a b]", NULL },
	{ "{{json (index .RepoTags 0)}}", "\"a:1\"", NULL },
	{ "{{.Id | printf}}", NULL, "template:1:9: function \"printf\" is not supported" },
	{ "a  {{- .Config.User -}}  b", "aappb", NULL },
	{ "{{/* note */}}x", "x", NULL },
	{ "{{`raw}}`}}", "raw}}", NULL },
	{ "{{\"q\\\"\\n\"}}", "q\"\n", NULL },
	/* refused, with the position */
	{ "{{.Id", NULL, "template:1:1: unclosed action" },
	{ "x\n  {{$x := .Id}}", NULL, "template:2:5: variables ($) are not supported" },
	{ "{{define \"a\"}}{{end}}", NULL, "template:1:3: 'define' is not supported" },
	{ "{{if .T}}x", NULL, "template:1:1: no {{end}} for this block" },
	{ "{{end}}", NULL, "template:1:1: unexpected {{end}}" },
	{ "{{index .RepoTags 5}}", NULL, "template:1:3: index: index 5 out of range" },
	{ "{{.Id.Sub}}", NULL, "can't evaluate field Sub" },
	{ "{{.Id 3}}", NULL, "can't give an argument to a non-function" },
	{ "{{range .Id}}{{end}}", NULL, "range over a value that is not a list or map" },
	{ "{{json}}", NULL, "wrong number of arguments for json" },
	{ "{{.Id)}}", NULL, "unexpected ')'" },
	{ "{{..}}", NULL, "bad field name" },
	{ "{{1.5}}", NULL, "only decimal integers" },
	{ "{{\"\\q\"}}", NULL, "unsupported escape" },
	{ "{{}}", NULL, "missing value" },
};

static void run(const char *tmpl, json_t *dot, struct buf *out, struct plate_error **err)
{
	struct json_template *t = NULL;

	if (json_template_parse(tmpl, strlen(tmpl), &t, err) == 0)
		json_template_execute(t, dot, out, err);
	json_template_free(t);
}

int main(void)
{
	json_t *dot = json_loads(IMAGE, JSON_DECODE_ANY, NULL);

	if (!TAP_OK(dot != NULL, "the test document parses"))
		return tap_done();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_free_ char *name = strdup(cases[i].tmpl);
		struct buf out;

		for (char *c = name; c != NULL && *c != '\0'; c++)
			if (*c == '\n')
				*c = ' ';
		buf_init(&out, 1 << 20);
		run(cases[i].tmpl, dot, &out, &err);
		if (cases[i].err_has != NULL)
			TAP_OK(err != NULL && strstr(err->message, cases[i].err_has) != NULL,
			       "%s: refused with '%s' (got '%s')", name, cases[i].err_has,
			       err ? err->message : out.data);
		else if (cases[i].want != NULL)
			tap_streq(err ? err->message : out.data, cases[i].want, "%s", name);
		else
			TAP_OK(err == NULL && out.len > 0, "%s: runs", name);
		buf_release(&out);
	}
	/* Output is bounded by the buffer's cap: a range cannot fill memory. */
	{
		_cleanup_error_ struct plate_error *err = NULL;
		struct buf out;
		json_t *many =
			json_pack("{s:[s,s,s,s,s,s,s,s]}", "L", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				  "b", "c", "d", "e", "f", "g", "h");
		buf_init(&out, 64);
		run("{{range .L}}{{.}}{{.}}{{.}}{{end}}", many, &out, &err);
		TAP_OK(err != NULL && strstr(err->message, "too large") != NULL && out.len <= 64,
		       "output over the cap: 'template output too large' (%s)",
		       err ? err->message : "none");
		buf_release(&out);
		json_decref(many);
	}
	json_decref(dot);
	return tap_done();
}
