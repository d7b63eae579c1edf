/* metric-check.h — metric-check's settings, its queries and its bake mode. */
#ifndef METRIC_CHECK_H
#define METRIC_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "prom.h"
#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/opts.h"
#include "shipshape/range.h"
#include "shipshape/report.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_WINDOW_MS 300000 /* {{window}}: 5m */
#define DEFAULT_STEP_MS 15000
#define MAX_METRICS 256

/* What a query that returned no data (or only NaN) counts as. */
enum no_data { NO_DATA_OK, NO_DATA_WARNING, NO_DATA_CRITICAL, NO_DATA_UNKNOWN, NO_DATA_INCONCLUSIVE };
extern const char *const no_data_names[]; /* "ok", ..., "inconclusive", NULL */

struct metric {
	char *name;
	char *query;              /* as written */
	char *resolved;           /* placeholders filled in: what is sent */
	char *resolved_previous;  /* with compare: the query for the previous release */
	struct thresholds limits;
	enum no_data no_data;
	bool per_series;
	int64_t window_ms;        /* {{window}} */
	int64_t range_ms;         /* 0: an instant query; else query_range over the last range_ms */
	int64_t step_ms;
	bool compare;             /* compare: previous_release */
	bool not_compared;        /* compare, but no previous release was given */
	struct thresholds ratio;  /* this release's value / the previous release's */
};

/* What metric-check was asked to do: filled once by settings_load(), then
 * read-only. settings_free() frees every field it owns. */
struct settings {
	char *url;                /* Prometheus's base URL (user information: basic auth) */
	char *bearer;             /* a secret: from the config or --token-env only */
	char *ca_file;
	char *service, *environment, *release, *previous_release;
	struct metric *metrics;
	size_t n_metrics;
	int64_t timeout_ms;       /* -t: one run, or one round of --watch */
	enum output_format format;
	/* --watch, --bake */
	int64_t watch_ms, interval_ms;
	long failure_limit, inconclusive_limit;
	bool pass_inconclusive;   /* past the inconclusive limit: a warning, not unknown */
};

/* The options as given, before the config is read. */
struct args {
	struct std_opts std;
	const char *schema, *prometheus, *token_env, *ca_file;
	const char *service, *environment, *release, *previous_release;
	bool strict;
	/* an ad hoc metric */
	const char *query, *name, *warning, *critical, *no_data;
	bool per_series;
	int64_t window_ms, range_ms, step_ms;
	int64_t watch_ms, interval_ms;
	long failure_limit, inconclusive_limit;
	bool bake;                /* deploy.bake's settings, under the options */
	const char *on_inconclusive;
};

/* settings.c */
/* Reads the analysis section of the validated config c (NULL: none) and
 * the options into s. A problem in the config is reported to c
 * (config_failed()); one in the options ends the run (exit 64 or 65). */
void settings_load(struct settings *s, struct config *c, const struct args *a);
void settings_free(struct settings *s);

/* run.c */
struct rest_client;
/* The REST client a run's queries go through (exits 3 when libcurl cannot start). */
struct rest_client *query_client_new(const struct settings *s);
/* One round: every metric queried at once, each judged into a check of r.
 * Ends by deadline_ms (monotonic), or early when signal_fd (-1: none)
 * becomes readable; *interrupted then says so. */
void run_round(const struct settings *s, struct rest_client *c, struct report *r, int64_t deadline_ms,
	       int signal_fd, bool *interrupted);

/* judge.c */
struct query_outcome {
	const char *query;        /* borrowed */
	char *error;              /* why there is no answer (transport, HTTP, parse), or NULL */
	struct prom_answer answer;
	int64_t duration_ms;
};
/* The metric's check from its outcome (and, with compare, the previous
 * release's), added to r. */
void judge_metric(const struct settings *s, const struct metric *m, const struct query_outcome *cur,
		  const struct query_outcome *prev, struct report *r);

/* watch.c */
/* Bake mode: rounds every interval for the duration, a report per round
 * and a verdict, as JSON Lines (or text). Returns the exit status. */
int watch_run(const struct settings *s);

#endif
