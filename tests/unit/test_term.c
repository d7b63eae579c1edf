/* test_term.c — unit tests for term.c: the width, colour and UTF-8
 * decisions from the environment, on a pipe and on a real pseudo-terminal,
 * and the bytes the progress line draws there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "shipshape/common.h"
#include "shipshape/term.h"
#include "shipshape/units.h"

/* NULL: unset. */
static void env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

struct pty {
	int master, slave;
};

/* A pseudo-terminal of cols columns (0: no size set). */
static struct pty pty_open(unsigned short cols)
{
	struct pty t;
	t.master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(t.master >= 0);
	assert_int_equal(grantpt(t.master), 0);
	assert_int_equal(unlockpt(t.master), 0);
	t.slave = open(ptsname(t.master), O_RDWR | O_NOCTTY);
	assert_true(t.slave >= 0);
	struct winsize ws = {.ws_row = 24, .ws_col = cols};
	assert_int_equal(ioctl(t.slave, TIOCSWINSZ, &ws), 0);
	return t;
}

static void pty_close(struct pty *t)
{
	close(t->slave);
	close(t->master);
}

static void test_width(void **state)
{
	(void)state;
	static const struct { const char *columns; unsigned short pty_cols; int want; } cases[] = {
		{NULL, 0, 80},       {"40", 0, 40},    {"", 0, 80},       {"abc", 0, 80},
		{"40x", 0, 80},      {"-5", 0, 80},    {"5", 0, TERM_WIDTH_MIN},
		{"99999", 0, TERM_WIDTH_MAX},          {"123456789012", 0, 80},
		/* the terminal's own size wins over $COLUMNS */
		{"100", 33, 33},     {NULL, 132, 132}, {NULL, 3, TERM_WIDTH_MIN}, {"60", 5000, TERM_WIDTH_MAX},
	};
	int devnull = open("/dev/null", O_WRONLY);
	assert_true(devnull >= 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		env("COLUMNS", cases[i].columns);
		struct pty t = pty_open(cases[i].pty_cols);
		int got = term_width(cases[i].pty_cols ? t.slave : devnull);
		pty_close(&t);
		if (got != cases[i].want)
			fail_msg("COLUMNS=%s, pty %u: %d, want %d", cases[i].columns ? cases[i].columns : "(unset)",
				 cases[i].pty_cols, got, cases[i].want);
	}
	/* a terminal with no size set: $COLUMNS */
	env("COLUMNS", "50");
	struct pty t = pty_open(0);
	assert_int_equal(term_width(t.slave), 50);
	assert_true(term_is_tty(t.slave));
	assert_false(term_is_tty(devnull));
	pty_close(&t);
	close(devnull);
	env("COLUMNS", NULL);
}

static void test_colour(void **state)
{
	(void)state;
	static const struct { const char *term, *no_color; bool tty, want; } cases[] = {
		{"xterm", NULL, true, true},   {"xterm", "", true, true},   {"xterm", "1", true, false},
		{"xterm", "0", true, false},   {"dumb", NULL, true, false}, {NULL, NULL, true, false},
		{"", NULL, true, false},       {"xterm", NULL, false, false},
	};
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		env("TERM", cases[i].term);
		env("NO_COLOR", cases[i].no_color);
		struct pty t = pty_open(80);
		bool got = term_colour(cases[i].tty ? t.slave : fds[1]);
		pty_close(&t);
		if (got != cases[i].want)
			fail_msg("TERM=%s NO_COLOR=%s on a %s: %d", cases[i].term ? cases[i].term : "(unset)",
				 cases[i].no_color ? cases[i].no_color : "(unset)", cases[i].tty ? "terminal" : "pipe", got);
	}
	close(fds[0]);
	close(fds[1]);
}

static void test_utf8(void **state)
{
	(void)state;
	static const struct { const char *all, *ctype, *lang; bool want; } cases[] = {
		{NULL, NULL, NULL, false},            {"C", NULL, "C.UTF-8", false},
		{"C.UTF-8", NULL, NULL, true},        {"", NULL, "C.UTF-8", true},
		{NULL, "POSIX", "C.UTF-8", false},    {NULL, "C.utf8", "C", true},
		/* not installed: judged by the name */
		{NULL, "xx_XX.UTF-8", NULL, true},    {NULL, NULL, "xx_XX.ISO-8859-1", false},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		env("LC_ALL", cases[i].all);
		env("LC_CTYPE", cases[i].ctype);
		env("LANG", cases[i].lang);
		if (term_utf8() != cases[i].want)
			fail_msg("case %zu: term_utf8() %d", i, !cases[i].want);
		assert_string_equal(text_dash(), cases[i].want ? "\u2014" : "-");
	}
}

/* Runs progress_start(quiet) with stderr on t's slave (or on a pipe when t
 * is NULL), then draw(); returns what arrived (a new string). */
static char *drawn(struct pty *t, bool quiet, void (*draw)(void))
{
	int fds[2] = {-1, -1};
	assert_int_equal(pipe(fds), 0);
	int saved = dup(STDERR_FILENO);
	dup2(t ? t->slave : fds[1], STDERR_FILENO);
	progress_start(quiet);
	draw();
	progress_end();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	int from = t ? t->master : fds[0];
	fcntl(from, F_SETFL, O_NONBLOCK);
	struct buf b = {0};
	char chunk[4096];
	ssize_t n;
	while ((n = read(from, chunk, sizeof chunk)) > 0)
		buf_append(&b, chunk, (size_t)n);
	close(fds[0]);
	return b.data ? buf_take(&b) : estrdup("");
}

static void draw_long(void)
{
	progress_show(STATUS_WARNING, "%s: 10 of 20 requests, caf\u00e9 \033[31mred\033[0m, %s", "load",
		      "a tail long enough to be cut at any width below a hundred columns or so, surely");
	progress_show(STATUS_OK, "a second draw within the interval: not drawn");
}

/* The columns of the line drawn last in s: its characters after the last
 * \r, escape sequences aside. */
static size_t last_line_cols(const char *s)
{
	const char *p = strrchr(s, '\r');
	size_t cols = 0;
	for (p = p ? p + 1 : s; *p; p++) {
		if (*p == '\033') {
			while (*p && !(*p >= 'A' && *p <= 'Z') && !(*p >= 'a' && *p <= 'z' && *p != '['))
				p++;
			if (!*p)
				break;
			continue;
		}
		if (((unsigned char)*p & 0xc0) != 0x80)
			cols++;
	}
	return cols;
}

static void test_progress_terminal(void **state)
{
	(void)state;
	env("TERM", "xterm");
	env("NO_COLOR", NULL);
	env("LC_ALL", "C.UTF-8");
	struct pty t = pty_open(60);
	char *out = drawn(&t, false, draw_long);
	/* drawn in place, the mark in the warning's colour, cut with an ellipsis */
	assert_non_null(strstr(out, "\r\033[33m"));
	assert_non_null(strstr(out, "load: 10 of 20"));
	assert_non_null(strstr(out, "caf\u00e9 ?[31mred"));
	assert_non_null(strstr(out, "\u2026\033[K"));
	assert_null(strstr(out, "second draw"));
	/* the line at 60 columns less one, then cleared at the end */
	char *end = strstr(out, "\033[K");
	assert_non_null(end);
	*end = '\0';
	assert_int_equal(last_line_cols(out), 59);
	assert_string_equal(end + 3, "\r\033[K");
	free(out);
	pty_close(&t);
}

static void test_progress_plain(void **state)
{
	(void)state;
	/* NO_COLOR and a C locale: no colour, ASCII only */
	env("TERM", "xterm");
	env("NO_COLOR", "1");
	env("LC_ALL", "C");
	struct pty t = pty_open(60);
	char *out = drawn(&t, false, draw_long);
	assert_non_null(strstr(out, "load: 10 of 20"));
	assert_null(strstr(out, "\033[3"));
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p >= 0x80)
			fail_msg("a non-ASCII byte 0x%02x under LC_ALL=C", (unsigned char)*p);
	assert_non_null(strstr(out, "caf?? ?[31mred"));
	assert_non_null(strstr(out, "...\033[K"));
	free(out);
	pty_close(&t);
	/* a dumb terminal: no escape at all, the line erased with spaces */
	env("TERM", "dumb");
	t = pty_open(40);
	out = drawn(&t, false, draw_long);
	assert_null(strchr(out, '\033'));
	assert_non_null(strstr(out, "load: 10 of 20"));
	char *clear = strchr(out + 1, '\r');
	assert_non_null(clear);
	assert_int_equal(strspn(clear + 1, " "), 39);
	assert_string_equal(clear + 1 + 39, "\r");
	*clear = '\0';
	assert_int_equal(last_line_cols(out), 39);
	free(out);
	pty_close(&t);
	env("NO_COLOR", NULL);
	env("LC_ALL", NULL);
}

static void test_progress_off(void **state)
{
	(void)state;
	env("TERM", "xterm");
	/* quiet on a terminal, and not quiet on a pipe: nothing */
	struct pty t = pty_open(80);
	char *out = drawn(&t, true, draw_long);
	assert_string_equal(out, "");
	free(out);
	pty_close(&t);
	out = drawn(NULL, false, draw_long);
	assert_string_equal(out, "");
	free(out);
	/* after progress_end(): nothing either */
	progress_show(STATUS_OK, "not drawn");
	progress_clear();
}

static void draw_twice(void)
{
	progress_show(STATUS_OK, "first");
	sleep_ms(PROGRESS_INTERVAL_MS + 20);
	progress_show(STATUS_CRITICAL, "second");
	progress_clear();
	progress_show(STATUS_UNKNOWN, "third, at once after a clear");
}

static void test_progress_throttle(void **state)
{
	(void)state;
	env("TERM", "xterm");
	env("NO_COLOR", NULL);
	env("LC_ALL", "C");
	struct pty t = pty_open(80);
	char *out = drawn(&t, false, draw_twice);
	const char *first = strstr(out, "first"), *second = strstr(out, "second");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(second > first);
	assert_non_null(strstr(out, "\r\033[31m"));
	assert_non_null(strstr(out, "\r\033[K\r- 0."));
	assert_non_null(strstr(out, "third, at once"));
	free(out);
	pty_close(&t);
	env("LC_ALL", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width),          cmocka_unit_test(test_colour),
		cmocka_unit_test(test_utf8),           cmocka_unit_test(test_progress_terminal),
		cmocka_unit_test(test_progress_plain), cmocka_unit_test(test_progress_off),
		cmocka_unit_test(test_progress_throttle),
	};
	return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}
