/* Unit tests of the engine's pure helpers: users and groups from /etc files, paths, source
 * cleaning, history quoting, durations, the string map. */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "engine/engine_internal.h"
#include "tap.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "# a comment\n"
			     "app:x:1000:1000:app:/home/app:/bin/sh\n"
			     "broken line without fields\n"
			     "svc:x:998:997::/srv:/bin/false\n"
			     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false";
static const char group[] = "root:x:0:\n"
			    "app:x:1000:\n"
			    "staff:x:1001:app,svc\n"
			    "wheel:x:10:svc\n"
			    "svcgrp:x:997:\n"
			    "nogroup:x:65534:";

static void user_case(const char *spec, bool groups, const char *want)
{
	struct eng_etc etc = { .passwd = (char *)passwd,
			       .passwd_len = strlen(passwd),
			       .group = (char *)group,
			       .group_len = strlen(group) };
	struct eng_user u = { 0 };
	_cleanup_error_ struct plate_error *err = NULL;
	char got[256];

	if (eng_user_resolve(&etc, spec, groups, &u, &err) < 0) {
		snprintf(got, sizeof(got), "error: %s", err->message);
	} else {
		int n = snprintf(got, sizeof(got), "%u:%u home=%s groups=", (unsigned)u.uid,
				 (unsigned)u.gid, u.home);
		for (size_t i = 0; i < u.n_groups; i++)
			n += snprintf(got + n, sizeof(got) - (size_t)n, "%s%u", i ? "," : "",
				      (unsigned)u.groups[i]);
		eng_user_release(&u);
	}
	tap_streq(got, want, "user '%s'%s", spec, groups ? " with groups" : "");
}

static void test_users(void)
{
	struct eng_etc none = { 0 };
	struct eng_user u = { 0 };
	_cleanup_error_ struct plate_error *err = NULL;

	user_case("", true, "0:0 home=/root groups=");
	user_case("root", true, "0:0 home=/root groups=");
	user_case("app", true, "1000:1000 home=/home/app groups=1001");
	user_case("svc", true, "998:997 home=/srv groups=1001,10");
	user_case("svc", false, "998:997 home=/srv groups=");
	user_case("1000", true, "1000:1000 home=/home/app groups=1001");
	user_case("4242", true, "4242:0 home=/ groups=");
	user_case("app:staff", true, "1000:1001 home=/home/app groups=");
	user_case("app:55", true, "1000:55 home=/home/app groups=");
	user_case("65534:65534", true, "65534:65534 home=/nonexistent groups=");
	user_case("ghost", true,
		  "error: unable to find user ghost: no matching entries in passwd file");
	user_case("app:ghosts", true,
		  "error: unable to find group ghosts: no matching entries in group file");
	user_case("99999999999", true,
		  "error: unable to find user 99999999999: no matching entries in passwd file");
	TAP_OK(eng_user_resolve(&none, "123:456", true, &u, &err) == 0 && u.uid == 123 &&
		       u.gid == 456 && strcmp(u.home, "/") == 0,
	       "numbers need no /etc/passwd");
	eng_user_release(&u);
	TAP_OK(eng_user_resolve(&none, "root", true, &u, &err) < 0,
	       "a name needs /etc/passwd (scratch has none)");
}

static void test_paths(void)
{
	static const struct {
		const char *base, *rel, *want;
	} joins[] = {
		{ "/", "a", "/a" },	    { "/src", "go.mod", "/src/go.mod" },
		{ "/src", "./", "/src" },   { "/src", "/abs/x/", "/abs/x" },
		{ "/a/b", "../c", "/a/c" }, { "/a", "../../../x", "/x" },
		{ NULL, "rel", "/rel" },    { "/a//b/", ".//c/./d", "/a/b/c/d" },
		{ "/", "..", "/" },
	};
	for (size_t i = 0; i < sizeof(joins) / sizeof(joins[0]); i++) {
		_cleanup_free_ char *got = eng_path_join(joins[i].base, joins[i].rel);
		tap_streq(got, joins[i].want, "join '%s' + '%s'",
			  joins[i].base ? joins[i].base : "(null)", joins[i].rel);
	}
	static const struct {
		const char *in, *want;
	} cleans[] = {
		{ "go.mod", "go.mod" }, { "./a/../b", "b" },
		{ "/etc/x", "etc/x" },	{ ".", "" },
		{ "a/./b/", "a/b" },	{ "../x", NULL },
		{ "a/../../x", NULL },	{ "a/b/../../c", "c" },
	};
	for (size_t i = 0; i < sizeof(cleans) / sizeof(cleans[0]); i++) {
		_cleanup_free_ char *got = NULL;
		_cleanup_error_ struct plate_error *err = NULL;
		int r = eng_source_clean(cleans[i].in, "build context", &got, &err);
		if (cleans[i].want == NULL)
			TAP_OK(r < 0 &&
				       strstr(err->message, "is outside the build context") != NULL,
			       "source '%s' is refused", cleans[i].in);
		else
			tap_streq(r == 0 ? got : "(error)", cleans[i].want, "source '%s'",
				  cleans[i].in);
	}
}

static void test_quote(void)
{
	const char *v[] = { "/bin/sh", "-c", "echo \"a\\b\"\t\n" };
	_cleanup_free_ char *q = eng_quote_list(v, 3);
	_cleanup_free_ char *e = eng_quote_list(NULL, 0);

	tap_streq(q, "[\"/bin/sh\" \"-c\" \"echo \\\"a\\\\b\\\"\\t\\n\"]", "Go %%q of a list");
	tap_streq(e, "[]", "empty list");

	/* Where the old ASCII-only quoting wrote raw bytes or \x0b: Go keeps printable
	 * runes, escapes invalid bytes as \xNN, non-printable runes as \u/\U, \v as \v. */
	const char *w[] = { "caf\xc3\xa9 \xe2\x82\xac", "\xff\xc3", "\xc2\x85\xc2\xad\v",
			    "\xf3\xa0\x80\x81" };
	_cleanup_free_ char *u = eng_quote_list(w, 4);

	tap_streq(u,
		  "[\"caf\xc3\xa9 \xe2\x82\xac\" \"\\xff\\xc3\" \"\\u0085\\u00ad\\v\" "
		  "\"\\U000e0001\"]",
		  "Go %%q of non-ASCII and invalid UTF-8");
}

static void test_env_set(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct oci_strings env = { 0 };
	const char *steps[] = { "PATH=/bin", "A=1", "AB=2", "A=3", "PATH", "B=" };
	int rc = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && rc == 0; i++)
		rc = eng_env_set(&env, steps[i], &err);
	TAP_OK(rc == 0 && env.n == 4, "four distinct keys");
	/* A key is replaced where it stands, by KEY=VALUE or a bare KEY; "A" is not "AB". */
	if (env.n == 4) {
		tap_streq(env.v[0], "PATH", "PATH replaced in place by the bare key");
		tap_streq(env.v[1], "A=3", "A replaced in place");
		tap_streq(env.v[2], "AB=2", "AB untouched");
		tap_streq(env.v[3], "B=", "B appended");
	}
	oci_strings_release(&env);
}

static void test_durations(void)
{
	static const struct {
		const char *in;
		long long want; /* -1: error */
	} cases[] = {
		{ "30s", 30000000000LL },
		{ "1m30s", 90000000000LL },
		{ "1.5h", 5400000000000LL },
		{ "500ms", 500000000LL },
		{ "0", 0 },
		{ "10us", 10000LL },
		{ "", -1 },
		{ "10", -1 },
		{ "5x", -1 },
		{ "-1s", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_error_ struct plate_error *err = NULL;
		int64_t ns = -2;
		int r = eng_parse_duration(cases[i].in, &ns, &err);
		if (cases[i].want < 0)
			TAP_OK(r < 0, "duration '%s' is refused", cases[i].in);
		else
			TAP_OK(r == 0 && ns == cases[i].want, "duration '%s' = %lld (got %lld)",
			       cases[i].in, cases[i].want, (long long)ns);
	}
}

static void test_strmap(void)
{
	struct eng_strmap m = { 0 };
	char key[32];
	bool ok = true;
	void *old;

	for (long i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "path/%ld", i);
		ok = ok && eng_strmap_put(&m, key, (void *)(i + 1), &old) == 0 && old == NULL;
	}
	TAP_OK(ok && m.n == 5000, "5000 distinct keys");
	for (long i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "path/%ld", i);
		ok = ok && eng_strmap_get(&m, key) == (void *)(i + 1);
	}
	TAP_OK(ok, "every key found");
	TAP_OK(eng_strmap_put(&m, "path/7", (void *)99, &old) == 0 && old == (void *)8 &&
		       eng_strmap_get(&m, "path/7") == (void *)99 && m.n == 5000,
	       "replacing a value returns the old one");
	TAP_OK(eng_strmap_get(&m, "path/5000") == NULL && eng_strmap_get(&m, "") == NULL,
	       "missing keys");
	eng_strmap_release(&m, NULL);
	TAP_OK(eng_strmap_get(&m, "path/1") == NULL, "a released map is empty");
}

int main(void)
{
	test_users();
	test_paths();
	test_quote();
	test_env_set();
	test_durations();
	test_strmap();
	return tap_done();
}
