/* settings.c — metric-check's settings from the config's analysis section
 * and the options; the placeholders of a query filled in. */
#include "metric-check.h"
#include "shipshape/http.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const no_data_names[] = {"ok", "warning", "critical", "unknown", "inconclusive", NULL};

static const char *const placeholder_names[] = {"service", "environment", "release", "previous_release",
						"window", NULL};

/* A placeholder's value from vars (names and values alternate): NULL for
 * one unknown, or known without a value. */
static const char *var_value(void *ctx, const char *name)
{
	const char *const *vars = ctx;
	for (size_t i = 0; vars[i]; i += 2)
		if (strcmp(vars[i], name) == 0)
			return vars[i + 1] && *vars[i + 1] ? vars[i + 1] : NULL;
	return NULL;
}

static bool known_placeholder(const char *name)
{
	for (size_t i = 0; placeholder_names[i]; i++)
		if (strcmp(placeholder_names[i], name) == 0)
			return true;
	return false;
}

/* What a missing placeholder's value needs. */
static const char *placeholder_source(const char *name)
{
	if (strcmp(name, "service") == 0)
		return "--service or service.name";
	if (strcmp(name, "environment") == 0)
		return "--environment or environment";
	if (strcmp(name, "release") == 0)
		return "--release";
	return "--previous-release";
}

/* Fills the placeholders of m's query (and, with compare, the previous
 * release's). An unknown one is a config error at where (NULL: an option,
 * exit 64); a known one without a value is a usage error. */
static void resolve(const struct settings *s, struct metric *m, struct config *c, const char *where)
{
	char window[32], *bad = NULL;
	duration_format(m->window_ms, window, sizeof window);
	/* a service's first release has nothing to compare with: its value is
	 * judged alone, and the check says so (a warning) */
	if (m->compare && !s->previous_release) {
		m->compare = false;
		m->not_compared = true;
	}
	const char *vars[] = {"service", s->service, "environment", s->environment, "release", s->release,
			      "previous_release", s->previous_release, "window", window, NULL};
	m->resolved = placeholders_fill(m->query, var_value, (void *)vars, NULL, &bad);
	if (m->resolved && m->compare) {
		vars[5] = s->previous_release;
		m->resolved_previous = placeholders_fill(m->query, var_value, (void *)vars, NULL, &bad);
	}
	if (!bad)
		return;
	if (!known_placeholder(bad)) {
		if (c && where)
			config_error(c, where, "metric \"%s\": unknown placeholder {{%s}} (known: service, environment, "
				     "release, previous_release, window)", m->name, bad);
		else
			opt_exit(usage_fail("metric \"%s\": unknown placeholder {{%s}} (known: service, environment, "
					    "release, previous_release, window)", m->name, bad));
		free(bad);
		return;
	}
	opt_exit(usage_fail("metric \"%s\": {{%s}} needs a value: give %s", m->name, bad, placeholder_source(bad)));
}

/* ---- ranges ---- */

static int range_text(const char *text, struct range *r, bool *has)
{
	*has = false;
	if (!text)
		return 0;
	if (range_parse(text, r) < 0)
		return -1;
	*has = true;
	return 0;
}

static void config_range(struct config *c, const char *path, struct range *r, bool *has)
{
	const char *text = NULL;
	if (!config_string(c, path, NULL, &text))
		return;
	if (range_text(text, r, has) < 0)
		config_error(c, path, "\"%s\" is not a range (expected 10, 10:, ~:10, 10:20 or @10:20)", text);
}

static void option_range(const char *option, const char *text, struct range *r, bool *has)
{
	if (range_text(text, r, has) < 0)
		opt_exit(usage_fail("invalid %s \"%s\" (expected a range: 10, 10:, ~:10, 10:20 or @10:20)", option,
				    text));
}

/* ---- the metrics ---- */

static char *dup_or_null(const char *s)
{
	return s ? estrdup(s) : NULL;
}

static void metric_name_check(struct settings *s, struct config *c, const char *path, const char *name)
{
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p)) {
			config_error(c, path, "\"%s\": use letters, digits, '_', '-' and '.'", name);
			break;
		}
	}
	for (size_t k = 0; k + 1 < s->n_metrics; k++)
		if (strcmp(s->metrics[k].name, name) == 0)
			config_error(c, path, "\"%s\" is used twice", name);
}

static void load_compare(struct metric *m, struct config *c, const char *base)
{
	static const char *const against[] = {"previous_release", NULL};
	char path[128];
	int which = -1;
	snprintf(path, sizeof path, "%s.compare", base);
	config_enum(c, path, against, -1, &which);
	m->compare = which == 0;
	snprintf(path, sizeof path, "%s.ratio_warning", base);
	config_range(c, path, &m->ratio.warning, &m->ratio.has_warning);
	snprintf(path, sizeof path, "%s.ratio_critical", base);
	config_range(c, path, &m->ratio.critical, &m->ratio.has_critical);
	if (m->compare && !strstr(m->query, "{{release}}")) {
		snprintf(path, sizeof path, "%s.compare", base);
		config_error(c, path, "metric \"%s\": comparing with the previous release needs {{release}} in "
			     "the query", m->name);
	}
	if (m->compare && m->per_series) {
		snprintf(path, sizeof path, "%s.compare", base);
		config_error(c, path, "metric \"%s\": a comparison is of one value with one: not with per_series",
			     m->name);
	}
	if (!m->compare && (m->ratio.has_warning || m->ratio.has_critical)) {
		snprintf(path, sizeof path, "%s.ratio_warning", base);
		config_error(c, path, "metric \"%s\": a ratio range needs compare: previous_release", m->name);
	}
}

static void load_metric(struct settings *s, struct config *c, size_t i, int64_t window_ms)
{
	char base[64], path[128];
	const char *text = NULL;
	struct metric *m = &s->metrics[s->n_metrics++];
	snprintf(base, sizeof base, "analysis.metrics[%zu]", i);
	snprintf(path, sizeof path, "%s.name", base);
	config_string(c, path, "", &text);
	m->name = estrdup(text);
	metric_name_check(s, c, path, m->name);
	snprintf(path, sizeof path, "%s.query", base);
	config_string(c, path, "", &text);
	m->query = estrdup(text);
	snprintf(path, sizeof path, "%s.warning", base);
	config_range(c, path, &m->limits.warning, &m->limits.has_warning);
	snprintf(path, sizeof path, "%s.critical", base);
	config_range(c, path, &m->limits.critical, &m->limits.has_critical);
	int nd = NO_DATA_INCONCLUSIVE;
	snprintf(path, sizeof path, "%s.no_data", base);
	config_enum(c, path, no_data_names, NO_DATA_INCONCLUSIVE, &nd);
	m->no_data = (enum no_data)nd;
	snprintf(path, sizeof path, "%s.per_series", base);
	config_bool(c, path, false, &m->per_series);
	snprintf(path, sizeof path, "%s.window", base);
	config_duration_ms(c, path, window_ms, &m->window_ms);
	snprintf(path, sizeof path, "%s.range", base);
	config_duration_ms(c, path, 0, &m->range_ms);
	snprintf(path, sizeof path, "%s.step", base);
	config_duration_ms(c, path, DEFAULT_STEP_MS, &m->step_ms);
	load_compare(m, c, base);
	snprintf(path, sizeof path, "%s.query", base);
	if (!config_failed(c))
		resolve(s, m, c, path);
}

static void load_metrics(struct settings *s, struct config *c)
{
	int64_t window_ms = DEFAULT_WINDOW_MS;
	config_duration_ms(c, "analysis.window", window_ms, &window_ms);
	size_t n = config_list_len(c, "analysis.metrics");
	if (n > MAX_METRICS) {
		config_error(c, "analysis.metrics", "%zu metrics, more than %d", n, MAX_METRICS);
		n = MAX_METRICS;
	}
	s->metrics = ecalloc(n ? n : 1, sizeof *s->metrics);
	for (size_t i = 0; i < n; i++)
		load_metric(s, c, i, window_ms);
	if (!n && !config_failed(c))
		config_error(c, "analysis.metrics", "no metric to check");
}

/* The one --query, as a metric. */
static void adhoc_metric(struct settings *s, const struct args *a)
{
	struct metric *m = s->metrics = ecalloc(1, sizeof *s->metrics);
	s->n_metrics = 1;
	m->name = estrdup(a->name ? a->name : "query");
	m->query = estrdup(a->query);
	option_range("--warning", a->warning, &m->limits.warning, &m->limits.has_warning);
	option_range("--critical", a->critical, &m->limits.critical, &m->limits.has_critical);
	m->no_data = NO_DATA_INCONCLUSIVE;
	if (a->no_data) {
		size_t i;
		for (i = 0; no_data_names[i] && strcmp(no_data_names[i], a->no_data) != 0; i++)
			;
		if (!no_data_names[i])
			opt_exit(usage_fail("invalid --no-data \"%s\" (expected ok, warning, critical, unknown or "
					    "inconclusive)", a->no_data));
		m->no_data = (enum no_data)i;
	}
	m->per_series = a->per_series;
	m->window_ms = a->window_ms ? a->window_ms : DEFAULT_WINDOW_MS;
	m->range_ms = a->range_ms;
	m->step_ms = a->step_ms ? a->step_ms : DEFAULT_STEP_MS;
	resolve(s, m, NULL, NULL);
}

/* ---- Prometheus ---- */

/* The base URL with user and password set (basic auth), percent-encoded. */
static char *url_with_user(const char *url, const char *user, const char *password)
{
	CURLU *h = curl_url();
	char *out = NULL, *copy = NULL;
	if (!h)
		out_of_memory();
	if (curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_USER, user, CURLU_URLENCODE) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_PASSWORD, password ? password : "", CURLU_URLENCODE) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_URL, &out, 0) == CURLUE_OK)
		copy = estrdup(out);
	curl_free(out);
	curl_url_cleanup(h);
	return copy;
}

static void load_prometheus(struct settings *s, struct config *c)
{
	const char *v = NULL, *user = NULL, *password = NULL;
	if (config_string(c, "analysis.prometheus.url", NULL, &v) && v && !s->url)
		s->url = estrdup(v);
	if (config_string(c, "analysis.prometheus.bearer_token", NULL, &v) && v)
		s->bearer = estrdup(v);
	if (config_string(c, "analysis.prometheus.ca_file", NULL, &v) && v && !s->ca_file)
		s->ca_file = estrdup(v);
	config_string(c, "analysis.prometheus.username", NULL, &user);
	config_string(c, "analysis.prometheus.password", NULL, &password);
	if (password && *password)
		redact_register(password);
	if (s->bearer && user)
		config_error(c, "analysis.prometheus.username", "a bearer token and basic auth exclude each other");
	else if (user && s->url) {
		char *u = url_with_user(s->url, user, password);
		if (!u)
			config_error(c, "analysis.prometheus.url", "not a URL libcurl can take a user name into");
		free(s->url);
		s->url = u;
	}
	if (!config_string(c, "service.name", NULL, &v) || !v)
		v = NULL;
	if (!s->service && v)
		s->service = estrdup(v);
	if (!s->environment && config_string(c, "environment", NULL, &v) && v)
		s->environment = estrdup(v);
}

static void load_options(struct settings *s, const struct args *a)
{
	s->url = dup_or_null(a->prometheus);
	s->ca_file = dup_or_null(a->ca_file);
	s->service = dup_or_null(a->service);
	s->environment = dup_or_null(a->environment);
	s->release = dup_or_null(a->release);
	s->previous_release = dup_or_null(a->previous_release);
	s->timeout_ms = a->std.timeout_ms ? a->std.timeout_ms : DEFAULT_TIMEOUT_MS;
	s->format = format_resolve(a->std.format);
	s->watch_ms = a->watch_ms;
	s->interval_ms = a->interval_ms ? a->interval_ms : 60000;
	s->failure_limit = a->failure_limit >= 0 ? a->failure_limit : 1;
	s->inconclusive_limit = a->inconclusive_limit >= 0 ? a->inconclusive_limit : 0;
	s->pass_inconclusive = a->on_inconclusive && strcmp(a->on_inconclusive, "pass") == 0;
	log_level = a->std.quiet ? -1 : a->std.verbose;
	if (a->token_env) {
		const char *t = getenv(a->token_env);
		if (!t || !*t)
			die(EXIT_DATAERR, "--token-env: environment variable %s is not set", a->token_env);
		redact_register(t);
		s->bearer = estrdup(t);
	}
}

/* --bake: deploy.bake's settings wherever no option gave one. */
static void load_bake(struct settings *s, struct config *c, const struct args *a)
{
	static const char *const actions[] = {"fail", "pass", NULL};
	int64_t v = 0;
	int pass = 0;
	if (!a->watch_ms && config_duration_ms(c, "deploy.bake.duration", 0, &v))
		s->watch_ms = v;
	if (!a->interval_ms && config_duration_ms(c, "deploy.bake.interval", 60000, &v))
		s->interval_ms = v;
	if (a->failure_limit < 0 && config_int(c, "deploy.bake.failure_limit", 1, &v))
		s->failure_limit = (long)v;
	if (a->inconclusive_limit < 0 && config_int(c, "deploy.bake.inconclusive_limit", 0, &v))
		s->inconclusive_limit = (long)v;
	if (!a->on_inconclusive && config_enum(c, "deploy.bake.on_inconclusive", actions, 0, &pass))
		s->pass_inconclusive = pass == 1;
	if (!s->watch_ms)
		config_error(c, "deploy.bake.duration", "0s: no bake to run (set a duration, or give --watch)");
}

/* The URL, checked once all of it is known. */
static void check_url(const struct settings *s, struct config *c)
{
	char err[256];
	if (!s->url) {
		if (c)
			config_error(c, "analysis.prometheus.url", "no Prometheus URL: set it or give --prometheus");
		else
			opt_exit(usage_fail("no Prometheus URL: give --prometheus URL (or -c with analysis.prometheus.url)"));
		return;
	}
	if (http_url_check(s->url, err, sizeof err) < 0) {
		if (c)
			config_error(c, "analysis.prometheus.url", "%s", err);
		else
			opt_exit(usage_fail("invalid --prometheus: %s", err));
	}
}

void settings_load(struct settings *s, struct config *c, const struct args *a)
{
	load_options(s, a);
	if (c)
		load_prometheus(s, c);
	if (c && a->bake)
		load_bake(s, c, a);
	if (!a->token_env && s->bearer && !*s->bearer) {
		free(s->bearer);
		s->bearer = NULL;
	}
	if (c && !a->query && !config_at(c, "analysis")) {
		config_error(c, "analysis", "required, but missing (the metrics to judge are analysis.metrics)");
		return;
	}
	check_url(s, a->prometheus ? NULL : c);
	if (a->query)
		adhoc_metric(s, a);
	else if (c)
		load_metrics(s, c);
}

void settings_free(struct settings *s)
{
	free(s->url);
	free(s->bearer);
	free(s->ca_file);
	free(s->service);
	free(s->environment);
	free(s->release);
	free(s->previous_release);
	for (size_t i = 0; i < s->n_metrics; i++) {
		struct metric *m = &s->metrics[i];
		free(m->name);
		free(m->query);
		free(m->resolved);
		free(m->resolved_previous);
	}
	free(s->metrics);
	memset(s, 0, sizeof *s);
}
