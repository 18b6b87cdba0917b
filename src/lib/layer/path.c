/*
 * Pure path handling: canonicalisation of tar entry paths, the layer order, quoting for
 * error messages.  No system calls here, so all of it is unit-tested directly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer/layer_internal.h"

/* '\0' < '/' < every other byte: a path sorts before its children and its children sort
 * before its siblings that extend its last component ("a", "a/b", "a-b"). */
static int order_key(unsigned char c)
{
	if (c == '\0')
		return 0;
	if (c == '/')
		return 1;
	return c + 2;
}

int layer_path_compare(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	while (*x != '\0' && *x == *y) {
		x++;
		y++;
	}
	return order_key(*x) - order_key(*y);
}

char *layer_quote(const char *s, size_t len, char out[LAYER_QUOTE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 8 >= LAYER_QUOTE_MAX - 1) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

int layer_path_clean(const char *in, size_t len, unsigned flags, char *out, size_t out_size,
		     struct plate_error **err)
{
	char q[LAYER_QUOTE_MAX];
	size_t o = 0, i = 0;
	/* Depth of components written so far: ".." may only remove what is there. */
	size_t depth = 0;

	if (out_size == 0)
		PLATE_BUG("layer_path_clean without room for a NUL");
	if (len == 0)
		return plate_err_new(err, EINVAL, "empty path");
	if (memchr(in, '\0', len) != NULL)
		return plate_err_new(err, EINVAL, "path '%s' contains a NUL byte",
				     layer_quote(in, len, q));
	if (in[0] == '/' && !(flags & LAYER_PATH_STRIP_ABSOLUTE))
		return plate_err_new(err, EINVAL, "path '%s' is absolute", layer_quote(in, len, q));

	while (i < len) {
		size_t start, n;

		while (i < len && in[i] == '/')
			i++;
		start = i;
		while (i < len && in[i] != '/')
			i++;
		n = i - start;
		if (n == 0 || (n == 1 && in[start] == '.'))
			continue;
		if (n == 2 && in[start] == '.' && in[start + 1] == '.') {
			if (!(flags & LAYER_PATH_RESOLVE_DOTDOT))
				return plate_err_new(err, EINVAL, "path '%s' contains '..'",
						     layer_quote(in, len, q));
			if (depth == 0)
				return plate_err_new(err, EINVAL, "path '%s' escapes the root",
						     layer_quote(in, len, q));
			depth--;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the separator before the removed component */
			continue;
		}
		if (n > LAYER_MAX_NAME)
			return plate_err_new(err, ENAMETOOLONG,
					     "path '%s' has a component longer than %d bytes",
					     layer_quote(in, len, q), LAYER_MAX_NAME);
		if (o + (o > 0) + n + 1 > out_size || o + (o > 0) + n > LAYER_MAX_PATH)
			return plate_err_new(err, ENAMETOOLONG, "path '%s' is too long",
					     layer_quote(in, len, q));
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, in + start, n);
		o += n;
		depth++;
	}
	out[o] = '\0';
	return (int)o;
}

const char *layer_path_split(const char *path, char dir[LAYER_MAX_PATH + 1])
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		dir[0] = '\0';
		return path;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return slash + 1;
}

uint64_t layer_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* 0 marks an empty slot, so the (astronomically rare) zero hash is stored as 1. */
static uint64_t slot_value(uint64_t h)
{
	return h != 0 ? h : 1;
}

static void hashset_insert(uint64_t *slots, size_t cap, uint64_t v)
{
	size_t i = (size_t)(v ^ (v >> 29)) & (cap - 1);

	while (slots[i] != 0 && slots[i] != v)
		i = (i + 1) & (cap - 1);
	slots[i] = v;
}

int layer_hashset_add(struct layer_hashset *s, uint64_t h)
{
	uint64_t v = slot_value(h);

	if (layer_hashset_contains(s, h))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap != 0 ? s->cap * 2 : 1024;
		uint64_t *slots = calloc(cap, sizeof(*slots));
		if (slots == NULL) {
			errno = ENOMEM;
			return -1;
		}
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i] != 0)
				hashset_insert(slots, cap, s->slots[i]);
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	hashset_insert(s->slots, s->cap, v);
	s->n++;
	return 0;
}

bool layer_hashset_contains(const struct layer_hashset *s, uint64_t h)
{
	uint64_t v = slot_value(h);

	if (s->cap == 0)
		return false;
	for (size_t i = (size_t)(v ^ (v >> 29)) & (s->cap - 1); s->slots[i] != 0;
	     i = (i + 1) & (s->cap - 1))
		if (s->slots[i] == v)
			return true;
	return false;
}

void layer_hashset_release(struct layer_hashset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}
