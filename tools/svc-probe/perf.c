/* perf.c — the load mode (latency percentiles, error rate, throughput with
 * thresholds) and the comparison with a saved baseline report. */
#include "svc-probe.h"
#include "shipshape/common.h"
#include "shipshape/json.h"
#include "shipshape/term.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void perf_limits_init(struct perf_limits *l)
{
	memset(l, 0, sizeof *l);
	l->errors_pct = -1;
}

static int limit_set(struct perf_limits *l, const char *key, const char *val, char *err, size_t errsize)
{
	int64_t *ms = strcmp(key, "p50") == 0 ? &l->p50 : strcmp(key, "p90") == 0 ? &l->p90
		    : strcmp(key, "p95") == 0 ? &l->p95 : strcmp(key, "p99") == 0 ? &l->p99
		    : strcmp(key, "max") == 0 ? &l->max : NULL;
	char *end;
	if (ms) {
		if (duration_parse(val, ms) < 0 || *ms <= 0)
			return errf(err, errsize, "%s: expected a duration such as 500ms", key);
		return 0;
	}
	if (strcmp(key, "errors") == 0) {
		double v = strtod(val, &end);
		if (end == val || (*end && strcmp(end, "%") != 0) || v < 0 || v > 100)
			return errf(err, errsize, "errors: expected a percentage such as 1%%");
		l->errors_pct = v;
		return 0;
	}
	if (strcmp(key, "rps") == 0) {
		double v = strtod(val, &end);
		if (end == val || *end || v <= 0)
			return errf(err, errsize, "rps: expected a positive number");
		l->rps = v;
		return 0;
	}
	return errf(err, errsize, "unknown limit \"%s\" (expected p50, p90, p95, p99, max, errors, rps)", key);
}

int perf_limits_parse(struct perf_limits *l, const char *spec, char *err, size_t errsize)
{
	char *copy = estrdup(spec), *save = NULL;
	int rc = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			rc = errf(err, errsize, "\"%s\": expected NAME=VALUE such as p95=500ms", tok);
			break;
		}
		*eq = '\0';
		if ((rc = limit_set(l, tok, eq + 1, err, errsize)) < 0)
			break;
	}
	free(copy);
	return rc;
}

static int limits_from_json(struct perf_limits *l, const cJSON *obj, const char *where, char *err, size_t errsize)
{
	const cJSON *it;
	char sub[200];
	if (!obj)
		return 0;
	if (!cJSON_IsObject(obj))
		return errf(err, errsize, "%s: expected a map such as {p95: 500ms, errors: 1%%}", where);
	cJSON_ArrayForEach(it, obj) {
		char val[64];
		if (cJSON_IsString(it))
			snprintf(val, sizeof val, "%s", it->valuestring);
		else if (cJSON_IsNumber(it))
			snprintf(val, sizeof val, "%g", it->valuedouble);
		else
			return errf(err, errsize, "%s.%s: expected a value", where, it->string);
		if (limit_set(l, it->string, val, sub, sizeof sub) < 0)
			return errf(err, errsize, "%s.%s", where, sub);
	}
	return 0;
}

int perf_spec_from_json(struct perf_spec *ps, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *it;
	if (!cJSON_IsObject(obj))
		return errf(err, errsize, "performance: expected a map");
	cJSON_ArrayForEach(it, obj) {
		if (strcmp(it->string, "requests") && strcmp(it->string, "concurrency") &&
		    strcmp(it->string, "warning") && strcmp(it->string, "critical"))
			return errf(err, errsize, "performance.%s: unknown key", it->string);
	}
	double n = json_path_number(obj, "requests", ps->requests ? (double)ps->requests : 100);
	double c = json_path_number(obj, "concurrency", ps->concurrency ? ps->concurrency : 8);
	if (n < 1 || n > 10000000 || n != floor(n))
		return errf(err, errsize, "performance.requests: expected 1 to 10000000");
	if (c < 1 || c > 1024 || c != floor(c))
		return errf(err, errsize, "performance.concurrency: expected 1 to 1024");
	ps->requests = (long)n;
	ps->concurrency = (int)c;
	if (limits_from_json(&ps->warn, cJSON_GetObjectItemCaseSensitive(obj, "warning"), "performance.warning",
			     err, errsize) < 0 ||
	    limits_from_json(&ps->crit, cJSON_GetObjectItemCaseSensitive(obj, "critical"), "performance.critical",
			     err, errsize) < 0)
		return -1;
	return 0;
}

/* ---- the load ---- */

struct load {
	const struct http_probe *p;
	long total, added, done, errors;
	double *lat;
	char first_error[256];
};

static void on_load_done(struct http_engine *e, const struct http_probe *p, struct http_result *r,
			 void *tag, void *user)
{
	struct load *l = user;
	(void)tag;
	l->lat[l->done++] = r->total_ms;
	if (r->status != STATUS_OK) {
		if (!l->errors++) {
			for (size_t i = 0; i < r->n_outcomes; i++) {
				if (r->outcomes[i].status != STATUS_OK) {
					snprintf(l->first_error, sizeof l->first_error, "%s: %s", r->outcomes[i].name,
						 r->outcomes[i].message);
					break;
				}
			}
		}
	}
	http_result_free(r);
	if (l->added < l->total) {
		l->added++;
		http_engine_add(e, p, NULL);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *v, long n, double pct)
{
	if (n <= 0)
		return 0;
	long rank = (long)ceil(pct / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static enum status judge(const struct perf_limits *l, enum status level, const double q[5], double err_pct,
			 double rps, struct buf *why)
{
	static const char *const names[] = {"p50", "p90", "p95", "p99", "max"};
	const int64_t lim[] = {l->p50, l->p90, l->p95, l->p99, l->max};
	enum status st = STATUS_OK;
	for (int i = 0; i < 5; i++) {
		if (lim[i] && q[i] > (double)lim[i]) {
			buf_printf(why, "%s%s %.1f ms > %lld ms", why->len ? "; " : "", names[i], q[i], (long long)lim[i]);
			st = level;
		}
	}
	if (l->errors_pct >= 0 && err_pct > l->errors_pct) {
		buf_printf(why, "%serrors %.2f%% > %g%%", why->len ? "; " : "", err_pct, l->errors_pct);
		st = level;
	}
	if (l->rps > 0 && rps < l->rps) {
		buf_printf(why, "%s%.0f req/s < %g", why->len ? "; " : "", rps, l->rps);
		st = level;
	}
	return st;
}

/* The load, c requests at a time, until all of l->total are done; on a
 * terminal (not quiet) a progress line says how far it got. Returns the
 * seconds it took. */
static double load_run(struct load *l, int c, int verbose, bool quiet)
{
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){
		.parallel = c, .verbose = verbose > 1 ? verbose - 1 : 0, .on_done = on_load_done, .user = l});
	if (!e)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	const char *name = l->p->name ? l->p->name : "target";
	int64_t start = now_monotonic_ms();
	for (; l->added < l->total && l->added < c; l->added++)
		http_engine_add(e, l->p, NULL);
	progress_start(quiet || verbose);
	while (http_engine_pending(e)) {
		if (http_engine_run_until(e, now_monotonic_ms() + 2 * PROGRESS_INTERVAL_MS) < 0)
			die(EXIT_UNKNOWN, "the probe engine failed");
		double s = (double)(now_monotonic_ms() - start) / 1000.0;
		progress_show(l->errors ? STATUS_WARNING : STATUS_OK, "%ld/%ld requests, %.0f req/s, %ld error%s (load of %s)",
			      l->done, l->total, s > 0 ? (double)l->done / s : 0, l->errors, l->errors == 1 ? "" : "s", name);
	}
	progress_end();
	double wall_s = (double)(now_monotonic_ms() - start) / 1000.0;
	http_engine_free(e);
	return wall_s;
}

void perf_run(struct report *rep, const struct http_probe *p, const struct perf_spec *ps, int verbose, bool quiet)
{
	/* A shallow copy: reuse connections, no retries, no per-request cert read. */
	struct http_probe lp = *p;
	lp.cert_warn_days = lp.cert_crit_days = 0;
	lp.fresh_connect = false;
	lp.retries = 0;
	long n = ps->requests > 0 ? ps->requests : 100;
	int c = ps->concurrency > 0 ? ps->concurrency : 8;
	struct load l = {.p = &lp, .total = n};
	l.lat = emalloc((size_t)n * sizeof *l.lat);
	double wall_s = load_run(&l, c, verbose, quiet);

	qsort(l.lat, (size_t)l.done, sizeof *l.lat, cmp_double);
	double q[5] = {percentile(l.lat, l.done, 50), percentile(l.lat, l.done, 90),
		       percentile(l.lat, l.done, 95), percentile(l.lat, l.done, 99),
		       l.done ? l.lat[l.done - 1] : 0};
	double sum = 0;
	for (long i = 0; i < l.done; i++)
		sum += l.lat[i];
	double err_pct = l.done ? 100.0 * (double)l.errors / (double)l.done : 0;
	double rps = wall_s > 0 ? (double)l.done / wall_s : 0;

	struct buf why = {0};
	enum status st = judge(&ps->crit, STATUS_CRITICAL, q, err_pct, rps, &why);
	if (st == STATUS_OK)
		st = judge(&ps->warn, STATUS_WARNING, q, err_pct, rps, &why);

	cJSON *data = cJSON_CreateObject();
	cJSON_AddNumberToObject(data, "requests", (double)l.done);
	cJSON_AddNumberToObject(data, "concurrency", c);
	cJSON_AddNumberToObject(data, "errors", (double)l.errors);
	cJSON_AddNumberToObject(data, "error_rate", err_pct);
	cJSON_AddNumberToObject(data, "rps", round(rps * 10) / 10);
	cJSON_AddNumberToObject(data, "duration_s", wall_s);
	cJSON *lat = cJSON_AddObjectToObject(data, "latency_ms");
	cJSON_AddNumberToObject(lat, "p50", q[0]);
	cJSON_AddNumberToObject(lat, "p90", q[1]);
	cJSON_AddNumberToObject(lat, "p95", q[2]);
	cJSON_AddNumberToObject(lat, "p99", q[3]);
	cJSON_AddNumberToObject(lat, "max", q[4]);
	cJSON_AddNumberToObject(lat, "mean", l.done ? sum / (double)l.done : 0);
	if (l.errors)
		cJSON_AddStringToObject(data, "first_error", l.first_error);

	char *name = easprintf("perf.%s", p->name ? p->name : "target");
	cJSON *chk = report_add_check(rep, name, st, (int64_t)llround(wall_s * 1000), data,
				      "%ld requests, %.0f req/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, errors %.2f%%%s%s",
				      l.done, rps, q[0], q[2], q[3], err_pct, why.len ? ": " : "",
				      why.len ? why.data : "");
	char label[160];
	snprintf(label, sizeof label, "%s_p95", p->name ? p->name : "target");
	check_add_perf(chk, label, q[2] / 1000.0, "s", ps->warn.p95 ? (double)ps->warn.p95 / 1000.0 : NAN,
		       ps->crit.p95 ? (double)ps->crit.p95 / 1000.0 : NAN);
	snprintf(label, sizeof label, "%s_rps", p->name ? p->name : "target");
	check_add_perf(chk, label, rps, "", NAN, NAN);
	snprintf(label, sizeof label, "%s_errors", p->name ? p->name : "target");
	check_add_perf(chk, label, err_pct, "%", ps->warn.errors_pct >= 0 ? ps->warn.errors_pct : NAN,
		       ps->crit.errors_pct >= 0 ? ps->crit.errors_pct : NAN);
	free(name);
	buf_free(&why);
	free(l.lat);
}

/* ---- baseline ---- */

static const cJSON *find_check(const cJSON *report, const char *name)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "checks")) {
		const char *n = json_path_string(c, "name", NULL);
		if (n && strcmp(n, name) == 0)
			return c;
	}
	return NULL;
}

void perf_compare_baseline(struct report *rep, const cJSON *baseline, double warn_pct, double crit_pct)
{
	cJSON *cur = report_to_json(rep);
	const cJSON *c;
	int compared = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(cur, "checks")) {
		const char *name = json_path_string(c, "name", "");
		if (strncmp(name, "perf.", 5) != 0 || strstr(name, ".baseline"))
			continue;
		char *bname = easprintf("%s.baseline", name);
		const cJSON *b = find_check(baseline, name);
		if (!b || !json_path(b, "data.latency_ms")) {
			report_add_check(rep, bname, STATUS_UNKNOWN, 0, NULL, "no %s in the baseline report", name);
			free(bname);
			compared++;
			continue;
		}
		static const char *const keys[] = {"p50", "p95", "p99"};
		cJSON *data = cJSON_CreateObject();
		struct buf msg = {0};
		double worst = 0;
		for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
			char path[32];
			snprintf(path, sizeof path, "data.latency_ms.%s", keys[i]);
			double now = json_path_number(c, path, NAN), then = json_path_number(b, path, NAN);
			if (isnan(now) || isnan(then) || then <= 0)
				continue;
			/* Sub-millisecond noise on loopback is not a regression. */
			double change = now - then < 1.0 ? 0 : (now - then) / then * 100.0;
			cJSON *m = cJSON_AddObjectToObject(data, keys[i]);
			cJSON_AddNumberToObject(m, "baseline", then);
			cJSON_AddNumberToObject(m, "current", now);
			cJSON_AddNumberToObject(m, "change_pct", round(change * 10) / 10);
			if (change > worst)
				worst = change;
			buf_printf(&msg, "%s%s %.1f -> %.1f ms", msg.len ? ", " : "", keys[i], then, now);
		}
		double rnow = json_path_number(c, "data.rps", NAN), rthen = json_path_number(b, "data.rps", NAN);
		if (!isnan(rnow) && !isnan(rthen) && rthen > 0) {
			double drop = (rthen - rnow) / rthen * 100.0;
			cJSON *m = cJSON_AddObjectToObject(data, "rps");
			cJSON_AddNumberToObject(m, "baseline", rthen);
			cJSON_AddNumberToObject(m, "current", rnow);
			cJSON_AddNumberToObject(m, "change_pct", round(-drop * 10) / 10);
			if (drop > worst)
				worst = drop;
			buf_printf(&msg, "%s%.0f -> %.0f req/s", msg.len ? ", " : "", rthen, rnow);
		}
		double enow = json_path_number(c, "data.error_rate", 0), ethen = json_path_number(b, "data.error_rate", 0);
		enum status st = worst >= crit_pct ? STATUS_CRITICAL : worst >= warn_pct ? STATUS_WARNING : STATUS_OK;
		if (enow > ethen + 1.0 && st == STATUS_OK)
			st = STATUS_WARNING;
		cJSON_AddNumberToObject(data, "regression_pct", round(worst * 10) / 10);
		cJSON_AddNumberToObject(data, "warning_pct", warn_pct);
		cJSON_AddNumberToObject(data, "critical_pct", crit_pct);
		report_add_check(rep, bname, st, 0, data, "%s: worst regression %.0f%% (warning %g%%, critical %g%%)",
				 msg.data ? msg.data : "", worst, warn_pct, crit_pct);
		buf_free(&msg);
		free(bname);
		compared++;
	}
	if (!compared)
		report_add_check(rep, "perf.baseline", STATUS_UNKNOWN, 0, NULL,
				 "nothing to compare: no load run (use --requests or a performance block)");
	cJSON_Delete(cur);
}
