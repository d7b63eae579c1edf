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

/* Reads decimal digits with an optional fraction ("10", "1.5", ".25") at *pp
 * and gives value x mult, rounded to the nearest integer, advancing *pp.
 * Only digits and one point: strtod would also take hex, exponents, inf and
 * nan. -1 when there is no number or the product leaves int64. */
static int decimal_times(const char **pp, int64_t mult, int64_t *out)
{
	const char *p = *pp;
	uint64_t whole = 0;
	bool digits = false, overflow = false;
	for (; isdigit((unsigned char)*p); p++) {
		digits = true;
		if (whole > (UINT64_MAX - 9) / 10)
			overflow = true;
		else
			whole = whole * 10 + (uint64_t)(*p - '0');
	}
	unsigned __int128 frac = 0, scale = 1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		/* 18 digits are past any unit's precision; the rest only round */
		for (int n = 0; isdigit((unsigned char)*p); p++, n++)
			if (n < 18)
				frac = frac * 10 + (unsigned)(*p - '0'), scale *= 10;
		digits = true;
	}
	if (!digits || overflow)
		return -1;
	unsigned __int128 total = (unsigned __int128)whole * (uint64_t)mult +
				  (frac * (uint64_t)mult + scale / 2) / scale;
	if (total > INT64_MAX)
		return -1;
	*out = (int64_t)total;
	*pp = p;
	return 0;
}

int duration_parse(const char *s, int64_t *ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
	};
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	int64_t total = 0;
	bool any = false;
	const char *p = s;
	while (*p) {
		const char *num_end = p;
		while (isdigit((unsigned char)*num_end) || *num_end == '.')
			num_end++;
		size_t ulen = 0;
		while (isalpha((unsigned char)num_end[ulen]))
			ulen++;
		int64_t mult = 0;
		if (ulen == 0) {
			/* a bare number means seconds, only alone */
			const char *rest = num_end;
			while (isspace((unsigned char)*rest))
				rest++;
			if (any || *rest)
				return -1;
			mult = 1000;
		}
		for (size_t i = 0; ulen && i < ARRAY_LEN(units); i++)
			if (strlen(units[i].unit) == ulen && strncmp(num_end, units[i].unit, ulen) == 0)
				mult = units[i].ms;
		int64_t v;
		if (!mult || decimal_times(&p, mult, &v) < 0 || p != num_end || v > INT64_MAX - total)
			return -1;
		total += v;
		any = true;
		p = num_end + ulen;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (!any)
		return -1;
	*ms = total;
	return 0;
}

int duration_from_seconds(double seconds, int64_t *ms)
{
	/* 9.2e15 s is int64's reach in milliseconds; the test is false for NaN */
	if (!(seconds >= 0 && seconds < 9.2e15))
		return -1;
	*ms = (int64_t)llround(seconds * 1000.0);
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
	static const struct { const char *unit; int64_t mult; } units[] = {
		{"", 1}, {"b", 1},
		{"k", 1LL << 10}, {"kb", 1LL << 10}, {"kib", 1LL << 10},
		{"m", 1LL << 20}, {"mb", 1LL << 20}, {"mib", 1LL << 20},
		{"g", 1LL << 30}, {"gb", 1LL << 30}, {"gib", 1LL << 30},
		{"t", 1LL << 40}, {"tb", 1LL << 40}, {"tib", 1LL << 40},
	};
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	const char *end = s;
	while (isdigit((unsigned char)*end) || *end == '.')
		end++;
	const char *u = end;
	while (isspace((unsigned char)*u))
		u++;
	char unit[8];
	size_t n = strlen(u);
	while (n && isspace((unsigned char)u[n - 1]))
		n--;
	if (n >= sizeof unit)
		return -1;
	for (size_t i = 0; i < n; i++)
		unit[i] = (char)tolower((unsigned char)u[i]);
	unit[n] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			const char *p = s;
			int64_t b;
			if (decimal_times(&p, units[i].mult, &b) < 0 || p != end)
				return -1;
			*bytes = b;
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

void sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec left = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	/* a signal's handler ran: sleep what is left */
	while (nanosleep(&left, &left) < 0 && errno == EINTR)
		;
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

/* The value of exactly n digits at p, or -1. */
static int fixed_digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

int rfc3339_parse(const char *s, int64_t *epoch_ms)
{
	/* YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm), each field its exact
	 * width: sscanf would take signs and spaces, strtod an exponent */
	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || !strchr("Tt ", s[10]) ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	int y = fixed_digits(s, 4), mo = fixed_digits(s + 5, 2), d = fixed_digits(s + 8, 2);
	int h = fixed_digits(s + 11, 2), mi = fixed_digits(s + 14, 2), sec = fixed_digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -1;
	const char *p = s + 19;
	int millis = 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		/* milliseconds from the first three digits, rounded by the fourth */
		int n = 0;
		for (; isdigit((unsigned char)*p); p++, n++) {
			if (n < 3)
				millis = millis * 10 + (*p - '0');
			else if (n == 3 && *p >= '5')
				millis++;
		}
		for (; n < 3; n++)
			millis *= 10;
	}
	int offset_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh = fixed_digits(p + 1, 2), om = oh < 0 || p[3] != ':' ? -1 : fixed_digits(p + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
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
	*epoch_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + millis;
	return 0;
}
