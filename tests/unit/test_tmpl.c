/* test_tmpl.c — tmpl_expand against Docker Compose's interpolation rules,
 * and tmpl_scan's references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shipshape/common.h"
#include "shipshape/config.h"
#include "shipshape/redact.h"

/* The variables every case sees (the real environment is off). */
static struct env_store vars;

static int setup(void **state)
{
	(void)state;
	env_store_init(&vars);
	vars.use_environ = false;
	env_store_set(&vars, "SET", "value", (struct cfg_loc){"vars.env", 1, 1});
	env_store_set(&vars, "EMPTY", "", (struct cfg_loc){"vars.env", 2, 1});
	env_store_set(&vars, "LIT", "${SET}$$ $SET", (struct cfg_loc){"vars.env", 3, 1});
	env_store_set(&vars, "B", "bee", (struct cfg_loc){"vars.env", 4, 1});
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	env_store_free(&vars);
	return 0;
}

struct tmpl_case {
	const char *in;
	const char *want;    /* NULL: tmpl_expand fails */
	const char *diag;    /* a substring of the last diagnostic; NULL: none */
	unsigned warnings;
	bool strict;
};

/* Each case is expanded at cfg.yaml:3:7 (the string's first character). */
static const struct tmpl_case cases[] = {
	/* plain text and the two reference forms */
	{"plain text", "plain text", NULL, 0, false},
	{"", "", NULL, 0, false},
	{"$SET", "value", NULL, 0, false},
	{"${SET}", "value", NULL, 0, false},
	{"a${SET}b$SET.c", "avaluebvalue.c", NULL, 0, false},
	{"$SET_x", "", "cfg.yaml:3:7: warning: variable \"SET_x\" is not set, using an empty string", 1, false},
	{"${SET}_x", "value_x", NULL, 0, false},
	{"$set", "", "variable \"set\" is not set", 1, false}, /* names are case-sensitive */

	/* :- default when unset or empty */
	{"${SET:-d}", "value", NULL, 0, false},
	{"${EMPTY:-d}", "d", NULL, 0, false},
	{"${UNSET:-d}", "d", NULL, 0, false},
	{"${UNSET:-}", "", NULL, 0, false},
	/* - default when unset */
	{"${SET-d}", "value", NULL, 0, false},
	{"${EMPTY-d}", "", NULL, 0, false},
	{"${UNSET-d}", "d", NULL, 0, false},
	{"${UNSET-a b-c:d}", "a b-c:d", NULL, 0, false},
	{"${UNSET-myerror?msg}", "myerror?msg", NULL, 0, false}, /* the first operator counts */
	/* :? required, non-empty */
	{"${SET:?msg}", "value", NULL, 0, false},
	{"${EMPTY:?msg}", NULL, "cfg.yaml:3:7: required variable EMPTY is missing a value: msg", 0, false},
	{"${UNSET:?set it in .env}", NULL, "required variable UNSET is missing a value: set it in .env", 0, false},
	{"${UNSET:?}", NULL, "required variable UNSET is missing a value", 0, false},
	/* ? required, may be empty */
	{"${SET?msg}", "value", NULL, 0, false},
	{"${EMPTY?msg}", "", NULL, 0, false},
	{"${UNSET?msg}", NULL, "required variable UNSET is missing a value: msg", 0, false},
	{"${UNSET?msg-with:-dashes}", NULL, "is missing a value: msg-with:-dashes", 0, false},
	/* :+ replacement when set and non-empty */
	{"${SET:+r}", "r", NULL, 0, false},
	{"${EMPTY:+r}", "", NULL, 0, false},
	{"${UNSET:+r}", "", NULL, 0, false},
	/* + replacement when set */
	{"${SET+r}", "r", NULL, 0, false},
	{"${EMPTY+r}", "r", NULL, 0, false},
	{"${UNSET+r}", "", NULL, 0, false},

	/* nesting: defaults, messages and replacements are templates */
	{"${UNSET:-${SET}}", "value", NULL, 0, false},
	{"${UNSET:-${UNSET2:-x}}", "x", NULL, 0, false},
	{"${UNSET:-a${UNSET2-${B}}c}", "abeec", NULL, 0, false},
	{"${SET:+[${B}]}", "[bee]", NULL, 0, false},
	{"${UNSET:?need ${B:-b}}", NULL, "required variable UNSET is missing a value: need bee", 0, false},
	{"${UNSET:-${UNSET2:?inner}}", NULL, "required variable UNSET2 is missing a value: inner", 0, false},
	{"${UNSET:-$B}", "bee", NULL, 0, false},
	/* braces nest only through templates: "{x" is the default, "}" follows */
	{"${UNSET:-{x}}", "{x}", NULL, 0, false},
	{"${SET:-{x}}", "value}", NULL, 0, false},
	{"${UNSET:-a}b}", "ab}", NULL, 0, false},
	/* the branch not taken is parsed, never evaluated */
	{"${SET:-${UNSET}}", "value", NULL, 0, false},
	{"${SET:-${UNSET:?not needed}}", "value", NULL, 0, false},
	{"${UNSET:+${UNSET2}}", "", NULL, 0, false},
	{"${SET:-${UNSET}}", "value", NULL, 0, true},

	/* $$ and a lone $ */
	{"$$", "$", NULL, 0, false},
	{"$$SET", "$SET", NULL, 0, false},
	{"$${SET}", "${SET}", NULL, 0, false},
	{"a$$$SET", "a$value", NULL, 0, false},
	{"${UNSET:-$$}", "$", NULL, 0, false},
	{"${UNSET:-$${B}}", "${B}", NULL, 0, false},
	{"$1", "$1", NULL, 0, false},
	{"price: 5$", "price: 5$", NULL, 0, false},
	{"$ x", "$ x", NULL, 0, false},
	{"$-x", "$-x", NULL, 0, false},
	{"$}", "$}", NULL, 0, false},
	{"a $ string", "a $ string", NULL, 0, false},
	{"^REGEX$", "^REGEX$", NULL, 0, false},
	{"$SET-bar", "value-bar", NULL, 0, false},

	/* a value is inserted literally, never expanded again */
	{"${LIT}", "${SET}$$ $SET", NULL, 0, false},
	{"$LIT", "${SET}$$ $SET", NULL, 0, false},
	{"${UNSET:-${LIT}}", "${SET}$$ $SET", NULL, 0, false},
	{"${SET:+$LIT}", "${SET}$$ $SET", NULL, 0, false},

	/* unset with no default: a warning, or an error when strict */
	{"${UNSET}", "", "cfg.yaml:3:7: warning: variable \"UNSET\" is not set, using an empty string", 1, false},
	{"x $UNSET y ${UNSET2}", "x  y ", "cfg.yaml:3:18: warning: variable \"UNSET2\"", 2, false},
	{"${UNSET}", NULL, "cfg.yaml:3:7: variable \"UNSET\" is not set and has no default", 0, true},
	{"ab $UNSET", NULL, "cfg.yaml:3:10: variable \"UNSET\" is not set", 0, true},
	{"${UNSET:-ok} ${EMPTY}", "ok ", NULL, 0, true},

	/* invalid templates, at the column of their "$" */
	{"${", NULL, "cfg.yaml:3:7: invalid template: \"${\" (no closing brace)", 0, false},
	{"ab${SET", NULL, "cfg.yaml:3:9: invalid template: \"${SET\"", 0, false},
	{"${}", NULL, "cfg.yaml:3:7: invalid template: \"${}\" (no variable name)", 0, false},
	{"${ }", NULL, "cfg.yaml:3:7: invalid template: \"${ }\"", 0, false},
	{"${ foo}", NULL, "cfg.yaml:3:7: invalid template: \"${ foo}\"", 0, false},
	{"${foo!}", NULL, "cfg.yaml:3:7: invalid template: \"${foo!}\"", 0, false},
	{"${foo:}", NULL, "cfg.yaml:3:7: invalid template: \"${foo:}\"", 0, false},
	{"${foo }", NULL, "cfg.yaml:3:7: invalid template: \"${foo }\"", 0, false},
	{"${1x}", NULL, "cfg.yaml:3:7: invalid template: \"${1x}\"", 0, false},
	{"${foo:=x}", NULL, "invalid template: \"${foo:=x}\"", 0, false},
	{"${SET:-${}}", NULL, "cfg.yaml:3:14: invalid template: \"${}\"", 0, false},
	{"${SET:-${A:-x}", NULL, "cfg.yaml:3:7: invalid template", 0, false},
	{"é${}", NULL, "cfg.yaml:3:8: invalid template", 0, false},
	{"line one\nab ${}", NULL, "cfg.yaml:4:4: invalid template", 0, false},
	{"a\nb\n${UNSET}", "a\nb\n", "cfg.yaml:5:1: warning: variable \"UNSET\"", 1, false},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct tmpl_case *t = &cases[i];
		struct diag d = {.silent = true};
		struct tmpl_ctx c = {.env = &vars, .strict = t->strict, .diag = &d,
				     .file = "cfg.yaml", .line = 3, .col = 7};
		char *got = tmpl_expand(t->in, &c);
		bool ok = t->want ? got && strcmp(got, t->want) == 0 && d.errors == 0
				  : !got && d.errors == 1;
		ok = ok && d.warnings == t->warnings;
		ok = ok && (t->diag ? strstr(d.last, t->diag) != NULL : d.last[0] == '\0');
		if (!ok)
			fail_msg("case %zu \"%s\": got \"%s\" (want \"%s\"), %u errors, %u warnings, "
				 "last \"%s\" (want \"%s\")",
				 i, t->in, got ? got : "(null)", t->want ? t->want : "(null)", d.errors,
				 d.warnings, d.last, t->diag ? t->diag : "");
		free(got);
		free(c.origin);
	}
}

/* Nesting is bounded: 64 levels expand, the 65th is an error, not a crash. */
static void test_nesting_depth(void **state)
{
	(void)state;
	for (int levels = 64; levels <= 65; levels++) {
		struct buf b = {0};
		for (int i = 0; i < levels; i++)
			buf_puts(&b, "${UNSET:-");
		buf_putc(&b, 'x');
		for (int i = 0; i < levels; i++)
			buf_putc(&b, '}');
		struct diag d = {.silent = true};
		struct tmpl_ctx c = {.env = &vars, .diag = &d, .file = "f", .line = 1, .col = 1};
		char *s = tmpl_expand(b.data, &c);
		if (levels == 64) {
			assert_string_equal(s, "x");
		} else {
			assert_null(s);
			assert_non_null(strstr(d.last, "f:1:577: invalid template"));
			assert_non_null(strstr(d.last, "templates nested too deeply"));
		}
		free(s);
		buf_free(&b);
	}
}

/* In a secret value an invalid template is named by place and reason, and
 * its text is never quoted. */
static void test_secret_never_quoted(void **state)
{
	(void)state;
	static const char *const bad[] = {"pre${secret-part", "${1secret-part}", "${x!secret-part}",
					  "${SET:-${secret-part"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct diag d = {.silent = true};
		struct tmpl_ctx c = {.env = &vars, .diag = &d, .file = "f", .line = 2, .col = 3,
				     .secret = true};
		assert_null(tmpl_expand(bad[i], &c));
		assert_int_equal(d.errors, 1);
		if (strstr(d.last, "secret-part") || !strstr(d.last, "f:2:") ||
		    !strstr(d.last, "the value is secret, not shown"))
			fail_msg("\"%s\": %s", bad[i], d.last);
		free(c.origin);
	}
}

/* Every bad template in a string is reported, not only the first. */
static void test_every_error_reported(void **state)
{
	(void)state;
	struct diag d = {.silent = true};
	struct tmpl_ctx c = {.env = &vars, .diag = &d, .file = "f", .line = 1, .col = 1};
	assert_null(tmpl_expand("${} ${UNSET:?m} ${foo!} ${", &c));
	assert_int_equal(d.errors, 4);
	assert_non_null(strstr(d.last, "f:1:25: invalid template"));
	free(c.origin);
}

static void test_origin(void **state)
{
	(void)state;
	struct diag d = {.silent = true};
	struct tmpl_ctx c = {.env = &vars, .diag = &d};
	char *s = tmpl_expand("no variables here $$", &c);
	assert_string_equal(s, "no variables here $");
	assert_null(c.origin);
	free(s);

	s = tmpl_expand("${SET}/${EMPTY:-x}/$SET/${UNSET:-y}", &c);
	assert_string_equal(s, "value/x/value/y");
	assert_string_equal(c.origin, "SET from vars.env:1, EMPTY from vars.env:2");
	free(s);

	/* appends, without repeating an entry already listed */
	s = tmpl_expand("${B}${SET}", &c);
	assert_string_equal(c.origin, "SET from vars.env:1, EMPTY from vars.env:2, B from vars.env:4");
	free(s);

	/* a failed expansion leaves the origin as it was */
	assert_null(tmpl_expand("${LIT}${UNSET:?x}", &c));
	assert_string_equal(c.origin, "SET from vars.env:1, EMPTY from vars.env:2, B from vars.env:4");
	free(c.origin);
}

/* A secret's variable (named like one, used in a secret, or holding a
 * registered secret) is registered when used, marks the result, and shows
 * as *** in a required variable's message; an ordinary one expands. */
static void test_secret_variables(void **state)
{
	(void)state;
	redact_clear();
	env_store_set(&vars, "API_KEY", "key-canary-1", (struct cfg_loc){"vars.env", 5, 1});
	env_store_set(&vars, "PLAIN", "plain-canary-2", (struct cfg_loc){"vars.env", 6, 1});
	env_store_set(&vars, "COPY", "plain-canary-2", (struct cfg_loc){"vars.env", 7, 1});
	static const struct {
		const char *in;
		bool secret;         /* the string is a secret */
		const char *want;    /* NULL: fails */
		bool used_secret;
		const char *diag;
	} secret_cases[] = {
		{"${B}", false, "bee", false, NULL},
		{"x${API_KEY}", false, "xkey-canary-1", true, NULL},
		{"${UNSET?key ${API_KEY}, ${B}}", false, NULL, false, "missing a value: key ***, bee"},
		{"${UNSET?${PLAIN}}", false, NULL, false, "missing a value: plain-canary-2"},
		{"${PLAIN}", true, "plain-canary-2", true, NULL}, /* now registered */
		{"${UNSET?${PLAIN}}", false, NULL, false, "missing a value: ***"},
		{"${COPY:-d}", false, "plain-canary-2", true, NULL},
		{"${UNSET:?$COPY}", false, NULL, false, "missing a value: ***"},
	};
	for (size_t i = 0; i < ARRAY_LEN(secret_cases); i++) {
		struct diag d = {.silent = true};
		struct tmpl_ctx c = {.env = &vars, .diag = &d, .file = "f", .line = 1, .col = 1,
				     .secret = secret_cases[i].secret};
		char *got = tmpl_expand(secret_cases[i].in, &c);
		bool ok = secret_cases[i].want ? got && strcmp(got, secret_cases[i].want) == 0 : !got;
		ok = ok && c.used_secret == secret_cases[i].used_secret;
		ok = ok && (secret_cases[i].diag ? strstr(d.last, secret_cases[i].diag) != NULL : d.last[0] == '\0');
		if (!ok)
			fail_msg("case %zu \"%s\": got \"%s\", used_secret %d, last \"%s\"", i, secret_cases[i].in,
				 got ? got : "(null)", c.used_secret, d.last);
		free(got);
		free(c.origin);
	}
	char *masked = redact_string("key-canary-1 plain-canary-2");
	assert_string_equal(masked, "*** ***");
	free(masked);
	redact_clear();
}

static void test_environment_wins(void **state)
{
	(void)state;
	struct env_store e;
	env_store_init(&e);
	env_store_set(&e, "SHIPSHAPE_TEST_TMPL", "from-file", (struct cfg_loc){".env", 9, 1});
	setenv("SHIPSHAPE_TEST_TMPL", "from-env", 1);
	struct diag d = {.silent = true};
	struct tmpl_ctx c = {.env = &e, .diag = &d};
	char *s = tmpl_expand("${SHIPSHAPE_TEST_TMPL}", &c);
	assert_string_equal(s, "from-env");
	assert_string_equal(c.origin, "SHIPSHAPE_TEST_TMPL from environment variable SHIPSHAPE_TEST_TMPL");
	free(s);
	free(c.origin);
	c.origin = NULL;

	e.use_environ = false;
	s = tmpl_expand("${SHIPSHAPE_TEST_TMPL}", &c);
	assert_string_equal(s, "from-file");
	assert_string_equal(c.origin, "SHIPSHAPE_TEST_TMPL from .env:9");
	free(s);
	free(c.origin);
	c.origin = NULL;

	/* no store at all: the real environment only */
	c.env = NULL;
	s = tmpl_expand("$SHIPSHAPE_TEST_TMPL", &c);
	assert_string_equal(s, "from-env");
	free(s);
	free(c.origin);
	unsetenv("SHIPSHAPE_TEST_TMPL");
	env_store_free(&e);
}

/* tmpl_scan: each reference as "NAME op colon word depth line:col", one a
 * line, in the order written; the branches expansion would skip too. */
static const struct {
	const char *in;
	const char *want; /* NULL: an invalid template */
} scan_cases[] = {
	{"no templates", ""},
	{"$$LITERAL and $1", ""},
	{"$A ${B}", "A 0 0 - 0 1:1\nB 0 0 - 0 1:4\n"},
	{"${A:-d} ${B-e}", "A - 1 d 0 1:1\nB - 0 e 0 1:9\n"},
	{"${A:?need A}", "A ? 1 need A 0 1:1\n"},
	{"${A:+r}", "A + 1 r 0 1:1\n"},
	{"${A:-${B:-${C}}}", "A - 1 ${B:-${C}} 0 1:1\nB - 1 ${C} 1 1:6\nC 0 0 - 2 1:11\n"},
	{"x\n${LATER}", "LATER 0 0 - 0 2:1\n"},
	{"${SET?m} ${SET:+$X}", "SET ? 0 m 0 1:1\nSET + 1 $X 0 1:10\nX 0 0 - 1 1:17\n"},
	{"${A", NULL},
	{"${}", NULL},
};

static void on_scan_ref(const struct tmpl_ref *ref, void *arg)
{
	struct buf *b = arg;
	buf_printf(b, "%.*s %c %d ", (int)ref->name_len, ref->name, ref->op ? ref->op : '0', ref->colon);
	if (ref->word_len)
		buf_printf(b, "%.*s", (int)ref->word_len, ref->word);
	else
		buf_puts(b, "-");
	buf_printf(b, " %d %d:%d\n", ref->depth, ref->line, ref->col);
}

static void test_scan(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof scan_cases / sizeof scan_cases[0]; i++) {
		struct diag d = {.silent = true};
		struct tmpl_ctx c = {.diag = &d, .file = "t.yaml", .line = 1, .col = 1};
		struct buf got = {0};
		buf_append(&got, "", 0);
		int rc = tmpl_scan(scan_cases[i].in, &c, on_scan_ref, &got);
		if (!scan_cases[i].want) {
			if (rc != -1 || d.errors == 0)
				fail_msg("tmpl_scan(\"%s\"): no error", scan_cases[i].in);
		} else if (rc != 0 || strcmp(got.data, scan_cases[i].want) != 0) {
			fail_msg("tmpl_scan(\"%s\"): rc %d, got\n%swant\n%s", scan_cases[i].in, rc, got.data,
				 scan_cases[i].want);
		}
		buf_free(&got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_secret_never_quoted),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_environment_wins),
		cmocka_unit_test(test_secret_variables),
		cmocka_unit_test(test_scan),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
