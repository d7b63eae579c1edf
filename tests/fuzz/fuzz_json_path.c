/* fuzz_json_path.c — JSON-path look-ups and json_parse_text: input
 * "PATH<TAB>JSON" (a PATH alone is looked up in a fixed document). */
#include "fuzz.h"
#include "shipshape/json.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	char *tab = strchr(s, '\t');
	const char *text = tab ? tab + 1 : "{\"a\":{\"b\":[{\"c\":\"x\"},{\"d\":\"30s\",\"e\":15}]},\"f\":true}";
	if (tab)
		*tab = '\0';
	char err[128];
	cJSON *doc = json_parse_text(text, strlen(text), err, sizeof err);
	if (doc) {
		(void)json_path(doc, s);
		(void)json_path_string(doc, s, NULL);
		(void)json_path_number(doc, s, 0);
		(void)json_path_bool(doc, s, false);
		int64_t ms = json_path_duration_ms(doc, s, 7);
		FUZZ_CHECK(ms >= -1);
		(void)json_kind(doc);
		cJSON_Delete(doc);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	free(s);
	return 0;
}
