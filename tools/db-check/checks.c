/* checks.c — db-check's checks: one read-only transaction, the catalog
 * questions and the migrations table pipelined in one round trip, then the
 * latency round trips and the custom queries, each judged into the report. */
#include "db-check.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statement that fixes the transaction's limits (and takes its snapshot,
 * after which it can no longer be made read-write). */
static const char sql_limits[] =
	"SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true), "
	"set_config('idle_in_transaction_session_timeout', $3, true), "
	"set_config('default_transaction_read_only', 'on', false)";

/* The server's settings and who we are: one row. */
static const char sql_settings[] =
	"SELECT pg_is_in_recovery(), current_setting('max_connections'), "
	"current_setting('superuser_reserved_connections'), current_setting('reserved_connections', true), "
	"current_setting('ssl'), current_user, current_database(), pg_backend_pid()";
enum { G_RECOVERY, G_MAXCONN, G_SU_RESERVED, G_RESERVED, G_SERVER_SSL, G_USER, G_DATABASE, G_PID };

/* Every backend, from pg_stat_get_activity() itself (the function under
 * pg_stat_activity and pg_stat_ssl): the views' joins and aggregates cost a
 * new backend milliseconds of catalog look-ups, so db-check counts here. */
static const char sql_activity[] =
	"SELECT pid, backend_type, state, wait_event_type, "
	"extract(epoch FROM clock_timestamp() - xact_start)::float8, application_name, "
	"ssl, sslversion, sslcipher, sslbits, datid IS NOT NULL AND usesysid IS NOT NULL "
	"FROM pg_stat_get_activity(NULL)";
enum { A_PID, A_TYPE, A_STATE, A_WAIT, A_XACT_AGE, A_APP, A_SSL, A_SSL_VERSION, A_SSL_CIPHER, A_SSL_BITS, A_SESSION };

/* The schema: no row when it does not exist. */
static const char sql_schema[] =
	"SELECT has_schema_privilege(oid, 'USAGE'), pg_get_userbyid(nspowner) FROM pg_namespace "
	"WHERE nspname = $1";

/* The expected tables that exist in the schema: kind, RLS, SELECT privilege. */
static const char sql_tables[] =
	"SELECT relname, relkind, relrowsecurity, relforcerowsecurity, has_table_privilege(oid, 'SELECT') "
	"FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) "
	"AND relname = ANY($2::name[]) AND relkind IN ('r', 'p', 'v', 'm', 'f')";

static const char sql_extensions[] =
	"SELECT extname, extversion FROM pg_extension WHERE extname = ANY($1::name[])";

#define SAVEPOINT_NAME "db_check"

struct ctx {
	const struct settings *s;
	struct report *r;
	PGconn *c;
	bool include[CHECK_COUNT];
	bool stopped;         /* timed out, lost the connection or the transaction: nothing more runs */
	char stop_why[512];   /* what the checks not run say */
};

/* What the settings and activity statements say, borrowed from their
 * results (valid until those are cleared). */
struct facts {
	bool in_recovery;
	long long maxconn, su_reserved, reserved;
	const char *server_ssl, *user, *database;
	bool ssl;
	const char *ssl_version, *ssl_cipher, *ssl_bits;
	long long others, waiters, hidden;
	bool have_oldest;
	double oldest_age_s;
	const char *oldest_pid, *oldest_state, *oldest_app;
};

static char *check_name(const char *name)
{
	return easprintf("db.%s", name);
}

static cJSON *add(struct ctx *x, enum check_id id, enum status st, int64_t ms, cJSON *data, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static cJSON *add(struct ctx *x, enum check_id id, enum status st, int64_t ms, cJSON *data, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = evasprintf(fmt, ap);
	va_end(ap);
	char *name = check_name(check_names[id]);
	cJSON *c = report_add_check(x->r, name, st, ms, data, "%s", msg);
	free(name);
	free(msg);
	return c;
}

/* ---- small readers of results ---- */

static bool ok_rows(const PGresult *r)
{
	return r && PQresultStatus(r) == PGRES_TUPLES_OK;
}

static const char *val(const PGresult *r, int row, int col)
{
	if (!r || row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

static bool val_bool(const PGresult *r, int row, int col)
{
	const char *v = val(r, row, col);
	return v && *v == 't';
}

static double val_num(const PGresult *r, int row, int col, double def)
{
	const char *v = val(r, row, col);
	return v ? strtod(v, NULL) : def;
}

/* The row whose column col equals name, or -1. */
static int find_row(const PGresult *r, int col, const char *name)
{
	for (int i = 0; r && i < PQntuples(r); i++)
		if (val(r, i, col) && strcmp(val(r, i, col), name) == 0)
			return i;
	return -1;
}

static void json_add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

/* ---- which checks run ---- */

static bool configured(const struct settings *s, enum check_id id)
{
	switch (id) {
	case CHECK_SCHEMA: return s->schema != NULL;
	case CHECK_TABLES: return s->ntables > 0;
	case CHECK_RLS: return s->ntables > 0 && (s->rls_required || s->rls_forced);
	case CHECK_EXTENSIONS: return s->nextensions > 0;
	case CHECK_MIGRATIONS: return s->migrations_version != NULL;
	case CHECK_QUERIES: return s->nqueries > 0;
	default: return true;
	}
}

static void not_configured(struct ctx *x, enum check_id id)
{
	static const char *const what[CHECK_COUNT] = {
		[CHECK_SCHEMA] = "no database.schema configured",
		[CHECK_TABLES] = "no database.tables configured",
		[CHECK_RLS] = "no tables configured, or database.rls.required and forced both off",
		[CHECK_EXTENSIONS] = "no database.extensions configured",
		[CHECK_MIGRATIONS] = "no database.migrations.version configured",
		[CHECK_QUERIES] = "no database.queries configured",
	};
	cJSON *d = cJSON_CreateObject();
	cJSON_AddBoolToObject(d, "configured", false);
	add(x, id, STATUS_OK, 0, d, "%s", what[id] ? what[id] : "not configured");
}

/* A check the run stopped before (the custom queries say so themselves). */
static void not_run(struct ctx *x, enum check_id id)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddBoolToObject(d, "run", false);
	add(x, id, STATUS_UNKNOWN, 0, d, "%s", x->stop_why);
}

/* Nothing more runs; what the checks not run say is formatted once here. */
static void stop_because(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void stop_because(struct ctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->stop_why, sizeof x->stop_why, fmt, ap);
	va_end(ap);
	x->stopped = true;
}

/* Stops on a statement that failed: "what: its error". */
static void stop_on_error(struct ctx *x, const char *what, const PGresult *res)
{
	char *err = result_error(res);
	stop_because(x, "%s: %s", what, err);
	free(err);
}

/* Stops on a pipeline that timed out or lost the connection. */
static void stop(struct ctx *x, enum run_status rs)
{
	char dur[32];
	if (rs == RUN_TIMEOUT) {
		stop_because(x, "not finished: the run is bounded by -t %s",
			     duration_format(x->s->timeout_ms, dur, sizeof dur));
	} else {
		char *err = redact_string(PQerrorMessage(x->c));
		err[strcspn(err, "\n")] = '\0';
		stop_because(x, "not finished: the connection failed%s%s", *err ? ": " : "", err);
		free(err);
	}
}

/* ---- connect ---- */

static void add_connect_perf(cJSON *chk, const struct settings *s, int64_t ms)
{
	check_add_perf(chk, "connect_time", (double)ms, "ms", (double)s->connect_warning_ms,
		       (double)s->connect_critical_ms);
}

/* A failed connect: critical, naming the checks it leaves unrun; an SSL
 * failure is also the ssl check's answer. */
static void connect_failed(struct ctx *x, const struct conn_failure *f, cJSON *d, int64_t ms)
{
	const struct settings *s = x->s;
	cJSON_AddStringToObject(d, "failure", f->kind);
	cJSON_AddStringToObject(d, "reason", f->reason);
	cJSON_AddStringToObject(d, "error", f->detail ? f->detail : "");
	cJSON *nr = cJSON_AddArrayToObject(d, "not_run");
	for (int i = CHECK_CONNECT + 1; i < CHECK_COUNT; i++)
		if (x->include[i])
			cJSON_AddItemToArray(nr, cJSON_CreateString(check_names[i]));
	add_connect_perf(add(x, CHECK_CONNECT, STATUS_CRITICAL, ms, d, "%s", f->message), s, ms);
	if (strcmp(f->kind, "ssl") == 0 && x->include[CHECK_SSL]) {
		cJSON *sd = cJSON_CreateObject();
		cJSON_AddBoolToObject(sd, "encrypted", false);
		cJSON_AddBoolToObject(sd, "required", s->require_ssl);
		add(x, CHECK_SSL, STATUS_CRITICAL, ms, sd, "%s", f->message);
	}
	int not_run = cJSON_GetArraySize(nr);
	if (not_run)
		report_set_summary(x->r, "cannot connect (%d other check%s not run)", not_run, not_run == 1 ? "" : "s");
	else
		report_set_summary(x->r, "cannot connect");
}

/* Connected: where to, as whom, and how the time taken compares with its
 * limits. */
static void connected(struct ctx *x, cJSON *d, int64_t ms)
{
	const struct settings *s = x->s;
	const char *host = PQhost(x->c), *port = PQport(x->c);
	json_add_str(d, "host", host);
	json_add_str(d, "port", port);
	json_add_str(d, "user", PQuser(x->c));
	json_add_str(d, "database", PQdb(x->c));
	enum status st = STATUS_OK;
	char *judgement = NULL;
	char limit[32];
	if (ms > s->connect_critical_ms) {
		st = STATUS_CRITICAL;
		judgement = easprintf(", above the critical %s",
				      duration_format(s->connect_critical_ms, limit, sizeof limit));
	} else if (ms > s->connect_warning_ms) {
		st = STATUS_WARNING;
		judgement = easprintf(", above the warning %s",
				      duration_format(s->connect_warning_ms, limit, sizeof limit));
	}
	cJSON *chk = add(x, CHECK_CONNECT, st, ms, d, "connected in %lld ms%s as %s to %s on %s%s%s", (long long)ms,
			 judgement ? judgement : "", PQuser(x->c), PQdb(x->c), host && *host ? host : "local socket",
			 port && *port ? ":" : "", port ? port : "");
	free(judgement);
	add_connect_perf(chk, s, ms);
}

/* The connect check; false when there is no connection to run the rest on. */
static bool do_connect(struct ctx *x)
{
	const struct settings *s = x->s;
	struct conn_failure f = {0};
	int64_t ms = 0;
	x->c = db_connect(s, &f, &ms);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "connect_ms", (double)ms);
	cJSON_AddNumberToObject(d, "warning_ms", (double)s->connect_warning_ms);
	cJSON_AddNumberToObject(d, "critical_ms", (double)s->connect_critical_ms);
	if (s->url_origin)
		cJSON_AddStringToObject(d, "url_from", s->url_origin);
	else
		cJSON_AddStringToObject(d, "url_from", "libpq environment (PG* variables, ~/.pgpass)");
	if (!x->c) {
		connect_failed(x, &f, d, ms);
		conn_failure_free(&f);
		return false;
	}
	connected(x, d, ms);
	return true;
}

/* ---- the judgements of the one-round-trip batch ---- */

static void judge_version(struct ctx *x, int64_t ms)
{
	const struct settings *s = x->s;
	int num = PQserverVersion(x->c);
	const char *text = PQparameterStatus(x->c, "server_version");
	cJSON *d = cJSON_CreateObject();
	json_add_str(d, "version", text);
	cJSON_AddNumberToObject(d, "version_num", num);
	json_add_str(d, "minimum", s->min_server_version);
	if (s->min_server_version_num && num < s->min_server_version_num)
		add(x, CHECK_VERSION, STATUS_CRITICAL, ms, d, "PostgreSQL %s is below the minimum %s",
		    text ? text : "?", s->min_server_version);
	else if (s->min_server_version_num)
		add(x, CHECK_VERSION, STATUS_OK, ms, d, "PostgreSQL %s (at least %s)", text ? text : "?",
		    s->min_server_version);
	else
		add(x, CHECK_VERSION, STATUS_OK, ms, d, "PostgreSQL %s (no minimum configured)", text ? text : "?");
}

static void judge_role(struct ctx *x, const struct facts *f, int64_t ms)
{
	static const char *const expected_names[] = {"primary", "replica", "any"};
	bool recovery = f->in_recovery;
	enum role expected = x->s->expected_role;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "role", recovery ? "replica" : "primary");
	cJSON_AddBoolToObject(d, "in_recovery", recovery);
	cJSON_AddStringToObject(d, "expected", expected_names[expected]);
	if (expected == ROLE_PRIMARY && recovery)
		add(x, CHECK_ROLE, STATUS_CRITICAL, ms, d,
		    "the server is in recovery (a standby), but a primary is expected");
	else if (expected == ROLE_REPLICA && !recovery)
		add(x, CHECK_ROLE, STATUS_CRITICAL, ms, d, "the server is a primary, but a replica is expected");
	else
		add(x, CHECK_ROLE, STATUS_OK, ms, d, "%s%s", recovery ? "replica (in recovery)" : "primary",
		    expected == ROLE_ANY ? "" : ", as expected");
}

static const char *client_sslmode(PGconn *c)
{
	static char mode[32];
	PQconninfoOption *opts = PQconninfo(c);
	snprintf(mode, sizeof mode, "prefer");
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "sslmode") == 0 && o->val)
			snprintf(mode, sizeof mode, "%s", o->val);
	PQconninfoFree(opts);
	return mode;
}

static void judge_ssl(struct ctx *x, const struct facts *f, int64_t ms)
{
	const struct settings *s = x->s;
	bool on = f->ssl;
	const char *server_ssl = f->server_ssl;
	const char *mode = client_sslmode(x->c);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddBoolToObject(d, "encrypted", on);
	cJSON_AddBoolToObject(d, "required", s->require_ssl);
	json_add_str(d, "protocol", f->ssl_version);
	json_add_str(d, "cipher", f->ssl_cipher);
	if (f->ssl_bits)
		cJSON_AddNumberToObject(d, "bits", strtod(f->ssl_bits, NULL));
	json_add_str(d, "server_ssl", server_ssl);
	cJSON_AddStringToObject(d, "sslmode", mode);
	if (on) {
		add(x, CHECK_SSL, STATUS_OK, ms, d, "encrypted: %s %s (%s bits)", f->ssl_version ? f->ssl_version : "?",
		    f->ssl_cipher ? f->ssl_cipher : "?", f->ssl_bits ? f->ssl_bits : "?");
		return;
	}
	const char *why = server_ssl && strcmp(server_ssl, "on") != 0 ? "the server has SSL off"
			  : strcmp(mode, "disable") == 0 || strcmp(mode, "allow") == 0
				  ? "the connection did not ask for it (sslmode)"
				  : "the connection fell back to plain text";
	if (s->require_ssl)
		add(x, CHECK_SSL, STATUS_CRITICAL, ms, d, "not encrypted (%s, sslmode=%s), but SSL is required", why,
		    mode);
	else
		add(x, CHECK_SSL, STATUS_OK, ms, d, "not encrypted (%s, sslmode=%s); SSL is not required", why, mode);
}

static void judge_schema(struct ctx *x, const PGresult *res, const char *user, int64_t ms)
{
	const char *schema = x->s->schema;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "schema", schema);
	bool exists = PQntuples(res) == 1, usage = val_bool(res, 0, 0);
	const char *owner = val(res, 0, 1);
	cJSON_AddBoolToObject(d, "exists", exists);
	cJSON_AddBoolToObject(d, "usage", usage);
	json_add_str(d, "owner", owner);
	if (!exists)
		add(x, CHECK_SCHEMA, STATUS_CRITICAL, ms, d, "schema \"%s\" does not exist", schema);
	else if (!usage)
		add(x, CHECK_SCHEMA, STATUS_CRITICAL, ms, d, "role %s lacks USAGE on schema \"%s\"", user, schema);
	else
		add(x, CHECK_SCHEMA, STATUS_OK, ms, d, "schema \"%s\" exists (owner %s) and %s may use it", schema,
		    owner ? owner : "?", user);
}

static void list_append(struct buf *b, const char *item)
{
	if (b->len)
		buf_puts(b, ", ");
	buf_puts(b, item);
}

static void judge_tables(struct ctx *x, const PGresult *res, const char *user, int64_t ms)
{
	const struct settings *s = x->s;
	struct buf missing = {0}, noselect = {0};
	size_t nmissing = 0;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "schema", s->schema);
	cJSON *arr = cJSON_AddArrayToObject(d, "tables");
	for (size_t k = 0; k < s->ntables; k++) {
		cJSON *t = cJSON_CreateObject();
		const char *name = s->tables[k];
		int i = find_row(res, 0, name);
		const char *kind = i >= 0 ? val(res, i, 1) : NULL;
		cJSON_AddStringToObject(t, "name", name);
		cJSON_AddBoolToObject(t, "exists", kind != NULL);
		if (kind) {
			json_add_str(t, "kind", kind);
			cJSON_AddBoolToObject(t, "select", val_bool(res, i, 4));
			if (!val_bool(res, i, 4))
				list_append(&noselect, name);
		} else {
			list_append(&missing, name);
			nmissing++;
		}
		cJSON_AddItemToArray(arr, t);
	}
	cJSON_AddNumberToObject(d, "missing", (double)nmissing);
	if (nmissing)
		add(x, CHECK_TABLES, STATUS_CRITICAL, ms, d, "missing %zu of %zu table%s in \"%s\": %s", nmissing,
		    s->ntables, s->ntables == 1 ? "" : "s", s->schema, missing.data);
	else if (noselect.len)
		add(x, CHECK_TABLES, STATUS_WARNING, ms, d, "all %zu tables exist, but %s may not SELECT from: %s",
		    s->ntables, user, noselect.data);
	else
		add(x, CHECK_TABLES, STATUS_OK, ms, d, "all %zu table%s exist in \"%s\"", s->ntables,
		    s->ntables == 1 ? "" : "s", s->schema);
	buf_free(&missing);
	buf_free(&noselect);
}

static void judge_rls(struct ctx *x, const PGresult *res, int64_t ms)
{
	const struct settings *s = x->s;
	struct buf off = {0}, unforced = {0}, missing = {0};
	cJSON *d = cJSON_CreateObject();
	cJSON_AddBoolToObject(d, "required", s->rls_required);
	cJSON_AddBoolToObject(d, "forced", s->rls_forced);
	cJSON *arr = cJSON_AddArrayToObject(d, "tables");
	size_t checked = 0;
	for (size_t k = 0; k < s->ntables; k++) {
		const char *name = s->tables[k];
		int i = find_row(res, 0, name);
		const char *kind = i >= 0 ? val(res, i, 1) : NULL;
		if (!kind) {
			list_append(&missing, name);
			continue;
		}
		if (strcmp(kind, "r") != 0 && strcmp(kind, "p") != 0)
			continue; /* views and foreign tables carry no RLS of their own */
		checked++;
		bool enabled = val_bool(res, i, 2), forced = val_bool(res, i, 3);
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", name);
		cJSON_AddBoolToObject(t, "enabled", enabled);
		cJSON_AddBoolToObject(t, "forced", forced);
		cJSON_AddItemToArray(arr, t);
		if (!enabled)
			list_append(&off, name);
		else if (s->rls_forced && !forced)
			list_append(&unforced, name);
	}
	if (missing.len)
		cJSON_AddStringToObject(d, "missing", missing.data);
	if (off.len && s->rls_required)
		add(x, CHECK_RLS, STATUS_CRITICAL, ms, d, "row-level security is not enabled on: %s%s%s", off.data,
		    unforced.len ? "; not forced on: " : "", unforced.len ? unforced.data : "");
	else if (s->rls_forced && (off.len || unforced.len))
		add(x, CHECK_RLS, STATUS_CRITICAL, ms, d, "row-level security is not forced on: %s%s%s",
		    unforced.data ? unforced.data : "", unforced.len && off.len ? ", " : "", off.len ? off.data : "");
	else if (missing.len)
		add(x, CHECK_RLS, STATUS_UNKNOWN, ms, d, "cannot check missing tables: %s (see db.tables)",
		    missing.data);
	else
		add(x, CHECK_RLS, STATUS_OK, ms, d, "row-level security %s on all %zu tables",
		    s->rls_forced ? "enabled and forced" : "enabled", checked);
	buf_free(&off);
	buf_free(&unforced);
	buf_free(&missing);
}

static void judge_extensions(struct ctx *x, const PGresult *res, int64_t ms)
{
	const struct settings *s = x->s;
	struct buf missing = {0}, old = {0}, have = {0};
	cJSON *d = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(d, "extensions");
	for (size_t i = 0; i < s->nextensions; i++) {
		const struct extension_req *e = &s->extensions[i];
		int row = find_row(res, 0, e->name);
		const char *v = row >= 0 ? val(res, row, 1) : NULL;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", e->name);
		json_add_str(o, "installed", v);
		json_add_str(o, "minimum", e->min_version);
		cJSON_AddItemToArray(arr, o);
		char item[256];
		if (!v) {
			list_append(&missing, e->name);
		} else if (e->min_version && version_compare(v, e->min_version) < 0) {
			snprintf(item, sizeof item, "%s %s (below %s)", e->name, v, e->min_version);
			list_append(&old, item);
		} else {
			snprintf(item, sizeof item, "%s %s", e->name, v);
			list_append(&have, item);
		}
	}
	if (missing.len || old.len)
		add(x, CHECK_EXTENSIONS, STATUS_CRITICAL, ms, d, "%s%s%s%s%s", missing.len ? "not installed: " : "",
		    missing.len ? missing.data : "", missing.len && old.len ? "; " : "", old.len ? "too old: " : "",
		    old.len ? old.data : "");
	else
		add(x, CHECK_EXTENSIONS, STATUS_OK, ms, d, "installed: %s", have.data);
	buf_free(&missing);
	buf_free(&old);
	buf_free(&have);
}

/* Slots for the application: max_connections less the reserved ones, less
 * what other sessions hold now (this check's own session is not counted: it
 * ends in a moment). */
static void judge_pool(struct ctx *x, const struct facts *f, int64_t ms)
{
	const struct settings *s = x->s;
	long long maxconn = f->maxconn, su = f->su_reserved, reserved = f->reserved, others = f->others;
	long long available = maxconn - su - reserved;
	long long free_slots = available - others;
	long long per_instance = s->pool_size + s->max_overflow;
	long long demand = s->pool_configured ? per_instance * s->max_instances : 0;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "max_connections", (double)maxconn);
	cJSON_AddNumberToObject(d, "superuser_reserved_connections", (double)su);
	cJSON_AddNumberToObject(d, "reserved_connections", (double)reserved);
	cJSON_AddNumberToObject(d, "available", (double)available);
	cJSON_AddNumberToObject(d, "in_use", (double)others);
	cJSON_AddNumberToObject(d, "sessions_hidden", (double)f->hidden);
	cJSON_AddNumberToObject(d, "free", (double)free_slots);
	/* hidden sessions are counted as in use; what they are is not seen */
	char hidden_note[160] = "";
	if (f->hidden)
		snprintf(hidden_note, sizeof hidden_note,
			 "; %lld of those in use %s other roles' session%s not visible to %s (grant pg_read_all_stats)",
			 f->hidden, f->hidden == 1 ? "is an" : "are", f->hidden == 1 ? "" : "s",
			 f->user ? f->user : "this role");
	enum status seen = f->hidden ? STATUS_WARNING : STATUS_OK;
	cJSON *chk;
	if (!s->pool_configured) {
		double pct = available > 0 ? 100.0 * (double)others / (double)available : 100.0;
		cJSON_AddNumberToObject(d, "in_use_pct", round(pct * 10) / 10);
		enum status st = free_slots <= 0 ? STATUS_CRITICAL : pct > 80 ? STATUS_WARNING : STATUS_OK;
		chk = add(x, CHECK_POOL, status_worst(st, seen), ms, d,
			  "%lld of %lld connection slots in use (%.0f%%), %lld free%s", others, available, pct,
			  free_slots, hidden_note);
		check_add_perf(chk, "connections", (double)others, "", 0.8 * (double)available, (double)available);
		return;
	}
	cJSON *dm = cJSON_AddObjectToObject(d, "demand");
	cJSON_AddNumberToObject(dm, "pool_size", (double)s->pool_size);
	cJSON_AddNumberToObject(dm, "max_overflow", (double)s->max_overflow);
	cJSON_AddNumberToObject(dm, "max_instances", (double)s->max_instances);
	cJSON_AddNumberToObject(dm, "total", (double)demand);
	double pct = free_slots > 0 ? 100.0 * (double)demand / (double)free_slots : (demand > 0 ? INFINITY : 0);
	if (isfinite(pct))
		cJSON_AddNumberToObject(d, "demand_pct_of_free", round(pct * 10) / 10);
	else
		cJSON_AddNullToObject(d, "demand_pct_of_free");
	enum status st = demand > free_slots ? STATUS_CRITICAL : pct > 80 ? STATUS_WARNING : STATUS_OK;
	const char *verdict = st == STATUS_CRITICAL ? "does not fit in"
			      : st == STATUS_WARNING ? "takes more than 80% of"
						     : "fits in";
	chk = add(x, CHECK_POOL, status_worst(st, seen), ms, d,
		  "demand %lld ((pool_size %lld + max_overflow %lld) x %lld instances) %s the %lld free slots "
		  "(max_connections %lld - %lld reserved - %lld in use)%s",
		  demand, (long long)s->pool_size, (long long)s->max_overflow, (long long)s->max_instances, verdict,
		  free_slots, maxconn, su + reserved, others, hidden_note);
	check_add_perf(chk, "pool_demand", (double)demand, "", 0.8 * (double)free_slots, (double)free_slots);
}

static void judge_activity(struct ctx *x, const struct facts *f, int64_t ms)
{
	const struct settings *s = x->s;
	double age_s = f->have_oldest ? f->oldest_age_s : 0;
	int64_t age_ms = (int64_t)(age_s * 1000);
	long long waiters = f->waiters, hidden = f->hidden;
	char a[32], w[32], c[32];
	cJSON *d = cJSON_CreateObject();
	cJSON *o = cJSON_AddObjectToObject(d, "oldest_transaction");
	if (f->have_oldest) {
		cJSON_AddNumberToObject(o, "age_ms", (double)age_ms);
		cJSON_AddNumberToObject(o, "pid", strtod(f->oldest_pid, NULL));
		json_add_str(o, "state", f->oldest_state);
		json_add_str(o, "application_name", f->oldest_app);
	}
	cJSON_AddNumberToObject(d, "lock_waiters", (double)waiters);
	cJSON_AddNumberToObject(d, "sessions_hidden", (double)hidden);
	cJSON_AddNumberToObject(d, "transaction_warning_ms", (double)s->xact_warning_ms);
	cJSON_AddNumberToObject(d, "transaction_critical_ms", (double)s->xact_critical_ms);
	cJSON_AddNumberToObject(d, "lock_waiters_warning", (double)s->lock_waiters_warning);
	cJSON_AddNumberToObject(d, "lock_waiters_critical", (double)s->lock_waiters_critical);

	enum status st = STATUS_OK;
	struct buf m = {0};
	if (f->have_oldest) {
		enum status ts = age_ms > s->xact_critical_ms ? STATUS_CRITICAL
				 : age_ms > s->xact_warning_ms ? STATUS_WARNING
							       : STATUS_OK;
		st = status_worst(st, ts);
		buf_printf(&m, "oldest open transaction %s (pid %s, %s%s%s)", duration_format(age_ms, a, sizeof a),
			   f->oldest_pid, f->oldest_state ? f->oldest_state : "state hidden",
			   f->oldest_app && *f->oldest_app ? ", " : "", f->oldest_app ? f->oldest_app : "");
		if (ts != STATUS_OK)
			buf_printf(&m, " is above the %s %s", status_name(ts),
				   ts == STATUS_CRITICAL ? duration_format(s->xact_critical_ms, c, sizeof c)
							 : duration_format(s->xact_warning_ms, w, sizeof w));
	} else {
		buf_puts(&m, hidden ? "no other open transaction visible" : "no other open transaction");
	}
	enum status ls = waiters >= s->lock_waiters_critical ? STATUS_CRITICAL
			 : waiters >= s->lock_waiters_warning ? STATUS_WARNING
							      : STATUS_OK;
	st = status_worst(st, ls);
	buf_printf(&m, "; %lld %ssession%s waiting on locks", waiters, hidden ? "visible " : "",
		   waiters == 1 ? "" : "s");
	if (ls != STATUS_OK)
		buf_printf(&m, " (%s at %lld)", status_name(ls),
			   (long long)(ls == STATUS_CRITICAL ? s->lock_waiters_critical : s->lock_waiters_warning));
	/* what cannot be seen may be the oldest transaction or the lock waits:
	 * never ok without saying so */
	if (hidden) {
		st = status_worst(st, STATUS_WARNING);
		buf_printf(&m, "; %lld session%s of other roles not visible to %s, their transactions and lock "
			   "waits unseen (grant pg_read_all_stats)", hidden, hidden == 1 ? "" : "s",
			   f->user ? f->user : "this role");
	}
	cJSON *chk = add(x, CHECK_ACTIVITY, st, ms, d, "%s", m.data);
	check_add_perf(chk, "oldest_xact", age_s, "s", (double)s->xact_warning_ms / 1000.0,
		       (double)s->xact_critical_ms / 1000.0);
	check_add_perf(chk, "lock_waiters", (double)waiters, "", (double)s->lock_waiters_warning,
		       (double)s->lock_waiters_critical);
	buf_free(&m);
}

static void result_failed(struct ctx *x, enum check_id id, const PGresult *res, int64_t ms)
{
	char *err = result_error(res);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "sqlstate", result_sqlstate(res));
	add(x, id, STATUS_UNKNOWN, ms, d, "query failed: %s", err);
	free(err);
}

/* ---- the main batch ---- */

/* Reads the settings row and counts the activity rows. 0, or -1 when the
 * settings did not come back. */
static int facts_read(const PGresult *g, const PGresult *act, struct facts *f)
{
	memset(f, 0, sizeof *f);
	if (!ok_rows(g) || PQntuples(g) != 1)
		return -1;
	f->in_recovery = val_bool(g, 0, G_RECOVERY);
	f->maxconn = (long long)val_num(g, 0, G_MAXCONN, 0);
	f->su_reserved = (long long)val_num(g, 0, G_SU_RESERVED, 0);
	f->reserved = (long long)val_num(g, 0, G_RESERVED, 0); /* PostgreSQL 16 on */
	f->server_ssl = val(g, 0, G_SERVER_SSL);
	f->user = val(g, 0, G_USER);
	f->database = val(g, 0, G_DATABASE);
	const char *me = val(g, 0, G_PID);
	for (int i = 0; ok_rows(act) && i < PQntuples(act); i++) {
		const char *pid = val(act, i, A_PID), *type = val(act, i, A_TYPE);
		bool client = type && strcmp(type, "client backend") == 0;
		if (pid && me && strcmp(pid, me) == 0) {
			f->ssl = val_bool(act, i, A_SSL);
			f->ssl_version = val(act, i, A_SSL_VERSION);
			f->ssl_cipher = val(act, i, A_SSL_CIPHER);
			f->ssl_bits = val(act, i, A_SSL_BITS);
			continue;
		}
		/* Without pg_read_all_stats another role's session shows only its
		 * pid, database, user and application: its type, state, waits
		 * and transaction are NULL. One with a user and a database is a
		 * session (a client, or a worker serving one): counted as hidden,
		 * and as holding a slot, since it may. Background processes and
		 * autovacuum workers lack one or the other. */
		if (!type) {
			if (val_bool(act, i, A_SESSION)) {
				f->others++;
				f->hidden++;
			}
			continue;
		}
		const char *wait = val(act, i, A_WAIT);
		if (wait && strcmp(wait, "Lock") == 0)
			f->waiters++;
		if (!client)
			continue;
		f->others++;
		const char *age = val(act, i, A_XACT_AGE);
		if (age && (!f->have_oldest || strtod(age, NULL) > f->oldest_age_s)) {
			f->have_oldest = true;
			f->oldest_age_s = strtod(age, NULL);
			f->oldest_pid = pid;
			f->oldest_state = val(act, i, A_STATE);
			f->oldest_app = val(act, i, A_APP);
		}
	}
	return 0;
}

enum { S_BEGIN, S_LIMITS, S_SETTINGS, S_ACTIVITY, S_SCHEMA, S_TABLES, S_EXTENSIONS, S_SAVEPOINT, S_MIGRATIONS, S_N };

/* A text[] literal of the names: {"a","b \\"c\\""}. */
static char *array_literal(char **names, size_t n, const struct extension_req *ext)
{
	struct buf b = {0};
	buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		const char *name = ext ? ext[i].name : names[i];
		buf_puts(&b, i ? ",\"" : "\"");
		for (const char *p = name; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '}');
	return buf_take(&b);
}

/* The migrations table, read as the batch's last statement (after the
 * savepoint, since a missing table or column is an error). */
struct migrations_read {
	char *table;   /* schema.table, for messages */
	PGresult *res; /* NULL when not sent or not reached */
};

#define MIGRATIONS_MAX_ROWS 100000

/* "SELECT (col)::text FROM schema.table": a bare table name is in the
 * configured schema; names are identifiers as written. For the applied
 * order a second column ranks each row by the applied column, in whatever
 * type it has (a time, a serial); rows without one rank first. */
static char *migrations_sql(PGconn *c, const struct settings *s, char **table)
{
	const char *dot = strchr(s->migrations_table, '.');
	char *schema_part = dot ? estrndup(s->migrations_table, (size_t)(dot - s->migrations_table))
				: estrdup(s->schema ? s->schema : "public");
	const char *rel = dot ? dot + 1 : s->migrations_table;
	char *qs = PQescapeIdentifier(c, schema_part, strlen(schema_part));
	char *qt = PQescapeIdentifier(c, rel, strlen(rel));
	char *qc = PQescapeIdentifier(c, s->migrations_column, strlen(s->migrations_column));
	if (!qs || !qt || !qc)
		die(EXIT_UNKNOWN, "unable to quote the migrations table's name");
	*table = easprintf("%s.%s", schema_part, rel);
	free(schema_part);
	char *sql;
	if (s->migrations_order == ORDER_APPLIED) {
		const char *ac = s->migrations_applied_column;
		char *qa = PQescapeIdentifier(c, ac, strlen(ac));
		if (!qa)
			die(EXIT_UNKNOWN, "unable to quote the migrations table's name");
		sql = easprintf("SELECT (%s)::text, dense_rank() OVER (ORDER BY %s NULLS FIRST)::int8 FROM %s.%s "
				"LIMIT %d", qc, qa, qs, qt, MIGRATIONS_MAX_ROWS + 1);
		PQfreemem(qa);
	} else {
		sql = easprintf("SELECT (%s)::text FROM %s.%s LIMIT %d", qc, qs, qt, MIGRATIONS_MAX_ROWS + 1);
	}
	PQfreemem(qs);
	PQfreemem(qt);
	PQfreemem(qc);
	return sql;
}

/* The statements of the batch that were sent, and what came back. */
struct batch {
	struct stmt st[S_N];
	size_t at[S_N];       /* S_* -> index in st, or S_N when not sent */
	size_t n;
	int64_t took_ms[S_N]; /* by index in st: from the previous result (or the send) to its own */
	char stmt_timeout[32], lock_timeout[32], idle_timeout[32];
	char *tables_array, *extensions_array, *migrations_sql; /* owned: parameters and text */
};

static void batch_add(struct batch *b, int id, const char *sql, int nparams, const char *p0, const char *p1,
		      const char *p2)
{
	b->at[id] = b->n;
	b->st[b->n++] = (struct stmt){.sql = sql, .nparams = nparams, .params = {p0, p1, p2}};
}

/* Statement id's result: NULL when it was not sent or not reached. */
static const PGresult *batch_result(const struct batch *b, int id)
{
	return b->at[id] < S_N ? b->st[b->at[id]].res : NULL;
}

static int64_t batch_ms(const struct batch *b, int id)
{
	return b->at[id] < S_N ? b->took_ms[b->at[id]] : 0;
}

/* The transaction's limits as set_config() takes them: no statement runs
 * past -t, and a session left idle in the transaction outlives the run by
 * a second at most. */
static void batch_limits(const struct settings *s, struct batch *b)
{
	int64_t left = s->deadline_ms - now_monotonic_ms();
	int64_t stmt_ms = s->statement_timeout_ms < left ? s->statement_timeout_ms : left;
	snprintf(b->stmt_timeout, sizeof b->stmt_timeout, "%lld", (long long)(stmt_ms > 0 ? stmt_ms : 1));
	snprintf(b->lock_timeout, sizeof b->lock_timeout, "%lld", (long long)s->lock_timeout_ms);
	snprintf(b->idle_timeout, sizeof b->idle_timeout, "%lld", (long long)(s->timeout_ms + 1000));
}

/* The statements the included checks need: the read-only transaction, its
 * limits, the settings and the activity always; the catalog questions, the
 * savepoint and the migrations table when their checks run. */
static void batch_build(struct ctx *x, struct batch *b, struct migrations_read *mr)
{
	const struct settings *s = x->s;
	bool need_tables = x->include[CHECK_TABLES] || x->include[CHECK_RLS];
	bool need_schema = x->include[CHECK_SCHEMA] || need_tables;
	bool need_savepoint = x->include[CHECK_MIGRATIONS] || x->include[CHECK_QUERIES];
	for (size_t i = 0; i < S_N; i++)
		b->at[i] = S_N;
	batch_limits(s, b);
	b->tables_array = array_literal(s->tables, s->ntables, NULL);
	b->extensions_array = array_literal(NULL, s->nextensions, s->extensions);
	batch_add(b, S_BEGIN, "BEGIN TRANSACTION READ ONLY", 0, NULL, NULL, NULL);
	batch_add(b, S_LIMITS, sql_limits, 3, b->stmt_timeout, b->lock_timeout, b->idle_timeout);
	batch_add(b, S_SETTINGS, sql_settings, 0, NULL, NULL, NULL);
	batch_add(b, S_ACTIVITY, sql_activity, 0, NULL, NULL, NULL);
	if (need_schema && s->schema)
		batch_add(b, S_SCHEMA, sql_schema, 1, s->schema, NULL, NULL);
	if (need_tables && s->schema && s->ntables)
		batch_add(b, S_TABLES, sql_tables, 2, s->schema, b->tables_array, NULL);
	if (x->include[CHECK_EXTENSIONS] && s->nextensions)
		batch_add(b, S_EXTENSIONS, sql_extensions, 1, b->extensions_array, NULL, NULL);
	if (need_savepoint)
		batch_add(b, S_SAVEPOINT, "SAVEPOINT " SAVEPOINT_NAME, 0, NULL, NULL, NULL);
	if (x->include[CHECK_MIGRATIONS] && s->migrations_version) {
		b->migrations_sql = migrations_sql(x->c, s, &mr->table);
		batch_add(b, S_MIGRATIONS, b->migrations_sql, 0, NULL, NULL, NULL);
	}
}

/* Sends the batch as one pipeline and times each statement. */
static enum run_status batch_run(struct ctx *x, struct batch *b)
{
	int64_t sent = now_monotonic_ms();
	enum run_status rs = pipeline_run(x->c, b->st, b->n, x->s->deadline_ms);
	for (size_t i = 0; i < b->n; i++)
		b->took_ms[i] = b->st[i].res ? b->st[i].done_ms - (i ? b->st[i - 1].done_ms : sent) : 0;
	for (size_t i = 0; i < b->n && log_level > 1; i++)
		verbose("  statement %zu: %lld ms", i, (long long)b->took_ms[i]);
	verbose("the catalog batch (%zu statements) took %lld ms", b->n, (long long)(now_monotonic_ms() - sent));
	return rs;
}

/* Reads the facts; when BEGIN, the limits, the settings or the activity
 * failed, nothing else can be trusted and the run stops. */
static void batch_facts(struct ctx *x, const struct batch *b, struct facts *f)
{
	const PGresult *limits = batch_result(b, S_LIMITS), *settings = batch_result(b, S_SETTINGS),
		       *activity = batch_result(b, S_ACTIVITY);
	bool read = facts_read(settings, activity, f) == 0 && ok_rows(activity);
	if (!x->stopped && !read)
		stop_on_error(x, "could not start the read-only transaction",
			      !ok_rows(limits)     ? limits
			      : !ok_rows(settings) ? settings
						   : activity);
}

/* The batch's checks when the run stopped; latency, migrations and the
 * queries say so themselves in their turn. */
static void batch_not_run(struct ctx *x)
{
	for (int id = CHECK_ROLE; id < CHECK_COUNT; id++)
		if (x->include[id] && id != CHECK_LATENCY && id != CHECK_MIGRATIONS && id != CHECK_QUERIES)
			not_run(x, (enum check_id)id);
}

/* Whether a check answered by one catalog statement can be judged: when
 * it is not configured or its statement failed, that is reported instead. */
static bool catalog_answered(struct ctx *x, enum check_id id, bool is_configured, const PGresult *res, int64_t ms)
{
	if (!is_configured)
		not_configured(x, id);
	else if (!ok_rows(res))
		result_failed(x, id, res, ms);
	else
		return true;
	return false;
}

/* The batch's checks judged, in report order. */
static void batch_judge(struct ctx *x, const struct batch *b, const struct facts *f)
{
	const struct settings *s = x->s;
	const char *user = f->user ? f->user : PQuser(x->c);
	const PGresult *schema = batch_result(b, S_SCHEMA), *tables = batch_result(b, S_TABLES),
		       *extensions = batch_result(b, S_EXTENSIONS);
	int64_t schema_ms = batch_ms(b, S_SCHEMA), tables_ms = batch_ms(b, S_TABLES),
		extensions_ms = batch_ms(b, S_EXTENSIONS), activity_ms = batch_ms(b, S_ACTIVITY);
	if (x->include[CHECK_ROLE])
		judge_role(x, f, batch_ms(b, S_SETTINGS));
	if (x->include[CHECK_SSL])
		judge_ssl(x, f, activity_ms);
	if (x->include[CHECK_SCHEMA] &&
	    catalog_answered(x, CHECK_SCHEMA, configured(s, CHECK_SCHEMA), schema, schema_ms))
		judge_schema(x, schema, user, schema_ms);
	if (x->include[CHECK_TABLES] &&
	    catalog_answered(x, CHECK_TABLES, configured(s, CHECK_TABLES) && s->schema, tables, tables_ms))
		judge_tables(x, tables, user, tables_ms);
	if (x->include[CHECK_RLS] &&
	    catalog_answered(x, CHECK_RLS, configured(s, CHECK_RLS) && s->schema, tables, tables_ms))
		judge_rls(x, tables, tables_ms);
	if (x->include[CHECK_EXTENSIONS] &&
	    catalog_answered(x, CHECK_EXTENSIONS, configured(s, CHECK_EXTENSIONS), extensions, extensions_ms))
		judge_extensions(x, extensions, extensions_ms);
	if (x->include[CHECK_POOL])
		judge_pool(x, f, activity_ms);
	if (x->include[CHECK_ACTIVITY])
		judge_activity(x, f, activity_ms);
}

/* What the checks after the batch need from it: the migrations table's
 * rows (judged after latency, in report order), and the savepoint that a
 * failed statement rolls back to. */
static void batch_hand_over(struct ctx *x, struct batch *b, struct migrations_read *mr)
{
	if (b->at[S_MIGRATIONS] < S_N) {
		mr->res = b->st[b->at[S_MIGRATIONS]].res;
		b->st[b->at[S_MIGRATIONS]].res = NULL;
	}
	const PGresult *savepoint = batch_result(b, S_SAVEPOINT);
	if (b->at[S_SAVEPOINT] < S_N && PQresultStatus(savepoint) != PGRES_COMMAND_OK)
		stop_on_error(x, "could not set a savepoint", savepoint);
}

static void batch_free(struct batch *b)
{
	stmt_clear(b->st, b->n);
	free(b->tables_array);
	free(b->extensions_array);
	free(b->migrations_sql);
}

/* The read-only transaction, the catalog questions and the migrations
 * table in one round trip; every check they answer judged. */
static void main_batch(struct ctx *x, struct migrations_read *mr)
{
	struct batch b = {0};
	batch_build(x, &b, mr);
	enum run_status rs = batch_run(x, &b);
	if (rs != RUN_OK)
		stop(x, rs);
	struct facts facts;
	batch_facts(x, &b, &facts);
	if (x->stopped) {
		batch_not_run(x);
	} else {
		batch_judge(x, &b, &facts);
		batch_hand_over(x, &b, mr);
	}
	batch_free(&b);
}

/* ---- latency: sequential round trips of a trivial query ---- */

/* Back to the savepoint when an earlier statement failed. */
static enum run_status recover(struct ctx *x)
{
	if (PQtransactionStatus(x->c) != PQTRANS_INERROR)
		return RUN_OK;
	struct stmt st = {.sql = "ROLLBACK TO SAVEPOINT " SAVEPOINT_NAME};
	enum run_status rs = pipeline_run(x->c, &st, 1, x->s->deadline_ms);
	stmt_clear(&st, 1);
	return rs;
}


static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void check_latency(struct ctx *x)
{
	const struct settings *s = x->s;
	int n = s->latency_count;
	int64_t *us = ecalloc((size_t)n, sizeof *us);
	int64_t started = now_monotonic_ms();
	int done = 0;
	enum run_status rs = recover(x); /* the migrations read may have failed */
	for (; rs == RUN_OK && done < n; done++) {
		struct timespec a, b;
		struct stmt st = {.sql = "SELECT 1"};
		clock_gettime(CLOCK_MONOTONIC, &a);
		rs = pipeline_run(x->c, &st, 1, s->deadline_ms);
		clock_gettime(CLOCK_MONOTONIC, &b);
		bool good = rs == RUN_OK && ok_rows(st.res);
		stmt_clear(&st, 1);
		if (!good)
			break;
		us[done] = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
	}
	int64_t ms = now_monotonic_ms() - started;
	if (done < n) {
		if (rs != RUN_OK)
			stop(x, rs);
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "completed", done);
		add(x, CHECK_LATENCY, STATUS_UNKNOWN, ms, d, "%s",
		    rs != RUN_OK ? x->stop_why : "SELECT 1 failed");
		free(us);
		return;
	}
	qsort(us, (size_t)n, sizeof *us, cmp_i64);
	/* nearest-rank percentiles */
	double p50 = (double)us[(n * 50 + 99) / 100 - 1] / 1000.0;
	double p95 = (double)us[(n * 95 + 99) / 100 - 1] / 1000.0;
	double max = (double)us[n - 1] / 1000.0;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "count", n);
	cJSON_AddNumberToObject(d, "p50_ms", round(p50 * 1000) / 1000);
	cJSON_AddNumberToObject(d, "p95_ms", round(p95 * 1000) / 1000);
	cJSON_AddNumberToObject(d, "max_ms", round(max * 1000) / 1000);
	cJSON_AddNumberToObject(d, "warning_ms", (double)s->latency_warning_ms);
	cJSON_AddNumberToObject(d, "critical_ms", (double)s->latency_critical_ms);
	enum status st = p95 > (double)s->latency_critical_ms ? STATUS_CRITICAL
			 : p95 > (double)s->latency_warning_ms ? STATUS_WARNING
								: STATUS_OK;
	const char *above = "";
	char limit[32] = "";
	if (st == STATUS_WARNING) {
		above = "; p95 above the warning ";
		duration_format(s->latency_warning_ms, limit, sizeof limit);
	} else if (st == STATUS_CRITICAL) {
		above = "; p95 above the critical ";
		duration_format(s->latency_critical_ms, limit, sizeof limit);
	}
	cJSON *chk = add(x, CHECK_LATENCY, st, ms, d, "%d round trips: p50 %.2f ms, p95 %.2f ms, max %.2f ms%s%s", n,
			 p50, p95, max, above, limit);
	check_add_perf(chk, "latency_p95", p95, "ms", (double)s->latency_warning_ms, (double)s->latency_critical_ms);
	free(us);
}

/* ---- statements that may fail: each after the savepoint, alone ---- */


/* Runs one statement in its own segment, first rolling back to the savepoint
 * when the transaction is in error. *res gets the statement's result. */
static enum run_status run_guarded(struct ctx *x, const char *sql, int nparams, const char *const *params,
				   PGresult **res, int64_t *ms)
{
	*res = NULL;
	*ms = 0;
	enum run_status rs = recover(x);
	if (rs != RUN_OK)
		return rs;
	/* several statements in the string: the extended protocol refuses
	 * them, which is the point */
	struct stmt st = {.sql = sql, .nparams = nparams, .single_row = true};
	for (int i = 0; i < nparams && i < 3; i++)
		st.params[i] = params[i];
	int64_t start = now_monotonic_ms();
	rs = pipeline_run(x->c, &st, 1, x->s->deadline_ms);
	*ms = now_monotonic_ms() - start;
	*res = st.res;
	return rs;
}

#define MIGRATIONS_NEWER_LISTED 100 /* in data.newer */
#define MIGRATIONS_NEWER_NAMED 5    /* in the message */

struct migration_row {
	const char *version;
	long long rank; /* ORDER_APPLIED: the applied column's dense rank */
};

/* numeric and applied: by rank (0 unless applied), then numbers within the
 * version as numbers, then bytes, so the order is total */
static int cmp_migration_numeric(const void *pa, const void *pb)
{
	const struct migration_row *a = pa, *b = pb;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	int c = version_compare(a->version, b->version);
	return c ? c : strcmp(a->version, b->version);
}

static int cmp_migration_lexical(const void *pa, const void *pb)
{
	const struct migration_row *a = pa, *b = pb;
	return strcmp(a->version, b->version);
}

/* Which configured column an "undefined column" error is about. */
static const char *missing_column(const struct settings *s, const char *err)
{
	if (s->migrations_order == ORDER_APPLIED) {
		char *quoted = easprintf("\"%s\"", s->migrations_applied_column);
		bool applied_col = strstr(err, quoted) != NULL;
		free(quoted);
		if (applied_col)
			return s->migrations_applied_column;
	}
	return s->migrations_column;
}

/* The migrations table could not be read: which of the usual reasons. */
static void migrations_unreadable(struct ctx *x, const struct migrations_read *mr, cJSON *d)
{
	char *err = result_error(mr->res);
	const char *state = result_sqlstate(mr->res);
	cJSON_AddStringToObject(d, "sqlstate", state);
	if (strcmp(state, "42P01") == 0)
		add(x, CHECK_MIGRATIONS, STATUS_CRITICAL, 0, d, "migrations table %s does not exist", mr->table);
	else if (strcmp(state, "42703") == 0)
		add(x, CHECK_MIGRATIONS, STATUS_CRITICAL, 0, d, "migrations table %s has no column \"%s\"", mr->table,
		    missing_column(x->s, err));
	else if (strcmp(state, "42501") == 0)
		add(x, CHECK_MIGRATIONS, STATUS_CRITICAL, 0, d, "role %s may not SELECT from %s", PQuser(x->c),
		    mr->table);
	else
		add(x, CHECK_MIGRATIONS, STATUS_CRITICAL, 0, d, "could not read %s: %s%s", mr->table, err,
		    strcmp(state, "55P03") == 0 ? " (a migration may be holding a lock on it)" : "");
	free(err);
}

/* The versions read, in the configured order: the latest is the last.
 * Borrowed from res; *n gets how many (rows with a NULL version left out). */
static struct migration_row *migrations_sorted(const struct settings *s, const PGresult *res, int *n)
{
	int rows = PQntuples(res);
	struct migration_row *sorted = ecalloc((size_t)rows + 1, sizeof *sorted);
	*n = 0;
	for (int i = 0; i < rows; i++) {
		const char *v = val(res, i, 0);
		if (!v)
			continue;
		sorted[*n].version = v;
		sorted[*n].rank = s->migrations_order == ORDER_APPLIED ? (long long)val_num(res, i, 1, 0) : 0;
		(*n)++;
	}
	qsort(sorted, (size_t)*n, sizeof *sorted,
	      s->migrations_order == ORDER_LEXICAL ? cmp_migration_lexical : cmp_migration_numeric);
	return sorted;
}

/* The versions after the expected one (at): applied, yet newer than the
 * release expects. Listed in d (bounded), the first few named in names
 * for the message; returns how many. */
static int migrations_newer(cJSON *d, const struct migration_row *sorted, int n, int at, struct buf *names)
{
	int newer = at >= 0 ? n - 1 - at : 0;
	cJSON *arr = cJSON_AddArrayToObject(d, "newer");
	for (int i = at + 1; at >= 0 && i < n; i++) {
		if (i - at <= MIGRATIONS_NEWER_LISTED)
			cJSON_AddItemToArray(arr, cJSON_CreateString(sorted[i].version));
		if (i - at <= MIGRATIONS_NEWER_NAMED)
			list_append(names, sorted[i].version);
	}
	if (newer > MIGRATIONS_NEWER_NAMED)
		buf_printf(names, " and %d more", newer - MIGRATIONS_NEWER_NAMED);
	cJSON_AddNumberToObject(d, "newer_count", newer);
	return newer;
}

/* Is the release's migration applied, and is it the latest? */
static void check_migrations(struct ctx *x, const struct migrations_read *mr)
{
	static const char *const order_names[] = {"numeric", "lexical", "applied"};
	const struct settings *s = x->s;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "table", mr->table ? mr->table : s->migrations_table);
	cJSON_AddStringToObject(d, "column", s->migrations_column);
	cJSON_AddStringToObject(d, "expected", s->migrations_version);
	if (!ok_rows(mr->res)) {
		migrations_unreadable(x, mr, d);
		return;
	}
	int rows = PQntuples(mr->res);
	if (rows > MIGRATIONS_MAX_ROWS) {
		add(x, CHECK_MIGRATIONS, STATUS_UNKNOWN, 0, d, "%s has more than %d rows; not judged", mr->table,
		    MIGRATIONS_MAX_ROWS);
		return;
	}
	int n;
	struct migration_row *sorted = migrations_sorted(s, mr->res, &n);
	int at = -1; /* the expected version's place */
	for (int i = 0; i < n; i++)
		if (strcmp(sorted[i].version, s->migrations_version) == 0)
			at = i;
	const char *latest = n ? sorted[n - 1].version : NULL;
	cJSON_AddStringToObject(d, "order", order_names[s->migrations_order]);
	if (s->migrations_order == ORDER_APPLIED)
		cJSON_AddStringToObject(d, "applied_column", s->migrations_applied_column);
	json_add_str(d, "latest", latest);
	cJSON_AddNumberToObject(d, "rows", rows);
	cJSON_AddBoolToObject(d, "applied", at >= 0);
	struct buf names = {0};
	int newer = migrations_newer(d, sorted, n, at, &names);
	if (rows == 0)
		add(x, CHECK_MIGRATIONS, STATUS_CRITICAL, 0, d, "%s is empty; version %s is not applied", mr->table,
		    s->migrations_version);
	else if (at < 0)
		add(x, CHECK_MIGRATIONS, STATUS_CRITICAL, 0, d, "version %s is not applied (latest in %s: %s)",
		    s->migrations_version, mr->table, latest ? latest : "?");
	else if (newer)
		add(x, CHECK_MIGRATIONS, STATUS_OK, 0, d, "version %s is applied; %d newer one%s too: %s",
		    s->migrations_version, newer, newer == 1 ? "" : "s", names.data);
	else
		add(x, CHECK_MIGRATIONS, STATUS_OK, 0, d, "version %s is applied (the latest of %d)",
		    s->migrations_version, rows);
	buf_free(&names);
	free(sorted);
}

/* The first column of the first row as a number: numerics and booleans. */
static int first_value(const PGresult *res, double *v, const char **why)
{
	ExecStatusType rs = PQresultStatus(res);
	if ((rs != PGRES_TUPLES_OK && rs != PGRES_SINGLE_TUPLE) || PQnfields(res) < 1) {
		*why = "returned no rows (not a query)";
		return -1;
	}
	if (PQntuples(res) < 1) {
		*why = "returned no rows";
		return -1;
	}
	if (PQgetisnull(res, 0, 0)) {
		*why = "returned NULL";
		return -1;
	}
	const char *text = PQgetvalue(res, 0, 0);
	if (strcmp(text, "t") == 0 || strcmp(text, "f") == 0) {
		*v = *text == 't';
		return 0;
	}
	char *end;
	*v = strtod(text, &end);
	if (end == text || *end || isnan(*v)) {
		*why = "the first column is not a number";
		return -1;
	}
	return 0;
}

/* A custom query's data to start with: its ranges as written back. */
static cJSON *query_data(const struct custom_query *q)
{
	cJSON *d = cJSON_CreateObject();
	char buf[128];
	if (q->limits.has_warning)
		cJSON_AddStringToObject(d, "warning", range_format(&q->limits.warning, buf, sizeof buf));
	if (q->limits.has_critical)
		cJSON_AddStringToObject(d, "critical", range_format(&q->limits.critical, buf, sizeof buf));
	return d;
}

/* COMMIT, ROLLBACK or END in a custom query: the read-only transaction is
 * gone, so nothing more may run on this connection. */
static bool transaction_ended(PGconn *c)
{
	PGTransactionStatusType ts = PQtransactionStatus(c);
	return ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR;
}

static void query_ended_transaction(struct ctx *x, const char *name, cJSON *d, PGresult *res, int64_t ms)
{
	cJSON_AddBoolToObject(d, "ended_transaction", true);
	report_add_check(x->r, name, STATUS_CRITICAL, ms, d,
			 "refused: the query ended db-check's read-only transaction (%s); no further query runs",
			 PQcmdStatus(res));
	stop_because(x, "not run: an earlier custom query ended the read-only transaction");
}

static bool query_succeeded(const PGresult *res)
{
	ExecStatusType est = PQresultStatus(res);
	return est == PGRES_TUPLES_OK || est == PGRES_SINGLE_TUPLE || est == PGRES_COMMAND_OK;
}

/* A custom query that failed; a write the read-only transaction refused
 * is said to be one. */
static void query_failed(struct ctx *x, const char *name, cJSON *d, const PGresult *res, int64_t ms)
{
	char *err = result_error(res);
	const char *state = result_sqlstate(res);
	cJSON_AddStringToObject(d, "sqlstate", state);
	bool write = strcmp(state, "25006") == 0;
	cJSON_AddBoolToObject(d, "write_refused", write);
	if (write)
		report_add_check(x->r, name, STATUS_CRITICAL, ms, d,
				 "refused: the query tried to write (%s); db-check runs read-only", err);
	else
		report_add_check(x->r, name, STATUS_CRITICAL, ms, d, "failed: %s", err);
	free(err);
}

/* A custom query's value judged against its ranges. */
static void query_judge(struct ctx *x, const struct custom_query *q, const char *name, cJSON *d,
			const PGresult *res, int64_t ms)
{
	double v = 0;
	const char *why = NULL;
	if (first_value(res, &v, &why) < 0) {
		report_add_check(x->r, name, STATUS_UNKNOWN, ms, d, "%s", why);
		return;
	}
	cJSON_AddNumberToObject(d, "value", v);
	enum status st = thresholds_status(&q->limits, v);
	const char *which = st == STATUS_CRITICAL ? "critical" : "warning";
	const struct range *hit = st == STATUS_CRITICAL ? &q->limits.critical : &q->limits.warning;
	char buf[128];
	cJSON *chk;
	if (st == STATUS_OK)
		chk = report_add_check(x->r, name, st, ms, d, "%s = %g", q->name, v);
	else
		chk = report_add_check(x->r, name, st, ms, d, "%s = %g, %s", q->name, v,
				       range_explain(hit, which, v, buf, sizeof buf));
	check_add_perf(chk, q->name, v, "", range_perf_threshold(&q->limits.warning, q->limits.has_warning),
		       range_perf_threshold(&q->limits.critical, q->limits.has_critical));
}

/* One custom query, after the savepoint and alone; it stops the run when it
 * times out, loses the connection or ends the transaction. */
static void check_query(struct ctx *x, const struct custom_query *q)
{
	char *name = easprintf("db.query.%s", q->name);
	cJSON *d = query_data(q);
	if (x->stopped) {
		cJSON_AddBoolToObject(d, "run", false);
		report_add_check(x->r, name, STATUS_UNKNOWN, 0, d, "%s", x->stop_why);
		free(name);
		return;
	}
	PGresult *res = NULL;
	int64_t ms = 0;
	enum run_status rs = run_guarded(x, q->sql, 0, NULL, &res, &ms);
	if (rs != RUN_OK) {
		stop(x, rs);
		report_add_check(x->r, name, STATUS_UNKNOWN, ms, d, "%s", x->stop_why);
	} else if (transaction_ended(x->c)) {
		query_ended_transaction(x, name, d, res, ms);
	} else if (!query_succeeded(res)) {
		query_failed(x, name, d, res, ms);
	} else {
		query_judge(x, q, name, d, res, ms);
	}
	PQclear(res);
	free(name);
}

void run_checks(const struct settings *s, struct report *r)
{
	struct ctx x = {.s = s, .r = r};
	for (int id = 0; id < CHECK_COUNT; id++) {
		unsigned bit = 1u << id;
		x.include[id] = (s->selected & bit) && (configured(s, (enum check_id)id) || (s->named & bit));
	}
	x.include[CHECK_CONNECT] = true;
	if (!do_connect(&x))
		return;
	if (x.include[CHECK_VERSION])
		judge_version(&x, 0);
	struct migrations_read mr = {0};
	bool need_batch = false;
	for (int id = CHECK_ROLE; id < CHECK_COUNT; id++)
		need_batch |= x.include[id] && id != CHECK_LATENCY;
	if (need_batch)
		main_batch(&x, &mr);
	if (x.include[CHECK_LATENCY]) {
		if (x.stopped)
			not_run(&x, CHECK_LATENCY);
		else
			check_latency(&x);
	}
	if (x.include[CHECK_MIGRATIONS]) {
		if (!configured(s, CHECK_MIGRATIONS))
			not_configured(&x, CHECK_MIGRATIONS);
		else if (x.stopped)
			not_run(&x, CHECK_MIGRATIONS);
		else
			check_migrations(&x, &mr);
	}
	if (x.include[CHECK_QUERIES]) {
		if (!configured(s, CHECK_QUERIES))
			not_configured(&x, CHECK_QUERIES);
		else
			for (size_t i = 0; i < s->nqueries; i++)
				check_query(&x, &s->queries[i]);
	}
	free(mr.table);
	PQclear(mr.res);
	PQfinish(x.c);
}
