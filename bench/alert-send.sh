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

# Muting: the same 100,000 events with 1,000 silences (10 of them matching
# a target, the rest on targets that never alert, so every alert is tested
# against all of them) and 100 inhibit rules (each alert is the target side
# of every rule; 10 rules have a firing source, one per 100 targets).
SILENCES=${SILENCES:-1000}
RULES=${RULES:-100}
rm -rf "$SHIPSHAPE_STATE_DIR"
mkdir -p "$SHIPSHAPE_STATE_DIR/alert-send/silences"
jq -rn --argjson n "$SILENCES" --arg from "$(date -u -d '-1 min' +%FT%TZ)" --arg to "$(date -u -d '+1 day' +%FT%TZ)" '
	range($n) as $i | [($i | tostring),
	 ({id: ("00000000-0000-4000-8000-" + ("000000000000" + ($i | tostring))[-12:]),
	   matchers: [{name: "target", value: (if $i % 100 == 0 then "t\($i / 100 | floor)" else "quiet\($i)" end), isRegex: false, isEqual: true},
	              {name: "severity", value: "crit.*", isRegex: true, isEqual: true}],
	   startsAt: $from, endsAt: $to, createdBy: "bench", comment: "bench"} | tojson)] | @tsv' |
	while IFS=$'\t' read -r i doc; do printf '%s' "$doc" >"$SHIPSHAPE_STATE_DIR/alert-send/silences/$i.json"; done
{
	printf 'alerts:\n  webhook: {url: "%s/record/hook-c"}\n  group_wait: 30s\n  rate_limit: {count: 20, per: 1m}\n  inhibit:\n' "$FAULT_URL"
	for ((r = 0; r < RULES; r++)); do
		printf '    - {source_matchers: [%s], target_matchers: [%s], equal: [target]}\n' \
			"'alertname=\"Cause$r\"'" "'alertname=\"HealthCheckFailed\"'"
	done
} >"$work/cfg.yaml"
# the causes: rule r's source fires on target t(r*100) for the first 10 rules
jq -cn --argjson r "$RULES" 'range([$r, 10] | min) as $i |
	{kind: "alert", status: "firing", labels: {alertname: "Cause\($i)", target: "t\($i * 100)", environment: "bench"}, annotations: {}}' \
	>"$work/causes.jsonl"
cat "$work/causes.jsonl" "$work/events.jsonl" >"$work/muted.jsonl"
${PERF:-} /usr/bin/time -f "%U %S %M" -o "$work/time" alert-send -c "$work/cfg.yaml" <"$work/muted.jsonl" >"$work/out.jsonl"
read -r user sys kb <"$work/time"
notes=$(grep -c '"status":"delivered"' "$work/out.jsonl" || true)
muted=$(jq '[.alerts[] | select(.muted_by)] | length' "$SHIPSHAPE_STATE_DIR/alert-send/state.json")
printf '%-28s %d events  CPU %.3f s  peak RSS %.1f MB  notifications %d; %d alerts muted at the end\n' \
	"$SILENCES silences, $RULES rules:" "$EVENTS" "$(echo "$user + $sys" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$notes" "$muted"
