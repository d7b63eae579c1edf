/* report.c — building and printing check reports. */
#include "shipshape/report.h"
#include "shipshape/common.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct report {
	char *tool;
	char *summary;
	int64_t started_ms, started_mono;
	enum status status;
	cJSON *checks; /* array */
};

static const char *const status_names[] = {"ok", "warning", "critical", "unknown"};

const char *status_name(enum status st)
{
	return (unsigned)st < ARRAY_LEN(status_names) ? status_names[st] : "unknown";
}

int status_parse(const char *name, enum status *st)
{
	for (size_t i = 0; name && i < ARRAY_LEN(status_names); i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*st = (enum status)i;
			return 0;
		}
	}
	return -1;
}

/* Rank for "worst": unknown (could not tell) is worse than a warning, better
 * than a known failure. */
static int status_rank(enum status st)
{
	switch (st) {
	case STATUS_OK: return 0;
	case STATUS_WARNING: return 1;
	case STATUS_UNKNOWN: return 2;
	case STATUS_CRITICAL: return 3;
	}
	return 2;
}

enum status status_worst(enum status a, enum status b)
{
	return status_rank(a) >= status_rank(b) ? a : b;
}

struct report *report_new(const char *tool)
{
	struct report *r = ecalloc(1, sizeof *r);
	r->tool = estrdup(tool);
	r->started_ms = now_epoch_ms();
	r->started_mono = now_monotonic_ms();
	r->status = STATUS_OK;
	r->checks = cJSON_CreateArray();
	return r;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	free(r->tool);
	free(r->summary);
	cJSON_Delete(r->checks);
	free(r);
}

cJSON *report_add_check(struct report *r, const char *name, enum status st, int64_t duration_ms,
			cJSON *data, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = redact_vformat(fmt, ap);
	va_end(ap);

	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "name", name);
	cJSON_AddStringToObject(c, "status", status_name(st));
	cJSON_AddStringToObject(c, "message", msg);
	cJSON_AddNumberToObject(c, "duration_ms", (double)(duration_ms < 0 ? 0 : duration_ms));
	cJSON_AddItemToObject(c, "data", data ? data : cJSON_CreateObject());
	cJSON_AddItemToArray(r->checks, c);
	free(msg);
	r->status = status_worst(r->status, st);
	return c;
}

void check_add_perf(cJSON *check, const char *label, double value, const char *uom, double warn,
		    double crit)
{
	cJSON *perf = cJSON_GetObjectItemCaseSensitive(check, "perf");
	if (!perf)
		perf = cJSON_AddArrayToObject(check, "perf");
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "label", label);
	cJSON_AddNumberToObject(p, "value", value);
	cJSON_AddStringToObject(p, "uom", uom ? uom : "");
	if (!isnan(warn))
		cJSON_AddNumberToObject(p, "warn", warn);
	if (!isnan(crit))
		cJSON_AddNumberToObject(p, "crit", crit);
	cJSON_AddItemToArray(perf, p);
}

void report_set_summary(struct report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(r->summary);
	r->summary = redact_vformat(fmt, ap);
	va_end(ap);
}

void report_keep_checks(struct report *r, bool (*keep)(const char *name, void *user), void *user)
{
	r->status = STATUS_OK;
	for (cJSON *c = r->checks->child, *next; c; c = next) {
		next = c->next;
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
		const char *st_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));
		enum status st = STATUS_UNKNOWN;
		if (!keep(name ? name : "", user)) {
			cJSON_Delete(cJSON_DetachItemViaPointer(r->checks, c));
			continue;
		}
		if (st_name)
			status_parse(st_name, &st);
		r->status = status_worst(r->status, st);
	}
}

enum status report_status(const struct report *r)
{
	return r->status;
}

size_t report_check_count(const struct report *r)
{
	return (size_t)cJSON_GetArraySize(r->checks);
}

/* "5 checks: 3 ok, 1 warning (db.pool), 1 critical (db.rls)" */
static char *summary_generate(const struct report *r)
{
	struct buf b = {0};
	size_t counts[4] = {0};
	const cJSON *c;
	cJSON_ArrayForEach(c, r->checks)
	{
		enum status st = STATUS_UNKNOWN;
		status_parse(json_path_string(c, "status", "unknown"), &st);
		counts[st]++;
	}
	size_t total = report_check_count(r);
	buf_printf(&b, "%zu check%s", total, total == 1 ? "" : "s");
	const enum status order[] = {STATUS_OK, STATUS_WARNING, STATUS_CRITICAL, STATUS_UNKNOWN};
	const char *sep = ": ";
	for (size_t i = 0; i < ARRAY_LEN(order); i++) {
		enum status st = order[i];
		if (!counts[st])
			continue;
		buf_printf(&b, "%s%zu %s", sep, counts[st], status_name(st));
		sep = ", ";
		if (st == STATUS_OK)
			continue;
		const char *open = " (";
		size_t listed = 0;
		cJSON_ArrayForEach(c, r->checks)
		{
			if (strcmp(json_path_string(c, "status", ""), status_name(st)) != 0)
				continue;
			if (listed++ == 5) {
				buf_puts(&b, ", ...");
				break;
			}
			buf_printf(&b, "%s%s", open, json_path_string(c, "name", "?"));
			open = ", ";
		}
		if (listed)
			buf_putc(&b, ')');
	}
	return buf_take(&b);
}

cJSON *report_to_json(struct report *r)
{
	char ts[RFC3339_LEN];
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "report");
	cJSON_AddStringToObject(doc, "tool", r->tool);
	cJSON_AddStringToObject(doc, "version", SHIPSHAPE_VERSION);
	cJSON_AddStringToObject(doc, "status", status_name(r->status));
	char *summary = r->summary ? estrdup(r->summary) : summary_generate(r);
	cJSON_AddStringToObject(doc, "summary", summary);
	free(summary);
	cJSON_AddStringToObject(doc, "started_at", rfc3339_format(r->started_ms, ts));
	cJSON_AddNumberToObject(doc, "duration_ms", (double)(now_monotonic_ms() - r->started_mono));
	cJSON_AddItemToObject(doc, "checks", cJSON_Duplicate(r->checks, true));
	return doc;
}

/* The plugin guidelines: a label is quoted when it holds a space, an '=' is
 * not allowed in it and a quote inside is doubled. A '|' or a control
 * character (from a target's name) is made '_' too, so that the first '|'
 * of the line stays the only one. */
static void perf_label_print(FILE *out, const char *label)
{
	bool quote = strpbrk(label, " '") != NULL;
	if (quote)
		putc('\'', out);
	for (const unsigned char *p = (const unsigned char *)label; *p; p++) {
		if (*p == '\'')
			fputs("''", out);
		else if (*p == '=' || *p == '|' || *p < 0x20 || *p == 0x7f)
			putc('_', out);
		else
			putc(*p, out);
	}
	if (quote)
		putc('\'', out);
}

static void perf_print(FILE *out, const cJSON *p)
{
	putc(' ', out);
	perf_label_print(out, json_path_string(p, "label", "value"));
	fprintf(out, "=%g%s;", json_path_number(p, "value", 0), json_path_string(p, "uom", ""));
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(p, "warn");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "crit");
	if (w)
		fprintf(out, "%g", w->valuedouble);
	putc(';', out);
	if (c)
		fprintf(out, "%g", c->valuedouble);
}

void nagios_print_status(FILE *out, const char *tool, enum status st, const char *text)
{
	char upper[16];
	const char *name = status_name(st);
	size_t i;
	for (i = 0; name[i] && i < sizeof upper - 1; i++)
		upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	upper[i] = '\0';
	fprintf(out, "%s %s - ", tool, upper);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '|')
			fputs(NAGIOS_BAR, out);
		else if (*p < 0x20 || *p == 0x7f)
			putc(' ', out);
		else
			putc(*p, out);
	}
}

static void print_nagios(struct report *r, FILE *out)
{
	char *summary = r->summary ? estrdup(r->summary) : summary_generate(r);
	/* One line: the worst non-ok message tells the operator what to look at. */
	const char *detail = NULL;
	const cJSON *c;
	cJSON_ArrayForEach(c, r->checks)
	{
		if (strcmp(json_path_string(c, "status", ""), status_name(r->status)) == 0 &&
		    r->status != STATUS_OK) {
			detail = json_path_string(c, "message", NULL);
			break;
		}
	}
	struct buf text = {0};
	buf_puts(&text, summary);
	if (detail && *detail)
		buf_printf(&text, ": %s", detail);
	nagios_print_status(out, r->tool, r->status, text.data);
	buf_free(&text);
	bool bar = false;
	cJSON_ArrayForEach(c, r->checks)
	{
		const cJSON *p;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "perf"))
		{
			if (!bar)
				fputs(" |", out);
			bar = true;
			perf_print(out, p);
		}
	}
	putc('\n', out);
	free(summary);
}

static void print_text(struct report *r, FILE *out)
{
	size_t width = 5;
	const cJSON *c;
	cJSON_ArrayForEach(c, r->checks)
	{
		size_t n = strlen(json_path_string(c, "name", ""));
		if (n > width)
			width = n;
	}
	fprintf(out, "%-8s  %-*s  %8s  %s\n", "STATUS", (int)width, "CHECK", "TIME", "MESSAGE");
	cJSON_ArrayForEach(c, r->checks)
	{
		char upper[16];
		const char *st = json_path_string(c, "status", "unknown");
		size_t i;
		for (i = 0; st[i] && i < sizeof upper - 1; i++)
			upper[i] = (char)(st[i] >= 'a' && st[i] <= 'z' ? st[i] - 32 : st[i]);
		upper[i] = '\0';
		fprintf(out, "%-8s  %-*s  %6.0fms  %s\n", upper, (int)width, json_path_string(c, "name", ""),
			json_path_number(c, "duration_ms", 0), json_path_string(c, "message", ""));
	}
	char *summary = r->summary ? estrdup(r->summary) : summary_generate(r);
	fprintf(out, "%s: %s %s %s\n", r->tool, status_name(r->status), text_dash(), summary);
	free(summary);
}

int report_print(struct report *r, enum output_format fmt, FILE *out)
{
	switch (format_resolve(fmt)) {
	case FORMAT_TEXT:
		print_text(r, out);
		break;
	case FORMAT_NAGIOS:
		print_nagios(r, out);
		break;
	default: {
		cJSON *doc = report_to_json(r);
		int rc = json_print_line(out, doc);
		cJSON_Delete(doc);
		if (rc < 0)
			return -1;
	}
	}
	return ferror(out) ? -1 : 0;
}

int report_doc_status(const cJSON *doc, enum status *st)
{
	const char *kind = json_kind(doc);
	if (!kind || strcmp(kind, "report") != 0)
		return -1;
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "checks")))
		return -1;
	return status_parse(json_path_string(doc, "status", NULL), st);
}

enum output_format format_resolve(enum output_format f)
{
	if (f != FORMAT_AUTO)
		return f;
	return isatty(STDOUT_FILENO) ? FORMAT_TEXT : FORMAT_JSON;
}
