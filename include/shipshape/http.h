/* http.h — HTTP(S) probes shared by svc-probe, health-watch and rollback: a
 * probe spec read from a config object, a result with phase timings and TLS
 * facts, the assertions, and an engine running many probes concurrently on
 * one curl multi handle.
 *
 * Ownership: a struct http_probe owns every string and compiled regex in it
 * (http_probe_free); the engine only borrows a probe, which must outlive its
 * completion callback. A struct http_result handed to the callback belongs to
 * the callback (http_result_free), so a caller may keep it.
 *
 * Secrets: request headers whose name looks secret (Authorization,
 * Proxy-Authorization, Cookie, X-Api-Key, apikey, *token*, *secret*, *key*)
 * have their values registered with redact_register() when the probe is
 * built, are shown as "***" in verbose traces, and never enter a result.
 * URLs in results and messages go through redact_url().
 *
 * One-shot use (svc-probe):
 *
 *     struct http_engine *e = http_engine_new(&(struct http_engine_opts){
 *             .parallel = 16, .on_done = done, .user = ctx});
 *     for (...) http_engine_add(e, &probes[i], &slots[i]);
 *     http_engine_run_until(e, -1);     // every probe finished
 *     http_engine_free(e);
 *
 * From a long-lived loop with its own timers (health-watch): add probes when
 * they fall due, then let the engine work until the next timer of yours:
 *
 *     for (;;) {
 *             int64_t next = earliest_timer_of_mine();  // monotonic ms
 *             http_engine_run_until(e, next);            // returns at next, or earlier when idle
 *             fire_due_timers();                         // may http_engine_add()
 *     }
 *
 * run_until() returns as soon as nothing is queued or running, so a loop with
 * nothing in flight sleeps in its own poll()/nanosleep until the next timer.
 * To wait on fds of your own too (stdin, a signalfd) while transfers run, call
 * http_engine_step() with them instead: one poll over the engine's sockets
 * and yours, bounded by timeout_ms, then completions are delivered.
 * Completion callbacks run inside run_until()/step(), never concurrently; a
 * callback may call http_engine_add() (re-arm a probe) but not free the
 * engine. */
#ifndef SHIPSHAPE_HTTP_H
#define SHIPSHAPE_HTTP_H

#include <poll.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "shipshape/report.h"

#define HTTP_MAX_BODY_DEFAULT (1u << 20) /* bytes kept and allowed per response: 1 MiB */
#define HTTP_TIMEOUT_DEFAULT_MS 10000
#define HTTP_CONNECT_TIMEOUT_DEFAULT_MS 5000
#define HTTP_MAX_REDIRECTS_DEFAULT 0 /* redirects are not followed unless asked */

/* curl_global_init() exactly once (thread-safe; http_engine_new() calls
 * it). Returns 0, or -1 when libcurl could not be initialised (every later
 * call says the same). */
int http_global_init(void);

/* ---- the probe spec ---- */

enum http_ip { HTTP_IP_ANY = 0, HTTP_IP_V4, HTTP_IP_V6 };

/* Minimum TLS version; HTTP_TLS_DEFAULT leaves libcurl's (1.2 on Debian 12). */
enum http_tls { HTTP_TLS_DEFAULT = 0, HTTP_TLS_1_0, HTTP_TLS_1_1, HTTP_TLS_1_2, HTTP_TLS_1_3 };

/* What to do with a 3xx response. */
enum http_redirects {
	HTTP_REDIRECT_NONE = 0, /* do not follow: the 3xx is the response judged */
	HTTP_REDIRECT_FOLLOW,   /* follow up to max_redirects; more is critical */
	HTTP_REDIRECT_FAIL,     /* a 3xx response is critical */
};

struct http_status_range {
	int lo, hi; /* inclusive: 200-299; a single code has lo == hi */
};

enum http_json_op { HTTP_JSON_EXISTS, HTTP_JSON_EQ, HTTP_JSON_NE, HTTP_JSON_LT, HTTP_JSON_LE,
		    HTTP_JSON_GT, HTTP_JSON_GE };

/* A JSON-path assertion: `.status == "ok"`, `.db.latency_ms < 250`,
 * `.items[0].id != null`, `.ready` (exists and is not false/null). */
struct http_json_assert {
	char *text;          /* as written, for messages */
	char *path;          /* json_path() syntax without the leading dot */
	enum http_json_op op;
	cJSON *value;        /* the right-hand side: string, number, bool or null */
};

/* A response header assertion: the header must be present and (with a regex)
 * match; with must_not it must be absent, or (with a regex) not match. */
struct http_header_assert {
	char *name;
	char *pattern;       /* POSIX extended, case-insensitive; NULL: presence only */
	regex_t re;
	bool must_not;
};

struct http_probe {
	char *name;          /* the target's name in reports ("api", "supabase") */
	char *url;
	char *method;        /* NULL: GET */
	char **headers;      /* "Name: value", n_headers of them */
	size_t n_headers;
	char *body;          /* request body, NULL for none */
	size_t body_len;

	/* expectations */
	struct http_status_range *status; /* n_status == 0: 200-299 */
	size_t n_status;
	char **body_contains;             /* each must occur in the body */
	size_t n_body_contains;
	char *body_regex, *body_not_regex; /* POSIX extended */
	regex_t body_re, body_not_re;
	struct http_json_assert *json;
	size_t n_json;
	struct http_header_assert *header_asserts;
	size_t n_header_asserts;
	int64_t max_body;                 /* bytes; a larger body is critical (0: default) */

	enum http_redirects redirects;
	long max_redirects;               /* with HTTP_REDIRECT_FOLLOW */
	const char *follow_hint;          /* static: how this probe's user follows redirects, named
					     in a 3xx verdict; NULL: the probe key "redirects: N" */

	int64_t connect_timeout_ms;       /* 0: default */
	int64_t timeout_ms;               /* whole transfer, 0: default */
	int64_t latency_warn_ms;          /* total time thresholds, 0: none */
	int64_t latency_crit_ms;

	bool tls_verify;                  /* peer and host name; default true */
	char *ca_file;
	enum http_tls tls_min;
	enum http_tls tls_max;            /* HTTP_TLS_DEFAULT: none; 1.0/1.1 also lowers OpenSSL's
					     security level so old versions are really offered */
	char *sni;                        /* server name to present (and Host), connecting to the URL's host */
	int cert_warn_days;               /* leaf expiry thresholds, 0: none */
	int cert_crit_days;
	enum http_ip ip;
	char **resolve;                   /* "host:port:address" (curl --resolve) */
	size_t n_resolve;

	int retries;                      /* extra attempts after a critical/unknown outcome, 0: none */
	int64_t retry_backoff_ms;         /* first wait, doubled each time (0: 200 ms) */

	bool keep_body;                   /* keep the body in the result even without body assertions */
	bool keep_headers;                /* keep response headers in the result */
	bool fresh_connect;               /* never reuse a connection (cert facts are read on connect) */
	bool uncompressed;                /* ask for the body as it is (no Accept-Encoding): a small
					     answer from a near server comes sooner whole than
					     compressed by it per request */
};

/* Defaults for a probe built by hand: GET, verify on, default timeouts. */
void http_probe_init(struct http_probe *p);
/* Frees every field p owns (p itself is not freed) and zeroes it. */
void http_probe_free(struct http_probe *p);

/* The parts of a probe http_probe_copy() carries, by what they are for. */
enum {
	HTTP_PROBE_TARGET = 1 << 0,     /* name, url */
	HTTP_PROBE_REQUEST = 1 << 1,    /* method, headers, body */
	HTTP_PROBE_EXPECT = 1 << 2,     /* status, body, JSON and header assertions, max_body,
					   redirects, follow_hint */
	HTTP_PROBE_THRESHOLDS = 1 << 3, /* latency and certificate-expiry thresholds */
	HTTP_PROBE_CONNECTION = 1 << 4, /* timeouts, TLS trust and versions, sni, ip, resolve */
	HTTP_PROBE_RETRY = 1 << 5,      /* retries, retry_backoff */
	HTTP_PROBE_KEEP = 1 << 6,       /* keep_body, keep_headers, fresh_connect, uncompressed */
	HTTP_PROBE_ALL = (1 << 7) - 1,
};
/* Replaces the fields of dst in parts with deep copies of src's (strings
 * duplicated, regexes compiled again); dst's other fields are kept. The one
 * way a probe is built from another: from flags, from the flags' defaults
 * for a config target, from a target's connection. Every field of struct
 * http_probe belongs to one part (tests/unit/test_http_probe_copy.c). */
void http_probe_copy(struct http_probe *dst, const struct http_probe *src, unsigned parts);

/* Fills p from a probe config object (keys in svc-probe(1), "PROBE KEYS"):
 *   name url method headers{} body json_body{} status[] body_contains[]
 *   body_regex body_not_regex json[] header_match{} header_not_match{}
 *   max_body redirects(N|false|"fail") connect_timeout timeout
 *   latency_warning latency_critical tls_verify ca_file tls_min_version sni
 *   cert_warning_days cert_critical_days ip_version(4|6|any) resolve[]
 *   retries retry_backoff
 * Fields absent from obj keep the value they have in p on entry, so a caller
 * may http_probe_init() p, set its own defaults, then apply the object.
 * extra_keys (NULL-terminated, may be NULL) are members the caller reads
 * itself (health-watch's "interval"); any other unknown member is an error.
 * Returns 0, or -1 with a one-line reason naming the key in err
 * ("status[1]: invalid status range \"2x5\""); p is then freed. */
int http_probe_from_json(struct http_probe *p, const cJSON *obj, const char *const *extra_keys,
			 char *err, size_t errsize);

/* Pieces of the above, for flags that set the same things. Each returns 0
 * or -1 with a reason in err. */
int http_probe_add_header(struct http_probe *p, const char *line, char *err, size_t errsize);
int http_probe_add_status(struct http_probe *p, const char *spec, char *err, size_t errsize);  /* "200", "200-299", "2xx", "200,301" */
int http_probe_add_json_assert(struct http_probe *p, const char *expr, char *err, size_t errsize);
int http_probe_add_header_assert(struct http_probe *p, const char *spec, bool must_not, char *err,
				 size_t errsize); /* "Name: regex" or "Name" */
int http_probe_set_body_regex(struct http_probe *p, const char *re, bool must_not, char *err,
			      size_t errsize);
int http_probe_add_resolve(struct http_probe *p, const char *entry, char *err, size_t errsize); /* host:port:address */
int http_tls_parse(const char *s, enum http_tls *out); /* "1.0".."1.3", "tlsv1.2" */
/* 0 when url is an http:// or https:// URL libcurl can request (a host, a
 * port in range, no spaces); -1 with the reason in err. The URL itself is
 * not repeated in err (it may hold a password). */
int http_url_check(const char *url, char *err, size_t errsize);
/* True for a header name whose value is a credential (Authorization, Cookie,
 * X-Api-Key, apikey, names with token/secret/key/password). */
bool http_header_is_secret(const char *name, size_t len);

/* ---- the result ---- */

enum http_error {
	HTTP_ERR_NONE = 0,
	HTTP_ERR_DNS,       /* name not resolved */
	HTTP_ERR_CONNECT,   /* refused, unreachable */
	HTTP_ERR_TIMEOUT,   /* connect or total timeout */
	HTTP_ERR_TLS,       /* handshake failed, version refused */
	HTTP_ERR_CERT,      /* peer certificate not trusted, expired, wrong host */
	HTTP_ERR_PROTOCOL,  /* not HTTP, malformed response */
	HTTP_ERR_RECV,      /* connection reset or closed mid-response */
	HTTP_ERR_TOO_LARGE, /* body beyond max_body */
	HTTP_ERR_REDIRECT,  /* too many redirects */
	HTTP_ERR_OTHER,
	HTTP_ERR_INTERNAL,  /* the transfer could not be started here (no curl handle): unknown, not critical */
};

/* "dns", "connect", "timeout", "tls", "certificate", "protocol", "receive",
 * "too_large", "redirect", "other", "internal"; "" for none. */
const char *http_error_name(enum http_error e);

/* One assertion's verdict; name is "status", "body_contains", "body_regex",
 * "body_not_regex", "json", "header", "size", "redirects", "latency",
 * "cert_expiry", "transport" (the request failed). */
struct http_outcome {
	char *name;
	enum status status;
	char *message;       /* redacted */
};

struct http_header {
	char *name, *value;  /* of the final response */
};

struct http_result {
	long code;              /* HTTP status, 0 when none came */
	int64_t size;           /* body bytes received */
	long redirects;         /* followed */
	char http_version[8];   /* "1.1", "2", "" */
	char tls_version[16];   /* "TLSv1.3", "" for plain HTTP */
	char tls_cipher[64];
	char *effective_url;    /* redacted */
	char *location;         /* a 3xx's Location, redacted; NULL for none */
	char *content_type;
	char *primary_ip;
	/* phase timings, ms from the start of the attempt (curl's *_T times) */
	double dns_ms, connect_ms, tls_ms, first_byte_ms, total_ms;
	/* certificates (https; on a reused connection, as seen when it was made) */
	int64_t cert_leaf_expiry_ms;     /* epoch ms, 0: unknown */
	int64_t cert_earliest_expiry_ms; /* earliest notAfter in the chain */
	char *cert_earliest_subject;
	int cert_chain_len;
	enum http_error error;
	char *error_message;     /* redacted, NULL when no error */
	char *body;              /* kept when an assertion or keep_body needed it (NUL-terminated) */
	size_t body_len;
	struct http_header *headers; /* kept with keep_headers or header assertions */
	size_t n_headers;
	struct http_outcome *outcomes;
	size_t n_outcomes;
	enum status status;      /* worst outcome */
	int attempts;            /* 1 + retries used */
	int64_t started_ms;      /* epoch ms of the last attempt */
	/* ms from http_engine_add() to this verdict: time queued behind the
	 * parallel bound, every attempt and every backoff wait. */
	double elapsed_ms;
	bool reused;             /* the last attempt reused a kept-alive connection
				    (its TLS and certificate facts are those seen when
				    that connection was made) */
};

void http_result_free(struct http_result *r);
/* Frees and forgets the response headers kept in r. */
void http_result_clear_headers(struct http_result *r);
/* The value of a response header (first of that name, case-insensitive), or NULL. */
const char *http_result_header(const struct http_result *r, const char *name);
/* Judges r against p: fills r->outcomes and r->status (replacing any
 * earlier verdict). The engine does this before each callback; call it again
 * after changing thresholds. now_ms is epoch ms for certificate ages. */
void http_evaluate(const struct http_probe *p, struct http_result *r, int64_t now_ms);
/* Adds an outcome (message formatted and redacted) and raises r->status. */
void http_result_add_outcome(struct http_result *r, const char *name, enum status st,
			     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Removes every outcome and sets r->status back to ok. */
void http_result_clear_outcomes(struct http_result *r);
/* The result as a JSON object for a report check's "data": code, size,
 * redirects, http_version, tls_version, tls_cipher, url, location, ip, timings{dns,
 * connect,tls,first_byte,total}, cert{leaf_expires,leaf_days,earliest_expires,
 * earliest_days,earliest_subject,chain}, error{class,message}, attempts,
 * elapsed_ms, reused, assertions[{name,status,message}]. The caller owns it. */
cJSON *http_result_json(const struct http_result *r, int64_t now_ms);
/* A one-line summary: "HTTP 200, 512 B in 12 ms" or the error. New string. */
char *http_result_describe(const struct http_result *r);

/* ---- the engine ---- */

struct http_engine;

/* Called once per finished probe (after its retries): the result is the
 * callback's to free. tag is what was given to http_engine_add(). */
typedef void (*http_done_fn)(struct http_engine *e, const struct http_probe *p,
			     struct http_result *r, void *tag, void *user);

struct http_engine_opts {
	int parallel;            /* transfers at once (0: 16); the rest queue in order */
	long max_host_connections; /* 0: no limit */
	int verbose;             /* >0: trace requests/responses to stderr, secrets redacted */
	http_done_fn on_done;
	void *user;              /* passed to on_done */
};

/* A new engine, or NULL when libcurl could not be initialised or gave no
 * multi handle (the caller decides what that means: a tool exits
 * EXIT_UNKNOWN). An attempt that cannot be started later (no curl handle)
 * ends as a result with HTTP_ERR_INTERNAL, judged unknown. */
struct http_engine *http_engine_new(const struct http_engine_opts *o);
/* Frees the engine; transfers still running are aborted without callbacks. */
void http_engine_free(struct http_engine *e);
/* Queues p (borrowed until its callback). Returns 0; a URL libcurl rejects
 * is not refused here but delivered as a result with an error. */
int http_engine_add(struct http_engine *e, const struct http_probe *p, void *tag);
/* Drops the probe queued with tag, wherever it is (queued, running,
 * waiting to retry), without a callback. Returns 0, -1 when none is. */
int http_engine_cancel(struct http_engine *e, const void *tag);
/* Probes queued, running or waiting to retry. */
size_t http_engine_pending(const struct http_engine *e);
/* Works until nothing is pending or the monotonic clock reaches deadline_ms
 * (now_monotonic_ms() scale; -1: no deadline). Returns the number of
 * callbacks made, -1 on an internal error. */
int http_engine_run_until(struct http_engine *e, int64_t deadline_ms);
/* One round: waits up to timeout_ms for engine sockets or the caller's fds
 * (at most 16; revents filled in), performs transfers, delivers completions. Returns the
 * number of callbacks made, -1 on an internal error. */
int http_engine_step(struct http_engine *e, struct pollfd *extra, unsigned n_extra, int timeout_ms);

#endif
