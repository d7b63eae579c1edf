/* book.c — the book of alerts: what is firing, which channel was told what
 * and when, escalation levels and acks; saved as STATE/alert-send/state.json
 * with an inbox of the input lines taken since the last save, replayed after
 * a crash, so that a kill -9 between reading an alert and notifying about it
 * loses nothing. */
#include "alert-send.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX (256u << 20)

static const char *const sent_names[] = {"none", "firing", "resolved"};

const char *reason_name(enum notify_reason r)
{
	static const char *const names[] = {"none", "new", "repeat", "escalated", "resolved"};
	return (size_t)r < ARRAY_LEN(names) ? names[r] : "?";
}

/* ---- the table ---- */

static void table_grow(struct book *b)
{
	size_t n = b->n_buckets ? b->n_buckets * 2 : 256;
	struct alert **nb = ecalloc(n, sizeof *nb);
	for (size_t i = 0; i < b->n_buckets; i++) {
		struct alert *a = b->buckets[i], *next;
		for (; a; a = next) {
			next = a->next;
			size_t k = a->fp & (n - 1);
			a->next = nb[k];
			nb[k] = a;
		}
	}
	free(b->buckets);
	b->buckets = nb;
	b->n_buckets = n;
}

static struct alert *table_find(const struct book *b, uint64_t fp)
{
	if (!b->n_buckets)
		return NULL;
	for (struct alert *a = b->buckets[fp & (b->n_buckets - 1)]; a; a = a->next)
		if (a->fp == fp)
			return a;
	return NULL;
}

static struct alert *table_add(struct book *b, uint64_t fp)
{
	if (b->count + 1 > b->n_buckets)
		table_grow(b);
	struct alert *a = ecalloc(1, sizeof *a);
	a->fp = fp;
	snprintf(a->fingerprint, sizeof a->fingerprint, "%016llx", (unsigned long long)fp);
	size_t k = fp & (b->n_buckets - 1);
	a->next = b->buckets[k];
	b->buckets[k] = a;
	b->count++;
	return a;
}

static void alert_free(struct alert *a)
{
	cJSON_Delete(a->labels);
	cJSON_Delete(a->annotations);
	free(a->generator_url);
	free(a->group_key);
	free(a->muted_by);
	free(a->rule_source);
	free(a->rule_target);
	free(a);
}

struct alert *book_find(const struct book *b, const char *fingerprint)
{
	char *end;
	unsigned long long fp = strtoull(fingerprint, &end, 16);
	if (strlen(fingerprint) != 16 || *end)
		return NULL;
	return table_find(b, fp);
}

/* ---- taking alerts ---- */

static bool anyone_told_firing(const struct alert *a)
{
	for (int c = 0; c < CH_COUNT; c++)
		if (a->ch[c].sent == SENT_FIRING)
			return true;
	return false;
}

static void set_json(cJSON **slot, const cJSON *v)
{
	if (*slot && v && cJSON_Compare(*slot, v, true))
		return;
	cJSON_Delete(*slot);
	*slot = v ? cJSON_Duplicate(v, true) : cJSON_CreateObject();
}

struct alert *book_ingest(struct book *b, const struct alert_view *v, int64_t now)
{
	uint64_t fp = strtoull(v->fingerprint, NULL, 16);
	struct alert *a = table_find(b, fp);
	if (v->status == ALERT_RESOLVED) {
		if (!a)
			return NULL; /* nobody was told: nothing to resolve */
		if (a->status == ALERT_FIRING) {
			a->status = ALERT_RESOLVED;
			a->ends_at = v->ends_at_ms ? v->ends_at_ms : now;
		}
	} else {
		bool new_incident = false;
		if (!a) {
			a = table_add(b, fp);
			set_json(&a->labels, v->labels);
			new_incident = true;
		} else if (a->status == ALERT_RESOLVED && !anyone_told_firing(a)) {
			new_incident = true;
		}
		if (new_incident) {
			/* A fresh incident: escalation starts over. A flap back to
			 * firing before the resolve went out stays the old one. */
			a->firing_since = now;
			a->level = 0;
			a->acked = false;
			a->runbook_due = true;
			a->starts_at = v->starts_at_ms ? v->starts_at_ms : now;
		}
		a->status = ALERT_FIRING;
		a->ends_at = v->ends_at_ms > now ? v->ends_at_ms : 0;
	}
	set_json(&a->annotations, v->annotations);
	if (v->generator_url && (!a->generator_url || strcmp(a->generator_url, v->generator_url) != 0)) {
		free(a->generator_url);
		a->generator_url = estrdup(v->generator_url);
	}
	a->updated_at = now;
	a->taken = true;
	b->dirty = true;
	return a;
}

/* ---- planning: who is owed what ---- */

static void owed_add(struct owed *o, struct alert *a, enum notify_reason r)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->alerts = erealloc(o->alerts, o->cap * sizeof *o->alerts);
		o->reasons = erealloc(o->reasons, o->cap * sizeof *o->reasons);
	}
	o->alerts[o->n] = a;
	o->reasons[o->n++] = r;
}

void owed_free(struct owed *o)
{
	free(o->alerts);
	free(o->reasons);
	memset(o, 0, sizeof *o);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Raises a's escalation level to what its age calls for (unless acked);
 * returns the channels of every level reached, and lowers *next to the time
 * of the next level. */
static unsigned escalate(struct book *b, const struct settings *s, struct alert *a, int64_t now,
			 int64_t *next)
{
	if (a->level > (int)s->n_levels) {
		/* saved under a config with more levels than this one has */
		a->level = (int)s->n_levels;
		b->dirty = true;
	}
	if (!a->acked) {
		size_t reached = 0;
		while (reached < s->n_levels && a->firing_since + s->levels[reached].after_ms <= now)
			reached++;
		if ((int)reached > a->level) {
			a->level = (int)reached;
			b->dirty = true;
		}
		if (reached < s->n_levels)
			*next = min64(*next, a->firing_since + s->levels[reached].after_ms);
	}
	unsigned channels = 0;
	for (int i = 0; i < a->level; i++)
		channels |= s->levels[i].channels;
	return channels;
}

static enum notify_reason owed_reason(const struct settings *s, const struct alert *a, int c,
				      unsigned active, int64_t now, int64_t *next)
{
	const struct chan_state *cs = &a->ch[c];
	if (a->status == ALERT_RESOLVED)
		return cs->sent == SENT_FIRING ? REASON_RESOLVED : REASON_NONE;
	if (!(active & (1u << c)))
		return REASON_NONE;
	if (cs->sent != SENT_FIRING)
		return a->level > 1 && !(s->levels[0].channels & (1u << c)) ? REASON_ESCALATED : REASON_NEW;
	if (a->level > 0 && (s->levels[a->level - 1].channels & (1u << c)) && cs->sent_level < a->level)
		return REASON_ESCALATED;
	if (now - cs->sent_at >= s->ch[c].repeat_ms)
		return REASON_REPEAT;
	*next = min64(*next, cs->sent_at + s->ch[c].repeat_ms);
	return REASON_NONE;
}

/* The token bucket: how many messages channel c may send now; lowers *next
 * to when the next one may go when none may. */
static size_t rate_allow(struct channel *ch, int64_t now, int64_t *next)
{
	if (ch->rate_count <= 0)
		return SIZE_MAX;
	if (ch->tokens_at == 0)
		ch->tokens_at = now;
	double refill = (double)(now - ch->tokens_at) * ch->rate_count / (double)ch->rate_per_ms;
	ch->tokens = ch->tokens + refill > ch->rate_count ? ch->rate_count : ch->tokens + refill;
	ch->tokens_at = now;
	if (ch->tokens >= 1.0)
		return (size_t)ch->tokens;
	int64_t wait = (int64_t)((1.0 - ch->tokens) * (double)ch->rate_per_ms / ch->rate_count) + 1;
	*next = min64(*next, now + wait);
	return 0;
}

static const char *alert_group_key(const struct settings *s, struct alert *a)
{
	if (!a->group_key) {
		cJSON *g = settings_group_labels(s, a->labels);
		a->group_key = group_key_of(g);
		cJSON_Delete(g);
	}
	return a->group_key;
}

struct owed_entry {
	struct alert *alert;
	enum notify_reason reason;
	size_t order;
};

static int owed_entry_compare(const void *x, const void *y)
{
	const struct owed_entry *a = x, *b = y;
	int c = strcmp(a->alert->group_key, b->alert->group_key);
	return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* Orders what a channel is owed by group (each group in the order it was
 * owed), since a message carries one group. */
static void owed_sort_by_group(struct owed *o, const struct settings *s)
{
	if (s->n_group_by == 0) {
		for (size_t i = 0; i < o->n; i++)
			alert_group_key(s, o->alerts[i]);
		return; /* one group */
	}
	struct owed_entry *e = emalloc(o->n * sizeof *e);
	for (size_t i = 0; i < o->n; i++) {
		alert_group_key(s, o->alerts[i]);
		e[i] = (struct owed_entry){o->alerts[i], o->reasons[i], i};
	}
	qsort(e, o->n, sizeof *e, owed_entry_compare);
	for (size_t i = 0; i < o->n; i++) {
		o->alerts[i] = e[i].alert;
		o->reasons[i] = e[i].reason;
	}
	free(e);
}

/* The messages o makes (one group each, at most per alerts); with limit
 * messages allowed, *fits is how many alerts the first limit of them hold. */
static size_t owed_messages(const struct owed *o, size_t per, size_t limit, size_t *fits)
{
	size_t messages = 0;
	*fits = 0;
	for (size_t i = 0; i < o->n;) {
		size_t j = i;
		while (j < o->n && j - i < per && strcmp(o->alerts[j]->group_key, o->alerts[i]->group_key) == 0)
			j++;
		if (messages++ < limit)
			*fits = j;
		i = j;
	}
	return messages;
}

size_t book_group_firing(struct book *b, const struct settings *s, const char *group_key, enum channel_id c)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n_buckets; i++)
		for (struct alert *a = b->buckets[i]; a; a = a->next)
			if (a->status == ALERT_FIRING && a->ch[c].sent == SENT_FIRING &&
			    strcmp(alert_group_key(s, a), group_key) == 0)
				n++;
	return n;
}

/* Whether a silence, a maintenance window or an inhibiting alert mutes a now. One that stops muting it while it fires
 * makes it heard at once: new to those never told, and a repeat due now
 * (not at the next repeat interval) to those told before the silence. */
char *book_mute_reason(const struct book *b, const struct settings *s, const struct inhibitions *in,
		       struct alert *a, int64_t now, int64_t *next)
{
	if (a->mute_gen != b->silences.gen + 1 || now >= a->mute_until) {
		/* worked out again only when the silences or the time call for it */
		int64_t until = INT64_MAX;
		a->mute_silence = silences_muting(&b->silences, a->labels, now, &until);
		a->mute_window = a->mute_silence ? NULL : windows_muting(s->windows, s->n_windows, a->labels, now, &until);
		a->mute_gen = b->silences.gen + 1;
		a->mute_until = until;
	}
	if (a->mute_until < *next)
		*next = a->mute_until;
	const struct silence *sl = a->mute_silence;
	const struct window *w = a->mute_window;
	const struct alert *src = sl || w ? NULL : inhibited_by(in, s, a);
	return sl ? easprintf("silence %s", sl->id)
	       : w  ? easprintf("window %s", w->name)
	       : src ? easprintf("inhibited by %s", src->fingerprint)
		     : NULL;
}

static bool silenced(struct book *b, const struct settings *s, const struct inhibitions *in, struct alert *a,
		     int64_t now, int64_t *next)
{
	char *by = book_mute_reason(b, s, in, a, now, next);
	if (!by && a->muted_by) {
		verbose("alert %s is heard again (was muted by %s)", a->fingerprint, a->muted_by);
		for (int c = 0; c < CH_COUNT; c++)
			if (a->ch[c].sent == SENT_FIRING)
				a->ch[c].sent_at = now - s->ch[c].repeat_ms;
		free(a->muted_by);
		a->muted_by = NULL;
		b->dirty = true;
	} else if (by && (!a->muted_by || strcmp(a->muted_by, by) != 0)) {
		free(a->muted_by);
		a->muted_by = by;
		by = NULL;
		b->dirty = true;
	}
	free(by);
	return a->muted_by != NULL;
}

int64_t book_plan(struct book *b, struct settings *s, int64_t now, bool final, struct owed owed[CH_COUNT])
{
	int64_t next = INT64_MAX;
	int64_t group_due[CH_COUNT];
	unsigned configured = settings_configured(s);
	struct inhibitions *in = inhibitions_build(b, s);
	for (int c = 0; c < CH_COUNT; c++) {
		owed[c].n = 0;
		group_due[c] = INT64_MAX;
	}
	for (size_t i = 0; i < b->n_buckets; i++) {
		for (struct alert *a = b->buckets[i]; a; a = a->next) {
			if (b->only_taken && !a->taken)
				continue; /* what it is owed waits for a run that plans everything */
			unsigned active = a->status == ALERT_FIRING ? escalate(b, s, a, now, &next) : 0;
			if (a->status == ALERT_FIRING && silenced(b, s, in, a, now, &next))
				active = 0; /* muted: what it is owed waits for the silence's end */
			for (int c = 0; c < CH_COUNT; c++) {
				if (!(configured & (1u << c)))
					continue;
				struct chan_state *cs = &a->ch[c];
				enum notify_reason r = owed_reason(s, a, c, active, now, &next);
				if (r == REASON_NONE) {
					if (cs->pending_since) {
						cs->pending_since = 0;
						b->dirty = true;
					}
					continue;
				}
				if (!cs->pending_since) {
					cs->pending_since = now;
					b->dirty = true;
				}
				group_due[c] = min64(group_due[c], cs->pending_since + s->ch[c].group_wait_ms);
				owed_add(&owed[c], a, r);
			}
		}
	}
	for (int c = 0; c < CH_COUNT; c++) {
		if (!owed[c].n)
			continue;
		owed_sort_by_group(&owed[c], s);
		if (!final && group_due[c] > now) {
			next = min64(next, group_due[c]);
			owed[c].n = 0;
			continue;
		}
		if (final)
			continue; /* at the end the rest goes out batched, whatever the rate */
		size_t allowed = rate_allow(&s->ch[c], now, &next);
		size_t fits;
		size_t messages = owed_messages(&owed[c], s->max_alerts_per_message, allowed, &fits);
		if (messages > allowed) {
			/* The excess waits for the next token, batched with whatever
			 * else arrives meanwhile: nothing is dropped. */
			owed[c].n = fits;
			if (allowed == 0)
				continue;
			int64_t wait = (int64_t)((double)s->ch[c].rate_per_ms / s->ch[c].rate_count) + 1;
			next = min64(next, now + wait);
			messages = allowed;
		}
		s->ch[c].tokens -= (double)messages;
	}
	inhibitions_free(in);
	return next;
}

void book_mark_sent(struct book *b, struct alert *a, enum channel_id c, int64_t now)
{
	struct chan_state *cs = &a->ch[c];
	cs->sent = a->status == ALERT_FIRING ? SENT_FIRING : SENT_RESOLVED;
	cs->sent_level = (uint8_t)a->level;
	cs->sent_at = now;
	cs->pending_since = 0;
	b->dirty = true;
}

static char *ack_path(const struct book *b, const char *fingerprint)
{
	return easprintf("%s/acks/%s.json", b->dir, fingerprint);
}

void book_collect(struct book *b)
{
	for (size_t i = 0; i < b->n_buckets; i++) {
		struct alert **pp = &b->buckets[i];
		while (*pp) {
			struct alert *a = *pp;
			if (a->status == ALERT_RESOLVED && !anyone_told_firing(a)) {
				*pp = a->next;
				if (a->acked && b->persist) {
					char *p = ack_path(b, a->fingerprint);
					unlink(p);
					free(p);
				}
				alert_free(a);
				b->count--;
				b->dirty = true;
			} else {
				pp = &a->next;
			}
		}
	}
}

/* ---- acks ---- */

void book_load_acks(struct book *b)
{
	if (!b->dir)
		return;
	if (silences_load(&b->silences, b->dir))
		verbose("%zu silences in %s/silences", b->silences.n, b->dir);
	char *dir = easprintf("%s/acks", b->dir);
	struct stat st;
	if (stat(dir, &st) < 0) {
		free(dir);
		return;
	}
	int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	DIR *d = mtime != b->acks_mtime_ns ? opendir(dir) : NULL;
	if (d) {
		b->acks_mtime_ns = mtime;
		struct dirent *de;
		while ((de = readdir(d))) {
			char fp[FINGERPRINT_LEN];
			if (strlen(de->d_name) != 21 || strcmp(de->d_name + 16, ".json") != 0)
				continue;
			memcpy(fp, de->d_name, 16);
			fp[16] = '\0';
			struct alert *a = book_find(b, fp);
			if (a && !a->acked && a->status == ALERT_FIRING) {
				a->acked = true;
				b->dirty = true;
				verbose("alert %s acknowledged: escalation stops at level %d", fp, a->level);
			}
		}
		closedir(d);
	}
	free(dir);
}

/* ---- saving and loading ---- */

static cJSON *alert_state_json(const struct alert *a)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "fingerprint", a->fingerprint);
	cJSON_AddStringToObject(j, "status", alert_status_name(a->status));
	cJSON_AddItemToObject(j, "labels", cJSON_Duplicate(a->labels, true));
	cJSON_AddItemToObject(j, "annotations", cJSON_Duplicate(a->annotations, true));
	if (a->generator_url)
		cJSON_AddStringToObject(j, "generatorURL", a->generator_url);
	cJSON_AddNumberToObject(j, "starts_at", (double)a->starts_at);
	cJSON_AddNumberToObject(j, "ends_at", (double)a->ends_at);
	cJSON_AddNumberToObject(j, "firing_since", (double)a->firing_since);
	cJSON_AddNumberToObject(j, "updated_at", (double)a->updated_at);
	cJSON_AddNumberToObject(j, "level", a->level);
	cJSON_AddBoolToObject(j, "acked", a->acked);
	if (a->muted_by)
		cJSON_AddStringToObject(j, "muted_by", a->muted_by);
	cJSON *chans = cJSON_AddObjectToObject(j, "channels");
	for (int c = 0; c < CH_COUNT; c++) {
		const struct chan_state *cs = &a->ch[c];
		if (!cs->sent && !cs->pending_since)
			continue;
		cJSON *o = cJSON_AddObjectToObject(chans, channel_names[c]);
		cJSON_AddStringToObject(o, "sent", sent_names[cs->sent]);
		cJSON_AddNumberToObject(o, "level", cs->sent_level);
		cJSON_AddNumberToObject(o, "sent_at", (double)cs->sent_at);
		cJSON_AddNumberToObject(o, "pending_since", (double)cs->pending_since);
	}
	return j;
}

static int64_t num(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void alert_state_load(struct book *b, const cJSON *j)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
	if (!cJSON_IsObject(labels))
		return;
	uint64_t fp = labels_fingerprint64(labels);
	if (table_find(b, fp))
		return;
	struct alert *a = table_add(b, fp);
	a->labels = cJSON_Duplicate(labels, true);
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(j, "annotations");
	a->annotations = cJSON_IsObject(ann) ? cJSON_Duplicate(ann, true) : cJSON_CreateObject();
	const char *g = json_path_string(j, "generatorURL", NULL);
	a->generator_url = g ? estrdup(g) : NULL;
	a->status = strcmp(json_path_string(j, "status", "firing"), "resolved") == 0 ? ALERT_RESOLVED
										      : ALERT_FIRING;
	a->starts_at = num(j, "starts_at");
	a->ends_at = num(j, "ends_at");
	a->firing_since = num(j, "firing_since");
	a->updated_at = num(j, "updated_at");
	a->level = (int)num(j, "level");
	if (a->level < 0 || a->level > MAX_LEVELS)
		a->level = MAX_LEVELS;
	a->acked = json_path_bool(j, "acked", false);
	const char *mb = json_path_string(j, "muted_by", NULL);
	a->muted_by = mb ? estrdup(mb) : NULL;
	const cJSON *chans = cJSON_GetObjectItemCaseSensitive(j, "channels");
	const cJSON *o;
	cJSON_ArrayForEach(o, chans) {
		int c = o->string ? channel_parse(o->string) : -1;
		if (c < 0)
			continue;
		const char *sent = json_path_string(o, "sent", "none");
		a->ch[c].sent = strcmp(sent, "firing") == 0 ? SENT_FIRING
				: strcmp(sent, "resolved") == 0 ? SENT_RESOLVED : SENT_NONE;
		a->ch[c].sent_level = (uint8_t)num(o, "level");
		a->ch[c].sent_at = num(o, "sent_at");
		a->ch[c].pending_since = num(o, "pending_since");
	}
}

static int load_state(struct book *b)
{
	char *path = easprintf("%s/state.json", b->dir);
	char *text = NULL;
	size_t len = 0;
	int rc = 0;
	if (read_file(path, STATE_MAX, &text, &len) < 0) {
		if (errno != ENOENT) {
			error_msg("unable to read %s: %s", path, strerror(errno));
			rc = -1;
		}
		goto out;
	}
	char err[128];
	cJSON *doc = json_parse_text(text, len, err, sizeof err);
	const cJSON *alerts = doc ? cJSON_GetObjectItemCaseSensitive(doc, "alerts") : NULL;
	if (!cJSON_IsArray(alerts)) {
		/* Keep the damaged file for a post-mortem and start afresh: the
		 * spool still holds every undelivered notification. */
		char *aside = easprintf("%s.corrupt-%lld", path, (long long)now_epoch_ms());
		warnx_("%s: %s; moved aside to %s", path, doc ? "no alerts list" : err, aside);
		rename(path, aside);
		free(aside);
	} else {
		const cJSON *a;
		cJSON_ArrayForEach(a, alerts)
			alert_state_load(b, a);
	}
	cJSON_Delete(doc);
out:
	free(text);
	free(path);
	return rc;
}

int book_save(struct book *b, int64_t min_interval_ms)
{
	int64_t now = now_monotonic_ms();
	int rc = 0;
	if (!b->persist || !b->dirty || (min_interval_ms > 0 && now - b->saved_at < min_interval_ms))
		return 0;
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "version", 1);
	cJSON *alerts = cJSON_AddArrayToObject(doc, "alerts");
	for (size_t i = 0; i < b->n_buckets; i++)
		for (struct alert *a = b->buckets[i]; a; a = a->next)
			cJSON_AddItemToArray(alerts, alert_state_json(a));
	char *text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	char *path = easprintf("%s/state.json", b->dir);
	if (atomic_write_file(path, text, strlen(text), 0600) < 0) {
		if (!b->save_failing)
			error_msg("unable to save %s: %s (tried again while alert-send runs)", path, strerror(errno));
		b->save_failing = true;
		b->write_errors++;
		b->saved_at = now; /* the next try after the interval */
		rc = -1;
	} else {
		if (b->save_failing)
			warnx_("%s is saved again", path);
		b->save_failing = false;
		/* The state now holds everything the inbox journaled. */
		if (b->inbox_fd >= 0 && ftruncate(b->inbox_fd, 0) < 0)
			error_msg("unable to empty the inbox: %s", strerror(errno));
		b->dirty = false;
		b->saved_at = now;
	}
	free(path);
	free(text);
	return rc;
}

void book_journal(struct book *b, const char *lines, size_t len)
{
	if (b->inbox_fd < 0)
		return;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(b->inbox_fd, lines + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_msg("unable to journal input in %s/inbox.jsonl: %s", b->dir, strerror(errno));
			b->write_errors++;
			return;
		}
		off += (size_t)n;
	}
}

int book_open(struct book *b, const char *dir, bool persist, const struct settings *s)
{
	(void)s;
	memset(b, 0, sizeof *b);
	b->inbox_fd = -1;
	b->persist = persist;
	b->dir = dir ? estrdup(dir) : NULL;
	if (!dir)
		return 0;
	if (persist && mkdir_p(dir, 0700) < 0) {
		error_msg("unable to create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (load_state(b) < 0)
		return -1;
	if (persist) {
		char *path = easprintf("%s/inbox.jsonl", dir);
		b->inbox_fd = state_file_open(path, O_RDWR | O_APPEND | O_CREAT, 0600);
		if (b->inbox_fd < 0) {
			error_msg("unable to open %s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
	}
	book_load_acks(b);
	return 0;
}

void book_close(struct book *b)
{
	for (size_t i = 0; i < b->n_buckets; i++) {
		struct alert *a = b->buckets[i], *next;
		for (; a; a = next) {
			next = a->next;
			alert_free(a);
		}
	}
	free(b->buckets);
	silences_free(&b->silences);
	if (b->inbox_fd >= 0)
		close(b->inbox_fd);
	free(b->dir);
	memset(b, 0, sizeof *b);
	b->inbox_fd = -1;
}
