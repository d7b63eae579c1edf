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

# start_smtp_auth DIR USER PASSWORD [--smtps]: an SMTP server (tests/helpers/smtp_auth.py)
# that requires STARTTLS and a login as USER with PASSWORD, using the
# make_test_certs certificate for localhost; mail lands in the Maildir
# DIR/maildir, each AUTH attempt is a line in DIR/auth.log. With --smtps
# TLS from the first byte instead of STARTTLS. Exports SMTPA_PORT and
# SMTPA_PID (stop_smtp_auth stops it; one such server at a time).
start_smtp_auth() {
	local dir="$1" user="$2" password="$3" smtps="${4:-}"
	[[ -n "${TEST_CERTS_DIR:-}" ]] || { svc_fail "start_smtp_auth: make_test_certs first"; return 1; }
	mkdir -p "$dir"
	# the password reaches the server through a file, never its argv
	(umask 077 && printf '%s\n' "$password" >"$dir/password")
	SMTPA_PORT=$(free_port) || return 1
	export SMTPA_PORT
	svc_spawn "$dir/log" "$SVC_PYTHON" "$SVC_REPO_ROOT/tests/helpers/smtp_auth.py" --port "$SMTPA_PORT" \
		--cert "$TEST_CERTS_DIR/localhost.crt" --key "$TEST_CERTS_DIR/localhost.key" --maildir "$dir/maildir" \
		--user "$user" --password-file "$dir/password" $smtps
	export SMTPA_PID=$SVC_PID
	svc_wait "$SVC_READY_SECONDS" svc_port_open "$SMTPA_PORT" && return 0
	svc_fail "smtp_auth.py did not start"
	svc_log_tail "$dir/log"
	stop_smtp_auth
	return 1
}

stop_smtp_auth() {
	svc_stop_pid "${SMTPA_PID:-}"
	unset SMTPA_PID
	return 0
}
