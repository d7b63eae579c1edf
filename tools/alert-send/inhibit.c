/* inhibit.c — inhibit rules (alerts.inhibit[]): a firing alert matching a
 * rule's source_matchers mutes the alerts matching its target_matchers
 * whose `equal` labels have the same values. A label of `equal` missing
 * (or empty) on either alert never inhibits: two alerts that both lack it
 * are not "equal" (unlike Alertmanager, which treats them as equal). An
 * alert never inhibits itself, and an alert matching both sides of a rule
 * is inhibited only by sources that do not (Alertmanager's rule for
 * two-sided matches), so two such alerts cannot silence each other.
 *
 * Each plan builds, per rule, the keys (a hash of the `equal` values) of
 * the firing sources, sorted; a target is then one binary search per rule
 * it matches. Which rules an alert matches is worked out once per alert:
 * its labels never change. */
#include "alert-send.h"

#include <stdlib.h>
#include <string.h>

struct source_key {
	uint64_t key;
	const struct alert *alert;
};

struct rule_keys {
	struct source_key *one_sided, *two_sided; /* sources not matching / matching the target too */
	size_t n_one, n_two, cap_one, cap_two;
};

void inhibit_rules_free(struct inhibit_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		matchers_free(&r[i].source);
		matchers_free(&r[i].target);
		for (size_t k = 0; k < r[i].n_equal; k++)
			free(r[i].equal[k]);
		free(r[i].equal);
	}
	free(r);
}

static void load_matcher_list(struct config *c, const char *path, struct matchers *ms)
{
	struct key item;
	size_t n = config_list_len(c, path);
	for (size_t k = 0; k < n; k++) {
		char err[200];
		const char *m = NULL;
		if (config_string(c, at(&item, "%s[%zu]", path, k), NULL, &m) && m &&
		    matchers_parse(ms, m, err, sizeof err) < 0)
			config_error(c, item.path, "%s", err);
	}
	if (!n)
		config_error(c, path, "a rule needs matchers here (an empty list would match every alert)");
}

void inhibit_rules_load(struct config *c, struct settings *s)
{
	size_t n = config_list_len(c, "alerts.inhibit");
	s->inhibit = n ? ecalloc(n, sizeof *s->inhibit) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct inhibit_rule *r = &s->inhibit[s->n_inhibit++];
		struct key k, e;
		load_matcher_list(c, at(&k, "alerts.inhibit[%zu].source_matchers", i), &r->source);
		load_matcher_list(c, at(&k, "alerts.inhibit[%zu].target_matchers", i), &r->target);
		size_t ne = config_list_len(c, at(&k, "alerts.inhibit[%zu].equal", i));
		r->equal = ne ? ecalloc(ne, sizeof *r->equal) : NULL;
		for (size_t j = 0; j < ne; j++) {
			const char *v = NULL;
			if (config_string(c, at(&e, "%s[%zu]", k.path, j), NULL, &v) && v && *v)
				r->equal[r->n_equal++] = estrdup(v);
		}
	}
}

/* FNV-1a of the equal labels' values; false when one is missing or empty. */
static bool equal_key(const struct inhibit_rule *r, const cJSON *labels, uint64_t *key)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < r->n_equal; i++) {
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(labels, r->equal[i]);
		const char *v = cJSON_IsString(item) ? item->valuestring : NULL;
		if (!v || !*v)
			return false;
		for (const unsigned char *p = (const unsigned char *)v; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0x1f) * 1099511628211ULL; /* a separator no label value holds */
	}
	*key = h;
	return true;
}

/* Which rules' sides a matches, worked out once. */
static void learn_rules(const struct settings *s, struct alert *a)
{
	if (a->rules_known)
		return;
	size_t words = (s->n_inhibit + 63) / 64;
	a->rule_source = words ? ecalloc(words, sizeof *a->rule_source) : NULL;
	a->rule_target = words ? ecalloc(words, sizeof *a->rule_target) : NULL;
	for (size_t i = 0; i < s->n_inhibit; i++) {
		if (matchers_match(&s->inhibit[i].source, a->labels))
			a->rule_source[i / 64] |= 1ULL << (i % 64);
		if (matchers_match(&s->inhibit[i].target, a->labels))
			a->rule_target[i / 64] |= 1ULL << (i % 64);
	}
	a->rules_known = true;
}

static bool has_bit(const uint64_t *bits, size_t i)
{
	return bits && (bits[i / 64] >> (i % 64)) & 1;
}

/* The first set bit at or after i, or n. */
static size_t next_bit(const uint64_t *bits, size_t i, size_t n)
{
	while (bits && i < n) {
		uint64_t w = bits[i / 64] >> (i % 64);
		if (w)
			return i + (size_t)__builtin_ctzll(w) < n ? i + (size_t)__builtin_ctzll(w) : n;
		i = (i / 64 + 1) * 64;
	}
	return n;
}

static void push(struct source_key **v, size_t *n, size_t *cap, struct source_key k)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = erealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = k;
}

static int compare_keys(const void *x, const void *y)
{
	const struct source_key *a = x, *b = y;
	return a->key < b->key ? -1 : a->key > b->key;
}

struct inhibitions {
	struct rule_keys *rules;
	size_t n;
};

struct inhibitions *inhibitions_build(const struct book *b, const struct settings *s)
{
	if (!s->n_inhibit)
		return NULL;
	struct inhibitions *in = ecalloc(1, sizeof *in);
	in->rules = ecalloc(s->n_inhibit, sizeof *in->rules);
	in->n = s->n_inhibit;
	for (size_t i = 0; i < b->n_buckets; i++)
		for (struct alert *a = b->buckets[i]; a; a = a->next) {
			if (a->status != ALERT_FIRING)
				continue;
			learn_rules(s, a);
			for (size_t r = next_bit(a->rule_source, 0, s->n_inhibit); r < s->n_inhibit;
			     r = next_bit(a->rule_source, r + 1, s->n_inhibit)) {
				uint64_t key;
				if (!equal_key(&s->inhibit[r], a->labels, &key))
					continue;
				struct rule_keys *rk = &in->rules[r];
				if (has_bit(a->rule_target, r))
					push(&rk->two_sided, &rk->n_two, &rk->cap_two, (struct source_key){key, a});
				else
					push(&rk->one_sided, &rk->n_one, &rk->cap_one, (struct source_key){key, a});
			}
		}
	for (size_t r = 0; r < in->n; r++) {
		if (in->rules[r].n_one)
			qsort(in->rules[r].one_sided, in->rules[r].n_one, sizeof(struct source_key), compare_keys);
		if (in->rules[r].n_two)
			qsort(in->rules[r].two_sided, in->rules[r].n_two, sizeof(struct source_key), compare_keys);
	}
	return in;
}

void inhibitions_free(struct inhibitions *in)
{
	if (!in)
		return;
	for (size_t r = 0; r < in->n; r++) {
		free(in->rules[r].one_sided);
		free(in->rules[r].two_sided);
	}
	free(in->rules);
	free(in);
}

/* A source in v[0..n) with key, other than a itself. */
static const struct alert *find_source(const struct source_key *v, size_t n, uint64_t key, const struct alert *a)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && v[lo].key == key; lo++)
		if (v[lo].alert != a)
			return v[lo].alert;
	return NULL;
}

const struct alert *inhibited_by(const struct inhibitions *in, const struct settings *s, struct alert *a)
{
	if (!in)
		return NULL;
	learn_rules(s, a);
	for (size_t r = next_bit(a->rule_target, 0, in->n); r < in->n; r = next_bit(a->rule_target, r + 1, in->n)) {
		uint64_t key;
		const struct rule_keys *rk = &in->rules[r];
		if ((!rk->n_one && !rk->n_two) /* no source fires */ || !equal_key(&s->inhibit[r], a->labels, &key))
			continue;
		const struct alert *src = find_source(rk->one_sided, rk->n_one, key, a);
		if (!src && !has_bit(a->rule_source, r))
			src = find_source(rk->two_sided, rk->n_two, key, a);
		if (src)
			return src;
	}
	return NULL;
}
