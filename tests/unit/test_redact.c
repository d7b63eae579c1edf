/* test_redact.c — masking registered secrets: a registered secret is masked
 * wherever it stands, also when it is an ordinary word (a secret that is
 * left whole in prose is a secret in the journal); URL passwords from a
 * config are registered as written and percent-decoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/redact.h"

static void expect_masked(const char *in, const char *out)
{
	char *got = redact_string(in);
	if (strcmp(got, out) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", in, got, out);
	free(got);
}

static void test_word_like_secrets(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } cases[] = {
		/* a password that is a word is masked in prose too: an -m
		 * message quoting it must not store it */
		{"rotated the password hunter now", "rotated the password *** now"},
		{"authentication failed: wrong password", "authentication failed: *** password"},
		{"postgresql://app:wrong@db/x", "postgresql://app:***@db/x"},
		{"pw=wrong", "pw=***"},
		{"got \"wrong\"", "got \"***\""},
		{"the hunter22 is here", "the *** is here"},
		{"no secret here", "no secret here"},
	};
	redact_clear();
	redact_register("wrong");
	redact_register("hunter");
	redact_register("hunter22");
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		expect_masked(cases[i].in, cases[i].out);
	assert_true(redact_contains_secret("app:wrong@"));
	assert_false(redact_contains_secret("no secret here"));
	redact_clear();
}

static void test_url_passwords_registered(void **state)
{
	(void)state;
	redact_clear();
	redact_register_url_passwords("a postgresql://u:p%2Fss-word-1@h/d and redis://:tok-en-22@c:6379 "
				      "https://user@h/ https://h:8443/x");
	static const struct { const char *in, *out; } cases[] = {
		{"bare p%2Fss-word-1 here", "bare *** here"},
		{"decoded p/ss-word-1 here", "decoded *** here"},
		{"and tok-en-22", "and ***"},
		{"user h 8443 stay", "user h 8443 stay"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		expect_masked(cases[i].in, cases[i].out);
	redact_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_word_like_secrets),
		cmocka_unit_test(test_url_passwords_registered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
