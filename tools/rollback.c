/* rollback — return a service to its last known-good release (or a named
 * one) through the deploy driver, record it in the journal, then verify
 * health with the shared HTTP engine. */
#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/driver.h"
#include "shipshape/files.h"
#include "shipshape/http.h"
#include "shipshape/journal.h"
#include "shipshape/json.h"
#include "shipshape/lock.h"
#include "shipshape/opts.h"
#include "shipshape/redact.h"
#include "shipshape/snapshot.h"
#include "shipshape/report.h"
#include "shipshape/term.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEALTH_TIMEOUT_DEFAULT_MS 60000
#define HEALTH_INTERVAL_DEFAULT_MS 1000

enum {
	OPT_SERVICE = OPT_TOOL_BASE,
	OPT_SCHEMA,
	OPT_TO,
	OPT_DRY_RUN,
	OPT_CHECK,
	OPT_URL,
	OPT_HEALTH_TIMEOUT,
	OPT_INTERVAL,
	OPT_NO_VERIFY,
};

struct args {
	struct std_opts std;
	const char *service, *to, *url, *message, *schema;
	int64_t health_timeout_ms, interval_ms;
	int64_t deadline_ms; /* monotonic: -t bounds the whole command; 0: no bound */
	const struct cfg_node *config_tree; /* the config as loaded, for its journal snapshot */
	bool dry_run, check, no_verify;
};

/* --to TARGET: "revision:N", "release:NAME", or bare N or NAME (see
 * resolve_to()). */
static const char REVISION_PREFIX[] = "revision:", RELEASE_PREFIX[] = "release:";

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 9;
}

static void check_to(const char *to)
{
	if (strncmp(to, REVISION_PREFIX, strlen(REVISION_PREFIX)) == 0) {
		if (!all_digits(to + strlen(REVISION_PREFIX)) || atol(to + strlen(REVISION_PREFIX)) <= 0)
			die(EXIT_USAGE, "invalid --to \"%s\" (revision:N, N a deploy number)", to);
		return;
	}
	const char *name = strncmp(to, RELEASE_PREFIX, strlen(RELEASE_PREFIX)) == 0 ? to + strlen(RELEASE_PREFIX) : to;
	if (!journal_release_name_valid(name)) {
		char *shown = journal_text_quote(name);
		die(EXIT_USAGE, "invalid --to \"%s\" (a plain release name such as v2 or 2026-11-28.1, or a revision)",
		    shown);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rollback [-c FILE] [--schema FILE] [--service NAME] [--to TARGET] [--dry-run | --check]\n"
		"                [--url URL] [--health-timeout DUR] [--interval DUR] [--no-verify]\n"
		"                [-m MESSAGE] [-t DUR] [--state-dir DIR] [--state-url-env NAME]\n"
		"                [--format json|text|nagios] [-q] [-v]\n"
		"       rollback -h | -V\n"
		"\n"
		"Rolls the service back to the last release that finished ok before the\n"
		"current one (or --to TARGET) through the configured deploy driver, records\n"
		"it in the deploy journal, then probes health until healthy.\n"
		"\n"
		"  -c, --config FILE       the config (YAML or a JSON config document; default stdin)\n"
		"      --schema FILE       the config schema (default: beside rollback)\n"
		"      --service NAME      the service (default: the config's service.name)\n"
		"      --to TARGET         roll back to this release, or revision (deploy number):\n"
		"                          NAME, N, release:NAME or revision:N\n"
		"      --dry-run           say what would happen; change nothing\n"
		"      --check             check that a rollback is possible; print a report\n"
		"      --url URL           the health URL (default api.base_url + api.health_path,\n"
		"                          else monitoring.health_check.endpoints[0].url)\n"
		"      --health-timeout DUR  how long to wait for health (default 60s)\n"
		"      --interval DUR      between health probes (default 1s)\n"
		"      --no-verify         skip the health verification\n"
		"  -m, --message TEXT      why, recorded in the journal\n"
		"  -t, --timeout DUR       bound the whole command, driver and health wait\n"
		"                          included (the driver: default deploy.timeout)\n"
		"      --state-dir DIR     where the journal and the lock live (state.backend file)\n"
		"      --state-url-env NAME  the journal and the lock in PostgreSQL, at the URL in\n"
		"                          the environment variable NAME\n"
		"      --format FMT        json (default when piped), text, nagios (--check)\n"
		"  -q, --quiet             no warnings\n"
		"  -v, --verbose           more detail on stderr\n"
		"  -h, --help              this help\n"
		"  -V, --version           the version\n"
		"\n"
		"Exit: 0 rolled back and healthy (--check: possible), 1 --check: possible,\n"
		"with a warning, 2 failed or unhealthy or no known-good release, 3 internal\n"
		"error, 64 usage, 65 invalid config, 75 another deploy holds the lock or the state\n"
		"database cannot be reached.\n");
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		STD_LONG_OPTS,
		STD_TIMEOUT_OPT,
		STD_STATE_DIR_OPT,
		STD_STATE_URL_ENV_OPT,
		{"service", required_argument, NULL, OPT_SERVICE},
		{"schema", required_argument, NULL, OPT_SCHEMA},
		{"to", required_argument, NULL, OPT_TO},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"check", no_argument, NULL, OPT_CHECK},
		{"url", required_argument, NULL, OPT_URL},
		{"health-timeout", required_argument, NULL, OPT_HEALTH_TIMEOUT},
		{"interval", required_argument, NULL, OPT_INTERVAL},
		{"no-verify", no_argument, NULL, OPT_NO_VERIFY},
		{"message", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	a->health_timeout_ms = HEALTH_TIMEOUT_DEFAULT_MS;
	a->interval_ms = HEALTH_INTERVAL_DEFAULT_MS;
	a->std.usage = usage;
	a->std.formats = "json,text,nagios";
	int c;
	while ((c = std_getopt(&a->std, argc, argv, "t:m:", longopts)) != -1) {
		switch (c) {
		case OPT_EXIT: exit(a->std.exit_status);
		case OPT_SERVICE: a->service = optarg; break;
		case OPT_SCHEMA: a->schema = optarg; break;
		case OPT_TO: a->to = optarg; break;
		case OPT_DRY_RUN: a->dry_run = true; break;
		case OPT_CHECK: a->check = true; break;
		case OPT_URL: a->url = optarg; break;
		case OPT_HEALTH_TIMEOUT: opt_exit(opt_duration("--health-timeout", optarg, 1, &a->health_timeout_ms)); break;
		case OPT_INTERVAL: opt_exit(opt_duration("--interval", optarg, 1, &a->interval_ms)); break;
		case OPT_NO_VERIFY: a->no_verify = true; break;
		case 'm': a->message = optarg; break;
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument \"%s\"", argv[optind]);
	if (a->to)
		check_to(a->to);
	if (a->message)
		a->message = journal_text_clean(a->message, true); /* lives until exit */
	if (a->dry_run && a->check)
		die(EXIT_USAGE, "--dry-run and --check exclude each other");
	if (a->std.format == FORMAT_NAGIOS && !a->check)
		die(EXIT_USAGE, "--format nagios goes with --check");
}

/* What is left of -t for the driver: 0 without -t (deploy.timeout), else
 * at least 1 ms. */
static int64_t time_left_ms(const struct args *a)
{
	if (!a->deadline_ms)
		return 0;
	int64_t left = a->deadline_ms - now_monotonic_ms();
	return left > 0 ? left : 1;
}

/* The health URL: --url, api.base_url + api.health_path, else the first
 * monitoring endpoint. NULL when none is configured. New string. */
static char *health_url(const struct args *a, const cJSON *config)
{
	if (a->url)
		return estrdup(a->url);
	const char *base = json_path_string(config, "api.base_url", NULL);
	if (base && *base) {
		char *url = url_join_path(base, json_path_string(config, "api.health_path", "/health"));
		if (!url)
			warnx_("api.base_url with api.health_path is not a URL");
		return url;
	}
	const char *ep = json_path_string(config, "monitoring.health_check.endpoints[0].url", NULL);
	return ep && *ep ? estrdup(ep) : NULL;
}

/* ---- health verification ---- */

struct health_state {
	struct http_result *last;
};

static void on_probe(struct http_engine *e, const struct http_probe *p, struct http_result *r, void *tag,
		     void *user)
{
	(void)e, (void)p, (void)user;
	struct health_state *hs = tag;
	http_result_free(hs->last);
	hs->last = r;
}

/* The health probe of url: each bounded by monitoring.health_check.timeout. */
static void health_probe(const cJSON *config, const char *url, struct http_probe *p)
{
	int64_t probe_timeout = json_path_duration_ms(config, "monitoring.health_check.timeout", 5000);
	if (probe_timeout <= 0)
		probe_timeout = 5000;
	http_probe_init(p);
	p->name = estrdup("health");
	p->url = estrdup(url);
	p->timeout_ms = probe_timeout;
	p->connect_timeout_ms = probe_timeout < 5000 ? probe_timeout : 5000;
	p->fresh_connect = true;
}

static struct http_engine *health_engine(const struct args *a)
{
	struct http_engine *e = http_engine_new(&(struct http_engine_opts){.parallel = 1, .on_done = on_probe,
									  .verbose = a->std.verbose > 1});
	if (!e)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	return e;
}

/* One probe of url now, for --check: its status, and what it answered
 * in *said (a new string). */
static enum status probe_health_once(const struct args *a, const cJSON *config, const char *url, char **said)
{
	struct http_probe p;
	health_probe(config, url, &p);
	if (a->deadline_ms) { /* -t bounds the whole command, this probe too */
		int64_t left = time_left_ms(a);
		if (p.timeout_ms > left)
			p.timeout_ms = left;
		if (p.connect_timeout_ms > left)
			p.connect_timeout_ms = left;
	}
	struct http_engine *e = health_engine(a);
	struct health_state hs = {0};
	http_engine_add(e, &p, &hs);
	http_engine_run_until(e, a->deadline_ms ? a->deadline_ms : -1);
	enum status st = hs.last ? hs.last->status : STATUS_UNKNOWN;
	char *raw = hs.last ? http_result_describe(hs.last) : estrdup("no result");
	*said = redact_string(raw);
	free(raw);
	http_result_free(hs.last);
	http_engine_free(e);
	http_probe_free(&p);
	return st;
}

/* Where the health wait is, for its progress line. */
struct health_wait {
	const char *shown; /* the URL, redacted */
	int attempts, streak, needed;
	int64_t bound_ms;
};

/* Until `until`, or until the probe in flight is done when there is one:
 * the engine works (or, nothing in flight, the wait between probes
 * sleeps) in slices, and the progress line is redrawn after each. */
static void health_wait(struct http_engine *e, int64_t until, const struct health_wait *hw)
{
	bool probing = http_engine_pending(e) > 0;
	char t[32];
	for (int64_t now; (now = now_monotonic_ms()) < until && (!probing || http_engine_pending(e));) {
		int64_t slice = until - now < 2 * PROGRESS_INTERVAL_MS ? until : now + 2 * PROGRESS_INTERVAL_MS;
		if (probing)
			http_engine_run_until(e, slice);
		else
			sleep_ms(slice - now);
		progress_show(hw->attempts > 1 && !hw->streak ? STATUS_WARNING : STATUS_OK,
			      "health of %s: probe %d, %d/%d healthy in a row (at most %s)", hw->shown, hw->attempts,
			      hw->streak, hw->needed, duration_format(hw->bound_ms, t, sizeof t));
	}
}

/* Probes url until `needed` consecutive healthy answers or the deadline.
 * Returns a health record (new) with status ok or failed. On a terminal
 * (not -q, not -v) a progress line says how far the wait got. */
static cJSON *verify_health(const struct args *a, const cJSON *config, const char *url)
{
	int needed = (int)json_path_number(config, "monitoring.health_check.success_threshold", 1);
	if (needed < 1)
		needed = 1;
	struct http_probe p;
	health_probe(config, url, &p);
	struct http_engine *e = health_engine(a);
	struct health_state hs = {0};
	int64_t start = now_monotonic_ms(), deadline = start + a->health_timeout_ms;
	if (a->deadline_ms && a->deadline_ms < deadline)
		deadline = a->deadline_ms; /* -t: the whole command */
	char *shown = redact_url(url);
	struct health_wait hw = {.shown = shown, .needed = needed, .bound_ms = deadline - start};
	bool healthy = false;
	char *last = NULL;
	progress_start(a->std.quiet || a->std.verbose);
	while (now_monotonic_ms() < deadline) {
		hw.attempts++;
		http_engine_add(e, &p, &hs);
		health_wait(e, deadline, &hw);
		free(last);
		last = hs.last ? http_result_describe(hs.last) : estrdup("no result");
		if (hs.last && hs.last->status == STATUS_OK) {
			if (++hw.streak >= needed) {
				healthy = true;
				break;
			}
		} else {
			hw.streak = 0;
			verbose("health: %s", last);
		}
		int64_t left = deadline - now_monotonic_ms();
		health_wait(e, now_monotonic_ms() + (a->interval_ms < left ? a->interval_ms : left), &hw);
	}
	progress_end();
	int attempts = hw.attempts;
	char t[32];
	char *msg = healthy ? easprintf("%s healthy after %d probe%s: %s", shown, attempts, attempts == 1 ? "" : "s",
					last)
			    : easprintf("%s not healthy within %s: %s", shown,
					duration_format(a->health_timeout_ms, t, sizeof t), last ? last : "no probe ran");
	cJSON *rec = journal_record_health(healthy, url, attempts, needed, now_monotonic_ms() - start, msg);
	free(msg);
	free(shown);
	free(last);
	http_result_free(hs.last);
	http_engine_free(e);
	http_probe_free(&p);
	return rec;
}

/* ---- the rollback ---- */

struct plan {
	const char *current;               /* the release in service (borrowed from the view) */
	const char *target;                /* the release to return to */
	const struct deployment *target_d; /* the deployment that made target good, if any */
	const cJSON *target_apply;
	const struct deployment *open;     /* an unfinished deployment to close */
};

static const struct deployment *deployment_of_release(const struct journal_view *view, const char *release)
{
	for (size_t i = view->n; i-- > 0;)
		if (view->v[i].release && strcmp(view->v[i].release, release) == 0)
			return &view->v[i];
	return NULL;
}

static const struct deployment *deployment_numbered(const struct journal_view *view, long id)
{
	for (size_t i = 0; i < view->n; i++)
		if (view->v[i].id == id)
			return &view->v[i];
	return NULL;
}

/* --to: "revision:N" is deploy N's release; "release:NAME" is NAME; a bare
 * number is the revision when the journal has it and no release of that
 * name (both: ambiguous, a usage error); anything else is a release. */
static int resolve_to(const char *to, const struct journal_view *view, struct plan *pl)
{
	bool by_revision = strncmp(to, REVISION_PREFIX, strlen(REVISION_PREFIX)) == 0;
	bool by_release = strncmp(to, RELEASE_PREFIX, strlen(RELEASE_PREFIX)) == 0;
	const char *word = by_revision ? to + strlen(REVISION_PREFIX) : by_release ? to + strlen(RELEASE_PREFIX) : to;
	const struct deployment *rev = !by_release && all_digits(word) ? deployment_numbered(view, atol(word)) : NULL;
	const struct deployment *rel = by_revision ? NULL : deployment_of_release(view, word);
	if (rev && rel && strcmp(rev->release ? rev->release : "", word) != 0) {
		error_msg("--to %s is ambiguous: revision %s (release %s) and release %s; say --to %s%s or --to %s%s",
			  to, word, rev->release ? rev->release : "none", word, REVISION_PREFIX, word, RELEASE_PREFIX,
			  word);
		return EXIT_USAGE;
	}
	if (by_revision && !rev) {
		error_msg("no revision %s in the journal (see deploy-stage history)", word);
		return EXIT_CRITICAL;
	}
	if (rev && !rel) {
		if (!rev->release) {
			error_msg("revision %ld has no release", rev->id);
			return EXIT_CRITICAL;
		}
		if (!rev->applied)
			warnx_("revision %ld (release %s) never went live", rev->id, rev->release);
		pl->target = rev->release;
		pl->target_d = rev;
		return EXIT_OK;
	}
	pl->target = word;
	pl->target_d = rel;
	if (!rel)
		warnx_("release %s is not in the journal: it was never deployed here", word);
	return EXIT_OK;
}

/* Picks the target; returns 0, or an exit status after a message. */
static int plan_rollback(const struct args *a, const struct journal_view *view, struct plan *pl)
{
	memset(pl, 0, sizeof *pl);
	pl->open = journal_open_deployment(view);
	/* rolling back an unfinished deploy: from its release, whether or not
	 * its apply completed (a driver may fail half-way) */
	pl->current = pl->open && pl->open->release ? pl->open->release : journal_current_release(view);
	if (a->to) {
		int st = resolve_to(a->to, view, pl);
		if (st != EXIT_OK)
			return st;
	} else {
		pl->target_d = journal_last_good(view, pl->current);
		if (!pl->target_d) {
			error_msg("no known-good release to roll back to (no deploy other than %s finished ok)",
				  pl->current ? pl->current : "the current one");
			return EXIT_CRITICAL;
		}
		pl->target = pl->target_d->release;
	}
	pl->target_apply = journal_release_apply(view, pl->target);
	return EXIT_OK;
}

/* rollback.live: the journal's current release against what the driver
 * sees live. A rollback planned from a journal that does not match reality
 * is wrong (critical); a driver that cannot tell is not checked (warning). */
static void check_live(const cJSON *config, const struct journal_view *view, const char *current,
		       struct report *r)
{
	char *live = NULL, *seen = NULL;
	if (driver_live_release(config, view, &live, &seen) != STATUS_OK)
		report_add_check(r, "rollback.live", STATUS_WARNING, 0, NULL, "%s", seen);
	else if (current && strcmp(current, live) == 0)
		report_add_check(r, "rollback.live", STATUS_OK, 0, NULL, "%s, as the journal says", seen);
	else
		report_add_check(r, "rollback.live", STATUS_CRITICAL, 0, NULL, "%s, but the journal says %s", seen,
				 current ? current : "nothing is in service");
	free(live);
	free(seen);
}

/* rollback.health: verified means probed, one probe now, as the
 * rollback's verification would. */
static void check_health(const struct args *a, const cJSON *config, struct report *r)
{
	char *url = health_url(a, config);
	if (url) {
		char *shown = redact_url(url), *said = NULL;
		int64_t t1 = now_monotonic_ms();
		enum status hst = probe_health_once(a, config, url, &said);
		if (hst == STATUS_OK)
			report_add_check(r, "rollback.health", STATUS_OK, now_monotonic_ms() - t1, NULL,
					 "health verified at %s: %s", shown, said);
		else
			report_add_check(r, "rollback.health", STATUS_CRITICAL, now_monotonic_ms() - t1, NULL,
					 "health not verified: the probe of %s failed: %s", shown, said);
		free(said);
		free(shown);
	} else if (a->no_verify) {
		report_add_check(r, "rollback.health", STATUS_WARNING, 0, NULL, "health is not verified (--no-verify)");
	} else {
		report_add_check(r, "rollback.health", STATUS_CRITICAL, 0, NULL,
				 "health not verified: no health URL: set api.base_url or give --url");
	}
	free(url);
}

static int do_check(const struct args *a, const cJSON *config, const char *service,
		    const struct journal_view *view)
{
	struct report *r = report_new("rollback");
	struct plan pl;
	int64_t t0 = now_monotonic_ms();
	int rc = plan_rollback(a, view, &pl);
	bool first = true; /* no release but the current one was ever deployed */
	for (size_t i = 0; i < view->n; i++)
		if (view->v[i].release && (!pl.current || strcmp(view->v[i].release, pl.current) != 0))
			first = false;
	if (rc != EXIT_OK && first)
		report_add_check(r, "rollback.target", STATUS_WARNING, 0, NULL,
				 "the first deploy of %s: no earlier release to roll back to", service);
	else if (rc != EXIT_OK)
		report_add_check(r, "rollback.target", STATUS_CRITICAL, 0, NULL,
				 "no known-good release to roll back to");
	else if (pl.target_d)
		report_add_check(r, "rollback.target", STATUS_OK, now_monotonic_ms() - t0, NULL,
				 "%s (deploy %ld, %s), replacing %s", pl.target, pl.target_d->id,
				 pl.target_d->result ? pl.target_d->result : "unfinished",
				 pl.current ? pl.current : "nothing");
	else
		report_add_check(r, "rollback.target", STATUS_WARNING, 0, NULL,
				 "%s was never deployed here", pl.target);
	struct driver_ctx ctx = {.config = config, .service = service, .release = pl.target,
				 .target_apply = pl.target_apply};
	if (pl.target) {
		driver_check_rollback(&ctx, r);
	} else {
		char *problem = driver_config_problem(config);
		report_add_check(r, "rollback.driver", problem ? STATUS_CRITICAL : STATUS_OK, 0, NULL, "%s",
				 problem ? problem : "the deploy driver is configured");
		free(problem);
	}
	check_live(config, view, pl.current, r);
	check_health(a, config, r);
	enum status st = report_status(r);
	report_print(r, a->std.format, stdout);
	report_free(r);
	return (int)st;
}

static void emit(const struct args *a, const cJSON *doc, const char *text)
{
	if (format_resolve(a->std.format) == FORMAT_TEXT) {
		char *shown = journal_text_clean(text, false);
		printf("%s\n", shown);
		free(shown);
	} else
		json_print_line(stdout, doc);
}

/* After a library call failed with *error: the message, exit 3. */
static int failed(char *error)
{
	error_msg("%s", error);
	free(error);
	return EXIT_UNKNOWN;
}

static int append(const struct journal *j, long id, cJSON *records)
{
	char *error = NULL;
	return journal_write(j, id, records, &error) == 0 ? EXIT_OK : failed(error);
}

/* --dry-run: say only what was checked, the target, through the driver. */
static int rollback_plan_print(const struct args *a, const struct driver_ctx *ctx, const struct plan *pl,
			       const char *url)
{
	char *checked = NULL;
	enum status tst = driver_check_target(ctx, &checked);
	char *what = driver_describe(ctx, true);
	cJSON *doc = journal_record_rollback_plan(ctx->service, pl->current, pl->target, pl->open ? pl->open->id : 0,
						  what, tst, checked);
	char *shown = url ? redact_url(url) : NULL;
	char *text = easprintf("would %s%s%s; %s", what, shown ? ", then verify health at " : "", shown ? shown : "",
			       checked);
	emit(a, doc, text);
	if (tst == STATUS_CRITICAL)
		error_msg("%s", checked);
	else if (tst != STATUS_OK)
		warnx_("%s", checked);
	free(text);
	free(shown);
	free(what);
	free(checked);
	cJSON_Delete(doc);
	return tst == STATUS_CRITICAL ? EXIT_CRITICAL : EXIT_OK;
}

/* What the rollback keeps once the view is gone: its own copies. */
struct rollback_run {
	long id;
	char *target, *current, *keep;
	char *commit, *image; /* the exact release the target's begin recorded, if any */
	cJSON *target_apply;
	struct driver_ctx ctx;
};

static void rollback_run_free(struct rollback_run *rr)
{
	free(rr->target);
	free(rr->current);
	free(rr->keep);
	free(rr->commit);
	free(rr->image);
	cJSON_Delete(rr->target_apply);
}

/* Under the guard: closes an unfinished deploy, records the rollback's
 * begin, takes the lock for it and records the apply start. */
static int rollback_begin(const struct args *a, const cJSON *config, const struct journal *j,
			  const struct journal_hold *h, const struct plan *pl, struct rollback_run *rr)
{
	rr->id = journal_next_id(&h->view);
	int st = EXIT_OK;
	if (pl->open) {
		cJSON *fin = journal_record_finish_by_rollback(pl->target, rr->id);
		st = append(j, pl->open->id, fin);
		cJSON_Delete(fin);
		if (st != EXIT_OK)
			return st;
	}
	if (h->li.stale) {
		char *who = lock_holder_describe(&h->li);
		warnx_("reclaiming a stale lock: its holder %s is gone", who);
		free(who);
	}
	cJSON *batch = cJSON_CreateArray();
	cJSON *rec = journal_record_begin(JOURNAL_ROLLBACK, rr->target, rr->current, a->message,
					  pl->open ? pl->open->id : 0, config);
	if (rr->commit)
		cJSON_AddStringToObject(rec, "commit", rr->commit);
	if (rr->image)
		cJSON_AddStringToObject(rec, "image", rr->image);
	cJSON_AddItemToArray(batch, rec);
	char *error = NULL;
	cJSON *snap = snapshot_record(j, a->config_tree, &error);
	if (snap)
		cJSON_AddItemToArray(batch, snap);
	st = append(j, rr->id, batch);
	cJSON_Delete(batch);
	if (st == EXIT_OK && error)
		warnx_("no config snapshot kept for this rollback: %s", error);
	free(error);
	if (st != EXIT_OK)
		return st;
	if (journal_lock_take(j, rr->id, "rollback") < 0) {
		int saved = errno;
		char *where = journal_where(j, 0);
		error_msg("unable to take the lock of %s (%s): %s", j->service, where, journal_error(j, saved));
		free(where);
		return saved == ENOTCONN || saved == EBUSY ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
	}
	cJSON *start = journal_record_apply_start(rr->target, driver_name(config));
	st = append(j, rr->id, start);
	cJSON_Delete(start);
	return st;
}

/* The rollback's lock let go, under the guard (when it is still its own). */
static int rollback_unlock(const struct journal *j, long id)
{
	struct journal_hold h;
	char *error = NULL;
	int st = EXIT_OK;
	if (journal_hold(j, &h, true, &error) < 0) {
		error_msg("recorded, but unable to release the lock: %s", error);
		free(error);
		return EXIT_UNKNOWN;
	}
	if (h.li.present && h.li.deploy == id && journal_lock_drop(j, &h.li) < 0) {
		int saved = errno;
		char *where = journal_where(j, 0);
		error_msg("recorded, but unable to release the lock of %s (%s): %s", j->service, where,
			  journal_error(j, saved));
		free(where);
		st = EXIT_UNKNOWN;
	}
	journal_unhold(&h);
	return st;
}

/* The driver, then health, each recorded; the finish; the lock let go;
 * the rollback printed. Returns the exit status. */
static int rollback_finish(const struct args *a, const cJSON *config, const struct journal *j,
			   struct rollback_run *rr, const char *url)
{
	struct driver_outcome res;
	int rc = driver_rollback(&rr->ctx, &res);
	cJSON *end = journal_record_apply_end(rr->target, rc == 0, res.message, res.data);
	res.data = NULL;
	int st = append(j, rr->id, end);
	cJSON_Delete(end);
	cJSON *health = NULL;
	bool ok = rc == 0;
	char *why = estrdup(res.message ? res.message : "");
	if (st == EXIT_OK && ok && url) {
		health = verify_health(a, config, url);
		st = append(j, rr->id, health);
		if (strcmp(json_path_string(health, "status", ""), "ok") != 0) {
			ok = false;
			free(why);
			why = estrdup(json_path_string(health, "message", "unhealthy"));
		}
	}
	cJSON *fin = journal_record_finish(ok, rr->target, why, NULL);
	if (st == EXIT_OK)
		st = append(j, rr->id, fin);
	cJSON_Delete(fin);
	if (st == EXIT_OK)
		st = rollback_unlock(j, rr->id);
	if (st == EXIT_OK) {
		cJSON *doc = journal_record_rollback(j->service, rr->id, rr->current, rr->target, ok, why, res.message,
						     health);
		health = NULL;
		char *text = easprintf("rollback %s: %s -> %s: %s", ok ? "ok" : "FAILED",
				       rr->current ? rr->current : "(none)", rr->target, why);
		emit(a, doc, text);
		if (!ok)
			error_msg("rollback to %s failed: %s", rr->target, why);
		free(text);
		cJSON_Delete(doc);
		st = ok ? EXIT_OK : EXIT_CRITICAL;
	}
	cJSON_Delete(health);
	driver_outcome_free(&res);
	free(why);
	return st;
}

static int do_rollback(const struct args *a, const cJSON *config, const struct journal *j)
{
	struct journal_hold h;
	char *error = NULL;
	if (journal_hold(j, &h, true, &error) < 0)
		return failed(error);
	struct plan pl;
	char *url = NULL;
	int st = plan_rollback(a, &h.view, &pl);
	if (st != EXIT_OK)
		goto out;
	if (h.li.present && !h.li.stale && !h.li.ours) {
		char *who = lock_holder_describe(&h.li);
		error_msg("lock held by %s", who);
		free(who);
		st = EXIT_TEMPFAIL;
		goto out;
	}
	url = a->no_verify ? NULL : health_url(a, config);
	if (!a->no_verify && !url) {
		error_msg("no health URL to verify the rollback: set api.base_url, give --url, or --no-verify");
		st = EXIT_DATAERR;
		goto out;
	}
	const struct deployment *good = journal_last_good(&h.view, NULL);
	/* the target may live in the view: our own copies, before it goes */
	struct rollback_run rr = {
		.target = estrdup(pl.target),
		.current = pl.current ? estrdup(pl.current) : NULL,
		.keep = good && good->release ? estrdup(good->release) : NULL,
		.target_apply = pl.target_apply ? cJSON_Duplicate(pl.target_apply, 1) : NULL,
	};
	const char *c = pl.target_d ? json_path_string(pl.target_d->begin, "commit", NULL) : NULL;
	const char *i = pl.target_d ? json_path_string(pl.target_d->begin, "image", NULL) : NULL;
	rr.commit = c ? estrdup(c) : NULL;
	rr.image = i ? estrdup(i) : NULL;
	rr.ctx = (struct driver_ctx){.config = config, .service = j->service, .release = rr.target,
				     .previous = rr.current, .target_apply = rr.target_apply,
				     .keep_release = rr.keep, .timeout_ms = time_left_ms(a), .commit = rr.commit,
				     .image = rr.image};
	if (a->dry_run)
		st = rollback_plan_print(a, &rr.ctx, &pl, url);
	else if ((st = rollback_begin(a, config, j, &h, &pl, &rr)) == EXIT_OK) {
		journal_unhold(&h);
		st = rollback_finish(a, config, j, &rr, url);
	}
	rollback_run_free(&rr);
out:
	free(url);
	journal_unhold(&h);
	return st;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	tool_start(argv[0]);
	parse_args(argc, argv, &a);
	a.deadline_ms = a.std.timeout_ms ? now_monotonic_ms() + a.std.timeout_ms : 0;
	static const char *const none[] = {NULL}; /* no section required */
	struct config_request req = {.path = a.std.config_path, .schema_path = a.schema, .sections = none};
	struct config cfg;
	int status = config_open(&req, &cfg);
	if (status != EXIT_OK) {
		status = config_exit_status(&cfg, status);
		config_close(&cfg);
		return status;
	}
	const cJSON *config = cfg.doc;
	a.config_tree = cfg.tree;
	const char *service = a.service ? a.service : json_path_string(config, "service.name", NULL);
	if (!service)
		service = getenv("SHIPSHAPE_SERVICE");
	if (!service || !*service)
		service = "default";
	struct journal j;
	char *error = NULL;
	struct journal_source src = {.cli_state_dir = a.std.state_dir, .cli_state_url = a.std.state_url, .config = config};
	if (journal_open_service(&j, &src, service, &error) < 0) {
		status = errno == EINVAL ? EXIT_DATAERR : errno == ENOTCONN ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
		error_msg("%s", error);
		status = error_status(status, error); /* --check's status line in nagios mode */
		free(error);
		goto out;
	}
	if (a.check) {
		struct journal_hold h;
		if (journal_hold(&j, &h, false, &error) == 0) {
			status = do_check(&a, config, service, &h.view);
			journal_unhold(&h);
		} else {
			status = failed(error);
		}
	} else {
		status = do_rollback(&a, config, &j);
	}
	journal_close(&j);
out:
	config_close(&cfg);
	free((char *)a.message);
	return finish_stdout(status);
}
