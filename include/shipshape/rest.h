/* rest.h — outbound REST and webhook calls: one client on the shared engine
 * (http.h) with two faces. A JSON request is retried as the one retry policy
 * (retry.h) says (no answer, 408, 429, 5xx; backoff with jitter;
 * Retry-After), each attempt bounded by its own timeout and all of them by
 * a deadline, the response body kept up to a bound.
 *
 * Blocking: rest_call() makes one call and returns when it is over (the
 * Render driver). Asynchronous: a struct rest_client runs many calls at
 * once on one engine, driven from the caller's loop by rest_client_step()
 * (which also waits on the caller's fds); each call ends in one on_done
 * callback, and on_retry hears of every failed attempt that is retried
 * (alert-send's deliverer prints a record for each):
 *
 *     struct rest_client *c = rest_client_new(&(struct rest_client_opts){
 *             .on_done = done, .on_retry = retrying, .user = ctx});
 *     rest_start(c, &rq, job);               // rq copied: may go at once
 *     while (rest_client_pending(c))
 *             rest_client_step(c, fds, n, 1000);
 *     rest_client_free(c);
 *
 * rest_call() is that loop around one request.
 * Secrets: the bearer token is sent as "Authorization: Bearer ..." and is
 * registered with redact_register(), so it never appears in a message; every
 * message the client makes (error, warnings) is redacted.
 *
 * Ownership: rest_call() fills a struct rest_response the caller frees with
 * rest_response_free(); its request's strings are borrowed. rest_start()
 * copies what it needs of the request. The response given to on_done is
 * the callback's (rest_response_free, or take its fields); the one given
 * to on_retry is borrowed. Nothing here exits: errors come back in the
 * response (libcurl unusable: "unable to start libcurl"; an attempt
 * that could not start: "internal error: unable to create a curl handle"),
 * or as NULL from rest_client_new(). */
#ifndef SHIPSHAPE_REST_H
#define SHIPSHAPE_REST_H

#include <poll.h>
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
	const char *ca_file;         /* trust these CAs (NULL: the system's) */
	bool tls_insecure;           /* do not verify the peer's certificate */
	struct retry_policy retry;
	bool quiet_retries;          /* retries said with verbose() instead of a warning */
	bool uncompressed;           /* no Accept-Encoding (http_probe.uncompressed) */
};

struct rest_response {
	long code;                   /* the last attempt's HTTP status, 0 when none came */
	int attempts;
	char *body;                  /* the last response's body (NUL-terminated), or NULL */
	size_t body_len;
	char *error;                 /* why the call failed, redacted; NULL when code is 2xx */
	bool transport_error;        /* the last attempt failed before or while receiving an answer */
	bool permanent;              /* no retry could mend it: a 4xx, an untrusted certificate, a
					body too large, a Retry-After beyond the policy's ceiling */
	int64_t duration_ms;         /* of the last attempt */
	/* the last answer's rate-limit headers (Render's, and the IETF draft's) */
	int64_t retry_after_ms;      /* Retry-After, else for a 429 Ratelimit-Reset; -1: none */
	long ratelimit_remaining;    /* Ratelimit-Remaining; -1: not given */
	int64_t ratelimit_reset_ms;  /* Ratelimit-Reset from now; -1: not given */
};

/* Makes the call. Returns 0 when the last attempt answered 2xx, else -1
 * with out->error set ("HTTP 401: <message>", "timeout error: ...", "the
 * response is larger than 1048576 bytes"). A JSON body's "message" member
 * is quoted in the error, since REST APIs put the reason there. */
int rest_call(const struct rest_request *rq, struct rest_response *out);
void rest_response_free(struct rest_response *r);
/* The body as a JSON object (new), or NULL when it is not one. */
cJSON *rest_response_json(const struct rest_response *r);

/* ---- the asynchronous face ---- */

struct rest_client;

/* The call tagged tag is over (delivered or given up on, as rest_call()'s
 * return value would say): res is the callback's. */
typedef void (*rest_done_fn)(struct rest_response *res, void *tag, void *user);
/* An attempt of tag's call failed (res, borrowed: its code, error,
 * attempts) and the next one starts in wait_ms. */
typedef void (*rest_retry_fn)(const struct rest_response *res, int64_t wait_ms, void *tag, void *user);

struct rest_client_opts {
	int parallel;            /* attempts at once (0: 16); the rest queue in order */
	rest_done_fn on_done;
	rest_retry_fn on_retry;  /* NULL: a warning (verbose with quiet_retries), as rest_call() */
	void *user;              /* passed to both */
};

/* A new client, or NULL when its engine could not be made (http_engine_new()). */
struct rest_client *rest_client_new(const struct rest_client_opts *o);
/* Calls still out are dropped without callbacks. */
void rest_client_free(struct rest_client *c);
/* Starts a call (the first attempt goes out at the next step). */
void rest_start(struct rest_client *c, const struct rest_request *rq, void *tag);
/* Drops tag's call, in flight or waiting to retry, without a callback. */
void rest_cancel(struct rest_client *c, const void *tag);
/* Calls not over yet. */
size_t rest_client_pending(const struct rest_client *c);
/* One round: waits up to timeout_ms (bounded by the next retry due) for
 * the client's transfers and the caller's fds (at most 16, revents filled
 * in as http_engine_step() does), then makes the callbacks. Returns -1 on
 * an internal error. */
int rest_client_step(struct rest_client *c, struct pollfd *extra, unsigned n_extra, int timeout_ms);

#endif
