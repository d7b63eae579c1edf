/* fuzz_tmpl.c — the template expander (Compose interpolation): the input
 * is one string value; strict when its first byte is odd, secret when its
 * second is. A few variables are set, some empty. Never undefined behaviour
 * or a leak; NULL only with an error reported. tmpl_scan on the same string:
 * each reference a name within it, and an invalid template there is one
 * for the expander too. */
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

struct scan_bounds {
	const char *start, *end;
};

static void check_ref(const struct tmpl_ref *ref, void *arg)
{
	const struct scan_bounds *b = arg;
	FUZZ_CHECK(ref->name_len > 0 && ref->name >= b->start && ref->name + ref->name_len <= b->end);
	FUZZ_CHECK(!ref->word_len || (ref->word >= b->start && ref->word + ref->word_len <= b->end));
	FUZZ_CHECK(ref->depth >= 0);
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
	struct diag scan_diag = {.silent = true};
	struct tmpl_ctx sc = {.diag = &scan_diag, .file = "fuzz.yaml", .line = 1, .col = 1};
	struct scan_bounds b = {s, s + strlen(s)};
	if (tmpl_scan(s, &sc, check_ref, &b) < 0)
		FUZZ_CHECK(!out && scan_diag.errors > 0);
	free(out);
	free(c.origin);
	free(s);
	return 0;
}
