/* silence_am.c — a silence kept in Alertmanager too, through its API v2:
 * POST /api/v2/silences makes it (Alertmanager answers its own id), DELETE
 * /api/v2/silence/{id} expires it, GET /api/v2/silences lists them, so that
 * `silence list` can say whether the two agree. Used when the alertmanager
 * channel is configured. */
#include "alert-send.h"
#include "shipshape/json.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"

#include <stdlib.h>
#include <string.h>

#define AM_TIMEOUT_MS 10000
#define AM_ATTEMPTS 3

static int am_call(const struct channel *am, const char *method, const char *path, const char *body,
		   struct rest_response *res)
{
	char *url = easprintf("%s%s", am->url, path);
	struct rest_request rq = {
		.name = "Alertmanager", .method = method, .url = url, .body = body,
		.attempt_timeout_ms = AM_TIMEOUT_MS, .deadline_ms = now_monotonic_ms() + 3 * AM_TIMEOUT_MS,
		.ca_file = am->ca_file, .tls_insecure = !am->tls_verify,
		.retry = {.attempts = AM_ATTEMPTS, .initial_ms = 200, .jitter = true},
		.quiet_retries = true, /* the outcome is said once, by the command */
	};
	int rc = rest_call(&rq, res);
	free(url);
	return rc;
}

char *silence_am_create(const struct channel *am, const struct silence *s, char **error)
{
	cJSON *j = silence_to_json(s);
	/* Alertmanager makes its own id; ours stays ours */
	cJSON_DeleteItemFromObject(j, "id");
	cJSON_DeleteItemFromObject(j, "createdAt");
	cJSON_DeleteItemFromObject(j, "alertmanager_id");
	char *body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	struct rest_response res;
	char *id = NULL;
	if (am_call(am, "POST", "/api/v2/silences", body, &res) == 0) {
		cJSON *doc = rest_response_json(&res);
		const char *sid = json_path_string(doc, "silenceID", NULL);
		if (sid)
			id = estrdup(sid);
		else
			*error = estrdup("Alertmanager answered without a silenceID");
		cJSON_Delete(doc);
	} else {
		*error = estrdup(res.error ? res.error : "no answer");
	}
	rest_response_free(&res);
	free(body);
	return id;
}

int silence_am_expire(const struct channel *am, const char *am_id, char **error)
{
	char *path = easprintf("/api/v2/silence/%s", am_id);
	struct rest_response res;
	int rc = am_call(am, "DELETE", path, NULL, &res);
	if (rc < 0)
		*error = estrdup(res.error ? res.error : "no answer");
	rest_response_free(&res);
	free(path);
	return rc;
}

cJSON *silence_am_list(const struct channel *am, char **error)
{
	struct rest_response res;
	cJSON *doc = NULL;
	if (am_call(am, "GET", "/api/v2/silences", NULL, &res) == 0) {
		doc = res.body ? cJSON_ParseWithLength(res.body, res.body_len) : NULL;
		if (!cJSON_IsArray(doc)) {
			cJSON_Delete(doc);
			doc = NULL;
			*error = estrdup("Alertmanager's silence list is not a JSON array");
		}
	} else {
		*error = estrdup(res.error ? res.error : "no answer");
	}
	rest_response_free(&res);
	return doc;
}

static const cJSON *am_find(const cJSON *list, const char *id)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, list)
		if (strcmp(json_path_string(o, "id", ""), id) == 0)
			return o;
	return NULL;
}

/* Why ours and Alertmanager's differ, or NULL when they agree. */
static char *difference(const struct silence *s, const cJSON *theirs, int64_t now)
{
	struct silence t;
	char err[160];
	if (silence_from_json(&t, theirs, err, sizeof err) < 0)
		return easprintf("Alertmanager's copy is unreadable: %s", err);
	char *ours_m = matchers_format(&s->matchers), *their_m = matchers_format(&t.matchers);
	const char *state = json_path_string(theirs, "status.state", silence_state(&t, now));
	char *why = NULL;
	if (strcmp(ours_m, their_m) != 0)
		why = easprintf("matchers %s there", their_m);
	else if (strcmp(state, silence_state(s, now)) != 0)
		why = easprintf("%s there, %s here", state, silence_state(s, now));
	else if (llabs(t.ends_at - s->ends_at) > 1000 && s->ends_at > now)
		why = estrdup("another end there");
	free(ours_m);
	free(their_m);
	silence_free(&t);
	return why;
}

void silence_am_compare(cJSON *record, const struct silence *s, const cJSON *am_list, int64_t now)
{
	cJSON *am = cJSON_AddObjectToObject(record, "alertmanager");
	if (!s->am_id) {
		cJSON_AddStringToObject(am, "sync", "not in Alertmanager");
		return;
	}
	cJSON_AddStringToObject(am, "id", s->am_id);
	const cJSON *theirs = am_find(am_list, s->am_id);
	char *why = theirs ? difference(s, theirs, now) : estrdup("gone from Alertmanager");
	cJSON_AddStringToObject(am, "sync", why ? "differs" : "agrees");
	if (why)
		cJSON_AddStringToObject(am, "difference", why);
	free(why);
}

bool silence_am_ours(const struct silences *set, const char *am_id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].am_id && strcmp(set->v[i].am_id, am_id) == 0)
			return true;
	return false;
}
