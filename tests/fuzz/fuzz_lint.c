/*
 * Fuzz target for the Dockerfile checks: parse any input, then run every check (the
 * experimental ones too) with a small fixed context, .dockerignore, build arguments and a
 * base-image lookup, so the context checks and the env-aware rules are reached.  Findings
 * are rendered both ways; nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "finding/finding.h"
#include "dockerfile/dockerfile.h"
#include "ignore/ignore.h"
#include "lint/lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool image_info(void *data, const char *image, struct lint_image_info *info)
{
	(void)data;
	if (image[0] == '\0' || image[0] > 'm')
		return false;
	info->env_known = true;
	if (dockerfile_vars_set(&info->env, "HOME", "/root") < 0)
		return false;
	info->platform = strdup(image[0] & 1 ? "linux/arm64" : "linux/amd64");
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const context[] = { "Dockerfile",	".env",	  "src",  "src/main.go",
					       "certs/tls.key", "go.mod", ".git", NULL };
	static const char *const patterns[] = { "certs", "*.md", "!README.md", NULL };
	static const struct dockerfile_limits limits = { .max_file = 1 << 16,
							 .max_line = 1 << 14,
							 .max_heredoc = 1 << 14,
							 .max_instructions = 512 };
	_cleanup_error_ struct plate_error *err = NULL;
	struct finding_report report = FINDING_REPORT_INIT;
	struct dockerfile *df = NULL;
	struct ignore *ign = NULL;
	struct dockerfile_vars args;
	struct buf out = BUF_INIT(BUF_UNLIMITED);
	struct lint_options opt = { .file = "Dockerfile",
				    .source = (const char *)data,
				    .source_len = size,
				    .build_args = &args,
				    .context = context,
				    .n_context = 7,
				    .image_info = image_info };

	dockerfile_vars_init(&args);
	if (dockerfile_parse((const char *)data, size, &limits, &df, &err) < 0)
		goto out;
	if (dockerfile_vars_set(&args, "VERSION", "1") < 0 ||
	    ignore_new(patterns, 3, &ign, &err) < 0)
		goto out;
	opt.ignore = ign;
	if (lint_dockerfile(df, &opt, &report, NULL, &err) == 0) {
		finding_report_apply_policy(&report, NULL, true);
		finding_report_render_text(&report, &out);
		buf_reset(&out);
		finding_report_render_json(&report, &out, &err);
	}
out:
	buf_release(&out);
	finding_report_release(&report);
	ignore_free(ign);
	dockerfile_vars_release(&args);
	dockerfile_free(df);
	return 0;
}
