/* run.c — what every deploy-stage command shares: the service's journal
 * opened, held and appended to with errors returned, the ownership of a
 * deploy, and output. main.c and the commands call into it; it calls into
 * neither. */
#include "deploy-stage.h"
#include "shipshape/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int run_open_journal(struct run *r, const char *service)
{
	struct journal_source src = {.cli_state_dir = r->a->std.state_dir, .cli_state_url = r->a->std.state_url,
				     .config = r->config, .files_only = strcmp(r->a->command, "state") == 0};
	char *error = NULL;
	if (journal_open_service(&r->j, &src, service, &error) == 0)
		return EXIT_OK;
	int st = errno == EINVAL ? EXIT_DATAERR : errno == ENOTCONN ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
	error_msg("%s", error);
	free(error);
	return st;
}

int run_hold(const struct run *r, struct journal_hold *h, bool guard)
{
	char *error = NULL;
	if (journal_hold(&r->j, h, guard, &error) == 0)
		return EXIT_OK;
	int st = errno == ENOTCONN ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
	error_msg("%s", error);
	free(error);
	return st;
}

int run_append(const struct run *r, long id, cJSON *records)
{
	char *error = NULL;
	if (journal_write(&r->j, id, records, &error) == 0)
		return EXIT_OK;
	error_msg("%s", error);
	free(error);
	return EXIT_UNKNOWN;
}

int run_lock_failed(const struct run *r, const char *what)
{
	int saved = errno;
	char *where = journal_where(&r->j, 0);
	error_msg("unable to %s the lock of %s (%s): %s", what, r->j.service, where, journal_error(&r->j, saved));
	free(where);
	return saved == ENOTCONN || saved == EBUSY ? EXIT_TEMPFAIL : EXIT_UNKNOWN;
}

enum ownership deployment_ownership(const struct lock_info *li, long id)
{
	if (!li->present || li->stale)
		return OWN_NONE;
	if (!li->ours)
		return OWN_OTHER;
	return li->deploy == id ? OWN_OURS : OWN_NONE;
}

void emit(const struct run *r, const cJSON *doc, const char *text)
{
	if (r->fmt == FORMAT_TEXT) {
		if (text) {
			char *shown = journal_text_clean(text, false);
			printf("%s\n", shown);
			free(shown);
		}
	} else {
		json_print_line(stdout, doc);
	}
}
