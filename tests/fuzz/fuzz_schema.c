/* fuzz_schema.c — schema validation: a config (the input, as YAML) checked
 * and coerced by the project's schema, config/schema.yaml, strictly when
 * the input's first byte is odd. Never undefined behaviour or a leak. */
#include "fuzz.h"
#include "shipshape/config.h"
#include "shipshape/redact.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

static struct schema *schema;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	struct diag d = {0};
	schema = schema_load(FUZZ_SRCDIR "/config/schema.yaml", &d);
	if (!schema)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d = {.silent = true};
	struct cfg_node *root = yaml_load_string("fuzz.yaml", (const char *)data, size, &d);
	if (!root)
		return 0;
	bool strict = size && (data[0] & 1);
	schema_mark_secrets(schema, root);
	unsigned errors = schema_apply_sections(schema, root, NULL, strict, &d);
	FUZZ_CHECK(errors == 0 || d.errors > 0);
	cJSON *doc = cfg_to_json(root);
	cJSON_Delete(doc);
	cfg_node_free(root);
	redact_clear(); /* schema_apply registers each secret it meets */
	return 0;
}
