/* test_redact.c — masking registered secrets: a registered secret is masked
 * wherever it stands, also when it is an ordinary word (a secret that is
 * left whole in prose is a secret in the journal); URL passwords from a
 * config are registered as written and percent-decoded; threads mask
 * while secrets are registered (svc-probe's TCP workers do). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
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

/* Past the first table's size: every secret registered so far is still
 * masked after each one more (the buckets grow as secrets come). */
static void test_many_secrets(void **state)
{
	(void)state;
	redact_clear();
	char secret[32], text[64];
	for (int i = 0; i < 300; i++) {
		snprintf(secret, sizeof secret, "tok-%03d-value", i);
		redact_register(secret);
		for (int k = 0; k <= i; k += 1 + i / 7) {
			snprintf(text, sizeof text, "the tok-%03d-value here", k);
			expect_masked(text, "the *** here");
		}
	}
	redact_clear();
}

#define MASKERS 4
#define ROUNDS 2000

static void *mask_loop(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		char *got = redact_string("connect to host: the first-secret-00 and the rest of the line");
		if (strstr(got, "first-secret-00"))
			return got; /* a leak of the first secret: the finding */
		free(got);
	}
	return NULL;
}

/* Threads mask while the main thread registers more secrets: none of them
 * reads a half-built table (this crashed), and a secret registered before
 * they started is always masked. */
static void test_threads_mask_while_registering(void **state)
{
	(void)state;
	redact_clear();
	redact_register("first-secret-00");
	pthread_t t[MASKERS];
	for (int i = 0; i < MASKERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, mask_loop, NULL), 0);
	char secret[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(secret, sizeof secret, "later-secret-%04d", i);
		redact_register(secret);
	}
	for (int i = 0; i < MASKERS; i++) {
		void *leaked;
		pthread_join(t[i], &leaked);
		if (leaked)
			fail_msg("a thread saw the first secret unmasked: %s", (char *)leaked);
	}
	redact_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_word_like_secrets),
		cmocka_unit_test(test_url_passwords_registered),
		cmocka_unit_test(test_many_secrets),
		cmocka_unit_test(test_threads_mask_while_registering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
