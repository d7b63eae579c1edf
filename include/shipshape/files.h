/* files.h — atomic writes, directories, the state directory. */
#ifndef SHIPSHAPE_FILES_H
#define SHIPSHAPE_FILES_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Writes data to path atomically: a temporary file in the same directory
 * created with mode, written, fsync'd, renamed over path, then the directory
 * fsync'd. On failure path is untouched and errno says why; returns 0/-1.
 * Only a regular file (or nothing) at path is replaced: a directory fails
 * with EISDIR, a device, FIFO or socket with EOPNOTSUPP (the rename would
 * replace the node itself). */
int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode);
/* Creates path and its parents with mode (existing directories are fine). */
int mkdir_p(const char *path, mode_t mode);
int fsync_dir(const char *dir);
/* The state directory: cli (--state-dir), else $SHIPSHAPE_STATE_DIR, else
 * config_value (config `state_dir`), else
 * ${XDG_STATE_HOME:-$HOME/.local/state}/shipshape. Created 0700 if missing.
 * Returns a new string, or NULL with errno set and *error a new one-line
 * message naming the directory, for the caller to print (and a tool to exit
 * EXIT_UNKNOWN with): "unable to create the state directory DIR: reason", or
 * "refusing the state directory DIR: why (...)" (errno EACCES) for one that
 * another user could have prepared, refused as ssh refuses a loose key
 * file: it must be owned by the running user (or root) and writable by no
 * one else, sticky or not (state_dir_unsafe()). */
char *state_dir_resolve(const char *cli, const char *config_value, char **error);
/* Why a directory with status st may not hold the state of a process of
 * effective user euid (a constant phrase), or NULL when it may. */
const char *state_dir_unsafe(const struct stat *st, uid_t euid);
/* Opens a file in the state directory: open(2) with O_NOFOLLOW and
 * O_CLOEXEC added, so a symlink planted there is refused (ELOOP) rather
 * than followed to truncate or append to its target; a node that is not a
 * regular file (a FIFO, a device) fails with EOPNOTSUPP. Returns the fd or
 * -1 with errno set. */
int state_file_open(const char *path, int flags, mode_t mode);

#endif
