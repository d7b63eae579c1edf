/* units.c — durations, sizes, clocks and RFC 3339 timestamps. */
#include "shipshape/units.h"
#include "shipshape/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int duration_parse(const char *s, int64_t *ms)
{
	static const struct { const char *unit; double ms; } units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
	};
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -1;
	double total = 0;
	bool any = false;
	const char *p = s;
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0 || !isfinite(v))
			return -1;
		p = end;
		size_t ulen = 0;
		while (isalpha((unsigned char)p[ulen]))
			ulen++;
		if (ulen == 0) {
			/* a bare number means seconds, only alone */
			if (any)
				return -1;
			while (isspace((unsigned char)*p))
				p++;
			if (*p)
				return -1;
			total = v * 1000;
			any = true;
			break;
		}
		size_t i;
		for (i = 0; i < ARRAY_LEN(units); i++)
			if (strlen(units[i].unit) == ulen && strncmp(p, units[i].unit, ulen) == 0)
				break;
		if (i == ARRAY_LEN(units))
			return -1;
		total += v * units[i].ms;
		p += ulen;
		any = true;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (!any || total > 9.2e18)
		return -1;
	*ms = (int64_t)llround(total);
	return 0;
}

const char *duration_format(int64_t ms, char *buf, size_t size)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{'d', 86400000}, {'h', 3600000}, {'m', 60000}, {'s', 1000},
	};
	size_t len = 0;
	buf[0] = '\0';
	if (ms < 0 || (ms > 0 && ms < 1000) || ms % 1000) {
		snprintf(buf, size, "%lldms", (long long)ms);
		return buf;
	}
	if (ms == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	for (size_t i = 0; i < ARRAY_LEN(units) && len < size; i++) {
		if (ms >= units[i].ms) {
			len += (size_t)snprintf(buf + len, size - len, "%lld%c",
						(long long)(ms / units[i].ms), units[i].unit);
			ms %= units[i].ms;
		}
	}
	return buf;
}

int size_parse(const char *s, int64_t *bytes)
{
	static const struct { const char *unit; double mult; } units[] = {
		{"", 1}, {"b", 1},
		{"k", 1024}, {"kb", 1024}, {"kib", 1024},
		{"m", 1048576}, {"mb", 1048576}, {"mib", 1048576},
		{"g", 1073741824.0}, {"gb", 1073741824.0}, {"gib", 1073741824.0},
		{"t", 1099511627776.0}, {"tb", 1099511627776.0}, {"tib", 1099511627776.0},
	};
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || v < 0 || !isfinite(v))
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	char unit[8];
	size_t n = strlen(end);
	while (n && isspace((unsigned char)end[n - 1]))
		n--;
	if (n >= sizeof unit)
		return -1;
	for (size_t i = 0; i < n; i++)
		unit[i] = (char)tolower((unsigned char)end[i]);
	unit[n] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			double b = v * units[i].mult;
			if (b > 9.2e18)
				return -1;
			*bytes = (int64_t)llround(b);
			return 0;
		}
	}
	return -1;
}

int64_t now_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_epoch_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *rfc3339_format(int64_t epoch_ms, char *buf)
{
	time_t secs = (time_t)(epoch_ms / 1000);
	int millis = (int)(epoch_ms % 1000);
	if (millis < 0) {
		millis += 1000;
		secs -= 1;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(buf, RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
	return buf;
}

int rfc3339_parse(const char *s, int64_t *epoch_ms)
{
	int y, mo, d, h, mi, sec, used = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	const char *p = s + used;
	double frac = 0;
	if (*p == '.') {
		char *end;
		frac = strtod(p, &end);
		if (end == p + 1)
			return -1;
		p = end;
	}
	int offset_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, n = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
			return -1;
		offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = sec};
	time_t t = timegm(&tm);
	*epoch_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + (int64_t)llround(frac * 1000);
	return 0;
}
