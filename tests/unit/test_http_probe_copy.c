/* http_probe_copy(): every field of struct http_probe belongs to one part
 * and is carried, deeply, by a copy of that part and by no other. The table
 * below names every field; the test fails when http.h's struct has a field
 * the table lacks (read from the header itself, so a field that fits in
 * padding is caught too), and the build fails when the struct's size
 * changes without the table being looked at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/http.h"

_Static_assert(sizeof(struct http_probe) == 416,
	       "struct http_probe changed: give the new field a part in probe_fields[] below and in "
	       "http_probe_copy(), then update this size");

enum kind {
	PLAIN,   /* bytes: copied as they are */
	COUNT,   /* the length of the array before it */
	STR,     /* an owned string */
	STRV,    /* an owned array of strings; count is the next field */
	RANGES,  /* struct http_status_range[n_status] */
	REGEX,   /* compiled from the pattern field before it */
	JSONV,   /* struct http_json_assert[n_json] */
	HDRV,    /* struct http_header_assert[n_header_asserts] */
};

struct field {
	const char *name;
	size_t off, size;
	unsigned part;
	enum kind kind;
};

#define F(f, part, kind) {#f, offsetof(struct http_probe, f), sizeof(((struct http_probe *)0)->f), part, kind}

static const struct field probe_fields[] = {
	F(name, HTTP_PROBE_TARGET, STR),
	F(url, HTTP_PROBE_TARGET, STR),
	F(method, HTTP_PROBE_REQUEST, STR),
	F(headers, HTTP_PROBE_REQUEST, STRV),
	F(n_headers, HTTP_PROBE_REQUEST, COUNT),
	F(body, HTTP_PROBE_REQUEST, STR),
	F(body_len, HTTP_PROBE_REQUEST, COUNT),
	F(status, HTTP_PROBE_EXPECT, RANGES),
	F(n_status, HTTP_PROBE_EXPECT, COUNT),
	F(body_contains, HTTP_PROBE_EXPECT, STRV),
	F(n_body_contains, HTTP_PROBE_EXPECT, COUNT),
	F(body_regex, HTTP_PROBE_EXPECT, STR),
	F(body_not_regex, HTTP_PROBE_EXPECT, STR),
	F(body_re, HTTP_PROBE_EXPECT, REGEX),
	F(body_not_re, HTTP_PROBE_EXPECT, REGEX),
	F(json, HTTP_PROBE_EXPECT, JSONV),
	F(n_json, HTTP_PROBE_EXPECT, COUNT),
	F(header_asserts, HTTP_PROBE_EXPECT, HDRV),
	F(n_header_asserts, HTTP_PROBE_EXPECT, COUNT),
	F(max_body, HTTP_PROBE_EXPECT, PLAIN),
	F(redirects, HTTP_PROBE_EXPECT, PLAIN),
	F(max_redirects, HTTP_PROBE_EXPECT, PLAIN),
	F(follow_hint, HTTP_PROBE_EXPECT, PLAIN),
	F(connect_timeout_ms, HTTP_PROBE_CONNECTION, PLAIN),
	F(timeout_ms, HTTP_PROBE_CONNECTION, PLAIN),
	F(latency_warn_ms, HTTP_PROBE_THRESHOLDS, PLAIN),
	F(latency_crit_ms, HTTP_PROBE_THRESHOLDS, PLAIN),
	F(tls_verify, HTTP_PROBE_CONNECTION, PLAIN),
	F(ca_file, HTTP_PROBE_CONNECTION, STR),
	F(tls_min, HTTP_PROBE_CONNECTION, PLAIN),
	F(tls_max, HTTP_PROBE_CONNECTION, PLAIN),
	F(sni, HTTP_PROBE_CONNECTION, STR),
	F(cert_warn_days, HTTP_PROBE_THRESHOLDS, PLAIN),
	F(cert_crit_days, HTTP_PROBE_THRESHOLDS, PLAIN),
	F(ip, HTTP_PROBE_CONNECTION, PLAIN),
	F(resolve, HTTP_PROBE_CONNECTION, STRV),
	F(n_resolve, HTTP_PROBE_CONNECTION, COUNT),
	F(retries, HTTP_PROBE_RETRY, PLAIN),
	F(retry_backoff_ms, HTTP_PROBE_RETRY, PLAIN),
	F(keep_body, HTTP_PROBE_KEEP, PLAIN),
	F(keep_headers, HTTP_PROBE_KEEP, PLAIN),
	F(fresh_connect, HTTP_PROBE_KEEP, PLAIN),
	F(uncompressed, HTTP_PROBE_KEEP, PLAIN),
};

static const struct field *field_named(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(probe_fields); i++)
		if (strlen(probe_fields[i].name) == len && strncmp(probe_fields[i].name, name, len) == 0)
			return &probe_fields[i];
	return NULL;
}

/* The members of struct http_probe as http.h declares them: the last
 * identifier of each comma-separated declarator, comments left out. */
static void test_table_names_every_member(void **state)
{
	(void)state;
	char path[4096];
	const char *slash = strrchr(__FILE__, '/');
	snprintf(path, sizeof path, "%.*s/../../include/shipshape/http.h", (int)(slash ? slash - __FILE__ : 1),
		 slash ? __FILE__ : ".");
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char text[1 << 17];
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	char *start = strstr(text, "struct http_probe {");
	assert_non_null(start);
	char *end = strstr(start, "\n};");
	assert_non_null(end);
	*end = '\0';
	start = strchr(start, '{') + 1;
	for (char *c; (c = strstr(start, "/*"));) {
		char *e = strstr(c, "*/");
		assert_non_null(e);
		memset(c, ' ', (size_t)(e + 2 - c));
	}
	size_t members = 0;
	for (char *decl = strtok(start, ";"); decl; decl = strtok(NULL, ";")) {
		for (char *piece = decl; piece;) {
			char *comma = strchr(piece, ',');
			char *stop = comma ? comma : piece + strlen(piece);
			char *bracket = memchr(piece, '[', (size_t)(stop - piece));
			if (bracket)
				stop = bracket;
			while (stop > piece && strchr(" \t\n", stop[-1]))
				stop--;
			char *id = stop;
			while (id > piece && (id[-1] == '_' || (id[-1] >= 'a' && id[-1] <= 'z') ||
					      (id[-1] >= 'A' && id[-1] <= 'Z') || (id[-1] >= '0' && id[-1] <= '9')))
				id--;
			if (stop > id) {
				if (!field_named(id, (size_t)(stop - id)))
					fail_msg("struct http_probe has a field \"%.*s\" that probe_fields[] does not "
						 "name: give it a part and make http_probe_copy() carry it",
						 (int)(stop - id), id);
				members++;
			}
			piece = comma ? comma + 1 : NULL;
		}
	}
	assert_int_equal(members, ARRAY_LEN(probe_fields));
}

/* A probe whose every field differs from http_probe_init()'s. */
static void fill(struct http_probe *p)
{
	http_probe_init(p);
	p->name = estrdup("n");
	p->url = estrdup("http://127.0.0.1:1/x");
	p->method = estrdup("PUT");
	assert_int_equal(http_probe_add_header(p, "X-A: 1", NULL, 0), 0);
	p->body = estrdup("hello");
	p->body_len = 5;
	assert_int_equal(http_probe_add_status(p, "201,300-302", NULL, 0), 0);
	p->body_contains = ecalloc(1, sizeof(char *));
	p->body_contains[0] = estrdup("abc");
	p->n_body_contains = 1;
	assert_int_equal(http_probe_set_body_regex(p, "^zz", false, NULL, 0), 0);
	assert_int_equal(http_probe_set_body_regex(p, "^yy", true, NULL, 0), 0);
	assert_int_equal(http_probe_add_json_assert(p, ".a == 1", NULL, 0), 0);
	assert_int_equal(http_probe_add_header_assert(p, "X-B: b.*", true, NULL, 0), 0);
	p->resolve = ecalloc(1, sizeof(char *));
	p->resolve[0] = estrdup("h:1:127.0.0.1");
	p->n_resolve = 1;
	p->ca_file = estrdup("/ca");
	p->sni = estrdup("sni.test");
	/* Every plain field: distinct non-zero bytes (bools: the opposite of
	 * the default), so a field left behind cannot look copied. */
	unsigned char byte = 0x11;
	for (size_t i = 0; i < ARRAY_LEN(probe_fields); i++) {
		const struct field *f = &probe_fields[i];
		if (f->kind != PLAIN)
			continue;
		if (f->size == sizeof(bool)) {
			bool *b = (bool *)((char *)p + f->off);
			*b = !*b;
		} else if (strcmp(f->name, "follow_hint") == 0) {
			p->follow_hint = "--follow";
		} else {
			memset((char *)p + f->off, byte, f->size);
			byte = (unsigned char)(byte + 0x11);
		}
	}
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Whether dst's field is want's (deeply: strings equal, not shared). */
static bool field_equal(const struct field *f, const struct http_probe *dst, const struct http_probe *want,
			bool carried)
{
	const char *d = (const char *)dst + f->off, *w = (const char *)want + f->off;
	switch (f->kind) {
	case PLAIN:
	case COUNT:
		return memcmp(d, w, f->size) == 0;
	case STR: {
		const char *ds = *(char *const *)d, *ws = *(char *const *)w;
		return same_str(ds, ws) && (!carried || !ds || ds != ws);
	}
	case STRV: {
		char *const *dv = *(char **const *)d, *const *wv = *(char **const *)w;
		size_t n = *(const size_t *)(w + f->size);
		for (size_t i = 0; i < n; i++)
			if (!same_str(dv[i], wv[i]) || (carried && dv[i] == wv[i]))
				return false;
		return !n || dv != wv || !carried;
	}
	case RANGES:
		return want->n_status == dst->n_status &&
		       (!want->n_status || memcmp(dst->status, want->status, want->n_status * sizeof *want->status) == 0);
	case REGEX: {
		bool not = strcmp(f->name, "body_not_re") == 0;
		const char *pattern = not ? want->body_not_regex : want->body_regex;
		if (!pattern)
			return true;
		return regexec(not ? &dst->body_not_re : &dst->body_re, not ? "yyy" : "zzz", 0, NULL, 0) == 0;
	}
	case JSONV:
		for (size_t i = 0; i < want->n_json; i++)
			if (i >= dst->n_json || !same_str(dst->json[i].text, want->json[i].text) ||
			    dst->json[i].op != want->json[i].op)
				return false;
		return true;
	case HDRV:
		for (size_t i = 0; i < want->n_header_asserts; i++)
			if (i >= dst->n_header_asserts ||
			    !same_str(dst->header_asserts[i].name, want->header_asserts[i].name) ||
			    !same_str(dst->header_asserts[i].pattern, want->header_asserts[i].pattern) ||
			    dst->header_asserts[i].must_not != want->header_asserts[i].must_not)
				return false;
		return true;
	}
	return false;
}

static void check_copy(unsigned parts)
{
	struct http_probe src, dst, fresh;
	fill(&src);
	http_probe_init(&dst);
	http_probe_init(&fresh);
	http_probe_copy(&dst, &src, parts);
	for (size_t i = 0; i < ARRAY_LEN(probe_fields); i++) {
		const struct field *f = &probe_fields[i];
		bool carried = (f->part & parts) != 0;
		if (!field_equal(f, &dst, carried ? &src : &fresh, carried))
			fail_msg("http_probe_copy(parts 0x%x): field %s %s", parts, f->name,
				 carried ? "not carried" : "changed though its part was not asked for");
	}
	/* Copying over a filled probe replaces what it had, leaking nothing
	 * (ASan builds check). */
	http_probe_copy(&dst, &src, parts);
	http_probe_free(&dst);
	http_probe_free(&src);
	http_probe_free(&fresh);
}

static void test_every_part_carried_alone(void **state)
{
	(void)state;
	for (unsigned part = 1; part < HTTP_PROBE_ALL; part <<= 1)
		check_copy(part);
	check_copy(HTTP_PROBE_ALL);
	check_copy(HTTP_PROBE_CONNECTION | HTTP_PROBE_RETRY | HTTP_PROBE_THRESHOLDS);
}

static void test_every_field_has_one_known_part(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(probe_fields); i++) {
		unsigned p = probe_fields[i].part;
		assert_true(p && (p & (p - 1)) == 0 && (p & HTTP_PROBE_ALL));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names_every_member),
		cmocka_unit_test(test_every_field_has_one_known_part),
		cmocka_unit_test(test_every_part_carried_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
