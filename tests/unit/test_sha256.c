/* Unit tests for sha256: the FIPS 180-4 example vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "shipshape/sha256.h"

static void test_vectors(void **state)
{
	(void)state;
	char hex[SHA256_HEX_LEN];
	assert_string_equal(sha256_hex("", 0, hex),
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(sha256_hex("abc", 3, hex),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	assert_string_equal(sha256_hex(two, strlen(two), hex),
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_incremental_million_a(void **state)
{
	(void)state;
	struct sha256 s;
	unsigned char d[SHA256_DIGEST_LEN];
	char chunk[1000];
	memset(chunk, 'a', sizeof chunk);
	sha256_init(&s);
	for (int i = 0; i < 1000; i++)
		sha256_update(&s, chunk, sizeof chunk);
	sha256_final(&s, d);
	static const unsigned char want[4] = {0xcd, 0xc7, 0x6e, 0x5c};
	assert_memory_equal(d, want, sizeof want);
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than a block). */
static void test_hmac_rfc4231(void **state)
{
	(void)state;
	char hex[SHA256_HEX_LEN];
	unsigned char k1[20];
	memset(k1, 0x0b, sizeof k1);
	assert_string_equal(hmac_sha256_hex(k1, sizeof k1, "Hi There", 8, hex),
			    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	const char *what = "what do ya want for nothing?";
	assert_string_equal(hmac_sha256_hex("Jefe", 4, what, strlen(what), hex),
			    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	unsigned char k6[131];
	memset(k6, 0xaa, sizeof k6);
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	assert_string_equal(hmac_sha256_hex(k6, sizeof k6, m6, strlen(m6), hex),
			    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_incremental_million_a),
		cmocka_unit_test(test_hmac_rfc4231),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
