#!/usr/bin/env bats
# health-watch's metrics the way production collects them: health-watch
# --metrics-file into a directory, Debian's node_exporter (the textfile
# collector alone) serving it, Debian's Prometheus scraping node_exporter
# every second, and the series queried back from Prometheus's API. All on
# 127.0.0.1; every wait is bounded.
load helpers/common
load helpers/services

# prom_value PROMQL: the value of the query's one series now ("" if none)
prom_value() {
	prom_query "$1" | jq -r 'if (.data.result | length) == 1 then .data.result[0].value[1] else "" end'
}

# prom_has_value PROMQL: the query has one series now
prom_has_value() {
	[ -n "$(prom_value "$1")" ]
}

# probes_grew N: health_watch_probes_total{target="api"} is past N now
probes_grew() {
	awk -v a="$1" -v b="$(prom_value 'health_watch_probes_total{target="api"}')" 'BEGIN { exit !(b + 0 > a + 0) }'
}

setup_file() {
	export TEXTFILE_DIR=$BATS_FILE_TMPDIR/textfile
	mkdir -p "$TEXTFILE_DIR"
	start_faultsrv
	start_node_exporter --textfile-dir "$TEXTFILE_DIR"
	printf -- "- job_name: node\n  static_configs: [{targets: ['127.0.0.1:%s']}]\n" \
		"$NODE_EXPORTER_PORT" >"$BATS_FILE_TMPDIR/scrape.yml"
	start_prometheus --scrape "$BATS_FILE_TMPDIR/scrape.yml"
	export UP_URL=$FAULT_URL/status/200 DOWN_URL=$FAULT_URL/status/503
	health-watch --target "api=$UP_URL" --target "worker=$DOWN_URL" --interval 200ms \
		--failure-threshold 1 --success-threshold 1 \
		--metrics-file "$TEXTFILE_DIR/health-watch.prom" >"$BATS_FILE_TMPDIR/watch.jsonl" 2>&1 3>&- &
	export WATCH_PID=$!
	svc_wait 30 prom_has_value 'probe_success{target="worker"}' ||
		{ svc_fail "Prometheus has no probe_success from health-watch"; return 1; }
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown_file() {
	[ -z "${WATCH_PID:-}" ] || kill -TERM "$WATCH_PID" 2>/dev/null || true
	[ -z "${WATCH_PID:-}" ] || wait "$WATCH_PID" 2>/dev/null || true
	stop_all_services
	stop_faultsrv
}

@test "the file health-watch writes passes promtool and node_exporter reads it without error" {
	promtool check metrics <"$TEXTFILE_DIR/health-watch.prom"
	curl -sf --max-time 2 "$NODE_EXPORTER_URL/metrics" >ne.txt
	grep -qx 'node_textfile_scrape_error 0' ne.txt
	grep -q '^probe_success{target="api",url="'"$UP_URL"'"} 1$' ne.txt
	# what Prometheus itself ingests from node_exporter passes promtool too
	grep -v '^node_\|^go_\|^process_\|^promhttp_\|^# .* \(node\|go\|process\|promhttp\)_' ne.txt | promtool check metrics
}

@test "queried back from Prometheus: target and url as written, instance is node_exporter's, no exported_instance" {
	local series
	series=$(prom_query 'probe_success{target="api"}' | jq -c '.data.result[0].metric')
	assert_equal "$(jq -r .url <<<"$series")" "$UP_URL"
	assert_equal "$(jq -r .instance <<<"$series")" "127.0.0.1:$NODE_EXPORTER_PORT"
	assert_equal "$(jq -r .job <<<"$series")" node
	assert_equal "$(jq -r 'has("exported_instance")' <<<"$series")" false
	assert_equal "$(prom_value 'probe_success{target="api"}')" 1
	assert_equal "$(prom_value 'probe_success{target="worker"}')" 0
	assert_equal "$(prom_value 'probe_http_status_code{target="worker"}')" 503
	assert_equal "$(prom_value 'health_watch_up{target="worker"}')" 0
	assert_equal "$(prom_value 'probe_http_ssl{target="api"}')" 0
	assert_equal "$(prom_value 'probe_http_version{target="api"}')" 1.1
}

@test "blackbox_exporter's queries work: the phases sum to at most the duration, an alert rule finds the down target" {
	assert_equal "$(prom_series_count 'probe_http_duration_seconds{target="api"}')" 5
	assert_equal "$(prom_query 'probe_http_duration_seconds{target="api"}' | jq -r '[.data.result[].metric.phase] | sort | join(",")')" \
		connect,processing,resolve,tls,transfer
	# the usual blackbox alert expression, as a rule would run it
	assert_equal "$(prom_query 'probe_success == 0' | jq -r '[.data.result[].metric.target] | join(",")')" worker
	# phases and duration come from the same probe, in the same file
	local ok
	ok=$(prom_query 'sum by (target) (probe_http_duration_seconds{target="api"}) <= bool on (target) probe_duration_seconds{target="api"} + 1e-6' |
		jq -r '.data.result[0].value[1]')
	assert_equal "$ok" 1
}

@test "the counters grow across scrapes, and metric-check judges health-watch's series" {
	local first
	first=$(prom_value 'health_watch_probes_total{target="api"}')
	svc_wait 20 probes_grew "$first"
	run --separate-stderr metric-check --prometheus "$PROM_URL" --name up \
		--query 'min(probe_success{target="api"})' --critical 1:1
	assert_success
	run --separate-stderr metric-check --prometheus "$PROM_URL" --name worker \
		--query 'min(probe_success{target="worker"})' --critical 1:1
	assert_equal "$status" 2
}
