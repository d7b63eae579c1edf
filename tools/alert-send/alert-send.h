/* alert-send.h — the parts of alert-send: settings (the channels and
 * policies from the config), the book of alerts (what is firing, who was told
 * what, escalation, acks; persisted in the state directory), the messages
 * each channel gets, and the deliverer (the REST client, SMTP, retries, the
 * spool). */
#ifndef ALERT_SEND_H
#define ALERT_SEND_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/event.h"
#include "shipshape/matcher.h"
#include "shipshape/opts.h"
#include "interval.h"
#include "shipshape/report.h"

/* ---- settings: alert-send's part of the config document ---- */

enum channel_id { CH_SLACK, CH_EMAIL, CH_WEBHOOK, CH_ALERTMANAGER, CH_COUNT };
extern const char *const channel_names[CH_COUNT];
int channel_parse(const char *name); /* the id, or -1 */

enum smtp_tls { SMTP_TLS_REQUIRED, SMTP_TLS_TRY, SMTP_TLS_NONE };

struct channel {
	enum channel_id id;
	const char *name;
	bool configured;
	char *url;             /* slack and webhook: a secret; alertmanager: the base URL; email: smtp(s):// */
	char *host;            /* the URL's host, the only part records show */
	char *ca_file;
	bool tls_verify;
	/* email */
	char *from;
	char **rcpt;
	size_t n_rcpt;
	char *username, *password;
	enum smtp_tls tls;
	/* policy */
	int64_t group_wait_ms;
	int64_t repeat_ms;
	int rate_count;        /* notifications per rate_per_ms; 0: unlimited */
	int64_t rate_per_ms;
	/* run time: the token bucket of the rate limit */
	double tokens;
	int64_t tokens_at;
	/* what was wrong with its config: the problems reported under
	 * alerts.NAME and the last of them as printed (NULL: none) */
	unsigned problems;
	char *problem;
};

struct level {
	int level;
	int64_t after_ms;
	unsigned channels; /* bit per channel id */
};

struct runbook {
	char *alertname;
	char **argv;       /* NULL-terminated; NULL when only a link is known */
	char *url;         /* a link shown in messages, may be NULL */
	int64_t timeout_ms;
};

#define MAX_LEVELS 16

/* A maintenance window (window.c): alerts.maintenance[]. */
struct window {
	char *name, *timezone;
	struct matchers matchers;
	int64_t start, end;                 /* one-off (epoch ms); INT64_MIN: recurring */
	struct time_interval *intervals;
	size_t n_intervals;
	bool active;                        /* recurring: as of checked_at, until valid_until */
	int64_t checked_at, valid_until;
};

struct settings {
	struct channel ch[CH_COUNT];
	struct level levels[MAX_LEVELS]; /* ascending by after_ms */
	size_t n_levels;
	int retry_attempts;              /* attempts per notification and run, >= 1 */
	int64_t retry_initial_ms, retry_max_ms;
	int64_t retry_after_max_ms;      /* a longer Retry-After spools at once */
	int64_t timeout_ms;              /* one attempt */
	char *environment, *service;
	struct runbook *runbooks;
	size_t n_runbooks;
	size_t runbook_max_output;
	size_t max_alerts_per_message;
	char **group_by;                 /* label names, sorted; NULL-terminated (empty: one group) */
	size_t n_group_by;
	struct window *windows;          /* alerts.maintenance */
	size_t n_windows;
	struct inhibit_rule *inhibit;    /* alerts.inhibit */
	size_t n_inhibit;
	unsigned notice_channels;        /* alerts.notices.channels: bit per configured channel */
};

/* An inhibit rule (inhibit.c): alerts.inhibit[]. */
struct inhibit_rule {
	struct matchers source, target;
	char **equal;
	size_t n_equal;
};
void inhibit_rules_load(struct config *c, struct settings *s);
void inhibit_rules_free(struct inhibit_rule *r, size_t n);

/* Reads alerts.maintenance into s (problems reported to c->diag). */
void windows_load(struct config *c, struct settings *s);
void windows_free(struct window *w, size_t n);
/* Whether w is open at now; lowers *next to when that may change. */
bool window_active(struct window *w, int64_t now, int64_t *next);
/* The first window of w open now whose matchers match labels, or NULL. */
const struct window *windows_muting(struct window *w, size_t n, const cJSON *labels, int64_t now, int64_t *next);

/* A key's dotted path, built in place: at(&k, "alerts.%s.url", name). */
struct key {
	char path[512];
};
const char *at(struct key *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the "alerts" section (and environment, service.name) of the
 * config (config_open: the schema's types and ranges already hold) with
 * the config's typed readers: a default only for an absent key. A value of
 * the wrong type, or what only alert-send sees (a range of its own, an
 * unknown channel, a URL libcurl refuses), is reported to c->diag as
 * "FILE:LINE:COL: alerts.KEY: ..."; check config_failed(c) after. A channel
 * with a problem of its own is left unconfigured, the problem in its
 * struct channel. attempt_timeout_ms > 0 overrides alerts.timeout. */
void settings_load(struct settings *s, struct config *c, int64_t attempt_timeout_ms);
void settings_free(struct settings *s);
unsigned settings_configured(const struct settings *s); /* bit per configured channel */
/* How many of the config's problems were the channels' own. */
unsigned settings_channel_problems(const struct settings *s);
const struct runbook *settings_runbook(const struct settings *s, const char *alertname);
/* The group labels of an alert (those of group_by it has): a new object. */
cJSON *settings_group_labels(const struct settings *s, const cJSON *labels);
/* Alertmanager's group key of those labels: {}:{name="value", ...}. A new string. */
char *group_key_of(const cJSON *group_labels);

/* ---- silences (silence.c) ---- */

struct silence {
	char *id;              /* a UUID as Alertmanager makes them */
	struct matchers matchers;
	int64_t starts_at, ends_at, created_at; /* epoch ms; created_at INT64_MIN: unknown */
	char *created_by, *comment;
	char *am_id;           /* Alertmanager's id of its copy, NULL: none */
};

struct silences {
	struct silence *v;
	size_t n;
	int64_t mtime_ns;      /* of STATE/alert-send/silences when read */
	unsigned gen;          /* counts the reads: what was worked out of an older set is stale */
	/* the index: each silence with an equality matcher on a non-empty value
	 * under the hash of that label and value (sorted), the others apart */
	struct silence_key { uint64_t key; size_t i; } *keyed;
	size_t n_keyed;
	size_t *unkeyed, n_unkeyed;
};

/* Re-reads STATE/silences when it changed (every file; a damaged one is
 * warned about and skipped). Returns whether it was re-read. */
bool silences_load(struct silences *set, const char *state_dir);
void silences_free(struct silences *set);
void silence_free(struct silence *s);
/* The silence muting labels at now (the one ending last), or NULL; lowers
 * *next to the next time that may change for these labels. */
const struct silence *silences_muting(const struct silences *set, const cJSON *labels, int64_t now,
				      int64_t *next);
struct silence *silences_find(struct silences *set, const char *id);
/* "active", "pending" or "expired". */
const char *silence_state(const struct silence *s, int64_t now);
int silence_from_json(struct silence *s, const cJSON *j, char *err, size_t errsize);
cJSON *silence_to_json(const struct silence *s);
/* A new random id (a new string), NULL when no random bytes could be had. */
char *silence_new_id(void);
/* Writes STATE/silences/ID.json atomically, 0600. Returns 0 or -1 (said). */
int silence_write(const char *state_dir, const struct silence *s);

/* `alert-send list` and `alert-send route LABEL=VALUE...` (view.c), on a
 * book opened without persistence. Return the exit status. */
struct book;
int view_list(struct book *b, struct settings *s, enum output_format fmt);
int view_route(struct book *b, struct settings *s, char **operands, int n, enum output_format fmt);

/* `alert-send silence VERB`: add (operands: matchers; for_ms or until; a
 * message), list, expire (operand: the id). Returns the exit status. */
struct silence_args {
	const char *verb;
	char **operands;
	int n_operands;
	int64_t for_ms;
	const char *until, *by, *message;
	const struct channel *alertmanager; /* configured: silences are kept there too */
};
int silence_command(const char *dir, const struct silence_args *sa, enum output_format fmt);

/* The silence in Alertmanager (API v2, the alertmanager channel's URL):
 * create answers Alertmanager's id (a new string) or NULL with *error;
 * expire 0 or -1 with *error; list the array of its silences or NULL. */
struct channel;
char *silence_am_create(const struct channel *am, const struct silence *s, char **error);
int silence_am_expire(const struct channel *am, const char *am_id, char **error);
cJSON *silence_am_list(const struct channel *am, char **error);
/* Adds "alertmanager":{"id","sync":"agrees"|"differs"|"not in Alertmanager",
 * "difference"} to a silence's record, from Alertmanager's list. */
void silence_am_compare(cJSON *record, const struct silence *s, const cJSON *am_list, int64_t now);
/* Whether one of set is Alertmanager's silence am_id. */
bool silence_am_ours(const struct silences *set, const char *am_id);

/* ---- the book of alerts ---- */

enum sent_state { SENT_NONE = 0, SENT_FIRING, SENT_RESOLVED };

struct chan_state {
	uint8_t sent;          /* what this channel was last told */
	uint8_t sent_level;    /* at which escalation level */
	int64_t sent_at;       /* epoch ms */
	int64_t pending_since; /* epoch ms since a notification is owed, 0: none */
};

struct alert {
	struct alert *next;    /* hash chain */
	uint64_t fp;
	char fingerprint[FINGERPRINT_LEN];
	cJSON *labels, *annotations;
	char *generator_url;
	enum alert_status status;
	int64_t starts_at, ends_at;
	int64_t firing_since;  /* when this incident began here, for escalation */
	int64_t updated_at;
	int level;             /* escalation level reached, 0: not yet notified */
	bool acked;
	bool runbook_due;
	bool taken;            /* taken from this run's input (not saved) */
	char *group_key;       /* of settings' group_by, made when first planned */
	char *muted_by;        /* what mutes it ("silence ID", "window NAME", "inhibited by FP"), NULL: heard */
	/* what silence or window mutes it, worked out under silences.gen and
	 * good until mute_until (its labels never change) */
	unsigned mute_gen;
	int64_t mute_until;
	const struct silence *mute_silence;
	const struct window *mute_window;
	bool rules_known;      /* rule_source and rule_target are worked out */
	uint64_t *rule_source, *rule_target; /* bit per inhibit rule whose side it matches */
	struct chan_state ch[CH_COUNT];
};

enum notify_reason { REASON_NONE = 0, REASON_NEW, REASON_REPEAT, REASON_ESCALATED, REASON_RESOLVED };
const char *reason_name(enum notify_reason r);

struct book {
	struct alert **buckets;
	size_t n_buckets, count;
	char *dir;             /* STATE/alert-send */
	int inbox_fd;          /* input lines since the last save, replayed after a crash */
	bool dirty;
	int64_t saved_at;      /* monotonic ms */
	int64_t acks_mtime_ns;
	struct silences silences;
	bool persist;          /* false: in memory only (--dry-run, --test) */
	bool save_failing;     /* the last save of state.json failed */
	bool only_taken;       /* --only-input: plan only the alerts this run took */
	unsigned write_errors; /* saves and inbox writes that failed this run */
};

/* What mutes a now ("silence ID", "window NAME", "inhibited by FP"; a new
 * string) or NULL; lowers *next to when that may change. Changes nothing. */
struct inhibitions;
char *book_mute_reason(const struct book *b, const struct settings *s, const struct inhibitions *in,
		       struct alert *a, int64_t now, int64_t *next);

/* The firing sources of every inhibit rule, as of one plan. */
struct inhibitions;
struct inhibitions *inhibitions_build(const struct book *b, const struct settings *s); /* NULL: no rules */
void inhibitions_free(struct inhibitions *in);
/* The firing alert inhibiting a, or NULL. */
const struct alert *inhibited_by(const struct inhibitions *in, const struct settings *s, struct alert *a);

/* Opens the book in dir (state.json + inbox.jsonl replayed through ingest).
 * persist false keeps everything in memory. Returns 0 or -1 (message printed). */
int book_open(struct book *b, const char *dir, bool persist, const struct settings *s);
void book_close(struct book *b);
/* Takes one alert. Returns the alert (borrowed) or NULL when it changed
 * nothing worth keeping (a resolve for an unknown alert). */
struct alert *book_ingest(struct book *b, const struct alert_view *v, int64_t now);
struct alert *book_find(const struct book *b, const char *fingerprint);
/* Appends already-validated input lines to the inbox (crash journal). */
void book_journal(struct book *b, const char *lines, size_t len);
/* Saves state.json atomically and empties the inbox when dirty and at least
 * min_interval_ms passed since the last save. A failure is said once per
 * streak of failures and counted in write_errors; the book stays dirty, so
 * the next call tries again. Returns 0, -1 when the save failed. */
int book_save(struct book *b, int64_t min_interval_ms);
/* Re-reads the acks and the silences directories when they changed. */
void book_load_acks(struct book *b);

/* What is owed to one channel now. */
struct owed {
	struct alert **alerts;
	enum notify_reason *reasons;
	size_t n, cap;
};

/* Brings escalation levels up to date and collects, per channel, the alerts
 * owed a notification whose group is due (all of them when final; with
 * only_taken, of the alerts taken this run only). Returns
 * the epoch ms of the next time something falls due (INT64_MAX: never). */
int64_t book_plan(struct book *b, struct settings *s, int64_t now, bool final,
		  struct owed owed[CH_COUNT]);
/* Records that channel c was told about a (once its notification is spooled). */
void book_mark_sent(struct book *b, struct alert *a, enum channel_id c, int64_t now);
/* How many alerts of the group are firing as channel c was told. */
size_t book_group_firing(struct book *b, const struct settings *s, const char *group_key, enum channel_id c);
/* Forgets resolved alerts nobody needs to hear about any more. */
void book_collect(struct book *b);
void owed_free(struct owed *o);

/* ---- messages ---- */

/* A notification: what the spool holds and every attempt is built from.
 * {"kind":"notification","id","channel","created","reason","environment",
 *  "message_id" (email),"group":{"key","labels","firing"},
 *  "alerts":[alert documents + "notify":{"reason","level"}]}
 * The alerts are of one group; firing counts the group's alerts still firing
 * after this notification (the webhook's status). */
cJSON *notification_new(const struct settings *s, enum channel_id c, struct alert *const *alerts,
			const enum notify_reason *reasons, size_t n, size_t group_firing, int64_t now);
/* A test notification for --test. */
cJSON *notification_test(const struct settings *s, enum channel_id c, int64_t now);

/* The title every channel's message has ("[FIRING:2] HealthCheckFailed api
 * (production)"), for records. A new string. */
char *notification_title(const cJSON *notification);
/* Slack's escapes (&, <, >) of s, appended to b. */
void slack_escape(struct buf *b, const char *s);
/* `alert-send notice` (notice.c): the deploy notice on stdin to the
 * notice channels. Returns the exit status. */
int notice_command(const struct settings *s, enum output_format fmt);

/* The request body for a channel: JSON for slack, webhook, alertmanager; the
 * whole RFC 5322 message (CRLF lines) for email. A new string. */
char *message_render(const struct settings *s, const cJSON *notification, int64_t now);

/* ---- delivery ---- */

struct deliverer;

struct deliver_opts {
	const struct settings *s;
	const char *spool_dir;  /* NULL: no spool (--test) */
	enum output_format format;
	bool dry_run;
	bool no_records;        /* with dry_run (--check): nothing printed, the
				   channels noted in deliver_counts.dry_run_channels */
};

struct deliverer *deliverer_new(const struct deliver_opts *o);
void deliverer_free(struct deliverer *d);
/* Queues the spool's items (those of configured channels) for delivery. */
void deliverer_load_spool(struct deliverer *d);
/* On: while input is read, a channel that gave up has its spool tried
 * again every retry.max_backoff (off at the end of input: exit instead). */
void deliverer_retry_spool(struct deliverer *d, bool on);
/* Spools a notification (fsync'd) and queues it. Returns 0, -1 when it could
 * not be spooled (then it is attempted anyway, from memory; given up on, it
 * is held in memory and the spool and the channel are tried again). */
int deliverer_submit(struct deliverer *d, cJSON *notification);
/* Nothing queued or in flight. */
bool deliverer_idle(const struct deliverer *d);
/* One round: waits up to timeout_ms on transfers and the caller's fds
 * (revents filled), starts due attempts, finishes completed ones (printing
 * delivery records). Returns -1 on an internal error. */
int deliverer_step(struct deliverer *d, struct pollfd *extra, unsigned n_extra, int timeout_ms);
/* Milliseconds until the deliverer needs a step (INT32_MAX when idle). */
int deliverer_next_ms(const struct deliverer *d);
/* Gives up on everything in flight or waiting: their items stay spooled
 * (those only in memory are held, for deliverer_keep). */
void deliverer_abandon(struct deliverer *d);
/* At exit: the notifications held in memory are tried in the spool once
 * more; those it still refuses are said lost on stderr. Returns how many. */
unsigned deliverer_keep(struct deliverer *d);
/* Counts for the exit status. unspooled: notifications the spool refused
 * when made; lost: neither delivered nor spooled at exit. */
struct deliver_counts {
	unsigned delivered, spooled, failed, claimed_elsewhere, unspooled, lost;
	unsigned dry_run_channels; /* bit per channel a dry run had a message for */
};
struct deliver_counts deliverer_counts(const struct deliverer *d);

/* ---- runbooks: run beside the deliveries, each in a runner process ---- */

#define RUNBOOKS_AT_ONCE 4    /* runners at a time; the rest wait their turn */
#define RUNBOOK_QUEUE_MAX 64  /* waiting beyond this: skipped, with a record */

struct runbooks;

struct runbooks *runbooks_new(size_t max_output, enum output_format format);
/* Queues rb for alert (consumed: the alert document it gets on stdin). */
void runbooks_queue(struct runbooks *r, const struct runbook *rb, cJSON *alert);
/* Starts waiting runbooks while fewer than RUNBOOKS_AT_ONCE run. */
void runbooks_start(struct runbooks *r);
/* The runners' pipes, to poll for POLLIN (at most max of them). */
unsigned runbooks_pollfds(const struct runbooks *r, struct pollfd *fds, unsigned max);
/* Reads what the runners wrote; prints the record of each one finished. */
void runbooks_collect(struct runbooks *r);
bool runbooks_idle(const struct runbooks *r);
/* At exit: runners still running are left to finish under their timeout,
 * unrecorded; waiting ones are dropped. Each is warned about. */
void runbooks_abandon(struct runbooks *r);
void runbooks_free(struct runbooks *r);

/* ---- --check ---- */

/* Adds the check of --check to r (alert-send.channels: ok when the alerts
 * reach channels, reached being a bit per channel a dry run had a message
 * for; warning when they reach none; critical when a channel's config has
 * a problem, struct channel's problem), prints r in format and frees it.
 * Returns the report's status, the exit status. */
int channels_report(struct report *r, const struct settings *s, unsigned reached, int64_t duration_ms,
		    enum output_format format);

/* ---- output records ---- */

/* Prints a record (consumed) in the output format; records are flushed at
 * once, since alert-send usually writes into a pipe or journal. */
void record_print(cJSON *rec, enum output_format fmt);

#endif
