/* snapshot.c — the redacted config snapshot a deploy's journal keeps, its
 * key, and the difference between two snapshots (see snapshot.h). */
#include "shipshape/snapshot.h"
#include "shipshape/common.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define KEY_HEX (2 * SNAPSHOT_KEY_LEN)

static int hex_value(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The key file's text: 64 lower-case hex digits and a newline. */
static int key_parse(const char *text, size_t len, struct snapshot_key *key)
{
	if (len != KEY_HEX + 1 || text[KEY_HEX] != '\n')
		return -1;
	for (size_t i = 0; i < SNAPSHOT_KEY_LEN; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key->k[i] = (unsigned char)(hi << 4 | lo);
	}
	char hex[SHA256_HEX_LEN];
	sha256_hex(key->k, SNAPSHOT_KEY_LEN, hex);
	memcpy(key->id, hex, 16);
	key->id[16] = '\0';
	return 0;
}

static int key_read(const char *path, struct snapshot_key *key, char **error)
{
	int fd = state_file_open(path, O_RDONLY, 0);
	if (fd < 0)
		return -1; /* errno: ENOENT is the caller's to handle */
	char text[KEY_HEX + 2];
	ssize_t n = read(fd, text, sizeof text);
	close(fd);
	if (n < 0 || key_parse(text, (size_t)n, key) < 0) {
		*error = easprintf("%s: not a snapshot key (64 hex digits); remove it to make a new one "
				   "(secrets then compare as not comparable)",
				   path);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* A new key, written whole to a temporary file, then linked into place:
 * link(2) fails when another process made the key first, and theirs wins. */
static int key_create(const char *dir, const char *path, char **error)
{
	unsigned char k[SNAPSHOT_KEY_LEN];
	if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k) {
		*error = easprintf("unable to make a snapshot key: getrandom: %s", strerror(errno));
		return -1;
	}
	char text[KEY_HEX + 1];
	for (size_t i = 0; i < SNAPSHOT_KEY_LEN; i++)
		snprintf(text + 2 * i, 3, "%02x", k[i]);
	text[KEY_HEX] = '\n';
	explicit_bzero(k, sizeof k);
	char *tmp = easprintf("%s/.snapshot.key.%ld", dir, (long)getpid());
	unlink(tmp);
	int fd = state_file_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	int rc = -1;
	if (fd >= 0 && write(fd, text, sizeof text) == (ssize_t)sizeof text && fsync(fd) == 0 &&
	    (link(tmp, path) == 0 || errno == EEXIST))
		rc = 0;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	if (rc == 0)
		fsync_dir(dir);
	else
		*error = easprintf("unable to write the snapshot key %s: %s", path, strerror(saved));
	explicit_bzero(text, sizeof text);
	free(tmp);
	return rc;
}

int snapshot_key_load(const struct journal *j, struct snapshot_key *key, char **error)
{
	char *path = easprintf("%s/snapshot.key", j->dir);
	*error = NULL;
	int rc = key_read(path, key, error);
	if (rc < 0 && errno == ENOENT && key_create(j->dir, path, error) == 0)
		rc = key_read(path, key, error);
	if (rc < 0 && !*error)
		*error = easprintf("unable to read the snapshot key %s: %s", path, strerror(errno));
	free(path);
	return rc;
}

int snapshot_key_read(const struct journal *j, struct snapshot_key *key, char **error)
{
	char *path = easprintf("%s/snapshot.key", j->dir);
	*error = NULL;
	int rc = key_read(path, key, error);
	if (rc < 0 && !*error)
		*error = errno == ENOENT ? easprintf("no snapshot key yet (%s)", path)
					 : easprintf("unable to read the snapshot key %s: %s", path, strerror(errno));
	free(path);
	return rc;
}

/* ---- the snapshot ---- */

static bool node_secret(const struct cfg_node *n, bool under_secret)
{
	return under_secret || n->secret || n->from_secret || (n->key && redact_key_looks_secret(n->key)) ||
	       (n->type == CFG_STRING && n->str && redact_contains_secret(n->str));
}

static cJSON *leaf_value(const struct cfg_node *n)
{
	switch (n->type) {
	case CFG_BOOL: return cJSON_CreateBool(n->b);
	case CFG_INT: return cJSON_CreateNumber((double)n->i);
	case CFG_NUMBER: return cJSON_CreateNumber(n->d);
	case CFG_STRING: return cJSON_CreateString(n->str ? n->str : "");
	case CFG_MAP: return cJSON_CreateObject();
	case CFG_LIST: return cJSON_CreateArray();
	default: return cJSON_CreateNull();
	}
}

static cJSON *secret_value(const struct cfg_node *n, const struct snapshot_key *key)
{
	cJSON *v = leaf_value(n);
	char *text = cJSON_PrintUnformatted(v); /* the value's type takes part */
	char hex[SHA256_HEX_LEN], tagged[SHA256_HEX_LEN + 16];
	hmac_sha256_hex(key->k, SNAPSHOT_KEY_LEN, text, strlen(text), hex);
	snprintf(tagged, sizeof tagged, "hmac-sha256:%s", hex);
	explicit_bzero(text, strlen(text));
	free(text);
	cJSON_Delete(v);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "secret", tagged);
	return o;
}

static void path_push(struct buf *path, const struct cfg_node *parent, const struct cfg_node *n, size_t index)
{
	if (parent->type == CFG_LIST) {
		buf_printf(path, "[%zu]", index);
	} else if (strpbrk(n->key, ".[]\"")) {
		cJSON *s = cJSON_CreateString(n->key);
		char *quoted = cJSON_PrintUnformatted(s);
		buf_printf(path, "[%s]", quoted);
		free(quoted);
		cJSON_Delete(s);
	} else {
		buf_printf(path, "%s%s", path->len ? "." : "", n->key);
	}
}

static void flatten(const struct cfg_node *n, struct buf *path, bool under_secret, const struct snapshot_key *key,
		    cJSON *out)
{
	bool secret = node_secret(n, under_secret);
	if ((n->type == CFG_MAP || n->type == CFG_LIST) && n->child) {
		size_t index = 0;
		for (const struct cfg_node *c = n->child; c; c = c->next, index++) {
			size_t mark = path->len;
			path_push(path, n, c, index);
			flatten(c, path, secret, key, out);
			path->len = mark;
			path->data[mark] = '\0';
		}
		return;
	}
	cJSON_AddItemToObject(out, path->data ? path->data : "", secret ? secret_value(n, key) : leaf_value(n));
}

cJSON *snapshot_build(const struct cfg_node *root, const struct snapshot_key *key)
{
	cJSON *out = cJSON_CreateObject();
	struct buf path = {0};
	buf_puts(&path, "");
	for (const struct cfg_node *c = root ? root->child : NULL; c; c = c->next) {
		path.len = 0;
		path.data[0] = '\0';
		path_push(&path, root, c, 0);
		flatten(c, &path, false, key, out);
	}
	buf_free(&path);
	return out;
}

/* ---- the difference ---- */

static bool is_secret(const cJSON *v)
{
	return cJSON_IsObject(v) && cJSON_GetObjectItemCaseSensitive(v, "secret") && cJSON_GetArraySize(v) == 1;
}

static void add_entry(cJSON *list, const char *key, const char *k1, const cJSON *v1, const char *k2,
		      const cJSON *v2)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "key", key);
	bool secret = is_secret(v1) || (v2 && is_secret(v2));
	if (secret)
		cJSON_AddBoolToObject(e, "secret", true);
	else {
		cJSON_AddItemToObject(e, k1, cJSON_Duplicate(v1, true));
		if (v2)
			cJSON_AddItemToObject(e, k2, cJSON_Duplicate(v2, true));
	}
	cJSON_AddItemToArray(list, e);
}

static void diff_present(cJSON *d, const cJSON *before, const cJSON *after, bool comparable)
{
	cJSON *added = cJSON_GetObjectItem(d, "added"), *changed = cJSON_GetObjectItem(d, "changed");
	cJSON *secrets = cJSON_GetObjectItem(d, "secrets_changed");
	int unchanged = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, after)
	{
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(before, a->string);
		if (!b)
			add_entry(added, a->string, "value", a, NULL, NULL);
		else if (is_secret(a) && is_secret(b)) {
			if (!comparable)
				continue;
			if (cJSON_Compare(a, b, true))
				unchanged++;
			else
				cJSON_AddItemToArray(secrets, cJSON_CreateString(a->string));
		} else if (is_secret(a) != is_secret(b))
			cJSON_AddItemToArray(secrets, cJSON_CreateString(a->string));
		else if (!cJSON_Compare(a, b, true))
			add_entry(changed, a->string, "from", b, "to", a);
	}
	cJSON_AddNumberToObject(d, "secrets_unchanged", unchanged);
}

cJSON *snapshot_diff(const cJSON *before, const char *before_key_id, const cJSON *after,
		     const char *after_key_id)
{
	bool comparable = before_key_id && after_key_id && strcmp(before_key_id, after_key_id) == 0;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddArrayToObject(d, "added");
	cJSON *removed = cJSON_AddArrayToObject(d, "removed");
	cJSON_AddArrayToObject(d, "changed");
	cJSON_AddArrayToObject(d, "secrets_changed");
	diff_present(d, before, after, comparable);
	const cJSON *b;
	cJSON_ArrayForEach(b, before)
	{
		if (!cJSON_GetObjectItemCaseSensitive(after, b->string))
			add_entry(removed, b->string, "value", b, NULL, NULL);
	}
	cJSON_AddBoolToObject(d, "comparable", comparable);
	return d;
}

cJSON *snapshot_record(const struct journal *j, const struct cfg_node *tree, char **error)
{
	struct snapshot_key key;
	if (snapshot_key_load(j, &key, error) < 0)
		return NULL;
	cJSON *snap = snapshot_build(tree, &key);
	cJSON *rec = journal_record_config(snap, key.id);
	cJSON_Delete(snap);
	explicit_bzero(&key, sizeof key);
	return rec;
}
