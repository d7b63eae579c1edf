/* deliver.c — getting notifications out: one libcurl multi handle, one queue
 * per channel (in order, one at a time, so a resolve never overtakes its
 * firing), retries under the suite's one retry policy (retry.h: backoff
 * with jitter on network errors, 5xx and 429, Retry-After honoured), and
 * the spool: every notification is written there, fsync'd, before its first
 * attempt and removed only once delivered, so no crash or kill loses it. */
#include "alert-send.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/retry.h"
#include "shipshape/spool.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESPONSE_MAX 65536
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
	CURL *easy;
	struct curl_slist *headers, *rcpt;
	char *body;
	size_t body_len, body_off;
	struct buf resp;
	char errbuf[CURL_ERROR_SIZE];
	int64_t started;
	char *url;             /* the request URL (alertmanager: base + path) */
};

struct deliverer {
	struct deliver_opts o;
	CURLM *multi;
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
	curl_slist_free_all(j->headers);
	curl_slist_free_all(j->rcpt);
	free(j->body);
	buf_free(&j->resp);
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

int deliverer_submit(struct deliverer *d, cJSON *doc)
{
	int ch = channel_parse(json_path_string(doc, "channel", ""));
	if (ch < 0) {
		cJSON_Delete(doc);
		return -1;
	}
	if (d->o.dry_run) {
		struct job *j = job_new((enum channel_id)ch, NULL, doc);
		cJSON *r = record_new(d, j, "dry_run");
		char *body = message_render(d->o.s, doc, now_epoch_ms());
		cJSON *payload = body && ch != CH_EMAIL ? cJSON_Parse(body) : NULL;
		cJSON_AddItemToObject(r, "payload", payload ? payload : cJSON_CreateString(body ? body : ""));
		free(body);
		record_print(r, d->o.format);
		job_free(j);
		return 0;
	}
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

static size_t on_write(char *data, size_t size, size_t n, void *user)
{
	struct job *j = user;
	size_t len = size * n;
	if (j->resp.len < RESPONSE_MAX)
		buf_append(&j->resp, data, len < RESPONSE_MAX - j->resp.len ? len : RESPONSE_MAX - j->resp.len);
	return len;
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

static int setup_email(struct deliverer *d, struct job *j)
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
	return 0;
}

static void setup_http(struct deliverer *d, struct job *j)
{
	CURL *e = j->easy;
	(void)d;
	j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
	j->headers = curl_slist_append(j->headers, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "shipshape-alert-send/" SHIPSHAPE_VERSION);
}

/* Claims the item, builds the request and hands it to curl. Returns 0 when
 * started, -1 when the job is finished without an attempt (popped). */
static int start(struct deliverer *d, struct job *j)
{
	const struct channel *c = &d->o.s->ch[j->ch];
	if (j->path) {
		j->lock_fd = spool_claim(j->path);
		if (j->lock_fd < 0) {
			/* Another alert-send has it, or has delivered it already. */
			verbose("%s: %s", j->path, errno == ENOENT ? "delivered by another process" : "claimed by another process");
			d->counts.claimed_elsewhere++;
			pop(d, j->ch);
			return -1;
		}
		if (!j->doc) {
			char err[256];
			j->doc = spool_read(j->lock_fd, err, sizeof err);
			if (!j->doc) {
				char *bad = easprintf("%s.bad", j->path);
				error_msg("%s: %s; moved aside to %s", j->path, err, bad);
				rename(j->path, bad);
				free(bad);
				d->counts.failed++;
				pop(d, j->ch);
				return -1;
			}
		}
	}
	j->body = message_render(d->o.s, j->doc, now_epoch_ms());
	j->body_len = j->body ? strlen(j->body) : 0;
	j->body_off = 0;
	j->resp.len = 0;
	j->errbuf[0] = '\0';
	if (!j->url)
		j->url = j->ch == CH_ALERTMANAGER ? url_join_path(c->url, "/api/v2/alerts") : NULL;
	if (!j->url)
		j->url = estrdup(c->url); /* not a URL: curl says so in the record */
	CURL *e = j->easy = curl_easy_init();
	if (!e || !j->body)
		die(EXIT_UNKNOWN, "unable to prepare a %s request", c->name);
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->o.s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	/* A retry never trusts the connection the failure happened on: an SMTP
	 * session that failed mid-message answers the next MAIL with 503. */
	if (j->attempts > 0)
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	if (j->ch == CH_EMAIL)
		setup_email(d, j);
	else
		setup_http(d, j);
	j->attempts++;
	j->started = now_monotonic_ms();
	j->running = true;
	curl_multi_add_handle(d->multi, e);
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

/* The settings' retry policy (retry.h): backoff with equal jitter, and
 * Retry-After honoured up to retry_after_max. */
static struct retry_policy policy_of(const struct deliverer *d)
{
	const struct settings *s = d->o.s;
	return (struct retry_policy){.attempts = s->retry_attempts, .initial_ms = s->retry_initial_ms,
				     .max_ms = s->retry_max_ms, .retry_after_max_ms = s->retry_after_max_ms,
				     .jitter = true};
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

/* The record of a failed attempt: its code, duration and error. */
static cJSON *failure_record(struct deliverer *d, struct job *j, const char *status, CURLcode rc, long code,
			     int64_t took)
{
	cJSON *r = record_new(d, j, status);
	if (code)
		cJSON_AddNumberToObject(r, "code", (double)code);
	cJSON_AddNumberToObject(r, "duration_ms", (double)took);
	if (rc != CURLE_OK) {
		add_error(r, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
	} else {
		size_t n = j->resp.len < ERROR_BODY_MAX ? j->resp.len : ERROR_BODY_MAX;
		add_error(r, "HTTP %ld%s%.*s", code, n ? ": " : "", (int)n, j->resp.data ? j->resp.data : "");
	}
	return r;
}

/* Failed: retried after the policy's wait, or given up on (spooled, held
 * in memory, or failed) and the channel marked down. */
static void failed(struct deliverer *d, struct job *j, CURLcode rc, long code, int64_t retry_after_s,
		   int64_t took)
{
	if (j->lock_fd >= 0) {
		spool_release(j->lock_fd);
		j->lock_fd = -1;
	}
	struct retry_policy rp = policy_of(d);
	bool transient = rc != CURLE_OK ? !permanent_error(rc) : retry_transient_code(code);
	int64_t after = retry_after_s > 0 ? retry_after_s * 1000 : -1;
	if (transient && after > rp.retry_after_max_ms)
		transient = false; /* asked to wait longer than we will: spool it */
	int64_t wait = retry_next_wait_ms(&rp, j->attempts, transient, after, -1, &d->rng);
	bool again = wait >= 0;
	/* given up on: one that could not be spooled is tried there again now */
	bool held = !again && !make_durable(d, j) && d->o.spool_dir;
	const char *status = again ? "retrying" : held ? "held" : j->path ? "spooled" : "failed";
	cJSON *r = failure_record(d, j, status, rc, code, took);
	if (!transient)
		cJSON_AddBoolToObject(r, "permanent", true);
	if (again) {
		j->not_before = now_monotonic_ms() + wait;
		cJSON_AddNumberToObject(r, "retry_in_ms", (double)wait);
		record_print(r, d->o.format);
		return;
	}
	record_print(r, d->o.format);
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

static void finish(struct deliverer *d, struct job *j, CURLcode rc)
{
	long code = 0;
	curl_off_t retry_after = 0;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &retry_after); /* seconds or an HTTP-date */
	curl_multi_remove_handle(d->multi, j->easy);
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
	curl_slist_free_all(j->headers);
	curl_slist_free_all(j->rcpt);
	j->headers = j->rcpt = NULL;
	free(j->body);
	j->body = NULL;
	j->running = false;
	int64_t took = now_monotonic_ms() - j->started;
	bool http = j->ch != CH_EMAIL;
	if (rc == CURLE_OK && (!http || (code >= 200 && code < 300)))
		delivered(d, j, code, took);
	else
		failed(d, j, rc, code, (int64_t)retry_after, took);
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
	struct curl_waitfd w[8];
	if (n_extra > ARRAY_LEN(w))
		n_extra = ARRAY_LEN(w);
	start_due(d);
	for (unsigned i = 0; i < n_extra; i++) {
		w[i].fd = extra[i].fd;
		w[i].events = (short)(extra[i].events & (POLLIN | POLLPRI | POLLOUT));
		w[i].revents = 0;
	}
	int next = deliverer_next_ms(d);
	if (next < timeout_ms)
		timeout_ms = next;
	if (timeout_ms < 0)
		timeout_ms = 0;
	CURLMcode mc = curl_multi_poll(d->multi, w, n_extra, timeout_ms, NULL);
	if (mc != CURLM_OK) {
		error_msg("unable to wait for transfers: %s", curl_multi_strerror(mc));
		return -1;
	}
	for (unsigned i = 0; i < n_extra; i++)
		extra[i].revents = w[i].revents;
	int running;
	curl_multi_perform(d->multi, &running);
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(d->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct job *j = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
		finish(d, j, m->data.result);
	}
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

void deliverer_abandon(struct deliverer *d)
{
	for (int c = 0; c < CH_COUNT; c++) {
		while (d->head[c]) {
			struct job *j = d->head[c];
			if (j->easy) {
				curl_multi_remove_handle(d->multi, j->easy);
				curl_easy_cleanup(j->easy);
				j->easy = NULL;
			}
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
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct deliverer *d = ecalloc(1, sizeof *d);
	d->o = *o;
	d->multi = curl_multi_init();
	if (!d->multi)
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
			struct job *j = d->head[c];
			if (j->easy) {
				curl_multi_remove_handle(d->multi, j->easy);
				curl_easy_cleanup(j->easy);
				j->easy = NULL;
			}
			pop(d, (enum channel_id)c);
		}
		for (struct job *j = d->held[c], *next; j; j = next) {
			next = j->next;
			job_free(j);
		}
	}
	curl_multi_cleanup(d->multi);
	for (size_t i = 0; i < d->n_spooled; i++)
		free(d->spooled[i]);
	free(d->spooled);
	free(d);
	curl_global_cleanup();
}
