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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "check/check.h"
#include "cli.h"

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
	struct check_stored_options so = { .strict = o->strict,
					   .max_size = o->max_size,
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
static bool names_dockerfile(const struct cli_check_dockerfile_args *d, const char *first)
{
	struct stat st;

	return d->file != NULL || d->n_build_args > 0 ||
	       (first != NULL && stat(first, &st) == 0 && S_ISREG(st.st_mode));
}

/* `plate check [-f] DOCKERFILE [CONTEXT]`: the operands left after the options. */
static int check_dockerfile(struct cli_ctx *ctx, struct cli_check_dockerfile_args *d,
			    const char *image_only, int n, char **operands,
			    struct plate_error **err)
{
	int i = 0;

	if (image_only != NULL)
		return cli_usage_error(ctx, err, "%s is for an image, not a Dockerfile",
				       image_only);
	if (d->file == NULL && i < n)
		d->file = operands[i++];
	if (i < n)
		d->context = operands[i++];
	if (i < n)
		return cli_usage_error(ctx, err, "check takes a DOCKERFILE and a CONTEXT");
	if (d->file == NULL)
		return cli_usage_error(ctx, err, "check needs a DOCKERFILE");
	return cli_check_dockerfile(ctx, d, err);
}

int cli_cmd_check(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	enum {
		OPT_STRICT = 0x1301,
		OPT_FORMAT,
		OPT_MAX_SIZE,
		OPT_SKIP,
		OPT_PLATFORM,
		OPT_BUILD_ARG
	};
	static const struct option longopts[] = {
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "file", required_argument, NULL, 'f' },
		{ "build-arg", required_argument, NULL, OPT_BUILD_ARG },
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "skip", required_argument, NULL, OPT_SKIP },
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ const char **build_args = calloc((size_t)argc + 1, sizeof(*build_args));
	struct cli_check_dockerfile_args d = { .build_args = build_args };
	struct doctor_options o = { .max_size = -1 };
	const char *format = "text", *image_only = NULL;
	struct store *s = NULL;
	int c, rc;

	if (build_args == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":f:", longopts)) != -1) {
		switch (c) {
		case OPT_STRICT:
			o.strict = d.strict = true;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case 'f':
			if (d.file != NULL)
				return cli_usage_error(ctx, err, "check takes one Dockerfile");
			d.file = optarg;
			break;
		case OPT_BUILD_ARG:
			build_args[d.n_build_args++] = optarg;
			break;
		case OPT_MAX_SIZE:
			if (cli_parse_size(optarg, &o.max_size) < 0)
				return cli_usage_error(ctx, err, "--max-size '%s' is not a size",
						       optarg);
			image_only = "--max-size";
			break;
		case OPT_SKIP:
			o.skip = optarg;
			image_only = "--skip";
			break;
		case OPT_PLATFORM:
			o.platform = optarg;
			image_only = "--platform";
			break;
		case ':':
			return cli_usage_error(ctx, err, "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_bad_option(ctx, "check", argv, err);
		}
	}
	if (strcmp(format, "json") == 0)
		o.json = d.json = true;
	else if (strcmp(format, "text") != 0)
		return cli_usage_error(ctx, err, "--format must be text or json");
	if (names_dockerfile(&d, optind < argc ? argv[optind] : NULL))
		return check_dockerfile(ctx, &d, image_only, argc - optind, argv + optind, err);
	if (optind == argc)
		return cli_usage_error(ctx, err, "check needs a REF or a DOCKERFILE");
	if (argc - optind > 1)
		return cli_usage_error(ctx, err, "check takes one REF");
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	rc = doctor(s, argv[optind], &o, err);
	store_free(s);
	return rc;
}
