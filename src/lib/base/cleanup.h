/*
 * base/cleanup.h — scope-bound cleanup for locals, and explicit ownership hand-off.
 *
 * A local declared `_cleanup_free_ char *s = NULL;` is freed when it goes out of scope.
 * To hand it out, `return steal_pointer(&s);` (or `*out = steal_pointer(&s);`), which
 * returns the value and leaves NULL behind so the cleanup does nothing.  File
 * descriptors work the same way with _cleanup_close_ and steal_fd(); -1 means "none".
 */
#ifndef PLATE_BASE_CLEANUP_H
#define PLATE_BASE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/strv.h"

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f != NULL)
		fclose(*f);
}

static inline void cleanup_closedirp(DIR **d)
{
	if (*d != NULL)
		closedir(*d);
}

static inline void cleanup_errorp(struct plate_error **e)
{
	plate_error_free(*e);
}

static inline void cleanup_bufp(struct buf *b)
{
	buf_release(b);
}

/* For a child process that must not outlive the scope (a sandbox's pid 1): SIGKILL, then
 * reap it so no zombie is left.  Set the pid to -1 once it has been waited for. */
static inline void cleanup_kill_childp(pid_t *pid)
{
	if (*pid > 0) {
		int saved = errno;
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = saved;
	}
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_close_ _cleanup_(cleanup_closep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)
#define _cleanup_closedir_ _cleanup_(cleanup_closedirp)
#define _cleanup_error_ _cleanup_(cleanup_errorp)
#define _cleanup_buf_ _cleanup_(cleanup_bufp)
#define _cleanup_strv_ _cleanup_(cleanup_strvp)
#define _cleanup_kill_child_ _cleanup_(cleanup_kill_childp)

static inline void *steal_pointer_impl(void **pp)
{
	void *p = *pp;
	*pp = NULL;
	return p;
}
#define steal_pointer(pp) ((__typeof__(*(pp)))steal_pointer_impl((void **)(pp)))

static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

static inline void cleanup_strvp(struct strv *sv)
{
	strv_release(sv);
}

#endif
