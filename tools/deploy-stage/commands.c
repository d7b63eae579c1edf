/* commands.c — deploy-stage lock, begin, gate, apply and finish. */
#include "deploy-stage.h"
#include "shipshape/driver.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/report.h"
#include "shipshape/snapshot.h"
#include "shipshape/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GATE_MAX_REPORTS 10000
#define LOCK_POLL_MS 200

/* The guard taken, the lock and the journal read: one consistent view
 * (EXIT_OK), or an exit status after a message, nothing held. */
static int take(const struct run *r, struct journal_hold *h)
{
	return run_hold(r, h, true);
}

static void drop(struct journal_hold *h)
{
	journal_unhold(h);
}

static int held_by_other(const struct lock_info *li)
{
	char *who = lock_holder_describe(li);
	error_msg("lock held by %s", who);
	free(who);
	return EXIT_TEMPFAIL;
}

static void warn_stale(const struct lock_info *li)
{
	char *who = lock_holder_describe(li);
	warnx_("reclaiming a stale lock: its holder %s is gone", who);
	free(who);
}

/* ---- lock ---- */

/* The lock as printed: kind and type first, like every journal document. */
static cJSON *lock_doc(const struct lock_info *li)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "journal");
	cJSON_AddStringToObject(doc, "type", "lock");
	cJSON *holder = lock_info_json(li);
	cJSON *m;
	while ((m = holder->child)) {
		cJSON_DetachItemViaPointer(holder, m);
		cJSON_AddItemToObject(doc, m->string, m);
	}
	cJSON_Delete(holder);
	return doc;
}

static int lock_acquire(struct run *r)
{
	int64_t deadline = lock_wait_deadline(r->a);
	for (;;) {
		struct journal_hold h;
		int st = take(r, &h);
		if (st != EXIT_OK)
			return st;
		if (h.li.present && !h.li.stale && !h.li.ours) {
			if (now_monotonic_ms() < deadline) {
				drop(&h);
				sleep_ms(LOCK_POLL_MS);
				continue;
			}
			st = held_by_other(&h.li);
			drop(&h);
			return st;
		}
		if (h.li.stale)
			warn_stale(&h.li);
		long deploy = h.li.present && h.li.ours ? h.li.deploy : 0;
		if (journal_lock_take(&r->j, deploy, r->a->message) < 0) {
			st = run_lock_failed(r, "take");
			drop(&h);
			return st;
		}
		lock_info_free(&h.li);
		journal_lock_read(&r->j, &h.li);
		cJSON *doc = lock_doc(&h.li);
		char *who = lock_holder_describe(&h.li);
		char *text = easprintf("lock acquired by %s", who);
		emit(r, doc, text);
		free(who);
		free(text);
		cJSON_Delete(doc);
		drop(&h);
		return EXIT_OK;
	}
}

/* Another holder's lock released by force: said in the deploy it was
 * held for (when that deploy is in the journal), before it goes. */
static int journal_forced_release(const struct run *r, const struct journal_hold *h)
{
	bool known = false;
	for (size_t i = 0; i < h->view.n; i++)
		known = known || h->view.v[i].id == h->li.deploy;
	if (!known)
		return EXIT_OK;
	cJSON *rec = journal_record_lock_release(&h->li, r->a->message);
	int st = run_append(r, h->li.deploy, rec);
	cJSON_Delete(rec);
	return st;
}

static int lock_release(struct run *r)
{
	struct journal_hold h;
	int st = take(r, &h);
	if (st != EXIT_OK)
		return st;
	if (!h.li.present) {
		warnx_("the lock was not held");
	} else if (!h.li.ours && !h.li.stale && !r->a->force) {
		st = held_by_other(&h.li);
		error_msg("not releasing another holder's lock without --force");
		drop(&h);
		return st;
	} else {
		const struct deployment *open = journal_open_deployment(&h.view);
		if (open && h.li.deploy == open->id)
			warnx_("deploy %ld (%s) stays open: finish it with deploy-stage finish", open->id,
			       open->release ? open->release : "?");
		if (!h.li.ours && !h.li.stale && (st = journal_forced_release(r, &h)) != EXIT_OK) {
			drop(&h);
			return st;
		}
		if (journal_lock_drop(&r->j, &h.li) < 0) {
			st = run_lock_failed(r, "release");
			drop(&h);
			return st;
		}
	}
	struct lock_info none = {0};
	cJSON *doc = lock_doc(&none);
	emit(r, doc, "lock released");
	cJSON_Delete(doc);
	drop(&h);
	return st;
}

static int lock_status(struct run *r)
{
	struct lock_info li;
	if (journal_lock_read(&r->j, &li) < 0)
		return run_lock_failed(r, "read");
	cJSON *doc = lock_doc(&li);
	char *who = li.present ? lock_holder_describe(&li) : NULL;
	char *text = !li.present ? estrdup("lock free")
		     : li.stale  ? easprintf("lock stale (reclaimable): %s", who)
				 : easprintf("lock held by %s%s", who, li.ours ? " (yours)" : "");
	emit(r, doc, text);
	int st = li.present && !li.stale && !li.ours ? EXIT_TEMPFAIL : EXIT_OK;
	free(who);
	free(text);
	cJSON_Delete(doc);
	lock_info_free(&li);
	return st;
}

int cmd_lock(struct run *r)
{
	if (strcmp(r->a->operand, "acquire") == 0)
		return lock_acquire(r);
	if (strcmp(r->a->operand, "release") == 0)
		return lock_release(r);
	return lock_status(r);
}

/* ---- begin ---- */

static int interrupted_refusal(const struct deployment *d)
{
	error_msg("deploy %ld (%s) was interrupted; resolve it first with `deploy-stage finish --result "
		  "failed` or `rollback`, or begin with --force",
		  d->id, d->release ? d->release : "?");
	return EXIT_CRITICAL;
}

/* Waits (up to --wait) until no deploy is in progress and no live other
 * holder has the lock; then h holds the state (EXIT_OK). Else an exit
 * status after a message, nothing held. */
static int begin_wait(const struct run *r, struct journal_hold *h)
{
	int64_t deadline = lock_wait_deadline(r->a);
	for (;;) {
		int st = take(r, h);
		if (st != EXIT_OK)
			return st;
		const struct deployment *open = journal_open_deployment(&h->view);
		enum ownership own = open ? deployment_ownership(&h->li, open->id) : OWN_NONE;
		bool busy = (open && own != OWN_NONE) || (h->li.present && !h->li.stale && !h->li.ours);
		if (!busy)
			return EXIT_OK;
		if (now_monotonic_ms() < deadline) {
			drop(h);
			sleep_ms(LOCK_POLL_MS);
			continue;
		}
		if (open && own == OWN_OURS) {
			error_msg("deploy %ld (%s) is still in progress; finish it first", open->id,
				  open->release ? open->release : "?");
			st = EXIT_TEMPFAIL;
		} else {
			st = held_by_other(&h->li);
		}
		drop(h);
		return st;
	}
}

/* An interrupted deploy in the way: refused, or closed as failed with
 * --force. */
static int begin_close_interrupted(const struct run *r, const struct deployment *open)
{
	if (!r->a->force)
		return interrupted_refusal(open);
	warnx_("closing interrupted deploy %ld (%s) as failed (--force)", open->id, open->release ? open->release : "?");
	cJSON *fin = journal_record_finish(false, NULL, NULL, "interrupted; closed by a forced begin");
	int st = run_append(r, open->id, fin);
	cJSON_Delete(fin);
	return st;
}

/* The config snapshot, beside begin. A deploy goes on without one: its
 * journal and lock are what it needs. Returns why there is none (a new
 * string, for a warning once begin is recorded), or NULL. */
static char *add_config_record(const struct run *r, cJSON *batch)
{
	char *error = NULL;
	cJSON *rec = r->cfg.tree ? snapshot_record(&r->j, r->cfg.tree, &error) : NULL;
	if (rec)
		cJSON_AddItemToArray(batch, rec);
	return error;
}

/* The render driver told to deploy only exact releases refuses a begin
 * that names none: before the lock, so nothing is left to close. */
static bool exact_release_missing(const struct run *r)
{
	const char *name = driver_name(r->config);
	return name && strcmp(name, "render") == 0 && !r->a->commit && !r->a->image &&
	       json_path_bool(r->config, "deploy.render.require_exact_release", false);
}

int cmd_begin(struct run *r)
{
	const struct args *a = r->a;
	if (!journal_release_name_valid(a->release)) {
		char *shown = journal_text_quote(a->release);
		error_msg("invalid release \"%s\" (a plain name such as v2 or 2026-11-28.1)", shown);
		free(shown);
		return EXIT_USAGE;
	}
	if (exact_release_missing(r)) {
		error_msg("begin: deploy.render.require_exact_release is set: give --commit SHA or --image REF");
		return EXIT_USAGE;
	}
	struct journal_hold h;
	int st = begin_wait(r, &h);
	if (st != EXIT_OK)
		return st;
	warn_damage(&h.view);
	const struct deployment *open = journal_open_deployment(&h.view);
	if (open && (st = begin_close_interrupted(r, open)) != EXIT_OK)
		goto out;
	if (h.li.stale)
		warn_stale(&h.li);
	long id = journal_next_id(&h.view);
	const char *previous = journal_current_release(&h.view);
	cJSON *rec = journal_record_begin(JOURNAL_DEPLOY, a->release, previous, a->message, 0, r->config);
	if (a->commit)
		cJSON_AddStringToObject(rec, "commit", a->commit);
	if (a->image)
		cJSON_AddStringToObject(rec, "image", a->image);
	cJSON *batch = cJSON_CreateArray(); /* owns rec */
	cJSON_AddItemToArray(batch, rec);
	char *no_snapshot = add_config_record(r, batch);
	/* the journal first: a crash before the lock leaves an interrupted deploy */
	st = run_append(r, id, batch);
	if (st == EXIT_OK && no_snapshot)
		warnx_("no config snapshot kept for this deploy: %s", no_snapshot);
	free(no_snapshot);
	if (st == EXIT_OK && journal_lock_take(&r->j, id, a->message) < 0)
		st = run_lock_failed(r, "take");
	if (st == EXIT_OK) {
		char *text = easprintf("deploy %ld: %s%s%s, by %s", id, a->release, previous ? " replacing " : "",
				       previous ? previous : "", json_path_string(rec, "user", "?"));
		emit(r, rec, text);
		free(text);
	}
	cJSON_Delete(batch);
out:
	drop(&h);
	return st;
}

/* The open deployment the caller may act on, or an exit status. */
static int own_open_deployment(const struct journal_hold *h, const struct deployment **out, bool allow_interrupted)
{
	const struct deployment *open = journal_open_deployment(&h->view);
	*out = open;
	if (!open) {
		error_msg("no deploy in progress: run deploy-stage begin first");
		return EXIT_CRITICAL;
	}
	switch (deployment_ownership(&h->li, open->id)) {
	case OWN_OURS:
		return EXIT_OK;
	case OWN_OTHER:
		return held_by_other(&h->li);
	case OWN_NONE:
		break;
	}
	if (allow_interrupted)
		return EXIT_OK;
	return interrupted_refusal(open);
}

/* ---- gate ---- */

struct gate_input {
	cJSON *reports;  /* array of report documents */
	cJSON *problems; /* array of strings: unreadable lines, other kinds */
};

static void gate_read(struct gate_input *in)
{
	in->reports = cJSON_CreateArray();
	in->problems = cJSON_CreateArray();
	struct jsonl_reader rd;
	jsonl_reader_init(&rd, stdin, "stdin", JSONL_MAX_LINE_DEFAULT);
	cJSON *doc;
	int rc;
	while ((rc = jsonl_next(&rd, &doc)) != 0) {
		if (rc < 0) {
			error_msg("%s", rd.error);
			cJSON_AddItemToArray(in->problems, cJSON_CreateString(rd.error));
			continue;
		}
		enum status st;
		if (report_doc_status(doc, &st) < 0) {
			const char *kind = json_kind(doc);
			char *msg = kind ? easprintf("stdin:%lu: not a report (kind \"%s\")", rd.lineno, kind)
					 : easprintf("stdin:%lu: not a report (no \"kind\":\"report\" with status and checks)",
						     rd.lineno);
			error_msg("%s", msg);
			cJSON_AddItemToArray(in->problems, cJSON_CreateString(msg));
			free(msg);
			cJSON_Delete(doc);
			continue;
		}
		if (cJSON_GetArraySize(in->reports) >= GATE_MAX_REPORTS) {
			cJSON_Delete(doc);
			char *msg = easprintf("stdin:%lu: more than %d reports", rd.lineno, GATE_MAX_REPORTS);
			error_msg("%s", msg);
			cJSON_AddItemToArray(in->problems, cJSON_CreateString(msg));
			free(msg);
			break;
		}
		cJSON_AddItemToArray(in->reports, doc);
	}
	if (ferror(stdin))
		cJSON_AddItemToArray(in->problems, cJSON_CreateString("stdin: read error"));
	jsonl_reader_free(&rd);
}

/* The gate's journal records: a report record for each report, then the
 * gate record. */
static cJSON *gate_records(const struct gate_input *in, const char *stage, const cJSON *gate, bool brief)
{
	cJSON *records = cJSON_CreateArray();
	const cJSON *doc;
	cJSON_ArrayForEach(doc, in->reports) cJSON_AddItemToArray(records, journal_record_report(stage, doc, brief));
	cJSON_AddItemToArray(records, cJSON_Duplicate(gate, 1));
	return records;
}

/* What the gate makes of its reports: how many warned, and the ones that
 * fail it ("TOOL STATUS, ..."). */
struct gate_tally {
	unsigned warnings, failed;
	struct buf failing;
};

/* A round of a bake (metric-check --watch: a numeric "round" member) is
 * evidence the gate journals, not a report it judges: the verdict report
 * that ends the rounds counts them, against the bake's limits. */
static bool is_round(const cJSON *doc)
{
	return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "round"));
}

/* One check in the gate report per input report (a bake's rounds apart),
 * named STAGE.TOOL (#2, #3 for the same tool again): its status and
 * summary; in data, its tool, its failing checks (failing) and whether it
 * fails the gate (fails_gate). Returns whether the reports let the gate
 * pass; *judged counts them. */
static bool gate_judge_reports(const struct run *r, const struct gate_input *in, struct report *rep,
			       struct gate_tally *t, int *judged)
{
	const char *stage = r->a->operand;
	bool passed = true;
	cJSON *seen = cJSON_CreateObject();
	const cJSON *doc;
	cJSON_ArrayForEach(doc, in->reports)
	{
		if (is_round(doc))
			continue;
		++*judged;
		enum status st;
		report_doc_status(doc, &st);
		const char *tool = json_path_string(doc, "tool", "report");
		char *name = easprintf("%s.%s", stage, tool);
		const cJSON *count = cJSON_GetObjectItemCaseSensitive(seen, name);
		if (count) {
			int n = count->valueint + 1;
			cJSON_ReplaceItemInObjectCaseSensitive(seen, name, cJSON_CreateNumber(n));
			free(name);
			name = easprintf("%s.%s#%d", stage, tool, n);
		} else {
			cJSON_AddNumberToObject(seen, name, 1);
		}
		bool fails = st == STATUS_CRITICAL || st == STATUS_UNKNOWN || (st == STATUS_WARNING && r->a->strict);
		cJSON *data = cJSON_CreateObject();
		cJSON_AddStringToObject(data, "tool", tool);
		cJSON_AddBoolToObject(data, "fails_gate", fails);
		cJSON *failing = cJSON_AddArrayToObject(data, "failing");
		const cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "checks"))
		{
			if (strcmp(json_path_string(c, "status", "unknown"), "ok") != 0)
				cJSON_AddItemToArray(failing, cJSON_CreateString(json_path_string(c, "name", "?")));
		}
		report_add_check(rep, name, st, (int64_t)json_path_number(doc, "duration_ms", 0), data, "%s",
				 json_path_string(doc, "summary", status_name(st)));
		free(name);
		if (fails) {
			passed = false;
			buf_printf(&t->failing, "%s%s %s", t->failed++ ? ", " : "", tool, status_name(st));
		} else if (st == STATUS_WARNING) {
			t->warnings++;
		}
	}
	cJSON_Delete(seen);
	return passed;
}

/* The gate's summary: "STAGE gate passed: 5 reports, all ok", or "STAGE
 * gate failed: 1 of 4 reports failed (svc-probe critical)"; then each input
 * problem, then how many warned without failing it. */
static void gate_summary(const struct run *r, struct report *rep, bool passed, int nreports,
			 const struct gate_tally *t, const struct buf *problems)
{
	struct buf s = {0};
	buf_printf(&s, "%s gate %s: ", r->a->operand, passed ? "passed" : "failed");
	if (t->failed && nreports > 1)
		buf_printf(&s, "%u of %d reports failed (%s)", t->failed, nreports, t->failing.data);
	else if (t->failed)
		buf_printf(&s, "1 report failed (%s)", t->failing.data);
	else
		buf_printf(&s, "%d report%s%s", nreports, nreports == 1 ? "" : "s",
			   nreports && !t->warnings && !problems->len ? ", all ok" : "");
	if (problems->len)
		buf_puts(&s, problems->data);
	if (t->warnings)
		buf_printf(&s, "; %u with warnings, which alone do not fail a gate", t->warnings);
	report_set_summary(rep, "%s", s.data);
	buf_free(&s);
}

/* The gate's decision: the report of its checks (with its summary) and
 * whether it passed. A real gate and --dry-run decide through this alone. */
static bool gate_judge(const struct run *r, const struct gate_input *in, struct report *rep)
{
	struct gate_tally t = {0};
	struct buf problems = {0}; /* "; MESSAGE" each */
	int nreports = 0;
	bool passed = gate_judge_reports(r, in, rep, &t, &nreports);
	const cJSON *p;
	cJSON_ArrayForEach(p, in->problems)
	{
		report_add_check(rep, "input", STATUS_UNKNOWN, 0, NULL, "%s", p->valuestring);
		buf_printf(&problems, "; %s", p->valuestring);
		passed = false;
	}
	if (nreports == 0 && cJSON_GetArraySize(in->problems) == 0) {
		const char *why = cJSON_GetArraySize(in->reports) ? "only rounds of a bake on stdin, without their verdict"
								   : "no reports on stdin";
		report_add_check(rep, "input", STATUS_UNKNOWN, 0, NULL, "%s", why);
		buf_printf(&problems, "; %s", why);
		passed = false;
	}
	gate_summary(r, rep, passed, nreports, &t, &problems);
	buf_free(&t.failing);
	buf_free(&problems);
	return passed;
}

/* Appends the gate's records (each report, then the gate) to the open
 * deployment, whose id goes in *id. Returns EXIT_OK or an exit status after
 * a message; nothing is held on return. */
static int gate_record(struct run *r, const struct gate_input *in, bool passed, enum status status, long *id)
{
	const char *stage = r->a->operand;
	struct journal_hold h;
	int st = take(r, &h);
	if (st != EXIT_OK)
		return st;
	const struct deployment *open;
	if ((st = own_open_deployment(&h, &open, false)) != EXIT_OK) {
		drop(&h);
		return st;
	}
	*id = open->id;
	cJSON *gate = journal_record_gate(stage, passed, status, r->a->strict, cJSON_GetArraySize(in->reports),
					  in->problems);
	cJSON *records = gate_records(in, stage, gate, false);
	int rc = journal_append(&r->j, *id, records);
	if (rc < 0 && errno == EFBIG) {
		/* past the reports' budget: each report by its status and
		 * summary only */
		cJSON_Delete(records);
		records = gate_records(in, stage, gate, true);
		rc = journal_append(&r->j, *id, records);
	}
	int saved = errno;
	char *where = journal_where(&r->j, *id);
	if (rc < 0 && saved == EFBIG)
		error_msg("unable to write the journal %s: this gate's reports would take it past %u MiB (the deploy "
			  "can still be finished or rolled back)", where, JOURNAL_REPORT_BUDGET >> 20);
	else if (rc < 0)
		error_msg("unable to write the journal %s: %s", where, journal_error(&r->j, saved));
	free(where);
	cJSON_Delete(gate);
	cJSON_Delete(records);
	drop(&h);
	/* returned, not died: the records are freed, nothing is held */
	return rc < 0 ? EXIT_UNKNOWN : EXIT_OK;
}

/* The gate report: the checks, and the decision beside them in "gate"
 * (with the deploy it was recorded in, or "dry_run": true). */
static void gate_print(const struct run *r, struct report *rep, bool passed, long id)
{
	if (r->fmt == FORMAT_TEXT) {
		report_print(rep, FORMAT_TEXT, stdout);
		return;
	}
	cJSON *out = report_to_json(rep);
	cJSON *g = cJSON_AddObjectToObject(out, "gate");
	cJSON_AddStringToObject(g, "stage", r->a->operand);
	cJSON_AddBoolToObject(g, "passed", passed);
	if (r->a->dry_run)
		cJSON_AddBoolToObject(g, "dry_run", true);
	else
		cJSON_AddNumberToObject(g, "deploy", (double)id);
	json_print_line(stdout, out);
	cJSON_Delete(out);
}

int cmd_gate(struct run *r)
{
	if (isatty(STDIN_FILENO))
		die(EXIT_USAGE, "gate reads reports (JSON Lines) on stdin: pipe them in, e.g. "
				"db-check -c FILE | deploy-stage -c FILE gate %s", r->a->operand);
	struct gate_input in;
	/* stdin first, outside the guard: the checks feeding it may take long */
	gate_read(&in);
	struct report *rep = report_new("deploy-stage");
	bool passed = gate_judge(r, &in, rep);
	long id = 0;
	/* --dry-run: the same decision, and nothing locked or written */
	int st = r->a->dry_run ? EXIT_OK : gate_record(r, &in, passed, report_status(rep), &id);
	if (st == EXIT_OK) {
		gate_print(r, rep, passed, id);
		st = passed ? EXIT_OK : EXIT_CRITICAL;
	}
	report_free(rep);
	cJSON_Delete(in.reports);
	cJSON_Delete(in.problems);
	return st;
}

/* ---- apply ---- */

/* What the driver would do (--dry-run): nothing recorded. */
static int apply_plan(const struct run *r, const struct driver_ctx *ctx, long id)
{
	char *what = driver_describe(ctx, false);
	char *problem = driver_config_problem(r->config);
	cJSON *doc = journal_record_apply_plan(id, ctx->release, driver_name(r->config), problem ? problem : what);
	emit(r, doc, problem ? problem : what);
	cJSON_Delete(doc);
	if (problem)
		error_msg("%s", problem);
	int st = problem ? EXIT_CRITICAL : EXIT_OK;
	free(what);
	free(problem);
	return st;
}

/* Records the apply start under the guard h holds, then lets go of it
 * (the driver may run for minutes: status must stay readable), runs the
 * driver and records the apply end. */
static int apply_run(const struct run *r, const struct driver_ctx *ctx, long id, struct journal_hold *held)
{
	cJSON *start = journal_record_apply_start(ctx->release, driver_name(r->config));
	int st = run_append(r, id, start);
	cJSON_Delete(start);
	drop(held);
	if (st != EXIT_OK)
		return st;
	struct driver_outcome res;
	int rc = driver_deploy(ctx, &res);
	struct journal_hold h;
	cJSON *end = journal_record_apply_end(ctx->release, rc == 0, res.message, res.data);
	res.data = NULL;
	if ((st = take(r, &h)) == EXIT_OK) {
		if (journal_append(&r->j, id, end) < 0) {
			int saved = errno;
			char *where = journal_where(&r->j, id);
			error_msg("the driver %s, but the journal %s could not record it: %s",
				  rc == 0 ? "succeeded" : "failed", where, journal_error(&r->j, saved));
			free(where);
			st = EXIT_UNKNOWN;
		}
		drop(&h);
	}
	if (st == EXIT_OK) {
		char *text = easprintf("deploy %ld: apply %s: %s", id, rc == 0 ? "ok" : "FAILED", res.message);
		emit(r, end, text);
		free(text);
		if (rc != 0)
			error_msg("apply failed: %s", res.message);
		st = rc == 0 ? EXIT_OK : EXIT_CRITICAL;
	}
	cJSON_Delete(end);
	driver_outcome_free(&res);
	return st;
}

int cmd_apply(struct run *r)
{
	struct journal_hold h;
	int st = take(r, &h);
	if (st != EXIT_OK)
		return st;
	const struct deployment *open;
	if ((st = own_open_deployment(&h, &open, false)) != EXIT_OK) {
		drop(&h);
		return st;
	}
	long id = open->id;
	/* our own copies: the view goes before the driver runs */
	char *release = estrdup(open->release ? open->release : "");
	char *previous = open->previous ? estrdup(open->previous) : NULL;
	const struct deployment *good = journal_last_good(&h.view, NULL);
	char *keep = good && good->release ? estrdup(good->release) : NULL;
	const char *c = json_path_string(open->begin, "commit", NULL), *i = json_path_string(open->begin, "image", NULL);
	char *commit = c ? estrdup(c) : NULL, *image = i ? estrdup(i) : NULL;
	int64_t triggers[4 * DRIVER_RENDER_TRIGGERS_PER_MINUTE];
	size_t n_triggers = driver_recent_triggers(&h.view, now_epoch_ms(), triggers, ARRAY_LEN(triggers));
	struct driver_ctx ctx = {.config = r->config, .service = r->j.service, .release = release,
				 .previous = previous, .keep_release = keep, .timeout_ms = time_left_ms(r->a),
				 .commit = commit, .image = image, .recent_triggers = triggers,
				 .n_recent_triggers = n_triggers};
	if (r->a->dry_run) {
		drop(&h);
		st = apply_plan(r, &ctx, id);
	} else {
		st = apply_run(r, &ctx, id, &h); /* lets go of h */
	}
	free(release);
	free(previous);
	free(keep);
	free(commit);
	free(image);
	return st;
}

/* ---- finish ---- */

int cmd_finish(struct run *r)
{
	const struct args *a = r->a;
	struct journal_hold h;
	int st = take(r, &h);
	if (st != EXIT_OK)
		return st;
	const struct deployment *open;
	if ((st = own_open_deployment(&h, &open, true)) != EXIT_OK) {
		drop(&h);
		return st;
	}
	bool interrupted = deployment_ownership(&h.li, open->id) == OWN_NONE;
	if (interrupted && strcmp(a->result, "ok") == 0 && !a->force) {
		error_msg("deploy %ld (%s) was interrupted: finish it as failed, or as ok with --force", open->id,
			  open->release ? open->release : "?");
		drop(&h);
		return EXIT_CRITICAL;
	}
	/* "ok" makes it the last known-good release, the one rollback returns to */
	if (!interrupted && strcmp(a->result, "ok") == 0 && !open->applied && !a->force) {
		error_msg("deploy %ld (%s) has no successful apply: finish it as failed, or as ok with --force", open->id,
			  open->release ? open->release : "?");
		drop(&h);
		return EXIT_CRITICAL;
	}
	cJSON *rec = journal_record_finish(strcmp(a->result, "ok") == 0, open->release ? open->release : "",
					   a->message, interrupted ? "interrupted" : NULL);
	st = run_append(r, open->id, rec);
	if (st == EXIT_OK && h.li.present && (h.li.ours || h.li.stale || h.li.deploy == open->id) &&
	    journal_lock_drop(&r->j, &h.li) < 0) {
		int saved = errno;
		char *where = journal_where(&r->j, 0);
		error_msg("recorded, but unable to release the lock of %s (%s): %s", r->j.service, where,
			  journal_error(&r->j, saved));
		free(where);
		st = EXIT_UNKNOWN;
	}
	if (st == EXIT_OK) {
		char *text = easprintf("deploy %ld: %s finished %s; lock released", open->id,
				       open->release ? open->release : "?", a->result);
		emit(r, rec, text);
		free(text);
	}
	cJSON_Delete(rec);
	drop(&h);
	return st;
}
