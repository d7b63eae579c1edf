/* driver.c — the deploy drivers' dispatch, and the command and symlink
 * drivers (render lives in driver_render.c). */
#include "shipshape/driver.h"
#include "shipshape/common.h"
#include "shipshape/files.h"
#include "shipshape/journal.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/subproc.h"
#include "shipshape/units.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS (15 * 60 * 1000)

const char *driver_name(const cJSON *config)
{
	return json_path_string(config, "deploy.driver", NULL);
}

static int64_t ctx_timeout(const struct driver_ctx *ctx)
{
	if (ctx->timeout_ms > 0)
		return ctx->timeout_ms;
	int64_t t = json_path_duration_ms(ctx->config, "deploy.timeout", DEFAULT_TIMEOUT_MS);
	return t > 0 ? t : DEFAULT_TIMEOUT_MS;
}

static void outcome_set(struct driver_outcome *out, enum status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void outcome_set(struct driver_outcome *out, enum status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *raw = evasprintf(fmt, ap);
	va_end(ap);
	free(out->message);
	out->message = redact_string(raw);
	free(raw);
	out->status = st;
}

void driver_outcome_free(struct driver_outcome *out)
{
	free(out->message);
	cJSON_Delete(out->data);
	memset(out, 0, sizeof *out);
}

/* A JSON array of strings as a NULL-terminated argv (strings borrowed), or
 * NULL when absent, empty or not all strings. */
static char **argv_from(const cJSON *a)
{
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return NULL;
	size_t n = (size_t)cJSON_GetArraySize(a), i = 0;
	char **argv = ecalloc(n + 1, sizeof *argv);
	const cJSON *e;
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsString(e) || !*e->valuestring) {
			free(argv);
			return NULL;
		}
		argv[i++] = e->valuestring;
	}
	return argv;
}

char *driver_config_problem(const cJSON *config)
{
	const char *name = driver_name(config);
	if (!name)
		return estrdup("deploy.driver is not set (command, symlink or render)");
	if (strcmp(name, "command") == 0) {
		char **argv = argv_from(json_path(config, "deploy.command.deploy"));
		if (!argv)
			return estrdup("deploy.command.deploy must be a non-empty list of strings (an argv)");
		free(argv);
		const cJSON *rb = json_path(config, "deploy.command.rollback");
		if (rb && !(argv = argv_from(rb)))
			return estrdup("deploy.command.rollback must be a non-empty list of strings (an argv)");
		free(rb ? argv : NULL);
		return NULL;
	}
	if (strcmp(name, "symlink") == 0) {
		const char *dir = json_path_string(config, "deploy.symlink.releases_dir", NULL);
		if (!dir || !*dir)
			return estrdup("deploy.symlink.releases_dir is not set");
		const cJSON *restart = json_path(config, "deploy.symlink.restart");
		char **argv = NULL;
		if (restart && !(argv = argv_from(restart)))
			return estrdup("deploy.symlink.restart must be a non-empty list of strings (an argv)");
		free(argv);
		const cJSON *keep = json_path(config, "deploy.symlink.keep_releases");
		if (keep && (!cJSON_IsNumber(keep) || keep->valuedouble < 0))
			return estrdup("deploy.symlink.keep_releases must be a number >= 0");
		return NULL;
	}
	if (strcmp(name, "render") == 0) {
		const char *hook = json_path_string(config, "deploy.render.deploy_hook_url", NULL);
		const char *id = json_path_string(config, "deploy.render.service_id", NULL);
		const char *key = json_path_string(config, "deploy.render.api_key", NULL);
		if ((!id || !*id || !key || !*key) && !(hook && *hook))
			return estrdup("deploy.render needs service_id and api_key (or deploy_hook_url)");
		return NULL;
	}
	return easprintf("deploy.driver \"%s\" is not one of command, symlink, render", name);
}

/* ---- command ---- */

static char **driver_env(const struct driver_ctx *ctx, const char *action, const char *release_dir)
{
	char **env = ecalloc(8, sizeof *env);
	size_t n = 0;
	env[n++] = easprintf("SHIPSHAPE_RELEASE=%s", ctx->release);
	env[n++] = easprintf("SHIPSHAPE_PREVIOUS_RELEASE=%s", ctx->previous ? ctx->previous : "");
	env[n++] = easprintf("SHIPSHAPE_ACTION=%s", action);
	env[n++] = easprintf("SHIPSHAPE_SERVICE=%s", ctx->service ? ctx->service : "");
	env[n++] = easprintf("SHIPSHAPE_COMMIT=%s", ctx->commit ? ctx->commit : "");
	env[n++] = easprintf("SHIPSHAPE_IMAGE=%s", ctx->image ? ctx->image : "");
	if (release_dir)
		env[n++] = easprintf("SHIPSHAPE_RELEASE_DIR=%s", release_dir);
	return env;
}

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* The last non-empty line of output, at most 200 bytes (a new string). */
static char *last_line(const char *output)
{
	size_t len = strlen(output);
	while (len && (output[len - 1] == '\n' || output[len - 1] == '\r'))
		len--;
	size_t start = len;
	while (start && output[start - 1] != '\n')
		start--;
	return estrndup(output + start, len - start > 200 ? 200 : len - start);
}

/* Runs argv; records exit, duration and bounded redacted output in *data.
 * Returns 0 when it exited 0. */
static int run_recorded(char **argv, char **env, int64_t timeout_ms, cJSON *data, char **why)
{
	struct subproc_opts o = {.argv = argv, .env_add = env, .timeout_ms = timeout_ms,
				 .max_output = DRIVER_OUTPUT_MAX};
	struct subproc_result res = {0};
	if (subproc_run(&o, &res) < 0) {
		*why = easprintf("unable to run %s: %s", argv[0], strerror(errno));
		return -1;
	}
	subproc_result_to_json(&res, data);
	int rc = 0;
	char t[32];
	if (res.timed_out) {
		*why = easprintf("%s timed out after %s", argv[0], duration_format(timeout_ms, t, sizeof t));
		rc = -1;
	} else if (res.term_signal) {
		*why = easprintf("%s was killed by signal %d", argv[0], res.term_signal);
		rc = -1;
	} else if (res.exit_code != 0) {
		/* the output's last line usually says why */
		char *line = last_line(res.output ? res.output : "");
		*why = *line ? easprintf("%s exited with status %d: %s", argv[0], res.exit_code, line)
			     : easprintf("%s exited with status %d", argv[0], res.exit_code);
		free(line);
		rc = -1;
	}
	subproc_result_free(&res);
	return rc;
}

static int command_run(const struct driver_ctx *ctx, struct driver_outcome *out, bool rollback)
{
	const cJSON *spec = NULL;
	if (rollback)
		spec = json_path(ctx->config, "deploy.command.rollback");
	if (!spec)
		spec = json_path(ctx->config, "deploy.command.deploy");
	char **argv = argv_from(spec);
	if (!argv) {
		outcome_set(out, STATUS_CRITICAL, "deploy.command.deploy must be a non-empty list of strings");
		return -1;
	}
	char **env = driver_env(ctx, rollback ? "rollback" : "deploy", NULL);
	char *why = NULL;
	int rc = run_recorded(argv, env, ctx_timeout(ctx), out->data, &why);
	if (rc == 0)
		outcome_set(out, STATUS_OK, "%s %s: %s exited 0", rollback ? "rolled back to" : "deployed",
			    ctx->release, argv[0]);
	else
		outcome_set(out, STATUS_CRITICAL, "%s", why);
	free(why);
	env_free(env);
	free(argv);
	return rc;
}

/* ---- symlink ---- */

struct symlink_paths {
	char *releases_dir; /* absolute */
	char *current;      /* the link */
	char *target;       /* releases_dir/release */
};

static void symlink_paths_free(struct symlink_paths *p)
{
	free(p->releases_dir);
	free(p->current);
	free(p->target);
}

static int symlink_paths(const struct driver_ctx *ctx, struct symlink_paths *p, char **why)
{
	memset(p, 0, sizeof *p);
	const char *dir = json_path_string(ctx->config, "deploy.symlink.releases_dir", NULL);
	if (!dir || !*dir) {
		*why = estrdup("deploy.symlink.releases_dir is not set");
		return -1;
	}
	char resolved[PATH_MAX];
	if (!realpath(dir, resolved)) {
		*why = easprintf("releases directory %s: %s", dir, strerror(errno));
		return -1;
	}
	p->releases_dir = estrdup(resolved);
	const char *cur = json_path_string(ctx->config, "deploy.symlink.current", NULL);
	if (cur && *cur) {
		p->current = estrdup(cur);
	} else {
		char *slash = strrchr(resolved, '/');
		if (slash == resolved)
			p->current = estrdup("/current");
		else {
			*slash = '\0';
			p->current = easprintf("%s/current", resolved);
		}
	}
	p->target = easprintf("%s/%s", p->releases_dir, ctx->release);
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return estrdup(".");
	if (slash == path)
		return estrdup("/");
	return estrndup(path, (size_t)(slash - path));
}

/* Points link at target atomically: a reader sees the old link or the new
 * one, never none (symlink to a temporary name, then rename over). */
static int switch_link(const char *link, const char *target)
{
	char *tmp = easprintf("%s.tmp.%ld", link, (long)getpid());
	unlink(tmp);
	int rc = -1;
	if (symlink(target, tmp) < 0)
		goto out;
	if (rename(tmp, link) < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		goto out;
	}
	char *dir = dir_of(link);
	rc = fsync_dir(dir);
	free(dir);
out:
	free(tmp);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

struct release_entry {
	char *name;
	time_t mtime;
};

static int compare_newest(const void *a, const void *b)
{
	const struct release_entry *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? 1 : -1;
	return strcmp(y->name, x->name);
}

/* Removes release directories beyond the keep newest (by mtime), never the
 * current one nor keep_release. Returns the removed names. */
static cJSON *prune_releases(const char *releases_dir, long keep, const char *current,
			     const char *keep_release)
{
	cJSON *removed = cJSON_CreateArray();
	DIR *d = opendir(releases_dir);
	if (!d)
		return removed;
	struct release_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *path = easprintf("%s/%s", releases_dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (n == cap)
				v = erealloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
			v[n].name = estrdup(e->d_name);
			v[n++].mtime = st.st_mtime;
		}
		free(path);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, compare_newest);
	for (size_t i = 0; i < n; i++) {
		bool protect = (long)i < keep || strcmp(v[i].name, current) == 0 ||
			       (keep_release && strcmp(v[i].name, keep_release) == 0);
		if (!protect) {
			char *path = easprintf("%s/%s", releases_dir, v[i].name);
			if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
				cJSON_AddItemToArray(removed, cJSON_CreateString(v[i].name));
			else
				warnx_("unable to remove old release %s: %s", path, strerror(errno));
			free(path);
		}
		free(v[i].name);
	}
	free(v);
	return removed;
}

static int symlink_run(const struct driver_ctx *ctx, struct driver_outcome *out, bool rollback)
{
	struct symlink_paths p;
	char *why = NULL;
	int rc = -1;
	if (symlink_paths(ctx, &p, &why) < 0) {
		outcome_set(out, STATUS_CRITICAL, "%s", why);
		free(why);
		return -1;
	}
	struct stat st;
	if (stat(p.target, &st) < 0 || !S_ISDIR(st.st_mode)) {
		outcome_set(out, STATUS_CRITICAL, "release directory %s does not exist", p.target);
		goto out;
	}
	cJSON_AddStringToObject(out->data, "current", p.current);
	cJSON_AddStringToObject(out->data, "target", p.target);
	if (switch_link(p.current, p.target) < 0) {
		outcome_set(out, STATUS_CRITICAL, "unable to switch %s to %s: %s", p.current, p.target,
			    strerror(errno));
		goto out;
	}
	char **restart = argv_from(json_path(ctx->config, "deploy.symlink.restart"));
	if (restart) {
		cJSON *r = cJSON_AddObjectToObject(out->data, "restart");
		char **env = driver_env(ctx, rollback ? "rollback" : "deploy", p.target);
		int rrc = run_recorded(restart, env, ctx_timeout(ctx), r, &why);
		env_free(env);
		free(restart);
		if (rrc < 0) {
			outcome_set(out, STATUS_CRITICAL, "switched %s to %s, then the restart failed: %s",
				    p.current, ctx->release, why);
			free(why);
			goto out;
		}
	}
	long keep = (long)json_path_number(ctx->config, "deploy.symlink.keep_releases", 0);
	if (keep > 0)
		cJSON_AddItemToObject(out->data, "pruned",
				      prune_releases(p.releases_dir, keep, ctx->release, ctx->keep_release));
	outcome_set(out, STATUS_OK, "%s now points at %s%s", p.current, ctx->release,
		    restart ? " (restarted)" : "");
	rc = 0;
out:
	symlink_paths_free(&p);
	return rc;
}

/* ---- dispatch ---- */

static int dispatch(const struct driver_ctx *ctx, struct driver_outcome *out, bool rollback)
{
	memset(out, 0, sizeof *out);
	out->data = cJSON_CreateObject();
	const char *name = driver_name(ctx->config);
	cJSON_AddStringToObject(out->data, "driver", name ? name : "none");
	char *problem = driver_config_problem(ctx->config);
	if (problem) {
		outcome_set(out, STATUS_CRITICAL, "%s", problem);
		free(problem);
		return -1;
	}
	if (!journal_release_name_valid(ctx->release)) {
		outcome_set(out, STATUS_CRITICAL, "invalid release name \"%s\"", ctx->release ? ctx->release : "");
		return -1;
	}
	if (strcmp(name, "command") == 0)
		return command_run(ctx, out, rollback);
	if (strcmp(name, "symlink") == 0)
		return symlink_run(ctx, out, rollback);
	return driver_render_deploy(ctx, out, rollback);
}

int driver_deploy(const struct driver_ctx *ctx, struct driver_outcome *out)
{
	return dispatch(ctx, out, false);
}

int driver_rollback(const struct driver_ctx *ctx, struct driver_outcome *out)
{
	return dispatch(ctx, out, true);
}

/* Appends s as a shell word, for showing an argv to a person: quoted when
 * it holds anything but plain characters, so the words stay visible. */
static void buf_put_word(struct buf *b, const char *s)
{
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-") == strlen(s)) {
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_puts(b, "'\\''");
		else
			buf_putc(b, *s);
	}
	buf_putc(b, '\'');
}

char *driver_describe(const struct driver_ctx *ctx, bool rollback)
{
	const char *name = driver_name(ctx->config);
	const char *verb = rollback ? "roll back to" : "deploy";
	if (!name)
		return easprintf("%s %s: no driver configured", verb, ctx->release);
	if (strcmp(name, "command") == 0) {
		const cJSON *spec = rollback ? json_path(ctx->config, "deploy.command.rollback") : NULL;
		if (!spec)
			spec = json_path(ctx->config, "deploy.command.deploy");
		char **argv = argv_from(spec);
		struct buf b = {0};
		for (size_t i = 0; argv && argv[i]; i++) {
			if (i)
				buf_putc(&b, ' ');
			buf_put_word(&b, argv[i]);
		}
		char *cmd = redact_string(b.data ? b.data : "(none)");
		char *s = easprintf("%s %s: run %s with SHIPSHAPE_RELEASE=%s", verb, ctx->release, cmd,
				    ctx->release);
		free(cmd);
		buf_free(&b);
		free(argv);
		return s;
	}
	if (strcmp(name, "symlink") == 0)
		return easprintf("%s %s: point the current link at %s/%s", verb, ctx->release,
				 json_path_string(ctx->config, "deploy.symlink.releases_dir", "?"), ctx->release);
	if (strcmp(name, "render") == 0) {
		const char *id = json_path_string(ctx->config, "deploy.render.service_id", "?");
		if (rollback)
			return easprintf("%s %s: POST /v1/services/%s/rollback with deployId %s", verb,
					 ctx->release, id,
					 json_path_string(ctx->target_apply, "data.render_deploy_id", "(unknown)"));
		const char *hook = json_path_string(ctx->config, "deploy.render.deploy_hook_url", NULL);
		bool api = json_path_string(ctx->config, "deploy.render.api_key", NULL) && strcmp(id, "?") != 0;
		if (hook && *hook && !ctx->commit && !ctx->image) {
			/* the hook URL carries its key: only its host is shown */
			char *host = url_host(hook);
			char *s = easprintf("%s %s: POST the deploy hook at %s%s", verb, ctx->release, host ? host : "?",
					    api ? ", then poll until live" : " (not polled: no api_key and service_id)");
			free(host);
			return s;
		}
		if (ctx->commit || ctx->image)
			return easprintf("%s %s: POST /v1/services/%s/deploys with %s %s, then poll until live and "
					 "check it is that %s", verb, ctx->release, id, ctx->commit ? "commitId" : "imageUrl",
					 ctx->commit ? ctx->commit : ctx->image, ctx->commit ? "commit" : "image");
		return easprintf("%s %s: POST /v1/services/%s/deploys (the branch's head), then poll until live", verb,
				 ctx->release, id);
	}
	return easprintf("%s %s: unknown driver \"%s\"", verb, ctx->release, name);
}

void driver_check_rollback(const struct driver_ctx *ctx, struct report *r)
{
	const char *name = driver_name(ctx->config);
	char *problem = driver_config_problem(ctx->config);
	if (problem) {
		report_add_check(r, "rollback.driver", STATUS_CRITICAL, 0, NULL, "%s", problem);
		free(problem);
		return;
	}
	report_add_check(r, "rollback.driver", STATUS_OK, 0, NULL, "driver %s is configured", name);
	if (strcmp(name, "render") == 0) {
		driver_render_check(ctx, r);
		return;
	}
	report_add_check(r, "rollback.credentials", STATUS_OK, 0, NULL, "the %s driver needs none", name);
	if (!ctx->release) {
		report_add_check(r, "rollback.artifact", STATUS_CRITICAL, 0, NULL, "no release to roll back to");
		return;
	}
	if (strcmp(name, "command") == 0) {
		const cJSON *spec = json_path(ctx->config, "deploy.command.rollback");
		if (!spec)
			spec = json_path(ctx->config, "deploy.command.deploy");
		char **argv = argv_from(spec);
		bool found = false;
		if (argv && strchr(argv[0], '/'))
			found = access(argv[0], X_OK) == 0;
		else if (argv) {
			const char *path = getenv("PATH");
			char *copy = estrdup(path ? path : "/usr/bin:/bin"), *save = NULL;
			for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
				char *full = easprintf("%s/%s", *d ? d : ".", argv[0]);
				found = access(full, X_OK) == 0;
				free(full);
			}
			free(copy);
		}
		if (found)
			report_add_check(r, "rollback.artifact", STATUS_OK, 0, NULL, "%s is executable", argv[0]);
		else
			report_add_check(r, "rollback.artifact", STATUS_CRITICAL, 0, NULL,
					 "rollback command %s not found", argv ? argv[0] : "(none)");
		free(argv);
		return;
	}
	char *msg = NULL;
	enum status st = driver_check_target(ctx, &msg);
	report_add_check(r, "rollback.artifact", st, 0, NULL, "%s", msg);
	free(msg);
}

enum status driver_check_target(const struct driver_ctx *ctx, char **message)
{
	char *problem = driver_config_problem(ctx->config);
	if (problem) {
		*message = problem;
		return STATUS_CRITICAL;
	}
	if (!ctx->release || !journal_release_name_valid(ctx->release)) {
		*message = estrdup("no valid release to roll back to");
		return STATUS_CRITICAL;
	}
	const char *name = driver_name(ctx->config);
	if (strcmp(name, "render") == 0)
		return driver_render_target(ctx, message);
	if (strcmp(name, "command") == 0) {
		*message = easprintf("not checked: the command driver cannot see whether release %s exists",
				     ctx->release);
		return STATUS_UNKNOWN;
	}
	struct symlink_paths p;
	char *why = NULL;
	if (symlink_paths(ctx, &p, &why) < 0) {
		*message = why;
		return STATUS_CRITICAL;
	}
	struct stat st;
	enum status rc;
	if (stat(p.target, &st) == 0 && S_ISDIR(st.st_mode)) {
		*message = easprintf("release directory %s exists", p.target);
		rc = STATUS_OK;
	} else {
		*message = easprintf("release directory %s does not exist", p.target);
		rc = STATUS_CRITICAL;
	}
	symlink_paths_free(&p);
	return rc;
}

/* command: the last line deploy.command.status prints is the live release. */
static enum status command_live(const cJSON *config, char **live, char **message)
{
	char **argv = argv_from(json_path(config, "deploy.command.status"));
	if (!argv) {
		*message = estrdup("not checked against the live target: the command driver has no "
				   "deploy.command.status to ask");
		return STATUS_UNKNOWN;
	}
	struct driver_ctx ctx = {.config = config, .service = json_path_string(config, "service.name", ""),
				 .release = ""};
	char **env = driver_env(&ctx, "status", NULL);
	cJSON *data = cJSON_CreateObject();
	char *why = NULL;
	enum status st = STATUS_UNKNOWN;
	if (run_recorded(argv, env, DRIVER_STATUS_TIMEOUT_MS, data, &why) < 0) {
		*message = easprintf("not checked against the live target: deploy.command.status: %s", why);
	} else {
		char *line = last_line(json_path_string(data, "output", ""));
		if (journal_release_name_valid(line)) {
			*live = estrdup(line);
			*message = easprintf("%s says %s is live", argv[0], line);
			st = STATUS_OK;
		} else {
			*message = easprintf("not checked against the live target: %s printed no release name as "
					     "its last line",
					     argv[0]);
		}
		free(line);
	}
	free(why);
	cJSON_Delete(data);
	env_free(env);
	free(argv);
	return st;
}

static enum status symlink_live(const cJSON *config, char **live, char **message);

enum status driver_live_release(const cJSON *config, const struct journal_view *view, char **live,
				char **message)
{
	*live = NULL;
	const char *name = driver_name(config);
	if (name && strcmp(name, "symlink") == 0)
		return symlink_live(config, live, message);
	if (name && strcmp(name, "command") == 0)
		return command_live(config, live, message);
	if (name && strcmp(name, "render") == 0)
		return driver_render_live(config, view, live, message);
	*message = estrdup("not checked against the live target: no deploy.driver");
	return STATUS_UNKNOWN;
}

/* symlink: the current link's target, a release under releases_dir. */
static enum status symlink_live(const cJSON *config, char **live, char **message)
{
	struct driver_ctx ctx = {.config = config, .release = "."};
	struct symlink_paths p;
	char *why = NULL;
	if (symlink_paths(&ctx, &p, &why) < 0) {
		*message = easprintf("not checked against the live target: %s", why);
		free(why);
		return STATUS_UNKNOWN;
	}
	char target[PATH_MAX];
	ssize_t n = readlink(p.current, target, sizeof target - 1);
	enum status st = STATUS_UNKNOWN;
	if (n < 0) {
		*message = easprintf("not checked against the live target: %s: %s", p.current, strerror(errno));
	} else {
		target[n] = '\0';
		size_t dl = strlen(p.releases_dir);
		const char *rel = strncmp(target, p.releases_dir, dl) == 0 && target[dl] == '/' ? target + dl + 1 : NULL;
		if (rel && journal_release_name_valid(rel)) {
			*live = estrdup(rel);
			st = STATUS_OK;
			*message = easprintf("%s points at %s", p.current, rel);
		} else {
			*live = estrdup(target);
			st = STATUS_OK;
			*message = easprintf("%s points at %s, not a release under %s", p.current, target,
					     p.releases_dir);
		}
	}
	symlink_paths_free(&p);
	return st;
}
