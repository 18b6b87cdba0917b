/*
 * The epoch of a build: --build-arg SOURCE_DATE_EPOCH=N, else $SOURCE_DATE_EPOCH, else the
 * commit time of the context's git HEAD (the convention of reproducible-build tooling: the
 * same commit gives the same image, and its dates mean something), else 0.
 *
 * The commit time is read by `git log -1 --format=%ct HEAD` in the context.  The context may
 * be someone else's checkout, and a repository's own config can name programs that git runs:
 * every setting that could make this command run one is overridden on the command line
 * (core.fsmonitor for the index, log.showSignature and gpg.program for signed commits,
 * core.pager), the environment that could redirect git (GIT_DIR, GIT_CONFIG_*,
 * GIT_EXTERNAL_DIFF, GIT_PAGER) is cleared, and git's own safe.directory check stays on: a
 * repository owned by another user is refused by git and the epoch is then 0, with the reason.
 *
 * git is not started at all (a fork, an exec and git's own start: ~3 ms of every build) when
 * it could only say "not a git repository": with GIT_DIR cleared, git looks for a repository
 * in the context's real directory and each of its parents, as a `.git` entry or as a bare
 * repository, which holds a `HEAD`; where none of them has either name, there is none to
 * find.  Anything else (an entry of either name, of any type, or one that cannot be looked
 * at) is left to git, which alone knows worktrees, gitdir files, ceilings and ownership.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli.h"

static int parse_epoch(struct cli_ctx *ctx, const char *what, const char *v, long long *epoch,
		       struct plate_error **err)
{
	char *end;

	errno = 0;
	*epoch = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || *epoch < 0 || end == v)
		return cli_usage_error(ctx, err, "%s '%s' is not a number of seconds", what, v);
	return 0;
}

/* git's stdout and stderr, at most size - 1 bytes of each, NUL-terminated, read together
 * so that a git filling one pipe cannot block while the other is read.  A pipe is closed
 * once its buffer is full: a git that writes on gets SIGPIPE instead of blocking. */
static void read_outputs(int fds[2], char *bufs[2], size_t size)
{
	size_t n[2] = { 0, 0 };

	while (fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN },
				       { .fd = fds[1], .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t r;
			if (fds[i] < 0 || p[i].revents == 0)
				continue;
			r = read(fds[i], bufs[i] + n[i], size - 1 - n[i]);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0)
				n[i] += (size_t)r;
			if (r <= 0 || n[i] == size - 1) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		bufs[i][n[i]] = '\0';
	}
}

/* The environment without what could point git at another repository or config. */
static char **git_environment(void)
{
	static const char *const unset[] = {
		"GIT_DIR",	     "GIT_WORK_TREE",	     "GIT_CONFIG",
		"GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",    "GIT_CONFIG_PARAMETERS",
		"GIT_CONFIG_COUNT",  "GIT_EXTERNAL_DIFF",    "GIT_PAGER",
		"GIT_INDEX_FILE",    "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"
	};
	size_t n_env = 0, k = 0;
	char **env;

	for (char **e = environ; *e != NULL; e++)
		n_env++;
	env = calloc(n_env + 2, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (char **e = environ; *e != NULL; e++) {
		bool drop = false;
		for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++) {
			size_t l = strlen(unset[i]);
			drop = drop || (strncmp(*e, unset[i], l) == 0 && (*e)[l] == '=');
		}
		if (!drop)
			env[k++] = *e;
	}
	env[k] = "GIT_TERMINAL_PROMPT=0";
	return env;
}

/* Runs `git log -1 --format=%ct HEAD` in dir: its exit status, or -1 with why set. */
static int run_git_log(const char *dir, char *out, char *errtext, size_t size, char *why,
		       size_t why_size)
{
	char *argv[] = { "git",
			 "--no-pager",
			 "-c",
			 "core.fsmonitor=false",
			 "-c",
			 "log.showSignature=false",
			 "-c",
			 "gpg.program=false",
			 "-c",
			 "core.pager=cat",
			 "-C",
			 (char *)dir,
			 "log",
			 "-1",
			 "--no-show-signature",
			 "--format=%ct",
			 "HEAD",
			 "--",
			 NULL };
	_cleanup_free_ char **env = git_environment();
	posix_spawn_file_actions_t fa;
	int out_pipe[2], err_pipe[2], status, r;
	pid_t pid;

	if (env == NULL) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	if (pipe2(out_pipe, O_CLOEXEC) < 0) {
		snprintf(why, why_size, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(err_pipe, O_CLOEXEC) < 0) {
		snprintf(why, why_size, "pipe: %s", strerror(errno));
		close(out_pipe[0]);
		close(out_pipe[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
	r = posix_spawnp(&pid, "git", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(out_pipe[1]);
	close(err_pipe[1]);
	read_outputs((int[2]){ out_pipe[0], err_pipe[0] }, (char *[2]){ out, errtext }, size);
	if (r != 0) {
		snprintf(why, why_size, "git: %s", strerror(r));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* True when no directory from dir up to / has a `.git` or a `HEAD`: git would find no
 * repository there (see the header comment). */
static bool surely_no_repository(const char *dir)
{
	_cleanup_free_ char *path = realpath(dir, NULL);
	size_t len;

	if (path == NULL)
		return false;
	len = strlen(path);
	for (;;) {
		static const char *const names[] = { ".git", "HEAD" };
		int fd = open(len > 0 ? path : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return false;
		for (size_t i = 0; i < 2; i++) {
			struct stat st;
			if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 ||
			    errno != ENOENT) {
				close(fd);
				return false;
			}
		}
		close(fd);
		if (len == 0)
			return true;
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 0)
			len--;
		path[len] = '\0';
	}
}

/* The HEAD commit time of the repository dir is in, or -1 with the reason in why. */
static long long git_head_time(const char *dir, char *why, size_t why_size)
{
	char out[256], errtext[256], *end;
	long long t;
	int status;

	if (surely_no_repository(dir)) {
		snprintf(why, why_size, "not a git repository");
		return -1;
	}
	status = run_git_log(dir, out, errtext, sizeof(out), why, why_size);
	if (status < 0)
		return -1;
	if (status != 0) {
		char *nl = strchr(errtext, '\n');
		if (nl != NULL)
			*nl = '\0';
		snprintf(why, why_size, "%s", errtext[0] ? errtext : "git failed");
		return -1;
	}
	errno = 0;
	t = strtoll(out, &end, 10);
	if (errno != 0 || end == out || (*end != '\n' && *end != '\0') || t < 0) {
		snprintf(why, why_size, "git printed no commit time");
		return -1;
	}
	return t;
}

int cli_build_epoch(struct cli_ctx *ctx, const char *context, const char *const *build_args,
		    size_t n_build_args, long long *epoch, char *source, size_t source_size,
		    struct plate_error **err)
{
	static const char arg[] = "SOURCE_DATE_EPOCH=";
	const char *env = getenv("SOURCE_DATE_EPOCH");
	char why[256];

	for (size_t i = n_build_args; i-- > 0;)
		if (strncmp(build_args[i], arg, sizeof(arg) - 1) == 0) {
			snprintf(source, source_size, "from --build-arg");
			return parse_epoch(ctx, "--build-arg SOURCE_DATE_EPOCH",
					   build_args[i] + sizeof(arg) - 1, epoch, err);
		}
	if (env != NULL && *env != '\0') {
		snprintf(source, source_size, "from the environment");
		return parse_epoch(ctx, "SOURCE_DATE_EPOCH", env, epoch, err);
	}
	*epoch = git_head_time(context, why, sizeof(why));
	if (*epoch >= 0) {
		snprintf(source, source_size, "from git HEAD");
		return 0;
	}
	*epoch = 0;
	/* Not a repository is the common case and needs no explanation beyond the default. */
	if (strstr(why, "not a git repository") != NULL)
		snprintf(source, source_size, "default: the context is not in a git repository");
	else
		snprintf(source, source_size, "default: git HEAD unreadable: %s", why);
	return 0;
}
