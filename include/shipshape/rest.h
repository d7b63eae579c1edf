/* rest.h — outbound REST and webhook calls.
 *
 * rest_call() is a small blocking client on the shared engine (http.h): one
 * JSON request, retried under a policy, each attempt bounded by its own
 * timeout and all of them by a deadline, the body kept up to a bound;
 * retried as the one retry policy (retry.h) says.
 * Secrets: the bearer token is sent as "Authorization: Bearer ..." and is
 * registered with redact_register(), so it never appears in a message; every
 * message the client makes (error, warnings) is redacted.
 *
 * Ownership: rest_call() fills a struct rest_response the caller frees with
 * rest_response_free(); the request's strings are borrowed. Nothing here
 * exits: errors come back in the response. */
#ifndef SHIPSHAPE_REST_H
#define SHIPSHAPE_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "shipshape/retry.h"

/* ---- the REST client ---- */

#define REST_MAX_BODY_DEFAULT (1u << 20)

struct rest_request {
	const char *name;            /* for messages: "Render" */
	const char *method;          /* "GET", "POST", ... */
	const char *url;
	const char *bearer;          /* token for Authorization: Bearer, or NULL */
	const char *body;            /* a JSON body (Content-Type: application/json), or NULL */
	int64_t attempt_timeout_ms;  /* one attempt (0: HTTP_TIMEOUT_DEFAULT_MS) */
	int64_t deadline_ms;         /* monotonic ms all attempts end by (0: none) */
	size_t max_body;             /* response bytes kept (0: REST_MAX_BODY_DEFAULT); more is an error */
	struct retry_policy retry;
	bool quiet_retries;          /* retries said with verbose() instead of a warning */
};

struct rest_response {
	long code;                   /* the last attempt's HTTP status, 0 when none came */
	int attempts;
	char *body;                  /* the last response's body (NUL-terminated), or NULL */
	size_t body_len;
	char *error;                 /* why the call failed, redacted; NULL when code is 2xx */
};

/* Makes the call. Returns 0 when the last attempt answered 2xx, else -1
 * with out->error set ("HTTP 401: <message>", "timeout error: ...", "the
 * response is larger than 1048576 bytes"). A JSON body's "message" member
 * is quoted in the error, since REST APIs put the reason there. */
int rest_call(const struct rest_request *rq, struct rest_response *out);
void rest_response_free(struct rest_response *r);
/* The body as a JSON object (new), or NULL when it is not one. */
cJSON *rest_response_json(const struct rest_response *r);

#endif
