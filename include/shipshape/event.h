/* event.h — alert-shaped events, modelled on Alertmanager's alert, and the
 * stable fingerprint of their labels.
 *
 * An alert document, as health-watch streams it and alert-send takes it:
 *
 *   {"kind":"alert","status":"firing","fingerprint":"5c2b8a1e0f3d7a94",
 *    "labels":{"alertname":"HealthCheckFailed","target":"api",
 *              "severity":"critical","environment":"production"},
 *    "annotations":{"summary":"api is down","error":"HTTP 503"},
 *    "startsAt":"2026-11-28T22:51:13.123Z","endsAt":"..."?,
 *    "generatorURL":"..."?}
 *
 * labels and annotations are objects of strings; "endsAt" is present once
 * resolved (and may be given ahead for firing alerts, as Alertmanager's API
 * allows). The fingerprint is Alertmanager's own (FNV-1a 64 over the sorted
 * label names and values, each followed by a 0xff byte), so an alert shows
 * the same fingerprint here and in Alertmanager's API. */
#ifndef SHIPSHAPE_EVENT_H
#define SHIPSHAPE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define FINGERPRINT_LEN 17 /* 16 hex digits and the NUL */

enum alert_status { ALERT_FIRING, ALERT_RESOLVED };

const char *alert_status_name(enum alert_status st); /* "firing", "resolved" */

/* The fingerprint of a labels object (non-string members are skipped;
 * member order does not matter). */
uint64_t labels_fingerprint64(const cJSON *labels);
/* The same as 16 lower-case hex digits into out. Returns out. */
const char *labels_fingerprint(const cJSON *labels, char out[FINGERPRINT_LEN]);

/* A label name as Prometheus allows it: [a-zA-Z_][a-zA-Z0-9_]*. */
bool label_name_valid(const char *name);

/* A labels object from NULL-terminated name, value pairs; a NULL or empty
 * value leaves that label out. The caller owns the result. */
cJSON *labels_new(const char *name, ...) __attribute__((sentinel));

/* Builds an alert document. labels and annotations (may be NULL: {}) are
 * consumed. ends_at_ms 0 leaves "endsAt" out; generator_url may be NULL.
 * The caller owns the result. */
cJSON *alert_event_new(enum alert_status st, cJSON *labels, cJSON *annotations,
		       int64_t starts_at_ms, int64_t ends_at_ms, const char *generator_url);

/* An alert read from a document: ours ("kind":"alert"), or one member of an
 * Alertmanager webhook payload's "alerts" or of its API. The pointers borrow
 * from the document. */
struct alert_view {
	enum alert_status status;
	const cJSON *labels;      /* object of strings, with "alertname" */
	const cJSON *annotations; /* object of strings, or NULL */
	int64_t starts_at_ms;     /* 0 when absent */
	int64_t ends_at_ms;       /* 0 when absent */
	const char *generator_url;
	char fingerprint[FINGERPRINT_LEN]; /* recomputed from the labels */
};

/* Reads and checks an alert. "status" may be absent when "endsAt" decides
 * (Alertmanager's API form: resolved when endsAt is in the past of now_ms).
 * Returns 0, or -1 with a one-line reason in err ("labels.alertname: missing"). */
int alert_view_parse(const cJSON *doc, int64_t now_ms, struct alert_view *out, char *err,
		     size_t errsize);

/* A plain event: {"kind":"event","type":TYPE,"time":RFC3339} to which the
 * caller adds its members (health-watch: "state", "probe", "heartbeat").
 * The caller owns the result. */
cJSON *event_new(const char *type, int64_t time_ms);

/* True when doc looks like an Alertmanager webhook payload (version "4"
 * with an "alerts" array). */
bool alertmanager_payload_is(const cJSON *doc);

#endif
