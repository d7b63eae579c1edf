#!/usr/bin/env bats
# config errors: one table of bad configs, run through every tool that reads
# a config. Each must exit 65 and print the same message line (after its
# own "PROG: "), every problem of the file, from the one loader
# (config_open, shipshape.yaml(5) "LOADING").
# svc-probe is given a URL on a closed loopback port besides the config:
# the configs here name nothing for it to probe. metric-check is given an
# ad hoc --query on a closed port the same way (no analysis section needed).
load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_STATE_DIR=$BATS_TEST_TMPDIR/state
	# a closed loopback port: nothing may be reached when a config fails
	DB='database:\n  url: postgresql://app@127.0.0.1:1/appdb\n'
}

# run_tool TOOL FILE [ARGS...]: the tool on that config, the way it takes one.
run_tool() {
	local tool=$1 file=$2
	shift 2
	case $tool in
	db-check) run --separate-stderr db-check -c "$file" -t 2s "$@" </dev/null ;;
	health-watch) run --separate-stderr health-watch -c "$file" --count 1 "$@" ;;
	alert-send) run --separate-stderr alert-send -c "$file" --dry-run "$@" </dev/null ;;
	deploy-stage) run --separate-stderr deploy-stage -c "$file" "$@" status ;;
	rollback) run --separate-stderr rollback -c "$file" --check "$@" ;;
	svc-probe) run --separate-stderr svc-probe -c "$file" -t 2s "$@" http://127.0.0.1:1/ ;;
	metric-check) run --separate-stderr metric-check -c "$file" -t 2s "$@" --prometheus http://127.0.0.1:1/ --query up ;;
	cfg-resolve) run --separate-stderr cfg-resolve -s "$REPO_ROOT/config/schema.yaml" "$@" \
		"$REPO_ROOT/config/local.yaml" "$file" ;;
	esac
}

TOOLS=(db-check health-watch alert-send deploy-stage rollback svc-probe metric-check cfg-resolve)
STRICT_TOOLS=(db-check health-watch alert-send svc-probe metric-check cfg-resolve) # the tools with --strict
JSON_TOOLS=(db-check health-watch alert-send deploy-stage rollback svc-probe metric-check) # cfg-resolve reads YAML

# The table: NAME, the config (printf format, after $DB), the lines stderr
# must hold (| between lines; FILE is the config's name).
CASES=(
	'duration|monitoring:\n  health_check:\n    interval: 3O s\n|FILE:5:15: monitoring.health_check.interval: expected a duration, got "3O s"'
	'range|  pool_size: 5000\n|FILE:3:14: database.pool_size: 5000 is above the maximum 1000'
	'enum|  expected_role: leader\n|FILE:3:18: database.expected_role: "leader" is not one of primary, replica, any'
	'list|  tables: [documents, [b]]\n|FILE:3:23: database.tables[1]: expected a string, got a list'
	'two|  pool_size: many\nmonitoring:\n  health_check: {interval: soon}\n|FILE:3:14: database.pool_size: expected an int, got "many"|FILE:5:28: monitoring.health_check.interval: expected a duration, got "soon"'
)

@test "every tool: a bad value is exit 65 and the same message line, every problem of the file" {
	local c name body want tool line
	for c in "${CASES[@]}"; do
		IFS='|' read -r name body want <<<"$c"
		# shellcheck disable=SC2059
		printf "$DB$body" >"$name.yaml"
		for tool in "${TOOLS[@]}"; do
			run_tool "$tool" "$name.yaml"
			[ "$status" -eq 65 ] || fail "[$tool $name] exit $status: $stderr"
			IFS='|' read -r -a lines <<<"${want//FILE/$name.yaml}"
			for line in "${lines[@]}"; do
				grep -qxF -- "$tool: $line" <<<"$stderr" || fail "[$tool $name] no line \"$tool: $line\" in: $stderr"
			done
			[ -z "$output" ] || fail "[$tool $name] stdout: $output"
		done
	done
}

@test "every tool: a JSON document with a wrong type names the file and the key path, no line" {
	local tool
	printf '{"database": {"url": "postgresql://app@127.0.0.1:1/appdb"}, "monitoring": {"health_check": {"interval": "3O s", "failure_threshold": [3]}}}' >bad.json
	for tool in "${JSON_TOOLS[@]}"; do
		run_tool "$tool" bad.json
		[ "$status" -eq 65 ] || fail "[$tool] exit $status: $stderr"
		grep -qxF "$tool: bad.json: monitoring.health_check.interval: expected a duration, got \"3O s\"" <<<"$stderr" ||
			fail "[$tool] $stderr"
		grep -qxF "$tool: bad.json: monitoring.health_check.failure_threshold: expected an int, got a list" <<<"$stderr" ||
			fail "[$tool] $stderr"
	done
	# the same document on stdin, where the tool reads one there
	run --separate-stderr db-check <bad.json
	assert_equal "$status" 65
	[[ $stderr == *"db-check: stdin: monitoring.health_check.interval: expected a duration, got \"3O s\""* ]]
}

@test "every tool: an unknown key warns, and is an error with --strict" {
	local tool
	# shellcheck disable=SC2059
	printf "${DB}monitoring:\n  health_chek: {}\n  health_check:\n    endpoints: [{name: a, url: \"http://127.0.0.1:1/\"}]\n" >unknown.yaml
	local want='unknown.yaml:4:16: monitoring.health_chek: unknown key (did you mean health_check?)'
	for tool in "${TOOLS[@]}"; do
		run_tool "$tool" unknown.yaml
		[ "$status" -ne 65 ] || fail "[$tool] a warning made it invalid: $stderr"
		grep -qxF "$tool: ${want/: monitoring/: warning: monitoring}" <<<"$stderr" || fail "[$tool] no warning: $stderr"
	done
	for tool in "${STRICT_TOOLS[@]}"; do
		run_tool "$tool" unknown.yaml --strict
		[ "$status" -eq 65 ] || fail "[$tool --strict] exit $status: $stderr"
		grep -qxF "$tool: $want" <<<"$stderr" || fail "[$tool --strict] $stderr"
	done
}

@test "every tool: --schema names the schema; a missing one is exit 65" {
	local tool
	# shellcheck disable=SC2059
	printf "${DB}" >ok.yaml
	printf 'version: 1\nroot:\n  type: map\n  keys:\n    database: {type: map, keys: {url: {type: int}}}\n' >int-url.yaml
	for tool in db-check health-watch alert-send deploy-stage rollback svc-probe metric-check; do
		run_tool "$tool" ok.yaml --schema int-url.yaml
		[ "$status" -eq 65 ] || fail "[$tool] exit $status: $stderr"
		grep -qxF "$tool: ok.yaml:2:8: database.url: expected an int, got \"postgresql://app@127.0.0.1:1/appdb\"" <<<"$stderr" ||
			fail "[$tool] $stderr"
		run_tool "$tool" ok.yaml --schema nonexistent.yaml
		[ "$status" -eq 65 ] || fail "[$tool] missing schema: exit $status: $stderr"
		[[ $stderr == *nonexistent.yaml* ]] || fail "[$tool] $stderr"
	done
}
