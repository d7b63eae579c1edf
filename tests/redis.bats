#!/usr/bin/env bats
# svc-probe's Redis probe against a real redis-server on loopback: AUTH with
# the default user's password and an ACL user's, NOAUTH, SELECT, TLS
# (rediss) verified against the test CA and refused under another CA, a
# closed port, a server that is not Redis, latency thresholds; the password
# never printed and never able to inject a command.
load helpers/common
load helpers/services

PW='s3cret pass@word/x'
# as a config writes it: the space encoded (a URL holds none), '@' and '/' raw
PW_URL='s3cret%20pass@word/x'

setup_file() {
	make_test_certs "$BATS_FILE_TMPDIR/certs"
	export CERTS=$TEST_CERTS_DIR
	# a CA that signed none of the server's certificates
	make_test_certs "$BATS_FILE_TMPDIR/other"
	export OTHER_CA=$BATS_FILE_TMPDIR/other/ca.crt
	export TEST_CERTS_DIR=$CERTS
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	stop_redis
	stop_faultsrv
	stop_silent_port
}

# probe ARGS...: svc-probe's JSON report in $output, its stderr in $stderr.
probe() {
	run --separate-stderr svc-probe --format json "$@"
}

# check FIELD: the first check's FIELD (.status, .message, .data.db, ...).
check() {
	json_get ".checks[0]$1"
}

# cache_config URL [KEY: VALUE...]: cfg.json with cache.redis_url and more keys.
cache_config() {
	local url=$1 extra=""
	shift
	(($# == 0)) || extra=", $(printf '%s' "$*")"
	printf '{"cache": {"redis_url": %s%s}}\n' "$(jq -Rn --arg u "$url" '$u')" "$extra" >cfg.json
}

@test "the right password: redis.cache is ok, from the config and through --url-env" {
	start_redis --password "$PW"
	cache_config "redis://:$PW_URL@127.0.0.1:$REDIS_PORT/0"
	probe -v -c cfg.json --only cache
	assert_success
	assert_equal "$(check .name)" redis.cache
	assert_equal "$(check .status)" ok
	[[ "$(check .message)" == "127.0.0.1:$REDIS_PORT: PONG in "*" ms (authenticated)" ]]
	assert_equal "$(check .data.auth)" true
	assert_secret_absent "$PW" "$output" "$stderr"
	assert_secret_absent "s3cret" "$output" "$stderr"
	# percent-encoded, and with a database: SELECT 3
	export CACHE_URL="redis://:s3cret%20pass%40word%2Fx@127.0.0.1:$REDIS_PORT/3"
	probe --url-env CACHE_URL
	assert_success
	assert_equal "$(check .name)" "redis.127.0.0.1:$REDIS_PORT"
	assert_equal "$(check .data.db)" 3
	[[ "$(check .message)" == *"(authenticated, db 3)" ]]
	assert_secret_absent "s3cret" "$output" "$stderr"
}

@test "a wrong password: critical \"authentication failed\", the password nowhere" {
	start_redis --password "$PW"
	local wrong='wr0ng-Passw0rd'
	cache_config "redis://:$wrong@127.0.0.1:$REDIS_PORT"
	probe -v -c cfg.json
	assert_failure 2
	assert_equal "$(check .name)" redis.cache
	assert_equal "$(check .status)" critical
	[[ "$(check .message)" == "127.0.0.1:$REDIS_PORT: authentication failed: \"-WRONGPASS "* ]]
	assert_equal "$(check .data.failed_exchange)" 1
	assert_secret_absent "$wrong" "$output" "$stderr"
	assert_secret_absent "$PW" "$output" "$stderr"
	# in text and nagios form too
	run svc-probe --format text -c cfg.json
	assert_failure 2
	assert_output --partial "authentication failed"
	assert_secret_absent "$wrong" "$output"
	run svc-probe --format nagios -c cfg.json
	assert_failure 2
	assert_secret_absent "$wrong" "$output"
}

@test "a password with CRLF is one AUTH argument: no command is injected" {
	start_redis --password "$PW"
	redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" SET marker kept >/dev/null
	export CACHE_URL="redis://:x%0D%0ASET%20injected%201%0D%0APING@127.0.0.1:$REDIS_PORT"
	probe --url-env CACHE_URL
	assert_failure 2
	[[ "$(check .message)" == *"authentication failed"* ]]
	assert_secret_absent "injected" "$output" "$stderr"
	run redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" EXISTS injected
	assert_output 0
	run redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" GET marker
	assert_output kept
}

@test "no password where one is required: NOAUTH says a password is needed" {
	start_redis --password "$PW"
	probe "redis://127.0.0.1:$REDIS_PORT"
	assert_failure 2
	assert_equal "$(check .message)" \
		"127.0.0.1:$REDIS_PORT: a password is needed: the server requires authentication (NOAUTH), and the URL gives none"
	assert_equal "$(check .data.auth)" false
}

@test "a password where none is set: authentication failed, saying so" {
	start_redis
	export CACHE_URL="redis://:unneeded-pw@127.0.0.1:$REDIS_PORT"
	probe --url-env CACHE_URL
	assert_failure 2
	[[ "$(check .message)" == *"authentication failed: the server has no password set, and the URL gives one"* ]]
	assert_secret_absent unneeded-pw "$output" "$stderr"
	# and none given, none needed: ok
	probe "redis://127.0.0.1:$REDIS_PORT/"
	assert_success
	[[ "$(check .message)" == *"(no password)" ]]
}

@test "an ACL user: AUTH USER PASSWORD, right and wrong" {
	start_redis --password "$PW" --user app 'app-pass-1234'
	export CACHE_URL="redis://app:app-pass-1234@127.0.0.1:$REDIS_PORT/1"
	probe --url-env CACHE_URL
	assert_success
	assert_equal "$(check .data.user)" app
	[[ "$(check .message)" == *"(authenticated as app, db 1)" ]]
	export CACHE_URL="redis://app:$PW@127.0.0.1:$REDIS_PORT/1"
	probe --url-env CACHE_URL
	assert_failure 2
	[[ "$(check .message)" == *"authentication failed as user \"app\": \"-WRONGPASS"* ]]
	assert_secret_absent "$PW" "$output" "$stderr"
	# a user name alone is not credentials
	probe "redis://app@127.0.0.1:$REDIS_PORT"
	assert_failure 64
	[[ "$stderr" == *"a user name needs a password"* ]]
}

@test "a database out of range: SELECT refused" {
	start_redis --password "$PW"
	cache_config "redis://:$PW_URL@127.0.0.1:$REDIS_PORT/999"
	probe -c cfg.json
	assert_failure 2
	assert_equal "$(check .message)" "127.0.0.1:$REDIS_PORT: SELECT 999 refused: \"-ERR DB index is out of range\""
	assert_equal "$(check .data.failed_exchange)" 2
}

@test "rediss: verified against the test CA is ok, against another CA critical naming the TLS error" {
	start_redis --password "$PW" --tls "$CERTS"
	cache_config "rediss://:$PW_URL@localhost:$REDIS_PORT/0" "\"ca_file\": \"$CERTS/ca.crt\""
	probe -c cfg.json --only cache
	assert_success
	assert_equal "$(check .data.tls)" true
	[[ "$(check .data.tls_version)" == TLSv1.* ]]
	[[ "$(check .message)" == *"(TLS, authenticated)" ]]
	# the flag's trust, for the ad hoc form
	export CACHE_URL="rediss://:$PW@localhost:$REDIS_PORT"
	probe --cacert "$CERTS/ca.crt" --url-env CACHE_URL
	assert_success
	probe --cacert "$OTHER_CA" --url-env CACHE_URL
	assert_failure 2
	[[ "$(check .message)" == "localhost:$REDIS_PORT: TLS failure: "*certificate* ]]
	cache_config "rediss://:$PW_URL@localhost:$REDIS_PORT/0" "\"ca_file\": \"$OTHER_CA\""
	probe -c cfg.json
	assert_failure 2
	[[ "$(check .message)" == *"TLS failure: "* ]]
	assert_secret_absent "$PW" "$output" "$stderr"
	# verification off: the other CA does not matter
	cache_config "rediss://:$PW_URL@localhost:$REDIS_PORT/0" "\"ca_file\": \"$OTHER_CA\"" ', "tls_verify": false'
	probe -c cfg.json
	assert_success
	# plain redis:// to a TLS port: no PONG
	export CACHE_URL="redis://:$PW@127.0.0.1:$REDIS_PORT"
	probe --request-timeout 2s --url-env CACHE_URL
	assert_failure 2
	assert_equal "$(check .status)" critical
}

@test "a closed port: critical, connection refused" {
	local port
	port=$(free_port)
	probe "redis://127.0.0.1:$port/0"
	assert_failure 2
	assert_equal "$(check .message)" "127.0.0.1:$port: connection refused"
	cache_config "rediss://:some-pass-123@127.0.0.1:$port"
	probe -c cfg.json --only cache
	assert_failure 2
	assert_equal "$(check .message)" "127.0.0.1:$port: connection refused"
}

@test "a server that is not Redis, and one that never answers: critical, naming what came" {
	start_faultsrv --tcp-banner "220 probe.test ESMTP"
	probe "redis://127.0.0.1:$FAULT_TCP_PORT"
	assert_failure 2
	assert_equal "$(check .message)" "127.0.0.1:$FAULT_TCP_PORT: unexpected reply to PING: \"220 probe.test ESMTP\""
	start_silent_port
	probe --request-timeout 500ms "redis://127.0.0.1:$SILENT_PORT"
	assert_failure 2
	assert_equal "$(check .message)" "127.0.0.1:$SILENT_PORT: no reply to PING (timed out)"
}

@test "latency thresholds: the measured time against cache.latency_* and the flags" {
	start_redis --password "$PW"
	cache_config "redis://:$PW_URL@127.0.0.1:$REDIS_PORT" '"latency_warning": "100ms"' ', "latency_critical": "5s"'
	probe -c cfg.json
	assert_success
	assert_equal "$(check .data.latency_warning_ms)" 100
	assert_equal "$(check .data.latency_critical_ms)" 5000
	# every command waits while the clients are paused
	redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" CLIENT PAUSE 1000 ALL >/dev/null
	probe -c cfg.json
	assert_failure 1
	[[ "$(check .message)" =~ PONG\ in\ [0-9]+\ ms\ \(authenticated\),\ at\ or\ over\ the\ warning\ threshold\ of\ 100ms$ ]]
	(($(check .data.timings.total) >= 100))
	redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" CLIENT PAUSE 1000 ALL >/dev/null
	probe --latency-critical 200ms -c cfg.json
	assert_failure 2
	[[ "$(check .message)" == *"at or over the critical threshold of 200ms" ]]
	# the defaults
	export CACHE_URL="redis://:$PW@127.0.0.1:$REDIS_PORT"
	probe --url-env CACHE_URL
	assert_success
	assert_equal "$(check .data.latency_warning_ms)" 250
	assert_equal "$(check .data.latency_critical_ms)" 1000
}

@test "bad input: a password on argv, a bad URL, an unset variable, bad thresholds" {
	probe 'redis://:argv-secret-pw@127.0.0.1:1/0'
	assert_failure 64
	[[ "$stderr" == *"a password does not belong on the command line"* ]]
	assert_secret_absent argv-secret-pw "$output" "$stderr"
	probe 'redis://127.0.0.1:1/zero'
	assert_failure 64
	[[ "$stderr" == *"invalid database"* ]]
	probe --url-env NO_SUCH_VARIABLE_SET
	assert_failure 65
	[[ "$stderr" == *"environment variable NO_SUCH_VARIABLE_SET is not set"* ]]
	cache_config 'redis://:cfg-secret-pw@127.0.0.1:99999'
	probe -c cfg.json
	assert_failure 65
	[[ "$stderr" == *"cache.redis_url"* ]]
	assert_secret_absent cfg-secret-pw "$output" "$stderr"
	cache_config 'redis://127.0.0.1:1' '"latency_warning": "2s"' ', "latency_critical": "1s"'
	probe -c cfg.json
	assert_failure 65
	[[ "$stderr" == *"cache.latency_warning"* ]]
	cache_config 'http://127.0.0.1:1'
	probe -c cfg.json
	assert_failure 65
	[[ "$stderr" == *"cache.redis_url"* ]]
}

@test "--check and --only select the cache like any target" {
	start_redis
	printf '{"cache": {"redis_url": "redis://127.0.0.1:%s"}, "probes": [{"type": "tcp", "name": "other", "address": "127.0.0.1:%s"}]}\n' \
		"$REDIS_PORT" "$(free_port)" >cfg.json
	probe -c cfg.json --check redis.cache
	assert_success
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" redis.cache
	probe -c cfg.json
	assert_failure 2
	assert_equal "$(json_get '[.checks[].name] | join(" ")')" "tcp.other redis.cache"
}

@test "redis URLs as a table: what each one probes, and each refusal named (through --url-env)" {
	local port url want got n=0
	port=$(free_port)
	while IFS='|' read -r url want; do
		[[ -n "$url" ]] || continue
		n=$((n + 1))
		export CACHE_URL=${url//@P@/$port}
		want=${want//@P@/$port}
		probe --url-env CACHE_URL
		if [[ $want == '!'* ]]; then
			assert_equal "$status" 65
			[[ "$stderr" == "svc-probe: CACHE_URL: "*"${want#!}"* ]] || fail "$url: $stderr"
		else
			assert_equal "$status" 2
			got=$(json_get '.checks[0].data | "\(.address) \(.port) \(.tls) \(.db) \(.auth) \(.user // "-")"')
			assert_equal "$url: $got" "$url: $want"
		fi
		assert_secret_absent 'p@ss/w0rd' "$output" "$stderr"
	done <<-'EOF'
		redis://127.0.0.1:@P@|127.0.0.1 @P@ false 0 false -
		REDIS://127.0.0.1:@P@/5|127.0.0.1 @P@ false 5 false -
		rediss://:p%40ss%2Fw0rd@127.0.0.1:@P@/|127.0.0.1 @P@ true 0 true -
		redis://app:p@ss/w0rd@127.0.0.1:@P@/2|127.0.0.1 @P@ false 2 true app
		redis://%61pp:p@ss/w0rd@[::1]:@P@/0|::1 @P@ false 0 true app
		redis://127.0.0.1:0|!invalid port (expected 1 to 65535)
		redis://127.0.0.1:65536/0|!invalid port
		redis://:p@ss/w0rd@/0|!no host
		redis://127.0.0.1:@P@/1?ssl=true|!a query or fragment is not taken
		redis://127.0.0.1:@P@/-1|!invalid database
		redis://127.0.0.1:@P@/1000001|!invalid database
		redis://[::1:@P@|!invalid IPv6 address
		redis://127.0.0.1:@P@:@P@|!invalid port
		redis://app@127.0.0.1:@P@|!a user name needs a password
		redis://:%00x@127.0.0.1:@P@|!the password holds an encoded NUL
	EOF
	assert_equal "$n" 15
}
