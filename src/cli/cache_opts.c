/* --cache-from and --cache-to of build (docs/internals/cache.md): "type=registry,ref=REF",
 * "type=local,src=DIR" / "type=local,dest=DIR" (",tag=T"), "type=inline", ",mode=min|max"
 * on a --cache-to; a bare REF is an image with an inline cache (--cache-from) or a registry
 * cache (--cache-to), as docker's CI pattern writes them. */
#include <string.h>

#include "build/build.h"
#include "cli.h"

static int set_type(struct cli_ctx *ctx, const char *v, struct build_cache_spec *out,
		    struct plate_error **err)
{
	if (strcmp(v, "registry") == 0)
		out->type = BUILD_CACHE_REGISTRY;
	else if (strcmp(v, "local") == 0)
		out->type = BUILD_CACHE_LOCAL;
	else if (strcmp(v, "inline") == 0)
		out->type = BUILD_CACHE_INLINE;
	else
		return cli_usage_error(ctx, err, "cache type '%s': registry, local or inline", v);
	return 0;
}

/* One KEY=VALUE of a spec. */
static int set_key(struct cli_ctx *ctx, const char *opt, char *kv, struct build_cache_spec *out,
		   enum engine_cache_export *mode, struct plate_error **err)
{
	bool to = strcmp(opt, "--cache-to") == 0;
	char *v = strchr(kv, '=');

	if (v == NULL)
		return cli_usage_error(ctx, err, "%s: '%s' is not KEY=VALUE", opt, kv);
	*v++ = '\0';
	if (strcmp(kv, "type") == 0)
		return set_type(ctx, v, out, err);
	if (strcmp(kv, "ref") == 0)
		out->ref = v;
	else if (strcmp(kv, to ? "dest" : "src") == 0)
		out->dir = v;
	else if (strcmp(kv, "tag") == 0)
		out->tag = v;
	else if (to && strcmp(kv, "mode") == 0 && strcmp(v, "max") == 0)
		*mode = ENGINE_CACHE_EXPORT_MAX;
	else if (!to || strcmp(kv, "mode") != 0 || strcmp(v, "min") != 0)
		return cli_usage_error(ctx, err, "%s: unknown key or value '%s=%s'", opt, kv, v);
	return 0;
}

int cli_cache_spec(struct cli_ctx *ctx, const char *opt, char *text, struct build_cache_spec *out,
		   enum engine_cache_export *mode, struct plate_error **err)
{
	bool to = strcmp(opt, "--cache-to") == 0;
	char *save = NULL;

	*out = (struct build_cache_spec){ .type = to ? BUILD_CACHE_REGISTRY : BUILD_CACHE_INLINE };
	if (strchr(text, '=') == NULL) {
		out->ref = text;
		return 0;
	}
	out->type = BUILD_CACHE_REGISTRY;
	for (char *kv = strtok_r(text, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save))
		if (set_key(ctx, opt, kv, out, mode, err) < 0)
			return -1;
	if (out->type == BUILD_CACHE_LOCAL && out->dir == NULL)
		return cli_usage_error(ctx, err, "%s type=local needs %s=DIR", opt,
				       to ? "dest" : "src");
	if (out->type != BUILD_CACHE_LOCAL && out->ref == NULL &&
	    !(to && out->type == BUILD_CACHE_INLINE))
		return cli_usage_error(ctx, err, "%s needs ref=REF", opt);
	return 0;
}
