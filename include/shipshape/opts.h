/* opts.h — the options every tool shares, with one meaning everywhere
 * (shipshape(7), CONVENTIONS): -h/--help -V/--version -c/--config FILE
 * --format FMT -q/--quiet -v/--verbose; -t/--timeout DUR in a tool that
 * waits on anything, --state-dir DIR in a tool that keeps state. Nothing
 * here exits: a bad option is one line on stderr and a status that main()
 * exits with. */
#ifndef SHIPSHAPE_OPTS_H
#define SHIPSHAPE_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* FORMAT_HTML: only deploy-stage's report and history take it. */
enum output_format { FORMAT_AUTO = 0, FORMAT_JSON, FORMAT_TEXT, FORMAT_NAGIOS, FORMAT_ENV, FORMAT_HTML };

/* Long-only option codes, above any short option character. */
enum {
	OPT_FORMAT = 0x100,
	OPT_STATE_DIR,
	OPT_STATE_URL_ENV,
	OPT_TOOL_BASE = 0x200 /* tools number their own long options from here */
};

/* What std_getopt() returns when the run ends here: exit(o->exit_status). */
#define OPT_EXIT (-2)

/* The shared options every tool takes. A tool that waits on anything adds
 * STD_TIMEOUT_OPT and "t:" to its short options; a tool that keeps state
 * adds STD_STATE_DIR_OPT. No tool lists an option it does not use. */
#define STD_SHORT_OPTS "hVc:qv"
#define STD_LONG_OPTS                                                  \
	{"help", no_argument, NULL, 'h'},                              \
	{"version", no_argument, NULL, 'V'},                           \
	{"config", required_argument, NULL, 'c'},                      \
	{"format", required_argument, NULL, OPT_FORMAT},               \
	{"quiet", no_argument, NULL, 'q'},                             \
	{"verbose", no_argument, NULL, 'v'}
#define STD_TIMEOUT_OPT {"timeout", required_argument, NULL, 't'}
#define STD_STATE_DIR_OPT {"state-dir", required_argument, NULL, OPT_STATE_DIR}
/* --state-url-env NAME: the deploy state in PostgreSQL, at the URL in the
 * environment variable NAME (a password never goes on a command line). */
#define STD_STATE_URL_ENV_OPT {"state-url-env", required_argument, NULL, OPT_STATE_URL_ENV}

struct std_opts {
	/* set by the tool before the first std_getopt() */
	void (*usage)(FILE *);   /* prints the tool's --help */
	const char *formats;     /* the --format values it takes: "json,text,nagios" */
	/* what the shared options said */
	const char *config_path; /* -c; NULL: the config document on stdin */
	int64_t timeout_ms;      /* -t: the whole invocation; 0: the tool's default */
	enum output_format format;
	const char *state_dir;
	const char *state_url;   /* --state-url-env NAME: $NAME's value */
	int verbose;
	int quiet;               /* -q: no warnings on stderr; stdout unchanged */
	int exit_status;         /* when std_getopt() returned OPT_EXIT */
};

/* getopt_long() over the shared short options plus the tool's own (extra,
 * e.g. "r:m:"). The shared options are taken into o and not returned,
 * unless the tool names the option's short letter in extra (cfg-resolve's
 * -c, one more file each time). Returns the tool's next option as
 * getopt_long does (never '?' or ':'), -1 at the end, or OPT_EXIT when the
 * run ends here with o->exit_status: 0 after --help (usage on stdout) or
 * --version; 64 (3 in nagios mode) after one line on stderr for an unknown
 * option, a missing value or a bad shared value. Its first call looks
 * through the whole command line for --format first (see nagios_mode()). */
int std_getopt(struct std_opts *o, int argc, char *const argv[], const char *extra,
	       const struct option *longopts);

/* Option values, parsed once for every tool. Each returns 0 and the value,
 * or prints "prog: invalid NAME "ARG" (expected ...)" and returns the exit
 * status for main (64; 3 in nagios mode). NAME is how the message names the
 * option ("--wait"). A duration is duration_parse()'s ("10s", "500ms", a
 * bare number of seconds), at least min_ms; a count is decimal digits from
 * min to max; a size is size_parse()'s ("64k", "1M"), at least min. */
int opt_duration(const char *name, const char *arg, int64_t min_ms, int64_t *ms);
int opt_count(const char *name, const char *arg, long min, long max, long *n);
int opt_size(const char *name, const char *arg, int64_t min, int64_t *bytes);
/* For a tool's own parser, never for libcommon: ends the run with status
 * when it is not 0, as in opt_exit(opt_count("--limit", optarg, 1, 1000, &n)). */
static inline void opt_exit(int status)
{
	if (status)
		exit(status);
}
/* A usage error of the tool's own: "prog: message" on stderr; returns the
 * exit status for main (64; 3 in nagios mode, with the status line). */
int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The plugin contract for errors (shipshape(7)). A run is in nagios mode
 * when the last --format on its command line is nagios, wherever it stands:
 * std_getopt() knows it before it parses the first option. In nagios mode
 * an error that ends the run (die(), a usage error, invalid input) also
 * prints "prog UNKNOWN - message" as the one status line on stdout and
 * exits 3, since Nagios takes 64, 65 and 75 as "out of bounds"; stderr keeps
 * its usual line. */
bool nagios_mode(void);
/* Sets the mode: std_getopt()'s first call, from the command line. */
void nagios_mode_set(bool on);
/* The exit status for an error that ends the run with status. In nagios
 * mode: prints the status line "prog STATE - message" on stdout (STATE is
 * WARNING or CRITICAL for status 1 or 2, else UNKNOWN) and returns STATE's
 * status (3 for 64, 65, 75); otherwise returns status and prints nothing.
 * die() exits through it; a tool that reported an error itself and returns
 * an exit status calls it with a one-line message. */
int error_status(int status, const char *message);
/* FORMAT_AUTO resolved: text on a terminal, json otherwise (report.c). */
enum output_format format_resolve(enum output_format f);

#endif
