/* test_spool.c — unit tests for the spool: items written 0600 and whole,
 * listed oldest first, claimed by one holder at a time, kept until done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shipshape/common.h"
#include "shipshape/json.h"
#include "shipshape/spool.h"

static int make_dir(void **state)
{
	char tmpl[] = "/tmp/test_spool.XXXXXX";
	char *d = mkdtemp(tmpl);
	if (!d)
		return -1;
	*state = easprintf("%s/spool", d); /* not there yet: spool_put makes it */
	return 0;
}

static int remove_dir(void **state)
{
	char *dir = *state;
	char **paths;
	size_t n;
	if (spool_list(dir, &paths, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			unlink(paths[i]);
			free(paths[i]);
		}
		free(paths);
	}
	char *junk[] = {easprintf("%s/.x.tmp.1", dir), easprintf("%s/notes.txt", dir),
			easprintf("%s/000000000000001-1-000001-webhook.json.bad", dir)};
	for (size_t i = 0; i < ARRAY_LEN(junk); i++) {
		unlink(junk[i]);
		free(junk[i]);
	}
	rmdir(dir);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	rmdir(dir);
	free(dir);
	return 0;
}

static cJSON *doc_n(int n)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "n", n);
	return d;
}

static void test_put_list_read(void **state)
{
	const char *dir = *state;
	char **paths;
	size_t n;
	/* a spool never made is an empty one */
	assert_int_equal(spool_list(dir, &paths, &n), 0);
	assert_int_equal(n, 0);

	char *put[3];
	for (int i = 0; i < 3; i++) {
		cJSON *d = doc_n(i);
		put[i] = spool_put(dir, i == 1 ? "email" : "webhook", d);
		cJSON_Delete(d);
		assert_non_null(put[i]);
	}
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(put[0], &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the tag names the item; the name says nothing else */
	assert_non_null(strstr(put[1], "-email.json"));

	assert_int_equal(spool_list(dir, &paths, &n), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		/* oldest first: the order they were put in */
		assert_string_equal(paths[i], put[i]);
		int fd = spool_claim(paths[i]);
		assert_true(fd >= 0);
		char err[128];
		cJSON *d = spool_read(fd, err, sizeof err);
		assert_non_null(d);
		assert_int_equal((int)json_path_number(d, "n", -1), i);
		cJSON_Delete(d);
		spool_release(fd);
		free(paths[i]);
		free(put[i]);
	}
	free(paths);
}

static void test_list_skips_other_files(void **state)
{
	const char *dir = *state;
	cJSON *d = doc_n(1);
	char *item = spool_put(dir, "slack", d);
	cJSON_Delete(d);
	assert_non_null(item);
	/* a temporary file left by a crash mid-write, a note, an item set aside */
	const char *junk[] = {".x.tmp.1", "notes.txt", "000000000000001-1-000001-webhook.json.bad"};
	for (size_t i = 0; i < ARRAY_LEN(junk); i++) {
		char *p = easprintf("%s/%s", dir, junk[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		close(fd);
		free(p);
	}
	char **paths;
	size_t n;
	assert_int_equal(spool_list(dir, &paths, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(paths[0], item);
	free(paths[0]);
	free(paths);
	free(item);
}

static void test_claim_is_exclusive_until_done(void **state)
{
	const char *dir = *state;
	cJSON *d = doc_n(7);
	char *item = spool_put(dir, "webhook", d);
	cJSON_Delete(d);
	assert_non_null(item);

	int fd = spool_claim(item);
	assert_true(fd >= 0);
	/* a second holder (another alert-send) is refused while the first works */
	errno = 0;
	assert_int_equal(spool_claim(item), -1);
	assert_int_equal(errno, EWOULDBLOCK);

	/* given up: the item stays, and can be claimed again */
	spool_release(fd);
	fd = spool_claim(item);
	assert_true(fd >= 0);

	/* a holder that opened it before it was done sees it gone */
	int late = open(item, O_RDONLY | O_CLOEXEC);
	assert_true(late >= 0);
	assert_int_equal(spool_done(item, fd), 0);
	assert_int_equal(access(item, F_OK), -1);
	errno = 0;
	assert_int_equal(spool_claim(item), -1);
	assert_int_equal(errno, ENOENT);
	close(late);

	char **paths;
	size_t n;
	assert_int_equal(spool_list(dir, &paths, &n), 0);
	assert_int_equal(n, 0);
	free(paths);
	free(item);
}

static void test_read_rejects_damage(void **state)
{
	const char *dir = *state;
	static const char *const bad[] = {"", "{\"cut\":", "[1,2]"};
	static const char *const why[] = {"empty", "", "not a JSON object"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		cJSON *d = doc_n((int)i);
		char *item = spool_put(dir, "webhook", d);
		cJSON_Delete(d);
		assert_non_null(item);
		int fd = open(item, O_WRONLY | O_TRUNC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		close(fd);
		fd = spool_claim(item);
		assert_true(fd >= 0);
		char err[128] = "";
		assert_null(spool_read(fd, err, sizeof err));
		assert_true(err[0] != '\0');
		if (*why[i])
			assert_string_equal(err, why[i]);
		assert_int_equal(spool_done(item, fd), 0);
		free(item);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_list_read, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_list_skips_other_files, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_claim_is_exclusive_until_done, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_read_rejects_damage, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
