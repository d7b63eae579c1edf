/* fuzz_units.c — duration and size parsing: never undefined behaviour, and
 * a parsed duration formats to text that parses back to the same value. */
#include "fuzz.h"
#include "shipshape/units.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	int64_t ms, again, bytes;
	if (duration_parse(s, &ms) == 0) {
		char buf[64];
		FUZZ_CHECK(ms >= 0);
		FUZZ_CHECK(duration_parse(duration_format(ms, buf, sizeof buf), &again) == 0);
		FUZZ_CHECK(again == ms);
	}
	if (size_parse(s, &bytes) == 0)
		FUZZ_CHECK(bytes >= 0);
	free(s);
	return 0;
}
