/* range.h — threshold ranges in monitoring-plugins syntax, for every tool
 * that compares a measured number against warning/critical thresholds.
 *
 *   "10"     alert when the value is below 0 or above 10
 *   "10:"    alert when below 10
 *   "~:10"   alert when above 10
 *   "10:20"  alert when outside 10..20
 *   "@10:20" alert when inside 10..20
 *
 * Bounds are inclusive: with "10", the value 10 is fine and 10.5 alerts. An
 * empty start (":10") means 0, as in monitoring-plugins; "~" is -infinity. */
#ifndef SHIPSHAPE_RANGE_H
#define SHIPSHAPE_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include "shipshape/report.h"

struct range {
	double start, end; /* -INFINITY / INFINITY for an open side */
	bool inside;       /* "@": alert inside the range instead of outside */
};

/* Parses text into r. Returns 0, or -1 for anything that is not a range
 * (garbage, trailing characters, NaN, start above end). */
int range_parse(const char *text, struct range *r);
/* True when value is one the range alerts on. */
bool range_alerts(const struct range *r, double value);
/* The range written back in canonical syntax ("~:10", "@10:20") into buf. */
const char *range_format(const struct range *r, char *buf, size_t size);

/* Why value alerts on r, for a message, into buf: "inside the warning range
 * @10:20" (an "@" range alerts inside it), "outside the critical range 10",
 * "not a number (the warning range is 10:20)". which names the range. */
const char *range_explain(const struct range *r, const char *which, double value, char *buf, size_t size);

/* A range as a perfdata threshold, which is one number there
 * (check_add_perf()): the upper bound of a plain range, else none (NAN);
 * has says whether the range is set at all. */
double range_perf_threshold(const struct range *r, bool has);

/* A warning and a critical range, either possibly absent. */
struct thresholds {
	struct range warning, critical;
	bool has_warning, has_critical;
};

/* critical when the critical range alerts, else warning when the warning
 * range alerts, else ok. */
enum status thresholds_status(const struct thresholds *t, double value);

#endif
