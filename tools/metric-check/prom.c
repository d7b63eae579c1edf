/* prom.c — Prometheus HTTP API answers parsed with cJSON (prom.h). Only
 * libcommon and cJSON: the fuzz target tests/fuzz/fuzz_prom.c builds it. */
#include "prom.h"
#include "shipshape/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *prom_type_name(enum prom_type t)
{
	switch (t) {
	case PROM_VECTOR: return "vector";
	case PROM_MATRIX: return "matrix";
	case PROM_SCALAR: return "scalar";
	case PROM_STRING: return "string";
	default: return "";
	}
}

void prom_answer_free(struct prom_answer *a)
{
	free(a->error_type);
	free(a->error);
	for (size_t i = 0; i < a->n_warnings; i++)
		free(a->warnings[i]);
	free(a->warnings);
	free(a->string_value);
	for (size_t i = 0; i < a->n_series; i++) {
		cJSON_Delete(a->series[i].labels);
		free(a->series[i].label_text);
		free(a->series[i].samples);
	}
	free(a->series);
	memset(a, 0, sizeof *a);
}

/* A sample value as Prometheus writes it: a string holding a float,
 * "NaN", "+Inf" or "-Inf". */
static int value_parse(const cJSON *v, double *out)
{
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return -1;
	char *end;
	*out = strtod(v->valuestring, &end);
	return *end ? -1 : 0;
}

/* [<unix seconds>, "<value>"]; a string result keeps its text in *text. */
static int sample_parse(const cJSON *pair, struct prom_sample *s, char **text, char *err, size_t errsize)
{
	const cJSON *t = cJSON_GetArrayItem(pair, 0), *v = cJSON_GetArrayItem(pair, 1);
	if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsNumber(t) || !isfinite(t->valuedouble))
		return errf(err, errsize, "a sample is not [time, \"value\"]");
	s->t = t->valuedouble;
	if (text) {
		if (!cJSON_IsString(v))
			return errf(err, errsize, "a string result's value is not a string");
		*text = estrdup(v->valuestring);
		s->v = NAN;
		return 0;
	}
	if (value_parse(v, &s->v) < 0)
		return errf(err, errsize, "a sample value is not a number in a string");
	return 0;
}

/* name{a="x",b="y\"z"}: PromQL's own way of writing a series (the name
 * outside the braces), "" for none. */
static char *label_text(const cJSON *labels)
{
	struct buf b = {0};
	const cJSON *l, *name = cJSON_GetObjectItemCaseSensitive(labels, "__name__");
	bool open = false;
	buf_puts(&b, name ? name->valuestring : "");
	cJSON_ArrayForEach(l, labels)
	{
		if (l == name)
			continue;
		buf_puts(&b, open ? "," : "{");
		open = true;
		buf_printf(&b, "%s=\"", l->string);
		for (const char *p = l->valuestring; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			if (*p == '\n')
				buf_puts(&b, "\\n");
			else
				buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	if (open)
		buf_putc(&b, '}');
	return buf_take(&b);
}

static int labels_parse(const cJSON *metric, struct prom_series *s, char *err, size_t errsize)
{
	const cJSON *l;
	if (metric && !cJSON_IsObject(metric))
		return errf(err, errsize, "a series' \"metric\" is not an object");
	cJSON_ArrayForEach(l, metric)
	{
		if (!cJSON_IsString(l))
			return errf(err, errsize, "the label \"%.64s\" is not a string", l->string ? l->string : "");
	}
	s->labels = metric ? cJSON_Duplicate(metric, true) : cJSON_CreateObject();
	if (!s->labels)
		out_of_memory();
	s->label_text = label_text(s->labels);
	return 0;
}

/* One element of a vector ({"metric", "value"}) or a matrix ({"metric",
 * "values"}); *budget counts the samples still allowed. */
static int series_parse(const cJSON *item, bool matrix, struct prom_series *s, size_t *budget, char *err,
			size_t errsize)
{
	if (!cJSON_IsObject(item))
		return errf(err, errsize, "a series is not an object");
	if (labels_parse(cJSON_GetObjectItemCaseSensitive(item, "metric"), s, err, errsize) < 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(item, matrix ? "histograms" : "histogram"))
		return errf(err, errsize, "native histogram samples are not supported: query a float (histogram_quantile, rate)");
	const cJSON *vals = cJSON_GetObjectItemCaseSensitive(item, matrix ? "values" : "value");
	if (!matrix) {
		s->samples = ecalloc(1, sizeof *s->samples);
		s->n = 1;
		return sample_parse(vals, &s->samples[0], NULL, err, errsize);
	}
	if (!cJSON_IsArray(vals))
		return errf(err, errsize, "a range series has no \"values\" list");
	size_t n = (size_t)cJSON_GetArraySize(vals);
	if (n > *budget)
		return errf(err, errsize, "more than %d samples in one answer", PROM_MAX_SAMPLES);
	*budget -= n;
	s->samples = ecalloc(n ? n : 1, sizeof *s->samples);
	const cJSON *pair;
	cJSON_ArrayForEach(pair, vals)
	{
		if (sample_parse(pair, &s->samples[s->n], NULL, err, errsize) < 0)
			return -1;
		s->n++;
	}
	return 0;
}

static int list_parse(const cJSON *result, bool matrix, struct prom_answer *a, char *err, size_t errsize)
{
	if (!cJSON_IsArray(result))
		return errf(err, errsize, "the %s result is not a list", matrix ? "matrix" : "vector");
	size_t n = (size_t)cJSON_GetArraySize(result), budget = PROM_MAX_SAMPLES;
	if (n > PROM_MAX_SERIES)
		return errf(err, errsize, "%zu series, more than %d: aggregate the query", n, PROM_MAX_SERIES);
	a->series = ecalloc(n ? n : 1, sizeof *a->series);
	const cJSON *item;
	cJSON_ArrayForEach(item, result)
	{
		/* counted first, so that prom_answer_free() frees a half-read one */
		struct prom_series *s = &a->series[a->n_series++];
		if (series_parse(item, matrix, s, &budget, err, errsize) < 0)
			return -1;
	}
	return 0;
}

/* data: {"resultType": ..., "result": ...} */
static int data_parse(const cJSON *data, struct prom_answer *a, char *err, size_t errsize)
{
	static const char *const names[] = {"vector", "matrix", "scalar", "string"};
	static const enum prom_type types[] = {PROM_VECTOR, PROM_MATRIX, PROM_SCALAR, PROM_STRING};
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "resultType"));
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
	for (size_t i = 0; type && i < ARRAY_LEN(names); i++)
		if (strcmp(type, names[i]) == 0)
			a->type = types[i];
	if (a->type == PROM_NONE)
		return errf(err, errsize, "the answer has no known resultType");
	if (a->type == PROM_VECTOR || a->type == PROM_MATRIX)
		return list_parse(result, a->type == PROM_MATRIX, a, err, errsize);
	a->series = ecalloc(1, sizeof *a->series);
	struct prom_series *s = &a->series[a->n_series++];
	if (labels_parse(NULL, s, err, errsize) < 0)
		return -1;
	s->samples = ecalloc(1, sizeof *s->samples);
	s->n = 1;
	return sample_parse(result, s->samples, a->type == PROM_STRING ? &a->string_value : NULL, err, errsize);
}

static void warnings_parse(const cJSON *w, struct prom_answer *a)
{
	const cJSON *item;
	size_t n = cJSON_IsArray(w) ? (size_t)cJSON_GetArraySize(w) : 0;
	if (!n)
		return;
	a->warnings = ecalloc(n, sizeof *a->warnings);
	cJSON_ArrayForEach(item, w)
	{
		if (cJSON_IsString(item))
			a->warnings[a->n_warnings++] = estrdup(item->valuestring);
	}
}

static int answer_parse(const cJSON *doc, struct prom_answer *a, char *err, size_t errsize)
{
	const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "status"));
	if (!cJSON_IsObject(doc) || !status)
		return errf(err, errsize, "not a Prometheus API answer (no \"status\")");
	warnings_parse(cJSON_GetObjectItemCaseSensitive(doc, "warnings"), a);
	if (strcmp(status, "error") == 0) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "errorType"));
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "error"));
		a->error_type = estrdup(type ? type : "error");
		a->error = estrdup(text ? text : "(no error text)");
		return 0;
	}
	if (strcmp(status, "success") != 0)
		return errf(err, errsize, "unknown answer status \"%.64s\"", status);
	a->success = true;
	return data_parse(cJSON_GetObjectItemCaseSensitive(doc, "data"), a, err, errsize);
}

int prom_parse(const char *body, size_t len, struct prom_answer *a, char *err, size_t errsize)
{
	memset(a, 0, sizeof *a);
	cJSON *doc = body ? cJSON_ParseWithLength(body, len) : NULL;
	if (!doc)
		return errf(err, errsize, "the answer is not JSON");
	int rc = answer_parse(doc, a, err, errsize);
	cJSON_Delete(doc);
	if (rc < 0)
		prom_answer_free(a);
	return rc;
}
