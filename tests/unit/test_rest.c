/* test_rest.c — the retry policy as case tables, and the REST client
 * against the project's fault server (tests/helpers/faultsrv.c) on
 * loopback: 503 then success, 429 with Retry-After, a hang bounded by the
 * timeout, an over-long body, a refusal, and the token kept out of errors;
 * then its asynchronous face: calls in parallel (a slow one holds no other
 * back), every retried attempt heard of, cancelling, permanent failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"

static char faultsrv_bin[4096];
static char base_url[64];
static pid_t server_pid;
static char tmpdir[] = "/tmp/test_rest.XXXXXX";

/* ---- the policy ---- */

static void test_backoff_table(void **state)
{
	(void)state;
	static const struct {
		int64_t initial, max;
		int attempt;
		int64_t want;
	} cases[] = {
		{100, 0, 1, 100},    {100, 0, 2, 200},    {100, 0, 3, 400},  {100, 500, 3, 400},
		{100, 500, 4, 500},  {100, 500, 30, 500}, {0, 0, 3, 0},      {250, 1000, 1, 250},
		{500, 0, 40, 3600000},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct retry_policy rp = {.initial_ms = cases[i].initial, .max_ms = cases[i].max};
		int64_t got = retry_backoff_ms(&rp, cases[i].attempt, NULL);
		if (got != cases[i].want)
			fail_msg("backoff %lld/%lld attempt %d: got %lld, expected %lld", (long long)cases[i].initial,
				 (long long)cases[i].max, cases[i].attempt, (long long)got, (long long)cases[i].want);
	}
	/* equal jitter: within [b/2, b], and not always the same */
	struct retry_policy rp = {.initial_ms = 1000, .max_ms = 8000, .jitter = true};
	uint64_t rng = retry_seed();
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < 1000; i++) {
		int64_t b = retry_backoff_ms(&rp, 3, &rng);
		assert_true(b >= 2000 && b <= 4000);
		lo = b < lo ? b : lo;
		hi = b > hi ? b : hi;
	}
	assert_true(hi - lo > 1000);
}

static void test_retry_after_table(void **state)
{
	(void)state;
	const int64_t date_ms = 1445412480000; /* Wed, 21 Oct 2015 07:28:00 GMT */
	static const struct {
		const char *value;
		int64_t now_offset_ms, want;
	} cases[] = {
		{"120", 0, 120000},
		{" 5", 0, 5000},
		{"0", 0, 0},
		{"7\r\n", 0, 7000},
		{"Wed, 21 Oct 2015 07:28:00 GMT", -3000, 3000},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 5000, 0},
		{"Wednesday, 21-Oct-15 07:28:00 GMT", -1000, 1000},
		{"soon", 0, -1},
		{"12abc", 0, -1},
		{"-1", 0, -1},
		{"", 0, -1},
		{"99999999999", 0, -1},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t got = retry_after_parse_ms(cases[i].value, date_ms + cases[i].now_offset_ms);
		if (got != cases[i].want)
			fail_msg("Retry-After \"%s\": got %lld, expected %lld", cases[i].value, (long long)got,
				 (long long)cases[i].want);
	}
	assert_int_equal(retry_after_parse_ms(NULL, date_ms), -1);
}

/* Ratelimit-Reset: Render documents epoch seconds, its example (and other
 * APIs) seconds to wait; a date in the far future (past 9999) is no date. */
static void test_ratelimit_reset_table(void **state)
{
	(void)state;
	const int64_t now = 1764720000000; /* 2025-12-03T00:00:00Z */
	static const struct {
		const char *value;
		int64_t want;
	} cases[] = {
		{"45", 45000},
		{" 1\r\n", 1000},
		{"0", 0},
		{"1764720030", 30000},  /* an epoch: 30 s from now */
		{"1764719000", 0},      /* an epoch passed */
		{"1864720000", 3600000}, /* far off: at most an hour */
		{"444444444444444444444444440", -1},
		{"-3", -1},
		{"soon", -1},
		{"12s", -1},
		{"", -1},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t got = retry_ratelimit_reset_ms(cases[i].value, now);
		if (got != cases[i].want)
			fail_msg("Ratelimit-Reset \"%s\": got %lld, expected %lld", cases[i].value, (long long)got,
				 (long long)cases[i].want);
	}
	assert_int_equal(retry_ratelimit_reset_ms(NULL, now), -1);
	/* an HTTP-date after 9999 is no Retry-After (it would overflow) */
	assert_int_equal(retry_after_parse_ms("d10Oct1044760275", now), -1);
}

static void test_next_wait_table(void **state)
{
	(void)state;
	struct retry_policy rp = {.attempts = 3, .initial_ms = 100, .max_ms = 1000, .retry_after_max_ms = 5000};
	static const struct {
		int attempt;
		bool transient;
		int64_t retry_after, left, want;
	} cases[] = {
		{1, true, -1, -1, 100},     /* the backoff */
		{2, true, -1, -1, 200},
		{3, true, -1, -1, -1},      /* attempts used up */
		{1, false, -1, -1, -1},     /* a 4xx: no retry */
		{1, true, 2000, -1, 2000},  /* Retry-After longer than the backoff wins */
		{2, true, 50, -1, 200},     /* shorter: the backoff */
		{1, true, 6000, -1, -1},    /* beyond the ceiling: give up now */
		{1, true, -1, 100, -1},     /* the wait would pass the deadline */
		{1, true, -1, 101, 100},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t got = retry_next_wait_ms(&rp, cases[i].attempt, cases[i].transient, cases[i].retry_after,
						 cases[i].left, NULL);
		if (got != cases[i].want)
			fail_msg("case %zu: got %lld, expected %lld", i, (long long)got, (long long)cases[i].want);
	}
	static const struct {
		long code;
		bool transient;
	} codes[] = {{0, true}, {200, false}, {301, false}, {400, false}, {401, false}, {404, false},
		     {408, true}, {429, true}, {500, true}, {503, true}, {599, true}};
	for (size_t i = 0; i < ARRAY_LEN(codes); i++)
		if (retry_transient_code(codes[i].code) != codes[i].transient)
			fail_msg("code %ld: expected %s", codes[i].code, codes[i].transient ? "transient" : "final");
}

/* ---- the client against faultsrv ---- */

static int server_up(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	char port_file[256];
	snprintf(port_file, sizeof port_file, "%s/port", tmpdir);
	server_pid = fork();
	if (server_pid == 0) {
		execl(faultsrv_bin, "faultsrv", "--port-file", port_file, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(port_file, "r");
		int port = 0;
		if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
			fclose(f);
			snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
			return 0;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	return -1;
}

static int server_down(void **state)
{
	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int call(const char *path, struct rest_request rq, struct rest_response *res, int64_t *took)
{
	char url[512];
	snprintf(url, sizeof url, "%s%s", base_url, path);
	rq.url = url;
	rq.name = "test";
	rq.quiet_retries = true;
	int64_t t0 = now_monotonic_ms();
	int rc = rest_call(&rq, res);
	*took = now_monotonic_ms() - t0;
	return rc;
}

static void test_rest_503_then_success(void **state)
{
	(void)state;
	struct rest_response res;
	int64_t took;
	struct rest_request rq = {.method = "POST", .body = "{}", .retry = {.attempts = 4, .initial_ms = 20}};
	assert_int_equal(call("/seq/flaky?codes=503,503,200", rq, &res, &took), 0);
	assert_int_equal(res.attempts, 3);
	assert_int_equal(res.code, 200);
	assert_null(res.error);
	cJSON *doc = rest_response_json(&res);
	assert_non_null(doc);
	cJSON_Delete(doc);
	assert_true(took >= 60); /* 20 + 40 ms of backoff */
	rest_response_free(&res);
	/* attempts used up: the last answer is the error */
	rq.retry.attempts = 2;
	assert_int_equal(call("/seq/down?codes=503", rq, &res, &took), -1);
	assert_int_equal(res.attempts, 2);
	assert_string_equal(res.error, "HTTP 503");
	rest_response_free(&res);
}

static void test_rest_retry_after(void **state)
{
	(void)state;
	struct rest_response res;
	int64_t took;
	struct rest_request rq = {.method = "GET",
				  .retry = {.attempts = 2, .initial_ms = 10, .retry_after_max_ms = 5000}};
	assert_int_equal(call("/status/429?header=Retry-After:1", rq, &res, &took), -1);
	assert_int_equal(res.attempts, 2);
	assert_int_equal(res.code, 429);
	assert_true(took >= 1000); /* waited as asked, not the 10 ms backoff */
	rest_response_free(&res);
	/* asked to wait longer than the ceiling: given up at once */
	rq.retry.retry_after_max_ms = 500;
	assert_int_equal(call("/status/429?header=Retry-After:30", rq, &res, &took), -1);
	assert_int_equal(res.attempts, 1);
	assert_true(took < 1000);
	rest_response_free(&res);
}

static void test_rest_hang_is_bounded(void **state)
{
	(void)state;
	struct rest_response res;
	int64_t took;
	struct rest_request rq = {.method = "GET", .attempt_timeout_ms = 1000,
				  .deadline_ms = now_monotonic_ms() + 1500,
				  .retry = {.attempts = 5, .initial_ms = 100}};
	assert_int_equal(call("/hang", rq, &res, &took), -1);
	assert_int_equal(res.code, 0);
	assert_non_null(strstr(res.error, "timeout"));
	assert_true(took >= 1000 && took < 3000); /* the deadline, not 5 attempts of 1 s */
	rest_response_free(&res);
}

static void test_rest_body_bounded(void **state)
{
	(void)state;
	struct rest_response res;
	int64_t took;
	struct rest_request rq = {.method = "GET", .max_body = 1000, .retry = {.attempts = 3, .initial_ms = 10}};
	assert_int_equal(call("/big/5000", rq, &res, &took), -1);
	assert_int_equal(res.attempts, 1); /* not mended by asking again */
	assert_non_null(strstr(res.error, "too_large"));
	assert_true(res.body_len <= 1000);
	rest_response_free(&res);
	assert_int_equal(call("/big/1000", rq, &res, &took), 0);
	assert_int_equal(res.body_len, 1000);
	rest_response_free(&res);
}

static void test_rest_refusal_and_secrets(void **state)
{
	(void)state;
	struct rest_response res;
	int64_t took;
	const char *token = "tok-secret-0123456789";
	struct rest_request rq = {.method = "POST", .bearer = token, .body = "{}",
				  .retry = {.attempts = 3, .initial_ms = 10}};
	assert_int_equal(call("/json?code=401&body=%7B%22message%22%3A%22bad%20key%20tok-secret-0123456789%22%7D",
			      rq, &res, &took),
			 -1);
	assert_int_equal(res.attempts, 1);
	assert_null(strstr(res.error, token));
	assert_string_equal(res.error, "HTTP 401: bad key ***");
	rest_response_free(&res);
	redact_clear();
}

/* ---- the asynchronous face ---- */

struct seen {
	char name[16];
	int64_t at;          /* ms after the start */
	long code;
	int attempts;
	bool permanent, transport;
};

struct async_log {
	int64_t t0;
	struct seen done[8];
	int n_done;
	long retry_codes[8];
	int64_t retry_waits[8];
	int n_retries;
};

static void async_done(struct rest_response *res, void *tag, void *user)
{
	struct async_log *l = user;
	struct seen *s = &l->done[l->n_done++];
	snprintf(s->name, sizeof s->name, "%s", (const char *)tag);
	s->at = now_monotonic_ms() - l->t0;
	s->code = res->code;
	s->attempts = res->attempts;
	s->permanent = res->permanent;
	s->transport = res->transport_error;
	rest_response_free(res);
}

static void async_retry(const struct rest_response *res, int64_t wait_ms, void *tag, void *user)
{
	(void)tag;
	struct async_log *l = user;
	assert_non_null(res->error);
	l->retry_codes[l->n_retries] = res->code;
	l->retry_waits[l->n_retries++] = wait_ms;
}

static struct rest_client *async_client(struct async_log *l)
{
	memset(l, 0, sizeof *l);
	l->t0 = now_monotonic_ms();
	return rest_client_new(&(struct rest_client_opts){.on_done = async_done, .on_retry = async_retry, .user = l});
}

static void async_start(struct rest_client *c, const char *path, struct rest_request rq, const char *tag)
{
	char url[512];
	snprintf(url, sizeof url, "%s%s", base_url, path);
	rq.url = url; /* copied by rest_start */
	rq.name = tag;
	rest_start(c, &rq, (void *)tag);
}

static void async_run(struct rest_client *c, int64_t bound_ms)
{
	int64_t until = now_monotonic_ms() + bound_ms;
	while (rest_client_pending(c) && now_monotonic_ms() < until)
		assert_int_equal(rest_client_step(c, NULL, 0, 200), 0);
}

static const struct seen *seen_of(const struct async_log *l, const char *name)
{
	for (int i = 0; i < l->n_done; i++)
		if (strcmp(l->done[i].name, name) == 0)
			return &l->done[i];
	fail_msg("no callback for %s", name);
	return NULL;
}

static void test_async_parallel(void **state)
{
	(void)state;
	struct async_log l;
	struct rest_client *c = async_client(&l);
	struct rest_request rq = {.method = "POST", .body = "{}", .retry = {.attempts = 3, .initial_ms = 20}};
	async_start(c, "/delay/1500", rq, "slow");
	async_start(c, "/seq/async-flaky?codes=503,200", rq, "flaky");
	async_start(c, "/json", rq, "fast");
	assert_int_equal(rest_client_pending(c), 3);
	async_run(c, 5000);
	assert_int_equal(l.n_done, 3);
	assert_int_equal(rest_client_pending(c), 0);
	/* the slow one held neither of the others back */
	assert_true(seen_of(&l, "fast")->at < 1000);
	assert_true(seen_of(&l, "flaky")->at < 1000);
	assert_true(seen_of(&l, "slow")->at >= 1500);
	assert_string_equal(l.done[2].name, "slow");
	/* the flaky one's failed attempt was heard of, with the policy's wait */
	assert_int_equal(l.n_retries, 1);
	assert_int_equal(l.retry_codes[0], 503);
	assert_true(l.retry_waits[0] >= 10 && l.retry_waits[0] <= 20);
	assert_int_equal(seen_of(&l, "flaky")->attempts, 2);
	assert_int_equal(seen_of(&l, "flaky")->code, 200);
	rest_client_free(c);
}

static void test_async_cancel(void **state)
{
	(void)state;
	struct async_log l;
	struct rest_client *c = async_client(&l);
	struct rest_request rq = {.method = "GET", .retry = {.attempts = 5, .initial_ms = 5000}};
	async_start(c, "/hang", rq, "hung");
	async_start(c, "/status/503", rq, "backoff");
	async_start(c, "/delay/200", rq, "kept");
	/* the 503 fails at once and waits 2.5-5 s for its next attempt */
	for (int i = 0; i < 50 && l.n_retries == 0; i++)
		assert_int_equal(rest_client_step(c, NULL, 0, 100), 0);
	assert_int_equal(l.n_retries, 1);
	rest_cancel(c, "hung");    /* in flight */
	rest_cancel(c, "backoff"); /* waiting for its retry */
	rest_cancel(c, "nothing"); /* not a call: nothing happens */
	assert_int_equal(rest_client_pending(c), 1);
	async_run(c, 3000);
	assert_int_equal(l.n_done, 1);
	assert_string_equal(l.done[0].name, "kept");
	assert_true(l.done[0].at < 2000);
	/* one still out when the client goes: dropped without a callback */
	async_start(c, "/hang", rq, "dropped");
	assert_int_equal(rest_client_step(c, NULL, 0, 50), 0);
	rest_client_free(c);
	assert_int_equal(l.n_done, 1);
}

static void test_async_permanent(void **state)
{
	(void)state;
	struct async_log l;
	struct rest_client *c = async_client(&l);
	struct rest_request rq = {.method = "POST", .body = "{}",
				  .retry = {.attempts = 3, .initial_ms = 10, .retry_after_max_ms = 500}};
	async_start(c, "/status/404", rq, "gone");
	async_start(c, "/status/429?header=Retry-After:30", rq, "later");
	async_start(c, "/status/503", rq, "down");
	rq.attempt_timeout_ms = 300;
	async_start(c, "/hang", rq, "hung");
	async_run(c, 5000);
	assert_int_equal(l.n_done, 4);
	static const struct {
		const char *name;
		long code;
		int attempts;
		bool permanent, transport;
	} want[] = {
		{"gone", 404, 1, true, false},  /* a 4xx: no retry mends it */
		{"later", 429, 1, true, false}, /* a Retry-After beyond the ceiling */
		{"down", 503, 3, false, false}, /* transient: attempts used up */
		{"hung", 0, 3, false, true},    /* each attempt timed out */
	};
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const struct seen *s = seen_of(&l, want[i].name);
		if (s->code != want[i].code || s->attempts != want[i].attempts || s->permanent != want[i].permanent ||
		    s->transport != want[i].transport)
			fail_msg("%s: code %ld attempts %d permanent %d transport %d", s->name, s->code, s->attempts,
				 s->permanent, s->transport);
	}
	rest_client_free(c);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[4096];
	snprintf(self, sizeof self, "%s", argv[0]);
	snprintf(faultsrv_bin, sizeof faultsrv_bin, "%s/../helpers/faultsrv", dirname(self));
	const struct CMUnitTest policy[] = {
		cmocka_unit_test(test_backoff_table),
		cmocka_unit_test(test_retry_after_table),
		cmocka_unit_test(test_ratelimit_reset_table),
		cmocka_unit_test(test_next_wait_table),
	};
	const struct CMUnitTest client[] = {
		cmocka_unit_test(test_rest_503_then_success),
		cmocka_unit_test(test_rest_retry_after),
		cmocka_unit_test(test_rest_hang_is_bounded),
		cmocka_unit_test(test_rest_body_bounded),
		cmocka_unit_test(test_rest_refusal_and_secrets),
		cmocka_unit_test(test_async_parallel),
		cmocka_unit_test(test_async_cancel),
		cmocka_unit_test(test_async_permanent),
	};
	int failed = cmocka_run_group_tests(policy, NULL, NULL);
	return failed + cmocka_run_group_tests(client, server_up, server_down);
}
