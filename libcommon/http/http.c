/* http.c — the probe engine: many HTTP(S) probes on one curl multi handle,
 * bounded parallelism, retries with backoff, results with phase timings and
 * TLS facts, secrets kept out of traces. */
#include "shipshape/http.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/retry.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_init_rc = -1;

static void global_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return;
	global_init_rc = 0;
	atexit(curl_global_cleanup);
}

int http_global_init(void)
{
	pthread_once(&global_once, global_init_once);
	return global_init_rc;
}

/* ---- one transfer ---- */

struct xfer {
	struct http_engine *e;
	const struct http_probe *p;
	void *tag;
	CURL *easy;
	struct http_result *r;
	struct buf body;
	bool keep_body, keep_headers, too_large;
	int64_t size, max_body;
	struct curl_slist *req_headers, *resolve, *connect_to;
	char *url; /* the URL requested (with sni, the sni host) */
	char errbuf[CURL_ERROR_SIZE];
	int attempt;          /* 1-based */
	int64_t not_before;   /* monotonic ms, for a retry */
	int64_t added_ms;     /* monotonic ms of http_engine_add() */
	long conn_id;         /* curl's connection number ("#N" in its trace), -1 unknown */
	struct xfer *next;
	struct xfer *rprev, *rnext; /* the running list */
};

/* What was learnt about a TLS connection when it was made, so a transfer
 * that reuses it reports the same facts (curl tells them only on connect). */
struct conn_facts {
	long id;              /* -1: empty slot */
	char tls_version[16];
	char tls_cipher[64];
	int64_t leaf_expiry_ms, earliest_expiry_ms;
	char *earliest_subject;
	int chain_len;
};

struct http_engine {
	CURLM *multi;
	struct http_engine_opts o;
	struct xfer *queue_head, *queue_tail; /* waiting to start, in order */
	struct xfer *retry;                   /* waiting for their backoff */
	struct xfer *running_list;
	size_t running, queued, retrying;
	CURL **pool;                          /* idle easy handles for reuse */
	size_t n_pool, cap_pool;
	struct conn_facts *conns;             /* by connection number modulo n_conns */
	size_t n_conns;
};

static void queue_push(struct http_engine *e, struct xfer *x, bool front)
{
	x->next = NULL;
	if (!e->queue_head) {
		e->queue_head = e->queue_tail = x;
	} else if (front) {
		x->next = e->queue_head;
		e->queue_head = x;
	} else {
		e->queue_tail->next = x;
		e->queue_tail = x;
	}
	e->queued++;
}

static struct xfer *queue_pop(struct http_engine *e)
{
	struct xfer *x = e->queue_head;
	if (!x)
		return NULL;
	e->queue_head = x->next;
	if (!e->queue_head)
		e->queue_tail = NULL;
	e->queued--;
	x->next = NULL;
	return x;
}

struct http_engine *http_engine_new(const struct http_engine_opts *o)
{
	CURLM *multi = http_global_init() == 0 ? curl_multi_init() : NULL;
	if (!multi)
		return NULL;
	struct http_engine *e = ecalloc(1, sizeof *e);
	e->o = *o;
	if (e->o.parallel <= 0)
		e->o.parallel = 16;
	e->multi = multi;
	curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)e->o.parallel);
	if (e->o.max_host_connections > 0)
		curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, e->o.max_host_connections);
	/* Keep a connection per parallel slot so load runs reuse them all. */
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->o.parallel);
	return e;
}

static void xfer_release(struct xfer *x)
{
	curl_slist_free_all(x->req_headers);
	curl_slist_free_all(x->resolve);
	curl_slist_free_all(x->connect_to);
	x->req_headers = x->resolve = x->connect_to = NULL;
	free(x->url);
	x->url = NULL;
	buf_free(&x->body);
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	xfer_release(x);
	if (x->r)
		http_result_free(x->r);
	free(x);
}

void http_engine_free(struct http_engine *e)
{
	if (!e)
		return;
	struct xfer *x;
	while ((x = queue_pop(e)))
		xfer_free(x);
	while ((x = e->retry)) {
		e->retry = x->next;
		xfer_free(x);
	}
	while ((x = e->running_list)) {
		e->running_list = x->rnext;
		curl_multi_remove_handle(e->multi, x->easy);
		curl_easy_cleanup(x->easy);
		xfer_free(x);
	}
	for (size_t i = 0; i < e->n_pool; i++)
		curl_easy_cleanup(e->pool[i]);
	free(e->pool);
	for (size_t i = 0; i < e->n_conns; i++)
		free(e->conns[i].earliest_subject);
	free(e->conns);
	curl_multi_cleanup(e->multi);
	free(e);
}

size_t http_engine_pending(const struct http_engine *e)
{
	return e->running + e->queued + e->retrying;
}

int http_engine_add(struct http_engine *e, const struct http_probe *p, void *tag)
{
	struct xfer *x = ecalloc(1, sizeof *x);
	x->e = e;
	x->p = p;
	x->tag = tag;
	x->attempt = 1;
	x->added_ms = now_monotonic_ms();
	queue_push(e, x, false);
	return 0;
}

/* Takes x off the running list. */
static void running_unlink(struct http_engine *e, struct xfer *x)
{
	if (x->rprev)
		x->rprev->rnext = x->rnext;
	else
		e->running_list = x->rnext;
	if (x->rnext)
		x->rnext->rprev = x->rprev;
	x->rprev = x->rnext = NULL;
	e->running--;
}

/* Takes the transfer with tag out of list *pp (linked by next); NULL when none. */
static struct xfer *unlink_tagged(struct xfer **pp, const void *tag)
{
	for (; *pp; pp = &(*pp)->next) {
		struct xfer *x = *pp;
		if (x->tag == tag) {
			*pp = x->next;
			return x;
		}
	}
	return NULL;
}

int http_engine_cancel(struct http_engine *e, const void *tag)
{
	struct xfer *x = unlink_tagged(&e->queue_head, tag);
	if (x) {
		e->queued--;
		e->queue_tail = NULL;
		for (struct xfer *t = e->queue_head; t; t = t->next)
			e->queue_tail = t;
	} else if ((x = unlink_tagged(&e->retry, tag))) {
		e->retrying--;
	} else {
		for (x = e->running_list; x && x->tag != tag; x = x->rnext)
			;
		if (!x)
			return -1;
		running_unlink(e, x);
		curl_multi_remove_handle(e->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	xfer_free(x);
	return 0;
}

/* ---- callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	if (x->size + (int64_t)n > x->max_body) {
		x->too_large = true;
		x->size += (int64_t)n;
		return 0; /* aborts with CURLE_WRITE_ERROR */
	}
	x->size += (int64_t)n;
	if (x->keep_body)
		buf_append(&x->body, data, n);
	return n;
}

static void header_add(struct http_result *r, const char *name, size_t nlen, const char *value,
		       size_t vlen)
{
	r->headers = erealloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
	r->headers[r->n_headers].name = estrndup(name, nlen);
	r->headers[r->n_headers].value = estrndup(value, vlen);
	r->n_headers++;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	if (!x->keep_headers)
		return n;
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		http_result_clear_headers(x->r); /* only the final response's headers are kept */
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon || colon == data)
		return n;
	const char *v = colon + 1, *end = data + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (x->r->n_headers < 200)
		header_add(x->r, data, (size_t)(colon - data), v, (size_t)(end - v));
	return n;
}

/* Prints one header block of a trace, one line at a time, credentials masked. */
static void trace_headers(const struct xfer *x, const char *mark, const char *data, size_t n)
{
	const char *p = data, *end = data + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t show = len;
		while (show && (p[show - 1] == '\r'))
			show--;
		if (show) {
			const char *colon = memchr(p, ':', show);
			if (colon && http_header_is_secret(p, (size_t)(colon - p)))
				fprintf(stderr, "%s: %s %s %.*s: %s\n", prog, x->p->name ? x->p->name : "",
					mark, (int)(colon - p), p, REDACTED);
			else {
				char *line = estrndup(p, show);
				char *safe = redact_string(line);
				fprintf(stderr, "%s: %s %s %s\n", prog, x->p->name ? x->p->name : "", mark, safe);
				free(safe);
				free(line);
			}
		}
		p += len + (nl != NULL);
	}
}

/* The connection number in "Connected to HOST (IP) port N (#7)" or
 * "Re-using existing connection #7 with host HOST"; -1 when not one of those. */
static long trace_conn_id(const char *data, size_t n)
{
	static const char connected[] = "Connected to ", reusing[] = "Re-using existing connection #";
	char line[256];
	const char *hash = NULL;
	if (n >= sizeof line)
		n = sizeof line - 1;
	memcpy(line, data, n);
	line[n] = '\0';
	if (strncmp(line, connected, sizeof connected - 1) == 0)
		hash = (hash = strstr(line, "(#")) ? hash + 2 : NULL;
	else if (strncmp(line, reusing, sizeof reusing - 1) == 0)
		hash = line + sizeof reusing - 1;
	if (!hash)
		return -1;
	char *end;
	long id = strtol(hash, &end, 10);
	return end == hash || id < 0 ? -1 : id;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t n, void *userp)
{
	struct xfer *x = userp;
	(void)h;
	if (type == CURLINFO_TEXT) {
		long id = trace_conn_id(data, n);
		if (id >= 0)
			x->conn_id = id;
		static const char tag[] = "SSL connection using ";
		if (n > sizeof tag && strncmp(data, tag, sizeof tag - 1) == 0) {
			const char *v = data + sizeof tag - 1, *end = data + n;
			const char *slash = memchr(v, '/', (size_t)(end - v));
			if (slash) {
				size_t vl = (size_t)(slash - v);
				while (vl && v[vl - 1] == ' ')
					vl--;
				snprintf(x->r->tls_version, sizeof x->r->tls_version, "%.*s", (int)vl, v);
				const char *c = slash + 1;
				while (c < end && *c == ' ')
					c++;
				size_t cl = strcspn(c, " /\r\n");
				if (c + cl > end)
					cl = (size_t)(end - c);
				snprintf(x->r->tls_cipher, sizeof x->r->tls_cipher, "%.*s", (int)cl, c);
			}
		}
	}
	if (x->e->o.verbose <= 0)
		return 0;
	switch (type) {
	case CURLINFO_TEXT: {
		char *line = estrndup(data, n && data[n - 1] == '\n' ? n - 1 : n);
		char *safe = redact_string(line);
		fprintf(stderr, "%s: %s * %s\n", prog, x->p->name ? x->p->name : "", safe);
		free(safe);
		free(line);
		break;
	}
	case CURLINFO_HEADER_OUT:
		trace_headers(x, ">", data, n);
		break;
	case CURLINFO_HEADER_IN:
		trace_headers(x, "<", data, n);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- starting a transfer ---- */

static long tls_version_min(enum http_tls t)
{
	switch (t) {
	case HTTP_TLS_1_0: return CURL_SSLVERSION_TLSv1_0;
	case HTTP_TLS_1_1: return CURL_SSLVERSION_TLSv1_1;
	case HTTP_TLS_1_2: return CURL_SSLVERSION_TLSv1_2;
	case HTTP_TLS_1_3: return CURL_SSLVERSION_TLSv1_3;
	default: return CURL_SSLVERSION_DEFAULT;
	}
}

static long tls_version_max(enum http_tls t)
{
	switch (t) {
	case HTTP_TLS_1_0: return CURL_SSLVERSION_MAX_TLSv1_0;
	case HTTP_TLS_1_1: return CURL_SSLVERSION_MAX_TLSv1_1;
	case HTTP_TLS_1_2: return CURL_SSLVERSION_MAX_TLSv1_2;
	case HTTP_TLS_1_3: return CURL_SSLVERSION_MAX_TLSv1_3;
	default: return CURL_SSLVERSION_MAX_DEFAULT;
	}
}

static bool probe_wants_body(const struct http_probe *p)
{
	return p->keep_body || p->n_body_contains || p->body_regex || p->body_not_regex || p->n_json;
}

/* With sni: request https://SNI:port/... and connect to the URL's own host. */
static int sni_rewrite(struct xfer *x)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *out = NULL;
	int rc = -1;
	if (curl_url_set(u, CURLUPART_URL, x->p->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, x->p->sni, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		goto out;
	x->url = estrdup(out);
	char *entry = easprintf("%s:%s:%s:%s", x->p->sni, port, host, port);
	x->connect_to = curl_slist_append(NULL, entry);
	free(entry);
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_free(out);
	curl_url_cleanup(u);
	return rc;
}

/* The request itself: method, body, headers, redirects, name resolution. */
static void xfer_setup_request(struct xfer *x)
{
	const struct http_probe *p = x->p;
	CURL *h = x->easy;
	if (p->redirects == HTTP_REDIRECT_FOLLOW) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, p->max_redirects);
	}
	if (p->method && strcmp(p->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (p->method && strcmp(p->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, p->method);
	if (p->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body);
		if (!p->method)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
	}
	for (size_t i = 0; i < p->n_headers; i++)
		x->req_headers = curl_slist_append(x->req_headers, p->headers[i]);
	if (p->body) /* no "Expect: 100-continue" round trip */
		x->req_headers = curl_slist_append(x->req_headers, "Expect:");
	if (x->req_headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->req_headers);
	for (size_t i = 0; i < p->n_resolve; i++)
		x->resolve = curl_slist_append(x->resolve, p->resolve[i]);
	if (x->resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, x->resolve);
	if (x->connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, x->connect_to);
	if (p->ip == HTTP_IP_V4)
		curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
	else if (p->ip == HTTP_IP_V6)
		curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V6);
}

/* TLS: verification, versions, certificate facts, and the debug callback
 * that reads the connection's facts (and traces with -vv). */
static void xfer_setup_tls(struct xfer *x)
{
	const struct http_probe *p = x->p;
	CURL *h = x->easy;
	bool https = p->url && strncasecmp(p->url, "https://", 8) == 0;
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, p->tls_verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, p->tls_verify ? 2L : 0L);
	if (p->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
	if (p->tls_min || p->tls_max)
		curl_easy_setopt(h, CURLOPT_SSLVERSION, tls_version_min(p->tls_min) | tls_version_max(p->tls_max));
	if (p->tls_max && p->tls_max <= HTTP_TLS_1_1)
		curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
	if (https) {
		curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
		/* Certificate facts are read at connect time: never reuse a
		 * connection when expiry is judged. */
		if (p->cert_warn_days || p->cert_crit_days || p->fresh_connect)
			curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	} else if (p->fresh_connect) {
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	}
	if (https || x->e->o.verbose > 0) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(h, CURLOPT_DEBUGDATA, x);
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
}

static void xfer_setup(struct xfer *x)
{
	const struct http_probe *p = x->p;
	CURL *h = x->easy;

	x->r = ecalloc(1, sizeof *x->r);
	x->r->attempts = x->attempt;
	x->r->started_ms = now_epoch_ms();
	x->keep_body = probe_wants_body(p);
	x->keep_headers = p->keep_headers || p->n_header_asserts;
	x->max_body = p->max_body > 0 ? p->max_body : HTTP_MAX_BODY_DEFAULT;
	x->size = 0;
	x->too_large = false;
	x->errbuf[0] = '\0';
	x->conn_id = -1;

	if (p->sni && p->url && sni_rewrite(x) < 0) {
		free(x->url);
		x->url = NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, x->url ? x->url : p->url ? p->url : "");
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "shipshape/" SHIPSHAPE_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	if (!p->uncompressed)
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(p->connect_timeout_ms > 0 ? p->connect_timeout_ms : HTTP_CONNECT_TIMEOUT_DEFAULT_MS));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 (long)(p->timeout_ms > 0 ? p->timeout_ms : HTTP_TIMEOUT_DEFAULT_MS));
	xfer_setup_request(x);
	xfer_setup_tls(x);
}

/* ---- finishing a transfer ---- */

static enum http_error classify(CURLcode rc, bool too_large)
{
	switch (rc) {
	case CURLE_OK: return HTTP_ERR_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY: return HTTP_ERR_DNS;
	case CURLE_COULDNT_CONNECT: return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT: return HTTP_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED: return HTTP_ERR_TLS;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS: return HTTP_ERR_CERT;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_HTTP2:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_RANGE_ERROR:
	case CURLE_HTTP3: return HTTP_ERR_PROTOCOL;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2_STREAM: return HTTP_ERR_RECV;
	case CURLE_FILESIZE_EXCEEDED: return HTTP_ERR_TOO_LARGE;
	case CURLE_WRITE_ERROR: return too_large ? HTTP_ERR_TOO_LARGE : HTTP_ERR_OTHER;
	case CURLE_TOO_MANY_REDIRECTS: return HTTP_ERR_REDIRECT;
	default: return HTTP_ERR_OTHER;
	}
}

static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* "Feb  1 00:00:00 2020 GMT" (OpenSSL) or "2020-02-01 00:00:00 GMT". */
static int64_t cert_date_parse(const char *s)
{
	struct tm tm = {0};
	char mon[4] = "";
	int d, H, M, S, Y;
	if (sscanf(s, "%3s %d %d:%d:%d %d", mon, &d, &H, &M, &S, &Y) == 6) {
		int m = -1;
		for (int i = 0; i < 12; i++)
			if (strcmp(mon, month_names[i]) == 0)
				m = i;
		if (m < 0)
			return 0;
		tm.tm_mon = m;
	} else if (sscanf(s, "%d-%d-%d %d:%d:%d", &Y, &tm.tm_mon, &d, &H, &M, &S) == 6) {
		tm.tm_mon--;
	} else {
		return 0;
	}
	tm.tm_year = Y - 1900;
	tm.tm_mday = d;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	return (int64_t)timegm(&tm) * 1000;
}

static void read_certinfo(CURL *h, struct http_result *r)
{
	struct curl_certinfo *ci = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs <= 0)
		return;
	r->cert_chain_len = ci->num_of_certs;
	for (int i = 0; i < ci->num_of_certs; i++) {
		int64_t expiry = 0;
		const char *subject = NULL;
		for (struct curl_slist *s = ci->certinfo[i]; s; s = s->next) {
			if (strncmp(s->data, "Expire date:", 12) == 0)
				expiry = cert_date_parse(s->data + 12);
			else if (strncmp(s->data, "Subject:", 8) == 0)
				subject = s->data + 8;
		}
		if (!expiry)
			continue;
		if (i == 0)
			r->cert_leaf_expiry_ms = expiry;
		if (!r->cert_earliest_expiry_ms || expiry < r->cert_earliest_expiry_ms) {
			r->cert_earliest_expiry_ms = expiry;
			free(r->cert_earliest_subject);
			r->cert_earliest_subject = estrdup(subject ? subject : "");
		}
	}
}

/* A new TLS connection: remember its facts. A reused one: report them. */
static void conn_facts_apply(struct http_engine *e, struct xfer *x)
{
	struct http_result *r = x->r;
	if (x->conn_id < 0)
		return;
	if (!e->conns) {
		/* Twice the connections the multi handle keeps, so a live
		 * connection's slot is not taken by a newer one soon. */
		e->n_conns = 2 * (size_t)e->o.parallel + 16;
		e->conns = ecalloc(e->n_conns, sizeof *e->conns);
		for (size_t i = 0; i < e->n_conns; i++)
			e->conns[i].id = -1;
	}
	struct conn_facts *c = &e->conns[(size_t)x->conn_id % e->n_conns];
	if (!r->reused) {
		if (!r->tls_version[0])
			return;
		c->id = x->conn_id;
		memcpy(c->tls_version, r->tls_version, sizeof c->tls_version);
		memcpy(c->tls_cipher, r->tls_cipher, sizeof c->tls_cipher);
		c->leaf_expiry_ms = r->cert_leaf_expiry_ms;
		c->earliest_expiry_ms = r->cert_earliest_expiry_ms;
		free(c->earliest_subject);
		c->earliest_subject = r->cert_earliest_subject ? estrdup(r->cert_earliest_subject) : NULL;
		c->chain_len = r->cert_chain_len;
		return;
	}
	if (c->id != x->conn_id)
		return;
	if (!r->tls_version[0]) {
		memcpy(r->tls_version, c->tls_version, sizeof r->tls_version);
		memcpy(r->tls_cipher, c->tls_cipher, sizeof r->tls_cipher);
	}
	if (!r->cert_chain_len && c->chain_len) {
		r->cert_leaf_expiry_ms = c->leaf_expiry_ms;
		r->cert_earliest_expiry_ms = c->earliest_expiry_ms;
		free(r->cert_earliest_subject);
		r->cert_earliest_subject = c->earliest_subject ? estrdup(c->earliest_subject) : NULL;
		r->cert_chain_len = c->chain_len;
	}
}

static double us_to_ms(curl_off_t us)
{
	return (double)us / 1000.0;
}

static void fill_result(struct xfer *x, CURLcode rc)
{
	struct http_result *r = x->r;
	CURL *h = x->easy;
	curl_off_t t;
	long v;
	char *s;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &r->redirects);
	if (curl_easy_getinfo(h, CURLINFO_NAMELOOKUP_TIME_T, &t) == CURLE_OK)
		r->dns_ms = us_to_ms(t);
	if (curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &t) == CURLE_OK)
		r->connect_ms = us_to_ms(t);
	if (curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &t) == CURLE_OK && t > 0)
		r->tls_ms = us_to_ms(t);
	if (curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &t) == CURLE_OK)
		r->first_byte_ms = us_to_ms(t);
	if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &t) == CURLE_OK)
		r->total_ms = us_to_ms(t);
	if (curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &v) == CURLE_OK) {
		const char *hv = v == CURL_HTTP_VERSION_1_0 ? "1.0" : v == CURL_HTTP_VERSION_1_1 ? "1.1"
			       : v == CURL_HTTP_VERSION_2_0 ? "2" : v == CURL_HTTP_VERSION_3 ? "3" : "";
		snprintf(r->http_version, sizeof r->http_version, "%s", hv);
	}
	if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &s) == CURLE_OK && s)
		r->effective_url = redact_url(s);
	struct curl_header *loc;
	if (r->code >= 300 && r->code <= 399 &&
	    curl_easy_header(h, "Location", 0, CURLH_HEADER, -1, &loc) == CURLHE_OK && loc->value) {
		free(r->location);
		r->location = redact_url(loc->value);
	}
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &s) == CURLE_OK && s)
		r->content_type = estrdup(s);
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &s) == CURLE_OK && s && *s)
		r->primary_ip = estrdup(s);
	read_certinfo(h, r);
	/* No new connection for a transfer that got a response: a reused one. */
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &v) == CURLE_OK && v == 0 && r->code > 0)
		r->reused = true;
	conn_facts_apply(x->e, x);
	r->size = x->size;
	r->error = classify(rc, x->too_large);
	if (r->error == HTTP_ERR_TOO_LARGE) {
		r->error_message = easprintf("body larger than %lld bytes", (long long)x->max_body);
	} else if (r->error != HTTP_ERR_NONE) {
		const char *msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
		size_t len = strlen(msg);
		while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
			len--;
		char *m = estrndup(msg, len);
		r->error_message = redact_string(m);
		free(m);
	}
	if (x->keep_body) {
		buf_append(&x->body, "", 0);
		r->body_len = x->body.len;
		r->body = buf_take(&x->body);
	}
}

/* A probe's retries: the suite's retry policy, without jitter (a probe's
 * timing is part of what it reports). */
static int64_t backoff_ms(const struct http_probe *p, int attempt)
{
	struct retry_policy rp = {.initial_ms = p->retry_backoff_ms > 0 ? p->retry_backoff_ms : 200};
	return retry_backoff_ms(&rp, attempt, NULL);
}

/* Keeps an easy handle for the next transfer, so load runs reuse handles
 * (and their state). */
static void pool_put(struct http_engine *e, CURL *h)
{
	if (e->n_pool == e->cap_pool) {
		e->cap_pool = e->cap_pool ? e->cap_pool * 2 : 16;
		e->pool = erealloc(e->pool, e->cap_pool * sizeof *e->pool);
	}
	e->pool[e->n_pool++] = h;
}

/* An attempt of x is over (its result in x->r, its handle given back):
 * judges it, then waits for a retry or makes the callback and frees x.
 * Returns the number of callbacks made. */
static int xfer_finish(struct http_engine *e, struct xfer *x)
{
	struct http_result *r = x->r;
	http_evaluate(x->p, r, now_epoch_ms());
	if ((r->status == STATUS_CRITICAL || r->status == STATUS_UNKNOWN) && x->attempt <= x->p->retries) {
		http_result_free(r);
		x->r = NULL;
		x->not_before = now_monotonic_ms() + backoff_ms(x->p, x->attempt);
		x->attempt++;
		x->next = e->retry;
		e->retry = x;
		e->retrying++;
		return 0;
	}
	x->r = NULL;
	r->elapsed_ms = (double)(now_monotonic_ms() - x->added_ms);
	const struct http_probe *p = x->p;
	void *tag = x->tag;
	free(x);
	if (e->o.on_done)
		e->o.on_done(e, p, r, tag, e->o.user);
	else
		http_result_free(r);
	return 1;
}

static int drain(struct http_engine *e)
{
	int done = 0, left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(e->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *h = m->easy_handle;
		CURLcode rc = m->data.result;
		struct xfer *x = NULL;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(e->multi, h);
		running_unlink(e, x);
		fill_result(x, rc);
		pool_put(e, h);
		x->easy = NULL;
		xfer_release(x);
		done += xfer_finish(e, x);
	}
	return done;
}

/* ---- starting transfers ---- */

/* An attempt that could not be started (libcurl gave no handle, or would
 * not take it) ends as a failed transfer saying so: the library reports,
 * its caller decides. */
static int start_failed(struct http_engine *e, struct xfer *x, const char *why)
{
	if (!x->r)
		x->r = ecalloc(1, sizeof *x->r);
	x->r->attempts = x->attempt;
	x->r->started_ms = now_epoch_ms();
	x->r->error = HTTP_ERR_INTERNAL;
	free(x->r->error_message);
	x->r->error_message = estrdup(why);
	xfer_release(x);
	return xfer_finish(e, x);
}

/* Starts what the parallel bound allows: retries whose backoff is over
 * first, then the queue in order. Returns the number of callbacks made
 * (attempts that could not start). Only the transfers queued on entry are
 * tried, so a callback that queues again cannot keep it here. */
static int start_ready(struct http_engine *e)
{
	if (e->retry) {
		int64_t now = now_monotonic_ms();
		struct xfer **pp = &e->retry;
		while (*pp) {
			struct xfer *x = *pp;
			if (x->not_before <= now) {
				*pp = x->next;
				e->retrying--;
				queue_push(e, x, true);
			} else {
				pp = &x->next;
			}
		}
	}
	int done = 0;
	for (size_t n = e->queued; n && e->running < (size_t)e->o.parallel && e->queue_head; n--) {
		struct xfer *x = queue_pop(e);
		if (e->n_pool) {
			x->easy = e->pool[--e->n_pool];
			curl_easy_reset(x->easy);
		} else if (!(x->easy = curl_easy_init())) {
			done += start_failed(e, x, "unable to create a curl handle");
			continue;
		}
		xfer_setup(x);
		if (curl_multi_add_handle(e->multi, x->easy) != CURLM_OK) {
			pool_put(e, x->easy);
			x->easy = NULL;
			done += start_failed(e, x, "unable to start a curl transfer");
			continue;
		}
		x->rprev = NULL;
		x->rnext = e->running_list;
		if (e->running_list)
			e->running_list->rprev = x;
		e->running_list = x;
		e->running++;
	}
	return done;
}

static int next_retry_in(const struct http_engine *e, int timeout_ms)
{
	if (!e->retry)
		return timeout_ms;
	int64_t now = now_monotonic_ms(), soonest = INT64_MAX;
	for (const struct xfer *x = e->retry; x; x = x->next)
		if (x->not_before < soonest)
			soonest = x->not_before;
	int64_t wait = soonest - now;
	if (wait < 0)
		wait = 0;
	return timeout_ms < 0 || wait < timeout_ms ? (int)wait : timeout_ms;
}

int http_engine_step(struct http_engine *e, struct pollfd *extra, unsigned n_extra, int timeout_ms)
{
	int running = 0, done = start_ready(e);
	if (curl_multi_perform(e->multi, &running) != CURLM_OK)
		return -1;
	done += drain(e);
	if (done)
		return done + start_ready(e);
	struct curl_waitfd wfd[16];
	unsigned n = n_extra < ARRAY_LEN(wfd) ? n_extra : (unsigned)ARRAY_LEN(wfd);
	for (unsigned i = 0; i < n; i++) {
		wfd[i].fd = extra[i].fd;
		wfd[i].events = extra[i].events;
		wfd[i].revents = 0;
	}
	int wait = next_retry_in(e, timeout_ms < 0 ? 1000 : timeout_ms);
	if (curl_multi_poll(e->multi, n ? wfd : NULL, n, wait, NULL) != CURLM_OK)
		return -1;
	for (unsigned i = 0; i < n; i++)
		extra[i].revents = wfd[i].revents;
	if (curl_multi_perform(e->multi, &running) != CURLM_OK)
		return -1;
	done = drain(e);
	return done + start_ready(e);
}

int http_engine_run_until(struct http_engine *e, int64_t deadline_ms)
{
	int total = start_ready(e);
	while (http_engine_pending(e)) {
		int timeout = 1000;
		if (deadline_ms >= 0) {
			int64_t left = deadline_ms - now_monotonic_ms();
			if (left <= 0)
				break;
			if (left < timeout)
				timeout = (int)left;
		}
		int n = http_engine_step(e, NULL, 0, timeout);
		if (n < 0)
			return -1;
		total += n;
	}
	return total;
}
