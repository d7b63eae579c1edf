/* silence_cmd.c — `alert-send silence add | list | expire`: the silences an
 * operator makes, lists and ends, kept in the state directory (silence.c). */
#include "alert-send.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPIRED_KEPT_MS (5LL * 86400000) /* as Alertmanager's retention: 120h */

static cJSON *silence_record(const struct silence *s, const char *action, int64_t now)
{
	cJSON *r = silence_to_json(s);
	cJSON_AddStringToObject(r, "kind", "silence");
	cJSON_AddStringToObject(r, "action", action);
	cJSON_AddStringToObject(r, "state", silence_state(s, now));
	char *text = matchers_format(&s->matchers);
	cJSON_AddStringToObject(r, "match", text);
	free(text);
	return r;
}

static char *who(const char *by)
{
	if (by)
		return estrdup(by);
	const char *user = getenv("USER");
	const struct passwd *pw = user && *user ? NULL : getpwuid(getuid());
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	if (pw)
		user = pw->pw_name;
	return user && *host ? easprintf("%s@%s", user, host) : easprintf("uid %d", (int)getuid());
}

/* What Alertmanager did, in the record and, when it failed, on stderr. */
static void am_outcome(cJSON *r, const struct silence_args *sa, char *am_error)
{
	if (!sa->alertmanager)
		return;
	cJSON *am = cJSON_GetObjectItemCaseSensitive(r, "alertmanager");
	if (!am)
		am = cJSON_AddObjectToObject(r, "alertmanager");
	cJSON_AddStringToObject(am, "sync", am_error ? "failed" : "done");
	if (am_error) {
		cJSON_AddStringToObject(am, "error", am_error);
		error_msg("silence %s: kept here, but not in Alertmanager: %s", json_path_string(r, "id", "?"),
			  am_error);
	}
}

static int silence_add(const char *dir, const struct silence_args *sa, enum output_format fmt)
{
	struct silence s = {.created_at = now_epoch_ms()};
	char err[200];
	for (int i = 0; i < sa->n_operands; i++)
		if (matchers_parse(&s.matchers, sa->operands[i], err, sizeof err) < 0)
			die(EXIT_USAGE, "silence add: \"%.80s\": %s", sa->operands[i], err);
	cJSON *empty = cJSON_CreateObject();
	bool all = matchers_match(&s.matchers, empty);
	cJSON_Delete(empty);
	if (!s.matchers.n || all)
		die(EXIT_USAGE, "silence add: %s: give a matcher some label must satisfy, e.g. alertname=\"Down\"",
		    s.matchers.n ? "these matchers match every alert" : "which alerts? no matcher given");
	s.starts_at = s.created_at;
	if (sa->until && rfc3339_parse(sa->until, &s.ends_at) < 0)
		die(EXIT_USAGE, "silence add: --until \"%s\": expected an RFC 3339 time (2026-12-03T18:00:00Z)",
		    sa->until);
	if (!sa->until)
		s.ends_at = s.starts_at + sa->for_ms;
	if (s.ends_at <= s.starts_at)
		die(EXIT_USAGE, "silence add: --until %s is not in the future", sa->until);
	s.id = silence_new_id();
	if (!s.id)
		die_errno(EXIT_UNKNOWN, "silence add: no random bytes for an id");
	s.created_by = who(sa->by);
	s.comment = redact_string(sa->message); /* a secret pasted in never reaches the file */
	char *am_error = NULL;
	if (sa->alertmanager)
		s.am_id = silence_am_create(sa->alertmanager, &s, &am_error);
	/* kept here whatever Alertmanager said: alert-send's own alerts are muted */
	int rc = silence_write(dir, &s);
	if (rc == 0) {
		cJSON *r = silence_record(&s, "add", s.created_at);
		am_outcome(r, sa, am_error);
		record_print(r, fmt);
	}
	silence_free(&s);
	int st = rc < 0 ? EXIT_UNKNOWN : am_error ? EXIT_WARNING : EXIT_OK;
	free(am_error);
	return st;
}

/* Expired silences older than the retention are removed. */
static void forget_old(const char *dir, struct silences *set, int64_t now)
{
	for (size_t i = 0; i < set->n; i++) {
		if (set->v[i].ends_at + EXPIRED_KEPT_MS > now)
			continue;
		char *path = easprintf("%s/silences/%s.json", dir, set->v[i].id);
		if (unlink(path) == 0)
			verbose("removed %s: expired on more than 5 days ago", path);
		free(path);
	}
}

/* Alertmanager's silences that are not ours, each as a record. */
static size_t list_theirs(const struct silences *set, const cJSON *am_list, enum output_format fmt, int64_t now)
{
	size_t n = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, am_list)
	{
		struct silence t;
		char err[160];
		if (silence_am_ours(set, json_path_string(o, "id", "")) || silence_from_json(&t, o, err, sizeof err) < 0)
			continue;
		cJSON *r = silence_record(&t, "list", now);
		cJSON_ReplaceItemInObject(r, "state", cJSON_CreateString(json_path_string(o, "status.state", "?")));
		cJSON *am = cJSON_AddObjectToObject(r, "alertmanager");
		cJSON_AddStringToObject(am, "id", t.id);
		cJSON_AddStringToObject(am, "sync", "only in Alertmanager");
		record_print(r, fmt);
		silence_free(&t);
		n++;
	}
	return n;
}

static int silence_list(const char *dir, const struct silence_args *sa, enum output_format fmt)
{
	struct silences set = {0};
	int64_t now = now_epoch_ms();
	char *am_error = NULL;
	cJSON *am_list = sa->alertmanager ? silence_am_list(sa->alertmanager, &am_error) : NULL;
	silences_load(&set, dir);
	forget_old(dir, &set, now);
	size_t shown = 0;
	for (size_t i = 0; i < set.n; i++) {
		if (set.v[i].ends_at + EXPIRED_KEPT_MS <= now)
			continue;
		cJSON *r = silence_record(&set.v[i], "list", now);
		if (am_list)
			silence_am_compare(r, &set.v[i], am_list, now);
		record_print(r, fmt);
		shown++;
	}
	if (am_list)
		shown += list_theirs(&set, am_list, fmt, now);
	if (fmt == FORMAT_TEXT && shown == 0)
		printf("no silences\n");
	if (am_error)
		error_msg("silence list: Alertmanager's silences could not be read: %s", am_error);
	int st = am_error ? EXIT_WARNING : EXIT_OK;
	free(am_error);
	cJSON_Delete(am_list);
	silences_free(&set);
	return st;
}

static int silence_expire(const char *dir, const struct silence_args *sa, enum output_format fmt)
{
	struct silences set = {0};
	int64_t now = now_epoch_ms();
	silences_load(&set, dir);
	const char *id = sa->operands[0];
	struct silence *s = silences_find(&set, id);
	if (!s) {
		silences_free(&set);
		die(EXIT_DATAERR, "silence expire: no silence %s in %s/silences", id, dir);
	}
	int rc = 0;
	const char *action = "expire";
	if (s->ends_at <= now)
		action = "already expired";
	else if (s->starts_at > now)
		s->starts_at = s->ends_at = now; /* a pending one never starts */
	else
		s->ends_at = now;
	if (strcmp(action, "expire") == 0)
		rc = silence_write(dir, s);
	char *am_error = NULL;
	if (rc == 0 && sa->alertmanager && s->am_id)
		silence_am_expire(sa->alertmanager, s->am_id, &am_error);
	if (rc == 0) {
		cJSON *r = silence_record(s, action, now);
		if (s->am_id)
			am_outcome(r, sa, am_error);
		record_print(r, fmt);
	}
	int st = rc < 0 ? EXIT_UNKNOWN : am_error ? EXIT_WARNING : EXIT_OK;
	free(am_error);
	silences_free(&set);
	return st;
}

int silence_command(const char *dir, const struct silence_args *sa, enum output_format fmt)
{
	if (strcmp(sa->verb, "add") == 0)
		return silence_add(dir, sa, fmt);
	if (strcmp(sa->verb, "list") == 0)
		return silence_list(dir, sa, fmt);
	return silence_expire(dir, sa, fmt);
}
