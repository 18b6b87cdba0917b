/*
 * Benchmark of the front end: dockerfile_parse() + plan_build() + plan_to_json() over a large
 * generated Dockerfile (200 stages x 50 instructions by default: ARG, ENV with expansion,
 * COPY --from an earlier stage, RUN --mount, WORKDIR, LABEL), every stage needed.
 * Prints the best of 5 runs as MB/s of Dockerfile text and instructions/s.
 *
 *   build/bench/bench_plan [STAGES [INSTRUCTIONS_PER_STAGE]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile.h"
#include "plan/plan.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int generate(struct buf *b, unsigned stages, unsigned per_stage, size_t *instructions)
{
	size_t n = 0;

	if (buf_addstr(b, "# syntax=docker/dockerfile:1\nARG BASE=golang:1.22-alpine\n"
			  "ARG VERSION=1.0.0\n") < 0)
		return -1;
	n += 2;
	for (unsigned s = 0; s < stages; s++) {
		if (s % 10 == 0 || s == 0) {
			if (buf_addf(b, "\nFROM --platform=$BUILDPLATFORM ${BASE} AS s%u\n", s) < 0)
				return -1;
		} else if (buf_addf(b, "\nFROM s%u AS s%u\n", s - 1, s) < 0) {
			return -1;
		}
		n++;
		if (buf_addstr(b, "ARG VERSION\nARG TARGETARCH\n") < 0)
			return -1;
		n += 2;
		for (unsigned i = 2; i < per_stage; i++, n++) {
			int rc;
			switch (i % 6) {
			case 0:
				rc = buf_addf(b, "ARG A%u=value-%u-${VERSION}\n", i, s);
				break;
			case 1:
				rc = buf_addf(b,
					      "ENV E%u=\"${A%u:-default}-$TARGETARCH\" "
					      "PATH=/opt/%u/bin:$PATH\n",
					      i, i - 1, i);
				break;
			case 2:
				if (s > 0)
					rc = buf_addf(b,
						      "COPY --from=s%u --chown=65534:65534 "
						      "/out/%u/ /in/${A%u}/\n",
						      s - 1, i, i - 2);
				else
					rc = buf_addf(b,
						      "COPY --chown=65534:65534 src/%u/ "
						      "/in/${A%u}/\n",
						      i, i - 2);
				break;
			case 3:
				rc = buf_addf(
					b,
					"RUN --mount=type=cache,target=/root/.cache/go-build \\\n"
					"    --mount=type=bind,source=go.sum,target=go.sum \\\n"
					"    CGO_ENABLED=0 go build -o /out/%u/app-$E%u ./cmd/%u\n",
					i, i - 2, i);
				break;
			case 4:
				rc = buf_addf(b, "WORKDIR /work/${A%u}/%u\n", i - 4, i);
				break;
			default:
				rc = buf_addf(b,
					      "LABEL org.example.step%u=\"$E%u\" "
					      "org.example.stage=s%u\n",
					      i, i - 4, s);
				break;
			}
			if (rc < 0)
				return -1;
		}
	}
	*instructions = n;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned stages = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
	unsigned per_stage = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 50;
	_cleanup_buf_ struct buf text = BUF_INIT(BUF_UNLIMITED);
	double best = 1e30, best_parse = 1e30, best_plan = 1e30, best_json = 1e30;
	size_t instructions = 0, json_len = 0;

	if (stages == 0 || per_stage < 3 || generate(&text, stages, per_stage, &instructions) < 0) {
		fprintf(stderr, "bench_plan: cannot generate the Dockerfile\n");
		return 1;
	}
	for (int run = 0; run < 5; run++) {
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_buf_ struct buf json = BUF_INIT(BUF_UNLIMITED);
		struct dockerfile *df = NULL;
		struct plan *plan = NULL;
		double t0 = now(), t1 = 0, t2 = 0, dt;

		if (dockerfile_parse(text.data, text.len, NULL, &df, &err) < 0 || (t1 = now(), 0) ||
		    plan_build(df, NULL, &plan, &err) < 0 || (t2 = now(), 0) ||
		    plan_to_json(plan, &json, &err) < 0) {
			_cleanup_free_ char *msg = plate_error_format(err);
			fprintf(stderr, "bench_plan: %u:%u: %s\n", err->line, err->column,
				msg ? msg : err->message);
			plan_free(plan);
			dockerfile_free(df);
			return 1;
		}
		dt = now() - t0;
		if (dt < best)
			best = dt;
		if (t1 - t0 < best_parse)
			best_parse = t1 - t0;
		if (t2 - t1 < best_plan)
			best_plan = t2 - t1;
		if (t0 + dt - t2 < best_json)
			best_json = t0 + dt - t2;
		json_len = json.len;
		plan_free(plan);
		dockerfile_free(df);
	}
	printf("bench_plan: %u stages x %u instructions = %zu instructions, %.2f MB Dockerfile, "
	       "%.2f MB JSON\n",
	       stages, per_stage, instructions, (double)text.len / 1e6, (double)json_len / 1e6);
	printf("parse+plan+json: best of 5 %.1f ms, %.1f MB/s, %.0f instructions/s\n", best * 1e3,
	       (double)text.len / 1e6 / best, (double)instructions / best);
	printf("  best parse %.1f ms, plan %.1f ms, json %.1f ms\n", best_parse * 1e3,
	       best_plan * 1e3, best_json * 1e3);
	return 0;
}
