#include "base/strv.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int strv_push(struct strv *sv, char *s)
{
	if (s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (sv->n + 2 > sv->alloc) {
		size_t alloc = sv->alloc < 8 ? 8 : sv->alloc;
		char **v;

		while (alloc < sv->n + 2) {
			if (alloc > SIZE_MAX / 2 / sizeof(*v))
				goto nomem;
			alloc *= 2;
		}
		v = reallocarray(sv->v, alloc, sizeof(*v));
		if (v == NULL)
			goto nomem;
		sv->v = v;
		sv->alloc = alloc;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
nomem:
	free(s);
	errno = ENOMEM;
	return -1;
}

int strv_add(struct strv *sv, const char *s)
{
	return strv_push(sv, strdup(s));
}

char **strv_detach(struct strv *sv, size_t *n)
{
	char **v = sv->v;

	if (n != NULL)
		*n = sv->n;
	sv->v = NULL;
	sv->n = 0;
	sv->alloc = 0;
	return v;
}

void strv_release(struct strv *sv)
{
	strv_free(sv->v, sv->n);
	sv->v = NULL;
	sv->n = 0;
	sv->alloc = 0;
}

void strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
