/*
 * The output chain (HOUSE_STYLE rule 12) and its two generic stages: a digest tee and
 * the terminal fd writer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/layer_internal.h"

struct layer_stage *layer_stage_new(const struct layer_stage_ops *ops, void *data,
				    struct plate_error **err)
{
	struct layer_stage *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		struct layer_stage tmp = { .ops = ops, .data = data };
		ops->free(&tmp);
		plate_err_new(err, ENOMEM, "cannot allocate the '%s' stage", ops->name);
		return NULL;
	}
	s->ops = ops;
	s->data = data;
	return s;
}

int layer_stage_write(struct layer_stage *s, const void *buf, size_t len, struct plate_error **err)
{
	if (len == 0)
		return 0;
	return s->ops->write(s, buf, len, err);
}

int layer_chain_open(struct layer_stage *head, struct plate_error **err)
{
	for (struct layer_stage *s = head; s != NULL; s = s->next)
		if (s->ops->open != NULL && s->ops->open(s, err) < 0)
			return plate_err_wrap(err, "%s", s->ops->name);
	return 0;
}

int layer_chain_close(struct layer_stage *head, struct plate_error **err)
{
	for (struct layer_stage *s = head; s != NULL; s = s->next)
		if (s->ops->close != NULL && s->ops->close(s, err) < 0)
			return -1;
	return 0;
}

void layer_chain_free(struct layer_stage *head)
{
	while (head != NULL) {
		struct layer_stage *next = head->next;
		head->ops->free(head);
		free(head);
		head = next;
	}
}

/* ---- digest tee ----------------------------------------------------------------------- */

struct digest_stage {
	struct digest d;
	char result[DIGEST_STRING_LEN + 1];
	unsigned long long bytes;
};

static int digest_stage_write(struct layer_stage *s, const void *buf, size_t len,
			      struct plate_error **err)
{
	struct digest_stage *ds = s->data;

	digest_update(&ds->d, buf, len);
	ds->bytes += len;
	return layer_stage_write(s->next, buf, len, err);
}

static int digest_stage_close(struct layer_stage *s, struct plate_error **err)
{
	struct digest_stage *ds = s->data;

	digest_final(&ds->d, ds->result);
	return 0;
}

static void digest_stage_free(struct layer_stage *s)
{
	struct digest_stage *ds = s->data;

	if (ds != NULL)
		digest_release(&ds->d);
	free(ds);
}

static const struct layer_stage_ops digest_stage_ops = {
	.name = "sha256",
	.write = digest_stage_write,
	.close = digest_stage_close,
	.free = digest_stage_free,
};

struct layer_stage *layer_stage_digest_new(struct plate_error **err)
{
	struct digest_stage *ds = calloc(1, sizeof(*ds));

	if (ds == NULL) {
		plate_err_new(err, ENOMEM, "cannot allocate a digest stage");
		return NULL;
	}
	if (digest_init(&ds->d, err) < 0) {
		free(ds);
		return NULL;
	}
	return layer_stage_new(&digest_stage_ops, ds, err);
}

void layer_stage_digest_result(struct layer_stage *s, char out[DIGEST_STRING_LEN + 1],
			       unsigned long long *bytes)
{
	struct digest_stage *ds = s->data;

	memcpy(out, ds->result, sizeof(ds->result));
	*bytes = ds->bytes;
}

/* ---- fd sink --------------------------------------------------------------------------- */

struct fd_stage {
	int fd;
};

static int fd_stage_write(struct layer_stage *s, const void *buf, size_t len,
			  struct plate_error **err)
{
	struct fd_stage *fs = s->data;
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fs->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return plate_err_new(err, errno, "cannot write the layer");
		}
		if (n == 0)
			return plate_err_new(err, EIO, "cannot write the layer: no progress");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fd_stage_free(struct layer_stage *s)
{
	free(s->data);
}

static const struct layer_stage_ops fd_stage_ops = {
	.name = "output",
	.write = fd_stage_write,
	.free = fd_stage_free,
};

struct layer_stage *layer_stage_fd_new(int fd, struct plate_error **err)
{
	struct fd_stage *fs = calloc(1, sizeof(*fs));

	if (fs == NULL) {
		plate_err_new(err, ENOMEM, "cannot allocate the output stage");
		return NULL;
	}
	fs->fd = fd;
	return layer_stage_new(&fd_stage_ops, fs, err);
}
