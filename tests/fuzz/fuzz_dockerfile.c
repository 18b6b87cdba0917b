/*
 * Fuzz target for the Dockerfile parser: parse, dump and free any input.  Small limits
 * make the caps reachable; every successful parse must also dump, and the word- and
 * line-level heredoc and JSON helpers get the raw input too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerfile_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_helpers(const char *text, size_t len)
{
	_cleanup_error_ struct plate_error *e1 = NULL;
	_cleanup_error_ struct plate_error *e2 = NULL;
	_cleanup_error_ struct plate_error *e3 = NULL;
	struct dockerfile_heredoc h = { 0 }, *docs = NULL;
	char **args = NULL;
	size_t n = 0, *lens = NULL;

	if (dockerfile_heredoc_parse_word(text, len, &h, &e1) == 1)
		dockerfile_heredoc_release(&h);
	if (dockerfile_heredocs_from_line(text, len, &docs, &n, &e2) == 0) {
		for (size_t k = 0; k < n; k++)
			dockerfile_heredoc_release(&docs[k]);
		free(docs);
	}
	n = 0;
	if (dockerfile_json_array_parse(text, len, &args, &lens, &n, &e3) == 1) {
		strv_free(args, n);
		free(lens);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dockerfile_limits small = {
		.max_file = 1 << 16,
		.max_line = 4096,
		.max_heredoc = 8192,
		.max_instructions = 512,
	};
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
	const char *text = (const char *)data;
	struct dockerfile *df = NULL;

	if (dockerfile_parse(text, size, &small, &df, &err) == 0) {
		if (dockerfile_dump(df, &out) != 0 || df->n_instructions == 0)
			abort();
		dockerfile_free(df);
	} else if (err == NULL || (err->line == 0 && err->errno_value == 0)) {
		abort(); /* every parse error is located */
	}
	if (size < 4096 && memchr(text, '\0', size) == NULL)
		exercise_helpers(text, size);
	return 0;
}
