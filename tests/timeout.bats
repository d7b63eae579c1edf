#!/usr/bin/env bats
# -t bounds the whole invocation (shipshape(7), CONVENTIONS): against a port
# that accepts and never answers (the fault server's silent port), each tool
# that waits stops at -t with its documented status, its per-step limit set
# far beyond it, and leaves its records whole. cfg-resolve never waits and
# takes no -t.
load helpers/common
load helpers/services

setup_file() {
	start_silent_port
	SILENT_URL="http://127.0.0.1:$SILENT_PORT"
	export SILENT_URL
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_DEPLOY_PID=$$
}

# timed CMD...: runs CMD as bats' run does (stdout in $output), and sets
# $elapsed_ms to how long it took
timed() {
	local t0 t1
	t0=$(date +%s%3N)
	run --separate-stderr "$@"
	t1=$(date +%s%3N)
	elapsed_ms=$((t1 - t0))
}

# within MS: the last timed run ended before MS (a loaded machine's margin
# over -t 1s; the per-step limits are 60s)
within() {
	[ "$elapsed_ms" -lt "$1" ] || fail "took ${elapsed_ms}ms (status $status): $stderr"
}

@test "cfg-resolve never waits: -t is a usage error" {
	printf 'a: 1\n' >c.yaml
	run --separate-stderr cfg-resolve -t 1s c.yaml
	assert_equal "$status" 64
	assert_equal "$stderr" "cfg-resolve: unknown option -t (see cfg-resolve --help)"
	run --separate-stderr cfg-resolve --state-dir . c.yaml
	assert_equal "$status" 64
}

@test "db-check -t: a server that never answers is not waited for past -t" {
	jq -n --arg url "postgresql://app@127.0.0.1:$SILENT_PORT/db?connect_timeout=60" \
		'{database:{url:$url}}' >cfg.json
	timed db-check -c cfg.json --only connect -t 1s --format json
	within 8000
	# no answer to connect is db.connect's critical (db-check(1)), at -t
	assert_equal "$status" 2
	[[ $(jq -r '.checks[0].message' <<<"$output") == *"timed out after 1s"* ]] || fail "$output"
}

@test "health-watch -t: the whole run, not one probe (--probe-timeout)" {
	# --until not reached at -t: 2, and the until event names the target
	timed health-watch --target "a=$SILENT_URL/health" --probe-timeout 60s --until up -t 1s
	within 8000
	assert_equal "$status" 2
	assert_equal "$(jq -sr '.[] | select(.type=="until") | [.reached, .not_yet[0]] | @tsv' <<<"$output")" \
		"$(printf 'false\ta')"
	# --count not finished at -t: 3; the metrics file is whole
	timed health-watch --target "a=$SILENT_URL/health" --probe-timeout 60s --count 2 -t 1s --metrics-file m.prom
	within 8000
	assert_equal "$status" 3
	grep -qx 'health_watch_probes_total{target="a",url="'"$SILENT_URL"'/health"} 0' m.prom
	# no --until or --count: -t ends the watch as a signal does
	timed health-watch --target "a=$SILENT_URL/health" --probe-timeout 60s -t 1s
	within 8000
	assert_equal "$status" 0
	# -t bounds the run: the old per-probe meaning is --probe-timeout's
	run --separate-stderr health-watch --target "a=$SILENT_URL/health" --probe-timeout soon
	assert_equal "$status" 64
	assert_equal "$stderr" 'health-watch: invalid --probe-timeout "soon" (expected a duration such as 10s or 500ms)'
}

@test "alert-send -t: an attempt still out at -t is spooled, nothing lost" {
	jq -n --arg url "$SILENT_URL/hook" \
		'{service:{name:"api"},alerts:{webhook:{url:$url},group_wait:"0s",timeout:"60s",
		  retry:{attempts:1}}}' >cfg.json
	alert() {
		jq -cn '{kind:"alert",status:"firing",labels:{alertname:"HealthCheckFailed",target:"api",severity:"critical"},
			annotations:{summary:"api is down"},startsAt:"2026-01-01T00:00:00Z"}'
	}
	# stdin left open: -t ends the run, not the input
	mkfifo in.fifo
	(alert; exec sleep 30) >in.fifo 3>&- &
	local feeder=$!
	timed alert-send -c cfg.json -t 1s --format json <in.fifo
	kill "$feeder"
	within 8000
	assert_equal "$status" 2
	assert_equal "$(jq -sr '[.[] | select(.kind=="delivery") | .status] | unique | join(" ")' <<<"$output")" spooled
	[ "$(find "$SHIPSHAPE_STATE_DIR/alert-send/spool" -type f | wc -l)" -eq 1 ]
	# the spooled notification is whole: a flush reads it (and spools it again)
	timed alert-send -c cfg.json flush -t 1s --attempt-timeout 60s --format json
	within 8000
	assert_equal "$(jq -sr '[.[] | select(.kind=="delivery") | .status] | unique | join(" ")' <<<"$output")" spooled
	# --test: a notification not delivered at -t failed
	timed alert-send -c cfg.json --test -t 1s --format json </dev/null
	within 8000
	assert_equal "$status" 2
	assert_equal "$(jq -sr '[.[] | select(.kind=="delivery") | .status] | last' <<<"$output")" failed
}

@test "deploy-stage -t: the whole command, the driver and a lock wait included" {
	jq -n --arg url "$SILENT_URL" \
		'{service:{name:"api"},deploy:{driver:"render",timeout:"60s",
		  render:{api_url:$url,service_id:"srv-1",api_key:"k-123456",poll_interval:"20ms"}}}' >config.json
	deploy-stage -c config.json begin --release v2 >/dev/null
	timed deploy-stage -c config.json apply -t 1s --format json
	within 8000
	assert_equal "$status" 2
	# the apply record is whole and says failed
	local j="$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl"
	jq -e . "$j" >/dev/null
	assert_equal "$(jq -sr '[.[] | select(.type=="apply")] | last | .status' "$j")" failed
	# a held lock: --wait 60s ends at -t with 75
	SHIPSHAPE_DEPLOY_PID=1 deploy-stage -c config.json lock acquire >/dev/null 2>&1 || true
	timed env SHIPSHAPE_DEPLOY_PID=$$ deploy-stage -c config.json begin --release v3 --wait 60s -t 1s
	within 8000
	assert_equal "$status" 75
	# e2e: a step to the silent port ends at -t
	jq -n --arg url "$SILENT_URL" \
		'{service:{name:"api"},deploy:{e2e:{base_url:$url,timeout:"60s",steps:[{name:"a",url:"/a"}]}}}' >e2e.json
	timed deploy-stage -c e2e.json e2e -t 1s --format json
	within 8000
	[ "$status" -ne 0 ]
}

@test "rollback -t: the whole command, the health verification included" {
	mkdir -p releases/v1 releases/v2
	jq -n --arg dir "$PWD/releases" --arg url "$SILENT_URL" \
		'{service:{name:"api"},api:{base_url:$url,health_path:"/health"},
		  monitoring:{health_check:{timeout:"60s"}},
		  deploy:{driver:"symlink",symlink:{releases_dir:$dir}}}' >config.json
	local r
	for r in v1 v2; do
		deploy-stage -c config.json begin --release "$r" >/dev/null
		deploy-stage -c config.json apply >/dev/null
		deploy-stage -c config.json finish --result ok >/dev/null
	done
	timed rollback -c config.json --health-timeout 60s -t 1s --format json
	within 8000
	assert_equal "$status" 2
	# the journal whole, health not verified
	local j
	for j in "$SHIPSHAPE_STATE_DIR"/deploy/api/*.jsonl; do
		jq -e . "$j" >/dev/null || fail "$j is not whole"
	done
	[[ $(jq -r '.message // empty' <<<"$output" | tail -n 1) == *"not healthy"* ]] || fail "$output"
}
