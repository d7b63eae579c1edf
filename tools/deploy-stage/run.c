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
	const char *configured = r->config ? json_path_string(r->config, "state_dir", NULL) : NULL;
	char *error = NULL;
	if (journal_open_service(&r->j, r->a->std.state_dir, configured, service, &error) == 0)
		return EXIT_OK;
	int st = errno == EINVAL ? EXIT_DATAERR : EXIT_UNKNOWN;
	error_msg("%s", error);
	free(error);
	return st;
}

int run_hold(const struct run *r, struct journal_hold *h, bool guard)
{
	char *error = NULL;
	if (journal_hold(&r->j, h, guard, &error) == 0)
		return EXIT_OK;
	error_msg("%s", error);
	free(error);
	return EXIT_UNKNOWN;
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
	error_msg("unable to %s the lock %s/lock: %s", what, r->j.dir, strerror(errno));
	return EXIT_UNKNOWN;
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
