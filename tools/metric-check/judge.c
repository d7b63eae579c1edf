/* judge.c — a metric's answer judged: each series' value against the
 * ranges, no data as the metric says, the previous release compared; the
 * check's message and data carry the query, the values and the ranges. */
#include "metric-check.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_SERIES 10 /* series listed in a message; the data has them all */
#define PERF_SERIES 20

/* The point a series is judged by: its worst sample (the first of that
 * status; the last when all are ok); no_data when every sample is NaN. */
struct judged {
	const struct prom_series *series;
	const struct prom_sample *point;
	enum status status;
	bool no_data, inconclusive;
	size_t points;
};

static enum status no_data_status(enum no_data nd)
{
	static const enum status st[] = {STATUS_OK, STATUS_WARNING, STATUS_CRITICAL, STATUS_UNKNOWN, STATUS_UNKNOWN};
	return st[nd];
}

static void judge_series(const struct metric *m, const struct prom_series *ps, const struct thresholds *t,
			 struct judged *j)
{
	memset(j, 0, sizeof *j);
	j->series = ps;
	j->points = ps->n;
	for (size_t i = 0; i < ps->n; i++) {
		const struct prom_sample *smp = &ps->samples[i];
		if (isnan(smp->v))
			continue;
		enum status st = thresholds_status(t, smp->v);
		bool worse = !j->point || (st != j->status && status_worst(st, j->status) == st);
		if (worse || (st == STATUS_OK && j->status == STATUS_OK)) {
			j->point = smp;
			j->status = st;
		}
	}
	if (!j->point) {
		j->no_data = true;
		j->status = no_data_status(m->no_data);
		j->inconclusive = m->no_data == NO_DATA_INCONCLUSIVE;
	}
}

static void add_time(cJSON *o, double t)
{
	char ts[RFC3339_LEN];
	cJSON_AddNumberToObject(o, "timestamp", t);
	cJSON_AddStringToObject(o, "time", rfc3339_format(llround(t * 1000.0), ts));
}

static cJSON *series_json(const struct judged *j)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "labels", cJSON_Duplicate(j->series->labels, true));
	if (j->point) {
		cJSON_AddNumberToObject(o, "value", j->point->v);
		add_time(o, j->point->t);
	} else {
		cJSON_AddNullToObject(o, "value");
	}
	cJSON_AddNumberToObject(o, "points", (double)j->points);
	cJSON_AddStringToObject(o, "status", status_name(j->status));
	cJSON_AddBoolToObject(o, "no_data", j->no_data);
	return o;
}

static void add_thresholds(cJSON *d, const char *key, const struct thresholds *t)
{
	char buf[128];
	cJSON *o = cJSON_AddObjectToObject(d, key);
	if (t->has_warning)
		cJSON_AddStringToObject(o, "warning", range_format(&t->warning, buf, sizeof buf));
	if (t->has_critical)
		cJSON_AddStringToObject(o, "critical", range_format(&t->critical, buf, sizeof buf));
}

/* "warning ~:0.5, critical ~:2", or "no ranges". */
static void thresholds_text(struct buf *b, const struct thresholds *t, const char *prefix)
{
	char buf[128];
	if (!t->has_warning && !t->has_critical) {
		buf_printf(b, "no %sranges", prefix);
		return;
	}
	if (t->has_warning)
		buf_printf(b, "%swarning %s", prefix, range_format(&t->warning, buf, sizeof buf));
	if (t->has_critical)
		buf_printf(b, "%s%scritical %s", t->has_warning ? ", " : "", prefix,
			   range_format(&t->critical, buf, sizeof buf));
}

static cJSON *base_data(const struct metric *m, const struct query_outcome *o)
{
	char buf[32];
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "metric", m->name);
	cJSON_AddStringToObject(d, "query", o->query);
	cJSON_AddStringToObject(d, "endpoint", m->range_ms ? "/api/v1/query_range" : "/api/v1/query");
	if (m->range_ms) {
		cJSON_AddStringToObject(d, "range", duration_format(m->range_ms, buf, sizeof buf));
		cJSON_AddStringToObject(d, "step", duration_format(m->step_ms, buf, sizeof buf));
	}
	cJSON_AddStringToObject(d, "window", duration_format(m->window_ms, buf, sizeof buf));
	add_thresholds(d, "thresholds", &m->limits);
	cJSON_AddStringToObject(d, "no_data", no_data_names[m->no_data]);
	cJSON_AddBoolToObject(d, "per_series", m->per_series);
	cJSON_AddBoolToObject(d, "inconclusive", false);
	if (o->answer.n_warnings) {
		cJSON *w = cJSON_AddArrayToObject(d, "warnings");
		for (size_t i = 0; i < o->answer.n_warnings; i++)
			cJSON_AddItemToArray(w, cJSON_CreateString(o->answer.warnings[i]));
	}
	return d;
}

/* The answer could not be judged: an error, or a string. NULL when it can. */
static char *unjudgeable(const struct query_outcome *o, cJSON *d)
{
	const struct prom_answer *a = &o->answer;
	if (o->error) {
		cJSON *e = cJSON_AddObjectToObject(d, "error");
		cJSON_AddStringToObject(e, "message", o->error);
		return estrdup(o->error);
	}
	if (!a->success) {
		cJSON *e = cJSON_AddObjectToObject(d, "error");
		cJSON_AddStringToObject(e, "type", a->error_type);
		cJSON_AddStringToObject(e, "message", a->error);
		return easprintf("Prometheus answered %s: %s", a->error_type, a->error);
	}
	cJSON_AddStringToObject(d, "result_type", prom_type_name(a->type));
	if (a->type == PROM_STRING)
		return easprintf("the query's result is the string \"%.200s\", not a number", a->string_value);
	return NULL;
}

/* "name{a="x"} = 0.8 at 2026-...Z", "0.8 at ..." without labels, or "no data". */
static void point_text(struct buf *b, const struct judged *j)
{
	char ts[RFC3339_LEN];
	const char *labels = j->series->label_text;
	if (!j->point) {
		buf_printf(b, "%s%sno data", labels, *labels ? " " : "");
		return;
	}
	buf_printf(b, "%s%s%.6g at %s", labels, *labels ? " = " : "", j->point->v,
		   rfc3339_format(llround(j->point->t * 1000.0), ts));
	if (j->points > 1)
		buf_printf(b, " (the worst of %zu points)", j->points);
}

/* ": outside the warning range ~:0.5" for a point that alerts. */
static void verdict_text(struct buf *b, const struct judged *j, const struct thresholds *t, const char *what)
{
	char buf[160], which[32];
	if (j->no_data) {
		buf_printf(b, ": %s", j->inconclusive ? "inconclusive" : status_name(j->status));
		return;
	}
	if (j->status == STATUS_OK)
		return;
	bool crit = j->status == STATUS_CRITICAL;
	snprintf(which, sizeof which, "%s%s", what, crit ? "critical" : "warning");
	buf_printf(b, ": %s", range_explain(crit ? &t->critical : &t->warning, which, j->point->v, buf, sizeof buf));
}

static void add_perf(cJSON *chk, const struct metric *m, const struct judged *js, size_t n, bool labelled)
{
	for (size_t i = 0, k = 0; i < n && k < PERF_SERIES; i++) {
		if (!js[i].point || !isfinite(js[i].point->v))
			continue;
		struct buf label = {0};
		buf_puts(&label, m->name);
		const cJSON *l, *labels = labelled ? js[i].series->labels : NULL;
		cJSON_ArrayForEach(l, labels)
		{
			if (strcmp(l->string, "__name__") != 0)
				buf_printf(&label, "_%s", l->valuestring);
		}
		check_add_perf(chk, label.data, js[i].point->v, "",
			       range_perf_threshold(&m->limits.warning, m->limits.has_warning),
			       range_perf_threshold(&m->limits.critical, m->limits.has_critical));
		buf_free(&label);
		k++;
	}
}

/* The previous release's answer, judged as one value. Returns 0 with *pv,
 * or -1 after saying in b why there is none (*st then what that counts as). */
static int previous_value(const struct metric *m, const struct query_outcome *prev, struct buf *b, double *pv,
			  enum status *st, bool *inconclusive)
{
	const struct prom_answer *a = &prev->answer;
	*st = STATUS_UNKNOWN;
	if (prev->error || !a->success || a->type == PROM_STRING) {
		if (prev->error)
			buf_puts(b, prev->error);
		else if (!a->success)
			buf_printf(b, "Prometheus answered %s: %s", a->error_type, a->error);
		else
			buf_puts(b, "a string, not a number");
		return -1;
	}
	if (a->n_series > 1) {
		buf_printf(b, "%zu series where one was expected", a->n_series);
		return -1;
	}
	struct judged j;
	if (a->n_series == 1)
		judge_series(m, &a->series[0], &m->limits, &j);
	if (a->n_series == 0 || j.no_data) {
		*st = no_data_status(m->no_data);
		*inconclusive = m->no_data == NO_DATA_INCONCLUSIVE;
		buf_printf(b, "no data; %s (no_data: %s)", *inconclusive ? "inconclusive" : status_name(*st),
			   no_data_names[m->no_data]);
		return -1;
	}
	*pv = j.point->v;
	return 0;
}

/* This release's value against the previous release's: their ratio judged
 * against the ratio ranges. Returns the check's status. */
static enum status compare(const struct settings *s, const struct metric *m, double value,
			   const struct query_outcome *prev, cJSON *d, struct buf *b, enum status st, bool *inconclusive)
{
	cJSON *c = cJSON_AddObjectToObject(d, "compare");
	cJSON_AddStringToObject(c, "previous_release", s->previous_release);
	cJSON_AddStringToObject(c, "query", prev->query);
	add_thresholds(c, "thresholds", &m->ratio);
	buf_printf(b, "; previous release %s: ", s->previous_release);
	double pv = 0;
	enum status pst;
	bool inc = false;
	if (previous_value(m, prev, b, &pv, &pst, &inc) < 0) {
		cJSON_AddNullToObject(c, "value");
		cJSON_AddNullToObject(c, "ratio");
		*inconclusive = *inconclusive || inc;
		return status_worst(st, pst);
	}
	double ratio = pv != 0 ? value / pv : value == 0 ? 1 : value > 0 ? INFINITY : -INFINITY;
	struct judged j = {.series = prev->answer.series, .point = prev->answer.series->samples};
	judge_series(m, prev->answer.series, &m->limits, &j);
	cJSON_AddNumberToObject(c, "value", pv);
	add_time(c, j.point->t);
	cJSON_AddItemToObject(c, "labels", cJSON_Duplicate(prev->answer.series->labels, true));
	if (isfinite(ratio))
		cJSON_AddNumberToObject(c, "ratio", ratio);
	else
		cJSON_AddStringToObject(c, "ratio", ratio > 0 ? "+Inf" : "-Inf");
	enum status rst = thresholds_status(&m->ratio, ratio);
	cJSON_AddStringToObject(c, "status", status_name(rst));
	point_text(b, &j);
	buf_printf(b, ", ratio %.4g", ratio);
	struct judged rj = {.series = j.series, .point = &(struct prom_sample){.t = j.point->t, .v = ratio},
			    .status = rst};
	verdict_text(b, &rj, &m->ratio, "ratio ");
	buf_puts(b, " (");
	thresholds_text(b, &m->ratio, "ratio ");
	buf_puts(b, ")");
	return status_worst(st, rst);
}

/* Every series judged; returns the index of the worst (0 when none). */
static size_t judge_all(const struct metric *m, const struct prom_answer *a, struct judged *js, cJSON *series)
{
	size_t worst = 0;
	for (size_t i = 0; i < a->n_series; i++) {
		judge_series(m, &a->series[i], &m->limits, &js[i]);
		cJSON_AddItemToArray(series, series_json(&js[i]));
		if (js[i].status != js[worst].status && status_worst(js[i].status, js[worst].status) == js[i].status)
			worst = i;
	}
	return worst;
}

/* The message of a judged answer, into b; the check's status returned. */
static enum status describe(const struct metric *m, const struct prom_answer *a, const struct judged *js,
			    size_t worst, struct buf *b, bool *inconclusive)
{
	const struct judged *w = &js[worst];
	if (a->n_series > 1 && !m->per_series) {
		buf_printf(b, "%zu series where one was expected: aggregate the query (sum, max) or set per_series",
			   a->n_series);
		return STATUS_UNKNOWN;
	}
	*inconclusive = w->inconclusive;
	if (a->n_series > 1)
		buf_puts(b, "worst ");
	point_text(b, w);
	verdict_text(b, w, &m->limits, "");
	if (a->n_series > 1) {
		buf_printf(b, "; %zu series:", a->n_series);
		for (size_t i = 0; i < a->n_series && i < MESSAGE_SERIES; i++) {
			buf_puts(b, i ? ", " : " ");
			point_text(b, &js[i]);
		}
		if (a->n_series > MESSAGE_SERIES)
			buf_printf(b, " and %zu more", a->n_series - MESSAGE_SERIES);
	}
	return w->status;
}

/* No series at all: the no_data setting decides. */
static enum status describe_empty(const struct metric *m, struct buf *b, bool *inconclusive)
{
	*inconclusive = m->no_data == NO_DATA_INCONCLUSIVE;
	buf_printf(b, "no data: the query returned no series; %s (no_data: %s)",
		   *inconclusive ? "inconclusive" : status_name(no_data_status(m->no_data)), no_data_names[m->no_data]);
	return no_data_status(m->no_data);
}

void judge_metric(const struct settings *s, const struct metric *m, const struct query_outcome *cur,
		  const struct query_outcome *prev, struct report *r)
{
	char *name = easprintf("metric.%s", m->name);
	cJSON *d = base_data(m, cur);
	struct buf b = {0};
	bool inconclusive = false;
	enum status st = STATUS_UNKNOWN;
	struct judged *js = NULL;
	char *why = unjudgeable(cur, d);
	buf_printf(&b, "%s: ", m->name);
	if (why) {
		buf_puts(&b, why);
	} else if (cur->answer.n_series == 0) {
		cJSON_AddArrayToObject(d, "series");
		st = describe_empty(m, &b, &inconclusive);
	} else {
		js = ecalloc(cur->answer.n_series, sizeof *js);
		size_t worst = judge_all(m, &cur->answer, js, cJSON_AddArrayToObject(d, "series"));
		st = describe(m, &cur->answer, js, worst, &b, &inconclusive);
		if (prev && cur->answer.n_series == 1 && !js[0].no_data)
			st = compare(s, m, js[0].point->v, prev, d, &b, st, &inconclusive);
	}
	if (m->not_compared && !why) {
		buf_puts(&b, "; not compared with a previous release: none was given (--previous-release)");
		cJSON *c = cJSON_AddObjectToObject(d, "compare");
		cJSON_AddStringToObject(c, "status", "not_compared");
		st = status_worst(st, STATUS_WARNING);
	}
	buf_puts(&b, "; ");
	thresholds_text(&b, &m->limits, "");
	buf_printf(&b, "; query: %s", cur->query);
	cJSON_ReplaceItemInObjectCaseSensitive(d, "inconclusive", cJSON_CreateBool(inconclusive));
	cJSON *chk = report_add_check(r, name, st, cur->duration_ms, d, "%s", b.data);
	if (js)
		add_perf(chk, m, js, cur->answer.n_series, m->per_series && cur->answer.n_series > 1);
	free(js);
	free(why);
	buf_free(&b);
	free(name);
}
