/* health-watch — polls health endpoints on an interval through the shared
 * HTTP probe engine, keeps an up/down state per target with failure and
 * success thresholds, and streams state changes and Alertmanager-shaped
 * alerts as JSON Lines (for alert-send, a deploy gate or a terminal), with
 * Prometheus textfile metrics on the side. */
#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/event.h"
#include "shipshape/files.h"
#include "shipshape/http.h"
#include "shipshape/json.h"
#include "shipshape/opts.h"
#include "shipshape/redact.h"
#include "shipshape/signals.h"
#include "shipshape/term.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_TARGET = OPT_TOOL_BASE, OPT_FAILURES, OPT_SUCCESSES, OPT_EMIT, OPT_HEARTBEAT, OPT_COUNT,
	OPT_UNTIL, OPT_PROBE_TIMEOUT, OPT_METRICS, OPT_SEVERITY, OPT_SCHEMA, OPT_STRICT,
};

#define ALERT_NAME "HealthCheckFailed"
#define MIN_INTERVAL_MS 10
#define MAX_PARALLEL 256

static void usage(FILE *f)
{
	fprintf(f,
		"usage: health-watch [-c FILE] [--schema FILE] [--strict] [--target NAME=URL]...\n"
		"                    [-i DUR] [--probe-timeout DUR]\n"
		"                    [--failure-threshold N] [--success-threshold N] [--severity S]\n"
		"                    [--emit changes|all] [--heartbeat DUR] [--count N]\n"
		"                    [--until up|down] [-t DUR] [--metrics-file PATH]\n"
		"                    [--format json|text] [-q] [-v]\n"
		"       health-watch -h | -V\n"
		"\n"
		"Polls the health endpoints (monitoring.health_check in the config, else the\n"
		"API's api.base_url + health_path, or the --target ones) and prints state\n"
		"changes and alerts as JSON Lines until SIGTERM or SIGINT. SIGHUP reloads\n"
		"the config.\n"
		"\n"
		"  -c, --config FILE          the config (YAML or a JSON config document;\n"
		"                             without -c and --target: a document on stdin)\n"
		"      --schema FILE          the config schema (default: beside health-watch)\n"
		"      --strict               unknown config keys are errors, not warnings\n"
		"      --target NAME=URL      watch URL as NAME instead of the config's endpoints\n"
		"  -i, --interval DUR         time between probes of a target (default 30s)\n"
		"      --probe-timeout DUR    one probe (default: the config's timeout, 10s)\n"
		"      --failure-threshold N  consecutive failures before down (default 3)\n"
		"      --success-threshold N  consecutive successes before up (default 2)\n"
		"      --severity S           the alerts' severity label (default critical)\n"
		"      --emit changes|all     all: also one event per probe\n"
		"      --heartbeat DUR        a liveness event every DUR\n"
		"      --count N              stop after N rounds, then a report\n"
		"      --until up|down        stop when every target is in that state (exit 0),\n"
		"                             then a report\n"
		"  -t, --timeout DUR          bound the whole run: stop at DUR, dropping the probes\n"
		"                             in flight (--until: exit 2; --count: as after it,\n"
		"                             by the states then; else 0)\n"
		"      --metrics-file PATH    Prometheus text exposition, rewritten each round\n"
		"                             and at the end, however the watch ends\n"
		"      --format FMT           json (default when piped) or text\n"
		"  -q, --quiet                no warnings\n"
		"  -v, --verbose              more detail on stderr\n"
		"  -h, --help                 this help\n"
		"  -V, --version              the version\n"
		"\n"
		"Exit: 0 stopped by a signal or -t, --until reached, or every target up after\n"
		"--count (or at -t before it); 2 -t passed before --until, or a target down\n"
		"after --count; 3 a target still unknown after --count; 64 usage; 65 invalid\n"
		"config.\n");
}

enum state { ST_UNKNOWN, ST_UP, ST_DOWN };
static const char *const state_names[] = {"unknown", "up", "down"};

/* What the last probe saw, kept for the metrics. The phases are
 * blackbox_exporter's, from curl's times since the start of the attempt. */
struct last_probe {
	bool ok;
	long code;
	double seconds;
	double resolve, connect, tls, processing, transfer; /* seconds */
	long redirects;
	bool ssl;
	char tls_version[16];   /* "TLS 1.3" as blackbox_exporter names it; "" */
	double http_version;    /* 1.1, 2; 0: none */
};

struct target {
	struct http_probe probe;
	char *severity;
	char *shown_url;         /* redacted, for events and metrics */
	enum state state;
	int fails, oks;          /* consecutive */
	bool in_flight;
	int64_t fail_since_ms;   /* epoch ms of the first failure of the streak */
	int64_t down_since_ms;
	char *last_error;
	bool probed;
	struct last_probe last;  /* for metrics and the report */
	int64_t cert_expiry_ms;  /* last known, kept across reused connections */
	unsigned long probes, failures, skipped;
	int rounds;              /* probes started, for --count */
};

struct args {
	struct std_opts std;
	char **targets;          /* NAME=URL */
	size_t n_targets;
	int64_t interval_ms;
	int failure_threshold, success_threshold;
	const char *severity;
	bool emit_all;
	int64_t heartbeat_ms;
	long count;
	int until;               /* -1: none, else ST_UP or ST_DOWN */
	int64_t probe_timeout_ms; /* --probe-timeout; 0: the config's */
	const char *metrics_file;
	const char *schema;      /* --schema */
	bool strict;             /* --strict */
};

struct watch {
	const struct args *args;
	enum output_format format;
	struct target *t;
	size_t n;
	int64_t interval_ms, timeout_ms;
	int failure_threshold, success_threshold;
	char *environment, *service;
	struct http_engine *engine;
	/* the schedule: target `cursor` of round `round` falls due at
	 * base + round * interval + cursor * interval / n; never drifts. */
	int64_t base;
	long round;
	size_t cursor;
	int64_t next_heartbeat;
	bool stop, reload;
	int exit_status;
	bool round_done;
};

static int signal_fd = -1; /* signals_open(): SIGTERM, SIGINT, SIGHUP as bytes */

/* ---- output ---- */

/* "until up: reached, every target up" or "until up: deadline passed; not
 * up yet: b, c" */
static void print_until_text(const cJSON *doc, const char *time)
{
	const char *st = json_path_string(doc, "state", "");
	if (json_path_bool(doc, "reached", false)) {
		printf("%s  until %s: reached, every target %s\n", time, st, st);
		return;
	}
	printf("%s  until %s: deadline passed; not %s yet: ", time, st, st);
	const cJSON *name;
	const char *sep = "";
	cJSON_ArrayForEach(name, json_path(doc, "not_yet"))
	{
		printf("%s%s", sep, cJSON_IsString(name) ? name->valuestring : "?");
		sep = ", ";
	}
	putchar('\n');
}

static void emit(struct watch *w, cJSON *doc)
{
	progress_clear(); /* stdout may be the terminal of the progress line */
	if (stream_failed()) {
		cJSON_Delete(doc);
		return;
	}
	if (w->format == FORMAT_TEXT) {
		const char *kind = json_kind(doc), *type = json_path_string(doc, "type", "");
		const char *time = json_path_string(doc, "time", json_path_string(doc, "startsAt", ""));
		if (strcmp(kind, "alert") == 0) {
			/* stamped now, in line with the state change before it; the
			 * incident's start is in the line */
			char stamp[RFC3339_LEN];
			printf("%s  %-8s %s %s: %s (since %s)\n", rfc3339_format(now_epoch_ms(), stamp),
			       json_path_string(doc, "status", ""), json_path_string(doc, "labels.alertname", ""),
			       json_path_string(doc, "labels.target", ""), json_path_string(doc, "annotations.summary", ""),
			       time);
		}
		else if (strcmp(type, "state") == 0)
			printf("%s  %-12s %s -> %s%s%s\n", time, json_path_string(doc, "target", ""),
			       json_path_string(doc, "from", ""), json_path_string(doc, "to", ""),
			       json_path(doc, "error") ? ": " : "", json_path_string(doc, "error", ""));
		else if (strcmp(type, "probe") == 0)
			printf("%s  %-12s %s %s\n", time, json_path_string(doc, "target", ""),
			       json_path_bool(doc, "ok", false) ? "ok  " : "FAIL", json_path_string(doc, "result", ""));
		else if (strcmp(type, "heartbeat") == 0)
			printf("%s  heartbeat: %d up, %d down, %d unknown\n", time, (int)json_path_number(doc, "up", 0),
			       (int)json_path_number(doc, "down", 0), (int)json_path_number(doc, "unknown", 0));
		else if (strcmp(type, "until") == 0)
			print_until_text(doc, time);
		else
			json_print_line(stdout, doc);
	} else {
		json_print_line(stdout, doc);
	}
	/* The stream is the product: with nobody reading it (EPIPE) or
	 * nowhere to write it, stop rather than watch in silence. */
	if (!stream_flush("output", NULL))
		w->stop = true;
	cJSON_Delete(doc);
}

static void emit_alert(struct watch *w, struct target *t, enum alert_status st, int64_t now)
{
	cJSON *labels = labels_new("alertname", ALERT_NAME, "target", t->probe.name, "severity", t->severity,
				   "environment", w->environment, NULL);
	cJSON *ann = cJSON_CreateObject();
	char *summary = st == ALERT_FIRING
				? easprintf("%s is down: %d consecutive failed probes", t->probe.name, t->fails)
				: easprintf("%s is up again", t->probe.name);
	cJSON_AddStringToObject(ann, "summary", summary);
	free(summary);
	if (t->last_error)
		cJSON_AddStringToObject(ann, "error", t->last_error);
	cJSON_AddStringToObject(ann, "url", t->shown_url);
	if (w->service)
		cJSON_AddStringToObject(ann, "service", w->service);
	emit(w, alert_event_new(st, labels, ann, t->down_since_ms ? t->down_since_ms : now,
				st == ALERT_RESOLVED ? now : 0, NULL));
}

static void emit_state(struct watch *w, struct target *t, enum state from, int64_t now)
{
	cJSON *e = event_new("state", now);
	cJSON_AddStringToObject(e, "target", t->probe.name);
	cJSON_AddStringToObject(e, "url", t->shown_url);
	cJSON_AddStringToObject(e, "from", state_names[from]);
	cJSON_AddStringToObject(e, "to", state_names[t->state]);
	cJSON_AddNumberToObject(e, "consecutive", t->state == ST_UP ? t->oks : t->fails);
	if (t->state == ST_DOWN && t->last_error)
		cJSON_AddStringToObject(e, "error", t->last_error);
	emit(w, e);
}

/* ---- metrics: Prometheus text exposition, names close to blackbox_exporter's ---- */

static void label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_putc(b, '\\');
		if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *s);
	}
}

static void metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{target="...",url="..."[,label="value"]} v. The URL is "url", not
 * "instance": Prometheus renames a scraped file's instance label to
 * exported_instance, as it sets its own. */
static void metric_line(struct buf *b, const char *name, const struct target *t, const char *label,
			const char *label_val, double v)
{
	char num[32];
	buf_printf(b, "%s{target=\"", name);
	label_value(b, t->probe.name);
	buf_puts(b, "\",url=\"");
	label_value(b, t->shown_url);
	if (label) {
		buf_printf(b, "\",%s=\"", label);
		label_value(b, label_val);
	}
	buf_printf(b, "\"} %s\n", double_text(v, num, sizeof num));
}

/* Whole microseconds from curl's times (kept as ms). */
static double usec(double ms)
{
	return round(ms * 1000.0);
}

/* The phases follow each other: each ends where curl's time for it says,
 * or where the one before ended when curl's is earlier (a reused
 * connection has no connect, a failed one no first byte), so they sum to
 * at most the total. Seconds are whole microseconds over 1e6: 233 us
 * prints as 0.000233, never 0.00023300000000000003. */
static void last_probe_set(struct last_probe *l, const struct http_result *r, bool ok)
{
	double dns = usec(r->dns_ms), total = usec(r->total_ms);
	double connect = fmax(dns, usec(r->connect_ms));
	double tls = r->tls_ms > 0 ? fmax(connect, usec(r->tls_ms)) : connect;
	double first_byte = r->first_byte_ms > 0 ? fmax(tls, usec(r->first_byte_ms)) : tls;
	double end = r->first_byte_ms > 0 ? fmax(first_byte, total) : first_byte;
	*l = (struct last_probe){
		.ok = ok,
		.code = r->code,
		.seconds = total / 1e6,
		.resolve = dns / 1e6,
		.connect = (connect - dns) / 1e6,
		.tls = (tls - connect) / 1e6,
		.processing = (first_byte - tls) / 1e6,
		.transfer = (end - first_byte) / 1e6,
		.redirects = r->redirects,
		.ssl = r->tls_version[0] != '\0',
		.http_version = r->http_version[0] ? strtod(r->http_version, NULL) : 0,
	};
	if (strncmp(r->tls_version, "TLSv", 4) == 0)
		snprintf(l->tls_version, sizeof l->tls_version, "TLS %s", r->tls_version + 4);
	else
		snprintf(l->tls_version, sizeof l->tls_version, "%s", r->tls_version);
}

/* In file order. Those before M_CERT_EXPIRY are the last probe's: absent
 * until a target's first probe (metric_lines() relies on this order). */
enum metric {
	M_SUCCESS, M_DURATION, M_PHASES, M_DNS, M_STATUS_CODE, M_VERSION, M_REDIRECTS, M_SSL,
	M_TLS_VERSION, M_CERT_EXPIRY, M_UP, M_CONSECUTIVE, M_PROBES, M_FAILURES, M_SKIPPED,
};

static void metric_lines(struct buf *b, enum metric k, const char *name, const struct target *t)
{
	const struct last_probe *l = &t->last;
	static const char *const phases[] = {"resolve", "connect", "tls", "processing", "transfer"};
	if (!t->probed && k < M_CERT_EXPIRY)
		return;
	switch (k) {
	case M_SUCCESS: metric_line(b, name, t, NULL, NULL, l->ok); break;
	case M_DURATION: metric_line(b, name, t, NULL, NULL, l->seconds); break;
	case M_PHASES: {
		const double v[] = {l->resolve, l->connect, l->tls, l->processing, l->transfer};
		for (size_t i = 0; i < ARRAY_LEN(phases); i++)
			metric_line(b, name, t, "phase", phases[i], v[i]);
		break;
	}
	case M_DNS: metric_line(b, name, t, NULL, NULL, l->resolve); break;
	case M_STATUS_CODE: metric_line(b, name, t, NULL, NULL, (double)l->code); break;
	case M_VERSION: metric_line(b, name, t, NULL, NULL, l->http_version); break;
	case M_REDIRECTS: metric_line(b, name, t, NULL, NULL, (double)l->redirects); break;
	case M_SSL: metric_line(b, name, t, NULL, NULL, l->ssl); break;
	case M_TLS_VERSION: if (l->tls_version[0]) metric_line(b, name, t, "version", l->tls_version, 1); break;
	case M_CERT_EXPIRY: if (t->cert_expiry_ms) metric_line(b, name, t, NULL, NULL, (double)(t->cert_expiry_ms / 1000)); break;
	case M_UP: if (t->state != ST_UNKNOWN) metric_line(b, name, t, NULL, NULL, t->state == ST_UP); break;
	case M_CONSECUTIVE: metric_line(b, name, t, NULL, NULL, t->fails); break;
	case M_PROBES: metric_line(b, name, t, NULL, NULL, (double)t->probes); break;
	case M_FAILURES: metric_line(b, name, t, NULL, NULL, (double)t->failures); break;
	case M_SKIPPED: metric_line(b, name, t, NULL, NULL, (double)t->skipped); break;
	}
}

static void write_metrics(struct watch *w)
{
	const char *path = w->args->metrics_file;
	if (!path)
		return;
	struct buf b = {0};
	static const struct {
		enum metric k;
		const char *name, *type, *help;
	} m[] = {
		{M_SUCCESS, "probe_success", "gauge", "Whether the last probe succeeded"},
		{M_DURATION, "probe_duration_seconds", "gauge", "How long the last probe took"},
		{M_PHASES, "probe_http_duration_seconds", "gauge", "Duration of each phase of the last probe's HTTP request"},
		{M_DNS, "probe_dns_lookup_time_seconds", "gauge", "How long the last probe's name lookup took"},
		{M_STATUS_CODE, "probe_http_status_code", "gauge", "HTTP status code of the last probe (0: none)"},
		{M_VERSION, "probe_http_version", "gauge", "HTTP version of the last probe's response (0: none)"},
		{M_REDIRECTS, "probe_http_redirects", "gauge", "Redirects the last probe followed"},
		{M_SSL, "probe_http_ssl", "gauge", "Whether the last probe's final request used TLS"},
		{M_TLS_VERSION, "probe_tls_version_info", "gauge", "The TLS version of the last probe's connection"},
		{M_CERT_EXPIRY, "probe_ssl_earliest_cert_expiry", "gauge", "Earliest certificate expiry, unix time"},
		{M_UP, "health_watch_up", "gauge", "1 up, 0 down (after the thresholds); absent while unknown"},
		{M_CONSECUTIVE, "health_watch_consecutive_failures", "gauge", "Failed probes in a row"},
		{M_PROBES, "health_watch_probes_total", "counter", "Probes made"},
		{M_FAILURES, "health_watch_probe_failures_total", "counter", "Probes failed"},
		{M_SKIPPED, "health_watch_probes_skipped_total", "counter", "Probes skipped: the previous one was still running"},
	};
	for (size_t k = 0; k < ARRAY_LEN(m); k++) {
		metric_head(&b, m[k].name, m[k].type, m[k].help);
		for (size_t i = 0; i < w->n; i++)
			metric_lines(&b, m[k].k, m[k].name, &w->t[i]);
	}
	/* node_exporter's textfile collector reads *.prom: a whole file or none */
	if (atomic_write_file(path, b.data, b.len, 0644) < 0)
		warnx_("unable to write %s: %s", path, strerror(errno));
	buf_free(&b);
}

/* ---- probes ---- */

static const char *failure_reason(const struct http_result *r)
{
	if (r->error_message)
		return r->error_message;
	for (size_t i = 0; i < r->n_outcomes; i++)
		if (r->outcomes[i].status != STATUS_OK && r->outcomes[i].message)
			return r->outcomes[i].message;
	return NULL;
}

static bool all_in(const struct watch *w, enum state st)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].state != st)
			return false;
	return w->n > 0;
}

static void on_probe(struct http_engine *e, const struct http_probe *p, struct http_result *r, void *tag,
		     void *user)
{
	(void)e;
	(void)p;
	struct watch *w = user;
	struct target *t = tag;
	int64_t now = now_epoch_ms();
	bool ok = r->status == STATUS_OK || r->status == STATUS_WARNING;
	t->in_flight = false;
	t->probed = true;
	t->probes++;
	last_probe_set(&t->last, r, ok);
	if (r->cert_earliest_expiry_ms)
		t->cert_expiry_ms = r->cert_earliest_expiry_ms;
	if (ok) {
		t->oks++;
		t->fails = 0;
		t->fail_since_ms = 0;
	} else {
		const char *why = failure_reason(r);
		char *desc = why ? NULL : http_result_describe(r);
		free(t->last_error);
		t->last_error = estrdup(why ? why : desc);
		free(desc);
		t->failures++;
		t->fails++;
		t->oks = 0;
		if (!t->fail_since_ms)
			t->fail_since_ms = r->started_ms ? r->started_ms : now;
	}
	if (w->args->emit_all) {
		cJSON *ev = event_new("probe", now);
		char *desc = http_result_describe(r);
		cJSON_AddStringToObject(ev, "target", t->probe.name);
		cJSON_AddBoolToObject(ev, "ok", ok);
		cJSON_AddStringToObject(ev, "status", status_name(r->status));
		if (r->code)
			cJSON_AddNumberToObject(ev, "code", (double)r->code);
		cJSON_AddNumberToObject(ev, "duration_ms", round(r->total_ms * 1000.0) / 1000.0);
		cJSON_AddStringToObject(ev, "result", desc);
		if (!ok && t->last_error)
			cJSON_AddStringToObject(ev, "error", t->last_error);
		cJSON_AddStringToObject(ev, "state", state_names[t->state]);
		free(desc);
		emit(w, ev);
	}
	enum state from = t->state;
	if (ok && t->state != ST_UP && t->oks >= w->success_threshold)
		t->state = ST_UP;
	else if (!ok && t->state != ST_DOWN && t->fails >= w->failure_threshold)
		t->state = ST_DOWN;
	if (t->state != from) {
		emit_state(w, t, from, now);
		if (t->state == ST_DOWN) {
			t->down_since_ms = t->fail_since_ms;
			emit_alert(w, t, ALERT_FIRING, now);
		} else if (from == ST_DOWN) {
			emit_alert(w, t, ALERT_RESOLVED, now);
			t->down_since_ms = 0;
		}
	}
	http_result_free(r);
}

/* ---- targets ---- */

static void target_free(struct target *t)
{
	http_probe_free(&t->probe);
	free(t->severity);
	free(t->shown_url);
	free(t->last_error);
}

static void targets_free(struct target *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		target_free(&t[i]);
	free(t);
}

static const char *const endpoint_extra_keys[] = {"severity", NULL};

/* Without endpoints, the API's own health: one target "api" at
 * api.base_url + api.health_path (default /health). */
static struct target *api_target(const struct args *a, const cJSON *doc, int64_t timeout_ms, size_t *n, char *err,
				 size_t errsize)
{
	const char *base = doc ? json_path_string(doc, "api.base_url", NULL) : NULL;
	char *url = base ? url_join_path(base, json_path_string(doc, "api.health_path", "/health")) : NULL;
	if (!url) {
		snprintf(err, errsize, "no targets: give --target NAME=URL, monitoring.health_check.endpoints or %s",
			 base ? "an api.base_url that is a URL" : "api.base_url");
		return NULL;
	}
	struct target *t = ecalloc(1, sizeof *t);
	http_probe_init(&t->probe);
	t->probe.timeout_ms = timeout_ms;
	t->probe.name = estrdup("api");
	t->probe.url = url;
	t->severity = estrdup(a->severity ? a->severity : "critical");
	t->shown_url = redact_url(url);
	*n = 1;
	return t;
}

/* Targets from --target or the config; NULL with a message on a problem
 * (fatal at start, ignored at a reload). */
static struct target *targets_build(const struct args *a, const cJSON *doc, int64_t timeout_ms, size_t *n,
				    char *err, size_t errsize)
{
	const cJSON *eps = doc ? json_path(doc, "monitoring.health_check.endpoints") : NULL;
	size_t count = a->n_targets ? a->n_targets : (cJSON_IsArray(eps) ? (size_t)cJSON_GetArraySize(eps) : 0);
	if (eps && !a->n_targets && !cJSON_IsArray(eps)) {
		snprintf(err, errsize, "monitoring.health_check.endpoints: expected a list");
		return NULL;
	}
	if (count == 0 && !eps)
		return api_target(a, doc, timeout_ms, n, err, errsize);
	if (count == 0) {
		snprintf(err, errsize, "no targets: give --target NAME=URL or monitoring.health_check.endpoints");
		return NULL;
	}
	struct target *ts = ecalloc(count, sizeof *ts);
	for (size_t i = 0; i < count; i++) {
		struct target *t = &ts[i];
		http_probe_init(&t->probe);
		t->probe.timeout_ms = timeout_ms;
		if (a->n_targets) {
			const char *eq = strchr(a->targets[i], '=');
			t->probe.name = estrndup(a->targets[i], (size_t)(eq - a->targets[i]));
			t->probe.url = estrdup(eq + 1);
		} else {
			const cJSON *ep = cJSON_GetArrayItem(eps, (int)i);
			char e2[256];
			if (!cJSON_IsObject(ep) || http_probe_from_json(&t->probe, ep, endpoint_extra_keys, e2, sizeof e2) < 0) {
				snprintf(err, errsize, "monitoring.health_check.endpoints[%zu]: %s", i,
					 cJSON_IsObject(ep) ? e2 : "expected a map");
				targets_free(ts, i);
				return NULL;
			}
			if (!t->probe.url || !t->probe.name) {
				snprintf(err, errsize, "monitoring.health_check.endpoints[%zu]: %s: missing", i,
					 t->probe.url ? "name" : "url");
				http_probe_free(&t->probe);
				targets_free(ts, i);
				return NULL;
			}
			const char *sev = json_path_string(ep, "severity", NULL);
			t->severity = sev ? estrdup(sev) : NULL;
		}
		if (!t->severity)
			t->severity = estrdup(a->severity ? a->severity : "critical");
		t->shown_url = redact_url(t->probe.url);
		for (size_t k = 0; k < i; k++) {
			if (strcmp(ts[k].probe.name, t->probe.name) == 0) {
				snprintf(err, errsize, "two targets named \"%s\"", t->probe.name);
				targets_free(ts, i + 1);
				return NULL;
			}
		}
	}
	*n = count;
	return ts;
}

/* Settings from the config's health check section, flags winning. Returns
 * 0 or -1 with a message in err. */
static int settings_apply(struct watch *w, const cJSON *doc, char *err, size_t errsize)
{
	const struct args *a = w->args;
	const char *hc = "monitoring.health_check";
	char p[128];
	snprintf(p, sizeof p, "%s.interval", hc);
	int64_t interval = a->interval_ms ? a->interval_ms : json_path_duration_ms(doc, p, 30000);
	snprintf(p, sizeof p, "%s.timeout", hc);
	int64_t timeout = a->probe_timeout_ms ? a->probe_timeout_ms : json_path_duration_ms(doc, p, 10000);
	if (interval < MIN_INTERVAL_MS || timeout <= 0) {
		snprintf(err, errsize, "%s.%s: expected a duration (of at least 10ms)", hc,
			 interval < MIN_INTERVAL_MS ? "interval" : "timeout");
		return -1;
	}
	int thresholds[2] = {a->failure_threshold, a->success_threshold};
	static const char *const names[2] = {"failure_threshold", "success_threshold"};
	static const int defaults[2] = {3, 2};
	for (int i = 0; i < 2; i++) {
		if (thresholds[i])
			continue;
		snprintf(p, sizeof p, "%s.%s", hc, names[i]);
		double v = json_path_number(doc, p, defaults[i]);
		if (v < 1 || v > 1000 || v != (double)(int)v) {
			snprintf(err, errsize, "%s: expected a whole number from 1 to 1000", p);
			return -1;
		}
		thresholds[i] = (int)v;
	}
	w->interval_ms = interval;
	w->timeout_ms = timeout;
	w->failure_threshold = thresholds[0];
	w->success_threshold = thresholds[1];
	free(w->environment);
	free(w->service);
	const char *env = json_path_string(doc, "environment", NULL), *svc = json_path_string(doc, "service.name", NULL);
	w->environment = env ? estrdup(env) : NULL;
	w->service = svc ? estrdup(svc) : NULL;
	return 0;
}

static void engine_start(struct watch *w)
{
	int parallel = (int)(w->n < 16 ? 16 : w->n > MAX_PARALLEL ? MAX_PARALLEL : w->n);
	w->engine = http_engine_new(&(struct http_engine_opts){
		.parallel = parallel, .verbose = w->args->std.verbose > 1, .on_done = on_probe, .user = w});
	if (!w->engine)
		die(EXIT_UNKNOWN, "unable to start libcurl");
}

/* The config document through the schema (config_open); NULL when it is
 * invalid, with the exit status in *status and the first problem in
 * first. silent: the problems are not printed (a reload names one). */
static cJSON *config_read(const struct args *a, bool silent, int *status, char *first, size_t size)
{
	static const char *const sections[] = {"monitoring", NULL};
	struct config_request r = {.path = a->std.config_path, .schema_path = a->schema,
				   .sections = sections, .strict = a->strict, .silent = silent};
	struct config cfg;
	*status = config_open(&r, &cfg);
	cJSON *doc = cfg.doc;
	cfg.doc = NULL;
	snprintf(first, size, "%s", cfg.diag.first);
	config_close(&cfg);
	return doc;
}

/* SIGHUP: once nothing is in flight, the new config's targets replace the
 * old ones; a target of the same name keeps its state. */
static void reload(struct watch *w)
{
	char err[512];
	if (!w->args->std.config_path) {
		warnx_("SIGHUP: no config file to reload (-c)");
		w->reload = false;
		return;
	}
	if (http_engine_pending(w->engine))
		return; /* after the probes in flight */
	w->reload = false;
	/* checked in-process: an invalid file is one message, the old config stays */
	int status;
	char first[512];
	cJSON *doc = config_read(w->args, true, &status, first, sizeof first);
	if (!doc) {
		error_msg("SIGHUP: %s; still watching with the old config", first);
		return;
	}
	struct watch trial = *w;
	size_t n = 0;
	struct target *ts = NULL;
	trial.environment = trial.service = NULL;
	if (settings_apply(&trial, doc, err, sizeof err) < 0 ||
	    !(ts = targets_build(w->args, doc, trial.timeout_ms, &n, err, sizeof err))) {
		error_msg("SIGHUP: %s: %s; still watching with the old config", w->args->std.config_path, err);
		free(trial.environment);
		free(trial.service);
		cJSON_Delete(doc);
		return;
	}
	cJSON_Delete(doc);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < w->n; k++) {
			struct target *old = &w->t[k];
			if (strcmp(old->probe.name, ts[i].probe.name) != 0)
				continue;
			ts[i].state = old->state;
			ts[i].fails = old->fails;
			ts[i].oks = old->oks;
			ts[i].fail_since_ms = old->fail_since_ms;
			ts[i].down_since_ms = old->down_since_ms;
			ts[i].last_error = old->last_error;
			old->last_error = NULL;
			ts[i].probes = old->probes;
			ts[i].failures = old->failures;
			ts[i].rounds = old->rounds;
		}
	}
	free(w->environment);
	free(w->service);
	targets_free(w->t, w->n);
	w->environment = trial.environment;
	w->service = trial.service;
	w->interval_ms = trial.interval_ms;
	w->timeout_ms = trial.timeout_ms;
	w->failure_threshold = trial.failure_threshold;
	w->success_threshold = trial.success_threshold;
	w->t = ts;
	w->n = n;
	http_engine_free(w->engine);
	engine_start(w);
	w->base = now_monotonic_ms();
	w->cursor = 0;
	w->round = 0;
	verbose("reloaded %s: %zu target%s", w->args->std.config_path, n, n == 1 ? "" : "s");
}

/* ---- the loop ---- */

static int64_t due_at(const struct watch *w, long round, size_t i)
{
	return w->base + round * w->interval_ms + (int64_t)i * w->interval_ms / (int64_t)w->n;
}

/* Starts every probe that fell due; returns when the next falls due. */
static int64_t schedule(struct watch *w, int64_t now)
{
	for (;;) {
		if (w->args->count && w->round >= w->args->count)
			return INT64_MAX;
		int64_t due = due_at(w, w->round, w->cursor);
		if (due > now || w->reload)
			return due;
		struct target *t = &w->t[w->cursor];
		if (t->in_flight) {
			t->skipped++; /* never two at once: a hung target only delays itself */
		} else {
			t->in_flight = true;
			t->rounds++;
			http_engine_add(w->engine, &t->probe, t);
		}
		if (++w->cursor == w->n) {
			w->cursor = 0;
			w->round++;
			w->round_done = true;
		}
	}
}

static void heartbeat(struct watch *w, int64_t now_epoch)
{
	int counts[3] = {0};
	for (size_t i = 0; i < w->n; i++)
		counts[w->t[i].state]++;
	cJSON *e = event_new("heartbeat", now_epoch);
	cJSON_AddNumberToObject(e, "targets", (double)w->n);
	cJSON_AddNumberToObject(e, "up", counts[ST_UP]);
	cJSON_AddNumberToObject(e, "down", counts[ST_DOWN]);
	cJSON_AddNumberToObject(e, "unknown", counts[ST_UNKNOWN]);
	cJSON_AddNumberToObject(e, "rounds", (double)w->round);
	emit(w, e);
}

static void on_signals(struct watch *w)
{
	unsigned char c[16];
	size_t n;
	while ((n = signals_take(c, sizeof c)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (c[i] == SIGHUP)
				w->reload = true;
			else
				w->stop = true;
		}
	}
}

static void until_event(struct watch *w, bool reached, int64_t now)
{
	cJSON *e = event_new("until", now);
	cJSON_AddStringToObject(e, "state", state_names[w->args->until]);
	cJSON_AddBoolToObject(e, "reached", reached);
	cJSON *list = cJSON_AddArrayToObject(e, "not_yet");
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].state != (enum state)w->args->until)
			cJSON_AddItemToArray(list, cJSON_CreateString(w->t[i].probe.name));
	emit(w, e);
}

/* --until on a terminal: how many targets are there, within what bound,
 * and which are not yet, each with its state (warning colour when one is
 * in the other state). */
static void until_progress(const struct watch *w)
{
	enum state want = (enum state)w->args->until;
	size_t there = 0;
	bool other = false;
	struct buf wait = {0};
	char bound[64] = "", t[32];
	for (size_t i = 0; i < w->n; i++) {
		if (w->t[i].state == want) {
			there++;
			continue;
		}
		other = other || w->t[i].state != ST_UNKNOWN;
		buf_printf(&wait, "%s%s (%s)", wait.len ? ", " : "", w->t[i].probe.name, state_names[w->t[i].state]);
	}
	if (w->args->std.timeout_ms)
		snprintf(bound, sizeof bound, " (at most %s)", duration_format(w->args->std.timeout_ms, t, sizeof t));
	progress_show(other ? STATUS_WARNING : STATUS_OK, "until %s: %zu/%zu %s%s; waiting for %s", state_names[want],
		      there, w->n, state_names[want], bound, wait.data ? wait.data : "nothing");
	buf_free(&wait);
}

/* After --count: 2 when a target is down, else 3 when one is still unknown,
 * else 0. */
static int states_status(const struct watch *w)
{
	int st = EXIT_OK;
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].state == ST_DOWN)
			st = EXIT_CRITICAL;
		else if (w->t[i].state == ST_UNKNOWN && st == EXIT_OK)
			st = EXIT_UNKNOWN;
	return st;
}

static int watch_run(struct watch *w)
{
	const struct args *a = w->args;
	int64_t start = now_monotonic_ms();
	/* -t: the whole run; what is in flight then is dropped */
	int64_t deadline = a->std.timeout_ms ? start + a->std.timeout_ms : INT64_MAX;
	w->base = start;
	w->next_heartbeat = a->heartbeat_ms ? start + a->heartbeat_ms : INT64_MAX;
	for (;;) {
		int64_t now = now_monotonic_ms();
		if (w->reload)
			reload(w);
		int64_t next = schedule(w, now);
		if (w->round_done) {
			w->round_done = false;
			write_metrics(w);
		}
		if (now >= w->next_heartbeat) {
			heartbeat(w, now_epoch_ms());
			while (w->next_heartbeat <= now)
				w->next_heartbeat += a->heartbeat_ms;
		}
		if (a->until >= 0 && all_in(w, (enum state)a->until)) {
			until_event(w, true, now_epoch_ms());
			return EXIT_OK;
		}
		if (now >= deadline && a->until >= 0) {
			until_event(w, false, now_epoch_ms());
			return EXIT_CRITICAL;
		}
		if (w->stop || (now >= deadline && !a->count))
			return EXIT_OK;
		/* --count's end, or -t before it: the states then say it */
		if (a->count && ((w->round >= a->count && !http_engine_pending(w->engine)) || now >= deadline))
			return states_status(w);
		if (w->next_heartbeat < next)
			next = w->next_heartbeat;
		if (deadline < next)
			next = deadline;
		/* the progress line of --until is redrawn at least 4 times a second */
		int64_t most = a->until >= 0 ? 250 : 1000, wait = next == INT64_MAX ? most : next - now;
		if (wait > most)
			wait = most;
		if (wait < 0)
			wait = 0;
		struct pollfd pfd = {.fd = signal_fd, .events = POLLIN};
		if (http_engine_step(w->engine, &pfd, 1, (int)wait) < 0)
			die(EXIT_UNKNOWN, "the probe engine failed");
		on_signals(w);
		if (a->until >= 0)
			until_progress(w);
	}
}

/* ---- the closing report of --count and --until ---- */

/* One check per target, "health.NAME": ok when it ended where the run
 * wanted it (--until's state; up after --count), else critical (down, or
 * not there by the deadline) or unknown (no verdict after --count). The
 * report's status is the exit status; a caller keeps it, not the stream. */
static void target_check(struct report *rep, const struct watch *w, const struct target *t)
{
	const struct args *a = w->args;
	enum state want = a->until >= 0 ? (enum state)a->until : ST_UP;
	enum status st = t->state == want ? STATUS_OK
			 : a->until < 0 && t->state == ST_UNKNOWN ? STATUS_UNKNOWN : STATUS_CRITICAL;
	cJSON *data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "state", state_names[t->state]);
	cJSON_AddStringToObject(data, "url", t->shown_url);
	cJSON_AddNumberToObject(data, "probes", (double)t->probes);
	cJSON_AddNumberToObject(data, "failures", (double)t->failures);
	char *name = easprintf("health.%s", t->probe.name);
	const char *why = t->state == ST_DOWN && t->last_error ? t->last_error : NULL;
	report_add_check(rep, name, st, (int64_t)(t->last.seconds * 1000), data, "%s %s%s%s (%lu probe%s, %lu failed)",
			 t->probe.name, state_names[t->state], why ? ": " : "", why ? why : "", t->probes,
			 t->probes == 1 ? "" : "s", t->failures);
	free(name);
}

/* "until up: reached, every target up", "until up: deadline passed; not
 * up yet: b", "after 2 rounds: 1 up, 1 down (api)" */
static void final_summary(struct report *rep, const struct watch *w)
{
	const struct args *a = w->args;
	struct buf b = {0};
	size_t counts[3] = {0};
	for (size_t i = 0; i < w->n; i++)
		counts[w->t[i].state]++;
	if (a->until >= 0 && counts[a->until] == w->n) {
		buf_printf(&b, "until %s: reached, every target %s", state_names[a->until], state_names[a->until]);
	} else if (a->until >= 0) {
		buf_printf(&b, "until %s: deadline passed; not %s yet:", state_names[a->until], state_names[a->until]);
		const char *sep = " ";
		for (size_t i = 0; i < w->n; i++) {
			if (w->t[i].state != (enum state)a->until) {
				buf_printf(&b, "%s%s", sep, w->t[i].probe.name);
				sep = ", ";
			}
		}
	} else {
		buf_printf(&b, "after %ld round%s: %zu up, %zu down, %zu unknown", w->round, w->round == 1 ? "" : "s",
			   counts[ST_UP], counts[ST_DOWN], counts[ST_UNKNOWN]);
		const char *sep = " (not up: ";
		for (size_t i = 0; i < w->n; i++) {
			if (w->t[i].state != ST_UP) {
				buf_printf(&b, "%s%s", sep, w->t[i].probe.name);
				sep = ", ";
			}
		}
		if (*sep == ',')
			buf_putc(&b, ')');
	}
	report_set_summary(rep, "%s", b.data);
	buf_free(&b);
}

/* After a run that --count or --until ended (not a signal, not a failed
 * write): the report, after the events, in the output's format. */
static void final_report(struct watch *w, struct report *rep)
{
	for (size_t i = 0; i < w->n; i++)
		target_check(rep, w, &w->t[i]);
	final_summary(rep, w);
	/* a failed write is stdout's error (ferror): stream_flush() says it */
	report_print(rep, w->format, stdout);
	stream_flush("output", NULL);
}

static void install_signals(void)
{
	signal_fd = signals_open(true);
	if (signal_fd < 0)
		die_errno(EXIT_UNKNOWN, "unable to create a pipe");
}

/* ---- options ---- */

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		STD_LONG_OPTS,
		STD_TIMEOUT_OPT,
		{"target", required_argument, NULL, OPT_TARGET},
		{"interval", required_argument, NULL, 'i'},
		{"failure-threshold", required_argument, NULL, OPT_FAILURES},
		{"success-threshold", required_argument, NULL, OPT_SUCCESSES},
		{"severity", required_argument, NULL, OPT_SEVERITY},
		{"emit", required_argument, NULL, OPT_EMIT},
		{"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
		{"count", required_argument, NULL, OPT_COUNT},
		{"until", required_argument, NULL, OPT_UNTIL},
		{"probe-timeout", required_argument, NULL, OPT_PROBE_TIMEOUT},
		{"metrics-file", required_argument, NULL, OPT_METRICS},
		{"schema", required_argument, NULL, OPT_SCHEMA},
		{"strict", no_argument, NULL, OPT_STRICT},
		{NULL, 0, NULL, 0},
	};
	a->until = -1;
	a->targets = ecalloc((size_t)argc, sizeof *a->targets);
	long n;
	int c;
	a->std.usage = usage;
	a->std.formats = "json,text";
	while ((c = std_getopt(&a->std, argc, argv, "i:t:", longopts)) != -1) {
		switch (c) {
		case OPT_EXIT: exit(a->std.exit_status);
		case OPT_TARGET: {
			const char *eq = strchr(optarg, '=');
			char why[256];
			if (!eq || eq == optarg)
				die(EXIT_USAGE, "invalid --target \"%s\" (expected NAME=http(s)://...)", optarg);
			if (http_url_check(eq + 1, why, sizeof why) < 0) {
				/* the URL may hold a password: named by its target only */
				die(EXIT_USAGE, "invalid --target %.*s: %s", (int)(eq - optarg), optarg, why);
			}
			a->targets[a->n_targets++] = optarg;
			break;
		}
		case 'i':
			opt_exit(opt_duration("--interval", optarg, 1, &a->interval_ms));
			if (a->interval_ms < MIN_INTERVAL_MS)
				die(EXIT_USAGE, "--interval must be at least 10ms");
			break;
		case OPT_FAILURES:
			opt_exit(opt_count("--failure-threshold", optarg, 1, 1000000, &n));
			a->failure_threshold = (int)n;
			break;
		case OPT_SUCCESSES:
			opt_exit(opt_count("--success-threshold", optarg, 1, 1000000, &n));
			a->success_threshold = (int)n;
			break;
		case OPT_SEVERITY: a->severity = optarg; break;
		case OPT_EMIT:
			if (strcmp(optarg, "all") != 0 && strcmp(optarg, "changes") != 0)
				die(EXIT_USAGE, "invalid --emit \"%s\" (expected changes or all)", optarg);
			a->emit_all = strcmp(optarg, "all") == 0;
			break;
		case OPT_HEARTBEAT: opt_exit(opt_duration("--heartbeat", optarg, 1, &a->heartbeat_ms)); break;
		case OPT_COUNT: opt_exit(opt_count("--count", optarg, 1, LONG_MAX, &a->count)); break;
		case OPT_UNTIL:
			if (strcmp(optarg, "up") == 0)
				a->until = ST_UP;
			else if (strcmp(optarg, "down") == 0)
				a->until = ST_DOWN;
			else
				die(EXIT_USAGE, "invalid --until \"%s\" (expected up or down)", optarg);
			break;
		case OPT_PROBE_TIMEOUT: opt_exit(opt_duration("--probe-timeout", optarg, 1, &a->probe_timeout_ms)); break;
		case OPT_METRICS: a->metrics_file = optarg; break;
		case OPT_SCHEMA: a->schema = optarg; break;
		case OPT_STRICT: a->strict = true; break;
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected operand \"%s\" (see %s --help)", argv[optind], prog);
}

int main(int argc, char **argv)
{
	struct args args = {0};
	struct watch w = {.args = &args};
	char err[512];
	tool_start(argv[0]);
	parse_args(argc, argv, &args);
	w.format = format_resolve(args.std.format);

	/* --target alone needs no config; otherwise -c FILE or a document on stdin */
	cJSON *doc = NULL;
	if (args.std.config_path || !args.n_targets) {
		int status;
		doc = config_read(&args, false, &status, err, sizeof err);
		if (!doc) {
			free(args.targets);
			return status;
		}
	}
	if (settings_apply(&w, doc, err, sizeof err) < 0 ||
	    !(w.t = targets_build(&args, doc, w.timeout_ms, &w.n, err, sizeof err)))
		die(EXIT_DATAERR, "%s: %s", args.std.config_path ? args.std.config_path : "config", err);
	cJSON_Delete(doc);
	verbose("watching %zu target%s every %lld ms", w.n, w.n == 1 ? "" : "s", (long long)w.interval_ms);

	install_signals();
	engine_start(&w);
	bool reports = args.count || args.until >= 0;
	struct report *rep = reports ? report_new(prog) : NULL;
	if (args.until >= 0)
		progress_start(args.std.quiet || args.std.verbose);
	int status = watch_run(&w);
	progress_end();
	if (rep && !w.stop)
		final_report(&w, rep);
	report_free(rep);
	/* every way out (--count, --until, -t, a signal, a failed
	 * write): the file says what the last probes found */
	write_metrics(&w);
	http_engine_free(w.engine);
	targets_free(w.t, w.n);
	free(w.environment);
	free(w.service);
	free(args.targets);
	return finish_stdout(status);
}
