/* fuzz_tmpl.c — the template expander (Compose interpolation): the input
 * is one string value; strict when its first byte is odd, secret when its
 * second is. A few variables are set, some empty. Never undefined behaviour
 * or a leak; NULL only with an error reported. */
#include "fuzz.h"
#include "shipshape/config.h"

static struct env_store vars;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	env_store_init(&vars);
	vars.use_environ = false;
	struct cfg_loc loc = {.file = cfg_intern(".env"), .line = 1, .col = 1};
	env_store_set(&vars, "SET", "value", loc);
	env_store_set(&vars, "EMPTY", "", loc);
	env_store_set(&vars, "NESTED", "${SET}", loc);
	env_store_set(&vars, "DOLLAR", "$$", loc);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	struct diag d = {.silent = true};
	struct tmpl_ctx c = {.env = &vars, .strict = size > 0 && (data[0] & 1), .diag = &d,
			     .file = "fuzz.yaml", .secret = size > 1 && (data[1] & 1), .line = 1, .col = 1};
	char *out = tmpl_expand(s, &c);
	if (!out)
		FUZZ_CHECK(d.errors > 0);
	free(out);
	free(c.origin);
	free(s);
	return 0;
}
