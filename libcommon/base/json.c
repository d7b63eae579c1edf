/* json.c — JSON Lines reading and writing, path look-ups in documents. */
#include "shipshape/json.h"
#include "shipshape/common.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

void jsonl_reader_init(struct jsonl_reader *r, FILE *in, const char *name, size_t max_line)
{
	memset(r, 0, sizeof *r);
	r->in = in;
	r->name = name ? name : "stdin";
	r->max_line = max_line ? max_line : JSONL_MAX_LINE_DEFAULT;
}

void jsonl_reader_free(struct jsonl_reader *r)
{
	free(r->line);
	r->line = NULL;
	r->cap = 0;
}

/* Reads one line into r->line, at most max_line bytes; the rest of an
 * over-long line is skipped. Returns the length, -1 at EOF, -2 too long. */
static long read_line(struct jsonl_reader *r)
{
	size_t len = 0;
	bool too_long = false;
	int c;
	bool any = false;
	while ((c = getc(r->in)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (too_long)
			continue;
		if (len >= r->max_line) {
			too_long = true;
			continue;
		}
		if (len + 2 > r->cap) {
			r->cap = r->cap ? r->cap * 2 : 4096;
			r->line = erealloc(r->line, r->cap);
		}
		r->line[len++] = (char)c;
	}
	if (!any)
		return -1;
	r->lineno++;
	if (too_long)
		return -2;
	if (!r->line) {
		r->cap = 16;
		r->line = emalloc(r->cap);
	}
	r->line[len] = '\0';
	return (long)len;
}

int jsonl_next(struct jsonl_reader *r, cJSON **doc)
{
	*doc = NULL;
	for (;;) {
		long len = read_line(r);
		if (len == -1)
			return 0;
		if (len == -2) {
			snprintf(r->error, sizeof r->error, "%s:%lu: line longer than %zu bytes", r->name,
				 r->lineno, r->max_line);
			return -1;
		}
		const char *p = r->line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			continue;
		const char *end = NULL;
		cJSON *j = cJSON_ParseWithLengthOpts(r->line, (size_t)len, &end, false);
		if (!j) {
			size_t col = end ? (size_t)(end - r->line) + 1 : 1;
			snprintf(r->error, sizeof r->error, "%s:%lu:%zu: invalid JSON", r->name, r->lineno, col);
			return -1;
		}
		while (end && end < r->line + len && isspace((unsigned char)*end))
			end++;
		if (end && end < r->line + len) {
			snprintf(r->error, sizeof r->error, "%s:%lu:%zu: text after the JSON document",
				 r->name, r->lineno, (size_t)(end - r->line) + 1);
			cJSON_Delete(j);
			return -1;
		}
		if (!cJSON_IsObject(j)) {
			snprintf(r->error, sizeof r->error, "%s:%lu: expected a JSON object", r->name, r->lineno);
			cJSON_Delete(j);
			return -1;
		}
		*doc = j;
		return 1;
	}
}

int json_print_line(FILE *out, const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);
	if (!text)
		return -1;
	int rc = fputs(text, out) < 0 || putc('\n', out) == EOF ? -1 : 0;
	free(text);
	return rc;
}

char *ejson_print(const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);
	if (!text)
		out_of_memory();
	return text;
}

cJSON *json_parse_text(const char *text, size_t len, char *err, size_t errsize)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!j) {
		size_t line = 1, col = 1;
		for (const char *p = text; end && p < end; p++) {
			if (*p == '\n')
				line++, col = 1;
			else
				col++;
		}
		snprintf(err, errsize, "%zu:%zu: invalid JSON", line, col);
		return NULL;
	}
	while (end && end < text + len && isspace((unsigned char)*end))
		end++;
	if (end && end < text + len) {
		size_t line = 1, col = 1;
		for (const char *p = text; p < end; p++) {
			if (*p == '\n')
				line++, col = 1;
			else
				col++;
		}
		snprintf(err, errsize, "%zu:%zu: text after the JSON document", line, col);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

const cJSON *json_path(const cJSON *doc, const char *path)
{
	const cJSON *cur = doc;
	const char *p = path;
	char key[256];
	while (cur && *p) {
		if (*p == '.') {
			p++;
			continue;
		}
		if (*p == '[') {
			/* decimal digits within int, or no match: cJSON indexes by int,
			 * and a wrapped index would name another element */
			const char *d = p + 1;
			int idx = 0;
			for (; isdigit((unsigned char)*d); d++) {
				if (idx > (INT_MAX - 9) / 10)
					return NULL;
				idx = idx * 10 + (*d - '0');
			}
			if (d == p + 1 || *d != ']' || !cJSON_IsArray(cur))
				return NULL;
			cur = cJSON_GetArrayItem(cur, idx);
			p = d + 1;
			continue;
		}
		size_t len = strcspn(p, ".[");
		if (len >= sizeof key || !cJSON_IsObject(cur))
			return NULL;
		memcpy(key, p, len);
		key[len] = '\0';
		cur = cJSON_GetObjectItemCaseSensitive(cur, key);
		p += len;
	}
	return cur;
}

const char *json_path_string(const cJSON *doc, const char *path, const char *def)
{
	const cJSON *j = json_path(doc, path);
	return cJSON_IsString(j) ? j->valuestring : def;
}

double json_path_number(const cJSON *doc, const char *path, double def)
{
	const cJSON *j = json_path(doc, path);
	if (cJSON_IsNumber(j))
		return j->valuedouble;
	if (cJSON_IsRaw(j))
		return strtod(j->valuestring, NULL);
	if (cJSON_IsString(j)) {
		char *end;
		double v = strtod(j->valuestring, &end);
		if (end != j->valuestring && !*end)
			return v;
	}
	return def;
}

bool json_path_bool(const cJSON *doc, const char *path, bool def)
{
	const cJSON *j = json_path(doc, path);
	return cJSON_IsBool(j) ? cJSON_IsTrue(j) : def;
}

int64_t json_path_duration_ms(const cJSON *doc, const char *path, int64_t def)
{
	const cJSON *j = json_path(doc, path);
	int64_t ms;
	if (!j || cJSON_IsNull(j))
		return def;
	if (cJSON_IsNumber(j))
		return duration_from_seconds(j->valuedouble, &ms) == 0 ? ms : -1;
	if (cJSON_IsString(j) && duration_parse(j->valuestring, &ms) == 0)
		return ms;
	return -1;
}

const char *json_kind(const cJSON *doc)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	return cJSON_IsString(k) ? k->valuestring : NULL;
}
