/* security.c — security validation of the API: CORS, trusted hosts, rate
 * limiting, security headers, TLS versions and certificate, authentication. */
#include "svc-probe.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned bit;
} sec_names[] = {
	{"cors", SEC_CORS}, {"trusted-host", SEC_TRUSTED_HOST}, {"rate-limit", SEC_RATE_LIMIT},
	{"headers", SEC_HEADERS}, {"tls", SEC_TLS}, {"auth", SEC_AUTH}, {"all", SEC_ALL},
};

int security_parse_list(const char *list, unsigned *checks)
{
	const char *p = list;
	if (!*p)
		return -1;
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;
		for (i = 0; i < ARRAY_LEN(sec_names); i++)
			if (strlen(sec_names[i].name) == len && strncmp(p, sec_names[i].name, len) == 0)
				break;
		if (i == ARRAY_LEN(sec_names))
			return -1;
		*checks |= sec_names[i].bit;
		p += len + (p[len] == ',');
	}
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void security_spec_free(struct security_spec *s)
{
	free(s->base_url);
	free(s->path);
	free_list(s->allowed_origins, s->n_allowed_origins);
	free(s->disallowed_origin);
	free_list(s->trusted_hosts, s->n_trusted_hosts);
	free(s->untrusted_host);
	free(s->rate_path);
	free(s->environment);
	free_list(s->auth_paths, s->n_auth_paths);
	http_probe_free(&s->base);
	memset(s, 0, sizeof *s);
}

/* A probe of the API at path with the base connection settings. */
static struct http_probe *probe_new(const struct security_spec *s, const char *path)
{
	struct http_probe *p = emalloc(sizeof *p);
	char *url = path ? url_join(s->base_url, path) : estrdup(s->base_url);
	probe_copy_connection(p, &s->base, url);
	free(url);
	p->keep_headers = true;
	return p;
}

static void probe_header(struct http_probe *p, const char *name, const char *value)
{
	char *h = easprintf("%s: %s", name, value);
	http_probe_add_header(p, h, NULL, 0);
	free(h);
}

static void run(struct http_probe **ps, struct http_result **rs, size_t n, int verbose)
{
	run_probes(ps, rs, n, 16, verbose);
}

static void free_probes(struct http_probe **ps, struct http_result **rs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		http_probe_free(ps[i]);
		free(ps[i]);
		http_result_free(rs[i]);
	}
}

/* A transport failure as a check; returns true when there was one. */
static bool transport_failed(struct report *rep, const char *name, const struct http_result *r)
{
	if (r->error == HTTP_ERR_NONE)
		return false;
	report_add_check(rep, name, STATUS_CRITICAL, (int64_t)r->total_ms, NULL, "request failed: %s: %s",
			 http_error_name(r->error), r->error_message ? r->error_message : "");
	return true;
}

static const char *first_concrete(char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(v[i], '*'))
			return v[i];
	return NULL;
}

static void check_cors(struct report *rep, const struct security_spec *s, int verbose)
{
	const char *allowed = first_concrete(s->allowed_origins, s->n_allowed_origins);
	struct http_probe *ps[3];
	struct http_result *rs[3];
	size_t n = 0;
	ps[n] = probe_new(s, s->path);
	probe_header(ps[n++], "Origin", s->disallowed_origin);
	if (allowed) {
		ps[n] = probe_new(s, s->path);
		probe_header(ps[n++], "Origin", allowed);
		ps[n] = probe_new(s, s->path);
		ps[n]->method = estrdup("OPTIONS");
		probe_header(ps[n], "Origin", allowed);
		probe_header(ps[n], "Access-Control-Request-Method", "POST");
		probe_header(ps[n++], "Access-Control-Request-Headers", "authorization, content-type");
	}
	run(ps, rs, n, verbose);

	const struct http_result *r = rs[0];
	if (!transport_failed(rep, "security.cors.disallowed", r)) {
		const char *acao = http_result_header(r, "Access-Control-Allow-Origin");
		const char *acac = http_result_header(r, "Access-Control-Allow-Credentials");
		bool creds = acac && strcasecmp(acac, "true") == 0;
		if (acao && strcmp(acao, s->disallowed_origin) == 0)
			report_add_check(rep, "security.cors.disallowed", STATUS_CRITICAL, 0, NULL,
					 "disallowed origin %s echoed in Access-Control-Allow-Origin%s",
					 s->disallowed_origin, creds ? " with credentials" : "");
		else if (acao && strcmp(acao, "*") == 0 && creds)
			report_add_check(rep, "security.cors.disallowed", STATUS_CRITICAL, 0, NULL,
					 "Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true");
		else if (acao && strcmp(acao, "*") == 0)
			report_add_check(rep, "security.cors.disallowed", STATUS_WARNING, 0, NULL,
					 "Access-Control-Allow-Origin: * allows every origin");
		else
			report_add_check(rep, "security.cors.disallowed", STATUS_OK, 0, NULL,
					 "origin %s not allowed (HTTP %ld%s%s)", s->disallowed_origin, r->code,
					 acao ? ", Access-Control-Allow-Origin: " : "", acao ? acao : "");
	}
	if (!allowed) {
		report_add_check(rep, "security.cors.allowed", STATUS_WARNING, 0, NULL,
				 "no allowed origin configured (security.cors_origins)");
	} else {
		r = rs[1];
		if (!transport_failed(rep, "security.cors.allowed", r)) {
			const char *acao = http_result_header(r, "Access-Control-Allow-Origin");
			bool ok = acao && (strcmp(acao, allowed) == 0 || strcmp(acao, "*") == 0);
			report_add_check(rep, "security.cors.allowed", ok ? STATUS_OK : STATUS_CRITICAL, 0, NULL,
					 "origin %s %s (HTTP %ld, Access-Control-Allow-Origin: %s)", allowed,
					 ok ? "allowed" : "not allowed", r->code, acao ? acao : "absent");
		}
		r = rs[2];
		if (!transport_failed(rep, "security.cors.preflight", r)) {
			const char *acao = http_result_header(r, "Access-Control-Allow-Origin");
			const char *acam = http_result_header(r, "Access-Control-Allow-Methods");
			bool origin_ok = acao && (strcmp(acao, allowed) == 0 || strcmp(acao, "*") == 0);
			bool method_ok = !acam || strcasestr(acam, "POST") || strcmp(acam, "*") == 0;
			bool status_ok = r->code >= 200 && r->code <= 299;
			enum status st = origin_ok && method_ok && status_ok ? STATUS_OK : STATUS_CRITICAL;
			report_add_check(rep, "security.cors.preflight", st, 0, NULL,
					 "OPTIONS preflight from %s: HTTP %ld, Allow-Origin %s, Allow-Methods %s", allowed,
					 r->code, acao ? acao : "absent", acam ? acam : "absent");
		}
	}
	free_probes(ps, rs, n);
}

/* The Host a legitimate client sends: the URL's own host when trusted, else
 * the first trusted name without a wildcard. */
static char *trusted_host_for(const struct security_spec *s)
{
	char *host = url_host(s->base_url);
	if (!s->n_trusted_hosts || !host)
		return host;
	for (size_t i = 0; i < s->n_trusted_hosts; i++)
		if (fnmatch(s->trusted_hosts[i], host, FNM_CASEFOLD) == 0)
			return host;
	const char *c = first_concrete(s->trusted_hosts, s->n_trusted_hosts);
	if (c) {
		free(host);
		return estrdup(c);
	}
	return host;
}

static void check_trusted_host(struct report *rep, const struct security_spec *s, int verbose)
{
	struct http_probe *ps[2];
	struct http_result *rs[2];
	char *good = trusted_host_for(s);
	ps[0] = probe_new(s, s->path);
	probe_header(ps[0], "Host", s->untrusted_host);
	ps[1] = probe_new(s, s->path);
	if (good)
		probe_header(ps[1], "Host", good);
	run(ps, rs, 2, verbose);

	const struct http_result *r = rs[0];
	if (r->error == HTTP_ERR_RECV || (r->error == HTTP_ERR_NONE && r->code >= 400 && r->code <= 499))
		report_add_check(rep, "security.trusted_host.untrusted", STATUS_OK, 0, NULL,
				 "Host %s rejected (%s)", s->untrusted_host,
				 r->error ? "connection closed" : r->code == 400 ? "HTTP 400" : "HTTP 4xx");
	else if (!s->n_trusted_hosts && !transport_failed(rep, "security.trusted_host.untrusted", r))
		/* nothing configured to hold the API to: said, not judged */
		report_add_check(rep, "security.trusted_host.untrusted", STATUS_WARNING, 0, NULL,
				 "Host %s accepted: HTTP %ld; no trusted hosts configured (security.trusted_hosts), so "
				 "not judged", s->untrusted_host, r->code);
	else if (s->n_trusted_hosts && !transport_failed(rep, "security.trusted_host.untrusted", r))
		report_add_check(rep, "security.trusted_host.untrusted",
				 r->code >= 500 ? STATUS_WARNING : STATUS_CRITICAL, 0, NULL,
				 "Host %s accepted: HTTP %ld (expected a 4xx rejection)", s->untrusted_host, r->code);
	r = rs[1];
	if (!transport_failed(rep, "security.trusted_host.trusted", r))
		report_add_check(rep, "security.trusted_host.trusted",
				 r->code >= 200 && r->code <= 399 ? STATUS_OK : STATUS_CRITICAL, 0, NULL,
				 "Host %s: HTTP %ld", good ? good : "(URL host)", r->code);
	free(good);
	free_probes(ps, rs, 2);
}

struct burst {
	long first_429;       /* 1-based request number, 0 none */
	long n_429, n_ok, n_err, n_other;
	bool retry_after;     /* on the first 429 */
	char first_error[200];
};

static void on_burst(struct http_engine *e, const struct http_probe *p, struct http_result *r, void *tag,
		     void *user)
{
	struct burst *b = user;
	long idx = (long)(size_t)tag;
	(void)e;
	(void)p;
	if (r->error != HTTP_ERR_NONE) {
		if (!b->n_err++)
			snprintf(b->first_error, sizeof b->first_error, "%s: %s", http_error_name(r->error),
				 r->error_message ? r->error_message : "");
	} else if (r->code == 429) {
		b->n_429++;
		if (!b->first_429 || idx < b->first_429) {
			b->first_429 = idx;
			b->retry_after = http_result_header(r, "Retry-After") != NULL;
		}
	} else if (r->code >= 200 && r->code <= 399) {
		b->n_ok++;
	} else {
		b->n_other++;
	}
	http_result_free(r);
}

static void check_rate_limit(struct report *rep, const struct security_spec *s, int verbose)
{
	if (!s->rate_burst_allowed) {
		report_add_check(rep, "security.rate_limit", STATUS_WARNING, 0, NULL,
				 "the rate limit is not checked: its burst of requests at the API is off in %s "
				 "(deploy.security.rate_limit_burst)", s->environment ? s->environment : "this environment");
		return;
	}
	long limit = s->rate_per_minute + s->rate_burst;
	long extra = limit / 10 > 10 ? limit / 10 : 10;
	long n = limit + extra;
	if (n > s->rate_max_requests)
		n = s->rate_max_requests;
	struct http_probe *p = probe_new(s, s->rate_path ? s->rate_path : s->path);
	struct burst b = {0};
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){
		.parallel = s->rate_concurrency, .verbose = verbose > 1 ? verbose - 1 : 0, .on_done = on_burst, .user = &b});
	if (!e)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	/* Requests start in order; the number of the first 429 says where the
	 * limit began. */
	for (long i = 1; i <= n; i++)
		http_engine_add(e, p, (void *)(size_t)i);
	int64_t start = now_monotonic_ms();
	if (http_engine_run_until(e, -1) < 0)
		die(EXIT_UNKNOWN, "the probe engine failed");
	int64_t took = now_monotonic_ms() - start;
	http_engine_free(e);

	cJSON *data = cJSON_CreateObject();
	cJSON_AddNumberToObject(data, "requests", (double)n);
	cJSON_AddNumberToObject(data, "limit_per_minute", (double)s->rate_per_minute);
	cJSON_AddNumberToObject(data, "burst", (double)s->rate_burst);
	cJSON_AddNumberToObject(data, "first_429", (double)b.first_429);
	cJSON_AddNumberToObject(data, "count_429", (double)b.n_429);
	cJSON_AddNumberToObject(data, "count_ok", (double)b.n_ok);
	cJSON_AddNumberToObject(data, "count_errors", (double)b.n_err);
	cJSON_AddBoolToObject(data, "retry_after", b.retry_after);
	if (!b.first_429)
		report_add_check(rep, "security.rate_limit", STATUS_CRITICAL, took, data,
				 "no 429 in a burst of %ld requests (limit %ld/min, burst %ld)%s%s", n,
				 s->rate_per_minute, s->rate_burst, b.n_err ? "; first error " : "",
				 b.n_err ? b.first_error : "");
	else if (s->retry_after_required && !b.retry_after)
		report_add_check(rep, "security.rate_limit", STATUS_CRITICAL, took, data,
				 "429 from request %ld of %ld, but without Retry-After", b.first_429, n);
	else
		report_add_check(rep, "security.rate_limit", STATUS_OK, took, data,
				 "429 from request %ld of %ld (%ld limited)%s", b.first_429, n, b.n_429,
				 b.retry_after ? ", with Retry-After" : "");
	http_probe_free(p);
	free(p);
}

static void check_headers(struct report *rep, const struct security_spec *s, int verbose)
{
	struct http_probe *ps[1] = {probe_new(s, s->path)};
	struct http_result *rs[1];
	run(ps, rs, 1, verbose);
	const struct http_result *r = rs[0];
	bool https = strncasecmp(s->base_url, "https://", 8) == 0;
	if (transport_failed(rep, "security.headers", r)) {
		free_probes(ps, rs, 1);
		return;
	}
	const char *hsts = http_result_header(r, "Strict-Transport-Security");
	if (!hsts) {
		report_add_check(rep, "security.headers.hsts", https ? STATUS_CRITICAL : STATUS_WARNING, 0, NULL,
				 "Strict-Transport-Security missing%s", https ? "" : " (plain http)");
	} else {
		const char *ma = strcasestr(hsts, "max-age=");
		long long age = ma ? strtoll(ma + 8 + (ma[8] == '"'), NULL, 10) : -1;
		if (age < s->hsts_min_age)
			report_add_check(rep, "security.headers.hsts", STATUS_WARNING, 0, NULL,
					 "Strict-Transport-Security max-age %lld below %lld s", age,
					 (long long)s->hsts_min_age);
		else
			report_add_check(rep, "security.headers.hsts", STATUS_OK, 0, NULL,
					 "Strict-Transport-Security max-age %lld", age);
	}
	const char *xcto = http_result_header(r, "X-Content-Type-Options");
	bool nosniff = xcto && strcasecmp(xcto, "nosniff") == 0;
	report_add_check(rep, "security.headers.content_type_options", nosniff ? STATUS_OK : STATUS_CRITICAL, 0,
			 NULL, "X-Content-Type-Options: %s", xcto ? xcto : "missing");
	const char *server = http_result_header(r, "Server");
	const char *powered = http_result_header(r, "X-Powered-By");
	bool leak = (server && strpbrk(server, "0123456789")) || powered;
	if (leak)
		report_add_check(rep, "security.headers.server_version", STATUS_WARNING, 0, NULL,
				 "version disclosed:%s%s%s", server ? " Server: " : "", server ? server : "",
				 powered ? " X-Powered-By present" : "");
	else
		report_add_check(rep, "security.headers.server_version", STATUS_OK, 0, NULL,
				 "no version disclosed (Server: %s)", server ? server : "absent");
	const char *xfo = http_result_header(r, "X-Frame-Options");
	const char *csp = http_result_header(r, "Content-Security-Policy");
	bool framing = xfo || (csp && strcasestr(csp, "frame-ancestors"));
	report_add_check(rep, "security.headers.frame_options", framing ? STATUS_OK : STATUS_WARNING, 0, NULL,
			 framing ? "framing restricted" : "neither X-Frame-Options nor CSP frame-ancestors");
	free_probes(ps, rs, 1);
}

static void check_tls(struct report *rep, const struct security_spec *s, int verbose)
{
	if (strncasecmp(s->base_url, "https://", 8) != 0) {
		/* cfg-resolve --check's rule: plain http only warns outside production */
		bool production = environment_is_production(s->environment);
		report_add_check(rep, "security.tls", production ? STATUS_CRITICAL : STATUS_WARNING, 0, NULL,
				 "the API is not served over https%s%s", production ? "" : ": a warning in ",
				 production ? "" : s->environment);
		return;
	}
	struct http_probe *ps[2];
	struct http_result *rs[2];
	ps[0] = probe_new(s, s->path);
	ps[0]->cert_warn_days = s->cert_warn_days;
	ps[0]->cert_crit_days = s->cert_crit_days;
	ps[1] = probe_new(s, s->path);
	ps[1]->tls_min = HTTP_TLS_1_0;
	ps[1]->tls_max = HTTP_TLS_1_1;
	ps[1]->fresh_connect = true;
	run(ps, rs, 2, verbose);

	struct http_result *r = rs[0];
	if (r->error != HTTP_ERR_NONE) {
		report_add_check(rep, "security.tls.certificate", STATUS_CRITICAL, 0, NULL, "%s: %s",
				 http_error_name(r->error), r->error_message ? r->error_message : "");
	} else {
		report_add_check(rep, "security.tls.certificate", STATUS_OK, 0, NULL,
				 "%s %s, certificate trusted and matches the host name", r->tls_version, r->tls_cipher);
		http_evaluate(ps[0], r, now_epoch_ms());
		for (size_t i = 0; i < r->n_outcomes; i++)
			if (strcmp(r->outcomes[i].name, "cert_expiry") == 0)
				report_add_check(rep, "security.tls.expiry", r->outcomes[i].status, 0, NULL, "%s",
						 r->outcomes[i].message);
	}
	r = rs[1];
	if (r->error == HTTP_ERR_TLS || r->error == HTTP_ERR_CERT || r->error == HTTP_ERR_RECV ||
	    r->error == HTTP_ERR_PROTOCOL)
		report_add_check(rep, "security.tls.old_versions", STATUS_OK, 0, NULL, "TLS 1.1 and older refused");
	else if (r->error == HTTP_ERR_NONE)
		report_add_check(rep, "security.tls.old_versions", STATUS_CRITICAL, 0, NULL,
				 "the server accepted %s (below TLS 1.2)", r->tls_version[0] ? r->tls_version : "TLS 1.1");
	else
		report_add_check(rep, "security.tls.old_versions", STATUS_UNKNOWN, 0, NULL, "%s: %s",
				 http_error_name(r->error), r->error_message ? r->error_message : "");
	free_probes(ps, rs, 2);
}

static void check_auth(struct report *rep, const struct security_spec *s, int verbose)
{
	if (!s->n_auth_paths) {
		report_add_check(rep, "security.auth", STATUS_WARNING, 0, NULL,
				 "no protected endpoint configured (svc_probe.auth_paths or --auth-path)");
		return;
	}
	struct http_probe **ps = ecalloc(s->n_auth_paths, sizeof *ps);
	struct http_result **rs = ecalloc(s->n_auth_paths, sizeof *rs);
	for (size_t i = 0; i < s->n_auth_paths; i++)
		ps[i] = probe_new(s, s->auth_paths[i]);
	run(ps, rs, s->n_auth_paths, verbose);
	for (size_t i = 0; i < s->n_auth_paths; i++) {
		char *name = s->n_auth_paths == 1 ? estrdup("security.auth") : easprintf("security.auth.%zu", i + 1);
		const struct http_result *r = rs[i];
		if (!transport_failed(rep, name, r)) {
			enum status st = r->code == 401 || r->code == 403 ? STATUS_OK
				       : r->code >= 200 && r->code <= 399 ? STATUS_CRITICAL : STATUS_WARNING;
			report_add_check(rep, name, st, 0, NULL, "%s without credentials: HTTP %ld%s", s->auth_paths[i],
					 r->code, st == STATUS_OK ? "" : " (expected 401 or 403)");
		}
		free(name);
	}
	free_probes(ps, rs, s->n_auth_paths);
	free(ps);
	free(rs);
}

void security_run(struct report *rep, const struct security_spec *s, int verbose)
{
	if (s->checks & SEC_CORS)
		check_cors(rep, s, verbose);
	if (s->checks & SEC_TRUSTED_HOST)
		check_trusted_host(rep, s, verbose);
	if (s->checks & SEC_HEADERS)
		check_headers(rep, s, verbose);
	if (s->checks & SEC_TLS)
		check_tls(rep, s, verbose);
	if (s->checks & SEC_AUTH)
		check_auth(rep, s, verbose);
	if (s->checks & SEC_RATE_LIMIT)
		check_rate_limit(rep, s, verbose);
}
