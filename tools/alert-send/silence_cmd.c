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
	int rc = silence_write(dir, &s);
	if (rc == 0)
		record_print(silence_record(&s, "add", s.created_at), fmt);
	silence_free(&s);
	return rc == 0 ? EXIT_OK : EXIT_UNKNOWN;
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

static int silence_list(const char *dir, enum output_format fmt)
{
	struct silences set = {0};
	int64_t now = now_epoch_ms();
	silences_load(&set, dir);
	forget_old(dir, &set, now);
	if (fmt == FORMAT_TEXT && set.n == 0)
		printf("no silences\n");
	for (size_t i = 0; i < set.n; i++)
		if (set.v[i].ends_at + EXPIRED_KEPT_MS > now)
			record_print(silence_record(&set.v[i], "list", now), fmt);
	silences_free(&set);
	return EXIT_OK;
}

static int silence_expire(const char *dir, const char *id, enum output_format fmt)
{
	struct silences set = {0};
	int64_t now = now_epoch_ms();
	silences_load(&set, dir);
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
	if (rc == 0)
		record_print(silence_record(s, action, now), fmt);
	silences_free(&set);
	return rc == 0 ? EXIT_OK : EXIT_UNKNOWN;
}

int silence_command(const char *dir, const struct silence_args *sa, enum output_format fmt)
{
	if (strcmp(sa->verb, "add") == 0)
		return silence_add(dir, sa, fmt);
	if (strcmp(sa->verb, "list") == 0)
		return silence_list(dir, fmt);
	return silence_expire(dir, sa->operands[0], fmt);
}
