#!/usr/bin/env bash
# bench/alert-send.sh — alert-send taking 100,000 events from 1,000 flapping
# targets (firing and resolved in turn, interleaved), delivering to a local
# webhook (faultsrv): CPU time, peak memory, and how many notifications
# grouping let through. Everything on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
. "$REPO_ROOT/tests/helpers/services.bash"
EVENTS=${EVENTS:-100000}
TARGETS=${TARGETS:-1000}
work=$(mktemp -d)
cleanup() {
	stop_faultsrv
	rm -rf "$work"
}
trap cleanup EXIT
export BATS_FILE_TMPDIR=$work SHIPSHAPE_STATE_DIR=$work/state
start_faultsrv >/dev/null

# Event i: target k = i % TARGETS, its round r = i / TARGETS; each target
# alternates firing and resolved, odd targets starting resolved, so that
# half of them end firing.
jq -cn --argjson n "$EVENTS" --argjson t "$TARGETS" '
	range($n) as $i | ($i % $t) as $k | (($i / $t) | floor) as $round |
	{kind: "alert", status: (if ($round + $k) % 2 == 0 then "firing" else "resolved" end),
	 labels: {alertname: "HealthCheckFailed", target: "t\($k)", severity: "critical", environment: "bench"},
	 annotations: {summary: "t\($k) flaps", error: "HTTP 503"}}' >"$work/events.jsonl"

run_one() { # NAME GROUP_WAIT
	rm -rf "$SHIPSHAPE_STATE_DIR"
	cat >"$work/cfg.yaml" <<-YAML
	alerts:
	  webhook: {url: "$FAULT_URL/record/hook-$1"}
	  group_wait: $2
	  rate_limit: {count: 20, per: 1m}
	YAML
	/usr/bin/time -f '%U %S %M' -o "$work/time" alert-send -c "$work/cfg.yaml" <"$work/events.jsonl" >"$work/out.jsonl"
	read -r user sys kb <"$work/time"
	local notes alerts
	notes=$(grep -c '"status":"delivered"' "$work/out.jsonl" || true)
	alerts=$(jq -s 'map(select(.status=="delivered") | .alerts) | add // 0' "$work/out.jsonl")
	printf '%-28s %d events  CPU %.3f s  peak RSS %.1f MB  notifications %d (carrying %d alert states)\n' \
		"group_wait $2:" "$EVENTS" "$(echo "$user + $sys" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$notes" "$alerts"
}

echo "## alert-send: $EVENTS events from $TARGETS flapping targets, one webhook"
run_one a 30s
# the same stream arriving over time, as from health-watch: 10 bursts 200 ms apart
split -n l/10 "$work/events.jsonl" "$work/part."
rm -rf "$SHIPSHAPE_STATE_DIR"
cat >"$work/cfg.yaml" <<-YAML
alerts:
  webhook: {url: "$FAULT_URL/record/hook-b"}
  group_wait: 100ms
  rate_limit: {count: 20, per: 1m}
YAML
for p in "$work"/part.*; do cat "$p"; sleep 0.2; done |
	/usr/bin/time -f '%U %S %M' -o "$work/time" alert-send -c "$work/cfg.yaml" >"$work/out.jsonl"
read -r user sys kb <"$work/time"
notes=$(grep -c '"status":"delivered"' "$work/out.jsonl" || true)
printf '%-28s %d events  CPU %.3f s  peak RSS %.1f MB  notifications %d (rate limit 20/min)\n' \
	"10 bursts, group_wait 100ms:" "$EVENTS" "$(echo "$user + $sys" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$notes"
