/* event.c — alert documents modelled on Alertmanager's alert, plain events,
 * and Alertmanager's labels fingerprint. */
#include "shipshape/event.h"
#include "shipshape/common.h"
#include "shipshape/units.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV64_OFFSET 14695981039346656037ULL
#define FNV64_PRIME 1099511628211ULL
#define LABEL_SEPARATOR 0xffu

const char *alert_status_name(enum alert_status st)
{
	return st == ALERT_RESOLVED ? "resolved" : "firing";
}

static uint64_t fnv_add(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= FNV64_PRIME;
	}
	return h;
}

static uint64_t fnv_add_byte(uint64_t h, unsigned char b)
{
	h ^= b;
	return h * FNV64_PRIME;
}

static int compare_names(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string, y->string);
}

uint64_t labels_fingerprint64(const cJSON *labels)
{
	size_t n = 0;
	const cJSON *l;
	cJSON_ArrayForEach(l, labels)
		if (cJSON_IsString(l) && l->string)
			n++;
	if (n == 0)
		return FNV64_OFFSET;
	const cJSON *stack[32];
	const cJSON **v = n <= ARRAY_LEN(stack) ? stack : emalloc(n * sizeof *v);
	size_t i = 0;
	cJSON_ArrayForEach(l, labels)
		if (cJSON_IsString(l) && l->string)
			v[i++] = l;
	qsort(v, n, sizeof *v, compare_names);
	uint64_t h = FNV64_OFFSET;
	for (i = 0; i < n; i++) {
		h = fnv_add(h, v[i]->string);
		h = fnv_add_byte(h, LABEL_SEPARATOR);
		h = fnv_add(h, v[i]->valuestring);
		h = fnv_add_byte(h, LABEL_SEPARATOR);
	}
	if (v != stack)
		free(v);
	return h;
}

const char *labels_fingerprint(const cJSON *labels, char out[FINGERPRINT_LEN])
{
	snprintf(out, FINGERPRINT_LEN, "%016llx", (unsigned long long)labels_fingerprint64(labels));
	return out;
}

bool label_name_valid(const char *name)
{
	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

cJSON *labels_new(const char *name, ...)
{
	cJSON *labels = cJSON_CreateObject();
	va_list ap;
	va_start(ap, name);
	for (const char *n = name; n; n = va_arg(ap, const char *)) {
		const char *value = va_arg(ap, const char *);
		if (value && *value)
			cJSON_AddStringToObject(labels, n, value);
	}
	va_end(ap);
	return labels;
}

static void add_time(cJSON *doc, const char *name, int64_t ms)
{
	char t[RFC3339_LEN];
	cJSON_AddStringToObject(doc, name, rfc3339_format(ms, t));
}

cJSON *alert_event_new(enum alert_status st, cJSON *labels, cJSON *annotations,
		       int64_t starts_at_ms, int64_t ends_at_ms, const char *generator_url)
{
	char fp[FINGERPRINT_LEN];
	cJSON *doc = cJSON_CreateObject();
	if (!labels)
		labels = cJSON_CreateObject();
	if (!annotations)
		annotations = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "alert");
	cJSON_AddStringToObject(doc, "status", alert_status_name(st));
	cJSON_AddStringToObject(doc, "fingerprint", labels_fingerprint(labels, fp));
	cJSON_AddItemToObject(doc, "labels", labels);
	cJSON_AddItemToObject(doc, "annotations", annotations);
	add_time(doc, "startsAt", starts_at_ms);
	if (ends_at_ms > 0)
		add_time(doc, "endsAt", ends_at_ms);
	if (generator_url && *generator_url)
		cJSON_AddStringToObject(doc, "generatorURL", generator_url);
	return doc;
}

cJSON *event_new(const char *type, int64_t time_ms)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "event");
	cJSON_AddStringToObject(doc, "type", type);
	add_time(doc, "time", time_ms);
	return doc;
}

/* Checks an object of strings; name says which member, for the message. */
static int check_strings(const cJSON *obj, const char *name, bool label_names, char *err,
			 size_t errsize)
{
	const cJSON *m;
	if (!cJSON_IsObject(obj)) {
		snprintf(err, errsize, "%s: expected an object of strings", name);
		return -1;
	}
	cJSON_ArrayForEach(m, obj) {
		if (!cJSON_IsString(m)) {
			snprintf(err, errsize, "%s.%s: expected a string", name, m->string);
			return -1;
		}
		if (label_names && !label_name_valid(m->string)) {
			snprintf(err, errsize, "%s: invalid label name \"%.64s\"", name, m->string);
			return -1;
		}
	}
	return 0;
}

static int parse_time(const cJSON *doc, const char *name, int64_t *ms, char *err, size_t errsize)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, name);
	*ms = 0;
	if (!t || cJSON_IsNull(t))
		return 0;
	if (!cJSON_IsString(t) || rfc3339_parse(t->valuestring, ms) < 0) {
		snprintf(err, errsize, "%s: expected an RFC 3339 time", name);
		return -1;
	}
	/* Go's zero time, which Alertmanager writes for "not set". */
	if (*ms < 0)
		*ms = 0;
	return 0;
}

int alert_view_parse(const cJSON *doc, int64_t now_ms, struct alert_view *out, char *err,
		     size_t errsize)
{
	memset(out, 0, sizeof *out);
	out->labels = cJSON_GetObjectItemCaseSensitive(doc, "labels");
	if (!out->labels) {
		snprintf(err, errsize, "labels: missing");
		return -1;
	}
	if (check_strings(out->labels, "labels", true, err, errsize) < 0)
		return -1;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(out->labels, "alertname");
	if (!cJSON_IsString(name) || !*name->valuestring) {
		snprintf(err, errsize, "labels.alertname: missing");
		return -1;
	}
	out->annotations = cJSON_GetObjectItemCaseSensitive(doc, "annotations");
	if (out->annotations && cJSON_IsNull(out->annotations))
		out->annotations = NULL;
	if (out->annotations && check_strings(out->annotations, "annotations", false, err, errsize) < 0)
		return -1;
	if (parse_time(doc, "startsAt", &out->starts_at_ms, err, errsize) < 0 ||
	    parse_time(doc, "endsAt", &out->ends_at_ms, err, errsize) < 0)
		return -1;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (cJSON_IsString(st) && strcmp(st->valuestring, "firing") == 0) {
		out->status = ALERT_FIRING;
	} else if (cJSON_IsString(st) && strcmp(st->valuestring, "resolved") == 0) {
		out->status = ALERT_RESOLVED;
	} else if (!st || cJSON_IsNull(st)) {
		out->status = out->ends_at_ms > 0 && out->ends_at_ms <= now_ms ? ALERT_RESOLVED : ALERT_FIRING;
	} else {
		snprintf(err, errsize, "status: expected \"firing\" or \"resolved\"");
		return -1;
	}
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "generatorURL");
	out->generator_url = cJSON_IsString(g) ? g->valuestring : NULL;
	labels_fingerprint(out->labels, out->fingerprint);
	return 0;
}

bool alertmanager_payload_is(const cJSON *doc)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
	return cJSON_IsString(v) && strcmp(v->valuestring, "4") == 0 &&
	       cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "alerts"));
}
