/* test_event.c — unit tests for alert documents and the labels fingerprint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/event.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

static cJSON *parse(const char *text)
{
	char err[128];
	cJSON *j = json_parse_text(text, strlen(text), err, sizeof err);
	if (!j)
		fail_msg("bad test JSON: %s", err);
	return j;
}

/* Fingerprints as Alertmanager computes them (FNV-1a 64 over sorted names). */
static void test_fingerprint_values(void **state)
{
	(void)state;
	static const struct { const char *labels, *fp; } cases[] = {
		{"{}", "cbf29ce484222325"},
		{"{\"a\":\"b\"}", "d2b371819297f98a"},
		{"{\"alertname\":\"HealthCheckFailed\",\"target\":\"api\",\"severity\":\"critical\","
		 "\"environment\":\"production\"}", "5a169b7bc685fd0c"},
		/* member order does not matter */
		{"{\"severity\":\"critical\",\"environment\":\"production\",\"target\":\"api\","
		 "\"alertname\":\"HealthCheckFailed\"}", "5a169b7bc685fd0c"},
		{"{\"alertname\":\"x\",\"\xc3\xa9\":\"\xc3\xbc\"}", "7fe93587f9fa623d"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		cJSON *l = parse(cases[i].labels);
		char fp[FINGERPRINT_LEN];
		assert_string_equal(labels_fingerprint(l, fp), cases[i].fp);
		cJSON_Delete(l);
	}
}

static void test_fingerprint_distinguishes(void **state)
{
	(void)state;
	/* The separator byte keeps "ab"+"c" apart from "a"+"bc". */
	cJSON *x = parse("{\"ab\":\"c\"}"), *y = parse("{\"a\":\"bc\"}");
	assert_true(labels_fingerprint64(x) != labels_fingerprint64(y));
	cJSON_Delete(x);
	cJSON_Delete(y);
	/* many labels: the sort goes beyond the on-stack array */
	cJSON *many = cJSON_CreateObject(), *rev = cJSON_CreateObject();
	char name[16];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "l%02d", i);
		cJSON_AddStringToObject(many, name, "v");
		snprintf(name, sizeof name, "l%02d", 39 - i);
		cJSON_AddStringToObject(rev, name, "v");
	}
	assert_true(labels_fingerprint64(many) == labels_fingerprint64(rev));
	cJSON_Delete(many);
	cJSON_Delete(rev);
}

static void test_label_names(void **state)
{
	(void)state;
	assert_true(label_name_valid("alertname"));
	assert_true(label_name_valid("_x9"));
	assert_false(label_name_valid(""));
	assert_false(label_name_valid("9x"));
	assert_false(label_name_valid("a-b"));
	assert_false(label_name_valid("a.b"));
}

static void test_alert_event_new_round_trip(void **state)
{
	(void)state;
	cJSON *labels = labels_new("alertname", "HealthCheckFailed", "target", "api", "severity",
				   "critical", "environment", "production", "empty", "", NULL);
	cJSON *ann = cJSON_CreateObject();
	cJSON_AddStringToObject(ann, "summary", "api is down");
	int64_t t0 = 1764370273123LL;
	cJSON *doc = alert_event_new(ALERT_FIRING, labels, ann, t0, 0, NULL);
	assert_string_equal(json_kind(doc), "alert");
	assert_string_equal(json_path_string(doc, "status", ""), "firing");
	assert_string_equal(json_path_string(doc, "fingerprint", ""), "5a169b7bc685fd0c");
	assert_null(json_path(doc, "labels.empty"));
	assert_null(json_path(doc, "endsAt"));
	assert_string_equal(json_path_string(doc, "startsAt", ""), "2025-11-28T22:51:13.123Z");

	struct alert_view v;
	char err[128] = "";
	assert_int_equal(alert_view_parse(doc, t0, &v, err, sizeof err), 0);
	assert_int_equal(v.status, ALERT_FIRING);
	assert_int_equal(v.starts_at_ms, t0);
	assert_int_equal(v.ends_at_ms, 0);
	assert_string_equal(v.fingerprint, "5a169b7bc685fd0c");
	cJSON_Delete(doc);

	doc = alert_event_new(ALERT_RESOLVED, labels_new("alertname", "X", NULL), NULL, t0, t0 + 5000,
			      "http://h/g");
	assert_int_equal(alert_view_parse(doc, t0, &v, err, sizeof err), 0);
	assert_int_equal(v.status, ALERT_RESOLVED);
	assert_int_equal(v.ends_at_ms, t0 + 5000);
	assert_string_equal(v.generator_url, "http://h/g");
	cJSON_Delete(doc);

	doc = event_new("state", t0);
	assert_string_equal(json_kind(doc), "event");
	assert_string_equal(json_path_string(doc, "type", ""), "state");
	cJSON_Delete(doc);
}

/* Alertmanager's API form: no status; endsAt in the past means resolved. */
static void test_alert_view_status_from_ends_at(void **state)
{
	(void)state;
	cJSON *doc = parse("{\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"2025-01-01T00:00:00Z\","
			   "\"endsAt\":\"2025-01-01T00:05:00Z\"}");
	struct alert_view v;
	char err[128];
	int64_t before, after;
	rfc3339_parse("2025-01-01T00:01:00Z", &before);
	rfc3339_parse("2025-01-01T00:06:00Z", &after);
	assert_int_equal(alert_view_parse(doc, before, &v, err, sizeof err), 0);
	assert_int_equal(v.status, ALERT_FIRING);
	assert_int_equal(alert_view_parse(doc, after, &v, err, sizeof err), 0);
	assert_int_equal(v.status, ALERT_RESOLVED);
	cJSON_Delete(doc);
	/* Go's zero time stands for "not set" */
	doc = parse("{\"labels\":{\"alertname\":\"A\"},\"endsAt\":\"0001-01-01T00:00:00Z\"}");
	assert_int_equal(alert_view_parse(doc, after, &v, err, sizeof err), 0);
	assert_int_equal(v.status, ALERT_FIRING);
	assert_int_equal(v.ends_at_ms, 0);
	cJSON_Delete(doc);
}

static void test_alert_view_errors(void **state)
{
	(void)state;
	static const struct { const char *doc, *err; } bad[] = {
		{"{}", "labels: missing"},
		{"{\"labels\":[]}", "labels: expected an object of strings"},
		{"{\"labels\":{\"target\":\"x\"}}", "labels.alertname: missing"},
		{"{\"labels\":{\"alertname\":\"\"}}", "labels.alertname: missing"},
		{"{\"labels\":{\"alertname\":\"A\",\"n\":1}}", "labels.n: expected a string"},
		{"{\"labels\":{\"alertname\":\"A\",\"a-b\":\"x\"}}", "labels: invalid label name \"a-b\""},
		{"{\"labels\":{\"alertname\":\"A\"},\"annotations\":{\"s\":true}}",
		 "annotations.s: expected a string"},
		{"{\"labels\":{\"alertname\":\"A\"},\"status\":\"on\"}",
		 "status: expected \"firing\" or \"resolved\""},
		{"{\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"yesterday\"}",
		 "startsAt: expected an RFC 3339 time"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		cJSON *doc = parse(bad[i].doc);
		struct alert_view v;
		char err[128] = "";
		assert_int_equal(alert_view_parse(doc, 0, &v, err, sizeof err), -1);
		assert_string_equal(err, bad[i].err);
		cJSON_Delete(doc);
	}
}

static void test_alertmanager_payload(void **state)
{
	(void)state;
	cJSON *yes = parse("{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}");
	cJSON *no1 = parse("{\"version\":\"3\",\"alerts\":[]}");
	cJSON *no2 = parse("{\"version\":\"4\"}");
	assert_true(alertmanager_payload_is(yes));
	assert_false(alertmanager_payload_is(no1));
	assert_false(alertmanager_payload_is(no2));
	cJSON_Delete(yes);
	cJSON_Delete(no1);
	cJSON_Delete(no2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint_values),
		cmocka_unit_test(test_fingerprint_distinguishes),
		cmocka_unit_test(test_label_names),
		cmocka_unit_test(test_alert_event_new_round_trip),
		cmocka_unit_test(test_alert_view_status_from_ends_at),
		cmocka_unit_test(test_alert_view_errors),
		cmocka_unit_test(test_alertmanager_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
