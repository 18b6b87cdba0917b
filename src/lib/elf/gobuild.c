/*
 * Go build information (the format of Go's runtime/debug.BuildInfo as the linker embeds it;
 * facts from the Go toolchain documentation, no Go code).  The 32-byte header is
 *   "\xff Go buildinf:" (14 bytes), pointer size (1), flags (1: 0x1 big-endian, 0x2 inline),
 * followed either by two uvarint-prefixed strings (inline, Go >= 1.18) or, at offset 16,
 * two pointers to Go string headers {data pointer, length} (older toolchains).  The module
 * text is wrapped in 16-byte sentinels that are dropped when present.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "elf/elf.h"

static const char magic[] = "\xff Go buildinf:";
#define MAGIC_LEN 14
#define HEADER_LEN 32
#define SENTINEL_LEN 16
/* Where the header is searched when there is no ".go.buildinfo" section: the linker puts
 * it at the start of the first writable segment, aligned to 16. */
#define SEARCH_LIMIT (1u << 20)

static void module_release(struct elf_go_module *m)
{
	free(m->path);
	free(m->version);
	free(m->sum);
	free(m->replace_path);
	free(m->replace_version);
	free(m->replace_sum);
}

void elf_go_info_release(struct elf_go_info *g)
{
	free(g->go_version);
	free(g->path);
	module_release(&g->main);
	for (size_t i = 0; i < g->n_deps; i++)
		module_release(&g->deps[i]);
	free(g->deps);
	strv_free(g->setting_keys, g->n_settings);
	strv_free(g->setting_values, g->n_settings);
	memset(g, 0, sizeof(*g));
}

const char *elf_go_setting(const struct elf_go_info *g, const char *key)
{
	for (size_t i = 0; i < g->n_settings; i++)
		if (strcmp(g->setting_keys[i], key) == 0)
			return g->setting_values[i];
	return NULL;
}

/* Splits a tab-separated line into at most max fields (views into line, NUL-terminated). */
static size_t split_tabs(char *line, char **fields, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *tab = strchr(line, '\t');
		fields[n++] = line;
		if (tab == NULL)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return n;
}

static int set_module(struct elf_go_module *m, char **f, size_t n, bool replace)
{
	char *path = strdup(f[1]), *version = strdup(n > 2 ? f[2] : ""),
	     *sum = n > 3 && f[3][0] ? strdup(f[3]) : NULL;

	if (path == NULL || version == NULL || (n > 3 && f[3][0] && sum == NULL)) {
		free(path);
		free(version);
		free(sum);
		return -1;
	}
	if (replace) {
		m->replace_path = path;
		m->replace_version = version;
		m->replace_sum = sum;
	} else {
		m->path = path;
		m->version = version;
		m->sum = sum;
	}
	return 0;
}

/* A "build" value may be a Go quoted string when it holds spaces or quotes; the common
 * escapes are undone, anything else is kept as written. */
static char *unquote(const char *v)
{
	size_t n = strlen(v), o = 0;
	char *out;

	if (n < 2 || v[0] != '"' || v[n - 1] != '"')
		return strdup(v);
	out = malloc(n);
	if (out == NULL)
		return NULL;
	for (size_t i = 1; i + 1 < n; i++) {
		if (v[i] == '\\' && i + 2 < n) {
			char c = v[++i];
			out[o++] = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		} else {
			out[o++] = v[i];
		}
	}
	out[o] = '\0';
	return out;
}

static int add_setting(struct elf_go_info *g, const char *kv, struct plate_error **err)
{
	const char *eq = strchr(kv, '=');
	char **keys, **values;

	if (eq == NULL)
		return 0;
	keys = reallocarray(g->setting_keys, g->n_settings + 1, sizeof(*keys));
	if (keys == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	g->setting_keys = keys;
	values = reallocarray(g->setting_values, g->n_settings + 1, sizeof(*values));
	if (values == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	g->setting_values = values;
	keys[g->n_settings] = strndup(kv, (size_t)(eq - kv));
	values[g->n_settings] = unquote(eq + 1);
	if (keys[g->n_settings] == NULL || values[g->n_settings] == NULL) {
		free(keys[g->n_settings]);
		free(values[g->n_settings]);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	g->n_settings++;
	return 0;
}

static int modinfo_line(struct elf_go_info *g, char *line, unsigned lineno,
			struct elf_go_module **last, struct plate_error **err)
{
	char *f[5];
	size_t n = split_tabs(line, f, 5);

	if (strcmp(f[0], "path") == 0 && n >= 2) {
		free(g->path);
		g->path = strdup(f[1]);
		return g->path ? 0 : plate_err_new(err, ENOMEM, "out of memory");
	}
	if (strcmp(f[0], "mod") == 0 && n >= 2) {
		if (g->main.path != NULL)
			return plate_err_at(err, lineno, 1, "go build info: second 'mod' line");
		*last = &g->main;
		return set_module(&g->main, f, n, false) < 0
			       ? plate_err_new(err, ENOMEM, "out of memory")
			       : 0;
	}
	if (strcmp(f[0], "dep") == 0 && n >= 2) {
		struct elf_go_module *deps;
		if (g->n_deps >= ELF_GO_MAX_DEPS)
			return plate_err_at(err, lineno, 1, "go build info: too many dependencies");
		deps = reallocarray(g->deps, g->n_deps + 1, sizeof(*deps));
		if (deps == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		g->deps = deps;
		memset(&deps[g->n_deps], 0, sizeof(*deps));
		if (set_module(&deps[g->n_deps], f, n, false) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		*last = &deps[g->n_deps++];
		return 0;
	}
	if (strcmp(f[0], "=>") == 0 && n >= 2) {
		if (*last == NULL || (*last)->replace_path != NULL)
			return plate_err_at(err, lineno, 1, "go build info: '=>' without a module");
		return set_module(*last, f, n, true) < 0
			       ? plate_err_new(err, ENOMEM, "out of memory")
			       : 0;
	}
	if (strcmp(f[0], "build") == 0 && n >= 2) {
		/* the value may itself contain tabs: rejoin what split_tabs cut */
		for (size_t i = 2; i < n; i++)
			f[i][-1] = '\t';
		return add_setting(g, f[1], err);
	}
	if (f[0][0] == '\0' && n == 1)
		return 0;
	return plate_err_at(err, lineno, 1, "go build info: unknown line '%s'", f[0]);
}

int elf_go_modinfo_parse(const char *text, size_t len, struct elf_go_info *out,
			 struct plate_error **err)
{
	_cleanup_free_ char *copy = NULL;
	struct elf_go_module *last = NULL;
	unsigned lineno = 0;
	char *p, *end;

	if (len > ELF_GO_MAX_INFO)
		return plate_err_new(err, EFBIG, "go build info is larger than %u bytes",
				     ELF_GO_MAX_INFO);
	/* the sentinels: 16 bytes before, 16 bytes after, the text ending in a newline */
	if (len >= 2 * SENTINEL_LEN + 1 && text[len - SENTINEL_LEN - 1] == '\n') {
		text += SENTINEL_LEN;
		len -= 2 * SENTINEL_LEN;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (memchr(copy, '\0', len) != NULL)
		return plate_err_new(err, EINVAL, "go build info holds a NUL byte");
	for (p = copy, end = copy + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		if (modinfo_line(out, p, lineno, &last, err) < 0)
			return -1;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}

static int uvarint(const uint8_t *p, size_t len, size_t *used, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*used = i + 1;
			*out = v;
			return 0;
		}
	}
	return -1;
}

static uint64_t get_word(const uint8_t *p, unsigned size, bool be)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (be ? 8 * (size - 1 - i) : 8 * i);
	return v;
}

/* Reads the Go string whose header {ptr, len} is at virtual address addr (old layout). */
static int read_go_string(const uint8_t *buf, size_t len, const struct elf *elf, uint64_t addr,
			  unsigned ptr, bool be, const uint8_t **s, size_t *n)
{
	int64_t off = elf_vaddr_offset(elf, addr), data_off;
	uint64_t data, length;

	if (off < 0 || (uint64_t)off > len || len - (uint64_t)off < 2u * ptr)
		return -1;
	data = get_word(buf + off, ptr, be);
	length = get_word(buf + off + ptr, ptr, be);
	if (length > ELF_GO_MAX_INFO)
		return -1;
	if (length == 0) {
		*s = buf;
		*n = 0;
		return 0;
	}
	data_off = elf_vaddr_offset(elf, data);
	if (data_off < 0 || (uint64_t)data_off > len || len - (uint64_t)data_off < length)
		return -1;
	*s = buf + data_off;
	*n = (size_t)length;
	return 0;
}

static const uint8_t *find_header(const uint8_t *buf, size_t len, const struct elf *elf)
{
	if (elf != NULL && elf->has_go_buildinfo) {
		if (elf->go_buildinfo_size >= HEADER_LEN &&
		    memcmp(buf + elf->go_buildinfo_offset, magic, MAGIC_LEN) == 0)
			return buf + elf->go_buildinfo_offset;
		return NULL;
	}
	if (elf != NULL) {
		for (size_t i = 0; i < elf->n_loads; i++) {
			const struct elf_load *l = &elf->loads[i];
			uint64_t n = l->filesz < SEARCH_LIMIT ? l->filesz : SEARCH_LIMIT;
			if (!l->writable)
				continue;
			if (l->offset > len || len - l->offset < n)
				return NULL;
			for (uint64_t o = 0; o + HEADER_LEN <= n; o += 16)
				if (memcmp(buf + l->offset + o, magic, MAGIC_LEN) == 0)
					return buf + l->offset + o;
			return NULL;
		}
		return NULL;
	}
	for (size_t o = 0; o + HEADER_LEN <= len && o < SEARCH_LIMIT; o += 16)
		if (memcmp(buf + o, magic, MAGIC_LEN) == 0)
			return buf + o;
	return NULL;
}

int elf_go_buildinfo_parse(const void *data, size_t len, const struct elf *elf,
			   struct elf_go_info *out, struct plate_error **err)
{
	const uint8_t *buf = data, *h = find_header(buf, len, elf), *vs, *ms;
	size_t vn, mn, end = len;
	struct elf_go_info g = { 0 };
	unsigned ptr;
	bool be;

	memset(out, 0, sizeof(*out));
	if (h == NULL)
		return 1;
	ptr = h[14];
	be = (h[15] & 1) != 0;
	if (h[15] & 2) {
		const uint8_t *p = h + HEADER_LEN;
		size_t left = end - (size_t)(p - buf), used;
		uint64_t n;
		if (uvarint(p, left, &used, &n) < 0 || n > left - used)
			return plate_err_new(err, EINVAL,
					     "go build info: version string is truncated");
		vs = p + used;
		vn = (size_t)n;
		p = vs + vn;
		left -= used + vn;
		if (uvarint(p, left, &used, &n) < 0 || n > left - used)
			return plate_err_new(err, EINVAL,
					     "go build info: module string is truncated");
		ms = p + used;
		mn = (size_t)n;
	} else {
		if (ptr != 4 && ptr != 8)
			return plate_err_new(err, EINVAL, "go build info: pointer size %u", ptr);
		if (elf == NULL || (size_t)(h - buf) + 16 + 2u * ptr > len)
			return plate_err_new(err, EINVAL,
					     "go build info: pointers cannot be resolved");
		if (read_go_string(buf, len, elf, get_word(h + 16, ptr, be), ptr, be, &vs, &vn) <
			    0 ||
		    read_go_string(buf, len, elf, get_word(h + 16 + ptr, ptr, be), ptr, be, &ms,
				   &mn) < 0)
			return plate_err_new(err, EINVAL,
					     "go build info: strings lie outside the file");
	}
	if (vn > 256 || memchr(vs, '\0', vn) != NULL)
		return plate_err_new(err, EINVAL, "go build info: bad version string");
	g.go_version = strndup((const char *)vs, vn);
	if (g.go_version == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (elf_go_modinfo_parse((const char *)ms, mn, &g, err) < 0) {
		elf_go_info_release(&g);
		return -1;
	}
	*out = g;
	return 0;
}
