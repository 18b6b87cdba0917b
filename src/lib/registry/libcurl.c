/*
 * registry/libcurl.c — libcurl, loaded the first time a command talks HTTP.
 *
 * libcurl and the libraries it needs (TLS, HTTP/2, Kerberos, LDAP, SSH, IDN: about 30 shared
 * objects) cost ~20 ms of relocation and page faults at every exec.  Most plate commands
 * (check, images, inspect, the doctor after a build) never touch the network, so the
 * library is opened with dlopen() on first use instead of being linked: those commands
 * start in ~15 ms instead of ~35 ms.  Types and constants still come from <curl/curl.h>;
 * calls go through reg_curl, filled here once.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include "registry/registry_internal.h"

struct reg_curl_api reg_curl;

/* The SONAME of libcurl 7.x/8.x; the Debian packages libcurl4 and libcurl4-openssl-dev
 * (build dependency) provide it. */
#define LIBCURL_SONAME "libcurl.so.4"
#define MIN_VERSION 0x075500

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

static bool resolve(void *lib, const char *name, void *slot)
{
	void *sym = dlsym(lib, name);

	if (sym == NULL) {
		snprintf(load_error, sizeof(load_error), "%s lacks %s", LIBCURL_SONAME, name);
		return false;
	}
	/* POSIX: a data pointer returned by dlsym() converts to a function pointer. */
	*(void **)slot = sym;
	return true;
}

static void load(void)
{
	void *lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	curl_version_info_data *vi;
	CURLcode rc;

	if (lib == NULL) {
		snprintf(load_error, sizeof(load_error), "%s", dlerror());
		return;
	}
	if (!resolve(lib, "curl_global_init", &reg_curl.global_init) ||
	    !resolve(lib, "curl_easy_init", &reg_curl.easy_init) ||
	    !resolve(lib, "curl_easy_setopt", &reg_curl.easy_setopt) ||
	    !resolve(lib, "curl_easy_perform", &reg_curl.easy_perform) ||
	    !resolve(lib, "curl_easy_getinfo", &reg_curl.easy_getinfo) ||
	    !resolve(lib, "curl_easy_reset", &reg_curl.easy_reset) ||
	    !resolve(lib, "curl_easy_cleanup", &reg_curl.easy_cleanup) ||
	    !resolve(lib, "curl_easy_strerror", &reg_curl.easy_strerror) ||
	    !resolve(lib, "curl_slist_append", &reg_curl.slist_append) ||
	    !resolve(lib, "curl_slist_free_all", &reg_curl.slist_free_all) ||
	    !resolve(lib, "curl_version_info", &reg_curl.version_info))
		return;
	/* CURLOPT_PROTOCOLS_STR (our protocol limits, redirects included) needs 7.85; older
	 * libraries ignore it with CURLE_UNKNOWN_OPTION, and before 7.84 curl_global_init
	 * was not thread-safe. */
	vi = reg_curl.version_info(CURLVERSION_NOW);
	if (vi == NULL || vi->version_num < MIN_VERSION) {
		snprintf(load_error, sizeof(load_error), "libcurl %s is older than 7.85.0",
			 vi != NULL ? vi->version : "?");
		return;
	}
	/* Under pthread_once, so one thread initialises even when several transfers start
	 * together; the library stays loaded (and initialised) until the process exits. */
	rc = reg_curl.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "curl_global_init: %s",
			 reg_curl.easy_strerror(rc));
		return;
	}
	reg_curl.ready = true;
}

int reg_curl_load(struct plate_error **err)
{
	pthread_once(&load_once, load);
	if (!reg_curl.ready)
		return plate_err_new(err, 0, "cannot load libcurl: %s", load_error);
	return 0;
}

int reg_setopts_done(const struct reg_setopts *o, struct plate_error **err)
{
	if (o->rc == CURLE_OK)
		return 0;
	return plate_err_new(err, o->rc == CURLE_OUT_OF_MEMORY ? ENOMEM : EINVAL,
			     "libcurl refused %s: %s", o->failed, reg_curl.easy_strerror(o->rc));
}
