/* opts_error.c — option parsing whose errors are one line on stderr:
 * std_getopt(), option_error() (see opts.h); the nagios mode they set is
 * message.c's. */
#include "shipshape/common.h"
#include "shipshape/opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int std_getopt(int argc, char *const argv[], const char *extra, const struct option *longopts)
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
	int c = getopt_long(argc, argv, optstring, longopts, NULL);
	if (c == '?' || c == ':')
		option_error(c, argv);
	return c;
}

void option_error(int c, char *const argv[])
{
	/* getopt has moved optind past the offending word (or its value) */
	const char *word = optind > 0 ? argv[optind - 1] : "";
	bool is_long = strncmp(word, "--", 2) == 0;
	if (c == ':') {
		if (is_long)
			die(EXIT_USAGE, "option %.*s needs a value (see %s --help)", (int)strcspn(word, "="), word,
			    prog);
		die(EXIT_USAGE, "option -%c needs a value (see %s --help)", optopt, prog);
	}
	if (!is_long)
		die(EXIT_USAGE, "unknown option -%c (see %s --help)", optopt ? optopt : '?', prog);
	/* glibc sets optopt to a long option's value when it was given a
	 * value it does not take, and to 0 when the name matched none or several */
	if (optopt)
		die(EXIT_USAGE, "option %.*s takes no value (see %s --help)", (int)strcspn(word, "="), word, prog);
	die(EXIT_USAGE, "unknown or ambiguous option %.*s (see %s --help)", (int)strcspn(word, "="), word, prog);
}
