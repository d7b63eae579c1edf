/* redis_url.c — reading a redis:// or rediss:// URL into what the Redis
 * probe needs: host, port, TLS, the AUTH credentials and the database.
 * Kept apart from the probe (no sockets, no exits) so that a fuzz target
 * builds it in alone (tests/fuzz/fuzz_redis_url.c). */
#include "redis_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool redis_url_is(const char *s)
{
	return s && (strncasecmp(s, "redis://", 8) == 0 || strncasecmp(s, "rediss://", 9) == 0);
}

void redis_url_free(struct redis_url *u)
{
	free(u->host);
	free(u->user);
	if (u->password)
		memset(u->password, 0, strlen(u->password));
	free(u->password);
	memset(u, 0, sizeof *u);
}

/* s[0..n) with %HH decoded (a '%' not followed by two hex digits stays),
 * a new string; NULL when it would hold a NUL. */
static char *percent_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], 0};
			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	if (strlen(out) != o) {
		free(out);
		return NULL;
	}
	return out;
}

static int fail(char *err, size_t errsize, const char *msg)
{
	snprintf(err, errsize, "%s", msg);
	return -1;
}

/* The user information, before the authority's last '@' (a raw '@' or '/'
 * in a pasted password is the password's, as url.h reads it):
 * "user:password", ":password" or "user". */
static int parse_userinfo(struct redis_url *u, const char *s, size_t n, char *err, size_t errsize)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;
	if (!(u->user = percent_decode(s, ulen)))
		return fail(err, errsize, "the user name holds an encoded NUL");
	if (colon) {
		if (!(u->password = percent_decode(colon + 1, n - ulen - 1)))
			return fail(err, errsize, "the password holds an encoded NUL");
	}
	if (!*u->user) {
		free(u->user);
		u->user = NULL;
	}
	if (u->password && !*u->password) {
		free(u->password);
		u->password = NULL;
	}
	return 0;
}

/* "host", "host:port", "[v6]" or "[v6]:port". */
static int parse_hostport(struct redis_url *u, const char *s, size_t n, char *err, size_t errsize)
{
	const char *port = NULL, *end = s + n;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close == s + 1)
			return fail(err, errsize, "invalid IPv6 address (expected [ADDRESS])");
		u->host = strndup(s + 1, (size_t)(close - s - 1));
		if (close + 1 < end && close[1] != ':')
			return fail(err, errsize, "invalid text after the IPv6 address");
		port = close + 1 < end ? close + 2 : NULL;
	} else {
		const char *colon = memchr(s, ':', n);
		u->host = strndup(s, colon ? (size_t)(colon - s) : n);
		port = colon ? colon + 1 : NULL;
	}
	if (!u->host)
		return fail(err, errsize, "out of memory");
	if (!*u->host)
		return fail(err, errsize, "no host (expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB])");
	for (const char *h = u->host; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-_:%", *h))
			return fail(err, errsize, "invalid character in the host");
	u->port = 6379;
	if (!port)
		return 0;
	long v = 0;
	const char *p = port;
	for (; p < end && isdigit((unsigned char)*p) && v <= 65535; p++)
		v = v * 10 + (*p - '0');
	if (p == port || p != end || v < 1 || v > 65535)
		return fail(err, errsize, "invalid port (expected 1 to 65535)");
	u->port = (int)v;
	return 0;
}

/* "", "/" or "/N": the database number. */
static int parse_db(struct redis_url *u, const char *s, char *err, size_t errsize)
{
	if (!*s || strcmp(s, "/") == 0)
		return 0;
	const char *p = s + 1;
	long v = 0;
	for (; isdigit((unsigned char)*p) && v <= REDIS_DB_MAX; p++)
		v = v * 10 + (*p - '0');
	if (p == s + 1 || v > REDIS_DB_MAX || (*p && strcmp(p, "/") != 0)) {
		if (strpbrk(s, "?#"))
			return fail(err, errsize, "a query or fragment is not taken (the URL ends with /DB)");
		return fail(err, errsize, "invalid database (expected /0 to /" REDIS_DB_MAX_TEXT ")");
	}
	u->db = v;
	u->has_db = true;
	return 0;
}

int redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errsize)
{
	memset(u, 0, sizeof *u);
	if (!redis_url_is(url))
		return fail(err, errsize, "not a redis:// or rediss:// URL");
	u->tls = tolower((unsigned char)url[5]) == 's';
	const char *auth = url + (u->tls ? 9 : 8);
	/* The authority ends at the first '/', '?' or '#' after its last '@'. */
	const char *at = strrchr(auth, '@');
	const char *hp = at ? at + 1 : auth;
	size_t hlen = strcspn(hp, "/?#");
	int rc = 0;
	if (at)
		rc = parse_userinfo(u, auth, (size_t)(at - auth), err, errsize);
	if (rc == 0)
		rc = parse_hostport(u, hp, hlen, err, errsize);
	if (rc == 0)
		rc = parse_db(u, hp + hlen, err, errsize);
	if (rc < 0)
		redis_url_free(u);
	return rc;
}
