/*
 * BuildKit's Node.Dump(): one "(keyword ["flags"] "arg" …)" line per instruction, strings
 * quoted as Go's strconv.Quote does (the conformance corpus compares it byte for byte).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/go_quote.h"
#include "dockerfile/dockerfile_internal.h"

/*
 * A JSON "\u0000" leaves a NUL inside an exec-form argument, which the NUL-terminated
 * strings of struct dockerfile_instruction cannot show; the dump decodes the array again
 * from `original` to print every byte, as BuildKit does.  1 when it could, 0 to fall back.
 */
static int json_args_again(const struct dockerfile_instruction *inst, char ***args, size_t **lens,
			   size_t *n)
{
	struct dockerfile_split sp;
	_cleanup_error_ struct plate_error *err = NULL;
	const char *rest;
	size_t len;
	int rc;

	if (dockerfile_split_command(inst->original, strlen(inst->original), &sp, &err) < 0)
		return 0;
	dockerfile_split_release(&sp);
	rest = inst->original + sp.rest_offset;
	len = sp.rest_len;
	if (strcmp(inst->keyword, "healthcheck") == 0) {
		size_t k = 0;

		while (k < len && !dockerfile_is_ascii_space(rest[k]))
			k++;
		while (k < len && dockerfile_is_ascii_space(rest[k]))
			k++;
		rest += k;
		len -= k;
	}
	rc = dockerfile_json_array_parse(rest, len, args, lens, n, &err);
	return rc > 0 ? 1 : 0;
}

static int dump_instruction(struct buf *out, const struct dockerfile_instruction *inst);

static int dump_args(struct buf *b, const struct dockerfile_instruction *inst)
{
	char **jargs = NULL;
	size_t *jlens = NULL, nj = 0, first = 0;
	int rc = 0;

	if (inst->json_form && json_args_again(inst, &jargs, &jlens, &nj) == 1) {
		/* HEALTHCHECK's type word comes before the array. */
		first = strcmp(inst->keyword, "healthcheck") == 0 && inst->n_args > nj ? 1 : 0;
		for (size_t k = 0; k < first && rc == 0; k++)
			rc = buf_addch(b, ' ') < 0
				     ? -1
				     : go_quote(b, inst->args[k], strlen(inst->args[k]));
		for (size_t k = 0; k < nj && rc == 0; k++)
			rc = buf_addch(b, ' ') < 0 ? -1 : go_quote(b, jargs[k], jlens[k]);
		strv_free(jargs, nj);
		free(jlens);
		return rc;
	}
	for (size_t k = 0; k < inst->n_args && rc == 0; k++)
		rc = buf_addch(b, ' ') < 0 ? -1 : go_quote(b, inst->args[k], strlen(inst->args[k]));
	return rc;
}

static int dump_instruction(struct buf *out, const struct dockerfile_instruction *inst)
{
	_cleanup_buf_ struct buf b = BUF_INIT(out->max);
	size_t start = 0, end;

	if (buf_addstr(&b, inst->keyword) < 0)
		return -1;
	if (inst->n_flags > 0) {
		if (buf_addstr(&b, " [") < 0)
			return -1;
		for (size_t k = 0; k < inst->n_flags; k++)
			if ((k > 0 && buf_addch(&b, ' ') < 0) ||
			    go_quote(&b, inst->flags[k], strlen(inst->flags[k])) < 0)
				return -1;
		if (buf_addch(&b, ']') < 0)
			return -1;
	}
	if (inst->sub != NULL) {
		if (buf_addstr(&b, " (") < 0 || dump_instruction(&b, inst->sub) < 0 ||
		    buf_addch(&b, ')') < 0)
			return -1;
	}
	if (dump_args(&b, inst) < 0)
		return -1;
	/* Node.Dump() trims its result (it matters for an empty keyword). */
	end = b.len;
	utf8_trim_space(b.data, &start, &end);
	return buf_add(out, b.data + start, end - start);
}

int dockerfile_dump(const struct dockerfile *df, struct buf *out)
{
	for (size_t k = 0; k < df->n_instructions; k++)
		if (buf_addch(out, '(') < 0 || dump_instruction(out, &df->instructions[k]) < 0 ||
		    buf_addstr(out, ")\n") < 0)
			return -1;
	return 0;
}
