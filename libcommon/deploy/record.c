/* record.c — the journal's records, each built here and only here (their
 * members are listed in shipshape(7)); journal_append() stamps them. */
#include "shipshape/common.h"
#include "shipshape/driver.h"
#include "shipshape/journal.h"
#include "shipshape/json.h"
#include "shipshape/lock.h"
#include "shipshape/redact.h"
#include "shipshape/snapshot.h"

#include <stdlib.h>
#include <string.h>

#define BOUNDED_TEXT_MAX 1024

static cJSON *record_new(const char *type)
{
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "type", type);
	return rec;
}

/* s, or JSON null when s is NULL. */
static void add_string_or_null(cJSON *rec, const char *key, const char *s)
{
	if (s)
		cJSON_AddStringToObject(rec, key, s);
	else
		cJSON_AddNullToObject(rec, key);
}

static void add_redacted(cJSON *rec, const char *key, const char *s)
{
	char *m = redact_string(s);
	cJSON_AddStringToObject(rec, key, m);
	free(m);
}

cJSON *journal_record_config(const cJSON *snapshot, const char *key_id)
{
	cJSON *rec = record_new("config");
	cJSON_AddStringToObject(rec, "key_id", key_id);
	char *text = cJSON_PrintUnformatted(snapshot);
	size_t bytes = text ? strlen(text) : 0;
	free(text);
	if (bytes > SNAPSHOT_MAX) {
		cJSON_AddBoolToObject(rec, "truncated", true);
		cJSON_AddNumberToObject(rec, "bytes", (double)bytes);
	} else {
		cJSON_AddItemToObject(rec, "values", cJSON_Duplicate(snapshot, true));
	}
	return rec;
}

/* s cut to at most max bytes, on a UTF-8 character boundary (a new
 * string). */
static char *text_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return estrdup(s);
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return estrndup(s, max);
}

char *journal_ci_actor(const char **ci)
{
	static const char *const vars[][3] = {
		{"SHIPSHAPE_ACTOR", NULL, "operator"},
		{"GITHUB_ACTOR", "GITHUB_ACTIONS", "github-actions"},
		{"GITLAB_USER_LOGIN", "GITLAB_CI", "gitlab-ci"},
		{"BUILDKITE_BUILD_CREATOR", "BUILDKITE", "buildkite"},
		{"CIRCLE_USERNAME", "CIRCLECI", "circleci"},
	};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *who = getenv(vars[i][0]);
		if (!who || !*who || (vars[i][1] && !getenv(vars[i][1])))
			continue;
		char *clean = journal_text_clean(who, true);
		char *cut = text_cut(clean, 100);
		free(clean);
		*ci = vars[i][2];
		return cut;
	}
	return NULL;
}

cJSON *journal_record_begin(enum journal_action action, const char *release, const char *previous,
			    const char *message, long rollback_of, const cJSON *config)
{
	cJSON *rec = record_new("begin");
	cJSON_AddStringToObject(rec, "action", action == JOURNAL_ROLLBACK ? "rollback" : "deploy");
	cJSON_AddStringToObject(rec, "release", release);
	add_string_or_null(rec, "previous", previous);
	char *user = lock_user_at_host();
	cJSON_AddStringToObject(rec, "user", user);
	free(user);
	const char *ci = NULL;
	char *actor = journal_ci_actor(&ci);
	if (actor) {
		cJSON_AddStringToObject(rec, "actor", actor);
		cJSON_AddStringToObject(rec, "ci", ci);
		free(actor);
	}
	cJSON_AddNumberToObject(rec, "pid", (double)lock_owner_pid());
	if (message)
		add_redacted(rec, "message", message);
	if (rollback_of > 0)
		cJSON_AddNumberToObject(rec, "rollback_of", (double)rollback_of);
	char *digest = journal_config_digest(config);
	cJSON_AddStringToObject(rec, "config_digest", digest);
	free(digest);
	const char *driver = driver_name(config);
	cJSON_AddStringToObject(rec, "driver", driver ? driver : "none");
	return rec;
}

static void add_cut(cJSON *o, const char *key, const cJSON *from, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);
	if (cJSON_IsString(v)) {
		char *c = text_cut(v->valuestring, max);
		cJSON_AddStringToObject(o, key, c);
		free(c);
	} else if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
		cJSON_AddItemToObject(o, key, cJSON_Duplicate(v, 0));
	}
}

/* The report bounded: kind, tool, status, summary, duration_ms and each
 * check's name, status and message (strings cut to 1 KiB) while they fit
 * in half of JOURNAL_REPORT_MAX (none when brief), the rest dropped and
 * counted. */
static cJSON *report_bounded(const cJSON *doc, size_t bytes, bool brief)
{
	cJSON *o = cJSON_CreateObject();
	static const char *const keys[] = {"kind", "tool", "status", "summary", "duration_ms", NULL};
	for (size_t i = 0; keys[i]; i++)
		add_cut(o, keys[i], doc, BOUNDED_TEXT_MAX);
	/* a bake's round number and its verdict mark, which the gate reads */
	static const char *const marks[] = {"round", "verdict", NULL};
	for (size_t i = 0; marks[i]; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, marks[i]);
		if (cJSON_IsNumber(m) || cJSON_IsBool(m))
			cJSON_AddItemToObject(o, marks[i], cJSON_Duplicate(m, 0));
	}
	cJSON *checks = cJSON_AddArrayToObject(o, "checks");
	size_t used = 0, dropped = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "checks"))
	{
		if (brief || used + 3 * BOUNDED_TEXT_MAX + 64 > JOURNAL_REPORT_MAX / 2) {
			dropped++;
			continue;
		}
		cJSON *k = cJSON_CreateObject();
		add_cut(k, "name", c, BOUNDED_TEXT_MAX);
		add_cut(k, "status", c, BOUNDED_TEXT_MAX);
		add_cut(k, "message", c, BOUNDED_TEXT_MAX);
		char *t = ejson_print(k);
		used += strlen(t);
		free(t);
		cJSON_AddItemToArray(checks, k);
	}
	if (dropped)
		cJSON_AddNumberToObject(o, "checks_dropped", (double)dropped);
	cJSON_AddBoolToObject(o, "truncated", true);
	cJSON_AddNumberToObject(o, "bytes", (double)bytes);
	return o;
}

void journal_redact_strings(cJSON *item)
{
	for (; item; item = item->next) {
		if (item->string && !(item->type & cJSON_StringIsConst) && redact_contains_secret(item->string)) {
			char *c = redact_string(item->string);
			cJSON_free(item->string); /* cJSON's malloc(): see journal.c */
			item->string = c;
		}
		if (cJSON_IsString(item) && item->valuestring) {
			char *c = redact_string(item->valuestring);
			if (strcmp(c, item->valuestring) != 0)
				cJSON_SetValuestring(item, c);
			free(c);
		}
		if (item->child)
			journal_redact_strings(item->child);
	}
}

cJSON *journal_record_report(const char *stage, const cJSON *report, bool brief)
{
	cJSON *rec = record_new("report");
	cJSON_AddStringToObject(rec, "stage", stage);
	char *text = ejson_print(report);
	size_t bytes = strlen(text);
	free(text);
	if (bytes <= JOURNAL_REPORT_MAX && !brief)
		cJSON_AddItemToObject(rec, "report", cJSON_Duplicate(report, 1));
	else
		cJSON_AddItemToObject(rec, "report", report_bounded(report, bytes, brief));
	journal_redact_strings(rec->child);
	return rec;
}

cJSON *journal_record_gate(const char *stage, bool passed, enum status status, bool strict, int reports,
			   const cJSON *problems)
{
	cJSON *rec = record_new("gate");
	cJSON_AddStringToObject(rec, "stage", stage);
	cJSON_AddBoolToObject(rec, "passed", passed);
	cJSON_AddStringToObject(rec, "status", status_name(status));
	cJSON_AddBoolToObject(rec, "strict", strict);
	cJSON_AddNumberToObject(rec, "reports", reports);
	if (cJSON_GetArraySize(problems))
		cJSON_AddItemToObject(rec, "problems", cJSON_Duplicate(problems, 1));
	return rec;
}

cJSON *journal_record_apply_start(const char *release, const char *driver)
{
	cJSON *rec = record_new("apply");
	cJSON_AddStringToObject(rec, "phase", "start");
	cJSON_AddStringToObject(rec, "stage", "application");
	cJSON_AddStringToObject(rec, "release", release);
	cJSON_AddStringToObject(rec, "driver", driver ? driver : "none");
	return rec;
}

cJSON *journal_record_apply_end(const char *release, bool ok, const char *message, cJSON *data)
{
	cJSON *rec = record_new("apply");
	cJSON_AddStringToObject(rec, "phase", "end");
	cJSON_AddStringToObject(rec, "stage", "application");
	cJSON_AddStringToObject(rec, "release", release);
	cJSON_AddStringToObject(rec, "status", ok ? "ok" : "failed");
	cJSON_AddStringToObject(rec, "message", message ? message : "");
	if (data)
		cJSON_AddItemToObject(rec, "data", data);
	return rec;
}

cJSON *journal_record_apply_plan(long deploy, const char *release, const char *driver, const char *message)
{
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "kind", "journal");
	cJSON_AddStringToObject(rec, "type", "apply");
	cJSON_AddStringToObject(rec, "phase", "dry-run");
	cJSON_AddNumberToObject(rec, "deploy", (double)deploy);
	cJSON_AddStringToObject(rec, "release", release);
	cJSON_AddStringToObject(rec, "driver", driver ? driver : "none");
	cJSON_AddStringToObject(rec, "message", message);
	return rec;
}

cJSON *journal_record_health(bool ok, const char *url, int attempts, int needed, int64_t duration_ms,
			     const char *message)
{
	cJSON *rec = record_new("health");
	cJSON_AddStringToObject(rec, "stage", "post-deploy");
	cJSON_AddStringToObject(rec, "status", ok ? "ok" : "failed");
	char *shown = redact_url(url);
	cJSON_AddStringToObject(rec, "url", shown);
	free(shown);
	cJSON_AddNumberToObject(rec, "attempts", attempts);
	cJSON_AddNumberToObject(rec, "successes_needed", needed);
	cJSON_AddNumberToObject(rec, "duration_ms", (double)duration_ms);
	add_redacted(rec, "message", message);
	return rec;
}

cJSON *journal_record_finish(bool ok, const char *release, const char *message, const char *reason)
{
	cJSON *rec = record_new("finish");
	cJSON_AddStringToObject(rec, "result", ok ? "ok" : "failed");
	if (release)
		cJSON_AddStringToObject(rec, "release", release);
	if (message)
		add_redacted(rec, "message", message);
	if (reason)
		cJSON_AddStringToObject(rec, "reason", reason);
	return rec;
}

cJSON *journal_record_finish_by_rollback(const char *target, long rollback_deploy)
{
	/* failed: how the rollback ended is its own deploy's finish, and
	 * readers say "rolled back" only once that one finished ok */
	char *reason = easprintf("rollback to %s (deploy %ld)", target, rollback_deploy);
	cJSON *rec = journal_record_finish(false, NULL, NULL, reason);
	free(reason);
	cJSON_AddStringToObject(rec, "rollback_to", target);
	cJSON_AddNumberToObject(rec, "rollback_deploy", (double)rollback_deploy);
	return rec;
}

cJSON *journal_record_lock_release(const struct lock_info *holder, const char *message)
{
	cJSON *rec = record_new("lock");
	cJSON_AddStringToObject(rec, "action", "release");
	cJSON_AddBoolToObject(rec, "forced", true);
	char *by = lock_user_at_host();
	cJSON_AddStringToObject(rec, "by", by);
	free(by);
	cJSON *h = lock_info_json(holder);
	cJSON_DeleteItemFromObjectCaseSensitive(h, "ours");
	cJSON_AddItemToObject(rec, "holder", h);
	add_redacted(rec, "message", message);
	return rec;
}

/* The printed rollback document: kind, type and service, not stamped by an
 * append (it is not a journal line). */
static cJSON *rollback_doc(void)
{
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "kind", "journal");
	cJSON_AddStringToObject(rec, "type", "rollback");
	return rec;
}

cJSON *journal_record_rollback(const char *service, long deploy, const char *from, const char *to, bool ok,
			       const char *message, const char *driver_message, cJSON *health)
{
	cJSON *rec = rollback_doc();
	cJSON_AddStringToObject(rec, "service", service);
	cJSON_AddNumberToObject(rec, "deploy", (double)deploy);
	cJSON_AddStringToObject(rec, "from", from ? from : "");
	cJSON_AddStringToObject(rec, "to", to);
	cJSON_AddStringToObject(rec, "status", ok ? "ok" : "failed");
	cJSON_AddStringToObject(rec, "message", message ? message : "");
	cJSON_AddStringToObject(rec, "driver_message", driver_message ? driver_message : "");
	if (health)
		cJSON_AddItemToObject(rec, "health", health);
	return rec;
}

cJSON *journal_record_rollback_plan(const char *service, const char *from, const char *to, long closes_deploy,
				    const char *message, enum status check, const char *checked)
{
	cJSON *rec = rollback_doc();
	cJSON_AddBoolToObject(rec, "dry_run", true);
	cJSON_AddStringToObject(rec, "service", service);
	cJSON_AddStringToObject(rec, "from", from ? from : "");
	cJSON_AddStringToObject(rec, "to", to);
	if (closes_deploy > 0)
		cJSON_AddNumberToObject(rec, "closes_deploy", (double)closes_deploy);
	cJSON_AddStringToObject(rec, "message", message);
	cJSON *tc = cJSON_AddObjectToObject(rec, "target_check");
	cJSON_AddStringToObject(tc, "status", status_name(check));
	cJSON_AddStringToObject(tc, "message", checked ? checked : "");
	return rec;
}
