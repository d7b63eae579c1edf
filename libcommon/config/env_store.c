/* env_store.c — variables for templates: the real environment over the
 * variables of .env files. Below both tmpl.c, which looks them up, and
 * envfile.c, which fills the store. */
#include "shipshape/config.h"
#include "shipshape/common.h"

#include <stdlib.h>
#include <string.h>

void env_store_init(struct env_store *e)
{
	memset(e, 0, sizeof *e);
	e->use_environ = true;
}

void env_store_free(struct env_store *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].name);
		free(e->v[i].value);
	}
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

static struct env_entry *env_find(const struct env_store *e, const char *name)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->v[i].name, name) == 0)
			return &e->v[i];
	return NULL;
}

bool env_store_has(const struct env_store *e, const char *name)
{
	return env_find(e, name) != NULL;
}

void env_store_set(struct env_store *e, const char *name, const char *value, struct cfg_loc loc)
{
	struct env_entry *old = env_find(e, name);
	if (old) {
		free(old->value);
		old->value = estrdup(value ? value : "");
		old->loc = loc;
		return;
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->v = erealloc(e->v, e->cap * sizeof *e->v);
	}
	e->v[e->n++] = (struct env_entry){estrdup(name), estrdup(value ? value : ""), loc};
}

const char *env_store_get(const struct env_store *e, const char *name, char **origin)
{
	if (origin)
		*origin = NULL;
	if (!name)
		return NULL;
	const char *v = e->use_environ ? getenv(name) : NULL;
	if (v) {
		if (origin)
			*origin = easprintf("environment variable %s", name);
		return v;
	}
	const struct env_entry *x = env_find(e, name);
	if (!x)
		return NULL;
	if (origin) {
		const char *file = x->loc.file ? x->loc.file : "env file";
		*origin = x->loc.line > 0 ? easprintf("%s:%d", file, x->loc.line) : estrdup(file);
	}
	return x->value;
}
