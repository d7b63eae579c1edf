/* policy.c — the production policy (--check): what an operator wants caught
 * before a deploy, as a report. Checks that only matter in production say
 * so and pass elsewhere. */
#include "cfg-resolve.h"
#include "shipshape/json.h"
#include "shipshape/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct policy {
	const cJSON *doc;             /* the resolved document, secrets in clear */
	const struct cfg_node *root;  /* for where values came from */
	bool production;
	struct buf msg;               /* the check's message */
	enum status status;
};

/* Records one finding: raises the check's status, appends to its message. */
static void finding(struct policy *p, enum status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void finding(struct policy *p, enum status st, const char *fmt, ...)
{
	va_list ap;
	if (p->msg.len)
		buf_puts(&p->msg, "; ");
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) >= 0) {
		buf_puts(&p->msg, s);
		free(s);
	}
	va_end(ap);
	p->status = status_worst(p->status, st);
}

/* Critical in production, a warning elsewhere. */
static enum status prod_critical(const struct policy *p)
{
	return p->production ? STATUS_CRITICAL : STATUS_WARNING;
}

static bool is_https(const char *url)
{
	return url && strncasecmp(url, "https://", 8) == 0;
}

static void check_environment(struct policy *p)
{
	const char *env = json_path_string(p->doc, "environment", NULL);
	if (!env)
		finding(p, STATUS_WARNING, "environment is not set");
	else if (strcmp(env, "production") && strcmp(env, "staging") && strcmp(env, "development"))
		finding(p, STATUS_WARNING, "unknown environment \"%s\"", env);
}

static void check_flags_off(struct policy *p)
{
	static const char *const paths[] = {"debug", "testing", "api.reload"};
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		if (json_path_bool(p->doc, paths[i], false)) {
			if (p->production)
				finding(p, STATUS_CRITICAL, "%s is on in production", paths[i]);
			else
				finding(p, STATUS_OK, "%s is on (allowed outside production)", paths[i]);
		}
	}
}

static void check_jwt(struct policy *p)
{
	const char *secret = json_path_string(p->doc, "security.jwt_secret", NULL);
	size_t len = secret ? strlen(secret) : 0;
	if (!secret || !len)
		finding(p, prod_critical(p), "security.jwt_secret is empty");
	else if (len < 32)
		finding(p, STATUS_CRITICAL, "security.jwt_secret is %zu bytes, at least 32 required", len);
	else if (strcasestr(secret, "changeme") || strcasestr(secret, "change-me") ||
		 strcasestr(secret, "not-a-secret") || strcasestr(secret, "example"))
		finding(p, prod_critical(p), "security.jwt_secret looks like a placeholder");

	int64_t expiry = json_path_duration_ms(p->doc, "security.jwt_expiry", -2);
	if (expiry == -2)
		finding(p, STATUS_WARNING, "security.jwt_expiry is not set");
	else if (expiry <= 0)
		finding(p, STATUS_CRITICAL, "security.jwt_expiry is not a positive duration");
	else if (expiry > 7LL * 86400000)
		finding(p, STATUS_CRITICAL, "security.jwt_expiry is over 7 days");
	else if (expiry > 86400000)
		finding(p, STATUS_WARNING, "security.jwt_expiry is over 24 hours");
	else if (expiry < 60000)
		finding(p, STATUS_WARNING, "security.jwt_expiry is under a minute");
}

static void check_cors(struct policy *p)
{
	const cJSON *origins = json_path(p->doc, "security.cors_origins");
	if (!cJSON_IsArray(origins) || cJSON_GetArraySize(origins) == 0) {
		finding(p, STATUS_WARNING, "security.cors_origins is empty: browsers cannot call the API");
		return;
	}
	const cJSON *o;
	cJSON_ArrayForEach(o, origins)
	{
		const char *v = cJSON_IsString(o) ? o->valuestring : "";
		if (strcmp(v, "*") == 0 || strstr(v, "://*") == v + strcspn(v, ":"))
			finding(p, STATUS_CRITICAL, "CORS origin \"%s\" allows any site", v);
		else if (!is_https(v))
			finding(p, prod_critical(p), "CORS origin \"%s\" is not https", v);
	}
}

static void check_trusted_hosts(struct policy *p)
{
	const cJSON *hosts = json_path(p->doc, "security.trusted_hosts");
	if (!cJSON_IsArray(hosts) || cJSON_GetArraySize(hosts) == 0) {
		finding(p, prod_critical(p), "security.trusted_hosts is not set");
		return;
	}
	const cJSON *h;
	cJSON_ArrayForEach(h, hosts)
	{
		if (cJSON_IsString(h) && strcmp(h->valuestring, "*") == 0)
			finding(p, prod_critical(p), "trusted host \"*\" trusts any Host header");
	}
}

static void check_database(struct policy *p)
{
	const char *url = json_path_string(p->doc, "database.url", NULL);
	if (!url || !*url) {
		finding(p, STATUS_CRITICAL, "database.url is empty");
		return;
	}
	const char *mode = strstr(url, "sslmode=");
	bool require = json_path_bool(p->doc, "database.require_ssl", false);
	if (mode && (strncmp(mode + 8, "disable", 7) == 0 || strncmp(mode + 8, "allow", 5) == 0))
		finding(p, prod_critical(p), "database.url has %.*s", (int)strcspn(mode, "&"), mode);
	else if (!mode && !require && p->production)
		finding(p, STATUS_WARNING, "database.url has no sslmode and database.require_ssl is off");

	double pool = json_path_number(p->doc, "database.pool_size", NAN);
	double overflow = json_path_number(p->doc, "database.max_overflow", 0);
	if (isnan(pool) || pool < 1)
		finding(p, STATUS_CRITICAL, "database.pool_size must be positive");
	if (overflow < 0)
		finding(p, STATUS_CRITICAL, "database.max_overflow must not be negative");
	if (json_path(p->doc, "database.pool_timeout") &&
	    json_path_duration_ms(p->doc, "database.pool_timeout", 0) <= 0)
		finding(p, STATUS_CRITICAL, "database.pool_timeout must be a positive duration");
}

static void check_urls(struct policy *p)
{
	const char *base = json_path_string(p->doc, "api.base_url", NULL);
	if (base && !is_https(base))
		finding(p, prod_critical(p), "api.base_url is not https");
	const cJSON *services = json_path(p->doc, "services");
	const cJSON *s;
	cJSON_ArrayForEach(s, services)
	{
		const char *url = json_path_string(s, "url", NULL);
		if (!url || !*url)
			finding(p, prod_critical(p), "services.%s.url is empty", s->string);
		else if (!is_https(url))
			finding(p, prod_critical(p), "services.%s.url is not https", s->string);
	}
	const char *redis = json_path_string(p->doc, "cache.redis_url", NULL);
	if (redis && *redis && strncasecmp(redis, "rediss://", 9) != 0 && p->production)
		finding(p, STATUS_WARNING, "cache.redis_url is not TLS (rediss://)");
}

static void check_api(struct policy *p)
{
	double port = json_path_number(p->doc, "api.port", 8000);
	double workers = json_path_number(p->doc, "api.workers", 1);
	if (port < 1 || port > 65535 || port != floor(port))
		finding(p, STATUS_CRITICAL, "api.port %g is not a TCP port", port);
	if (workers < 1)
		finding(p, STATUS_CRITICAL, "api.workers must be at least 1");
	double rpm = json_path_number(p->doc, "security.rate_limit.requests_per_minute", NAN);
	double burst = json_path_number(p->doc, "security.rate_limit.burst", NAN);
	if (isnan(rpm))
		finding(p, p->production ? STATUS_WARNING : STATUS_OK, "no rate limit configured");
	else if (rpm <= 0 || (!isnan(burst) && burst < 1))
		finding(p, STATUS_CRITICAL, "the rate limit must be positive");
}

static void check_scaling(struct policy *p)
{
	if (!json_path(p->doc, "scaling"))
		return;
	double lo = json_path_number(p->doc, "scaling.min_instances", 1);
	double hi = json_path_number(p->doc, "scaling.max_instances", lo);
	double down = json_path_number(p->doc, "scaling.scale_down_threshold", 0);
	double up = json_path_number(p->doc, "scaling.scale_up_threshold", 100);
	if (lo < 1)
		finding(p, STATUS_CRITICAL, "scaling.min_instances must be at least 1");
	if (lo > hi)
		finding(p, STATUS_CRITICAL, "scaling.min_instances %g > max_instances %g", lo, hi);
	if (down >= up)
		finding(p, STATUS_CRITICAL, "scale-down threshold %g%% is not below scale-up %g%%", down, up);
	if (up > 100 || down < 0)
		finding(p, STATUS_CRITICAL, "scaling thresholds must lie within 0-100%%");
	if (p->production && lo < 2)
		finding(p, STATUS_WARNING, "one instance in production: no redundancy");
}

static void check_compliance(struct policy *p)
{
	static const char *const flags[] = {"security.encryption.enabled", "security.rls_enabled",
					    "security.audit_logging"};
	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (!json_path_bool(p->doc, flags[i], false))
			finding(p, prod_critical(p), "%s is off", flags[i]);
	const char *alg = json_path_string(p->doc, "security.encryption.algorithm", NULL);
	if (alg && strcasecmp(alg, "AES-256-GCM") != 0)
		finding(p, STATUS_WARNING, "encryption algorithm %s is not AES-256-GCM", alg);
}

static void check_monitoring(struct policy *p)
{
	const cJSON *hc = json_path(p->doc, "monitoring.health_check");
	if (!hc) {
		finding(p, prod_critical(p), "monitoring.health_check is not configured");
	} else {
		int64_t interval = json_path_duration_ms(hc, "interval", 30000);
		int64_t timeout = json_path_duration_ms(hc, "timeout", 10000);
		if (interval <= 0 || timeout <= 0)
			finding(p, STATUS_CRITICAL, "health check interval and timeout must be positive durations");
		else if (timeout >= interval)
			finding(p, STATUS_WARNING, "health check timeout is not below its interval");
		if (json_path_number(hc, "failure_threshold", 1) < 1)
			finding(p, STATUS_CRITICAL, "health check failure_threshold must be at least 1");
	}
	const char *slack = json_path_string(p->doc, "alerts.slack.webhook_url", "");
	const cJSON *mail = json_path(p->doc, "alerts.email.recipients");
	if (!*slack && cJSON_GetArraySize(mail) == 0)
		finding(p, prod_critical(p), "no alert channel: neither a Slack webhook nor email recipients");
}

/* Secrets must come from templates: a literal secret in a file is one
 * commit away from a leak. Names the keys, never the values. */
static void secret_leaf(const char *path, const struct cfg_node *n, void *ctx)
{
	struct policy *p = ctx;
	if (n->type != CFG_STRING || !node_is_secret(n))
		return;
	if (!n->str || !*n->str)
		finding(p, prod_critical(p), "secret %s is empty", path);
	else if (!n->origin && n->loc.line > 0)
		finding(p, prod_critical(p), "secret %s is written in %s:%d, not taken from a variable", path,
			n->loc.file, n->loc.line);
}

static void check_secrets(struct policy *p)
{
	walk_leaves(p->root, secret_leaf, p);
}

static const struct {
	const char *name;
	void (*run)(struct policy *p);
	const char *ok;
} checks[] = {
	{"policy.environment", check_environment, "environment is known"},
	{"policy.flags", check_flags_off, "debug, testing and reload are off"},
	{"policy.jwt", check_jwt, "JWT secret and expiry are sound"},
	{"policy.cors", check_cors, "CORS origins are https and explicit"},
	{"policy.trusted_hosts", check_trusted_hosts, "trusted hosts are set"},
	{"policy.database", check_database, "database URL and pool are sound"},
	{"policy.urls", check_urls, "service URLs are https"},
	{"policy.api", check_api, "API port, workers and rate limit are sound"},
	{"policy.scaling", check_scaling, "scaling bounds and thresholds are consistent"},
	{"policy.compliance", check_compliance, "encryption, RLS and audit logging are on"},
	{"policy.monitoring", check_monitoring, "health checks and alert channels are set"},
	{"policy.secrets", check_secrets, "secrets come from variables and are set"},
};

int policy_check(const struct cfg_node *root, enum output_format fmt, struct buf *out)
{
	cJSON *doc = cfg_to_json(root);
	struct report *r = report_new("cfg-resolve");
	const char *env = json_path_string(doc, "environment", "");
	struct policy p = {.doc = doc, .root = root, .production = strcmp(env, "production") == 0};

	for (size_t i = 0; i < ARRAY_LEN(checks); i++) {
		p.status = STATUS_OK;
		p.msg.len = 0;
		buf_append(&p.msg, "", 0);
		checks[i].run(&p);
		cJSON *data = cJSON_CreateObject();
		cJSON_AddStringToObject(data, "environment", env);
		report_add_check(r, checks[i].name, p.status, 0, data, "%s",
				 p.msg.len ? p.msg.data : checks[i].ok);
	}
	enum status st = report_status(r);
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem)
		die_errno(EXIT_UNKNOWN, "unable to allocate memory");
	if (report_print(r, fmt, mem) < 0 || fclose(mem) != 0)
		die(EXIT_UNKNOWN, "unable to format the report");
	buf_append(out, text, len);
	free(text);
	buf_free(&p.msg);
	report_free(r);
	cJSON_Delete(doc);
	return (int)st;
}
