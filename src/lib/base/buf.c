#include "base/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char buf_empty_string[1];

void buf_init(struct buf *b, size_t max)
{
	b->data = buf_empty_string;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (b->alloc != 0)
		free(b->data);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *s;

	if (len != NULL)
		*len = b->len;
	if (b->alloc == 0) {
		s = strdup("");
	} else {
		s = b->data;
		b->data = buf_empty_string;
	}
	b->len = 0;
	b->alloc = 0;
	return s;
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t need, alloc;
	char *data;

	if (extra > b->max - b->len) {
		errno = E2BIG;
		return -1;
	}
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	alloc = b->alloc < 64 ? 64 : b->alloc;
	while (alloc < need)
		alloc = alloc > BUF_UNLIMITED / 2 ? need : alloc * 2;
	data = realloc(b->alloc != 0 ? b->data : NULL, alloc);
	if (data == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (b->alloc == 0)
		data[0] = '\0';
	b->data = data;
	b->alloc = alloc;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_grow(b, len) < 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return -1;
	if (buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		return;
	b->len = len;
	if (b->alloc != 0)
		b->data[len] = '\0';
}
