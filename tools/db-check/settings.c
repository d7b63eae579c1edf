/* settings.c — db-check's settings from the config document's database
 * section, --url-env and libpq's own environment. */
#include "db-check.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const check_names[CHECK_COUNT] = {
	[CHECK_CONNECT] = "connect",       [CHECK_VERSION] = "version",
	[CHECK_ROLE] = "role",             [CHECK_SSL] = "ssl",
	[CHECK_SCHEMA] = "schema",         [CHECK_TABLES] = "tables",
	[CHECK_RLS] = "rls",               [CHECK_EXTENSIONS] = "extensions",
	[CHECK_POOL] = "pool",             [CHECK_MIGRATIONS] = "migrations",
	[CHECK_LATENCY] = "latency",       [CHECK_ACTIVITY] = "activity",
	[CHECK_QUERIES] = "queries",
};

static void unknown_check(const char *option, const char *name, size_t len) __attribute__((noreturn));
static void unknown_check(const char *option, const char *name, size_t len)
{
	struct buf known = {0};
	for (size_t i = 0; i < CHECK_COUNT; i++)
		buf_printf(&known, "%s%s", i ? ", " : "", check_names[i]);
	die(EXIT_USAGE, "%s: unknown check \"%.*s\" (checks: %s)", option, (int)len, name, known.data);
}

unsigned check_list_parse(const char *list, const char *option)
{
	unsigned set = 0;
	const char *p = list;
	for (;;) {
		size_t full = strcspn(p, ","), len = full;
		const char *name = p;
		if (len > 3 && strncmp(name, "db.", 3) == 0) {
			name += 3;
			len -= 3;
		}
		size_t i;
		for (i = 0; i < CHECK_COUNT; i++)
			if (strlen(check_names[i]) == len && strncmp(name, check_names[i], len) == 0)
				break;
		if (i == CHECK_COUNT)
			unknown_check(option, name, len);
		set |= 1u << i;
		if (!p[full])
			break;
		p += full + 1;
	}
	return set;
}

/* ---- reading typed values from the validated config ---- */

/* A string copied out of the config (def when absent, may be NULL). */
static char *get_string(struct config *c, const char *path, const char *def)
{
	const char *v = def;
	config_string(c, path, def, &v);
	return v ? estrdup(v) : NULL;
}

static int get_int(struct config *c, const char *path, int64_t def)
{
	int64_t v = def;
	config_int(c, path, def, &v);
	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

static void get_range(struct config *c, const char *path, struct range *r, bool *has)
{
	const char *text = NULL;
	*has = false;
	if (!config_string(c, path, NULL, &text) || !text)
		return;
	if (range_parse(text, r) < 0) {
		config_error(c, path, "\"%s\" is not a range (expected 10, 10:, ~:10, 10:20 or @10:20)", text);
		return;
	}
	*has = true;
}

/* ---- versions ---- */

int server_version_parse(const char *text)
{
	int part[3] = {0, 0, 0}, n = 0;
	const char *p = text;
	if (!p || !isdigit((unsigned char)*p))
		return -1;
	while (n < 3) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > 9999)
			return -1;
		part[n++] = (int)v;
		if (*end == '\0')
			break;
		if (*end != '.' || !isdigit((unsigned char)end[1]))
			return -1;
		p = end + 1;
	}
	if (n == 3 && strchr(p, '.'))
		return -1;
	/* From 10 on the second number is the minor release: 15.4 -> 150004. */
	if (part[0] >= 10)
		return n > 2 ? -1 : part[0] * 10000 + part[1];
	return part[0] * 10000 + part[1] * 100 + part[2];
}

int version_compare(const char *a, const char *b)
{
	while (*a || *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			/* as numbers of any length: fewer digits (leading zeros
			 * aside) is smaller, then digit by digit */
			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			size_t na = strspn(a, "0123456789"), nb = strspn(b, "0123456789");
			if (na != nb)
				return na < nb ? -1 : 1;
			int c = memcmp(a, b, na);
			if (c)
				return c < 0 ? -1 : 1;
			a += na;
			b += nb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return 0;
}

/* ---- the URL ---- */

/* Checks the connection string the way libpq will read it, and registers
 * the password it holds so no message or report can show it. Returns
 * false after reporting why it is not one. */
static bool url_check(const char *url, char *why, size_t size)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	if (!opts) {
		snprintf(why, size, "%s", err ? err : "out of memory");
		PQfreemem(err);
		why[strcspn(why, "\n")] = '\0';
		return false;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && strcmp(o->keyword, "password") == 0)
			redact_register(o->val);
	PQconninfoFree(opts);
	return true;
}

static void url_load(struct settings *s, struct config *c, const char *url_env)
{
	if (url_env) {
		const char *v = getenv(url_env);
		if (!v || !*v)
			die(EXIT_DATAERR, "--url-env: environment variable %s is not set", url_env);
		s->url = estrdup(v);
		s->url_origin = easprintf("environment variable %s", url_env);
	} else if (c) {
		/* required by the schema: present once the config loaded */
		s->url = get_string(c, "database.url", NULL);
		s->url_origin = estrdup("database.url");
	}
	if (s->url) {
		char why[256];
		/* the whole URL is a secret too (a key=value string has no URL shape) */
		redact_register(s->url);
		bool valid = url_check(s->url, why, sizeof why);
		if (!valid && c && !url_env)
			config_error(c, "database.url", "invalid connection string: %s", why);
		else if (!valid)
			die(EXIT_DATAERR, "%s: invalid connection string: %s", s->url_origin, why);
	}
	const char *pw = getenv("PGPASSWORD");
	if (pw && *pw)
		redact_register(pw);
}

/* ---- the database section ---- */

static void load_query(struct settings *s, struct config *c, size_t i)
{
	char path[96];
	struct custom_query *cq = &s->queries[s->nqueries++];
	snprintf(path, sizeof path, "database.queries[%zu].name", i);
	cq->name = get_string(c, path, "");
	for (const char *p = cq->name; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p)) {
			config_error(c, path, "\"%s\": use letters, digits, '_', '-' and '.'", cq->name);
			break;
		}
	}
	for (size_t k = 0; k + 1 < s->nqueries; k++)
		if (strcmp(s->queries[k].name, cq->name) == 0)
			config_error(c, path, "\"%s\" is used twice", cq->name);
	snprintf(path, sizeof path, "database.queries[%zu].sql", i);
	cq->sql = get_string(c, path, "");
	snprintf(path, sizeof path, "database.queries[%zu].warning", i);
	get_range(c, path, &cq->limits.warning, &cq->limits.has_warning);
	snprintf(path, sizeof path, "database.queries[%zu].critical", i);
	get_range(c, path, &cq->limits.critical, &cq->limits.has_critical);
}

static void load_lists(struct settings *s, struct config *c)
{
	char path[96];
	size_t n = config_list_len(c, "database.queries");
	s->queries = ecalloc(n ? n : 1, sizeof *s->queries);
	for (size_t i = 0; i < n; i++)
		load_query(s, c, i);

	n = config_list_len(c, "database.extensions");
	s->extensions = ecalloc(n ? n : 1, sizeof *s->extensions);
	for (size_t i = 0; i < n; i++) {
		struct extension_req *x = &s->extensions[s->nextensions++];
		snprintf(path, sizeof path, "database.extensions[%zu].name", i);
		x->name = get_string(c, path, "");
		snprintf(path, sizeof path, "database.extensions[%zu].version", i);
		x->min_version = get_string(c, path, NULL);
		snprintf(path, sizeof path, "database.extensions[%zu].min_version", i);
		if (!x->min_version)
			x->min_version = get_string(c, path, NULL);
	}

	n = config_list_len(c, "database.tables");
	s->tables = ecalloc(n ? n : 1, sizeof *s->tables);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "database.tables[%zu]", i);
		s->tables[s->ntables++] = get_string(c, path, "");
	}
}

static void load_migrations(struct settings *s, struct config *c)
{
	static const char *const orders[] = {"numeric", "lexical", "applied", NULL};
	int order = ORDER_NUMERIC;
	s->migrations_table = get_string(c, "database.migrations.table", "schema_migrations");
	s->migrations_column = get_string(c, "database.migrations.column", "version");
	s->migrations_version = get_string(c, "database.migrations.version", NULL);
	s->migrations_applied_column = get_string(c, "database.migrations.applied_column", "applied_at");
	config_enum(c, "database.migrations.order", orders, ORDER_NUMERIC, &order);
	s->migrations_order = (enum migrations_order)order;
}

static void load_server(struct settings *s, struct config *c)
{
	/* "standby" is a replica too, as PostgreSQL names it */
	static const char *const roles[] = {"primary", "replica", "any", "standby", NULL};
	static const enum role role_of[] = {ROLE_PRIMARY, ROLE_REPLICA, ROLE_ANY, ROLE_REPLICA};
	int role = 0;
	config_bool(c, "database.require_ssl", true, &s->require_ssl);
	s->min_server_version = get_string(c, "database.min_server_version", NULL);
	if (s->min_server_version) {
		s->min_server_version_num = server_version_parse(s->min_server_version);
		if (s->min_server_version_num < 0)
			config_error(c, "database.min_server_version", "\"%s\" is not a version such as 15 or 15.4",
				     s->min_server_version);
	}
	config_enum(c, "database.expected_role", roles, 0, &role);
	s->expected_role = role_of[role];
}

static void load_limits(struct settings *s, struct config *c)
{
	config_duration_ms(c, "database.connect_warning", s->connect_warning_ms, &s->connect_warning_ms);
	config_duration_ms(c, "database.connect_critical", s->connect_critical_ms, &s->connect_critical_ms);
	config_duration_ms(c, "database.statement_timeout", s->statement_timeout_ms, &s->statement_timeout_ms);
	config_duration_ms(c, "database.lock_timeout", s->lock_timeout_ms, &s->lock_timeout_ms);
	/* the demand is the application's pool: judged only when the config
	 * gives it; without one the check reports the slots in use, as ad hoc */
	s->pool_size = -1;
	config_int(c, "database.pool_size", -1, &s->pool_size);
	config_int(c, "database.max_overflow", 0, &s->max_overflow);
	config_int(c, "scaling.max_instances", 10, &s->max_instances);
	s->pool_configured = s->pool_size >= 0;
	s->latency_count = get_int(c, "database.latency.count", s->latency_count);
	config_duration_ms(c, "database.latency.warning", s->latency_warning_ms, &s->latency_warning_ms);
	config_duration_ms(c, "database.latency.critical", s->latency_critical_ms, &s->latency_critical_ms);
	config_duration_ms(c, "database.activity.transaction_warning", s->xact_warning_ms, &s->xact_warning_ms);
	config_duration_ms(c, "database.activity.transaction_critical", s->xact_critical_ms, &s->xact_critical_ms);
	config_int(c, "database.activity.lock_waiters_warning", s->lock_waiters_warning, &s->lock_waiters_warning);
	config_int(c, "database.activity.lock_waiters_critical", s->lock_waiters_critical, &s->lock_waiters_critical);
}

/* The database section; its types, ranges and required keys are the
 * schema's (config/schema.yaml), checked when the config was loaded. */
static void load_database(struct settings *s, struct config *c)
{
	s->schema = get_string(c, "database.schema", "public");
	config_bool(c, "database.rls.required", true, &s->rls_required);
	config_bool(c, "database.rls.forced", false, &s->rls_forced);
	load_lists(s, c);
	load_migrations(s, c);
	load_server(s, c);
	load_limits(s, c);
}

void settings_load(struct settings *s, struct config *c, const char *url_env)
{
	/* defaults: the ad hoc run and every key a config leaves out */
	s->connect_warning_ms = 2000;
	s->connect_critical_ms = 8000;
	s->statement_timeout_ms = 5000;
	s->lock_timeout_ms = 1000;
	s->expected_role = ROLE_PRIMARY;
	s->latency_count = 5;
	s->latency_warning_ms = 100;
	s->latency_critical_ms = 1000;
	s->xact_warning_ms = 60000;
	s->xact_critical_ms = 600000;
	s->lock_waiters_warning = 5;
	s->lock_waiters_critical = 20;
	s->have_config = c != NULL;
	if (c)
		load_database(s, c);
	url_load(s, c, url_env);
}

void settings_free(struct settings *s)
{
	free(s->url);
	free(s->url_origin);
	free(s->schema);
	for (size_t i = 0; i < s->ntables; i++)
		free(s->tables[i]);
	free(s->tables);
	for (size_t i = 0; i < s->nextensions; i++) {
		free(s->extensions[i].name);
		free(s->extensions[i].min_version);
	}
	free(s->extensions);
	free(s->migrations_table);
	free(s->migrations_column);
	free(s->migrations_version);
	free(s->migrations_applied_column);
	free(s->min_server_version);
	for (size_t i = 0; i < s->nqueries; i++) {
		free(s->queries[i].name);
		free(s->queries[i].sql);
	}
	free(s->queries);
}
