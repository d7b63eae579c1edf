#!/usr/bin/env bash
# bench/svc-probe.sh — svc-probe beside its peers, all against one local
# nginx on 127.0.0.1:
#   1. one URL: svc-probe vs curl -sf vs check_http (monitoring-plugins)
#   2. 1,000 targets in one config, all at a concurrency of 16: svc-probe
#      --parallel 16 vs xargs -P 16 curl (a process per URL) vs one
#      curl --parallel --parallel-max 16 over the same URLs (a fairer
#      reference: one process reusing connections, as svc-probe does) vs
#      blackbox_exporter probing them, driven by one curl --parallel-max 16
#      (so what is timed is the exporter, not a curl start per URL); peak
#      memory by /usr/bin/time -v
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

# interleaved NAME RUNS CMD...: runs the commands in turn, RUNS rounds, and
# prints each one's median wall time and its ratio to the first's. On a
# shared machine a burst of load then hits every command alike, where
# hyperfine's back-to-back batches can pin it on one.
interleaved() {
	local name=$1 runs=$2 i j t0 t1 out
	shift 2
	out=$(mktemp)
	for ((i = 0; i < runs; i++)); do
		for ((j = 1; j <= $#; j++)); do
			t0=$EPOCHREALTIME
			eval "${!j}" >/dev/null 2>&1
			t1=$EPOCHREALTIME
			printf '%d\t%s\n' "$j" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) * 1000}')" >>"$out"
		done
	done
	echo "## $name (interleaved, median of $runs)"
	for ((j = 1; j <= $#; j++)); do
		awk -v j="$j" -F '\t' '$1 == j {print $2}' "$out" | sort -n |
			awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
	done | awk -v cmds="$(printf '%s\n' "$@")" 'BEGIN {n = split(cmds, c, "\n")}
		NR == 1 {base = $1} {printf "%s\t%.1f ms\t%.2fx ours\n", c[NR], $1, $1 / base}' |
		column -t -s "$(printf '\t')"
	rm -f "$out"
}

# ---- 1. one URL ----
hyperfine_compare "one URL: $URL" \
	"svc-probe --format json $URL" \
	"curl -sf -o /dev/null $URL" \
	"/usr/lib/nagios/plugins/check_http -H 127.0.0.1 -p $NGINX_PORT -u /health"
interleaved "one URL: $URL" "${RUNS_INTERLEAVED:-100}" \
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

# curl config files: one process, every URL, its body thrown away.
sed 's#.*#url = "&"\noutput = "/dev/null"#' "$work/urls" >"$work/urls.curlrc"
sed 's#.*#url = "&"\noutput = "/dev/null"#' "$work/bb-urls" >"$work/bb-urls.curlrc"
# Sanity: every pipeline really gets 1,000 answers of 200 (a pipeline that
# fails fast would look fast).
n=$(svc-probe --format json --parallel 16 -c "$work/targets.json" | jq '[.checks[] | select(.status == "ok")] | length')
m=$(xargs -P 16 -n 1 curl -s -o /dev/null -w '%{http_code}\n' <"$work/urls" | grep -c '^200$')
k=$(curl -s --parallel --parallel-max 16 -w '%{http_code}\n' -K "$work/urls.curlrc" | grep -c '^200$')
b=$(curl -s --parallel --parallel-max 16 -K "$work/bb-urls.curlrc" -w '%{http_code}\n' | grep -c '^200$')
bb_ok=$(curl -s "http://127.0.0.1:$BB_PORT/probe?module=http_2xx&target=$NGINX_URL/t/1" | awk '/^probe_success/ {print $2}')
echo "## answers of 200 out of 1,000: svc-probe $n, xargs/curl $m, curl --parallel $k, blackbox $b (probe_success $bb_ok)"

RUNS=${RUNS_MANY:-10} hyperfine_compare "1,000 targets in one config, concurrency 16" \
	"svc-probe --format json --parallel 16 -c $work/targets.json" \
	"xargs -P 16 -n 1 curl -sf -o /dev/null < $work/urls" \
	"curl -sf --parallel --parallel-max 16 -K $work/urls.curlrc" \
	"curl -sf --parallel --parallel-max 16 -K $work/bb-urls.curlrc"

interleaved "1,000 targets in one config, concurrency 16" "${RUNS_MANY:-10}" \
	"svc-probe --format json --parallel 16 -c $work/targets.json" \
	"xargs -P 16 -n 1 curl -sf -o /dev/null < $work/urls" \
	"curl -sf --parallel --parallel-max 16 -K $work/urls.curlrc" \
	"curl -sf --parallel --parallel-max 16 -K $work/bb-urls.curlrc"

echo "## peak memory, 1,000 targets"
for cmd in "svc-probe --format json --parallel 16 -c $work/targets.json" \
	"svc-probe --format json --parallel 64 -c $work/targets.json" \
	"curl -sf --parallel --parallel-max 16 -K $work/urls.curlrc" \
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
