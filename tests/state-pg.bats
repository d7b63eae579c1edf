#!/usr/bin/env bats
# The deploy state in PostgreSQL (state.backend: postgres): state init,
# check and import; two "machines" (separate HOME and state directories)
# sharing one database; the lock under races and kill -9; a rollback from a
# fresh machine; the database lost mid-deploy; roles with only INSERT and
# SELECT, and with less; a wrong password; TLS.
load helpers/common
load helpers/services

setup_file() {
	start_postgres --ssl || return 1
	export DEPLOYER_PASSWORD=deployer-pw-7d41c9 READER_PASSWORD=reader-pw-52e0aa
	pg_superuser_psql -q -v "dp=$DEPLOYER_PASSWORD" -v "rp=$READER_PASSWORD" >/dev/null <<-'EOF' || return 1
		CREATE ROLE deployer LOGIN PASSWORD :'dp';
		CREATE ROLE reader LOGIN PASSWORD :'rp';
	EOF
	export OWNER_URL=$PGTEST_URL
	export DEPLOYER_URL="postgresql://deployer:$DEPLOYER_PASSWORD@127.0.0.1:$PGTEST_PORT/appdb"
	export READER_URL="postgresql://reader:$READER_PASSWORD@127.0.0.1:$PGTEST_PORT/appdb"
	export PGTEST_PORT PGTEST_SOCKDIR PGTEST_DATA PGTEST_PASSWORD
	STATE_URL=$OWNER_URL deploy-stage --state-url-env STATE_URL state init --grant deployer >/dev/null || return 1
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_DEPLOY_PID=$$
	# each test its own service: the tables are shared by the whole file
	SERVICE="api-$BATS_TEST_NUMBER"
	config "$DEPLOYER_URL" >config.json
}

teardown() {
	# no machine's deploying process, and so no keeper, outlives the test
	local f
	for f in "$BATS_TEST_TMPDIR"/machine-*/owner; do
		[[ ! -s $f ]] || kill "$(<"$f")" 2>/dev/null || true
	done
	# nor a lock of the test's own process (bats's, which lives on)
	pg_superuser_psql -q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'shipshape-state'" >/dev/null 2>&1 || true
}

# config URL [DRIVER_ARGV_JSON]: a config on the postgres backend with the
# command driver.
config() {
	local argv=${2:-'["true"]'}
	jq -n --arg url "$1" --arg svc "$SERVICE" --argjson argv "$argv" \
		'{service:{name:$svc},state:{backend:"postgres",url:$url},
		  deploy:{driver:"command",timeout:"5s",command:{deploy:$argv}}}'
}

# on MACHINE CMD...: CMD with MACHINE's own HOME, state directory and
# deploying process (the one a deploy's lock follows: a deploy script's
# shell there), started the first time.
on() {
	local m=$BATS_TEST_TMPDIR/machine-$1
	shift
	if [[ ! -s $m/owner ]]; then
		mkdir -p "$m/home"
		sleep 600 </dev/null >/dev/null 2>&1 3>&- &
		echo $! >"$m/owner"
	fi
	HOME=$m/home SHIPSHAPE_STATE_DIR=$m/state SHIPSHAPE_DEPLOY_PID=$(<"$m/owner") "$@"
}

ds() { deploy-stage -c config.json "$@"; }

# sql QUERY: one value, as the superuser.
sql() { pg_superuser_psql -At -c "$1"; }

@test "state init creates the tables once; state check reports them usable for the deploying role" {
	run --separate-stderr env STATE_URL="$OWNER_URL" deploy-stage --state-url-env STATE_URL state init
	assert_success
	[[ "$(json_get .from_version)" == 1 && "$(json_get .version)" == 1 ]]
	[[ "$(sql 'SELECT count(*) FROM shipshape.state_version')" == 1 ]]
	run --separate-stderr ds state check
	assert_success
	[[ "$(json_get '.checks[] | select(.name == "state.schema") | .message')" == "initialised, version 1" ]]
	[[ "$(json_get '.checks[] | select(.name == "state.privileges") | .status')" == ok ]]
	[[ "$(json_get '.checks[] | select(.name == "state.reachable") | .message')" == *"as deployer"* ]]
	assert_secret_absent "$DEPLOYER_PASSWORD" "$output" "$stderr"
}

# deploy_ok RELEASE: a whole deploy that finishes ok.
deploy_ok() {
	ds begin --release "$1" >/dev/null &&
		ds apply >/dev/null &&
		ds finish --result ok >/dev/null
}

# shape: each record of a history as its type and member names, one a line.
shape() { jq -c '{type, members: (keys - ["time", "pid", "config_digest", "service"])}'; }

@test "a deploy on the postgres backend keeps the file backend's records, and every machine reads them" {
	on a deploy_ok v1
	on a deploy_ok v2
	[[ "$(sql "SELECT count(*) FROM shipshape.journal WHERE service = '$SERVICE'")" == 10 ]]
	[[ "$(sql "SELECT string_agg(record->>'type', ',' ORDER BY deploy, seq) FROM shipshape.journal WHERE service = '$SERVICE'")" == "begin,config,apply,apply,finish,begin,config,apply,apply,finish" ]]
	# the same deploy on the file backend writes the same records
	jq 'del(.state)' config.json >file.json
	on f deploy-stage -c file.json begin --release v1 >/dev/null
	on f deploy-stage -c file.json apply >/dev/null
	on f deploy-stage -c file.json finish --result ok >/dev/null
	diff <(shape <"machine-f/state/deploy/$SERVICE/000001.jsonl") \
		<(sql "SELECT record FROM shipshape.journal WHERE service = '$SERVICE' AND deploy = 1 ORDER BY seq" | shape)
	# another machine, its state directory empty, sees the same history
	run --separate-stderr on b ds status
	assert_success
	[[ "$(json_get .current_release)" == v2 && "$(json_get .last_good_release)" == v2 && "$(json_get .deployments)" == 2 ]]
	run --separate-stderr on b ds history
	assert_success
	[[ "$(printf '%s\n' "$output" | jq -rs 'map(.release) | join(",")')" == "v1,v2" ]]
	# no secret of the config in the tables: the URL's password least of all
	! sql "SELECT string_agg(record::text, ' ') FROM shipshape.journal" | grep -qF "$DEPLOYER_PASSWORD"
	! sql "SELECT string_agg(holder::text, ' ') FROM shipshape.lock_holders" | grep -qF "$DEPLOYER_PASSWORD"
}

@test "two machines begin at once: exactly one wins, the other exits 75 naming the holder" {
	on a ds begin --release v1 -m "from runner a" >a.out 2>a.err & pa=$!
	on b ds begin --release v1 -m "from runner b" >b.out 2>b.err & pb=$!
	sa=0 sb=0
	wait "$pa" || sa=$?
	wait "$pb" || sb=$?
	echo "a=$sa b=$sb" >&2
	[[ "$sa$sb" == 075 || "$sa$sb" == 750 ]]
	loser=b; ((sb == 0)) && loser=a
	grep -q "lock held by .*@.* (pid [0-9]*) since .* for deploy 1: from runner" "$loser.err" ||
		grep -q "deploy 1 (v1) is still in progress" "$loser.err"
	run --separate-stderr on c ds lock status
	assert_equal "$status" 75
	[[ "$(json_get .held)" == true && "$(json_get .deploy)" == 1 ]]
	on a ds finish --result failed >/dev/null 2>&1 || on b ds finish --result failed >/dev/null
	run --separate-stderr on c ds lock status
	assert_success
	[[ "$(json_get .held)" == false ]]
}

@test "4 processes x 25 attempts at the lock: never two holders at once" {
	worker() {
		local i got=0
		for ((i = 0; i < 25; i++)); do
			if SHIPSHAPE_DEPLOY_PID=$BASHPID deploy-stage -c config.json lock acquire -m "worker $1" >/dev/null 2>&1; then
				mkdir held || echo "two holders" >>violations
				got=$((got + 1))
				sleep 0.02
				rmdir held
				SHIPSHAPE_DEPLOY_PID=$BASHPID deploy-stage -c config.json lock release >/dev/null 2>>release.err ||
					echo "release failed" >>violations
			fi
		done
		echo "$got" >"got.$1"
	}
	for w in 1 2 3 4; do
		(on "w$w" worker "$w") &
	done
	wait
	[[ ! -e violations ]] || { cat violations release.err >&2; false; }
	total=$(cat got.* | paste -sd+ | bc)
	echo "acquisitions: $total" >&2
	((total >= 4))
	run --separate-stderr ds lock status
	assert_success
}

# applying: whether the deploy of the test's service has recorded its apply start.
applying() {
	[[ "$(sql "SELECT count(*) FROM shipshape.journal WHERE service = '$SERVICE'
		AND record->>'type' = 'apply' AND record->>'phase' = 'start'")" -ge 1 ]]
}

# lock_free: whether any machine sees the service's lock free.
lock_free() { on z ds lock status >/dev/null 2>&1; }

@test "kill -9 of the holder's process group during apply: the lock is free at once, the deploy interrupted for every machine" {
	config "$DEPLOYER_URL" '["sleep","60"]' >config.json
	mkdir -p machine-a/home
	HOME=$PWD/machine-a/home SHIPSHAPE_STATE_DIR=$PWD/machine-a/state setsid bash -c \
		'export SHIPSHAPE_DEPLOY_PID=$$; deploy-stage -c config.json begin --release v1 && deploy-stage -c config.json apply' \
		</dev/null >a.out 2>a.err &
	leader=$!
	svc_wait 20 applying
	run --separate-stderr on b ds begin --release v2
	assert_equal "$status" 75
	kill -KILL -- "-$leader"
	# the keeper died with its group: PostgreSQL frees the lock when its
	# connection closes (deploy-stage(1): within 2 s)
	svc_wait 2 lock_free
	run --separate-stderr on b ds status
	assert_equal "$status" 1
	[[ "$(json_get .state)" == interrupted && "$(json_get .deploy.deploy)" == 1 && "$(json_get .deploy.apply)" == started ]]
	run --separate-stderr on b ds begin --release v2
	assert_equal "$status" 2
	[[ $stderr == *"deploy 1 (v1) was interrupted"* ]]
	config "$DEPLOYER_URL" >config.json
	# machine a's keeper left its socket behind: a command there connects on its own
	[[ -S machine-a/state/deploy/$SERVICE/keeper.sock ]]
	run --separate-stderr on a ds status
	assert_equal "$status" 1
	run --separate-stderr on b ds begin --release v2 --force
	assert_success
	[[ $stderr == *"closing interrupted deploy 1 (v1) as failed"* ]]
}

# keeper_busy SINCE: how many state sessions are open, and how many of them ran a
# statement after SINCE (a timestamp).
keeper_busy() {
	sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE query_start > '$1') FROM pg_stat_activity
		WHERE application_name = 'shipshape-state'"
}

@test "the steps after begin run on the lock keeper's connection, over a socket only its user may use" {
	on a ds begin --release v1 >/dev/null
	sock=machine-a/state/deploy/$SERVICE/keeper.sock
	[[ -S $sock && "$(stat -c %a "$sock")" == 600 ]]
	t0=$(sql "SELECT now()")
	printf '%s\n' '{"kind":"report","tool":"t","status":"ok","summary":"ok","checks":[{"name":"t.x","status":"ok","message":"m"}]}' |
		on a ds gate pre-deploy >/dev/null
	on a ds apply >/dev/null
	# one session, the keeper's, open before and after, and it ran them
	[[ "$(keeper_busy "$t0")" == "1 1" ]]
	# a command of another machine runs on a session of its own, gone with it
	t1=$(sql "SELECT now()")
	on b ds lock status >/dev/null 2>&1 || true
	[[ "$(keeper_busy "$t1")" == "1 0" ]]
	on a ds finish --result ok >/dev/null
	[[ ! -e $sock ]]
	run --separate-stderr on b ds lock status
	assert_success
	[[ "$(json_get .held)" == false ]]
}

@test "a holder whose deploying process dies (its keeper alive) frees the lock within 2 s" {
	on a ds lock acquire -m "by hand" >/dev/null
	run --separate-stderr on b ds lock status
	assert_equal "$status" 75
	kill "$(<machine-a/owner)"
	svc_wait 3 lock_free
	run --separate-stderr on b ds lock status
	assert_success
}

@test "lock release --force -m WHY frees another machine's lock and says so in its deploy's journal" {
	on a ds begin --release v1 -m "runner a" >/dev/null
	run --separate-stderr on b ds lock release
	assert_equal "$status" 75
	run --separate-stderr on b ds lock release --force -m "runner a was lost"
	assert_success
	run --separate-stderr on b ds lock status
	assert_success
	rec=$(sql "SELECT record FROM shipshape.journal WHERE service = '$SERVICE' AND record->>'type' = 'lock'")
	[[ "$(jq -r '[.action, .forced, .message, .holder.message, .holder.deploy] | join(" ")' <<<"$rec")" == "release true runner a was lost runner a 1" ]]
	run --separate-stderr on b ds status
	assert_equal "$status" 1
	[[ "$(json_get .state)" == interrupted ]]
}

@test "a fresh machine rolls back to the last known-good release it finds in PostgreSQL" {
	on a deploy_ok v1
	on a deploy_ok v2
	[[ ! -d machine-c ]]
	run --separate-stderr on c rollback -c config.json --no-verify -m "v2 is bad"
	assert_success
	[[ "$(json_get .from)" == v2 && "$(json_get .to)" == v1 && "$(json_get .status)" == ok ]]
	run --separate-stderr on a ds status
	[[ "$(json_get .current_release)" == v1 ]]
	[[ "$(sql "SELECT record->>'action' FROM shipshape.journal WHERE service = '$SERVICE' AND deploy = 3 AND seq = 1")" == rollback ]]
}

# pg_restart: the test cluster started again on its port.
pg_restart() {
	svc_as_pg "$SVC_PG_BIN/pg_ctl" -D "$PGTEST_DATA" -l "$PGTEST_LOG" -o "-p $PGTEST_PORT" -w -t 30 start \
		</dev/null >/dev/null 2>&1 3>&-
}

@test "the database stopped in the middle of a deploy: apply is refused with 75 and nothing is applied" {
	config "$DEPLOYER_URL" "[\"touch\",\"$BATS_TEST_TMPDIR/applied\"]" >config.json
	on a ds begin --release v1 >/dev/null
	svc_as_pg "$SVC_PG_BIN/pg_ctl" -D "$PGTEST_DATA" -m fast -w -t 30 stop </dev/null >/dev/null 2>&1 3>&-
	run --separate-stderr on a ds apply
	pg_restart
	assert_equal "$status" 75
	[[ $stderr == *"state database postgres 127.0.0.1:$PGTEST_PORT/appdb (schema shipshape): unreachable: "* ]]
	assert_secret_absent "$DEPLOYER_PASSWORD" "$stderr"
	[[ ! -e applied ]]
	# its keeper lost its connection with the lock: the deploy is
	# interrupted, never applied
	run --separate-stderr on a ds apply
	assert_equal "$status" 2
	[[ $stderr == *"deploy 1 (v1) was interrupted"* ]]
	[[ ! -e applied ]]
}

@test "the database unreachable at begin: 75, naming the host and port only" {
	port=$(free_port)
	config "postgresql://deployer:$DEPLOYER_PASSWORD@127.0.0.1:$port/appdb" >config.json
	run --separate-stderr ds begin --release v1
	assert_equal "$status" 75
	[[ $stderr == "deploy-stage: state database postgres 127.0.0.1:$port/appdb (schema shipshape): unreachable: Connection refused" ]]
	run --separate-stderr rollback -c config.json --check
	[[ $stderr == *"127.0.0.1:$port"* ]]
	assert_secret_absent "$DEPLOYER_PASSWORD" "$output" "$stderr"
}

@test "a server that stops answering: every command ends, none hangs" {
	on a deploy_ok v1
	pids=$(pgrep -u postgres -x postgres | paste -sd' ')
	kill -STOP $pids
	SECONDS=0
	run --separate-stderr timeout 60 deploy-stage -c config.json status
	kill -CONT $pids
	echo "ended after ${SECONDS}s: $status $stderr" >&2
	assert_equal "$status" 75
	[[ $stderr == *"unreachable: timeout expired"* ]]
}

@test "state import copies a file-backend history once, however often it runs" {
	jq 'del(.state)' config.json >file.json
	for v in v1 v2 v3; do
		on a deploy-stage -c file.json begin --release $v >/dev/null
		on a deploy-stage -c file.json apply >/dev/null
		on a deploy-stage -c file.json finish --result ok >/dev/null
	done
	run --separate-stderr on a ds state import
	assert_success
	# begin, config, apply start and end, finish: 5 each
	[[ "$(json_get .deploys)" == 3 && "$(json_get .deploys_imported)" == 3 && "$(json_get .records_imported)" == 15 ]]
	run --separate-stderr on a ds state import
	assert_success
	[[ "$(json_get .deploys_imported)" == 0 && "$(json_get .records_imported)" == 0 ]]
	[[ "$(sql "SELECT count(*) FROM shipshape.journal WHERE service = '$SERVICE'")" == 15 ]]
	run --separate-stderr on b ds history
	[[ "$(printf '%s\n' "$output" | jq -rs 'map(.release) | join(",")')" == "v1,v2,v3" ]]
	# the next deploy goes on from there
	on b deploy_ok v4
	[[ "$(sql "SELECT max(deploy) FROM shipshape.journal WHERE service = '$SERVICE'")" == 4 ]]
	# a file history that disagrees with what is held is refused, nothing written
	jq -c '.release = "v9"' "machine-a/state/deploy/$SERVICE/000001.jsonl" | head -n 1 >x && \
		{ cat x; tail -n +2 "machine-a/state/deploy/$SERVICE/000001.jsonl"; } >y && mv y "machine-a/state/deploy/$SERVICE/000001.jsonl"
	run --separate-stderr on a ds state import
	assert_equal "$status" 2
	[[ $stderr == *"deploy 1 of $SERVICE: 1 record already held differ"* ]]
}

@test "a role with only INSERT and SELECT deploys; one with less is refused, clearly; nobody may rewrite the journal" {
	on a deploy_ok v1
	config "$READER_URL" >reader.json
	run --separate-stderr deploy-stage -c reader.json begin --release v2
	assert_equal "$status" 3
	[[ $stderr == *"permission denied for schema shipshape"* ]]
	run --separate-stderr deploy-stage -c reader.json state check
	assert_equal "$status" 2
	[[ "$(json_get '.checks[] | select(.name == "state.privileges") | .message')" == "role reader lacks USAGE on the schema shipshape, and so every table in it"* ]]
	# USAGE alone is not enough either
	pg_superuser_psql -q -c "GRANT USAGE ON SCHEMA shipshape TO reader"
	run --separate-stderr deploy-stage -c reader.json state check
	pg_superuser_psql -q -c "REVOKE USAGE ON SCHEMA shipshape FROM reader"
	assert_equal "$status" 2
	[[ "$(json_get '.checks[] | select(.name == "state.privileges") | .message')" == "role reader lacks SELECT on journal, INSERT on journal, SELECT on lock_holders, INSERT on lock_holders, SELECT on state_version"* ]]
	run "$SVC_PG_BIN/psql" -X "$DEPLOYER_URL" -c "UPDATE shipshape.journal SET record = '{}'"
	assert_failure
	[[ $output == *"permission denied for table journal"* ]]
	run "$SVC_PG_BIN/psql" -X "$OWNER_URL" -c "DELETE FROM shipshape.journal"
	assert_failure
	[[ $output == *"journal is append-only"* ]]
}

@test "a wrong password is refused (3) without showing it" {
	config "postgresql://deployer:wrong-pw-0e1d@127.0.0.1:$PGTEST_PORT/appdb" >config.json
	run --separate-stderr ds status
	assert_equal "$status" 3
	[[ $stderr == *'password authentication failed for user "deployer"'* ]]
	assert_secret_absent wrong-pw-0e1d "$output" "$stderr"
}

@test "TLS: verify-full with the server's CA is encrypted; with another CA it is refused" {
	config "$DEPLOYER_URL?sslmode=verify-full&sslrootcert=$PGTEST_SSL_CERT" >config.json
	run --separate-stderr ds state check
	assert_success
	[[ "$(json_get '.checks[] | select(.name == "state.tls") | .message')" == "encrypted (TLSv1.3)" ]]
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=other \
		-keyout other.key -out other.crt >/dev/null 2>&1
	config "$DEPLOYER_URL?sslmode=verify-full&sslrootcert=$PWD/other.crt" >config.json
	run --separate-stderr ds begin --release v1
	assert_equal "$status" 3
	[[ $stderr == *"certificate verify failed"* ]]
}
