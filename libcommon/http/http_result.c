/* http_result.c — a probe's result: freeing it, its headers, its outcomes,
 * and printing it (JSON, one line). Called by the engine (http.c) and the
 * assertions (http_eval.c); calls neither, so dependencies point one way:
 * http.c -> http_eval.c -> http_result.c. */
#include "shipshape/http.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const error_names[] = {
	[HTTP_ERR_NONE] = "", [HTTP_ERR_DNS] = "dns", [HTTP_ERR_CONNECT] = "connect",
	[HTTP_ERR_TIMEOUT] = "timeout", [HTTP_ERR_TLS] = "tls", [HTTP_ERR_CERT] = "certificate",
	[HTTP_ERR_PROTOCOL] = "protocol", [HTTP_ERR_RECV] = "receive",
	[HTTP_ERR_TOO_LARGE] = "too_large", [HTTP_ERR_REDIRECT] = "redirect", [HTTP_ERR_OTHER] = "other",
	[HTTP_ERR_INTERNAL] = "internal",
};

const char *http_error_name(enum http_error err)
{
	return (size_t)err < ARRAY_LEN(error_names) ? error_names[err] : "other";
}

void http_result_clear_headers(struct http_result *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->n_headers = 0;
}

static void outcomes_clear(struct http_result *r)
{
	for (size_t i = 0; i < r->n_outcomes; i++) {
		free(r->outcomes[i].name);
		free(r->outcomes[i].message);
	}
	free(r->outcomes);
	r->outcomes = NULL;
	r->n_outcomes = 0;
	r->status = STATUS_OK;
}

void http_result_free(struct http_result *r)
{
	if (!r)
		return;
	free(r->effective_url);
	free(r->location);
	free(r->content_type);
	free(r->primary_ip);
	free(r->cert_earliest_subject);
	free(r->error_message);
	free(r->body);
	http_result_clear_headers(r);
	outcomes_clear(r);
	free(r);
}

const char *http_result_header(const struct http_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

void http_result_add_outcome(struct http_result *r, const char *name, enum status st,
			     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = evasprintf(fmt, ap);
	va_end(ap);
	r->outcomes = erealloc(r->outcomes, (r->n_outcomes + 1) * sizeof *r->outcomes);
	r->outcomes[r->n_outcomes].name = estrdup(name);
	r->outcomes[r->n_outcomes].status = st;
	r->outcomes[r->n_outcomes].message = redact_string(msg);
	r->n_outcomes++;
	free(msg);
	r->status = status_worst(r->status, st);
}

void http_result_clear_outcomes(struct http_result *r)
{
	outcomes_clear(r);
}

static double days_left(int64_t expiry_ms, int64_t now_ms)
{
	return (double)(expiry_ms - now_ms) / 86400000.0;
}

cJSON *http_result_json(const struct http_result *r, int64_t now_ms)
{
	char when[RFC3339_LEN];
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "code", (double)r->code);
	cJSON_AddNumberToObject(j, "size", (double)r->size);
	cJSON_AddNumberToObject(j, "redirects", (double)r->redirects);
	cJSON_AddStringToObject(j, "http_version", r->http_version);
	cJSON_AddStringToObject(j, "tls_version", r->tls_version);
	cJSON_AddStringToObject(j, "tls_cipher", r->tls_cipher);
	if (r->effective_url)
		cJSON_AddStringToObject(j, "url", r->effective_url);
	if (r->location)
		cJSON_AddStringToObject(j, "location", r->location);
	if (r->primary_ip)
		cJSON_AddStringToObject(j, "ip", r->primary_ip);
	if (r->content_type)
		cJSON_AddStringToObject(j, "content_type", r->content_type);
	cJSON *t = cJSON_AddObjectToObject(j, "timings");
	cJSON_AddNumberToObject(t, "dns", r->dns_ms);
	cJSON_AddNumberToObject(t, "connect", r->connect_ms);
	cJSON_AddNumberToObject(t, "tls", r->tls_ms);
	cJSON_AddNumberToObject(t, "first_byte", r->first_byte_ms);
	cJSON_AddNumberToObject(t, "total", r->total_ms);
	if (r->cert_leaf_expiry_ms) {
		cJSON *c = cJSON_AddObjectToObject(j, "cert");
		cJSON_AddStringToObject(c, "leaf_expires", rfc3339_format(r->cert_leaf_expiry_ms, when));
		cJSON_AddNumberToObject(c, "leaf_days", (double)(int64_t)days_left(r->cert_leaf_expiry_ms, now_ms));
		cJSON_AddStringToObject(c, "earliest_expires", rfc3339_format(r->cert_earliest_expiry_ms, when));
		cJSON_AddNumberToObject(c, "earliest_days",
					(double)(int64_t)days_left(r->cert_earliest_expiry_ms, now_ms));
		cJSON_AddStringToObject(c, "earliest_subject",
					r->cert_earliest_subject ? r->cert_earliest_subject : "");
		cJSON_AddNumberToObject(c, "chain", r->cert_chain_len);
	}
	if (r->error != HTTP_ERR_NONE) {
		cJSON *er = cJSON_AddObjectToObject(j, "error");
		cJSON_AddStringToObject(er, "class", http_error_name(r->error));
		cJSON_AddStringToObject(er, "message", r->error_message ? r->error_message : "");
	}
	cJSON_AddNumberToObject(j, "attempts", r->attempts);
	cJSON_AddNumberToObject(j, "elapsed_ms", round(r->elapsed_ms));
	cJSON_AddBoolToObject(j, "reused", r->reused);
	cJSON *a = cJSON_AddArrayToObject(j, "assertions");
	for (size_t i = 0; i < r->n_outcomes; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", r->outcomes[i].name);
		cJSON_AddStringToObject(o, "status", status_name(r->outcomes[i].status));
		cJSON_AddStringToObject(o, "message", r->outcomes[i].message);
		cJSON_AddItemToArray(a, o);
	}
	return j;
}

char *http_result_describe(const struct http_result *r)
{
	if (r->error != HTTP_ERR_NONE)
		return easprintf("%s error: %s", http_error_name(r->error),
				 r->error_message ? r->error_message : "");
	return easprintf("HTTP %ld, %lld B in %.0f ms", r->code, (long long)r->size, r->total_ms);
}
