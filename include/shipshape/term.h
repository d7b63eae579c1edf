/* term.h — the terminal a tool writes to: whether a descriptor is one, how
 * wide it is, whether colour and UTF-8 may be used, and the one progress
 * line on stderr that a long wait redraws in place.
 *
 * The decisions, each from the environment at the time of the call:
 *   term_width   TIOCGWINSZ on fd, else $COLUMNS (digits only), else 80;
 *                bounded to TERM_WIDTH_MIN..TERM_WIDTH_MAX.
 *   term_colour  fd is a terminal, $TERM is set and not "dumb", and
 *                $NO_COLOR is unset or empty (no-color.org).
 *   term_utf8    the character set of the user's locale (LC_ALL, else
 *                LC_CTYPE, else LANG) is UTF-8. The tools never call
 *                setlocale(): they keep the C locale for their own byte
 *                handling, and this asks newlocale(LC_CTYPE_MASK, "")
 *                without changing the process's locale; a locale that is
 *                not installed is judged by its name. Under LC_ALL=C every
 *                byte a tool draws on the terminal is ASCII.
 *
 * The progress line (one per process: there is one stderr):
 *
 *     progress_start(a->std.quiet || a->std.verbose);
 *     while (waiting) {
 *             ... wait at most ~250 ms ...
 *             progress_show(STATUS_OK, "%ld/%ld requests", done, total);
 *     }
 *     progress_end();                 // the line is gone; print the result
 *
 * It is drawn only when stderr is a terminal and the caller is not quiet;
 * otherwise every call is a no-op, so a pipe or a file never sees a \r or
 * an escape sequence. Each draw is "\r", a mark (a spinner, coloured by the
 * status when colour is on), the time since progress_start(), the text,
 * then clear-to-end-of-line; at most PROGRESS_INTERVAL_MS apart (a call
 * sooner draws nothing); cut to the terminal's width less one column; a
 * control character in the text is drawn as "?", and so is a non-ASCII byte
 * unless the locale is UTF-8. progress_end() clears the line rather than
 * leaving it: what the tool prints next (its report) says how it ended.
 * Every message of message.c (warnx_, verbose, die, ...) calls
 * progress_clear() first, so no message lands in the middle of the line;
 * a tool that writes stdout to the same terminal mid-wait does the same. */
#ifndef SHIPSHAPE_TERM_H
#define SHIPSHAPE_TERM_H

#include <stdbool.h>
#include "shipshape/report.h"

#define TERM_WIDTH_DEFAULT 80
#define TERM_WIDTH_MIN 20
#define TERM_WIDTH_MAX 1000
#define PROGRESS_INTERVAL_MS 100

bool term_is_tty(int fd);
int term_width(int fd);
bool term_colour(int fd);
bool term_utf8(void);

/* Starts the progress line (not drawn yet) unless quiet or stderr is not a
 * terminal; its clock starts now. */
void progress_start(bool quiet);
/* Redraws the line with the text of fmt, its mark in the colour of st. */
void progress_show(enum status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the line off the screen; the next progress_show() draws at once. */
void progress_clear(void);
/* Clears the line and stops: progress_show() is a no-op until the next
 * progress_start(). */
void progress_end(void);

#endif
