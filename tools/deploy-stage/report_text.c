/* report_text.c — the deploy report's document (report_doc.c) as readable
 * text. */
#include "report_doc.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void text_elapsed(struct buf *b, const cJSON *e)
{
	char d[32];
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "elapsed_ms");
	if (cJSON_IsNumber(ms) && ms->valuedouble >= 0)
		buf_printf(b, "  +%-8s ", duration_format((int64_t)ms->valuedouble, d, sizeof d));
	else
		buf_printf(b, "  %-9s ", "");
}

static void text_reports(struct buf *b, const cJSON *reports, const char *indent)
{
	const cJSON *rep, *c;
	cJSON_ArrayForEach(rep, reports)
	{
		buf_printf(b, "%s%s %s: %s%s\n", indent, json_path_string(rep, "tool", "?"),
			   json_path_string(rep, "status", "unknown"), json_path_string(rep, "summary", ""),
			   json_path_bool(rep, "truncated", false) ? " (stored bounded)" : "");
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rep, "checks"))
		{
			buf_printf(b, "%s  %-8s %s  %s", indent, json_path_string(c, "status", "unknown"),
				   json_path_string(c, "name", "?"), json_path_string(c, "message", ""));
			const cJSON *ms = cJSON_GetObjectItemCaseSensitive(c, "duration_ms");
			char d[32];
			if (cJSON_IsNumber(ms))
				buf_printf(b, " (%s)", duration_format((int64_t)ms->valuedouble, d, sizeof d));
			buf_putc(b, '\n');
		}
	}
}

static void text_timeline(struct buf *b, const cJSON *timeline, const char *indent)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, timeline)
	{
		const char *step = json_path_string(e, "step", "?");
		buf_puts(b, indent);
		text_elapsed(b, e);
		if (strcmp(step, "gate") == 0)
			buf_printf(b, "%s gate %s (%s)\n", json_path_string(e, "stage", "?"),
				   json_path_bool(e, "passed", false) ? "passed" : "FAILED",
				   json_path_string(e, "status", "unknown"));
		else if (strcmp(step, "finish") == 0)
			buf_printf(b, "finish %s%s%s\n", json_path_string(e, "result", "?"),
				   cJSON_GetObjectItemCaseSensitive(e, "message") || cJSON_GetObjectItemCaseSensitive(e, "reason") ? ": " : "",
				   json_path_string(e, "message", json_path_string(e, "reason", "")));
		else if (strcmp(step, "reports") == 0)
			buf_printf(b, "%s reports (no gate decided)\n", json_path_string(e, "stage", "?"));
		else
			buf_printf(b, "%s %s %s: %s\n", json_path_string(e, "stage", "?"), step,
				   json_path_string(e, "status", "?"), json_path_string(e, "message", ""));
		char *deeper = easprintf("%s             ", indent);
		text_reports(b, cJSON_GetObjectItemCaseSensitive(e, "reports"), deeper);
		free(deeper);
	}
}

static void text_header(struct buf *b, const cJSON *doc)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "deployment");
	buf_printf(b, "%s %.0f of %s: %s (replacing %s): %s", json_path_string(s, "action", "deploy"),
		   json_path_number(doc, "deploy", 0), json_path_string(doc, "service", "?"),
		   json_path_string(s, "release", "?"), json_path_string(s, "previous", "nothing"),
		   json_path_string(s, "result", "?"));
	const char *end = json_path_string(s, "finish_message", NULL);
	if (end)
		buf_printf(b, " %s %s", text_dash(), end);
	buf_printf(b, "\nstarted %s by %s", json_path_string(s, "started_at", "?"), json_path_string(s, "who", json_path_string(s, "user", "?")));
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(s, "duration_ms");
	char d[32];
	if (cJSON_IsNumber(ms))
		buf_printf(b, ", took %s", duration_format((int64_t)ms->valuedouble, d, sizeof d));
	const char *why = json_path_string(s, "message", NULL);
	if (why)
		buf_printf(b, ": %s", why);
	buf_puts(b, "\n\ntimeline\n");
}

static void text_latency(struct buf *b, const cJSON *latency)
{
	static const char *const pcts[] = {"p50", "p90", "p95", "p99", "max"};
	const cJSON *e;
	if (!cJSON_GetArraySize(latency))
		return;
	buf_printf(b, "\nlatency (ms)%28s", "");
	for (size_t i = 0; i < ARRAY_LEN(pcts); i++)
		buf_printf(b, " %8s", pcts[i]);
	buf_putc(b, '\n');
	cJSON_ArrayForEach(e, latency)
	{
		for (int row = 0; row < 2; row++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, row ? "baseline" : "current");
			if (!cJSON_IsObject(v))
				continue;
			char *label = row ? estrdup("  baseline")
					  : easprintf("  %s %s", json_path_string(e, "stage", "?"), json_path_string(e, "check", "?"));
			buf_printf(b, "%-40s", label);
			free(label);
			for (size_t i = 0; i < ARRAY_LEN(pcts); i++) {
				const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, pcts[i]);
				if (cJSON_IsNumber(x))
					buf_printf(b, " %8.1f", x->valuedouble);
				else
					buf_printf(b, " %8s", "-");
			}
			buf_putc(b, '\n');
		}
	}
}

static void text_metrics_health(struct buf *b, const cJSON *doc)
{
	const cJSON *s, *p;
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "metrics")))
		buf_puts(b, "\nmetrics\n");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "metrics"))
	{
		buf_printf(b, "  %s (%s):", json_path_string(s, "name", "?"), json_path_string(s, "status", "?"));
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(s, "points"))
			buf_printf(b, " %g", json_path_number(p, "value", 0));
		buf_putc(b, '\n');
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "health")))
		buf_puts(b, "\nhealth\n");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "health"))
	{
		buf_printf(b, "  %s:", json_path_string(s, "target", "?"));
		const char *sep = " ";
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(s, "observations"))
		{
			buf_printf(b, "%s%s (%s)", sep, json_path_string(p, "state", "?"), json_path_string(p, "stage", "?"));
			sep = " -> ";
		}
		buf_putc(b, '\n');
	}
}

char *deploy_report_text(const cJSON *doc)
{
	struct buf b = {0};
	text_header(&b, doc);
	text_timeline(&b, cJSON_GetObjectItemCaseSensitive(doc, "timeline"), "");
	const cJSON *rb = cJSON_GetObjectItemCaseSensitive(doc, "rollback");
	if (cJSON_IsObject(rb)) {
		buf_printf(&b, "\nrollback: %s\n", json_path_string(rb, "outcome", "?"));
		text_timeline(&b, cJSON_GetObjectItemCaseSensitive(rb, "timeline"), "");
	}
	text_latency(&b, cJSON_GetObjectItemCaseSensitive(doc, "latency"));
	text_metrics_health(&b, doc);
	return buf_take(&b);
}
