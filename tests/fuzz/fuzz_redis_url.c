/* fuzz_redis_url.c — svc-probe's reader of redis:// and rediss:// URLs
 * (tools/svc-probe/redis_url.c, built in here): never undefined behaviour
 * or a leak; a parsed URL holds what the probe relies on, and a refusal
 * says why without quoting the URL. */
#include "fuzz.h"
#include "../../tools/svc-probe/redis_url.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	struct redis_url u;
	char err[256];
	if (redis_url_parse(s, &u, err, sizeof err) == 0) {
		FUZZ_CHECK(redis_url_is(s));
		FUZZ_CHECK(u.host && *u.host);
		FUZZ_CHECK(u.port >= 1 && u.port <= 65535);
		FUZZ_CHECK(u.db >= 0 && u.db <= REDIS_DB_MAX);
		FUZZ_CHECK(u.has_db || u.db == 0);
		FUZZ_CHECK(!u.user || *u.user);
		FUZZ_CHECK(!u.password || *u.password);
		/* the credentials are never part of the host */
		FUZZ_CHECK(!strchr(u.host, '@') && !strchr(u.host, '/'));
		redis_url_free(&u);
	} else {
		FUZZ_CHECK(err[0] != '\0');
		/* the messages are fixed text, shorter than this */
		FUZZ_CHECK(strlen(s) < 100 || !strstr(err, s));
	}
	free(s);
	return 0;
}
