#!/usr/bin/env bash
# bench/metric-check.sh — metric-check beside promtool query instant and curl
# of the same API URL, against one throwaway Debian Prometheus on 127.0.0.1
# scraping a static file of 50 gauges every second; then one run of 50
# metrics (one process, the queries concurrent on the shared engine) beside
# one run of one metric, and beside 50 curls in a row.
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
for b in "$BUILD/metric-check" /usr/bin/prometheus /usr/bin/promtool; do
	[ -x "$b" ] || { echo "bench/metric-check.sh: $b is missing (make; apt-get install prometheus)" >&2; exit 1; }
done

export SHIPSHAPE_BUILD=$BUILD
# shellcheck source=../tests/helpers/services.bash
. "$REPO_ROOT/tests/helpers/services.bash"
work=$(mktemp -d)
http_pid=
trap '[ -z "$http_pid" ] || kill "$http_pid" 2>/dev/null; stop_prometheus; rm -rf "$work"' EXIT
mkdir -p "$work/www"
for i in $(seq 1 50); do
	printf 'bench_value{metric="m%d",instance_of="a"} %d\nbench_value{metric="m%d",instance_of="b"} %d\n' "$i" "$i" "$i" "$((i + 1))"
done >"$work/www/metrics"
port=$(free_port)
"$SVC_PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >"$work/http.log" 2>&1 &
http_pid=$!
printf -- "- job_name: bench\n  static_configs: [{targets: ['127.0.0.1:%s']}]\n" "$port" >"$work/scrape.yml"
set +e
start_prometheus --scrape "$work/scrape.yml" --dir "$work" || exit 1
set -e
ready() { [ "$(prom_series_count bench_value)" = 100 ]; }
svc_wait 30 ready || { echo "bench/metric-check.sh: Prometheus never scraped the 50 gauges" >&2; exit 1; }

query='sum(bench_value{metric="m1"})'
url_query=$(jq -rn --arg q "$query" '$q | @uri')
metrics_yaml() { # N: a config of N metrics, each its own query
	printf 'analysis:\n  prometheus:\n    url: %s\n  metrics:\n' "$PROM_URL"
	for i in $(seq 1 "$1"); do
		printf '    - {name: m%d, query: "sum(bench_value{metric=\\"m%d\\"})", critical: "~:1000"}\n' "$i" "$i"
	done
}
metrics_yaml 1 >"$work/one.yaml"
metrics_yaml 50 >"$work/fifty.yaml"
metric-check -c "$work/fifty.yaml" >"$work/fifty.json" || { echo "metric-check is not ok on 50 metrics:" >&2; cat "$work/fifty.json" >&2; exit 1; }
echo "metric-check judged $(jq '.checks | length' "$work/fifty.json") metrics in one run: $(jq -r .summary "$work/fifty.json")"

hyperfine_compare "one instant query" \
	-n "metric-check --query" "metric-check --prometheus $PROM_URL --query '$query' --critical '~:1000'" \
	-n "promtool query instant" "promtool query instant $PROM_URL '$query'" \
	-n "curl" "curl -sf '$PROM_URL/api/v1/query?query=$url_query'"

# curl's config file: the same 50 queries, each answer to /dev/null
for i in $(seq 1 50); do
	printf 'url = "%s/api/v1/query?query=%s"\noutput = "/dev/null"\n' "$PROM_URL" \
		"$(jq -rn --arg q "sum(bench_value{metric=\"m$i\"})" '$q | @uri')"
done >"$work/curl50.conf"

hyperfine_compare "50 metrics in one run against 1" \
	-n "metric-check, 50 metrics" "metric-check -c $work/fifty.yaml" \
	-n "metric-check, 1 metric" "metric-check -c $work/one.yaml" \
	-n "curl, the 50 URLs one after another" "curl -sf -K $work/curl50.conf" \
	-n "curl --parallel, the 50 URLs" "curl -sf --parallel --parallel-max 50 -K $work/curl50.conf"
