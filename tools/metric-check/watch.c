/* watch.c — bake mode: a round of every metric each interval for the
 * duration, one report per round, then a verdict from the rounds' counts;
 * stopped early at the failure limit, or by SIGINT/SIGTERM with a verdict. */
#include "metric-check.h"
#include "shipshape/json.h"
#include "shipshape/rest.h"
#include "shipshape/signals.h"
#include "shipshape/units.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tally {
	long rounds, by_status[4];     /* indexed by enum status */
	long inconclusive;             /* unknown rounds whose checks were inconclusive only */
	const char *stopped;           /* "duration", "failure_limit", "signal", "output" */
	int signal;
	cJSON *metrics;                /* {name: {ok: n, warning: n, ...}} */
};

/* Prints a round's report (round 1, 2, ...) or the verdict (round 0): a
 * JSON line with a "round" or "verdict" member, or a table under a title. */
static bool print_report(const struct settings *s, struct report *r, long round)
{
	if (s->format == FORMAT_TEXT) {
		if (round)
			printf("round %ld\n", round);
		else
			puts("verdict");
		return report_print(r, FORMAT_TEXT, stdout) == 0 && stream_flush("the report", NULL);
	}
	cJSON *doc = report_to_json(r);
	if (round)
		cJSON_AddNumberToObject(doc, "round", (double)round);
	else
		cJSON_AddTrueToObject(doc, "verdict");
	int rc = json_print_line(stdout, doc);
	cJSON_Delete(doc);
	return rc == 0 && stream_flush("the report", NULL);
}

/* Counts a round's checks per metric and status. */
static void tally_round(struct tally *t, struct report *r)
{
	cJSON *doc = report_to_json(r);
	const cJSON *c;
	bool only_inconclusive = true;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "checks"))
	{
		const char *name = json_path_string(c, "data.metric", "?"), *st = json_path_string(c, "status", "unknown");
		bool inc = json_path_bool(c, "data.inconclusive", false);
		if (strcmp(st, "unknown") == 0 && !inc)
			only_inconclusive = false;
		cJSON *m = cJSON_GetObjectItemCaseSensitive(t->metrics, name);
		if (!m)
			m = cJSON_AddObjectToObject(t->metrics, name);
		const char *key = inc ? "inconclusive" : st;
		cJSON *n = cJSON_GetObjectItemCaseSensitive(m, key);
		if (n)
			cJSON_SetNumberValue(n, n->valuedouble + 1);
		else
			cJSON_AddNumberToObject(m, key, 1);
	}
	cJSON_Delete(doc);
	enum status st = report_status(r);
	t->rounds++;
	t->by_status[st]++;
	if (st == STATUS_UNKNOWN && only_inconclusive)
		t->inconclusive++;
}

/* Waits until the monotonic time until_ms, or a signal. Returns the
 * signal's number, 0 when the time came. */
static int wait_until(int signal_fd, int64_t until_ms)
{
	for (;;) {
		int64_t left = until_ms - now_monotonic_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = signal_fd, .events = POLLIN};
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) > 0 && (pfd.revents & POLLIN)) {
			unsigned char sig[8];
			size_t n = signals_take(sig, sizeof sig);
			if (n)
				return sig[0];
		}
	}
}

static cJSON *tally_json(const struct settings *s, const struct tally *t)
{
	char buf[32];
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "rounds", (double)t->rounds);
	cJSON_AddNumberToObject(d, "ok", (double)t->by_status[STATUS_OK]);
	cJSON_AddNumberToObject(d, "warning", (double)t->by_status[STATUS_WARNING]);
	cJSON_AddNumberToObject(d, "failures", (double)t->by_status[STATUS_CRITICAL]);
	cJSON_AddNumberToObject(d, "unknown", (double)t->by_status[STATUS_UNKNOWN]);
	cJSON_AddNumberToObject(d, "inconclusive_rounds", (double)t->inconclusive);
	cJSON_AddNumberToObject(d, "failure_limit", (double)s->failure_limit);
	cJSON_AddNumberToObject(d, "inconclusive_limit", (double)s->inconclusive_limit);
	cJSON_AddStringToObject(d, "on_inconclusive", s->pass_inconclusive ? "pass" : "fail");
	cJSON_AddStringToObject(d, "duration", duration_format(s->watch_ms, buf, sizeof buf));
	cJSON_AddStringToObject(d, "interval", duration_format(s->interval_ms, buf, sizeof buf));
	cJSON_AddStringToObject(d, "stopped", t->stopped);
	cJSON_AddItemToObject(d, "metrics", cJSON_Duplicate(t->metrics, true));
	return d;
}

/* The verdict's status and message from the counts. */
static enum status verdict(const struct settings *s, const struct tally *t, struct buf *b, bool *inconclusive)
{
	long failed = t->by_status[STATUS_CRITICAL], unknown = t->by_status[STATUS_UNKNOWN];
	long warned = t->by_status[STATUS_WARNING];
	buf_printf(b, "%ld rounds: %ld ok, %ld warning, %ld critical, %ld unknown; ", t->rounds,
		   t->by_status[STATUS_OK], warned, failed, unknown);
	if (failed >= s->failure_limit) {
		buf_printf(b, "the bake failed: %ld critical rounds reached the failure limit %ld", failed,
			   s->failure_limit);
		return STATUS_CRITICAL;
	}
	if (t->signal) {
		buf_printf(b, "the bake was interrupted by %s before its end", strsignal(t->signal));
		return STATUS_UNKNOWN;
	}
	if (unknown > s->inconclusive_limit) {
		*inconclusive = true;
		buf_printf(b, "the bake is inconclusive: %ld rounds could not be judged, more than the limit %ld",
			   unknown, s->inconclusive_limit);
		if (!s->pass_inconclusive)
			return STATUS_UNKNOWN;
		/* pass covers no data only: a Prometheus that did not answer is
		 * not a release that passed */
		if (t->inconclusive < unknown) {
			buf_printf(b, "; %ld of them errors, not no data, which on inconclusive: pass does not pass",
				   unknown - t->inconclusive);
			return STATUS_UNKNOWN;
		}
		buf_puts(b, "; passed with a warning (on inconclusive: pass: they had no data)");
		return STATUS_WARNING;
	}
	if (failed || unknown || warned) {
		buf_puts(b, "the bake passed, with warnings");
		return STATUS_WARNING;
	}
	buf_puts(b, "the bake passed");
	return STATUS_OK;
}

static int print_verdict(const struct settings *s, struct tally *t)
{
	struct report *r = report_new("metric-check");
	struct buf b = {0};
	bool inconclusive = false;
	enum status st = verdict(s, t, &b, &inconclusive);
	cJSON *d = tally_json(s, t);
	cJSON_AddBoolToObject(d, "inconclusive", inconclusive);
	cJSON_AddBoolToObject(d, "interrupted", t->signal != 0);
	report_add_check(r, "metric.bake", st, 0, d, "%s", b.data);
	report_set_summary(r, "bake: %s", b.data);
	int status = (int)report_status(r);
	if (!print_report(s, r, 0))
		status = EXIT_UNKNOWN;
	report_free(r);
	buf_free(&b);
	return status;
}

/* One round, printed and counted. Returns false when the bake stops. */
static bool one_round(const struct settings *s, struct rest_client *c, struct tally *t, int signal_fd)
{
	struct report *r = report_new("metric-check");
	bool interrupted = false;
	run_round(s, c, r, now_monotonic_ms() + s->timeout_ms, signal_fd, &interrupted);
	if (interrupted) {
		unsigned char sig[8];
		t->signal = signals_take(sig, sizeof sig) ? sig[0] : SIGTERM;
		t->stopped = "signal";
		report_free(r);
		return false;
	}
	tally_round(t, r);
	if (!print_report(s, r, t->rounds))
		t->stopped = "output";
	else if (t->by_status[STATUS_CRITICAL] >= s->failure_limit)
		t->stopped = "failure_limit";
	report_free(r);
	return t->stopped == NULL;
}

int watch_run(const struct settings *s)
{
	int signal_fd = signals_open(false);
	if (signal_fd < 0)
		die_errno(EXIT_UNKNOWN, "unable to watch for signals");
	struct rest_client *c = query_client_new(s);
	struct tally t = {.metrics = cJSON_CreateObject()};
	int64_t start = now_monotonic_ms();
	/* rounds at 0, interval, 2 interval, ... up to the duration: bounded by
	 * duration / interval + 1 rounds, each by -t */
	for (long k = 1; one_round(s, c, &t, signal_fd); k++) {
		int64_t next = start + k * s->interval_ms;
		if (next - start > s->watch_ms) {
			t.stopped = "duration";
			break;
		}
		if ((t.signal = wait_until(signal_fd, next)) != 0) {
			t.stopped = "signal";
			break;
		}
	}
	rest_client_free(c);
	int status = t.stopped && strcmp(t.stopped, "output") == 0 ? EXIT_UNKNOWN : print_verdict(s, &t);
	cJSON_Delete(t.metrics);
	return status;
}
