#!/usr/bin/env bats
# hygiene: what every tool does about the process it was started as — fds
# 0-2 closed, a reader that is gone, a -c FILE that is a FIFO, a state
# directory someone else could have prepared, a symlink planted in it. One
# table of tool runs per property, one driver each. Nothing listens on the
# config's port: every probe fails fast on loopback.
load helpers/common
load helpers/services

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_DEPLOY_PID=$$
	local port
	port=$(free_port)
	jq -n --arg base "http://127.0.0.1:$port" --arg db "postgresql://app@127.0.0.1:$port/app" \
		'{service:{name:"api"}, database:{url:$db}, api:{base_url:$base, health_path:"/health"},
		  monitoring:{health_check:{endpoints:[{name:"api", url:($base + "/health")}]}},
		  deploy:{driver:"command"}, analysis:{prometheus:{url:$base}, metrics:[{name:"up", query:"up"}]}}' >cfg.json
	printf 'environment: production\nservice: {name: api}\nalerts:\n  webhook: {url: "http://127.0.0.1:%s/hook"}\n  group_wait: 0s\n  retry: {attempts: 1, initial_backoff: 50ms, max_backoff: 50ms}\n  timeout: 1s\n' \
		"$port" >alerts.yaml
	echo 'a: 1' >t.yaml
	jq -cn '{kind:"alert", status:"firing", labels:{alertname:"HealthCheckFailed", target:"api", severity:"critical"},
		 annotations:{summary:"api is down"}, startsAt:"2026-01-01T00:00:00Z"}' >alert.jsonl
}

# each_row TABLE FUNCTION: FUNCTION STDIN WORDS... for each line "STDIN
# WORDS..." of TABLE; fails naming every row FUNCTION failed for.
each_row() {
	local table=$1 fn=$2 in words failed=()
	while read -r in words; do
		[ -n "$in" ] || continue
		local -a argv
		read -ra argv <<<"$words"
		"$fn" "$in" "${argv[@]}" || failed+=("$words")
	done <<<"$table"
	if [ "${#failed[@]}" -gt 0 ]; then
		printf 'failed for: %s\n' "${failed[@]}"
		return 1
	fi
}

# Each tool, in a run that writes to stdout (health-watch: forever).
PRINTING="
/dev/null   cfg-resolve t.yaml
/dev/null   db-check -c cfg.json -t 2s
/dev/null   svc-probe -c cfg.json -t 2s
/dev/null   metric-check -c cfg.json -t 2s
/dev/null   deploy-stage -c cfg.json status
/dev/null   rollback -q -c cfg.json --check
/dev/null   health-watch -c cfg.json -i 100ms --probe-timeout 1s --emit all
alert.jsonl alert-send --dry-run -c alerts.yaml
"

# reader_gone STDIN CMD...: CMD with stdout a pipe whose reader has closed
# before the first write; checks exit 3 with one line saying so (last:
# rollback --check also says why the check is critical).
reader_gone() {
	local in=$1 rw w rc=0
	shift
	rm -f gone.fifo err
	mkfifo gone.fifo
	exec {rw}<>gone.fifo # a reader, so that opening the write end does not wait
	exec {w}>gone.fifo
	exec {rw}<&- # ... and now none
	rm gone.fifo
	timeout 10 "$@" <"$in" >&"$w" 2>err || rc=$?
	exec {w}>&-
	mapfile -t lines <err
	if [ "$rc" -ne 3 ] || [ "$(grep -c 'unable to write' err)" -ne 1 ] ||
		[[ ${lines[-1]} != "$1: unable to write "*": Broken pipe"* ]]; then
		echo "$*: exit $rc, stderr: $(cat err)"
		return 1
	fi
}

@test "a reader that is gone: every tool exits 3 with one line, none dies of SIGPIPE or runs on" {
	each_row "$PRINTING" reader_gone
}

# Each tool, in a run that ends by itself; alert-send twice: --dry-run
# (libcurl's socketpair must not become its stdin) and not.
ENDING="
/dev/null cfg-resolve t.yaml
/dev/null db-check -c cfg.json -t 2s
/dev/null svc-probe -c cfg.json -t 2s
/dev/null metric-check -c cfg.json -t 2s
/dev/null deploy-stage -c cfg.json status
/dev/null rollback -q -c cfg.json --check
/dev/null health-watch -c cfg.json --count 1 -i 100ms --probe-timeout 1s
/dev/null alert-send --dry-run -c alerts.yaml
/dev/null alert-send -c alerts.yaml
"

# closed_fds STDIN CMD...: CMD with fds 0, 1 and 2 closed exits as it does
# with /dev/null on each, within the bound.
closed_fds() {
	shift
	local want=0 got=0
	timeout 10 "$@" </dev/null >/dev/null 2>&1 || want=$?
	timeout 10 "$@" <&- >&- 2>&- || got=$?
	if [ "$want" -eq 124 ] || [ "$got" -ne "$want" ]; then
		echo "$*: exit $got with fds 0-2 closed, $want with /dev/null"
		return 1
	fi
}

@test "fds 0-2 closed: every tool runs as with /dev/null on them" {
	each_row "$ENDING" closed_fds
}

@test "alert-send with stdin closed reads no file of its own as alerts" {
	mkdir -p "$SHIPSHAPE_STATE_DIR/alert-send"
	cp alert.jsonl "$SHIPSHAPE_STATE_DIR/alert-send/lock"
	# not through `run`: its command substitution's pipe would take fd 0
	local rc=0
	timeout 10 alert-send -c alerts.yaml <&- >out 2>err || rc=$?
	assert_equal "$rc" 0
	[ ! -s out ]
}

# Each tool's config option (and cfg-resolve's files and -e) naming FIFO.
FIFO_CONFIG="
/dev/null cfg-resolve FIFO
/dev/null cfg-resolve -c FIFO
/dev/null cfg-resolve -e FIFO t.yaml
/dev/null db-check -c FIFO
/dev/null svc-probe -c FIFO
/dev/null metric-check -c FIFO
/dev/null deploy-stage -c FIFO status
/dev/null rollback -c FIFO --check
/dev/null health-watch -c FIFO
/dev/null alert-send -c FIFO
"

# fifo_refused STDIN CMD...: CMD (FIFO standing for a FIFO nobody writes)
# exits 65 at once with one line naming it.
fifo_refused() {
	local in=$1 rc=0
	shift
	rm -f fifo err
	mkfifo fifo
	timeout 10 "${@/#FIFO/fifo}" <"$in" >out 2>err || rc=$?
	mapfile -t lines <err
	if [ "$rc" -ne 65 ] || [ "${#lines[@]}" -ne 1 ] || [[ ${lines[0]} != "$1: "*"fifo"*": not a regular file" ]] ||
		[ -s out ]; then
		echo "$*: exit $rc, stderr: $(cat err)"
		return 1
	fi
}

@test "-c FIFO with no writer: every tool refuses it at once (65, one line naming it)" {
	each_row "$FIFO_CONFIG" fifo_refused
}

# Each tool's config from a pipe named /dev/fd/N (bash's <(...)), CONFIG
# standing for it; the same config as a file (cfg-resolve: YAML; the others:
# a JSON config document, what a pipe from cfg-resolve carries).
PIPE_CONFIG="
/dev/null   cfg-resolve CONFIG
/dev/null   db-check -c CONFIG -t 2s
/dev/null   svc-probe -c CONFIG -t 2s
/dev/null   metric-check -c CONFIG -t 2s
/dev/null   deploy-stage -c CONFIG status
/dev/null   rollback -q -c CONFIG --check
/dev/null   health-watch -c CONFIG --count 1 -i 100ms --probe-timeout 1s
alert.jsonl alert-send --dry-run -c CONFIG
"

# pipe_config STDIN CMD...: CMD exits as it does with the config in a file.
pipe_config() {
	local in=$1 file=cfg.json want=0 got=0
	shift
	case $1 in
	cfg-resolve) file=t.yaml ;;
	alert-send) file=alerts.json ;;
	esac
	timeout 10 "${@/#CONFIG/$file}" <"$in" >/dev/null 2>&1 || want=$?
	timeout 10 "${@/#CONFIG//dev/fd/9}" <"$in" 9< <(cat "$file") >/dev/null 2>&1 || got=$?
	if [ "$want" -eq 65 ] || [ "$want" -eq 124 ] || [ "$got" -ne "$want" ]; then
		echo "$*: exit $got from a pipe, $want from a file"
		return 1
	fi
}

@test "a config on a pipe the caller holds (/dev/stdin, /dev/fd/N) is read as a file is" {
	cfg-resolve alerts.yaml >alerts.json
	each_row "$PIPE_CONFIG" pipe_config
	run --separate-stderr deploy-stage -c /dev/stdin status <cfg.json
	assert_success
	assert_equal "$(json_get .service)" api
}

# Each tool that keeps state.
STATEFUL="
/dev/null deploy-stage -c cfg.json status
/dev/null rollback -q -c cfg.json --check
/dev/null alert-send -c alerts.yaml
"

# state_dir_refused STDIN CMD...: with $SHIPSHAPE_STATE_DIR as it was made,
# CMD exits 3 with one line naming the directory.
state_dir_refused() {
	local in=$1 rc=0
	shift
	timeout 10 "$@" <"$in" >out 2>err || rc=$?
	mapfile -t lines <err
	if [ "$rc" -ne 3 ] || [ "${#lines[@]}" -ne 1 ] ||
		[[ ${lines[0]} != "$1: refusing the state directory $SHIPSHAPE_STATE_DIR: "* ]]; then
		echo "$*: exit $rc, stderr: $(cat err)"
		return 1
	fi
}

# state_dir_used STDIN CMD...: CMD does not refuse $SHIPSHAPE_STATE_DIR.
state_dir_used() {
	local in=$1 rc=0
	shift
	timeout 10 "$@" <"$in" >out 2>err || rc=$?
	if [ "$rc" -eq 3 ] || [ "$rc" -eq 124 ] || grep -q 'state directory' err; then
		echo "$*: exit $rc, stderr: $(cat err)"
		return 1
	fi
}

@test "a state directory another user owns or can write is refused, sticky or not" {
	local how
	for how in "chmod 0777" "chmod 1777" "chmod 0770" "chmod 0702" "chown nobody"; do
		export SHIPSHAPE_STATE_DIR="$BATS_TEST_TMPDIR/state-${how// /-}"
		mkdir -m 0700 "$SHIPSHAPE_STATE_DIR"
		$how "$SHIPSHAPE_STATE_DIR"
		each_row "$STATEFUL" state_dir_refused || { echo "state directory after $how"; return 1; }
	done
	for how in "chmod 0700" "chmod 0755"; do
		export SHIPSHAPE_STATE_DIR="$BATS_TEST_TMPDIR/state-${how// /-}"
		mkdir -m 0700 "$SHIPSHAPE_STATE_DIR"
		$how "$SHIPSHAPE_STATE_DIR"
		each_row "$STATEFUL" state_dir_used || { echo "state directory after $how"; return 1; }
	done
	# --state-dir is checked as the environment's is
	mkdir -m 0777 loose
	chmod 0777 loose
	run --separate-stderr deploy-stage -c cfg.json --state-dir "$PWD/loose" status
	assert_equal "$status" 3
	assert_equal "$stderr" "deploy-stage: refusing the state directory $PWD/loose: writable by every user (it must be yours or root's, and writable by no one else)"
	# in nagios mode the same line is also the status line
	run --separate-stderr rollback -c cfg.json --check --format nagios --state-dir "$PWD/loose"
	assert_equal "$status" 3
	assert_equal "$stderr" "rollback: refusing the state directory $PWD/loose: writable by every user (it must be yours or root's, and writable by no one else)"
	assert_output "rollback UNKNOWN - refusing the state directory $PWD/loose: writable by every user (it must be yours or root's, and writable by no one else)"
}

@test "a symlink planted in the state directory is not followed: inbox, instance lock, journal guard" {
	echo precious >victim
	mkdir -p "$SHIPSHAPE_STATE_DIR/alert-send"
	ln -s "$PWD/victim" "$SHIPSHAPE_STATE_DIR/alert-send/inbox.jsonl"
	run --separate-stderr timeout 10 alert-send -c alerts.yaml <alert.jsonl
	assert_equal "$status" 3
	[[ ${stderr_lines[0]} == "alert-send: unable to open $SHIPSHAPE_STATE_DIR/alert-send/inbox.jsonl: "* ]]
	assert_equal "$(cat victim)" precious
	rm "$SHIPSHAPE_STATE_DIR/alert-send/inbox.jsonl" "$SHIPSHAPE_STATE_DIR/alert-send/lock"
	# a dangling one creates nothing where it points
	ln -s "$PWD/made-by-lock" "$SHIPSHAPE_STATE_DIR/alert-send/lock"
	run --separate-stderr timeout 10 alert-send -c alerts.yaml </dev/null
	assert_equal "$status" 3
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == "alert-send: unable to open $SHIPSHAPE_STATE_DIR/alert-send/lock: "* ]]
	[ ! -e made-by-lock ]
	mkdir -p "$SHIPSHAPE_STATE_DIR/deploy/api"
	ln -s "$PWD/made-by-guard" "$SHIPSHAPE_STATE_DIR/deploy/api/.guard"
	run --separate-stderr timeout 10 deploy-stage -c cfg.json begin --release r1
	assert_equal "$status" 3
	[ ! -e made-by-guard ]
	[ ! -e "$SHIPSHAPE_STATE_DIR/deploy/api/lock" ]
}

@test "text output is plain ASCII under LC_ALL=C, and the em dash under a UTF-8 locale" {
	echo 'environment: development' >dev.yaml
	run --separate-stderr env LC_ALL=C cfg-resolve --check --format text dev.yaml
	[[ $output == *"cfg-resolve: "*" - "*"checks"* ]]
	run bash -c 'LC_ALL=C cfg-resolve --check --format text dev.yaml 2>/dev/null | LC_ALL=C grep -c "[^ -~]"'
	assert_equal "$output" 0
	run --separate-stderr env LC_ALL= LANG=C.UTF-8 cfg-resolve --check --format text dev.yaml
	[[ $output == *"cfg-resolve: "*" — "*"checks"* ]]
}

# libcommon's file-level call graph, from its object files (nm: what each
# leaves undefined that another defines; tests/helpers/libdeps.awk).
libcommon_nm() {
	local objs
	objs=$(find "$SHIPSHAPE_BUILD/obj/libcommon" -name '*.o' | sort)
	[ -n "$objs" ] || { echo "no object files under $SHIPSHAPE_BUILD/obj/libcommon"; return 1; }
	# shellcheck disable=SC2086
	nm -A $objs
}

@test "libcommon: no two files call each other's functions, directly or in a longer circle" {
	libcommon_nm >nm.txt
	[ "$(awk -v mode=edges -f "$REPO_ROOT/tests/helpers/libdeps.awk" nm.txt | wc -l)" -gt 100 ]
	run awk -v mode=cycles -f "$REPO_ROOT/tests/helpers/libdeps.awk" nm.txt
	assert_success
	assert_output ''
}

@test "libcommon: a folder calls only the folders before it (base <- config <- http <- deploy, base <- alert)" {
	libcommon_nm >nm.txt
	run awk -v mode=layers -f "$REPO_ROOT/tests/helpers/libdeps.awk" nm.txt
	assert_success
	assert_output ''
}

@test "libdeps.awk finds a circle and a call against the folder order" {
	printf '%s\n' 'o/obj/libcommon/base/a.o:0 T fa' 'o/obj/libcommon/base/a.o:  U fb' \
		'o/obj/libcommon/base/b.o:0 T fb' 'o/obj/libcommon/base/b.o:  U fc' \
		'o/obj/libcommon/config/c.o:0 T fc' 'o/obj/libcommon/alert/d.o:  U fc' >fake.txt
	run awk -v mode=cycles -f "$REPO_ROOT/tests/helpers/libdeps.awk" fake.txt
	assert_output ''
	printf '%s\n' 'o/obj/libcommon/config/c.o:  U fa' >>fake.txt
	run awk -v mode=cycles -f "$REPO_ROOT/tests/helpers/libdeps.awk" fake.txt
	assert_output 'base/a base/b config/c'
	run awk -v mode=layers -f "$REPO_ROOT/tests/helpers/libdeps.awk" fake.txt
	assert_line 'base/b config/c fc'
	assert_line 'alert/d config/c fc'
	[ "${#lines[@]}" -eq 2 ]
}

@test "funclen.awk counts a function from its { to its }, an attribute before its name not taken for it" {
	{
		echo '/* a comment */'
		echo '__attribute__((format(printf, 1, 2))) static void say(const char *fmt,'
		printf '\t\t\t\t\t\t\t...)\n{\n'
		for i in $(seq 98); do printf '\tx++;\n'; done
		printf '}\n\nint f(void) {\n\treturn 0;\n}\n'
	} >long.c
	run awk -f "$REPO_ROOT/tests/helpers/funclen.awk" long.c
	assert_output "$(printf '100 long.c:2 say\n3 long.c:105 f')"
}

# The C files of the suite, tests aside: what git tracks, or (a tree
# without .git: a release tarball, a package build) what is there.
suite_c_files() {
	if git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$REPO_ROOT" ls-files '*.c' ':!tests/'
	else
		(cd "$REPO_ROOT" && find libcommon tools bench scripts -name '*.c' 2>/dev/null)
	fi
}

@test "no function is longer than 100 lines, and fewer than 8 are over 80 (funclen.awk, tests aside)" {
	local -a files
	mapfile -t files < <(suite_c_files)
	[ "${#files[@]}" -gt 50 ]
	(cd "$REPO_ROOT" && awk -f tests/helpers/funclen.awk "${files[@]}") >lengths.txt
	[ "$(wc -l <lengths.txt)" -gt 500 ]
	run awk '$1 > 100' lengths.txt
	assert_output ''
	run awk '$1 > 80' lengths.txt
	if [ "${#lines[@]}" -ge 8 ]; then
		printf 'over 80 lines (%d, fewer than 8 allowed):\n' "${#lines[@]}"
		printf '%s\n' "${lines[@]}"
		return 1
	fi
}

# Who in libcommon may end the process (see "Exits" in common.h), for
# tests/helpers/exits.awk: "OBJECT FUNCTION CALLEE", each an awk regular
# expression; any other call to exit, _exit, abort, die ... fails.
LIBCOMMON_EXITS='
common.o (out_of_memory|emalloc|ecalloc|erealloc|estrdup|estrndup|easprintf|evasprintf) exit # out of memory: the e*() helpers
common.o tool_start _exit # fds 0-2 cannot be opened, before anything is held
message.o (die|die_errno|die_with) exit # die() and die_errno(), for a tool to call
subproc.o (subproc_run|spawn|child_exec) _exit # the forked child, when exec fails (where child_exec() is inlined)
state_pg.o (state_pg_lock_take|keeper) _exit # the lock keeper, a forked child that ends itself
'

@test "libcommon never exits: only out of memory, die(), tool_start() and a forked child end the process" {
	local lib=$SHIPSHAPE_BUILD/libcommon.a
	[ -f "$lib" ] || { echo "no $lib"; return 1; }
	objdump -dr "$lib" >lib.dis
	# what it allows is found, so that finding nothing else means something
	run awk -f "$REPO_ROOT/tests/helpers/exits.awk" lib.dis
	assert_line 'common.o out_of_memory exit'
	assert_line 'common.o tool_start _exit'
	run awk -v allow="$LIBCOMMON_EXITS" -f "$REPO_ROOT/tests/helpers/exits.awk" lib.dis
	assert_success
	assert_output ''
}

@test "exits.awk names each function that exits, aborts or dies, in whatever object, and passes what it is told to" {
	cat >planted.c <<'C'
#include <stdlib.h>
#include <unistd.h>
void die(int status, const char *fmt, ...) __attribute__((noreturn));
void leaves(int s) { exit(s); }
void quits(void) { abort(); }
void tool_start(const char *a) { if (!a) _exit(3); }
int dies(int s) { if (s > 9) die(3, "%d", s); return s; }
int returns(int s) { return s + 1; }
C
	"${CC:-cc}" -O2 -c -o planted.o planted.c
	objdump -dr planted.o >planted.dis
	run sh -c 'awk -v allow="$1" -f "$2" planted.dis | sort' - "$LIBCOMMON_EXITS" "$REPO_ROOT/tests/helpers/exits.awk"
	assert_output "$(printf '%s\n' 'planted.o dies die' 'planted.o leaves exit' 'planted.o quits abort' 'planted.o tool_start _exit')"
	run awk -v allow='planted.o (leaves|quits) (exit|abort) # a comment
planted.o tool_start _exit' -f "$REPO_ROOT/tests/helpers/exits.awk" planted.dis
	assert_output 'planted.o dies die'
}

# compile_objects DIR: libcommon's and the tools' object files, by the
# Makefile's flags and file lists, into DIR/obj/{libcommon,tools}/, with
# -O0: no call inlined away (a function only called in its own file is
# called). A make of its own: nothing in $SHIPSHAPE_BUILD is touched.
compile_objects() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j2 --no-print-directory -C "$REPO_ROOT" -f Makefile -f - \
		BUILD="$1" SANITIZE= CPPFLAGS= CFLAGS=-O0 hygiene-objects <<'MAKE'
hygiene-objects: $(LIB_OBJ) $(patsubst %.c,$(BUILD)/obj/%.o,$(TOOL_SRC) $(wildcard $(TOOL_DIRS:%=%/*.c)))
$(BUILD)/obj/tools/%.o: tools/%.c $(HEADERS) ; @mkdir -p $(@D) && $(CC) -I$(dir $<) $(ALL_CFLAGS) -c -o $@ $<
MAKE
}

# objdump_refs: in ., the symbols, code and relocations of every object
# under obj/, as tests/helpers/unused.awk reads them.
objdump_refs() {
	local -a objs
	mapfile -t objs < <(find obj -name '*.o' | sort)
	objdump -t -dr "${objs[@]}" && objdump -r "${objs[@]}"
}

# Global functions of libcommon that no tool calls and that stay, for
# tests/helpers/unused.awk: "NAME # why", one a line.
LIBCOMMON_UNUSED='
redact_clear # the unit tests and fuzz targets forget the secrets between documents
rest_client_pending # the loop condition of the async REST client (rest.h): its tests drive it; alert-send drives the engine itself
'

@test "nothing in libcommon is unused: every global function is called by a tool or by libcommon itself" {
	compile_objects "$PWD/o0"
	cd o0
	objdump_refs >refs.txt
	# what it allows is found, so that finding nothing else means something
	run awk -f "$REPO_ROOT/tests/helpers/unused.awk" refs.txt
	assert_line 'redact_clear obj/libcommon/base/redact.o'
	run awk -v allow="$LIBCOMMON_UNUSED" -f "$REPO_ROOT/tests/helpers/unused.awk" refs.txt
	assert_success
	assert_output ''
}

@test "unused.awk names a global function nothing calls, not one called in its own file, by a tool or from a table" {
	mkdir -p obj/libcommon/base obj/tools
	cat >lib.c <<'C'
void by_tool(void) {}
void in_file(void) {}
void in_table(void) {}
void recursive(int n) { if (n) recursive(n - 1); }
void planted(void) { in_file(); }
static void twin(void) {}
void (*lib_table[])(void) = {in_table, twin};
C
	printf '%s\n' 'void by_tool(void);' 'static void twin(void) { by_tool(); }' \
		'int main(void) { twin(); return 0; }' >tool.c
	"${CC:-cc}" -O0 -c -o obj/libcommon/base/lib.o lib.c
	"${CC:-cc}" -O0 -c -o obj/tools/tool.o tool.c
	objdump_refs >refs.txt
	run sh -c 'awk -f "$1" refs.txt | sort' - "$REPO_ROOT/tests/helpers/unused.awk"
	assert_output "$(printf '%s\n' 'planted obj/libcommon/base/lib.o' 'recursive obj/libcommon/base/lib.o')"
	run awk -v allow='planted # a comment' -f "$REPO_ROOT/tests/helpers/unused.awk" refs.txt
	assert_output 'recursive obj/libcommon/base/lib.o'
}
