/* schema.c — the config schema (shipshape.yaml(5)): load a spec tree from a
 * YAML file, then check and coerce a config tree against it in place. */
#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCHEMA_VERSION 1
#define VALUE_SHOWN_MAX 48 /* characters of a value quoted in a message */

/* One spec: what a value at one place in the config must be. */
struct spec {
	enum schema_type type;
	char *name;               /* member name under the parent's keys, else NULL */
	char *description;
	struct cfg_node *def;     /* the default as written in the schema, or NULL */
	bool required, secret, allow_unknown;
	bool has_min, has_max;
	double min, max;          /* int/number: the value; duration: milliseconds;
				     size: bytes; string: characters; list: items;
				     map: members */
	char *min_text, *max_text; /* as written, for messages */
	char **values;            /* enum */
	size_t n_values;
	char **schemes;           /* url: allowed schemes, none = any */
	size_t n_schemes;
	struct spec *items;       /* list: element spec, or NULL (anything) */
	struct spec *entries;     /* map: spec of members not named in keys */
	struct spec **keys;       /* map: named members, in schema order */
	size_t n_keys;
};

struct schema {
	struct spec *root;
};

static const struct {
	const char *name, *article;
	enum schema_type type;
} type_names[] = {
	{"any", "anything", SCHEMA_ANY},     {"string", "a string", SCHEMA_STRING},
	{"int", "an int", SCHEMA_INT},       {"number", "a number", SCHEMA_NUMBER},
	{"bool", "a bool", SCHEMA_BOOL},     {"duration", "a duration", SCHEMA_DURATION},
	{"size", "a size", SCHEMA_SIZE}, {"url", "a URL", SCHEMA_URL},
	{"enum", "one of the listed values", SCHEMA_ENUM},
	{"list", "a list", SCHEMA_LIST},     {"map", "a map", SCHEMA_MAP},
};

static const char *type_name(enum schema_type t)
{
	for (size_t i = 0; i < ARRAY_LEN(type_names); i++)
		if (type_names[i].type == t)
			return type_names[i].name;
	return "?";
}

static const char *type_article(enum schema_type t)
{
	for (size_t i = 0; i < ARRAY_LEN(type_names); i++)
		if (type_names[i].type == t)
			return type_names[i].article;
	return "a value";
}

/* ---- small helpers ---- */

static bool is_scalar(const struct cfg_node *n)
{
	return n->type != CFG_MAP && n->type != CFG_LIST && n->type != CFG_NULL;
}

/* A value that counts as absent: null, or an empty string (an unset
 * variable expands to one). */
static bool is_unset(const struct cfg_node *n)
{
	return n->type == CFG_NULL || (n->type == CFG_STRING && (!n->str || !*n->str));
}

static char *path_join(const char *path, const char *key)
{
	return *path ? easprintf("%s.%s", path, key) : estrdup(key);
}

static const char *shown_path(const char *path)
{
	return *path ? path : "(top level)";
}

/* The text of a scalar: as written, or formatted when the node came from
 * JSON and has none. */
static const char *scalar_text(const struct cfg_node *n, char *buf, size_t size)
{
	if (n->str)
		return n->str;
	switch (n->type) {
	case CFG_BOOL: return n->b ? "true" : "false";
	case CFG_INT: snprintf(buf, size, "%lld", (long long)n->i); return buf;
	case CFG_NUMBER: return double_text(n->d, buf, size);
	default: return "";
	}
}

/* How a value is named in a message: quoted text for strings, the text
 * for other scalars; only its kind when it is secret. */
static const char *describe(const struct cfg_node *n, bool secret, char *buf, size_t size)
{
	switch (n->type) {
	case CFG_NULL: return "null";
	case CFG_MAP: return "a map";
	case CFG_LIST: return "a list";
	default: break;
	}
	if (secret || n->from_secret)
		return n->type == CFG_STRING ? "a string (secret)" : "a value (secret)";
	char tmp[64];
	const char *text = scalar_text(n, tmp, sizeof tmp);
	size_t len = strlen(text);
	if (n->type == CFG_STRING && len > VALUE_SHOWN_MAX)
		snprintf(buf, size, "\"%.*s...\"", VALUE_SHOWN_MAX, text);
	else if (n->type == CFG_STRING)
		snprintf(buf, size, "\"%s\"", text);
	else
		snprintf(buf, size, "%s", text);
	return buf;
}

/* Types text the way a plain YAML scalar is typed (cfg_resolve_plain_scalar),
 * so that "8000" from a template becomes what 8000 in the file would. */
static struct cfg_node *resolve_text(const char *text)
{
	struct cfg_node *t = cfg_node_new(CFG_STRING, NULL, (struct cfg_loc){0});
	t->str = estrdup(text);
	cfg_resolve_plain_scalar(t);
	return t;
}

/* Makes sure a coerced scalar keeps its text in n->str. */
static void keep_text(struct cfg_node *n)
{
	char tmp[64];
	if (!n->str)
		n->str = estrdup(scalar_text(n, tmp, sizeof tmp));
}

static size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* ---- specs ---- */

static void spec_free(struct spec *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->description);
	cfg_node_free(s->def);
	free(s->min_text);
	free(s->max_text);
	for (size_t i = 0; i < s->n_values; i++)
		free(s->values[i]);
	free(s->values);
	for (size_t i = 0; i < s->n_schemes; i++)
		free(s->schemes[i]);
	free(s->schemes);
	spec_free(s->items);
	spec_free(s->entries);
	for (size_t i = 0; i < s->n_keys; i++)
		spec_free(s->keys[i]);
	free(s->keys);
	free(s);
}

static const struct spec *spec_key(const struct spec *s, const char *key)
{
	for (size_t i = 0; i < s->n_keys; i++)
		if (strcmp(s->keys[i]->name, key) == 0)
			return s->keys[i];
	return NULL;
}

/* ---- applying a spec to a value ---- */

struct apply_ctx {
	struct diag *d;
	bool strict;
	bool register_secrets; /* false while checking a schema's own defaults */
	const char *const *sections; /* top-level keys whose "required" holds; NULL: all */
	bool none_required;          /* schema_apply_present(): no key is required */
};

static void check_value(struct apply_ctx *c, const struct spec *s, struct cfg_node *n,
			const char *path);

/* Marks n and everything under it secret; with do_register, also
 * registers the text of its strings for redaction. */
static void mark_secret(struct apply_ctx *c, struct cfg_node *n, bool do_register)
{
	n->secret = true;
	if (do_register && c->register_secrets && n->type == CFG_STRING && n->str)
		redact_register(n->str);
	for (struct cfg_node *m = n->child; m; m = m->next)
		mark_secret(c, m, do_register);
}

/* Marks what the spec says is secret under n, checking nothing. */
static void mark_declared_secrets(const struct spec *s, struct cfg_node *n)
{
	if (!s)
		return;
	if (s->secret) {
		struct apply_ctx quiet = {0};
		mark_secret(&quiet, n, false);
		return;
	}
	for (struct cfg_node *m = n->child; m; m = m->next) {
		if (n->type == CFG_LIST) {
			mark_declared_secrets(s->items, m);
		} else if (n->type == CFG_MAP) {
			const struct spec *ms = spec_key(s, m->key ? m->key : "");
			mark_declared_secrets(ms ? ms : s->entries, m);
		}
	}
}

void schema_mark_secrets(const struct schema *s, struct cfg_node *root)
{
	if (s && root)
		mark_declared_secrets(s->root, root);
}

static void type_error(struct apply_ctx *c, const struct spec *s, const struct cfg_node *n,
		       const char *path)
{
	char buf[VALUE_SHOWN_MAX + 16];
	diag_error(c->d, n->loc.file, n->loc.line, n->loc.col, "%s: expected %s, got %s",
		   shown_path(path), type_article(s->type), describe(n, n->secret, buf, sizeof buf));
}

/* Compares v with the spec's min/max; what names the quantity measured
 * ("length 3", "5 items") or is NULL to name the value itself. */
static void check_range(struct apply_ctx *c, const struct spec *s, const struct cfg_node *n,
			const char *path, double v, const char *what)
{
	char buf[VALUE_SHOWN_MAX + 16];
	const char *subject = what;
	if (!subject)
		subject = n->secret || n->from_secret ? "the value" : describe(n, false, buf, sizeof buf);
	if (s->has_min && v < s->min)
		diag_error(c->d, n->loc.file, n->loc.line, n->loc.col,
			   "%s: %s is below the minimum %s", shown_path(path), subject, s->min_text);
	else if (s->has_max && v > s->max)
		diag_error(c->d, n->loc.file, n->loc.line, n->loc.col,
			   "%s: %s is above the maximum %s", shown_path(path), subject, s->max_text);
}

static bool coerce_int(struct cfg_node *n)
{
	double d;
	switch (n->type) {
	case CFG_INT:
		return true;
	case CFG_NUMBER:
		d = n->d;
		break;
	case CFG_STRING: {
		struct cfg_node *t = resolve_text(n->str ? n->str : "");
		bool ok = t->type == CFG_INT || t->type == CFG_NUMBER;
		if (t->type == CFG_INT) {
			n->type = CFG_INT;
			n->i = t->i;
			n->d = (double)t->i;
			n->quoted = false;
		}
		d = t->d;
		enum cfg_type tt = t->type;
		cfg_node_free(t);
		if (!ok)
			return false;
		if (tt == CFG_INT)
			return true;
		break;
	}
	default:
		return false;
	}
	/* a float that holds an integer: 20.0, 2e1 */
	if (!isfinite(d) || d != trunc(d) || d < -9.2e18 || d > 9.2e18)
		return false;
	keep_text(n);
	n->type = CFG_INT;
	n->i = (int64_t)d;
	n->d = d;
	n->quoted = false;
	return true;
}

static bool coerce_number(struct cfg_node *n)
{
	switch (n->type) {
	case CFG_INT:
		keep_text(n);
		n->type = CFG_NUMBER;
		n->d = (double)n->i;
		return true;
	case CFG_NUMBER:
		return isfinite(n->d);
	case CFG_STRING: {
		struct cfg_node *t = resolve_text(n->str ? n->str : "");
		bool ok = false;
		if (t->type == CFG_INT) {
			n->d = (double)t->i;
			ok = true;
		} else if (t->type == CFG_NUMBER && isfinite(t->d)) {
			n->d = t->d;
			ok = true;
		}
		cfg_node_free(t);
		if (ok) {
			n->type = CFG_NUMBER;
			n->quoted = false;
		}
		return ok;
	}
	default:
		return false;
	}
}

static bool coerce_bool(struct cfg_node *n)
{
	int64_t i;
	switch (n->type) {
	case CFG_BOOL:
		return true;
	case CFG_INT:
		i = n->i;
		break;
	case CFG_STRING: {
		struct cfg_node *t = resolve_text(n->str ? n->str : "");
		enum cfg_type tt = t->type;
		bool b = t->b;
		i = t->i;
		cfg_node_free(t);
		if (tt == CFG_BOOL) {
			n->type = CFG_BOOL;
			n->b = b;
			n->quoted = false;
			return true;
		}
		if (tt != CFG_INT)
			return false;
		break;
	}
	default:
		return false;
	}
	if (i != 0 && i != 1)
		return false;
	keep_text(n);
	n->type = CFG_BOOL;
	n->b = i == 1;
	n->quoted = false;
	return true;
}

/* A duration becomes a number of seconds; str keeps the text. */
static bool coerce_duration(struct cfg_node *n, int64_t *ms)
{
	if (n->type == CFG_INT || n->type == CFG_NUMBER) {
		double secs = n->type == CFG_INT ? (double)n->i : n->d;
		if (!isfinite(secs) || secs < 0 || secs > 9.2e15)
			return false;
		*ms = (int64_t)llround(secs * 1000);
	} else if (n->type == CFG_STRING) {
		if (!n->str || duration_parse(n->str, ms) != 0)
			return false;
	} else {
		return false;
	}
	keep_text(n);
	n->type = CFG_NUMBER;
	n->d = (double)*ms / 1000.0;
	n->quoted = false;
	return true;
}

/* A size becomes an int of bytes; str keeps the text. */
static bool coerce_size(struct cfg_node *n, int64_t *bytes)
{
	if (n->type == CFG_INT) {
		if (n->i < 0)
			return false;
		*bytes = n->i;
	} else if (n->type == CFG_NUMBER) {
		if (!isfinite(n->d) || n->d < 0 || n->d != trunc(n->d) || n->d > 9.2e18)
			return false;
		*bytes = (int64_t)n->d;
	} else if (n->type == CFG_STRING) {
		if (!n->str || size_parse(n->str, bytes) != 0)
			return false;
	} else {
		return false;
	}
	keep_text(n);
	n->type = CFG_INT;
	n->i = *bytes;
	n->d = (double)*bytes;
	n->quoted = false;
	return true;
}

/* Any scalar becomes a string of its text (min_server_version: 15). */
static bool coerce_string(struct cfg_node *n)
{
	if (!is_scalar(n))
		return false;
	if (n->type != CFG_STRING) {
		keep_text(n);
		n->type = CFG_STRING;
		n->quoted = true; /* a string now: never to be typed again */
	}
	return true;
}

/* Checks one host[:port] of an authority (host, [v6] or name). */
static const char *host_problem(const char *host, const char *end)
{
	const char *port = NULL;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (!close || close == host + 1)
			return "bad IPv6 host";
		if (close + 1 < end) {
			if (close[1] != ':')
				return "bad IPv6 host";
			port = close + 2;
		}
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));
		if ((colon ? colon : end) == host)
			return "no host";
		if (colon)
			port = colon + 1;
		for (const char *p = host; p < (colon ? colon : end); p++)
			if (strchr("[]<>\"{}|\\^`", *p))
				return "bad character in the host";
	}
	if (!port)
		return NULL;
	long v = 0;
	if (port == end)
		return "empty port";
	for (const char *p = port; p < end; p++) {
		if (*p < '0' || *p > '9')
			return "port is not a number";
		v = v * 10 + (*p - '0');
		if (v > 65535)
			break;
	}
	return v < 1 || v > 65535 ? "port out of range 1-65535" : NULL;
}

/* Checks scheme://host[:port][/path][?query][#fragment]; a list of hosts,
 * host1:port1,host2:port2, as libpq takes them, is one host each. Returns
 * NULL when the URL is well formed, else why not; the scheme is copied to
 * scheme. */
static const char *url_problem(const char *s, char *scheme, size_t scheme_size)
{
	scheme[0] = '\0';
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "contains whitespace or control characters";
	size_t slen = 0;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return "expected scheme://host";
	while (s[slen] && (strchr("+-.", s[slen]) || (s[slen] >= '0' && s[slen] <= '9') ||
			   (s[slen] >= 'a' && s[slen] <= 'z') || (s[slen] >= 'A' && s[slen] <= 'Z')))
		slen++;
	if (strncmp(s + slen, "://", 3) != 0)
		return "expected scheme://host";
	snprintf(scheme, scheme_size, "%.*s", (int)slen, s);
	const char *auth = s + slen + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *host = auth;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			host = p + 1; /* past the user information */
	const char *end = auth + alen;
	for (;;) {
		const char *comma = memchr(host, ',', (size_t)(end - host));
		const char *why = host_problem(host, comma ? comma : end);
		if (why || !comma)
			return why;
		host = comma + 1;
	}
}

/* ", "-separated, as messages list what is allowed. */
static void join_names(struct buf *out, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", names[i]);
}

static void check_url(struct apply_ctx *c, const struct spec *s, struct cfg_node *n,
		      const char *path)
{
	char scheme[32];
	const char *why = url_problem(n->str ? n->str : "", scheme, sizeof scheme);
	if (why) {
		/* the value is left out: a URL may carry credentials */
		diag_error(c->d, n->loc.file, n->loc.line, n->loc.col, "%s: not a URL: %s",
			   shown_path(path), why);
		return;
	}
	if (s->n_schemes == 0)
		return;
	for (size_t i = 0; i < s->n_schemes; i++)
		if (strcasecmp(scheme, s->schemes[i]) == 0)
			return;
	struct buf allowed = {0};
	join_names(&allowed, s->schemes, s->n_schemes);
	diag_error(c->d, n->loc.file, n->loc.line, n->loc.col,
		   "%s: scheme \"%s\" is not allowed (expected %s)", shown_path(path), scheme,
		   allowed.data);
	buf_free(&allowed);
}

static void check_enum(struct apply_ctx *c, const struct spec *s, struct cfg_node *n,
		       const char *path)
{
	char tmp[64];
	const char *text = scalar_text(n, tmp, sizeof tmp);
	for (size_t i = 0; i < s->n_values; i++) {
		if (strcmp(text, s->values[i]) == 0) {
			coerce_string(n);
			return;
		}
	}
	struct buf allowed = {0};
	join_names(&allowed, s->values, s->n_values);
	char buf[VALUE_SHOWN_MAX + 16];
	diag_error(c->d, n->loc.file, n->loc.line, n->loc.col, "%s: %s is not one of %s",
		   shown_path(path), describe(n, n->secret, buf, sizeof buf), allowed.data);
	buf_free(&allowed);
}

static void report_unknown_key(struct apply_ctx *c, const struct spec *s,
			       const struct cfg_node *m, const char *path)
{
	const char *best = NULL;
	size_t best_distance = 3; /* suggest only close names: at most 2 edits, */
	for (size_t i = 0; i < s->n_keys; i++) {
		size_t dist = edit_distance(m->key ? m->key : "", s->keys[i]->name);
		/* and no more than half of the name changed */
		if (dist < best_distance && dist * 2 <= strlen(s->keys[i]->name)) {
			best_distance = dist;
			best = s->keys[i]->name;
		}
	}
	char hint[128] = "";
	if (best)
		snprintf(hint, sizeof hint, " (did you mean %s?)", best);
	if (c->strict)
		diag_error(c->d, m->loc.file, m->loc.line, m->loc.col, "%s: unknown key%s", path, hint);
	else
		diag_warn(c->d, m->loc.file, m->loc.line, m->loc.col, "%s: unknown key%s", path, hint);
}

/* A new node holding spec s's default, as member key of a map. */
static struct cfg_node *default_node(const struct spec *s, const char *key)
{
	struct cfg_node *n = cfg_copy(s->def);
	free(n->key);
	n->key = estrdup(key);
	free(n->origin);
	n->origin = estrdup("schema default");
	return n;
}

/* Whether a missing required key is an error: always below the top
 * level; at the top level, only for the sections the tool reads. */
static bool required_here(const struct apply_ctx *c, const struct spec *ks, const char *path)
{
	if (!ks->required || c->none_required)
		return false;
	if (*path || !c->sections || !ks->name)
		return true;
	for (const char *const *p = c->sections; *p; p++)
		if (strcmp(*p, ks->name) == 0)
			return true;
	return false;
}

/* A member that is null or empty: an error when required, else replaced
 * by the default when there is one. Returns the member now in its place. */
static struct cfg_node *check_unset_member(struct apply_ctx *c, const struct spec *ms,
					   struct cfg_node *map, struct cfg_node *prev,
					   struct cfg_node *m, const char *path, const char *mpath)
{
	if (required_here(c, ms, path)) {
		diag_error(c->d, m->loc.file, m->loc.line, m->loc.col, "%s: required, but %s", mpath,
			   m->type == CFG_NULL ? "null" : "empty");
	} else if (ms->def) {
		struct cfg_node *dn = default_node(ms, m->key ? m->key : "");
		dn->next = m->next;
		if (prev)
			prev->next = dn;
		else
			map->child = dn;
		m->next = NULL;
		cfg_node_free(m);
		check_value(c, ms, dn, mpath);
		return dn;
	} else if (ms->secret) {
		m->secret = true;
	}
	return m;
}

/* The members the map has, each against its spec. */
static void check_members(struct apply_ctx *c, const struct spec *s, struct cfg_node *map,
			  const char *path)
{
	bool free_form = s->n_keys == 0 && !s->entries;
	struct cfg_node *prev = NULL;
	for (struct cfg_node *m = map->child; m; prev = m, m = m->next) {
		const char *key = m->key ? m->key : "";
		char *mpath = path_join(path, key);
		const struct spec *ms = spec_key(s, key);
		if (!ms)
			ms = s->entries;
		if (!ms) {
			if (!free_form && !s->allow_unknown)
				report_unknown_key(c, s, m, mpath);
		} else if (is_unset(m)) {
			m = check_unset_member(c, ms, map, prev, m, path, mpath);
		} else {
			check_value(c, ms, m, mpath);
		}
		free(mpath);
	}
}

/* The named keys the map lacks: an error when required, else their
 * default added. */
static void check_absent_keys(struct apply_ctx *c, const struct spec *s, struct cfg_node *map,
			      const char *path)
{
	for (size_t i = 0; i < s->n_keys; i++) {
		const struct spec *ks = s->keys[i];
		if (cfg_get(map, ks->name))
			continue;
		char *kpath = path_join(path, ks->name);
		if (required_here(c, ks, path)) {
			diag_error(c->d, map->loc.file, map->loc.line, map->loc.col,
				   "%s: required, but missing", kpath);
		} else if (ks->def) {
			struct cfg_node *dn = default_node(ks, ks->name);
			cfg_append(map, dn);
			check_value(c, ks, dn, kpath);
		}
		free(kpath);
	}
}

/* The min and max of a list or a map bound how many it holds. */
static void check_count(struct apply_ctx *c, const struct spec *s, const struct cfg_node *n,
			const char *path, const char *noun)
{
	size_t count = cfg_count(n);
	char what[48];
	snprintf(what, sizeof what, "%zu %s%s", count, noun, count == 1 ? "" : "s");
	check_range(c, s, n, path, (double)count, what);
}

static void check_list(struct apply_ctx *c, const struct spec *s, struct cfg_node *n,
		       const char *path)
{
	if (n->type != CFG_LIST) {
		type_error(c, s, n, path);
		return;
	}
	check_count(c, s, n, path, "item");
	if (!s->items)
		return;
	size_t i = 0;
	for (struct cfg_node *m = n->child; m; m = m->next, i++) {
		char *ipath = easprintf("%s[%zu]", path, i);
		check_value(c, s->items, m, ipath);
		free(ipath);
	}
}

static void check_map(struct apply_ctx *c, const struct spec *s, struct cfg_node *n,
		      const char *path)
{
	if (n->type != CFG_MAP) {
		type_error(c, s, n, path);
		return;
	}
	check_count(c, s, n, path, "member");
	check_members(c, s, n, path);
	check_absent_keys(c, s, n, path);
}

/* Coerces a scalar to the type; *measure is then what min and max bound:
 * the value, milliseconds, bytes, or a string's characters. false: the
 * value is not of the type. */
static bool coerce_to_type(enum schema_type type, struct cfg_node *n, double *measure)
{
	int64_t v = 0;
	switch (type) {
	case SCHEMA_STRING:
		if (!coerce_string(n))
			return false;
		*measure = (double)utf8_length(n->str);
		return true;
	case SCHEMA_INT:
		if (!coerce_int(n))
			return false;
		*measure = (double)n->i;
		return true;
	case SCHEMA_NUMBER:
		if (!coerce_number(n))
			return false;
		*measure = n->d;
		return true;
	case SCHEMA_DURATION:
		if (!coerce_duration(n, &v))
			return false;
		*measure = (double)v;
		return true;
	case SCHEMA_SIZE:
		if (!coerce_size(n, &v))
			return false;
		*measure = (double)v;
		return true;
	case SCHEMA_BOOL: return coerce_bool(n);
	case SCHEMA_URL: return n->type == CFG_STRING; /* as written: never typed from text */
	case SCHEMA_ENUM: return is_scalar(n);
	default: return false;
	}
}

/* Every scalar type is checked in one shape: the value coerced to the type
 * (else a type error), then what it measures against min and max; a URL
 * and an enum are checked on their text instead, and a bool has no bounds. */
static void check_scalar(struct apply_ctx *c, const struct spec *s, struct cfg_node *n,
			 const char *path)
{
	double measure = 0;
	if (!coerce_to_type(s->type, n, &measure)) {
		type_error(c, s, n, path);
	} else if (s->type == SCHEMA_URL) {
		check_url(c, s, n, path);
	} else if (s->type == SCHEMA_ENUM) {
		check_enum(c, s, n, path);
	} else if (s->type == SCHEMA_STRING) {
		char what[48];
		snprintf(what, sizeof what, "length %zu", (size_t)measure);
		check_range(c, s, n, path, measure, what);
	} else if (s->type != SCHEMA_BOOL) {
		check_range(c, s, n, path, measure, NULL);
	}
}

static void check_value(struct apply_ctx *c, const struct spec *s, struct cfg_node *n,
			const char *path)
{
	/* before any message names a value under it; a key named like a secret
	 * is one for messages too, whatever the schema says */
	if (s->secret || redact_key_looks_secret(n->key))
		mark_secret(c, n, false);
	switch (s->type) {
	case SCHEMA_ANY: break;
	case SCHEMA_LIST: check_list(c, s, n, path); break;
	case SCHEMA_MAP: check_map(c, s, n, path); break;
	default: check_scalar(c, s, n, path); break;
	}
	if (s->secret)
		mark_secret(c, n, true); /* after coercion: the values as tools will see them */
}

/* The whole tree under the ctx's rules; the number of errors it added. */
static unsigned apply_root(const struct schema *s, struct cfg_node *root, struct apply_ctx c)
{
	if (!s || !root)
		return 0;
	unsigned before = c.d->errors;
	check_value(&c, s->root, root, "");
	return c.d->errors - before;
}

unsigned schema_apply_sections(const struct schema *s, struct cfg_node *root,
			       const char *const *sections, bool strict, struct diag *d)
{
	return apply_root(s, root, (struct apply_ctx){.d = d, .strict = strict, .register_secrets = true,
						      .sections = sections});
}

unsigned schema_apply_present(const struct schema *s, struct cfg_node *root, bool strict, struct diag *d)
{
	return apply_root(s, root, (struct apply_ctx){.d = d, .strict = strict, .register_secrets = true,
						      .none_required = true});
}

/* ---- loading a schema file ---- */

enum spec_place {
	PLACE_ROOT,   /* the top-level mapping */
	PLACE_MEMBER, /* a member of keys: may have required and default */
	PLACE_OTHER,  /* items or entries */
};

static struct spec *spec_parse(const struct cfg_node *n, const char *path, enum spec_place place,
			       struct diag *d);

#define SCHEMA_ERROR(d, node, ...) \
	diag_error(d, (node)->loc.file, (node)->loc.line, (node)->loc.col, __VA_ARGS__)

static void parse_bool_field(const struct cfg_node *f, const char *path, bool *out, struct diag *d)
{
	if (f->type != CFG_BOOL) {
		SCHEMA_ERROR(d, f, "%s: %s must be true or false", path, f->key);
		return;
	}
	*out = f->b;
}

/* values/schemes: a non-empty list of scalars, kept as their text. */
static void parse_text_list(const struct cfg_node *f, const char *path, char ***out, size_t *n,
			    struct diag *d)
{
	if (f->type != CFG_LIST || !f->child) {
		SCHEMA_ERROR(d, f, "%s: %s must be a non-empty list", path, f->key);
		return;
	}
	*out = ecalloc(cfg_count(f), sizeof **out);
	for (const struct cfg_node *m = f->child; m; m = m->next) {
		char tmp[64];
		if (!is_scalar(m)) {
			SCHEMA_ERROR(d, m, "%s: %s must hold plain values", path, f->key);
			continue;
		}
		(*out)[(*n)++] = estrdup(scalar_text(m, tmp, sizeof tmp));
	}
}

static void field_not_applicable(const struct spec *s, const struct cfg_node *f, const char *label,
				 struct diag *d)
{
	SCHEMA_ERROR(d, f, "%s: %s does not apply to type %s", label, f->key, type_name(s->type));
}

/* Whether min and max apply: they bound a value, a length or a count. */
static bool has_bounds(enum schema_type type)
{
	switch (type) {
	case SCHEMA_DURATION:
	case SCHEMA_SIZE:
	case SCHEMA_INT:
	case SCHEMA_NUMBER:
	case SCHEMA_STRING:
	case SCHEMA_LIST:
	case SCHEMA_MAP:
		return true;
	default:
		return false;
	}
}

/* A bound in the unit of the type: a duration (milliseconds) or a size in
 * its own syntax, else a number, which for a length or a count is a whole
 * number, 0 or more. false: f is not one. */
static bool bound_value(enum schema_type type, const struct cfg_node *f, const char *text, double *v)
{
	int64_t i64;
	switch (type) {
	case SCHEMA_DURATION:
		if (f->type == CFG_INT || f->type == CFG_NUMBER) {
			double secs = f->type == CFG_INT ? (double)f->i : f->d;
			*v = secs * 1000;
			return isfinite(secs) && secs >= 0;
		}
		if (f->type != CFG_STRING || duration_parse(text, &i64) != 0)
			return false;
		*v = (double)i64;
		return true;
	case SCHEMA_SIZE:
		if (f->type == CFG_INT && f->i >= 0)
			i64 = f->i;
		else if (f->type != CFG_STRING || size_parse(text, &i64) != 0)
			return false;
		*v = (double)i64;
		return true;
	default:
		if (f->type == CFG_INT)
			*v = (double)f->i;
		else if (f->type == CFG_NUMBER && isfinite(f->d))
			*v = f->d;
		else
			return false;
		return type == SCHEMA_INT || type == SCHEMA_NUMBER || (*v >= 0 && *v == trunc(*v));
	}
}

static const char *bound_kind(enum schema_type type)
{
	switch (type) {
	case SCHEMA_DURATION: return "a duration";
	case SCHEMA_SIZE: return "a size";
	case SCHEMA_INT:
	case SCHEMA_NUMBER: return "a number";
	default: return "a length (an int, 0 or more)";
	}
}

/* min/max; their text is kept for messages. */
static void parse_bound(struct spec *s, const struct cfg_node *f, const char *path, struct diag *d)
{
	const char *label = shown_path(path);
	char tmp[64];
	const char *text = is_scalar(f) ? scalar_text(f, tmp, sizeof tmp) : "";
	double v = 0;
	if (!has_bounds(s->type)) {
		field_not_applicable(s, f, label, d);
		return;
	}
	if (!bound_value(s->type, f, text, &v)) {
		SCHEMA_ERROR(d, f, "%s: %s must be %s", label, f->key, bound_kind(s->type));
		return;
	}
	if (strcmp(f->key, "min") == 0) {
		s->has_min = true;
		s->min = v;
		free(s->min_text);
		s->min_text = estrdup(text);
	} else {
		s->has_max = true;
		s->max = v;
		free(s->max_text);
		s->max_text = estrdup(text);
	}
}

/* ---- the fields of a spec, one parser each ---- */

static void parse_description(struct spec *s, const struct cfg_node *f, const char *path,
			      struct diag *d)
{
	if (f->type != CFG_STRING)
		SCHEMA_ERROR(d, f, "%s: description must be a string", shown_path(path));
	else
		s->description = estrdup(f->str ? f->str : "");
}

static void parse_secret(struct spec *s, const struct cfg_node *f, const char *path, struct diag *d)
{
	parse_bool_field(f, shown_path(path), &s->secret, d);
}

static void parse_required(struct spec *s, const struct cfg_node *f, const char *path,
			   struct diag *d)
{
	parse_bool_field(f, shown_path(path), &s->required, d);
}

static void parse_default(struct spec *s, const struct cfg_node *f, const char *path,
			  struct diag *d)
{
	(void)path;
	(void)d;
	s->def = cfg_copy(f);
}

static void parse_values(struct spec *s, const struct cfg_node *f, const char *path, struct diag *d)
{
	parse_text_list(f, shown_path(path), &s->values, &s->n_values, d);
}

static void parse_schemes(struct spec *s, const struct cfg_node *f, const char *path,
			  struct diag *d)
{
	parse_text_list(f, shown_path(path), &s->schemes, &s->n_schemes, d);
}

static void parse_items(struct spec *s, const struct cfg_node *f, const char *path, struct diag *d)
{
	char *ipath = easprintf("%s[]", path);
	s->items = spec_parse(f, ipath, PLACE_OTHER, d);
	free(ipath);
}

static void parse_entries(struct spec *s, const struct cfg_node *f, const char *path,
			  struct diag *d)
{
	char *epath = *path ? easprintf("%s.*", path) : estrdup("*");
	s->entries = spec_parse(f, epath, PLACE_OTHER, d);
	free(epath);
}

static void parse_allow_unknown(struct spec *s, const struct cfg_node *f, const char *path,
				struct diag *d)
{
	parse_bool_field(f, shown_path(path), &s->allow_unknown, d);
}

static void parse_keys(struct spec *s, const struct cfg_node *f, const char *path, struct diag *d)
{
	if (f->type != CFG_MAP) {
		SCHEMA_ERROR(d, f, "%s: keys must be a map of specs", shown_path(path));
		return;
	}
	s->keys = ecalloc(cfg_count(f) + 1, sizeof *s->keys);
	for (const struct cfg_node *m = f->child; m; m = m->next) {
		char *kpath = path_join(path, m->key ? m->key : "");
		struct spec *ks = spec_parse(m, kpath, PLACE_MEMBER, d);
		free(kpath);
		if (!ks)
			continue;
		ks->name = estrdup(m->key ? m->key : "");
		s->keys[s->n_keys++] = ks;
	}
}

enum field_scope {
	FIELD_ANY,    /* any spec */
	FIELD_MEMBER, /* only a member of keys */
	FIELD_TYPED,  /* read once the type is known (min and max: the types they bound) */
	FIELD_OF_TYPE /* only a spec of one type */
};

static const struct spec_field {
	const char *name;
	enum field_scope scope;
	enum schema_type type; /* FIELD_OF_TYPE: the type */
	void (*parse)(struct spec *s, const struct cfg_node *f, const char *path, struct diag *d);
} spec_fields[] = {
	{"type", FIELD_ANY, SCHEMA_ANY, NULL}, /* read first: parse_type() */
	{"description", FIELD_ANY, SCHEMA_ANY, parse_description},
	{"secret", FIELD_ANY, SCHEMA_ANY, parse_secret},
	{"required", FIELD_MEMBER, SCHEMA_ANY, parse_required},
	{"default", FIELD_MEMBER, SCHEMA_ANY, parse_default},
	{"min", FIELD_TYPED, SCHEMA_ANY, parse_bound},
	{"max", FIELD_TYPED, SCHEMA_ANY, parse_bound},
	{"values", FIELD_OF_TYPE, SCHEMA_ENUM, parse_values},
	{"schemes", FIELD_OF_TYPE, SCHEMA_URL, parse_schemes},
	{"items", FIELD_OF_TYPE, SCHEMA_LIST, parse_items},
	{"keys", FIELD_OF_TYPE, SCHEMA_MAP, parse_keys},
	{"entries", FIELD_OF_TYPE, SCHEMA_MAP, parse_entries},
	{"allow_unknown", FIELD_OF_TYPE, SCHEMA_MAP, parse_allow_unknown},
};

/* The spec's type, from its type field. false: missing or unknown. */
static bool parse_type(struct spec *s, const struct cfg_node *n, const char *label, struct diag *d)
{
	const struct cfg_node *t = cfg_get(n, "type");
	if (!t) {
		SCHEMA_ERROR(d, n, "%s: missing type", label);
		return false;
	}
	if (t->type != CFG_STRING) {
		SCHEMA_ERROR(d, t, "%s: type must be a name (string, int, map, ...)", label);
		return false;
	}
	for (size_t i = 0; i < ARRAY_LEN(type_names); i++) {
		if (strcmp(t->str, type_names[i].name) == 0) {
			s->type = type_names[i].type;
			return true;
		}
	}
	SCHEMA_ERROR(d, t,
		     "%s: unknown type \"%s\" (expected any, string, int, number, "
		     "bool, duration, size, url, enum, list or map)",
		     label, t->str);
	return false;
}

static void parse_field(struct spec *s, const struct cfg_node *f, const char *path,
			enum spec_place place, bool type_known, struct diag *d)
{
	const char *label = shown_path(path), *k = f->key ? f->key : "";
	const struct spec_field *sf = NULL;
	for (size_t i = 0; i < ARRAY_LEN(spec_fields) && !sf; i++)
		if (strcmp(k, spec_fields[i].name) == 0)
			sf = &spec_fields[i];
	if (!sf) {
		SCHEMA_ERROR(d, f, "%s: unknown spec field \"%s\"", label, k);
		return;
	}
	if (sf->scope == FIELD_MEMBER && place != PLACE_MEMBER) {
		SCHEMA_ERROR(d, f, "%s: %s applies only to a member of keys", label, k);
		return;
	}
	if ((sf->scope == FIELD_TYPED || sf->scope == FIELD_OF_TYPE) && !type_known)
		return; /* what they mean depends on the type */
	if (sf->scope == FIELD_OF_TYPE && s->type != sf->type) {
		field_not_applicable(s, f, label, d);
		return;
	}
	if (sf->parse)
		sf->parse(s, f, path, d);
}

/* What the fields must agree on. */
static void check_fields_agree(const struct spec *s, const struct cfg_node *n, const char *label,
			       bool type_known, struct diag *d)
{
	if (type_known && s->type == SCHEMA_ENUM && !s->values && !cfg_get(n, "values"))
		SCHEMA_ERROR(d, n, "%s: an enum needs values", label);
	if (s->has_min && s->has_max && s->min > s->max)
		SCHEMA_ERROR(d, n, "%s: min %s is above max %s", label, s->min_text, s->max_text);
	if (s->required && s->def)
		SCHEMA_ERROR(d, cfg_get(n, "default"),
			     "%s: a required key has no use for a default", label);
}

/* The default must itself pass the spec: checked on a copy, strictly,
 * with messages located at the default in the schema file. */
static void check_default(const struct spec *s, const char *path, struct diag *d)
{
	struct cfg_node *copy = cfg_copy(s->def);
	struct apply_ctx c = {.d = d, .strict = true, .register_secrets = false};
	char *dpath = easprintf("%s (default)", path);
	if (is_unset(copy))
		SCHEMA_ERROR(d, copy, "%s: a default must not be null or empty", dpath);
	else
		check_value(&c, s, copy, dpath);
	free(dpath);
	cfg_node_free(copy);
}

static struct spec *spec_parse(const struct cfg_node *n, const char *path, enum spec_place place,
			       struct diag *d)
{
	const char *label = shown_path(path);
	if (n->type != CFG_MAP) {
		SCHEMA_ERROR(d, n, "%s: a spec must be a map (type: ..., ...)", label);
		return NULL;
	}
	struct spec *s = ecalloc(1, sizeof *s);
	unsigned errors = d->errors;
	bool type_known = parse_type(s, n, label, d);
	for (const struct cfg_node *f = n->child; f; f = f->next)
		parse_field(s, f, path, place, type_known, d);
	check_fields_agree(s, n, label, type_known, d);
	if (d->errors == errors && s->def)
		check_default(s, path, d);
	return s;
}

struct schema *schema_load(const char *path, struct diag *d)
{
	struct cfg_node *doc = yaml_load_file(path, d);
	if (!doc)
		return NULL;
	unsigned errors = d->errors;
	struct schema *s = ecalloc(1, sizeof *s);
	const struct cfg_node *version = NULL, *root = NULL;
	for (const struct cfg_node *f = doc->child; f; f = f->next) {
		const char *k = f->key ? f->key : "";
		if (strcmp(k, "version") == 0)
			version = f;
		else if (strcmp(k, "root") == 0)
			root = f;
		else if (strcmp(k, "description") != 0)
			SCHEMA_ERROR(d, f, "unknown schema field \"%s\" (expected version, root, description)", k);
	}
	if (!version)
		SCHEMA_ERROR(d, doc, "missing version (version: %d)", SCHEMA_VERSION);
	else if (version->type != CFG_INT || version->i != SCHEMA_VERSION)
		SCHEMA_ERROR(d, version, "unsupported schema version (expected %d)", SCHEMA_VERSION);
	if (!root) {
		SCHEMA_ERROR(d, doc, "missing root (the spec of the top-level mapping)");
	} else {
		unsigned root_errors = d->errors;
		s->root = spec_parse(root, "", PLACE_ROOT, d);
		if (s->root && s->root->type != SCHEMA_MAP && d->errors == root_errors)
			SCHEMA_ERROR(d, root, "root: the top level must be of type map");
	}
	cfg_node_free(doc);
	if (d->errors != errors) {
		schema_free(s);
		return NULL;
	}
	return s;
}

void schema_free(struct schema *s)
{
	if (!s)
		return;
	spec_free(s->root);
	free(s);
}
