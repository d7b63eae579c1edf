/* run.c — one round of queries: every metric's request sent at once on one
 * REST client, the answers read back, each metric judged. */
#include "metric-check.h"
#include "shipshape/redact.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANSWER_BYTES (8u << 20)

struct job {
	const struct metric *m;
	struct query_outcome out;
	bool done;
	int64_t started;
};

/* base + /api/v1/query or /api/v1/query_range, and the parameters. NULL
 * when base is not a URL. */
static char *query_url(const char *base, const struct metric *m, const char *query, int64_t timeout_ms)
{
	char *joined = url_join_path(base, m->range_ms ? "/api/v1/query_range" : "/api/v1/query");
	CURLU *h = joined ? curl_url() : NULL;
	char *out = NULL, *copy = NULL, param[96];
	if (joined && !h)
		out_of_memory();
	if (!h || curl_url_set(h, CURLUPART_URL, joined, 0) != CURLUE_OK)
		goto out;
	char *q = easprintf("query=%s", query);
	CURLUcode rc = curl_url_set(h, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
	free(q);
	snprintf(param, sizeof param, "timeout=%lldms", (long long)timeout_ms);
	if (rc == CURLUE_OK)
		rc = curl_url_set(h, CURLUPART_QUERY, param, CURLU_APPENDQUERY);
	if (rc == CURLUE_OK && m->range_ms) {
		double end = (double)now_epoch_ms() / 1000.0;
		snprintf(param, sizeof param, "start=%.3f", end - (double)m->range_ms / 1000.0);
		curl_url_set(h, CURLUPART_QUERY, param, CURLU_APPENDQUERY);
		snprintf(param, sizeof param, "end=%.3f", end);
		curl_url_set(h, CURLUPART_QUERY, param, CURLU_APPENDQUERY);
		snprintf(param, sizeof param, "step=%.3f", (double)m->step_ms / 1000.0);
		rc = curl_url_set(h, CURLUPART_QUERY, param, CURLU_APPENDQUERY);
	}
	if (rc == CURLUE_OK && curl_url_get(h, CURLUPART_URL, &out, 0) == CURLUE_OK)
		copy = estrdup(out);
out:
	curl_free(out);
	curl_url_cleanup(h);
	free(joined);
	return copy;
}

/* What came back: Prometheus's answer (an error answer too, whatever the
 * HTTP status), else why there is none. */
static void on_done(struct rest_response *res, void *tag, void *user)
{
	(void)user;
	struct job *j = tag;
	char err[256];
	j->done = true;
	j->out.duration_ms = now_monotonic_ms() - j->started;
	if (res->body && prom_parse(res->body, res->body_len, &j->out.answer, err, sizeof err) == 0) {
		rest_response_free(res);
		return;
	}
	if (res->error)
		j->out.error = easprintf("Prometheus did not answer: %s", res->error);
	else
		j->out.error = easprintf("Prometheus's answer could not be read: %s", err);
	rest_response_free(res);
}

static void start(const struct settings *s, struct rest_client *c, struct job *j, const char *query,
		  int64_t deadline_ms)
{
	int64_t left = deadline_ms - now_monotonic_ms();
	j->out.query = query;
	j->started = now_monotonic_ms();
	char *url = query_url(s->url, j->m, query, left > 0 ? left : 1);
	if (!url) {
		j->done = true;
		j->out.error = estrdup("the query URL could not be made from the Prometheus URL");
		return;
	}
	struct rest_request rq = {.name = "Prometheus", .method = "GET", .url = url, .bearer = s->bearer,
				  .attempt_timeout_ms = left > 0 ? left : 1, .deadline_ms = deadline_ms,
				  .max_body = MAX_ANSWER_BYTES, .ca_file = s->ca_file,
				  .retry = {.attempts = 1}, .quiet_retries = true,
				  /* an instant answer is a few hundred bytes: Prometheus
				     gzipping each one costs more than it saves (bench/) */
				  .uncompressed = j->m->range_ms == 0};
	verbose("%s: GET %s", j->m->name, query);
	rest_start(c, &rq, j);
	free(url);
}

/* Steps the client until every job is done, the deadline, or a signal. */
static void wait_all(struct rest_client *c, struct job *jobs, size_t n, int64_t deadline_ms, int signal_fd,
		     bool *interrupted)
{
	for (;;) {
		size_t open = 0;
		for (size_t i = 0; i < n; i++)
			open += !jobs[i].done;
		int64_t left = deadline_ms - now_monotonic_ms();
		if (!open || left <= 0)
			return;
		struct pollfd pfd = {.fd = signal_fd, .events = POLLIN};
		if (rest_client_step(c, signal_fd >= 0 ? &pfd : NULL, signal_fd >= 0, left < 1000 ? (int)left : 1000) < 0)
			return;
		if (signal_fd >= 0 && (pfd.revents & POLLIN)) {
			*interrupted = true;
			return;
		}
	}
}

/* Jobs still out at the deadline: dropped, said so. */
static void give_up(struct rest_client *c, struct job *jobs, size_t n, const struct settings *s, bool interrupted)
{
	char t[32];
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].done)
			continue;
		rest_cancel(c, &jobs[i]);
		jobs[i].done = true;
		jobs[i].out.duration_ms = now_monotonic_ms() - jobs[i].started;
		jobs[i].out.error = interrupted ? estrdup("interrupted before Prometheus answered")
						: easprintf("Prometheus did not answer within -t %s",
							    duration_format(s->timeout_ms, t, sizeof t));
	}
}

void run_round(const struct settings *s, struct rest_client *c, struct report *r, int64_t deadline_ms,
	       int signal_fd, bool *interrupted)
{
	size_t n = s->n_metrics * 2;
	struct job *jobs = ecalloc(n, sizeof *jobs);
	for (size_t i = 0; i < s->n_metrics; i++) {
		const struct metric *m = &s->metrics[i];
		jobs[2 * i].m = jobs[2 * i + 1].m = m;
		start(s, c, &jobs[2 * i], m->resolved, deadline_ms);
		if (m->compare)
			start(s, c, &jobs[2 * i + 1], m->resolved_previous, deadline_ms);
		else
			jobs[2 * i + 1].done = true;
	}
	wait_all(c, jobs, n, deadline_ms, signal_fd, interrupted);
	give_up(c, jobs, n, s, *interrupted);
	for (size_t i = 0; i < s->n_metrics; i++) {
		const struct metric *m = &s->metrics[i];
		judge_metric(s, m, &jobs[2 * i].out, m->compare ? &jobs[2 * i + 1].out : NULL, r);
	}
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].out.error);
		prom_answer_free(&jobs[i].out.answer);
	}
	free(jobs);
}

struct rest_client *query_client_new(const struct settings *s)
{
	struct rest_client *c = rest_client_new(&(struct rest_client_opts){
		.parallel = s->n_metrics < 64 ? (int)s->n_metrics * 2 : 128, .on_done = on_done});
	if (!c)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	return c;
}
