/* envfile.c — the .env reader, by Docker Compose's rules: it fills an
 * env_store (env_store.c) and expands templates in values (tmpl.c). */
#include "shipshape/config.h"
#include "shipshape/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENVFILE_MAX_SIZE (1u << 20) /* 1 MiB */
#define ENVFILE_MAX_LINE 65536      /* bytes in one physical line */
/* The store is searched linearly; a .env with more variables than this is
 * not a configuration but an accident (or an attack on that search). */
#define ENV_MAX_VARS 10000

/* ---- the .env reader ---- */

struct reader {
	struct env_store *e;
	struct diag *d;
	const char *path;       /* interned */
	const char *p, *end;    /* the cursor */
	const char *line_start; /* of the cursor's line */
	int line;
	bool failed;
	bool failed_full; /* "more than ENV_MAX_VARS" said once */
};

/* Compose's blank inside a line: a line break is not one. */
static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static bool is_name_start(char ch)
{
	return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_name_char(char ch)
{
	return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

/* Column of `at` on the cursor's line, in characters. */
static int column(const struct reader *r, const char *at)
{
	int col = 1;
	for (const char *p = r->line_start; p < at; p++)
		if (((unsigned char)*p & 0xC0) != 0x80)
			col++;
	return col;
}

static const char *line_end(const struct reader *r, const char *from)
{
	const char *nl = memchr(from, '\n', (size_t)(r->end - from));
	return nl ? nl : r->end;
}

/* A malformed line: reported at the cursor's line and at's column. */
__attribute__((format(printf, 3, 4))) static void bad_line(struct reader *r, const char *at,
							     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = evasprintf(fmt, ap);
	va_end(ap);
	diag_error(r->d, r->path, r->line, at ? column(r, at) : 0, "%s", msg);
	free(msg);
	r->failed = true;
}

/* Moves the cursor to `to`, counting the line breaks passed. */
static void advance(struct reader *r, const char *to)
{
	for (const char *p = r->p; p < to; p++) {
		if (*p == '\n') {
			r->line++;
			r->line_start = p + 1;
		}
	}
	r->p = to;
}

static char *expand_value(struct reader *r, const char *text, int line, int col)
{
	/* .env files are where secrets live: no message quotes a value. */
	struct tmpl_ctx c = {.env = r->e, .diag = r->d, .file = r->path, .line = line, .col = col,
			     .secret = true};
	char *out = tmpl_expand(text, &c);
	free(c.origin);
	if (!out)
		r->failed = true;
	return out;
}

/* An unquoted value: the rest of the line, trimmed, up to an inline comment
 * (whitespace then "#"; a "#" inside a word is part of the value). */
static char *unquoted_value(struct reader *r, const char *v, bool expand)
{
	const char *eol = line_end(r, v), *stop = v;
	while (stop < eol && !(stop > v && *stop == '#' && (stop[-1] == ' ' || stop[-1] == '\t')))
		stop++;
	while (stop > v && is_blank(stop[-1]))
		stop--;
	char *raw = estrndup(v, (size_t)(stop - v));
	char *value = expand ? expand_value(r, raw, r->line, column(r, v)) : NULL;
	free(raw);
	advance(r, eol);
	return value;
}

/* A quoted value from the quote at q, possibly over several lines. Single
 * quotes are literal; double quotes take escapes, then templates. As in
 * Compose, a backslash before the closing quote character escapes it in
 * either kind. Leaves the cursor at the end of the closing quote's line. */
static char *quoted_value(struct reader *r, const char *q, bool expand)
{
	char quote = *q;
	int line = r->line, col = column(r, q);
	struct buf b = {0};
	const char *p = q + 1;
	for (; p < r->end && *p != quote; p++) {
		if (*p != '\\' || p + 1 >= r->end) {
			buf_putc(&b, *p);
			continue;
		}
		char next = *++p;
		if (next == quote) {
			buf_putc(&b, quote);
			continue;
		}
		if (quote == '\'') {
			buf_putc(&b, '\\');
			buf_putc(&b, next);
			continue;
		}
		switch (next) {
		case 'n': buf_putc(&b, '\n'); break;
		case 't': buf_putc(&b, '\t'); break;
		case 'r': buf_putc(&b, '\r'); break;
		case 'a': buf_putc(&b, '\a'); break;
		case 'b': buf_putc(&b, '\b'); break;
		case 'f': buf_putc(&b, '\f'); break;
		case 'v': buf_putc(&b, '\v'); break;
		case '\\': buf_putc(&b, '\\'); break;
		case '$': buf_puts(&b, "$$"); break; /* a literal "$": escaped for the expander */
		default:
			buf_putc(&b, '\\');
			buf_putc(&b, next);
		}
	}
	if (p >= r->end) {
		diag_error(r->d, r->path, line, col, "unterminated quoted value");
		r->failed = true;
		buf_free(&b);
		advance(r, r->end);
		return NULL;
	}
	advance(r, p + 1);
	/* Only blanks or a comment may follow the closing quote. */
	const char *rest = r->p, *eol = line_end(r, rest);
	while (rest < eol && is_blank(*rest))
		rest++;
	bool trailing = rest < eol && *rest != '#';
	if (trailing)
		bad_line(r, rest, "unexpected text after the closing quote");
	char *value = NULL;
	if (expand && !trailing) {
		/* Positions after an escape sequence are approximate: the
		 * expander sees the text with its escapes already resolved. */
		value = quote == '"' ? expand_value(r, b.data ? b.data : "", line, col + 1)
				     : buf_take(&b);
	}
	buf_free(&b);
	advance(r, eol);
	return value;
}

static void set_var(struct reader *r, const char *name, const char *value, int line, int col)
{
	if (!env_store_has(r->e, name) && r->e->n >= ENV_MAX_VARS) {
		if (!r->failed_full)
			diag_error(r->d, r->path, line, col, "more than %d variables", ENV_MAX_VARS);
		r->failed = r->failed_full = true;
		return;
	}
	env_store_set(r->e, name, value, (struct cfg_loc){r->path, line, col});
}

/* One statement: [export ]NAME=VALUE, NAME: VALUE, or a bare NAME. */
static void statement(struct reader *r)
{
	const char *s = r->p, *eol = line_end(r, s);
	int line = r->line, col = column(r, s);
	if (eol - s > 6 && memcmp(s, "export", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
		s += 6;
		while (s < eol && is_blank(*s))
			s++;
	}
	const char *sep = s;
	while (sep < eol && *sep != '=' && *sep != ':')
		sep++;
	const char *key_end = sep;
	while (key_end > s && is_blank(key_end[-1]))
		key_end--;
	const char *bad = NULL;
	for (const char *k = s; k < key_end && !bad; k++)
		if (k == s ? !is_name_start(*k) : !is_name_char(*k))
			bad = k;

	if (sep == eol) {
		/* A bare name takes its value from the real environment. */
		if (bad || key_end == s) {
			bad_line(r, s, "expected NAME=VALUE (a line without \"=\" is a variable name "
				       "to take from the environment)");
		} else if (r->e->use_environ) {
			char *name = estrndup(s, (size_t)(key_end - s));
			const char *v = getenv(name);
			if (v)
				set_var(r, name, v, line, col);
			free(name);
		}
		advance(r, eol);
		return;
	}

	if (key_end == s)
		bad_line(r, sep, "missing variable name before \"%s\"", *sep == '=' ? "=" : ":");
	else if (bad && (*bad == ' ' || *bad == '\t'))
		bad_line(r, bad, "variable name contains a space");
	else if (bad)
		bad_line(r, bad, "invalid variable name (letters, digits and _, not starting "
				 "with a digit)");
	bool ok = key_end > s && !bad;

	const char *v = sep + 1;
	while (v < eol && is_blank(*v))
		v++;
	advance(r, v);
	char *value = v < r->end && (*v == '"' || *v == '\'') ? quoted_value(r, v, ok)
							     : unquoted_value(r, v, ok);
	if (ok && value) {
		char *name = estrndup(s, (size_t)(key_end - s));
		set_var(r, name, value, line, col);
		free(name);
	}
	free(value);
}

int envfile_load(struct env_store *e, const char *path, struct diag *d)
{
	const char *file = cfg_intern(path);
	char *data = NULL;
	size_t len = 0;
	if (read_file(path, ENVFILE_MAX_SIZE, &data, &len) < 0) {
		if (errno == EFBIG)
			diag_error(d, file, 0, 0, "env file larger than %u bytes", ENVFILE_MAX_SIZE);
		else
			diag_error(d, file, 0, 0, "unable to read env file: %s", read_file_error(errno));
		return -1;
	}
	struct reader r = {.e = e, .d = d, .path = file, .p = data, .end = data + len,
			   .line_start = data, .line = 1};

	const char *nul = memchr(data, '\0', len);
	if (nul) {
		advance(&r, nul);
		bad_line(&r, nul, "NUL byte: not a text file");
		free(data);
		return -1;
	}
	/* Long lines are reported, then read like the others. */
	for (const char *p = data; p < r.end;) {
		const char *nl = memchr(p, '\n', (size_t)(r.end - p));
		const char *stop = nl ? nl : r.end;
		if (stop - p > ENVFILE_MAX_LINE) {
			advance(&r, p);
			diag_error(d, file, r.line, 0, "line longer than %d bytes", ENVFILE_MAX_LINE);
			r.failed = true;
		}
		p = nl ? nl + 1 : r.end;
	}
	r.p = r.line_start = data;
	r.line = 1;
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		r.p = r.line_start = data + 3; /* a UTF-8 byte order mark */

	for (;;) {
		const char *p = r.p;
		while (p < r.end && (is_blank(*p) || *p == '\n'))
			p++;
		advance(&r, p);
		if (r.p >= r.end)
			break;
		if (*r.p == '#')
			advance(&r, line_end(&r, r.p));
		else
			statement(&r);
	}
	free(data);
	return r.failed ? -1 : 0;
}
