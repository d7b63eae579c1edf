/* stages.c — the deploy's stages as a table (deploy-stage stages), and the
 * report a composing script hands a gate when its verdict is its own
 * (deploy-stage report): both so that a script prints and builds nothing the
 * tools already know. */
#include "deploy-stage.h"
#include "shipshape/json.h"
#include "shipshape/report.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What each stage runs, in journal_stages' order (the stage names the gate
 * accepts are that list's, and only that list's). */
static const char *const stage_runs[] = {
	"cfg-resolve --check; db-check connect, version, role, ssl, latency, pool; "
	"svc-probe of the API and every service (and of the API against a baseline)",
	"db-check schema, tables, rls, extensions, migrations; svc-probe of the storage API "
	"(services.supabase.storage_path); alert-send --dry-run of the alert channels; "
	"health-watch --count 1 (an endpoint down is a warning); svc-probe --security headers,tls "
	"of the live release (none live: a warning)",
	"deploy-stage apply: the deploy.driver switches to the release",
	"svc-probe of the API (with retries); deploy-stage e2e (deploy.e2e); svc-probe --requests "
	"(performance); svc-probe --security",
	"metric-check --bake (deploy.bake: rounds on Prometheus for deploy.bake.duration) beside "
	"health-watch; a failed analysis or a target down fails it (no bake: a warning)",
	"rollback --check; health-watch --until up; db-check rls",
};

/* s in lines of at most width columns, the first after a label of indent
 * columns, the rest indented as much. */
static void print_wrapped(const char *s, int indent, int width)
{
	int col = indent;
	while (*s) {
		size_t word = strcspn(s, " ");
		if (col > indent && col + 1 + (int)word > width) {
			printf("\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)word, s);
		col += (int)word;
		s += word;
		s += strspn(s, " ");
	}
	putchar('\n');
}

int cmd_stages(struct run *r)
{
	size_t n = 0;
	while (journal_stages[n])
		n++;
	if (n != ARRAY_LEN(stage_runs)) {
		error_msg("internal error: %zu stages, %zu descriptions", n, ARRAY_LEN(stage_runs));
		return EXIT_UNKNOWN;
	}
	for (size_t i = 0; i < n; i++) {
		if (r->fmt == FORMAT_TEXT) {
			printf("  %-16s", journal_stages[i]);
			print_wrapped(stage_runs[i], 18, 79);
			continue;
		}
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "kind", "stage");
		cJSON_AddNumberToObject(doc, "order", (double)(i + 1));
		cJSON_AddStringToObject(doc, "name", journal_stages[i]);
		cJSON_AddStringToObject(doc, "runs", stage_runs[i]);
		json_print_line(stdout, doc);
		cJSON_Delete(doc);
	}
	return EXIT_OK;
}

/* ---- deploy-stage report ---- */

static enum status parse_status(const char *s)
{
	enum status st;
	if (status_parse(s, &st) < 0)
		die(EXIT_USAGE, "report: invalid status \"%s\" (expected ok, warning, critical or unknown)", s);
	return st;
}

/* CHECK=STATUS operands: a check whose name matches CHECK (a glob) counts
 * as no worse than STATUS. */
struct cap {
	char *pattern;
	enum status at_most;
};

static struct cap *caps_parse(char **words, int n)
{
	struct cap *caps = ecalloc((size_t)n + 1, sizeof *caps);
	for (int i = 0; i < n; i++) {
		const char *eq = strrchr(words[i], '=');
		if (!eq || eq == words[i])
			die(EXIT_USAGE, "report: invalid \"%s\" (expected CHECK=STATUS)", words[i]);
		caps[i].pattern = estrndup(words[i], (size_t)(eq - words[i]));
		caps[i].at_most = parse_status(eq + 1);
	}
	return caps;
}

static void caps_free(struct cap *caps)
{
	for (struct cap *c = caps; c->pattern; c++)
		free(c->pattern);
	free(caps);
}

static void merge_check(struct report *rep, const cJSON *c, const struct cap *caps)
{
	enum status st = STATUS_UNKNOWN;
	status_parse(json_path_string(c, "status", "unknown"), &st);
	const char *name = json_path_string(c, "name", "?");
	const char *msg = json_path_string(c, "message", "");
	enum status was = st;
	for (const struct cap *k = caps; k->pattern; k++)
		if (fnmatch(k->pattern, name, 0) == 0 && status_worst(st, k->at_most) == st)
			st = k->at_most;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(c, "data");
	cJSON *copy = cJSON_IsObject(data) ? cJSON_Duplicate(data, true) : NULL;
	int64_t ms = (int64_t)json_path_number(c, "duration_ms", 0);
	if (st != was)
		report_add_check(rep, name, st, ms, copy, "%s (counted as %s here: %s)", msg, status_name(st),
				 status_name(was));
	else
		report_add_check(rep, name, st, ms, copy, "%s", msg);
}

/* The reports on stdin as one report of TOOL: every check of theirs, the
 * status the worst of them (report.c's ranking). */
static int report_merge(struct run *r, const char *tool, struct cap *caps)
{
	struct report *rep = report_new(tool);
	struct jsonl_reader rd;
	jsonl_reader_init(&rd, stdin, "stdin", JSONL_MAX_LINE_DEFAULT);
	cJSON *doc;
	int rc, st = EXIT_OK;
	unsigned reports = 0;
	while (st == EXIT_OK && (rc = jsonl_next(&rd, &doc)) != 0) {
		enum status ignored;
		if (rc < 0 || report_doc_status(doc, &ignored) < 0) {
			error_msg("%s", rc < 0 ? rd.error : "stdin: not a report");
			st = EXIT_DATAERR;
		} else {
			const cJSON *c;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "checks"))
				merge_check(rep, c, caps);
			reports++;
		}
		cJSON_Delete(doc);
	}
	jsonl_reader_free(&rd);
	if (st == EXIT_OK && reports == 0) {
		error_msg("report: no reports on stdin");
		st = EXIT_DATAERR;
	}
	if (st == EXIT_OK) {
		report_print(rep, r->fmt, stdout);
		st = (int)report_status(rep);
	}
	report_free(rep);
	return st;
}

int cmd_report(struct run *r)
{
	char **w = r->a->operands;
	int n = r->a->n_operands;
	if (n >= 2 && strcmp(w[1], "-") == 0) {
		struct cap *caps = caps_parse(w + 2, n - 2);
		int st = report_merge(r, w[0], caps);
		caps_free(caps);
		return st;
	}
	if (n != 4)
		die(EXIT_USAGE, "report: expected TOOL CHECK STATUS MESSAGE, or TOOL - [CHECK=STATUS]... "
				"(see deploy-stage --help)");
	struct report *rep = report_new(w[0]);
	report_add_check(rep, w[1], parse_status(w[2]), 0, NULL, "%s", w[3]);
	report_set_summary(rep, "%s", w[3]);
	report_print(rep, r->fmt, stdout);
	int st = (int)report_status(rep);
	report_free(rep);
	return st;
}
