/* driver_render.c — the Render driver: Render's REST API (POST a deploy of
 * an exact commit or image, or a rollback, then poll the deploy until live
 * or failed, cancelling it at the deadline) or a deploy hook, through the
 * REST client (rest.h), which owns retries and secret masking.
 *
 * Render's documented limits (api-docs.render.com, "Rate limiting"): deploy
 * triggers 10 a minute per service; GETs 400 a minute per user (100 in an
 * earlier edition). Every answer carries Ratelimit-Remaining and
 * Ratelimit-Reset; a 429 carries Retry-After. */
#include "shipshape/driver.h"
#include "shipshape/common.h"
#include "shipshape/http.h"
#include "shipshape/journal.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS (15 * 60 * 1000)
#define DEFAULT_POLL_MS 5000
/* The poll interval's floor: 100 polls a minute, the lower of Render's
 * documented GET limits, so one deploy's polls never use up the budget
 * the user's other readers share. */
#define POLL_FLOOR_MS 600
#define POLL_BACKOFF_MAX_MS 60000
#define TRIGGERS_PER_MINUTE DRIVER_RENDER_TRIGGERS_PER_MINUTE
#define TRIGGER_WINDOW_MS 60000
#define POST_ATTEMPTS 4        /* trigger attempts of one apply */
#define POST_BACKOFF_MS 500    /* doubled after each attempt, with jitter */
#define RETRY_AFTER_MAX_MS 60000 /* a longer wait than Render's window gives up */
#define REQUEST_TIMEOUT_MS 30000
#define CANCEL_TIMEOUT_MS 30000 /* the cancel's own budget: the deadline has passed */

_Static_assert(POST_ATTEMPTS <= TRIGGERS_PER_MINUTE, "one apply's trigger attempts stay within Render's limit");

/* Render's documented deploy statuses; anything else is unknown: never
 * success, polled until the deadline (then cancelled), named as it is. */
static const char *const progress_statuses[] = {"created", "queued", "build_in_progress", "update_in_progress",
						"pre_deploy_in_progress", NULL};
static const char *const failed_statuses[] = {"build_failed", "update_failed", "pre_deploy_failed",
					      "canceled", "deactivated", NULL};

struct render {
	const char *api_url, *service_id, *api_key, *hook;
	const char *commit, *image; /* what the deploy must be (NULL: the branch's head) */
	bool require_exact, disable_autodeploy;
	int64_t poll_ms, deadline; /* deadline on the monotonic clock */
	uint64_t rng;
};

enum poll_end { POLL_LIVE, POLL_FAILED, POLL_TIMED_OUT };

static int64_t remaining(const struct render *rd)
{
	return rd->deadline - now_monotonic_ms();
}

/* A call to Render's API until deadline: POSTs are retried (5xx, 429, no
 * answer; Retry-After or Ratelimit-Reset honoured up to a minute), polls
 * are not (the poll loop is their retry). */
static int render_call_until(const struct render *rd, const char *method, const char *url, const char *body,
			     int attempts, int64_t deadline, struct rest_response *out)
{
	struct rest_request rq = {
		.name = "Render", .method = method, .url = url, .bearer = rd->api_key, .body = body,
		.attempt_timeout_ms = REQUEST_TIMEOUT_MS, .deadline_ms = deadline,
		.retry = {.attempts = attempts, .initial_ms = POST_BACKOFF_MS, .jitter = true,
			  .retry_after_max_ms = RETRY_AFTER_MAX_MS},
	};
	return rest_call(&rq, out);
}

static int render_call(const struct render *rd, const char *method, const char *url, const char *body,
		       int attempts, struct rest_response *out)
{
	return render_call_until(rd, method, url, body, attempts, rd->deadline, out);
}

/* POSTs with retries (bearer: the API key, else none: a deploy hook);
 * returns the parsed response body of a 2xx, or NULL with *why set. */
static cJSON *post_json(const struct render *rd, const char *url, bool bearer, const char *body, int attempts,
			cJSON *data, char **why)
{
	struct rest_response res;
	struct render hookless = *rd;
	if (!bearer)
		hookless.api_key = NULL;
	int rc = render_call(&hookless, "POST", url, body, attempts, &res);
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

static bool listed(const char *st, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(st, list[i]) == 0)
			return true;
	return false;
}

bool driver_commit_valid(const char *sha)
{
	size_t n = sha ? strlen(sha) : 0;
	if (n < 7 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)sha[i]))
			return false;
	return true;
}

bool driver_image_valid(const char *ref)
{
	size_t n = ref ? strlen(ref) : 0;
	if (n == 0 || n > DRIVER_IMAGE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)ref[i]) || iscntrl((unsigned char)ref[i]))
			return false;
	return true;
}

/* The wait before the next poll after an answer: the interval; after a
 * failed one, the backoff (jittered) or what Render asked for, whichever is
 * longer; and, once Render says none are left, until its window resets. */
static int64_t poll_wait(struct render *rd, const struct rest_response *r, int streak)
{
	int64_t wait = rd->poll_ms;
	if (streak > 0) {
		struct retry_policy rp = {.initial_ms = rd->poll_ms, .max_ms = POLL_BACKOFF_MAX_MS, .jitter = true};
		wait = retry_backoff_ms(&rp, streak, &rd->rng);
		if (wait < rd->poll_ms)
			wait = rd->poll_ms;
		if (r->retry_after_ms > wait)
			wait = r->retry_after_ms;
	}
	if (r->ratelimit_remaining == 0 && r->ratelimit_reset_ms > wait)
		wait = r->ratelimit_reset_ms;
	return wait;
}

/* One poll's answer read: the status moves on; returns true when the poll
 * loop is over (*end set). The live deploy is kept in *final. */
static bool poll_answer(const char *deploy_id, const struct rest_response *r, char **status, cJSON **final,
			enum poll_end *end, char **why)
{
	cJSON *doc = rest_response_json(r);
	const char *st = json_path_string(doc, "status", NULL);
	bool over = false;
	if (st && strcmp(st, *status) != 0) {
		verbose("Render deploy %s: %s", deploy_id, st);
		if (!listed(st, progress_statuses) && !listed(st, failed_statuses) && strcmp(st, "live") != 0)
			warnx_("Render deploy %s reports status \"%s\", not one Render documents: not taken for "
			       "success; polling until it is live or the deadline",
			       deploy_id, st);
		free(*status);
		*status = estrdup(st);
	}
	if (strcmp(*status, "live") == 0) {
		*end = POLL_LIVE;
		*final = doc;
		return true;
	}
	if (listed(*status, failed_statuses)) {
		*why = easprintf("Render deploy %s ended %s", deploy_id, *status);
		*end = POLL_FAILED;
		over = true;
	}
	cJSON_Delete(doc);
	return over;
}

/* Polls the deploy until live (*final: the deploy), failed or the deadline
 * (*why set). A 429 or a 5xx is waited out, never hammered. */
static enum poll_end poll_deploy(struct render *rd, const char *deploy_id, cJSON *data, cJSON **final, char **why)
{
	char *url = easprintf("%s/v1/services/%s/deploys/%s", rd->api_url, rd->service_id, deploy_id);
	int polls = 0, errors = 0, limited = 0, streak = 0;
	enum poll_end end = POLL_TIMED_OUT;
	char *status = estrdup("created");
	for (;;) {
		if (remaining(rd) <= 0) {
			char t[32];
			int64_t total = json_path_number(data, "timeout_ms", 0);
			*why = easprintf("deploy %s not live within %s (last status %s)", deploy_id,
					 duration_format(total, t, sizeof t), status);
			break;
		}
		struct rest_response r;
		render_call(rd, "GET", url, NULL, 1, &r);
		polls++;
		if (r.code == 200) {
			streak = 0;
			if (poll_answer(deploy_id, &r, &status, final, &end, why)) {
				rest_response_free(&r);
				break;
			}
		} else if (retry_transient_code(r.code)) {
			verbose("Render poll: %s (waited out)", r.error ? r.error : "no answer");
			errors++, streak++;
			limited += r.code == 429;
		} else {
			*why = easprintf("polling deploy %s: %s", deploy_id, r.error ? r.error : "no answer");
			end = POLL_FAILED;
			rest_response_free(&r);
			break;
		}
		int64_t wait = poll_wait(rd, &r, streak);
		rest_response_free(&r);
		sleep_ms(wait < remaining(rd) ? wait : remaining(rd) > 0 ? remaining(rd) : 0);
	}
	cJSON_AddStringToObject(data, "render_status", status);
	cJSON_AddNumberToObject(data, "polls", polls);
	cJSON_AddNumberToObject(data, "poll_errors", errors);
	cJSON_AddNumberToObject(data, "rate_limited", limited);
	free(status);
	free(url);
	return end;
}

/* The deploy not live by the deadline is cancelled, on a budget of its
 * own; recorded in data.cancel, said in *why. */
static void cancel_deploy(const struct render *rd, const char *deploy_id, cJSON *data, char **why)
{
	char *url = easprintf("%s/v1/services/%s/deploys/%s/cancel", rd->api_url, rd->service_id, deploy_id);
	struct rest_response r;
	int rc = render_call_until(rd, "POST", url, NULL, 2, now_monotonic_ms() + CANCEL_TIMEOUT_MS, &r);
	cJSON *c = cJSON_AddObjectToObject(data, "cancel");
	cJSON_AddBoolToObject(c, "requested", true);
	cJSON_AddBoolToObject(c, "ok", rc == 0);
	cJSON_AddNumberToObject(c, "code", r.code);
	if (rc < 0)
		cJSON_AddStringToObject(c, "error", r.error);
	char *said = rc == 0 ? easprintf("%s; cancelled it", *why)
			     : easprintf("%s; the cancel failed: %s", *why, r.error);
	free(*why);
	*why = said;
	rest_response_free(&r);
	free(url);
}

/* Whether a reported commit is the one asked for: a short SHA names the
 * commit it is a prefix of. */
static bool commit_matches(const char *want, const char *got)
{
	return got && strlen(got) >= strlen(want) && strncasecmp(got, want, strlen(want)) == 0;
}

/* The live deploy checked against the commit or image asked for: 0 when it
 * is that (or nothing was asked), else -1 with *why naming both. */
static int verify_release(const struct render *rd, const cJSON *dep, cJSON *data, char **why)
{
	const char *commit = json_path_string(dep, "commit.id", NULL);
	const char *image = json_path_string(dep, "image.ref", NULL);
	const char *digest = json_path_string(dep, "image.sha", NULL);
	if (commit)
		cJSON_AddStringToObject(data, "render_commit", commit);
	if (image)
		cJSON_AddStringToObject(data, "render_image", image);
	const char *id = json_path_string(dep, "id", "?");
	if (rd->commit && !commit_matches(rd->commit, commit)) {
		*why = easprintf("Render deploy %s is commit %s, not the requested commit %s", id,
				 commit ? commit : "(none reported)", rd->commit);
		return -1;
	}
	if (rd->image) {
		const char *at = strstr(rd->image, "@sha256:");
		bool same = (image && strcmp(image, rd->image) == 0) || (at && digest && strcmp(digest, at + 1) == 0);
		if (!same) {
			*why = easprintf("Render deploy %s is image %s, not the requested image %s", id,
					 image ? image : "(none reported)", rd->image);
			return -1;
		}
	}
	return 0;
}

static void render_settings(const struct driver_ctx *ctx, struct render *rd)
{
	const cJSON *c = ctx->config;
	memset(rd, 0, sizeof *rd);
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
	rd->commit = ctx->commit && *ctx->commit ? ctx->commit : NULL;
	rd->image = ctx->image && *ctx->image ? ctx->image : NULL;
	rd->require_exact = json_path_bool(c, "deploy.render.require_exact_release", false);
	rd->disable_autodeploy = json_path_bool(c, "deploy.render.disable_autodeploy_on_rollback", false);
	rd->poll_ms = json_path_duration_ms(c, "deploy.render.poll_interval", DEFAULT_POLL_MS);
	if (rd->poll_ms < POLL_FLOOR_MS)
		rd->poll_ms = POLL_FLOOR_MS;
	int64_t t = ctx->timeout_ms > 0 ? ctx->timeout_ms
					: json_path_duration_ms(c, "deploy.timeout", DEFAULT_TIMEOUT_MS);
	if (t <= 0)
		t = DEFAULT_TIMEOUT_MS;
	rd->deadline = now_monotonic_ms() + t;
	rd->rng = retry_seed();
}

/* The trigger's body: exactly the commit or image asked for. */
static char *trigger_body(const struct render *rd)
{
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "clearCache", "do_not_clear");
	if (rd->commit)
		cJSON_AddStringToObject(body, "commitId", rd->commit);
	if (rd->image)
		cJSON_AddStringToObject(body, "imageUrl", rd->image);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	return text;
}

/* The service's autoDeploy ("yes"/"no", a new string), or NULL with *why. */
static char *read_autodeploy(const struct render *rd, char **why)
{
	char *url = easprintf("%s/v1/services/%s", rd->api_url, rd->service_id);
	struct rest_response r;
	int rc = render_call_until(rd, "GET", url, NULL, 2, now_monotonic_ms() + REQUEST_TIMEOUT_MS, &r);
	cJSON *doc = rc == 0 ? rest_response_json(&r) : NULL;
	const char *v = json_path_string(doc, "autoDeploy", NULL);
	char *value = v && (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0) ? estrdup(v) : NULL;
	if (rc < 0)
		*why = easprintf("unable to read the service's autoDeploy: %s", r.error);
	else if (!value)
		*why = estrdup("unable to read the service's autoDeploy: Render's answer has no autoDeploy yes or no");
	cJSON_Delete(doc);
	rest_response_free(&r);
	free(url);
	return value;
}

/* After a rollback: Render leaves auto-deploy on, so the next push would
 * redeploy what was rolled back from. Turned off when configured (PATCH
 * autoDeploy no), else warned about; recorded in data.autodeploy. */
static void rollback_autodeploy(const struct render *rd, cJSON *data, char **note)
{
	char *why = NULL;
	char *value = read_autodeploy(rd, &why);
	cJSON *a = cJSON_AddObjectToObject(data, "autodeploy");
	cJSON_AddStringToObject(a, "was", value ? value : "unknown");
	if (!value) {
		warnx_("%s: Render's auto-deploy may redeploy over this rollback", why);
		cJSON_AddStringToObject(a, "error", why);
		*note = estrdup("; auto-deploy not read");
	} else if (strcmp(value, "yes") == 0 && rd->disable_autodeploy) {
		char *url = easprintf("%s/v1/services/%s", rd->api_url, rd->service_id);
		struct rest_response r;
		int rc = render_call_until(rd, "PATCH", url, "{\"autoDeploy\":\"no\"}", 2,
					   now_monotonic_ms() + REQUEST_TIMEOUT_MS, &r);
		cJSON_AddBoolToObject(a, "disabled", rc == 0);
		if (rc < 0) {
			cJSON_AddStringToObject(a, "error", r.error);
			warnx_("unable to turn Render's auto-deploy off: %s: the next push redeploys over this "
			       "rollback", r.error);
		}
		*note = estrdup(rc == 0 ? "; auto-deploy turned off" : "; auto-deploy left on (the PATCH failed)");
		rest_response_free(&r);
		free(url);
	} else if (strcmp(value, "yes") == 0) {
		cJSON_AddBoolToObject(a, "disabled", false);
		warnx_("Render's auto-deploy is on for %s: the next push to its branch redeploys over this "
		       "rollback (deploy.render.disable_autodeploy_on_rollback turns it off)", rd->service_id);
		*note = estrdup("; auto-deploy is still on");
	}
	free(value);
	free(why);
}

size_t driver_recent_triggers(const struct journal_view *view, int64_t now_epoch_ms, int64_t *out, size_t max)
{
	size_t n = 0;
	for (size_t i = view ? view->n : 0; i-- > 0 && n < max;) {
		const struct deployment *d = &view->v[i];
		const cJSON *r;
		cJSON_ArrayForEach(r, d->records)
		{
			int64_t at;
			if (strcmp(json_path_string(r, "type", ""), "apply") != 0 ||
			    strcmp(json_path_string(r, "phase", ""), "end") != 0 ||
			    strcmp(json_path_string(r, "data.driver", ""), "render") != 0 ||
			    json_path(r, "data.rollback_to_deploy_id") ||
			    rfc3339_parse(json_path_string(r, "time", ""), &at) < 0 ||
			    at <= now_epoch_ms - TRIGGER_WINDOW_MS)
				continue;
			for (int k = (int)json_path_number(r, "data.post_attempts", 0); k > 0 && n < max; k--)
				out[n++] = at;
		}
	}
	return n;
}

/* How many trigger attempts this apply may make: Render's per-service
 * limit less those the journal saw in the last minute, after waiting (up
 * to the deadline) for one to leave the window. 0 with *why when none can
 * go out in time. */
static int trigger_budget(const struct driver_ctx *ctx, const struct render *rd, cJSON *data, char **why)
{
	int64_t waited = 0;
	for (;;) {
		int64_t now = now_epoch_ms(), oldest = now;
		int in_window = 0;
		for (size_t i = 0; i < ctx->n_recent_triggers; i++) {
			int64_t t = ctx->recent_triggers[i];
			if (t > now - TRIGGER_WINDOW_MS && t <= now) {
				in_window++;
				oldest = t < oldest ? t : oldest;
			}
		}
		if (in_window < TRIGGERS_PER_MINUTE) {
			if (waited)
				cJSON_AddNumberToObject(data, "trigger_wait_ms", (double)waited);
			int left = TRIGGERS_PER_MINUTE - in_window;
			return left < POST_ATTEMPTS ? left : POST_ATTEMPTS;
		}
		int64_t wait = oldest + TRIGGER_WINDOW_MS - now + 1;
		if (wait >= remaining(rd)) {
			*why = easprintf("not triggered: Render allows %d deploy triggers a minute per service, and the "
					 "journal has %d in the last minute; the next may go in %llds",
					 TRIGGERS_PER_MINUTE, in_window, (long long)(wait + 999) / 1000);
			return 0;
		}
		verbose("Render: %d deploy triggers in the last minute; waiting %lld ms", in_window, (long long)wait);
		sleep_ms(wait);
		waited += wait;
	}
}

/* Why this deploy may not go as asked (a new string), or NULL. */
static char *deploy_refused(const struct render *rd, bool rollback, bool api)
{
	if (rollback)
		return api ? NULL : estrdup("a Render rollback needs deploy.render.service_id and api_key");
	bool exact = rd->commit || rd->image;
	if (!exact && rd->require_exact)
		return estrdup("deploy.render.require_exact_release is set, but this deploy was begun without "
			       "--commit or --image");
	if (exact && !api)
		return easprintf("deploying an exact %s needs Render's API (service_id and api_key): a deploy hook "
				 "cannot name one", rd->commit ? "commit" : "image");
	return NULL;
}

/* Starts the deploy (or the rollback): Render's answer, or NULL with *why. */
static cJSON *trigger(const struct driver_ctx *ctx, const struct render *rd, bool rollback, cJSON *data, char **why)
{
	cJSON *created = NULL;
	char *url = NULL;
	if (rollback) {
		const char *target = json_path_string(ctx->target_apply, "data.render_deploy_id", NULL);
		if (!target) {
			*why = easprintf("no Render deploy id is recorded for release %s", ctx->release);
			return NULL;
		}
		cJSON_AddStringToObject(data, "rollback_to_deploy_id", target);
		url = easprintf("%s/v1/services/%s/rollback", rd->api_url, rd->service_id);
		cJSON *body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "deployId", target);
		char *text = cJSON_PrintUnformatted(body);
		cJSON_Delete(body);
		created = post_json(rd, url, true, text, POST_ATTEMPTS, data, why);
		free(text);
		free(url);
		return created;
	}
	int attempts = trigger_budget(ctx, rd, data, why);
	if (!attempts)
		return NULL;
	if (rd->hook && !rd->commit && !rd->image) { /* a hook deploys the branch's head */
		cJSON_AddStringToObject(data, "trigger", "deploy_hook");
		created = post_json(rd, rd->hook, false, NULL, attempts, data, why);
		/* the hook answers {"deploy":{"id":..}} */
		cJSON *inner = created ? cJSON_DetachItemFromObject(created, "deploy") : NULL;
		if (cJSON_IsObject(inner)) {
			cJSON_Delete(created);
			created = inner;
		} else {
			cJSON_Delete(inner);
		}
	} else {
		url = easprintf("%s/v1/services/%s/deploys", rd->api_url, rd->service_id);
		char *body = trigger_body(rd);
		created = post_json(rd, url, true, body, attempts, data, why);
		free(body);
	}
	free(url);
	return created;
}

/* Polls the triggered deploy, cancels it at the deadline, checks what went
 * live. Returns 0 when it is live and is what was asked for. */
static int follow(struct render *rd, const char *id, cJSON *data, char **why)
{
	cJSON *live = NULL;
	enum poll_end end = poll_deploy(rd, id, data, &live, why);
	int rc = -1;
	if (end == POLL_TIMED_OUT)
		cancel_deploy(rd, id, data, why);
	else if (end == POLL_LIVE)
		rc = verify_release(rd, live, data, why);
	cJSON_Delete(live);
	return rc;
}

int driver_render_deploy(const struct driver_ctx *ctx, struct driver_outcome *out, bool rollback)
{
	struct render rd;
	render_settings(ctx, &rd);
	cJSON *data = out->data;
	cJSON_AddNumberToObject(data, "timeout_ms", (double)(rd.deadline - now_monotonic_ms()));
	if (rd.commit)
		cJSON_AddStringToObject(data, "commit", rd.commit);
	if (rd.image)
		cJSON_AddStringToObject(data, "image", rd.image);
	bool api = rd.api_key && rd.service_id;
	char *note = NULL, *why = deploy_refused(&rd, rollback, api);
	cJSON *created = why ? NULL : trigger(ctx, &rd, rollback, data, &why);
	int rc = -1;
	const char *id = json_path_string(created, "id", NULL);
	if (created && !id)
		why = estrdup("Render's answer has no deploy id");
	if (!id)
		goto out;
	cJSON_AddStringToObject(data, "render_deploy_id", id);
	free(out->message);
	if (!api) {
		cJSON_AddStringToObject(data, "render_status", json_path_string(created, "status", "created"));
		rc = 0;
		out->message = easprintf("Render deploy %s triggered by the deploy hook; not polled (no api_key)", id);
		out->status = STATUS_OK;
		goto out;
	}
	out->message = NULL;
	if ((rc = follow(&rd, id, data, &why)) == 0) {
		if (rollback)
			rollback_autodeploy(&rd, data, &note);
		const char *what = rd.commit ? rd.commit : rd.image;
		out->message = easprintf("Render deploy %s of %s%s%s is live%s", id, ctx->release, what ? " at " : "",
					 what ? what : "", note ? note : "");
		out->status = STATUS_OK;
	}
out:
	if (rc < 0) {
		free(out->message);
		out->message = redact_string(why ? why : "the Render deploy failed");
		out->status = STATUS_CRITICAL;
	}
	free(note);
	free(why);
	cJSON_Delete(created);
	return rc;
}

/* rollback.autodeploy: whether the next push would redeploy over a
 * rollback (Render leaves auto-deploy on). */
static void check_autodeploy(const struct render *rd, struct report *r)
{
	if (!rd->api_key || !rd->service_id) {
		report_add_check(r, "rollback.autodeploy", STATUS_UNKNOWN, 0, NULL,
				 "auto-deploy not read: it needs deploy.render.service_id and api_key");
		return;
	}
	char *why = NULL;
	int64_t t0 = now_monotonic_ms();
	char *value = read_autodeploy(rd, &why);
	int64_t ms = now_monotonic_ms() - t0;
	if (!value)
		report_add_check(r, "rollback.autodeploy", STATUS_UNKNOWN, ms, NULL, "%s", why);
	else if (strcmp(value, "no") == 0)
		report_add_check(r, "rollback.autodeploy", STATUS_OK, ms, NULL, "auto-deploy is off for %s",
				 rd->service_id);
	else if (rd->disable_autodeploy)
		report_add_check(r, "rollback.autodeploy", STATUS_OK, ms, NULL,
				 "auto-deploy is on for %s; a rollback turns it off "
				 "(deploy.render.disable_autodeploy_on_rollback)", rd->service_id);
	else
		report_add_check(r, "rollback.autodeploy", STATUS_WARNING, ms, NULL,
				 "auto-deploy is on for %s: the next push redeploys over a rollback (set "
				 "deploy.render.disable_autodeploy_on_rollback)", rd->service_id);
	free(value);
	free(why);
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
	check_autodeploy(&rd, r);
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
	int rc = render_call(&rd, "GET", url, NULL, 2, &r);
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
