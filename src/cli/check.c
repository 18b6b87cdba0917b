/*
 * plate check [--strict] [--format text|json] [--max-size SIZE] [--skip ID,...] REF
 *
 * Runs the minimal-image doctor on a stored image and prints its findings (stdout).
 * Exit 0, or 3 when an error finding remains (--strict makes every warning an error).
 * SIZE is bytes, or a number with k, M, G (powers of 1000) or Ki, Mi, Gi (powers of 1024),
 * an optional trailing "B".  The same doctor (check_stored_image()) runs at the end of
 * `plate build`, whose findings are rendered by cli_render_findings() below.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "check/check.h"
#include "cli.h"

static const char usage[] =
	"usage: plate check [--strict] [--format text|json] [--max-size SIZE] [--skip ID,...] REF\n";

int cli_render_findings(const struct finding_report *r, bool json, bool event, FILE *out,
			struct plate_error **err)
{
	_cleanup_buf_ struct buf text = BUF_INIT(BUF_UNLIMITED);

	if (json ? finding_report_render_json(r, &text, err) < 0
		 : finding_report_render_text(r, &text) < 0)
		return *err != NULL ? -1 : plate_err_new(err, ENOMEM, "out of memory");
	if (json && event && text.len > 1) {
		/* the canonical document starts with '{"findings":' */
		fprintf(out, "{\"type\":\"check\",%s", text.data + 1);
	} else {
		fwrite(text.data, 1, text.len, out);
	}
	return 0;
}

struct doctor_options {
	bool strict, json;
	int64_t max_size;
	const char *skip; /* "ID,ID" or NULL */
	const char *platform;
};

/* The doctor on a stored image, its findings on stdout: 0, 3 when an error finding remains,
 * or -1. */
static int doctor(struct store *s, const char *name, const struct doctor_options *o,
		  struct plate_error **err)
{
	_cleanup_(finding_report_release) struct finding_report r = FINDING_REPORT_INIT;
	_cleanup_free_ char *skip_copy = o->skip ? strdup(o->skip) : NULL;
	const char *skip[64] = { 0 };
	size_t n_skip = 0;
	struct check_stored_options so = { .strict = o->strict, .max_size = o->max_size,
					   .skip = skip };

	if (o->skip && skip_copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (char *save = NULL, *id = skip_copy ? strtok_r(skip_copy, ",", &save) : NULL;
	     id && n_skip + 1 < sizeof(skip) / sizeof(*skip); id = strtok_r(NULL, ",", &save))
		skip[n_skip++] = id;
	if (check_stored_image(s, name, o->platform ? o->platform : cli_host_platform(), &so, &r,
			       err) < 0 ||
	    cli_render_findings(&r, o->json, false, stdout, err) < 0)
		return -1;
	return finding_report_count(&r, FINDING_ERROR) > 0 ? CLI_EXIT_CHECK : CLI_EXIT_OK;
}

/* `plate check REF|DOCKERFILE` (DESIGN.md): -f, --build-arg, or a first operand naming an
 * existing regular file select the Dockerfile checks; anything else is an image. */
static bool names_dockerfile(int argc, char **argv)
{
	static const char *const doctor_with_value[] = { "--format", "--max-size", "--skip",
							  "--platform" };
	struct stat st;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0 ||
		    strncmp(a, "--file=", 7) == 0 || strcmp(a, "--build-arg") == 0 ||
		    strncmp(a, "--build-arg=", 12) == 0)
			return true;
		for (size_t k = 0; k < sizeof(doctor_with_value) / sizeof(*doctor_with_value); k++)
			if (strcmp(a, doctor_with_value[k]) == 0)
				i++;
		if (a[0] != '-')
			return stat(a, &st) == 0 && S_ISREG(st.st_mode);
	}
	return false;
}

int cli_cmd_check(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct doctor_options o = { .max_size = -1 };
	const char *ref = NULL, *format = "text";
	struct store *s = NULL;
	int rc;

	if (names_dockerfile(argc, argv))
		return cli_check_dockerfile(ctx, argc, argv, err);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--strict") == 0) {
			o.strict = true;
			continue;
		}
		if (a[0] != '-') {
			if (ref != NULL)
				return cli_usage_error(ctx, err, "check takes one REF\n%s", usage);
			ref = a;
			continue;
		}
		static const char *const with_value[] = { "--format", "--max-size", "--skip",
							  "--platform" };
		size_t k;
		for (k = 0; k < sizeof(with_value) / sizeof(*with_value); k++) {
			size_t n = strlen(with_value[k]);
			if (strcmp(a, with_value[k]) == 0) {
				if (i + 1 >= argc)
					return cli_usage_error(ctx, err, "option '%s' needs a value", a);
				v = argv[++i];
				break;
			}
			if (strncmp(a, with_value[k], n) == 0 && a[n] == '=') {
				v = a + n + 1;
				break;
			}
		}
		if (v == NULL)
			return cli_usage_error(ctx, err, "unknown option '%s' for check\n%s", a, usage);
		if (k == 0)
			format = v;
		else if (k == 1 && cli_parse_size(v, &o.max_size) < 0)
			return cli_usage_error(ctx, err, "--max-size '%s' is not a size", v);
		else if (k == 2)
			o.skip = v;
		else if (k == 3)
			o.platform = v;
	}
	if (ref == NULL)
		return cli_usage_error(ctx, err, "check needs a REF\n%s", usage);
	if (strcmp(format, "json") == 0)
		o.json = true;
	else if (strcmp(format, "text") != 0)
		return cli_usage_error(ctx, err, "--format must be text or json");
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	rc = doctor(s, ref, &o, err);
	store_free(s);
	return rc;
}
