/* tcp.c — TCP probes: connect, optional TLS (through libcurl's connect-only
 * mode, so trust, SNI and versions work as for HTTP), then send/expect
 * exchanges such as a Redis PING or an SMTP banner. */
#include "svc-probe.h"
#include "shipshape/common.h"
#include "shipshape/json.h"
#include "shipshape/redact.h"
#include "shipshape/units.h"

#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TCP_REPLY_MAX 65536

void tcp_probe_init(struct tcp_probe *t)
{
	memset(t, 0, sizeof *t);
	t->tls_verify = true;
	t->redis_db = -1;
}

void tcp_probe_free(struct tcp_probe *t)
{
	free(t->name);
	free(t->host);
	free(t->ca_file);
	free(t->sni);
	free(t->redis_user);
	for (size_t i = 0; i < t->n_steps; i++) {
		if (t->steps[i].send) /* a Redis AUTH holds the password */
			memset(t->steps[i].send, 0, t->steps[i].send_len);
		free(t->steps[i].send);
		if (t->steps[i].expect)
			regfree(&t->steps[i].re);
		free(t->steps[i].expect);
	}
	free(t->steps);
	memset(t, 0, sizeof *t);
}

void tcp_result_free(struct tcp_result *r)
{
	free(r->message);
	free(r->reply);
	memset(r, 0, sizeof *r);
}

int tcp_probe_set_address(struct tcp_probe *t, const char *addr, char *err, size_t errsize)
{
	const char *colon;
	char *host;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return errf(err, errsize, "invalid address \"%.60s\" (expected HOST:PORT or [V6]:PORT)", addr);
		host = estrndup(addr + 1, (size_t)(close - addr - 1));
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || colon == addr)
			return errf(err, errsize, "invalid address \"%.60s\" (expected HOST:PORT)", addr);
		host = estrndup(addr, (size_t)(colon - addr));
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 1 || port > 65535) {
		free(host);
		return errf(err, errsize, "invalid port in \"%.60s\"", addr);
	}
	free(t->host);
	t->host = host;
	t->port = (int)port;
	return 0;
}

/* Decodes \r \n \t \\ \xHH so a line protocol can be written on one line. */
static char *unescape(const char *s, size_t *len)
{
	struct buf b = {0};
	for (const char *p = s; *p; p++) {
		if (*p != '\\' || !p[1]) {
			buf_putc(&b, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 'r': buf_putc(&b, '\r'); break;
		case 'n': buf_putc(&b, '\n'); break;
		case 't': buf_putc(&b, '\t'); break;
		case '\\': buf_putc(&b, '\\'); break;
		case 'x':
			if (isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
				char hex[3] = {p[1], p[2], 0};
				buf_putc(&b, (char)strtol(hex, NULL, 16));
				p += 2;
				break;
			}
			/* fall through */
		default:
			buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
	}
	buf_append(&b, "", 0);
	*len = b.len;
	return buf_take(&b);
}

/* Without REG_NOSUB: the match's end says how much of the reply is consumed. */
static int set_expect(struct tcp_step *st, const char *expect, char *err, size_t errsize)
{
	int rc = regcomp(&st->re, expect, REG_EXTENDED);
	if (rc) {
		char msg[128];
		regerror(rc, &st->re, msg, sizeof msg);
		return errf(err, errsize, "invalid regular expression \"%.60s\": %s", expect, msg);
	}
	st->expect = estrdup(expect);
	return 0;
}

int tcp_probe_add_expect(struct tcp_probe *t, const char *expect, char *err, size_t errsize)
{
	if (t->n_steps && !t->steps[t->n_steps - 1].expect)
		return set_expect(&t->steps[t->n_steps - 1], expect, err, errsize);
	return tcp_probe_add_step(t, NULL, expect, err, errsize);
}

int tcp_probe_add_step(struct tcp_probe *t, const char *send, const char *expect, char *err, size_t errsize)
{
	struct tcp_step st = {0};
	if (expect && set_expect(&st, expect, err, errsize) < 0)
		return -1;
	if (send)
		st.send = unescape(send, &st.send_len);
	t->steps = erealloc(t->steps, (t->n_steps + 1) * sizeof *t->steps);
	t->steps[t->n_steps++] = st;
	return 0;
}

void tcp_probe_add_line_step(struct tcp_probe *t, const char *send, size_t len, enum tcp_reply judge)
{
	struct tcp_step st = {.send_len = len, .judge = judge};
	char err[160];
	if (set_expect(&st, "\n", err, sizeof err) < 0)
		die(EXIT_UNKNOWN, "the line pattern: %s", err);
	st.send = emalloc(len + 1);
	memcpy(st.send, send, len);
	st.send[len] = '\0';
	t->steps = erealloc(t->steps, (t->n_steps + 1) * sizeof *t->steps);
	t->steps[t->n_steps++] = st;
}

const char *tcp_check_prefix(const struct tcp_probe *t)
{
	return t->redis ? "redis" : "tcp";
}

static const char *const tcp_keys[] = {"type", "name", "address", "tls", "tls_verify", "ca_file", "sni",
				       "ip_version", "connect_timeout", "timeout", "exchange", NULL};

int tcp_probe_from_json(struct tcp_probe *t, const cJSON *obj, char *err, size_t errsize)
{
	const cJSON *it, *j;
	char sub[256];
	cJSON_ArrayForEach(it, obj) {
		bool known = false;
		for (size_t i = 0; tcp_keys[i]; i++)
			known |= strcmp(it->string, tcp_keys[i]) == 0;
		if (!known)
			return errf(err, errsize, "%s: unknown key", it->string);
	}
	const char *name = json_path_string(obj, "name", NULL);
	if (name)
		t->name = estrdup(name);
	const char *addr = json_path_string(obj, "address", NULL);
	if (!addr)
		return errf(err, errsize, "address: missing (HOST:PORT)");
	if (tcp_probe_set_address(t, addr, sub, sizeof sub) < 0)
		return errf(err, errsize, "address: %s", sub);
	if ((j = cJSON_GetObjectItemCaseSensitive(obj, "tls")) && !cJSON_IsBool(j))
		return errf(err, errsize, "tls: expected true or false");
	t->tls = json_path_bool(obj, "tls", t->tls);
	if ((j = cJSON_GetObjectItemCaseSensitive(obj, "tls_verify")) && !cJSON_IsBool(j))
		return errf(err, errsize, "tls_verify: expected true or false");
	t->tls_verify = json_path_bool(obj, "tls_verify", t->tls_verify);
	const char *ca = json_path_string(obj, "ca_file", NULL);
	if (ca) {
		free(t->ca_file);
		t->ca_file = estrdup(ca);
	}
	const char *sni = json_path_string(obj, "sni", NULL);
	if (sni)
		t->sni = estrdup(sni);
	const char *ipv = json_path_string(obj, "ip_version", NULL);
	double ipn = json_path_number(obj, "ip_version", 0);
	if (ipn == 4 || (ipv && strcmp(ipv, "4") == 0))
		t->ip = HTTP_IP_V4;
	else if (ipn == 6 || (ipv && strcmp(ipv, "6") == 0))
		t->ip = HTTP_IP_V6;
	else if (cJSON_GetObjectItemCaseSensitive(obj, "ip_version") && !(ipv && strcmp(ipv, "any") == 0))
		return errf(err, errsize, "ip_version: expected 4, 6 or any");
	int64_t ms = json_path_duration_ms(obj, "connect_timeout", t->connect_timeout_ms);
	if (ms < 0)
		return errf(err, errsize, "connect_timeout: expected a duration");
	t->connect_timeout_ms = ms;
	ms = json_path_duration_ms(obj, "timeout", t->timeout_ms);
	if (ms < 0)
		return errf(err, errsize, "timeout: expected a duration");
	t->timeout_ms = ms;
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(obj, "exchange");
	if (ex && !cJSON_IsArray(ex))
		return errf(err, errsize, "exchange: expected a list of {send, expect}");
	int i = 0;
	cJSON_ArrayForEach(it, ex) {
		const cJSON *snd = cJSON_GetObjectItemCaseSensitive(it, "send");
		const cJSON *exp = cJSON_GetObjectItemCaseSensitive(it, "expect");
		if (!cJSON_IsObject(it) || (snd && !cJSON_IsString(snd)) || (exp && !cJSON_IsString(exp)) ||
		    (!snd && !exp))
			return errf(err, errsize, "exchange[%d]: expected {send: TEXT, expect: REGEX}", i);
		if (tcp_probe_add_step(t, snd ? snd->valuestring : NULL, exp ? exp->valuestring : NULL, sub,
				       sizeof sub) < 0)
			return errf(err, errsize, "exchange[%d]: %s", i, sub);
		i++;
	}
	return 0;
}

/* ---- running one ---- */

static void set_result(struct tcp_result *r, enum status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_result(struct tcp_result *r, enum status st, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->status = st;
	free(r->message);
	r->message = redact_string(msg);
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t n, void *userp)
{
	struct tcp_result *r = userp;
	static const char tag[] = "SSL connection using ";
	(void)h;
	if (type == CURLINFO_TEXT && n > sizeof tag && strncmp(data, tag, sizeof tag - 1) == 0) {
		size_t vl = strcspn(data + sizeof tag - 1, " /\r\n");
		snprintf(r->tls_version, sizeof r->tls_version, "%.*s", (int)vl, data + sizeof tag - 1);
	}
	return 0;
}

static int wait_socket(curl_socket_t fd, short events, int64_t deadline)
{
	int64_t left = deadline - now_monotonic_ms();
	if (left <= 0)
		return 0;
	struct pollfd pfd = {.fd = fd, .events = events};
	return poll(&pfd, 1, (int)left);
}

char *tcp_excerpt(const char *s, size_t len)
{
	struct buf b = {0};
	for (size_t i = 0; i < len && b.len < 120; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			buf_puts(&b, "\\r");
		else if (c == '\n')
			buf_puts(&b, "\\n");
		else if (c < 32 || c > 126)
			buf_printf(&b, "\\x%02x", c);
		else
			buf_putc(&b, (char)c);
	}
	buf_append(&b, "", 0);
	return buf_take(&b);
}

/* One probe's libcurl handle, connect-only. */
struct tcp_conn {
	CURL *h;
	char *url;
	struct curl_slist *connect_to;
	char errbuf[CURL_ERROR_SIZE];
	curl_socket_t fd;
	int64_t deadline;
};

/* With --sni, the URL names the SNI host and CONNECT_TO sends it to the
 * probe's own address. */
static void conn_target(struct tcp_conn *c, const struct tcp_probe *t)
{
	bool v6 = strchr(t->host, ':') != NULL;
	const char *host = t->sni && t->tls ? t->sni : t->host;
	c->url = easprintf("%s://%s%s%s:%d", t->tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
			   t->port);
	if (t->sni && t->tls) {
		char *e = easprintf("%s:%d:%s%s%s:%d", t->sni, t->port, v6 ? "[" : "", t->host, v6 ? "]" : "", t->port);
		c->connect_to = curl_slist_append(NULL, e);
		free(e);
		curl_easy_setopt(c->h, CURLOPT_CONNECT_TO, c->connect_to);
	}
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
}

static void conn_setup(struct tcp_conn *c, const struct tcp_probe *t, struct tcp_result *r, int64_t timeout)
{
	c->h = curl_easy_init();
	if (!c->h)
		die(EXIT_UNKNOWN, "unable to create a curl handle");
	CURL *h = c->h;
	conn_target(c, t);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(t->connect_timeout_ms > 0 ? t->connect_timeout_ms : HTTP_CONNECT_TIMEOUT_DEFAULT_MS));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, t->tls_verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, t->tls_verify ? 2L : 0L);
	if (t->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
	if (t->ip == HTTP_IP_V4)
		curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
	else if (t->ip == HTTP_IP_V6)
		curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V6);
	if (t->tls) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(h, CURLOPT_DEBUGDATA, r);
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
}

/* Writes step i's text, waiting for the socket up to the deadline. */
static int send_step(struct tcp_conn *c, const struct tcp_step *st, size_t i, struct tcp_result *r)
{
	size_t off = 0;
	while (off < st->send_len) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(c->h, st->send + off, st->send_len - off, &sent);
		if (rc == CURLE_AGAIN) {
			if (wait_socket(c->fd, POLLOUT, c->deadline) <= 0) {
				set_result(r, STATUS_CRITICAL, "exchange %zu: send timed out", i + 1);
				return -1;
			}
			continue;
		}
		if (rc != CURLE_OK) {
			set_result(r, STATUS_CRITICAL, "exchange %zu: send failed: %s", i + 1, curl_easy_strerror(rc));
			return -1;
		}
		off += sent;
	}
	return 0;
}

/* Reads into reply until st's pattern matches it, the peer closes or the
 * deadline passes. */
static bool read_until_match(struct tcp_conn *c, const struct tcp_step *st, struct buf *reply, regmatch_t *m,
			     bool *closed)
{
	buf_append(reply, "", 0);
	bool matched = regexec(&st->re, reply->data, 1, m, 0) == 0;
	while (!matched && !*closed) {
		char chunk[4096];
		size_t got = 0;
		CURLcode rc = curl_easy_recv(c->h, chunk, sizeof chunk, &got);
		if (rc == CURLE_AGAIN) {
			if (wait_socket(c->fd, POLLIN, c->deadline) <= 0)
				break;
			continue;
		}
		if (rc != CURLE_OK || got == 0)
			*closed = true;
		else if (reply->len < TCP_REPLY_MAX)
			buf_append(reply, chunk, got);
		matched = regexec(&st->re, reply->data, 1, m, 0) == 0;
	}
	return matched;
}

/* A Redis step's reply line, judged (redis.c). */
static int judge_line(const struct tcp_probe *t, const struct tcp_step *st, const char *line, size_t len,
		      struct tcp_result *r)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	char *shown = tcp_excerpt(line, len), msg[400];
	enum status verdict = redis_judge_reply(t, st->judge, shown, msg, sizeof msg);
	free(shown);
	if (verdict == STATUS_OK)
		return 0;
	set_result(r, verdict, "%s:%d: %s", t->host, t->port, msg);
	return -1;
}

static void set_no_match(const struct tcp_probe *t, const struct tcp_step *st, size_t i, bool closed,
			 struct tcp_result *r)
{
	const char *why = closed ? "connection closed" : "timed out";
	if (st->judge == TCP_REPLY_MATCH)
		set_result(r, STATUS_CRITICAL, "exchange %zu: %s waiting for /%s/, got \"%s\"", i + 1, why,
			   st->expect, r->reply);
	else if (r->reply[0])
		set_result(r, STATUS_CRITICAL, "%s:%d: %s waiting for the reply to %s, got \"%s\"", t->host,
			   t->port, why, redis_command_name(st->judge), r->reply);
	else
		set_result(r, STATUS_CRITICAL, "%s:%d: no reply to %s (%s)", t->host, t->port,
			   redis_command_name(st->judge), why);
}

/* The lines after an earlier expect's match are still unread: two expects
 * may match two lines of one reply, and ^ is the start of the first unread
 * line. */
static int expect_step(struct tcp_conn *c, const struct tcp_probe *t, size_t i, struct buf *reply,
		       struct tcp_result *r)
{
	const struct tcp_step *st = &t->steps[i];
	regmatch_t m = {0};
	bool closed = false;
	bool matched = read_until_match(c, st, reply, &m, &closed);
	free(r->reply);
	r->reply = tcp_excerpt(reply->data, reply->len);
	if (!matched) {
		set_no_match(t, st, i, closed, r);
		return -1;
	}
	/* Consumed: the matched line, through its newline. */
	size_t used = (size_t)m.rm_eo;
	if (used && reply->data[used - 1] != '\n') {
		const char *nl = memchr(reply->data + used, '\n', reply->len - used);
		used = nl ? (size_t)(nl - reply->data) + 1 : reply->len;
	}
	if (st->judge != TCP_REPLY_MATCH && judge_line(t, st, reply->data, used, r) < 0)
		return -1;
	memmove(reply->data, reply->data + used, reply->len - used + 1);
	reply->len -= used;
	return 0;
}

static void exchange(struct tcp_conn *c, const struct tcp_probe *t, struct tcp_result *r)
{
	struct buf reply = {0};
	curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &c->fd);
	for (size_t i = 0; i < t->n_steps; i++) {
		const struct tcp_step *st = &t->steps[i];
		if (send_step(c, st, i, r) < 0 || (st->expect && expect_step(c, t, i, &reply, r) < 0)) {
			r->step_failed = (int)i + 1;
			buf_free(&reply);
			return;
		}
	}
	buf_free(&reply);
	if (t->n_steps)
		set_result(r, STATUS_OK, "%s:%d: connected%s, %zu exchange%s answered", t->host, t->port,
			   t->tls ? " (TLS)" : "", t->n_steps, t->n_steps == 1 ? "" : "s");
	else
		set_result(r, STATUS_OK, "%s:%d: connected%s", t->host, t->port, t->tls ? " (TLS)" : "");
}

/* Why connecting (or the TLS handshake) failed, in words an operator
 * acts on. */
static void set_connect_failure(const struct tcp_probe *t, struct tcp_conn *c, CURLcode rc,
				struct tcp_result *r)
{
	long os_errno = 0;
	curl_easy_getinfo(c->h, CURLINFO_OS_ERRNO, &os_errno);
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	if (rc == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED)
		set_result(r, STATUS_CRITICAL, "%s:%d: connection refused", t->host, t->port);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		set_result(r, STATUS_CRITICAL, "%s:%d: timed out connecting (%s)", t->host, t->port, detail);
	else if (t->tls && (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
			    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
			    rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_ISSUER_ERROR))
		set_result(r, STATUS_CRITICAL, "%s:%d: TLS failure: %s", t->host, t->port, detail);
	else
		set_result(r, STATUS_CRITICAL, "%s:%d: %s", t->host, t->port, detail);
}

static void run_one(const struct tcp_probe *t, struct tcp_result *r)
{
	struct tcp_conn c = {.fd = CURL_SOCKET_BAD};
	int64_t start = now_monotonic_ms();
	int64_t timeout = t->timeout_ms > 0 ? t->timeout_ms : HTTP_TIMEOUT_DEFAULT_MS;
	c.deadline = start + timeout;
	if (run_deadline() >= 0 && run_deadline() < c.deadline) {
		c.deadline = run_deadline();
		timeout = c.deadline > start ? c.deadline - start : 1;
	}
	conn_setup(&c, t, r, timeout);
	CURLcode rc = curl_easy_perform(c.h);
	curl_off_t us;
	if (curl_easy_getinfo(c.h, CURLINFO_CONNECT_TIME_T, &us) == CURLE_OK)
		r->connect_ms = (double)us / 1000.0;
	if (curl_easy_getinfo(c.h, CURLINFO_APPCONNECT_TIME_T, &us) == CURLE_OK && us > 0)
		r->tls_ms = (double)us / 1000.0;
	if (rc != CURLE_OK)
		set_connect_failure(t, &c, rc, r);
	else
		exchange(&c, t, r);
	if (r->status != STATUS_OK && run_deadline_passed())
		set_result(r, STATUS_UNKNOWN, "%s:%d: the run's timeout (-t) passed before this probe finished",
			   t->host, t->port);
	r->total_ms = (double)(now_monotonic_ms() - start);
	if (t->redis && r->status == STATUS_OK) {
		char msg[400];
		enum status verdict = redis_verdict(t, r, msg, sizeof msg);
		set_result(r, verdict, "%s", msg);
	}
	curl_easy_cleanup(c.h);
	curl_slist_free_all(c.connect_to);
	free(c.url);
}

/* A pool of at most `parallel` threads taking the probes in order. */
struct tcp_batch {
	struct tcp_probe *const *probes;
	struct tcp_result *results;
	size_t n, next;
	pthread_mutex_t lock;
	pthread_t *threads;
	size_t n_threads;
};

static void *worker_main(void *arg)
{
	struct tcp_batch *b = arg;
	for (;;) {
		pthread_mutex_lock(&b->lock);
		size_t i = b->next < b->n ? b->next++ : b->n;
		pthread_mutex_unlock(&b->lock);
		if (i == b->n)
			return NULL;
		run_one(b->probes[i], &b->results[i]);
	}
}

struct tcp_batch *tcp_start_all(struct tcp_probe *const *probes, struct tcp_result *results, size_t n,
				int parallel)
{
	struct tcp_batch *b = ecalloc(1, sizeof *b);
	b->probes = probes;
	b->results = results;
	b->n = n;
	pthread_mutex_init(&b->lock, NULL);
	for (size_t i = 0; i < n; i++)
		memset(&results[i], 0, sizeof results[i]);
	b->n_threads = n < (size_t)(parallel > 0 ? parallel : 16) ? n : (size_t)(parallel > 0 ? parallel : 16);
	b->threads = ecalloc(b->n_threads + 1, sizeof *b->threads);
	for (size_t i = 0; i < b->n_threads; i++)
		if (pthread_create(&b->threads[i], NULL, worker_main, b) != 0)
			die(EXIT_UNKNOWN, "unable to start a thread for the TCP probes");
	return b;
}

void tcp_join_all(struct tcp_batch *b)
{
	for (size_t i = 0; i < b->n_threads; i++)
		pthread_join(b->threads[i], NULL);
	pthread_mutex_destroy(&b->lock);
	free(b->threads);
	free(b);
}
