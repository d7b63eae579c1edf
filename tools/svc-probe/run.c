/* run.c — running the probes: the run's deadline (-t), the HTTP engine for
 * a batch of probes, and the checks a result becomes. */
#include "svc-probe.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t run_deadline_ms = -1;

void run_deadline_set(int64_t timeout_ms)
{
	run_deadline_ms = timeout_ms > 0 ? now_monotonic_ms() + timeout_ms : -1;
}

int64_t run_deadline(void)
{
	return run_deadline_ms;
}

bool run_deadline_passed(void)
{
	return run_deadline_ms >= 0 && now_monotonic_ms() >= run_deadline_ms;
}

char *url_join(const char *base, const char *path)
{
	char *url = url_join_path(base, path);
	if (!url)
		die(EXIT_DATAERR, "unable to join a path to the URL of the API");
	return url;
}

void probe_copy_connection(struct http_probe *dst, const struct http_probe *b, const char *url)
{
	http_probe_init(dst);
	http_probe_copy(dst, b, HTTP_PROBE_CONNECTION);
	dst->name = estrdup(b->name ? b->name : "api");
	dst->url = estrdup(url);
	dst->status = ecalloc(1, sizeof *dst->status);
	dst->status[0].lo = 100;
	dst->status[0].hi = 999;
	dst->n_status = 1;
}

struct run_ctx {
	struct http_result **results;
};

static void on_done(struct http_engine *e, const struct http_probe *p, struct http_result *r,
		    void *tag, void *user)
{
	(void)e;
	(void)p;
	struct run_ctx *ctx = user;
	ctx->results[(size_t)tag] = r;
}

/* A probe the run's deadline cut short: unknown, not judged. */
static struct http_result *unfinished(void)
{
	struct http_result *r = ecalloc(1, sizeof *r);
	r->error = HTTP_ERR_TIMEOUT;
	r->error_message = estrdup("the run's timeout (-t) passed before this probe finished");
	r->attempts = 1;
	http_result_add_outcome(r, "transport", STATUS_UNKNOWN, "%s", r->error_message);
	return r;
}

void run_probes(struct http_probe *const *probes, struct http_result **results, size_t n,
		int parallel, int verbose)
{
	struct run_ctx ctx = {results};
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){
		.parallel = parallel > 0 ? parallel : 16, .verbose = verbose, .on_done = on_done, .user = &ctx});
	if (!e)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	for (size_t i = 0; i < n; i++) {
		results[i] = NULL;
		http_engine_add(e, probes[i], (void *)i);
	}
	if (http_engine_run_until(e, run_deadline_ms) < 0)
		die(EXIT_UNKNOWN, "the probe engine failed");
	http_engine_free(e);
	for (size_t i = 0; i < n; i++)
		if (!results[i])
			results[i] = unfinished();
}

void add_result_checks(struct report *rep, const char *prefix, const struct http_probe *p,
		       const struct http_result *r)
{
	int64_t now = now_epoch_ms();
	for (size_t i = 0; i < r->n_outcomes; i++) {
		const struct http_outcome *o = &r->outcomes[i];
		int dup = 0;
		for (size_t k = 0; k < i; k++)
			dup += strcmp(r->outcomes[k].name, o->name) == 0;
		char *name = dup ? easprintf("%s.%s.%d", prefix, o->name, dup + 1)
				 : easprintf("%s.%s", prefix, o->name);
		cJSON *data = NULL;
		if (i == 0) {
			data = http_result_json(r, now);
			/* The assertions are the checks themselves. */
			cJSON_DeleteItemFromObjectCaseSensitive(data, "assertions");
		}
		/* The time to the verdict, queueing and retries included. */
		cJSON *chk = report_add_check(rep, name, o->status, (int64_t)llround(r->elapsed_ms), data, "%s",
					      o->message);
		if (i == 0) {
			char label[160];
			snprintf(label, sizeof label, "%s_time", p->name ? p->name : "target");
			check_add_perf(chk, label, r->total_ms / 1000.0, "s",
				       p->latency_warn_ms ? (double)p->latency_warn_ms / 1000.0 : NAN,
				       p->latency_crit_ms ? (double)p->latency_crit_ms / 1000.0 : NAN);
			snprintf(label, sizeof label, "%s_size", p->name ? p->name : "target");
			check_add_perf(chk, label, (double)r->size, "B", NAN, NAN);
		}
		free(name);
	}
}

void add_tcp_checks(struct report *rep, const struct tcp_probe *t, const struct tcp_result *r)
{
	cJSON *data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "address", t->host);
	cJSON_AddNumberToObject(data, "port", t->port);
	cJSON_AddBoolToObject(data, "tls", t->tls);
	if (r->tls_version[0])
		cJSON_AddStringToObject(data, "tls_version", r->tls_version);
	cJSON *tm = cJSON_AddObjectToObject(data, "timings");
	cJSON_AddNumberToObject(tm, "connect", r->connect_ms);
	cJSON_AddNumberToObject(tm, "tls", r->tls_ms);
	cJSON_AddNumberToObject(tm, "total", r->total_ms);
	if (t->redis) {
		cJSON_AddStringToObject(data, "protocol", "redis");
		cJSON_AddBoolToObject(data, "auth", t->redis_auth);
		if (t->redis_user)
			cJSON_AddStringToObject(data, "user", t->redis_user);
		cJSON_AddNumberToObject(data, "db", t->redis_db >= 0 ? (double)t->redis_db : 0);
		cJSON_AddNumberToObject(data, "latency_warning_ms", (double)t->latency_warn_ms);
		cJSON_AddNumberToObject(data, "latency_critical_ms", (double)t->latency_crit_ms);
	}
	if (r->step_failed)
		cJSON_AddNumberToObject(data, "failed_exchange", r->step_failed);
	if (r->reply) {
		char *safe = redact_string(r->reply);
		cJSON_AddStringToObject(data, "reply", safe);
		free(safe);
	}
	char *name = easprintf("%s.%s", tcp_check_prefix(t), t->name);
	cJSON *chk = report_add_check(rep, name, r->status, (int64_t)llround(r->total_ms), data, "%s",
				      r->message ? r->message : "");
	char label[160];
	snprintf(label, sizeof label, "%s_time", t->name);
	check_add_perf(chk, label, r->total_ms / 1000.0, "s",
		       t->latency_warn_ms ? (double)t->latency_warn_ms / 1000.0 : NAN,
		       t->latency_crit_ms ? (double)t->latency_crit_ms / 1000.0 : NAN);
	free(name);
}
