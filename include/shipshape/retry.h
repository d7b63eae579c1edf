/* retry.h — the one retry policy every outbound call of the suite follows:
 * which answers are worth another attempt (no answer, 408, 429, 5xx),
 * exponential backoff with equal jitter, and Retry-After (delta-seconds or
 * an HTTP-date) honoured up to a ceiling. The probe engine (http.c), the
 * REST client (rest.h) and alert-send's deliverer all decide through it.
 * Pure functions: nothing here does I/O, allocates or exits. */
#ifndef SHIPSHAPE_RETRY_H
#define SHIPSHAPE_RETRY_H

#include <stdbool.h>
#include <stdint.h>

struct retry_policy {
	int attempts;               /* attempts in all (>= 1; 0 counts as 1) */
	int64_t initial_ms;         /* the first backoff, doubled after each attempt */
	int64_t max_ms;             /* the backoff's ceiling (0: none) */
	int64_t retry_after_max_ms; /* a longer Retry-After gives up at once (0: no ceiling) */
	bool jitter;                /* equal jitter: half the backoff fixed, half random */
};

/* True for an answer another attempt may mend: none (code 0), 408, 429, 5xx. */
bool retry_transient_code(long code);
/* The backoff after attempt n (1-based) failed: initial_ms * 2^(n-1) up to
 * max_ms, with jitter (rng: the caller's xorshift state, never 0) in
 * [b/2, b]. */
int64_t retry_backoff_ms(const struct retry_policy *rp, int attempt, uint64_t *rng);
/* A Retry-After value as ms from now: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", a past one is 0). -1 when value is NULL
 * or neither. now_epoch_ms is the current time. */
int64_t retry_after_parse_ms(const char *value, int64_t now_epoch_ms);
/* A Ratelimit-Reset value as ms from now: Render documents UTC epoch
 * seconds, others (and Render's own example) send seconds to wait; a value
 * above 10^9 is taken for an epoch. -1 when value is NULL or not a number;
 * at most an hour. */
int64_t retry_ratelimit_reset_ms(const char *value, int64_t now_epoch_ms);
/* After attempt n failed: the wait before the next attempt in ms, or -1 to
 * give up (not transient, attempts used up, a Retry-After beyond the
 * ceiling, or a wait that would pass left_ms; left_ms < 0: no deadline).
 * retry_after_ms < 0: none given; a longer Retry-After wins over the backoff. */
int64_t retry_next_wait_ms(const struct retry_policy *rp, int attempt, bool transient,
			   int64_t retry_after_ms, int64_t left_ms, uint64_t *rng);
/* A fresh xorshift state for retry_backoff_ms(), from the clock and the pid. */
uint64_t retry_seed(void);

#endif
