/* silence.c — silences: label matchers that mute the alerts they match
 * between a start and an end. Each is one file, STATE/alert-send/silences/
 * ID.json (0600, written atomically), in Alertmanager's API v2 shape:
 * {"id","matchers":[{name,value,isRegex,isEqual}],"startsAt","endsAt",
 *  "createdBy","comment","createdAt"}; expiring one rewrites its endsAt.
 * A running alert-send re-reads the directory when it changes (looked at
 * once a second, as acks are). */
#include "alert-send.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#define SILENCE_FILE_MAX (64u << 10)
#define SILENCES_MAX 100000

void silence_free(struct silence *s)
{
	matchers_free(&s->matchers);
	free(s->id);
	free(s->created_by);
	free(s->comment);
	free(s->am_id);
	memset(s, 0, sizeof *s);
}

void silences_free(struct silences *set)
{
	for (size_t i = 0; i < set->n; i++)
		silence_free(&set->v[i]);
	free(set->v);
	free(set->keyed);
	free(set->unkeyed);
	memset(set, 0, sizeof *set);
}

static bool id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > 64)
		return false;
	for (const char *p = id; *p; p++)
		if (!(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int64_t time_field(const cJSON *j, const char *name)
{
	int64_t ms;
	const char *s = json_path_string(j, name, NULL);
	return s && rfc3339_parse(s, &ms) == 0 ? ms : INT64_MIN;
}

int silence_from_json(struct silence *s, const cJSON *j, char *err, size_t errsize)
{
	memset(s, 0, sizeof *s);
	const char *id = json_path_string(j, "id", NULL);
	if (!id || !id_valid(id))
		return errf(err, errsize, "id: expected lower-case hex digits and dashes");
	if (matchers_from_json(&s->matchers, cJSON_GetObjectItemCaseSensitive(j, "matchers"), err, errsize) < 0)
		return -1;
	s->starts_at = time_field(j, "startsAt");
	s->ends_at = time_field(j, "endsAt");
	s->created_at = time_field(j, "createdAt");
	if (s->starts_at == INT64_MIN || s->ends_at == INT64_MIN) {
		matchers_free(&s->matchers);
		return errf(err, errsize, "%s: expected an RFC 3339 time",
			    s->starts_at == INT64_MIN ? "startsAt" : "endsAt");
	}
	s->id = estrdup(id);
	s->created_by = estrdup(json_path_string(j, "createdBy", ""));
	s->comment = estrdup(json_path_string(j, "comment", ""));
	const char *am = json_path_string(j, "alertmanager_id", NULL);
	s->am_id = am ? estrdup(am) : NULL;
	return 0;
}

cJSON *silence_to_json(const struct silence *s)
{
	char t[RFC3339_LEN];
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", s->id);
	cJSON_AddItemToObject(j, "matchers", matchers_to_json(&s->matchers));
	cJSON_AddStringToObject(j, "startsAt", rfc3339_format(s->starts_at, t));
	cJSON_AddStringToObject(j, "endsAt", rfc3339_format(s->ends_at, t));
	cJSON_AddStringToObject(j, "createdBy", s->created_by);
	cJSON_AddStringToObject(j, "comment", s->comment);
	if (s->created_at != INT64_MIN)
		cJSON_AddStringToObject(j, "createdAt", rfc3339_format(s->created_at, t));
	if (s->am_id)
		cJSON_AddStringToObject(j, "alertmanager_id", s->am_id);
	return j;
}

/* One file into set; a damaged one is said (once per change of the
 * directory) and skipped: the others still hold. */
static void load_one(struct silences *set, const char *dir, const char *name)
{
	char *path = easprintf("%s/%s", dir, name), *text = NULL, err[160];
	size_t len = 0;
	cJSON *doc = NULL;
	struct silence s;
	if (read_file(path, SILENCE_FILE_MAX, &text, &len) < 0) {
		if (errno != ENOENT)
			warnx_("%s: %s: the silence is not applied", path, strerror(errno));
	} else if (!(doc = json_parse_text(text, len, err, sizeof err)) || silence_from_json(&s, doc, err, sizeof err) < 0) {
		warnx_("%s: %s: the silence is not applied", path, err);
	} else if (set->n >= SILENCES_MAX) {
		warnx_("%s: more than %d silences: the silence is not applied", path, SILENCES_MAX);
		silence_free(&s);
	} else {
		set->v = erealloc(set->v, (set->n + 1) * sizeof *set->v);
		set->v[set->n++] = s;
	}
	cJSON_Delete(doc);
	free(text);
	free(path);
}

static uint64_t label_key(const char *name, const char *value)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ '=') * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static int compare_keyed(const void *x, const void *y)
{
	const struct silence_key *a = x, *b = y;
	return a->key < b->key ? -1 : a->key > b->key;
}

/* So that an alert is tested only against the silences that may match it:
 * those with an equality matcher on one of its label values, and those
 * without one. */
static void index_silences(struct silences *set)
{
	set->keyed = set->n ? emalloc(set->n * sizeof *set->keyed) : NULL;
	set->unkeyed = set->n ? emalloc(set->n * sizeof *set->unkeyed) : NULL;
	for (size_t i = 0; i < set->n; i++) {
		const struct matchers *ms = &set->v[i].matchers;
		size_t k = 0;
		while (k < ms->n && !(ms->m[k].op == MATCH_EQ && *ms->m[k].value))
			k++;
		if (k < ms->n)
			set->keyed[set->n_keyed++] = (struct silence_key){label_key(ms->m[k].name, ms->m[k].value), i};
		else
			set->unkeyed[set->n_unkeyed++] = i;
	}
	if (set->n_keyed)
		qsort(set->keyed, set->n_keyed, sizeof *set->keyed, compare_keyed);
}

bool silences_load(struct silences *set, const char *state_dir)
{
	if (!state_dir)
		return false;
	char *dir = easprintf("%s/silences", state_dir);
	struct stat st;
	int64_t mtime = stat(dir, &st) == 0 ? (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec : 0;
	bool changed = mtime != set->mtime_ns || (mtime == 0 && set->n);
	DIR *d = changed && mtime ? opendir(dir) : NULL;
	if (changed) {
		unsigned gen = set->gen;
		silences_free(set);
		set->mtime_ns = mtime;
		set->gen = gen + 1;
	}
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t n = strlen(de->d_name);
			if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0 && de->d_name[0] != '.')
				load_one(set, dir, de->d_name);
		}
		closedir(d);
	}
	if (changed)
		index_silences(set);
	free(dir);
	return changed;
}

/* Whether s mutes labels now: the longest of those muting decides when
 * the alert is heard again. */
static void consider(const struct silence *s, const cJSON *labels, int64_t now, int64_t *next,
		     const struct silence **found)
{
	if (s->ends_at <= now || !matchers_match(&s->matchers, labels))
		return;
	if (s->starts_at > now) {
		if (s->starts_at < *next)
			*next = s->starts_at;
	} else if (!*found || s->ends_at > (*found)->ends_at) {
		*found = s;
	}
}

const struct silence *silences_muting(const struct silences *set, const cJSON *labels, int64_t now,
				      int64_t *next)
{
	const struct silence *found = NULL;
	for (size_t i = 0; i < set->n_unkeyed; i++)
		consider(&set->v[set->unkeyed[i]], labels, now, next, &found);
	const cJSON *l;
	cJSON_ArrayForEach(l, labels)
	{
		if (!cJSON_IsString(l) || !l->string)
			continue;
		uint64_t key = label_key(l->string, l->valuestring);
		size_t lo = 0, hi = set->n_keyed;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (set->keyed[mid].key < key)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < set->n_keyed && set->keyed[lo].key == key; lo++)
			consider(&set->v[set->keyed[lo].i], labels, now, next, &found);
	}
	if (found && found->ends_at < *next)
		*next = found->ends_at;
	return found;
}

const char *silence_state(const struct silence *s, int64_t now)
{
	return s->ends_at <= now ? "expired" : s->starts_at > now ? "pending" : "active";
}

char *silence_new_id(void)
{
	unsigned char r[16];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return NULL;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* a version 4 UUID */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	return easprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
			 r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

int silence_write(const char *state_dir, const struct silence *s)
{
	char *dir = easprintf("%s/silences", state_dir), *path = easprintf("%s/%s.json", dir, s->id);
	cJSON *j = silence_to_json(s);
	char *text = cJSON_PrintUnformatted(j);
	int rc = mkdir_p(dir, 0700) < 0 || atomic_write_file(path, text, strlen(text), 0600) < 0 ? -1 : 0;
	if (rc < 0)
		error_msg("unable to write %s: %s", path, strerror(errno));
	cJSON_Delete(j);
	free(text);
	free(path);
	free(dir);
	return rc;
}

struct silence *silences_find(struct silences *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].id, id) == 0)
			return &set->v[i];
	return NULL;
}
