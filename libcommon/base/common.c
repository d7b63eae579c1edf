/* common.c — the bottom of libcommon: the program's name, allocation that
 * exits on failure, growable buffers, whole-file reads, checked stdout. It
 * calls no other file of libcommon (messages and die() are message.c's). */
#include "shipshape/common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *prog = "shipshape";
int log_level = 0;

void prog_set(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	if (argv0 && *argv0)
		prog = slash ? slash + 1 : argv0;
}

void tool_start(const char *argv0)
{
	prog_set(argv0);
	/* In order, so that open() returns the lowest free descriptor: the
	 * closed one. Not close-on-exec: children inherit 0-2 as usual. */
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		/* The one exit of libcommon outside allocation and die(), kept
		 * on purpose. This is main()'s first call, before anything is
		 * held, so exiting loses nothing a return would save; and the
		 * contract is that fds 0-2 are open once it returns. A status
		 * returned instead would be an obligation on every main(), and
		 * one that ran on would have its next open() (a lock, a
		 * journal) become its stdout. _exit(): nothing is buffered or
		 * registered yet for exit() to run. */
		if (got != fd) {
			if (fcntl(STDERR_FILENO, F_GETFD) >= 0)
				dprintf(STDERR_FILENO, "%s: unable to open /dev/null: %s\n", prog, strerror(errno));
			_exit(EXIT_UNKNOWN);
		}
	}
	signal(SIGPIPE, SIG_IGN);
}

bool environment_is_production(const char *env)
{
	return !env || (strcmp(env, "development") != 0 && strcmp(env, "staging") != 0);
}

void out_of_memory(void)
{
	/* No allocation here: the message is a constant. */
	fprintf(stderr, "%s: unable to allocate memory\n", prog);
	exit(EXIT_UNKNOWN);
}

void *emalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *ecalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *erealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory();
	return q;
}

char *estrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		out_of_memory();
	return p;
}

char *estrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		out_of_memory();
	return p;
}

char *evasprintf(const char *fmt, va_list ap)
{
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		out_of_memory();
	return s;
}

char *easprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = evasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = erealloc(b->data, cap);
	b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char probe[1];
	int n = vsnprintf(probe, sizeof probe, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *buf_take(struct buf *b)
{
	char *s = b->data ? b->data : estrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *double_text(double d, char *buf, size_t size)
{
	for (int precision = 15; precision <= 17; precision++) {
		snprintf(buf, size, "%.*g", precision, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return buf;
}

char *placeholders_fill(const char *s, const char *(*value)(void *ctx, const char *name), void *ctx,
			void (*put)(struct buf *b, const char *value), char **bad)
{
	struct buf b = {0};
	buf_puts(&b, "");
	for (const char *p = s;;) {
		const char *open = strstr(p, "{{"), *close = open ? strstr(open + 2, "}}") : NULL;
		if (!close) {
			buf_puts(&b, p);
			return buf_take(&b);
		}
		buf_append(&b, p, (size_t)(open - p));
		char *name = estrndup(open + 2, (size_t)(close - open - 2));
		const char *v = value(ctx, name);
		if (!v) {
			*bad = name;
			buf_free(&b);
			return NULL;
		}
		free(name);
		if (put)
			put(&b, v);
		else
			buf_puts(&b, v);
		p = close + 2;
	}
}

/* A path that names a descriptor this process already holds (stdin, or
 * bash's <(...)): its writer is the caller's own, as with stdin itself. */
static bool names_open_descriptor(const char *path)
{
	return strcmp(path, "/dev/stdin") == 0 || strncmp(path, "/dev/fd/", 8) == 0 ||
	       strncmp(path, "/proc/self/fd/", 14) == 0;
}

const char *read_file_error(int err)
{
	return err == EOPNOTSUPP ? "not a regular file" : strerror(err);
}

int read_file(const char *path, size_t max, char **out, size_t *len)
{
	int rc = -1, saved = 0;
	struct buf b = {0};
	/* O_NONBLOCK: opening a FIFO with no writer would wait forever */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		saved = errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		saved = EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !names_open_descriptor(path)) {
		saved = EOPNOTSUPP;
		goto out;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		saved = errno;
		goto out;
	}
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
		saved = EFBIG;
		goto out;
	}
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			saved = EFBIG;
			goto out;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	if (!b.data)
		buf_append(&b, "", 0);
	*len = b.len;
	*out = buf_take(&b);
	rc = 0;
out:
	buf_free(&b);
	close(fd);
	if (rc < 0)
		errno = saved;
	return rc;
}

static int stream_errno; /* the first failed write of a stream */

bool stream_flush(const char *what, const char *note)
{
	if (stream_errno)
		return false;
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return true;
	stream_errno = errno ? errno : EIO;
	fprintf(stderr, "%s: unable to write %s: %s%s%s%s\n", prog, what, strerror(stream_errno), note ? " (" : "",
		note ? note : "", note ? ")" : "");
	return false;
}

bool stream_failed(void)
{
	return stream_errno != 0;
}

int finish_stdout(int status)
{
	if (stream_errno) {
		fclose(stdout);
		return EXIT_UNKNOWN;
	}
	/* An earlier write may have failed already (ferror) with errno long
	 * since overwritten: only a failure seen here has a reason to name. */
	bool earlier = ferror(stdout);
	errno = 0;
	int reason = 0;
	if (fflush(stdout) != 0)
		reason = errno;
	if (fclose(stdout) != 0 && !reason)
		reason = errno;
	if (!reason && !earlier)
		return status;
	if (reason)
		fprintf(stderr, "%s: unable to write output: %s\n", prog, strerror(reason));
	else
		fprintf(stderr, "%s: unable to write output\n", prog);
	return EXIT_UNKNOWN;
}
