/* redis.c — the Redis probe: a TCP probe (tcp.c) whose exchanges are AUTH,
 * SELECT and PING, each written as a RESP array (so no byte of a password,
 * a space or CRLF, can end the command or start another), and whose
 * replies are read as Redis answers: which failure it was, in words. */
#include "redis_url.h"
#include "svc-probe.h"
#include "shipshape/common.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *redis_command_name(enum tcp_reply kind)
{
	switch (kind) {
	case TCP_REPLY_REDIS_AUTH: return "AUTH";
	case TCP_REPLY_REDIS_SELECT: return "SELECT";
	case TCP_REPLY_REDIS_PING: return "PING";
	case TCP_REPLY_MATCH: break;
	}
	return "the exchange";
}

/* *N\r\n then $LEN\r\nARG\r\n per argument: the bytes of an argument are
 * data, whatever they are. */
static void add_command(struct tcp_probe *t, enum tcp_reply kind, const char *const *argv, size_t argc)
{
	struct buf b = {0};
	buf_printf(&b, "*%zu\r\n", argc);
	for (size_t i = 0; i < argc; i++) {
		buf_printf(&b, "$%zu\r\n", strlen(argv[i]));
		buf_puts(&b, argv[i]);
		buf_puts(&b, "\r\n");
	}
	tcp_probe_add_line_step(t, b.data, b.len, kind);
	memset(b.data, 0, b.len);
	buf_free(&b);
}

int redis_probe_from_url(struct tcp_probe *t, const char *url, char *err, size_t errsize)
{
	struct redis_url u;
	redact_register_url_passwords(url);
	if (redis_url_parse(url, &u, err, errsize) < 0)
		return -1;
	if (u.password)
		redact_register(u.password);
	if (u.user && !u.password) {
		redis_url_free(&u);
		return errf(err, errsize, "a user name needs a password with it (USER:PASSWORD@)");
	}
	free(t->host);
	t->host = estrdup(u.host);
	t->port = u.port;
	t->tls = u.tls;
	t->redis = true;
	t->latency_warn_ms = REDIS_LATENCY_WARNING_DEFAULT_MS;
	t->latency_crit_ms = REDIS_LATENCY_CRITICAL_DEFAULT_MS;
	if (u.password) {
		const char *argv[] = {"AUTH", u.user ? u.user : u.password, u.password};
		add_command(t, TCP_REPLY_REDIS_AUTH, argv, u.user ? 3 : 2);
		t->redis_auth = true;
		free(t->redis_user);
		t->redis_user = u.user ? estrdup(u.user) : NULL;
	}
	if (u.has_db && u.db != 0) {
		char n[24];
		snprintf(n, sizeof n, "%ld", u.db);
		const char *argv[] = {"SELECT", n};
		add_command(t, TCP_REPLY_REDIS_SELECT, argv, 2);
		t->redis_db = u.db;
	}
	const char *ping[] = {"PING"};
	add_command(t, TCP_REPLY_REDIS_PING, ping, 1);
	redis_url_free(&u);
	return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The refusals of AUTH: wrong credentials (Redis 6+: WRONGPASS; before:
 * "invalid password"), or a server with no password at all. */
static bool auth_refused(const struct tcp_probe *t, const char *line, const char *more, char *msg,
			 size_t msgsize)
{
	if (starts_with(line, "-WRONGPASS") || starts_with(line, "-ERR invalid password") ||
	    starts_with(line, "-ERR invalid username-password")) {
		snprintf(msg, msgsize, "authentication failed%s%s%s: \"%s%s\"", t->redis_user ? " as user \"" : "",
			 t->redis_user ? t->redis_user : "", t->redis_user ? "\"" : "", line, more);
		return true;
	}
	if (strstr(line, "without any password configured") || strstr(line, "no password is set")) {
		snprintf(msg, msgsize, "authentication failed: the server has no password set, and the URL "
			 "gives one: \"%s%s\"", line, more);
		return true;
	}
	return false;
}

enum status redis_judge_reply(const struct tcp_probe *t, enum tcp_reply kind, const char *line, char *msg,
			      size_t msgsize)
{
	const char *cmd = redis_command_name(kind);
	/* tcp_excerpt() stops near 120 bytes: say that it did */
	const char *more = strlen(line) >= 120 ? "..." : "";
	if (strcmp(line, kind == TCP_REPLY_REDIS_PING ? "+PONG" : "+OK") == 0)
		return STATUS_OK;
	if (starts_with(line, "-NOAUTH") && !t->redis_auth)
		snprintf(msg, msgsize, "a password is needed: the server requires authentication (NOAUTH), "
			 "and the URL gives none");
	else if (starts_with(line, "-NOAUTH"))
		snprintf(msg, msgsize, "authentication failed: %s still refused (\"%s%s\")", cmd, line, more);
	else if (kind == TCP_REPLY_REDIS_AUTH && auth_refused(t, line, more, msg, msgsize))
		return STATUS_CRITICAL;
	else if (kind == TCP_REPLY_REDIS_SELECT && line[0] == '-')
		snprintf(msg, msgsize, "SELECT %ld refused: \"%s%s\"", t->redis_db, line, more);
	else
		snprintf(msg, msgsize, "unexpected reply to %s: \"%s%s\"", cmd, line, more);
	return STATUS_CRITICAL;
}

enum status redis_verdict(const struct tcp_probe *t, const struct tcp_result *r, char *msg, size_t msgsize)
{
	char how[200], limit[32], db[32] = "";
	if (t->redis_db >= 0)
		snprintf(db, sizeof db, ", db %ld", t->redis_db);
	snprintf(how, sizeof how, "%s%s%s%s%s", t->tls ? "TLS, " : "",
		 t->redis_auth ? "authenticated" : "no password", t->redis_user ? " as " : "",
		 t->redis_user ? t->redis_user : "", db);
	int64_t ms = (int64_t)llround(r->total_ms);
	enum status st = STATUS_OK;
	const char *over = "";
	int64_t threshold = 0;
	if (t->latency_crit_ms && ms >= t->latency_crit_ms) {
		st = STATUS_CRITICAL;
		over = "critical";
		threshold = t->latency_crit_ms;
	} else if (t->latency_warn_ms && ms >= t->latency_warn_ms) {
		st = STATUS_WARNING;
		over = "warning";
		threshold = t->latency_warn_ms;
	}
	if (st == STATUS_OK)
		snprintf(msg, msgsize, "%s:%d: PONG in %lld ms (%s)", t->host, t->port, (long long)ms, how);
	else
		snprintf(msg, msgsize, "%s:%d: PONG in %lld ms (%s), at or over the %s threshold of %s", t->host,
			 t->port, (long long)ms, how, over, duration_format(threshold, limit, sizeof limit));
	return st;
}
