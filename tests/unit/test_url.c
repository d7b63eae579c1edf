/* test_url.c — unit tests for the URL API (url.h) as case tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/url.h"

#define NONE ((const char *)0)

static void expect_str(const char *what, const char *in, char *got, const char *want)
{
	if (!want && got)
		fail_msg("%s(\"%s\"): expected NULL, got \"%s\"", what, in, got);
	if (want && !got)
		fail_msg("%s(\"%s\"): expected \"%s\", got NULL", what, in, want);
	if (want && strcmp(got, want) != 0)
		fail_msg("%s(\"%s\"): expected \"%s\", got \"%s\"", what, in, want, got);
	free(got);
}

/* Each URL taken apart: origin, host[:port], hostname, user. */
static const struct {
	const char *url, *origin, *hostport, *hostname, *user;
} parts[] = {
	{"https://example.com", "https://example.com", "example.com", "example.com", ""},
	{"https://Example.COM/a/b?x=1#f", "https://example.com", "Example.COM", "example.com", ""},
	{"http://127.0.0.1:8080/health", "http://127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1", ""},
	{"https://h:443/", "https://h", "h:443", "h", ""},
	{"http://[::1]:9000/x", "http://[::1]:9000", "[::1]:9000", "::1", ""},
	{"https://[2001:db8::1]/", "https://[2001:db8::1]", "[2001:db8::1]", "2001:db8::1", ""},
	{"postgresql://app:secret@db.internal:5432/app?sslmode=require", "postgresql://db.internal:5432",
	 "db.internal:5432", "db.internal", "app"},
	{"postgresql://app:p@ss@localhost/app", "postgresql://localhost", "localhost", "localhost", "app"},
	{"smtps://alerts:p@ss/w0rd@smtp.example:465", "smtps://smtp.example", "smtp.example:465",
	 "smtp.example", "alerts"},
	{"redis://:tok#en@cache:6379/0", "redis://cache:6379", "cache:6379", "cache", ""},
	{"https://us%40er:pw@h/", "https://h", "h", "h", "us@er"},
	{"https://user@h/p@x", "https://h", "h", "h", "user"},
	{"https://user:pw@h/p@x", "https://x", "x", "x", "user"},
	{"https://h/?q=a@b", "https://h", "h", "h", ""},
};

static void test_url_parts(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
		const char *u = parts[i].url;
		expect_str("url_origin", u, url_origin(u), parts[i].origin);
		expect_str("url_hostport", u, url_hostport(u), parts[i].hostport);
		expect_str("url_hostname", u, url_hostname(u), parts[i].hostname);
		expect_str("url_username", u, url_username(u), parts[i].user);
	}
}

/* The path, with and without the query; never the fragment. */
static void test_url_path(void **state)
{
	(void)state;
	static const struct {
		const char *url, *path, *with_query;
	} cases[] = {
		{"http://127.0.0.1:8080", "/", "/"},
		{"http://127.0.0.1:8080/", "/", "/"},
		{"https://u:p@h/health", "/health", "/health"},
		{"http://h/a/b?x=1&y=2#frag", "/a/b", "/a/b?x=1&y=2"},
		{"http://h?q", "/", "/?q"},
		{"http://[::1]:9/ok#f", "/ok", "/ok"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		expect_str("url_path", cases[i].url, url_path(cases[i].url, false), cases[i].path);
		expect_str("url_path+query", cases[i].url, url_path(cases[i].url, true), cases[i].with_query);
	}
	assert_null(url_path("not a url", false));
	assert_null(url_path(NULL, true));
}

/* Not URLs: every function says so. */
static void test_url_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "example.com", "/health", "http://", "http://[::1", "http://h:99999/", "http://h:x/",
		"https://*.example.com", "https://h/a b", "://h", "http://exa mple.com/",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		expect_str("url_origin", bad[i], url_origin(bad[i]), NONE);
		expect_str("url_hostname", bad[i], url_hostname(bad[i]), NONE);
		expect_str("url_hostport", bad[i], url_hostport(bad[i]), NONE);
		expect_str("url_username", bad[i], url_username(bad[i]), NONE);
		expect_str("url_join_path", bad[i], url_join_path(bad[i], "/x"), NONE);
	}
	assert_null(url_origin(NULL));
	assert_null(url_hostname(NULL));
}

static void test_url_is_origin(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		bool origin;
	} cases[] = {
		{"https://a.example", true},    {"HTTPS://A.example", true},   {"https://a.example:8443", true},
		{"http://[::1]:80", true},      {"https://a.example/", false}, {"https://u:p@a.example", false},
		{"https://a.example/x", false}, {"https://a.example?q", false}, {"https://a.example#f", false},
		{"not a url", false},           {"https://*.a.example", false},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		if (url_is_origin(cases[i].url) != cases[i].origin)
			fail_msg("url_is_origin(\"%s\"): expected %d", cases[i].url, cases[i].origin);
}

static const struct {
	const char *base, *ref, *joined;
} joins[] = {
	{"https://h", "/health", "https://h/health"},
	{"https://h/", "/health", "https://h/health"},
	{"https://h/api", "/health", "https://h/api/health"},
	{"https://h/api/", "health", "https://h/api/health"},
	{"https://h/api//", "//health/", "https://h/api/health/"},
	{"https://h/api?k=1#x", "/v1/items?page=2#top", "https://h/api/v1/items?page=2#top"},
	{"https://h/api", "?q=1", "https://h/api/?q=1"},
	{"http://[::1]:8080/base/", "/x", "http://[::1]:8080/base/x"},
	{"https://u:pw@h:8443/a", "b/c", "https://u:pw@h:8443/a/b/c"},
	{"https://h/api", "http://other:81/z", "http://other:81/z"},
	{"https://h/api/", "", "https://h/api"},
	{"https://h/api/", NULL, "https://h/api"},
	{"https://h", "", "https://h"},
	{"https://h/", "/", "https://h"},
	{"https://h/api", "a b", "https://h/api/a%20b"},
	{"https://h/api", "http://h:99999/", NONE},
	{"https://h/api", "http://[::1/", NONE},
};

static void test_url_join(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(joins); i++)
		expect_str("url_join_path", joins[i].base, url_join_path(joins[i].base, joins[i].ref),
			   joins[i].joined);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parts),
		cmocka_unit_test(test_url_path),
		cmocka_unit_test(test_url_bad),
		cmocka_unit_test(test_url_join),
		cmocka_unit_test(test_url_is_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
