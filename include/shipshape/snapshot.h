/* snapshot.h — a redacted snapshot of the config a deploy ran with, kept in
 * its journal (a "config" record), and the key-by-key difference between
 * two, for deploy-stage plan.
 *
 * A snapshot is a flat JSON object: every scalar of the config (and every
 * empty map or list) by its key path ("database.pool.max",
 * "alerts.channels[1].type"; a key holding '.', '[' or '"' is written
 * ["key"]). A secret's value is never kept, not even as a plain hash (a
 * guessable secret would fall to a dictionary): it is kept as
 * {"secret":"hmac-sha256:HEX"}, keyed by a random key that stays in the
 * service's state directory (snapshot.key, 0600), so two snapshots made
 * with the same key say whether a secret changed and nothing else. A
 * secret is a value the schema marks secret (or one under it), one under a
 * key named like a secret, one whose text came from a secret's variable,
 * or one holding a registered secret (a URL with a password). */
#ifndef SHIPSHAPE_SNAPSHOT_H
#define SHIPSHAPE_SNAPSHOT_H

#include <cjson/cJSON.h>
#include "shipshape/config.h"
#include "shipshape/journal.h"

#define SNAPSHOT_KEY_LEN 32
#define SNAPSHOT_MAX (1u << 20) /* a larger snapshot is kept as {"truncated":true} */

struct snapshot_key {
	unsigned char k[SNAPSHOT_KEY_LEN];
	char id[17]; /* the first 16 hex digits of SHA-256(k): which key, not the key */
};

/* Reads the service's snapshot key (JOURNAL_DIR/snapshot.key), creating it
 * when there is none: random bytes (getrandom(2)), written 0600 to a
 * temporary file and linked into place, so a crash or a concurrent
 * creator never leaves a partial key, never through a symbolic link.
 * Returns 0, or -1 with *error (a new string, one line naming the file). */
int snapshot_key_load(const struct journal *j, struct snapshot_key *key, char **error);
/* The same, never creating it: a missing key is an error ("no snapshot key
 * yet"). */
int snapshot_key_read(const struct journal *j, struct snapshot_key *key, char **error);

/* The journal's config record of tree (journal_record_config() of its
 * snapshot under the service's key, made when missing), or NULL with
 * *error (a new string) when the key cannot be had: a deploy goes on
 * without a snapshot, with a warning. */
cJSON *snapshot_record(const struct journal *j, const struct cfg_node *tree, char **error);

/* The snapshot of root (a new object; see above). */
cJSON *snapshot_build(const struct cfg_node *root, const struct snapshot_key *key);

/* The difference from before to after (snapshots' "values"), a new object:
 * {"added":[{"key","value"}],"removed":[{"key","value"}],
 *  "changed":[{"key","from","to"}], "secrets_changed":[KEY...],
 *  "secrets_unchanged":N, "comparable":bool}. A secret is listed by its key
 * only, as added, removed or in secrets_changed; with snapshots made under
 * different keys (before_key_id != after_key_id) secrets cannot be
 * compared: comparable false, and none is said to have changed. */
cJSON *snapshot_diff(const cJSON *before, const char *before_key_id, const cJSON *after,
		     const char *after_key_id);

#endif
