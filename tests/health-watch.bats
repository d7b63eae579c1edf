#!/usr/bin/env bats
# health-watch: thresholds and states, alerts, --until gates, metrics,
# signals, reload, hung targets, bad input; and health-watch | alert-send
# against a real nginx stopped and started again.
load helpers/common
load helpers/services
load helpers/watch

setup_file() {
	start_faultsrv
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	N=t$BATS_TEST_NUMBER
}

teardown() {
	# a pipeline a test started in the background
	[ -z "${WATCH_PID:-}" ] || kill -TERM "$WATCH_PID" 2>/dev/null || true
	stop_nginx
}

@test "--help prints the synopsis on stdout and exits 0" {
	run --separate-stderr health-watch --help
	assert_success
	assert_output --partial "usage: health-watch [-c FILE] [--schema FILE] [--strict] [--target NAME=URL]..."
	[ -z "$stderr" ]
}

@test "usage errors exit 64" {
	run --separate-stderr health-watch --target nourl
	assert_equal "$status" 64
	[[ $stderr == *'invalid --target "nourl"'* ]]
	run --separate-stderr health-watch --target "api=http://user:pa55w0rd@127.0.0.1:99999/health"
	assert_equal "$status" 64
	assert_equal "$stderr" "health-watch: invalid --target api: invalid port (expected 1 to 65535)"
	run --separate-stderr health-watch --target a=http://x --until sideways
	assert_equal "$status" 64
	# -t bounds the whole run and replaced --deadline
	run --separate-stderr health-watch --target a=http://x --deadline 5s
	assert_equal "$status" 64
	assert_equal "$stderr" "health-watch: unknown or ambiguous option --deadline (see health-watch --help)"
	run --separate-stderr health-watch --target a=http://x --interval 1ms
	assert_equal "$status" 64
	run --separate-stderr health-watch --target a=http://x extra
	assert_equal "$status" 64
	assert_equal "$stderr" 'health-watch: unexpected operand "extra" (see health-watch --help)'
	# a bad flag is one line naming it, never the whole usage
	run --separate-stderr health-watch --bogus
	assert_equal "$status" 64
	assert_equal "$stderr" "health-watch: unknown or ambiguous option --bogus (see health-watch --help)"
	run --separate-stderr health-watch --target a=http://x --count
	assert_equal "$status" 64
	assert_equal "$stderr" "health-watch: option --count needs a value (see health-watch --help)"
	run --separate-stderr health-watch --target a=http://x --count=0
	assert_equal "$status" 64
	assert_equal "$stderr" 'health-watch: invalid --count "0" (expected a whole number >= 1)'
	run --separate-stderr health-watch -x
	assert_equal "$status" 64
	assert_equal "$stderr" "health-watch: unknown option -x (see health-watch --help)"
	[ -z "$output" ]
}

@test "an invalid config exits 65 naming the key" {
	printf 'monitoring:\n  health_check:\n    endpoints:\n      - {name: api}\n' >c.yaml
	run --separate-stderr health-watch -c c.yaml
	assert_equal "$status" 65
	assert_equal "$stderr" "health-watch: c.yaml:4:9: monitoring.health_check.endpoints[0].url: required, but missing"
	printf 'monitoring:\n  health_check:\n    endpoints:\n      - {name: api, url: "http://x", statuz: 200}\n' >c.yaml
	run --separate-stderr health-watch -c c.yaml
	assert_equal "$status" 65
	[[ $stderr == *"endpoints[0]: "*"statuz"* ]]
	printf 'monitoring:\n  health_check:\n    failure_threshold: 0\n    endpoints: [{name: a, url: "http://x"}]\n' >c.yaml
	run --separate-stderr health-watch -c c.yaml
	assert_equal "$status" 65
	[[ $stderr == *"monitoring.health_check.failure_threshold: expected a whole number from 1 to 1000"* ]]
	printf 'environment: production\n' >c.yaml
	run --separate-stderr health-watch -c c.yaml
	assert_equal "$status" 65
	[[ $stderr == *"no targets"* ]]
}

@test "one lost probe neither pages nor flaps; three failures go down and fire, two successes resolve" {
	run --separate-stderr health-watch --target "api=$FAULT_URL/seq/$N?codes=200,200,500,200,500,500,500,500,200,200" \
		--interval 100ms --count 10 --emit all
	assert_success
	assert_equal "$(json_get 'select(.type=="state") | .from + ">" + .to' | tr '\n' ' ')" "unknown>up up>down down>up "
	assert_equal "$(json_get 'select(.kind=="alert") | .status' | tr '\n' ' ')" "firing resolved "
	assert_equal "$(json_get 'select(.type=="probe") | .ok' | tr '\n' ' ')" \
		"true true false true false false false false true true "
	# the alert: Alertmanager's shape, its fingerprint stable across firing and resolved
	assert_equal "$(json_get 'select(.kind=="alert") | .fingerprint' | sort -u | wc -l)" 1
	assert_equal "$(json_get 'select(.kind=="alert" and .status=="firing") | [.labels.alertname, .labels.target, .labels.severity, .annotations.summary, .annotations.error] | @tsv')" \
		"$(printf 'HealthCheckFailed\tapi\tcritical\tapi is down: 3 consecutive failed probes\tHTTP 500 (expected 2xx)')"
	# startsAt is the first failure of the streak, endsAt the recovery
	local first_fail starts ends
	first_fail=$(json_get 'select(.type=="probe" and .ok==false) | .time' | sed -n 2p)
	starts=$(json_get 'select(.kind=="alert" and .status=="firing") | .startsAt')
	[[ $starts < $first_fail || $starts == "$first_fail" ]]
	ends=$(json_get 'select(.kind=="alert" and .status=="resolved") | .endsAt')
	[[ $ends > $starts ]]
}

@test "config endpoints: the thresholds and svc-probe's assertions apply" {
	cat >c.yaml <<-EOF
	environment: staging
	monitoring:
	  health_check:
	    interval: 100ms
	    timeout: 2s
	    failure_threshold: 2
	    success_threshold: 1
	    endpoints:
	      - name: api
	        url: "$FAULT_URL/json?body=%7B%22status%22%3A%22degraded%22%7D"
	        json: ['.status == "ok"']
	      - {name: ok, url: "$FAULT_URL/json", severity: warning}
	EOF
	run --separate-stderr health-watch -c c.yaml --count 2
	assert_equal "$status" 2
	assert_equal "$(json_get 'select(.kind=="alert") | [.labels.target, .labels.environment, .annotations.error] | @tsv')" \
		"$(printf 'api\tstaging\t%s' "$(json_get 'select(.kind=="alert") | .annotations.error')")"
	[[ $(json_get 'select(.kind=="alert") | .annotations.error') == *status* ]]
	assert_equal "$(json_get 'select(.type=="state" and .target=="ok") | .to')" "up"
}

@test "--until up exits 0 once every target is up; -t passing first exits 2 naming the laggards" {
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/204" \
		--interval 20ms --until up -t 20s
	assert_success
	assert_equal "$(json_get 'select(.type=="until") | [.state, .reached, (.not_yet|length)] | @tsv')" "$(printf 'up\ttrue\t0')"
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/503" \
		--interval 50ms --until up -t 500ms
	assert_equal "$status" 2
	assert_equal "$(json_get 'select(.type=="until") | [.reached, .not_yet[0]] | @tsv')" "$(printf 'false\tb')"
}

# probes_agree TARGET...: for each TARGET, health_watch_probes_total in m.prom
# equals the probe events in $output (--emit all): the file was written
# after the last probe; and m.prom is valid exposition (promtool where
# Debian's prometheus package is installed).
probes_agree() {
	local t n_events n_file
	for t in "$@"; do
		n_events=$(json_get "select(.type==\"probe\" and .target==\"$t\") | .ok" | grep -c . || true)
		n_file=$(sed -n "s/^health_watch_probes_total{target=\"$t\",.*} //p" m.prom)
		if [ "$n_events" != "$n_file" ]; then
			echo "$t: $n_events probe events, health_watch_probes_total ${n_file:-absent} in m.prom" >&2
			return 1
		fi
	done
	if command -v promtool >/dev/null; then
		promtool check metrics <m.prom
	fi
}

@test "--until, -t and a signal: the metrics file is written after the last probe" {
	# b answers slower than a: it comes up in a round whose start came before
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/200?delay_ms=30" \
		--interval 20ms --success-threshold 1 --until up -t 20s --emit all --metrics-file m.prom
	assert_success
	assert_equal "$(json_get 'select(.type=="state") | .target + ">" + .to' | sort | tr '\n' ' ')" "a>up b>up "
	probes_agree a b
	grep -qx 'health_watch_up{target="b",url="'"$FAULT_URL"'/status/200?delay_ms=30"} 1' m.prom
	# -t passed: b's probe (half an interval in) ends after the
	# round's start, a's second probe after b's
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/503" \
		--interval 1s --until up -t 1200ms --emit all --metrics-file m.prom
	assert_equal "$status" 2
	probes_agree a b
	# SIGTERM, right after b's first probe
	health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/200" --interval 1s \
		--emit all --metrics-file m.prom >out.jsonl 2>err.txt 3>&- &
	local pid=$!
	wait_until 10 grep -q '"target":"b","ok":true' out.jsonl
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	assert_equal "$st" 0
	output=$(cat out.jsonl)
	probes_agree a b
}

# report: the closing report, the last line of the output.
report() { printf '%s\n' "$output" | tail -n 1; }

@test "--count and --until end with one report: a check per target, its status the exit status" {
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/503" \
		--interval 50ms --failure-threshold 1 --success-threshold 1 --count 2
	assert_equal "$status" 2
	assert_equal "$(printf '%s\n' "$output" | jq -s 'map(select(.kind == "report")) | length')" 1
	assert_equal "$(report | jq -r '[.kind, .tool, .status] | @tsv')" "$(printf 'report\thealth-watch\tcritical')"
	assert_equal "$(report | jq -r '.checks[] | "\(.name) \(.status) \(.data.state)"' | tr '\n' ,)" \
		"health.a ok up,health.b critical down,"
	assert_equal "$(report | jq -r .summary)" "after 2 rounds: 1 up, 1 down, 0 unknown (not up: b)"
	[[ $(report | jq -r '.checks[1].message') == *"HTTP 503"* ]]
	# no verdict yet (one failure of three): unknown, exit 3
	run --separate-stderr health-watch --target "b=$FAULT_URL/status/503" --interval 50ms --count 1
	assert_equal "$status" 3
	assert_equal "$(report | jq -r '.status + " " + .checks[0].status')" "unknown unknown"
	# --until: reached is ok; the deadline passed is critical, naming who is not there
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --interval 20ms --success-threshold 1 \
		--until up -t 20s
	assert_success
	assert_equal "$(report | jq -r '.status + ": " + .summary')" "ok: until up: reached, every target up"
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/503" \
		--interval 20ms --success-threshold 1 --until up -t 300ms
	assert_equal "$status" 2
	assert_equal "$(report | jq -r '.status + ": " + .summary')" "critical: until up: deadline passed; not up yet: b"
	# text: the report's table and closing line
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --interval 20ms --success-threshold 1 \
		--until up -t 20s --format text
	assert_success
	assert_line --regexp '^OK +health\.a '
	assert_line --regexp '^health-watch: ok (-|—) until up: reached, every target up$'
	# a watch stopped by a signal made no verdict: no report
	health-watch --target "a=$FAULT_URL/status/200" --interval 50ms --count 100000 >out.jsonl &
	pid=$!
	wait_until 10 grep -q '"to":"up"' out.jsonl
	kill -TERM "$pid"
	wait "$pid"
	run ! grep -q '"kind":"report"' out.jsonl
}

@test "--format text and a terminal: the closing --until event is a line of text" {
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --interval 20ms --success-threshold 1 \
		--until up -t 20s --format text
	assert_success
	refute_line --regexp '^\{'
	assert_line --regexp '^[0-9-]+T[0-9:.]+Z  until up: reached, every target up$'
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/503" \
		--interval 20ms --until up -t 300ms --format text
	assert_equal "$status" 2
	refute_line --regexp '^\{'
	assert_line --regexp '^[0-9-]+T[0-9:.]+Z  until up: deadline passed; not up yet: b$'
	# plain ASCII, whatever the locale
	! printf '%s' "$output" | LC_ALL=C grep -q '[^[:print:][:space:]]'
	# standard output a terminal: text without --format (stderr, with the
	# progress line, elsewhere: tests/progress.bats)
	run bash -c "timeout 20 script -qec 'health-watch --target a=$FAULT_URL/status/200 --interval 20ms --success-threshold 1 --until up -t 20s 2>/dev/null' /dev/null | tr -d '\r'; exit \${PIPESTATUS[0]}"
	assert_success
	refute_line --regexp '^\{'
	assert_line --regexp '^[0-9-]+T[0-9:.]+Z  a +unknown -> up$'
	assert_line --regexp '^[0-9-]+T[0-9:.]+Z  until up: reached, every target up$'
}

@test "a hung target delays nobody else; its probes never pile up" {
	run --separate-stderr health-watch --target "hung=$FAULT_URL/hang" --target "fine=$FAULT_URL/status/200" \
		--interval 50ms --probe-timeout 1s --count 6 --emit all --metrics-file m.prom
	# one failure only: hung is neither up nor down yet
	assert_equal "$status" 3
	assert_equal "$(json_get 'select(.type=="probe" and .target=="fine") | .ok' | sort | uniq -c | tr -s ' ')" " 6 true"
	assert_equal "$(json_get 'select(.type=="probe" and .target=="hung") | .ok' | wc -l)" 1
	grep -qx 'health_watch_probes_skipped_total{target="hung",url="'"$FAULT_URL"'/hang"} 5' m.prom
	grep -qx 'health_watch_probes_skipped_total{target="fine",url="'"$FAULT_URL"'/status/200"} 0' m.prom
}

@test "--metrics-file: Prometheus text with blackbox_exporter's names, written whole" {
	run --separate-stderr health-watch --target "a=$FAULT_URL/status/200" --target "b=$FAULT_URL/status/500" \
		--interval 100ms --count 3 --metrics-file "$BATS_TEST_TMPDIR/m.prom"
	assert_equal "$status" 2
	grep -qx 'probe_success{target="a",url="'"$FAULT_URL"'/status/200"} 1' m.prom
	grep -qx 'probe_success{target="b",url="'"$FAULT_URL"'/status/500"} 0' m.prom
	grep -qx 'probe_http_status_code{target="b",url="'"$FAULT_URL"'/status/500"} 500' m.prom
	grep -qx 'health_watch_up{target="b",url="'"$FAULT_URL"'/status/500"} 0' m.prom
	grep -qx 'health_watch_consecutive_failures{target="b",url="'"$FAULT_URL"'/status/500"} 3' m.prom
	grep -qx '# TYPE health_watch_probes_total counter' m.prom
	grep -Eq '^probe_duration_seconds\{target="a",.*\} [0-9.e-]+$' m.prom
	[ "$(ls "$BATS_TEST_TMPDIR" | grep -c tmp)" -eq 0 ]
	# blackbox_exporter's phases and HTTP facts; plain HTTP: no TLS phase or version
	local phase
	for phase in resolve connect tls processing transfer; do
		grep -Eqx 'probe_http_duration_seconds\{target="a",url="[^"]*",phase="'"$phase"'"\} [0-9.e-]+' m.prom
	done
	grep -qx 'probe_http_duration_seconds{target="a",url="'"$FAULT_URL"'/status/200",phase="tls"} 0' m.prom
	grep -Eqx 'probe_dns_lookup_time_seconds\{target="a",url="[^"]*"\} [0-9.e-]+' m.prom
	grep -qx 'probe_http_version{target="a",url="'"$FAULT_URL"'/status/200"} 1.1' m.prom
	grep -qx 'probe_http_redirects{target="a",url="'"$FAULT_URL"'/status/200"} 0' m.prom
	grep -qx 'probe_http_ssl{target="a",url="'"$FAULT_URL"'/status/200"} 0' m.prom
	! grep -q '^probe_tls_version_info{' m.prom
	# no instance label (Prometheus would rename it exported_instance), no float noise
	! grep -q 'instance=' m.prom
	! grep -Eq '[0-9]\.[0-9]{10,}' m.prom
	# promtool-free check of the exposition: every sample line is name{labels} number
	! grep -Ev '^(# (HELP|TYPE) .*|[a-z_]+\{target="[^"]*",url="[^"]*"(,[a-z]+="[^"]*")?\} [-0-9.e+]+)$' m.prom
}

@test "--metrics-file: probe_http_redirects counts the redirects followed" {
	cat >c.yaml <<-EOF
	monitoring:
	  health_check:
	    success_threshold: 1
	    endpoints:
	      - {name: r, url: "$FAULT_URL/status/302?header=Location:/status/301%3Fheader=Location:/status/200", redirects: follow}
	EOF
	run --separate-stderr health-watch -c c.yaml --count 1 --metrics-file m.prom
	assert_success
	grep -qx 'probe_http_redirects{target="r",url="'"$FAULT_URL"'/status/302?header=Location:/status/301%3Fheader=Location:/status/200"} 2' m.prom
	grep -qx 'probe_http_status_code{target="r",url="'"$FAULT_URL"'/status/302?header=Location:/status/301%3Fheader=Location:/status/200"} 200' m.prom
}

@test "--metrics-file: the certificate's expiry over TLS, from a real nginx" {
	make_test_certs "$BATS_TEST_TMPDIR/certs"
	cat >snippet.conf <<-EOF
	server {
	    listen 127.0.0.1:@TLSPORT@ ssl;
	    ssl_certificate $TEST_CERTS_DIR/localhost.crt;
	    ssl_certificate_key $TEST_CERTS_DIR/localhost.key;
	    location = /health { return 200 "ok\n"; }
	}
	EOF
	start_nginx snippet.conf
	cat >c.yaml <<-EOF
	monitoring:
	  health_check:
	    interval: 100ms
	    success_threshold: 1
	    endpoints:
	      - {name: tls, url: "https://localhost:$NGINX_TLS_PORT/health", ca_file: "$TEST_CERTS_DIR/ca.crt"}
	EOF
	run --separate-stderr health-watch -c c.yaml --count 2 --metrics-file m.prom
	assert_success
	local expiry
	expiry=$(date -d "$(openssl x509 -enddate -noout -in "$TEST_CERTS_DIR/localhost.crt" | cut -d= -f2)" +%s)
	grep -qx "probe_ssl_earliest_cert_expiry{target=\"tls\",url=\"https://localhost:$NGINX_TLS_PORT/health\"} $expiry" m.prom
	grep -qx "probe_success{target=\"tls\",url=\"https://localhost:$NGINX_TLS_PORT/health\"} 1" m.prom
	grep -qx "probe_http_ssl{target=\"tls\",url=\"https://localhost:$NGINX_TLS_PORT/health\"} 1" m.prom
	grep -Eqx "probe_tls_version_info\{target=\"tls\",url=\"https://localhost:$NGINX_TLS_PORT/health\",version=\"TLS 1\.[23]\"\} 1" m.prom
	# a first probe makes the connection: its TLS handshake took time
	run --separate-stderr health-watch -c c.yaml --count 1 --metrics-file m1.prom
	assert_success
	local tls_s
	tls_s=$(sed -n 's/^probe_http_duration_seconds{target="tls",.*,phase="tls"} //p' m1.prom)
	awk -v v="$tls_s" 'BEGIN { exit !(v > 0) }'
}

@test "SIGTERM ends a watch cleanly: exit 0, every line whole" {
	health-watch --target "a=$FAULT_URL/status/200" --interval 20ms --heartbeat 20ms >out.jsonl 2>err.txt 3>&- &
	local pid=$!
	wait_until 10 grep -q heartbeat out.jsonl
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	assert_equal "$st" 0
	jq -e . out.jsonl >/dev/null
	[ "$(jq -r 'select(.type=="heartbeat") | .targets' out.jsonl | sort -u)" = 1 ]
	[ ! -s err.txt ]
}

b_probes() { grep -c '"target":"b","ok":true' out.jsonl; }
b_probes_above() { [ "$(b_probes)" -gt "$1" ]; }

@test "SIGHUP reloads the config: a new endpoint is watched, a known one keeps its state" {
	printf 'monitoring:\n  health_check:\n    interval: 20ms\n    success_threshold: 1\n    endpoints:\n      - {name: a, url: "%s/status/200"}\n' "$FAULT_URL" >c.yaml
	# stderr appended to: the test empties err.txt while the watch runs
	health-watch -c c.yaml --emit all >out.jsonl 2>>err.txt 3>&- &
	local pid=$!
	WATCH_PID=$pid
	wait_until 10 grep -q '"to":"up"' out.jsonl
	printf '      - {name: b, url: "%s/status/200"}\n' "$FAULT_URL" >>c.yaml
	kill -HUP "$pid"
	wait_until 10 grep -q '"target":"b","ok":true' out.jsonl
	# an invalid config on SIGHUP keeps the old one running
	printf 'monitoring: [\n' >c.yaml
	kill -HUP "$pid"
	wait_until 10 grep -q 'still watching with the old config' err.txt
	# so does a well-formed file the schema refuses: one line, the file and its first problem
	printf 'monitoring:\n  health_check:\n    interval: 3O s\n    failure_threshold: many\n' >c.yaml
	: >err.txt
	kill -HUP "$pid"
	wait_until 10 grep -q 'still watching with the old config' err.txt
	assert_equal "$(cat err.txt)" 'health-watch: SIGHUP: c.yaml:3:15: monitoring.health_check.interval: expected a duration, got "3O s"; still watching with the old config'
	# b is still probed: more of its probes than now (counted at each try)
	local before
	before=$(b_probes)
	wait_until 10 b_probes_above "$before"
	kill -TERM "$pid"
	wait "$pid"
	assert_equal "$(jq -r 'select(.type=="state") | .target + ":" + .to' out.jsonl | sort | tr '\n' ' ')" "a:up b:up "
}

@test "secrets in a target URL never reach the output" {
	run --separate-stderr health-watch --target "a=http://user:hunter2secret@127.0.0.1:$FAULT_PORT/status/500" \
		--interval 100ms --count 3 --emit all
	assert_equal "$status" 2
	assert_secret_absent hunter2secret "$output" "$stderr"
	[[ $(json_get 'select(.kind=="alert") | .annotations.url') == *"user:***@"* ]]
}

@test "output to a full disk is not success; an endless watch stops at the first failed write" {
	run bash -c "health-watch --target 'a=$FAULT_URL/status/200' --interval 20ms --count 2 --emit all >/dev/full"
	assert_equal "$status" 3
	# no --count: the watch would run forever writing nowhere
	run --separate-stderr bash -c "timeout 20 health-watch --target 'a=$FAULT_URL/status/200' --interval 20ms >/dev/full"
	assert_equal "$status" 3
	assert_equal "$stderr" "health-watch: unable to write output: No space left on device"
}

pipeline_gone() {
	! kill -0 "$1" 2>/dev/null
}

pager_count_is() {
	[ "$(curl -s "$FAULT_URL/_ctl/count/pager-$N")" = "$1" ]
}

@test "health-watch | alert-send against nginx: stop it, one firing; start it, one resolved" {
	cat >snippet.conf <<-'EOF'
	server {
	    listen 127.0.0.1:@PORT@;
	    location = /health { return 200 "ok\n"; }
	}
	EOF
	start_nginx snippet.conf
	cat >cfg.yaml <<-EOF
	environment: production
	monitoring:
	  health_check:
	    interval: 100ms
	    timeout: 1s
	    failure_threshold: 3
	    success_threshold: 2
	    endpoints:
	      - {name: api, url: "$NGINX_URL/health"}
	alerts:
	  webhook: {url: "$FAULT_URL/record/pager-$N"}
	  group_wait: 0s
	  retry: {attempts: 3, initial_backoff: 50ms}
	EOF
	(health-watch -c cfg.yaml --metrics-file "$BATS_TEST_TMPDIR/m.prom" | alert-send -c cfg.yaml >deliveries.jsonl 2>err.txt) 3>&- &
	local pipeline=$!
	WATCH_PID=$(pgrep -n -f "health-watch -c cfg.yaml --metrics-file $BATS_TEST_TMPDIR/m.prom")
	wait_until 20 grep -q '^health_watch_up{target="api".*} 1$' m.prom
	stop_nginx
	wait_until 20 pager_count_is 1
	# down for a while longer: still one notification
	wait_until 20 grep -Eq '^health_watch_consecutive_failures\{target="api".*\} ([89]|[1-9][0-9]+)$' m.prom
	assert_equal "$(curl -s "$FAULT_URL/_ctl/count/pager-$N")" 1
	restart_nginx
	wait_until 20 pager_count_is 2
	kill -TERM "$WATCH_PID"
	wait_until 20 pipeline_gone "$pipeline"
	WATCH_PID=
	local f=$FAULT_RECORD_DIR/pager-$N.jsonl
	assert_equal "$(jq -r '.json.status' "$f" | tr '\n' ' ')" "firing resolved "
	assert_equal "$(jq -r '.json.alerts[0] | .labels.alertname + " " + .labels.target + " " + .labels.environment' "$f" | sort -u)" \
		"HealthCheckFailed api production"
	assert_equal "$(jq -r '.json.alerts[0].annotations.summary' "$f" | head -n1)" "api is down: 3 consecutive failed probes"
	assert_equal "$(jq -r 'select(.status=="delivered") | .reason' deliveries.jsonl | tr '\n' ' ')" "new resolved "
}
