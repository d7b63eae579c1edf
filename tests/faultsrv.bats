#!/usr/bin/env bats
# faultsrv.bats — the test infrastructure itself: faultsrv's routes and every start/stop helper.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/services'

setup_file() {
	start_faultsrv --tcp-banner "220 test ESMTP"
}

teardown_file() {
	stop_all_services
}

# Services a test starts itself are stopped after it, pass or fail.
teardown() {
	stop_alertmanager
	stop_smtp
	stop_nginx
	stop_postgres
	stop_silent_port
}

# assert_stopped PID PORT: the process is gone and nothing listens on PORT.
assert_stopped() {
	if svc_alive "$1"; then
		fail "process $1 still runs after stop"
	fi
	if svc_port_open "$2"; then
		fail "port $2 still accepts connections after stop"
	fi
}

# at_least SECONDS MIN: a measured time is not shorter than MIN.
at_least() {
	awk -v t="$1" -v m="$2" 'BEGIN { exit !(t + 0 >= m + 0) }' || fail "took ${1}s, expected at least ${2}s"
}

@test "faultsrv: /status answers with code, body, type and extra headers" {
	run curl -sS -i --max-time 5 "$FAULT_URL/status/503?body=down%20now&ctype=text/x-test&header=Retry-After:7&header=X-Fault:%20yes"
	assert_success
	assert_line --partial "HTTP/1.1 503 Service Unavailable"
	assert_line --partial "Content-Type: text/x-test"
	assert_line --partial "Retry-After: 7"
	assert_line --partial "X-Fault: yes"
	assert_equal "${lines[-1]}" "down now"

	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$FAULT_URL/no/such/route"
	assert_output 404
	run curl -sS --max-time 5 "$FAULT_URL/json"
	assert_output '{"status":"ok"}'
	run curl -sS --max-time 5 -o /dev/null -w '%{size_download}' "$FAULT_URL/big/1048576"
	assert_output 1048576
}

@test "faultsrv: /seq gives each request the next code and repeats the last" {
	local codes=""
	for _ in 1 2 3 4; do
		codes+=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} ' "$FAULT_URL/seq/flaky?codes=500,502,200")
	done
	assert_equal "$codes" "500 502 200 200 "
}

@test "faultsrv: delay, hang, slow body, reset and garbage fail the way they claim" {
	run curl -sS --max-time 5 -w ' %{time_total}' "$FAULT_URL/delay/300"
	assert_success
	assert_output --regexp '^ok [0-9.]+$'
	at_least "${output#ok }" 0.3

	SECONDS=0
	run curl -sS --max-time 1 "$FAULT_URL/hang"
	assert_equal "$status" 28
	((SECONDS < 4)) || fail "hang blocked the client for ${SECONDS}s"

	run curl -sS --max-time 5 -w '%{time_total}' -o /dev/null "$FAULT_URL/slowbody?bytes=4&interval_ms=100"
	assert_success
	at_least "$output" 0.4
	run curl -sS --max-time 0.2 -o /dev/null "$FAULT_URL/slowbody?bytes=4&interval_ms=100"
	assert_equal "$status" 28

	run curl -sS --max-time 5 -o /dev/null "$FAULT_URL/reset"
	assert_failure
	[[ "$status" = 56 || "$status" = 18 ]] || fail "reset: curl exit $status, want 56 or 18"

	run curl -sS --max-time 5 "$FAULT_URL/garbage"
	assert_failure
}

@test "faultsrv: /record stores each request and follows the mode set by /_ctl" {
	curl -sSf --max-time 5 "$FAULT_URL/_ctl/mode/hook?codes=503,200&retry_after=2" >/dev/null

	run curl -sS -i --max-time 5 -H 'Content-Type: application/json' --data '{"text":"first"}' "$FAULT_URL/record/hook"
	assert_line --partial "HTTP/1.1 503"
	assert_line --partial "Retry-After: 2"
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X PUT -H 'Transfer-Encoding: chunked' \
		--data-binary 'second, chunked' "$FAULT_URL/record/hook"
	assert_output 200
	run curl -sS --max-time 5 "$FAULT_URL/_ctl/count/hook"
	assert_output 2

	run jq -c '[.seq, .method, .status, .headers["content-type"], .headers["transfer-encoding"], .json.text // .body]' \
		"$FAULT_RECORD_DIR/hook.jsonl"
	assert_line --index 0 '[1,"POST",503,"application/json",null,"first"]'
	assert_line --index 1 '[2,"PUT",200,"application/x-www-form-urlencoded","chunked","second, chunked"]'

	curl -sSf --max-time 5 "$FAULT_URL/_ctl/reset" >/dev/null
	run curl -sS --max-time 5 "$FAULT_URL/_ctl/count/hook"
	assert_output 0
	[[ ! -e "$FAULT_RECORD_DIR/hook.jsonl" ]] || fail "reset left hook.jsonl behind"
}

@test "faultsrv: malformed and oversized requests get 400, 431 and 413" {
	local reply
	exec 5<>"/dev/tcp/127.0.0.1/$FAULT_PORT"
	printf 'NOT A REQUEST\r\n\r\n' >&5
	IFS= read -r -t 5 reply <&5 || true
	exec 5>&-
	assert_equal "${reply%$'\r'}" "HTTP/1.1 400 Bad Request"

	exec 5<>"/dev/tcp/127.0.0.1/$FAULT_PORT"
	{ printf 'GET /json HTTP/1.1\r\nX-Big: '; head -c 70000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >&5 2>/dev/null || true
	IFS= read -r -t 5 reply <&5 || true
	exec 5>&-
	assert_equal "${reply%$'\r'}" "HTTP/1.1 431 Request Header Fields Too Large"

	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Content-Length: 17000000' --data x "$FAULT_URL/record/big"
	assert_output 413
}

@test "faultsrv: TCP line service sends the banner and answers PING" {
	local banner pong err
	exec 5<>"/dev/tcp/127.0.0.1/$FAULT_TCP_PORT"
	IFS= read -r -t 5 banner <&5 || true
	printf 'PING\r\nHELO x\r\nQUIT\r\n' >&5
	IFS= read -r -t 5 pong <&5 || true
	IFS= read -r -t 5 err <&5 || true
	exec 5>&-
	assert_equal "$banner" $'220 test ESMTP\r'
	assert_equal "$pong" $'+PONG\r'
	assert_equal "$err" $'-ERR unknown\r'
}

@test "faultsrv: 300 hung connections do not block other requests" {
	run timeout 20 /usr/bin/python3 - "$FAULT_PORT" <<-'EOF'
		import socket, sys, threading, urllib.request
		port = int(sys.argv[1])
		hung = []
		for _ in range(300):
		    s = socket.create_connection(("127.0.0.1", port), timeout=5)
		    s.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
		    hung.append(s)
		codes = []
		def get():
		    with urllib.request.urlopen("http://127.0.0.1:%d/status/204" % port, timeout=3) as r:
		        codes.append(r.status)
		threads = [threading.Thread(target=get) for _ in range(100)]
		for t in threads: t.start()
		for t in threads: t.join()
		for s in hung: s.close()
		print(len(codes), set(codes))
	EOF
	assert_success
	assert_output "100 {204}"
}

@test "faultsrv: --free-port, port file, and a clean exit on SIGTERM" {
	local bin port pid
	bin=$(svc_faultsrv_bin)
	port=$("$bin" --free-port)
	[[ "$port" =~ ^[0-9]+$ && "$port" -ge 1024 && "$port" -le 65535 ]] || fail "bad free port '$port'"
	"$bin" --port "$port" --port-file "$BATS_TEST_TMPDIR/port" </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	svc_wait 10 test -s "$BATS_TEST_TMPDIR/port" || fail "no port file"
	assert_equal "$(<"$BATS_TEST_TMPDIR/port")" "$port"
	run curl -sS --max-time 5 "http://127.0.0.1:$port/_ctl/health"
	assert_output ok
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
}

@test "start_silent_port: accepts and never answers, so a client times out" {
	start_silent_port
	SECONDS=0
	run env PGCONNECT_TIMEOUT=1 "$SVC_PG_BIN/psql" -X -h 127.0.0.1 -p "$SILENT_PORT" -U app -d appdb -c 'select 1'
	assert_failure
	assert_output --partial timeout
	((SECONDS < 5)) || fail "psql waited ${SECONDS}s"
	local pid=$SILENT_PID port=$SILENT_PORT
	stop_silent_port
	assert_stopped "$pid" "$port"
}

@test "start_postgres --ssl and start_pg_standby: scram login, SSL, a streaming replica" {
	start_postgres --ssl --max-connections 30
	run psql -X "$PGTEST_URL" -tAc 'select 1'
	assert_success
	assert_output 1
	run psql -X "postgresql://app:wrong@127.0.0.1:$PGTEST_PORT/appdb" -tAc 'select 1'
	assert_failure
	assert_output --partial 'password authentication failed'
	run psql -X "$PGTEST_URL?sslmode=verify-full&sslrootcert=$PGTEST_SSL_CERT" -tAc \
		'select ssl from pg_stat_ssl where pid = pg_backend_pid(); show max_connections'
	assert_success
	assert_output $'t\n30'

	pg_superuser_psql -q -c 'create table fixture(n int); insert into fixture values (7); grant select on fixture to app'
	start_pg_standby
	run psql -X "$PGSTANDBY_URL" -tAc 'select pg_is_in_recovery()'
	assert_output t
	svc_wait 10 bash -c '[[ $(psql -X "$PGSTANDBY_URL" -tAc "select n from fixture" 2>/dev/null) = 7 ]]' ||
		fail "the fixture row did not reach the standby"

	local data=$PGTEST_DATA standby_data=$PGSTANDBY_DATA port=$PGTEST_PORT sport=$PGSTANDBY_PORT
	stop_postgres
	[[ ! -e "$data/postmaster.pid" && ! -e "$standby_data/postmaster.pid" ]] || fail "a postmaster still runs"
	assert_stopped "" "$port"
	assert_stopped "" "$sport"
}

@test "start_nginx and make_test_certs: HTTP, TLS with the CA, expired and wrong-host certificates, 429" {
	local certs="$BATS_TEST_TMPDIR/certs" snippet="$BATS_TEST_TMPDIR/servers.conf"
	make_test_certs "$certs"
	cat >"$snippet" <<-EOF
		limit_req_zone \$binary_remote_addr zone=one:1m rate=1r/m;
		limit_req_status 429;
		server {
		    listen 127.0.0.1:@PORT@;
		    root @DIR@/html;
		    location = /index.html { limit_req zone=one; }
		}
		server {
		    listen 127.0.0.1:@TLSPORT@ ssl;
		    server_name localhost;
		    ssl_certificate $certs/localhost-chain.crt;
		    ssl_certificate_key $certs/localhost.key;
		    root @DIR@/html;
		}
		server {
		    listen 127.0.0.1:@TLSPORT@ ssl;
		    server_name expired.test;
		    ssl_certificate $certs/expired.crt;
		    ssl_certificate_key $certs/expired.key;
		}
		server {
		    listen 127.0.0.1:@TLSPORT@ ssl;
		    server_name wrong.test;
		    ssl_certificate $certs/wronghost.crt;
		    ssl_certificate_key $certs/wronghost.key;
		}
	EOF
	start_nginx "$snippet"
	run curl -sS --max-time 5 "$NGINX_URL/"
	assert_output "nginx ok"
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$NGINX_URL/index.html"
	assert_output 429

	run curl -sS --max-time 5 --cacert "$certs/ca.crt" "https://localhost:$NGINX_TLS_PORT/"
	assert_output "nginx ok"
	run curl -sS --max-time 5 "https://localhost:$NGINX_TLS_PORT/"
	assert_equal "$status" 60
	run curl -sS --max-time 5 --cacert "$certs/ca.crt" --resolve "expired.test:$NGINX_TLS_PORT:127.0.0.1" \
		"https://expired.test:$NGINX_TLS_PORT/"
	assert_equal "$status" 60
	assert_output --partial expired
	run curl -sS --max-time 5 --cacert "$certs/ca.crt" --resolve "wrong.test:$NGINX_TLS_PORT:127.0.0.1" \
		"https://wrong.test:$NGINX_TLS_PORT/"
	assert_equal "$status" 60
	run openssl verify -CAfile "$certs/ca.crt" "$certs/soon.crt"
	assert_success

	local pid=$NGINX_PID port=$NGINX_PORT
	stop_nginx
	assert_stopped "$pid" "$port"
	run pgrep -g "$pid"
	assert_failure
}

@test "start_smtp: a message sent with curl lands in the mailbox" {
	start_smtp
	run curl -sS --max-time 10 "smtp://127.0.0.1:$SMTP_PORT" --mail-from ops@example.com \
		--mail-rcpt oncall@example.com -T - <<<$'Subject: deploy failed\r\n\r\nrollback started\r\n'
	assert_success
	run smtp_message_count
	assert_output 1
	run cat "$SMTP_MAILBOX"/new/*
	assert_line 'Subject: deploy failed'
	assert_line 'X-RcptTo: oncall@example.com'
	assert_line --partial 'rollback started'

	local pid=$SMTP_PID port=$SMTP_PORT
	stop_smtp
	assert_stopped "$pid" "$port"
}

@test "start_alertmanager: API v2 answers and takes an alert" {
	start_alertmanager
	run curl -sSf --max-time 5 "$AM_URL/api/v2/status"
	assert_success
	assert_equal "$(jq -r .cluster.status <<<"$output")" disabled
	run curl -sSf --max-time 5 -H 'Content-Type: application/json' \
		--data '[{"labels":{"alertname":"ShipshapeTest","severity":"critical"}}]' "$AM_URL/api/v2/alerts"
	assert_success
	run curl -sSf --max-time 5 "$AM_URL/api/v2/alerts?filter=alertname%3DShipshapeTest"
	assert_equal "$(jq -r '.[0].labels.alertname' <<<"$output")" ShipshapeTest

	local pid=$AM_PID port=$AM_PORT
	stop_alertmanager
	assert_stopped "$pid" "$port"
}

@test "stop_faultsrv: the server is gone and a second stop is harmless" {
	local pid=$FAULT_PID port=$FAULT_PORT
	stop_faultsrv
	assert_stopped "$pid" "$port"
	run stop_faultsrv
	assert_success
	run wait_for_port "$port" 1
	assert_failure
}
