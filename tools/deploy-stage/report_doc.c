/* report_doc.c — the deploy report's one document, built from the journal:
 * the timeline (each stage, its gate and every check of its reports), the
 * rollback, the load test's latency against the baseline, metric values
 * over time and health-watch's transitions. json prints it as it is; text
 * and html render it (report_text.c, report_html.c). */
#include "report_doc.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_POINTS_MAX 2000 /* points of one metric kept for its chart */

static void copy_members(cJSON *to, const cJSON *from, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, keys[i]);
		if (v)
			cJSON_AddItemToObject(to, keys[i], cJSON_Duplicate(v, 1));
	}
}

/* A stored report: its tool, status, summary and checks (name, status,
 * message and duration where stored; a bounded report keeps no duration). */
static cJSON *report_entry(const cJSON *rec)
{
	static const char *const keys[] = {"tool",	  "status",    "summary",	 "started_at",
					   "duration_ms", "truncated", "checks_dropped", NULL};
	static const char *const check_keys[] = {"name", "status", "message", "duration_ms", NULL};
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(rec, "report");
	cJSON *o = cJSON_CreateObject();
	copy_members(o, rep, keys);
	cJSON *checks = cJSON_AddArrayToObject(o, "checks");
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rep, "checks"))
	{
		cJSON *k = cJSON_CreateObject();
		copy_members(k, c, check_keys);
		cJSON_AddItemToArray(checks, k);
	}
	return o;
}

/* Moves the entries of pending whose stage is stage to the array to. */
static void take_stage(cJSON *pending, const char *stage, cJSON *to)
{
	for (int i = 0; i < cJSON_GetArraySize(pending);) {
		cJSON *e = cJSON_GetArrayItem(pending, i);
		if (strcmp(json_path_string(e, "stage", ""), stage) != 0) {
			i++;
			continue;
		}
		cJSON_DetachItemFromArray(pending, i);
		cJSON_DeleteItemFromObjectCaseSensitive(e, "stage");
		cJSON_AddItemToArray(to, e);
	}
}

/* A gate: its verdict, and the reports recorded for its stage before it. */
static cJSON *gate_entry(const cJSON *rec, cJSON *pending)
{
	static const char *const keys[] = {"passed", "status", "strict", "problems", NULL};
	const char *stage = json_path_string(rec, "stage", "?");
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "stage", stage);
	cJSON_AddStringToObject(o, "step", "gate");
	copy_members(o, rec, keys);
	take_stage(pending, stage, cJSON_AddArrayToObject(o, "reports"));
	return o;
}

/* apply, health or finish. */
static cJSON *step_entry(const cJSON *rec, const char *type)
{
	static const char *const keys[] = {"phase",    "status",      "result", "release", "message", "reason",
					   "url",      "attempts",    "successes_needed",   "duration_ms", NULL};
	cJSON *o = cJSON_CreateObject();
	if (strcmp(type, "finish") != 0)
		cJSON_AddStringToObject(o, "stage", json_path_string(rec, "stage", "application"));
	cJSON_AddStringToObject(o, "step", type);
	copy_members(o, rec, keys);
	const char *driver = json_path_string(rec, "data.driver", json_path_string(rec, "driver", NULL));
	if (driver)
		cJSON_AddStringToObject(o, "driver", driver);
	return o;
}

static void add_time(cJSON *e, const cJSON *rec, int64_t begin_ms)
{
	const char *t = json_path_string(rec, "time", NULL);
	int64_t ms;
	if (!t)
		return;
	cJSON_AddStringToObject(e, "time", t);
	if (begin_ms && rfc3339_parse(t, &ms) == 0)
		cJSON_AddNumberToObject(e, "elapsed_ms", (double)(ms - begin_ms));
}

/* The entry of one record, or NULL for a record the timeline does not show
 * (a report, kept in pending for its gate; an apply start later ended). */
static cJSON *timeline_entry(const struct deployment *d, const cJSON *rec, cJSON *pending)
{
	const char *type = json_path_string(rec, "type", "");
	if (strcmp(type, "report") == 0) {
		cJSON *r = report_entry(rec);
		cJSON_AddStringToObject(r, "stage", json_path_string(rec, "stage", "?"));
		cJSON_AddItemToArray(pending, r);
		return NULL;
	}
	if (strcmp(type, "gate") == 0)
		return gate_entry(rec, pending);
	if (strcmp(type, "apply") == 0 && strcmp(json_path_string(rec, "phase", ""), "start") == 0 &&
	    deployment_last_record(d, "apply") != rec)
		return NULL;
	if (strcmp(type, "apply") == 0 || strcmp(type, "health") == 0 || strcmp(type, "finish") == 0)
		return step_entry(rec, type);
	return NULL;
}

/* d's records in order: gates with their reports, apply, health, finish.
 * Reports no gate decided on (a deploy closed before its gate) come last,
 * before the finish, as step "reports". */
static cJSON *timeline_of(const struct deployment *d)
{
	int64_t begin_ms = 0;
	if (rfc3339_parse(json_path_string(d->begin, "time", ""), &begin_ms) < 0)
		begin_ms = 0;
	cJSON *list = cJSON_CreateArray(), *pending = cJSON_CreateArray();
	const cJSON *rec;
	cJSON_ArrayForEach(rec, d->records)
	{
		cJSON *e = timeline_entry(d, rec, pending);
		if (e) {
			add_time(e, rec, begin_ms);
			cJSON_AddItemToArray(list, e);
		}
	}
	while (cJSON_GetArraySize(pending) > 0) {
		char *stage = estrdup(json_path_string(cJSON_GetArrayItem(pending, 0), "stage", "?"));
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "stage", stage);
		cJSON_AddStringToObject(e, "step", "reports");
		take_stage(pending, stage, cJSON_AddArrayToObject(e, "reports"));
		int n = cJSON_GetArraySize(list);
		bool finished = n && strcmp(json_path_string(cJSON_GetArrayItem(list, n - 1), "step", ""), "finish") == 0;
		if (finished)
			cJSON_InsertItemInArray(list, n - 1, e);
		else
			cJSON_AddItemToArray(list, e);
		free(stage);
	}
	cJSON_Delete(pending);
	return list;
}

static cJSON *summary_of(const struct journal_view *view, const struct deployment *d, const struct lock_info *li)
{
	cJSON *s = deployment_summary(view, d, li);
	/* a digest of a document that holds secrets: not for a page that is shared */
	cJSON_DeleteItemFromObjectCaseSensitive(s, "config_digest");
	long of = (long)json_path_number(d->begin, "rollback_of", 0);
	if (of > 0)
		cJSON_AddNumberToObject(s, "rollback_of", (double)of);
	return s;
}

/* The rollback that closed d: its target, outcome, and the rollback
 * deploy's own summary and timeline; NULL when d was not rolled back. */
static cJSON *rollback_section(const struct journal_view *view, const struct deployment *d,
			       const struct lock_info *li)
{
	char *outcome = rollback_outcome(view, d, li);
	if (!outcome)
		return NULL;
	long by = (long)json_path_number(d->finish, "rollback_deploy", 0);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "outcome", outcome);
	free(outcome);
	const char *to = json_path_string(d->finish, "rollback_to", NULL);
	if (to)
		cJSON_AddStringToObject(o, "to", to);
	for (size_t i = 0; i < view->n; i++) {
		const struct deployment *rb = &view->v[i];
		if (rb->id != by || by <= 0)
			continue;
		cJSON_AddNumberToObject(o, "deploy", (double)rb->id);
		cJSON_AddItemToObject(o, "deployment", summary_of(view, rb, li));
		cJSON_AddItemToObject(o, "timeline", timeline_of(rb));
	}
	return o;
}

/* ---- the checks of d's stored reports, for the sections built from their data ---- */

typedef void (*check_visit)(const char *stage, const cJSON *report, const cJSON *check, cJSON *section);

static void each_check(const struct deployment *d, check_visit visit, cJSON *section)
{
	const cJSON *rec, *c;
	cJSON_ArrayForEach(rec, d->records)
	{
		if (strcmp(json_path_string(rec, "type", ""), "report") != 0)
			continue;
		const cJSON *rep = cJSON_GetObjectItemCaseSensitive(rec, "report");
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rep, "checks"))
			visit(json_path_string(rec, "stage", "?"), rep, c, section);
	}
}

static const char *const percentiles[] = {"p50", "p90", "p95", "p99", "max", NULL};

/* A load run (svc-probe's perf.NAME: data.latency_ms). */
static void latency_visit(const char *stage, const cJSON *report, const cJSON *c, cJSON *section)
{
	const cJSON *lat = json_path(c, "data.latency_ms");
	if (!cJSON_IsObject(lat))
		return;
	static const char *const keys[] = {"requests", "concurrency", "rps", "errors", "error_rate", NULL};
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "stage", stage);
	cJSON_AddStringToObject(e, "tool", json_path_string(report, "tool", "?"));
	cJSON_AddStringToObject(e, "check", json_path_string(c, "name", "?"));
	cJSON_AddStringToObject(e, "status", json_path_string(c, "status", "unknown"));
	copy_members(e, cJSON_GetObjectItemCaseSensitive(c, "data"), keys);
	cJSON *cur = cJSON_AddObjectToObject(e, "current");
	for (size_t i = 0; percentiles[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(lat, percentiles[i]);
		if (cJSON_IsNumber(v))
			cJSON_AddNumberToObject(cur, percentiles[i], v->valuedouble);
	}
	cJSON_AddItemToArray(section, e);
}

/* The load run a baseline comparison NAME.baseline is about: the last
 * perf NAME, of the same stage when there is one; else a new entry made
 * from the comparison's own current values. */
static cJSON *baseline_subject(cJSON *section, const char *stage, const char *name, const cJSON *c)
{
	cJSON *e, *found = NULL;
	cJSON_ArrayForEach(e, section)
	{
		if (strcmp(json_path_string(e, "check", ""), name) != 0)
			continue;
		if (!found || strcmp(json_path_string(e, "stage", ""), stage) == 0)
			found = e;
	}
	if (found)
		return found;
	found = cJSON_CreateObject();
	cJSON_AddStringToObject(found, "stage", stage);
	cJSON_AddStringToObject(found, "check", name);
	cJSON_AddStringToObject(found, "status", json_path_string(c, "status", "unknown"));
	cJSON *cur = cJSON_AddObjectToObject(found, "current");
	for (size_t i = 0; percentiles[i]; i++) {
		char path[48];
		snprintf(path, sizeof path, "data.%s.current", percentiles[i]);
		const cJSON *v = json_path(c, path);
		if (cJSON_IsNumber(v))
			cJSON_AddNumberToObject(cur, percentiles[i], v->valuedouble);
	}
	cJSON_AddItemToArray(section, found);
	return found;
}

/* svc-probe's perf.NAME.baseline: data.pXX.{baseline,current,change_pct}. */
static void baseline_visit(const char *stage, const cJSON *report, const cJSON *c, cJSON *section)
{
	(void)report;
	const char *name = json_path_string(c, "name", "");
	size_t n = strlen(name);
	if (n <= 9 || strcmp(name + n - 9, ".baseline") != 0 || !cJSON_IsNumber(json_path(c, "data.p50.baseline")))
		return;
	char *subject = estrndup(name, n - 9);
	cJSON *e = baseline_subject(section, stage, subject, c);
	free(subject);
	cJSON_DeleteItemFromObjectCaseSensitive(e, "baseline");
	cJSON_DeleteItemFromObjectCaseSensitive(e, "change_pct");
	cJSON *base = cJSON_AddObjectToObject(e, "baseline");
	cJSON *change = cJSON_AddObjectToObject(e, "change_pct");
	for (size_t i = 0; percentiles[i]; i++) {
		char path[48];
		snprintf(path, sizeof path, "data.%s.baseline", percentiles[i]);
		const cJSON *v = json_path(c, path);
		if (cJSON_IsNumber(v))
			cJSON_AddNumberToObject(base, percentiles[i], v->valuedouble);
		snprintf(path, sizeof path, "data.%s.change_pct", percentiles[i]);
		if (cJSON_IsNumber(v = json_path(c, path)))
			cJSON_AddNumberToObject(change, percentiles[i], v->valuedouble);
	}
	cJSON_AddStringToObject(e, "baseline_status", json_path_string(c, "status", "unknown"));
	cJSON_AddStringToObject(e, "baseline_message", json_path_string(c, "message", ""));
}

/* ---- metric-check: values over time ---- */

/* A number, or a string that is one (Prometheus sends "0.42"). */
static bool number_of(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return isfinite(*out);
	}
	if (!cJSON_IsString(v) || !*v->valuestring)
		return false;
	char *end;
	*out = strtod(v->valuestring, &end);
	return !*end && isfinite(*out);
}

/* A point's time: RFC 3339, or Unix seconds (Prometheus). */
static bool time_of(const cJSON *t, int64_t *ms)
{
	double s;
	if (cJSON_IsString(t) && rfc3339_parse(t->valuestring, ms) == 0)
		return true;
	if (!number_of(t, &s) || s < 0 || s > 1e11)
		return false;
	*ms = (int64_t)llround(s * 1000);
	return true;
}

static void add_point(cJSON *points, bool timed, int64_t ms, double v)
{
	if (cJSON_GetArraySize(points) >= SERIES_POINTS_MAX)
		return;
	cJSON *p = cJSON_CreateObject();
	if (timed) {
		char stamp[RFC3339_LEN];
		cJSON_AddStringToObject(p, "time", rfc3339_format(ms, stamp));
	}
	cJSON_AddNumberToObject(p, "value", v);
	cJSON_AddItemToArray(points, p);
}

/* The series of name in section (made when new), its status and stage
 * those of its latest check; returns its points. */
static cJSON *series_points(cJSON *section, const char *name, const cJSON *c, const char *stage)
{
	cJSON *s, *found = NULL;
	cJSON_ArrayForEach(s, section)
		if (strcmp(json_path_string(s, "name", ""), name) == 0)
			found = s;
	if (!found) {
		found = cJSON_CreateObject();
		cJSON_AddStringToObject(found, "name", name);
		cJSON_AddArrayToObject(found, "points");
		cJSON_AddItemToArray(section, found);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(found, "status");
	cJSON_DeleteItemFromObjectCaseSensitive(found, "stage");
	cJSON_AddStringToObject(found, "status", json_path_string(c, "status", "unknown"));
	cJSON_AddStringToObject(found, "stage", stage);
	return cJSON_GetObjectItemCaseSensitive(found, "points");
}

/* NAME{k="v",...} for one of several series (a new string). */
static char *series_label(const char *name, const cJSON *labels)
{
	struct buf b = {0};
	const cJSON *l;
	int n = 0;
	buf_puts(&b, name);
	cJSON_ArrayForEach(l, labels)
		if (cJSON_IsString(l) && l->string)
			buf_printf(&b, "%s%s=\"%s\"", n++ ? "," : "{", l->string, l->valuestring);
	if (n)
		buf_putc(&b, '}');
	return buf_take(&b);
}

/* metric-check's data.series: each series' value at its time (else the
 * report's), a series of its own when there are several. */
static void metric_series(const char *stage, const cJSON *report, const cJSON *c, cJSON *section)
{
	const cJSON *series = json_path(c, "data.series"), *x;
	const char *name = json_path_string(c, "name", "?");
	bool many = cJSON_GetArraySize(series) > 1;
	cJSON_ArrayForEach(x, series)
	{
		double value;
		int64_t ms = 0;
		if (!number_of(json_path(x, "value"), &value))
			continue;
		char *label = many ? series_label(name, json_path(x, "labels")) : estrdup(name);
		bool timed = time_of(json_path(x, "time"), &ms) || time_of(json_path(x, "timestamp"), &ms) ||
			     time_of(json_path(report, "started_at"), &ms);
		add_point(series_points(section, label, c, stage), timed, ms, value);
		free(label);
	}
}

/* A metric-check check: data.series (metric-check's own), data.values
 * ([time, value] pairs, or objects with time and value) or one data.value
 * at the report's time. */
static void metric_visit(const char *stage, const cJSON *report, const cJSON *c, cJSON *section)
{
	if (strcmp(json_path_string(report, "tool", ""), "metric-check") != 0)
		return;
	if (cJSON_IsArray(json_path(c, "data.series"))) {
		metric_series(stage, report, c, section);
		return;
	}
	const cJSON *values = json_path(c, "data.values"), *v;
	double value;
	int64_t ms = 0;
	bool one = number_of(json_path(c, "data.value"), &value);
	if (!cJSON_IsArray(values) && !one)
		return;
	cJSON *points = series_points(section, json_path_string(c, "name", "?"), c, stage);
	if (!cJSON_IsArray(values)) {
		bool timed = time_of(json_path(report, "started_at"), &ms);
		add_point(points, timed, ms, value);
		return;
	}
	cJSON_ArrayForEach(v, values)
	{
		const cJSON *t = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, 0) : json_path(v, "time");
		const cJSON *y = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, 1) : json_path(v, "value");
		if (!number_of(y, &value))
			continue;
		bool timed = time_of(t, &ms); /* before ms is read */
		add_point(points, timed, ms, value);
	}
}

/* ---- health-watch: each target's state at each report, and its changes ---- */

static void health_visit(const char *stage, const cJSON *report, const cJSON *c, cJSON *section)
{
	const char *name = json_path_string(c, "name", "");
	const char *state = json_path_string(c, "data.state", NULL);
	if (strcmp(json_path_string(report, "tool", ""), "health-watch") != 0 || !state)
		return;
	const char *target = strncmp(name, "health.", 7) == 0 ? name + 7 : name;
	cJSON *t = NULL, *e;
	cJSON_ArrayForEach(e, section)
		if (strcmp(json_path_string(e, "target", ""), target) == 0)
			t = e;
	if (!t) {
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "target", target);
		cJSON_AddArrayToObject(t, "observations");
		cJSON_AddArrayToObject(t, "transitions");
		cJSON_AddItemToArray(section, t);
	}
	cJSON *obs = cJSON_GetObjectItemCaseSensitive(t, "observations");
	int n = cJSON_GetArraySize(obs);
	const char *was = n ? json_path_string(cJSON_GetArrayItem(obs, n - 1), "state", "") : NULL;
	const char *when = json_path_string(report, "started_at", "");
	if (was && strcmp(was, state) != 0) {
		cJSON *tr = cJSON_CreateObject();
		cJSON_AddStringToObject(tr, "from", was);
		cJSON_AddStringToObject(tr, "to", state);
		cJSON_AddStringToObject(tr, "stage", stage);
		cJSON_AddStringToObject(tr, "time", when);
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(t, "transitions"), tr);
	}
	static const char *const keys[] = {"state", "probes", "failures", NULL};
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "stage", stage);
	cJSON_AddStringToObject(e, "time", when);
	cJSON_AddStringToObject(e, "status", json_path_string(c, "status", "unknown"));
	copy_members(e, cJSON_GetObjectItemCaseSensitive(c, "data"), keys);
	cJSON_AddStringToObject(e, "message", json_path_string(c, "message", ""));
	cJSON_AddItemToArray(obs, e);
}

static int point_cmp(const void *a, const void *b)
{
	const cJSON *const *x = a, *const *y = b;
	return strcmp(json_path_string(*x, "time", ""), json_path_string(*y, "time", ""));
}

/* Each series' points in time order (RFC 3339 UTC with milliseconds sorts
 * as text; untimed points keep their order: qsort is not stable, so only
 * series whose points all have a time are sorted). */
static void sort_points(cJSON *metrics)
{
	cJSON *s;
	cJSON_ArrayForEach(s, metrics)
	{
		cJSON *points = cJSON_GetObjectItemCaseSensitive(s, "points");
		int n = cJSON_GetArraySize(points);
		cJSON **v = ecalloc((size_t)n + 1, sizeof *v);
		bool timed = true;
		for (int i = 0; i < n; i++)
			timed = (v[i] = cJSON_GetArrayItem(points, i)) && json_path_string(v[i], "time", NULL) && timed;
		if (timed && n > 1) {
			qsort(v, (size_t)n, sizeof *v, point_cmp);
			while (cJSON_GetArraySize(points) > 0)
				cJSON_DetachItemFromArray(points, 0);
			for (int i = 0; i < n; i++)
				cJSON_AddItemToArray(points, v[i]);
		}
		free(v);
	}
}

cJSON *deploy_report_doc(const struct journal_view *view, const struct deployment *d, const struct lock_info *li,
			 const char *service)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "journal");
	cJSON_AddStringToObject(doc, "type", "deploy-report");
	cJSON_AddStringToObject(doc, "service", service);
	cJSON_AddNumberToObject(doc, "deploy", (double)d->id);
	char now[RFC3339_LEN];
	cJSON_AddStringToObject(doc, "generated_at", rfc3339_format(now_epoch_ms(), now));
	cJSON_AddItemToObject(doc, "deployment", summary_of(view, d, li));
	cJSON_AddItemToObject(doc, "timeline", timeline_of(d));
	cJSON *rb = rollback_section(view, d, li);
	cJSON_AddItemToObject(doc, "rollback", rb ? rb : cJSON_CreateNull());
	cJSON *latency = cJSON_AddArrayToObject(doc, "latency");
	each_check(d, latency_visit, latency);
	each_check(d, baseline_visit, latency);
	cJSON *metrics = cJSON_AddArrayToObject(doc, "metrics");
	each_check(d, metric_visit, metrics);
	sort_points(metrics);
	each_check(d, health_visit, cJSON_AddArrayToObject(doc, "health"));
	cJSON_AddBoolToObject(doc, "truncated", d->truncated || d->skipped);
	journal_redact_strings(doc->child);
	return doc;
}
