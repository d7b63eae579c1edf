/* url.h — URLs parsed, joined and printed through libcurl's URL API
 * (curl_url): the one place the suite takes a URL apart.
 *
 * Lives in libcommon/base/ (url.c) because redaction (base/redact.c) names a
 * URL's host, and base must not call into http/; every folder above base
 * (config, http, deploy, alert) and every tool may call it.
 *
 * Ownership: every function returning char * hands the caller a new string
 * (free()); NULL means the input is not a URL (or has no such part). Nothing
 * here exits except the e* allocators on out of memory.
 *
 * Accepted: an absolute URL with a scheme (any scheme: https, postgresql,
 * redis, smtps, ...). Operators paste passwords raw, holding '@', '/', '?'
 * or '#': a URL that does not parse otherwise, or that has a password and
 * another '@' after it, is read with the user information running to its
 * last '@' (as redact.c masks it): "postgresql://app:p@ss@db/x" has host "db"
 * and "smtps://a:p@ss/w0rd@mx:465" host "mx". */
#ifndef SHIPSHAPE_URL_H
#define SHIPSHAPE_URL_H

#include <stdbool.h>

/* base with ref appended as a path below it: "https://h/api/" + "/health"
 * is "https://h/api/health" (leading slashes of ref and trailing ones of
 * base's path are one '/'); a query or fragment in ref is kept, base's is
 * dropped. An empty or NULL ref gives base without trailing slashes; a ref
 * with a scheme replaces base. NULL when base or the result is not a URL. */
char *url_join_path(const char *base, const char *ref);

/* "scheme://host[:port]" (lower-case scheme and host; the port only when
 * given and not the scheme's default). */
char *url_origin(const char *url);
/* "host[:port]" as written in the URL (an IPv6 literal keeps its brackets),
 * no user information: for naming a destination. */
char *url_hostport(const char *url);
/* The host alone, lower-case, an IPv6 literal without brackets ("::1").
 * NULL when url is not a URL or has no host. */
char *url_hostname(const char *url);
/* True when url is exactly an origin, "scheme://host[:port]" (any case): no
 * user information, path (not even "/"), query or fragment. */
bool url_is_origin(const char *url);
/* The path as libcurl reads it ("/" when the URL has none), and with
 * with_query its "?query"; never the fragment. NULL when url is not a URL. */
char *url_path(const char *url, bool with_query);
/* The user name, percent-decoded; "" when the URL names none. A URL shown
 * with its password masked is redact_url()'s (redact.h). */
char *url_username(const char *url);

#endif
