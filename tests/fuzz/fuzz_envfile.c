/* fuzz_envfile.c — the .env file parser (Docker Compose rules): quotes,
 * escapes, multi-line values, templates against earlier variables. Never
 * undefined behaviour or a leak; a failure is always reported. */
#include "fuzz.h"
#include "shipshape/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[FUZZ_PATH_SIZE];
	int fd = fuzz_file(data, size, path);
	struct env_store e;
	env_store_init(&e);
	e.use_environ = false;
	struct diag d = {.silent = true};
	if (envfile_load(&e, path, &d) < 0)
		FUZZ_CHECK(d.errors > 0);
	for (size_t i = 0; i < e.n; i++) {
		char *origin = NULL;
		FUZZ_CHECK(env_store_get(&e, e.v[i].name, &origin) != NULL);
		free(origin);
	}
	env_store_free(&e);
	close(fd);
	return 0;
}
