/* journal.h — the deploy journal: append-only JSON Lines, one file per
 * deployment, STATE/deploy/SERVICE/NNNNNN.jsonl, every record fsync'd before
 * the caller reports success.
 *
 * Records: {"kind":"journal","type":T,"service":..,"deploy":N,"time":RFC3339,..}
 * with T one of begin, report, gate, apply, health, finish. A deployment is
 * open while it has no finish record; an open deployment whose lock holder
 * is gone is interrupted. A last line cut short by a crash is tolerated when
 * read (and dropped before the next append: it was never acknowledged).
 * A file that is empty or has no begin record (a begin killed at its first
 * write, a full disk) is not a deployment. Journal files are opened only as
 * regular files, never through a symbolic link. */
#ifndef SHIPSHAPE_JOURNAL_H
#define SHIPSHAPE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "shipshape/lock.h"
#include "shipshape/report.h"

#define JOURNAL_FILE_MAX (64u << 20) /* a deployment's records, at most */
#define JOURNAL_LINE_MAX (8u << 20)  /* one record; a longer line is unreadable */
/* A batch holding report or gate records is refused (EFBIG) when it would
 * take the file past JOURNAL_REPORT_BUDGET: the 16 MiB kept back below
 * JOURNAL_FILE_MAX is for the records that close a deploy (apply, health,
 * finish, rollback), which are never refused for size. */
#define JOURNAL_REPORT_BUDGET (48u << 20)
/* A report stored whole in a record, at most (its compact JSON); a larger
 * one is stored bounded (see deploy-stage(1)). */
#define JOURNAL_REPORT_MAX (1u << 20)

/* The deploy stages, in order (see deploy-stage(1)). */
extern const char *const journal_stages[];
bool journal_stage_valid(const char *stage);

/* A release names a directory (symlink driver) and goes into the
 * environment (command driver): a plain name of at most JOURNAL_RELEASE_MAX
 * bytes of valid UTF-8, no '/', no whitespace (nor Unicode spaces and
 * invisible characters), no control or bidirectional formatting
 * characters (U+202E), not starting with '.'. */
#define JOURNAL_RELEASE_MAX 200
bool journal_release_name_valid(const char *release);
/* s as journal text (a new string): invalid UTF-8, control characters and
 * bidi formatting characters each become U+FFFD; one_line turns newlines
 * and tabs into spaces (a -m message), else they stay (JSON escapes
 * them). Every string a record holds passes through it on append and on
 * load. */
char *journal_text_clean(const char *s, bool one_line);
/* s for an error message (a new string): what journal_release_name_valid()
 * refuses (bad bytes, control, bidi, invisible characters) and a backslash shown
 * as \xHH escapes, so the message shows the bytes and not their effect. */
char *journal_text_quote(const char *s);

struct state_pg;

struct journal {
	char *dir;           /* STATE/deploy/SERVICE, created 0700 (the file
				backend's journal; the snapshot key either way) */
	char *service;
	struct state_pg *pg; /* state.backend postgres (state.h), else NULL */
};

/* Where a service's deploy state lives: the state directory (state_dir_resolve()
 * in files.h: cli_state_dir, $SHIPSHAPE_STATE_DIR, the config's state_dir,
 * the XDG default) always, and with the config's state.backend postgres (or
 * a cli_state_url, from --state-url-env) the journal and the lock in
 * PostgreSQL at state.url, tables in state.schema. */
struct journal_source {
	const char *cli_state_dir;
	const char *cli_state_url;
	const cJSON *config; /* may be NULL */
	bool files_only;     /* the state directory alone, whatever the config
				says (deploy-stage state: it opens the
				database itself) */
};

/* Opens (creates) the journal of service where src says, creating the
 * state directory. A state directory another user owns or can write is
 * refused, nothing created in it. Returns 0, or -1 with errno set and
 * *error (a new string, one line): EINVAL "invalid service name ..." (or a
 * postgres backend without a URL), EACCES "refusing the state directory
 * DIR: why (...)" for an unsafe one, ENOTCONN (and state.h's others) for a
 * state database that cannot be used, else "unable to create ...: reason". */
int journal_open_service(struct journal *j, const struct journal_source *src, const char *service, char **error);
/* Opens (creates) the journal of service under state_dir. service must be a
 * plain name: [A-Za-z0-9._-], not starting with '.'. Returns 0, or -1 with
 * errno set (EINVAL for a bad service name). */
int journal_open(struct journal *j, const char *state_dir, const char *service);
void journal_close(struct journal *j);

struct deployment {
	long id;
	char *path;
	cJSON *records;      /* array of the readable records, in order (owned) */
	size_t bytes;        /* the file's size when read */
	bool truncated;      /* the last line was cut short */
	unsigned bad_lines;  /* unreadable lines before the last */
	unsigned skipped;    /* report records past JOURNAL_FILE_MAX, not held */
	/* borrowed from records: */
	const cJSON *begin;  /* the begin record, or NULL */
	const cJSON *finish; /* the finish record, or NULL while open */
	const char *release, *previous, *action; /* action: "deploy" or "rollback" */
	const char *result;  /* "ok", "failed" or NULL (open) */
	bool applied;        /* an apply (or rollback) record with status ok */
};

struct journal_view {
	struct deployment *v;  /* the deployments: files with a begin record */
	size_t n;
	long next_id;          /* see journal_next_id() */
	unsigned headerless;   /* files with records but no begin: ignored */
	char *headerless_path; /* the last of them */
};

/* A consistent view of a service's deploy state: the lock and every
 * deployment, oldest first, read under the guard (when taken) so no other
 * command changes them meanwhile. Problems that the reader tolerates (a
 * truncated last line) are left in the deployments' flags. A file over
 * JOURNAL_FILE_MAX (an older version's) is read whole, but the report
 * records past that size are not held (counted in skipped): every other
 * record is, so such a deploy can still be finished or rolled back. */
struct journal_hold {
	int guard; /* -1 when not taken */
	const struct journal *j;
	struct lock_info li;
	struct journal_view view;
};
/* Takes the guard (when guard), reads the lock and loads the journal.
 * Returns 0, or -1 with errno set and *error (a new string, one line naming
 * what could not be read and why: "a symbolic link (refused)"), nothing
 * held. */
int journal_hold(const struct journal *j, struct journal_hold *h, bool guard, char **error);
/* Frees the view and the lock, releases the guard. */
void journal_unhold(struct journal_hold *h);
/* strerror(), with the journal's refusals named: ELOOP is a symbolic
 * link, EMEDIUMTYPE not a regular file. */
const char *journal_strerror(int err);
/* Why the last call on j failed with err: the state database's message,
 * else journal_strerror(err). */
const char *journal_error(const struct journal *j, int err);
/* Where deployment id is kept, for messages (a new string): DIR/NNNNNN.jsonl,
 * or "postgres HOST:PORT/DB (schema S), deploy N"; id 0: the whole journal. */
char *journal_where(const struct journal *j, long id);

/* The lock, on either backend (lock.h for the file; state.h for
 * PostgreSQL, where it is held by a keeper process): read, take for
 * deploy (0: none) by this caller, drop (li: as read under the guard).
 * Each returns 0, or -1 with errno set (EBUSY: another holds it); then
 * journal_error() says why. */
int journal_lock_read(const struct journal *j, struct lock_info *li);
int journal_lock_take(const struct journal *j, long deploy, const char *message);
int journal_lock_drop(const struct journal *j, const struct lock_info *li);
void journal_view_free(struct journal_view *view);

/* The open deployment (the last one, unfinished), or NULL. */
const struct deployment *journal_open_deployment(const struct journal_view *view);
/* The deployment now in service, by the journal: the latest whose apply
 * succeeded, or NULL. */
const struct deployment *journal_live_deployment(const struct journal_view *view);
/* The release now in service: that of journal_live_deployment(), or NULL. */
const char *journal_current_release(const struct journal_view *view);
/* The latest deployment that finished ok with a release other than
 * not_release (may be NULL), or NULL. */
const struct deployment *journal_last_good(const struct journal_view *view, const char *not_release);
/* The latest successful apply record of release (for driver data such as a
 * Render deploy id), or NULL. */
const cJSON *journal_release_apply(const struct journal_view *view, const char *release);
/* The id the next deployment gets: one past the last file with any
 * record, or the number of a last file with none (empty, or only a cut
 * line), which is taken again. */
long journal_next_id(const struct journal_view *view);
/* Records of a type in a deployment, the last one; NULL when none. */
const cJSON *deployment_last_record(const struct deployment *d, const char *type);

/* Every string value and member name of item, its siblings and what they
 * hold through redact_string(), in place: for a document built from
 * stored records that is printed or shared (deploy-stage report). */
void journal_redact_strings(cJSON *item);

/* "sha256:HEX" of the config document's compact JSON (a new string): the
 * journal records which config a deploy ran with, never its content. */
char *journal_config_digest(const cJSON *config);

/* Appends records (a cJSON array of objects, or one object) to deployment
 * id: stamps each with kind, service, deploy and time, writes every line in
 * one write(2), fsyncs the file (and the directory when the file is new).
 * A cut-short last line left by a crash is dropped first. On success each
 * record is rewritten in place to exactly the line written (kind, type,
 * service, deploy, time, then its own members), so a caller prints what the
 * journal holds, in the same order. Returns 0, or -1 with errno set (the
 * records untouched): nothing may be reported as done then. A write or
 * fsync that fails is taken back out: the file is truncated to its length
 * before and fsync'd again (a file the append created is removed), so no
 * reader finds what was reported as not written. A batch with a report or
 * gate record that would take the file past JOURNAL_REPORT_BUDGET is
 * refused (EFBIG), nothing written; other records are never refused for
 * size. */
int journal_append(const struct journal *j, long id, cJSON *records);
/* journal_append(); on failure also *error (a new string, one line naming
 * the file and why). */
int journal_write(const struct journal *j, long id, cJSON *records, char **error);

/* ---- records: built here only (record.c), their members listed in
 * shipshape(7). Each returns a new object holding the record's own members,
 * type first; journal_append() stamps kind, service, deploy and time. Every
 * free text (messages) is redacted. */
enum journal_action { JOURNAL_DEPLOY, JOURNAL_ROLLBACK };
/* Who a CI system says started this run, from its own environment
 * (GitHub Actions' GITHUB_ACTOR, GitLab's GITLAB_USER_LOGIN, Buildkite's
 * BUILDKITE_BUILD_CREATOR, CircleCI's CIRCLE_USERNAME; an operator's
 * SHIPSHAPE_ACTOR first), as one clean line of at most 100 bytes (a new
 * string), with *ci the system's name; NULL when none is set. */
char *journal_ci_actor(const char **ci);
/* begin: action, release, previous (null for none), user (user@host), actor
 * and ci (journal_ci_actor(), when set), pid (lock_owner_pid()), message,
 * rollback_of (when > 0), config_digest and driver (of config; "none"). */
cJSON *journal_record_begin(enum journal_action action, const char *release, const char *previous,
			    const char *message, long rollback_of, const cJSON *config);
/* config: key_id and values, the config snapshot (snapshot.h; copied), or
 * truncated true and bytes when it is over SNAPSHOT_MAX. Appended with
 * begin, in the same write. */
cJSON *journal_record_config(const cJSON *snapshot, const char *key_id);
/* report: stage and the report, whole or bounded (see JOURNAL_REPORT_MAX;
 * brief keeps no checks), every string in it redacted (a tool's report
 * may quote what a secret was compared with). */
cJSON *journal_record_report(const char *stage, const cJSON *report, bool brief);
/* gate: stage, passed, status, strict, reports (how many) and problems (an
 * array of strings, when there are any; copied). */
cJSON *journal_record_gate(const char *stage, bool passed, enum status status, bool strict, int reports,
			   const cJSON *problems);
/* apply, phase start: stage application, release, driver ("none"). */
cJSON *journal_record_apply_start(const char *release, const char *driver);
/* apply, phase end: stage application, release, status ok|failed, message
 * and the driver's data (consumed; may be NULL). */
cJSON *journal_record_apply_end(const char *release, bool ok, const char *message, cJSON *data);
/* What apply --dry-run prints (not a journal line): kind, type apply, phase
 * dry-run, deploy, release, driver, message. */
cJSON *journal_record_apply_plan(long deploy, const char *release, const char *driver, const char *message);
/* health: stage post-deploy, status ok|failed, url (redacted), attempts,
 * successes_needed, duration_ms, message. */
cJSON *journal_record_health(bool ok, const char *url, int attempts, int needed, int64_t duration_ms,
			     const char *message);
/* finish: result ok|failed, then release, message and reason where given. */
cJSON *journal_record_finish(bool ok, const char *release, const char *message, const char *reason);
/* finish of a deploy closed by a rollback: result failed, reason "rollback
 * to TARGET (deploy N)", rollback_to, rollback_deploy. */
cJSON *journal_record_finish_by_rollback(const char *target, long rollback_deploy);
/* lock, action release, forced true: an operator's release of another
 * holder's lock (deploy-stage lock release --force -m WHY), with by
 * (user@host), holder (lock_info_json()) and message, journaled in the
 * deploy the lock was held for. */
cJSON *journal_record_lock_release(const struct lock_info *holder, const char *message);
/* What rollback prints (not a journal line): kind, type rollback, service,
 * deploy, from ("" for none), to, status ok|failed, message, driver_message
 * and health (the health record, consumed; may be NULL). */
cJSON *journal_record_rollback(const char *service, long deploy, const char *from, const char *to, bool ok,
			       const char *message, const char *driver_message, cJSON *health);
/* What rollback --dry-run prints: kind, type rollback, dry_run true,
 * service, from, to, closes_deploy (when > 0), message and target_check
 * {status, message}. */
cJSON *journal_record_rollback_plan(const char *service, const char *from, const char *to, long closes_deploy,
				    const char *message, enum status check, const char *checked);

#endif
