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
		# a missing value and a bad value, in nagios mode too (cfg-resolve
		# never waits: it takes no -t)
		[ "$tool" = cfg-resolve ] && continue
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
	[[ $output == *"api.base_url: expected a URL, got 5"* ]]
}

@test "--format nagios where the tool takes it only with --check is itself an UNKNOWN" {
	run --separate-stderr cfg-resolve --format nagios config.json
	assert_plugin_output cfg-resolve UNKNOWN
	[[ $output == *"--format nagios goes with --check"* ]]
	run --separate-stderr rollback -c config.json --format nagios
	assert_plugin_output rollback UNKNOWN
	[[ $output == *"--format nagios goes with --check"* ]]
	run --separate-stderr alert-send -c config.json --format nagios </dev/null
	assert_plugin_output alert-send UNKNOWN
	[[ $output == *"--format nagios goes with --check"* ]]
	# the last --format given is the one that counts, as for the parser
	run --separate-stderr svc-probe --format nagios --format json --bogus "$FAULT_URL/status/200"
	assert_equal "$status" 64
	[ -z "$output" ]
}

@test "a tool that takes no --format nagios: its refusal, and any other error, is one UNKNOWN line" {
	local tool
	for tool in health-watch alert-send deploy-stage; do
		if [ "$tool" != alert-send ]; then # alert-send takes it with --check (above)
			run --separate-stderr "$tool" --format nagios -c config.json
			assert_plugin_output "$tool" UNKNOWN || { echo "[$tool --format nagios]"; return 1; }
			[[ $output == *'invalid --format "nagios"'* ]] || fail "[$tool]: $output"
			[[ $stderr == "$tool: invalid --format \"nagios\""* ]] || fail "[$tool] stderr: $stderr"
		fi
		# a bad option and a bad -t value, before the refused --format
		run --separate-stderr "$tool" --bogus --format nagios
		assert_plugin_output "$tool" UNKNOWN || { echo "[$tool --bogus]"; return 1; }
		run --separate-stderr "$tool" -t soon --format nagios
		assert_plugin_output "$tool" UNKNOWN || { echo "[$tool -t soon]"; return 1; }
		[[ $output == *'invalid timeout "soon"'* ]] || fail "[$tool -t soon]: $output"
	done
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

# run_under_nagios4 NAME=COMMAND...: nagios4 (Debian's nagios4-core) runs
# each COMMAND as the check of service NAME, once; prints each service's
# "NAME<TAB>current_state<TAB>plugin_output<TAB>performance_data" from
# status.dat. Bounded to 30 s; the daemon is stopped either way.
run_under_nagios4() {
	local d user spec pid i checked n=$#
	d=$(mktemp -d /tmp/shipshape-nagios4.XXXXXX)
	chmod 0777 "$d"
	mkdir -m 0777 "$d/checkresults"
	user=$(id -un)
	[ "$(id -u)" -ne 0 ] || user=nagios
	cat >"$d/objects.cfg" <<-CFG
		define timeperiod {
			timeperiod_name always
			alias always
			sunday 00:00-24:00
			monday 00:00-24:00
			tuesday 00:00-24:00
			wednesday 00:00-24:00
			thursday 00:00-24:00
			friday 00:00-24:00
			saturday 00:00-24:00
		}
		define command {
			command_name none
			command_line /bin/true
		}
		define command {
			command_name run
			command_line \$ARG1\$
		}
		define contact {
			contact_name nobody
			host_notifications_enabled 0
			service_notifications_enabled 0
			host_notification_period always
			service_notification_period always
			host_notification_options n
			service_notification_options n
			host_notification_commands none
			service_notification_commands none
		}
		define host {
			host_name loopback
			address 127.0.0.1
			max_check_attempts 1
			check_period always
			contacts nobody
			notification_period always
			active_checks_enabled 0
		}
	CFG
	for spec in "$@"; do
		cat >>"$d/objects.cfg" <<-CFG
			define service {
				host_name loopback
				service_description ${spec%%=*}
				check_command run!${spec#*=}
				max_check_attempts 1
				check_interval 60
				retry_interval 60
				check_period always
				contacts nobody
				notification_period always
				notifications_enabled 0
			}
		CFG
	done
	cat >"$d/nagios.cfg" <<-CFG
		log_file=$d/nagios.log
		cfg_file=$d/objects.cfg
		status_file=$d/status.dat
		status_update_interval=1
		lock_file=$d/nagios.lock
		temp_file=$d/nagios.tmp
		temp_path=$d
		check_result_path=$d/checkresults
		check_result_reaper_frequency=1
		nagios_user=$user
		nagios_group=$(id -gn "$user")
		check_external_commands=0
		use_retained_scheduling_info=0
		retain_state_information=0
		service_inter_check_delay_method=n
		max_service_check_spread=1
		enable_notifications=0
		illegal_macro_output_chars=\`~\$&"<>
	CFG
	chmod -R a+rwX "$d"
	/usr/sbin/nagios4 "$d/nagios.cfg" >"$d/run.out" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		checked=$(grep -c 'has_been_checked=1' "$d/status.dat" 2>/dev/null)
		[ "${checked:-0}" -ge "$n" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# nagios removes status.dat as it stops; it is replaced whole, by rename
	cp "$d/status.dat" "$d/status.seen" 2>/dev/null
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	awk -F= '/^servicestatus/ {s = 1} s && /^\tservice_description=/ {name = $2}
		s && /^\tcurrent_state=/ {st = $2} s && /^\tplugin_output=/ {sub(/^\tplugin_output=/, ""); out = $0}
		s && /^\tperformance_data=/ {sub(/^\tperformance_data=/, ""); perf = $0}
		s && /^\t}/ {print name "\t" st "\t" out "\t" perf; s = 0}' "$d/status.seen" 2>/dev/null
	[ -n "${KEEP_NAGIOS4:-}" ] && echo "$d" >&2 || rm -rf "$d"
}

@test "nagios4 itself runs the plugins: states 3, 2 and 0, the text and the perfdata where they belong" {
	local b=$SHIPSHAPE_BUILD
	run --separate-stderr run_under_nagios4 \
		"bogus=$b/svc-probe --bogus --format nagios $FAULT_URL/status/200" \
		"badconfig=$b/cfg-resolve --check --format nagios /nonexistent/config.yaml" \
		"regex=$b/svc-probe --format nagios --name api --regex 'foo|bar' $FAULT_URL/status/200" \
		"ok=$b/svc-probe --format nagios --name api $FAULT_URL/status/200"
	assert_success
	echo "$output"
	assert_equal "${#lines[@]}" 4
	local name st out perf
	while IFS=$'\t' read -r name st out perf; do
		case $name in
		bogus)
			assert_equal "$st" 3
			assert_equal "$out" "svc-probe UNKNOWN - unknown or ambiguous option --bogus (see svc-probe --help)"
			assert_equal "$perf" "" ;;
		badconfig)
			assert_equal "$st" 3
			[[ $out == "cfg-resolve UNKNOWN - "*"/nonexistent/config.yaml"* ]] ;;
		regex)
			assert_equal "$st" 2
			[[ $out == "svc-probe CRITICAL - "*"/foo¦bar/ does not match" ]]
			[[ $perf == "api_time="*"s;; api_size="*"B;;" ]] ;;
		ok)
			assert_equal "$st" 0
			[[ $out == "svc-probe OK - "* ]]
			[[ $perf == "api_time="* ]] ;;
		*) fail "unexpected service $name" ;;
		esac
	done <<<"$output"
}
