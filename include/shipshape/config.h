/* config.h — the config loader: YAML files with locations, deep merge,
 * Compose-style templates, .env files, a schema, and the config document.
 *
 * Pipeline (config_load): yaml_load_file() each file -> cfg_merge() later
 * over earlier -> expand templates in string values -> schema_apply()
 * (types, defaults, required, ranges) -> cfg_to_json(). */
#ifndef SHIPSHAPE_CONFIG_H
#define SHIPSHAPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* ---- diagnostics: every problem in one run, each with its place ---- */

struct diag {
	unsigned errors, warnings;
	bool silent;        /* collect without printing (unit tests) */
	char last[512];     /* the last message, as printed */
};

/* Prints "prog: FILE:LINE:COL: message" (LINE/COL left out when 0) to
 * stderr, redacted, and counts it. file may be NULL. */
void diag_error(struct diag *d, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void diag_warn(struct diag *d, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- the config tree ---- */

enum cfg_type { CFG_NULL, CFG_BOOL, CFG_INT, CFG_NUMBER, CFG_STRING, CFG_MAP, CFG_LIST };

struct cfg_loc {
	const char *file; /* interned: lives as long as the program (cfg_intern) */
	int line, col;    /* 1-based; 0 when not from a file */
};

struct cfg_node {
	enum cfg_type type;
	char *key;              /* member name inside a map, else NULL */
	char *str;              /* scalars: the text (after expansion for strings) */
	bool quoted;            /* a quoted YAML scalar: always a string, never typed */
	bool b;
	int64_t i;
	double d;
	struct cfg_node *child; /* maps and lists: first member */
	struct cfg_node *next;  /* next sibling */
	struct cfg_loc loc;     /* where the value was written */
	int text_line, text_col; /* strings: where their first character is, when
				    not at loc (past a quote, an anchor or a tag);
				    0 when unknown. For template messages. */
	char *origin;           /* where the value came from when not only loc:
				   "environment variable DB_URL", ".env:3", "schema default" */
	bool secret;            /* marked secret by the schema */
	bool from_secret;       /* the value took text from a secret's variable
				   (tmpl_ctx.used_secret): no message quotes it */
};

/* A string that lives until exit, for cfg_loc.file. */
const char *cfg_intern(const char *s);

struct cfg_node *cfg_node_new(enum cfg_type type, const char *key, struct cfg_loc loc);
void cfg_node_free(struct cfg_node *n); /* frees n and its children, not its siblings */
/* Appends child as the last member of parent (a map or list). */
void cfg_append(struct cfg_node *parent, struct cfg_node *child);
struct cfg_node *cfg_get(const struct cfg_node *map, const char *key);
/* Dotted path look-up: "database.url", "alerts.channels[1].type". */
struct cfg_node *cfg_path(const struct cfg_node *root, const char *path);
size_t cfg_count(const struct cfg_node *n);
struct cfg_node *cfg_copy(const struct cfg_node *n);
/* Deep merge: over's maps merge into base's, anything else replaces.
 * Consumes over; returns the merged tree (base, modified). */
struct cfg_node *cfg_merge(struct cfg_node *base, struct cfg_node *over);
/* The tree as a config document (new cJSON; secrets in clear). */
cJSON *cfg_to_json(const struct cfg_node *n);
/* A config tree from a JSON document (locations left empty). */
struct cfg_node *cfg_from_json(const cJSON *j, const char *key);
/* YAML 1.2 core-schema resolution of a plain scalar's text into n's type:
 * null/~, true/false (and yes/no/on/off, as operators write them), ints
 * (decimal, 0x, 0o), floats, else a string. */
void cfg_resolve_plain_scalar(struct cfg_node *n);

/* ---- YAML ---- */

#define YAML_MAX_FILE_SIZE (4u << 20) /* 4 MiB */
#define YAML_MAX_DEPTH 256            /* deeper nesting is an error, never a stack overflow */
#define YAML_MAX_NODES 1000000        /* after alias expansion: beyond is an alias bomb */

/* Loads one YAML file: one document (none or several is an error),
 * anchors/aliases/<< merge keys resolved, duplicate keys an error. Errors go
 * to d with file:line:col; returns NULL on any error. An empty file or a file
 * of only comments is an error ("no document"). Plain scalars are typed with
 * cfg_resolve_plain_scalar(); quoted ones stay strings. The top level must be
 * a mapping. */
struct cfg_node *yaml_load_file(const char *path, struct diag *d); /* "-": stdin */
/* The same, from memory; name is used in messages. */
struct cfg_node *yaml_load_string(const char *name, const char *text, size_t len, struct diag *d);

/* ---- variables: the environment and .env files ---- */

struct env_entry {
	char *name, *value;
	struct cfg_loc loc; /* env-file and line */
};

struct env_store {
	struct env_entry *v;
	size_t n, cap;
	bool use_environ; /* look up the real environment first (default true) */
};

void env_store_init(struct env_store *e);
void env_store_free(struct env_store *e);
/* True when an env file set name (the real environment is not looked at). */
bool env_store_has(const struct env_store *e, const char *name);
/* Sets name=value from an env file (a later file overrides an earlier one). */
void env_store_set(struct env_store *e, const char *name, const char *value, struct cfg_loc loc);
/* The value of name: the real environment wins over env files. *origin (may be
 * NULL) receives "environment variable NAME" or "FILE:LINE", as a new string. */
const char *env_store_get(const struct env_store *e, const char *name, char **origin);

/* Reads a .env file the way Docker Compose does: comments, blank lines,
 * `export` prefix, VAR= (empty), unquoted values (trimmed, " #" starts a
 * comment), 'single-quoted' (literal), "double-quoted" (escapes \n \t \r \"
 * \\ \$, may span lines); unquoted and double-quoted values expand ${VAR}
 * templates against the variables defined so far. Returns 0, or -1 after
 * reporting each malformed line to d as FILE:LINE. */
int envfile_load(struct env_store *e, const char *path, struct diag *d);

/* ---- templates (Docker Compose interpolation rules) ---- */

struct tmpl_ctx {
	const struct env_store *env;
	bool strict;           /* an unset variable with no default is an error, not a warning */
	struct diag *diag;
	const char *file;      /* where the string was written, for messages */
	bool secret;           /* the string is (part of) a secret: messages name its
				  place and never quote its text */
	int line, col;         /* of the string's first character */
	char *origin;          /* out: "VAR from ORIGIN, ..." for the variables used (owned by caller, may be NULL on entry) */
	bool used_secret;      /* out: the result took text from a secret's variable */
};

/* Expands $VAR ${VAR} ${VAR:-d} ${VAR-d} ${VAR:?msg} ${VAR?msg} ${VAR:+r}
 * ${VAR+r} and $$, nested templates in defaults/messages/replacements;
 * values from variables are never expanded again. Returns a new string, or
 * NULL after reporting an error to c->diag (invalid template at
 * file:line:col, or a required variable missing with its message).
 *
 * A secret's variable is one named like a secret (redact_key_looks_secret),
 * one used in a secret string (c->secret), or one whose value holds a
 * registered secret. The values of the first two are registered with
 * redact_register() as they are used; a ${VAR?message} shows "***" in place
 * of any of them, so no message prints a secret. */
char *tmpl_expand(const char *in, struct tmpl_ctx *c);

/* ---- schema ---- */

enum schema_type {
	SCHEMA_ANY, SCHEMA_STRING, SCHEMA_INT, SCHEMA_NUMBER, SCHEMA_BOOL, SCHEMA_DURATION,
	SCHEMA_SIZE, SCHEMA_URL, SCHEMA_ENUM, SCHEMA_LIST, SCHEMA_MAP
};

struct schema; /* opaque: loaded from a YAML schema file (see shipshape.yaml(5)) */

struct schema *schema_load(const char *path, struct diag *d);
void schema_free(struct schema *s);
/* Marks the nodes the schema declares secret (and everything under them),
 * without checking anything: done before templates are expanded, so that
 * no message about a secret's template quotes it. */
void schema_mark_secrets(const struct schema *s, struct cfg_node *root);
/* Checks and coerces the tree in place: types ("8000" -> 8000 where an int
 * is declared), defaults, required keys, ranges, enum values, secret marks.
 * Every problem is reported to d with its key path and location; unknown
 * keys warn (errors when strict). Returns the number of errors. */
unsigned schema_apply(const struct schema *s, struct cfg_node *root, bool strict, struct diag *d);

/* ---- the whole pipeline ---- */

struct config_opts {
	const char *const *files;
	size_t nfiles;
	const char *const *env_files;
	size_t n_env_files;
	const char *schema_path; /* may be NULL */
	bool strict;
};

/* Loads, merges, expands and validates. Returns the tree, or NULL when there
 * were errors (all reported to d). */
struct cfg_node *config_load(const struct config_opts *o, struct diag *d);

/* Registers with redact_register() every secret value in the tree: each
 * string under a node the schema marks secret or a key named like a secret
 * (everything when under_secret), and the password of every URL in any
 * string. config_load() and config_document_load() do it. */
void config_register_secrets(const struct cfg_node *root, bool under_secret);

/* For every tool that takes a config: path (-c) names a YAML file (loaded
 * with config_load, no schema) or a JSON config document; NULL reads a config
 * document (JSON) from stdin. A report/event/other kind is an error. Exits
 * EXIT_DATAERR with a clear message on any problem. Registers the values of
 * secret-looking keys and the passwords of URLs with redact_register(). */
cJSON *config_document_load(const char *path);

#endif
