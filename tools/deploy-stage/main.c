/* deploy-stage — records and drives one deployment through its stages:
 * lock, begin, gate, apply, finish, status, history, alert; a crash-safe
 * journal. */
#include "deploy-stage.h"
#include "shipshape/config.h"
#include "shipshape/driver.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_SERVICE = OPT_TOOL_BASE,
	OPT_SCHEMA,
	OPT_RELEASE,
	OPT_RESULT,
	OPT_WAIT,
	OPT_FORCE,
	OPT_STRICT,
	OPT_DRY_RUN,
	OPT_LIMIT,
	OPT_URL,
	OPT_LAST,
	OPT_GRANT,
	OPT_COMMIT,
	OPT_IMAGE,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: deploy-stage [-c FILE] [--schema FILE] [--service NAME] [--state-dir DIR]\n"
		"                    [--state-url-env NAME] [-t DUR] [--format json|text|html] [-q] [-v]\n"
		"                    COMMAND ...\n"
		"       deploy-stage lock acquire|release|status [-m MESSAGE] [--wait DUR] [--force]\n"
		"       deploy-stage begin --release ID [--commit SHA | --image REF] [-m MESSAGE]\n"
		"                          [--wait DUR] [--force]\n"
		"       deploy-stage gate STAGE [--strict] [--dry-run]   (reports as JSON Lines on stdin)\n"
		"       deploy-stage apply [--dry-run]\n"
		"       deploy-stage finish --result ok|failed [-m MESSAGE] [--force]\n"
		"       deploy-stage status\n"
		"       deploy-stage history [--limit N] [--format html [-o FILE]]\n"
		"       deploy-stage plan --release ID [REPORTS]  (what a deploy would do; REPORTS: a file\n"
		"                                                of reports, - for stdin, e.g. db-check's)\n"
		"       deploy-stage e2e [--url BASE] [--dry-run]\n"
		"       deploy-stage alert [DEPLOY]              (its DeployFailed alerts, for alert-send)\n"
		"       deploy-stage alert --dry-run --release ID (the alert a failure would fire)\n"
		"       deploy-stage stages                      (the stages, in order, and what each runs)\n"
		"       deploy-stage state init [--grant ROLE] | check | import\n"
		"                                                (the deploy state in PostgreSQL)\n"
		"       deploy-stage report TOOL CHECK STATUS MESSAGE   (a report of one check)\n"
		"       deploy-stage report TOOL - [CHECK=STATUS]...    (the reports on stdin as one)\n"
		"       deploy-stage report [DEPLOY | --last] [--format html|json|text] [-o FILE]\n"
		"                                                (the deploy report)\n"
		"       deploy-stage -h | -V\n"
		"\n"
		"Stages: pre-deploy, infrastructure, application, post-deploy, bake, readiness.\n"
		"\n"
		"  -c, --config FILE     the config (YAML or a JSON config document); begin,\n"
		"                        apply and e2e read a config document on stdin without it\n"
		"      --schema FILE     the config schema (default: beside deploy-stage)\n"
		"      --service NAME    the service (default: the config's service.name, else\n"
		"                        $SHIPSHAPE_SERVICE, else \"default\")\n"
		"  -r, --release ID      the release to deploy (begin, alert --dry-run)\n"
		"      --commit SHA      begin: the exact commit the release is (7-40 hex\n"
		"                        digits); the render driver deploys it\n"
		"      --image REF       begin: the exact image the release is; the render\n"
		"                        driver deploys it\n"
		"  -m, --message TEXT    why (lock, begin, finish)\n"
		"      --result R        ok or failed (finish)\n"
		"      --wait DUR        wait up to DUR for a held lock (lock acquire, begin)\n"
		"      --force           begin over an interrupted deploy; finish ok an\n"
		"                        interrupted or never applied one; release another\n"
		"                        holder's lock\n"
		"      --strict          warnings fail the gate\n"
		"      --dry-run         apply: say what the driver would do; gate: decide and\n"
		"                        print the report, record nothing; e2e: list the steps;\n"
		"                        alert: the alert a failure would fire\n"
		"      --url BASE        e2e: the base of relative step URLs (default\n"
		"                        deploy.e2e.base_url, else api.base_url)\n"
		"      --limit N         history: the last N deployments (default 256)\n"
		"      --last            report: the last deploy (also with no DEPLOY)\n"
		"  -o, --output FILE     report, history --format html: write FILE (atomically)\n"
		"                        instead of stdout; FILE.html means --format html\n"
		"  -t, --timeout DUR     bound the whole command, lock wait and driver included\n"
		"                        (apply's driver: default deploy.timeout; e2e: default\n"
		"                        deploy.e2e.timeout)\n"
		"      --state-dir DIR   where the journal and the lock live (state.backend file)\n"
		"      --state-url-env NAME  the journal and the lock in PostgreSQL, at the URL in\n"
		"                        the environment variable NAME (state.backend postgres)\n"
		"      --grant ROLE      state init: let ROLE read and append the state tables\n"
		"      --format FMT      json (default when piped) or text; html: report, history\n"
		"  -q, --quiet           no warnings\n"
		"  -v, --verbose         more detail on stderr\n"
		"  -h, --help            this help\n"
		"  -V, --version         the version\n"
		"\n"
		"Exit: 0 done/gate passed, 1 status: interrupted (e2e: a warning), 2 failed\n"
		"(gate, driver, e2e step, refused), 3 internal error (journal write), 64 usage,\n"
		"65 invalid input, 75 lock held or state database unreachable.\n");
}

#define COMMAND_NAMES "lock, begin, gate, apply, finish, status, history, plan, e2e, alert, stages, state or report"

static bool command_known(const char *command)
{
	static const char *const commands[] = {"lock",   "begin",  "gate",    "apply",  "finish",
					       "status", "history", "plan", "e2e", "alert", "stages", "state", "report"};
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (strcmp(command, commands[i]) == 0)
			return true;
	return false;
}

int64_t time_left_ms(const struct args *a)
{
	if (!a->deadline_ms)
		return 0;
	int64_t left = a->deadline_ms - now_monotonic_ms();
	return left > 0 ? left : 1;
}

int64_t lock_wait_deadline(const struct args *a)
{
	int64_t end = now_monotonic_ms() + a->wait_ms;
	return a->deadline_ms && a->deadline_ms < end ? a->deadline_ms : end;
}

static void take_operands(int argc, char **argv, struct args *a);

/* --commit SHA or --image REF, checked: 64 when it is not one. */
static const char *exact_release(const char *opt, const char *value)
{
	if (strcmp(opt, "--commit") == 0 && !driver_commit_valid(value))
		die(EXIT_USAGE, "invalid --commit \"%s\" (a commit SHA: 7 to 40 hex digits)", value);
	if (strcmp(opt, "--image") == 0 && !driver_image_valid(value))
		die(EXIT_USAGE, "invalid --image (an image reference: 1 to %d bytes, no whitespace)", DRIVER_IMAGE_MAX);
	return value;
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		STD_LONG_OPTS,
		STD_TIMEOUT_OPT,
		STD_STATE_DIR_OPT,
		STD_STATE_URL_ENV_OPT,
		{"grant", required_argument, NULL, OPT_GRANT},
		{"service", required_argument, NULL, OPT_SERVICE},
		{"schema", required_argument, NULL, OPT_SCHEMA},
		{"release", required_argument, NULL, 'r'},
		{"commit", required_argument, NULL, OPT_COMMIT},
		{"image", required_argument, NULL, OPT_IMAGE},
		{"message", required_argument, NULL, 'm'},
		{"result", required_argument, NULL, OPT_RESULT},
		{"wait", required_argument, NULL, OPT_WAIT},
		{"force", no_argument, NULL, OPT_FORCE},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"url", required_argument, NULL, OPT_URL},
		{"last", no_argument, NULL, OPT_LAST},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	a->limit = 256;
	a->std.usage = usage;
	a->std.formats = "json,text,html";
	int c;
	while ((c = std_getopt(&a->std, argc, argv, "t:r:m:o:", longopts)) != -1) {
		switch (c) {
		case OPT_EXIT: exit(a->std.exit_status);
		case OPT_SERVICE: a->service = optarg; break;
		case OPT_SCHEMA: a->schema = optarg; break;
		case 'r': a->release = optarg; break;
		case OPT_COMMIT: a->commit = exact_release("--commit", optarg); break;
		case OPT_IMAGE: a->image = exact_release("--image", optarg); break;
		case 'm': a->message = journal_text_clean(optarg, true); break; /* lives until exit */
		case OPT_RESULT:
			if (strcmp(optarg, "ok") != 0 && strcmp(optarg, "failed") != 0)
				die(EXIT_USAGE, "invalid --result \"%s\" (expected ok or failed)", optarg);
			a->result = optarg;
			break;
		case OPT_WAIT:
			opt_exit(opt_duration("--wait", optarg, 0, &a->wait_ms));
			a->wait_given = true;
			break;
		case OPT_FORCE: a->force = true; break;
		case OPT_STRICT: a->strict = true; break;
		case OPT_DRY_RUN: a->dry_run = true; break;
		case OPT_URL: a->url = optarg; break;
		case OPT_LAST: a->last = true; break;
		case 'o': a->output = optarg; break;
		case OPT_GRANT: a->grant = optarg; break;
		case OPT_LIMIT: opt_exit(opt_count("--limit", optarg, 1, LONG_MAX, &a->limit)); break;
		}
	}
	if (optind >= argc)
		die(EXIT_USAGE, "no command given (%s; see deploy-stage --help)", COMMAND_NAMES);
	a->command = argv[optind++];
	if (!command_known(a->command))
		die(EXIT_USAGE, "unknown command \"%s\" (expected %s)", a->command, COMMAND_NAMES);
	bool deploy_report_only = a->std.format == FORMAT_HTML || a->output || a->last;
	bool history_html = strcmp(a->command, "history") == 0 && run_format(a) == FORMAT_HTML && !a->last;
	if (strcmp(a->command, "report") == 0) {
		/* its operands are its own (stages.c; report_cmd.c) */
		a->operands = argv + optind;
		a->n_operands = argc - optind;
		if (deploy_report_only && !report_is_deploy_form(a))
			die(EXIT_USAGE, "report: --format html, -o and --last go with report [DEPLOY | --last]");
		return;
	}
	if (deploy_report_only && !history_html)
		die(EXIT_USAGE, "%s: --format html, -o and --last go with report [DEPLOY | --last] (and history "
				"--format html)", a->command);
	take_operands(argc, argv, a);
}

/* The command's own words after it, checked (parse_args()). */
static void take_operands(int argc, char **argv, struct args *a)
{
	bool takes_operand = strcmp(a->command, "lock") == 0 || strcmp(a->command, "gate") == 0 ||
			     strcmp(a->command, "state") == 0;
	if (takes_operand) {
		if (optind >= argc)
			die(EXIT_USAGE, "%s: missing %s", a->command,
			    strcmp(a->command, "lock") == 0	 ? "acquire, release or status"
			    : strcmp(a->command, "state") == 0 ? "init, check or import"
							       : "STAGE");
		a->operand = argv[optind++];
	}
	if (strcmp(a->command, "alert") == 0 && optind < argc)
		opt_exit(opt_count("DEPLOY", argv[optind++], 1, LONG_MAX, &a->deploy));
	if (strcmp(a->command, "plan") == 0 && optind < argc)
		a->operand = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "%s: unexpected argument \"%s\"", a->command, argv[optind]);
	if (strcmp(a->command, "lock") == 0 && strcmp(a->operand, "acquire") != 0 &&
	    strcmp(a->operand, "release") != 0 && strcmp(a->operand, "status") != 0)
		die(EXIT_USAGE, "lock: unknown action \"%s\" (expected acquire, release or status)", a->operand);
	if (strcmp(a->command, "state") == 0 && strcmp(a->operand, "init") != 0 && strcmp(a->operand, "check") != 0 &&
	    strcmp(a->operand, "import") != 0)
		die(EXIT_USAGE, "state: unknown action \"%s\" (expected init, check or import)", a->operand);
	if (strcmp(a->command, "lock") == 0 && strcmp(a->operand, "release") == 0 && a->force && !a->message)
		die(EXIT_USAGE, "lock release --force: say why with -m MESSAGE (it is journaled)");
	if (a->grant && !(strcmp(a->command, "state") == 0 && strcmp(a->operand, "init") == 0))
		die(EXIT_USAGE, "--grant goes with state init");
	if (strcmp(a->command, "gate") == 0 && !journal_stage_valid(a->operand))
		die(EXIT_USAGE, "gate: unknown stage \"%s\" (expected pre-deploy, infrastructure, application, "
				"post-deploy, bake or readiness)", a->operand);
	if ((a->commit || a->image) && strcmp(a->command, "begin") != 0)
		die(EXIT_USAGE, "%s: --commit and --image go with begin", a->command);
	if (a->commit && a->image)
		die(EXIT_USAGE, "begin: give --commit or --image, not both");
	if ((strcmp(a->command, "begin") == 0 || strcmp(a->command, "plan") == 0) && !a->release)
		die(EXIT_USAGE, "%s: --release ID is required", a->command);
	if (strcmp(a->command, "alert") == 0 && a->dry_run && a->deploy)
		die(EXIT_USAGE, "alert: --dry-run takes no DEPLOY (it is the alert a failure would fire)");
	if (strcmp(a->command, "finish") == 0 && !a->result)
		die(EXIT_USAGE, "finish: --result ok|failed is required");
}

static bool needs_config(const char *command)
{
	return strcmp(command, "begin") == 0 || strcmp(command, "apply") == 0 || strcmp(command, "e2e") == 0 ||
	       strcmp(command, "plan") == 0;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	tool_start(argv[0]);
	parse_args(argc, argv, &a);
	a.deadline_ms = a.std.timeout_ms ? now_monotonic_ms() + a.std.timeout_ms : 0;

	struct run r = {.a = &a, .fmt = run_format(&a)};
	if (a.std.config_path || needs_config(a.command)) {
		/* no section is required: a command that needs the driver says so */
		static const char *const none[] = {NULL};
		struct config_request req = {.path = a.std.config_path, .schema_path = a.schema, .sections = none};
		int status = config_open(&req, &r.cfg);
		if (status != EXIT_OK) {
			status = config_exit_status(&r.cfg, status);
			config_close(&r.cfg);
			return status;
		}
		r.config = r.cfg.doc;
	}
	const char *service = a.service;
	if (!service && r.config)
		service = json_path_string(r.config, "service.name", NULL);
	if (!service)
		service = getenv("SHIPSHAPE_SERVICE");
	if (!service || !*service)
		service = "default";
	bool deploy_report = strcmp(a.command, "report") == 0 && report_is_deploy_form(&a);
	if (strcmp(a.command, "stages") == 0 || (strcmp(a.command, "report") == 0 && !deploy_report)) {
		/* tables and reports: no journal, no lock */
		int st = strcmp(a.command, "stages") == 0 ? cmd_stages(&r) : cmd_report(&r);
		config_close(&r.cfg);
		free((char *)a.message);
		return finish_stdout(st);
	}
	bool stateless = strcmp(a.command, "e2e") == 0 ||
			 ((strcmp(a.command, "gate") == 0 || strcmp(a.command, "alert") == 0) && a.dry_run);
	if (stateless) {
		/* a check, a gate's decision only, an alert to try the channels
		 * with: no journal, no lock, no state directory made */
		int st = strcmp(a.command, "e2e") == 0	  ? cmd_e2e(&r)
			 : strcmp(a.command, "gate") == 0 ? cmd_gate(&r)
							  : cmd_alert_dry_run(&r, service);
		config_close(&r.cfg);
		free((char *)a.message);
		return finish_stdout(st);
	}

	int status = run_open_journal(&r, service);
	if (status != EXIT_OK)
		goto out;
	if (strcmp(a.command, "lock") == 0)
		status = cmd_lock(&r);
	else if (strcmp(a.command, "begin") == 0)
		status = cmd_begin(&r);
	else if (strcmp(a.command, "gate") == 0)
		status = cmd_gate(&r);
	else if (strcmp(a.command, "apply") == 0)
		status = cmd_apply(&r);
	else if (strcmp(a.command, "finish") == 0)
		status = cmd_finish(&r);
	else if (strcmp(a.command, "status") == 0)
		status = cmd_status(&r);
	else if (strcmp(a.command, "alert") == 0)
		status = cmd_alert(&r);
	else if (strcmp(a.command, "plan") == 0)
		status = cmd_plan(&r);
	else if (strcmp(a.command, "state") == 0)
		status = cmd_state(&r);
	else if (deploy_report)
		status = cmd_deploy_report(&r);
	else
		status = cmd_history(&r);

	journal_close(&r.j);
out:
	config_close(&r.cfg);
	free((char *)a.message);
	return finish_stdout(status);
}
