#!/usr/bin/env bash
# bench/alert-send-fanout.sh — alert-send's fan-out throughput: ALERTS
# (default 200) firing alerts, one notification each (group_by target, no
# group wait, no rate limit), to the three HTTP channels at once (slack and
# webhook on faultsrv, alertmanager on a real Alertmanager), all through the
# shared REST client on one engine. Side by side with the same POSTs made
#   - by alert-send to one channel (webhook): what fanning out costs,
#   - by curl in a shell loop (a process per POST, the naive notifier),
#   - by one curl --parallel --parallel-max 3 (one process, connections
#     reused, one POST per channel at a time as alert-send makes them),
# once with receivers answering at once and once with slack and webhook
# answering after DELAY_MS (default 10). The bodies the peers send are the
# ones alert-send sent (recorded by faultsrv in a first run). Everything on
# 127.0.0.1; RUNS (default 3) timed runs of each after hyperfine's warm-up.
RUNS=${RUNS:-3}
. "$(dirname "$0")/lib.sh"
. "$REPO_ROOT/tests/helpers/services.bash"
ALERTS=${ALERTS:-200}
DELAY_MS=${DELAY_MS:-10}
work=$(mktemp -d)
cleanup() {
	stop_faultsrv
	stop_alertmanager
	rm -rf "$work"
}
trap cleanup EXIT
export BATS_FILE_TMPDIR=$work SHIPSHAPE_BUILD=$BUILD SHIPSHAPE_STATE_DIR=$work/state
start_faultsrv >/dev/null
start_alertmanager >/dev/null

jq -cn --argjson n "$ALERTS" 'range($n) as $i |
	{kind: "alert", status: "firing",
	 labels: {alertname: "HealthCheckFailed", target: "t\($i)", severity: "critical", environment: "bench"},
	 annotations: {summary: "t\($i) is down", error: "HTTP 503"}}' >"$work/alerts.jsonl"

# config FILE SLACK_URL WEBHOOK_URL [ALERTMANAGER_URL]
config() {
	{
		echo "alerts:"
		[ -n "$2" ] && echo "  slack: {webhook_url: \"$2\"}"
		echo "  webhook: {url: \"$3\"}"
		[ -n "${4:-}" ] && echo "  alertmanager: {url: \"$4\"}"
		echo "  group_by: [target]"
		echo "  group_wait: 0s"
		echo "  rate_limit: {count: 0}"
	} >"$1"
}

# send CONFIG EXPECTED: one run from fresh state, every notification delivered.
send() {
	rm -rf "$SHIPSHAPE_STATE_DIR"
	alert-send -c "$1" <"$work/alerts.jsonl" >"$work/out.jsonl"
	local n
	n=$(grep -c '"status":"delivered"' "$work/out.jsonl" || true)
	[ "$n" -eq "$2" ] || { echo "alert-send delivered $n of $2 notifications" >&2; exit 1; }
}

# The bodies alert-send sends: slack's and webhook's as faultsrv recorded
# them, Alertmanager's the same alerts as the webhook's, as it posts them.
config "$work/record.yaml" "$FAULT_URL/record/slack" "$FAULT_URL/record/hook" "$AM_URL"
send "$work/record.yaml" $((3 * ALERTS))
mkdir "$work/body"
for ch in slack hook; do
	jq -r '.body' "$FAULT_RECORD_DIR/$ch.jsonl" | split -l 1 -a 4 -d - "$work/body/$ch."
done
jq -c '.json.alerts | map({labels, annotations, startsAt, endsAt: "2099-01-01T00:00:00Z", generatorURL})' \
	"$FAULT_RECORD_DIR/hook.jsonl" | split -l 1 -a 4 -d - "$work/body/am."
[ "$(find "$work/body" -type f | wc -l)" -eq $((3 * ALERTS)) ] || { echo "bodies not recorded" >&2; exit 1; }

# run DELAY: the four side by side, slack and webhook answering after DELAY ms.
run() {
	local delay=$1 hook="$FAULT_URL/status/200?delay_ms=$1" am="$AM_URL/api/v2/alerts" i i4 url name
	config "$work/fan.yaml" "$hook" "$hook" "$AM_URL"
	config "$work/one.yaml" "" "$hook"
	send "$work/fan.yaml" $((3 * ALERTS))
	send "$work/one.yaml" "$ALERTS"
	# The same POSTs in alert-send's order: each alert to the three channels.
	: >"$work/requests" && : >"$work/curl.cfg"
	for ((i = 0; i < ALERTS; i++)); do
		printf -v i4 '%04d' "$i"
		for name in slack hook am; do
			[ "$name" = am ] && url=$am || url=$hook
			echo "$url $work/body/$name.$i4" >>"$work/requests"
			[ -s "$work/curl.cfg" ] && echo next >>"$work/curl.cfg" # between entries, not after the last
			printf 'url = "%s"\ndata-binary = "@%s"\nheader = "Content-Type: application/json"\noutput = "/dev/null"\n' \
				"$url" "$work/body/$name.$i4" >>"$work/curl.cfg"
		done
	done
	cat >"$work/loop.sh" <<-'SH'
	while read -r url body; do
		curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary "@$body" "$url" || exit 1
	done <"$1"
	SH
	hyperfine_compare "alert-send fan-out: $ALERTS alerts to 3 channels ($((3 * ALERTS)) POSTs), slack and webhook answering after $delay ms" \
		--prepare "rm -rf $SHIPSHAPE_STATE_DIR" \
		-n "alert-send, 3 channels ($((3 * ALERTS)) POSTs)" "alert-send -c $work/fan.yaml <$work/alerts.jsonl >/dev/null" \
		-n "alert-send, webhook only ($ALERTS POSTs)" "alert-send -c $work/one.yaml <$work/alerts.jsonl >/dev/null" \
		-n "curl loop, a process per POST ($((3 * ALERTS)))" "bash $work/loop.sh $work/requests" \
		-n "curl --parallel-max 3, one process ($((3 * ALERTS)))" "curl -sf --parallel --parallel-max 3 --config $work/curl.cfg"
}

run 0
echo
run "$DELAY_MS"
