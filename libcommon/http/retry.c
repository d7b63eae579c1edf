/* retry.c — the one retry policy (retry.h): transient answers, backoff
 * with equal jitter, Retry-After. Calls nothing in http/, so both the
 * engine (http.c) and the REST client (rest.c) can use it. */
#include "shipshape/retry.h"
#include "shipshape/units.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <unistd.h>

bool retry_transient_code(long code)
{
	return code == 0 || code == 408 || code == 429 || code >= 500;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

uint64_t retry_seed(void)
{
	return ((uint64_t)now_epoch_ms() * 2654435761u) ^ ((uint64_t)getpid() << 32) ^ 1;
}

int64_t retry_backoff_ms(const struct retry_policy *rp, int attempt, uint64_t *rng)
{
	int64_t b = rp->initial_ms > 0 ? rp->initial_ms : 0;
	int64_t ceiling = rp->max_ms > 0 ? rp->max_ms : 3600000;
	for (int i = 1; i < attempt && b < ceiling; i++)
		b *= 2;
	if (b > ceiling)
		b = ceiling;
	if (!rp->jitter || !rng || b < 2)
		return b;
	/* Equal jitter: many senders that failed together do not come back
	 * together, and none comes back sooner than half the backoff. */
	return b / 2 + (int64_t)(xorshift(rng) % (uint64_t)(b / 2 + 1));
}

int64_t retry_after_parse_ms(const char *value, int64_t now_epoch_ms)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	char *end;
	if (*value >= '0' && *value <= '9') {
		long long secs = strtoll(value, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		return *end || secs > 86400LL * 365 ? -1 : secs * 1000;
	}
	time_t when = curl_getdate(value, NULL);
	if (when < 0 || when > 253402300799) /* after 9999-12-31: not a date to wait for */
		return -1;
	int64_t ms = (int64_t)when * 1000 - now_epoch_ms;
	return ms > 0 ? ms : 0;
}

int64_t retry_ratelimit_reset_ms(const char *value, int64_t now_epoch_ms)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value < '0' || *value > '9')
		return -1;
	char *end;
	long long n = strtoll(value, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
		end++;
	if (*end || n < 0 || n > 100000000000LL) /* past year 5000: not a reset */
		return -1;
	int64_t ms = n > 1000000000LL ? n * 1000 - now_epoch_ms : n * 1000;
	if (ms < 0)
		ms = 0;
	return ms > 3600000 ? 3600000 : ms;
}

int64_t retry_next_wait_ms(const struct retry_policy *rp, int attempt, bool transient,
			   int64_t retry_after_ms, int64_t left_ms, uint64_t *rng)
{
	int attempts = rp->attempts > 0 ? rp->attempts : 1;
	if (!transient || attempt >= attempts)
		return -1;
	if (retry_after_ms >= 0 && rp->retry_after_max_ms > 0 && retry_after_ms > rp->retry_after_max_ms)
		return -1;
	int64_t wait = retry_backoff_ms(rp, attempt, rng);
	if (retry_after_ms > wait)
		wait = retry_after_ms;
	if (left_ms >= 0 && wait >= left_ms)
		return -1;
	return wait;
}
