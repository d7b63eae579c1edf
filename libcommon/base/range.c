/* range.c — monitoring-plugins threshold ranges ("10", "10:", "~:10", "@10:20"). */
#include "shipshape/range.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One bound: a whole decimal number from s up to end; empty is not one. */
static int parse_number(const char *s, const char *end, double *v)
{
	char tmp[64];
	size_t n = (size_t)(end - s);
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	/* strtod would take "inf", "nan" and hex floats; thresholds are plain decimals */
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-.eE", tmp[i]))
			return -1;
	char *stop;
	errno = 0;
	*v = strtod(tmp, &stop);
	if (stop == tmp || *stop || errno == ERANGE || !isfinite(*v))
		return -1;
	return 0;
}

int range_parse(const char *text, struct range *r)
{
	if (!text)
		return -1;
	struct range out = {.start = 0, .end = INFINITY, .inside = false};
	const char *p = text;
	if (*p == '@') {
		out.inside = true;
		p++;
	}
	const char *colon = strchr(p, ':');
	const char *end_text = p;
	if (colon) {
		if (colon - p == 1 && *p == '~')
			out.start = -INFINITY;
		else if (colon > p && parse_number(p, colon, &out.start) < 0)
			return -1;
		end_text = colon + 1;
		if (strchr(end_text, ':') || (colon == p && !*end_text))
			return -1;
		if (*end_text && parse_number(end_text, end_text + strlen(end_text), &out.end) < 0)
			return -1;
	} else if (parse_number(p, p + strlen(p), &out.end) < 0) {
		return -1;
	}
	if (out.start > out.end)
		return -1;
	*r = out;
	return 0;
}

bool range_alerts(const struct range *r, double value)
{
	bool within = value >= r->start && value <= r->end;
	if (isnan(value))
		return true;
	return r->inside ? within : !within;
}

const char *range_format(const struct range *r, char *buf, size_t size)
{
	const char *at = r->inside ? "@" : "";
	if (isinf(r->start) && isinf(r->end))
		snprintf(buf, size, "%s~:", at);
	else if (isinf(r->start))
		snprintf(buf, size, "%s~:%g", at, r->end);
	else if (isinf(r->end))
		snprintf(buf, size, "%s%g:", at, r->start);
	else if (r->start == 0 && !r->inside)
		snprintf(buf, size, "%g", r->end);
	else
		snprintf(buf, size, "%s%g:%g", at, r->start, r->end);
	return buf;
}

const char *range_explain(const struct range *r, const char *which, double value, char *buf, size_t size)
{
	char text[96];
	range_format(r, text, sizeof text);
	if (isnan(value))
		snprintf(buf, size, "not a number (the %s range is %s)", which, text);
	else
		snprintf(buf, size, "%s the %s range %s", r->inside ? "inside" : "outside", which, text);
	return buf;
}

double range_perf_threshold(const struct range *r, bool has)
{
	return has && !r->inside && !isinf(r->end) ? r->end : NAN;
}

enum status thresholds_status(const struct thresholds *t, double value)
{
	if (t->has_critical && range_alerts(&t->critical, value))
		return STATUS_CRITICAL;
	if (t->has_warning && range_alerts(&t->warning, value))
		return STATUS_WARNING;
	return STATUS_OK;
}
