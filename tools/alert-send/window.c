/* window.c — maintenance windows (alerts.maintenance[]): matchers and when
 * they mute, either once (start and end, RFC 3339) or recurring, in
 * Alertmanager's time_intervals model: times of day, weekdays, days of the
 * month (negative from its end), months and years, in an IANA time zone
 * read from the system's tz database. */
#include "alert-send.h"
#include "shipshape/units.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ZONEINFO "/usr/share/zoneinfo"
#define RECHECK_MS (15 * 60000) /* at least this often, whatever the clock did (DST) */






void windows_free(struct window *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].name);
		free(w[i].timezone);
		matchers_free(&w[i].matchers);
		for (size_t k = 0; k < w[i].n_intervals; k++)
			interval_free(&w[i].intervals[k]);
		free(w[i].intervals);
	}
	free(w);
}


static void load_field(struct config *c, const char *path, int k, struct time_interval *iv)
{
	struct key list, item;
	at(&list, "%s.%s", path, interval_field_key(k));
	size_t n = config_list_len(c, list.path);
	iv->ranges[k] = n ? ecalloc(n, sizeof *iv->ranges[k]) : NULL;
	for (size_t i = 0; i < n; i++) {
		const char *v = NULL;
		if (!config_string(c, at(&item, "%s[%zu]", list.path, i), NULL, &v) || !v)
			continue;
		if (!interval_parse_range(k, v, &iv->ranges[k][iv->n_ranges[k]]))
			config_error(c, item.path, "\"%s\": expected %s", v, interval_field_expected(k));
		else
			iv->n_ranges[k]++;
	}
}

static void load_times(struct config *c, const char *path, struct time_interval *iv)
{
	struct key list, ks, ke;
	at(&list, "%s.times", path);
	size_t n = config_list_len(c, list.path);
	iv->times = n ? ecalloc(n, sizeof *iv->times) : NULL;
	for (size_t i = 0; i < n; i++) {
		const char *s = NULL, *e = NULL;
		config_string(c, at(&ks, "%s[%zu].start_time", list.path, i), NULL, &s);
		config_string(c, at(&ke, "%s[%zu].end_time", list.path, i), NULL, &e);
		int lo = 0, hi = 0;
		if (!s || !interval_parse_clock(s, &lo))
			config_error(c, ks.path, "expected a time of day HH:MM, got \"%s\"", s ? s : "");
		else if (!e || !interval_parse_clock(e, &hi))
			config_error(c, ke.path, "expected a time of day HH:MM (24:00: the end of the day), got \"%s\"",
				     e ? e : "");
		else if (hi <= lo)
			config_error(c, ke.path, "%s is not after start_time %s", e, s);
		else
			iv->times[iv->n_times++] = (struct clock_range){lo, hi};
	}
}

static bool zone_exists(const char *tz)
{
	if (!*tz || tz[0] == '/' || strstr(tz, "..") || strlen(tz) > 100)
		return false;
	char *path = easprintf("%s/%s", ZONEINFO, tz);
	bool ok = access(path, R_OK) == 0;
	free(path);
	return ok;
}

static void load_matchers(struct config *c, const char *path, struct window *w)
{
	struct key list, item;
	size_t n = config_list_len(c, at(&list, "%s.matchers", path));
	for (size_t k = 0; k < n; k++) {
		char err[200];
		const char *m = NULL;
		if (config_string(c, at(&item, "%s[%zu]", list.path, k), NULL, &m) && m &&
		    matchers_parse(&w->matchers, m, err, sizeof err) < 0)
			config_error(c, item.path, "%s", err);
	}
	if (!n)
		config_error(c, list.path, "a window needs matchers (which alerts it mutes)");
}

/* start and end, RFC 3339; INT64_MIN when absent (or bad: reported). */
static int64_t time_at(struct config *c, const char *path, const char *name)
{
	struct key k;
	const char *v = NULL;
	int64_t ms = INT64_MIN;
	config_string(c, at(&k, "%s.%s", path, name), NULL, &v);
	if (v && rfc3339_parse(v, &ms) < 0) {
		config_error(c, k.path, "expected an RFC 3339 time, got \"%s\"", v);
		ms = INT64_MIN;
	}
	return ms;
}

static void load_window(struct config *c, size_t i, struct window *w)
{
	struct key p, k;
	const char *name = NULL, *tz = NULL;
	at(&p, "alerts.maintenance[%zu]", i);
	if (!config_string(c, at(&k, "%s.name", p.path), NULL, &name) || !name || !*name)
		config_error(c, k.path, "every maintenance window needs a name");
	w->name = estrdup(name ? name : "?");
	load_matchers(c, p.path, w);
	w->start = time_at(c, p.path, "start");
	w->end = time_at(c, p.path, "end");
	bool one_off = config_at(c, at(&k, "%s.start", p.path)) || config_at(c, at(&k, "%s.end", p.path));
	w->n_intervals = config_list_len(c, at(&k, "%s.times", p.path));
	if (one_off == (w->n_intervals > 0))
		config_error(c, p.path, "a window is either one-off (start and end) or recurring (times), %s",
			     one_off ? "not both" : "one of them");
	else if (one_off && (w->start == INT64_MIN || w->end == INT64_MIN))
		config_error(c, p.path, "a one-off window needs both start and end");
	else if (one_off && w->end <= w->start)
		config_error(c, at(&k, "%s.end", p.path), "end is not after start");
	if (one_off && (w->start == INT64_MIN || w->end == INT64_MIN))
		w->start = w->end = 0; /* refused above: never open */
	w->intervals = w->n_intervals ? ecalloc(w->n_intervals, sizeof *w->intervals) : NULL;
	for (size_t n = 0; n < w->n_intervals; n++) {
		at(&k, "%s.times[%zu]", p.path, n);
		load_times(c, k.path, &w->intervals[n]);
		for (int f = 0; f < TI_FIELDS; f++)
			load_field(c, k.path, f, &w->intervals[n]);
	}
	config_string(c, at(&k, "%s.timezone", p.path), NULL, &tz);
	if (tz && !zone_exists(tz))
		config_error(c, k.path, "unknown time zone \"%s\" (an IANA name under %s, e.g. Europe/Paris)", tz,
			     ZONEINFO);
	w->timezone = estrdup(tz && zone_exists(tz) ? tz : "UTC");
}

void windows_load(struct config *c, struct settings *s)
{
	size_t n = config_list_len(c, "alerts.maintenance");
	s->windows = n ? ecalloc(n, sizeof *s->windows) : NULL;
	for (size_t i = 0; i < n; i++)
		load_window(c, i, &s->windows[s->n_windows++]);
}

/* The local time of t in tz. */
static void local_time(const char *tz, time_t t, struct tm *out)
{
	char *saved = getenv("TZ") ? estrdup(getenv("TZ")) : NULL;
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&t, out);
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}





/* Recurring: active now? valid_until is when to look again. */
static bool recurring_active(const struct window *w, int64_t now, int64_t *valid_until)
{
	struct tm tm;
	local_time(w->timezone, (time_t)(now / 1000), &tm);
	int minute = tm.tm_hour * 60 + tm.tm_min, change = 1440;
	bool active = false;
	for (size_t i = 0; i < w->n_intervals; i++)
		if (interval_day_matches(&w->intervals[i], &tm) && interval_minute_matches(&w->intervals[i], minute, &change))
			active = true;
	int64_t into_minute = (int64_t)tm.tm_sec * 1000 + now % 1000;
	int64_t at = now + (int64_t)(change - minute) * 60000 - into_minute;
	*valid_until = at < now + RECHECK_MS ? at : now + RECHECK_MS;
	return active;
}

bool window_active(struct window *w, int64_t now, int64_t *next)
{
	if (w->start != INT64_MIN) {
		bool on = now >= w->start && now < w->end;
		int64_t change = now < w->start ? w->start : on ? w->end : INT64_MAX;
		if (change < *next)
			*next = change;
		return on;
	}
	if (now >= w->valid_until || now < w->checked_at) {
		w->active = recurring_active(w, now, &w->valid_until);
		w->checked_at = now;
	}
	if (w->valid_until < *next)
		*next = w->valid_until;
	return w->active;
}

const struct window *windows_muting(struct window *w, size_t n, const cJSON *labels, int64_t now, int64_t *next)
{
	const struct window *found = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!matchers_match(&w[i].matchers, labels))
			continue;
		if (window_active(&w[i], now, next) && !found)
			found = &w[i];
	}
	return found;
}
