/* USER and --chown: names and numbers resolved against the image's /etc/passwd and
 * /etc/group, read through a view of the stage's root. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
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

bool eng_user_is_numeric(const char *spec)
{
	const char *colon = strchr(spec, ':');
	unsigned long v;

	if (*spec == '\0')
		return true;
	if (!parse_id(spec, colon ? (size_t)(colon - spec) : strlen(spec), &v))
		return false;
	return colon != NULL && parse_id(colon + 1, strlen(colon + 1), &v);
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
	return true;
}

struct gr_query {
	const char *name;       /* group by name, or NULL */
	const char *member;     /* collect groups listing this user, or NULL */
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
			gid_t *grown = realloc(q->user->groups,
					       (q->user->n_groups + 1) * sizeof(*grown));
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
	_cleanup_close_ int fd = eng_open_in_root(rootfd, path, O_RDONLY, 0);

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : plate_err_new(err, errno, "cannot open '%s'", path);
	if (eng_read_fd(fd, ETC_FILE_MAX, data, len, err) < 0)
		return plate_err_wrap(err, "'%s'", path);
	return 0;
}

int eng_user_resolve(int rootfd, const char *spec, bool groups, struct eng_user *out,
		     struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(spec), *passwd = NULL, *group = NULL;
	struct pw_query pq = { 0 };
	struct eng_user u = { 0 };
	size_t passwd_len = 0, group_len = 0;
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
	if (read_etc(rootfd, "/etc/passwd", &passwd, &passwd_len, err) < 0 ||
	    read_etc(rootfd, "/etc/group", &group, &group_len, err) < 0)
		return -1;
	if (parse_id(usr, strlen(usr), &id)) {
		pq.uid = id;
		each_line(passwd ? passwd : "", passwd_len, pw_match, &pq);
		u.uid = (uid_t)id;
	} else {
		pq.name = usr;
		each_line(passwd ? passwd : "", passwd_len, pw_match, &pq);
		if (!pq.found)
			return plate_err_new(err, ENOENT,
					     "unable to find user %s: no matching entries in passwd file",
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
						     "unable to find group %s: no matching entries in group file",
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
	*out = u;
	return 0;
}

void eng_user_release(struct eng_user *u)
{
	free(u->groups);
	memset(u, 0, sizeof(*u));
}
