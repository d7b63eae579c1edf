/* url.c — URL parsing, joining and printing over libcurl's URL API; in base/
 * because redact.c needs a URL's host and base may not call into http/. */
#include "shipshape/url.h"
#include "shipshape/common.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_FLAGS (CURLU_NON_SUPPORT_SCHEME)

/* s with the raw '@', '/', '?', '#' of its user information
 * percent-encoded, the user information running from after "scheme://" to
 * the last '@' of s: what an operator meant by a pasted password. NULL when
 * s has no "://" or no '@' after it. */
static char *encode_raw_userinfo(const char *s)
{
	const char *sep = strstr(s, "://"), *at = strrchr(s, '@');
	if (!sep || !at || at < sep + 3)
		return NULL;
	struct buf b = {0};
	buf_append(&b, s, (size_t)(sep + 3 - s));
	for (const char *p = sep + 3; p < at; p++) {
		if (strchr("@/?#", *p))
			buf_printf(&b, "%%%02X", (unsigned char)*p);
		else
			buf_putc(&b, *p);
	}
	buf_puts(&b, at);
	return buf_take(&b);
}

/* One part of u as a new string (malloc'd, not curl's), or NULL when u has
 * no such part: the one way this file reads a part. */
static char *url_part(CURLU *u, CURLUPart what, unsigned flags)
{
	char *v = NULL;
	if (curl_url_get(u, what, &v, flags) != CURLUE_OK || !v)
		return NULL;
	char *copy = estrdup(v);
	curl_free(v);
	return copy;
}

/* A parsed handle for s, or NULL when s is not a URL. */
static CURLU *url_open(const char *s)
{
	if (!s)
		return NULL;
	CURLU *u = curl_url();
	if (!u)
		out_of_memory();
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, s, URL_FLAGS);
	/* A raw password: the strict reading fails, or holds a password while
	 * another '@' follows (the password may be all of "p@ss/w0rd"). */
	char *pw = rc == CURLUE_OK ? url_part(u, CURLUPART_PASSWORD, 0) : NULL;
	bool raw = rc != CURLUE_OK || (pw && strchr(s, '@') != strrchr(s, '@'));
	free(pw);
	if (raw) {
		char *lenient = encode_raw_userinfo(s);
		if (lenient && curl_url_set(u, CURLUPART_URL, lenient, URL_FLAGS) == CURLUE_OK)
			rc = CURLUE_OK;
		free(lenient);
	}
	if (rc != CURLUE_OK) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

static char *lower(char *s)
{
	for (char *p = s; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* The URL of u with its path ending in exactly one '/'. */
static int path_as_directory(CURLU *u)
{
	char *path = url_part(u, CURLUPART_PATH, 0);
	size_t n = path ? strlen(path) : 0;
	while (n && path[n - 1] == '/')
		n--;
	char *dir = easprintf("%.*s/", (int)n, path ? path : "");
	int rc = curl_url_set(u, CURLUPART_PATH, dir, 0) == CURLUE_OK ? 0 : -1;
	curl_url_set(u, CURLUPART_QUERY, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	free(dir);
	free(path);
	return rc;
}

char *url_join_path(const char *base, const char *ref)
{
	CURLU *u = url_open(base);
	if (!u)
		return NULL;
	char *out = NULL;
	if (path_as_directory(u) < 0)
		goto out;
	while (ref && *ref == '/')
		ref++;
	if (!ref || !*ref) {
		/* the directory form without its final '/' */
		char *dir = url_part(u, CURLUPART_PATH, 0);
		dir[strlen(dir) - 1] = '\0';
		if (curl_url_set(u, CURLUPART_PATH, *dir ? dir : "/", 0) == CURLUE_OK)
			out = url_part(u, CURLUPART_URL, 0);
		size_t n = out ? strlen(out) : 0;
		if (!*dir && n && out[n - 1] == '/')
			out[n - 1] = '\0';
		free(dir);
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, ref, URL_FLAGS) == CURLUE_OK)
		out = url_part(u, CURLUPART_URL, 0);
out:
	curl_url_cleanup(u);
	return out;
}

/* "host[:port]" of u, the port as url_part() gives it with port_flags;
 * NULL when u has no host. */
static char *host_port(CURLU *u, unsigned port_flags)
{
	char *host = url_part(u, CURLUPART_HOST, 0), *port = url_part(u, CURLUPART_PORT, port_flags);
	char *out = host && *host ? easprintf("%s%s%s", host, port ? ":" : "", port ? port : "") : NULL;
	free(host);
	free(port);
	return out;
}

/* "scheme://host[:port]" of u (host_port()), or NULL. */
static char *origin_of(CURLU *u, unsigned port_flags)
{
	char *scheme = url_part(u, CURLUPART_SCHEME, 0), *hostport = host_port(u, port_flags);
	char *out = scheme && hostport ? easprintf("%s://%s", scheme, hostport) : NULL;
	free(scheme);
	free(hostport);
	return out;
}

char *url_origin(const char *url)
{
	CURLU *u = url_open(url);
	if (!u)
		return NULL;
	char *out = origin_of(u, CURLU_NO_DEFAULT_PORT);
	curl_url_cleanup(u);
	return lower(out);
}

char *url_hostport(const char *url)
{
	CURLU *u = url_open(url);
	if (!u)
		return NULL;
	char *out = host_port(u, 0);
	curl_url_cleanup(u);
	return out;
}

char *url_hostname(const char *url)
{
	CURLU *u = url_open(url);
	if (!u)
		return NULL;
	char *host = url_part(u, CURLUPART_HOST, 0);
	curl_url_cleanup(u);
	if (!host || !*host) {
		free(host);
		return NULL;
	}
	size_t n = strlen(host);
	if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	return lower(host);
}

bool url_is_origin(const char *url)
{
	CURLU *u = url_open(url);
	if (!u)
		return false;
	char *origin = origin_of(u, 0);
	bool same = origin && strcasecmp(origin, url) == 0;
	free(origin);
	curl_url_cleanup(u);
	return same;
}

char *url_path(const char *url, bool with_query)
{
	CURLU *u = url_open(url);
	if (!u)
		return NULL;
	char *path = url_part(u, CURLUPART_PATH, 0);
	char *query = with_query ? url_part(u, CURLUPART_QUERY, 0) : NULL;
	curl_url_cleanup(u);
	char *out = easprintf("%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
	free(path);
	free(query);
	return out;
}

char *url_username(const char *url)
{
	CURLU *u = url_open(url);
	if (!u)
		return NULL;
	char *user = url_part(u, CURLUPART_USER, CURLU_URLDECODE);
	curl_url_cleanup(u);
	return user ? user : estrdup("");
}
