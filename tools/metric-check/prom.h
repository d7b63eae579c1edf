/* prom.h — Prometheus's HTTP API answers (/api/v1/query, /api/v1/query_range)
 * read into plain structs: the status, the error Prometheus gave, and the
 * result as series of samples whatever its type.
 *
 * Ownership: prom_parse() fills a struct prom_answer that owns everything in
 * it (prom_answer_free). Nothing here exits or prints; a body that is not an
 * API answer is -1 with the reason in err. */
#ifndef METRIC_CHECK_PROM_H
#define METRIC_CHECK_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#define PROM_MAX_SERIES 10000   /* more is refused: aggregate the query */
#define PROM_MAX_SAMPLES 200000 /* across every series of one answer */

enum prom_type { PROM_NONE = 0, PROM_VECTOR, PROM_MATRIX, PROM_SCALAR, PROM_STRING };

struct prom_sample {
	double t;     /* Unix seconds, as Prometheus gives them */
	double v;     /* "NaN", "+Inf" and "-Inf" as C's; a string result: NAN */
};

struct prom_series {
	cJSON *labels;         /* {"instance": "a", ...}; {} for a scalar */
	char *label_text;      /* {instance="a",job="b"}, "" when none */
	struct prom_sample *samples;
	size_t n;
};

struct prom_answer {
	bool success;          /* "status": "success" */
	char *error_type;      /* with status "error": "bad_data", "execution", ...; else NULL */
	char *error;           /* Prometheus's own text */
	char **warnings;       /* the answer's "warnings" */
	size_t n_warnings;
	enum prom_type type;
	char *string_value;    /* a string result's text */
	struct prom_series *series;
	size_t n_series;
};

/* "vector", "matrix", "scalar", "string", "" for none. */
const char *prom_type_name(enum prom_type t);
/* Reads an API answer (the body of any HTTP status: errors come as JSON
 * too). Returns 0 with a filled in, or -1 with the reason in err (not JSON,
 * not an answer, a malformed result, beyond the bounds); a is then empty. */
int prom_parse(const char *body, size_t len, struct prom_answer *a, char *err, size_t errsize);
void prom_answer_free(struct prom_answer *a);

#endif
