/* rest.c — the REST client on the shared probe engine (http.c), retrying
 * as retry.c says: an asynchronous face (rest_client) and rest_call(), the
 * blocking one, built on it. */
#include "shipshape/rest.h"
#include "shipshape/common.h"
#include "shipshape/http.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One call: its probe (the request, the same for every attempt), its
 * policy, and where it is. */
struct call {
	struct rest_client *c;
	struct http_probe probe;
	int64_t per_ms, deadline_ms;
	struct retry_policy retry;
	bool quiet_retries;
	void *tag;
	int attempts;
	int64_t started;     /* monotonic ms of the current attempt */
	int64_t not_before;  /* waiting for its backoff until then; 0: in the engine */
	struct call *next;
};

struct rest_client {
	struct rest_client_opts o;
	struct http_engine *engine;
	struct call *calls;  /* every call not over */
	size_t n_calls;
	uint64_t rng;
};

static void add_header(struct http_probe *p, const char *line)
{
	char err[128];
	if (http_probe_add_header(p, line, err, sizeof err) < 0)
		warnx_("%s", err);
}

/* The probe of the call: every status is an answer, judged here. */
static void build_probe(struct http_probe *p, const struct rest_request *rq)
{
	char err[128];
	http_probe_init(p);
	p->name = estrdup(rq->name ? rq->name : "rest");
	p->url = estrdup(rq->url);
	p->method = estrdup(rq->method ? rq->method : "GET");
	p->keep_body = true;
	p->keep_headers = true;
	p->uncompressed = rq->uncompressed;
	p->max_body = rq->max_body ? (int64_t)rq->max_body : REST_MAX_BODY_DEFAULT;
	p->tls_verify = !rq->tls_insecure;
	p->ca_file = rq->ca_file ? estrdup(rq->ca_file) : NULL;
	http_probe_add_status(p, "100-599", err, sizeof err);
	add_header(p, "Accept: application/json");
	if (rq->bearer) {
		redact_register(rq->bearer);
		char *h = easprintf("Authorization: Bearer %s", rq->bearer);
		add_header(p, h); /* a secret header: its value is registered too */
		free(h);
	}
	if (rq->body) {
		add_header(p, "Content-Type: application/json");
		p->body = estrdup(rq->body);
		p->body_len = strlen(rq->body);
	}
}

/* "HTTP 503: <the body's message>", or the transport error; redacted. */
static char *describe(const struct http_result *r)
{
	char *s;
	if (r->error != HTTP_ERR_NONE || r->code == 0) {
		s = easprintf("%s error: %s", http_error_name(r->error ? r->error : HTTP_ERR_OTHER),
			      r->error_message ? r->error_message : "no response");
	} else {
		cJSON *doc = r->body ? cJSON_Parse(r->body) : NULL;
		const char *msg = json_path_string(doc, "message", NULL);
		s = msg ? easprintf("HTTP %ld: %s", r->code, msg) : easprintf("HTTP %ld", r->code);
		cJSON_Delete(doc);
	}
	char *red = redact_string(s);
	free(s);
	return red;
}

/* ms left before the call's deadline (-1: none), never below 0. */
static int64_t time_left(const struct call *k)
{
	if (k->deadline_ms <= 0)
		return -1;
	int64_t left = k->deadline_ms - now_monotonic_ms();
	return left > 0 ? left : 0;
}

/* Sends the next attempt: bounded by its own timeout and by what is left
 * of the deadline (never less than a second, so it can answer at all). A
 * retry never trusts the connection the failure happened on. */
static void attempt(struct call *k)
{
	int64_t left = time_left(k), timeout = k->per_ms;
	if (left >= 0 && left < timeout)
		timeout = left > 1000 ? left : 1000 < timeout ? 1000 : timeout;
	k->probe.timeout_ms = timeout;
	k->probe.fresh_connect = k->attempts > 0;
	k->attempts++;
	k->started = now_monotonic_ms();
	k->not_before = 0;
	http_engine_add(k->c->engine, &k->probe, k);
}

/* Worth another attempt: no answer (but an untrusted certificate), 408,
 * 429, 5xx; never a body too large. */
static bool transient(const struct http_result *r)
{
	if (r->error == HTTP_ERR_TOO_LARGE || r->error == HTTP_ERR_CERT)
		return false;
	return r->error != HTTP_ERR_NONE || retry_transient_code(r->code);
}

/* The response of one attempt, taking r's body. */
static void response_of(struct rest_response *out, const struct call *k, struct http_result *r)
{
	memset(out, 0, sizeof *out);
	if (r->error != HTTP_ERR_NONE || r->code < 200 || r->code > 299)
		out->error = describe(r);
	out->code = r->error == HTTP_ERR_TOO_LARGE ? 0 : r->code;
	out->attempts = k->attempts;
	out->body = r->body;
	out->body_len = r->body_len;
	r->body = NULL;
	out->duration_ms = now_monotonic_ms() - k->started;
	out->transport_error = r->error != HTTP_ERR_NONE;
	int64_t now = now_epoch_ms();
	out->retry_after_ms = retry_after_parse_ms(http_result_header(r, "Retry-After"), now);
	out->ratelimit_reset_ms = retry_ratelimit_reset_ms(http_result_header(r, "Ratelimit-Reset"), now);
	const char *left = http_result_header(r, "Ratelimit-Remaining");
	out->ratelimit_remaining = left && *left >= '0' && *left <= '9' ? strtol(left, NULL, 10) : -1;
	if (out->retry_after_ms < 0 && out->code == 429)
		out->retry_after_ms = out->ratelimit_reset_ms; /* a 429 says when through either */
}

static void forget(struct rest_client *c, struct call *k)
{
	for (struct call **pp = &c->calls; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			c->n_calls--;
			break;
		}
	}
	http_probe_free(&k->probe);
	free(k);
}

static void say_retry(const struct call *k, const struct rest_response *res, int64_t wait)
{
	const char *name = k->probe.name;
	if (k->quiet_retries)
		verbose("%s: %s; retrying in %lld ms", name, res->error, (long long)wait);
	else
		warnx_("%s: %s; retrying in %lld ms", name, res->error, (long long)wait);
}

/* An attempt is over: the call is done, or waits for its next attempt. */
static void on_attempt_done(struct http_engine *e, const struct http_probe *p, struct http_result *r,
			    void *tag, void *user)
{
	(void)e, (void)p;
	struct rest_client *c = user;
	struct call *k = tag;
	struct rest_response res;
	response_of(&res, k, r);
	int64_t wait = -1;
	if (res.error) {
		bool again = transient(r);
		int64_t after = res.retry_after_ms;
		if (after >= 0 && k->retry.retry_after_max_ms > 0 && after > k->retry.retry_after_max_ms)
			again = false; /* asked to wait longer than the policy will */
		res.permanent = !again;
		wait = retry_next_wait_ms(&k->retry, k->attempts, again, after, time_left(k), &c->rng);
	}
	http_result_free(r);
	if (wait >= 0) {
		if (c->o.on_retry)
			c->o.on_retry(&res, wait, k->tag, c->o.user);
		else
			say_retry(k, &res, wait);
		rest_response_free(&res);
		k->not_before = now_monotonic_ms() + (wait > 0 ? wait : 1);
		return;
	}
	void *t = k->tag;
	forget(c, k);
	if (c->o.on_done)
		c->o.on_done(&res, t, c->o.user);
	else
		rest_response_free(&res);
}

struct rest_client *rest_client_new(const struct rest_client_opts *o)
{
	struct rest_client *c = ecalloc(1, sizeof *c);
	c->o = *o;
	c->rng = retry_seed();
	c->engine = http_engine_new(&(struct http_engine_opts){
		.parallel = o->parallel, .on_done = on_attempt_done, .user = c, .verbose = log_level > 1});
	if (!c->engine) {
		free(c);
		return NULL;
	}
	return c;
}

void rest_client_free(struct rest_client *c)
{
	if (!c)
		return;
	http_engine_free(c->engine);
	while (c->calls)
		forget(c, c->calls);
	free(c);
}

void rest_start(struct rest_client *c, const struct rest_request *rq, void *tag)
{
	struct call *k = ecalloc(1, sizeof *k);
	k->c = c;
	build_probe(&k->probe, rq);
	k->per_ms = rq->attempt_timeout_ms > 0 ? rq->attempt_timeout_ms : HTTP_TIMEOUT_DEFAULT_MS;
	k->deadline_ms = rq->deadline_ms;
	k->retry = rq->retry;
	k->quiet_retries = rq->quiet_retries;
	k->tag = tag;
	k->next = c->calls;
	c->calls = k;
	c->n_calls++;
	attempt(k);
}

void rest_cancel(struct rest_client *c, const void *tag)
{
	for (struct call *k = c->calls; k; k = k->next) {
		if (k->tag == tag) {
			if (!k->not_before)
				http_engine_cancel(c->engine, k);
			forget(c, k);
			return;
		}
	}
}

size_t rest_client_pending(const struct rest_client *c)
{
	return c->n_calls;
}

/* Sends the retries whose backoff is over; returns the ms until the next
 * one is due (-1: none waits). */
static int64_t start_due(struct rest_client *c)
{
	int64_t now = now_monotonic_ms(), next = -1;
	for (struct call *k = c->calls; k; k = k->next) {
		if (!k->not_before)
			continue;
		if (k->not_before <= now)
			attempt(k);
		else if (next < 0 || k->not_before - now < next)
			next = k->not_before - now;
	}
	return next;
}

int rest_client_step(struct rest_client *c, struct pollfd *extra, unsigned n_extra, int timeout_ms)
{
	int64_t next = start_due(c);
	if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
		timeout_ms = (int)next;
	if (http_engine_step(c->engine, extra, n_extra, timeout_ms) < 0)
		return -1;
	start_due(c);
	return 0;
}

/* ---- the blocking face ---- */

struct sync_call {
	struct rest_response *out;
	bool done;
};

static void sync_done(struct rest_response *res, void *tag, void *user)
{
	(void)user;
	struct sync_call *s = tag;
	*s->out = *res;
	s->done = true;
}

int rest_call(const struct rest_request *rq, struct rest_response *out)
{
	memset(out, 0, sizeof *out);
	out->retry_after_ms = out->ratelimit_reset_ms = out->ratelimit_remaining = -1;
	struct sync_call s = {.out = out};
	struct rest_client *c = rest_client_new(&(struct rest_client_opts){.parallel = 1, .on_done = sync_done});
	if (!c) {
		out->error = estrdup("unable to start libcurl");
		out->transport_error = true;
		return -1;
	}
	rest_start(c, rq, &s);
	while (!s.done)
		if (rest_client_step(c, NULL, 0, 1000) < 0)
			break;
	rest_client_free(c);
	if (!s.done)
		out->error = estrdup("internal error: the transfer could not be waited for");
	return out->error ? -1 : 0;
}

void rest_response_free(struct rest_response *r)
{
	free(r->body);
	free(r->error);
	memset(r, 0, sizeof *r);
}

cJSON *rest_response_json(const struct rest_response *r)
{
	cJSON *doc = r->body ? cJSON_Parse(r->body) : NULL;
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}
