/* driver_render.c — the Render driver: Render's REST API or a deploy hook. */
#include "shipshape/driver.h"
#include "shipshape/common.h"
#include "shipshape/json.h"

#include <string.h>

int driver_render_deploy(const struct driver_ctx *ctx, struct driver_outcome *out, bool rollback)
{
	(void)ctx, (void)rollback;
	out->status = STATUS_CRITICAL;
	out->message = estrdup("the render driver is not built yet");
	return -1;
}

void driver_render_check(const struct driver_ctx *ctx, struct report *r)
{
	(void)ctx;
	report_add_check(r, "rollback.credentials", STATUS_UNKNOWN, 0, NULL, "not built yet");
}
