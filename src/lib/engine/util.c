/* Small helpers of the engine: a string map, paths, history quoting, hashing fields. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/go_quote.h"
#include "engine/engine_internal.h"

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int rehash(struct eng_strmap *m, size_t n_slots)
{
	size_t *slots = calloc(n_slots, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		size_t j = hash_str(m->keys[i]) & (n_slots - 1);
		while (slots[j] != 0)
			j = (j + 1) & (n_slots - 1);
		slots[j] = i + 1;
	}
	free(m->slots);
	m->slots = slots;
	m->n_slots = n_slots;
	return 0;
}

static size_t *find_slot(const struct eng_strmap *m, const char *key)
{
	size_t j;

	if (m->n_slots == 0)
		return NULL;
	for (j = hash_str(key) & (m->n_slots - 1); m->slots[j] != 0; j = (j + 1) & (m->n_slots - 1))
		if (strcmp(m->keys[m->slots[j] - 1], key) == 0)
			return &m->slots[j];
	return &m->slots[j];
}

int eng_strmap_put(struct eng_strmap *m, const char *key, void *value, void **old)
{
	size_t *slot;

	if (old != NULL)
		*old = NULL;
	if ((m->n + 1) * 2 > m->n_slots && rehash(m, m->n_slots ? m->n_slots * 2 : 64) < 0)
		return -1;
	slot = find_slot(m, key);
	if (*slot != 0) {
		if (old != NULL)
			*old = m->values[*slot - 1];
		m->values[*slot - 1] = value;
		return 0;
	}
	if (m->n == m->alloc) {
		size_t alloc = m->alloc ? m->alloc * 2 : 64;
		char **keys = realloc(m->keys, alloc * sizeof(*keys));
		if (keys == NULL)
			return -1;
		m->keys = keys;
		void **values = realloc(m->values, alloc * sizeof(*values));
		if (values == NULL)
			return -1;
		m->values = values;
		m->alloc = alloc;
	}
	if ((m->keys[m->n] = strdup(key)) == NULL)
		return -1;
	m->values[m->n] = value;
	*slot = ++m->n;
	return 0;
}

void *eng_strmap_get(const struct eng_strmap *m, const char *key)
{
	size_t *slot = find_slot(m, key);

	return slot != NULL && *slot != 0 ? m->values[*slot - 1] : NULL;
}

void eng_strmap_release(struct eng_strmap *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		if (free_value != NULL)
			free_value(m->values[i]);
	}
	free(m->keys);
	free(m->values);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

int eng_time_string(long long epoch, char out[32], struct plate_error **err)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (epoch < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return plate_err_new(err, EINVAL, "bad epoch %lld", epoch);
	return 0;
}

double eng_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *eng_path_clean_abs(const char *path)
{
	size_t len = strlen(path);
	char *out = malloc(len + 2);
	size_t o = 0;
	const char *p = path;

	if (out == NULL)
		return NULL;
	out[o++] = '/';
	while (*p != '\0') {
		const char *q;
		size_t n;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--;
		} else {
			if (o > 1)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return out;
}

char *eng_path_join(const char *base, const char *rel)
{
	_cleanup_free_ char *joined = NULL;

	if (rel[0] == '/')
		return eng_path_clean_abs(rel);
	if (asprintf(&joined, "%s/%s", base && *base ? base : "/", rel) < 0)
		return NULL;
	return eng_path_clean_abs(joined);
}

int eng_env_set(struct oci_strings *env, const char *kv, struct plate_error **err)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);

	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], kv, klen) == 0 && env->v[i][klen] == '=') {
			char *copy = strdup(kv);
			if (copy == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
			free(env->v[i]);
			env->v[i] = copy;
			return 0;
		}
	}
	return oci_strings_add(env, kv, err);
}

char *eng_quote_list(const char *const *v, size_t n)
{
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);

	if (buf_addch(&b, '[') < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((i > 0 && buf_addch(&b, ' ') < 0) || go_quote(&b, v[i], strlen(v[i])) < 0)
			return NULL;
	if (buf_addch(&b, ']') < 0)
		return NULL;
	return buf_detach(&b, NULL);
}

void eng_hash_bytes(struct digest *d, const void *p, size_t len)
{
	eng_hash_u64(d, len);
	digest_update(d, p, len);
}

void eng_hash_field(struct digest *d, const char *s)
{
	eng_hash_bytes(d, s ? s : "", s ? strlen(s) : 0);
}

void eng_hash_u64(struct digest *d, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	digest_update(d, b, sizeof(b));
}

/* ---- layers ------------------------------------------------------------------------- */

void eng_layer_release(struct eng_layer *l)
{
	free(l->diff_id);
	free(l->blob);
	free(l->media_type);
	free(l->path);
	free(l->cache_key);
	free(l->chain_key);
	memset(l, 0, sizeof(*l));
}

static int dup_or_null(char **dst, const char *src)
{
	*dst = NULL;
	return src != NULL && (*dst = strdup(src)) == NULL ? -1 : 0;
}

int eng_layers_add(struct eng_layers *ls, const struct eng_layer *l, struct plate_error **err)
{
	struct eng_layer *grown = realloc(ls->v, (ls->n + 1) * sizeof(*grown));
	struct eng_layer c = { .size = l->size, .remote = l->remote };

	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	ls->v = grown;
	if (dup_or_null(&c.diff_id, l->diff_id) < 0 || dup_or_null(&c.blob, l->blob) < 0 ||
	    dup_or_null(&c.media_type, l->media_type) < 0 || dup_or_null(&c.path, l->path) < 0 ||
	    dup_or_null(&c.cache_key, l->cache_key) < 0 ||
	    dup_or_null(&c.chain_key, l->chain_key) < 0) {
		eng_layer_release(&c);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	ls->v[ls->n++] = c;
	return 0;
}

int eng_layers_copy(struct eng_layers *dst, const struct eng_layers *src, struct plate_error **err)
{
	struct eng_layers c = { 0 };

	for (size_t i = 0; i < src->n; i++)
		if (eng_layers_add(&c, &src->v[i], err) < 0) {
			eng_layers_release(&c);
			return -1;
		}
	*dst = c;
	return 0;
}

void eng_layers_release(struct eng_layers *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		eng_layer_release(&ls->v[i]);
	free(ls->v);
	memset(ls, 0, sizeof(*ls));
}

int eng_layers_lowers(struct engine *e, struct eng_layers *ls, const char ***paths, size_t *n,
		      struct plate_error **err)
{
	const char **v;

	/* A layer taken from a shared cache gets its files now that something reads them. */
	for (size_t i = 0; e != NULL && i < ls->n; i++)
		if (eng_layer_fetch(e, &ls->v[i], err) < 0)
			return -1;
	if ((v = calloc(ls->n + 1, sizeof(*v))) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ls->n; i++)
		v[i] = ls->v[ls->n - 1 - i].path;
	*paths = v;
	*n = ls->n;
	return 0;
}
