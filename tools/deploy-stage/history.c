/* history.c — deploy-stage status and history: the journal read back. */
#include "deploy-stage.h"
#include "shipshape/driver.h"
#include "shipshape/json.h"
#include "shipshape/term.h"
#include "shipshape/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

void warn_damage(const struct journal_view *view)
{
	if (view->headerless)
		warnx_("%s%s: no begin record: not a deploy (ignored)", view->headerless_path,
		       view->headerless > 1 ? " and others" : "");
	for (size_t i = 0; i < view->n; i++) {
		const struct deployment *d = &view->v[i];
		if (d->truncated)
			warnx_("%s: the last record was cut short (a crash while writing); ignored", d->path);
		if (d->bad_lines)
			warnx_("%s: %u unreadable line%s skipped", d->path, d->bad_lines, d->bad_lines == 1 ? "" : "s");
		if (d->skipped)
			warnx_("%s: over %u MiB: %u report record%s skipped", d->path, JOURNAL_FILE_MAX >> 20, d->skipped,
			       d->skipped == 1 ? "" : "s");
	}
}

static const char *deployment_state(const struct deployment *d, const struct lock_info *li)
{
	if (d->result)
		return d->result;
	return li && deployment_ownership(li, d->id) != OWN_NONE ? "in_progress" : "interrupted";
}

char *rollback_outcome(const struct journal_view *view, const struct deployment *d,
			      const struct lock_info *li)
{
	const char *to = json_path_string(d->finish, "rollback_to", NULL);
	long by = (long)json_path_number(d->finish, "rollback_deploy", 0);
	char old[JOURNAL_RELEASE_MAX + 1];
	if (!to && sscanf(json_path_string(d->finish, "reason", ""), "rolled back to %200s by deploy %ld", old,
			  &by) == 2)
		to = old; /* written before the rollback's outcome was kept apart */
	if (!to || by <= 0)
		return NULL;
	const struct deployment *rb = NULL;
	for (size_t i = 0; i < view->n; i++)
		if (view->v[i].id == by)
			rb = &view->v[i];
	const char *state = rb ? deployment_state(rb, li) : NULL;
	if (state && strcmp(state, "ok") == 0)
		return easprintf("rolled back to %s by deploy %ld", to, by);
	if (state && strcmp(state, "in_progress") == 0)
		return easprintf("rollback to %s in progress (deploy %ld)", to, by);
	if (state && strcmp(state, "interrupted") == 0)
		return easprintf("rollback to %s interrupted (deploy %ld)", to, by);
	return easprintf("rollback to %s failed (deploy %ld)", to, by);
}

/* The stages a deploy went through (gates, apply and health steps), the
 * last one reached, and the first that failed. */
static void add_stages(cJSON *o, const struct deployment *d)
{
	cJSON *stages = cJSON_AddArrayToObject(o, "stages");
	const cJSON *r;
	const char *last_stage = NULL, *failed = NULL;
	cJSON_ArrayForEach(r, d->records)
	{
		const char *type = json_path_string(r, "type", "");
		const char *stage = NULL, *result = NULL;
		if (strcmp(type, "gate") == 0) {
			stage = json_path_string(r, "stage", "?");
			result = json_path_bool(r, "passed", false) ? "passed" : "failed";
		} else if (strcmp(type, "apply") == 0 || strcmp(type, "health") == 0) {
			if (strcmp(json_path_string(r, "phase", "end"), "start") == 0) {
				last_stage = "application";
				continue;
			}
			stage = json_path_string(r, "stage", "application");
			result = json_path_string(r, "status", "failed");
		} else {
			continue;
		}
		cJSON *s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "stage", stage);
		cJSON_AddStringToObject(s, "step", type);
		cJSON_AddStringToObject(s, "result", result);
		if (strcmp(type, "gate") == 0)
			cJSON_AddStringToObject(s, "status", json_path_string(r, "status", "unknown"));
		cJSON_AddItemToArray(stages, s);
		last_stage = stage;
		if (!failed && strcmp(result, "failed") == 0)
			failed = stage;
	}
	if (last_stage)
		cJSON_AddStringToObject(o, "last_stage", last_stage);
	if (failed)
		cJSON_AddStringToObject(o, "failed_stage", failed);
}

/* The bake's verdict (metric-check's report of stage bake that ends its
 * rounds): its status, message, rounds and critical rounds. */
static void add_bake(cJSON *o, const struct deployment *d)
{
	const cJSON *r, *verdict = NULL;
	long rounds = 0;
	cJSON_ArrayForEach(r, d->records)
	{
		if (strcmp(json_path_string(r, "type", ""), "report") != 0 ||
		    strcmp(json_path_string(r, "stage", ""), "bake") != 0)
			continue;
		const cJSON *rep = cJSON_GetObjectItemCaseSensitive(r, "report");
		if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rep, "round")))
			rounds++;
		else if (json_path_bool(rep, "verdict", false))
			verdict = rep;
	}
	if (!verdict && !rounds)
		return;
	cJSON *b = cJSON_AddObjectToObject(o, "bake");
	cJSON_AddStringToObject(b, "status", json_path_string(verdict, "status", "unknown"));
	const cJSON *check = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(verdict, "checks"), 0);
	cJSON_AddStringToObject(b, "message", json_path_string(check, "message", verdict ? "" : "no verdict"));
	cJSON_AddNumberToObject(b, "rounds", (double)rounds);
	cJSON_AddNumberToObject(b, "failures", json_path_number(check, "data.failures", 0));
}

/* who: the CI's actor when the begin record has one, else user@host. */
static void add_who(cJSON *o, const cJSON *begin)
{
	const char *actor = json_path_string(begin, "actor", NULL);
	if (actor) {
		char *who = easprintf("%s (%s)", actor, json_path_string(begin, "ci", "ci"));
		cJSON_AddStringToObject(o, "who", who);
		free(who);
	} else {
		cJSON_AddStringToObject(o, "who", json_path_string(begin, "user", ""));
	}
}

/* duration_ms: from begin to finish, when both times read. */
static void add_duration(cJSON *o, const struct deployment *d)
{
	int64_t from, to;
	if (rfc3339_parse(json_path_string(d->begin, "time", ""), &from) == 0 &&
	    rfc3339_parse(json_path_string(d->finish, "time", ""), &to) == 0 && to >= from)
		cJSON_AddNumberToObject(o, "duration_ms", (double)(to - from));
}

cJSON *deployment_summary(const struct journal_view *view, const struct deployment *d, const struct lock_info *li)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", "journal");
	cJSON_AddStringToObject(o, "type", "deployment");
	cJSON_AddNumberToObject(o, "deploy", (double)d->id);
	cJSON_AddStringToObject(o, "action", d->action ? d->action : "deploy");
	if (d->release)
		cJSON_AddStringToObject(o, "release", d->release);
	else
		cJSON_AddNullToObject(o, "release");
	if (d->previous)
		cJSON_AddStringToObject(o, "previous", d->previous);
	else
		cJSON_AddNullToObject(o, "previous");
	cJSON_AddStringToObject(o, "result", deployment_state(d, li));
	const struct deployment *live = journal_live_deployment(view);
	if (d == live)
		cJSON_AddStringToObject(o, "mark", "live");
	else if (d->applied && live && d->id < live->id)
		cJSON_AddStringToObject(o, "mark", "superseded");
	else
		cJSON_AddNullToObject(o, "mark");
	if (d->begin) {
		cJSON_AddStringToObject(o, "started_at", json_path_string(d->begin, "time", ""));
		cJSON_AddStringToObject(o, "user", json_path_string(d->begin, "user", ""));
		add_who(o, d->begin);
		const char *m = json_path_string(d->begin, "message", NULL);
		if (m)
			cJSON_AddStringToObject(o, "message", m);
	}
	if (d->finish) {
		cJSON_AddStringToObject(o, "finished_at", json_path_string(d->finish, "time", ""));
		add_duration(o, d);
		char *rolled = rollback_outcome(view, d, li);
		const char *m = json_path_string(d->finish, "message", json_path_string(d->finish, "reason", NULL));
		if (rolled || m)
			cJSON_AddStringToObject(o, "finish_message", rolled ? rolled : m);
		free(rolled);
	}
	add_stages(o, d);
	add_bake(o, d);
	if (d->result && strcmp(d->result, "failed") == 0) {
		const char *failed = json_path_string(o, "failed_stage", NULL);
		if (!failed)
			cJSON_AddStringToObject(o, "failed_stage", json_path_string(o, "last_stage", "none"));
	}
	const cJSON *apply = deployment_last_record(d, "apply");
	if (apply) {
		cJSON_AddStringToObject(o, "apply", strcmp(json_path_string(apply, "phase", ""), "start") == 0
							    ? "started"
							    : json_path_string(apply, "status", "failed"));
		const char *rid = json_path_string(apply, "data.render_deploy_id", NULL);
		if (rid)
			cJSON_AddStringToObject(o, "render_deploy_id", rid);
	}
	cJSON_AddStringToObject(o, "config_digest", json_path_string(d->begin, "config_digest", ""));
	cJSON_AddBoolToObject(o, "truncated", d->truncated);
	return o;
}

static char *stages_text(const cJSON *summary)
{
	struct buf b = {0};
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(summary, "stages"))
	{
		const char *res = json_path_string(s, "result", "");
		bool good = strcmp(res, "passed") == 0 || strcmp(res, "ok") == 0;
		const char *stage = json_path_string(s, "stage", "?");
		const char *step = json_path_string(s, "step", "gate");
		buf_printf(&b, "%s%s%s%s", b.len ? " " : "", stage,
			   strcmp(step, "gate") == 0 ? "" : strcmp(step, "apply") == 0 ? "/apply" : "/health",
			   good ? "+" : "!");
	}
	return b.data ? buf_take(&b) : estrdup("-");
}

/* The cells of one history row, in column order (new strings). */
enum { COL_REVISION, COL_STARTED, COL_ACTION, COL_RELEASE, COL_PREVIOUS, COL_RESULT, COL_MARK, COL_WHO,
       COL_DURATION, COL_STAGES, COL_DESCRIPTION, NCOLS };
static const char *const col_names[NCOLS] = {"REVISION", "STARTED (UTC)", "ACTION", "RELEASE", "PREVIOUS", "RESULT",
					     "LIVE",	 "BY",	      "TOOK",	"STAGES",  "DESCRIPTION"};

/* "850ms", "42s", "3m07s", "2h05m"; "-" when not known. */
static char *duration_text(const cJSON *s)
{
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(s, "duration_ms");
	if (!cJSON_IsNumber(ms))
		return estrdup("-");
	long long v = (long long)ms->valuedouble, sec = v / 1000;
	if (v < 1000)
		return easprintf("%lldms", v);
	if (sec < 60)
		return easprintf("%llds", sec);
	if (sec < 3600)
		return easprintf("%lldm%02llds", sec / 60, sec % 60);
	return easprintf("%lldh%02lldm", sec / 3600, sec / 60 % 60);
}

static void row_cells(const cJSON *s, char *cells[NCOLS])
{
	char started[20] = "-";
	const char *t = json_path_string(s, "started_at", "");
	if (strlen(t) >= 19) {
		memcpy(started, t, 19);
		started[10] = ' ';
		started[19] = '\0';
	}
	cells[COL_REVISION] = easprintf("%.0f", json_path_number(s, "deploy", 0));
	cells[COL_STARTED] = estrdup(started);
	cells[COL_ACTION] = estrdup(json_path_string(s, "action", "deploy"));
	cells[COL_RELEASE] = estrdup(json_path_string(s, "release", "-"));
	cells[COL_PREVIOUS] = estrdup(json_path_string(s, "previous", "-"));
	cells[COL_RESULT] = estrdup(json_path_string(s, "result", "?"));
	const char *failed = json_path_string(s, "failed_stage", NULL);
	if (failed && strcmp(failed, "none") != 0 && strcmp(cells[COL_RESULT], "failed") == 0) {
		free(cells[COL_RESULT]);
		cells[COL_RESULT] = easprintf("failed (%s)", failed);
	}
	cells[COL_MARK] = estrdup(json_path_string(s, "mark", "-"));
	cells[COL_WHO] = estrdup(json_path_string(s, "who", "-"));
	cells[COL_DURATION] = duration_text(s);
	cells[COL_STAGES] = stages_text(s);
	/* why it was started, then how it ended when that says more */
	const char *why = json_path_string(s, "message", NULL);
	const char *end = json_path_string(s, "finish_message", NULL);
	if (why && end && strcmp(why, end) != 0)
		cells[COL_DESCRIPTION] = easprintf("%s; %s", why, end);
	else
		cells[COL_DESCRIPTION] = estrdup(why ? why : end ? end : "");
}

/* How the table is drawn: on a terminal, cut to its width, coloured
 * unless NO_COLOR, ASCII unless the locale is UTF-8; else as it is. */
struct table_style {
	bool tty, colour, utf8;
	size_t width;
};

/* Columns a cell takes: its characters (UTF-8 continuation bytes take none). */
static size_t columns(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The cell as the terminal gets it (a new string): each non-ASCII
 * character a '?' unless utf8, cut to max columns with "..." when longer. */
static char *cell_shown(const char *s, const struct table_style *ts, size_t max)
{
	struct buf b = {0};
	buf_puts(&b, "");
	size_t cols = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool start = (*p & 0xc0) != 0x80;
		if (!ts->utf8 && *p >= 0x80) {
			if (start)
				buf_putc(&b, '?');
		} else {
			buf_putc(&b, (char)*p);
		}
		cols += start;
	}
	if (ts->tty && cols > max) {
		size_t keep = max > 3 ? max - 3 : 0, seen = 0, at = 0;
		while (at < b.len && (seen < keep || ((unsigned char)b.data[at] & 0xc0) == 0x80))
			seen += ((unsigned char)b.data[at++] & 0xc0) != 0x80;
		b.len = at;
		buf_puts(&b, max > 3 ? "..." : "");
	}
	return buf_take(&b);
}

static const char *result_colour(const char *result)
{
	return strncmp(result, "ok", 2) == 0		? "\033[32m"
	       : strncmp(result, "failed", 6) == 0	? "\033[31m"
	       : strcmp(result, "interrupted") == 0	? "\033[33m"
							: "\033[36m";
}

static void print_cell(const char *cell, size_t width, int col, bool last, const struct table_style *ts)
{
	const char *on = !ts->colour ? NULL : col == COL_RESULT ? result_colour(cell)
					 : col == COL_MARK && strcmp(cell, "live") == 0 ? "\033[1m" : NULL;
	printf("%s%s%s", on ? on : "", cell, on ? "\033[0m" : "");
	if (!last)
		printf("%*s  ", (int)(width - columns(cell)), "");
	else
		putchar('\n');
}

/* On a terminal, which columns fit its width: the least needed go first
 * (previous, took, by, stages, started, action) until the rest leave a
 * description DESCRIPTION_MIN columns; returns the columns the description
 * may take (what is left, however little). Elsewhere every column, the description whole. */
#define DESCRIPTION_MIN 16
static size_t fit_columns(const size_t width[NCOLS], bool shown[NCOLS], const struct table_style *ts)
{
	static const int drop_order[] = {COL_PREVIOUS, COL_DURATION, COL_WHO, COL_STAGES, COL_STARTED, COL_ACTION};
	for (int c = 0; c < NCOLS; c++)
		shown[c] = true;
	if (!ts->tty)
		return SIZE_MAX;
	size_t used = 0;
	for (int c = 0; c < NCOLS - 1; c++)
		used += width[c] + 2;
	for (size_t k = 0; k < ARRAY_LEN(drop_order) && used + DESCRIPTION_MIN > ts->width; k++) {
		shown[drop_order[k]] = false;
		used -= width[drop_order[k]] + 2;
	}
	return ts->width > used + 4 ? ts->width - used - 1 : 3; /* at the least, "..." */
}

/* The table, its columns as wide as their widest cell; on a terminal the
 * last column (the description) takes what is left of its width. */
static void print_table(cJSON *rows, const struct table_style *ts)
{
	int n = cJSON_GetArraySize(rows);
	char *(*cells)[NCOLS] = ecalloc((size_t)n + 1, sizeof *cells);
	size_t width[NCOLS];
	for (int c = 0; c < NCOLS; c++)
		width[c] = strlen(col_names[c]);
	for (int i = 0; i < n; i++) {
		row_cells(cJSON_GetArrayItem(rows, i), cells[i]);
		for (int c = 0; c < NCOLS; c++) {
			char *shown = cell_shown(cells[i][c], ts, SIZE_MAX);
			free(cells[i][c]);
			cells[i][c] = shown;
			if (columns(shown) > width[c])
				width[c] = columns(shown);
		}
	}
	bool shown[NCOLS];
	size_t last = fit_columns(width, shown, ts);
	char *heading = cell_shown(col_names[NCOLS - 1], ts, last);
	for (int c = 0; c < NCOLS; c++)
		if (shown[c])
			print_cell(c == NCOLS - 1 ? heading : col_names[c], width[c], -1, c == NCOLS - 1, ts);
	free(heading);
	for (int i = 0; i < n; i++) {
		for (int c = 0; c < NCOLS; c++) {
			char *cut = c == NCOLS - 1 ? cell_shown(cells[i][c], ts, last) : NULL;
			if (shown[c])
				print_cell(cut ? cut : cells[i][c], width[c], c, c == NCOLS - 1, ts);
			free(cut);
			free(cells[i][c]);
		}
	}
	free(cells);
}

int cmd_history(struct run *r)
{
	if (r->fmt == FORMAT_HTML)
		return cmd_history_html(r); /* report_cmd.c */
	struct journal_hold h;
	int st = run_hold(r, &h, false);
	if (st != EXIT_OK)
		return st;
	warn_damage(&h.view);
	size_t first = h.view.n > (size_t)r->a->limit ? h.view.n - (size_t)r->a->limit : 0;
	cJSON *rows = cJSON_CreateArray();
	for (size_t i = first; i < h.view.n; i++) {
		cJSON *s = deployment_summary(&h.view, &h.view.v[i], &h.li);
		cJSON_AddStringToObject(s, "service", r->j.service);
		if (r->fmt == FORMAT_TEXT)
			cJSON_AddItemToArray(rows, s);
		else {
			json_print_line(stdout, s);
			cJSON_Delete(s);
		}
	}
	if (r->fmt == FORMAT_TEXT) {
		struct table_style ts = {.tty = term_is_tty(STDOUT_FILENO), .colour = term_colour(STDOUT_FILENO),
					 .utf8 = !term_is_tty(STDOUT_FILENO) || term_utf8(),
					 .width = (size_t)term_width(STDOUT_FILENO)};
		print_table(rows, &ts);
	}
	cJSON_Delete(rows);
	journal_unhold(&h);
	return EXIT_OK;
}

/* What status knows, gathered once for its document and its text. */
struct status_facts {
	const struct journal_view *view;
	const struct lock_info *li;
	const struct deployment *open, *good;
	const char *state, *current;
	char *live, *seen; /* the driver's view of what is live (owned) */
	enum status live_status;
	bool mismatch;
};

static cJSON *status_doc(const struct run *r, const struct status_facts *f)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "journal");
	cJSON_AddStringToObject(doc, "type", "status");
	cJSON_AddStringToObject(doc, "service", r->j.service);
	cJSON_AddStringToObject(doc, "state", f->state);
	cJSON_AddItemToObject(doc, "deploy",
			      f->open ? deployment_summary(f->view, f->open, f->li) : cJSON_CreateNull());
	cJSON_AddItemToObject(doc, "lock", lock_info_json(f->li));
	if (f->current)
		cJSON_AddStringToObject(doc, "current_release", f->current);
	else
		cJSON_AddNullToObject(doc, "current_release");
	if (f->good && f->good->release)
		cJSON_AddStringToObject(doc, "last_good_release", f->good->release);
	else
		cJSON_AddNullToObject(doc, "last_good_release");
	cJSON_AddNumberToObject(doc, "deployments", (double)f->view->n);
	/* the release in service is the journal's word; where the driver can
	 * see what is live (the symlink), it is compared */
	cJSON_AddStringToObject(doc, "current_release_source", "journal");
	cJSON *lv = cJSON_AddObjectToObject(doc, "live");
	cJSON_AddBoolToObject(lv, "checked", f->live_status == STATUS_OK);
	if (f->live)
		cJSON_AddStringToObject(lv, "release", f->live);
	else
		cJSON_AddNullToObject(lv, "release");
	if (f->live_status == STATUS_OK)
		cJSON_AddBoolToObject(lv, "matches", !f->mismatch);
	cJSON_AddStringToObject(lv, "message", f->seen);
	return doc;
}

static void status_text(const struct run *r, const struct status_facts *f, const cJSON *doc, struct buf *t)
{
	const struct deployment *open = f->open;
	buf_printf(t, "service %s: %s", r->j.service, f->state);
	if (open) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "deploy");
		buf_printf(t, " %s deploy %ld %s (replacing %s), started %s by %s, last stage %s", text_dash(), open->id,
			   open->release ? open->release : "?", open->previous ? open->previous : "nothing",
			   json_path_string(s, "started_at", "?"), json_path_string(s, "user", "?"),
			   json_path_string(s, "last_stage", "none"));
	}
	if (f->li->present) {
		char *who = lock_holder_describe(f->li);
		buf_printf(t, "\nlock: %s%s", f->li->stale ? "stale, was held by " : "held by ", who);
		free(who);
	} else {
		buf_puts(t, "\nlock: free");
	}
	buf_printf(t, "\ncurrent release: %s (from the journal; %s); last good: %s", f->current ? f->current : "none",
		   f->live_status != STATUS_OK ? f->seen
		   : f->mismatch	       ? "but the live target differs"
					       : "the live target agrees",
		   f->good && f->good->release ? f->good->release : "none");
	if (f->mismatch)
		buf_printf(t, "\nlive: %s, not %s (changed outside deploy-stage?)", f->seen,
			   f->current ? f->current : "none");
	if (open && strcmp(f->state, "interrupted") == 0)
		buf_puts(t, "\nresolve with: deploy-stage finish --result failed, or rollback");
}

int cmd_status(struct run *r)
{
	struct journal_hold h;
	int st = run_hold(r, &h, false);
	if (st != EXIT_OK)
		return st;
	warn_damage(&h.view);
	struct status_facts f = {.view = &h.view, .li = &h.li};
	f.open = journal_open_deployment(&h.view);
	f.state = f.open ? deployment_state(f.open, &h.li) : "idle";
	f.current = journal_current_release(&h.view);
	f.good = journal_last_good(&h.view, NULL);
	f.live_status = r->config ? driver_live_release(r->config, &h.view, &f.live, &f.seen) : STATUS_UNKNOWN;
	if (!r->config)
		f.seen = estrdup("not checked against the live target (no config: give -c)");
	f.mismatch = f.live_status == STATUS_OK && (!f.current || strcmp(f.current, f.live) != 0);
	cJSON *doc = status_doc(r, &f);
	struct buf t = {0};
	status_text(r, &f, doc, &t);
	emit(r, doc, t.data);
	buf_free(&t);
	if (f.mismatch)
		warnx_("the journal's release %s is not what is live: %s", f.current ? f.current : "(none)", f.seen);
	else if (r->config && f.live_status != STATUS_OK)
		warnx_("%s", f.seen); /* not checked is not ok: say so */
	st = strcmp(f.state, "interrupted") == 0 || f.mismatch ? EXIT_WARNING : EXIT_OK;
	free(f.live);
	free(f.seen);
	cJSON_Delete(doc);
	journal_unhold(&h);
	return st;
}
