#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "lint/lint_internal.h"

const char *const lint_rule_ids[] = {
	"StageNameCasing",
	"FromAsCasing",
	"NoEmptyContinuation",
	"ConsistentInstructionCasing",
	"DuplicateStageName",
	"ReservedStageName",
	"JSONArgsRecommended",
	"MaintainerDeprecated",
	"UndefinedArgInFrom",
	"WorkdirRelativePath",
	"UndefinedVar",
	"MultipleInstructionsDisallowed",
	"LegacyKeyValueFormat",
	"InvalidBaseImagePlatform",
	"RedundantTargetPlatform",
	"SecretsUsedInArgOrEnv",
	"InvalidDefaultArgInFrom",
	"FromPlatformFlagConstDisallowed",
	"CopyIgnoredFile",
	"InvalidDefinitionDescription",
	"ExposeProtoCasing",
	"ExposeInvalidFormat",
	"SecretInContext",
	"DependencyDownloadAfterCopyAll",
	NULL,
};

bool lint_rule_experimental(const char *id)
{
	return strcmp(id, "CopyIgnoredFile") == 0 ||
	       strcmp(id, "InvalidDefinitionDescription") == 0;
}

void lint_policy_release(struct lint_policy *p)
{
	char **v;

	for (v = p->skip; v && *v; v++)
		free(*v);
	free(p->skip);
	for (v = p->experimental; v && *v; v++)
		free(*v);
	free(p->experimental);
	*p = (struct lint_policy)LINT_POLICY_INIT;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* [*s, *e) narrowed by ASCII white space (Go's strings.TrimSpace on ASCII input). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

static bool equals(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, const char *e, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < 6; i++) {
		if (equals(s, e, yes[i])) {
			*out = true;
			return 0;
		}
		if (equals(s, e, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* A comma-separated list, each item trimmed; "all" sets *all instead. */
static int parse_list(const char *s, const char *e, char ***out, bool *all)
{
	size_t n = 1, i = 0;
	char **v;

	trim(&s, &e);
	if (equals(s, e, "all")) {
		*all = true;
		return 0;
	}
	for (const char *p = s; p < e; p++)
		n += *p == ',';
	v = calloc(n + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	for (const char *p = s;;) {
		const char *c = memchr(p, ',', (size_t)(e - p));
		const char *ie = c ? c : e, *is = p;
		trim(&is, &ie);
		v[i] = strndup(is, (size_t)(ie - is));
		if (v[i] == NULL) {
			strv_free(v, i);
			return -1;
		}
		i++;
		if (c == NULL)
			break;
		p = c + 1;
	}
	for (char **o = *out; o && *o; o++)
		free(*o);
	free(*out);
	*out = v;
	return 0;
}

int lint_policy_parse(const char *str, struct lint_policy *out, struct plate_error **err)
{
	struct lint_policy p = LINT_POLICY_INIT;
	const char *s = str, *e;

	if (str == NULL) {
		*out = p;
		return 0;
	}
	e = s + strlen(s);
	trim(&s, &e);
	while (s < e) {
		const char *semi = memchr(s, ';', (size_t)(e - s));
		const char *pe = semi ? semi : e;
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		const char *ks = s, *ke = eq;
		int rc = 0;

		if (eq == NULL) {
			lint_policy_release(&p);
			return plate_err_new(err, EINVAL, "invalid check option '%.*s'",
					     (int)(pe - s), s);
		}
		trim(&ks, &ke);
		if (equals(ks, ke, "skip")) {
			rc = parse_list(eq + 1, pe, &p.skip, &p.skip_all);
		} else if (equals(ks, ke, "experimental")) {
			rc = parse_list(eq + 1, pe, &p.experimental, &p.experimental_all);
		} else if (equals(ks, ke, "error")) {
			const char *vs = eq + 1, *ve = pe;
			trim(&vs, &ve);
			if (parse_bool(vs, ve, &p.error) < 0) {
				lint_policy_release(&p);
				return plate_err_new(err, EINVAL,
						     "failed to parse check option '%.*s': "
						     "invalid boolean '%.*s'",
						     (int)(pe - s), s, (int)(ve - vs), vs);
			}
		} else {
			lint_policy_release(&p);
			return plate_err_new(err, EINVAL, "invalid check option '%.*s'",
					     (int)(ke - ks), ks);
		}
		if (rc < 0) {
			lint_policy_release(&p);
			return plate_err_new(err, ENOMEM, "out of memory parsing check options");
		}
		s = semi ? semi + 1 : e;
	}
	*out = p;
	return 0;
}

static bool listed(char *const *v, const char *id)
{
	for (; v && *v; v++)
		if (strcmp(*v, id) == 0)
			return true;
	return false;
}

bool lint_policy_enabled(const struct lint_policy *p, const char *id)
{
	if (lint_rule_experimental(id))
		return p->experimental_all || listed(p->experimental, id);
	return !p->skip_all && !listed(p->skip, id);
}

int lint_emit(struct lint_run *run, const char *id, unsigned line, const char *fix, const char *fmt,
	      ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int n;

	if (!lint_policy_enabled(run->policy, id))
		return 0;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = NULL;
		return plate_err_new(run->err, ENOMEM, "out of memory adding finding '%s'", id);
	}
	return finding_report_add(run->report, id,
				  run->policy->error ? FINDING_ERROR : FINDING_WARNING,
				  run->opt->file, line, NULL, fix, run->err, "%s", msg);
}
