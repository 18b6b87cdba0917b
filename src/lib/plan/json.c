/*
 * The plan as JSON (docs/plan-json.md), through jansson.  Keys are inserted in the documented
 * order and dumped with JSON_PRESERVE_ORDER, 2-space indentation.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "base/cleanup.h"
#include "plan/plan.h"

static void plan_json_decrefp(json_t **j)
{
	json_decref(*j);
}

#define _cleanup_plan_json_ __attribute__((cleanup(plan_json_decrefp)))

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* A JSON string for s; invalid UTF-8 bytes become U+FFFD so the output is always valid.
 * Validity is checked here once, so jansson's own check is skipped (_nocheck). */
static json_t *string_value(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	_cleanup_buf_ struct buf fixed = BUF_INIT(BUF_UNLIMITED);
	bool valid = true;

	for (size_t i = 0; p[i];) {
		size_t n = utf8_seq(p + i);
		if (n == 0) {
			valid = false;
			break;
		}
		i += n;
	}
	if (valid)
		return json_string_nocheck(s);
	for (size_t i = 0; p[i];) {
		size_t n = utf8_seq(p + i);
		if (n == 0) {
			if (buf_add(&fixed, "\xEF\xBF\xBD", 3) < 0)
				return NULL;
			i++;
			continue;
		}
		if (buf_add(&fixed, p + i, n) < 0)
			return NULL;
		i += n;
	}
	return json_string_nocheck(fixed.data);
}

static int set(json_t *obj, const char *key, json_t *value)
{
	return value == NULL ? -1 : json_object_set_new(obj, key, value);
}

static int push(json_t *arr, json_t *value)
{
	return value == NULL ? -1 : json_array_append_new(arr, value);
}

static json_t *index_array(const size_t *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++)
		if (push(arr, json_integer((json_int_t)v[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static json_t *optional_string(const char *s)
{
	return s ? string_value(s) : json_null();
}

static json_t *mount_json(const struct plan_step *step, const struct plan_mount *m)
{
	static const char *const types[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
	const struct plan_source *src = m->from >= 0 ? &step->sources[m->from] : NULL;
	_cleanup_plan_json_ json_t *obj = json_object();

	if (obj == NULL || set(obj, "type", json_string(types[m->type])) < 0 ||
	    set(obj, "target", optional_string(m->target)) < 0 ||
	    set(obj, "source", optional_string(m->source)) < 0 ||
	    set(obj, "from_stage",
		src && src->stage >= 0 ? json_integer(src->stage) : json_null()) < 0 ||
	    set(obj, "from_image", optional_string(src ? src->image : NULL)) < 0 ||
	    set(obj, "readonly", json_boolean(m->readonly)) < 0 ||
	    set(obj, "id", optional_string(m->id)) < 0)
		return NULL;
	return json_incref(obj);
}

static json_t *step_json(const struct plan_step *step)
{
	_cleanup_plan_json_ json_t *obj = json_object(), *args = json_array(), *mounts = NULL;

	if (obj == NULL || args == NULL)
		return NULL;
	for (size_t i = 0; i < step->n_args; i++)
		if (push(args, string_value(step->args[i])) < 0)
			return NULL;
	if (set(obj, "line", json_integer(step->line)) < 0 ||
	    set(obj, "instruction", string_value(step->instruction)) < 0 ||
	    set(obj, "args", json_incref(args)) < 0)
		return NULL;
	if (step->run.n_mounts == 0)
		return json_incref(obj);
	if ((mounts = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < step->run.n_mounts; i++)
		if (push(mounts, mount_json(step, &step->run.mounts[i])) < 0)
			return NULL;
	if (set(obj, "mounts", json_incref(mounts)) < 0)
		return NULL;
	return json_incref(obj);
}

static json_t *stage_json(const struct plan_stage *st)
{
	_cleanup_plan_json_ json_t *obj = json_object(), *steps = json_array();

	if (obj == NULL || steps == NULL)
		return NULL;
	for (size_t i = 0; i < st->n_steps; i++)
		if (push(steps, step_json(&st->steps[i])) < 0)
			return NULL;
	if (set(obj, "index", json_integer((json_int_t)st->index)) < 0 ||
	    set(obj, "name", st->name ? string_value(st->name) : json_null()) < 0 ||
	    set(obj, "from", st->from ? string_value(st->from) : json_null()) < 0 ||
	    set(obj, "from_stage",
		st->from_stage >= 0 ? json_integer(st->from_stage) : json_null()) < 0 ||
	    set(obj, "needed", json_boolean(st->needed)) < 0 ||
	    set(obj, "depends_on", index_array(st->depends_on, st->n_depends_on)) < 0 ||
	    set(obj, "steps", json_incref(steps)) < 0)
		return NULL;
	return json_incref(obj);
}

static int dump_to_buf(const char *data, size_t size, void *out)
{
	return buf_add(out, data, size);
}

int plan_to_json(const struct plan *plan, struct buf *out, struct plate_error **err)
{
	_cleanup_plan_json_ json_t *root = json_object(), *stages = json_array();
	size_t start = out->len;

	if (root == NULL || stages == NULL)
		return plate_err_new(err, ENOMEM, "cannot render plan");
	for (size_t i = 0; i < plan->n_stages; i++)
		if (push(stages, stage_json(&plan->stages[i])) < 0)
			return plate_err_new(err, ENOMEM, "cannot render plan");
	if (set(root, "target", json_integer((json_int_t)plan->target)) < 0 ||
	    set(root, "order", index_array(plan->order, plan->n_order)) < 0 ||
	    set(root, "stages", json_incref(stages)) < 0)
		return plate_err_new(err, ENOMEM, "cannot render plan");
	errno = 0;
	if (json_dump_callback(root, dump_to_buf, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
		int e = errno ? errno : ENOMEM;
		buf_truncate(out, start);
		return plate_err_new(err, e, "cannot render plan");
	}
	return 0;
}
