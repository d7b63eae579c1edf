/* notice.c — `alert-send notice`: one deploy notice on stdin (a deploy
 * started, went live, failed, was rolled back) to the channels of
 * alerts.notices.channels (slack, webhook). A notice is news, not an alert:
 * no book, no escalation, no repeat, no ack; it is sent once, with the
 * channel's retries, and one that cannot be delivered is said, not spooled
 * (it would be stale by the time a later run sent it). */
#include "alert-send.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOTICE_MAX (1u << 20)
#define NOTICE_DEADLINE_MS 30000

static const char *const events[] = {"started", "live", "failed", "rolled_back"};
static const char *const event_titles[] = {"DEPLOY STARTED", "DEPLOY LIVE", "DEPLOY FAILED", "ROLLED BACK"};
static const char *const event_colours[] = {"#439fe0", "#2eb886", "#d50200", "#daa038"};

static int event_of(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_LEN(events); i++)
		if (strcmp(name, events[i]) == 0)
			return (int)i;
	return -1;
}

/* The notice from stdin, or exit 65 naming what is wrong. */
static cJSON *read_notice(void)
{
	struct buf in = {0};
	char chunk[8192];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) > 0 && in.len <= NOTICE_MAX)
		buf_append(&in, chunk, (size_t)n);
	if (n < 0)
		die_errno(EXIT_UNKNOWN, "notice: unable to read stdin");
	if (in.len > NOTICE_MAX)
		die(EXIT_DATAERR, "notice: stdin: more than %u bytes", NOTICE_MAX);
	char err[160];
	cJSON *doc = json_parse_text(in.data ? in.data : "", in.len, err, sizeof err);
	buf_free(&in);
	if (!doc)
		die(EXIT_DATAERR, "notice: stdin: %s", err);
	const char *why = !cJSON_IsObject(doc)                            ? "expected one JSON object"
			  : strcmp(json_kind(doc), "notice") != 0          ? "kind: expected \"notice\""
			  : event_of(json_path_string(doc, "event", NULL)) < 0 ? "event: expected started, live, failed or rolled_back"
			  : !*json_path_string(doc, "release", "")            ? "release: required"
									    : NULL;
	if (why) {
		cJSON_Delete(doc);
		die(EXIT_DATAERR, "notice: stdin: %s", why);
	}
	return doc;
}

static char *title_of(const cJSON *n)
{
	int e = event_of(json_path_string(n, "event", NULL));
	return easprintf("[%s] %s to %s (%s)", event_titles[e], json_path_string(n, "release", "?"),
			 json_path_string(n, "service", "?"), json_path_string(n, "environment", "?"));
}

static void line(struct buf *b, const char *name, const char *value)
{
	if (!value || !*value)
		return;
	buf_printf(b, "*%s:* ", name);
	slack_escape(b, value);
	buf_putc(b, '\n');
}

/* A check's measured values: " [label=VALUEuom warn W crit C, ...]". */
static void perf_line(struct buf *b, const cJSON *perf)
{
	const cJSON *p;
	const char *sep = " [";
	cJSON_ArrayForEach(p, perf)
	{
		buf_puts(b, sep);
		slack_escape(b, json_path_string(p, "label", "?"));
		buf_printf(b, "=%g", json_path_number(p, "value", 0));
		slack_escape(b, json_path_string(p, "uom", ""));
		if (json_path(p, "warn"))
			buf_printf(b, " warn %g", json_path_number(p, "warn", 0));
		if (json_path(p, "crit"))
			buf_printf(b, " crit %g", json_path_number(p, "crit", 0));
		sep = ", ";
	}
	if (*sep == ',')
		buf_putc(b, ']');
}

static char *render_slack_notice(const cJSON *n, const char *title)
{
	int e = event_of(json_path_string(n, "event", NULL));
	struct buf body = {0};
	char dur[32] = "";
	if (json_path(n, "duration_ms"))
		duration_format((int64_t)json_path_number(n, "duration_ms", 0), dur, sizeof dur);
	line(&body, "Release", json_path_string(n, "release", NULL));
	line(&body, "Previous", json_path_string(n, "previous", NULL));
	line(&body, "By", json_path_string(n, "by", NULL));
	line(&body, "Duration", dur);
	line(&body, "Deploy", json_path_string(n, "deploy", NULL));
	line(&body, "Message", json_path_string(n, "message", NULL));
	const cJSON *c;
	cJSON_ArrayForEach(c, json_path(n, "checks"))
	{
		buf_puts(&body, "\xe2\x80\xa2 ");
		slack_escape(&body, json_path_string(c, "name", "?"));
		buf_printf(&body, " (%s): ", json_path_string(c, "status", "?"));
		slack_escape(&body, json_path_string(c, "message", ""));
		perf_line(&body, json_path(c, "perf"));
		buf_putc(&body, '\n');
	}
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "text", title);
	cJSON *att = cJSON_CreateObject();
	cJSON_AddStringToObject(att, "color", event_colours[e]);
	cJSON_AddStringToObject(att, "title", title);
	cJSON_AddStringToObject(att, "text", body.data ? body.data : "");
	cJSON_AddStringToObject(att, "footer", "shipshape deploy notice");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(msg, "attachments"), att);
	char *text = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	buf_free(&body);
	return text;
}

/* One channel: the call and its delivery record. Returns whether it was delivered. */
static bool send_one(const struct settings *s, const struct channel *ch, const cJSON *n, const char *title,
		     enum output_format fmt)
{
	char *body = ch->id == CH_SLACK ? render_slack_notice(n, title) : cJSON_PrintUnformatted(n);
	int64_t after_max = s->retry_after_max_ms > 0 ? s->retry_after_max_ms : 1;
	struct rest_request rq = {
		.name = ch->name, .method = "POST", .url = ch->url, .body = body,
		.attempt_timeout_ms = s->timeout_ms, .deadline_ms = now_monotonic_ms() + NOTICE_DEADLINE_MS,
		.ca_file = ch->ca_file, .tls_insecure = !ch->tls_verify, .quiet_retries = true,
		.retry = {.attempts = s->retry_attempts, .initial_ms = s->retry_initial_ms, .max_ms = s->retry_max_ms,
			  .retry_after_max_ms = after_max, .jitter = true},
	};
	struct rest_response res;
	int rc = rest_call(&rq, &res);
	char t[RFC3339_LEN];
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "delivery");
	cJSON_AddStringToObject(r, "time", rfc3339_format(now_epoch_ms(), t));
	cJSON_AddStringToObject(r, "status", rc == 0 ? "delivered" : "failed");
	cJSON_AddStringToObject(r, "channel", ch->name);
	cJSON_AddStringToObject(r, "destination", ch->host ? ch->host : "-");
	cJSON_AddStringToObject(r, "title", title);
	cJSON_AddStringToObject(r, "notice", json_path_string(n, "event", "?"));
	cJSON_AddNumberToObject(r, "attempt", res.attempts);
	if (res.code)
		cJSON_AddNumberToObject(r, "code", (double)res.code);
	if (rc != 0)
		cJSON_AddStringToObject(r, "error", res.error ? res.error : "no answer");
	record_print(r, fmt);
	rest_response_free(&res);
	free(body);
	return rc == 0;
}

int notice_command(const struct settings *s, enum output_format fmt)
{
	cJSON *n = read_notice();
	/* the message and the checks' texts are the deploy's: masked as -m is */
	const char *keys[] = {"message", "by"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(n, keys[i]))) {
			char *m = redact_string(json_path_string(n, keys[i], ""));
			cJSON_ReplaceItemInObject(n, keys[i], cJSON_CreateString(m));
			free(m);
		}
	cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(n, "checks"))
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "message"))) {
			char *m = redact_string(json_path_string(c, "message", ""));
			cJSON_ReplaceItemInObject(c, "message", cJSON_CreateString(m));
			free(m);
		}
	char *title = title_of(n);
	unsigned sent = 0, tried = 0;
	for (int i = 0; i < CH_COUNT; i++) {
		if (!(s->notice_channels & (1u << i)) || !s->ch[i].configured)
			continue;
		tried++;
		sent += send_one(s, &s->ch[i], n, title, fmt);
	}
	if (!tried)
		warnx_("notice: no channel in alerts.notices.channels is configured: nobody is told");
	free(title);
	cJSON_Delete(n);
	return !tried ? EXIT_WARNING : sent == tried ? EXIT_OK : sent ? EXIT_WARNING : EXIT_CRITICAL;
}
