/*
 * Running `docker-credential-<helper> get|store|erase`: the helper protocol of
 * docker-credential-helpers (get and erase: the server URL on stdin; get answers JSON
 * {"ServerURL","Username","Secret"} on standard output, store reads that JSON on stdin; a
 * non-zero exit with "credentials not found" when it has none).  Kept apart from the pure parsers because
 * it spawns a process; the client only calls it when options.credential_helpers is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

#define HELPER_OUTPUT_MAX (64u << 10)
#define HELPER_TIMEOUT_MS 30000

extern char **environ;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Feeds the helper its input and collects its output until both are done, the cap, or the deadline. */
static int exchange(int in_fd, int out_fd, const char *input, struct buf *output,
		    struct plate_error **err)
{
	size_t sent = 0, in_len = strlen(input);
	int64_t deadline = mono_ms() + HELPER_TIMEOUT_MS;
	struct pollfd fds[2];

	while (out_fd >= 0) {
		int nfds = 0, timeout = (int)(deadline - mono_ms());

		if (timeout <= 0)
			return plate_err_new(err, ETIMEDOUT, "credential helper did not answer");
		fds[nfds++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
		if (in_fd >= 0)
			fds[nfds++] = (struct pollfd){ .fd = in_fd, .events = POLLOUT };
		if (poll(fds, (nfds_t)nfds, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return plate_err_new(err, errno, "poll on credential helper");
		}
		if (in_fd >= 0 && fds[1].revents != 0) {
			ssize_t w = write(in_fd, input + sent, in_len - sent);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				in_fd = -1; /* helper closed stdin: its answer tells the rest */
			else if (w > 0 && (sent += (size_t)w) == in_len)
				in_fd = -1;
			if (in_fd < 0)
				return -2; /* caller closes stdin and calls again */
		}
		if (fds[0].revents != 0) {
			char chunk[4096];
			ssize_t r = read(out_fd, chunk, sizeof(chunk));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0)
				return 0;
			if (buf_add(output, chunk, (size_t)r) < 0)
				return plate_err_new(err, E2BIG,
						     "credential helper output too large");
		}
	}
	return 0;
}

/* Runs `docker-credential-<helper> verb` with input on its stdin; its standard output in
 * *output and its wait status in *status.  0, or -1 when it could not be run or timed out. */
static int run_helper(const char *helper, const char *dir, const char *verb, const char *input,
		      struct buf *output, int *status, struct plate_error **err)
{
	_cleanup_free_ char *prog = NULL;
	posix_spawn_file_actions_t fa;
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	int rc = -1, r;
	pid_t pid = -1;
	char *argv[3];

	for (const char *c = helper; *c; c++)
		if (*c == '/')
			return plate_err_new(err, EINVAL, "bad credential helper name '%s'",
					     helper);
	if ((dir ? asprintf(&prog, "%s/docker-credential-%s", dir, helper)
		 : asprintf(&prog, "docker-credential-%s", helper)) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
		plate_err_new(err, errno, "pipe for credential helper");
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	argv[0] = prog;
	argv[1] = (char *)verb;
	argv[2] = NULL;
	r = dir ? posix_spawn(&pid, prog, &fa, NULL, argv, environ)
		: posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		plate_err_new(err, r, "cannot run credential helper '%s'", prog);
		pid = -1;
		goto out;
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	in_pipe[0] = out_pipe[1] = -1;
	fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
	/* A helper that exits without reading its stdin must not kill us with SIGPIPE: the
	 * write fails with EPIPE instead (MSG_NOSIGNAL does not exist for pipes). */
	sigset_t pipe_set, old_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	r = exchange(in_pipe[1], out_pipe[0], input, output, err);
	if (r == -2) {
		close(in_pipe[1]);
		in_pipe[1] = -1;
		r = exchange(-1, out_pipe[0], input, output, err);
	}
	{
		/* discard a SIGPIPE raised while blocked, then restore the mask */
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (r < 0) {
		kill(pid, SIGKILL);
		goto out;
	}
	close(in_pipe[1]);
	in_pipe[1] = -1;
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	rc = 0;
out:
	if (pid > 0)
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	return rc;
}

/* 0 when the helper succeeded, 1 when it said it has no credentials, -1 otherwise. */
static int helper_status(const char *helper, const char *verb, int status, const struct buf *output,
			 struct plate_error **err)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* docker-credential-helpers print "credentials not found in native keychain" */
	if (strstr(output->data, "credentials not found") != NULL)
		return 1;
	return plate_err_new(err, 0, "credential helper 'docker-credential-%s %s' failed (%s %d)",
			     helper, verb, WIFEXITED(status) ? "exit status" : "signal",
			     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int registry_credential_helper_get(const char *helper, const char *dir, const char *server_url,
				   struct registry_credentials *cred, struct plate_error **err)
{
	_cleanup_free_ char *input = NULL;
	_cleanup_buf_ struct buf output = BUF_INIT(HELPER_OUTPUT_MAX);
	int rc = -1, status = 0, r;

	if (asprintf(&input, "%s\n", server_url) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (run_helper(helper, dir, "get", input, &output, &status, err) < 0 ||
	    (r = helper_status(helper, "get", status, &output, err)) < 0)
		goto out;
	if (r == 1) {
		rc = 0;
		goto out;
	}
	if (registry_credential_helper_parse(output.data, output.len, cred, err) < 0) {
		plate_err_wrap(err, "credential helper 'docker-credential-%s'", helper);
		goto out;
	}
	rc = 1;
out:
	if (output.len > 0)
		explicit_bzero(output.data, output.len);
	return rc;
}

int registry_credential_helper_store(const char *helper, const char *dir, const char *server_url,
				     const char *username, const char *secret,
				     struct plate_error **err)
{
	_cleanup_buf_ struct buf output = BUF_INIT(HELPER_OUTPUT_MAX);
	json_t *doc = json_pack("{s:s, s:s, s:s}", "ServerURL", server_url, "Username", username,
				"Secret", secret);
	char *input = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int status = 0, rc;

	json_decref(doc);
	if (input == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	rc = run_helper(helper, dir, "store", input, &output, &status, err);
	explicit_bzero(input, strlen(input));
	free(input);
	if (rc < 0 || (rc = helper_status(helper, "store", status, &output, err)) < 0)
		return -1;
	return rc == 0 ? 0 : plate_err_new(err, 0, "credential helper '%s' did not store", helper);
}

int registry_credential_helper_erase(const char *helper, const char *dir, const char *server_url,
				     struct plate_error **err)
{
	_cleanup_free_ char *input = NULL;
	_cleanup_buf_ struct buf output = BUF_INIT(HELPER_OUTPUT_MAX);
	int status = 0, r;

	if (asprintf(&input, "%s\n", server_url) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (run_helper(helper, dir, "erase", input, &output, &status, err) < 0 ||
	    (r = helper_status(helper, "erase", status, &output, err)) < 0)
		return -1;
	return r == 0 ? 1 : 0;
}
