/* fuzz_ratelimit.c — the rate-limit headers the Render driver honours
 * (Retry-After, Ratelimit-Reset) and begin's --commit/--image checks:
 * never undefined behaviour; waits stay within their bounds; what passes
 * as a commit or an image is one. */
#include "fuzz.h"
#include "shipshape/driver.h"
#include "shipshape/retry.h"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	const int64_t now = 1764720000000LL; /* 2025-12-03 */
	int64_t reset = retry_ratelimit_reset_ms(s, now);
	FUZZ_CHECK(reset >= -1 && reset <= 3600000);
	int64_t after = retry_after_parse_ms(s, now);
	FUZZ_CHECK(after >= -1);
	size_t n = strlen(s);
	if (driver_commit_valid(s)) {
		FUZZ_CHECK(n >= 7 && n <= 40);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(isxdigit((unsigned char)s[i]));
	}
	if (driver_image_valid(s)) {
		FUZZ_CHECK(n >= 1 && n <= DRIVER_IMAGE_MAX);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(!isspace((unsigned char)s[i]));
	}
	free(s);
	return 0;
}
