/* fuzz_matcher.c — Alertmanager label matchers: never undefined
 * behaviour; a parsed list formats to text and to JSON that both parse
 * again to a list that matches the same labels. */
#include "fuzz.h"
#include "shipshape/matcher.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	struct matchers ms = {0};
	char err[200];
	if (matchers_parse(&ms, s, err, sizeof err) == 0) {
		cJSON *labels = cJSON_CreateObject();
		for (size_t i = 0; i < ms.n; i++)
			cJSON_AddStringToObject(labels, ms.m[i].name, ms.m[i].value);
		char *text = matchers_format(&ms);
		struct matchers again = {0}, from_json = {0};
		FUZZ_CHECK(matchers_parse(&again, text, err, sizeof err) == 0);
		cJSON *j = matchers_to_json(&ms);
		FUZZ_CHECK(matchers_from_json(&from_json, j, err, sizeof err) == 0);
		bool m = matchers_match(&ms, labels);
		FUZZ_CHECK(matchers_match(&again, labels) == m);
		FUZZ_CHECK(matchers_match(&from_json, labels) == m);
		free(text);
		cJSON_Delete(j);
		cJSON_Delete(labels);
		matchers_free(&again);
		matchers_free(&from_json);
	}
	matchers_free(&ms);
	free(s);
	return 0;
}
