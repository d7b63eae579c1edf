/* Unit tests for the deploy journal: append and load, the derived views
 * (open deploy, release in service, last good), a cut-short last line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "shipshape/common.h"
#include "shipshape/journal.h"
#include "shipshape/json.h"

static char state[] = "/tmp/shipshape-test-journal.XXXXXX";

/* Fault injection by link-time interposition: this definition of fsync(2)
 * takes the place of libc's for libcommon, unchanged. The next
 * fail_fsyncs calls fail with EIO (a disk that lost the write); the rest
 * reach the kernel. */
static int fail_fsyncs;
int fsync(int fd)
{
	if (fail_fsyncs > 0) {
		fail_fsyncs--;
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void record(const struct journal *j, long id, const char *json)
{
	cJSON *r = cJSON_Parse(json);
	assert_non_null(r);
	assert_int_equal(journal_append(j, id, r), 0);
	cJSON_Delete(r);
}

static void deploy(const struct journal *j, long id, const char *release, const char *result)
{
	char buf[256];
	snprintf(buf, sizeof buf, "{\"type\":\"begin\",\"release\":\"%s\"}", release);
	record(j, id, buf);
	record(j, id, "{\"type\":\"apply\",\"phase\":\"end\",\"status\":\"ok\",\"data\":{\"render_deploy_id\":\"dep-1\"}}");
	if (result) {
		snprintf(buf, sizeof buf, "{\"type\":\"finish\",\"result\":\"%s\"}", result);
		record(j, id, buf);
	}
}

static void test_views(void **st)
{
	(void)st;
	struct journal j;
	assert_int_equal(journal_open(&j, state, "views"), 0);
	deploy(&j, 1, "v1", "ok");
	deploy(&j, 2, "v2", "failed");
	deploy(&j, 3, "v3", NULL);
	struct journal_view v;
	assert_int_equal(journal_load(&j, &v), 0);
	assert_int_equal(v.n, 3);
	assert_string_equal(journal_open_deployment(&v)->release, "v3");
	assert_string_equal(journal_current_release(&v), "v3");
	assert_string_equal(journal_last_good(&v, "v3")->release, "v1");
	assert_null(journal_last_good(&v, "v1"));
	assert_string_equal(json_path_string(journal_release_apply(&v, "v1"), "data.render_deploy_id", ""), "dep-1");
	assert_int_equal(journal_next_id(&v), 4);
	const cJSON *b = deployment_last_record(&v.v[0], "begin");
	assert_string_equal(json_path_string(b, "kind", ""), "journal");
	assert_string_equal(json_path_string(b, "service", ""), "views");
	assert_int_equal((int)json_path_number(b, "deploy", 0), 1);
	journal_view_free(&v);
	journal_close(&j);
}

static void test_truncated_tail(void **st)
{
	(void)st;
	struct journal j;
	assert_int_equal(journal_open(&j, state, "cut"), 0);
	record(&j, 1, "{\"type\":\"begin\",\"release\":\"v1\"}");
	char *path = easprintf("%s/000001.jsonl", j.dir);
	FILE *f = fopen(path, "a");
	fputs("{\"type\":\"fin", f);
	fclose(f);
	struct journal_view v;
	assert_int_equal(journal_load(&j, &v), 0);
	assert_true(v.v[0].truncated);
	assert_int_equal(cJSON_GetArraySize(v.v[0].records), 1);
	journal_view_free(&v);
	log_level = -1; /* the repair's warning */
	record(&j, 1, "{\"type\":\"finish\",\"result\":\"failed\"}");
	log_level = 0;
	assert_int_equal(journal_load(&j, &v), 0);
	assert_false(v.v[0].truncated);
	assert_string_equal(v.v[0].result, "failed");
	assert_int_equal(cJSON_GetArraySize(v.v[0].records), 2);
	journal_view_free(&v);
	free(path);
	journal_close(&j);
}

static void test_bad_service_and_stage(void **st)
{
	(void)st;
	struct journal j;
	assert_int_equal(journal_open(&j, state, "../x"), -1);
	assert_int_equal(journal_open(&j, state, ".hidden"), -1);
	assert_true(journal_stage_valid("post-deploy"));
	assert_false(journal_stage_valid("deploy"));
}

static void test_digest(void **st)
{
	(void)st;
	cJSON *a = cJSON_Parse("{\"k\":\"secret-one\"}"), *b = cJSON_Parse("{\"k\":\"secret-two\"}");
	char *da = journal_config_digest(a), *db = journal_config_digest(b);
	assert_true(strncmp(da, "sha256:", 7) == 0);
	assert_int_equal(strlen(da), 7 + 64);
	assert_string_not_equal(da, db);
	assert_null(strstr(da, "secret"));
	free(da);
	free(db);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

/* After an append, the caller's records are the lines written: the same
 * members in the same order, byte for byte. */
static void test_record_is_the_line(void **st)
{
	(void)st;
	struct journal j;
	assert_int_equal(journal_open(&j, state, "lines"), 0);
	cJSON *recs = cJSON_CreateArray();
	cJSON_AddItemToArray(recs, cJSON_Parse("{\"type\":\"report\",\"stage\":\"pre-deploy\"}"));
	cJSON_AddItemToArray(recs, cJSON_Parse("{\"type\":\"gate\",\"passed\":true}"));
	assert_int_equal(journal_append(&j, 1, recs), 0);
	cJSON *one = cJSON_Parse("{\"result\":\"ok\",\"type\":\"finish\"}");
	assert_int_equal(journal_append(&j, 1, one), 0);
	char *path = easprintf("%s/000001.jsonl", j.dir), *text = NULL;
	size_t len;
	assert_int_equal(read_file(path, 1 << 20, &text, &len), 0);
	struct buf b = {0};
	const cJSON *r;
	cJSON_ArrayForEach(r, recs)
	{
		char *line = cJSON_PrintUnformatted(r);
		buf_printf(&b, "%s\n", line);
		free(line);
	}
	char *line = cJSON_PrintUnformatted(one);
	buf_printf(&b, "%s\n", line);
	free(line);
	assert_string_equal(b.data, text);
	assert_string_equal(one->child->string, "kind");
	assert_string_equal(one->child->next->valuestring, "finish");
	buf_free(&b);
	free(text);
	free(path);
	cJSON_Delete(recs);
	cJSON_Delete(one);
	journal_close(&j);
}

/* An fsync that fails takes the record back out: the command exits 3, and
 * what it failed to record is not what a reader finds (finish ok after
 * EIO is no finish at all). */
static void test_fsync_failure_removes_the_record(void **st)
{
	(void)st;
	struct journal j;
	assert_int_equal(journal_open(&j, state, "eio"), 0);
	record(&j, 1, "{\"type\":\"begin\",\"release\":\"v1\"}");
	char *path = easprintf("%s/000001.jsonl", j.dir);
	off_t before = file_size(path);
	assert_true(before > 0);
	cJSON *fin = cJSON_Parse("{\"type\":\"finish\",\"result\":\"ok\"}");
	fail_fsyncs = 1;
	assert_int_equal(journal_append(&j, 1, fin), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fail_fsyncs, 0);
	/* the caller's record is untouched: no stamp was added */
	assert_null(cJSON_GetObjectItemCaseSensitive(fin, "time"));
	assert_int_equal(file_size(path), before);
	struct journal_view v;
	assert_int_equal(journal_load(&j, &v), 0);
	assert_int_equal(v.n, 1);
	assert_null(v.v[0].result);
	assert_non_null(journal_open_deployment(&v));
	journal_view_free(&v);
	/* the next append goes after the begin, as if the failed one never was */
	assert_int_equal(journal_append(&j, 1, fin), 0);
	assert_int_equal(journal_load(&j, &v), 0);
	assert_string_equal(v.v[0].result, "ok");
	assert_int_equal(cJSON_GetArraySize(v.v[0].records), 2);
	journal_view_free(&v);
	cJSON_Delete(fin);

	/* a new deployment's first record: no file is left behind at all */
	char *path2 = easprintf("%s/000002.jsonl", j.dir);
	cJSON *begin = cJSON_Parse("{\"type\":\"begin\",\"release\":\"v2\"}");
	fail_fsyncs = 1;
	assert_int_equal(journal_append(&j, 2, begin), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(file_size(path2), -1);
	assert_int_equal(journal_load(&j, &v), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(journal_next_id(&v), 2);
	journal_view_free(&v);
	cJSON_Delete(begin);
	free(path);
	free(path2);
	journal_close(&j);
}

/* Release names and journal text, as a table: input, valid as a release
 * name, the text as the journal keeps it (one_line). */
static void test_release_names_and_text(void **st)
{
	(void)st;
	static const struct {
		const char *in;
		bool release_ok;
		const char *clean;
	} cases[] = {
		{"v2", true, "v2"},
		{"2026-11-28.1", true, "2026-11-28.1"},
		{"r\xc3\xa9l", true, "r\xc3\xa9l"},                       /* é: valid UTF-8 */
		{"v\xff", false, "v\xef\xbf\xbd"},                         /* invalid byte */
		{"v\xc0\xaf", false, "v\xef\xbf\xbd\xef\xbf\xbd"},         /* overlong '/' */
		{"\xed\xa0\x80", false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
		{"v\xe2\x80\xae" "1", false, "v\xef\xbf\xbd" "1"},             /* U+202E */
		{"v\xe2\x81\xa6", false, "v\xef\xbf\xbd"},                 /* U+2066 */
		{"v\xc2\x85", false, "v\xef\xbf\xbd"},                     /* C1 NEL */
		{"v\xc2\xa0x", false, "v\xc2\xa0x"},                       /* NBSP: text, not a name */
		{"v\x1b[2J", false, "v\xef\xbf\xbd[2J"},
		{"a\tb\nc", false, "a b c"},
		{"a/b", false, "a/b"},
		{".v", false, ".v"},
		{"\xf4\x90\x80\x80", false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		if (journal_release_name_valid(cases[i].in) != cases[i].release_ok)
			fail_msg("case %zu: release name validity", i);
		char *c = journal_text_clean(cases[i].in, true);
		if (strcmp(c, cases[i].clean) != 0)
			fail_msg("case %zu: cleaned to \"%s\"", i, c);
		free(c);
	}
	char *q = journal_text_quote("v\xe2\x80\xae\\1");
	assert_string_equal(q, "v\\xe2\\x80\\xae\\x5c1");
	free(q);
	/* multi-line text keeps its newlines (JSON escapes them) */
	char *m = journal_text_clean("a\nb\x07", false);
	assert_string_equal(m, "a\nb\xef\xbf\xbd");
	free(m);
}

static int cleanup(void **st)
{
	(void)st;
	char *cmd = easprintf("rm -rf '%s'", state);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/* Report and gate records stop at JOURNAL_REPORT_BUDGET (EFBIG, nothing
 * written); a finish record is never refused for size. */
static void test_report_budget(void **st)
{
	(void)st;
	struct journal j;
	assert_int_equal(journal_open(&j, state, "budget"), 0);
	record(&j, 1, "{\"type\":\"begin\",\"release\":\"v1\"}");
	size_t len = 1u << 20;
	char *blob = emalloc(len + 1);
	memset(blob, 'a', len);
	blob[len] = '\0';
	char *path = easprintf("%s/000001.jsonl", j.dir);
	int refused = 0;
	for (int i = 0; i < 60 && !refused; i++) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "type", i % 2 ? "gate" : "report");
		cJSON_AddStringToObject(r, "blob", blob);
		off_t before = file_size(path);
		if (journal_append(&j, 1, r) < 0) {
			assert_int_equal(errno, EFBIG);
			assert_int_equal(file_size(path), before);
			refused = 1;
		}
		cJSON_Delete(r);
	}
	assert_true(refused);
	assert_true(file_size(path) <= (off_t)JOURNAL_REPORT_BUDGET);
	/* the records that end a deploy still go in, past the budget */
	for (int i = 0; i < 3; i++) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "type", "apply");
		cJSON_AddStringToObject(r, "phase", "end");
		cJSON_AddStringToObject(r, "status", "ok");
		cJSON_AddStringToObject(r, "output", blob);
		assert_int_equal(journal_append(&j, 1, r), 0);
		cJSON_Delete(r);
	}
	assert_true(file_size(path) > (off_t)JOURNAL_REPORT_BUDGET);
	record(&j, 1, "{\"type\":\"finish\",\"result\":\"ok\"}");
	struct journal_view v;
	assert_int_equal(journal_load(&j, &v), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0].result, "ok");
	assert_int_equal(v.v[0].skipped, 0);
	journal_view_free(&v);
	free(path);
	free(blob);
	journal_close(&j);
}

int main(void)
{
	prog_set("test_journal");
	if (!mkdtemp(state))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_truncated_tail),
		cmocka_unit_test(test_bad_service_and_stage),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_record_is_the_line),
		cmocka_unit_test(test_fsync_failure_removes_the_record),
		cmocka_unit_test(test_release_names_and_text),
		cmocka_unit_test(test_report_budget),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
