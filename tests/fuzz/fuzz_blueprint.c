/* fuzz_blueprint.c — cfg-resolve's Render Blueprint checks
 * (tools/cfg-resolve/blueprint.c, built in here) on any YAML document
 * against a fixed config: never undefined behaviour or a leak; a document
 * that loads always gets its checks, one that does not has an error. */
#include "fuzz.h"
#include "../../tools/cfg-resolve/blueprint.c"
#include "../../tools/cfg-resolve/vars.c"

static cJSON *doc;
static struct var_list vars;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	doc = cJSON_Parse("{\"service\":{\"name\":\"api\"},\"api\":{\"health_path\":\"/health\"},"
			  "\"scaling\":{\"min_instances\":2,\"max_instances\":10,\"scale_up_threshold\":70},"
			  "\"database\":{\"migrations\":{\"table\":\"m\"}}}");
	static const struct {
		const char *name;
		bool required, secret;
	} v[] = {{"DATABASE_URL", true, true}, {"API_URL", true, false}, {"OPTIONAL_TOKEN", false, true}};
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct var_info *e = var_entry(&vars, v[i].name, strlen(v[i].name));
		e->required = v[i].required;
		e->secret = v[i].secret;
	}
	qsort(vars.v, vars.n, sizeof *vars.v, var_cmp);
	if (!doc)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d = {.silent = true};
	struct cfg_node *bp = yaml_load_string("render.yaml", (const char *)data, size, &d);
	if (!bp) {
		FUZZ_CHECK(d.errors > 0);
		return 0;
	}
	struct report *r = report_new("cfg-resolve");
	blueprint_check(r, bp, doc, &vars);
	/* the shape and the service at least; all seven with the service */
	FUZZ_CHECK(report_check_count(r) == 2 + 5);
	report_free(r);
	cfg_node_free(bp);
	return 0;
}
