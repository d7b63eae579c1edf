/* report_html.c — the deploy report's document (report_doc.c) and the
 * history as one self-contained HTML page each: inline CSS, charts as
 * inline SVG, no script, no external asset; polyglot markup that is also
 * well-formed XML, every string escaped. */
#include "report_doc.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHART_W 640
#define CHART_H 220
#define CHART_LEFT 56
#define CHART_BOTTOM 28
#define CHART_TOP 16
#define CIRCLES_MAX 200

/* No '<' or '&' in it: it is XML character data. */
static const char css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;"
	"background:#fff;margin:0 auto;max-width:1100px;padding:24px}"
	"h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;"
	"margin:28px 0 12px}h3{font-size:15px;margin:0 0 6px}"
	"dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}"
	"dl.facts dt{color:#59636e}dl.facts dd{margin:0}"
	"ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid #d0d7de}"
	"ol.timeline li{margin:0 0 14px;padding:4px 0 4px 16px;position:relative}"
	"ol.timeline li.bad{border-left:3px solid #cf222e;margin-left:-3px}"
	"ol.timeline li.good{border-left:3px solid #1a7f37;margin-left:-3px}"
	".when{color:#59636e;font-size:12px;font-variant-numeric:tabular-nums}"
	"table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}"
	"th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}"
	"th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}"
	".st{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}"
	".st-ok,.st-passed{background:#1a7f37}.st-warning{background:#9a6700}"
	".st-critical,.st-failed{background:#cf222e}.st-unknown,.st-other{background:#6e7781}"
	".st-in_progress,.st-interrupted{background:#8250df}.st-up{background:#1a7f37}.st-down{background:#cf222e}"
	"table.checks{table-layout:fixed}table.checks th:nth-child(1){width:28%}"
	"table.checks th:nth-child(2){width:90px}table.checks th:nth-child(4){width:80px}"
	"td{overflow-wrap:anywhere}"
	".report{margin:6px 0 2px;color:#59636e;cursor:pointer}details table{margin-left:14px;width:calc(100% - 14px)}"
	"svg{display:block;margin:6px 0 14px;background:#fbfcfd;border:1px solid #d0d7de}"
	"svg text{font:11px system-ui,sans-serif;fill:#1f2328}"
	".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}"
	"footer{margin-top:32px;color:#59636e;font-size:12px}";

void html_escaped(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		default: buf_putc(b, *s);
		}
	}
}

/* A member of o as escaped text (def when absent or not a string). */
static void html_member(struct buf *b, const cJSON *o, const char *key, const char *def)
{
	html_escaped(b, json_path_string(o, key, def));
}

/* The class of a status word: one of a fixed set, never the word itself. */
static const char *status_class(const char *s)
{
	static const char *const known[] = {"ok",      "passed",      "warning",     "critical", "failed",
					    "unknown", "in_progress", "interrupted", "up",	 "down"};
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		if (strcmp(s, known[i]) == 0)
			return known[i];
	return "other";
}

static void html_badge(struct buf *b, const char *status)
{
	buf_printf(b, "<span class=\"st st-%s\">", status_class(status ? status : ""));
	html_escaped(b, status ? status : "?");
	buf_puts(b, "</span>");
}

static void html_open(struct buf *b, const char *title)
{
	buf_puts(b, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\" xml:lang=\"en\">\n<head>\n"
		    "<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
		    "<title>");
	html_escaped(b, title);
	buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
}

static void html_close(struct buf *b, const char *generated_at)
{
	buf_puts(b, "<footer>Made by deploy-stage from the deploy journal");
	if (generated_at) {
		buf_puts(b, " at ");
		html_escaped(b, generated_at);
	}
	buf_puts(b, ". Secrets are masked (***); no script, no external resource.</footer>\n</body>\n</html>\n");
}

static void html_fact(struct buf *b, const char *name, const cJSON *o, const char *key)
{
	const char *v = json_path_string(o, key, NULL);
	if (!v)
		return;
	buf_printf(b, "<dt>%s</dt><dd>", name);
	html_escaped(b, v);
	buf_puts(b, "</dd>\n");
}

static void html_header(struct buf *b, const cJSON *doc)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "deployment");
	buf_printf(b, "<header>\n<h1>%s %.0f of ", strcmp(json_path_string(s, "action", ""), "rollback") == 0 ? "Rollback" : "Deploy",
		   json_path_number(doc, "deploy", 0));
	html_member(b, doc, "service", "?");
	buf_puts(b, ": ");
	html_member(b, s, "release", "?");
	buf_puts(b, " ");
	html_badge(b, json_path_string(s, "result", "?"));
	buf_puts(b, "</h1>\n<dl class=\"facts\">\n");
	html_fact(b, "Release", s, "release");
	html_fact(b, "Replacing", s, "previous");
	html_fact(b, "Started", s, "started_at");
	html_fact(b, "Finished", s, "finished_at");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(s, "duration_ms");
	char d[32];
	if (cJSON_IsNumber(ms))
		buf_printf(b, "<dt>Duration</dt><dd>%s</dd>\n", duration_format((int64_t)ms->valuedouble, d, sizeof d));
	html_fact(b, "By", s, cJSON_GetObjectItemCaseSensitive(s, "who") ? "who" : "user");
	html_fact(b, "Now", s, "mark");
	html_fact(b, "Failed at", s, "failed_stage");
	html_fact(b, "Why", s, "message");
	html_fact(b, "Outcome", s, "finish_message");
	html_fact(b, "Last stage", s, "last_stage");
	buf_puts(b, "</dl>\n</header>\n");
}

static void html_checks(struct buf *b, const cJSON *rep)
{
	const cJSON *c;
	buf_puts(b, "<table class=\"checks\"><thead><tr><th>Check</th><th>Status</th><th>Message</th><th>Duration</th>"
		    "</tr></thead><tbody>\n");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rep, "checks"))
	{
		buf_puts(b, "<tr><td>");
		html_member(b, c, "name", "?");
		buf_puts(b, "</td><td>");
		html_badge(b, json_path_string(c, "status", "unknown"));
		buf_puts(b, "</td><td>");
		html_member(b, c, "message", "");
		buf_puts(b, "</td><td class=\"num\">");
		const cJSON *ms = cJSON_GetObjectItemCaseSensitive(c, "duration_ms");
		char d[32];
		buf_puts(b, cJSON_IsNumber(ms) ? duration_format((int64_t)ms->valuedouble, d, sizeof d) : "-");
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</tbody></table>\n");
}

static void html_reports(struct buf *b, const cJSON *reports)
{
	const cJSON *rep;
	cJSON_ArrayForEach(rep, reports)
	{
		/* a report that failed its gate is open; the others fold (no
		 * script needed: <details>) */
		const char *st = json_path_string(rep, "status", "unknown");
		bool failed = strcmp(st, "critical") == 0 || strcmp(st, "unknown") == 0;
		buf_printf(b, "<details%s><summary class=\"report\"><b>", failed ? " open=\"open\"" : "");
		html_member(b, rep, "tool", "?");
		buf_puts(b, "</b> ");
		html_badge(b, st);
		buf_puts(b, " ");
		html_member(b, rep, "summary", "");
		if (json_path_bool(rep, "truncated", false))
			buf_puts(b, " (stored bounded: some checks or their details were not kept)");
		buf_puts(b, "</summary>\n");
		html_checks(b, rep);
		buf_puts(b, "</details>\n");
	}
}

/* Whether a timeline entry went well: a gate passed, a step ok. */
static bool entry_good(const cJSON *e)
{
	const char *step = json_path_string(e, "step", "");
	if (strcmp(step, "gate") == 0)
		return json_path_bool(e, "passed", false);
	if (strcmp(step, "reports") == 0)
		return true;
	const char *s = json_path_string(e, "status", json_path_string(e, "result", ""));
	return strcmp(s, "ok") == 0;
}

static void html_entry_title(struct buf *b, const cJSON *e)
{
	const char *step = json_path_string(e, "step", "?");
	buf_puts(b, "<h3>");
	if (strcmp(step, "finish") == 0) {
		buf_puts(b, "finish ");
		html_badge(b, json_path_string(e, "result", "?"));
	} else {
		html_member(b, e, "stage", "?");
		buf_puts(b, " <small>");
		html_escaped(b, step);
		buf_puts(b, "</small> ");
		if (strcmp(step, "gate") == 0)
			html_badge(b, json_path_bool(e, "passed", false) ? "passed" : "failed");
		else if (strcmp(step, "reports") != 0)
			html_badge(b, json_path_string(e, "status", "?"));
	}
	buf_puts(b, "</h3>\n");
	const char *m = json_path_string(e, "message", json_path_string(e, "reason", NULL));
	if (m || strcmp(step, "gate") == 0) {
		buf_puts(b, "<p>");
		if (strcmp(step, "gate") == 0) {
			buf_puts(b, "the worst report: ");
			html_member(b, e, "status", "?");
			buf_puts(b, json_path_bool(e, "strict", false) ? " (strict: warnings fail it)" : "");
		}
		html_escaped(b, m);
		buf_puts(b, "</p>\n");
	}
}

static void html_timeline(struct buf *b, const cJSON *timeline)
{
	const cJSON *e, *p;
	buf_puts(b, "<ol class=\"timeline\">\n");
	cJSON_ArrayForEach(e, timeline)
	{
		buf_printf(b, "<li class=\"%s\"><div class=\"when\">", entry_good(e) ? "good" : "bad");
		const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "elapsed_ms");
		char d[32];
		if (cJSON_IsNumber(ms) && ms->valuedouble >= 0)
			buf_printf(b, "+%s ", duration_format((int64_t)ms->valuedouble, d, sizeof d));
		html_member(b, e, "time", "");
		buf_puts(b, "</div>\n");
		html_entry_title(b, e);
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(e, "problems"))
		{
			buf_puts(b, "<p>problem: ");
			html_escaped(b, cJSON_IsString(p) ? p->valuestring : "?");
			buf_puts(b, "</p>\n");
		}
		html_reports(b, cJSON_GetObjectItemCaseSensitive(e, "reports"));
		buf_puts(b, "</li>\n");
	}
	buf_puts(b, "</ol>\n");
}

static void html_rollback(struct buf *b, const cJSON *rb)
{
	if (!cJSON_IsObject(rb))
		return;
	buf_puts(b, "<section id=\"rollback\">\n<h2>Rollback</h2>\n<p>");
	html_member(b, rb, "outcome", "?");
	buf_puts(b, "</p>\n");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(rb, "deployment");
	if (s) {
		buf_printf(b, "<p>Rollback deploy %.0f to ", json_path_number(rb, "deploy", 0));
		html_member(b, s, "release", "?");
		buf_puts(b, ", started ");
		html_member(b, s, "started_at", "?");
		buf_puts(b, " by ");
		html_member(b, s, "who", json_path_string(s, "user", "?"));
		buf_puts(b, ": ");
		html_badge(b, json_path_string(s, "result", "?"));
		buf_puts(b, "</p>\n");
	}
	html_timeline(b, cJSON_GetObjectItemCaseSensitive(rb, "timeline"));
	buf_puts(b, "</section>\n");
}

/* ---- charts ---- */

static const char *const pcts[] = {"p50", "p90", "p95", "p99", "max"};

static double latency_max(const cJSON *e)
{
	double max = 0;
	for (int row = 0; row < 2; row++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, row ? "baseline" : "current"), *x;
		cJSON_ArrayForEach(x, v)
			if (cJSON_IsNumber(x) && x->valuedouble > max)
				max = x->valuedouble;
	}
	return max > 0 ? max : 1;
}

static void svg_open(struct buf *b, const char *label, int w, int h)
{
	buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		      "role=\"img\" aria-label=\"", w, h, w, h);
	html_escaped(b, label);
	buf_puts(b, "\">\n");
}

/* The y axis of a chart from lo to hi: three ticks with their values. */
static void svg_axis(struct buf *b, double lo, double hi, const char *unit)
{
	int plot_h = CHART_H - CHART_TOP - CHART_BOTTOM;
	for (int i = 0; i <= 2; i++) {
		double y = CHART_TOP + plot_h * (1 - i / 2.0);
		buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#d0d7de\"/>"
			      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g%s</text>\n",
			   CHART_LEFT, y, CHART_W - 8, y, CHART_LEFT - 6, y + 4, lo + (hi - lo) * i / 2.0, unit);
	}
}

static void svg_bar(struct buf *b, double x, double w, double v, double max, const char *fill, const char *what)
{
	int plot_h = CHART_H - CHART_TOP - CHART_BOTTOM;
	double h = v / max * plot_h;
	double y = CHART_TOP + plot_h - h;
	buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s %.1f ms</title>"
		      "</rect><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>\n",
		   x, y, w, h, fill, what, v, x + w / 2, y - 3, v);
}

/* A load run's percentiles as bars, beside the baseline's where it has one. */
static void latency_chart(struct buf *b, const cJSON *e)
{
	double max = latency_max(e) * 1.15;
	const cJSON *cur = cJSON_GetObjectItemCaseSensitive(e, "current");
	const cJSON *base = cJSON_GetObjectItemCaseSensitive(e, "baseline");
	char *label = easprintf("latency percentiles of %s (ms)", json_path_string(e, "check", "?"));
	svg_open(b, label, CHART_W, CHART_H);
	free(label);
	svg_axis(b, 0, max, "");
	double group = (CHART_W - CHART_LEFT - 8) / (double)ARRAY_LEN(pcts);
	for (size_t i = 0; i < ARRAY_LEN(pcts); i++) {
		double x = CHART_LEFT + group * (double)i + group * 0.15;
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(cur, pcts[i]);
		const cJSON *bl = cJSON_GetObjectItemCaseSensitive(base, pcts[i]);
		double w = group * 0.7 / 2;
		if (cJSON_IsNumber(bl))
			svg_bar(b, x, w, bl->valuedouble, max, "#8c959f", "baseline");
		if (cJSON_IsNumber(c))
			svg_bar(b, cJSON_IsNumber(bl) ? x + w : x + w / 2, w, c->valuedouble, max, "#0969da", "this deploy");
		buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x + w, CHART_H - 8, pcts[i]);
	}
	buf_puts(b, "</svg>\n");
}

static void html_latency(struct buf *b, const cJSON *latency)
{
	const cJSON *e;
	if (!cJSON_GetArraySize(latency))
		return;
	bool baseline = false;
	cJSON_ArrayForEach(e, latency)
		baseline = baseline || cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, "baseline"));
	buf_printf(b, "<section id=\"latency\">\n<h2>Load test latency%s</h2>\n<p class=\"legend\">%s"
		      "<span style=\"background:#0969da\"></span>this deploy (ms)</p>\n",
		   baseline ? " against the baseline" : "",
		   baseline ? "<span style=\"background:#8c959f\"></span>baseline" : "");
	cJSON_ArrayForEach(e, latency)
	{
		buf_puts(b, "<h3>");
		html_member(b, e, "check", "?");
		buf_puts(b, " <small>");
		html_member(b, e, "stage", "?");
		buf_puts(b, "</small> ");
		html_badge(b, json_path_string(e, "status", "unknown"));
		buf_puts(b, "</h3>\n");
		const char *vs = json_path_string(e, "baseline_message", NULL);
		if (vs) {
			buf_puts(b, "<p>against the baseline: ");
			html_badge(b, json_path_string(e, "baseline_status", "unknown"));
			buf_puts(b, " ");
			html_escaped(b, vs);
			buf_puts(b, "</p>\n");
		}
		latency_chart(b, e);
	}
	buf_puts(b, "</section>\n");
}

struct plot {
	double x0, x1, y0, y1;
	bool timed;
};

static void plot_range(const cJSON *points, struct plot *p)
{
	const cJSON *pt;
	int i = 0;
	int64_t ms;
	p->timed = true;
	p->x0 = p->y0 = INFINITY;
	p->x1 = p->y1 = -INFINITY;
	cJSON_ArrayForEach(pt, points)
		if (rfc3339_parse(json_path_string(pt, "time", ""), &ms) < 0)
			p->timed = false;
	cJSON_ArrayForEach(pt, points)
	{
		double x = p->timed && rfc3339_parse(json_path_string(pt, "time", ""), &ms) == 0 ? (double)ms : i;
		double y = json_path_number(pt, "value", 0);
		p->x0 = fmin(p->x0, x), p->x1 = fmax(p->x1, x);
		p->y0 = fmin(p->y0, y), p->y1 = fmax(p->y1, y);
		i++;
	}
	if (p->x1 <= p->x0)
		p->x1 = p->x0 + 1;
	if (p->y1 <= p->y0)
		p->y0 -= 1, p->y1 += 1;
}

/* One metric's values over time as a line with its points. */
static void metric_chart(struct buf *b, const cJSON *s)
{
	const cJSON *points = cJSON_GetObjectItemCaseSensitive(s, "points"), *pt;
	struct plot p;
	plot_range(points, &p);
	char *label = easprintf("values of %s over time", json_path_string(s, "name", "?"));
	svg_open(b, label, CHART_W, CHART_H);
	free(label);
	svg_axis(b, p.y0, p.y1, "");
	double pw = CHART_W - CHART_LEFT - 24, ph = CHART_H - CHART_TOP - CHART_BOTTOM;
	struct buf line = {0}, dots = {0};
	int i = 0, n = cJSON_GetArraySize(points);
	cJSON_ArrayForEach(pt, points)
	{
		int64_t ms = 0;
		double x = p.timed && rfc3339_parse(json_path_string(pt, "time", ""), &ms) == 0 ? (double)ms : i;
		double px = CHART_LEFT + 8 + (x - p.x0) / (p.x1 - p.x0) * pw;
		double py = CHART_TOP + ph - (json_path_number(pt, "value", 0) - p.y0) / (p.y1 - p.y0) * ph;
		buf_printf(&line, "%s%.1f,%.1f", i ? " " : "", px, py);
		if (n <= CIRCLES_MAX)
			buf_printf(&dots, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#0969da\"><title>%.6g</title></circle>\n",
				   px, py, json_path_number(pt, "value", 0));
		i++;
	}
	buf_printf(b, "<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"%s\"/>\n%s",
		   line.data ? line.data : "", dots.data ? dots.data : "");
	char from[RFC3339_LEN], to[RFC3339_LEN];
	if (p.timed) {
		rfc3339_format((int64_t)p.x0, from);
		rfc3339_format((int64_t)p.x1, to);
	} else {
		snprintf(from, sizeof from, "value 1");
		snprintf(to, sizeof to, "value %d", n);
	}
	buf_printf(b, "<text x=\"%d\" y=\"%d\">%s</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
		   CHART_LEFT + 8, CHART_H - 8, from, CHART_W - 16, CHART_H - 8, to);
	buf_free(&line);
	buf_free(&dots);
	buf_puts(b, "</svg>\n");
}

static void html_metrics(struct buf *b, const cJSON *metrics)
{
	const cJSON *s;
	if (!cJSON_GetArraySize(metrics))
		return;
	buf_puts(b, "<section id=\"metrics\">\n<h2>Metrics over time</h2>\n");
	cJSON_ArrayForEach(s, metrics)
	{
		buf_puts(b, "<h3>");
		html_member(b, s, "name", "?");
		buf_puts(b, " <small>");
		html_member(b, s, "stage", "?");
		buf_puts(b, "</small> ");
		html_badge(b, json_path_string(s, "status", "unknown"));
		buf_puts(b, "</h3>\n");
		metric_chart(b, s);
	}
	buf_puts(b, "</section>\n");
}

static void html_health(struct buf *b, const cJSON *health)
{
	const cJSON *t, *o;
	if (!cJSON_GetArraySize(health))
		return;
	buf_puts(b, "<section id=\"health\">\n<h2>Health during the deploy</h2>\n<table><thead><tr><th>Target</th>"
		    "<th>Stage</th><th>Time</th><th>State</th><th>Probes</th><th>Failed</th><th>Message</th></tr>"
		    "</thead><tbody>\n");
	cJSON_ArrayForEach(t, health)
	{
		const char *was = NULL;
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(t, "observations"))
		{
			const char *state = json_path_string(o, "state", "?");
			buf_puts(b, "<tr><td>");
			html_member(b, t, "target", "?");
			buf_puts(b, "</td><td>");
			html_member(b, o, "stage", "?");
			buf_puts(b, "</td><td>");
			html_member(b, o, "time", "");
			buf_puts(b, "</td><td>");
			if (was && strcmp(was, state) != 0) {
				html_escaped(b, was);
				buf_puts(b, " \xe2\x86\x92 ");
			}
			html_badge(b, state);
			buf_printf(b, "</td><td class=\"num\">%.0f</td><td class=\"num\">%.0f</td><td>",
				   json_path_number(o, "probes", 0), json_path_number(o, "failures", 0));
			html_member(b, o, "message", "");
			buf_puts(b, "</td></tr>\n");
			was = state;
		}
	}
	buf_puts(b, "</tbody></table>\n</section>\n");
}

char *deploy_report_html(const cJSON *doc)
{
	struct buf b = {0};
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "deployment");
	char *title = easprintf("Deploy %.0f of %s: %s %s", json_path_number(doc, "deploy", 0),
				json_path_string(doc, "service", "?"), json_path_string(s, "release", "?"),
				json_path_string(s, "result", "?"));
	html_open(&b, title);
	free(title);
	html_header(&b, doc);
	buf_puts(&b, "<section id=\"timeline\">\n<h2>Timeline</h2>\n");
	html_timeline(&b, cJSON_GetObjectItemCaseSensitive(doc, "timeline"));
	buf_puts(&b, "</section>\n");
	html_rollback(&b, cJSON_GetObjectItemCaseSensitive(doc, "rollback"));
	html_latency(&b, cJSON_GetObjectItemCaseSensitive(doc, "latency"));
	html_metrics(&b, cJSON_GetObjectItemCaseSensitive(doc, "metrics"));
	html_health(&b, cJSON_GetObjectItemCaseSensitive(doc, "health"));
	html_close(&b, json_path_string(doc, "generated_at", NULL));
	return buf_take(&b);
}

static void history_row(struct buf *b, const cJSON *s)
{
	static const char *const cells[] = {"started_at", "action", "release", "previous", NULL};
	const cJSON *st;
	buf_printf(b, "<tr><td class=\"num\">%.0f</td>", json_path_number(s, "deploy", 0));
	for (size_t i = 0; cells[i]; i++) {
		buf_puts(b, "<td>");
		html_member(b, s, cells[i], "-");
		buf_puts(b, "</td>");
	}
	buf_puts(b, "<td>");
	html_badge(b, json_path_string(s, "result", "?"));
	buf_puts(b, "</td><td>");
	html_member(b, s, "mark", "");
	buf_puts(b, "</td><td>");
	html_member(b, s, "who", json_path_string(s, "user", ""));
	buf_puts(b, "</td><td>");
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(s, "stages"))
	{
		html_member(b, st, "stage", "?");
		buf_puts(b, " ");
		html_badge(b, json_path_string(st, "result", "?"));
		buf_puts(b, " ");
	}
	buf_puts(b, "</td><td>");
	html_member(b, s, "message", "");
	const char *end = json_path_string(s, "finish_message", NULL);
	if (end) {
		buf_puts(b, json_path_string(s, "message", NULL) ? "; " : "");
		html_escaped(b, end);
	}
	buf_puts(b, "</td></tr>\n");
}

char *history_html_page(const cJSON *rows, const char *service)
{
	struct buf b = {0};
	char *title = easprintf("Deploy history of %s", service);
	html_open(&b, title);
	buf_puts(&b, "<h1>");
	html_escaped(&b, title);
	free(title);
	buf_puts(&b, "</h1>\n<table><thead><tr><th>Revision</th><th>Started (UTC)</th><th>Action</th><th>Release</th>"
		     "<th>Previous</th><th>Result</th><th>Mark</th><th>By</th><th>Stages</th><th>Description</th></tr></thead>"
		     "<tbody>\n");
	const cJSON *s;
	cJSON_ArrayForEach(s, rows) history_row(&b, s);
	buf_puts(&b, "</tbody></table>\n");
	char now[RFC3339_LEN];
	html_close(&b, rfc3339_format(now_epoch_ms(), now));
	return buf_take(&b);
}
