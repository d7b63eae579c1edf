/* test_common.c — unit tests for libcommon's small parts: units, time,
 * redaction, reports, JSON Lines, atomic files, subprocesses, the process
 * hygiene of tool_start(), what read_file() reads, the state directory and
 * files in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shipshape/common.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/report.h"
#include "shipshape/subproc.h"
#include "shipshape/units.h"

static void test_duration_parse(void **state)
{
	(void)state;
	static const struct { const char *in; int64_t ms; } good[] = {
		{"500ms", 500}, {"30s", 30000}, {"15m", 900000}, {"1h", 3600000},
		{"90d", 7776000000LL}, {"1h30m", 5400000}, {"1.5s", 1500}, {"30", 30000},
		{"0", 0}, {"2w", 1209600000LL}, {" 10s", 10000}, {"1h 30m", 5400000},
		{".5s", 500}, {"0.25", 250}, {"010s", 10000}, {"1.0005s", 1001},
		{"15250w", 9223200000000LL}, {"9223372036854775ms", 9223372036854775LL},
	};
	/* decimal digits, an optional fraction and a unit: never hex, an
	 * exponent, inf/nan or a value beyond int64 milliseconds */
	static const char *const bad[] = {
		"", "s", "10x", "-5s", "1.2.3s", "10 s 5", "abc", "5s10", "1e999s", "0x10", "0x10s",
		"1e3", "1e3s", "1E3", "inf", "infs", "nan", "nans", "+5s", ".", ".s", "1.s", "1.",
		"10ss", "9223372036854776s", "99999999999999999999999999d", "15260000000w", "1h 0x1s",
	};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int64_t ms = -1;
		if (duration_parse(good[i].in, &ms) != 0)
			fail_msg("rejected good duration \"%s\"", good[i].in);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int64_t ms;
		if (duration_parse(bad[i], &ms) == 0)
			fail_msg("accepted bad duration \"%s\"", bad[i]);
	}
}

static void test_duration_format(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(duration_format(500, buf, sizeof buf), "500ms");
	assert_string_equal(duration_format(5400000, buf, sizeof buf), "1h30m");
	assert_string_equal(duration_format(0, buf, sizeof buf), "0s");
	assert_string_equal(duration_format(1500, buf, sizeof buf), "1500ms");
	assert_string_equal(duration_format(7776000000LL, buf, sizeof buf), "90d");
}

static void test_size_parse(void **state)
{
	(void)state;
	static const struct { const char *in; int64_t bytes; } good[] = {
		{"512", 512}, {"10k", 10240}, {"10KB", 10240}, {"10KiB", 10240},
		{"4M", 4194304}, {"1G", 1073741824}, {"1.5k", 1536}, {"0", 0},
		{" 10 k ", 10240}, {".5k", 512}, {"8388607t", 9223370937343148032LL},
	};
	static const char *const bad[] = {
		"", "k", "10x", "-1", "10 kbs", "0x10", "0x10k", "1e3", "1e3k", "inf", "nan", "infk",
		"+1k", ".", "1.k", "99999999999999999999", "8388608t", "1e999",
	};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int64_t b = -1;
		if (size_parse(good[i].in, &b) != 0)
			fail_msg("rejected good size \"%s\"", good[i].in);
		assert_int_equal(b, good[i].bytes);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int64_t b;
		if (size_parse(bad[i], &b) == 0)
			fail_msg("accepted bad size \"%s\"", bad[i]);
	}
}

static void test_rfc3339(void **state)
{
	(void)state;
	char buf[RFC3339_LEN];
	assert_string_equal(rfc3339_format(0, buf), "1970-01-01T00:00:00.000Z");
	assert_string_equal(rfc3339_format(1796000000123LL, buf), "2026-11-30T00:53:20.123Z");
	static const struct { const char *in; int64_t ms; } good[] = {
		{"2026-11-30T00:53:20.123Z", 1796000000123LL},
		{"2026-11-30T02:53:20+02:00", 1796000000000LL},
		{"2026-11-29T22:53:20-02:00", 1796000000000LL},
		{"2026-11-30t00:53:20z", 1796000000000LL},
		{"2026-11-30 00:53:20Z", 1796000000000LL},
		{"2026-11-30T00:53:20.1Z", 1796000000100LL},
		{"2026-11-30T00:53:20.123456789Z", 1796000000123LL},
		{"2026-11-30T00:53:20.0005Z", 1796000000001LL},
		{"2026-11-30T00:53:20.000000000000000000000000001Z", 1796000000000LL},
		{"1970-01-01T00:00:00Z", 0},
		{"1969-12-31T23:59:59.5Z", -500},
		{"2024-02-29T00:00:00Z", 1709164800000LL},
		{"2016-12-31T23:59:60Z", 1483228800000LL},
	};
	/* the fraction is digits only: no exponent, sign or hex; every field
	 * has its exact width and range */
	static const char *const bad[] = {
		"2026-11-30", "2026-13-30T00:00:00Z", "2026-11-30T00:00:00Zjunk",
		"2026-01-01T00:00:00.1e90Z", "2026-01-01T00:00:00.5e3Z", "2026-01-01T00:00:00.5E3Z",
		"2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.+1Z", "2026-01-01T00:00:00.-1Z",
		"2026-01-01T00:00:00.0x1Z", "2026-01-01T00:00:00.infZ", "2026-01-01T00:00:00.nanZ",
		"2026-01-01T00:00:00..1Z", "2026-01-01T00:00:00.1.2Z", "2026-01-01T00:00:00",
		"2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z", "2025-02-29T00:00:00Z",
		"2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z", "2026-01-01T00:00:61Z", " 2026-01-01T00:00:00Z",
		"+026-01-01T00:00:00Z", "2026-1-01T00:00:00Z", "2026-01-01T0:00:00Z",
		"2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+05:60", "2026-01-01T00:00:00+0500",
		"2026-01-01T00:00:00+05:00junk", "2026-01-01T00:00:00+ 5:00", "2026-01-01X00:00:00Z",
		"20260-01-01T00:00:00Z", "",
	};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int64_t ms = -1;
		if (rfc3339_parse(good[i].in, &ms) != 0)
			fail_msg("rejected good timestamp \"%s\"", good[i].in);
		if (ms != good[i].ms)
			fail_msg("\"%s\": %lld, expected %lld", good[i].in, (long long)ms,
				 (long long)good[i].ms);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int64_t ms = 42;
		if (rfc3339_parse(bad[i], &ms) == 0)
			fail_msg("accepted bad timestamp \"%s\" as %lld", bad[i], (long long)ms);
	}
	int64_t ms;
	assert_int_equal(rfc3339_parse(NULL, &ms), -1);
}

static void test_redact(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } cases[] = {
		{"postgresql://app:hunter22@db:5432/x", "postgresql://app:***@db:5432/x"},
		{"connect to postgres://u:p%40ss@h/db failed", "connect to postgres://u:***@h/db failed"},
		{"https://host/path?api_key=abcd1234&x=1", "https://host/path?api_key=***&x=1"},
		{"https://user@host/", "https://user@host/"},
		/* raw (not percent-encoded) '@', '/', '?' and '#' in a password */
		{"postgresql://app:p@ss@db:5432/x", "postgresql://app:***@db:5432/x"},
		{"postgresql://app:pa/ss@db/x failed", "postgresql://app:***@db/x failed"},
		{"redis://:to?k#en@cache:6379/0", "redis://:***@cache:6379/0"},
		{"a postgres://u:a@b@h/d and smtp://v:c/d@m:25", "a postgres://u:***@h/d and smtp://v:***@m:25"},
		/* no password: nothing to mask, '@' elsewhere left alone */
		{"https://h/users/a@b.example", "https://h/users/a@b.example"},
		{"https://h/x?mail=a@b.example", "https://h/x?mail=a@b.example"},
		{"https://h:8443/ok", "https://h:8443/ok"},
		{"smtps://alerts:p@ss/w0rd@smtp.example:465", "smtps://alerts:***@smtp.example:465"},
		/* an '@' in the path of a URL with a port: masked too much, never too little */
		{"https://h:8443/users/a@b.example", "https://h:***@b.example"},
		{"no secret here", "no secret here"},
		{"token s3cr3t-value-xyz in text", "token *** in text"},
	};
	redact_register("s3cr3t-value-xyz");
	redact_register("abc"); /* too short: never registered */
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *got = redact_string(cases[i].in);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
	char *host = url_host("https://hooks.slack.com/services/T000/B000/XXXX");
	assert_string_equal(host, "hooks.slack.com");
	free(host);
	assert_true(redact_key_looks_secret("service_role_key"));
	assert_true(redact_key_looks_secret("jwt_secret"));
	assert_true(redact_key_looks_secret("webhook_url"));
	assert_false(redact_key_looks_secret("health_path"));
	assert_false(redact_key_looks_secret("keep_releases"));
	redact_clear();

	/* overlapping secrets: their union is masked, no part of either shows */
	redact_register("secretlong");
	redact_register("Xsec");
	redact_register("long-tail");
	char *got = redact_string("aXsecretlong-tail b secretlong Xsec");
	assert_string_equal(got, "a*** b *** ***");
	free(got);
	redact_clear();
	got = redact_string("Xsec");
	assert_string_equal(got, "Xsec"); /* cleared */
	free(got);

	/* many secrets: registering and masking stay linear */
	enum { N = 100000 };
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "secret-value-%d", i);
		redact_register(name);
		redact_register(name); /* a second time is a no-op */
	}
	struct buf text = {0};
	for (int i = 0; i < N; i += 997)
		buf_printf(&text, "[secret-value-%d]", i);
	got = redact_string(text.data);
	assert_null(strstr(got, "secret-value"));
	assert_int_equal(strncmp(got, "[***][***]", 10), 0);
	free(got);
	buf_free(&text);
	redact_clear();
}

static void test_report_worst(void **state)
{
	(void)state;
	assert_int_equal(status_worst(STATUS_OK, STATUS_WARNING), STATUS_WARNING);
	assert_int_equal(status_worst(STATUS_UNKNOWN, STATUS_WARNING), STATUS_UNKNOWN);
	assert_int_equal(status_worst(STATUS_UNKNOWN, STATUS_CRITICAL), STATUS_CRITICAL);
	assert_int_equal(status_worst(STATUS_CRITICAL, STATUS_OK), STATUS_CRITICAL);

	struct report *r = report_new("unit");
	report_add_check(r, "a.one", STATUS_OK, 1, NULL, "fine");
	cJSON *c = report_add_check(r, "a.two", STATUS_WARNING, 2, NULL, "url postgres://u:pw12@h/d");
	check_add_perf(c, "time", 0.5, "s", 2, NAN);
	report_add_check(r, "a.three", STATUS_CRITICAL, 3, NULL, "broken");
	assert_int_equal(report_status(r), STATUS_CRITICAL);
	cJSON *doc = report_to_json(r);
	enum status st;
	assert_int_equal(report_doc_status(doc, &st), 0);
	assert_int_equal(st, STATUS_CRITICAL);
	assert_string_equal(json_path_string(doc, "kind", ""), "report");
	assert_string_equal(json_path_string(doc, "checks[1].message", ""), "url postgres://u:***@h/d");
	assert_string_equal(json_path_string(doc, "summary", ""),
			    "3 checks: 1 ok, 1 warning (a.two), 1 critical (a.three)");
	assert_true(json_path_number(doc, "checks[1].perf[0].warn", 0) == 2);
	cJSON_Delete(doc);

	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	assert_int_equal(report_print(r, FORMAT_NAGIOS, mem), 0);
	fclose(mem);
	assert_non_null(strstr(text, "unit CRITICAL - 3 checks"));
	assert_non_null(strstr(text, "| time=0.5s;2;"));
	free(text);
	report_free(r);
}

static void test_jsonl_reader(void **state)
{
	(void)state;
	const char input[] = "{\"kind\":\"report\"}\n\n  \nnot json\n[1,2]\n{\"a\":1} trailing\n"
			     "{\"kind\":\"event\"}\n";
	FILE *f = fmemopen((void *)input, sizeof input - 1, "r");
	struct jsonl_reader r;
	cJSON *doc;
	jsonl_reader_init(&r, f, "in", 0);
	assert_int_equal(jsonl_next(&r, &doc), 1);
	assert_string_equal(json_kind(doc), "report");
	cJSON_Delete(doc);
	assert_int_equal(jsonl_next(&r, &doc), -1);
	assert_non_null(strstr(r.error, "in:4:"));
	assert_int_equal(jsonl_next(&r, &doc), -1);
	assert_non_null(strstr(r.error, "in:5: expected a JSON object"));
	assert_int_equal(jsonl_next(&r, &doc), -1);
	assert_non_null(strstr(r.error, "in:6:"));
	assert_int_equal(jsonl_next(&r, &doc), 1);
	assert_string_equal(json_kind(doc), "event");
	cJSON_Delete(doc);
	assert_int_equal(jsonl_next(&r, &doc), 0);
	jsonl_reader_free(&r);
	fclose(f);

	/* an over-long line is an error and the next line is still read */
	char big[200];
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"a\":\"", 6);
	big[150] = '\n';
	memcpy(big + 151, "{\"b\":2}\n", 8);
	f = fmemopen(big, 159, "r");
	jsonl_reader_init(&r, f, "in", 100);
	assert_int_equal(jsonl_next(&r, &doc), -1);
	assert_non_null(strstr(r.error, "longer than 100"));
	assert_int_equal(jsonl_next(&r, &doc), 1);
	assert_int_equal((int)json_path_number(doc, "b", 0), 2);
	cJSON_Delete(doc);
	jsonl_reader_free(&r);
	fclose(f);
}

static void test_json_path(void **state)
{
	(void)state;
	const char *text = "{\"a\":{\"b\":[{\"c\":\"x\"},{\"d\":\"30s\",\"e\":15,\"g\":1e300,"
			   "\"h\":-1e300,\"i\":9223372036854776}]},\"f\":true}";
	char err[64];
	cJSON *doc = json_parse_text(text, strlen(text), err, sizeof err);
	assert_non_null(doc);
	assert_string_equal(json_path_string(doc, "a.b[0].c", ""), "x");
	assert_string_equal(json_path_string(doc, "a.b[00].c", ""), "x");
	assert_int_equal(json_path_duration_ms(doc, "a.b[1].d", 0), 30000);
	assert_int_equal(json_path_duration_ms(doc, "a.b[1].e", 0), 15000);
	assert_int_equal(json_path_duration_ms(doc, "a.b[0].c", 7), -1);
	assert_int_equal(json_path_duration_ms(doc, "missing", 7), 7);
	/* seconds beyond int64 milliseconds are not a duration */
	assert_int_equal(json_path_duration_ms(doc, "a.b[1].g", 7), -1);
	assert_int_equal(json_path_duration_ms(doc, "a.b[1].h", 7), -1);
	assert_int_equal(json_path_duration_ms(doc, "a.b[1].i", 7), -1);
	assert_true(json_path_bool(doc, "f", false));
	assert_null(json_path(doc, "a.b[5]"));
	assert_null(json_path(doc, "a.b.c"));
	/* an index is decimal digits within int: anything else matches nothing,
	 * never an element that a truncated or wrapped index would name */
	static const char *const no_match[] = {
		"a.b[4294967296]", "a.b[4294967297].d", "a.b[2147483648]", "a.b[-1]", "a.b[+1].d",
		"a.b[ 1].d", "a.b[1 ].d", "a.b[0x1].d", "a.b[1e0].d", "a.b[]", "a.b[1", "a.b[1]x",
		"a.b[99999999999999999999999999].d", "a.b[18446744073709551617].d",
	};
	for (size_t i = 0; i < ARRAY_LEN(no_match); i++)
		if (json_path(doc, no_match[i]))
			fail_msg("path \"%s\" matched", no_match[i]);
	cJSON_Delete(doc);
	assert_null(json_parse_text("{\"a\":\n  nope}", 13, err, sizeof err));
	assert_non_null(strstr(err, "2:"));
	/* text after the document: named by line and column like any JSON error */
	assert_null(json_parse_text("{\"a\":1} x", 9, err, sizeof err));
	assert_string_equal(err, "1:9: text after the JSON document");
	assert_null(json_parse_text("{\"a\":\n1}\n\n  ]", 13, err, sizeof err));
	assert_string_equal(err, "4:3: text after the JSON document");
}

static void test_atomic_write(void **state)
{
	(void)state;
	char dir[] = "/tmp/shipshape-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = easprintf("%s/sub/dir/file", dir);
	char *sub = easprintf("%s/sub/dir", dir);
	assert_int_equal(mkdir_p(sub, 0700), 0);
	assert_int_equal(atomic_write_file(path, "secret\n", 7, 0600), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(atomic_write_file(path, "v2", 2, 0600), 0);
	char *data;
	size_t len;
	assert_int_equal(read_file(path, 100, &data, &len), 0);
	assert_string_equal(data, "v2");
	free(data);
	assert_int_equal(read_file(path, 1, &data, &len), -1);
	assert_int_equal(read_file(sub, 100, &data, &len), -1);
	/* a failed write leaves the old file and no temporary behind */
	char *bad = easprintf("%s/missing/file", dir);
	assert_int_equal(atomic_write_file(bad, "x", 1, 0600), -1);
	/* only a regular file is replaced: never a FIFO (or a device) or a directory */
	char *fifo = easprintf("%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(atomic_write_file(fifo, "x", 1, 0600), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	assert_int_equal(stat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(atomic_write_file(sub, "x", 1, 0600), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(unlink(fifo), 0);
	free(fifo);

	setenv("SHIPSHAPE_STATE_DIR", sub, 1);
	char *error;
	char *sd = state_dir_resolve(NULL, "/nonexistent/cfg", &error);
	assert_string_equal(sd, sub);
	free(sd);
	sd = state_dir_resolve(dir, NULL, &error);
	assert_string_equal(sd, dir);
	free(sd);
	/* refused: an error returned for the tool to print, not an exit */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_null(state_dir_resolve(NULL, NULL, &error));
	assert_int_equal(errno, EACCES);
	char *want = easprintf("refusing the state directory %s: writable by every user (it must be yours or "
			       "root's, and writable by no one else)", sub);
	assert_string_equal(error, want);
	free(want);
	free(error);
	assert_int_equal(chmod(sub, 0700), 0);
	unsetenv("SHIPSHAPE_STATE_DIR");

	char *cmd = easprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(bad);
	free(path);
	free(sub);
}

static void test_subproc(void **state)
{
	(void)state;
	struct subproc_result res;
	char *echo[] = {"sh", "-c", "echo out; echo err >&2; cat; exit 3", NULL};
	struct subproc_opts o = {.argv = echo, .stdin_data = "in\n", .stdin_len = 3, .timeout_ms = 5000};
	assert_int_equal(subproc_run(&o, &res), 0);
	assert_int_equal(res.exit_code, 3);
	assert_false(res.timed_out);
	assert_non_null(strstr(res.output, "out"));
	assert_non_null(strstr(res.output, "err"));
	assert_non_null(strstr(res.output, "in"));
	subproc_result_free(&res);

	char *sleeper[] = {"sleep", "30", NULL};
	struct subproc_opts t = {.argv = sleeper, .timeout_ms = 200};
	int64_t start = now_monotonic_ms();
	assert_int_equal(subproc_run(&t, &res), 0);
	assert_true(res.timed_out);
	assert_true(now_monotonic_ms() - start < 5000);
	assert_int_equal(res.term_signal, 15);
	subproc_result_free(&res);

	char *chatty[] = {"sh", "-c", "head -c 100000 /dev/zero", NULL};
	struct subproc_opts b = {.argv = chatty, .max_output = 1000};
	assert_int_equal(subproc_run(&b, &res), 0);
	assert_int_equal(res.output_len, 1000);
	assert_int_equal(res.output_dropped, 99000);
	subproc_result_free(&res);

	char *missing[] = {"/nonexistent/program", NULL};
	struct subproc_opts m = {.argv = missing};
	assert_int_equal(subproc_run(&m, &res), 0);
	assert_int_equal(res.exit_code, 127);
	subproc_result_free(&res);

	char *envp[] = {"SHIPSHAPE_RELEASE=v9", NULL};
	char *show[] = {"sh", "-c", "printf %s \"$SHIPSHAPE_RELEASE\"", NULL};
	struct subproc_opts e = {.argv = show, .env_add = envp};
	assert_int_equal(subproc_run(&e, &res), 0);
	assert_string_equal(res.output, "v9");
	subproc_result_free(&res);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* sleep_ms() sleeps the whole time even when a signal's handler runs in
 * the middle (nanosleep alone returns early with EINTR). */
static void test_sleep_ms(void **state)
{
	(void)state;
	int64_t start = now_monotonic_ms();
	sleep_ms(0);
	sleep_ms(-5);
	assert_true(now_monotonic_ms() - start < 50);

	struct sigaction sa = {.sa_handler = on_alarm}, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	struct itimerval every = {{0, 20000}, {0, 20000}}, off = {0};
	setitimer(ITIMER_REAL, &every, NULL);
	start = now_monotonic_ms();
	sleep_ms(150);
	int64_t slept = now_monotonic_ms() - start;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	assert_true(slept >= 150);
}

static void test_state_dir_unsafe(void **state)
{
	(void)state;
	/* who may keep state in a directory: its owner (or a root-owned one),
	 * when no one else can write it; a sticky bit does not help */
	static const struct { uid_t owner; mode_t mode; uid_t euid; bool safe; } cases[] = {
		{1000, S_IFDIR | 0700, 1000, true},  {1000, S_IFDIR | 0755, 1000, true},
		{0, S_IFDIR | 0755, 1000, true},     {0, S_IFDIR | 0700, 0, true},
		{1000, S_IFDIR | 0700, 0, false},    {1001, S_IFDIR | 0700, 1000, false},
		{1000, S_IFDIR | 0777, 1000, false}, {1000, S_IFDIR | 01777, 1000, false},
		{0, S_IFDIR | 01777, 0, false},      {1000, S_IFDIR | 0770, 1000, false},
		{1000, S_IFDIR | 0702, 1000, false}, {1000, S_IFREG | 0600, 1000, false},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct stat st = {.st_uid = cases[i].owner, .st_mode = cases[i].mode};
		const char *why = state_dir_unsafe(&st, cases[i].euid);
		if ((why == NULL) != cases[i].safe)
			fail_msg("case %zu: uid %u mode %o for euid %u: %s", i, (unsigned)cases[i].owner,
				 (unsigned)cases[i].mode, (unsigned)cases[i].euid, why ? why : "safe");
	}
}

/* A temporary directory of the test's own. */
static char *temp_dir(void)
{
	char *dir = easprintf("%s/shipshape-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_tree(char *dir)
{
	char *cmd = easprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

static void test_state_file_open(void **state)
{
	(void)state;
	char *dir = temp_dir();
	char *target = easprintf("%s/target", dir), *link = easprintf("%s/link", dir);
	char *fifo = easprintf("%s/fifo", dir), *file = easprintf("%s/file", dir);
	assert_int_equal(atomic_write_file(target, "keep\n", 5, 0600), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* a symlink is not followed (its target neither truncated nor
	 * appended to), a FIFO not waited on, a regular file opened */
	assert_int_equal(state_file_open(link, O_RDWR | O_APPEND | O_CREAT | O_TRUNC, 0600), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(state_file_open(fifo, O_RDWR | O_CREAT, 0600), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	int fd = state_file_open(file, O_RDWR | O_APPEND | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	struct stat st;
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 5);
	/* a dangling symlink creates nothing at its target */
	char *dangling = easprintf("%s/dangling", dir), *nowhere = easprintf("%s/nowhere", dir);
	assert_int_equal(symlink(nowhere, dangling), 0);
	assert_int_equal(state_file_open(dangling, O_RDWR | O_CREAT, 0600), -1);
	assert_int_equal(lstat(nowhere, &st), -1);
	free(dangling);
	free(nowhere);
	free(target);
	free(link);
	free(fifo);
	free(file);
	remove_tree(dir);
}

static void test_read_file_kinds(void **state)
{
	(void)state;
	char *dir = temp_dir();
	char *fifo = easprintf("%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	char *data = NULL;
	size_t len = 0;
	/* a FIFO nobody writes: refused at once, not waited on */
	assert_int_equal(read_file(fifo, 100, &data, &len), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	assert_string_equal(read_file_error(EOPNOTSUPP), "not a regular file");
	assert_string_equal(read_file_error(ENOENT), strerror(ENOENT));
	assert_int_equal(read_file("/dev/null", 100, &data, &len), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	/* a pipe this process holds, named /dev/fd/N: read (bash's <(...)) */
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "a: 1\n", 5), 5);
	close(p[1]);
	char *name = easprintf("/dev/fd/%d", p[0]);
	assert_int_equal(read_file(name, 100, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "a: 1\n");
	free(data);
	free(name);
	close(p[0]);
	free(fifo);
	remove_tree(dir);
}

/* In a child: fds 0-2 closed, then tool_start(); reports in its exit
 * status whether each became /dev/null and SIGPIPE is ignored. */
/* The text dash follows the locale: LC_ALL, else LC_CTYPE, else LANG. */
static void test_environment_is_production(void **state)
{
	(void)state;
	assert_false(environment_is_production("development"));
	assert_false(environment_is_production("staging"));
	assert_true(environment_is_production("production"));
	assert_true(environment_is_production(NULL));
	assert_true(environment_is_production(""));
	assert_true(environment_is_production("prd"));
	assert_true(environment_is_production("Staging"));
}

static void test_text_dash(void **state)
{
	(void)state;
	static const struct { const char *all, *ctype, *lang, *want; } cases[] = {
		{NULL, NULL, NULL, "-"},
		{"C", NULL, "en_US.UTF-8", "-"},
		{"", NULL, "C.UTF-8", "\u2014"},
		{NULL, "de_DE.utf8", "C", "\u2014"},
		{NULL, "POSIX", "en_US.UTF-8", "-"},
		{NULL, NULL, "en_US.ISO-8859-1", "-"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
		const char *values[] = {cases[i].all, cases[i].ctype, cases[i].lang};
		for (size_t n = 0; n < ARRAY_LEN(names); n++) {
			if (values[n])
				setenv(names[n], values[n], 1);
			else
				unsetenv(names[n]);
		}
		assert_string_equal(text_dash(), cases[i].want);
	}
}

static void test_tool_start(void **state)
{
	(void)state;
	struct stat null;
	assert_int_equal(stat("/dev/null", &null), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(0);
		close(1);
		close(2);
		tool_start("/usr/bin/test-tool");
		int bad = 0;
		for (int fd = 0; fd <= 2; fd++) {
			struct stat st;
			if (fstat(fd, &st) < 0 || st.st_rdev != null.st_rdev || !S_ISCHR(st.st_mode))
				bad |= 1 << fd;
		}
		struct sigaction sa;
		sigaction(SIGPIPE, NULL, &sa);
		if (sa.sa_handler != SIG_IGN)
			bad |= 8;
		if (strcmp(prog, "test-tool") != 0)
			bad |= 16;
		_exit(bad);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A reader that is gone: finish_stdout() says so and returns 3, never the
 * run's own status. */
static void test_finish_stdout_epipe(void **state)
{
	(void)state;
	int p[2], errp[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(errp), 0);
	close(p[0]);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		close(errp[0]);
		tool_start("test-tool");
		fputs("{\"kind\":\"report\"}\n", stdout);
		_exit(finish_stdout(EXIT_OK));
	}
	close(p[1]);
	close(errp[1]);
	char msg[256] = {0};
	size_t got = 0;
	for (ssize_t n; got < sizeof msg - 1 && (n = read(errp[0], msg + got, sizeof msg - 1 - got)) > 0;)
		got += (size_t)n;
	close(errp[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EXIT_UNKNOWN);
	assert_string_equal(msg, "test-tool: unable to write output: Broken pipe\n");
}

/* placeholders_fill(): each {{name}} from the callback, put() for the
 * value, an unclosed "{{" as text, NULL naming the first unknown name. */
static const char *fill_value(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "release") == 0)
		return "v2 a&b";
	if (strcmp(name, "empty") == 0)
		return "";
	return NULL;
}

static void fill_put_upper(struct buf *b, const char *v)
{
	for (; *v; v++)
		buf_putc(b, *v >= 'a' && *v <= 'z' ? (char)(*v - 32) : *v);
}

static void test_placeholders_fill(void **state)
{
	(void)state;
	char *bad = NULL, *out;
	out = placeholders_fill("x{release=\"{{release}}\"}{{empty}} {{", fill_value, NULL, NULL, &bad);
	assert_non_null(out);
	assert_string_equal(out, "x{release=\"v2 a&b\"} {{");
	free(out);
	out = placeholders_fill("{{release}}/{{release}}", fill_value, NULL, fill_put_upper, &bad);
	assert_string_equal(out, "V2 A&B/V2 A&B");
	free(out);
	out = placeholders_fill("no placeholders", fill_value, NULL, NULL, &bad);
	assert_string_equal(out, "no placeholders");
	free(out);
	assert_null(placeholders_fill("a {{release}} {{window}} {{other}}", fill_value, NULL, NULL, &bad));
	assert_string_equal(bad, "window");
	free(bad);
}

/* double_text(): the shortest text that reads back as the same double */
static void test_double_text(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(double_text(0.1, buf, sizeof buf), "0.1");
	assert_string_equal(double_text(233 / 1e6, buf, sizeof buf), "0.000233");
	assert_string_equal(double_text(0.1 + 0.2, buf, sizeof buf), "0.30000000000000004");
	assert_string_equal(double_text(1795000000, buf, sizeof buf), "1795000000");
	assert_string_equal(double_text(1.1, buf, sizeof buf), "1.1");
	assert_string_equal(double_text(-2.5e-7, buf, sizeof buf), "-2.5e-07");
	const double hard[] = {1.0 / 3, 2.0 / 3, 1e300 * 7, 5e-324, 123456789.123456789};
	for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++)
		assert_true(strtod(double_text(hard[i], buf, sizeof buf), NULL) == hard[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse), cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_size_parse),     cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_redact),         cmocka_unit_test(test_report_worst),
		cmocka_unit_test(test_jsonl_reader),   cmocka_unit_test(test_json_path),
		cmocka_unit_test(test_atomic_write),   cmocka_unit_test(test_subproc),
		cmocka_unit_test(test_sleep_ms),
		cmocka_unit_test(test_state_dir_unsafe), cmocka_unit_test(test_state_file_open),
		cmocka_unit_test(test_read_file_kinds), cmocka_unit_test(test_tool_start), cmocka_unit_test(test_text_dash),
		cmocka_unit_test(test_environment_is_production),
		cmocka_unit_test(test_finish_stdout_epipe),
		cmocka_unit_test(test_placeholders_fill), cmocka_unit_test(test_double_text),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
