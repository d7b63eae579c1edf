/* settings.c — alert-send's channels and policies from the config document's
 * "alerts" section. */
#include "alert-send.h"
#include "shipshape/http.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const channel_names[CH_COUNT] = {
	[CH_SLACK] = "slack", [CH_EMAIL] = "email", [CH_WEBHOOK] = "webhook",
	[CH_ALERTMANAGER] = "alertmanager",
};

int channel_parse(const char *name)
{
	for (int i = 0; i < CH_COUNT; i++)
		if (strcmp(name, channel_names[i]) == 0)
			return i;
	return -1;
}

struct loader {
	const cJSON *alerts;
	const char *file; /* the config, for messages */
	unsigned errors;
};

static void bad(struct loader *l, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bad(struct loader *l, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	error_msg("%s: alerts.%s: %s", l->file, path, msg);
	l->errors++;
}

static int64_t duration_at(struct loader *l, const char *path, int64_t def, int64_t min)
{
	int64_t ms = json_path_duration_ms(l->alerts, path, def);
	if (ms < 0 || ms < min) {
		char b[32];
		bad(l, path, "expected a duration of at least %s (such as 30s or 15m)",
		    duration_format(min, b, sizeof b));
		return def;
	}
	return ms;
}

static const char *string_at(struct loader *l, const char *path)
{
	const cJSON *j = json_path(l->alerts, path);
	if (!j || cJSON_IsNull(j))
		return NULL;
	if (!cJSON_IsString(j)) {
		bad(l, path, "expected a string");
		return NULL;
	}
	return *j->valuestring ? j->valuestring : NULL;
}

static long int_at(struct loader *l, const char *path, long def, long min, long max)
{
	const cJSON *j = json_path(l->alerts, path);
	if (!j || cJSON_IsNull(j))
		return def;
	if (!cJSON_IsNumber(j) || j->valuedouble != (double)(long)j->valuedouble ||
	    j->valuedouble < (double)min || j->valuedouble > (double)max) {
		bad(l, path, "expected a whole number from %ld to %ld", min, max);
		return def;
	}
	return (long)j->valuedouble;
}

static bool bool_at(struct loader *l, const char *path, bool def)
{
	const cJSON *j = json_path(l->alerts, path);
	if (!j || cJSON_IsNull(j))
		return def;
	if (!cJSON_IsBool(j)) {
		bad(l, path, "expected true or false");
		return def;
	}
	return cJSON_IsTrue(j);
}

static char *dup_or_null(const char *s)
{
	return s ? estrdup(s) : NULL;
}

/* The per-channel policy keys, each defaulting to the section-wide one. */
static void channel_policy(struct loader *l, struct channel *c, int64_t group_wait, int64_t repeat,
			   int rate_count, int64_t rate_per)
{
	char p[128];
	snprintf(p, sizeof p, "%s.group_wait", c->name);
	c->group_wait_ms = duration_at(l, p, group_wait, 0);
	snprintf(p, sizeof p, "%s.repeat_interval", c->name);
	c->repeat_ms = duration_at(l, p, repeat, 1000);
	snprintf(p, sizeof p, "%s.rate_limit.count", c->name);
	c->rate_count = (int)int_at(l, p, rate_count, 0, 100000);
	snprintf(p, sizeof p, "%s.rate_limit.per", c->name);
	c->rate_per_ms = duration_at(l, p, rate_per, 1);
	c->tokens = c->rate_count;
	snprintf(p, sizeof p, "%s.tls_verify", c->name);
	c->tls_verify = bool_at(l, p, true);
	snprintf(p, sizeof p, "%s.ca_file", c->name);
	c->ca_file = dup_or_null(string_at(l, p));
}

static void load_email(struct loader *l, struct channel *c)
{
	const char *url = string_at(l, "email.smtp.url");
	const char *from = string_at(l, "email.from");
	const cJSON *rcpt = json_path(l->alerts, "email.recipients");
	if (!url && !from && !rcpt)
		return;
	if (!url || !from || !cJSON_IsArray(rcpt) || cJSON_GetArraySize(rcpt) == 0) {
		/* An email section left half-filled, as production.yaml is when
		 * SMTP_PASSWORD is unset, is a channel not configured, not an error. */
		verbose("email: not configured (needs alerts.email.from, .recipients and .smtp.url)");
		return;
	}
	if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
		bad(l, "email.smtp.url", "expected an smtp:// or smtps:// URL");
		return;
	}
	const cJSON *r;
	c->rcpt = ecalloc((size_t)cJSON_GetArraySize(rcpt) + 1, sizeof *c->rcpt);
	cJSON_ArrayForEach(r, rcpt) {
		if (!cJSON_IsString(r) || !strchr(r->valuestring, '@') ||
		    strpbrk(r->valuestring, "\r\n<>")) {
			bad(l, "email.recipients", "expected a list of addresses");
			continue;
		}
		c->rcpt[c->n_rcpt++] = estrdup(r->valuestring);
	}
	if (!strchr(from, '@') || strpbrk(from, "\r\n<>"))
		bad(l, "email.from", "expected an address");
	c->from = estrdup(from);
	c->url = estrdup(url);
	c->username = dup_or_null(string_at(l, "email.smtp.username"));
	c->password = dup_or_null(string_at(l, "email.smtp.password"));
	if (c->password)
		redact_register(c->password);
	const char *tls = string_at(l, "email.smtp.tls");
	if (!tls || strcmp(tls, "required") == 0)
		c->tls = SMTP_TLS_REQUIRED;
	else if (strcmp(tls, "try") == 0)
		c->tls = SMTP_TLS_TRY;
	else if (strcmp(tls, "none") == 0)
		c->tls = SMTP_TLS_NONE;
	else
		bad(l, "email.smtp.tls", "expected required, try or none");
	/* TLS details sit with the SMTP URL, where an operator looks for them. */
	if (!c->ca_file)
		c->ca_file = dup_or_null(string_at(l, "email.smtp.ca_file"));
	c->tls_verify = bool_at(l, "email.smtp.tls_verify", c->tls_verify);
	c->configured = true;
}

static void load_url_channel(struct loader *l, struct channel *c, const char *key, bool secret)
{
	char p[128];
	snprintf(p, sizeof p, "%s.%s", c->name, key);
	const char *url = string_at(l, p);
	if (!url)
		return;
	if (secret)
		redact_register(url);
	char why[256];
	if (http_url_check(url, why, sizeof why) < 0) {
		bad(l, p, "%s", why); /* never the URL itself: it is the secret */
		return;
	}
	c->url = estrdup(url);
	c->configured = true;
}

static unsigned channel_list(struct loader *l, const cJSON *list, const char *path, unsigned configured)
{
	unsigned bits = 0;
	const cJSON *c;
	if (!cJSON_IsArray(list)) {
		bad(l, path, "expected a list of channel names");
		return 0;
	}
	cJSON_ArrayForEach(c, list) {
		int id = cJSON_IsString(c) ? channel_parse(c->valuestring) : -1;
		if (id < 0) {
			bad(l, path, "unknown channel \"%s\" (expected slack, email, webhook or alertmanager)",
			    cJSON_IsString(c) ? c->valuestring : "?");
			continue;
		}
		if (!(configured & (1u << id)))
			verbose("%s: channel %s is not configured; skipped", path, c->valuestring);
		bits |= 1u << id;
	}
	return bits & configured;
}

static int compare_levels(const void *a, const void *b)
{
	const struct level *x = a, *y = b;
	return x->after_ms < y->after_ms ? -1 : x->after_ms > y->after_ms ? 1 : x->level - y->level;
}

static void load_levels(struct loader *l, struct settings *s)
{
	unsigned configured = settings_configured(s);
	const cJSON *levels = json_path(l->alerts, "escalation.levels");
	if (!levels || cJSON_IsNull(levels)) {
		static const int64_t after[] = {0, 15 * 60000, 30 * 60000};
		for (size_t i = 0; i < ARRAY_LEN(after); i++)
			s->levels[s->n_levels++] = (struct level){(int)i + 1, after[i], configured};
		return;
	}
	if (!cJSON_IsArray(levels) || cJSON_GetArraySize(levels) == 0) {
		bad(l, "escalation.levels", "expected a list of {level, after, channels}");
		return;
	}
	int i = 0;
	const cJSON *lv;
	cJSON_ArrayForEach(lv, levels) {
		char p[128];
		if (s->n_levels == MAX_LEVELS) {
			bad(l, "escalation.levels", "more than %d levels", MAX_LEVELS);
			break;
		}
		struct level *v = &s->levels[s->n_levels];
		snprintf(p, sizeof p, "escalation.levels[%d].level", i);
		v->level = (int)int_at(l, p, i + 1, 1, 100);
		snprintf(p, sizeof p, "escalation.levels[%d].after", i);
		v->after_ms = duration_at(l, p, 0, 0);
		snprintf(p, sizeof p, "escalation.levels[%d].channels", i);
		v->channels = channel_list(l, cJSON_GetObjectItemCaseSensitive(lv, "channels"), p, configured);
		s->n_levels++;
		i++;
	}
	qsort(s->levels, s->n_levels, sizeof *s->levels, compare_levels);
	for (size_t k = 1; k < s->n_levels; k++)
		if (s->levels[k].level <= s->levels[k - 1].level)
			bad(l, "escalation.levels", "levels must rise with \"after\" (level %d after level %d)",
			    s->levels[k].level, s->levels[k - 1].level);
}

static void load_runbooks(struct loader *l, struct settings *s)
{
	const cJSON *rb = json_path(l->alerts, "runbooks");
	if (!rb || cJSON_IsNull(rb))
		return;
	if (!cJSON_IsObject(rb)) {
		bad(l, "runbooks", "expected a map of alert name to a command");
		return;
	}
	s->runbooks = ecalloc((size_t)cJSON_GetArraySize(rb) + 1, sizeof *s->runbooks);
	const cJSON *e;
	cJSON_ArrayForEach(e, rb) {
		char p[256];
		struct runbook *r = &s->runbooks[s->n_runbooks];
		const cJSON *cmd = cJSON_IsArray(e) ? e : cJSON_GetObjectItemCaseSensitive(e, "command");
		if (!cJSON_IsArray(e) && !cJSON_IsObject(e)) {
			snprintf(p, sizeof p, "runbooks.%s", e->string);
			bad(l, p, "expected a command (a list of strings) or {command, timeout, url}");
			continue;
		}
		r->timeout_ms = 30000;
		if (cJSON_IsObject(e)) {
			snprintf(p, sizeof p, "runbooks.%s.timeout", e->string);
			r->timeout_ms = duration_at(l, p, 30000, 1);
			snprintf(p, sizeof p, "runbooks.%s.url", e->string);
			r->url = dup_or_null(string_at(l, p));
		}
		if (cmd) {
			int n = cJSON_GetArraySize(cmd);
			const cJSON *a;
			bool ok = cJSON_IsArray(cmd) && n > 0;
			cJSON_ArrayForEach(a, cmd)
				ok = ok && cJSON_IsString(a) && *a->valuestring;
			if (!ok) {
				snprintf(p, sizeof p, "runbooks.%s.command", e->string);
				bad(l, p, "expected a non-empty list of strings (an argv; no shell)");
				free(r->url);
				r->url = NULL;
				continue;
			}
			r->argv = ecalloc((size_t)n + 1, sizeof *r->argv);
			int k = 0;
			cJSON_ArrayForEach(a, cmd)
				r->argv[k++] = estrdup(a->valuestring);
		}
		r->alertname = estrdup(e->string);
		s->n_runbooks++;
	}
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* group_by: Alertmanager's route key; none puts every alert in one group. */
static void load_group_by(struct loader *l, struct settings *s)
{
	const cJSON *list = json_path(l->alerts, "group_by");
	s->group_by = ecalloc(1, sizeof *s->group_by);
	if (!list || cJSON_IsNull(list))
		return;
	if (!cJSON_IsArray(list)) {
		bad(l, "group_by", "expected a list of label names");
		return;
	}
	const cJSON *n;
	int i = 0;
	cJSON_ArrayForEach(n, list) {
		if (!cJSON_IsString(n) || !label_name_valid(n->valuestring)) {
			bad(l, "group_by", "item %d: expected a label name ([A-Za-z_][A-Za-z0-9_]*)", i);
		} else {
			bool dup = false;
			for (size_t k = 0; k < s->n_group_by; k++)
				dup = dup || strcmp(s->group_by[k], n->valuestring) == 0;
			if (!dup) {
				s->group_by = erealloc(s->group_by, (s->n_group_by + 2) * sizeof *s->group_by);
				s->group_by[s->n_group_by++] = estrdup(n->valuestring);
				s->group_by[s->n_group_by] = NULL;
			}
		}
		i++;
	}
	qsort(s->group_by, s->n_group_by, sizeof *s->group_by, compare_strings);
}

cJSON *settings_group_labels(const struct settings *s, const cJSON *labels)
{
	cJSON *g = cJSON_CreateObject();
	for (size_t i = 0; i < s->n_group_by; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, s->group_by[i]);
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(g, s->group_by[i], v->valuestring);
	}
	return g;
}

char *group_key_of(const cJSON *group_labels)
{
	/* Alertmanager's: the route's key ({} for the root route), then the
	 * group's label set as Go prints it, sorted by name (the labels come
	 * sorted from settings_group_labels). */
	struct buf k = {0};
	buf_puts(&k, "{}:{");
	const cJSON *l;
	bool first = true;
	cJSON_ArrayForEach(l, group_labels) {
		buf_printf(&k, "%s%s=\"", first ? "" : ", ", l->string);
		for (const char *p = l->valuestring; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_printf(&k, "\\%c", *p);
			else if (*p == '\n')
				buf_puts(&k, "\\n");
			else
				buf_putc(&k, *p);
		}
		buf_putc(&k, '"');
		first = false;
	}
	buf_putc(&k, '}');
	return buf_take(&k);
}

unsigned settings_load(struct settings *s, const cJSON *doc, const char *file, int64_t timeout_ms)
{
	memset(s, 0, sizeof *s);
	struct loader l = {.alerts = cJSON_GetObjectItemCaseSensitive(doc, "alerts"),
			   .file = file ? file : "config"};
	if (l.alerts && !cJSON_IsObject(l.alerts)) {
		error_msg("%s: alerts: expected a map", l.file);
		return 1;
	}
	s->environment = dup_or_null(json_path_string(doc, "environment", NULL));
	s->service = dup_or_null(json_path_string(doc, "service.name", NULL));
	for (int i = 0; i < CH_COUNT; i++) {
		s->ch[i].id = (enum channel_id)i;
		s->ch[i].name = channel_names[i];
	}
	int64_t group_wait = duration_at(&l, "group_wait", 30000, 0);
	int64_t repeat = duration_at(&l, "repeat_interval", 4 * 3600000LL, 1000);
	int rate_count = (int)int_at(&l, "rate_limit.count", 20, 0, 100000);
	int64_t rate_per = duration_at(&l, "rate_limit.per", 60000, 1);
	for (int i = 0; i < CH_COUNT; i++) {
		struct channel *c = &s->ch[i];
		if (i == CH_ALERTMANAGER) {
			/* Alertmanager groups and rate-limits by itself and expects
			 * firing alerts re-sent well within its resolve_timeout. */
			int64_t resend = duration_at(&l, "alertmanager.resend_interval", 60000, 1000);
			channel_policy(&l, c, 0, resend, 0, rate_per);
		} else {
			channel_policy(&l, c, group_wait, repeat, rate_count, rate_per);
		}
	}
	load_url_channel(&l, &s->ch[CH_SLACK], "webhook_url", true);
	load_url_channel(&l, &s->ch[CH_WEBHOOK], "url", true);
	load_url_channel(&l, &s->ch[CH_ALERTMANAGER], "url", false);
	load_email(&l, &s->ch[CH_EMAIL]);
	for (int i = 0; i < CH_COUNT; i++)
		if (s->ch[i].url)
			s->ch[i].host = url_host(s->ch[i].url);

	s->retry_attempts = (int)int_at(&l, "retry.attempts", 5, 1, 100);
	s->retry_initial_ms = duration_at(&l, "retry.initial_backoff", 1000, 1);
	s->retry_max_ms = duration_at(&l, "retry.max_backoff", 60000, 1);
	s->retry_after_max_ms = duration_at(&l, "retry.max_retry_after", 300000, 0);
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : duration_at(&l, "timeout", 10000, 1);
	s->max_alerts_per_message = (size_t)int_at(&l, "max_alerts_per_message", 100, 1, 1000);
	s->runbook_max_output = (size_t)int_at(&l, "runbook_max_output", 65536, 256, 16 << 20);
	load_levels(&l, s);
	load_runbooks(&l, s);
	load_group_by(&l, s);
	return l.errors;
}

void settings_free(struct settings *s)
{
	for (int i = 0; i < CH_COUNT; i++) {
		struct channel *c = &s->ch[i];
		free(c->url);
		free(c->host);
		free(c->ca_file);
		free(c->from);
		for (size_t k = 0; k < c->n_rcpt; k++)
			free(c->rcpt[k]);
		free(c->rcpt);
		free(c->username);
		free(c->password);
	}
	for (size_t i = 0; i < s->n_runbooks; i++) {
		struct runbook *r = &s->runbooks[i];
		free(r->alertname);
		free(r->url);
		for (char **a = r->argv; a && *a; a++)
			free(*a);
		free(r->argv);
	}
	free(s->runbooks);
	for (size_t i = 0; i < s->n_group_by; i++)
		free(s->group_by[i]);
	free(s->group_by);
	free(s->environment);
	free(s->service);
	memset(s, 0, sizeof *s);
}

unsigned settings_configured(const struct settings *s)
{
	unsigned bits = 0;
	for (int i = 0; i < CH_COUNT; i++)
		if (s->ch[i].configured)
			bits |= 1u << i;
	return bits;
}

const struct runbook *settings_runbook(const struct settings *s, const char *alertname)
{
	for (size_t i = 0; i < s->n_runbooks; i++)
		if (strcmp(s->runbooks[i].alertname, alertname) == 0)
			return &s->runbooks[i];
	return NULL;
}
