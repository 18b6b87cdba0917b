/*
 * plate run [--rm] [-e KEY=VALUE]... [--network default|none|host] [--entrypoint CMD] [-u USER]
 *           [-w DIR] [--hostname NAME] [--platform OS/ARCH] REF [CMD [ARG...]]
 *
 * Runs the image's entrypoint and command (CMD replaced by the arguments after REF) in the
 * sandbox, over the image's layers with a throw-away upper directory: nothing the command
 * writes is kept (--rm is accepted for docker compatibility and is always the case).
 * The command's stdin, stdout and stderr are plate's; plate exits with its status.
 * The network is a private namespace with outbound connections (the host's loopback out of
 * reach) unless --network none (loopback only) or host (the host's own).
 * SIGINT or SIGTERM stops the command (the whole sandbox is killed); plate then exits
 * 128 + the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli.h"
#include "engine/engine.h"

static int cancel_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stopped_by;

static void on_signal(int sig)
{
	int saved = errno;
	ssize_t ignored = write(cancel_pipe[1], "x", 1);

	(void)ignored;
	stopped_by = sig;
	errno = saved;
}

/* The options and operands into *out (its fds and cancel_fd kept), untouched on failure;
 * env has argc + 1 slots for the -e values.  0 or -1. */
static int parse_args(struct cli_ctx *ctx, int argc, char **argv, const char **env,
		      struct engine_run_options *out, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "rm", no_argument, NULL, 'R' },
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "network", required_argument, NULL, 'N' },
		{ "entrypoint", required_argument, NULL, 'E' },
		{ "user", required_argument, NULL, 'u' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "platform", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct engine_run_options o = *out;
	int c, i;

	optind = 0;
	opterr = 0;
	/* "+": options end at the image; what follows is the command's. */
	while ((c = cli_getopt(argc, argv, "+:e:u:w:it", longopts)) != -1) {
		switch (c) {
		case 'R':
		case 'i':
		case 't':
			break;
		case 'e':
			if (strchr(optarg, '=') != NULL) {
				env[o.n_env++] = optarg;
			} else if (getenv(optarg) != NULL) {
				/* docker: -e NAME passes the caller's value. */
				char *kv = NULL;
				if (asprintf(&kv, "%s=%s", optarg, getenv(optarg)) < 0)
					return plate_err_new(err, ENOMEM, "out of memory");
				env[o.n_env++] = kv; /* lives until exit */
			}
			break;
		case 'N':
			if (strcmp(optarg, "none") == 0)
				o.network = ENGINE_NET_NONE;
			else if (strcmp(optarg, "host") == 0)
				o.network = ENGINE_NET_HOST;
			else if (strcmp(optarg, "default") == 0)
				o.network = ENGINE_NET_DEFAULT;
			else
				return cli_usage_error(ctx, err,
						       "--network must be default, none or host");
			break;
		case 'E':
			o.entrypoint = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			o.workdir = optarg;
			break;
		case 'H':
			o.hostname = optarg;
			break;
		case 'P':
			o.platform = optarg;
			break;
		case ':':
			return cli_usage_error(ctx, err, "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error(ctx, err, "unknown option '%s' for run",
					       argv[optind - 1]);
		}
	}
	i = optind;
	if (i >= argc)
		return cli_usage_error(ctx, err, "run needs an image");
	o.image = argv[i++];
	o.argv = (const char *const *)argv + i;
	o.n_argv = (size_t)(argc - i);
	o.env = env;
	*out = o;
	return 0;
}

int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct engine_run_options o = { .platform = cli_host_platform(),
					.stdin_fd = STDIN_FILENO,
					.stdout_fd = STDOUT_FILENO,
					.stderr_fd = STDERR_FILENO,
					.cancel_fd = -1 };
	_cleanup_free_ const char **env = calloc((size_t)argc + 1, sizeof(char *));
	_cleanup_free_ char *resolv = NULL;
	_cleanup_error_ struct plate_error *ignored = NULL;
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	struct store *s = NULL;
	size_t resolv_len;
	int status = 0, r;

	if (env == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (parse_args(ctx, argc, argv, env, &o, err) < 0)
		return -1;
	if (cli_read_file("/etc/resolv.conf", 65536, &resolv, &resolv_len, &ignored) == 0)
		o.resolv_conf = resolv;
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	o.store = s;
	if (pipe2(cancel_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		store_free(s);
		return plate_err_new(err, errno, "cannot create a pipe");
	}
	o.cancel_fd = cancel_pipe[0];
	/* Signals meant for the command reach it through the sandbox's pid 1 when it has a
	 * terminal of its own; here SIGINT and SIGTERM stop the run. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	r = engine_run(&o, &status, err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	close(cancel_pipe[0]);
	close(cancel_pipe[1]);
	store_free(s);
	if (r < 0 && (*err)->errno_value == ECANCELED && stopped_by != 0) {
		/* Stopped on purpose: the shell's convention, no error message. */
		plate_error_free(steal_pointer(err));
		return 128 + stopped_by;
	}
	return r < 0 ? -1 : status;
}
