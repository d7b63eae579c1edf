/* cfgnode.c — the config tree: nodes, look-ups, deep merge, scalar typing, JSON. */
#include "shipshape/config.h"
#include "shipshape/common.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON numbers are doubles, exact up to 2^53 ... */
#define JSON_SAFE_INT (INT64_C(1) << 53)
/* ... but cJSON prints a double with 15 significant digits whenever that
 * reads back within its epsilon, so 2^53 would come out as
 * 9.00719925474099e+15. Ints with 16 digits or more go out as raw text. */
#define JSON_PRINTED_INT INT64_C(999999999999999)

/* ---- interned file names ---- */

struct interned {
	struct interned *next;
	char s[];
};

/* Reachable until exit on purpose: cfg_loc.file points into it. The list is
 * short (one entry per config file), so a linear search is enough. */
static struct interned *interned_strings;

const char *cfg_intern(const char *s)
{
	if (!s)
		return NULL;
	for (struct interned *i = interned_strings; i; i = i->next)
		if (strcmp(i->s, s) == 0)
			return i->s;
	size_t len = strlen(s);
	struct interned *i = emalloc(sizeof *i + len + 1);
	memcpy(i->s, s, len + 1);
	i->next = interned_strings;
	interned_strings = i;
	return i->s;
}

/* ---- nodes ---- */

struct cfg_node *cfg_node_new(enum cfg_type type, const char *key, struct cfg_loc loc)
{
	struct cfg_node *n = ecalloc(1, sizeof *n);
	n->type = type;
	n->key = key ? estrdup(key) : NULL;
	n->loc = loc;
	return n;
}

/* Iterative, so that no tree shape can exhaust the stack: children are pushed
 * onto a work list threaded through their own next pointers. */
void cfg_node_free(struct cfg_node *n)
{
	if (!n)
		return;
	n->next = NULL; /* n's siblings are not ours to free */
	struct cfg_node *todo = n;
	while (todo) {
		struct cfg_node *x = todo;
		todo = x->next;
		struct cfg_node *c = x->child;
		while (c) {
			struct cfg_node *after = c->next;
			c->next = todo;
			todo = c;
			c = after;
		}
		free(x->key);
		free(x->str);
		free(x->origin);
		free(x);
	}
}

void cfg_append(struct cfg_node *parent, struct cfg_node *child)
{
	struct cfg_node **p = &parent->child;
	while (*p)
		p = &(*p)->next;
	child->next = NULL;
	*p = child;
}

static bool key_equal(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

struct cfg_node *cfg_get(const struct cfg_node *map, const char *key)
{
	if (!map || map->type != CFG_MAP || !key)
		return NULL;
	for (struct cfg_node *c = map->child; c; c = c->next)
		if (key_equal(c->key, key))
			return c;
	return NULL;
}

static struct cfg_node *get_n(const struct cfg_node *map, const char *key, size_t len)
{
	if (!map || map->type != CFG_MAP)
		return NULL;
	for (struct cfg_node *c = map->child; c; c = c->next)
		if (c->key && strlen(c->key) == len && memcmp(c->key, key, len) == 0)
			return c;
	return NULL;
}

static struct cfg_node *nth(const struct cfg_node *list, size_t index)
{
	if (!list || list->type != CFG_LIST)
		return NULL;
	struct cfg_node *c = list->child;
	while (c && index--)
		c = c->next;
	return c;
}

/* "a.b", "a.list[2].c", "[0].x"; "" is the root itself. */
struct cfg_node *cfg_path(const struct cfg_node *root, const char *path)
{
	const struct cfg_node *n = root;
	const char *p = path;
	if (!root || !path)
		return NULL;
	while (*p && n) {
		if (*p == '[') {
			p++;
			if (*p < '0' || *p > '9')
				return NULL;
			size_t index = 0;
			while (*p >= '0' && *p <= '9') {
				if (index > SIZE_MAX / 10 - 1)
					return NULL;
				index = index * 10 + (size_t)(*p++ - '0');
			}
			if (*p++ != ']' || (*p && *p != '.' && *p != '['))
				return NULL;
			n = nth(n, index);
		} else {
			size_t len = strcspn(p, ".[");
			if (len == 0)
				return NULL;
			n = get_n(n, p, len);
			p += len;
		}
		if (*p == '.') {
			p++;
			if (*p == '\0' || *p == '.' || *p == '[')
				return NULL;
		}
	}
	return (struct cfg_node *)n;
}

/* The number of members of a map or list; 0 for a scalar or NULL. */
size_t cfg_count(const struct cfg_node *n)
{
	size_t count = 0;
	if (!n || (n->type != CFG_MAP && n->type != CFG_LIST))
		return 0;
	for (const struct cfg_node *c = n->child; c; c = c->next)
		count++;
	return count;
}

/* Copies n and its children (not its siblings). The recursion is as deep as
 * the tree, which the loaders bound (YAML_MAX_DEPTH, cJSON's nesting limit). */
struct cfg_node *cfg_copy(const struct cfg_node *n)
{
	if (!n)
		return NULL;
	struct cfg_node *c = cfg_node_new(n->type, n->key, n->loc);
	c->str = n->str ? estrdup(n->str) : NULL;
	c->origin = n->origin ? estrdup(n->origin) : NULL;
	c->quoted = n->quoted;
	c->b = n->b;
	c->i = n->i;
	c->d = n->d;
	c->secret = n->secret;
	c->from_secret = n->from_secret;
	c->text_line = n->text_line;
	c->text_col = n->text_col;
	struct cfg_node **tail = &c->child;
	for (const struct cfg_node *m = n->child; m; m = m->next) {
		*tail = cfg_copy(m);
		tail = &(*tail)->next;
	}
	return c;
}

/* over's value takes base's place: base keeps its key and its place among
 * its siblings (so pointers to it stay good), over's shell is freed with
 * base's old contents. */
static void replace_in_place(struct cfg_node *base, struct cfg_node *over)
{
	struct cfg_node old = *base;
	*base = *over;
	base->key = old.key;
	base->next = old.next;
	free(over->key);
	*over = old;
	over->key = NULL;
	over->next = NULL;
	cfg_node_free(over);
}

/* Members of a big map by key, so that merging two maps of n keys costs n,
 * not n * n (open addressing; the table is at most half full). */
struct member_index {
	struct cfg_node **slots;
	size_t mask;
};

static size_t key_hash(const char *k)
{
	size_t h = (size_t)14695981039346656037ull;
	for (k = k ? k : ""; *k; k++)
		h = (h ^ (unsigned char)*k) * (size_t)1099511628211ull;
	return h;
}

static struct cfg_node **index_slot(const struct member_index *x, const char *key)
{
	size_t k = key_hash(key) & x->mask;
	while (x->slots[k] && !key_equal(x->slots[k]->key, key))
		k = (k + 1) & x->mask;
	return &x->slots[k];
}

#define MERGE_INDEX_FROM 16 /* members; below, a linear search is cheaper */

/* Maps merge member by member; anything else in over replaces base in base's
 * place among its siblings, keeping base's key, with over's location. */
struct cfg_node *cfg_merge(struct cfg_node *base, struct cfg_node *over)
{
	if (!over)
		return base;
	if (!base)
		return over;
	if (base->type != CFG_MAP || over->type != CFG_MAP) {
		over->next = base->next;
		base->next = NULL;
		free(over->key);
		over->key = base->key;
		base->key = NULL;
		cfg_node_free(base);
		return over;
	}
	size_t nbase = cfg_count(base), nover = cfg_count(over);
	struct member_index index = {0};
	if (nbase >= MERGE_INDEX_FROM && nover > 1) {
		size_t cap = 64;
		while (cap < 2 * (nbase + nover))
			cap *= 2;
		index.slots = ecalloc(cap, sizeof *index.slots);
		index.mask = cap - 1;
		for (struct cfg_node *c = base->child; c; c = c->next) {
			struct cfg_node **slot = index_slot(&index, c->key);
			if (!*slot)
				*slot = c; /* the first of equal keys, as the linear search finds */
		}
	}
	struct cfg_node *tail = base->child;
	while (tail && tail->next)
		tail = tail->next;
	struct cfg_node *m = over->child;
	over->child = NULL;
	while (m) {
		struct cfg_node *after = m->next;
		m->next = NULL;
		struct cfg_node *found = NULL, **slot = NULL;
		if (index.slots) {
			slot = index_slot(&index, m->key);
			found = *slot;
		} else {
			for (found = base->child; found && !key_equal(found->key, m->key); found = found->next)
				;
		}
		if (!found) {
			if (tail)
				tail->next = m;
			else
				base->child = m;
			tail = m;
			if (slot)
				*slot = m;
		} else if (found->type == CFG_MAP && m->type == CFG_MAP) {
			cfg_merge(found, m); /* returns found */
		} else {
			replace_in_place(found, m);
		}
		m = after;
	}
	free(index.slots);
	cfg_node_free(over);
	return base;
}

/* ---- typing plain scalars (YAML 1.2 core schema) ---- */

static bool is_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* true/false as the core schema has them, plus the YAML 1.1 words
 * yes/no/on/off: operators write `enabled: yes` and mean a boolean. The
 * one-letter y/n of YAML 1.1 are left as strings: too easily a real value. */
static bool bool_word(const char *s, bool *value)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{"true", true},   {"True", true},   {"TRUE", true},   {"false", false},
		{"False", false}, {"FALSE", false}, {"yes", true},    {"Yes", true},
		{"YES", true},    {"no", false},    {"No", false},    {"NO", false},
		{"on", true},     {"On", true},     {"ON", true},     {"off", false},
		{"Off", false},   {"OFF", false},
	};
	for (size_t k = 0; k < ARRAY_LEN(words); k++) {
		if (strcmp(s, words[k].word) == 0) {
			*value = words[k].value;
			return true;
		}
	}
	return false;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

enum int_syntax { NOT_INT, INT_OK, INT_OVERFLOW };

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+, into *value when it fits in
 * int64_t. */
static enum int_syntax int_text(const char *s, int64_t *value)
{
	unsigned base = 10;
	bool negative = false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		base = s[1] == 'x' ? 16 : 8;
		s += 2;
	} else if (*s == '-' || *s == '+') {
		negative = *s++ == '-';
	}
	if (!*s)
		return NOT_INT;
	uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t v = 0;
	bool overflow = false;
	for (; *s; s++) {
		unsigned dv = (unsigned)digit_value(*s);
		if (dv >= base)
			return NOT_INT;
		if (v > (limit - dv) / base)
			overflow = true;
		else
			v = v * base + dv;
	}
	if (overflow)
		return INT_OVERFLOW;
	*value = negative ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return INT_OK;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.inf | \.nan,
 * the last two in the spellings the core schema allows. An overflowing float
 * stays a string, as an overflowing int does. */
static bool float_text(const char *s, double *value)
{
	const char *p = s;
	bool negative = false;
	if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
		*value = NAN;
		return true;
	}
	if (*p == '-' || *p == '+')
		negative = *p++ == '-';
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
		*value = negative ? -INFINITY : INFINITY;
		return true;
	}
	size_t int_digits = strspn(p, "0123456789");
	p += int_digits;
	size_t frac_digits = 0;
	if (*p == '.') {
		p++;
		frac_digits = strspn(p, "0123456789");
		p += frac_digits;
	}
	if (int_digits == 0 && frac_digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		size_t exp_digits = strspn(p, "0123456789");
		if (exp_digits == 0)
			return false;
		p += exp_digits;
	}
	if (*p)
		return false;
	double v = strtod(s, NULL);
	if (isinf(v))
		return false;
	*value = v;
	return true;
}

void cfg_resolve_plain_scalar(struct cfg_node *n)
{
	const char *s = n->str ? n->str : "";
	n->b = false;
	n->i = 0;
	n->d = 0;
	if (is_null_word(s))
		n->type = CFG_NULL;
	else if (bool_word(s, &n->b))
		n->type = CFG_BOOL;
	else {
		/* an int too big for int64_t stays a string, not a rounded float */
		enum int_syntax syntax = int_text(s, &n->i);
		if (syntax == INT_OK) {
			n->type = CFG_INT;
			n->d = (double)n->i;
		} else if (syntax == NOT_INT && float_text(s, &n->d)) {
			n->type = CFG_NUMBER;
		} else {
			n->type = CFG_STRING;
		}
	}
}

/* ---- JSON ---- */

/* cJSON's constructors fail only when an allocation does. */
static cJSON *json_checked(cJSON *j)
{
	if (!j)
		out_of_memory();
	return j;
}

cJSON *cfg_to_json(const struct cfg_node *n)
{
	if (!n)
		return NULL;
	switch (n->type) {
	case CFG_NULL:
		return json_checked(cJSON_CreateNull());
	case CFG_BOOL:
		return json_checked(cJSON_CreateBool(n->b));
	case CFG_INT:
		if (n->i >= -JSON_PRINTED_INT && n->i <= JSON_PRINTED_INT)
			return json_checked(cJSON_CreateNumber((double)n->i));
		char text[24];
		snprintf(text, sizeof text, "%" PRId64, n->i);
		return json_checked(cJSON_CreateRaw(text));
	case CFG_NUMBER:
		if (isfinite(n->d))
			return json_checked(cJSON_CreateNumber(n->d));
		/* JSON has no infinity or NaN (cJSON would print null, losing the
		 * value): keep the YAML spelling as a string. */
		if (n->str)
			return json_checked(cJSON_CreateString(n->str));
		return json_checked(cJSON_CreateString(isnan(n->d) ? ".nan" : n->d > 0 ? ".inf" : "-.inf"));
	case CFG_STRING:
		return json_checked(cJSON_CreateString(n->str ? n->str : ""));
	case CFG_MAP: {
		cJSON *o = json_checked(cJSON_CreateObject());
		for (const struct cfg_node *c = n->child; c; c = c->next)
			cJSON_AddItemToObject(o, c->key ? c->key : "", cfg_to_json(c));
		return o;
	}
	case CFG_LIST: {
		cJSON *a = json_checked(cJSON_CreateArray());
		for (const struct cfg_node *c = n->child; c; c = c->next)
			cJSON_AddItemToArray(a, cfg_to_json(c));
		return a;
	}
	}
	return json_checked(cJSON_CreateNull());
}

static void json_number(struct cfg_node *n, double d)
{
	if (isfinite(d) && d == floor(d) && fabs(d) <= (double)JSON_SAFE_INT) {
		n->type = CFG_INT;
		n->i = (int64_t)d;
		n->d = d;
		n->str = easprintf("%" PRId64, n->i);
	} else {
		char text[32];
		n->type = CFG_NUMBER;
		n->d = d;
		n->str = estrdup(double_text(d, text, sizeof text));
	}
}

struct cfg_node *cfg_from_json(const cJSON *j, const char *key)
{
	if (!j)
		return NULL;
	struct cfg_node *n = cfg_node_new(CFG_NULL, key, (struct cfg_loc){0});
	if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
		n->type = cJSON_IsObject(j) ? CFG_MAP : CFG_LIST;
		struct cfg_node **tail = &n->child;
		for (const cJSON *c = j->child; c; c = c->next) {
			*tail = cfg_from_json(c, n->type == CFG_MAP ? (c->string ? c->string : "") : NULL);
			tail = &(*tail)->next;
		}
	} else if (cJSON_IsBool(j)) {
		n->type = CFG_BOOL;
		n->b = cJSON_IsTrue(j);
		n->str = estrdup(n->b ? "true" : "false");
	} else if (cJSON_IsNumber(j)) {
		json_number(n, j->valuedouble);
	} else if (cJSON_IsString(j)) {
		n->type = CFG_STRING;
		n->str = estrdup(j->valuestring ? j->valuestring : "");
		n->quoted = true; /* a JSON string is a string, as a quoted YAML scalar is */
	} else if (cJSON_IsRaw(j) && j->valuestring) {
		/* what cfg_to_json() writes for an int beyond 2^53 */
		n->str = estrdup(j->valuestring);
		if (int_text(n->str, &n->i) == INT_OK) {
			n->type = CFG_INT;
			n->d = (double)n->i;
		} else if (float_text(n->str, &n->d)) {
			n->type = CFG_NUMBER;
		} else {
			n->type = CFG_STRING;
		}
	} else {
		n->str = estrdup("null");
	}
	return n;
}
