/* message.c — notifications (what the spool keeps) and what each channel
 * gets from one: a Slack message, an email, an Alertmanager webhook payload,
 * an Alertmanager API v2 post. */
#include "alert-send.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- notifications ---- */

static char *notification_id(int64_t now)
{
	static unsigned long seq;
	return easprintf("%lld-%d-%lu", (long long)now, (int)getpid(), ++seq);
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char t[RFC3339_LEN];
	cJSON_AddStringToObject(o, name, rfc3339_format(ms, t));
}

static cJSON *notification_base(const struct settings *s, enum channel_id c, int64_t now)
{
	cJSON *n = cJSON_CreateObject();
	char *id = notification_id(now);
	cJSON_AddStringToObject(n, "kind", "notification");
	cJSON_AddStringToObject(n, "id", id);
	cJSON_AddStringToObject(n, "channel", channel_names[c]);
	add_time(n, "created", now);
	cJSON_AddNumberToObject(n, "created_ms", (double)now);
	if (s->environment)
		cJSON_AddStringToObject(n, "environment", s->environment);
	if (c == CH_EMAIL) {
		/* Decided once, so that every retry is recognisably the same mail. */
		const char *from = s->ch[CH_EMAIL].from;
		const char *at = from ? strchr(from, '@') : NULL;
		char *mid = easprintf("<%s.alert-send@%s>", id, at ? at + 1 : "localhost");
		cJSON_AddStringToObject(n, "message_id", mid);
		free(mid);
	}
	free(id);
	return n;
}

cJSON *notification_new(const struct settings *s, enum channel_id c, struct alert *const *alerts,
			const enum notify_reason *reasons, size_t n, size_t group_firing, int64_t now)
{
	cJSON *doc = notification_base(s, c, now);
	if (n) {
		cJSON *group = cJSON_AddObjectToObject(doc, "group");
		cJSON *labels = settings_group_labels(s, alerts[0]->labels);
		char *key = group_key_of(labels);
		cJSON_AddStringToObject(group, "key", key);
		free(key);
		cJSON_AddItemToObject(group, "labels", labels);
		cJSON_AddNumberToObject(group, "firing", (double)group_firing);
	}
	cJSON *list = cJSON_AddArrayToObject(doc, "alerts");
	for (size_t i = 0; i < n; i++) {
		const struct alert *a = alerts[i];
		cJSON *j = alert_event_new(a->status, cJSON_Duplicate(a->labels, true),
					   cJSON_Duplicate(a->annotations, true), a->starts_at,
					   a->status == ALERT_RESOLVED ? a->ends_at : 0, a->generator_url);
		cJSON *why = cJSON_AddObjectToObject(j, "notify");
		cJSON_AddStringToObject(why, "reason", reason_name(reasons[i]));
		int level = a->level > 0 && a->level <= (int)s->n_levels ? s->levels[a->level - 1].level : 0;
		cJSON_AddNumberToObject(why, "level", level);
		if (a->acked)
			cJSON_AddBoolToObject(why, "acked", true);
		cJSON_AddItemToArray(list, j);
	}
	return doc;
}

cJSON *notification_test(const struct settings *s, enum channel_id c, int64_t now)
{
	cJSON *doc = notification_base(s, c, now);
	cJSON_AddBoolToObject(doc, "test", true);
	cJSON *ann = cJSON_CreateObject();
	char *summary = easprintf("alert-send --test: the %s channel works", channel_names[c]);
	cJSON_AddStringToObject(ann, "summary", summary);
	free(summary);
	cJSON *labels = labels_new("alertname", "ShipshapeTest", "severity", "info", "environment",
				   s->environment, "service", s->service, NULL);
	/* Sent to Alertmanager already resolved: it proves the API path without
	 * paging anyone through Alertmanager's own routes. */
	bool resolved = c == CH_ALERTMANAGER;
	cJSON *a = alert_event_new(resolved ? ALERT_RESOLVED : ALERT_FIRING, labels, ann, now - 1000,
				   resolved ? now : 0, NULL);
	cJSON *why = cJSON_AddObjectToObject(a, "notify");
	cJSON_AddStringToObject(why, "reason", "test");
	cJSON_AddNumberToObject(why, "level", 0);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, "alerts"), a);
	return doc;
}

/* ---- reading a notification back ---- */

struct view {
	const cJSON *alerts;
	int firing, resolved;
	const char *environment;
	bool test;
};

static void view_of(const cJSON *n, struct view *v)
{
	memset(v, 0, sizeof *v);
	v->alerts = cJSON_GetObjectItemCaseSensitive(n, "alerts");
	v->environment = json_path_string(n, "environment", NULL);
	v->test = json_path_bool(n, "test", false);
	const cJSON *a;
	cJSON_ArrayForEach(a, v->alerts) {
		if (strcmp(json_path_string(a, "status", "firing"), "resolved") == 0)
			v->resolved++;
		else
			v->firing++;
	}
}

static const char *label(const cJSON *a, const char *name)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "labels"), name);
	return cJSON_IsString(l) ? l->valuestring : NULL;
}

static const char *annotation(const cJSON *a, const char *name)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "annotations"), name);
	return cJSON_IsString(l) ? l->valuestring : NULL;
}

static bool is_resolved(const cJSON *a)
{
	return strcmp(json_path_string(a, "status", "firing"), "resolved") == 0;
}

static const char *runbook_url(const struct settings *s, const cJSON *a)
{
	const char *u = annotation(a, "runbook_url");
	if (u)
		return u;
	const struct runbook *r = settings_runbook(s, label(a, "alertname") ? label(a, "alertname") : "");
	return r ? r->url : NULL;
}

/* "[FIRING:2] HealthCheckFailed api (production)": Alertmanager's default
 * title, with the target when there is one. */
static void title(struct buf *t, const struct view *v)
{
	if (v->test)
		buf_puts(t, "[TEST] ");
	if (v->firing && v->resolved)
		buf_printf(t, "[FIRING:%d, RESOLVED:%d]", v->firing, v->resolved);
	else if (v->firing)
		buf_printf(t, "[FIRING:%d]", v->firing);
	else
		buf_printf(t, "[RESOLVED:%d]", v->resolved);
	const cJSON *first = cJSON_GetArrayItem(v->alerts, 0);
	const char *name = first ? label(first, "alertname") : NULL;
	bool same_name = true, same_target = true;
	const cJSON *a;
	cJSON_ArrayForEach(a, v->alerts) {
		const char *n = label(a, "alertname"), *t0 = label(a, "target"), *t1 = label(first, "target");
		same_name = same_name && n && name && strcmp(n, name) == 0;
		same_target = same_target && t0 && t1 && strcmp(t0, t1) == 0;
	}
	if (same_name && name)
		buf_printf(t, " %s", name);
	else
		buf_printf(t, " %d alerts", cJSON_GetArraySize(v->alerts));
	if (same_target && label(first, "target"))
		buf_printf(t, " %s", label(first, "target"));
	if (v->environment)
		buf_printf(t, " (%s)", v->environment);
}

char *notification_title(const cJSON *notification)
{
	struct view v;
	struct buf t = {0};
	view_of(notification, &v);
	title(&t, &v);
	return buf_take(&t);
}

static const char *reason_of(const cJSON *a)
{
	return json_path_string(a, "notify.reason", "new");
}

static int level_of(const cJSON *a)
{
	return (int)json_path_number(a, "notify.level", 0);
}

/* ---- Slack ---- */

void slack_escape(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '&')
			buf_puts(b, "&amp;");
		else if (*s == '<')
			buf_puts(b, "&lt;");
		else if (*s == '>')
			buf_puts(b, "&gt;");
		else
			buf_putc(b, *s);
	}
}

static const char *slack_colour(const cJSON *a)
{
	if (is_resolved(a))
		return "#2eb886";
	const char *sev = label(a, "severity");
	if (sev && (strcmp(sev, "critical") == 0 || strcmp(sev, "page") == 0))
		return "#d50200";
	if (sev && strcmp(sev, "warning") == 0)
		return "#daa038";
	return "#439fe0";
}

static char *render_slack(const struct settings *s, const cJSON *n)
{
	struct view v;
	struct buf t = {0};
	view_of(n, &v);
	title(&t, &v);
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "text", t.data);
	cJSON *atts = cJSON_AddArrayToObject(msg, "attachments");
	const cJSON *a;
	cJSON_ArrayForEach(a, v.alerts) {
		struct buf head = {0}, body = {0};
		const char *target = label(a, "target"), *sev = label(a, "severity");
		buf_printf(&head, "[%s] ", is_resolved(a) ? "RESOLVED" : "FIRING");
		slack_escape(&head, label(a, "alertname"));
		if (target) {
			buf_puts(&head, " \xe2\x80\x94 ");
			slack_escape(&head, target);
		}
		if (strcmp(reason_of(a), "escalated") == 0)
			buf_printf(&head, " (escalated to level %d)", level_of(a));
		else if (strcmp(reason_of(a), "repeat") == 0)
			buf_puts(&head, " (still firing)");
		const char *summary = annotation(a, "summary"), *err = annotation(a, "error");
		const char *desc = annotation(a, "description");
		if (summary) {
			slack_escape(&body, summary);
			buf_putc(&body, '\n');
		}
		if (desc) {
			slack_escape(&body, desc);
			buf_putc(&body, '\n');
		}
		if (err && !is_resolved(a)) {
			buf_puts(&body, "*Last error:* ");
			slack_escape(&body, err);
			buf_putc(&body, '\n');
		}
		if (sev) {
			buf_puts(&body, "*Severity:* ");
			slack_escape(&body, sev);
			buf_putc(&body, '\n');
		}
		buf_printf(&body, "*Since:* %s", json_path_string(a, "startsAt", "?"));
		if (is_resolved(a))
			buf_printf(&body, "\n*Resolved:* %s", json_path_string(a, "endsAt", "?"));
		const char *rb = runbook_url(s, a);
		if (rb) {
			buf_puts(&body, "\n<");
			slack_escape(&body, rb);
			buf_puts(&body, "|Runbook>");
		}
		cJSON *att = cJSON_CreateObject();
		cJSON_AddStringToObject(att, "color", slack_colour(a));
		cJSON_AddStringToObject(att, "title", head.data);
		cJSON_AddStringToObject(att, "text", body.data);
		char *footer = easprintf("shipshape alert-send \xc2\xb7 %s", json_path_string(a, "fingerprint", ""));
		cJSON_AddStringToObject(att, "footer", footer);
		free(footer);
		cJSON_AddNumberToObject(att, "ts", (double)((int64_t)json_path_number(n, "created_ms", 0) / 1000));
		cJSON_AddItemToArray(atts, att);
		buf_free(&head);
		buf_free(&body);
	}
	char *out = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	buf_free(&t);
	return out;
}

/* ---- email ---- */

static void base64(struct buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
		buf_putc(b, i + 1 < n ? tab[v >> 6 & 63] : '=');
		buf_putc(b, i + 2 < n ? tab[v & 63] : '=');
	}
}

/* A header value: CR and LF never get through (no header injection from a
 * label); non-ASCII as an RFC 2047 encoded word. */
static void header_value(struct buf *b, const char *s)
{
	bool ascii = true;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	struct buf clean = {0};
	for (const char *p = s; *p; p++)
		buf_putc(&clean, *p == '\r' || *p == '\n' ? ' ' : *p);
	if (ascii) {
		buf_puts(b, clean.data ? clean.data : "");
	} else {
		buf_puts(b, "=?UTF-8?B?");
		base64(b, (const unsigned char *)clean.data, clean.len);
		buf_puts(b, "?=");
	}
	buf_free(&clean);
}

/* Body text with CRLF line ends (SMTP wants them; libcurl dot-stuffs). */
static void body_text(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\n')
			buf_puts(b, "\r\n");
		else if (*s != '\r')
			buf_putc(b, *s);
	}
}

static void body_line(struct buf *b, const char *name, const char *value)
{
	if (!value)
		return;
	buf_printf(b, "  %-12s ", name);
	body_text(b, value);
	buf_puts(b, "\r\n");
}

/* The header of the message, up to the blank line before the body. */
static void email_header(struct buf *m, const struct channel *c, const cJSON *n, const char *subject)
{
	char date[64];
	time_t created = (time_t)(json_path_number(n, "created_ms", 0) / 1000);
	struct tm tm;
	gmtime_r(&created, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(m, "Date: %s\r\n", date);
	buf_puts(m, "Message-ID: ");
	header_value(m, json_path_string(n, "message_id", "<unknown@localhost>"));
	buf_puts(m, "\r\nFrom: ");
	header_value(m, c->from ? c->from : "");
	buf_puts(m, "\r\nTo: ");
	for (size_t i = 0; i < c->n_rcpt; i++) {
		if (i)
			buf_puts(m, ", ");
		header_value(m, c->rcpt[i]);
	}
	buf_puts(m, "\r\nSubject: ");
	header_value(m, subject);
	buf_puts(m, "\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n"
		    "Auto-Submitted: auto-generated\r\n"
		    "X-Shipshape-Notification: ");
	header_value(m, json_path_string(n, "id", ""));
	buf_puts(m, "\r\n\r\n");
}

/* One alert of the body: its status line, then a line per detail. */
static void email_alert(struct buf *m, const struct settings *s, const cJSON *a)
{
	buf_printf(m, "%s  ", is_resolved(a) ? "RESOLVED" : "FIRING");
	body_text(m, label(a, "alertname"));
	if (label(a, "target")) {
		buf_puts(m, "  ");
		body_text(m, label(a, "target"));
	}
	if (strcmp(reason_of(a), "escalated") == 0)
		buf_printf(m, "  (escalated to level %d)", level_of(a));
	else if (strcmp(reason_of(a), "repeat") == 0)
		buf_puts(m, "  (still firing)");
	buf_puts(m, "\r\n");
	body_line(m, "summary:", annotation(a, "summary"));
	body_line(m, "description:", annotation(a, "description"));
	if (!is_resolved(a))
		body_line(m, "last error:", annotation(a, "error"));
	body_line(m, "severity:", label(a, "severity"));
	body_line(m, "since:", json_path_string(a, "startsAt", NULL));
	if (is_resolved(a))
		body_line(m, "resolved:", json_path_string(a, "endsAt", NULL));
	body_line(m, "runbook:", runbook_url(s, a));
	const cJSON *l;
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(a, "labels")) {
		if (strcmp(l->string, "alertname") == 0 || strcmp(l->string, "severity") == 0 ||
		    strcmp(l->string, "target") == 0)
			continue;
		char name[80];
		snprintf(name, sizeof name, "%s:", l->string);
		body_line(m, name, l->valuestring);
	}
	body_line(m, "fingerprint:", json_path_string(a, "fingerprint", NULL));
	buf_puts(m, "\r\n");
}

static char *render_email(const struct settings *s, const cJSON *n)
{
	struct view v;
	struct buf m = {0}, t = {0};
	view_of(n, &v);
	title(&t, &v);
	email_header(&m, &s->ch[CH_EMAIL], n, t.data);
	body_text(&m, t.data);
	buf_puts(&m, "\r\n\r\n");
	const cJSON *a;
	cJSON_ArrayForEach(a, v.alerts)
		email_alert(&m, s, a);
	buf_puts(&m, "-- \r\nshipshape alert-send. Acknowledge to stop escalation:\r\n"
		     "  alert-send ack FINGERPRINT -m MESSAGE\r\n");
	buf_free(&t);
	return buf_take(&m);
}

/* ---- Alertmanager's webhook payload and API ---- */

/* An alert as Alertmanager writes it: no kind, no notify. */
static cJSON *am_alert(const cJSON *a, bool with_status, int64_t ends_at)
{
	cJSON *o = cJSON_CreateObject();
	if (with_status)
		cJSON_AddStringToObject(o, "status", is_resolved(a) ? "resolved" : "firing");
	cJSON_AddItemToObject(o, "labels", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, "labels"), true));
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(a, "annotations");
	cJSON_AddItemToObject(o, "annotations", ann ? cJSON_Duplicate(ann, true) : cJSON_CreateObject());
	cJSON_AddStringToObject(o, "startsAt", json_path_string(a, "startsAt", "0001-01-01T00:00:00Z"));
	if (ends_at > 0)
		add_time(o, "endsAt", ends_at);
	else
		cJSON_AddStringToObject(o, "endsAt", json_path_string(a, "endsAt", "0001-01-01T00:00:00Z"));
	cJSON_AddStringToObject(o, "generatorURL", json_path_string(a, "generatorURL", ""));
	if (with_status)
		cJSON_AddStringToObject(o, "fingerprint", json_path_string(a, "fingerprint", ""));
	return o;
}

/* Labels (or annotations) shared by every alert, as Alertmanager's
 * commonLabels. */
static cJSON *common_of(const cJSON *alerts, const char *member)
{
	const cJSON *first = cJSON_GetArrayItem(alerts, 0);
	cJSON *common = cJSON_CreateObject();
	const cJSON *l;
	const cJSON *members = first ? cJSON_GetObjectItemCaseSensitive(first, member) : NULL;
	cJSON_ArrayForEach(l, members) {
		bool everywhere = true;
		const cJSON *a;
		cJSON_ArrayForEach(a, alerts) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, member),
									  l->string);
			everywhere = everywhere && cJSON_IsString(o) && strcmp(o->valuestring, l->valuestring) == 0;
		}
		if (everywhere)
			cJSON_AddStringToObject(common, l->string, l->valuestring);
	}
	return common;
}

static char *render_webhook(const cJSON *n)
{
	struct view v;
	view_of(n, &v);
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "version", "4");
	/* The group's key and labels (alerts.group_by), the same for a group's
	 * firing and resolved messages, so a consumer that tracks incidents by
	 * groupKey closes them. Status: firing while any alert of the group
	 * still fires (Alertmanager's messages carry the whole group; ours carry
	 * what is news, so the group's count says it). A notification spooled
	 * before groups existed: the one group. */
	const cJSON *group = cJSON_GetObjectItemCaseSensitive(n, "group");
	cJSON_AddStringToObject(p, "groupKey", json_path_string(group, "key", "{}:{}"));
	cJSON_AddNumberToObject(p, "truncatedAlerts", 0);
	bool firing = v.firing || json_path_number(group, "firing", 0) > 0;
	cJSON_AddStringToObject(p, "status", firing ? "firing" : "resolved");
	cJSON_AddStringToObject(p, "receiver", "shipshape");
	const cJSON *glabels = cJSON_GetObjectItemCaseSensitive(group, "labels");
	cJSON_AddItemToObject(p, "groupLabels", cJSON_IsObject(glabels) ? cJSON_Duplicate(glabels, true)
									: cJSON_CreateObject());
	cJSON_AddItemToObject(p, "commonLabels", common_of(v.alerts, "labels"));
	cJSON_AddItemToObject(p, "commonAnnotations", common_of(v.alerts, "annotations"));
	cJSON_AddStringToObject(p, "externalURL", "");
	cJSON *list = cJSON_AddArrayToObject(p, "alerts");
	const cJSON *a;
	cJSON_ArrayForEach(a, v.alerts)
		cJSON_AddItemToArray(list, am_alert(a, true, 0));
	char *out = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	return out;
}

static char *render_alertmanager(const struct settings *s, const cJSON *n, int64_t now)
{
	cJSON *list = cJSON_CreateArray();
	const cJSON *a;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(n, "alerts")) {
		/* A firing alert lives in Alertmanager until endsAt: four resend
		 * intervals ahead, as Prometheus does, so a missed resend never
		 * resolves it while one lost alert-send does in the end. */
		int64_t ends = is_resolved(a) ? 0 : now + 4 * s->ch[CH_ALERTMANAGER].repeat_ms;
		cJSON_AddItemToArray(list, am_alert(a, false, ends));
	}
	char *out = cJSON_PrintUnformatted(list);
	cJSON_Delete(list);
	return out;
}

char *message_render(const struct settings *s, const cJSON *notification, int64_t now)
{
	int c = channel_parse(json_path_string(notification, "channel", ""));
	switch (c) {
	case CH_SLACK: return render_slack(s, notification);
	case CH_EMAIL: return render_email(s, notification);
	case CH_WEBHOOK: return render_webhook(notification);
	case CH_ALERTMANAGER: return render_alertmanager(s, notification, now);
	default: return NULL;
	}
}
