/*
 * registry-tool — a test helper (not a user command) exposing the registry client so that
 * integration tests can drive it against a real docker-registry and compare with skopeo.
 *
 *   registry-tool [OPTIONS] manifest REF            manifest bytes on stdout
 *                           head-manifest REF       "digest media-type size" (exit 3: absent)
 *                           blob REF DIGEST OUTFILE blob into OUTFILE (only when verified)
 *                           head-blob REF DIGEST    size (exit 3: absent)
 *                           push-blob REF FILE      "digest existed|mounted|uploaded"
 *                           push-manifest REF FILE MEDIATYPE   prints the digest
 *                           tags REPO               one tag per line
 *                           ping DOMAIN             checks the registry and the credentials
 * Options: --mirrors S, --mirror-fallback, --insecure LIST, --secure LIST, --ca-file F, --certs-dir D,
 * --config PATH (docker config.json), --cred-helpers, --helper-dir D, --user U,
 * --password P, --attempts N, --backoff-ms N, --stall-timeout S, --chunk-size N,
 * --mount-from REPO, --page-size N, --expected-size N, --max-size N, --info, --repeat N, --pause-ms N,
 * --stats (counters on stderr at exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "digest/digest.h"
#include "oci/oci.h"
#include "registry/registry.h"

struct tool {
	struct registry_options opts;
	const char *config_path, *user, *password, *mount_from;
	uint64_t expected_size, max_size;
	unsigned repeat, pause_ms;
	bool info, stats;
	struct registry_docker_config config;
};

static int user_credentials(void *data, const char *host, struct registry_credentials *out,
			    struct plate_error **err)
{
	struct tool *t = data;

	(void)host;
	if (t->user == NULL)
		return 0;
	out->username = strdup(t->user);
	out->password = strdup(t->password ? t->password : "");
	if (out->username == NULL || out->password == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 1;
}

static int read_file(const char *path, char **data, size_t *len, struct plate_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT(64u << 20);
	char chunk[65536];
	size_t n;

	if (f == NULL)
		return plate_err_new(err, errno, "cannot open '%s'", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n) < 0) {
			buf_release(&b);
			return plate_err_new(err, errno, "cannot read '%s'", path);
		}
	*data = buf_detach(&b, len);
	return *data ? 0 : plate_err_new(err, ENOMEM, "out of memory");
}

static int parse_ref(const char *s, struct oci_reference *ref, struct plate_error **err)
{
	if (oci_reference_parse(s, strlen(s), ref, err) < 0)
		return plate_err_wrap(err, "reference '%s'", s);
	return 0;
}

static int cmd_manifest(struct tool *t, struct registry_client *c, char **argv,
			struct plate_error **err)
{
	struct oci_reference ref = { 0 };
	struct registry_manifest m = { 0 };
	int rc = -1;

	if (parse_ref(argv[0], &ref, err) < 0)
		return -1;
	if (registry_get_manifest(c, &ref, &m, err) < 0)
		goto out;
	if (t->info)
		printf("%s %s %zu\n", m.digest, m.media_type, m.len);
	else
		fwrite(m.data, 1, m.len, stdout);
	rc = 0;
out:
	registry_manifest_release(&m);
	oci_reference_release(&ref);
	return rc;
}

static int cmd_head_manifest(struct registry_client *c, char **argv, struct plate_error **err)
{
	struct oci_reference ref = { 0 };
	char digest[DIGEST_STRING_LEN + 1];
	_cleanup_free_ char *mt = NULL;
	uint64_t size = 0;
	int r;

	if (parse_ref(argv[0], &ref, err) < 0)
		return -1;
	r = registry_head_manifest(c, &ref, digest, &mt, &size, err);
	oci_reference_release(&ref);
	if (r < 0)
		return -1;
	if (r == 0)
		return 3;
	printf("%s %s %llu\n", digest, mt ? mt : "-", (unsigned long long)size);
	return 0;
}

static int cmd_blob(struct tool *t, struct registry_client *c, char **argv,
		    struct plate_error **err)
{
	struct oci_reference ref = { 0 };
	_cleanup_free_ char *part = NULL;
	_cleanup_close_ int fd = -1;
	struct registry_fd_sink fs;
	struct registry_sink sink;
	struct stat st;
	int rc = -1;

	if (parse_ref(argv[0], &ref, err) < 0)
		return -1;
	/* The blob becomes visible under its name only once verified, like the store will do. */
	if (asprintf(&part, "%s.part", argv[2]) < 0) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		plate_err_new(err, errno, "cannot create '%s'", part);
		goto out;
	}
	registry_fd_sink_init(&fs, fd, &sink, err);
	if (registry_fetch_blob(c, &ref, argv[1], t->expected_size, t->max_size, &sink, err) < 0) {
		unlink(part);
		goto out;
	}
	if (fstat(fd, &st) < 0 || rename(part, argv[2]) < 0) {
		plate_err_new(err, errno, "cannot publish '%s'", argv[2]);
		unlink(part);
		goto out;
	}
	printf("%s %lld\n", argv[1], (long long)st.st_size);
	rc = 0;
out:
	oci_reference_release(&ref);
	return rc;
}

static int cmd_head_blob(struct registry_client *c, char **argv, struct plate_error **err)
{
	struct oci_reference ref = { 0 };
	uint64_t size = 0;
	int r;

	if (parse_ref(argv[0], &ref, err) < 0)
		return -1;
	r = registry_head_blob(c, &ref, argv[1], &size, err);
	oci_reference_release(&ref);
	if (r < 0)
		return -1;
	if (r == 0)
		return 3;
	printf("%llu\n", (unsigned long long)size);
	return 0;
}

static int cmd_push_blob(struct tool *t, struct registry_client *c, char **argv,
			 struct plate_error **err)
{
	static const char *const names[] = { "existed", "mounted", "uploaded" };
	struct oci_reference ref = { 0 };
	_cleanup_close_ int fd = -1;
	struct registry_fd_source fs;
	struct registry_source src;
	enum registry_push_result result;
	char digest[DIGEST_STRING_LEN + 1];
	struct digest d;
	struct stat st;
	char chunk[65536];
	ssize_t n;
	int rc = -1;

	if (parse_ref(argv[0], &ref, err) < 0)
		return -1;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		plate_err_new(err, errno, "cannot open '%s'", argv[1]);
		goto out;
	}
	if (digest_init(&d, err) < 0)
		goto out;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		digest_update(&d, chunk, (size_t)n);
	digest_final(&d, digest);
	digest_release(&d);
	registry_fd_source_init(&fs, fd, (uint64_t)st.st_size, &src);
	if (registry_push_blob(c, &ref, digest, &src, t->mount_from, &result, err) < 0)
		goto out;
	printf("%s %s\n", digest, names[result]);
	rc = 0;
out:
	oci_reference_release(&ref);
	return rc;
}

static int cmd_push_manifest(struct registry_client *c, char **argv, struct plate_error **err)
{
	struct oci_reference ref = { 0 };
	_cleanup_free_ char *data = NULL;
	char digest[DIGEST_STRING_LEN + 1];
	size_t len;
	int rc = -1;

	if (parse_ref(argv[0], &ref, err) < 0)
		return -1;
	if (read_file(argv[1], &data, &len, err) < 0)
		goto out;
	if (registry_push_manifest(c, &ref, argv[2], data, len, digest, err) < 0)
		goto out;
	printf("%s\n", digest);
	rc = 0;
out:
	oci_reference_release(&ref);
	return rc;
}

static int cmd_tags(struct registry_client *c, char **argv, struct plate_error **err)
{
	struct oci_reference ref = { 0 };
	char **tags = NULL;
	size_t n = 0;

	if (parse_ref(argv[0], &ref, err) < 0)
		return -1;
	if (registry_list_tags(c, &ref, &tags, &n, err) < 0) {
		oci_reference_release(&ref);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", tags[i]);
	strv_free(tags, n);
	oci_reference_release(&ref);
	return 0;
}

static int run(struct tool *t, struct registry_client *c, const char *cmd, int argc, char **argv,
	       struct plate_error **err)
{
	static const struct {
		const char *name;
		int args;
	} cmds[] = { { "manifest", 1 },	 { "head-manifest", 1 }, { "blob", 3 }, { "head-blob", 2 },
		     { "push-blob", 2 }, { "push-manifest", 3 }, { "tags", 1 }, { "ping", 1 } };
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, cmd) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]) || argc != cmds[i].args) {
		fprintf(stderr,
			"registry-tool: bad command or arguments (see the source header)\n");
		return 2;
	}
	if (strcmp(cmd, "manifest") == 0)
		return cmd_manifest(t, c, argv, err);
	if (strcmp(cmd, "head-manifest") == 0)
		return cmd_head_manifest(c, argv, err);
	if (strcmp(cmd, "blob") == 0)
		return cmd_blob(t, c, argv, err);
	if (strcmp(cmd, "head-blob") == 0)
		return cmd_head_blob(c, argv, err);
	if (strcmp(cmd, "push-blob") == 0)
		return cmd_push_blob(t, c, argv, err);
	if (strcmp(cmd, "push-manifest") == 0)
		return cmd_push_manifest(c, argv, err);
	if (strcmp(cmd, "tags") == 0)
		return cmd_tags(c, argv, err);
	return registry_ping(c, argv[0], err);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "registry-tool: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct tool t = { .expected_size = REGISTRY_SIZE_UNKNOWN, .repeat = 1 };
	struct registry_client *c = NULL;
	_cleanup_error_ struct plate_error *err = NULL;
	int i, rc = 0;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i];
		bool has_arg = i + 1 < argc;
#define OPT(name) (strcmp(o, name) == 0 && has_arg && (++i, true))
		if (OPT("--mirrors"))
			t.opts.mirrors = argv[i];
		else if (strcmp(o, "--mirror-fallback") == 0)
			t.opts.mirror_fallback = true;
		else if (OPT("--insecure"))
			t.opts.insecure = argv[i];
		else if (OPT("--secure"))
			t.opts.secure = argv[i];
		else if (OPT("--ca-file"))
			t.opts.ca_file = argv[i];
		else if (OPT("--certs-dir"))
			t.opts.certs_dir = argv[i];
		else if (OPT("--config"))
			t.config_path = argv[i];
		else if (strcmp(o, "--cred-helpers") == 0)
			t.opts.credential_helpers = true;
		else if (OPT("--helper-dir"))
			t.opts.credential_helper_dir = argv[i];
		else if (OPT("--user"))
			t.user = argv[i];
		else if (OPT("--password"))
			t.password = argv[i];
		else if (OPT("--attempts"))
			t.opts.max_attempts = (unsigned)num(argv[i]);
		else if (OPT("--backoff-ms"))
			t.opts.backoff_ms = (unsigned)num(argv[i]);
		else if (OPT("--stall-timeout"))
			t.opts.stall_timeout_s = (unsigned)num(argv[i]);
		else if (OPT("--chunk-size"))
			t.opts.chunk_size = num(argv[i]);
		else if (OPT("--page-size"))
			t.opts.tags_page_size = (unsigned)num(argv[i]);
		else if (OPT("--mount-from"))
			t.mount_from = argv[i];
		else if (OPT("--expected-size"))
			t.expected_size = num(argv[i]);
		else if (OPT("--max-size"))
			t.max_size = num(argv[i]);
		else if (OPT("--repeat"))
			t.repeat = (unsigned)num(argv[i]);
		else if (OPT("--pause-ms"))
			t.pause_ms = (unsigned)num(argv[i]);
		else if (strcmp(o, "--info") == 0)
			t.info = true;
		else if (strcmp(o, "--stats") == 0)
			t.stats = true;
		else {
			fprintf(stderr, "registry-tool: unknown option '%s'\n", o);
			return 2;
		}
#undef OPT
	}
	if (i >= argc) {
		fprintf(stderr, "registry-tool: no command\n");
		return 2;
	}
	if (t.config_path != NULL) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		if (read_file(t.config_path, &data, &len, &err) < 0 ||
		    registry_docker_config_parse(data, len, &t.config, &err) < 0) {
			if (err->line > 0)
				plate_err_wrap(&err, "%s:%u:%u", t.config_path, err->line,
					       err->column);
			goto fail;
		}
		t.opts.docker_config = &t.config;
	}
	t.opts.credentials = user_credentials;
	t.opts.credentials_data = &t;
	if (registry_client_new(&t.opts, &c, &err) < 0)
		goto fail;
	for (unsigned r = 0; r < t.repeat && rc == 0; r++) {
		if (r > 0 && t.pause_ms > 0) {
			struct timespec ts = { t.pause_ms / 1000,
					       (long)(t.pause_ms % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
		rc = run(&t, c, argv[i], argc - i - 1, argv + i + 1, &err);
	}
	if (t.stats) {
		struct registry_stats s;
		registry_client_stats(c, &s);
		fprintf(stderr,
			"stats: requests=%u token_requests=%u retries=%u resumes=%u restarts=%u\n",
			s.requests, s.token_requests, s.retries, s.resumes, s.restarts);
	}
	if (rc < 0)
		goto fail;
	registry_client_free(c);
	registry_docker_config_release(&t.config);
	return rc;
fail : {
	_cleanup_free_ char *msg = plate_error_format(err);
	fprintf(stderr, "registry-tool: error: %s\n", msg ? msg : err->message);
}
	registry_client_free(c);
	registry_docker_config_release(&t.config);
	return 1;
}
