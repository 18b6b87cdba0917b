/*
 * Fuzz target for json_template_parse() and json_template_execute(): the input's first line
 * is a template, the rest a JSON document it runs over (a fixed image-like document when the
 * rest is not JSON).  A refusal must carry a message; output stays within the buffer's cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUTPUT_CAP (1 << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fallback[] =
		"{\"Id\":\"sha256:abc\",\"RepoTags\":[\"a:1\",\"b:2\"],\"Size\":1,"
		"\"Config\":{\"User\":\"app\",\"Env\":[\"A=1\"],\"Labels\":{\"k\":\"v\"}},"
		"\"L\":[[1,2],[3],{\"x\":[true,false,null,1.5]}]}";
	const char *text = (const char *)data, *nl = memchr(data, '\n', size);
	size_t tlen = nl ? (size_t)(nl - text) : size;
	_cleanup_error_ struct plate_error *err = NULL;
	struct json_template *t = NULL;
	json_t *dot = NULL;
	struct buf out;

	if (nl != NULL)
		dot = json_loadb(nl + 1, size - tlen - 1, JSON_DECODE_ANY, NULL);
	if (dot == NULL)
		dot = json_loads(fallback, 0, NULL);
	if (json_template_parse(text, tlen, &t, &err) < 0) {
		if (err == NULL || err->message == NULL)
			abort();
		json_decref(dot);
		return 0;
	}
	buf_init(&out, OUTPUT_CAP);
	if (json_template_execute(t, dot, &out, &err) < 0 && (err == NULL || err->message == NULL))
		abort();
	if (out.len > OUTPUT_CAP)
		abort();
	buf_release(&out);
	json_template_free(t);
	json_decref(dot);
	return 0;
}
