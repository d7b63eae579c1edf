/* files.c — atomic 0600 writes, mkdir -p, the state directory. */
#include "shipshape/files.h"
#include "shipshape/common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static char *dir_of(const char *path)
{
	char *copy = estrdup(path);
	char *d = estrdup(dirname(copy));
	free(copy);
	return d;
}

int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	/* The rename replaces whatever node path names: over a device (as
	 * root, /dev/null), a FIFO or a socket it would replace the node
	 * itself, so only a regular file (or nothing yet) is replaced. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EOPNOTSUPP;
		return -1;
	}
	char *dir = dir_of(path);
	char *tmp = easprintf("%s.tmp.XXXXXX", path);
	int saved = 0, rc = -1;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		goto out;
	}
	if (fchmod(fd, mode) < 0)
		goto fail;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	fsync_dir(dir); /* best effort: the data is already durable */
	rc = 0;
	goto out;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(dir);
	if (rc < 0)
		errno = saved;
	return rc;
}

int mkdir_p(const char *path, mode_t mode)
{
	char *copy = estrdup(path);
	int rc = 0;
	for (char *p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(copy, mode) < 0 && errno != EEXIST) {
				rc = -1;
				break;
			}
			*p = saved;
			if (!saved)
				break;
		}
	}
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) < 0)
			rc = -1;
		else if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			rc = -1;
		}
	}
	int saved = errno;
	free(copy);
	errno = saved;
	return rc;
}

/* The state directory meant, in state_dir_resolve()'s order (a new
 * string), or NULL when nothing names one (no $XDG_STATE_HOME, no $HOME). */
static char *state_dir_named(const char *cli, const char *config_value)
{
	const char *env = getenv("SHIPSHAPE_STATE_DIR");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (cli && *cli)
		return estrdup(cli);
	if (env && *env)
		return estrdup(env);
	if (config_value && *config_value)
		return estrdup(config_value);
	if (xdg && *xdg)
		return easprintf("%s/shipshape", xdg);
	if (home && *home)
		return easprintf("%s/.local/state/shipshape", home);
	return NULL;
}

char *state_dir_resolve(const char *cli, const char *config_value, char **error)
{
	*error = NULL;
	char *dir = state_dir_named(cli, config_value);
	if (!dir) {
		*error = estrdup("unable to create the state directory ${XDG_STATE_HOME:-$HOME/.local/state}/shipshape: "
				 "neither is set");
		errno = ENOENT;
		return NULL;
	}
	struct stat st;
	if (mkdir_p(dir, 0700) < 0 || stat(dir, &st) < 0) {
		int saved = errno;
		*error = easprintf("unable to create the state directory %s: %s", dir, strerror(saved));
		free(dir);
		errno = saved;
		return NULL;
	}
	const char *why = state_dir_unsafe(&st, geteuid());
	if (why) {
		*error = easprintf("refusing the state directory %s: %s (it must be yours or root's, and writable "
				   "by no one else)",
				   dir, why);
		free(dir);
		errno = EACCES;
		return NULL;
	}
	return dir;
}

const char *state_dir_unsafe(const struct stat *st, uid_t euid)
{
	/* Whoever owns or can write the directory can plant a symlink, a
	 * FIFO or a forged journal in it; a sticky bit (as on /tmp) stops
	 * renames, not planting. */
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != euid && st->st_uid != 0)
		return "owned by another user";
	if (st->st_mode & S_IWOTH)
		return "writable by every user";
	if (st->st_mode & S_IWGRP)
		return "writable by its group";
	return NULL;
}

int state_file_open(const char *path, int flags, mode_t mode)
{
	/* O_NONBLOCK until the node is known to be a regular file: opening a
	 * FIFO planted there would wait for a writer. */
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
	if (fd < 0)
		return -1;
	struct stat st;
	int saved = 0;
	if (fstat(fd, &st) < 0)
		saved = errno;
	else if (!S_ISREG(st.st_mode))
		saved = EOPNOTSUPP;
	else if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		saved = errno;
	if (saved) {
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
