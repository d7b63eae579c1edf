/* report.h — check reports: the document every check tool prints.
 *
 * {"kind":"report","tool":..,"version":..,"status":..,"summary":..,
 *  "started_at":RFC3339,"duration_ms":..,"checks":[{"name":..,"status":..,
 *  "message":..,"duration_ms":..,"data":{..}}]}
 *
 * The overall status is the worst check, ranked ok < warning < unknown <
 * critical; the exit status of a check tool is that status's number. */
#ifndef SHIPSHAPE_REPORT_H
#define SHIPSHAPE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "shipshape/opts.h"

enum status { STATUS_OK = 0, STATUS_WARNING = 1, STATUS_CRITICAL = 2, STATUS_UNKNOWN = 3 };

const char *status_name(enum status st);          /* "ok", "warning", ... */
int status_parse(const char *name, enum status *st); /* 0 or -1 */
enum status status_worst(enum status a, enum status b);

struct report;

struct report *report_new(const char *tool);
/* Adds a check; data (may be NULL) is consumed. The message goes through
 * redaction. Returns the check object, borrowed, for check_add_perf(). */
cJSON *report_add_check(struct report *r, const char *name, enum status st,
			int64_t duration_ms, cJSON *data, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Performance data for --format nagios: label=value[uom];warn;crit.
 * Pass NAN for an absent threshold. */
void check_add_perf(cJSON *check, const char *label, double value, const char *uom,
		    double warn, double crit);
/* Overrides the generated summary ("5 checks: 4 ok, 1 critical: db.rls"). */
void report_set_summary(struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Removes every check whose name keep() refuses; the status is then the
 * worst of the checks left. */
void report_keep_checks(struct report *r, bool (*keep)(const char *name, void *user), void *user);
enum status report_status(const struct report *r);
size_t report_check_count(const struct report *r);
/* The report as a document (a deep copy; the caller owns it). */
cJSON *report_to_json(struct report *r);
/* Prints the report in the format (json: one line; text: a table; nagios:
 * one status line with perfdata). Returns 0 or -1 on a write error. */
int report_print(struct report *r, enum output_format fmt, FILE *out);
void report_free(struct report *r);

/* What a '|' in the text of a Nagios status line becomes: U+00A6 BROKEN
 * BAR, since '|' starts the perfdata (shipshape(7)). */
#define NAGIOS_BAR "\xc2\xa6"
/* Prints "tool STATE - text" without a newline: the start of a Nagios status
 * line, as report_print() and error_status() make it. In the text a '|'
 * becomes NAGIOS_BAR and a line break or another control character a space,
 * so the line stays one line with at most the perfdata's '|'. */
void nagios_print_status(FILE *out, const char *tool, enum status st, const char *text);

/* Reads a report document back (e.g. from a gate's stdin): its status, or -1
 * when doc is not a valid report. */
int report_doc_status(const cJSON *doc, enum status *st);

#endif
