/*
 * Fuzz target for the engine's reading of an image's /etc/passwd and /etc/group (outside
 * input: any base image can hold any bytes there).  The input is "SPEC\0PASSWD\0GROUP":
 * resolving never crashes, and a success always carries a home directory and no more
 * supplementary groups than /etc/group has lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "engine/engine_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *copy = malloc(size + 3);
	_cleanup_error_ struct plate_error *err = NULL;
	struct eng_etc etc = { 0 };
	struct eng_user u = { 0 };
	char *spec, *pw, *gr, *end;
	size_t lines = 0;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = copy[size + 1] = copy[size + 2] = '\0';
	end = copy + size;
	spec = copy;
	pw = spec + strlen(spec) + 1;
	gr = pw <= end ? pw + strlen(pw) + 1 : end;
	if (pw > end)
		pw = end;
	if (gr > end)
		gr = end;
	etc.passwd = pw;
	etc.passwd_len = (size_t)(gr > pw ? gr - pw - 1 : 0);
	etc.group = gr;
	etc.group_len = (size_t)(end - gr);
	for (size_t i = 0; i < etc.group_len; i++)
		lines += gr[i] == '\n';
	if (eng_user_resolve(&etc, spec, true, &u, &err) < 0) {
		if (err == NULL || err->message == NULL)
			abort();
		return 0;
	}
	if (u.home == NULL || u.n_groups > lines + 1)
		abort();
	eng_user_release(&u);
	return 0;
}
