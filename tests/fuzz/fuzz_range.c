/* fuzz_range.c — monitoring-plugins threshold ranges: never undefined
 * behaviour; a parsed range formats to a range that parses again. */
#include "fuzz.h"
#include "shipshape/range.h"

#include <math.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	struct range r, again;
	if (range_parse(s, &r) == 0) {
		char buf[128];
		FUZZ_CHECK(!isnan(r.start) && !isnan(r.end) && r.start <= r.end);
		FUZZ_CHECK(range_parse(range_format(&r, buf, sizeof buf), &again) == 0);
		FUZZ_CHECK(again.inside == r.inside);
		(void)range_alerts(&r, 0);
		(void)range_alerts(&r, r.start);
		(void)range_alerts(&r, r.end);
	}
	free(s);
	return 0;
}
