/* term.c — the terminal's width, colour and character set, and the
 * progress line on stderr (see term.h). It calls only units.c's clock, so
 * that message.c may call progress_clear() before every message. */
#include "shipshape/term.h"
#include "shipshape/common.h"
#include "shipshape/units.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

bool term_is_tty(int fd)
{
	return isatty(fd) == 1;
}

static int width_bounded(long cols)
{
	return cols < TERM_WIDTH_MIN ? TERM_WIDTH_MIN : cols > TERM_WIDTH_MAX ? TERM_WIDTH_MAX : (int)cols;
}

int term_width(int fd)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return width_bounded(ws.ws_col);
	/* $COLUMNS: decimal digits only ("80x" or "-1" is not a width) */
	const char *env = getenv("COLUMNS");
	if (env && *env && strspn(env, "0123456789") == strlen(env) && strlen(env) <= 6)
		return width_bounded(strtol(env, NULL, 10));
	return TERM_WIDTH_DEFAULT;
}

/* $TERM names a terminal that takes escape sequences. */
static bool term_ansi(void)
{
	const char *t = getenv("TERM");
	return t && *t && strcmp(t, "dumb") != 0;
}

bool term_colour(int fd)
{
	const char *no = getenv("NO_COLOR");
	return term_is_tty(fd) && term_ansi() && !(no && *no);
}

/* The locale's name as the C library would pick it for LC_CTYPE. */
static const char *ctype_name(void)
{
	const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		const char *v = getenv(names[i]);
		if (v && *v)
			return v;
	}
	return "";
}

bool term_utf8(void)
{
	locale_t loc = newlocale(LC_CTYPE_MASK, "", (locale_t)0);
	if (loc) {
		const char *set = nl_langinfo_l(CODESET, loc);
		bool utf8 = set && (strcasecmp(set, "UTF-8") == 0 || strcasecmp(set, "UTF8") == 0);
		freelocale(loc);
		return utf8;
	}
	/* not installed here: its name says what the terminal expects */
	const char *name = ctype_name();
	return strcasestr(name, "utf-8") || strcasestr(name, "utf8");
}

const char *text_dash(void)
{
	return term_utf8() ? "\u2014" : "-";
}

/* ---- the progress line ---- */

static struct {
	bool on;          /* progress_start() drew on a terminal */
	bool drawn;       /* a line is on the screen */
	bool utf8, colour, ansi;
	int64_t started_ms, drawn_ms;
	unsigned frame;   /* the spinner's */
	size_t drawn_cols; /* of the line on the screen, for a terminal without escapes */
} line;

void progress_start(bool quiet)
{
	memset(&line, 0, sizeof line);
	if (quiet || !term_is_tty(STDERR_FILENO))
		return;
	line.on = true;
	line.utf8 = term_utf8();
	line.colour = term_colour(STDERR_FILENO);
	line.ansi = term_ansi();
	line.started_ms = now_monotonic_ms();
}

/* Writes all of s to stderr; a terminal that fails a write ends the line. */
static void put(const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			line.on = line.drawn = false;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

/* The length of the UTF-8 character at s, or 0 when it is not a valid one
 * or is a C1 control character (U+0080..U+009F: CSI among them). */
static size_t utf8_char(const unsigned char *s)
{
	size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0 ? 0 : n;
}

/* Appends text to b, at most cols columns of it (one per character), each
 * control character or (not UTF-8) non-ASCII byte as "?"; the text cut
 * ends with an ellipsis. Returns the columns appended. */
static size_t put_fitted(struct buf *b, const char *text, size_t cols)
{
	const char *ell = line.utf8 ? "\u2026" : "...";
	size_t ell_cols = line.utf8 ? 1 : 3, used = 0;
	const unsigned char *p = (const unsigned char *)text;
	size_t total = 0;
	for (const unsigned char *q = p; *q; q += line.utf8 && utf8_char(q) ? utf8_char(q) : 1)
		total++;
	size_t room = total <= cols ? cols : cols > ell_cols ? cols - ell_cols : 0;
	while (*p && used < room) {
		size_t n = line.utf8 ? utf8_char(p) : 0;
		if (n)
			buf_append(b, p, n);
		else
			buf_putc(b, *p < 0x20 || *p >= 0x7f ? '?' : (char)*p);
		p += n ? n : 1;
		used++;
	}
	if (*p && cols >= ell_cols) {
		buf_puts(b, ell);
		used += ell_cols;
	}
	return used;
}

static void format_elapsed(int64_t ms, char *out, size_t size)
{
	if (ms < 60000)
		snprintf(out, size, "%lld.%llds", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
	else
		snprintf(out, size, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
}

static void draw(enum status st, const char *text, int64_t now)
{
	static const char *const spin_utf8[] = {"\u280b", "\u2819", "\u2839", "\u2838", "\u283c",
						"\u2834", "\u2826", "\u2827", "\u2807", "\u280f"};
	static const char *const spin_ascii[] = {"|", "/", "-", "\\"};
	static const char *const colours[] = {"\033[32m", "\033[33m", "\033[31m", ""};
	size_t cols = (size_t)term_width(STDERR_FILENO) - 1, used;
	char elapsed[32];
	format_elapsed(now - line.started_ms, elapsed, sizeof elapsed);
	struct buf b = {0};
	buf_putc(&b, '\r');
	bool tint = line.colour && st >= STATUS_OK && st < STATUS_UNKNOWN;
	if (tint)
		buf_puts(&b, colours[st]);
	buf_puts(&b, line.utf8 ? spin_utf8[line.frame % ARRAY_LEN(spin_utf8)]
			       : spin_ascii[line.frame % ARRAY_LEN(spin_ascii)]);
	if (tint)
		buf_puts(&b, "\033[0m");
	buf_printf(&b, " %s  ", elapsed);
	used = 4 + strlen(elapsed); /* the mark, a space, the time, two spaces */
	used += put_fitted(&b, text, cols > used ? cols - used : 0);
	if (line.ansi)
		buf_puts(&b, "\033[K");
	for (size_t c = used; !line.ansi && c < line.drawn_cols; c++)
		buf_putc(&b, ' ');
	put(b.data, b.len);
	buf_free(&b);
	line.drawn = line.on;
	line.drawn_cols = used;
	line.drawn_ms = now;
	line.frame++;
}

void progress_show(enum status st, const char *fmt, ...)
{
	if (!line.on)
		return;
	int64_t now = now_monotonic_ms();
	if (line.drawn && now - line.drawn_ms < PROGRESS_INTERVAL_MS)
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	draw(st, text, now);
}

void progress_clear(void)
{
	if (!line.drawn)
		return;
	line.drawn = false;
	if (line.ansi) {
		put("\r\033[K", 4);
		return;
	}
	struct buf b = {0};
	buf_putc(&b, '\r');
	for (size_t c = 0; c < line.drawn_cols; c++)
		buf_putc(&b, ' ');
	buf_putc(&b, '\r');
	put(b.data, b.len);
	buf_free(&b);
}

void progress_end(void)
{
	progress_clear();
	line.on = false;
}
