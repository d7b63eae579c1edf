/* common.h — exit codes, diagnostics and allocation helpers shared by every tool.
 *
 * Ownership, for all of libcommon: a function that returns a pointer (char *,
 * cJSON *, struct *) hands ownership to the caller, who frees it with the
 * matching *_free() or free(); a function that takes a `const` pointer only
 * borrows it. Functions named e*() (emalloc, estrdup, ...) never return on
 * failure: they print "prog: unable to ..." and exit EXIT_UNKNOWN.
 *
 * Exits, for all of libcommon: only the e*() allocators (out_of_memory())
 * and die()/die_errno() end the process, and a tool's main() is what calls
 * die(). The one other place is tool_start(): it _exit()s EXIT_UNKNOWN when
 * /dev/null cannot be opened onto a closed fd 0, 1 or 2, as main()'s first
 * call, before anything is held. Every other function returns its error to
 * its caller (a forked child's _exit() aside); tests/hygiene.bats checks
 * the objects for any other call to exit(), _exit(), abort() or die(). */
#ifndef SHIPSHAPE_COMMON_H
#define SHIPSHAPE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef SHIPSHAPE_VERSION
#define SHIPSHAPE_VERSION "0.0.0"
#endif

/* The one table of exit statuses (see shipshape(7)). 0–3 follow the
 * monitoring-plugins convention. */
enum exit_status {
	EXIT_OK = 0,        /* ok / done */
	EXIT_WARNING = 1,   /* warning */
	EXIT_CRITICAL = 2,  /* critical / the action failed */
	EXIT_UNKNOWN = 3,   /* could not evaluate: internal error, own timeout */
	EXIT_USAGE = 64,    /* bad flags */
	EXIT_DATAERR = 65,  /* invalid input: malformed YAML/JSON, invalid config */
	EXIT_TEMPFAIL = 75, /* temporary: lock held, retry later */
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The program name used as the "prog: " prefix of every message. */
extern const char *prog;
void prog_set(const char *argv0);

/* Every tool's first call in main(): prog_set(argv0); /dev/null opened onto
 * any of fds 0, 1 and 2 that is closed, so that no file the tool opens later
 * (a lock, a journal, a socket) becomes its stdin, stdout or stderr; and
 * SIGPIPE ignored, so that a reader that is gone is a failed write (EPIPE)
 * that finish_stdout() reports, not death by signal. Subprocesses get the
 * default SIGPIPE back (subproc.c). Exits EXIT_UNKNOWN when /dev/null cannot
 * be opened. */
void tool_start(const char *argv0);

/* Verbosity: 0 normal, -1 quiet (warnings suppressed), 1+ verbose. */
extern int log_level;

void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "prog: message" and exits with status (in nagios mode, with the
 * status line and status 3 instead of 64/65/75: see error_status(), opts.h). */
void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Like die(), with ": strerror(errno)" appended. */
void die_errno(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Prints "prog: message" unconditionally (an error that the caller handles). */
void error_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For a function that reports its error in a caller's buffer: formats the
 * message into err (when err is not NULL and size not 0, truncated to size)
 * and returns -1, as in return errf(err, errsize, "invalid port \"%s\"", p). */
int errf(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The e*() helpers' exit: "prog: unable to allocate memory", EXIT_UNKNOWN.
 * Also for another library's allocation that failed (curl_url()). */
void out_of_memory(void) __attribute__((noreturn));
void *emalloc(size_t n);
void *ecalloc(size_t n, size_t size);
void *erealloc(void *p, size_t n);
char *estrdup(const char *s);
char *estrndup(const char *s, size_t n);
/* vasprintf() into a new string; the one place libcommon and the tools
 * format into an allocation. */
char *easprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *evasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A growable byte buffer, always NUL-terminated. */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the string and leaves b empty; the caller frees it. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

/* The shortest text ("%.15g" to "%.17g") that reads back as d, in buf
 * (32 bytes are enough); returns buf. The one way a double becomes text. */
const char *double_text(double d, char *buf, size_t size);

/* s with each {{name}} replaced by value(ctx, name), written by put (NULL:
 * as it is; e.g. url-encoded). Returns a new string, or NULL when value
 * gives NULL for a name, which is then in *bad (a new string). A "{{"
 * without its "}}" is text. The one placeholder filler: metric-check's
 * queries, deploy-stage e2e's steps. */
char *placeholders_fill(const char *s, const char *(*value)(void *ctx, const char *name), void *ctx,
			void (*put)(struct buf *b, const char *value), char **bad);

/* Reads a whole file (at most max bytes) into *out (NUL-terminated); returns 0
 * or -1 with errno set (EFBIG when larger than max, EISDIR for a directory).
 * Only a regular file is read, or a descriptor the caller already holds named
 * /dev/stdin, /dev/fd/N or /proc/self/fd/N (a pipe, as stdin or bash's <(...)
 * gives); anything else (a FIFO, a device, a socket) fails with EOPNOTSUPP
 * without waiting, so a FIFO that nobody writes cannot hang a tool. */
int read_file(const char *path, size_t max, char **out, size_t *len);
/* Why read_file() failed, for a message: "not a regular file" for
 * EOPNOTSUPP, else strerror(err). */
const char *read_file_error(int err);

/* Flushes and closes stdout; a failed write (a full disk, a reader that is
 * gone: EPIPE) is one error message and EXIT_UNKNOWN, never the status of a
 * run whose output was cut short. Call last, before returning status. A
 * failure stream_flush() reported already is not reported again. */
int finish_stdout(int status);
/* For a tool whose output is a stream of lines (health-watch's events,
 * alert-send's delivery records): flushes stdout after a line. The first
 * write that fails (EPIPE: the reader is gone; a full disk) is said once,
 * "prog: unable to write WHAT: reason" (then " (NOTE)" when note is not
 * NULL), and from then on returns false, as stream_failed() does: the
 * caller writes no more lines, and finish_stdout() returns EXIT_UNKNOWN. */
bool stream_flush(const char *what, const char *note);
bool stream_failed(void);

/* The dash that separates parts of a line of text output: an em dash where
 * the locale (LC_ALL, else LC_CTYPE, else LANG) is UTF-8, "-" elsewhere, so
 * a C or POSIX locale never shows the dash's bytes as garbage. It is
 * term.c's, by term_utf8()'s one decision (term.h). */
const char *text_dash(void);

/* Whether the config's "environment" gets production's rules: every name
 * but "development" and "staging", and none at all (a missing environment
 * or a typo such as "prd" must not relax them). cfg-resolve --check and
 * svc-probe's security checks follow this one rule. */
bool environment_is_production(const char *env);

#endif
