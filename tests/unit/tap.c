#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned tap_count;
static unsigned tap_failed;

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %u - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

bool tap_streq(const char *got, const char *want, const char *fmt, ...)
{
	bool same = got != NULL && want != NULL && strcmp(got, want) == 0;
	char *name = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&name, fmt, ap) < 0)
		name = NULL;
	va_end(ap);
	tap_ok(same, "%s", name ? name : "?");
	if (!same) {
		tap_diag("got:  %s", got ? got : "(null)");
		tap_diag("want: %s", want ? want : "(null)");
	}
	free(name);
	return same;
}

_Noreturn void tap_skip_all(const char *why)
{
	const char *must = getenv("PLATE_MUST_WORK");

	if (must != NULL && strcmp(must, "1") == 0) {
		printf("not ok 1 - prerequisite missing under PLATE_MUST_WORK=1: %s\n1..1\n", why);
		exit(1);
	}
	printf("1..0 # SKIP %s\n", why);
	exit(77);
}

int tap_done(void)
{
	printf("1..%u\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

char *tap_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			char *grown = realloc(data, cap = cap * 2 + 8192);
			if (grown == NULL) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = grown;
		}
		size_t got = fread(data + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	data[n] = '\0';
	if (len != NULL)
		*len = n;
	return data;
}

const char *tap_conformance_dir(void)
{
	static char path[4096];
	const char *dir = getenv("PLATE_CONFORMANCE");
	const char *src = getenv("PLATE_SRC");
	struct stat st;

	if (dir == NULL || dir[0] == '\0') {
		snprintf(path, sizeof(path), "%s/../shared/conformance", src ? src : ".");
		dir = path;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		/* A clone without ../shared skips with the reason; CI (PLATE_MUST_WORK=1) fails. */
		static char why[4200];
		snprintf(why, sizeof(why),
			 "conformance corpus not found at '%s' (set PLATE_CONFORMANCE)", dir);
		tap_skip_all(why);
	}
	return dir;
}
