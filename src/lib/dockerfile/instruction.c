/*
 * One logical line -> one instruction, with BuildKit's splitting rules (its splitCommand and
 * line parsers), so that dockerfile_dump() prints what Node.Dump() prints.
 *
 * The rules per keyword (Dockerfile reference; conformance/README.md section 1):
 *   ADD COPY VOLUME            JSON array, else split on runs of [\t\v\f\r ]
 *   RUN CMD ENTRYPOINT SHELL   JSON array, else the whole text as one argument
 *   FROM EXPOSE                split on runs of [\t\v\f\r ]
 *   ARG                        quote-preserving word split
 *   ENV LABEL                  key/value/separator triples (legacy `KEY value` form too)
 *   MAINTAINER USER WORKDIR STOPSIGNAL   the whole text
 *   HEALTHCHECK                the first word, then the rest like CMD
 *   ONBUILD                    the rest parsed as an instruction of its own
 *   anything else              one empty argument (the keyword is kept)
 *
 * Where BuildKit scans bytes as if they were Latin-1 runes (flags, HEALTHCHECK's first
 * word), plate treats only ASCII white space as blank and keeps other bytes unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile_internal.h"

void dockerfile_linemap_locate(const struct dockerfile_linemap *map, size_t offset, unsigned *line,
			       unsigned *column)
{
	size_t k = 0;

	if (map == NULL || map->n == 0) {
		*line = 1;
		*column = 1;
		return;
	}
	/* The piece holding the byte is the last one starting at or before it (an empty piece,
	 * a line that held only the escape token, shares its offset with the next one). */
	for (size_t lo = 0, hi = map->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (map->segs[mid].offset <= offset) {
			k = mid;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*line = map->segs[k].line;
	*column = map->segs[k].column + (unsigned)(offset - map->segs[k].offset);
}

static int locate_err(struct plate_error **err, const struct dockerfile_linemap *map, size_t offset,
		      const char *msg)
{
	unsigned line, column;

	dockerfile_linemap_locate(map, offset, &line, &column);
	return plate_err_at(err, line, column, "%s", msg);
}

static int oom(struct plate_error **err)
{
	return plate_err_new(err, ENOMEM, "cannot parse instruction");
}

/* Slots allocated for a NULL-terminated vector of n entries: doubling, so that pushing
 * many arguments stays linear. */
static size_t strv_slots(size_t n)
{
	size_t c = 8;

	while (c < n + 1)
		c *= 2;
	return c;
}

static int vec_push(char ***v, size_t *n, char *s)
{
	if (s == NULL)
		return -1;
	if (*v == NULL || strv_slots(*n + 1) != strv_slots(*n)) {
		char **grown = realloc(*v, strv_slots(*n + 1) * sizeof(**v));

		if (grown == NULL) {
			free(s);
			return -1;
		}
		*v = grown;
	}
	(*v)[*n] = s;
	(*v)[*n + 1] = NULL;
	(*n)++;
	return 0;
}

static int push_copy(char ***v, size_t *n, const char *s, size_t len)
{
	return vec_push(v, n, strndup(s, len));
}

static bool is_token_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * Leading `--flag` words (BuildKit extractBuilderFlags).  A word is a flag only if it starts
 * with `--`; quotes are removed and `\` escapes the next byte (always `\`, whatever the
 * escape directive says); a bare `--` ends the flags and is dropped.  Returns the offset
 * where the arguments start.
 */
static int extract_flags(const char *s, size_t n, char ***flags, size_t *n_flags, size_t *rest,
			 struct plate_error **err)
{
	enum {
		IN_SPACES,
		IN_WORD,
		IN_QUOTE
	} phase = IN_SPACES;
	_cleanup_buf_ struct buf word = BUF_INIT(BUF_UNLIMITED);
	bool blank_ok = false;
	char quote = 0;

	for (size_t pos = 0; pos <= n; pos++) {
		char ch = pos < n ? s[pos] : 0;

		if (phase == IN_SPACES) {
			if (pos == n)
				break;
			if (dockerfile_is_ascii_space(ch))
				continue;
			if (ch != '-' || pos + 1 == n || s[pos + 1] != '-') {
				*rest = pos;
				return 0;
			}
			phase = IN_WORD;
		}
		if (pos == n) {
			if (strcmp(word.data, "--") != 0 && (blank_ok || word.len > 0) &&
			    push_copy(flags, n_flags, word.data, word.len) < 0)
				return oom(err);
			break;
		}
		if (phase == IN_WORD) {
			if (dockerfile_is_ascii_space(ch)) {
				phase = IN_SPACES;
				if (strcmp(word.data, "--") == 0) {
					*rest = pos;
					return 0;
				}
				if ((blank_ok || word.len > 0) &&
				    push_copy(flags, n_flags, word.data, word.len) < 0)
					return oom(err);
				buf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
				continue;
			}
		} else { /* IN_QUOTE */
			if (ch == quote) {
				phase = IN_WORD;
				continue;
			}
		}
		if (ch == '\\') {
			if (pos + 1 == n) {
				phase = IN_WORD;
				continue; /* a trailing backslash is dropped */
			}
			ch = s[++pos];
		}
		if (buf_addch(&word, ch) < 0)
			return plate_err_new(err, errno, "cannot parse instruction flags");
	}
	*rest = n;
	return 0;
}

void dockerfile_split_release(struct dockerfile_split *split)
{
	strv_free(split->flags, split->n_flags);
	split->flags = NULL;
	split->n_flags = 0;
}

int dockerfile_split_command(const char *line, size_t len, struct dockerfile_split *out,
			     struct plate_error **err)
{
	size_t start = 0, end = len, k, rest = 0, args_start, args_end;

	*out = (struct dockerfile_split){ 0 };
	utf8_trim_space(line, &start, &end);
	for (k = start; k < end && !is_token_space(line[k]); k++)
		;
	out->keyword = line + start;
	out->keyword_len = k - start;
	out->rest_offset = end;
	if (k == end)
		return 0;
	while (k < end && is_token_space(line[k]))
		k++;
	if (extract_flags(line + k, end - k, &out->flags, &out->n_flags, &rest, err) < 0) {
		dockerfile_split_release(out);
		return -1;
	}
	args_start = k + rest;
	args_end = end;
	utf8_trim_space(line, &args_start, &args_end);
	out->rest_offset = args_start;
	out->rest_len = args_end - args_start;
	return 0;
}

/*
 * BuildKit parseWords, used by ARG, ENV and LABEL: split on Unicode white space outside
 * quotes, keeping quotes and escapes in the words.  Like Go, an invalid UTF-8 byte comes
 * out as U+FFFD.
 */
static int parse_words(const char *s, size_t n, char escape, char ***words, size_t *n_words)
{
	enum {
		IN_SPACES,
		IN_WORD,
		IN_QUOTE
	} phase = IN_SPACES;
	_cleanup_buf_ struct buf word = BUF_INIT(BUF_UNLIMITED);
	bool blank_ok = false;
	uint32_t quote = 0, ch = 0;
	size_t w = 0;

	for (size_t pos = 0; pos <= n; pos += w) {
		if (pos != n)
			w = utf8_decode_rune(s + pos, n - pos, &ch);
		if (phase == IN_SPACES) {
			if (pos == n)
				break;
			if (utf8_is_space(ch))
				continue;
			phase = IN_WORD;
		}
		if (pos == n) {
			if ((blank_ok || word.len > 0) &&
			    push_copy(words, n_words, word.data, word.len) < 0)
				return -1;
			break;
		}
		if (phase == IN_WORD) {
			if (utf8_is_space(ch)) {
				phase = IN_SPACES;
				if ((blank_ok || word.len > 0) &&
				    push_copy(words, n_words, word.data, word.len) < 0)
					return -1;
				buf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
			}
			if (ch == (uint32_t)escape) {
				if (pos + w == n)
					continue; /* an escape token at the very end is dropped */
				/* Outside quotes the escape and the next rune are both kept. */
				if (dockerfile_buf_add_rune(&word, ch) < 0)
					return -1;
				pos += w;
				w = utf8_decode_rune(s + pos, n - pos, &ch);
			}
			if (dockerfile_buf_add_rune(&word, ch) < 0)
				return -1;
			continue;
		}
		/* IN_QUOTE: single quotes escape nothing. */
		if (ch == quote)
			phase = IN_WORD;
		if (ch == (uint32_t)escape && quote != '\'') {
			if (pos + w == n) {
				phase = IN_WORD;
				continue;
			}
			if (dockerfile_buf_add_rune(&word, ch) < 0)
				return -1;
			pos += w;
			w = utf8_decode_rune(s + pos, n - pos, &ch);
		}
		if (dockerfile_buf_add_rune(&word, ch) < 0)
			return -1;
	}
	return 0;
}

/* Split on runs of [\t\v\f\r ] (BuildKit parseStringsWhitespaceDelimited); s is trimmed. */
static int split_blanks(const char *s, size_t n, char ***args, size_t *n_args)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && !is_token_space(s[j]))
			j++;
		if (push_copy(args, n_args, s + i, j - i) < 0)
			return -1;
		while (j < n && is_token_space(s[j]))
			j++;
		i = j;
	}
	return 0;
}

/* JSON form, if the text is a JSON array of strings.  1, 0 (not JSON) or -1. */
static int maybe_json(struct dockerfile_instruction *inst, const char *s, size_t n, size_t off,
		      struct dockerfile_line_ctx *ctx, struct plate_error **err)
{
	_cleanup_free_ size_t *lens = NULL;
	char **v = NULL;
	size_t nv = 0;
	int rc = dockerfile_json_array_parse(s, n, &v, &lens, &nv, err);

	if (rc < 0) {
		if ((*err)->errno_value == 0) {
			/* Locate the BuildKit message at the array. */
			dockerfile_linemap_locate(ctx->map, off, &(*err)->line, &(*err)->column);
		}
		return -1;
	}
	if (rc == 0)
		return 0;
	for (size_t k = 0; k < nv; k++) {
		if (strlen(v[k]) != lens[k])
			ctx->json_nul = true;
		if (vec_push(&inst->args, &inst->n_args, v[k]) < 0) {
			v[k] = NULL;
			strv_free(v, nv);
			return oom(err);
		}
		v[k] = NULL;
	}
	free(v);
	inst->json_form = true;
	return 1;
}

/* ENV and LABEL (BuildKit parseNameVal). */
static int parse_name_val(struct dockerfile_instruction *inst, const char *s, size_t n,
			  const char *what, struct dockerfile_line_ctx *ctx, size_t off,
			  struct plate_error **err)
{
	char **words = NULL;
	size_t n_words = 0;
	int rc = 0;

	if (parse_words(s, n, ctx->escape, &words, &n_words) < 0) {
		strv_free(words, n_words);
		return oom(err);
	}
	if (n_words == 0)
		return 0;
	if (strchr(words[0], '=') == NULL) {
		/* Legacy `KEY value…`: split once at the first blank run, value kept raw. */
		size_t k = 0, v;

		while (k < n && !is_token_space(s[k]))
			k++;
		for (v = k; v < n && is_token_space(s[v]); v++)
			;
		if (k == n) {
			_cleanup_free_ char *msg = NULL;

			strv_free(words, n_words);
			if (asprintf(&msg, "%s must have two arguments", what) < 0)
				return oom(err);
			return locate_err(err, ctx->map, off, msg);
		}
		if (push_copy(&inst->args, &inst->n_args, s, k) < 0 ||
		    push_copy(&inst->args, &inst->n_args, s + v, n - v) < 0 ||
		    push_copy(&inst->args, &inst->n_args, "", 0) < 0)
			rc = oom(err);
		strv_free(words, n_words);
		return rc;
	}
	for (size_t k = 0; k < n_words && rc == 0; k++) {
		const char *eq = strchr(words[k], '=');

		if (eq == NULL) {
			_cleanup_free_ char *msg = NULL;

			if (asprintf(&msg,
				     "syntax error: can't find '=' in '%s', must be of the form "
				     "name=value",
				     words[k]) < 0)
				rc = oom(err);
			else
				rc = locate_err(err, ctx->map, off, msg);
			break;
		}
		if (push_copy(&inst->args, &inst->n_args, words[k], (size_t)(eq - words[k])) < 0 ||
		    push_copy(&inst->args, &inst->n_args, eq + 1, strlen(eq + 1)) < 0 ||
		    push_copy(&inst->args, &inst->n_args, "=", 1) < 0)
			rc = oom(err);
	}
	strv_free(words, n_words);
	return rc;
}

void dockerfile_instruction_release(struct dockerfile_instruction *inst)
{
	free(inst->keyword);
	free(inst->original);
	strv_free(inst->flags, inst->n_flags);
	strv_free(inst->args, inst->n_args);
	if (inst->sub != NULL) {
		dockerfile_instruction_release(inst->sub);
		free(inst->sub);
	}
	for (size_t k = 0; k < inst->n_heredocs; k++)
		dockerfile_heredoc_release(&inst->heredocs[k]);
	free(inst->heredocs);
	*inst = (struct dockerfile_instruction){ 0 };
}

bool dockerfile_instruction_takes_heredocs(const struct dockerfile_instruction *inst)
{
	if (strcmp(inst->keyword, "onbuild") == 0 && inst->sub != NULL)
		inst = inst->sub;
	if (strcmp(inst->keyword, "run") != 0 && strcmp(inst->keyword, "copy") != 0 &&
	    strcmp(inst->keyword, "add") != 0)
		return false;
	return !inst->json_form;
}

static bool keyword_is(const struct dockerfile_split *sp, const char *word)
{
	return sp->keyword_len == strlen(word) &&
	       strncasecmp(sp->keyword, word, sp->keyword_len) == 0;
}

static int parse_onbuild(struct dockerfile_instruction *inst, const char *line, size_t base,
			 const struct dockerfile_split *sp, struct dockerfile_line_ctx *ctx,
			 struct plate_error **err)
{
	struct dockerfile_split sub_split;
	const char *rest = line + sp->rest_offset;
	size_t sub_base = base + sp->rest_offset;

	if (sp->rest_len == 0)
		return 0;
	/* Checked before recursing, so `ONBUILD ONBUILD …` cannot nest deeply. */
	if (dockerfile_split_command(rest, sp->rest_len, &sub_split, err) < 0)
		return -1;
	if (keyword_is(&sub_split, "onbuild")) {
		dockerfile_split_release(&sub_split);
		return locate_err(err, ctx->map, sub_base,
				  "chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed");
	}
	if (keyword_is(&sub_split, "from") || keyword_is(&sub_split, "maintainer")) {
		_cleanup_free_ char *msg = NULL;
		int n = asprintf(&msg, "'%.*s' isn't allowed as an ONBUILD trigger",
				 (int)sub_split.keyword_len, sub_split.keyword);

		dockerfile_split_release(&sub_split);
		return n < 0 ? oom(err) : locate_err(err, ctx->map, sub_base, msg);
	}
	dockerfile_split_release(&sub_split);
	inst->sub = calloc(1, sizeof(*inst->sub));
	if (inst->sub == NULL)
		return oom(err);
	return dockerfile_instruction_parse(rest, sp->rest_len, sub_base, ctx, inst->sub, err);
}

/* HEALTHCHECK (BuildKit parseHealthConfig): the type word, then the rest like CMD. */
static int parse_healthcheck(struct dockerfile_instruction *inst, const char *s, size_t n,
			     size_t off, struct dockerfile_line_ctx *ctx, struct plate_error **err)
{
	size_t sep = 0, next;
	int rc;

	while (sep < n && !dockerfile_is_ascii_space(s[sep]))
		sep++;
	for (next = sep; next < n && dockerfile_is_ascii_space(s[next]); next++)
		;
	if (sep == 0)
		return 0;
	if (push_copy(&inst->args, &inst->n_args, s, sep) < 0)
		return oom(err);
	if (next == n)
		return 0;
	rc = maybe_json(inst, s + next, n - next, off + next, ctx, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return push_copy(&inst->args, &inst->n_args, s + next, n - next) < 0 ? oom(err) : 0;
}

int dockerfile_instruction_parse(const char *line, size_t len, size_t base,
				 struct dockerfile_line_ctx *ctx,
				 struct dockerfile_instruction *out, struct plate_error **err)
{
	struct dockerfile_split sp;
	const char *rest;
	size_t rest_len, rest_off;
	int rc = 0;

	*out = (struct dockerfile_instruction){ 0 };
	if (dockerfile_split_command(line, len, &sp, err) < 0)
		return -1;
	dockerfile_linemap_locate(ctx->map, base + (size_t)(sp.keyword - line), &out->start_line,
				  &out->column);
	out->end_line = out->start_line;
	out->keyword = strndup(sp.keyword, sp.keyword_len);
	out->original = strndup(line, len);
	if (out->keyword == NULL || out->original == NULL) {
		dockerfile_split_release(&sp);
		dockerfile_instruction_release(out);
		return oom(err);
	}
	for (char *c = out->keyword; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	out->flags = steal_pointer(&sp.flags);
	out->n_flags = sp.n_flags;
	sp.n_flags = 0;
	rest = line + sp.rest_offset;
	rest_len = sp.rest_len;
	rest_off = base + sp.rest_offset;

	const char *kw = out->keyword;
	if (strcmp(kw, "add") == 0 || strcmp(kw, "copy") == 0 || strcmp(kw, "volume") == 0) {
		rc = maybe_json(out, rest, rest_len, rest_off, ctx, err);
		if (rc == 0 && split_blanks(rest, rest_len, &out->args, &out->n_args) < 0)
			rc = oom(err);
	} else if (strcmp(kw, "run") == 0 || strcmp(kw, "cmd") == 0 ||
		   strcmp(kw, "entrypoint") == 0 || strcmp(kw, "shell") == 0) {
		if (rest_len > 0) {
			rc = maybe_json(out, rest, rest_len, rest_off, ctx, err);
			if (rc == 0 && push_copy(&out->args, &out->n_args, rest, rest_len) < 0)
				rc = oom(err);
		}
	} else if (strcmp(kw, "from") == 0 || strcmp(kw, "expose") == 0) {
		if (split_blanks(rest, rest_len, &out->args, &out->n_args) < 0)
			rc = oom(err);
	} else if (strcmp(kw, "arg") == 0) {
		if (parse_words(rest, rest_len, ctx->escape, &out->args, &out->n_args) < 0)
			rc = oom(err);
	} else if (strcmp(kw, "env") == 0 || strcmp(kw, "label") == 0) {
		rc = parse_name_val(out, rest, rest_len, kw[0] == 'e' ? "ENV" : "LABEL", ctx,
				    base + (size_t)(sp.keyword - line), err);
	} else if (strcmp(kw, "maintainer") == 0 || strcmp(kw, "user") == 0 ||
		   strcmp(kw, "workdir") == 0 || strcmp(kw, "stopsignal") == 0) {
		if (rest_len > 0 && push_copy(&out->args, &out->n_args, rest, rest_len) < 0)
			rc = oom(err);
	} else if (strcmp(kw, "healthcheck") == 0) {
		rc = parse_healthcheck(out, rest, rest_len, rest_off, ctx, err);
	} else if (strcmp(kw, "onbuild") == 0) {
		rc = parse_onbuild(out, line, base, &sp, ctx, err);
	} else {
		/* Unknown instructions are kept with one empty argument (BuildKit parseIgnore). */
		if (push_copy(&out->args, &out->n_args, "", 0) < 0)
			rc = oom(err);
	}
	dockerfile_split_release(&sp);
	if (rc < 0) {
		dockerfile_instruction_release(out);
		return -1;
	}
	return 0;
}
