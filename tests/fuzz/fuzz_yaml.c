/* fuzz_yaml.c — the YAML config loader (yaml_load_string): anchors,
 * aliases, merge keys, tags, nesting limits. Never undefined behaviour or a
 * leak; a failure is always reported, a success is a mapping. */
#include "fuzz.h"
#include "shipshape/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d = {.silent = true};
	struct cfg_node *root = yaml_load_string("fuzz.yaml", (const char *)data, size, &d);
	if (!root) {
		FUZZ_CHECK(d.errors > 0);
		return 0;
	}
	FUZZ_CHECK(root->type == CFG_MAP);
	cJSON *doc = cfg_to_json(root);
	char *text = cJSON_PrintUnformatted(doc);
	FUZZ_CHECK(text != NULL);
	free(text);
	cJSON_Delete(doc);
	struct cfg_node *copy = cfg_copy(root);
	cfg_node_free(cfg_merge(root, copy));
	return 0;
}
