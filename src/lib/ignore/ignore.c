/*
 * The matcher: patternmatcher.New's construction rules, MatchesOrParentMatches, and the
 * per-directory walk API built on one observation about MatchesOrParentMatches:
 *
 *   Its loop skips a non-exception pattern once the path is excluded and an exception
 *   while it is not, and a hit sets excluded = !exception.  A skipped pattern could only
 *   have set the value the path already has, so the result is simply "the last pattern
 *   that hits is not an exception" (false when none hits).
 *
 * Hence patterns are tried from the last one down and the first hit decides; and a
 * directory's state is just the index of its last hit, since an entry's hits are its
 * directory's hits plus the patterns matching the entry itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "ignore/ignore.h"
#include "ignore/ignore_internal.h"

/* Walk entries with fewer '/' than this get a pattern list of their own (struct ignore). */
#define DEPTH_LISTS 16

/* Non-clean paths up to this length get their parent cleaned on the stack. */
#define DIR_STACK_BUF 4096

struct pattern {
	char *text; /* cleaned, without the '!' of an exception */
	size_t len;
	bool exception;
	enum ignore_kind kind;
	int slashes; /* number of '/' in every string the pattern matches, -1 if it varies */
	struct ignore_prog *prog;
	/* cheap rejection before the real test: every match is at least min_len bytes, and
	 * starts with first / ends with last (each -1 when unknown) */
	size_t min_len;
	int first, last;
};

struct ignore {
	struct pattern *pats;
	size_t n;
	/* next_exception[i]: the first exception at index >= i, or n */
	size_t *next_exception;
	/* by_depth[d] (d < DEPTH_LISTS - 1): the patterns an entry with d '/' can match, last
	 * first, ending with (uint32_t)-1; by_depth[DEPTH_LISTS - 1] serves all deeper entries */
	uint32_t *by_depth[DEPTH_LISTS];
};

void ignore_free(struct ignore *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->pats[i].text);
		ignore_prog_free(m->pats[i].prog);
	}
	free(m->pats);
	free(m->next_exception);
	for (size_t d = 0; d < DEPTH_LISTS; d++)
		free(m->by_depth[d]);
	free(m);
}

static void cleanup_ignorep(struct ignore **m)
{
	ignore_free(*m);
}

static size_t count_slashes(const char *s, size_t len)
{
	size_t k = 0;

	for (const char *p = s; (p = memchr(p, '/', len - (size_t)(p - s))) != NULL; p++)
		k++;
	return k;
}

static void set_filters(struct pattern *p)
{
	const char *pre = "", *suf = "";
	size_t pre_len = 0, suf_len = 0;

	switch (p->kind) {
	case IGNORE_KIND_EXACT:
		pre = suf = p->text;
		pre_len = suf_len = p->len;
		break;
	case IGNORE_KIND_PREFIX:
		pre = p->text;
		pre_len = p->len - 2;
		break;
	case IGNORE_KIND_SUFFIX:
		/* "**" + "/x" also matches "x": only the bytes after the '/' are certain */
		suf = p->text + 2;
		suf_len = p->len - 2;
		if (suf_len > 0 && suf[0] == '/') {
			suf++;
			suf_len--;
		}
		break;
	case IGNORE_KIND_REGEXP:
		ignore_prog_literals(p->prog, &pre, &pre_len, &suf, &suf_len);
		break;
	default:
		break;
	}
	p->min_len = pre_len > suf_len ? pre_len : suf_len;
	p->first = pre_len ? (unsigned char)pre[0] : -1;
	p->last = suf_len ? (unsigned char)suf[suf_len - 1] : -1;
}

/* One entry of patternmatcher.New: `raw` is trimmed, cleaned, split from its '!', checked
 * with filepath.Match's syntax rules, classified and compiled. */
static int add_pattern(struct ignore *m, const char *raw, struct plate_error **err)
{
	const char *s = raw;
	size_t len = strlen(raw);
	struct pattern *p = &m->pats[m->n];
	_cleanup_free_ char *clean = NULL;
	struct buf re = BUF_INIT(BUF_UNLIMITED);
	size_t clen;
	int rc = -1;

	ignore_trim_space(&s, &len);
	if (len == 0)
		return 0;
	if (len > IGNORE_MAX_PATTERN_LEN)
		return plate_err_new(err, 0, "pattern \"%.40s...\" too long (more than %d bytes)",
				     s, IGNORE_MAX_PATTERN_LEN);
	clean = malloc(len + 2);
	if (clean == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	clen = ignore_clean(s, len, clean);

	memset(p, 0, sizeof(*p));
	if (clean[0] == '!') {
		if (clen == 1)
			return plate_err_new(err, 0, "illegal exclusion pattern \"!\"");
		p->exception = true;
		memmove(clean, clean + 1, clen--);
	}
	if (ignore_glob_check(clean, clen) < 0)
		return plate_err_new(err, 0, "syntax error in pattern \"%.*s\"", (int)len, s);
	if (ignore_glob_translate(clean, clen, &p->kind, &re) < 0) {
		plate_err_new(err, errno, "out of memory");
		goto out;
	}
	switch (p->kind) {
	case IGNORE_KIND_EXACT:
		p->slashes = (int)count_slashes(clean, clen);
		break;
	case IGNORE_KIND_PREFIX:
	case IGNORE_KIND_SUFFIX:
		p->slashes = -1;
		break;
	case IGNORE_KIND_REGEXP:
		if (ignore_prog_compile(re.data, re.len, clean, &p->prog, err) < 0)
			goto out;
		p->slashes = ignore_prog_slashes(p->prog);
		break;
	default:
		PLATE_BUG("pattern kind %d", p->kind);
	}
	p->text = steal_pointer(&clean);
	p->len = clen;
	set_filters(p);
	m->n++;
	rc = 0;
out:
	buf_release(&re);
	return rc;
}

int ignore_new(const char *const *patterns, size_t n, struct ignore **out, struct plate_error **err)
{
	_cleanup_(cleanup_ignorep) struct ignore *m = NULL;

	if (n > IGNORE_MAX_PATTERNS)
		return plate_err_new(err, E2BIG, "too many patterns (more than %d)",
				     IGNORE_MAX_PATTERNS);
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->pats = calloc(n + 1, sizeof(*m->pats))) == NULL ||
	    (m->next_exception = calloc(n + 1, sizeof(*m->next_exception))) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (add_pattern(m, patterns[i], err) < 0)
			return -1;
	m->next_exception[m->n] = m->n;
	for (size_t i = m->n; i-- > 0;)
		m->next_exception[i] = m->pats[i].exception ? i : m->next_exception[i + 1];
	for (size_t d = 0; d < DEPTH_LISTS; d++) {
		size_t k = 0;

		if ((m->by_depth[d] = malloc((m->n + 1) * sizeof(uint32_t))) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		for (size_t j = m->n; j-- > 0;) {
			int sl = m->pats[j].slashes;
			if (sl < 0 || (size_t)sl == d || (d == DEPTH_LISTS - 1 && (size_t)sl > d))
				m->by_depth[d][k++] = (uint32_t)j;
		}
		m->by_depth[d][k] = (uint32_t)-1;
	}
	*out = steal_pointer(&m);
	return 0;
}

bool ignore_has_exceptions(const struct ignore *m)
{
	return m->next_exception[0] < m->n;
}

/* patternmatcher's Pattern.match on one string. */
static bool hit_full(const struct pattern *p, const char *s, size_t len)
{
	switch (p->kind) {
	case IGNORE_KIND_EXACT:
		return len == p->len && memcmp(s, p->text, len) == 0;
	case IGNORE_KIND_PREFIX:
		/* the pattern minus its trailing "**" */
		return len >= p->len - 2 && memcmp(s, p->text, p->len - 2) == 0;
	case IGNORE_KIND_SUFFIX: {
		/* the pattern minus its leading "**"; "**\/x" also matches "x" itself */
		const char *suf = p->text + 2;
		size_t sl = p->len - 2;

		if (len >= sl && memcmp(s + len - sl, suf, sl) == 0)
			return true;
		return sl > 0 && suf[0] == '/' && len == sl - 1 && memcmp(s, suf + 1, len) == 0;
	}
	case IGNORE_KIND_REGEXP:
		return ignore_prog_match(p->prog, s, len);
	default:
		return false;
	}
}

/* Most tests fail on length or on the first or last byte: decide those inline. */
static inline bool hit_one(const struct pattern *p, const char *s, size_t len)
{
	if (len < p->min_len || (p->first >= 0 && (unsigned char)s[0] != p->first) ||
	    (p->last >= 0 && (unsigned char)s[len - 1] != p->last))
		return false;
	return hit_full(p, s, len);
}

/* Parents with more '/' than this get their cut list in heap memory. */
#define CUTS_STACK 256

/* A path and the directory whose prefixes are its ancestors for MatchesOrParentMatches:
 * dir[0..cuts[i]) for each '/' in dir, then dir itself. */
struct subject {
	const char *path;
	size_t len, slashes;
	const char *dir; /* Go filepath.Dir(path), NULL when it is "." */
	size_t dlen;
	const size_t *cuts; /* offsets of the '/' in dir */
	size_t ncuts;
};

/* Does pattern p hit the path or one of its ancestors? */
static bool hit_any(const struct pattern *p, const struct subject *sb)
{
	if (p->slashes >= 0) {
		/* only a string with exactly that many '/' can match: one candidate at most */
		size_t k = (size_t)p->slashes;

		if (sb->slashes == k && hit_one(p, sb->path, sb->len))
			return true;
		if (sb->dir == NULL || k > sb->ncuts)
			return false;
		return hit_one(p, sb->dir, k < sb->ncuts ? sb->cuts[k] : sb->dlen);
	}
	if (hit_one(p, sb->path, sb->len))
		return true;
	if (sb->dir == NULL)
		return false;
	for (size_t i = 0; i < sb->ncuts; i++)
		if (hit_one(p, sb->dir, sb->cuts[i]))
			return true;
	return hit_one(p, sb->dir, sb->dlen);
}

static size_t list_cuts(const char *s, size_t len, size_t *cuts)
{
	size_t n = 0;

	for (const char *p = s; (p = memchr(p, '/', len - (size_t)(p - s))) != NULL; p++)
		cuts[n++] = (size_t)(p - s);
	return n;
}

bool ignore_match(const struct ignore *m, const char *path)
{
	struct subject sb = { .path = path, .len = strlen(path) };
	const char *slash = memrchr(path, '/', sb.len);
	char stack[DIR_STACK_BUF + 2];
	size_t cut_stack[CUTS_STACK];
	_cleanup_free_ char *heap = NULL;
	_cleanup_free_ size_t *heap_cuts = NULL;

	if (slash != NULL) {
		/* Go's Dir: Clean of everything up to and including the last '/' */
		size_t raw = (size_t)(slash - path) + 1, n;

		if (ignore_is_clean_relative(path, raw - 1)) {
			sb.dir = path;
			sb.dlen = raw - 1;
		} else {
			char *buf = stack;
			if (raw > DIR_STACK_BUF && (buf = heap = malloc(raw + 2)) == NULL)
				return true; /* documented: fail closed */
			sb.dlen = ignore_clean(path, raw, buf);
			sb.dir = buf;
			if (sb.dlen == 1 && buf[0] == '.')
				sb.dir = NULL;
		}
		if (sb.dir != NULL) {
			n = count_slashes(sb.dir, sb.dlen);
			size_t *cuts = cut_stack;
			if (n > CUTS_STACK &&
			    (cuts = heap_cuts = malloc(n * sizeof(*cuts))) == NULL)
				return true;
			sb.ncuts = list_cuts(sb.dir, sb.dlen, cuts);
			sb.cuts = cuts;
		}
		/* a clean path has one '/' more than its parent */
		sb.slashes = sb.dir == path ? sb.ncuts + 1 : count_slashes(path, sb.len);
	}
	for (size_t j = m->n; j-- > 0;)
		if (hit_any(&m->pats[j], &sb))
			return !m->pats[j].exception;
	return false;
}

bool ignore_match_entry(const struct ignore *m, const struct ignore_dir *parent, const char *path,
			struct ignore_dir *as_dir)
{
	size_t len = strlen(path);
	int last = parent->last >= 0 && (size_t)parent->last < m->n ? parent->last : -1;

	/* the entry's hits are the directory's plus those on the entry itself: only a later
	 * pattern can change the answer */
	const uint32_t *list =
		m->by_depth[parent->depth < DEPTH_LISTS ? parent->depth : DEPTH_LISTS - 1];
	for (; *list != (uint32_t)-1 && (int)*list > last; list++) {
		const struct pattern *p = &m->pats[*list];

		if (p->slashes >= 0 && (unsigned)p->slashes != parent->depth)
			continue;
		if (hit_one(p, path, len)) {
			last = (int)*list;
			break;
		}
	}
	if (as_dir != NULL) {
		as_dir->last = last;
		as_dir->depth = parent->depth + 1;
	}
	return last >= 0 && !m->pats[last].exception;
}

/* Could pattern p match some path strictly below directory d? (May say yes wrongly, never
 * no wrongly.) */
static bool could_hit_below(const struct pattern *p, const char *d, size_t dlen)
{
	switch (p->kind) {
	case IGNORE_KIND_EXACT:
		return p->len > dlen + 1 && memcmp(p->text, d, dlen) == 0 && p->text[dlen] == '/';
	case IGNORE_KIND_PREFIX: {
		size_t xl = p->len - 2, n = xl < dlen ? xl : dlen;
		return memcmp(p->text, d, n) == 0 && (xl <= dlen || p->text[dlen] == '/');
	}
	case IGNORE_KIND_SUFFIX:
		return true;
	case IGNORE_KIND_REGEXP:
		return ignore_prog_match_below(p->prog, d, dlen);
	default:
		return true;
	}
}

bool ignore_dir_skippable(const struct ignore *m, const struct ignore_dir *dir, const char *dirpath)
{
	size_t dlen = strlen(dirpath);

	if (dir->last < 0 || (size_t)dir->last >= m->n || m->pats[dir->last].exception)
		return false;
	/* excluded by pattern `last`: only a later exception can re-include anything */
	for (size_t j = m->next_exception[dir->last + 1]; j < m->n; j = m->next_exception[j + 1])
		if (could_hit_below(&m->pats[j], dirpath, dlen))
			return false;
	return true;
}
