#!/usr/bin/env bats
# The progress line of long waits (term.h): drawn on a terminal — a
# pseudo-terminal from util-linux script(1) — and never in a pipe, in a file
# or with -q; NO_COLOR, a C locale and the terminal's width are obeyed. The
# waits are real: the fault server on loopback answers slowly.
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
	export TERM=xterm LC_ALL=C.UTF-8
	unset NO_COLOR COLUMNS
}

# on_tty COLS CMD: the shell command line CMD on a pseudo-terminal of COLS
# columns (a newline not turned into \r\n: every \r is the tool's), stdout
# to out.txt; what the terminal showed (CMD's stderr) in tty.txt; CMD's exit
# status in $status.
on_tty() {
	status=0
	timeout 60 script -qfec "stty cols $1 rows 24 -onlcr; $2 >out.txt" /dev/null </dev/null >tty.txt || status=$?
}

# drawn_in_place: tty.txt has a progress line: redrawn with \r and cleared
# to the end of the line, more than once.
drawn_in_place() {
	[ "$(tr -cd '\r' <tty.txt | wc -c)" -ge 2 ] || { echo "no \\r: $(cat -v tty.txt)"; return 1; }
	grep -q $'\e\\[K' tty.txt || { echo "no clear-to-end-of-line: $(cat -v tty.txt)"; return 1; }
}

# no_colour FILE: no ESC[...m in FILE.
no_colour() {
	if grep -q $'\e\\[[0-9;]*m' "$1"; then
		echo "colour in $1: $(cat -v "$1")"
		return 1
	fi
}

# ascii_only FILE: every byte of FILE is ASCII.
ascii_only() {
	local n
	n=$(LC_ALL=C tr -d '\000-\177' <"$1" | wc -c)
	[ "$n" -eq 0 ] || { echo "$n non-ASCII bytes in $1: $(cat -v "$1")"; return 1; }
}

# widest FILE: the most characters a progress line of FILE holds (what
# lies between two \r or \n and starts with the mark and the time),
# escape sequences aside.
widest() {
	local line max=0
	while IFS= read -r line; do
		line=${line//$'\e'\[+([0-9;])m/}
		line=${line//$'\e'\[K/}
		[[ $line == ?" "+([0-9])@(.[0-9]|m[0-9][0-9])"s  "* ]] || continue
		((${#line} > max)) && max=${#line}
	done < <(tr '\r' '\n' <"$1")
	echo "$max"
}

# no_progress FILE: nothing of a progress line in FILE: no \r, no ESC.
no_progress() {
	if LC_ALL=C grep -q $'[\r\e]' "$1"; then
		echo "progress in $1: $(cat -v "$1")"
		return 1
	fi
}

# load ARGS...: svc-probe's load mode, slow enough to be drawn a few times.
LOAD="svc-probe --format json --requests 24 --concurrency 1"

@test "svc-probe --requests: requests done, req/s and errors drawn in place on a terminal, in colour" {
	shopt -s extglob
	on_tty 80 "$LOAD $FAULT_URL/delay/40"
	assert_equal "$status" 0
	drawn_in_place
	grep -q '[0-9]*/24 requests, [0-9]* req/s, 0 errors (load of ' tty.txt
	grep -q $'\e\\[32m' tty.txt
	# the line is gone at the end: the last bytes clear it
	[[ $(tail -c 4 tty.txt | od -An -c | tr -d ' ') == '\r033[K' ]]
	assert_equal "$(jq -r '.checks[] | select(.name | startswith("perf.")) | .data.requests' out.txt)" 24
	# errors are counted (each request over its latency limit) and the mark turns yellow
	on_tty 80 "$LOAD --latency-critical 5ms $FAULT_URL/delay/40"
	grep -q ' [1-9][0-9]* errors\{0,1\} (load of' tty.txt
	grep -q $'\e\\[33m' tty.txt
}

@test "svc-probe --requests: no progress in a pipe or a file, nor with -q or -v" {
	run bash -c "$LOAD $FAULT_URL/delay/20 2>err.txt | jq -r '.status'"
	assert_output ok
	[ -f err.txt ]
	no_progress err.txt
	on_tty 80 "$LOAD -q $FAULT_URL/delay/20"
	assert_equal "$status" 0
	no_progress tty.txt
	[ ! -s tty.txt ]
	on_tty 80 "$LOAD -v $FAULT_URL/delay/20"
	no_progress tty.txt
}

@test "svc-probe --requests: NO_COLOR, a C locale and a narrow terminal" {
	shopt -s extglob
	on_tty 80 "NO_COLOR=1 $LOAD $FAULT_URL/delay/40"
	drawn_in_place
	no_colour tty.txt
	# UTF-8: a spinner of braille; C: ASCII only
	run ascii_only tty.txt
	assert_failure
	on_tty 80 "LC_ALL=C $LOAD $FAULT_URL/delay/40"
	drawn_in_place
	ascii_only tty.txt
	on_tty 40 "$LOAD $FAULT_URL/delay/40"
	drawn_in_place
	[ "$(widest tty.txt)" -le 40 ]
	[ "$(widest tty.txt)" -ge 30 ]
	# $COLUMNS only where the terminal has no size: stty's 60 wins over 30
	on_tty 60 "COLUMNS=30 $LOAD $FAULT_URL/delay/40"
	[ "$(widest tty.txt)" -gt 40 ]
	[ "$(widest tty.txt)" -le 60 ]
}

# ---- health-watch --until ----

# watch ARGS...: health-watch until every target is up: one up (slowly),
# one on a closed loopback port, so it waits until -t.
watch_cmd() {
	echo "health-watch --format json --target up=$FAULT_URL/delay/50 --target gone=http://127.0.0.1:$CLOSED/ \
--until up -t 1500ms -i 100ms --failure-threshold 1 --success-threshold 1 $*"
}

@test "health-watch --until: targets there of total, the bound and who is waited for, drawn on a terminal" {
	shopt -s extglob
	CLOSED=$(free_port)
	on_tty 100 "$(watch_cmd)"
	assert_equal "$status" 2
	drawn_in_place
	grep -q 'until up: 1/2 up (at most 1500ms); waiting for gone (down)' tty.txt
	grep -q $'\e\\[33m' tty.txt
	[[ $(tail -c 4 tty.txt | od -An -c | tr -d ' ') == '\r033[K' ]]
	assert_equal "$(jq -r 'select(.kind == "report") | .status' out.txt)" critical
	# every target up: the line ends, the report says so
	on_tty 100 "health-watch --format json --target up=$FAULT_URL/delay/300 --until up -t 5s -i 100ms --success-threshold 2"
	assert_equal "$status" 0
	grep -q 'until up: 0/1 up (at most 5s); waiting for up (unknown)' tty.txt
	# stdout on the same terminal: each event clears the line before it is printed
	on_tty 100 "$(watch_cmd --format text) >/dev/tty; true"
	grep -q $'\r\e\\[K[0-9-]*T[^\r]*  until up: deadline passed; not up yet: gone' tty.txt
}

@test "health-watch --until: nothing of it in a pipe, with -q, without --until; NO_COLOR, C locale, 40 columns" {
	shopt -s extglob
	CLOSED=$(free_port)
	run bash -c "$(watch_cmd) 2>err.txt | jq -r 'select(.kind == \"report\") | .status'"
	assert_output critical
	no_progress err.txt
	on_tty 100 "$(watch_cmd -q)"
	assert_equal "$status" 2
	[ ! -s tty.txt ]
	on_tty 100 "health-watch --format json --target up=$FAULT_URL/delay/50 --count 3 -i 200ms"
	assert_equal "$status" 0
	no_progress tty.txt
	on_tty 40 "NO_COLOR=1 LC_ALL=C $(watch_cmd)"
	drawn_in_place
	no_colour tty.txt
	ascii_only tty.txt
	[ "$(widest tty.txt)" -le 40 ]
	[ "$(widest tty.txt)" -ge 35 ]
	grep -q '\.\.\.' tty.txt
}

# ---- rollback's health wait ----

# rollback_setup HEALTH_PATH: v1 good, v2 failed, the symlink driver, health
# at the fault server's HEALTH_PATH, two healthy answers needed.
rollback_setup() {
	export SHIPSHAPE_DEPLOY_PID=$$
	mkdir -p releases/v1 releases/v2
	jq -n --arg dir "$PWD/releases" --arg url "$FAULT_URL" --arg path "$1" \
		'{service:{name:"api"},api:{base_url:$url,health_path:$path},
		  monitoring:{health_check:{timeout:"1s",success_threshold:2}},
		  deploy:{driver:"symlink",symlink:{releases_dir:$dir}}}' >config.json
	local r
	for r in "v1 ok" "v2 failed"; do
		deploy-stage -c config.json begin --release "${r% *}" >/dev/null
		deploy-stage -c config.json apply >/dev/null
		deploy-stage -c config.json finish --result "${r#* }" >/dev/null
	done
}

@test "rollback: the health wait's probes, healthy ones in a row of those needed, drawn on a terminal" {
	shopt -s extglob
	rollback_setup /delay/200
	on_tty 100 "rollback -c config.json --interval 200ms"
	assert_equal "$status" 0
	drawn_in_place
	grep -q "health of $FAULT_URL/delay/200: probe 1, 0/2 healthy in a row (at most 1m)" tty.txt
	grep -q 'probe 2, 1/2 healthy in a row' tty.txt
	[[ $(tail -c 4 tty.txt | od -An -c | tr -d ' ') == '\r033[K' ]]
	assert_equal "$(jq -r .status out.txt)" ok
	assert_equal "$(readlink current)" "$PWD/releases/v1"
}

@test "rollback: an unhealthy wait in warning colour; none in a pipe or with -q; NO_COLOR, C locale, 40 columns" {
	shopt -s extglob
	rollback_setup /status/503
	on_tty 100 "rollback -c config.json --health-timeout 1s --interval 200ms"
	assert_equal "$status" 2
	grep -q 'probe [2-9], 0/2 healthy in a row (at most 1s)' tty.txt
	grep -q $'\e\\[33m' tty.txt
	# the message of the failure is a line of its own, the progress line gone before it
	grep -q $'\r\e\\[Krollback: rollback to v1 failed' tty.txt
	rollback_setup /status/503
	rollback -c config.json --health-timeout 600ms --interval 100ms >out.txt 2>err.txt || true
	grep -q 'rollback to v1 failed' err.txt
	no_progress err.txt
	rollback_setup /status/503
	on_tty 100 "rollback -q -c config.json --health-timeout 600ms --interval 100ms"
	assert_equal "$status" 2
	no_progress tty.txt
	rollback_setup /status/503
	on_tty 40 "NO_COLOR=1 LC_ALL=C rollback -c config.json --health-timeout 1s --interval 100ms"
	drawn_in_place
	no_colour tty.txt
	ascii_only tty.txt
	[ "$(widest tty.txt)" -le 40 ]
	[ "$(widest tty.txt)" -ge 35 ]
}
