/* view.c — what the book holds and where an alert would go. `alert-send
 * list`: every alert in the book (since when, the escalation level reached,
 * the ack, what mutes it, the next notification due and to which
 * channels) and the maintenance windows; `alert-send route LABEL=VALUE...`:
 * the channels and levels an alert with those labels would reach, and what
 * would mute it now. Both read the state and change nothing. */
#include "alert-send.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACK_MAX (64u << 10)

static unsigned level_channels(const struct settings *s, int level)
{
	unsigned bits = 0;
	for (int i = 0; i < level && i < (int)s->n_levels; i++)
		bits |= s->levels[i].channels;
	return bits & settings_configured(s);
}

static cJSON *channel_list(unsigned bits)
{
	cJSON *list = cJSON_CreateArray();
	for (int c = 0; c < CH_COUNT; c++)
		if (bits & (1u << c))
			cJSON_AddItemToArray(list, cJSON_CreateString(channel_names[c]));
	return list;
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char t[RFC3339_LEN];
	cJSON_AddStringToObject(o, name, rfc3339_format(ms, t));
}

/* Who acked a, from its ack file. */
static void add_ack(cJSON *r, const struct book *b, const struct alert *a)
{
	if (!a->acked)
		return;
	char *path = easprintf("%s/acks/%s.json", b->dir, a->fingerprint), *text = NULL, err[64];
	size_t len = 0;
	cJSON *ack = read_file(path, ACK_MAX, &text, &len) == 0 ? json_parse_text(text, len, err, sizeof err) : NULL;
	cJSON *o = cJSON_AddObjectToObject(r, "acked");
	cJSON_AddStringToObject(o, "by", json_path_string(ack, "by", "?"));
	cJSON_AddStringToObject(o, "message", json_path_string(ack, "message", ""));
	cJSON_Delete(ack);
	free(text);
	free(path);
}

struct due {
	int64_t at;
	unsigned channels;
	const char *reason;
};

static void consider(struct due *d, int64_t at, int c, const char *reason)
{
	if (at < d->at) {
		d->at = at;
		d->channels = 0;
		d->reason = reason;
	}
	if (at == d->at)
		d->channels |= 1u << c;
}

/* The next notification a is owed, unmuted: the earliest of a first
 * notice (after group_wait), a repeat, an escalation, or its resolve. */
static struct due next_due(const struct settings *s, const struct alert *a, int64_t now)
{
	struct due d = {.at = INT64_MAX};
	unsigned active = level_channels(s, a->level);
	for (int c = 0; c < CH_COUNT; c++) {
		const struct chan_state *cs = &a->ch[c];
		if (a->status == ALERT_RESOLVED) {
			if (cs->sent == SENT_FIRING)
				consider(&d, cs->pending_since ? cs->pending_since + s->ch[c].group_wait_ms : now, c, "resolved");
		} else if (active & (1u << c)) {
			if (cs->sent != SENT_FIRING)
				consider(&d, (cs->pending_since ? cs->pending_since : now) + s->ch[c].group_wait_ms, c, "new");
			else
				consider(&d, cs->sent_at + s->ch[c].repeat_ms, c, "repeat");
		}
	}
	if (a->status == ALERT_FIRING && !a->acked && a->level < (int)s->n_levels) {
		const struct level *l = &s->levels[a->level];
		unsigned added = l->channels & settings_configured(s) & ~active;
		for (int c = 0; c < CH_COUNT; c++)
			if (added & (1u << c))
				consider(&d, a->firing_since + l->after_ms, c, "escalated");
	}
	if (d.at != INT64_MAX && d.at < now)
		d.at = now;
	return d;
}

/* When what mutes it ends, where that is known: a silence's end, a one-off
 * window's; a recurring window's or an inhibition's end is not. */
static int64_t mute_end(const struct settings *s, const char *muted, int64_t until)
{
	if (strncmp(muted, "silence ", 8) == 0)
		return until;
	for (size_t i = 0; strncmp(muted, "window ", 7) == 0 && i < s->n_windows; i++)
		if (strcmp(s->windows[i].name, muted + 7) == 0 && s->windows[i].start != INT64_MIN)
			return s->windows[i].end;
	return INT64_MAX;
}

static cJSON *alert_record(const struct book *b, const struct settings *s, const struct inhibitions *in,
			   struct alert *a, int64_t now)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "book_alert");
	cJSON_AddStringToObject(r, "fingerprint", a->fingerprint);
	cJSON_AddStringToObject(r, "alertname", json_path_string(a->labels, "alertname", ""));
	cJSON_AddStringToObject(r, "status", alert_status_name(a->status));
	cJSON_AddItemToObject(r, "labels", cJSON_Duplicate(a->labels, true));
	add_time(r, "since", a->firing_since ? a->firing_since : a->starts_at);
	cJSON_AddNumberToObject(r, "level", a->level);
	add_ack(r, b, a);
	int64_t until = INT64_MAX;
	char *muted = a->status == ALERT_FIRING ? book_mute_reason(b, s, in, a, now, &until) : NULL;
	cJSON *told = cJSON_AddObjectToObject(r, "told");
	for (int c = 0; c < CH_COUNT; c++)
		if (a->ch[c].sent != SENT_NONE)
			cJSON_AddStringToObject(told, channel_names[c], a->ch[c].sent == SENT_FIRING ? "firing" : "resolved");
	struct due d = next_due(s, a, now);
	cJSON *next = cJSON_AddObjectToObject(r, "next");
	if (muted) {
		cJSON_AddStringToObject(r, "muted_by", muted);
		/* heard when the mute ends: then, to the channels of its level */
		cJSON_AddStringToObject(next, "reason", "when no longer muted");
		until = mute_end(s, muted, until);
		if (until != INT64_MAX)
			add_time(next, "at", until);
		cJSON_AddItemToObject(next, "channels", channel_list(level_channels(s, a->level ? a->level : 1)));
	} else if (d.at != INT64_MAX) {
		cJSON_AddStringToObject(next, "reason", d.reason);
		add_time(next, "at", d.at);
		cJSON_AddItemToObject(next, "channels", channel_list(d.channels));
	} else {
		cJSON_AddStringToObject(next, "reason", "nothing owed");
	}
	free(muted);
	return r;
}

static void print_record_text(const cJSON *r)
{
	const cJSON *ch;
	struct buf chans = {0};
	cJSON_ArrayForEach(ch, json_path(r, "next.channels"))
		buf_printf(&chans, "%s%s", chans.len ? "," : "", ch->valuestring);
	if (strcmp(json_kind(r), "window") == 0) {
		printf("window   %-24s %s\n", json_path_string(r, "name", "?"),
		       json_path_bool(r, "open", false) ? "open" : "closed");
	} else {
		printf("%-8s %-16s %-24s since %s, level %d", json_path_string(r, "status", "?"),
		       json_path_string(r, "fingerprint", "?"), json_path_string(r, "alertname", "?"),
		       json_path_string(r, "since", "?"), (int)json_path_number(r, "level", 0));
		if (json_path(r, "acked"))
			printf(", acked by %s", json_path_string(r, "acked.by", "?"));
		if (json_path(r, "muted_by"))
			printf(", muted (%s)", json_path_string(r, "muted_by", "?"));
		printf("; next: %s%s%s%s%s\n", json_path_string(r, "next.reason", "?"), json_path(r, "next.at") ? " at " : "",
		       json_path_string(r, "next.at", ""), chans.len ? " to " : "", chans.len ? chans.data : "");
	}
	buf_free(&chans);
}

static void emit(cJSON *r, enum output_format fmt)
{
	if (fmt == FORMAT_TEXT) {
		print_record_text(r);
		cJSON_Delete(r);
	} else {
		record_print(r, fmt);
	}
}

static int compare_since(const void *x, const void *y)
{
	const struct alert *a = *(const struct alert *const *)x, *b = *(const struct alert *const *)y;
	return a->firing_since < b->firing_since ? -1 : a->firing_since > b->firing_since;
}

int view_list(struct book *b, struct settings *s, enum output_format fmt)
{
	int64_t now = now_epoch_ms();
	struct inhibitions *in = inhibitions_build(b, s);
	struct alert **all = b->count ? emalloc(b->count * sizeof *all) : NULL;
	size_t n = 0;
	for (size_t i = 0; i < b->n_buckets; i++)
		for (struct alert *a = b->buckets[i]; a; a = a->next)
			all[n++] = a;
	if (n)
		qsort(all, n, sizeof *all, compare_since);
	for (size_t i = 0; i < n; i++)
		emit(alert_record(b, s, in, all[i], now), fmt);
	for (size_t i = 0; i < s->n_windows; i++) {
		int64_t change = INT64_MAX;
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "kind", "window");
		cJSON_AddStringToObject(r, "name", s->windows[i].name);
		cJSON_AddBoolToObject(r, "open", window_active(&s->windows[i], now, &change));
		cJSON_AddStringToObject(r, "timezone", s->windows[i].timezone);
		emit(r, fmt);
	}
	if (fmt == FORMAT_TEXT && !n && !s->n_windows)
		printf("the book is empty: no alert, no maintenance window\n");
	free(all);
	inhibitions_free(in);
	return EXIT_OK;
}

/* LABEL=VALUE operands into an object; NULL with a message on a bad one. */
static cJSON *labels_of(char **operands, int n)
{
	cJSON *labels = cJSON_CreateObject();
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(operands[i], '=');
		if (!eq || eq == operands[i]) {
			cJSON_Delete(labels);
			die(EXIT_USAGE, "route: \"%s\" is not LABEL=VALUE", operands[i]);
		}
		char *name = estrndup(operands[i], (size_t)(eq - operands[i]));
		cJSON_DeleteItemFromObject(labels, name);
		cJSON_AddStringToObject(labels, name, eq + 1);
		free(name);
	}
	return labels;
}

int view_route(struct book *b, struct settings *s, char **operands, int n, enum output_format fmt)
{
	int64_t now = now_epoch_ms(), until = INT64_MAX;
	struct alert probe = {.labels = labels_of(operands, n), .status = ALERT_FIRING};
	struct inhibitions *in = inhibitions_build(b, s);
	char *muted = book_mute_reason(b, s, in, &probe, now, &until);
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "route");
	cJSON_AddItemToObject(r, "labels", cJSON_Duplicate(probe.labels, true));
	cJSON *g = settings_group_labels(s, probe.labels);
	char *key = group_key_of(g);
	cJSON_AddStringToObject(r, "group_key", key);
	cJSON *levels = cJSON_AddArrayToObject(r, "levels");
	for (size_t i = 0; i < s->n_levels; i++) {
		cJSON *l = cJSON_CreateObject();
		char t[32];
		cJSON_AddNumberToObject(l, "level", s->levels[i].level);
		cJSON_AddStringToObject(l, "after", duration_format(s->levels[i].after_ms, t, sizeof t));
		cJSON_AddItemToObject(l, "channels", channel_list(s->levels[i].channels & settings_configured(s)));
		cJSON_AddItemToArray(levels, l);
	}
	if (muted) {
		cJSON_AddStringToObject(r, "muted_by", muted);
		until = mute_end(s, muted, until);
		if (until != INT64_MAX)
			add_time(r, "muted_until", until);
	}
	if (fmt == FORMAT_TEXT) {
		printf("group %s\n", key);
		const cJSON *l;
		cJSON_ArrayForEach(l, levels)
		{
			struct buf chans = {0};
			const cJSON *c;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(l, "channels"))
				buf_printf(&chans, "%s%s", chans.len ? ", " : "", c->valuestring);
			printf("level %d after %s: %s\n", (int)json_path_number(l, "level", 0),
			       json_path_string(l, "after", "?"), chans.len ? chans.data : "no configured channel");
			buf_free(&chans);
		}
		if (muted)
			printf("muted now (%s)%s%s\n", muted, json_path(r, "muted_until") ? " until " : "",
			       json_path_string(r, "muted_until", ""));
		else
			printf("not muted now\n");
		cJSON_Delete(r);
	} else {
		record_print(r, fmt);
	}
	free(muted);
	free(key);
	cJSON_Delete(g);
	cJSON_Delete(probe.labels);
	free(probe.rule_source);
	free(probe.rule_target);
	inhibitions_free(in);
	return EXIT_OK;
}
