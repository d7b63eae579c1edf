/* opts.h — the options every tool shares, with one meaning everywhere:
 * -h/--help -V/--version -c/--config FILE -t/--timeout DUR --format FMT
 * -q/--quiet -v/--verbose --state-dir DIR. */
#ifndef SHIPSHAPE_OPTS_H
#define SHIPSHAPE_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum output_format { FORMAT_AUTO = 0, FORMAT_JSON, FORMAT_TEXT, FORMAT_NAGIOS, FORMAT_ENV };

/* Long-only option codes, above any short option character. */
enum {
	OPT_FORMAT = 0x100,
	OPT_STATE_DIR,
	OPT_TOOL_BASE = 0x200 /* tools number their own long options from here */
};

#define STD_SHORT_OPTS "hVc:t:qv"
#define STD_LONG_OPTS                                                  \
	{"help", no_argument, NULL, 'h'},                              \
	{"version", no_argument, NULL, 'V'},                           \
	{"config", required_argument, NULL, 'c'},                      \
	{"timeout", required_argument, NULL, 't'},                     \
	{"format", required_argument, NULL, OPT_FORMAT},               \
	{"quiet", no_argument, NULL, 'q'},                             \
	{"verbose", no_argument, NULL, 'v'},                           \
	{"state-dir", required_argument, NULL, OPT_STATE_DIR}

struct std_opts {
	const char *config_path; /* -c; NULL: the config document on stdin */
	int64_t timeout_ms;      /* -t; 0: the tool's default */
	enum output_format format;
	const char *state_dir;
	int verbose;
	int quiet;
};

/* Handles one of the shared options. Returns 1 when c was one of them, 0
 * otherwise. --help prints usage to stdout and exits 0; --version prints the
 * version and exits 0; a bad value exits EXIT_USAGE. formats is a
 * comma-separated list of the formats this tool accepts ("json,text,nagios"). */
int std_opt(struct std_opts *o, int c, const char *arg, void (*usage)(FILE *),
	    const char *formats);
/* For an unknown option or missing operand: usage to stderr, exit 64 (in
 * nagios mode, 3: see error_status()). */
void usage_error(void (*usage)(FILE *)) __attribute__((noreturn));
/* One line instead: "prog: unknown option --x (see prog --help)" or
 * "option --wait needs a value", exit 64. For a parser that sets opterr = 0,
 * starts its optstring with ':' and calls this for c == '?' or ':' before
 * std_opt(). */
void option_error(int c, char *const argv[]) __attribute__((noreturn));
/* getopt_long() over the shared short options plus the tool's own (extra,
 * e.g. "r:m:"), with a bad option or a missing value reported as one line
 * by option_error() (exit 64) instead of getopt's message. Returns as
 * getopt_long does; never '?' or ':'. Its first call looks through the
 * whole command line for --format first (see nagios_mode()). */
int std_getopt(int argc, char *const argv[], const char *extra, const struct option *longopts);

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
const char *format_name(enum output_format f);

#endif
