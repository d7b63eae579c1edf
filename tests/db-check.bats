#!/usr/bin/env bats
# db-check against a real PostgreSQL 15: a throwaway cluster with SSL, the
# upload_pipeline fixtures, a streaming standby, a silent port, held
# connections and open transactions.
load helpers/common
load helpers/services

PG_BIN=/usr/lib/postgresql/15/bin

setup_file() {
	start_postgres --ssl || return 1
	pg_superuser_psql -q -f "$BATS_TEST_DIRNAME/helpers/pg_fixtures.sql" >/dev/null || return 1
	export PGTEST_PORT PGTEST_URL PGTEST_PASSWORD PGTEST_SOCKDIR
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	# libpq reads these; each test sets what it means to use
	unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSSLMODE PGSERVICE PGAPPNAME DB_URL
}

# cfg [JQ-FILTER]: a config document for the test cluster, everything right,
# with the filter applied.
cfg() {
	jq -n --arg url "$PGTEST_URL" '{
	  environment: "production", service: {name: "accessa-api"},
	  database: {url: $url, schema: "upload_pipeline", pool_size: 5, max_overflow: 5,
	    require_ssl: true, min_server_version: "15", expected_role: "primary",
	    tables: ["documents", "upload_jobs", "document_chunks", "audit_log"],
	    rls: {required: true, forced: false},
	    connect_warning: "20s", connect_critical: "30s",
	    latency: {warning: "10s", critical: "20s"},
	    extensions: [{name: "pgcrypto", version: "1.3"}, {name: "uuid-ossp"}],
	    migrations: {table: "schema_migrations", version: "20250601000000"},
	    queries: [{name: "pending_jobs",
	      sql: "SELECT count(*) FROM upload_pipeline.upload_jobs WHERE status = '\''pending'\''",
	      warning: "~:10", critical: "~:100"}]},
	  scaling: {max_instances: 2}}' | jq "${1:-.}"
}

# check [JQ-FILTER] [DB-CHECK ARGS...]: db-check on that config, from a file.
check() {
	cfg "${1:-.}" >cfg.json
	shift
	run --separate-stderr db-check -c cfg.json "$@"
}

# status_of NAME: the status of check NAME in the last report.
status_of() {
	json_get ".checks[] | select(.name == \"$1\") | .status"
}

message_of() {
	json_get ".checks[] | select(.name == \"$1\") | .message"
}

# assert_ready_adhoc: an ad hoc run (default thresholds, which a loaded CI
# machine may cross on time alone) found everything ready: every check ok
# but connect and latency, which are ok or warning.
assert_ready_adhoc() {
	[ "$status" -le 1 ] || { echo "status $status: $output" >&2; return 1; }
	assert_equal "$(json_get '[.checks[] | select(.name != "db.connect" and .name != "db.latency") | select(.status != "ok")] | length')" 0
	assert_equal "$(json_get '[.checks[] | select(.status != "ok" and .status != "warning")] | length')" 0
}

# psql_value SQL: one value from the superuser.
psql_value() {
	pg_superuser_psql -tA -c "$1"
}

# wait_until SQL: poll (bounded) until the superuser's SQL returns t.
wait_until() {
	local i
	for ((i = 0; i < 200; i++)); do
		[[ $(psql_value "$1") == t ]] && return 0
		sleep 0.05
	done
	echo "gave up waiting for: $1" >&2
	return 1
}

@test "--help prints the synopsis on stdout and exits 0" {
	run --separate-stderr db-check --help
	assert_success
	assert_output --partial "usage: db-check [-c FILE | --no-config]"
	[ -z "$stderr" ]
	run --separate-stderr db-check --version
	assert_success
	assert_output --regexp '^db-check [0-9]'
}

@test "everything right: every check ok, exit 0" {
	check .
	assert_success
	assert_equal "$(json_get .kind)" report
	assert_equal "$(json_get .tool)" db-check
	assert_equal "$(json_get .status)" ok
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" \
		"db.connect db.version db.role db.ssl db.schema db.tables db.rls db.extensions db.pool db.activity db.latency db.migrations db.query.pending_jobs"
	assert_equal "$(json_get '[.checks[] | select(.status != "ok")] | length')" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.ssl") | .data.encrypted')" true
	assert_equal "$(json_get '.checks[] | select(.name == "db.role") | .data.role')" primary
	assert_equal "$(json_get '.checks[] | select(.name == "db.version") | .data.version_num >= 150000')" true
	assert_equal "$(json_get '.checks[] | select(.name == "db.extensions") | .data.extensions[0].installed')" 1.3
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.table')" upload_pipeline.schema_migrations
	assert_equal "$(json_get '.checks[] | select(.name == "db.latency") | .data.count')" 5
	assert_equal "$(json_get '.checks[] | select(.name == "db.query.pending_jobs") | .data.value')" 9
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.demand.total')" 20
	assert_secret_absent "$PGTEST_PASSWORD" "$output" "$stderr"
}

@test "the config document on stdin, and a YAML file with a template" {
	cfg . >cfg.json
	run --separate-stderr db-check <cfg.json
	assert_success
	assert_equal "$(json_get .status)" ok

	cat >app.yaml <<-'EOF'
		environment: production
		database:
		  url: ${DATABASE_URL}
		  schema: upload_pipeline
		  pool_size: 5
		  max_overflow: 5
		  require_ssl: ${DATABASE_REQUIRE_SSL:-true}
		  tables: [documents, audit_log]
		  extensions: [{name: pgcrypto}]
		  connect_warning: 20s
		  connect_critical: 30s
		  latency:
		    warning: 10s
		    critical: 20s
		scaling:
		  max_instances: 1
	EOF
	DATABASE_URL=$PGTEST_URL run --separate-stderr db-check -c app.yaml
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" \
		"db.connect db.version db.role db.ssl db.schema db.tables db.rls db.extensions db.pool db.activity db.latency"
	assert_equal "$(json_get '.checks[] | select(.name == "db.connect") | .data.critical_ms')" 30000
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.demand.total')" 10
}

@test "text on request, and nagios: one line with perfdata" {
	check . --format text
	assert_success
	assert_line --regexp '^OK +db\.rls '
	assert_output --partial "db-check: ok"
	check '.database.tables += ["scratch"]' --format nagios
	assert_equal "$status" 2
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^db-check CRITICAL - .*scratch.* \| connect_time=[0-9]+ms;20000;30000 '
	assert_output --partial "pending_jobs=9;10;100"
}

@test "one table without row-level security: critical, naming that table" {
	check '.database.tables += ["scratch"]'
	assert_equal "$status" 2
	assert_equal "$(json_get .status)" critical
	assert_equal "$(status_of db.rls)" critical
	assert_equal "$(message_of db.rls)" "row-level security is not enabled on: scratch"
	assert_equal "$(status_of db.tables)" ok
	assert_equal "$(json_get '[.checks[] | select(.status != "ok") | .name] | join(" ")')" db.rls
}

@test "forced row-level security: names every table not forced" {
	check '.database.rls.forced = true'
	assert_equal "$status" 2
	assert_equal "$(message_of db.rls)" "row-level security is not forced on: documents, upload_jobs, document_chunks"
	assert_equal "$(json_get '.checks[] | select(.name == "db.rls") | [.data.tables[] | select(.forced)] | .[0].name')" audit_log
}

@test "the schema missing: schema and tables critical" {
	check '.database.schema = "nope" | del(.database.migrations)'
	assert_equal "$status" 2
	assert_equal "$(status_of db.schema)" critical
	assert_equal "$(message_of db.schema)" 'schema "nope" does not exist'
	assert_equal "$(status_of db.tables)" critical
	assert_equal "$(json_get '.checks[] | select(.name == "db.tables") | .data.missing')" 4
	assert_equal "$(status_of db.rls)" unknown
}

@test "a table missing: critical, naming it" {
	check '.database.tables += ["ghost_table"]'
	assert_equal "$status" 2
	assert_equal "$(status_of db.tables)" critical
	assert_output --partial 'missing 1 of 5 tables in \"upload_pipeline\": ghost_table'
	assert_equal "$(json_get '.checks[] | select(.name == "db.rls") | .data.missing')" ghost_table
}

@test "an extension missing or too old: critical" {
	check '.database.extensions += [{name: "hstore"}]'
	assert_equal "$status" 2
	assert_equal "$(message_of db.extensions)" "not installed: hstore"
	check '.database.extensions[0].version = "1.10"'
	assert_equal "$status" 2
	assert_equal "$(message_of db.extensions)" "too old: pgcrypto 1.3 (below 1.10)"
}

@test "server version below the minimum: critical" {
	check '.database.min_server_version = "16.1"'
	assert_equal "$status" 2
	assert_equal "$(status_of db.version)" critical
	assert_output --partial "is below the minimum 16.1"
}

@test "wrong password: critical 'authentication failed', the password nowhere" {
	local bad=Wr0ngPassw0rd-db-check
	check ".database.url = \"postgresql://app:$bad@127.0.0.1:$PGTEST_PORT/appdb\""
	assert_equal "$status" 2
	assert_equal "$(status_of db.connect)" critical
	assert_equal "$(json_get '.checks[0].data.failure')" authentication
	assert_equal "$(json_get '.checks[0].data.reason')" password
	assert_output --partial "authentication failed"
	assert_equal "$(json_get '.checks | length')" 1
	assert_secret_absent "$bad" "$output" "$stderr"
	# the text format and verbose diagnostics too
	run --separate-stderr db-check -v -c cfg.json --format text
	assert_equal "$status" 2
	assert_secret_absent "$bad" "$output" "$stderr"
}

@test "database does not exist: its own message" {
	check ".database.url = \"postgresql://app:$PGTEST_PASSWORD@127.0.0.1:$PGTEST_PORT/nosuchdb\""
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].data.failure')" no_database
	assert_equal "$(message_of db.connect)" 'database "nosuchdb" does not exist (127.0.0.1:'"$PGTEST_PORT"')'
}

@test "no server listening (a stopped server): critical 'connection refused'" {
	local port
	port=$(free_port)
	check ".database.url = \"postgresql://app:$PGTEST_PASSWORD@127.0.0.1:$port/appdb\"" -t 5s
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].data.failure')" no_response
	assert_equal "$(json_get '.checks[0].data.reason')" refused
	assert_output --partial "no response: connection refused (127.0.0.1:$port)"
	assert_equal "$(json_get '.checks[0].data.not_run | length')" 12
	assert_equal "$(json_get .summary)" "cannot connect (12 other checks not run)"
	assert_equal "$(json_get '.duration_ms < 5000')" true
	# a list of hosts: libpq goes on to the next, and so does the connect loop
	check ".database.url = \"postgresql://app:$PGTEST_PASSWORD@127.0.0.1:$port,127.0.0.1:$PGTEST_PORT/appdb\"" --only connect
	assert_success
	assert_equal "$(json_get '.checks[0].data.port')" "$PGTEST_PORT"
}

@test "a port that accepts TCP but never answers: critical within -t" {
	start_silent_port
	cfg ".database.url = \"postgresql://app:$PGTEST_PASSWORD@127.0.0.1:$SILENT_PORT/appdb\"" >cfg.json
	run --separate-stderr timeout 20 db-check -c cfg.json -t 1s
	stop_silent_port
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].data.reason')" timed_out
	assert_output --partial "the connection was accepted"
	# it waited for the deadline, and not much longer
	assert_equal "$(json_get '.duration_ms >= 900 and .duration_ms < 4000')" true
}

@test "SSL required, server without SSL: ssl critical; sslmode=require: connect fails on SSL" {
	pg_superuser_psql -q -c "ALTER SYSTEM SET ssl = off" -c "SELECT pg_reload_conf()"
	wait_until "SELECT current_setting('ssl') = 'off'"
	check .
	local s1=$status o1=$output
	check ".database.url = \"$PGTEST_URL?sslmode=require\""
	local s2=$status o2=$output
	check '.database.require_ssl = false'
	local s3=$status o3=$output
	pg_superuser_psql -q -c "ALTER SYSTEM RESET ssl" -c "SELECT pg_reload_conf()"
	wait_until "SELECT current_setting('ssl') = 'on'"

	output=$o1
	assert_equal "$s1" 2
	assert_equal "$(status_of db.connect)" ok
	assert_equal "$(status_of db.ssl)" critical
	assert_equal "$(json_get '.checks[] | select(.name == "db.ssl") | .data.server_ssl')" off
	assert_output --partial "not encrypted (the server has SSL off"
	output=$o2
	assert_equal "$s2" 2
	assert_equal "$(json_get '.checks[0].data.failure')" ssl
	assert_equal "$(status_of db.ssl)" critical
	assert_output --partial "SSL negotiation failed: the server does not support SSL"
	output=$o3
	assert_equal "$s3" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.ssl") | .data.encrypted')" false
}

@test "certificate verification against the test server's certificate" {
	check ".database.url = \"$PGTEST_URL?sslmode=verify-full&sslrootcert=$PGTEST_SSL_CERT\""
	assert_success
	assert_equal "$(json_get '.checks[] | select(.name == "db.ssl") | .data.sslmode')" verify-full
	# a CA that did not sign it
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=other \
		-keyout other.key -out other.crt 2>/dev/null
	check ".database.url = \"$PGTEST_URL?sslmode=verify-full&sslrootcert=$PWD/other.crt\""
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].data.failure')" ssl
	assert_equal "$(json_get '.checks[0].data.reason')" certificate
}

@test "a client certificate the running user may not read: the message carries libpq's reason" {
	# as under nagios4: HOME is root's, unreadable to the user running the
	# check; root reads anything, so run as nobody
	local as=()
	[ "$(id -u)" -ne 0 ] || as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	local home
	home=$(mktemp -d /tmp/db-check-home.XXXXXX)
	chmod 755 "$home"
	mkdir -m 700 "$home/.postgresql" "$home/private"
	touch "$home/.postgresql/postgresql.crt" "$home/private/client.crt" "$home/unreadable.crt"
	chmod 000 "$home/unreadable.crt"
	# libpq 15 formats a failed certificate read (a file it may stat but
	# not open) with a buffer it never fills and then reads past (an upstream
	# bug): ASan is told that overflow is libpq's, for that run only
	printf 'interceptor_via_lib:libpq.so.5\n' >"$BATS_TEST_TMPDIR/libpq.supp"
	chmod 644 "$BATS_TEST_TMPDIR/libpq.supp"
	chmod 755 "$BATS_TEST_TMPDIR"
	# sslmode=require: with prefer libpq falls back to plain text
	cfg ".database.url = \"$PGTEST_URL?sslmode=require\"" >cfg.json
	HOME=$home run --separate-stderr "${as[@]}" "$(command -v db-check)" --only connect <cfg.json
	local s1=$status o1=$output
	HOME=/nonexistent PGSSLCERT=$home/private/client.crt run --separate-stderr "${as[@]}" "$(command -v db-check)" \
		--only connect --format nagios <cfg.json
	local s2=$status o2=$output
	HOME=/nonexistent PGSSLCERT=$home/unreadable.crt ASAN_OPTIONS="${ASAN_OPTIONS:-}:suppressions=$BATS_TEST_TMPDIR/libpq.supp" \
		run --separate-stderr "${as[@]}" "$(command -v db-check)" --only connect --format nagios <cfg.json
	local s3=$status o3=$output
	rm -rf "$home"
	output=$o1
	assert_equal "$s1" 2
	assert_equal "$(json_get '.checks[0].data.failure')" ssl
	assert_equal "$(json_get '.checks[0].data.reason')" certificate
	assert_equal "$(message_of db.connect)" \
		"SSL negotiation failed: certificate problem: could not open certificate file \"$home/.postgresql/postgresql.crt\": Permission denied (127.0.0.1:$PGTEST_PORT)"
	# nagios shows the message only, not the data
	output=$o2
	assert_equal "$s2" 2
	assert_output --partial "SSL negotiation failed: certificate problem: could not open certificate file \"$home/private/client.crt\": Permission denied"
	# libpq's unfilled buffer is cut, so the line stays text
	output=$o3
	assert_equal "$s3" 2
	assert_output --partial "SSL negotiation failed: certificate problem: could not read certificate file \"$home/unreadable.crt\""
	printf '%s' "$output" | iconv -f UTF-8 -t UTF-8 >/dev/null
	[[ $output != *[[:cntrl:]]* ]]
}

@test "a standby when a primary is expected: role critical; as a replica: ok; stopped: refused" {
	start_pg_standby
	check ".database.url = \"$PGSTANDBY_URL\""
	local s1=$status o1=$output
	check ".database.url = \"$PGSTANDBY_URL\" | .database.expected_role = \"replica\"" --only role,ssl,tables
	local s2=$status o2=$output
	local standby_url=$PGSTANDBY_URL
	stop_pg_standby
	# the same server stopped
	check ".database.url = \"$standby_url\"" -t 5s
	local s3=$status o3=$output
	output=$o3
	assert_equal "$s3" 2
	assert_equal "$(json_get '.checks[0].data.reason')" refused
	assert_equal "$(json_get '.duration_ms < 5000')" true
	output=$o1
	assert_equal "$s1" 2
	assert_equal "$(status_of db.role)" critical
	assert_equal "$(message_of db.role)" "the server is in recovery (a standby), but a primary is expected"
	assert_equal "$(json_get '.checks[] | select(.name == "db.role") | .data.in_recovery')" true
	output=$o2
	assert_equal "$s2" 0
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "db.connect db.role db.ssl db.tables"
	assert_equal "$(json_get '.checks[] | select(.name == "db.role") | .data.role')" replica
}

@test "max_connections nearly exhausted by held connections: pool critical; exhausted: rejecting" {
	# demand (5 + 5) x 3 = 30 of 47 slots: fits while nobody else is connected
	check '.scaling.max_instances = 3' --only pool
	assert_success
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.free')" 47
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.demand_pct_of_free')" 63.8
	# 20 held connections leave 27
	printf 'SELECT 1;\n\\sleep 200 ms\n' >hold.sql
	setsid "$PG_BIN/pgbench" -n -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres -c 20 -j 1 -T 60 \
		-f hold.sql appdb >pgbench.log 2>&1 3>&- &
	local pid=$!
	wait_until "SELECT count(*) = 20 FROM pg_stat_activity WHERE application_name = 'pgbench'"
	check '.scaling.max_instances = 3' --only pool
	local s=$status o=$output
	# 27 more take every slot but the superusers' reserved ones
	setsid "$PG_BIN/pgbench" -n -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres -c 27 -j 1 -T 60 \
		-f hold.sql appdb >pgbench2.log 2>&1 3>&- &
	local pid2=$!
	wait_until "SELECT count(*) = 47 FROM pg_stat_activity WHERE application_name = 'pgbench'"
	check . --only pool
	local s2=$status o2=$output
	kill "$pid" "$pid2"
	wait "$pid" "$pid2" || true
	psql_value "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'pgbench'" >/dev/null
	wait_until "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pgbench'"
	output=$o2
	assert_equal "$s2" 2
	assert_equal "$(json_get '.checks[0].data.failure')" rejecting
	assert_equal "$(json_get '.checks[0].data.reason')" too_many_clients
	output=$o
	assert_equal "$s" 2
	assert_equal "$(status_of db.pool)" critical
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.in_use')" 20
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.free')" 27
	assert_output --partial "demand 30 ((pool_size 5 + max_overflow 5) x 3 instances) does not fit in the 27 free slots"
	# the connections gone, 40 of 47 is above 80%: a warning
	check '.scaling.max_instances = 1 | .database.pool_size = 35 | .database.max_overflow = 5' --only pool
	assert_equal "$status" 1
}

@test "custom query ranges at each boundary" {
	check '.database.queries = [
	  {name: "plain_0", sql: "SELECT 0", warning: "10"},
	  {name: "plain_10", sql: "SELECT 10", warning: "10"},
	  {name: "plain_10_5", sql: "SELECT 10.5", warning: "10"},
	  {name: "plain_neg", sql: "SELECT -1", warning: "10"},
	  {name: "min_9", sql: "SELECT 9", warning: "10:"},
	  {name: "min_10", sql: "SELECT 10", warning: "10:"},
	  {name: "max_10", sql: "SELECT 10", warning: "~:10"},
	  {name: "max_11", sql: "SELECT 11", warning: "~:10"},
	  {name: "in_9", sql: "SELECT 9", critical: "@10:20"},
	  {name: "in_10", sql: "SELECT 10", critical: "@10:20"},
	  {name: "in_20", sql: "SELECT 20", critical: "@10:20"},
	  {name: "in_21", sql: "SELECT 21", critical: "@10:20"},
	  {name: "both_w", sql: "SELECT 50", warning: "~:10", critical: "~:100"},
	  {name: "both_c", sql: "SELECT 101", warning: "~:10", critical: "~:100"},
	  {name: "number", sql: "SELECT 10", warning: 10},
	  {name: "bool", sql: "SELECT true", critical: "~:0"},
	  {name: "none", sql: "SELECT 12345"},
	  {name: "null", sql: "SELECT NULL::int"},
	  {name: "text", sql: "SELECT '\''abc'\''"},
	  {name: "empty", sql: "SELECT 1 WHERE false"},
	  {name: "many_rows", sql: "SELECT x FROM generate_series(3, 200000) x", warning: "~:3"},
	  {name: "late_error", sql: "SELECT 1 / (5 - x) FROM generate_series(1, 10) x"}]' --only queries
	assert_equal "$status" 2
	local expect="plain_0=ok plain_10=ok plain_10_5=warning plain_neg=warning min_9=warning min_10=ok max_10=ok"
	expect+=" max_11=warning in_9=ok in_10=critical in_20=critical in_21=ok both_w=warning both_c=critical"
	expect+=" number=ok bool=critical none=ok null=unknown text=unknown empty=unknown many_rows=ok late_error=critical"
	assert_equal "$(json_get '[.checks[1:][] | "\(.name | ltrimstr("db.query."))=\(.status)"] | join(" ")')" "$expect"
	assert_equal "$(message_of db.query.in_10)" "in_10 = 10, inside the critical range @10:20"
	assert_equal "$(message_of db.query.null)" "returned NULL"
	assert_equal "$(message_of db.query.late_error)" "failed: division by zero"
}

@test "a long-open transaction: activity warning naming it" {
	PGAPPNAME=holdtx setsid "$PG_BIN/psql" -X -q -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres -d appdb \
		-c "BEGIN; SELECT pg_sleep(60);" >/dev/null 2>&1 3>&- &
	local pid=$!
	wait_until "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'holdtx' AND xact_start IS NOT NULL"
	check '.database.activity = {transaction_warning: "1ms", transaction_critical: "1h"}' --only activity
	local s=$status
	psql_value "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'holdtx'" >/dev/null
	wait "$pid" || true
	assert_equal "$s" 1
	assert_equal "$(json_get '.checks[1].status')" warning
	assert_equal "$(json_get '.checks[1].data.oldest_transaction.application_name')" holdtx
	assert_output --regexp 'oldest open transaction [0-9.]+m?s \(pid [0-9]+, active, holdtx\) is above the warning 1ms'
}

@test "the session: read only, statement and lock timeouts, application_name db-check" {
	check ".database.url = \"$PGTEST_URL?application_name=someone_else\" | .database.lock_timeout = \"1500ms\" |
	  .database.queries = [
	  {name: \"app\", sql: \"SELECT (current_setting('application_name') = 'db-check')::int\", critical: \"1:1\"},
	  {name: \"read_only\", sql: \"SELECT (current_setting('transaction_read_only') = 'on')::int\", critical: \"1:1\"},
	  {name: \"statement_timeout\", sql: \"SELECT extract(epoch FROM current_setting('statement_timeout')::interval) * 1000\"},
	  {name: \"lock_timeout\", sql: \"SELECT extract(epoch FROM current_setting('lock_timeout')::interval) * 1000\"}]" --only queries
	assert_success
	assert_equal "$(json_get '.checks[] | select(.name == "db.query.statement_timeout") | .data.value > 0 and .data.value <= 5000')" true
	assert_equal "$(json_get '.checks[] | select(.name == "db.query.lock_timeout") | .data.value')" 1500
}

@test "a migration holding a lock: migrations critical on the lock timeout, the waiter counted" {
	PGAPPNAME=holdlock setsid "$PG_BIN/psql" -X -q -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres -d appdb \
		-c "BEGIN; LOCK TABLE upload_pipeline.schema_migrations IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);" \
		>/dev/null 2>&1 3>&- &
	local holder=$!
	wait_until "SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'holdlock' AND l.mode = 'AccessExclusiveLock' AND l.granted"
	PGAPPNAME=waiter setsid "$PG_BIN/psql" -X -q -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres -d appdb \
		-c "SELECT count(*) FROM upload_pipeline.schema_migrations" >/dev/null 2>&1 3>&- &
	local waiter=$!
	wait_until "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'waiter' AND wait_event_type = 'Lock'"
	check '.database.lock_timeout = "200ms" | .database.activity = {lock_waiters_warning: 1, lock_waiters_critical: 5} |
	  .database.latency = {count: 3, warning: "0ms", critical: "1h"}' --only activity,migrations,latency
	local s=$status
	psql_value "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name IN ('holdlock', 'waiter')" >/dev/null
	wait "$holder" "$waiter" || true
	assert_equal "$s" 2
	assert_equal "$(status_of db.migrations)" critical
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.sqlstate')" 55P03
	assert_output --partial "(a migration may be holding a lock on it)"
	assert_equal "$(status_of db.activity)" warning
	assert_equal "$(json_get '.checks[] | select(.name == "db.activity") | .data.lock_waiters')" 1
	# the failed read is rolled back; the round trips after it still run (and
	# any time is above a 0ms warning)
	assert_equal "$(status_of db.latency)" warning
	assert_equal "$(json_get '.checks[] | select(.name == "db.latency") | .data.count')" 3
}

@test "an application role without pg_read_all_stats: hidden sessions counted, a warning naming the privilege" {
	# a plain application role, as the real user runs db-check
	local pw=plainPw-db-check
	pg_superuser_psql -q -c "DROP ROLE IF EXISTS plainapp" -c "CREATE ROLE plainapp LOGIN PASSWORD '$pw'"
	local url="postgresql://plainapp:$pw@127.0.0.1:$PGTEST_PORT/appdb"
	# a superuser session holds a lock in an open transaction; another waits on it
	PGAPPNAME=holdlock setsid "$PG_BIN/psql" -X -q -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres -d appdb \
		-c "BEGIN; LOCK TABLE upload_pipeline.scratch IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);" \
		>/dev/null 2>&1 3>&- &
	local holder=$!
	wait_until "SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'holdlock' AND l.mode = 'AccessExclusiveLock' AND l.granted"
	PGAPPNAME=waiter setsid "$PG_BIN/psql" -X -q -h "$PGTEST_SOCKDIR" -p "$PGTEST_PORT" -U postgres -d appdb \
		-c "SELECT count(*) FROM upload_pipeline.scratch" >/dev/null 2>&1 3>&- &
	local waiter=$!
	wait_until "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'waiter' AND wait_event_type = 'Lock'"
	local filter=".database.url = \"$url\" | .database.activity = {transaction_warning: \"1h\", transaction_critical: \"2h\", lock_waiters_warning: 5, lock_waiters_critical: 10}"
	check "$filter" --only activity,pool
	local s1=$status o1=$output
	pg_superuser_psql -q -c "GRANT pg_read_all_stats TO plainapp"
	check "$filter | .database.activity.lock_waiters_warning = 1" --only activity,pool
	local s2=$status o2=$output
	psql_value "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name IN ('holdlock', 'waiter')" >/dev/null
	wait "$holder" "$waiter" || true
	pg_superuser_psql -q -c "DROP ROLE plainapp"

	output=$o1
	assert_equal "$s1" 1
	assert_equal "$(status_of db.activity)" warning
	assert_equal "$(json_get '.checks[] | select(.name == "db.activity") | .data.sessions_hidden')" 2
	assert_equal "$(json_get '.checks[] | select(.name == "db.activity") | .data.lock_waiters')" 0
	[[ $(message_of db.activity) == *"2 sessions of other roles not visible"*"pg_read_all_stats"* ]] || { message_of db.activity; false; }
	assert_equal "$(status_of db.pool)" warning
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.sessions_hidden')" 2
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.in_use')" 2
	[[ $(message_of db.pool) == *"pg_read_all_stats"* ]] || { message_of db.pool; false; }
	output=$o2
	assert_equal "$s2" 1
	assert_equal "$(json_get '.checks[] | select(.name == "db.activity") | .data.sessions_hidden')" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.activity") | .data.lock_waiters')" 1
	assert_equal "$(json_get '.checks[] | select(.name == "db.activity") | .data.oldest_transaction.application_name')" holdlock
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.sessions_hidden')" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.pool") | .data.in_use')" 2
	assert_equal "$(status_of db.pool)" ok
	[[ $(message_of db.activity) != *"not visible"* ]]
}

@test "an attempted write in a custom query fails and is reported; nothing is written" {
	check '.database.queries = [
	  {name: "insert", sql: "INSERT INTO upload_pipeline.scratch VALUES (1) RETURNING id"},
	  {name: "cte_delete", sql: "WITH d AS (DELETE FROM upload_pipeline.upload_jobs RETURNING 1) SELECT count(*) FROM d"},
	  {name: "two_statements", sql: "SELECT 1; DELETE FROM upload_pipeline.upload_jobs"},
	  {name: "after", sql: "SELECT 7", warning: "7"}]' --only queries
	assert_equal "$status" 2
	assert_equal "$(status_of db.query.insert)" critical
	assert_equal "$(json_get '.checks[] | select(.name == "db.query.insert") | .data.sqlstate')" 25006
	assert_equal "$(json_get '.checks[] | select(.name == "db.query.insert") | .data.write_refused')" true
	assert_output --partial "refused: the query tried to write (cannot execute INSERT in a read-only transaction)"
	assert_equal "$(status_of db.query.cte_delete)" critical
	assert_equal "$(json_get '.checks[] | select(.name == "db.query.cte_delete") | .data.write_refused')" true
	assert_equal "$(status_of db.query.two_statements)" critical
	assert_equal "$(status_of db.query.after)" ok
	assert_equal "$(psql_value 'SELECT count(*) FROM upload_pipeline.scratch')" 0
	assert_equal "$(psql_value 'SELECT count(*) FROM upload_pipeline.upload_jobs')" 12
}

@test "a query still running at -t is cancelled: unknown, nothing left running" {
	check '.database.statement_timeout = "1h" | .database.queries = [
	  {name: "slow", sql: "SELECT pg_sleep(30)"}, {name: "next", sql: "SELECT 1"}]' --only queries -t 3s
	assert_equal "$status" 3
	assert_equal "$(status_of db.query.slow)" unknown
	assert_equal "$(message_of db.query.slow)" "not finished: the run is bounded by -t 3s"
	assert_equal "$(status_of db.query.next)" unknown
	assert_equal "$(json_get '.duration_ms < 8000')" true
	wait_until "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'db-check'"
}

@test "a custom query that ends the transaction stops the rest" {
	check '.database.queries = [
	  {name: "escape", sql: "COMMIT"},
	  {name: "write", sql: "INSERT INTO upload_pipeline.scratch VALUES (2)"}]' --only queries
	assert_equal "$status" 2
	assert_equal "$(status_of db.query.escape)" critical
	assert_output --partial "ended db-check's read-only transaction"
	assert_equal "$(status_of db.query.write)" unknown
	assert_equal "$(psql_value 'SELECT count(*) FROM upload_pipeline.scratch')" 0
}

@test "migrations: not applied, table or column missing, not readable" {
	check '.database.migrations.version = "20991231000000"' --only migrations
	assert_equal "$status" 2
	assert_equal "$(message_of db.migrations)" "version 20991231000000 is not applied (latest in upload_pipeline.schema_migrations: 20250601000000)"
	check '.database.migrations.table = "public.nope"' --only migrations
	assert_equal "$status" 2
	assert_equal "$(message_of db.migrations)" "migrations table public.nope does not exist"
	check '.database.migrations.column = "nope"' --only migrations,latency
	assert_equal "$status" 2
	assert_output --partial 'has no column \"nope\"'
	# the failed read is rolled back: the round trips after it still run
	assert_equal "$(status_of db.latency)" ok
	# a role that may not read it
	pg_superuser_psql -q -c "REVOKE SELECT ON upload_pipeline.schema_migrations FROM app"
	check . --only migrations,queries
	local s=$status o=$output
	pg_superuser_psql -q -c "GRANT SELECT ON upload_pipeline.schema_migrations TO app"
	output=$o
	assert_equal "$s" 2
	assert_equal "$(message_of db.migrations)" "role app may not SELECT from upload_pipeline.schema_migrations"
	assert_equal "$(status_of db.query.pending_jobs)" ok
}

@test "migrations: the latest by leading number, then the rest; lexical and applied orders; newer ones named" {
	pg_superuser_psql -q -c "DROP TABLE IF EXISTS upload_pipeline.release_migrations" \
		-c "CREATE TABLE upload_pipeline.release_migrations (version text PRIMARY KEY, applied_at timestamptz, id int)" \
		-c "INSERT INTO upload_pipeline.release_migrations VALUES
		      ('20261101_init', '2026-11-01', 1), ('20261115_add_jobs', '2026-11-15', 2),
		      ('20261120_results', '2026-11-20', 3), ('20261110_hotfix', '2026-11-25', 4),
		      ('9_legacy', '2026-10-01', 0)" \
		-c "GRANT SELECT ON upload_pipeline.release_migrations TO app"
	local m='.database.migrations = {table: "release_migrations", version: "20261115_add_jobs"}'
	check "$m" --only migrations
	local s1=$status o1=$output
	check "$m | .database.migrations.version = \"20261120_results\"" --only migrations
	local s2=$status o2=$output
	check "$m | .database.migrations.order = \"lexical\"" --only migrations
	local s3=$status o3=$output
	check "$m | .database.migrations.order = \"applied\"" --only migrations
	local s4=$status o4=$output
	check "$m | .database.migrations.order = \"applied\" | .database.migrations.applied_column = \"id\" | .database.migrations.version = \"20261110_hotfix\"" --only migrations
	local s5=$status o5=$output
	check "$m | .database.migrations.order = \"applied\" | .database.migrations.applied_column = \"nope\"" --only migrations
	local s6=$status o6=$output e6=$stderr
	check "$m | .database.migrations.order = \"newest\"" --only migrations
	local s7=$status e7=$stderr
	pg_superuser_psql -q -c "DROP TABLE upload_pipeline.release_migrations"

	# numeric (the default): 20261120_results is the latest, not the
	# shorter-first 20261115_add_jobs; 9_legacy is the oldest
	output=$o1
	assert_equal "$s1" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.order')" numeric
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.latest')" 20261120_results
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.newer | join(" ")')" 20261120_results
	assert_equal "$(message_of db.migrations)" "version 20261115_add_jobs is applied; 1 newer one too: 20261120_results"
	output=$o2
	assert_equal "$s2" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.newer | length')" 0
	assert_equal "$(message_of db.migrations)" "version 20261120_results is applied (the latest of 5)"
	# lexical: byte order, so 9_legacy sorts last
	output=$o3
	assert_equal "$s3" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.latest')" 9_legacy
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.newer | join(" ")')" "20261120_results 9_legacy"
	# applied: by applied_at, so the hotfix applied last is the latest
	output=$o4
	assert_equal "$s4" 0
	assert_equal "$(json_get '.checks[] | select(.name == "db.migrations") | .data.latest')" 20261110_hotfix
	assert_equal "$(message_of db.migrations)" "version 20261115_add_jobs is applied; 2 newer ones too: 20261120_results, 20261110_hotfix"
	output=$o5
	assert_equal "$s5" 0
	assert_equal "$(message_of db.migrations)" "version 20261110_hotfix is applied (the latest of 5)"
	output=$o6
	assert_equal "$s6" 2
	assert_equal "$(message_of db.migrations)" 'migrations table upload_pipeline.release_migrations has no column "nope"'
	assert_equal "$s7" 65
	assert_equal "$e7" 'db-check: cfg.json: database.migrations.order: "newest" is not one of numeric, lexical, applied'
}

@test "ad hoc: libpq's PG* variables and ~/.pgpass, no config" {
	export HOME=$BATS_TEST_TMPDIR
	printf '127.0.0.1:%s:appdb:app:%s\n' "$PGTEST_PORT" "$PGTEST_PASSWORD" >"$HOME/.pgpass"
	chmod 600 "$HOME/.pgpass"
	PGHOST=127.0.0.1 PGPORT=$PGTEST_PORT PGUSER=app PGDATABASE=appdb \
		run --separate-stderr db-check --no-config
	assert_ready_adhoc
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" \
		"db.connect db.version db.role db.ssl db.pool db.activity db.latency"
	assert_equal "$(json_get '.checks[0].data.url_from')" "libpq environment (PG* variables, ~/.pgpass)"
	# nothing configured, named in --only: said so
	PGHOST=127.0.0.1 PGPORT=$PGTEST_PORT PGUSER=app PGDATABASE=appdb \
		run --separate-stderr db-check --no-config --only tables,version
	assert_ready_adhoc
	assert_equal "$(json_get '.checks[] | select(.name == "db.tables") | .data.configured')" false
}

@test "--url-env: ad hoc, or over database.url; --only and --skip" {
	export DB_URL=$PGTEST_URL
	run --separate-stderr db-check --url-env DB_URL --only connect,db.version
	assert_ready_adhoc
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "db.connect db.version"
	run --separate-stderr db-check --url-env DB_URL --skip latency,activity,pool
	assert_ready_adhoc
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "db.connect db.version db.role db.ssl"
	assert_equal "$(json_get '.checks[0].data.url_from')" "environment variable DB_URL"
	assert_secret_absent "$PGTEST_PASSWORD" "$output" "$stderr"
	# with a config, --url-env overrides database.url
	check '.database.url = "postgresql://app:wrong@127.0.0.1:1/appdb"' --url-env DB_URL
	assert_success
	assert_equal "$(json_get '.checks | length')" 13
}

@test "bad input: usage errors exit 64" {
	run --separate-stderr db-check --only bogus --no-config
	assert_equal "$status" 64
	assert_equal "$stderr" 'db-check: --only: unknown check "bogus" (checks: connect, version, role, ssl, schema, tables, rls, extensions, pool, migrations, latency, activity, queries)'
	run --separate-stderr db-check --format env --no-config
	assert_equal "$status" 64
	run --separate-stderr db-check --no-config "postgresql://app:pw@127.0.0.1/appdb"
	assert_equal "$status" 64
	assert_secret_absent "postgresql://app:pw@" "$stderr"
	run --separate-stderr db-check -c x.yaml --no-config
	assert_equal "$status" 64
	run --separate-stderr db-check -t nonsense --no-config
	assert_equal "$status" 64
}

@test "bad input: invalid config exits 65 with the field named" {
	jq -n '{environment: "production"}' >nodb.json
	run --separate-stderr db-check -c nodb.json
	assert_equal "$status" 65
	assert_equal "$stderr" "db-check: nodb.json: database: required, but missing"

	check '.database.url = "postgresql://app:S3cretPassw0rd@[::1/appdb"'
	assert_equal "$status" 65
	[[ $stderr == "db-check: cfg.json: database.url: not a URL: bad IPv6 host" ]]
	assert_secret_absent S3cretPassw0rd "$stderr" "$output"

	check '.database.queries[0].warning = "10:5"'
	assert_equal "$status" 65
	assert_equal "$stderr" 'db-check: cfg.json: database.queries[0].warning: "10:5" is not a range (expected 10, 10:, ~:10, 10:20 or @10:20)'

	check '.database.pool_size = "many"'
	assert_equal "$status" 65
	assert_equal "$stderr" 'db-check: cfg.json: database.pool_size: expected an int, got "many"'

	check '.database.connect_warning = "soon"'
	assert_equal "$status" 65
	[[ $stderr == "db-check: cfg.json: database.connect_warning: "* ]]

	check '.database.expected_role = "leader"'
	assert_equal "$status" 65

	check 'del(.database.url)'
	assert_equal "$status" 65
	assert_equal "$stderr" "db-check: cfg.json: database.url: required, but missing"

	printf 'not json' >bad.json
	run --separate-stderr db-check <bad.json
	assert_equal "$status" 65
	run --separate-stderr db-check -c missing.yaml
	assert_equal "$status" 65
	[[ $stderr == *"missing.yaml"* ]]
	echo '{"kind":"report","status":"ok","checks":[]}' >report.json
	run --separate-stderr db-check <report.json
	assert_equal "$status" 65
	run --separate-stderr db-check --url-env NO_SUCH_VARIABLE_SET
	assert_equal "$status" 65
	assert_equal "$stderr" "db-check: --url-env: environment variable NO_SUCH_VARIABLE_SET is not set"
}

@test "a failed write of the report is not success" {
	cfg . >cfg.json
	run bash -c 'db-check -c cfg.json --only connect >/dev/full'
	assert_equal "$status" 3
}
