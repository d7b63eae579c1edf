/* cfg-resolve — load layered YAML config, expand templates, apply a schema,
 * validate, and print the config document. */
#include "cfg-resolve.h"
#include "shipshape/files.h"
#include "shipshape/redact.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_STRICT = OPT_TOOL_BASE, OPT_CHECK, OPT_GET, OPT_EXPLAIN, OPT_REVEAL, OPT_RENDER, OPT_LIST_VARS };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cfg-resolve [-c FILE]... [-e ENVFILE]... [-s SCHEMA] [--strict]\n"
		"                   [--check [--render BLUEPRINT] | --get PATH | --explain | --list-vars]\n"
		"                   [--format json|text|env|nagios] [-o FILE] [--reveal] [-q] [-v] FILE...\n"
		"       cfg-resolve -h | -V\n"
		"\n"
		"Loads the YAML FILEs (later ones merge over earlier ones), expands ${VAR}\n"
		"templates with Docker Compose's rules, applies the schema and prints the\n"
		"resolved config document as JSON.\n"
		"\n"
		"  -c, --config FILE     one more config FILE (same as an operand)\n"
		"  -e, --env-file FILE   read variables from a .env file (repeatable;\n"
		"                        the real environment wins)\n"
		"  -s, --schema FILE     check and coerce against a schema\n"
		"      --strict          unset variables and unknown keys are errors\n"
		"      --check           check the production policy; print a report\n"
		"      --render FILE     with --check: check a Render Blueprint (render.yaml)\n"
		"                        against the config\n"
		"      --list-vars       list the variables the templates refer to\n"
		"      --get PATH        print one value (database.url, a.list[0])\n"
		"      --explain         print every value with where it came from\n"
		"      --format FMT      json (default when piped), text (default on a terminal),\n"
		"                        env (the whole document or --list-vars), nagios (--check)\n"
		"  -o, --output FILE     write atomically to FILE (a regular file), mode 0600\n"
		"      --reveal          show secrets on a terminal and in text output\n"
		"  -q, --quiet           no warnings\n"
		"  -v, --verbose         more detail on stderr (files, variables, schema)\n"
		"  -h, --help            this help\n"
		"  -V, --version         the version\n"
		"\n"
		"Exit: 0 ok, 1 policy warning, 2 policy critical, 3 output not written,\n"
		"64 usage, 65 invalid input.\n");
}

static void set_action(struct args *a, enum action act)
{
	if (a->action != ACTION_PRINT && a->action != act)
		die(EXIT_USAGE, "--check, --get, --explain and --list-vars exclude each other");
	a->action = act;
}

static void parse_args(int argc, char **argv, struct args *a, const char ***files, const char ***envs)
{
	static const struct option longopts[] = {
		STD_LONG_OPTS,
		{"env-file", required_argument, NULL, 'e'},
		{"schema", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"check", no_argument, NULL, OPT_CHECK},
		{"get", required_argument, NULL, OPT_GET},
		{"explain", no_argument, NULL, OPT_EXPLAIN},
		{"reveal", no_argument, NULL, OPT_REVEAL},
		{"render", required_argument, NULL, OPT_RENDER},
		{"list-vars", no_argument, NULL, OPT_LIST_VARS},
		{NULL, 0, NULL, 0},
	};
	size_t nfiles = 0, nenvs = 0;
	*files = ecalloc((size_t)argc + 1, sizeof **files);
	*envs = ecalloc((size_t)argc + 1, sizeof **envs);
	int c;
	a->std.usage = usage;
	a->std.formats = "json,text,env,nagios";
	/* "c:" here too: each -c is one more file, not the last one only */
	while ((c = std_getopt(&a->std, argc, argv, "c:e:s:o:", longopts)) != -1) {
		switch (c) {
		case OPT_EXIT: exit(a->std.exit_status);
		case 'c': (*files)[nfiles++] = optarg; break;
		case 'e': (*envs)[nenvs++] = optarg; break;
		case 's': a->load.schema_path = optarg; break;
		case 'o': a->output = optarg; break;
		case OPT_STRICT: a->load.strict = true; break;
		case OPT_CHECK: set_action(a, ACTION_CHECK); break;
		case OPT_GET: set_action(a, ACTION_GET); a->get_path = optarg; break;
		case OPT_EXPLAIN: set_action(a, ACTION_EXPLAIN); break;
		case OPT_REVEAL: a->reveal = true; break;
		case OPT_RENDER: a->render_path = optarg; break;
		case OPT_LIST_VARS: set_action(a, ACTION_LIST_VARS); break;
		}
	}
	for (int i = optind; i < argc; i++)
		(*files)[nfiles++] = argv[i];
	if (nfiles == 0)
		die(EXIT_USAGE, "no config file given (see cfg-resolve --help)");
	if (a->std.format == FORMAT_NAGIOS && a->action != ACTION_CHECK)
		die(EXIT_USAGE, "--format nagios goes with --check");
	if (a->std.format == FORMAT_ENV && a->action != ACTION_PRINT && a->action != ACTION_LIST_VARS)
		die(EXIT_USAGE, "--format env goes with the whole document or --list-vars, not --check, --get or --explain");
	if (a->render_path && a->action != ACTION_CHECK)
		die(EXIT_USAGE, "--render goes with --check");
	a->load.files = *files;
	a->load.nfiles = nfiles;
	a->load.env_files = *envs;
	a->load.n_env_files = nenvs;
}

/* -o replaces FILE by a rename: onto a device, a directory or a FIFO that
 * would replace the node itself (as root, /dev/null or /dev/stdout), so
 * anything but a regular file (or nothing yet) is refused before any work. */
static void check_output_path(const char *path)
{
	struct stat st;
	if (!path)
		return;
	if (!*path)
		die(EXIT_USAGE, "-o: empty file name");
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		die(EXIT_USAGE, "-o %s: not a regular file (-o replaces a file atomically; "
				"use > to write to a device or a pipe)", path);
}

/* Renders the document, one value, the explanation, the variables or the
 * policy report, then writes it: to -o FILE atomically (0600), else stdout.
 * Nothing is written unless all of it was rendered. */
static int emit(const struct cfg_node *root, const struct check_inputs *in, const struct args *a)
{
	bool to_terminal = !a->output && isatty(STDOUT_FILENO);
	enum output_format fmt = a->std.format;
	if (fmt == FORMAT_AUTO)
		fmt = to_terminal ? FORMAT_TEXT : FORMAT_JSON;
	/* Secrets in clear only into a pipe or a file, or when asked; text and
	 * the explanation are for people and stay redacted unless asked. */
	bool redact = !a->reveal && (to_terminal || fmt == FORMAT_TEXT || a->action == ACTION_EXPLAIN);
	struct buf out = {0};
	int status = EXIT_OK;
	if (a->action == ACTION_CHECK)
		status = policy_check(root, in, fmt, &out);
	else if (a->action == ACTION_LIST_VARS)
		vars_render(in->vars, a, fmt, &out);
	else
		status = render(root, a, fmt, redact, &out);
	if (a->action == ACTION_CHECK || status == EXIT_OK) {
		if (a->output) {
			/* no die() here: main still frees what it holds */
			if (atomic_write_file(a->output, out.data ? out.data : "", out.len, 0600) < 0) {
				error_msg("unable to write %s: %s", a->output, strerror(errno));
				status = EXIT_UNKNOWN;
			}
		} else if (out.len) {
			fwrite(out.data, 1, out.len, stdout);
		}
	}
	buf_free(&out);
	return status;
}

/* The exit status of input that did not load: one bad input is one line,
 * the diagnostic itself says it all; several (a schema run) get a count. */
static int load_failed(const struct diag *d)
{
	char msg[sizeof d->last + 64];
	snprintf(msg, sizeof msg, "%u errors: no config resolved", d->errors);
	if (d->errors > 1)
		error_msg("%s", msg);
	return error_status(EXIT_DATAERR, d->errors > 1 || !d->last[0] ? msg : d->last);
}

/* What --check and --list-vars read besides the config: the variables of
 * the templates, the Blueprint. Returns 0 or the exit status. */
static int load_inputs(const struct args *a, struct check_inputs *in, struct var_list *vars,
		       struct cfg_node **blueprint)
{
	struct diag d = {0};
	/* --check has loaded the config: its problems are said already */
	struct diag quiet = {.silent = true};
	in->vars = vars;
	in->env_files = a->load.env_files;
	in->n_env_files = a->load.n_env_files;
	if (vars_collect(&a->load, vars, a->action == ACTION_LIST_VARS ? &d : &quiet) != 0)
		return load_failed(a->action == ACTION_LIST_VARS ? &d : &quiet);
	if (a->render_path) {
		*blueprint = yaml_load_file(a->render_path, &d);
		if (!*blueprint)
			return load_failed(&d);
		in->blueprint = *blueprint;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	const char **files, **envs;
	tool_start(argv[0]);
	parse_args(argc, argv, &a, &files, &envs);
	check_output_path(a.output);

	struct diag d = {0};
	struct cfg_node *root = NULL, *blueprint = NULL;
	struct var_list vars = {0};
	struct check_inputs in = {0};
	int status = EXIT_OK;
	/* the variables are listed without any being set: no config resolved */
	if (a.action != ACTION_LIST_VARS && !(root = config_load(&a.load, &d)))
		status = load_failed(&d);
	/* config_load() registered every secret: no message can print one */
	if (status == EXIT_OK && (a.action == ACTION_CHECK || a.action == ACTION_LIST_VARS))
		status = load_inputs(&a, &in, &vars, &blueprint);
	if (status == EXIT_OK)
		status = emit(root, &in, &a);
	cfg_node_free(root);
	cfg_node_free(blueprint);
	vars_free(&vars);
	free(files);
	free(envs);
	return status == EXIT_OK || a.action == ACTION_CHECK ? finish_stdout(status) : status;
}
