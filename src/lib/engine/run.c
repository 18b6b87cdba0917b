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
#include "base/output.h"
#include "sandbox/sandbox.h"
#include "engine/engine_internal.h"

/* A --mount of the step (typed by the planner) and what the engine resolved for it. */
struct run_mount {
	const struct plan_mount *pm;
	const struct plan_source *from; /* NULL: the build context (binds) */
	char *target; /* absolute: the plan's target resolved against the WORKDIR */
	char *host;   /* bind source path on the host (or in the view namespace) */
	int view;     /* index of the view holding a from= tree, -1 */
	int slot;     /* index of its sandbox mount, -1 */
	int lockfd;   /* cache: the directory, flock'ed for the run */
	struct eng_layers layers;
	char *view_dir;
	struct eng_selection ctx_sel; /* bind of the context: what .dockerignore lets through */
	bool ctx_copy;		      /* host is a filtered copy of the context */
};

static void mount_release(struct run_mount *m)
{
	free(m->target);
	free(m->host);
	free(m->view_dir);
	eng_selection_release(&m->ctx_sel);
	if (m->lockfd >= 0)
		close(m->lockfd);
	eng_layers_release(&m->layers);
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
	struct engine_event ev = { .type = ENGINE_EVENT_STEP_OUTPUT,
				   .id = o->c->id,
				   .name = o->c->name,
				   .data = chunk,
				   .len = len,
				   .fd = fd };

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
	char *script; /* a whole-command heredoc with a shebang: its file's contents */
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
	if (in != NULL && in->n_heredocs == 1 &&
	    heredoc_is_whole_command(step->args[0], &in->heredocs[0])) {
		const struct dockerfile_heredoc *h = &in->heredocs[0];
		if (strncmp(h->content, "#!", 2) == 0) {
			if ((cmd->script = strdup(h->content)) == NULL ||
			    asprintf(&cmd->script_name, "/dev/pipes/%s", h->name) < 0) {
				cmd->script_name = NULL;
				return plate_err_new(err, ENOMEM, "out of memory");
			}
			return oci_strings_add(&cmd->argv, cmd->script_name, err);
		}
		if (buf_addstr(&script, h->content) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	} else {
		if (buf_addstr(&script, step->args[0]) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		for (size_t i = 0; in != NULL && i < in->n_heredocs; i++)
			if (buf_addf(&script, "\n%s%s", in->heredocs[i].content,
				     in->heredocs[i].name) < 0)
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

	for (size_t i = 0; i < st->arg_names.n; i++)
		if (dockerfile_vars_get(&c->vars, st->arg_names.v[i], strlen(st->arg_names.v[i])) !=
		    NULL)
			n++;
	if (buf_addstr(&b, "RUN") < 0 || (n > 0 && buf_addf(&b, " |%u", n) < 0))
		return NULL;
	for (size_t i = 0; i < st->arg_names.n; i++) {
		const char *v = dockerfile_vars_get(&c->vars, st->arg_names.v[i],
						    strlen(st->arg_names.v[i]));
		if (v != NULL && buf_addf(&b, " %s=%s", st->arg_names.v[i], v) < 0)
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

/* One RUN, from its typed flags to its layer. */
struct run_job {
	struct eng_step_ctx *c;
	const char *cwd;
	struct run_cmd cmd;
	char *history;
	struct oci_strings env;
	struct eng_user user;
	struct run_mount *mounts;
	size_t n_mounts;
	struct eng_view *views; /* trees of stages and images bound by from= */
	size_t n_views;
	struct sandbox_mount *smounts;
	size_t n_smounts;
	const char **lowers;
	size_t n_lowers;
	char *upper, *work, *script_dir;
	eng_digest key;
	struct run_output out;
	struct sandbox_spec spec;
	struct sandbox_result result;
};

static void job_release(struct run_job *j)
{
	for (size_t i = 0; i < j->n_mounts; i++)
		mount_release(&j->mounts[i]);
	free(j->mounts);
	for (size_t i = 0; i < j->n_views; i++) {
		free((void *)j->views[i].lowers);
		free((void *)j->views[i].upper);
		free((void *)j->views[i].work);
	}
	free(j->views);
	free(j->smounts);
	free(j->lowers);
	free(j->upper);
	free(j->work);
	free(j->script_dir);
	free(j->history);
	oci_strings_release(&j->cmd.argv);
	free(j->cmd.script);
	free(j->cmd.script_name);
	oci_strings_release(&j->env);
	eng_user_release(&j->user);
}

/* Resolves bind sources where the sandbox will look them up (the view namespace for the
 * trees of stages and images), with symlinks resolved inside each tree, so that the path
 * handed to the sandbox cannot lead out of it. */
static int resolve_binds(struct run_job *j, const int *fds, struct plate_error **err)
{
	for (size_t i = 0; i < j->n_mounts; i++) {
		struct run_mount *m = &j->mounts[i];
		int root = m->view >= 0 ? fds[m->view] : j->c->e->context_fd;
		const char *src = m->pm->source ? m->pm->source : "/";
		_cleanup_close_ int fd = -1;
		char link[64], target[4096];
		ssize_t n;

		if (m->pm->type != PLAN_MOUNT_BIND || m->slot < 0)
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
	const struct plan_mount *pm = m->pm;
	const struct engine_secret *s = NULL;
	_cleanup_free_ char *data = NULL, *dir = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = 0;

	for (size_t i = 0; i < c->e->o.n_secrets; i++)
		if (strcmp(c->e->o.secrets[i].id, pm->id) == 0)
			s = &c->e->o.secrets[i];
	if (s == NULL) {
		if (pm->required)
			return plate_err_new(err, ENOENT,
					     "secret '%s' not provided (--secret id=%s,src=…)",
					     pm->id, pm->id);
		return 1;
	}
	if (s->path != NULL) {
		fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || file_read_fd(fd, s->path, FILE_READ_STREAM, (size_t)1 << 20, &data,
					   &len, err) < 0)
			return fd < 0 ? plate_err_new(err, errno, "cannot read secret '%s'", s->id)
				      : -1;
		close(steal_fd(&fd));
	} else if ((data = strdup(s->value ? s->value : "")) == NULL) {
		return plate_err_new(err, ENOMEM, "out of memory");
	} else {
		len = strlen(data);
	}
	if (pm->env != NULL) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%.*s", pm->env, (int)len, data) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (oci_strings_add(env, kv, err) < 0)
			return -1;
	}
	if (m->target == NULL)
		return 1;
	if (eng_scratch(c->e, "secret", &dir, err) < 0)
		return -1;
	if (asprintf(&path, "%s/data", dir) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0 || write_all(fd, data, len) < 0 ||
	    fchown(fd, pm->uid >= 0 ? (uid_t)pm->uid : 0, pm->gid >= 0 ? (gid_t)pm->gid : 0) < 0 ||
	    fchmod(fd, pm->mode >= 0 ? (mode_t)pm->mode : 0400) < 0)
		return plate_err_new(err, errno, "cannot prepare secret '%s'", pm->id);
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
	const struct plan_mount *pm = m->pm;
	const char *cache_id = pm->id[0] != '\0' ? pm->id : m->target;
	bool private = pm->sharing == PLAN_SHARING_PRIVATE;
	_cleanup_close_ int fd = -1;

	for (unsigned n = 0;; n++) {
		_cleanup_free_ char *id = NULL;
		if (n > 0 && asprintf(&id, "%s\n%u", cache_id, n) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		free(m->host);
		m->host = NULL;
		if (store_cache_mount_dir(c->e->o.store, id ? id : cache_id, &m->host, err) < 0)
			return -1;
		fd = open(m->host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return plate_err_new(err, errno, "cannot open cache mount '%s'", cache_id);
		if (!private) {
			if (flock(fd, pm->sharing == PLAN_SHARING_LOCKED ? LOCK_EX : LOCK_SH) < 0)
				return plate_err_new(err, errno, "cannot lock cache mount '%s'",
						     cache_id);
			break;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK || n >= 1024)
			return plate_err_new(err, errno, "cannot lock cache mount '%s'", cache_id);
		close(steal_fd(&fd));
	}
	if ((pm->uid >= 0 || pm->gid >= 0) && fchown(fd, pm->uid >= 0 ? (uid_t)pm->uid : (uid_t)-1,
						     pm->gid >= 0 ? (gid_t)pm->gid : (gid_t)-1) < 0)
		return plate_err_new(err, errno, "cannot set the owner of cache mount '%s'",
				     cache_id);
	if (pm->mode >= 0 && fchmod(fd, (mode_t)pm->mode) < 0)
		return plate_err_new(err, errno, "cannot set the mode of cache mount '%s'",
				     cache_id);
	m->lockfd = steal_fd(&fd);
	return 0;
}

enum sandbox_network eng_sandbox_network(enum engine_network net)
{
	switch (net) {
	case ENGINE_NET_NONE:
		return SANDBOX_NET_NONE;
	case ENGINE_NET_HOST:
		return SANDBOX_NET_HOST;
	case ENGINE_NET_DEFAULT:
	default:
		return SANDBOX_NET_PRIVATE;
	}
}

/* RUN --network=host as BuildKit: only with the caller's consent (the network.host
 * entitlement), never on the Dockerfile's word alone. */
static int check_network(const struct run_job *j, struct plate_error **err)
{
	if (j->c->step->run.network == PLAN_NET_HOST && !j->c->e->o.allow_host_network)
		return plate_err_new(err, EPERM,
				     "RUN --network=host is not allowed: build with --allow "
				     "network.host");
	return 0;
}

static int ensure_cwd(void *data, const int *fds, struct plate_error **err)
{
	return eng_mkdir_p(fds[0], data, 0, 0, NULL, err);
}

/* The step's mounts, with targets resolved against the WORKDIR as BuildKit does; what the
 * engine cannot do yet is refused here, before the key is computed. */
static int job_mounts(struct run_job *j, struct plate_error **err)
{
	const struct plan_step *step = j->c->step;

	/* BuildKit's entitlements, checked before the cache so that a cached step cannot bypass
	 * them: the Dockerfile alone cannot lift the sandbox or reach the host network. */
	if (step->run.security == PLAN_SECURITY_INSECURE && !j->c->e->o.allow_insecure)
		return plate_err_new(err, EPERM,
				     "RUN --security=insecure needs 'plate build "
				     "--allow security.insecure'");
	if (check_network(j, err) < 0)
		return -1;
	j->mounts = calloc(step->run.n_mounts + 1, sizeof(*j->mounts));
	j->smounts = calloc(step->run.n_mounts + 2, sizeof(*j->smounts));
	j->views = calloc(step->run.n_mounts + 1, sizeof(*j->views));
	if (j->mounts == NULL || j->smounts == NULL || j->views == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < step->run.n_mounts; i++) {
		const struct plan_mount *pm = &step->run.mounts[i];
		struct run_mount *m = &j->mounts[j->n_mounts++];

		*m = (struct run_mount){ .pm = pm, .view = -1, .slot = -1, .lockfd = -1 };
		if (pm->from >= 0)
			m->from = &step->sources[pm->from];
		if (pm->type == PLAN_MOUNT_SSH)
			return plate_err_new(err, ENOTSUP,
					     "--mount=%s: unsupported mount type 'ssh'", pm->spec);
		if (pm->target == NULL && pm->type == PLAN_MOUNT_SECRET)
			continue; /* env= only */
		m->target = eng_path_join(j->cwd, pm->target ? pm->target : "");
		if (m->target == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (strcmp(m->target, "/") == 0)
			return plate_err_new(err, EINVAL, "--mount=%s: invalid mount target '/'",
					     pm->spec);
	}
	return 0;
}

/* The command, its history line and the ARG/ENV environment. */
static int job_command(struct run_job *j, struct plate_error **err)
{
	struct eng_step_ctx *c = j->c;

	if (build_command(c, &j->cmd, err) < 0)
		return -1;
	if ((j->history = run_history(c, &j->cmd.argv)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < c->vars.n; i++) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%s", c->vars.names[i], c->vars.values[i]) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (oci_strings_add(&j->env, kv, err) < 0)
			return -1;
	}
	return 0;
}

static const char *network_name(enum plan_network n)
{
	switch (n) {
	case PLAN_NET_UNSET:
		return NULL;
	case PLAN_NET_DEFAULT:
		return "default";
	case PLAN_NET_NONE:
		return "none";
	case PLAN_NET_HOST:
		return "host";
	default:
		PLATE_BUG("network %d", (int)n);
	}
}

/* A bind's source identity for the key: the stage's key, the image's digest, or the
 * selected context files' content (kept for the bind itself). */
static int bind_key(struct run_job *j, struct run_mount *m, struct digest *d,
		    struct plate_error **err)
{
	struct engine *e = j->c->e;

	if (m->from != NULL && m->from->stage >= 0) {
		eng_hash_field(d, e->stages[m->from->stage].key);
	} else if (m->from != NULL && strcmp(m->from->image, "scratch") != 0) {
		const struct store_image *img;
		if (eng_image_get(e, m->from->image, e->plan->target_platform, &img, err) < 0)
			return -1;
		eng_hash_field(d, img->manifest_desc.digest);
	} else if (m->from == NULL) {
		struct eng_select_opts so = { .ignore = e->ignore, .what = "build context" };
		const char *src = m->pm->source ? m->pm->source : ".";
		if (!m->pm->readonly)
			return plate_err_new(err, ENOTSUP,
					     "read-write bind mounts of the build context "
					     "are not supported");
		if (eng_select(e->context_fd, &src, 1, &so, &m->ctx_sel, err) < 0 ||
		    eng_selection_hash(e, e->context_fd, &m->ctx_sel, err) < 0)
			return -1;
		eng_selection_key(d, &m->ctx_sel, false);
	}
	return 0;
}

/* The key: parent, command, environment, user, directory, mounts, network. */
static int job_key(struct run_job *j, struct plate_error **err)
{
	struct eng_step_ctx *c = j->c;
	const struct plan_step *step = c->step;
	struct digest d = { 0 };
	int r = -1;

	eng_inputs_begin(c);
	eng_inputs_vars(c);
	if (digest_init(&d, err) < 0)
		return -1;
	eng_hash_field(&d, "plate run v2");
	eng_hash_field(&d, c->st->key);
	eng_hash_u64(&d, j->cmd.argv.n);
	for (size_t i = 0; i < j->cmd.argv.n; i++)
		eng_hash_field(&d, j->cmd.argv.v[i]);
	eng_hash_field(&d, j->cmd.script);
	eng_hash_u64(&d, j->env.n);
	for (size_t i = 0; i < j->env.n; i++)
		eng_hash_field(&d, j->env.v[i]);
	eng_hash_field(&d, c->st->config.user);
	eng_hash_field(&d, j->cwd);
	eng_hash_field(&d, network_name(step->run.network));
	/* A RUN without --network or with `default` runs in the build's network: a step run
	 * with --network host must not be reused by a build without it.  Keys of builds on
	 * the default network are those of before. */
	if ((step->run.network == PLAN_NET_UNSET || step->run.network == PLAN_NET_DEFAULT) &&
	    c->e->o.network != ENGINE_NET_DEFAULT)
		eng_hash_field(&d, c->e->o.network == ENGINE_NET_HOST ? "build network host"
								      : "build network none");
	if (step->run.security == PLAN_SECURITY_INSECURE) /* only then: other keys stay */
		eng_hash_field(&d, "security=insecure");
	for (size_t i = 0; i < j->n_mounts; i++)
		eng_hash_field(&d, j->mounts[i].pm->spec);
	for (size_t i = 0; i < j->n_mounts; i++)
		if (j->mounts[i].pm->type == PLAN_MOUNT_BIND &&
		    bind_key(j, &j->mounts[i], &d, err) < 0)
			goto out;
	digest_final(&d, j->key);
	r = 0;
out:
	digest_release(&d);
	return r;
}

/* The overlay (lowers, a fresh upper), the WORKDIR, the user and HOME. */
static int job_root(struct run_job *j, struct plate_error **err)
{
	struct engine *e = j->c->e;
	struct eng_stage *st = j->c->st;
	struct eng_etc etc;
	int r;

	if (eng_scratch(e, "upper", &j->upper, err) < 0 ||
	    eng_scratch(e, "work", &j->work, err) < 0 ||
	    eng_layers_lowers(e, &st->layers, &j->lowers, &j->n_lowers, err) < 0)
		return -1;
	if (j->n_lowers == 0) {
		j->lowers[0] = e->empty_dir;
		j->n_lowers = 1;
	}
	if (!st->workdir_exists) {
		_cleanup_free_ char *mnt = NULL, *vwork = NULL;
		/* Its own workdir: a volatile overlay's cannot be mounted again. */
		struct eng_view v = { .lowers = j->lowers,
				      .n_lowers = j->n_lowers,
				      .upper = j->upper };
		if (eng_scratch(e, "mnt", &mnt, err) < 0 || eng_scratch(e, "work", &vwork, err) < 0)
			return -1;
		v.work = vwork;
		v.mountpoint = mnt;
		if (eng_view_run(e, &v, 1, ensure_cwd, (void *)j->cwd, err) < 0)
			return -1;
		st->workdir_exists = true;
	}
	if (eng_etc_from_layers(&st->layers, &etc, err) < 0)
		return -1;
	r = eng_user_resolve(&etc, st->config.user ? st->config.user : "", true, &j->user, err);
	eng_etc_release(&etc);
	if (r < 0)
		return -1;
	/* docker: HOME from the user's passwd entry, "/" without one, unless set. */
	if (dockerfile_vars_get(&j->c->vars, "HOME", 4) == NULL) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "HOME=%s", j->user.home) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (oci_strings_add(&j->env, kv, err) < 0)
			return -1;
	}
	return 0;
}

/* A bind: a stage's or image's tree through a view (rw: writes land in a throw-away upper
 * directory, as in BuildKit), or the context. */
static int prepare_bind(struct run_job *j, struct run_mount *m, struct plate_error **err)
{
	struct engine *e = j->c->e;
	_cleanup_free_ const char **vl = NULL;
	_cleanup_free_ char *vu = NULL, *vw = NULL;
	_cleanup_close_ int dfd = -1;
	size_t n_vl = 0;

	if (m->from != NULL) {
		if (m->from->stage >= 0) {
			if (eng_layers_copy(&m->layers, &e->stages[m->from->stage].layers, err) < 0)
				return -1;
		} else if (strcmp(m->from->image, "scratch") != 0) {
			const struct store_image *img;
			if (eng_image_get(e, m->from->image, e->plan->target_platform, &img, err) <
				    0 ||
			    eng_image_layers(e, img, &m->layers, err) < 0)
				return -1;
		}
		if (eng_scratch(e, "bind", &m->view_dir, err) < 0 ||
		    eng_layers_lowers(e, &m->layers, &vl, &n_vl, err) < 0)
			return -1;
		if (!m->pm->readonly && (eng_scratch(e, "bind-upper", &vu, err) < 0 ||
					 eng_scratch(e, "bind-work", &vw, err) < 0))
			return -1;
		j->views[j->n_views] = (struct eng_view){ .lowers = steal_pointer(&vl),
							  .n_lowers = n_vl,
							  .upper = steal_pointer(&vu),
							  .work = steal_pointer(&vw),
							  .mountpoint = m->view_dir };
		m->view = (int)j->n_views++;
		return 0;
	}
	/* A directory of the context with a .dockerignore: the sandbox sees a copy of what the
	 * ignore file lets through, as BuildKit only ever has that part. */
	if (!e->has_ignore || m->ctx_sel.n != 1 || !m->ctx_sel.m[0].is_dir)
		return 0;
	if (eng_scratch(e, "bind-context", &m->host, err) < 0)
		return -1;
	dfd = open(m->host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", m->host);
	if (eng_context_tree(e, &m->ctx_sel, dfd, err) < 0)
		return -1;
	m->ctx_copy = true;
	return 0;
}

/* Each mount becomes a sandbox mount (a secret not provided or given as env= only does
 * not); a shebang script is bound where its command line names it. */
static int job_sandbox_mounts(struct run_job *j, struct plate_error **err)
{
	for (size_t i = 0; i < j->n_mounts; i++) {
		struct run_mount *m = &j->mounts[i];
		struct sandbox_mount *sm = &j->smounts[j->n_smounts];
		int pr;
		switch (m->pm->type) {
		case PLAN_MOUNT_BIND:
			if (prepare_bind(j, m, err) < 0)
				return -1;
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND,
						      .source = "/",
						      .target = m->target,
						      .flags = m->pm->readonly
								       ? SANDBOX_MOUNT_READONLY
								       : 0 };
			break;
		case PLAN_MOUNT_CACHE:
			if (prepare_cache(j->c, m, err) < 0)
				return -1;
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND,
						      .source = m->host,
						      .target = m->target,
						      .flags = m->pm->readonly
								       ? SANDBOX_MOUNT_READONLY
								       : 0 };
			break;
		case PLAN_MOUNT_TMPFS:
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_TMPFS,
						      .target = m->target,
						      .tmpfs_size = m->pm->size };
			break;
		case PLAN_MOUNT_SECRET:
			pr = prepare_secret(j->c, m, &j->env, err);
			if (pr < 0)
				return -1;
			if (pr > 0)
				continue; /* not provided, or env= only */
			*sm = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND,
						      .source = m->host,
						      .target = m->target,
						      .flags = SANDBOX_MOUNT_READONLY };
			break;
		case PLAN_MOUNT_SSH:
		default:
			PLATE_BUG("mount type %d", (int)m->pm->type);
		}
		m->slot = (int)j->n_smounts++;
	}
	if (j->cmd.script != NULL) {
		_cleanup_close_ int fd = -1;
		_cleanup_free_ char *path = NULL;
		size_t len = strlen(j->cmd.script);
		if (eng_scratch(j->c->e, "script", &j->script_dir, err) < 0)
			return -1;
		if (asprintf(&path, "%s/script", j->script_dir) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		if (fd < 0 || write_all(fd, j->cmd.script, len) < 0)
			return plate_err_new(err, errno, "cannot write the here-document script");
		free(j->cmd.script);
		j->cmd.script = steal_pointer(&path);
		j->smounts[j->n_smounts++] =
			(struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND,
						.source = j->cmd.script,
						.target = j->cmd.script_name,
						.flags = SANDBOX_MOUNT_READONLY };
	}
	return 0;
}

/* The predefined proxy ARGs given as build-args reach every RUN, declared or not. */
static int job_proxy_env(struct run_job *j, struct plate_error **err)
{
	const struct plan *plan = j->c->e->plan;

	for (size_t i = 0; i < plan->proxy_args.n; i++) {
		_cleanup_free_ char *kv = NULL;
		const char *name = plan->proxy_args.names[i];
		if (dockerfile_vars_get(&j->c->vars, name, strlen(name)) != NULL)
			continue;
		if (asprintf(&kv, "%s=%s", name, plan->proxy_args.values[i]) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (oci_strings_add(&j->env, kv, err) < 0)
			return -1;
	}
	return 0;
}

static enum sandbox_network job_network(const struct run_job *j)
{
	switch (j->c->step->run.network) {
	case PLAN_NET_NONE:
		return SANDBOX_NET_NONE;
	case PLAN_NET_HOST:
		return SANDBOX_NET_HOST;
	case PLAN_NET_DEFAULT: /* BuildKit: `default` is the build's network */
	case PLAN_NET_UNSET:
		return eng_sandbox_network(j->c->e->o.network);
	default:
		PLATE_BUG("network %d", (int)j->c->step->run.network);
	}
}

/* Under chroot isolation the root is a copy of the layers, changes moved to the upper
 * directory afterwards (view_copy.c); what needs a mount or a namespace is refused with
 * the cause, never run differently. */
static int exec_chroot(struct run_job *j, struct plate_error **err)
{
	struct engine *e = j->c->e;
	struct sandbox_spec *sp = &j->spec;
	_cleanup_free_ char *mnt = NULL;
	struct eng_view v = {
		.lowers = j->lowers, .n_lowers = j->n_lowers, .upper = j->upper, .run = true
	};

	if (j->n_smounts > 0)
		return plate_err_new(err, ENOTSUP,
				     "RUN --mount and here-document scripts need a mount "
				     "namespace, "
				     "which chroot isolation has not (namespaces and mounts are "
				     "refused here): run plate where it can make namespaces (root "
				     "on a host, or rootless with user namespaces)");
	if (sp->network == SANDBOX_NET_NONE)
		return plate_err_new(err, ENOTSUP, "%s", ENGINE_CHROOT_NETWORK_NONE);
	if (eng_scratch(e, "root", &mnt, err) < 0)
		return -1;
	v.mountpoint = mnt;
	sp->isolation = SANDBOX_ISOLATION_CHROOT;
	sp->rootfs_mode = SANDBOX_ROOTFS_DIR;
	sp->rootfs = mnt;
	sp->lowerdirs = NULL;
	sp->n_lowerdirs = 0;
	sp->upperdir = sp->workdir = NULL;
	sp->overlay_volatile = false;
	sp->etc_files = 0;
	sp->network = SANDBOX_NET_HOST;
	return eng_view_run(e, &v, 1, run_sandbox, j, err);
}

/* The sandbox spec, then the command (from the view thread when a tree is bound). */
static int job_exec(struct run_job *j, struct plate_error **err)
{
	struct engine *e = j->c->e;
	struct sandbox_spec *sp = &j->spec;

	sandbox_spec_init(sp);
	sp->rootfs_mode = SANDBOX_ROOTFS_OVERLAY;
	sp->lowerdirs = j->lowers;
	sp->n_lowerdirs = j->n_lowers;
	sp->upperdir = j->upper;
	sp->workdir = j->work;
	sp->overlay_volatile = true; /* finish() syncs the store once */
	sp->tmpdir = e->sandbox_tmp;
	sp->seccomp_cache = e->seccomp_cache;
	sp->mounts = j->smounts;
	sp->n_mounts = j->n_smounts;
	sp->argv = (const char *const *)j->cmd.argv.v;
	sp->n_argv = j->cmd.argv.n;
	sp->env = (const char *const *)j->env.v;
	sp->n_env = j->env.n;
	sp->cwd = j->cwd;
	sp->uid = j->user.uid;
	sp->gid = j->user.gid;
	sp->groups = j->user.groups;
	sp->n_groups = j->user.n_groups;
	sp->etc_files = SANDBOX_ETC_RESOLV_CONF | SANDBOX_ETC_HOSTS | SANDBOX_ETC_HOSTNAME;
	sp->resolv_conf = e->o.resolv_conf;
	sp->network = job_network(j);
	sp->insecure = j->c->step->run.security == PLAN_SECURITY_INSECURE;
	sp->output = on_output;
	sp->output_data = &j->out;
	sp->cancel_fd = e->cancel_pipe[0];
	j->out.c = j->c;
	if (e->isolation == SANDBOX_ISOLATION_CHROOT) {
		if (exec_chroot(j, err) < 0)
			return -1;
	} else if ((j->n_views > 0 ? eng_view_run(e, j->views, j->n_views, run_sandbox, j, err)
				   : run_sandbox(j, NULL, err)) < 0) {
		return -1;
	}
	j->c->process_seconds = j->result.seconds;
	/* The command's writes (its layer, its cache mounts) go to disk while the next steps
	 * run, rather than all at the commit's syncfs. */
	pthread_mutex_lock(&e->lock);
	store_txn_writeback(e->txn);
	pthread_mutex_unlock(&e->lock);
	if (j->result.status != 0) {
		_cleanup_free_ char *tail = tail_lines(&j->out);
		_cleanup_free_ char *shown =
			eng_quote_list((const char *const *)j->cmd.argv.v, j->cmd.argv.n);
		return plate_err_new(err, 0,
				     "process %s did not complete successfully: exit code: %d%s",
				     shown ? shown : "?", j->result.status, tail ? tail : "");
	}
	return 0;
}

int eng_step_run(struct eng_step_ctx *c, struct plate_error **err)
{
	struct engine *e = c->e;
	struct eng_stage *st = c->st;
	struct run_job j = { .c = c };
	struct eng_layer layer = { 0 };
	bool hit = false, empty = false;
	int r = -1;

	j.cwd = st->config.working_dir ? st->config.working_dir : "/";
	if (job_mounts(&j, err) < 0 || job_command(&j, err) < 0 || job_key(&j, err) < 0 ||
	    eng_cache_lookup(c, j.key, &hit, &empty, &layer, NULL, err) < 0)
		goto out;
	if (!hit && eng_group_claim(c, j.key, &hit, &empty, &layer, NULL, err) < 0)
		goto out;
	if (!hit) {
		eng_explain_miss(c, j.key);
		if (job_root(&j, err) < 0 || job_sandbox_mounts(&j, err) < 0 ||
		    job_proxy_env(&j, err) < 0 || job_exec(&j, err) < 0 ||
		    eng_harvest(e, st, j.upper, &layer, &empty, err) < 0 ||
		    eng_cache_record(c, j.key, empty ? NULL : &layer, NULL, err) < 0) {
			eng_group_fail(c, j.key);
			goto out;
		}
		if (eng_group_done(c, j.key, empty ? NULL : &layer, NULL, err) < 0)
			goto out;
	}
	c->history = j.history;
	r = eng_stage_apply(c, j.key, empty ? NULL : &layer, empty, hit, err);
out:
	c->history = NULL;
	job_release(&j);
	eng_layer_release(&layer);
	return r;
}
