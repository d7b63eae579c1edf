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
#include "shipshape/lock.h"
#include "shipshape/redact.h"

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

/* The journal's deployments as the tools read them (journal_hold(), no
 * guard), the view taken out of the hold: the caller frees it. */
static void view_load(const struct journal *j, struct journal_view *v)
{
	struct journal_hold h;
	char *error = NULL;
	if (journal_hold(j, &h, false, &error) < 0)
		fail_msg("journal_hold: %s", error);
	*v = h.view;
	memset(&h.view, 0, sizeof h.view);
	journal_unhold(&h);
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
	view_load(&j, &v);
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
	view_load(&j, &v);
	assert_true(v.v[0].truncated);
	assert_int_equal(cJSON_GetArraySize(v.v[0].records), 1);
	journal_view_free(&v);
	log_level = -1; /* the repair's warning */
	record(&j, 1, "{\"type\":\"finish\",\"result\":\"failed\"}");
	log_level = 0;
	view_load(&j, &v);
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
	view_load(&j, &v);
	assert_int_equal(v.n, 1);
	assert_null(v.v[0].result);
	assert_non_null(journal_open_deployment(&v));
	journal_view_free(&v);
	/* the next append goes after the begin, as if the failed one never was */
	assert_int_equal(journal_append(&j, 1, fin), 0);
	view_load(&j, &v);
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
	view_load(&j, &v);
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
	view_load(&j, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0].result, "ok");
	assert_int_equal(v.v[0].skipped, 0);
	journal_view_free(&v);
	free(path);
	free(blob);
	journal_close(&j);
}

/* A record's compact JSON, member for member (consumes rec). */
static void assert_record(cJSON *rec, const char *expected)
{
	assert_non_null(rec);
	char *text = ejson_print(rec);
	assert_string_equal(text, expected);
	free(text);
	cJSON_Delete(rec);
}

#define SECRET "s3cret-token-77aa"

static void test_record_begin(void **st)
{
	(void)st;
	cJSON *config = cJSON_Parse("{\"deploy\":{\"driver\":\"symlink\"}}");
	char *user = lock_user_at_host(), *digest = journal_config_digest(config);
	char *want = easprintf("{\"type\":\"begin\",\"action\":\"deploy\",\"release\":\"v2\",\"previous\":\"v1\","
			       "\"user\":\"%s\",\"pid\":%ld,\"message\":\"why ***\",\"config_digest\":\"%s\","
			       "\"driver\":\"symlink\"}",
			       user, (long)lock_owner_pid(), digest);
	redact_register(SECRET);
	assert_record(journal_record_begin(JOURNAL_DEPLOY, "v2", "v1", "why " SECRET, 0, config), want);
	free(want);
	/* a rollback's: no previous is null, no message, what it rolls back */
	free(digest);
	cJSON *empty = cJSON_CreateObject();
	digest = journal_config_digest(empty);
	want = easprintf("{\"type\":\"begin\",\"action\":\"rollback\",\"release\":\"v1\",\"previous\":null,"
			 "\"user\":\"%s\",\"pid\":%ld,\"rollback_of\":7,\"config_digest\":\"%s\",\"driver\":\"none\"}",
			 user, (long)lock_owner_pid(), digest);
	assert_record(journal_record_begin(JOURNAL_ROLLBACK, "v1", NULL, NULL, 7, empty), want);
	redact_clear();
	free(want);
	free(digest);
	free(user);
	cJSON_Delete(empty);
	cJSON_Delete(config);
}

static void test_record_report(void **st)
{
	(void)st;
	const char *small = "{\"kind\":\"report\",\"tool\":\"db-check\",\"status\":\"ok\",\"summary\":\"s\","
			    "\"checks\":[{\"name\":\"db.x\",\"status\":\"ok\",\"message\":\"m\",\"data\":{\"n\":1}}]}";
	cJSON *rep = cJSON_Parse(small);
	char *want = easprintf("{\"type\":\"report\",\"stage\":\"pre-deploy\",\"report\":%s}", small);
	assert_record(journal_record_report("pre-deploy", rep, false), want);
	free(want);
	/* brief: status and summary only, the checks counted */
	want = easprintf("{\"type\":\"report\",\"stage\":\"readiness\",\"report\":{\"kind\":\"report\",\"tool\":"
			 "\"db-check\",\"status\":\"ok\",\"summary\":\"s\",\"checks\":[],\"checks_dropped\":1,"
			 "\"truncated\":true,\"bytes\":%zu}}",
			 strlen(small));
	assert_record(journal_record_report("readiness", rep, true), want);
	free(want);
	cJSON_Delete(rep);
	/* over JOURNAL_REPORT_MAX: bounded, strings cut to 1 KiB */
	size_t len = JOURNAL_REPORT_MAX + 10;
	char *blob = emalloc(len + 1);
	memset(blob, 'b', len);
	blob[len] = '\0';
	rep = cJSON_CreateObject();
	cJSON_AddStringToObject(rep, "kind", "report");
	cJSON_AddStringToObject(rep, "status", "warning");
	cJSON_AddStringToObject(rep, "summary", blob);
	cJSON *rec = journal_record_report("application", rep, false);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(rec, "report");
	assert_true(json_path_bool(r, "truncated", false));
	assert_int_equal(strlen(json_path_string(r, "summary", "")), 1024);
	assert_string_equal(json_path_string(r, "status", ""), "warning");
	assert_true(json_path_number(r, "bytes", 0) > JOURNAL_REPORT_MAX);
	cJSON_Delete(rec);
	cJSON_Delete(rep);
	free(blob);
}

static void test_record_gate(void **st)
{
	(void)st;
	assert_record(journal_record_gate("infrastructure", true, STATUS_WARNING, false, 2, NULL),
		      "{\"type\":\"gate\",\"stage\":\"infrastructure\",\"passed\":true,\"status\":\"warning\","
		      "\"strict\":false,\"reports\":2}");
	cJSON *problems = cJSON_Parse("[\"stdin:1: not a report\"]");
	assert_record(journal_record_gate("readiness", false, STATUS_UNKNOWN, true, 0, problems),
		      "{\"type\":\"gate\",\"stage\":\"readiness\",\"passed\":false,\"status\":\"unknown\","
		      "\"strict\":true,\"reports\":0,\"problems\":[\"stdin:1: not a report\"]}");
	/* copied, not taken */
	assert_int_equal(cJSON_GetArraySize(problems), 1);
	cJSON_Delete(problems);
}

static void test_record_apply(void **st)
{
	(void)st;
	assert_record(journal_record_apply_start("v3", "render"),
		      "{\"type\":\"apply\",\"phase\":\"start\",\"stage\":\"application\",\"release\":\"v3\","
		      "\"driver\":\"render\"}");
	assert_record(journal_record_apply_start("v3", NULL),
		      "{\"type\":\"apply\",\"phase\":\"start\",\"stage\":\"application\",\"release\":\"v3\","
		      "\"driver\":\"none\"}");
	assert_record(journal_record_apply_end("v3", true, "live", cJSON_Parse("{\"render_deploy_id\":\"d1\"}")),
		      "{\"type\":\"apply\",\"phase\":\"end\",\"stage\":\"application\",\"release\":\"v3\","
		      "\"status\":\"ok\",\"message\":\"live\",\"data\":{\"render_deploy_id\":\"d1\"}}");
	assert_record(journal_record_apply_end("v3", false, NULL, NULL),
		      "{\"type\":\"apply\",\"phase\":\"end\",\"stage\":\"application\",\"release\":\"v3\","
		      "\"status\":\"failed\",\"message\":\"\"}");
	assert_record(journal_record_apply_plan(4, "v3", "command", "would run x"),
		      "{\"kind\":\"journal\",\"type\":\"apply\",\"phase\":\"dry-run\",\"deploy\":4,\"release\":\"v3\","
		      "\"driver\":\"command\",\"message\":\"would run x\"}");
}

static void test_record_health(void **st)
{
	(void)st;
	redact_register(SECRET);
	assert_record(journal_record_health(true, "http://u:" SECRET "@127.0.0.1:9/health", 3, 2, 1500,
					    "healthy " SECRET),
		      "{\"type\":\"health\",\"stage\":\"post-deploy\",\"status\":\"ok\",\"url\":"
		      "\"http://u:***@127.0.0.1:9/health\",\"attempts\":3,\"successes_needed\":2,\"duration_ms\":1500,"
		      "\"message\":\"healthy ***\"}");
	redact_clear();
}

static void test_record_finish(void **st)
{
	(void)st;
	redact_register(SECRET);
	assert_record(journal_record_finish(true, "v2", "done " SECRET, NULL),
		      "{\"type\":\"finish\",\"result\":\"ok\",\"release\":\"v2\",\"message\":\"done ***\"}");
	redact_clear();
	assert_record(journal_record_finish(false, NULL, NULL, "interrupted; closed by a forced begin"),
		      "{\"type\":\"finish\",\"result\":\"failed\",\"reason\":\"interrupted; closed by a forced begin\"}");
	assert_record(journal_record_finish_by_rollback("v1", 9),
		      "{\"type\":\"finish\",\"result\":\"failed\",\"reason\":\"rollback to v1 (deploy 9)\","
		      "\"rollback_to\":\"v1\",\"rollback_deploy\":9}");
}

static void test_record_rollback(void **st)
{
	(void)st;
	assert_record(journal_record_rollback("api", 9, "v2", "v1", true, "healthy", "switched", NULL),
		      "{\"kind\":\"journal\",\"type\":\"rollback\",\"service\":\"api\",\"deploy\":9,\"from\":\"v2\","
		      "\"to\":\"v1\",\"status\":\"ok\",\"message\":\"healthy\",\"driver_message\":\"switched\"}");
	assert_record(journal_record_rollback("api", 9, NULL, "v1", false, "x", NULL, cJSON_Parse("{\"type\":\"health\"}")),
		      "{\"kind\":\"journal\",\"type\":\"rollback\",\"service\":\"api\",\"deploy\":9,\"from\":\"\","
		      "\"to\":\"v1\",\"status\":\"failed\",\"message\":\"x\",\"driver_message\":\"\","
		      "\"health\":{\"type\":\"health\"}}");
	assert_record(journal_record_rollback_plan("api", "v2", "v1", 8, "would switch", STATUS_WARNING, "not seen"),
		      "{\"kind\":\"journal\",\"type\":\"rollback\",\"dry_run\":true,\"service\":\"api\",\"from\":\"v2\","
		      "\"to\":\"v1\",\"closes_deploy\":8,\"message\":\"would switch\",\"target_check\":"
		      "{\"status\":\"warning\",\"message\":\"not seen\"}}");
	assert_record(journal_record_rollback_plan("api", NULL, "v1", 0, "m", STATUS_OK, "ok"),
		      "{\"kind\":\"journal\",\"type\":\"rollback\",\"dry_run\":true,\"service\":\"api\",\"from\":\"\","
		      "\"to\":\"v1\",\"message\":\"m\",\"target_check\":{\"status\":\"ok\",\"message\":\"ok\"}}");
}

/* The records as the journal reads them back: begin and finish make the
 * deployment, an ok apply end makes it applied. */
static void test_records_load_back(void **st)
{
	(void)st;
	struct journal j;
	assert_int_equal(journal_open(&j, state, "records"), 0);
	cJSON *config = cJSON_CreateObject();
	cJSON *recs[] = {journal_record_begin(JOURNAL_DEPLOY, "v5", "v4", NULL, 0, config),
			 journal_record_apply_start("v5", NULL), journal_record_apply_end("v5", true, "ok", NULL),
			 journal_record_finish(true, "v5", NULL, NULL)};
	for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
		assert_int_equal(journal_append(&j, 1, recs[i]), 0);
		assert_string_equal(json_path_string(recs[i], "kind", ""), "journal");
		cJSON_Delete(recs[i]);
	}
	struct journal_view v;
	view_load(&j, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0].release, "v5");
	assert_string_equal(v.v[0].previous, "v4");
	assert_string_equal(v.v[0].action, "deploy");
	assert_true(v.v[0].applied);
	assert_string_equal(v.v[0].result, "ok");
	journal_view_free(&v);
	cJSON_Delete(config);
	journal_close(&j);
}

/* The prologue returns its errors: a bad service name (EINVAL), a state
 * directory that cannot be made, a journal that cannot be read, a write
 * that fails; each a message naming what and why, nothing held. */
static void test_errors_returned(void **st)
{
	(void)st;
	struct journal j;
	char *error = NULL;
	assert_int_equal(journal_open_service(&j, &(struct journal_source){.cli_state_dir = state}, "../x", &error), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(error, "invalid service name \"../x\" (letters, digits, '.', '_', '-')");
	free(error);
	char *file = easprintf("%s/plain-file", state);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	char *under = easprintf("%s/sub", file);
	assert_int_equal(journal_open_service(&j, &(struct journal_source){.cli_state_dir = under}, "api", &error), -1);
	char *want = easprintf("unable to create the state directory %s: Not a directory", under);
	assert_string_equal(error, want);
	free(want);
	free(error);
	/* a state directory every user can write: refused, nothing made in it */
	char *loose = easprintf("%s/loose", state);
	assert_int_equal(mkdir(loose, 0700), 0);
	assert_int_equal(chmod(loose, 0777), 0);
	assert_int_equal(journal_open_service(&j, &(struct journal_source){.cli_state_dir = loose}, "api", &error), -1);
	assert_int_equal(errno, EACCES);
	want = easprintf("refusing the state directory %s: ", loose);
	assert_int_equal(strncmp(error, want, strlen(want)), 0);
	free(want);
	free(error);
	char *made = easprintf("%s/deploy", loose);
	assert_int_equal(access(made, F_OK), -1);
	free(made);
	rmdir(loose);
	free(loose);

	/* the postgres backend without a URL, or with a schema that is no plain
	 * name: refused before anything connects */
	cJSON *cfg = cJSON_Parse("{\"state\":{\"backend\":\"postgres\"}}");
	assert_int_equal(journal_open_service(&j, &(struct journal_source){.cli_state_dir = state, .config = cfg}, "api",
					      &error), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(error, "state.url is not set"));
	free(error);
	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"state\":{\"backend\":\"postgres\",\"url\":\"postgres://127.0.0.1:1/x\","
			  "\"schema\":\"Bad-Name\"}}");
	assert_int_equal(journal_open_service(&j, &(struct journal_source){.cli_state_dir = state, .config = cfg}, "api",
					      &error), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(error, "invalid state.schema \"Bad-Name\" (lower-case letters, digits and '_', at most 63)");
	free(error);
	cJSON_Delete(cfg);

	assert_int_equal(journal_open_service(&j, &(struct journal_source){.cli_state_dir = state}, "held", &error), 0);
	assert_null(error);
	record(&j, 1, "{\"type\":\"begin\",\"release\":\"v1\"}");
	struct journal_hold h;
	assert_int_equal(journal_hold(&j, &h, true, &error), 0);
	assert_true(h.guard >= 0);
	assert_int_equal(h.view.n, 1);
	assert_false(h.li.present);
	journal_unhold(&h);
	assert_int_equal(h.guard, -1);
	journal_unhold(&h); /* twice is harmless */
	/* a journal file that is a symbolic link: refused, named */
	char *link = easprintf("%s/000002.jsonl", j.dir);
	assert_int_equal(symlink(file, link), 0);
	assert_int_equal(journal_hold(&j, &h, false, &error), -1);
	want = easprintf("unable to read the journal %s: a symbolic link (refused)", link);
	assert_string_equal(error, want);
	free(want);
	free(error);
	/* a failed append: the message names the file */
	cJSON *rec = journal_record_finish(true, "v1", NULL, NULL);
	assert_int_equal(journal_write(&j, 2, rec, &error), -1);
	want = easprintf("unable to write the journal %s/000002.jsonl: a symbolic link (refused)", j.dir);
	assert_string_equal(error, want);
	free(want);
	free(error);
	assert_int_equal(journal_write(&j, 1, rec, &error), 0);
	assert_null(error);
	cJSON_Delete(rec);
	unlink(link);
	free(link);
	free(under);
	unlink(file);
	free(file);
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
		cmocka_unit_test(test_record_begin),
		cmocka_unit_test(test_record_report),
		cmocka_unit_test(test_record_gate),
		cmocka_unit_test(test_record_apply),
		cmocka_unit_test(test_record_health),
		cmocka_unit_test(test_record_finish),
		cmocka_unit_test(test_record_rollback),
		cmocka_unit_test(test_records_load_back),
		cmocka_unit_test(test_errors_returned),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
