/* fuzz_jsonl.c — the JSON Lines reader, and each document read as an alert
 * (alert-send's stdin): never undefined behaviour; every bad line has a
 * reason naming its line. */
#include "fuzz.h"
#include "shipshape/event.h"
#include "shipshape/json.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	FILE *in = fmemopen((void *)data, size, "r");
	if (!in)
		abort();
	struct jsonl_reader r;
	jsonl_reader_init(&r, in, "stdin", 1024); /* small, to reach the over-long path */
	cJSON *doc;
	int rc;
	while ((rc = jsonl_next(&r, &doc)) != 0) {
		if (rc < 0) {
			FUZZ_CHECK(strncmp(r.error, "stdin:", 6) == 0);
			continue;
		}
		struct alert_view v;
		char err[256] = "";
		if (alert_view_parse(doc, 1796000000000LL, &v, err, sizeof err) < 0)
			FUZZ_CHECK(err[0] != '\0');
		else
			FUZZ_CHECK(v.starts_at_ms >= 0 && v.ends_at_ms >= 0);
		cJSON_Delete(doc);
	}
	jsonl_reader_free(&r);
	fclose(in);
	return 0;
}
