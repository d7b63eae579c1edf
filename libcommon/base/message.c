/* message.c — every line a tool prints on stderr ("prog: message", through
 * redaction), and how an error ends a run: die(), die_errno() and the plugin
 * contract for errors in nagios mode (nagios_mode(), error_status()), and
 * errf(), the one way to put an error message in a caller's buffer. */
#include "shipshape/common.h"
#include "shipshape/opts.h"
#include "shipshape/redact.h"
#include "shipshape/report.h"
#include "shipshape/term.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool in_nagios_mode;

bool nagios_mode(void)
{
	return in_nagios_mode;
}

void nagios_mode_set(bool on)
{
	in_nagios_mode = on;
}

int error_status(int status, const char *message)
{
	if (!in_nagios_mode)
		return status;
	/* 64, 65 and 75 are "out of bounds" to Nagios: an error is UNKNOWN,
	 * unless it is a warning or a failure already */
	enum status st = status == EXIT_WARNING || status == EXIT_CRITICAL ? (enum status)status : STATUS_UNKNOWN;
	nagios_print_status(stdout, prog, st, message ? message : "");
	putc('\n', stdout);
	fflush(stdout);
	return (int)st;
}

/* Every message goes through redaction: a secret that slipped into a
 * message (a URL with a password in an error) is masked here, once. */
static void vmessage(const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	char *clean = redact_vformat(fmt, ap);
	progress_clear(); /* a message never lands in the middle of the progress line */
	fprintf(stderr, "%s: %s%s%s%s\n", prog, prefix, clean, suffix ? ": " : "", suffix ? suffix : "");
	free(clean);
}

void warnx_(const char *fmt, ...)
{
	if (log_level < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmessage("warning: ", fmt, ap, NULL);
	va_end(ap);
}

void verbose(const char *fmt, ...)
{
	if (log_level < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmessage("", fmt, ap, NULL);
	va_end(ap);
}

void error_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("", fmt, ap, NULL);
	va_end(ap);
}

int errf(char *err, size_t size, const char *fmt, ...)
{
	if (err && size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* die() and die_errno(): the line on stderr, then the exit status the run's
 * mode gives the error (error_status(): in nagios mode the line is also the
 * status line on stdout). clean is freed: nothing allocated is held at exit. */
static void die_with(int status, char *clean, const char *suffix) __attribute__((noreturn));
static void die_with(int status, char *clean, const char *suffix)
{
	static char line[1024];
	progress_end();
	fprintf(stderr, "%s: %s%s%s\n", prog, clean, suffix ? ": " : "", suffix ? suffix : "");
	snprintf(line, sizeof line, "%s%s%s", clean, suffix ? ": " : "", suffix ? suffix : "");
	free(clean);
	exit(error_status(status, line));
}

void die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *clean = redact_vformat(fmt, ap);
	va_end(ap);
	die_with(status, clean, NULL);
}

void die_errno(int status, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	char *clean = redact_vformat(fmt, ap);
	va_end(ap);
	die_with(status, clean, strerror(saved));
}
