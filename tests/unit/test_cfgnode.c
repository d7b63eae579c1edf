/* test_cfgnode.c — the config tree: plain-scalar typing, look-ups by path,
 * copies, deep merge, and the JSON config document both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shipshape/common.h"
#include "shipshape/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cfg_node *yaml(const char *text)
{
	struct diag d = {.silent = true};
	struct cfg_node *n = yaml_load_string("t.yaml", text, strlen(text), &d);
	if (!n)
		fail_msg("unexpected error: %s", d.last);
	return n;
}

/* The tree as compact JSON text, for comparing with a table. */
static char *json_text(const struct cfg_node *n)
{
	cJSON *j = cfg_to_json(n);
	assert_non_null(j);
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	assert_non_null(text);
	return text;
}

static void expect_json(const struct cfg_node *n, const char *expected)
{
	char *text = json_text(n);
	if (strcmp(text, expected) != 0)
		fail_msg("got %s, expected %s", text, expected);
	free(text);
}

/* ---- cfg_resolve_plain_scalar ---- */

static const struct {
	const char *text;
	enum cfg_type type;
	const char *value; /* "%lld" for ints, "%.17g" for numbers, 1/0 for bools */
} scalars[] = {
	{"", CFG_NULL, ""},
	{"~", CFG_NULL, ""},
	{"null", CFG_NULL, ""},
	{"Null", CFG_NULL, ""},
	{"NULL", CFG_NULL, ""},
	{"nULL", CFG_STRING, ""},
	{"true", CFG_BOOL, "1"},
	{"True", CFG_BOOL, "1"},
	{"TRUE", CFG_BOOL, "1"},
	{"false", CFG_BOOL, "0"},
	{"False", CFG_BOOL, "0"},
	{"FALSE", CFG_BOOL, "0"},
	{"tRUE", CFG_STRING, ""},
	{"yes", CFG_BOOL, "1"},
	{"Yes", CFG_BOOL, "1"},
	{"YES", CFG_BOOL, "1"},
	{"no", CFG_BOOL, "0"},
	{"No", CFG_BOOL, "0"},
	{"on", CFG_BOOL, "1"},
	{"ON", CFG_BOOL, "1"},
	{"off", CFG_BOOL, "0"},
	{"Off", CFG_BOOL, "0"},
	{"y", CFG_STRING, ""},
	{"n", CFG_STRING, ""},
	{"0", CFG_INT, "0"},
	{"42", CFG_INT, "42"},
	{"-42", CFG_INT, "-42"},
	{"+42", CFG_INT, "42"},
	{"007", CFG_INT, "7"},
	{"0x1F", CFG_INT, "31"},
	{"0xff", CFG_INT, "255"},
	{"0o17", CFG_INT, "15"},
	{"0o8", CFG_STRING, ""},
	{"0x", CFG_STRING, ""},
	{"0xG", CFG_STRING, ""},
	{"-0x1", CFG_STRING, ""},
	{"9223372036854775807", CFG_INT, "9223372036854775807"},
	{"-9223372036854775808", CFG_INT, "-9223372036854775808"},
	{"9223372036854775808", CFG_STRING, ""},
	{"-9223372036854775809", CFG_STRING, ""},
	{"0x7FFFFFFFFFFFFFFF", CFG_INT, "9223372036854775807"},
	{"0x8000000000000000", CFG_STRING, ""},
	{"99999999999999999999999", CFG_STRING, ""},
	{"1_000", CFG_STRING, ""},
	{"1.5", CFG_NUMBER, "1.5"},
	{"-1.5", CFG_NUMBER, "-1.5"},
	{".5", CFG_NUMBER, "0.5"},
	{"5.", CFG_NUMBER, "5"},
	{"1e3", CFG_NUMBER, "1000"},
	{"1E-2", CFG_NUMBER, "0.01"},
	{"+2.5e+2", CFG_NUMBER, "250"},
	{"1e", CFG_STRING, ""},
	{".", CFG_STRING, ""},
	{"1.2.3", CFG_STRING, ""},
	{"1e999", CFG_STRING, ""},
	{".inf", CFG_NUMBER, "inf"},
	{"-.Inf", CFG_NUMBER, "-inf"},
	{"+.INF", CFG_NUMBER, "inf"},
	{".nan", CFG_NUMBER, "nan"},
	{".NaN", CFG_NUMBER, "nan"},
	{"-.nan", CFG_STRING, ""},
	{"inf", CFG_STRING, ""},
	{"nan", CFG_STRING, ""},
	{"0x1p3", CFG_STRING, ""},
	{" 1", CFG_STRING, ""},
	{"1 ", CFG_STRING, ""},
	{"30s", CFG_STRING, ""},
	{"2001-12-14", CFG_STRING, ""},
	{"hello", CFG_STRING, ""},
};

static void test_resolve_plain_scalar(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(scalars); k++) {
		struct cfg_node *n = cfg_node_new(CFG_STRING, NULL, (struct cfg_loc){0});
		n->str = estrdup(scalars[k].text);
		cfg_resolve_plain_scalar(n);
		if (n->type != scalars[k].type)
			fail_msg("\"%s\": type %d, expected %d", scalars[k].text, (int)n->type, (int)scalars[k].type);
		assert_string_equal(n->str, scalars[k].text); /* the text is kept */
		char got[64] = "";
		if (n->type == CFG_INT)
			snprintf(got, sizeof got, "%lld", (long long)n->i);
		else if (n->type == CFG_NUMBER)
			snprintf(got, sizeof got, "%.17g", n->d);
		else if (n->type == CFG_BOOL)
			snprintf(got, sizeof got, "%d", n->b);
		if (strcmp(got, scalars[k].value) != 0)
			fail_msg("\"%s\": value %s, expected %s", scalars[k].text, got, scalars[k].value);
		cfg_node_free(n);
	}
}

/* ---- nodes and look-ups ---- */

static void test_intern(void **state)
{
	(void)state;
	char name[] = "config/a.yaml";
	const char *a = cfg_intern(name);
	name[7] = 'b';
	assert_string_equal(a, "config/a.yaml"); /* a copy, not the caller's buffer */
	assert_ptr_equal(cfg_intern("config/a.yaml"), a);
	assert_ptr_not_equal(cfg_intern(name), a);
	assert_null(cfg_intern(NULL));
}

static const char tree_doc[] =
	"database:\n"
	"  url: postgres://db\n"
	"  pool: {size: 20}\n"
	"alerts:\n"
	"  channels:\n"
	"    - {type: slack}\n"
	"    - {type: email, to: [ops@x, dev@x]}\n"
	"  list: [[1, 2], [3]]\n"
	"a.b: dotted\n";

static void test_path(void **state)
{
	(void)state;
	struct cfg_node *root = yaml(tree_doc);
	static const struct {
		const char *path;
		const char *str; /* NULL: not found */
	} paths[] = {
		{"database.url", "postgres://db"},
		{"database.pool.size", "20"},
		{"alerts.channels[0].type", "slack"},
		{"alerts.channels[1].type", "email"},
		{"alerts.channels[1].to[1]", "dev@x"},
		{"alerts.list[0][1]", "2"},
		{"alerts.list[1][0]", "3"},
		{"alerts.channels[2].type", NULL},
		{"alerts.channels[1].to[2]", NULL},
		{"database.missing", NULL},
		{"database.url.more", NULL},
		{"database[0]", NULL},
		{"alerts.channels.type", NULL},
		{"alerts.channels[x]", NULL},
		{"alerts.channels[0", NULL},
		{"alerts.channels[0]type", NULL},
		{"database..url", NULL},
		{".database", NULL},
		{"database.", NULL},
		{"a.b", NULL}, /* keys with dots are not reachable by path */
	};
	for (size_t k = 0; k < ARRAY_LEN(paths); k++) {
		const struct cfg_node *n = cfg_path(root, paths[k].path);
		if (!paths[k].str) {
			if (n)
				fail_msg("%s: found, expected nothing", paths[k].path);
			continue;
		}
		if (!n)
			fail_msg("%s: not found", paths[k].path);
		assert_string_equal(n->str, paths[k].str);
	}
	assert_ptr_equal(cfg_path(root, ""), root);
	assert_null(cfg_path(NULL, "a"));
	assert_string_equal(cfg_get(root, "a.b")->str, "dotted");
	assert_null(cfg_get(root, "nope"));
	assert_null(cfg_get(cfg_path(root, "alerts.list"), "0"));

	assert_int_equal(cfg_count(root), 3);
	assert_int_equal(cfg_count(cfg_path(root, "alerts.channels")), 2);
	assert_int_equal(cfg_count(cfg_path(root, "database.url")), 0);
	assert_int_equal(cfg_count(NULL), 0);
	cfg_node_free(root);
}

static void test_append_and_free(void **state)
{
	(void)state;
	struct cfg_node *list = cfg_node_new(CFG_LIST, "l", (struct cfg_loc){0});
	for (int k = 0; k < 3; k++) {
		struct cfg_node *c = cfg_node_new(CFG_INT, NULL, (struct cfg_loc){0});
		c->i = k;
		cfg_append(list, c);
	}
	expect_json(list, "[0,1,2]");
	cfg_node_free(list);

	/* freeing a very deep tree needs no deep stack */
	struct cfg_node *root = cfg_node_new(CFG_LIST, NULL, (struct cfg_loc){0});
	struct cfg_node *n = root;
	for (int k = 0; k < 200000; k++) {
		struct cfg_node *c = cfg_node_new(CFG_LIST, NULL, (struct cfg_loc){0});
		n->child = c;
		n = c;
	}
	cfg_node_free(root);

	/* a node's siblings survive its freeing */
	struct cfg_node *a = cfg_node_new(CFG_STRING, "a", (struct cfg_loc){0});
	struct cfg_node *b = cfg_node_new(CFG_STRING, "b", (struct cfg_loc){0});
	a->next = b;
	cfg_node_free(a);
	assert_string_equal(b->key, "b");
	cfg_node_free(b);
	cfg_node_free(NULL);
}

static void test_copy(void **state)
{
	(void)state;
	struct cfg_node *root = yaml(tree_doc);
	struct cfg_node *db = cfg_get(root, "database");
	db->origin = estrdup("environment variable X");
	db->secret = true;
	struct cfg_node *copy = cfg_copy(db);
	assert_ptr_not_equal(copy, db);
	assert_null(copy->next); /* siblings are not copied */
	assert_string_equal(copy->key, "database");
	assert_string_equal(copy->origin, "environment variable X");
	assert_true(copy->secret);
	assert_int_equal(copy->loc.line, db->loc.line);
	assert_ptr_equal(copy->loc.file, db->loc.file);
	char *a = json_text(db), *b = json_text(copy);
	assert_string_equal(a, b);
	free(a);
	free(b);
	/* and independent of the original */
	cfg_node_free(root);
	expect_json(copy, "{\"url\":\"postgres://db\",\"pool\":{\"size\":20}}");
	cfg_node_free(copy);
	assert_null(cfg_copy(NULL));
}

/* ---- cfg_merge: base, over -> result ---- */

static const struct {
	const char *base, *over, *result;
} merges[] = {
	{"a: 1\nb: 2\n", "b: 3\nc: 4\n", "{\"a\":1,\"b\":3,\"c\":4}"},
	{"m: {x: 1, y: {p: 1, q: 2}}\n", "m: {y: {q: 3, r: 4}, z: 5}\n",
	 "{\"m\":{\"x\":1,\"y\":{\"p\":1,\"q\":3,\"r\":4},\"z\":5}}"},
	{"l: [1, 2, 3]\n", "l: [4]\n", "{\"l\":[4]}"},
	{"m: {x: 1}\n", "m: [1]\n", "{\"m\":[1]}"},
	{"m: [1]\n", "m: {x: 1}\n", "{\"m\":{\"x\":1}}"},
	{"m: {x: 1}\nn: 2\n", "m: ~\n", "{\"m\":null,\"n\":2}"},
	{"m: {x: 1}\n", "m: scalar\n", "{\"m\":\"scalar\"}"},
	{"a: 1\nb: 2\nc: 3\n", "b: {deep: true}\n", "{\"a\":1,\"b\":{\"deep\":true},\"c\":3}"},
	{"{}\n", "a: 1\n", "{\"a\":1}"},
	{"a: 1\n", "{}\n", "{\"a\":1}"},
};

static void test_merge(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(merges); k++) {
		struct cfg_node *base = yaml(merges[k].base);
		struct cfg_node *over = yaml(merges[k].over);
		struct cfg_node *merged = cfg_merge(base, over);
		assert_ptr_equal(merged, base);
		expect_json(merged, merges[k].result);
		cfg_node_free(merged);
	}
}

static void test_merge_locations(void **state)
{
	(void)state;
	struct diag d = {.silent = true};
	const char *base_text = "a: {x: 1, l: [1]}\nb: 2\nc: 3\n";
	const char *over_text = "\n\nb: {k: v}\na: {l: [2]}\n";
	struct cfg_node *base = yaml_load_string("base.yaml", base_text, strlen(base_text), &d);
	struct cfg_node *over = yaml_load_string("over.yaml", over_text, strlen(over_text), &d);
	assert_non_null(base);
	assert_non_null(over);
	struct cfg_node *m = cfg_merge(base, over);
	const struct cfg_node *n = cfg_path(m, "b");
	assert_string_equal(n->loc.file, "over.yaml"); /* replaced: the new place */
	assert_int_equal(n->loc.line, 3);
	assert_string_equal(n->key, "b");
	n = cfg_path(m, "a.l");
	assert_string_equal(n->loc.file, "over.yaml");
	assert_int_equal(n->loc.line, 4);
	n = cfg_path(m, "a.x");
	assert_string_equal(n->loc.file, "base.yaml"); /* untouched */
	assert_string_equal(cfg_path(m, "a")->loc.file, "base.yaml"); /* merged, not replaced */
	/* the sibling chain is intact after a replacement in the middle */
	assert_string_equal(cfg_path(m, "c")->str, "3");
	assert_int_equal(cfg_count(m), 3);
	cfg_node_free(m);

	/* a scalar replaces a whole tree; NULL on either side */
	struct cfg_node *s = cfg_node_new(CFG_STRING, NULL, (struct cfg_loc){0});
	s->str = estrdup("x");
	m = cfg_merge(yaml("a: 1\n"), s);
	assert_ptr_equal(m, s);
	expect_json(m, "\"x\"");
	m = cfg_merge(m, NULL);
	assert_ptr_equal(m, s);
	m = cfg_merge(NULL, m);
	assert_ptr_equal(m, s);
	cfg_node_free(m);
}

/* Big maps merge through an index: the same result as the linear path
 * (replacements keep their place, maps merge, new keys go last), and two
 * maps of 100,000 keys merge in linear time (a quadratic merge would not
 * finish within any CI timeout). */
static void test_merge_big_maps(void **state)
{
	(void)state;
	struct buf b = {0}, o = {0};
	for (int i = 0; i < 40; i++)
		buf_printf(&b, i == 5 ? "k%d: {x: 1}\n" : "k%d: %d\n", i, i);
	buf_puts(&o, "k7: [a]\nk5: {y: 2}\nk39: {z: 3}\nk40: new\nk0: ~\n");
	struct cfg_node *m = cfg_merge(yaml(b.data), yaml(o.data));
	assert_int_equal(cfg_count(m), 41);
	cJSON *j = cfg_to_json(m);
	char *text = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(text, "{\"k0\":null,\"k1\":1,"));
	assert_non_null(strstr(text, "\"k5\":{\"x\":1,\"y\":2},\"k6\":6,\"k7\":[\"a\"],\"k8\":8,"));
	assert_non_null(strstr(text, "\"k38\":38,\"k39\":{\"z\":3},\"k40\":\"new\"}"));
	free(text);
	cJSON_Delete(j);
	cfg_node_free(m);

	enum { N = 100000 };
	struct cfg_node *base = cfg_node_new(CFG_MAP, NULL, (struct cfg_loc){0});
	struct cfg_node *over = cfg_node_new(CFG_MAP, NULL, (struct cfg_loc){0});
	struct cfg_node **bt = &base->child, **ot = &over->child;
	for (int i = 0; i < N; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		*bt = cfg_node_new(CFG_INT, key, (struct cfg_loc){0});
		(*bt)->i = 1;
		bt = &(*bt)->next;
		snprintf(key, sizeof key, "k%d", i + N / 2);
		*ot = cfg_node_new(CFG_INT, key, (struct cfg_loc){0});
		(*ot)->i = 2;
		ot = &(*ot)->next;
	}
	m = cfg_merge(base, over);
	assert_int_equal(cfg_count(m), N + N / 2);
	assert_int_equal(cfg_get(m, "k0")->i, 1);
	assert_int_equal(cfg_get(m, "k50000")->i, 2);
	assert_int_equal(cfg_get(m, "k149999")->i, 2);
	cfg_node_free(m);
	buf_free(&b);
	buf_free(&o);
}

/* ---- JSON ---- */

static void test_to_json(void **state)
{
	(void)state;
	struct cfg_node *root = yaml("z: 1\ny: two\nx: [true, ~, 1.5, '3']\nw: {}\nv: []\n"
				     "big: 9007199254740993\nneg: -9223372036854775808\nsafe: 9007199254740992\n"
				     "hex: 0x10\ninf: .inf\nninf: -.inf\nnan: .nan\nport: '8000'\n");
	expect_json(root, "{\"z\":1,\"y\":\"two\",\"x\":[true,null,1.5,\"3\"],\"w\":{},\"v\":[],"
			  "\"big\":9007199254740993,\"neg\":-9223372036854775808,\"safe\":9007199254740992,"
			  "\"hex\":16,\"inf\":\".inf\",\"ninf\":\"-.inf\",\"nan\":\".nan\",\"port\":\"8000\"}");
	cfg_node_free(root);

	/* nodes built by code, without text */
	struct cfg_node *n = cfg_node_new(CFG_NUMBER, NULL, (struct cfg_loc){0});
	n->d = -INFINITY;
	expect_json(n, "\"-.inf\"");
	n->type = CFG_STRING;
	expect_json(n, "\"\"");
	n->type = CFG_INT;
	n->i = INT64_MAX;
	expect_json(n, "9223372036854775807");
	cfg_node_free(n);
	assert_null(cfg_to_json(NULL));
}

static const char *const json_round_trips[] = {
	"{\"a\":1,\"b\":\"x\",\"c\":[true,false,null],\"d\":{\"e\":1.25,\"f\":[]},\"g\":{}}",
	"{\"big\":9223372036854775807,\"neg\":-12,\"small\":1e-07,\"s\":\"9\"}",
	"{\"z\":1,\"a\":2,\"m\":3}",
	"[1,\"two\",[3]]",
	"\"just a string\"",
};

static void test_from_json(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(json_round_trips); k++) {
		cJSON *j = cJSON_Parse(json_round_trips[k]);
		assert_non_null(j);
		struct cfg_node *n = cfg_from_json(j, NULL);
		cJSON_Delete(j);
		/* a JSON number beyond 2^53 is a double in cJSON: compare through
		 * cJSON's own printing of that document */
		if (k == 1) {
			cJSON *again = cJSON_Parse(json_round_trips[k]);
			cJSON *mine = cfg_to_json(n);
			assert_true(cJSON_Compare(again, mine, true));
			cJSON_Delete(again);
			cJSON_Delete(mine);
		} else {
			expect_json(n, json_round_trips[k]);
		}
		cfg_node_free(n);
	}

	cJSON *j = cJSON_Parse("{\"port\":8000,\"ratio\":0.1,\"on\":true,\"name\":\"8000\",\"none\":null}");
	struct cfg_node *n = cfg_from_json(j, "top");
	cJSON_Delete(j);
	assert_string_equal(n->key, "top");
	assert_int_equal(n->type, CFG_MAP);
	assert_null(n->loc.file);
	const struct cfg_node *c = cfg_get(n, "port");
	assert_int_equal(c->type, CFG_INT);
	assert_int_equal(c->i, 8000);
	assert_string_equal(c->str, "8000");
	c = cfg_get(n, "ratio");
	assert_int_equal(c->type, CFG_NUMBER);
	assert_string_equal(c->str, "0.1");
	c = cfg_get(n, "on");
	assert_int_equal(c->type, CFG_BOOL);
	assert_true(c->b);
	c = cfg_get(n, "name");
	assert_int_equal(c->type, CFG_STRING);
	assert_true(c->quoted);
	c = cfg_get(n, "none");
	assert_int_equal(c->type, CFG_NULL);
	cfg_node_free(n);
	assert_null(cfg_from_json(NULL, NULL));
}

/* Ints beyond 2^53 survive YAML -> JSON text -> tree exactly (raw numbers). */
static void test_big_int_round_trip(void **state)
{
	(void)state;
	struct cfg_node *root = yaml("id: 9007199254740993\nmin: -9223372036854775808\n");
	cJSON *j = cfg_to_json(root);
	struct cfg_node *back = cfg_from_json(j, NULL);
	cJSON_Delete(j);
	assert_int_equal(cfg_get(back, "id")->type, CFG_INT);
	assert_true(cfg_get(back, "id")->i == INT64_C(9007199254740993));
	assert_true(cfg_get(back, "min")->i == INT64_MIN);
	cfg_node_free(back);
	cfg_node_free(root);
}

int main(void)
{
	prog_set("test_cfgnode");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_plain_scalar),
		cmocka_unit_test(test_intern),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_append_and_free),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_locations),
		cmocka_unit_test(test_merge_big_maps),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_from_json),
		cmocka_unit_test(test_big_int_round_trip),
	};
	return cmocka_run_group_tests_name("cfgnode", tests, NULL, NULL);
}
