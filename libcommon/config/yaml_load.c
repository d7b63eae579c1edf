/* yaml_load.c — one YAML document into a config tree, with file:line:col on
 * every error, driven by libyaml's event parser.
 *
 * The events are first built into an intermediate graph in which an alias is
 * a shared, reference-counted node, so an alias costs nothing but its count:
 * every node carries its size and depth after alias expansion, and a
 * document that would expand beyond YAML_MAX_NODES nodes or YAML_MAX_DEPTH
 * levels fails at the alias that crosses the limit, having allocated only
 * what its text holds. Only a document within both limits is expanded into
 * struct cfg_node (copies, so every cfg_node owns what it points to). No
 * recursion is deeper than YAML_MAX_DEPTH + 1. */
#include "shipshape/config.h"
#include "shipshape/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"
#define MESSAGE_KEY_MAX 80 /* how much of a key an error message shows */

/* ---- the intermediate graph ---- */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct yentry {
	char *key;          /* maps: the key's text (owned); sequences: NULL */
	int line, col;      /* of the key (maps) */
	bool merge;         /* the << merge key */
	struct ynode *value; /* one reference */
};

struct ynode {
	enum ykind kind;
	unsigned refs;
	bool typed;        /* a plain scalar without a tag that makes it a string */
	int line, col;
	int text_line, text_col; /* scalars: where the text starts when not at line:col */
	char *text;        /* scalars */
	struct yentry *items;
	size_t n, cap;
	size_t size;       /* nodes after alias expansion, itself included */
	int depth;         /* collection levels after alias expansion; 0 for a scalar */
};

static struct ynode *ynode_new(enum ykind kind, const yaml_mark_t *mark)
{
	struct ynode *y = ecalloc(1, sizeof *y);
	y->kind = kind;
	y->refs = 1;
	y->line = (int)mark->line + 1;
	y->col = (int)mark->column + 1;
	y->size = 1;
	return y;
}

static struct ynode *ynode_ref(struct ynode *y)
{
	y->refs++;
	return y;
}

/* Drops one reference. Recursion follows the graph, whose depth is bounded. */
static void ynode_unref(struct ynode *y)
{
	if (!y || --y->refs > 0)
		return;
	for (size_t k = 0; k < y->n; k++) {
		free(y->items[k].key);
		ynode_unref(y->items[k].value);
	}
	free(y->items);
	free(y->text);
	free(y);
}

static void items_push(struct ynode *y, struct yentry e)
{
	if (y->n == y->cap) {
		y->cap = y->cap ? y->cap * 2 : 8;
		y->items = erealloc(y->items, y->cap * sizeof *y->items);
	}
	y->items[y->n++] = e;
}

/* ---- a string-keyed hash table (anchors; keys of one mapping) ---- */

struct strmap_slot {
	const char *key; /* NULL: empty */
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, n; /* cap: a power of two */
};

static size_t str_hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ull;
	return h;
}

static struct strmap_slot *strmap_probe(struct strmap_slot *slots, size_t cap, const char *key)
{
	size_t k = str_hash(key) & (cap - 1);
	while (slots[k].key && strcmp(slots[k].key, key) != 0)
		k = (k + 1) & (cap - 1);
	return &slots[k];
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct strmap_slot *s = strmap_probe(m->slots, m->cap, key);
	return s->key ? s : NULL;
}

/* The slot for key; a new slot has key set (borrowed) and value NULL. */
static struct strmap_slot *strmap_insert(struct strmap *m, const char *key, bool *created)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct strmap_slot *slots = ecalloc(cap, sizeof *slots);
		for (size_t k = 0; k < m->cap; k++)
			if (m->slots[k].key)
				*strmap_probe(slots, cap, m->slots[k].key) = m->slots[k];
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
	}
	struct strmap_slot *s = strmap_probe(m->slots, m->cap, key);
	*created = !s->key;
	if (!s->key) {
		s->key = key;
		m->n++;
	}
	return s;
}

/* ---- the loader ---- */

struct frame {
	struct ynode *node; /* the open collection (one reference) */
	char *anchor;       /* its anchor, registered when it ends */
	bool have_key;      /* maps: key holds the key of the value to come */
	bool drop_value;    /* maps: the key was a duplicate, its value is dropped */
	struct yentry key;
	struct strmap keys; /* maps: key (borrowed from items) -> index + 1 */
};

struct loader {
	const char *file; /* interned */
	struct diag *d;
	const char *text;
	size_t len;
	yaml_parser_t parser;
	struct frame frames[YAML_MAX_DEPTH];
	int depth; /* open frames */
	struct ynode *root;
	/* anchor name (owned) -> its node (one reference), or NULL while the
	 * anchored collection is still open: an alias to it then is recursive */
	struct strmap anchors;
	size_t line_no, line_off; /* a line and the offset of its start (text_start) */
	size_t nodes;     /* running count after alias expansion */
	int documents;
	unsigned errors;
	bool stop;        /* an error after which the rest is not read */
};

static void load_error(struct loader *ld, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void load_error(struct loader *ld, int line, int col, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_error(ld->d, ld->file, line, col, "%s", msg);
	ld->errors++;
}

#define MARK(m) (int)(m).line + 1, (int)(m).column + 1

static void fatal(struct loader *ld)
{
	ld->stop = true;
}

/* libyaml's reader reports a byte offset, not a mark: count lines and
 * characters up to it the way libyaml would have. */
static void offset_position(const struct loader *ld, size_t offset, int *line, int *col)
{
	const unsigned char *s = (const unsigned char *)ld->text;
	size_t k = 0;
	*line = 1;
	*col = 1;
	if (offset > ld->len)
		offset = ld->len;
	if (offset >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		k = 3; /* a UTF-8 byte order mark is not a character of line 1 */
	for (; k < offset; k++) {
		if (s[k] == '\n' || (s[k] == '\r' && (k + 1 >= ld->len || s[k + 1] != '\n'))) {
			(*line)++;
			*col = 1;
		} else if ((s[k] & 0xC0) != 0x80) {
			(*col)++; /* a character starts here (UTF-8 continuation bytes do not count) */
		}
	}
}

static void parser_error(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;
	const char *problem = p->problem ? p->problem : "unknown YAML error";
	int line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		out_of_memory(); /* libyaml's allocation: the e* helpers' exit */
	case YAML_READER_ERROR:
		offset_position(ld, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			load_error(ld, line, col, "%s (#x%02X)", problem, (unsigned)p->problem_value);
		else
			load_error(ld, line, col, "%s", problem);
		break;
	default:
		if (p->context)
			load_error(ld, MARK(p->problem_mark), "%s (%s at %d:%d)", problem, p->context,
				   MARK(p->context_mark));
		else
			load_error(ld, MARK(p->problem_mark), "%s", problem);
		break;
	}
	fatal(ld);
}

/* -1: a tag this loader does not know (an error); 1: the node is a string
 * whatever its text (!!str, or the non-specific "!"); 0: ignored (the other
 * standard tags: the text decides, as without a tag). */
static int tag_meaning(const char *tag)
{
	if (!tag)
		return 0;
	if (strcmp(tag, "!") == 0)
		return 1;
	static const char *const standard[] = {
		"int", "float", "bool", "null", "map", "seq", "merge", "binary",
		"timestamp", "omap", "pairs", "set", "value",
	};
	size_t prefix = strlen(YAML_TAG_PREFIX);
	if (strncmp(tag, YAML_TAG_PREFIX, prefix) != 0)
		return -1;
	if (strcmp(tag + prefix, "str") == 0)
		return 1;
	for (size_t k = 0; k < ARRAY_LEN(standard); k++)
		if (strcmp(tag + prefix, standard[k]) == 0)
			return 0;
	return -1;
}

static int check_tag(struct loader *ld, const yaml_char_t *tag, const yaml_mark_t *mark)
{
	int meaning = tag_meaning((const char *)tag);
	if (meaning < 0) {
		load_error(ld, MARK(*mark), "unknown tag \"%.*s\" (only the standard YAML tags such as !!str are supported)",
			   MESSAGE_KEY_MAX, (const char *)tag);
		meaning = 0;
	}
	return meaning;
}

static const char *kind_name(const struct ynode *y)
{
	return y->kind == Y_MAP ? "a mapping" : y->kind == Y_SEQ ? "a sequence" : "a scalar";
}

/* Adds a finished node (one reference, consumed) where the parser is. */
static void add_node(struct loader *ld, struct ynode *y, const yaml_mark_t *mark, const yaml_char_t *tag)
{
	if (ld->depth == 0) {
		ynode_unref(ld->root); /* never set yet: a second document stops the load */
		ld->root = y;
		return;
	}
	struct frame *f = &ld->frames[ld->depth - 1];
	if (f->node->kind == Y_SEQ) {
		items_push(f->node, (struct yentry){.value = y});
		return;
	}
	if (f->have_key) {
		f->have_key = false;
		if (f->drop_value) {
			f->drop_value = false;
			ynode_unref(y);
			return;
		}
		f->key.value = y;
		items_push(f->node, f->key);
		memset(&f->key, 0, sizeof f->key);
		return;
	}
	if (y->kind != Y_SCALAR) {
		load_error(ld, MARK(*mark), "a mapping key must be a scalar, not %s", kind_name(y));
		ynode_unref(y);
		fatal(ld);
		return;
	}
	f->have_key = true;
	bool created;
	struct strmap_slot *s = strmap_insert(&f->keys, y->text, &created);
	if (!created) {
		const struct yentry *first = &f->node->items[(uintptr_t)s->value - 1];
		load_error(ld, MARK(*mark), "duplicate key \"%.*s\" (first at %d:%d)", MESSAGE_KEY_MAX, y->text,
			   first->line, first->col);
		f->drop_value = true;
		ynode_unref(y);
		return;
	}
	f->key.key = estrdup(y->text);
	s->key = f->key.key; /* the key table borrows the entry's key */
	s->value = (void *)(uintptr_t)(f->node->n + 1); /* where the value will go */
	f->key.line = (int)mark->line + 1;
	f->key.col = (int)mark->column + 1;
	f->key.merge = (tag && strcmp((const char *)tag, YAML_TAG_PREFIX "merge") == 0) ||
		       (y->typed && strcmp(y->text, "<<") == 0);
	ynode_unref(y);
}

static bool count_nodes(struct loader *ld, size_t more, const yaml_mark_t *mark, const char *alias)
{
	if (ld->nodes + more <= YAML_MAX_NODES) {
		ld->nodes += more;
		return true;
	}
	if (alias)
		load_error(ld, MARK(*mark),
			   "alias *%.*s takes the document beyond %d nodes (an alias bomb?)",
			   MESSAGE_KEY_MAX, alias, YAML_MAX_NODES);
	else
		load_error(ld, MARK(*mark), "the document has more than %d nodes", YAML_MAX_NODES);
	fatal(ld);
	return false;
}

/* The offset in the text of line:col as libyaml counts them (lines broken
 * by \n, \r\n or \r; columns in characters; a BOM is not one). Events come
 * in document order, so the line cursor only moves forward, and the whole
 * file is scanned once however many scalars ask. */
static size_t text_offset(struct loader *ld, int line, int col)
{
	const unsigned char *s = (const unsigned char *)ld->text;
	if (ld->line_no == 0 || (size_t)line < ld->line_no) {
		ld->line_no = 1;
		ld->line_off = ld->len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF ? 3 : 0;
	}
	size_t k = ld->line_off;
	while (ld->line_no < (size_t)line && k < ld->len) {
		if (s[k] == '\n' || (s[k] == '\r' && (k + 1 >= ld->len || s[k + 1] != '\n'))) {
			ld->line_no++;
			ld->line_off = k + 1;
		}
		k++;
	}
	k = ld->line_off;
	for (int c = 1; c < col && k < ld->len; c++) {
		k++;
		while (k < ld->len && (s[k] & 0xC0) == 0x80)
			k++;
	}
	return k;
}

/* Where the characters of a quoted or decorated scalar start: past its
 * anchor and tag (and any blank, comment or line break after them) and its
 * opening quote, so that a template error points at the "$" itself. Block
 * scalars (| and >) keep their header's place. */
static void scalar_text_start(struct loader *ld, const yaml_event_t *ev, struct ynode *y)
{
	yaml_scalar_style_t style = ev->data.scalar.style;
	if (style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE)
		return;
	if (style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.anchor && !ev->data.scalar.tag)
		return;
	const char *s = ld->text;
	size_t k = text_offset(ld, y->line, y->col);
	int line = y->line, col = y->col;
	while (k < ld->len) {
		if (s[k] == '&' || s[k] == '!') {
			while (k < ld->len && !strchr(" \t\r\n", s[k])) {
				k++;
				col++;
			}
		} else if (s[k] == ' ' || s[k] == '\t') {
			k++;
			col++;
		} else if (s[k] == '#') {
			while (k < ld->len && s[k] != '\n' && s[k] != '\r')
				k++;
		} else if (s[k] == '\n' || s[k] == '\r') {
			k += s[k] == '\r' && k + 1 < ld->len && s[k + 1] == '\n' ? 2 : 1;
			line++;
			col = 1;
		} else {
			break;
		}
	}
	if (k < ld->len && ((style == YAML_SINGLE_QUOTED_SCALAR_STYLE && s[k] == '\'') ||
			    (style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && s[k] == '"')))
		col++;
	y->text_line = line;
	y->text_col = col;
}

static void on_scalar(struct loader *ld, const yaml_event_t *ev)
{
	const yaml_mark_t *mark = &ev->start_mark;
	if (!count_nodes(ld, 1, mark, NULL))
		return;
	int meaning = check_tag(ld, ev->data.scalar.tag, mark);
	struct ynode *y = ynode_new(Y_SCALAR, mark);
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	if (memchr(text, '\0', len))
		load_error(ld, MARK(*mark), "a NUL character (\\0) in a scalar is not supported");
	y->text = estrndup(text, len);
	y->typed = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && meaning == 0;
	if (memchr(text, '$', len))
		scalar_text_start(ld, ev, y);
	if (ev->data.scalar.anchor) {
		bool created;
		struct strmap_slot *s = strmap_insert(&ld->anchors, (const char *)ev->data.scalar.anchor, &created);
		if (created)
			s->key = estrdup(s->key);
		ynode_unref(s->value);
		s->value = ynode_ref(y);
	}
	add_node(ld, y, mark, ev->data.scalar.tag);
}

static void on_alias(struct loader *ld, const yaml_event_t *ev)
{
	const yaml_mark_t *mark = &ev->start_mark;
	const char *name = (const char *)ev->data.alias.anchor;
	struct strmap_slot *s = strmap_find(&ld->anchors, name);
	struct ynode *y;
	if (!s || !s->value) {
		if (!s)
			load_error(ld, MARK(*mark), "unknown alias *%.*s (no anchor &%.*s before it)",
				   MESSAGE_KEY_MAX, name, MESSAGE_KEY_MAX, name);
		else
			load_error(ld, MARK(*mark), "alias *%.*s refers to a node that contains it",
				   MESSAGE_KEY_MAX, name);
		/* go on with a null in its place, to find more errors */
		if (!count_nodes(ld, 1, mark, NULL))
			return;
		y = ynode_new(Y_SCALAR, mark);
		y->text = estrdup("");
		add_node(ld, y, mark, NULL);
		return;
	}
	y = s->value;
	if (!count_nodes(ld, y->size, mark, name))
		return;
	if (ld->depth + y->depth > YAML_MAX_DEPTH) {
		load_error(ld, MARK(*mark), "alias *%.*s nests the document deeper than %d levels",
			   MESSAGE_KEY_MAX, name, YAML_MAX_DEPTH);
		fatal(ld);
		return;
	}
	add_node(ld, ynode_ref(y), mark, NULL);
}

static void on_start(struct loader *ld, const yaml_event_t *ev, enum ykind kind)
{
	const yaml_mark_t *mark = &ev->start_mark;
	const yaml_char_t *anchor, *tag;
	if (kind == Y_MAP) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	} else {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	}
	if (ld->depth > 0) {
		const struct frame *f = &ld->frames[ld->depth - 1];
		if (f->node->kind == Y_MAP && !f->have_key) {
			load_error(ld, MARK(*mark), "a mapping key must be a scalar, not %s",
				   kind == Y_MAP ? "a mapping" : "a sequence");
			fatal(ld);
			return;
		}
	}
	if (ld->depth >= YAML_MAX_DEPTH) {
		load_error(ld, MARK(*mark), "nesting deeper than %d levels", YAML_MAX_DEPTH);
		fatal(ld);
		return;
	}
	if (!count_nodes(ld, 1, mark, NULL))
		return;
	check_tag(ld, tag, mark);
	struct frame *f = &ld->frames[ld->depth++];
	memset(f, 0, sizeof *f);
	f->node = ynode_new(kind, mark);
	if (anchor) {
		bool created;
		struct strmap_slot *s = strmap_insert(&ld->anchors, (const char *)anchor, &created);
		if (created)
			s->key = estrdup(s->key);
		ynode_unref(s->value);
		s->value = NULL; /* open: an alias to it now would be recursive */
		f->anchor = estrdup((const char *)anchor);
	}
}

/* Reported at the << key: the value may be an alias to a node far away. */
static void merge_error(struct loader *ld, const struct yentry *e, const struct ynode *item)
{
	const char *what = "the value of a << merge key must be a mapping or a sequence of mappings";
	if (item == e->value)
		load_error(ld, e->line, e->col, "%s, not %s", what, kind_name(item));
	else
		load_error(ld, e->line, e->col, "%s; the sequence holds %s at %d:%d", what, kind_name(item),
			   item->line, item->col);
}

/* Adds the entries of a merged mapping that no explicit key and no earlier
 * merged mapping has set (YAML 1.1 merge key semantics). */
static void merge_from(const struct ynode *src, struct strmap *seen, struct yentry **out,
		       size_t *nout, size_t *cap)
{
	for (size_t k = 0; k < src->n; k++) {
		const struct yentry *e = &src->items[k];
		bool created;
		struct strmap_slot *s = strmap_insert(seen, e->key, &created);
		if (!created)
			continue;
		if (*nout == *cap) {
			*cap *= 2;
			*out = erealloc(*out, *cap * sizeof **out);
		}
		struct yentry copy = {estrdup(e->key), e->line, e->col, false, ynode_ref(e->value)};
		s->key = copy.key; /* the table must not point into src, which may go */
		(*out)[(*nout)++] = copy;
	}
}

/* A mapping is complete: its merge keys are expanded in place of the <<
 * entry. seen holds its explicit keys (duplicates were dropped as they came). */
static void map_finish(struct loader *ld, struct ynode *map, struct strmap *seen)
{
	size_t nout = 0, cap = map->n ? map->n : 1;
	struct yentry *out = emalloc(cap * sizeof *out);
	for (size_t k = 0; k < map->n; k++) {
		struct yentry *e = &map->items[k];
		if (!e->merge) {
			if (nout == cap) {
				cap *= 2;
				out = erealloc(out, cap * sizeof *out);
			}
			out[nout++] = *e;
			continue;
		}
		struct ynode *v = e->value;
		if (v->kind == Y_MAP) {
			merge_from(v, seen, &out, &nout, &cap);
		} else if (v->kind == Y_SEQ) {
			for (size_t m = 0; m < v->n; m++) {
				if (v->items[m].value->kind == Y_MAP)
					merge_from(v->items[m].value, seen, &out, &nout, &cap);
				else
					merge_error(ld, e, v->items[m].value);
			}
		} else {
			merge_error(ld, e, v);
		}
		/* the "<<" string stays in seen until the end of this function:
		 * free it only then */
		e->value = NULL;
		ynode_unref(v);
	}
	for (size_t k = 0; k < map->n; k++)
		if (!map->items[k].value)
			free(map->items[k].key);
	free(map->items);
	map->items = out;
	map->n = nout;
	map->cap = cap;
}

static void on_end(struct loader *ld, const yaml_event_t *ev)
{
	struct frame *f = &ld->frames[--ld->depth];
	struct ynode *y = f->node;
	if (f->have_key) { /* libyaml always gives a value; be safe anyway */
		free(f->key.key);
		f->have_key = false;
	}
	if (y->kind == Y_MAP)
		map_finish(ld, y, &f->keys);
	free(f->keys.slots);
	memset(&f->keys, 0, sizeof f->keys);
	y->size = 1;
	y->depth = 1;
	for (size_t k = 0; k < y->n; k++) {
		y->size += y->items[k].value->size;
		if (y->items[k].value->depth + 1 > y->depth)
			y->depth = y->items[k].value->depth + 1;
	}
	if (f->anchor) {
		struct strmap_slot *s = strmap_find(&ld->anchors, f->anchor);
		ynode_unref(s->value);
		s->value = ynode_ref(y);
		free(f->anchor);
		f->anchor = NULL;
	}
	f->node = NULL;
	add_node(ld, y, &ev->start_mark, NULL);
}

/* Expands the graph into a cfg_node tree: every alias becomes a copy. */
static struct cfg_node *expand(const struct loader *ld, const struct ynode *y, const char *key)
{
	struct cfg_loc loc = {ld->file, y->line, y->col};
	if (y->kind == Y_SCALAR) {
		struct cfg_node *n = cfg_node_new(CFG_STRING, key, loc);
		n->str = estrdup(y->text);
		n->text_line = y->text_line;
		n->text_col = y->text_col;
		if (y->typed)
			cfg_resolve_plain_scalar(n);
		else
			n->quoted = true;
		return n;
	}
	struct cfg_node *n = cfg_node_new(y->kind == Y_MAP ? CFG_MAP : CFG_LIST, key, loc);
	struct cfg_node **tail = &n->child;
	for (size_t k = 0; k < y->n; k++) {
		*tail = expand(ld, y->items[k].value, y->items[k].key);
		tail = &(*tail)->next;
	}
	return n;
}

static void loader_free(struct loader *ld)
{
	for (int k = ld->depth - 1; k >= 0; k--) {
		struct frame *f = &ld->frames[k];
		if (f->have_key)
			free(f->key.key);
		free(f->keys.slots);
		free(f->anchor);
		ynode_unref(f->node);
	}
	ld->depth = 0;
	for (size_t k = 0; k < ld->anchors.cap; k++) {
		struct strmap_slot *s = &ld->anchors.slots[k];
		if (s->key) {
			free((char *)s->key);
			ynode_unref(s->value);
		}
	}
	free(ld->anchors.slots);
	ynode_unref(ld->root);
	yaml_parser_delete(&ld->parser);
}

static void parse_events(struct loader *ld)
{
	yaml_event_t ev;
	bool done = false;
	while (!done && !ld->stop) {
		if (!yaml_parser_parse(&ld->parser, &ev)) {
			parser_error(ld);
			return;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (ld->documents++ > 0) {
				load_error(ld, MARK(ev.start_mark),
					   "a second YAML document: a config file holds exactly one");
				fatal(ld);
			}
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(ld, &ev);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(ld, &ev);
			break;
		case YAML_MAPPING_START_EVENT:
			on_start(ld, &ev, Y_MAP);
			break;
		case YAML_SEQUENCE_START_EVENT:
			on_start(ld, &ev, Y_SEQ);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			on_end(ld, &ev);
			break;
		case YAML_STREAM_END_EVENT:
		case YAML_NO_EVENT:
			done = true;
			break;
		default: /* stream start, document end */
			break;
		}
		yaml_event_delete(&ev);
	}
}

struct cfg_node *yaml_load_string(const char *name, const char *text, size_t len, struct diag *d)
{
	if (!name)
		name = "<string>";
	if (len > YAML_MAX_FILE_SIZE) {
		diag_error(d, name, 0, 0, "larger than the %u MiB limit for a YAML file", YAML_MAX_FILE_SIZE >> 20);
		return NULL;
	}
	struct loader *ld = ecalloc(1, sizeof *ld);
	struct cfg_node *result = NULL;
	ld->file = cfg_intern(name);
	ld->d = d;
	ld->text = text;
	ld->len = len;
	if (!yaml_parser_initialize(&ld->parser))
		out_of_memory(); /* its one failure is an allocation */
	yaml_parser_set_input_string(&ld->parser, (const unsigned char *)text, len);

	parse_events(ld);
	if (ld->stop)
		goto out;
	if (ld->documents == 0) {
		load_error(ld, 0, 0, "no YAML document (the file is empty or holds only comments)");
		goto out;
	}
	if (!ld->root)
		goto out;
	if (ld->root->kind != Y_MAP) {
		if (ld->root->kind == Y_SCALAR && ld->root->typed && ld->root->text[0] == '\0')
			load_error(ld, ld->root->line, ld->root->col,
				   "the document is empty; the top level must be a mapping");
		else
			load_error(ld, ld->root->line, ld->root->col, "the top level must be a mapping, not %s",
				   kind_name(ld->root));
		goto out;
	}
	if (ld->errors == 0)
		result = expand(ld, ld->root, NULL);
out:
	loader_free(ld);
	free(ld);
	return result;
}

struct cfg_node *yaml_load_file(const char *path, struct diag *d)
{
	char *text = NULL;
	size_t len = 0;
	bool from_stdin = strcmp(path, "-") == 0;
	if (from_stdin)
		path = "stdin"; /* as messages and --explain name it */
	if (read_file(from_stdin ? "/dev/stdin" : path, YAML_MAX_FILE_SIZE, &text, &len) < 0) {
		if (errno == EFBIG)
			diag_error(d, path, 0, 0, "larger than the %u MiB limit for a YAML file",
				   YAML_MAX_FILE_SIZE >> 20);
		else if (errno == EISDIR)
			diag_error(d, path, 0, 0, "is a directory, not a YAML file");
		else
			diag_error(d, path, 0, 0, "unable to read: %s", read_file_error(errno));
		return NULL;
	}
	struct cfg_node *root = yaml_load_string(path, text, len, d);
	free(text);
	return root;
}
