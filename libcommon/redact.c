/* redact.c — masking secrets: registered values, URL passwords, secret-named
 * query parameters. */
#include "shipshape/redact.h"
#include "shipshape/common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char **secrets;
static size_t n_secrets, cap_secrets;

void redact_register(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return;
	for (size_t i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i], secret) == 0)
			return;
	if (n_secrets == cap_secrets) {
		cap_secrets = cap_secrets ? cap_secrets * 2 : 16;
		secrets = erealloc(secrets, cap_secrets * sizeof *secrets);
	}
	/* Longest first, so that a secret containing another is masked whole. */
	char *copy = estrdup(secret);
	size_t i = n_secrets++;
	while (i > 0 && strlen(secrets[i - 1]) < strlen(copy)) {
		secrets[i] = secrets[i - 1];
		i--;
	}
	secrets[i] = copy;
}

void redact_clear(void)
{
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	n_secrets = cap_secrets = 0;
}

bool redact_key_looks_secret(const char *key)
{
	static const char *const words[] = {"password", "passwd", "secret", "token",
					    "api_key", "apikey", "private_key", "webhook_url",
					    "credential", "auth_header"};
	if (!key)
		return false;
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strcasestr(key, words[i]))
			return true;
	size_t n = strlen(key);
	return (n >= 4 && strcasecmp(key + n - 4, "_key") == 0) || strcasecmp(key, "key") == 0;
}

/* Masks "scheme://user:PASSWORD@host" in place of every URL in s. A
 * password should be percent-encoded, but operators paste raw ones holding
 * '@', '/', '?' or '#': so the password runs from the first ':' of the
 * authority to the last '@' of the URL. Where an '@' also sits in the path
 * of a URL with a port, that masks a little too much, which is better than
 * printing part of a password. */
static void mask_url_passwords(struct buf *out, const char *s)
{
	const char *p = s;
	while (*p) {
		const char *sep = strstr(p, "://");
		if (!sep) {
			buf_puts(out, p);
			return;
		}
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
			buf_append(out, p, (size_t)(colon + 1 - p));
			buf_puts(out, REDACTED);
			p = at;
		} else {
			buf_append(out, p, (size_t)(auth - p));
			p = auth;
		}
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
	buf_puts(&a, s);
	for (size_t i = 0; i < n_secrets; i++) {
		const char *hit = strstr(a.data, secrets[i]);
		if (!hit)
			continue;
		size_t len = strlen(secrets[i]);
		const char *p = a.data;
		b.len = 0;
		buf_append(&b, "", 0);
		while ((hit = strstr(p, secrets[i]))) {
			buf_append(&b, p, (size_t)(hit - p));
			buf_puts(&b, REDACTED);
			p = hit + len;
		}
		buf_puts(&b, p);
		struct buf t = a;
		a = b;
		b = t;
	}
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
	char *raw = NULL;
	if (vasprintf(&raw, fmt, ap) < 0)
		return estrdup(fmt);
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
	const char *p = url ? strstr(url, "://") : NULL;
	p = p ? p + 3 : (url ? url : "");
	size_t span = strcspn(p, "/?#");
	const char *at = memchr(p, '@', span);
	if (at) {
		span -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	return estrndup(p, span);
}
