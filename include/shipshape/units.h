/* units.h — durations, sizes and time: parse, format, RFC 3339. */
#ifndef SHIPSHAPE_UNITS_H
#define SHIPSHAPE_UNITS_H

#include <stdint.h>
#include <time.h>

/* Parses "500ms", "30s", "15m", "1h", "90d", "1h30m", "1.5s"; a bare number
 * means seconds. Each number is decimal digits with an optional fraction:
 * no sign, hex, exponent, inf or nan. Returns 0 and the value in
 * milliseconds, or -1 (also when it is beyond int64 milliseconds). */
int duration_parse(const char *s, int64_t *ms);
/* A duration given as a number of seconds (a JSON number): 0 and the value
 * in milliseconds, or -1 when negative, NaN or beyond int64 milliseconds. */
int duration_from_seconds(double seconds, int64_t *ms);
/* Formats milliseconds compactly ("1h30m", "500ms") into buf. */
const char *duration_format(int64_t ms, char *buf, size_t size);

/* Parses "512", "10k", "10KB", "10KiB", "4M", "1G": every unit is binary
 * (k, K, KB and KiB are all 1024, as shipshape.yaml(5) says). The number is
 * decimal digits with an optional fraction, as for durations; -1 for
 * anything else or a size beyond int64. */
int size_parse(const char *s, int64_t *bytes);

/* Milliseconds on the monotonic clock, for measuring durations. */
int64_t now_monotonic_ms(void);
/* Sleeps ms milliseconds (nothing for ms <= 0), the whole time: a signal
 * that interrupts it does not cut it short. The one sleep of the suite. */
void sleep_ms(int64_t ms);
/* Milliseconds since the epoch on the real clock. */
int64_t now_epoch_ms(void);
/* Formats epoch milliseconds as RFC 3339 UTC with milliseconds:
 * 2026-11-28T22:51:13.123Z. buf must hold RFC3339_LEN bytes. */
#define RFC3339_LEN 64
const char *rfc3339_format(int64_t epoch_ms, char *buf);
/* Parses RFC 3339 (Z or ±hh:mm offset, optional fraction of digits only,
 * rounded to milliseconds); -1 on error, including a day the month lacks. */
int rfc3339_parse(const char *s, int64_t *epoch_ms);

#endif
