/* tmpl.c — ${VAR} interpolation in config strings, by Docker Compose's rules. */
#include "shipshape/config.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting of ${A:-${B:-...}} is an error: the expander recurses once
 * per level, and a hostile string must not exhaust the stack. */
#define TMPL_MAX_DEPTH 64

struct expander {
	struct tmpl_ctx *c;
	struct diag *d;
	const char *base; /* the whole input: positions are counted from here */
	struct buf used;  /* "NAME from ORIGIN, ..." for c->origin */
	bool failed;
	const char *mark; /* the last position located, and its line and column */
	int mark_line, mark_col;
	bool mark_known;
	int in_message; /* inside the message of ${VAR?message}: secrets show as *** */
	tmpl_ref_fn on_ref; /* tmpl_scan(): called for every reference */
	void *ref_arg;
};

static bool is_name_start(char ch)
{
	return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_name_char(char ch)
{
	return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

/* The file position of `at`: a newline in the string starts a new line at
 * column 1; columns count characters (UTF-8 continuation bytes are skipped),
 * as the YAML loader counts them. A string not from a file has no position.
 * The last answer is kept, so that a string with thousands of unset
 * variables is not rescanned from its start for each warning. */
static void locate(struct expander *x, const char *at, int *line, int *col)
{
	const struct tmpl_ctx *c = x->c;
	if (c->line <= 0) {
		*line = *col = 0;
		return;
	}
	if (!x->mark || at < x->mark) {
		x->mark = x->base;
		x->mark_line = c->line;
		x->mark_col = c->col > 0 ? c->col : 1;
		x->mark_known = c->col > 0;
	}
	for (const char *p = x->mark; p < at; p++) {
		if (*p == '\n') {
			x->mark_line++;
			x->mark_col = 1;
			x->mark_known = true;
		} else if (((unsigned char)*p & 0xC0) != 0x80) {
			x->mark_col++;
		}
	}
	x->mark = at;
	*line = x->mark_line;
	*col = x->mark_known ? x->mark_col : 0;
}

static void invalid_template(struct expander *x, const char *dollar, const char *stop,
			     const char *why)
{
	int line, col;
	locate(x, dollar, &line, &col);
	/* Quote the template itself, not the whole value: one line, bounded. */
	size_t n = (size_t)(stop - dollar);
	const char *nl = memchr(dollar, '\n', n);
	if (nl)
		n = (size_t)(nl - dollar);
	bool cut = n > 60 || nl;
	if (n > 60)
		n = 60;
	if (x->c->secret)
		diag_error(x->d, x->c->file, line, col, "invalid template (%s; the value is secret, not shown)",
			   why);
	else
		diag_error(x->d, x->c->file, line, col, "invalid template: \"%.*s%s\" (%s)", (int)n,
			   dollar, cut ? "..." : "", why);
	x->failed = true;
}

static void unset_variable(struct expander *x, const char *dollar, const char *name)
{
	int line, col;
	locate(x, dollar, &line, &col);
	if (x->c->strict) {
		diag_error(x->d, x->c->file, line, col, "variable \"%s\" is not set and has no default",
			   name);
		x->failed = true;
	} else {
		diag_warn(x->d, x->c->file, line, col, "variable \"%s\" is not set, using an empty string",
			  name);
	}
}

/* Whether the ", "-separated list holds entry as one whole item. */
static bool listed(const char *list, const char *entry)
{
	size_t n = strlen(entry);
	for (const char *p = list; p && (p = strstr(p, entry)); p++) {
		bool starts = p == list || (p - list >= 2 && p[-2] == ',' && p[-1] == ' ');
		bool ends = p[n] == '\0' || (p[n] == ',' && p[n + 1] == ' ');
		if (starts && ends)
			return true;
	}
	return false;
}

static void note_origin(struct expander *x, const char *name, const char *origin)
{
	char *entry = easprintf("%s from %s", name, origin ? origin : "unknown");
	if (!listed(x->used.data, entry) && !listed(x->c->origin, entry)) {
		if (x->used.len)
			buf_puts(&x->used, ", ");
		buf_puts(&x->used, entry);
	}
	free(entry);
}

/* The value of name (NULL when unset), with where it came from. Without an
 * env store only the real environment is consulted. */
static const char *lookup(const struct expander *x, const char *name, char **origin)
{
	if (x->c->env)
		return env_store_get(x->c->env, name, origin);
	const char *v = getenv(name);
	*origin = v ? easprintf("environment variable %s", name) : NULL;
	return v;
}

/* Puts the value of the variable name into out. A secret's variable (see
 * config.h) is registered first, so that no later message can print it,
 * and is masked inside a message: a message is text for people. */
static void put_value(struct expander *x, struct buf *out, const char *name, const char *val)
{
	bool named_secret = x->c->secret || redact_key_looks_secret(name);
	if (named_secret)
		redact_register(val);
	bool secret = named_secret || redact_contains_secret(val);
	if (x->in_message && secret) {
		buf_puts(out, REDACTED);
		return;
	}
	if (secret && !x->in_message)
		x->c->used_secret = true;
	buf_puts(out, val);
}

static void expand(struct expander *x, const char *s, const char *end, struct buf *out, int depth);

/* Compose finds the end of ${...} by counting "${" openings against "}":
 * braces nest only through templates, so "${A:-{x}}" ends at the first "}". */
static const char *closing_brace(const char *dollar, const char *end)
{
	int open = 0;
	for (const char *p = dollar; p < end; p++) {
		if (*p == '}' && --open == 0)
			return p;
		if (*p == '$' && p + 1 < end && p[1] == '{') {
			open++;
			p++;
		}
	}
	return NULL;
}

/* One ${...}, as parsed. */
struct braced_template {
	const char *dollar, *close; /* its "${" and its "}" */
	const char *name;
	size_t name_len;
	bool colon;       /* ":-", ":?", ":+": an empty value counts as unset too */
	char op;          /* '-', '?' or '+'; 0 for a bare ${NAME} */
	const char *word; /* default, message or replacement: [word, close) */
};

/* Reads the name and the operator of t. Returns what is wrong, or NULL. */
static const char *parse_braced(struct braced_template *t)
{
	const char *p = t->dollar + 2;
	t->name = p;
	if (p == t->close)
		return "no variable name";
	if (!is_name_start(*p))
		return "a variable name starts with a letter or _";
	while (p < t->close && is_name_char(*p))
		p++;
	t->name_len = (size_t)(p - t->name);
	if (p < t->close) {
		if (*p == ':') {
			t->colon = true;
			p++;
		}
		if (p < t->close && (*p == '-' || *p == '?' || *p == '+'))
			t->op = *p++;
		else
			return "expected :- - :? ? :+ or + after the name";
	}
	t->word = p;
	return NULL;
}

/* ${VAR?message} with VAR missing: an error carrying the message, expanded
 * with secrets masked. */
static void required_missing(struct expander *x, const struct braced_template *t, const char *var,
			     int depth)
{
	struct buf msg = {0};
	unsigned before = x->d->errors;
	x->in_message++;
	expand(x, t->word, t->close, &msg, depth + 1);
	x->in_message--;
	/* An error inside the message is the one to report. */
	if (x->d->errors == before) {
		int line, col;
		locate(x, t->dollar, &line, &col);
		if (msg.len)
			diag_error(x->d, x->c->file, line, col,
				   "required variable %s is missing a value: %s", var, msg.data);
		else
			diag_error(x->d, x->c->file, line, col,
				   "required variable %s is missing a value", var);
	}
	x->failed = true;
	buf_free(&msg);
}

/* Puts what t stands for into out (NULL: checks syntax only); val is the
 * value of var, NULL when unset. The word is parsed whether or not it is
 * used. */
static void expand_braced(struct expander *x, const struct braced_template *t, const char *var,
			  const char *val, struct buf *out, int depth)
{
	bool set = val != NULL;
	bool present = set && (!t->colon || *val);
	switch (t->op) {
	case 0:
		if (out && set)
			put_value(x, out, var, val);
		else if (out)
			unset_variable(x, t->dollar, var);
		break;
	case '-':
		if (out && present)
			put_value(x, out, var, val);
		expand(x, t->word, t->close, out && !present ? out : NULL, depth + 1);
		break;
	case '?':
		if (out && !present) {
			required_missing(x, t, var, depth);
			break;
		}
		if (out)
			put_value(x, out, var, val);
		expand(x, t->word, t->close, NULL, depth + 1);
		break;
	case '+':
		/* Not present: the result is the (empty or absent) value, i.e. "". */
		expand(x, t->word, t->close, out && present ? out : NULL, depth + 1);
		break;
	}
}

/* Tells tmpl_scan()'s caller about the reference t, at nesting depth. */
static void note_ref(struct expander *x, const struct braced_template *t, int depth)
{
	struct tmpl_ref ref = {.name = t->name, .name_len = t->name_len, .op = t->op, .colon = t->colon,
			       .word = t->word, .word_len = t->word ? (size_t)(t->close - t->word) : 0,
			       .depth = depth};
	locate(x, t->dollar, &ref.line, &ref.col);
	x->on_ref(&ref, x->ref_arg);
}

/* Expands the braced template at dollar ("${"). out == NULL checks syntax
 * only: the branch of a template that is not taken (the default of a set
 * variable) is still parsed, so a typo there is found before the day the
 * variable goes missing, but it neither warns nor fails on variables.
 * Returns where scanning resumes, or NULL when the template never ends. */
static const char *braced(struct expander *x, const char *dollar, const char *end, struct buf *out,
			  int depth)
{
	struct braced_template t = {.dollar = dollar, .close = closing_brace(dollar, end)};
	if (!t.close) {
		invalid_template(x, dollar, end, "no closing brace");
		return NULL;
	}
	const char *why = parse_braced(&t);
	if (!why && depth >= TMPL_MAX_DEPTH)
		why = "templates nested too deeply";
	if (why) {
		invalid_template(x, dollar, t.close + 1, why);
		return t.close + 1;
	}
	if (x->on_ref)
		note_ref(x, &t, depth);
	char *var = estrndup(t.name, t.name_len), *origin = NULL;
	const char *val = out ? lookup(x, var, &origin) : NULL;
	expand_braced(x, &t, var, val, out, depth);
	if (out && val)
		note_origin(x, var, origin);
	free(origin);
	free(var);
	return t.close + 1;
}

/* Expands [s, end) into out (NULL: check syntax only). */
static void expand(struct expander *x, const char *s, const char *end, struct buf *out, int depth)
{
	const char *p = s;
	while (p < end) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));
		if (!dollar) {
			if (out)
				buf_append(out, p, (size_t)(end - p));
			return;
		}
		if (out)
			buf_append(out, p, (size_t)(dollar - p));
		p = dollar + 1;
		if (p < end && *p == '$') {
			if (out)
				buf_putc(out, '$');
			p++;
		} else if (p < end && *p == '{') {
			p = braced(x, dollar, end, out, depth);
			if (!p)
				return;
		} else if (p < end && is_name_start(*p)) {
			while (p < end && is_name_char(*p))
				p++;
			if (x->on_ref)
				note_ref(x, &(struct braced_template){.dollar = dollar, .name = dollar + 1,
								      .name_len = (size_t)(p - dollar - 1)},
					 depth);
			if (!out)
				continue;
			char *var = estrndup(dollar + 1, (size_t)(p - dollar - 1)), *origin = NULL;
			const char *val = lookup(x, var, &origin);
			if (val) {
				put_value(x, out, var, val);
				note_origin(x, var, origin);
			} else {
				unset_variable(x, dollar, var);
			}
			free(origin);
			free(var);
		} else if (out) {
			/* "$1", "$ ", a final "$": not a template, kept as written. */
			buf_putc(out, '$');
		}
	}
}

char *tmpl_expand(const char *in, struct tmpl_ctx *c)
{
	if (!in)
		return estrdup("");
	if (!strchr(in, '$'))
		return estrdup(in);
	struct diag quiet = {.silent = true};
	struct expander x = {.c = c, .d = c->diag ? c->diag : &quiet, .base = in};
	struct buf out = {0};
	expand(&x, in, in + strlen(in), &out, 0);
	if (x.failed) {
		buf_free(&out);
		buf_free(&x.used);
		return NULL;
	}
	if (x.used.len) {
		if (c->origin && *c->origin) {
			char *joined = easprintf("%s, %s", c->origin, x.used.data);
			free(c->origin);
			c->origin = joined;
		} else {
			free(c->origin);
			c->origin = buf_take(&x.used);
		}
	}
	buf_free(&x.used);
	return buf_take(&out);
}

int tmpl_scan(const char *in, struct tmpl_ctx *c, tmpl_ref_fn fn, void *arg)
{
	if (!in || !strchr(in, '$'))
		return 0;
	struct diag quiet = {.silent = true};
	struct expander x = {.c = c, .d = c->diag ? c->diag : &quiet, .base = in, .on_ref = fn, .ref_arg = arg};
	expand(&x, in, in + strlen(in), NULL, 0);
	return x.failed ? -1 : 0;
}
