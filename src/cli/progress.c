/*
 * Rendering of the engine's progress events on stderr:
 *   plain  BuildKit's plain style: "#3 [builder 2/5] COPY go.mod ./", "#3 CACHED",
 *          "#5 0.412 <output line>", "#5 DONE 1.2s"
 *   json   one JSON object per event and line
 *   tty    BuildKit's live list: a "[+] Building 12.3s (n/m)" header, then one line per
 *          step with its state and time and the last output line of each running step,
 *          redrawn in place on every event and by a ticker thread ten times a second, so a
 *          step that prints nothing still shows its time passing.  Colour unless NO_COLOR
 *          is set (https://no-color.org: any non-empty value).
 * The mode comes from --progress, else $BUILDKIT_PROGRESS (as docker reads it), else auto:
 * tty when stderr is a terminal (and TERM is not dumb), plain otherwise.  tty asked for
 * without a terminal falls back to plain, as docker's auto would.  rawjson is taken as our
 * json (one object per event, not BuildKit's solve-status format).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/printable.h"
#include "cli.h"

enum mode {
	MODE_PLAIN,
	MODE_JSON,
	MODE_TTY,
	MODE_QUIET
};

struct step {
	unsigned id;
	char *name;
	char state[16]; /* "", "CACHED", "DONE", "ERROR" */
	double seconds;
	char last[120];	    /* last output line (tty) */
	struct buf partial; /* output not yet ended by a newline (plain) */
	double t0;
};

struct cli_progress {
	enum mode mode;
	FILE *out;
	struct step *steps;
	size_t n;
	/* tty: what the ticker and the events share, under lock */
	unsigned drawn; /* lines drawn last time */
	bool color;
	double t0; /* the first event */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t ticker;
	bool ticking, stop, finished;
	/* Every platform of a build runs in this process, under one isolation: said once. */
	bool isolation_said;
};

static bool stderr_is_terminal(void)
{
	const char *term = getenv("TERM");

	return isatty(STDERR_FILENO) && term != NULL && strcmp(term, "dumb") != 0;
}

int cli_progress_new(const char *mode, struct cli_progress **out, struct plate_error **err)
{
	struct cli_progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	p->out = stderr;
	if (mode == NULL && (mode = getenv("BUILDKIT_PROGRESS")) != NULL && *mode == '\0')
		mode = NULL;
	if (mode == NULL || strcmp(mode, "auto") == 0)
		p->mode = stderr_is_terminal() ? MODE_TTY : MODE_PLAIN;
	else if (strcmp(mode, "plain") == 0)
		p->mode = MODE_PLAIN;
	else if (strcmp(mode, "json") == 0 || strcmp(mode, "rawjson") == 0)
		p->mode = MODE_JSON;
	else if (strcmp(mode, "tty") == 0)
		p->mode = stderr_is_terminal() ? MODE_TTY : MODE_PLAIN;
	else if (strcmp(mode, "quiet") == 0)
		p->mode = MODE_QUIET;
	else {
		free(p);
		return plate_err_new(err, EINVAL,
				     "unknown %s '%s' (auto, tty, plain, json, rawjson, quiet)",
				     mode == getenv("BUILDKIT_PROGRESS") ? "BUILDKIT_PROGRESS"
									 : "--progress",
				     mode);
	}
	{
		const char *no_color = getenv("NO_COLOR");
		p->color = no_color == NULL || *no_color == '\0';
	}
	pthread_mutex_init(&p->lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&p->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	*out = p;
	return 0;
}

void cli_progress_free(struct cli_progress *p)
{
	if (p == NULL)
		return;
	cli_progress_finish(p, false);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
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
#define SAFE(var, s, len, max)                                          \
	_cleanup_free_ char *var = printable_dup((s), (len), (max), 0); \
	if (var == NULL)                                                \
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
	case ENGINE_EVENT_ISOLATION:
		if (!p->isolation_said)
			fprintf(p->out, "isolation: %s (%s)\n", name, message);
		p->isolation_said = true;
		break;
	case ENGINE_EVENT_STEP_SHARED:
		/* Built (or being built) by another platform of the build: taken, not run. */
		fprintf(p->out, "#%u SHARED with %s\n", ev->id, message);
		break;
	default:
		break;
	}
	fflush(p->out);
}

/* ---- json ------------------------------------------------------------------------------- */

static void json_event(struct cli_progress *p, const struct engine_event *ev)
{
	/* clang-format off */
	static const char *const types[] = {
		[ENGINE_EVENT_STEP_START] = "start",   [ENGINE_EVENT_STEP_CACHED] = "cached",
		[ENGINE_EVENT_STEP_OUTPUT] = "output", [ENGINE_EVENT_STEP_DONE] = "done",
		[ENGINE_EVENT_STEP_ERROR] = "error",   [ENGINE_EVENT_WARNING] = "warning",
		[ENGINE_EVENT_STEP_MISS] = "miss", [ENGINE_EVENT_ISOLATION] = "isolation",
		[ENGINE_EVENT_STEP_SHARED] = "shared",
	};
	/* clang-format on */
	json_t *o = json_object();
	char *text;

	if (o == NULL)
		return;
	json_object_set_new(o, "type", json_string(types[ev->type]));
	if (ev->id)
		json_object_set_new(o, "id", json_integer(ev->id));
	if (ev->name)
		json_object_set_new(o, "name", json_string(ev->name));
	if (ev->platform)
		json_object_set_new(o, "platform", json_string(ev->platform));
	if (ev->type == ENGINE_EVENT_STEP_OUTPUT) {
		json_object_set_new(o, "stream", json_string(ev->fd == 2 ? "stderr" : "stdout"));
		json_object_set_new(o, "data", json_stringn_nocheck(ev->data, ev->len));
	}
	if (ev->type == ENGINE_EVENT_STEP_DONE || ev->type == ENGINE_EVENT_STEP_ERROR)
		json_object_set_new(o, "seconds", json_real(ev->seconds));
	if (ev->process_seconds > 0)
		json_object_set_new(o, "process_seconds", json_real(ev->process_seconds));
	/* A miss says why in "reason", a hit from a shared cache where from in "source", a
	 * shared step which platform builds it in "from". */
	if (ev->message)
		json_object_set_new(o,
				    ev->type == ENGINE_EVENT_STEP_MISS	   ? "reason"
				    : ev->type == ENGINE_EVENT_STEP_CACHED ? "source"
				    : ev->type == ENGINE_EVENT_STEP_SHARED ? "from"
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

/* SGR colours as BuildKit's tty display uses them: finished steps blue, failed ones red,
 * warnings yellow, running ones the terminal's own colour. */
#define COLOR_DONE "\033[34m"
#define COLOR_ERROR "\033[31m"
#define COLOR_WARN "\033[33m"
#define COLOR_RESET "\033[0m"

static void color(struct cli_progress *p, const char *sgr)
{
	if (p->color)
		fputs(sgr, p->out);
}

static void tty_step(struct cli_progress *p, const struct step *t, unsigned cols)
{
	double secs = t->state[0] ? t->seconds : cli_now() - t->t0;
	const char *word = strcmp(t->state, "CACHED") == 0  ? "CACHED "
			   : strcmp(t->state, "ERROR") == 0 ? "ERROR "
							    : "";
	int room = (int)cols - 12 - (int)strlen(word);
	SAFE(name, t->name, strlen(t->name), (size_t)room);

	color(p, t->state[0] == 'E' ? COLOR_ERROR : t->state[0] ? COLOR_DONE : "");
	fprintf(p->out, "\033[2K => %s%-*.*s %6.1fs\n", word, room, room, name, secs);
	if (t->state[0])
		color(p, COLOR_RESET);
	p->drawn++;
	if (t->state[0] == '\0' && t->last[0] != '\0') {
		SAFE(last, t->last, strlen(t->last), cols - 5);
		fprintf(p->out, "\033[2K    %.*s\n", (int)cols - 5, last);
		p->drawn++;
	}
}

/* Up over what was drawn, then the header and the steps; while the build runs, only the
 * newest steps that fit the terminal (the cursor cannot move above its top line). */
static void tty_redraw(struct cli_progress *p, bool final, bool success)
{
	struct winsize ws;
	unsigned cols = 100, rows = 0, done = 0;
	size_t first = 0;

	if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0) {
		if (ws.ws_col >= 40)
			cols = ws.ws_col;
		rows = ws.ws_row;
	}
	if (p->drawn > 0)
		fprintf(p->out, "\033[%uA", p->drawn);
	p->drawn = 0;
	for (size_t i = 0; i < p->n; i++)
		done += p->steps[i].state[0] != '\0';
	color(p, success ? COLOR_DONE : "");
	fprintf(p->out, "\033[2K[+] Building %.1fs (%u/%zu)%s\n", cli_now() - p->t0, done, p->n,
		success ? " FINISHED" : "");
	color(p, success ? COLOR_RESET : "");
	p->drawn++;
	if (!final && rows > 2) {
		unsigned lines = 0;
		for (first = p->n; first > 0; first--) {
			const struct step *t = &p->steps[first - 1];
			unsigned need = 1 + (t->state[0] == '\0' && t->last[0] != '\0');
			if (lines + need > rows - 2)
				break;
			lines += need;
		}
	}
	for (size_t i = first; i < p->n; i++)
		tty_step(p, &p->steps[i], cols);
	fflush(p->out);
}

/* Ten redraws a second while a step runs: its time moves even when it prints nothing. */
static void *ticker(void *data)
{
	struct cli_progress *p = data;
	struct timespec at;

	pthread_mutex_lock(&p->lock);
	clock_gettime(CLOCK_MONOTONIC, &at);
	while (!p->stop) {
		at.tv_nsec += 100 * 1000 * 1000;
		if (at.tv_nsec >= 1000 * 1000 * 1000) {
			at.tv_sec++;
			at.tv_nsec -= 1000 * 1000 * 1000;
		}
		if (pthread_cond_timedwait(&p->wake, &p->lock, &at) != 0 && !p->stop)
			tty_redraw(p, false, false);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void tty(struct cli_progress *p, const struct engine_event *ev)
{
	struct step *s;

	pthread_mutex_lock(&p->lock);
	if (p->finished)
		goto out;
	if (ev->type == ENGINE_EVENT_ISOLATION) {
		/* Above the live list, where it stays. */
		_cleanup_free_ char *name =
			printable_dup(ev->name, strlen(ev->name), MESSAGE_MAX, 0);
		if (name == NULL || p->isolation_said)
			goto out;
		p->isolation_said = true;
		if (p->drawn > 0)
			fprintf(p->out, "\033[%uA", p->drawn);
		p->drawn = 0;
		fprintf(p->out, "\033[2Kisolation: %s\n", name);
		goto out;
	}
	if (p->t0 == 0) {
		p->t0 = cli_now();
		p->ticking = pthread_create(&p->ticker, NULL, ticker, p) == 0;
	}
	s = ev->id ? find(p, ev->id, ev->name) : NULL;
	if (s == NULL && ev->type != ENGINE_EVENT_WARNING)
		goto out;
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
	case ENGINE_EVENT_WARNING: {
		/* Above the live list, where it stays. */
		_cleanup_free_ char *message =
			printable_dup(ev->message, strlen(ev->message), MESSAGE_MAX, 0);
		if (message == NULL)
			goto out;
		if (p->drawn > 0)
			fprintf(p->out, "\033[%uA", p->drawn);
		p->drawn = 0;
		color(p, COLOR_WARN);
		fprintf(p->out, "\033[2KWARNING: %s\n", message);
		color(p, COLOR_RESET);
		break;
	}
	case ENGINE_EVENT_STEP_MISS:
	case ENGINE_EVENT_ISOLATION:
	case ENGINE_EVENT_STEP_SHARED:
		break;
	default:
		break;
	}
	tty_redraw(p, false, false);
out:
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_note(struct cli_progress *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (p->mode != MODE_TTY) {
		vfprintf(p->out, fmt, ap);
		va_end(ap);
		return;
	}
	/* Above the live list, which is drawn again below it. */
	pthread_mutex_lock(&p->lock);
	if (p->drawn > 0)
		fprintf(p->out, "\033[%uA", p->drawn);
	p->drawn = 0;
	fputs("\033[2K", p->out);
	vfprintf(p->out, fmt, ap);
	if (p->t0 != 0 && !p->finished)
		tty_redraw(p, false, false);
	pthread_mutex_unlock(&p->lock);
	va_end(ap);
}

void cli_progress_finish(struct cli_progress *p, bool success)
{
	if (p->mode != MODE_TTY)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (p->ticking)
		pthread_join(p->ticker, NULL);
	p->ticking = false;
	if (p->t0 != 0 && !p->finished) {
		/* The whole list once more, scrolling as it must: it stays in the scrollback. */
		tty_redraw(p, true, success);
		p->finished = true;
		p->drawn = 0;
	}
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

bool cli_progress_is_tty(const struct cli_progress *p)
{
	return p->mode == MODE_TTY;
}

bool cli_progress_is_json(const struct cli_progress *p)
{
	return p->mode == MODE_JSON;
}
