/* test_schema.c — the config schema: coercions, defaults, required keys,
 * ranges, enums, URL schemes, unknown keys, many errors in one run, bad
 * schema files, and config/production.yaml against config/schema.yaml.
 * Run from the top of the source tree (tests/run does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DATA "tests/data/schema/"
#define BASE "name: ok\nnested: {inner: 1}\n"

static struct schema *test_schema;

/* ---- stderr capture: every message of a run, not only the last ---- */

struct capture {
	int saved;
	FILE *tmp;
};

static void capture_begin(struct capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->tmp), STDERR_FILENO) >= 0);
}

static char *capture_end(struct capture *c)
{
	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	struct buf b = {0};
	char chunk[4096];
	size_t n;
	rewind(c->tmp);
	while ((n = fread(chunk, 1, sizeof chunk, c->tmp)) > 0)
		buf_append(&b, chunk, n);
	fclose(c->tmp);
	buf_puts(&b, "");
	return buf_take(&b);
}

/* The value of a scalar node as text, for comparing with a table. */
static void node_text(const struct cfg_node *n, char *buf, size_t size)
{
	switch (n->type) {
	case CFG_NULL: snprintf(buf, size, "null"); break;
	case CFG_BOOL: snprintf(buf, size, "%s", n->b ? "true" : "false"); break;
	case CFG_INT: snprintf(buf, size, "%lld", (long long)n->i); break;
	case CFG_NUMBER: snprintf(buf, size, "%g", n->d); break;
	case CFG_STRING: snprintf(buf, size, "%s", n->str ? n->str : "(null)"); break;
	case CFG_MAP: snprintf(buf, size, "{%zu}", cfg_count(n)); break;
	case CFG_LIST: snprintf(buf, size, "[%zu]", cfg_count(n)); break;
	}
}

static const char *type_label(enum cfg_type t)
{
	static const char *const names[] = {"null", "bool", "int", "number", "string", "map", "list"};
	return names[t];
}

static void expect_node_value(const struct cfg_node *root, const char *path, enum cfg_type type,
			      const char *value)
{
	const struct cfg_node *n = cfg_path(root, path);
	if (!n)
		fail_msg("%s is missing", path);
	char got[512];
	node_text(n, got, sizeof got);
	if (n->type != type || strcmp(got, value) != 0)
		fail_msg("%s is %s %s, expected %s %s", path, type_label(n->type), got, type_label(type), value);
}

static int setup(void **state)
{
	(void)state;
	prog_set("test_schema");
	struct diag d = {.silent = true};
	test_schema = schema_load(DATA "test-schema.yaml", &d);
	if (!test_schema) {
		fprintf(stderr, "cannot load " DATA "test-schema.yaml (%s); run from the top of the source tree\n",
			d.last);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	schema_free(test_schema);
	redact_clear();
	return 0;
}

/* ---- schema_apply over a table of configs ---- */

struct apply_case {
	const char *yaml;     /* appended to BASE unless full */
	bool full;            /* yaml is the whole config */
	bool strict;
	unsigned errors, warnings;
	const char *path;     /* a node to look at afterwards, or NULL */
	enum cfg_type type;
	const char *value;    /* its value as node_text() prints it; NULL: absent */
	const char *message;  /* expected in the messages printed */
	const char *absent;   /* must not be in the messages (a secret) */
};

static const struct apply_case apply_cases[] = {
	/* coercions: strings from templates, and plain YAML into the declared type */
	{"count: \"80\"\n", .path = "count", .type = CFG_INT, .value = "80"},
	{"count: 20.0\n", .path = "count", .type = CFG_INT, .value = "20"},
	{"ratio: \"0.5\"\n", .path = "ratio", .type = CFG_NUMBER, .value = "0.5"},
	{"ratio: 1\n", .path = "ratio", .type = CFG_NUMBER, .value = "1"},
	{"enabled: \"yes\"\n", .path = "enabled", .type = CFG_BOOL, .value = "true"},
	{"enabled: \"no\"\n", .path = "enabled", .type = CFG_BOOL, .value = "false"},
	{"enabled: \"true\"\n", .path = "enabled", .type = CFG_BOOL, .value = "true"},
	{"enabled: \"false\"\n", .path = "enabled", .type = CFG_BOOL, .value = "false"},
	{"enabled: \"1\"\n", .path = "enabled", .type = CFG_BOOL, .value = "true"},
	{"enabled: \"0\"\n", .path = "enabled", .type = CFG_BOOL, .value = "false"},
	{"enabled: 0\n", .path = "enabled", .type = CFG_BOOL, .value = "false"},
	{"timeout: 1m\n", .path = "timeout", .type = CFG_NUMBER, .value = "60"},
	{"timeout: 90\n", .path = "timeout", .type = CFG_NUMBER, .value = "90"},
	{"timeout: \"1.5s\"\n", .path = "timeout", .type = CFG_NUMBER, .value = "1.5"},
	{"timeout: 1h\n", .path = "timeout", .type = CFG_NUMBER, .value = "3600"},
	{"limit: 10k\n", .path = "limit", .type = CFG_INT, .value = "10240"},
	{"limit: 4M\n", .path = "limit", .type = CFG_INT, .value = "4194304"},
	{"limit: 512\n", .path = "limit", .type = CFG_INT, .value = "512"},
	{"version: 15\n", .path = "version", .type = CFG_STRING, .value = "15"},
	{"version: 1.10\n", .path = "version", .type = CFG_STRING, .value = "1.10"},
	{"version: true\n", .path = "version", .type = CFG_STRING, .value = "true"},
	{"mode: fast\n", .path = "mode", .type = CFG_STRING, .value = "fast"},
	{"endpoint: https://example.com:8443/x?y=1\n", .path = "endpoint", .type = CFG_STRING,
	 .value = "https://example.com:8443/x?y=1"},
	{"endpoint: \"http://[::1]:8080/\"\n", .path = "endpoint", .type = CFG_STRING,
	 .value = "http://[::1]:8080/"},
	{"endpoint: HTTPS://Example.com\n", .path = "endpoint", .type = CFG_STRING,
	 .value = "HTTPS://Example.com"},
	{"anyurl: ftp://files.example.com/pub\n", .path = "anyurl", .type = CFG_STRING,
	 .value = "ftp://files.example.com/pub"},
	{"db: postgresql://app:pw@127.0.0.1:5432/app\n", .path = "db", .type = CFG_STRING,
	 .value = "postgresql://app:pw@127.0.0.1:5432/app"},
	{"labels: {a: \"1\", b: 2}\n", .path = "labels.a", .type = CFG_INT, .value = "1"},
	{"anything: [1, {a: b}]\n", .path = "anything", .type = CFG_LIST, .value = "[2]"},
	{"tags: [a, b, 3]\n", .path = "tags[2]", .type = CFG_STRING, .value = "3"},

	/* defaults: applied when absent, null or empty */
	{"", .path = "count", .type = CFG_INT, .value = "5"},
	{"", .path = "timeout", .type = CFG_NUMBER, .value = "30"},
	{"", .path = "enabled", .type = CFG_BOOL, .value = "true"},
	{"", .path = "nested.opt", .type = CFG_STRING, .value = "hello"},
	{"count: \"\"\n", .path = "count", .type = CFG_INT, .value = "5"},
	{"count: ~\n", .path = "count", .type = CFG_INT, .value = "5"},
	{"", .path = "optional_map", .value = NULL},
	{"optional_map: {}\n", .path = "optional_map.x", .type = CFG_INT, .value = "1"},
	{"", .path = "defaulted_map.x", .type = CFG_INT, .value = "1"},
	{"", .path = "defaulted_map.y", .type = CFG_NUMBER, .value = "120"},
	{"channels: [{type: slack}]\n", .path = "channels[0].after", .type = CFG_NUMBER, .value = "0"},
	{"ratio: \"\"\n", .path = "ratio", .type = CFG_STRING, .value = ""},

	/* types */
	{"count: eighty\n", .errors = 1, .message = "cfg.yaml:3:8: count: expected an int, got \"eighty\""},
	{"count: 2.5\n", .errors = 1, .message = "count: expected an int, got 2.5"},
	{"count: [1]\n", .errors = 1, .message = "count: expected an int, got a list"},
	{"ratio: half\n", .errors = 1, .message = "ratio: expected a number, got \"half\""},
	{"enabled: maybe\n", .errors = 1, .message = "enabled: expected a bool, got \"maybe\""},
	{"enabled: 2\n", .errors = 1, .message = "enabled: expected a bool, got 2"},
	{"timeout: soon\n", .errors = 1, .message = "timeout: expected a duration"},
	{"timeout: -5\n", .errors = 1, .message = "timeout: expected a duration"},
	{"limit: lots\n", .errors = 1, .message = "limit: expected a size"},
	{"version: {a: 1}\n", .errors = 1, .message = "version: expected a string, got a map"},
	{"nested: 5\n", .full = true, .errors = 2, .message = "nested: expected a map, got 5"},
	{"tags: [a, [b]]\n", .errors = 1, .message = "tags[1]: expected a string, got a list"},
	{"labels: {a: 1, b: x}\n", .errors = 1, .message = "labels.b: expected an int, got \"x\""},
	{"endpoint: 80\n", .errors = 1, .message = "endpoint: expected a URL, got 80"},

	/* ranges */
	{"count: 0\n", .errors = 1, .message = "count: 0 is below the minimum 1"},
	{"count: \"101\"\n", .errors = 1, .message = "count: 101 is above the maximum 100"},
	{"ratio: 1.5\n", .errors = 1, .message = "ratio: 1.5 is above the maximum 1"},
	{"timeout: 2h\n", .errors = 1, .message = "timeout: 2h is above the maximum 1h"},
	{"timeout: 500ms\n", .errors = 1, .message = "timeout: 500ms is below the minimum 1s"},
	{"limit: 2G\n", .errors = 1, .message = "limit: 2G is above the maximum 1G"},
	{"name: x\nnested: {inner: 1}\n", .full = true, .errors = 1,
	 .message = "name: length 1 is below the minimum 2"},
	{"name: ééééééééé\nnested: {inner: 1}\n", .full = true, .path = "name", .type = CFG_STRING,
	 .value = "ééééééééé"},
	{"tags: [a, b, c, d]\n", .errors = 1, .message = "tags: 4 items is above the maximum 3"},

	/* enums and URLs */
	{"mode: medium\n", .errors = 1, .message = "mode: \"medium\" is not one of fast, slow"},
	{"channels: [{type: sms}]\n", .errors = 1,
	 .message = "channels[0].type: \"sms\" is not one of slack, email"},
	{"endpoint: ftp://example.com\n", .errors = 1,
	 .message = "endpoint: scheme \"ftp\" is not allowed (expected http, https)"},
	{"endpoint: not a url\n", .errors = 1, .message = "endpoint: not a URL"},
	{"endpoint: example.com\n", .errors = 1, .message = "endpoint: not a URL: expected scheme://host"},
	{"endpoint: \"http://\"\n", .errors = 1, .message = "endpoint: not a URL: no host"},
	{"endpoint: \"http://:80/\"\n", .errors = 1, .message = "endpoint: not a URL: no host"},
	{"endpoint: \"http://h:99999\"\n", .errors = 1, .message = "port out of range"},
	{"endpoint: \"http://h:8o\"\n", .errors = 1, .message = "port is not a number"},
	{"endpoint: \"http://[::1\"\n", .errors = 1, .message = "bad IPv6 host"},

	/* secrets never show in messages */
	{"db: mysql://app:hunter2pass@db.example.com/app\n", .errors = 1,
	 .message = "db: scheme \"mysql\" is not allowed (expected postgres, postgresql)",
	 .absent = "hunter2pass"},
	{"db: \"postgresql://app:hunter2pass@db.example.com:notaport/app\"\n", .errors = 1,
	 .message = "db: not a URL: port is not a number", .absent = "hunter2pass"},
	{"pin: abcd-secret-pin\n", .errors = 1, .message = "pin: expected an int, got a string (secret)",
	 .absent = "abcd-secret-pin"},
	{"pin: 1234\n", .path = "pin", .type = CFG_INT, .value = "1234"},
	{"creds: {pin: abc-secret-creds, user: bob}\n", .errors = 1,
	 .message = "creds.pin: expected an int, got a string (secret)", .absent = "abc-secret-creds"},
	/* a key named like a secret is one in messages, marked or not */
	{"labels: {api_token: not-an-int-secret}\n", .errors = 1,
	 .message = "labels.api_token: expected an int, got a string (secret)", .absent = "not-an-int-secret"},

	/* required */
	{"nested: {inner: 1}\n", .full = true, .errors = 1,
	 .message = "cfg.yaml:1:1: name: required, but missing"},
	{"name: ok\nnested: {}\n", .full = true, .errors = 1, .message = "nested.inner: required, but missing"},
	{"name: \"\"\nnested: {inner: 1}\n", .full = true, .errors = 1, .message = "name: required, but empty"},
	{"name: ~\nnested: {inner: 1}\n", .full = true, .errors = 1, .message = "name: required, but null"},
	{"channels: [{after: 1s}]\n", .errors = 1, .message = "channels[0].type: required, but missing"},

	/* unknown keys: a warning, an error when strict */
	{"bogus: 1\n", .warnings = 1, .message = "warning: bogus: unknown key"},
	{"bogus: 1\n", .strict = true, .errors = 1, .message = "bogus: unknown key"},
	{"countt: 1\n", .warnings = 1, .message = "countt: unknown key (did you mean count?)"},
	{"name: ok\nnested: {inner: 1, zzz: 2}\n", .full = true, .warnings = 1,
	 .message = "nested.zzz: unknown key"},
	{"extra: {known: 1, other: 2}\n", .path = "extra.other", .type = CFG_INT, .value = "2"},
	{"extra: {known: x}\n", .errors = 1, .message = "extra.known: expected an int"},
	{"free: {a: 1, b: [2]}\n", .strict = true, .path = "free.b", .type = CFG_LIST, .value = "[1]"},
	{"labels: {anything: 3}\n", .strict = true, .path = "labels.anything", .type = CFG_INT, .value = "3"},

	/* every problem in one run */
	{"count: eighty\nmode: medium\nendpoint: ftp://x\nnested: {}\nbogus: 1\n", .full = true,
	 .errors = 5, .warnings = 1, .message = "count: expected an int"},
	{"count: eighty\nmode: medium\nendpoint: ftp://x\nnested: {}\nbogus: 1\n", .full = true,
	 .errors = 5, .warnings = 1, .message = "mode: \"medium\" is not one of fast, slow"},
	{"count: eighty\nmode: medium\nendpoint: ftp://x\nnested: {}\nbogus: 1\n", .full = true,
	 .errors = 5, .warnings = 1, .message = "endpoint: scheme \"ftp\" is not allowed"},
	{"count: eighty\nmode: medium\nendpoint: ftp://x\nnested: {}\nbogus: 1\n", .full = true,
	 .errors = 5, .warnings = 1, .message = "nested.inner: required, but missing"},
	{"count: eighty\nmode: medium\nendpoint: ftp://x\nnested: {}\nbogus: 1\n", .full = true,
	 .errors = 5, .warnings = 1, .message = "name: required, but missing"},
	{"count: eighty\nmode: medium\nendpoint: ftp://x\nnested: {}\nbogus: 1\n", .full = true,
	 .strict = true, .errors = 6, .message = "bogus: unknown key"},
};

static void run_apply_case(size_t row, const struct apply_case *tc)
{
	char *text = tc->full ? estrdup(tc->yaml) : easprintf(BASE "%s", tc->yaml);
	struct diag d = {0};
	struct cfg_node *root = yaml_load_string("cfg.yaml", text, strlen(text), &d);
	if (!root)
		fail_msg("row %zu: the test config does not load: %s", row, d.last);
	struct capture cap;
	capture_begin(&cap);
	unsigned returned = schema_apply_sections(test_schema, root, NULL, tc->strict, &d);
	char *messages = capture_end(&cap);

	if (d.errors != tc->errors || d.warnings != tc->warnings || returned != tc->errors)
		fail_msg("row %zu (%s): %u errors (returned %u), %u warnings; expected %u, %u:\n%s", row,
			 tc->yaml, d.errors, returned, d.warnings, tc->errors, tc->warnings, messages);
	if (tc->message && !strstr(messages, tc->message))
		fail_msg("row %zu (%s): expected the message \"%s\", got:\n%s", row, tc->yaml, tc->message,
			 messages);
	if (tc->absent && strstr(messages, tc->absent))
		fail_msg("row %zu (%s): a secret leaked into the messages:\n%s", row, tc->yaml, messages);
	if (tc->path) {
		const struct cfg_node *n = cfg_path(root, tc->path);
		char got[256];
		if (!tc->value && n)
			fail_msg("row %zu (%s): %s should be absent", row, tc->yaml, tc->path);
		if (tc->value && !n)
			fail_msg("row %zu (%s): %s is missing", row, tc->yaml, tc->path);
		if (tc->value) {
			node_text(n, got, sizeof got);
			if (n->type != tc->type || strcmp(got, tc->value) != 0)
				fail_msg("row %zu (%s): %s is %s %s, expected %s %s", row, tc->yaml, tc->path,
					 type_label(n->type), got, type_label(tc->type), tc->value);
		}
	}
	free(messages);
	cfg_node_free(root);
	free(text);
}

static void test_apply_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(apply_cases); i++)
		run_apply_case(i, &apply_cases[i]);
}

/* What the tree says about where values came from and what is secret. */
static void test_marks(void **state)
{
	(void)state;
	const char *text = BASE "timeout: 2m\ndb: postgresql://marksuser@h/d\ncreds: {user: bob}\n";
	struct diag d = {.silent = true};
	struct cfg_node *root = yaml_load_string("cfg.yaml", text, strlen(text), &d);
	assert_non_null(root);
	assert_int_equal(schema_apply_sections(test_schema, root, NULL, true, &d), 0);

	const struct cfg_node *count = cfg_path(root, "count");
	assert_non_null(count);
	assert_non_null(count->origin);
	assert_string_equal(count->origin, "schema default");
	assert_string_equal(count->key, "count");

	const struct cfg_node *given = cfg_path(root, "timeout");
	assert_non_null(given);
	assert_null(given->origin);
	assert_string_equal(given->str, "2m"); /* the text is kept */
	assert_true(given->d == 120);

	assert_false(given->secret);
	const struct cfg_node *db = cfg_path(root, "db");
	assert_non_null(db);
	assert_true(db->secret);
	assert_true(cfg_path(root, "creds")->secret);
	assert_true(cfg_path(root, "creds.user")->secret); /* everything under a secret */
	assert_false(cfg_path(root, "nested.inner")->secret);

	/* and registered: no later message can print it */
	diag_error(&d, NULL, 0, 0, "connecting to %s", db->str);
	assert_null(strstr(d.last, "marksuser"));

	/* the defaults were appended once, in schema order, after the given keys */
	assert_non_null(cfg_path(root, "defaulted_map.y"));
	assert_int_equal(cfg_count(cfg_get(root, "defaulted_map")), 2);
	cfg_node_free(root);
}

/* A second apply over an already applied tree changes nothing. */
static void test_idempotent(void **state)
{
	(void)state;
	const char *text = BASE "timeout: 1m\nlimit: 4k\nversion: 15\nenabled: \"yes\"\n";
	struct diag d = {.silent = true};
	struct cfg_node *root = yaml_load_string("cfg.yaml", text, strlen(text), &d);
	assert_non_null(root);
	assert_int_equal(schema_apply_sections(test_schema, root, NULL, true, &d), 0);
	size_t members = cfg_count(root);
	assert_int_equal(schema_apply_sections(test_schema, root, NULL, true, &d), 0);
	assert_int_equal(cfg_count(root), members);
	assert_true(cfg_path(root, "timeout")->d == 60);
	assert_int_equal(cfg_path(root, "limit")->i, 4096);
	assert_string_equal(cfg_path(root, "version")->str, "15");
	assert_true(cfg_path(root, "enabled")->b);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 0);
	cfg_node_free(root);
}

/* schema_apply_present(): no key is required anywhere, at the top level or
 * below, but what is there is checked as ever and defaults still fill in. */
static void test_present_only(void **state)
{
	(void)state;
	const char *text = "nested: {}\ntimeout: 1m\n";
	struct diag d = {.silent = true};
	struct cfg_node *root = yaml_load_string("cfg.yaml", text, strlen(text), &d);
	assert_non_null(root);
	assert_int_equal(schema_apply_present(test_schema, root, true, &d), 0);
	assert_true(cfg_path(root, "timeout")->d == 60);
	assert_int_equal(d.errors, 0);
	assert_true(schema_apply_sections(test_schema, root, NULL, true, &d) > 0); /* name, nested.inner */
	cfg_node_free(root);
	text = "timeout: soon\nnested: {inner: many}\n";
	d = (struct diag){.silent = true};
	root = yaml_load_string("cfg.yaml", text, strlen(text), &d);
	assert_int_equal(schema_apply_present(test_schema, root, true, &d), 2);
	cfg_node_free(root);
}

/* A tree from a JSON config document has no text: coercion works the same. */
static void test_json_tree(void **state)
{
	(void)state;
	cJSON *j = cJSON_Parse("{\"name\": \"ok\", \"nested\": {\"inner\": 1}, \"count\": \"80\","
			       " \"ratio\": 0.1, \"timeout\": 90, \"version\": 1.5, \"enabled\": 1}");
	assert_non_null(j);
	struct cfg_node *root = cfg_from_json(j, NULL);
	cJSON_Delete(j);
	struct diag d = {.silent = true};
	assert_int_equal(schema_apply_sections(test_schema, root, NULL, true, &d), 0);
	expect_node_value(root, "count", CFG_INT, "80");
	expect_node_value(root, "ratio", CFG_NUMBER, "0.1");
	expect_node_value(root, "timeout", CFG_NUMBER, "90");
	expect_node_value(root, "version", CFG_STRING, "1.5");
	expect_node_value(root, "enabled", CFG_BOOL, "true");
	assert_string_equal(cfg_path(root, "timeout")->str, "90");
	cfg_node_free(root);
}

/* ---- bad schema files ---- */

struct bad_schema_case {
	const char *file;
	unsigned errors;
	const char *messages[10]; /* each expected in the output */
};

static const struct bad_schema_case bad_schema_cases[] = {
	{"bad-field.yaml", 1, {"bad-field.yaml:5:", "count: unknown spec field \"maxx\""}},
	{"bad-type.yaml", 1, {"bad-type.yaml:6:13: count: unknown type \"integer\""}},
	{"bad-default.yaml", 2,
	 {"bad-default.yaml:5:", "count (default): expected an int, got \"eighty\"",
	  "bad-default.yaml:6:", "timeout (default): 2h is above the maximum 1h"}},
	{"bad-many.yaml", 9,
	 {"a: values does not apply to type int", "b: an enum needs values", "c: min 10 is above max 1",
	  "d: a required key has no use for a default", "e: schemes must be a non-empty list",
	  "f: missing type", "g[]: default applies only to a member of keys",
	  "h: min does not apply to type bool", "i.j: required must be true or false"}},
	{"bad-version.yaml", 1, {"bad-version.yaml:1:10: unsupported schema version (expected 1)"}},
	{"bad-root.yaml", 2,
	 {"unknown schema field \"extra\"", "root: the top level must be of type map"}},
	{"does-not-exist.yaml", 1, {"does-not-exist.yaml"}},
};

static void test_bad_schemas(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_schema_cases); i++) {
		const struct bad_schema_case *tc = &bad_schema_cases[i];
		char *path = easprintf(DATA "%s", tc->file);
		struct diag d = {0};
		struct capture cap;
		capture_begin(&cap);
		struct schema *s = schema_load(path, &d);
		char *messages = capture_end(&cap);
		if (s)
			fail_msg("%s: loaded, expected errors", tc->file);
		if (d.errors != tc->errors)
			fail_msg("%s: %u errors, expected %u:\n%s", tc->file, d.errors, tc->errors, messages);
		for (size_t m = 0; m < ARRAY_LEN(tc->messages) && tc->messages[m]; m++)
			if (!strstr(messages, tc->messages[m]))
				fail_msg("%s: expected \"%s\" in:\n%s", tc->file, tc->messages[m], messages);
		free(messages);
		free(path);
	}
}

/* ---- the shipped configs against the shipped schema ---- */

static const char *const config_variables[] = {
	"DATABASE_URL", "DATABASE_SCHEMA", "DATABASE_REQUIRE_SSL", "API_PORT", "API_BASE_URL",
	"JWT_SECRET", "SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY",
	"LLAMAPARSE_API_URL", "LLAMAPARSE_API_KEY", "OPENAI_API_URL", "OPENAI_API_KEY",
	"SLACK_WEBHOOK_URL", "SMTP_URL", "SMTP_USERNAME", "SMTP_PASSWORD", "REDIS_URL",
	"RENDER_API_URL", "RENDER_SERVICE_ID", "RENDER_API_KEY",
};

static void clear_config_variables(void)
{
	for (size_t i = 0; i < ARRAY_LEN(config_variables); i++)
		unsetenv(config_variables[i]);
}

static void set_production_variables(void)
{
	clear_config_variables();
	setenv("DATABASE_URL", "postgresql://app:db-test-password@db.example.com:5432/postgres?sslmode=require", 1);
	setenv("JWT_SECRET", "test-jwt-secret-0123456789abcdef0123456789abcdef", 1);
	setenv("SUPABASE_URL", "https://abcdefgh.supabase.co", 1);
	setenv("SUPABASE_ANON_KEY", "test-anon-key-value", 1);
	setenv("SUPABASE_SERVICE_ROLE_KEY", "test-service-role-key-value", 1);
	setenv("LLAMAPARSE_API_KEY", "llx-test-key-value", 1);
	setenv("OPENAI_API_KEY", "sk-test-key-value", 1);
	setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/XXXXXXXX", 1);
	setenv("SMTP_PASSWORD", "test-smtp-password", 1);
	setenv("REDIS_URL", "rediss://default:test-redis-password@cache.example.com:6380/0", 1);
	setenv("RENDER_SERVICE_ID", "srv-test0000000000000000", 1);
	setenv("RENDER_API_KEY", "rnd_test_key_value", 1);
}

static struct cfg_node *load_config(const char *file, struct diag *d, char **messages)
{
	const char *files[] = {file};
	struct config_opts o = {.files = files, .nfiles = 1, .schema_path = "config/schema.yaml",
				.strict = false};
	struct capture cap;
	capture_begin(&cap);
	struct cfg_node *root = config_load(&o, d);
	*messages = capture_end(&cap);
	return root;
}

static void test_schema_file_loads(void **state)
{
	(void)state;
	struct diag d = {0};
	struct schema *s = schema_load("config/schema.yaml", &d);
	assert_non_null(s);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 0);
	schema_free(s);
}

static void test_production(void **state)
{
	(void)state;
	set_production_variables();
	struct diag d = {0};
	char *messages;
	struct cfg_node *root = load_config("config/production.yaml", &d, &messages);
	if (!root || d.errors || d.warnings)
		fail_msg("config/production.yaml: %u errors, %u warnings:\n%s", d.errors, d.warnings, messages);
	expect_node_value(root, "environment", CFG_STRING, "production");
	expect_node_value(root, "database.pool_size", CFG_INT, "20");
	expect_node_value(root, "database.pool_timeout", CFG_NUMBER, "30");
	expect_node_value(root, "database.pool_recycle", CFG_NUMBER, "3600");
	expect_node_value(root, "database.min_server_version", CFG_STRING, "15");
	expect_node_value(root, "database.tables", CFG_LIST, "[4]");
	expect_node_value(root, "api.port", CFG_INT, "8000");
	expect_node_value(root, "api.base_url", CFG_STRING, "https://api.accessa.ai");
	expect_node_value(root, "monitoring.health_check.endpoints[0].url", CFG_STRING,
		    "https://api.accessa.ai/health");
	expect_node_value(root, "monitoring.metrics.retention", CFG_NUMBER, "7.776e+06");
	expect_node_value(root, "alerts.escalation.levels[1].after", CFG_NUMBER, "900");
	expect_node_value(root, "alerts.repeat_interval", CFG_NUMBER, "14400");
	expect_node_value(root, "deploy.timeout", CFG_NUMBER, "900");
	expect_node_value(root, "services.llamaparse.url", CFG_STRING, "https://api.cloud.llamaindex.ai");
	expect_node_value(root, "alerts.email.smtp.url", CFG_STRING, "smtps://smtp.accessa.ai:465");

	static const char *const secrets[] = {
		"database.url", "security.jwt_secret", "services.supabase.anon_key",
		"services.supabase.service_role_key", "services.llamaparse.api_key",
		"services.openai.api_key", "alerts.slack.webhook_url", "alerts.email.smtp.password",
		"cache.redis_url", "deploy.render.api_key",
	};
	for (size_t i = 0; i < ARRAY_LEN(secrets); i++) {
		const struct cfg_node *n = cfg_path(root, secrets[i]);
		if (!n || !n->secret)
			fail_msg("%s is not marked secret", secrets[i]);
	}
	assert_false(cfg_path(root, "api.base_url")->secret);
	assert_false(cfg_path(root, "services.supabase.url")->secret);

	/* the document the tools read */
	cJSON *doc = cfg_to_json(root);
	assert_non_null(doc);
	cJSON *timeout = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "deploy"), "timeout");
	assert_true(cJSON_IsNumber(timeout));
	assert_true(timeout->valuedouble == 900);
	cJSON_Delete(doc);
	free(messages);
	cfg_node_free(root);
}

/* Without its secrets production is refused, naming each missing key. */
static void test_production_missing_variables(void **state)
{
	(void)state;
	set_production_variables();
	unsetenv("SUPABASE_URL");
	unsetenv("OPENAI_API_KEY");
	unsetenv("DATABASE_URL");
	struct diag d = {0};
	char *messages;
	struct cfg_node *root = load_config("config/production.yaml", &d, &messages);
	assert_null(root);
	static const char *const expected[] = {
		"services.supabase.url: required, but empty",
		"services.openai.api_key: required, but empty",
		"database.url: required, but empty",
	};
	for (size_t i = 0; i < ARRAY_LEN(expected); i++)
		if (!strstr(messages, expected[i]))
			fail_msg("expected \"%s\" in:\n%s", expected[i], messages);
	assert_int_equal(d.errors, 3);
	free(messages);

	/* and a secret from the environment never shows in any message */
	set_production_variables();
	setenv("DATABASE_URL", "mysql://app:db-test-password@db.example.com/app", 1);
	struct diag d2 = {0};
	root = load_config("config/production.yaml", &d2, &messages);
	assert_null(root);
	assert_int_equal(d2.errors, 1);
	assert_non_null(strstr(messages, "database.url: scheme \"mysql\" is not allowed"));
	assert_null(strstr(messages, "db-test-password"));
	free(messages);
	clear_config_variables();
}

/* A template error in a secret value (marked by the schema, or named like a
 * secret) names its place and never quotes the text; elsewhere it quotes
 * the template. The schema's marks are known before templates expand. */
static void test_secret_template_errors(void **state)
{
	(void)state;
	char path[] = "/tmp/test_schema.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const char text[] = BASE "db: \"postgresql://app:${pw-secret-part1\"\n"
				   "labels: {api_token: \"${1secret-part2}\"}\n"
				   "creds: {user: \"x ${secret part3}\"}\n"
				   "version: \"${oops\"\n";
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	const char *files[] = {path};
	struct config_opts o = {.files = files, .nfiles = 1, .schema_path = DATA "test-schema.yaml"};
	struct diag d = {0};
	struct capture cap;
	capture_begin(&cap);
	struct cfg_node *root = config_load(&o, &d);
	char *messages = capture_end(&cap);
	assert_null(root);
	assert_int_equal(d.errors, 4);
	for (int k = 1; k <= 3; k++) {
		char part[32];
		snprintf(part, sizeof part, "part%d", k);
		if (strstr(messages, part))
			fail_msg("%s leaked into:\n%s", part, messages);
	}
	assert_non_null(strstr(messages, ":3:23: invalid template (no closing brace; the value is secret"));
	assert_non_null(strstr(messages, ":4:22: invalid template (a variable name starts"));
	assert_non_null(strstr(messages, ":5:18: invalid template (expected"));
	assert_non_null(strstr(messages, ":6:11: invalid template: \"${oops\" (no closing brace)"));
	free(messages);
	unlink(path);
}

/* local.yaml resolves with nothing set: every template has a default. */
static void test_local(void **state)
{
	(void)state;
	clear_config_variables();
	struct diag d = {0};
	char *messages;
	struct cfg_node *root = load_config("config/local.yaml", &d, &messages);
	if (!root || d.errors || d.warnings)
		fail_msg("config/local.yaml: %u errors, %u warnings:\n%s", d.errors, d.warnings, messages);
	expect_node_value(root, "environment", CFG_STRING, "development");
	expect_node_value(root, "database.require_ssl", CFG_BOOL, "false");
	expect_node_value(root, "api.port", CFG_INT, "8000");
	expect_node_value(root, "database.connect_warning", CFG_NUMBER, "0.5");
	free(messages);
	cfg_node_free(root);

	/* a variable still overrides, and is coerced */
	setenv("API_PORT", "9001", 1);
	setenv("DATABASE_REQUIRE_SSL", "yes", 1);
	struct diag d2 = {0};
	root = load_config("config/local.yaml", &d2, &messages);
	assert_non_null(root);
	expect_node_value(root, "api.port", CFG_INT, "9001");
	expect_node_value(root, "database.require_ssl", CFG_BOOL, "true");
	free(messages);
	cfg_node_free(root);
	clear_config_variables();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_table),
		cmocka_unit_test(test_marks),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_json_tree),
		cmocka_unit_test(test_bad_schemas),
		cmocka_unit_test(test_schema_file_loads),
		cmocka_unit_test(test_production),
		cmocka_unit_test(test_production_missing_variables),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_present_only),
		cmocka_unit_test(test_secret_template_errors),
	};
	return cmocka_run_group_tests_name("schema", tests, setup, teardown);
}
