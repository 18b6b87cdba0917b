/*
 * layer/libarchive.c — libarchive, loaded the first time a command reads or writes a tar.
 *
 * Debian's libarchive links libxml2 (and so ICU, 30 MB of data plus libstdc++), nettle,
 * liblzma, liblz4, libbz2, libacl and zlib for formats plate never asks for.  Linked, those
 * 13 shared objects were relocated at every exec, a third of plate's start-up; yet most
 * commands (version, images, inspect, check, a build whose steps all hit the cache) never
 * touch a tar.  So the library is opened with dlopen() on the first reader, writer or ADD
 * archive test, as registry/libcurl.c does for libcurl.  Types and constants still come
 * from <archive.h>, and each pointer of layer_la has the type of the function it stands
 * for (__typeof__), so every call is checked against the real prototype.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "layer/layer_internal.h"

struct layer_la_api layer_la;

/* The SONAME of libarchive 3.x; the Debian packages libarchive13 and libarchive-dev (build
 * dependency) provide it. */
#define LIBARCHIVE_SONAME "libarchive.so.13"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
	void *lib = dlopen(LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	void *sym;

	if (lib == NULL) {
		snprintf(load_error, sizeof(load_error), "%s", dlerror());
		return;
	}
	/* POSIX: a data pointer returned by dlsym() converts to a function pointer. */
#define LAYER_LA_RESOLVE(name)                                                                  \
	sym = dlsym(lib, #name);                                                                \
	if (sym == NULL) {                                                                      \
		snprintf(load_error, sizeof(load_error), "%s lacks " #name, LIBARCHIVE_SONAME); \
		return;                                                                         \
	}                                                                                       \
	*(void **)&layer_la.name = sym;
	LAYER_LA_FUNCTIONS(LAYER_LA_RESOLVE)
#undef LAYER_LA_RESOLVE
	/* Under pthread_once: the writer's and reader's threads may start together; the
	 * library stays loaded until the process exits. */
	layer_la.ready = true;
}

int layer_la_load(struct plate_error **err)
{
	pthread_once(&load_once, load);
	if (!layer_la.ready)
		return plate_err_new(err, ELIBACC, "cannot load libarchive: %s", load_error);
	return 0;
}
