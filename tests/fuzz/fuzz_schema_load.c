/* fuzz_schema_load.c — the schema file loader (schema_load): the input is
 * a schema file, then applied to a small config. Never undefined behaviour
 * or a leak; a refused schema is always reported. */
#include "fuzz.h"
#include "shipshape/config.h"
#include "shipshape/redact.h"

static const char config[] = "environment: production\nservice: {name: api, port: \"8000\"}\n"
			     "database: {url: \"postgresql://u:p@127.0.0.1/db\", pool_size: 5}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[FUZZ_PATH_SIZE];
	int fd = fuzz_file(data, size, path);
	struct diag d = {.silent = true};
	struct schema *s = schema_load(path, &d);
	close(fd);
	if (!s) {
		FUZZ_CHECK(d.errors > 0);
		return 0;
	}
	struct cfg_node *root = yaml_load_string("cfg.yaml", config, sizeof config - 1, &d);
	FUZZ_CHECK(root != NULL);
	schema_mark_secrets(s, root);
	(void)schema_apply_sections(s, root, NULL, false, &d);
	cfg_node_free(root);
	schema_free(s);
	redact_clear();
	return 0;
}
