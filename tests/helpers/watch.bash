# watch.bash — helpers for the health-watch and alert-send tests (load after
# helpers/services).

# restart_nginx: starts nginx again on the ports and config of the last
# start_nginx (stop_nginx first), waits until it answers; NGINX_PID is set,
# so stop_nginx and stop_all_services stop it.
restart_nginx() {
	[[ -n "${NGINX_DIR:-}" && -f "$NGINX_DIR/nginx.conf" ]] || { svc_fail "restart_nginx: start_nginx first"; return 1; }
	stop_nginx
	rm -f "$NGINX_DIR/nginx.pid"
	svc_spawn "$NGINX_DIR/logs/stderr.log" "$SVC_NGINX" -p "$NGINX_DIR" -e "$NGINX_DIR/logs/error.log" \
		-c "$NGINX_DIR/nginx.conf"
	export NGINX_PID=$SVC_PID
	svc_wait "$SVC_READY_SECONDS" svc_nginx_ready "$NGINX_DIR" && return 0
	svc_fail "nginx did not start again"
	svc_log_tail "$NGINX_DIR/logs/error.log"
	return 1
}

# wait_until SECONDS CMD...: runs CMD every 50 ms until it succeeds; fails
# (status 1) after SECONDS. For waiting on a condition, never as a timing
# assertion.
wait_until() {
	local seconds="$1" i
	shift
	for ((i = 0; i < seconds * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	echo "wait_until: still false after ${seconds}s: $*" >&2
	return 1
}
