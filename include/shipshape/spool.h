/* spool.h — a directory of pending items (undelivered notifications): one
 * file per item, written 0600 and fsync'd before anything else happens to
 * it, claimed with flock(2) while a process works on it, so that two
 * processes sharing the directory (a running alert-send and an `alert-send
 * flush`) never work on the same item at once and an item survives any
 * crash until its worker has finished with it (at-least-once).
 *
 * Item names sort oldest first: "<epoch ms>-<pid>-<seq>-<tag>.json". */
#ifndef SHIPSHAPE_SPOOL_H
#define SHIPSHAPE_SPOOL_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* Writes doc as a new item of dir (created 0700 if missing). tag ([a-z0-9_-],
 * e.g. the channel) goes into the name. Returns the item's path (a new
 * string), or NULL with errno set. */
char *spool_put(const char *dir, const char *tag, const cJSON *doc);
/* The items of dir, oldest first, as paths (new strings, *n of them; free
 * each and the array). Leftover temporary files are skipped. A missing dir
 * is an empty spool. Returns 0 or -1 with errno set. */
int spool_list(const char *dir, char ***paths, size_t *n);
/* Claims an item: returns an fd holding its lock, or -1 with errno
 * EWOULDBLOCK (another process holds it) or ENOENT (gone: finished by
 * someone else). */
int spool_claim(const char *path);
/* Reads a claimed item's document; NULL with a reason in err when it is not
 * JSON. */
cJSON *spool_read(int fd, char *err, size_t errsize);
/* The item is finished: removes it (and syncs the directory), then releases
 * the claim. Returns 0 or -1 with errno set. */
int spool_done(const char *path, int fd);
/* Gives the claim up; the item stays for a later attempt. */
void spool_release(int fd);

#endif
