/* state_pg.c — the deploy state in PostgreSQL: journal rows, the advisory
 * lock and its keeper, state init, check and import (see state.h). */
#include "shipshape/state.h"
#include "shipshape/common.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/sha256.h"
#include "shipshape/units.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_WAIT_MS 30000
#define KEEPER_PING_MS 10000
#define DROP_WAIT_MS 5000
/* The advisory keys' classes ("shps", "shgd", "shin"); the object is a
 * hash of schema and service, so two schemas in one database never share
 * a lock. */
#define LOCK_CLASS 0x73687073
#define GUARD_CLASS 0x73686764
#define INIT_CLASS 0x7368696e

struct state_pg {
	PGconn *conn;
	char *url;    /* the keeper opens its own connection with it */
	char *schema; /* validated: a plain identifier */
	char *where;
	char *error;
	bool handed_over; /* the keeper took the connection: connect again */
	/* the keeper's channel (see "the channel" below) */
	char *channel_path; /* its socket, or NULL for none */
	bool via_keeper;    /* statements go to the keeper */
	int channel;        /* connected to it, or -1 */
	bool guard_held;    /* keep the channel while the guard is held */
};

static PGresult *run_channel(struct state_pg *s, const char *sql, int n, const char *const *params);
static int channel_hello(struct state_pg *s);
static void channel_close(struct state_pg *s);
static int channel_release(struct state_pg *s);
static int channel_listen(const struct state_pg *s);
static int channel_serve(struct state_pg *s, int fd, const char *service, bool *release);

/* Server-side bounds and dead-peer detection on every connection: the
 * server drops a silent client within STATE_PG_DEAD_PEER_S, and the client
 * a silent server. */
static const char session_options[] =
	"-c statement_timeout=10000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=60000 "
	"-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 "
	"-c tcp_user_timeout=15000";

static bool schema_name_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 63 || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void set_error(struct state_pg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct state_pg *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = redact_vformat(fmt, ap);
	va_end(ap);
	free(s->error);
	s->error = easprintf("state database %s: %s", s->where ? s->where : "?", text);
	free(text);
}

/* libpq's first line, without the "connection to server at ... failed: "
 * that names where (said apart). */
static char *libpq_reason(const char *msg)
{
	if (!msg || !*msg)
		return estrdup("unknown error");
	size_t n = strcspn(msg, "\n");
	char *line = estrndup(msg, n);
	const char *p = strstr(line, " failed: ");
	char *reason = estrdup(p ? p + strlen(" failed: ") : line);
	free(line);
	return reason;
}

/* Whether a connection failure is one to retry later. */
static bool connect_failure_temporary(const char *msg)
{
	static const char *const temporary[] = {
		"Connection refused", "timeout expired", "No route to host", "unreachable", "could not translate",
		"closed the connection", "starting up", "shutting down", "too many clients", "No such file",
		"remaining connection slots", "in recovery"};
	for (size_t i = 0; i < ARRAY_LEN(temporary); i++)
		if (strcasestr(msg, temporary[i]))
			return true;
	return false;
}

static char *where_of(PGconn *c, const char *schema)
{
	const char *host = PQhost(c), *port = PQport(c), *db = PQdb(c);
	return easprintf("postgres %s%s%s/%s (schema %s)", host && *host ? host : "local", port && *port ? ":" : "",
			 port ? port : "", db ? db : "?", schema);
}

/* The server's notices (a WARNING) are for -v, never in the way. */
static void notice_verbose(void *arg, const char *message)
{
	(void)arg;
	char *line = estrndup(message, strcspn(message, "\n"));
	verbose("state database: %s", line);
	free(line);
}

static PGconn *connect_url(const char *url)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", "keepalives",
			      "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", NULL};
	char timeout[16];
	snprintf(timeout, sizeof timeout, "%d", STATE_PG_CONNECT_S);
	const char *vals[] = {url, "shipshape-state", timeout, session_options, "1", "5", "5", "3", "15000", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c)
		PQsetNoticeProcessor(c, notice_verbose, NULL);
	return c;
}

/* ---- statements ---- */

/* errno for a failed statement, by its SQLSTATE. */
static int errno_of(const PGresult *r)
{
	const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (!code)
		return EIO;
	if (strcmp(code, "42501") == 0 || strncmp(code, "28", 2) == 0)
		return EACCES;
	if (strcmp(code, "57014") == 0 || strcmp(code, "55P03") == 0)
		return ETIMEDOUT;
	if (strcmp(code, "42P01") == 0 || strcmp(code, "3F000") == 0)
		return ENOENT;
	if (strcmp(code, "23505") == 0)
		return EEXIST;
	if (strncmp(code, "08", 2) == 0 || strncmp(code, "57P", 3) == 0)
		return ENOTCONN;
	return EIO;
}

/* The connection is unusable from here on (a lost server, a statement
 * past its bound): later calls fail with ENOTCONN. */
static void lose_connection(struct state_pg *s)
{
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
}

/* Runs one statement (params: n texts) within STATE_PG_STATEMENT_MS, or
 * several separated by ';' when n is 0 and params NULL. Returns its result
 * (the caller's, PQclear()), or NULL with errno set and s->error. */
static PGresult *run_direct(struct state_pg *s, const char *sql, int n, const char *const *params)
{
	if (!s->conn && s->handed_over) {
		s->handed_over = false;
		s->conn = connect_url(s->url);
		if (!s->conn)
			out_of_memory();
		if (PQstatus(s->conn) != CONNECTION_OK) {
			char *reason = libpq_reason(PQerrorMessage(s->conn));
			set_error(s, "unreachable: %s", reason);
			free(reason);
			lose_connection(s);
		}
	}
	if (!s->conn) {
		set_error(s, "the connection was lost");
		errno = ENOTCONN;
		return NULL;
	}
	int sent = params ? PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0)
			  : PQsendQuery(s->conn, sql);
	int64_t deadline = now_monotonic_ms() + STATE_PG_STATEMENT_MS;
	PGresult *kept = NULL, *r;
	while (sent) {
		while (PQisBusy(s->conn)) {
			int64_t left = deadline - now_monotonic_ms();
			struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};
			int rc = left > 0 ? poll(&pfd, 1, (int)left) : 0;
			if (rc < 0 && errno == EINTR)
				continue;
			if (rc == 0) {
				PQclear(kept);
				set_error(s, "no answer within %d s", STATE_PG_STATEMENT_MS / 1000);
				lose_connection(s);
				errno = ETIMEDOUT;
				return NULL;
			}
			if (rc < 0 || !PQconsumeInput(s->conn))
				goto lost;
		}
		if (!(r = PQgetResult(s->conn)))
			break;
		/* the first error is the one to report */
		ExecStatusType st = PQresultStatus(r);
		bool failed = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
		if (!kept || (failed && PQresultStatus(kept) != PGRES_FATAL_ERROR)) {
			PQclear(kept);
			kept = r;
		} else {
			PQclear(r);
		}
	}
	if (!sent || PQstatus(s->conn) == CONNECTION_BAD)
		goto lost;
	ExecStatusType st = kept ? PQresultStatus(kept) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return kept;
	int err = errno_of(kept);
	const char *primary = kept ? PQresultErrorField(kept, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	set_error(s, "%s", primary ? primary : "the statement failed");
	PQclear(kept);
	errno = err;
	return NULL;
lost:
	PQclear(kept);
	char *reason = libpq_reason(s->conn ? PQerrorMessage(s->conn) : NULL);
	set_error(s, "the connection was lost: %s", reason);
	free(reason);
	lose_connection(s);
	errno = ENOTCONN;
	return NULL;
}

static PGresult *run(struct state_pg *s, const char *sql, int n, const char *const *params)
{
	return s->via_keeper ? run_channel(s, sql, n, params) : run_direct(s, sql, n, params);
}

/* run() for a statement whose result is not needed: 0 or -1. */
static int run_only(struct state_pg *s, const char *sql, int n, const char *const *params)
{
	PGresult *r = run(s, sql, n, params);
	PQclear(r);
	return r ? 0 : -1;
}

/* sql with every {S} replaced by the quoted schema (a new string). */
static char *in_schema(const struct state_pg *s, const char *sql)
{
	struct buf b = {0};
	for (const char *p = sql; *p;) {
		const char *at = strstr(p, "{S}");
		if (!at) {
			buf_puts(&b, p);
			break;
		}
		buf_append(&b, p, (size_t)(at - p));
		buf_printf(&b, "\"%s\"", s->schema);
		p = at + 3;
	}
	return buf_take(&b);
}

static PGresult *run_in(struct state_pg *s, const char *sql, int n, const char *const *params)
{
	char *text = in_schema(s, sql);
	PGresult *r = run(s, text, n, params);
	int saved = errno;
	free(text);
	errno = saved;
	return r;
}

static int run_in_only(struct state_pg *s, const char *sql, int n, const char *const *params)
{
	PGresult *r = run_in(s, sql, n, params);
	PQclear(r);
	return r ? 0 : -1;
}

/* ---- open ---- */

/* The tables' version: 0 when there are none; -1 on error. Inside a
 * transaction (state init), where a missing table's error would abort it. */
static int tables_version(struct state_pg *s);
static int tables_version_in_transaction(struct state_pg *s)
{
	char *name = easprintf("\"%s\".state_version", s->schema);
	const char *p[] = {name};
	PGresult *r = run(s, "SELECT to_regclass($1) IS NOT NULL", 1, p);
	free(name);
	if (!r)
		return -1;
	bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return exists ? tables_version(s) : 0;
}

/* The tables' version: 0 when there are none; -1 on error. */
static int tables_version(struct state_pg *s)
{
	PGresult *r = run_in(s, "SELECT coalesce(max(version), 0) FROM {S}.state_version", 0, NULL);
	if (!r && errno == ENOENT)
		return 0; /* no such schema or table */
	if (!r)
		return -1;
	int v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static int check_tables(struct state_pg *s)
{
	int v = tables_version(s);
	if (v < 0)
		return -1;
	if (v == 0) {
		set_error(s, "not initialised (run deploy-stage state init)");
		errno = ENOENT;
		return -1;
	}
	if (v < STATE_PG_VERSION) {
		set_error(s, "the tables are at version %d, this shipshape uses %d (run deploy-stage state init "
			     "to migrate them)", v, STATE_PG_VERSION);
		errno = ENOENT;
		return -1;
	}
	if (v > STATE_PG_VERSION) {
		set_error(s, "the tables are at version %d, written by a newer shipshape (this one knows %d)", v,
			  STATE_PG_VERSION);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

struct state_pg *state_pg_open(const char *url, const char *schema, bool check_version, const char *channel_path,
			       char **error)
{
	*error = NULL;
	if (!schema_name_valid(schema)) {
		*error = easprintf("invalid state.schema \"%s\" (lower-case letters, digits and '_', at most 63)",
				   schema ? schema : "");
		errno = EINVAL;
		return NULL;
	}
	redact_register_url_passwords(url);
	struct state_pg *s = ecalloc(1, sizeof *s);
	s->url = estrdup(url);
	s->schema = estrdup(schema);
	s->channel = -1;
	struct sockaddr_un sun;
	if (channel_path && strlen(channel_path) < sizeof sun.sun_path)
		s->channel_path = estrdup(channel_path);
	/* a keeper of this machine holds the lock: its connection serves */
	if (s->channel_path && channel_hello(s) == 0)
		return s;
	s->conn = connect_url(url);
	if (!s->conn)
		out_of_memory();
	s->where = where_of(s->conn, schema);
	int err = 0;
	if (PQstatus(s->conn) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(s->conn);
		char *reason = libpq_reason(msg);
		err = connect_failure_temporary(msg) ? ENOTCONN : EACCES;
		set_error(s, "%s%s", err == ENOTCONN ? "unreachable: " : "", reason);
		free(reason);
	} else if (check_version && check_tables(s) < 0) {
		err = errno;
	}
	if (!err)
		return s;
	*error = estrdup(s->error);
	state_pg_close(s);
	errno = err;
	return NULL;
}

void state_pg_close(struct state_pg *s)
{
	if (!s)
		return;
	lose_connection(s);
	channel_close(s);
	free(s->channel_path);
	free(s->url);
	free(s->schema);
	free(s->where);
	free(s->error);
	free(s);
}

const char *state_pg_where(const struct state_pg *s) { return s->where; }

const char *state_pg_error(const struct state_pg *s) { return s->error ? s->error : ""; }

/* ---- keys, guard, records ---- */

/* The advisory key's object for service: 31 bits of a hash. */
static void key_of(const struct state_pg *s, const char *service, int class, char cls[16], char obj[16])
{
	char *name = easprintf("%s/%s", s->schema, service);
	struct sha256 h;
	unsigned char d[SHA256_DIGEST_LEN];
	sha256_init(&h);
	sha256_update(&h, name, strlen(name));
	sha256_final(&h, d);
	free(name);
	unsigned long v = ((unsigned long)d[0] << 24 | (unsigned long)d[1] << 16 | (unsigned long)d[2] << 8 | d[3]) &
			  0x7fffffffUL;
	snprintf(cls, 16, "%d", class);
	snprintf(obj, 16, "%lu", v);
}

int state_pg_guard_take(struct state_pg *s, const char *service)
{
	char cls[16], obj[16];
	key_of(s, service, GUARD_CLASS, cls, obj);
	const char *p[] = {cls, obj};
	int64_t deadline = now_monotonic_ms() + GUARD_WAIT_MS;
	for (;;) {
		PGresult *r = run(s, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", 2, p);
		if (!r)
			return -1;
		bool got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		s->guard_held = got;
		if (got)
			return 0;
		channel_close(s); /* another local command may hold it meanwhile */
		if (now_monotonic_ms() > deadline) {
			set_error(s, "the journal guard of %s was not free within %d s", service, GUARD_WAIT_MS / 1000);
			errno = ETIMEDOUT;
			return -1;
		}
		sleep_ms(10);
	}
}

void state_pg_guard_release(struct state_pg *s, const char *service)
{
	bool held = s->guard_held;
	s->guard_held = false;
	/* a lost connection (or keeper) took the guard with it */
	if (held && (s->conn || s->via_keeper)) {
		char cls[16], obj[16];
		key_of(s, service, GUARD_CLASS, cls, obj);
		const char *p[] = {cls, obj};
		(void)run_only(s, "SELECT pg_advisory_unlock($1::int4, $2::int4)", 2, p);
	}
	channel_close(s);
}

int state_pg_records(struct state_pg *s, const char *service,
		     void (*take)(void *ctx, long deploy, const char *json, size_t len), void *ctx)
{
	const char *p[] = {service};
	PGresult *r = run_in(s, "SELECT deploy, record::text FROM {S}.journal WHERE service = $1 ORDER BY deploy, seq",
			     1, p);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		take(ctx, atol(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
	PQclear(r);
	return 0;
}

int state_pg_append(struct state_pg *s, const char *service, long deploy, const char *lines, size_t budget)
{
	char id[24];
	snprintf(id, sizeof id, "%ld", deploy);
	const char *p[] = {service, id, lines};
	if (budget) {
		PGresult *r = run_in(s, "SELECT coalesce(sum(octet_length(record::text)), 0) FROM {S}.journal "
					"WHERE service = $1 AND deploy = $2::bigint", 2, p);
		if (!r)
			return -1;
		size_t held = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if (held + strlen(lines) > budget) {
			errno = EFBIG;
			return -1;
		}
	}
	/* one statement: every record of the batch or none, numbered after
	 * the deploy's last (the guard orders concurrent appends; the unique
	 * key refuses a race the guard did not order) */
	return run_in_only(s, "INSERT INTO {S}.journal (service, deploy, seq, record) "
			      "SELECT $1, $2::bigint, b.last + t.n, t.rec "
			      "FROM json_array_elements($3::json) WITH ORDINALITY AS t(rec, n), "
			      "(SELECT coalesce(max(seq), 0) AS last FROM {S}.journal "
			      " WHERE service = $1 AND deploy = $2::bigint) AS b", 3, p);
}

/* ---- the lock ---- */

static const char holder_sql[] =
	"SELECT l.pid, h.holder::text FROM pg_locks l "
	"LEFT JOIN LATERAL (SELECT holder FROM {S}.lock_holders WHERE service = $1 AND backend_pid = l.pid "
	"                   ORDER BY id DESC LIMIT 1) h ON true "
	"WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
	"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
	"AND l.classid = $2::oid AND l.objid = $3::oid";

int state_pg_lock_read(struct state_pg *s, const char *service, struct lock_info *li)
{
	memset(li, 0, sizeof *li);
	char cls[16], obj[16];
	key_of(s, service, LOCK_CLASS, cls, obj);
	const char *p[] = {service, cls, obj};
	PGresult *r = run_in(s, holder_sql, 3, p);
	if (!r)
		return -1;
	if (PQntuples(r) > 0) {
		cJSON *doc = PQgetisnull(r, 0, 1) ? NULL : cJSON_Parse(PQgetvalue(r, 0, 1));
		if (cJSON_IsObject(doc)) {
			lock_info_from_json(doc, li);
		} else {
			/* taken this instant, its holder row not yet committed */
			li->present = true;
			li->host = estrdup("?");
			li->user = easprintf("a session (backend pid %s)", PQgetvalue(r, 0, 0));
			li->since = estrdup("now");
		}
		cJSON_Delete(doc);
		/* PostgreSQL holds it for a live session: never stale */
		li->stale = false;
	}
	PQclear(r);
	return 0;
}

/* The keeper, a child that inherited the connection holding the lock:
 * lets go of the guard the command held, then holds the lock while owner
 * lives and the connection stands. Never returns. */
static void keeper(struct state_pg *s, const char *service, pid_t owner)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	/* nothing of the command's stays open here (its pipes): the
	 * command's caller sees it end */
	int sock = PQsocket(s->conn);
	for (int i = 3; i < 1024; i++)
		if (i != sock)
			close(i);
	state_pg_guard_release(s, service);
	int listener = channel_listen(s), client = -1;
	bool release = false;
	int64_t next_ping = now_monotonic_ms() + KEEPER_PING_MS;
	while (!release && s->conn) {
		if (kill(owner, 0) < 0 && errno == ESRCH)
			break;
		/* one command at a time: the next waits in the backlog */
		struct pollfd pfd[2] = {{.fd = PQsocket(s->conn), .events = POLLIN},
					{.fd = client >= 0 ? client : listener, .events = POLLIN}};
		int rc = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, 1000);
		if (rc > 0 && pfd[0].revents && (!PQconsumeInput(s->conn) || PQstatus(s->conn) == CONNECTION_BAD))
			break; /* terminated (released), or the server is gone */
		PGnotify *n;
		while ((n = PQnotifies(s->conn)))
			PQfreemem(n);
		if (rc > 0 && pfd[1].fd >= 0 && pfd[1].revents) {
			if (client < 0) {
				client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
				struct ucred cred;
				socklen_t len = sizeof cred;
				if (client >= 0 && (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
						    cred.uid != geteuid())) {
					close(client);
					client = -1;
				}
			} else if (channel_serve(s, client, service, &release) < 0) {
				close(client);
				client = -1;
			}
			next_ping = now_monotonic_ms() + KEEPER_PING_MS;
		}
		if (client < 0 && now_monotonic_ms() >= next_ping) {
			/* a write finds a dead peer that silence would not */
			if (run_only(s, "SELECT 1", 0, NULL) < 0)
				break;
			next_ping = now_monotonic_ms() + KEEPER_PING_MS;
		}
	}
	if (s->channel_path)
		unlink(s->channel_path);
	if (s->conn)
		PQfinish(s->conn);
	_exit(0);
}

/* This process lets go of its copy of the connection the keeper now holds,
 * without a word to the server: its socket becomes /dev/null first, so
 * that PQfinish()'s goodbye goes nowhere. A later statement connects again. */
static void hand_over(struct state_pg *s)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0 && dup2(null, PQsocket(s->conn)) >= 0)
		PQfinish(s->conn); /* else its memory is left: the connection must live */
	if (null >= 0)
		close(null);
	s->conn = NULL;
	s->handed_over = true;
	s->guard_held = false; /* the keeper lets go of it */
}

int state_pg_lock_take(struct state_pg *s, const char *service, long deploy, const char *message)
{
	char cls[16], obj[16];
	key_of(s, service, LOCK_CLASS, cls, obj);
	const char *lp[] = {cls, obj};
	PGresult *r = run(s, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", 2, lp);
	if (!r)
		return -1;
	bool got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!got) {
		set_error(s, "the lock of %s is held by another session", service);
		errno = EBUSY;
		return -1;
	}
	cJSON *doc = lock_holder_new(deploy, message);
	char *holder = ejson_print(doc);
	cJSON_Delete(doc);
	const char *hp[] = {service, holder};
	int rc = run_in_only(s, "INSERT INTO {S}.lock_holders (service, backend_pid, holder) "
			       "VALUES ($1, pg_backend_pid(), $2::json)", 2, hp);
	free(holder);
	pid_t owner = lock_owner_pid();
	fflush(NULL);
	/* twice: the keeper is nobody's child to reap */
	pid_t child = rc == 0 ? fork() : -1;
	if (child == 0) {
		if (fork() == 0)
			keeper(s, service, owner);
		_exit(0);
	}
	int saved = errno;
	if (child > 0)
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	if (child < 0) {
		if (rc == 0)
			set_error(s, "unable to start the lock keeper: %s", strerror(saved));
		(void)run_only(s, "SELECT pg_advisory_unlock($1::int4, $2::int4)", 2, lp);
		errno = saved;
		return -1;
	}
	hand_over(s);
	return 0;
}

int state_pg_lock_drop(struct state_pg *s, const char *service, const struct lock_info *li)
{
	(void)li; /* under the guard: whoever pg_locks names is the holder li read */
	if (s->via_keeper)
		return channel_release(s); /* the keeper serving us holds it */
	char cls[16], obj[16];
	key_of(s, service, LOCK_CLASS, cls, obj);
	const char *p[] = {cls, obj};
	PGresult *r = run(s, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
			     "AND granted AND objsubid = 2 AND classid = $1::oid AND objid = $2::oid "
			     "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
		     2, p);
	if (!r)
		return -1;
	PQclear(r);
	int64_t deadline = now_monotonic_ms() + DROP_WAIT_MS;
	for (;;) {
		struct lock_info now;
		if (state_pg_lock_read(s, service, &now) < 0)
			return -1;
		bool held = now.present;
		lock_info_free(&now);
		if (!held)
			return 0;
		if (now_monotonic_ms() > deadline) {
			set_error(s, "the lock of %s is still held %d s after its keeper was terminated", service,
				  DROP_WAIT_MS / 1000);
			errno = ETIMEDOUT;
			return -1;
		}
		sleep_ms(2);
	}
}

/* ---- the channel: a command on the keeper's machine runs its statements
 * on the keeper's connection, over a Unix socket beside the journal (0600,
 * its peer's uid checked), instead of opening a connection of its own: a
 * new PostgreSQL backend costs more than the rest of a step. One command
 * at a time, which keeps it while it holds the guard (a session lock on
 * that connection). Messages: a u32 length, then a type byte and its body;
 * numbers are u32 in host order (both ends are this machine). ---- */

#define CHANNEL_MESSAGE_MAX (512u << 20)

enum { MSG_HELLO = 'H', MSG_QUERY = 'Q', MSG_RELEASE = 'R', MSG_OK = 'K', MSG_ROWS = 'T', MSG_ERROR = 'E' };

struct channel_reader {
	const char *p;
	size_t left;
	bool bad;
};

static void put_u32(struct buf *b, uint32_t v) { buf_append(b, &v, sizeof v); }

static void put_bytes(struct buf *b, const char *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	buf_append(b, p, n);
}

static uint32_t get_u32(struct channel_reader *r)
{
	uint32_t v = 0;
	if (r->left < sizeof v) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p, sizeof v);
	r->p += sizeof v;
	r->left -= sizeof v;
	return v;
}

/* The next bytes (not NUL-terminated), *n their length; NULL for the
 * null marker (UINT32_MAX). */
static const char *get_bytes(struct channel_reader *r, uint32_t *n)
{
	*n = get_u32(r);
	if (*n == UINT32_MAX || r->bad)
		return NULL;
	if (r->left < *n) {
		r->bad = true;
		return NULL;
	}
	const char *at = r->p;
	r->p += *n;
	r->left -= *n;
	return at;
}

static char *get_string(struct channel_reader *r)
{
	uint32_t n;
	const char *p = get_bytes(r, &n);
	return p ? estrndup(p, n) : NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_full(int fd, char *p, size_t n, int64_t deadline)
{
	while (n) {
		int64_t left = deadline - now_monotonic_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int rc = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			errno = rc == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		ssize_t got = read(fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			errno = got == 0 ? ECONNRESET : errno;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int send_message(int fd, char type, const struct buf *body)
{
	struct buf m = {0};
	put_u32(&m, (uint32_t)(1 + body->len));
	buf_putc(&m, type);
	buf_append(&m, body->data, body->len);
	int rc = write_all(fd, m.data, m.len);
	buf_free(&m);
	return rc;
}

/* The next message: its type, its body in *body (the caller's, free()). */
static int receive_message(int fd, int64_t deadline, char *type, char **body, size_t *len)
{
	uint32_t n;
	if (read_full(fd, (char *)&n, sizeof n, deadline) < 0)
		return -1;
	if (n < 1 || n > CHANNEL_MESSAGE_MAX) {
		errno = EPROTO;
		return -1;
	}
	*body = emalloc(n);
	if (read_full(fd, *body, n, deadline) < 0) {
		free(*body);
		return -1;
	}
	*type = (*body)[0];
	memmove(*body, *body + 1, n - 1);
	*len = n - 1;
	return 0;
}

/* What a command and its keeper must agree on: the same database, the
 * same schema. */
static void channel_digest(const struct state_pg *s, char hex[SHA256_HEX_LEN])
{
	char *text = easprintf("%s\n%s", s->url, s->schema);
	sha256_hex(text, strlen(text), hex);
	free(text);
}

static void channel_close(struct state_pg *s)
{
	if (s->channel >= 0)
		close(s->channel);
	s->channel = -1;
}

static int channel_connect(struct state_pg *s)
{
	if (s->channel >= 0)
		return 0;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->channel_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	s->channel = fd;
	return 0;
}

/* A request and its answer: 0 with *type, *body (the caller's), or -1
 * after the channel was lost (then the command connects on its own: the
 * keeper, and the lock, may be gone). */
static int channel_call(struct state_pg *s, char type, const struct buf *req, char *rtype, char **body, size_t *len)
{
	if (channel_connect(s) == 0 && send_message(s->channel, type, req) == 0 &&
	    receive_message(s->channel, now_monotonic_ms() + STATE_PG_STATEMENT_MS + 1000, rtype, body, len) == 0)
		return 0;
	int saved = errno;
	channel_close(s);
	s->via_keeper = false;
	s->handed_over = true;
	set_error(s, "the lock keeper's channel was lost: %s", strerror(saved));
	errno = ENOTCONN;
	return -1;
}

static int channel_hello(struct state_pg *s)
{
	char hex[SHA256_HEX_LEN], rtype, *body = NULL;
	size_t len;
	channel_digest(s, hex);
	struct buf req = {0};
	put_bytes(&req, hex, strlen(hex));
	int rc = channel_connect(s);
	if (rc == 0) {
		s->via_keeper = true;
		rc = channel_call(s, MSG_HELLO, &req, &rtype, &body, &len);
	}
	buf_free(&req);
	if (rc == 0 && rtype == MSG_OK) {
		free(s->where);
		s->where = estrndup(body, len);
	} else {
		rc = -1;
	}
	free(body);
	channel_close(s);
	s->via_keeper = rc == 0;
	s->handed_over = false;
	return rc;
}

static PGresult *rows_result(struct channel_reader *rd)
{
	ExecStatusType st = (ExecStatusType)get_u32(rd);
	uint32_t ncols = get_u32(rd), nrows = get_u32(rd);
	if (rd->bad || ncols > 4096)
		return NULL;
	PGresult *res = PQmakeEmptyPGresult(NULL, st);
	if (!res)
		out_of_memory();
	PGresAttDesc *attrs = ecalloc(ncols ? ncols : 1, sizeof *attrs);
	char **names = ecalloc(ncols ? ncols : 1, sizeof *names);
	for (uint32_t c = 0; c < ncols; c++) {
		names[c] = get_string(rd);
		attrs[c] = (PGresAttDesc){.name = names[c] ? names[c] : "?", .typid = 25, .typlen = -1};
	}
	bool ok = !rd->bad && (!ncols || PQsetResultAttrs(res, (int)ncols, attrs));
	for (uint32_t row = 0; ok && row < nrows; row++)
		for (uint32_t c = 0; ok && c < ncols; c++) {
			uint32_t n;
			const char *v = get_bytes(rd, &n);
			ok = !rd->bad && PQsetvalue(res, (int)row, (int)c, (char *)v, v ? (int)n : -1);
		}
	for (uint32_t c = 0; c < ncols; c++)
		free(names[c]);
	free(names);
	free(attrs);
	if (!ok) {
		PQclear(res);
		return NULL;
	}
	return res;
}

static PGresult *run_channel(struct state_pg *s, const char *sql, int n, const char *const *params)
{
	struct buf req = {0};
	put_u32(&req, params ? 1 : 0);
	put_bytes(&req, sql, strlen(sql));
	put_u32(&req, (uint32_t)n);
	for (int i = 0; params && i < n; i++)
		put_bytes(&req, params[i], strlen(params[i]));
	char type, *body = NULL;
	size_t len;
	int rc = channel_call(s, MSG_QUERY, &req, &type, &body, &len);
	buf_free(&req);
	if (rc < 0)
		return NULL;
	struct channel_reader rd = {.p = body, .left = len};
	PGresult *res = NULL;
	if (type == MSG_ROWS) {
		if (!(res = rows_result(&rd))) {
			set_error(s, "the lock keeper's answer was unreadable");
			errno = EPROTO;
		}
	} else if (type == MSG_ERROR) {
		int err = (int)get_u32(&rd);
		char *text = get_string(&rd);
		free(s->error);
		s->error = text ? text : estrdup("state database: the lock keeper failed");
		errno = err ? err : EIO;
	}
	free(body);
	if (!s->guard_held)
		channel_close(s);
	return res;
}

/* The keeper lets go of the lock and ends; this command connects on its
 * own for whatever it does next. */
static int channel_release(struct state_pg *s)
{
	struct buf req = {0};
	char type, *body = NULL;
	size_t len;
	int rc = channel_call(s, MSG_RELEASE, &req, &type, &body, &len);
	free(body);
	channel_close(s);
	s->via_keeper = false;
	s->handed_over = true;
	s->guard_held = false; /* it was on the keeper's connection */
	if (rc == 0 && type != MSG_OK) {
		set_error(s, "the lock keeper did not let go of the lock");
		errno = EIO;
		rc = -1;
	}
	return rc;
}

static int channel_listen(const struct state_pg *s)
{
	if (!s->channel_path)
		return -1;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->channel_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(s->channel_path); /* a keeper killed before it could clean up */
	mode_t old = umask(0177); /* srw------- */
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc < 0 || listen(fd, 8) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void reply_error(int fd, int err, const char *text)
{
	struct buf b = {0};
	put_u32(&b, (uint32_t)err);
	put_bytes(&b, text, strlen(text));
	(void)send_message(fd, MSG_ERROR, &b);
	buf_free(&b);
}

static void reply_rows(int fd, const PGresult *r)
{
	struct buf b = {0};
	int ncols = PQnfields(r), nrows = PQntuples(r);
	put_u32(&b, (uint32_t)PQresultStatus(r));
	put_u32(&b, (uint32_t)ncols);
	put_u32(&b, (uint32_t)nrows);
	for (int c = 0; c < ncols; c++)
		put_bytes(&b, PQfname(r, c), strlen(PQfname(r, c)));
	for (int row = 0; row < nrows; row++)
		for (int c = 0; c < ncols; c++) {
			if (PQgetisnull(r, row, c))
				put_u32(&b, UINT32_MAX);
			else
				put_bytes(&b, PQgetvalue(r, row, c), (size_t)PQgetlength(r, row, c));
		}
	(void)send_message(fd, MSG_ROWS, &b);
	buf_free(&b);
}

static void serve_query(struct state_pg *s, int fd, struct channel_reader *rd)
{
	bool with_params = get_u32(rd) != 0;
	char *sql = get_string(rd);
	uint32_t n = get_u32(rd);
	char **params = NULL;
	if (!rd->bad && n <= 64) {
		params = ecalloc(n ? n : 1, sizeof *params);
		for (uint32_t i = 0; i < n; i++)
			params[i] = get_string(rd);
	}
	if (rd->bad || !sql || !params) {
		reply_error(fd, EPROTO, "state database: an unreadable request to the lock keeper");
	} else {
		PGresult *r = run_direct(s, sql, (int)n, with_params ? (const char *const *)params : NULL);
		if (r)
			reply_rows(fd, r);
		else
			reply_error(fd, errno, s->error);
		PQclear(r);
	}
	for (uint32_t i = 0; params && i < n; i++)
		free(params[i]);
	free(params);
	free(sql);
}

/* One request of the command on fd: 0, or -1 when it is gone (its guard,
 * if it held it, let go). *release: it asked the keeper to let go of the
 * lock, which is done when this returns. */
static int channel_serve(struct state_pg *s, int fd, const char *service, bool *release)
{
	char type, *body = NULL;
	size_t len;
	if (receive_message(fd, now_monotonic_ms() + STATE_PG_STATEMENT_MS, &type, &body, &len) < 0) {
		s->guard_held = true; /* whether or not the command took it */
		state_pg_guard_release(s, service);
		return -1;
	}
	struct channel_reader rd = {.p = body, .left = len};
	struct buf empty = {0};
	if (type == MSG_HELLO) {
		char hex[SHA256_HEX_LEN];
		channel_digest(s, hex);
		uint32_t n;
		const char *theirs = get_bytes(&rd, &n);
		if (theirs && n == strlen(hex) && memcmp(theirs, hex, n) == 0) {
			struct buf b = {0};
			buf_append(&b, s->where, strlen(s->where));
			(void)send_message(fd, MSG_OK, &b);
			buf_free(&b);
		} else {
			reply_error(fd, EPROTO, "state database: another database or schema");
		}
	} else if (type == MSG_QUERY) {
		serve_query(s, fd, &rd);
	} else if (type == MSG_RELEASE) {
		char cls[16], obj[16];
		key_of(s, service, LOCK_CLASS, cls, obj);
		const char *p[] = {cls, obj};
		/* at once, before the answer: whoever asks next finds it free */
		(void)run_only(s, "SELECT pg_advisory_unlock($1::int4, $2::int4)", 2, p);
		(void)send_message(fd, MSG_OK, &empty);
		*release = true;
	} else {
		reply_error(fd, EPROTO, "state database: an unknown request to the lock keeper");
	}
	free(body);
	return 0;
}

/* ---- init, check, import ---- */

/* Each version's migration from the one before: migrations[0] creates
 * version 1. A newer shipshape appends; none is ever edited. */
static const char *const migrations[] = {
	"CREATE SCHEMA IF NOT EXISTS {S};"
	"CREATE TABLE IF NOT EXISTS {S}.state_version ("
	"  version int PRIMARY KEY, installed_at timestamptz NOT NULL DEFAULT now(),"
	"  installed_by text NOT NULL DEFAULT current_user);"
	"CREATE TABLE IF NOT EXISTS {S}.journal ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, service text NOT NULL,"
	"  deploy bigint NOT NULL CHECK (deploy > 0), seq int NOT NULL CHECK (seq > 0),"
	"  record json NOT NULL, written_at timestamptz NOT NULL DEFAULT now(),"
	"  UNIQUE (service, deploy, seq));"
	"CREATE TABLE IF NOT EXISTS {S}.lock_holders ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, service text NOT NULL,"
	"  backend_pid int NOT NULL, holder json NOT NULL, taken_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX IF NOT EXISTS lock_holders_by_backend ON {S}.lock_holders (service, backend_pid, id);"
	"CREATE OR REPLACE FUNCTION {S}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
	"  $$BEGIN RAISE EXCEPTION 'shipshape state: % is append-only', TG_TABLE_NAME"
	"  USING ERRCODE = 'insufficient_privilege'; END$$;"
	"CREATE OR REPLACE TRIGGER journal_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {S}.journal"
	"  FOR EACH STATEMENT EXECUTE FUNCTION {S}.refuse_change();"
	"CREATE OR REPLACE TRIGGER lock_holders_append_only BEFORE UPDATE OR DELETE OR TRUNCATE"
	"  ON {S}.lock_holders FOR EACH STATEMENT EXECUTE FUNCTION {S}.refuse_change();",
};

static int init_steps(struct state_pg *s, const char *grant, int *from)
{
	char cls[16], obj[16];
	key_of(s, "", INIT_CLASS, cls, obj);
	const char *p[] = {cls, obj};
	if (run_only(s, "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", 2, p) < 0)
		return -1;
	int v = tables_version_in_transaction(s);
	if (v < 0)
		return -1;
	*from = v;
	if (v > STATE_PG_VERSION) {
		set_error(s, "the tables are at version %d, written by a newer shipshape (this one knows %d)", v,
			  STATE_PG_VERSION);
		errno = EPROTO;
		return -1;
	}
	for (int next = v + 1; next <= STATE_PG_VERSION; next++) {
		char version[16];
		snprintf(version, sizeof version, "%d", next);
		const char *vp[] = {version};
		if (run_in_only(s, migrations[next - 1], 0, NULL) < 0 ||
		    run_in_only(s, "INSERT INTO {S}.state_version (version) VALUES ($1::int)", 1, vp) < 0)
			return -1;
	}
	if (!grant)
		return 0;
	char *role = PQescapeIdentifier(s->conn, grant, strlen(grant));
	if (!role)
		out_of_memory();
	char *sql = easprintf("GRANT USAGE ON SCHEMA {S} TO %s;"
			      "GRANT SELECT, INSERT ON {S}.journal, {S}.lock_holders TO %s;"
			      "GRANT SELECT ON {S}.state_version TO %s;", role, role, role);
	PQfreemem(role);
	int rc = run_in_only(s, sql, 0, NULL);
	free(sql);
	return rc;
}

int state_pg_init(struct state_pg *s, const char *grant, int *from)
{
	*from = 0;
	if (run_only(s, "BEGIN", 0, NULL) < 0)
		return -1;
	if (init_steps(s, grant, from) < 0) {
		int saved = errno;
		(void)run_only(s, "ROLLBACK", 0, NULL);
		errno = saved;
		return -1;
	}
	return run_only(s, "COMMIT", 0, NULL);
}

static bool local_host(const char *host)
{
	return !host || !*host || host[0] == '/' || strcmp(host, "localhost") == 0 ||
	       strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

static void check_tls(struct state_pg *s, struct report *rep)
{
	if (PQsslInUse(s->conn)) {
		const char *proto = PQsslAttribute(s->conn, "protocol");
		report_add_check(rep, "state.tls", STATUS_OK, 0, NULL, "encrypted (%s)", proto ? proto : "TLS");
	} else if (local_host(PQhost(s->conn))) {
		report_add_check(rep, "state.tls", STATUS_OK, 0, NULL, "not encrypted: a local connection");
	} else {
		report_add_check(rep, "state.tls", STATUS_WARNING, 0, NULL,
				 "not encrypted: set sslmode=verify-full (or require) in state.url");
	}
}

/* The role's privileges on the schema: whether it may use it at all
 * (nothing in it can be read otherwise), in *usage. */
static void check_schema_usage(struct state_pg *s, struct report *rep, bool *usage)
{
	const char *p[] = {s->schema};
	PGresult *r = run(s, "SELECT has_schema_privilege(current_user, n.oid, 'USAGE'), current_user "
			     "FROM pg_namespace n WHERE n.nspname = $1", 1, p);
	*usage = r && PQntuples(r) && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (!r)
		report_add_check(rep, "state.privileges", STATUS_UNKNOWN, 0, NULL, "not checked: %s", s->error);
	else if (PQntuples(r) && !*usage)
		report_add_check(rep, "state.privileges", STATUS_CRITICAL, 0, NULL,
				 "role %s lacks USAGE on the schema %s, and so every table in it (see deploy-stage(1), "
				 "STATE IN POSTGRESQL)", PQgetvalue(r, 0, 1), s->schema);
	else if (!PQntuples(r))
		*usage = true; /* no schema yet: state.schema says so */
	PQclear(r);
}

static void check_table_privileges(struct state_pg *s, struct report *rep)
{
	PGresult *r = run_in(s, "SELECT has_table_privilege(current_user, '{S}.journal', 'SELECT'),"
				" has_table_privilege(current_user, '{S}.journal', 'INSERT'),"
				" has_table_privilege(current_user, '{S}.lock_holders', 'SELECT'),"
				" has_table_privilege(current_user, '{S}.lock_holders', 'INSERT'),"
				" has_table_privilege(current_user, '{S}.state_version', 'SELECT'),"
				" has_table_privilege(current_user, '{S}.journal', 'UPDATE, DELETE'), current_user",
			     0, NULL);
	if (!r) {
		report_add_check(rep, "state.privileges", STATUS_UNKNOWN, 0, NULL, "not checked: %s", s->error);
		return;
	}
	static const char *const needed[] = {"SELECT on journal", "INSERT on journal", "SELECT on lock_holders",
					     "INSERT on lock_holders", "SELECT on state_version"};
	struct buf missing = {0};
	for (int i = 0; i < (int)ARRAY_LEN(needed); i++)
		if (strcmp(PQgetvalue(r, 0, i), "t") != 0)
			buf_printf(&missing, "%s%s", missing.len ? ", " : "", needed[i]);
	const char *role = PQgetvalue(r, 0, 6);
	if (missing.len)
		report_add_check(rep, "state.privileges", STATUS_CRITICAL, 0, NULL,
				 "role %s lacks %s (see deploy-stage(1), STATE IN POSTGRESQL)", role, missing.data);
	else
		report_add_check(rep, "state.privileges", STATUS_OK, 0, NULL, "role %s may read and append%s", role,
				 strcmp(PQgetvalue(r, 0, 5), "t") == 0
					 ? " (it may also UPDATE or DELETE, which the tables' triggers refuse)"
					 : " and nothing more");
	buf_free(&missing);
	PQclear(r);
}

static void check_lock(struct state_pg *s, const char *service, struct report *rep)
{
	struct lock_info li;
	if (state_pg_lock_read(s, service, &li) < 0) {
		report_add_check(rep, "state.lock", STATUS_UNKNOWN, 0, NULL, "not read: %s", s->error);
		return;
	}
	if (li.present) {
		char *who = lock_holder_describe(&li);
		report_add_check(rep, "state.lock", STATUS_OK, 0, lock_info_json(&li), "%s: held by %s", service, who);
		free(who);
	} else {
		report_add_check(rep, "state.lock", STATUS_OK, 0, NULL, "%s: free", service);
	}
	lock_info_free(&li);
}

void state_pg_check(struct state_pg *s, const char *service, struct report *rep)
{
	PGresult *r = run(s, "SELECT current_user, current_setting('server_version')", 0, NULL);
	if (!r) {
		report_add_check(rep, "state.reachable", STATUS_CRITICAL, 0, NULL, "%s", s->error);
		return;
	}
	report_add_check(rep, "state.reachable", STATUS_OK, 0, NULL, "connected to %s as %s (PostgreSQL %s)", s->where,
			 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	PQclear(r);
	check_tls(s, rep);
	bool usage;
	check_schema_usage(s, rep, &usage);
	if (!usage)
		return;
	int v = tables_version(s);
	if (v < 0) {
		bool denied = errno == EACCES;
		report_add_check(rep, "state.schema", STATUS_UNKNOWN, 0, NULL, "not checked: %s", s->error);
		if (denied)
			check_table_privileges(s, rep);
		return;
	}
	if (v != STATE_PG_VERSION) {
		report_add_check(rep, "state.schema", STATUS_CRITICAL, 0, NULL,
				 v == 0 ? "not initialised: run deploy-stage state init"
				 : v < STATE_PG_VERSION ? "the tables are at an older version: run deploy-stage state init"
							: "the tables were written by a newer shipshape");
		return;
	}
	report_add_check(rep, "state.schema", STATUS_OK, 0, NULL, "initialised, version %d", v);
	check_table_privileges(s, rep);
	check_lock(s, service, rep);
}

int state_pg_import(struct state_pg *s, const char *service, long deploy, const cJSON *records, int *added)
{
	*added = 0;
	char *lines = ejson_print(records);
	char id[24];
	snprintf(id, sizeof id, "%ld", deploy);
	const char *p[] = {service, id, lines};
	/* the rows already held that differ: a conflict, nothing written */
	PGresult *r = run_in(s, "SELECT count(*) FROM json_array_elements($3::json) WITH ORDINALITY AS t(rec, n) "
				"JOIN {S}.journal j ON j.service = $1 AND j.deploy = $2::bigint AND j.seq = t.n "
				"WHERE j.record::text <> t.rec::text", 3, p);
	int rc = -1;
	if (!r)
		goto out;
	long differ = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (differ) {
		set_error(s, "deploy %ld of %s: %ld record%s already held differ from the file's (not imported)",
			  deploy, service, differ, differ == 1 ? "" : "s");
		errno = EEXIST;
		goto out;
	}
	r = run_in(s, "INSERT INTO {S}.journal (service, deploy, seq, record) "
		      "SELECT $1, $2::bigint, t.n, t.rec FROM json_array_elements($3::json) WITH ORDINALITY AS t(rec, n) "
		      "ON CONFLICT (service, deploy, seq) DO NOTHING", 3, p);
	if (!r)
		goto out;
	*added = atoi(PQcmdTuples(r));
	PQclear(r);
	rc = 0;
out:
	free(lines);
	return rc;
}
