#!/usr/bin/env bats
# metric-check against a real Prometheus (Debian's) on 127.0.0.1, in a temp
# directory of its own, scraping every second a loopback target these tests
# control: python3's http.server serving metrics files they write. Started
# once in setup_file, stopped in teardown_file; every wait is bounded.
load helpers/common
load helpers/services

PROMETHEUS=/usr/bin/prometheus

# write_metrics FILE TEXT: the file the target serves, replaced whole
write_metrics() {
	printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"
}

# prom_query PROMQL: Prometheus's answer, straight from its API
prom_query() {
	curl -sf --max-time 2 "$PROM_URL/api/v1/query" --data-urlencode "query=$1"
}

# prom_has PROMQL N: true when the query returns N series now
prom_has() {
	[ "$(prom_query "$1" | jq '.data.result | length')" = "$2" ]
}

setup_file() {
	local dir=$BATS_FILE_TMPDIR/prom target_port
	mkdir -p "$dir/www/static" "$dir/www/bake" "$dir/data"
	export PROM_DIR=$dir BAKE_FILE=$dir/www/bake/metrics
	write_metrics "$dir/www/static/metrics" '# TYPE app_ratio gauge
app_ratio{service="api"} 0.002
app_latency_p95_seconds{service="api",environment="production"} 0.8
app_upload_failures{service="api"} 30
app_errors{pod="a"} 1
app_errors{pod="b"} 5
app_errors{pod="c"} 20
app_release_latency{release="v2"} 0.4
app_release_latency{release="v3"} 1
app_release_latency{release="v4"} 0.42
app_nan NaN'
	write_metrics "$BAKE_FILE" 'bake_errors 0'
	target_port=$(free_port)
	svc_spawn "$dir/http.log" "$SVC_PYTHON" -m http.server "$target_port" --bind 127.0.0.1 --directory "$dir/www"
	export TARGET_PID=$SVC_PID
	PROM_PORT=$(free_port)
	cat >"$dir/prometheus.yml" <<-EOF
		global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}
		scrape_configs:
		  - job_name: static
		    metrics_path: /static/metrics
		    static_configs: [{targets: ['127.0.0.1:$target_port']}]
		  - job_name: bake
		    metrics_path: /bake/metrics
		    static_configs: [{targets: ['127.0.0.1:$target_port']}]
	EOF
	svc_spawn "$dir/prometheus.log" "$PROMETHEUS" --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
	export PROM_PID=$SVC_PID PROM_PORT PROM_URL=http://127.0.0.1:$PROM_PORT
	if ! svc_wait 30 prom_has 'app_errors' 3 || ! svc_wait 10 prom_has 'bake_errors' 1; then
		svc_log_tail "$dir/prometheus.log"
		return 1
	fi
	start_silent_port --dir "$dir"
	export CLOSED_PORT
	CLOSED_PORT=$(free_port)
}

teardown_file() {
	svc_stop_pid "${PROM_PID:-}"
	svc_stop_pid "${TARGET_PID:-}"
	stop_silent_port
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# mc ARGS...: metric-check on the test Prometheus, JSON out
mc() {
	run --separate-stderr metric-check --prometheus "$PROM_URL" --format json -t 5s "$@"
}

# analysis_config FILE METRICS_YAML: a config with an analysis section
analysis_config() {
	printf 'environment: production\nservice: {name: api}\nanalysis:\n  prometheus:\n    url: %s\n  metrics:\n%s\n' \
		"$PROM_URL" "$2" >"$1"
}

@test "ok, warning and critical by the ranges: exit 0, 1, 2, with the query, the value, its labels and time" {
	local c query want code
	for c in 'app_ratio{service="api"}|ok|0' 'app_latency_p95_seconds|warning|1' 'app_upload_failures|critical|2'; do
		IFS='|' read -r query want code <<<"$c"
		mc --name m --query "$query" --warning '~:0.5' --critical '~:20'
		[ "$status" -eq "$code" ] || fail "$query: exit $status: $output $stderr"
		assert_equal "$(json_get .checks[0].status)" "$want"
		assert_equal "$(json_get .checks[0].name)" metric.m
		assert_equal "$(json_get .checks[0].data.query)" "$query"
		assert_equal "$(json_get .checks[0].data.thresholds.warning)" '~:0.5'
		assert_equal "$(json_get .checks[0].data.thresholds.critical)" '~:20'
		assert_equal "$(json_get '.checks[0].data.series[0].labels.job')" static
		json_get '.checks[0].data.series[0].timestamp' | grep -qE '^[0-9]{10}'
		json_get '.checks[0].data.series[0].time' | grep -qE '^20[0-9-]+T[0-9:.]+Z$'
		assert_equal "$(json_get .checks[0].data.inconclusive)" false
		[[ $(json_get .checks[0].message) == *"query: $query"* ]]
		[[ $(json_get .checks[0].message) == *"warning ~:0.5, critical ~:20"* ]]
	done
	assert_equal "$(json_get .checks[0].data.series[0].value)" 30
	[[ $(json_get .checks[0].message) == *'app_upload_failures{'*'service="api"} = 30 at '*'outside the critical range ~:20'* ]]
}

@test "per_series: each series judged, the worst wins, its labels in the message" {
	mc --name errors --query 'app_errors' --per-series --warning 4 --critical 10
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].data.series | length')" 3
	assert_equal "$(json_get '[.checks[0].data.series[] | .labels.pod + "=" + .status] | sort | join(",")')" \
		"a=ok,b=warning,c=critical"
	[[ $(json_get .checks[0].message) == "errors: worst app_errors{"*'pod="c"} = 20 at '*': outside the critical range 10; 3 series:'* ]]
	# without per_series, several series are not silently judged as one
	mc --name errors --query 'app_errors' --warning 4
	assert_equal "$status" 3
	[[ $(json_get .checks[0].message) == *"3 series where one was expected"* ]]
	# the worst is the worst whichever order the series come in
	mc --name errors --query 'sort(app_errors)' --per-series --warning 4 --critical 10
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].data.series[0].labels.pod')" a
	[[ $(json_get .checks[0].message) == "errors: worst app_errors{"*'pod="c"} = 20'* ]]
}

@test "no_data: each setting, NaN counted as no data, inconclusive flagged apart" {
	local c mode code inc
	for c in ok:0:false warning:1:false critical:2:false unknown:3:false inconclusive:3:true; do
		IFS=: read -r mode code inc <<<"$c"
		mc --name nd --query 'absent_metric_here' --no-data "$mode" --critical 1
		[ "$status" -eq "$code" ] || fail "no_data $mode: exit $status: $output"
		assert_equal "$(json_get .checks[0].data.inconclusive)" "$inc"
		assert_equal "$(json_get .checks[0].data.no_data)" "$mode"
		[[ $(json_get .checks[0].message) == *"no data: the query returned no series"*"(no_data: $mode)"* ]]
	done
	# the default is inconclusive
	mc --query 'absent_metric_here'
	assert_equal "$status" 3
	assert_equal "$(json_get .checks[0].data.inconclusive)" true
	# NaN (0/0) is no data too, not a value that passes every range
	mc --query 'app_nan' --no-data critical --warning 1
	assert_equal "$status" 2
	assert_equal "$(json_get .checks[0].data.series[0].no_data)" true
}

@test "compare: previous_release judges this release's value against the previous one's" {
	analysis_config c.yaml '    - name: latency
      query: app_release_latency{release="{{release}}"}
      critical: "~:5"
      compare: previous_release
      ratio_warning: "~:1.2"
      ratio_critical: "~:1.5"'
	run --separate-stderr metric-check -c c.yaml --release v3 --previous-release v2 --format json -t 5s
	assert_equal "$status" 2
	assert_equal "$(json_get .checks[0].data.compare.previous_release)" v2
	assert_equal "$(json_get .checks[0].data.compare.query)" 'app_release_latency{release="v2"}'
	assert_equal "$(json_get .checks[0].data.compare.value)" 0.4
	assert_equal "$(json_get .checks[0].data.compare.ratio)" 2.5
	assert_equal "$(json_get .checks[0].data.compare.status)" critical
	[[ $(json_get .checks[0].message) == *"previous release v2: "*"0.4 at "*"ratio 2.5: outside the ratio critical range ~:1.5"* ]]
	run --separate-stderr metric-check -c c.yaml --release v4 --previous-release v2 --format json -t 5s
	assert_equal "$status" 0
	assert_equal "$(json_get .checks[0].data.compare.ratio)" 1.05
	# the previous release without data: the metric's no_data (inconclusive)
	run --separate-stderr metric-check -c c.yaml --release v4 --previous-release v1 --format json -t 5s
	assert_equal "$status" 3
	assert_equal "$(json_get .checks[0].data.inconclusive)" true
	# a first release has none to compare with: its value alone, and a warning saying so
	run --separate-stderr metric-check -c c.yaml --release v4 --format json -t 5s
	assert_equal "$status" 1
	assert_equal "$(json_get .checks[0].data.compare.status)" not_compared
	[[ $(json_get .checks[0].message) == *"0.42 at "*"not compared with a previous release: none was given"* ]]
	run --separate-stderr metric-check -c c.yaml --release v3 --format json -t 5s
	assert_equal "$status" 1
}

@test "placeholders: filled in and shown; an unknown one is exit 65 naming the metric; a missing value exit 64" {
	analysis_config c.yaml '    - name: lat
      query: app_latency_p95_seconds{service="{{service}}",environment="{{environment}}"} * 0 + {{window_s}}
      warning: "~:1"'
	run --separate-stderr metric-check -c c.yaml -t 5s
	assert_equal "$status" 65
	assert_equal "$(grep -c . <<<"$stderr")" 1
	[[ $stderr == "metric-check: c.yaml:"*": analysis.metrics[0].query: metric \"lat\": unknown placeholder {{window_s}}"* ]]
	analysis_config c.yaml '    - name: lat
      query: max_over_time(app_latency_p95_seconds{service="{{service}}",environment="{{environment}}"}[{{window}}])
      window: 30s
      warning: "~:1"'
	run --separate-stderr metric-check -c c.yaml --format json -t 5s
	assert_equal "$status" 0
	assert_equal "$(json_get .checks[0].data.query)" \
		'max_over_time(app_latency_p95_seconds{service="api",environment="production"}[30s])'
	[[ $(json_get .checks[0].message) == *'query: max_over_time(app_latency_p95_seconds{service="api",environment="production"}[30s])' ]]
	# --service wins over service.name
	run --separate-stderr metric-check -c c.yaml --service web --format json -t 5s
	assert_equal "$status" 3
	[[ $(json_get .checks[0].data.query) == *'service="web"'* ]]
	# ad hoc: {{release}} needs --release
	mc --query 'app_release_latency{release="{{release}}"}'
	assert_equal "$status" 64
	[[ $stderr == *'metric "query": {{release}} needs a value: give --release'* ]]
	mc --query 'app_release_latency{release="{{release}}"}' --release v3 --warning 0.5
	assert_equal "$status" 1
	assert_equal "$(json_get .checks[0].data.query)" 'app_release_latency{release="v3"}'
}

@test "a PromQL syntax error: unknown (3) with Prometheus's own error text and the metric's name" {
	mc --name broken --query 'sum(app_errors'
	assert_equal "$status" 3
	assert_equal "$(json_get .checks[0].status)" unknown
	assert_equal "$(json_get .checks[0].data.error.type)" bad_data
	[[ $(json_get .checks[0].data.error.message) == *"parse error: unclosed left parenthesis"* ]]
	[[ $(json_get .checks[0].message) == "broken: Prometheus answered bad_data: "*"unclosed left parenthesis"*"query: sum(app_errors" ]]
	assert_equal "$(json_get .checks[0].data.inconclusive)" false
}

@test "Prometheus unreachable (a closed loopback port): unknown (3), the metric named" {
	run --separate-stderr metric-check --prometheus "http://127.0.0.1:$CLOSED_PORT" --name up --query up \
		--format json -t 3s
	assert_equal "$status" 3
	[[ $(json_get .checks[0].message) == "up: Prometheus did not answer: connect error: "* ]]
	assert_equal "$(json_get .checks[0].data.inconclusive)" false
}

@test "Prometheus hanging (a silent port): ends within -t, unknown (3)" {
	local start=$SECONDS
	run --separate-stderr metric-check --prometheus "http://127.0.0.1:$SILENT_PORT" --name up --query up \
		--format json -t 1s
	assert_equal "$status" 3
	((SECONDS - start <= 3)) || fail "took $((SECONDS - start)) s with -t 1s"
	[[ $(json_get .checks[0].message) == "up: Prometheus did not answer"* ]]
}

@test "many metrics in one run are queried at once: 40 hanging queries end together within -t" {
	local i metrics='' start=$SECONDS
	for ((i = 0; i < 40; i++)); do
		metrics+="    - {name: m$i, query: up}"$'\n'
	done
	analysis_config c.yaml "$metrics"
	sed -i "s|^    url: .*|    url: http://127.0.0.1:$SILENT_PORT|" c.yaml
	run --separate-stderr metric-check -c c.yaml --format json -t 1s
	assert_equal "$status" 3
	assert_equal "$(json_get '[.checks[] | select(.status == "unknown")] | length')" 40
	((SECONDS - start <= 4)) || fail "40 queries took $((SECONDS - start)) s with -t 1s: not at once"
	# and on the real Prometheus, every answer judged
	sed -i "s|^    url: .*|    url: $PROM_URL|; s|query: up}|query: 'sum(up)', warning: '1:'}|" c.yaml
	run --separate-stderr metric-check -c c.yaml --format json -t 5s
	assert_equal "$status" 0
	assert_equal "$(json_get '[.checks[] | select(.status == "ok")] | length')" 40
}

@test "a bad config: exit 65, one line naming the file and the key" {
	analysis_config c.yaml '    - name: a
      query: up
      warning: "10:5"'
	run --separate-stderr metric-check -c c.yaml -t 2s
	assert_equal "$status" 65
	assert_equal "$(grep -c . <<<"$stderr")" 1
	assert_equal "$stderr" 'metric-check: c.yaml:9:16: analysis.metrics[0].warning: "10:5" is not a range (expected 10, 10:, ~:10, 10:20 or @10:20)'
	assert_equal "$output" ""
	analysis_config c.yaml '    - name: a
      no_data: maybe'
	run --separate-stderr metric-check -c c.yaml -t 2s
	assert_equal "$status" 65
	[[ $stderr == *"c.yaml:7:7: analysis.metrics[0].query: required, but missing"* ]]
	[[ $stderr == *'c.yaml:8:16: analysis.metrics[0].no_data: "maybe" is not one of ok, warning, critical, unknown, inconclusive'* ]]
	# a comparison is of one value with one
	analysis_config c.yaml '    - name: a
      query: x{release="{{release}}"}
      per_series: true
      compare: previous_release'
	run --separate-stderr metric-check -c c.yaml -t 2s --release v2 --previous-release v1
	assert_equal "$status" 65
	assert_equal "$stderr" 'metric-check: c.yaml:10:16: analysis.metrics[0].compare: metric "a": a comparison is of one value with one: not with per_series'
	# no analysis section at all
	printf 'environment: production\n' >none.yaml
	run --separate-stderr metric-check -c none.yaml -t 2s
	assert_equal "$status" 65
	assert_equal "$stderr" "metric-check: none.yaml: analysis: required, but missing (the metrics to judge are analysis.metrics)"
}

@test "bad ranges and options on the command line: exit 64, one line" {
	local args
	for args in "--warning 10:5" "--critical x" "--no-data perhaps" "--range 0" "--failure-limit 1"; do
		# shellcheck disable=SC2086
		mc --query up $args
		[ "$status" -eq 64 ] || fail "$args: exit $status"
		assert_equal "$(grep -c . <<<"$stderr")" 1
		[[ $stderr == metric-check:* ]]
	done
	# in nagios mode a usage error is UNKNOWN, as the plugin contract says
	mc --query up --watch 5s --format nagios
	assert_equal "$status" 3
	[[ $output == "metric-check UNKNOWN - bake mode prints JSON Lines or text, not nagios" ]]
	run --separate-stderr metric-check --query up -t 1s
	assert_equal "$status" 64
	[[ $stderr == *"no Prometheus URL"* ]]
}

@test "a range query over a window: /api/v1/query_range, every point judged" {
	mc --name errs --query 'app_errors{pod="b"}' --range 5s --step 1s --warning 4
	assert_equal "$status" 1
	assert_equal "$(json_get .checks[0].data.endpoint)" /api/v1/query_range
	assert_equal "$(json_get .checks[0].data.range)" 5s
	assert_equal "$(json_get .checks[0].data.step)" 1s
	[ "$(json_get .checks[0].data.series[0].points)" -ge 3 ]
	[[ $(json_get .checks[0].message) == *"(the worst of "*" points)"* ]]
}

@test "nagios: one status line with perfdata" {
	mc --name errors --query 'app_errors' --per-series --warning 4 --critical 10 --format nagios
	assert_equal "$status" 2
	assert_equal "$(grep -c . <<<"$output")" 1
	[[ $output == "metric-check CRITICAL - "*"errors: worst app_errors{"*'pod="c"} = 20'*" | "* ]]
	[[ $output == *" errors_"*"_a=1;4;10 "* ]]
	[[ $output == *" errors_"*"_c=20;4;10" ]]
	mc --name ratio --query 'app_ratio' --warning '~:0.01' --format nagios
	assert_equal "$status" 0
	assert_output --regexp '^metric-check OK - .* \| ratio=0\.002;0\.01;$'
}

@test "the bearer token: from the config's \${VAR} or --token-env, never printed, even with -vv" {
	local token=tok-Zq81vXk3b9
	analysis_config c.yaml '    - name: broken
      query: sum(app_errors'
	printf '  window: 1m\n' >>c.yaml
	sed -i 's|^    url: .*|&\n    bearer_token: ${PROM_TOKEN}|' c.yaml
	grep -q 'bearer_token: ${PROM_TOKEN}' c.yaml
	PROM_TOKEN=$token run --separate-stderr metric-check -c c.yaml -vv --format json -t 5s
	assert_equal "$status" 3
	[[ $stderr == *"Authorization"* ]] || fail "no request trace with -vv: $stderr"
	assert_secret_absent "$token" "$output" "$stderr"
	# the same from --token-env, against a port that hangs, and one that is closed
	PROM_TOKEN=$token run --separate-stderr metric-check --prometheus "http://127.0.0.1:$SILENT_PORT" \
		--token-env PROM_TOKEN --query up -vv -t 1s
	assert_equal "$status" 3
	assert_secret_absent "$token" "$output" "$stderr"
	# no option takes it on the command line
	run --separate-stderr metric-check --prometheus "$PROM_URL" --query up --bearer-token "$token"
	assert_equal "$status" 64
	assert_secret_absent "$token" "$output" "$stderr"
	run --separate-stderr metric-check --prometheus "$PROM_URL" --query up --token-env UNSET_TOKEN_VAR
	assert_equal "$status" 65
	[[ $stderr == *"environment variable UNSET_TOKEN_VAR is not set"* ]]
}

# start_recorder: a loopback HTTP server standing in for Prometheus that
# records each request's path and Authorization header (RECORD_FILE) and
# answers a scalar 1; REC_URL, REC_PID.
start_recorder() {
	cat >recorder.py <<-'EOF'
		import http.server, json, sys, time
		class H(http.server.BaseHTTPRequestHandler):
		    def do_GET(self):
		        with open(sys.argv[2], "a") as f:
		            f.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization", "")}) + "\n")
		        body = json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [time.time(), "1"]}}).encode()
		        self.send_response(200)
		        self.send_header("Content-Type", "application/json")
		        self.send_header("Content-Length", str(len(body)))
		        self.end_headers()
		        self.wfile.write(body)
		    def log_message(self, *args):
		        pass
		http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
	EOF
	local port
	port=$(free_port)
	RECORD_FILE=$BATS_TEST_TMPDIR/requests.jsonl
	svc_spawn "$BATS_TEST_TMPDIR/recorder.log" "$SVC_PYTHON" recorder.py "$port" "$RECORD_FILE"
	REC_PID=$SVC_PID REC_URL=http://127.0.0.1:$port
	wait_for_port "$port" 10
}

@test "credentials are sent: the bearer token from the config, basic auth; a path prefix is kept" {
	local token=tok-Ux71bQ0p4
	start_recorder
	analysis_config c.yaml '    - name: one
      query: scalar(up)
      warning: 2'
	sed -i "s|^    url: .*|    url: $REC_URL/prom/\n    bearer_token: \${PROM_TOKEN}|" c.yaml
	PROM_TOKEN=$token run --separate-stderr metric-check -c c.yaml --format json -t 5s
	assert_equal "$status" 0
	assert_equal "$(json_get .checks[0].data.result_type)" scalar
	assert_equal "$(json_get .checks[0].data.series[0].value)" 1
	assert_secret_absent "$token" "$output" "$stderr"
	assert_equal "$(jq -r .authorization "$RECORD_FILE")" "Bearer $token"
	[[ $(jq -r .path "$RECORD_FILE") == "/prom/api/v1/query?query=scalar%28up%29&timeout="* ]]
	analysis_config c.yaml '    - name: one
      query: scalar(up)'
	sed -i "s|^    url: .*|    url: $REC_URL\n    username: ops\n    password: \${PROM_PASSWORD}|" c.yaml
	: >"$RECORD_FILE"
	PROM_PASSWORD='p@ss:w/rd' run --separate-stderr metric-check -c c.yaml --format json -t 5s -vv
	assert_equal "$status" 0
	assert_equal "$(jq -r .authorization "$RECORD_FILE")" "Basic $(printf '%s' 'ops:p@ss:w/rd' | base64)"
	assert_secret_absent 'p@ss:w/rd' "$output" "$stderr"
	svc_stop_pid "$REC_PID"
}

@test "--watch: a round per interval as JSON Lines; a release turning bad stops it at the failure limit" {
	write_metrics "$BAKE_FILE" 'bake_errors 0'
	svc_wait 10 prom_has 'bake_errors == 0' 1
	metric-check --prometheus "$PROM_URL" --name bake --query 'max(bake_errors)' --critical 3 \
		--watch 30s --interval 1s --failure-limit 2 -t 2s >out.jsonl 2>err.txt &
	local pid=$! start=$SECONDS
	svc_wait 10 test -s out.jsonl || fail "no first round: $(cat err.txt)"
	write_metrics "$BAKE_FILE" 'bake_errors 9'
	svc_wait 20 svc_gone "$pid" || { kill "$pid"; fail "not stopped at the failure limit"; }
	wait "$pid" && status=0 || status=$?
	assert_equal "$status" 2
	((SECONDS - start < 25)) || fail "ran $((SECONDS - start)) s: not stopped early"
	output=$(head -n 1 out.jsonl)
	assert_equal "$(json_get .round)" 1
	assert_equal "$(json_get .status)" ok
	output=$(tail -n 1 out.jsonl)
	assert_equal "$(json_get .verdict)" true
	assert_equal "$(json_get .checks[0].name)" metric.bake
	assert_equal "$(json_get .checks[0].status)" critical
	assert_equal "$(json_get .checks[0].data.stopped)" failure_limit
	assert_equal "$(json_get .checks[0].data.failures)" 2
	assert_equal "$(json_get .checks[0].data.metrics.bake.critical)" 2
	# every line before the verdict is a round's report, numbered
	assert_equal "$(head -n -1 out.jsonl | jq -r .round | paste -sd' ')" "$(seq -s' ' 1 "$(($(wc -l <out.jsonl) - 1))")"
	assert_equal "$(tail -n 2 out.jsonl | head -n 1 | jq -r .status)" critical
	write_metrics "$BAKE_FILE" 'bake_errors 0'
}

@test "--watch: a good bake passes after its duration; SIGTERM ends one with a verdict" {
	write_metrics "$BAKE_FILE" 'bake_errors 0'
	svc_wait 10 prom_has 'bake_errors == 0' 1
	run --separate-stderr metric-check --prometheus "$PROM_URL" --query 'max(bake_errors)' --critical 3 \
		--watch 2s --interval 1s -t 2s
	assert_equal "$status" 0
	assert_equal "$(grep -c . <<<"$output")" 4 # rounds at 0, 1 and 2 s, and the verdict
	assert_equal "$(tail -n 1 <<<"$output" | jq -r .checks[0].data.stopped)" duration
	metric-check --prometheus "$PROM_URL" --query 'max(bake_errors)' --watch 60s --interval 1s -t 2s \
		>out.jsonl 2>err.txt &
	local pid=$!
	svc_wait 10 test -s out.jsonl || fail "no first round"
	kill -TERM "$pid"
	svc_wait 5 svc_gone "$pid" || { kill -KILL "$pid"; fail "SIGTERM did not end it"; }
	wait "$pid" && status=0 || status=$?
	assert_equal "$status" 3
	output=$(tail -n 1 out.jsonl)
	assert_equal "$(json_get .verdict)" true
	assert_equal "$(json_get .checks[0].data.stopped)" signal
	assert_equal "$(json_get .checks[0].data.interrupted)" true
	[[ $(json_get .checks[0].message) == *"interrupted by Terminated"* ]]
}

@test "--watch: rounds without data count against the inconclusive limit, not as failures" {
	run --separate-stderr metric-check --prometheus "$PROM_URL" --query 'absent_metric_here' \
		--watch 1s --interval 500ms --inconclusive-limit 5 -t 2s
	assert_equal "$status" 1 # passed, with a warning: 3 rounds could not be judged
	output=$(tail -n 1 <<<"$output")
	assert_equal "$(json_get .checks[0].data.inconclusive_rounds)" 3
	assert_equal "$(json_get .checks[0].data.failures)" 0
	assert_equal "$(json_get .checks[0].data.metrics.query.inconclusive)" 3
	run --separate-stderr metric-check --prometheus "$PROM_URL" --query 'absent_metric_here' \
		--watch 1s --interval 500ms --inconclusive-limit 1 -t 2s
	assert_equal "$status" 3
	output=$(tail -n 1 <<<"$output")
	assert_equal "$(json_get .checks[0].data.inconclusive)" true
	[[ $(json_get .checks[0].message) == *"the bake is inconclusive: 3 rounds could not be judged, more than the limit 1"* ]]
}

@test "--bake: deploy.bake's duration, interval and limits from the config, options over them" {
	analysis_config c.yaml '    - name: bake
      query: max(bake_errors)
      critical: "3"'
	printf 'deploy:\n  driver: symlink\n  symlink: {releases_dir: /nonexistent}\n  bake: {duration: 1s, interval: 500ms, failure_limit: 2, inconclusive_limit: 4}\n' >>c.yaml
	write_metrics "$BAKE_FILE" 'bake_errors 0'
	svc_wait 10 prom_has 'bake_errors == 0' 1
	run --separate-stderr metric-check -c c.yaml --bake -t 2s
	assert_equal "$status" 0
	output=$(tail -n 1 <<<"$output")
	assert_equal "$(json_get .checks[0].data.rounds)" 3 # at 0, 0.5 and 1 s
	assert_equal "$(json_get .checks[0].data.duration)" 1s
	assert_equal "$(json_get .checks[0].data.interval)" 500ms
	assert_equal "$(json_get .checks[0].data.failure_limit)" 2
	assert_equal "$(json_get .checks[0].data.inconclusive_limit)" 4
	assert_equal "$(json_get .checks[0].data.on_inconclusive)" fail
	run --separate-stderr metric-check -c c.yaml --bake --watch 2s --interval 1s --failure-limit 1 -t 2s
	output=$(tail -n 1 <<<"$output")
	assert_equal "$(json_get .checks[0].data.rounds)" 3 # at 0, 1 and 2 s
	assert_equal "$(json_get .checks[0].data.failure_limit)" 1
	# no duration: nothing to bake, one line naming the key
	sed -i 's/duration: 1s, //' c.yaml
	run --separate-stderr metric-check -c c.yaml --bake
	assert_equal "$status" 65
	[[ $stderr == *"deploy.bake.duration: 0s: no bake to run"* ]]
	assert_equal "$(grep -c . <<<"$stderr")" 1
	run --separate-stderr metric-check -c c.yaml --on-inconclusive pass
	assert_equal "$status" 64
	run --separate-stderr metric-check -c c.yaml --bake --watch 1s --on-inconclusive maybe
	assert_equal "$status" 64
	[[ $stderr == *'invalid --on-inconclusive "maybe" (expected fail or pass)'* ]]
}

@test "--on-inconclusive pass: past the limit, rounds without data pass with a warning; errors still do not" {
	run --separate-stderr metric-check --prometheus "$PROM_URL" --query 'absent_metric_here' \
		--watch 1s --interval 500ms --inconclusive-limit 1 --on-inconclusive pass -t 2s
	assert_equal "$status" 1
	output=$(tail -n 1 <<<"$output")
	assert_equal "$(json_get .checks[0].data.inconclusive)" true
	assert_equal "$(json_get .checks[0].data.on_inconclusive)" pass
	[[ $(json_get .checks[0].message) == *"more than the limit 1; passed with a warning"* ]]
	# Prometheus not answering is not "no data": unknown whatever the action
	run --separate-stderr metric-check --prometheus "http://127.0.0.1:$CLOSED_PORT" --query 'up' \
		--watch 1s --interval 500ms --inconclusive-limit 1 --on-inconclusive pass -t 2s
	assert_equal "$status" 3
	output=$(tail -n 1 <<<"$output")
	[[ $(json_get .checks[0].message) == *"3 of them errors, not no data"* ]]
}

@test "production.yaml's analysis: three metrics, placeholders filled from the config and --release" {
	set -a
	# shellcheck disable=SC1091
	. "$REPO_ROOT/tests/data/cfg/prod.env"
	set +a
	PROMETHEUS_URL=$PROM_URL run --separate-stderr metric-check -q -c "$REPO_ROOT/config/production.yaml" \
		--release v3 --previous-release v2 --format json -t 5s
	assert_equal "$(json_get '[.checks[].name] | join(",")')" "metric.http_5xx_ratio,metric.latency_p95,metric.upload_failures"
	[[ $(json_get .checks[0].data.query) == *'service="accessa-api",release="v3"'*'[5m]'* ]]
	# no traffic in the test Prometheus: no data, each as its metric says
	assert_equal "$(json_get '[.checks[].data.inconclusive] | join(",")')" "true,true,false"
	assert_equal "$status" 3
}
