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
