/* opts_error.c — option parsing whose errors are one line on stderr:
 * std_getopt() and option_error() (see opts.h). */
#include "shipshape/common.h"
#include "shipshape/opts.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int std_getopt(int argc, char *const argv[], const char *extra, const struct option *longopts)
{
	/* ':' first: a missing value is told apart from an unknown option */
	char optstring[128];
	snprintf(optstring, sizeof optstring, ":%s%s", STD_SHORT_OPTS, extra ? extra : "");
	opterr = 0;
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
