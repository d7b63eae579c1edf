/* Unit tests for http: probe config parsing, assertions on hand-made results,
 * header secrecy, the engine's loop contract (refused connections, the
 * deadline, caller fds in a step), and libcurl failing to initialise or to
 * give a handle: reported to the caller, never an exit. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "shipshape/common.h"
#include "shipshape/http.h"
#include "shipshape/redact.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"

/* Error injection: this file's definitions of libcurl's three constructors
 * stand in front of libcurl's (the library is linked statically into the
 * test); each calls the real one unless its fail_ flag is set. */
static bool fail_global_init, fail_multi_init, fail_easy_init;
static int global_init_calls, easy_init_calls;

static void *real_curl(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);
	if (!fn)
		abort();
	return fn;
}

CURLcode curl_global_init(long flags)
{
	global_init_calls++;
	if (fail_global_init)
		return CURLE_FAILED_INIT;
	CURLcode (*real)(long);
	*(void **)&real = real_curl("curl_global_init");
	return real(flags);
}

CURLM *curl_multi_init(void)
{
	if (fail_multi_init)
		return NULL;
	CURLM *(*real)(void);
	*(void **)&real = real_curl("curl_multi_init");
	return real();
}

CURL *curl_easy_init(void)
{
	easy_init_calls++;
	if (fail_easy_init)
		return NULL;
	CURL *(*real)(void);
	*(void **)&real = real_curl("curl_easy_init");
	return real();
}

static int parse(struct http_probe *p, const char *json, char *err, size_t errsize)
{
	cJSON *o = cJSON_Parse(json);
	assert_non_null(o);
	http_probe_init(p);
	int rc = http_probe_from_json(p, o, NULL, err, errsize);
	cJSON_Delete(o);
	return rc;
}

static void test_probe_from_json(void **state)
{
	(void)state;
	struct http_probe p;
	char err[256] = "";
	assert_int_equal(parse(&p,
		"{\"name\":\"api\",\"url\":\"https://h/x\",\"method\":\"post\",\"headers\":{\"X-A\":\"1\"},"
		"\"status\":[200,\"301-302\",\"4xx\"],\"json\":[\".status == \\\"ok\\\"\",\".n >= 3\"],"
		"\"header_match\":{\"Content-Type\":\"json\"},\"header_not_match\":{\"Server\":\"[0-9]\"},"
		"\"max_body\":\"64KiB\",\"redirects\":\"fail\",\"timeout\":\"2s\",\"connect_timeout\":0.5,"
		"\"latency_warning\":\"100ms\",\"latency_critical\":\"1s\",\"tls_min_version\":\"1.2\","
		"\"cert_warning_days\":30,\"cert_critical_days\":7,\"ip_version\":4,"
		"\"resolve\":[\"h:443:127.0.0.1\"],\"retries\":2,\"json_body\":{\"a\":1}}",
		err, sizeof err), 0);
	assert_string_equal(p.method, "POST");
	assert_int_equal(p.n_status, 3);
	assert_int_equal(p.status[1].lo, 301);
	assert_int_equal(p.status[2].hi, 499);
	assert_int_equal(p.n_json, 2);
	assert_int_equal(p.json[1].op, HTTP_JSON_GE);
	assert_int_equal(p.n_header_asserts, 2);
	assert_true(p.header_asserts[1].must_not);
	assert_int_equal(p.max_body, 65536);
	assert_int_equal(p.redirects, HTTP_REDIRECT_FAIL);
	assert_int_equal(p.timeout_ms, 2000);
	assert_int_equal(p.connect_timeout_ms, 500);
	assert_int_equal(p.tls_min, HTTP_TLS_1_2);
	assert_int_equal(p.ip, HTTP_IP_V4);
	assert_int_equal(p.retries, 2);
	assert_string_equal(p.body, "{\"a\":1}");
	assert_int_equal(p.n_headers, 2); /* X-A and the JSON content type */
	http_probe_free(&p);
}

static void test_probe_errors(void **state)
{
	(void)state;
	static const struct {
		const char *json, *err;
	} cases[] = {
		{"{\"url\":\"http://h\",\"stauts\":200}", "stauts: unknown key"},
		{"{\"url\":\"ftp://h\"}", "url: only http:// and https:// URLs can be probed"},
		{"{\"status\":[200,\"20x\"]}", "status[1]: invalid status \"20x\" (expected 200, 200-299 or 2xx)"},
		{"{\"status\":\"300-200\"}", "status: invalid status range \"300-200\""},
		{"{\"json\":\"status == 1\"}", "json: JSON assertion \"status == 1\" must start with a path such as .status"},
		{"{\"json\":\".a < \\\"x\\\"\"}", "json: JSON assertion \".a < \"x\"\": <, <=, >, >= need a number"},
		{"{\"body_regex\":\"(\"}", NULL},
		{"{\"timeout\":\"soon\"}", "timeout: expected a duration such as 500ms or 10s"},
		{"{\"redirects\":99}", "redirects: expected a number 0-50, true, false, \"follow\" or \"fail\""},
		{"{\"ip_version\":5}", "ip_version: expected 4, 6 or any"},
		{"{\"resolve\":\"h:x:1.2.3.4\"}", "resolve: invalid port in resolve entry \"h:x:1.2.3.4\""},
		{"{\"latency_warning\":\"2s\",\"latency_critical\":\"1s\"}", "latency_warning: greater than latency_critical"},
		/* whole numbers: decimal digits in range, never a cast of any double */
		{"{\"retries\":\"11111111111111111111111111111111\"}", "retries: expected a whole number from 0 to 10"},
		{"{\"retries\":1e300}", "retries: expected a whole number from 0 to 10"},
		{"{\"retries\":-1e300}", "retries: expected a whole number from 0 to 10"},
		{"{\"retries\":\"0x5\"}", "retries: expected a whole number"},
		{"{\"retries\":\"5e0\"}", "retries: expected a whole number"},
		{"{\"retries\":\"nan\"}", "retries: expected a whole number"},
		{"{\"retries\":2.5}", "retries: expected a whole number from 0 to 10"},
		{"{\"cert_warning_days\":\"99999999999999999999\"}", "cert_warning_days: expected a whole number from 0 to 36500"},
		{"{\"timeout\":1e300}", "timeout: expected a duration such as 500ms or 10s"},
		{"{\"timeout\":\"0x10\"}", "timeout: expected a duration such as 500ms or 10s"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct http_probe p;
		char err[256] = "";
		assert_int_equal(parse(&p, cases[i].json, err, sizeof err), -1);
		if (cases[i].err)
			assert_string_equal(err, cases[i].err);
		else
			assert_true(strncmp(err, "body_regex: invalid regular expression", 38) == 0);
	}
}

static void test_extra_keys(void **state)
{
	(void)state;
	static const char *const extra[] = {"interval", NULL};
	cJSON *o = cJSON_Parse("{\"url\":\"http://h/\",\"interval\":\"30s\"}");
	struct http_probe p;
	char err[128];
	http_probe_init(&p);
	assert_int_equal(http_probe_from_json(&p, o, extra, err, sizeof err), 0);
	http_probe_free(&p);
	cJSON_Delete(o);
}

static struct http_result *result(long code, const char *body)
{
	struct http_result *r = calloc(1, sizeof *r);
	r->code = code;
	if (body) {
		r->body = strdup(body);
		r->body_len = strlen(body);
	}
	r->total_ms = 120;
	return r;
}

static void test_evaluate(void **state)
{
	(void)state;
	struct http_probe p;
	char err[256];
	assert_int_equal(parse(&p,
		"{\"url\":\"http://h/\",\"json\":[\".status == \\\"ok\\\"\",\".db.ms < 50\",\".ready\",\".n != 2\"],"
		"\"body_contains\":\"ok\",\"body_not_regex\":\"error\",\"latency_warning\":\"100ms\","
		"\"header_match\":{\"Content-Type\":\"^application/json\"}}", err, sizeof err), 0);
	struct http_result *r = result(200, "{\"status\":\"ok\",\"db\":{\"ms\":12},\"ready\":true,\"n\":3}");
	r->headers = calloc(1, sizeof *r->headers);
	r->headers[0].name = strdup("content-type");
	r->headers[0].value = strdup("application/json; charset=utf-8");
	r->n_headers = 1;
	http_evaluate(&p, r, 0);
	assert_int_equal(r->status, STATUS_WARNING); /* only the latency */
	assert_int_equal(r->n_outcomes, 9);
	assert_string_equal(r->outcomes[r->n_outcomes - 1].name, "latency");

	free(r->body);
	r->body = strdup("{\"status\":\"down\",\"db\":{\"ms\":\"75\"},\"ready\":false,\"n\":2,\"error\":1}");
	r->body_len = strlen(r->body);
	r->code = 503;
	http_evaluate(&p, r, 0);
	assert_int_equal(r->status, STATUS_CRITICAL);
	assert_string_equal(r->outcomes[0].message, "HTTP 503 (expected 2xx)");
	int critical = 0;
	for (size_t i = 0; i < r->n_outcomes; i++)
		critical += r->outcomes[i].status == STATUS_CRITICAL;
	assert_int_equal(critical, 7); /* status, 4 json, body_not_regex, not body_contains */
	http_result_free(r);

	r = result(0, NULL);
	r->error = HTTP_ERR_TIMEOUT;
	r->error_message = strdup("Operation timed out");
	http_evaluate(&p, r, 0);
	assert_int_equal(r->n_outcomes, 1);
	assert_string_equal(r->outcomes[0].name, "transport");
	assert_string_equal(r->outcomes[0].message, "timeout: Operation timed out");
	http_result_free(r);
	http_probe_free(&p);
}

/* An index beyond int names no element: cast to int, 4294967296 was [0] and
 * a false assertion passed. */
static void test_json_index_beyond_int(void **state)
{
	(void)state;
	static const char *const paths[] = {".items[4294967296]", ".items[4294967297]",
					    ".items[18446744073709551616]", ".items[-0]"};
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		struct http_probe p;
		char err[256], json[160];
		snprintf(json, sizeof json, "{\"url\":\"http://h/\",\"json\":\"%s == 1\"}", paths[i]);
		assert_int_equal(parse(&p, json, err, sizeof err), 0);
		struct http_result *r = result(200, "{\"items\":[1,1]}");
		http_evaluate(&p, r, 0);
		if (r->status != STATUS_CRITICAL)
			fail_msg("%s == 1 passed on [1,1]", paths[i]);
		assert_non_null(strstr(r->outcomes[1].message, "got absent"));
		http_result_free(r);
		http_probe_free(&p);
	}
}

static void test_cert_expiry(void **state)
{
	(void)state;
	struct http_probe p;
	char err[128];
	assert_int_equal(parse(&p, "{\"url\":\"https://h/\",\"cert_warning_days\":30,\"cert_critical_days\":7}",
			       err, sizeof err), 0);
	int64_t now = 1700000000000;
	struct http_result *r = result(200, NULL);
	r->cert_leaf_expiry_ms = now + 10 * 86400000LL;
	r->cert_earliest_expiry_ms = now + 3 * 86400000LL;
	r->cert_earliest_subject = strdup("CN = intermediate");
	http_evaluate(&p, r, now);
	assert_int_equal(r->status, STATUS_WARNING);
	assert_string_equal(r->outcomes[1].message,
			    "leaf certificate expires in 10 days; earliest in chain in 3 days (CN = intermediate)");
	r->cert_leaf_expiry_ms = now + 86400000LL;
	http_evaluate(&p, r, now);
	assert_int_equal(r->status, STATUS_CRITICAL);
	http_result_free(r);
	http_probe_free(&p);
}

static void test_secret_headers(void **state)
{
	(void)state;
	assert_true(http_header_is_secret("Authorization", 13));
	assert_true(http_header_is_secret("apikey", 6));
	assert_true(http_header_is_secret("X-Api-Key", 9));
	assert_true(http_header_is_secret("X-Auth-Token", 12));
	assert_false(http_header_is_secret("Content-Type", 12));
	assert_false(http_header_is_secret("Accept", 6));
	struct http_probe p;
	http_probe_init(&p);
	assert_int_equal(http_probe_add_header(&p, "Authorization: Bearer tok-1234567890", NULL, 0), 0);
	char *s = redact_string("sent tok-1234567890 here");
	assert_string_equal(s, "sent *** here");
	free(s);
	assert_int_equal(http_probe_add_header(&p, "bad header", NULL, 0), -1);
	http_probe_free(&p);
}

/* A loopback port with nothing listening. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

struct seen {
	int n;
	enum http_error err[8];
	int attempts[8];
};

static void on_done(struct http_engine *e, const struct http_probe *p, struct http_result *r, void *tag,
		    void *user)
{
	(void)e;
	(void)p;
	(void)tag;
	struct seen *s = user;
	s->err[s->n] = r->error;
	s->attempts[s->n] = r->attempts;
	s->n++;
	http_result_free(r);
}

static void test_engine_refused_and_retries(void **state)
{
	(void)state;
	struct http_probe p;
	http_probe_init(&p);
	p.url = easprintf("http://127.0.0.1:%d/", closed_port());
	p.retries = 2;
	p.retry_backoff_ms = 10;
	struct seen s = {0};
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){.parallel = 2, .on_done = on_done, .user = &s});
	http_engine_add(e, &p, NULL);
	http_engine_add(e, &p, NULL);
	assert_int_equal(http_engine_pending(e), 2);
	assert_int_equal(http_engine_run_until(e, -1), 2);
	assert_int_equal(http_engine_pending(e), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.err[0], HTTP_ERR_CONNECT);
	assert_int_equal(s.attempts[0], 3);
	http_engine_free(e);
	http_probe_free(&p);
}

static void test_engine_deadline_and_step(void **state)
{
	(void)state;
	struct http_probe p;
	http_probe_init(&p);
	p.url = easprintf("http://127.0.0.1:%d/", closed_port());
	p.retries = 1;
	p.retry_backoff_ms = 5000; /* waits past the deadline */
	struct seen s = {0};
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){.on_done = on_done, .user = &s});
	http_engine_add(e, &p, NULL);
	int64_t t0 = now_monotonic_ms();
	assert_int_equal(http_engine_run_until(e, t0 + 200), 0);
	assert_true(now_monotonic_ms() - t0 < 2000);
	assert_int_equal(http_engine_pending(e), 1); /* waiting to retry */

	/* A caller's fd wakes a step and comes back with revents. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
	t0 = now_monotonic_ms();
	assert_true(http_engine_step(e, &pfd, 1, 3000) >= 0);
	assert_true(pfd.revents & POLLIN);
	assert_true(now_monotonic_ms() - t0 < 2000);
	close(fds[0]);
	close(fds[1]);
	http_engine_free(e); /* frees the waiting retry without a callback */
	assert_int_equal(s.n, 0);
	http_probe_free(&p);
}

/* curl_global_init() failing (once per process, so in a child that has
 * not initialised libcurl yet): no engine, no REST client, an error from
 * rest_call(), and the process goes on. Exit codes name the step that
 * went wrong. */
static int global_init_failure_child(void)
{
	int before = global_init_calls;
	fail_global_init = true;
	if (http_engine_new(&(struct http_engine_opts){0}))
		return 10;
	if (global_init_calls != before + 1)
		return 11; /* libcurl was initialised before this test: it must run first */
	if (http_global_init() != -1 || global_init_calls != before + 1)
		return 12;
	fail_global_init = false; /* the failure is remembered, not retried */
	if (http_engine_new(&(struct http_engine_opts){0}) || rest_client_new(&(struct rest_client_opts){0}))
		return 13;
	struct rest_response res;
	if (rest_call(&(struct rest_request){.url = "http://127.0.0.1:9/"}, &res) != -1 || !res.error ||
	    strcmp(res.error, "unable to start libcurl") != 0)
		return 14;
	rest_response_free(&res);
	return 0;
}

static void test_global_init_failure_is_returned(void **state)
{
	(void)state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(global_init_failure_child());
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_multi_init_failure_is_returned(void **state)
{
	(void)state;
	fail_multi_init = true;
	assert_null(http_engine_new(&(struct http_engine_opts){0}));
	assert_null(rest_client_new(&(struct rest_client_opts){0}));
	struct rest_response res;
	assert_int_equal(rest_call(&(struct rest_request){.url = "http://127.0.0.1:9/"}, &res), -1);
	assert_string_equal(res.error, "unable to start libcurl");
	assert_true(res.transport_error);
	rest_response_free(&res);
	fail_multi_init = false;
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){0});
	assert_non_null(e);
	http_engine_free(e);
}

struct kept {
	int n;
	struct http_result *r[4];
};

static void keep_result(struct http_engine *e, const struct http_probe *p, struct http_result *r, void *tag,
			void *user)
{
	(void)e, (void)p, (void)tag;
	struct kept *k = user;
	if (k->n < (int)ARRAY_LEN(k->r))
		k->r[k->n++] = r;
	else
		http_result_free(r);
}

static void keep_response(struct rest_response *res, void *tag, void *user)
{
	(void)tag;
	*(struct rest_response *)user = *res;
}

/* No curl handle for an attempt: the probe ends (after its retries) as an
 * unknown result saying why, the engine carries on, and a REST call
 * fails with that reason. */
static void test_easy_init_failure_is_a_result(void **state)
{
	(void)state;
	struct http_probe p;
	http_probe_init(&p);
	p.url = easprintf("http://127.0.0.1:%d/", closed_port());
	p.retries = 1;
	p.retry_backoff_ms = 10;
	struct kept k = {0};
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){.parallel = 2, .on_done = keep_result, .user = &k});
	assert_non_null(e);
	fail_easy_init = true;
	int calls = easy_init_calls;
	http_engine_add(e, &p, NULL);
	http_engine_add(e, &p, NULL);
	assert_int_equal(http_engine_run_until(e, now_monotonic_ms() + 5000), 2);
	assert_int_equal(easy_init_calls - calls, 4); /* two probes, two attempts each */
	assert_int_equal(http_engine_pending(e), 0);
	assert_int_equal(k.n, 2);
	struct http_result *r = k.r[0];
	assert_int_equal(r->error, HTTP_ERR_INTERNAL);
	assert_string_equal(http_error_name(r->error), "internal");
	assert_string_equal(r->error_message, "unable to create a curl handle");
	assert_int_equal(r->attempts, 2);
	assert_int_equal(r->status, STATUS_UNKNOWN);
	assert_int_equal(r->n_outcomes, 1);
	assert_string_equal(r->outcomes[0].name, "transport");
	assert_string_equal(r->outcomes[0].message, "internal: unable to create a curl handle");

	/* libcurl gives handles again: the same engine makes the transfer. */
	fail_easy_init = false;
	http_engine_add(e, &p, NULL);
	assert_int_equal(http_engine_run_until(e, now_monotonic_ms() + 5000), 1);
	assert_int_equal(k.r[2]->error, HTTP_ERR_CONNECT);
	for (int i = 0; i < k.n; i++)
		http_result_free(k.r[i]);
	http_engine_free(e);
	http_probe_free(&p);

	/* The client is made first: libcurl's multi handle takes an easy
	 * handle of its own. */
	struct rest_response res = {0};
	struct rest_client *c = rest_client_new(&(struct rest_client_opts){.on_done = keep_response, .user = &res});
	assert_non_null(c);
	fail_easy_init = true;
	rest_start(c, &(struct rest_request){.url = "http://127.0.0.1:9/"}, NULL);
	for (int i = 0; i < 50 && rest_client_pending(c); i++)
		assert_int_equal(rest_client_step(c, NULL, 0, 100), 0);
	fail_easy_init = false;
	assert_int_equal(rest_client_pending(c), 0);
	assert_string_equal(res.error, "internal error: unable to create a curl handle");
	assert_int_equal(res.code, 0);
	assert_true(res.transport_error);
	rest_response_free(&res);
	rest_client_free(c);
}

static void test_url_check(void **state)
{
	(void)state;
	char err[160];
	static const char *const good[] = {"http://127.0.0.1:8000/health", "https://h/x?y=1#z", "HTTP://H",
					   "http://[::1]:80/", "https://user:pw@host.example/"};
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		assert_int_equal(http_url_check(good[i], err, sizeof err), 0);
	static const struct { const char *url, *err; } bad[] = {
		{"ftp://h/", "not an http:// or https:// URL"},
		{"h/path", "not an http:// or https:// URL"},
		{"http://", "invalid URL (no host)"},
		{"http://h:99999/", "invalid port (expected 1 to 65535)"},
		{"http://a b/", "a URL cannot contain spaces or control characters"},
		{"http://h/\tx", "a URL cannot contain spaces or control characters"},
		{"http://[::1/", "invalid URL (Bad IPv6 address)"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(http_url_check(bad[i].url, err, sizeof err), -1);
		assert_string_equal(err, bad[i].err);
	}
	/* The password never comes back in the reason. */
	assert_int_equal(http_url_check("http://u:sekrit-pw@[bad/", err, sizeof err), -1);
	assert_null(strstr(err, "sekrit-pw"));
}

int main(void)
{
	prog_set("test_http");
	const struct CMUnitTest tests[] = {
		/* first: it needs a process that has not initialised libcurl */
		cmocka_unit_test(test_global_init_failure_is_returned),
		cmocka_unit_test(test_probe_from_json),
		cmocka_unit_test(test_probe_errors),
		cmocka_unit_test(test_extra_keys),
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_cert_expiry),
		cmocka_unit_test(test_secret_headers),
		cmocka_unit_test(test_json_index_beyond_int),
		cmocka_unit_test(test_engine_refused_and_retries),
		cmocka_unit_test(test_engine_deadline_and_step),
		cmocka_unit_test(test_multi_init_failure_is_returned),
		cmocka_unit_test(test_easy_init_failure_is_a_result),
		cmocka_unit_test(test_url_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
