/* json.h — JSON Lines in and out, and path look-ups in config documents.
 * Every cJSON * returned here belongs to the caller (cJSON_Delete). */
#ifndef SHIPSHAPE_JSON_H
#define SHIPSHAPE_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#define JSONL_MAX_LINE_DEFAULT (4u << 20) /* 4 MiB: one document per line */

struct jsonl_reader {
	FILE *in;
	const char *name;     /* "stdin" or a file name, for messages */
	size_t max_line;
	unsigned long lineno; /* line number of the last line read */
	char *line;
	size_t cap;
	char error[256];      /* why the last call returned -1 */
};

void jsonl_reader_init(struct jsonl_reader *r, FILE *in, const char *name, size_t max_line);
/* Reads the next non-blank line. Returns 1 with *doc set, 0 at end of input,
 * -1 for a bad line (too long, not JSON, not an object): r->error says why
 * and names the line; the caller may go on reading the lines after it. */
int jsonl_next(struct jsonl_reader *r, cJSON **doc);
void jsonl_reader_free(struct jsonl_reader *r);

/* Writes doc compactly on one line followed by '\n'. Returns 0 or -1. */
int json_print_line(FILE *out, const cJSON *doc);
/* doc's compact JSON (a new string, freed with free()); exits 3 when out of
 * memory, like emalloc(). */
char *ejson_print(const cJSON *doc);

/* Parses a whole JSON text; NULL with a message in err on failure. */
cJSON *json_parse_text(const char *text, size_t len, char *err, size_t errsize);

/* Look-ups in a document by dotted path ("database.pool_size",
 * "alerts.channels[0].type"); NULL when absent. The result is borrowed. */
const cJSON *json_path(const cJSON *doc, const char *path);
const char *json_path_string(const cJSON *doc, const char *path, const char *def);
double json_path_number(const cJSON *doc, const char *path, double def);
bool json_path_bool(const cJSON *doc, const char *path, bool def);
/* A duration given as a number of seconds or a string with a unit ("30s");
 * returns def when absent, -1 when present but not a duration. */
int64_t json_path_duration_ms(const cJSON *doc, const char *path, int64_t def);

/* The "kind" member of a protocol document, or NULL. */
const char *json_kind(const cJSON *doc);

#endif
