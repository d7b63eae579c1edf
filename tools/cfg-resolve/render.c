/* render.c — the config tree as JSON, text, env lines, one value, or an
 * explanation of where every value came from. */
#include "cfg-resolve.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

bool node_is_secret(const struct cfg_node *n)
{
	return n->secret || redact_key_looks_secret(n->key);
}

/* A copy of the tree with secret values replaced and URL passwords masked. */
static void redact_tree(struct cfg_node *n)
{
	for (; n; n = n->next) {
		if (n->type == CFG_MAP || n->type == CFG_LIST) {
			bool hide_all = node_is_secret(n);
			redact_tree(n->child);
			if (hide_all)
				for (struct cfg_node *c = n->child; c; c = c->next)
					c->secret = true, c->type = CFG_STRING, free(c->str),
					c->str = estrdup(REDACTED);
			continue;
		}
		if (n->type == CFG_NULL)
			continue;
		if (node_is_secret(n) && n->str && *n->str) {
			n->type = CFG_STRING;
			free(n->str);
			n->str = estrdup(REDACTED);
		} else if (n->type == CFG_STRING && n->str) {
			char *masked = redact_string(n->str);
			free(n->str);
			n->str = masked;
		}
	}
}

/* A scalar's text as printed in text/env output. */
static const char *scalar_text(const struct cfg_node *n, char *tmp, size_t size)
{
	switch (n->type) {
	case CFG_NULL: return "null";
	case CFG_BOOL: return n->b ? "true" : "false";
	case CFG_INT: snprintf(tmp, size, "%lld", (long long)n->i); return tmp;
	case CFG_NUMBER:
		if (n->str && *n->str)
			return n->str; /* durations keep what was written ("30s") */
		return double_text(n->d, tmp, size);
	default: return n->str ? n->str : "";
	}
}

static void walk_below(const struct cfg_node *n, struct buf *path, leaf_fn fn, void *ctx)
{
	size_t index = 0;
	for (const struct cfg_node *c = n->child; c; c = c->next, index++) {
		size_t mark = path->len;
		if (n->type == CFG_LIST)
			buf_printf(path, "[%zu]", index);
		else
			buf_printf(path, "%s%s", mark ? "." : "", c->key ? c->key : "");
		if ((c->type == CFG_MAP || c->type == CFG_LIST) && c->child)
			walk_below(c, path, fn, ctx);
		else
			fn(path->data, c, ctx);
		path->len = mark;
		path->data[mark] = '\0';
	}
}

void walk_leaves(const struct cfg_node *root, leaf_fn fn, void *ctx)
{
	struct buf path = {0};
	buf_append(&path, "", 0);
	walk_below(root, &path, fn, ctx);
	buf_free(&path);
}

/* Appends s for a line of text output: as it is, or, when it holds a line
 * break or another control character (which would split the line or drive
 * the terminal), as a JSON string with those escaped. */
static void put_text(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p && *p >= 0x20 && *p != 0x7f)
		p++;
	if (!*p) {
		buf_puts(out, s);
		return;
	}
	cJSON *j = cJSON_CreateString(s);
	char *quoted = j ? cJSON_PrintUnformatted(j) : NULL;
	if (!quoted)
		die(EXIT_UNKNOWN, "unable to allocate memory");
	/* cJSON leaves DEL as it is */
	for (char *q = quoted; *q; q++) {
		if (*q == 0x7f)
			buf_puts(out, "\\u007f");
		else
			buf_putc(out, *q);
	}
	free(quoted);
	cJSON_Delete(j);
}

static const char *leaf_text(const struct cfg_node *n, char *tmp, size_t size)
{
	return n->type == CFG_MAP ? "{}" : n->type == CFG_LIST ? "[]" : scalar_text(n, tmp, size);
}

static void text_leaf(const char *path, const struct cfg_node *n, void *ctx)
{
	char tmp[64];
	put_text(ctx, path);
	buf_puts(ctx, " = ");
	put_text(ctx, leaf_text(n, tmp, sizeof tmp));
	buf_putc(ctx, '\n');
}

/* database.pool_size -> DATABASE_POOL_SIZE; a.b[0] -> A_B_0. A name that
 * would start with a digit (or be empty) starts with "_", so that every
 * line is an assignment to the shell. */
static void env_name(const char *path, struct buf *out)
{
	size_t start = out->len;
	for (const char *p = path; *p; p++) {
		if (isalnum((unsigned char)*p) && (unsigned char)*p < 0x80)
			buf_putc(out, (char)toupper((unsigned char)*p));
		else if (*p != ']' && out->len > start && out->data[out->len - 1] != '_')
			buf_putc(out, '_');
	}
	if (out->len == start || isdigit((unsigned char)out->data[start])) {
		buf_putc(out, '_');
		memmove(out->data + start + 1, out->data + start, out->len - start - 1);
		out->data[start] = '_';
	}
}

struct env_ctx {
	struct buf *out;
	struct env_var {
		char *name;
		char *path;
	} *vars;
	size_t n, cap;
};

static int env_var_cmp(const void *a, const void *b)
{
	const struct env_var *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->path, y->path);
}

static void env_leaf(const char *path, const struct cfg_node *n, void *ctx)
{
	struct env_ctx *e = ctx;
	struct buf *out = e->out;
	char tmp[64];
	const char *v = n->type == CFG_MAP || n->type == CFG_LIST ? "" : scalar_text(n, tmp, sizeof tmp);
	if (n->type == CFG_NULL)
		v = "";
	size_t start = out->len;
	env_name(path, out);
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->vars = erealloc(e->vars, e->cap * sizeof *e->vars);
	}
	e->vars[e->n++] = (struct env_var){estrndup(out->data + start, out->len - start), estrdup(path)};
	buf_puts(out, "='");
	for (const char *p = v; *p; p++) {
		if (*p == '\'')
			buf_puts(out, "'\\''");
		else
			buf_putc(out, *p);
	}
	buf_puts(out, "'\n");
}

static char *source_of(const struct cfg_node *n)
{
	struct buf b = {0};
	if (n->loc.file && n->loc.line)
		buf_printf(&b, "%s:%d", n->loc.file, n->loc.line);
	if (n->origin)
		buf_printf(&b, "%s%s", b.len ? ", " : "", n->origin);
	if (!b.len)
		buf_puts(&b, "unknown");
	return buf_take(&b);
}

struct explain_ctx {
	struct buf *out;
	cJSON *json;
};

static void explain_leaf(const char *path, const struct cfg_node *n, void *ctx)
{
	struct explain_ctx *e = ctx;
	char tmp[64];
	char *src = source_of(n);
	if (e->json) {
		cJSON *item = cJSON_CreateObject();
		cJSON_AddItemToObject(item, "value", cfg_to_json(n));
		cJSON_AddStringToObject(item, "source", src);
		cJSON_AddItemToObject(e->json, path, item);
	} else {
		put_text(e->out, path);
		buf_puts(e->out, " = ");
		put_text(e->out, leaf_text(n, tmp, sizeof tmp));
		buf_puts(e->out, "    # ");
		put_text(e->out, src);
		buf_putc(e->out, '\n');
	}
	free(src);
}

static void append_json(struct buf *out, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	if (!s)
		die(EXIT_UNKNOWN, "unable to allocate memory");
	buf_puts(out, s);
	buf_putc(out, '\n');
	free(s);
}

static int render_get(const struct cfg_node *root, const char *path, struct buf *out)
{
	const struct cfg_node *n = cfg_path(root, path);
	if (!n) {
		error_msg("%s: no such key", path);
		return EXIT_DATAERR;
	}
	/* A scalar prints bare (for scripts: `--get database.url`); a map or a
	 * list prints as JSON. */
	if (n->type == CFG_MAP || n->type == CFG_LIST) {
		cJSON *j = cfg_to_json(n);
		append_json(out, j);
		cJSON_Delete(j);
	} else {
		char tmp[64];
		buf_printf(out, "%s\n", scalar_text(n, tmp, sizeof tmp));
	}
	return EXIT_OK;
}

/* KEY='value' lines. Two keys that map to one name (a-b and a_b) would
 * have the second silently win in the shell: that is an error instead. */
static int render_env(const struct cfg_node *tree, struct buf *out)
{
	struct env_ctx e = {.out = out};
	int status = EXIT_OK;
	walk_leaves(tree, env_leaf, &e);
	if (e.n > 1)
		qsort(e.vars, e.n, sizeof *e.vars, env_var_cmp);
	for (size_t i = 1; i < e.n && status == EXIT_OK; i++) {
		if (strcmp(e.vars[i - 1].name, e.vars[i].name) == 0) {
			error_msg("--format env: %s and %s both become %s", e.vars[i - 1].path, e.vars[i].path,
				  e.vars[i].name);
			status = EXIT_DATAERR;
		}
	}
	for (size_t i = 0; i < e.n; i++) {
		free(e.vars[i].name);
		free(e.vars[i].path);
	}
	free(e.vars);
	return status;
}

int render(const struct cfg_node *root, const struct args *a, enum output_format fmt, bool redact,
	   struct buf *out)
{
	/* Only a redacted rendering needs its own copy of the tree. */
	struct cfg_node *copy = redact ? cfg_copy(root) : NULL;
	const struct cfg_node *tree = copy ? copy : root;
	int status = EXIT_OK;
	if (copy)
		redact_tree(copy);
	if (a->action == ACTION_GET) {
		status = render_get(tree, a->get_path, out);
	} else if (a->action == ACTION_EXPLAIN) {
		struct explain_ctx e = {.out = out, .json = fmt == FORMAT_JSON ? cJSON_CreateObject() : NULL};
		walk_leaves(tree, explain_leaf, &e);
		if (e.json) {
			append_json(out, e.json);
			cJSON_Delete(e.json);
		}
	} else if (fmt == FORMAT_TEXT) {
		walk_leaves(tree, text_leaf, out);
	} else if (fmt == FORMAT_ENV) {
		status = render_env(tree, out);
	} else {
		cJSON *j = cfg_to_json(tree);
		append_json(out, j);
		cJSON_Delete(j);
	}
	cfg_node_free(copy);
	return status;
}
