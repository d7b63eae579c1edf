/* alert-send — reads alerts (health-watch events, suite reports,
 * Alertmanager webhook payloads) as JSON Lines and gets notifications to
 * people through Slack, email, a webhook and Alertmanager, with grouping,
 * dedup, escalation, acks, retries and a spool so that nothing is lost;
 * --check says, as a report, whether the alerts would reach anyone. */
#include "alert-send.h"
#include "shipshape/config.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/report.h"
#include "shipshape/signals.h"
#include "shipshape/units.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

enum {
	OPT_DRY_RUN = OPT_TOOL_BASE, OPT_TEST, OPT_CHECK, OPT_ONLY_INPUT, OPT_ATTEMPT_TIMEOUT, OPT_SCHEMA, OPT_STRICT,
	OPT_FOR, OPT_UNTIL, OPT_BY,
};

#define TERM_GRACE_MS 10000   /* after SIGTERM: finish reading and delivering, then stop */
#define SAVE_INTERVAL_MS 1000 /* the state is saved at most this often; the inbox covers the rest */
#define READ_CHUNK 65536

static void usage(FILE *f)
{
	fprintf(f,
		"usage: alert-send -c FILE [--schema FILE] [--strict] [--state-dir DIR] [-t DUR]\n"
		"                  [--attempt-timeout DUR] [--dry-run] [--only-input] [--format json|text] [-q] [-v]\n"
		"       alert-send --test -c FILE [-t DUR] [--attempt-timeout DUR] [--format json|text]\n"
		"       alert-send --check -c FILE [--schema FILE] [--strict] [-t DUR] [--format json|text|nagios]\n"
		"       alert-send flush -c FILE [--state-dir DIR] [-t DUR] [--attempt-timeout DUR] [--format json|text]\n"
		"       alert-send ack FINGERPRINT [-m MESSAGE] [-c FILE] [--state-dir DIR]\n"
		"       alert-send silence add MATCHER... (--for DUR | --until TIME) -m COMMENT\n"
		"                  [--by NAME] [-c FILE] [--state-dir DIR] [--format json|text]\n"
		"       alert-send silence list | expire ID [-c FILE] [--state-dir DIR] [--format json|text]\n"
		"       alert-send list -c FILE [--state-dir DIR] [--format json|text]\n"
		"       alert-send route LABEL=VALUE... -c FILE [--state-dir DIR] [--format json|text]\n"
		"       alert-send notice -c FILE [--format json|text] < NOTICE\n"
		"       alert-send -h | -V\n"
		"\n"
		"Reads alerts as JSON Lines on stdin (health-watch alerts, suite reports,\n"
		"Alertmanager webhook payloads) and notifies the channels configured in the\n"
		"config's alerts section: slack, email, webhook, alertmanager. Prints one\n"
		"delivery record per attempt.\n"
		"\n"
		"  -c, --config FILE     the config (YAML or a JSON config document)\n"
		"      --schema FILE     the config schema (default: beside alert-send)\n"
		"      --strict          unknown config keys are errors, not warnings\n"
		"      --state-dir DIR   state: the alert book, the spool, acks\n"
		"  -t, --timeout DUR     bound the whole run: at DUR what is not delivered is\n"
		"                        spooled (--test: failed) and alert-send stops\n"
		"      --attempt-timeout DUR  one delivery attempt (default: alerts.timeout, 10s)\n"
		"      --dry-run         print what would be sent; send and store nothing\n"
		"      --test            send a test notification through every channel\n"
		"      --check           check the channels the alerts on stdin would reach, as\n"
		"                        --dry-run does, with no state; print one report\n"
		"      --only-input      notify of the alerts this input brings only, not what\n"
		"                        else the book owes (repeats, escalations)\n"
		"  -m, --message TEXT    with ack: why, for the record; with silence add: the\n"
		"                        silence's comment (required)\n"
		"      --for DUR         with silence add: the silence ends DUR from now\n"
		"      --until TIME      with silence add: it ends at TIME (RFC 3339)\n"
		"      --by NAME         with silence add: who made it (default USER@HOST)\n"
		"      --format FMT      json (default when piped), text, nagios (--check)\n"
		"  -q, --quiet           no warnings\n"
		"  -v, --verbose         more detail on stderr\n"
		"  -h, --help            this help\n"
		"  -V, --version         the version\n"
		"\n"
		"flush delivers what waits in the spool; ack stops an alert's escalation;\n"
		"silence mutes the alerts its matchers (name=\"value\", !=, =~, !~) match;\n"
		"list shows the book (each alert, what mutes it, what it is owed next) and\n"
		"the maintenance windows; route where an alert with those labels would go;\n"
		"notice sends a deploy notice to alerts.notices.channels, once.\n"
		"Exit: 0 all delivered, 1 some spooled for later, 2 nothing delivered, 3 the\n"
		"state (spool, book) could not be written, 64 usage, 65 invalid input or\n"
		"config, 75 state in use. --check: 0 the channels are valid, 1 no channel\n"
		"would be notified, 2 a channel's config is invalid.\n");
}

/* What a run does: read alerts and notify, or one of the commands
 * (flush, ack) or modes (--test, --check), which exclude each other. */
enum command { CMD_RUN, CMD_FLUSH, CMD_ACK, CMD_SILENCE, CMD_LIST, CMD_ROUTE, CMD_NOTICE, CMD_TEST, CMD_CHECK };
static const char *const command_names[] = {
	[CMD_RUN] = "a run", [CMD_FLUSH] = "flush", [CMD_ACK] = "ack", [CMD_SILENCE] = "silence",
	[CMD_LIST] = "list", [CMD_ROUTE] = "route", [CMD_NOTICE] = "notice", [CMD_TEST] = "--test",
	[CMD_CHECK] = "--check",
};

struct args {
	struct std_opts std;
	enum command command;
	bool dry_run, only_input, strict;
	int64_t attempt_timeout_ms; /* 0: alerts.timeout */
	const char *schema;  /* --schema */
	const char *fingerprint;
	const char *message;
	struct silence_args silence;
	char **route_labels;
	int n_route_labels;
};

struct app {
	const struct args *args;
	struct config cfg;        /* empty for an ack without -c */
	struct settings s;
	struct book book;
	struct deliverer *d;
	struct owed owed[CH_COUNT];
	enum output_format format;
	char *dir;                /* STATE/alert-send */
	int lock_fd;
	int64_t next_due;         /* epoch ms */
	bool eof, terminating;
	int64_t deadline;         /* monotonic, once terminating */
	int64_t run_deadline;     /* monotonic: -t; INT64_MAX without */
	unsigned long lineno;
	unsigned bad_lines, ignored_events;
	bool replaying;
	struct buf pending;       /* input bytes not yet a whole line */
	bool skipping;            /* inside an over-long line */
	struct buf journal;       /* accepted lines of this read, for the inbox */
	struct runbooks *runbooks;
};

static int signal_fd = -1; /* signals_open(): SIGTERM, SIGINT, SIGHUP as bytes */

/* ---- input ---- */

static void take_alert(struct app *a, const struct alert_view *v)
{
	int64_t now = now_epoch_ms();
	struct alert *al = book_ingest(&a->book, v, now);
	if (!al || !al->runbook_due)
		return;
	al->runbook_due = false;
	const struct runbook *rb = settings_runbook(&a->s, json_path_string(al->labels, "alertname", ""));
	if (!rb || !rb->argv || a->replaying || a->args->dry_run || a->args->command == CMD_CHECK)
		return;
	runbooks_queue(a->runbooks, rb,
		       alert_event_new(al->status, cJSON_Duplicate(al->labels, true),
				       cJSON_Duplicate(al->annotations, true), al->starts_at, 0, al->generator_url));
}

/* A suite report: each non-ok check is a firing alert named after the check;
 * the same check ok again (or at another severity) resolves it. */
static void take_report(struct app *a, const cJSON *doc)
{
	const char *tool = json_path_string(doc, "tool", "unknown");
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "checks")) {
		const char *name = json_path_string(c, "name", NULL);
		enum status st;
		if (!name || !*name || status_parse(json_path_string(c, "status", ""), &st) < 0)
			continue;
		const char *now_sev = st == STATUS_OK ? NULL : st == STATUS_WARNING ? "warning" : "critical";
		static const char *const sevs[] = {"warning", "critical"};
		for (size_t i = 0; i < ARRAY_LEN(sevs); i++) {
			cJSON *labels = labels_new("alertname", name, "tool", tool, "severity", sevs[i],
						   "environment", a->s.environment, NULL);
			cJSON *ann = cJSON_CreateObject();
			const char *msg = json_path_string(c, "message", NULL);
			char *summary = easprintf("%s: %s%s%s", tool, name, msg ? ": " : "", msg ? msg : "");
			cJSON_AddStringToObject(ann, "summary", summary);
			cJSON_AddStringToObject(ann, "check_status", status_name(st));
			free(summary);
			struct alert_view v = {
				.status = now_sev && strcmp(now_sev, sevs[i]) == 0 ? ALERT_FIRING : ALERT_RESOLVED,
				.labels = labels,
				.annotations = ann,
			};
			labels_fingerprint(labels, v.fingerprint);
			take_alert(a, &v);
			cJSON_Delete(labels);
			cJSON_Delete(ann);
		}
	}
}

/* Returns 1 when the document changed the book (journal it), 0 when it was
 * taken without effect, -1 when rejected (reported, unless replaying). */
static int take_document(struct app *a, const cJSON *doc, unsigned long lineno)
{
	char err[256];
	const char *kind = json_kind(doc);
	struct alert_view v;
	if (kind && strcmp(kind, "alert") == 0) {
		if (alert_view_parse(doc, now_epoch_ms(), &v, err, sizeof err) < 0)
			goto bad;
		take_alert(a, &v);
		return 1;
	}
	if (kind && strcmp(kind, "report") == 0) {
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "checks"))) {
			snprintf(err, sizeof err, "report: checks: expected a list");
			goto bad;
		}
		take_report(a, doc);
		return 1;
	}
	if (kind && strcmp(kind, "event") == 0) {
		a->ignored_events++; /* state changes, probes, heartbeats: for people and gates */
		return 0;
	}
	if (!kind && alertmanager_payload_is(doc)) {
		int i = 0, rc = 1;
		const cJSON *al;
		cJSON_ArrayForEach(al, cJSON_GetObjectItemCaseSensitive(doc, "alerts")) {
			char e[200];
			if (alert_view_parse(al, now_epoch_ms(), &v, e, sizeof e) < 0) {
				if (!a->replaying)
					error_msg("stdin:%lu: alerts[%d]: %s", lineno, i, e);
				rc = -1;
			} else {
				take_alert(a, &v);
			}
			i++;
		}
		if (rc < 0 && !a->replaying)
			a->bad_lines++;
		return 1;
	}
	if (kind)
		snprintf(err, sizeof err, "a document of kind \"%.40s\" is not taken here "
			 "(expected alert, report, event, or an Alertmanager webhook payload)", kind);
	else
		snprintf(err, sizeof err, "a document without \"kind\" that is not an Alertmanager "
			 "webhook payload (version 4)");
bad:
	if (!a->replaying) {
		error_msg("stdin:%lu: %s", lineno, err);
		a->bad_lines++;
	}
	return -1;
}

static void take_line(struct app *a, const char *line, size_t len)
{
	char err[128];
	a->lineno++;
	const char *p = line;
	while (p < line + len && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p == line + len)
		return;
	cJSON *doc = json_parse_text(line, len, err, sizeof err);
	if (!doc || !cJSON_IsObject(doc)) {
		if (!a->replaying) {
			/* json_parse_text says "1:COL: invalid JSON" of a one-line text */
			const char *colon = doc ? NULL : strchr(err, ':');
			error_msg("stdin:%lu%s%s", a->lineno, doc ? ": expected a JSON object" : ":",
				  doc ? "" : colon ? colon + 1 : err);
			a->bad_lines++;
		}
		cJSON_Delete(doc);
		return;
	}
	if (take_document(a, doc, a->lineno) > 0 && !a->replaying) {
		buf_append(&a->journal, line, len);
		buf_putc(&a->journal, '\n');
	}
	cJSON_Delete(doc);
}

/* Splits what arrived into lines; an over-long line is one error and is
 * skipped to its end. */
static void take_bytes(struct app *a, const char *data, size_t len, bool at_end)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (a->skipping) {
			a->skipping = false;
		} else if (a->pending.len) {
			buf_append(&a->pending, data + start, i - start);
			take_line(a, a->pending.data, a->pending.len);
			a->pending.len = 0;
		} else {
			take_line(a, data + start, i - start);
		}
		start = i + 1;
	}
	if (!a->skipping)
		buf_append(&a->pending, data + start, len - start);
	if (a->pending.len > JSONL_MAX_LINE_DEFAULT) {
		a->lineno++;
		error_msg("stdin:%lu: line longer than %u bytes", a->lineno, JSONL_MAX_LINE_DEFAULT);
		a->bad_lines++;
		a->pending.len = 0;
		a->skipping = true;
	}
	if (at_end && a->pending.len) {
		take_line(a, a->pending.data, a->pending.len);
		a->pending.len = 0;
	}
	book_journal(&a->book, a->journal.data, a->journal.len);
	a->journal.len = 0;
}

static void read_stdin(struct app *a)
{
	char chunk[READ_CHUNK];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0)
		error_msg("unable to read stdin: %s", strerror(errno));
	if (n <= 0) {
		a->eof = true;
		take_bytes(a, "", 0, true);
		return;
	}
	take_bytes(a, chunk, (size_t)n, false);
}

/* After a crash: the lines taken since the last save, once more. */
static void replay_inbox(struct app *a)
{
	char *path = easprintf("%s/inbox.jsonl", a->dir), *text = NULL;
	size_t len = 0;
	if (read_file(path, 1u << 30, &text, &len) == 0 && len) {
		verbose("replaying %zu bytes of %s", len, path);
		unsigned long lineno = a->lineno;
		a->replaying = true;
		take_bytes(a, text, len, true);
		a->replaying = false;
		a->lineno = lineno;
		a->book.dirty = true;
	}
	free(text);
	free(path);
}

/* ---- notifying ---- */

/* Returns whether any notification was submitted. */
static bool notify_due(struct app *a, bool final)
{
	bool submitted = false;
	int64_t now = now_epoch_ms();
	a->next_due = book_plan(&a->book, &a->s, now, final, a->owed);
	for (int c = 0; c < CH_COUNT; c++) {
		struct owed *o = &a->owed[c];
		/* book_plan ordered them by group: one group, then messages of at
		 * most max_alerts_per_message of it */
		for (size_t g = 0, end; g < o->n; g = end) {
			const char *key = o->alerts[g]->group_key;
			for (end = g + 1; end < o->n && strcmp(o->alerts[end]->group_key, key) == 0; end++)
				;
			for (size_t k = g; k < end; k++)
				book_mark_sent(&a->book, o->alerts[k], (enum channel_id)c, now);
			size_t firing = book_group_firing(&a->book, &a->s, key, (enum channel_id)c);
			for (size_t i = g; i < end; i += a->s.max_alerts_per_message) {
				size_t n = end - i < a->s.max_alerts_per_message ? end - i : a->s.max_alerts_per_message;
				cJSON *doc = notification_new(&a->s, (enum channel_id)c, o->alerts + i, o->reasons + i,
							      n, firing, now);
				deliverer_submit(a->d, doc);
				submitted = true;
			}
		}
		o->n = 0;
	}
	book_collect(&a->book);
	return submitted;
}

/* ---- the loop ---- */

static void install_signals(void)
{
	signal_fd = signals_open(false);
	if (signal_fd < 0)
		die_errno(EXIT_UNKNOWN, "unable to create a pipe");
}

static void on_signals(struct app *a)
{
	unsigned char c[16];
	size_t n = signals_take(c, sizeof c);
	for (size_t i = 0; i < n; i++) {
		if (c[i] == SIGHUP) {
			verbose("SIGHUP: the config is read at start; restart alert-send to change it");
			continue;
		}
		if (a->terminating) {
			a->deadline = 0; /* a second signal: stop now */
		} else {
			a->terminating = true;
			a->deadline = now_monotonic_ms() + TERM_GRACE_MS;
			verbose("signal %d: delivering what is due, then stopping", c[i]);
		}
	}
}

static void loop(struct app *a, bool read_input)
{
	a->eof = !read_input;
	for (;;) {
		bool final = a->eof || a->terminating;
		deliverer_retry_spool(a->d, !final);
		/* Saved at once after a page goes out (notifications are few: grouped
		 * and rate-limited), so that an `alert-send ack` right after it finds
		 * the alert; otherwise at most once a second. */
		bool submitted = notify_due(a, final);
		book_save(&a->book, final || submitted ? 0 : SAVE_INTERVAL_MS);
		runbooks_start(a->runbooks);
		if (final && deliverer_idle(a->d) && runbooks_idle(a->runbooks))
			break;
		int64_t now = now_monotonic_ms();
		if ((a->terminating && now >= a->deadline) || now >= a->run_deadline) {
			if (now >= a->run_deadline)
				verbose("-t passed: what is not delivered is spooled");
			deliverer_abandon(a->d);
			runbooks_abandon(a->runbooks);
			break;
		}
		int64_t wait = a->next_due == INT64_MAX ? 1000 : a->next_due - now_epoch_ms();
		if (wait > 1000)
			wait = 1000; /* acks are looked for once a second */
		if (a->book.dirty && wait > SAVE_INTERVAL_MS)
			wait = SAVE_INTERVAL_MS;
		if (wait > a->run_deadline - now)
			wait = a->run_deadline - now;
		struct pollfd fds[2 + RUNBOOKS_AT_ONCE] = {{.fd = signal_fd, .events = POLLIN}};
		unsigned n = 1;
		if (!a->eof)
			fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		unsigned first_runbook = n;
		n += runbooks_pollfds(a->runbooks, fds + n, RUNBOOKS_AT_ONCE);
		if (deliverer_step(a->d, fds, n, (int)(wait < 0 ? 0 : wait)) < 0)
			die(EXIT_UNKNOWN, "delivery loop failed");
		if (fds[0].revents)
			on_signals(a);
		if (!a->eof && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
			read_stdin(a);
		if (n > first_runbook)
			runbooks_collect(a->runbooks);
		book_load_acks(&a->book);
	}
	book_save(&a->book, 0);
}

static int exit_status(const struct app *a)
{
	struct deliver_counts c = deliverer_counts(a->d);
	int st = EXIT_OK;
	if (c.spooled + c.failed > 0)
		st = c.delivered > 0 ? EXIT_WARNING : EXIT_CRITICAL;
	if (st == EXIT_OK && a->bad_lines)
		st = EXIT_DATAERR;
	/* State that could not be written is never success, whatever was
	 * delivered: a notification not spooled, a book not saved (its later
	 * resolve would reach nobody). Each was said on stderr when it happened. */
	if (c.unspooled || c.lost || a->book.write_errors)
		st = EXIT_UNKNOWN;
	return st;
}

/* One alert-send at a time works a state directory's book; flush and ack
 * only touch the spool and the acks, which are safe to share. */
static int take_instance_lock(const char *dir, bool wait)
{
	char *path = easprintf("%s/lock", dir);
	int fd = state_file_open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		die_errno(EXIT_UNKNOWN, "unable to open %s", path);
	if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	return fd;
}

static char *alert_send_dir(const struct args *args, struct config *cfg)
{
	char *error;
	const char *configured = NULL;
	config_string(cfg, "state_dir", NULL, &configured);
	char *state = state_dir_resolve(args->std.state_dir, configured, &error);
	if (!state)
		die(EXIT_UNKNOWN, "%s", error);
	char *dir = easprintf("%s/alert-send", state);
	free(state);
	if (mkdir_p(dir, 0700) < 0)
		die_errno(EXIT_UNKNOWN, "unable to create %s", dir);
	return dir;
}

static int cmd_run(struct app *a, bool flush)
{
	a->dir = alert_send_dir(a->args, &a->cfg);
	char *spool = easprintf("%s/spool", a->dir);
	bool persist = !a->args->dry_run;
	a->lock_fd = persist ? take_instance_lock(a->dir, false) : -1;
	if (persist && a->lock_fd < 0 && !flush)
		die(EXIT_TEMPFAIL, "another alert-send is using %s; give this one its own --state-dir", a->dir);
	/* flush beside a running alert-send: only the spool, which it shares */
	bool with_book = a->lock_fd >= 0 || a->args->dry_run;
	if (with_book && book_open(&a->book, a->dir, persist, &a->s) < 0)
		die(EXIT_UNKNOWN, "unable to open the alert book in %s", a->dir);
	if (!with_book)
		verbose("%s is in use by another alert-send: flushing the spool only", a->dir);
	a->book.only_taken = a->args->only_input;
	a->d = deliverer_new(&(struct deliver_opts){
		.s = &a->s, .spool_dir = a->args->dry_run ? NULL : spool, .format = a->format,
		.dry_run = a->args->dry_run});
	if (!a->args->dry_run)
		deliverer_load_spool(a->d);
	a->runbooks = runbooks_new(a->s.runbook_max_output, a->format);
	if (persist && with_book)
		replay_inbox(a);
	install_signals();
	loop(a, !flush);
	deliverer_keep(a->d);
	if (a->book.save_failing)
		error_msg("the alert book %s/state.json is not saved: the alerts taken and told this run are "
			  "not recorded (a later resolve may notify nobody)", a->dir);
	int st = exit_status(a);
	if (a->ignored_events)
		verbose("%u event%s without alerts taken", a->ignored_events, a->ignored_events == 1 ? "" : "s");
	deliverer_free(a->d);
	runbooks_free(a->runbooks);
	book_close(&a->book);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	free(spool);
	return st;
}

static int cmd_test(struct app *a)
{
	unsigned configured = settings_configured(&a->s);
	if (!configured) {
		error_msg("--test: no channel is configured (alerts.slack, .email, .webhook, .alertmanager)");
		return EXIT_CRITICAL;
	}
	a->d = deliverer_new(&(struct deliver_opts){.s = &a->s, .format = a->format, .dry_run = a->args->dry_run});
	for (int c = 0; c < CH_COUNT; c++)
		if (configured & (1u << c))
			deliverer_submit(a->d, notification_test(&a->s, (enum channel_id)c, now_epoch_ms()));
	int64_t left;
	while (!deliverer_idle(a->d) && (left = a->run_deadline - now_monotonic_ms()) > 0)
		if (deliverer_step(a->d, NULL, 0, left < 1000 ? (int)left : 1000) < 0)
			die(EXIT_UNKNOWN, "delivery loop failed");
	deliverer_abandon(a->d); /* -t passed: what is still out failed */
	struct deliver_counts n = deliverer_counts(a->d);
	deliverer_free(a->d);
	return n.failed ? EXIT_CRITICAL : EXIT_OK;
}

/* --check: the run of --dry-run on the alerts of stdin, in memory only
 * (no state directory, no spool, no records), and a report of the
 * channels they would reach. */
static int cmd_check(struct app *a)
{
	int64_t started = now_monotonic_ms();
	struct report *r = report_new(prog);
	book_open(&a->book, NULL, false, &a->s); /* no directory: nothing read, nothing written */
	a->d = deliverer_new(&(struct deliver_opts){.s = &a->s, .format = a->format, .dry_run = true,
						     .no_records = true});
	a->runbooks = runbooks_new(a->s.runbook_max_output, a->format);
	install_signals();
	loop(a, true);
	unsigned reached = deliverer_counts(a->d).dry_run_channels;
	deliverer_free(a->d);
	runbooks_free(a->runbooks);
	book_close(&a->book);
	if (a->bad_lines) {
		report_free(r);
		return error_status(EXIT_DATAERR, "invalid alerts on stdin (each named above)");
	}
	return channels_report(r, &a->s, reached, now_monotonic_ms() - started, a->format);
}

static bool fingerprint_valid(const char *s)
{
	if (!s || strlen(s) != 16)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int cmd_ack(struct app *a)
{
	const char *fp = a->args->fingerprint;
	if (!fingerprint_valid(fp))
		die(EXIT_USAGE, "ack: \"%s\" is not a fingerprint (16 lower-case hex digits)", fp);
	a->dir = alert_send_dir(a->args, &a->cfg);
	struct book b;
	if (book_open(&b, a->dir, false, NULL) < 0)
		return EXIT_UNKNOWN;
	struct alert *al = book_find(&b, fp);
	if (!al || al->status != ALERT_FIRING) {
		book_close(&b);
		die(EXIT_DATAERR, "ack: no firing alert with fingerprint %s in %s/state.json", fp, a->dir);
	}
	char *user = getenv("USER") ? estrdup(getenv("USER")) : easprintf("uid %d", (int)getuid());
	char t[RFC3339_LEN];
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "ack");
	cJSON_AddStringToObject(r, "time", rfc3339_format(now_epoch_ms(), t));
	cJSON_AddStringToObject(r, "fingerprint", fp);
	cJSON_AddStringToObject(r, "alertname", json_path_string(al->labels, "alertname", ""));
	cJSON_AddStringToObject(r, "by", user);
	/* as deploy-stage's -m: the config's secrets (registered when it was
	 * loaded) and URL passwords never reach the ack file or the record */
	char *message = redact_string(a->args->message ? a->args->message : "");
	cJSON_AddStringToObject(r, "message", message);
	free(message);
	cJSON_AddNumberToObject(r, "level", al->level > 0 ? (double)al->level : 0);
	char *text = cJSON_PrintUnformatted(r);
	char *acks = easprintf("%s/acks", a->dir), *path = easprintf("%s/%s.json", acks, fp);
	if (mkdir_p(acks, 0700) < 0 || atomic_write_file(path, text, strlen(text), 0600) < 0)
		die_errno(EXIT_UNKNOWN, "unable to write %s", path);
	record_print(r, a->format);
	free(text);
	free(acks);
	free(path);
	free(user);
	book_close(&b);
	return EXIT_OK;
}

/* list and route: the book as saved, with the config's settings. */
static int cmd_view(struct app *a)
{
	a->dir = alert_send_dir(a->args, &a->cfg);
	struct book b;
	if (book_open(&b, a->dir, false, &a->s) < 0)
		return EXIT_UNKNOWN;
	int st = a->args->command == CMD_LIST
			 ? view_list(&b, &a->s, a->format)
			 : view_route(&b, &a->s, a->args->route_labels, a->args->n_route_labels, a->format);
	book_close(&b);
	return st;
}

/* With the alertmanager channel configured, silences are kept there too. */
static int cmd_silence(struct app *a)
{
	struct silence_args sa = a->args->silence;
	const struct channel *am = &a->s.ch[CH_ALERTMANAGER];
	if (a->args->std.config_path && am->configured)
		sa.alertmanager = am;
	a->dir = alert_send_dir(a->args, &a->cfg);
	return silence_command(a->dir, &sa, a->format);
}

/* --test, --check and the commands exclude each other. */
static void set_command(struct args *a, enum command c)
{
	if (a->command != CMD_RUN && a->command != c)
		die(EXIT_USAGE, "%s does not go with %s", command_names[c], command_names[a->command]);
	a->command = c;
}

/* silence VERB and its operands: add MATCHER..., list, expire ID. */
static void parse_silence(int argc, char **argv, struct silence_args *sa)
{
	if (optind >= argc)
		die(EXIT_USAGE, "silence: add, list or expire? (see %s --help)", prog);
	sa->verb = argv[optind++];
	sa->operands = argv + optind;
	sa->n_operands = argc - optind;
	optind = argc;
	if (strcmp(sa->verb, "add") == 0) {
		if (!sa->n_operands)
			die(EXIT_USAGE, "silence add: which alerts? give matchers, e.g. alertname=\"Down\"");
		if (!sa->message || !*sa->message)
			die(EXIT_USAGE, "silence add: -m COMMENT is required (why, for whoever sees it next)");
		if (!sa->for_ms == !sa->until)
			die(EXIT_USAGE, "silence add: give one of --for DUR or --until TIME");
		return;
	}
	if (sa->for_ms || sa->until || sa->by)
		die(EXIT_USAGE, "--for, --until and --by go with silence add");
	if (strcmp(sa->verb, "list") == 0 && sa->n_operands == 0)
		return;
	if (strcmp(sa->verb, "expire") == 0 && sa->n_operands == 1)
		return;
	if (strcmp(sa->verb, "list") == 0 || strcmp(sa->verb, "expire") == 0)
		die(EXIT_USAGE, "silence %s: %s", sa->verb,
		    sa->n_operands ? "unexpected operand (see --help)" : "which ID? (see alert-send silence list)");
	die(EXIT_USAGE, "silence: unknown \"%s\" (expected add, list or expire)", sa->verb);
}

/* The operand: a command, and ack's fingerprint. */
static void parse_command(int argc, char **argv, struct args *a)
{
	if (optind >= argc)
		return;
	const char *name = argv[optind++];
	if (strcmp(name, "ack") == 0) {
		if (optind >= argc)
			die(EXIT_USAGE, "ack: which FINGERPRINT? (see %s --help)", prog);
		set_command(a, CMD_ACK);
		a->fingerprint = argv[optind++];
	} else if (strcmp(name, "flush") == 0) {
		set_command(a, CMD_FLUSH);
	} else if (strcmp(name, "silence") == 0) {
		set_command(a, CMD_SILENCE);
		parse_silence(argc, argv, &a->silence);
	} else if (strcmp(name, "list") == 0) {
		set_command(a, CMD_LIST);
	} else if (strcmp(name, "notice") == 0) {
		set_command(a, CMD_NOTICE);
	} else if (strcmp(name, "route") == 0) {
		set_command(a, CMD_ROUTE);
		if (optind >= argc)
			die(EXIT_USAGE, "route: which labels? give LABEL=VALUE..., e.g. alertname=HealthCheckFailed");
		a->route_labels = argv + optind;
		a->n_route_labels = argc - optind;
		optind = argc;
	} else {
		die(EXIT_USAGE, "unknown command \"%s\" (expected flush, ack, silence, list, route or notice)", name);
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected operand \"%s\" (see %s --help)", argv[optind], prog);
}

/* What the options say together, once all are read. */
static void check_combinations(const struct args *a)
{
	const char *mode = command_names[a->command];
	if (a->message && a->command != CMD_ACK && a->command != CMD_SILENCE)
		die(EXIT_USAGE, "-m goes with ack or silence add");
	if ((a->silence.for_ms || a->silence.until || a->silence.by) && a->command != CMD_SILENCE)
		die(EXIT_USAGE, "--for, --until and --by go with silence add");
	if (a->only_input && a->command != CMD_RUN)
		die(EXIT_USAGE, "--only-input goes with a run that reads alerts, not with %s", mode);
	if (a->command == CMD_CHECK && a->dry_run)
		die(EXIT_USAGE, "--check is a dry run already: --dry-run does not go with it");
	if (a->dry_run && a->command != CMD_RUN && a->command != CMD_FLUSH)
		die(EXIT_USAGE, "--dry-run goes with a run or flush, not with %s", mode);
	if (a->command == CMD_CHECK && a->std.state_dir)
		die(EXIT_USAGE, "--check keeps no state: --state-dir does not go with it");
	if (a->std.format == FORMAT_NAGIOS && a->command != CMD_CHECK)
		die(EXIT_USAGE, "--format nagios goes with --check");
	if (a->command != CMD_ACK && a->command != CMD_SILENCE && !a->std.config_path)
		die(EXIT_USAGE, "no config: give -c FILE (stdin carries the alerts)");
	if (a->command == CMD_NOTICE && isatty(STDIN_FILENO))
		die(EXIT_USAGE, "notice: the notice comes as one JSON document on stdin (deploy_production.sh sends them)");
	if ((a->command == CMD_RUN || a->command == CMD_CHECK) && isatty(STDIN_FILENO))
		die(EXIT_USAGE, "alerts come as JSON Lines on stdin: pipe them in, e.g. health-watch -c FILE | "
				"alert-send -c FILE (flush sends the spool, --test a test notice)");
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		STD_LONG_OPTS,
		STD_TIMEOUT_OPT,
		STD_STATE_DIR_OPT,
		{"attempt-timeout", required_argument, NULL, OPT_ATTEMPT_TIMEOUT},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"test", no_argument, NULL, OPT_TEST},
		{"check", no_argument, NULL, OPT_CHECK},
		{"only-input", no_argument, NULL, OPT_ONLY_INPUT},
		{"schema", required_argument, NULL, OPT_SCHEMA},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"message", required_argument, NULL, 'm'},
		{"for", required_argument, NULL, OPT_FOR},
		{"until", required_argument, NULL, OPT_UNTIL},
		{"by", required_argument, NULL, OPT_BY},
		{NULL, 0, NULL, 0},
	};
	int c;
	a->std.usage = usage;
	a->std.formats = "json,text,nagios";
	while ((c = std_getopt(&a->std, argc, argv, "t:m:", longopts)) != -1) {
		switch (c) {
		case OPT_EXIT: exit(a->std.exit_status);
		case OPT_ATTEMPT_TIMEOUT: opt_exit(opt_duration("--attempt-timeout", optarg, 1, &a->attempt_timeout_ms)); break;
		case OPT_DRY_RUN: a->dry_run = true; break;
		case OPT_TEST: set_command(a, CMD_TEST); break;
		case OPT_CHECK: set_command(a, CMD_CHECK); break;
		case OPT_ONLY_INPUT: a->only_input = true; break;
		case OPT_SCHEMA: a->schema = optarg; break;
		case OPT_STRICT: a->strict = true; break;
		case 'm': a->message = a->silence.message = optarg; break;
		case OPT_FOR: opt_exit(opt_duration("--for", optarg, 1000, &a->silence.for_ms)); break;
		case OPT_UNTIL: a->silence.until = optarg; break;
		case OPT_BY: a->silence.by = optarg; break;
		}
	}
	parse_command(argc, argv, a);
	check_combinations(a);
}

/* The config and, but for ack, the settings. Returns 0 or the exit status,
 * every problem reported. With --check a channel's own problems are not an
 * exit 65: they are the report's (critical). */
static int load_config(struct app *a)
{
	static const char *const sections[] = {"alerts", NULL};
	const struct args *args = a->args;
	if (!args->std.config_path)
		return 0; /* ack: the state directory from the environment */
	struct config_request req = {.path = args->std.config_path, .schema_path = args->schema,
				     .sections = sections, .strict = args->strict};
	int status = config_open(&req, &a->cfg);
	if (status != 0)
		return config_exit_status(&a->cfg, status);
	if (args->command == CMD_ACK)
		return 0;
	settings_load(&a->s, &a->cfg, args->attempt_timeout_ms);
	bool only_channels = a->cfg.diag.errors == settings_channel_problems(&a->s);
	if (config_failed(&a->cfg) && !(args->command == CMD_CHECK && only_channels))
		return config_exit_status(&a->cfg, EXIT_DATAERR);
	return 0;
}

static int run_command(struct app *a)
{
	switch (a->args->command) {
	case CMD_ACK: return cmd_ack(a);
	case CMD_SILENCE: return cmd_silence(a);
	case CMD_LIST:
	case CMD_ROUTE: return cmd_view(a);
	case CMD_NOTICE: return notice_command(&a->s, a->format);
	case CMD_TEST: return cmd_test(a);
	case CMD_CHECK: return cmd_check(a);
	case CMD_FLUSH: return cmd_run(a, true);
	default: return cmd_run(a, false);
	}
}

static void app_free(struct app *a)
{
	settings_free(&a->s);
	for (int c = 0; c < CH_COUNT; c++)
		owed_free(&a->owed[c]);
	buf_free(&a->pending);
	buf_free(&a->journal);
	free(a->dir);
	config_close(&a->cfg);
}

int main(int argc, char **argv)
{
	struct args args = {0};
	tool_start(argv[0]);
	parse_args(argc, argv, &args);
	struct app a = {
		.args = &args,
		.lock_fd = -1,
		.format = format_resolve(args.std.format),
		.run_deadline = args.std.timeout_ms ? now_monotonic_ms() + args.std.timeout_ms : INT64_MAX,
	};
	int status = load_config(&a);
	if (status == 0)
		status = run_command(&a);
	app_free(&a);
	return finish_stdout(status);
}
