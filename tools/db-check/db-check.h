/* db-check.h — db-check's settings, its connection to PostgreSQL and its checks. */
#ifndef DB_CHECK_H
#define DB_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <cjson/cJSON.h>

#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/opts.h"
#include "shipshape/range.h"
#include "shipshape/report.h"

#define DEFAULT_TIMEOUT_MS 10000

/* The checks, in report order. */
enum check_id {
	CHECK_CONNECT,
	CHECK_VERSION,
	CHECK_ROLE,
	CHECK_SSL,
	CHECK_SCHEMA,
	CHECK_TABLES,
	CHECK_RLS,
	CHECK_EXTENSIONS,
	CHECK_POOL,
	CHECK_MIGRATIONS,
	CHECK_LATENCY,
	CHECK_ACTIVITY,
	CHECK_QUERIES,
	CHECK_COUNT
};

extern const char *const check_names[CHECK_COUNT]; /* "connect", "version", ... */

enum role { ROLE_PRIMARY, ROLE_REPLICA, ROLE_ANY };

/* How migration versions are ordered to find the latest and the newer ones:
 * numbers within them as numbers (version_compare), byte order, or by the
 * applied column (ties by number). */
enum migrations_order { ORDER_NUMERIC, ORDER_LEXICAL, ORDER_APPLIED };

struct extension_req {
	char *name;
	char *min_version; /* NULL: any version */
};

struct custom_query {
	char *name;
	char *sql;
	struct thresholds limits;
};

/* Everything db-check was asked to do; filled once by settings_load(), then
 * read-only. settings_free() frees every field it owns. */
struct settings {
	bool have_config;
	char *url;                  /* libpq URI or key=value string; NULL: libpq's PG* variables */
	char *url_origin;           /* "database.url", "environment variable NAME" */
	char *schema;               /* NULL: not configured */
	char **tables;
	size_t ntables;
	bool rls_required, rls_forced;
	struct extension_req *extensions;
	size_t nextensions;
	char *migrations_table, *migrations_column, *migrations_version;
	char *migrations_applied_column; /* read for ORDER_APPLIED only */
	enum migrations_order migrations_order;
	bool require_ssl;
	char *min_server_version;   /* as written */
	int min_server_version_num; /* 150004 for "15.4"; 0: none */
	enum role expected_role;
	int64_t connect_warning_ms, connect_critical_ms;
	int64_t statement_timeout_ms, lock_timeout_ms;
	int64_t pool_size, max_overflow, max_instances; /* demand = (size + overflow) * instances */
	bool pool_configured;
	int latency_count;
	int64_t latency_warning_ms, latency_critical_ms;
	int64_t xact_warning_ms, xact_critical_ms;
	int64_t lock_waiters_warning, lock_waiters_critical;
	struct custom_query *queries;
	size_t nqueries;

	unsigned selected;          /* bit per enum check_id */
	unsigned named;             /* checks named in --only */
	int64_t timeout_ms;         /* -t: bounds the whole run */
	int64_t deadline_ms;        /* on the monotonic clock */
};

/* settings.c */
/* Parses "name,name" (with or without the "db." prefix) into a bit set;
 * exits EXIT_USAGE on an unknown name. */
unsigned check_list_parse(const char *list, const char *option);
/* Reads the database section of the validated config c (NULL: ad hoc, no
 * config) into s; the URL comes from url_env when given, else database.url.
 * A problem only db-check sees (a range, a version, a query name) is
 * reported to c (config_failed()); a --url-env problem exits EXIT_DATAERR. */
void settings_load(struct settings *s, struct config *c, const char *url_env);
void settings_free(struct settings *s);
/* "15", "15.4", "9.6.3" as PQserverVersion() numbers; -1 when not a version. */
int server_version_parse(const char *text);
/* Compares dotted versions ("1.10" > "1.9"); non-numeric parts compare as text. */
int version_compare(const char *a, const char *b);

/* conn.c */
struct conn_failure {
	const char *kind;   /* no_response, rejecting, authentication, authorization,
			       no_database, no_role, ssl, other */
	const char *reason; /* refused, timed_out, too_many_clients, password, ... */
	char *message;      /* one line for the report (owned) */
	char *detail;       /* libpq's first line, redacted (owned) */
};

/* Connects within the deadline with a non-blocking connect. Returns the
 * connection, or NULL with *f filled in. *elapsed_ms gets the time taken. */
PGconn *db_connect(const struct settings *s, struct conn_failure *f, int64_t *elapsed_ms);
void conn_failure_free(struct conn_failure *f);

/* One statement of a pipeline and what came back. */
struct stmt {
	const char *sql;
	int nparams;
	const char *params[3];
	bool single_row;    /* first statement only: keep its first row, drop the rest as they come */
	PGresult *res;      /* NULL when not reached (timeout, lost connection) */
	int64_t done_ms;    /* monotonic time its result arrived */
};

enum run_status { RUN_OK = 0, RUN_TIMEOUT = -1, RUN_BROKEN = -2 };

/* Sends the statements as one pipeline segment ending in a sync, and reads
 * every result before the deadline. On timeout the running statement is
 * cancelled. Results are in st[i].res (caller clears them with stmt_clear). */
enum run_status pipeline_run(PGconn *c, struct stmt *st, size_t n, int64_t deadline_ms);
void stmt_clear(struct stmt *st, size_t n);
/* The first line of a result's error, redacted (new string). */
char *result_error(const PGresult *r);
const char *result_sqlstate(const PGresult *r);

/* checks.c */
/* Runs every selected check and adds it to the report. */
void run_checks(const struct settings *s, struct report *r);

#endif
