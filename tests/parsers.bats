#!/usr/bin/env bats
# parsers: the shared parsers of libcommon as every tool meets them on its
# command line and its standard input: durations, JSON documents.
load helpers/common

TOOLS=(cfg-resolve db-check svc-probe deploy-stage health-watch alert-send rollback)

setup() {
	cd "$BATS_TEST_TMPDIR"
}

@test "every tool: -t is decimal digits and a unit; hex, exponents, inf, nan are usage errors" {
	local tool value
	# cfg-resolve never waits and takes no -t
	for tool in "${TOOLS[@]/cfg-resolve}"; do
		[ -n "$tool" ] || continue
		# -V after -t: a timeout taken would print the version and exit 0
		for value in 0x10 1e3 1e3s 1E3 inf nan 0x1p4 +5s .s 1.s 9223372036854776s; do
			run --separate-stderr "$tool" -t "$value" -V </dev/null
			[ "$status" -eq 64 ] || { echo "$tool -t $value: exit $status" >&2; return 1; }
			assert_equal "$stderr" "$tool: invalid timeout \"$value\" (expected a duration such as 10s or 500ms)"
			assert_equal "$output" ""
		done
		for value in 10s 1.5s 500ms 1h30m 30; do
			run --separate-stderr "$tool" -t "$value" -V </dev/null
			[ "$status" -eq 0 ] || { echo "$tool -t $value: exit $status: $stderr" >&2; return 1; }
		done
	done
}

@test "text after a JSON config document on stdin: stdin:LINE:COL, exit 65" {
	run --separate-stderr db-check <<<'{"database":{"url":"postgresql://127.0.0.1:1/x"}} x'
	assert_equal "$status" 65
	assert_equal "$stderr" "db-check: stdin:1:51: text after the JSON document"
	assert_equal "$output" ""
	run --separate-stderr db-check < <(printf '{\n"database":{}\n}\n\n  ]\n')
	assert_equal "$status" 65
	assert_equal "$stderr" "db-check: stdin:5:3: text after the JSON document"
}
