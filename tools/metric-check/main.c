/* metric-check — judge a release on its metrics: PromQL queries against
 * Prometheus's HTTP API, each value judged against monitoring-plugins
 * ranges, with no-data handling, a comparison with the previous release,
 * and a bake mode of rounds. */
#include "metric-check.h"
#include "shipshape/http.h"
#include "shipshape/rest.h"
#include "shipshape/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_SCHEMA = OPT_TOOL_BASE, OPT_STRICT, OPT_PROMETHEUS, OPT_TOKEN_ENV, OPT_CA_FILE, OPT_SERVICE,
	OPT_ENVIRONMENT, OPT_RELEASE, OPT_PREVIOUS, OPT_QUERY, OPT_NAME, OPT_WARNING, OPT_CRITICAL,
	OPT_NO_DATA, OPT_PER_SERIES, OPT_RANGE, OPT_STEP, OPT_WINDOW, OPT_WATCH, OPT_INTERVAL,
	OPT_FAILURE_LIMIT, OPT_INCONCLUSIVE_LIMIT, OPT_BAKE, OPT_ON_INCONCLUSIVE
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: metric-check [-c FILE] [--schema FILE] [--strict] [--prometheus URL]\n"
		"                    [--token-env NAME] [--ca-file FILE] [--service NAME]\n"
		"                    [--environment NAME] [--release NAME] [--previous-release NAME]\n"
		"                    [--query PROMQL [--name NAME] [--warning RANGE] [--critical RANGE]\n"
		"                    [--no-data ACTION] [--per-series] [--window DURATION]\n"
		"                    [--range DURATION] [--step DURATION]]\n"
		"                    [--watch DURATION | --bake] [--interval DURATION]\n"
		"                    [--failure-limit N] [--inconclusive-limit N] [--on-inconclusive fail|pass]\n"
		"                    [-t DURATION] [--format json|text|nagios] [-q] [-v]\n"
		"       metric-check -h | -V\n"
		"\n"
		"Queries Prometheus and judges each metric's value against its ranges. The\n"
		"metrics are the config's analysis.metrics (-c FILE, or a JSON config document\n"
		"on stdin), or the one --query. A bearer token comes from the config or\n"
		"--token-env, never the command line.\n"
		"\n"
		"  -c, --config FILE         the config (YAML, or a JSON config document)\n"
		"      --schema FILE         the config schema (default: config/schema.yaml beside metric-check)\n"
		"      --strict              unknown config keys are errors, not warnings\n"
		"      --prometheus URL      Prometheus's base URL (over analysis.prometheus.url)\n"
		"      --token-env NAME      the bearer token is in environment variable NAME\n"
		"      --ca-file FILE        trust these CAs for an https URL\n"
		"      --service NAME        {{service}} (default: the config's service.name)\n"
		"      --environment NAME    {{environment}} (default: the config's environment)\n"
		"      --release NAME        {{release}}: the release judged\n"
		"      --previous-release NAME\n"
		"                            {{previous_release}}: the release compared with\n"
		"      --query PROMQL        judge this one query instead of the config's metrics\n"
		"      --name NAME           its name in the report (default: query)\n"
		"      --warning RANGE       its warning range (10, 10:, ~:10, 10:20, @10:20)\n"
		"      --critical RANGE      its critical range\n"
		"      --no-data ACTION      ok, warning, critical, unknown, inconclusive (default)\n"
		"      --per-series          judge each series, the worst wins\n"
		"      --window DURATION     {{window}} (default 5m)\n"
		"      --range DURATION      a range query over the last DURATION, every point judged\n"
		"      --step DURATION       the range query's step (default 15s)\n"
		"      --watch DURATION      bake mode: rounds for DURATION, then a verdict\n"
		"      --bake                bake mode as the config's deploy.bake says (the\n"
		"                            options below and --watch override it)\n"
		"      --interval DURATION   between rounds (default 1m)\n"
		"      --failure-limit N     critical rounds that fail the bake and stop it (default 1)\n"
		"      --inconclusive-limit N\n"
		"                            unknown rounds tolerated (default 0)\n"
		"      --on-inconclusive fail|pass\n"
		"                            past that limit: fail (unknown, the default) or pass\n"
		"                            with a warning\n"
		"  -t, --timeout DURATION    bound one run, or one round (default 10s)\n"
		"      --format FMT          json (default when piped), text, nagios\n"
		"  -q, --quiet               no warnings\n"
		"  -v, --verbose             more detail on stderr (-vv: the HTTP exchange)\n"
		"  -h, --help                this help\n"
		"  -V, --version             the version\n"
		"\n"
		"Exit: 0 ok, 1 warning, 2 critical, 3 unknown or inconclusive, 64 usage,\n"
		"65 invalid config.\n");
}

static const struct option longopts[] = {
	STD_LONG_OPTS,
	STD_TIMEOUT_OPT,
	{"schema", required_argument, NULL, OPT_SCHEMA},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"prometheus", required_argument, NULL, OPT_PROMETHEUS},
	{"token-env", required_argument, NULL, OPT_TOKEN_ENV},
	{"ca-file", required_argument, NULL, OPT_CA_FILE},
	{"service", required_argument, NULL, OPT_SERVICE},
	{"environment", required_argument, NULL, OPT_ENVIRONMENT},
	{"release", required_argument, NULL, OPT_RELEASE},
	{"previous-release", required_argument, NULL, OPT_PREVIOUS},
	{"query", required_argument, NULL, OPT_QUERY},
	{"name", required_argument, NULL, OPT_NAME},
	{"warning", required_argument, NULL, OPT_WARNING},
	{"critical", required_argument, NULL, OPT_CRITICAL},
	{"no-data", required_argument, NULL, OPT_NO_DATA},
	{"per-series", no_argument, NULL, OPT_PER_SERIES},
	{"range", required_argument, NULL, OPT_RANGE},
	{"step", required_argument, NULL, OPT_STEP},
	{"window", required_argument, NULL, OPT_WINDOW},
	{"watch", required_argument, NULL, OPT_WATCH},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"failure-limit", required_argument, NULL, OPT_FAILURE_LIMIT},
	{"inconclusive-limit", required_argument, NULL, OPT_INCONCLUSIVE_LIMIT},
	{"bake", no_argument, NULL, OPT_BAKE},
	{"on-inconclusive", required_argument, NULL, OPT_ON_INCONCLUSIVE},
	{NULL, 0, NULL, 0},
};

/* The options that only mean something with --query or with --watch. */
static void check_combinations(const struct args *a)
{
	if (!a->query && (a->name || a->warning || a->critical || a->no_data || a->per_series || a->range_ms ||
			  a->step_ms || a->window_ms))
		opt_exit(usage_fail("--name, --warning, --critical, --no-data, --per-series, --window, --range and "
				    "--step describe a --query"));
	bool bake_mode = a->watch_ms || a->bake;
	if (!bake_mode && (a->interval_ms || a->failure_limit >= 0 || a->inconclusive_limit >= 0 || a->on_inconclusive))
		opt_exit(usage_fail("--interval, --failure-limit, --inconclusive-limit and --on-inconclusive belong "
				    "to --watch or --bake"));
	if (bake_mode && a->std.format == FORMAT_NAGIOS)
		opt_exit(usage_fail("bake mode prints JSON Lines or text, not nagios"));
	if (a->bake && !a->std.config_path && a->query)
		opt_exit(usage_fail("--bake reads deploy.bake from the config: give -c FILE"));
	if (a->on_inconclusive && strcmp(a->on_inconclusive, "fail") != 0 && strcmp(a->on_inconclusive, "pass") != 0)
		opt_exit(usage_fail("invalid --on-inconclusive \"%s\" (expected fail or pass)", a->on_inconclusive));
	if (a->step_ms && !a->range_ms)
		opt_exit(usage_fail("--step belongs to --range"));
	if (a->token_env && !*a->token_env)
		opt_exit(usage_fail("--token-env needs the name of an environment variable"));
}

static int64_t duration_arg(const char *name, int64_t min_ms)
{
	int64_t ms = 0;
	opt_exit(opt_duration(name, optarg, min_ms, &ms));
	return ms;
}

static void take_option(struct args *a, int c)
{
	long n = 0;
	switch (c) {
	case OPT_SCHEMA: a->schema = optarg; break;
	case OPT_STRICT: a->strict = true; break;
	case OPT_PROMETHEUS: a->prometheus = optarg; break;
	case OPT_TOKEN_ENV: a->token_env = optarg; break;
	case OPT_CA_FILE: a->ca_file = optarg; break;
	case OPT_SERVICE: a->service = optarg; break;
	case OPT_ENVIRONMENT: a->environment = optarg; break;
	case OPT_RELEASE: a->release = optarg; break;
	case OPT_PREVIOUS: a->previous_release = optarg; break;
	case OPT_QUERY: a->query = optarg; break;
	case OPT_NAME: a->name = optarg; break;
	case OPT_WARNING: a->warning = optarg; break;
	case OPT_CRITICAL: a->critical = optarg; break;
	case OPT_NO_DATA: a->no_data = optarg; break;
	case OPT_PER_SERIES: a->per_series = true; break;
	case OPT_RANGE: a->range_ms = duration_arg("--range", 1000); break;
	case OPT_STEP: a->step_ms = duration_arg("--step", 1); break;
	case OPT_WINDOW: a->window_ms = duration_arg("--window", 1000); break;
	case OPT_WATCH: a->watch_ms = duration_arg("--watch", 1); break;
	case OPT_INTERVAL: a->interval_ms = duration_arg("--interval", 100); break;
	case OPT_FAILURE_LIMIT:
		opt_exit(opt_count("--failure-limit", optarg, 1, 1000000, &n));
		a->failure_limit = n;
		break;
	case OPT_INCONCLUSIVE_LIMIT:
		opt_exit(opt_count("--inconclusive-limit", optarg, 0, 1000000, &n));
		a->inconclusive_limit = n;
		break;
	case OPT_BAKE: a->bake = true; break;
	case OPT_ON_INCONCLUSIVE: a->on_inconclusive = optarg; break;
	}
}

static void parse_args(int argc, char **argv, struct args *a)
{
	int c;
	a->std.usage = usage;
	a->std.formats = "json,text,nagios";
	a->failure_limit = a->inconclusive_limit = -1;
	while ((c = std_getopt(&a->std, argc, argv, "t:", longopts)) != -1) {
		if (c == OPT_EXIT)
			exit(a->std.exit_status);
		take_option(a, c);
	}
	if (optind < argc)
		opt_exit(usage_fail("unexpected argument \"%s\" (the query goes in --query; a token never goes on "
				    "the command line: use --token-env NAME or the config)", argv[optind]));
	check_combinations(a);
}

/* The config, when there is one to read: -c, or stdin without --query.
 * Returns 0, or the exit status for main(). */
static int load(const struct args *a, struct settings *s)
{
	static const char *const sections[] = {"analysis", NULL};
	bool adhoc = a->query != NULL;
	if (adhoc && !a->std.config_path) {
		settings_load(s, NULL, a);
		return 0;
	}
	struct config_request req = {.path = a->std.config_path, .schema_path = a->schema,
				     .sections = sections, .partial = adhoc, .strict = a->strict};
	struct config cfg = {0};
	int status = config_open(&req, &cfg);
	if (status == 0) {
		settings_load(s, &cfg, a);
		if (config_failed(&cfg))
			status = EXIT_DATAERR;
	}
	config_close(&cfg);
	return status ? config_exit_status(&cfg, status) : 0;
}

static int check_once(const struct settings *s)
{
	struct rest_client *c = query_client_new(s);
	struct report *r = report_new("metric-check");
	bool interrupted = false;
	run_round(s, c, r, now_monotonic_ms() + s->timeout_ms, -1, &interrupted);
	rest_client_free(c);
	int status = (int)report_status(r);
	if (report_print(r, s->format, stdout) < 0)
		status = EXIT_UNKNOWN;
	report_free(r);
	return status;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	struct settings s = {0};
	tool_start(argv[0]);
	parse_args(argc, argv, &a);
	int status = load(&a, &s);
	if (status != 0) {
		settings_free(&s);
		return finish_stdout(status);
	}
	if (http_global_init() < 0)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	status = s.watch_ms ? watch_run(&s) : check_once(&s);
	settings_free(&s);
	return finish_stdout(status);
}
