/* cfg-resolve.h — the parts of cfg-resolve: options, rendering, policy. */
#ifndef CFG_RESOLVE_H
#define CFG_RESOLVE_H

#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/opts.h"

enum action { ACTION_PRINT, ACTION_GET, ACTION_EXPLAIN, ACTION_CHECK };

struct args {
	struct std_opts std;
	struct config_opts load;
	enum action action;
	const char *get_path;
	const char *output; /* -o FILE */
	bool reveal;
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
int policy_check(const struct cfg_node *root, enum output_format fmt, struct buf *out);

#endif
