#!/usr/bin/env bats
# svc-probe against real servers: nginx (statuses, redirects, JSON, TLS with
# test certificates, CORS, limit_req, security headers) and the fault server
# (delays, hangs, resets, slow and oversized bodies, garbage, TCP line service).
load helpers/common
load helpers/services

setup_file() {
	local base=$BATS_FILE_TMPDIR
	make_test_certs "$base/nginx/certs"
	export SELF_PORT EXPIRED_PORT WRONG_PORT SOON_PORT OLDTLS_PORT
	SELF_PORT=$(free_port)
	EXPIRED_PORT=$(free_port)
	WRONG_PORT=$(free_port)
	SOON_PORT=$(free_port)
	OLDTLS_PORT=$(free_port)
	sed -e "s/@SELFPORT@/$SELF_PORT/; s/@EXPIREDPORT@/$EXPIRED_PORT/; s/@WRONGPORT@/$WRONG_PORT/" \
		-e "s/@SOONPORT@/$SOON_PORT/; s/@OLDTLSPORT@/$OLDTLS_PORT/" \
		"$BATS_TEST_DIRNAME/helpers/nginx-probe.conf" >"$base/nginx-probe.conf"
	start_nginx "$base/nginx-probe.conf" --dir "$base/nginx"
	start_faultsrv --tcp-banner "220 probe.test ESMTP"
	export CA=$TEST_CERTS_DIR/ca.crt N=$NGINX_URL TLS=https://localhost:$NGINX_TLS_PORT
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
		 "svc_probe": {"auth_paths": ["/private"], "rate_limit_path": "/limited", "retry_after": true}}
	EOF
}

# ---- usage ---------------------------------------------------------------

@test "--help prints the synopsis on stdout and exits 0" {
	run --separate-stderr svc-probe --help
	assert_success
	assert_output --partial "usage: svc-probe"
	[ -z "$stderr" ]
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
	local t0 t1
	t0=$(date +%s%N)
	probe --name h -t 1s "$FAULT_URL/hang"
	t1=$(date +%s%N)
	assert_equal "$status" 2
	assert_equal "$(check http.h.transport .data.error.class)" timeout
	(((t1 - t0) / 1000000 < 2500))
	probe --name s -t 1s "$FAULT_URL/slowbody?bytes=100&interval_ms=200"
	assert_equal "$(check http.s.transport .data.error.class)" timeout
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

@test "many targets at once: slow ones do not delay the others' verdicts" {
	local args=() i t0 t1
	for i in $(seq 1 12); do args+=("$FAULT_URL/hang"); done
	for i in $(seq 1 8); do args+=("$N/ok"); done
	t0=$(date +%s%N)
	probe -t 1s --parallel 32 "${args[@]}"
	t1=$(date +%s%N)
	assert_equal "$status" 2
	assert_equal "$(json_get '[.checks[] | select(.status == "ok")] | length')" 8
	assert_equal "$(json_get '[.checks[] | select(.data.error.class == "timeout")] | length')" 12
	(((t1 - t0) / 1000000 < 3000))
}

@test "retries with backoff report their attempts" {
	probe --name s --retries 2 --retry-backoff 20ms "$FAULT_URL/seq/retry1?codes=500,500,200"
	assert_success
	assert_equal "$(check http.s.status .data.attempts)" 3
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
}

@test "config from stdin; --only selects targets" {
	run --separate-stderr bash -c "printf '%s' '{\"api\":{\"base_url\":\"$N\",\"health_path\":\"/ok\"},\"probes\":[{\"name\":\"x\",\"url\":\"$N/missing\"}]}' | svc-probe --format json --only api"
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "http.api.status"
}

@test "invalid config is exit 65 with the key named" {
	printf '{"probes": [{"name": "p", "url": "%s/ok", "stauts": [200]}]}' "$N" >bad.json
	run --separate-stderr svc-probe -c bad.json
	assert_equal "$status" 65
	assert_equal "$stderr" "svc-probe: config: probes[0] (p): stauts: unknown key"
	printf '{"probes": [{"name": "p", "url": "%s/ok", "status": ["2x5"]}]}' "$N" >bad.json
	run --separate-stderr svc-probe -c bad.json
	assert_equal "$status" 65
	assert_equal "$stderr" 'svc-probe: config: probes[0] (p): status[0]: invalid status "2x5" (expected 200, 200-299 or 2xx)'
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
	assert_equal "$(check security.auth .status)" critical
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
