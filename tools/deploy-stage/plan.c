/* plan.c — deploy-stage plan: what a deploy of --release would do, from
 * the journal and the config, changing nothing: the release and the one
 * it replaces, the config's difference from the last successful deploy's
 * snapshot, the migration the release expects against the one applied, and
 * the driver's actions. */
#include "deploy-stage.h"
#include "shipshape/driver.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/report.h"
#include "shipshape/snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the plan could not see: each a warning on stderr and in the plan. */
static void unseen(cJSON *plan, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unseen(cJSON *plan, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = redact_vformat(fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(cJSON_GetObjectItem(plan, "not_seen"), cJSON_CreateString(m));
	free(m);
}

/* ---- the config's difference ---- */

static const cJSON *config_record(const struct deployment *d)
{
	return d ? deployment_last_record(d, "config") : NULL;
}

static void plan_config(const struct run *r, const struct journal_view *view, cJSON *plan)
{
	const struct deployment *good = journal_last_good(view, NULL);
	const cJSON *before = config_record(good);
	cJSON *c = cJSON_AddObjectToObject(plan, "config");
	if (good) {
		cJSON_AddNumberToObject(c, "compared_with_deploy", (double)good->id);
		cJSON_AddStringToObject(c, "compared_with_release", good->release ? good->release : "");
	}
	if (!good || !cJSON_IsObject(json_path(before, "values"))) {
		cJSON_AddNullToObject(c, "diff");
		if (!good)
			cJSON_AddStringToObject(c, "message", "no earlier successful deploy: nothing to compare with");
		else
			unseen(plan, "config: deploy %ld (%s) kept no config snapshot%s: not compared", good->id,
			       good->release ? good->release : "?",
			       json_path_bool(before, "truncated", false) ? " (it was too large)" : "");
		return;
	}
	struct snapshot_key key;
	char *error = NULL;
	bool have_key = snapshot_key_read(&r->j, &key, &error) == 0;
	if (!have_key) {
		unseen(plan, "config: secrets not compared: %s", error);
		free(error);
		memset(&key, 0, sizeof key); /* the hashes then match nothing */
	}
	cJSON *now = snapshot_build(r->cfg.tree, &key);
	cJSON *diff = snapshot_diff(json_path(before, "values"), json_path_string(before, "key_id", NULL), now,
				    have_key ? key.id : NULL);
	if (have_key && !json_path_bool(diff, "comparable", false))
		unseen(plan, "config: secrets not compared: deploy %ld's snapshot was made with another key", good->id);
	cJSON_AddItemToObject(c, "diff", diff);
	cJSON_Delete(now);
	explicit_bzero(&key, sizeof key);
}

/* ---- the migration ---- */

/* The db.migrations check of a report, or NULL. */
static const cJSON *migrations_check(const cJSON *report)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "checks"))
	{
		if (strcmp(json_path_string(c, "name", ""), "db.migrations") == 0)
			return c;
	}
	return NULL;
}

/* The newest db.migrations check the journal holds, and its deploy. */
static const cJSON *journal_migrations(const struct journal_view *view, long *deploy, const char **time)
{
	for (size_t i = view->n; i-- > 0;) {
		const cJSON *rec, *found = NULL, *check = NULL;
		cJSON_ArrayForEach(rec, view->v[i].records)
		{
			const cJSON *c = strcmp(json_path_string(rec, "type", ""), "report") == 0
						 ? migrations_check(json_path(rec, "report"))
						 : NULL;
			if (json_path_string(c, "data.latest", NULL)) {
				found = rec;
				check = c;
			}
		}
		if (found) {
			*deploy = view->v[i].id;
			*time = json_path_string(found, "time", "?");
			return check;
		}
	}
	return NULL;
}

static void migration_from(cJSON *m, const cJSON *check, const char *expected, bool fresh)
{
	const char *latest = json_path_string(check, "data.latest", NULL);
	bool same_expectation = strcmp(json_path_string(check, "data.expected", ""), expected) == 0;
	if (latest)
		cJSON_AddStringToObject(m, "applied", latest);
	else
		cJSON_AddNullToObject(m, "applied");
	bool applied = same_expectation ? json_path_bool(check, "data.applied", false)
					: latest && strcmp(latest, expected) == 0;
	const char *state = applied ? "applied" : fresh || same_expectation ? "pending" : "unknown";
	cJSON_AddStringToObject(m, "state", state);
}

static void plan_migration(const struct run *r, const struct journal_view *view, const cJSON *reports,
			   cJSON *plan)
{
	const char *expected = json_path_string(r->config, "database.migrations.version", NULL);
	cJSON *m = cJSON_AddObjectToObject(plan, "migration");
	if (!expected) {
		cJSON_AddNullToObject(m, "expected");
		cJSON_AddStringToObject(m, "state", "none");
		cJSON_AddStringToObject(m, "message", "the release expects no migration (no database.migrations.version)");
		return;
	}
	cJSON_AddStringToObject(m, "expected", expected);
	const cJSON *check = NULL, *rep;
	cJSON_ArrayForEach(rep, reports) if (!check) check = migrations_check(rep);
	long deploy = 0;
	const char *when = NULL;
	if (check && json_path_string(check, "data.latest", NULL)) {
		cJSON_AddStringToObject(m, "source", "the reports given");
		migration_from(m, check, expected, true);
	} else if ((check = journal_migrations(view, &deploy, &when))) {
		char *src = easprintf("deploy %ld's db-check at %s", deploy, when);
		cJSON_AddStringToObject(m, "source", src);
		free(src);
		migration_from(m, check, expected, false);
	} else {
		cJSON_AddNullToObject(m, "applied");
		cJSON_AddStringToObject(m, "state", "unknown");
		unseen(plan, "migration: whether %s is applied is not known (no db-check migrations report given "
			     "or in the journal)", expected);
		return;
	}
	if (strcmp(json_path_string(m, "state", ""), "unknown") == 0)
		unseen(plan, "migration: whether %s is applied is not known (%s saw %s)", expected,
		       json_path_string(m, "source", "?"), json_path_string(m, "applied", "nothing"));
}

/* ---- the rest: the reports given, the driver, the lock ---- */

/* The reports of FILE ("-": stdin), JSON Lines; a line that is not a
 * report is invalid input (65), named by file and line. */
static int read_reports(const char *file, cJSON **out)
{
	*out = cJSON_CreateArray();
	if (!file)
		return EXIT_OK;
	bool std_in = strcmp(file, "-") == 0;
	FILE *f = std_in ? stdin : fopen(file, "r");
	if (!f) {
		error_msg("unable to read %s: %s", file, strerror(errno));
		return EXIT_DATAERR;
	}
	struct jsonl_reader rd;
	jsonl_reader_init(&rd, f, std_in ? "stdin" : file, JSONL_MAX_LINE_DEFAULT);
	cJSON *doc;
	int rc, st = EXIT_OK;
	while (st == EXIT_OK && (rc = jsonl_next(&rd, &doc)) != 0) {
		enum status ignored;
		if (rc < 0) {
			error_msg("%s", rd.error);
			st = EXIT_DATAERR;
		} else if (report_doc_status(doc, &ignored) < 0) {
			error_msg("%s:%lu: not a report", rd.name, rd.lineno);
			cJSON_Delete(doc);
			st = EXIT_DATAERR;
		} else {
			cJSON_AddItemToArray(*out, doc);
		}
	}
	jsonl_reader_free(&rd);
	if (!std_in)
		fclose(f);
	return st;
}

static void plan_driver(const struct run *r, const char *previous, cJSON *plan)
{
	cJSON *d = cJSON_AddObjectToObject(plan, "driver");
	const char *name = driver_name(r->config);
	cJSON_AddStringToObject(d, "name", name ? name : "none");
	char *problem = driver_config_problem(r->config);
	if (problem) {
		cJSON_AddStringToObject(d, "actions", "");
		unseen(plan, "driver: %s", problem);
		free(problem);
		return;
	}
	struct driver_ctx ctx = {.config = r->config, .service = r->j.service, .release = r->a->release,
				 .previous = previous};
	char *what = driver_describe(&ctx, false);
	cJSON_AddStringToObject(d, "actions", what);
	free(what);
}

static void plan_lock(const struct journal_hold *h, cJSON *plan)
{
	const struct deployment *open = journal_open_deployment(&h->view);
	if (open)
		cJSON_AddNumberToObject(plan, "open_deploy", (double)open->id);
	if (h->li.present && !h->li.stale) {
		char *who = lock_holder_describe(&h->li);
		cJSON_AddStringToObject(plan, "lock", who);
		free(who);
	} else {
		cJSON_AddNullToObject(plan, "lock");
	}
}

/* ---- output ---- */

static void text_values(struct buf *t, const cJSON *list, char sign, const char *k1, const char *k2)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *key = json_path_string(e, "key", "?");
		if (json_path_bool(e, "secret", false)) {
			buf_printf(t, "\n  %c %s: (secret)", sign, key);
			continue;
		}
		char *v1 = ejson_print(cJSON_GetObjectItemCaseSensitive(e, k1));
		char *v2 = k2 ? ejson_print(cJSON_GetObjectItemCaseSensitive(e, k2)) : NULL;
		buf_printf(t, "\n  %c %s: %s%s%s", sign, key, v1, v2 ? " -> " : "", v2 ? v2 : "");
		free(v1);
		free(v2);
	}
}

static void text_config(struct buf *t, const cJSON *c)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "diff");
	if (!cJSON_IsObject(d)) {
		buf_printf(t, "\nconfig: %s", json_path_string(c, "message", "not compared (see below)"));
		return;
	}
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(d, "secrets_changed");
	buf_printf(t, "\nconfig: against deploy %.0f (%s): %d changed, %d added, %d removed; secrets: ",
		   json_path_number(c, "compared_with_deploy", 0), json_path_string(c, "compared_with_release", "?"),
		   cJSON_GetArraySize(cJSON_GetObjectItem(d, "changed")),
		   cJSON_GetArraySize(cJSON_GetObjectItem(d, "added")),
		   cJSON_GetArraySize(cJSON_GetObjectItem(d, "removed")));
	if (json_path_bool(d, "comparable", false))
		buf_printf(t, "%d changed, %.0f unchanged", cJSON_GetArraySize(sc),
			   json_path_number(d, "secrets_unchanged", 0));
	else
		buf_puts(t, "not compared");
	text_values(t, cJSON_GetObjectItem(d, "changed"), '~', "from", "to");
	text_values(t, cJSON_GetObjectItem(d, "added"), '+', "value", NULL);
	text_values(t, cJSON_GetObjectItem(d, "removed"), '-', "value", NULL);
	const cJSON *k;
	cJSON_ArrayForEach(k, sc) buf_printf(t, "\n  ~ %s: (secret) changed", k->valuestring);
}

static char *plan_text(const cJSON *plan)
{
	struct buf t = {0};
	const char *replaces = json_path_string(plan, "replaces", NULL);
	buf_printf(&t, "plan: deploy %s to %s, replacing %s", json_path_string(plan, "release", "?"),
		   json_path_string(plan, "service", "?"), replaces ? replaces : "nothing");
	if (json_path_string(plan, "lock", NULL))
		buf_printf(&t, "\nlock: held by %s: a deploy now would wait or be refused (75)",
			   json_path_string(plan, "lock", "?"));
	text_config(&t, cJSON_GetObjectItemCaseSensitive(plan, "config"));
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(plan, "migration");
	if (json_path_string(m, "expected", NULL))
		buf_printf(&t, "\nmigration: expects %s: %s (applied: %s; from %s)", json_path_string(m, "expected", ""),
			   json_path_string(m, "state", "?"), json_path_string(m, "applied", "not known"),
			   json_path_string(m, "source", "nothing"));
	else
		buf_printf(&t, "\nmigration: %s", json_path_string(m, "message", "none"));
	buf_printf(&t, "\ndriver: %s: %s", json_path_string(plan, "driver.name", "none"),
		   json_path_string(plan, "driver.actions", ""));
	const cJSON *n;
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(plan, "not_seen"))
		buf_printf(&t, "\nnot seen: %s", n->valuestring);
	char *shown = redact_string(t.data);
	buf_free(&t);
	return shown;
}

int cmd_plan(struct run *r)
{
	const struct args *a = r->a;
	if (!journal_release_name_valid(a->release)) {
		char *shown = journal_text_quote(a->release);
		error_msg("invalid release \"%s\" (a plain name such as v2 or 2026-11-28.1)", shown);
		free(shown);
		return EXIT_USAGE;
	}
	cJSON *reports;
	int st = read_reports(a->operand, &reports);
	struct journal_hold h;
	if (st != EXIT_OK || (st = run_hold(r, &h, false)) != EXIT_OK) {
		cJSON_Delete(reports);
		return st;
	}
	warn_damage(&h.view);
	cJSON *plan = cJSON_CreateObject();
	cJSON_AddStringToObject(plan, "kind", "journal");
	cJSON_AddStringToObject(plan, "type", "plan");
	cJSON_AddStringToObject(plan, "service", r->j.service);
	cJSON_AddStringToObject(plan, "release", a->release);
	const char *previous = journal_current_release(&h.view);
	if (previous)
		cJSON_AddStringToObject(plan, "replaces", previous);
	else
		cJSON_AddNullToObject(plan, "replaces");
	cJSON_AddArrayToObject(plan, "not_seen");
	plan_lock(&h, plan);
	plan_config(r, &h.view, plan);
	plan_migration(r, &h.view, reports, plan);
	plan_driver(r, previous, plan);
	char *text = plan_text(plan);
	emit(r, plan, text);
	const cJSON *n;
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(plan, "not_seen")) warnx_("%s", n->valuestring);
	free(text);
	cJSON_Delete(plan);
	cJSON_Delete(reports);
	journal_unhold(&h);
	return EXIT_OK;
}
