/* opts.c — the options every tool shares. */
#include "shipshape/opts.h"
#include "shipshape/common.h"
#include "shipshape/units.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const format_names[] = {
	[FORMAT_AUTO] = "auto", [FORMAT_JSON] = "json", [FORMAT_TEXT] = "text",
	[FORMAT_NAGIOS] = "nagios", [FORMAT_ENV] = "env",
};

const char *format_name(enum output_format f)
{
	return (size_t)f < ARRAY_LEN(format_names) ? format_names[f] : "?";
}

static bool format_allowed(const char *formats, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = formats; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

void usage_error(void (*usage)(FILE *))
{
	usage(stderr);
	char msg[160];
	snprintf(msg, sizeof msg, "usage error (see %s --help)", prog);
	exit(error_status(EXIT_USAGE, msg));
}

int std_opt(struct std_opts *o, int c, const char *arg, void (*usage)(FILE *), const char *formats)
{
	switch (c) {
	case 'h':
		usage(stdout);
		exit(finish_stdout(EXIT_OK));
	case 'V':
		printf("%s %s\n", prog, SHIPSHAPE_VERSION);
		exit(finish_stdout(EXIT_OK));
	case 'c':
		o->config_path = arg;
		return 1;
	case 't':
		if (duration_parse(arg, &o->timeout_ms) < 0 || o->timeout_ms <= 0)
			die(EXIT_USAGE, "invalid timeout \"%s\" (expected a duration such as 10s or 500ms)", arg);
		return 1;
	case OPT_FORMAT:
		for (size_t i = FORMAT_JSON; i < ARRAY_LEN(format_names); i++) {
			if (strcmp(arg, format_names[i]) == 0 && format_allowed(formats, arg)) {
				o->format = (enum output_format)i;
				return 1;
			}
		}
		die(EXIT_USAGE, "invalid --format \"%s\" (expected one of: %s)", arg, formats);
	case 'q':
		o->quiet = 1;
		log_level = -1;
		return 1;
	case 'v':
		o->verbose++;
		if (log_level >= 0)
			log_level = o->verbose;
		return 1;
	case OPT_STATE_DIR:
		o->state_dir = arg;
		return 1;
	case '?':
	case ':':
		usage_error(usage);
	default:
		return 0;
	}
}
