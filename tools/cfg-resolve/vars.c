/* vars.c — the variables a config's ${...} templates refer to (--list-vars),
 * and the variables an env file sets that none of them does. */
#include "cfg-resolve.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"

#include <stdlib.h>
#include <string.h>

struct collector {
	struct var_list *vl;
	struct diag *d;
	const struct cfg_node *node; /* the string being scanned */
	const char *path;
	bool secret;
};

static int var_cmp(const void *a, const void *b)
{
	return strcmp(((const struct var_info *)a)->name, ((const struct var_info *)b)->name);
}

const struct var_info *vars_find(const struct var_list *vl, const char *name)
{
	struct var_info key = {.name = (char *)name};
	return vl->n ? bsearch(&key, vl->v, vl->n, sizeof *vl->v, var_cmp) : NULL;
}

/* The entry of name, added when new; the list is sorted at the end. */
static struct var_info *var_entry(struct var_list *vl, const char *name, size_t len)
{
	for (size_t i = 0; i < vl->n; i++)
		if (strlen(vl->v[i].name) == len && strncmp(vl->v[i].name, name, len) == 0)
			return &vl->v[i];
	if (vl->n == vl->cap) {
		vl->cap = vl->cap ? vl->cap * 2 : 32;
		vl->v = erealloc(vl->v, vl->cap * sizeof *vl->v);
	}
	vl->v[vl->n] = (struct var_info){.name = estrndup(name, len)};
	return &vl->v[vl->n++];
}

static void on_ref(const struct tmpl_ref *ref, void *arg)
{
	struct collector *c = arg;
	struct var_info *v = var_entry(c->vl, ref->name, ref->name_len);
	v->secret = v->secret || c->secret || redact_key_looks_secret(v->name);
	if (ref->depth == 0 && (ref->op == 0 || ref->op == '?'))
		v->required = true;
	if (ref->op == '-' && !v->default_text) {
		/* a default written with a URL password shows it masked */
		char *word = estrndup(ref->word, ref->word_len);
		v->default_text = redact_string(word);
		free(word);
	}
	if (ref->op == '?' && !v->message && ref->word_len)
		v->message = estrndup(ref->word, ref->word_len);
	/* one use per value, whatever the number of references in it */
	if (v->n_uses && v->uses[v->n_uses - 1].loc.file == c->node->loc.file &&
	    strcmp(v->uses[v->n_uses - 1].path, c->path) == 0)
		return;
	v->uses = erealloc(v->uses, (v->n_uses + 1) * sizeof *v->uses);
	struct cfg_loc loc = c->node->loc;
	if (ref->line > 0)
		loc.line = ref->line, loc.col = ref->col;
	v->uses[v->n_uses++] = (struct var_use){.path = estrdup(c->path), .loc = loc};
}

static void scan_below(const struct cfg_node *n, struct buf *path, bool secret, struct collector *c)
{
	size_t index = 0;
	for (const struct cfg_node *k = n->child; k; k = k->next, index++) {
		size_t mark = path->len;
		bool is_secret = secret || k->secret || redact_key_looks_secret(k->key);
		if (n->type == CFG_LIST)
			buf_printf(path, "[%zu]", index);
		else
			buf_printf(path, "%s%s", mark ? "." : "", k->key ? k->key : "");
		if (k->type == CFG_MAP || k->type == CFG_LIST) {
			scan_below(k, path, is_secret, c);
		} else if (k->type == CFG_STRING && k->str && strchr(k->str, '$')) {
			struct tmpl_ctx t = {.diag = c->d, .file = k->loc.file, .secret = is_secret,
					     .line = k->text_line ? k->text_line : k->loc.line,
					     .col = k->text_line ? k->text_col : k->loc.col};
			c->node = k;
			c->path = path->data;
			c->secret = is_secret;
			tmpl_scan(k->str, &t, on_ref, c);
		}
		path->len = mark;
		path->data[mark] = '\0';
	}
}

int vars_collect(const struct config_opts *o, struct var_list *vl, struct diag *d)
{
	unsigned before = d->errors;
	struct cfg_node *root = NULL;
	for (size_t i = 0; i < o->nfiles; i++) {
		struct cfg_node *n = yaml_load_file(o->files[i], d);
		if (n)
			root = root ? cfg_merge(root, n) : n;
	}
	if (root && d->errors == before && o->schema_path) {
		struct schema *s = schema_load(o->schema_path, d);
		if (s)
			schema_mark_secrets(s, root);
		schema_free(s);
	}
	if (root && d->errors == before) {
		struct collector c = {.vl = vl, .d = d};
		struct buf path = {0};
		buf_append(&path, "", 0);
		scan_below(root, &path, false, &c);
		buf_free(&path);
	}
	cfg_node_free(root);
	if (vl->n > 1)
		qsort(vl->v, vl->n, sizeof *vl->v, var_cmp);
	return d->errors == before ? 0 : EXIT_DATAERR;
}

void vars_free(struct var_list *vl)
{
	for (size_t i = 0; i < vl->n; i++) {
		struct var_info *v = &vl->v[i];
		for (size_t j = 0; j < v->n_uses; j++)
			free(v->uses[j].path);
		free(v->uses);
		free(v->name);
		free(v->default_text);
		free(v->message);
	}
	free(vl->v);
	*vl = (struct var_list){0};
}

/* "required", "default "x"" or "optional": how the config takes it. */
static void put_need(struct buf *out, const struct var_info *v)
{
	if (v->required)
		buf_puts(out, "required");
	else if (v->default_text)
		buf_printf(out, "default \"%s\"", v->secret ? REDACTED : v->default_text);
	else
		buf_puts(out, "optional");
	if (v->secret)
		buf_puts(out, ", secret");
}

/* The key paths that use v, with file:line (or, with_line false, the
 * file only: the example env file stays the same when lines move). */
static void put_uses(struct buf *out, const struct var_info *v, bool with_line)
{
	for (size_t j = 0; j < v->n_uses; j++) {
		const char *file = v->uses[j].loc.file ? v->uses[j].loc.file : "?";
		if (with_line)
			buf_printf(out, "%s%s (%s:%d)", j ? ", " : "", v->uses[j].path, file, v->uses[j].loc.line);
		else
			buf_printf(out, "%s%s (%s)", j ? ", " : "", v->uses[j].path, file);
	}
}

static cJSON *var_json(const struct var_info *v)
{
	cJSON *j = cJSON_CreateObject(), *uses = cJSON_CreateArray();
	cJSON_AddStringToObject(j, "name", v->name);
	cJSON_AddBoolToObject(j, "required", v->required);
	cJSON_AddBoolToObject(j, "secret", v->secret);
	if (v->default_text)
		cJSON_AddStringToObject(j, "default", v->secret ? REDACTED : v->default_text);
	else
		cJSON_AddNullToObject(j, "default");
	if (v->message)
		cJSON_AddStringToObject(j, "message", v->message);
	for (size_t k = 0; k < v->n_uses; k++) {
		cJSON *u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "path", v->uses[k].path);
		cJSON_AddStringToObject(u, "file", v->uses[k].loc.file ? v->uses[k].loc.file : "");
		cJSON_AddNumberToObject(u, "line", v->uses[k].loc.line);
		cJSON_AddNumberToObject(u, "col", v->uses[k].loc.col);
		cJSON_AddItemToArray(uses, u);
	}
	cJSON_AddItemToObject(j, "uses", uses);
	return j;
}

/* The header of the example env file: what it is and how it was made. */
static void env_header(struct buf *out, const struct args *a)
{
	buf_puts(out, "# The variables the ${...} templates of the config refer to, made by\n"
		      "#   cfg-resolve --list-vars --format env");
	if (a->load.schema_path)
		buf_printf(out, " -s %s", a->load.schema_path);
	for (size_t i = 0; i < a->load.nfiles; i++)
		buf_printf(out, " %s", a->load.files[i]);
	buf_puts(out, "\n# run from the top of the source tree, its output redirected to this file:\n"
		      "# that is how to regenerate it. Fill in each NAME= line; a commented one\n"
		      "# (#NAME=value) shows the default the config uses when it is left unset.\n"
		      "# Secrets never have a value here: put them in the environment or in an\n"
		      "# env file of mode 0600 that is never committed.\n");
}

static void env_entry(struct buf *out, const struct var_info *v)
{
	buf_printf(out, "\n# %s: ", v->name);
	put_need(out, v);
	buf_puts(out, "; ");
	put_uses(out, v, false);
	buf_putc(out, '\n');
	if (v->message)
		buf_printf(out, "# (unset: \"%s\")\n", v->message);
	if (v->required || v->secret)
		buf_printf(out, "%s=\n", v->name);
	else
		buf_printf(out, "#%s=%s\n", v->name, v->default_text ? v->default_text : "");
}

void vars_render(const struct var_list *vl, const struct args *a, enum output_format fmt, struct buf *out)
{
	if (fmt == FORMAT_ENV)
		env_header(out, a);
	for (size_t i = 0; i < vl->n; i++) {
		const struct var_info *v = &vl->v[i];
		if (fmt == FORMAT_ENV) {
			env_entry(out, v);
		} else if (fmt == FORMAT_JSON) {
			cJSON *j = var_json(v);
			char *s = cJSON_PrintUnformatted(j);
			if (!s)
				die(EXIT_UNKNOWN, "unable to allocate memory");
			buf_printf(out, "%s\n", s);
			free(s);
			cJSON_Delete(j);
		} else {
			buf_printf(out, "%-28s ", v->name);
			put_need(out, v);
			buf_puts(out, "  ");
			put_uses(out, v, true);
			buf_putc(out, '\n');
		}
	}
}

/* The referred-to name closest to name, within 2 edits; NULL: none. */
static const char *closest_name(const struct var_list *vl, const char *name)
{
	const char *best = NULL;
	size_t best_distance = 3;
	for (size_t i = 0; i < vl->n; i++) {
		size_t dist = edit_distance(name, vl->v[i].name);
		if (dist < best_distance) {
			best_distance = dist;
			best = vl->v[i].name;
		}
	}
	return best;
}

void env_files_check(struct report *r, const struct var_list *vl, const char *const *files, size_t n)
{
	struct env_store e;
	struct diag quiet = {.silent = true}; /* config_load() reported its problems */
	struct buf msg = {0};
	unsigned unused = 0;
	env_store_init(&e);
	e.use_environ = false;
	for (size_t i = 0; i < n; i++)
		envfile_load(&e, files[i], &quiet);
	for (size_t i = 0; i < e.n; i++) {
		const struct env_entry *v = &e.v[i];
		if (vars_find(vl, v->name))
			continue;
		const char *hint = closest_name(vl, v->name);
		buf_printf(&msg, "%s%s:%d: %s is set but no template refers to it", msg.len ? "; " : "",
			   v->loc.file ? v->loc.file : "?", v->loc.line, v->name);
		if (hint)
			buf_printf(&msg, " (did you mean %s?)", hint);
		unused++;
	}
	cJSON *data = cJSON_CreateObject();
	cJSON_AddNumberToObject(data, "variables", (double)e.n);
	cJSON_AddNumberToObject(data, "unused", unused);
	report_add_check(r, "env.unused", unused ? STATUS_WARNING : STATUS_OK, 0, data, "%s",
			 unused ? msg.data : "every variable of the env files is referred to by a template");
	buf_free(&msg);
	env_store_free(&e);
}
