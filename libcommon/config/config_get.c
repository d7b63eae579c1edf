/* config_get.c — typed values from a loaded config (config_open): a default
 * only for an absent key, never for a present value of the wrong type. */
#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/units.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VALUE_SHOWN_MAX 48 /* characters of a value quoted in a message */

const struct cfg_node *config_at(const struct config *c, const char *path)
{
	const struct cfg_node *n = cfg_path(c->tree, path);
	return n && n->type != CFG_NULL ? n : NULL;
}

/* Where a message about n is placed: its own location, else the file. */
static void report_at(struct config *c, const struct cfg_node *n, const char *path,
		      const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void report_at(struct config *c, const struct cfg_node *n, const char *path,
		      const char *fmt, va_list ap)
{
	char *msg = evasprintf(fmt, ap);
	const char *file = n && n->loc.file ? n->loc.file : c->file;
	diag_error(&c->diag, file, n ? n->loc.line : 0, n ? n->loc.col : 0, "%s: %s", path, msg);
	free(msg);
}

void config_error(struct config *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_at(c, cfg_path(c->tree, path), path, fmt, ap);
	va_end(ap);
}

/* How a message names a value: as the schema's messages do. */
static const char *describe(const struct cfg_node *n, char *buf, size_t size)
{
	switch (n->type) {
	case CFG_NULL: return "null";
	case CFG_MAP: return "a map";
	case CFG_LIST: return "a list";
	default: break;
	}
	if (n->secret || n->from_secret)
		return n->type == CFG_STRING ? "a string (secret)" : "a value (secret)";
	if (n->type == CFG_BOOL && !n->str)
		return n->b ? "true" : "false";
	if (!n->str) {
		return double_text(n->type == CFG_INT ? (double)n->i : n->d, buf, size);
	}
	if (n->type != CFG_STRING)
		return n->str;
	if (strlen(n->str) > VALUE_SHOWN_MAX)
		snprintf(buf, size, "\"%.*s...\"", VALUE_SHOWN_MAX, n->str);
	else
		snprintf(buf, size, "\"%s\"", n->str);
	return buf;
}

static bool wrong_type(struct config *c, const struct cfg_node *n, const char *path,
		       const char *expected)
{
	char buf[VALUE_SHOWN_MAX + 16];
	diag_error(&c->diag, n->loc.file ? n->loc.file : c->file, n->loc.line, n->loc.col,
		   "%s: expected %s, got %s", path, expected, describe(n, buf, sizeof buf));
	return false;
}

bool config_string(struct config *c, const char *path, const char *def, const char **out)
{
	const struct cfg_node *n = config_at(c, path);
	if (!n) {
		*out = def;
		return true;
	}
	/* a scalar the schema did not type as a string reads as written */
	if (n->type == CFG_MAP || n->type == CFG_LIST || !n->str)
		return wrong_type(c, n, path, "a string");
	*out = n->str;
	return true;
}

/* An integer's text, whole: "42", "-3". */
static bool int_text(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return false;
	*v = x;
	return true;
}

bool config_int(struct config *c, const char *path, int64_t def, int64_t *out)
{
	const struct cfg_node *n = config_at(c, path);
	int64_t v;
	if (!n) {
		*out = def;
		return true;
	}
	if (n->type == CFG_INT)
		v = n->i;
	else if (n->type == CFG_NUMBER && isfinite(n->d) && n->d == trunc(n->d) && fabs(n->d) < 9.2e18)
		v = (int64_t)n->d;
	else if (n->type != CFG_STRING || !n->str || !int_text(n->str, &v))
		return wrong_type(c, n, path, "an int");
	*out = v;
	return true;
}

bool config_bool(struct config *c, const char *path, bool def, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const struct cfg_node *n = config_at(c, path);
	if (!n) {
		*out = def;
		return true;
	}
	if (n->type == CFG_BOOL) {
		*out = n->b;
		return true;
	}
	for (size_t i = 0; n->type == CFG_STRING && n->str && i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(n->str, yes[i]) == 0 || strcasecmp(n->str, no[i]) == 0) {
			*out = strcasecmp(n->str, yes[i]) == 0;
			return true;
		}
	}
	return wrong_type(c, n, path, "a bool");
}

bool config_duration_ms(struct config *c, const char *path, int64_t def, int64_t *out)
{
	const struct cfg_node *n = config_at(c, path);
	int64_t ms;
	if (!n) {
		*out = def;
		return true;
	}
	if (n->type == CFG_INT || n->type == CFG_NUMBER) {
		/* seconds, as a config document writes a duration */
		double secs = n->type == CFG_INT ? (double)n->i : n->d;
		if (!isfinite(secs) || secs < 0 || secs > 9.2e15)
			return wrong_type(c, n, path, "a duration");
		ms = (int64_t)llround(secs * 1000);
	} else if (n->type != CFG_STRING || !n->str || duration_parse(n->str, &ms) != 0) {
		return wrong_type(c, n, path, "a duration");
	}
	*out = ms;
	return true;
}

bool config_enum(struct config *c, const char *path, const char *const *names, int def, int *out)
{
	const char *text;
	if (!config_string(c, path, NULL, &text))
		return false;
	if (!text) {
		*out = def;
		return true;
	}
	struct buf allowed = {0};
	for (int i = 0; names[i]; i++) {
		if (strcmp(text, names[i]) == 0) {
			buf_free(&allowed);
			*out = i;
			return true;
		}
		buf_printf(&allowed, "%s%s", i ? ", " : "", names[i]);
	}
	char buf[VALUE_SHOWN_MAX + 16];
	config_error(c, path, "%s is not one of %s", describe(config_at(c, path), buf, sizeof buf),
		     allowed.data ? allowed.data : "");
	buf_free(&allowed);
	return false;
}

size_t config_list_len(struct config *c, const char *path)
{
	const struct cfg_node *n = config_at(c, path);
	if (!n)
		return 0;
	if (n->type != CFG_LIST) {
		wrong_type(c, n, path, "a list");
		return 0;
	}
	return cfg_count(n);
}
