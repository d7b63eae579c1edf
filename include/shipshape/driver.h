/* driver.h — deploy drivers: how a release is put into service and how an
 * earlier one is brought back. Config `deploy.driver`:
 *
 *   command  deploy.command.deploy / .rollback: argv arrays, run with
 *            SHIPSHAPE_RELEASE, SHIPSHAPE_PREVIOUS_RELEASE, SHIPSHAPE_ACTION,
 *            SHIPSHAPE_SERVICE, SHIPSHAPE_COMMIT and SHIPSHAPE_IMAGE (empty
 *            when the deploy names none) in the environment, bounded output.
 *   symlink  deploy.symlink.releases_dir/<release>/ and a `current` link
 *            switched atomically (new link, then rename(2)); an optional
 *            restart argv; keep_releases pruning.
 *   render   Render's REST API (deploy.render.api_url, service_id, api_key)
 *            or a deploy hook (deploy.render.deploy_hook_url); deploys the
 *            exact commit or image (commitId / imageUrl) and checks that the
 *            live deploy is it; polls the deploy until live or failed within
 *            Render's rate limits; cancels it at the deadline.
 *
 * Every message and recorded output passes through redaction. */
#ifndef SHIPSHAPE_DRIVER_H
#define SHIPSHAPE_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "shipshape/report.h"

#define DRIVER_OUTPUT_MAX (16u << 10) /* bytes of a command's output recorded */
#define DRIVER_IMAGE_MAX 512          /* bytes of an image reference */

struct driver_ctx {
	const cJSON *config;        /* the config document */
	const char *service;
	const char *release;        /* the release to put in service */
	const char *previous;       /* the release it replaces (may be NULL) */
	const cJSON *target_apply;  /* rollback: the journal's apply record of release (may be NULL) */
	const char *keep_release;   /* symlink pruning never removes this one (last known good) */
	int64_t timeout_ms;         /* 0: deploy.timeout (default 15m) */
	const char *commit;         /* the exact commit to deploy (begin --commit), or NULL */
	const char *image;          /* the exact image to deploy (begin --image), or NULL */
	/* render: when this service's recent deploy triggers were made (epoch
	 * ms, any order; driver_recent_triggers()), so that no more go out a
	 * minute than Render allows; NULL: none known */
	const int64_t *recent_triggers;
	size_t n_recent_triggers;
};

struct driver_outcome {
	enum status status;         /* STATUS_OK, or STATUS_CRITICAL when it failed */
	char *message;              /* one line, redacted (owned) */
	cJSON *data;                /* recorded in the journal's apply record (owned) */
};

/* A commit SHA as begin --commit takes it: 7 to 40 hex digits. */
bool driver_commit_valid(const char *sha);
/* An image reference as begin --image takes it: 1 to DRIVER_IMAGE_MAX
 * bytes, no whitespace or control characters. */
bool driver_image_valid(const char *ref);

/* The configured driver's name, or NULL when deploy.driver is absent. */
const char *driver_name(const cJSON *config);
/* Checks the driver's configuration; returns NULL when it is usable, else a
 * message (a new string) naming the missing or bad key. */
char *driver_config_problem(const cJSON *config);
/* What the driver would do, one line (a new string), for --dry-run. */
char *driver_describe(const struct driver_ctx *ctx, bool rollback);

/* Puts ctx->release in service. Fills out (always); returns 0 when it
 * succeeded, -1 when it failed (out says why). */
int driver_deploy(const struct driver_ctx *ctx, struct driver_outcome *out);
/* Brings ctx->release (an earlier one) back into service. */
int driver_rollback(const struct driver_ctx *ctx, struct driver_outcome *out);
/* Rollback capability checks into r: rollback.driver, rollback.credentials,
 * rollback.artifact (the release directory or the Render deploy id). */
void driver_check_rollback(const struct driver_ctx *ctx, struct report *r);
void driver_outcome_free(struct driver_outcome *out);
/* Whether ctx->release exists where the driver would bring it back from:
 * STATUS_OK (it does), STATUS_CRITICAL (it does not, or the driver is
 * unusable), STATUS_UNKNOWN (this driver cannot see: the message says
 * what was not checked). *message is a new string. symlink: the release
 * directory; render: a Render deploy id recorded for it; command: unknown. */
enum status driver_check_target(const struct driver_ctx *ctx, char **message);
/* The release the driver sees live, where it can tell: STATUS_OK with
 * *live (a new string) when it could read it, else STATUS_UNKNOWN with
 * *live NULL. *message (a new string) says what was read or what could not
 * be. symlink: the current link's target under releases_dir; command: the
 * last line deploy.command.status prints (when configured; bounded by
 * DRIVER_STATUS_TIMEOUT_MS); render: the newest live deploy of the
 * service, named by the journal's release whose apply made it (view), else
 * "render deploy ID". */
#define DRIVER_STATUS_TIMEOUT_MS 30000
struct journal_view;
enum status driver_live_release(const cJSON *config, const struct journal_view *view, char **live,
				char **message);

/* Render allows 10 deploy triggers a minute per service. */
#define DRIVER_RENDER_TRIGGERS_PER_MINUTE 10
/* The deploy triggers the journal's render applies made in the minute
 * before now_epoch_ms, into out (at most max): each apply's trigger
 * attempts (data.post_attempts), counted at its end record's time (never
 * later than they were made, so the count errs on the safe side); rollbacks
 * are not deploy triggers. Returns how many it wrote. */
size_t driver_recent_triggers(const struct journal_view *view, int64_t now_epoch_ms, int64_t *out, size_t max);

/* Internal to the drivers, one per driver file. */
int driver_render_deploy(const struct driver_ctx *ctx, struct driver_outcome *out, bool rollback);
void driver_render_check(const struct driver_ctx *ctx, struct report *r);
enum status driver_render_target(const struct driver_ctx *ctx, char **message);
enum status driver_render_live(const cJSON *config, const struct journal_view *view, char **live, char **message);

#endif
