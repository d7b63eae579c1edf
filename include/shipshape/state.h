/* state.h — the deploy state in PostgreSQL (state.backend: postgres): the
 * journal, the lock and its holders in tables every deploying machine
 * shares, for journal.c to use instead of the state directory's files.
 *
 * Tables (in state.schema, default "shipshape"; created by state_pg_init()):
 *   journal(id, service, deploy, seq, record json, written_at): one row per
 *     journal record, the record's JSON exactly as the file backend writes
 *     its line; UNIQUE (service, deploy, seq). Append-only: a trigger
 *     refuses UPDATE, DELETE and TRUNCATE, and the tools only INSERT.
 *   lock_holders(id, service, backend_pid, holder json, taken_at): who took
 *     the lock, one row per acquisition (append-only too).
 *   state_version(version, installed_at, installed_by): the tables' version,
 *     one row per migration applied.
 *
 * The lock is a session-level advisory lock held by a keeper process that
 * the acquiring command forks: the keeper keeps its own connection open for
 * as long as the lock's owner process lives (lock_owner_pid(), polled every
 * second) and exits when that process is gone, when the lock is released
 * (state_pg_lock_drop() terminates its backend), or when its connection
 * drops. PostgreSQL frees the lock when that connection ends: at once when
 * the keeper dies (kill -9), within STATE_PG_DEAD_PEER_S when its machine
 * or network is lost (TCP keepalives and tcp_user_timeout on both sides).
 * The holder is the lock_holders row of the backend pg_locks names.
 *
 * Every statement is bounded (statement_timeout, and a client deadline
 * that drops the connection); nothing waits for longer than
 * STATE_PG_STATEMENT_MS plus the connect bound. Errors are one line,
 * naming the server's host and port, never the URL or a password. */
#ifndef SHIPSHAPE_STATE_H
#define SHIPSHAPE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "shipshape/lock.h"
#include "shipshape/report.h"

#define STATE_PG_VERSION 1          /* the tables' version this shipshape writes */
#define STATE_PG_CONNECT_S 10       /* connect_timeout */
#define STATE_PG_STATEMENT_MS 15000 /* one statement, client side */
#define STATE_PG_DEAD_PEER_S 30     /* a lost keeper's lock is free within */

struct state_pg;

/* errno after a failed call: ENOTCONN the server could not be reached or
 * the connection was lost (temporary: exit 75), EACCES authentication or
 * privileges, ENOENT the schema is not initialised (or older: run
 * deploy-stage state init), EPROTO a newer shipshape's tables, EINVAL a bad
 * schema name, ETIMEDOUT a statement past its bound, EIO anything else. */

/* Connects to url (a libpq URI or key=value string) for the tables in
 * schema ([a-z_][a-z0-9_]*, at most 63 bytes). check_version: refuse
 * uninitialised or other-version tables (state init and check pass
 * false). channel: the socket of the keeper of this machine (the journal
 * directory's keeper.sock), or NULL: when a keeper of this database and
 * schema listens there, statements run on its connection instead of a new
 * one; the keeper of a lock this handle takes listens there. Returns the
 * handle, or NULL with errno set and *error (a new string, one line). */
struct state_pg *state_pg_open(const char *url, const char *schema, bool check_version, const char *channel,
			       char **error);
void state_pg_close(struct state_pg *s);
/* "postgres 127.0.0.1:5432/appdb (schema shipshape)": where, for messages. */
const char *state_pg_where(const struct state_pg *s);
/* The last failure's message (one line), or "". */
const char *state_pg_error(const struct state_pg *s);

/* ---- for journal.c ---- */

/* The guard of service: held for milliseconds around a read-modify-write
 * (a session advisory lock on this connection, waited for up to 30 s). */
int state_pg_guard_take(struct state_pg *s, const char *service);
void state_pg_guard_release(struct state_pg *s, const char *service);
/* Every record of service, in order: take(ctx, deploy, json, len) each. */
int state_pg_records(struct state_pg *s, const char *service,
		     void (*take)(void *ctx, long deploy, const char *json, size_t len), void *ctx);
/* Appends lines (a JSON array's text of the stamped records) to deploy, in
 * one statement: committed when it returns 0. budget > 0: refused with
 * EFBIG when the deploy's records would pass budget bytes. */
int state_pg_append(struct state_pg *s, const char *service, long deploy, const char *lines, size_t budget);
/* The lock of service: li->present when a live session holds it. */
int state_pg_lock_read(struct state_pg *s, const char *service, struct lock_info *li);
/* Takes the lock for deploy: forks the keeper and waits for it. EBUSY when
 * another session holds it. */
int state_pg_lock_take(struct state_pg *s, const char *service, long deploy, const char *message);
/* Releases the lock li describes: terminates its keeper's backend and
 * waits (bounded) until the lock is free. */
int state_pg_lock_drop(struct state_pg *s, const char *service, const struct lock_info *li);

/* ---- deploy-stage state ---- */

/* Creates or migrates the schema and tables (idempotent), and when grant is
 * given lets that role USAGE the schema and SELECT, INSERT its tables. On
 * success *from is the version found (0: none). */
int state_pg_init(struct state_pg *s, const char *grant, int *from);
/* The checks of state check added to rep: reachable, tls, schema (version),
 * privileges, lock of service. */
void state_pg_check(struct state_pg *s, const char *service, struct report *rep);
/* Inserts one deployment's records (a cJSON array, as the file backend
 * holds them) unless already there: *added counts the new rows; a record
 * already held with other content is a conflict (EEXIST), nothing of that
 * deployment written. */
int state_pg_import(struct state_pg *s, const char *service, long deploy, const cJSON *records, int *added);

#endif
