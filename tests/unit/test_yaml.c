/* test_yaml.c — the YAML loader: typed scalars, anchors, aliases and merge
 * keys, locations, and every kind of bad input with its file:line:col,
 * including generated deep nesting and alias bombs. Run from the top of the
 * source tree (tests/run does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shipshape/common.h"
#include "shipshape/config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define INSTRUMENTED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define INSTRUMENTED 1
#endif
#endif
#ifndef INSTRUMENTED
#define INSTRUMENTED 0
#endif

static struct cfg_node *load(const char *text, struct diag *d)
{
	memset(d, 0, sizeof *d);
	d->silent = true;
	return yaml_load_string("t.yaml", text, strlen(text), d);
}

static struct cfg_node *load_ok(const char *text)
{
	struct diag d;
	struct cfg_node *root = load(text, &d);
	if (!root)
		fail_msg("unexpected error: %s", d.last);
	assert_int_equal(d.errors, 0);
	return root;
}

/* ---- good documents: path -> type and text ---- */

struct expect {
	const char *path;
	enum cfg_type type;
	const char *value; /* scalars: n->str; maps/lists: "{N}" or "[N]" members */
};

static void check_node(const struct cfg_node *root, const struct expect *e)
{
	const struct cfg_node *n = cfg_path(root, e->path);
	if (!n)
		fail_msg("%s: not found", e->path);
	if (n->type != e->type)
		fail_msg("%s: type %d, expected %d", e->path, (int)n->type, (int)e->type);
	char members[32];
	const char *got = n->str;
	if (n->type == CFG_MAP || n->type == CFG_LIST) {
		snprintf(members, sizeof members, n->type == CFG_MAP ? "{%zu}" : "[%zu]", cfg_count(n));
		got = members;
	}
	if (!got || strcmp(got, e->value) != 0)
		fail_msg("%s: \"%s\", expected \"%s\"", e->path, got ? got : "(null)", e->value);
}

static const char types_doc[] =
	"int: 8000\n"
	"neg: -42\n"
	"plus: +7\n"
	"hex: 0x1F\n"
	"oct: 0o17\n"
	"big: 9223372036854775808\n"
	"float: 1.5\n"
	"exp: 1e3\n"
	"inf: -.inf\n"
	"yes: yes\n"
	"off: off\n"
	"true: True\n"
	"tilde: ~\n"
	"empty:\n"
	"single: '8000'\n"
	"double: \"true\"\n"
	"tagged: !!str 123\n"
	"nonspecific: ! 12\n"
	"int_tag: !!int 5\n"
	"date: 2001-12-14\n"
	"text: hello world\n"
	"version: 15\n"
	"folded: >\n  one\n  two\n"
	"literal: |\n  a\n  b\n"
	"'quoted key': 1\n"
	"? complex\n: 2\n"
	"flow: {a: [1, two, {b: null}], c: []}\n"
	"3: numeric key\n";

static const struct expect types_expect[] = {
	{"int", CFG_INT, "8000"},
	{"neg", CFG_INT, "-42"},
	{"plus", CFG_INT, "+7"},
	{"hex", CFG_INT, "0x1F"},
	{"oct", CFG_INT, "0o17"},
	{"big", CFG_STRING, "9223372036854775808"},
	{"float", CFG_NUMBER, "1.5"},
	{"exp", CFG_NUMBER, "1e3"},
	{"inf", CFG_NUMBER, "-.inf"},
	{"yes", CFG_BOOL, "yes"},
	{"off", CFG_BOOL, "off"},
	{"true", CFG_BOOL, "True"},
	{"tilde", CFG_NULL, "~"},
	{"empty", CFG_NULL, ""},
	{"single", CFG_STRING, "8000"},
	{"double", CFG_STRING, "true"},
	{"tagged", CFG_STRING, "123"},
	{"nonspecific", CFG_STRING, "12"},
	{"int_tag", CFG_INT, "5"},
	{"date", CFG_STRING, "2001-12-14"},
	{"text", CFG_STRING, "hello world"},
	{"folded", CFG_STRING, "one two\n"},
	{"literal", CFG_STRING, "a\nb\n"},
	{"quoted key", CFG_INT, "1"},
	{"complex", CFG_INT, "2"},
	{"flow", CFG_MAP, "{2}"},
	{"flow.a", CFG_LIST, "[3]"},
	{"flow.a[0]", CFG_INT, "1"},
	{"flow.a[1]", CFG_STRING, "two"},
	{"flow.a[2].b", CFG_NULL, "null"},
	{"flow.c", CFG_LIST, "[0]"},
	{"3", CFG_STRING, "numeric key"},
};

static void test_types(void **state)
{
	(void)state;
	struct cfg_node *root = load_ok(types_doc);
	for (size_t k = 0; k < ARRAY_LEN(types_expect); k++)
		check_node(root, &types_expect[k]);
	assert_int_equal(cfg_path(root, "int")->i, 8000);
	assert_int_equal(cfg_path(root, "hex")->i, 31);
	assert_int_equal(cfg_path(root, "oct")->i, 15);
	assert_true(cfg_path(root, "yes")->b);
	assert_false(cfg_path(root, "off")->b);
	assert_true(cfg_path(root, "single")->quoted);
	assert_true(cfg_path(root, "tagged")->quoted);
	assert_false(cfg_path(root, "text")->quoted);
	assert_null(root->key);
	assert_string_equal(cfg_path(root, "flow.a")->key, "a");
	assert_null(cfg_path(root, "flow.a[0]")->key);
	cfg_node_free(root);
}

/* Anchors, aliases and << merge keys: each document with what it must hold. */
struct good_case {
	const char *name;
	const char *yaml;
	struct expect expect[8];
};

static const struct good_case good_cases[] = {
	{"alias of a map",
	 "base: &b {x: 1, y: [1, 2]}\ncopy: *b\n",
	 {{"copy", CFG_MAP, "{2}"}, {"copy.x", CFG_INT, "1"}, {"copy.y[1]", CFG_INT, "2"},
	  {"base.y", CFG_LIST, "[2]"}}},
	{"alias of a scalar, and as a key",
	 "name: &n service\n*n : value\nlist: [*n, *n]\n",
	 {{"service", CFG_STRING, "value"}, {"list[1]", CFG_STRING, "service"}}},
	{"merge an alias; explicit keys win",
	 "defaults: &d\n  host: localhost\n  port: 5432\n  pool: {min: 1}\n"
	 "prod:\n  <<: *d\n  port: 6432\n",
	 {{"prod", CFG_MAP, "{3}"}, {"prod.host", CFG_STRING, "localhost"}, {"prod.port", CFG_INT, "6432"},
	  {"prod.pool.min", CFG_INT, "1"}, {"defaults.port", CFG_INT, "5432"}}},
	{"explicit key before the merge key still wins",
	 "d: &d {a: 1, b: 2}\nm:\n  a: 9\n  <<: *d\n",
	 {{"m", CFG_MAP, "{2}"}, {"m.a", CFG_INT, "9"}, {"m.b", CFG_INT, "2"}}},
	{"merge a sequence: earlier maps win",
	 "a: &a {x: a, y: a}\nb: &b {x: b, z: b}\nc:\n  <<: [*a, *b]\n  y: c\n",
	 {{"c", CFG_MAP, "{3}"}, {"c.x", CFG_STRING, "a"}, {"c.y", CFG_STRING, "c"}, {"c.z", CFG_STRING, "b"}}},
	{"merge an inline map",
	 "d: {<<: {k: 1, j: 1}, j: 2}\n",
	 {{"d", CFG_MAP, "{2}"}, {"d.k", CFG_INT, "1"}, {"d.j", CFG_INT, "2"}}},
	{"merge with the !!merge tag",
	 "a: &a {x: 1}\nb: {!!merge <<: *a}\n",
	 {{"b.x", CFG_INT, "1"}}},
	{"merges chain through anchors",
	 "a: &a {x: a}\ne: &e {<<: *a, w: 1}\nf: {<<: *e, v: 2}\n",
	 {{"f", CFG_MAP, "{3}"}, {"f.x", CFG_STRING, "a"}, {"f.w", CFG_INT, "1"}, {"f.v", CFG_INT, "2"}}},
	{"a quoted << is an ordinary key",
	 "'<<': {a: 1}\n",
	 {{"<<.a", CFG_INT, "1"}}},
	{"a redefined anchor: aliases see the latest",
	 "a: &x 1\nb: *x\nc: &x 2\nd: *x\n",
	 {{"b", CFG_INT, "1"}, {"d", CFG_INT, "2"}}},
	{"an alias inside a merged map is expanded",
	 "v: &v [1, 2, 3]\nd: &d {list: *v}\ne: {<<: *d}\n",
	 {{"e.list", CFG_LIST, "[3]"}, {"e.list[2]", CFG_INT, "3"}}},
	{"the empty mapping", "{}\n", {{"", CFG_MAP, "{0}"}}},
	{"explicit document markers", "%YAML 1.1\n---\na: 1\n...\n", {{"a", CFG_INT, "1"}}},
	{"a UTF-8 BOM and UTF-8 text", "\xEF\xBB\xBFname: caf\xC3\xA9\n", {{"name", CFG_STRING, "caf\xC3\xA9"}}},
};

static void test_good_documents(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(good_cases); k++) {
		const struct good_case *c = &good_cases[k];
		struct diag d;
		struct cfg_node *root = load(c->yaml, &d);
		if (!root)
			fail_msg("%s: unexpected error: %s", c->name, d.last);
		for (size_t e = 0; e < ARRAY_LEN(c->expect) && c->expect[e].path; e++)
			check_node(root, &c->expect[e]);
		cfg_node_free(root);
	}
}

static void test_merge_order(void **state)
{
	(void)state;
	/* Merged members take the place of the << entry; explicit ones keep theirs. */
	struct cfg_node *root = load_ok("d: &d {a: 1, b: 2, c: 3}\nm:\n  first: 0\n  <<: *d\n  b: 9\n");
	const char *order[] = {"first", "a", "c", "b"};
	const struct cfg_node *c = cfg_path(root, "m")->child;
	for (size_t k = 0; k < ARRAY_LEN(order); k++, c = c->next) {
		assert_non_null(c);
		assert_string_equal(c->key, order[k]);
	}
	assert_null(c);
	cfg_node_free(root);
}

static void test_locations(void **state)
{
	(void)state;
	struct cfg_node *root = load_ok("a:\n  b: [1, {c: 2}]\n  s: 'x'\nalias: &z [q]\nuse: *z\n");
	static const struct {
		const char *path;
		int line, col;
	} locs[] = {
		{"a", 2, 3}, {"a.b", 2, 6}, {"a.b[0]", 2, 7}, {"a.b[1].c", 2, 14}, {"a.s", 3, 6},
		/* an alias's copy points where the value was written (from its anchor) */
		{"use", 4, 8}, {"use[0]", 4, 12},
	};
	assert_string_equal(root->loc.file, "t.yaml");
	assert_ptr_equal(root->loc.file, cfg_intern("t.yaml"));
	for (size_t k = 0; k < ARRAY_LEN(locs); k++) {
		const struct cfg_node *n = cfg_path(root, locs[k].path);
		assert_non_null(n);
		if (n->loc.line != locs[k].line || n->loc.col != locs[k].col)
			fail_msg("%s at %d:%d, expected %d:%d", locs[k].path, n->loc.line, n->loc.col, locs[k].line,
				 locs[k].col);
	}
	cfg_node_free(root);
}

/* A string holding a template knows where its first character is, past a
 * quote, an anchor or a tag, so that a template error names the column of
 * its "$". */
static void test_text_start(void **state)
{
	(void)state;
	struct cfg_node *root = load_ok("a: \"${X}\"\nb: &q 'x ${Y}'\nc: !!str\n  \"${Z}\"\n"
					"d: \"\xc3\xa9${W}\"\ne: [ \"${V}\" ]\nf: ${P}\ng: \"no template\"\n"
					"h: !!str # a comment\n  ${T}\n");
	static const struct {
		const char *path;
		int line, col; /* of the text; 0: the same as the node's place */
	} starts[] = {
		{"a", 1, 5}, {"b", 2, 8}, {"c", 4, 4}, {"d", 5, 5}, {"e[0]", 6, 7},
		{"f", 0, 0}, {"g", 0, 0}, {"h", 10, 3},
	};
	for (size_t k = 0; k < ARRAY_LEN(starts); k++) {
		const struct cfg_node *n = cfg_path(root, starts[k].path);
		assert_non_null(n);
		if (n->text_line != starts[k].line || n->text_col != starts[k].col)
			fail_msg("%s: text at %d:%d, expected %d:%d", starts[k].path, n->text_line,
				 n->text_col, starts[k].line, starts[k].col);
	}
	/* the copy made for an alias keeps it */
	struct cfg_node *copy = cfg_copy(cfg_path(root, "b"));
	assert_int_equal(copy->text_col, 8);
	cfg_node_free(copy);
	cfg_node_free(root);
}

/* ---- bad documents: the message, with its place ---- */

struct bad_case {
	const char *yaml;
	const char *message; /* d.last must start with it */
};

static const struct bad_case bad_cases[] = {
	{"a: 1\na: 2\n", "t.yaml:2:1: duplicate key \"a\" (first at 1:1)"},
	{"port: 1\nx:\n  port: 1\n  port: 2\n", "t.yaml:4:3: duplicate key \"port\" (first at 3:3)"},
	{"'a': 1\n\"a\": 2\n", "t.yaml:2:1: duplicate key \"a\" (first at 1:1)"},
	{"{a: 1, b: 2, a: 3}\n", "t.yaml:1:14: duplicate key \"a\" (first at 1:2)"},
	{"d: &d {x: 1}\nm:\n  <<: *d\n  <<: *d\n", "t.yaml:4:3: duplicate key \"<<\" (first at 3:3)"},
	{"a: 1\n---\nb: 2\n", "t.yaml:2:1: a second YAML document"},
	{"a: 1\n...\n---\nb: 2\n", "t.yaml:3:1: a second YAML document"},
	{"", "t.yaml: no YAML document"},
	{"# only\n# comments\n\n", "t.yaml: no YAML document"},
	{"- a\n- b\n", "t.yaml:1:1: the top level must be a mapping, not a sequence"},
	{"hello\n", "t.yaml:1:1: the top level must be a mapping, not a scalar"},
	{"---\n", "t.yaml:2:1: the document is empty"},
	{"? [a]\n: 1\n", "t.yaml:1:3: a mapping key must be a scalar, not a sequence"},
	{"{ {a: 1}: 2 }\n", "t.yaml:1:3: a mapping key must be a scalar, not a mapping"},
	{"l: &l [1]\n*l : 2\n", "t.yaml:2:1: a mapping key must be a scalar, not a sequence"},
	{"a: !Ref x\n", "t.yaml:1:4: unknown tag \"!Ref\""},
	{"a: !!python/object x\n", "t.yaml:1:4: unknown tag \"tag:yaml.org,2002:python/object\""},
	{"a: !custom {b: 1}\n", "t.yaml:1:4: unknown tag \"!custom\""},
	{"a: *nope\n", "t.yaml:1:4: unknown alias *nope"},
	{"a: &x [*x]\n", "t.yaml:1:8: alias *x refers to a node that contains it"},
	{"a: b: c\n", "t.yaml:1:5: mapping values are not allowed in this context"},
	{"a: [1, 2\n", "t.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence at 1:4)"},
	{"a: 'x\n", "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at 1:4)"},
	{"a:\n\tb: 1\n", "t.yaml:2:1: found character that cannot start any token"},
	{"a: \xff\n", "t.yaml:1:4: invalid leading UTF-8 octet"},
	{"ok: 1\nname: caf\xC3\xA9\nb: x\xC3\x28\n", "t.yaml:3:6: invalid trailing UTF-8 octet"},
	{"a: 1\nb: \x01\n", "t.yaml:2:4: control characters are not allowed"},
	{"a: 1\n<<: 5\n",
	 "t.yaml:2:1: the value of a << merge key must be a mapping or a sequence of mappings, not a scalar"},
	{"a: 1\n<<:\n", "t.yaml:2:1: the value of a << merge key must be a mapping"},
	{"m: {<<: [{a: 1}, 2]}\n", "t.yaml:1:5: the value of a << merge key must be a mapping or a sequence of "
				 "mappings; the sequence holds a scalar at 1:18"},
	{"l: &l [1]\nm: {<<: *l}\n", "t.yaml:2:5: the value of a << merge key must be a mapping or a sequence of "
				     "mappings; the sequence holds a scalar at 1:8"},
	{"a: \"x\\0y\"\n", "t.yaml:1:4: a NUL character"},
};

static void test_bad_documents(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(bad_cases); k++) {
		struct diag d;
		struct cfg_node *root = load(bad_cases[k].yaml, &d);
		if (root)
			fail_msg("case %zu loaded; expected \"%s\"", k, bad_cases[k].message);
		assert_true(d.errors >= 1);
		if (strncmp(d.last, bad_cases[k].message, strlen(bad_cases[k].message)) != 0)
			fail_msg("case %zu: \"%s\", expected \"%s\"", k, d.last, bad_cases[k].message);
	}
}

static void test_errors_are_all_reported(void **state)
{
	(void)state;
	struct diag d;
	assert_null(load("a: 1\na: 2\nb: !x 1\nc: {k: 1, k: 2}\n", &d));
	assert_int_equal(d.errors, 3);
	/* in file order: the duplicate a, the tag, then the duplicate k */
	assert_string_equal(d.last, "t.yaml:4:11: duplicate key \"k\" (first at 4:5)");
}

/* ---- generated: nesting and alias bombs ---- */

static char *repeat_wrap(const char *prefix, const char *open, const char *middle, const char *close, int times)
{
	struct buf b = {0};
	buf_puts(&b, prefix);
	for (int k = 0; k < times; k++)
		buf_puts(&b, open);
	buf_puts(&b, middle);
	for (int k = 0; k < times; k++)
		buf_puts(&b, close);
	buf_puts(&b, "\n");
	return buf_take(&b);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	struct diag d;
	char msg[128];
	/* the top-level map is level 1, so the 256th [ opens level 257 */
	snprintf(msg, sizeof msg, "t.yaml:1:%d: nesting deeper than %d levels", 4 + YAML_MAX_DEPTH - 1,
		 YAML_MAX_DEPTH);

	char *text = repeat_wrap("a: ", "[", "1", "]", 10000);
	assert_null(load(text, &d));
	assert_string_equal(d.last, msg);
	free(text);

	text = repeat_wrap("a: ", "{a: ", "1", "}", 10000);
	assert_null(load(text, &d));
	snprintf(msg, sizeof msg, "t.yaml:1:%d: nesting deeper than %d levels", 4 + (YAML_MAX_DEPTH - 1) * 4,
		 YAML_MAX_DEPTH);
	assert_string_equal(d.last, msg);
	free(text);

	text = repeat_wrap("", "- ", "x", "", 10000);
	assert_null(load(text, &d));
	assert_non_null(strstr(d.last, "nesting deeper than"));
	free(text);

	/* exactly the limit is fine */
	text = repeat_wrap("a: ", "[", "1", "]", YAML_MAX_DEPTH - 1);
	struct cfg_node *root = load_ok(text);
	const struct cfg_node *n = cfg_get(root, "a");
	int levels = 1;
	while (n && n->type == CFG_LIST) {
		levels++;
		n = n->child;
	}
	assert_int_equal(levels, YAML_MAX_DEPTH);
	assert_int_equal(n->i, 1);
	cfg_node_free(root);
	free(text);
}

static void test_deep_through_aliases(void **state)
{
	(void)state;
	struct diag d;
	/* each alias stacks a 200-level list inside another one */
	char *deep = repeat_wrap("a: &a ", "[", "1", "]", 200);
	char *text = easprintf("%sb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
			       deep);
	assert_null(load(text, &d));
	assert_non_null(strstr(d.last, "t.yaml:2:"));
	assert_non_null(strstr(d.last, "alias *a nests the document deeper than"));
	free(text);
	free(deep);
}

static void test_billion_laughs(void **state)
{
	(void)state;
	static const char bomb[] =
		"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct diag d;
	clock_t start = clock();
	assert_null(load(bomb, &d));
	double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
	/* a to f hold 672,000 nodes after expansion; the first *f (597,871 more)
	 * crosses 1,000,000, having allocated only a few hundred */
	assert_string_equal(d.last, "t.yaml:7:8: alias *f takes the document beyond 1000000 nodes (an alias bomb?)");
	assert_true(seconds < 1.0);

	/* merge keys expand too */
	static const char merge_bomb[] =
		"a: &a {a0: 0, a1: 1, a2: 2, a3: 3, a4: 4, a5: 5, a6: 6, a7: 7, a8: 8, a9: 9}\n"
		"b: &b {b0: *a, b1: *a, b2: *a, b3: *a, b4: *a, b5: *a, b6: *a, b7: *a, b8: *a, b9: *a}\n"
		"c: &c {c0: *b, c1: *b, c2: *b, c3: *b, c4: *b, c5: *b, c6: *b, c7: *b, c8: *b, c9: *b}\n"
		"d: &d {d0: *c, d1: *c, d2: *c, d3: *c, d4: *c, d5: *c, d6: *c, d7: *c, d8: *c, d9: *c}\n"
		"e: &e {e0: *d, e1: *d, e2: *d, e3: *d, e4: *d, e5: *d, e6: *d, e7: *d, e8: *d, e9: *d}\n"
		"f: &f {<<: *e, x: 1}\n"
		"g: {<<: [*f], t: *f, u: *f, v: *f, w: *f, x: *f, y: *f, z: *f}\n";
	assert_null(load(merge_bomb, &d));
	assert_non_null(strstr(d.last, "t.yaml:7:"));
	assert_non_null(strstr(d.last, "takes the document beyond 1000000 nodes"));
}

static void test_too_many_nodes(void **state)
{
	(void)state;
	if (RUNNING_ON_VALGRIND)
		skip(); /* a million nodes take half a minute there; ASan runs it */
	struct buf b = {0};
	buf_puts(&b, "a: [");
	for (int k = 0; k <= YAML_MAX_NODES; k++)
		buf_puts(&b, "0,");
	buf_puts(&b, "0]\n");
	struct diag d;
	memset(&d, 0, sizeof d);
	d.silent = true;
	assert_null(yaml_load_string("t.yaml", b.data, b.len, &d));
	assert_non_null(strstr(d.last, "the document has more than 1000000 nodes"));
	buf_free(&b);
}

/* ---- files ---- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_yaml.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	char *cmd = easprintf("rm -rf '%s'", tmpdir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *text)
{
	char *path = easprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void expect_file_error(const char *path, const char *suffix)
{
	struct diag d = {.silent = true};
	assert_null(yaml_load_file(path, &d));
	assert_int_equal(d.errors, 1);
	char *expected = easprintf("%s: %s", path, suffix);
	assert_string_equal(d.last, expected);
	free(expected);
}

static void test_files(void **state)
{
	(void)state;
	char *missing = easprintf("%s/missing.yaml", tmpdir);
	expect_file_error(missing, "unable to read: No such file or directory");
	free(missing);

	expect_file_error(tmpdir, "is a directory, not a YAML file");

	char *big = easprintf("%s/big.yaml", tmpdir);
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)YAML_MAX_FILE_SIZE + 1), 0);
	close(fd);
	expect_file_error(big, "larger than the 4 MiB limit for a YAML file");
	free(big);

	char *empty = write_file("empty.yaml", "");
	expect_file_error(empty, "no YAML document (the file is empty or holds only comments)");
	free(empty);

	char *comments = write_file("comments.yaml", "# nothing here\n   # at all\n");
	expect_file_error(comments, "no YAML document (the file is empty or holds only comments)");
	free(comments);

	char *bad = write_file("bad.yaml", "a: 1\nb: [\n");
	struct diag d = {.silent = true};
	assert_null(yaml_load_file(bad, &d));
	char *prefix = easprintf("%s:3:1: ", bad);
	assert_memory_equal(d.last, prefix, strlen(prefix));
	free(prefix);
	free(bad);

	char *good = write_file("good.yaml", "server:\n  port: 8000\n");
	struct cfg_node *root = yaml_load_file(good, &d);
	assert_non_null(root);
	const struct cfg_node *port = cfg_path(root, "server.port");
	assert_int_equal(port->i, 8000);
	assert_string_equal(port->loc.file, good);
	assert_int_equal(port->loc.line, 2);
	assert_int_equal(port->loc.col, 9);
	cfg_node_free(root);
	free(good);

	/* the size limit holds for text from memory too */
	assert_null(yaml_load_string("mem.yaml", "a: 1\n", (size_t)YAML_MAX_FILE_SIZE + 1, &d));
	assert_string_equal(d.last, "mem.yaml: larger than the 4 MiB limit for a YAML file");
}

/* config/production.yaml loads well under a millisecond. */
static void test_speed(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	if (read_file("config/production.yaml", YAML_MAX_FILE_SIZE, &text, &len) < 0)
		skip();
	enum { ROUNDS = 200 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < ROUNDS; k++) {
		struct diag d = {.silent = true};
		struct cfg_node *root = yaml_load_string("config/production.yaml", text, len, &d);
		if (!root)
			fail_msg("config/production.yaml: %s", d.last);
		cfg_node_free(root);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / ROUNDS;
	double limit = INSTRUMENTED || RUNNING_ON_VALGRIND ? 100.0 : 1.0;
	if (ms > limit)
		fail_msg("config/production.yaml: %.3f ms per load, limit %.1f", ms, limit);
	free(text);
}

int main(void)
{
	prog_set("test_yaml");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_good_documents),
		cmocka_unit_test(test_merge_order),
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_text_start),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_errors_are_all_reported),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_deep_through_aliases),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_too_many_nodes),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_speed),
	};
	return cmocka_run_group_tests_name("yaml", tests, make_tmpdir, remove_tmpdir);
}
