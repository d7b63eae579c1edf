/* opts.c — the options every tool shares, and option values (durations,
 * counts, sizes) parsed once for every tool's parser. Nothing here exits:
 * each returns the status for main() to exit with. */
#include "shipshape/opts.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const format_names[] = {
	[FORMAT_AUTO] = "auto", [FORMAT_JSON] = "json", [FORMAT_TEXT] = "text",
	[FORMAT_NAGIOS] = "nagios", [FORMAT_ENV] = "env", [FORMAT_HTML] = "html",
};

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

int usage_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *clean = redact_vformat(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog, clean);
	int status = error_status(EXIT_USAGE, clean);
	free(clean);
	return status;
}

int opt_duration(const char *name, const char *arg, int64_t min_ms, int64_t *ms)
{
	int64_t v;
	if (duration_parse(arg, &v) < 0 || v < min_ms)
		return usage_fail("invalid %s \"%s\" (expected a duration such as 10s or 500ms)", name, arg);
	*ms = v;
	return 0;
}

int opt_count(const char *name, const char *arg, long min, long max, long *n)
{
	/* decimal digits only: strtol alone would skip spaces and take a sign */
	char *end;
	errno = 0;
	long v = arg[0] >= '0' && arg[0] <= '9' ? strtol(arg, &end, 10) : (end = (char *)arg, 0);
	if (end == arg || *end || errno || v < min || v > max) {
		if (max == LONG_MAX)
			return usage_fail("invalid %s \"%s\" (expected a whole number >= %ld)", name, arg, min);
		return usage_fail("invalid %s \"%s\" (expected a whole number from %ld to %ld)", name, arg, min, max);
	}
	*n = v;
	return 0;
}

int opt_size(const char *name, const char *arg, int64_t min, int64_t *bytes)
{
	int64_t v;
	if (size_parse(arg, &v) < 0 || v < min)
		return usage_fail("invalid %s \"%s\" (expected a size such as 64k or 1M, at least %lld)", name, arg,
				  (long long)min);
	*bytes = v;
	return 0;
}

/* One shared option c into o: 0 taken, else OPT_EXIT with o->exit_status. */
int std_opt_take(struct std_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'h':
		o->usage(stdout);
		o->exit_status = finish_stdout(EXIT_OK);
		return OPT_EXIT;
	case 'V':
		printf("%s %s\n", prog, SHIPSHAPE_VERSION);
		o->exit_status = finish_stdout(EXIT_OK);
		return OPT_EXIT;
	case 'c': o->config_path = arg; return 0;
	case 't':
		if ((o->exit_status = opt_duration("timeout", arg, 1, &o->timeout_ms)))
			return OPT_EXIT;
		return 0;
	case OPT_FORMAT:
		for (size_t i = FORMAT_JSON; i < ARRAY_LEN(format_names); i++) {
			if (strcmp(arg, format_names[i]) == 0 && format_allowed(o->formats, arg)) {
				o->format = (enum output_format)i;
				return 0;
			}
		}
		o->exit_status = usage_fail("invalid --format \"%s\" (expected one of: %s)", arg, o->formats);
		return OPT_EXIT;
	case 'q':
		o->quiet = 1;
		log_level = -1;
		return 0;
	case 'v':
		o->verbose++;
		if (log_level >= 0)
			log_level = o->verbose;
		return 0;
	case OPT_STATE_DIR: o->state_dir = arg; return 0;
	case OPT_STATE_URL_ENV:
		o->state_url = getenv(arg);
		if (!o->state_url || !*o->state_url) {
			o->exit_status = usage_fail("--state-url-env %s: the environment variable %s is not set", arg, arg);
			return OPT_EXIT;
		}
		redact_register_url_passwords(o->state_url);
		return 0;
	default: return 1; /* not a shared option */
	}
}
