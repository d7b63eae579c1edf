/* redact.c — masking secrets: registered values, URL passwords, secret-named
 * query parameters. */
#include "shipshape/redact.h"
#include "shipshape/url.h"
#include "shipshape/common.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The registered secrets, and two tables over them: a set, so that
 * registering n secrets costs n, and buckets by their first 4 bytes, so
 * that masking a string costs its length, not its length times the number
 * of secrets (a config of 100,000 secret-named keys must not hang).
 * Probes mask their messages from worker threads (svc-probe's TCP probes)
 * while the main thread masks its own: masking only reads the tables, under
 * a read lock; registering and clearing write them under the write lock,
 * and the buckets are kept up to date as each secret comes, never rebuilt
 * by a reader. */
#define SECRET_MIN 4

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static char **secrets;
static size_t n_secrets, cap_secrets;
static char **set;            /* open addressing, at most half full */
static size_t set_cap;
static size_t *bucket_head;   /* index + 1 of a bucket's first secret, 0: none */
static size_t *bucket_next;   /* per secret (cap_secrets of them): index + 1 of the next in its bucket */
static size_t bucket_cap;     /* a power of two, at least twice n_secrets; 0: none yet */

static size_t bytes_hash(const char *s, size_t n)
{
	size_t h = (size_t)14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * (size_t)1099511628211ull;
	return h;
}

static char **set_slot(char **slots, size_t cap, const char *s)
{
	size_t k = bytes_hash(s, strlen(s)) & (cap - 1);
	while (slots[k] && strcmp(slots[k], s) != 0)
		k = (k + 1) & (cap - 1);
	return &slots[k];
}

static void bucket_add(size_t i)
{
	size_t k = bytes_hash(secrets[i], SECRET_MIN) & (bucket_cap - 1);
	bucket_next[i] = bucket_head[k];
	bucket_head[k] = i + 1;
}

/* The buckets anew, for more secrets than the table was sized for. */
static void build_buckets(void)
{
	free(bucket_head);
	bucket_cap = 64;
	while (bucket_cap < 2 * n_secrets)
		bucket_cap *= 2;
	bucket_head = ecalloc(bucket_cap, sizeof *bucket_head);
	for (size_t i = n_secrets; i-- > 0;)
		bucket_add(i);
}

static void register_locked(const char *secret)
{
	if ((n_secrets + 1) * 2 > set_cap) {
		size_t cap = set_cap ? set_cap * 2 : 64;
		char **slots = ecalloc(cap, sizeof *slots);
		for (size_t i = 0; i < set_cap; i++)
			if (set[i])
				*set_slot(slots, cap, set[i]) = set[i];
		free(set);
		set = slots;
		set_cap = cap;
	}
	char **slot = set_slot(set, set_cap, secret);
	if (*slot)
		return;
	if (n_secrets == cap_secrets) {
		cap_secrets = cap_secrets ? cap_secrets * 2 : 16;
		secrets = erealloc(secrets, cap_secrets * sizeof *secrets);
		bucket_next = erealloc(bucket_next, cap_secrets * sizeof *bucket_next);
	}
	*slot = secrets[n_secrets++] = estrdup(secret);
	if (2 * n_secrets > bucket_cap)
		build_buckets();
	else
		bucket_add(n_secrets - 1);
}

void redact_register(const char *secret)
{
	if (!secret || strlen(secret) < SECRET_MIN)
		return;
	pthread_rwlock_wrlock(&lock);
	register_locked(secret);
	pthread_rwlock_unlock(&lock);
}

void redact_clear(void)
{
	pthread_rwlock_wrlock(&lock);
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	free(secrets);
	free(set);
	free(bucket_head);
	free(bucket_next);
	secrets = set = NULL;
	bucket_head = bucket_next = NULL;
	n_secrets = cap_secrets = set_cap = bucket_cap = 0;
	pthread_rwlock_unlock(&lock);
}

/* Replaces every occurrence of every registered secret with "***". Where
 * occurrences overlap (a secret inside a longer one, or two that share
 * bytes) their union is masked as one, so no part of either shows. */
static void mask_locked(struct buf *out, const char *s, size_t len)
{
	size_t cover_end = 0; /* the masked run reaches up to here */
	for (size_t p = 0; p < len; p++) {
		if (p + SECRET_MIN <= len) {
			size_t k = bytes_hash(s + p, SECRET_MIN) & (bucket_cap - 1);
			for (size_t i = bucket_head[k]; i; i = bucket_next[i - 1]) {
				const char *x = secrets[i - 1];
				size_t n = strlen(x);
				if (n <= len - p && memcmp(s + p, x, n) == 0 && p + n > cover_end) {
					if (p >= cover_end)
						buf_puts(out, REDACTED);
					cover_end = p + n;
				}
			}
		}
		if (p >= cover_end)
			buf_putc(out, s[p]);
	}
}

static void mask_registered(struct buf *out, const char *s)
{
	size_t len = strlen(s);
	pthread_rwlock_rdlock(&lock);
	if (n_secrets && len >= SECRET_MIN)
		mask_locked(out, s, len);
	else
		buf_puts(out, s);
	pthread_rwlock_unlock(&lock);
}

bool redact_contains_secret(const char *s)
{
	if (!s || strlen(s) < SECRET_MIN)
		return false;
	struct buf masked = {0};
	mask_registered(&masked, s);
	bool found = masked.len != strlen(s) || memcmp(masked.data, s, masked.len) != 0;
	buf_free(&masked);
	return found;
}

bool redact_key_looks_secret(const char *key)
{
	static const char *const words[] = {"password", "passwd", "secret", "token",
					    "api_key", "apikey", "private_key", "webhook_url",
					    "credential", "auth_header"};
	if (!key)
		return false;
	/* Lower-case once, then plain strstr: strcasestr per word was a fifth
	 * of cfg-resolve's work. Keys longer than the buffer are still judged,
	 * on their first 255 bytes and their real ending. */
	char lower[256];
	size_t n = strlen(key), i;
	for (i = 0; i < n && i < sizeof lower - 1; i++)
		lower[i] = (char)tolower((unsigned char)key[i]);
	lower[i] = '\0';
	for (size_t w = 0; w < ARRAY_LEN(words); w++)
		if (strstr(lower, words[w]))
			return true;
	return (n >= 4 && strcasecmp(key + n - 4, "_key") == 0) || strcasecmp(key, "key") == 0;
}

/* Finds the next "scheme://user:PASSWORD@host" in p: sets [*pw, *pw_end) to
 * the password and returns true, or returns false when p holds no more. A
 * password should be percent-encoded, but operators paste raw ones holding
 * '@', '/', '?' or '#': so the password runs from the first ':' of the
 * authority to the last '@' of the URL. Where an '@' also sits in the path
 * of a URL with a port, that takes a little too much, which is better than
 * printing part of a password. *resume is where the search goes on. */
static bool next_url_password(const char *p, const char **pw, const char **pw_end, const char **resume)
{
	const char *sep;
	while ((sep = strstr(p, "://"))) {
		const char *auth = sep + 3;
		const char *url_end = auth + strcspn(auth, " \t\r\n\"'<>");
		const char *auth_end = auth + strcspn(auth, "/?#");
		const char *at = NULL;
		for (const char *q = auth; q < url_end; q++)
			if (*q == '@')
				at = q;
		const char *colon_end = at && at < auth_end ? at : auth_end;
		const char *colon = at && colon_end > auth ? memchr(auth, ':', (size_t)(colon_end - auth)) : NULL;
		if (colon && colon + 1 < at) {
			*pw = colon + 1;
			*pw_end = at;
			*resume = at;
			return true;
		}
		p = auth;
	}
	return false;
}

/* Masks the password of every URL in s. */
static void mask_url_passwords(struct buf *out, const char *s)
{
	const char *p = s, *pw, *pw_end, *resume;
	while (next_url_password(p, &pw, &pw_end, &resume)) {
		buf_append(out, p, (size_t)(pw - p));
		buf_puts(out, REDACTED);
		p = resume;
	}
	buf_puts(out, p);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void redact_register_url_passwords(const char *s)
{
	const char *p = s ? s : "", *pw, *pw_end, *resume;
	while (next_url_password(p, &pw, &pw_end, &resume)) {
		char *raw = estrndup(pw, (size_t)(pw_end - pw));
		redact_register(raw);
		/* the password as a server or a driver would print it */
		char *decoded = emalloc(strlen(raw) + 1), *d = decoded;
		for (const char *q = raw; *q; q++) {
			int hi, lo;
			if (*q == '%' && (hi = hex_digit(q[1])) >= 0 && (lo = hex_digit(q[2])) >= 0) {
				*d++ = (char)(hi * 16 + lo);
				q += 2;
			} else {
				*d++ = *q;
			}
		}
		*d = '\0';
		redact_register(decoded);
		free(decoded);
		free(raw);
		p = resume;
	}
}

/* Masks the values of query parameters whose names look secret. */
static void mask_query_secrets(struct buf *out, const char *s)
{
	const char *p = s;
	while (*p) {
		const char *eq = strchr(p, '=');
		if (!eq) {
			buf_puts(out, p);
			return;
		}
		const char *name = eq;
		while (name > p && (isalnum((unsigned char)name[-1]) || name[-1] == '_' || name[-1] == '-'))
			name--;
		bool query = name > s && (name[-1] == '?' || name[-1] == '&');
		char key[64] = "";
		size_t klen = (size_t)(eq - name);
		if (klen < sizeof key)
			memcpy(key, name, klen), key[klen] = '\0';
		buf_append(out, p, (size_t)(eq + 1 - p));
		p = eq + 1;
		if (query && redact_key_looks_secret(key)) {
			size_t vlen = strcspn(p, "&# \t\r\n\"'");
			if (vlen) {
				buf_puts(out, REDACTED);
				p += vlen;
			}
		}
	}
}

char *redact_string(const char *s)
{
	if (!s)
		return estrdup("");
	struct buf a = {0}, b = {0};
	mask_registered(&a, s);
	buf_append(&a, "", 0);
	b.len = 0;
	buf_append(&b, "", 0);
	mask_url_passwords(&b, a.data);
	a.len = 0;
	buf_append(&a, "", 0);
	mask_query_secrets(&a, b.data);
	buf_free(&b);
	return buf_take(&a);
}

char *redact_vformat(const char *fmt, va_list ap)
{
	char *raw = evasprintf(fmt, ap);
	char *clean = redact_string(raw);
	free(raw);
	return clean;
}

char *redact_url(const char *url)
{
	return redact_string(url);
}

char *url_host(const char *url)
{
	char *host = url_hostport(url);
	return host ? host : estrdup("");
}
