/* fuzz_interval.c — the time intervals of maintenance windows
 * (tools/alert-send/interval.c, built in here). The input is items split
 * by ';': FIELD=VALUE for weekdays, days_of_month, months and years,
 * times=HH:MM-HH:MM, and at=YYYY-MM-DDTHH:MM, the local time to judge.
 * A value taken is within its field and reads back the same written as
 * numbers; a time of day is HH:MM within the day; and the minute at which
 * a judgement may change is after now, within the day, and no minute
 * before it is judged otherwise. */
#include "fuzz.h"
#include "../../tools/alert-send/interval.c"

#define MAX_ITEMS 64

static void check_range(int f, const struct int_range *r)
{
	static const int lo[] = {0, -31, 1, 1970}, hi[] = {6, 31, 12, 9999};
	FUZZ_CHECK(r->lo >= lo[f] && r->lo <= hi[f] && r->hi >= lo[f] && r->hi <= hi[f]);
	FUZZ_CHECK(r->lo <= r->hi || (f == TI_DAYS && r->lo > 0 && r->hi < 0));
	FUZZ_CHECK(f != TI_DAYS || (r->lo && r->hi));
	char again[32];
	struct int_range back;
	snprintf(again, sizeof again, "%d:%d", r->lo, r->hi);
	FUZZ_CHECK(interval_parse_range(f, again, &back) && back.lo == r->lo && back.hi == r->hi);
}

static void add_times(struct time_interval *iv, char *v)
{
	char *dash = strchr(v, '-');
	if (!dash)
		return;
	*dash = '\0';
	int start, end;
	if (!interval_parse_clock(v, &start) || !interval_parse_clock(dash + 1, &end) || end <= start)
		return;
	FUZZ_CHECK(start >= 0 && end <= 1440);
	char again[8];
	int back;
	snprintf(again, sizeof again, "%02d:%02d", end / 60, end % 60);
	FUZZ_CHECK(interval_parse_clock(again, &back) && back == end);
	iv->times[iv->n_times++] = (struct clock_range){start, end};
}

/* "YYYY-MM-DDTHH:MM" into tm (normalised, weekday set); false if not one. */
static bool parse_at(const char *v, struct tm *tm, int *minute)
{
	int y, mo, d, h, mi;
	char tail;
	if (sscanf(v, "%4d-%2d-%2dT%2d:%2d%c", &y, &mo, &d, &h, &mi, &tail) != 5 || y < 1970 || mo < 1 || mo > 12 ||
	    d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59)
		return false;
	*tm = (struct tm){.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
	time_t t = timegm(tm);
	gmtime_r(&t, tm);
	*minute = tm->tm_hour * 60 + tm->tm_min;
	return true;
}

static void judge(const struct time_interval *iv, const struct tm *tm, int minute)
{
	(void)interval_day_matches(iv, tm);
	int change = 1440;
	bool in = interval_minute_matches(iv, minute, &change);
	FUZZ_CHECK(change > minute && change <= 1440);
	FUZZ_CHECK(iv->n_times || (in && change == 1440));
	for (int k = minute + 1; k < change; k++) {
		int ignored = 1440;
		FUZZ_CHECK(interval_minute_matches(iv, k, &ignored) == in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), *save = NULL;
	struct time_interval iv = {.times = calloc(MAX_ITEMS, sizeof *iv.times)};
	for (int f = 0; f < TI_FIELDS; f++)
		iv.ranges[f] = calloc(MAX_ITEMS, sizeof *iv.ranges[f]);
	struct tm tm = {.tm_year = 126, .tm_mon = 11, .tm_mday = 3, .tm_wday = 4};
	int minute = 0, items = 0;
	for (char *item = strtok_r(s, ";", &save); item && items < MAX_ITEMS; item = strtok_r(NULL, ";", &save)) {
		items++;
		char *eq = strchr(item, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *v = eq + 1;
		if (strcmp(item, "times") == 0)
			add_times(&iv, v);
		else if (strcmp(item, "at") == 0)
			parse_at(v, &tm, &minute);
		for (int f = 0; f < TI_FIELDS; f++)
			if (strcmp(item, interval_field_key(f)) == 0 &&
			    interval_parse_range(f, v, &iv.ranges[f][iv.n_ranges[f]]))
				check_range(f, &iv.ranges[f][iv.n_ranges[f]++]);
	}
	judge(&iv, &tm, minute);
	interval_free(&iv);
	free(s);
	return 0;
}
