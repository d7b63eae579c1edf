/* test_errf.c — errf(): the one way a function puts its error message in a
 * caller's buffer, whatever buffer the caller has (none, too small). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "shipshape/common.h"

static void test_errf_cases(void **state)
{
	(void)state;
	static const struct {
		size_t size;     /* the buffer's size given to errf() */
		const char *out; /* what the buffer holds after */
	} cases[] = {
		{64, "port 70000: expected 1 to 65535"},
		{32, "port 70000: expected 1 to 65535"}, /* exactly fits */
		{31, "port 70000: expected 1 to 6553"},  /* one short: truncated, terminated */
		{9, "port 700"},
		{1, ""},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char buf[80];
		memset(buf, 'x', sizeof buf);
		assert_int_equal(errf(buf, cases[i].size, "port %d: expected %d to %d", 70000, 1, 65535), -1);
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(buf[cases[i].size], 'x'); /* nothing written past size */
	}
}

static void test_errf_no_buffer(void **state)
{
	(void)state;
	char buf[8] = "keep";
	/* a caller that wants no message: NULL, or a size of 0 */
	assert_int_equal(errf(NULL, 0, "%s", "ignored"), -1);
	assert_int_equal(errf(NULL, 64, "%s", "ignored"), -1);
	assert_int_equal(errf(buf, 0, "%s", "ignored"), -1);
	assert_string_equal(buf, "keep");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errf_cases),
		cmocka_unit_test(test_errf_no_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
