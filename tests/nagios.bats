#!/usr/bin/env bats
# The Nagios plugin contract of every tool that takes --format nagios: an
# exit status of 0-3 and one status line "TOOL STATE - text[ | perfdata]"
# on stdout, for a report and for every error (usage, invalid input), with
# --format nagios anywhere on the command line.
load helpers/common
load helpers/services

setup_file() {
	start_faultsrv
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	printf 'a: [1, 2\n' > bad.yaml
	printf '{"service": {"name": "api"}}\n' > config.json
}

# The plugin tools, each with arguments that make a run of its nagios mode
# (before any bad option is met), and arguments with an invalid config.
plugin_tools() {
	cat <<-EOF
		db-check	--no-config	-c bad.yaml
		svc-probe	$FAULT_URL/status/200	-c bad.yaml
		cfg-resolve	--check config.json	--check bad.yaml
		rollback	--check -c config.json	--check -c bad.yaml
	EOF
}

# assert_plugin_output TOOL STATE: $status and $output keep the plugin
# contract as nagios4 reads it: the exit status is STATE's (0-3), stdout is
# one line "TOOL STATE - text", and the first '|' is the only one, between
# the text and well-formed perfdata.
assert_plugin_output() {
	local tool=$1 state=$2 code text perf
	case $state in
	OK) code=0 ;; WARNING) code=1 ;; CRITICAL) code=2 ;; UNKNOWN) code=3 ;;
	esac
	[ "$status" -eq "$code" ] || fail "exit $status, expected $code ($state): $output / $stderr"
	[ "${#lines[@]}" -eq 1 ] || fail "${#lines[@]} lines on stdout: $output"
	[[ $output == "$tool $state - "?* ]] || fail "not a \"$tool $state - \" line: $output"
	text=${output%%|*}
	if [[ $output == *"|"* ]]; then
		perf=${output#*|}
		[[ $perf != *"|"* ]] || fail "a second '|' in: $output"
		local p re="^('([^']|'')+'|[^=' ]+)=-?[0-9.]+[a-zA-Z%]*(;-?[0-9.]*){0,4}$"
		for p in $perf; do
			[[ $p =~ $re ]] || fail "malformed perfdata \"$p\" in: $output"
		done
	fi
	[ -n "$text" ]
}

@test "a bad option before or after --format nagios: exit 3, one UNKNOWN line, the usual line on stderr" {
	local tool ok bad
	while IFS=$'\t' read -r tool ok bad; do
		for args in "--bogus --format nagios $ok" "--format nagios $ok --bogus" \
			"--format=nagios $ok --bogus" "$ok --bogus --format nagios" "-Z --format nagios $ok"; do
			# shellcheck disable=SC2086
			run --separate-stderr "$tool" $args
			assert_plugin_output "$tool" UNKNOWN || { echo "[$tool $args]"; return 1; }
			[[ $output == *"unknown"*"option"* ]] || fail "[$tool $args]: $output"
			[[ $stderr == "$tool: "*"option"* ]] || fail "[$tool $args] stderr: $stderr"
			[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "[$tool $args] stderr: $stderr"
		done
		# a missing value and a bad value, in nagios mode too
		# shellcheck disable=SC2086
		run --separate-stderr "$tool" --format nagios $ok -t
		assert_plugin_output "$tool" UNKNOWN || { echo "[$tool -t]"; return 1; }
		# shellcheck disable=SC2086
		run --separate-stderr "$tool" --format nagios $ok -t soon
		assert_plugin_output "$tool" UNKNOWN || { echo "[$tool -t soon]"; return 1; }
		[[ $output == *'invalid timeout "soon"'* ]] || fail "[$tool -t soon]: $output"
	done < <(plugin_tools)
}

@test "an invalid config in nagios mode: exit 3 and one UNKNOWN line naming the file" {
	local tool ok bad
	while IFS=$'\t' read -r tool ok bad; do
		# shellcheck disable=SC2086
		run --separate-stderr "$tool" --format nagios $bad
		assert_plugin_output "$tool" UNKNOWN || { echo "[$tool $bad]"; return 1; }
		[[ $output == *bad.yaml* ]] || fail "[$tool $bad]: $output"
		[[ $stderr == "$tool: "*bad.yaml* ]] || fail "[$tool $bad] stderr: $stderr"
		# the same without nagios mode keeps the documented 65
		# shellcheck disable=SC2086
		run --separate-stderr "$tool" --format json $bad
		assert_equal "$status" 65
		[ -z "$output" ]
	done < <(plugin_tools)
	# a config value of the wrong type
	run --separate-stderr svc-probe --format nagios -c <(echo '{"api": {"base_url": 5}}')
	assert_plugin_output svc-probe UNKNOWN
	[[ $output == *"api.base_url: expected a string"* ]]
}

@test "--format nagios where the tool takes it only with --check is itself an UNKNOWN" {
	run --separate-stderr cfg-resolve --format nagios config.json
	assert_plugin_output cfg-resolve UNKNOWN
	[[ $output == *"--format nagios goes with --check"* ]]
	run --separate-stderr rollback -c config.json --format nagios
	assert_plugin_output rollback UNKNOWN
	[[ $output == *"--format nagios goes with --check"* ]]
	# the last --format given is the one that counts, as for the parser
	run --separate-stderr svc-probe --format nagios --format json --bogus "$FAULT_URL/status/200"
	assert_equal "$status" 64
	[ -z "$output" ]
}

@test "a '|' in a message never splits the status line" {
	# a usage error whose message carries a '|'
	run --separate-stderr svc-probe --format nagios --regex '(foo|' "$FAULT_URL/status/200"
	assert_plugin_output svc-probe UNKNOWN
	[[ $output != *"|"* ]] || fail "$output"
	[[ $output == *'(foo¦'* ]] || fail "$output"
	[[ $stderr == *'(foo|'* ]] || fail "stderr keeps the text as given: $stderr"
	# a failing assertion whose message carries one: the only '|' is the
	# perfdata separator
	run --separate-stderr svc-probe --format nagios --name api --regex 'foo|bar' "$FAULT_URL/status/200"
	assert_plugin_output svc-probe CRITICAL
	[[ $output == *"/foo¦bar/ does not match |"* ]] || fail "$output"
	[[ $output == *"| api_time="*"s;;"*" api_size="*"B;;" ]] || fail "$output"
	# a target name with a '|' and a quote is a well-formed perfdata label
	run --separate-stderr svc-probe --format nagios --name "it's|x" "$FAULT_URL/status/200"
	assert_plugin_output svc-probe OK
	[[ $output == *"'it''s_x_time'="* ]] || fail "$output"
}

@test "a report in nagios mode still keeps the contract: OK and CRITICAL with perfdata" {
	run --separate-stderr svc-probe --format nagios --name api "$FAULT_URL/status/200"
	assert_plugin_output svc-probe OK
	run --separate-stderr svc-probe --format nagios --name api "$FAULT_URL/status/500"
	assert_plugin_output svc-probe CRITICAL
	run --separate-stderr cfg-resolve --check --format nagios config.json
	[ "$status" -le 3 ]
	[[ $output == "cfg-resolve "* ]]
	[ "${#lines[@]}" -eq 1 ]
}
