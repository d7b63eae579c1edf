/* opts_error.c — option parsing whose errors are one line on stderr:
 * std_getopt() (see opts.h); the nagios mode it sets is message.c's. */
#include "shipshape/common.h"
#include "shipshape/opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int std_opt_take(struct std_opts *o, int c, const char *arg); /* opts.c */

/* Runs getopt_long() over a copy of the whole command line, before the real
 * parse, so that an error met before --format (a bad option in front of it)
 * already knows the mode. getopt's own parse, abbreviations and "--"
 * included, decides what is the --format option and what is a value; the
 * last --format counts, as it does for the parse. */
static void nagios_mode_scan(int argc, char *const argv[], const char *optstring,
			     const struct option *longopts)
{
	char **copy = ecalloc((size_t)argc + 1, sizeof *copy);
	memcpy(copy, argv, (size_t)argc * sizeof *copy);
	const char *format = NULL;
	int c;
	optind = 0; /* glibc: start afresh */
	while ((c = getopt_long(argc, copy, optstring, longopts, NULL)) != -1)
		if (c == OPT_FORMAT)
			format = optarg;
	nagios_mode_set(format && strcmp(format, "nagios") == 0);
	free(copy);
	optind = 0; /* the real parse starts afresh too */
	optarg = NULL;
	optopt = 0;
}

/* The one line for a bad option (c is '?') or a missing value (':'), and
 * the status for main. getopt has moved optind past the offending word. */
static int option_error(int c, char *const argv[])
{
	const char *word = optind > 0 ? argv[optind - 1] : "";
	bool is_long = strncmp(word, "--", 2) == 0;
	int len = (int)strcspn(word, "=");
	if (c == ':') {
		if (is_long)
			return usage_fail("option %.*s needs a value (see %s --help)", len, word, prog);
		return usage_fail("option -%c needs a value (see %s --help)", optopt, prog);
	}
	if (!is_long)
		return usage_fail("unknown option -%c (see %s --help)", optopt ? optopt : '?', prog);
	/* glibc sets optopt to a long option's value when it was given a
	 * value it does not take, and to 0 when the name matched none or several */
	if (optopt)
		return usage_fail("option %.*s takes no value (see %s --help)", len, word, prog);
	return usage_fail("unknown or ambiguous option %.*s (see %s --help)", len, word, prog);
}

int std_getopt(struct std_opts *o, int argc, char *const argv[], const char *extra,
	       const struct option *longopts)
{
	/* ':' first: a missing value is told apart from an unknown option */
	char optstring[128];
	static bool scanned;
	snprintf(optstring, sizeof optstring, ":%s%s", STD_SHORT_OPTS, extra ? extra : "");
	opterr = 0;
	if (!scanned) {
		scanned = true;
		nagios_mode_scan(argc, argv, optstring, longopts);
	}
	for (;;) {
		int c = getopt_long(argc, argv, optstring, longopts, NULL);
		if (c == '?' || c == ':') {
			o->exit_status = option_error(c, argv);
			return OPT_EXIT;
		}
		/* the end, or a shared letter the tool takes itself (named in extra) */
		if (c == -1 || (c < 0x100 && extra && strchr(extra, c) && strchr(STD_SHORT_OPTS, c)))
			return c;
		int r = std_opt_take(o, c, optarg);
		if (r == OPT_EXIT)
			return OPT_EXIT;
		if (r != 0)
			return c;
	}
}
