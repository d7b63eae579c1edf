/* svc-probe — HTTP(S) and TCP probes of the app and its external services,
 * security and performance validation, many targets at once. */
#include "redis_url.h"
#include "svc-probe.h"
#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/json.h"
#include "shipshape/opts.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	OPT_PARALLEL = OPT_TOOL_BASE, OPT_RETRIES, OPT_RETRY_BACKOFF, OPT_STATUS, OPT_CONTAINS,
	OPT_REGEX, OPT_NOT_REGEX, OPT_JSON, OPT_HEADER_MATCH, OPT_HEADER_ABSENT, OPT_MAX_BODY,
	OPT_REDIRECTS, OPT_CONNECT_TIMEOUT, OPT_LAT_WARN, OPT_LAT_CRIT, OPT_INSECURE, OPT_CACERT,
	OPT_TLS_MIN, OPT_SNI, OPT_CERT_WARN, OPT_CERT_CRIT, OPT_RESOLVE, OPT_NAME, OPT_TCP, OPT_TLS,
	OPT_SEND, OPT_EXPECT, OPT_SECURITY, OPT_REQUESTS, OPT_CONCURRENCY, OPT_PERF_WARN,
	OPT_PERF_CRIT, OPT_BASELINE, OPT_REG_WARN, OPT_REG_CRIT, OPT_AUTH_PATH, OPT_ONLY, OPT_CHECK, OPT_PATH,
	OPT_SCHEMA, OPT_STRICT,
	OPT_REQUEST_TIMEOUT, OPT_URL_ENV,
};

/* The shared options but --state-dir: svc-probe keeps no state. */
static const struct option long_opts[] = {
	STD_LONG_OPTS,
	STD_TIMEOUT_OPT,
	{"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
	{"parallel", required_argument, NULL, OPT_PARALLEL},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"retry-backoff", required_argument, NULL, OPT_RETRY_BACKOFF},
	{"request", required_argument, NULL, 'X'},
	{"header", required_argument, NULL, 'H'},
	{"data", required_argument, NULL, 'd'},
	{"status", required_argument, NULL, OPT_STATUS},
	{"contains", required_argument, NULL, OPT_CONTAINS},
	{"regex", required_argument, NULL, OPT_REGEX},
	{"not-regex", required_argument, NULL, OPT_NOT_REGEX},
	{"json", required_argument, NULL, OPT_JSON},
	{"header-match", required_argument, NULL, OPT_HEADER_MATCH},
	{"header-absent", required_argument, NULL, OPT_HEADER_ABSENT},
	{"max-body", required_argument, NULL, OPT_MAX_BODY},
	{"redirects", required_argument, NULL, OPT_REDIRECTS},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"latency-warning", required_argument, NULL, OPT_LAT_WARN},
	{"latency-critical", required_argument, NULL, OPT_LAT_CRIT},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"tls-min", required_argument, NULL, OPT_TLS_MIN},
	{"sni", required_argument, NULL, OPT_SNI},
	{"cert-warning", required_argument, NULL, OPT_CERT_WARN},
	{"cert-critical", required_argument, NULL, OPT_CERT_CRIT},
	{"ipv4", no_argument, NULL, '4'},
	{"ipv6", no_argument, NULL, '6'},
	{"resolve", required_argument, NULL, OPT_RESOLVE},
	{"name", required_argument, NULL, OPT_NAME},
	{"tcp", required_argument, NULL, OPT_TCP},
	{"tls", no_argument, NULL, OPT_TLS},
	{"send", required_argument, NULL, OPT_SEND},
	{"expect", required_argument, NULL, OPT_EXPECT},
	{"security", required_argument, NULL, OPT_SECURITY},
	{"auth-path", required_argument, NULL, OPT_AUTH_PATH},
	{"requests", required_argument, NULL, OPT_REQUESTS},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"perf-warning", required_argument, NULL, OPT_PERF_WARN},
	{"perf-critical", required_argument, NULL, OPT_PERF_CRIT},
	{"baseline", required_argument, NULL, OPT_BASELINE},
	{"regression-warning", required_argument, NULL, OPT_REG_WARN},
	{"regression-critical", required_argument, NULL, OPT_REG_CRIT},
	{"schema", required_argument, NULL, OPT_SCHEMA},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"only", required_argument, NULL, OPT_ONLY},
	{"check", required_argument, NULL, OPT_CHECK},
	{"path", required_argument, NULL, OPT_PATH},
	{"url-env", required_argument, NULL, OPT_URL_ENV},
	{NULL, 0, NULL, 0},
};

/* --help: the synopsis, the man page's (tests/help-man.bats), then every
 * option. Text, not a format: nothing in it is substituted. */
static const char usage_text[] =
	"usage: svc-probe [-c FILE] [--schema FILE] [--strict] [-t DURATION]\n"
	"                 [--request-timeout DURATION]\n"
	"                 [--format json|text|nagios] [-q] [-v]\n"
	"                 [--parallel N] [--retries N] [--retry-backoff DURATION] [--only NAME,...]\n"
	"                 [--check NAME]... [--path PATH]\n"
	"                 [-X METHOD] [-H 'NAME: VALUE']... [-d BODY] [--status LIST]\n"
	"                 [--contains TEXT]... [--regex RE] [--not-regex RE] [--json EXPR]...\n"
	"                 [--header-match 'NAME: RE']... [--header-absent 'NAME[: RE]']...\n"
	"                 [--max-body SIZE] [--redirects N|fail] [--connect-timeout DURATION]\n"
	"                 [--latency-warning DURATION] [--latency-critical DURATION]\n"
	"                 [--insecure] [--cacert FILE] [--tls-min VERSION] [--sni NAME]\n"
	"                 [--cert-warning DAYS] [--cert-critical DAYS] [--ipv4 | --ipv6]\n"
	"                 [--resolve HOST:PORT:ADDRESS]... [--name NAME]\n"
	"                 [--tcp HOST:PORT [--tls] [--send TEXT] [--expect RE]...]...\n"
	"                 [--security LIST] [--auth-path PATH]...\n"
	"                 [--requests N [--concurrency C] [--perf-warning LIMITS] [--perf-critical LIMITS]]\n"
	"                 [--baseline REPORT [--regression-warning PCT] [--regression-critical PCT]]\n"
	"                 [--url-env VAR]... [URL...]\n"
	"       svc-probe -h | -V\n"
	"\n"
	"Probes the API and the services it depends on (HTTP(S), TCP and Redis),\n"
	"optionally validates its security and performance, and prints a report.\n"
	"Targets come from the config document (-c FILE or stdin) or from URL\n"
	"(http, https, redis, rediss) and --tcp arguments.\n"
	"\n"
	"  -c, --config FILE         the config (YAML, or a JSON config document)\n"
	"      --schema FILE         the config schema (default: config/schema.yaml beside\n"
	"                            svc-probe)\n"
	"      --strict              unknown config keys are errors, not warnings\n"
	"  -t, --timeout DUR         bound the whole run: what is not done then is unknown\n"
	"                            (exit 3; default: no bound)\n"
	"      --request-timeout DUR each request's and TCP probe's total timeout (10s)\n"
	"      --format FMT          json (default when piped), text, nagios\n"
	"  -q, --quiet               no warnings on stderr\n"
	"  -v, --verbose             trace requests and response heads on stderr\n"
	"  -h, --help                this help\n"
	"  -V, --version             the version\n"
	"      --parallel N          transfers and TCP probes at once (16)\n"
	"      --retries N           retry a critical or unknown probe up to N times\n"
	"      --retry-backoff DUR   the first wait before a retry, doubled after (200ms)\n"
	"      --only NAME,...       probe only the targets so named\n"
	"      --check NAME          report only the checks named NAME or NAME.* and run\n"
	"                            only what they need (repeatable)\n"
	"      --path PATH           probe the config's API and services at PATH instead\n"
	"                            of their health path\n"
	"      --name NAME           the one target's name (default host:port/path)\n"
	"      --url-env VAR         a URL argument read from environment variable VAR\n"
	"                            (for one with a password; repeatable)\n"
	"HTTP, for the URLs given:\n"
	"  -X, --request METHOD      the method (default GET; POST with a body)\n"
	"  -H, --header 'NAME: VALUE'  a request header (repeatable)\n"
	"  -d, --data BODY           the request body\n"
	"      --status LIST         expected codes: 200, 200-299, 2xx, 200,301-302 (2xx)\n"
	"      --contains TEXT       the body contains TEXT (repeatable)\n"
	"      --regex RE            the body matches RE (POSIX extended)\n"
	"      --not-regex RE        the body does not match RE\n"
	"      --json EXPR           a JSON-path assertion: .path [OP value] (repeatable)\n"
	"      --header-match 'NAME: RE'    a response header matches (repeatable)\n"
	"      --header-absent 'NAME[: RE]' a response header is absent (repeatable)\n"
	"      --max-body SIZE       a larger body is critical (1MiB)\n"
	"      --redirects N|fail    follow up to N redirects, or fail on any (default:\n"
	"                            the 3xx is judged, not followed)\n"
	"      --latency-warning DUR, --latency-critical DUR   total time thresholds\n"
	"HTTP and TCP connections, for config targets too:\n"
	"      --connect-timeout DUR connecting alone (5s)\n"
	"      --insecure            no TLS verification\n"
	"      --cacert FILE         trust this CA file\n"
	"      --tls-min VERSION     the lowest TLS version offered: 1.0 1.1 1.2 1.3\n"
	"      --sni NAME            present NAME (and Host) to the URL's host\n"
	"      --cert-warning DAYS, --cert-critical DAYS   leaf certificate days left\n"
	"  -4, --ipv4                IPv4 addresses only\n"
	"  -6, --ipv6                IPv6 addresses only\n"
	"      --resolve HOST:PORT:ADDRESS  pin HOST:PORT to ADDRESS (repeatable)\n"
	"TCP:\n"
	"      --tcp HOST:PORT       a TCP target (repeatable); the options below apply\n"
	"                            to the last one\n"
	"      --tls                 connect with TLS\n"
	"      --send TEXT           write TEXT (\\r \\n \\t \\\\ \\xHH decoded)\n"
	"      --expect RE           read until the reply matches RE\n"
	"Security and performance:\n"
	"      --security LIST       all, or of cors,trusted-host,rate-limit,headers,\n"
	"                            tls,auth\n"
	"      --auth-path PATH      refuses a request without credentials (repeatable)\n"
	"      --requests N          a load run: N requests per HTTP target\n"
	"      --concurrency C       requests at once in a load run (8)\n"
	"      --perf-warning LIMITS, --perf-critical LIMITS  p95=500ms,errors=1%,rps=100\n"
	"      --baseline REPORT     compare the load run with a saved report\n"
	"      --regression-warning PCT, --regression-critical PCT  worst change (20, 50)\n"
	"\n"
	"Exit: 0 ok, 1 warning, 2 critical, 3 unknown, 64 usage, 65 invalid input.\n";

static void usage(FILE *out)
{
	fputs(usage_text, out);
}

struct settings {
	struct std_opts std;
	int parallel;
	struct http_probe flags;      /* what the probe flags set, applied to command-line URLs */
	bool flags_set;               /* a probe flag was given */
	const char *name;
	char **urls;
	size_t n_urls;
	char **url_envs;              /* --url-env */
	size_t n_url_envs;
	size_t n_redis;               /* redis URLs given, in tcp[] */
	struct tcp_probe **tcp;       /* from --tcp */
	size_t n_tcp;
	unsigned security;
	char **auth_paths;
	size_t n_auth_paths;
	struct perf_spec perf;
	bool perf_set;
	const char *baseline;
	const char *schema;           /* --schema */
	bool strict;                  /* --strict */
	double reg_warn, reg_crit;
	char *only;
	char **checks;                /* --check */
	size_t n_checks;
	const char *path;             /* --path */
};

struct target {
	bool is_tcp;
	struct http_probe http;
	struct tcp_probe tcp;
	struct perf_spec perf;
	bool has_perf;
	bool custom;                  /* from probes[]: a URL of its own */
	size_t dup_nth;               /* a URL argument's #N among those of its name */
	struct http_result *result;
	struct tcp_result tcp_result;
};

struct targets {
	struct target *v;
	size_t n;
};

static struct target *target_new(struct targets *ts)
{
	ts->v = erealloc(ts->v, (ts->n + 1) * sizeof *ts->v);
	struct target *t = &ts->v[ts->n++];
	memset(t, 0, sizeof *t);
	http_probe_init(&t->http);
	return t;
}

static long parse_long(const char *arg, const char *what, long lo, long hi)
{
	long v;
	opt_exit(opt_count(what, arg, lo, hi, &v));
	return v;
}

static int64_t parse_duration(const char *arg, const char *what)
{
	int64_t ms;
	opt_exit(opt_duration(what, arg, 0, &ms));
	return ms;
}

static void check_flag(int rc, const char *opt, const char *err)
{
	if (rc < 0)
		die(EXIT_USAGE, "%s: %s", opt, err);
}

static struct tcp_probe *last_tcp(struct settings *s, const char *opt)
{
	if (!s->n_tcp)
		die(EXIT_USAGE, "%s needs a --tcp target before it", opt);
	return s->tcp[s->n_tcp - 1];
}

static void append_string(char ***v, size_t *n, char *str)
{
	*v = erealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = str;
}

/* -X: letters only, upper-cased. */
static void set_method(struct http_probe *f, const char *arg)
{
	free(f->method);
	f->method = estrdup(arg);
	for (char *m = f->method; *m; m++) {
		if (*m < 'A' || (*m > 'Z' && *m < 'a') || *m > 'z')
			die(EXIT_USAGE, "invalid method \"%s\"", arg);
		*m = (char)(*m & ~0x20);
	}
}

static void set_redirects(struct http_probe *f, const char *arg)
{
	if (strcmp(arg, "fail") == 0) {
		f->redirects = HTTP_REDIRECT_FAIL;
		return;
	}
	f->max_redirects = parse_long(arg, "--redirects", 0, 50);
	f->redirects = f->max_redirects ? HTTP_REDIRECT_FOLLOW : HTTP_REDIRECT_NONE;
}

/* The options that shape the flag probe (applied to the URL arguments,
 * some to config targets too). False: c is not one of them. */
static bool take_probe_option(struct http_probe *f, int c, const char *arg)
{
	char err[256];
	switch (c) {
	case OPT_RETRIES: f->retries = (int)parse_long(arg, "--retries", 0, 10); break;
	case OPT_REQUEST_TIMEOUT: f->timeout_ms = parse_duration(arg, "--request-timeout"); break;
	case OPT_RETRY_BACKOFF: f->retry_backoff_ms = parse_duration(arg, "--retry-backoff"); break;
	case 'X': set_method(f, arg); break;
	case 'H': check_flag(http_probe_add_header(f, arg, err, sizeof err), "-H", err); break;
	case 'd':
		free(f->body);
		f->body = estrdup(arg);
		f->body_len = strlen(arg);
		break;
	case OPT_STATUS:
		free(f->status);
		f->status = NULL;
		f->n_status = 0;
		check_flag(http_probe_add_status(f, arg, err, sizeof err), "--status", err);
		break;
	case OPT_CONTAINS: append_string(&f->body_contains, &f->n_body_contains, estrdup(arg)); break;
	case OPT_REGEX: check_flag(http_probe_set_body_regex(f, arg, false, err, sizeof err), "--regex", err); break;
	case OPT_NOT_REGEX:
		check_flag(http_probe_set_body_regex(f, arg, true, err, sizeof err), "--not-regex", err);
		break;
	case OPT_JSON: check_flag(http_probe_add_json_assert(f, arg, err, sizeof err), "--json", err); break;
	case OPT_HEADER_MATCH:
		check_flag(http_probe_add_header_assert(f, arg, false, err, sizeof err), "--header-match", err);
		break;
	case OPT_HEADER_ABSENT:
		check_flag(http_probe_add_header_assert(f, arg, true, err, sizeof err), "--header-absent", err);
		break;
	case OPT_MAX_BODY: opt_exit(opt_size("--max-body", arg, 1, &f->max_body)); break;
	case OPT_REDIRECTS: set_redirects(f, arg); break;
	case OPT_CONNECT_TIMEOUT: f->connect_timeout_ms = parse_duration(arg, "--connect-timeout"); break;
	case OPT_LAT_WARN: f->latency_warn_ms = parse_duration(arg, "--latency-warning"); break;
	case OPT_LAT_CRIT: f->latency_crit_ms = parse_duration(arg, "--latency-critical"); break;
	case OPT_INSECURE: f->tls_verify = false; break;
	case OPT_CACERT: free(f->ca_file); f->ca_file = estrdup(arg); break;
	case OPT_TLS_MIN:
		if (http_tls_parse(arg, &f->tls_min) < 0)
			die(EXIT_USAGE, "invalid --tls-min \"%s\" (expected 1.0, 1.1, 1.2 or 1.3)", arg);
		break;
	case OPT_SNI: free(f->sni); f->sni = estrdup(arg); break;
	case OPT_CERT_WARN: f->cert_warn_days = (int)parse_long(arg, "--cert-warning", 1, 36500); break;
	case OPT_CERT_CRIT: f->cert_crit_days = (int)parse_long(arg, "--cert-critical", 1, 36500); break;
	case '4': f->ip = HTTP_IP_V4; break;
	case '6': f->ip = HTTP_IP_V6; break;
	case OPT_RESOLVE: check_flag(http_probe_add_resolve(f, arg, err, sizeof err), "--resolve", err); break;
	default: return false;
	}
	return true;
}

/* --tcp and the options that apply to the last --tcp target. */
static bool take_tcp_option(struct settings *s, int c, const char *arg)
{
	char err[256];
	switch (c) {
	case OPT_TCP: {
		struct tcp_probe *t = ecalloc(1, sizeof *t);
		tcp_probe_init(t);
		check_flag(tcp_probe_set_address(t, arg, err, sizeof err), "--tcp", err);
		s->tcp = erealloc(s->tcp, (s->n_tcp + 1) * sizeof *s->tcp);
		s->tcp[s->n_tcp++] = t;
		break;
	}
	case OPT_TLS: last_tcp(s, "--tls")->tls = true; break;
	case OPT_SEND:
		check_flag(tcp_probe_add_step(last_tcp(s, "--send"), arg, NULL, err, sizeof err), "--send", err);
		break;
	case OPT_EXPECT:
		check_flag(tcp_probe_add_expect(last_tcp(s, "--expect"), arg, err, sizeof err), "--expect", err);
		break;
	default: return false;
	}
	return true;
}

static void set_check(struct settings *s, const char *arg)
{
	if (!*arg || *arg == '.' || arg[strlen(arg) - 1] == '.')
		die(EXIT_USAGE, "invalid --check \"%s\" (expected a check name such as security or http.api.status)",
		    arg);
	append_string(&s->checks, &s->n_checks, (char *)arg);
}

/* What to run and how to report it: the rest of the tool's options. */
static void take_run_option(struct settings *s, int c, char *arg)
{
	char err[256];
	switch (c) {
	case OPT_PARALLEL: s->parallel = (int)parse_long(arg, "--parallel", 1, 1024); break;
	case OPT_NAME: s->name = arg; break;
	case OPT_SECURITY:
		if (security_parse_list(arg, &s->security) < 0)
			die(EXIT_USAGE, "invalid --security \"%s\" (expected all or a list of cors, trusted-host, "
			    "rate-limit, headers, tls, auth)", arg);
		break;
	case OPT_AUTH_PATH: append_string(&s->auth_paths, &s->n_auth_paths, arg); break;
	case OPT_REQUESTS:
		s->perf.requests = parse_long(arg, "--requests", 1, 10000000);
		s->perf_set = true;
		break;
	case OPT_CONCURRENCY: s->perf.concurrency = (int)parse_long(arg, "--concurrency", 1, 1024); break;
	case OPT_PERF_WARN:
		check_flag(perf_limits_parse(&s->perf.warn, arg, err, sizeof err), "--perf-warning", err);
		break;
	case OPT_PERF_CRIT:
		check_flag(perf_limits_parse(&s->perf.crit, arg, err, sizeof err), "--perf-critical", err);
		break;
	case OPT_BASELINE: s->baseline = arg; break;
	case OPT_SCHEMA: s->schema = arg; break;
	case OPT_STRICT: s->strict = true; break;
	case OPT_REG_WARN: s->reg_warn = (double)parse_long(arg, "--regression-warning", 1, 10000); break;
	case OPT_REG_CRIT: s->reg_crit = (double)parse_long(arg, "--regression-critical", 1, 10000); break;
	case OPT_ONLY:
		if (!*arg || arg[strspn(arg, ",")] == '\0')
			die(EXIT_USAGE, "--only needs target names (NAME,...)");
		s->only = arg;
		break;
	case OPT_CHECK: set_check(s, arg); break;
	case OPT_URL_ENV:
		if (!*arg)
			die(EXIT_USAGE, "--url-env needs an environment variable name");
		append_string(&s->url_envs, &s->n_url_envs, arg);
		break;
	case OPT_PATH:
		if (arg[0] != '/' || strpbrk(arg, " \t\r\n"))
			die(EXIT_USAGE, "invalid --path \"%s\" (expected a path such as /storage/v1/bucket)", arg);
		s->path = arg;
		break;
	}
}

/* A redis:// or rediss:// URL argument: a Redis probe among the --tcp
 * targets. Its password may come from the environment only: argv is
 * visible to every user of the machine. */
static void take_redis_url(struct settings *s, const char *url, const char *env)
{
	char err[256], msg[600];
	struct tcp_probe *t = ecalloc(1, sizeof *t);
	tcp_probe_init(t);
	bool bad = redis_probe_from_url(t, url, err, sizeof err) < 0;
	if (!bad && t->redis_auth && !env) {
		bad = true;
		snprintf(err, sizeof err, "a password does not belong on the command line (every user sees it): "
			 "give the URL with --url-env VAR or in the config's cache.redis_url");
	}
	if (bad) {
		/* freed before exiting: nothing of the probe outlives the message */
		char *shown = redact_url(url);
		snprintf(msg, sizeof msg, "%s%s\"%s\": %s", env ? env : "", env ? ": " : "", shown, err);
		free(shown);
		tcp_probe_free(t);
		free(t);
		die(env ? EXIT_DATAERR : EXIT_USAGE, "%s", msg);
	}
	s->tcp = erealloc(s->tcp, (s->n_tcp + 1) * sizeof *s->tcp);
	s->tcp[s->n_tcp++] = t;
	s->n_redis++;
}

/* One URL argument (env: the --url-env variable it came from): an http(s)
 * or a redis URL, never repeated with its password in a message. */
static void take_url(struct settings *s, char *url, const char *env)
{
	char err[256];
	if (redis_url_is(url)) {
		take_redis_url(s, url, env);
		return;
	}
	if (http_url_check(url, err, sizeof err) < 0) {
		char *shown = redact_url(url), msg[600];
		snprintf(msg, sizeof msg, "%s%s\"%s\": %s", env ? env : "", env ? ": " : "", shown, err);
		free(shown);
		die(env ? EXIT_DATAERR : EXIT_USAGE, "%s", msg);
	}
	append_string(&s->urls, &s->n_urls, url);
}

static void take_urls(struct settings *s, int argc, char **argv)
{
	for (size_t i = 0; i < s->n_url_envs; i++) {
		char *url = getenv(s->url_envs[i]);
		if (!url || !*url)
			die(EXIT_DATAERR, "--url-env: environment variable %s is not set", s->url_envs[i]);
		redact_register_url_passwords(url);
		take_url(s, url, s->url_envs[i]);
	}
	for (int i = optind; i < argc; i++)
		take_url(s, argv[i], NULL);
}

/* The connection settings of the flags, for a TCP or Redis target. */
static void tcp_from_flags(struct tcp_probe *t, const struct http_probe *f)
{
	if (f->timeout_ms)
		t->timeout_ms = f->timeout_ms;
	t->tls_verify = f->tls_verify;
	if (f->ca_file) {
		free(t->ca_file);
		t->ca_file = estrdup(f->ca_file);
	}
	t->ip = f->ip;
}

/* --latency-warning and --latency-critical, given, replace a Redis
 * target's thresholds (the config's, or the defaults). */
static void redis_latency_from_flags(struct tcp_probe *t, const struct http_probe *f)
{
	if (f->latency_warn_ms)
		t->latency_warn_ms = f->latency_warn_ms;
	if (f->latency_crit_ms)
		t->latency_crit_ms = f->latency_crit_ms;
}

/* Options that contradict each other, and the flags every --tcp target
 * takes from the command line. */
static void check_settings(struct settings *s)
{
	const struct http_probe *f = &s->flags;
	if (s->perf_set && !s->perf.concurrency)
		s->perf.concurrency = 8;
	if (s->name && s->n_urls + s->n_redis > 1)
		die(EXIT_USAGE, "--name names one URL; %zu were given", s->n_urls + s->n_redis);
	if (s->path && (s->n_urls || s->n_tcp))
		die(EXIT_USAGE, "--path probes the config's API and services; a URL argument carries its own path");
	if (f->cert_warn_days && f->cert_crit_days && f->cert_warn_days < f->cert_crit_days)
		die(EXIT_USAGE, "--cert-warning %d is fewer days than --cert-critical %d", f->cert_warn_days,
		    f->cert_crit_days);
	if (f->latency_warn_ms && f->latency_crit_ms && f->latency_warn_ms > f->latency_crit_ms)
		die(EXIT_USAGE, "--latency-warning is longer than --latency-critical");
	for (size_t i = 0; i < s->n_tcp; i++) {
		tcp_from_flags(s->tcp[i], f);
		redis_latency_from_flags(s->tcp[i], f);
		if (s->tcp[i]->redis && s->name)
			s->tcp[i]->name = estrdup(s->name);
	}
}

static void parse_args(struct settings *s, int argc, char **argv)
{
	int c;
	http_probe_init(&s->flags);
	s->reg_warn = 20;
	s->reg_crit = 50;
	perf_limits_init(&s->perf.warn);
	perf_limits_init(&s->perf.crit);
	s->std.usage = usage;
	s->std.formats = "json,text,nagios";
	while ((c = std_getopt(&s->std, argc, argv, "t:X:H:d:46", long_opts)) != -1) {
		if (c == OPT_EXIT)
			exit(s->std.exit_status);
		if (take_probe_option(&s->flags, c, optarg))
			s->flags_set = true;
		else if (!take_tcp_option(s, c, optarg))
			take_run_option(s, c, optarg);
	}
	take_urls(s, argc, argv);
	check_settings(s);
}

/* ---- targets from the command line ---- */

/* An ad hoc target's name: what makes the URL recognisable, host[:port] and
 * the path ("127.0.0.1:8080/health"; the root is the origin alone), never
 * its userinfo, query or fragment, and masked like every message. */
static char *target_name(const char *url)
{
	char *shown = redact_url(url);
	char *host = url_host(shown), *path = url_path(shown, false);
	bool root = !path || strcmp(path, "/") == 0;
	char *joined = easprintf("%s%s", *host ? host : "url", root ? "" : path);
	char *name = redact_string(joined);
	free(joined);
	free(path);
	free(host);
	free(shown);
	return name;
}

/* A copy of the flag probe for one URL. */
static void probe_from_flags(struct http_probe *dst, const struct http_probe *f, const char *url,
			     const char *name)
{
	http_probe_init(dst);
	http_probe_copy(dst, f, HTTP_PROBE_ALL);
	dst->url = estrdup(url);
	dst->name = name ? estrdup(name) : target_name(url);
	dst->follow_hint = "--redirects N";
}

/* ---- targets from the config document ---- */

/* Settings every config target starts from: the tool's flags that make sense
 * everywhere (timeouts, TLS trust, address family, resolve, retries). */
static void config_defaults(struct http_probe *p, const struct settings *s, int64_t timeout_ms)
{
	http_probe_copy(p, &s->flags, HTTP_PROBE_CONNECTION | HTTP_PROBE_RETRY | HTTP_PROBE_THRESHOLDS);
	if (!p->timeout_ms)
		p->timeout_ms = timeout_ms;
}

/* How messages name the config: its -c path, or stdin (set by main()). */
static const char *config_name = "stdin";

/* A problem only svc-probe sees, in the loader's shape for a document
 * read as JSON: "FILE: key.path: message". */
static void bad_config(const char *where, const char *err)
{
	die(EXIT_DATAERR, "%s: %s: %s", config_name, where, err);
}

/* Config look-ups that refuse a value of the wrong type instead of taking
 * the default: prefix.key names the place in the message. */
static const cJSON *probe_cfg_get(const cJSON *obj, const char *key)
{
	const cJSON *j = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
	return j && !cJSON_IsNull(j) ? j : NULL;
}

static void bad_key(const char *prefix, const char *key, const char *err)
{
	char where[200];
	snprintf(where, sizeof where, "%s.%s", prefix, key);
	bad_config(where, err);
}

static const char *cfg_string(const cJSON *obj, const char *prefix, const char *key, const char *def)
{
	const cJSON *j = probe_cfg_get(obj, key);
	if (!j)
		return def;
	if (!cJSON_IsString(j))
		bad_key(prefix, key, "expected a string");
	return j->valuestring;
}

/* An http(s) URL: a string libcurl can request. */
static const char *cfg_url(const cJSON *obj, const char *prefix, const char *key)
{
	char err[160];
	const char *url = cfg_string(obj, prefix, key, NULL);
	if (url && !*url)
		bad_key(prefix, key, "empty");
	if (url && http_url_check(url, err, sizeof err) < 0)
		bad_key(prefix, key, err);
	return url;
}

static double cfg_number(const cJSON *obj, const char *prefix, const char *key, double def, double lo,
			 double hi)
{
	const cJSON *j = probe_cfg_get(obj, key);
	char err[96];
	double v;
	if (!j)
		return def;
	char *end = NULL;
	if (cJSON_IsNumber(j))
		v = j->valuedouble;
	else if (!cJSON_IsString(j) || (v = strtod(j->valuestring, &end), end == j->valuestring || *end))
		bad_key(prefix, key, "expected a number");
	if (v != floor(v) || v < lo || v > hi) {
		snprintf(err, sizeof err, "expected a whole number from %.0f to %.0f", lo, hi);
		bad_key(prefix, key, err);
	}
	return v;
}

static bool cfg_bool(const cJSON *obj, const char *prefix, const char *key, bool def)
{
	const cJSON *j = probe_cfg_get(obj, key);
	if (!j)
		return def;
	if (!cJSON_IsBool(j))
		bad_key(prefix, key, "expected true or false");
	return cJSON_IsTrue(j);
}

static const cJSON *cfg_map(const cJSON *obj, const char *prefix, const char *key)
{
	const cJSON *j = probe_cfg_get(obj, key);
	if (j && !cJSON_IsObject(j)) {
		if (prefix)
			bad_key(prefix, key, "expected a map");
		bad_config(key, "expected a map");
	}
	return j;
}

static void header_bearer(struct http_probe *p, const char *key)
{
	char *h = easprintf("Authorization: Bearer %s", key);
	http_probe_add_header(p, h, NULL, 0);
	free(h);
}

/* services.NAME: {url, health_path, api_key | anon_key, timeout} */
static void add_service(struct targets *ts, const struct settings *s, const char *name, const cJSON *svc)
{
	char where[160];
	snprintf(where, sizeof where, "services.%s", name);
	if (!cJSON_IsObject(svc))
		bad_config(where, "expected a map");
	const char *url = cfg_url(svc, where, "url");
	if (!url)
		bad_key(where, "url", "missing");
	const char *path = cfg_string(svc, where, "health_path", "");
	if (s->path)
		path = s->path;
	int64_t timeout = json_path_duration_ms(svc, "timeout", 0);
	if (timeout < 0)
		bad_key(where, "timeout", "expected a duration such as 500ms or 10s");
	const char *anon = cfg_string(svc, where, "anon_key", NULL);
	const char *key = cfg_string(svc, where, "api_key", NULL);
	cfg_string(svc, where, "service_role_key", NULL);
	struct target *t = target_new(ts);
	config_defaults(&t->http, s, timeout);
	t->http.name = estrdup(name);
	t->http.url = url_join(url, path);
	if (anon && *anon) {
		/* Supabase: the least-privileged key, as both apikey and bearer. */
		char *h = easprintf("apikey: %s", anon);
		http_probe_add_header(&t->http, h, NULL, 0);
		free(h);
		header_bearer(&t->http, anon);
	} else if (key && *key) {
		header_bearer(&t->http, key);
	}
}

static const char *const custom_extra_keys[] = {"type", "performance", "security", NULL};

static void add_custom(struct targets *ts, const struct settings *s, const cJSON *obj, int idx)
{
	char err[256], where[64];
	snprintf(where, sizeof where, "probes[%d]", idx);
	if (!cJSON_IsObject(obj))
		bad_config(where, "expected a map");
	const char *type = json_path_string(obj, "type", "http");
	const char *name = json_path_string(obj, "name", NULL);
	if (name)
		snprintf(where, sizeof where, "probes[%d] (%.40s)", idx, name);
	struct target *t = target_new(ts);
	t->custom = true;
	if (strcmp(type, "tcp") == 0) {
		t->is_tcp = true;
		http_probe_free(&t->http);
		tcp_probe_init(&t->tcp);
		tcp_from_flags(&t->tcp, &s->flags);
		if (tcp_probe_from_json(&t->tcp, obj, err, sizeof err) < 0)
			bad_config(where, err);
		if (!t->tcp.name)
			t->tcp.name = easprintf("tcp%d", idx + 1);
		return;
	}
	if (strcmp(type, "http") != 0)
		bad_config(where, "type: expected http or tcp");
	config_defaults(&t->http, s, 0);
	if (http_probe_from_json(&t->http, obj, custom_extra_keys, err, sizeof err) < 0)
		bad_config(where, err);
	if (!t->http.url)
		bad_config(where, "url: missing");
	if (http_url_check(t->http.url, err, sizeof err) < 0) {
		char sub[300];
		snprintf(sub, sizeof sub, "url: %s", err);
		bad_config(where, sub);
	}
	if (!t->http.name)
		t->http.name = easprintf("probe%d", idx + 1);
	const cJSON *perf = cJSON_GetObjectItemCaseSensitive(obj, "performance");
	if (perf) {
		t->perf = s->perf;
		if (perf_spec_from_json(&t->perf, perf, err, sizeof err) < 0)
			bad_config(where, err);
		t->has_perf = true;
	}
}

/* cache.redis_url: the Redis probe "cache", with the cache's thresholds
 * and TLS trust (the flags' first, the config's over them). */
static void add_cache(struct targets *ts, const struct settings *s, const cJSON *doc)
{
	char err[256];
	const cJSON *cache = cfg_map(doc, NULL, "cache");
	const char *url = cfg_string(cache, "cache", "redis_url", NULL);
	if (!url)
		return;
	struct target *t = target_new(ts);
	http_probe_free(&t->http);
	t->is_tcp = true;
	tcp_probe_init(&t->tcp);
	tcp_from_flags(&t->tcp, &s->flags);
	if (redis_probe_from_url(&t->tcp, url, err, sizeof err) < 0)
		bad_key("cache", "redis_url", err);
	t->tcp.name = estrdup("cache");
	const char *ca = cfg_string(cache, "cache", "ca_file", NULL);
	if (ca) {
		free(t->tcp.ca_file);
		t->tcp.ca_file = estrdup(ca);
	}
	t->tcp.tls_verify = cfg_bool(cache, "cache", "tls_verify", t->tcp.tls_verify);
	int64_t warn = json_path_duration_ms(cache, "latency_warning", t->tcp.latency_warn_ms);
	int64_t crit = json_path_duration_ms(cache, "latency_critical", t->tcp.latency_crit_ms);
	if (warn <= 0)
		bad_key("cache", "latency_warning", "expected a duration such as 250ms");
	if (crit <= 0)
		bad_key("cache", "latency_critical", "expected a duration such as 1s");
	if (warn > crit)
		bad_key("cache", "latency_warning", "longer than cache.latency_critical");
	t->tcp.latency_warn_ms = warn;
	t->tcp.latency_crit_ms = crit;
	redis_latency_from_flags(&t->tcp, &s->flags);
}

static void targets_from_config(struct targets *ts, const struct settings *s, const cJSON *doc)
{
	const cJSON *api = cfg_map(doc, NULL, "api");
	const char *base = cfg_url(api, "api", "base_url");
	const char *health = cfg_string(api, "api", "health_path", "/health");
	if (base) {
		struct target *t = target_new(ts);
		config_defaults(&t->http, s, 0);
		t->http.name = estrdup("api");
		t->http.url = url_join(base, s->path ? s->path : health);
	}
	const cJSON *svcs = cfg_map(doc, NULL, "services"), *it;
	cJSON_ArrayForEach(it, svcs)
		add_service(ts, s, it->string, it);
	const cJSON *probes = json_path(doc, "probes");
	if (probes && !cJSON_IsNull(probes)) {
		if (!cJSON_IsArray(probes))
			bad_config("probes", "expected a list");
		int i = 0;
		cJSON_ArrayForEach(it, probes)
			add_custom(ts, s, it, i++);
	}
	add_cache(ts, s, doc);
}

/* ---- security settings from the config ---- */

static char **string_list(const cJSON *arr, size_t *n, const char *where)
{
	const cJSON *it;
	char **v = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return NULL;
	if (!cJSON_IsArray(arr))
		bad_config(where, "expected a list of strings");
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			bad_config(where, "expected a list of strings");
		v = erealloc(v, (*n + 1) * sizeof *v);
		v[(*n)++] = estrdup(it->valuestring);
	}
	return v;
}

static void security_from_config(struct security_spec *sec, const struct settings *s,
				 const cJSON *doc, const struct target *api)
{
	memset(sec, 0, sizeof *sec);
	sec->checks = s->security;
	const cJSON *api_cfg = cfg_map(doc, NULL, "api");
	const char *base = cfg_url(api_cfg, "api", "base_url");
	if (!base && api)
		base = api->http.url;
	if (!base)
		die(EXIT_DATAERR, "security checks need api.base_url in the config or a URL argument");
	sec->base_url = estrdup(base);
	sec->path = estrdup(cfg_string(api_cfg, "api", "health_path", "/health"));
	const cJSON *sc = cfg_map(doc, NULL, "security");
	sec->allowed_origins = string_list(probe_cfg_get(sc, "cors_origins"), &sec->n_allowed_origins,
					   "security.cors_origins");
	sec->trusted_hosts = string_list(probe_cfg_get(sc, "trusted_hosts"), &sec->n_trusted_hosts,
					 "security.trusted_hosts");
	const cJSON *rl = cfg_map(sc, "security", "rate_limit");
	sec->rate_per_minute = (long)cfg_number(rl, "security.rate_limit", "requests_per_minute", 100, 1, 1e9);
	sec->rate_burst = (long)cfg_number(rl, "security.rate_limit", "burst", 200, 0, 1e9);
	const cJSON *sp = cfg_map(doc, NULL, "svc_probe");
	/* an unknown svc_probe key is the schema's to report (a warning; --strict: an error) */
	sec->disallowed_origin = estrdup(cfg_string(sp, "svc_probe", "cors_disallowed_origin", "https://disallowed.invalid"));
	sec->untrusted_host = estrdup(cfg_string(sp, "svc_probe", "untrusted_host", "untrusted.invalid"));
	sec->rate_max_requests = (long)cfg_number(sp, "svc_probe", "rate_limit_max_requests", 1000, 1, 100000);
	sec->rate_concurrency = (int)cfg_number(sp, "svc_probe", "rate_limit_concurrency", 8, 1, 1024);
	const char *rp = cfg_string(sp, "svc_probe", "rate_limit_path", NULL);
	sec->rate_path = rp ? estrdup(rp) : NULL;
	sec->retry_after_required = cfg_bool(sp, "svc_probe", "retry_after", false);
	const cJSON *dsec = cfg_map(cfg_map(doc, NULL, "deploy"), "deploy", "security");
	sec->rate_burst_allowed = cfg_bool(dsec, "deploy.security", "rate_limit_burst", false);
	const char *env = cfg_string(doc, NULL, "environment", NULL);
	sec->environment = env ? estrdup(env) : NULL;
	sec->hsts_min_age = (int64_t)cfg_number(sp, "svc_probe", "hsts_min_age", 15552000, 0, 1e10);
	sec->cert_warn_days = (int)cfg_number(sp, "svc_probe", "cert_warning_days", 30, 0, 36500);
	sec->cert_crit_days = (int)cfg_number(sp, "svc_probe", "cert_critical_days", 7, 0, 36500);
	if (sec->cert_warn_days && sec->cert_crit_days && sec->cert_warn_days < sec->cert_crit_days)
		bad_key("svc_probe", "cert_warning_days", "fewer than cert_critical_days");
	sec->auth_paths = string_list(probe_cfg_get(sp, "auth_paths"), &sec->n_auth_paths, "svc_probe.auth_paths");
	for (size_t i = 0; i < s->n_auth_paths; i++) {
		sec->auth_paths = erealloc(sec->auth_paths, (sec->n_auth_paths + 1) * sizeof(char *));
		sec->auth_paths[sec->n_auth_paths++] = estrdup(s->auth_paths[i]);
	}
	if (api)
		probe_copy_connection(&sec->base, &api->http, sec->base_url);
	else
		probe_copy_connection(&sec->base, &s->flags, sec->base_url);
}

/* ---- main ---- */

static bool selected(const struct settings *s, const char *name)
{
	if (!s->only)
		return true;
	size_t n = strlen(name);
	for (const char *p = s->only; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

/* name is group or a check under it: "security" holds "security.cors.allowed". */
static bool name_under(const char *name, const char *group)
{
	size_t n = strlen(group);
	return strncmp(name, group, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

static bool check_wanted(const char *name, void *user)
{
	const struct settings *s = user;
	for (size_t i = 0; i < s->n_checks; i++)
		if (name_under(name, s->checks[i]))
			return true;
	return false;
}

/* A --check NAME needs the checks of group: NAME is the group, above it or
 * under it. */
static bool check_needs(const char *check, const char *group)
{
	return name_under(group, check) || name_under(check, group);
}

static bool target_needed(const char *check, const struct target *t)
{
	char *http = easprintf("http.%s", t->http.name), *perf = easprintf("perf.%s", t->http.name);
	char *tcp = easprintf("%s.%s", tcp_check_prefix(&t->tcp), t->tcp.name ? t->tcp.name : "");
	bool yes = t->is_tcp ? check_needs(check, tcp) : check_needs(check, http) || check_needs(check, perf);
	free(http);
	free(perf);
	free(tcp);
	return yes;
}

static const struct {
	unsigned bit;
	const char *group;
} security_groups[] = {
	{SEC_CORS, "security.cors"}, {SEC_TRUSTED_HOST, "security.trusted_host"},
	{SEC_RATE_LIMIT, "security.rate_limit"}, {SEC_HEADERS, "security.headers"},
	{SEC_TLS, "security.tls"}, {SEC_AUTH, "security.auth"},
};

/* --check: only the targets and security checks a named check needs run; a
 * name that nothing of this run can report is a typo. */
static void filter_by_checks(struct settings *s, struct targets *ts)
{
	if (!s->n_checks)
		return;
	unsigned security = 0;
	for (size_t k = 0; k < s->n_checks; k++) {
		const char *c = s->checks[k];
		bool found = false;
		for (size_t i = 0; i < ARRAY_LEN(security_groups); i++) {
			if ((s->security & security_groups[i].bit) && check_needs(c, security_groups[i].group)) {
				security |= security_groups[i].bit;
				found = true;
			}
		}
		for (size_t i = 0; i < ts->n && !found; i++)
			found = target_needed(c, &ts->v[i]);
		if (!found)
			die(EXIT_USAGE, "--check: no target or security check of this run reports \"%s\"", c);
	}
	s->security = security;
	size_t kept = 0;
	for (size_t i = 0; i < ts->n; i++) {
		struct target *t = &ts->v[i];
		bool needed = false;
		for (size_t k = 0; k < s->n_checks && !needed; k++)
			needed = target_needed(s->checks[k], t);
		if (needed)
			ts->v[kept++] = *t;
		else if (t->is_tcp)
			tcp_probe_free(&t->tcp);
		else
			http_probe_free(&t->http);
	}
	ts->n = kept;
}

/* --name without a URL: the one config target selected; --path: the API
 * and services only, whose URL is a base URL. */
static void check_config_targets(const struct settings *s, struct targets *ts)
{
	for (size_t i = 0; s->path && i < ts->n; i++) {
		struct target *t = &ts->v[i];
		if (t->custom)
			die(EXIT_USAGE, "--path: probes[] target \"%s\" has a URL of its own (use --only)",
			    t->is_tcp ? t->tcp.name : t->http.name);
	}
	if (!s->name || s->n_urls)
		return;
	if (ts->n != 1)
		die(EXIT_USAGE, "--name names one target; %zu were selected (use --only)", ts->n);
	char **name = ts->v[0].is_tcp ? &ts->v[0].tcp.name : &ts->v[0].http.name;
	free(*name);
	*name = estrdup(s->name);
}

/* URL and --tcp arguments as targets; #N only where two URLs share a name:
 * the Nth of that name. */
static void targets_from_args(struct targets *ts, struct settings *s)
{
	size_t first = ts->n;
	for (size_t i = 0; i < s->n_urls; i++) {
		struct target *t = target_new(ts);
		http_probe_free(&t->http);
		probe_from_flags(&t->http, &s->flags, s->urls[i], s->name);
	}
	for (size_t i = 0; i < s->n_urls; i++) {
		const char *name = ts->v[first + i].http.name;
		size_t nth = 0, total = 0;
		for (size_t k = 0; k < s->n_urls; k++)
			if (strcmp(ts->v[first + k].http.name, name) == 0 && ++total && k <= i)
				nth = total;
		if (total > 1)
			ts->v[first + i].dup_nth = nth;
	}
	for (size_t i = 0; i < s->n_urls; i++) {
		struct http_probe *p = &ts->v[first + i].http;
		if (ts->v[first + i].dup_nth) {
			char *named = easprintf("%s#%zu", p->name, ts->v[first + i].dup_nth);
			free(p->name);
			p->name = named;
		}
	}
	for (size_t i = 0; i < s->n_tcp; i++) {
		struct target *t = target_new(ts);
		http_probe_free(&t->http);
		t->is_tcp = true;
		t->tcp = *s->tcp[i];
		free(s->tcp[i]);
		if (!t->tcp.name)
			t->tcp.name = easprintf("%s:%d", t->tcp.host, t->tcp.port);
	}
	free(s->tcp);
	s->tcp = NULL;
}

static void target_free(struct target *t)
{
	if (t->is_tcp)
		tcp_probe_free(&t->tcp);
	else
		http_probe_free(&t->http);
}

/* --only: a name that matches no target is a typo, not an empty run. */
static void filter_only(const struct settings *s, struct targets *ts)
{
	if (!s->only)
		return;
	for (const char *p = s->only; *p;) {
		size_t len = strcspn(p, ","), i;
		for (i = 0; i < ts->n; i++) {
			const char *n = ts->v[i].is_tcp ? ts->v[i].tcp.name : ts->v[i].http.name;
			if (strlen(n) == len && strncmp(n, p, len) == 0)
				break;
		}
		if (i == ts->n)
			die(EXIT_USAGE, "--only: no target named \"%.*s\"", (int)len, p);
		p += len + (p[len] == ',');
	}
	size_t kept = 0;
	for (size_t i = 0; i < ts->n; i++) {
		struct target *t = &ts->v[i];
		if (selected(s, t->is_tcp ? t->tcp.name : t->http.name))
			ts->v[kept++] = *t;
		else
			target_free(t);
	}
	ts->n = kept;
}

/* Security settings are read before any request, so a bad one costs no
 * traffic. With a URL on the command line, its origin is the API and its
 * path is probed. */
static void security_load(struct security_spec *sec, const struct settings *s, const cJSON *doc,
			  const struct targets *ts, bool adhoc)
{
	const struct target *api = NULL;
	for (size_t i = 0; i < ts->n && !api; i++)
		if (!ts->v[i].is_tcp && (adhoc || strcmp(ts->v[i].http.name, "api") == 0))
			api = &ts->v[i];
	if (!adhoc || !api) {
		security_from_config(sec, s, doc, api);
		return;
	}
	cJSON *empty = doc ? NULL : cJSON_CreateObject();
	security_from_config(sec, s, doc ? doc : empty, api);
	cJSON_Delete(empty);
	/* no config to forbid it: the operator who named the URL asked for the burst */
	sec->rate_burst_allowed |= !doc;
	const char *url = api->http.url;
	char *origin = url_origin(url);
	if (!origin)
		die(EXIT_USAGE, "the URL given has no origin for the security checks");
	free(sec->base_url);
	free(sec->path);
	sec->base_url = origin;
	sec->path = url_path(url, true); /* a URL: url_origin() read it */
	free(sec->base.url);
	sec->base.url = estrdup(sec->base_url);
}

/* Every HTTP probe on one engine while the TCP probes run in threads. A
 * load run replaces the single HTTP checks (unless security checks run);
 * TCP targets, which take no load, are still probed once. */
static void run_single(struct report *rep, const struct settings *s, struct targets *ts)
{
	size_t n_http = 0, n_tcp = 0;
	struct http_probe **hp = ecalloc(ts->n + 1, sizeof *hp);
	struct http_result **hr = ecalloc(ts->n + 1, sizeof *hr);
	struct tcp_probe **tp = ecalloc(ts->n + 1, sizeof *tp);
	struct tcp_result *tr = ecalloc(ts->n + 1, sizeof *tr);
	for (size_t i = 0; i < ts->n; i++) {
		if (ts->v[i].is_tcp)
			tp[n_tcp++] = &ts->v[i].tcp;
		else
			hp[n_http++] = &ts->v[i].http;
	}
	if (s->perf_set && !n_http)
		die(EXIT_USAGE, "--requests loads HTTP targets, and there is none");
	bool single_http = !s->perf_set || s->security;
	struct tcp_batch *tb = tcp_start_all(tp, tr, n_tcp, s->parallel);
	if (single_http)
		run_probes(hp, hr, n_http, s->parallel, s->std.verbose);
	tcp_join_all(tb);
	for (size_t i = 0; single_http && i < n_http; i++) {
		char *prefix = easprintf("http.%s", hp[i]->name);
		add_result_checks(rep, prefix, hp[i], hr[i]);
		free(prefix);
		http_result_free(hr[i]);
	}
	for (size_t i = 0; i < n_tcp; i++) {
		add_tcp_checks(rep, tp[i], &tr[i]);
		tcp_result_free(&tr[i]);
	}
	free(hp);
	free(hr);
	free(tp);
	free(tr);
}

/* The load runs: every HTTP target with --requests, else those whose
 * config asks for one. */
static void run_perf(struct report *rep, const struct settings *s, const struct targets *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		const struct target *t = &ts->v[i];
		if (t->is_tcp)
			continue;
		if (t->has_perf)
			perf_run(rep, &t->http, &t->perf, s->std.verbose, s->std.quiet);
		else if (s->perf_set)
			perf_run(rep, &t->http, &s->perf, s->std.verbose, s->std.quiet);
	}
}

/* A saved report: one JSON document, or the last line of a JSON Lines file. */
static void compare_baseline(struct report *rep, const struct settings *s)
{
	char *text = NULL, err[256];
	size_t len = 0;
	if (read_file(s->baseline, 64u << 20, &text, &len) < 0)
		die(EXIT_DATAERR, "unable to read baseline %s: %s", s->baseline, read_file_error(errno));
	cJSON *base = json_parse_text(text, len, err, sizeof err);
	if (!base) {
		char *last = text, *p = text;
		while ((p = strchr(p, '\n')) && p[1]) {
			if (p[1] != '\n')
				last = p + 1;
			p++;
		}
		base = json_parse_text(last, strlen(last), err, sizeof err);
	}
	free(text);
	if (!base)
		die(EXIT_DATAERR, "%s: %s", s->baseline, err);
	const char *kind = json_kind(base);
	if (!kind || strcmp(kind, "report") != 0) {
		cJSON_Delete(base);
		die(EXIT_DATAERR, "%s: not a report (expected a saved svc-probe report)", s->baseline);
	}
	perf_compare_baseline(rep, base, s->reg_warn, s->reg_crit);
	cJSON_Delete(base);
}

/* What -t left undone, as one unknown check. */
static bool out_of_time(struct report *rep, const char *what)
{
	if (!run_deadline_passed())
		return false;
	report_add_check(rep, "svc-probe.timeout", STATUS_UNKNOWN, 0, NULL,
			 "the run's timeout (-t) passed before %s", what);
	return true;
}

static void run_all(struct report *rep, struct settings *s, struct targets *ts, struct security_spec *sec)
{
	run_single(rep, s, ts);
	if (s->security && !out_of_time(rep, "the security checks"))
		security_run(rep, sec, s->std.verbose);
	if (!out_of_time(rep, "the load runs"))
		run_perf(rep, s, ts);
	if (s->baseline)
		compare_baseline(rep, s);
}

static void settings_free(struct settings *s, struct targets *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		target_free(&ts->v[i]);
	free(ts->v);
	free(s->urls);
	free(s->url_envs);
	free(s->auth_paths);
	free(s->checks);
	http_probe_free(&s->flags);
}

int main(int argc, char **argv)
{
	struct settings s = {0};
	struct targets ts = {0};
	struct security_spec sec = {0};
	cJSON *doc = NULL;

	tool_start(argv[0]);
	parse_args(&s, argc, argv);
	run_deadline_set(s.std.timeout_ms);
	if (http_global_init() < 0)
		die(EXIT_UNKNOWN, "unable to start libcurl");

	bool adhoc = s.n_urls || s.n_tcp;
	if (!adhoc || s.std.config_path) {
		/* Only what is there is checked: svc-probe probes whatever part of
		 * a config it is given; its completeness is cfg-resolve's question. */
		if (s.std.config_path && strcmp(s.std.config_path, "-") != 0)
			config_name = s.std.config_path;
		struct config_request req = {.path = s.std.config_path, .schema_path = s.schema,
					     .partial = true, .strict = s.strict};
		int status;
		if (!(doc = config_open_document(&req, &status))) {
			settings_free(&s, &ts);
			return status;
		}
	}
	if (doc && !adhoc)
		targets_from_config(&ts, &s, doc);
	targets_from_args(&ts, &s);
	filter_only(&s, &ts);
	if (doc && !adhoc)
		check_config_targets(&s, &ts);
	if (!ts.n && !s.security)
		die(EXIT_DATAERR, "nothing to probe: no URL, no --tcp, and no api.base_url, services, probes or cache.redis_url in the config");
	if (s.security)
		security_load(&sec, &s, doc, &ts, adhoc);
	filter_by_checks(&s, &ts);

	struct report *rep = report_new("svc-probe");
	run_all(rep, &s, &ts, &sec);
	if (s.n_checks)
		report_keep_checks(rep, check_wanted, &s);
	int status = run_deadline_passed() ? EXIT_UNKNOWN : (int)report_status(rep);
	if (report_print(rep, format_resolve(s.std.format), stdout) < 0)
		status = EXIT_UNKNOWN;
	report_free(rep);
	security_spec_free(&sec);
	settings_free(&s, &ts);
	cJSON_Delete(doc);
	return finish_stdout(status);
}
