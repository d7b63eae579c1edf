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
			die(EXIT_USAGE, "%s: unknown check \"%.*s\" (checks: connect, version, role, ssl, "
			    "schema, tables, rls, extensions, pool, migrations, latency, activity, queries)",
			    option, (int)len, name);
		set |= 1u << i;
		if (!p[full])
			break;
		p += full + 1;
	}
	return set;
}

/* ---- reading typed values, every problem named by source and field ---- */

static const char *source_name = "config";

static void invalid(const char *field, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void invalid(const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *why = evasprintf(fmt, ap);
	va_end(ap);
	die(EXIT_DATAERR, "%s: %s: %s", source_name, field, why);
}

static const char *type_name(const cJSON *j)
{
	if (cJSON_IsString(j)) return "a string";
	if (cJSON_IsNumber(j)) return "a number";
	if (cJSON_IsBool(j)) return "a boolean";
	if (cJSON_IsArray(j)) return "a list";
	if (cJSON_IsObject(j)) return "a mapping";
	return "null";
}

/* A string (numbers are taken as written: min_server_version: 15). */
static char *get_string(const cJSON *j, const char *field, const char *def)
{
	if (!j || cJSON_IsNull(j))
		return def ? estrdup(def) : NULL;
	if (cJSON_IsString(j))
		return estrdup(j->valuestring);
	if (cJSON_IsNumber(j)) {
		char buf[64];
		snprintf(buf, sizeof buf, "%.15g", j->valuedouble);
		return estrdup(buf);
	}
	invalid(field, "expected a string, got %s", type_name(j));
}

static int64_t get_int(const cJSON *j, const char *field, int64_t def, int64_t min, int64_t max)
{
	double v;
	if (!j || cJSON_IsNull(j))
		return def;
	if (cJSON_IsNumber(j)) {
		v = j->valuedouble;
	} else if (cJSON_IsString(j)) {
		char *end;
		errno = 0;
		long long n = strtoll(j->valuestring, &end, 10);
		if (end == j->valuestring || *end || errno)
			invalid(field, "expected a whole number, got \"%s\"", j->valuestring);
		v = (double)n;
	} else {
		invalid(field, "expected a whole number, got %s", type_name(j));
	}
	if (v != floor(v))
		invalid(field, "expected a whole number, got %g", v);
	if (v < (double)min || v > (double)max)
		invalid(field, "%g is out of range (%lld to %lld)", v, (long long)min, (long long)max);
	return (int64_t)v;
}

/* Booleans as YAML operators write them, also when a template made them strings. */
static bool get_bool(const cJSON *j, const char *field, bool def)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	if (!j || cJSON_IsNull(j))
		return def;
	if (cJSON_IsBool(j))
		return cJSON_IsTrue(j);
	if (cJSON_IsString(j)) {
		for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
			if (strcasecmp(j->valuestring, yes[i]) == 0)
				return true;
			if (strcasecmp(j->valuestring, no[i]) == 0)
				return false;
		}
		invalid(field, "expected true or false, got \"%s\"", j->valuestring);
	}
	invalid(field, "expected true or false, got %s", type_name(j));
}

static int64_t get_duration(const cJSON *parent, const char *key, const char *field, int64_t def)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
	int64_t ms = json_path_duration_ms(parent, key, def);
	if (j && !cJSON_IsNull(j) && ms < 0) {
		if (cJSON_IsString(j))
			invalid(field, "expected a duration such as 2s or 500ms, got \"%s\"", j->valuestring);
		invalid(field, "expected a duration such as 2s or 500ms, got %s", type_name(j));
	}
	return ms;
}

static const cJSON *get_map(const cJSON *parent, const char *key, const char *field)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (j && !cJSON_IsNull(j) && !cJSON_IsObject(j))
		invalid(field, "expected a mapping, got %s", type_name(j));
	return cJSON_IsObject(j) ? j : NULL;
}

static const cJSON *get_list(const cJSON *parent, const char *key, const char *field)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (j && !cJSON_IsNull(j) && !cJSON_IsArray(j))
		invalid(field, "expected a list, got %s", type_name(j));
	return cJSON_IsArray(j) ? j : NULL;
}


/* One of a fixed set of names, the first the default when j is absent; any
 * other string is invalid, named with the choices. */
struct choice {
	const char *name;
	int value;
};
static int get_choice(const cJSON *j, const char *field, const struct choice *choices, const char *choices_text)
{
	char *name = get_string(j, field, choices[0].name);
	for (const struct choice *c = choices; c->name; c++) {
		if (strcmp(name, c->name) == 0) {
			free(name);
			return c->value;
		}
	}
	char copy[64];
	snprintf(copy, sizeof copy, "%s", name);
	free(name);
	invalid(field, "\"%s\" is not %s", copy, choices_text);
}
static void get_range(const cJSON *j, const char *field, struct range *r, bool *has)
{
	*has = false;
	if (!j || cJSON_IsNull(j))
		return;
	char *text = get_string(j, field, NULL);
	if (range_parse(text, r) < 0) {
		char copy[128];
		snprintf(copy, sizeof copy, "%s", text);
		free(text);
		invalid(field, "\"%s\" is not a range (expected 10, 10:, ~:10, 10:20 or @10:20)", copy);
	}
	free(text);
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
 * the password it holds so no message or report can show it. */
static void url_check(const char *url, const char *field)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	if (!opts) {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", err ? err : "out of memory");
		PQfreemem(err);
		msg[strcspn(msg, "\n")] = '\0';
		invalid(field, "invalid connection string: %s", msg);
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && strcmp(o->keyword, "password") == 0)
			redact_register(o->val);
	PQconninfoFree(opts);
}

static void url_load(struct settings *s, const cJSON *db, const char *url_env)
{
	if (url_env) {
		const char *v = getenv(url_env);
		if (!v || !*v)
			die(EXIT_DATAERR, "--url-env: environment variable %s is not set", url_env);
		s->url = estrdup(v);
		s->url_origin = easprintf("environment variable %s", url_env);
	} else if (s->have_config) {
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(db, "url");
		if (!j || cJSON_IsNull(j))
			invalid("database.url", "missing (the database connection URL)");
		s->url = get_string(j, "database.url", NULL);
		s->url_origin = estrdup("database.url");
		if (!*s->url)
			invalid("database.url", "empty");
	}
	if (s->url) {
		/* the whole URL is a secret too (a key=value string has no URL shape) */
		redact_register(s->url);
		url_check(s->url, s->url_origin);
	}
	const char *pw = getenv("PGPASSWORD");
	if (pw && *pw)
		redact_register(pw);
}

/* ---- the database section ---- */

static void load_queries(struct settings *s, const cJSON *db)
{
	const cJSON *list = get_list(db, "queries", "database.queries");
	size_t n = list ? (size_t)cJSON_GetArraySize(list) : 0;
	s->queries = ecalloc(n ? n : 1, sizeof *s->queries);
	for (size_t i = 0; i < n; i++) {
		const cJSON *q = cJSON_GetArrayItem(list, (int)i);
		char field[96];
		snprintf(field, sizeof field, "database.queries[%zu]", i);
		if (!cJSON_IsObject(q))
			invalid(field, "expected a mapping with name, sql, warning, critical");
		struct custom_query *cq = &s->queries[s->nqueries++];
		snprintf(field, sizeof field, "database.queries[%zu].name", i);
		cq->name = get_string(cJSON_GetObjectItemCaseSensitive(q, "name"), field, NULL);
		if (!cq->name || !*cq->name)
			invalid(field, "missing");
		for (const char *p = cq->name; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
				invalid(field, "\"%s\": use letters, digits, '_', '-' and '.'", cq->name);
		for (size_t k = 0; k + 1 < s->nqueries; k++)
			if (strcmp(s->queries[k].name, cq->name) == 0)
				invalid(field, "\"%s\" is used twice", cq->name);
		snprintf(field, sizeof field, "database.queries[%zu].sql", i);
		cq->sql = get_string(cJSON_GetObjectItemCaseSensitive(q, "sql"), field, NULL);
		if (!cq->sql || !*cq->sql)
			invalid(field, "missing");
		snprintf(field, sizeof field, "database.queries[%zu].warning", i);
		get_range(cJSON_GetObjectItemCaseSensitive(q, "warning"), field, &cq->limits.warning,
			  &cq->limits.has_warning);
		snprintf(field, sizeof field, "database.queries[%zu].critical", i);
		get_range(cJSON_GetObjectItemCaseSensitive(q, "critical"), field, &cq->limits.critical,
			  &cq->limits.has_critical);
	}
}

static void load_extensions(struct settings *s, const cJSON *db)
{
	const cJSON *list = get_list(db, "extensions", "database.extensions");
	size_t n = list ? (size_t)cJSON_GetArraySize(list) : 0;
	s->extensions = ecalloc(n ? n : 1, sizeof *s->extensions);
	for (size_t i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(list, (int)i);
		char field[96];
		struct extension_req *x = &s->extensions[s->nextensions++];
		snprintf(field, sizeof field, "database.extensions[%zu]", i);
		if (cJSON_IsString(e)) { /* "- pgcrypto" is a name alone */
			x->name = estrdup(e->valuestring);
		} else if (cJSON_IsObject(e)) {
			snprintf(field, sizeof field, "database.extensions[%zu].name", i);
			x->name = get_string(cJSON_GetObjectItemCaseSensitive(e, "name"), field, NULL);
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "version");
			if (!v)
				v = cJSON_GetObjectItemCaseSensitive(e, "min_version");
			snprintf(field, sizeof field, "database.extensions[%zu].version", i);
			x->min_version = get_string(v, field, NULL);
		} else {
			invalid(field, "expected a name or a mapping with name and version");
		}
		if (!x->name || !*x->name)
			invalid(field, "missing the extension name");
	}
}

static void load_database(struct settings *s, const cJSON *doc)
{
	const cJSON *db = get_map(doc, "database", "database");
	if (!db)
		invalid("database", "no database section in the config document");
	s->schema = get_string(cJSON_GetObjectItemCaseSensitive(db, "schema"), "database.schema",
			       "upload_pipeline");
	if (!*s->schema)
		invalid("database.schema", "empty");

	const cJSON *tables = get_list(db, "tables", "database.tables");
	size_t n = tables ? (size_t)cJSON_GetArraySize(tables) : 0;
	s->tables = ecalloc(n ? n : 1, sizeof *s->tables);
	for (size_t i = 0; i < n; i++) {
		char field[64];
		snprintf(field, sizeof field, "database.tables[%zu]", i);
		const cJSON *t = cJSON_GetArrayItem(tables, (int)i);
		if (!cJSON_IsString(t) || !*t->valuestring)
			invalid(field, "expected a table name");
		s->tables[s->ntables++] = estrdup(t->valuestring);
	}

	const cJSON *rls = get_map(db, "rls", "database.rls");
	s->rls_required = get_bool(cJSON_GetObjectItemCaseSensitive(rls, "required"), "database.rls.required", true);
	s->rls_forced = get_bool(cJSON_GetObjectItemCaseSensitive(rls, "forced"), "database.rls.forced", false);
	load_extensions(s, db);

	const cJSON *mig = get_map(db, "migrations", "database.migrations");
	s->migrations_table = get_string(cJSON_GetObjectItemCaseSensitive(mig, "table"),
					 "database.migrations.table", "schema_migrations");
	s->migrations_column = get_string(cJSON_GetObjectItemCaseSensitive(mig, "column"),
					  "database.migrations.column", "version");
	s->migrations_version = get_string(cJSON_GetObjectItemCaseSensitive(mig, "version"),
					   "database.migrations.version", NULL);
	s->migrations_applied_column = get_string(cJSON_GetObjectItemCaseSensitive(mig, "applied_column"),
						  "database.migrations.applied_column", "applied_at");
	if (!*s->migrations_table || !*s->migrations_column || !*s->migrations_applied_column)
		invalid("database.migrations", "table and columns must not be empty");
	static const struct choice orders[] = {
		{"numeric", ORDER_NUMERIC}, {"lexical", ORDER_LEXICAL}, {"applied", ORDER_APPLIED}, {NULL, 0}};
	s->migrations_order = (enum migrations_order)get_choice(cJSON_GetObjectItemCaseSensitive(mig, "order"),
								"database.migrations.order", orders,
								"numeric, lexical or applied");

	s->require_ssl = get_bool(cJSON_GetObjectItemCaseSensitive(db, "require_ssl"), "database.require_ssl", true);
	s->min_server_version = get_string(cJSON_GetObjectItemCaseSensitive(db, "min_server_version"),
					   "database.min_server_version", NULL);
	if (s->min_server_version) {
		s->min_server_version_num = server_version_parse(s->min_server_version);
		if (s->min_server_version_num < 0)
			invalid("database.min_server_version", "\"%s\" is not a version such as 15 or 15.4",
				s->min_server_version);
	}
	static const struct choice roles[] = {
		{"primary", ROLE_PRIMARY}, {"replica", ROLE_REPLICA}, {"standby", ROLE_REPLICA}, {"any", ROLE_ANY},
		{NULL, 0}};
	s->expected_role = (enum role)get_choice(cJSON_GetObjectItemCaseSensitive(db, "expected_role"),
						 "database.expected_role", roles, "primary, replica or any");

	s->connect_warning_ms = get_duration(db, "connect_warning", "database.connect_warning", s->connect_warning_ms);
	s->connect_critical_ms = get_duration(db, "connect_critical", "database.connect_critical", s->connect_critical_ms);
	s->statement_timeout_ms = get_duration(db, "statement_timeout", "database.statement_timeout", s->statement_timeout_ms);
	s->lock_timeout_ms = get_duration(db, "lock_timeout", "database.lock_timeout", s->lock_timeout_ms);
	if (s->statement_timeout_ms <= 0)
		invalid("database.statement_timeout", "must be above 0");
	if (s->lock_timeout_ms <= 0)
		invalid("database.lock_timeout", "must be above 0");

	s->pool_size = get_int(cJSON_GetObjectItemCaseSensitive(db, "pool_size"), "database.pool_size", 20, 0, 100000);
	s->max_overflow = get_int(cJSON_GetObjectItemCaseSensitive(db, "max_overflow"), "database.max_overflow", 30, 0, 100000);
	const cJSON *scaling = get_map(doc, "scaling", "scaling");
	s->max_instances = get_int(cJSON_GetObjectItemCaseSensitive(scaling, "max_instances"),
				   "scaling.max_instances", 10, 1, 10000);
	s->pool_configured = true;

	const cJSON *lat = get_map(db, "latency", "database.latency");
	s->latency_count = (int)get_int(cJSON_GetObjectItemCaseSensitive(lat, "count"), "database.latency.count",
					s->latency_count, 1, 1000);
	s->latency_warning_ms = get_duration(lat, "warning", "database.latency.warning", s->latency_warning_ms);
	s->latency_critical_ms = get_duration(lat, "critical", "database.latency.critical", s->latency_critical_ms);

	const cJSON *act = get_map(db, "activity", "database.activity");
	s->xact_warning_ms = get_duration(act, "transaction_warning", "database.activity.transaction_warning",
					  s->xact_warning_ms);
	s->xact_critical_ms = get_duration(act, "transaction_critical", "database.activity.transaction_critical",
					   s->xact_critical_ms);
	s->lock_waiters_warning = get_int(cJSON_GetObjectItemCaseSensitive(act, "lock_waiters_warning"),
					  "database.activity.lock_waiters_warning", s->lock_waiters_warning, 1, 1000000);
	s->lock_waiters_critical = get_int(cJSON_GetObjectItemCaseSensitive(act, "lock_waiters_critical"),
					   "database.activity.lock_waiters_critical", s->lock_waiters_critical, 1, 1000000);
	load_queries(s, db);
}

void settings_load(struct settings *s, const cJSON *doc, const char *url_env)
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
	s->have_config = doc != NULL;
	if (s->source)
		source_name = s->source;
	if (doc)
		load_database(s, doc);
	url_load(s, doc ? cJSON_GetObjectItemCaseSensitive(doc, "database") : NULL, url_env);
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
