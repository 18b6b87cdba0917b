/*
 * Instructions that only change the image config, and the history line each leaves, as
 * BuildKit's dockerfile2llb writes them (Go's %v and %q renderings included: "EXPOSE
 * map[80/tcp:{}]", "CMD [\"/app\"]", "SHELL [/bin/bash -c]").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "engine/engine_internal.h"

static int set_sorted(struct oci_strings *set, const char *v, struct plate_error **err)
{
	size_t at = 0;
	char *copy, **grown;

	while (at < set->n && strcmp(set->v[at], v) < 0)
		at++;
	if (at < set->n && strcmp(set->v[at], v) == 0)
		return 0;
	if ((copy = strdup(v)) == NULL ||
	    (grown = realloc(set->v, (set->n + 1) * sizeof(*grown))) == NULL) {
		free(copy);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	memmove(grown + at + 1, grown + at, (set->n - at) * sizeof(*grown));
	grown[at] = copy;
	set->v = grown;
	set->n++;
	return 0;
}

static int replace(char **field, const char *v, struct plate_error **err)
{
	char *copy = strdup(v);

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* The command of CMD, ENTRYPOINT (and HEALTHCHECK CMD): exec form as given, shell form
 * through the stage's SHELL. */
static int command(const struct eng_stage *st, const char *const *args, size_t n, bool json,
		   struct oci_strings *out, struct plate_error **err)
{
	struct oci_strings v = { 0 };

	if (json) {
		for (size_t i = 0; i < n; i++)
			if (oci_strings_add(&v, args[i], err) < 0)
				goto fail;
	} else if (n > 0) {
		if (st->config.shell.n > 0) {
			if (oci_strings_copy(&v, &st->config.shell, err) < 0)
				goto fail;
		} else if (oci_strings_add(&v, "/bin/sh", err) < 0 ||
			   oci_strings_add(&v, "-c", err) < 0) {
			goto fail;
		}
		if (oci_strings_add(&v, args[0], err) < 0)
			goto fail;
	}
	oci_strings_release(out);
	*out = v;
	return 0;
fail:
	oci_strings_release(&v);
	return -1;
}

/* Go's time.ParseDuration for what HEALTHCHECK takes: "30s", "1m30s", "1.5h", "500ms". */
int eng_parse_duration(const char *s, int64_t *ns, struct plate_error **err)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ns", 1 },  { "us", 1e3 }, { "µs", 1e3 },  { "ms", 1e6 },
		      { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
	const char *p = s;
	double total = 0;

	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*p == '\0')
		goto bad;
	while (*p != '\0') {
		char *end;
		double v = strtod(p, &end);
		size_t best = 0;
		int found = -1;
		if (end == p || v < 0)
			goto bad;
		p = end;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, l) == 0 && l > best) {
				best = l;
				found = (int)i;
			}
		}
		if (found < 0)
			goto bad;
		total += v * units[found].ns;
		p += best;
	}
	if (total > 9.2e18)
		goto bad;
	*ns = (int64_t)total;
	return 0;
bad:
	return plate_err_new(err, EINVAL, "invalid duration '%s'", s);
}

static int healthcheck(struct eng_step_ctx *c, struct plate_error **err)
{
	const struct plan_step *step = c->step;
	struct oci_healthcheck *h;
	const char *type = step->n_args > 0 ? step->args[0] : "";

	if (c->st->config.healthcheck == NULL &&
	    (c->st->config.healthcheck = calloc(1, sizeof(*h))) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	h = c->st->config.healthcheck;
	oci_strings_release(&h->test);
	*h = (struct oci_healthcheck){ 0 };
	if (strcasecmp(type, "NONE") == 0) {
		if (step->n_args > 1)
			return plate_err_new(err, EINVAL, "HEALTHCHECK NONE takes no arguments");
		return oci_strings_add(&h->test, "NONE", err);
	}
	if (strcasecmp(type, "CMD") != 0)
		return plate_err_new(err, EINVAL, "unknown type '%s' in HEALTHCHECK (try CMD)",
				     type);
	if (step->n_args < 2)
		return plate_err_new(err, EINVAL, "missing command after HEALTHCHECK CMD");
	if (step->json_form) {
		if (oci_strings_add(&h->test, "CMD", err) < 0)
			return -1;
		for (size_t i = 1; i < step->n_args; i++)
			if (oci_strings_add(&h->test, step->args[i], err) < 0)
				return -1;
	} else if (oci_strings_add(&h->test, "CMD-SHELL", err) < 0 ||
		   oci_strings_add(&h->test, step->args[1], err) < 0) {
		return -1;
	}
	for (size_t i = 0; i < step->n_flags; i++) {
		const char *f = step->flags[i], *eq = strchr(f, '=');
		const char *v = eq ? eq + 1 : "";
		int64_t *slot = NULL;
		if (strncmp(f, "--interval=", 11) == 0)
			slot = &h->interval;
		else if (strncmp(f, "--timeout=", 10) == 0)
			slot = &h->timeout;
		else if (strncmp(f, "--start-period=", 15) == 0)
			slot = &h->start_period;
		else if (strncmp(f, "--start-interval=", 17) == 0)
			slot = &h->start_interval;
		if (slot != NULL) {
			if (eng_parse_duration(v, slot, err) < 0)
				return plate_err_wrap(err, "HEALTHCHECK %.*s", (int)(eq - f), f);
		} else if (strncmp(f, "--retries=", 10) == 0) {
			char *end;
			long long r = strtoll(v, &end, 10);
			if (*v == '\0' || *end != '\0' || r < 0)
				return plate_err_new(err, EINVAL,
						     "invalid HEALTHCHECK --retries '%s'", v);
			h->retries = r;
		}
	}
	return 0;
}

static int expose(struct eng_step_ctx *c, struct buf *hist, struct plate_error **err)
{
	struct oci_strings ports = { 0 };
	int r = -1;

	for (size_t i = 0; i < c->step->n_args; i++) {
		_cleanup_free_ char *spec = strdup(c->step->args[i]);
		char *proto, *dash, *end;
		long lo, hi;

		if (spec == NULL)
			goto nomem;
		proto = strchr(spec, '/');
		if (proto != NULL)
			*proto++ = '\0';
		for (char *p = proto; p && *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		if (proto == NULL || *proto == '\0')
			proto = (char *)"tcp";
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
		    strcmp(proto, "sctp") != 0) {
			plate_err_new(err, EINVAL, "invalid proto '%s' in EXPOSE", proto);
			goto out;
		}
		dash = strchr(spec, '-');
		if (dash != NULL)
			*dash++ = '\0';
		lo = strtol(spec, &end, 10);
		if (*spec == '\0' || *end != '\0' || lo < 0 || lo > 65535)
			goto badport;
		hi = lo;
		if (dash != NULL) {
			hi = strtol(dash, &end, 10);
			if (*dash == '\0' || *end != '\0' || hi < lo || hi > 65535)
				goto badport;
		}
		for (long p = lo; p <= hi; p++) {
			char port[32];
			snprintf(port, sizeof(port), "%ld/%s", p, proto);
			if (set_sorted(&c->st->config.exposed_ports, port, err) < 0 ||
			    set_sorted(&ports, port, err) < 0)
				goto out;
		}
		continue;
badport:
		plate_err_new(err, EINVAL, "invalid port '%s' in EXPOSE", c->step->args[i]);
		goto out;
	}
	if (buf_addstr(hist, "EXPOSE map[") < 0)
		goto nomem;
	for (size_t i = 0; i < ports.n; i++)
		if (buf_addf(hist, "%s%s:{}", i ? " " : "", ports.v[i]) < 0)
			goto nomem;
	if (buf_addch(hist, ']') < 0)
		goto nomem;
	r = 0;
	goto out;
nomem:
	plate_err_new(err, ENOMEM, "out of memory");
out:
	oci_strings_release(&ports);
	return r;
}

/* "[a b]": Go's %v of a string slice. */
static int add_v_list(struct buf *b, const char *const *v, size_t n)
{
	if (buf_addch(b, '[') < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf_addf(b, "%s%s", i ? " " : "", v[i]) < 0)
			return -1;
	return buf_addch(b, ']');
}

static int add_arg_name(struct eng_stage *st, const char *arg, struct plate_error **err)
{
	const char *eq = strchr(arg, '=');
	_cleanup_free_ char *name = eq ? strndup(arg, (size_t)(eq - arg)) : strdup(arg);

	if (name == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < st->arg_names.n; i++)
		if (strcmp(st->arg_names.v[i], name) == 0)
			return 0;
	if (strv_push(&st->arg_names, steal_pointer(&name)) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

int eng_step_config(struct eng_step_ctx *c, struct plate_error **err)
{
	const struct plan_step *step = c->step;
	struct eng_stage *st = c->st;
	struct oci_config *cfg = &st->config;
	const char *in = step->instruction;
	const char *const *args = (const char *const *)step->args;
	_cleanup_buf_ struct buf hist = BUF_INIT(BUF_UNLIMITED);
	int r = 0;

	if (strcmp(in, "ENV") == 0 || strcmp(in, "LABEL") == 0) {
		r = buf_addstr(&hist, in);
		for (size_t i = 0; r == 0 && i < step->n_args; i++) {
			if (strcmp(in, "ENV") == 0) {
				if (eng_env_set(&cfg->env, args[i], err) < 0)
					return -1;
			} else {
				const char *eq = strchr(args[i], '=');
				_cleanup_free_ char *k =
					strndup(args[i],
						eq ? (size_t)(eq - args[i]) : strlen(args[i]));
				if (k == NULL ||
				    oci_map_set(&cfg->labels, k, eq ? eq + 1 : "", err) < 0)
					return k == NULL
						       ? plate_err_new(err, ENOMEM, "out of memory")
						       : -1;
			}
			r = buf_addf(&hist, " %s", args[i]);
		}
	} else if (strcmp(in, "ARG") == 0) {
		r = buf_addstr(&hist, "ARG");
		for (size_t i = 0; r == 0 && i < step->n_args; i++) {
			if (add_arg_name(st, args[i], err) < 0)
				return -1;
			r = buf_addf(&hist, " %s", args[i]);
		}
	} else if (strcmp(in, "EXPOSE") == 0) {
		if (expose(c, &hist, err) < 0)
			return -1;
	} else if (strcmp(in, "VOLUME") == 0) {
		for (size_t i = 0; i < step->n_args; i++) {
			if (*args[i] == '\0')
				return plate_err_new(err, EINVAL,
						     "VOLUME specified can not be an empty string");
			if (set_sorted(&cfg->volumes, args[i], err) < 0)
				return -1;
		}
		r = buf_addstr(&hist, "VOLUME ") < 0 ? -1 : add_v_list(&hist, args, step->n_args);
	} else if (strcmp(in, "USER") == 0 || strcmp(in, "STOPSIGNAL") == 0 ||
		   strcmp(in, "MAINTAINER") == 0) {
		char **field = strcmp(in, "USER") == 0	       ? &cfg->user
			       : strcmp(in, "STOPSIGNAL") == 0 ? &cfg->stop_signal
							       : &cfg->author;
		if (step->n_args < 1)
			return plate_err_new(err, EINVAL, "%s needs an argument", in);
		if (replace(field, args[0], err) < 0)
			return -1;
		r = buf_addf(&hist, "%s %s", in, args[0]);
	} else if (strcmp(in, "SHELL") == 0) {
		struct oci_strings v = { 0 };
		if (!step->json_form || step->n_args == 0)
			return plate_err_new(err, EINVAL,
					     "SHELL requires the arguments to be in JSON form");
		for (size_t i = 0; i < step->n_args; i++)
			if (oci_strings_add(&v, args[i], err) < 0) {
				oci_strings_release(&v);
				return -1;
			}
		oci_strings_release(&cfg->shell);
		cfg->shell = v;
		r = buf_addstr(&hist, "SHELL ") < 0 ? -1 : add_v_list(&hist, args, step->n_args);
	} else if (strcmp(in, "CMD") == 0 || strcmp(in, "ENTRYPOINT") == 0) {
		bool is_cmd = strcmp(in, "CMD") == 0;
		struct oci_strings *target = is_cmd ? &cfg->cmd : &cfg->entrypoint;
		_cleanup_free_ char *q = NULL;
		if (command(st, args, step->n_args, step->json_form, target, err) < 0)
			return -1;
		if (is_cmd)
			st->cmd_set = true;
		else if (!st->cmd_set)
			oci_strings_release(
				&cfg->cmd); /* docker: ENTRYPOINT resets an inherited CMD */
		q = eng_quote_list((const char *const *)target->v, target->n);
		r = q == NULL ? -1 : buf_addf(&hist, "%s %s", in, q);
	} else if (strcmp(in, "HEALTHCHECK") == 0) {
		_cleanup_free_ char *q = NULL;
		if (healthcheck(c, err) < 0)
			return -1;
		q = eng_quote_list((const char *const *)cfg->healthcheck->test.v,
				   cfg->healthcheck->test.n);
		r = q == NULL ? -1 : buf_addf(&hist, "HEALTHCHECK %s", q);
	} else if (strcmp(in, "ONBUILD") == 0) {
		const struct dockerfile_instruction *sub = step->instr ? step->instr->sub : NULL;
		if (sub == NULL)
			return plate_err_new(err, EINVAL, "ONBUILD needs an instruction");
		if (oci_strings_add(&cfg->on_build, sub->original, err) < 0)
			return -1;
		r = buf_addf(&hist, "ONBUILD %s", sub->original);
	} else {
		return plate_err_new(err, ENOTSUP, "instruction '%s' is not supported", in);
	}
	if (r < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	c->history = hist.data;
	r = eng_stage_apply(c, c->st->key, NULL, true, false, err);
	c->history = NULL;
	return r;
}
