/*
 * sandbox-run — test tool: fills a struct sandbox_spec from its options and calls
 * sandbox_run().  Not a user command; tests/integration/sandbox.sh drives it.
 *
 *   sandbox-run --tmpdir DIR (--rootfs DIR | --lower DIR... --upper DIR --work DIR)
 *               [--bind SRC:DST[:ro]]... [--tmpfs DST[:SIZE]]... [--env K=V]...
 *               [--uid N] [--gid N] [--groups A,B,...] [--cwd DIR] [--hostname NAME]
 *               [--net none|host|private] [--net-helper PATH]
 *               [--etc resolv,hosts,hostname] [--resolv-conf TEXT]
 *               [--timeout MS] [--output-callback] [--report FILE] [--threads N] [--insecure]
 *               -- ARGV...
 *
 * Exit status: the command's status (bash style); 125 when sandbox_run() fails, 124 on a
 * timeout, 130 when cancelled (SIGINT or SIGTERM to this tool cancel the run through the
 * spec's cancel_fd).  The error text goes to stderr.  --report FILE writes
 * "status=N signal=N" after a run.  --output-callback routes the command's stdout and
 * stderr through the output callback, which prefixes every chunk with "[1] " or "[2] ".
 * --threads N runs the same spec N times at once from N threads (the engine's parallel
 * stages); every run must succeed with the same status, which becomes the exit status
 * (126 when the statuses differ).  --insecure sets the spec's `insecure` (no seccomp
 * filter, the caller's capabilities).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "sandbox/sandbox.h"

#define MAX_ITEMS 256

static int cancel_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	char c = (char)sig;
	int saved = errno;

	if (write(cancel_pipe[1], &c, 1) < 0) {
		/* Nothing to do in a handler: the run simply is not cancelled. */
	}
	errno = saved;
}

static void print_chunk(void *data, int fd, const char *chunk, size_t len)
{
	FILE *out = fd == 1 ? stdout : stderr;

	(void)data;
	fprintf(out, "[%d] %.*s", fd, (int)len, chunk);
	fflush(out);
}

struct job {
	const struct sandbox_spec *spec;
	struct sandbox_result result;
	struct plate_error *err;
};

static void *run_job(void *arg)
{
	struct job *job = arg;

	sandbox_run(job->spec, &job->result, &job->err);
	return NULL;
}

static int run_threads(const struct sandbox_spec *spec, int n)
{
	struct job jobs[64];
	pthread_t threads[64];
	int status = -1, rc = 0;

	if (n < 1 || n > 64)
		n = 1;
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct job){ .spec = spec };
		if (pthread_create(&threads[i], NULL, run_job, &jobs[i]) != 0) {
			fprintf(stderr, "sandbox-run: pthread_create failed\n");
			return 125;
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_join(threads[i], NULL);
		if (jobs[i].err != NULL) {
			_cleanup_free_ char *text = plate_error_format(jobs[i].err);

			fprintf(stderr, "sandbox-run: thread %d: %s\n", i, text ? text : "?");
			plate_error_free(jobs[i].err);
			rc = 125;
		} else if (status >= 0 && jobs[i].result.status != status) {
			fprintf(stderr, "sandbox-run: thread %d: status %d, not %d\n", i,
				jobs[i].result.status, status);
			rc = 126;
		} else {
			status = jobs[i].result.status;
		}
	}
	return rc != 0 ? rc : status;
}

static int usage(const char *msg)
{
	fprintf(stderr, "sandbox-run: %s\n", msg);
	return 2;
}

int main(int argc, char **argv)
{
	static const char *lowers[MAX_ITEMS], *env[MAX_ITEMS];
	static struct sandbox_mount mounts[MAX_ITEMS];
	static gid_t groups[MAX_ITEMS];
	_cleanup_error_ struct plate_error *err = NULL;
	struct sandbox_spec spec;
	struct sandbox_result result = { 0 };
	const char *report = NULL;
	int i, threads = 0;

	sandbox_spec_init(&spec);
	spec.stdin_fd = 0;
	spec.stdout_fd = 1;
	spec.stderr_fd = 2;
	spec.lowerdirs = lowers;
	spec.env = env;
	spec.mounts = mounts;
	spec.groups = groups;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--output-callback") == 0) {
			spec.output = print_chunk;
			continue;
		}
		if (strcmp(opt, "--insecure") == 0) {
			spec.insecure = true;
			continue;
		}
		if (val == NULL)
			return usage("option needs a value");
		i++;
		if (strcmp(opt, "--tmpdir") == 0) {
			spec.tmpdir = val;
		} else if (strcmp(opt, "--rootfs") == 0) {
			spec.rootfs = val;
		} else if (strcmp(opt, "--lower") == 0 && spec.n_lowerdirs < MAX_ITEMS) {
			spec.rootfs_mode = SANDBOX_ROOTFS_OVERLAY;
			lowers[spec.n_lowerdirs++] = val;
		} else if (strcmp(opt, "--upper") == 0) {
			spec.upperdir = val;
		} else if (strcmp(opt, "--work") == 0) {
			spec.workdir = val;
		} else if ((strcmp(opt, "--bind") == 0 || strcmp(opt, "--tmpfs") == 0) &&
			   spec.n_mounts < MAX_ITEMS) {
			struct sandbox_mount *m = &mounts[spec.n_mounts++];
			char *copy = strdup(val), *colon;

			if (opt[2] == 'b') {
				m->type = SANDBOX_MOUNT_BIND;
				m->source = copy;
				colon = strchr(copy, ':');
				if (colon == NULL)
					return usage("--bind needs SRC:DST");
				*colon = '\0';
				m->target = colon + 1;
				colon = strchr(colon + 1, ':');
				if (colon != NULL) {
					*colon = '\0';
					if (strcmp(colon + 1, "ro") == 0)
						m->flags |= SANDBOX_MOUNT_READONLY;
				}
			} else {
				m->type = SANDBOX_MOUNT_TMPFS;
				m->target = copy;
				colon = strchr(copy, ':');
				if (colon != NULL) {
					*colon = '\0';
					m->tmpfs_size = strtoull(colon + 1, NULL, 10);
				}
			}
		} else if (strcmp(opt, "--env") == 0 && spec.n_env < MAX_ITEMS) {
			env[spec.n_env++] = val;
		} else if (strcmp(opt, "--uid") == 0) {
			spec.uid = (uid_t)strtoul(val, NULL, 10);
		} else if (strcmp(opt, "--gid") == 0) {
			spec.gid = (gid_t)strtoul(val, NULL, 10);
		} else if (strcmp(opt, "--groups") == 0) {
			for (const char *p = val; *p != '\0' && spec.n_groups < MAX_ITEMS;) {
				char *end;
				groups[spec.n_groups++] = (gid_t)strtoul(p, &end, 10);
				p = *end == ',' ? end + 1 : end;
			}
		} else if (strcmp(opt, "--cwd") == 0) {
			spec.cwd = val;
		} else if (strcmp(opt, "--hostname") == 0) {
			spec.hostname = val;
		} else if (strcmp(opt, "--net") == 0) {
			spec.network = strcmp(val, "host") == 0	     ? SANDBOX_NET_HOST
				       : strcmp(val, "private") == 0 ? SANDBOX_NET_PRIVATE
								     : SANDBOX_NET_NONE;
		} else if (strcmp(opt, "--net-helper") == 0) {
			spec.net_helper = val;
		} else if (strcmp(opt, "--etc") == 0) {
			if (strstr(val, "resolv") != NULL)
				spec.etc_files |= SANDBOX_ETC_RESOLV_CONF;
			if (strstr(val, "hosts") != NULL)
				spec.etc_files |= SANDBOX_ETC_HOSTS;
			if (strstr(val, "hostname") != NULL)
				spec.etc_files |= SANDBOX_ETC_HOSTNAME;
		} else if (strcmp(opt, "--resolv-conf") == 0) {
			spec.resolv_conf = val;
		} else if (strcmp(opt, "--timeout") == 0) {
			spec.timeout_ms = (unsigned)strtoul(val, NULL, 10);
		} else if (strcmp(opt, "--report") == 0) {
			report = val;
		} else if (strcmp(opt, "--threads") == 0) {
			threads = atoi(val);
		} else {
			return usage("unknown option or too many items");
		}
	}
	if (i >= argc)
		return usage("missing -- ARGV");
	spec.argv = (const char *const *)argv + i + 1;
	spec.n_argv = (size_t)(argc - i - 1);

	if (pipe2(cancel_pipe, O_CLOEXEC) < 0)
		return usage("pipe");
	spec.cancel_fd = cancel_pipe[0];
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (threads > 0)
		return run_threads(&spec, threads);

	if (sandbox_run(&spec, &result, &err) < 0) {
		_cleanup_free_ char *text = plate_error_format(err);

		fprintf(stderr, "sandbox-run: %s\n", text != NULL ? text : err->message);
		if (err->errno_value == ETIMEDOUT)
			return 124;
		if (err->errno_value == ECANCELED)
			return 130;
		return 125;
	}
	if (report != NULL) {
		FILE *f = fopen(report, "w");
		if (f != NULL) {
			fprintf(f, "status=%d signal=%d\n", result.status, result.signal);
			fclose(f);
		}
	}
	return result.status;
}
