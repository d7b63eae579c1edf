# services.bash — start and stop real services on 127.0.0.1 for bats tests (load helpers/services).
#
# Every start_X starts the real program on a free loopback port, in a new
# directory under --dir DIR (default "$BATS_FILE_TMPDIR"), waits until it
# answers (bounded; on failure it prints why and the log tail on stderr,
# stops what it started and returns 1), and exports its port and URL. The
# matching stop_X always succeeds, also when X was never started; call it
# from teardown_file (stop_all_services stops everything). Daemons run in
# their own process group with fd 3 closed, so bats never waits on them.
#
#   start_faultsrv [--dir DIR] [FAULTSRV_ARGS...]   FAULT_PORT FAULT_URL FAULT_RECORD_DIR
#                                                   FAULT_TCP_PORT FAULT_DIR
#   start_silent_port [--dir DIR]                   SILENT_PORT (accepts, never answers)
#   start_postgres [--ssl] [--max-connections N] [--dir DIR]
#                      PGTEST_PORT PGTEST_HOST PGTEST_SOCKDIR PGTEST_DATA PGTEST_URL
#                      PGTEST_USER PGTEST_PASSWORD PGTEST_DB PGTEST_LOG
#                      PGTEST_SSL_CERT (--ssl: the self-signed server cert, usable as sslrootcert)
#                      and pg_superuser_psql ARGS... (psql as postgres on appdb, ON_ERROR_STOP)
#   start_pg_standby [--dir DIR]                    PGSTANDBY_PORT PGSTANDBY_DATA PGSTANDBY_URL
#   start_nginx SNIPPET_FILE [--dir DIR]            NGINX_PORT NGINX_TLS_PORT NGINX_DIR NGINX_URL
#   make_test_certs DIR                             CA, leaves (see below); TEST_CERTS_DIR
#   start_smtp [--dir DIR]                          SMTP_PORT SMTP_MAILBOX (a Maildir)
#                                                   and smtp_message_count
#   start_alertmanager [--config FILE] [--dir DIR]  AM_PORT AM_URL AM_DIR
#   start_prometheus --scrape FILE [--dir DIR]      PROM_PORT PROM_URL PROM_DIR PROM_PID
#                      (FILE: the scrape_configs list, YAML; scraped every 1s)
#                      and prom_query PROMQL (the API's answer), prom_series_count PROMQL
#   start_node_exporter --textfile-dir DIR [--dir DIR]
#                      NODE_EXPORTER_PORT NODE_EXPORTER_URL (only the textfile collector)
#   start_redis [--password PW] [--user NAME PW] [--tls CERTS_DIR] [--dir DIR]
#                      REDIS_PORT REDIS_DIR (--tls: TLS only, with CERTS_DIR's
#                      localhost.crt/key and ca.crt from make_test_certs)
#   free_port, wait_for_port PORT [SECONDS]
#
# PGTEST_PASSWORD may be set before start_postgres; otherwise a random one is
# made. SHIPSHAPE_BUILD (default "build", relative to the repository root)
# locates the faultsrv binary.

SVC_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SVC_PG_BIN=/usr/lib/postgresql/15/bin
SVC_NGINX=/usr/sbin/nginx
SVC_PYTHON=/usr/bin/python3
SVC_ALERTMANAGER=/usr/bin/prometheus-alertmanager
SVC_PROMETHEUS=/usr/bin/prometheus
SVC_NODE_EXPORTER=/usr/bin/prometheus-node-exporter
SVC_READY_SECONDS=${SVC_READY_SECONDS:-20}

svc_faultsrv_bin() {
	local build="${SHIPSHAPE_BUILD:-build}"
	[[ "$build" = /* ]] || build="$SVC_REPO_ROOT/$build"
	printf '%s\n' "$build/helpers/faultsrv"
}

# svc_fail MESSAGE: report on stderr (callers return 1 themselves, so that
# under bats' set -e the log tail and the clean-up still run).
svc_fail() {
	printf 'services: %s\n' "$*" >&2
}

# svc_log_tail FILE: the end of a log, for failure messages.
svc_log_tail() {
	[[ -f "$1" ]] || return 0
	printf -- '--- last lines of %s ---\n' "$1" >&2
	tail -n 20 "$1" >&2
}

# svc_base_dir DIR: the directory new service directories go in.
svc_base_dir() {
	local base="${1:-${BATS_FILE_TMPDIR:-${BATS_TMPDIR:-${TMPDIR:-/tmp}}}}"
	mkdir -p "$base" && printf '%s\n' "$base"
}

# svc_alive PID: true while PID runs (a zombie counts as gone).
svc_alive() {
	local pid="$1" stat
	[[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ "${stat%% *}" != Z ]]
}

# svc_spawn LOG CMD...: start CMD in the background in its own session, fd 3
# (bats' output) closed, stdin /dev/null; the pid is left in SVC_PID.
svc_spawn() {
	local log="$1"
	shift
	if [[ $- == *m* ]]; then
		# Job control: the job already leads its own process group, and
		# setsid would fork, leaving $! to a process that exits at once.
		"$@" </dev/null >>"$log" 2>&1 3>&- &
	else
		setsid "$@" </dev/null >>"$log" 2>&1 3>&- &
	fi
	SVC_PID=$!
}

# svc_stop_pid PID [SECONDS]: TERM, wait, then KILL (its whole process group
# when PID leads one, which svc_spawn arranges). Always returns 0.
svc_stop_pid() {
	local pid="$1" seconds="${2:-5}" i pgid
	if ! svc_alive "$pid"; then
		[[ -z "$pid" ]] || wait "$pid" 2>/dev/null || true
		return 0
	fi
	pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < seconds * 20; i++)); do
		svc_alive "$pid" || break
		sleep 0.05
	done
	if svc_alive "$pid"; then
		if [[ "$pgid" = "$pid" ]]; then
			kill -KILL -- "-$pgid" 2>/dev/null || true
		else
			kill -KILL "$pid" 2>/dev/null || true
		fi
		for ((i = 0; i < 40; i++)); do
			svc_alive "$pid" || break
			sleep 0.05
		done
	fi
	# Helpers of a group leader (nginx workers) go with it.
	if [[ "$pgid" = "$pid" ]]; then
		kill -KILL -- "-$pgid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	return 0
}

svc_gone() {
	! svc_alive "$1"
}

# svc_wait SECONDS CMD...: run CMD every 50 ms until it succeeds; 1 on timeout.
svc_wait() {
	local seconds="$1" i
	shift
	for ((i = 0; i < seconds * 20; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# free_port: print a TCP port free on 127.0.0.1 now, outside the ephemeral
# range where possible, never the same twice in one test file.
free_port() {
	local bin port i
	bin=$(svc_faultsrv_bin)
	for ((i = 0; i < 20; i++)); do
		if [[ -x "$bin" ]]; then
			port=$("$bin" --free-port) || return 1
		else
			port=$("$SVC_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') || return 1
		fi
		if [[ " ${SVC_PORTS_GIVEN:-} " != *" $port "* ]]; then
			export SVC_PORTS_GIVEN="${SVC_PORTS_GIVEN:-} $port"
			printf '%s\n' "$port"
			return 0
		fi
	done
	svc_fail "no free port found"
	return 1
}

svc_port_open() {
	timeout 1 bash -c ': <>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# wait_for_port PORT [SECONDS]: wait until something accepts on 127.0.0.1:PORT.
wait_for_port() {
	local port="$1" seconds="${2:-10}"
	[[ "$port" =~ ^[0-9]+$ ]] || { svc_fail "wait_for_port: bad port '$port'"; return 1; }
	svc_wait "$seconds" svc_port_open "$port" && return 0
	svc_fail "nothing accepts connections on 127.0.0.1:$port after ${seconds}s"
	return 1
}

# svc_parse_dir ARGS...: take "--dir DIR" out of the arguments; sets
# SVC_DIR_ARG and SVC_REST (an array of the other arguments).
svc_parse_dir() {
	SVC_DIR_ARG=""
	SVC_REST=()
	while (($#)); do
		if [[ "$1" = --dir ]]; then
			[[ $# -ge 2 ]] || { svc_fail "--dir needs a directory"; return 1; }
			SVC_DIR_ARG="$2"
			shift 2
		else
			SVC_REST+=("$1")
			shift
		fi
	done
}

# ---- faultsrv ---------------------------------------------------------------

# start_faultsrv [--dir DIR] [FAULTSRV_ARGS...] (e.g. --tcp-banner "220 test ESMTP")
start_faultsrv() {
	local bin dir base
	svc_parse_dir "$@" || return 1
	bin=$(svc_faultsrv_bin)
	[[ -x "$bin" ]] || { svc_fail "faultsrv not built: $bin (make $bin)"; return 1; }
	stop_faultsrv
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(mktemp -d "$base/faultsrv.XXXXXX") || return 1
	svc_spawn "$dir/faultsrv.log" "$bin" --port 0 --port-file "$dir/port" --record-dir "$dir/records" \
		--tcp-port 0 --tcp-port-file "$dir/tcp-port" "${SVC_REST[@]}"
	export FAULT_PID=$SVC_PID FAULT_DIR="$dir"
	if ! svc_wait "$SVC_READY_SECONDS" test -s "$dir/port" || ! svc_alive "$FAULT_PID"; then
		svc_fail "faultsrv did not start"
		svc_log_tail "$dir/faultsrv.log"
		stop_faultsrv
		return 1
	fi
	export FAULT_PORT FAULT_TCP_PORT
	FAULT_PORT=$(<"$dir/port")
	FAULT_TCP_PORT=$(<"$dir/tcp-port")
	export FAULT_URL="http://127.0.0.1:$FAULT_PORT" FAULT_RECORD_DIR="$dir/records"
}

stop_faultsrv() {
	svc_stop_pid "${FAULT_PID:-}"
	unset FAULT_PID
	return 0
}

# start_silent_port [--dir DIR]: a port that accepts connections and never
# reads or writes (a hung PostgreSQL, a black-holed service).
start_silent_port() {
	local bin dir base
	svc_parse_dir "$@" || return 1
	bin=$(svc_faultsrv_bin)
	[[ -x "$bin" ]] || { svc_fail "faultsrv not built: $bin"; return 1; }
	stop_silent_port
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(mktemp -d "$base/silent.XXXXXX") || return 1
	svc_spawn "$dir/faultsrv.log" "$bin" --silent --port 0 --port-file "$dir/port"
	export SILENT_PID=$SVC_PID
	if ! svc_wait "$SVC_READY_SECONDS" test -s "$dir/port"; then
		svc_fail "silent faultsrv did not start"
		svc_log_tail "$dir/faultsrv.log"
		stop_silent_port
		return 1
	fi
	export SILENT_PORT
	SILENT_PORT=$(<"$dir/port")
}

stop_silent_port() {
	svc_stop_pid "${SILENT_PID:-}"
	unset SILENT_PID
	return 0
}

# ---- the fake Render API ----------------------------------------------------

# start_fakerender KEY: tests/helpers/fakerender taking API key KEY. Exports
# RENDER_KEY, RENDER_URL, RENDER_LOG (the requests it had, JSON Lines) and
# RENDER_PID.
start_fakerender() {
	local bin dir base
	bin="$(dirname "$(svc_faultsrv_bin)")/fakerender"
	[[ -x "$bin" ]] || { svc_fail "fakerender not built: $bin"; return 1; }
	stop_fakerender
	base=$(svc_base_dir "") || return 1
	dir=$(mktemp -d "$base/render.XXXXXX") || return 1
	svc_spawn "$dir/log" "$bin" --port-file "$dir/port" --api-key "$1" --log "$dir/requests.jsonl"
	export RENDER_PID=$SVC_PID RENDER_KEY=$1 RENDER_LOG="$dir/requests.jsonl"
	if ! svc_wait "$SVC_READY_SECONDS" test -s "$dir/port"; then
		svc_fail "fakerender did not start"
		svc_log_tail "$dir/log"
		stop_fakerender
		return 1
	fi
	export RENDER_URL
	RENDER_URL="http://127.0.0.1:$(<"$dir/port")"
}

stop_fakerender() {
	svc_stop_pid "${RENDER_PID:-}"
	unset RENDER_PID
	return 0
}

# ---- PostgreSQL -------------------------------------------------------------

# svc_as_pg CMD...: run CMD as the postgres system user when we are root
# (initdb refuses root), from a directory that user can enter.
svc_as_pg() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# svc_pg_dir BASE: a new directory the postgres user can use. A bats run
# directory is 0700 root; it gets o+x (enter, not list) so postgres can reach
# its own directory inside. Falls back to /tmp.
svc_pg_dir() {
	local base="$1" dir d
	dir=$(mktemp -d "$base/pg.XXXXXX") || return 1
	if ((EUID == 0)); then
		d="$dir"
		while [[ "$d" != / && "$d" != "${TMPDIR:-/tmp}" && "$d" != /tmp ]]; do
			if [[ -O "$d" ]] && ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
				chmod o+x "$d" 2>/dev/null
			fi
			d=$(dirname "$d")
		done
		chown postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir" 2>/dev/null; then
			rmdir "$dir"
			dir=$(mktemp -d /tmp/shipshape-pg.XXXXXX) || return 1
			chown postgres: "$dir"
			touch "$dir/.remove-on-stop"
		fi
	fi
	printf '%s\n' "$dir"
}

svc_pg_ready() {
	"$SVC_PG_BIN/pg_isready" -q -h "$1" -p "$2" -U postgres -d postgres
}

# start_postgres [--ssl] [--max-connections N] [--dir DIR]
start_postgres() {
	local ssl=0 maxconn=50 base dir data sock port attempt reserved started=0
	svc_parse_dir "$@" || return 1
	set -- "${SVC_REST[@]}"
	while (($#)); do
		case "$1" in
		--ssl) ssl=1 ;;
		--max-connections)
			[[ "${2:-}" =~ ^[0-9]+$ && "$2" -ge 1 ]] || { svc_fail "--max-connections needs a number"; return 1; }
			maxconn="$2"
			shift
			;;
		*) svc_fail "start_postgres: unknown option $1"; return 1 ;;
		esac
		shift
	done
	stop_postgres
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(svc_pg_dir "$base") || return 1
	data="$dir/data"
	sock="$dir/sock"
	# Unix socket paths are limited to 107 bytes.
	if ((${#sock} > 80)); then
		sock=$(mktemp -d /tmp/pgsock.XXXXXX) || return 1
		touch "$dir/.remove-sock"
		printf '%s\n' "$sock" >"$dir/sockdir"
	fi
	mkdir -p "$sock"
	((EUID == 0)) && chown postgres: "$sock"
	export PGTEST_DIR="$dir" PGTEST_DATA="$data" PGTEST_SOCKDIR="$sock" PGTEST_LOG="$dir/postgres.log"
	export PGTEST_HOST=127.0.0.1 PGTEST_USER=app PGTEST_DB=appdb
	export PGTEST_PASSWORD="${PGTEST_PASSWORD:-$(openssl rand -hex 12)}"

	if ! svc_as_pg env LC_ALL=C "$SVC_PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
		svc_fail "initdb failed"
		svc_log_tail "$dir/initdb.log"
		return 1
	fi
	reserved=3
	((maxconn <= 3)) && reserved=$((maxconn - 1))
	cat >>"$data/postgresql.conf" <<-EOF
		# shipshape test cluster
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$sock'
		max_connections = $maxconn
		superuser_reserved_connections = $reserved
		shared_buffers = 16MB
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		password_encryption = 'scram-sha-256'
		wal_level = replica
		max_wal_senders = 5
		hot_standby = on
		logging_collector = off
		log_min_messages = warning
	EOF
	cat >"$data/pg_hba.conf" <<-EOF
		# TYPE  DATABASE     USER      ADDRESS        METHOD
		local   all          postgres                 trust
		local   replication  postgres                 trust
		local   all          all                      scram-sha-256
		host    all          all       127.0.0.1/32   scram-sha-256
	EOF
	if ((ssl)); then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
			-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
			-keyout "$data/server.key" -out "$data/server.crt" >"$dir/openssl.log" 2>&1 ||
			{ svc_fail "openssl could not make a certificate"; svc_log_tail "$dir/openssl.log"; return 1; }
		chmod 600 "$data/server.key"
		((EUID == 0)) && chown postgres: "$data/server.key" "$data/server.crt"
		cp "$data/server.crt" "$dir/server.crt"
		printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >>"$data/postgresql.conf"
		export PGTEST_SSL_CERT="$dir/server.crt"
	else
		unset PGTEST_SSL_CERT
	fi
	((EUID == 0)) && chown -R postgres: "$data"

	# A free port can be taken before the server binds it: try a few.
	for attempt in 1 2 3; do
		port=$(free_port) || return 1
		if svc_as_pg "$SVC_PG_BIN/pg_ctl" -D "$data" -l "$PGTEST_LOG" -o "-p $port" -w -t 30 start \
			</dev/null >"$dir/pg_ctl.log" 2>&1 3>&-; then
			started=1
			break
		fi
		grep -q 'could not bind\|already in use' "$PGTEST_LOG" 2>/dev/null || break
	done
	if ((!started)); then
		svc_fail "PostgreSQL did not start"
		svc_log_tail "$dir/pg_ctl.log"
		svc_log_tail "$PGTEST_LOG"
		stop_postgres
		return 1
	fi
	export PGTEST_PORT="$port"
	printf '%s\n' "$port" >"$dir/port"
	if ! svc_wait "$SVC_READY_SECONDS" svc_pg_ready "$sock" "$port"; then
		svc_fail "PostgreSQL on port $port does not accept connections"
		svc_log_tail "$PGTEST_LOG"
		stop_postgres
		return 1
	fi
	if ! pg_superuser_psql -q -d postgres -v "pw=$PGTEST_PASSWORD" >"$dir/setup.log" 2>&1 <<-'EOF'; then
		CREATE ROLE app LOGIN PASSWORD :'pw';
		CREATE DATABASE appdb OWNER app;
	EOF
		svc_fail "could not create role app and database appdb"
		svc_log_tail "$dir/setup.log"
		stop_postgres
		return 1
	fi
	export PGTEST_URL="postgresql://app:$(svc_uri_encode "$PGTEST_PASSWORD")@127.0.0.1:$PGTEST_PORT/appdb"
}

svc_uri_encode() {
	jq -rn --arg s "$1" '$s | @uri'
}

# pg_superuser_psql ARGS...: psql as superuser postgres over the unix socket,
# database appdb (a later -d wins), stopping at the first error.
pg_superuser_psql() {
	[[ -n "${PGTEST_PORT:-}" ]] || { svc_fail "pg_superuser_psql: PostgreSQL is not started"; return 1; }
	env -u PGPASSWORD -u PGSERVICE -u PGSSLMODE -u PGOPTIONS "$SVC_PG_BIN/psql" -X -v ON_ERROR_STOP=1 -h "$PGTEST_SOCKDIR" \
		-p "$PGTEST_PORT" -U postgres -d appdb "$@"
}

# svc_pg_stop DATA DIR: stop the cluster in DATA (pg_ctl, then the postmaster pid).
svc_pg_stop() {
	local data="$1" pid
	[[ -n "$data" && -f "$data/postmaster.pid" ]] || return 0
	pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
	svc_as_pg "$SVC_PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 10 stop </dev/null >/dev/null 2>&1 3>&- || true
	if svc_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		svc_wait 5 svc_gone "$pid" || true
	fi
	return 0
}

svc_dir_cleanup() {
	local dir="$1"
	[[ -n "$dir" && -d "$dir" ]] || return 0
	if [[ -f "$dir/.remove-sock" && -f "$dir/sockdir" ]]; then
		rm -rf -- "$(<"$dir/sockdir")"
		rm -f -- "$dir/.remove-sock"
	fi
	if [[ -f "$dir/.remove-on-stop" ]]; then
		rm -rf -- "$dir"
	fi
}

stop_postgres() {
	stop_pg_standby
	[[ -n "${PGTEST_DATA:-}" ]] || return 0
	svc_pg_stop "$PGTEST_DATA"
	svc_dir_cleanup "${PGTEST_DIR:-}"
	unset PGTEST_PORT PGTEST_DATA PGTEST_URL PGTEST_DIR
	return 0
}

# start_pg_standby [--dir DIR]: a streaming replica (pg_basebackup -R) of the
# running start_postgres primary, on its own port.
start_pg_standby() {
	local base dir data port attempt started=0
	svc_parse_dir "$@" || return 1
	[[ -n "${PGTEST_PORT:-}" ]] || { svc_fail "start_pg_standby: start_postgres first"; return 1; }
	stop_pg_standby
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(svc_pg_dir "$base") || return 1
	data="$dir/data"
	export PGSTANDBY_DIR="$dir" PGSTANDBY_DATA="$data" PGSTANDBY_LOG="$dir/postgres.log"
	if ! svc_as_pg "$SVC_PG_BIN/pg_basebackup" -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres \
		-D "$data" -R -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1; then
		svc_fail "pg_basebackup failed"
		svc_log_tail "$dir/basebackup.log"
		return 1
	fi
	for attempt in 1 2 3; do
		port=$(free_port) || return 1
		if svc_as_pg "$SVC_PG_BIN/pg_ctl" -D "$data" -l "$PGSTANDBY_LOG" -o "-p $port" -w -t 30 start \
			</dev/null >"$dir/pg_ctl.log" 2>&1 3>&-; then
			started=1
			break
		fi
		grep -q 'could not bind\|already in use' "$PGSTANDBY_LOG" 2>/dev/null || break
	done
	if ((!started)); then
		svc_fail "standby did not start"
		svc_log_tail "$dir/pg_ctl.log"
		svc_log_tail "$PGSTANDBY_LOG"
		stop_pg_standby
		return 1
	fi
	export PGSTANDBY_PORT="$port"
	if ! svc_wait "$SVC_READY_SECONDS" svc_pg_streaming; then
		svc_fail "standby on port $port is not streaming from the primary"
		svc_log_tail "$PGSTANDBY_LOG"
		stop_pg_standby
		return 1
	fi
	export PGSTANDBY_URL="postgresql://app:$(svc_uri_encode "$PGTEST_PASSWORD")@127.0.0.1:$PGSTANDBY_PORT/appdb"
}

svc_pg_streaming() {
	[[ "$("$SVC_PG_BIN/psql" -X -tA -h "$PGTEST_SOCKDIR" -p "$PGSTANDBY_PORT" -U postgres -d postgres \
		-c "select pg_is_in_recovery() and exists (select 1 from pg_stat_wal_receiver where status = 'streaming')")" = t ]]
}

stop_pg_standby() {
	[[ -n "${PGSTANDBY_DATA:-}" ]] || return 0
	svc_pg_stop "$PGSTANDBY_DATA"
	svc_dir_cleanup "${PGSTANDBY_DIR:-}"
	unset PGSTANDBY_PORT PGSTANDBY_DATA PGSTANDBY_URL PGSTANDBY_DIR
	return 0
}

# ---- nginx ------------------------------------------------------------------

# start_nginx SNIPPET_FILE [--dir DIR]: SNIPPET_FILE holds whole server {}
# blocks; @PORT@, @TLSPORT@ and @DIR@ are replaced by NGINX_PORT,
# NGINX_TLS_PORT and NGINX_DIR. With --dir the given directory (created if
# needed) is NGINX_DIR, so files put there first (docroot, certificates) can be
# used; otherwise it is new. NGINX_DIR/html holds index.html ("nginx ok") unless
# it already exists.
start_nginx() {
	local snippet dir attempt started=0 conf user=""
	svc_parse_dir "$@" || return 1
	snippet="${SVC_REST[0]:-}"
	[[ -n "$snippet" && -r "$snippet" ]] || { svc_fail "start_nginx: cannot read snippet '$snippet'"; return 1; }
	stop_nginx
	if [[ -n "$SVC_DIR_ARG" ]]; then
		mkdir -p "$SVC_DIR_ARG" && dir=$(cd "$SVC_DIR_ARG" && pwd) || return 1
	else
		dir=$(mktemp -d "$(svc_base_dir "")/nginx.XXXXXX") || return 1
	fi
	mkdir -p "$dir/tmp" "$dir/logs"
	if [[ ! -e "$dir/html" ]]; then
		mkdir -p "$dir/html"
		printf 'nginx ok\n' >"$dir/html/index.html"
	fi
	# Workers run as root so they can read the 0700 test directories.
	((EUID == 0)) && user="user root root;"
	export NGINX_DIR="$dir"
	for attempt in 1 2 3; do
		NGINX_PORT=$(free_port) || return 1
		NGINX_TLS_PORT=$(free_port) || return 1
		export NGINX_PORT NGINX_TLS_PORT
		conf=$(<"$snippet")
		conf=${conf//@PORT@/$NGINX_PORT}
		conf=${conf//@TLSPORT@/$NGINX_TLS_PORT}
		conf=${conf//@DIR@/$NGINX_DIR}
		printf '%s\n' "$conf" >"$dir/servers.conf"
		cat >"$dir/nginx.conf" <<-EOF
			$user
			worker_processes 1;
			daemon off;
			pid $dir/nginx.pid;
			error_log $dir/logs/error.log warn;
			events { worker_connections 1024; }
			http {
			    include /etc/nginx/mime.types;
			    default_type application/octet-stream;
			    access_log $dir/logs/access.log;
			    client_body_temp_path $dir/tmp/client_body;
			    proxy_temp_path $dir/tmp/proxy;
			    fastcgi_temp_path $dir/tmp/fastcgi;
			    uwsgi_temp_path $dir/tmp/uwsgi;
			    scgi_temp_path $dir/tmp/scgi;
			    include $dir/servers.conf;
			}
		EOF
		if ! "$SVC_NGINX" -t -q -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" >"$dir/logs/test.log" 2>&1; then
			if grep -q 'already in use' "$dir/logs/test.log"; then continue; fi
			svc_fail "nginx rejects the configuration"
			svc_log_tail "$dir/logs/test.log"
			return 1
		fi
		svc_spawn "$dir/logs/stderr.log" "$SVC_NGINX" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
		export NGINX_PID=$SVC_PID
		if svc_wait "$SVC_READY_SECONDS" svc_nginx_ready "$dir"; then
			started=1
			break
		fi
		stop_nginx
		grep -q 'already in use' "$dir/logs/error.log" 2>/dev/null || break
	done
	if ((!started)); then
		svc_fail "nginx did not start"
		svc_log_tail "$dir/logs/error.log"
		stop_nginx
		return 1
	fi
	export NGINX_URL="http://127.0.0.1:$NGINX_PORT"
}

# Ready: master alive, pid file written, and each port the snippet uses accepts.
svc_nginx_ready() {
	svc_alive "$NGINX_PID" && [[ -s "$1/nginx.pid" ]] || return 1
	if grep -q "$NGINX_PORT" "$1/servers.conf"; then svc_port_open "$NGINX_PORT" || return 1; fi
	if grep -q "$NGINX_TLS_PORT" "$1/servers.conf"; then svc_port_open "$NGINX_TLS_PORT" || return 1; fi
	return 0
}

stop_nginx() {
	svc_stop_pid "${NGINX_PID:-}"
	unset NGINX_PID
	return 0
}

# make_test_certs DIR: test certificates (EC P-256, PEM) in DIR:
#   ca.crt ca.key                  the test CA
#   localhost.crt localhost.key    leaf for DNS:localhost + IP:127.0.0.1, signed by the CA, 30 days
#   localhost-chain.crt            that leaf followed by the CA
#   selfsigned.crt selfsigned.key  self-signed leaf for localhost + 127.0.0.1
#   expired.crt expired.key        leaf for localhost + 127.0.0.1 by the CA, valid Jan 2020 only
#   soon.crt soon.key              leaf for localhost + 127.0.0.1 by the CA, expires in 5 days
#   wronghost.crt wronghost.key    leaf for DNS:wrong.example.invalid only, by the CA
# Exports TEST_CERTS_DIR.
make_test_certs() {
	local dir="${1:?make_test_certs DIR}" log name
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	log="$dir/openssl.log"
	: >"$log"
	svc_certs_make "$dir" >>"$log" 2>&1 || {
		svc_fail "openssl could not make the test certificates"
		svc_log_tail "$log"
		return 1
	}
	for name in ca localhost selfsigned expired soon wronghost; do
		[[ -s "$dir/$name.crt" && -s "$dir/$name.key" ]] || { svc_fail "missing $dir/$name.crt"; return 1; }
	done
	export TEST_CERTS_DIR="$dir"
}

svc_certs_make() {
	local dir="$1" san="subjectAltName=DNS:localhost,IP:127.0.0.1" ca="$dir/ca-state"
	local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	openssl req -x509 "${key[@]}" -days 365 -subj "/CN=shipshape test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$dir/ca.key" -out "$dir/ca.crt" || return 1
	openssl req -x509 "${key[@]}" -days 30 -subj /CN=localhost -addext "$san" \
		-keyout "$dir/selfsigned.key" -out "$dir/selfsigned.crt" || return 1
	# The CA signs through "openssl ca", the one OpenSSL 3.0 command that
	# takes explicit start and end dates (for the expired leaf).
	rm -rf "$ca"
	mkdir -p "$ca/new" || return 1
	: >"$ca/index.txt"
	printf '1000\n' >"$ca/serial"
	cat >"$ca/ca.cnf" <<-EOF
		[ ca ]
		default_ca = test_ca
		[ test_ca ]
		database = $ca/index.txt
		new_certs_dir = $ca/new
		serial = $ca/serial
		certificate = $dir/ca.crt
		private_key = $dir/ca.key
		default_md = sha256
		policy = any
		unique_subject = no
		copy_extensions = none
		[ any ]
		commonName = supplied
		[ leaf ]
		basicConstraints = critical,CA:FALSE
		keyUsage = critical,digitalSignature,keyEncipherment
		extendedKeyUsage = serverAuth
		subjectAltName = DNS:localhost,IP:127.0.0.1
		[ wrong ]
		basicConstraints = critical,CA:FALSE
		keyUsage = critical,digitalSignature,keyEncipherment
		extendedKeyUsage = serverAuth
		subjectAltName = DNS:wrong.example.invalid
	EOF
	svc_certs_leaf "$dir" localhost leaf /CN=localhost -days 30 &&
		svc_certs_leaf "$dir" soon leaf /CN=localhost -days 5 &&
		svc_certs_leaf "$dir" expired leaf /CN=localhost -startdate 20200101000000Z -enddate 20200201000000Z &&
		svc_certs_leaf "$dir" wronghost wrong /CN=wrong.example.invalid -days 30 &&
		cat "$dir/localhost.crt" "$dir/ca.crt" >"$dir/localhost-chain.crt"
}

# svc_certs_leaf DIR NAME EXTENSIONS SUBJECT CA-ARGS...
svc_certs_leaf() {
	local dir="$1" name="$2" ext="$3" subj="$4"
	shift 4
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subj" \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" &&
		openssl ca -batch -notext -config "$dir/ca-state/ca.cnf" -extensions "$ext" "$@" \
			-in "$dir/$name.csr" -out "$dir/$name.crt"
}

# ---- SMTP -------------------------------------------------------------------

# start_smtp [--dir DIR]: aiosmtpd storing every message in the Maildir
# SMTP_MAILBOX (one file per message in SMTP_MAILBOX/new, with X-MailFrom and
# X-RcptTo headers added).
start_smtp() {
	local base dir attempt started=0
	svc_parse_dir "$@" || return 1
	stop_smtp
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(mktemp -d "$base/smtp.XXXXXX") || return 1
	export SMTP_DIR="$dir" SMTP_MAILBOX="$dir/maildir"
	mkdir -p "$SMTP_MAILBOX"/{new,cur,tmp}
	for attempt in 1 2 3; do
		SMTP_PORT=$(free_port) || return 1
		export SMTP_PORT
		svc_spawn "$dir/smtp.log" "$SVC_PYTHON" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
			-c aiosmtpd.handlers.Mailbox "$SMTP_MAILBOX"
		export SMTP_PID=$SVC_PID
		if svc_wait "$SVC_READY_SECONDS" svc_smtp_ready; then
			started=1
			break
		fi
		stop_smtp
		grep -q 'already in use' "$dir/smtp.log" || break
	done
	if ((!started)); then
		svc_fail "aiosmtpd did not start"
		svc_log_tail "$dir/smtp.log"
		return 1
	fi
}

svc_smtp_ready() {
	svc_alive "$SMTP_PID" && svc_port_open "$SMTP_PORT"
}

# smtp_message_count: messages received so far.
smtp_message_count() {
	find "${SMTP_MAILBOX:?start_smtp first}/new" "$SMTP_MAILBOX/cur" -type f | wc -l
}

stop_smtp() {
	svc_stop_pid "${SMTP_PID:-}"
	unset SMTP_PID
	return 0
}

# ---- Alertmanager -----------------------------------------------------------

# start_alertmanager [--config FILE] [--dir DIR]: the real Alertmanager, with
# a config whose only receiver is "null" unless FILE is given; clustering off.
start_alertmanager() {
	local base dir config="" attempt started=0
	svc_parse_dir "$@" || return 1
	set -- "${SVC_REST[@]}"
	while (($#)); do
		case "$1" in
		--config) config="${2:?--config FILE}"; shift ;;
		*) svc_fail "start_alertmanager: unknown option $1"; return 1 ;;
		esac
		shift
	done
	stop_alertmanager
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(mktemp -d "$base/alertmanager.XXXXXX") || return 1
	export AM_DIR="$dir"
	if [[ -n "$config" ]]; then
		cp "$config" "$dir/alertmanager.yml" || return 1
	else
		cat >"$dir/alertmanager.yml" <<-'EOF'
			route:
			  receiver: "null"
			  group_wait: 0s
			  group_interval: 1s
			  repeat_interval: 1h
			receivers:
			  - name: "null"
		EOF
	fi
	mkdir -p "$dir/data"
	for attempt in 1 2 3; do
		AM_PORT=$(free_port) || return 1
		export AM_PORT AM_URL="http://127.0.0.1:$AM_PORT"
		svc_spawn "$dir/alertmanager.log" "$SVC_ALERTMANAGER" --config.file="$dir/alertmanager.yml" \
			--storage.path="$dir/data" --web.listen-address="127.0.0.1:$AM_PORT" \
			--cluster.listen-address= --log.level=warn
		export AM_PID=$SVC_PID
		if svc_wait "$SVC_READY_SECONDS" svc_am_ready; then
			started=1
			break
		fi
		stop_alertmanager
		grep -q 'already in use' "$dir/alertmanager.log" || break
	done
	if ((!started)); then
		svc_fail "Alertmanager did not become ready"
		svc_log_tail "$dir/alertmanager.log"
		return 1
	fi
}

svc_am_ready() {
	svc_alive "$AM_PID" && curl -sf --max-time 1 -o /dev/null "$AM_URL/-/ready"
}

stop_alertmanager() {
	svc_stop_pid "${AM_PID:-}"
	unset AM_PID
	return 0
}

# start_prometheus --scrape FILE: Debian's Prometheus scraping the targets of
# FILE (a YAML list of scrape_configs) every second; ready when its API answers.
start_prometheus() {
	local base dir scrape="" attempt started=0
	svc_parse_dir "$@" || return 1
	set -- "${SVC_REST[@]}"
	while (($#)); do
		case "$1" in
		--scrape) scrape="${2:?--scrape FILE}"; shift ;;
		*) svc_fail "start_prometheus: unknown option $1"; return 1 ;;
		esac
		shift
	done
	[[ -r "$scrape" ]] || { svc_fail "start_prometheus: --scrape FILE is required"; return 1; }
	stop_prometheus
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(mktemp -d "$base/prometheus.XXXXXX") || return 1
	export PROM_DIR="$dir"
	{
		printf 'global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n'
		printf 'scrape_configs:\n'
		sed 's/^/  /' "$scrape"
	} >"$dir/prometheus.yml" || return 1
	mkdir -p "$dir/data"
	for attempt in 1 2 3; do
		PROM_PORT=$(free_port) || return 1
		export PROM_PORT PROM_URL="http://127.0.0.1:$PROM_PORT"
		svc_spawn "$dir/prometheus.log" "$SVC_PROMETHEUS" --config.file="$dir/prometheus.yml" \
			--storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
		export PROM_PID=$SVC_PID
		if svc_wait "$SVC_READY_SECONDS" svc_prom_ready; then
			started=1
			break
		fi
		stop_prometheus
		grep -q 'address already in use' "$dir/prometheus.log" || break
	done
	if ((!started)); then
		svc_fail "Prometheus did not become ready"
		svc_log_tail "$dir/prometheus.log"
		return 1
	fi
}

svc_prom_ready() {
	svc_alive "$PROM_PID" && curl -sf --max-time 1 -o /dev/null "$PROM_URL/-/ready"
}

# prom_query PROMQL: Prometheus's answer to an instant query, straight from its API.
prom_query() {
	curl -sf --max-time 2 "$PROM_URL/api/v1/query" --data-urlencode "query=$1"
}

# prom_series_count PROMQL: how many series the query returns now.
prom_series_count() {
	prom_query "$1" | jq '.data.result | length'
}

stop_prometheus() {
	svc_stop_pid "${PROM_PID:-}"
	unset PROM_PID
	return 0
}

# start_node_exporter --textfile-dir DIR: node_exporter with the textfile
# collector alone (what production runs beside health-watch --metrics-file).
start_node_exporter() {
	local base dir textfile="" attempt started=0
	svc_parse_dir "$@" || return 1
	set -- "${SVC_REST[@]}"
	while (($#)); do
		case "$1" in
		--textfile-dir) textfile="${2:?--textfile-dir DIR}"; shift ;;
		*) svc_fail "start_node_exporter: unknown option $1"; return 1 ;;
		esac
		shift
	done
	[[ -d "$textfile" ]] || { svc_fail "start_node_exporter: --textfile-dir DIR is required"; return 1; }
	stop_node_exporter
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(mktemp -d "$base/node-exporter.XXXXXX") || return 1
	for attempt in 1 2 3; do
		NODE_EXPORTER_PORT=$(free_port) || return 1
		export NODE_EXPORTER_PORT NODE_EXPORTER_URL="http://127.0.0.1:$NODE_EXPORTER_PORT"
		svc_spawn "$dir/node-exporter.log" "$SVC_NODE_EXPORTER" --collector.disable-defaults \
			--collector.textfile --collector.textfile.directory="$textfile" \
			--web.listen-address="127.0.0.1:$NODE_EXPORTER_PORT"
		export NODE_EXPORTER_PID=$SVC_PID
		if svc_wait "$SVC_READY_SECONDS" svc_node_exporter_ready; then
			started=1
			break
		fi
		stop_node_exporter
		grep -q 'address already in use' "$dir/node-exporter.log" || break
	done
	if ((!started)); then
		svc_fail "node_exporter did not become ready"
		svc_log_tail "$dir/node-exporter.log"
		return 1
	fi
}

svc_node_exporter_ready() {
	svc_alive "$NODE_EXPORTER_PID" && curl -sf --max-time 1 -o /dev/null "$NODE_EXPORTER_URL/metrics"
}

stop_node_exporter() {
	svc_stop_pid "${NODE_EXPORTER_PID:-}"
	unset NODE_EXPORTER_PID
	return 0
}

# ---- Redis ------------------------------------------------------------------

SVC_REDIS=/usr/bin/redis-server

# start_redis [--password PW] [--user NAME PW] [--tls CERTS_DIR] [--dir DIR]:
# redis-server with no persistence; --password is the default user's
# (requirepass), --user adds an ACL user with every right.
start_redis() {
	local base dir tls="" args=() attempt started=0
	svc_parse_dir "$@" || return 1
	set -- ${SVC_REST[@]+"${SVC_REST[@]}"}
	while (($#)); do
		case $1 in
		--password) args+=(--requirepass "$2") && shift 2 ;;
		--user) args+=(--user "$2" on ">$3" '~*' '&*' '+@all') && shift 3 ;;
		--tls) tls=$2 && shift 2 ;;
		*) svc_fail "start_redis: unknown argument $1" && return 1 ;;
		esac
	done
	stop_redis
	base=$(svc_base_dir "$SVC_DIR_ARG") || return 1
	dir=$(mktemp -d "$base/redis.XXXXXX") || return 1
	export REDIS_DIR="$dir"
	for attempt in 1 2 3; do
		REDIS_PORT=$(free_port) || return 1
		export REDIS_PORT
		local listen=(--port "$REDIS_PORT")
		[[ -z "$tls" ]] || listen=(--port 0 --tls-port "$REDIS_PORT" --tls-cert-file "$tls/localhost.crt"
			--tls-key-file "$tls/localhost.key" --tls-ca-cert-file "$tls/ca.crt" --tls-auth-clients no)
		svc_spawn "$dir/redis.log" "$SVC_REDIS" --bind 127.0.0.1 "${listen[@]}" --save '' --appendonly no \
			--dir "$dir" --daemonize no --protected-mode no ${args[@]+"${args[@]}"}
		export REDIS_PID=$SVC_PID
		if svc_wait "$SVC_READY_SECONDS" svc_redis_ready; then
			started=1
			break
		fi
		stop_redis
		grep -q 'already in use' "$dir/redis.log" || break
	done
	if ((!started)); then
		svc_fail "redis-server did not start"
		svc_log_tail "$dir/redis.log"
		return 1
	fi
}

svc_redis_ready() {
	svc_alive "$REDIS_PID" && grep -q 'Ready to accept connections' "$REDIS_DIR/redis.log"
}

stop_redis() {
	svc_stop_pid "${REDIS_PID:-}"
	unset REDIS_PID
	return 0
}

# stop_all_services: everything this file started (for teardown_file).
stop_all_services() {
	stop_fakerender
	stop_redis
	stop_node_exporter
	stop_prometheus
	stop_alertmanager
	stop_smtp
	stop_nginx
	stop_postgres
	stop_silent_port
	stop_faultsrv
	return 0
}
