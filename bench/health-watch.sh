#!/usr/bin/env bash
# bench/health-watch.sh — health-watch watching 1,000 targets on a local
# nginx at a 1 s interval for 30 s: CPU time per probe and peak memory,
# beside blackbox_exporter probing the same targets at the same rate (driven
# by a second health-watch through its /probe endpoint; only the exporter's
# own CPU is counted). Everything on 127.0.0.1; bounded by TARGETS x SECONDS.
. "$(dirname "$0")/lib.sh"
. "$REPO_ROOT/tests/helpers/services.bash"
TARGETS=${TARGETS:-1000}
SECONDS_RUN=${SECONDS_RUN:-30}
work=$(mktemp -d)
bb_pid=
cleanup() {
	[ -z "$bb_pid" ] || svc_stop_pid "$bb_pid"
	stop_nginx
	rm -rf "$work"
}
trap cleanup EXIT
export BATS_FILE_TMPDIR=$work

printf 'server {\n  listen 127.0.0.1:@PORT@ backlog=4096;\n  access_log off;\n  keepalive_requests 1000000;\n  location / { return 200 "ok\\n"; }\n}\n' >"$work/snippet.conf"
start_nginx "$work/snippet.conf" >/dev/null

# targets.json: one config document with TARGETS endpoints at /t0 ... /tN-1
jq -n --arg base "$NGINX_URL" --argjson n "$TARGETS" '{monitoring: {health_check: {interval: 1,
	timeout: 5, endpoints: [range($n) | {name: "t\(.)", url: "\($base)/t\(.)"}]}}}' >"$work/targets.json"

# cpu_ms PID: user+system CPU of a running process, in ms.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$1/stat"
}

# metric_sum NAME FILE: the sum of a metric over every target.
metric_sum() {
	awk -v m="$1" '$1 ~ "^" m "\\{" { s += $2 } END { print s + 0 }' "$2"
}

echo "## health-watch: $TARGETS targets, 1 s interval, ${SECONDS_RUN} s"
/usr/bin/time -f '%U %S %M' -o "$work/hw.time" \
	health-watch -c "$work/targets.json" --count "$SECONDS_RUN" --metrics-file "$work/hw.prom" >"$work/hw.out"
read -r hw_user hw_sys hw_kb <"$work/hw.time"
hw_probes=$(metric_sum health_watch_probes_total "$work/hw.prom")
hw_failed=$(metric_sum health_watch_probe_failures_total "$work/hw.prom")
hw_cpu_ms=$(echo "($hw_user + $hw_sys) * 1000" | bc -l)
hw_per=$(echo "$hw_cpu_ms / $hw_probes" | bc -l)
printf 'health-watch       probes %d (failed %d)  CPU %.0f ms  %.4f ms/probe  peak RSS %.1f MB\n' \
	"$hw_probes" "$hw_failed" "$hw_cpu_ms" "$hw_per" "$(echo "$hw_kb / 1024" | bc -l)"

echo "## blackbox_exporter: the same targets through /probe, same rate"
bb_port=$(free_port)
printf 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n' >"$work/blackbox.yml"
svc_spawn "$work/blackbox.log" /usr/bin/prometheus-blackbox-exporter --config.file="$work/blackbox.yml" \
	--web.listen-address="127.0.0.1:$bb_port" --log.level=warn
bb_pid=$SVC_PID
wait_for_port "$bb_port"
jq --arg bb "http://127.0.0.1:$bb_port" '.monitoring.health_check.endpoints |= map(.url = "\($bb)/probe?module=http_2xx&target=" + (.url | @uri))' \
	"$work/targets.json" >"$work/via-blackbox.json"
# the exporter answers 200 with probe_success 0 on a failed probe: check that
jq '.monitoring.health_check.endpoints |= map(. + {body_contains: ["probe_success 1"]})' \
	"$work/via-blackbox.json" >"$work/via-blackbox2.json"
bb_before=$(cpu_ms "$bb_pid")
health-watch -c "$work/via-blackbox2.json" --count "$SECONDS_RUN" --metrics-file "$work/bb.prom" >"$work/bb.out"
bb_after=$(cpu_ms "$bb_pid")
bb_probes=$(metric_sum health_watch_probes_total "$work/bb.prom")
bb_failed=$(metric_sum health_watch_probe_failures_total "$work/bb.prom")
bb_cpu_ms=$(echo "$bb_after - $bb_before" | bc -l)
bb_per=$(echo "$bb_cpu_ms / $bb_probes" | bc -l)
bb_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$bb_pid/status")
printf 'blackbox_exporter  probes %d (failed %d)  CPU %.0f ms  %.4f ms/probe  peak RSS %.1f MB\n' \
	"$bb_probes" "$bb_failed" "$bb_cpu_ms" "$bb_per" "$(echo "$bb_kb / 1024" | bc -l)"
printf 'ratio: blackbox_exporter uses %.1fx the CPU per probe of health-watch\n' "$(echo "$bb_per / $hw_per" | bc -l)"
