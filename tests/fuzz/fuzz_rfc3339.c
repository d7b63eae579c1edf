/* fuzz_rfc3339.c — RFC 3339 timestamps: never undefined behaviour; a
 * parsed time within years 0000-9999 formats and parses back to itself. */
#include "fuzz.h"
#include "shipshape/units.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	int64_t ms, again;
	if (rfc3339_parse(s, &ms) == 0) {
		/* 0000-01-01 and 9999-12-31T23:59:59.999, give or take the offsets */
		FUZZ_CHECK(ms >= -62167305600000LL && ms <= 253402387199999LL);
		if (ms >= -62167219200000LL && ms <= 253402300799999LL) {
			char buf[RFC3339_LEN];
			FUZZ_CHECK(rfc3339_parse(rfc3339_format(ms, buf), &again) == 0);
			FUZZ_CHECK(again == ms);
		}
	}
	free(s);
	return 0;
}
