/*
 * The Dockerfile checks: for every rule a Dockerfile that triggers it and one that does not,
 * plus the check policy (skip, error, experimental, BUILDKIT_DOCKERFILE_CHECK).
 */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "finding/finding.h"
#include "dockerfile/dockerfile.h"
#include "ignore/ignore.h"
#include "lint/lint.h"
#include "tap.h"

struct env {
	const char *const *context; /* NULL-terminated, or NULL for no context */
	const char *const *ignore;  /* .dockerignore patterns, NULL-terminated */
	const char *const *args;    /* build args NAME=VALUE, NULL-terminated */
	bool image_info;	    /* answer image lookups (alpine: PATH only, linux/arm64) */
};

static bool fake_image_info(void *data, const char *image, struct lint_image_info *info)
{
	(void)data;
	if (strncmp(image, "alpine", 6) != 0)
		return false;
	info->env_known = true;
	dockerfile_vars_set(&info->env, "PATH", "/bin");
	info->platform = strdup("linux/arm64");
	return true;
}

/* Lints text; returns the number of findings with id (all findings when id is NULL), and
 * the severity of the last such finding in *sev. */
static int lint(const char *text, const char *id, const struct env *env, enum finding_severity *sev)
{
	struct dockerfile *df = NULL;
	struct plate_error *err = NULL;
	struct finding_report r = FINDING_REPORT_INIT;
	struct dockerfile_vars args;
	struct ignore *ign = NULL;
	struct lint_options opt = { .file = "Dockerfile",
				    .source = text,
				    .source_len = strlen(text) };
	int n = 0;

	dockerfile_vars_init(&args);
	if (dockerfile_parse(text, strlen(text), NULL, &df, &err) < 0) {
		tap_diag("parse: %s", err->message);
		plate_error_free(err);
		return -1;
	}
	if (env && env->args) {
		for (const char *const *a = env->args; *a; a++) {
			const char *eq = strchr(*a, '=');
			char *name = strndup(*a, (size_t)(eq - *a));
			dockerfile_vars_set(&args, name, eq + 1);
			free(name);
		}
		opt.build_args = &args;
	}
	if (env && env->context) {
		size_t c = 0;
		while (env->context[c])
			c++;
		opt.context = env->context;
		opt.n_context = c;
	}
	if (env && env->ignore) {
		size_t c = 0;
		while (env->ignore[c])
			c++;
		if (ignore_new(env->ignore, c, &ign, &err) < 0)
			tap_diag("ignore: %s", err->message);
		opt.ignore = ign;
	}
	if (env && env->image_info)
		opt.image_info = fake_image_info;
	if (lint_dockerfile(df, &opt, &r, NULL, &err) < 0) {
		tap_diag("lint: %s", err->message);
		plate_error_free(err);
		n = -1;
	} else {
		for (size_t i = 0; i < r.n; i++) {
			if (id && strcmp(r.items[i].id, id) != 0)
				continue;
			n++;
			if (sev)
				*sev = r.items[i].severity;
			tap_diag("  %s:%u %s [%s]", r.items[i].file, r.items[i].line,
				 r.items[i].message, r.items[i].id);
		}
	}
	finding_report_release(&r);
	dockerfile_vars_release(&args);
	ignore_free(ign);
	dockerfile_free(df);
	return n;
}

struct rule_case {
	const char *id;
	const char *bad;
	const char *good;
	struct env env;
};

static const char *const ctx_files[] = { "Dockerfile",	     "main.go", ".env", "certs",
					 "certs/server.key", "go.mod",	NULL };
static const char *const ignore_env[] = { ".env", "certs", NULL };
static const char *const ignore_secret[] = { "secret.txt", NULL };

/* clang-format off */
static const struct rule_case cases[] = {
	{ "StageNameCasing", "FROM scratch AS Build\n", "FROM scratch AS build\n", { 0 } },
	{ "FromAsCasing", "FROM scratch as build\n", "FROM scratch AS build\n", { 0 } },
	{ "NoEmptyContinuation", "FROM scratch\nLABEL a=b \\\n\n  c=d\n",
	  "FROM scratch\nLABEL a=b \\\n  c=d\n", { 0 } },
	{ "ConsistentInstructionCasing", "FROM scratch\nlabel a=b\nUSER 1\n",
	  "from scratch\nlabel a=b\nuser 1\n", { 0 } },
	{ "DuplicateStageName", "FROM scratch AS a\nFROM scratch AS A\n",
	  "FROM scratch AS a\nFROM scratch AS b\n", { 0 } },
	{ "ReservedStageName", "FROM scratch AS context\n", "FROM scratch AS contexts\n", { 0 } },
	{ "JSONArgsRecommended", "FROM scratch\nENTRYPOINT run me\n",
	  "FROM scratch\nSHELL [\"/bin/sh\", \"-c\"]\nENTRYPOINT run me\nCMD [\"x\"]\n", { 0 } },
	{ "MaintainerDeprecated", "FROM scratch\nMAINTAINER me\n",
	  "FROM scratch\nLABEL org.opencontainers.image.authors=me\n", { 0 } },
	{ "UndefinedArgInFrom", "ARG VERSION=1\nFROM alpine:$VERSON\n",
	  "ARG VERSION=1\nFROM alpine:$VERSION\nFROM --platform=$BUILDPLATFORM alpine\n", { 0 } },
	{ "WorkdirRelativePath", "FROM scratch\nWORKDIR app\n",
	  "FROM scratch\nWORKDIR /srv\nWORKDIR app\n", { 0 } },
	{ "UndefinedVar", "FROM scratch\nENV PATH=$PAHT:/app\n",
	  "FROM scratch\nARG foo\nCOPY $foo .\nENV PATH=$PATH:/app\n", { 0 } },
	{ "MultipleInstructionsDisallowed", "FROM scratch\nCMD [\"a\"]\nCMD [\"b\"]\n",
	  "FROM scratch\nCMD [\"a\"]\nFROM scratch\nCMD [\"b\"]\n", { 0 } },
	{ "LegacyKeyValueFormat", "FROM scratch\nENV A 1\n", "FROM scratch\nENV A=1\n", { 0 } },
	{ "InvalidBaseImagePlatform", "FROM alpine\n", "FROM --platform=linux/arm64 alpine AS arm64\n",
	  { .image_info = true } },
	{ "RedundantTargetPlatform", "FROM --platform=$TARGETPLATFORM scratch\n",
	  "FROM --platform=$BUILDPLATFORM scratch\n", { 0 } },
	{ "SecretsUsedInArgOrEnv", "FROM scratch\nARG AWS_SECRET_ACCESS_KEY\n",
	  "FROM scratch\nARG PUBLIC_KEY\nENV KEYRING=x\n", { 0 } },
	{ "InvalidDefaultArgInFrom", "ARG TAG\nFROM busybox:${TAG}\n",
	  "ARG TAG=latest\nFROM busybox:${TAG}\n", { 0 } },
	{ "FromPlatformFlagConstDisallowed", "FROM --platform=linux/amd64 alpine AS base\n",
	  "FROM --platform=linux/amd64 alpine AS build_amd64\n", { 0 } },
	{ "CopyIgnoredFile", "# check=experimental=CopyIgnoredFile\nFROM scratch\nCOPY secret.txt /\n",
	  "# check=experimental=CopyIgnoredFile\nFROM scratch\nCOPY public.txt /\n",
	  { .ignore = ignore_secret } },
	{ "InvalidDefinitionDescription",
	  "# check=experimental=all\n\n# a non-descriptive comment\nFROM scratch AS base\n",
	  "# check=experimental=all\n\n# base is a stage\nFROM scratch AS base\n", { 0 } },
	{ "ExposeProtoCasing", "FROM scratch\nEXPOSE 80/TCP\n", "FROM scratch\nEXPOSE 80/tcp\n",
	  { 0 } },
	{ "ExposeInvalidFormat", "FROM scratch\nEXPOSE 127.0.0.1:80:80\n", "FROM scratch\nEXPOSE 80\n",
	  { 0 } },
	{ "SecretInContext", "FROM scratch\nCOPY . /app\n", "FROM scratch\nCOPY . /app\n",
	  { .context = ctx_files } },
	{ "DependencyDownloadAfterCopyAll",
	  "FROM golang\nWORKDIR /src\nCOPY . .\nRUN go mod download && go build\n",
	  "FROM golang\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n"
	  "RUN go build\n",
	  { 0 } },
};
/* clang-format on */

int main(void)
{
	enum finding_severity sev = FINDING_INFO;
	struct env ignoring = { .context = ctx_files, .ignore = ignore_env };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rule_case *c = &cases[i];
		const struct env *good_env = &c->env;
		int bad = lint(c->bad, c->id, &c->env, &sev);
		if (strcmp(c->id, "SecretInContext") == 0)
			good_env = &ignoring;
		tap_ok(bad >= 1 && sev == FINDING_WARNING, "%s: reported as a warning", c->id);
		tap_ok(lint(c->good, c->id, good_env, NULL) == 0, "%s: clean Dockerfile passes",
		       c->id);
	}

	/* Messages as BuildKit words them. */
	tap_ok(lint("FROM scratch AS Build\n", NULL, NULL, NULL) == 1, "one finding");

	/* Policy. */
	tap_ok(lint("# check=skip=JSONArgsRecommended\nFROM scratch\nCMD x\n", NULL, NULL, NULL) ==
		       0,
	       "skip=RULE drops it");
	tap_ok(lint("# check=skip=all\nFROM scratch AS A\nCMD x\n", NULL, NULL, NULL) == 0,
	       "skip=all drops everything");
	tap_ok(lint("# check=error=true\nFROM scratch\nCMD x\n", "JSONArgsRecommended", NULL,
		    &sev) == 1 &&
		       sev == FINDING_ERROR,
	       "error=true raises to error");
	tap_ok(lint("# check=skip=all;experimental=CopyIgnoredFile\nFROM scratch\nCMD x\n"
		    "COPY secret.txt /\n",
		    NULL, &(struct env){ .ignore = ignore_secret }, NULL) == 1,
	       "experimental beats skip=all");
	{
		static const char *const arg[] = { "BUILDKIT_DOCKERFILE_CHECK=skip=all", NULL };
		tap_ok(lint("# check=error=true\nFROM scratch\nCMD x\n", NULL,
			    &(struct env){ .args = arg }, NULL) == 0,
		       "BUILDKIT_DOCKERFILE_CHECK replaces the directive");
	}
	tap_ok(lint("# check=bogus=1\nFROM scratch\n", NULL, NULL, NULL) == -1,
	       "unknown check option is an error");
	tap_ok(lint("# check=error=maybe\nFROM scratch\n", NULL, NULL, NULL) == -1,
	       "bad boolean is an error");

	/* Semantics worth pinning. */
	tap_ok(lint("ARG V=1\nFROM scratch\nLABEL v=$V\n", "UndefinedVar", NULL, NULL) == 1,
	       "a global ARG is not visible in a stage until declared again");
	tap_ok(lint("ARG V=1\nFROM alpine\nARG V\nLABEL v=$V\n", "UndefinedVar", NULL, NULL) == 0,
	       "redeclared global ARG is defined");
	tap_ok(lint("FROM alpine\nLABEL v=$GOPATH\n", "UndefinedVar", NULL, NULL) == 0,
	       "unknown base image env: not reported");
	tap_ok(lint("FROM alpine\nLABEL v=$GOPATH\n", "UndefinedVar",
		    &(struct env){ .image_info = true }, NULL) == 1,
	       "known base image env: reported");
	tap_ok(lint("FROM scratch AS base\nWORKDIR /a\nFROM base\nWORKDIR b\n",
		    "WorkdirRelativePath", NULL, NULL) == 0,
	       "absolute WORKDIR inherited from the parent stage");
	tap_ok(lint("FROM scratch\nCOPY --from=other . /\nRUN go mod download\n",
		    "DependencyDownloadAfterCopyAll", NULL, NULL) == 0,
	       "COPY --from is not the context");
	tap_ok(lint("FROM golang\nCOPY . .\nRUN --mount=type=cache,target=/go go mod download\n",
		    "DependencyDownloadAfterCopyAll", NULL, NULL) == 0,
	       "a cache mount keeps downloads");
	tap_ok(lint("FROM golang AS build\nCOPY . .\nFROM scratch\nCOPY --from=build /app /\n",
		    "SecretInContext", &(struct env){ .context = ctx_files }, NULL) == 0,
	       "secrets copied into a builder stage only do not reach the image");
	tap_ok(lint("FROM golang AS builder\nCOPY . /src\nFROM scratch\nCOPY --from=builder /src "
		    "/app\n",
		    "SecretInContext", &(struct env){ .context = ctx_files }, NULL) == 2,
	       "secrets copied into a builder stage, then from it into the image");
	tap_ok(lint("FROM golang AS b\nWORKDIR /src\nCOPY . .\nFROM b AS c\nRUN make\nFROM "
		    "scratch\n"
		    "COPY --from=2 /src/.env /app/\n",
		    "SecretInContext", &(struct env){ .context = ctx_files }, NULL) == 0,
	       "--from=2 names the third stage (the image itself here), which has nothing");
	tap_ok(lint("FROM golang AS b\nWORKDIR /src\nCOPY . .\nFROM b AS c\nRUN make\nFROM "
		    "scratch\n"
		    "COPY --from=1 /src/ /app/\n",
		    "SecretInContext", &(struct env){ .context = ctx_files }, NULL) == 2,
	       "through WORKDIR, FROM <stage> and --from=<index>");
	tap_ok(lint("FROM golang AS b\nCOPY . /src\nFROM b AS c\nCOPY --from=b /src/ /copy/\n"
		    "FROM scratch\nCOPY --from=c /copy/.env /final\n",
		    "SecretInContext", &(struct env){ .context = ctx_files }, NULL) == 1,
	       "through two COPY --from");
	tap_ok(lint("FROM golang AS b\nCOPY . /src\nFROM scratch\nCOPY --from=b /src/bin /app\n",
		    "SecretInContext", &(struct env){ .context = ctx_files }, NULL) == 0,
	       "COPY --from of another directory of the builder");
	tap_ok(lint("FROM golang AS b\nCOPY . /src\nFROM scratch\nCOPY --from=b /etc/ssl /ssl\n"
		    "COPY --from=busybox /src /app\n",
		    "SecretInContext", &(struct env){ .context = ctx_files }, NULL) == 0,
	       "COPY --from of an image is not the builder's tree");
	tap_ok(lint("FROM scratch\nCOPY .env.example /\n", "SecretInContext",
		    &(struct env){ .context = (const char *const[]){ ".env.example", NULL } },
		    NULL) == 0,
	       ".env.example is not a secret");
	tap_ok(lint("FROM scratch\nCOPY cert* /\n", "SecretInContext",
		    &(struct env){ .context = ctx_files }, NULL) == 1,
	       "wildcard source covering a secret directory");
	return tap_done();
}
