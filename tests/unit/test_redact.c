/* test_redact.c — masking registered secrets inside prose: a secret that is
 * an ordinary word is masked where it stands as a value, never as a word of
 * a sentence (which would mislead, and tell which word it is). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/redact.h"

static void test_word_like_secrets(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } cases[] = {
		/* the tool's own words stay whole */
		{"authentication failed: wrong password or unknown user",
		 "authentication failed: wrong password or unknown user"},
		{"the value is wrong.", "the value is wrong."},
		{"(wrong) Wrong wrongly", "(wrong) Wrong wrongly"},
		{"authentication failed: wrong password", "authentication failed: wrong password"},
		/* as a value it is masked */
		{"postgresql://app:wrong@db/x", "postgresql://app:***@db/x"},
		{"login app/wrong failed", "login app/*** failed"},
		{"pw=wrong", "pw=***"},
		{"password wrong", "password ***"},
		{"password: wrong, retrying", "password: ***, retrying"},
		{"--password=wrong", "--password=***"},
		{"DB_PASSWORD wrong", "DB_PASSWORD ***"},
		{"got \"wrong\"", "got \"***\""},
		{"xwrongx wrong123", "xwrongx wrong123"}, /* other words */
		/* a secret that is no ordinary word is masked anywhere */
		{"the hunter22 is here", "the *** is here"},
		{"a longerword here", "a *** here"},
		{"Sk-Test here", "*** here"},
	};
	redact_clear();
	redact_register("wrong");
	redact_register("hunter22");
	redact_register("longerword");
	redact_register("Sk-Test");
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *got = redact_string(cases[i].in);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].in, got, cases[i].out);
		free(got);
	}
	assert_true(redact_contains_secret("app:wrong@"));
	assert_false(redact_contains_secret("no secret here"));
	redact_clear();
}

/* URL passwords registered from a config: as written and percent-decoded. */
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
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *got = redact_string(cases[i].in);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
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
