/* USER and --chown: names and numbers resolved against the image's /etc/passwd and
 * /etc/group, read through a view of the stage's root. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "layer/layer.h"
#include "engine/engine_internal.h"

#define ETC_FILE_MAX ((size_t)16 << 20)

static bool parse_id(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 0xfffffffeul)
		return false;
	*out = v;
	return true;
}

/* Field `index` (0-based) of a ':'-separated line, as a pointer and length. */
static bool field(const char *line, size_t len, unsigned index, const char **f, size_t *flen)
{
	const char *p = line, *end = line + len;

	for (unsigned i = 0; i < index; i++) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		if (c == NULL)
			return false;
		p = c + 1;
	}
	const char *c = memchr(p, ':', (size_t)(end - p));
	*f = p;
	*flen = c ? (size_t)(c - p) : (size_t)(end - p);
	return true;
}

/* Calls fn for each line of the file's contents. */
static bool each_line(const char *data, size_t len,
		      bool (*fn)(void *ctx, const char *line, size_t len), void *ctx)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l > 0 && p[0] != '#' && fn(ctx, p, l))
			return true;
		p += l + 1;
	}
	return false;
}

struct pw_query {
	const char *name; /* or NULL: by uid */
	unsigned long uid;
	bool found;
	unsigned long found_uid, found_gid;
	char found_name[256];
	char found_home[1024];
};

static bool pw_match(void *ctx, const char *line, size_t len)
{
	struct pw_query *q = ctx;
	const char *f;
	size_t fl;
	unsigned long uid, gid;

	if (!field(line, len, 0, &f, &fl) || fl == 0 || fl >= sizeof(q->found_name))
		return false;
	const char *name = f;
	size_t name_len = fl;
	if (!field(line, len, 2, &f, &fl) || !parse_id(f, fl, &uid) ||
	    !field(line, len, 3, &f, &fl) || !parse_id(f, fl, &gid))
		return false;
	if (q->name != NULL ? (strlen(q->name) != name_len || memcmp(q->name, name, name_len) != 0)
			    : uid != q->uid)
		return false;
	q->found = true;
	q->found_uid = uid;
	q->found_gid = gid;
	memcpy(q->found_name, name, name_len);
	q->found_name[name_len] = '\0';
	q->found_home[0] = '\0';
	if (field(line, len, 5, &f, &fl) && fl < sizeof(q->found_home)) {
		memcpy(q->found_home, f, fl);
		q->found_home[fl] = '\0';
	}
	return true;
}

struct gr_query {
	const char *name;   /* group by name, or NULL */
	const char *member; /* collect groups listing this user, or NULL */
	bool found;
	unsigned long gid;
	struct eng_user *user;
	bool failed;
};

static bool gr_match(void *ctx, const char *line, size_t len)
{
	struct gr_query *q = ctx;
	const char *f, *name;
	size_t fl, name_len;
	unsigned long gid;

	if (!field(line, len, 0, &name, &name_len) || !field(line, len, 2, &f, &fl) ||
	    !parse_id(f, fl, &gid))
		return false;
	if (q->name != NULL) {
		if (strlen(q->name) == name_len && memcmp(q->name, name, name_len) == 0) {
			q->found = true;
			q->gid = gid;
			return true;
		}
		return false;
	}
	if (!field(line, len, 3, &f, &fl))
		return false;
	for (const char *p = f, *end = f + fl; p < end;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t ml = comma ? (size_t)(comma - p) : (size_t)(end - p);
		if (ml == strlen(q->member) && memcmp(p, q->member, ml) == 0) {
			gid_t *grown =
				realloc(q->user->groups, (q->user->n_groups + 1) * sizeof(*grown));
			if (grown == NULL) {
				q->failed = true;
				return true;
			}
			q->user->groups = grown;
			grown[q->user->n_groups++] = (gid_t)gid;
			break;
		}
		p += ml + 1;
	}
	return false;
}

static int read_etc(int rootfd, const char *path, char **data, size_t *len,
		    struct plate_error **err)
{
	/* The image's file: a FIFO or device planted there must neither block nor be read. */
	_cleanup_close_ int fd = eng_open_in_root(rootfd, path, FILE_READ_OPEN_FLAGS, 0);

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : plate_err_new(err, errno, "cannot open '%s'", path);
	return file_read_fd(fd, path, 0, ETC_FILE_MAX, data, len, err);
}

int eng_etc_from_root(int rootfd, struct eng_etc *out, struct plate_error **err)
{
	memset(out, 0, sizeof(*out));
	if (read_etc(rootfd, "/etc/passwd", &out->passwd, &out->passwd_len, err) < 0 ||
	    read_etc(rootfd, "/etc/group", &out->group, &out->group_len, err) < 0) {
		eng_etc_release(out);
		return -1;
	}
	return 0;
}

/* Looks path ("etc/passwd") up through the layers as overlayfs would (whiteouts and
 * opaque directories hide what is below), without mounting anything.  A symlink on the
 * way is not followed: the file is then reported missing. */
static int layers_read(const struct eng_layers *ls, const char *path, char **data, size_t *len,
		       struct plate_error **err)
{
	*data = NULL;
	*len = 0;
	for (size_t i = ls->n; i-- > 0;) {
		_cleanup_close_ int dir = open(ls->v[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		const char *p = path;
		bool opaque = false;
		struct stat st;

		if (dir < 0)
			return plate_err_new(err, errno, "cannot open layer '%s'", ls->v[i].path);
		for (;;) {
			const char *slash = strchr(p, '/');
			char name[256];
			size_t n = slash ? (size_t)(slash - p) : strlen(p);
			if (n >= sizeof(name))
				return 0;
			memcpy(name, p, n);
			name[n] = '\0';
			if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					return plate_err_new(err, errno, "cannot look up '%s'",
							     path);
				break; /* not in this layer */
			}
			if (layer_overlay_is_whiteout(&st))
				return 0;
			if (slash == NULL) {
				_cleanup_close_ int fd = -1;
				if (!S_ISREG(st.st_mode))
					return 0;
				fd = openat(dir, name, FILE_READ_OPEN_FLAGS | O_NOFOLLOW);
				if (fd < 0)
					return plate_err_new(err, errno, "cannot open '%s'", path);
				return file_read_fd(fd, path, 0, ETC_FILE_MAX, data, len, err);
			}
			if (!S_ISDIR(st.st_mode))
				return 0;
			int sub =
				openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return plate_err_new(err, errno, "cannot look up '%s'", path);
			close(dir);
			dir = sub;
			if (layer_overlay_is_opaque(dir))
				opaque = true;
			p = slash + 1;
		}
		if (opaque)
			return 0;
	}
	return 0;
}

int eng_etc_from_layers(const struct eng_layers *ls, struct eng_etc *out, struct plate_error **err)
{
	memset(out, 0, sizeof(*out));
	if (layers_read(ls, "etc/passwd", &out->passwd, &out->passwd_len, err) < 0 ||
	    layers_read(ls, "etc/group", &out->group, &out->group_len, err) < 0) {
		eng_etc_release(out);
		return -1;
	}
	return 0;
}

void eng_etc_release(struct eng_etc *etc)
{
	free(etc->passwd);
	free(etc->group);
	memset(etc, 0, sizeof(*etc));
}

int eng_user_resolve(const struct eng_etc *etc, const char *spec, bool groups, struct eng_user *out,
		     struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(spec);
	const char *passwd = etc->passwd, *group = etc->group;
	size_t passwd_len = etc->passwd_len, group_len = etc->group_len;
	struct pw_query pq = { 0 };
	struct eng_user u = { 0 };
	char *grp, *usr;
	unsigned long id;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	usr = copy;
	grp = strchr(copy, ':');
	if (grp != NULL)
		*grp++ = '\0';
	if (*usr == '\0')
		usr = (char *)"0";
	if (parse_id(usr, strlen(usr), &id)) {
		pq.uid = id;
		each_line(passwd ? passwd : "", passwd_len, pw_match, &pq);
		u.uid = (uid_t)id;
	} else {
		pq.name = usr;
		each_line(passwd ? passwd : "", passwd_len, pw_match, &pq);
		if (!pq.found)
			return plate_err_new(err, ENOENT,
					     "unable to find user %s: no matching entries in "
					     "passwd file",
					     usr);
		u.uid = (uid_t)pq.found_uid;
	}
	u.gid = pq.found ? (gid_t)pq.found_gid : 0;
	if (grp != NULL && *grp != '\0') {
		if (parse_id(grp, strlen(grp), &id)) {
			u.gid = (gid_t)id;
		} else {
			struct gr_query gq = { .name = grp };
			each_line(group ? group : "", group_len, gr_match, &gq);
			if (!gq.found)
				return plate_err_new(err, ENOENT,
						     "unable to find group %s: no matching entries "
						     "in group file",
						     grp);
			u.gid = (gid_t)gq.gid;
		}
	}
	if (groups && pq.found && grp == NULL) {
		struct gr_query gq = { .member = pq.found_name, .user = &u };
		each_line(group ? group : "", group_len, gr_match, &gq);
		if (gq.failed) {
			eng_user_release(&u);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
	}
	if ((u.home = strdup(pq.found && pq.found_home[0] ? pq.found_home : "/")) == NULL) {
		eng_user_release(&u);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	*out = u;
	return 0;
}

void eng_user_release(struct eng_user *u)
{
	free(u->groups);
	free(u->home);
	memset(u, 0, sizeof(*u));
}

int eng_user_resolve_root(int rootfd, const char *spec, bool groups, struct eng_user *out,
			  struct plate_error **err)
{
	struct eng_etc etc;
	int r;

	if (eng_etc_from_root(rootfd, &etc, err) < 0)
		return -1;
	r = eng_user_resolve(&etc, spec, groups, out, err);
	eng_etc_release(&etc);
	return r;
}
