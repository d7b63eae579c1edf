/* driver_render.c — the Render driver: Render's REST API (POST a deploy or a
 * rollback, then poll the deploy until live or failed) or a deploy hook,
 * through the REST client (rest.h), which owns retries and secret masking. */
#include "shipshape/driver.h"
#include "shipshape/common.h"
#include "shipshape/http.h"
#include "shipshape/journal.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS (15 * 60 * 1000)
#define DEFAULT_POLL_MS 5000
#define POST_ATTEMPTS 4
#define POST_BACKOFF_MS 500 /* doubled after each attempt, with jitter */
#define REQUEST_TIMEOUT_MS 30000

static const char *const failed_statuses[] = {"build_failed", "update_failed", "pre_deploy_failed",
					      "canceled", "deactivated", NULL};

struct render {
	const char *api_url, *service_id, *api_key, *hook;
	int64_t poll_ms, deadline; /* deadline on the monotonic clock */
};

static int64_t remaining(const struct render *rd)
{
	return rd->deadline - now_monotonic_ms();
}

/* A call to Render's API under the deploy's deadline: POSTs are retried
 * (5xx, 429, no answer; Retry-After honoured), polls are not (the poll
 * loop is their retry). */
static int render_call(const struct render *rd, const char *method, const char *url, const char *api_key,
		       const char *body, int attempts, struct rest_response *out)
{
	struct rest_request rq = {
		.name = "Render", .method = method, .url = url, .bearer = api_key, .body = body,
		.attempt_timeout_ms = REQUEST_TIMEOUT_MS, .deadline_ms = rd->deadline,
		.retry = {.attempts = attempts, .initial_ms = POST_BACKOFF_MS, .jitter = true},
	};
	return rest_call(&rq, out);
}

/* POSTs with retries; returns the parsed response body of a 2xx, or NULL
 * with *why set. */
static cJSON *post_json(const struct render *rd, const char *url, const char *api_key, const char *body,
			cJSON *data, char **why)
{
	struct rest_response res;
	int rc = render_call(rd, "POST", url, api_key, body, POST_ATTEMPTS, &res);
	cJSON_DeleteItemFromObject(data, "post_attempts");
	cJSON_AddNumberToObject(data, "post_attempts", res.attempts);
	cJSON *doc = rc == 0 ? rest_response_json(&res) : NULL;
	if (rc < 0)
		*why = easprintf("Render refused the request: %s", res.error);
	else if (!doc)
		*why = easprintf("Render answered HTTP %ld without a JSON object", res.code);
	rest_response_free(&res);
	return doc;
}

static bool is_failed(const char *st)
{
	for (size_t i = 0; failed_statuses[i]; i++)
		if (strcmp(st, failed_statuses[i]) == 0)
			return true;
	return false;
}

/* Polls the deploy until live (0) or failed/timed out (-1, *why set). */
static int poll_deploy(const struct render *rd, const char *deploy_id, cJSON *data, char **why)
{
	char *url = easprintf("%s/v1/services/%s/deploys/%s", rd->api_url, rd->service_id, deploy_id);
	int polls = 0, errors = 0, rc = -1;
	char *status = estrdup("created");
	for (;;) {
		int64_t left = remaining(rd);
		if (left <= 0) {
			char t[32];
			int64_t total = json_path_number(data, "timeout_ms", 0);
			*why = easprintf("deploy %s not live within %s (last status %s)", deploy_id,
					 duration_format(total, t, sizeof t), status);
			break;
		}
		struct rest_response r;
		render_call(rd, "GET", url, rd->api_key, NULL, 1, &r);
		polls++;
		if (r.code == 200) {
			cJSON *doc = rest_response_json(&r);
			const char *st = json_path_string(doc, "status", NULL);
			if (st) {
				free(status);
				status = estrdup(st);
			}
			cJSON_Delete(doc);
			if (strcmp(status, "live") == 0) {
				rest_response_free(&r);
				rc = 0;
				break;
			}
			if (is_failed(status)) {
				*why = easprintf("Render deploy %s ended %s", deploy_id, status);
				rest_response_free(&r);
				break;
			}
		} else if (retry_transient_code(r.code)) {
			verbose("Render poll: %s (tolerated)", r.error ? r.error : "no answer");
			errors++;
		} else {
			*why = easprintf("polling deploy %s: %s", deploy_id, r.error ? r.error : "no answer");
			rest_response_free(&r);
			break;
		}
		rest_response_free(&r);
		int64_t wait = rd->poll_ms < remaining(rd) ? rd->poll_ms : remaining(rd);
		sleep_ms(wait);
	}
	cJSON_AddStringToObject(data, "render_status", status);
	cJSON_AddNumberToObject(data, "polls", polls);
	cJSON_AddNumberToObject(data, "poll_errors", errors);
	free(status);
	free(url);
	return rc;
}

static void render_settings(const struct driver_ctx *ctx, struct render *rd)
{
	const cJSON *c = ctx->config;
	rd->api_url = json_path_string(c, "deploy.render.api_url", "https://api.render.com");
	rd->service_id = json_path_string(c, "deploy.render.service_id", NULL);
	rd->api_key = json_path_string(c, "deploy.render.api_key", NULL);
	rd->hook = json_path_string(c, "deploy.render.deploy_hook_url", NULL);
	if (rd->service_id && !*rd->service_id)
		rd->service_id = NULL;
	if (rd->api_key && !*rd->api_key)
		rd->api_key = NULL;
	if (rd->hook && !*rd->hook)
		rd->hook = NULL;
	if (rd->api_key)
		redact_register(rd->api_key);
	if (rd->hook)
		redact_register(rd->hook); /* the hook URL carries its key */
	rd->poll_ms = json_path_duration_ms(c, "deploy.render.poll_interval", DEFAULT_POLL_MS);
	if (rd->poll_ms <= 0)
		rd->poll_ms = DEFAULT_POLL_MS;
	int64_t t = ctx->timeout_ms > 0 ? ctx->timeout_ms
					: json_path_duration_ms(c, "deploy.timeout", DEFAULT_TIMEOUT_MS);
	if (t <= 0)
		t = DEFAULT_TIMEOUT_MS;
	rd->deadline = now_monotonic_ms() + t;
}

int driver_render_deploy(const struct driver_ctx *ctx, struct driver_outcome *out, bool rollback)
{
	struct render rd;
	render_settings(ctx, &rd);
	cJSON *data = out->data;
	cJSON_AddNumberToObject(data, "timeout_ms", (double)(rd.deadline - now_monotonic_ms()));
	char *why = NULL, *url = NULL;
	cJSON *created = NULL;
	bool api = rd.api_key && rd.service_id;
	int rc = -1;

	if (rollback) {
		const char *target = json_path_string(ctx->target_apply, "data.render_deploy_id", NULL);
		if (!api) {
			why = estrdup("a Render rollback needs deploy.render.service_id and api_key");
			goto out;
		}
		if (!target) {
			why = easprintf("no Render deploy id is recorded for release %s", ctx->release);
			goto out;
		}
		cJSON_AddStringToObject(data, "rollback_to_deploy_id", target);
		url = easprintf("%s/v1/services/%s/rollback", rd.api_url, rd.service_id);
		cJSON *body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "deployId", target);
		char *text = cJSON_PrintUnformatted(body);
		cJSON_Delete(body);
		created = post_json(&rd, url, rd.api_key, text, data, &why);
		free(text);
	} else if (rd.hook) {
		cJSON_AddStringToObject(data, "trigger", "deploy_hook");
		created = post_json(&rd, rd.hook, NULL, NULL, data, &why);
		if (created) {
			/* the hook answers {"deploy":{"id":..}} */
			cJSON *inner = cJSON_DetachItemFromObject(created, "deploy");
			if (cJSON_IsObject(inner)) {
				cJSON_Delete(created);
				created = inner;
			} else {
				cJSON_Delete(inner);
			}
		}
	} else {
		url = easprintf("%s/v1/services/%s/deploys", rd.api_url, rd.service_id);
		created = post_json(&rd, url, rd.api_key, "{\"clearCache\":\"do_not_clear\"}", data, &why);
	}
	if (!created)
		goto out;
	const char *id = json_path_string(created, "id", NULL);
	if (!id) {
		why = estrdup("Render's answer has no deploy id");
		goto out;
	}
	cJSON_AddStringToObject(data, "render_deploy_id", id);
	if (!api) {
		cJSON_AddStringToObject(data, "render_status", json_path_string(created, "status", "created"));
		rc = 0;
		free(out->message);
		out->message = easprintf("Render deploy %s triggered by the deploy hook; not polled (no api_key)", id);
		out->status = STATUS_OK;
		goto out;
	}
	if (poll_deploy(&rd, id, data, &why) == 0) {
		rc = 0;
		free(out->message);
		out->message = easprintf("Render deploy %s of %s is live", id, ctx->release);
		out->status = STATUS_OK;
	}
out:
	if (rc < 0) {
		free(out->message);
		out->message = redact_string(why ? why : "the Render deploy failed");
		out->status = STATUS_CRITICAL;
	}
	free(why);
	free(url);
	cJSON_Delete(created);
	return rc;
}

void driver_render_check(const struct driver_ctx *ctx, struct report *r)
{
	struct render rd;
	render_settings(ctx, &rd);
	if (rd.api_key && rd.service_id)
		report_add_check(r, "rollback.credentials", STATUS_OK, 0, NULL,
				 "Render API key and service id are set");
	else
		report_add_check(r, "rollback.credentials", STATUS_CRITICAL, 0, NULL,
				 "a Render rollback needs deploy.render.service_id and api_key");
	char *msg = NULL;
	enum status st = driver_render_target(ctx, &msg);
	report_add_check(r, "rollback.artifact", st, 0, NULL, "%s", msg);
	free(msg);
}

enum status driver_render_target(const struct driver_ctx *ctx, char **message)
{
	const char *target = json_path_string(ctx->target_apply, "data.render_deploy_id", NULL);
	if (!ctx->release) {
		*message = estrdup("no release to roll back to");
		return STATUS_CRITICAL;
	}
	if (!target) {
		*message = easprintf("no Render deploy id is recorded for release %s", ctx->release);
		return STATUS_CRITICAL;
	}
	*message = easprintf("release %s is Render deploy %s", ctx->release, target);
	return STATUS_OK;
}

/* The newest deploy of the list Render returns (items {"deploy":{..},
 * "cursor":..}, or bare deploys) whose status is live, or NULL. */
static const cJSON *live_deploy(const cJSON *list)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, list)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(item, "deploy");
		if (!cJSON_IsObject(d))
			d = item;
		if (strcmp(json_path_string(d, "status", ""), "live") == 0 && json_path_string(d, "id", NULL))
			return d;
	}
	return NULL;
}

/* The release whose successful apply made Render deploy id, or NULL. */
static const char *release_of_deploy(const struct journal_view *view, const char *id)
{
	for (size_t i = view ? view->n : 0; i-- > 0;) {
		const struct deployment *d = &view->v[i];
		const cJSON *r;
		cJSON_ArrayForEach(r, d->records)
		{
			if (strcmp(json_path_string(r, "type", ""), "apply") == 0 &&
			    strcmp(json_path_string(r, "status", ""), "ok") == 0 &&
			    strcmp(json_path_string(r, "data.render_deploy_id", ""), id) == 0 && d->release)
				return d->release;
		}
	}
	return NULL;
}

/* Says which release the live deploy is; *live is the release, or the
 * deploy itself ("render deploy ID") when no deploy of the journal made it. */
static enum status name_live(const struct journal_view *view, const cJSON *dep, char **live, char **message)
{
	const char *id = json_path_string(dep, "id", "");
	const char *commit = json_path_string(dep, "commit.id", NULL);
	char *what = commit ? easprintf("%s (commit %.12s)", id, commit) : estrdup(id);
	const char *release = release_of_deploy(view, id);
	if (release) {
		*live = estrdup(release);
		*message = easprintf("Render's live deploy %s is release %s's", what, release);
	} else {
		*live = easprintf("render deploy %s", id);
		*message = easprintf("Render's live deploy %s was not made by any deploy in the journal", what);
	}
	free(what);
	return STATUS_OK;
}

enum status driver_render_live(const cJSON *config, const struct journal_view *view, char **live, char **message)
{
	struct driver_ctx ctx = {.config = config, .timeout_ms = REQUEST_TIMEOUT_MS};
	struct render rd;
	render_settings(&ctx, &rd);
	if (!rd.service_id || !rd.api_key) {
		*message = estrdup("not checked against the live target: reading Render's live deploy needs "
				   "deploy.render.service_id and deploy.render.api_key");
		return STATUS_UNKNOWN;
	}
	char *url = easprintf("%s/v1/services/%s/deploys?limit=20", rd.api_url, rd.service_id);
	struct rest_response r;
	int rc = render_call(&rd, "GET", url, rd.api_key, NULL, 2, &r);
	free(url);
	cJSON *list = rc == 0 && r.body ? cJSON_Parse(r.body) : NULL;
	enum status st = STATUS_UNKNOWN;
	const cJSON *dep = cJSON_IsArray(list) ? live_deploy(list) : NULL;
	if (rc < 0)
		*message = easprintf("not checked against the live target: Render: %s", r.error);
	else if (!cJSON_IsArray(list))
		*message = estrdup("not checked against the live target: Render's deploy list is not a JSON array");
	else if (!dep)
		*message = estrdup("not checked against the live target: none of Render's last 20 deploys is live");
	else
		st = name_live(view, dep, live, message);
	cJSON_Delete(list);
	rest_response_free(&r);
	return st;
}
