/* record.c — alert-send's output: the delivery, runbook, ack and silence records,
 * as JSON Lines or text, each flushed at once; used by main.c, deliver.c and
 * runbook.c alike. */
#include "alert-send.h"
#include "shipshape/json.h"

#include <stdio.h>
#include <string.h>

static void record_text(const cJSON *r)
{
	const char *kind = json_kind(r);
	if (strcmp(kind, "delivery") == 0) {
		printf("%-9s %-12s %s: %s", json_path_string(r, "status", "?"), json_path_string(r, "channel", "?"),
		       json_path_string(r, "destination", "-"), json_path_string(r, "title", "?"));
		if (json_path(r, "attempt"))
			printf(" (attempt %d", (int)json_path_number(r, "attempt", 0));
		if (json_path(r, "code"))
			printf(", %d", (int)json_path_number(r, "code", 0));
		if (json_path(r, "attempt"))
			printf(")");
		if (json_path(r, "error"))
			printf(": %s", json_path_string(r, "error", ""));
		putchar('\n');
	} else if (strcmp(kind, "runbook") == 0) {
		if (json_path(r, "error"))
			printf("runbook   %s %s: %s\n", json_path_string(r, "alertname", "?"),
			       json_path_string(r, "fingerprint", "?"), json_path_string(r, "error", ""));
		else
			printf("runbook   %s %s: exit %d%s in %d ms\n", json_path_string(r, "alertname", "?"),
			       json_path_string(r, "fingerprint", "?"), (int)json_path_number(r, "exit_code", -1),
			       json_path_bool(r, "timed_out", false) ? " (timed out)" : "",
			       (int)json_path_number(r, "duration_ms", 0));
	} else if (strcmp(kind, "silence") == 0) {
		printf("%-8s %s %s until %s, by %s: %s\n", json_path_string(r, "state", "?"), json_path_string(r, "id", "?"),
		       json_path_string(r, "match", "{}"), json_path_string(r, "endsAt", "?"),
		       json_path_string(r, "createdBy", "?"), json_path_string(r, "comment", ""));
	} else if (strcmp(kind, "ack") == 0) {
		printf("acknowledged %s %s: %s\n", json_path_string(r, "fingerprint", "?"),
		       json_path_string(r, "alertname", ""), json_path_string(r, "message", ""));
	}
}

/* Delivering is the job and goes on without the records when stdout fails:
 * the failure is said once, when it happens, and the exit status is 3. */
void record_print(cJSON *rec, enum output_format fmt)
{
	if (!stream_failed()) {
		if (fmt == FORMAT_TEXT)
			record_text(rec);
		else
			json_print_line(stdout, rec);
		stream_flush("delivery records", "delivering goes on");
	}
	cJSON_Delete(rec);
}
