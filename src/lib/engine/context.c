/*
 * Sources of COPY and ADD: selecting what the patterns name under a root (the build
 * context after .dockerignore, or a stage's view), and the content digests of context files
 * for cache keys.  A file's digest is remembered by (path, size, mtime_ns, inode) in a
 * build-cache entry of its own, so an unchanged context is never read again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "json/json.h"
#include "engine/engine_internal.h"

/* The stat cache is one build-cache entry; larger ones are not saved. */
#define STATCACHE_MAX ((size_t)1 << 20)

void eng_selection_release(struct eng_selection *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct eng_match *m = &s->m[i];
		for (size_t j = 0; j < m->n; j++) {
			free(m->entries[j].rel);
			free(m->entries[j].link);
		}
		free(m->entries);
		free(m->path);
	}
	free(s->m);
	memset(s, 0, sizeof(*s));
}

int eng_source_clean(const char *src, const char *what, char **out, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(src);
	char *p, *save = NULL;
	char **parts = NULL;
	size_t n = 0;
	int r = -1;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	parts = calloc(strlen(src) + 1, sizeof(*parts));
	if (parts == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (p = strtok_r(copy, "/", &save); p != NULL; p = strtok_r(NULL, "/", &save)) {
		if (strcmp(p, ".") == 0)
			continue;
		if (strcmp(p, "..") == 0) {
			if (n == 0) {
				plate_err_new(err, 0, "'%s' is outside the %s", src, what);
				goto out;
			}
			n--;
			continue;
		}
		parts[n++] = p;
	}
	{
		_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);
		for (size_t i = 0; i < n; i++)
			if ((i > 0 && buf_addch(&b, '/') < 0) || buf_addstr(&b, parts[i]) < 0) {
				plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
		*out = buf_detach(&b, NULL);
	}
	r = *out == NULL ? plate_err_new(err, ENOMEM, "out of memory") : 0;
out:
	free(parts);
	return r;
}

static bool has_wildcard(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			continue;
		}
		if (*s == '*' || *s == '?' || *s == '[')
			return true;
	}
	return false;
}

static char *join(const char *a, const char *b)
{
	char *r = NULL;

	if (*a == '\0')
		return strdup(b);
	if (*b == '\0')
		return strdup(a);
	return asprintf(&r, "%s/%s", a, b) < 0 ? NULL : r;
}

/* .dockerignore: paths from the context root. */
static bool ignored(const struct eng_select_opts *o, const char *path)
{
	return *path != '\0' && o->ignore != NULL && ignore_match(o->ignore, path);
}

/* --exclude: paths relative to the source (BuildKit's copier matches the path below the
 * directory it copies), see eng_select_opts.parents. */
static bool excluded(const struct eng_select_opts *o, const char *rel)
{
	return *rel != '\0' && o->exclude != NULL && ignore_match(o->exclude, rel);
}

/* An excluded directory must still be read when an exception could bring back something
 * beneath it. */
static bool can_skip(const struct eng_select_opts *o)
{
	return (o->ignore == NULL || !ignore_has_exceptions(o->ignore)) &&
	       (o->exclude == NULL || !ignore_has_exceptions(o->exclude));
}

struct walk {
	const struct eng_select_opts *o;
	struct eng_match *m;
	size_t keep; /* --parents: --exclude sees the path after the pivot */
	size_t alloc;
	size_t *total;
};

static int add_entry(struct walk *w, const char *rel, const struct stat *st, const char *link,
		     struct plate_error **err)
{
	struct eng_entry *e;

	if (++*w->total > ENG_MAX_SELECTED)
		return plate_err_new(err, E2BIG, "more than %d files selected", ENG_MAX_SELECTED);
	if (w->m->n == w->alloc) {
		size_t alloc = w->alloc ? w->alloc * 2 : 16;
		struct eng_entry *grown = realloc(w->m->entries, alloc * sizeof(*grown));
		if (grown == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		w->m->entries = grown;
		w->alloc = alloc;
	}
	e = &w->m->entries[w->m->n];
	memset(e, 0, sizeof(*e));
	e->st = *st;
	if ((e->rel = strdup(rel)) == NULL || (link != NULL && (e->link = strdup(link)) == NULL)) {
		free(e->rel);
		free(e->link);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	w->m->n++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a directory's names, sorted. */
static int read_names(int dirfd, char ***names, size_t *n, struct plate_error **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ struct strv found = STRV_INIT;
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return plate_err_new(err, e, "cannot read directory");
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strv_add(&found, de->d_name) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (errno != 0)
		return plate_err_new(err, errno, "cannot read directory");
	if (found.n > 1)
		qsort(found.v, found.n, sizeof(*found.v), cmp_names);
	*names = strv_detach(&found, n);
	return 0;
}

/* Adds what is under dirfd (path: relative to the root; rel: to the match).  Returns the
 * number of entries added, so that an excluded directory still appears when something
 * beneath it was brought back. */
static long walk_dir(struct walk *w, int dirfd, const char *path, const char *rel,
		     struct plate_error **err)
{
	char **names = NULL;
	size_t n = 0;
	long added = 0;

	if (read_names(dirfd, &names, &n, err) < 0)
		return plate_err_wrap(err, "'%s'", *path ? path : ".");
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *cpath = join(path, names[i]), *crel = join(rel, names[i]);
		char link[4096];
		struct stat st;
		bool skip;
		size_t mark;

		if (cpath == NULL || crel == NULL) {
			added = plate_err_new(err, ENOMEM, "out of memory");
			break;
		}
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			added = plate_err_new(err, errno, "cannot stat '%s'", cpath);
			break;
		}
		if (S_ISSOCK(st.st_mode))
			continue;
		skip = ignored(w->o, cpath) ||
		       excluded(w->o, w->o->parents ? cpath + w->keep : crel);
		if (skip && (!S_ISDIR(st.st_mode) || can_skip(w->o)))
			continue;
		mark = w->m->n;
		if (S_ISLNK(st.st_mode)) {
			ssize_t l = readlinkat(dirfd, names[i], link, sizeof(link) - 1);
			if (l < 0) {
				added = plate_err_new(err, errno, "cannot read link '%s'", cpath);
				break;
			}
			link[l] = '\0';
		}
		if (add_entry(w, crel, &st, S_ISLNK(st.st_mode) ? link : NULL, err) < 0) {
			added = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
				openat(dirfd, names[i],
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			long below;
			if (sub < 0) {
				added = plate_err_new(err, errno, "cannot open '%s'", cpath);
				break;
			}
			below = walk_dir(w, sub, cpath, crel, err);
			if (below < 0) {
				added = -1;
				break;
			}
			if (skip && below == 0) {
				/* Excluded and nothing brought back: drop the directory entry. */
				free(w->m->entries[mark].rel);
				w->m->n = mark;
				(*w->total)--;
				continue;
			}
			added += below;
		}
		added++;
	}
	strv_free(names, n);
	return added;
}

static int cmp_inode(const void *a, const void *b, void *data)
{
	const struct eng_entry *en = data;
	const struct stat *x = &en[*(const size_t *)a].st, *y = &en[*(const size_t *)b].st;

	if (x->st_dev != y->st_dev)
		return x->st_dev < y->st_dev ? -1 : 1;
	if (x->st_ino != y->st_ino)
		return x->st_ino < y->st_ino ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Regular files of the match that share an inode are one hardlink group, as BuildKit's
 * copier keeps them (per copied source): each later one links to the first. */
static int link_groups(struct eng_match *m, struct plate_error **err)
{
	_cleanup_free_ size_t *idx = calloc(m->n, sizeof(*idx));
	size_t n = 0;

	if (idx == NULL && m->n > 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n; i++)
		if (S_ISREG(m->entries[i].st.st_mode) && m->entries[i].st.st_nlink > 1)
			idx[n++] = i;
	if (n < 2)
		return 0;
	qsort_r(idx, n, sizeof(*idx), cmp_inode, m->entries);
	for (size_t i = 1, first = idx[0]; i < n; i++) {
		const struct stat *a = &m->entries[first].st, *b = &m->entries[idx[i]].st;
		if (a->st_dev == b->st_dev && a->st_ino == b->st_ino)
			m->entries[idx[i]].hardlink = first + 1;
		else
			first = idx[i];
	}
	return 0;
}

/* Adds one match (path resolved in the root, the final symlink followed). */
static int add_match(int rootfd, const char *path, size_t keep, const struct eng_select_opts *o,
		     struct eng_selection *sel, size_t *total, struct plate_error **err)
{
	_cleanup_close_ int fd = eng_open_in_root(rootfd, path, O_PATH, 0);
	struct eng_match *grown, *m;
	struct walk w = { .o = o, .total = total };
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return plate_err_new(err, errno, "'%s'", path);
	grown = realloc(sel->m, (sel->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	sel->m = grown;
	m = &sel->m[sel->n];
	memset(m, 0, sizeof(*m));
	if ((m->path = strdup(path)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	sel->n++;
	m->keep = keep <= strlen(path) ? keep : 0;
	m->is_dir = S_ISDIR(st.st_mode);
	w.m = m;
	w.keep = m->keep;
	if (add_entry(&w, "", &st, NULL, err) < 0)
		return -1;
	if (m->is_dir) {
		_cleanup_close_ int dfd = eng_open_in_root(rootfd, path, O_RDONLY | O_DIRECTORY, 0);
		if (dfd < 0)
			return plate_err_new(err, errno, "cannot open '%s'", path);
		if (walk_dir(&w, dfd, path, "", err) < 0)
			return -1;
	}
	return link_groups(m, err);
}

/* The selection's verdict on a match: .dockerignore, and --exclude with --parents. */
static bool match_dropped(const struct eng_select_opts *o, const char *path, size_t keep)
{
	return ignored(o, path) ||
	       (o->parents && excluded(o, keep <= strlen(path) ? path + keep : path));
}

/* Expands a pattern with wildcards into existing paths, as BuildKit's fsutil resolves it:
 * the components before the first wildcard name a path that must exist (symlinks followed),
 * then each further component (wildcard or not) matches names of the directory reached so
 * far, that directory being a real one, not a symlink.  So a wildcard in a middle component
 * selects the matches that have the rest of the path and ignores the others. */
static int expand(int rootfd, const char *pattern, size_t keep, const struct eng_select_opts *o,
		  struct strv *out, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(pattern);
	_cleanup_buf_ struct buf prefix = BUF_INIT(BUF_UNLIMITED);
	_cleanup_strv_ struct strv cur = STRV_INIT;
	char *comp, *save = NULL;
	bool wild = false;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (comp = strtok_r(copy, "/", &save); comp != NULL; comp = strtok_r(NULL, "/", &save)) {
		_cleanup_strv_ struct strv next = STRV_INIT;
		bool last = save == NULL || *save == '\0';

		if (!wild && !has_wildcard(comp)) {
			if ((prefix.len > 0 && buf_addch(&prefix, '/') < 0) ||
			    buf_addstr(&prefix, comp) < 0)
				return plate_err_new(err, ENOMEM, "out of memory");
			continue;
		}
		if (!wild) {
			_cleanup_close_ int fd =
				eng_open_in_root(rootfd, prefix.len ? prefix.data : "", O_PATH, 0);
			if (fd < 0)
				return plate_err_new(err, errno, "'%s': '%s' not found in the %s",
						     pattern, prefix.len ? prefix.data : ".",
						     o->what);
			if (strv_add(&cur, prefix.len ? prefix.data : "") < 0)
				return plate_err_new(err, ENOMEM, "out of memory");
			wild = true;
		}
		for (size_t i = 0; i < cur.n; i++) {
			_cleanup_close_ int dfd =
				eng_open_in_root(rootfd, cur.v[i], O_RDONLY | O_DIRECTORY, 0);
			char **names = NULL;
			size_t n_names = 0;
			_cleanup_error_ struct plate_error *ignored_err = NULL;
			if (dfd < 0 || read_names(dfd, &names, &n_names, &ignored_err) < 0)
				continue;
			for (size_t j = 0; j < n_names; j++) {
				_cleanup_free_ char *p = NULL;
				struct stat st;
				if (fnmatch(comp, names[j], FNM_PATHNAME) != 0)
					continue;
				if (!last &&
				    (fstatat(dfd, names[j], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				     !S_ISDIR(st.st_mode)))
					continue;
				if ((p = join(cur.v[i], names[j])) == NULL) {
					strv_free(names, n_names);
					goto nomem;
				}
				if (last && match_dropped(o, p, keep))
					continue;
				if (strv_push(&next, steal_pointer(&p)) < 0) {
					strv_free(names, n_names);
					goto nomem;
				}
			}
			strv_free(names, n_names);
		}
		strv_release(&cur);
		cur = next;
		next = (struct strv)STRV_INIT;
		continue;
nomem:
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	*out = cur;
	cur = (struct strv)STRV_INIT;
	return 0;
}

int eng_select(int rootfd, const char *const *patterns, size_t n, const struct eng_select_opts *o,
	       struct eng_selection *out, struct plate_error **err)
{
	struct eng_selection sel = { 0 };
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *clean = NULL, *pivot = NULL;
		const char *dot = strstr(patterns[i], "/./");
		_cleanup_strv_ struct strv paths = STRV_INIT;
		size_t before = sel.n, keep = 0;

		if (eng_source_clean(patterns[i], o->what, &clean, err) < 0)
			goto fail;
		/* "a/./b/c" with --parents keeps "b/c": the part after the pivot. */
		if (dot != NULL) {
			_cleanup_free_ char *head =
				strndup(patterns[i], (size_t)(dot - patterns[i]));
			if (head == NULL || eng_source_clean(head, o->what, &pivot, err) < 0) {
				if (head == NULL)
					plate_err_new(err, ENOMEM, "out of memory");
				goto fail;
			}
			keep = *pivot ? strlen(pivot) + 1 : 0;
		}
		if (has_wildcard(clean)) {
			if (expand(rootfd, clean, keep, o, &paths, err) < 0)
				goto fail;
			if (paths.n == 0 && o->allow_empty)
				continue;
		} else {
			_cleanup_close_ int fd = -1;
			if (!match_dropped(o, clean, keep))
				fd = eng_open_in_root(rootfd, clean, O_PATH, 0);
			if (fd >= 0 && strv_add(&paths, clean) < 0) {
				plate_err_new(err, ENOMEM, "out of memory");
				goto fail;
			}
		}
		for (size_t j = 0; j < paths.n; j++)
			if (add_match(rootfd, paths.v[j], keep, o, &sel, &total, err) < 0)
				goto fail;
		if (sel.n == before) {
			if (o->ignore != NULL)
				plate_err_new(err, 0,
					      "'%s' not found in the %s (or excluded by "
					      ".dockerignore)",
					      patterns[i], o->what);
			else
				plate_err_new(err, 0, "'%s' not found in the %s", patterns[i],
					      o->what);
			goto fail;
		}
	}
	*out = sel;
	return 0;
fail:
	eng_selection_release(&sel);
	return -1;
}

/* ---- content digests ---------------------------------------------------------------- */

static int hash_file(int fd, char hex[DIGEST_HEX_LEN + 1], struct plate_error **err)
{
	struct digest d = { 0 };
	char out[DIGEST_STRING_LEN + 1];
	_cleanup_free_ char *buf = malloc(1 << 20);
	ssize_t n;

	if (buf == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (digest_init(&d, err) < 0)
		return -1;
	while ((n = read(fd, buf, 1 << 20)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			digest_release(&d);
			return plate_err_new(err, errno, "read failed");
		}
		digest_update(&d, buf, (size_t)n);
	}
	digest_final(&d, out);
	digest_release(&d);
	memcpy(hex, out + 7, DIGEST_HEX_LEN + 1);
	return 0;
}

int eng_selection_hash(struct engine *e, int rootfd, struct eng_selection *sel,
		       struct plate_error **err)
{
	for (size_t i = 0; i < sel->n; i++) {
		struct eng_match *m = &sel->m[i];
		for (size_t j = 0; j < m->n; j++) {
			struct eng_entry *en = &m->entries[j];
			_cleanup_free_ char *path = join(m->path, en->rel);
			_cleanup_close_ int fd = -1;
			struct eng_statrec *rec, *fresh, *old = NULL;
			int64_t mtime_ns = (int64_t)en->st.st_mtim.tv_sec * 1000000000 +
					   en->st.st_mtim.tv_nsec;

			if (!S_ISREG(en->st.st_mode))
				continue;
			if (path == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
			if (e == NULL) {
				fd = eng_open_in_root(rootfd, path, O_RDONLY, 0);
				if (fd < 0)
					return plate_err_new(err, errno, "cannot open '%s'", path);
				if (hash_file(fd, en->hex, err) < 0)
					return plate_err_wrap(err, "'%s'", path);
				continue;
			}
			pthread_mutex_lock(&e->lock);
			rec = eng_strmap_get(&e->statcache, path);
			if (rec != NULL && rec->size == (uint64_t)en->st.st_size &&
			    rec->ino == (uint64_t)en->st.st_ino && rec->mtime_ns == mtime_ns) {
				memcpy(en->hex, rec->hex, sizeof(en->hex));
				pthread_mutex_unlock(&e->lock);
				continue;
			}
			pthread_mutex_unlock(&e->lock);
			fd = eng_open_in_root(rootfd, path, O_RDONLY, 0);
			if (fd < 0 || hash_file(fd, en->hex, err) < 0) {
				if (fd < 0)
					plate_err_new(err, errno, "cannot open '%s'", path);
				return plate_err_wrap(err, "build context");
			}
			if ((fresh = malloc(sizeof(*fresh))) == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
			*fresh = (struct eng_statrec){ .size = (uint64_t)en->st.st_size,
						       .ino = (uint64_t)en->st.st_ino,
						       .mtime_ns = mtime_ns };
			memcpy(fresh->hex, en->hex, sizeof(fresh->hex));
			pthread_mutex_lock(&e->lock);
			if (eng_strmap_put(&e->statcache, path, fresh, (void **)&old) < 0) {
				pthread_mutex_unlock(&e->lock);
				free(fresh);
				return plate_err_new(err, ENOMEM, "out of memory");
			}
			e->statcache_dirty = true;
			pthread_mutex_unlock(&e->lock);
			free(old);
		}
	}
	return 0;
}

void eng_selection_key(struct digest *d, const struct eng_selection *sel, bool owners)
{
	eng_hash_u64(d, sel->n);
	for (size_t i = 0; i < sel->n; i++) {
		const struct eng_match *m = &sel->m[i];
		eng_hash_field(d, m->path);
		eng_hash_u64(d, m->n);
		for (size_t j = 0; j < m->n; j++) {
			const struct eng_entry *en = &m->entries[j];
			eng_hash_field(d, en->rel);
			eng_hash_u64(d, en->st.st_mode);
			if (owners) {
				eng_hash_u64(d, en->st.st_uid);
				eng_hash_u64(d, en->st.st_gid);
			}
			if (S_ISREG(en->st.st_mode)) {
				eng_hash_u64(d, (uint64_t)en->st.st_size);
				eng_hash_field(d, en->hex);
				/* A hardlink group changes the layer (one file, not two). */
				eng_hash_u64(d, en->hardlink);
			} else if (S_ISLNK(en->st.st_mode)) {
				eng_hash_field(d, en->link);
			} else if (S_ISCHR(en->st.st_mode) || S_ISBLK(en->st.st_mode)) {
				eng_hash_u64(d, en->st.st_rdev);
			}
		}
	}
}

/* ---- the stat cache, persisted as a build-cache entry -------------------------------------- */

int eng_statcache_load(struct engine *e, struct plate_error **err)
{
	_cleanup_free_ char *json = NULL, *real = realpath(e->o.context_dir, NULL);
	_cleanup_free_ char *seed = NULL;
	json_t *root = NULL, *files, *item;
	size_t len, i;
	int r;

	if (real == NULL)
		return plate_err_new(err, errno, "cannot resolve context '%s'", e->o.context_dir);
	if (asprintf(&seed, "plate context stat cache v1\n%s", real) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (digest_buffer(seed, strlen(seed), e->statcache_key, err) < 0)
		return -1;
	r = store_cache_get(e->o.store, e->statcache_key, &json, &len, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	{
		_cleanup_error_ struct plate_error *bad = NULL;
		if (json_parse(json, len, STATCACHE_MAX, 8, &root, &bad) < 0)
			return 0; /* a damaged cache is only a cache */
	}
	files = json_object_get(root, "files");
	json_array_foreach(files, i, item)
	{
		struct eng_statrec *rec;
		const char *path = json_string_value(json_array_get(item, 0));
		const char *hex = json_string_value(json_array_get(item, 4));
		void *old = NULL;

		if (path == NULL || hex == NULL || strlen(hex) != DIGEST_HEX_LEN)
			continue;
		if ((rec = malloc(sizeof(*rec))) == NULL) {
			json_decref(root);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		rec->size = (uint64_t)json_integer_value(json_array_get(item, 1));
		rec->ino = (uint64_t)json_integer_value(json_array_get(item, 2));
		rec->mtime_ns = (int64_t)json_integer_value(json_array_get(item, 3));
		memcpy(rec->hex, hex, sizeof(rec->hex));
		if (eng_strmap_put(&e->statcache, path, rec, &old) < 0) {
			free(rec);
			json_decref(root);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		free(old);
	}
	json_decref(root);
	return 0;
}

/* Called with the transaction open; the digests are written without their "sha256:"
 * prefix so that gc does not take them for blobs the entry depends on. */
int eng_statcache_save(struct engine *e, struct plate_error **err)
{
	json_t *root = json_object(), *files = json_array();
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = -1;

	if (!e->statcache_dirty || e->statcache_key[0] == '\0') {
		json_decref(root);
		json_decref(files);
		return 0;
	}
	if (root == NULL || files == NULL || json_object_set_new(root, "files", files) < 0) {
		json_decref(root);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	json_object_set_new(root, "plate", json_string("context stat cache"));
	for (size_t i = 0; i < e->statcache.n; i++) {
		const struct eng_statrec *rec = e->statcache.values[i];
		json_t *item = json_pack("[s,I,I,I,s]", e->statcache.keys[i], (json_int_t)rec->size,
					 (json_int_t)rec->ino, (json_int_t)rec->mtime_ns, rec->hex);
		if (item == NULL || json_array_append_new(files, item) < 0) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	if (json_canonical(root, &text, &len, err) < 0)
		goto out;
	if (len > STATCACHE_MAX) {
		r = 0;
		goto out;
	}
	r = store_txn_cache_put(e->txn, e->statcache_key, text, len, err);
out:
	json_decref(root);
	return r;
}
