/*
 * Unit tests for plan/: small Dockerfiles exercising stage splitting, ARG scoping, FROM
 * expansion, --target pruning, COPY --from and RUN --mount dependencies, platform ARGs,
 * ONBUILD triggers, the JSON rendering, and located errors.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "dockerfile/dockerfile.h"
#include "oci/oci.h"
#include "plan/plan.h"
#include "tap.h"

/* A parsed Dockerfile and its plan, or the error that stopped them. */
struct result {
	struct dockerfile *df;
	struct plan *plan;
	struct plate_error *err;
};

static void result_release(struct result *r)
{
	plan_free(r->plan);
	dockerfile_free(r->df);
	plate_error_free(r->err);
	memset(r, 0, sizeof(*r));
}

static struct result run_opts(const char *text, const struct plan_options *o)
{
	struct result r = { 0 };

	if (dockerfile_parse(text, strlen(text), NULL, &r.df, &r.err) == 0)
		plan_build(r.df, o, &r.plan, &r.err);
	return r;
}

static struct result run(const char *text)
{
	return run_opts(text, NULL);
}

static struct result run_args(const char *text, const char *target, ...)
{
	static const char *args[16];
	struct plan_options o = { .target = target, .build_args = args };
	va_list ap;
	const char *a;

	va_start(ap, target);
	while ((a = va_arg(ap, const char *)) != NULL && o.n_build_args < 16)
		args[o.n_build_args++] = a;
	va_end(ap);
	return run_opts(text, &o);
}

static bool ok_plan(const struct result *r, const char *what)
{
	if (r->plan == NULL) {
		_cleanup_free_ char *msg = r->err ? plate_error_format(r->err) : NULL;
		tap_diag("%s: %u:%u: %s", what, r->err ? r->err->line : 0,
			 r->err ? r->err->column : 0, msg ? msg : "?");
	}
	return tap_ok(r->plan != NULL, "%s plans", what);
}

/* The args of step `step` of stage `stage`, joined with '|', or "" when absent. */
static char *args_of(const struct result *r, size_t stage, size_t step)
{
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);
	const struct plan_step *s;

	if (r->plan == NULL || stage >= r->plan->n_stages || step >= r->plan->stages[stage].n_steps)
		return strdup("(no such step)");
	s = &r->plan->stages[stage].steps[step];
	buf_addstr(&b, s->instruction);
	for (size_t i = 0; i < s->n_args; i++) {
		buf_addch(&b, i == 0 ? ' ' : '|');
		buf_addstr(&b, s->args[i]);
	}
	return buf_detach(&b, NULL);
}

static void check_step(const struct result *r, size_t stage, size_t step, const char *want,
		       const char *what)
{
	_cleanup_free_ char *got = args_of(r, stage, step);
	tap_streq(got, want, "%s", what);
}

static char *indexes(const size_t *v, size_t n)
{
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);

	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%zu", i ? "," : "", v[i]);
	return buf_detach(&b, NULL);
}

static void check_order(const struct result *r, const char *want, const char *what)
{
	_cleanup_free_ char *got = r->plan ? indexes(r->plan->order, r->plan->n_order) : NULL;
	tap_streq(got, want, "%s: order", what);
}

static void check_deps(const struct result *r, size_t stage, const char *want, const char *what)
{
	_cleanup_free_ char *got = r->plan && stage < r->plan->n_stages
					   ? indexes(r->plan->stages[stage].depends_on,
						     r->plan->stages[stage].n_depends_on)
					   : NULL;
	tap_streq(got, want, "%s: stage %zu depends_on", what, stage);
}

static void check_error(const struct result *r, unsigned line, unsigned column, const char *has,
			const char *what)
{
	_cleanup_free_ char *msg = r->err ? plate_error_format(r->err) : NULL;
	bool ok = r->plan == NULL && r->err != NULL && r->err->line == line &&
		  r->err->column == column && msg != NULL && strstr(msg, has) != NULL;

	if (!ok)
		tap_diag("got %u:%u: %s", r->err ? r->err->line : 0, r->err ? r->err->column : 0,
			 msg ? msg : "(no error)");
	tap_ok(ok, "%s: error at %u:%u naming '%s'", what, line, column, has);
}

static void test_seed_pattern(void)
{
	/* examples/go-service/Dockerfile: the toolchain stage and the scratch stage. */
	struct result r =
		run("# The seed's pattern\n"
		    "ARG GO_IMAGE=golang:1.22-alpine\n"
		    "FROM ${GO_IMAGE} AS builder\n"
		    "WORKDIR /src\n"
		    "COPY go.mod go.sum ./\n"
		    "RUN go mod download\n"
		    "COPY . ./\n"
		    "RUN CGO_ENABLED=0 GOOS=linux go build -o /out/plate-demo .\n"
		    "\n"
		    "FROM scratch\n"
		    "COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/\n"
		    "COPY --from=builder /out/plate-demo /app/plate-demo\n"
		    "USER 65534:65534\n"
		    "EXPOSE 8080\n"
		    "ENTRYPOINT [\"/app/plate-demo\"]\n");

	if (!ok_plan(&r, "seed pattern"))
		return result_release(&r);
	tap_ok(r.plan->n_stages == 2 && r.plan->target == 1,
	       "seed: two stages, target is the last");
	check_order(&r, "0,1", "seed");
	tap_streq(r.plan->stages[0].name, "builder", "seed: stage 0 name");
	tap_streq(r.plan->stages[0].from, "docker.io/library/golang:1.22-alpine",
		  "seed: FROM ${GO_IMAGE} normalised");
	tap_streq(r.plan->stages[1].from, "scratch", "seed: scratch stays scratch");
	tap_ok(r.plan->stages[1].name == NULL, "seed: unnamed final stage");
	check_deps(&r, 1, "0", "seed");
	check_step(&r, 0, 1, "COPY go.mod|go.sum|./", "seed: COPY args");
	check_step(&r, 0, 4, "RUN CGO_ENABLED=0 GOOS=linux go build -o /out/plate-demo .",
		   "seed: RUN is one shell-form string");
	check_step(&r, 1, 4, "ENTRYPOINT /app/plate-demo", "seed: exec-form ENTRYPOINT");
	tap_ok(r.plan->stages[1].steps[0].line == 11, "seed: step line numbers");
	tap_ok(r.plan->stages[1].steps[0].n_sources == 1 &&
		       r.plan->stages[1].steps[0].sources[0].stage == 0,
	       "seed: COPY --from=builder reads stage 0");
	tap_ok(r.plan->stages[1].level == 1 && r.plan->stages[0].level == 0, "seed: levels");
	result_release(&r);
}

static void test_arg_scope(void)
{
	const char *text = "ARG V=1\n"
			   "FROM alpine\n"
			   "WORKDIR /a/$V\n"
			   "ARG V\n"
			   "WORKDIR /b/$V\n"
			   "ARG W=w-$V\n"
			   "ARG U\n"
			   "USER $W\n";
	struct result r = run(text);

	if (ok_plan(&r, "ARG scope")) {
		check_step(&r, 0, 0, "WORKDIR /a/", "a global ARG is invisible in a stage");
		check_step(&r, 0, 1, "ARG V=1", "ARG NAME takes the global default");
		check_step(&r, 0, 2, "WORKDIR /b/1", "the redeclared global is visible");
		check_step(&r, 0, 3, "ARG W=w-1", "an ARG default is expanded");
		check_step(&r, 0, 4, "ARG U", "an ARG without value stays unset");
		check_step(&r, 0, 5, "USER w-1", "USER sees stage ARGs");
	}
	result_release(&r);

	r = run_args(text, NULL, "V=2", "W=given", "U=u", "UNUSED=x", NULL);
	if (ok_plan(&r, "ARG scope with build-args")) {
		check_step(&r, 0, 0, "WORKDIR /a/", "a build-arg does not leak into a stage");
		check_step(&r, 0, 1, "ARG V=2", "a build-arg overrides the global default");
		check_step(&r, 0, 3, "ARG W=given", "a build-arg overrides a stage default");
		check_step(&r, 0, 4, "ARG U=u", "a build-arg sets a declared ARG");
	}
	result_release(&r);

	/* The reference's "Scope" example. */
	r = run_args("FROM busybox\n"
		     "USER ${username:-some_user}\n"
		     "ARG username\n"
		     "USER $username\n",
		     NULL, "username=what_user", NULL);
	if (ok_plan(&r, "reference scope example")) {
		check_step(&r, 0, 0, "USER some_user", "before ARG the fallback applies");
		check_step(&r, 0, 2, "USER what_user", "after ARG the build-arg applies");
	}
	result_release(&r);

	/* Global ARG defaults see earlier globals; FROM sees the globals. */
	r = run("ARG A=1\nARG B=${A}.2\nFROM alpine:$B\n");
	if (ok_plan(&r, "global defaults"))
		tap_streq(r.plan->stages[0].from, "docker.io/library/alpine:1.2",
			  "global ARG default expanded with earlier globals");
	result_release(&r);

	/* An ARG default is expanded with ENV values of the stage. */
	r = run("FROM alpine\nENV A=hello\nARG B=$A-x\nARG C=${B}/y D=$C\n");
	if (ok_plan(&r, "ARG defaults and ENV")) {
		check_step(&r, 0, 1, "ARG B=hello-x", "ARG default sees ENV");
		check_step(&r, 0, 2, "ARG C=hello-x/y|D=hello-x/y",
			   "each name of one ARG sees the previous");
	}
	result_release(&r);
}

static void test_env(void)
{
	/* The reference's "Environment replacement" example. */
	struct result r = run("FROM busybox\n"
			      "ENV abc=hello\n"
			      "ENV abc=bye def=$abc\n"
			      "ENV ghi=$abc\n"
			      "ENV q=\"a b\" legacy\\ key=1\n"
			      "LABEL \"com.example.v\"=\"$ghi\" plain=x\n"
			      "ENV LEGACY value with $abc\n"
			      "COPY \\$FOO /quux\n");

	if (ok_plan(&r, "ENV")) {
		check_step(&r, 0, 1, "ENV abc=bye|def=hello", "one ENV sees values from before it");
		check_step(&r, 0, 2, "ENV ghi=bye", "the next ENV sees the new value");
		check_step(&r, 0, 3, "ENV q=a b|legacy key=1", "quotes and escapes removed");
		check_step(&r, 0, 4, "LABEL com.example.v=bye|plain=x", "LABEL expanded");
		check_step(&r, 0, 5, "ENV LEGACY=value with bye", "legacy ENV form");
		check_step(&r, 0, 6, "COPY $FOO|/quux", "escaped $ stays literal");
	}
	result_release(&r);

	r = run("FROM alpine\n"
		"ARG PORT=8080 UID=1000 SIG=SIGTERM DIR=/data\n"
		"EXPOSE ${PORT}/tcp 9090\n"
		"VOLUME [\"$DIR\", \"/x\"]\n"
		"STOPSIGNAL $SIG\n"
		"COPY --chown=$UID:$UID --from=0 a b\n"
		"RUN echo $PORT\n"
		"CMD echo $PORT\n"
		"ONBUILD RUN echo $PORT\n");
	/* COPY --from=0 in stage 0 is a self-reference. */
	check_error(&r, 6, 1, "circular dependency", "COPY --from its own stage");
	result_release(&r);

	r = run("FROM alpine\n"
		"ARG PORT=8080 UID=1000 SIG=SIGTERM DIR=/data\n"
		"EXPOSE ${PORT}/tcp 9090\n"
		"VOLUME [\"$DIR\", \"/x\"]\n"
		"STOPSIGNAL $SIG\n"
		"COPY --chown=$UID:$UID --link a b\n"
		"RUN echo $PORT\n"
		"CMD echo $PORT\n"
		"ONBUILD RUN echo $PORT\n");
	if (ok_plan(&r, "instructions that expand")) {
		check_step(&r, 0, 1, "EXPOSE 8080/tcp|9090", "EXPOSE expanded");
		check_step(&r, 0, 2, "VOLUME /data|/x", "VOLUME JSON form expanded");
		check_step(&r, 0, 3, "STOPSIGNAL SIGTERM", "STOPSIGNAL expanded");
		tap_streq(r.plan->stages[0].steps[4].flags[0], "--chown=1000:1000",
			  "COPY --chown expanded");
		tap_streq(r.plan->stages[0].steps[4].flags[1], "--link", "boolean flag kept");
		check_step(&r, 0, 5, "RUN echo $PORT", "RUN is not expanded");
		check_step(&r, 0, 6, "CMD echo $PORT", "CMD is not expanded");
		check_step(&r, 0, 7, "ONBUILD RUN|echo $PORT", "ONBUILD kept as written");
	}
	result_release(&r);

	/* Here-document markers stay as written. */
	r = run("FROM alpine\nARG F=x\nCOPY <<EOF /etc/$F\nhello $F\nEOF\n");
	if (ok_plan(&r, "COPY heredoc"))
		check_step(&r, 0, 1, "COPY <<EOF|/etc/x",
			   "heredoc marker kept, destination expanded");
	result_release(&r);
}

static void test_from_var_and_stages(void)
{
	struct result r = run("ARG BASE=builder\n"
			      "FROM golang:1.22 AS Builder\n"
			      "ENV GOFLAGS=-mod=vendor\n"
			      "ARG KEEP=k\n"
			      "FROM ${BASE} AS mid\n"
			      "WORKDIR /$GOFLAGS/$KEEP\n"
			      "FROM BUILDER\n"
			      "COPY --from=MiD /a /b\n");

	if (ok_plan(&r, "FROM ${VAR} naming a stage")) {
		tap_streq(r.plan->stages[0].name, "builder", "stage names are lower-cased");
		tap_ok(r.plan->stages[1].from_stage == 0 && r.plan->stages[1].from == NULL,
		       "FROM ${BASE} resolves to the stage");
		check_step(&r, 1, 0, "WORKDIR /-mod=vendor/k",
			   "a stage based on a stage inherits its ENV and ARG values");
		tap_ok(r.plan->stages[2].from_stage == 0,
		       "FROM matches stage names case-insensitively");
		check_deps(&r, 2, "0,1", "case-insensitive --from");
		check_order(&r, "0,1,2", "stages");
		tap_ok(r.plan->stages[1].level == 1 && r.plan->stages[2].level == 2,
		       "levels chain");
	}
	result_release(&r);

	/* A FROM naming a later stage is an image, as in BuildKit. */
	r = run("FROM later AS first\nFROM alpine AS later\n");
	if (ok_plan(&r, "FROM a later stage name"))
		tap_streq(r.plan->stages[0].from, "docker.io/library/later:latest",
			  "FROM a later stage name is an image");
	result_release(&r);

	r = run("FROM gcr.io/distroless/static@sha256:"
		"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n");
	if (ok_plan(&r, "digest reference"))
		tap_streq(r.plan->stages[0].from,
			  "gcr.io/distroless/static@sha256:"
			  "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
			  "digest reference keeps its digest, no tag");
	result_release(&r);
}

static void test_target(void)
{
	const char *text = "FROM alpine AS a\n"
			   "RUN make a\n"
			   "FROM a AS b\n"
			   "RUN make b\n"
			   "FROM alpine AS c\n"
			   "ARG X\n"
			   "WORKDIR ${X:?X must be set}\n"
			   "FROM scratch AS d\n"
			   "COPY --from=c / /\n"
			   "COPY --from=b / /\n";
	struct result r = run_args(text, "B", NULL);

	if (ok_plan(&r, "--target b")) {
		tap_ok(r.plan->target == 1, "--target is case-insensitive");
		check_order(&r, "0,1", "--target b");
		tap_ok(r.plan->stages[0].needed && r.plan->stages[1].needed &&
			       !r.plan->stages[2].needed && !r.plan->stages[3].needed,
		       "--target prunes stages it does not reach");
		check_step(&r, 2, 1, "WORKDIR ${X:?X must be set}",
			   "steps of unneeded stages stay as written");
		check_deps(&r, 3, "1,2", "unneeded stages still list dependencies");
	}
	result_release(&r);

	r = run(text);
	check_error(&r, 7, 1, "X must be set", "expansion error in a needed stage");
	result_release(&r);

	r = run_args(text, NULL, "X=/x", NULL);
	if (ok_plan(&r, "default target")) {
		tap_ok(r.plan->target == 3, "the target defaults to the last stage");
		check_order(&r, "0,1,2,3", "default target");
		tap_ok(r.plan->stages[0].level == 0 && r.plan->stages[2].level == 0 &&
			       r.plan->stages[1].level == 1 && r.plan->stages[3].level == 2,
		       "independent stages share a level");
	}
	result_release(&r);

	r = run_args(text, "nope", NULL);
	tap_ok(r.plan == NULL && r.err != NULL && r.err->line == 0 &&
		       strcmp(r.err->message, "target stage 'nope' could not be found") == 0,
	       "unknown target is an error naming it");
	result_release(&r);
}

static void test_copy_from(void)
{
	struct result r = run("FROM alpine AS a\n"
			      "FROM alpine AS b\n"
			      "FROM scratch\n"
			      "COPY --from=1 /x /x\n"
			      "COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf\n"
			      "COPY --from=scratch /y /y\n"
			      "COPY --from=a /z /z\n");

	if (ok_plan(&r, "COPY --from")) {
		const struct plan_stage *st = &r.plan->stages[2];
		check_deps(&r, 2, "0,1", "COPY --from by index and name");
		tap_ok(st->steps[0].sources[0].stage == 1, "--from=1 is stage 1");
		tap_ok(st->steps[1].sources[0].stage == -1, "--from=image is not a stage");
		tap_streq(st->steps[1].sources[0].image, "docker.io/library/nginx:latest",
			  "--from=image is normalised");
		tap_streq(st->steps[2].sources[0].image, "scratch", "--from=scratch");
		check_order(&r, "0,1,2", "COPY --from");
	}
	result_release(&r);

	r = run("FROM alpine\nFROM scratch\nCOPY --from=2 /x /x\n");
	check_error(&r, 3, 1, "invalid stage index '2'", "index out of range");
	result_release(&r);

	r = run("ARG S=a\nFROM alpine AS a\nFROM scratch\nCOPY --from=$S /x /x\n");
	check_error(&r, 4, 1, "variable expansion is not supported for --from", "--from=$VAR");
	result_release(&r);

	r = run("FROM alpine\nCOPY --from=Bad:Ref /x /x\n");
	check_error(&r, 2, 1, "invalid image reference 'Bad:Ref'", "bad --from image");
	result_release(&r);

	/* Forward references: an error only when the stage using them is needed. */
	const char *fwd = "FROM alpine AS a\n"
			  "COPY --from=b /x /x\n"
			  "FROM alpine AS b\n";
	r = run_args(fwd, "a", NULL);
	check_error(&r, 2, 1,
		    "cannot copy from stage 'b', it needs to be defined before current "
		    "stage 'a'",
		    "needed forward --from");
	result_release(&r);
	r = run(fwd);
	if (ok_plan(&r, "unneeded forward --from"))
		tap_ok(!r.plan->stages[0].needed,
		       "the stage with the forward --from is not needed");
	result_release(&r);

	r = run("FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\n");
	check_error(&r, 2, 1, "circular dependency detected on stage 'a'", "cycle");
	result_release(&r);
}

static void test_run_mount(void)
{
	struct result r = run("FROM golang AS tools\n"
			      "FROM alpine AS other\n"
			      "FROM alpine\n"
			      "RUN --mount=type=cache,target=/root/.cache \\\n"
			      "    --mount=type=bind,from=TOOLS,source=/go/bin,target=/t \\\n"
			      "    --mount='type=bind,\"from=busybox:1.36\",target=/b' make\n"
			      "RUN --mount=from=other,target=/o true\n"
			      "RUN --mount=type=secret,id=s cat /run/secrets/s\n");

	if (ok_plan(&r, "RUN --mount")) {
		const struct plan_step *s = &r.plan->stages[2].steps[0];
		check_deps(&r, 2, "0,1", "RUN --mount from= stages");
		tap_ok(s->n_sources == 2 && s->sources[0].stage == 0 && s->sources[1].stage == -1,
		       "mount sources in flag order, cache mount without from is none");
		if (s->n_sources == 2)
			tap_streq(s->sources[1].image, "docker.io/library/busybox:1.36",
				  "mount from an image (quoted CSV field)");
		check_step(&r, 2, 0, "RUN make", "RUN args exclude flags");
		tap_ok(s->n_flags == 3, "RUN keeps its --mount flags");
	}
	result_release(&r);

	r = run("ARG T=tools\nFROM alpine AS tools\nFROM alpine\nRUN --mount=from=$T,target=/t "
		"x\n");
	check_error(&r, 4, 1, "doesn't support variable expansion", "mount from=$VAR");
	result_release(&r);

	r = run("FROM alpine\nRUN --mount='type=bind,\"from=x' true\n");
	check_error(&r, 2, 1, "failed to parse csv mounts", "bad mount CSV");
	result_release(&r);
}

/* A typed mount, rendered for comparison. */
static char *mount_text(const struct plan_step *s, size_t i)
{
	static const char *const types[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
	const struct plan_mount *m = &s->run.mounts[i];
	char *out = NULL, mode[24] = "-";

	if (m->mode >= 0)
		snprintf(mode, sizeof(mode), "%lo", (unsigned long)m->mode);
	if (asprintf(&out,
		     "%s target=%s source=%s from=%s ro=%d id=%s sharing=%d mode=%s "
		     "uid=%ld gid=%ld required=%d env=%s size=%llu",
		     types[m->type], m->target ? m->target : "-", m->source ? m->source : "-",
		     m->from < 0		      ? "context"
		     : s->sources[m->from].stage >= 0 ? "stage"
						      : "image",
		     m->readonly, m->id ? m->id : "-", (int)m->sharing, mode, m->uid, m->gid,
		     m->required, m->env ? m->env : "-", m->size) < 0)
		return NULL;
	return out;
}

/* RUN --mount (BuildKit's grammar), --network and --security, typed once by the planner. */
static void test_run_flags(void)
{
	struct {
		const char *spec, *want;
	} ok[] = {
		{ "target=/x", "bind target=/x source=- from=context ro=1 id=- sharing=0 "
			       "mode=- uid=-1 gid=-1 required=0 env=- size=0" },
		{ "TYPE=Cache,DST=/c", "cache target=/c source=- from=context ro=0 id=/c sharing=0 "
				       "mode=- uid=-1 gid=-1 required=0 env=- size=0" },
		{ "type=cache,target=/c,id=go,sharing=LOCKED,mode=0700,uid=1000,gid=1001,ro",
		  "cache target=/c source=- from=context ro=1 id=go sharing=2 mode=700 uid=1000 "
		  "gid=1001 required=0 env=- size=0" },
		{ "type=bind,from=b,src=/out,destination=/o,rw",
		  "bind target=/o source=/out from=stage ro=0 id=- sharing=0 mode=- "
		  "uid=-1 gid=-1 required=0 env=- size=0" },
		{ "type=bind,from=busybox,target=/bb,readonly=false",
		  "bind target=/bb source=- from=image ro=0 id=- sharing=0 mode=- "
		  "uid=-1 gid=-1 required=0 env=- size=0" },
		{ "from=,target=/a", "bind target=/a source=- from=context ro=1 id=- sharing=0 "
				     "mode=- uid=-1 gid=-1 required=0 env=- size=0" },
		{ "type=tmpfs,target=/t,size=1.5k",
		  "tmpfs target=/t source=- from=context ro=0 id=- "
		  "sharing=0 mode=- uid=-1 gid=-1 "
		  "required=0 env=- size=1536" },
		{ "type=tmpfs,target=/t,size=64MiB", "tmpfs target=/t source=- from=context ro=0 "
						     "id=- sharing=0 mode=- uid=-1 "
						     "gid=-1 required=0 env=- size=67108864" },
		{ "type=secret,id=tok", "secret target=/run/secrets/tok source=- from=context ro=1 "
					"id=tok sharing=0 mode=- uid=-1 gid=-1 required=0 "
					"env=- size=0" },
		{ "type=secret,target=/etc/key,required", "secret target=/etc/key source=- "
							  "from=context ro=1 id=key sharing=0 "
							  "mode=- uid=-1 gid=-1 "
							  "required=1 env=- size=0" },
		{ "type=secret,src=npm,env=NPM_TOKEN,required=TRUE,mode=0440",
		  "secret target=- source=- from=context ro=1 id=npm sharing=0 mode=440 uid=-1 "
		  "gid=-1 required=1 env=NPM_TOKEN size=0" },
		{ "\"type=bind\",\"target=/a,b\",\"source=x\"\"y\"",
		  "bind target=/a,b source=x\"y from=context ro=1 id=- sharing=0 mode=- "
		  "uid=-1 gid=-1 required=0 env=- size=0" },
		{ "type=cache", "cache target=- source=- from=context ro=0 id= sharing=0 "
				"mode=- uid=-1 gid=-1 required=0 env=- size=0" },
	};
	struct {
		const char *flags, *has;
	} bad[] = {
		{ "--mount=", "failed to parse csv mounts" },
		{ "--mount=type=nfs,target=/n", "unsupported mount type 'nfs'" },
		{ "--mount=target=/x,bogus=1", "unexpected key 'bogus' in 'bogus=1'" },
		{ "--mount=target=/x,nokey", "invalid field 'nokey' must be a key=value pair" },
		{ "--mount=target=/x,ro=maybe", "invalid value for ro: maybe" },
		{ "--mount=target=/x,required", "unexpected key 'required' for mount type 'bind'" },
		{ "--mount=type=cache,target=/x,size=1k", "unexpected key 'size'" },
		{ "--mount=type=tmpfs,target=/x,size=lots", "invalid value for size: lots" },
		{ "--mount=type=tmpfs,target=/x,size=1.2.3k", "invalid value for size: 1.2.3k" },
		{ "--mount=type=cache,target=/x,env=A",
		  "unexpected key 'env' for mount type 'cache'" },
		{ "--mount=type=cache,target=/x,sharing=bogus",
		  "invalid cache mount sharing 'bogus'" },
		{ "--mount=type=bind,target=/x,sharing=locked",
		  "invalid cache sharing set for bind" },
		{ "--mount=type=cache,target=/x,mode=9", "invalid value 9 for mode" },
		{ "--mount=type=cache,target=/x,uid=-1", "invalid value -1 for uid" },
		{ "--mount=type=cache,target=/x,gid=4294967296",
		  "invalid value 4294967296 for gid" },
		{ "--mount=type=bind,target=/x,uid=0", "not allowed for 'bind' type mounts" },
		{ "--mount=type=secret,id=a,from=b", "secret mount should not have a from" },
		{ "--mount=type=secret,id=a,source=b", "both source and id can't be set" },
		{ "--mount=type=secret", "invalid secret mount" },
		{ "--mount=type=bind,from=$X,target=/x", "doesn't support variable expansion" },
		{ "--mount='type=bind,\"target=/x'", "unterminated quote" },
		{ "--device=/dev/fuse", "unknown flag '--device' for RUN" },
		{ "--network=bridge", "unsupported network mode 'bridge'" },
		{ "--network=NONE", "unsupported network mode 'NONE'" },
		{ "--security=paranoid", "unsupported security mode 'paranoid'" },
	};
	struct result r;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		_cleanup_free_ char *text = NULL, *got = NULL;
		if (asprintf(&text, "FROM alpine AS b\nFROM alpine\nRUN --mount='%s' true\n",
			     ok[i].spec) < 0)
			abort();
		r = run(text);
		if (ok_plan(&r, ok[i].spec)) {
			const struct plan_step *s = &r.plan->stages[1].steps[0];
			got = s->run.n_mounts == 1 ? mount_text(s, 0) : strdup("(no mount)");
			tap_streq(got, ok[i].want, "--mount=%s typed", ok[i].spec);
		}
		result_release(&r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_free_ char *text = NULL;
		if (asprintf(&text, "FROM alpine AS b\nFROM alpine\n  RUN %s true\n",
			     bad[i].flags) < 0)
			abort();
		r = run(text);
		check_error(&r, 3, 3, bad[i].has, bad[i].flags);
		result_release(&r);
	}

	/* Each mount knows its own source: an empty from= (the context) used to shift the
	 * sources of the mounts after it. */
	r = run("FROM alpine AS b\nFROM alpine AS c\nFROM alpine\n"
		"RUN --mount=from=,target=/a --mount=from=b,target=/b --mount=target=/ctx "
		"--mount=from=c,target=/c --network=none --security=sandbox true\n");
	if (ok_plan(&r, "mixed from=")) {
		const struct plan_step *s = &r.plan->stages[2].steps[0];
		const struct plan_mount *m = s->run.mounts;
		tap_ok(s->run.n_mounts == 4 && s->n_sources == 2 && m[0].from == -1 &&
			       m[1].from == 0 && s->sources[0].stage == 0 && m[2].from == -1 &&
			       m[3].from == 1 && s->sources[1].stage == 1,
		       "an empty from= is the context; later mounts keep their own stage");
		tap_ok(s->run.network == PLAN_NET_NONE && s->run.security == PLAN_SECURITY_SANDBOX,
		       "--network=none --security=sandbox typed");
	}
	result_release(&r);
	r = run("FROM alpine\nRUN --security=insecure --network=host true\nRUN true\n");
	if (ok_plan(&r, "insecure")) {
		const struct plan_stage *st = &r.plan->stages[0];
		tap_ok(st->steps[0].run.security == PLAN_SECURITY_INSECURE &&
			       st->steps[0].run.network == PLAN_NET_HOST &&
			       st->steps[1].run.network == PLAN_NET_UNSET,
		       "--security=insecure and --network=host typed; no --network is unset");
	}
	result_release(&r);
}

/* COPY/ADD flags: typed after expansion, for needed stages. */
static void test_copy_flags(void)
{
	struct result r =
		run_args("FROM alpine AS src\n"
			 "FROM alpine\n"
			 "ARG OWNER=app MODE=0640 EX=*.md\n"
			 "COPY --from=src --chown=$OWNER:staff --chmod=$MODE --link "
			 "--parents=FALSE --exclude=$EX --exclude=tmp a b /d/\n"
			 "ADD --checksum=sha256:" /* 64 hex digits */
			 "0000000000000000000000000000000000000000000000000000000000000000"
			 " --keep-git-dir=true --unpack=false --chown= --chmod= u /f\n"
			 "COPY a /g\n",
			 NULL, "MODE=0755", NULL);

	if (ok_plan(&r, "COPY/ADD flags")) {
		const struct plan_stage *st = &r.plan->stages[1];
		const struct plan_copy_flags *c = &st->steps[1].copy, *a = &st->steps[2].copy,
					     *n = &st->steps[3].copy;
		tap_ok(c->from == 0 && st->steps[1].sources[0].stage == 0, "--from is source 0");
		tap_streq(c->chown, "app:staff", "--chown expanded");
		tap_ok(c->chmod == 0755, "--chmod expanded with the build-arg, octal");
		tap_ok(c->link && !c->parents && !c->keep_git_dir && c->unpack == -1,
		       "--link, --parents=FALSE typed");
		tap_ok(c->n_exclude == 2 && strcmp(c->exclude[0], "*.md") == 0 &&
			       strcmp(c->exclude[1], "tmp") == 0,
		       "--exclude repeated, expanded, in order");
		tap_ok(a->checksum != NULL && a->keep_git_dir && a->unpack == 0 &&
			       a->chown == NULL && a->chmod == -1 && a->from == -1,
		       "ADD --checksum, --keep-git-dir, --unpack=false; empty --chown/--chmod "
		       "unset");
		tap_ok(n->from == -1 && n->chmod == -1 && n->chown == NULL && !n->link &&
			       n->n_exclude == 0 && n->checksum == NULL && n->unpack == -1,
		       "no flags: the defaults");
	}
	result_release(&r);

	r = run("FROM alpine\nCOPY --chmod=rwx a /x\n");
	check_error(&r, 2, 1, "invalid --chmod 'rwx': an octal mode is expected", "--chmod=rwx");
	result_release(&r);
	r = run("FROM alpine\nCOPY --chmod=10000 a /x\n");
	check_error(&r, 2, 1, "invalid --chmod '10000'", "--chmod out of range");
	result_release(&r);
	r = run("FROM alpine\nADD --checksum=md5:abc http://h/x /x\n");
	check_error(&r, 2, 1, "a sha256:<hex> digest is expected", "--checksum not sha256");
	result_release(&r);
	/* Stages that are not needed are not expanded, so their flags are not typed either. */
	r = run("FROM alpine AS unused\nCOPY --chmod=${X:?unset} a /x\nFROM alpine\n");
	tap_ok(r.plan != NULL, "flags of a stage that is not needed are not evaluated");
	result_release(&r);
}

static void test_platform(void)
{
	const char *text = "FROM --platform=$BUILDPLATFORM golang AS build\n"
			   "ARG TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM\n"
			   "WORKDIR /out/$TARGETOS-$TARGETARCH$TARGETVARIANT\n"
			   "FROM alpine\n"
			   "WORKDIR /$TARGETPLATFORM\n"
			   "ARG TARGETPLATFORM\n"
			   "WORKDIR /$TARGETPLATFORM\n"
			   "COPY --from=build /out /out\n";
	struct plan_options o = { .target_platform = "linux/aarch64/v8",
				  .build_platform = "linux/x86_64" };
	struct result r = run_opts(text, &o);

	if (ok_plan(&r, "platform ARGs")) {
		tap_streq(r.plan->target_platform, "linux/arm64", "target platform normalised");
		tap_streq(r.plan->build_platform, "linux/amd64", "build platform normalised");
		tap_streq(r.plan->stages[0].platform, "linux/amd64",
			  "FROM --platform=$BUILDPLATFORM");
		tap_ok(r.plan->stages[1].platform == NULL, "no --platform: the target platform");
		check_step(&r, 0, 0,
			   "ARG TARGETOS=linux|TARGETARCH=arm64|TARGETVARIANT=|"
			   "BUILDPLATFORM=linux/amd64",
			   "platform ARGs redeclared in a stage");
		check_step(&r, 0, 1, "WORKDIR /out/linux-arm64", "platform ARGs expand");
		check_step(&r, 1, 0, "WORKDIR /", "platform ARGs are invisible until redeclared");
		check_step(&r, 1, 2, "WORKDIR /linux/arm64", "TARGETPLATFORM after ARG");
	}
	result_release(&r);

	o = (struct plan_options){ .target_platform = "linux/arm/v7" };
	r = run_opts("FROM alpine:$TARGETARCH$TARGETVARIANT\n", &o);
	if (ok_plan(&r, "platform ARGs in FROM"))
		tap_streq(r.plan->stages[0].from, "docker.io/library/alpine:armv7",
			  "platform ARGs are global: usable in FROM");
	result_release(&r);

	r = run("FROM alpine\nARG BUILDPLATFORM\nWORKDIR /$BUILDPLATFORM\n");
	if (ok_plan(&r, "native platform"))
		tap_ok(strcmp(r.plan->build_platform, oci_platform_native()) == 0 &&
			       strcmp(r.plan->target_platform, r.plan->build_platform) == 0,
		       "defaults: native build platform, target = build");
	result_release(&r);

	o = (struct plan_options){ .target_platform = "linux/" };
	r = run_opts("FROM alpine\n", &o);
	tap_ok(r.plan == NULL && r.err != NULL && strstr(r.err->message, "invalid platform"),
	       "a malformed --platform is refused");
	result_release(&r);

	r = run("ARG P\nFROM --platform=$P alpine\n");
	check_error(&r, 2, 1, "empty platform value", "empty FROM --platform");
	result_release(&r);

	static const struct {
		const char *in, *want;
	} norm[] = {
		{ "linux/amd64", "linux/amd64" },     { "Linux/X86_64", "linux/amd64" },
		{ "linux/arm64/v8", "linux/arm64" },  { "linux/armhf", "linux/arm/v7" },
		{ "linux/arm", "linux/arm/v7" },      { "linux/arm/6", "linux/arm/v6" },
		{ "linux/i386", "linux/386" },	      { "windows/amd64", "windows/amd64" },
		{ "linux/riscv64", "linux/riscv64" },
	};
	for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_free_ char *got = oci_platform_normalize(norm[i].in, &err);
		tap_streq(got, norm[i].want, "platform '%s' normalises", norm[i].in);
	}
	static const char *const bad[] = { "linux/amd64/", "linux/", "/amd64", "linux/amd64/v1/x",
					   "linux/am d64" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_free_ char *got = oci_platform_normalize(bad[i], &err);
		tap_ok(got == NULL && err != NULL, "platform '%s' refused", bad[i]);
	}
}

static void test_predefined(void)
{
	struct result r = run_args("ARG HTTP_PROXY\n"
				   "FROM alpine\n"
				   "WORKDIR /$HTTP_PROXY\n"
				   "ARG HTTP_PROXY\n"
				   "ARG NO_PROXY\n"
				   "WORKDIR /$HTTP_PROXY\n",
				   NULL, "HTTP_PROXY=p", "no_proxy=n", NULL);

	if (ok_plan(&r, "predefined ARGs")) {
		check_step(&r, 0, 0, "WORKDIR /", "a predefined ARG is invisible until declared");
		check_step(&r, 0, 1, "ARG HTTP_PROXY=p", "ARG HTTP_PROXY takes the build-arg");
		check_step(&r, 0, 2, "ARG NO_PROXY", "names are case-sensitive");
		tap_ok(r.plan->proxy_args.n == 2, "proxy build-args recorded for RUN");
		tap_ok(dockerfile_vars_get(&r.plan->global_args, "no_proxy", 8) != NULL,
		       "predefined ARGs are global");
	}
	result_release(&r);
}

static void test_onbuild(void)
{
	struct result r = run("FROM alpine AS tools\n"
			      "FROM alpine AS base\n"
			      "ARG V=1\n"
			      "ONBUILD COPY --from=tools /t /t/$V\n"
			      "ONBUILD ENV W=$V\n"
			      "FROM base\n"
			      "RUN true\n");

	if (ok_plan(&r, "ONBUILD")) {
		const struct plan_stage *st = &r.plan->stages[2];
		tap_ok(st->n_steps == 3 && st->steps[0].onbuild && st->steps[1].onbuild &&
			       !st->steps[2].onbuild,
		       "base stage triggers run first");
		tap_ok(st->steps[0].line == 6, "triggers carry the FROM line");
		check_step(&r, 2, 0, "COPY /t|/t/1", "trigger expanded in the child stage");
		check_step(&r, 2, 1, "ENV W=1", "ENV trigger expanded");
		check_step(&r, 1, 1, "ONBUILD COPY|--from=tools|/t|/t/$V", "ONBUILD in the base");
		check_deps(&r, 2, "0,1", "a trigger's --from is a dependency");
		tap_ok(r.plan->stages[0].needed, "the trigger's source is needed");
	}
	result_release(&r);

	r = run("FROM alpine\nONBUILD ONBUILD RUN x\n");
	check_error(&r, 2, 9, "chaining ONBUILD", "ONBUILD ONBUILD (refused by the parser)");
	result_release(&r);
	r = run("FROM alpine\nONBUILD FROM x\n");
	check_error(&r, 2, 9, "'FROM' isn't allowed as an ONBUILD trigger",
		    "ONBUILD FROM (refused by the parser)");
	result_release(&r);
	r = run("FROM alpine\nONBUILD\n");
	check_error(&r, 2, 1, "ONBUILD requires at least one argument", "empty ONBUILD");
	result_release(&r);
	r = run("FROM alpine\nONBUILD COPY --nope=1 a b\n");
	check_error(&r, 2, 1, "unknown flag '--nope' for COPY", "ONBUILD trigger flags checked");
	result_release(&r);
}

static void test_errors(void)
{
	struct {
		const char *text;
		unsigned line, column;
		const char *has;
	} cases[] = {
		{ "FROM alpine\n  WORKDIR ${NOPE:?is required}\n", 2, 3, "is required" },
		{ "FROM alpine\nFROBNICATE x\n", 2, 1, "unknown instruction 'FROBNICATE'" },
		{ "RUN x\nFROM alpine\n", 1, 1, "no build stage in current context" },
		{ "FROM alpine AS\n", 1, 1, "FROM requires either one or three arguments" },
		{ "FROM alpine BS x\n", 1, 1, "FROM requires either one or three arguments" },
		{ "FROM alpine AS 1st\n", 1, 1, "invalid name for build stage '1st'" },
		{ "FROM alpine AS a\nFROM alpine AS A\n", 2, 1, "duplicate stage name 'a'" },
		{ "ARG IMG\nFROM $IMG\n", 2, 1, "base name '$IMG' should not be blank" },
		{ "ARG V\nFROM golang:${V}-alpine\n", 2, 1, "invalid base image 'golang:-alpine'" },
		{ "FROM Alpine\n", 1, 1, "must be lowercase" },
		{ "FROM alpine\nCOPY --form=x a b\n", 2, 1, "unknown flag '--form' for COPY" },
		{ "FROM alpine\nCOPY --chown a b\n", 2, 1, "missing a value on flag '--chown'" },
		{ "FROM alpine\nCOPY --link=maybe a b\n", 2, 1, "expecting boolean value" },
		{ "FROM alpine\nCOPY --from=a --from=b a b\n", 2, 1, "duplicate flag" },
		{ "FROM alpine\nCOPY onlyone\n", 2, 1, "COPY requires at least two arguments" },
		{ "FROM alpine\nWORKDIR\n", 2, 1, "WORKDIR requires at least one argument" },
		{ "FROM alpine\nSHELL sh -c\n", 2, 1,
		  "SHELL requires the arguments to be in JSON" },
		{ "FROM alpine\nHEALTHCHECK FOO x\n", 2, 1, "unknown type 'FOO' in HEALTHCHECK" },
		{ "FROM alpine\nHEALTHCHECK NONE x\n", 2, 1,
		  "HEALTHCHECK NONE takes no arguments" },
		{ "FROM alpine\nARG =x\n", 2, 1, "ARG names can not be blank" },
		{ "FROM alpine\nEXPOSE ${P:?noport}\n", 2, 1, "noport" },
		{ "FROM alpine\nENV A=${B:?}\n", 2, 1, "B" },
		{ "ARG X=${Y:?global}\nFROM alpine\n", 1, 1, "global" },
		{ "FROM alpine\nRUN --network=none --nope=1 true\n", 2, 1,
		  "unknown flag '--nope'" },
		{ "FROM --platform=linux/ alpine\n", 1, 1, "invalid platform" },
		{ "FROM --plat=x alpine\n", 1, 1, "unknown flag '--plat' for FROM" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r = run(cases[i].text);
		check_error(&r, cases[i].line, cases[i].column, cases[i].has, "error case");
		result_release(&r);
	}

	struct result r = run_args("FROM alpine\n", NULL, "NOEQUALS", NULL);
	tap_ok(r.plan == NULL && r.err && r.err->line == 0 && strstr(r.err->message, "build-arg"),
	       "a build-arg without '=' is refused by the library");
	result_release(&r);
}

static int fake_base_env(void *data, const char *image, const char *platform,
			 struct dockerfile_vars *env, struct plate_error **err)
{
	(*(int *)data)++;
	if (strcmp(image, "docker.io/library/golang:1.22") != 0)
		return 0;
	if (strcmp(platform, "linux/amd64") != 0)
		return plate_err_new(err, 0, "unexpected platform '%s'", platform);
	if (dockerfile_vars_set(env, "GOPATH", "/go") < 0 ||
	    dockerfile_vars_set(env, "PATH", "/go/bin:/usr/local/go/bin:/usr/bin") < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

static void test_vars_and_env(void)
{
	int calls = 0;
	struct plan_options o = { .base_env = fake_base_env,
				  .base_env_data = &calls,
				  .target_platform = "linux/amd64" };
	struct result r = run_opts("FROM golang:1.22 AS build\n"
				   "ENV PATH=/x:$PATH\n"
				   "ARG A=1\n"
				   "RUN go build\n"
				   "WORKDIR $GOPATH/src\n"
				   "FROM scratch\n"
				   "ENV P=$PATH\n"
				   "COPY --from=build /go/bin /bin\n",
				   &o);

	if (ok_plan(&r, "base image ENV")) {
		struct dockerfile_vars env;

		tap_ok(calls == 1, "base_env called once (not for scratch)");
		check_step(&r, 0, 0, "ENV PATH=/x:/go/bin:/usr/local/go/bin:/usr/bin",
			   "ENV sees the base image's PATH");
		check_step(&r, 0, 3, "WORKDIR /go/src", "WORKDIR sees the base image's ENV");
		check_step(&r, 1, 0, "ENV P=" PLAN_DEFAULT_PATH, "scratch gets the default PATH");
		dockerfile_vars_init(&env);
		tap_ok(plan_step_env(&r.plan->stages[0], 2, &env) == 0, "plan_step_env");
		tap_streq(dockerfile_vars_get(&env, "A", 1), "1", "RUN env has ARG values");
		tap_streq(dockerfile_vars_get(&env, "PATH", 4),
			  "/x:/go/bin:/usr/local/go/bin:/usr/bin", "RUN env has ENV values");
		tap_streq(dockerfile_vars_get(&env, "GOPATH", 6), "/go", "RUN env has image ENV");
		dockerfile_vars_release(&env);
	}
	result_release(&r);
}

static void test_json(void)
{
	struct result r = run("FROM alpine AS b\nENV X=1\nFROM b\nCOPY --from=b \xff /\n");
	_cleanup_buf_ struct buf out = BUF_INIT(BUF_UNLIMITED);
	_cleanup_error_ struct plate_error *err = NULL;
	const char *want = "{\n"
			   "  \"target\": 1,\n"
			   "  \"order\": [\n"
			   "    0,\n"
			   "    1\n"
			   "  ],\n"
			   "  \"stages\": [\n"
			   "    {\n"
			   "      \"index\": 0,\n"
			   "      \"name\": \"b\",\n"
			   "      \"from\": \"docker.io/library/alpine:latest\",\n"
			   "      \"from_stage\": null,\n"
			   "      \"needed\": true,\n"
			   "      \"depends_on\": [],\n"
			   "      \"steps\": [\n"
			   "        {\n"
			   "          \"line\": 2,\n"
			   "          \"instruction\": \"ENV\",\n"
			   "          \"args\": [\n"
			   "            \"X=1\"\n"
			   "          ]\n"
			   "        }\n"
			   "      ]\n"
			   "    },\n"
			   "    {\n"
			   "      \"index\": 1,\n"
			   "      \"name\": null,\n"
			   "      \"from\": null,\n"
			   "      \"from_stage\": 0,\n"
			   "      \"needed\": true,\n"
			   "      \"depends_on\": [\n"
			   "        0\n"
			   "      ],\n"
			   "      \"steps\": [\n"
			   "        {\n"
			   "          \"line\": 4,\n"
			   "          \"instruction\": \"COPY\",\n"
			   "          \"args\": [\n"
			   "            \"\xef\xbf\xbd\",\n"
			   "            \"/\"\n"
			   "          ]\n"
			   "        }\n"
			   "      ]\n"
			   "    }\n"
			   "  ]\n"
			   "}";

	if (ok_plan(&r, "JSON")) {
		tap_ok(plan_to_json(r.plan, &out, &err) == 0, "plan_to_json");
		tap_streq(out.data, want, "JSON layout, key order, invalid UTF-8 replaced");
	}
	{
		struct buf tiny = BUF_INIT(16);
		_cleanup_error_ struct plate_error *err2 = NULL;
		tap_ok(r.plan && plan_to_json(r.plan, &tiny, &err2) < 0 &&
			       err2->errno_value == E2BIG && tiny.len == 0,
		       "plan_to_json respects the buffer cap");
		buf_release(&tiny);
	}
	result_release(&r);
}

/* Hostile shapes within the parser's limits stay bounded in time and memory. */
static void test_caps(void)
{
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);
	struct result r;

	/* Thousands of stages: names are looked up through a table, not a scan. */
	for (unsigned i = 0; i < 20000; i++)
		buf_addf(&b, "FROM %s AS s%u\n", i ? "alpine" : "scratch", i);
	buf_addstr(&b, "FROM S0\nCOPY --from=s19999 / /\nCOPY --from=19998 / /\n");
	r = run(b.data);
	if (ok_plan(&r, "20001 stages"))
		check_order(&r, "0,19998,19999,20000", "20001 stages");
	result_release(&r);

	/* Every stage FROM a base with ONBUILD triggers gets a copy of them: capped. */
	buf_reset(&b);
	buf_addstr(&b, "FROM alpine AS base\n");
	for (unsigned i = 0; i < 100; i++)
		buf_addstr(&b, "ONBUILD RUN true\n");
	for (unsigned i = 0; i < 3000; i++)
		buf_addstr(&b, "FROM base\n");
	r = run(b.data);
	tap_ok(r.plan == NULL && r.err && strstr(r.err->message, "more than 262144 steps"),
	       "ONBUILD fan-out is capped");
	result_release(&r);

	/* Long chains of stages each inheriting many variables: capped. */
	buf_reset(&b);
	buf_addstr(&b, "FROM alpine AS s0\nENV");
	for (unsigned i = 0; i < 4000; i++)
		buf_addf(&b, " V%u=%u", i, i);
	buf_addch(&b, '\n');
	for (unsigned i = 1; i < 300; i++)
		buf_addf(&b, "FROM s%u AS s%u\n", i - 1, i);
	r = run(b.data);
	tap_ok(r.plan == NULL && r.err && strstr(r.err->message, "variables copied between stages"),
	       "variable copies between stages are capped");
	result_release(&r);

	buf_reset(&b);
	buf_addstr(&b, "FROM alpine\nENV");
	for (unsigned i = 0; i < 5000; i++)
		buf_addf(&b, " V%u=%u", i, i);
	buf_addch(&b, '\n');
	r = run(b.data);
	check_error(&r, 2, 1, "too many variables", "variables in one scope are capped");
	result_release(&r);

	/* Doubling a variable: each word is capped. */
	buf_reset(&b);
	buf_addstr(&b, "FROM alpine\nENV A=0123456789abcdef0123456789abcdef\n");
	for (unsigned i = 0; i < 40; i++)
		buf_addstr(&b, "ENV A=$A$A\n");
	r = run(b.data);
	tap_ok(r.plan == NULL && r.err && r.err->line > 2 && r.err->line < 40,
	       "doubling a variable stops at the word cap");
	result_release(&r);
}

int main(void)
{
	test_seed_pattern();
	test_arg_scope();
	test_env();
	test_from_var_and_stages();
	test_target();
	test_copy_from();
	test_run_mount();
	test_run_flags();
	test_copy_flags();
	test_platform();
	test_predefined();
	test_onbuild();
	test_errors();
	test_vars_and_env();
	test_json();
	test_caps();
	return tap_done();
}
