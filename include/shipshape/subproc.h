/* subproc.h — running a hook, driver or runbook: fork/exec of an argv array
 * (never a shell string), with a timeout and bounded captured output. */
#ifndef SHIPSHAPE_SUBPROC_H
#define SHIPSHAPE_SUBPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

struct subproc_opts {
	char *const *argv;       /* argv[0] is looked up in PATH */
	char *const *env_add;    /* "NAME=value" entries added to the environment, NULL-terminated, may be NULL */
	const char *stdin_data;  /* written to the child's stdin, then closed; NULL: /dev/null */
	size_t stdin_len;
	int64_t timeout_ms;      /* 0: none. On expiry: SIGTERM to the process group, SIGKILL 2 s later */
	size_t max_output;       /* bytes of stdout+stderr kept; the rest is counted and dropped */
	const char *cwd;         /* NULL: inherit */
};

struct subproc_result {
	int exit_code;        /* exit status, or -1 when killed by a signal */
	int term_signal;      /* the signal, or 0 */
	bool timed_out;
	char *output;         /* stdout and stderr interleaved, NUL-terminated (owned) */
	size_t output_len;
	size_t output_dropped; /* bytes beyond max_output */
	int64_t duration_ms;
};

/* Runs the command and waits for it. Returns 0 when it ran (look at
 * exit_code), -1 when it could not be started (errno set; exec failure of
 * argv[0] is reported as exit_code 127 with a message in output). */
int subproc_run(const struct subproc_opts *o, struct subproc_result *res);
void subproc_result_free(struct subproc_result *res);
/* Adds what a run did to obj, as every record of a hook, driver or runbook
 * shows it: exit_code, signal (when killed), timed_out, duration_ms, output
 * (redacted) and output_dropped (when over the bound). */
void subproc_result_to_json(const struct subproc_result *res, cJSON *obj);

#endif
