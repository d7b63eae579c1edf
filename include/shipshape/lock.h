/* lock.h — the deploy lock: one deploy at a time per service.
 *
 * The lock outlives the process that took it (a deploy is a sequence of
 * commands), so it is a file, STATE/deploy/SERVICE/lock, holding who holds it:
 * {"pid","host","user","since","message","deploy"}. The pid is the process
 * whose life the lock follows: $SHIPSHAPE_DEPLOY_PID, else the caller's
 * parent (the deploy script's shell). A holder on this host whose process is
 * gone is stale and may be reclaimed; a holder on another host never is.
 *
 * Every read-modify-write of the lock or the journal happens under the guard,
 * a flock(2) on STATE/deploy/SERVICE/.guard held for milliseconds, which
 * makes two concurrent acquisitions strictly ordered. */
#ifndef SHIPSHAPE_LOCK_H
#define SHIPSHAPE_LOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

struct lock_info {
	pid_t pid;
	char *host, *user, *since, *message;
	long deploy;  /* the deployment it was taken for, 0 for none */
	bool present; /* a lock file exists */
	bool stale;   /* its holder on this host is gone */
	bool ours;    /* held by this caller's owner process on this host */
};

/* The owner process of this caller: $SHIPSHAPE_DEPLOY_PID or getppid(). */
pid_t lock_owner_pid(void);
/* "user@host" of this caller (a new string). */
char *lock_user_at_host(void);

/* Takes the guard of dir (blocking, bounded by 30 s); returns an fd for
 * lock_guard_release(), or -1 with errno set. */
int lock_guard_take(const char *dir);
void lock_guard_release(int fd);

/* Reads the lock of dir into li (li->present false when there is none).
 * Returns 0, or -1 when it exists but cannot be read (errno set; a corrupt
 * lock file is EBADMSG). */
int lock_read(const char *dir, struct lock_info *li);
/* The holder document a lock held by this caller for deployment deploy
 * (0: none) records (new): pid, host, user, since, message, deploy. */
cJSON *lock_holder_new(long deploy, const char *message);
/* li filled from a holder document (li->present true): stale and ours
 * judged when the holder is on this host. */
void lock_info_from_json(const cJSON *doc, struct lock_info *li);
/* Writes a lock held by this caller for deployment deploy (0: none). */
int lock_write(const char *dir, long deploy, const char *message);
int lock_remove(const char *dir);
void lock_info_free(struct lock_info *li);
/* The holder as a JSON object (new). */
cJSON *lock_info_json(const struct lock_info *li);
/* "root@web1 (pid 123) since 2026-...: MESSAGE" (a new string). */
char *lock_holder_describe(const struct lock_info *li);

#endif
