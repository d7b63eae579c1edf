/* policy.c — the production policy (--check): what an operator wants caught
 * before a deploy, as a report. Checks that only matter in production say
 * so and pass elsewhere. */
#include "cfg-resolve.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/report.h"
#include "shipshape/url.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
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
	char *s = evasprintf(fmt, ap);
	va_end(ap);
	buf_puts(&p->msg, s);
	free(s);
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

/* A flag as written: a bool, or (a template without a schema to type it) a
 * string or number meaning one. Returns 1 on, 0 off, def when absent or
 * unreadable. */
static int flag(const struct policy *p, const char *path, int def)
{
	const cJSON *j = json_path(p->doc, path);
	if (cJSON_IsBool(j))
		return cJSON_IsTrue(j);
	if (cJSON_IsNumber(j))
		return j->valuedouble != 0;
	if (cJSON_IsString(j)) {
		static const char *const on[] = {"true", "yes", "on", "1"};
		static const char *const off[] = {"false", "no", "off", "0", ""};
		for (size_t i = 0; i < ARRAY_LEN(on); i++)
			if (strcasecmp(j->valuestring, on[i]) == 0)
				return 1;
		for (size_t i = 0; i < ARRAY_LEN(off); i++)
			if (strcasecmp(j->valuestring, off[i]) == 0)
				return 0;
	}
	return def;
}

/* The host of a URL, lower-cased, without brackets, in host; the user
 * name in user: both empty when url is not a URL. */
static void url_hostname_in(const char *url, char *host, size_t size)
{
	char *h = url_hostname(url);
	snprintf(host, size, "%s", h ? h : "");
	free(h);
}

static void url_user_in(const char *url, char *user, size_t size)
{
	char *u = url_username(url);
	snprintf(user, size, "%s", u ? u : "");
	free(u);
}

/* This machine: a production service pointed here reaches nothing real. */
static bool is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "0.0.0.0") == 0 || strncmp(host, "127.", 4) == 0 ||
	       (strlen(host) > 10 && strcmp(host + strlen(host) - 10, ".localhost") == 0);
}

/* Checks one URL that production depends on: https, and not this machine. */
static void production_url(struct policy *p, const char *path, const char *url)
{
	char host[256];
	if (!url || !*url)
		return;
	url_hostname_in(url, host, sizeof host);
	if (!is_https(url))
		finding(p, prod_critical(p), "%s is not https", path);
	else if (p->production && is_loopback(host))
		finding(p, STATUS_CRITICAL, "%s points at this machine (%s) in production", path, host);
}

static void check_environment(struct policy *p)
{
	const char *env = json_path_string(p->doc, "environment", NULL);
	if (!env || !*env)
		finding(p, STATUS_WARNING, "environment is not set: production rules applied");
	else if (strcmp(env, "production") && strcmp(env, "staging") && strcmp(env, "development"))
		finding(p, STATUS_WARNING,
			"unknown environment \"%s\" (development, staging or production): production rules applied",
			env);
}

static void check_flags_off(struct policy *p)
{
	static const char *const paths[] = {"debug", "testing", "api.reload"};
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		if (flag(p, paths[i], 0) == 1) {
			if (p->production)
				finding(p, STATUS_CRITICAL, "%s is on in production", paths[i]);
			else
				finding(p, STATUS_OK, "%s is on (allowed outside production)", paths[i]);
		}
	}
}

/* An API may keep no security settings in its config (an app without JWT,
 * CORS or compliance flags): each security check then says it had nothing
 * to check, a warning in production, where the settings are expected. */
static bool security_absent(struct policy *p, const char *what)
{
	if (cJSON_IsObject(json_path(p->doc, "security")))
		return false;
	finding(p, p->production ? STATUS_WARNING : STATUS_OK, "no security block: %s not checked", what);
	return true;
}

static void check_jwt(struct policy *p)
{
	if (security_absent(p, "the JWT secret and expiry are"))
		return;
	if (!json_path(p->doc, "security.jwt_secret") && !json_path(p->doc, "security.jwt_expiry")) {
		finding(p, STATUS_OK, "no JWT: security has no jwt_secret or jwt_expiry");
		return;
	}
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
	if (security_absent(p, "the CORS origins are"))
		return;
	const cJSON *origins = json_path(p->doc, "security.cors_origins");
	if (!cJSON_IsArray(origins) || cJSON_GetArraySize(origins) == 0) {
		finding(p, STATUS_WARNING, "security.cors_origins is empty: browsers cannot call the API");
		return;
	}
	const cJSON *o;
	cJSON_ArrayForEach(o, origins)
	{
		const char *v = cJSON_IsString(o) ? o->valuestring : "";
		char host[256];
		url_hostname_in(v, host, sizeof host);
		if (strcmp(v, "*") == 0 || strstr(v, "://*") == v + strcspn(v, ":"))
			finding(p, STATUS_CRITICAL, "CORS origin \"%s\" allows any site", v);
		else if (strcasecmp(v, "null") == 0)
			finding(p, STATUS_CRITICAL, "CORS origin \"null\" allows sandboxed pages and local files");
		else if (!is_https(v))
			finding(p, prod_critical(p), "CORS origin \"%s\" is not https", v);
		else if (!url_is_origin(v))
			finding(p, STATUS_WARNING,
				"CORS origin \"%s\" has a path: an origin is scheme://host[:port] and never matches it", v);
		else if (p->production && is_loopback(host))
			finding(p, STATUS_CRITICAL, "CORS origin \"%s\" is this machine, in production", v);
	}
}

static void check_trusted_hosts(struct policy *p)
{
	if (security_absent(p, "the trusted hosts are"))
		return;
	const cJSON *hosts = json_path(p->doc, "security.trusted_hosts");
	if (!cJSON_IsArray(hosts) || cJSON_GetArraySize(hosts) == 0) {
		finding(p, prod_critical(p), "security.trusted_hosts is not set");
		return;
	}
	const cJSON *h;
	cJSON_ArrayForEach(h, hosts)
	{
		const char *v = cJSON_IsString(h) ? h->valuestring : "";
		if (strcmp(v, "*") == 0)
			finding(p, prod_critical(p), "trusted host \"*\" trusts any Host header");
		else if (!*v || strpbrk(v, ":/ "))
			finding(p, prod_critical(p),
				"trusted host \"%s\" is not a host name (no scheme, port or path): it matches no request", v);
	}
	/* The API must accept its own name, or every request to it (the deploy's
	 * own health checks first) is refused. */
	const char *base = json_path_string(p->doc, "api.base_url", NULL);
	char name[256];
	url_hostname_in(base, name, sizeof name);
	if (!*name || is_loopback(name))
		return;
	bool covered = false;
	cJSON_ArrayForEach(h, hosts)
	{
		const char *v = cJSON_IsString(h) ? h->valuestring : "";
		size_t vn = strlen(v), nn = strlen(name);
		if (strcasecmp(v, name) == 0 ||
		    (v[0] == '*' && v[1] == '.' && nn > vn - 1 && strcasecmp(name + nn - (vn - 1), v + 1) == 0))
			covered = true;
	}
	if (!covered)
		finding(p, prod_critical(p),
			"api.base_url's host %s is not in security.trusted_hosts: the API would refuse requests to itself",
			name);
}

static void check_database(struct policy *p)
{
	const char *url = json_path_string(p->doc, "database.url", NULL);
	if (!url || !*url) {
		finding(p, STATUS_CRITICAL, "database.url is empty");
		return;
	}
	const char *mode = strstr(url, "sslmode=");
	int require = flag(p, "database.require_ssl", -1);
	if (mode && (strncmp(mode + 8, "disable", 7) == 0 || strncmp(mode + 8, "allow", 5) == 0))
		finding(p, prod_critical(p), "database.url has %.*s", (int)strcspn(mode, "&"), mode);
	else if (mode && strncmp(mode + 8, "prefer", 6) == 0 && require != 1 && p->production)
		finding(p, STATUS_WARNING, "database.url has sslmode=prefer, which falls back to no encryption");
	else if (!mode && require != 1 && p->production)
		finding(p, STATUS_WARNING, "database.url has no sslmode and database.require_ssl is off");
	if (require == 0 && p->production)
		finding(p, STATUS_CRITICAL, "database.require_ssl is off in production");

	char host[256];
	url_hostname_in(url, host, sizeof host);
	if (p->production && is_loopback(host))
		finding(p, STATUS_CRITICAL, "database.url points at this machine (%s) in production", host);
	/* A superuser bypasses row-level security: the RLS the config asks
	 * for would protect nothing. */
	char user[64];
	url_user_in(url, user, sizeof user);
	bool rls = flag(p, "security.rls_enabled", 0) == 1 || flag(p, "database.rls.required", 0) == 1;
	if (rls && strcmp(user, "postgres") == 0 && p->production)
		finding(p, STATUS_WARNING,
			"database.url connects as postgres, a superuser that bypasses row-level security");

	double pool = json_path_number(p->doc, "database.pool_size", NAN);
	double overflow = json_path_number(p->doc, "database.max_overflow", 0);
	if (json_path(p->doc, "database.pool_size") && (isnan(pool) || pool < 1))
		finding(p, STATUS_CRITICAL, "database.pool_size must be positive");
	if (overflow < 0)
		finding(p, STATUS_CRITICAL, "database.max_overflow must not be negative");
	if (json_path(p->doc, "database.pool_timeout") &&
	    json_path_duration_ms(p->doc, "database.pool_timeout", 0) <= 0)
		finding(p, STATUS_CRITICAL, "database.pool_timeout must be a positive duration");
	if (json_path(p->doc, "database.pool_recycle") &&
	    json_path_duration_ms(p->doc, "database.pool_recycle", 0) <= 0)
		finding(p, STATUS_CRITICAL, "database.pool_recycle must be a positive duration");
}

/* A health path is appended to a URL: without its leading "/" it glues
 * onto the host name. */
static void health_path(struct policy *p, const cJSON *doc, const char *path, const char *shown)
{
	const char *v = json_path_string(doc, path, NULL);
	if (v && *v != '/')
		finding(p, STATUS_CRITICAL, "%s \"%s\" does not start with /", shown, v);
}

/* tls_verify: false (a probe, the SMTP connection) accepts any
 * certificate: anyone on the path can read what is sent, credentials
 * first. */
static void tls_verify_leaf(const char *path, const struct cfg_node *n, void *ctx)
{
	struct policy *p = ctx;
	if (!n->key || strcmp(n->key, "tls_verify") != 0)
		return;
	bool off = (n->type == CFG_BOOL && !n->b) || (n->type == CFG_INT && n->i == 0) ||
		   (n->type == CFG_STRING && n->str &&
		    (strcasecmp(n->str, "false") == 0 || strcasecmp(n->str, "no") == 0 ||
		     strcasecmp(n->str, "off") == 0 || strcmp(n->str, "0") == 0));
	if (off)
		finding(p, prod_critical(p), "%s is off: any certificate is accepted", path);
}

static void check_urls(struct policy *p)
{
	production_url(p, "api.base_url", json_path_string(p->doc, "api.base_url", NULL));
	health_path(p, p->doc, "api.health_path", "api.health_path");
	const cJSON *services = json_path(p->doc, "services");
	const cJSON *s;
	cJSON_ArrayForEach(s, services)
	{
		const char *url = json_path_string(s, "url", NULL);
		char *path = easprintf("services.%s.url", s->string);
		if (!url || !*url)
			finding(p, prod_critical(p), "%s is empty", path);
		else
			production_url(p, path, url);
		free(path);
		path = easprintf("services.%s.health_path", s->string);
		health_path(p, s, "health_path", path);
		free(path);
	}
	const cJSON *endpoints = json_path(p->doc, "monitoring.health_check.endpoints");
	const cJSON *e;
	int i = 0;
	cJSON_ArrayForEach(e, endpoints)
	{
		char path[96];
		snprintf(path, sizeof path, "monitoring.health_check.endpoints[%d].url", i++);
		production_url(p, path, json_path_string(e, "url", NULL));
	}
	production_url(p, "alerts.slack.webhook_url", json_path_string(p->doc, "alerts.slack.webhook_url", NULL));
	production_url(p, "deploy.render.api_url", json_path_string(p->doc, "deploy.render.api_url", NULL));
	const char *smtp = json_path_string(p->doc, "alerts.email.smtp.url", NULL);
	const char *tls = json_path_string(p->doc, "alerts.email.smtp.tls", "required");
	if (smtp && strncasecmp(smtp, "smtps://", 8) != 0 && strcmp(tls, "required") != 0 && p->production)
		finding(p, strcmp(tls, "none") == 0 ? STATUS_CRITICAL : STATUS_WARNING,
			"alerts.email.smtp.url is not smtps:// and STARTTLS is %s",
			strcmp(tls, "none") == 0 ? "off: the SMTP password goes in clear" : "not required");
	walk_leaves(p->root, tls_verify_leaf, p);
}

static void check_cache(struct policy *p)
{
	const char *redis = json_path_string(p->doc, "cache.redis_url", NULL);
	char host[256];
	/* No cache is a setup of its own, not a fault: ok, but never "uses TLS". */
	if (!redis || !*redis)
		finding(p, STATUS_OK, "no cache configured (cache.redis_url is not set)");
	url_hostname_in(redis, host, sizeof host);
	if (redis && *redis && strncasecmp(redis, "rediss://", 9) != 0 && p->production)
		finding(p, STATUS_WARNING, "cache.redis_url is not TLS (rediss://)");
	if (redis && *redis && p->production && is_loopback(host))
		finding(p, STATUS_WARNING, "cache.redis_url points at this machine (%s) in production", host);
	if (json_path(p->doc, "cache.ttl") && json_path_duration_ms(p->doc, "cache.ttl", 0) <= 0)
		finding(p, STATUS_CRITICAL, "cache.ttl must be a positive duration");
}

static void check_api(struct policy *p)
{
	double port = json_path_number(p->doc, "api.port", 8000);
	double workers = json_path_number(p->doc, "api.workers", 1);
	if (port < 1 || port > 65535 || port != floor(port))
		finding(p, STATUS_CRITICAL, "api.port %g is not a TCP port", port);
	if (workers < 1)
		finding(p, STATUS_CRITICAL, "api.workers must be at least 1");
	const char *host = json_path_string(p->doc, "api.host", NULL);
	if (host && p->production && (strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
				      strcmp(host, "::1") == 0))
		finding(p, STATUS_WARNING,
			"api.host %s listens on loopback only: nothing outside this machine reaches the API", host);
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
	if (security_absent(p, "encryption, RLS and audit logging are"))
		return;
	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (flag(p, flags[i], 0) != 1)
			finding(p, prod_critical(p), "%s is off", flags[i]);
	const char *alg = json_path_string(p->doc, "security.encryption.algorithm", NULL);
	if (alg && strcasecmp(alg, "AES-256-GCM") != 0)
		finding(p, STATUS_WARNING, "encryption algorithm %s is not AES-256-GCM", alg);
}

static void check_monitoring(struct policy *p)
{
	const cJSON *hc = json_path(p->doc, "monitoring.health_check");
	if (!hc || cJSON_IsNull(hc)) {
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
		if (json_path_number(hc, "success_threshold", 1) < 1)
			finding(p, STATUS_CRITICAL, "health check success_threshold must be at least 1");
		const cJSON *endpoints = json_path(hc, "endpoints");
		if (cJSON_GetArraySize(endpoints) == 0 && p->production)
			finding(p, STATUS_WARNING, "monitoring.health_check.endpoints is empty: nothing is watched");
	}
	const cJSON *metrics = json_path(p->doc, "monitoring.metrics");
	if (cJSON_IsObject(metrics)) {
		int64_t interval = json_path_duration_ms(metrics, "interval", 30000);
		int64_t retention = json_path_duration_ms(metrics, "retention", INT64_MAX);
		if (interval <= 0 || retention <= 0)
			finding(p, STATUS_CRITICAL, "metrics interval and retention must be positive durations");
		else if (retention < interval)
			finding(p, STATUS_WARNING, "metrics retention is shorter than the metrics interval");
	}
}

/* Whether alert channel name has what it needs to deliver. */
static int channel_configured(const struct policy *p, const char *name)
{
	char path[64];
	if (strcmp(name, "slack") == 0)
		return *json_path_string(p->doc, "alerts.slack.webhook_url", "") != '\0';
	if (strcmp(name, "email") == 0)
		return cJSON_GetArraySize(json_path(p->doc, "alerts.email.recipients")) > 0 &&
		       *json_path_string(p->doc, "alerts.email.smtp.url", "") != '\0';
	if (strcmp(name, "webhook") == 0 || strcmp(name, "alertmanager") == 0) {
		snprintf(path, sizeof path, "alerts.%s.url", name);
		return *json_path_string(p->doc, path, "") != '\0';
	}
	return -1; /* not a channel */
}

static void check_alerts(struct policy *p)
{
	static const char *const channels[] = {"slack", "email", "webhook", "alertmanager"};
	bool any = false;
	for (size_t i = 0; i < ARRAY_LEN(channels); i++)
		any = any || channel_configured(p, channels[i]) == 1;
	if (!any)
		finding(p, prod_critical(p),
			"no alert channel: no Slack webhook, no email recipients with an SMTP URL, no webhook or Alertmanager");
	const cJSON *r;
	cJSON_ArrayForEach(r, json_path(p->doc, "alerts.email.recipients"))
	{
		if (!cJSON_IsString(r) || !strchr(r->valuestring, '@'))
			finding(p, STATUS_CRITICAL, "email recipient \"%s\" is not an address",
				cJSON_IsString(r) ? r->valuestring : "?");
	}
	if (json_path(p->doc, "alerts.repeat_interval") &&
	    json_path_duration_ms(p->doc, "alerts.repeat_interval", 0) <= 0)
		finding(p, STATUS_CRITICAL, "alerts.repeat_interval must be a positive duration");

	/* Escalation: each level waits longer than the one before, and names
	 * channels that can deliver; an unconfigured one drops the alert. */
	const cJSON *levels = json_path(p->doc, "alerts.escalation.levels");
	const cJSON *lv;
	int64_t prev_after = -1;
	int i = 0;
	cJSON_ArrayForEach(lv, levels)
	{
		int64_t after = json_path_duration_ms(lv, "after", 0);
		int level = (int)json_path_number(lv, "level", i + 1);
		if (after < 0)
			finding(p, STATUS_CRITICAL, "escalation level %d: after is not a duration", level);
		else if (after < prev_after)
			finding(p, STATUS_WARNING, "escalation level %d comes sooner than the level before it", level);
		if (after >= 0)
			prev_after = after;
		const cJSON *c;
		const cJSON *names = json_path(lv, "channels");
		if (cJSON_GetArraySize(names) == 0)
			finding(p, prod_critical(p), "escalation level %d has no channels", level);
		cJSON_ArrayForEach(c, names)
		{
			const char *name = cJSON_IsString(c) ? c->valuestring : "?";
			int ok = channel_configured(p, name);
			if (ok < 0)
				finding(p, STATUS_CRITICAL, "escalation level %d: unknown channel \"%s\"", level, name);
			else if (!ok)
				finding(p, prod_critical(p),
					"escalation level %d uses %s, which is not configured: its alerts go nowhere",
					level, name);
		}
		i++;
	}
}

static void check_deploy(struct policy *p)
{
	if (!json_path(p->doc, "deploy"))
		return;
	const char *driver = json_path_string(p->doc, "deploy.driver", NULL);
	if (!driver || !*driver)
		finding(p, prod_critical(p), "deploy.driver is not set");
	if (json_path(p->doc, "deploy.timeout") && json_path_duration_ms(p->doc, "deploy.timeout", 0) <= 0)
		finding(p, STATUS_CRITICAL, "deploy.timeout must be a positive duration");
}

/* Secrets must come from templates: a literal secret in a file is one
 * commit away from a leak. Names the keys, never the values. */
static void secret_leaf(const char *path, const struct cfg_node *n, void *ctx)
{
	struct policy *p = ctx;
	if (n->type != CFG_STRING)
		return;
	if (!node_is_secret(n)) {
		/* a URL with a password in it carries a secret all the same */
		char *masked = n->str && !n->origin && n->loc.line > 0 ? redact_url(n->str) : NULL;
		if (masked && strcmp(masked, n->str) != 0)
			finding(p, prod_critical(p), "%s holds a credential, written in %s:%d, not taken from a variable",
				path, n->loc.file, n->loc.line);
		free(masked);
		return;
	}
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
	{"policy.urls", check_urls, "service, health, alert and deploy URLs are https; health paths start with /"},
	{"policy.api", check_api, "API port, workers and rate limit are sound"},
	{"policy.scaling", check_scaling, "scaling bounds and thresholds are consistent"},
	{"policy.compliance", check_compliance, "encryption, RLS and audit logging are on"},
	{"policy.monitoring", check_monitoring, "health checks and metrics are set"},
	{"policy.alerts", check_alerts, "alert channels are configured and escalation uses them"},
	{"policy.cache", check_cache, "the cache uses TLS and a positive TTL"},
	{"policy.deploy", check_deploy, "the deploy driver and timeout are set"},
	{"policy.secrets", check_secrets, "secrets come from variables and are set"},
};

int policy_check(const struct cfg_node *root, const struct check_inputs *in, enum output_format fmt,
		 struct buf *out)
{
	cJSON *doc = cfg_to_json(root);
	struct report *r = report_new("cfg-resolve");
	/* the environment may come from a variable: shown as every message is */
	char *env = redact_string(json_path_string(doc, "environment", ""));
	struct policy p = {.doc = doc, .root = root,
			   .production = environment_is_production(json_path_string(doc, "environment", NULL))};

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
	if (in->blueprint)
		blueprint_check(r, in->blueprint, doc, in->vars);
	if (in->n_env_files)
		env_files_check(r, in->vars, in->env_files, in->n_env_files);
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
	free(env);
	report_free(r);
	cJSON_Delete(doc);
	return (int)st;
}
