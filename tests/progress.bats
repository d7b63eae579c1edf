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
# columns, stdout to out.txt; what the terminal showed (CMD's stderr) in
# tty.txt; CMD's exit status in $status.
on_tty() {
	status=0
	timeout 60 script -qfec "stty cols $1 rows 24; $2 >out.txt" /dev/null </dev/null >tty.txt || status=$?
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

# widest FILE: the most characters any line of FILE holds, a line being
# what lies between two \r or \n, escape sequences aside.
widest() {
	local line max=0
	while IFS= read -r line; do
		line=${line//$'\e'\[+([0-9;])m/}
		line=${line//$'\e'\[K/}
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
