/* plate login [-u USER] [-p PASS | --password-stdin] [--tls-ca FILE] [--insecure-registry HOST]
 * REGISTRY: checks the credentials against the registry (asking for what is missing on a
 * terminal), then hands them to the credential helper the docker config names, or stores
 * them in the config file itself with a warning, as docker does. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/output.h"
#include "cli.h"

struct login_cred {
	const char *username;
	const char *password;
};

static int give_credentials(void *data, const char *host, struct registry_credentials *out,
			    struct plate_error **err)
{
	const struct login_cred *lc = data;

	(void)host;
	out->username = strdup(lc->username);
	out->password = strdup(lc->password);
	if (out->username == NULL || out->password == NULL) {
		registry_credentials_release(out);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 1;
}

static int read_password(char **out, struct plate_error **err)
{
	_cleanup_buf_ struct buf b = BUF_INIT(64 * 1024);
	char chunk[4096];
	ssize_t n;

	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_add(&b, chunk, (size_t)n) < 0)
			return plate_err_new(err, n < 0 ? errno : EFBIG,
					     "cannot read the password");
	}
	while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.len--;
	b.data[b.len] = '\0';
	if ((*out = buf_detach(&b, NULL)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

/* One line from the terminal on stdin after a prompt on stderr, without echo for a secret
 * (restored before returning). */
static int prompt(const char *what, bool secret, char **out, struct plate_error **err)
{
	struct termios old, quiet;
	bool restore = false;
	size_t cap = 0;
	ssize_t n;

	fprintf(stderr, "%s: ", what);
	fflush(stderr);
	if (secret && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	*out = NULL;
	n = getline(out, &cap, stdin);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(*out);
		*out = NULL;
		return plate_err_new(err, ferror(stdin) ? errno : 0, "no %s read from the terminal",
				     what);
	}
	while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
		(*out)[--n] = '\0';
	return 0;
}

const char *cli_login_helper(const struct registry_docker_config *cfg, const char *host)
{
	for (size_t i = 0; i < cfg->n_helpers; i++)
		if (strcmp(cfg->helpers[i].host, host) == 0)
			return cfg->helpers[i].helper;
	return cfg->creds_store;
}

/* "https://index.docker.io/v1/" -> "docker.io", "localhost:5000/" -> "localhost:5000". */
char *cli_registry_host(const char *s)
{
	static const char *const hub[] = { "index.docker.io", "registry-1.docker.io",
					   "registry.hub.docker.com" };
	char *h;

	if (strncmp(s, "https://", 8) == 0)
		s += 8;
	else if (strncmp(s, "http://", 7) == 0)
		s += 7;
	h = strndup(s, strcspn(s, "/"));
	for (size_t i = 0; h != NULL && i < sizeof(hub) / sizeof(hub[0]); i++)
		if (strcmp(h, hub[i]) == 0) {
			free(h);
			return strdup("docker.io");
		}
	return h;
}

/* Replaces path with data, 0600, in a directory created 0700 if need be. */
int cli_write_private_file(const char *path, const char *data, size_t len, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	struct replace_file rf;
	const char *dir;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	dir = dirname(copy);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create '%s'", dir);
	if (replace_file_open(&rf, path, 0600, err) < 0)
		return -1;
	if (fchmod(rf.fd, 0600) < 0 || write_all(rf.fd, data, len) < 0) {
		plate_err_new(err, errno, "cannot write '%s'", path);
		replace_file_abort(&rf);
		return -1;
	}
	return replace_file_commit(&rf, err);
}

/* Applies registry_docker_config_edit() to the docker config file; 1 changed, 0 not. */
int cli_docker_config_update(const char *host, const char *user, const char *password,
			     struct plate_error **err)
{
	_cleanup_free_ char *path = cli_docker_config_path(), *data = NULL, *out = NULL;
	size_t len = 0, out_len;
	int r;

	if (path == NULL)
		return plate_err_new(err, 0, "no docker config: set DOCKER_CONFIG or HOME");
	if (access(path, F_OK) == 0 &&
	    cli_read_file(path, REGISTRY_DOCKER_CONFIG_MAX, &data, &len, err) < 0)
		return -1;
	r = registry_docker_config_edit(data, len, host, user, password, &out, &out_len, err);
	if (r < 0)
		return plate_err_wrap(err, "docker config '%s'", path);
	if (r > 0 && cli_write_private_file(path, out, out_len, err) < 0)
		r = -1;
	if (out != NULL)
		explicit_bzero(out, out_len);
	return r;
}

struct login_args {
	struct login_cred lc;
	bool from_stdin;
	const char *registry;
};

/* 0, or what cli_cmd_login returns: -1 or a usage error's exit code (err set). */
static int parse_login_args(struct cli_ctx *ctx, int argc, char **argv, struct cli_registry *reg,
			    struct login_args *a, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "username", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "password-stdin", no_argument, NULL, 'S' },
		CLI_REGISTRY_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool tty = isatty(STDIN_FILENO);
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "u:p:", longopts)) != -1) {
		int r = cli_registry_opt(reg, c, optarg, err);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (c == 'u')
			a->lc.username = optarg;
		else if (c == 'p')
			a->lc.password = optarg;
		else if (c == 'S')
			a->from_stdin = true;
		else
			return cli_usage_error(ctx, err, "login: bad option '%s'",
					       argv[optind - 1]);
	}
	if (argc - optind != 1)
		return cli_usage_error(ctx, err, "login takes one REGISTRY");
	if (a->lc.password != NULL && a->from_stdin)
		return cli_usage_error(ctx, err,
				       "login: -p and --password-stdin exclude each other");
	if ((a->lc.username == NULL && (a->from_stdin || !tty)) ||
	    (a->lc.password == NULL && !a->from_stdin && !tty))
		return cli_usage_error(ctx, err,
				       "login needs -u USER and -p PASSWORD or "
				       "--password-stdin when standard input is not a terminal");
	a->registry = argv[optind];
	return 0;
}

/* What the command line did not give: the user asked on the terminal, the password read
 * from standard input or asked without echo. */
static int ask_credentials(struct login_args *a, char **user, char **password,
			   struct plate_error **err)
{
	if (a->lc.username == NULL) {
		if (prompt("Username", false, user, err) < 0)
			return -1;
		a->lc.username = *user;
	}
	if (a->from_stdin) {
		if (read_password(password, err) < 0)
			return -1;
		a->lc.password = *password;
	} else if (a->lc.password == NULL) {
		if (prompt("Password", true, password, err) < 0)
			return -1;
		a->lc.password = *password;
	}
	return 0;
}

/* Into the credential helper when the docker config names one (a plain-text entry would
 * shadow it), else into `auths` in plain text, with docker's warning. */
static int keep_credentials(struct cli_registry *reg, const char *host, const struct login_cred *lc,
			    struct plate_error **err)
{
	const char *helper = cli_login_helper(&reg->config, host);
	_cleanup_free_ char *path = NULL;

	if (helper != NULL) {
		if (registry_credential_helper_store(helper, NULL,
						     registry_credential_server_url(host),
						     lc->username, lc->password, err) < 0)
			return -1;
		return cli_docker_config_update(host, NULL, NULL, err);
	}
	if (cli_docker_config_update(host, lc->username, lc->password, err) < 0)
		return -1;
	path = cli_docker_config_path();
	fprintf(stderr,
		"plate: warning: the password is stored unencrypted in '%s'; a credential "
		"helper (credsStore or credHelpers in that file) would keep it instead\n",
		path ? path : "config.json");
	return 0;
}

int cli_cmd_login(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct cli_registry reg = { 0 };
	struct registry_client *client = NULL;
	struct login_args a = { 0 };
	_cleanup_free_ char *host = NULL, *password = NULL, *user = NULL;
	int rc;

	if ((rc = parse_login_args(ctx, argc, argv, &reg, &a, err)) != 0)
		goto out;
	rc = -1;
	if ((host = cli_registry_host(a.registry)) == NULL || host[0] == '\0') {
		rc = cli_usage_error(ctx, err, "login: invalid registry '%s'", a.registry);
		goto out;
	}
	if (ask_credentials(&a, &user, &password, err) < 0 || cli_registry_setup(&reg, err) < 0)
		goto out;
	/* Only the credentials given here are tried, and the registry itself (no mirror). */
	reg.opts.docker_config = NULL;
	reg.opts.credential_helpers = false;
	reg.opts.mirrors = NULL;
	reg.opts.credentials = give_credentials;
	reg.opts.credentials_data = &a.lc;
	if (registry_client_new(&reg.opts, &client, err) < 0 ||
	    registry_ping(client, host, err) < 0) {
		plate_err_wrap(err, "login to '%s'", host);
		goto out;
	}
	if (keep_credentials(&reg, host, &a.lc, err) < 0)
		goto out;
	printf("login succeeded\n");
	rc = CLI_EXIT_OK;
out:
	if (password != NULL)
		explicit_bzero(password, strlen(password));
	registry_client_free(client);
	cli_registry_release(&reg);
	return rc;
}
