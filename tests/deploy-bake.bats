#!/usr/bin/env bats
# The bake stage of scripts/deploy_production.sh against real services: the
# demo's PostgreSQL, nginx and webhook receiver (as in deploy-production.bats),
# and Debian's Prometheus scraping, every second, a metrics file these tests
# write (served by python3's http.server on 127.0.0.1). A release is judged
# on app_errors{release=...}: 0 is good, 9 is past the critical range.
load helpers/common
load helpers/services

# write_metrics TEXT: the file Prometheus scrapes, replaced whole
write_metrics() {
	printf '%s\n' "$1" >"$METRICS_FILE.tmp" && mv "$METRICS_FILE.tmp" "$METRICS_FILE"
}

# prom_has PROMQL N: the query returns N series now
prom_has() {
	[ "$(prom_series_count "$1")" = "$2" ]
}

setup_file() {
	local www=$BATS_FILE_TMPDIR/www port
	start_postgres
	pg_superuser_psql -q -f "$REPO_ROOT/scripts/demo/schema.sql" >/dev/null
	mkdir -p "$BATS_FILE_TMPDIR/nginx" "$www"
	cp -R "$REPO_ROOT/scripts/demo/releases" "$BATS_FILE_TMPDIR/nginx/releases"
	cp -R "$REPO_ROOT/scripts/demo/stubs" "$BATS_FILE_TMPDIR/nginx/stubs"
	start_nginx "$REPO_ROOT/scripts/demo/nginx.conf" --dir "$BATS_FILE_TMPDIR/nginx"
	start_faultsrv
	start_redis
	export METRICS_FILE=$www/metrics
	write_metrics 'app_errors{release="v1"} 0
app_errors{release="v2"} 0'
	port=$(free_port)
	svc_spawn "$BATS_FILE_TMPDIR/http.log" "$SVC_PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$www"
	export METRICS_PID=$SVC_PID
	printf -- "- job_name: app\n  metrics_path: /metrics\n  static_configs: [{targets: ['127.0.0.1:%s']}]\n" \
		"$port" >"$BATS_FILE_TMPDIR/scrape.yml"
	start_prometheus --scrape "$BATS_FILE_TMPDIR/scrape.yml"
	svc_wait 30 prom_has app_errors 2 || { svc_fail "Prometheus has no app_errors"; return 1; }
	export DEMO_RELEASES_DIR="$BATS_FILE_TMPDIR/nginx/releases" DEMO_CURRENT="$BATS_FILE_TMPDIR/nginx/current"
	export SHIPSHAPE_STATE_DIR="$BATS_FILE_TMPDIR/state"
	cat >"$BATS_FILE_TMPDIR/bake.yaml" <<-EOF
		monitoring:
		  health_check:
		    interval: 500ms
		    failure_threshold: 2
		analysis:
		  prometheus:
		    url: $PROM_URL
		  metrics:
		    - name: errors
		      query: max(app_errors{release="{{release}}"})
		      warning: "~:0"
		      critical: "~:3"
		deploy:
		  bake:
		    duration: 3s
		    interval: 1s
		    failure_limit: 2
	EOF
}

teardown_file() {
	svc_stop_pid "${METRICS_PID:-}"
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_STATE_DIR="$BATS_FILE_TMPDIR/state"
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR"
	cat >demo.env <<-E
	DATABASE_URL=$PGTEST_URL
	API_BASE_URL=$NGINX_URL
	SUPABASE_URL=$NGINX_URL/supabase
	LLAMAPARSE_API_URL=$NGINX_URL/llamaparse
	OPENAI_API_URL=$NGINX_URL/openai/v1
	SLACK_WEBHOOK_URL=$FAULT_URL/record/slack
	REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
	E
}

deploy() {
	"$REPO_ROOT/scripts/deploy_production.sh" -c "$REPO_ROOT/config/local.yaml" \
		-c "$REPO_ROOT/scripts/demo/demo.yaml" -c "$BATS_FILE_TMPDIR/bake.yaml" -e demo.env \
		--requests 5 --security headers --health-timeout 5s --yes "$@"
}
current() { basename "$(readlink "$DEMO_CURRENT")"; }
history() { deploy-stage --service accessa-api-demo history --format json; }
journal() { ls "$SHIPSHAPE_STATE_DIR/deploy/accessa-api-demo/"*.jsonl | tail -n "${1:-1}" | head -n 1; }
alerts() { cat "$FAULT_RECORD_DIR/slack.jsonl" 2>/dev/null || true; }

@test "a good release bakes: rounds on Prometheus beside health-watch, each journaled; the verdict passes; history shows it" {
	run --separate-stderr deploy -r v1 -m "first"
	assert_success
	run --separate-stderr deploy -r v2
	assert_success
	assert_line --regexp '^  bake +passed +2 reports, all ok$'
	[ "$(current)" = v2 ]
	j=$(journal)
	# every round journaled as a report of stage bake, then the verdict
	rounds=$(jq -s '[.[] | select(.type == "report" and .stage == "bake" and .report.round != null)] | length' "$j")
	((rounds >= 3)) || fail "$rounds rounds journaled"
	run jq -r 'select(.type == "report" and .stage == "bake" and .report.verdict == true) | .report.checks[0] |
		"\(.name) \(.status) \(.data.rounds) \(.data.failures)"' "$j"
	assert_output "metric.bake ok $rounds 0"
	# the first round judged v2's own series: the query as sent, its value
	run jq -r 'select(.type == "report" and .stage == "bake" and .report.round == 1) | .report.checks[0].data |
		"\(.query) \(.series[0].value)"' "$j"
	assert_output 'max(app_errors{release="v2"}) 0'
	run jq -r 'select(.type == "report" and .stage == "bake" and .report.tool == "health-watch") | .report.checks[0] |
		"\(.name) \(.status)"' "$j"
	assert_output "health.bake ok"
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -r 'select(.release == "v2") | "\(.bake.status) \(.bake.rounds) \(.bake.failures)"')" \
		"ok $rounds 0"
	assert_equal "$(printf '%s\n' "$output" | jq -r 'select(.release == "v2") | .stages | map(.stage) | join(" ")')" \
		"pre-deploy infrastructure application post-deploy bake readiness"
	run --separate-stderr deploy-stage --service accessa-api-demo history --format text
	assert_output --regexp 'bake\+ readiness\+'
}

@test "a release whose metrics go bad fails the bake at its failure limit: rolled back, alerted, the query and values in the summary" {
	[ "$(current)" = v2 ]
	write_metrics 'app_errors{release="v1"} 9
app_errors{release="v2"} 0'
	svc_wait 10 prom_has 'app_errors{release="v1"} == 9' 1
	start=$SECONDS
	run --separate-stderr deploy -r v1 --bake 30s
	assert_equal "$status" 2
	((SECONDS - start < 25)) || fail "took $((SECONDS - start)) s: the bake did not stop at its failure limit"
	assert_line --regexp '^  bake +FAILED +1 of 2 reports failed \(metric-check critical\)'
	assert_line --regexp 'critical: metric\.bake: 2 rounds: 0 ok, 0 warning, 2 critical, 0 unknown; the bake failed'
	assert_line --regexp 'critical: metric\.errors: errors: 9 at .*outside the critical range ~:3.*query: max\(app_errors\{release="v1"\}\)'
	assert_line --regexp '^  rollback +ok +back to v2'
	assert_line --regexp '^  alert +sent '
	[ "$(current)" = v2 ]
	run alerts
	assert_output --partial "deploy of v1 to accessa-api-demo failed at bake"
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[-2] | "\(.release) \(.result) \(.failed_stage) \(.bake.status) \(.bake.failures)"')" \
		"v1 failed bake critical 2"
	write_metrics 'app_errors{release="v1"} 0
app_errors{release="v2"} 0'
	svc_wait 10 prom_has 'app_errors{release="v1"} == 0' 1
}

@test "a target going down during the bake stops it at once and fails it, naming the target" {
	[ "$(current)" = v2 ]
	# v1's /health goes away 1 s into its bake (nginx serves the release's
	# health.json): once the bake's metric-check runs, so that the probes
	# before it, slower under ASan, still see it
	(svc_wait 60 pgrep -f 'metric-check .*--bake' >/dev/null &&
		sleep 1 && mv "$DEMO_RELEASES_DIR/v1/health.json" "$BATS_TEST_TMPDIR/v1-health.json") &
	start=$SECONDS
	run --separate-stderr deploy -r v1 --bake 90s
	wait
	mv "$BATS_TEST_TMPDIR/v1-health.json" "$DEMO_RELEASES_DIR/v1/health.json"
	assert_equal "$status" 2
	((SECONDS - start < 60)) || fail "took $((SECONDS - start)) s: the bake ran on with a target down"
	assert_line --regexp '^  bake +FAILED '
	assert_line --regexp 'critical: health\.bake: api went down during the bake at 20[0-9-]+T'
	assert_line --regexp '^  rollback +ok +back to v2'
	[ "$(current)" = v2 ]
	# the rounds were stopped by the deploy, not run to the end
	run jq -r 'select(.type == "report" and .stage == "bake" and .report.verdict == true) | .report.checks[0].data.stopped' "$(journal 2)"
	assert_output signal
}

@test "no bake (--bake 0) is a warning saying so; --dry-run says the bake would run; a bad --bake is 64" {
	run --separate-stderr deploy -r v2 --bake 0
	assert_success
	assert_line --regexp '^  bake +passed +1 report; 1 with warnings'
	run jq -r 'select(.type == "report" and .stage == "bake") | .report.checks[0] | "\(.name) \(.status) \(.message)"' "$(journal)"
	assert_output --partial "metric.bake warning no bake: deploy.bake.duration is 0"
	run --separate-stderr deploy -r v2 --dry-run
	assert_success
	assert_line --regexp '^  bake +would run +metric-check rounds for 3s beside health-watch'
	run --separate-stderr deploy -r v2 --bake soon
	assert_equal "$status" 64
	assert_equal "$stderr" 'deploy_production: invalid --bake "soon" (expected a duration: 0, 30s, 10m, 1h)'
}

@test "Prometheus stopped: the bake cannot judge the release, so it fails (unknown), never passes" {
	stop_prometheus
	run --separate-stderr deploy -r v1 --bake 2s
	assert_equal "$status" 2
	assert_line --regexp '^  bake +FAILED +1 of 2 reports failed \(metric-check unknown\)'
	assert_line --regexp 'unknown: metric\.errors: errors: Prometheus did not answer: .*127\.0\.0\.1'
	[ "$(current)" = v2 ]
}
