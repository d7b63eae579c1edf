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

int subproc_run(const struct subproc_opts *o, struct subproc_result *res)
{
	memset(res, 0, sizeof *res);
	res->exit_code = -1;
	int out_pipe[2], in_pipe[2] = {-1, -1};
	if (!o->argv || !o->argv[0]) {
		errno = EINVAL;
		return -1;
	}
	if (pipe2(out_pipe, O_CLOEXEC) < 0)
		return -1;
	int in_fd;
	if (o->stdin_data) {
		if (pipe2(in_pipe, O_CLOEXEC) < 0) {
			close(out_pipe[0]);
			close(out_pipe[1]);
			return -1;
		}
		in_fd = in_pipe[0];
	} else {
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	int64_t start = now_monotonic_ms();
	pid_t pid = fork();
	if (pid < 0) {
		int saved = errno;
		close(out_pipe[0]);
		close(out_pipe[1]);
		if (in_fd >= 0)
			close(in_fd);
		if (in_pipe[1] >= 0)
			close(in_pipe[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0)
		child_exec(o, in_fd, out_pipe[1]);
	setpgid(pid, pid);
	close(out_pipe[1]);
	if (in_fd >= 0)
		close(in_fd);
	int wfd = in_pipe[1];
	size_t written = 0;
	if (wfd >= 0)
		fcntl(wfd, F_SETFL, O_NONBLOCK);
	if (wfd >= 0 && o->stdin_len == 0) {
		close(wfd);
		wfd = -1;
	}

	struct buf b = {0};
	buf_append(&b, "", 0);
	size_t max = o->max_output ? o->max_output : 65536;
	bool out_open = true;
	int64_t kill_at = o->timeout_ms > 0 ? start + o->timeout_ms : -1;
	int64_t hard_kill_at = -1;
	int status = 0;
	bool reaped = false;
	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);

	while (out_open || !reaped) {
		int64_t now = now_monotonic_ms();
		if (kill_at >= 0 && now >= kill_at && !res->timed_out) {
			res->timed_out = true;
			kill(-pid, SIGTERM);
			hard_kill_at = now + KILL_GRACE_MS;
		}
		if (hard_kill_at >= 0 && now >= hard_kill_at) {
			kill(-pid, SIGKILL);
			hard_kill_at = -1;
		}
		if (!reaped) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				reaped = true;
		}
		if (reaped && !out_open)
			break;
		struct pollfd fds[2];
		nfds_t nfds = 0;
		if (out_open)
			fds[nfds++] = (struct pollfd){.fd = out_pipe[0], .events = POLLIN};
		if (wfd >= 0)
			fds[nfds++] = (struct pollfd){.fd = wfd, .events = POLLOUT};
		int wait_ms = 50;
		if (reaped && out_open)
			wait_ms = 200; /* a grandchild may still hold the pipe: drain briefly */
		int n = nfds ? poll(fds, nfds, wait_ms) : (usleep(20000), 0);
		if (n < 0 && errno != EINTR)
			break;
		for (nfds_t i = 0; n > 0 && i < nfds; i++) {
			if (fds[i].fd == out_pipe[0] && fds[i].revents) {
				char chunk[8192];
				ssize_t r = read(out_pipe[0], chunk, sizeof chunk);
				if (r > 0)
					capture(res, &b, max, chunk, (size_t)r);
				else if (r == 0 || (errno != EINTR && errno != EAGAIN))
					out_open = false;
			} else if (fds[i].fd == wfd && fds[i].revents) {
				ssize_t w = write(wfd, o->stdin_data + written, o->stdin_len - written);
				if (w > 0)
					written += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == o->stdin_len) {
					close(wfd);
					wfd = -1;
				}
			}
		}
		if (reaped && out_open && n == 0)
			out_open = false; /* the child is gone and nothing more came */
	}
	signal(SIGPIPE, old_pipe);
	if (wfd >= 0)
		close(wfd);
	close(out_pipe[0]);
	if (!reaped)
		waitpid(pid, &status, 0);
	res->duration_ms = now_monotonic_ms() - start;
	if (WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->term_signal = WTERMSIG(status);
	res->output_len = b.len;
	res->output = buf_take(&b);
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
