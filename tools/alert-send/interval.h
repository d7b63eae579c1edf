/* interval.h — the time intervals of a maintenance window, Alertmanager's
 * time_intervals model: times of day, weekdays, days of the month, months
 * and years. Pure: parsing one value and judging one local time; no config,
 * no clock, no time zone (window.c has those). */
#ifndef SHIPSHAPE_ALERT_INTERVAL_H
#define SHIPSHAPE_ALERT_INTERVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct int_range { int lo, hi; };
struct clock_range { int start, end; }; /* minutes of the day, end excluded */
enum { TI_WEEKDAYS, TI_DAYS, TI_MONTHS, TI_YEARS, TI_FIELDS };
struct time_interval {                  /* Alertmanager's time_intervals entry */
	struct clock_range *times;
	size_t n_times;                     /* 0: all day */
	struct int_range *ranges[TI_FIELDS]; /* weekdays 0-6 from Sunday, days (negative: from the end), months 1-12, years */
	size_t n_ranges[TI_FIELDS];         /* 0: any */
};

/* The config key of field f ("weekdays", ...) and what a value of it looks like. */
const char *interval_field_key(int f);
const char *interval_field_expected(int f);

/* One value of field f, "a" or "a:b" (names or numbers), into r: false when
 * it is not one or is out of the field's range. */
bool interval_parse_range(int f, const char *s, struct int_range *r);

/* "HH:MM", 00:00 to 24:00, in minutes. */
bool interval_parse_clock(const char *s, int *minutes);

/* Whether the day of tm (a local time) is one of iv's. */
bool interval_day_matches(const struct time_interval *iv, const struct tm *tm);

/* Whether iv holds at minute m of a matching day; lowers *change (a minute
 * of the day, at most 1440) to the next minute at which that may change. */
bool interval_minute_matches(const struct time_interval *iv, int m, int *change);

void interval_free(struct time_interval *iv);

#endif
