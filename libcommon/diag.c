/* diag.c — located diagnostics for config files: "prog: file:line:col: msg". */
#include "shipshape/config.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	snprintf(d->last, sizeof d->last, "%s", full.data);
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
