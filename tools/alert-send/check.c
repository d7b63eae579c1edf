/* check.c — the report of alert-send --check: whether the alerts a deploy
 * would send reach any channel, and whether every channel's config holds. */
#include "alert-send.h"
#include "shipshape/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_NAME "alert-send.channels"

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of the channels in bits, alphabetical (as the deploy script
 * listed them before --check), into names; returns how many. */
static size_t names_of(unsigned bits, const char *names[CH_COUNT])
{
	size_t n = 0;
	for (int i = 0; i < CH_COUNT; i++)
		if (bits & (1u << i))
			names[n++] = channel_names[i];
	qsort(names, n, sizeof *names, compare_names);
	return n;
}

/* "slack, webhook" and ["slack","webhook"] of the channels in bits. */
static char *names_text(unsigned bits, cJSON *list)
{
	const char *names[CH_COUNT];
	size_t n = names_of(bits, names);
	struct buf text = {0};
	for (size_t i = 0; i < n; i++) {
		buf_printf(&text, "%s%s", i ? ", " : "", names[i]);
		cJSON_AddItemToArray(list, cJSON_CreateString(names[i]));
	}
	return buf_take(&text);
}

/* "slack: FILE:LINE:COL: alerts.slack.webhook_url: ...; email: ..." of the
 * channels with a problem of their config, and {"slack": "..."} in invalid. */
static char *problems_text(const struct settings *s, cJSON *invalid)
{
	const char *names[CH_COUNT];
	unsigned bits = 0;
	for (int i = 0; i < CH_COUNT; i++)
		if (s->ch[i].problem)
			bits |= 1u << i;
	size_t n = names_of(bits, names);
	struct buf text = {0};
	for (size_t i = 0; i < n; i++) {
		const struct channel *ch = &s->ch[channel_parse(names[i])];
		buf_printf(&text, "%s%s: %s", i ? "; " : "", ch->name, ch->problem);
		if (ch->problems > 1)
			buf_printf(&text, " (and %u other problem%s)", ch->problems - 1, ch->problems > 2 ? "s" : "");
		cJSON_AddStringToObject(invalid, ch->name, ch->problem);
	}
	return n ? buf_take(&text) : NULL;
}

int channels_report(struct report *r, const struct settings *s, unsigned reached, int64_t duration_ms,
		    enum output_format format)
{
	cJSON *data = cJSON_CreateObject();
	cJSON *invalid = cJSON_AddObjectToObject(data, "invalid");
	char *problems = problems_text(s, invalid);
	cJSON *reached_list = cJSON_AddArrayToObject(data, "channels");
	char *channels = names_text(reached, reached_list);
	char *configured = names_text(settings_configured(s), cJSON_AddArrayToObject(data, "configured"));
	int n_reached = cJSON_GetArraySize(reached_list);
	cJSON *check;
	if (problems)
		check = report_add_check(r, CHECK_NAME, STATUS_CRITICAL, duration_ms, data,
					 "the alert channels are not valid: %s", problems);
	else if (!reached)
		check = report_add_check(r, CHECK_NAME, STATUS_WARNING, duration_ms, data,
					 "no alert channel would be notified: a failed deploy would alert nobody");
	else
		check = report_add_check(r, CHECK_NAME, STATUS_OK, duration_ms, data,
					 "the alert channels are valid: %s (dry run, nothing sent)", channels);
	check_add_perf(check, "channels", n_reached, "", NAN, NAN);
	enum status st = report_status(r);
	report_print(r, format, stdout);
	report_free(r);
	free(problems);
	free(configured);
	free(channels);
	return (int)st;
}
