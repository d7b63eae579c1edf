/* test_range.c — unit tests for monitoring-plugins threshold ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/range.h"

/* Each range with values on and around its boundaries: 1 alerts, 0 does not. */
static const struct {
	const char *text;
	const char *canonical;
	double value;
	int alerts;
} cases[] = {
	{"10", "10", -0.5, 1}, {"10", "10", 0, 0}, {"10", "10", 5, 0},
	{"10", "10", 10, 0}, {"10", "10", 10.001, 1}, {"10", "10", -1, 1},
	{"10:", "10:", 9.99, 1}, {"10:", "10:", 10, 0}, {"10:", "10:", 1e12, 0},
	{"~:10", "~:10", -1e12, 0}, {"~:10", "~:10", 10, 0}, {"~:10", "~:10", 11, 1},
	{"10:20", "10:20", 9, 1}, {"10:20", "10:20", 10, 0}, {"10:20", "10:20", 20, 0},
	{"10:20", "10:20", 21, 1},
	{"@10:20", "@10:20", 9.9, 0}, {"@10:20", "@10:20", 10, 1}, {"@10:20", "@10:20", 15, 1},
	{"@10:20", "@10:20", 20, 1}, {"@10:20", "@10:20", 20.1, 0},
	{":5", "5", 0, 0}, {":5", "5", 6, 1},
	{"-5:-1", "-5:-1", -3, 0}, {"-5:-1", "-5:-1", 0, 1},
	{"1.5:2.5", "1.5:2.5", 2.5, 0}, {"1.5:2.5", "1.5:2.5", 2.51, 1},
	{"@~:0", "@~:0", -1, 1}, {"@~:0", "@~:0", 0.1, 0},
	{"~:", "~:", -1e300, 0}, {"~:", "~:", 1e300, 0},
	{"@5", "@0:5", 5, 1}, {"@5", "@0:5", 6, 0},
	{"0", "0", 0, 0}, {"0", "0", 1, 1},
};

static void test_range_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct range r;
		char buf[64];
		if (range_parse(cases[i].text, &r) != 0)
			fail_msg("rejected \"%s\"", cases[i].text);
		if (range_alerts(&r, cases[i].value) != (cases[i].alerts != 0))
			fail_msg("\"%s\" with %g: expected %s", cases[i].text, cases[i].value,
				 cases[i].alerts ? "an alert" : "no alert");
		assert_string_equal(range_format(&r, buf, sizeof buf), cases[i].canonical);
	}
}

static void test_range_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "@", ":", "abc", "10:5", "1:2:3", "10x", "~", "~10", "10:~", "nan", "inf",
		"0x10", "1e999", "@@1", " 10", "10 ", "5:abc", "-",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct range r = {.start = 42};
		if (range_parse(bad[i], &r) == 0)
			fail_msg("accepted bad range \"%s\"", bad[i]);
		assert_true(r.start == 42); /* untouched on failure */
	}
	assert_int_equal(range_parse(NULL, &(struct range){0}), -1);
}

static void test_range_nan_alerts(void **state)
{
	(void)state;
	struct range r;
	assert_int_equal(range_parse("~:", &r), 0);
	assert_true(range_alerts(&r, NAN));
}

static void test_thresholds(void **state)
{
	(void)state;
	struct thresholds t = {0};
	assert_int_equal(thresholds_status(&t, 1e9), STATUS_OK);
	assert_int_equal(range_parse("~:10", &t.warning), 0);
	assert_int_equal(range_parse("~:20", &t.critical), 0);
	t.has_warning = t.has_critical = true;
	assert_int_equal(thresholds_status(&t, 10), STATUS_OK);
	assert_int_equal(thresholds_status(&t, 10.5), STATUS_WARNING);
	assert_int_equal(thresholds_status(&t, 20), STATUS_WARNING);
	assert_int_equal(thresholds_status(&t, 21), STATUS_CRITICAL);
	t.has_warning = false;
	assert_int_equal(thresholds_status(&t, 15), STATUS_OK);
	assert_int_equal(thresholds_status(&t, 25), STATUS_CRITICAL);
}

/* A range as one perfdata number: the upper bound of a plain range. */
static void test_range_perf_threshold(void **state)
{
	(void)state;
	static const struct {
		const char *range;
		double want; /* NAN: none */
	} perf_cases[] = {
		{"10", 10}, {"~:0.5", 0.5}, {"5:20", 20}, {"10:", NAN}, {"@10:20", NAN},
	};
	for (size_t i = 0; i < ARRAY_LEN(perf_cases); i++) {
		struct range r;
		assert_int_equal(range_parse(perf_cases[i].range, &r), 0);
		double got = range_perf_threshold(&r, true);
		if (isnan(perf_cases[i].want))
			assert_true(isnan(got));
		else
			assert_true(got == perf_cases[i].want);
		assert_true(isnan(range_perf_threshold(&r, false)));
	}
}

/* Why a value alerts, as a message says it: an "@" range alerts inside. */
static void test_range_explain(void **state)
{
	(void)state;
	static const struct {
		const char *range, *which;
		double value;
		const char *want;
	} explain_cases[] = {
		{"@10:20", "warning", 15, "inside the warning range @10:20"},
		{"@10:20", "critical", 10, "inside the critical range @10:20"},
		{"10:20", "warning", 25, "outside the warning range 10:20"},
		{"10", "critical", -1, "outside the critical range 10"},
		{"~:10", "warning", 11, "outside the warning range ~:10"},
		{"@5", "warning", 3, "inside the warning range @0:5"},
		{"10:20", "warning", NAN, "not a number (the warning range is 10:20)"},
	};
	for (size_t i = 0; i < ARRAY_LEN(explain_cases); i++) {
		struct range r;
		char buf[96];
		assert_int_equal(range_parse(explain_cases[i].range, &r), 0);
		assert_string_equal(range_explain(&r, explain_cases[i].which, explain_cases[i].value, buf, sizeof buf),
				    explain_cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_table),
		cmocka_unit_test(test_range_bad),
		cmocka_unit_test(test_range_nan_alerts),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_range_explain),
		cmocka_unit_test(test_range_perf_threshold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
