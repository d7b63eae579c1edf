/* deliver.c — getting notifications out: one queue per channel (in order,
 * one at a time, so a resolve never overtakes its firing; the channels in
 * parallel), the HTTP channels through the suite's REST client (rest.h:
 * retries under the one retry policy, Retry-After, bounded bodies,
 * timeouts), email through libcurl's SMTP driven from the same poll, and
 * the spool: every notification is written there, fsync'd, before its first
 * attempt and removed only once delivered, so no crash or kill loses it. */
#include "alert-send.h"
#include "shipshape/http.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/rest.h"
#include "shipshape/retry.h"
#include "shipshape/spool.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/select.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERROR_BODY_MAX 200

struct job {
	struct job *next;
	enum channel_id ch;
	char *path;            /* the spool item, NULL when not spooled */
	cJSON *doc;            /* the notification; read from path when claimed */
	int attempts;
	int64_t not_before;    /* monotonic ms */
	int lock_fd;
	bool running;
	bool resting;          /* back from the spool for a periodic retry: if the
				  channel is still down it goes back quietly */
	CURL *easy;            /* email: its transfer (HTTP channels: a call of the REST client) */
	struct curl_slist *rcpt;
	char *body;
	size_t body_len, body_off;
	char errbuf[CURL_ERROR_SIZE];
	int64_t started;
	char *url;             /* the request URL (alertmanager: base + path) */
};

struct deliverer {
	struct deliver_opts o;
	struct rest_client *rest;     /* the HTTP channels' calls */
	CURLM *smtp;                  /* email's transfers */
	unsigned smtp_running;
	struct job *head[CH_COUNT], *tail[CH_COUNT];
	struct job *held[CH_COUNT];   /* given up on and not spooled: in memory only */
	bool spool_failing;           /* the last spool write failed (said once per streak) */
	int64_t down_until[CH_COUNT]; /* monotonic: after a give-up, new items go to the spool at once */
	bool was_down[CH_COUNT];
	bool retry_spool;      /* long-running: retry a down channel's spool each max_backoff */
	char **spooled;        /* items counted as spooled by this process */
	size_t n_spooled, cap_spooled;
	struct deliver_counts counts;
	uint64_t rng;
};

/* ---- queues ---- */

static void job_free(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy); /* the caller removed it from the multi handle */
	curl_slist_free_all(j->rcpt);
	free(j->body);
	cJSON_Delete(j->doc);
	free(j->path);
	free(j->url);
	if (j->lock_fd >= 0)
		spool_release(j->lock_fd);
	free(j);
}

static void enqueue(struct deliverer *d, struct job *j)
{
	j->next = NULL;
	if (d->tail[j->ch])
		d->tail[j->ch]->next = j;
	else
		d->head[j->ch] = j;
	d->tail[j->ch] = j;
}

static struct job *unqueue(struct deliverer *d, enum channel_id ch)
{
	struct job *j = d->head[ch];
	d->head[ch] = j->next;
	if (!d->head[ch])
		d->tail[ch] = NULL;
	j->next = NULL;
	return j;
}

static void pop(struct deliverer *d, enum channel_id ch)
{
	job_free(unqueue(d, ch));
}

static bool queued(const struct deliverer *d, enum channel_id ch, const char *path)
{
	for (const struct job *j = d->head[ch]; j; j = j->next)
		if (j->path && strcmp(j->path, path) == 0)
			return true;
	return false;
}

static struct job *job_new(enum channel_id ch, char *path, cJSON *doc)
{
	struct job *j = ecalloc(1, sizeof *j);
	j->ch = ch;
	j->path = path;
	j->doc = doc;
	j->lock_fd = -1;
	return j;
}

/* The counts behind the exit status: an item spooled and later delivered
 * by this same process counts as delivered only. */
static void count_spooled(struct deliverer *d, const char *path)
{
	for (size_t i = 0; i < d->n_spooled; i++)
		if (strcmp(d->spooled[i], path) == 0)
			return;
	if (d->n_spooled == d->cap_spooled) {
		d->cap_spooled = d->cap_spooled ? d->cap_spooled * 2 : 16;
		d->spooled = erealloc(d->spooled, d->cap_spooled * sizeof *d->spooled);
	}
	d->spooled[d->n_spooled++] = estrdup(path);
	d->counts.spooled++;
}

static void count_delivered(struct deliverer *d, const char *path)
{
	d->counts.delivered++;
	for (size_t i = 0; path && i < d->n_spooled; i++) {
		if (strcmp(d->spooled[i], path) == 0) {
			free(d->spooled[i]);
			d->spooled[i] = d->spooled[--d->n_spooled];
			d->counts.spooled--;
			return;
		}
	}
}

/* An item's document without claiming it, for a record about it. */
static cJSON *spool_read_path_doc(const char *path)
{
	char err[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	cJSON *doc = spool_read(fd, err, sizeof err);
	close(fd);
	return doc;
}

/* ---- records ---- */

static cJSON *record_new(struct deliverer *d, const struct job *j, const char *status)
{
	const struct channel *c = &d->o.s->ch[j->ch];
	cJSON *r = cJSON_CreateObject();
	char t[RFC3339_LEN];
	cJSON_AddStringToObject(r, "kind", "delivery");
	cJSON_AddStringToObject(r, "time", rfc3339_format(now_epoch_ms(), t));
	cJSON_AddStringToObject(r, "status", status);
	cJSON_AddStringToObject(r, "channel", c->name);
	/* Only the host: webhook URLs carry their secret in the path. */
	if (c->host)
		cJSON_AddStringToObject(r, "destination", c->host);
	if (j->doc) {
		cJSON_AddStringToObject(r, "notification", json_path_string(j->doc, "id", ""));
		if (json_path_bool(j->doc, "test", false))
			cJSON_AddBoolToObject(r, "test", true);
		int firing = 0, resolved = 0;
		cJSON *fps = cJSON_CreateArray();
		const cJSON *a;
		const char *reason = NULL;
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(j->doc, "alerts")) {
			if (strcmp(json_path_string(a, "status", ""), "resolved") == 0)
				resolved++;
			else
				firing++;
			cJSON_AddItemToArray(fps, cJSON_CreateString(json_path_string(a, "fingerprint", "")));
			if (!reason)
				reason = json_path_string(a, "notify.reason", NULL);
		}
		char *title = notification_title(j->doc);
		cJSON_AddStringToObject(r, "title", title);
		free(title);
		cJSON_AddNumberToObject(r, "alerts", firing + resolved);
		cJSON_AddNumberToObject(r, "firing", firing);
		cJSON_AddNumberToObject(r, "resolved", resolved);
		if (reason)
			cJSON_AddStringToObject(r, "reason", reason);
		cJSON_AddItemToObject(r, "fingerprints", fps);
	}
	if (j->attempts)
		cJSON_AddNumberToObject(r, "attempt", j->attempts);
	return r;
}

static void add_error(cJSON *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(cJSON *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char *clean = redact_string(msg);
	cJSON_AddStringToObject(r, "error", clean);
	free(clean);
}

/* ---- the spool ---- */

static int channel_of_item(const char *path)
{
	const char *dash = strrchr(path, '-');
	if (!dash)
		return -1;
	char name[32];
	size_t n = strcspn(dash + 1, ".");
	if (n >= sizeof name)
		return -1;
	memcpy(name, dash + 1, n);
	name[n] = '\0';
	return channel_parse(name);
}

/* Queues the spool's items (of channel only, or all when -1); resting
 * marks them as a periodic retry's. Returns how many were queued. */
static size_t load_spool_channel(struct deliverer *d, int only, bool resting)
{
	size_t queued_now = 0;
	char **paths;
	size_t n;
	if (!d->o.spool_dir)
		return 0;
	if (spool_list(d->o.spool_dir, &paths, &n) < 0) {
		error_msg("unable to read the spool %s: %s", d->o.spool_dir, strerror(errno));
		return 0;
	}
	unsigned unconfigured[CH_COUNT] = {0};
	for (size_t i = 0; i < n; i++) {
		int ch = channel_of_item(paths[i]);
		if (ch < 0 || (only >= 0 && ch != only) || queued(d, (enum channel_id)ch, paths[i])) {
			free(paths[i]);
			continue;
		}
		if (!d->o.s->ch[ch].configured) {
			unconfigured[ch]++;
			free(paths[i]);
			continue;
		}
		struct job *j = job_new((enum channel_id)ch, paths[i], NULL);
		j->resting = resting;
		enqueue(d, j);
		queued_now++;
	}
	free(paths);
	for (int c = 0; c < CH_COUNT; c++) {
		if (!unconfigured[c])
			continue;
		warnx_("%u spooled notification%s for the %s channel, which is not configured, stay in %s",
		       unconfigured[c], unconfigured[c] == 1 ? "" : "s", channel_names[c], d->o.spool_dir);
		d->counts.spooled += unconfigured[c];
	}
	return queued_now;
}

void deliverer_load_spool(struct deliverer *d)
{
	load_spool_channel(d, -1, false);
}

void deliverer_retry_spool(struct deliverer *d, bool on)
{
	d->retry_spool = on;
}

/* Writes an in-memory job's notification to the spool. Returns whether it
 * is there now; a failure is said once per streak of failures. */
static bool make_durable(struct deliverer *d, struct job *j)
{
	if (j->path || !d->o.spool_dir)
		return j->path != NULL;
	j->path = spool_put(d->o.spool_dir, channel_names[j->ch], j->doc);
	if (j->path) {
		if (d->spool_failing)
			warnx_("the spool %s takes notifications again", d->o.spool_dir);
		d->spool_failing = false;
		return true;
	}
	if (!d->spool_failing)
		error_msg("unable to spool a %s notification in %s: %s (kept in memory: the spool is "
			  "tried again)", channel_names[j->ch], d->o.spool_dir, strerror(errno));
	d->spool_failing = true;
	return false;
}

/* A job given up on that could not be spooled: it stays in memory, and the
 * spool and the channel are tried again (deliverer_step, deliverer_keep). */
static void hold(struct deliverer *d, struct job *j)
{
	j->attempts = 0;
	j->resting = false;
	j->not_before = 0;
	j->next = d->held[j->ch];
	d->held[j->ch] = j;
}

/* Held jobs of ch: those the spool now takes become spool items (to be
 * loaded from there); the rest are queued again from memory, resting.
 * Returns how many were queued. */
static size_t unhold(struct deliverer *d, enum channel_id ch)
{
	size_t queued_now = 0;
	struct job *j = d->held[ch], *next;
	d->held[ch] = NULL;
	for (; j; j = next) {
		next = j->next;
		if (make_durable(d, j)) {
			job_free(j); /* the spool has it: loaded from there */
			continue;
		}
		j->resting = true;
		enqueue(d, j);
		queued_now++;
	}
	return queued_now;
}

/* --dry-run: the message rendered, as a dry_run record with its payload
 * (--check: the channel only noted). Consumes doc. */
static int dry_run(struct deliverer *d, enum channel_id ch, cJSON *doc)
{
	char *body = message_render(d->o.s, doc, now_epoch_ms());
	d->counts.dry_run_channels |= 1u << ch;
	if (d->o.no_records) {
		free(body);
		cJSON_Delete(doc);
		return 0;
	}
	struct job *j = job_new(ch, NULL, doc);
	cJSON *r = record_new(d, j, "dry_run");
	cJSON *payload = body && ch != CH_EMAIL ? cJSON_Parse(body) : NULL;
	cJSON_AddItemToObject(r, "payload", payload ? payload : cJSON_CreateString(body ? body : ""));
	free(body);
	record_print(r, d->o.format);
	job_free(j);
	return 0;
}

int deliverer_submit(struct deliverer *d, cJSON *doc)
{
	int ch = channel_parse(json_path_string(doc, "channel", ""));
	if (ch < 0) {
		cJSON_Delete(doc);
		return -1;
	}
	if (d->o.dry_run)
		return dry_run(d, (enum channel_id)ch, doc);
	char *path = NULL;
	int rc = 0;
	if (d->o.spool_dir) {
		path = spool_put(d->o.spool_dir, channel_names[ch], doc);
		if (!path) {
			error_msg("unable to spool a %s notification in %s: %s (kept in memory and attempted; "
				  "the spool is tried again)", channel_names[ch], d->o.spool_dir, strerror(errno));
			d->spool_failing = true;
			d->counts.unspooled++;
			rc = -1;
		}
	}
	struct job *j = job_new((enum channel_id)ch, path, path ? NULL : doc);
	if (path)
		cJSON_Delete(doc); /* read back when claimed: the spool is the truth */
	if (path && d->down_until[ch] > now_monotonic_ms()) {
		/* The channel just failed every retry: keep this one for later
		 * rather than hammer it; the first success re-reads the spool. */
		j->doc = spool_read_path_doc(path);
		record_print(record_new(d, j, "spooled"), d->o.format);
		count_spooled(d, path);
		job_free(j);
		return rc;
	}
	enqueue(d, j);
	return rc;
}

/* ---- one attempt ---- */

/* Claims a spooled item and reads it. Returns 0, or -1 when the job is
 * finished without an attempt (popped). */
static int claim(struct deliverer *d, struct job *j)
{
	if (!j->path)
		return 0;
	j->lock_fd = spool_claim(j->path);
	if (j->lock_fd < 0) {
		/* Another alert-send has it, or has delivered it already. */
		verbose("%s: %s", j->path, errno == ENOENT ? "delivered by another process" : "claimed by another process");
		d->counts.claimed_elsewhere++;
		pop(d, j->ch);
		return -1;
	}
	if (j->doc)
		return 0;
	char err[256];
	j->doc = spool_read(j->lock_fd, err, sizeof err);
	if (j->doc)
		return 0;
	char *bad = easprintf("%s.bad", j->path);
	error_msg("%s: %s; moved aside to %s", j->path, err, bad);
	rename(j->path, bad);
	free(bad);
	d->counts.failed++;
	pop(d, j->ch);
	return -1;
}

/* The settings' retry policy (retry.h): backoff with equal jitter, and
 * Retry-After honoured up to retry_after_max (0 there spools at once on
 * any Retry-After; 0 in retry.h is no ceiling, so 1 ms). */
static struct retry_policy policy_of(const struct deliverer *d)
{
	const struct settings *s = d->o.s;
	int64_t after_max = s->retry_after_max_ms > 0 ? s->retry_after_max_ms : 1;
	return (struct retry_policy){.attempts = s->retry_attempts, .initial_ms = s->retry_initial_ms,
				     .max_ms = s->retry_max_ms, .retry_after_max_ms = after_max, .jitter = true};
}

/* An HTTP channel's notification: one call of the REST client, which
 * makes its attempts and says how each went (http_retrying, http_done). */
static void start_http(struct deliverer *d, struct job *j)
{
	const struct channel *c = &d->o.s->ch[j->ch];
	struct rest_request rq = {
		.name = c->name, .method = "POST", .url = j->url, .body = j->body,
		.attempt_timeout_ms = d->o.s->timeout_ms, .ca_file = c->ca_file, .tls_insecure = !c->tls_verify,
		.retry = policy_of(d),
	};
	rest_start(d->rest, &rq, j);
	j->attempts = 1;
}

/* libcurl must not write what an SMTP server says to stdout. */
static size_t discard(char *data, size_t size, size_t n, void *user)
{
	(void)data, (void)user;
	return size * n;
}

static size_t on_read(char *out, size_t size, size_t n, void *user)
{
	struct job *j = user;
	size_t len = size * n, left = j->body_len - j->body_off;
	if (len > left)
		len = left;
	memcpy(out, j->body + j->body_off, len);
	j->body_off += len;
	return len;
}

/* Email stays on a curl handle of its own: the engine is an HTTP client
 * (its probes, results and retries are HTTP's), SMTP is neither. */
static void setup_email(struct deliverer *d, struct job *j)
{
	const struct channel *c = &d->o.s->ch[CH_EMAIL];
	CURL *e = j->easy;
	char *from = easprintf("<%s>", c->from);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	free(from);
	for (size_t i = 0; i < c->n_rcpt; i++) {
		char *r = easprintf("<%s>", c->rcpt[i]);
		j->rcpt = curl_slist_append(j->rcpt, r);
		free(r);
	}
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, j);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->body_len);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	long ssl = c->tls == SMTP_TLS_REQUIRED ? CURLUSESSL_ALL
		   : c->tls == SMTP_TLS_TRY    ? CURLUSESSL_TRY : CURLUSESSL_NONE;
	curl_easy_setopt(e, CURLOPT_USE_SSL, ssl);
	if (c->username)
		curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
	if (c->password)
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
}

static void start_email(struct deliverer *d, struct job *j)
{
	const struct channel *c = &d->o.s->ch[CH_EMAIL];
	CURL *e = j->easy = curl_easy_init();
	if (!e)
		die(EXIT_UNKNOWN, "unable to prepare an email");
	j->body_off = 0;
	j->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->o.s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	/* A retry never trusts the connection the failure happened on: an SMTP
	 * session that failed mid-message answers the next MAIL with 503. */
	if (j->attempts > 0)
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	setup_email(d, j);
	j->attempts++;
	j->started = now_monotonic_ms();
	curl_multi_add_handle(d->smtp, e);
	d->smtp_running++;
}

/* Claims the item, builds the message and starts its delivery. Returns 0
 * when started, -1 when the job is finished without an attempt (popped). */
static int start(struct deliverer *d, struct job *j)
{
	const struct channel *c = &d->o.s->ch[j->ch];
	if (claim(d, j) < 0)
		return -1;
	free(j->body);
	j->body = message_render(d->o.s, j->doc, now_epoch_ms());
	if (!j->body)
		die(EXIT_UNKNOWN, "unable to prepare a %s request", c->name);
	j->body_len = strlen(j->body);
	if (!j->url)
		j->url = j->ch == CH_ALERTMANAGER ? url_join_path(c->url, "/api/v2/alerts") : NULL;
	if (!j->url)
		j->url = estrdup(c->url); /* not a URL: the attempt's error says so in the record */
	j->running = true;
	if (j->ch == CH_EMAIL)
		start_email(d, j);
	else
		start_http(d, j);
	return 0;
}

/* Errors no retry can mend this run: the configuration is wrong. */
static bool permanent_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_LOGIN_DENIED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_AUTH_ERROR:
	case CURLE_NOT_BUILT_IN:
		return true;
	default:
		return false;
	}
}

/* After a give-up every other item of the channel waits in the spool. */
static void channel_down(struct deliverer *d, enum channel_id ch)
{
	d->down_until[ch] = now_monotonic_ms() + d->o.s->retry_max_ms;
	d->was_down[ch] = true;
	while (d->head[ch] && !d->head[ch]->running) {
		struct job *j = d->head[ch];
		if (j->resting && j->attempts == 0 && !j->path) {
			hold(d, unqueue(d, ch)); /* not tried this time: held, as it was */
			continue;
		}
		if (j->resting && j->attempts == 0) {
			pop(d, ch); /* not tried this time: it stays as it was */
			continue;
		}
		if (!j->doc && j->path)
			j->doc = spool_read_path_doc(j->path);
		if (!j->path && d->o.spool_dir && !make_durable(d, j)) {
			record_print(record_new(d, j, "held"), d->o.format);
			hold(d, unqueue(d, ch));
			continue;
		}
		record_print(record_new(d, j, j->path ? "spooled" : "failed"), d->o.format);
		if (j->path)
			count_spooled(d, j->path);
		else
			d->counts.failed++;
		pop(d, ch);
	}
}

/* Delivered: the item leaves the spool, and a channel that was down gets
 * what waited for it, oldest first. */
static void delivered(struct deliverer *d, struct job *j, long code, int64_t took)
{
	if (j->path && spool_done(j->path, j->lock_fd) < 0 && errno != ENOENT)
		error_msg("unable to remove %s: %s", j->path, strerror(errno));
	j->lock_fd = -1;
	cJSON *r = record_new(d, j, "delivered");
	if (code)
		cJSON_AddNumberToObject(r, "code", (double)code);
	cJSON_AddNumberToObject(r, "duration_ms", (double)took);
	record_print(r, d->o.format);
	count_delivered(d, j->path);
	enum channel_id ch = j->ch;
	pop(d, ch);
	if (d->was_down[ch]) {
		d->was_down[ch] = false;
		d->down_until[ch] = 0;
		unhold(d, ch);
		load_spool_channel(d, ch, false);
	}
}

/* How an attempt failed, for its record. */
struct outcome {
	long code;
	int64_t took;
	const char *error;
	bool permanent;
};

static cJSON *failure_record(struct deliverer *d, struct job *j, const char *status, const struct outcome *o)
{
	cJSON *r = record_new(d, j, status);
	if (o->code)
		cJSON_AddNumberToObject(r, "code", (double)o->code);
	cJSON_AddNumberToObject(r, "duration_ms", (double)o->took);
	add_error(r, "%s", o->error);
	if (o->permanent)
		cJSON_AddBoolToObject(r, "permanent", true);
	return r;
}

static void retrying(struct deliverer *d, struct job *j, const struct outcome *o, int64_t wait)
{
	cJSON *r = failure_record(d, j, "retrying", o);
	cJSON_AddNumberToObject(r, "retry_in_ms", (double)wait);
	record_print(r, d->o.format);
}

/* Given up on: spooled, held in memory (when the spool refuses it: it is
 * tried there again), or failed; and the channel marked down. */
static void give_up(struct deliverer *d, struct job *j, const struct outcome *o)
{
	if (j->lock_fd >= 0) {
		spool_release(j->lock_fd);
		j->lock_fd = -1;
	}
	bool held = !make_durable(d, j) && d->o.spool_dir;
	record_print(failure_record(d, j, held ? "held" : j->path ? "spooled" : "failed", o), d->o.format);
	enum channel_id ch = j->ch;
	if (held) {
		hold(d, unqueue(d, ch));
		channel_down(d, ch);
		return;
	}
	if (j->path)
		count_spooled(d, j->path);
	else
		d->counts.failed++;
	pop(d, ch);
	channel_down(d, ch);
}

/* "HTTP 500: <the start of the body>", or the transport error. A new string. */
static char *http_error_text(const struct rest_response *res)
{
	if (res->transport_error || !res->code)
		return estrdup(res->error ? res->error : "no response");
	int n = (int)(res->body_len < ERROR_BODY_MAX ? res->body_len : ERROR_BODY_MAX);
	return easprintf("HTTP %ld%s%.*s", res->code, n ? ": " : "", n, res->body ? res->body : "");
}

static void http_retrying(const struct rest_response *res, int64_t wait_ms, void *tag, void *user)
{
	struct job *j = tag;
	char *error = http_error_text(res);
	j->attempts = res->attempts;
	retrying(user, j, &(struct outcome){res->code, res->duration_ms, error, res->permanent}, wait_ms);
	free(error);
}

static void http_done(struct rest_response *res, void *tag, void *user)
{
	struct job *j = tag;
	j->running = false;
	j->attempts = res->attempts;
	if (!res->error) {
		delivered(user, j, res->code, res->duration_ms);
	} else {
		char *error = http_error_text(res);
		give_up(user, j, &(struct outcome){res->code, res->duration_ms, error, res->permanent});
		free(error);
	}
	rest_response_free(res);
}

/* An email attempt is over: delivered, retried after the policy's wait, or
 * given up on. */
static void email_done(struct deliverer *d, struct job *j, CURLcode rc)
{
	long code = 0;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(d->smtp, j->easy);
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
	d->smtp_running--;
	curl_slist_free_all(j->rcpt);
	j->rcpt = NULL;
	j->running = false;
	int64_t took = now_monotonic_ms() - j->started;
	if (rc == CURLE_OK) {
		delivered(d, j, code, took);
		return;
	}
	struct outcome o = {code, took, j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc), permanent_error(rc)};
	struct retry_policy rp = policy_of(d);
	int64_t wait = retry_next_wait_ms(&rp, j->attempts, !o.permanent, -1, -1, &d->rng);
	if (wait < 0) {
		give_up(d, j, &o);
		return;
	}
	if (j->lock_fd >= 0) { /* claimed again by the next attempt */
		spool_release(j->lock_fd);
		j->lock_fd = -1;
	}
	j->not_before = now_monotonic_ms() + wait;
	retrying(d, j, &o, wait);
}

/* The email transfers' sockets, for the step's one poll (from
 * curl_multi_fdset: Debian 12's libcurl has no curl_multi_waitfds). */
static unsigned smtp_pollfds(struct deliverer *d, struct pollfd *fds, unsigned max, int *timeout_ms)
{
	if (!d->smtp_running)
		return 0;
	long t = -1;
	if (curl_multi_timeout(d->smtp, &t) == CURLM_OK && t >= 0 && t < *timeout_ms)
		*timeout_ms = (int)t;
	fd_set r, w, x;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	int maxfd = -1;
	curl_multi_fdset(d->smtp, &r, &w, &x, &maxfd);
	if (maxfd < 0 && *timeout_ms > 100)
		*timeout_ms = 100; /* no socket yet (resolving): look again soon */
	unsigned n = 0;
	for (int fd = 0; fd <= maxfd && n < max; fd++) {
		short ev = (short)((FD_ISSET(fd, &r) ? POLLIN : 0) | (FD_ISSET(fd, &w) ? POLLOUT : 0) |
				   (FD_ISSET(fd, &x) ? POLLPRI : 0));
		if (ev)
			fds[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	return n;
}

static void smtp_perform(struct deliverer *d)
{
	if (!d->smtp_running)
		return;
	int running, left;
	curl_multi_perform(d->smtp, &running);
	CURLMsg *m;
	while ((m = curl_multi_info_read(d->smtp, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct job *j = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
		email_done(d, j, m->data.result);
	}
}

static void start_due(struct deliverer *d)
{
	int64_t now = now_monotonic_ms();
	for (int c = 0; c < CH_COUNT; c++) {
		/* A long-running alert-send does not leave a down channel's spool
		 * to the next start or flush: once max_backoff passed with nothing
		 * queued, the spool is tried again, oldest first. */
		if (d->retry_spool && d->was_down[c] && !d->head[c] && now >= d->down_until[c]) {
			d->down_until[c] = now + d->o.s->retry_max_ms;
			size_t from_memory = unhold(d, (enum channel_id)c);
			if (!load_spool_channel(d, c, true) && !from_memory)
				d->was_down[c] = false; /* emptied meanwhile (a flush) */
		}
		/* start() pops jobs it cannot attempt: go on with the next one */
		while (d->head[c] && !d->head[c]->running && d->head[c]->not_before <= now &&
		       start(d, d->head[c]) < 0)
			;
	}
}

int deliverer_step(struct deliverer *d, struct pollfd *extra, unsigned n_extra, int timeout_ms)
{
	struct pollfd fds[16]; /* http_engine_step's bound */
	if (n_extra > 8)
		n_extra = 8;
	start_due(d);
	if (n_extra)
		memcpy(fds, extra, n_extra * sizeof *fds);
	int next = deliverer_next_ms(d);
	if (next < timeout_ms)
		timeout_ms = next;
	if (timeout_ms < 0)
		timeout_ms = 0;
	unsigned n = n_extra + smtp_pollfds(d, fds + n_extra, (unsigned)ARRAY_LEN(fds) - n_extra, &timeout_ms);
	if (rest_client_step(d->rest, fds, n, timeout_ms) < 0) {
		error_msg("unable to wait for transfers");
		return -1;
	}
	for (unsigned i = 0; i < n_extra; i++)
		extra[i].revents = fds[i].revents;
	smtp_perform(d);
	start_due(d);
	return 0;
}

int deliverer_next_ms(const struct deliverer *d)
{
	int64_t now = now_monotonic_ms(), next = INT32_MAX;
	for (int c = 0; c < CH_COUNT; c++) {
		const struct job *j = d->head[c];
		if (!j)
			continue;
		if (j->running) {
			if (next > 1000)
				next = 1000; /* curl wakes us sooner when it needs to */
		} else if (j->not_before - now < next) {
			next = j->not_before - now;
		}
	}
	return next < 0 ? 0 : (int)next;
}

bool deliverer_idle(const struct deliverer *d)
{
	for (int c = 0; c < CH_COUNT; c++)
		if (d->head[c])
			return false;
	return true;
}

/* Stops the attempt of a job in flight, without a record. */
static void stop_attempt(struct deliverer *d, struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(d->smtp, j->easy);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
		d->smtp_running--;
	} else if (j->running) {
		rest_cancel(d->rest, j);
	}
	j->running = false;
}

void deliverer_abandon(struct deliverer *d)
{
	for (int c = 0; c < CH_COUNT; c++) {
		while (d->head[c]) {
			struct job *j = d->head[c];
			stop_attempt(d, j);
			if (!j->doc && j->path)
				j->doc = spool_read_path_doc(j->path);
			if (!j->path && d->o.spool_dir) {
				hold(d, unqueue(d, (enum channel_id)c)); /* deliverer_keep() decides */
				continue;
			}
			if (!(j->resting && j->attempts == 0)) {
				record_print(record_new(d, j, j->path ? "spooled" : "failed"), d->o.format);
				if (j->path)
					count_spooled(d, j->path);
				else
					d->counts.failed++;
			}
			pop(d, (enum channel_id)c);
		}
	}
}

unsigned deliverer_keep(struct deliverer *d)
{
	unsigned lost = 0;
	for (int c = 0; c < CH_COUNT; c++) {
		struct job *j;
		while ((j = d->held[c])) {
			d->held[c] = j->next;
			if (make_durable(d, j)) {
				record_print(record_new(d, j, "spooled"), d->o.format);
				count_spooled(d, j->path);
			} else {
				lost++;
			}
			job_free(j);
		}
	}
	if (lost) {
		error_msg("unable to keep %u notification%s: %s delivered nor spooled in %s, %s lost",
			  lost, lost == 1 ? "" : "s", lost == 1 ? "it was neither" : "they were neither",
			  d->o.spool_dir, lost == 1 ? "it is" : "they are");
		d->counts.lost += lost;
	}
	return lost;
}

struct deliver_counts deliverer_counts(const struct deliverer *d)
{
	return d->counts;
}

struct deliverer *deliverer_new(const struct deliver_opts *o)
{
	struct deliverer *d = ecalloc(1, sizeof *d);
	d->o = *o;
	d->smtp = http_global_init() == 0 ? curl_multi_init() : NULL;
	d->rest = rest_client_new(&(struct rest_client_opts){
		.parallel = CH_COUNT, .on_done = http_done, .on_retry = http_retrying, .user = d});
	if (!d->smtp || !d->rest)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	d->rng = retry_seed();
	return d;
}

void deliverer_free(struct deliverer *d)
{
	if (!d)
		return;
	for (int c = 0; c < CH_COUNT; c++) {
		while (d->head[c]) {
			stop_attempt(d, d->head[c]);
			pop(d, (enum channel_id)c);
		}
		for (struct job *j = d->held[c], *next; j; j = next) {
			next = j->next;
			job_free(j);
		}
	}
	rest_client_free(d->rest);
	curl_multi_cleanup(d->smtp);
	for (size_t i = 0; i < d->n_spooled; i++)
		free(d->spooled[i]);
	free(d->spooled);
	free(d);
}
