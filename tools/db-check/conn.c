/* conn.c — db-check's connection: a non-blocking connect bounded by the
 * deadline, failures classified like pg_isready (and more clearly), and
 * pipelined statements with a cancel when the deadline passes. */
#include "db-check.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void conn_failure_free(struct conn_failure *f)
{
	free(f->message);
	free(f->detail);
	f->message = f->detail = NULL;
}

/* How much of s is text: it ends at a control character or a byte that is
 * not part of valid UTF-8. libpq 15 can end a message with a buffer it
 * never filled (an SSL error's strerror_r), which is nobody's to print. */
static size_t text_length(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		if (len == 0 || (len == 1 && ((c < 0x20 && c != '\t') || c == 0x7f)) || (len == 2 && c < 0xC2) || i + len > n)
			return i;
		for (size_t k = 1; k < len; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return i;
		i += len;
	}
	return i;
}

/* libpq's messages as one redacted line of text: "connection to server at
 * ... failed: FATAL:  password authentication failed for user "app"". */
static char *first_line(const char *msg)
{
	if (!msg || !*msg)
		return estrdup("");
	size_t n = strcspn(msg, "\n");
	size_t text = text_length(msg, n);
	char *line = text < n ? easprintf("%.*s[unreadable]", (int)text, msg) : estrndup(msg, n);
	char *red = redact_string(line);
	free(line);
	return red;
}

static bool has(const char *msg, const char *needle)
{
	return strcasestr(msg, needle) != NULL;
}

/* libpq's own reason, redacted: the line of msg holding needle, without the
 * "connection to server at ... failed: " that names where (said apart). */
static char *cause_of(const char *msg, const char *needle)
{
	const char *at = strcasestr(msg, needle);
	const char *line = at;
	while (line > msg && line[-1] != '\n')
		line--;
	static const char prefix_end[] = " failed: ";
	const char *p = strstr(line, prefix_end);
	if (p && p < at)
		line = p + strlen(prefix_end);
	return first_line(line);
}

/* How a failure's message is made. */
enum failure_text {
	TEXT_ALONE,       /* the text */
	TEXT_WITH_CAUSE,  /* the text, then libpq's reason: the text alone would
			     hide which file, which check or which errno */
	TEXT_NO_DATABASE, /* database "NAME" does not exist */
	TEXT_NO_ROLE,     /* role "NAME" does not exist */
};

/* A failure libpq's message names, matched the way pg_isready's PQping()
 * tells "rejecting" from "no response", with the rest of the taxonomy an
 * operator needs. The first pattern that matches is the failure. */
struct failure_pattern {
	const char *needle;        /* in libpq's message, in any case */
	const char *const *also;   /* NULL, or one of these must be in it too */
	const char *kind, *reason;
	const char *text;
	enum failure_text shape;
};

/* "SSL" alone is too loose when the server's answer is something else */
static const char *const ssl_said[] = {"SSL error", "SSL SYSCALL", "SSL connection", "SSL negotiation", NULL};
static const char *const database_said[] = {"database \"", NULL};
static const char *const role_said[] = {"role \"", NULL};

static const struct failure_pattern failure_patterns[] = {
	{"server does not support SSL", NULL, "ssl", "not_supported",
	 "SSL negotiation failed: the server does not support SSL, but SSL was required", TEXT_ALONE},
	{"certificate", NULL, "ssl", "certificate", "SSL negotiation failed: certificate problem", TEXT_WITH_CAUSE},
	{"SSL", ssl_said, "ssl", "handshake", "SSL negotiation failed", TEXT_WITH_CAUSE},
	{"the database system is starting up", NULL, "rejecting", "starting_up",
	 "rejecting connections: the server is starting up", TEXT_ALONE},
	{"the database system is shutting down", NULL, "rejecting", "shutting_down",
	 "rejecting connections: the server is shutting down", TEXT_ALONE},
	{"not yet accepting connections", NULL, "rejecting", "recovery",
	 "rejecting connections: the server is in recovery and not yet accepting connections", TEXT_ALONE},
	{"is in recovery mode", NULL, "rejecting", "recovery", "rejecting connections: the server is in recovery mode",
	 TEXT_ALONE},
	{"too many clients", NULL, "rejecting", "too_many_clients",
	 "rejecting connections: too many clients (max_connections reached)", TEXT_ALONE},
	{"remaining connection slots are reserved", NULL, "rejecting", "too_many_clients",
	 "rejecting connections: only reserved connection slots are left", TEXT_ALONE},
	{"too many connections for", NULL, "rejecting", "too_many_clients",
	 "rejecting connections: the role's or database's connection limit is reached", TEXT_ALONE},
	{"password authentication failed", NULL, "authentication", "password",
	 "authentication failed: wrong password or unknown user", TEXT_ALONE},
	{"no password supplied", NULL, "authentication", "no_password",
	 "authentication failed: the server asks for a password and none was given (URL, PGPASSWORD or ~/.pgpass)",
	 TEXT_ALONE},
	{"pg_hba.conf rejects", NULL, "authentication", "pg_hba", "authentication failed: rejected by pg_hba.conf",
	 TEXT_ALONE},
	{"no pg_hba.conf entry", NULL, "authentication", "pg_hba",
	 "authentication failed: no pg_hba.conf entry for this host, user and database", TEXT_ALONE},
	{"authentication failed", NULL, "authentication", "failed", "authentication failed", TEXT_ALONE},
	{"does not exist", database_said, "no_database", "no_database", NULL, TEXT_NO_DATABASE},
	{"does not exist", role_said, "no_role", "no_role", NULL, TEXT_NO_ROLE},
	{"permission denied for database", NULL, "authorization", "no_connect_privilege",
	 "the role may not connect to this database (no CONNECT privilege)", TEXT_ALONE},
	{"not permitted to log in", NULL, "authorization", "no_login", "the role may not log in (NOLOGIN)", TEXT_ALONE},
	{"Connection refused", NULL, "no_response", "refused", "no response: connection refused", TEXT_ALONE},
	{"No route to host", NULL, "no_response", "unreachable", "no response: host unreachable", TEXT_ALONE},
	{"Host is unreachable", NULL, "no_response", "unreachable", "no response: host unreachable", TEXT_ALONE},
	{"Network is unreachable", NULL, "no_response", "unreachable", "no response: network unreachable",
	 TEXT_ALONE},
	{"could not translate host name", NULL, "no_response", "unresolved",
	 "no response: the host name does not resolve", TEXT_ALONE},
	{"timeout expired", NULL, "no_response", "timed_out", "no response: timed out", TEXT_ALONE},
	{"No such file or directory", NULL, "no_response", "no_socket",
	 "no response: no server socket (is the server running locally?)", TEXT_ALONE},
	{"server closed the connection unexpectedly", NULL, "no_response", "closed",
	 "no response: the server closed the connection", TEXT_ALONE},
};

static bool has_any(const char *msg, const char *const *needles)
{
	for (; *needles; needles++)
		if (has(msg, *needles))
			return true;
	return false;
}

/* The first pattern libpq's message matches, or NULL. */
static const struct failure_pattern *failure_pattern_of(const char *msg)
{
	for (size_t i = 0; i < ARRAY_LEN(failure_patterns); i++) {
		const struct failure_pattern *p = &failure_patterns[i];
		if (has(msg, p->needle) && (!p->also || has_any(msg, p->also)))
			return p;
	}
	return NULL;
}

/* The report's line for a failure p matched in msg; where ends it. */
static char *failure_message(PGconn *c, const char *msg, const struct failure_pattern *p, const char *where)
{
	switch (p->shape) {
	case TEXT_WITH_CAUSE: {
		char *cause = cause_of(msg, p->needle);
		char *line = easprintf("%s: %s%s", p->text, cause, where);
		free(cause);
		return line;
	}
	case TEXT_NO_DATABASE: return easprintf("database \"%s\" does not exist%s", PQdb(c), where);
	case TEXT_NO_ROLE: return easprintf("role \"%s\" does not exist%s", PQuser(c), where);
	case TEXT_ALONE: break;
	}
	return easprintf("%s%s", p->text, where);
}

/* The server's words for why it would not take the connection. */
static void classify(PGconn *c, const char *msg, struct conn_failure *f, const char *where)
{
	f->detail = first_line(msg);
	const struct failure_pattern *p = failure_pattern_of(msg);
	if (p) {
		f->kind = p->kind;
		f->reason = p->reason;
		f->message = failure_message(c, msg, p, where);
	} else if (PQconnectionNeedsPassword(c)) {
		f->kind = "authentication";
		f->reason = "no_password";
		f->message = easprintf("authentication failed: a password is needed and none was given%s", where);
	} else {
		f->kind = "other";
		f->reason = "failed";
		f->message = easprintf("connection failed%s: %s", where, f->detail);
	}
}

/* " (127.0.0.1:5432)" naming where we tried; never the URL itself. */
static char *where_text(PGconn *c)
{
	const char *host = PQhost(c), *port = PQport(c);
	if (!host || !*host)
		return estrdup("");
	return easprintf(" (%s%s%s)", host, port && *port ? ":" : "", port ? port : "");
}

/* Waits until the socket is ready for events or the deadline passes:
 * 1 ready, 0 deadline, -1 error. */
static int wait_socket(PGconn *c, short events, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - now_monotonic_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = PQsocket(c), .events = events};
		int rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : rc > 0;
	}
}

/* Drives the non-blocking connect until it is made or failed, or the
 * deadline passes: PGRES_POLLING_OK, _FAILED, or the _READING or _WRITING
 * it was waiting in. */
static PostgresPollingStatusType connect_poll(PGconn *c, int64_t deadline_ms)
{
	PostgresPollingStatusType st = PQstatus(c) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		/* between addresses: no socket to wait on yet */
		bool between_addresses = PQsocket(c) < 0 && now_monotonic_ms() < deadline_ms;
		short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (!between_addresses && wait_socket(c, events, deadline_ms) <= 0)
			return st;
		st = PQconnectPoll(c);
	}
	return st;
}

/* The failure of a connect the deadline cut short, saying how far it got. */
static void connect_timed_out(PGconn *c, const struct settings *s, struct conn_failure *f)
{
	char *where = where_text(c);
	char dur[32];
	duration_format(s->timeout_ms, dur, sizeof dur);
	f->kind = "no_response";
	f->reason = "timed_out";
	ConnStatusType cs = PQstatus(c);
	if (cs == CONNECTION_STARTED)
		f->message = easprintf("no response: timed out after %s waiting for the TCP connection%s", dur, where);
	else
		f->message = easprintf("no response: timed out after %s waiting for the server to "
				       "answer (the connection was accepted)%s", dur, where);
	f->detail = estrdup(cs == CONNECTION_STARTED ? "connecting" : "awaiting response");
	free(where);
}

/* libpq keeps sslmode=prefer unless told otherwise; db-check connects as the
 * application would, so it adds nothing of its own but its name. */
PGconn *db_connect(const struct settings *s, struct conn_failure *f, int64_t *elapsed_ms)
{
	const char *keys[4], *vals[4];
	int n = 0;
	if (s->url) {
		keys[n] = "dbname";
		vals[n++] = s->url;
	}
	keys[n] = "application_name";
	vals[n++] = "db-check";
	keys[n] = NULL;
	vals[n] = NULL;

	int64_t start = now_monotonic_ms();
	PGconn *c = PQconnectStartParams(keys, vals, 1);
	if (!c)
		die(EXIT_UNKNOWN, "unable to start a connection: out of memory");
	PostgresPollingStatusType st = connect_poll(c, s->deadline_ms);
	*elapsed_ms = now_monotonic_ms() - start;
	if (st == PGRES_POLLING_FAILED) {
		char *where = where_text(c);
		classify(c, PQerrorMessage(c), f, where);
		free(where);
	} else if (st != PGRES_POLLING_OK) {
		connect_timed_out(c, s, f);
	} else if (PQsetnonblocking(c, 1) != 0 || PQenterPipelineMode(c) != 1) {
		f->kind = "other";
		f->reason = "failed";
		f->message = estrdup("connected, but could not enter pipeline mode");
		f->detail = first_line(PQerrorMessage(c));
	} else {
		return c;
	}
	PQfinish(c);
	return NULL;
}

/* ---- cancelling: PQcancel blocks, so it runs on a thread we wait for only
 * a bounded time ---- */

struct cancel_job {
	PGcancel *cancel;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;
};

static void *cancel_thread(void *arg)
{
	struct cancel_job *job = arg;
	char err[256];
	PQcancel(job->cancel, err, sizeof err);
	pthread_mutex_lock(&job->lock);
	job->done = true;
	pthread_cond_signal(&job->done_cond);
	pthread_mutex_unlock(&job->lock);
	return NULL;
}

#define CANCEL_WAIT_MS 1000

static void cancel_running(PGconn *c)
{
	static struct cancel_job job; /* outlives us when the thread is abandoned */
	job.cancel = PQgetCancel(c);
	if (!job.cancel)
		return;
	pthread_mutex_init(&job.lock, NULL);
	pthread_cond_init(&job.done_cond, NULL);
	job.done = false;
	pthread_t t;
	if (pthread_create(&t, NULL, cancel_thread, &job) != 0) {
		PQfreeCancel(job.cancel);
		return;
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CANCEL_WAIT_MS / 1000;
	pthread_mutex_lock(&job.lock);
	while (!job.done)
		if (pthread_cond_timedwait(&job.done_cond, &job.lock, &until) != 0)
			break;
	bool done = job.done;
	pthread_mutex_unlock(&job.lock);
	if (done) {
		pthread_join(t, NULL);
		PQfreeCancel(job.cancel);
	} else {
		verbose("the cancel request did not complete within %d ms", CANCEL_WAIT_MS);
		pthread_detach(t);
	}
}

/* ---- pipelines ---- */

static enum run_status flush_all(PGconn *c, int64_t deadline_ms)
{
	for (;;) {
		int rc = PQflush(c);
		if (rc == 0)
			return RUN_OK;
		if (rc < 0)
			return RUN_BROKEN;
		/* the server may be waiting for us to read before it reads more */
		int w = wait_socket(c, POLLIN | POLLOUT, deadline_ms);
		if (w == 0)
			return RUN_TIMEOUT;
		if (w < 0 || !PQconsumeInput(c))
			return RUN_BROKEN;
	}
}

/* The next result, without blocking past the deadline. */
static enum run_status next_result(PGconn *c, int64_t deadline_ms, PGresult **out)
{
	while (PQisBusy(c)) {
		int w = wait_socket(c, POLLIN, deadline_ms);
		if (w == 0)
			return RUN_TIMEOUT;
		if (w < 0 || !PQconsumeInput(c))
			return RUN_BROKEN;
	}
	*out = PQgetResult(c);
	return RUN_OK;
}

enum run_status pipeline_run(PGconn *c, struct stmt *st, size_t n, int64_t deadline_ms)
{
	for (size_t i = 0; i < n; i++) {
		st[i].res = NULL;
		if (!PQsendQueryParams(c, st[i].sql, st[i].nparams, NULL, st[i].params, NULL, NULL, 0))
			return RUN_BROKEN;
		/* memory stays bounded whatever a custom query returns */
		if (i == 0 && st[i].single_row && !PQsetSingleRowMode(c))
			return RUN_BROKEN;
	}
	if (!PQpipelineSync(c))
		return RUN_BROKEN;
	enum run_status rs = flush_all(c, deadline_ms);
	size_t k = 0;
	bool between = false; /* a result was stored; a NULL ends that statement */
	while (rs == RUN_OK) {
		PGresult *r;
		rs = next_result(c, deadline_ms, &r);
		if (rs != RUN_OK)
			break;
		if (!r) {
			between = false;
			if (PQstatus(c) == CONNECTION_BAD) {
				rs = RUN_BROKEN;
				break;
			}
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return k == n ? RUN_OK : RUN_BROKEN;
		}
		if (between || k == n) {
			/* the rest of a single-row statement; an error among it wins */
			if (k > 0 && between && PQresultStatus(r) == PGRES_FATAL_ERROR) {
				PQclear(st[k - 1].res);
				st[k - 1].res = r;
			} else {
				PQclear(r);
			}
			continue;
		}
		st[k].res = r;
		st[k].done_ms = now_monotonic_ms();
		k++;
		between = true;
	}
	if (rs == RUN_TIMEOUT)
		cancel_running(c);
	return rs;
}

void stmt_clear(struct stmt *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		PQclear(st[i].res);
		st[i].res = NULL;
	}
}

char *result_error(const PGresult *r)
{
	if (!r)
		return estrdup("no result");
	if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED)
		return estrdup("not run: an earlier statement failed");
	const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	return first_line(primary ? primary : PQresultErrorMessage(r));
}

const char *result_sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}
