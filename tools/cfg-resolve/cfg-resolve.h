/* cfg-resolve.h — the parts of cfg-resolve: options, rendering, policy. */
#ifndef CFG_RESOLVE_H
#define CFG_RESOLVE_H

#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/opts.h"
#include "shipshape/report.h"

enum action { ACTION_PRINT, ACTION_GET, ACTION_EXPLAIN, ACTION_CHECK, ACTION_LIST_VARS };

struct args {
	struct std_opts std;
	struct config_opts load;
	enum action action;
	const char *get_path;
	const char *output; /* -o FILE */
	const char *render_path; /* --render FILE: a Render Blueprint to check */
	bool reveal;
};

/* ---- the variables the config's templates refer to (vars.c) ---- */

struct var_use {
	char *path;       /* the key path of the value: "database.url" */
	struct cfg_loc loc; /* where its "$" is */
};

struct var_info {
	char *name;
	bool required;      /* referred to at the top level with no default */
	bool secret;        /* in a secret value, or named like a secret */
	char *default_text; /* the first ${NAME-default} as written; NULL: none */
	char *message;      /* the first ${NAME?message}; NULL: none */
	struct var_use *uses;
	size_t n_uses;
};

/* Sorted by name; owns everything in it (vars_free). */
struct var_list {
	struct var_info *v;
	size_t n, cap;
};

/* Every ${...} reference in the merged tree of o's files, before anything is
 * expanded (no variable need be set), secrets marked by o's schema and by
 * key names. Returns 0, or EXIT_DATAERR after reporting to d. */
int vars_collect(const struct config_opts *o, struct var_list *vl, struct diag *d);
const struct var_info *vars_find(const struct var_list *vl, const char *name);
void vars_free(struct var_list *vl);
/* --list-vars in fmt (json: one object a line; text; env: an example
 * .env file) appended to out. */
void vars_render(const struct var_list *vl, const struct args *a, enum output_format fmt, struct buf *out);
/* The check env.unused: each variable an env file sets that no template
 * refers to, with the closest name that one does. */
void env_files_check(struct report *r, const struct var_list *vl, const char *const *files, size_t n);

/* ---- the Render Blueprint (blueprint.c) ---- */

/* Adds the render.* checks of the Blueprint bp (a loaded render.yaml)
 * against the config document doc to r. */
void blueprint_check(struct report *r, const struct cfg_node *bp, const cJSON *doc, const struct var_list *vl);

/* What --check looks at besides the config itself. */
struct check_inputs {
	const struct var_list *vars;
	const struct cfg_node *blueprint; /* NULL: no --render */
	const char *const *env_files;
	size_t n_env_files;
};

/* Renders the tree for the action and format into out. Secrets are masked
 * when redact is set. Returns EXIT_OK, or EXIT_DATAERR (no such key). */
int render(const struct cfg_node *root, const struct args *a, enum output_format fmt, bool redact,
	   struct buf *out);
/* True when a node holds a secret: schema-marked or named like one. */
bool node_is_secret(const struct cfg_node *n);
/* Calls fn for every leaf (a scalar, or an empty map or list) with its
 * dotted path ("a.list[0].b"). */
typedef void (*leaf_fn)(const char *path, const struct cfg_node *n, void *ctx);
void walk_leaves(const struct cfg_node *root, leaf_fn fn, void *ctx);
/* The production policy as a report in fmt (json, text or nagios), appended
 * to out; returns its status. */
int policy_check(const struct cfg_node *root, const struct check_inputs *in, enum output_format fmt,
		 struct buf *out);

#endif
