/* report_cmd.c — deploy-stage report [DEPLOY | --last] and history
 * --format html: which form of report the operands choose, which deploy,
 * which format, and where it goes (stdout, or -o FILE written atomically). */
#include "report_doc.h"
#include "shipshape/files.h"
#include "shipshape/json.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool report_is_deploy_form(const struct args *a)
{
	if (a->last || a->n_operands == 0)
		return true;
	const char *s = a->operands[0];
	return a->n_operands == 1 && *s && strspn(s, "0123456789") == strlen(s);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum output_format run_format(const struct args *a)
{
	if (a->std.format != FORMAT_AUTO)
		return a->std.format;
	if (a->output && (ends_with(a->output, ".html") || ends_with(a->output, ".htm")))
		return FORMAT_HTML;
	if (a->output)
		return ends_with(a->output, ".txt") ? FORMAT_TEXT : FORMAT_JSON;
	return format_resolve(FORMAT_AUTO);
}

int report_write(const struct run *r, const char *text)
{
	const char *path = r->a->output;
	if (!path) {
		fputs(text, stdout); /* finish_stdout() checks it */
		return EXIT_OK;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		error_msg("unable to write %s: a symbolic link (refused)", path);
		return EXIT_UNKNOWN;
	}
	if (atomic_write_file(path, text, strlen(text), 0644) < 0) {
		error_msg("unable to write %s: %s", path, strerror(errno));
		return EXIT_UNKNOWN;
	}
	return EXIT_OK;
}

/* The deployment DEPLOY names, else the last deploy that is not a
 * rollback; NULL after a message. */
static const struct deployment *report_subject(const struct run *r, const struct journal_view *view, long want)
{
	for (size_t i = view->n; i-- > 0;) {
		const struct deployment *d = &view->v[i];
		if (want ? d->id == want : !d->action || strcmp(d->action, "deploy") == 0)
			return d;
	}
	char *where = journal_where(&r->j, 0);
	if (want)
		error_msg("report: no deploy %ld in the journal %s", want, where);
	else
		error_msg("report: no deploy in the journal %s", where);
	free(where);
	return NULL;
}

static char *render(const struct run *r, const cJSON *doc)
{
	if (r->fmt == FORMAT_HTML)
		return deploy_report_html(doc);
	if (r->fmt == FORMAT_TEXT)
		return deploy_report_text(doc);
	char *line = ejson_print(doc);
	char *text = easprintf("%s\n", line);
	free(line);
	return text;
}

int cmd_deploy_report(struct run *r)
{
	long want = 0;
	if (r->a->last && r->a->n_operands)
		die(EXIT_USAGE, "report: --last takes no DEPLOY (see deploy-stage --help)");
	if (r->a->n_operands == 1)
		opt_exit(opt_count("DEPLOY", r->a->operands[0], 1, LONG_MAX, &want));
	struct journal_hold h;
	int st = run_hold(r, &h, false);
	if (st != EXIT_OK)
		return st;
	warn_damage(&h.view);
	const struct deployment *d = report_subject(r, &h.view, want);
	if (!d) {
		st = EXIT_CRITICAL;
	} else {
		cJSON *doc = deploy_report_doc(&h.view, d, &h.li, r->j.service);
		char *text = render(r, doc);
		st = report_write(r, text);
		free(text);
		cJSON_Delete(doc);
	}
	journal_unhold(&h);
	return st;
}

int cmd_history_html(struct run *r)
{
	struct journal_hold h;
	int st = run_hold(r, &h, false);
	if (st != EXIT_OK)
		return st;
	warn_damage(&h.view);
	size_t first = h.view.n > (size_t)r->a->limit ? h.view.n - (size_t)r->a->limit : 0;
	cJSON *rows = cJSON_CreateArray();
	for (size_t i = first; i < h.view.n; i++) {
		cJSON *s = deployment_summary(&h.view, &h.view.v[i], &h.li);
		cJSON_DeleteItemFromObjectCaseSensitive(s, "config_digest");
		cJSON_AddItemToArray(rows, s);
	}
	journal_redact_strings(rows->child);
	char *page = history_html_page(rows, r->j.service);
	st = report_write(r, page);
	free(page);
	cJSON_Delete(rows);
	journal_unhold(&h);
	return st;
}
