/* state_cmd.c — deploy-stage state init|check|import: the deploy state in
 * PostgreSQL made, checked, and filled from a state directory's files. */
#include "deploy-stage.h"
#include "shipshape/json.h"
#include "shipshape/report.h"
#include "shipshape/state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state database of the config (or --state-url-env), its tables'
 * version unchecked; NULL after a message with *st the exit status. */
static struct state_pg *state_open(const struct run *r, int *st)
{
	const char *url = r->a->std.state_url ? r->a->std.state_url : json_path_string(r->config, "state.url", NULL);
	bool postgres = r->a->std.state_url || strcmp(json_path_string(r->config, "state.backend", "file"), "postgres") == 0;
	if (!postgres || !url || !*url) {
		error_msg("state %s: no state database: set state.backend: postgres and state.url in the config, or "
			  "give --state-url-env NAME", r->a->operand);
		*st = EXIT_USAGE;
		return NULL;
	}
	char *error = NULL;
	struct state_pg *s = state_pg_open(url, json_path_string(r->config, "state.schema", "shipshape"), false, NULL,
						&error);
	if (!s) {
		*st = errno == EINVAL ? EXIT_DATAERR : errno == ENOTCONN ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
		error_msg("%s", error);
		free(error);
	}
	return s;
}

static int state_init(const struct run *r, struct state_pg *s)
{
	int from = 0;
	if (state_pg_init(s, r->a->grant, &from) < 0) {
		error_msg("state init: %s", state_pg_error(s));
		return errno == ENOTCONN ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
	}
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "state");
	cJSON_AddStringToObject(doc, "type", "init");
	cJSON_AddStringToObject(doc, "where", state_pg_where(s));
	cJSON_AddNumberToObject(doc, "from_version", from);
	cJSON_AddNumberToObject(doc, "version", STATE_PG_VERSION);
	if (r->a->grant)
		cJSON_AddStringToObject(doc, "granted_to", r->a->grant);
	char *text = from == STATE_PG_VERSION ? easprintf("%s: already at version %d", state_pg_where(s), from)
		     : from ? easprintf("%s: migrated from version %d to %d", state_pg_where(s), from, STATE_PG_VERSION)
			    : easprintf("%s: created, version %d", state_pg_where(s), STATE_PG_VERSION);
	if (r->a->grant) {
		char *more = easprintf("%s; %s may read and append", text, r->a->grant);
		free(text);
		text = more;
	}
	emit(r, doc, text);
	free(text);
	cJSON_Delete(doc);
	return EXIT_OK;
}

static int state_check(const struct run *r, struct state_pg *s)
{
	struct report *rep = report_new("deploy-stage");
	state_pg_check(s, r->j.service, rep);
	report_set_summary(rep, "state database %s: %s", state_pg_where(s),
			   report_status(rep) == STATUS_OK ? "usable" : "not usable as it is");
	report_print(rep, r->fmt, stdout);
	enum status st = report_status(rep);
	report_free(rep);
	return st == STATUS_OK ? EXIT_OK : st == STATUS_WARNING ? EXIT_WARNING : st == STATUS_CRITICAL ? EXIT_CRITICAL
													   : EXIT_UNKNOWN;
}

/* Every deployment of the state directory's file journal into the state
 * database, under both guards; a deployment already there is skipped. */
static int state_import(const struct run *r, struct state_pg *s)
{
	struct journal file = {.dir = r->j.dir, .service = r->j.service}; /* borrowed */
	struct journal held = {.dir = r->j.dir, .service = r->j.service, .pg = s};
	struct journal_hold fh, ph;
	char *error = NULL;
	if (journal_hold(&file, &fh, true, &error) < 0) {
		error_msg("state import: %s", error);
		free(error);
		return EXIT_UNKNOWN;
	}
	if (journal_hold(&held, &ph, true, &error) < 0) {
		error_msg("state import: %s", error);
		free(error);
		journal_unhold(&fh);
		return errno == ENOTCONN ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
	}
	int added = 0, deploys = 0, st = EXIT_OK;
	size_t total = fh.view.n;
	for (size_t i = 0; i < total && st == EXIT_OK; i++) {
		int n = 0;
		if (state_pg_import(s, r->j.service, fh.view.v[i].id, fh.view.v[i].records, &n) < 0) {
			error_msg("state import: %s", state_pg_error(s));
			st = errno == EEXIST ? EXIT_CRITICAL : errno == ENOTCONN ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
		}
		added += n;
		deploys += n > 0;
	}
	journal_unhold(&ph);
	journal_unhold(&fh);
	if (st != EXIT_OK)
		return st;
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "state");
	cJSON_AddStringToObject(doc, "type", "import");
	cJSON_AddStringToObject(doc, "service", r->j.service);
	cJSON_AddStringToObject(doc, "from", r->j.dir);
	cJSON_AddStringToObject(doc, "where", state_pg_where(s));
	cJSON_AddNumberToObject(doc, "deploys", (double)total);
	cJSON_AddNumberToObject(doc, "deploys_imported", deploys);
	cJSON_AddNumberToObject(doc, "records_imported", added);
	char *text = easprintf("%s: %d of %zu deploys imported from %s (%d records); the rest were already there",
			       r->j.service, deploys, total, r->j.dir, added);
	emit(r, doc, text);
	free(text);
	cJSON_Delete(doc);
	return EXIT_OK;
}

int cmd_state(struct run *r)
{
	int st = EXIT_OK;
	struct state_pg *s = state_open(r, &st);
	if (!s)
		return st;
	if (strcmp(r->a->operand, "init") == 0)
		st = state_init(r, s);
	else if (strcmp(r->a->operand, "check") == 0)
		st = state_check(r, s);
	else
		st = state_import(r, s);
	state_pg_close(s);
	return st;
}
