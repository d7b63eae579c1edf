/* rest.c — a small blocking REST client on the shared probe engine
 * (http.c), retrying as retry.c says. */
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

static void on_done(struct http_engine *e, const struct http_probe *p, struct http_result *r, void *tag,
		    void *user)
{
	(void)e, (void)p, (void)user;
	*(struct http_result **)tag = r;
}

static void add_header(struct http_probe *p, const char *line)
{
	char err[128];
	if (http_probe_add_header(p, line, err, sizeof err) < 0)
		warnx_("%s", err);
}

/* The probe of one attempt: every status is an answer, judged here. */
static void build_probe(struct http_probe *p, const struct rest_request *rq, int64_t timeout_ms)
{
	char err[128];
	http_probe_init(p);
	p->name = estrdup(rq->name ? rq->name : "rest");
	p->url = estrdup(rq->url);
	p->method = estrdup(rq->method ? rq->method : "GET");
	p->keep_body = true;
	p->keep_headers = true;
	p->timeout_ms = timeout_ms;
	p->max_body = rq->max_body ? (int64_t)rq->max_body : REST_MAX_BODY_DEFAULT;
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

static struct http_result *attempt_once(const struct rest_request *rq, int64_t timeout_ms)
{
	struct http_probe p;
	build_probe(&p, rq, timeout_ms);
	struct http_result *res = NULL;
	struct http_engine *e = http_engine_new(
		&(struct http_engine_opts){.parallel = 1, .on_done = on_done, .verbose = log_level > 1});
	http_engine_add(e, &p, &res);
	http_engine_run_until(e, -1);
	http_engine_free(e);
	http_probe_free(&p);
	if (!res) {
		res = ecalloc(1, sizeof *res);
		res->error = HTTP_ERR_OTHER;
		res->error_message = estrdup("no response");
	}
	return res;
}

/* "HTTP 503: <the body's message>", or the transport error; redacted. */
static char *describe(const struct http_result *r)
{
	char *s;
	if (r->error == HTTP_ERR_TOO_LARGE || r->code == 0) {
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

/* ms left before the deadline (-1: none), never below 0. */
static int64_t time_left(const struct rest_request *rq)
{
	if (rq->deadline_ms <= 0)
		return -1;
	int64_t left = rq->deadline_ms - now_monotonic_ms();
	return left > 0 ? left : 0;
}

static void keep_last(struct rest_response *out, struct http_result *r)
{
	out->code = r->error == HTTP_ERR_TOO_LARGE ? 0 : r->code;
	free(out->body);
	out->body = r->body;
	out->body_len = r->body_len;
	r->body = NULL;
}

int rest_call(const struct rest_request *rq, struct rest_response *out)
{
	memset(out, 0, sizeof *out);
	uint64_t rng = retry_seed();
	int64_t per = rq->attempt_timeout_ms > 0 ? rq->attempt_timeout_ms : HTTP_TIMEOUT_DEFAULT_MS;
	for (int attempt = 1;; attempt++) {
		int64_t left = time_left(rq), timeout = left >= 0 && left < per ? left : per;
		struct http_result *r = attempt_once(rq, timeout > 1000 ? timeout : 1000);
		out->attempts = attempt;
		if (r->error != HTTP_ERR_TOO_LARGE && r->code >= 200 && r->code < 300) {
			keep_last(out, r);
			http_result_free(r);
			return 0;
		}
		char *what = describe(r);
		keep_last(out, r);
		bool transient = r->error != HTTP_ERR_TOO_LARGE && retry_transient_code(r->code);
		int64_t after = retry_after_parse_ms(http_result_header(r, "Retry-After"), now_epoch_ms());
		http_result_free(r);
		int64_t wait = retry_next_wait_ms(&rq->retry, attempt, transient, after, time_left(rq), &rng);
		if (wait < 0) {
			free(out->error);
			out->error = what;
			return -1;
		}
		if (rq->quiet_retries)
			verbose("%s: %s; retrying in %lld ms", rq->name ? rq->name : rq->url, what, (long long)wait);
		else
			warnx_("%s: %s; retrying in %lld ms", rq->name ? rq->name : "request", what, (long long)wait);
		free(what);
		sleep_ms(wait);
	}
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
