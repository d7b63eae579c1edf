/* lock.c — the deploy lock file and its guard (see lock.h). */
#include "shipshape/lock.h"
#include "shipshape/common.h"
#include "shipshape/files.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define GUARD_WAIT_MS 30000
#define LOCK_FILE_MAX 65536

pid_t lock_owner_pid(void)
{
	const char *env = getenv("SHIPSHAPE_DEPLOY_PID");
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);
		if (*end == '\0' && v > 0)
			return (pid_t)v;
	}
	return getppid();
}

static char *host_name(void)
{
	char host[256];
	if (gethostname(host, sizeof host) < 0)
		return estrdup("localhost");
	host[sizeof host - 1] = '\0';
	return estrdup(host);
}

char *lock_user_at_host(void)
{
	const char *user = getenv("USER");
	struct passwd *pw = getpwuid(getuid());
	if (pw && pw->pw_name)
		user = pw->pw_name;
	char *host = host_name();
	char *s = easprintf("%s@%s", user && *user ? user : "unknown", host);
	free(host);
	return s;
}

int lock_guard_take(const char *dir)
{
	char *path = easprintf("%s/.guard", dir);
	int fd = state_file_open(path, O_RDWR | O_CREAT, 0600);
	free(path);
	if (fd < 0)
		return -1;
	int64_t deadline = now_monotonic_ms() + GUARD_WAIT_MS;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (now_monotonic_ms() > deadline) {
			close(fd);
			errno = ETIMEDOUT;
			return -1;
		}
		sleep_ms(10);
	}
	return fd;
}

void lock_guard_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}

static char *lock_path(const char *dir) { return easprintf("%s/lock", dir); }

void lock_info_free(struct lock_info *li)
{
	free(li->host);
	free(li->user);
	free(li->since);
	free(li->message);
	memset(li, 0, sizeof *li);
}

void lock_info_from_json(const cJSON *doc, struct lock_info *li)
{
	memset(li, 0, sizeof *li);
	li->present = true;
	li->pid = (pid_t)json_path_number(doc, "pid", 0);
	li->host = estrdup(json_path_string(doc, "host", "?"));
	li->user = estrdup(json_path_string(doc, "user", "?"));
	li->since = estrdup(json_path_string(doc, "since", "?"));
	const char *msg = json_path_string(doc, "message", NULL);
	li->message = msg ? estrdup(msg) : NULL;
	li->deploy = (long)json_path_number(doc, "deploy", 0);

	char *me = host_name();
	bool same_host = strcmp(me, li->host) == 0;
	free(me);
	if (same_host) {
		li->stale = li->pid <= 0 || (kill(li->pid, 0) < 0 && errno == ESRCH);
		li->ours = !li->stale && li->pid == lock_owner_pid();
	}
}

int lock_read(const char *dir, struct lock_info *li)
{
	memset(li, 0, sizeof *li);
	char *path = lock_path(dir), *text = NULL;
	size_t len;
	int rc = read_file(path, LOCK_FILE_MAX, &text, &len);
	free(path);
	if (rc < 0)
		return errno == ENOENT ? 0 : -1;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		errno = EBADMSG;
		return -1;
	}
	lock_info_from_json(doc, li);
	cJSON_Delete(doc);
	return 0;
}

cJSON *lock_holder_new(long deploy, const char *message)
{
	char since[RFC3339_LEN];
	cJSON *doc = cJSON_CreateObject();
	char *host = host_name(), *user = lock_user_at_host();
	cJSON_AddNumberToObject(doc, "pid", (double)lock_owner_pid());
	cJSON_AddStringToObject(doc, "host", host);
	cJSON_AddStringToObject(doc, "user", user);
	cJSON_AddStringToObject(doc, "since", rfc3339_format(now_epoch_ms(), since));
	if (message) {
		/* the lock is read back and shown to anyone: no secret in it */
		char *m = redact_string(message);
		cJSON_AddStringToObject(doc, "message", m);
		free(m);
	}
	if (deploy > 0)
		cJSON_AddNumberToObject(doc, "deploy", (double)deploy);
	else
		cJSON_AddNullToObject(doc, "deploy");
	free(host);
	free(user);
	return doc;
}

int lock_write(const char *dir, long deploy, const char *message)
{
	cJSON *doc = lock_holder_new(deploy, message);
	char *text = ejson_print(doc);
	cJSON_Delete(doc);
	char *path = lock_path(dir);
	struct buf b = {0};
	buf_puts(&b, text);
	buf_putc(&b, '\n');
	free(text);
	int rc = atomic_write_file(path, b.data, b.len, 0644);
	int saved = errno;
	buf_free(&b);
	free(path);
	errno = saved;
	return rc;
}

int lock_remove(const char *dir)
{
	char *path = lock_path(dir);
	int rc = unlink(path);
	if (rc < 0 && errno == ENOENT)
		rc = 0;
	else if (rc == 0)
		rc = fsync_dir(dir);
	free(path);
	return rc;
}

cJSON *lock_info_json(const struct lock_info *li)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "held", li->present && !li->stale);
	if (!li->present)
		return o;
	cJSON_AddNumberToObject(o, "pid", (double)li->pid);
	cJSON_AddStringToObject(o, "host", li->host);
	cJSON_AddStringToObject(o, "user", li->user);
	cJSON_AddStringToObject(o, "since", li->since);
	if (li->message)
		cJSON_AddStringToObject(o, "message", li->message);
	if (li->deploy > 0)
		cJSON_AddNumberToObject(o, "deploy", (double)li->deploy);
	cJSON_AddBoolToObject(o, "stale", li->stale);
	cJSON_AddBoolToObject(o, "ours", li->ours);
	return o;
}

char *lock_holder_describe(const struct lock_info *li)
{
	/* user is "user@host" already */
	struct buf b = {0};
	buf_printf(&b, "%s (pid %ld) since %s", li->user, (long)li->pid, li->since);
	if (li->deploy > 0)
		buf_printf(&b, " for deploy %ld", li->deploy);
	if (li->message && *li->message)
		buf_printf(&b, ": %s", li->message);
	return buf_take(&b);
}
