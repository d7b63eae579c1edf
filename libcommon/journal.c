/* journal.c — the append-only, fsync'd deploy journal (see journal.h). */
#include "shipshape/journal.h"
#include "shipshape/common.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/sha256.h"
#include "shipshape/units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const journal_stages[] = {"pre-deploy", "infrastructure", "application", "post-deploy",
				      "readiness", NULL};

bool journal_stage_valid(const char *stage)
{
	for (size_t i = 0; journal_stages[i]; i++)
		if (strcmp(stage, journal_stages[i]) == 0)
			return true;
	return false;
}

bool journal_release_name_valid(const char *r)
{
	if (!r || !*r || *r == '.' || strlen(r) > JOURNAL_RELEASE_MAX)
		return false;
	for (; *r; r++)
		if (*r == '/' || (unsigned char)*r < 0x21 || *r == 0x7f)
			return false;
	return true;
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

char *journal_state_dir(const char *cli, const char *config_value)
{
	char *dir = state_dir_resolve(cli, config_value);
	if (dir)
		return dir;
	/* name the directory meant, in state_dir_resolve()'s order */
	const char *env = getenv("SHIPSHAPE_STATE_DIR");
	const char *which = cli && *cli ? cli : env && *env ? env : config_value && *config_value ? config_value : NULL;
	if (which)
		die_errno(EXIT_UNKNOWN, "unable to create the state directory %s", which);
	die_errno(EXIT_UNKNOWN, "unable to create the state directory ${XDG_STATE_HOME:-$HOME/.local/state}/shipshape");
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

static int load_one(struct deployment *d)
{
	char *text = NULL;
	size_t len = 0;
	if (read_file(d->path, JOURNAL_FILE_MAX, &text, &len) < 0)
		return -1;
	d->records = cJSON_CreateArray();
	char *p = text, *end = text + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		bool last = nl == NULL;
		size_t n = last ? (size_t)(end - p) : (size_t)(nl - p);
		cJSON *doc = n ? cJSON_ParseWithLength(p, n) : NULL;
		if (cJSON_IsObject(doc)) {
			cJSON_AddItemToArray(d->records, doc);
		} else {
			cJSON_Delete(doc);
			if (last)
				d->truncated = true;
			else if (n)
				d->bad_lines++;
		}
		p = last ? end : nl + 1;
	}
	free(text);
	derive(d);
	return 0;
}

int journal_load(const struct journal *j, struct journal_view *view)
{
	memset(view, 0, sizeof *view);
	DIR *dir = opendir(j->dir);
	if (!dir)
		return -1;
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
	for (size_t i = 0; i < view->n; i++) {
		if (load_one(&view->v[i]) < 0) {
			int saved = errno;
			journal_view_free(view);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

void journal_view_free(struct journal_view *view)
{
	for (size_t i = 0; i < view->n; i++) {
		free(view->v[i].path);
		cJSON_Delete(view->v[i].records);
	}
	free(view->v);
	memset(view, 0, sizeof *view);
}

const struct deployment *journal_open_deployment(const struct journal_view *view)
{
	if (!view->n)
		return NULL;
	const struct deployment *d = &view->v[view->n - 1];
	return d->result ? NULL : d;
}

const char *journal_current_release(const struct journal_view *view)
{
	for (size_t i = view->n; i-- > 0;)
		if (view->v[i].applied && view->v[i].release)
			return view->v[i].release;
	return NULL;
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
	return view->n ? view->v[view->n - 1].id + 1 : 1;
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
	char *text = NULL;
	size_t len;
	if (read_file(path, JOURNAL_FILE_MAX, &text, &len) < 0)
		return -1;
	char *nl = len ? memrchr(text, '\n', len) : NULL;
	size_t keep = nl ? (size_t)(nl - text) + 1 : 0;
	cJSON *doc = cJSON_ParseWithLength(text + keep, len - keep);
	bool whole = cJSON_IsObject(doc);
	cJSON_Delete(doc);
	free(text);
	if (whole)
		return write(fd, "\n", 1) == 1 ? 0 : -1;
	warnx_("%s: dropping a record cut short by an earlier crash", path);
	return ftruncate(fd, (off_t)keep);
}

int journal_append(const struct journal *j, long id, cJSON *records)
{
	char stamp[RFC3339_LEN];
	rfc3339_format(now_epoch_ms(), stamp);
	struct buf b = {0};
	/* the records given, and the lines written for them, side by side */
	size_t n = cJSON_IsObject(records) ? 1 : (size_t)cJSON_GetArraySize(records), i = 0;
	cJSON **given = ecalloc(n ? n : 1, sizeof *given), **lines = ecalloc(n ? n : 1, sizeof *lines);
	if (cJSON_IsObject(records)) {
		given[0] = records;
	} else {
		cJSON *r;
		cJSON_ArrayForEach(r, records) given[i++] = r;
	}
	for (i = 0; i < n; i++) {
		/* kind, service, deploy and time first, for people reading the file */
		cJSON *line = cJSON_CreateObject();
		cJSON_AddStringToObject(line, "kind", "journal");
		cJSON_AddStringToObject(line, "type", json_path_string(given[i], "type", "note"));
		cJSON_AddStringToObject(line, "service", j->service);
		cJSON_AddNumberToObject(line, "deploy", (double)id);
		cJSON_AddStringToObject(line, "time", stamp);
		const cJSON *m;
		cJSON_ArrayForEach(m, given[i])
		{
			if (!m->string || cJSON_GetObjectItemCaseSensitive(line, m->string))
				continue;
			cJSON_AddItemToObject(line, m->string, cJSON_Duplicate(m, 1));
		}
		char *text = cJSON_PrintUnformatted(line);
		if (!text)
			die(EXIT_UNKNOWN, "unable to allocate memory");
		buf_puts(&b, text);
		buf_putc(&b, '\n');
		free(text);
		lines[i] = line;
	}

	char *path = easprintf("%s/%06ld.jsonl", j->dir, id);
	int rc = -1, saved = 0;
	bool fresh = access(path, F_OK) < 0;
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (repair_tail(fd, path) < 0)
		goto out;
	struct stat st;
	if (fstat(fd, &st) < 0)
		goto out;
	size_t done = 0;
	while (done < b.len) {
		ssize_t w = write(fd, b.data + done, b.len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* leave no half record behind a failed write (a full disk) */
			saved = errno;
			if (ftruncate(fd, st.st_size) < 0) {
				/* the reader and the next append tolerate the cut line */
			}
			errno = saved;
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto out;
	if (fresh && fsync_dir(j->dir) < 0)
		goto out;
	rc = 0;
out:
	saved = errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0) {
			/* the caller's record becomes the line itself: what it prints
			 * is what the journal holds, member for member */
			cJSON *members = given[i]->child;
			given[i]->child = lines[i]->child;
			lines[i]->child = members;
		}
		cJSON_Delete(lines[i]);
	}
	free(given);
	free(lines);
	free(path);
	buf_free(&b);
	errno = saved;
	return rc;
}

char *journal_config_digest(const cJSON *config)
{
	char *text = cJSON_PrintUnformatted(config);
	if (!text)
		die(EXIT_UNKNOWN, "unable to allocate memory");
	char hex[SHA256_HEX_LEN];
	sha256_hex(text, strlen(text), hex);
	free(text);
	return easprintf("sha256:%s", hex);
}
