/* faultsrv — the project's fault-injecting HTTP/TCP server for tests, on 127.0.0.1 only. */
/*
 * NAME
 *     faultsrv - scriptable fault-injecting HTTP server and TCP line service
 *
 * SYNOPSIS
 *     faultsrv [--port N] [--port-file FILE] [--record-dir DIR]
 *              [--tcp-port N] [--tcp-port-file FILE] [--tcp-banner TEXT]
 *              [--silent] [-v]
 *     faultsrv --free-port
 *
 * DESCRIPTION
 *     Serves HTTP/1.1 on 127.0.0.1:N (N = 0, the default, picks a free port).
 *     Once listening, the bound port is written to --port-file atomically
 *     (temporary file + rename), so a test waits for that file to appear.
 *     SIGTERM and SIGINT end the server with status 0.
 *
 *     One detached thread per connection: a hung or slow connection never
 *     blocks another. Keep-alive is supported for the ordinary routes
 *     (HTTP/1.1 without "Connection: close"); the fault routes (/hang, /reset,
 *     /slowbody, /garbage), every error response and every HTTP/1.0 request
 *     close the connection after the response. A connection idle for 60 s
 *     while the server waits for a request is closed.
 *
 *     Limits: request head 64 KiB (431 beyond), body 16 MiB (413 beyond),
 *     200 header fields. Malformed requests (request line, header syntax,
 *     Content-Length, chunk framing, percent escapes) get 400 and a close;
 *     a Transfer-Encoding other than "chunked" gets 501. "Expect:
 *     100-continue" is answered with 100 Continue.
 *
 *     Query parameters are percent-decoded; "+" is a literal plus sign.
 *     HEAD requests get the headers of the GET response and no body.
 *
 * ROUTES
 *     /status/CODE[?body=TEXT&ctype=TYPE&header=Name:Value...]
 *         Respond with CODE (200-999). Default body "CODE Reason\n",
 *         text/plain. header= may be repeated. No body for 204 and 304.
 *     /delay/MS           wait MS (at most 3600000) then 200 "ok".
 *     /hang               read the request, then never answer; the
 *                         connection is closed when the client closes it.
 *     /reset[?after_ms=M] send a 200 status line and headers with
 *                         Content-Length: 1000, 100 bytes of body, wait M ms
 *                         (default 50), then reset the connection (RST).
 *     /slowbody?bytes=N&interval_ms=M&chunk=K
 *                         200 with Content-Length N (default 10); the headers
 *                         at once, then K bytes (default 1) every M ms
 *                         (default 100).
 *     /big/BYTES          200 with a body of BYTES bytes of 'x'.
 *     /garbage            read the request, write non-HTTP bytes, close.
 *     /json[?body=JSON&code=CODE]
 *                         CODE (default 200), application/json, body
 *                         (default {"status":"ok"}); not validated, so
 *                         broken JSON can be served on purpose.
 *     /seq/NAME?codes=500,500,200[&body=TEXT]
 *                         the nth request for NAME gets the nth code; the
 *                         last code repeats. Body (default) is JSON
 *                         {"name":..,"request":n,"status":code}.
 *     /record/NAME[?retry_after=S&body=TEXT]
 *                         any method, body by Content-Length or chunked.
 *                         Appends one JSON document per request to
 *                         RECORD_DIR/NAME.jsonl (each line written whole
 *                         under a lock, then fsync):
 *                           {"name","seq","time","method","target","path",
 *                            "query","version","headers":{lowercased name:
 *                            value, repeats joined by ", "},"body" (UTF-8
 *                            text) or "body_base64","body_length",
 *                            "json" (the body parsed, when it is JSON),
 *                            "status" (the code answered; 0 = hung)}
 *                         then answers with the mode set for NAME (default
 *                         200 "ok"). retry_after=S adds "Retry-After: S".
 *                         Without --record-dir requests are only counted.
 *     /_ctl/mode/NAME?codes=500,429,200&retry_after=S&delay_ms=N&hang=1&body=T
 *                         set the answers of /record/NAME: the code sequence
 *                         (sticky: the last repeats; position restarts at
 *                         the first code), Retry-After on answers >= 400,
 *                         a delay before answering, or never answer (hang).
 *                         No parameters: back to 200.
 *     /_ctl/count/NAME    text: the number of requests recorded for NAME.
 *     /_ctl/reset[/NAME]  clear all state (or NAME's): sequences, modes,
 *                         counts, and the NAME.jsonl files this server wrote.
 *     /_ctl/health        200 "ok".
 *     /delay, /status, /json, /big and /seq also take delay_ms=N.
 *     Anything else: 404.
 *
 *     TCP line service on --tcp-port (0 = free port, reported in
 *     --tcp-port-file): on connect sends TEXT "\r\n" if --tcp-banner TEXT was
 *     given, then answers each line: "PING" -> "+PONG\r\n", "QUIT" -> close,
 *     anything else -> "-ERR unknown\r\n" (lines at most 8 KiB).
 *
 *     --silent: every port accepts connections and never reads or writes
 *     anything (a stand-in for a hung peer, e.g. PostgreSQL); a connection is
 *     closed only when the client closes it.
 *
 *     --free-port prints one currently free loopback TCP port (chosen outside
 *     the kernel's ephemeral range when possible) and exits.
 *
 * EXIT STATUS
 *     0 on SIGTERM/SIGINT or after --free-port; 64 usage error; 2 could not
 *     start (bind, listen, port file).
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define PROG "faultsrv"

enum {
	HEAD_MAX = 64 * 1024,
	BODY_MAX = 16 * 1024 * 1024,
	HEADERS_MAX = 200,
	NAME_LEN_MAX = 128,
	CODES_MAX = 64,
	NAMES_MAX = 10000,
	TCP_LINE_MAX = 8192,
	CHUNK_LINE_MAX = 4096,
	IDLE_TIMEOUT_MS = 60000,
	IO_TIMEOUT_MS = 60000,
	DELAY_MAX_MS = 3600000,
	THREAD_STACK = 512 * 1024,
	EXIT_USAGE = 64,
	EXIT_START = 2,
};

/* What a handler wants done with the connection afterwards. */
enum after { KEEP_OPEN, CLOSE, GONE };

struct header {
	char *name;
	char *value;
};

struct param {
	char *key;
	char *value;
};

struct request {
	char *head; /* owned copy of the request head, split in place */
	char *method, *target, *query;
	char *path; /* owned: target up to '?' */
	int minor;  /* HTTP/1.minor */
	struct header headers[HEADERS_MAX];
	size_t nheaders;
	struct param *params; /* owned, decoded */
	size_t nparams;
	char *body; /* owned, NUL-terminated, may be NULL */
	size_t body_len;
	bool keep_alive;
	bool is_head;
};

struct conn {
	int fd;
	size_t start, len; /* unread bytes are buf[start, len) */
	char buf[HEAD_MAX];
};

struct named {
	struct named *next;
	char name[NAME_LEN_MAX + 1];
	unsigned long seq_hits;
	unsigned long recorded;
	unsigned long mode_hits;
	int codes[CODES_MAX];
	size_t ncodes;
	long retry_after; /* -1: none */
	unsigned long delay_ms;
	bool hang;
	char *body; /* owned, NULL: default */
	bool file_written;
};

struct strbuf {
	char *p;
	size_t len, cap;
};

static int verbose;
static bool silent;
static const char *record_dir;
static const char *tcp_banner;
static volatile sig_atomic_t stop_signal;

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
/* Serialises recording so lines never interleave and counts follow the file. */
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static struct named *names;
static size_t nnames;

__attribute__((format(printf, 1, 2))) static void logmsg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s\n", line);
}

static void *emalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		logmsg("out of memory");
		abort();
	}
	return p;
}

static void *erealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (!p) {
		logmsg("out of memory");
		abort();
	}
	return p;
}

static char *estrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(emalloc(n), s, n);
}

static void sb_append(struct strbuf *sb, const void *data, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;

		while (cap < sb->len + n + 1)
			cap *= 2;
		sb->p = erealloc(sb->p, cap);
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, data, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		sb_append(sb, small, (size_t)n);
		return;
	}
	char *big = emalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb_append(sb, big, (size_t)n);
	free(big);
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Strict decimal: digits only, no sign, at most max. */
static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned long d = (unsigned long)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* Field value: visible characters, space, tab and obs-text; no CR/LF/NUL. */
static bool is_field_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* A NAME of /seq, /record and /_ctl is also a file name: keep it plain. */
static bool is_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_LEN_MAX || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode n bytes of s; NULL on a bad escape or an encoded NUL. */
static char *percent_decode(const char *s, size_t n)
{
	char *out = emalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n) {
			free(out);
			return NULL;
		}
		int hi = hexval((unsigned char)s[i + 1]);
		int lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

static const char *reason_phrase(int code)
{
	static const struct {
		int code;
		const char *text;
	} table[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 204, "No Content" }, { 206, "Partial Content" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 303, "See Other" }, { 304, "Not Modified" },
		{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 408, "Request Timeout" }, { 409, "Conflict" },
		{ 410, "Gone" }, { 413, "Content Too Large" }, { 415, "Unsupported Media Type" },
		{ 418, "I'm a teapot" }, { 422, "Unprocessable Content" }, { 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].code == code)
			return table[i].text;
	return "Unknown";
}

/* ---- socket I/O ---------------------------------------------------------- */

/* Wait for fd to be readable; 1 ready, 0 timeout, -1 error. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	return r;
}

static int send_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read more bytes into the buffer: >0 read, 0 EOF, -1 error or timeout, -2 buffer full. */
static int conn_fill(struct conn *c, int timeout_ms)
{
	if (c->start > 0 && c->len == sizeof c->buf) {
		memmove(c->buf, c->buf + c->start, c->len - c->start);
		c->len -= c->start;
		c->start = 0;
	}
	if (c->len == sizeof c->buf)
		return -2;
	if (wait_readable(c->fd, timeout_ms) <= 0)
		return -1;
	for (;;) {
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		c->len += (size_t)r;
		return r > 0 ? 1 : 0;
	}
}

static void conn_compact(struct conn *c)
{
	if (c->start == 0)
		return;
	memmove(c->buf, c->buf + c->start, c->len - c->start);
	c->len -= c->start;
	c->start = 0;
}

/* Copy exactly n bytes of the stream to dst; 0 ok, -1 EOF/error/timeout. */
static int conn_read_exact(struct conn *c, char *dst, size_t n)
{
	size_t have = c->len - c->start;
	size_t take = have < n ? have : n;

	memcpy(dst, c->buf + c->start, take);
	c->start += take;
	dst += take;
	n -= take;
	while (n > 0) {
		if (wait_readable(c->fd, IO_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t r = recv(c->fd, dst, n, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		dst += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One line (without CRLF) into line[max]; 0 ok, -1 EOF/error/timeout, -2 too long. */
static int conn_read_line(struct conn *c, char *line, size_t max, int timeout_ms)
{
	size_t scanned = 0;

	conn_compact(c);
	for (;;) {
		char *nl = memchr(c->buf + c->start + scanned, '\n', c->len - c->start - scanned);
		if (nl) {
			size_t n = (size_t)(nl - (c->buf + c->start));
			size_t keep = n;
			if (keep > 0 && c->buf[c->start + keep - 1] == '\r')
				keep--;
			if (keep >= max)
				return -2;
			memcpy(line, c->buf + c->start, keep);
			line[keep] = '\0';
			c->start += n + 1;
			return 0;
		}
		scanned = c->len - c->start;
		if (scanned >= max + 1)
			return -2;
		int r = conn_fill(c, timeout_ms);
		if (r <= 0)
			return r == -2 ? -2 : -1;
	}
}

/* ---- request parsing ----------------------------------------------------- */

static void request_free(struct request *rq)
{
	free(rq->head);
	free(rq->path);
	for (size_t i = 0; i < rq->nparams; i++) {
		free(rq->params[i].key);
		free(rq->params[i].value);
	}
	free(rq->params);
	free(rq->body);
	memset(rq, 0, sizeof *rq);
}

static const char *header_get(const struct request *rq, const char *name)
{
	for (size_t i = 0; i < rq->nheaders; i++)
		if (strcasecmp(rq->headers[i].name, name) == 0)
			return rq->headers[i].value;
	return NULL;
}

static const char *param_get(const struct request *rq, const char *key)
{
	for (size_t i = 0; i < rq->nparams; i++)
		if (strcmp(rq->params[i].key, key) == 0)
			return rq->params[i].value;
	return NULL;
}

static bool has_token(const char *list, const char *token)
{
	size_t tl = strlen(token);

	while (list && *list) {
		while (*list == ' ' || *list == '\t' || *list == ',')
			list++;
		size_t n = strcspn(list, ",");
		size_t m = n;
		while (m > 0 && (list[m - 1] == ' ' || list[m - 1] == '\t'))
			m--;
		if (m == tl && strncasecmp(list, token, tl) == 0)
			return true;
		list += n;
	}
	return false;
}

static bool parse_query(struct request *rq)
{
	const char *q = rq->query;

	while (q && *q) {
		size_t n = strcspn(q, "&");
		if (n > 0) {
			const char *eq = memchr(q, '=', n);
			size_t kn = eq ? (size_t)(eq - q) : n;
			char *key = percent_decode(q, kn);
			char *value = eq ? percent_decode(eq + 1, n - kn - 1) : estrdup("");
			if (!key || !value) {
				free(key);
				free(value);
				return false;
			}
			rq->params = erealloc(rq->params, (rq->nparams + 1) * sizeof *rq->params);
			rq->params[rq->nparams].key = key;
			rq->params[rq->nparams].value = value;
			rq->nparams++;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return true;
}

/*
 * Parse the head (head_len bytes, terminator included) into rq.
 * Returns 0, or the HTTP status to answer with (400, 505).
 */
static int parse_head(struct request *rq, const char *data, size_t head_len)
{
	char *line, *next, *p;

	rq->head = emalloc(head_len + 1);
	memcpy(rq->head, data, head_len);
	rq->head[head_len] = '\0';

	line = rq->head;
	next = strchr(line, '\n');
	*next++ = '\0';
	if (next - line >= 2 && next[-2] == '\r')
		next[-2] = '\0';

	/* request line: METHOD SP TARGET SP HTTP/1.x */
	rq->method = line;
	p = strchr(line, ' ');
	if (!p)
		return 400;
	*p++ = '\0';
	rq->target = p;
	p = strchr(p, ' ');
	if (!p)
		return 400;
	*p++ = '\0';
	if (!is_token(rq->method) || rq->target[0] != '/')
		return 400;
	for (const char *t = rq->target; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 400;
	if (strncmp(p, "HTTP/", 5) != 0 || !isdigit((unsigned char)p[5]) || p[6] != '.' ||
	    !isdigit((unsigned char)p[7]) || p[8] != '\0')
		return 400;
	if (p[5] != '1')
		return 505;
	rq->minor = p[7] - '0';
	rq->is_head = strcmp(rq->method, "HEAD") == 0;

	/* header fields */
	for (line = next; *line; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		if (next - line >= 2 && next[-2] == '\r')
			next[-2] = '\0';
		if (*line == '\0')
			break; /* end of head */
		if (*line == ' ' || *line == '\t')
			return 400; /* obsolete line folding */
		char *colon = strchr(line, ':');
		if (!colon)
			return 400;
		*colon = '\0';
		char *value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		size_t vl = strlen(value);
		while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
			value[--vl] = '\0';
		if (!is_token(line) || !is_field_value(value))
			return 400;
		if (rq->nheaders == HEADERS_MAX)
			return 431;
		rq->headers[rq->nheaders].name = line;
		rq->headers[rq->nheaders].value = value;
		rq->nheaders++;
	}

	char *qmark = strchr(rq->target, '?');
	size_t plen = qmark ? (size_t)(qmark - rq->target) : strlen(rq->target);
	rq->path = emalloc(plen + 1);
	memcpy(rq->path, rq->target, plen);
	rq->path[plen] = '\0';
	rq->query = qmark ? qmark + 1 : NULL;
	if (!parse_query(rq))
		return 400;

	const char *connection = header_get(rq, "Connection");
	rq->keep_alive = rq->minor >= 1 && !has_token(connection, "close");
	return 0;
}

/*
 * Wait for a complete request head; *head_len is its length with the
 * terminating empty line. Returns 0, -1 (EOF/timeout before a request: close
 * silently) or an HTTP status to answer with.
 */
static int read_head(struct conn *c, size_t *head_len)
{
	size_t scanned = 0, checked = 0;
	bool first_line_ok = false;

	conn_compact(c);
	for (;;) {
		/* Tolerate empty lines before a request (RFC 9112 2.2). */
		while (c->start < c->len && (c->buf[c->start] == '\r' || c->buf[c->start] == '\n')) {
			c->start++;
			scanned = checked = 0;
		}
		const char *b = c->buf + c->start;
		size_t n = c->len - c->start;

		/* Bytes that cannot be a request line (TLS, binary): answer now. */
		if (!first_line_ok) {
			for (size_t i = checked; i < n; i++) {
				unsigned char ch = (unsigned char)b[i];
				if (ch == '\n') {
					first_line_ok = true;
					break;
				}
				if ((ch < 0x20 && ch != '\r' && ch != '\t') || ch >= 0x7f)
					return 400;
			}
			checked = n;
		}
		for (size_t i = scanned; i < n; i++) {
			if (b[i] != '\n')
				continue;
			if (i + 1 < n && b[i + 1] == '\n') {
				*head_len = i + 2;
				return 0;
			}
			if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n') {
				*head_len = i + 3;
				return 0;
			}
		}
		scanned = n > 2 ? n - 2 : 0;
		int r = conn_fill(c, IDLE_TIMEOUT_MS);
		if (r == -2)
			return 431;
		if (r <= 0)
			return n == 0 ? -1 : (r == 0 ? 400 : -1);
	}
}

static int append_body(struct request *rq, struct conn *c, size_t n)
{
	if (rq->body_len + n > BODY_MAX)
		return 413;
	rq->body = erealloc(rq->body, rq->body_len + n + 1);
	if (conn_read_exact(c, rq->body + rq->body_len, n) == -1)
		return -1;
	rq->body_len += n;
	rq->body[rq->body_len] = '\0';
	return 0;
}

static int read_chunked(struct request *rq, struct conn *c)
{
	char line[CHUNK_LINE_MAX];

	for (;;) {
		int r = conn_read_line(c, line, sizeof line, IO_TIMEOUT_MS);
		if (r == -2)
			return 400;
		if (r < 0)
			return -1;
		unsigned long long size = 0;
		const char *p = line;
		if (hexval((unsigned char)*p) < 0)
			return 400;
		for (; hexval((unsigned char)*p) >= 0; p++) {
			size = size * 16 + (unsigned long long)hexval((unsigned char)*p);
			if (size > BODY_MAX)
				return 413;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != ';')
			return 400;
		if (size == 0)
			break;
		r = append_body(rq, c, (size_t)size);
		if (r != 0)
			return r;
		r = conn_read_line(c, line, sizeof line, IO_TIMEOUT_MS);
		if (r == -2 || (r == 0 && line[0] != '\0'))
			return 400;
		if (r < 0)
			return -1;
	}
	/* trailer section, bounded by the line and header limits */
	for (size_t i = 0;; i++) {
		int r = conn_read_line(c, line, sizeof line, IO_TIMEOUT_MS);
		if (r == -2 || i > HEADERS_MAX)
			return 400;
		if (r < 0)
			return -1;
		if (line[0] == '\0')
			break;
	}
	if (!rq->body) {
		rq->body = estrdup("");
		rq->body_len = 0;
	}
	return 0;
}

/* Returns 0, -1 (connection lost), or an HTTP status to answer with. */
static int read_body(struct request *rq, struct conn *c)
{
	const char *te = NULL, *cl = NULL;
	unsigned long length = 0;

	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct header *h = &rq->headers[i];
		if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
			if (te)
				return 400;
			te = h->value;
		} else if (strcasecmp(h->name, "Content-Length") == 0) {
			unsigned long v;
			if (!parse_ulong(h->value, (unsigned long)-1 / 2, &v))
				return 400;
			if (cl && v != length)
				return 400;
			cl = h->value;
			length = v;
		}
	}
	if (te && (cl || rq->minor == 0))
		return 400;
	if (te && strcasecmp(te, "chunked") != 0)
		return 501;
	if (cl && length > BODY_MAX)
		return 413;

	const char *expect = header_get(rq, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0 && rq->minor >= 1 && (te || length > 0)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (send_all(c->fd, cont, sizeof cont - 1) == -1)
			return -1;
	}
	if (te)
		return read_chunked(rq, c);
	if (cl) {
		rq->body = emalloc(length + 1);
		rq->body[0] = '\0';
		if (conn_read_exact(c, rq->body, length) == -1)
			return -1;
		rq->body_len = length;
		rq->body[length] = '\0';
	}
	return 0;
}

/* ---- responses ----------------------------------------------------------- */

static bool code_has_body(int code)
{
	return code != 204 && code != 304;
}

/* Status line and headers; extra holds complete "Name: value\r\n" lines. */
static void build_head(struct strbuf *sb, int code, const char *ctype, const char *extra, size_t body_len,
		       bool keep_alive)
{
	sb_printf(sb, "HTTP/1.1 %d %s\r\nServer: faultsrv\r\n", code, reason_phrase(code));
	if (code_has_body(code)) {
		sb_printf(sb, "Content-Type: %s\r\n", ctype ? ctype : "text/plain");
		sb_printf(sb, "Content-Length: %zu\r\n", body_len);
	}
	sb_puts(sb, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
	if (extra)
		sb_puts(sb, extra);
	sb_puts(sb, "\r\n");
}

static enum after respond(struct conn *c, const struct request *rq, int code, const char *ctype, const char *extra,
			  const char *body, size_t body_len)
{
	struct strbuf sb = { 0 };
	bool keep = rq && rq->keep_alive;

	if (!code_has_body(code))
		body_len = 0;
	build_head(&sb, code, ctype, extra, body_len, keep);
	if (body && body_len > 0 && !(rq && rq->is_head))
		sb_append(&sb, body, body_len);
	int r = send_all(c->fd, sb.p, sb.len);
	free(sb.p);
	if (verbose)
		logmsg("%s %s -> %d", rq ? rq->method : "-", rq ? rq->target : "-", code);
	return r == 0 && keep ? KEEP_OPEN : CLOSE;
}

static enum after respond_text(struct conn *c, const struct request *rq, int code, const char *text)
{
	return respond(c, rq, code, "text/plain", NULL, text, strlen(text));
}

static enum after respond_error(struct conn *c, const struct request *rq, int code)
{
	char text[96];

	snprintf(text, sizeof text, "%d %s\n", code, reason_phrase(code));
	return respond(c, rq, code, "text/plain", NULL, text, strlen(text));
}

/* Optional numeric parameter; false (and a 400 to send) when malformed. */
static bool opt_ulong(const struct request *rq, const char *key, unsigned long max, unsigned long *out)
{
	const char *v = param_get(rq, key);

	if (!v)
		return true;
	return parse_ulong(v, max, out);
}

static bool parse_codes(const char *list, int *codes, size_t *ncodes)
{
	size_t n = 0;

	while (*list) {
		char item[8];
		size_t len = strcspn(list, ",");
		unsigned long v;
		if (len == 0 || len >= sizeof item || n == CODES_MAX)
			return false;
		memcpy(item, list, len);
		item[len] = '\0';
		if (!parse_ulong(item, 999, &v) || v < 200)
			return false;
		codes[n++] = (int)v;
		list += len;
		if (*list == ',' && *++list == '\0')
			return false;
	}
	*ncodes = n;
	return n > 0;
}

/* ---- named state (/seq, /record, /_ctl) ---------------------------------- */

/* Caller holds state_lock. NULL when the name table is full. */
static struct named *named_get(const char *name)
{
	struct named *n;

	for (n = names; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	if (nnames == NAMES_MAX)
		return NULL;
	n = emalloc(sizeof *n);
	memset(n, 0, sizeof *n);
	snprintf(n->name, sizeof n->name, "%s", name);
	n->retry_after = -1;
	n->next = names;
	names = n;
	nnames++;
	return n;
}

static void record_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s.jsonl", record_dir, name);
}

/* Caller holds record_lock and state_lock. */
static void named_forget(struct named **link)
{
	struct named *n = *link;

	if (n->file_written && record_dir) {
		char path[4096];
		record_path(path, sizeof path, n->name);
		if (unlink(path) == -1 && errno != ENOENT)
			logmsg("unable to remove %s: %s", path, strerror(errno));
	}
	*link = n->next;
	free(n->body);
	free(n);
	nnames--;
}

/* ---- route handlers ------------------------------------------------------ */

static bool apply_delay_param(const struct request *rq)
{
	unsigned long ms = 0;

	if (!opt_ulong(rq, "delay_ms", DELAY_MAX_MS, &ms))
		return false;
	if (ms > 0)
		sleep_ms(ms);
	return true;
}

static enum after route_status(struct conn *c, const struct request *rq, const char *code_text)
{
	unsigned long code;
	struct strbuf extra = { 0 };
	enum after result;

	if (!parse_ulong(code_text, 999, &code) || code < 200 || !apply_delay_param(rq))
		return respond_error(c, rq, 400);
	for (size_t i = 0; i < rq->nparams; i++) {
		if (strcmp(rq->params[i].key, "header") != 0)
			continue;
		const char *h = rq->params[i].value;
		const char *colon = strchr(h, ':');
		if (!colon) {
			free(extra.p);
			return respond_error(c, rq, 400);
		}
		char *name = emalloc((size_t)(colon - h) + 1);
		memcpy(name, h, (size_t)(colon - h));
		name[colon - h] = '\0';
		const char *value = colon + 1;
		while (*value == ' ')
			value++;
		if (!is_token(name) || !is_field_value(value)) {
			free(name);
			free(extra.p);
			return respond_error(c, rq, 400);
		}
		sb_printf(&extra, "%s: %s\r\n", name, value);
		free(name);
	}
	const char *ctype = param_get(rq, "ctype");
	if (ctype && !is_field_value(ctype)) {
		free(extra.p);
		return respond_error(c, rq, 400);
	}
	const char *body = param_get(rq, "body");
	char fallback[96];
	if (!body) {
		snprintf(fallback, sizeof fallback, "%lu %s\n", code, reason_phrase((int)code));
		body = fallback;
	}
	result = respond(c, rq, (int)code, ctype, extra.p, body, strlen(body));
	free(extra.p);
	return result;
}

static enum after route_delay(struct conn *c, const struct request *rq, const char *ms_text)
{
	unsigned long ms;

	if (!parse_ulong(ms_text, DELAY_MAX_MS, &ms))
		return respond_error(c, rq, 400);
	sleep_ms(ms);
	return respond_text(c, rq, 200, "ok");
}

/* Never answer; return once the client has gone. */
static enum after route_hang(struct conn *c)
{
	char scratch[4096];

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };
		int r = poll(&p, 1, -1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
			return CLOSE;
		ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
			return CLOSE;
	}
}

static enum after route_reset(struct conn *c, const struct request *rq)
{
	unsigned long after_ms = 50;
	char part[100];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	static const char head[] = "HTTP/1.1 200 OK\r\nServer: faultsrv\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 1000\r\nConnection: close\r\n\r\n";

	if (!opt_ulong(rq, "after_ms", DELAY_MAX_MS, &after_ms))
		return respond_error(c, rq, 400);
	memset(part, 'x', sizeof part);
	if (send_all(c->fd, head, sizeof head - 1) == 0)
		send_all(c->fd, part, sizeof part);
	sleep_ms(after_ms);
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c->fd);
	c->fd = -1;
	return GONE;
}

static enum after route_slowbody(struct conn *c, const struct request *rq)
{
	unsigned long bytes = 10, interval = 100, chunk = 1;
	struct strbuf sb = { 0 };
	char block[4096];

	if (!opt_ulong(rq, "bytes", BODY_MAX, &bytes) || !opt_ulong(rq, "interval_ms", DELAY_MAX_MS, &interval) ||
	    !opt_ulong(rq, "chunk", BODY_MAX, &chunk) || chunk == 0)
		return respond_error(c, rq, 400);
	build_head(&sb, 200, "text/plain", NULL, bytes, false);
	int r = send_all(c->fd, sb.p, sb.len);
	free(sb.p);
	memset(block, 'x', sizeof block);
	while (r == 0 && bytes > 0 && !rq->is_head) {
		unsigned long n = bytes < chunk ? bytes : chunk;
		sleep_ms(interval);
		bytes -= n;
		while (r == 0 && n > 0) {
			size_t part = n < sizeof block ? n : sizeof block;
			r = send_all(c->fd, block, part);
			n -= part;
		}
	}
	return CLOSE;
}

static enum after route_big(struct conn *c, const struct request *rq, const char *bytes_text)
{
	unsigned long bytes;
	struct strbuf sb = { 0 };
	char block[65536];

	if (!parse_ulong(bytes_text, 1UL << 40, &bytes) || !apply_delay_param(rq))
		return respond_error(c, rq, 400);
	build_head(&sb, 200, "application/octet-stream", NULL, bytes, rq->keep_alive);
	int r = send_all(c->fd, sb.p, sb.len);
	free(sb.p);
	memset(block, 'x', sizeof block);
	while (r == 0 && bytes > 0 && !rq->is_head) {
		size_t n = bytes < sizeof block ? bytes : sizeof block;
		r = send_all(c->fd, block, n);
		bytes -= n;
	}
	return r == 0 && rq->keep_alive ? KEEP_OPEN : CLOSE;
}

static enum after route_garbage(struct conn *c)
{
	static const char junk[] = "\x16\x03\x01\x00\xff garbage, not HTTP \x00\x01\x02\xfe\xff\r\n\r\n";

	send_all(c->fd, junk, sizeof junk - 1);
	return CLOSE;
}

static enum after route_json(struct conn *c, const struct request *rq)
{
	unsigned long code = 200;
	const char *body = param_get(rq, "body");

	if (!opt_ulong(rq, "code", 999, &code) || code < 200 || !apply_delay_param(rq))
		return respond_error(c, rq, 400);
	if (!body)
		body = "{\"status\":\"ok\"}";
	return respond(c, rq, (int)code, "application/json", NULL, body, strlen(body));
}

static enum after route_seq(struct conn *c, const struct request *rq, const char *name)
{
	int codes[CODES_MAX];
	size_t ncodes;
	const char *list = param_get(rq, "codes");
	unsigned long hit;
	struct named *n;

	if (!is_valid_name(name) || !list || !parse_codes(list, codes, &ncodes) || !apply_delay_param(rq))
		return respond_error(c, rq, 400);
	pthread_mutex_lock(&state_lock);
	n = named_get(name);
	hit = n ? n->seq_hits++ : 0;
	pthread_mutex_unlock(&state_lock);
	if (!n)
		return respond_error(c, rq, 503);

	int code = codes[hit < ncodes ? hit : ncodes - 1];
	const char *body = param_get(rq, "body");
	char json[256];
	if (body)
		return respond_text(c, rq, code, body);
	snprintf(json, sizeof json, "{\"name\":\"%s\",\"request\":%lu,\"status\":%d}", name, hit + 1, code);
	return respond(c, rq, code, "application/json", NULL, json, strlen(json));
}

static bool is_utf8_text(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		size_t extra;
		unsigned long cp;
		if (ch == 0)
			return false;
		if (ch < 0x80) {
			i++;
			continue;
		} else if ((ch & 0xe0) == 0xc0) {
			extra = 1;
			cp = ch & 0x1f;
		} else if ((ch & 0xf0) == 0xe0) {
			extra = 2;
			cp = ch & 0x0f;
		} else if ((ch & 0xf8) == 0xf0) {
			extra = 3;
			cp = ch & 0x07;
		} else {
			return false;
		}
		if (i + extra >= n)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			unsigned char cc = (unsigned char)s[i + k];
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += extra + 1;
	}
	return true;
}

static char *base64_encode(const char *data, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = emalloc((n + 2) / 3 * 4 + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)(unsigned char)data[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)(unsigned char)data[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)data[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static void rfc3339_now(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

static char *record_document(const struct request *rq, const char *name, unsigned long seq, int code)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *headers = cJSON_CreateObject();
	char now[48];
	char version[4] = { '1', '.', (char)('0' + rq->minor), '\0' };

	rfc3339_now(now, sizeof now);
	cJSON_AddStringToObject(doc, "name", name);
	cJSON_AddNumberToObject(doc, "seq", (double)seq);
	cJSON_AddStringToObject(doc, "time", now);
	cJSON_AddStringToObject(doc, "method", rq->method);
	cJSON_AddStringToObject(doc, "target", rq->target);
	cJSON_AddStringToObject(doc, "path", rq->path);
	cJSON_AddStringToObject(doc, "query", rq->query ? rq->query : "");
	cJSON_AddStringToObject(doc, "version", version);
	for (size_t i = 0; i < rq->nheaders; i++) {
		char *lower = estrdup(rq->headers[i].name);
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		cJSON *old = cJSON_GetObjectItemCaseSensitive(headers, lower);
		if (old) {
			struct strbuf joined = { 0 };
			sb_puts(&joined, old->valuestring);
			sb_puts(&joined, ", ");
			sb_puts(&joined, rq->headers[i].value);
			cJSON_ReplaceItemInObjectCaseSensitive(headers, lower, cJSON_CreateString(joined.p));
			free(joined.p);
		} else {
			cJSON_AddStringToObject(headers, lower, rq->headers[i].value);
		}
		free(lower);
	}
	cJSON_AddItemToObject(doc, "headers", headers);
	const char *body = rq->body ? rq->body : "";
	if (is_utf8_text(body, rq->body_len)) {
		cJSON_AddStringToObject(doc, "body", body);
		cJSON *parsed = rq->body_len > 0 ? cJSON_ParseWithOpts(body, NULL, 1) : NULL;
		if (parsed)
			cJSON_AddItemToObject(doc, "json", parsed);
	} else {
		char *b64 = base64_encode(body, rq->body_len);
		cJSON_AddStringToObject(doc, "body_base64", b64);
		free(b64);
	}
	cJSON_AddNumberToObject(doc, "body_length", (double)rq->body_len);
	cJSON_AddNumberToObject(doc, "status", code);
	char *text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!text) {
		logmsg("out of memory");
		abort();
	}
	return text;
}

/* Append line + '\n' to RECORD_DIR/NAME.jsonl and fsync. Caller holds record_lock. */
static int record_write(const char *name, const char *line)
{
	char path[4096];
	struct strbuf sb = { 0 };
	int fd, rc = -1;

	record_path(path, sizeof path, name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		logmsg("unable to open %s: %s", path, strerror(errno));
		return -1;
	}
	sb_puts(&sb, line);
	sb_puts(&sb, "\n");
	const char *p = sb.p;
	size_t left = sb.len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			logmsg("unable to write %s: %s", path, strerror(errno));
			goto out;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) == -1) {
		logmsg("unable to fsync %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(sb.p);
	close(fd);
	return rc;
}

static enum after route_record(struct conn *c, const struct request *rq, const char *name)
{
	unsigned long retry_param = 0;
	struct named *n;
	int code = 200;
	long retry_after;
	unsigned long delay_ms, seq;
	bool hang;
	char *mode_body = NULL;

	if (!is_valid_name(name) || !opt_ulong(rq, "retry_after", 86400UL * 365, &retry_param))
		return respond_error(c, rq, 400);

	pthread_mutex_lock(&record_lock);
	pthread_mutex_lock(&state_lock);
	n = named_get(name);
	if (!n) {
		pthread_mutex_unlock(&state_lock);
		pthread_mutex_unlock(&record_lock);
		return respond_error(c, rq, 503);
	}
	if (n->ncodes > 0) {
		size_t i = n->mode_hits < n->ncodes ? n->mode_hits : n->ncodes - 1;
		code = n->codes[i];
	}
	n->mode_hits++;
	hang = n->hang;
	delay_ms = n->delay_ms;
	retry_after = n->retry_after;
	mode_body = n->body ? estrdup(n->body) : NULL;
	seq = n->recorded + 1;
	pthread_mutex_unlock(&state_lock);

	int rc = 0;
	if (record_dir) {
		char *line = record_document(rq, name, seq, hang ? 0 : code);
		rc = record_write(name, line);
		free(line);
	}
	pthread_mutex_lock(&state_lock);
	if (rc == 0) {
		n->recorded = seq;
		if (record_dir)
			n->file_written = true;
	}
	pthread_mutex_unlock(&state_lock);
	pthread_mutex_unlock(&record_lock);

	if (rc != 0) {
		free(mode_body);
		return respond_error(c, rq, 500);
	}
	if (delay_ms > 0)
		sleep_ms(delay_ms);
	if (hang) {
		free(mode_body);
		return route_hang(c);
	}

	char extra[64] = "";
	if (param_get(rq, "retry_after"))
		snprintf(extra, sizeof extra, "Retry-After: %lu\r\n", retry_param);
	else if (retry_after >= 0 && code >= 400)
		snprintf(extra, sizeof extra, "Retry-After: %ld\r\n", retry_after);
	const char *body = param_get(rq, "body");
	if (!body)
		body = mode_body ? mode_body : "ok";
	enum after result = respond(c, rq, code, "text/plain", extra[0] ? extra : NULL, body, strlen(body));
	free(mode_body);
	return result;
}

static enum after route_ctl_mode(struct conn *c, const struct request *rq, const char *name)
{
	int codes[CODES_MAX] = { 200 };
	size_t ncodes = 0;
	unsigned long retry_after = 0, delay_ms = 0, hang = 0;
	const char *list = param_get(rq, "codes");
	const char *body = param_get(rq, "body");
	struct named *n;

	if (!is_valid_name(name) || (list && !parse_codes(list, codes, &ncodes)) ||
	    !opt_ulong(rq, "retry_after", 86400UL * 365, &retry_after) ||
	    !opt_ulong(rq, "delay_ms", DELAY_MAX_MS, &delay_ms) || !opt_ulong(rq, "hang", 1, &hang))
		return respond_error(c, rq, 400);
	pthread_mutex_lock(&state_lock);
	n = named_get(name);
	if (n) {
		memcpy(n->codes, codes, sizeof codes);
		n->ncodes = ncodes;
		n->mode_hits = 0;
		n->retry_after = param_get(rq, "retry_after") ? (long)retry_after : -1;
		n->delay_ms = delay_ms;
		n->hang = hang != 0;
		free(n->body);
		n->body = body ? estrdup(body) : NULL;
	}
	pthread_mutex_unlock(&state_lock);
	if (!n)
		return respond_error(c, rq, 503);
	return respond_text(c, rq, 200, "ok\n");
}

static enum after route_ctl_count(struct conn *c, const struct request *rq, const char *name)
{
	unsigned long count = 0;
	char text[32];

	if (!is_valid_name(name))
		return respond_error(c, rq, 400);
	pthread_mutex_lock(&state_lock);
	for (struct named *n = names; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			count = n->recorded;
	pthread_mutex_unlock(&state_lock);
	snprintf(text, sizeof text, "%lu\n", count);
	return respond_text(c, rq, 200, text);
}

/* name NULL: everything. */
static enum after route_ctl_reset(struct conn *c, const struct request *rq, const char *name)
{
	if (name && !is_valid_name(name))
		return respond_error(c, rq, 400);
	pthread_mutex_lock(&record_lock);
	pthread_mutex_lock(&state_lock);
	for (struct named **link = &names; *link;) {
		if (!name || strcmp((*link)->name, name) == 0)
			named_forget(link);
		else
			link = &(*link)->next;
	}
	pthread_mutex_unlock(&state_lock);
	pthread_mutex_unlock(&record_lock);
	return respond_text(c, rq, 200, "ok\n");
}

static const char *after_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 ? path + n : NULL;
}

static enum after dispatch(struct conn *c, const struct request *rq)
{
	const char *p = rq->path;
	const char *rest;

	if ((rest = after_prefix(p, "/status/")))
		return route_status(c, rq, rest);
	if ((rest = after_prefix(p, "/delay/")))
		return route_delay(c, rq, rest);
	if (strcmp(p, "/hang") == 0)
		return route_hang(c);
	if (strcmp(p, "/reset") == 0)
		return route_reset(c, rq);
	if (strcmp(p, "/slowbody") == 0)
		return route_slowbody(c, rq);
	if ((rest = after_prefix(p, "/big/")))
		return route_big(c, rq, rest);
	if (strcmp(p, "/garbage") == 0)
		return route_garbage(c);
	if (strcmp(p, "/json") == 0)
		return route_json(c, rq);
	if ((rest = after_prefix(p, "/seq/")))
		return route_seq(c, rq, rest);
	if ((rest = after_prefix(p, "/record/")))
		return route_record(c, rq, rest);
	if ((rest = after_prefix(p, "/_ctl/mode/")))
		return route_ctl_mode(c, rq, rest);
	if ((rest = after_prefix(p, "/_ctl/count/")))
		return route_ctl_count(c, rq, rest);
	if (strcmp(p, "/_ctl/reset") == 0)
		return route_ctl_reset(c, rq, NULL);
	if ((rest = after_prefix(p, "/_ctl/reset/")))
		return route_ctl_reset(c, rq, rest);
	if (strcmp(p, "/_ctl/health") == 0)
		return respond_text(c, rq, 200, "ok");
	return respond_error(c, rq, 404);
}

/* ---- connection threads -------------------------------------------------- */

/*
 * Close after a response: stop sending, then read what the client still sends
 * (bounded), so that unread request bytes do not turn our close into a reset
 * that could destroy the response before the client reads it.
 */
static void close_lingering(int fd)
{
	char scratch[16384];
	struct timespec start, now;

	shutdown(fd, SHUT_WR);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (size_t drained = 0; drained < BODY_MAX;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= 2000 || wait_readable(fd, (int)(2000 - spent)) <= 0)
			break;
		ssize_t r = recv(fd, scratch, sizeof scratch, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		drained += (size_t)r;
	}
	close(fd);
}

static void *http_thread(void *arg)
{
	struct conn *c = arg;
	struct request rq;
	enum after next = KEEP_OPEN;

	while (next == KEEP_OPEN) {
		size_t head_len;
		memset(&rq, 0, sizeof rq);
		int r = read_head(c, &head_len);
		if (r == -1)
			break;
		if (r > 0) {
			respond_error(c, NULL, r);
			break;
		}
		r = parse_head(&rq, c->buf + c->start, head_len);
		c->start += head_len;
		if (r == 0)
			r = read_body(&rq, c);
		if (r == -1) {
			request_free(&rq);
			break;
		}
		if (r > 0) {
			rq.keep_alive = false;
			respond_error(c, rq.method ? &rq : NULL, r);
			request_free(&rq);
			break;
		}
		next = dispatch(c, &rq);
		request_free(&rq);
	}
	if (c->fd != -1)
		close_lingering(c->fd);
	free(c);
	return NULL;
}

static void *tcp_line_thread(void *arg)
{
	struct conn *c = arg;
	char line[TCP_LINE_MAX];

	if (tcp_banner) {
		struct strbuf sb = { 0 };
		sb_puts(&sb, tcp_banner);
		sb_puts(&sb, "\r\n");
		int r = send_all(c->fd, sb.p, sb.len);
		free(sb.p);
		if (r == -1)
			goto out;
	}
	for (;;) {
		int r = conn_read_line(c, line, sizeof line, -1);
		if (r == -2) {
			static const char too_long[] = "-ERR line too long\r\n";
			send_all(c->fd, too_long, sizeof too_long - 1);
			break;
		}
		if (r < 0)
			break;
		if (strcasecmp(line, "QUIT") == 0)
			break;
		const char *answer = strcasecmp(line, "PING") == 0 ? "+PONG\r\n" : "-ERR unknown\r\n";
		if (send_all(c->fd, answer, strlen(answer)) == -1)
			break;
	}
out:
	close(c->fd);
	free(c);
	return NULL;
}

/* Hold the connection without reading or writing until the client closes it. */
static void *silent_thread(void *arg)
{
	struct conn *c = arg;

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };
		int r = poll(&p, 1, -1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
			break;
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void start_connection(int fd, void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t tid;
	struct conn *c = emalloc(sizeof *c);
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };
	int one = 1;

	c->fd = fd;
	c->start = c->len = 0;
	/* A client that stops reading must not pin a sending thread forever. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	int err = pthread_create(&tid, &attr, fn, c);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		logmsg("unable to start a connection thread: %s", strerror(err));
		close(fd);
		free(c);
	}
}

/* ---- listening ----------------------------------------------------------- */

static int listen_loopback(unsigned long port, int *bound_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof sa;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1) {
		logmsg("unable to create a socket: %s", strerror(errno));
		return -1;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		logmsg("unable to bind 127.0.0.1:%lu: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, SOMAXCONN) == -1 || getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
		logmsg("unable to listen on 127.0.0.1:%lu: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	*bound_port = ntohs(sa.sin_port);
	return fd;
}

/* Write the port to path via a temporary file and rename, so readers never see half a number. */
static int write_port_file(const char *path, int port)
{
	size_t n = strlen(path) + 32;
	char *tmp = emalloc(n);
	FILE *f;
	int rc = -1;

	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		logmsg("unable to create %s: %s", tmp, strerror(errno));
		goto out;
	}
	fprintf(f, "%d\n", port);
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) == -1) {
		logmsg("unable to write %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		logmsg("unable to write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static bool port_is_free(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd == -1)
		return false;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* No SO_REUSEADDR: a port with connections in TIME_WAIT is not offered. */
	ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/*
 * A port outside the ephemeral range, so that outgoing connections of the
 * tests cannot take it between now and the moment a server binds it.
 */
static int free_port(void)
{
	unsigned long lo = 32768, hi = 60999;
	struct timespec ts;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &lo, &hi) != 2) {
			lo = 32768;
			hi = 60999;
		}
		fclose(f);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long state = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^ (unsigned long)ts.tv_sec;
	for (int attempt = 0; attempt < 1000; attempt++) {
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		int port = 10000 + (int)(state % 55536);
		if ((unsigned long)port >= lo && (unsigned long)port <= hi)
			continue;
		if (port_is_free(port))
			return port;
	}
	int port;
	int fd = listen_loopback(0, &port);
	if (fd == -1)
		return -1;
	close(fd);
	return port;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " [--port N] [--port-file FILE] [--record-dir DIR] [--tcp-port N]"
		     " [--tcp-port-file FILE] [--tcp-banner TEXT] [--silent] [-v]\n"
		     "       " PROG " --free-port\n");
}

int main(int argc, char **argv)
{
	enum { OPT_PORT_FILE = 256, OPT_RECORD_DIR, OPT_TCP_PORT, OPT_TCP_PORT_FILE, OPT_TCP_BANNER, OPT_SILENT,
	       OPT_FREE_PORT };
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "record-dir", required_argument, NULL, OPT_RECORD_DIR },
		{ "tcp-port", required_argument, NULL, OPT_TCP_PORT },
		{ "tcp-port-file", required_argument, NULL, OPT_TCP_PORT_FILE },
		{ "tcp-banner", required_argument, NULL, OPT_TCP_BANNER },
		{ "silent", no_argument, NULL, OPT_SILENT },
		{ "free-port", no_argument, NULL, OPT_FREE_PORT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long port = 0, tcp_port = 0;
	bool want_tcp = false, want_free_port = false;
	const char *port_file = NULL, *tcp_port_file = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "p:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (!parse_ulong(optarg, 65535, &port)) {
				logmsg("invalid port: %s", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_PORT_FILE:
			port_file = optarg;
			break;
		case OPT_RECORD_DIR:
			record_dir = optarg;
			break;
		case OPT_TCP_PORT:
			if (!parse_ulong(optarg, 65535, &tcp_port)) {
				logmsg("invalid TCP port: %s", optarg);
				return EXIT_USAGE;
			}
			want_tcp = true;
			break;
		case OPT_TCP_PORT_FILE:
			tcp_port_file = optarg;
			want_tcp = true;
			break;
		case OPT_TCP_BANNER:
			tcp_banner = optarg;
			break;
		case OPT_SILENT:
			silent = true;
			break;
		case OPT_FREE_PORT:
			want_free_port = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_START;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	if (want_free_port) {
		int p = free_port();
		if (p < 0)
			return EXIT_START;
		printf("%d\n", p);
		return fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_START;
	}

	if (record_dir && mkdir(record_dir, 0755) == -1 && errno != EEXIST) {
		logmsg("unable to create %s: %s", record_dir, strerror(errno));
		return EXIT_START;
	}

	/* Only the main thread takes the stop signals, inside ppoll. */
	sigset_t stop_set, wait_mask;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_set, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);

	raise_fd_limit();

	struct pollfd fds[2];
	int nfds = 0, bound, tcp_bound = 0;
	fds[0].fd = listen_loopback(port, &bound);
	if (fds[0].fd == -1)
		return EXIT_START;
	fds[0].events = POLLIN;
	nfds = 1;
	if (want_tcp) {
		fds[1].fd = listen_loopback(tcp_port, &tcp_bound);
		if (fds[1].fd == -1)
			return EXIT_START;
		fds[1].events = POLLIN;
		nfds = 2;
	}
	if ((tcp_port_file && write_port_file(tcp_port_file, tcp_bound) == -1) ||
	    (port_file && write_port_file(port_file, bound) == -1))
		return EXIT_START;
	if (verbose)
		logmsg("listening on 127.0.0.1:%d%s", bound, silent ? " (silent)" : "");

	while (!stop_signal) {
		int r = ppoll(fds, (nfds_t)nfds, NULL, &wait_mask);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			logmsg("unable to wait for connections: %s", strerror(errno));
			return EXIT_START;
		}
		for (int i = 0; i < nfds; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			int fd = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd == -1) {
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
					sleep_ms(10);
				continue;
			}
			if (silent)
				start_connection(fd, silent_thread);
			else
				start_connection(fd, i == 0 ? http_thread : tcp_line_thread);
		}
	}
	if (verbose)
		logmsg("stopping on signal %d", (int)stop_signal);
	for (int i = 0; i < nfds; i++)
		close(fds[i].fd);
	/* Connection threads may still run; process exit ends them. */
	return 0;
}
