/* settings.c — alert-send's channels and policies from the config's "alerts"
 * section, read with the config's typed readers (config.h): a default only
 * where a key is absent; a present value of the wrong type, or out of range,
 * is an error at its place ("FILE:LINE:COL: alerts.KEY: ..."). */
#include "alert-send.h"
#include "shipshape/config.h"
#include "shipshape/http.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A runbook's alert name is a key of a config path: without '.' or '[',
 * and short enough for every path built on it. */
#define RUNBOOK_NAME_MAX 200

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

/* ---- typed values, with the ranges alert-send needs ---- */

const char *at(struct key *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(k->path, sizeof k->path, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof k->path)
		die(EXIT_UNKNOWN, "config key path too long: %.40s...", k->path);
	return k->path;
}

/* A duration of at least min_ms; def when absent or invalid (reported). */
static int64_t duration_at(struct config *c, const char *path, int64_t def, int64_t min_ms)
{
	int64_t ms = def;
	if (!config_duration_ms(c, path, def, &ms))
		return def;
	if (ms < min_ms) {
		char shown[32], least[32];
		config_error(c, path, "%s is below the minimum %s", duration_format(ms, shown, sizeof shown),
			     duration_format(min_ms, least, sizeof least));
		return def;
	}
	return ms;
}

/* An int from min to max; def when absent or invalid (reported). */
static int64_t int_at(struct config *c, const char *path, int64_t def, int64_t min, int64_t max)
{
	int64_t v = def;
	if (!config_int(c, path, def, &v))
		return def;
	if (v < min)
		config_error(c, path, "%" PRId64 " is below the minimum %" PRId64, v, min);
	else if (v > max)
		config_error(c, path, "%" PRId64 " is above the maximum %" PRId64, v, max);
	else
		return v;
	return def;
}

/* A string copied out; NULL when absent, empty (an unset ${VAR:-} leaves
 * a channel unconfigured) or invalid (reported). */
static char *string_at(struct config *c, const char *path)
{
	const char *v = NULL;
	config_string(c, path, NULL, &v);
	return v && *v ? estrdup(v) : NULL;
}

/* ---- channels ---- */

/* The section-wide policy each channel's own keys default to. */
struct policy {
	int64_t group_wait_ms, repeat_ms, rate_per_ms;
	int rate_count;
};

static void channel_policy(struct config *c, struct channel *ch, const struct policy *p)
{
	struct key k;
	ch->group_wait_ms = duration_at(c, at(&k, "alerts.%s.group_wait", ch->name), p->group_wait_ms, 0);
	ch->repeat_ms = duration_at(c, at(&k, "alerts.%s.repeat_interval", ch->name), p->repeat_ms, 1000);
	ch->rate_count = (int)int_at(c, at(&k, "alerts.%s.rate_limit.count", ch->name), p->rate_count, 0, 100000);
	ch->rate_per_ms = duration_at(c, at(&k, "alerts.%s.rate_limit.per", ch->name), p->rate_per_ms, 1);
	ch->tokens = ch->rate_count;
	ch->tls_verify = true;
	config_bool(c, at(&k, "alerts.%s.tls_verify", ch->name), true, &ch->tls_verify);
	ch->ca_file = string_at(c, at(&k, "alerts.%s.ca_file", ch->name));
}

static void load_url_channel(struct config *c, struct channel *ch, const char *name, bool secret)
{
	struct key k;
	at(&k, "alerts.%s.%s", ch->name, name);
	char *url = string_at(c, k.path);
	if (!url)
		return;
	if (secret)
		redact_register(url);
	char why[256];
	if (http_url_check(url, why, sizeof why) < 0) {
		config_error(c, k.path, "%s", why); /* never the URL itself: it is the secret */
		free(url);
		return;
	}
	ch->url = url;
	ch->configured = true;
}

static bool address_valid(const char *s)
{
	return strchr(s, '@') && !strpbrk(s, "\r\n<>");
}

static void load_recipients(struct config *c, struct channel *ch, size_t n)
{
	ch->rcpt = ecalloc(n + 1, sizeof *ch->rcpt);
	for (size_t i = 0; i < n; i++) {
		struct key k;
		const char *r = NULL;
		if (!config_string(c, at(&k, "alerts.email.recipients[%zu]", i), NULL, &r) || !r)
			continue;
		if (!address_valid(r))
			config_error(c, k.path, "expected an address");
		else
			ch->rcpt[ch->n_rcpt++] = estrdup(r);
	}
}

/* email: configured by from, recipients and smtp.url together. */
static void load_email(struct config *c, struct channel *ch)
{
	static const char *const tls_names[] = {[SMTP_TLS_REQUIRED] = "required", [SMTP_TLS_TRY] = "try",
						[SMTP_TLS_NONE] = "none", NULL};
	char *url = string_at(c, "alerts.email.smtp.url"), *from = string_at(c, "alerts.email.from");
	size_t n = config_list_len(c, "alerts.email.recipients");
	if (!url || !from || n == 0) {
		/* An email section left half-filled, as production.yaml is when
		 * SMTP_PASSWORD is unset, is a channel not configured, not an error. */
		if (url || from || n)
			verbose("email: not configured (needs alerts.email.from, .recipients and .smtp.url)");
		free(url);
		free(from);
		return;
	}
	ch->url = url;
	ch->from = from;
	if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0)
		config_error(c, "alerts.email.smtp.url", "expected an smtp:// or smtps:// URL");
	if (!address_valid(from))
		config_error(c, "alerts.email.from", "expected an address");
	load_recipients(c, ch, n);
	ch->username = string_at(c, "alerts.email.smtp.username");
	ch->password = string_at(c, "alerts.email.smtp.password");
	if (ch->password)
		redact_register(ch->password);
	int tls = SMTP_TLS_REQUIRED;
	config_enum(c, "alerts.email.smtp.tls", tls_names, SMTP_TLS_REQUIRED, &tls);
	ch->tls = (enum smtp_tls)tls;
	/* TLS details sit with the SMTP URL, where an operator looks for them. */
	if (!ch->ca_file)
		ch->ca_file = string_at(c, "alerts.email.smtp.ca_file");
	config_bool(c, "alerts.email.smtp.tls_verify", ch->tls_verify, &ch->tls_verify);
	ch->configured = true;
}

/* One channel: its policy and its destination. A problem with either
 * leaves it unconfigured, with the last one said in ch->problem. */
static void load_channel(struct config *c, struct channel *ch, enum channel_id id, const struct policy *p)
{
	unsigned errors_before = c->diag.errors;
	ch->id = id;
	ch->name = channel_names[id];
	if (id == CH_ALERTMANAGER) {
		/* Alertmanager groups and rate-limits by itself and expects
		 * firing alerts re-sent well within its resolve_timeout. */
		struct policy am = {.rate_per_ms = p->rate_per_ms};
		am.repeat_ms = duration_at(c, "alerts.alertmanager.resend_interval", 60000, 1000);
		channel_policy(c, ch, &am);
	} else {
		channel_policy(c, ch, p);
	}
	if (id == CH_SLACK)
		load_url_channel(c, ch, "webhook_url", true);
	else if (id == CH_WEBHOOK)
		load_url_channel(c, ch, "url", true);
	else if (id == CH_ALERTMANAGER)
		load_url_channel(c, ch, "url", false);
	else
		load_email(c, ch);
	if (ch->url)
		ch->host = url_host(ch->url);
	ch->problems = c->diag.errors - errors_before;
	if (ch->problems) {
		ch->problem = estrdup(c->diag.last); /* as printed: located, redacted */
		ch->configured = false;
	}
}

/* ---- escalation, runbooks, grouping ---- */

/* The channels a level lists that are configured (bit per channel id). */
static unsigned channel_list(struct config *c, const char *path, unsigned configured)
{
	if (!config_at(c, path)) {
		config_error(c, path, "missing (expected a list of channel names)");
		return 0;
	}
	unsigned bits = 0;
	size_t n = config_list_len(c, path);
	for (size_t i = 0; i < n; i++) {
		struct key k;
		const char *name = NULL;
		if (!config_string(c, at(&k, "%s[%zu]", path, i), NULL, &name) || !name)
			continue;
		int id = channel_parse(name);
		if (id < 0) {
			config_error(c, path, "unknown channel \"%s\" (expected slack, email, webhook or alertmanager)",
				     name);
			continue;
		}
		if (!(configured & (1u << id)))
			verbose("%s: channel %s is not configured; skipped", path, name);
		bits |= 1u << id;
	}
	return bits & configured;
}

/* alerts.notices.channels: Slack and webhook take deploy notices. */
static void load_notice_channels(struct config *c, struct settings *s)
{
	static const char path[] = "alerts.notices.channels";
	if (!config_at(c, path))
		return;
	s->notice_channels = channel_list(c, path, settings_configured(s));
	const unsigned takes = (1u << CH_SLACK) | (1u << CH_WEBHOOK);
	if (s->notice_channels & ~takes)
		config_error(c, path, "deploy notices go to slack or webhook, not to email or alertmanager");
	s->notice_channels &= takes;
}

static int compare_levels(const void *a, const void *b)
{
	const struct level *x = a, *y = b;
	return x->after_ms < y->after_ms ? -1 : x->after_ms > y->after_ms ? 1 : x->level - y->level;
}

static void load_levels(struct config *c, struct settings *s)
{
	static const char path[] = "alerts.escalation.levels";
	unsigned configured = settings_configured(s);
	const struct cfg_node *levels = config_at(c, path);
	if (!levels) {
		static const int64_t after[] = {0, 15 * 60000, 30 * 60000};
		for (size_t i = 0; i < ARRAY_LEN(after); i++)
			s->levels[s->n_levels++] = (struct level){(int)i + 1, after[i], configured};
		return;
	}
	size_t n = config_list_len(c, path); /* a value that is not a list is reported */
	if (n == 0 && levels->type == CFG_LIST)
		config_error(c, path, "expected a list of {level, after, channels}, got an empty one");
	if (n > MAX_LEVELS) {
		config_error(c, path, "more than %d levels", MAX_LEVELS);
		n = MAX_LEVELS;
	}
	for (size_t i = 0; i < n; i++) {
		struct key k;
		struct level *v = &s->levels[s->n_levels++];
		v->level = (int)int_at(c, at(&k, "%s[%zu].level", path, i), (int64_t)i + 1, 1, 100);
		v->after_ms = duration_at(c, at(&k, "%s[%zu].after", path, i), 0, 0);
		v->channels = channel_list(c, at(&k, "%s[%zu].channels", path, i), configured);
	}
	qsort(s->levels, s->n_levels, sizeof *s->levels, compare_levels);
	for (size_t k = 1; k < s->n_levels; k++)
		if (s->levels[k].level <= s->levels[k - 1].level)
			config_error(c, path, "levels must rise with \"after\" (level %d after level %d)",
				     s->levels[k].level, s->levels[k - 1].level);
}

/* A runbook's command: a non-empty list of non-empty strings (an argv; no
 * shell). New and NULL-terminated, or NULL after reporting why not. */
static char **argv_at(struct config *c, const char *path)
{
	size_t n = config_list_len(c, path);
	char **argv = ecalloc(n + 1, sizeof *argv);
	bool ok = n > 0, typed = true;
	for (size_t i = 0; i < n; i++) {
		struct key k;
		const char *arg = NULL;
		if (!config_string(c, at(&k, "%s[%zu]", path, i), NULL, &arg))
			typed = false; /* reported */
		else if (!arg || !*arg)
			ok = false;
		else
			argv[i] = estrdup(arg);
	}
	if (!ok && config_at(c, path)->type == CFG_LIST)
		config_error(c, path, "expected a non-empty list of strings (an argv; no shell)");
	if (ok && typed)
		return argv;
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	return NULL;
}

static void load_runbook(struct config *c, struct settings *s, const struct cfg_node *entry)
{
	struct key base, k;
	if (strlen(entry->key) > RUNBOOK_NAME_MAX || strpbrk(entry->key, ".[")) {
		config_error(c, "alerts.runbooks", "\"%.40s\": expected an alert name of at most %d characters, "
			     "without '.' or '['", entry->key, RUNBOOK_NAME_MAX);
		return;
	}
	at(&base, "alerts.runbooks.%s", entry->key);
	if (entry->type != CFG_LIST && entry->type != CFG_MAP) {
		config_error(c, base.path, "expected a command (a list of strings) or {command, timeout, url}");
		return;
	}
	struct runbook *r = &s->runbooks[s->n_runbooks];
	r->timeout_ms = 30000;
	k = base;
	if (entry->type == CFG_MAP) {
		r->timeout_ms = duration_at(c, at(&k, "%s.timeout", base.path), 30000, 1);
		r->url = string_at(c, at(&k, "%s.url", base.path));
		at(&k, "%s.command", base.path);
	}
	if (config_at(c, k.path) && !(r->argv = argv_at(c, k.path))) {
		free(r->url);
		r->url = NULL;
		return;
	}
	r->alertname = estrdup(entry->key);
	s->n_runbooks++;
}

static void load_runbooks(struct config *c, struct settings *s)
{
	const struct cfg_node *map = config_at(c, "alerts.runbooks");
	if (!map)
		return;
	if (map->type != CFG_MAP) {
		config_error(c, "alerts.runbooks", "expected a map of alert name to a command");
		return;
	}
	s->runbooks = ecalloc(cfg_count(map) + 1, sizeof *s->runbooks);
	for (const struct cfg_node *entry = map->child; entry; entry = entry->next)
		load_runbook(c, s, entry);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* group_by: Alertmanager's route key; none puts every alert in one group. */
static void load_group_by(struct config *c, struct settings *s)
{
	size_t n = config_list_len(c, "alerts.group_by");
	s->group_by = ecalloc(n + 1, sizeof *s->group_by);
	for (size_t i = 0; i < n; i++) {
		struct key k;
		const char *name = NULL;
		if (!config_string(c, at(&k, "alerts.group_by[%zu]", i), NULL, &name) || !name)
			continue;
		if (!label_name_valid(name)) {
			config_error(c, k.path, "expected a label name ([A-Za-z_][A-Za-z0-9_]*)");
			continue;
		}
		bool seen = false;
		for (size_t j = 0; j < s->n_group_by; j++)
			seen = seen || strcmp(s->group_by[j], name) == 0;
		if (!seen)
			s->group_by[s->n_group_by++] = estrdup(name);
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

void settings_load(struct settings *s, struct config *c, int64_t attempt_timeout_ms)
{
	memset(s, 0, sizeof *s);
	s->environment = string_at(c, "environment");
	s->service = string_at(c, "service.name");
	struct policy p;
	p.group_wait_ms = duration_at(c, "alerts.group_wait", 30000, 0);
	p.repeat_ms = duration_at(c, "alerts.repeat_interval", 4 * 3600000LL, 1000);
	p.rate_count = (int)int_at(c, "alerts.rate_limit.count", 20, 0, 100000);
	p.rate_per_ms = duration_at(c, "alerts.rate_limit.per", 60000, 1);
	for (int i = 0; i < CH_COUNT; i++)
		load_channel(c, &s->ch[i], (enum channel_id)i, &p);

	s->retry_attempts = (int)int_at(c, "alerts.retry.attempts", 5, 1, 100);
	s->retry_initial_ms = duration_at(c, "alerts.retry.initial_backoff", 1000, 1);
	s->retry_max_ms = duration_at(c, "alerts.retry.max_backoff", 60000, 1);
	s->retry_after_max_ms = duration_at(c, "alerts.retry.max_retry_after", 300000, 0);
	s->timeout_ms = duration_at(c, "alerts.timeout", 10000, 1);
	if (attempt_timeout_ms > 0)
		s->timeout_ms = attempt_timeout_ms;
	s->max_alerts_per_message = (size_t)int_at(c, "alerts.max_alerts_per_message", 100, 1, 1000);
	s->runbook_max_output = (size_t)int_at(c, "alerts.runbook_max_output", 65536, 256, 16 << 20);
	load_levels(c, s);
	load_runbooks(c, s);
	load_group_by(c, s);
	windows_load(c, s);
	load_notice_channels(c, s);
	inhibit_rules_load(c, s);
}

void settings_free(struct settings *s)
{
	windows_free(s->windows, s->n_windows);
	inhibit_rules_free(s->inhibit, s->n_inhibit);
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
		free(c->problem);
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

unsigned settings_channel_problems(const struct settings *s)
{
	unsigned n = 0;
	for (int i = 0; i < CH_COUNT; i++)
		n += s->ch[i].problems;
	return n;
}

const struct runbook *settings_runbook(const struct settings *s, const char *alertname)
{
	for (size_t i = 0; i < s->n_runbooks; i++)
		if (strcmp(s->runbooks[i].alertname, alertname) == 0)
			return &s->runbooks[i];
	return NULL;
}
