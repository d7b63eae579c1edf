/* diag.c — located diagnostics for config files: "prog: file:line:col: msg". */
#include "shipshape/config.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A diagnostic is one line: a line break or another control character
 * (from a key, a value or a ${VAR?message} written over several lines)
 * is shown escaped, so it can neither split the message nor drive the
 * terminal. */
static void one_line(struct buf *b)
{
	const unsigned char *p = (const unsigned char *)b->data;
	while (*p && (*p >= 0x20 || *p == '\t') && *p != 0x7f)
		p++;
	if (!*p)
		return;
	struct buf clean = {0};
	for (p = (const unsigned char *)b->data; *p; p++) {
		if (*p == '\n')
			buf_puts(&clean, "\\n");
		else if (*p == '\r')
			buf_puts(&clean, "\\r");
		else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			buf_printf(&clean, "\\x%02x", *p);
		else
			buf_putc(&clean, (char)*p);
	}
	buf_free(b);
	*b = clean;
}

static void diag_emit(struct diag *d, bool is_error, const char *file, int line, int col,
		      const char *fmt, va_list ap)
{
	char *msg = redact_vformat(fmt, ap);
	struct buf full = {0};
	if (file && line > 0 && col > 0)
		buf_printf(&full, "%s:%d:%d: ", file, line, col);
	else if (file && line > 0)
		buf_printf(&full, "%s:%d: ", file, line);
	else if (file)
		buf_printf(&full, "%s: ", file);
	buf_printf(&full, "%s%s", is_error ? "" : "warning: ", msg);
	one_line(&full);
	snprintf(d->last, sizeof d->last, "%s", full.data);
	if (is_error && d->errors == 0)
		snprintf(d->first, sizeof d->first, "%s", full.data);
	if (is_error)
		d->errors++;
	else
		d->warnings++;
	if (!d->silent && (is_error || log_level >= 0))
		fprintf(stderr, "%s: %s\n", prog, full.data);
	buf_free(&full);
	free(msg);
}

void diag_error(struct diag *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_emit(d, true, file, line, col, fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_emit(d, false, file, line, col, fmt, ap);
	va_end(ap);
}
