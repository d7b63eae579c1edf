#!/usr/bin/env bats
# svc-probe against real servers: nginx (statuses, redirects, JSON, TLS with
# test certificates, CORS, limit_req, security headers) and the fault server
# (delays, hangs, resets, slow and oversized bodies, garbage, TCP line service).
load helpers/common
load helpers/services

# make_short_chain DIR: a leaf valid 60 days under an intermediate of the
# test CA that expires in 10 (short-chain.crt = leaf + intermediate).
make_short_chain() {
	local d=$1 key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	printf '%s\n' basicConstraints=critical,CA:TRUE keyUsage=critical,keyCertSign,cRLSign >"$d/short-int.ext"
	printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
		extendedKeyUsage=serverAuth subjectAltName=DNS:localhost,IP:127.0.0.1 >"$d/short-leaf.ext"
	{
		openssl req -new "${key[@]}" -subj "/CN=shipshape short-lived intermediate" \
			-keyout "$d/short-int.key" -out "$d/short-int.csr" &&
			openssl x509 -req -in "$d/short-int.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -set_serial 4001 \
				-days 10 -extfile "$d/short-int.ext" -out "$d/short-int.crt" &&
			openssl req -new "${key[@]}" -subj /CN=localhost -keyout "$d/short-leaf.key" -out "$d/short-leaf.csr" &&
			openssl x509 -req -in "$d/short-leaf.csr" -CA "$d/short-int.crt" -CAkey "$d/short-int.key" \
				-set_serial 4002 -days 60 -extfile "$d/short-leaf.ext" -out "$d/short-leaf.crt"
	} >"$d/short-chain.log" 2>&1 || { cat "$d/short-chain.log" >&2; return 1; }
	cat "$d/short-leaf.crt" "$d/short-int.crt" >"$d/short-chain.crt"
}

setup_file() {
	local base=$BATS_FILE_TMPDIR
	make_test_certs "$base/nginx/certs"
	make_short_chain "$TEST_CERTS_DIR"
	export SELF_PORT EXPIRED_PORT WRONG_PORT SOON_PORT OLDTLS_PORT CHAIN_PORT LOOSE_PORT V6_PORT
	SELF_PORT=$(free_port)
	EXPIRED_PORT=$(free_port)
	WRONG_PORT=$(free_port)
	SOON_PORT=$(free_port)
	OLDTLS_PORT=$(free_port)
	CHAIN_PORT=$(free_port)
	LOOSE_PORT=$(free_port)
	V6_PORT=$(free_port)
	sed -e "s/@SELFPORT@/$SELF_PORT/; s/@EXPIREDPORT@/$EXPIRED_PORT/; s/@WRONGPORT@/$WRONG_PORT/" \
		-e "s/@SOONPORT@/$SOON_PORT/; s/@OLDTLSPORT@/$OLDTLS_PORT/; s/@CHAINPORT@/$CHAIN_PORT/" \
		-e "s/@LOOSEPORT@/$LOOSE_PORT/; s/@V6PORT@/$V6_PORT/" \
		"$BATS_TEST_DIRNAME/helpers/nginx-probe.conf" >"$base/nginx-probe.conf"
	start_nginx "$base/nginx-probe.conf" --dir "$base/nginx"
	start_faultsrv --tcp-banner "220 probe.test ESMTP"
	start_silent_port
	export CA=$TEST_CERTS_DIR/ca.crt N=$NGINX_URL TLS=https://localhost:$NGINX_TLS_PORT
	export LOOSE=http://127.0.0.1:$LOOSE_PORT
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# probe ARGS...: svc-probe with JSON output, stdout and stderr apart.
probe() {
	run --separate-stderr svc-probe --format json "$@"
}

# check NAME FIELD: a field of the named check in $output.
check() {
	json_get ".checks[] | select(.name == \"$1\") | $2"
}

# api_config: a config document for the nginx API.
api_config() {
	cat <<-EOF
		{"api": {"base_url": "$N", "health_path": "/health"},
		 "security": {"cors_origins": ["http://allowed.test"], "trusted_hosts": ["127.0.0.1", "localhost"],
		              "rate_limit": {"requests_per_minute": 10, "burst": 5}},
		 "svc_probe": {"auth_paths": ["/private"], "rate_limit_path": "/limited", "retry_after": true},
		 "deploy": {"security": {"rate_limit_burst": true}}}
	EOF
}

# ---- usage ---------------------------------------------------------------

@test "--help prints the synopsis on stdout and exits 0" {
	run --separate-stderr svc-probe --help
	assert_success
	assert_output --partial "usage: svc-probe"
	[ -z "$stderr" ]
}

@test "--help lists every option the parser takes, and so does the man page" {
	local man=$REPO_ROOT/man/man1/svc-probe.1 src=$REPO_ROOT/tools/svc-probe/main.c
	# the parser: its option table and the shared options it names (no
	# --state-dir: svc-probe keeps no state)
	parser=$({
		sed -n '/^static const struct option long_opts/,/^};/p' "$src"
		sed -n '/define STD_LONG_OPTS/,/verbose/p; /define STD_TIMEOUT_OPT/p' "$REPO_ROOT/include/shipshape/opts.h"
	} | grep -oE '\{"[a-z0-9-]+"' | sed 's/{"/--/; s/"//' | sort -u)
	# the option lines of --help (after the synopsis)
	help=$(svc-probe --help | sed '1,/^$/d' | grep -E '^  +-' | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
	assert_equal "$help" "$parser"
	# the OPTIONS section of the man page: the .TP/.TQ headings
	man_opts=$(sed -n '/^\.SH OPTIONS/,/^\.SH PROBE KEYS/p' "$man" | awk 'p {print; p = 0} /^\.T[PQ]/ {p = 1}' |
		sed 's/\\-/-/g' | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
	assert_equal "$man_opts" "$parser"
	# short options: -X -H -d -4 -6 beside their long names, in both
	rendered=$(MANWIDTH=200 man -l "$man" 2>/dev/null)
	for o in "-X, --request" "-H, --header" "-d, --data" "-4, --ipv4" "-6, --ipv6"; do
		svc-probe --help | grep -qF -- "$o" || fail "--help: $o"
		grep -qF -- "$o" <<<"$rendered" || fail "man: $o"
	done
	# the synopsis of --help and the man page's name the same options
	help_syn=$(svc-probe --help | sed -n '1,/^$/p' | grep -oE -- '(^|[ [|])--?[a-zA-Z0-9][a-z-]*' | tr -d ' [|' | sort -u)
	man_syn=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$man" | sed 's/\\-/-/g' |
		grep -oE -- '(^|[ "|])--?[a-zA-Z0-9][a-z-]*' | tr -d ' "|' | sort -u)
	assert_equal "$help_syn" "$man_syn"
}

@test "svc-probe(1) formats without mandoc or troff complaints beyond line length" {
	run --separate-stderr mandoc -Tlint "$REPO_ROOT/man/man1/svc-probe.1"
	[ -z "$(printf '%s\n' "$output" "$stderr" | grep -v 'input text line longer than 80 bytes' | grep .)" ] ||
		fail "$output $stderr"
	run --separate-stderr env MANWIDTH=80 man --warnings -l "$REPO_ROOT/man/man1/svc-probe.1"
	assert_success
	[ -z "$stderr" ] || fail "troff: $stderr"
	# a sentence never runs into a closing parenthesis: "').An"
	! grep -qE "[)'][.][A-Z]" <<<"$output" || fail "$(grep -E "[)'][.][A-Z]" <<<"$output")"
}

@test "malformed URLs and contradictory thresholds are usage errors, passwords not repeated" {
	run --separate-stderr svc-probe http://
	assert_equal "$status" 64
	assert_equal "$stderr" 'svc-probe: "http://": invalid URL (no host)'
	run --separate-stderr svc-probe "https://127.0.0.1:99999/"
	assert_equal "$status" 64
	assert_equal "$stderr" 'svc-probe: "https://127.0.0.1:99999/": invalid port (expected 1 to 65535)'
	run --separate-stderr svc-probe "http://user:pw-in-url-123@a b/"
	assert_equal "$status" 64
	assert_secret_absent pw-in-url-123 "$stderr"
	run --separate-stderr svc-probe --cert-warning 5 --cert-critical 10 "$N/ok"
	assert_equal "$status" 64
	run --separate-stderr svc-probe --latency-warning 2s --latency-critical 1s "$N/ok"
	assert_equal "$status" 64
	run --separate-stderr svc-probe --only nope "$N/ok"
	assert_equal "$status" 64
	assert_equal "$stderr" 'svc-probe: --only: no target named "nope"'
}

@test "usage errors exit 64 with one line naming the problem" {
	run --separate-stderr svc-probe --bogus "$N/ok"
	assert_equal "$status" 64
	run --separate-stderr svc-probe --status 2x5 "$N/ok"
	assert_equal "$status" 64
	assert_equal "$stderr" 'svc-probe: --status: invalid status "2x5" (expected 200, 200-299 or 2xx)'
	run --separate-stderr svc-probe ftp://127.0.0.1/
	assert_equal "$status" 64
	run --separate-stderr svc-probe --json 'status == 1' "$N/ok"
	assert_equal "$status" 64
	run --separate-stderr svc-probe --send PING
	assert_equal "$status" 64
	run --separate-stderr svc-probe --security everything "$N/ok"
	assert_equal "$status" 64
}

@test "a write error on stdout is not success" {
	run bash -c "svc-probe --format json '$N/ok' >/dev/full"
	[ "$status" -ne 0 ]
}

# ---- HTTP statuses, body, JSON, headers ----------------------------------

@test "200 is ok with status, size, HTTP version and phase timings" {
	probe --name api "$N/ok"
	assert_success
	assert_equal "$(json_get .status)" ok
	assert_equal "$(check http.api.status .data.code)" 200
	assert_equal "$(check http.api.status .data.size)" 3
	assert_equal "$(check http.api.status .data.http_version)" 1.1
	assert_equal "$(check http.api.status '.data.timings | keys | join(",")')" "connect,dns,first_byte,tls,total"
}

@test "404 and 500 are critical unless expected" {
	probe --name a "$N/missing"
	assert_equal "$status" 2
	assert_equal "$(check http.a.status .message)" "HTTP 404 (expected 2xx)"
	probe --name a --status 404,500-503 "$N/missing"
	assert_success
	probe --name a "$N/error"
	assert_equal "$status" 2
	probe --name a --status 5xx "$N/error"
	assert_success
}

@test "redirects: not followed by default, followed up to N, a loop or 'fail' is critical" {
	probe --name r "$N/redirect"
	assert_equal "$status" 2
	assert_equal "$(check http.r.status .data.code)" 302
	probe --name r --redirects 3 "$N/redirect2"
	assert_success
	assert_equal "$(check http.r.status .data.redirects)" 2
	probe --name r --redirects 1 "$N/redirect2"
	assert_equal "$status" 2
	assert_equal "$(check http.r.redirects .data.error.class)" redirect
	probe --name r --redirects 5 "$N/loop"
	assert_equal "$status" 2
	probe --name r --redirects fail "$N/redirect"
	assert_equal "$status" 2
	assert_equal "$(check http.r.redirects .status)" critical
}

@test "a 3xx judged by default names its Location and the option that follows it" {
	probe --name r "$FAULT_URL/status/302?header=Location:/ok"
	assert_equal "$status" 2
	assert_equal "$(check http.r.status .message)" "HTTP 302 to /ok (expected 2xx; --redirects N follows)"
	assert_equal "$(check http.r.status .data.location)" /ok
	probe --name r "$N/redirect"
	assert_equal "$(check http.r.status .message)" "HTTP 302 to /ok (expected 2xx; --redirects N follows)"
	probe --name r "$FAULT_URL/status/307?header=Location:http://127.0.0.1:1/ok"
	assert_equal "$(check http.r.status .message)" \
		"HTTP 307 to http://127.0.0.1:1/ok (expected 2xx; --redirects N follows)"
	# a config probe names its key; a Location's password and secret
	# parameters are masked
	probe -c <(echo "{\"probes\": [{\"name\": \"c\", \"url\": \"$FAULT_URL/status/301?header=Location:https://u:pw-in-loc-123@h.test/x%3Ftoken%3Dtok-in-loc-456\"}]}")
	assert_equal "$status" 2
	msg=$(check http.c.status .message)
	[[ $msg == "HTTP 301 to https://"*"h.test/x?token="*" (expected 2xx; redirects: N follows)" ]] || fail "$msg"
	# (the request's own URL carries them too, escaped: only what comes
	# from the Location is looked at)
	loc=$(check http.c.status .data.location)
	[[ $loc == "https://u:***@h.test/x?token=***" ]] || fail "$loc"
	assert_secret_absent pw-in-loc-123 "$msg" "$loc"
	assert_secret_absent tok-in-loc-456 "$msg" "$loc"
	# an expected 3xx is ok and still says where it points
	probe --name r --status 3xx "$FAULT_URL/status/302?header=Location:/ok"
	assert_success
	assert_equal "$(check http.r.status .message)" "HTTP 302 to /ok"
}

@test "ad hoc targets are named by host, port and path; #N only for duplicates, no credentials" {
	local hp=127.0.0.1:$NGINX_PORT
	probe "$N/ok" "$N/health"
	assert_equal "$(json_get '[.checks[].name] | join(",")')" "http.$hp/ok.status,http.$hp/health.status"
	probe "$N/ok" "$N/missing" "$N/ok"
	assert_equal "$(json_get '[.checks[].name] | join(",")')" \
		"http.$hp/ok#1.status,http.$hp/missing.status,http.$hp/ok#2.status"
	# the root is the origin alone; userinfo and the query never name a target
	probe "http://user:pw-in-name-123@$hp/?token=tok-in-name-456"
	assert_equal "$(json_get '[.checks[].name] | join(",")')" "http.$hp.status"
	assert_secret_absent pw-in-name-123 "$output" "$stderr"
	assert_secret_absent tok-in-name-456 "$output" "$stderr"
	probe --only "$hp/missing" "$N/ok" "$N/missing"
	assert_equal "$(json_get '[.checks[].name] | join(",")')" "http.$hp/missing.status"
}

@test "JSON-path assertions: equality, numbers, existence, failures" {
	probe --name j --json '.status == "ok"' --json '.db.latency_ms < 100' --json '.db.ready' \
		--json '.queue[1] >= 4' --json '.version != "1.0"' "$N/health"
	assert_success
	assert_equal "$(json_get '[.checks[] | select(.name | startswith("http.j.json"))] | length')" 5
	probe --name j --json '.db.latency_ms > 100' --json '.status == degraded' "$N/health"
	assert_equal "$status" 2
	assert_equal "$(check http.j.json .message)" ".db.latency_ms > 100: got 12 (> expected)"
	assert_equal "$(check http.j.json.2 .status)" critical
	probe --name j --json '.status == "ok"' "$N/ok"
	assert_equal "$status" 2
	assert_equal "$(check http.j.json .message)" '.status == "ok": the body is not JSON'
}

@test "body contains, regex and must-not-match" {
	probe --name b --contains '"status":"ok"' --regex 'latency_ms":[0-9]+' --not-regex 'error|fail' "$N/health"
	assert_success
	probe --name b --contains nothing-like-this "$N/health"
	assert_equal "$status" 2
	assert_equal "$(check http.b.body_contains .status)" critical
	probe --name b --not-regex 'ready' "$N/health"
	assert_equal "$status" 2
	assert_equal "$(check http.b.body_not_regex .message)" "/ready/ matches (must not)"
}

@test "headers must match and must be absent" {
	probe --name h --header-match 'Content-Type: ^application/json' --header-absent 'X-Powered-By' "$N/health"
	assert_success
	probe --name h --header-absent 'X-Powered-By' --header-match 'X-Missing' "$N/headers"
	assert_equal "$status" 2
	assert_equal "$(check http.h.header .message)" "X-Powered-By: present (must be absent)"
	assert_equal "$(check http.h.header.2 .message)" "X-Missing: missing"
}

@test "latency thresholds give warning and critical" {
	probe --name d --latency-warning 100ms "$FAULT_URL/delay/300"
	assert_equal "$status" 1
	assert_equal "$(check http.d.latency .status)" warning
	probe --name d --latency-warning 50ms --latency-critical 100ms "$FAULT_URL/delay/300"
	assert_equal "$status" 2
}

@test "a method, headers and a body reach the server" {
	probe --name rec -X PUT -H 'X-Test: yes' -d '{"a":1}' "$FAULT_URL/record/put1"
	assert_success
	run jq -r '[.method, .headers["x-test"], .body] | join(" ")' "$FAULT_RECORD_DIR/put1.jsonl"
	assert_output 'PUT yes {"a":1}'
}

# ---- TLS ---------------------------------------------------------------------

@test "TLS with the test CA: ok, with TLS version, cipher and certificate expiry" {
	probe --name t --cacert "$CA" "$TLS/"
	assert_success
	[[ "$(check http.t.status .data.tls_version)" == TLSv1.* ]]
	[ -n "$(check http.t.status .data.tls_cipher)" ]
	assert_equal "$(check http.t.status .data.cert.chain)" 2
	assert_equal "$(check http.t.status '.data.cert.leaf_days >= 28 and .data.cert.leaf_days <= 30')" true
	assert_equal "$(check http.t.status '.data.timings.tls > 0')" true
}

@test "TLS without the CA, self-signed, expired and wrong-host certificates are critical" {
	probe --name t "$TLS/"
	assert_equal "$status" 2
	assert_equal "$(check http.t.transport .data.error.class)" certificate
	probe --name t --cacert "$CA" "https://localhost:$SELF_PORT/"
	assert_equal "$(check http.t.transport .data.error.class)" certificate
	probe --name t --cacert "$CA" "https://localhost:$EXPIRED_PORT/"
	assert_equal "$status" 2
	assert_equal "$(check http.t.transport .data.error.class)" certificate
	[[ "$(check http.t.transport .message)" == *expired* ]]
	probe --name t --cacert "$CA" "https://localhost:$WRONG_PORT/"
	assert_equal "$status" 2
	[[ "$(check http.t.transport .message)" == *"host name"* ]]
	probe --name t --insecure "https://localhost:$SELF_PORT/"
	assert_success
}

@test "certificate expiry thresholds in days" {
	probe --name t --cacert "$CA" --cert-warning 20 --cert-critical 2 "https://localhost:$SOON_PORT/"
	assert_equal "$status" 1
	assert_equal "$(check http.t.cert_expiry .status)" warning
	probe --name t --cacert "$CA" --cert-warning 20 --cert-critical 7 "https://localhost:$SOON_PORT/"
	assert_equal "$status" 2
	probe --name t --cacert "$CA" --cert-warning 20 --cert-critical 7 "$TLS/"
	assert_success
}

@test "the earliest-expiring certificate in the chain is reported beside the leaf" {
	probe --name t --cacert "$CA" --cert-warning 30 --cert-critical 7 "https://localhost:$CHAIN_PORT/"
	assert_success
	assert_equal "$(check http.t.status .data.cert.chain)" 2
	assert_equal "$(check http.t.status '.data.cert.leaf_days >= 58 and .data.cert.leaf_days <= 60')" true
	assert_equal "$(check http.t.status '.data.cert.earliest_days >= 8 and .data.cert.earliest_days <= 10')" true
	assert_equal "$(check http.t.status .data.cert.earliest_subject)" "CN = shipshape short-lived intermediate"
	[[ "$(check http.t.cert_expiry .message)" == "leaf certificate expires in 59 days; earliest in chain in "*"(CN = shipshape short-lived intermediate)" ]]
	probe --cacert "$CA" --security tls "https://localhost:$CHAIN_PORT/"
	assert_equal "$(check security.tls.expiry .status)" ok
}

@test "TLS version, cipher and certificate are reported on a reused connection too" {
	jq -n --arg u "$TLS/" '{probes: [range(3) | {name: "r\(.)", url: $u}]}' >reuse.json
	probe --cacert "$CA" --parallel 1 -c reuse.json
	assert_success
	assert_equal "$(json_get '[.checks[].data.reused] | join(",")')" "false,true,true"
	assert_equal "$(json_get '[.checks[].data.tls_version | startswith("TLSv1.")] | all')" true
	assert_equal "$(json_get '[.checks[].data.tls_cipher] | unique | length')" 1
	assert_equal "$(json_get '[.checks[].data.tls_cipher | length > 0] | all')" true
	assert_equal "$(json_get '[.checks[].data.cert.chain] | join(",")')" "2,2,2"
}

@test "IPv6: a literal address, -6 and -4 choose the family, TCP over ::1" {
	probe --name v6 "http://[::1]:$V6_PORT/"
	assert_success
	assert_equal "$(check http.v6.status .data.ip)" ::1
	# One name with both addresses: -6 reaches the IPv6-only server, -4 does not.
	probe --name d -6 --resolve "dual.test:$V6_PORT:127.0.0.1,[::1]" "http://dual.test:$V6_PORT/"
	assert_success
	assert_equal "$(check http.d.status .data.ip)" ::1
	probe --name d -4 --resolve "dual.test:$V6_PORT:127.0.0.1,[::1]" "http://dual.test:$V6_PORT/"
	assert_equal "$status" 2
	assert_equal "$(check http.d.transport .data.error.class)" connect
	# And the other way round for an IPv4-only server.
	probe --name d -4 --resolve "dual.test:$LOOSE_PORT:127.0.0.1,[::1]" "http://dual.test:$LOOSE_PORT/nocors"
	assert_success
	assert_equal "$(check http.d.status .data.ip)" 127.0.0.1
	probe --name d -6 --resolve "dual.test:$LOOSE_PORT:127.0.0.1,[::1]" "http://dual.test:$LOOSE_PORT/nocors"
	assert_equal "$(check http.d.transport .data.error.class)" connect
	printf '{"probes": [{"name": "c6", "url": "http://[::1]:%s/", "ip_version": 6}]}' "$V6_PORT" >v6.json
	probe -c v6.json
	assert_success
	probe --tcp "[::1]:$V6_PORT" --send 'GET / HTTP/1.0\r\n\r\n' --expect '^HTTP/1.1 200' --expect 'v6'
	assert_success
	assert_equal "$(json_get '.checks[0].name')" "tcp.::1:$V6_PORT"
}

@test "--sni presents another name; --resolve pins an address; --tls-min" {
	probe --name t --cacert "$CA" --sni wrong.example.invalid "https://127.0.0.1:$WRONG_PORT/"
	assert_success
	probe --name t --cacert "$CA" --resolve "probe.invalid:$FAULT_PORT:127.0.0.1" \
		"http://probe.invalid:$FAULT_PORT/status/200"
	assert_success
	assert_equal "$(check http.t.status .data.ip)" 127.0.0.1
	probe --name t --cacert "$CA" --tls-min 1.3 "$TLS/"
	assert_equal "$status" 2
	assert_equal "$(check http.t.transport .data.error.class)" tls
}

# ---- faults ------------------------------------------------------------------

@test "a hang and a slow body end at the timeout (plus a small margin)" {
	probe --name h --request-timeout 1s "$FAULT_URL/hang"
	assert_equal "$status" 2
	assert_equal "$(check http.h.transport .data.error.class)" timeout
	assert_equal "$(check http.h.transport '.duration_ms >= 1000 and .duration_ms < 2500')" true
	assert_equal "$(json_get '.duration_ms < 2500')" true
	probe --name s --request-timeout 1s "$FAULT_URL/slowbody?bytes=100&interval_ms=200"
	assert_equal "$(check http.s.transport .data.error.class)" timeout
}

@test "-t bounds the whole run: what is not done is unknown, exit 3; --state-dir is refused" {
	probe -t 1s "$FAULT_URL/hang" "$N/ok" --tcp "127.0.0.1:$FAULT_TCP_PORT" --expect NEVER
	assert_equal "$status" 3
	assert_equal "$(json_get '[.checks[] | select(.name | endswith("/hang.transport")) | .status] | join(" ")')" unknown
	assert_equal "$(json_get '[.checks[] | select(.name | endswith("/ok.status")) | .status] | join(" ")')" ok
	assert_equal "$(json_get '.duration_ms < 2500')" true
	assert_equal "$(json_get '[.checks[] | select(.name | startswith("tcp.")) | .status] | join(" ")')" unknown
	# the request timeout alone is a verdict on the target: critical
	probe --request-timeout 500ms --name h "$FAULT_URL/hang"
	assert_equal "$status" 2
	# a run that ends in time is not unknown
	probe -t 10s --name ok "$N/ok"
	assert_success
	run --separate-stderr svc-probe --state-dir /tmp "$N/ok"
	assert_equal "$status" 64
	run --separate-stderr svc-probe --request-timeout soon "$N/ok"
	assert_equal "$status" 64
}

@test "-q silences warnings only: the report is printed, on a terminal too" {
	run --separate-stderr script -qec "svc-probe -q --name ok '$N/ok'" /dev/null
	assert_success
	assert_output --partial "http.ok.status"
}

@test "the connect timeout covers a TLS handshake that never answers" {
	probe --name c --request-timeout 5s --connect-timeout 300ms "https://127.0.0.1:$SILENT_PORT/"
	assert_equal "$status" 2
	assert_equal "$(check http.c.transport .data.error.class)" timeout
	assert_equal "$(check http.c.transport '.duration_ms >= 300 and .duration_ms < 2000')" true
}

@test "reset mid-body, oversized body and garbage are critical with their class" {
	probe --name f "$FAULT_URL/reset"
	assert_equal "$status" 2
	assert_equal "$(check http.f.transport .data.error.class)" receive
	probe --name f --max-body 1000 "$FAULT_URL/big/5000"
	assert_equal "$status" 2
	assert_equal "$(check http.f.size .data.error.class)" too_large
	probe --name f --max-body 10k "$FAULT_URL/big/5000"
	assert_success
	probe --name f "$FAULT_URL/garbage"
	assert_equal "$(check http.f.transport .data.error.class)" protocol
	probe --name f "http://127.0.0.1:$(free_port)/"
	assert_equal "$(check http.f.transport .data.error.class)" connect
}

@test "many targets at once: hung ones do not delay the fast ones' verdicts" {
	local args=() i
	for i in $(seq 1 12); do args+=("$FAULT_URL/hang"); done
	for i in $(seq 1 8); do args+=("$N/ok"); done
	probe --request-timeout 2s --parallel 32 "${args[@]}"
	assert_equal "$status" 2
	assert_equal "$(json_get '[.checks[] | select(.data.error.class == "timeout" and .duration_ms >= 2000)] | length')" 12
	# duration_ms is the time to the verdict, queueing included: the fast
	# targets are judged long before the hung ones time out.
	assert_equal "$(json_get '[.checks[] | select(.status == "ok")] | length')" 8
	assert_equal "$(json_get '[.checks[] | select(.status == "ok" and .duration_ms < 1000)] | length')" 8
}

@test "many targets: with every slot hung, the others wait at most one timeout" {
	probe --request-timeout 1s --parallel 2 "$FAULT_URL/hang" "$FAULT_URL/hang" "$N/ok" "$N/ok" "$N/ok"
	assert_equal "$status" 2
	assert_equal "$(json_get '[.checks[] | select(.status == "ok")] | length')" 3
	assert_equal "$(json_get '[.checks[] | select(.status == "ok" and .duration_ms >= 1000 and .duration_ms < 2000)] | length')" 3
}

@test "retries with backoff report their attempts" {
	probe --name s --retries 2 --retry-backoff 200ms "$FAULT_URL/seq/retry1?codes=500,500,200"
	assert_success
	assert_equal "$(check http.s.status .data.attempts)" 3
	# The backoff doubles: 200 ms, then 400 ms before the third attempt.
	assert_equal "$(check http.s.status '.data.elapsed_ms >= 600')" true
	probe --name s "$FAULT_URL/seq/retry0?codes=500,200"
	assert_equal "$status" 2
	assert_equal "$(check http.s.status .data.attempts)" 1
	probe --name s --retries 1 --retry-backoff 20ms "$FAULT_URL/seq/retry2?codes=500,500,200"
	assert_equal "$status" 2
	assert_equal "$(check http.s.status .data.attempts)" 2
}

# ---- TCP ---------------------------------------------------------------------

@test "TCP: SMTP-style banner and a PING/+PONG exchange" {
	probe --tcp "127.0.0.1:$FAULT_TCP_PORT" --expect '^220 ' --send 'PING\r\n' --expect '^\+PONG'
	assert_success
	assert_equal "$(json_get '.checks[0].name')" "tcp.127.0.0.1:$FAULT_TCP_PORT"
	probe --tcp "127.0.0.1:$FAULT_TCP_PORT" --send 'HELLO\r\n' --expect '^\+PONG'
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].data.failed_exchange')" 1
	probe --tcp "127.0.0.1:$(free_port)"
	assert_equal "$status" 2
}

@test "TCP with TLS to nginx, verified against the test CA" {
	probe --cacert "$CA" --tcp "localhost:$NGINX_TLS_PORT" --tls --send 'GET / HTTP/1.0\r\n\r\n' --expect 'HTTP/1.1 200'
	assert_success
	[[ "$(json_get '.checks[0].data.tls_version')" == TLSv1.* ]]
	probe --tcp "localhost:$SELF_PORT" --tls
	assert_equal "$status" 2
}

# ---- config --------------------------------------------------------------------

@test "config targets: API, services with auth headers, custom HTTP and TCP probes" {
	cat >cfg.json <<-EOF
		{"api": {"base_url": "$N", "health_path": "/health"},
		 "services": {"openai": {"url": "$FAULT_URL", "api_key": "sk-test-0123456789abcdef", "health_path": "/record/openai"},
		              "supabase": {"url": "$FAULT_URL", "anon_key": "anon-test-key-abcdef", "service_role_key": "srk-never-sent-999",
		                           "health_path": "/record/supabase"}},
		 "probes": [{"name": "custom", "url": "$N/health", "json": [".status == \"ok\""], "status": [200]},
		            {"type": "tcp", "name": "smtp", "address": "127.0.0.1:$FAULT_TCP_PORT",
		             "exchange": [{"expect": "^220"}, {"send": "PING\\\\r\\\\n", "expect": "PONG"}]}]}
	EOF
	run --separate-stderr svc-probe -v --format json -c cfg.json
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" \
		"http.api.status http.openai.status http.supabase.status http.custom.status http.custom.json tcp.smtp"
	run jq -r '.headers.authorization' "$FAULT_RECORD_DIR/openai.jsonl"
	assert_output "Bearer sk-test-0123456789abcdef"
	run jq -r '.headers.apikey' "$FAULT_RECORD_DIR/supabase.jsonl"
	assert_output "anon-test-key-abcdef"
	run --separate-stderr svc-probe -v --format json -c cfg.json
	assert_secret_absent sk-test-0123456789abcdef "$output" "$stderr"
	assert_secret_absent anon-test-key-abcdef "$output" "$stderr"
	[[ "$stderr" == *"Authorization: ***"* ]]
	# The load mode's traces (-vv), the text table and nagios too; a key
	# echoed back in a body or a failed assertion is masked as well.
	run --separate-stderr svc-probe -vv --format text --only openai --requests 3 --concurrency 1 -c cfg.json
	assert_secret_absent sk-test-0123456789abcdef "$output" "$stderr"
	[[ "$stderr" == *"Authorization: ***"* ]]
	run --separate-stderr svc-probe -v --format nagios -H 'Authorization: Bearer tok-echoed-0123456789' \
		--regex 'nothing' --contains 'tok-echoed-0123456789' "$N/echo-auth"
	assert_equal "$status" 2
	assert_secret_absent tok-echoed-0123456789 "$output" "$stderr"
}

@test "config from stdin; --only selects targets" {
	run --separate-stderr bash -c "printf '%s' '{\"api\":{\"base_url\":\"$N\",\"health_path\":\"/ok\"},\"probes\":[{\"name\":\"x\",\"url\":\"$N/missing\"}]}' | svc-probe --format json --only api"
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "http.api.status"
}

@test "--check runs and reports only the checks named, and what they need" {
	cat >cfg.json <<-EOF
		{"api": {"base_url": "$N", "health_path": "/health"},
		 "services": {"other": {"url": "$FAULT_URL", "health_path": "/record/check-other"}},
		 "probes": [{"name": "x", "url": "$N/missing"}]}
	EOF
	probe -c cfg.json --check http.api
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "http.api.status"
	# the targets no check needs are not probed at all
	assert_equal "$(curl -s "$FAULT_URL/_ctl/count/check-other")" 0
	probe -c cfg.json --check http.x.status --check http.api
	assert_equal "$status" 2
	assert_equal "$(json_get '[.checks[].name] | sort | join(" ")')" "http.api.status http.x.status"
	# security checks alone: the API probe's own checks are left out
	api_config >api.json
	probe -c api.json --security headers,auth --check security
	assert_success
	assert_equal "$(json_get '[.checks[] | select(.name | startswith("security.") | not)] | length')" 0
	assert_equal "$(check security.auth .status)" ok
	assert_equal "$(check security.headers.hsts .status)" ok
	probe -c api.json --security all --check security.headers.hsts
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "security.headers.hsts"
	# the status is that of the checks reported
	probe --check security.headers --security headers "$N/bare"
	assert_equal "$status" 2
	assert_equal "$(json_get '.status')" critical
	assert_equal "$(json_get '[.checks[] | select(.name | startswith("security.headers") | not)] | length')" 0
}

@test "--check: a name nothing of the run reports, or a malformed one, is a usage error" {
	printf '{"api": {"base_url": "%s", "health_path": "/health"}}' "$N" >cfg.json
	run --separate-stderr svc-probe -c cfg.json --check http.nope
	assert_equal "$status" 64
	[[ "$stderr" == *'--check: no target or security check of this run reports "http.nope"'* ]]
	run --separate-stderr svc-probe -c cfg.json --check security
	assert_equal "$status" 64
	run --separate-stderr svc-probe -c cfg.json --security cors --check security.headers
	assert_equal "$status" 64
	run --separate-stderr svc-probe -c cfg.json --check .http
	assert_equal "$status" 64
	run --separate-stderr svc-probe -c cfg.json --check ''
	assert_equal "$status" 64
	assert_equal "${#stderr_lines[@]}" 1
}

@test "--path probes a configured service at another path, with its keys; --name names it" {
	cat >cfg.json <<-EOF
		{"api": {"base_url": "$N", "health_path": "/health"},
		 "services": {"supa": {"url": "$FAULT_URL/", "anon_key": "anon-path-key-abcdef", "health_path": "/record/path-health"}},
		 "probes": [{"name": "x", "url": "$N/missing"}]}
	EOF
	probe -c cfg.json --only supa --path /record/path-storage --name supa-storage
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "http.supa-storage.status"
	run jq -r '.headers.apikey' "$FAULT_RECORD_DIR/path-storage.jsonl"
	assert_output "anon-path-key-abcdef"
	assert_equal "$(curl -s "$FAULT_URL/_ctl/count/path-health")" 0
	probe -c cfg.json --only api --path /ok
	assert_success
	assert_equal "$(check http.api.status .data.url)" "$N/ok"
	assert_equal "$(check http.api.status .data.code)" 200
}

@test "--path and --name outside what they name are usage errors" {
	printf '{"api": {"base_url": "%s"}, "services": {"s": {"url": "%s"}}, "probes": [{"name": "x", "url": "%s/ok"}]}' \
		"$N" "$N" "$N" >cfg.json
	local args
	while read -r args; do
		# shellcheck disable=SC2086
		run --separate-stderr svc-probe -c cfg.json $args
		assert_equal "$status" 64
		assert_equal "${#stderr_lines[@]}" 1
	done <<-EOF
		--path storage
		--path /x --only x
		--path /x $N/ok
		--only api,s --name one
		--name one
	EOF
}

@test "malformed JSON on stdin names the line; wrong types name the key" {
	run --separate-stderr bash -c "printf '{\n  \"api\": {\n    \"base_url\": \"x\",\n    oops\n  }\n}\n' | svc-probe"
	assert_equal "$status" 65
	[[ "$stderr" == "svc-probe: stdin:4:"* ]]
	assert_equal "${#stderr_lines[@]}" 1
	local doc want
	while IFS='|' read -r doc want; do
		run --separate-stderr svc-probe --security headers <<<"$doc"
		assert_equal "$status" 65
		assert_equal "$stderr" "svc-probe: $want"
	done <<-'EOF'
		{"api": {"base_url": 5}}|stdin: api.base_url: expected a URL, got 5
		{"api": {"base_url": "http://"}}|stdin: api.base_url: not a URL: no host
		{"api": []}|stdin: api: expected a map, got a list
		{"probes": [{"url": "http://a b/"}]}|stdin: probes[0]: url: a URL cannot contain spaces or control characters
		{"services": {"openai": {"url": "http://127.0.0.1:1/", "api_key": [5]}}}|stdin: services.openai.api_key: expected a string, got a list
		{"api": {"base_url": "http://127.0.0.1:1"}, "svc_probe": {"hsts_min_age": "x"}}|stdin: svc_probe.hsts_min_age: expected an int, got "x"
		{"api": {"base_url": "http://127.0.0.1:1"}, "security": {"rate_limit": {"burst": -3}}}|stdin: security.rate_limit.burst: expected a whole number from 0 to 1000000000
	EOF
}

@test "an unknown config key is a warning, an error with --strict, as in every tool" {
	doc='{"api": {"base_url": "http://127.0.0.1:1"}, "svc_probe": {"retry_afetr": true}}'
	run --separate-stderr svc-probe --security headers <<<"$doc"
	assert_equal "$status" 2
	assert_equal "${stderr_lines[0]}" "svc-probe: stdin: warning: svc_probe.retry_afetr: unknown key (did you mean retry_after?)"
	run --separate-stderr svc-probe --strict --security headers <<<"$doc"
	assert_equal "$status" 65
	assert_equal "$stderr" "svc-probe: stdin: svc_probe.retry_afetr: unknown key (did you mean retry_after?)"
	refute_output
}

@test "invalid config is exit 65 with the key named" {
	printf '{"probes": [{"name": "p", "url": "%s/ok", "stauts": [200]}]}' "$N" >bad.json
	run --separate-stderr svc-probe -c bad.json
	assert_equal "$status" 65
	assert_equal "$stderr" "svc-probe: bad.json: probes[0] (p): stauts: unknown key"
	printf '{"probes": [{"name": "p", "url": "%s/ok", "status": ["2x5"]}]}' "$N" >bad.json
	run --separate-stderr svc-probe -c bad.json
	assert_equal "$status" 65
	assert_equal "$stderr" 'svc-probe: bad.json: probes[0] (p): status[0]: invalid status "2x5" (expected 200, 200-299 or 2xx)'
	printf '{"probes": [{"type": "tcp", "address": "nohost"}]}' >bad.json
	run --separate-stderr svc-probe -c bad.json
	assert_equal "$status" 65
	printf '{"environment": "x"}' >empty.json
	run --separate-stderr svc-probe -c empty.json
	assert_equal "$status" 65
	run --separate-stderr bash -c 'echo "{not json" | svc-probe'
	assert_equal "$status" 65
}

# ---- security ----------------------------------------------------------------

@test "security: a well-configured API passes cors, trusted-host, headers, auth and rate-limit" {
	api_config >api.json
	run --separate-stderr svc-probe --format json -c api.json --security cors,trusted-host,headers,auth,rate-limit
	assert_success
	assert_equal "$(check security.cors.disallowed .status)" ok
	assert_equal "$(check security.cors.allowed .status)" ok
	assert_equal "$(check security.cors.preflight .status)" ok
	assert_equal "$(check security.trusted_host.untrusted .status)" ok
	assert_equal "$(check security.trusted_host.trusted .status)" ok
	assert_equal "$(check security.headers.hsts .status)" ok
	assert_equal "$(check security.auth .status)" ok
	assert_equal "$(check security.rate_limit .data.retry_after)" true
	first=$(check security.rate_limit .data.first_429)
	((first >= 2 && first <= 25))
}

@test "security: echoed origins, missing headers, version leak, open endpoints are flagged" {
	probe --security cors,headers,auth --auth-path /ok "$N/bare"
	assert_equal "$status" 2
	assert_equal "$(check security.cors.disallowed .status)" critical
	assert_equal "$(check security.headers.content_type_options .status)" critical
	assert_equal "$(check security.headers.server_version .status)" warning
	assert_equal "$(check security.headers.frame_options .status)" warning
	assert_equal "$(check security.auth .status)" critical
}

@test "security with the config on stdin and no URL: the API and its settings come from the config" {
	run --separate-stderr bash -c "$(declare -f api_config); api_config | svc-probe --format json --security cors,headers,auth"
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" \
		"http.api.status security.cors.disallowed security.cors.allowed security.cors.preflight security.headers.hsts security.headers.content_type_options security.headers.server_version security.headers.frame_options security.auth"
	assert_equal "$(check security.auth .message)" "/private without credentials: HTTP 401"
	# Through cfg-resolve, the way deploy_production.sh runs it.
	run --separate-stderr bash -c "API_BASE_URL='$N' cfg-resolve '$REPO_ROOT/config/local.yaml' | svc-probe --format json --only api --security headers,auth"
	assert_equal "$status" 1
	assert_equal "$(check http.api.status .data.url)" "$N/health"
	assert_equal "$(check security.headers.hsts .status)" ok
	assert_equal "$(check security.auth .status)" warning
	assert_equal "$(check security.auth .message)" "/api/v1/documents without credentials: HTTP 404 (expected 401 or 403)"
}

@test "security, failing side: '*' with credentials, a refused preflight, an accepted Host, a short HSTS" {
	jq -n --arg u "$LOOSE" '{api: {base_url: $u, health_path: "/health"},
		security: {cors_origins: ["http://allowed.test"], trusted_hosts: ["127.0.0.1"]}}' >loose.json
	probe -c loose.json --security cors,trusted-host,headers
	assert_equal "$status" 2
	assert_equal "$(check security.cors.disallowed .status)" critical
	assert_equal "$(check security.cors.disallowed .message)" \
		"Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true"
	assert_equal "$(check security.cors.allowed .status)" ok
	assert_equal "$(check security.cors.preflight .status)" critical
	assert_equal "$(check security.trusted_host.untrusted .status)" critical
	assert_equal "$(check security.trusted_host.trusted .status)" ok
	assert_equal "$(check security.headers.hsts .status)" warning
	assert_equal "$(check security.headers.hsts .message)" "Strict-Transport-Security max-age 60 below 15552000 s"
	assert_equal "$(check security.headers.content_type_options .status)" ok
	# An allowed origin that is not allowed; no HSTS at all.
	jq '.api.health_path = "/nocors"' loose.json >nocors.json
	probe -c nocors.json --security cors,headers
	assert_equal "$(check security.cors.disallowed .status)" ok
	assert_equal "$(check security.cors.allowed .status)" critical
	assert_equal "$(check security.headers.hsts .message)" "Strict-Transport-Security missing (plain http)"
	assert_equal "$(check security.headers.content_type_options .status)" critical
	# HSTS missing over https is critical.
	probe --insecure --security headers "https://localhost:$SELF_PORT/"
	assert_equal "$(check security.headers.hsts .status)" critical
}

@test "security rate-limit: a 429 without the required Retry-After is critical" {
	jq -n --arg u "$LOOSE" '{api: {base_url: $u},
		security: {rate_limit: {requests_per_minute: 10, burst: 5}},
		svc_probe: {rate_limit_path: "/limited", retry_after: true}, deploy: {security: {rate_limit_burst: true}}}' >rl.json
	probe -c rl.json --security rate-limit
	assert_equal "$status" 2
	assert_equal "$(check security.rate_limit .data.retry_after)" false
	first=$(check security.rate_limit .data.first_429)
	((first >= 2 && first <= 25))
	[[ "$(check security.rate_limit .message)" == "429 from request $first of "*", but without Retry-After" ]]
}

@test "security rate-limit: no burst where the config does not allow it (deploy.security.rate_limit_burst), a warning saying so" {
	api_config | jq '.environment = "staging" | del(.deploy)' >api.json
	before=$(grep -c ' /limited ' "$NGINX_DIR/logs/access.log" || true)
	probe -c api.json --security rate-limit
	assert_equal "$status" 1
	assert_equal "$(check security.rate_limit .status)" warning
	assert_equal "$(check security.rate_limit .message)" \
		"the rate limit is not checked: its burst of requests at the API is off in staging (deploy.security.rate_limit_burst)"
	assert_equal "$(grep -c ' /limited ' "$NGINX_DIR/logs/access.log" || true)" "$before"
}

@test "security tls: plain http is critical in production, a warning in development or staging (cfg-resolve --check's rule)" {
	for env in production development staging; do
		jq -n --arg u "$N" --arg e "$env" '{api: {base_url: $u}, environment: $e}' >env.json
		probe -c env.json --security tls
		case $env in
		development | staging)
			assert_equal "$status" 1
			assert_equal "$(check security.tls .message)" "the API is not served over https: a warning in $env" ;;
		*)
			assert_equal "$status" 2
			assert_equal "$(check security.tls .message)" "the API is not served over https" ;;
		esac
	done
}

@test "security: no 429 from an unlimited endpoint is critical" {
	api_config | jq '.svc_probe.rate_limit_path = "/ok"' >api.json
	run --separate-stderr svc-probe --format json -c api.json --security rate-limit
	assert_equal "$status" 2
	assert_equal "$(check security.rate_limit .data.count_429)" 0
}

@test "security tls: old versions refused here, accepted by a misconfigured server" {
	probe --cacert "$CA" --security tls "$TLS/"
	assert_equal "$(check security.tls.certificate .status)" ok
	assert_equal "$(check security.tls.old_versions .status)" ok
	probe --cacert "$CA" --security tls "https://localhost:$OLDTLS_PORT/"
	assert_equal "$status" 2
	assert_equal "$(check security.tls.old_versions .status)" critical
	probe --security tls "$N/ok"
	assert_equal "$(check security.tls .status)" critical
}

@test "security tls: a certificate for another host and one about to expire are critical" {
	probe --cacert "$CA" --security tls "https://localhost:$WRONG_PORT/"
	assert_equal "$status" 2
	assert_equal "$(check security.tls.certificate .status)" critical
	[[ "$(check security.tls.certificate .message)" == certificate:*"host name"* ]]
	probe --cacert "$CA" --security tls "https://localhost:$SOON_PORT/"
	assert_equal "$status" 2
	assert_equal "$(check security.tls.certificate .status)" ok
	assert_equal "$(check security.tls.expiry .status)" critical
	assert_equal "$(check security.tls.expiry .message)" "leaf certificate expires in 4 days"
}

# ---- performance -------------------------------------------------------------

@test "load mode: percentiles, error rate, throughput and thresholds" {
	probe --name l --requests 300 --concurrency 4 "$N/ok"
	assert_success
	assert_equal "$(check perf.l .data.requests)" 300
	assert_equal "$(check perf.l '.data.latency_ms | keys | join(",")')" "max,mean,p50,p90,p95,p99"
	assert_equal "$(check perf.l '.data.rps > 0')" true
	probe --name l --requests 50 --concurrency 4 --perf-critical errors=1% "$N/error"
	assert_equal "$status" 2
	assert_equal "$(check perf.l .data.error_rate)" 100
	probe --name l --requests 50 --perf-warning errors=1% "$N/error"
	assert_equal "$status" 1
	# TCP targets take no load: probed once beside it; with nothing to load, a usage error.
	probe --name l --requests 20 --tcp "127.0.0.1:$FAULT_TCP_PORT" --expect '^220' "$N/ok"
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "tcp.127.0.0.1:$FAULT_TCP_PORT perf.l"
	probe --requests 20 --tcp "127.0.0.1:$FAULT_TCP_PORT"
	assert_equal "$status" 64
	assert_equal "$stderr" "svc-probe: --requests loads HTTP targets, and there is none"
}

@test "--baseline compares with a saved report" {
	run bash -c "svc-probe --format json --name l --requests 100 --concurrency 2 '$N/ok' >base.json"
	assert_success
	probe --name l --requests 100 --concurrency 2 --baseline base.json "$N/ok"
	[ -n "$(check perf.l.baseline .data.regression_pct)" ]
	# A baseline much faster than now is a critical regression.
	jq '.checks[0].data.rps *= 1000 | .checks[0].data.latency_ms.p95 = 0.001' base.json >fast.json
	probe --name l --requests 100 --concurrency 2 --baseline fast.json "$N/ok"
	assert_equal "$status" 2
	assert_equal "$(check perf.l.baseline .status)" critical
	echo '{"kind":"event"}' >notreport.json
	probe --name l --requests 10 --baseline notreport.json "$N/ok"
	assert_equal "$status" 65
}

# ---- output ------------------------------------------------------------------

@test "--format nagios prints one status line with perfdata" {
	run --separate-stderr svc-probe --format nagios --name api "$N/ok"
	assert_success
	assert_equal "${#lines[@]}" 1
	[[ "$output" == *"OK"*"| api_time="*"s"*"api_size=3B"* ]]
	run --separate-stderr svc-probe --format text --name api "$N/missing"
	assert_equal "$status" 2
	[[ "$output" == *CRITICAL*http.api.status* ]]
}
