/* runbook.c — runbooks beside the deliveries, never in their way: each runs
 * in a runner process of its own (a fork of alert-send that only calls
 * subproc_run() and writes the runbook record into a pipe), so a slow or hung
 * runbook holds no notification back; the main loop polls the pipes and
 * prints the records as they come. */
#include "alert-send.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/subproc.h"
#include "shipshape/units.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct job {
	const struct runbook *rb;
	cJSON *alert;
	pid_t pid;
	int fd;            /* the runner's record, read end */
	struct buf out;
};

struct runbooks {
	size_t max_output;
	enum output_format format;
	struct job *queue;             /* waiting for a slot, oldest first */
	size_t n_queue, cap_queue;
	struct job running[RUNBOOKS_AT_ONCE];
	size_t n_running;
};

struct runbooks *runbooks_new(size_t max_output, enum output_format format)
{
	struct runbooks *r = ecalloc(1, sizeof *r);
	r->max_output = max_output;
	r->format = format;
	return r;
}

static cJSON *record_base(const struct job *j)
{
	cJSON *r = cJSON_CreateObject();
	char t[RFC3339_LEN];
	cJSON_AddStringToObject(r, "kind", "runbook");
	cJSON_AddStringToObject(r, "time", rfc3339_format(now_epoch_ms(), t));
	cJSON_AddStringToObject(r, "alertname", j->rb->alertname);
	cJSON_AddStringToObject(r, "fingerprint", json_path_string(j->alert, "fingerprint", ""));
	cJSON_AddStringToObject(r, "command", j->rb->argv[0]);
	return r;
}

static void job_clear(struct job *j)
{
	cJSON_Delete(j->alert);
	buf_free(&j->out);
	if (j->fd >= 0)
		close(j->fd);
	memset(j, 0, sizeof *j);
	j->fd = -1;
}

void runbooks_queue(struct runbooks *r, const struct runbook *rb, cJSON *alert)
{
	struct job j = {.rb = rb, .alert = alert, .fd = -1};
	if (r->n_queue >= RUNBOOK_QUEUE_MAX) {
		/* Bounded: an alert storm must not fork without end. */
		cJSON *rec = record_base(&j);
		cJSON_AddBoolToObject(rec, "skipped", true);
		char *msg = easprintf("%u runbooks wait already", RUNBOOK_QUEUE_MAX);
		cJSON_AddStringToObject(rec, "error", msg);
		error_msg("runbook for %s skipped: %s", rb->alertname, msg);
		free(msg);
		record_print(rec, r->format);
		job_clear(&j);
		return;
	}
	if (r->n_queue == r->cap_queue) {
		r->cap_queue = r->cap_queue ? r->cap_queue * 2 : 8;
		r->queue = erealloc(r->queue, r->cap_queue * sizeof *r->queue);
	}
	r->queue[r->n_queue++] = j;
}

/* The runner: holds nothing of alert-send's (no lock, no spool claim, no
 * socket, not its stdin or stdout), runs the runbook under its timeout and
 * writes one record to fd. */
static void __attribute__((noreturn)) runner(const struct job *j, int fd, size_t max_output)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fd < 3) /* alert-send started with stdin or stdout closed */
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0U, 0);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO && null != fd)
			close(null);
	}
	char *input = cJSON_PrintUnformatted(j->alert);
	char *fp_env = easprintf("SHIPSHAPE_ALERT_FINGERPRINT=%s", json_path_string(j->alert, "fingerprint", ""));
	char *name_env = easprintf("SHIPSHAPE_ALERT_NAME=%s", j->rb->alertname);
	char *const env[] = {fp_env, name_env, NULL};
	struct subproc_opts o = {
		.argv = j->rb->argv, .env_add = env, .stdin_data = input, .stdin_len = strlen(input),
		.timeout_ms = j->rb->timeout_ms, .max_output = max_output,
	};
	struct subproc_result res = {0};
	cJSON *r = record_base(j);
	if (subproc_run(&o, &res) < 0) {
		char *msg = easprintf("unable to run %s: %s", j->rb->argv[0], strerror(errno));
		cJSON_AddStringToObject(r, "error", msg);
		free(msg);
	} else {
		subproc_result_to_json(&res, r);
	}
	/* "time" is when it finished, as the record printed in the parent says */
	char t[RFC3339_LEN];
	cJSON_ReplaceItemInObject(r, "time", cJSON_CreateString(rfc3339_format(now_epoch_ms(), t)));
	char *text = cJSON_PrintUnformatted(r);
	size_t len = text ? strlen(text) : 0, off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* alert-send is gone: nobody to tell */
		off += (size_t)n;
	}
	free(text);
	cJSON_Delete(r);
	subproc_result_free(&res);
	free(input);
	free(fp_env);
	free(name_env);
	_exit(0);
}

void runbooks_start(struct runbooks *r)
{
	while (r->n_queue && r->n_running < RUNBOOKS_AT_ONCE) {
		struct job j = r->queue[0];
		memmove(r->queue, r->queue + 1, (r->n_queue - 1) * sizeof *r->queue);
		r->n_queue--;
		int p[2];
		pid_t pid = -1;
		if (pipe2(p, O_CLOEXEC) == 0) {
			fflush(stdout); /* nothing buffered may be written twice */
			pid = fork();
			if (pid == 0)
				runner(&j, p[1], r->max_output);
			close(p[1]);
			if (pid < 0)
				close(p[0]);
		}
		if (pid < 0) {
			cJSON *rec = record_base(&j);
			char *msg = easprintf("unable to start a runner: %s", strerror(errno));
			cJSON_AddStringToObject(rec, "error", msg);
			error_msg("runbook for %s: %s", j.rb->alertname, msg);
			free(msg);
			record_print(rec, r->format);
			job_clear(&j);
			continue;
		}
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		j.pid = pid;
		j.fd = p[0];
		r->running[r->n_running++] = j;
	}
}

unsigned runbooks_pollfds(const struct runbooks *r, struct pollfd *fds, unsigned max)
{
	unsigned n = 0;
	for (size_t i = 0; i < r->n_running && n < max; i++)
		fds[n++] = (struct pollfd){.fd = r->running[i].fd, .events = POLLIN};
	return n;
}

/* The runner is done (its pipe closed): reap it, print its record. */
static void finish(struct runbooks *r, struct job *j)
{
	int status = 0;
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	char err[128];
	cJSON *rec = j->out.len ? json_parse_text(j->out.data, j->out.len, err, sizeof err) : NULL;
	if (!cJSON_IsObject(rec)) {
		cJSON_Delete(rec);
		rec = record_base(j);
		cJSON_AddStringToObject(rec, "error", "the runner died without a record");
	}
	const char *e = json_path_string(rec, "error", NULL);
	if (e)
		error_msg("runbook for %s: %s", j->rb->alertname, e);
	record_print(rec, r->format);
	job_clear(j);
}

void runbooks_collect(struct runbooks *r)
{
	/* Non-blocking reads of every pipe: poll only said that one is ready. */
	size_t limit = r->max_output * 6 + 65536; /* JSON escapes at most 6 bytes for 1 */
	for (size_t i = 0; i < r->n_running;) {
		struct job *j = &r->running[i];
		char chunk[8192];
		bool done = false;
		for (;;) {
			ssize_t n = read(j->fd, chunk, sizeof chunk);
			if (n > 0) {
				if (j->out.len < limit)
					buf_append(&j->out, chunk, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			done = n == 0 || errno != EAGAIN;
			break;
		}
		if (!done) {
			i++;
			continue;
		}
		finish(r, j);
		r->running[i] = r->running[--r->n_running];
	}
}

bool runbooks_idle(const struct runbooks *r)
{
	return !r->n_queue && !r->n_running;
}

void runbooks_abandon(struct runbooks *r)
{
	for (size_t i = 0; i < r->n_running; i++) {
		struct job *j = &r->running[i];
		warnx_("runbook for %s still running at exit: it finishes on its own, under its timeout, "
		       "unrecorded", j->rb->alertname);
		job_clear(j);
	}
	r->n_running = 0;
	for (size_t i = 0; i < r->n_queue; i++) {
		warnx_("runbook for %s not run: alert-send stopped first", r->queue[i].rb->alertname);
		job_clear(&r->queue[i]);
	}
	r->n_queue = 0;
}

void runbooks_free(struct runbooks *r)
{
	if (!r)
		return;
	runbooks_abandon(r);
	free(r->queue);
	free(r);
}
