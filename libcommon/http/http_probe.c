/* http_probe.c — the HTTP probe spec: built by hand, from flags, or from a
 * probe config object, so every tool reads probe config the same way. */
#include "shipshape/http.h"
#include "shipshape/common.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GROW(arr, n) ((arr) = erealloc((arr), ((n) + 1) * sizeof *(arr)))

void http_probe_init(struct http_probe *p)
{
	memset(p, 0, sizeof *p);
	p->tls_verify = true;
	p->redirects = HTTP_REDIRECT_NONE;
	p->max_redirects = 10;
}

void http_probe_free(struct http_probe *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->url);
	free(p->method);
	for (size_t i = 0; i < p->n_headers; i++)
		free(p->headers[i]);
	free(p->headers);
	free(p->body);
	free(p->status);
	for (size_t i = 0; i < p->n_body_contains; i++)
		free(p->body_contains[i]);
	free(p->body_contains);
	if (p->body_regex)
		regfree(&p->body_re);
	if (p->body_not_regex)
		regfree(&p->body_not_re);
	free(p->body_regex);
	free(p->body_not_regex);
	for (size_t i = 0; i < p->n_json; i++) {
		free(p->json[i].text);
		free(p->json[i].path);
		cJSON_Delete(p->json[i].value);
	}
	free(p->json);
	for (size_t i = 0; i < p->n_header_asserts; i++) {
		free(p->header_asserts[i].name);
		if (p->header_asserts[i].pattern)
			regfree(&p->header_asserts[i].re);
		free(p->header_asserts[i].pattern);
	}
	free(p->header_asserts);
	free(p->ca_file);
	free(p->sni);
	for (size_t i = 0; i < p->n_resolve; i++)
		free(p->resolve[i]);
	free(p->resolve);
	memset(p, 0, sizeof *p);
}

/* Header names whose values are credentials. */
bool http_header_is_secret(const char *name, size_t len)
{
	static const char *const names[] = {"authorization", "proxy-authorization", "cookie",
					    "set-cookie", "apikey", "x-api-key", "api-key"};
	char key[128];
	if (len >= sizeof key)
		len = sizeof key - 1;
	for (size_t i = 0; i < len; i++)
		key[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	key[len] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		size_t n = strlen(names[i]);
		if (n == len && strncasecmp(name, names[i], n) == 0)
			return true;
	}
	return redact_key_looks_secret(key) || strstr(key, "key") != NULL;
}

int http_probe_add_header(struct http_probe *p, const char *line, char *err, size_t errsize)
{
	const char *colon = strchr(line, ':');
	if (!colon || colon == line)
		return errf(err, errsize, "invalid header \"%.60s\" (expected \"Name: value\")", line);
	for (const char *c = line; c < colon; c++)
		if (!isgraph((unsigned char)*c))
			return errf(err, errsize, "invalid header name in \"%.60s\"", line);
	if (strpbrk(line, "\r\n"))
		return errf(err, errsize, "header contains a line break");
	size_t nlen = (size_t)(colon - line);
	const char *value = colon + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (http_header_is_secret(line, nlen) && *value) {
		redact_register(value);
		/* "Bearer TOKEN": the token alone must be masked too. */
		const char *sp = strrchr(value, ' ');
		if (sp && sp[1])
			redact_register(sp + 1);
	}
	GROW(p->headers, p->n_headers);
	p->headers[p->n_headers++] = easprintf("%.*s: %s", (int)nlen, line, value);
	return 0;
}

static int add_range(struct http_probe *p, int lo, int hi)
{
	GROW(p->status, p->n_status);
	p->status[p->n_status].lo = lo;
	p->status[p->n_status].hi = hi;
	p->n_status++;
	return 0;
}

static int parse_code(const char *s, size_t len, int *out)
{
	if (len != 3)
		return -1;
	int v = 0;
	for (size_t i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 100 || v > 999)
		return -1;
	*out = v;
	return 0;
}

int http_probe_add_status(struct http_probe *p, const char *spec, char *err, size_t errsize)
{
	const char *s = spec;
	if (!*s)
		return errf(err, errsize, "empty status list");
	while (*s) {
		size_t len = strcspn(s, ",");
		const char *dash = memchr(s, '-', len);
		int lo, hi;
		while (len && s[len - 1] == ' ')
			len--;
		while (len && *s == ' ')
			s++, len--;
		if (len == 3 && isdigit((unsigned char)s[0]) && (s[1] == 'x' || s[1] == 'X') &&
		    (s[2] == 'x' || s[2] == 'X') && s[0] >= '1' && s[0] <= '9') {
			lo = (s[0] - '0') * 100;
			hi = lo + 99;
		} else if (dash) {
			if (parse_code(s, (size_t)(dash - s), &lo) < 0 ||
			    parse_code(dash + 1, len - (size_t)(dash + 1 - s), &hi) < 0 || hi < lo)
				return errf(err, errsize, "invalid status range \"%.*s\"", (int)len, s);
		} else if (parse_code(s, len, &lo) == 0) {
			hi = lo;
		} else {
			return errf(err, errsize, "invalid status \"%.*s\" (expected 200, 200-299 or 2xx)",
				    (int)len, s);
		}
		add_range(p, lo, hi);
		s += strcspn(s, ",");
		if (*s == ',')
			s++;
	}
	return 0;
}

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

int http_probe_add_json_assert(struct http_probe *p, const char *expr, char *err, size_t errsize)
{
	const char *s = skip_space(expr);
	if (*s != '.')
		return errf(err, errsize, "JSON assertion \"%.60s\" must start with a path such as .status", expr);
	const char *start = s + 1;
	/* The path runs to a space or an operator character outside brackets. */
	const char *e = start;
	while (*e && !isspace((unsigned char)*e) && !strchr("=!<>", *e))
		e++;
	struct http_json_assert a = {0};
	a.path = estrndup(start, (size_t)(e - start));
	s = skip_space(e);
	static const struct { const char *tok; enum http_json_op op; } ops[] = {
		{"==", HTTP_JSON_EQ}, {"!=", HTTP_JSON_NE}, {"<=", HTTP_JSON_LE},
		{">=", HTTP_JSON_GE}, {"<", HTTP_JSON_LT},  {">", HTTP_JSON_GT},
	};
	a.op = HTTP_JSON_EXISTS;
	if (*s) {
		size_t i;
		for (i = 0; i < ARRAY_LEN(ops); i++)
			if (strncmp(s, ops[i].tok, strlen(ops[i].tok)) == 0)
				break;
		if (i == ARRAY_LEN(ops)) {
			free(a.path);
			return errf(err, errsize, "JSON assertion \"%.60s\": expected ==, !=, <, <=, > or >=", expr);
		}
		a.op = ops[i].op;
		s = skip_space(s + strlen(ops[i].tok));
		size_t vlen = strlen(s);
		while (vlen && isspace((unsigned char)s[vlen - 1]))
			vlen--;
		if (!vlen) {
			free(a.path);
			return errf(err, errsize, "JSON assertion \"%.60s\": missing value", expr);
		}
		char *v = estrndup(s, vlen);
		a.value = cJSON_Parse(v);
		if (!a.value || cJSON_IsArray(a.value) || cJSON_IsObject(a.value)) {
			cJSON_Delete(a.value);
			/* A bare word is a string: .status == ok */
			a.value = strpbrk(v, "\"'{}[] ") ? NULL : cJSON_CreateString(v);
		}
		free(v);
		if (!a.value) {
			free(a.path);
			return errf(err, errsize, "JSON assertion \"%.60s\": invalid value", expr);
		}
		if (a.op >= HTTP_JSON_LT && !cJSON_IsNumber(a.value)) {
			free(a.path);
			cJSON_Delete(a.value);
			return errf(err, errsize, "JSON assertion \"%.60s\": <, <=, >, >= need a number", expr);
		}
	}
	a.text = estrdup(skip_space(expr));
	GROW(p->json, p->n_json);
	p->json[p->n_json++] = a;
	return 0;
}

static int compile(regex_t *re, const char *pattern, int flags, char *err, size_t errsize)
{
	int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB | flags);
	if (rc) {
		char msg[128];
		regerror(rc, re, msg, sizeof msg);
		return errf(err, errsize, "invalid regular expression \"%.60s\": %s", pattern, msg);
	}
	return 0;
}

int http_probe_add_header_assert(struct http_probe *p, const char *spec, bool must_not, char *err,
				 size_t errsize)
{
	struct http_header_assert a = {0};
	const char *colon = strchr(spec, ':');
	size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
	while (nlen && spec[nlen - 1] == ' ')
		nlen--;
	if (!nlen)
		return errf(err, errsize, "invalid header assertion \"%.60s\" (expected \"Name: regex\")", spec);
	if (colon) {
		const char *pat = skip_space(colon + 1);
		if (*pat) {
			if (compile(&a.re, pat, REG_ICASE, err, errsize) < 0)
				return -1;
			a.pattern = estrdup(pat);
		}
	}
	a.name = estrndup(spec, nlen);
	a.must_not = must_not;
	GROW(p->header_asserts, p->n_header_asserts);
	p->header_asserts[p->n_header_asserts++] = a;
	return 0;
}

int http_probe_set_body_regex(struct http_probe *p, const char *re, bool must_not, char *err,
			      size_t errsize)
{
	char **src = must_not ? &p->body_not_regex : &p->body_regex;
	regex_t *dst = must_not ? &p->body_not_re : &p->body_re;
	regex_t tmp;
	if (compile(&tmp, re, 0, err, errsize) < 0)
		return -1;
	if (*src)
		regfree(dst);
	free(*src);
	*dst = tmp;
	*src = estrdup(re);
	return 0;
}

int http_tls_parse(const char *s, enum http_tls *out)
{
	static const struct { const char *name; enum http_tls v; } t[] = {
		{"1.0", HTTP_TLS_1_0}, {"1.1", HTTP_TLS_1_1}, {"1.2", HTTP_TLS_1_2}, {"1.3", HTTP_TLS_1_3},
	};
	if (strncasecmp(s, "tlsv", 4) == 0)
		s += 4;
	else if (strncasecmp(s, "tls", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		if (strcmp(s, t[i].name) == 0) {
			*out = t[i].v;
			return 0;
		}
	}
	return -1;
}

int http_url_check(const char *url, char *err, size_t errsize)
{
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return errf(err, errsize, "not an http:// or https:// URL");
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return errf(err, errsize, "a URL cannot contain spaces or control characters");
	CURLU *u = curl_url();
	if (!u)
		out_of_memory();
	char *host = NULL;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	int ret = 0;
	if (rc == CURLUE_BAD_PORT_NUMBER)
		ret = errf(err, errsize, "invalid port (expected 1 to 65535)");
	else if (rc != CURLUE_OK || !host || !*host)
		ret = errf(err, errsize, "invalid URL (%s)",
			   rc == CURLUE_OK || rc == CURLUE_NO_HOST ? "no host" : curl_url_strerror(rc));
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

/* ---- from a config object ---- */

static const char *const probe_keys[] = {
	"name", "url", "method", "headers", "body", "json_body", "status", "body_contains",
	"body_regex", "body_not_regex", "json", "header_match", "header_not_match", "max_body",
	"redirects", "connect_timeout", "timeout", "latency_warning", "latency_critical",
	"tls_verify", "ca_file", "tls_min_version", "sni", "cert_warning_days",
	"cert_critical_days", "ip_version", "resolve", "retries", "retry_backoff", NULL,
};

static bool key_in(const char *key, const char *const *list)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

static int get_string(const cJSON *obj, const char *key, char **dst, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsString(j))
		return errf(err, errsize, "%s: expected a string", key);
	free(*dst);
	*dst = estrdup(j->valuestring);
	return 0;
}

static int get_duration(const cJSON *obj, const char *key, int64_t *dst, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!j || cJSON_IsNull(j))
		return 0;
	int64_t ms = -1;
	if (cJSON_IsNumber(j) && duration_from_seconds(j->valuedouble, &ms) < 0)
		ms = -1;
	else if (cJSON_IsString(j) && duration_parse(j->valuestring, &ms) < 0)
		ms = -1;
	if (ms < 0)
		return errf(err, errsize, "%s: expected a duration such as 500ms or 10s", key);
	*dst = ms;
	return 0;
}

static int get_int(const cJSON *obj, const char *key, long lo, long hi, long *dst, char *err,
		   size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!j || cJSON_IsNull(j))
		return 0;
	long v;
	if (cJSON_IsNumber(j)) {
		/* compared as a double first: converting one beyond long is undefined */
		double d = j->valuedouble;
		if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
			return errf(err, errsize, "%s: expected a whole number from %ld to %ld", key, lo, hi);
		v = (long)d;
	} else if (cJSON_IsString(j)) {
		/* decimal digits: strtol alone would skip spaces and take a sign */
		const char *s = j->valuestring;
		char *end;
		if (!isdigit((unsigned char)s[s[0] == '-']))
			return errf(err, errsize, "%s: expected a whole number", key);
		errno = 0;
		v = strtol(s, &end, 10);
		if (*end)
			return errf(err, errsize, "%s: expected a whole number", key);
		if (errno == ERANGE || v < lo || v > hi)
			return errf(err, errsize, "%s: expected a whole number from %ld to %ld", key, lo, hi);
	} else {
		return errf(err, errsize, "%s: expected a whole number", key);
	}
	*dst = v;
	return 0;
}

/* A string or a list of strings: calls add() for each. */
static int each_string(const cJSON *obj, const char *key, struct http_probe *p,
		       int (*add)(struct http_probe *, const char *, char *, size_t), char *err,
		       size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	char sub[256];
	if (!j || cJSON_IsNull(j))
		return 0;
	if (cJSON_IsString(j) || cJSON_IsNumber(j)) {
		char num[32];
		const char *s = j->valuestring;
		if (cJSON_IsNumber(j))
			snprintf(num, sizeof num, "%g", j->valuedouble), s = num;
		if (add(p, s, sub, sizeof sub) < 0)
			return errf(err, errsize, "%s: %s", key, sub);
		return 0;
	}
	if (!cJSON_IsArray(j))
		return errf(err, errsize, "%s: expected a string or a list", key);
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, j) {
		char num[32];
		const char *s = it->valuestring;
		if (cJSON_IsNumber(it))
			snprintf(num, sizeof num, "%g", it->valuedouble), s = num;
		else if (!cJSON_IsString(it))
			return errf(err, errsize, "%s[%d]: expected a string", key, i);
		if (add(p, s, sub, sizeof sub) < 0)
			return errf(err, errsize, "%s[%d]: %s", key, i, sub);
		i++;
	}
	return 0;
}

static int add_contains(struct http_probe *p, const char *s, char *err, size_t errsize)
{
	if (!*s)
		return errf(err, errsize, "empty string");
	GROW(p->body_contains, p->n_body_contains);
	p->body_contains[p->n_body_contains++] = estrdup(s);
	return 0;
}

int http_probe_add_resolve(struct http_probe *p, const char *s, char *err, size_t errsize)
{
	/* host:port:address — the address may be [v6] or a v6 literal. */
	const char *c1 = strchr(s, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || c1 == s || !c2 || c2 == c1 + 1 || !c2[1])
		return errf(err, errsize, "invalid resolve entry \"%.60s\" (expected host:port:address)", s);
	for (const char *d = c1 + 1; d < c2; d++)
		if (!isdigit((unsigned char)*d))
			return errf(err, errsize, "invalid port in resolve entry \"%.60s\"", s);
	GROW(p->resolve, p->n_resolve);
	p->resolve[p->n_resolve++] = estrdup(s);
	return 0;
}

static int add_json(struct http_probe *p, const char *s, char *err, size_t errsize)
{
	return http_probe_add_json_assert(p, s, err, errsize);
}

static int add_status(struct http_probe *p, const char *s, char *err, size_t errsize)
{
	return http_probe_add_status(p, s, err, errsize);
}

static int header_asserts(const cJSON *obj, const char *key, struct http_probe *p, bool must_not,
			  char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
	char sub[256];
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsObject(j))
		return errf(err, errsize, "%s: expected a map of header name to regex", key);
	cJSON_ArrayForEach(it, j) {
		char *spec;
		if (cJSON_IsNull(it) || (cJSON_IsString(it) && !*it->valuestring))
			spec = estrdup(it->string);
		else if (cJSON_IsString(it))
			spec = easprintf("%s: %s", it->string, it->valuestring);
		else
			return errf(err, errsize, "%s.%s: expected a regex string or null", key, it->string);
		int rc = http_probe_add_header_assert(p, spec, must_not, sub, sizeof sub);
		free(spec);
		if (rc < 0)
			return errf(err, errsize, "%s.%s: %s", key, it->string, sub);
	}
	return 0;
}

static int apply_strings(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	if (get_string(obj, "name", &p->name, err, errsize) < 0 ||
	    get_string(obj, "url", &p->url, err, errsize) < 0 ||
	    get_string(obj, "method", &p->method, err, errsize) < 0 ||
	    get_string(obj, "ca_file", &p->ca_file, err, errsize) < 0 ||
	    get_string(obj, "sni", &p->sni, err, errsize) < 0)
		return -1;
	if (p->url && !strstr(p->url, "://"))
		return errf(err, errsize, "url: \"%.60s\" is not an http:// or https:// URL", p->url);
	if (p->url && strncasecmp(p->url, "http://", 7) != 0 && strncasecmp(p->url, "https://", 8) != 0)
		return errf(err, errsize, "url: only http:// and https:// URLs can be probed");
	for (char *c = p->method; c && *c; c++) {
		if (!isalpha((unsigned char)*c))
			return errf(err, errsize, "method: invalid method \"%.20s\"", p->method);
		*c = (char)toupper((unsigned char)*c);
	}
	return 0;
}

/* headers: a map of name to value, a "Name: value" string or a list of them. */
static int apply_headers(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "headers"), *it;
	char sub[256];
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsObject(j))
		return each_string(obj, "headers", p, http_probe_add_header, err, errsize);
	cJSON_ArrayForEach(it, j) {
		if (!cJSON_IsString(it) && !cJSON_IsNumber(it))
			return errf(err, errsize, "headers.%s: expected a string", it->string);
		char *line = cJSON_IsString(it) ? easprintf("%s: %s", it->string, it->valuestring)
						: easprintf("%s: %g", it->string, it->valuedouble);
		int rc = http_probe_add_header(p, line, sub, sizeof sub);
		free(line);
		if (rc < 0)
			return errf(err, errsize, "headers.%s: %s", it->string, sub);
	}
	return 0;
}

/* body: the text sent; json_body: a JSON value sent as application/json. */
static int apply_body(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "body");
	if (j && !cJSON_IsNull(j)) {
		if (!cJSON_IsString(j))
			return errf(err, errsize, "body: expected a string");
		free(p->body);
		p->body = estrdup(j->valuestring);
		p->body_len = strlen(p->body);
	}
	j = cJSON_GetObjectItemCaseSensitive(obj, "json_body");
	if (!j || cJSON_IsNull(j))
		return 0;
	free(p->body);
	p->body = cJSON_PrintUnformatted(j);
	if (!p->body)
		out_of_memory();
	p->body_len = strlen(p->body);
	for (size_t i = 0; i < p->n_headers; i++)
		if (strncasecmp(p->headers[i], "content-type:", 13) == 0)
			return 0;
	http_probe_add_header(p, "Content-Type: application/json", NULL, 0);
	return 0;
}

static int apply_body_regex(struct http_probe *p, const cJSON *obj, const char *key, bool must_not,
			    char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	char sub[256];
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsString(j))
		return errf(err, errsize, "%s: expected a string", key);
	if (http_probe_set_body_regex(p, j->valuestring, must_not, sub, sizeof sub) < 0)
		return errf(err, errsize, "%s: %s", key, sub);
	return 0;
}

static int apply_max_body(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "max_body");
	int64_t bytes = -1;
	if (!j || cJSON_IsNull(j))
		return 0;
	if (cJSON_IsNumber(j) && j->valuedouble >= 1)
		bytes = (int64_t)j->valuedouble;
	else if (cJSON_IsString(j) && size_parse(j->valuestring, &bytes) < 0)
		bytes = -1;
	if (bytes < 1)
		return errf(err, errsize, "max_body: expected a size such as 64KiB or 1M");
	p->max_body = bytes;
	return 0;
}

/* redirects: a number 0-50, true or "follow" (10), false, or "fail". */
static int apply_redirects(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "redirects");
	if (!j || cJSON_IsNull(j))
		return 0;
	if (cJSON_IsFalse(j)) {
		p->redirects = HTTP_REDIRECT_NONE;
	} else if (cJSON_IsTrue(j) || (cJSON_IsString(j) && strcmp(j->valuestring, "follow") == 0)) {
		p->redirects = HTTP_REDIRECT_FOLLOW;
		p->max_redirects = 10;
	} else if (cJSON_IsString(j) && strcmp(j->valuestring, "fail") == 0) {
		p->redirects = HTTP_REDIRECT_FAIL;
	} else if (cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble <= 50 &&
		   j->valuedouble == (int)j->valuedouble) {
		p->max_redirects = (long)j->valuedouble;
		p->redirects = p->max_redirects ? HTTP_REDIRECT_FOLLOW : HTTP_REDIRECT_NONE;
	} else {
		return errf(err, errsize, "redirects: expected a number 0-50, true, false, \"follow\" or \"fail\"");
	}
	return 0;
}

/* What the response must be: a status list given replaces the default. */
static int apply_expect(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, "status")) {
		free(p->status);
		p->status = NULL;
		p->n_status = 0;
	}
	if (each_string(obj, "status", p, add_status, err, errsize) < 0 ||
	    each_string(obj, "body_contains", p, add_contains, err, errsize) < 0 ||
	    each_string(obj, "json", p, add_json, err, errsize) < 0 ||
	    each_string(obj, "resolve", p, http_probe_add_resolve, err, errsize) < 0 ||
	    header_asserts(obj, "header_match", p, false, err, errsize) < 0 ||
	    header_asserts(obj, "header_not_match", p, true, err, errsize) < 0 ||
	    apply_body_regex(p, obj, "body_regex", false, err, errsize) < 0 ||
	    apply_body_regex(p, obj, "body_not_regex", true, err, errsize) < 0 ||
	    apply_max_body(p, obj, err, errsize) < 0 || apply_redirects(p, obj, err, errsize) < 0)
		return -1;
	return 0;
}

static int get_int_field(const cJSON *obj, const char *key, long lo, long hi, int *dst, char *err,
			 size_t errsize)
{
	long n = *dst;
	if (get_int(obj, key, lo, hi, &n, err, errsize) < 0)
		return -1;
	*dst = (int)n;
	return 0;
}

static int apply_ip_version(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "ip_version");
	if (!j || cJSON_IsNull(j))
		return 0;
	const char *s = cJSON_IsString(j) ? j->valuestring : "";
	double v = cJSON_IsNumber(j) ? j->valuedouble : 0;
	if (v == 4 || strcmp(s, "4") == 0 || strcasecmp(s, "ipv4") == 0)
		p->ip = HTTP_IP_V4;
	else if (v == 6 || strcmp(s, "6") == 0 || strcasecmp(s, "ipv6") == 0)
		p->ip = HTTP_IP_V6;
	else if (strcmp(s, "any") == 0)
		p->ip = HTTP_IP_ANY;
	else
		return errf(err, errsize, "ip_version: expected 4, 6 or any");
	return 0;
}

/* The connection's TLS: trust and the lowest version. */
static int apply_tls(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "tls_verify");
	if (j && !cJSON_IsNull(j)) {
		if (!cJSON_IsBool(j))
			return errf(err, errsize, "tls_verify: expected true or false");
		p->tls_verify = cJSON_IsTrue(j);
	}
	j = cJSON_GetObjectItemCaseSensitive(obj, "tls_min_version");
	if (j && !cJSON_IsNull(j)) {
		char num[16];
		const char *s = cJSON_IsString(j) ? j->valuestring : NULL;
		if (cJSON_IsNumber(j))
			snprintf(num, sizeof num, "%.1f", j->valuedouble), s = num;
		if (!s || http_tls_parse(s, &p->tls_min) < 0)
			return errf(err, errsize, "tls_min_version: expected 1.0, 1.1, 1.2 or 1.3");
	}
	return 0;
}

static int apply_durations(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	if (get_duration(obj, "connect_timeout", &p->connect_timeout_ms, err, errsize) < 0 ||
	    get_duration(obj, "timeout", &p->timeout_ms, err, errsize) < 0 ||
	    get_duration(obj, "latency_warning", &p->latency_warn_ms, err, errsize) < 0 ||
	    get_duration(obj, "latency_critical", &p->latency_crit_ms, err, errsize) < 0 ||
	    get_duration(obj, "retry_backoff", &p->retry_backoff_ms, err, errsize) < 0)
		return -1;
	return 0;
}

static int apply_counts(struct http_probe *p, const cJSON *obj, char *err, size_t errsize)
{
	if (get_int_field(obj, "cert_warning_days", 0, 36500, &p->cert_warn_days, err, errsize) < 0 ||
	    get_int_field(obj, "cert_critical_days", 0, 36500, &p->cert_crit_days, err, errsize) < 0 ||
	    get_int_field(obj, "retries", 0, 10, &p->retries, err, errsize) < 0)
		return -1;
	return 0;
}

/* Thresholds that contradict each other, once every key is read. */
static int check_thresholds(const struct http_probe *p, char *err, size_t errsize)
{
	if (p->latency_warn_ms && p->latency_crit_ms && p->latency_warn_ms > p->latency_crit_ms)
		return errf(err, errsize, "latency_warning: greater than latency_critical");
	if (p->cert_warn_days && p->cert_crit_days && p->cert_warn_days < p->cert_crit_days)
		return errf(err, errsize, "cert_warning_days: fewer than cert_critical_days");
	return 0;
}

static int probe_apply(struct http_probe *p, const cJSON *obj, const char *const *extra_keys,
		       char *err, size_t errsize)
{
	const cJSON *it;
	if (!cJSON_IsObject(obj))
		return errf(err, errsize, "a probe must be a map");
	cJSON_ArrayForEach(it, obj) {
		if (!key_in(it->string, probe_keys) && !key_in(it->string, extra_keys))
			return errf(err, errsize, "%s: unknown key", it->string);
	}
	if (apply_strings(p, obj, err, errsize) < 0 || apply_headers(p, obj, err, errsize) < 0 ||
	    apply_body(p, obj, err, errsize) < 0 || apply_expect(p, obj, err, errsize) < 0 ||
	    apply_durations(p, obj, err, errsize) < 0 || apply_tls(p, obj, err, errsize) < 0 ||
	    apply_counts(p, obj, err, errsize) < 0 || apply_ip_version(p, obj, err, errsize) < 0)
		return -1;
	return check_thresholds(p, err, errsize);
}

int http_probe_from_json(struct http_probe *p, const cJSON *obj, const char *const *extra_keys,
			 char *err, size_t errsize)
{
	if (probe_apply(p, obj, extra_keys, err, errsize) < 0) {
		http_probe_free(p);
		return -1;
	}
	return 0;
}

/* ---- copies ---- */

static char *dup_or_null(const char *s)
{
	return s ? estrdup(s) : NULL;
}

static char **dup_strings(char *const *v, size_t n)
{
	char **out = n ? emalloc(n * sizeof *out) : NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = estrdup(v[i]);
	return out;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void copy_target(struct http_probe *dst, const struct http_probe *src)
{
	free(dst->name);
	free(dst->url);
	dst->name = dup_or_null(src->name);
	dst->url = dup_or_null(src->url);
}

static void copy_request(struct http_probe *dst, const struct http_probe *src)
{
	free(dst->method);
	dst->method = dup_or_null(src->method);
	free_strings(dst->headers, dst->n_headers);
	dst->headers = dup_strings(src->headers, src->n_headers);
	dst->n_headers = src->n_headers;
	free(dst->body);
	dst->body = src->body ? estrndup(src->body, src->body_len) : NULL;
	dst->body_len = src->body_len;
}

/* dst's assertions, emptied, so the flag-style adders rebuild them. */
static void clear_expect(struct http_probe *p)
{
	struct http_probe tmp = {0};
	tmp.status = p->status;
	tmp.body_contains = p->body_contains;
	tmp.n_body_contains = p->n_body_contains;
	tmp.body_regex = p->body_regex;
	tmp.body_re = p->body_re;
	tmp.body_not_regex = p->body_not_regex;
	tmp.body_not_re = p->body_not_re;
	tmp.json = p->json;
	tmp.n_json = p->n_json;
	tmp.header_asserts = p->header_asserts;
	tmp.n_header_asserts = p->n_header_asserts;
	http_probe_free(&tmp);
	p->status = NULL;
	p->n_status = 0;
	p->body_contains = NULL;
	p->n_body_contains = 0;
	p->body_regex = p->body_not_regex = NULL;
	p->json = NULL;
	p->n_json = 0;
	p->header_asserts = NULL;
	p->n_header_asserts = 0;
}

static void copy_expect(struct http_probe *dst, const struct http_probe *src)
{
	clear_expect(dst);
	if (src->n_status) {
		dst->status = emalloc(src->n_status * sizeof *src->status);
		memcpy(dst->status, src->status, src->n_status * sizeof *src->status);
		dst->n_status = src->n_status;
	}
	dst->body_contains = dup_strings(src->body_contains, src->n_body_contains);
	dst->n_body_contains = src->n_body_contains;
	/* What src holds was compiled once already: it compiles again. */
	if (src->body_regex)
		http_probe_set_body_regex(dst, src->body_regex, false, NULL, 0);
	if (src->body_not_regex)
		http_probe_set_body_regex(dst, src->body_not_regex, true, NULL, 0);
	for (size_t i = 0; i < src->n_json; i++)
		http_probe_add_json_assert(dst, src->json[i].text, NULL, 0);
	for (size_t i = 0; i < src->n_header_asserts; i++) {
		const struct http_header_assert *a = &src->header_asserts[i];
		char *spec = a->pattern ? easprintf("%s: %s", a->name, a->pattern) : estrdup(a->name);
		http_probe_add_header_assert(dst, spec, a->must_not, NULL, 0);
		free(spec);
	}
	dst->max_body = src->max_body;
	dst->redirects = src->redirects;
	dst->max_redirects = src->max_redirects;
	dst->follow_hint = src->follow_hint;
}

static void copy_connection(struct http_probe *dst, const struct http_probe *src)
{
	dst->connect_timeout_ms = src->connect_timeout_ms;
	dst->timeout_ms = src->timeout_ms;
	dst->tls_verify = src->tls_verify;
	free(dst->ca_file);
	dst->ca_file = dup_or_null(src->ca_file);
	dst->tls_min = src->tls_min;
	dst->tls_max = src->tls_max;
	free(dst->sni);
	dst->sni = dup_or_null(src->sni);
	dst->ip = src->ip;
	free_strings(dst->resolve, dst->n_resolve);
	dst->resolve = dup_strings(src->resolve, src->n_resolve);
	dst->n_resolve = src->n_resolve;
}

void http_probe_copy(struct http_probe *dst, const struct http_probe *src, unsigned parts)
{
	if (parts & HTTP_PROBE_TARGET)
		copy_target(dst, src);
	if (parts & HTTP_PROBE_REQUEST)
		copy_request(dst, src);
	if (parts & HTTP_PROBE_EXPECT)
		copy_expect(dst, src);
	if (parts & HTTP_PROBE_THRESHOLDS) {
		dst->latency_warn_ms = src->latency_warn_ms;
		dst->latency_crit_ms = src->latency_crit_ms;
		dst->cert_warn_days = src->cert_warn_days;
		dst->cert_crit_days = src->cert_crit_days;
	}
	if (parts & HTTP_PROBE_CONNECTION)
		copy_connection(dst, src);
	if (parts & HTTP_PROBE_RETRY) {
		dst->retries = src->retries;
		dst->retry_backoff_ms = src->retry_backoff_ms;
	}
	if (parts & HTTP_PROBE_KEEP) {
		dst->keep_body = src->keep_body;
		dst->keep_headers = src->keep_headers;
		dst->fresh_connect = src->fresh_connect;
		dst->uncompressed = src->uncompressed;
	}
}
