/* test_matcher.c — unit tests for Alertmanager's label matchers: the
 * syntax, anchored regular expressions, absent labels, the round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/matcher.h"

/* Each matcher list against the labels {alertname=Down, severity=critical,
 * target=webserver}: 1 matches, 0 does not. */
static const struct {
	const char *text;
	int matches;
} cases[] = {
	{"alertname=\"Down\"", 1}, {"alertname=Down", 1}, {"alertname = \"Down\"", 1},
	{"alertname=\"down\"", 0}, {"alertname!=\"Down\"", 0}, {"alertname!=Up", 1},
	{"severity=~\"crit.*\"", 1}, {"severity=~\"crit\"", 0}, /* anchored: a prefix is not enough */
	{"target=~\"web\"", 0}, {"target=~\"web.*\"", 1}, {"target=~\".*server\"", 1},
	{"target=~\"eb.*\"", 0}, {"target!~\"web.*\"", 0}, {"target!~\"db.*\"", 1},
	{"severity=~\"warning|critical\"", 1}, {"severity=~\"warning|crit\"", 0},
	{"missing=\"\"", 1}, {"missing!=\"\"", 0}, {"missing=~\".*\"", 1}, {"missing=~\".+\"", 0},
	{"{alertname=\"Down\",severity=\"critical\"}", 1}, {"{alertname=\"Down\", severity=\"warning\"}", 0},
	{"{}", 1}, {"alertname=\"Down\", target=~\"web.*\"", 1},
	{"target=~\"[a-z+*]+server\"", 1}, {"target=~\"web\\\\+*server\"", 1}, /* a bracket; an escaped + repeated */
};

static cJSON *labels(void)
{
	cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "alertname", "Down");
	cJSON_AddStringToObject(l, "severity", "critical");
	cJSON_AddStringToObject(l, "target", "webserver");
	return l;
}

static void test_matcher_table(void **state)
{
	(void)state;
	cJSON *l = labels();
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct matchers ms = {0};
		char err[160];
		if (matchers_parse(&ms, cases[i].text, err, sizeof err) != 0)
			fail_msg("rejected \"%s\": %s", cases[i].text, err);
		if (matchers_match(&ms, l) != (cases[i].matches != 0))
			fail_msg("\"%s\": expected %s", cases[i].text, cases[i].matches ? "a match" : "no match");
		/* the canonical text and the API v2 JSON mean the same */
		char *canon = matchers_format(&ms);
		struct matchers again = {0}, from_json = {0};
		assert_int_equal(matchers_parse(&again, canon, err, sizeof err), 0);
		cJSON *j = matchers_to_json(&ms);
		assert_int_equal(matchers_from_json(&from_json, j, err, sizeof err), 0);
		assert_int_equal(matchers_match(&again, l), matchers_match(&ms, l));
		assert_int_equal(matchers_match(&from_json, l), matchers_match(&ms, l));
		char *canon2 = matchers_format(&from_json);
		assert_string_equal(canon, canon2);
		free(canon);
		free(canon2);
		cJSON_Delete(j);
		matchers_free(&again);
		matchers_free(&from_json);
		matchers_free(&ms);
	}
	cJSON_Delete(l);
}

static void test_matcher_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "alertname", "=\"x\"", "9x=\"y\"", "a==b", "a=\"unterminated", "a=~\"(\"", "a=\"x\" b=\"y\"",
		"{a=\"b\"", "{a=\"b\",}", "a=\"\\q\"", "a<\"b\"", "{a=\"b\"} trailing",
		"a=~\"x++\"", "a=~\"x*{2}\"", "a=~\"(x+)?+\"",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct matchers ms = {0};
		char err[160] = "";
		if (matchers_parse(&ms, bad[i], err, sizeof err) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(ms.n, 0);
		assert_true(err[0] != '\0');
	}
}

static void test_matcher_escapes(void **state)
{
	(void)state;
	struct matchers ms = {0};
	char err[160];
	assert_int_equal(matchers_parse(&ms, "summary=\"a \\\"quoted\\\" \\\\ word\"", err, sizeof err), 0);
	assert_string_equal(ms.m[0].value, "a \"quoted\" \\ word");
	char *canon = matchers_format(&ms);
	assert_string_equal(canon, "{summary=\"a \\\"quoted\\\" \\\\ word\"}");
	free(canon);
	matchers_free(&ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matcher_table),
		cmocka_unit_test(test_matcher_rejects),
		cmocka_unit_test(test_matcher_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
