#!/usr/bin/env bats
# alert-send: channels against real servers (faultsrv as Slack and webhook,
# aiosmtpd, Alertmanager), dedup, grouping, rate limit, escalation and ack,
# retries, the spool and kill -9, runbooks, --test, bad input, secrets.
load helpers/common
load helpers/services
load helpers/watch

SECRET_TOKEN=xoxb-s3cr3t-T0KEN-4242
SMTP_SECRET=smtp-pa55word-9911

setup_file() {
	start_faultsrv
	start_smtp
	start_alertmanager
	make_test_certs "$BATS_FILE_TMPDIR/certs"
	export SMTPA_DIR=$BATS_FILE_TMPDIR/smtp-auth
	start_smtp_auth "$SMTPA_DIR" alerts "$SMTP_SECRET"
}

teardown_file() {
	stop_smtp_auth
	stop_all_services
}

teardown() {
	[ -z "${SMTPS_PID:-}" ] || svc_stop_pid "$SMTPS_PID"
	[ -z "${LATE_PID:-}" ] || svc_stop_pid "$LATE_PID"
	# a long-running alert-send a test started
	if [ -n "${SENDER_PID:-}" ]; then
		kill -KILL "$SENDER_PID" 2>/dev/null || true
		wait "$SENDER_PID" 2>/dev/null || true
	fi
	if [ -n "${STATE_MOUNTED:-}" ]; then
		umount "$SHIPSHAPE_STATE_DIR"
	fi
}

# full_state: a 64 KiB tmpfs mounted on the state directory (as root), then
# filled up: every write in it fails with ENOSPC.
full_state() {
	mkdir -p "$SHIPSHAPE_STATE_DIR"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$SHIPSHAPE_STATE_DIR"
	STATE_MOUNTED=1
	mkdir -p "$SHIPSHAPE_STATE_DIR/alert-send"
	dd if=/dev/zero of="$SHIPSHAPE_STATE_DIR/filler" bs=4k 2>/dev/null || true
	! printf x >"$SHIPSHAPE_STATE_DIR/probe" 2>/dev/null || [ ! -s "$SHIPSHAPE_STATE_DIR/probe" ]
	rm -f "$SHIPSHAPE_STATE_DIR/probe"
}

# start_late_webhook PORT: a second faultsrv recording on PORT (a channel
# that was down coming back); its records in late/. It must not hold the
# sender's input open.
start_late_webhook() {
	"$(svc_faultsrv_bin)" --port "$1" --record-dir "$BATS_TEST_TMPDIR/late" \
		</dev/null >>"$BATS_TEST_TMPDIR/late.log" 2>&1 3>&- {SENDER_IN}>&- &
	LATE_PID=$!
	wait_for_port "$1"
}

# start_sender [ARGS]: a long-running `alert-send -c cfg.yaml ARGS` reading
# the FIFO whose write end is fd SENDER_IN; records in out.jsonl.
start_sender() {
	mkfifo in
	alert-send -c cfg.yaml "$@" <in >out.jsonl 2>err.txt 3>&- &
	SENDER_PID=$!
	exec {SENDER_IN}>in
}

# stop_sender: end of input; waits for alert-send's exit status (SENDER_STATUS).
stop_sender() {
	exec {SENDER_IN}>&-
	SENDER_STATUS=0
	wait "$SENDER_PID" || SENDER_STATUS=$?
	SENDER_PID=
}

# lines_at_least N PATTERN FILE: FILE has N lines matching PATTERN.
lines_at_least() {
	[ "$(grep -c -- "$2" "$3" 2>/dev/null)" -ge "$1" ]
}

# hits_are NAME N: faultsrv has had N requests for NAME (hanging ones too).
hits_are() {
	[ "$(curl -s "$FAULT_URL/_ctl/count/$1")" = "$2" ]
}

count_is() {
	[ "$(count_requests "$1")" -ge "$2" ]
}


setup() {
	cd "$BATS_TEST_TMPDIR"
	curl -s "$FAULT_URL/_ctl/reset" >/dev/null
	# Each test its own record names, so no test sees another's requests.
	N=t$BATS_TEST_NUMBER
	SLACK="$FAULT_URL/record/slack-$N?hook=$SECRET_TOKEN"
	HOOK=$FAULT_URL/record/hook-$N
}

# config [EXTRA_YAML]: a config with the slack and webhook channels on
# faultsrv, fast retries, no group wait; EXTRA (lines under alerts:) replaces
# any default key it names.
config() {
	local extra="${1:-}" key
	{
		printf 'environment: production\nservice: {name: accessa-api}\nalerts:\n'
		for key in "slack: {webhook_url: \"$SLACK\"}" "webhook: {url: \"$HOOK\"}" "group_wait: 0s" \
			"retry: {attempts: 3, initial_backoff: 50ms, max_backoff: 200ms}" "timeout: 5s"; do
			grep -q "^${key%%:*}:" <<<"$extra" || printf '  %s\n' "$key"
		done
		[ -z "$extra" ] || printf '%s\n' "$extra" | sed 's/^/  /'
	} >cfg.yaml
}

# alert STATUS [TARGET] [ALERTNAME]: one alert document.
alert() {
	jq -cn --arg s "$1" --arg t "${2:-api}" --arg n "${3:-HealthCheckFailed}" \
		'{kind:"alert",status:$s,labels:{alertname:$n,target:$t,severity:"critical",environment:"production"},
		  annotations:{summary:($t+" is down"),error:"HTTP 503"},startsAt:"2026-01-01T00:00:00Z"}'
}

# requests NAME: the bodies faultsrv recorded for NAME, one JSON per line.
requests() {
	local f="$FAULT_RECORD_DIR/$1.jsonl"
	[ -f "$f" ] || return 0
	jq -c '.json' "$f"
}

count_requests() {
	requests "$1" | wc -l
}

@test "--help prints the synopsis on stdout and exits 0" {
	run --separate-stderr alert-send --help
	assert_success
	assert_output --partial "usage: alert-send -c FILE"
	assert_output --partial "alert-send ack FINGERPRINT"
	[ -z "$stderr" ]
}

@test "usage errors exit 64 with a one-line reason" {
	run --separate-stderr alert-send
	assert_equal "$status" 64
	assert_equal "$stderr" "alert-send: no config: give -c FILE (stdin carries the alerts)"
	run --separate-stderr alert-send --bogus
	assert_equal "$status" 64
	assert_equal "$stderr" "alert-send: unknown or ambiguous option --bogus (see alert-send --help)"
	run --separate-stderr alert-send -c
	assert_equal "$status" 64
	assert_equal "$stderr" "alert-send: option -c needs a value (see alert-send --help)"
	run --separate-stderr alert-send -c x.yaml frobnicate
	assert_equal "$status" 64
	assert_equal "$stderr" 'alert-send: unknown command "frobnicate" (expected flush, ack, silence, list, route or notice)'
	# at a terminal, nothing to read alerts from: say how, do not wait for typing
	run script -qec "alert-send -c x.yaml" /dev/null
	assert_equal "$status" 64
	assert_output --partial "alert-send: alerts come as JSON Lines on stdin: pipe them in"
	run --separate-stderr alert-send -c x.yaml flush now
	assert_equal "$status" 64
	assert_equal "$stderr" 'alert-send: unexpected operand "now" (see alert-send --help)'
	[ -z "$output" ]
	run --separate-stderr alert-send ack NOTAFINGERPRINT
	assert_equal "$status" 64
	run --separate-stderr alert-send -c x.yaml -m hi
	assert_equal "$status" 64
}

@test "an invalid channel config exits 65 naming the key" {
	config 'escalation: {levels: [{level: 1, after: 0s, channels: [pager]}]}'
	run --separate-stderr alert-send -c cfg.yaml </dev/null
	assert_equal "$status" 65
	[[ $stderr == *"alerts.escalation.levels[0].channels: unknown channel \"pager\""* ]]
	config 'retry: {attempts: 0}'
	run --separate-stderr alert-send -c cfg.yaml </dev/null
	assert_equal "$status" 65
	[[ $stderr == *"alerts.retry.attempts: 0 is below the minimum 1"* ]]
	config 'repeat_interval: soon'
	run --separate-stderr alert-send -c cfg.yaml </dev/null
	assert_equal "$status" 65
	[[ $stderr == *"alerts.repeat_interval: expected a duration"* ]]
	# a webhook URL libcurl cannot use is named by its key, never shown
	config "slack: {webhook_url: \"https://hooks.example:99999/services/$SECRET_TOKEN\"}"
	run --separate-stderr alert-send -c cfg.yaml </dev/null
	assert_equal "$status" 65
	[[ $stderr == *"alerts.slack.webhook_url: not a URL: port out of range 1-65535"* ]]
	assert_secret_absent "$SECRET_TOKEN" "$output" "$stderr"
}

# Values of the wrong type: EXTRA (under alerts:, after config's five
# default lines) | the one line stderr must hold after "alert-send: ". The
# schema's keys and the keys only alert-send reads (a channel's own policy,
# runbooks) alike: the loader's shape, never a default.
WRONG_TYPES=(
	'retry: {attempts: "five", initial_backoff: 50ms}|cfg.yaml:8:21: alerts.retry.attempts: expected an int, got "five"'
	'timeout: ten|cfg.yaml:8:12: alerts.timeout: expected a duration, got "ten"'
	'slack: {rate_limit: {count: many}, webhook_url: "SLACK"}|cfg.yaml:8:31: alerts.slack.rate_limit.count: expected an int, got "many"'
	'webhook: {repeat_interval: "4 hours", url: "HOOK"}|cfg.yaml:8:30: alerts.webhook.repeat_interval: expected a duration, got "4 hours"'
	'webhook: {tls_verify: maybe, url: "HOOK"}|cfg.yaml:8:25: alerts.webhook.tls_verify: expected a bool, got "maybe"'
	'runbooks: {HealthCheckFailed: {timeout: "30 secs", command: [echo]}}|cfg.yaml:9:43: alerts.runbooks.HealthCheckFailed.timeout: expected a duration, got "30 secs"'
)

@test "a value of the wrong type is exit 65 at its place (FILE:LINE:COL: key.path), and nothing is sent" {
	local c extra want
	for c in "${WRONG_TYPES[@]}"; do
		IFS='|' read -r extra want <<<"$c"
		extra=${extra//SLACK/$SLACK}
		config "${extra//HOOK/$HOOK}"
		run --separate-stderr alert-send -c cfg.yaml < <(alert firing)
		[ "$status" -eq 65 ] || fail "[$extra] exit $status: $stderr"
		grep -qxF -- "alert-send: $want" <<<"$stderr" || fail "[$extra] no line \"alert-send: $want\" in: $stderr"
		[ -z "$output" ] || fail "[$extra] stdout: $output"
		assert_secret_absent "$SECRET_TOKEN" "$stderr"
	done
	assert_equal "$(count_requests slack-$N)" 0
	assert_equal "$(count_requests hook-$N)" 0
	# a JSON config document has no lines: FILE: key.path
	jq -n --arg s "$SLACK" '{environment: "production", alerts: {slack: {webhook_url: $s,
		rate_limit: {count: "many"}}, webhook: {url: $s, group_wait: "a while"}}}' >cfg.json
	run --separate-stderr alert-send -c cfg.json < <(alert firing)
	assert_equal "$status" 65
	grep -qxF 'alert-send: cfg.json: alerts.slack.rate_limit.count: expected an int, got "many"' <<<"$stderr" || fail "$stderr"
	grep -qxF 'alert-send: cfg.json: alerts.webhook.group_wait: expected a duration, got "a while"' <<<"$stderr" || fail "$stderr"
	[ -z "$output" ]
	assert_equal "$(count_requests slack-$N)" 0
}

@test "a firing alert reaches Slack as a readable message and the webhook as Alertmanager's payload" {
	config 'runbooks: {HealthCheckFailed: {url: "https://runbooks.example/health"}}'
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing)
	assert_success
	assert_equal "$(json_get 'select(.status=="delivered") | .channel' | sort | tr '\n' ' ')" "slack webhook "
	assert_equal "$(json_get '.fingerprints[0]' | sort -u)" "5a169b7bc685fd0c"
	assert_equal "$(json_get '.title' | sort -u)" "[FIRING:1] HealthCheckFailed api (production)"
	assert_equal "$(count_requests slack-$N)" 1
	local msg
	msg=$(requests slack-$N)
	assert_equal "$(jq -r .text <<<"$msg")" "[FIRING:1] HealthCheckFailed api (production)"
	assert_equal "$(jq -r '.attachments[0].color' <<<"$msg")" "#d50200"
	[[ $(jq -r '.attachments[0].text' <<<"$msg") == *"api is down"*"*Last error:* HTTP 503"*"<https://runbooks.example/health|Runbook>"* ]]
	local hook
	hook=$(requests hook-$N)
	assert_equal "$(jq -r '.version, .status, .alerts[0].fingerprint, .alerts[0].labels.target' <<<"$hook" | tr '\n' ' ')" \
		"4 firing 5a169b7bc685fd0c api "
	# the webhook URL's secret path never shows; the host does
	assert_secret_absent "$SECRET_TOKEN" "$output" "$stderr"
	assert_equal "$(json_get '.destination' | sort -u)" "127.0.0.1:$FAULT_PORT"
}

@test "dedup: the same firing alert again notifies nobody; its resolve notifies every channel told" {
	config
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing)
	assert_success
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing; alert firing)
	assert_success
	assert_output ""
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved)
	assert_success
	assert_equal "$(json_get '.channel + ":" + .reason' | sort | tr '\n' ' ')" "slack:resolved webhook:resolved "
	assert_equal "$(requests slack-$N | jq -r .text | tail -n1)" "[RESOLVED:1] HealthCheckFailed api (production)"
	assert_equal "$(requests slack-$N | tail -n1 | jq -r '.attachments[0].color')" "#2eb886"
	assert_equal "$(requests hook-$N | tail -n1 | jq -r '.status, (.alerts[0].endsAt | startswith("0001") | not)' | tr '\n' ' ')" "resolved true "
	# a resolve of an alert nobody heard of is not news
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved other)
	assert_success
	assert_output ""
	assert_equal "$(count_requests slack-$N)" 2
}

@test "alerts that arrive together go out as one message per channel" {
	config 'group_wait: 2s'
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing a; alert firing b; alert firing c)
	assert_success
	assert_equal "$(count_requests slack-$N)" 1
	assert_equal "$(requests slack-$N | jq -r '.text, (.attachments | length)' | tr '\n' ' ')" \
		"[FIRING:3] HealthCheckFailed (production) 3 "
	assert_equal "$(requests hook-$N | jq '.alerts | length')" 3
}

@test "a firing and resolve inside the group wait page nobody" {
	config 'group_wait: 1h'
	# at the end of input the group goes out at once: the flap left nothing owed
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing; alert resolved)
	assert_success
	assert_output ""
	assert_equal "$(count_requests slack-$N)" 0
}

@test "the rate limit batches the excess, it never drops it" {
	config 'rate_limit: {count: 1, per: 1h}'
	# a stream: a goes out at once, b and c wait for a token and leave as one batch at the end
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing a; sleep 0.3; alert firing b; sleep 0.3; alert firing c)
	assert_success
	assert_equal "$(count_requests slack-$N)" 2
	assert_equal "$(requests slack-$N | jq -c '[.attachments[].title | split(" ")[-1]]' | tr '\n' ' ')" '["a"] ["b","c"] '
}

@test "retries on 5xx, then delivers; 429 honours Retry-After" {
	config
	curl -sf "$FAULT_URL/_ctl/mode/slack-$N?codes=500,503,200" >/dev/null
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N?codes=429,200&retry_after=1" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing)
	assert_success
	assert_equal "$(json_get 'select(.channel=="webhook") | .status' | tr '\n' ' ')" "retrying delivered "
	assert_equal "$(json_get 'select(.channel=="webhook" and .status=="retrying") | .code')" 429
	[ "$(json_get 'select(.channel=="webhook" and .status=="retrying") | .retry_in_ms')" -ge 1000 ]
	assert_equal "$(json_get 'select(.channel=="webhook" and .status=="delivered") | .attempt')" 2
}

@test "channels go out in parallel: a slow Slack holds neither the webhook nor email back" {
	config "email: {from: alerts@accessa.ai, recipients: [oncall@accessa.ai], smtp: {url: \"smtp://127.0.0.1:$SMTP_PORT\", tls: none}}"
	curl -sf "$FAULT_URL/_ctl/mode/slack-$N?delay_ms=2500" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing parallel-$N)
	assert_success
	# Slack is attempted first and answers last
	assert_equal "$(json_get '.status' | tr '\n' ' ')" "delivered delivered delivered "
	assert_equal "$(json_get '.channel' | head -n2 | sort | tr '\n' ' ')" "email webhook "
	assert_equal "$(json_get '.channel' | tail -n1)" slack
	[ "$(json_get 'select(.channel=="slack") | .duration_ms')" -ge 2500 ]
}

@test "spool: a webhook down is spooled (exit 2); once up, flush delivers exactly once" {
	config
	sed -i '/slack:/d' cfg.yaml
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N?codes=500" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing)
	assert_equal "$status" 2
	assert_equal "$(json_get '.status' | tr '\n' ' ')" "retrying retrying spooled "
	assert_equal "$(ls "$SHIPSHAPE_STATE_DIR/alert-send/spool" | wc -l)" 1
	assert_equal "$(stat -c %a "$SHIPSHAPE_STATE_DIR/alert-send/spool/"*)" 600
	local id
	id=$(json_get 'select(.status=="spooled") | .notification')
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml flush
	assert_success
	assert_equal "$(json_get '.status + " " + .notification')" "delivered $id"
	assert_equal "$(ls "$SHIPSHAPE_STATE_DIR/alert-send/spool" | wc -l)" 0
	run --separate-stderr alert-send -c cfg.yaml flush
	assert_success
	assert_output ""
	# 3 failed attempts, then exactly one delivery
	assert_equal "$(jq -r .status "$FAULT_RECORD_DIR/hook-$N.jsonl" | tr '\n' ' ')" "500 500 500 200 "
}

@test "spool: a long-running alert-send retries a down channel's spool by itself once it is back" {
	config
	sed -i '/slack:/d' cfg.yaml
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N?codes=500" >/dev/null
	start_sender
	alert firing a >&"$SENDER_IN"
	wait_until 20 grep -q '"status":"spooled"' out.jsonl
	# a second alert while the channel is down goes straight to the spool
	alert firing b >&"$SENDER_IN"
	wait_until 20 lines_at_least 2 '"status":"spooled"' out.jsonl
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N" >/dev/null
	# no new input: the spool is tried again after max_backoff, oldest first
	wait_until 20 lines_at_least 2 '"status":200' "$FAULT_RECORD_DIR/hook-$N.jsonl"
	stop_sender
	assert_equal "$SENDER_STATUS" 0
	assert_equal "$(jq -r 'select(.status=="delivered") | .fingerprints[0]' out.jsonl | wc -l)" 2
	assert_equal "$(jq -r 'select(.status==200) | .json.alerts[0].labels.target' "$FAULT_RECORD_DIR/hook-$N.jsonl" | tr '\n' ' ')" "a b "
	assert_equal "$(ls "$SHIPSHAPE_STATE_DIR/alert-send/spool" | wc -l)" 0
}

@test "SIGTERM sends what is owed at once; a second one mid-delivery leaves it spooled for the next run" {
	config 'group_wait: 1h'
	sed -i '/slack:/d' cfg.yaml
	start_sender
	alert firing grouped >&"$SENDER_IN"
	wait_until 20 test -s "$SHIPSHAPE_STATE_DIR/alert-send/state.json"
	kill -TERM "$SENDER_PID"
	stop_sender
	assert_equal "$SENDER_STATUS" 0
	assert_equal "$(jq -r '.status + " " + .reason' out.jsonl)" "delivered new"
	# the webhook hangs: the first SIGTERM waits for it, the second stops at once
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N?hang=1" >/dev/null
	config
	sed -i '/slack:/d' cfg.yaml
	rm in
	start_sender -v
	alert firing hung >&"$SENDER_IN"
	wait_until 20 hits_are "hook-$N" 2
	# two signals sent at once may arrive as one: the second after the first was seen
	kill -TERM "$SENDER_PID"
	wait_until 20 grep -q "then stopping" err.txt
	kill -TERM "$SENDER_PID"
	stop_sender
	assert_equal "$SENDER_STATUS" 2
	# on a loaded machine an attempt may time out (a "retrying" record)
	# before the second signal lands: what counts is how it ends
	assert_equal "$(jq -r '.status' out.jsonl | tail -n 1)" "spooled"
	assert_equal "$(jq -r 'select(.status == "delivered") | .status' out.jsonl | wc -l)" 0
	assert_equal "$(ls "$SHIPSHAPE_STATE_DIR/alert-send/spool" | wc -l)" 1
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml flush
	assert_success
	assert_equal "$(requests hook-$N | tail -n1 | jq -r '.alerts[0].labels.target')" "hung"
}

@test "kill -9 in the middle of a delivery loses nothing: the next run delivers it" {
	config
	sed -i '/slack:/d' cfg.yaml
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N?hang=1" >/dev/null
	alert firing >in.jsonl
	alert-send -c cfg.yaml <in.jsonl >out.jsonl 2>err.txt 3>&- &
	local pid=$! i
	for ((i = 0; i < 200; i++)); do
		[ "$(curl -s "$FAULT_URL/_ctl/count/hook-$N")" = 1 ] && break
		sleep 0.05
	done
	assert_equal "$(curl -s "$FAULT_URL/_ctl/count/hook-$N")" 1
	kill -9 "$pid"
	wait "$pid" || true
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml </dev/null
	assert_success
	assert_equal "$(json_get '.status')" "delivered"
	# the same notification, the alert in it
	assert_equal "$(requests hook-$N | jq -r '.groupKey' | sort -u | wc -l)" 1
	assert_equal "$(requests hook-$N | tail -n1 | jq -r '.alerts[0].labels.target')" "api"
	run --separate-stderr alert-send -c cfg.yaml </dev/null
	assert_output ""
}

@test "email: a proper message through a real SMTP server" {
	cat >cfg.yaml <<-EOF
	environment: production
	alerts:
	  group_wait: 0s
	  email:
	    from: alerts@accessa.ai
	    recipients: [oncall@accessa.ai, platform@accessa.ai]
	    smtp: {url: "smtp://127.0.0.1:$SMTP_PORT", tls: none, username: alerts, password: "$SMTP_SECRET"}
	EOF
	local before
	before=$(smtp_message_count)
	# aiosmtpd offers no AUTH on plain text: libcurl then sends without it
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing mail-$N)
	assert_success
	assert_equal "$(json_get '.channel + " " + .status')" "email delivered"
	assert_equal "$(smtp_message_count)" $((before + 1))
	local msg
	msg=$(grep -l "mail-$N" "$SMTP_MAILBOX"/new/*)
	grep -q '^Subject: \[FIRING:1\] HealthCheckFailed mail-'"$N"' (production)' "$msg"
	grep -q '^From: alerts@accessa.ai' "$msg"
	grep -q '^To: oncall@accessa.ai, platform@accessa.ai' "$msg"
	grep -Eq '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000' "$msg"
	grep -Eq '^Message-ID: <[0-9]+-[0-9]+-[0-9]+\.alert-send@accessa\.ai>' "$msg"
	grep -q '^X-RcptTo: oncall@accessa.ai, platform@accessa.ai' "$msg"
	grep -q 'last error:  HTTP 503' "$msg"
	assert_secret_absent "$SMTP_SECRET" "$output" "$stderr"
}

@test "email: STARTTLS is required by default; a server without it is refused, one with it works" {
	cat >cfg.yaml <<-EOF
	alerts:
	  group_wait: 0s
	  email:
	    from: alerts@accessa.ai
	    recipients: [oncall@accessa.ai]
	    smtp: {url: "smtp://127.0.0.1:$SMTP_PORT"}
	EOF
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing tls-$N)
	assert_equal "$status" 2
	assert_equal "$(json_get '.status + " " + (.permanent|tostring)')" "spooled true"
	# a STARTTLS server with the test CA's certificate
	local port dir=$BATS_TEST_TMPDIR/tls-smtp
	mkdir -p "$dir/maildir"/{new,cur,tmp}
	port=$(free_port)
	setsid /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$port" --tlscert "$TEST_CERTS_DIR/localhost.crt" \
		--tlskey "$TEST_CERTS_DIR/localhost.key" -c aiosmtpd.handlers.Mailbox "$dir/maildir" \
		</dev/null >"$dir/log" 2>&1 3>&- &
	local smtpd=$!
	wait_for_port "$port"
	sed -i "s|127.0.0.1:$SMTP_PORT\"}|127.0.0.1:$port\", ca_file: \"$TEST_CERTS_DIR/ca.crt\"}|" cfg.yaml
	run --separate-stderr alert-send -c cfg.yaml flush
	svc_stop_pid "$smtpd"
	assert_success
	assert_equal "$(json_get '.status')" "delivered"
	assert_equal "$(ls "$dir/maildir/new" | wc -l)" 1
}

@test "email: smtps:// is TLS from the first byte, with the login" {
	local keep_pid=$SMTPA_PID keep_port=$SMTPA_PORT
	start_smtp_auth "$BATS_TEST_TMPDIR/smtps" alerts "$SMTP_SECRET" --smtps
	SMTPS_PID=$SMTPA_PID
	SMTPA_PID=$keep_pid
	local port=$SMTPA_PORT
	SMTPA_PORT=$keep_port
	cat >cfg.yaml <<-EOF
	alerts:
	  group_wait: 0s
	  email:
	    from: alerts@accessa.ai
	    recipients: [oncall@accessa.ai]
	    smtp: {url: "smtps://localhost:$port", username: alerts, password: "$SMTP_SECRET", ca_file: "$TEST_CERTS_DIR/ca.crt"}
	EOF
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing smtps-$N)
	assert_success
	assert_equal "$(json_get '.channel + " " + .status')" "email delivered"
	grep -q '^X-Auth-User: alerts' "$(grep -l "smtps-$N" "$BATS_TEST_TMPDIR"/smtps/maildir/new/*)"
	assert_secret_absent "$SMTP_SECRET" "$output" "$stderr"
}

@test "email: STARTTLS, then a login with the password from a secret; a wrong one is refused and shown nowhere" {
	cat >cfg.yaml <<-EOF
	environment: production
	alerts:
	  group_wait: 0s
	  retry: {attempts: 2, initial_backoff: 50ms}
	  email:
	    from: alerts@accessa.ai
	    recipients: [oncall@accessa.ai]
	    smtp: {url: "smtp://localhost:$SMTPA_PORT", username: alerts, password: "\${SMTP_PASSWORD}", ca_file: "$TEST_CERTS_DIR/ca.crt"}
	EOF
	SMTP_PASSWORD=$SMTP_SECRET run --separate-stderr alert-send -c cfg.yaml < <(alert firing login-$N)
	assert_success
	assert_equal "$(json_get '.channel + " " + .status + " " + .destination')" "email delivered localhost:$SMTPA_PORT"
	local msg
	msg=$(grep -l "login-$N" "$SMTPA_DIR"/maildir/new/*)
	grep -q '^X-Auth-User: alerts' "$msg"
	grep -q '^Subject: \[FIRING:1\] HealthCheckFailed login-'"$N"' (production)' "$msg"
	assert_secret_absent "$SMTP_SECRET" "$output" "$stderr"
	# a wrong password: refused at once (no retry can mend it), spooled, never shown
	local wrong=wr0ng-pa55word-7733
	SMTP_PASSWORD=$wrong run --separate-stderr alert-send -c cfg.yaml < <(alert firing login2-$N)
	assert_equal "$status" 2
	assert_equal "$(json_get '.status + " " + (.permanent|tostring) + " " + (.attempt|tostring)')" "spooled true 1"
	assert_equal "$(tail -n1 "$SMTPA_DIR/auth.log" | cut -d' ' -f2-)" "alerts refused"
	local spooled
	spooled=$(ls -R "$SHIPSHAPE_STATE_DIR"; cat "$SHIPSHAPE_STATE_DIR"/alert-send/spool/* "$SHIPSHAPE_STATE_DIR"/alert-send/*.json*)
	[[ $spooled == *login2-$N* ]]
	assert_secret_absent "$wrong" "$output" "$stderr" "$spooled"
	# the right one again: flush delivers it, logged in
	SMTP_PASSWORD=$SMTP_SECRET run --separate-stderr alert-send -c cfg.yaml flush
	assert_success
	assert_equal "$(json_get '.status')" "delivered"
	grep -q '^X-Auth-User: alerts' "$(grep -l "login2-$N" "$SMTPA_DIR"/maildir/new/*)"
	# the server fails mid-message once: the retry, on a new connection, gets through
	SMTP_PASSWORD=$SMTP_SECRET run --separate-stderr alert-send -c cfg.yaml < <(alert firing fail-once-$N)
	assert_success
	assert_equal "$(json_get '.status + " " + (.code|tostring)' | tr '\n' '|')" "retrying 500|delivered 250|"
	assert_equal "$(grep -l "fail-once-$N" "$SMTPA_DIR"/maildir/new/* | wc -l)" 1
}

@test "Alertmanager: the alert shows in its API with our labels and fingerprint, then resolves" {
	cat >cfg.yaml <<-EOF
	alerts:
	  alertmanager: {url: "$AM_URL"}
	EOF
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing am-$N)
	assert_success
	assert_equal "$(json_get '.channel + " " + .status')" "alertmanager delivered"
	local fp
	fp=$(json_get '.fingerprints[0]')
	local got
	got=$(curl -sf "$AM_URL/api/v2/alerts?filter=target=%22am-$N%22")
	assert_equal "$(jq -r '.[0].fingerprint, .[0].labels.alertname, .[0].labels.severity, .[0].status.state, .[0].annotations.summary' <<<"$got" | tr '\n' '|')" \
		"$fp|HealthCheckFailed|critical|active|am-$N is down|"
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved am-$N)
	assert_success
	assert_equal "$(json_get '.reason')" "resolved"
	# resolved alerts leave the list of current alerts
	assert_equal "$(curl -sf "$AM_URL/api/v2/alerts?filter=target=%22am-$N%22" | jq length)" 0
}

@test "suite reports: a failing check fires, the same check ok again resolves it" {
	config
	local report='{"kind":"report","tool":"db-check","status":"critical","checks":[{"name":"db.rls","status":"critical","message":"row-level security off on: documents"},{"name":"db.reachable","status":"ok","message":"ok"}]}'
	run --separate-stderr alert-send -c cfg.yaml <<<"$report"
	assert_success
	assert_equal "$(count_requests hook-$N)" 1
	assert_equal "$(requests hook-$N | jq -r '.alerts[] | .labels.alertname + " " + .labels.tool + " " + .labels.severity + " " + .annotations.summary')" \
		"db.rls db-check critical db-check: db.rls: row-level security off on: documents"
	run --separate-stderr alert-send -c cfg.yaml <<<"${report//\"critical\"/\"ok\"}"
	assert_success
	assert_equal "$(requests hook-$N | tail -n1 | jq -r '.status, .alerts[0].labels.alertname' | tr '\n' ' ')" "resolved db.rls "
}

@test "Alertmanager webhook payloads are taken as input" {
	config
	local payload
	payload=$(jq -cn '{version:"4",status:"firing",receiver:"x",groupLabels:{},commonLabels:{},alerts:[
		{status:"firing",labels:{alertname:"DiskFull",instance:"db1"},annotations:{summary:"disk full"},startsAt:"2026-01-01T00:00:00Z",endsAt:"0001-01-01T00:00:00Z"}]}')
	run --separate-stderr alert-send -c cfg.yaml <<<"$payload"
	assert_success
	assert_equal "$(requests hook-$N | jq -r '.alerts[0].labels.alertname')" "DiskFull"
}

@test "bad input: each bad line is named by number, the lines after it still count, exit 65" {
	config
	run --separate-stderr alert-send -c cfg.yaml < <(echo '{"kind":"alert"'; echo '{"kind":"recipe"}';
		echo '{"kind":"alert","labels":{"target":"x"}}'; echo '[1]'; echo '{"kind":"event","type":"heartbeat"}';
		alert firing good)
	assert_equal "$status" 65
	[[ $stderr == *"alert-send: stdin:1:"*"invalid JSON"* ]]
	[[ $stderr == *'alert-send: stdin:2: a document of kind "recipe" is not taken here'* ]]
	[[ $stderr == *"alert-send: stdin:3: labels.alertname: missing"* ]]
	[[ $stderr == *"alert-send: stdin:4: expected a JSON object"* ]]
	[[ $stderr != *"stdin:5"* ]]
	assert_equal "$(count_requests hook-$N)" 1
	assert_equal "$(requests hook-$N | jq -r '.alerts[0].labels.target')" "good"
}

@test "bad input: a startsAt with an exponent in its fraction is a rejected line naming the field, exit 65" {
	config
	local t
	run --separate-stderr alert-send -c cfg.yaml < <(
		for t in 00.1e90Z 00.5e3Z 00.Z 00.0x1Z; do
			alert firing "bad$t" | jq -c --arg t "2026-01-01T00:00:$t" '.startsAt = $t'
		done
		alert firing good)
	assert_equal "$status" 65
	for t in 1 2 3 4; do
		[[ $stderr == *"alert-send: stdin:$t: startsAt: expected an RFC 3339 time"* ]]
	done
	[[ $stderr != *"stdin:5"* ]]
	assert_equal "$(count_requests hook-$N)" 1
	assert_equal "$(requests hook-$N | jq -r '.alerts[0].labels.target, .alerts[0].startsAt' | tr '\n' ' ')" \
		"good 2026-01-01T00:00:00.000Z "
}

@test "escalation: level 2 after its delay; an ack stops it" {
	config 'escalation: {levels: [{level: 1, after: 0s, channels: [slack]}, {level: 2, after: 3s, channels: [slack, webhook]}]}'
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing esc)
	assert_success
	assert_equal "$(json_get '.channel')" "slack"
	local fp
	fp=$(json_get '.fingerprints[0]')
	# a second alert, acknowledged before its level 2 (--only-input: esc's
	# level 2, due by now on a slow machine, is left for the flush)
	run --separate-stderr alert-send -c cfg.yaml --only-input < <(alert firing acked)
	local fp2
	fp2=$(json_get '.fingerprints[0]')
	run --separate-stderr alert-send ack "$fp2" -m "looking into it" -c cfg.yaml
	assert_success
	assert_equal "$(json_get '.kind + " " + .fingerprint + " " + .message')" "ack $fp2 looking into it"
	sleep 3.1 # let level 2 fall due
	run --separate-stderr alert-send -c cfg.yaml flush
	assert_success
	assert_equal "$(json_get '.channel + " " + .reason + " " + .fingerprints[0]' | sort | tr '\n' '|')" \
		"slack escalated $fp|webhook escalated $fp|"
	assert_equal "$(requests slack-$N | tail -n1 | jq -r '.attachments[0].title')" "[FIRING] HealthCheckFailed — esc (escalated to level 2)"
	run --separate-stderr alert-send ack 0123456789abcdef
	assert_equal "$status" 65
	# restarted with one level only: the alert at level 2 still resolves to both channels told
	config 'escalation: {levels: [{level: 1, after: 0s, channels: [slack]}]}'
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved esc)
	assert_success
	assert_equal "$(json_get '.channel + " " + .reason' | sort | tr '\n' '|')" "slack resolved|webhook resolved|"
}

@test "repeat_interval: a long-running alert-send repeats a firing alert, never more often, then resolves it" {
	config "repeat_interval: 1s
alertmanager: {url: \"$AM_URL\", resend_interval: 1s}"
	sed -i '/webhook:/d' cfg.yaml
	start_sender
	alert firing rep >&"$SENDER_IN"
	wait_until 20 count_is "slack-$N" 2
	# Alertmanager is sent the firing alert again each resend_interval
	wait_until 20 lines_at_least 2 '"status":"delivered","channel":"alertmanager"' out.jsonl
	# the same alert again is no news: still only the repeats
	alert firing rep >&"$SENDER_IN"
	alert resolved rep >&"$SENDER_IN"
	stop_sender
	assert_equal "$SENDER_STATUS" 0
	local reasons
	reasons=$(jq -r 'select(.status=="delivered" and .channel=="slack") | .reason' out.jsonl | tr '\n' ' ')
	[[ $reasons =~ ^new\ (repeat\ )+resolved\ $ ]]
	reasons=$(jq -r 'select(.status=="delivered" and .channel=="alertmanager") | .reason' out.jsonl | tr '\n' ' ')
	[[ $reasons =~ ^new\ (repeat\ )+resolved\ $ ]]
	assert_equal "$(curl -sf "$AM_URL/api/v2/alerts?filter=target=%22rep%22" | jq length)" 0
	assert_equal "$(requests slack-$N | sed -n 2p | jq -r '.attachments[0].title')" "[FIRING] HealthCheckFailed — rep (still firing)"
	assert_equal "$(requests slack-$N | tail -n1 | jq -r .text)" "[RESOLVED:1] HealthCheckFailed rep (production)"
	# never two messages inside one interval: at most one per second of the run
	local first last n
	n=$(count_requests slack-$N)
	first=$(jq -r 'select(.status=="delivered" and .channel=="slack") | .time' out.jsonl | head -n1 | jq -Rr 'sub("\\.[0-9]+Z$";"Z") | fromdate')
	last=$(jq -r 'select(.status=="delivered" and .channel=="slack") | .time' out.jsonl | tail -n1 | jq -Rr 'sub("\\.[0-9]+Z$";"Z") | fromdate')
	[ $((n - 2)) -le $((last - first + 1)) ]
}

@test "escalation in one long run: level 2 fires after its delay unless acked; resolves reach every channel told" {
	config 'escalation: {levels: [{level: 1, after: 0s, channels: [slack]}, {level: 2, after: 4s, channels: [webhook]}]}'
	start_sender -v
	alert firing esc >&"$SENDER_IN"
	alert firing calm >&"$SENDER_IN"
	wait_until 20 grep -q '"status":"delivered"' out.jsonl
	# which fingerprint is which: from the state the running alert-send
	# keeps, saved before the page goes out, so an ack at once finds it
	local state=$SHIPSHAPE_STATE_DIR/alert-send/state.json calm esc
	calm=$(jq -r '.alerts[] | select(.labels.target=="calm") | .fingerprint' "$state")
	esc=$(jq -r '.alerts[] | select(.labels.target=="esc") | .fingerprint' "$state")
	run --separate-stderr alert-send ack "$calm" -m "on it"
	assert_success
	# level 2 for esc only; then both resolve
	wait_until 30 count_is "hook-$N" 1
	alert resolved esc >&"$SENDER_IN"
	alert resolved calm >&"$SENDER_IN"
	stop_sender
	assert_equal "$SENDER_STATUS" 0
	assert_equal "$(jq -r 'select(.status=="delivered" and .channel=="webhook") | .reason + " " + (.fingerprints | join(","))' out.jsonl | tr '\n' '|')" \
		"escalated $esc|resolved $esc|"
	assert_equal "$(jq -r 'select(.status=="delivered" and .channel=="slack") | .fingerprints[] as $f | .reason + " " + $f' out.jsonl | sort | tr '\n' '|')" \
		"$(printf '%s\n' "new $calm" "new $esc" "resolved $calm" "resolved $esc" | sort | tr '\n' '|')"
	assert_equal "$(requests hook-$N | jq -r '.status + " " + .alerts[0].labels.target' | tr '\n' '|')" "firing esc|resolved esc|"
	grep -q "alert-send: alert $calm acknowledged: escalation stops at level 1" err.txt
}

@test "runbooks run on firing with the alert on stdin, bounded and recorded" {
	config "runbook_max_output: 256
runbooks: {HealthCheckFailed: {command: [sh, -c, 'cat >$BATS_TEST_TMPDIR/rb.json; echo \$\$SHIPSHAPE_ALERT_NAME \$\$SHIPSHAPE_ALERT_FINGERPRINT; printf %1000s x; exit 3'], timeout: 5s}}"
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing rb)
	assert_success
	local fp
	fp=$(json_get 'select(.kind=="delivery") | .fingerprints[0]' | sort -u)
	assert_equal "$(json_get 'select(.kind=="runbook") | [.alertname, .fingerprint, .exit_code, .timed_out, (.output | length), .output_dropped] | @tsv')" \
		"$(printf 'HealthCheckFailed\t%s\t3\tfalse\t256\t%s' "$fp" $((35 + 1000 - 256)))"
	assert_equal "$(json_get 'select(.kind=="runbook") | .output | split("\n")[0]')" "HealthCheckFailed $fp"
	assert_equal "$(jq -r '.labels.target' rb.json)" "rb"
}

@test "a slow runbook holds no notification back; a hung one is stopped at its timeout" {
	# The first runbook finishes only once the page has reached the webhook:
	# run in the way of the deliveries it would wait for ever (here: time out).
	config "runbooks:
  HealthCheckFailed: {command: [sh, -c, 'until [ -s $FAULT_RECORD_DIR/hook-$N.jsonl ]; do sleep 0.05; done; echo saw the page'], timeout: 20s}
  Hung: {command: [sleep, '60'], timeout: 300ms}"
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing slow; alert firing hung Hung)
	assert_success
	assert_equal "$(json_get 'select(.kind=="runbook") | [.alertname, .timed_out, (.output | rtrimstr("\n"))] | @tsv' | sort)" \
		"$(printf 'HealthCheckFailed\tfalse\tsaw the page\nHung\ttrue\t')"
	# both alerts reached both channels (alone or grouped, as they arrived)
	assert_equal "$(json_get 'select(.kind=="delivery") | .status' | sort -u)" "delivered"
	assert_equal "$(json_get 'select(.kind=="delivery") | .channel + " " + .fingerprints[]' | sort -u | wc -l)" 4
	[[ $stderr != *"still running"* ]]
}

@test "--test sends through every channel and reports each; a broken one exits 2" {
	cat >cfg.yaml <<-EOF
	environment: staging
	alerts:
	  slack: {webhook_url: "$SLACK"}
	  webhook: {url: "$HOOK"}
	  alertmanager: {url: "$AM_URL"}
	  retry: {attempts: 1}
	EOF
	run --separate-stderr alert-send --test -c cfg.yaml
	assert_success
	assert_equal "$(json_get '.channel + " " + .status + " " + (.test|tostring)' | sort | tr '\n' '|')" \
		"alertmanager delivered true|slack delivered true|webhook delivered true|"
	assert_equal "$(requests slack-$N | jq -r .text)" "[TEST] [FIRING:1] ShipshapeTest (staging)"
	curl -sf "$FAULT_URL/_ctl/mode/hook-$N?codes=404" >/dev/null
	run --separate-stderr alert-send --test -c cfg.yaml
	assert_equal "$status" 2
	assert_equal "$(json_get 'select(.channel=="webhook") | .status + " " + (.permanent|tostring)')" "failed true"
	# --test spools nothing
	[ ! -d "$SHIPSHAPE_STATE_DIR/alert-send/spool" ] || [ -z "$(ls "$SHIPSHAPE_STATE_DIR/alert-send/spool")" ]
	assert_secret_absent "$SECRET_TOKEN" "$output" "$stderr"
}

@test "--dry-run prints the payloads and sends nothing" {
	config
	run --separate-stderr alert-send --dry-run -c cfg.yaml < <(alert firing)
	assert_success
	assert_equal "$(json_get 'select(.channel=="slack") | .status + " " + .payload.text')" \
		"dry_run [FIRING:1] HealthCheckFailed api (production)"
	assert_equal "$(count_requests slack-$N)" 0
}

# check_report: $output is one report of one check, alert-send.channels;
# prints "STATUS|MESSAGE|CHANNELS" (channels reached, comma-separated).
check_report() {
	printf '%s\n' "$output" | jq -er 'select(.kind == "report" and .tool == "alert-send") |
		select(.checks | length == 1 and .[0].name == "alert-send.channels") | .status as $s |
		.checks[0] | select(.status == $s) | "\(.status)|\(.message)|\(.data.channels | join(","))"'
}

@test "--check: the channels the deploy's alert would reach, ok; nothing sent, no state needed or written" {
	config
	# a state directory that cannot exist: --check neither needs nor makes one
	export SHIPSHAPE_STATE_DIR=/dev/null/state
	deploy-stage -c cfg.yaml alert --dry-run --release v42 >alert.jsonl
	run --separate-stderr alert-send -c cfg.yaml --check --format json <alert.jsonl
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(check_report)" "ok|the alert channels are valid: slack, webhook (dry run, nothing sent)|slack,webhook"
	assert_equal "$(json_get '.checks[0].perf[0] | "\(.label)=\(.value)"')" "channels=2"
	# a state directory that exists is left as it was
	export SHIPSHAPE_STATE_DIR=$BATS_TEST_TMPDIR/state
	mkdir -p "$SHIPSHAPE_STATE_DIR"
	run --separate-stderr alert-send -c cfg.yaml --check <alert.jsonl
	assert_success
	assert_equal "$(find "$SHIPSHAPE_STATE_DIR" -mindepth 1 | wc -l)" 0
	run --separate-stderr alert-send -c cfg.yaml --check --format text <alert.jsonl
	assert_success
	[[ $output == *"OK "*"alert-send.channels"*"the alert channels are valid: slack, webhook (dry run, nothing sent)"* ]]
	run --separate-stderr alert-send -c cfg.yaml --check --format nagios <alert.jsonl
	assert_success
	[[ $output == "alert-send OK - "*" | channels=2;;" ]] || fail "$output"
	assert_equal "$(count_requests slack-$N)" 0
	assert_equal "$(count_requests hook-$N)" 0
	assert_secret_absent "$SECRET_TOKEN" "$output" "$stderr"
	# what --check does not go with
	for args in --dry-run "--state-dir $BATS_TEST_TMPDIR/state" --test --only-input flush "ack 5a169b7bc685fd0c"; do
		# shellcheck disable=SC2086
		run --separate-stderr alert-send -c cfg.yaml --check $args </dev/null
		[ "$status" -eq 64 ] || fail "[--check $args] exit $status: $stderr"
	done
	run --separate-stderr alert-send -c cfg.yaml --format nagios </dev/null
	assert_equal "$status" 3
	assert_equal "$output" "alert-send UNKNOWN - --format nagios goes with --check"
}

@test "--check: no channel reached is a warning; a channel with an invalid config is critical, named with why" {
	alert firing >alert.jsonl
	printf 'environment: production\nalerts: {}\n' >cfg.yaml
	run --separate-stderr alert-send -c cfg.yaml --check <alert.jsonl
	assert_equal "$status" 1
	assert_equal "$(check_report)" "warning|no alert channel would be notified: a failed deploy would alert nobody|"
	# configured, but no level routes the alert to it
	config 'escalation: {levels: [{level: 1, after: 0s, channels: [email]}]}'
	run --separate-stderr alert-send -c cfg.yaml --check <alert.jsonl
	assert_equal "$status" 1
	assert_equal "$(check_report)" "warning|no alert channel would be notified: a failed deploy would alert nobody|"
	# no alert at all
	config
	run --separate-stderr alert-send -c cfg.yaml --check </dev/null
	assert_equal "$status" 1
	# a channel whose own config is invalid: critical, the others still checked
	config "slack: {repeat_interval: soon, webhook_url: \"$SLACK\"}"
	run --separate-stderr alert-send -c cfg.yaml --check <alert.jsonl
	assert_equal "$status" 2
	assert_equal "$(check_report)" 'critical|the alert channels are not valid: slack: cfg.yaml:8:28: alerts.slack.repeat_interval: expected a duration, got "soon"|webhook'
	assert_equal "$(json_get '.checks[0].data.invalid | keys | join(",")')" "slack"
	[[ $stderr == *'alert-send: cfg.yaml:8:28: alerts.slack.repeat_interval: expected a duration, got "soon"'* ]]
	assert_secret_absent "$SECRET_TOKEN" "$output" "$stderr"
	run --separate-stderr alert-send -c cfg.yaml --check --format nagios <alert.jsonl
	assert_equal "$status" 2
	[[ $output == "alert-send CRITICAL - "*"slack: cfg.yaml:8:28: alerts.slack.repeat_interval"*" | channels=1;;" ]] || fail "$output"
	# two channels invalid, each named (alphabetically)
	config "email: {from: nobody, recipients: [ops@example.com], smtp: {url: \"smtp://127.0.0.1:1\"}}
rate_limit: {count: 5}
webhook: {rate_limit: {count: -1}, url: \"$HOOK\"}"
	run --separate-stderr alert-send -c cfg.yaml --check <alert.jsonl
	assert_equal "$status" 2
	assert_equal "$(check_report)" 'critical|the alert channels are not valid: email: cfg.yaml:8:17: alerts.email.from: expected an address; webhook: cfg.yaml:10:33: alerts.webhook.rate_limit.count: -1 is below the minimum 0|slack'
	# a config invalid outside the channels is exit 65, as for every tool, without a report
	config 'retry: {attempts: "five"}'
	run --separate-stderr alert-send -c cfg.yaml --check <alert.jsonl
	assert_equal "$status" 65
	[ -z "$output" ]
	# so is input that is not alerts
	config
	run --separate-stderr alert-send -c cfg.yaml --check <<<'{"kind":"bogus"}'
	assert_equal "$status" 65
	[ -z "$output" ]
	[[ $stderr == *"stdin:1: a document of kind \"bogus\" is not taken here"* ]]
	assert_equal "$(count_requests slack-$N)" 0
	assert_equal "$(count_requests hook-$N)" 0
}

@test "a second alert-send on the same state exits 75; output to a full disk is not success" {
	config
	mkdir -p "$SHIPSHAPE_STATE_DIR/alert-send"
	exec {lockfd}>"$SHIPSHAPE_STATE_DIR/alert-send/lock"
	flock -n "$lockfd"
	run --separate-stderr alert-send -c cfg.yaml </dev/null
	exec {lockfd}>&-
	assert_equal "$status" 75
	alert firing full >in.jsonl
	run bash -c 'alert-send -c cfg.yaml <in.jsonl >/dev/full'
	assert_equal "$status" 3
	[[ $output == *"alert-send: "*"No space left on device"* ]]
}

@test "ack -m masks registered secrets and URL passwords, as deploy-stage -m does" {
	config
	printf 'security: {jwt_secret: "jwt-secret-value-4242"}\n' >>cfg.yaml
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing masked)
	assert_success
	local fp
	fp=$(json_get '.fingerprints[0]' | head -n1)
	run --separate-stderr alert-send ack "$fp" -c cfg.yaml \
		-m "rotated jwt-secret-value-4242; was in postgres://app:hunter2-pw-77@127.0.0.1/db"
	assert_success
	assert_equal "$(json_get '.message')" "rotated ***; was in postgres://app:***@127.0.0.1/db"
	assert_equal "$(jq -r .message "$SHIPSHAPE_STATE_DIR/alert-send/acks/$fp.json")" \
		"rotated ***; was in postgres://app:***@127.0.0.1/db"
	run grep -rlE "jwt-secret-value-4242|hunter2-pw-77" "$SHIPSHAPE_STATE_DIR"
	assert_failure
}

@test "webhook groupKey: the same for a group's firing and its resolve, another for another group" {
	config 'group_by: [alertname, target]'
	sed -i '/slack:/d' cfg.yaml
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing a; alert firing b)
	assert_success
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved a)
	assert_success
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved b)
	assert_success
	# one message per group each time: a and b apart
	assert_equal "$(requests hook-$N | jq -r '[.status, .alerts[0].labels.target, (.alerts | length)] | join(" ")' | sort | tr '\n' '|')" \
		"firing a 1|firing b 1|resolved a 1|resolved b 1|"
	local ka kb
	ka=$(requests hook-$N | jq -r 'select(.alerts[0].labels.target == "a") | .groupKey' | sort -u)
	kb=$(requests hook-$N | jq -r 'select(.alerts[0].labels.target == "b") | .groupKey' | sort -u)
	# Alertmanager's form: the route's key, then the group's labels
	assert_equal "$ka" '{}:{alertname="HealthCheckFailed", target="a"}'
	assert_equal "$kb" '{}:{alertname="HealthCheckFailed", target="b"}'
	assert_equal "$(requests hook-$N | jq -c 'select(.alerts[0].labels.target == "a") | .groupLabels' | sort -u)" \
		'{"alertname":"HealthCheckFailed","target":"a"}'
}

@test "webhook groupKey: without group_by one group, firing until its last alert resolves" {
	config
	sed -i '/slack:/d' cfg.yaml
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing a)
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing b)
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved a)
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved b)
	assert_success
	assert_equal "$(requests hook-$N | jq -r '.groupKey' | sort -u)" '{}:{}'
	# b still fires when a resolves: the group is still firing
	assert_equal "$(requests hook-$N | jq -r '.status + " " + .alerts[0].status + " " + .alerts[0].labels.target' | tr '\n' '|')" \
		"firing firing a|firing firing b|firing resolved a|resolved resolved b|"
}

@test "full state directory, channel down: the notification is held in memory and delivered once both recover" {
	local port
	port=$(free_port)
	config "webhook: {url: \"http://127.0.0.1:$port/record/late\"}
retry: {attempts: 2, initial_backoff: 50ms, max_backoff: 300ms}"
	sed -i '/slack:/d' cfg.yaml
	full_state
	start_sender
	alert firing held >&"$SENDER_IN"
	# attempts fail (nothing listens), the spool refuses it: held in memory
	wait_until 20 grep -q '"status":"held"' out.jsonl
	grep -q "unable to spool a webhook notification in $SHIPSHAPE_STATE_DIR/alert-send/spool: No space left on device" err.txt
	grep -q "unable to save $SHIPSHAPE_STATE_DIR/alert-send/state.json: No space left on device" err.txt
	# space returns, the channel comes back: delivered without new input
	rm "$SHIPSHAPE_STATE_DIR/filler"
	start_late_webhook "$port"
	wait_until 30 grep -q '"status":"delivered"' out.jsonl
	stop_sender
	# the run could not write its state for a while: not success
	assert_equal "$SENDER_STATUS" 3
	assert_equal "$(jq -r 'select(.status == 200) | .json.alerts[0].labels.target' "$BATS_TEST_TMPDIR/late/late.jsonl")" "held"
	assert_equal "$(ls "$SHIPSHAPE_STATE_DIR/alert-send/spool" | wc -l)" 0
	# the book was saved once space returned: the resolve reaches the channel told
	run --separate-stderr alert-send -c cfg.yaml < <(alert resolved held)
	assert_success
	assert_equal "$(json_get '.status + " " + .reason')" "delivered resolved"
}

@test "full state directory, channel up: delivered, but the run exits 3 naming what it could not write" {
	config
	sed -i '/slack:/d' cfg.yaml
	full_state
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing unsaved)
	assert_equal "$status" 3
	assert_equal "$(json_get '.status')" "delivered"
	[[ $stderr == *"unable to spool a webhook notification in $SHIPSHAPE_STATE_DIR/alert-send/spool: No space left on device"* ]]
	[[ $stderr == *"unable to save $SHIPSHAPE_STATE_DIR/alert-send/state.json: No space left on device"* ]]
	[[ $stderr == *"the alert book $SHIPSHAPE_STATE_DIR/alert-send/state.json is not saved"* ]]
}

@test "full state directory, channel down, input ends: the notification that cannot be kept is said lost, exit 3" {
	local port
	port=$(free_port)
	config "webhook: {url: \"http://127.0.0.1:$port/record/late\"}"
	sed -i '/slack:/d' cfg.yaml
	full_state
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing lost)
	assert_equal "$status" 3
	assert_equal "$(json_get '.status' | tail -n 1)" "held"
	[[ $stderr == *"unable to keep 1 notification: it was neither delivered nor spooled in $SHIPSHAPE_STATE_DIR/alert-send/spool, it is lost"* ]]
}

@test "--only-input notifies of this input's alerts only; what else the book owes waits for the next run" {
	# grouped by target: each alert its own message, its title naming it
	config 'group_by: [target]
escalation: {levels: [{level: 1, after: 0s, channels: [slack]}, {level: 2, after: 1s, channels: [slack, webhook]}]}'
	run --separate-stderr alert-send -c cfg.yaml < <(alert firing old)
	assert_success
	sleep 1.1 # the old alert's level 2 falls due
	run --separate-stderr alert-send -c cfg.yaml --only-input < <(alert firing new)
	assert_success
	assert_equal "$(json_get '.channel + " " + .reason + " " + .title')" "slack new [FIRING:1] HealthCheckFailed new (production)"
	# a run without it sends the escalation still owed (the new alert's own
	# level 2 may fall due by then too on a loaded machine)
	run --separate-stderr alert-send -c cfg.yaml flush
	assert_success
	assert_equal "$(json_get 'select(.title | contains(" old ")) | .channel + " " + .reason + " " + .title' | sort | tr '\n' '|')" \
		"slack escalated [FIRING:1] HealthCheckFailed old (production)|webhook escalated [FIRING:1] HealthCheckFailed old (production)|"
	run --separate-stderr alert-send -c cfg.yaml --only-input flush
	assert_equal "$status" 64
}

# ---- silences ----

# silence_ids: the ids `alert-send silence list` shows, one per line.
silence_ids() { alert-send silence list | jq -r .id; }

@test "silence add/list/expire: Alertmanager's matcher syntax, one 0600 file each; bad input is one line and 64" {
	run --separate-stderr alert-send silence add 'alertname="HealthCheckFailed"' 'target=~"api|web.*"' --for 2h -m "db maintenance" --by ops
	assert_success
	local id
	id=$(json_get .id)
	[[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	assert_equal "$(json_get '.state, .match, .createdBy, .comment')" \
		$'active\n{alertname="HealthCheckFailed", target=~"api|web.*"}\nops\ndb maintenance'
	assert_equal "$(stat -c %a "$SHIPSHAPE_STATE_DIR/alert-send/silences/$id.json")" 600
	# --until, braces and commas; a comment carrying a URL password is masked
	run --separate-stderr alert-send silence add '{env="production", severity!="info"}' --until 2099-01-01T00:00:00Z \
		-m "see https://u:hunter2-pw@wiki.example/x"
	assert_success
	refute_output --partial hunter2-pw
	! grep -rq hunter2-pw "$SHIPSHAPE_STATE_DIR/alert-send/silences"
	run --separate-stderr alert-send silence list --format text
	assert_success
	assert_equal "${#lines[@]}" 2
	assert_line --regexp "^active +$id \{alertname=\"HealthCheckFailed\", target=~\"api\|web\.\*\"\} until .*, by ops: db maintenance$"
	run --separate-stderr alert-send silence expire "$id"
	assert_success
	assert_equal "$(json_get .state)" expired
	assert_equal "$(alert-send silence list | jq -r "select(.id == \"$id\") | .state")" expired
	# bad input: each one line, 64, nothing written
	local before
	before=$(ls "$SHIPSHAPE_STATE_DIR/alert-send/silences" | wc -l)
	for args in "silence add a=b --for 1h" "silence add --for 1h -m x" "silence add a=b -m x" \
		"silence add a=b --for 1h --until 2099-01-01T00:00:00Z -m x" "silence add a=\"b --for 1h -m x" \
		"silence add a=~( --for 1h -m x" "silence add a=~.* --for 1h -m x" "silence add a==b --for 1h -m x" \
		"silence add a=b --until 2001-01-01T00:00:00Z -m x" "silence add a=b --until tomorrow -m x" \
		"silence add a=b --for 0s -m x" "silence" "silence mute" "silence expire" "silence list extra" \
		"silence list --for 1h" "--for 1h -c cfg.yaml"; do
		# shellcheck disable=SC2086
		run --separate-stderr alert-send $args
		assert_equal "$status" 64 "alert-send $args: $status"
		assert_equal "${#stderr_lines[@]}" 1 "alert-send $args: $stderr"
	done
	assert_equal "$(ls "$SHIPSHAPE_STATE_DIR/alert-send/silences" | wc -l)" "$before"
	run --separate-stderr alert-send silence expire 00000000-0000-4000-8000-000000000000
	assert_equal "$status" 65
	assert_equal "${#stderr_lines[@]}" 1
}

@test "a silenced alert is not notified; when the silence ends while it fires, it is notified then, not at the next repeat" {
	config "repeat_interval: 1h"
	alert-send silence add 'target="sil"' --for 3s -m "expected downtime" >/dev/null
	start_sender
	alert firing sil >&"$SENDER_IN"
	alert firing other >&"$SENDER_IN"
	# the other alert goes out; the silenced one does not, until its silence ends
	wait_until 20 count_is "slack-$N" 1
	sleep 1
	assert_equal "$(requests slack-$N | grep -c '"sil' || true)" 0
	wait_until 40 count_is "slack-$N" 2
	assert_equal "$(requests slack-$N | tail -n1 | jq -r .text)" "[FIRING:1] HealthCheckFailed sil (production)"
	alert resolved sil >&"$SENDER_IN"
	stop_sender
	assert_equal "$SENDER_STATUS" 0
	assert_equal "$(requests slack-$N | tail -n1 | jq -r .text)" "[RESOLVED:1] HealthCheckFailed sil (production)"
	assert_equal "$(jq -r 'select(.status=="delivered" and .channel=="slack") | .reason' out.jsonl | tr '\n' ' ')" "new new resolved "
}

@test "a silence added while alert-send runs mutes within a second; expired, the alert still firing is heard at once" {
	config "repeat_interval: 1s"
	sed -i '/webhook:/d' cfg.yaml
	start_sender
	alert firing api >&"$SENDER_IN"
	wait_until 20 count_is "slack-$N" 2 # new, then a repeat a second later
	local id n
	id=$(alert-send silence add 'alertname="HealthCheckFailed"' --for 1h -m "on it" | jq -r .id)
	sleep 1.5 # picked up within a second; at most a repeat already on its way
	n=$(count_requests "slack-$N")
	sleep 2.5
	assert_equal "$(count_requests "slack-$N")" "$n"
	# the book says who silenced it
	wait_until 20 grep -q "\"muted_by\":\"silence $id\"" "$SHIPSHAPE_STATE_DIR/alert-send/state.json"
	alert-send silence expire "$id" >/dev/null
	wait_until 20 count_is "slack-$N" $((n + 1))
	stop_sender
}

@test "an alert told before its silence began still has its resolve heard while silenced, by the channels told" {
	config "repeat_interval: 1h"
	sed -i '/webhook:/d' cfg.yaml
	start_sender
	alert firing told >&"$SENDER_IN"
	wait_until 20 count_is "slack-$N" 1
	alert-send silence add 'target="told"' --for 1h -m "after the fact" >/dev/null
	wait_until 20 grep -q '"muted_by":"silence ' "$SHIPSHAPE_STATE_DIR/alert-send/state.json"
	alert resolved told >&"$SENDER_IN"
	stop_sender
	assert_equal "$SENDER_STATUS" 0
	assert_equal "$(requests slack-$N | jq -r .text | paste -sd, -)" \
		"[FIRING:1] HealthCheckFailed told (production),[RESOLVED:1] HealthCheckFailed told (production)"
}

@test "an alert that fires and resolves inside a silence notifies nobody, not even its resolve" {
	config
	alert-send silence add 'target="blip"' --for 1h -m "flapping probe" >/dev/null
	{ alert firing blip; alert resolved blip; alert firing other; } >in.jsonl
	run --separate-stderr alert-send -c cfg.yaml <in.jsonl
	assert_success
	assert_equal "$(requests slack-$N | jq -r .text)" "[FIRING:1] HealthCheckFailed other (production)"
	assert_equal "$(requests hook-$N | jq -r '.alerts[].labels.target' | sort -u)" other
}

@test "kill -9 with silences loaded loses none: the next run still mutes, list still shows them" {
	config
	alert-send silence add 'target="k9"' --for 1h -m "kept" >/dev/null
	alert-send silence add 'severity="critical"' 'target="k9b"' --for 1h -m "kept too" >/dev/null
	start_sender
	alert firing k9 >&"$SENDER_IN"
	alert firing k9b >&"$SENDER_IN"
	alert firing other >&"$SENDER_IN"
	wait_until 20 count_is "slack-$N" 1
	kill -9 "$SENDER_PID"
	wait "$SENDER_PID" || true
	SENDER_PID=
	assert_equal "$(alert-send silence list | jq -r 'select(.state == "active") | .comment' | sort | paste -sd, -)" "kept,kept too"
	{ alert firing k9; alert firing k9b; } >in.jsonl
	run --separate-stderr alert-send -c cfg.yaml <in.jsonl
	assert_success
	assert_equal "$(requests slack-$N | jq -r .text | sort -u)" "[FIRING:1] HealthCheckFailed other (production)"
}

@test "with the alertmanager channel: a silence is made and expired in Alertmanager too; list says whether they agree" {
	config "alertmanager: {url: \"$AM_URL\"}"
	run --separate-stderr alert-send -c cfg.yaml silence add "target=\"am-$N\"" 'severity=~"crit.*"' --for 1h -m "in both" --by ops
	assert_success
	local id am_id
	id=$(json_get .id)
	am_id=$(json_get .alertmanager_id)
	assert_equal "$(json_get .alertmanager.sync)" done
	[ -n "$am_id" ] && [ "$am_id" != "$id" ]
	run curl -sf "$AM_URL/api/v2/silence/$am_id"
	assert_success
	assert_equal "$(json_get '.status.state, .createdBy, .comment')" $'active\nops\nin both'
	assert_equal "$(json_get '[.matchers[] | "\(.name) \(.value) \(.isRegex) \(.isEqual)"] | sort | join(",")')" \
		"severity crit.* true true,target am-$N false true"
	run --separate-stderr alert-send -c cfg.yaml silence list
	assert_success
	assert_equal "$(printf '%s\n' "$output" | jq -r "select(.id == \"$id\") | .alertmanager.sync")" agrees
	# made in Alertmanager alone: listed, said so
	local theirs
	theirs=$(curl -sf -XPOST -H 'Content-Type: application/json' "$AM_URL/api/v2/silences" -d "$(jq -cn --arg t "am-$N" \
		'{matchers:[{name:"target",value:$t,isRegex:false,isEqual:true}],startsAt:(now|todate),endsAt:(now+3600|todate),createdBy:"amtool",comment:"theirs"}')" | jq -r .silenceID)
	run --separate-stderr alert-send -c cfg.yaml silence list
	assert_equal "$(printf '%s\n' "$output" | jq -r "select(.id == \"$theirs\") | .alertmanager.sync")" "only in Alertmanager"
	# expired there behind our back: differs
	curl -sf -XDELETE "$AM_URL/api/v2/silence/$theirs" >/dev/null
	curl -sf -XDELETE "$AM_URL/api/v2/silence/$am_id" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml silence list
	assert_equal "$(printf '%s\n' "$output" | jq -r "select(.id == \"$id\") | .alertmanager | \"\(.sync): \(.difference)\"")" \
		"differs: expired there, active here"
	run --separate-stderr alert-send -c cfg.yaml silence expire "$id"
	assert_success
	assert_equal "$(curl -sf "$AM_URL/api/v2/silence/$am_id" | jq -r .status.state)" expired
	run --separate-stderr alert-send -c cfg.yaml silence list
	assert_equal "$(printf '%s\n' "$output" | jq -r "select(.id == \"$id\") | .alertmanager.sync")" agrees
}

@test "Alertmanager down: the silence is kept here (and mutes alert-send's alerts), exit 1 naming why" {
	local port
	port=$(free_port)
	config "alertmanager: {url: \"http://127.0.0.1:$port\"}"
	run --separate-stderr alert-send -c cfg.yaml silence add "target=\"down-$N\"" --for 1h -m "am down"
	assert_equal "$status" 1
	assert_equal "$(json_get .alertmanager.sync)" failed
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == *"kept here, but not in Alertmanager"* ]]
	assert_equal "$(alert-send silence list | jq -r .state)" active
	run --separate-stderr alert-send -c cfg.yaml silence list
	assert_equal "$status" 1
	[[ $stderr == *"Alertmanager's silences could not be read"* ]]
}

# ---- maintenance windows ----

# tz_now ZONE FORMAT: the current time in ZONE (date(1) format).
tz_now() { TZ=$1 date +"$2" | tr '[:upper:]' '[:lower:]'; }

@test "maintenance windows in a time zone: open now mutes, closed does not; weekday, month and day-of-month ranges" {
	local hour next wday month other_month
	hour=$(tz_now Asia/Tokyo %H)
	next=$(printf '%02d:00' $((10#$hour + 1)))
	wday=$(tz_now Asia/Tokyo %A)
	month=$(tz_now Asia/Tokyo %B)
	other_month=$(TZ=Asia/Tokyo date -d "+40 days" +%B | tr '[:upper:]' '[:lower:]')
	[ "$other_month" != "$month" ]
	# the same hour of the day in Los Angeles is another instant: closed now
	config "maintenance:
    - {name: tokyo-hour, matchers: ['target=\"tokyo\"'], timezone: Asia/Tokyo,
       times: [{weekdays: ['$wday'], times: [{start_time: '$hour:00', end_time: '$next'}]}]}
    - {name: la-hour, matchers: ['target=\"la\"'], timezone: America/Los_Angeles,
       times: [{weekdays: ['$wday'], times: [{start_time: '$hour:00', end_time: '$next'}]}]}
    - {name: this-month, matchers: ['target=\"month\"'], timezone: Asia/Tokyo,
       times: [{months: ['$month'], days_of_month: ['1:-1']}]}
    - {name: other-month, matchers: ['target=\"later\"'], timezone: Asia/Tokyo,
       times: [{months: ['$other_month']}]}
    - {name: one-off, matchers: ['{target=~\"once|twice\", severity=\"critical\"}'],
       start: '$(date -u -d '-1 hour' +%FT%TZ)', end: '$(date -u -d '+1 hour' +%FT%TZ)'}"
	{ for t in tokyo la month later once; do alert firing "$t"; done; } >in.jsonl
	run --separate-stderr alert-send -c cfg.yaml <in.jsonl
	assert_success
	assert_equal "$(requests hook-$N | jq -r '.alerts[].labels.target' | sort | paste -sd, -)" "la,later"
	assert_equal "$(jq -r '.alerts[] | select(.muted_by) | "\(.labels.target) \(.muted_by)"' "$SHIPSHAPE_STATE_DIR/alert-send/state.json" | sort | paste -sd, -)" \
		"month window this-month,once window one-off,tokyo window tokyo-hour"
}

@test "an alert still firing when its one-off window closes is notified then" {
	config "repeat_interval: 1h
maintenance:
    - {name: short, matchers: ['target=\"win\"'], start: '$(date -u -d '-1 min' +%FT%TZ)', end: '$(date -u -d '+3 sec' +%FT%TZ)'}"
	sed -i '/webhook:/d' cfg.yaml
	start_sender
	alert firing win >&"$SENDER_IN"
	sleep 1
	assert_equal "$(count_requests "slack-$N")" 0
	wait_until 40 count_is "slack-$N" 1
	stop_sender
	assert_equal "$(requests slack-$N | jq -r .text)" "[FIRING:1] HealthCheckFailed win (production)"
}

@test "kill -9 with an alert muted by a window loses nothing: after the window closes the next run notifies it" {
	config "repeat_interval: 1h
maintenance:
    - {name: brief, matchers: ['target=\"w9\"'], start: '$(date -u -d '-1 min' +%FT%TZ)', end: '$(date -u -d '+4 sec' +%FT%TZ)'}"
	sed -i '/webhook:/d' cfg.yaml
	start_sender
	alert firing w9 >&"$SENDER_IN"
	wait_until 20 grep -q '"muted_by":"window brief"' "$SHIPSHAPE_STATE_DIR/alert-send/state.json"
	kill -9 "$SENDER_PID"
	wait "$SENDER_PID" || true
	SENDER_PID=
	assert_equal "$(count_requests "slack-$N")" 0
	rm -f in
	start_sender
	wait_until 40 count_is "slack-$N" 1
	stop_sender
	assert_equal "$(requests slack-$N | jq -r .text)" "[FIRING:1] HealthCheckFailed w9 (production)"
}

@test "maintenance windows: each bad key is one line naming it, exit 65, nothing sent" {
	config "maintenance:
    - {name: bad, matchers: ['a=~\"(\"'], timezone: Mars/Olympus,
       times: [{weekdays: [funday], days_of_month: ['0'], months: [smarch], times: [{start_time: '03:00', end_time: '02:00'}]}]}
    - {name: half, matchers: ['a=\"b\"'], start: '2026-12-01T00:00:00Z'}
    - {name: both, matchers: ['a=\"b\"'], start: '2026-12-01T00:00:00Z', end: '2026-12-02T00:00:00Z', times: [{weekdays: [monday]}]}
    - {name: none, matchers: ['a=\"b\"']}
    - {name: late, matchers: ['a=\"b\"'], times: [{times: [{start_time: '25:00', end_time: '26:00'}]}]}
    - {name: signed, matchers: ['a=\"b\"'], times: [{times: [{start_time: '-0:30', end_time: ' 1:00'}]}]}"
	alert firing >in.jsonl
	run --separate-stderr alert-send -c cfg.yaml <in.jsonl
	assert_equal "$status" 65
	local want
	for want in 'maintenance\[0\]\.matchers\[0\]: a: not a regular expression' \
		'maintenance\[0\]\.timezone: unknown time zone "Mars/Olympus"' \
		'maintenance\[0\]\.times\[0\]\.weekdays\[0\]: "funday"' \
		'maintenance\[0\]\.times\[0\]\.days_of_month\[0\]: "0"' \
		'maintenance\[0\]\.times\[0\]\.months\[0\]: "smarch"' \
		'maintenance\[0\]\.times\[0\]\.times\[0\]\.end_time: 02:00 is not after start_time 03:00' \
		'maintenance\[1\]: a one-off window needs both start and end' \
		'maintenance\[2\]: a window is either one-off \(start and end\) or recurring \(times\), not both' \
		'maintenance\[3\]: a window is either one-off \(start and end\) or recurring \(times\), one of them' \
		'maintenance\[4\]\.times\[0\]\.times\[0\]\.start_time: expected a time of day HH:MM' \
		'maintenance\[5\]\.times\[0\]\.times\[0\]\.start_time: expected a time of day HH:MM, got "-0:30"'; do
		printf '%s\n' "$stderr" | grep -Eq "^alert-send: .*cfg.yaml:[0-9]+:[0-9]+: alerts\.$want" || fail "no line for $want in: $stderr"
	done
	assert_equal "$(count_requests "slack-$N")" 0
	# a window without matchers would mute everything: refused
	config "maintenance: [{name: all, matchers: [], times: [{weekdays: [monday]}]}]"
	run --separate-stderr alert-send -c cfg.yaml <in.jsonl
	assert_equal "$status" 65
	[[ $stderr == *"alerts.maintenance[0].matchers: 0 items is below the minimum 1"* ]]
}

# ---- inhibition ----

# inhibit_case EQUAL SOURCE_LABELS TARGET_LABELS: whether, with one rule
# (source alertname Src, target alertname Tgt, equal EQUAL, a JSON list), a
# firing Src with SOURCE_LABELS (JSON) inhibits a firing Tgt with
# TARGET_LABELS: prints "inhibited" or "notified".
inhibit_case() {
	config "inhibit: [{source_matchers: ['alertname=\"Src\"'], target_matchers: ['alertname=\"Tgt\"'], equal: $1}]"
	rm -rf "$SHIPSHAPE_STATE_DIR"
	curl -s "$FAULT_URL/_ctl/reset" >/dev/null
	jq -cn --argjson s "$2" --argjson t "$3" \
		'({kind:"alert",status:"firing",labels:({alertname:"Src"} + $s),annotations:{}}),
		 ({kind:"alert",status:"firing",labels:({alertname:"Tgt"} + $t),annotations:{}})' >in.jsonl
	alert-send -c cfg.yaml <in.jsonl >/dev/null 2>&1 || return 1
	if requests "hook-$N" | jq -e '.alerts[] | select(.labels.alertname == "Tgt")' >/dev/null; then
		echo notified
	else
		echo inhibited
	fi
}

@test "inhibition: equal labels must be present and equal on both sides; missing on either never inhibits" {
	local equal src tgt want got bad=()
	while IFS='|' read -r equal src tgt want; do
		[ -n "$equal" ] || continue
		got=$(inhibit_case "$equal" "$src" "$tgt")
		[ "$got" = "$want" ] || bad+=("equal $equal, source $src, target $tgt: $got, expected $want")
	done <<-'T'
	[target]|{"target":"a"}|{"target":"a"}|inhibited
	[target]|{"target":"a"}|{"target":"b"}|notified
	[target]|{}|{}|notified
	[target]|{"target":"a"}|{}|notified
	[target]|{}|{"target":"a"}|notified
	[target]|{"target":""}|{"target":""}|notified
	[target, env]|{"target":"a","env":"p"}|{"target":"a","env":"p"}|inhibited
	[target, env]|{"target":"a","env":"p"}|{"target":"a","env":"s"}|notified
	[target, env]|{"target":"a"}|{"target":"a"}|notified
	[]|{"target":"a"}|{"target":"b"}|inhibited
	[]|{}|{}|inhibited
	T
	[ ${#bad[@]} -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "inhibition: never by itself; two alerts matching both sides do not mute each other" {
	config "inhibit: [{source_matchers: ['severity=~\"critical|page\"'], target_matchers: ['severity=~\"critical|page\"'], equal: [target]}]"
	{ alert firing both; alert firing both HealthCheckDegraded; } >in.jsonl
	run --separate-stderr alert-send -c cfg.yaml <in.jsonl
	assert_success
	assert_equal "$(requests hook-$N | jq -r '.alerts[].labels.alertname' | sort | paste -sd, -)" "HealthCheckDegraded,HealthCheckFailed"
}

@test "inhibition: production's rules: a service down mutes the pipeline's checks; once it recovers, the one still firing is notified then" {
	config "inhibit:
    - source_matchers: ['alertname=~\"ExternalServiceDown|http\\\\.(supabase|llamaparse|openai)\\\\..+\"']
      target_matchers: ['alertname=~\"e2e\\\\..+|UploadPipeline.+\"']
      equal: [environment]
    - {source_matchers: ['severity=\"critical\"'], target_matchers: ['severity=\"warning\"'], equal: [alertname, target, environment]}
repeat_interval: 1h"
	sed -i '/slack:/d' cfg.yaml
	# the rules are those production.yaml ships
	assert_equal "$(cfg-resolve cfg.yaml | jq -c .alerts.inhibit)" \
		"$(cfg-resolve -e "$REPO_ROOT/tests/data/cfg/prod.env" "$REPO_ROOT/config/production.yaml" | jq -c .alerts.inhibit)"
	# told_are LIST: the webhook heard "alertname status" for exactly LIST (sorted, comma-separated)
	told() { requests "hook-$N" | jq -r '.alerts[] | "\(.labels.alertname) \(.labels.severity) \(.status)"' | LC_ALL=C sort -u | paste -sd, -; }
	told_are() { [ "$(told)" = "$1" ]; }
	inhibited_are() { [ "$(grep -o '"muted_by":"inhibited by [0-9a-f]*"' "$SHIPSHAPE_STATE_DIR/alert-send/state.json" | wc -l)" = "$1" ]; }
	start_sender
	alert firing supa http.supabase.status >&"$SENDER_IN"
	alert firing pipe e2e.upload >&"$SENDER_IN"
	alert firing api >&"$SENDER_IN" # critical, then the warning of the same target
	jq -cn '{kind:"alert",status:"firing",labels:{alertname:"HealthCheckFailed",target:"api",severity:"warning",environment:"production"},annotations:{}}' >&"$SENDER_IN"
	wait_until 20 told_are "HealthCheckFailed critical firing,http.supabase.status critical firing"
	wait_until 20 inhibited_are 2
	alert resolved supa http.supabase.status >&"$SENDER_IN"
	# the source's resolve, and the pipeline's alert heard at last; the warning stays muted
	wait_until 20 told_are "HealthCheckFailed critical firing,e2e.upload critical firing,http.supabase.status critical firing,http.supabase.status critical resolved"
	sleep 1
	stop_sender
	assert_equal "$(told)" "HealthCheckFailed critical firing,e2e.upload critical firing,http.supabase.status critical firing,http.supabase.status critical resolved"
}

# ---- seeing and testing: list, route ----

@test "list: every alert in the book with its level, ack, what mutes it and the next notification; the windows" {
	config "repeat_interval: 1h
escalation:
  levels:
    - {level: 1, after: 0s, channels: [slack]}
    - {level: 2, after: 15m, channels: [slack, webhook]}
inhibit: [{source_matchers: ['severity=\"critical\"'], target_matchers: ['severity=\"warning\"'], equal: [target]}]
maintenance:
  - {name: db-work, matchers: ['target=\"db\"'], start: '$(date -u -d '-1 min' +%FT%TZ)', end: '$(date -u -d '+2 hour' +%FT%TZ)'}"
	{
		alert firing api
		jq -cn '{kind:"alert",status:"firing",labels:{alertname:"HealthCheckFailed",target:"api",severity:"warning",environment:"production"},annotations:{}}'
		alert firing db
		alert firing web
	} >in.jsonl
	local sid fp
	sid=$(alert-send silence add 'target="web"' --for 1h -m "web deploy" | jq -r .id)
	run --separate-stderr alert-send -c cfg.yaml <in.jsonl
	assert_success
	fp=$(requests slack-$N | jq -r '.attachments[0].footer' | grep -o '[0-9a-f]\{16\}' | head -n1)
	alert-send ack "$fp" -m "on it" >/dev/null
	run --separate-stderr alert-send -c cfg.yaml list
	assert_success
	# one record per alert, then the window
	assert_equal "$(printf '%s\n' "$output" | jq -r 'select(.kind == "book_alert") | "\(.labels.target)/\(.labels.severity) \(.muted_by // "-") \(.next.reason) \(.next.channels // [] | join(","))"' | sort)" \
		"$(printf '%s\n' "api/critical - repeat slack" "api/warning inhibited by $fp when no longer muted slack" \
			"db/critical window db-work when no longer muted slack" "web/critical silence $sid when no longer muted slack" | sort)"
	assert_equal "$(printf '%s\n' "$output" | jq -r "select(.fingerprint == \"$fp\") | \"\(.acked.by) \(.acked.message) \(.level) \(.told.slack)\"")" "${USER:-uid $(id -u)} on it 1 firing"
	# a known end is given: the silence's, the one-off window's
	[ "$(printf '%s\n' "$output" | jq -r 'select(.labels.target == "web") | .next.at')" != null ]
	[ "$(printf '%s\n' "$output" | jq -r 'select(.labels.target == "db") | .next.at')" != null ]
	assert_equal "$(printf '%s\n' "$output" | jq -r 'select(.kind == "window") | "\(.name) \(.open)"')" "db-work true"
	run --separate-stderr alert-send -c cfg.yaml list --format text
	assert_success
	assert_line --regexp "^firing +$fp +HealthCheckFailed +since .*, level 1, acked by ${USER:-uid $(id -u)}; next: repeat at .* to slack$"
	assert_line --regexp '^window +db-work +open$'
	# list changes nothing
	[ "$(cat "$SHIPSHAPE_STATE_DIR/alert-send/state.json" | md5sum)" = "$(alert-send -c cfg.yaml list >/dev/null; cat "$SHIPSHAPE_STATE_DIR/alert-send/state.json" | md5sum)" ]
}

@test "route: the channels and levels labels would reach, and what would mute them now; bad labels are 64" {
	config "group_by: [alertname, target]
escalation:
  levels:
    - {level: 1, after: 0s, channels: [slack]}
    - {level: 2, after: 10m, channels: [slack, webhook, email]}
maintenance:
  - {name: weekly, matchers: ['target=\"batch\"'], times: [{times: [{start_time: '00:00', end_time: '24:00'}]}]}"
	run --separate-stderr alert-send -c cfg.yaml route alertname=Down target=api severity=critical
	assert_success
	assert_equal "$(json_get '.group_key, ([.levels[] | "\(.level) \(.after) \(.channels | join(","))"] | join("; ")), (.muted_by // "-")')" \
		$'{}:{alertname="Down", target="api"}\n1 0s slack; 2 10m slack,webhook\n-'
	run --separate-stderr alert-send -c cfg.yaml route alertname=Down target=batch
	assert_equal "$(json_get .muted_by)" "window weekly"
	local sid
	sid=$(alert-send silence add 'alertname="Down"' 'target=~"a.*"' --for 1h -m x | jq -r .id)
	run --separate-stderr alert-send -c cfg.yaml route alertname=Down target=api --format text
	assert_success
	assert_line 'group {}:{alertname="Down", target="api"}'
	assert_line 'level 2 after 10m: slack, webhook'
	assert_line --regexp "^muted now \(silence $sid\) until "
	for args in "route" "route alertname" "route =x" "list extra"; do
		# shellcheck disable=SC2086
		run --separate-stderr alert-send -c cfg.yaml $args
		assert_equal "$status" 64 "$args"
		assert_equal "${#stderr_lines[@]}" 1 "$args"
	done
}
