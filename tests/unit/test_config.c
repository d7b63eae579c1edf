/* test_config.c — config_open() and the typed readers: YAML and JSON
 * through the schema, the sections a tool reads, --strict, every problem
 * in one run with its place, and readers that never give a default for a
 * present value of the wrong type. Run from the top of the source tree
 * (tests/run does): the schema is found beside the test binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shipshape/common.h"
#include "shipshape/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_config.XXXXXX";

/* Writes text to a file of that name in the test's directory; the path
 * returned lasts for the next three calls. */
static const char *put(const char *name, const char *text)
{
	static char paths[4][256];
	static unsigned next;
	char *path = paths[next++ % 4];
	snprintf(path, sizeof paths[0], "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static const char *const monitoring_only[] = {"monitoring", NULL};
static const char *const database_only[] = {"database", NULL};

/* ---- config_open over a table of documents ---- */

struct open_case {
	const char *name, *text;
	const char *const *sections;
	bool strict;
	int status;
	unsigned errors, warnings;
	const char *first; /* the first error, after "DIR/" */
};

static const struct open_case open_cases[] = {
	{"ok.yaml", "monitoring:\n  health_check:\n    interval: 5s\n", monitoring_only, false, 0, 0, 0, NULL},
	{"dur.yaml", "monitoring:\n  health_check:\n    interval: 3O s\n", monitoring_only, false, 65, 1, 0,
	 "dur.yaml:3:15: monitoring.health_check.interval: expected a duration, got \"3O s\""},
	{"dur.json", "{\"monitoring\": {\"health_check\": {\"interval\": \"3O s\"}}}", monitoring_only, false, 65, 1, 0,
	 "dur.json: monitoring.health_check.interval: expected a duration, got \"3O s\""},
	{"range.yaml", "database:\n  url: postgresql://127.0.0.1/x\n  pool_size: 5000\n", database_only, false, 65, 1, 0,
	 "range.yaml:3:14: database.pool_size: 5000 is above the maximum 1000"},
	{"enum.yaml", "database:\n  url: postgresql://127.0.0.1/x\n  expected_role: leader\n", database_only, false, 65, 1, 0,
	 "enum.yaml:3:18: database.expected_role: \"leader\" is not one of primary, replica, any"},
	{"list.yaml", "database:\n  url: postgresql://127.0.0.1/x\n  tables: [a, [b]]\n", database_only, false, 65, 1, 0,
	 "list.yaml:3:15: database.tables[1]: expected a string, got a list"},
	/* a section the tool does not read may be missing, one it reads not */
	{"nodb.yaml", "monitoring: {}\n", monitoring_only, false, 0, 0, 0, NULL},
	{"nodb2.yaml", "monitoring: {}\n", database_only, false, 65, 1, 0,
	 "nodb2.yaml:1:1: database: required, but missing"},
	/* a present section is checked whole, its own required keys too */
	{"dburl.yaml", "database:\n  schema: app\n", monitoring_only, false, 65, 1, 0,
	 "dburl.yaml:2:3: database.url: required, but missing"},
	{"unknown.yaml", "monitoring: {}\nmonitorin: {}\n", monitoring_only, false, 0, 0, 1, NULL},
	{"strict.yaml", "monitoring: {}\nmonitorin: {}\n", monitoring_only, true, 65, 1, 0,
	 "strict.yaml:2:12: monitorin: unknown key (did you mean monitoring?)"},
	{"two.yaml", "monitoring:\n  health_check:\n    interval: soon\n    failure_threshold: many\n",
	 monitoring_only, false, 65, 2, 0, "two.yaml:3:15: monitoring.health_check.interval: expected a duration, got \"soon\""},
	{"report.json", "{\"kind\": \"report\", \"status\": \"ok\"}", monitoring_only, false, 65, 1, 0,
	 "report.json: expected a config document, got a report"},
	{"broken.json", "{\"monitoring\": [}", monitoring_only, false, 65, 1, 0, NULL},
	{"empty.yaml", "# nothing\n", monitoring_only, false, 65, 1, 0, NULL},
};

static void test_open_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(open_cases); i++) {
		const struct open_case *tc = &open_cases[i];
		struct config_request r = {.path = put(tc->name, tc->text), .sections = tc->sections,
					   .strict = tc->strict, .silent = true};
		struct config c;
		int status = config_open(&r, &c);
		if (status != tc->status || c.diag.errors != tc->errors || c.diag.warnings != tc->warnings)
			fail_msg("%s: status %d, %u errors, %u warnings; first: %s", tc->name, status,
				 c.diag.errors, c.diag.warnings, c.diag.first);
		if (tc->first) {
			char want[600];
			snprintf(want, sizeof want, "%s/%s", dir, tc->first);
			assert_string_equal(c.diag.first, want);
		}
		if (status == 0) {
			assert_non_null(c.tree);
			assert_non_null(c.doc);
		} else {
			assert_null(c.tree);
			assert_null(c.doc);
		}
		config_close(&c);
	}
}

static void test_missing_file_and_schema(void **state)
{
	(void)state;
	struct config c;
	struct config_request r = {.path = "/nonexistent/c.yaml", .silent = true};
	assert_int_equal(config_open(&r, &c), EXIT_DATAERR);
	assert_non_null(strstr(c.diag.first, "unable to read /nonexistent/c.yaml"));
	config_close(&c);

	r = (struct config_request){.path = put("s.yaml", "monitoring: {}\n"), .schema_path = "/nonexistent/schema.yaml",
				    .sections = monitoring_only, .silent = true};
	assert_int_equal(config_open(&r, &c), EXIT_DATAERR);
	assert_non_null(strstr(c.diag.first, "/nonexistent/schema.yaml"));
	config_close(&c);

	/* --schema names another schema: its rules hold, not the shipped one's */
	const char *schema = put("other-schema.yaml", "version: 1\nroot:\n  type: map\n  keys:\n"
				 "    port: {type: int, max: 10}\n");
	r = (struct config_request){.path = put("o.yaml", "port: 11\n"), .schema_path = schema, .silent = true};
	assert_int_equal(config_open(&r, &c), EXIT_DATAERR);
	if (!strstr(c.diag.first, "port: 11 is above the maximum 10"))
		fail_msg("%s", c.diag.first);
	config_close(&c);

	char *found = config_schema_find();
	assert_non_null(found);
	assert_non_null(strstr(found, "config/schema.yaml"));
	free(found);
}

/* The search order beside a program: the installed copy before a build
 * tree's, and none found is NULL. */
static void test_schema_find_beside(void **state)
{
	(void)state;
	char top[512], bin[600];
	snprintf(top, sizeof top, "%s/prefix", dir);
	snprintf(bin, sizeof bin, "%s/bin", top);
	assert_int_equal(mkdir(top, 0700), 0);
	assert_int_equal(mkdir(bin, 0700), 0);
	assert_null(config_schema_find_beside(bin));

	char cfgdir[600], share[700];
	snprintf(cfgdir, sizeof cfgdir, "%s/config", top);
	assert_int_equal(mkdir(cfgdir, 0700), 0);
	put("prefix/config/schema.yaml", "version: 1\n");
	char *found = config_schema_find_beside(bin);
	assert_non_null(found);
	assert_non_null(strstr(found, "/bin/../config/schema.yaml"));
	free(found);

	snprintf(share, sizeof share, "%s/share", top);
	assert_int_equal(mkdir(share, 0700), 0);
	snprintf(share, sizeof share, "%s/share/shipshape", top);
	assert_int_equal(mkdir(share, 0700), 0);
	snprintf(share, sizeof share, "%s/share/shipshape/config", top);
	assert_int_equal(mkdir(share, 0700), 0);
	put("prefix/share/shipshape/config/schema.yaml", "version: 1\n");
	found = config_schema_find_beside(bin);
	assert_non_null(found);
	assert_non_null(strstr(found, "/bin/../share/shipshape/config/schema.yaml"));
	free(found);
}

/* ---- the readers ---- */

static void open_text(struct config *c, const char *name, const char *text)
{
	struct config_request r = {.path = put(name, text), .sections = monitoring_only, .silent = true};
	int status = config_open(&r, c);
	if (status != 0)
		fail_msg("%s: %s", name, c->diag.first);
}

static void test_readers(void **state)
{
	(void)state;
	struct config c;
	open_text(&c, "readers.yaml",
		  "monitoring:\n  health_check:\n    interval: 1500ms\n    failure_threshold: \"4\"\n"
		  "    endpoints:\n      - {name: a, url: \"http://127.0.0.1:1/\"}\n"
		  "database:\n  url: postgresql://127.0.0.1/x\n  require_ssl: off\n  expected_role: replica\n");
	int64_t ms = 0, n = 0;
	bool b = true;
	const char *s = NULL;
	int e = -1;
	assert_true(config_duration_ms(&c, "monitoring.health_check.interval", 1, &ms));
	assert_int_equal(ms, 1500);
	/* a schema default is the tree's own value */
	assert_true(config_duration_ms(&c, "monitoring.health_check.timeout", 1, &ms));
	assert_int_equal(ms, 10000);
	/* absent, with no schema default: the reader's */
	assert_true(config_duration_ms(&c, "alerts.group_wait", 30000, &ms));
	assert_int_equal(ms, 30000);
	assert_true(config_int(&c, "monitoring.health_check.failure_threshold", 0, &n));
	assert_int_equal(n, 4);
	assert_true(config_bool(&c, "database.require_ssl", true, &b));
	assert_false(b);
	static const char *const roles[] = {"primary", "replica", "any", NULL};
	assert_true(config_enum(&c, "database.expected_role", roles, 0, &e));
	assert_int_equal(e, 1);
	assert_true(config_string(&c, "monitoring.health_check.endpoints[0].name", NULL, &s));
	assert_string_equal(s, "a");
	assert_int_equal(config_list_len(&c, "monitoring.health_check.endpoints"), 1);
	assert_int_equal(config_list_len(&c, "probes"), 0);
	assert_false(config_failed(&c));
	config_close(&c);
}

/* Under a map the schema leaves open, a wrong type reaches the reader: it
 * says so in the loader's shape and leaves the value alone. */
static void test_reader_wrong_type(void **state)
{
	(void)state;
	struct config c;
	open_text(&c, "open.yaml", "monitoring:\n  health_check:\n    jitter: lots\n    retries: [1]\n"
		  "    verbose: maybe\n    cap: 3X\n");
	int64_t v = 7;
	bool b = true;
	const char *s = "kept";
	assert_false(config_duration_ms(&c, "monitoring.health_check.jitter", 5, &v));
	assert_int_equal(v, 7);
	assert_false(config_int(&c, "monitoring.health_check.jitter", 5, &v));
	assert_int_equal(v, 7);
	assert_false(config_bool(&c, "monitoring.health_check.verbose", false, &b));
	assert_true(b);
	assert_false(config_string(&c, "monitoring.health_check.retries", "d", &s));
	assert_string_equal(s, "kept");
	assert_int_equal(c.diag.errors, 4);
	char want[300];
	snprintf(want, sizeof want, "%s/open.yaml:3:13: monitoring.health_check.jitter: expected a duration, got \"lots\"", dir);
	assert_string_equal(c.diag.first, want);
	assert_true(config_failed(&c));
	config_error(&c, "monitoring.health_check.cap", "used twice");
	snprintf(want, sizeof want, "%s/open.yaml:6:10: monitoring.health_check.cap: used twice", dir);
	assert_string_equal(c.diag.last, want);
	config_close(&c);
}

/* A JSON document: numbers are seconds for durations, as cfg-resolve
 * prints them, and messages name the file and the key path. */
static void test_json_document(void **state)
{
	(void)state;
	struct config c;
	open_text(&c, "doc.json", "{\"monitoring\": {\"health_check\": {\"interval\": 2.5, \"x\": {}}}}");
	int64_t ms = 0;
	assert_true(config_duration_ms(&c, "monitoring.health_check.interval", 1, &ms));
	assert_int_equal(ms, 2500);
	assert_false(config_int(&c, "monitoring.health_check.x", 1, &ms));
	char want[300];
	snprintf(want, sizeof want, "%s/doc.json: monitoring.health_check.x: expected an int, got a map", dir);
	assert_string_equal(c.diag.first, want);
	config_close(&c);
}

int main(void)
{
	assert_non_null(mkdtemp(dir));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_cases),
		cmocka_unit_test(test_missing_file_and_schema),
		cmocka_unit_test(test_schema_find_beside),
		cmocka_unit_test(test_readers),
		cmocka_unit_test(test_reader_wrong_type),
		cmocka_unit_test(test_json_document),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		failed++;
	return failed;
}
