/* matcher.c — Alertmanager's label matchers: parsing, matching, and the
 * two ways they are written down (text and API v2 JSON). */
#include "shipshape/matcher.h"
#include "shipshape/common.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATCHERS_MAX 64
#define VALUE_MAX 1024

static const char *const op_text[] = {"=", "!=", "=~", "!~"};

static void skip_space(const char **p)
{
	while (isspace((unsigned char)**p))
		(*p)++;
}

static bool name_char(int c, bool first)
{
	return c == '_' || isalpha(c) || (!first && isdigit(c));
}

/* A quoted value from *p (at the quote): escapes undone into out. */
static int quoted_value(const char **p, char *out, size_t size, char *err, size_t errsize)
{
	const char *s = *p + 1;
	size_t n = 0;
	for (; *s && *s != '"'; s++) {
		char c = *s;
		if (c == '\\') {
			s++;
			c = *s == 'n' ? '\n' : *s;
			if (*s != '"' && *s != '\\' && *s != 'n')
				return errf(err, errsize, "unknown escape \\%c in a quoted value", *s ? *s : ' ');
		}
		if (n + 1 >= size)
			return errf(err, errsize, "a value longer than %d bytes", VALUE_MAX - 1);
		out[n++] = c;
	}
	if (*s != '"')
		return errf(err, errsize, "a quoted value without its closing quote");
	out[n] = '\0';
	*p = s + 1;
	return 0;
}

static int bare_value(const char **p, char *out, size_t size, char *err, size_t errsize)
{
	size_t n = 0;
	const char *s = *p;
	for (; *s && !isspace((unsigned char)*s) && !strchr(",{}\"=!~", *s); s++) {
		if (n + 1 >= size)
			return errf(err, errsize, "a value longer than %d bytes", VALUE_MAX - 1);
		out[n++] = *s;
	}
	out[n] = '\0';
	*p = s;
	return 0;
}

/* Whether a repetition (*, +, ?, {m,n}) repeats a repetition outside a
 * bracket expression: "a++" or "a*{9}". glibc's regcomp() builds such
 * stacks out of memory (a hundred "+" take gigabytes), and none means
 * more than one of them. */
static bool repeats_repetition(const char *re)
{
	bool after_repeat = false;
	for (const char *p = re; *p; p++) {
		if (*p == '\\') {
			after_repeat = false;
			if (!*++p)
				break;
		} else if (*p == '[') {
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p++;
			after_repeat = false;
			if (!*p)
				break;
		} else if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
			if (after_repeat)
				return true;
			if (*p == '{')
				while (p[1] && *p != '}')
					p++;
			after_repeat = true;
		} else {
			after_repeat = false;
		}
	}
	return false;
}

static int compile(struct matcher *m, char *err, size_t errsize)
{
	if (repeats_repetition(m->value))
		return errf(err, errsize, "%s: a repetition of a repetition (as in a++ or a*{2}) is refused", m->name);
	char *anchored = easprintf("^(%s)$", m->value);
	int rc = regcomp(&m->re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc != 0) {
		char why[128];
		regerror(rc, &m->re, why, sizeof why);
		regfree(&m->re);
		return errf(err, errsize, "%s: not a regular expression: %s", m->name, why);
	}
	return 0;
}

/* One matcher at *p into m. */
static int parse_one(const char **p, struct matcher *m, char *err, size_t errsize)
{
	const char *s = *p;
	if (!name_char((unsigned char)*s, true))
		return errf(err, errsize, "expected a label name at \"%.20s\"", s);
	const char *start = s;
	while (name_char((unsigned char)*s, false))
		s++;
	size_t len = (size_t)(s - start);
	skip_space(&s);
	int op;
	if (s[0] == '=' && s[1] == '~')
		op = MATCH_RE;
	else if (s[0] == '!' && s[1] == '~')
		op = MATCH_NRE;
	else if (s[0] == '!' && s[1] == '=')
		op = MATCH_NE;
	else if (s[0] == '=')
		op = MATCH_EQ;
	else
		return errf(err, errsize, "%.*s: expected =, !=, =~ or !~", (int)len, start);
	s += op == MATCH_EQ ? 1 : 2;
	skip_space(&s);
	char value[VALUE_MAX];
	if ((*s == '"' ? quoted_value(&s, value, sizeof value, err, errsize)
		       : bare_value(&s, value, sizeof value, err, errsize)) < 0)
		return -1;
	m->name = estrndup(start, len);
	m->value = estrdup(value);
	m->op = (enum matcher_op)op;
	if ((op == MATCH_RE || op == MATCH_NRE) && compile(m, err, errsize) < 0) {
		free(m->name);
		free(m->value);
		return -1;
	}
	*p = s;
	return 0;
}

static void matcher_free(struct matcher *m)
{
	if (m->op == MATCH_RE || m->op == MATCH_NRE)
		regfree(&m->re);
	free(m->name);
	free(m->value);
}

/* A refused list: what was appended after had goes; the array too when
 * nothing is kept. */
static void drop_from(struct matchers *ms, size_t had)
{
	while (ms->n > had)
		matcher_free(&ms->m[--ms->n]);
	if (!ms->n) {
		free(ms->m);
		ms->m = NULL;
	}
}

static void append(struct matchers *ms, const struct matcher *m)
{
	ms->m = erealloc(ms->m, (ms->n + 1) * sizeof *ms->m);
	ms->m[ms->n++] = *m;
}

int matchers_parse(struct matchers *ms, const char *text, char *err, size_t errsize)
{
	const char *p = text;
	size_t had = ms->n;
	skip_space(&p);
	bool braced = *p == '{';
	if (braced)
		p++;
	for (;;) {
		skip_space(&p);
		if (braced && *p == '}' && ms->n == had)
			break; /* {} */
		struct matcher m;
		if (ms->n >= MATCHERS_MAX) {
			errf(err, errsize, "more than %d matchers", MATCHERS_MAX);
			goto fail;
		}
		if (parse_one(&p, &m, err, errsize) < 0)
			goto fail;
		append(ms, &m);
		skip_space(&p);
		if (*p != ',')
			break;
		p++;
	}
	if (braced && *p++ != '}') {
		errf(err, errsize, "expected , or } at \"%.20s\"", p - 1);
		goto fail;
	}
	skip_space(&p);
	if (*p) {
		errf(err, errsize, "unexpected \"%.20s\" after the matchers", p);
		goto fail;
	}
	return 0;
fail:
	drop_from(ms, had);
	return -1;
}

static bool matcher_holds(const struct matcher *m, const cJSON *labels)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, m->name);
	const char *s = cJSON_IsString(v) ? v->valuestring : "";
	switch (m->op) {
	case MATCH_EQ:
		return strcmp(s, m->value) == 0;
	case MATCH_NE:
		return strcmp(s, m->value) != 0;
	case MATCH_RE:
		return regexec(&m->re, s, 0, NULL, 0) == 0;
	case MATCH_NRE:
		return regexec(&m->re, s, 0, NULL, 0) != 0;
	}
	return false;
}

bool matchers_match(const struct matchers *ms, const cJSON *labels)
{
	for (size_t i = 0; i < ms->n; i++)
		if (!matcher_holds(&ms->m[i], labels))
			return false;
	return true;
}

char *matchers_format(const struct matchers *ms)
{
	struct buf b = {0};
	buf_puts(&b, "{");
	for (size_t i = 0; i < ms->n; i++) {
		const struct matcher *m = &ms->m[i];
		buf_printf(&b, "%s%s%s\"", i ? ", " : "", m->name, op_text[m->op]);
		for (const char *c = m->value; *c; c++) {
			if (*c == '"' || *c == '\\')
				buf_printf(&b, "\\%c", *c);
			else if (*c == '\n')
				buf_puts(&b, "\\n");
			else
				buf_append(&b, c, 1);
		}
		buf_puts(&b, "\"");
	}
	buf_puts(&b, "}");
	return buf_take(&b);
}

cJSON *matchers_to_json(const struct matchers *ms)
{
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < ms->n; i++) {
		const struct matcher *m = &ms->m[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", m->name);
		cJSON_AddStringToObject(o, "value", m->value);
		cJSON_AddBoolToObject(o, "isRegex", m->op == MATCH_RE || m->op == MATCH_NRE);
		cJSON_AddBoolToObject(o, "isEqual", m->op == MATCH_EQ || m->op == MATCH_RE);
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

int matchers_from_json(struct matchers *ms, const cJSON *list, char *err, size_t errsize)
{
	size_t had = ms->n;
	const cJSON *o;
	if (!cJSON_IsArray(list))
		return errf(err, errsize, "matchers: expected a list");
	cJSON_ArrayForEach(o, list)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(o, "value");
		const cJSON *is_re = cJSON_GetObjectItemCaseSensitive(o, "isRegex");
		const cJSON *is_eq = cJSON_GetObjectItemCaseSensitive(o, "isEqual");
		struct matcher m = {0};
		if (!cJSON_IsString(name) || !cJSON_IsString(value) || !name_char((unsigned char)*name->valuestring, true) ||
		    ms->n >= MATCHERS_MAX) {
			errf(err, errsize, "matchers: each needs a label name and a string value");
			goto fail;
		}
		bool re = cJSON_IsTrue(is_re), eq = !cJSON_IsFalse(is_eq);
		m.op = re ? (eq ? MATCH_RE : MATCH_NRE) : (eq ? MATCH_EQ : MATCH_NE);
		m.name = estrdup(name->valuestring);
		m.value = estrdup(value->valuestring);
		if (re && compile(&m, err, errsize) < 0) {
			free(m.name);
			free(m.value);
			goto fail;
		}
		append(ms, &m);
	}
	return 0;
fail:
	drop_from(ms, had);
	return -1;
}

void matchers_free(struct matchers *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		matcher_free(&ms->m[i]);
	free(ms->m);
	ms->m = NULL;
	ms->n = 0;
}
