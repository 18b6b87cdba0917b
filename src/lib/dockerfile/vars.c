/* The ordered name=value set that word expansion reads (ARG/ENV scope of one stage). */
#include "dockerfile/dockerfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

void dockerfile_vars_init(struct dockerfile_vars *vars)
{
	vars->names = NULL;
	vars->values = NULL;
	vars->n = 0;
	vars->alloc = 0;
}

void dockerfile_vars_release(struct dockerfile_vars *vars)
{
	strv_free(vars->names, vars->n);
	strv_free(vars->values, vars->n);
	dockerfile_vars_init(vars);
}

static ssize_t vars_find(const struct dockerfile_vars *vars, const char *name, size_t name_len)
{
	for (size_t i = 0; i < vars->n; i++)
		if (strncmp(vars->names[i], name, name_len) == 0 &&
		    vars->names[i][name_len] == '\0')
			return (ssize_t)i;
	return -1;
}

int dockerfile_vars_set(struct dockerfile_vars *vars, const char *name, const char *value)
{
	ssize_t i = vars_find(vars, name, strlen(name));
	_cleanup_free_ char *v = strdup(value);
	_cleanup_free_ char *n = NULL;

	if (v == NULL)
		return -1;
	if (i >= 0) {
		free(vars->values[i]);
		vars->values[i] = steal_pointer(&v);
		return 0;
	}
	n = strdup(name);
	if (n == NULL)
		return -1;
	if (vars->n == vars->alloc) {
		size_t alloc = vars->alloc < 8 ? 8 : vars->alloc * 2;
		char **names = reallocarray(vars->names, alloc, sizeof(*names));

		if (names == NULL)
			return -1;
		vars->names = names;
		char **values = reallocarray(vars->values, alloc, sizeof(*values));
		if (values == NULL)
			return -1;
		vars->values = values;
		vars->alloc = alloc;
	}
	vars->names[vars->n] = steal_pointer(&n);
	vars->values[vars->n] = steal_pointer(&v);
	vars->n++;
	return 0;
}

const char *dockerfile_vars_get(const struct dockerfile_vars *vars, const char *name,
				size_t name_len)
{
	ssize_t i;

	/* A name holding NUL can never equal a stored C string. */
	if (memchr(name, '\0', name_len) != NULL)
		return NULL;
	i = vars_find(vars, name, name_len);
	return i < 0 ? NULL : vars->values[i];
}

/* dst is treated like an _init target: it is overwritten, never read, so it may be
 * uninitialised (an initialised empty set is fine too).  On failure it is left untouched. */
int dockerfile_vars_copy(struct dockerfile_vars *dst, const struct dockerfile_vars *src)
{
	struct dockerfile_vars copy;

	/* The source names are already unique, so the arrays are copied as they are: going
	 * through dockerfile_vars_set() would cost a lookup per name, quadratic in scope size. */
	dockerfile_vars_init(&copy);
	if (src->n > 0) {
		copy.names = calloc(src->n, sizeof(*copy.names));
		copy.values = calloc(src->n, sizeof(*copy.values));
		if (copy.names == NULL || copy.values == NULL)
			goto fail;
		copy.alloc = src->n;
		for (; copy.n < src->n; copy.n++) {
			copy.names[copy.n] = strdup(src->names[copy.n]);
			copy.values[copy.n] = strdup(src->values[copy.n]);
			if (copy.names[copy.n] == NULL || copy.values[copy.n] == NULL) {
				copy.n++;
				goto fail;
			}
		}
	}
	*dst = copy;
	return 0;
fail:
	dockerfile_vars_release(&copy);
	errno = ENOMEM;
	return -1;
}
