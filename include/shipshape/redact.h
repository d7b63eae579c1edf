/* redact.h — keeping secrets out of every message, report and record.
 *
 * Tools register each secret value they load; every diagnostic printed by
 * common.h and every report message passes through redact_string(), which
 * replaces registered values with "***" and masks URL passwords. */
#ifndef SHIPSHAPE_REDACT_H
#define SHIPSHAPE_REDACT_H

#include <stdarg.h>
#include <stdbool.h>

#define REDACTED "***"

/* Remembers a secret value (copied). Values shorter than 4 bytes are not
 * registered: masking them would garble ordinary text. */
void redact_register(const char *secret);
/* Forgets every registered secret. No tool needs it: the unit tests and
 * fuzz targets do, loading many documents in one process. */
void redact_clear(void);
/* Registers the password of every URL with one in s ("scheme://user:PW@"),
 * as written and percent-decoded, so that a bare occurrence is masked too. */
void redact_register_url_passwords(const char *s);
/* True when s holds a registered secret. */
bool redact_contains_secret(const char *s);
/* A new string with every registered secret and URL password replaced. */
char *redact_string(const char *s);
/* vasprintf, then redact_string: a new string safe to print. */
char *redact_vformat(const char *fmt, va_list ap);

/* A new string: the URL with its password (and query-string tokens named
 * like secrets) replaced by "***". */
char *redact_url(const char *url);
/* A key name that by convention holds a secret: *password*, *secret*,
 * *token*, *_key, api_key, webhook_url, ... */
bool redact_key_looks_secret(const char *key);
/* The "host[:port]" of a URL (url_hostport() of url.h), for naming a
 * destination without its secrets; "" when url is not a URL. */
char *url_host(const char *url);

#endif
