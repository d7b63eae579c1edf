#!/usr/bin/env bash
# bench/svc-probe.sh — svc-probe beside its peers, all against one local
# nginx on 127.0.0.1:
#   1. one URL: svc-probe vs curl -sf vs check_http (monitoring-plugins)
#   2. 1,000 targets in one config: svc-probe vs xargs -P 16 curl vs
#      blackbox_exporter probing the same URLs; peak memory by /usr/bin/time -v
#   3. load mode: svc-probe --requests vs wrk, requests per second
# Bounded: 1,000 targets, a load of LOAD_REQUESTS (default 200000) requests
# and a 5 s wrk run.
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export SHIPSHAPE_BUILD=$BUILD
# shellcheck source=../tests/helpers/services.bash
. "$REPO_ROOT/tests/helpers/services.bash"
set +e

work=$(mktemp -d)
BB_PID=
cleanup() {
	stop_nginx
	[ -n "$BB_PID" ] && svc_stop_pid "$BB_PID"
	rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/snippet.conf" <<'EOF'
server {
    listen 127.0.0.1:@PORT@ backlog=4096;
    access_log off;
    keepalive_requests 1000000;
    location / { return 200 "ok\n"; }
}
EOF
# Two workers: the load run shares the 2 cores with them.
start_nginx "$work/snippet.conf" --dir "$work/nginx" || exit 1
sed -i 's/worker_processes 1;/worker_processes 2;/' "$work/nginx/nginx.conf"
kill -HUP "$NGINX_PID"
sleep 0.5
URL="$NGINX_URL/health"

# ---- 1. one URL ----
hyperfine_compare "one URL: $URL" \
	"svc-probe --format json $URL" \
	"curl -sf -o /dev/null $URL" \
	"/usr/lib/nagios/plugins/check_http -H 127.0.0.1 -p $NGINX_PORT -u /health"

# ---- 2. 1,000 targets ----
seq 1 1000 | sed "s#.*#$NGINX_URL/t/&#" >"$work/urls"
jq -R -s 'split("\n") | map(select(length > 0)) | to_entries |
	{probes: map({name: "t\(.key)", url: .value})}' "$work/urls" >"$work/targets.json"

BB_PORT=$(free_port)
cat >"$work/blackbox.yml" <<'EOF'
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
EOF
svc_spawn "$work/blackbox.log" /usr/bin/prometheus-blackbox-exporter \
	--config.file="$work/blackbox.yml" --web.listen-address="127.0.0.1:$BB_PORT" --log.level=warn
BB_PID=$SVC_PID
wait_for_port "$BB_PORT" 10 || exit 1
sed "s#.*#http://127.0.0.1:$BB_PORT/probe?module=http_2xx\&target=&#" "$work/urls" >"$work/bb-urls"

RUNS=10 hyperfine_compare "1,000 targets in one config" \
	"svc-probe --format json --parallel 64 -c $work/targets.json" \
	"xargs -P 16 -n 1 curl -sf -o /dev/null < $work/urls" \
	"xargs -P 16 -n 1 curl -sf -o /dev/null < $work/bb-urls"

echo "## peak memory, 1,000 targets"
for cmd in "svc-probe --format json --parallel 64 -c $work/targets.json" \
	"xargs -P 16 -n 1 curl -sf -o /dev/null"; do
	if [[ $cmd == xargs* ]]; then
		kb=$( { /usr/bin/time -v $cmd <"$work/urls" >/dev/null; } 2>&1 | awk '/Maximum resident/ {print $NF}')
	else
		kb=$( { /usr/bin/time -v $cmd >/dev/null; } 2>&1 | awk '/Maximum resident/ {print $NF}')
	fi
	printf '%s\t%s MB\n' "${cmd%% *}" "$(awk -v k="$kb" 'BEGIN {printf "%.1f", k/1024}')"
done
bb_kb=$(awk '/VmHWM/ {print $2}' "/proc/$BB_PID/status")
printf 'blackbox_exporter (after the runs)\t%s MB\n' "$(awk -v k="$bb_kb" 'BEGIN {printf "%.1f", k/1024}')"

# ---- 3. load mode ----
LOAD_REQUESTS=${LOAD_REQUESTS:-200000}
echo "## load mode: requests per second on $(nproc) cores"
rps=$(svc-probe --format json --requests "$LOAD_REQUESTS" --concurrency 64 --name load "$URL" |
	jq -r '.checks[0].data.rps')
printf 'svc-probe --requests %s --concurrency 64\t%s req/s\n' "$LOAD_REQUESTS" "$rps"
wrk_rps=$(wrk -t 2 -c 64 -d 5s "$URL" | awk '/Requests\/sec/ {print $2}')
printf 'wrk -t 2 -c 64 -d 5s\t%s req/s\n' "$wrk_rps"
awk -v a="$rps" -v b="$wrk_rps" 'BEGIN {printf "svc-probe / wrk\t%.2f\n", a / b}'
