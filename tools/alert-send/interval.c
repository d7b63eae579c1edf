/* interval.c — the time intervals of maintenance windows (interval.h):
 * one value of a field, a time of day, and whether a local time is in. */
#include "interval.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const weekday_names[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
					    "saturday"};
static const char *const month_names[] = {"january", "february", "march",     "april",   "may",      "june",
					  "july",    "august",   "september", "october", "november", "december"};

static const struct field {
	const char *key;
	const char *const *names;
	size_t n_names;
	int base, lo, hi;
	bool no_zero;
	const char *expected;
} fields[TI_FIELDS] = {
	[TI_WEEKDAYS] = {"weekdays", weekday_names, 7, 0, 0, 6, false, "a weekday or weekday:weekday (monday:friday)"},
	[TI_DAYS] = {"days_of_month", NULL, 0, 0, -31, 31, true, "a day or day:day, 1 to 31 or -31 to -1 (from the end)"},
	[TI_MONTHS] = {"months", month_names, 12, 1, 1, 12, false, "a month or month:month (january:march, 1:3)"},
	[TI_YEARS] = {"years", NULL, 0, 0, 1970, 9999, false, "a year or year:year (2026:2027)"},
};

const char *interval_field_key(int f)
{
	return fields[f].key;
}

const char *interval_field_expected(int f)
{
	return fields[f].expected;
}

/* A number, or one of d's names (its index + base). */
static bool parse_value(const struct field *d, const char *s, size_t len, int *out)
{
	for (size_t i = 0; d->names && i < d->n_names; i++)
		if (strlen(d->names[i]) == len && strncasecmp(s, d->names[i], len) == 0)
			return *out = (int)i + d->base, true;
	char buf[16], *end;
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	long v = strtol(buf, &end, 10);
	if (*end || v < -100000 || v > 100000)
		return false;
	*out = (int)v;
	return true;
}

bool interval_parse_range(int f, const char *s, struct int_range *r)
{
	const struct field *d = &fields[f];
	const char *colon = strchr(s, ':');
	size_t first = colon ? (size_t)(colon - s) : strlen(s);
	if (!parse_value(d, s, first, &r->lo))
		return false;
	r->hi = r->lo;
	if (colon && !parse_value(d, colon + 1, strlen(colon + 1), &r->hi))
		return false;
	bool ok = r->lo >= d->lo && r->lo <= d->hi && r->hi >= d->lo && r->hi <= d->hi &&
		  !(d->no_zero && (!r->lo || !r->hi));
	/* days of the month: both from the start or both from the end, in order */
	return ok && (r->lo <= r->hi || (r->lo > 0 && r->hi < 0));
}

bool interval_parse_clock(const char *s, int *minutes)
{
	if (strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && !isdigit((unsigned char)s[i]))
			return false;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h * 60 + m > 1440)
		return false;
	*minutes = h * 60 + m;
	return true;
}

static int days_in_month(int year, int month) /* month 1..12 */
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

static bool in_ranges(const struct int_range *r, size_t n, int v)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

bool interval_day_matches(const struct time_interval *iv, const struct tm *tm)
{
	int mlen = days_in_month(tm->tm_year + 1900, tm->tm_mon + 1);
	bool dom = !iv->n_ranges[TI_DAYS];
	for (size_t i = 0; i < iv->n_ranges[TI_DAYS]; i++) {
		int lo = iv->ranges[TI_DAYS][i].lo, hi = iv->ranges[TI_DAYS][i].hi;
		lo = lo < 0 ? mlen + 1 + lo : lo;
		hi = hi < 0 ? mlen + 1 + hi : hi;
		dom = dom || (tm->tm_mday >= lo && tm->tm_mday <= hi);
	}
	return dom && in_ranges(iv->ranges[TI_WEEKDAYS], iv->n_ranges[TI_WEEKDAYS], tm->tm_wday) &&
	       in_ranges(iv->ranges[TI_MONTHS], iv->n_ranges[TI_MONTHS], tm->tm_mon + 1) &&
	       in_ranges(iv->ranges[TI_YEARS], iv->n_ranges[TI_YEARS], tm->tm_year + 1900);
}

bool interval_minute_matches(const struct time_interval *iv, int m, int *change)
{
	if (!iv->n_times)
		return true;
	bool in = false;
	for (size_t i = 0; i < iv->n_times; i++) {
		const struct clock_range *t = &iv->times[i];
		if (m >= t->start && m < t->end) {
			in = true;
			*change = t->end < *change ? t->end : *change;
		} else if (t->start > m && t->start < *change) {
			*change = t->start;
		}
	}
	return in;
}

void interval_free(struct time_interval *iv)
{
	free(iv->times);
	for (int k = 0; k < TI_FIELDS; k++)
		free(iv->ranges[k]);
}
