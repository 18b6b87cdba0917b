/*
 * bench_layer — throughput and peak memory of the layer module on real data.
 *
 *   build/bench/bench_layer LAYER [DIR]
 *
 * 1. extracts LAYER (any compression) into a temp dir (or uses DIR when given),
 * 2. writes that tree as a gzip and as a zstd layer,
 * 3. extracts the zstd layer,
 * and for comparison times `tar -c | pigz -p2`, `tar -c | zstd -T2` and `zcat | tar -x`
 * on the same data.  Every measured step runs in a child process, so the peak RSS
 * printed (getrusage of that child) is the step's own, and so is the CPU time (user +
 * system, the child's children included: the shell pipelines count whole).  MB/s are of
 * uncompressed tar bytes (10^6 bytes per MB) over wall time.  Temp files go to $TMPDIR
 * (default /tmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "layer/layer.h"

struct measure {
	double seconds;
	double cpu_seconds; /* user + system of the child and its children */
	long max_rss_kb;
	unsigned long long tar_bytes, stored_bytes;
	int status;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_err(const char *what, struct plate_error *err)
{
	char *msg = plate_error_format(err);

	fprintf(stderr, "bench_layer: %s: %s\n", what, msg != NULL ? msg : "?");
	exit(1);
}

/* Runs fn in a child; the child writes two counters into a pipe. */
static struct measure run_child(int (*fn)(const char *, const char *, const char *,
					  unsigned long long[2]),
				const char *a, const char *b, const char *c)
{
	struct measure m = { 0 };
	struct rusage ru;
	int pipefd[2];
	double start = now();
	pid_t pid;

	if (pipe(pipefd) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		unsigned long long counts[2] = { 0, 0 };
		close(pipefd[0]);
		int r = fn(a, b, c, counts);
		if (write(pipefd[1], counts, sizeof(counts)) != sizeof(counts))
			_exit(1);
		_exit(r == 0 ? 0 : 1);
	}
	close(pipefd[1]);
	unsigned long long counts[2] = { 0, 0 };
	if (read(pipefd[0], counts, sizeof(counts)) != sizeof(counts))
		counts[0] = counts[1] = 0;
	close(pipefd[0]);
	wait4(pid, &m.status, 0, &ru);
	m.seconds = now() - start;
	m.max_rss_kb = ru.ru_maxrss;
	m.cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	m.tar_bytes = counts[0];
	m.stored_bytes = counts[1];
	return m;
}

static int do_extract(const char *layer, const char *dir, const char *unused,
		      unsigned long long counts[2])
{
	struct plate_error *err = NULL;
	struct layer_extract_options o = { .devices = LAYER_DEVICES_CREATE };
	struct layer_extract_result res;
	int in = open(layer, O_RDONLY | O_CLOEXEC);
	int target;

	mkdir(dir, 0755);
	target = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (in < 0 || target < 0) {
		perror("bench_layer: open");
		return -1;
	}
	if (layer_extract(in, target, &o, &res, &err) < 0)
		die_err("extract", err);
	counts[0] = res.layer.uncompressed_size;
	counts[1] = res.layer.size;
	return 0;
}

static int do_write(const char *dir, const char *out, const char *compression,
		    unsigned long long counts[2])
{
	struct plate_error *err = NULL;
	struct layer_writer_options o = { .compression = compression, .epoch = 0 };
	struct layer_writer *w = NULL;
	struct layer_result res;
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (d < 0 || fd < 0) {
		perror("bench_layer: open");
		return -1;
	}
	if (layer_writer_new(fd, &o, &w, &err) < 0 ||
	    layer_writer_add_tree(w, d, "", 0, &err) < 0 || layer_writer_finish(w, &res, &err) < 0)
		die_err("write", err);
	layer_writer_free(w);
	counts[0] = res.uncompressed_size;
	counts[1] = res.size;
	return 0;
}

static int do_shell(const char *cmd, const char *unused1, const char *unused2,
		    unsigned long long counts[2])
{
	return system(cmd) == 0 ? 0 : -1;
}

static void report(const char *what, struct measure m, unsigned long long tar_bytes)
{
	unsigned long long bytes = m.tar_bytes != 0 ? m.tar_bytes : tar_bytes;

	printf("%-30s %6.2f s wall %6.2f s cpu %7.1f MB/s  peak RSS %5.1f MiB%s", what, m.seconds,
	       m.cpu_seconds, (double)bytes / 1e6 / m.seconds, (double)m.max_rss_kb / 1024.0,
	       m.status != 0 ? "  FAILED" : "");
	if (m.stored_bytes != 0)
		printf("  (%.1f MB tar, %.1f MB stored)", (double)m.tar_bytes / 1e6,
		       (double)m.stored_bytes / 1e6);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *tmpdir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	char work[4096], tree[4200], gz[4200], zst[4200], again[4200], cmd[20000];
	struct measure m;
	unsigned long long tar_bytes;

	if (argc < 2) {
		fprintf(stderr, "usage: %s LAYER [DIR]\n", argv[0]);
		return 2;
	}
	snprintf(work, sizeof(work), "%s/bench_layer.XXXXXX", tmpdir);
	if (mkdtemp(work) == NULL) {
		perror("bench_layer: mkdtemp");
		return 1;
	}
	snprintf(tree, sizeof(tree), "%s/tree", work);
	snprintf(gz, sizeof(gz), "%s/layer.tar.gz", work);
	snprintf(zst, sizeof(zst), "%s/layer.tar.zst", work);
	snprintf(again, sizeof(again), "%s/again", work);

	m = run_child(do_extract, argv[1], tree, NULL);
	report("plate extract (input layer)", m, 0);
	tar_bytes = m.tar_bytes;
	const char *dir = argc > 2 ? argv[2] : tree;

	m = run_child(do_write, dir, gz, "gzip");
	report("plate write gzip (2 threads)", m, 0);
	tar_bytes = m.tar_bytes;
	m = run_child(do_write, dir, zst, "zstd");
	report("plate write zstd (2 workers)", m, 0);
	m = run_child(do_extract, zst, again, NULL);
	report("plate extract (zstd layer)", m, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", again);
	system(cmd);
	m = run_child(do_extract, gz, again, NULL);
	report("plate extract (gzip layer)", m, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", again, again);
	system(cmd);

	snprintf(cmd, sizeof(cmd), "tar -C '%s' -cf - . | pigz -p2 -6 > '%s/pigz.tar.gz'", dir,
		 work);
	report("tar -c | pigz -p2 -6", run_child(do_shell, cmd, NULL, NULL), tar_bytes);
	snprintf(cmd, sizeof(cmd), "tar -C '%s' -cf - . | zstd -q -T2 -3 > '%s/cli.tar.zst'", dir,
		 work);
	report("tar -c | zstd -T2 -3", run_child(do_shell, cmd, NULL, NULL), tar_bytes);
	snprintf(cmd, sizeof(cmd), "zcat '%s' | tar -x -C '%s'", gz, again);
	report("zcat | tar -x", run_child(do_shell, cmd, NULL, NULL), tar_bytes);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s' && zstd -q -dc '%s' | tar -x -C '%s'",
		 again, again, zst, again);
	report("zstd -dc | tar -x", run_child(do_shell, cmd, NULL, NULL), tar_bytes);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	system(cmd);
	return 0;
}
