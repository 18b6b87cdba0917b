/*
 * Flags: the values of RUN --mount/--network/--security and of COPY/ADD flags, parsed once
 * into the typed fields of a step (plan.h), with the grammar of BuildKit's Dockerfile
 * frontend (frontend/dockerfile/instructions: parse.go, commands_runmount.go,
 * commands_runnetwork.go, commands_runsecurity.go).  check_flags() in steps.c has already
 * refused unknown, repeated and value-less flags; what is left is each value's own syntax.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "digest/digest.h"
#include "plan/plan_internal.h"

/* One CSV record, Go encoding/csv rules (no lazy quotes): fields may be double-quoted, ""
 * is a quote inside quotes, a quote anywhere else is an error. */
static int csv_fields(const char *value, struct strv *fields, struct plate_error **err)
{
	const char *p = value;

	if (*p == '\0')
		return plate_err_new(err, 0, "failed to parse csv mounts: EOF");
	for (;;) {
		_cleanup_buf_ struct buf field = BUF_INIT(strlen(value));

		if (*p == '"') {
			for (p++;; p++) {
				if (*p == '\0')
					return plate_err_new(err, 0,
							     "failed to parse csv mounts: "
							     "unterminated quote");
				if (*p == '"' && p[1] == '"')
					p++;
				else if (*p == '"')
					break;
				if (buf_addch(&field, *p) < 0)
					return plate_err_new(err, errno, "cannot parse mount");
			}
			p++;
			if (*p != ',' && *p != '\0')
				return plate_err_new(err, 0,
						     "failed to parse csv mounts: extraneous '\"' "
						     "in field");
		} else {
			for (; *p != ',' && *p != '\0'; p++) {
				if (*p == '"')
					return plate_err_new(err, 0,
							     "failed to parse csv mounts: bare "
							     "'\"' in non-quoted field");
				if (buf_addch(&field, *p) < 0)
					return plate_err_new(err, errno, "cannot parse mount");
			}
		}
		if (strv_push(fields, buf_detach(&field, NULL)) < 0)
			return plate_err_new(err, ENOMEM, "cannot parse mount");
		if (*p == '\0')
			return 0;
		p++;
	}
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

/* Go's strconv.ParseUint(v, base, 32). */
static int parse_u32(const char *v, int base, long *out)
{
	unsigned long long n = 0;

	if (*v == '\0')
		return -1;
	for (; *v; v++) {
		int d = *v - '0';
		if (*v < '0' || d >= base)
			return -1;
		n = n * (unsigned)base + (unsigned)d;
		if (n > 0xffffffffULL)
			return -1;
	}
	*out = (long)n;
	return 0;
}

/* docker/go-units RAMInBytes: a decimal number (one fraction), an optional space, an
 * optional binary unit k m g t p (any case), then an optional "i" and an optional "b". */
static int parse_ram(const char *v, unsigned long long *out)
{
	static const char units[] = "kmgtp";
	unsigned long long whole = 0, mult = 1;
	double frac = 0, scale = 0.1;
	const char *p = v, *u;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (1ULL << 50))
			return -1;
		whole = whole * 10 + (unsigned)(*p - '0');
	}
	if (*p == '.' && p[1] >= '0' && p[1] <= '9')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	if (*p == ' ')
		p++;
	if (*p != '\0' && (u = strchr(units, *p | 0x20)) != NULL) {
		mult <<= 10 * (u - units + 1);
		p++;
	}
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0' || whole > ~0ULL / mult)
		return -1;
	*out = whole * mult + (unsigned long long)(frac * (double)mult);
	return 0;
}

static const char *const mount_types[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
static const char *const sharing_modes[] = { "shared", "private", "locked" };

static int lookup(const char *const *names, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], v) == 0)
			return (int)i;
	return -1;
}

struct mount_parse {
	struct plan_mount *m;
	char *from;   /* from= value, NULL when absent */
	bool ro_auto; /* neither ro nor rw given: the type's default */
	bool sharing_given, mode_given;
};

static int set_str(char **slot, const char *v, struct plate_error **err)
{
	free(*slot);
	if ((*slot = strdup(v)) == NULL)
		return plate_err_new(err, ENOMEM, "cannot parse mount");
	return 0;
}

/* A field without '=': only the boolean keys may stand alone. */
static int mount_bare_key(struct mount_parse *mp, const char *key, const char *field,
			  struct plate_error **err)
{
	struct plan_mount *m = mp->m;

	if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
		m->readonly = true;
	} else if (strcmp(key, "readwrite") == 0 || strcmp(key, "rw") == 0) {
		m->readonly = false;
	} else if (strcmp(key, "required") == 0) {
		if (m->type != PLAN_MOUNT_SECRET && m->type != PLAN_MOUNT_SSH)
			return plate_err_new(err, 0, "unexpected key '%s' for mount type '%s'", key,
					     mount_types[m->type]);
		m->required = true;
		return 0;
	} else {
		return plate_err_new(err, 0, "invalid field '%s' must be a key=value pair", field);
	}
	mp->ro_auto = false;
	return 0;
}

static int mount_bool(const char *key, const char *v, bool *out, struct plate_error **err)
{
	if (parse_bool(v, out) < 0)
		return plate_err_new(err, 0, "invalid value for %s: %s", key, v);
	return 0;
}

static int mount_field(struct mount_parse *mp, const char *key, const char *v, const char *field,
		       struct plate_error **err)
{
	struct plan_mount *m = mp->m;
	const char *type = mount_types[m->type];
	bool b;
	int i;

	if (strcmp(key, "type") == 0) {
		if ((i = lookup(mount_types, 5, v)) < 0)
			return plate_err_new(err, 0, "unsupported mount type '%s'", v);
		m->type = (enum plan_mount_type)i;
	} else if (strcmp(key, "from") == 0) {
		/* BuildKit: a '$' followed by anything is refused, not expanded. */
		const char *dollar = strchr(v, '$');
		if (dollar != NULL && dollar[1] != '\0')
			return plate_err_new(err, 0,
					     "'from' doesn't support variable expansion, "
					     "define alias stage instead");
		return set_str(&mp->from, v, err);
	} else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
		return set_str(&m->source, v, err);
	} else if (strcmp(key, "target") == 0 || strcmp(key, "dst") == 0 ||
		   strcmp(key, "destination") == 0) {
		return set_str(&m->target, v, err);
	} else if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
		if (mount_bool(key, v, &m->readonly, err) < 0)
			return -1;
		mp->ro_auto = false;
	} else if (strcmp(key, "readwrite") == 0 || strcmp(key, "rw") == 0) {
		if (mount_bool(key, v, &b, err) < 0)
			return -1;
		m->readonly = !b;
		mp->ro_auto = false;
	} else if (strcmp(key, "required") == 0) {
		if (m->type != PLAN_MOUNT_SECRET && m->type != PLAN_MOUNT_SSH)
			return plate_err_new(err, 0, "unexpected key '%s' for mount type '%s'", key,
					     type);
		return mount_bool(key, v, &m->required, err);
	} else if (strcmp(key, "size") == 0) {
		if (m->type != PLAN_MOUNT_TMPFS)
			return plate_err_new(err, 0, "unexpected key '%s' for mount type '%s'", key,
					     type);
		if (parse_ram(v, &m->size) < 0)
			return plate_err_new(err, 0, "invalid value for %s: %s", key, v);
	} else if (strcmp(key, "id") == 0) {
		return set_str(&m->id, v, err);
	} else if (strcmp(key, "env") == 0) {
		/* plate's (and newer BuildKit's) secret as an environment variable. */
		if (m->type != PLAN_MOUNT_SECRET)
			return plate_err_new(err, 0, "unexpected key '%s' for mount type '%s'", key,
					     type);
		return set_str(&m->env, v, err);
	} else if (strcmp(key, "sharing") == 0) {
		/* plate's message since before BuildKit's was adopted: tests and users grep it. */
		if ((i = lookup(sharing_modes, 3, v)) < 0)
			return plate_err_new(err, 0, "invalid cache mount sharing '%s'", v);
		m->sharing = (enum plan_mount_sharing)i;
		mp->sharing_given = true;
	} else if (strcmp(key, "mode") == 0) {
		if (parse_u32(v, 8, &m->mode) < 0)
			return plate_err_new(err, 0, "invalid value %s for mode", v);
		mp->mode_given = true;
	} else if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
		if (parse_u32(v, 10, key[0] == 'u' ? &m->uid : &m->gid) < 0)
			return plate_err_new(err, 0, "invalid value %s for %s", v, key);
		mp->mode_given = true;
	} else {
		return plate_err_new(err, 0, "unexpected key '%s' in '%s'", key, field);
	}
	return 0;
}

/* BuildKit's validateMount, then plate's defaults for ids and targets. */
static int mount_finish(struct mount_parse *mp, struct plate_error **err)
{
	struct plan_mount *m = mp->m;
	const char *type = mount_types[m->type];

	if (mp->mode_given && m->type != PLAN_MOUNT_SECRET && m->type != PLAN_MOUNT_SSH &&
	    m->type != PLAN_MOUNT_CACHE)
		return plate_err_new(err, 0, "mode, uid and gid not allowed for '%s' type mounts",
				     type);
	if (mp->ro_auto)
		m->readonly = m->type != PLAN_MOUNT_CACHE && m->type != PLAN_MOUNT_TMPFS;
	if (mp->sharing_given && m->type != PLAN_MOUNT_CACHE)
		return plate_err_new(err, 0, "invalid cache sharing set for %s mount", type);
	if (m->type == PLAN_MOUNT_SECRET) {
		const char *base;
		if (mp->from != NULL)
			return plate_err_new(err, 0, "secret mount should not have a from");
		if (m->source != NULL && m->id != NULL)
			return plate_err_new(err, 0, "both source and id can't be set");
		if (m->id == NULL && m->source != NULL)
			m->id = steal_pointer(&m->source);
		if (m->id == NULL && m->target != NULL) {
			base = strrchr(m->target, '/');
			if (set_str(&m->id, base ? base + 1 : m->target, err) < 0)
				return -1;
		}
		if (m->id == NULL || m->id[0] == '\0')
			return plate_err_new(err, 0,
					     "invalid secret mount: one of id, source or "
					     "target is required");
		if (m->target == NULL && m->env == NULL &&
		    asprintf(&m->target, "/run/secrets/%s", m->id) < 0) {
			m->target = NULL;
			return plate_err_new(err, ENOMEM, "cannot parse mount");
		}
		return 0;
	}
	/* A missing or relative target is resolved against the WORKDIR when the step runs. */
	if (m->type == PLAN_MOUNT_CACHE && m->id == NULL)
		return set_str(&m->id, m->target ? m->target : "", err);
	return 0;
}

int plan_mount_parse(const char *spec, struct plan_mount *m, char **from, struct plate_error **err)
{
	struct mount_parse mp = { .m = m, .ro_auto = true };
	_cleanup_strv_ struct strv fields = STRV_INIT;
	int rc = -1;

	*m = (struct plan_mount){
		.type = PLAN_MOUNT_BIND, .from = -1, .mode = -1, .uid = -1, .gid = -1
	};
	if ((m->spec = strdup(spec)) == NULL) {
		plate_err_new(err, ENOMEM, "cannot parse mount");
		goto out;
	}
	if (csv_fields(spec, &fields, err) < 0)
		goto out;
	for (size_t i = 0; i < fields.n; i++) {
		char *eq = strchr(fields.v[i], '=');
		_cleanup_free_ char *key =
			eq ? strndup(fields.v[i], (size_t)(eq - fields.v[i])) : strdup(fields.v[i]);
		if (key == NULL) {
			plate_err_new(err, ENOMEM, "cannot parse mount");
			goto out;
		}
		for (char *k = key; *k; k++)
			if (*k >= 'A' && *k <= 'Z')
				*k = (char)(*k - 'A' + 'a');
		if ((eq ? mount_field(&mp, key, eq + 1, fields.v[i], err)
			: mount_bare_key(&mp, key, fields.v[i], err)) < 0)
			goto out;
	}
	if (mount_finish(&mp, err) < 0)
		goto out;
	*from = steal_pointer(&mp.from);
	rc = 0;
out:
	free(mp.from);
	if (rc < 0)
		plan_mount_release(m);
	return rc;
}

void plan_mount_release(struct plan_mount *m)
{
	free(m->spec);
	free(m->target);
	free(m->source);
	free(m->id);
	free(m->env);
	memset(m, 0, sizeof(*m));
}

static int run_mount(struct plan_ctx *ctx, struct plan_step *step, const char *spec,
		     struct plate_error **err)
{
	struct plan_run_flags *f = &step->run;
	struct plan_mount *grown = realloc(f->mounts, (f->n_mounts + 1) * sizeof(*grown));
	_cleanup_free_ char *from = NULL;
	struct plan_mount *m;

	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "cannot record mount");
	f->mounts = grown;
	m = &grown[f->n_mounts];
	if (plan_mount_parse(spec, m, &from, err) < 0)
		return plate_err_wrap(err, "--mount=%s", spec);
	f->n_mounts++;
	/* An empty from= is the build context, as no from= at all. */
	if (from != NULL && from[0] != '\0') {
		m->from = (int)step->n_sources;
		if (plan_add_named_source(ctx, step, from, err) < 0)
			return -1;
	}
	return 0;
}

int plan_run_flags_parse(struct plan_ctx *ctx, struct plan_step *step,
			 const struct dockerfile_instruction *in, struct plate_error **err)
{
	struct plan_run_flags *f = &step->run;

	for (size_t i = 0; i < in->n_flags; i++) {
		const char *fl = in->flags[i];
		if (strncmp(fl, "--mount=", 8) == 0) {
			if (run_mount(ctx, step, fl + 8, err) < 0)
				return plan_locate(err, step->line, step->column);
		} else if (strncmp(fl, "--network=", 10) == 0) {
			const char *v = fl + 10;
			if (strcmp(v, "default") == 0)
				f->network = PLAN_NET_DEFAULT;
			else if (strcmp(v, "none") == 0)
				f->network = PLAN_NET_NONE;
			else if (strcmp(v, "host") == 0)
				f->network = PLAN_NET_HOST;
			else
				return plate_err_at(err, step->line, step->column,
						    "unsupported network mode '%s' (RUN --network "
						    "takes "
						    "default, none or host)",
						    v);
		} else if (strncmp(fl, "--security=", 11) == 0) {
			const char *v = fl + 11;
			if (strcmp(v, "sandbox") == 0)
				f->security = PLAN_SECURITY_SANDBOX;
			else if (strcmp(v, "insecure") == 0)
				f->security = PLAN_SECURITY_INSECURE;
			else
				return plate_err_at(err, step->line, step->column,
						    "unsupported security mode '%s' (RUN "
						    "--security "
						    "takes sandbox or insecure)",
						    v);
		} else {
			/* Triggers of base images reach here unchecked. */
			return plate_err_at(err, step->line, step->column,
					    "unknown flag '%s' for RUN", fl);
		}
	}
	return 0;
}

void plan_run_flags_release(struct plan_run_flags *f)
{
	for (size_t i = 0; i < f->n_mounts; i++)
		plan_mount_release(&f->mounts[i]);
	free(f->mounts);
	memset(f, 0, sizeof(*f));
}

/* "--name" or "--name=true|false" (any case, as check_flags() accepted). */
static bool flag_bool_value(const char *rest)
{
	return rest[0] == '\0' || strcasecmp(rest + 1, "false") != 0;
}

static int copy_flag(struct plan_step *step, const char *fl, struct strv *exclude,
		     struct plate_error **err)
{
	struct plan_copy_flags *f = &step->copy;
	const char *eq = strchr(fl, '='), *v = eq ? eq + 1 : "";
	size_t len = eq ? (size_t)(eq - fl) : strlen(fl);
	char *end;

#define IS(name) (len == sizeof(name) - 1 && strncmp(fl, name, len) == 0)
	if (IS("--from")) {
		return 0; /* a source, recorded with the step */
	} else if (IS("--chown")) {
		free(f->chown);
		f->chown = NULL;
		if (*v != '\0' && (f->chown = strdup(v)) == NULL)
			return plate_err_new(err, ENOMEM, "cannot record flags");
	} else if (IS("--chmod")) {
		long m;
		if (*v == '\0') {
			f->chmod = -1;
			return 0;
		}
		errno = 0;
		m = strtol(v, &end, 8);
		if (errno != 0 || *end != '\0' || m < 0 || m > 07777 || *v == '-' || *v == '+')
			return plate_err_new(err, 0,
					     "invalid --chmod '%s': an octal mode is expected", v);
		f->chmod = (int)m;
	} else if (IS("--link")) {
		f->link = flag_bool_value(fl + len);
	} else if (IS("--parents")) {
		f->parents = flag_bool_value(fl + len);
	} else if (IS("--keep-git-dir")) {
		f->keep_git_dir = flag_bool_value(fl + len);
	} else if (IS("--unpack")) {
		f->unpack = flag_bool_value(fl + len);
	} else if (IS("--exclude")) {
		if (strv_add(exclude, v) < 0)
			return plate_err_new(err, ENOMEM, "cannot record flags");
	} else if (IS("--checksum")) {
		if (!digest_is_valid(v))
			return plate_err_new(err, 0,
					     "ADD --checksum=%s: a sha256:<hex> digest is expected",
					     v);
		free(f->checksum);
		if ((f->checksum = strdup(v)) == NULL)
			return plate_err_new(err, ENOMEM, "cannot record flags");
	} else {
		/* Triggers of base images reach here unchecked. */
		return plate_err_new(err, 0, "unknown flag '%.*s' for %s", (int)len, fl,
				     step->instruction);
	}
#undef IS
	return 0;
}

int plan_copy_flags_parse(struct plan_step *step, struct plate_error **err)
{
	_cleanup_strv_ struct strv exclude = STRV_INIT;

	for (size_t i = 0; i < step->n_flags; i++)
		if (copy_flag(step, step->flags[i], &exclude, err) < 0)
			return -1;
	strv_free(step->copy.exclude, step->copy.n_exclude);
	step->copy.exclude = strv_detach(&exclude, &step->copy.n_exclude);
	return 0;
}

void plan_copy_flags_release(struct plan_copy_flags *f)
{
	free(f->chown);
	free(f->checksum);
	strv_free(f->exclude, f->n_exclude);
	memset(f, 0, sizeof(*f));
}
