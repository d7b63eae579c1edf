/* subproc.c — fork/exec an argv array with a timeout, bounded output. */
#include "shipshape/subproc.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KILL_GRACE_MS 2000

static void child_exec(const struct subproc_opts *o, int in_fd, int out_fd)
{
	setpgid(0, 0); /* its own process group, so a timeout kills its children too */
	dup2(in_fd, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	dup2(out_fd, STDERR_FILENO);
	if (in_fd > STDERR_FILENO)
		close(in_fd);
	if (out_fd > STDERR_FILENO)
		close(out_fd);
	signal(SIGPIPE, SIG_DFL);
	for (char *const *e = o->env_add; e && *e; e++)
		putenv(*e);
	if (o->cwd && chdir(o->cwd) < 0) {
		dprintf(STDERR_FILENO, "unable to change directory to %s: %s\n", o->cwd, strerror(errno));
		_exit(127);
	}
	execvp(o->argv[0], o->argv);
	dprintf(STDERR_FILENO, "unable to run %s: %s\n", o->argv[0], strerror(errno));
	_exit(127);
}

static void capture(struct subproc_result *res, struct buf *b, size_t max, const char *data, size_t n)
{
	size_t room = b->len < max ? max - b->len : 0;
	size_t keep = n < room ? n : room;
	buf_append(b, data, keep);
	res->output_dropped += n - keep;
}

/* One run: the child, its pipes and where the waiting for it stands. */
struct run {
	pid_t pid;
	int out_fd;      /* the read end of the child's stdout and stderr; -1 once closed */
	int in_fd;       /* the write end of its stdin while there is more to write, else -1 */
	size_t written;  /* bytes of stdin_data written */
	struct buf out;
	int64_t start, kill_at, hard_kill_at;
	int status;
	bool reaped;
};

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Pipes and fork(): 0 with the child started, or -1 with errno set. */
static int spawn(const struct subproc_opts *o, struct run *r)
{
	int out_pipe[2], in_pipe[2] = {-1, -1};
	if (pipe2(out_pipe, O_CLOEXEC) < 0)
		return -1;
	int child_in;
	if (o->stdin_data) {
		if (pipe2(in_pipe, O_CLOEXEC) < 0) {
			close_fds(out_pipe, 2);
			return -1;
		}
		child_in = in_pipe[0];
	} else {
		child_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	r->start = now_monotonic_ms();
	r->pid = fork();
	if (r->pid < 0) {
		int saved = errno;
		close_fds(out_pipe, 2);
		close_fds((int[]){child_in, in_pipe[1]}, 2);
		errno = saved;
		return -1;
	}
	if (r->pid == 0)
		child_exec(o, child_in, out_pipe[1]);
	setpgid(r->pid, r->pid);
	close_fds((int[]){out_pipe[1], child_in}, 2);
	r->out_fd = out_pipe[0];
	r->in_fd = in_pipe[1];
	if (r->in_fd >= 0)
		fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
	if (r->in_fd >= 0 && o->stdin_len == 0) {
		close(r->in_fd);
		r->in_fd = -1;
	}
	return 0;
}

/* The timeout: SIGTERM to the process group, SIGKILL KILL_GRACE_MS later. */
static void enforce_timeout(struct run *r, struct subproc_result *res)
{
	int64_t now = now_monotonic_ms();
	if (r->kill_at >= 0 && now >= r->kill_at && !res->timed_out) {
		res->timed_out = true;
		kill(-r->pid, SIGTERM);
		r->hard_kill_at = now + KILL_GRACE_MS;
	}
	if (r->hard_kill_at >= 0 && now >= r->hard_kill_at) {
		kill(-r->pid, SIGKILL);
		r->hard_kill_at = -1;
	}
}

static void read_output(struct run *r, struct subproc_result *res, size_t max)
{
	char chunk[8192];
	ssize_t n = read(r->out_fd, chunk, sizeof chunk);
	if (n > 0) {
		capture(res, &r->out, max, chunk, (size_t)n);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(r->out_fd);
		r->out_fd = -1;
	}
}

static void write_input(struct run *r, const struct subproc_opts *o)
{
	ssize_t w = write(r->in_fd, o->stdin_data + r->written, o->stdin_len - r->written);
	if (w > 0)
		r->written += (size_t)w;
	if ((w < 0 && errno != EAGAIN && errno != EINTR) || r->written == o->stdin_len) {
		close(r->in_fd);
		r->in_fd = -1;
	}
}

/* One wait for output, room on stdin or the child's end: false when poll()
 * failed. */
static bool io_round(struct run *r, const struct subproc_opts *o, struct subproc_result *res, size_t max)
{
	struct pollfd fds[2];
	nfds_t nfds = 0;
	if (r->out_fd >= 0)
		fds[nfds++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN};
	if (r->in_fd >= 0)
		fds[nfds++] = (struct pollfd){.fd = r->in_fd, .events = POLLOUT};
	/* after the child's end a grandchild may still hold the pipe: drain briefly */
	int wait_ms = r->reaped ? 200 : 50;
	int n = nfds ? poll(fds, nfds, wait_ms) : (sleep_ms(20), 0);
	if (n < 0 && errno != EINTR)
		return false;
	for (nfds_t i = 0; n > 0 && i < nfds; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == r->out_fd)
			read_output(r, res, max);
		else if (fds[i].fd == r->in_fd)
			write_input(r, o);
	}
	if (r->reaped && r->out_fd >= 0 && n == 0) {
		close(r->out_fd); /* the child is gone and nothing more came */
		r->out_fd = -1;
	}
	return true;
}

int subproc_run(const struct subproc_opts *o, struct subproc_result *res)
{
	memset(res, 0, sizeof *res);
	res->exit_code = -1;
	if (!o->argv || !o->argv[0]) {
		errno = EINVAL;
		return -1;
	}
	struct run r = {.out_fd = -1, .in_fd = -1, .hard_kill_at = -1};
	if (spawn(o, &r) < 0)
		return -1;
	buf_append(&r.out, "", 0);
	size_t max = o->max_output ? o->max_output : 65536;
	r.kill_at = o->timeout_ms > 0 ? r.start + o->timeout_ms : -1;
	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
	while (r.out_fd >= 0 || !r.reaped) {
		enforce_timeout(&r, res);
		if (!r.reaped && waitpid(r.pid, &r.status, WNOHANG) == r.pid)
			r.reaped = true;
		if ((r.reaped && r.out_fd < 0) || !io_round(&r, o, res, max))
			break;
	}
	signal(SIGPIPE, old_pipe);
	close_fds((int[]){r.in_fd, r.out_fd}, 2);
	if (!r.reaped)
		waitpid(r.pid, &r.status, 0);
	res->duration_ms = now_monotonic_ms() - r.start;
	if (WIFEXITED(r.status))
		res->exit_code = WEXITSTATUS(r.status);
	else if (WIFSIGNALED(r.status))
		res->term_signal = WTERMSIG(r.status);
	res->output_len = r.out.len;
	res->output = buf_take(&r.out);
	return 0;
}

void subproc_result_to_json(const struct subproc_result *res, cJSON *obj)
{
	char *output = redact_string(res->output ? res->output : "");
	cJSON_AddNumberToObject(obj, "exit_code", res->exit_code);
	if (res->term_signal)
		cJSON_AddNumberToObject(obj, "signal", res->term_signal);
	cJSON_AddBoolToObject(obj, "timed_out", res->timed_out);
	cJSON_AddNumberToObject(obj, "duration_ms", (double)res->duration_ms);
	cJSON_AddStringToObject(obj, "output", output);
	if (res->output_dropped)
		cJSON_AddNumberToObject(obj, "output_dropped", (double)res->output_dropped);
	free(output);
}

void subproc_result_free(struct subproc_result *res)
{
	free(res->output);
	res->output = NULL;
}
