/* alert.c — deploy-stage alert: the DeployFailed alerts a closed deploy
 * makes, from the journal, for alert-send: a failed deploy fires one, a good
 * deploy resolves those of the deploys that failed since the previous good
 * one. A composing script pipes them on and builds no alert of its own. */
#include "deploy-stage.h"
#include "shipshape/event.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* When d was closed (its finish record's time), else now. */
static int64_t finished_at_ms(const struct deployment *d)
{
	int64_t ms;
	if (rfc3339_parse(json_path_string(d->finish, "time", ""), &ms) == 0)
		return ms;
	return now_epoch_ms();
}

/* The labels of d's DeployFailed alert: the same when it fires and when it
 * is resolved, so that alert-send (and Alertmanager) match the two. */
static cJSON *failure_labels(const struct run *r, const char *service, const char *release, long id)
{
	char deploy[24] = "";
	if (id > 0)
		snprintf(deploy, sizeof deploy, "%ld", id);
	const char *environment = r->config ? json_path_string(r->config, "environment", NULL) : NULL;
	return labels_new("alertname", "DeployFailed", "severity", "critical", "service", service, "environment",
			  environment, "release", release ? release : "?", "deploy", deploy, NULL);
}

/* Where d failed, from its records (a new string): the last gate that
 * failed or the driver's failure, whichever came last; else how it was
 * closed. */
static char *failure_cause(const struct deployment *d)
{
	const cJSON *rec, *cause = NULL;
	cJSON_ArrayForEach(rec, d->records)
	{
		const char *type = json_path_string(rec, "type", "");
		if (strcmp(type, "gate") == 0 && !json_path_bool(rec, "passed", true))
			cause = rec;
		else if (strcmp(type, "apply") == 0 && strcmp(json_path_string(rec, "phase", ""), "end") == 0 &&
			 strcmp(json_path_string(rec, "status", ""), "ok") != 0)
			cause = rec;
	}
	if (cause && strcmp(json_path_string(cause, "type", ""), "gate") == 0) {
		const char *stage = json_path_string(cause, "stage", "?");
		return easprintf("at %s (the %s gate failed)", stage, stage);
	}
	if (cause)
		return easprintf("at application (the deploy driver failed: %s)", json_path_string(cause, "message", "?"));
	return easprintf("(closed as failed: %s)",
			 json_path_string(d->finish, "message", json_path_string(d->finish, "reason", "no reason given")));
}

/* The firing alert of failed deployment d: where it failed, then what
 * became of the release (rolled back, left in place, perhaps partly
 * switched by a driver that failed, never applied). */
static cJSON *failure_alert(const struct run *r, const struct journal_hold *h, const struct deployment *d)
{
	char *cause = failure_cause(d);
	char *rolled = rollback_outcome(&h->view, d, &h->li);
	const char *release = d->release ? d->release : "?";
	char *outcome = rolled			       ? estrdup(rolled)
			: d->applied		       ? easprintf("%s left in place (not rolled back)", release)
			: deployment_last_record(d, "apply") ? easprintf("%s may be partly in place (not rolled back)", release)
						       : estrdup("nothing was deployed");
	cJSON *annotations = cJSON_CreateObject();
	char *summary = easprintf("deploy of %s to %s failed %s; %s", release, r->j.service, cause, outcome);
	cJSON_AddStringToObject(annotations, "summary", summary);
	cJSON *doc = alert_event_new(ALERT_FIRING, failure_labels(r, r->j.service, d->release, d->id), annotations, finished_at_ms(d), 0, NULL);
	free(summary);
	free(outcome);
	free(rolled);
	free(cause);
	return doc;
}

static bool is_deploy(const struct deployment *d)
{
	return !d->action || strcmp(d->action, "deploy") == 0;
}

/* Prints the resolved alerts of the deploys before good deployment
 * v[at] that did not finish ok, back to the previous good deploy. */
static void print_resolved(const struct run *r, const struct journal_view *view, size_t at)
{
	size_t first = at;
	while (first > 0 && !(is_deploy(&view->v[first - 1]) && view->v[first - 1].result &&
			      strcmp(view->v[first - 1].result, "ok") == 0))
		first--;
	int64_t ends = finished_at_ms(&view->v[at]);
	for (size_t i = first; i < at; i++) {
		const struct deployment *d = &view->v[i];
		if (!is_deploy(d))
			continue;
		cJSON *doc = alert_event_new(ALERT_RESOLVED, failure_labels(r, r->j.service, d->release, d->id), NULL,
					     d->finish ? finished_at_ms(d) : ends, ends, NULL);
		json_print_line(stdout, doc);
		cJSON_Delete(doc);
	}
}

/* The deployment the operand names (default: the last deploy), or NULL
 * after a message. */
static const struct deployment *alert_subject(const struct run *r, const struct journal_view *view, size_t *at)
{
	long want = r->a->deploy;
	for (size_t i = view->n; i-- > 0;) {
		const struct deployment *d = &view->v[i];
		if (want ? d->id == want : is_deploy(d)) {
			*at = i;
			return d;
		}
	}
	char *where = journal_where(&r->j, 0);
	if (want)
		error_msg("alert: no deploy %ld in the journal %s", want, where);
	else
		error_msg("alert: no deploy in the journal %s", where);
	free(where);
	return NULL;
}

int cmd_alert(struct run *r)
{
	struct journal_hold h;
	int st = run_hold(r, &h, false);
	if (st != EXIT_OK)
		return st;
	warn_damage(&h.view);
	size_t at = 0;
	const struct deployment *d = alert_subject(r, &h.view, &at);
	if (!d) {
		st = EXIT_CRITICAL;
	} else if (!is_deploy(d) || !d->result) {
		error_msg("alert: deploy %ld is %s: only a closed deploy alerts", d->id,
			  !is_deploy(d) ? "a rollback" : "not finished");
		st = EXIT_CRITICAL;
	} else if (strcmp(d->result, "ok") == 0) {
		print_resolved(r, &h.view, at);
	} else {
		cJSON *doc = failure_alert(r, &h, d);
		json_print_line(stdout, doc);
		cJSON_Delete(doc);
	}
	journal_unhold(&h);
	return st;
}

int cmd_alert_dry_run(struct run *r, const char *service)
{
	if (!r->a->release)
		die(EXIT_USAGE, "alert --dry-run: --release ID is required");
	cJSON *annotations = cJSON_CreateObject();
	char *summary = easprintf("a failed deploy of %s to %s alerts here (a dry run of the alert channels: nothing "
				  "is sent)", r->a->release, service);
	cJSON_AddStringToObject(annotations, "summary", summary);
	cJSON *doc = alert_event_new(ALERT_FIRING, failure_labels(r, service, r->a->release, 0), annotations,
				     now_epoch_ms(), 0, NULL);
	json_print_line(stdout, doc);
	cJSON_Delete(doc);
	free(summary);
	return EXIT_OK;
}
