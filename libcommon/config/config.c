/* config.c — the config pipeline (files -> merge -> templates -> schema) and
 * the config document every tool reads. */
#include "shipshape/config.h"
#include "shipshape/common.h"
#include "shipshape/json.h"
#include "shipshape/opts.h"
#include "shipshape/redact.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_DOCUMENT_MAX (16u << 20)

/* Expands templates in every string value (never in keys). Values that came
 * from variables are not expanded again: tmpl_expand guarantees it, and a
 * node is visited once, in one of two passes: the secrets (schema-marked or
 * named like one) first, so that the variables they use are registered as
 * secret before any other value or message can show them; then the rest.
 * Under a secret no message quotes a template. */
static void expand_tree(struct cfg_node *n, const struct env_store *env, bool strict, bool secret,
			bool secrets_pass, struct diag *d)
{
	for (; n; n = n->next) {
		bool is_secret = secret || n->secret || redact_key_looks_secret(n->key);
		if (n->type == CFG_MAP || n->type == CFG_LIST) {
			expand_tree(n->child, env, strict, is_secret, secrets_pass, d);
			continue;
		}
		if (is_secret != secrets_pass || n->type != CFG_STRING || !n->str || !strchr(n->str, '$'))
			continue;
		struct tmpl_ctx c = {.env = env, .strict = strict, .diag = d, .file = n->loc.file,
				     .line = n->text_line ? n->text_line : n->loc.line,
				     .col = n->text_line ? n->text_col : n->loc.col, .secret = is_secret};
		char *out = tmpl_expand(n->str, &c);
		if (out) {
			free(n->str);
			n->str = out;
			n->from_secret = n->from_secret || c.used_secret;
			if (c.origin) {
				free(n->origin);
				n->origin = c.origin;
				c.origin = NULL;
			}
		}
		free(c.origin);
	}
}

/* A string value that carries a secret: the whole of it under a secret key,
 * else the password of any URL in it. */
static void register_value(const char *value, bool secret)
{
	if (secret)
		redact_register(value);
	redact_register_url_passwords(value);
}

void config_register_secrets(const struct cfg_node *n, bool under_secret)
{
	for (; n; n = n->next) {
		bool secret = under_secret || n->secret || redact_key_looks_secret(n->key);
		if (n->child)
			config_register_secrets(n->child, secret);
		else if (n->type == CFG_STRING && n->str)
			register_value(n->str, secret);
	}
}

/* The documents of the protocol that are not config documents, as a
 * message names them. */
static const struct {
	const char *kind, *named;
} protocol_kinds[] = {
	{"report", "a report"},       {"event", "an event"},
	{"alert", "an alert"},        {"journal", "a journal record"},
	{"delivery", "a delivery record"}, {"runbook", "a runbook record"},
};

/* How a message names a document of this kind; NULL for a config. */
static const char *protocol_kind_named(const char *kind)
{
	for (size_t i = 0; kind && i < ARRAY_LEN(protocol_kinds); i++)
		if (strcmp(kind, protocol_kinds[i].kind) == 0)
			return protocol_kinds[i].named;
	return NULL;
}

/* A file holding a report, an event or a record (a top-level "kind" of the
 * protocol) is not a config, whatever else it holds: an error, not a
 * config that happens to have a key named kind. */
static bool is_protocol_document(const struct cfg_node *root, struct diag *d)
{
	const struct cfg_node *k = cfg_get(root, "kind");
	const char *named = k && k->type == CFG_STRING ? protocol_kind_named(k->str) : NULL;
	if (named)
		diag_error(d, k->loc.file, k->loc.line, k->loc.col, "expected a config document, got %s", named);
	return named != NULL;
}

/* The schema over root: only present values when partial (nothing
 * required), else with "required" for the sections named. */
static unsigned apply_schema(const struct schema *s, struct cfg_node *root, const char *const *sections,
			     bool partial, bool strict, struct diag *d)
{
	return partial ? schema_apply_present(s, root, strict, d)
		       : schema_apply_sections(s, root, sections, strict, d);
}

struct cfg_node *config_load(const struct config_opts *o, struct diag *d)
{
	struct env_store env;
	struct cfg_node *root = NULL;
	unsigned errors_before = d->errors;

	env_store_init(&env);
	for (size_t i = 0; i < o->n_env_files; i++) {
		size_t before = env.n;
		if (envfile_load(&env, o->env_files[i], d) == 0)
			verbose("read env file %s: %zu new variable%s", o->env_files[i], env.n - before,
				env.n - before == 1 ? "" : "s");
	}
	for (size_t i = 0; i < o->nfiles; i++) {
		struct cfg_node *n = yaml_load_file(o->files[i], d);
		if (!n)
			continue;
		if (is_protocol_document(n, d)) {
			cfg_node_free(n);
			continue;
		}
		verbose("read %s%s", o->files[i], root ? ", merged over the files before it" : "");
		root = root ? cfg_merge(root, n) : n;
	}
	/* The schema comes before the templates: it says which values are
	 * secret, and a message about a secret's template must not quote it. */
	struct schema *s = NULL;
	bool loaded = root && d->errors == errors_before;
	if (loaded && o->schema_path) {
		s = schema_load(o->schema_path, d);
		if (s)
			schema_mark_secrets(s, root);
	}
	if (loaded) {
		expand_tree(root, &env, o->strict, false, true, d);
		expand_tree(root, &env, o->strict, false, false, d);
		/* before the schema's checks: their messages name values */
		config_register_secrets(root, false);
	}
	if (s && d->errors == errors_before &&
	    apply_schema(s, root, o->sections, o->partial, o->strict, d) == 0)
		verbose("applied schema %s", o->schema_path);
	if (root && d->errors == errors_before)
		config_register_secrets(root, false); /* schema defaults and coerced values */
	schema_free(s);
	env_store_free(&env);
	if (d->errors != errors_before) {
		cfg_node_free(root);
		return NULL;
	}
	return root;
}

/* ---- config_open: the one loader of every tool's config ---- */

char *config_schema_find_beside(const char *exe_dir)
{
	/* the installed copy first: PREFIX/bin/../config is nobody's schema */
	static const char *const beside[] = {
		"../share/shipshape/config/schema.yaml", /* PREFIX/bin/TOOL */
		"../config/schema.yaml",                 /* build/TOOL */
		"../../config/schema.yaml",              /* build/san/TOOL, build/tests/TEST */
		"../../../config/schema.yaml",           /* build/san/tests/TEST */
	};
	for (size_t i = 0; i < ARRAY_LEN(beside); i++) {
		char *path = easprintf("%s/%s", exe_dir, beside[i]);
		if (access(path, R_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

char *config_schema_find(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return config_schema_find_beside(exe);
}

static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* A JSON document has no locations: every node is placed in its file, at
 * no line, so that messages read "FILE: key.path: ...". */
static void place_in_file(struct cfg_node *n, const char *file)
{
	for (; n; n = n->next) {
		n->loc.file = file;
		place_in_file(n->child, file);
	}
}

/* The text of the config: -c FILE, or the document on stdin. */
static int read_source(const struct config_request *r, struct config *c, char **text, size_t *len)
{
	bool from_stdin = !r->path || strcmp(r->path, "-") == 0;
	c->file = cfg_intern(from_stdin ? "stdin" : r->path);
	if (from_stdin && isatty(STDIN_FILENO)) {
		diag_error(&c->diag, NULL, 0, 0, "no config: give -c FILE or pipe a config document on stdin");
		return EXIT_USAGE;
	}
	if (read_file(from_stdin ? "/dev/stdin" : r->path, CONFIG_DOCUMENT_MAX, text, len) < 0) {
		diag_error(&c->diag, NULL, 0, 0, "unable to read %s: %s",
			   from_stdin ? "the config document on stdin" : r->path, read_file_error(errno));
		return EXIT_DATAERR;
	}
	if (from_stdin && !*skip_blank(*text)) {
		diag_error(&c->diag, c->file, 0, 0, "empty input, expected a config document");
		return EXIT_DATAERR;
	}
	return 0;
}

/* A JSON config document, through the same schema as a YAML file. */
static struct cfg_node *load_json(const struct config_request *r, struct config *c,
				  const char *schema_path, const char *text, size_t len)
{
	char err[128];
	cJSON *doc = json_parse_text(text, len, err, sizeof err);
	if (!doc) {
		diag_error(&c->diag, NULL, 0, 0, "%s:%s", c->file, err);
		return NULL;
	}
	const char *named = protocol_kind_named(json_kind(doc));
	if (!cJSON_IsObject(doc))
		diag_error(&c->diag, c->file, 0, 0, "expected a config document (a JSON object)");
	else if (named)
		diag_error(&c->diag, c->file, 0, 0, "expected a config document, got %s", named);
	struct cfg_node *root = c->diag.errors ? NULL : cfg_from_json(doc, NULL);
	cJSON_Delete(doc);
	if (!root)
		return NULL;
	place_in_file(root, c->file);
	struct schema *s = schema_load(schema_path, &c->diag);
	if (s) {
		schema_mark_secrets(s, root);
		config_register_secrets(root, false); /* before any message names a value */
		apply_schema(s, root, r->sections, r->partial, r->strict, &c->diag);
		schema_free(s);
	}
	return root;
}

int config_open(const struct config_request *r, struct config *c)
{
	*c = (struct config){.diag = {.silent = r->silent}};
	char *text = NULL, *found = NULL;
	size_t len = 0;
	int status = read_source(r, c, &text, &len);
	const char *schema_path = r->schema_path;
	if (status == 0 && !schema_path) {
		schema_path = found = config_schema_find();
		if (!found) {
			diag_error(&c->diag, NULL, 0, 0,
				   "unable to find the config schema beside %s (see shipshape.yaml(5)); "
				   "name it with --schema FILE", prog);
			status = EXIT_UNKNOWN;
		}
	}
	bool from_stdin = !r->path || strcmp(r->path, "-") == 0;
	if (status == 0 && (from_stdin || *skip_blank(text) == '{')) {
		c->tree = load_json(r, c, schema_path, text, len);
	} else if (status == 0) {
		const char *files[] = {r->path};
		struct config_opts o = {.files = files, .nfiles = 1, .schema_path = schema_path,
					.sections = r->sections, .partial = r->partial, .strict = r->strict};
		c->tree = config_load(&o, &c->diag);
	}
	free(text);
	free(found);
	if (status == 0 && (!c->tree || c->diag.errors))
		status = EXIT_DATAERR;
	if (status != 0) {
		cfg_node_free(c->tree);
		c->tree = NULL;
		return status;
	}
	config_register_secrets(c->tree, false); /* schema defaults and coerced values */
	c->doc = cfg_to_json(c->tree);
	return 0;
}

void config_close(struct config *c)
{
	cfg_node_free(c->tree);
	cJSON_Delete(c->doc);
	c->tree = NULL;
	c->doc = NULL;
}

bool config_failed(const struct config *c)
{
	return c->diag.errors > 0;
}

int config_exit_status(const struct config *c, int status)
{
	if (!nagios_mode())
		return status;
	if (c->diag.errors <= 1)
		return error_status(status, c->diag.errors ? c->diag.first : "invalid config");
	char msg[600];
	snprintf(msg, sizeof msg, "%s: invalid config (%u errors)", c->file ? c->file : "config",
		 c->diag.errors);
	return error_status(status, msg);
}

cJSON *config_open_document(const struct config_request *r, int *status)
{
	struct config c;
	*status = config_open(r, &c);
	if (*status != 0)
		*status = config_exit_status(&c, *status);
	cJSON *doc = c.doc;
	c.doc = NULL;
	config_close(&c);
	return doc;
}
