/* test_cfgfuzz.c — robustness of the config loader: mutated YAML, templates
 * and .env files, from a fixed seed and a bounded number of rounds, must
 * never crash, and every failure must be reported as one located line.
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

#define ROUNDS 1500
#define MAX_INPUT 2048
/* Text that must never appear in a message about a secret's template. */
#define MARK "Zq7SECRETMARK"

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: the same sequence on every machine */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

/* Tokens that steer the parsers into their corners. */
static const char *const tokens[] = {
	"${", "}", "$", "$$", ":-", ":?", ":+", "-", "?", "+", "${A:-${B:-x}}", "${UNSET}", "$SET",
	"&a ", "*a", "<<: ", "<<: *a", "\n", "\r\n", ": ", "- ", "[", "]", "{", "}", ",", "\"", "'",
	"\\", "\t", "#", "\xff", "\xc3\xa9", "\xef\xbb\xbf", "!!str ", "!!int ", "!custom ", "---\n",
	"...\n", "|\n  ", ">-\n  ", "? ", "~", "null", "true", "0x1F", "1e999", "=", "export ",
	"\"${", "'${", "\\\"", "\\n", "\\$", "%", "@", "://", "\x01", "\0",
};

/* One mutation of b: flip, insert a token, delete or duplicate a span. */
static void mutate(struct buf *b)
{
	size_t pos = below(b->len + 1);
	switch (below(5)) {
	case 0:
		if (b->len)
			b->data[below(b->len)] = (char)rng();
		break;
	case 1:
	case 2: {
		const char *t = tokens[below(ARRAY_LEN(tokens))];
		size_t tlen = *t ? strlen(t) : 1; /* "\0": one NUL byte */
		struct buf n = {0};
		buf_append(&n, b->data, pos);
		buf_append(&n, t, tlen);
		buf_append(&n, b->data + pos, b->len - pos);
		buf_free(b);
		*b = n;
		break;
	}
	case 3: {
		size_t n = below(b->len - pos + 1);
		if (n > 64)
			n = 64;
		memmove(b->data + pos, b->data + pos + n, b->len - pos - n + 1);
		b->len -= n;
		break;
	}
	default: {
		size_t n = below(b->len - pos + 1);
		if (n > 64)
			n = 64;
		char *copy = emalloc(n + 1); /* the span may hold a NUL */
		memcpy(copy, b->data + pos, n);
		struct buf m = {0};
		buf_append(&m, b->data, pos);
		buf_append(&m, copy, n);
		buf_append(&m, b->data + pos, b->len - pos);
		free(copy);
		buf_free(b);
		*b = m;
		break;
	}
	}
	if (b->len > MAX_INPUT) {
		b->len = MAX_INPUT;
		b->data[b->len] = '\0';
	}
}

/* Whole lines of a seed file (so that most inputs stay documents worth
 * testing further), then a few mutations. */
static void make_input(struct buf *out, const char *seed, size_t seed_len)
{
	size_t start = below(seed_len), n = 1 + below(MAX_INPUT / 2);
	while (start > 0 && seed[start - 1] != '\n')
		start--;
	if (start + n > seed_len)
		n = seed_len - start;
	while (start + n < seed_len && seed[start + n - 1] != '\n')
		n++;
	out->len = 0;
	buf_append(out, seed + start, n);
	for (size_t k = 1 + below(3); k > 0; k--)
		mutate(out);
}

/* A message as the loader keeps it: one line, starting with the name. */
static void check_message(const struct diag *d, const char *name, const char *input)
{
	if (strncmp(d->last, name, strlen(name)) != 0 || strchr(d->last, '\n'))
		fail_msg("not one line naming %s: \"%s\"\ninput:\n%s", name, d->last, input);
}

static char *seed_file(const char *path, size_t *len)
{
	char *text = NULL;
	if (read_file(path, 1 << 20, &text, len) < 0)
		fail_msg("cannot read %s; run from the top of the source tree", path);
	return text;
}

/* YAML: a document loads (and then survives templates, the schema and a
 * JSON round trip) or is refused with at least one located error. */
static void test_yaml_mutations(void **state)
{
	(void)state;
	static const char *const seeds[] = {"config/production.yaml", "config/local.yaml",
					    "config/schema.yaml"};
	struct diag quiet = {.silent = true};
	struct schema *schema = schema_load("config/schema.yaml", &quiet);
	assert_non_null(schema);
	struct env_store env;
	env_store_init(&env);
	env.use_environ = false;
	env_store_set(&env, "SET", "value", (struct cfg_loc){0});
	struct buf in = {0};
	size_t loaded = 0;
	rng_state = 0x5eed0001;
	for (int round = 0; round < ROUNDS; round++) {
		size_t len;
		char *seed = seed_file(seeds[round % ARRAY_LEN(seeds)], &len);
		make_input(&in, seed, len);
		free(seed);
		struct diag d = {.silent = true};
		struct cfg_node *root = yaml_load_string("f.yaml", in.data, in.len, &d);
		if (!root) {
			if (d.errors == 0)
				fail_msg("refused without an error:\n%s", in.data);
			check_message(&d, "f.yaml", in.data);
			continue;
		}
		if (d.errors)
			fail_msg("loaded with %u errors:\n%s", d.errors, in.data);
		loaded++;
		/* templates in every string, then the schema */
		for (struct cfg_node *n = root->child; n; n = n->next) {
			if (n->type != CFG_STRING || !n->str)
				continue;
			struct diag t = {.silent = true};
			struct tmpl_ctx c = {.env = &env, .diag = &t, .file = "f.yaml", .line = n->loc.line,
					     .col = n->loc.col};
			char *out = tmpl_expand(n->str, &c);
			if (!out != (t.errors > 0))
				fail_msg("tmpl_expand(\"%s\"): result and %u errors disagree", n->str, t.errors);
			if (!out)
				check_message(&t, "f.yaml", n->str);
			free(out);
			free(c.origin);
		}
		struct diag s = {.silent = true};
		unsigned errors = schema_apply_sections(schema, root, NULL, false, &s);
		assert_int_equal(errors, s.errors);
		if (errors)
			check_message(&s, "f.yaml", in.data);
		/* the document reads back as itself */
		cJSON *j = cfg_to_json(root);
		char *text = cJSON_PrintUnformatted(j);
		assert_non_null(text);
		cJSON *again = cJSON_Parse(text);
		if (!again)
			fail_msg("cfg_to_json printed invalid JSON: %s", text);
		struct cfg_node *back = cfg_from_json(again, NULL);
		cJSON *j2 = cfg_to_json(back);
		if (!cJSON_Compare(j, j2, true))
			fail_msg("JSON round trip changed the document: %s", text);
		cJSON_Delete(j2);
		cfg_node_free(back);
		cJSON_Delete(again);
		free(text);
		cJSON_Delete(j);
		cfg_node_free(root);
		redact_clear();
	}
	/* the mutations must leave enough documents whole to test the rest */
	if (loaded < ROUNDS / 10)
		fail_msg("only %zu of %d mutated documents loaded", loaded, ROUNDS);
	buf_free(&in);
	env_store_free(&env);
	schema_free(schema);
}

/* Templates: NULL exactly when an error was reported; in a secret the
 * message never quotes the text. */
static void test_template_mutations(void **state)
{
	(void)state;
	static const char *const seeds[] = {
		MARK "${A:-${B:-x}}" MARK, "pre ${SET} $SET $$" MARK " ${C:?need " MARK "}",
		"${SET:+" MARK "} ${UNSET-" MARK "} ${D?}", "postgresql://u:${PW}@" MARK "/db",
	};
	struct env_store env;
	env_store_init(&env);
	env.use_environ = false;
	env_store_set(&env, "SET", "value", (struct cfg_loc){0});
	env_store_set(&env, "C", "c", (struct cfg_loc){0});
	struct buf in = {0};
	rng_state = 0x5eed0002;
	for (int round = 0; round < ROUNDS * 2; round++) {
		const char *seed = seeds[round % ARRAY_LEN(seeds)];
		in.len = 0;
		buf_puts(&in, seed);
		for (size_t k = 1 + below(4); k > 0; k--)
			mutate(&in);
		const char *s = in.data; /* up to a NUL a mutation may have put in */
		for (int secret = 0; secret <= 1; secret++) {
			struct diag d = {.silent = true};
			struct tmpl_ctx c = {.env = &env, .diag = &d, .file = "f.yaml", .line = 3, .col = 5,
					     .secret = secret, .strict = round % 3 == 0};
			char *out = tmpl_expand(s, &c);
			if (!out != (d.errors > 0))
				fail_msg("tmpl_expand(\"%s\"): result and %u errors disagree", s, d.errors);
			if (!out) {
				check_message(&d, "f.yaml:", s);
				/* a required variable's own message is the author's to
				 * print; everything else about a secret stays unquoted */
				if (secret && strstr(d.last, "invalid template") && strstr(d.last, MARK))
					fail_msg("a secret's template was quoted: %s", d.last);
			}
			free(out);
			free(c.origin);
		}
	}
	buf_free(&in);
	env_store_free(&env);
}

/* .env files: read or refused with located errors, never quoting a value's
 * template. */
static void test_envfile_mutations(void **state)
{
	(void)state;
	static const char seed[] = "# comment\nexport A=plain # c\nB='single " MARK "'\n"
				   "C=\"double\\t${A} " MARK "\"\nD=\nE=${A:-" MARK "}\nF=\"multi\nline\"\n";
	char path[] = "/tmp/test_cfgfuzz.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct buf in = {0};
	rng_state = 0x5eed0003;
	for (int round = 0; round < ROUNDS; round++) {
		in.len = 0;
		buf_append(&in, seed, sizeof seed - 1);
		for (size_t k = 1 + below(4); k > 0; k--)
			mutate(&in);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(in.data, 1, in.len, f), in.len);
		assert_int_equal(fclose(f), 0);
		struct env_store env;
		env_store_init(&env);
		env.use_environ = false;
		struct diag d = {.silent = true};
		int rc = envfile_load(&env, path, &d);
		if ((rc < 0) != (d.errors > 0))
			fail_msg("envfile_load returned %d with %u errors:\n%s", rc, d.errors, in.data);
		if (rc < 0) {
			check_message(&d, path, in.data);
			if (strstr(d.last, "invalid template") && strstr(d.last, MARK))
				fail_msg("a .env value was quoted: %s", d.last);
		}
		env_store_free(&env);
	}
	unlink(path);
	buf_free(&in);
}

int main(void)
{
	prog_set("test_cfgfuzz");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_mutations),
		cmocka_unit_test(test_template_mutations),
		cmocka_unit_test(test_envfile_mutations),
	};
	return cmocka_run_group_tests_name("cfgfuzz", tests, NULL, NULL);
}
