/* test_envfile.c — the env store and .env files read as Docker Compose reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shipshape/common.h"
#include "shipshape/config.h"

static char dir[] = "/tmp/test_envfile.XXXXXX";

/* Writes text (len bytes; -1: strlen) to dir/name; returns the path (static). */
static const char *write_env(const char *name, const char *text, long len)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	size_t n = len < 0 ? strlen(text) : (size_t)len;
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	const char *names[] = {"t.env", "a.env", "b.env", "big.env"};
	char path[4096];
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/sub", dir);
	rmdir(path);
	return rmdir(dir);
}

/* ---- files that load: each expected NAME, VALUE and line ---- */

struct want {
	const char *name, *value;
	int line;
};

struct load_case {
	const char *text;
	struct want want[6]; /* every variable the file sets, in order */
	unsigned warnings;
};

static const struct load_case loads[] = {
	{"", {{0}}, 0},
	{"\n\n# only a comment\n   \t\n", {{0}}, 0},
	{"# comment\n\n   # indented comment\nA=1\n", {{"A", "1", 4}}, 0},
	{"A=1", {{"A", "1", 1}}, 0},
	{"export A=1\nexport\tB = two \n", {{"A", "1", 1}, {"B", "two", 2}}, 0},
	{"export=1\n", {{"export", "1", 1}}, 0},
	{"A=\nB=   \nC=\"\"\nD=''\n", {{"A", "", 1}, {"B", "", 2}, {"C", "", 3}, {"D", "", 4}}, 0},
	{"A = 1\n  B=2\n", {{"A", "1", 1}, {"B", "2", 2}}, 0},
	{"A: 1\n", {{"A", "1", 1}}, 0},
	/* unquoted: trimmed; a comment starts at whitespace then # */
	{"A=  hello world  \n", {{"A", "hello world", 1}}, 0},
	{"A=x # comment\nB=x#y\nC=x\t# tab comment\nD=a=b\n",
	 {{"A", "x", 1}, {"B", "x#y", 2}, {"C", "x", 3}, {"D", "a=b", 4}}, 0},
	{"URL=postgres://u:p@h:5432/db?sslmode=require\n",
	 {{"URL", "postgres://u:p@h:5432/db?sslmode=require", 1}}, 0},
	/* single quotes: literal */
	{"A='a $B ${C} \\n # x \"q\"'\n", {{"A", "a $B ${C} \\n # x \"q\"", 1}}, 0},
	{"A='it\\'s'\n", {{"A", "it's", 1}}, 0},
	{"A='x\ny'\nB=1\n", {{"A", "x\ny", 1}, {"B", "1", 3}}, 0},
	{"A='  padded  '\n", {{"A", "  padded  ", 1}}, 0},
	/* double quotes: escapes, several lines */
	{"A=\"a\\nb\\tc\\rd\\\\e\\\"f\\$g\"\n", {{"A", "a\nb\tc\rd\\e\"f$g", 1}}, 0},
	{"A=\"\\q\\{\"\n", {{"A", "\\q\\{", 1}}, 0},
	{"A=\"line1\nline2\"\nB=2\n", {{"A", "line1\nline2", 1}, {"B", "2", 3}}, 0},
	{"A=\"a # not a comment\"\n", {{"A", "a # not a comment", 1}}, 0},
	/* after a closing quote: blanks and a comment only */
	{"A=\"x\" # c\nB='y'# c\nC=\"z\"   \n", {{"A", "x", 1}, {"B", "y", 2}, {"C", "z", 3}}, 0},
	/* templates against earlier variables, in unquoted and double-quoted values */
	{"A=1\nB=${A}2\nC=\"${A}3\"\nD='${A}'\nE=$$A\nF=\"\\$A\"\n",
	 {{"A", "1", 1}, {"B", "12", 2}, {"C", "13", 3}, {"D", "${A}", 4}, {"E", "$A", 5},
	  {"F", "$A", 6}}, 0},
	{"A=${UNSET_SHIPSHAPE:-dflt}\nB=\"${UNSET_SHIPSHAPE-x}y\"\n", {{"A", "dflt", 1}, {"B", "xy", 2}}, 0},
	{"A=${B}\nB=1\n", {{"A", "", 1}, {"B", "1", 2}}, 1},
	{"B='${X}'\nA=${B}\n", {{"B", "${X}", 1}, {"A", "${X}", 2}}, 0}, /* never expanded twice */
	/* a later line overrides an earlier one */
	{"A=1\nA=2\n", {{"A", "2", 2}}, 0},
	/* CRLF line ends, a byte order mark */
	{"A=1\r\nB=\"x\"\r\nC='y' \r\n", {{"A", "1", 1}, {"B", "x", 2}, {"C", "y", 3}}, 0},
	{"\xEF\xBB\xBF" "A=1\n", {{"A", "1", 1}}, 0},
};

static void test_loads(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(loads); i++) {
		const struct load_case *t = &loads[i];
		struct env_store e;
		env_store_init(&e);
		e.use_environ = false;
		struct diag d = {.silent = true};
		const char *path = write_env("t.env", t->text, -1);
		int rc = envfile_load(&e, path, &d);
		if (rc != 0 || d.errors || d.warnings != t->warnings)
			fail_msg("case %zu: rc %d, %u errors, %u warnings: %s", i, rc, d.errors,
				 d.warnings, d.last);
		size_t n = 0;
		for (; n < ARRAY_LEN(t->want) && t->want[n].name; n++) {
			const struct want *w = &t->want[n];
			char *origin = NULL;
			const char *v = env_store_get(&e, w->name, &origin);
			char expect_origin[4200];
			snprintf(expect_origin, sizeof expect_origin, "%s:%d", path, w->line);
			if (!v || strcmp(v, w->value) != 0 || !origin ||
			    strcmp(origin, expect_origin) != 0)
				fail_msg("case %zu: %s = \"%s\" from %s, want \"%s\" from %s", i,
					 w->name, v ? v : "(unset)", origin ? origin : "-", w->value,
					 expect_origin);
			free(origin);
		}
		if (e.n != n)
			fail_msg("case %zu: %zu variables, want %zu", i, e.n, n);
		env_store_free(&e);
	}
}

/* ---- malformed files: each bad line reported as FILE:LINE:COL ---- */

struct bad_case {
	const char *text;
	unsigned errors;
	const char *diag;  /* the last diagnostic, after "PATH" */
	const char *good;  /* a variable still read from a good line, or NULL */
	long len;          /* of text, when it holds a NUL byte */
};

static const struct bad_case bads[] = {
	{"=x\n", 1, ":1:1: missing variable name before \"=\"", NULL},
	{"  =x\n", 1, ":1:3: missing variable name", NULL},
	{"1ABC=x\n", 1, ":1:1: invalid variable name", NULL},
	{"A-B=x\n", 1, ":1:2: invalid variable name", NULL},
	{"A.B=x\n", 1, ":1:2: invalid variable name", NULL},
	{"FOO BAR=x\n", 1, ":1:4: variable name contains a space", NULL},
	{"export FOO BAR=x\n", 1, ":1:11: variable name contains a space", NULL},
	{"FOO BAR\n", 1, ":1:1: expected NAME=VALUE", NULL},
	{"just some words\n", 1, ":1:1: expected NAME=VALUE", NULL},
	{"export   \n", 1, ":1:10: expected NAME=VALUE", NULL},
	{"A=\"abc\nB=1\n", 1, ":1:3: unterminated quoted value", NULL},
	{"OK=1\nA='abc", 1, ":2:3: unterminated quoted value", "OK"},
	{"A=\"x\" y\n", 1, ":1:7: unexpected text after the closing quote", NULL},
	{"A='x'y\nOK=1\n", 1, ":1:6: unexpected text after the closing quote", "OK"},
	{"A=\"x\ny\" z\n", 1, ":2:4: unexpected text after the closing quote", NULL},
	/* named by place and reason: a .env value is never quoted */
	{"A=${\n", 1, ":1:3: invalid template (no closing brace; the value is secret, not shown)", NULL},
	{"A=ab ${foo!}\n", 1, ":1:6: invalid template (expected", NULL},
	{"A=\"ab${}\"\n", 1, ":1:6: invalid template", NULL},
	{"A=\"x\ny ${}\"\n", 1, ":2:3: invalid template", NULL},
	{"A=${UNSET_SHIPSHAPE:?need it}\n", 1,
	 ":1:3: required variable UNSET_SHIPSHAPE is missing a value: need it", NULL},
	/* every bad line in one run, the good ones still read */
	{"=x\nGOOD=1\n1A=2\nB C\nOK=2\n", 3, ":4:1: expected NAME=VALUE", "OK"},
	/* a bad name's quoted value is still skipped whole */
	{"1A=\"x\ny=z\"\nOK=1\n", 1, ":1:1: invalid variable name", "OK"},
	{"A=1\0B=2\n", 1, ":1:4: NUL byte", NULL, 8},
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
		const struct bad_case *t = &bads[i];
		struct env_store e;
		env_store_init(&e);
		e.use_environ = false;
		struct diag d = {.silent = true};
		const char *path = write_env("t.env", t->text, t->len ? t->len : -1);
		char want[4200];
		snprintf(want, sizeof want, "%s%s", path, t->diag);
		int rc = envfile_load(&e, path, &d);
		if (rc != -1 || d.errors != t->errors || !strstr(d.last, want))
			fail_msg("case %zu: rc %d, %u errors (want %u): \"%s\", want \"%s\"", i, rc,
				 d.errors, t->errors, d.last, want);
		if (t->good && !env_store_get(&e, t->good, NULL))
			fail_msg("case %zu: %s not read", i, t->good);
		env_store_free(&e);
	}
}

static void test_file_errors(void **state)
{
	(void)state;
	struct env_store e;
	env_store_init(&e);
	struct diag d = {.silent = true};
	char path[4096];

	snprintf(path, sizeof path, "%s/missing.env", dir);
	assert_int_equal(envfile_load(&e, path, &d), -1);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.last, "missing.env: unable to read env file: No such file or directory"));

	snprintf(path, sizeof path, "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(envfile_load(&e, path, &d), -1);
	assert_non_null(strstr(d.last, "sub: unable to read env file: Is a directory"));

	/* bounded: a file over 1 MiB, a line over 64 KiB */
	size_t big = (1u << 20) + 1;
	char *text = malloc(big);
	assert_non_null(text);
	memset(text, 'x', big);
	memcpy(text, "A=", 2);
	assert_int_equal(envfile_load(&e, write_env("big.env", text, (long)big), &d), -1);
	assert_non_null(strstr(d.last, "big.env: env file larger than 1048576 bytes"));

	size_t line = 70000;
	memcpy(text + line, "\nB=1\n", 5);
	assert_int_equal(envfile_load(&e, write_env("big.env", text, (long)line + 5), &d), -1);
	assert_non_null(strstr(d.last, "big.env:1: line longer than 65536 bytes"));
	assert_string_equal(env_store_get(&e, "B", NULL), "1");
	free(text);
	assert_int_equal(d.errors, 4);
	assert_int_equal(e.n, 2);
	env_store_free(&e);
}

/* The store is bounded: variables past ENV_MAX_VARS are one error. */
static void test_too_many_variables(void **state)
{
	(void)state;
	struct buf text = {0};
	for (int i = 0; i < 10005; i++)
		buf_printf(&text, "V%d=%d\n", i, i);
	buf_puts(&text, "V0=again\n"); /* overriding is still fine */
	const char *path = write_env("big.env", text.data, (long)text.len);
	buf_free(&text);
	struct env_store e;
	env_store_init(&e);
	e.use_environ = false;
	struct diag d = {.silent = true};
	assert_int_equal(envfile_load(&e, path, &d), -1);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.last, "big.env:10001:1: more than 10000 variables"));
	assert_int_equal(e.n, 10000);
	assert_string_equal(env_store_get(&e, "V0", NULL), "again");
	env_store_free(&e);
}

/* A bare NAME takes the real environment's value, if there is one. */
static void test_inherited(void **state)
{
	(void)state;
	setenv("SHIPSHAPE_TEST_INHERIT", "from-env", 1);
	unsetenv("SHIPSHAPE_TEST_ABSENT");
	const char *path = write_env("t.env", "SHIPSHAPE_TEST_INHERIT\nSHIPSHAPE_TEST_ABSENT\n"
					      "export SHIPSHAPE_TEST_INHERIT\n", -1);
	struct env_store e;
	env_store_init(&e);
	struct diag d = {.silent = true};
	assert_int_equal(envfile_load(&e, path, &d), 0);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].name, "SHIPSHAPE_TEST_INHERIT");
	assert_string_equal(e.v[0].value, "from-env");
	assert_null(env_store_get(&e, "SHIPSHAPE_TEST_ABSENT", NULL));
	env_store_free(&e);

	/* without the real environment, a bare name is nothing */
	env_store_init(&e);
	e.use_environ = false;
	assert_int_equal(envfile_load(&e, path, &d), 0);
	assert_int_equal(e.n, 0);
	env_store_free(&e);
	unsetenv("SHIPSHAPE_TEST_INHERIT");
}

/* The environment over a later file over an earlier file. */
static void test_precedence(void **state)
{
	(void)state;
	char a[4096], b[4096];
	snprintf(a, sizeof a, "%s", write_env("a.env", "X=a\nY=a\nZ=a\nSHIPSHAPE_TEST_PREC=a\n", -1));
	snprintf(b, sizeof b, "%s",
		 write_env("b.env", "\nY=b\nSHIPSHAPE_TEST_PREC=b\nW=\"${Z}-${Y}\"\n", -1));
	setenv("SHIPSHAPE_TEST_PREC", "env", 1);
	struct env_store e;
	env_store_init(&e);
	struct diag d = {.silent = true};
	assert_int_equal(envfile_load(&e, a, &d), 0);
	assert_int_equal(envfile_load(&e, b, &d), 0);

	struct {
		const char *name, *value, *file;
		int line;
	} want[] = {
		{"X", "a", a, 1}, {"Y", "b", b, 2}, {"Z", "a", a, 3}, {"W", "a-b", b, 4},
		{"SHIPSHAPE_TEST_PREC", "env", NULL, 0},
	};
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		char *origin = NULL, expect[4200];
		if (want[i].file)
			snprintf(expect, sizeof expect, "%s:%d", want[i].file, want[i].line);
		else
			snprintf(expect, sizeof expect, "environment variable %s", want[i].name);
		assert_string_equal(env_store_get(&e, want[i].name, &origin), want[i].value);
		assert_string_equal(origin, expect);
		free(origin);
	}
	char *origin = (char *)"untouched";
	assert_null(env_store_get(&e, "SHIPSHAPE_TEST_NOWHERE", &origin));
	assert_null(origin);

	/* without the environment, the later file's value */
	e.use_environ = false;
	assert_string_equal(env_store_get(&e, "SHIPSHAPE_TEST_PREC", NULL), "b");
	unsetenv("SHIPSHAPE_TEST_PREC");
	env_store_free(&e);
}

static void test_store_set(void **state)
{
	(void)state;
	struct env_store e;
	env_store_init(&e);
	assert_true(e.use_environ);
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof name, "V%d", i % 40);
		env_store_set(&e, name, name, (struct cfg_loc){"s.env", i + 1, 1});
	}
	assert_int_equal(e.n, 40);
	char *origin = NULL;
	assert_string_equal(env_store_get(&e, "V7", &origin), "V7");
	assert_string_equal(origin, "s.env:88");
	free(origin);
	env_store_set(&e, "N", NULL, (struct cfg_loc){0});
	assert_string_equal(env_store_get(&e, "N", &origin), "");
	assert_string_equal(origin, "env file");
	free(origin);
	env_store_free(&e);
	assert_int_equal(e.n, 0);
	env_store_free(&e); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_too_many_variables),
		cmocka_unit_test(test_inherited),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_store_set),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
