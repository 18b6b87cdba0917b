/*
 * Rendering of the engine's progress events on stderr:
 *   plain  BuildKit's plain style: "#3 [builder 2/5] COPY go.mod ./", "#3 CACHED",
 *          "#5 0.412 <output line>", "#5 DONE 1.2s"
 *   json   one JSON object per event and line
 *   tty    the steps as a live list, redrawn in place, with the last output line of each
 *          running step
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/printable.h"
#include "cli.h"

enum mode { MODE_PLAIN, MODE_JSON, MODE_TTY, MODE_QUIET };

struct step {
	unsigned id;
	char *name;
	char state[16]; /* "", "CACHED", "DONE", "ERROR" */
	double seconds;
	char last[120]; /* last output line (tty) */
	struct buf partial; /* output not yet ended by a newline (plain) */
	double t0;
};

struct cli_progress {
	enum mode mode;
	FILE *out;
	struct step *steps;
	size_t n;
	unsigned drawn; /* tty: lines drawn last time */
};

int cli_progress_new(const char *mode, struct cli_progress **out, struct plate_error **err)
{
	struct cli_progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	p->out = stderr;
	if (mode == NULL || strcmp(mode, "auto") == 0)
		p->mode = isatty(STDERR_FILENO) && getenv("TERM") != NULL &&
				  strcmp(getenv("TERM"), "dumb") != 0
			  ? MODE_TTY
			  : MODE_PLAIN;
	else if (strcmp(mode, "plain") == 0)
		p->mode = MODE_PLAIN;
	else if (strcmp(mode, "json") == 0 || strcmp(mode, "rawjson") == 0)
		p->mode = MODE_JSON;
	else if (strcmp(mode, "tty") == 0)
		p->mode = MODE_TTY;
	else if (strcmp(mode, "quiet") == 0)
		p->mode = MODE_QUIET;
	else {
		free(p);
		return plate_err_new(err, EINVAL, "unknown --progress '%s' (auto, tty, plain, json, quiet)",
				     mode);
	}
	*out = p;
	return 0;
}

void cli_progress_free(struct cli_progress *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->steps[i].name);
		buf_release(&p->steps[i].partial);
	}
	free(p->steps);
	free(p);
}

static struct step *find(struct cli_progress *p, unsigned id, const char *name)
{
	struct step *grown;

	for (size_t i = 0; i < p->n; i++)
		if (p->steps[i].id == id)
			return &p->steps[i];
	grown = realloc(p->steps, (p->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	p->steps = grown;
	grown += p->n;
	memset(grown, 0, sizeof(*grown));
	grown->id = id;
	grown->name = strdup(name ? name : "");
	buf_init(&grown->partial, 1 << 20);
	p->n++;
	return grown;
}

/* ---- plain ------------------------------------------------------------------------------ */

/* Names, messages and output come from the Dockerfile, the context, the image and what RUN
 * printed: escape sequences are shown, not obeyed (base/printable.h). */
#define SAFE(var, s, len, max)                                                              \
	_cleanup_free_ char *var = printable_dup((s), (len), (max), 0);                     \
	if (var == NULL)                                                                     \
		return

#define MESSAGE_MAX 2000

static void plain_lines(struct cli_progress *p, struct step *s, const char *data, size_t len,
			bool flush)
{
	if (buf_add(&s->partial, data, len) < 0) {
		flush = true;
	}
	for (;;) {
		char *nl = memchr(s->partial.data, '\n', s->partial.len);
		size_t l;
		if (nl == NULL) {
			if (!flush || s->partial.len == 0)
				return;
			l = s->partial.len;
		} else {
			l = (size_t)(nl - s->partial.data);
		}
		{
			SAFE(line, s->partial.data, l, SIZE_MAX);
			fprintf(p->out, "#%u %.3f %s\n", s->id, s->seconds, line);
		}
		if (nl == NULL) {
			buf_reset(&s->partial);
			return;
		}
		memmove(s->partial.data, nl + 1, s->partial.len - l - 1);
		buf_truncate(&s->partial, s->partial.len - l - 1);
	}
}

static void plain(struct cli_progress *p, const struct engine_event *ev)
{
	struct step *s = ev->id ? find(p, ev->id, ev->name) : NULL;
	SAFE(name, ev->name ? ev->name : "", ev->name ? strlen(ev->name) : 0, MESSAGE_MAX);
	SAFE(message, ev->message ? ev->message : "", ev->message ? strlen(ev->message) : 0,
	     MESSAGE_MAX);

	switch (ev->type) {
	case ENGINE_EVENT_STEP_START:
		fprintf(p->out, "#%u %s\n", ev->id, name);
		if (s != NULL)
			s->t0 = cli_now();
		break;
	case ENGINE_EVENT_STEP_CACHED:
		/* A hit from a shared cache says which ("CACHED (registry)"). */
		if (ev->message != NULL)
			fprintf(p->out, "#%u CACHED (%s)\n", ev->id, message);
		else
			fprintf(p->out, "#%u CACHED\n", ev->id);
		if (s != NULL)
			s->state[0] = 'C';
		break;
	case ENGINE_EVENT_STEP_OUTPUT:
		if (s != NULL) {
			s->seconds = cli_now() - s->t0;
			plain_lines(p, s, ev->data, ev->len, false);
		}
		break;
	case ENGINE_EVENT_STEP_DONE:
		if (s != NULL)
			plain_lines(p, s, "", 0, true);
		if (s == NULL || s->state[0] != 'C')
			fprintf(p->out, "#%u DONE %.1fs\n", ev->id, ev->seconds);
		break;
	case ENGINE_EVENT_STEP_ERROR:
		if (s != NULL)
			plain_lines(p, s, "", 0, true);
		fprintf(p->out, "#%u ERROR: %s\n", ev->id, message);
		break;
	case ENGINE_EVENT_WARNING:
		fprintf(p->out, "WARNING: %s\n", message);
		break;
	case ENGINE_EVENT_STEP_MISS:
		fprintf(p->out, "#%u CACHE MISS: %s\n", ev->id, message);
		break;
	default:
		break;
	}
	fflush(p->out);
}

/* ---- json ------------------------------------------------------------------------------- */

static void json_event(struct cli_progress *p, const struct engine_event *ev)
{
	static const char *const types[] = {
		[ENGINE_EVENT_STEP_START] = "start",   [ENGINE_EVENT_STEP_CACHED] = "cached",
		[ENGINE_EVENT_STEP_OUTPUT] = "output", [ENGINE_EVENT_STEP_DONE] = "done",
		[ENGINE_EVENT_STEP_ERROR] = "error",   [ENGINE_EVENT_WARNING] = "warning",
		[ENGINE_EVENT_STEP_MISS] = "miss",
	};
	json_t *o = json_object();
	char *text;

	if (o == NULL)
		return;
	json_object_set_new(o, "type", json_string(types[ev->type]));
	if (ev->id)
		json_object_set_new(o, "id", json_integer(ev->id));
	if (ev->name)
		json_object_set_new(o, "name", json_string(ev->name));
	if (ev->type == ENGINE_EVENT_STEP_OUTPUT) {
		json_object_set_new(o, "stream", json_string(ev->fd == 2 ? "stderr" : "stdout"));
		json_object_set_new(o, "data", json_stringn_nocheck(ev->data, ev->len));
	}
	if (ev->type == ENGINE_EVENT_STEP_DONE || ev->type == ENGINE_EVENT_STEP_ERROR)
		json_object_set_new(o, "seconds", json_real(ev->seconds));
	if (ev->process_seconds > 0)
		json_object_set_new(o, "process_seconds", json_real(ev->process_seconds));
	/* A miss says why in "reason", a hit from a shared cache where from in "source". */
	if (ev->message)
		json_object_set_new(o, ev->type == ENGINE_EVENT_STEP_MISS     ? "reason"
				       : ev->type == ENGINE_EVENT_STEP_CACHED ? "source"
									      : "message",
				    json_string(ev->message));
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text != NULL)
		fprintf(p->out, "%s\n", text);
	free(text);
	json_decref(o);
	fflush(p->out);
}

/* ---- tty -------------------------------------------------------------------------------- */

static void tty(struct cli_progress *p, const struct engine_event *ev)
{
	struct step *s = ev->id ? find(p, ev->id, ev->name) : NULL;
	struct winsize ws;
	unsigned cols = 100;

	if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		cols = ws.ws_col;

	if (s == NULL && ev->type != ENGINE_EVENT_WARNING)
		return;
	switch (ev->type) {
	case ENGINE_EVENT_STEP_START:
		s->t0 = cli_now();
		break;
	case ENGINE_EVENT_STEP_CACHED:
		snprintf(s->state, sizeof(s->state), "CACHED");
		break;
	case ENGINE_EVENT_STEP_OUTPUT: {
		/* The last complete or partial line of the chunk. */
		const char *end = ev->data + ev->len, *start;
		while (end > ev->data && (end[-1] == '\n' || end[-1] == '\r'))
			end--;
		start = end;
		while (start > ev->data && start[-1] != '\n' && start[-1] != '\r')
			start--;
		if (end > start)
			snprintf(s->last, sizeof(s->last), "%.*s", (int)(end - start), start);
		break;
	}
	case ENGINE_EVENT_STEP_DONE:
		if (s->state[0] == '\0')
			snprintf(s->state, sizeof(s->state), "DONE");
		s->seconds = ev->seconds;
		s->last[0] = '\0';
		break;
	case ENGINE_EVENT_STEP_ERROR:
		snprintf(s->state, sizeof(s->state), "ERROR");
		s->seconds = ev->seconds;
		break;
	case ENGINE_EVENT_WARNING:
	case ENGINE_EVENT_STEP_MISS:
		break;
	default:
		break;
	}
	/* Redraw: up over what was drawn, then every step. */
	if (p->drawn > 0)
		fprintf(p->out, "\033[%uA", p->drawn);
	p->drawn = 0;
	if (ev->type == ENGINE_EVENT_WARNING) {
		SAFE(message, ev->message, strlen(ev->message), MESSAGE_MAX);
		fprintf(p->out, "\033[2KWARNING: %s\n", message);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct step *t = &p->steps[i];
		double secs = t->state[0] ? t->seconds : cli_now() - t->t0;
		SAFE(name, t->name, strlen(t->name), cols - 20);
		fprintf(p->out, "\033[2K => %-*.*s %s %.1fs\n", (int)cols - 20, (int)cols - 20, name,
			t->state[0] ? t->state : "...", secs);
		p->drawn++;
		if (t->state[0] == '\0' && t->last[0] != '\0') {
			SAFE(last, t->last, strlen(t->last), cols - 5);
			fprintf(p->out, "\033[2K    %.*s\n", (int)cols - 5, last);
			p->drawn++;
		}
	}
	fflush(p->out);
}

void cli_progress_event(void *data, const struct engine_event *ev)
{
	struct cli_progress *p = data;

	switch (p->mode) {
	case MODE_PLAIN:
		plain(p, ev);
		break;
	case MODE_JSON:
		json_event(p, ev);
		break;
	case MODE_TTY:
		tty(p, ev);
		break;
	case MODE_QUIET:
		break;
	default:
		break;
	}
}

bool cli_progress_is_json(const struct cli_progress *p)
{
	return p->mode == MODE_JSON;
}
