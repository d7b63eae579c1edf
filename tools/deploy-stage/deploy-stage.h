/* deploy-stage.h — shared state of the deploy-stage subcommands. */
#ifndef DEPLOY_STAGE_H
#define DEPLOY_STAGE_H

#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/journal.h"
#include "shipshape/lock.h"
#include "shipshape/opts.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

struct args {
	struct std_opts std;
	const char *command;  /* lock, begin, gate, apply, finish, status, history, e2e, alert */
	const char *operand;  /* lock: acquire|release|status; gate: STAGE; state: init|check|import */
	const char *service;
	const char *schema;   /* --schema */
	const char *message;
	const char *release;
	const char *commit;   /* begin --commit SHA */
	const char *image;    /* begin --image REF */
	const char *result;
	const char *url;      /* e2e: base of relative step URLs */
	const char *output;   /* -o: report, history --format html */
	const char *grant;    /* state init --grant ROLE */
	char **operands;      /* report: its words after the command */
	int n_operands;
	int64_t wait_ms;
	int64_t deadline_ms;  /* monotonic: -t bounds the whole command; 0: no bound */
	long limit;
	long deploy;          /* alert: DEPLOY; 0: the last deploy */
	bool force, strict, dry_run;
	bool wait_given;
	bool last;            /* report --last */
};

struct run {
	const struct args *a;
	enum output_format fmt; /* resolved */
	struct config cfg;      /* loaded when a command needs it (-c, begin, apply, e2e) */
	cJSON *config;          /* cfg.doc (borrowed), else NULL */
	struct journal j;
};

/* Whether an open deployment belongs to the caller, to a live other holder,
 * or to no one (interrupted). */
enum ownership { OWN_OURS, OWN_OTHER, OWN_NONE };
enum ownership deployment_ownership(const struct lock_info *li, long id);

/* What is left of -t for a step that waits (a driver, e2e): 0 without -t
 * (the step's own default), else at least 1 ms. */
int64_t time_left_ms(const struct args *a);
/* When a lock wait of --wait ends, on the monotonic clock: -t cuts it short. */
int64_t lock_wait_deadline(const struct args *a);

/* run.c: each returns EXIT_OK, or an exit status after one line on stderr. */
/* Opens the service's journal (and state directory, and state database)
 * into r->j: 75 when the state database cannot be reached. */
int run_open_journal(struct run *r, const char *service);
/* journal_hold() of r's journal (the guard taken when guard). */
int run_hold(const struct run *r, struct journal_hold *h, bool guard);
/* journal_append() of records to deployment id. */
int run_append(const struct run *r, long id, cJSON *records);
/* After a journal_lock_* call failed: "unable to WHAT the lock of SERVICE
 * (WHERE): reason"; 75 when the lock was taken meanwhile or the state
 * database is unreachable. */
int run_lock_failed(const struct run *r, const char *what);
/* Prints a document as one JSON line (json) or with text (text). */
void emit(const struct run *r, const cJSON *doc, const char *text);

/* A deployment of view summarised for status and history (new object). */
cJSON *deployment_summary(const struct journal_view *view, const struct deployment *d, const struct lock_info *li);
/* How a deploy closed by a rollback ended, from the rollback's own
 * deployment (a new string), or NULL when d was not closed by one. */
char *rollback_outcome(const struct journal_view *view, const struct deployment *d, const struct lock_info *li);
/* Warns once about tolerated journal damage. */
void warn_damage(const struct journal_view *view);

int cmd_lock(struct run *r);
int cmd_begin(struct run *r);
int cmd_gate(struct run *r);
int cmd_apply(struct run *r);
int cmd_finish(struct run *r);
int cmd_status(struct run *r);
int cmd_history(struct run *r);
/* What a deploy of --release would do (plan.c). */
int cmd_plan(struct run *r);
/* The DeployFailed alerts of a closed deploy, for alert-send (alert.c). */
int cmd_alert(struct run *r);
/* alert --dry-run: the alert a failed deploy of --release would fire, for
 * checking the alert channels; no journal read (alert.c). */
int cmd_alert_dry_run(struct run *r, const char *service);
/* The end-to-end pipeline check (deploy.e2e): a report; exits with its status. */
int cmd_e2e(struct run *r);
/* report_cmd.c: report [DEPLOY | --last], the deploy report. Whether the
 * report's operands choose it: none, --last, or one that is all digits. */
bool report_is_deploy_form(const struct args *a);
/* --format, else html for -o *.html, json for another -o FILE, else
 * format_resolve()'s. */
enum output_format run_format(const struct args *a);
int cmd_deploy_report(struct run *r);
/* history --format html. */
int cmd_history_html(struct run *r);
/* state init|check|import: the state database (state_cmd.c). */
int cmd_state(struct run *r);
/* The stages in order and what each runs (stages.c). */
int cmd_stages(struct run *r);
/* A report of one check, or the reports on stdin merged into one; exits
 * with its status (stages.c). */
int cmd_report(struct run *r);

#endif
