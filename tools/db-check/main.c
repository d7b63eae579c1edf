/* db-check — is this PostgreSQL database ready for this release? Connects
 * read-only, checks readiness, schema, row-level security, pool headroom,
 * migrations and custom queries, and prints a report. */
#include "db-check.h"
#include "shipshape/config.h"
#include "shipshape/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_URL_ENV = OPT_TOOL_BASE, OPT_NO_CONFIG, OPT_ONLY, OPT_SKIP, OPT_SCHEMA, OPT_STRICT };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: db-check [-c FILE | --no-config] [--schema FILE] [--strict] [--url-env NAME]\n"
		"                [--only CHECKS] [--skip CHECKS] [-t DURATION] [--format json|text|nagios]\n"
		"                [-q] [-v]\n"
		"       db-check -h | -V\n"
		"\n"
		"Checks that a PostgreSQL database is ready for a release, in one read-only\n"
		"transaction, and prints a report. The config document comes from -c FILE\n"
		"(YAML or JSON) or stdin; the connection from database.url, --url-env, or\n"
		"libpq's PG* variables and ~/.pgpass. Never give a password on the command line.\n"
		"\n"
		"  -c, --config FILE     the config (YAML, or a JSON config document)\n"
		"      --no-config       no config document: default checks only\n"
		"      --schema FILE     the config schema (default: config/schema.yaml beside db-check)\n"
		"      --strict          unknown config keys are errors, not warnings\n"
		"      --url-env NAME    the connection URL is in environment variable NAME\n"
		"                        (without -c: no config document is read)\n"
		"      --only CHECKS     run only these checks (comma-separated)\n"
		"      --skip CHECKS     leave these checks out\n"
		"  -t, --timeout DUR     bound the whole run (default 10s)\n"
		"      --format FMT      json (default when piped), text, nagios\n"
		"  -q, --quiet           no warnings\n"
		"  -v, --verbose         more detail on stderr\n"
		"  -h, --help            this help\n"
		"  -V, --version         the version\n"
		"\n"
		"Checks: connect version role ssl schema tables rls extensions pool\n"
		"        migrations latency activity queries\n"
		"Exit: 0 ok, 1 warning, 2 critical, 3 unknown, 64 usage, 65 invalid config.\n");
}

struct args {
	struct std_opts std;
	const char *url_env, *schema;
	bool no_config, strict;
	unsigned only, skip;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		STD_LONG_OPTS,
		STD_TIMEOUT_OPT,
		{"url-env", required_argument, NULL, OPT_URL_ENV},
		{"no-config", no_argument, NULL, OPT_NO_CONFIG},
		{"only", required_argument, NULL, OPT_ONLY},
		{"skip", required_argument, NULL, OPT_SKIP},
		{"schema", required_argument, NULL, OPT_SCHEMA},
		{"strict", no_argument, NULL, OPT_STRICT},
		{NULL, 0, NULL, 0},
	};
	int c;
	a->std.usage = usage;
	a->std.formats = "json,text,nagios";
	while ((c = std_getopt(&a->std, argc, argv, "t:", longopts)) != -1) {
		switch (c) {
		case OPT_EXIT: exit(a->std.exit_status);
		case OPT_URL_ENV:
			if (!*optarg)
				die(EXIT_USAGE, "--url-env needs the name of an environment variable");
			a->url_env = optarg;
			break;
		case OPT_NO_CONFIG: a->no_config = true; break;
		case OPT_ONLY: a->only |= check_list_parse(optarg, "--only"); break;
		case OPT_SKIP: a->skip |= check_list_parse(optarg, "--skip"); break;
		case OPT_SCHEMA: a->schema = optarg; break;
		case OPT_STRICT: a->strict = true; break;
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument \"%s\" (a password or URL never goes on the command line: "
		    "use --url-env NAME, PG* variables or ~/.pgpass)", argv[optind]);
	if (a->no_config && a->std.config_path)
		die(EXIT_USAGE, "-c and --no-config exclude each other");
}

int main(int argc, char **argv)
{
	struct args a = {0};
	struct settings s = {0};
	tool_start(argv[0]);
	parse_args(argc, argv, &a);

	s.timeout_ms = a.std.timeout_ms ? a.std.timeout_ms : DEFAULT_TIMEOUT_MS;
	s.selected = (a.only ? a.only : ~0u) & ~a.skip;
	s.named = a.only & ~a.skip;
	/* an operator at a terminal, or --url-env alone: an ad hoc run */
	bool adhoc = a.no_config || (!a.std.config_path && (a.url_env || isatty(STDIN_FILENO)));
	static const char *const sections[] = {"database", NULL};
	struct config_request req = {.path = a.std.config_path, .schema_path = a.schema,
				     .sections = sections, .strict = a.strict};
	struct config cfg = {0};
	int status = adhoc ? 0 : config_open(&req, &cfg);
	if (status == 0)
		settings_load(&s, adhoc ? NULL : &cfg, a.url_env);
	if (status == 0 && config_failed(&cfg))
		status = EXIT_DATAERR;
	config_close(&cfg);
	if (status != 0) {
		settings_free(&s);
		return finish_stdout(config_exit_status(&cfg, status));
	}

	struct report *r = report_new("db-check");
	s.deadline_ms = now_monotonic_ms() + s.timeout_ms;
	run_checks(&s, r);
	status = (int)report_status(r);
	if (report_print(r, a.std.format, stdout) < 0)
		status = EXIT_UNKNOWN;
	report_free(r);
	settings_free(&s);
	return finish_stdout(status);
}
