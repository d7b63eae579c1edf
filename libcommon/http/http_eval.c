/* http_eval.c — judging an HTTP result against its probe's assertions. */
#include "shipshape/http.h"
#include "shipshape/common.h"
#include "shipshape/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool status_expected(const struct http_probe *p, long code)
{
	if (!p->n_status)
		return code >= 200 && code <= 299;
	for (size_t i = 0; i < p->n_status; i++)
		if (code >= p->status[i].lo && code <= p->status[i].hi)
			return true;
	return false;
}

static void expected_text(const struct http_probe *p, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	if (!p->n_status) {
		snprintf(out, size, "2xx");
		return;
	}
	for (size_t i = 0; i < p->n_status && used < size; i++) {
		const struct http_status_range *s = &p->status[i];
		int n = s->lo == s->hi ? snprintf(out + used, size - used, "%s%d", i ? "," : "", s->lo)
				       : snprintf(out + used, size - used, "%s%d-%d", i ? "," : "", s->lo, s->hi);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static const char *op_text(enum http_json_op op)
{
	static const char *const t[] = {"exists", "==", "!=", "<", "<=", ">", ">="};
	return t[op];
}

/* The value of a JSON node, briefly, for a message (new string). */
static char *brief(const cJSON *v)
{
	if (!v)
		return estrdup("absent");
	char *s = cJSON_PrintUnformatted(v);
	if (s && strlen(s) > 60)
		strcpy(s + 57, "...");
	return s ? s : estrdup("?");
}

static bool number_of(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return true;
	}
	if (cJSON_IsString(v)) {
		char *end;
		*out = strtod(v->valuestring, &end);
		return end != v->valuestring && !*end;
	}
	return false;
}

static void eval_json(const struct http_probe *p, struct http_result *r)
{
	cJSON *doc = NULL;
	if (r->body)
		doc = cJSON_ParseWithLength(r->body, r->body_len);
	for (size_t i = 0; i < p->n_json; i++) {
		const struct http_json_assert *a = &p->json[i];
		if (!doc) {
			http_result_add_outcome(r, "json", STATUS_CRITICAL, "%s: the body is not JSON", a->text);
			continue;
		}
		const cJSON *v = json_path(doc, a->path);
		char *got = brief(v);
		bool ok = false;
		double x, y;
		switch (a->op) {
		case HTTP_JSON_EXISTS:
			ok = v && !cJSON_IsNull(v) && !cJSON_IsFalse(v);
			break;
		case HTTP_JSON_EQ:
		case HTTP_JSON_NE:
			ok = v && (cJSON_Compare(v, a->value, true) ||
				   (number_of(v, &x) && cJSON_IsNumber(a->value) && x == a->value->valuedouble));
			if (a->op == HTTP_JSON_NE)
				ok = v && !ok;
			break;
		default:
			if (!v || !number_of(v, &x)) {
				http_result_add_outcome(r, "json", STATUS_CRITICAL, "%s: got %s, not a number",
							a->text, got);
				free(got);
				continue;
			}
			y = a->value->valuedouble;
			ok = a->op == HTTP_JSON_LT ? x < y : a->op == HTTP_JSON_LE ? x <= y
			   : a->op == HTTP_JSON_GT ? x > y : x >= y;
			break;
		}
		if (ok)
			http_result_add_outcome(r, "json", STATUS_OK, "%s: got %s", a->text, got);
		else
			http_result_add_outcome(r, "json", STATUS_CRITICAL, "%s: got %s (%s expected)",
						a->text, got, op_text(a->op));
		free(got);
	}
	cJSON_Delete(doc);
}

static void eval_headers(const struct http_probe *p, struct http_result *r)
{
	for (size_t i = 0; i < p->n_header_asserts; i++) {
		const struct http_header_assert *a = &p->header_asserts[i];
		const char *v = http_result_header(r, a->name);
		bool match = v && (!a->pattern || regexec(&a->re, v, 0, NULL, 0) == 0);
		const char *pat = a->pattern ? a->pattern : "";
		if (!a->must_not) {
			if (match)
				http_result_add_outcome(r, "header", STATUS_OK, "%s: %s", a->name, v);
			else if (!v)
				http_result_add_outcome(r, "header", STATUS_CRITICAL, "%s: missing", a->name);
			else
				http_result_add_outcome(r, "header", STATUS_CRITICAL, "%s: \"%.80s\" does not match /%s/",
							a->name, v, pat);
		} else {
			if (!match)
				http_result_add_outcome(r, "header", STATUS_OK, "%s: %s", a->name,
							v ? "does not match" : "absent");
			else if (a->pattern)
				http_result_add_outcome(r, "header", STATUS_CRITICAL, "%s: \"%.80s\" matches /%s/",
							a->name, v, pat);
			else
				http_result_add_outcome(r, "header", STATUS_CRITICAL, "%s: present (must be absent)",
							a->name);
		}
	}
}

static void eval_cert(const struct http_probe *p, struct http_result *r, int64_t now_ms)
{
	if (!p->cert_warn_days && !p->cert_crit_days)
		return;
	if (!r->cert_leaf_expiry_ms) {
		if (p->url && strncasecmp(p->url, "https://", 8) == 0)
			http_result_add_outcome(r, "cert_expiry", STATUS_UNKNOWN, "certificate not seen");
		return;
	}
	double days = (double)(r->cert_leaf_expiry_ms - now_ms) / 86400000.0;
	double earliest = (double)(r->cert_earliest_expiry_ms - now_ms) / 86400000.0;
	enum status st = STATUS_OK;
	if (p->cert_crit_days && days < p->cert_crit_days)
		st = STATUS_CRITICAL;
	else if (p->cert_warn_days && days < p->cert_warn_days)
		st = STATUS_WARNING;
	if (r->cert_earliest_expiry_ms < r->cert_leaf_expiry_ms)
		http_result_add_outcome(r, "cert_expiry", st,
					"leaf certificate expires in %.0f days; earliest in chain in %.0f days (%s)",
					floor(days), floor(earliest),
					r->cert_earliest_subject ? r->cert_earliest_subject : "");
	else
		http_result_add_outcome(r, "cert_expiry", st, "leaf certificate expires in %.0f days",
					floor(days));
}

void http_evaluate(const struct http_probe *p, struct http_result *r, int64_t now_ms)
{
	http_result_clear_outcomes(r);
	if (r->error != HTTP_ERR_NONE) {
		const char *name = r->error == HTTP_ERR_TOO_LARGE ? "size"
				 : r->error == HTTP_ERR_REDIRECT ? "redirects" : "transport";
		/* A transfer that could not be made here says nothing of the target. */
		enum status st = r->error == HTTP_ERR_INTERNAL ? STATUS_UNKNOWN : STATUS_CRITICAL;
		http_result_add_outcome(r, name, st, "%s: %s", http_error_name(r->error),
					r->error_message ? r->error_message : "");
		return;
	}
	char exp[128];
	expected_text(p, exp, sizeof exp);
	if (p->redirects == HTTP_REDIRECT_FAIL && r->code >= 300 && r->code <= 399)
		http_result_add_outcome(r, "redirects", STATUS_CRITICAL, "HTTP %ld redirect (redirects fail this probe)",
					r->code);
	else if (r->location && status_expected(p, r->code))
		http_result_add_outcome(r, "status", STATUS_OK, "HTTP %ld to %.200s", r->code, r->location);
	else if (status_expected(p, r->code))
		http_result_add_outcome(r, "status", STATUS_OK, "HTTP %ld", r->code);
	else if (r->location) /* judged, not followed: say where it points and how to follow */
		http_result_add_outcome(r, "status", STATUS_CRITICAL, "HTTP %ld to %.200s (expected %s; %s follows)",
					r->code, r->location, exp, p->follow_hint ? p->follow_hint : "redirects: N");
	else
		http_result_add_outcome(r, "status", STATUS_CRITICAL, "HTTP %ld (expected %s)", r->code, exp);

	for (size_t i = 0; i < p->n_body_contains; i++) {
		bool found = r->body && memmem(r->body, r->body_len, p->body_contains[i],
					       strlen(p->body_contains[i]));
		http_result_add_outcome(r, "body_contains", found ? STATUS_OK : STATUS_CRITICAL,
					"\"%.60s\" %s", p->body_contains[i], found ? "found" : "not found");
	}
	if (p->body_regex) {
		bool m = r->body && regexec(&p->body_re, r->body, 0, NULL, 0) == 0;
		http_result_add_outcome(r, "body_regex", m ? STATUS_OK : STATUS_CRITICAL, "/%s/ %s",
					p->body_regex, m ? "matches" : "does not match");
	}
	if (p->body_not_regex) {
		bool m = r->body && regexec(&p->body_not_re, r->body, 0, NULL, 0) == 0;
		http_result_add_outcome(r, "body_not_regex", m ? STATUS_CRITICAL : STATUS_OK, "/%s/ %s",
					p->body_not_regex, m ? "matches (must not)" : "does not match");
	}
	if (p->n_json)
		eval_json(p, r);
	eval_headers(p, r);
	if (p->latency_warn_ms || p->latency_crit_ms) {
		enum status st = STATUS_OK;
		if (p->latency_crit_ms && r->total_ms >= (double)p->latency_crit_ms)
			st = STATUS_CRITICAL;
		else if (p->latency_warn_ms && r->total_ms >= (double)p->latency_warn_ms)
			st = STATUS_WARNING;
		http_result_add_outcome(r, "latency", st, "%.0f ms", r->total_ms);
	}
	eval_cert(p, r, now_ms);
}
