/* svc-probe.h — svc-probe's internal interfaces: targets, TCP probes and
 * the Redis probes built on them, security checks, the load mode and
 * baseline comparison. */
#ifndef SVC_PROBE_H
#define SVC_PROBE_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "shipshape/http.h"
#include "shipshape/report.h"

/* ---- TCP probes ---- */

/* How a step's reply is judged: a match of its regex, or (a Redis probe)
 * one RESP line read as the answer to that command. */
enum tcp_reply { TCP_REPLY_MATCH, TCP_REPLY_REDIS_AUTH, TCP_REPLY_REDIS_SELECT, TCP_REPLY_REDIS_PING };

struct tcp_step {
	char *send;          /* bytes to send (escapes \r \n \t \\ decoded), may be NULL */
	size_t send_len;
	char *expect;        /* POSIX extended regex the reply must match, may be NULL */
	regex_t re;
	enum tcp_reply judge;
};

struct tcp_probe {
	char *name;
	char *host;
	int port;
	bool tls, tls_verify;
	char *ca_file, *sni;
	enum http_ip ip;
	int64_t connect_timeout_ms, timeout_ms;
	struct tcp_step *steps;
	size_t n_steps;
	bool redis;                /* a Redis probe (redis.c): checks redis.NAME */
	bool redis_auth;           /* it sends AUTH */
	char *redis_user;          /* the ACL user of AUTH, NULL: the default user */
	long redis_db;             /* SELECT, -1: none */
	int64_t latency_warn_ms, latency_crit_ms; /* the whole probe's time, 0: none */
};

struct tcp_result {
	enum status status;
	char *message;        /* redacted */
	double connect_ms, tls_ms, total_ms;
	char tls_version[16];
	char *reply;          /* the last reply read (bounded), for the report */
	int step_failed;      /* 1-based step index, 0 none */
};

void tcp_probe_init(struct tcp_probe *t);
void tcp_probe_free(struct tcp_probe *t);
/* From "host:port" (or "[v6]:port"); 0 or -1 with err. */
int tcp_probe_set_address(struct tcp_probe *t, const char *addr, char *err, size_t errsize);
int tcp_probe_add_step(struct tcp_probe *t, const char *send, const char *expect, char *err, size_t errsize);
/* --expect: the reply the last step's send must get, when it has none yet
 * (--send X --expect Y form one exchange); else a step of its own. */
int tcp_probe_add_expect(struct tcp_probe *t, const char *expect, char *err, size_t errsize);
/* From a config object {type: tcp, name, address, tls, tls_verify, ca_file,
 * sni, ip_version, connect_timeout, timeout, exchange: [{send, expect}]}. */
int tcp_probe_from_json(struct tcp_probe *t, const cJSON *obj, char *err, size_t errsize);
/* Starts the probes concurrently, at most `parallel` at a time (0: 16), in
 * threads beside the HTTP engine; tcp_join_all() waits for them all and
 * fills results. */
struct tcp_batch;
struct tcp_batch *tcp_start_all(struct tcp_probe *const *probes, struct tcp_result *results, size_t n,
				int parallel);
void tcp_join_all(struct tcp_batch *b);
void tcp_result_free(struct tcp_result *r);
/* A step whose send is raw bytes (no escapes decoded) and whose reply is
 * one line, judged as `judge` says. */
void tcp_probe_add_line_step(struct tcp_probe *t, const char *send, size_t len, enum tcp_reply judge);
/* A printable excerpt of a reply for messages (\r \n \xHH, bounded): a
 * new string. */
char *tcp_excerpt(const char *s, size_t len);
/* "tcp" or "redis": the check of probe t is PREFIX.NAME. */
const char *tcp_check_prefix(const struct tcp_probe *t);

/* ---- Redis probes (redis.c) ---- */

/* The thresholds of a Redis probe unless the config or a flag sets them
 * (the schema's cache.latency_warning and cache.latency_critical). */
#define REDIS_LATENCY_WARNING_DEFAULT_MS 250
#define REDIS_LATENCY_CRITICAL_DEFAULT_MS 1000

/* A TCP probe from a redis:// or rediss:// URL: AUTH (when the URL, or
 * password, gives credentials), SELECT (a /DB other than 0), PING. The
 * password is registered for redaction. 0, or -1 with err (which never
 * quotes the URL). */
int redis_probe_from_url(struct tcp_probe *t, const char *url, char *err, size_t errsize);
/* "AUTH", "SELECT", "PING": the command a step judged as kind sends. */
const char *redis_command_name(enum tcp_reply kind);
/* The verdict on reply line (an excerpt, printable) to a step judged as
 * kind: STATUS_OK, or another with msg saying why. */
enum status redis_judge_reply(const struct tcp_probe *t, enum tcp_reply kind, const char *line, char *msg,
			      size_t msgsize);
/* The verdict on a probe whose exchanges all passed: its time against the
 * thresholds, and the message. */
enum status redis_verdict(const struct tcp_probe *t, const struct tcp_result *r, char *msg, size_t msgsize);

/* ---- performance ---- */

struct perf_limits {
	int64_t p50, p90, p95, p99, max; /* ms, 0: none */
	double errors_pct;               /* <0: none */
	double rps;                      /* minimum, 0: none */
};

struct perf_spec {
	long requests;
	int concurrency;
	struct perf_limits warn, crit;
};

void perf_limits_init(struct perf_limits *l);
/* "p95=500ms,errors=1%,rps=100" into l. */
int perf_limits_parse(struct perf_limits *l, const char *spec, char *err, size_t errsize);
/* The "performance" member of a probe config object. */
int perf_spec_from_json(struct perf_spec *ps, const cJSON *obj, char *err, size_t errsize);

/* Runs a load of ps->requests against p and adds a perf.NAME check; on a
 * terminal, unless quiet or verbose, a progress line on stderr meanwhile. */
void perf_run(struct report *rep, const struct http_probe *p, const struct perf_spec *ps,
	      int verbose, bool quiet);
/* Compares the perf.* checks of rep with a saved report (the baseline):
 * adds perf.NAME.baseline checks. */
void perf_compare_baseline(struct report *rep, const cJSON *baseline, double warn_pct, double crit_pct);

/* ---- security ---- */

enum {
	SEC_CORS = 1 << 0,
	SEC_TRUSTED_HOST = 1 << 1,
	SEC_RATE_LIMIT = 1 << 2,
	SEC_HEADERS = 1 << 3,
	SEC_TLS = 1 << 4,
	SEC_AUTH = 1 << 5,
	SEC_ALL = (1 << 6) - 1,
};

struct security_spec {
	unsigned checks;            /* SEC_* */
	char *base_url;             /* the API */
	char *path;                 /* the path probed (health path) */
	char **allowed_origins;
	size_t n_allowed_origins;
	char *disallowed_origin;
	char **trusted_hosts;
	size_t n_trusted_hosts;
	char *untrusted_host;
	long rate_per_minute, rate_burst;
	long rate_max_requests;     /* bound on the burst */
	int rate_concurrency;
	char *rate_path;
	bool rate_burst_allowed;    /* the config's deploy.security.rate_limit_burst, or no config */
	char *environment;          /* the config's; NULL: none given (production's rules) */
	bool retry_after_required;
	int64_t hsts_min_age;       /* seconds */
	char **auth_paths;
	size_t n_auth_paths;
	int cert_warn_days, cert_crit_days;
	struct http_probe base;     /* connection settings copied into every request */
};

int security_parse_list(const char *list, unsigned *checks);
void security_spec_free(struct security_spec *s);
void security_run(struct report *rep, const struct security_spec *s, int verbose);

/* ---- running (run.c) ---- */

/* -t: the whole run ends timeout_ms from now (0: no bound). Probes still
 * running then are unknown. */
void run_deadline_set(int64_t timeout_ms);
int64_t run_deadline(void);  /* monotonic ms, -1: none */
bool run_deadline_passed(void);

/* A new probe with the connection settings of base and the given URL. */
void probe_copy_connection(struct http_probe *dst, const struct http_probe *base, const char *url);
/* base_url + path, with exactly one slash between (new string). */
char *url_join(const char *base, const char *path);
/* Runs probes concurrently on one engine; results[i] for probes[i]. */
void run_probes(struct http_probe *const *probes, struct http_result **results, size_t n,
		int parallel, int verbose);
/* Adds one check per outcome of r ("PREFIX.OUTCOME"), the first carrying
 * the result's data and perfdata. */
void add_result_checks(struct report *rep, const char *prefix, const struct http_probe *p,
		       const struct http_result *r);
/* One check "tcp.NAME" for a TCP probe's result. */
void add_tcp_checks(struct report *rep, const struct tcp_probe *t, const struct tcp_result *r);

#endif
