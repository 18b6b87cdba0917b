#include "base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct plate_error out_of_memory = {
	.errno_value = ENOMEM,
	.errno_is_kind = true,
	.message = (char *)"out of memory",
};

static int set_error(struct plate_error **err, int errnum, unsigned line, unsigned column,
		     const char *fmt, va_list ap)
{
	struct plate_error *e;

	if (err == NULL)
		return -1;
	if (*err != NULL)
		PLATE_BUG("error set twice (first: %s)", (*err)->message);
	e = calloc(1, sizeof(*e));
	if (e == NULL || vasprintf(&e->message, fmt, ap) < 0) {
		free(e);
		*err = &out_of_memory;
		return -1;
	}
	e->errno_value = errnum;
	e->line = line;
	e->column = column;
	*err = e;
	return -1;
}

int plate_err_new_kind(struct plate_error **err, int errnum, bool is_kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, errnum, 0, 0, fmt, ap);
	va_end(ap);
	if (err != NULL && *err != &out_of_memory)
		(*err)->errno_is_kind = is_kind;
	return -1;
}

int plate_err_at(struct plate_error **err, unsigned line, unsigned column, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, 0, line, column, fmt, ap);
	va_end(ap);
	return -1;
}

int plate_err_wrap(struct plate_error **err, const char *fmt, ...)
{
	struct plate_error *e;
	char *frame, **frames;
	va_list ap;
	int n;

	if (err == NULL)
		return -1;
	e = *err;
	if (e == NULL)
		PLATE_BUG("plate_err_wrap without an error");
	if (e == &out_of_memory)
		return -1;
	va_start(ap, fmt);
	n = vasprintf(&frame, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	frames = realloc(e->frames, (e->n_frames + 1) * sizeof(*frames));
	if (frames == NULL) {
		free(frame);
		return -1;
	}
	/* Outermost first: a wrap happens further up the stack than the frames already there. */
	memmove(frames + 1, frames, e->n_frames * sizeof(*frames));
	frames[0] = frame;
	e->frames = frames;
	e->n_frames++;
	return -1;
}

char *plate_error_format(const struct plate_error *error)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&out, &len);
	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < error->n_frames; i++)
		fprintf(f, "%s: ", error->frames[i]);
	fputs(error->message, f);
	if (error->errno_value != 0 && !error->errno_is_kind)
		fprintf(f, ": %s", strerror(error->errno_value));
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

void plate_error_free(struct plate_error *error)
{
	if (error == NULL || error == &out_of_memory)
		return;
	for (size_t i = 0; i < error->n_frames; i++)
		free(error->frames[i]);
	free(error->frames);
	free(error->message);
	free(error);
}

_Noreturn void plate_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	/* A broken invariant: the one place the library may print, right before abort(). */
	fprintf(stderr, "INTERNAL ERROR at %s:%d: ", file, line); /* checksrc: allow */
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap); /* checksrc: allow */
	va_end(ap);
	fputc('\n', stderr); /* checksrc: allow */
	abort();
}
