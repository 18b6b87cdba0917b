/*
 * Out-of-memory injection (docs/internals/errors.md "Out of memory"): this program replaces
 * malloc, calloc, realloc and free, so every allocation of the process goes through it —
 * the library's, glibc's own (strdup, asprintf, open_memstream, stdio) and jansson's,
 * libarchive's, OpenSSL's (not jansson's: see json_set_alloc_funcs below).  Each scenario calls library entry points once without a
 * failure (warm-up: caches and one-time initialisation), then again for N = 1, 2, … with
 * the Nth allocation of the call failing, until a run completes without reaching N.  Each
 * run must either succeed or fail with an error set exactly once (a second set aborts in
 * plate_err_new) whose errno is ENOMEM, must free what it allocated (live allocations
 * counted here; under SANITIZE=1 LeakSanitizer checks the same at exit), and a store
 * operation that failed must leave the store as it was, fsck clean.
 *
 * The replacement forwards to the next malloc in the lookup order: glibc's in the plain
 * build, ASan's in the SANITIZE=1 build (the executable comes first in symbol lookup, so
 * this file wins over both).  dlsym() may allocate while the real functions are looked up;
 * those few allocations come from a static arena.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/strv.h"
#include "dockerfile/dockerfile.h"
#include "fsutil.h"
#include "ignore/ignore.h"
#include "json/json.h"
#include "layer/layer.h"
#include "oci/oci.h"
#include "plan/plan.h"
#include "registry/registry.h"
#include "registry/registry_internal.h"
#include "store/store.h"
#include "tap.h"

/* ---- the allocator ---------------------------------------------------------------------- */

/* ASan's start-up calls dlsym(), which allocates, before its shadow memory exists: the
 * allocator is not instrumented. */
#define NOSAN __attribute__((no_sanitize("address", "undefined")))

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static _Thread_local bool resolving;
static _Alignas(16) char arena[16384];
static size_t arena_used;

/* Allocations until the one that fails (0: none fails); set to -1 once it has failed. */
static atomic_long countdown;
static atomic_long live; /* allocations not yet freed */
/* Only the driver's thread fails allocations: the order of other threads' allocations
 * (compression workers) varies from run to run, and ASan's thread start allocates. */
static _Thread_local bool driver_thread;
/* Set while the driver itself allocates in the middle of a run (temp directories). */
static atomic_bool paused;

/* plate gives jansson an allocator that aborts rather than fail (its parser cannot recover
 * from a failed allocation, errors.md): allocations made through it are not failed here.
 * This definition comes before jansson's own in symbol lookup and records plate's hook. */
static void *(*plate_jansson_malloc)(size_t);
static _Thread_local int in_jansson;

static void *jansson_malloc(size_t n)
{
	void *p;

	in_jansson++;
	p = plate_jansson_malloc(n);
	in_jansson--;
	return p;
}

void json_set_alloc_funcs(json_malloc_t m, json_free_t f)
{
	void (*real_set)(json_malloc_t, json_free_t) =
		(void (*)(json_malloc_t, json_free_t))dlsym(RTLD_NEXT, "json_set_alloc_funcs");

	plate_jansson_malloc = m;
	real_set(jansson_malloc, f);
}

NOSAN static void resolve(void)
{
	if (real_free != NULL)
		return;
	resolving = true;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	resolving = false;
	if (real_malloc == NULL || real_calloc == NULL || real_realloc == NULL || real_free == NULL)
		abort();
}

NOSAN static void *arena_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof(arena) - arena_used)
		return NULL;
	p = arena + arena_used;
	arena_used += n;
	return p;
}

NOSAN static bool in_arena(const void *p)
{
	return (const char *)p >= arena && (const char *)p < arena + sizeof(arena);
}

NOSAN static bool from_library(const void *caller, const char *name)
{
	Dl_info info;

	return dladdr(caller, &info) != 0 && info.dli_fname != NULL &&
	       strstr(info.dli_fname, name) != NULL;
}

/* libarchive 3.6 does not check the entry archive_read_new() allocates, and reading a
 * header then writes through NULL: its own allocations are not failed (errors.md). */
NOSAN static bool from_libarchive(const void *caller)
{
	return from_library(caller, "/libarchive.so");
}

/* OpenSSL keeps what a call that failed halfway allocated (error strings, fetched
 * algorithms) in caches it reuses: its blocks are left to LeakSanitizer.  They are known by
 * the library that asked for them and remembered here, since the free may come through a
 * tail call (CRYPTO_free's) that hides OpenSSL from the return address. */
#define UNCOUNTED_SLOTS (1u << 16)
#define TOMBSTONE ((void *)1)
static void *uncounted[UNCOUNTED_SLOTS];
static atomic_flag uncounted_lock = ATOMIC_FLAG_INIT;

NOSAN static size_t slot_of(const void *p)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15u) & (UNCOUNTED_SLOTS - 1);
}

/* Removes p from the set; true when it was there. */
NOSAN static bool uncounted_take(void *p)
{
	bool found = false;

	while (atomic_flag_test_and_set(&uncounted_lock))
		;
	for (size_t i = slot_of(p), n = 0; n < UNCOUNTED_SLOTS && uncounted[i] != NULL;
	     i = (i + 1) & (UNCOUNTED_SLOTS - 1), n++) {
		if (uncounted[i] == p) {
			uncounted[i] = TOMBSTONE;
			found = true;
			break;
		}
	}
	atomic_flag_clear(&uncounted_lock);
	return found;
}

NOSAN static void uncounted_put(void *p)
{
	size_t i = slot_of(p), n = 0;

	while (atomic_flag_test_and_set(&uncounted_lock))
		;
	while (uncounted[i] != NULL && uncounted[i] != TOMBSTONE && n++ < UNCOUNTED_SLOTS)
		i = (i + 1) & (UNCOUNTED_SLOTS - 1);
	if (n >= UNCOUNTED_SLOTS)
		abort();
	uncounted[i] = p;
	atomic_flag_clear(&uncounted_lock);
}

NOSAN static void count(const void *caller, void *p)
{
	if (from_library(caller, "/libcrypto.so"))
		uncounted_put(p);
	else
		atomic_fetch_add(&live, 1);
}

NOSAN static bool inject(const void *caller)
{
	long c = atomic_load(&countdown);

	if (!driver_thread || atomic_load(&paused) || in_jansson > 0 || c <= 0 ||
	    from_libarchive(caller))
		return false;
	while (c > 0) {
		if (atomic_compare_exchange_weak(&countdown, &c, c == 1 ? -1 : c - 1)) {
			if (c != 1)
				return false;
			errno = ENOMEM;
			return true;
		}
	}
	return false;
}

NOSAN static void *alloc_for(const void *caller, size_t n)
{
	void *p;

	if (resolving)
		return arena_alloc(n);
	resolve();
	if (inject(caller))
		return NULL;
	if ((p = real_malloc(n)) != NULL)
		count(caller, p);
	return p;
}

NOSAN static void *realloc_for(const void *caller, void *old, size_t n)
{
	void *p;

	if (in_arena(old)) {
		/* Never grown in practice; copying n bytes would read past the block. */
		abort();
	}
	if (old == NULL)
		return alloc_for(caller, n);
	if (n == 0) {
		free(old);
		return NULL;
	}
	resolve();
	if (inject(caller))
		return NULL;
	p = real_realloc(old, n);
	if (p != NULL && p != old && uncounted_take(old))
		uncounted_put(p);
	return p;
}

NOSAN void *malloc(size_t n)
{
	return alloc_for(__builtin_return_address(0), n);
}

NOSAN void *calloc(size_t n, size_t size)
{
	void *p;

	if (resolving)
		return n != 0 && size > SIZE_MAX / n ? NULL : arena_alloc(n * size);
	resolve();
	if (inject(__builtin_return_address(0)))
		return NULL;
	if ((p = real_calloc(n, size)) != NULL)
		count(__builtin_return_address(0), p);
	return p;
}

NOSAN void *realloc(void *old, size_t n)
{
	return realloc_for(__builtin_return_address(0), old, n);
}

NOSAN void free(void *p)
{
	if (p == NULL || in_arena(p))
		return;
	resolve();
	if (!uncounted_take(p))
		atomic_fetch_sub(&live, 1);
	real_free(p);
}

/* ASan intercepts these and allocates inside its runtime, around malloc: defined here
 * they reach the counting malloc in both builds. */
NOSAN void *reallocarray(void *old, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc_for(__builtin_return_address(0), old, n * size);
}

NOSAN int posix_memalign(void **out, size_t align, size_t n)
{
	static int (*real)(void **, size_t, size_t);
	int r;

	if (real == NULL)
		real = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	r = real(out, align, n);
	if (r == 0)
		count(__builtin_return_address(0), *out);
	return r;
}

NOSAN void *aligned_alloc(size_t align, size_t n)
{
	void *p;

	return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, n) == 0 ? p
											   : NULL;
}

NOSAN static char *strndup_for(const void *caller, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *d = alloc_for(caller, n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

NOSAN char *strdup(const char *s)
{
	return strndup_for(__builtin_return_address(0), s, strlen(s));
}

NOSAN char *strndup(const char *s, size_t max)
{
	return strndup_for(__builtin_return_address(0), s, max);
}

/* ---- the driver ------------------------------------------------------------------------- */

struct scenario {
	const char *name;
	/* The calls under test; everything it allocates is freed before it returns. */
	int (*run)(struct plate_error **err);
	/* After a failed run: 0 when the state it acted on is as before. */
	int (*unchanged)(void);
	/* After a successful run: puts the state back for the next one. */
	int (*reset)(void);
};

static const char *current_name = "";
static long current_n;

static void crashed(int sig)
{
	char msg[256];
	int len = snprintf(msg, sizeof(msg), "not ok - %s: signal %d at allocation %ld\n",
			   current_name, sig, current_n);

	/* snprintf of numbers does not allocate; write() is async-signal-safe. */
	if (len > 0 && write(1, msg, (size_t)len) < 0)
		_exit(1);
	_exit(1);
}

static void drive(const struct scenario *sc)
{
	struct plate_error *err = NULL;
	char problem[512] = "";
	long n, tolerated = 0;
	struct timespec start, end;

	current_name = sc->name;
	current_n = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (sc->run(&err) < 0) {
		tap_ok(false, "%s: runs without injection: %s", sc->name,
		       err ? err->message : "(no error)");
		plate_error_free(err);
		return;
	}
	if (sc->reset != NULL && sc->reset() < 0) {
		tap_ok(false, "%s: reset after the warm-up", sc->name);
		return;
	}
	for (n = 1; problem[0] == '\0'; n++) {
		long before = atomic_load(&live), after;
		bool hit;
		int r;

		current_n = n;
		atomic_store(&countdown, n);
		r = sc->run(&err);
		hit = atomic_exchange(&countdown, 0) < 0;
		if (!hit) {
			if (r < 0)
				snprintf(problem, sizeof(problem),
					 "failed with no injected failure: %s",
					 err ? err->message : "(no error)");
			plate_error_free(err);
			break;
		}
		if (r < 0 && err == NULL)
			snprintf(problem, sizeof(problem),
				 "allocation %ld: failed without an error", n);
		else if (r < 0 && err->errno_value != ENOMEM)
			snprintf(problem, sizeof(problem),
				 "allocation %ld: error without ENOMEM: %s", n, err->message);
		else if (r >= 0 && err != NULL)
			snprintf(problem, sizeof(problem),
				 "allocation %ld: succeeded with an error set", n);
		plate_error_free(err);
		err = NULL;
		after = atomic_load(&live);
		if (problem[0] == '\0' && after != before)
			snprintf(problem, sizeof(problem), "allocation %ld: %ld allocations %s", n,
				 after > before ? after - before : before - after,
				 after > before ? "leaked" : "freed twice or not counted");
		if (problem[0] == '\0' && r < 0 && sc->unchanged != NULL && sc->unchanged() < 0)
			snprintf(problem, sizeof(problem), "allocation %ld: the state changed", n);
		if (r >= 0) {
			tolerated++;
			if (sc->reset != NULL && sc->reset() < 0)
				snprintf(problem, sizeof(problem), "allocation %ld: reset failed",
					 n);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	tap_ok(problem[0] == '\0',
	       "%s: %ld allocations each failed in turn (%ld tolerated, %.1f s)%s%s", sc->name,
	       n - 1, tolerated,
	       (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9,
	       problem[0] ? ": " : "", problem);
}

/* ---- pure parsers ----------------------------------------------------------------------- */

static const char dockerfile_text[] =
	"# syntax=docker/dockerfile:1\n"
	"# escape=\\\n"
	"ARG GO=1.22\n"
	"FROM golang:${GO}-alpine AS builder\n"
	"ARG TARGETOS TARGETARCH\n"
	"ENV CGO_ENABLED=0 GOFLAGS=\"-trimpath\"\n"
	"WORKDIR /src\n"
	"COPY --chown=1000:1000 --chmod=0644 go.mod go.sum ./\n"
	"RUN --mount=type=cache,target=/root/.cache/go-build,id=gb,sharing=locked \\\n"
	"    --mount=type=secret,id=tok,env=TOKEN --network=none \\\n"
	"    go mod download\n"
	"COPY . .\n"
	"RUN <<EOF\n"
	"set -e\n"
	"go build -o /out/app ./cmd/app\n"
	"EOF\n"
	"FROM scratch\n"
	"LABEL org.opencontainers.image.title=\"app\" maintainer=me\n"
	"COPY --from=builder /out/app /app\n"
	"COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/\n"
	"EXPOSE 8080/tcp\n"
	"USER 65532:65532\n"
	"HEALTHCHECK --interval=30s CMD [\"/app\", \"-health\"]\n"
	"ONBUILD RUN echo hi\n"
	"ENTRYPOINT [\"/app\"]\n"
	"CMD [\"serve\", \"--port=8080\"]\n";

static int run_dockerfile(struct plate_error **err)
{
	struct dockerfile *df = NULL;
	struct buf out = BUF_INIT(BUF_UNLIMITED);
	int r;

	r = dockerfile_parse(dockerfile_text, strlen(dockerfile_text), NULL, &df, err);
	if (r == 0 && dockerfile_dump(df, &out) < 0)
		r = plate_err_new(err, ENOMEM, "out of memory");
	buf_release(&out);
	dockerfile_free(df);
	return r;
}

static struct dockerfile *plan_df;

static int run_plan(struct plate_error **err)
{
	static const char *const args[] = { "GO=1.23", "HTTP_PROXY=http://127.0.0.1:3128" };
	struct plan_options o = { .build_args = args,
				  .n_build_args = 2,
				  .target_platform = "linux/arm64/v8" };
	struct plan *plan = NULL;
	struct buf out = BUF_INIT(BUF_UNLIMITED);
	int r;

	r = plan_build(plan_df, &o, &plan, err);
	if (r == 0)
		r = plan_to_json(plan, &out, err);
	buf_release(&out);
	plan_free(plan);
	return r;
}

static int run_ignore(struct plate_error **err)
{
	static const char text[] = "# comment\n**/*.o\n!keep/**/*.o\nnode_modules\n/tmp/[a-c]?x\n"
				   "docs/**\n!docs/README.md\n../up\n";
	struct ignore *m = NULL;
	char **patterns = NULL;
	size_t n = 0;
	int r;

	r = ignore_file_parse(text, strlen(text), &patterns, &n, err);
	if (r == 0)
		r = ignore_new((const char *const *)patterns, n, &m, err);
	if (r == 0) {
		ignore_match(m, "a/b/c.o");
		ignore_match(m, "keep/x/y.o");
		ignore_match(m, "docs/README.md");
	}
	ignore_free(m);
	strv_free(patterns, n);
	return r;
}

static const char config_json[] =
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
	"\"config\":{\"User\":\"65532\",\"Env\":[\"PATH=/usr/bin\",\"A=b\"],"
	"\"Entrypoint\":[\"/app\"],\"Cmd\":[\"serve\"],\"WorkingDir\":\"/\","
	"\"ExposedPorts\":{\"8080/tcp\":{}},\"Volumes\":{\"/data\":{}},"
	"\"Labels\":{\"a\":\"b\",\"c\":\"d\"},\"StopSignal\":\"SIGTERM\","
	"\"Healthcheck\":{\"Test\":[\"CMD\",\"/app\",\"-h\"],\"Interval\":30000000000},"
	"\"OnBuild\":[\"RUN x\"],\"Shell\":[\"/bin/sh\",\"-c\"]},"
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
	"0000000000000000000000000000000000000000000000000000000000000001\"]},"
	"\"history\":[{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"COPY app /\","
	"\"comment\":\"c\"},{\"created_by\":\"ENV A=b\",\"empty_layer\":true}]}";

static const char manifest_json[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":7,"
	"\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000002\"},"
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":9,"
	"\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000003\","
	"\"annotations\":{\"x\":\"y\"}}],\"annotations\":{\"org.opencontainers.image.created\":"
	"\"now\"}}";

static const char index_json[] =
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
	"\"application/vnd.oci.image.manifest.v1+json\",\"size\":7,"
	"\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000004\","
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"},"
	"\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}";

static int run_oci(struct plate_error **err)
{
	struct oci_config c = { 0 }, copy = { 0 };
	struct oci_manifest m = { 0 };
	struct oci_index idx = { 0 };
	char *out = NULL;
	size_t len;
	int r;

	r = oci_config_parse(config_json, strlen(config_json), 0, &c, err);
	if (r == 0)
		r = oci_config_copy(&copy, &c, err);
	if (r == 0)
		r = oci_config_write(&copy, &out, &len, err);
	free(out);
	out = NULL;
	if (r == 0)
		r = oci_manifest_parse(manifest_json, strlen(manifest_json), 0, &m, err);
	if (r == 0)
		r = oci_manifest_write(&m, OCI_FORMAT_OCI, &out, &len, err);
	free(out);
	out = NULL;
	if (r == 0)
		r = oci_index_parse(index_json, strlen(index_json), 0, &idx, err);
	if (r == 0)
		r = oci_index_write(&idx, OCI_FORMAT_OCI, &out, &len, err);
	free(out);
	oci_config_release(&c);
	oci_config_release(&copy);
	oci_manifest_release(&m);
	oci_index_release(&idx);
	return r;
}

static int run_reference(struct plate_error **err)
{
	/* clang-format off */
	static const char *const refs[] = {
		"golang:1.22-alpine", "127.0.0.1:5000/a/b@sha256:"
		"0000000000000000000000000000000000000000000000000000000000000005",
		"ghcr.io/owner/image:tag",
	};
	/* clang-format on */

	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		struct oci_reference ref = { 0 };
		char *s;

		if (oci_reference_parse(refs[i], strlen(refs[i]), &ref, err) < 0)
			return -1;
		s = oci_reference_format(&ref);
		oci_reference_release(&ref);
		if (s == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		free(s);
	}
	return 0;
}

#define S(lit) lit, strlen(lit)

static int run_registry(struct plate_error **err)
{
	static const char docker_config[] =
		"{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYXNz\"},"
		"\"https://index.docker.io/v1/\":{\"username\":\"u\",\"password\":\"p\","
		"\"identitytoken\":\"t\"}},\"credHelpers\":{\"gcr.io\":\"gcr\"},"
		"\"credsStore\":\"pass\"}";
	struct reg_challenges ch = { 0 };
	struct reg_token tok = { 0 };
	struct reg_mirrors mirrors = { 0 };
	struct registry_docker_config cfg = { 0 };
	char *next = NULL, *summary = NULL, **tags = NULL;
	size_t n_tags = 0;
	int r;

	r = reg_parse_www_authenticate(S("Bearer realm=\"http://127.0.0.1:1/token\",service="
					 "\"reg\",scope=\"repository:a/b:pull,push\", Basic "
					 "realm=r"),
				       &ch, err);
	if (r == 0)
		r = reg_parse_link_next(S("</v2/a/tags/list?n=2&last=b>; rel=\"next\""), &next,
					err);
	if (r >= 0)
		r = reg_parse_token_response(S("{\"token\":\"abc\",\"access_token\":\"abc\","
					       "\"expires_in\":300,\"issued_at\":"
					       "\"2024-01-01T00:00:00Z\",\"refresh_token\":\"r\"}"),
					     &tok, err);
	if (r == 0 && reg_parse_error_body(S("{\"errors\":[{\"code\":\"DENIED\",\"message\":"
					     "\"no\",\"detail\":{}},{\"code\":\"X\"}]}"),
					   &summary) < 0)
		r = plate_err_new(err, ENOMEM, "out of memory");
	if (r == 0)
		r = reg_parse_tags(S("{\"name\":\"a/b\",\"tags\":[\"v1\",\"v2\",\"latest\"]}"),
				   &tags, &n_tags, 100, err);
	if (r == 0)
		r = reg_parse_mirrors(S("docker.io=http://127.0.0.1:5000, ghcr.io=127.0.0.1:5001"),
				      &mirrors, err);
	if (r == 0)
		r = registry_docker_config_parse(S(docker_config), &cfg, err);
	reg_challenges_release(&ch);
	reg_token_release(&tok);
	reg_mirrors_release(&mirrors);
	registry_docker_config_release(&cfg);
	strv_free(tags, n_tags);
	free(next);
	free(summary);
	return r < 0 ? -1 : 0;
}

/* ---- layers ----------------------------------------------------------------------------- */

static int layer_fd = -1;
static char *tmp_root;

/* A layer with the entry types an image has: directories, files, a symlink, a hard link,
 * an xattr and a whiteout. */
static int write_layer(int fd, const char *compression, struct plate_error **err)
{
	static const struct layer_xattr xa = { .name = "user.plate", .value = "v", .size = 1 };
	/* clang-format off */
	const struct layer_entry entries[] = {
		{ .type = LAYER_ENTRY_DIR, .path = "etc", .mode = 0755 },
		{ .type = LAYER_ENTRY_WHITEOUT, .path = "etc/shadow" },
		{ .type = LAYER_ENTRY_FILE, .path = "etc/passwd", .mode = 0644, .size = 5 },
		{ .type = LAYER_ENTRY_DIR, .path = "usr", .mode = 0755, .uid = 1000, .gid = 1000 },
		{ .type = LAYER_ENTRY_DIR, .path = "usr/bin", .mode = 0755 },
		{ .type = LAYER_ENTRY_FILE, .path = "usr/bin/app", .mode = 04755, .size = 5,
		  .xattrs = &xa, .n_xattrs = 1 },
		{ .type = LAYER_ENTRY_HARDLINK, .path = "usr/bin/app2", .link_target = "usr/bin/app" },
		{ .type = LAYER_ENTRY_SYMLINK, .path = "usr/bin/sh", .mode = 0777,
		  .link_target = "app" },
	};
	/* clang-format on */
	struct layer_writer_options o = { .compression = compression, .epoch = 1 };
	struct layer_writer *w = NULL;
	struct layer_result res;
	int r;

	r = layer_writer_new(fd, &o, &w, err);
	for (size_t i = 0; r == 0 && i < sizeof(entries) / sizeof(entries[0]); i++)
		r = entries[i].type == LAYER_ENTRY_FILE
			    ? layer_writer_add_data(w, &entries[i], "hello", entries[i].size, err)
			    : layer_writer_add(w, &entries[i], -1, err);
	if (r == 0)
		r = layer_writer_finish(w, &res, err);
	layer_writer_free(w);
	return r;
}

static int run_layer_write(struct plate_error **err)
{
	_cleanup_close_ int fd = memfd_create("layer", MFD_CLOEXEC);

	if (fd < 0)
		return plate_err_new(err, errno, "memfd_create");
	return write_layer(fd, "gzip", err);
}

static int run_layer_extract(struct plate_error **err)
{
	struct layer_extract_options o = { .whiteouts = LAYER_WHITEOUT_OVERLAY };
	struct layer_extract_result res;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -1;
	int r;

	/* The temp directory is the driver's, not the code's under test: made without failing. */
	atomic_store(&paused, true);
	dir = fsutil_mkdtemp("oom-extract");
	atomic_store(&paused, false);
	if (dir == NULL || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return plate_err_new(err, errno, "temp dir");
	if (lseek(layer_fd, 0, SEEK_SET) < 0)
		return plate_err_new(err, errno, "lseek");
	r = layer_extract(layer_fd, dfd, &o, &res, err);
	atomic_store(&paused, true);
	fsutil_remove_at(AT_FDCWD, dir);
	atomic_store(&paused, false);
	return r;
}

/* ---- the store -------------------------------------------------------------------------- */

static char *empty_root, *full_root; /* a store reset to empty, one holding an image */
static struct store *empty_store, *full_store;
static int archive_fd = -1; /* docker-archive of the image */
static char *fingerprint;   /* of empty_store, taken when it was made */
static const char image_name[] = "localhost/oom:test";

/* What list_entry() collects: one "path type [size]" line an entry. */
static struct strv listing;
static size_t listing_root_len;

static int list_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + listing_root_len;
	char *line;

	rel += *rel == '/';
	if (ftw->level == 1 && type == FTW_D &&
	    (strcmp(rel, "tmp") == 0 || strcmp(rel, "trash") == 0))
		return FTW_SKIP_SUBTREE;
	/* A directory's size is the filesystem's business (tmpfs counts entries). */
	if ((S_ISREG(st->st_mode)
		     ? asprintf(&line, "%s f %lld", rel, (long long)st->st_size)
		     : asprintf(&line, "%s %o", rel, (unsigned)(st->st_mode & S_IFMT))) < 0)
		return FTW_STOP;
	if (strv_push(&listing, line) < 0) {
		free(line);
		return FTW_STOP;
	}
	return FTW_CONTINUE;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Paths, types and file sizes below root, sorted (transactions' tmp/ and trash/ left out:
 * leftovers there are allowed after a failure), then "---" and index.json itself. */
static char *store_fingerprint(const char *root)
{
	_cleanup_free_ char *path = NULL, *index = NULL;
	struct buf out = BUF_INIT(BUF_UNLIMITED);
	char **v;
	size_t n;
	int r;

	listing_root_len = strlen(root);
	r = nftw(root, list_entry, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	v = strv_detach(&listing, &n);
	if (r == 0 && n > 1)
		qsort(v, n, sizeof(*v), cmp_line);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = buf_addf(&out, "%s\n", v[i]);
	strv_free(v, n);
	if (r != 0 || asprintf(&path, "%s/index.json", root) < 0 ||
	    (index = tap_read_file(path, NULL)) == NULL || buf_addf(&out, "---\n%s", index) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

static int fsck_clean(struct store *s)
{
	struct store_fsck_result res = { 0 };
	struct plate_error *err = NULL;
	int r = 0;

	if (store_fsck(s, &res, &err) < 0 || res.problems.n != 0) {
		tap_diag("fsck: %s", err ? err->message : res.problems.n ? res.problems.v[0] : "?");
		r = -1;
	}
	plate_error_free(err);
	store_fsck_result_release(&res);
	return r;
}

static int empty_reset(void);

/* A commit that failed halfway may have published blobs and snapshots nothing names (as
 * after a crash: gc removes them); what must not change is index.json, and fsck must find
 * nothing.  The store is then made empty again so that every run starts from the same one. */
static int empty_unchanged(void)
{
	_cleanup_free_ char *now = NULL;
	const char *index_before = strstr(fingerprint, "---\n"), *index_now;
	int r;

	atomic_store(&paused, true);
	now = store_fingerprint(empty_root);
	index_now = now ? strstr(now, "---\n") : NULL;
	r = index_now != NULL && strcmp(index_now, index_before) == 0 ? 0 : -1;
	if (r < 0)
		tap_diag("store before:\n%s\nafter:\n%s", fingerprint, now ? now : "?");
	if (r == 0)
		r = fsck_clean(empty_store);
	if (r == 0 && strcmp(now, fingerprint) != 0)
		r = empty_reset();
	atomic_store(&paused, false);
	return r;
}

static int make_store(const char *root, struct store **s)
{
	struct plate_error *err = NULL;

	if (store_open(root, STORE_OPEN_CREATE, s, &err) < 0) {
		tap_diag("store_open: %s", err->message);
		plate_error_free(err);
		return -1;
	}
	return 0;
}

/* Back to an empty store after a run that stored something. */
static int empty_reset(void)
{
	store_free(empty_store);
	empty_store = NULL;
	fsutil_remove(empty_root);
	if (make_store(empty_root, &empty_store) < 0)
		return -1;
	free(fingerprint);
	fingerprint = store_fingerprint(empty_root);
	return fingerprint != NULL ? 0 : -1;
}

static int import_layer(struct store *s, struct plate_error **err)
{
	/* clang-format off */
	static const char *const changes[] = {
		"ENV PATH=/usr/bin:/bin A=b",   "CMD [\"/usr/bin/app\", \"serve\"]",
		"ENTRYPOINT [\"/bin/sh\", \"-c\"]", "EXPOSE 8080 53/udp",
		"LABEL a=b \"c d\"=e",          "WORKDIR /srv",
		"USER 1000:1000",               "VOLUME [\"/data\", \"/cache\"]",
		"STOPSIGNAL SIGINT",
	};
	/* clang-format on */
	struct store_import_options o = { .name = image_name,
					  .changes = changes,
					  .n_changes = sizeof(changes) / sizeof(changes[0]),
					  .epoch = 1,
					  .os = "linux",
					  .architecture = "amd64",
					  .comment = "oom" };
	char digest[DIGEST_STRING_LEN + 1];

	if (lseek(layer_fd, 0, SEEK_SET) < 0)
		return plate_err_new(err, errno, "lseek");
	return store_import(s, layer_fd, &o, digest, err);
}

static int run_store_import(struct plate_error **err)
{
	return import_layer(empty_store, err);
}

static int run_store_load(struct plate_error **err)
{
	struct store_load_result res = { 0 };
	int r;

	if (lseek(archive_fd, 0, SEEK_SET) < 0)
		return plate_err_new(err, errno, "lseek");
	r = store_load(empty_store, archive_fd, &res, err);
	store_load_result_release(&res);
	return r;
}

static int run_store_save(struct plate_error **err)
{
	static const char *const names[] = { image_name };
	_cleanup_close_ int fd = memfd_create("save", MFD_CLOEXEC);

	if (fd < 0)
		return plate_err_new(err, errno, "memfd_create");
	if (store_save(full_store, names, 1, NULL, STORE_ARCHIVE_OCI, fd, err) < 0)
		return -1;
	return store_save(full_store, names, 1, NULL, STORE_ARCHIVE_DOCKER, fd, err);
}

static int run_store_read(struct plate_error **err)
{
	struct store_fsck_result res = { 0 };
	struct store_image *img = NULL;
	struct store *s = NULL;
	int r;

	r = store_open(full_root, 0, &s, err);
	if (r == 0)
		r = store_image_resolve(s, image_name, NULL, &img, err);
	if (r == 0)
		r = store_fsck(s, &res, err);
	store_fsck_result_release(&res);
	store_image_free(img);
	store_free(s);
	return r;
}

static int run_store_gc(struct plate_error **err)
{
	struct store_gc_result res;

	return store_gc(full_store, STORE_GC_ALL_CACHE, &res, err);
}

static int full_unchanged(void)
{
	return fsck_clean(full_store);
}

static int setup(void)
{
	struct plate_error *err = NULL;
	const char *const names[] = { image_name };

	/* OpenSSL makes its per-thread error queue the first time an error is raised (on a
	 * failed allocation, say) and keeps it and the strings of its 16 slots for reuse:
	 * filled here, they are not counted as leaks. */
	for (int i = 0; i < ERR_NUM_ERRORS; i++)
		ERR_raise_data(ERR_LIB_USER, ERR_R_MALLOC_FAILURE, "%s", "warm-up");
	ERR_clear_error();
	if ((tmp_root = fsutil_mkdtemp("oom")) == NULL)
		return -1;
	/* A store operation ends with fsync and syncfs; on a busy disk a thousand of them took
	 * minutes.  As root the stores live in a tmpfs of a private mount namespace (it goes
	 * away with the process), where they cost nothing; what is tested is the same. */
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount("tmpfs", tmp_root, "tmpfs", 0, "size=64m,mode=0700") < 0)
		tap_diag("no tmpfs for the stores (%s): on disk", strerror(errno));
	if (asprintf(&empty_root, "%s/empty", tmp_root) < 0 ||
	    asprintf(&full_root, "%s/full", tmp_root) < 0)
		return -1;
	if (dockerfile_parse(dockerfile_text, strlen(dockerfile_text), NULL, &plan_df, &err) < 0 ||
	    (layer_fd = memfd_create("layer", MFD_CLOEXEC)) < 0 ||
	    write_layer(layer_fd, "none", &err) < 0 ||
	    (archive_fd = memfd_create("archive", MFD_CLOEXEC)) < 0 ||
	    make_store(full_root, &full_store) < 0 || import_layer(full_store, &err) < 0 ||
	    store_save(full_store, names, 1, NULL, STORE_ARCHIVE_DOCKER, archive_fd, &err) < 0 ||
	    empty_reset() < 0) {
		tap_diag("setup: %s", err ? err->message : strerror(errno));
		plate_error_free(err);
		return -1;
	}
	return 0;
}

int main(void)
{
	/* clang-format off */
	static const struct scenario scenarios[] = {
		{ "dockerfile parse and dump", run_dockerfile, NULL, NULL },
		{ "plan and its JSON", run_plan, NULL, NULL },
		{ ".dockerignore parse and match", run_ignore, NULL, NULL },
		{ "OCI config, manifest, index", run_oci, NULL, NULL },
		{ "image references", run_reference, NULL, NULL },
		{ "registry headers and documents", run_registry, NULL, NULL },
		{ "layer writer (gzip)", run_layer_write, NULL, NULL },
		{ "layer extraction", run_layer_extract, NULL, NULL },
		{ "store import", run_store_import, empty_unchanged, empty_reset  },
		{ "store load (docker-archive)", run_store_load, empty_unchanged, empty_reset  },
		{ "store save (oci and docker archives)", run_store_save, full_unchanged, NULL },
		{ "store open, resolve, fsck", run_store_read, full_unchanged, NULL },
		{ "store gc", run_store_gc, full_unchanged, NULL },
	};
	/* clang-format on */
	struct sigaction sa = { .sa_handler = crashed };

	driver_thread = true;

	sigaction(SIGABRT, &sa, NULL);
#ifndef __SANITIZE_ADDRESS__
	/* ASan's own report is better: it names the access. */
	sigaction(SIGSEGV, &sa, NULL);
#endif
	if (setup() < 0) {
		tap_ok(false, "setup");
		return tap_done();
	}
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		drive(&scenarios[i]);
	store_free(empty_store);
	store_free(full_store);
	dockerfile_free(plan_df);
	umount2(tmp_root, MNT_DETACH);
	fsutil_remove(tmp_root);
	free(tmp_root);
	free(empty_root);
	free(full_root);
	free(fingerprint);
	close(layer_fd);
	close(archive_fd);
	return tap_done();
}
