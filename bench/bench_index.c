/*
 * bench_index — what the snapshot index costs: building it from an extracted layer tree
 * (what every snapshot creation now does, in place of the walk that counted the tree for
 * info.json) and parsing it (what `plate check` does per layer).
 *
 *   build/bench/bench_index DIR [RUNS]
 *
 * Prints the medians of RUNS runs (default 5, after one warm-up) of: layer_index_build()
 * on DIR, a bare nftw(FTW_PHYS) walk with one lstat per entry (the walk it replaces), and
 * layer_index_parse() of the result; wall and CPU milliseconds, and the index size.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "layer/layer.h"

static double ms(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned long long walked;

static int count(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	walked++;
	return 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 2 ? atoi(argv[2]) : 5, fd;
	double w[3][64], c[3][64];
	size_t size = 0;
	uint64_t entries = 0, bytes = 0;

	if (argc < 2 || runs < 1 || runs > 63) {
		fprintf(stderr, "usage: bench_index DIR [RUNS]\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int r = 0; r <= runs; r++) {
		struct buf b = BUF_INIT(LAYER_INDEX_MAX);
		struct plate_error *err = NULL;
		struct layer_index *ix = NULL;
		double w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_PROCESS_CPUTIME_ID);
		if (layer_index_build(fd, NULL, &b, &entries, &bytes, &err) < 0) {
			fprintf(stderr, "bench_index: %s\n", err->message);
			return 1;
		}
		double w1 = ms(CLOCK_MONOTONIC), c1 = ms(CLOCK_PROCESS_CPUTIME_ID);
		walked = 0;
		nftw(argv[1], count, 64, FTW_PHYS);
		double w2 = ms(CLOCK_MONOTONIC), c2 = ms(CLOCK_PROCESS_CPUTIME_ID);
		if (layer_index_parse(b.data, b.len, NULL, &ix, &err) < 0) {
			fprintf(stderr, "bench_index: %s\n", err->message);
			return 1;
		}
		double w3 = ms(CLOCK_MONOTONIC), c3 = ms(CLOCK_PROCESS_CPUTIME_ID);
		layer_index_free(ix);
		size = b.len;
		buf_release(&b);
		if (r == 0)
			continue;
		w[0][r - 1] = w1 - w0, c[0][r - 1] = c1 - c0;
		w[1][r - 1] = w2 - w1, c[1][r - 1] = c2 - c1;
		w[2][r - 1] = w3 - w2, c[2][r - 1] = c3 - c2;
	}
	for (int k = 0; k < 3; k++) {
		qsort(w[k], (size_t)runs, sizeof(double), cmp);
		qsort(c[k], (size_t)runs, sizeof(double), cmp);
	}
	printf("tree: %llu entries, %llu bytes in files; index %zu bytes\n",
	       (unsigned long long)entries, (unsigned long long)bytes, size);
	printf("index build  %6.1f ms wall %6.1f ms cpu\n", w[0][runs / 2], c[0][runs / 2]);
	printf("bare walk    %6.1f ms wall %6.1f ms cpu  (nftw + lstat: what info.json cost)\n",
	       w[1][runs / 2], c[1][runs / 2]);
	printf("index parse  %6.1f ms wall %6.1f ms cpu\n", w[2][runs / 2], c[2][runs / 2]);
	return 0;
}
