/*
 * Progress of plate pull and push on stderr.
 *   plain  a line per blob when it is done: "fetched sha256:0123456789ab 12.3 MiB in 0.8s
 *          (15.4 MiB/s)", "present sha256:… 1.2 MiB" (no transfer: the store or the
 *          registry had it, or it was mounted)
 *   tty    a bar per blob with its bytes and rate, redrawn in place at most ten times a
 *          second, then the same line as plain once the blob is done
 * The events come from the parallel downloads' threads: one lock orders them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

struct bar {
	char digest[DIGEST_STRING_LEN + 1];
	uint64_t done, total;
	double t0;
	const char *how; /* NULL while moving */
};

struct cli_transfer_view {
	pthread_mutex_t lock;
	bool tty;
	struct bar *bars;
	size_t n;
	unsigned drawn;	  /* tty: lines of bars on screen below the cursor's line */
	double last_draw; /* tty: when, for the ten-a-second cap */
};

int cli_transfer_view_new(struct cli_transfer_view **out, struct plate_error **err)
{
	struct cli_transfer_view *v = calloc(1, sizeof(*v));
	const char *term = getenv("TERM");

	if (v == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	v->tty = isatty(STDERR_FILENO) && term != NULL && strcmp(term, "dumb") != 0;
	pthread_mutex_init(&v->lock, NULL);
	*out = v;
	return 0;
}

void cli_transfer_view_free(struct cli_transfer_view *v)
{
	if (v == NULL)
		return;
	pthread_mutex_destroy(&v->lock);
	free(v->bars);
	free(v);
}

static void human(uint64_t n, char *out, size_t len)
{
	if (n >= 1 << 20)
		snprintf(out, len, "%.1f MiB", (double)n / (1 << 20));
	else
		snprintf(out, len, "%.1f KiB", (double)n / 1024);
}

static struct bar *find_bar(struct cli_transfer_view *v, const char *digest)
{
	struct bar *grown;

	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->bars[i].digest, digest) == 0)
			return &v->bars[i];
	if ((grown = realloc(v->bars, (v->n + 1) * sizeof(*grown))) == NULL)
		return NULL;
	v->bars = grown;
	grown += v->n++;
	*grown = (struct bar){ .t0 = cli_now() };
	snprintf(grown->digest, sizeof(grown->digest), "%s", digest);
	return grown;
}

/* "fetched sha256:0123456789ab 12.3 MiB in 0.8s (15.4 MiB/s)"; no time or rate when it
 * took less than 10 ms. */
static void done_line(const struct bar *b)
{
	char size[32], rate[32];
	double secs = cli_now() - b->t0;
	bool moved = strcmp(b->how, "fetched") == 0 || strcmp(b->how, "uploaded") == 0;

	human(b->total, size, sizeof(size));
	if (!moved || secs < 0.01) {
		fprintf(stderr, "%s %.19s %s\n", b->how, b->digest, size);
		return;
	}
	human((uint64_t)((double)b->total / secs), rate, sizeof(rate));
	fprintf(stderr, "%s %.19s %s in %.1fs (%s/s)\n", b->how, b->digest, size, secs, rate);
}

static void bar_line(const struct bar *b, unsigned cols)
{
	char done[32], total[32], rate[32];
	double secs = cli_now() - b->t0;
	unsigned width = cols > 100 ? 30 : 20, fill = 0;

	if (b->how != NULL) {
		done_line(b);
		return;
	}
	if (b->total > 0)
		fill = (unsigned)((double)(b->done > b->total ? b->total : b->done) * width /
				  (double)b->total);
	human(b->done, done, sizeof(done));
	human(b->total, total, sizeof(total));
	human(secs > 0.001 ? (uint64_t)((double)b->done / secs) : 0, rate, sizeof(rate));
	fprintf(stderr, "%.19s [%.*s%s%*s] %s / %s  %s/s\n", b->digest, (int)fill,
		"==============================", fill < width ? ">" : "",
		(int)(width - fill - (fill < width)), "", done, b->total ? total : "?", rate);
}

/* Blobs done before the first still moving are printed once and leave the live area; the
 * rest is redrawn in place. */
static void redraw(struct cli_transfer_view *v)
{
	struct winsize ws;
	unsigned cols = 80;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		cols = ws.ws_col;
	if (v->drawn > 0)
		fprintf(stderr, "\033[%uA", v->drawn);
	v->drawn = 0;
	for (size_t i = 0; i < v->n; i++) {
		fputs("\033[2K", stderr);
		bar_line(&v->bars[i], cols);
		v->drawn++;
	}
	/* Lines of finished blobs at the top stay where they are. */
	while (v->n > 0 && v->bars[0].how != NULL) {
		memmove(v->bars, v->bars + 1, (v->n - 1) * sizeof(*v->bars));
		v->n--;
		v->drawn--;
	}
	fflush(stderr);
	v->last_draw = cli_now();
}

void cli_transfer_progress(void *data, const struct transfer_event *ev)
{
	struct cli_transfer_view *v = data;
	struct bar *b;

	pthread_mutex_lock(&v->lock);
	switch (ev->type) {
	case TRANSFER_EVENT_MANIFEST:
		if (v->tty && v->drawn > 0) {
			fprintf(stderr, "\033[%uA", v->drawn);
			v->drawn = 0;
		}
		fprintf(stderr, "%smanifest %s\n", v->tty ? "\033[2K" : "", ev->digest);
		if (v->tty)
			redraw(v);
		break;
	case TRANSFER_EVENT_BLOB_BYTES: {
		size_t before = v->n;
		if ((b = find_bar(v, ev->digest)) == NULL)
			break;
		b->done = ev->done;
		b->total = ev->size;
		/* A new bar shows at once, however fast its blob then goes. */
		if (v->tty && (v->n > before || cli_now() - v->last_draw >= 0.1))
			redraw(v);
		break;
	}
	case TRANSFER_EVENT_BLOB_DONE:
		if ((b = find_bar(v, ev->digest)) == NULL)
			break;
		b->how = ev->how;
		b->total = ev->size;
		b->done = ev->size;
		if (v->tty) {
			redraw(v);
		} else {
			done_line(b);
			v->n--;
			memmove(b, b + 1, (size_t)(v->bars + v->n - b) * sizeof(*b));
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&v->lock);
}
