/*
 * RUN: the command in the sandbox, over an overlay of the stage's layers with a fresh upper
 * directory that becomes the step's layer.
 *
 * The command: exec form as given; shell form through the stage's SHELL (default
 * ["/bin/sh", "-c"]); a here-document that is the whole command is the script (written to
 * a file under /dev/pipes and executed when it starts with "#!"); other here-documents are
 * passed to the shell with the command, which reads them itself.
 *
 * Mounts (--mount): bind (the context read-only, or a stage's or image's tree), cache
 * (ROOT/mounts/<id>, kept across builds, not in the layer), tmpfs, secret (a copy of the
 * secret's file, 0400, bound read-only; or env=NAME).  A bind of a stage or image is
 * mounted in the private namespace of a view thread from which the sandbox is started, so
 * its tree is visible to the sandbox by path and to nobody else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "sandbox/sandbox.h"
#include "engine/engine_internal.h"

enum mount_kind { MOUNT_BIND, MOUNT_CACHE, MOUNT_TMPFS, MOUNT_SECRET };

struct run_mount {
	enum mount_kind kind;
	char *target;
	char *source;
	bool has_from;
	const struct plan_source *from;
	bool rw;       /* rw/readwrite given */
	bool readonly; /* ro/readonly given */
	char *id;
	char *sharing;
	long mode, uid, gid;
	bool required;
	char *env;
	unsigned long long size;
	/* resolved */
	char *host;      /* bind source path on the host (or in the view namespace) */
	int view;        /* index of the view holding a from= tree, -1 */
	int slot;        /* index of its sandbox mount, -1 */
	int lockfd;      /* cache: the directory, flock'ed for the run */
	struct eng_layers layers;
	char *view_dir;
	struct eng_selection ctx_sel; /* bind of the context: what .dockerignore lets through */
	bool ctx_copy;               /* host is a filtered copy of the context */
};

static void mount_release(struct run_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->id);
	free(m->sharing);
	free(m->env);
	free(m->host);
	free(m->view_dir);
	eng_selection_release(&m->ctx_sel);
	if (m->lockfd >= 0)
		close(m->lockfd);
	eng_layers_release(&m->layers);
}

static bool parse_bool_opt(const char *v, bool dflt)
{
	if (v == NULL)
		return true;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return true;
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return false;
	return dflt;
}

static int parse_long(const char *v, int base, long *out, struct plate_error **err)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, base);
	if (errno != 0 || *v == '\0' || *end != '\0' || *out < 0)
		return plate_err_new(err, EINVAL, "invalid number '%s'", v);
	return 0;
}

/* --mount=type=cache,target=/root/.cache,id=go — comma-separated key=value. */
static int parse_mount(const char *spec, struct run_mount *m, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *save = NULL, *kv;

	*m = (struct run_mount){ .kind = MOUNT_BIND, .mode = -1, .uid = -1, .gid = -1, .view = -1,
				 .slot = -1, .lockfd = -1 };
	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (kv = strtok_r(copy, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		char **slot = NULL;
		if (v != NULL)
			*v++ = '\0';
		if (strcmp(kv, "type") == 0 && v != NULL) {
			if (strcmp(v, "bind") == 0)
				m->kind = MOUNT_BIND;
			else if (strcmp(v, "cache") == 0)
				m->kind = MOUNT_CACHE;
			else if (strcmp(v, "tmpfs") == 0)
				m->kind = MOUNT_TMPFS;
			else if (strcmp(v, "secret") == 0)
				m->kind = MOUNT_SECRET;
			else
				return plate_err_new(err, ENOTSUP, "unsupported mount type '%s'", v);
		} else if (strcmp(kv, "target") == 0 || strcmp(kv, "dst") == 0 ||
			   strcmp(kv, "destination") == 0) {
			slot = &m->target;
		} else if (strcmp(kv, "source") == 0 || strcmp(kv, "src") == 0) {
			slot = &m->source;
		} else if (strcmp(kv, "from") == 0) {
			m->has_from = true;
		} else if (strcmp(kv, "id") == 0) {
			slot = &m->id;
		} else if (strcmp(kv, "sharing") == 0) {
			slot = &m->sharing;
		} else if (strcmp(kv, "env") == 0) {
			slot = &m->env;
		} else if (strcmp(kv, "ro") == 0 || strcmp(kv, "readonly") == 0) {
			m->readonly = parse_bool_opt(v, true);
			m->rw = !m->readonly;
		} else if (strcmp(kv, "rw") == 0 || strcmp(kv, "readwrite") == 0) {
			m->rw = parse_bool_opt(v, true);
			m->readonly = !m->rw;
		} else if (strcmp(kv, "required") == 0) {
			m->required = parse_bool_opt(v, true);
		} else if (strcmp(kv, "mode") == 0 && v != NULL) {
			if (parse_long(v, 8, &m->mode, err) < 0)
				return plate_err_wrap(err, "mount mode");
		} else if (strcmp(kv, "uid") == 0 && v != NULL) {
			if (parse_long(v, 10, &m->uid, err) < 0)
				return plate_err_wrap(err, "mount uid");
		} else if (strcmp(kv, "gid") == 0 && v != NULL) {
			if (parse_long(v, 10, &m->gid, err) < 0)
				return plate_err_wrap(err, "mount gid");
		} else if (strcmp(kv, "size") == 0 && v != NULL) {
			char *end;
			m->size = strtoull(v, &end, 10);
			if (*end == 'k' || *end == 'K')
				m->size <<= 10;
			else if (*end == 'm' || *end == 'M')
				m->size <<= 20;
			else if (*end == 'g' || *end == 'G')
				m->size <<= 30;
		} else {
			return plate_err_new(err, EINVAL, "unknown mount option '%s'", kv);
		}
		if (slot != NULL) {
			if (v == NULL)
				return plate_err_new(err, EINVAL, "mount option '%s' needs a value", kv);
			free(*slot);
			if ((*slot = strdup(v)) == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
		}
	}
	if (m->kind == MOUNT_SECRET) {
		if (m->id == NULL && m->target != NULL) {
			const char *slash = strrchr(m->target, '/');
			m->id = strdup(slash ? slash + 1 : m->target);
		}
		if (m->id == NULL)
			return plate_err_new(err, EINVAL, "secret mount needs an id or a target");
		if (m->target == NULL && m->env == NULL &&
		    asprintf(&m->target, "/run/secrets/%s", m->id) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		return 0;
	}
	if (m->target == NULL)
		return plate_err_new(err, EINVAL, "mount '%s' needs a target", spec);
	if (m->kind == MOUNT_CACHE && m->id == NULL && (m->id = strdup(m->target)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

/* ---- output ---------------------------------------------------------------------------- */

struct run_output {
	struct eng_step_ctx *c;
	char tail[ENG_OUTPUT_TAIL];
	size_t len;
};

static void on_output(void *data, int fd, const char *chunk, size_t len)
{
	struct run_output *o = data;
	struct engine_event ev = { .type = ENGINE_EVENT_STEP_OUTPUT, .id = o->c->id,
				   .name = o->c->name, .data = chunk, .len = len, .fd = fd };

	eng_emit(o->c->e, &ev);
	if (len >= sizeof(o->tail)) {
		memcpy(o->tail, chunk + len - sizeof(o->tail), sizeof(o->tail));
		o->len = sizeof(o->tail);
		return;
	}
	if (o->len + len > sizeof(o->tail)) {
		size_t drop = o->len + len - sizeof(o->tail);
		memmove(o->tail, o->tail + drop, o->len - drop);
		o->len -= drop;
	}
	memcpy(o->tail + o->len, chunk, len);
	o->len += len;
}

/* The last lines of the output, each prefixed, for the error message. */
static char *tail_lines(const struct run_output *o)
{
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);
	size_t end = o->len, start;
	unsigned lines = 0;

	while (end > 0 && (o->tail[end - 1] == '\n' || o->tail[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && lines < ENG_OUTPUT_TAIL_LINES) {
		start--;
		if (o->tail[start] == '\n' && ++lines == ENG_OUTPUT_TAIL_LINES) {
			start++;
			break;
		}
	}
	for (size_t i = start; i < end;) {
		const char *nl = memchr(o->tail + i, '\n', end - i);
		size_t l = nl ? (size_t)(nl - (o->tail + i)) : end - i;
		if (buf_addf(&b, "\n  > %.*s", (int)l, o->tail + i) < 0)
			return NULL;
		i += l + 1;
	}
	return buf_detach(&b, NULL);
}

/* ---- the command ------------------------------------------------------------------------ */

static bool heredoc_is_whole_command(const char *arg, const struct dockerfile_heredoc *h)
{
	const char *p = arg;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "<<", 2) != 0)
		return false;
	p += 2;
	if (*p == '-')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n'))
		n--;
	if (n >= 2 && (p[0] == '"' || p[0] == '\'') && p[n - 1] == p[0]) {
		p++;
		n -= 2;
	}
	return n == strlen(h->name) && memcmp(p, h->name, n) == 0;
}

struct run_cmd {
	struct oci_strings argv;
	char *script;      /* a whole-command heredoc with a shebang: its file's contents */
	char *script_name;
};

static int build_command(struct eng_step_ctx *c, struct run_cmd *cmd, struct plate_error **err)
{
	const struct plan_step *step = c->step;
	const struct oci_strings *shell = &c->st->config.shell;
	const struct dockerfile_instruction *in = step->instr;
	_cleanup_buf_ struct buf script = BUF_INIT(BUF_UNLIMITED);

	if (step->json_form) {
		for (size_t i = 0; i < step->n_args; i++)
			if (oci_strings_add(&cmd->argv, step->args[i], err) < 0)
				return -1;
		if (cmd->argv.n == 0)
			return plate_err_new(err, EINVAL, "RUN needs a command");
		return 0;
	}
	if (step->n_args == 0)
		return plate_err_new(err, EINVAL, "RUN needs a command");
	if (in != NULL && in->n_heredocs == 1 && heredoc_is_whole_command(step->args[0], &in->heredocs[0])) {
		const struct dockerfile_heredoc *h = &in->heredocs[0];
		if (strncmp(h->content, "#!", 2) == 0) {
			if ((cmd->script = strdup(h->content)) == NULL ||
			    asprintf(&cmd->script_name, "/dev/pipes/%s", h->name) < 0 ||
			    oci_strings_add(&cmd->argv, cmd->script_name, err) < 0)
				return cmd->argv.n ? -1 : plate_err_new(err, ENOMEM, "out of memory");
			return 0;
		}
		if (buf_addstr(&script, h->content) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	} else {
		if (buf_addstr(&script, step->args[0]) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		for (size_t i = 0; in != NULL && i < in->n_heredocs; i++)
			if (buf_addf(&script, "\n%s%s", in->heredocs[i].content, in->heredocs[i].name) < 0)
				return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (shell->n > 0) {
		if (oci_strings_copy(&cmd->argv, shell, err) < 0)
			return -1;
	} else if (oci_strings_add(&cmd->argv, "/bin/sh", err) < 0 ||
		   oci_strings_add(&cmd->argv, "-c", err) < 0) {
		return -1;
	}
	return oci_strings_add(&cmd->argv, script.data, err);
}

/* "RUN |2 A=1 B=2 /bin/sh -c …": BuildKit shows the stage's ARGs before the command. */
static char *run_history(const struct eng_step_ctx *c, const struct oci_strings *argv)
{
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);
	const struct eng_stage *st = c->st;
	unsigned n = 0;

	for (size_t i = 0; i < st->n_arg_names; i++)
		if (dockerfile_vars_get(&c->vars, st->arg_names[i], strlen(st->arg_names[i])) != NULL)
			n++;
	if (buf_addstr(&b, "RUN") < 0 || (n > 0 && buf_addf(&b, " |%u", n) < 0))
		return NULL;
	for (size_t i = 0; i < st->n_arg_names; i++) {
		const char *v = dockerfile_vars_get(&c->vars, st->arg_names[i], strlen(st->arg_names[i]));
		if (v != NULL && buf_addf(&b, " %s=%s", st->arg_names[i], v) < 0)
			return NULL;
	}
	for (size_t i = 0; i < argv->n; i++)
		if (buf_addf(&b, " %s", argv->v[i]) < 0)
			return NULL;
	if (buf_addstr(&b, " # buildkit") < 0)
		return NULL;
	return buf_detach(&b, NULL);
}

/* ---- execution --------------------------------------------------------------------------- */

struct run_job {
	struct eng_step_ctx *c;
	struct sandbox_spec spec;
	struct run_mount *mounts;
	size_t n_mounts;
	struct sandbox_mount *smounts;
	size_t n_smounts;
	struct run_output out;
	struct sandbox_result result;
};

/* Resolves bind sources where the sandbox will look them up (the view namespace for the
 * trees of stages and images), with symlinks resolved inside each tree, so that the path
 * handed to the sandbox cannot lead out of it. */
static int resolve_binds(struct run_job *j, const int *fds, struct plate_error **err)
{
	for (size_t i = 0; i < j->n_mounts; i++) {
		struct run_mount *m = &j->mounts[i];
		int root = m->view >= 0 ? fds[m->view] : j->c->e->context_fd;
		const char *src = m->source ? m->source : "/";
		_cleanup_close_ int fd = -1;
		char link[64], target[4096];
		ssize_t n;

		if (m->kind != MOUNT_BIND || m->slot < 0)
			continue;
		if (m->ctx_copy) {
			j->smounts[m->slot].source = m->host;
			continue;
		}
		fd = eng_open_in_root(root, src, O_PATH, 0);
		if (fd < 0)
			return plate_err_new(err, errno, "bind mount source '%s'", src);
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			return plate_err_new(err, errno, "bind mount source '%s'", src);
		target[n] = '\0';
		free(m->host);
		if ((m->host = strdup(target)) == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		j->smounts[m->slot].source = m->host;
	}
	return 0;
}

static int run_sandbox(void *data, const int *fds, struct plate_error **err)
{
	struct run_job *j = data;

	if (resolve_binds(j, fds, err) < 0)
		return -1;
	return sandbox_run(&j->spec, &j->result, err);
}

static int prepare_secret(struct eng_step_ctx *c, struct run_mount *m, struct oci_strings *env,
			  struct plate_error **err)
{
	const struct engine_secret *s = NULL;
	_cleanup_free_ char *data = NULL, *dir = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = 0;

	for (size_t i = 0; i < c->e->o.n_secrets; i++)
		if (strcmp(c->e->o.secrets[i].id, m->id) == 0)
			s = &c->e->o.secrets[i];
	if (s == NULL) {
		if (m->required)
			return plate_err_new(err, ENOENT, "secret '%s' not provided (--secret id=%s,src=…)",
					     m->id, m->id);
		return 1;
	}
	if (s->path != NULL) {
		fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || file_read_fd(fd, s->path, FILE_READ_STREAM, (size_t)1 << 20, &data, &len,
					   err) < 0)
			return fd < 0 ? plate_err_new(err, errno, "cannot read secret '%s'", s->id) : -1;
		close(steal_fd(&fd));
	} else if ((data = strdup(s->value ? s->value : "")) == NULL) {
		return plate_err_new(err, ENOMEM, "out of memory");
	} else {
		len = strlen(data);
	}
	if (m->env != NULL) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%.*s", m->env, (int)len, data) < 0 ||
		    oci_strings_add(env, kv, err) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (m->target == NULL)
		return 1;
	if (eng_scratch(c->e, "secret", &dir, err) < 0 || asprintf(&path, "%s/data", dir) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len ||
	    fchown(fd, m->uid >= 0 ? (uid_t)m->uid : 0, m->gid >= 0 ? (gid_t)m->gid : 0) < 0 ||
	    fchmod(fd, m->mode >= 0 ? (mode_t)m->mode : 0400) < 0)
		return plate_err_new(err, errno, "cannot prepare secret '%s'", m->id);
	m->host = steal_pointer(&path);
	return 0;
}

/* Cache mounts, BuildKit's sharing modes, with flock on the directory (which also tells
 * `plate prune` it is in use):
 *   shared   (default) everyone uses the same directory at once: a shared lock;
 *   locked   one build step at a time, the others wait: an exclusive lock;
 *   private  one user at a time, concurrent users get another instance of the id (kept
 *            and reused like the first): the first instance not locked exclusively. */
static int prepare_cache(struct eng_step_ctx *c, struct run_mount *m, struct plate_error **err)
{
	const char *sharing = m->sharing ? m->sharing : "shared";
	bool private = strcmp(sharing, "private") == 0;
	_cleanup_close_ int fd = -1;

	if (!private && strcmp(sharing, "shared") != 0 && strcmp(sharing, "locked") != 0)
		return plate_err_new(err, EINVAL, "invalid cache mount sharing '%s'", sharing);
	for (unsigned n = 0;; n++) {
		_cleanup_free_ char *id = NULL;
		if (n > 0 && asprintf(&id, "%s\n%u", m->id, n) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		free(m->host);
		m->host = NULL;
		if (store_cache_mount_dir(c->e->o.store, id ? id : m->id, &m->host, err) < 0)
			return -1;
		fd = open(m->host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return plate_err_new(err, errno, "cannot open cache mount '%s'", m->id);
		if (!private) {
			if (flock(fd, strcmp(sharing, "locked") == 0 ? LOCK_EX : LOCK_SH) < 0)
				return plate_err_new(err, errno, "cannot lock cache mount '%s'", m->id);
			break;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK || n >= 1024)
			return plate_err_new(err, errno, "cannot lock cache mount '%s'", m->id);
		close(steal_fd(&fd));
	}
	if ((m->uid >= 0 || m->gid >= 0) &&
	    fchown(fd, m->uid >= 0 ? (uid_t)m->uid : (uid_t)-1, m->gid >= 0 ? (gid_t)m->gid : (gid_t)-1) < 0)
		return plate_err_new(err, errno, "cannot set the owner of cache mount '%s'", m->id);
	if (m->mode >= 0 && fchmod(fd, (mode_t)m->mode) < 0)
		return plate_err_new(err, errno, "cannot set the mode of cache mount '%s'", m->id);
	m->lockfd = steal_fd(&fd);
	return 0;
}

static int ensure_cwd(void *data, const int *fds, struct plate_error **err)
{
	return eng_mkdir_p(fds[0], data, 0, 0, NULL, err);
}

int eng_step_run(struct eng_step_ctx *c, struct plate_error **err)
{
	struct engine *e = c->e;
	struct eng_stage *st = c->st;
	const struct plan_step *step = c->step;
	struct run_cmd cmd = { 0 };
	struct run_job j = { .c = c };
	struct oci_strings env = { 0 };
	struct eng_user user = { 0 };
	struct eng_layer layer = { 0 };
	struct eng_view *views = NULL;
	_cleanup_free_ const char **lowers = NULL;
	_cleanup_free_ char *upper = NULL, *work = NULL, *history = NULL, *script_dir = NULL;
	const char *cwd = st->config.working_dir ? st->config.working_dir : "/";
	const char *network = NULL;
	size_t n_lowers = 0, n_views = 0, next_source = 0;
	struct digest d = { 0 };
	eng_digest key;
	bool hit = false, empty = false;
	int r = -1;

	j.mounts = calloc(step->n_flags + 1, sizeof(*j.mounts));
	j.smounts = calloc(step->n_flags + 2, sizeof(*j.smounts));
	views = calloc(step->n_flags + 1, sizeof(*views));
	if (j.mounts == NULL || j.smounts == NULL || views == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < step->n_flags; i++) {
		const char *f = step->flags[i];
		if (strncmp(f, "--mount=", 8) == 0) {
			struct run_mount *m = &j.mounts[j.n_mounts];
			if (parse_mount(f + 8, m, err) < 0) {
				j.n_mounts++;
				plate_err_wrap(err, "--mount=%s", f + 8);
				goto out;
			}
			j.n_mounts++;
			if (m->has_from && next_source < step->n_sources)
				m->from = &step->sources[next_source++];
		} else if (strncmp(f, "--network=", 10) == 0) {
			network = f + 10;
		} else if (strncmp(f, "--security=", 11) == 0) {
			if (strcmp(f + 11, "sandbox") != 0) {
				plate_err_new(err, ENOTSUP, "RUN --security=%s is not supported", f + 11);
				goto out;
			}
		} else {
			plate_err_new(err, ENOTSUP, "RUN %s is not supported", f);
			goto out;
		}
	}
	if (build_command(c, &cmd, err) < 0)
		goto out;
	if ((history = run_history(c, &cmd.argv)) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->vars.n; i++) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%s", c->vars.names[i], c->vars.values[i]) < 0 ||
		    oci_strings_add(&env, kv, err) < 0)
			goto out;
	}

	/* The key: parent, command, environment, user, directory, mounts, network. */
	eng_inputs_begin(c);
	eng_inputs_vars(c);
	if (digest_init(&d, err) < 0)
		goto out;
	eng_hash_field(&d, "plate run v1");
	eng_hash_field(&d, st->key);
	eng_hash_u64(&d, cmd.argv.n);
	for (size_t i = 0; i < cmd.argv.n; i++)
		eng_hash_field(&d, cmd.argv.v[i]);
	eng_hash_field(&d, cmd.script);
	eng_hash_u64(&d, env.n);
	for (size_t i = 0; i < env.n; i++)
		eng_hash_field(&d, env.v[i]);
	eng_hash_field(&d, st->config.user);
	eng_hash_field(&d, cwd);
	eng_hash_field(&d, network);
	for (size_t i = 0; i < step->n_flags; i++)
		if (strncmp(step->flags[i], "--mount=", 8) == 0)
			eng_hash_field(&d, step->flags[i]);
	for (size_t i = 0; i < j.n_mounts; i++) {
		struct run_mount *m = &j.mounts[i];
		if (m->kind != MOUNT_BIND)
			continue;
		if (m->from != NULL && m->from->stage >= 0) {
			eng_hash_field(&d, e->stages[m->from->stage].key);
		} else if (m->from != NULL && strcmp(m->from->image, "scratch") != 0) {
			const struct store_image *img;
			if (eng_image_get(e, m->from->image, e->plan->target_platform, &img, err) < 0)
				goto out;
			eng_hash_field(&d, img->manifest_desc.digest);
		} else if (m->from == NULL) {
			struct eng_selection sel = { 0 };
			struct eng_select_opts so = { .ignore = e->ignore, .what = "build context" };
			const char *src = m->source ? m->source : ".";
			if (m->rw) {
				plate_err_new(err, ENOTSUP, "read-write bind mounts of the build context are "
							    "not supported");
				goto out;
			}
			if (eng_select(e->context_fd, &src, 1, &so, &sel, err) < 0 ||
			    eng_selection_hash(e, e->context_fd, &sel, err) < 0) {
				eng_selection_release(&sel);
				goto out;
			}
			eng_selection_key(&d, &sel);
			m->ctx_sel = sel;
		}
	}
	digest_final(&d, key);

	if (eng_cache_lookup(e, key, &hit, &empty, &layer, NULL, err) < 0)
		goto out;
	if (hit) {
		c->history = history;
		r = eng_stage_apply(c, key, empty ? NULL : &layer, empty, true, err);
		goto out;
	}
	eng_explain_miss(c, key);

	/* Not cached: prepare the root, the user, the mounts, and run. */
	if (eng_scratch(e, "upper", &upper, err) < 0 || eng_scratch(e, "work", &work, err) < 0 ||
	    eng_layers_lowers(&st->layers, &lowers, &n_lowers, err) < 0)
		goto out;
	if (n_lowers == 0) {
		lowers[0] = e->empty_dir;
		n_lowers = 1;
	}
	if (!st->workdir_exists) {
		_cleanup_free_ char *mnt = NULL, *vwork = NULL;
		/* Its own workdir: a volatile overlay's cannot be mounted again. */
		struct eng_view v = { .lowers = lowers, .n_lowers = n_lowers, .upper = upper };
		if (eng_scratch(e, "mnt", &mnt, err) < 0 || eng_scratch(e, "work", &vwork, err) < 0)
			goto out;
		v.work = vwork;
		v.mountpoint = mnt;
		if (eng_view_run(e, &v, 1, ensure_cwd, (void *)cwd, err) < 0)
			goto out;
		st->workdir_exists = true;
	}
	{
		struct eng_etc etc;
		if (eng_etc_from_layers(&st->layers, &etc, err) < 0)
			goto out;
		r = eng_user_resolve(&etc, st->config.user ? st->config.user : "", true, &user, err);
		eng_etc_release(&etc);
		if (r < 0)
			goto out;
		r = -1;
	}
	/* docker: HOME from the user's passwd entry, "/" without one, unless set. */
	if (dockerfile_vars_get(&c->vars, "HOME", 4) == NULL) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "HOME=%s", user.home) < 0 || oci_strings_add(&env, kv, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < j.n_mounts; i++) {
		struct run_mount *m = &j.mounts[i];
		struct sandbox_mount *sm = &j.smounts[j.n_smounts];
		int pr;
		switch (m->kind) {
		case MOUNT_BIND:
			if (m->from != NULL) {
				_cleanup_free_ const char **vl = NULL;
				_cleanup_free_ char *vu = NULL, *vw = NULL;
				size_t n_vl = 0;
				if (m->from->stage >= 0) {
					if (eng_layers_copy(&m->layers, &e->stages[m->from->stage].layers, err) < 0)
						goto out;
				} else if (strcmp(m->from->image, "scratch") != 0) {
					const struct store_image *img;
					if (eng_image_get(e, m->from->image, e->plan->target_platform, &img,
							  err) < 0 ||
					    eng_image_layers(e, img, &m->layers, err) < 0)
						goto out;
				}
				if (eng_scratch(e, "bind", &m->view_dir, err) < 0 ||
				    eng_layers_lowers(&m->layers, &vl, &n_vl, err) < 0)
					goto out;
				/* rw: writes land in a throw-away upper directory, as in BuildKit. */
				if (m->rw && (eng_scratch(e, "bind-upper", &vu, err) < 0 ||
					      eng_scratch(e, "bind-work", &vw, err) < 0))
					goto out;
				views[n_views] = (struct eng_view){ .lowers = steal_pointer(&vl),
								    .n_lowers = n_vl,
								    .upper = steal_pointer(&vu),
								    .work = steal_pointer(&vw),
								    .mountpoint = m->view_dir };
				m->view = (int)n_views++;
			}
			/* A directory of the context with a .dockerignore: the sandbox sees a copy of
			 * what the ignore file lets through, as BuildKit only ever has that part. */
			if (m->from == NULL && e->has_ignore && m->ctx_sel.n == 1 && m->ctx_sel.m[0].is_dir) {
				_cleanup_close_ int dfd = -1;
				if (eng_scratch(e, "bind-context", &m->host, err) < 0)
					goto out;
				dfd = open(m->host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (dfd < 0) {
					plate_err_new(err, errno, "cannot open '%s'", m->host);
					goto out;
				}
				if (eng_context_tree(e, &m->ctx_sel, dfd, err) < 0)
					goto out;
				m->ctx_copy = true;
			}
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND, .source = "/",
						      .target = m->target,
						      .flags = m->rw ? 0 : SANDBOX_MOUNT_READONLY };
			break;
		case MOUNT_CACHE:
			if (prepare_cache(c, m, err) < 0)
				goto out;
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND, .source = m->host,
						      .target = m->target,
						      .flags = m->readonly ? SANDBOX_MOUNT_READONLY : 0 };
			break;
		case MOUNT_TMPFS:
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_TMPFS, .target = m->target,
						      .tmpfs_size = m->size };
			break;
		case MOUNT_SECRET:
			pr = prepare_secret(c, m, &env, err);
			if (pr < 0)
				goto out;
			if (pr > 0)
				continue; /* not provided, or env= only */
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND, .source = m->host,
						      .target = m->target, .flags = SANDBOX_MOUNT_READONLY };
			break;
		default:
			PLATE_BUG("mount kind %d", (int)m->kind);
		}
		m->slot = (int)j.n_smounts++;
	}
	if (cmd.script != NULL) {
		_cleanup_close_ int fd = -1;
		_cleanup_free_ char *path = NULL;
		size_t len = strlen(cmd.script);
		if (eng_scratch(e, "script", &script_dir, err) < 0 ||
		    asprintf(&path, "%s/script", script_dir) < 0)
			goto out;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		if (fd < 0 || write(fd, cmd.script, len) != (ssize_t)len) {
			plate_err_new(err, errno, "cannot write the here-document script");
			goto out;
		}
		free(cmd.script);
		cmd.script = steal_pointer(&path);
		j.smounts[j.n_smounts++] = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND,
								   .source = cmd.script,
								   .target = cmd.script_name,
								   .flags = SANDBOX_MOUNT_READONLY };
	}
	for (size_t i = 0; i < e->plan->proxy_args.n; i++) {
		_cleanup_free_ char *kv = NULL;
		const char *name = e->plan->proxy_args.names[i];
		if (dockerfile_vars_get(&c->vars, name, strlen(name)) != NULL)
			continue;
		if (asprintf(&kv, "%s=%s", name, e->plan->proxy_args.values[i]) < 0 ||
		    oci_strings_add(&env, kv, err) < 0)
			goto out;
	}

	sandbox_spec_init(&j.spec);
	j.spec.rootfs_mode = SANDBOX_ROOTFS_OVERLAY;
	j.spec.lowerdirs = lowers;
	j.spec.n_lowerdirs = n_lowers;
	j.spec.upperdir = upper;
	j.spec.workdir = work;
	j.spec.overlay_volatile = true; /* finish() syncs the store once */
	j.spec.tmpdir = e->sandbox_tmp;
	j.spec.mounts = j.smounts;
	j.spec.n_mounts = j.n_smounts;
	j.spec.argv = (const char *const *)cmd.argv.v;
	j.spec.n_argv = cmd.argv.n;
	j.spec.env = (const char *const *)env.v;
	j.spec.n_env = env.n;
	j.spec.cwd = cwd;
	j.spec.uid = user.uid;
	j.spec.gid = user.gid;
	j.spec.groups = user.groups;
	j.spec.n_groups = user.n_groups;
	j.spec.etc_files = SANDBOX_ETC_RESOLV_CONF | SANDBOX_ETC_HOSTS | SANDBOX_ETC_HOSTNAME;
	j.spec.resolv_conf = e->o.resolv_conf;
	if (network != NULL && strcmp(network, "none") == 0)
		j.spec.network = SANDBOX_NET_NONE;
	else if (network != NULL && strcmp(network, "host") != 0 && strcmp(network, "default") != 0) {
		plate_err_new(err, ENOTSUP, "RUN --network=%s is not supported", network);
		goto out;
	} else
		j.spec.network = network == NULL && e->o.network == ENGINE_NET_NONE ? SANDBOX_NET_NONE
										    : SANDBOX_NET_HOST;
	j.spec.output = on_output;
	j.spec.output_data = &j.out;
	j.spec.cancel_fd = e->cancel_pipe[0];
	j.out.c = c;
	if (n_views > 0)
		r = eng_view_run(e, views, n_views, run_sandbox, &j, err);
	else
		r = run_sandbox(&j, NULL, err);
	if (r < 0)
		goto out;
	r = -1;
	c->process_seconds = j.result.seconds;
	if (j.result.status != 0) {
		_cleanup_free_ char *tail = tail_lines(&j.out);
		_cleanup_free_ char *shown = eng_quote_list((const char *const *)cmd.argv.v, cmd.argv.n);
		plate_err_new(err, 0, "process %s did not complete successfully: exit code: %d%s",
			      shown ? shown : "?", j.result.status, tail ? tail : "");
		goto out;
	}
	if (eng_harvest(e, upper, &layer, &empty, err) < 0 ||
	    eng_cache_record(e, key, empty ? NULL : &layer, NULL, err) < 0)
		goto out;
	c->history = history;
	r = eng_stage_apply(c, key, empty ? NULL : &layer, empty, false, err);
out:
	c->history = NULL;
	digest_release(&d);
	for (size_t i = 0; i < j.n_mounts; i++)
		mount_release(&j.mounts[i]);
	for (size_t i = 0; i < n_views; i++) {
		free((void *)views[i].lowers);
		free((void *)views[i].upper);
		free((void *)views[i].work);
	}
	free(views);
	free(j.mounts);
	free(j.smounts);
	oci_strings_release(&cmd.argv);
	free(cmd.script);
	free(cmd.script_name);
	oci_strings_release(&env);
	eng_user_release(&user);
	eng_layer_release(&layer);
	return r;
}
