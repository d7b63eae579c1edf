#!/usr/bin/env bash
# demo.sh — `make demo`: a local production-shaped environment in a temporary
# directory, then deploys through scripts/deploy_production.sh:
#   v1, the release in production before the demo;
#   v2 passes every stage (its post-deploy uploads a document and polls it
#   until processed: deploy.e2e in scripts/demo/demo.yaml), then bakes 10s:
#   metric-check rounds on Prometheus (deploy.bake and analysis in
#   scripts/demo/bake.yaml), its 5xx ratio 0.1%;
#   v3 fails post-deploy (its /health answers 503) -> automatic rollback to
#   v2 -> an alert arrives at the local webhook receiver;
#   v4 passes every probe, but 9% of its requests answer 500 (its metrics):
#   its bake fails -> rollback to v2 -> an alert; the summary names the
#   query and the value measured.
# Every deploy bakes (v1 too); the whole demo takes under a minute.
# The deploy state (journal, lock, history) lives in PostgreSQL
# (state.backend: postgres, schema shipshape, a deployer role that may only
# read and append), as a team's would: the history is read back from there
# by a "machine" whose state directory is empty.
# Each deploy's notices (started, live, failed, rolled back) go to the same
# Slack receiver. Prints the history, the notices and the alerts, cleans up,
# and exits 0 only when all of that happened.
#
# The environment: PostgreSQL (a throwaway cluster, run as the postgres user
# when root) with the upload_pipeline schema and RLS; nginx serving the stub
# app's current release and stand-ins for Supabase (its REST and storage
# APIs: the bucket list comes from scripts/demo/stubs), LlamaParse and OpenAI;
# the project's fault server recording webhook posts (the Slack channel);
# Prometheus scraping every second the current release's /metrics (its
# metrics.prom, whose counters nginx computes from the clock) and
# node_exporter's textfile collector; scripts/demo/bake.yaml points the
# analysis (metric-check) at it.
# Writes the deploy reports (deploy-stage report, HTML) of the failed deploys
# to DEMO_REPORT (v3's, default build/demo-deploy-report.html) and
# DEMO_BAKE_REPORT (v4's, default build/demo-bake-report.html): they outlive
# the temporary directory; prints their paths.
# Environment: BUILD (default build), KEEP=1 keeps the directory for a look,
# DEMO_REPORT and DEMO_BAKE_REPORT the reports' paths.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" = /* ]] || BUILD="$repo/$BUILD"
export SHIPSHAPE_BUILD="$BUILD"
export PATH="$BUILD:$PATH"
demo_started=$(date +%s)

for t in cfg-resolve deploy-stage rollback metric-check helpers/faultsrv; do
	[[ -x "$BUILD/$t" ]] || { echo "demo: $BUILD/$t is not built (run make)" >&2; exit 1; }
done

# The service helpers of the test suite are plain bash: start_postgres,
# start_nginx, start_faultsrv and their stop_ functions.
# shellcheck source=../tests/helpers/services.bash
source "$repo/tests/helpers/services.bash"

DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shipshape-demo.XXXXXX")
export DEMO_DIR
cleanup() {
	local rc=$?
	stop_all_services >/dev/null 2>&1 || true
	if [[ "${KEEP:-0}" = 1 ]]; then
		echo "demo: kept $DEMO_DIR" >&2
	else
		rm -rf -- "$DEMO_DIR"
	fi
	return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Headings in bold on a terminal only; a log file gets plain text.
if [ -t 1 ]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi
failures=()
expect() { # expect DESCRIPTION CMD...
	local what="$1"
	shift
	if "$@"; then
		printf '  ok    %s\n' "$what"
	else
		printf '  FAIL  %s\n' "$what"
		failures+=("$what")
	fi
}

step "environment in $DEMO_DIR"
mkdir -p "$DEMO_DIR/nginx"
cp -R "$repo/scripts/demo/releases" "$DEMO_DIR/nginx/releases"
cp -R "$repo/scripts/demo/stubs" "$DEMO_DIR/nginx/stubs"
export DEMO_RELEASES_DIR="$DEMO_DIR/nginx/releases" DEMO_CURRENT="$DEMO_DIR/nginx/current"
start_nginx "$repo/scripts/demo/nginx.conf" --dir "$DEMO_DIR/nginx"
echo "  nginx $NGINX_URL: the API (the current release) and the external services' stand-ins"

# Prometheus scrapes, every second, the current release's /metrics (its
# metrics.prom through nginx) and node_exporter (its textfile collector, on
# a directory of Prometheus text files: empty here). It starts first: its
# first scrape comes some 5s after it is ready (service discovery hands it
# the targets then), and the other services start meanwhile.
mkdir -p "$DEMO_DIR/textfile"
start_node_exporter --textfile-dir "$DEMO_DIR/textfile" --dir "$DEMO_DIR"
cat >"$DEMO_DIR/scrape.yaml" <<EOF
- job_name: accessa-api-demo
  static_configs: [{targets: ["127.0.0.1:$NGINX_PORT"]}]
- job_name: node
  static_configs: [{targets: ["127.0.0.1:$NODE_EXPORTER_PORT"]}]
EOF
start_prometheus --scrape "$DEMO_DIR/scrape.yaml" --dir "$DEMO_DIR"

start_postgres --dir "$DEMO_DIR"
pg_superuser_psql -q -f "$repo/scripts/demo/schema.sql" >"$DEMO_DIR/schema.log"
echo "  PostgreSQL 127.0.0.1:$PGTEST_PORT, database appdb, schema upload_pipeline with RLS"
# The deploy state's tables, made by the database's owner; the deploys run
# as deployer, which may only read and append them.
state_password=$(openssl rand -hex 12)
pg_superuser_psql -q -v "pw=$state_password" <<<"CREATE ROLE deployer LOGIN PASSWORD :'pw';" >>"$DEMO_DIR/schema.log"
STATE_DATABASE_URL="postgresql://deployer:$state_password@127.0.0.1:$PGTEST_PORT/appdb"
STATE_URL=$PGTEST_URL deploy-stage --state-url-env STATE_URL state init --grant deployer --format text | sed 's/^/  /'


start_faultsrv --dir "$DEMO_DIR"
echo "  webhook receiver $FAULT_URL/record/slack"
start_redis --dir "$DEMO_DIR"
echo "  the cache: redis-server 127.0.0.1:$REDIS_PORT"

# Before the first deploy, Prometheus scrapes both targets (at most 15s), so
# that a release's bake finds its metrics from its first seconds on.
for ((i = 0; i < 30; i++)); do
	[[ "$(prom_series_count 'up{job=~"accessa-api-demo|node"}' 2>/dev/null)" = 2 ]] && break
	sleep 0.5
done
((i < 30)) || { echo "demo: Prometheus $PROM_URL has not scraped its targets in 15s" >&2; exit 1; }
echo "  Prometheus $PROM_URL scraping $NGINX_URL/metrics (the current release) and node_exporter $NODE_EXPORTER_URL every 1s"

# Secrets and addresses through an env file (0600), never through argv.
umask 077
cat >"$DEMO_DIR/demo.env" <<EOF
DATABASE_URL=$PGTEST_URL
API_BASE_URL=$NGINX_URL
SUPABASE_URL=$NGINX_URL/supabase
LLAMAPARSE_API_URL=$NGINX_URL/llamaparse
OPENAI_API_URL=$NGINX_URL/openai/v1
SLACK_WEBHOOK_URL=$FAULT_URL/record/slack
PROMETHEUS_URL=$PROM_URL
STATE_DATABASE_URL=$STATE_DATABASE_URL
REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
EOF
umask 022
export SHIPSHAPE_STATE_DIR="$DEMO_DIR/state"

# bake.yaml: the bake stage's analysis on the demo's Prometheus; state.yaml:
# the deploy state in PostgreSQL; notices.yaml: the deploy notices to Slack.
deploy() {
	"$repo/scripts/deploy_production.sh" -c "$repo/config/local.yaml" -c "$repo/scripts/demo/demo.yaml" \
		-c "$repo/scripts/demo/bake.yaml" -c "$repo/scripts/demo/state.yaml" -c "$repo/scripts/demo/notices.yaml" \
		-e "$DEMO_DIR/demo.env" \
		--yes --requests 20 --security headers --health-timeout 10s "$@"
}
# metric-check by hand reads the resolved config (its secrets redacted).
cfg-resolve -q -e "$DEMO_DIR/demo.env" "$repo/config/local.yaml" "$repo/scripts/demo/demo.yaml" \
	"$repo/scripts/demo/bake.yaml" >"$DEMO_DIR/config.json"
# release_metrics_ok RELEASE: metric-check passes the release's metrics, once
# Prometheus has two scrapes of them (at most 10s).
release_metrics_ok() {
	local i rc
	for ((i = 0; i < 20; i++)); do
		rc=0
		metric-check -c "$DEMO_DIR/config.json" --release "$1" >"$DEMO_DIR/metric-check.$1.json" || rc=$?
		((rc == 3)) || break
		sleep 0.5
	done
	return "$rc"
}
# metric_messages RELEASE: what the last metric-check of the release said.
metric_messages() { jq -r '.checks[] | "        " + .message' "$DEMO_DIR/metric-check.$1.json" | cut -c1-300; }
current_release() { basename "$(readlink "$DEMO_CURRENT")"; }
# ds ARGS...: deploy-stage on the demo's state database, as deployer (the
# URL from the environment, never on the command line).
ds() { STATE_DATABASE_URL=$STATE_DATABASE_URL deploy-stage --state-url-env STATE_DATABASE_URL --service accessa-api-demo "$@"; }
history_json() { ds history --format json; }
# history_has JQ: the history (an array of its records) satisfies JQ.
history_has() { history_json | jq -se "$1" >/dev/null; }
# deploy_number RELEASE: the last deploy of RELEASE in the history.
deploy_number() { history_json | jq -s --arg r "$1" 'map(select(.release == $r and .action == "deploy")) | last | .deploy'; }
# journal_has DEPLOY JQ: the deploy's journal (an array of its records, its
# rows in PostgreSQL) satisfies JQ.
journal_has() {
	pg_superuser_psql -At -c "SELECT record FROM shipshape.journal WHERE service = 'accessa-api-demo'
		AND deploy = $1 ORDER BY seq" | jq -se "$2" >/dev/null
}
# bake_passed DEPLOY: the deploy's journal holds metric-check's verdict on its bake, a pass.
bake_passed() {
	journal_has "$1" 'any(.[]; .type == "report" and .stage == "bake" and .report.verdict == true and
		(.report.status == "ok" or .report.status == "warning"))'
}
# alert_names RELEASE: an alert (not a deploy notice) received by the
# webhook receiver names RELEASE.
alert_names() {
	[[ -s "$alerts" ]] && jq -se --arg r "$1" 'any(.[]; (.json.text // "" | startswith("[FIRING")) and
		((.body // "") | test($r)))' "$alerts" >/dev/null
}
# notices RELEASE: the titles of the deploy notices about RELEASE, in order.
notices() {
	[[ -s "$alerts" ]] || return 0
	jq -r --arg r "$1" '.json.attachments[0]? | select(.footer == "shipshape deploy notice") | .title
		| select(test("\\] " + $r + " to "))' "$alerts"
}
# heard RELEASE EVENT...: the notices about RELEASE were exactly these
# events ("DEPLOY STARTED", ...), in this order.
heard() {
	local r=$1
	shift
	[[ "$(notices "$r" | sed 's/^\[\([^]]*\)\].*/\1/' | paste -sd, -)" == "$(IFS=,; echo "$*")" ]]
}
alerts="$FAULT_RECORD_DIR/slack.jsonl"

step "v1: the release in production before the demo"
rc=0
deploy -r v1 -m "initial release" || rc=$?
expect "v1 deployed (exit $rc)" test "$rc" -eq 0
expect "its bake passed" bake_passed "$(deploy_number v1)"

step "v2: a healthy release — every stage passes"
rc=0
deploy -r v2 -m "upload retries" || rc=$?
expect "deploy_production.sh exits 0 (exit $rc)" test "$rc" -eq 0
expect "current -> v2" test "$(current_release)" = v2
expect "GET /health answers 200 with v2" \
	bash -c '[[ "$(curl -fsS "$0/health" | jq -r .release)" = v2 ]]' "$NGINX_URL"
v2_deploy=$(deploy_number v2)
expect "its post-deploy stage ran the end-to-end pipeline: a document uploaded, then processed" \
	journal_has "$v2_deploy" '[.[] | select(.type == "report" and .stage == "post-deploy") | .report.checks[] |
		select(.name | startswith("e2e.")) | .name + " " + .status] == ["e2e.upload ok", "e2e.processed ok"]'

expect "its infrastructure stage checked storage, the alert channels (dry run), health-watch and v1's security headers" \
	journal_has "$v2_deploy" '[.[] | select(.type == "report" and .stage == "infrastructure") | .report.checks[] |
		select(.status != "critical" and .status != "unknown") | .name] |
		(index("http.supabase-storage.status") != null) and (index("alert-send.channels") != null) and
		(index("health.api") != null) and (index("security.headers.frame_options") != null)'

expect "its bake passed: metric-check's rounds on Prometheus, its 5xx ratio 0.1%" bake_passed "$v2_deploy"
expect "metric-check by hand passes v2's metrics too" release_metrics_ok v2
metric_messages v2

step "v3: its /health fails — post-deploy fails, rollback to v2, alert"
rc=0
deploy -r v3 -m "new parser" || rc=$?
expect "deploy_production.sh exits non-zero (exit $rc)" test "$rc" -ne 0
expect "current -> v2 again" test "$(current_release)" = v2
expect "the journal shows v3 failed and a rollback to v2 finished ok" \
	history_has 'any(.[]; .release == "v3" and .result == "failed") and
		(last | .action == "rollback" and .release == "v2" and .result == "ok")'
expect "the alert naming v3 arrived at the webhook receiver" alert_names v3

step "v4: every probe passes, but 9% of its requests fail — its bake fails, rollback to v2, alert"
rc=0
deploy -r v4 -m "streaming uploads" | tee "$DEMO_DIR/v4.out" || rc=$?
expect "deploy_production.sh exits non-zero (exit $rc)" test "$rc" -ne 0
expect "current -> v2 again" test "$(current_release)" = v2
expect "its journal holds the bake's metric-check rounds, critical ones among them" \
	journal_has "$(deploy_number v4)" '[.[] | select(.type == "report" and .stage == "bake" and
		.report.tool == "metric-check" and (.report.round | type) == "number")] |
		length >= 2 and any(.[]; .report.status == "critical")'
expect "the journal shows v4 failed and a rollback to v2 finished ok" \
	history_has 'any(.[]; .release == "v4" and .result == "failed") and
		(last | .action == "rollback" and .release == "v2" and .result == "ok")'
expect "the alert naming v4 arrived at the webhook receiver" alert_names v4
expect "its summary names the query and the 5xx ratio measured (0.09)" \
	bash -c 'grep -F "http_requests_total{service=\"accessa-api-demo\",release=\"v4\"" "$0" | grep -q "0\.09"' \
	"$DEMO_DIR/v4.out"

step "history, read back from PostgreSQL by a machine whose state directory is empty"
fresh=$(mktemp -d "$DEMO_DIR/fresh-machine.XXXXXX")
SHIPSHAPE_STATE_DIR=$fresh ds history --format text
expect "the fresh machine sees every deploy and rollback, v2 the last good release" \
	bash -c '[[ "$(SHIPSHAPE_STATE_DIR=$0 STATE_DATABASE_URL=$1 deploy-stage --state-url-env STATE_DATABASE_URL \
		--service accessa-api-demo status --format json | jq -r .last_good_release)" = v2 ]]' "$fresh" "$STATE_DATABASE_URL"
expect "the state database is usable by deployer (state check)" ds state check --format text

step "the deploy report of v3"
report=${DEMO_REPORT:-$BUILD/demo-deploy-report.html}
v3_deploy=$(deploy_number v3)
expect "deploy-stage report $v3_deploy writes $report" \
	ds report "$v3_deploy" -o "$report"
[[ -s "$report" ]] && echo "  $(wc -c <"$report") bytes: open file://$report in a browser"

step "the deploy report of v4: its bake's 5xx ratio round by round"
bake_report=${DEMO_BAKE_REPORT:-$BUILD/demo-bake-report.html}
v4_deploy=$(deploy_number v4)
expect "deploy-stage report $v4_deploy writes $bake_report" \
	ds report "$v4_deploy" -o "$bake_report"
[[ -s "$bake_report" ]] && echo "  $(wc -c <"$bake_report") bytes: open file://$bake_report in a browser"

step "the deploy notices the team got in Slack"
if [[ -s "$alerts" ]]; then
	jq -r '.json.attachments[0]? | select(.footer == "shipshape deploy notice") | "  " + .title' "$alerts"
fi
expect "v2: started, then live" heard v2 "DEPLOY STARTED" "DEPLOY LIVE"
expect "v3 and v4: started, failed, rolled back" \
	eval 'heard v3 "DEPLOY STARTED" "DEPLOY FAILED" "ROLLED BACK" && heard v4 "DEPLOY STARTED" "DEPLOY FAILED" "ROLLED BACK"'

step "everything the receiver got (alerts and notices)"
if [[ -s "$alerts" ]]; then
	jq -r '"POST " + .path + "\n" + ((.json // .body) | if type == "string" then . else tojson end)' "$alerts" |
		cut -c1-600
else
	echo "  (none)"
fi

elapsed=$(($(date +%s) - demo_started))
echo
if ((${#failures[@]})); then
	printf 'demo FAILED (%ss): %s\n' "$elapsed" "${failures[*]}" >&2
	exit 1
fi
printf 'demo OK (%ss): v2 deployed through every stage and its bake; v3 failed post-deploy, v4 its bake (a 5xx ratio of 9%%), both rolled back to v2 and alerted, the notices of each deploy heard; their reports: %s %s\n' \
	"$elapsed" "$report" "$bake_report"
