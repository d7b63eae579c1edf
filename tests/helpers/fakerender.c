/* fakerender — a stand-in for Render's REST API on 127.0.0.1, for tests and
 * the demo of the render deploy driver. */
/*
 * SYNOPSIS
 *     fakerender [--port N] [--port-file FILE] [--api-key KEY] [--log FILE]
 *                [--polls N]
 *
 * Serves HTTP/1.1 on 127.0.0.1 (port 0: a free one, written to --port-file
 * atomically once listening), one request per connection, sequentially.
 * SIGTERM/SIGINT end it with status 0. Requests under /v1 need
 * "Authorization: Bearer KEY" (--api-key, else $FAKERENDER_API_KEY), else
 * 401. Every request is appended to --log as one JSON line:
 * {"method","path","query","auth":bool,"body","json","t_ms"} (t_ms: when
 * it came, epoch ms).
 *
 * Routes (Render's API shapes):
 *   POST /v1/services/ID/deploys          201 {"id":"dep-N","status":"created",..};
 *                                         body {"commitId":SHA} or {"imageUrl":REF}:
 *                                         the deploy is that commit (commit.id)
 *                                         or image (image.ref, image.sha)
 *   POST /v1/services/ID/deploys/DEP/cancel  200 the deploy, now canceled
 *   GET  /v1/services/ID                  200 {"id":..,"autoDeploy":"yes"|"no"}
 *   PATCH /v1/services/ID                 body {"autoDeploy":"no"}: sets it
 *   GET  /v1/services/ID/deploys          200 [{"deploy":{..},"cursor":..}], newest
 *                                         first: a deploy polled to its end has
 *                                         its final status (only the newest live
 *                                         one live, older ones deactivated), one
 *                                         not yet build_in_progress
 *   GET  /v1/services/ID/deploys/DEP      200 the deploy; its status moves
 *                                         created -> build_in_progress ->
 *                                         the final one after --polls GETs
 *   POST /v1/services/ID/rollback         body {"deployId":"dep-N"}: 201 a new
 *                                         deploy; 404 for an unknown deployId
 *   POST /deploy/ID?key=KEY               a deploy hook: 200 {"deploy":{"id":..}}
 *
 * The service id picks the scenario:
 *   srv-ok...          deploys go live
 *   srv-buildfail...   build_failed
 *   srv-updatefail...  update_failed
 *   srv-never...       stays build_in_progress
 *   srv-flaky...       the first POST .../deploys and the first GET of each
 *                      deploy answer 500, then as srv-ok
 *   srv-rollfail...    deploys go live; rollbacks end update_failed
 *   srv-ratelimit...   the first POST .../deploys answers 429 with
 *                      Retry-After: 1 and Ratelimit-Remaining: 0; the first
 *                      GET of each deploy 429 with only Ratelimit-Reset: 1;
 *                      then as srv-ok
 *   srv-mismatch...    deploys go live at another commit and image than
 *                      the ones asked for
 *   srv-final-STATUS-N the polls answer queued, pre_deploy_in_progress, then
 *                      STATUS (any word: a status Render does not document
 *                      too); to live: queued, build_in_progress,
 *                      pre_deploy_in_progress, update_in_progress, live
 *   srv-nocancel...    as srv-never, and a cancel answers 500
 *   ...auto...         (anywhere in the id) autoDeploy starts "yes", else "no"
 *   ...autoerr...      GET and PATCH of the service answer 500
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_DEPLOYS 4096
#define MAX_REQUEST (1 << 20)

struct deploy {
	char id[32];
	char service[128];
	char final[64];
	char rollback_of[32];
	char commit[64];
	char image[512];
	int polls;
	bool failed_first_get;
	bool canceled;
};

/* A service's autoDeploy, once read or set. */
struct service {
	char id[128];
	bool autodeploy;
};

#define MAX_SERVICES 256
static struct service services[MAX_SERVICES];
static int nservices;

static struct deploy deploys[MAX_DEPLOYS];
static int ndeploys;
static int polls_needed = 2;
static const char *api_key;
static FILE *request_log;
static volatile sig_atomic_t stop;
static bool flaky_post_done, limited_post_done;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool prefixed(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* extra: more header lines, each ending in \r\n */
static void respond_with(int fd, int code, const char *extra, const char *body)
{
	const char *reason = code == 200 ? "OK" : code == 201 ? "Created" : code == 401 ? "Unauthorized"
			     : code == 404 ? "Not Found" : code == 400 ? "Bad Request" : code == 429 ? "Too Many Requests"
			     : "Internal Server Error";
	char head[512];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Ratelimit-Limit: 400\r\n%sConnection: close\r\n\r\n",
			 code, reason, strlen(body), extra);
	if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

static void respond_json(int fd, int code, cJSON *doc);

static void respond(int fd, int code, const char *body)
{
	respond_with(fd, code, "Ratelimit-Remaining: 399\r\nRatelimit-Reset: 60\r\n", body);
}

static struct service *service_of(const char *id)
{
	for (int i = 0; i < nservices; i++)
		if (strcmp(services[i].id, id) == 0)
			return &services[i];
	if (nservices == MAX_SERVICES)
		return NULL;
	struct service *sv = &services[nservices++];
	snprintf(sv->id, sizeof sv->id, "%s", id);
	sv->autodeploy = strstr(id, "auto") != NULL;
	return sv;
}

static void respond_service(int fd, const struct service *sv)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", sv->id);
	cJSON_AddStringToObject(o, "autoDeploy", sv->autodeploy ? "yes" : "no");
	respond_json(fd, 200, o);
}

static void respond_json(int fd, int code, cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);
	respond(fd, code, text ? text : "{}");
	free(text);
	cJSON_Delete(doc);
}

static cJSON *deploy_json(const struct deploy *d, const char *status)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddStringToObject(o, "trigger", d->rollback_of[0] ? "rollback" : "api");
	if (d->rollback_of[0])
		cJSON_AddStringToObject(o, "rollbackToDeployId", d->rollback_of);
	cJSON_AddStringToObject(o, "createdAt", "2026-01-01T00:00:00Z");
	char sha[41];
	snprintf(sha, sizeof sha, "c0mm17%034d", atoi(d->id + strlen("dep-fake")));
	bool other = prefixed(d->service, "srv-mismatch");
	cJSON_AddItemToObject(o, "commit", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItem(o, "commit"), "id",
				d->commit[0] && !other ? d->commit : other ? "0123456789abcdef0123456789abcdef01234567" : sha);
	if (d->image[0]) {
		cJSON *img = cJSON_AddObjectToObject(o, "image");
		cJSON_AddStringToObject(img, "ref", other ? "registry.example/other:latest" : d->image);
		cJSON_AddStringToObject(img, "sha", "sha256:5e1f");
	}
	return o;
}

static struct deploy *deploy_new(const char *service, bool rollback)
{
	if (ndeploys == MAX_DEPLOYS)
		return NULL;
	struct deploy *d = &deploys[ndeploys++];
	memset(d, 0, sizeof *d);
	snprintf(d->id, sizeof d->id, "dep-fake%04d", ndeploys);
	snprintf(d->service, sizeof d->service, "%s", service);
	const char *final = "live";
	if (prefixed(service, "srv-buildfail"))
		final = "build_failed";
	else if (prefixed(service, "srv-updatefail"))
		final = "update_failed";
	else if (prefixed(service, "srv-never"))
		final = "build_in_progress";
	else if (rollback && prefixed(service, "srv-rollfail"))
		final = "update_failed";
	else if (prefixed(service, "srv-nocancel"))
		final = "build_in_progress";
	snprintf(d->final, sizeof d->final, "%s", final);
	if (prefixed(service, "srv-final-")) {
		/* srv-final-STATUS-N: STATUS between the prefix and the last '-' */
		const char *st = service + strlen("srv-final-"), *dash = strrchr(st, '-');
		int n = dash && dash > st ? (int)(dash - st) : (int)strlen(st);
		snprintf(d->final, sizeof d->final, "%.*s", n, st);
	}
	return d;
}

static struct deploy *deploy_find(const char *service, const char *id)
{
	for (int i = 0; i < ndeploys; i++)
		if (strcmp(deploys[i].id, id) == 0 && strcmp(deploys[i].service, service) == 0)
			return &deploys[i];
	return NULL;
}

static const char *deploy_status(const struct deploy *d)
{
	return d->polls >= polls_needed ? d->final : "build_in_progress";
}

static void list_deploys(int fd, const char *service)
{
	cJSON *list = cJSON_CreateArray();
	bool live_seen = false;
	for (int i = ndeploys; i-- > 0;) {
		const struct deploy *d = &deploys[i];
		if (strcmp(d->service, service) != 0)
			continue;
		const char *st = deploy_status(d);
		if (strcmp(st, "live") == 0 && live_seen)
			st = "deactivated";
		live_seen = live_seen || strcmp(st, "live") == 0;
		cJSON *item = cJSON_CreateObject();
		cJSON_AddItemToObject(item, "deploy", deploy_json(d, st));
		cJSON_AddStringToObject(item, "cursor", d->id);
		cJSON_AddItemToArray(list, item);
		if (cJSON_GetArraySize(list) == 20)
			break;
	}
	respond_json(fd, 200, list);
}

static void handle(int fd, const char *method, const char *path, const char *query, const char *body,
		   bool auth)
{
	char service[128], rest[256];
	if (strcmp(method, "POST") == 0 && sscanf(path, "/deploy/%127[^/?]", service) == 1) {
		char want[512];
		snprintf(want, sizeof want, "key=%s", api_key ? api_key : "");
		if (!query || strcmp(query, want) != 0) {
			respond(fd, 401, "{\"message\":\"invalid deploy hook key\"}");
			return;
		}
		struct deploy *d = deploy_new(service, false);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "deploy", deploy_json(d, "created"));
		respond_json(fd, 200, o);
		return;
	}
	if (!prefixed(path, "/v1/")) {
		respond(fd, 404, "{\"message\":\"not found\"}");
		return;
	}
	if (!auth) {
		respond(fd, 401, "{\"message\":\"unauthorized\"}");
		return;
	}
	if (sscanf(path, "/v1/services/%127[^/]/%255s", service, rest) != 2 &&
	    sscanf(path, "/v1/services/%127[^/]", service) == 1 && !strchr(path + strlen("/v1/services/"), '/')) {
		struct service *sv = service_of(service);
		if (!sv || strstr(service, "autoerr")) {
			respond(fd, 500, "{\"message\":\"internal error\"}");
			return;
		}
		if (strcmp(method, "PATCH") == 0) {
			cJSON *req = cJSON_Parse(body);
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, "autoDeploy");
			if (cJSON_IsString(a))
				sv->autodeploy = strcmp(a->valuestring, "yes") == 0;
			cJSON_Delete(req);
		}
		respond_service(fd, sv);
		return;
	}
	if (sscanf(path, "/v1/services/%127[^/]/%255s", service, rest) != 2) {
		respond(fd, 404, "{\"message\":\"not found\"}");
		return;
	}
	if (strcmp(method, "POST") == 0 && strcmp(rest, "deploys") == 0) {
		if (prefixed(service, "srv-flaky") && !flaky_post_done) {
			flaky_post_done = true;
			respond(fd, 500, "{\"message\":\"internal error\"}");
			return;
		}
		if (prefixed(service, "srv-ratelimit") && !limited_post_done) {
			limited_post_done = true;
			respond_with(fd, 429, "Retry-After: 1\r\nRatelimit-Remaining: 0\r\nRatelimit-Reset: 1\r\n",
				     "{\"message\":\"rate limit exceeded\"}");
			return;
		}
		struct deploy *d = deploy_new(service, false);
		cJSON *req = cJSON_Parse(body);
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(req, "commitId");
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(req, "imageUrl");
		if (d && cJSON_IsString(c))
			snprintf(d->commit, sizeof d->commit, "%s", c->valuestring);
		if (d && cJSON_IsString(img))
			snprintf(d->image, sizeof d->image, "%s", img->valuestring);
		cJSON_Delete(req);
		respond_json(fd, 201, deploy_json(d, "created"));
		return;
	}
	if (strcmp(method, "POST") == 0 && strcmp(rest, "rollback") == 0) {
		cJSON *req = cJSON_Parse(body);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "deployId");
		struct deploy *target = cJSON_IsString(id) ? deploy_find(service, id->valuestring) : NULL;
		if (!target) {
			cJSON_Delete(req);
			respond(fd, 404, "{\"message\":\"deploy not found\"}");
			return;
		}
		struct deploy *d = deploy_new(service, true);
		snprintf(d->rollback_of, sizeof d->rollback_of, "%s", target->id);
		snprintf(d->commit, sizeof d->commit, "%s", target->commit);
		snprintf(d->image, sizeof d->image, "%s", target->image);
		cJSON_Delete(req);
		respond_json(fd, 201, deploy_json(d, "created"));
		return;
	}
	if (strcmp(method, "GET") == 0 && strcmp(rest, "deploys") == 0) {
		list_deploys(fd, service);
		return;
	}
	char depid[64];
	if (strcmp(method, "POST") == 0 && sscanf(rest, "deploys/%63[^/]/cancel", depid) == 1) {
		struct deploy *d = deploy_find(service, depid);
		if (!d) {
			respond(fd, 404, "{\"message\":\"deploy not found\"}");
			return;
		}
		if (prefixed(service, "srv-nocancel")) {
			respond(fd, 500, "{\"message\":\"cancel failed\"}");
			return;
		}
		d->canceled = true;
		respond_json(fd, 200, deploy_json(d, "canceled"));
		return;
	}
	if (strcmp(method, "GET") == 0 && sscanf(rest, "deploys/%63s", depid) == 1) {
		struct deploy *d = deploy_find(service, depid);
		if (!d) {
			respond(fd, 404, "{\"message\":\"deploy not found\"}");
			return;
		}
		if (prefixed(service, "srv-flaky") && !d->failed_first_get) {
			d->failed_first_get = true;
			respond(fd, 500, "{\"message\":\"internal error\"}");
			return;
		}
		if (prefixed(service, "srv-ratelimit") && !d->failed_first_get) {
			d->failed_first_get = true;
			respond_with(fd, 429, "Ratelimit-Remaining: 0\r\nRatelimit-Reset: 1\r\n",
				     "{\"message\":\"rate limit exceeded\"}");
			return;
		}
		d->polls++;
		if (d->canceled) {
			respond_json(fd, 200, deploy_json(d, "canceled"));
			return;
		}
		if (prefixed(service, "srv-final-")) {
			/* to live through every in-progress status, else two of them */
			static const char *const to_live[] = {"queued", "build_in_progress", "pre_deploy_in_progress",
							      "update_in_progress"};
			static const char *const to_other[] = {"queued", "pre_deploy_in_progress"};
			bool live = strcmp(d->final, "live") == 0;
			const char *const *steps = live ? to_live : to_other;
			int n = live ? 4 : 2;
			respond_json(fd, 200, deploy_json(d, d->polls <= n ? steps[d->polls - 1] : d->final));
			return;
		}
		const char *st = d->polls >= polls_needed ? d->final : d->polls == 1 ? "build_in_progress"
											: "update_in_progress";
		if (strcmp(d->final, "build_in_progress") == 0)
			st = "build_in_progress";
		respond_json(fd, 200, deploy_json(d, st));
		return;
	}
	respond(fd, 404, "{\"message\":\"not found\"}");
}

static void serve_one(int fd)
{
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char *buf = malloc(MAX_REQUEST + 1);
	size_t len = 0;
	char *body = NULL;
	size_t content_length = 0;
	while (len < MAX_REQUEST) {
		ssize_t n = read(fd, buf + len, MAX_REQUEST - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (!body) {
			body = end + 4;
			for (char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
				if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
					content_length = strtoul(h + 17, NULL, 10);
		}
		if ((size_t)(buf + len - body) >= content_length)
			break;
	}
	buf[len] = '\0';
	char method[16], target[2048];
	if (!body || sscanf(buf, "%15s %2047s", method, target) != 2) {
		respond(fd, 400, "{\"message\":\"bad request\"}");
		free(buf);
		return;
	}
	body[content_length < (size_t)(buf + len - body) ? content_length : (size_t)(buf + len - body)] = '\0';
	bool auth = false;
	char want[512];
	snprintf(want, sizeof want, "Bearer %s", api_key ? api_key : "");
	for (char *h = strstr(buf, "\r\n"); h && h < body; h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "Authorization:", 14) == 0) {
			char *v = h + 16;
			while (*v == ' ')
				v++;
			char *e = strstr(v, "\r\n");
			auth = api_key && e && (size_t)(e - v) == strlen(want) && strncmp(v, want, strlen(want)) == 0;
		}
	}
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	if (request_log) {
		cJSON *rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "method", method);
		cJSON_AddStringToObject(rec, "path", target);
		cJSON_AddStringToObject(rec, "query", query ? query : "");
		cJSON_AddBoolToObject(rec, "auth", auth);
		struct timeval now;
		gettimeofday(&now, NULL);
		cJSON_AddNumberToObject(rec, "t_ms", (double)now.tv_sec * 1000 + now.tv_usec / 1000);
		cJSON_AddStringToObject(rec, "body", body);
		cJSON *j = cJSON_Parse(body);
		if (j)
			cJSON_AddItemToObject(rec, "json", j);
		char *text = cJSON_PrintUnformatted(rec);
		fprintf(request_log, "%s\n", text);
		fflush(request_log);
		free(text);
		cJSON_Delete(rec);
	}
	handle(fd, method, target, query, body, auth);
	free(buf);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},    {"port-file", required_argument, NULL, 'f'},
		{"api-key", required_argument, NULL, 'k'}, {"log", required_argument, NULL, 'l'},
		{"polls", required_argument, NULL, 'n'},   {NULL, 0, NULL, 0},
	};
	int port = 0, c;
	const char *port_file = NULL, *log_path = NULL;
	api_key = getenv("FAKERENDER_API_KEY");
	while ((c = getopt_long(argc, argv, "p:f:k:l:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'f': port_file = optarg; break;
		case 'k': api_key = optarg; break;
		case 'l': log_path = optarg; break;
		case 'n': polls_needed = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: fakerender [--port N] [--port-file FILE] [--api-key KEY] [--log FILE] [--polls N]\n");
			return 64;
		}
	}
	if (log_path && !(request_log = fopen(log_path, "a"))) {
		fprintf(stderr, "fakerender: unable to open %s: %s\n", log_path, strerror(errno));
		return 1;
	}
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 64) < 0) {
		fprintf(stderr, "fakerender: unable to listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
		return 1;
	}
	socklen_t alen = sizeof addr;
	getsockname(s, (struct sockaddr *)&addr, &alen);
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(addr.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, port_file) < 0) {
			fprintf(stderr, "fakerender: unable to write %s\n", port_file);
			return 1;
		}
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!stop) {
		int fd = accept(s, NULL, NULL);
		if (fd < 0)
			continue;
		serve_one(fd);
		close(fd);
	}
	close(s);
	if (request_log)
		fclose(request_log);
	return 0;
}
