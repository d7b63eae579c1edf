/* e2e.c — deploy-stage e2e: a check with no lock, here as its steps are the deploy's.
 * The post-deploy stage's end-to-end check: the steps of deploy.e2e.steps
 * (svc-probe's probe keys) run in order, against the release just applied,
 * through the shared HTTP engine; a step may capture values from its JSON
 * answer for the steps after it ({{name}} in their url, headers and body),
 * and may poll until its assertions hold — upload a document, then poll its
 * status until processed. Prints a report, one check per step run; the
 * first step that fails ends the sequence. */
#include "deploy-stage.h"
#include "shipshape/http.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/report.h"
#include "shipshape/units.h"
#include "shipshape/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define E2E_TIMEOUT_DEFAULT_MS (2 * 60 * 1000)
#define E2E_POLL_INTERVAL_DEFAULT_MS 1000
#define E2E_POLL_TIMEOUT_DEFAULT_MS 60000
#define E2E_MAX_STEPS 50
#define E2E_MAX_CAPTURE 1024 /* bytes of one captured value */

/* Keys of a step that are the sequence's, not the probe's. */
static const char *const step_keys[] = {"capture", "poll", NULL};

struct step {
	const cJSON *spec;  /* the step as configured (borrowed from the config) */
	const char *name;
	bool poll;
	int64_t poll_interval_ms, poll_timeout_ms;
	struct http_probe fail_if; /* poll.fail_if as json assertions; n_json 0: none */
};

struct e2e {
	struct step *steps;
	size_t n;
	char *base_url;     /* for urls starting with "/", or NULL */
	int64_t timeout_ms; /* the whole sequence */
};

static void e2e_free(struct e2e *e)
{
	for (size_t i = 0; i < e->n; i++)
		http_probe_free(&e->steps[i].fail_if);
	free(e->steps);
	free(e->base_url);
}

static bool capture_name_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static void url_encode_into(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			buf_putc(b, (char)c);
		else
			buf_printf(b, "%%%02X", c);
	}
}

/* A capture's value from the cJSON object ctx, NULL when not captured. */
static const char *capture_value(void *ctx, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* s with each {{name}} replaced by its value in vars (url-encoded for a
 * URL). Returns a new string, or NULL with the unknown name in err. */
static char *expand(const char *s, const cJSON *vars, bool for_url, char *err, size_t errsize)
{
	char *bad = NULL;
	char *out = placeholders_fill(s, capture_value, (void *)vars, for_url ? url_encode_into : NULL, &bad);
	if (!out) {
		snprintf(err, errsize, "{{%s}} is not captured by an earlier step", bad);
		free(bad);
	}
	return out;
}

/* Replaces {{name}} in every string under node, in place. */
static int expand_tree(cJSON *node, const cJSON *vars, bool for_url, char *err, size_t errsize)
{
	if (cJSON_IsString(node)) {
		char *s = expand(node->valuestring, vars, for_url, err, errsize);
		if (!s)
			return -1;
		cJSON_SetValuestring(node, s);
		free(s);
		return 0;
	}
	cJSON *c;
	cJSON_ArrayForEach(c, node)
	{
		if (expand_tree(c, vars, for_url, err, errsize) < 0)
			return -1;
	}
	return 0;
}

/* The step's probe object for this run: its captures substituted, a
 * relative url joined to the base (new; the caller deletes it). */
static cJSON *step_object(const struct e2e *e, const struct step *s, const cJSON *vars, char *err,
			  size_t errsize)
{
	cJSON *o = cJSON_Duplicate(s->spec, 1);
	cJSON *m;
	cJSON_ArrayForEach(m, o)
	{
		if (strcmp(m->string, "capture") == 0 || strcmp(m->string, "poll") == 0)
			continue;
		if (expand_tree(m, vars, strcmp(m->string, "url") == 0, err, errsize) < 0) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	const char *url = json_path_string(o, "url", NULL);
	if (!url || !*url) {
		snprintf(err, errsize, "url: missing");
		cJSON_Delete(o);
		return NULL;
	}
	if (*url == '/') {
		if (!e->base_url) {
			snprintf(err, errsize, "url: \"%.60s\" is relative, and neither deploy.e2e.base_url nor "
					       "api.base_url is set",
				 url);
			cJSON_Delete(o);
			return NULL;
		}
		char *full = url_join_path(e->base_url, url);
		if (!full) {
			snprintf(err, errsize, "url: \"%.60s\" joined to the base URL is not a URL", url);
			cJSON_Delete(o);
			return NULL;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(o, "url", cJSON_CreateString(full));
		free(full);
	}
	return o;
}

/* fail_if of a step's poll: one assertion or a list of them, into s->fail_if. */
static int fail_if_load(struct step *s, size_t i, const cJSON *f, char *err, size_t errsize)
{
	char sub[256];
	if (f && !cJSON_IsString(f) && !cJSON_IsArray(f)) {
		snprintf(err, errsize, "deploy.e2e.steps[%zu].poll.fail_if: an assertion or a list of them", i);
		return -1;
	}
	if (cJSON_IsString(f) && http_probe_add_json_assert(&s->fail_if, f->valuestring, sub, sizeof sub) < 0) {
		snprintf(err, errsize, "deploy.e2e.steps[%zu].poll.fail_if: %s", i, sub);
		return -1;
	}
	const cJSON *a, *list = cJSON_IsArray(f) ? f : NULL;
	cJSON_ArrayForEach(a, list)
	{
		if (!cJSON_IsString(a) || http_probe_add_json_assert(&s->fail_if, a->valuestring, sub, sizeof sub) < 0) {
			snprintf(err, errsize, "deploy.e2e.steps[%zu].poll.fail_if: %s", i,
				 cJSON_IsString(a) ? sub : "an assertion is a string");
			return -1;
		}
	}
	return 0;
}

/* A step's poll: interval, timeout, fail_if. */
static int poll_load(struct step *s, size_t i, const cJSON *poll, char *err, size_t errsize)
{
	if (!poll)
		return 0;
	if (!cJSON_IsObject(poll)) {
		snprintf(err, errsize, "deploy.e2e.steps[%zu].poll: a map of interval, timeout, fail_if", i);
		return -1;
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, poll)
	{
		if (strcmp(m->string, "interval") && strcmp(m->string, "timeout") && strcmp(m->string, "fail_if")) {
			snprintf(err, errsize, "deploy.e2e.steps[%zu].poll.%s: unknown key (interval, timeout, fail_if)",
				 i, m->string);
			return -1;
		}
	}
	s->poll = true;
	s->poll_interval_ms = json_path_duration_ms(poll, "interval", E2E_POLL_INTERVAL_DEFAULT_MS);
	s->poll_timeout_ms = json_path_duration_ms(poll, "timeout", E2E_POLL_TIMEOUT_DEFAULT_MS);
	if (s->poll_interval_ms <= 0 || s->poll_timeout_ms <= 0) {
		snprintf(err, errsize, "deploy.e2e.steps[%zu].poll: interval and timeout are durations such as 1s", i);
		return -1;
	}
	return fail_if_load(s, i, cJSON_GetObjectItemCaseSensitive(poll, "fail_if"), err, errsize);
}

/* The step's probe, checked as it will run (vars holds a stand-in value for
 * each name captured by an earlier step). */
static int probe_check(const struct e2e *e, const struct step *s, size_t i, const cJSON *vars, char *err,
		       size_t errsize)
{
	char sub[256];
	cJSON *o = step_object(e, s, vars, sub, sizeof sub);
	if (!o) {
		snprintf(err, errsize, "deploy.e2e.steps[%zu] (%s): %s", i, s->name, sub);
		return -1;
	}
	struct http_probe p;
	http_probe_init(&p);
	int rc = http_probe_from_json(&p, o, step_keys, sub, sizeof sub);
	cJSON_Delete(o);
	http_probe_free(&p);
	if (rc < 0)
		snprintf(err, errsize, "deploy.e2e.steps[%zu] (%s): %s", i, s->name, sub);
	return rc;
}

/* A step's capture: names of letters, digits and '_', each a JSON path;
 * each added to vars with a stand-in value for the steps after it. */
static int capture_load(size_t i, const cJSON *cap, cJSON *vars, char *err, size_t errsize)
{
	if (cap && !cJSON_IsObject(cap)) {
		snprintf(err, errsize, "deploy.e2e.steps[%zu].capture: a map of name to JSON path", i);
		return -1;
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, cap)
	{
		if (!capture_name_valid(m->string) || !cJSON_IsString(m) || !*m->valuestring) {
			snprintf(err, errsize, "deploy.e2e.steps[%zu].capture.%s: a name of letters, digits "
					       "and '_' mapped to a JSON path such as .id", i, m->string);
			return -1;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(vars, m->string);
		cJSON_AddStringToObject(vars, m->string, "0");
	}
	return 0;
}

/* Step i of deploy.e2e.steps into e->steps[i]. */
static int step_load(struct e2e *e, size_t i, const cJSON *spec, cJSON *vars, char *err, size_t errsize)
{
	struct step *s = &e->steps[e->n++];
	http_probe_init(&s->fail_if);
	s->spec = spec;
	s->name = json_path_string(spec, "name", NULL);
	if (!cJSON_IsObject(spec) || !s->name || !*s->name) {
		snprintf(err, errsize, "deploy.e2e.steps[%zu]: a step is a map with a name", i);
		return -1;
	}
	for (size_t k = 0; k < i; k++)
		if (strcmp(e->steps[k].name, s->name) == 0) {
			snprintf(err, errsize, "deploy.e2e.steps[%zu]: a second step named \"%s\"", i, s->name);
			return -1;
		}
	if (poll_load(s, i, cJSON_GetObjectItemCaseSensitive(spec, "poll"), err, errsize) < 0 ||
	    probe_check(e, s, i, vars, err, errsize) < 0)
		return -1;
	return capture_load(i, cJSON_GetObjectItemCaseSensitive(spec, "capture"), vars, err, errsize);
}

/* Reads and checks deploy.e2e; every problem names its key. Returns 0, or
 * -1 with the reason in err. */
static int e2e_load(struct e2e *e, const cJSON *config, const char *base_override, int64_t timeout_ms,
		    char *err, size_t errsize)
{
	memset(e, 0, sizeof *e);
	const cJSON *cfg = json_path(config, "deploy.e2e");
	if (!cJSON_IsObject(cfg)) {
		snprintf(err, errsize, "deploy.e2e is not configured (a map with steps)");
		return -1;
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, cfg)
	{
		if (strcmp(m->string, "steps") && strcmp(m->string, "timeout") && strcmp(m->string, "base_url")) {
			snprintf(err, errsize, "deploy.e2e.%s: unknown key (steps, timeout, base_url)", m->string);
			return -1;
		}
	}
	const char *base = base_override ? base_override : json_path_string(cfg, "base_url", NULL);
	if (!base || !*base)
		base = json_path_string(config, "api.base_url", NULL);
	if (base && *base)
		e->base_url = estrdup(base);
	e->timeout_ms = timeout_ms > 0 ? timeout_ms : json_path_duration_ms(cfg, "timeout", E2E_TIMEOUT_DEFAULT_MS);
	if (e->timeout_ms <= 0) {
		snprintf(err, errsize, "deploy.e2e.timeout: expected a duration such as 2m");
		return -1;
	}
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cfg, "steps");
	int n = cJSON_GetArraySize(steps);
	if (!cJSON_IsArray(steps) || n == 0 || n > E2E_MAX_STEPS) {
		snprintf(err, errsize, "deploy.e2e.steps: expected a list of 1 to %d steps", E2E_MAX_STEPS);
		return -1;
	}
	e->steps = ecalloc((size_t)n, sizeof *e->steps);
	cJSON *vars = cJSON_CreateObject();
	int rc = 0;
	const cJSON *spec;
	cJSON_ArrayForEach(spec, steps)
	{
		if ((rc = step_load(e, e->n, spec, vars, err, errsize)) < 0)
			break;
	}
	cJSON_Delete(vars);
	return rc;
}

/* ---- running ---- */

static void on_done(struct http_engine *eng, const struct http_probe *p, struct http_result *r, void *tag,
		    void *user)
{
	(void)eng, (void)p, (void)user;
	*(struct http_result **)tag = r;
}

static struct http_result *run_once(struct http_engine *eng, const struct http_probe *p)
{
	struct http_result *r = NULL;
	http_engine_add(eng, p, &r);
	http_engine_run_until(eng, -1);
	if (!r) {
		r = ecalloc(1, sizeof *r);
		r->error = HTTP_ERR_OTHER;
		r->error_message = estrdup("no result");
		r->status = STATUS_UNKNOWN;
	}
	return r;
}

/* Whether one of the step's poll.fail_if assertions holds for r (which is
 * judged again against the step afterwards by the caller). */
static const char *fail_if_matched(const struct step *s, struct http_result *r)
{
	if (!s->fail_if.n_json)
		return NULL;
	http_evaluate(&s->fail_if, r, now_epoch_ms());
	/* one "json" outcome per assertion, in order */
	size_t j = 0;
	for (size_t i = 0; i < r->n_outcomes && j < s->fail_if.n_json; i++) {
		if (strcmp(r->outcomes[i].name, "json") != 0)
			continue;
		if (r->outcomes[i].status == STATUS_OK)
			return s->fail_if.json[j].text;
		j++;
	}
	return NULL;
}

/* The failing outcomes' messages, or the result in one line (new). */
static char *result_reason(const struct http_result *r)
{
	struct buf b = {0};
	for (size_t i = 0; i < r->n_outcomes; i++)
		if (r->outcomes[i].status != STATUS_OK)
			buf_printf(&b, "%s%s", b.len ? "; " : "", r->outcomes[i].message);
	if (!b.len) {
		buf_free(&b);
		return http_result_describe(r);
	}
	return buf_take(&b);
}

/* Captures the step's values from r's JSON body into vars; 0, or -1 with
 * the reason in err. Values under secret-looking names are registered for
 * redaction and shown as "***". */
static int capture(const struct step *s, const struct http_result *r, cJSON *vars, cJSON *shown, char *err,
		   size_t errsize)
{
	const cJSON *cap = cJSON_GetObjectItemCaseSensitive(s->spec, "capture");
	if (!cap)
		return 0;
	cJSON *doc = r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	const cJSON *m;
	int rc = 0;
	cJSON_ArrayForEach(m, cap)
	{
		const char *path = m->valuestring[0] == '.' ? m->valuestring + 1 : m->valuestring;
		const cJSON *v = doc ? json_path(doc, path) : NULL;
		char *value = NULL, number[32];
		if (cJSON_IsString(v))
			value = estrdup(v->valuestring);
		else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
			value = easprintf("%lld", (long long)v->valuedouble);
		else if (cJSON_IsNumber(v))
			value = estrdup(double_text(v->valuedouble, number, sizeof number));
		if (!value || !*value || strlen(value) > E2E_MAX_CAPTURE) {
			snprintf(err, errsize, "capture %s: %s %s", m->string, m->valuestring,
				 !doc ? "(the answer is not JSON)"
				 : !v ? "is not in the answer"
				      : "is not a string or number of at most 1 KiB");
			free(value);
			rc = -1;
			break;
		}
		bool secret = redact_key_looks_secret(m->string);
		if (secret)
			redact_register(value);
		cJSON_DeleteItemFromObjectCaseSensitive(vars, m->string);
		cJSON_AddStringToObject(vars, m->string, value);
		cJSON_AddStringToObject(shown, m->string, secret ? REDACTED : value);
		free(value);
	}
	cJSON_Delete(doc);
	return rc;
}

/* What polling a step came to: the last result (NULL: the sequence's
 * deadline had passed before the first try), how many tries, and the
 * poll.fail_if assertion that ended it, if one did. */
struct polled {
	struct http_result *r;
	int attempts;
	const char *terminal;
};

/* Runs probe p of step s until it is ok, within the step's poll timeout and
 * the sequence's deadline. */
static struct polled step_poll(const struct step *s, struct http_probe *p, struct http_engine *eng,
			       int64_t start, int64_t deadline)
{
	struct polled got = {0};
	int64_t probe_timeout = p->timeout_ms > 0 ? p->timeout_ms : HTTP_TIMEOUT_DEFAULT_MS;
	int64_t poll_deadline = s->poll ? start + s->poll_timeout_ms : start;
	if (poll_deadline > deadline)
		poll_deadline = deadline;
	for (;;) {
		int64_t left = deadline - now_monotonic_ms();
		if (left <= 0)
			break;
		p->timeout_ms = probe_timeout < left ? probe_timeout : left;
		http_result_free(got.r);
		got.r = run_once(eng, p);
		got.attempts++;
		if ((got.terminal = fail_if_matched(s, got.r)))
			break; /* r is judged against the step by the caller */
		http_evaluate(p, got.r, now_epoch_ms());
		if (got.r->status == STATUS_OK || got.r->status == STATUS_WARNING)
			break;
		if (!s->poll || now_monotonic_ms() + s->poll_interval_ms > poll_deadline)
			break;
		verbose("e2e %s: not yet (%s)", s->name,
			got.r->n_outcomes ? got.r->outcomes[got.r->n_outcomes - 1].message : "");
		sleep_ms(s->poll_interval_ms);
	}
	return got;
}

/* The step's status and message (new) from what polling came to; a step
 * that passed captures its values into vars, shown in data. */
static enum status step_verdict(const struct e2e *e, const struct step *s, const struct http_probe *p,
				const struct polled *got, int64_t start, cJSON *vars, cJSON *data, char **msg)
{
	char t[32], err[512];
	struct http_result *r = got->r;
	int n = got->attempts;
	if (!r) {
		*msg = easprintf("not run: the end-to-end timeout (%s) had passed",
				 duration_format(e->timeout_ms, t, sizeof t));
		return STATUS_CRITICAL;
	}
	if (got->terminal) {
		http_evaluate(p, r, now_epoch_ms());
		*msg = easprintf("failed: %s holds after %d poll%s", got->terminal, n, n == 1 ? "" : "s");
		return STATUS_CRITICAL;
	}
	if (r->status != STATUS_OK && r->status != STATUS_WARNING) {
		char *why = result_reason(r);
		if (s->poll && n > 1)
			*msg = easprintf("%s (still, after %d polls in %s)", why, n,
					 duration_format(now_monotonic_ms() - start, t, sizeof t));
		else
			*msg = estrdup(why);
		free(why);
		return r->status;
	}
	enum status st = r->status;
	cJSON *shown = cJSON_CreateObject();
	if (capture(s, r, vars, shown, err, sizeof err) < 0) {
		st = STATUS_CRITICAL;
		*msg = estrdup(err);
	} else {
		char *d = http_result_describe(r);
		*msg = n > 1 ? easprintf("%s, after %d polls", d, n) : estrdup(d);
		free(d);
	}
	if (cJSON_GetArraySize(shown))
		cJSON_AddItemToObject(data, "captured", shown);
	else
		cJSON_Delete(shown);
	return st;
}

/* Runs step s: polls while it is not yet ok, within its poll timeout and
 * the sequence's deadline. Adds its check to rep; returns its status. */
static enum status run_step(const struct e2e *e, const struct step *s, struct http_engine *eng, cJSON *vars,
			    int64_t deadline, struct report *rep)
{
	char err[512];
	int64_t start = now_monotonic_ms();
	char *check = easprintf("e2e.%s", s->name);
	cJSON *o = step_object(e, s, vars, err, sizeof err);
	struct http_probe p;
	http_probe_init(&p);
	if (!o || http_probe_from_json(&p, o, step_keys, err, sizeof err) < 0) {
		/* checked when loaded: only a captured value can make it fail here */
		report_add_check(rep, check, STATUS_UNKNOWN, 0, NULL, "%s", err);
		cJSON_Delete(o);
		free(check);
		http_probe_free(&p);
		return STATUS_UNKNOWN;
	}
	cJSON_Delete(o);
	p.keep_body = true; /* for captures and poll.fail_if */
	struct polled got = step_poll(s, &p, eng, start, deadline);
	cJSON *data = got.r ? http_result_json(got.r, now_epoch_ms()) : cJSON_CreateObject();
	cJSON_AddNumberToObject(data, "polls", got.attempts);
	char *msg;
	enum status st = step_verdict(e, s, &p, &got, start, vars, data, &msg);
	report_add_check(rep, check, st, now_monotonic_ms() - start, data, "%s %s: %s", p.method ? p.method : "GET",
			 got.r && got.r->effective_url ? got.r->effective_url : "", msg);
	free(msg);
	free(check);
	http_result_free(got.r);
	http_probe_free(&p);
	return st;
}

/* --dry-run: the steps that would run, placeholders as written. */
static void print_plan(const struct run *r, const struct e2e *e)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "journal");
	cJSON_AddStringToObject(doc, "type", "e2e");
	cJSON_AddBoolToObject(doc, "dry_run", true);
	cJSON_AddNumberToObject(doc, "timeout_ms", (double)e->timeout_ms);
	cJSON *steps = cJSON_AddArrayToObject(doc, "steps");
	struct buf t = {0};
	for (size_t i = 0; i < e->n; i++) {
		const struct step *s = &e->steps[i];
		const char *url = json_path_string(s->spec, "url", "");
		char *full = *url == '/' && e->base_url ? url_join_path(e->base_url, url) : NULL;
		full = full ? full : estrdup(url);
		char *shown = redact_url(full);
		free(full);
		const char *method = json_path_string(s->spec, "method", "GET");
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", s->name);
		cJSON_AddStringToObject(o, "method", method);
		cJSON_AddStringToObject(o, "url", shown);
		cJSON_AddBoolToObject(o, "poll", s->poll);
		cJSON *names = cJSON_AddArrayToObject(o, "capture");
		const cJSON *cap;
		cJSON_ArrayForEach(cap, cJSON_GetObjectItemCaseSensitive(s->spec, "capture"))
			cJSON_AddItemToArray(names, cJSON_CreateString(cap->string));
		cJSON_AddItemToArray(steps, o);
		buf_printf(&t, "%s%s: would %s %s%s", t.len ? "\n" : "", s->name, method, shown,
			   s->poll ? ", polling until it passes" : "");
		free(shown);
	}
	emit(r, doc, t.data);
	buf_free(&t);
	cJSON_Delete(doc);
}

int cmd_e2e(struct run *r)
{
	struct e2e e;
	char err[512];
	if (e2e_load(&e, r->config, r->a->url, time_left_ms(r->a), err, sizeof err) < 0) {
		e2e_free(&e);
		die(EXIT_DATAERR, "%s", err);
	}
	if (r->a->dry_run) {
		print_plan(r, &e);
		e2e_free(&e);
		return EXIT_OK;
	}
	struct report *rep = report_new("deploy-stage");
	struct http_engine *eng = http_engine_new(&(struct http_engine_opts){
		.parallel = 1, .on_done = on_done, .verbose = r->a->std.verbose > 1});
	if (!eng)
		die(EXIT_UNKNOWN, "unable to start libcurl");
	cJSON *vars = cJSON_CreateObject();
	int64_t deadline = now_monotonic_ms() + e.timeout_ms;
	size_t passed = 0;
	const char *stopped = NULL;
	for (size_t i = 0; i < e.n; i++) {
		enum status st = run_step(&e, &e.steps[i], eng, vars, deadline, rep);
		if (st == STATUS_CRITICAL || st == STATUS_UNKNOWN) {
			stopped = e.steps[i].name;
			break;
		}
		passed++;
	}
	if (stopped)
		report_set_summary(rep, "end-to-end pipeline failed at %s: %zu of %zu steps passed", stopped, passed, e.n);
	else
		report_set_summary(rep, "end-to-end pipeline: %zu step%s passed", e.n, e.n == 1 ? "" : "s");
	int st = (int)report_status(rep);
	report_print(rep, r->fmt, stdout);
	report_free(rep);
	cJSON_Delete(vars);
	http_engine_free(eng);
	e2e_free(&e);
	return st;
}
