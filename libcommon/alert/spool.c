/* spool.c — pending items, one fsync'd file each, claimed with flock(2). */
#include "shipshape/spool.h"
#include "shipshape/common.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_ITEM_MAX (16u << 20)

char *spool_put(const char *dir, const char *tag, const cJSON *doc)
{
	static unsigned long seq;
	if (mkdir_p(dir, 0700) < 0)
		return NULL;
	char *text = cJSON_PrintUnformatted(doc);
	if (!text) {
		errno = ENOMEM;
		return NULL;
	}
	/* Zero-padded, so that names sort in time order. */
	char *path = easprintf("%s/%015lld-%d-%06lu-%s.json", dir, (long long)now_epoch_ms(),
			       (int)getpid(), ++seq, tag);
	size_t len = strlen(text);
	text[len] = '\n';
	int rc = atomic_write_file(path, text, len + 1, 0600);
	int saved = errno;
	free(text);
	if (rc < 0) {
		free(path);
		errno = saved;
		return NULL;
	}
	return path;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_item_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0 && !strstr(name, ".tmp.");
}

int spool_list(const char *dir, char ***paths, size_t *n)
{
	*paths = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_item_name(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*paths = erealloc(*paths, cap * sizeof **paths);
		}
		(*paths)[(*n)++] = easprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*paths, *n, sizeof **paths, compare_strings);
	return 0;
}

int spool_claim(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;
		close(fd);
		errno = saved == EAGAIN ? EWOULDBLOCK : saved;
		return -1;
	}
	/* Finished and removed by another process between our open and lock. */
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_nlink == 0) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

cJSON *spool_read(int fd, char *err, size_t errsize)
{
	struct buf b = {0};
	char chunk[8192];
	ssize_t r;
	off_t off = 0;
	while ((r = pread(fd, chunk, sizeof chunk, off)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errsize, "unable to read: %s", strerror(errno));
			buf_free(&b);
			return NULL;
		}
		buf_append(&b, chunk, (size_t)r);
		off += r;
		if (b.len > SPOOL_ITEM_MAX) {
			snprintf(err, errsize, "larger than %u bytes", SPOOL_ITEM_MAX);
			buf_free(&b);
			return NULL;
		}
	}
	cJSON *doc = b.len ? json_parse_text(b.data, b.len, err, errsize) : NULL;
	if (!b.len)
		snprintf(err, errsize, "empty");
	buf_free(&b);
	if (doc && !cJSON_IsObject(doc)) {
		snprintf(err, errsize, "not a JSON object");
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
}

int spool_done(const char *path, int fd)
{
	int rc = unlink(path);
	int saved = errno;
	if (rc == 0) {
		char *dir = estrdup(path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		fsync_dir(slash ? dir : ".");
		free(dir);
	}
	close(fd);
	errno = saved;
	return rc;
}

void spool_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
