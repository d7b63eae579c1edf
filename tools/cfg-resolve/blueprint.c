/* blueprint.c — a Render Blueprint (render.yaml) checked against the config
 * (--check --render FILE): Render's documented keys, the service, its health
 * check path, its scaling, and that no secret the config uses is written in it. */
#include "cfg-resolve.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields of Render's Blueprint specification, by where they appear. */
enum shape {
	SHAPE_ROOT, SHAPE_SERVICE, SHAPE_ENV_VAR, SHAPE_SCALING, SHAPE_DISK, SHAPE_BUILD_FILTER,
	SHAPE_IMAGE, SHAPE_SERVICE_PREVIEWS, SHAPE_ROOT_PREVIEWS, SHAPE_GROUP, SHAPE_DATABASE,
	SHAPE_FROM_DATABASE, SHAPE_FROM_SERVICE, SHAPE_HEADER, SHAPE_ROUTE, SHAPE_IP_ALLOW,
	SHAPE_OPEN /* not looked into (projects, registry credentials) */
};

static const char *const shape_keys[] = {
	[SHAPE_ROOT] = "services databases envVarGroups previews projects ungrouped version",
	[SHAPE_SERVICE] = ("name type runtime env plan region repo branch rootDir buildCommand startCommand "
			  "preDeployCommand schedule autoDeploy autoDeployTrigger buildFilter healthCheckPath "
			  "domains dockerfilePath dockerContext dockerCommand registryCredential image "
			  "numInstances scaling disk envVars staticPublishPath headers routes "
			  "pullRequestPreviewsEnabled previews maxShutdownDelaySeconds ipAllowList maxmemoryPolicy"),
	[SHAPE_ENV_VAR] = "key value generateValue sync fromDatabase fromService fromGroup previewValue",
	[SHAPE_SCALING] = "minInstances maxInstances targetMemoryPercent targetCPUPercent",
	[SHAPE_DISK] = "name mountPath sizeGB",
	[SHAPE_BUILD_FILTER] = "paths ignoredPaths",
	[SHAPE_IMAGE] = "url creds",
	[SHAPE_SERVICE_PREVIEWS] = "generation plan numInstances",
	[SHAPE_ROOT_PREVIEWS] = "generation expireAfterDays",
	[SHAPE_GROUP] = "name envVars",
	[SHAPE_DATABASE] = ("name databaseName user plan region postgresMajorVersion diskSizeGB ipAllowList "
			   "readReplicas highAvailability previewPlan previewDiskSizeGB"),
	[SHAPE_FROM_DATABASE] = "name property",
	[SHAPE_FROM_SERVICE] = "type name property envVarKey",
	[SHAPE_HEADER] = "path name value",
	[SHAPE_ROUTE] = "type source destination",
	[SHAPE_IP_ALLOW] = "source description",
};

static const struct {
	enum shape parent;
	const char *key;
	enum shape child;
	bool list; /* a list of maps of that shape, else one map */
} nested[] = {
	{SHAPE_ROOT, "services", SHAPE_SERVICE, true},
	{SHAPE_ROOT, "databases", SHAPE_DATABASE, true},
	{SHAPE_ROOT, "envVarGroups", SHAPE_GROUP, true},
	{SHAPE_ROOT, "previews", SHAPE_ROOT_PREVIEWS, false},
	{SHAPE_ROOT, "projects", SHAPE_OPEN, true},
	{SHAPE_ROOT, "ungrouped", SHAPE_OPEN, false},
	{SHAPE_SERVICE, "envVars", SHAPE_ENV_VAR, true},
	{SHAPE_SERVICE, "scaling", SHAPE_SCALING, false},
	{SHAPE_SERVICE, "disk", SHAPE_DISK, false},
	{SHAPE_SERVICE, "buildFilter", SHAPE_BUILD_FILTER, false},
	{SHAPE_SERVICE, "image", SHAPE_IMAGE, false},
	{SHAPE_SERVICE, "previews", SHAPE_SERVICE_PREVIEWS, false},
	{SHAPE_SERVICE, "headers", SHAPE_HEADER, true},
	{SHAPE_SERVICE, "routes", SHAPE_ROUTE, true},
	{SHAPE_SERVICE, "ipAllowList", SHAPE_IP_ALLOW, true},
	{SHAPE_SERVICE, "registryCredential", SHAPE_OPEN, false},
	{SHAPE_DATABASE, "ipAllowList", SHAPE_IP_ALLOW, true},
	{SHAPE_DATABASE, "readReplicas", SHAPE_OPEN, true},
	{SHAPE_DATABASE, "highAvailability", SHAPE_OPEN, false},
	{SHAPE_GROUP, "envVars", SHAPE_ENV_VAR, true},
	{SHAPE_ENV_VAR, "fromDatabase", SHAPE_FROM_DATABASE, false},
	{SHAPE_ENV_VAR, "fromService", SHAPE_FROM_SERVICE, false},
};

/* One check's findings, each "FILE:LINE:COL: text". */
struct bp_check {
	struct buf msg;
	enum status status;
	unsigned findings;
};

static void bp_finding(struct bp_check *c, enum status st, const struct cfg_node *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void bp_finding(struct bp_check *c, enum status st, const struct cfg_node *at, const char *fmt, ...)
{
	va_list ap;
	if (c->msg.len)
		buf_puts(&c->msg, "; ");
	if (at && at->loc.file)
		buf_printf(&c->msg, "%s:%d:%d: ", at->loc.file, at->loc.line, at->loc.col);
	va_start(ap, fmt);
	char *s = evasprintf(fmt, ap);
	va_end(ap);
	buf_puts(&c->msg, s);
	free(s);
	c->status = status_worst(c->status, st);
	c->findings++;
}

/* Adds the check to r and empties c for the next one. */
static void bp_done(struct report *r, struct bp_check *c, const char *name, const char *ok)
{
	cJSON *data = cJSON_CreateObject();
	cJSON_AddNumberToObject(data, "findings", c->findings);
	report_add_check(r, name, c->status, 0, data, "%s", c->msg.len ? c->msg.data : ok);
	buf_free(&c->msg);
	*c = (struct bp_check){0};
}

/* Whether word is one of the space-separated words of list. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; n && (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* The documented key closest to key, within 2 edits; "" when none. */
static void closest_key(const char *list, const char *key, char *best, size_t size)
{
	size_t best_distance = 3;
	best[0] = '\0';
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ");
		char word[64];
		snprintf(word, sizeof word, "%.*s", (int)n, p);
		size_t dist = edit_distance(key, word);
		if (dist < best_distance && dist * 2 <= n) {
			best_distance = dist;
			snprintf(best, size, "%s", word);
		}
		p += n + (p[n] == ' ');
	}
}

static void check_shape(struct bp_check *c, const struct cfg_node *map, enum shape shape, const char *path);

static void check_nested(struct bp_check *c, const struct cfg_node *k, enum shape child, bool list,
			 const char *path)
{
	if (child == SHAPE_OPEN || k->type == CFG_NULL)
		return;
	if (list && k->type != CFG_LIST) {
		bp_finding(c, STATUS_CRITICAL, k, "%s: expected a list", path);
		return;
	}
	if (!list) {
		check_shape(c, k, child, path);
		return;
	}
	size_t i = 0;
	for (const struct cfg_node *item = k->child; item; item = item->next, i++) {
		char *p = easprintf("%s[%zu]", path, i);
		check_shape(c, item, child, p);
		free(p);
	}
}

/* Render's keys in map, at path; unknown ones warn with a hint. */
static void check_shape(struct bp_check *c, const struct cfg_node *map, enum shape shape, const char *path)
{
	if (map->type != CFG_MAP) {
		bp_finding(c, STATUS_CRITICAL, map, "%s: expected a map", *path ? path : "the top level");
		return;
	}
	for (const struct cfg_node *k = map->child; k; k = k->next) {
		const char *key = k->key ? k->key : "";
		char *p = *path ? easprintf("%s.%s", path, key) : estrdup(key);
		if (!has_word(shape_keys[shape], key)) {
			char hint[64];
			closest_key(shape_keys[shape], key, hint, sizeof hint);
			bp_finding(c, STATUS_WARNING, k, "%s: not a Blueprint key%s%s%s", p,
				   *hint ? " (did you mean " : "", hint, *hint ? "?)" : "");
		}
		for (size_t i = 0; i < ARRAY_LEN(nested); i++)
			if (nested[i].parent == shape && strcmp(nested[i].key, key) == 0)
				check_nested(c, k, nested[i].child, nested[i].list, p);
		free(p);
	}
}

static const char *node_string(const struct cfg_node *map, const char *key)
{
	const struct cfg_node *n = map ? cfg_get(map, key) : NULL;
	return n && n->type == CFG_STRING ? n->str : NULL;
}

/* The service of the Blueprint named name, or NULL. */
static const struct cfg_node *find_service(const struct cfg_node *bp, const char *name)
{
	const struct cfg_node *services = cfg_get(bp, "services");
	if (!services || services->type != CFG_LIST || !name)
		return NULL;
	for (const struct cfg_node *s = services->child; s; s = s->next) {
		const char *n = node_string(s, "name");
		if (s->type == CFG_MAP && n && strcmp(n, name) == 0)
			return s;
	}
	return NULL;
}

static void check_service(struct bp_check *c, const struct cfg_node *bp, const struct cfg_node *svc,
			  const char *name)
{
	const struct cfg_node *services = cfg_get(bp, "services");
	if (!name) {
		bp_finding(c, STATUS_WARNING, NULL,
			   "service.name is not set in the config: which service is this one cannot be told");
		return;
	}
	if (!svc) {
		struct buf names = {0};
		for (const struct cfg_node *s = services ? services->child : NULL; s; s = s->next) {
			const char *n = node_string(s, "name");
			buf_printf(&names, "%s%s", names.len ? ", " : "", n ? n : "?");
		}
		bp_finding(c, STATUS_CRITICAL, services ? services : bp,
			   "no service named %s (service.name) in the Blueprint (it has: %s)", name,
			   names.len ? names.data : "none");
		buf_free(&names);
		return;
	}
	const char *type = node_string(svc, "type");
	if (!type || strcmp(type, "web") != 0)
		bp_finding(c, STATUS_CRITICAL, cfg_get(svc, "type") ? cfg_get(svc, "type") : svc,
			   "service %s is of type %s, not web", name, type ? type : "(none)");
}

static void check_health_path(struct bp_check *c, const struct cfg_node *svc, const cJSON *doc)
{
	const char *want = json_path_string(doc, "api.health_path", NULL);
	const struct cfg_node *hp = cfg_get(svc, "healthCheckPath");
	if (!want) {
		bp_finding(c, STATUS_WARNING, hp, "api.health_path is not set in the config: healthCheckPath not compared");
	} else if (!hp) {
		bp_finding(c, STATUS_WARNING, svc,
			   "no healthCheckPath: Render routes traffic to a new instance without checking %s", want);
	} else if (hp->type != CFG_STRING || strcmp(hp->str, want) != 0) {
		bp_finding(c, STATUS_CRITICAL, hp, "healthCheckPath %s is not api.health_path %s",
			   hp->type == CFG_STRING ? hp->str : "(not a string)", want);
	}
}

/* A number of the Blueprint, NAN when absent or not a number. */
static double node_number(const struct cfg_node *map, const char *key)
{
	const struct cfg_node *n = map ? cfg_get(map, key) : NULL;
	if (n && n->type == CFG_INT)
		return (double)n->i;
	return n && n->type == CFG_NUMBER ? n->d : NAN;
}

static void compare_number(struct bp_check *c, enum status st, const struct cfg_node *map, const char *key,
			   double want, const char *config_key)
{
	double have = node_number(map, key);
	const struct cfg_node *n = cfg_get(map, key);
	if (isnan(have))
		bp_finding(c, st, n ? n : map, "scaling.%s is %s, the config's %s is %g", key,
			   n ? "not a number" : "not set", config_key, want);
	else if (have != want)
		bp_finding(c, st, n, "scaling.%s is %g, the config's %s is %g", key, have, config_key, want);
}

/* scaling or numInstances against the config's scaling: the bounds must
 * agree (critical), the CPU and memory targets are the scale-up threshold. */
static void check_scaling(struct bp_check *c, const struct cfg_node *svc, const cJSON *doc)
{
	if (!cJSON_IsObject(json_path(doc, "scaling"))) {
		bp_finding(c, STATUS_WARNING, NULL, "the config has no scaling: the Blueprint's not compared");
		return;
	}
	double lo = json_path_number(doc, "scaling.min_instances", 1);
	double hi = json_path_number(doc, "scaling.max_instances", lo);
	double up = json_path_number(doc, "scaling.scale_up_threshold", NAN);
	const struct cfg_node *scaling = cfg_get(svc, "scaling");
	double fixed = node_number(svc, "numInstances");
	if (scaling && scaling->type == CFG_MAP) {
		compare_number(c, STATUS_CRITICAL, scaling, "minInstances", lo, "scaling.min_instances");
		compare_number(c, STATUS_CRITICAL, scaling, "maxInstances", hi, "scaling.max_instances");
		bool any_target = false;
		static const char *const targets[] = {"targetCPUPercent", "targetMemoryPercent"};
		for (size_t i = 0; i < ARRAY_LEN(targets); i++) {
			if (!cfg_get(scaling, targets[i]))
				continue;
			any_target = true;
			if (!isnan(up))
				compare_number(c, STATUS_WARNING, scaling, targets[i], up, "scaling.scale_up_threshold");
		}
		if (!any_target)
			bp_finding(c, STATUS_CRITICAL, scaling, "scaling has neither targetCPUPercent nor targetMemoryPercent");
	} else if (!isnan(fixed)) {
		if (fixed < lo || fixed > hi || lo != hi)
			bp_finding(c, STATUS_CRITICAL, cfg_get(svc, "numInstances"),
				   "numInstances %g is fixed where the config scales from %g to %g instances", fixed, lo, hi);
	} else if (lo > 1) {
		bp_finding(c, STATUS_CRITICAL, svc,
			   "no scaling and no numInstances: Render runs one instance, the config at least %g", lo);
	}
}

/* The envVarGroups entry named name, or NULL. */
static const struct cfg_node *find_group(const struct cfg_node *bp, const char *name)
{
	const struct cfg_node *groups = cfg_get(bp, "envVarGroups");
	for (const struct cfg_node *g = groups ? groups->child : NULL; g; g = g->next) {
		const char *n = node_string(g, "name");
		if (n && strcmp(n, name) == 0)
			return g;
	}
	return NULL;
}

/* The envVars entry of name: the service's own, else one of a group the
 * service takes with fromGroup. */
static const struct cfg_node *find_env_var(const struct cfg_node *bp, const struct cfg_node *svc, const char *name)
{
	const struct cfg_node *vars = cfg_get(svc, "envVars");
	for (const struct cfg_node *v = vars ? vars->child : NULL; v; v = v->next) {
		const char *key = node_string(v, "key");
		if (key && strcmp(key, name) == 0)
			return v;
	}
	for (const struct cfg_node *v = vars ? vars->child : NULL; v; v = v->next) {
		const char *group = node_string(v, "fromGroup");
		const struct cfg_node *g = group ? find_group(bp, group) : NULL;
		const struct cfg_node *gvars = g ? cfg_get(g, "envVars") : NULL;
		for (const struct cfg_node *gv = gvars ? gvars->child : NULL; gv; gv = gv->next) {
			const char *key = node_string(gv, "key");
			if (key && strcmp(key, name) == 0)
				return gv;
		}
	}
	return NULL;
}

/* Whether the entry gets its value from somewhere other than the file. */
static bool has_value_source(const struct cfg_node *v)
{
	const struct cfg_node *sync = cfg_get(v, "sync");
	return (sync && sync->type == CFG_BOOL && !sync->b) || cfg_get(v, "generateValue") ||
	       cfg_get(v, "fromDatabase") || cfg_get(v, "fromService");
}

/* Any entry named like a secret with a literal value, used by the config or
 * not. The value is never shown. */
static void literal_secrets(struct bp_check *c, const struct cfg_node *list, const struct var_list *vl)
{
	for (const struct cfg_node *v = list ? list->child : NULL; v; v = v->next) {
		const char *key = node_string(v, "key");
		const struct var_info *info = key ? vars_find(vl, key) : NULL;
		const struct cfg_node *value = cfg_get(v, "value");
		if (!key || !value || value->type == CFG_NULL)
			continue;
		char *masked = value->type == CFG_STRING && value->str ? redact_url(value->str) : NULL;
		if (redact_key_looks_secret(key) || (info && info->secret))
			bp_finding(c, STATUS_CRITICAL, value,
				   "%s is a secret with a literal value in the Blueprint (value not shown): "
				   "declare it sync: false", key);
		else if (masked && strcmp(masked, value->str) != 0)
			bp_finding(c, STATUS_CRITICAL, value,
				   "%s holds a URL with a credential in the Blueprint (not shown): declare it sync: false",
				   key);
		free(masked);
	}
}

static void check_secrets(struct bp_check *c, const struct cfg_node *bp, const struct cfg_node *svc,
			  const struct var_list *vl)
{
	literal_secrets(c, cfg_get(svc, "envVars"), vl);
	const struct cfg_node *groups = cfg_get(bp, "envVarGroups");
	for (const struct cfg_node *g = groups ? groups->child : NULL; g; g = g->next)
		literal_secrets(c, cfg_get(g, "envVars"), vl);
	for (size_t i = 0; i < vl->n; i++) {
		const struct var_info *v = &vl->v[i];
		if (!v->secret)
			continue;
		const struct cfg_node *decl = find_env_var(bp, svc, v->name);
		const char *where = v->n_uses ? v->uses[0].path : "?";
		if (!decl)
			bp_finding(c, v->required ? STATUS_CRITICAL : STATUS_WARNING, svc,
				   "secret %s (%s) is not declared: add it with sync: false", v->name, where);
		else if (!cfg_get(decl, "value") && !has_value_source(decl))
			bp_finding(c, STATUS_WARNING, decl, "secret %s (%s) has no sync: false nor any other source",
				   v->name, where);
	}
}

/* The variables the config needs that are not secret: declared, with a
 * value or a source. */
static void check_env(struct bp_check *c, const struct cfg_node *bp, const struct cfg_node *svc,
		      const struct var_list *vl)
{
	const struct cfg_node *vars = cfg_get(svc, "envVars");
	for (const struct cfg_node *v = vars ? vars->child : NULL; v; v = v->next) {
		const char *group = node_string(v, "fromGroup");
		if (group && !find_group(bp, group))
			bp_finding(c, STATUS_WARNING, cfg_get(v, "fromGroup"),
				   "fromGroup %s is not among the Blueprint's envVarGroups: its variables are not seen", group);
	}
	for (size_t i = 0; i < vl->n; i++) {
		const struct var_info *v = &vl->v[i];
		if (!v->secret && v->required && !find_env_var(bp, svc, v->name))
			bp_finding(c, STATUS_WARNING, svc, "%s (%s) is required by the config but not declared",
				   v->name, v->n_uses ? v->uses[0].path : "?");
	}
}

void blueprint_check(struct report *r, const struct cfg_node *bp, const cJSON *doc, const struct var_list *vl)
{
	struct bp_check c = {0};
	check_shape(&c, bp, SHAPE_ROOT, "");
	bp_done(r, &c, "render.blueprint", "every key is one of Render's Blueprint specification");

	const char *name = json_path_string(doc, "service.name", NULL);
	const struct cfg_node *svc = find_service(bp, name);
	check_service(&c, bp, svc, name);
	bp_done(r, &c, "render.service", "the Blueprint has the config's web service");
	if (!svc) {
		static const char *const skipped[] = {"render.health_path", "render.scaling", "render.secrets",
						      "render.env", "render.pre_deploy"};
		for (size_t i = 0; i < ARRAY_LEN(skipped); i++)
			report_add_check(r, skipped[i], STATUS_UNKNOWN, 0, NULL,
					 "not checked: the Blueprint has no service named %s",
					 name ? name : "(service.name unset)");
		return;
	}
	check_health_path(&c, svc, doc);
	bp_done(r, &c, "render.health_path", "healthCheckPath is api.health_path");
	check_scaling(&c, svc, doc);
	bp_done(r, &c, "render.scaling", "the instance bounds and targets are the config's scaling");
	check_secrets(&c, bp, svc, vl);
	bp_done(r, &c, "render.secrets", "every secret the config uses is declared, none with a value");
	check_env(&c, bp, svc, vl);
	bp_done(r, &c, "render.env", "every variable the config requires is declared");
	if (!cfg_get(svc, "preDeployCommand") && json_path(doc, "database.migrations"))
		bp_finding(&c, STATUS_WARNING, svc,
			   "no preDeployCommand: the migrations (database.migrations) do not run before the release starts");
	bp_done(r, &c, "render.pre_deploy", "a preDeployCommand runs before the release starts");
}
