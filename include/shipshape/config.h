/* config.h — the config loader: YAML files with locations, deep merge,
 * Compose-style templates, .env files, a schema, and the config document.
 *
 * A tool reads its config in one way (shipshape.yaml(5), "LOADING"):
 *
 *	static const char *const sections[] = {"database", NULL};
 *	struct config_request r = {.path = a.config_path, .schema_path = a.schema,
 *				   .sections = sections, .strict = a.strict};
 *	struct config cfg;
 *	int status = config_open(&r, &cfg);  // never exits; problems on stderr
 *	if (status) { config_close(&cfg); return config_exit_status(&cfg, status); }
 *	int64_t interval_ms;
 *	config_duration_ms(&cfg, "monitoring.health_check.interval", 30000, &interval_ms);
 *	...
 *	if (config_failed(&cfg)) -> exit config_exit_status(&cfg, EXIT_DATAERR)
 *	config_close(&cfg);
 *
 * config_open() takes -c FILE (YAML, or a JSON config document when its
 * first character is '{') or a JSON document on stdin, applies the schema
 * (--schema FILE, else config/schema.yaml beside the tool:
 * config_schema_find()) with "required" enforced only for the top-level
 * sections the tool names, and reports every problem, each as
 * "prog: FILE:LINE:COL: key.path: expected a duration, got "3O s"" (JSON:
 * "prog: FILE: key.path: ..."). The config_* readers then give typed
 * values: the default only when the key is absent or null; a present
 * value of the wrong type is an error in the same shape, never a default.
 * The struct config owns its tree and its document (config_close()).
 *
 * Pipeline (config_load, which config_open and cfg-resolve use):
 * yaml_load_file() each file -> cfg_merge() later over earlier -> expand
 * templates in string values -> schema_apply_sections() (types, defaults, required,
 * ranges) -> cfg_to_json(). */
#ifndef SHIPSHAPE_CONFIG_H
#define SHIPSHAPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* ---- diagnostics: every problem in one run, each with its place ---- */

struct diag {
	unsigned errors, warnings;
	bool silent;        /* collect without printing (unit tests, a reload) */
	char first[512];    /* the first error, as printed */
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

/* One variable a template refers to, as tmpl_scan() finds it. The
 * pointers are into the scanned string. */
struct tmpl_ref {
	const char *name;
	size_t name_len;
	char op;          /* 0 ($VAR, ${VAR}), '-', '?' or '+' */
	bool colon;       /* ":-", ":?", ":+" */
	const char *word; /* the default, message or replacement as written */
	size_t word_len;
	int depth;        /* 0; 1 or more inside another template's word */
	int line, col;    /* of its "$", from c->line and c->col (0: unknown) */
};
typedef void (*tmpl_ref_fn)(const struct tmpl_ref *ref, void *arg);

/* Calls fn for every variable reference in `in`, those in the branches
 * expansion would not take too, without looking any variable up. Returns 0,
 * or -1 after reporting an invalid template to c->diag. */
int tmpl_scan(const char *in, struct tmpl_ctx *c, tmpl_ref_fn fn, void *arg);

/* ---- schema ---- */

/* The Levenshtein distance of two names (99 when either is over 64 bytes),
 * for "did you mean" hints. */
size_t edit_distance(const char *a, const char *b);

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
 * keys warn (errors when strict). Returns the number of errors.
 * "required" at the top level is enforced only for the keys in sections
 * (NULL-terminated; NULL: every key). A section that is present is
 * checked whole, its own required keys too. */
unsigned schema_apply_sections(const struct schema *s, struct cfg_node *root,
			       const char *const *sections, bool strict, struct diag *d);
/* The same with no key required anywhere: the types, ranges, enums and
 * unknown keys of what is there, defaults for what is not. For a tool that
 * reads whatever part of a config it is given (svc-probe); whether a
 * config is complete is cfg-resolve's question (its schema run and --check). */
unsigned schema_apply_present(const struct schema *s, struct cfg_node *root, bool strict, struct diag *d);

/* ---- the whole pipeline ---- */

struct config_opts {
	const char *const *files;
	size_t nfiles;
	const char *const *env_files;
	size_t n_env_files;
	const char *schema_path; /* may be NULL */
	const char *const *sections; /* see schema_apply_sections(); NULL: all */
	bool partial;                /* schema_apply_present(): nothing required */
	bool strict;
};

/* Loads, merges, expands and validates. Returns the tree, or NULL when there
 * were errors (all reported to d). */
struct cfg_node *config_load(const struct config_opts *o, struct diag *d);

/* Registers with redact_register() every secret value in the tree: each
 * string under a node the schema marks secret or a key named like a secret
 * (everything when under_secret), and the password of every URL in any
 * string. config_load() and config_open() do it. */
void config_register_secrets(const struct cfg_node *root, bool under_secret);

/* ---- the config a tool reads (config_open) and its typed values ---- */

struct config {
	struct cfg_node *tree;  /* the validated values, with where each was written */
	cJSON *doc;             /* the same as a config document (for code that takes cJSON) */
	const char *file;       /* how messages name the source: the -c path or "stdin" */
	struct diag diag;       /* every problem found loading and reading it */
};

struct config_request {
	const char *path;            /* -c FILE; NULL or "-": a JSON config document on stdin */
	const char *schema_path;     /* --schema FILE; NULL: config_schema_find() */
	const char *const *sections; /* top-level sections the tool reads (NULL-terminated) */
	bool partial;                /* no key required anywhere (schema_apply_present) */
	bool strict;                 /* unknown keys are errors, not warnings */
	bool silent;                 /* count problems without printing them (a reload) */
};

/* Where the schema is when no --schema names it: the first that exists of
 * <exe dir>/../share/shipshape/config/schema.yaml (installed),
 * <exe dir>/../config/schema.yaml, ../../config/schema.yaml and
 * ../../../config/schema.yaml (the build tree: build/TOOL, build/san/TOOL,
 * build/san/tests/TEST), <exe dir> being the directory of /proc/self/exe.
 * A new string, or NULL. */
char *config_schema_find(void);
/* The same search from a given directory. */
char *config_schema_find_beside(const char *exe_dir);

/* Loads the config of a tool. A file whose first non-blank character is
 * '{' is a JSON config document, any other file YAML (templates expanded);
 * stdin is always JSON. Both go through the schema (schema_apply_sections
 * with r->sections: only the sections the tool reads must be there), and
 * every problem is reported to c->diag as
 *   FILE:LINE:COL: key.path: expected a duration, got "3O s"
 * (a JSON document has no locations: "FILE: key.path: ..."); unknown keys
 * warn, or are errors with r->strict. A report, event or other protocol
 * document is an error. Secret values are registered for redaction.
 * Never exits. Returns 0 with c filled in, else the exit status for main():
 * EXIT_DATAERR (invalid config or schema, unreadable file), EXIT_USAGE (no
 * -c and stdin is a terminal), EXIT_UNKNOWN (no schema found); c is then
 * empty but for c->diag. config_close() in every case. */
int config_open(const struct config_request *r, struct config *c);
void config_close(struct config *c);
/* For main() after config_open() or the readers failed: in nagios mode,
 * prints the status line (the one error, or "FILE: invalid config (N
 * errors)") and returns 3; otherwise returns status. */
int config_exit_status(const struct config *c, int status);
/* For a tool that reads the cJSON document only: config_open(), then the
 * document (the caller's to cJSON_Delete), or NULL with *status the exit
 * status for main() (through config_exit_status()). */
cJSON *config_open_document(const struct config_request *r, int *status);
/* Whether any problem was an error: check after reading values. */
bool config_failed(const struct config *c);

/* The typed readers. path is a dotted path from the top ("database.url",
 * "alerts.escalation.levels[1].after"). A key that is absent or null gives
 * def; a present value gives its own value; a present value of the wrong
 * type is reported to c->diag in the loader's shape, *out is left as it
 * was, and the reader returns false (after the schema this only happens
 * under keys the schema leaves open: allow_unknown maps). Strings are
 * borrowed from the tree. Durations are read in milliseconds (a number is
 * seconds, as in a config document; a string in duration syntax), sizes in
 * bytes. config_enum's names is NULL-terminated; *out is the index. */
bool config_string(struct config *c, const char *path, const char *def, const char **out);
bool config_int(struct config *c, const char *path, int64_t def, int64_t *out);
bool config_bool(struct config *c, const char *path, bool def, bool *out);
bool config_duration_ms(struct config *c, const char *path, int64_t def, int64_t *out);
bool config_enum(struct config *c, const char *path, const char *const *names, int def, int *out);
/* The node at path, NULL when absent or null. */
const struct cfg_node *config_at(const struct config *c, const char *path);
/* The number of items of the list at path: 0 when absent; a present value
 * that is not a list is reported, and gives 0. */
size_t config_list_len(struct config *c, const char *path);
/* A problem with the value at path that only the tool can see (a range
 * that does not parse, a name used twice), reported at the value's place
 * in the same shape: "FILE:LINE:COL: path: message". */
void config_error(struct config *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
