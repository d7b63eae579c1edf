/* journal.c — the append-only, fsync'd deploy journal (see journal.h). */
#include "shipshape/journal.h"
#include "shipshape/common.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/sha256.h"
#include "shipshape/state.h"
#include "shipshape/units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const journal_stages[] = {"pre-deploy", "infrastructure", "application", "post-deploy",
				      "bake", "readiness", NULL};

bool journal_stage_valid(const char *stage)
{
	for (size_t i = 0; journal_stages[i]; i++)
		if (strcmp(stage, journal_stages[i]) == 0)
			return true;
	return false;
}

/* The code point at s (len > 0 bytes left) and its length in *n, or -1 for
 * a byte that starts no valid UTF-8 sequence (*n = 1): overlong forms,
 * surrogates and values past U+10FFFF are invalid. */
static long utf8_decode(const unsigned char *s, size_t len, size_t *n)
{
	*n = 1;
	if (s[0] < 0x80)
		return s[0];
	size_t need;
	long cp;
	unsigned char lo = 0x80, hi = 0xbf;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2, cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3, cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return -1;
	if (len < need + 1 || s[1] < lo || s[1] > hi)
		return -1;
	for (size_t i = 1; i <= need; i++) {
		if (i > 1 && (s[i] < 0x80 || s[i] > 0xbf))
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	*n = need + 1;
	return cp;
}

/* Control characters (C0, DEL, C1) and the bidirectional formatting
 * characters, which reorder what a terminal shows (U+202E). */
static bool char_unsafe(long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Spaces and invisible characters beyond ASCII: a release name shows
 * what it is. */
static bool char_blank(long cp)
{
	return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200d) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202f || (cp >= 0x205f && cp <= 0x2064) || cp == 0x3000 || cp == 0xfeff;
}

/* A walk over the characters of a string: each step decodes the next one
 * (utf8_decode()), so every function that looks at characters reads them
 * the same way: for (w = utf8_walk(s); utf8_next(&w, &cp);) ... w.at, w.n */
struct utf8_walk {
	const unsigned char *at; /* the character's first byte */
	size_t n;                /* its length in bytes (1 for an invalid byte) */
	size_t left;             /* bytes from at to the end */
};

static struct utf8_walk utf8_walk(const char *s)
{
	return (struct utf8_walk){.at = (const unsigned char *)s, .left = strlen(s)};
}

/* Steps to the next character: false at the end, else true with *cp its
 * code point, or -1 for a byte that starts no valid sequence. */
static bool utf8_next(struct utf8_walk *w, long *cp)
{
	w->at += w->n;
	w->left -= w->n;
	if (!w->left)
		return false;
	*cp = utf8_decode(w->at, w->left, &w->n);
	return true;
}

bool journal_release_name_valid(const char *r)
{
	if (!r || !*r || *r == '.' || strlen(r) > JOURNAL_RELEASE_MAX)
		return false;
	long cp;
	for (struct utf8_walk w = utf8_walk(r); utf8_next(&w, &cp);)
		if (cp < 0 || cp == '/' || cp == ' ' || char_unsafe(cp) || char_blank(cp))
			return false;
	return true;
}

char *journal_text_clean(const char *s, bool one_line)
{
	struct buf b = {0};
	long cp;
	for (struct utf8_walk w = utf8_walk(s); utf8_next(&w, &cp);) {
		if (one_line && (cp == '\n' || cp == '\t' || cp == '\r'))
			buf_putc(&b, ' ');
		else if (cp < 0 || (char_unsafe(cp) && cp != '\n' && cp != '\t'))
			buf_puts(&b, "\xef\xbf\xbd"); /* U+FFFD */
		else
			buf_append(&b, w.at, w.n);
	}
	return buf_take(&b);
}

char *journal_text_quote(const char *s)
{
	struct buf b = {0};
	long cp;
	for (struct utf8_walk w = utf8_walk(s); utf8_next(&w, &cp);) {
		if (cp < 0 || char_unsafe(cp) || char_blank(cp) || cp == '\\') {
			for (size_t i = 0; i < w.n; i++)
				buf_printf(&b, "\\x%02x", w.at[i]);
		} else {
			buf_append(&b, w.at, w.n);
		}
	}
	return buf_take(&b);
}

/* Every string (and member name) of a record cleaned in place. */
static void clean_strings(cJSON *item)
{
	for (; item; item = item->next) {
		if (item->string && !(item->type & cJSON_StringIsConst)) {
			char *c = journal_text_clean(item->string, true);
			if (strcmp(c, item->string) != 0) {
				/* cJSON allocates with malloc(): the suite installs no
				 * hooks, so its free() takes an estrdup()'d key */
				cJSON_free(item->string);
				item->string = estrdup(c);
			}
			free(c);
		}
		if (cJSON_IsString(item) && item->valuestring) {
			char *c = journal_text_clean(item->valuestring, false);
			if (strcmp(c, item->valuestring) != 0)
				cJSON_SetValuestring(item, c);
			free(c);
		}
		if (item->child)
			clean_strings(item->child);
	}
}

static bool service_name_valid(const char *s)
{
	if (!s || !*s || *s == '.' || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* The state database of src, or NULL for the file backend; -1 in *failed
 * with errno and *error when it cannot be used. dir: the service's journal
 * directory, where a lock keeper of this machine listens. */
static struct state_pg *open_backend(const struct journal_source *src, const char *dir, char **error, int *failed)
{
	const char *backend = json_path_string(src->config, "state.backend", "file");
	const char *url = src->cli_state_url ? src->cli_state_url : json_path_string(src->config, "state.url", NULL);
	*failed = 0;
	if (src->files_only || (!src->cli_state_url && strcmp(backend, "postgres") != 0))
		return NULL;
	if (!url || !*url) {
		*error = estrdup("state.backend is postgres, but state.url is not set (or give --state-url-env NAME)");
		*failed = -1;
		errno = EINVAL;
		return NULL;
	}
	char *channel = easprintf("%s/keeper.sock", dir);
	struct state_pg *pg = state_pg_open(url, json_path_string(src->config, "state.schema", "shipshape"), true,
					    channel, error);
	free(channel);
	if (!pg)
		*failed = -1;
	return pg;
}

int journal_open_service(struct journal *j, const struct journal_source *src, const char *service, char **error)
{
	memset(j, 0, sizeof *j);
	*error = NULL;
	char *dir = state_dir_resolve(src->cli_state_dir, json_path_string(src->config, "state_dir", NULL), error);
	if (!dir)
		return -1;
	int rc = journal_open(j, dir, service);
	int saved = errno;
	if (rc < 0 && saved == EINVAL)
		*error = easprintf("invalid service name \"%s\" (letters, digits, '.', '_', '-')", service);
	else if (rc < 0)
		*error = easprintf("unable to create the journal directory %s/deploy/%s: %s", dir, service,
				   strerror(saved));
	free(dir);
	if (rc == 0) {
		j->pg = open_backend(src, j->dir, error, &rc);
		saved = errno;
		if (rc < 0)
			journal_close(j);
	}
	errno = saved;
	return rc;
}

int journal_open(struct journal *j, const char *state_dir, const char *service)
{
	memset(j, 0, sizeof *j);
	if (!service_name_valid(service)) {
		errno = EINVAL;
		return -1;
	}
	j->dir = easprintf("%s/deploy/%s", state_dir, service);
	if (mkdir_p(j->dir, 0700) < 0) {
		int saved = errno;
		free(j->dir);
		j->dir = NULL;
		errno = saved;
		return -1;
	}
	j->service = estrdup(service);
	return 0;
}

void journal_close(struct journal *j)
{
	state_pg_close(j->pg);
	free(j->dir);
	free(j->service);
	memset(j, 0, sizeof *j);
}

/* NNNNNN.jsonl -> NNNNNN, else 0. */
static long file_id(const char *name)
{
	char *end;
	if (name[0] < '0' || name[0] > '9')
		return 0;
	long id = strtol(name, &end, 10);
	return strcmp(end, ".jsonl") == 0 && id > 0 ? id : 0;
}

static int compare_deployments(const void *a, const void *b)
{
	long x = ((const struct deployment *)a)->id, y = ((const struct deployment *)b)->id;
	return (x > y) - (x < y);
}

static void derive(struct deployment *d)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, d->records)
	{
		const char *type = json_path_string(r, "type", "");
		if (strcmp(type, "begin") == 0 && !d->begin) {
			d->begin = r;
			d->release = json_path_string(r, "release", NULL);
			d->previous = json_path_string(r, "previous", NULL);
			d->action = json_path_string(r, "action", "deploy");
		} else if (strcmp(type, "apply") == 0 &&
			   strcmp(json_path_string(r, "phase", ""), "end") == 0 &&
			   strcmp(json_path_string(r, "status", ""), "ok") == 0) {
			d->applied = true;
		} else if (strcmp(type, "finish") == 0) {
			d->finish = r;
			d->result = json_path_string(r, "result", "failed");
		}
	}
}

/* Opens a journal file: never through a symbolic link (ELOOP), never
 * anything but a regular file (EOPNOTSUPP): state_file_open(). */
static int journal_file_open(const char *path, int flags)
{
	return state_file_open(path, flags, 0600);
}

const char *journal_strerror(int err)
{
	if (err == ELOOP)
		return "a symbolic link (refused)";
	if (err == EOPNOTSUPP)
		return "not a regular file (refused)";
	return strerror(err);
}

/* One line of a deployment file: a record, or damage counted. */
static void take_line(struct deployment *d, const char *text, size_t n, bool overlong, bool last, size_t *kept)
{
	if (overlong) {
		d->bad_lines++;
		return;
	}
	cJSON *doc = n ? cJSON_ParseWithLength(text, n) : NULL;
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		if (last)
			d->truncated = true;
		else if (n)
			d->bad_lines++;
		return;
	}
	/* a file over the limit (an older version's): its reports are what
	 * made it so, and what a deploy's end does not need */
	if (*kept + n > JOURNAL_FILE_MAX && strcmp(json_path_string(doc, "type", ""), "report") == 0) {
		cJSON_Delete(doc);
		d->skipped++;
		return;
	}
	*kept += n;
	clean_strings(doc->child); /* a file written by hand, or before the rule */
	cJSON_AddItemToArray(d->records, doc);
}

/* Reads a deployment file line by line (no line longer than
 * JOURNAL_LINE_MAX is taken). */
static int load_one(struct deployment *d)
{
	int fd = journal_file_open(d->path, O_RDONLY);
	if (fd < 0)
		return -1;
	d->records = cJSON_CreateArray();
	struct buf line = {0};
	bool overlong = false;
	size_t kept = 0;
	static char chunk[1 << 16];
	int rc = -1;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		d->bytes += (size_t)n;
		const char *p = chunk, *end = chunk + n;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = (size_t)((nl ? nl : end) - p);
			if (!overlong && line.len + take > JOURNAL_LINE_MAX) {
				overlong = true;
				line.len = 0;
			}
			if (!overlong && take)
				buf_append(&line, p, take);
			if (!nl)
				break;
			take_line(d, line.data ? line.data : "", line.len, overlong, false, &kept);
			line.len = 0;
			overlong = false;
			p = nl + 1;
		}
	}
	if (line.len || overlong)
		take_line(d, line.data, line.len, overlong, true, &kept);
	derive(d);
	rc = 0;
out:
	buf_free(&line);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* A file with no readable record at all (empty, or only a line cut short
 * by a crash at the first write): its number may be taken again. */
static bool deployment_blank(const struct deployment *d)
{
	return cJSON_GetArraySize(d->records) == 0 && d->bad_lines == 0;
}

static void deployment_free(struct deployment *d)
{
	free(d->path);
	cJSON_Delete(d->records);
	memset(d, 0, sizeof *d);
}

/* d, the deploy at or after view->v[*kept], moved down to it when it has
 * a begin record; else freed, and counted as headerless unless blank (an
 * empty file is not a deploy, nor a damaged one). */
static void keep_deploy(struct journal_view *view, struct deployment *d, bool blank, size_t *kept)
{
	if (!d->begin) {
		if (!blank) {
			view->headerless++;
			free(view->headerless_path);
			view->headerless_path = estrdup(d->path);
		}
		deployment_free(d);
		return;
	}
	if (&view->v[*kept] != d) {
		view->v[*kept] = *d;
		memset(d, 0, sizeof *d);
	}
	(*kept)++;
}

static int load(const struct journal *j, struct journal_view *view, char **failed)
{
	memset(view, 0, sizeof *view);
	*failed = NULL;
	DIR *dir = opendir(j->dir);
	if (!dir) {
		*failed = estrdup(j->dir);
		return -1;
	}
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		long id = file_id(e->d_name);
		if (!id)
			continue;
		if (view->n == cap) {
			cap = cap ? cap * 2 : 16;
			view->v = erealloc(view->v, cap * sizeof *view->v);
		}
		struct deployment *d = &view->v[view->n];
		memset(d, 0, sizeof *d);
		d->id = id;
		d->path = easprintf("%s/%s", j->dir, e->d_name);
		view->n++;
	}
	closedir(dir);
	if (view->n)
		qsort(view->v, view->n, sizeof *view->v, compare_deployments);
	size_t kept = 0;
	view->next_id = 1;
	for (size_t i = 0; i < view->n; i++) {
		struct deployment *d = &view->v[i];
		if (load_one(d) < 0) {
			int saved = errno;
			*failed = estrdup(d->path);
			journal_view_free(view);
			errno = saved;
			return -1;
		}
		bool blank = deployment_blank(d);
		if (!blank || d->id >= view->next_id)
			view->next_id = blank ? d->id : d->id + 1;
		keep_deploy(view, d, blank, &kept);
	}
	view->n = kept;
	return 0;
}

/* One row of the state database's journal into the view being built:
 * rows come ordered by deploy, then seq. */
static void take_row(void *ctx, long deploy, const char *json, size_t len)
{
	struct journal_view *view = ctx;
	struct deployment *d = view->n ? &view->v[view->n - 1] : NULL;
	if (!d || d->id != deploy) {
		view->v = erealloc(view->v, (view->n + 1) * sizeof *view->v);
		d = &view->v[view->n++];
		memset(d, 0, sizeof *d);
		d->id = deploy;
		d->records = cJSON_CreateArray();
	}
	d->bytes += len;
	cJSON *doc = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		d->bad_lines++;
		return;
	}
	clean_strings(doc->child);
	cJSON_AddItemToArray(d->records, doc);
}

static int load_pg(const struct journal *j, struct journal_view *view)
{
	memset(view, 0, sizeof *view);
	if (state_pg_records(j->pg, j->service, take_row, view) < 0) {
		int saved = errno;
		journal_view_free(view);
		errno = saved;
		return -1;
	}
	size_t kept = 0;
	view->next_id = 1;
	for (size_t i = 0; i < view->n; i++) {
		struct deployment *d = &view->v[i];
		d->path = journal_where(j, d->id);
		derive(d);
		if (d->id >= view->next_id)
			view->next_id = d->id + 1;
		keep_deploy(view, d, false, &kept);
	}
	view->n = kept;
	return 0;
}

static int hold_pg(const struct journal *j, struct journal_hold *h, bool guard, char **error)
{
	if (guard && state_pg_guard_take(j->pg, j->service) < 0)
		goto failed;
	h->guard = guard ? 1 : -1;
	if (state_pg_lock_read(j->pg, j->service, &h->li) < 0 || load_pg(j, &h->view) < 0)
		goto failed;
	return 0;
failed:;
	int saved = errno;
	*error = estrdup(state_pg_error(j->pg));
	journal_unhold(h);
	errno = saved;
	return -1;
}

int journal_hold(const struct journal *j, struct journal_hold *h, bool guard, char **error)
{
	memset(h, 0, sizeof *h);
	h->guard = -1;
	h->j = j;
	*error = NULL;
	if (j->pg)
		return hold_pg(j, h, guard, error);
	if (guard && (h->guard = lock_guard_take(j->dir)) < 0) {
		*error = easprintf("unable to take the journal guard in %s: %s", j->dir, strerror(errno));
		return -1;
	}
	if (lock_read(j->dir, &h->li) < 0) {
		int saved = errno;
		*error = easprintf("unable to read the lock %s/lock: %s", j->dir, strerror(saved));
		journal_unhold(h);
		errno = saved;
		return -1;
	}
	char *failed = NULL;
	if (load(j, &h->view, &failed) < 0) {
		int saved = errno;
		*error = easprintf("unable to read the journal %s: %s", failed, journal_strerror(saved));
		free(failed);
		journal_unhold(h);
		errno = saved;
		return -1;
	}
	return 0;
}

void journal_unhold(struct journal_hold *h)
{
	journal_view_free(&h->view);
	lock_info_free(&h->li);
	if (h->guard >= 0 && h->j && h->j->pg)
		state_pg_guard_release(h->j->pg, h->j->service);
	else if (h->guard >= 0)
		lock_guard_release(h->guard);
	h->guard = -1;
}

const char *journal_error(const struct journal *j, int err)
{
	return j->pg ? state_pg_error(j->pg) : journal_strerror(err);
}

char *journal_where(const struct journal *j, long id)
{
	if (j->pg)
		return id ? easprintf("%s, deploy %ld", state_pg_where(j->pg), id) : estrdup(state_pg_where(j->pg));
	return id ? easprintf("%s/%06ld.jsonl", j->dir, id) : estrdup(j->dir);
}

int journal_lock_read(const struct journal *j, struct lock_info *li)
{
	return j->pg ? state_pg_lock_read(j->pg, j->service, li) : lock_read(j->dir, li);
}

int journal_lock_take(const struct journal *j, long deploy, const char *message)
{
	if (!j->pg)
		return lock_write(j->dir, deploy, message);
	/* as the file is rewritten: a lock this caller holds is taken again,
	 * for this deploy */
	struct lock_info li;
	if (state_pg_lock_read(j->pg, j->service, &li) < 0)
		return -1;
	int rc = li.present && li.ours ? state_pg_lock_drop(j->pg, j->service, &li) : 0;
	lock_info_free(&li);
	return rc < 0 ? -1 : state_pg_lock_take(j->pg, j->service, deploy, message);
}

int journal_lock_drop(const struct journal *j, const struct lock_info *li)
{
	return j->pg ? state_pg_lock_drop(j->pg, j->service, li) : lock_remove(j->dir);
}

void journal_view_free(struct journal_view *view)
{
	for (size_t i = 0; i < view->n; i++)
		deployment_free(&view->v[i]);
	free(view->v);
	free(view->headerless_path);
	memset(view, 0, sizeof *view);
}

const struct deployment *journal_open_deployment(const struct journal_view *view)
{
	if (!view->n)
		return NULL;
	const struct deployment *d = &view->v[view->n - 1];
	return d->result ? NULL : d;
}

const struct deployment *journal_live_deployment(const struct journal_view *view)
{
	for (size_t i = view->n; i-- > 0;)
		if (view->v[i].applied && view->v[i].release)
			return &view->v[i];
	return NULL;
}

const char *journal_current_release(const struct journal_view *view)
{
	const struct deployment *d = journal_live_deployment(view);
	return d ? d->release : NULL;
}

const struct deployment *journal_last_good(const struct journal_view *view, const char *not_release)
{
	for (size_t i = view->n; i-- > 0;) {
		const struct deployment *d = &view->v[i];
		if (d->result && strcmp(d->result, "ok") == 0 && d->release &&
		    (!not_release || strcmp(d->release, not_release) != 0))
			return d;
	}
	return NULL;
}

const cJSON *deployment_last_record(const struct deployment *d, const char *type)
{
	const cJSON *found = NULL, *r;
	cJSON_ArrayForEach(r, d->records)
	{
		if (strcmp(json_path_string(r, "type", ""), type) == 0)
			found = r;
	}
	return found;
}

const cJSON *journal_release_apply(const struct journal_view *view, const char *release)
{
	for (size_t i = view->n; i-- > 0;) {
		const struct deployment *d = &view->v[i];
		if (!d->release || strcmp(d->release, release) != 0)
			continue;
		const cJSON *r, *found = NULL;
		cJSON_ArrayForEach(r, d->records)
		{
			if (strcmp(json_path_string(r, "type", ""), "apply") == 0 &&
			    strcmp(json_path_string(r, "phase", ""), "end") == 0 &&
			    strcmp(json_path_string(r, "status", ""), "ok") == 0)
				found = r;
		}
		if (found)
			return found;
	}
	return NULL;
}

long journal_next_id(const struct journal_view *view)
{
	return view->next_id > 0 ? view->next_id : 1;
}

/* The offset just past the last newline of fd's first size bytes (0 when
 * there is none), read backwards in blocks. -1 with errno on a read error. */
static off_t after_last_newline(int fd, off_t size)
{
	char block[4096];
	off_t end = size;
	while (end > 0) {
		off_t start = end > (off_t)sizeof block ? end - (off_t)sizeof block : 0;
		ssize_t n = pread(fd, block, (size_t)(end - start), start);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != end - start) {
			if (n >= 0)
				errno = EIO;
			return -1;
		}
		char *nl = memrchr(block, '\n', (size_t)n);
		if (nl)
			return start + (nl - block) + 1;
		end = start;
	}
	return 0;
}

/* A crash may have left a last line without its newline: the record was
 * never acknowledged, so it is dropped (when unreadable) or closed (when
 * whole) before anything is appended after it. */
static int repair_tail(int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size == 0)
		return 0;
	char last;
	if (pread(fd, &last, 1, st.st_size - 1) != 1)
		return -1;
	if (last == '\n')
		return 0;
	off_t keep = after_last_newline(fd, st.st_size);
	if (keep < 0)
		return -1;
	bool whole = false;
	size_t len = (size_t)(st.st_size - keep);
	if (len <= JOURNAL_LINE_MAX) {
		char *text = emalloc(len + 1);
		if (pread(fd, text, len, keep) != (ssize_t)len) {
			free(text);
			errno = EIO;
			return -1;
		}
		cJSON *doc = cJSON_ParseWithLength(text, len);
		whole = cJSON_IsObject(doc);
		cJSON_Delete(doc);
		free(text);
	}
	if (whole)
		return write(fd, "\n", 1) == 1 ? 0 : -1;
	warnx_("%s: dropping a record cut short by an earlier crash", path);
	return ftruncate(fd, keep);
}

/* Takes a failed append back out: the file returns to its length before,
 * made durable, so that no reader finds a record that was reported as not
 * written. A file that this append created goes away entirely. errno is
 * kept. */
static void undo_append(int fd, const char *path, const char *dir, off_t before)
{
	int saved = errno;
	if (ftruncate(fd, before) < 0 || fsync(fd) < 0)
		warnx_("%s: unable to take back a failed write: %s", path, strerror(errno));
	if (before == 0 && unlink(path) == 0)
		(void)fsync_dir(dir);
	errno = saved;
}

/* The lines an append writes, beside the records given: each stamped with
 * kind, type, service, deploy and time first (for people reading the file),
 * then its own members, cleaned. */
struct batch {
	size_t n;
	cJSON **given, **lines;
	struct buf text; /* every line, one write(2) */
	bool reports;    /* a report or gate record: within the reports' budget */
};

static cJSON *stamped_line(const struct journal *j, long id, const char *stamp, const cJSON *given)
{
	cJSON *line = cJSON_CreateObject();
	cJSON_AddStringToObject(line, "kind", "journal");
	cJSON_AddStringToObject(line, "type", json_path_string(given, "type", "note"));
	cJSON_AddStringToObject(line, "service", j->service);
	cJSON_AddNumberToObject(line, "deploy", (double)id);
	cJSON_AddStringToObject(line, "time", stamp);
	const cJSON *m;
	cJSON_ArrayForEach(m, given)
	{
		if (!m->string || cJSON_GetObjectItemCaseSensitive(line, m->string))
			continue;
		cJSON_AddItemToObject(line, m->string, cJSON_Duplicate(m, 1));
	}
	/* valid UTF-8 without control or bidi characters: every line is JSON,
	 * and nothing read back can rewrite a terminal */
	clean_strings(line->child);
	return line;
}

static void batch_build(struct batch *bt, const struct journal *j, long id, cJSON *records)
{
	char stamp[RFC3339_LEN];
	rfc3339_format(now_epoch_ms(), stamp);
	memset(bt, 0, sizeof *bt);
	bt->n = cJSON_IsObject(records) ? 1 : (size_t)cJSON_GetArraySize(records);
	bt->given = ecalloc(bt->n ? bt->n : 1, sizeof *bt->given);
	bt->lines = ecalloc(bt->n ? bt->n : 1, sizeof *bt->lines);
	size_t i = 0;
	if (cJSON_IsObject(records)) {
		bt->given[0] = records;
	} else {
		cJSON *r;
		cJSON_ArrayForEach(r, records) bt->given[i++] = r;
	}
	for (i = 0; i < bt->n; i++) {
		const char *type = json_path_string(bt->given[i], "type", "note");
		if (strcmp(type, "report") == 0 || strcmp(type, "gate") == 0)
			bt->reports = true;
		bt->lines[i] = stamped_line(j, id, stamp, bt->given[i]);
		char *text = ejson_print(bt->lines[i]);
		buf_puts(&bt->text, text);
		buf_putc(&bt->text, '\n');
		free(text);
	}
}

/* Frees the batch; when it was written, each record given becomes its line
 * (what a caller prints is what the journal holds, member for member). */
static void batch_free(struct batch *bt, bool written)
{
	for (size_t i = 0; i < bt->n; i++) {
		if (written) {
			cJSON *members = bt->given[i]->child;
			bt->given[i]->child = bt->lines[i]->child;
			bt->lines[i]->child = members;
		}
		cJSON_Delete(bt->lines[i]);
	}
	free(bt->given);
	free(bt->lines);
	buf_free(&bt->text);
}

/* Writes the batch at the end of fd (path, in dir) and makes it durable, or
 * takes it back out. Returns 0 or -1 with errno set. */
static int batch_write(int fd, const char *path, const char *dir, const struct batch *bt)
{
	if (repair_tail(fd, path) < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	/* reports stay within their budget; the room above it is kept for
	 * the records that end the deploy */
	if (bt->reports && (uint64_t)st.st_size + bt->text.len > JOURNAL_REPORT_BUDGET) {
		errno = EFBIG;
		return -1;
	}
	size_t done = 0;
	while (done < bt->text.len) {
		ssize_t w = write(fd, bt->text.data + done, bt->text.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* leave no half record behind a failed write (a full disk) */
			undo_append(fd, path, dir, st.st_size);
			return -1;
		}
		done += (size_t)w;
	}
	/* a failed fsync (EIO) leaves the record's fate unknown: it is taken
	 * back out, as the caller reports it not written */
	if (fsync(fd) < 0 || (st.st_size == 0 && fsync_dir(dir) < 0)) {
		undo_append(fd, path, dir, st.st_size);
		return -1;
	}
	return 0;
}

/* The batch into the state database, in one statement: its lines as one
 * JSON array. */
static int append_pg(const struct journal *j, long id, const struct batch *bt)
{
	struct buf all = {0};
	buf_putc(&all, '[');
	buf_append(&all, bt->text.data, bt->text.len);
	/* the lines hold no newline but the one ending each (JSON escapes
	 * any other): "[L1,L2]" */
	for (size_t i = 1; i < all.len; i++)
		if (all.data[i] == '\n')
			all.data[i] = i + 1 < all.len ? ',' : ']';
	if (all.len == 1)
		buf_putc(&all, ']');
	int rc = state_pg_append(j->pg, j->service, id, all.data, bt->reports ? JOURNAL_REPORT_BUDGET : 0);
	int saved = errno;
	buf_free(&all);
	errno = saved;
	return rc;
}

int journal_append(const struct journal *j, long id, cJSON *records)
{
	struct batch bt;
	batch_build(&bt, j, id, records);
	if (j->pg) {
		int rc = append_pg(j, id, &bt);
		int saved = errno;
		batch_free(&bt, rc == 0);
		errno = saved;
		return rc;
	}
	char *path = easprintf("%s/%06ld.jsonl", j->dir, id);
	int rc = -1;
	int fd = journal_file_open(path, O_RDWR | O_APPEND | O_CREAT);
	if (fd >= 0)
		rc = batch_write(fd, path, j->dir, &bt);
	int saved = errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	batch_free(&bt, rc == 0);
	free(path);
	errno = saved;
	return rc;
}

int journal_write(const struct journal *j, long id, cJSON *records, char **error)
{
	*error = NULL;
	if (journal_append(j, id, records) == 0)
		return 0;
	int saved = errno;
	char *where = journal_where(j, id);
	*error = easprintf("unable to write the journal %s: %s", where, journal_error(j, saved));
	free(where);
	errno = saved;
	return -1;
}

char *journal_config_digest(const cJSON *config)
{
	char *text = ejson_print(config);
	char hex[SHA256_HEX_LEN];
	sha256_hex(text, strlen(text), hex);
	free(text);
	return easprintf("sha256:%s", hex);
}
