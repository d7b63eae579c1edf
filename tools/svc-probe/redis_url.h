/* redis_url.h — a redis:// or rediss:// URL taken apart for the Redis probe
 * (svc-probe(1), REDIS PROBES):
 *
 *   redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 *
 * rediss is TLS; the port defaults to 6379 and the database to none (0,
 * no SELECT); ":PASSWORD@" is AUTH PASSWORD and "USER:PASSWORD@" AUTH USER
 * PASSWORD (an ACL user); both are percent-decoded, and the user
 * information runs to the URL's last '@', so a pasted password may hold
 * '@', '/', '?' or '#' (as url.h reads it). No query or fragment.
 *
 * Ownership: redis_url_parse() fills u with new strings that
 * redis_url_free() frees (the password's bytes cleared first); on failure
 * u holds nothing and err says why, never quoting the URL (it may hold the
 * password). Nothing here exits or prints. */
#ifndef SVC_PROBE_REDIS_URL_H
#define SVC_PROBE_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

#define REDIS_DB_MAX 1000000
#define REDIS_DB_MAX_TEXT "1000000"

struct redis_url {
	bool tls;         /* rediss:// */
	char *host;       /* IPv6 without brackets */
	int port;
	char *user;       /* NULL: none */
	char *password;   /* NULL: none */
	long db;
	bool has_db;      /* a /DB was given */
};

/* True when s starts with redis:// or rediss:// (any case). */
bool redis_url_is(const char *s);
/* 0, or -1 with err. */
int redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errsize);
void redis_url_free(struct redis_url *u);

#endif
