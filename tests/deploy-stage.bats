#!/usr/bin/env bats
# deploy-stage: locks, begin, gate, apply, finish, status, history; the
# journal under crashes, truncation and write failures; the command, symlink
# and render drivers (render against the project's fake Render server).
load helpers/common
load helpers/services

setup_file() {
	start_fakerender render-test-key-8c1f0e
	start_faultsrv
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	# the deploy lock follows this test's process
	export SHIPSHAPE_DEPLOY_PID=$$
	command_config
}

# command_config [ARGV_JSON]: config.json with the command driver.
command_config() {
	local argv=${1:-'["sh","-c","echo deploying $SHIPSHAPE_RELEASE over $SHIPSHAPE_PREVIOUS_RELEASE"]'}
	jq -n --argjson argv "$argv" \
		'{service:{name:"api"},deploy:{driver:"command",timeout:"5s",command:{deploy:$argv}},
		  security:{jwt_secret:"jwt-secret-value-4242"}}' >config.json
}

report() { # report TOOL STATUS: one report document
	jq -cn --arg t "$1" --arg s "$2" \
		'{kind:"report",tool:$t,status:$s,summary:("\($t) \($s)"),checks:[{name:"\($t).x",status:$s,message:"m"}]}'
}

journal() { cat "$SHIPSHAPE_STATE_DIR/deploy/api/$(printf '%06d' "$1").jsonl"; }

ds() { deploy-stage -c config.json "$@"; }

# deploy_ok RELEASE: a whole deploy that finishes ok.
deploy_ok() {
	ds begin --release "$1" >/dev/null
	ds apply >/dev/null
	ds finish --result ok >/dev/null
}

@test "--help prints the synopsis on stdout; usage errors exit 64" {
	run --separate-stderr deploy-stage --help
	assert_success
	assert_output --partial "usage: deploy-stage"
	run --separate-stderr deploy-stage
	assert_equal "$status" 64
	run --separate-stderr deploy-stage launch
	assert_equal "$status" 64
	[[ $stderr == *'deploy-stage: unknown command "launch"'* ]]
	run --separate-stderr ds gate predeploy
	assert_equal "$status" 64
	[[ $stderr == *'unknown stage "predeploy"'* ]]
	run --separate-stderr ds begin
	assert_equal "$status" 64
	run --separate-stderr ds finish --result maybe
	assert_equal "$status" 64
	run --separate-stderr ds lock grab
	assert_equal "$status" 64
	run --separate-stderr ds begin --release ../etc
	assert_equal "$status" 64
	run --separate-stderr ds begin --release "$(printf 'v2\033[31m')"
	assert_equal "$status" 64
	# a bad flag is one line naming it, never the whole usage
	for args in --bogus -x "lock acquire --wait" "history --limit" "--force=1 status" -c ""; do
		run --separate-stderr deploy-stage $args
		echo "$args: $stderr" >&2
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[[ $stderr == "deploy-stage: "* ]]
		[ -z "$output" ]
	done
	[[ $stderr == *"no command given"* ]]
}

@test "--help, the man page and the parser name the same options and commands" {
	help=$(deploy-stage --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
	man=$(sed '/^\.SH EXAMPLES/,$d' "$REPO_ROOT/man/man1/deploy-stage.1" | grep -oE -- '\\-\\-[a-z]+(\\-[a-z]+)*' | sed 's/\\//g' | sort -u)
	assert_equal "$man" "$help"
	for o in $help; do
		run --separate-stderr deploy-stage "$o"
		[[ $stderr != *"unknown or ambiguous option"* ]]
	done
	for cmd in lock begin gate apply finish status history e2e alert; do
		deploy-stage --help | grep -q "^ *\(usage: \)\?deploy-stage $cmd" || { echo "--help: $cmd" >&2; false; }
		grep -q "^\.B deploy-stage $cmd" "$REPO_ROOT/man/man1/deploy-stage.1" || { echo "SYNOPSIS: $cmd" >&2; false; }
		run --separate-stderr deploy-stage "$cmd"
		[[ $stderr != *"unknown command"* ]]
	done
}

@test "begin, gate, apply, finish: a deploy recorded in the journal" {
	run --separate-stderr ds begin --release v1 -m "first release"
	assert_success
	assert_equal "$(json_get .type)" begin
	assert_equal "$(json_get .deploy)" 1
	assert_equal "$(json_get .previous)" null
	[[ "$(json_get .config_digest)" == sha256:* ]]
	report db-check ok | ds gate pre-deploy >gate.json
	assert_equal "$(jq -r .gate.passed gate.json)" true
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .status)" ok
	assert_equal "$(json_get .data.output)" "deploying v1 over"
	run --separate-stderr ds finish --result ok
	assert_success
	assert_equal "$(json_get .result)" ok

	deploy_ok v2
	run --separate-stderr ds history
	assert_success
	assert_equal "$(printf '%s\n' "$output" | jq -s 'length')" 2
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[1] | "\(.release) \(.previous) \(.result)"')" "v2 v1 ok"
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[0].stages | map(.stage + ":" + .result) | join(",")')" \
		"pre-deploy:passed,application:ok"
	# every journal line is a whole JSON record of the deploy
	run jq -s 'map(select(.kind == "journal" and .deploy == 2)) | length' <(journal 2)
	assert_output 5
	run --separate-stderr ds status
	assert_equal "$(json_get .state)" idle
	assert_equal "$(json_get .current_release)" v2
	assert_equal "$(json_get .last_good_release)" v2
	run --separate-stderr ds history --format text
	assert_line --index 0 --partial "REVISION"
	assert_line --index 2 --regexp '^2 +.* deploy +v2 +v1 +ok '
	# columns as wide as their cells: every description starts under its heading
	header=${lines[0]%%DESCRIPTION*}
	assert_equal "${lines[1]:${#header}}" "first release"
	[[ ${lines[1]:0:${#header}} == *"pre-deploy+ application/apply+ "* ]]
}

@test "history marks the live revision and the superseded ones, says who, how long and which stage failed" {
	unset SHIPSHAPE_ACTOR GITHUB_ACTIONS GITLAB_CI BUILDKITE CIRCLECI # the CI this runs on is not the one tested
	deploy_ok v1
	GITHUB_ACTIONS=true GITHUB_ACTOR=octocat deploy_ok v2
	# a CI actor without its CI's own marker is not believed
	GITHUB_ACTOR=mallory ds begin --release v3 >/dev/null
	ds apply >/dev/null
	report svc-probe critical | ds gate post-deploy >/dev/null || true
	rollback -c config.json --no-verify >/dev/null
	ds begin --release v4 >/dev/null
	report db-check critical | ds gate pre-deploy >/dev/null || true
	ds finish --result failed >/dev/null
	run --separate-stderr ds history
	assert_success
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'map("\(.deploy):\(.release):\(.result):\(.mark)") | join(" ")')" \
		"1:v1:ok:superseded 2:v2:ok:superseded 3:v3:failed:superseded 4:v2:ok:live 5:v4:failed:null"
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[1].who')" "octocat (github-actions)"
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[2].who')" "$(id -un)@$(hostname)"
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'map(.failed_stage) | join(",")')" ",,post-deploy,,pre-deploy"
	printf '%s\n' "$output" | jq -se 'all(.duration_ms | type == "number" and . >= 0)' >/dev/null
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[2].finish_message')" "rolled back to v2 by deploy 4"
	run --separate-stderr ds history --format text
	assert_line --index 0 --regexp '^REVISION +STARTED \(UTC\) +ACTION +RELEASE +PREVIOUS +RESULT +LIVE +BY +TOOK +STAGES +DESCRIPTION$'
	assert_line --index 2 --regexp '^2 +.* v2 +v1 +ok +superseded +octocat \(github-actions\) +[0-9]+m?s '
	assert_line --index 3 --regexp '^3 +.* v3 +v2 +failed \(post-deploy\) +superseded '
	assert_line --index 4 --regexp '^4 +.* rollback +v2 +v3 +ok +live '
	assert_line --index 5 --regexp '^5 +.* v4 +v2 +failed \(pre-deploy\) +- '
}

# plan_config ENV JWT DBPW MIGRATION [EXTRA_JQ]: config.json for the plan tests.
plan_config() {
	jq -n --arg env "$1" --arg jwt "$2" --arg pw "$3" --arg mig "$4" \
		'{service:{name:"api"},environment:$env,
		  database:{url:("postgres://app:" + $pw + "@127.0.0.1:9/db"),migrations:{version:$mig}},
		  security:{jwt_secret:$jwt},deploy:{driver:"command",timeout:"5s",command:{deploy:["true"]}}}' |
		jq "${5:-.}" >config.json
}

migrations_report() { # migrations_report EXPECTED LATEST APPLIED
	jq -cn --arg e "$1" --arg l "$2" --argjson a "$3" \
		'{kind:"report",tool:"db-check",status:"ok",summary:"db-check ok",
		  checks:[{name:"db.migrations",status:(if $a then "ok" else "critical" end),message:"m",
			   data:{expected:$e,latest:$l,applied:$a}}]}'
}

@test "plan: what a deploy would change, key by key, secrets only as changed or not, and nothing is changed" {
	jwt1=canary-jwt-one-5f1c2a9e jwt2=canary-jwt-two-77d0b3c4 pw=canary-dbpw-0e9a1f44
	plan_config staging "$jwt1" "$pw" 20261101 '.deploy.command.rollback = ["false"]'
	ds begin --release v1 >/dev/null
	migrations_report 20261101 20261101 true | ds gate pre-deploy >/dev/null
	ds apply >/dev/null
	ds finish --result ok >/dev/null
	dir=$SHIPSHAPE_STATE_DIR/deploy/api
	[ "$(stat -c %a "$dir/snapshot.key")" = 600 ]
	# the journal keeps the snapshot, each secret as a keyed hash, never the secret or its plain hash
	assert_equal "$(journal 1 | jq -r 'select(.type=="config") | .values["security.jwt_secret"].secret' | cut -c1-12)" "hmac-sha256:"
	for s in "$jwt1" "$pw" "$(printf %s "$jwt1" | sha256sum | cut -c1-64)" "$(printf '"%s"' "$jwt1" | sha256sum | cut -c1-64)"; do
		! grep -rqF "$s" "$SHIPSHAPE_STATE_DIR"
	done
	plan_config production "$jwt2" "$pw" 20261201 '.deploy.command.status = ["echo", "v1"]'
	before=$(cd "$SHIPSHAPE_STATE_DIR" && find . -type f -exec sha256sum {} + | sort)
	run --separate-stderr ds plan --release v2
	assert_success
	assert_equal "$(json_get .replaces)" v1
	assert_equal "$(json_get .config.compared_with_deploy)" 1
	assert_equal "$(json_get '.config.diff.changed | map("\(.key):\(.from)>\(.to)") | join(",")')" "environment:staging>production,database.migrations.version:20261101>20261201"
	assert_equal "$(json_get '.config.diff.secrets_changed | join(",")')" "security.jwt_secret"
	assert_equal "$(json_get '.config.diff.secrets_unchanged')" 1
	assert_equal "$(json_get '.config.diff.added | map("\(.key)=\(.value)") | join(",")')" "deploy.command.status[0]=echo,deploy.command.status[1]=v1"
	assert_equal "$(json_get '.config.diff.removed | map("\(.key)=\(.value)") | join(",")')" "deploy.command.rollback[0]=false"
	assert_equal "$(json_get .driver.name)" command
	# the migration: the journal's last db-check saw 20261101; whether 20261201 is there is not known
	assert_equal "$(json_get '"\(.migration.expected) \(.migration.applied) \(.migration.state)"')" "20261201 20261101 unknown"
	[[ $stderr == *"warning: migration: whether 20261201 is applied is not known"* ]]
	# db-check's report of now, given: pending
	migrations_report 20261201 20261101 false >reports.jsonl
	run --separate-stderr ds plan --release v2 reports.jsonl
	assert_equal "$(json_get '"\(.migration.state) \(.migration.source)"')" "pending the reports given"
	run --separate-stderr ds plan --release v2 --format text
	assert_line --index 0 "plan: deploy v2 to api, replacing v1"
	assert_line --partial "  ~ environment: \"staging\" -> \"production\""
	assert_line "  ~ security.jwt_secret: (secret) changed"
	assert_secret_absent "$jwt1" "$output$stderr"
	assert_secret_absent "$jwt2" "$output$stderr"
	assert_secret_absent "$pw" "$output$stderr"
	# nothing changed: no file, no byte
	assert_equal "$(cd "$SHIPSHAPE_STATE_DIR" && find . -type f -exec sha256sum {} + | sort)" "$before"
	# another key (the state directory of another machine): secrets not compared, and it says so
	mv "$dir/snapshot.key" "$dir/key.saved"
	run --separate-stderr ds plan --release v2
	assert_success
	assert_equal "$(json_get '.config.diff.comparable')" false
	assert_equal "$(json_get '.config.diff.secrets_changed | length')" 0
	[[ $stderr == *"warning: config: secrets not compared: no snapshot key yet"* ]]
	[ ! -e "$dir/snapshot.key" ]
}

@test "plan: bad input is one line and its exit status; a first deploy has nothing to compare with" {
	run --separate-stderr ds plan
	assert_equal "$status" 64
	assert_equal "$stderr" "deploy-stage: plan: --release ID is required"
	run --separate-stderr ds plan --release ../x
	assert_equal "$status" 64
	printf '{"kind":"report"\n' >bad.jsonl
	run --separate-stderr ds plan --release v1 bad.jsonl
	assert_equal "$status" 65
	[[ $stderr == "deploy-stage: bad.jsonl:1:"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ]
	echo '{"kind":"event"}' >other.jsonl
	run --separate-stderr ds plan --release v1 other.jsonl
	assert_equal "$status" 65
	assert_equal "$stderr" "deploy-stage: other.jsonl:1: not a report"
	run --separate-stderr ds plan --release v1 missing.jsonl
	assert_equal "$status" 65
	run --separate-stderr ds plan --release v1
	assert_success
	assert_equal "$(json_get .replaces)" null
	assert_equal "$(json_get .config.diff)" null
	assert_equal "$(json_get .config.message)" "no earlier successful deploy: nothing to compare with"
	assert_equal "$(json_get .migration.state)" none
}

# on_tty COLS CMD...: CMD run on a pseudo-terminal COLS wide (util-linux
# script), its output with the terminal's \r dropped.
on_tty() {
	local cols=$1
	shift
	TERM=xterm script -qfec "stty cols $cols; $(printf '%q ' "$@")" /dev/null </dev/null | tr -d '\r'
}

@test "history on a terminal: the table fits its width, colour only there and never with NO_COLOR, ASCII under LC_ALL=C" {
	deploy_ok v1
	ds begin --release v2 -m "a reason long enough to be cut on any narrow terminal, with a café in it" >/dev/null
	ds finish --result failed >/dev/null
	for cols in 200 100 60 40; do
		on_tty "$cols" deploy-stage -c config.json history --format text >out
		[ "$(wc -l <out)" = 3 ]
		awk -v w="$cols" '{ gsub(/\033\[[0-9;]*m/, ""); if (length($0) > w) { print "too wide: " $0; exit 1 } }' out
	done
	on_tty 200 deploy-stage -c config.json history --format text >wide
	grep -q $'\033\[32mok\033\[0m' wide
	grep -q 'café in it$' wide
	on_tty 60 deploy-stage -c config.json history --format text >narrow
	grep -q '\.\.\.$' narrow
	! grep -q PREVIOUS narrow
	NO_COLOR=1 on_tty 200 deploy-stage -c config.json history --format text >plain
	! grep -q $'\033' plain
	LC_ALL=C on_tty 200 deploy-stage -c config.json history --format text >ascii
	! LC_ALL=C grep -q '[^ -~]' <(sed 's/\x1b\[[0-9;]*m//g' ascii)
	grep -q 'caf? in it$' ascii
	# in a pipe: every column, nothing cut, no colour, the bytes as they are
	ds history --format text >pipe
	! grep -q $'\033' pipe
	grep -q 'PREVIOUS' pipe
	grep -q 'café in it$' pipe
}

@test "a printed record is its journal line, member for member" {
	ds begin --release v1 -m "first" >begin.json
	report db-check ok | ds gate pre-deploy >/dev/null
	ds apply >apply.json
	ds finish --result ok >finish.json
	# the same bytes: same members, same order (kind, type, service, deploy, time first)
	assert_equal "$(cat begin.json)" "$(journal 1 | sed -n 1p)"
	assert_equal "$(cat apply.json)" "$(journal 1 | grep '"type":"apply"' | tail -n 1)"
	assert_equal "$(cat finish.json)" "$(journal 1 | tail -n 1)"
	assert_equal "$(jq -r 'keys_unsorted[:5] | join(",")' finish.json)" "kind,type,service,deploy,time"
	run --separate-stderr ds lock status
	assert_equal "$(json_get 'keys_unsorted[:2] | join(",")')" "kind,type"
}

@test "a lock message never holds a secret" {
	ds lock acquire -m "rotating jwt-secret-value-4242" >/dev/null
	run --separate-stderr ds lock status
	assert_success
	assert_secret_absent jwt-secret-value-4242 "$output" "$stderr" "$(cat "$SHIPSHAPE_STATE_DIR/deploy/api/lock")"
	[[ $(json_get .message) == "rotating ***" ]]
	ds lock release >/dev/null
}

@test "the journal records a digest of the config, never its content" {
	ds begin --release v1 >/dev/null
	run grep -r "jwt-secret-value-4242" "$SHIPSHAPE_STATE_DIR"
	assert_failure
	digest1=$(journal 1 | jq -r 'select(.type=="begin").config_digest')
	ds finish --result failed >/dev/null
	jq '.security.jwt_secret = "another-secret-9999"' config.json >c2.json && mv c2.json config.json
	ds begin --release v2 >/dev/null
	digest2=$(journal 2 | jq -r 'select(.type=="begin").config_digest')
	[ "$digest1" != "$digest2" ]
}

@test "two concurrent begins: one deploys, the other gets 75" {
	ds begin --release a >out1 2>err1 &
	ds begin --release b >out2 2>err2 &
	s1=0 s2=0
	wait %1 || s1=$?
	wait %2 || s2=$?
	echo "statuses $s1 $s2" >&2
	[[ ($s1 -eq 0 && $s2 -eq 75) || ($s1 -eq 75 && $s2 -eq 0) ]]
	grep -q "in progress" err1 err2
	run ls "$SHIPSHAPE_STATE_DIR/deploy/api"
	assert_output --partial 000001.jsonl
	refute_output --partial 000002.jsonl
}

@test "a lock held by a live process: 75 naming who, since when and why" {
	sleep 60 &
	holder=$!
	SHIPSHAPE_DEPLOY_PID=$holder ds lock acquire -m "db migration by hand" >/dev/null
	run --separate-stderr ds begin --release v1
	assert_equal "$status" 75
	[[ $stderr == *"lock held by "*"(pid $holder) since 20"*": db migration by hand"* ]]
	run --separate-stderr ds lock status
	assert_equal "$status" 75
	assert_equal "$(json_get .pid)" "$holder"
	run --separate-stderr ds lock release
	assert_equal "$status" 75
	run --separate-stderr ds lock release --force
	assert_equal "$status" 64
	[[ $stderr == *"say why with -m MESSAGE"* ]]
	run --separate-stderr ds lock release --force -m "the migration is done"
	assert_success
	run --separate-stderr ds lock status
	assert_success
	assert_equal "$(json_get .held)" false
	kill "$holder"
}

@test "a lock whose holder is gone is reclaimed with a warning; --wait outlasts a holder" {
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	SHIPSHAPE_DEPLOY_PID=$dead ds lock acquire -m old >/dev/null
	run --separate-stderr ds lock status
	assert_success
	assert_equal "$(json_get .stale)" true
	run --separate-stderr ds lock acquire
	assert_success
	[[ $stderr == *"reclaiming a stale lock"* ]]
	assert_equal "$(json_get .ours)" true
	ds lock release >/dev/null

	sleep 0.3 &
	holder=$!
	SHIPSHAPE_DEPLOY_PID=$holder ds lock acquire >/dev/null
	run --separate-stderr ds lock acquire --wait 20s
	assert_success
	assert_equal "$(json_get .pid)" "$$"
}

@test "gate: critical or unknown fail, warnings pass unless --strict" {
	ds begin --release v1 >/dev/null
	{ report db-check ok; report svc-probe warning; } | ds gate pre-deploy >out.json
	assert_equal "$(jq -r .gate.passed out.json)" true
	run --separate-stderr bash -c "{ $(declare -f report); report svc-probe warning; } | deploy-stage -c config.json gate post-deploy --strict"
	assert_equal "$status" 2
	assert_equal "$(json_get .gate.passed)" false
	run --separate-stderr bash -c "{ $(declare -f report); report db-check ok; report svc-probe critical; } | deploy-stage -c config.json gate infrastructure"
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.status=="critical") | .name')" infrastructure.svc-probe
	run --separate-stderr bash -c "{ $(declare -f report); report db-check unknown; } | deploy-stage -c config.json gate readiness"
	assert_equal "$status" 2
	# recorded: every report and each decision
	assert_equal "$(journal 1 | jq -rs 'map(select(.type=="gate")) | map(.passed | tostring) | join(",")')" "true,false,false,false"
	assert_equal "$(journal 1 | jq -s 'map(select(.type=="report")) | length')" 6
}

@test "gate bake: a bake's rounds are journaled, not judged; the verdict after them decides; rounds alone fail" {
	ds begin --release v1 >/dev/null
	# a critical round within the failure limit, then a passing verdict
	{
		report metric-check critical | jq -c '. + {round: 1}'
		report metric-check ok | jq -c '. + {round: 2}'
		report metric-check ok | jq -c '. + {verdict: true}'
	} >bake.jsonl
	ds gate bake <bake.jsonl >out.json
	assert_equal "$(jq -r .gate.passed out.json)" true
	assert_equal "$(jq -r '[.checks[].name] | join(",")' out.json)" bake.metric-check
	assert_equal "$(journal 1 | jq -s 'map(select(.type=="report" and .stage=="bake")) | map(.report.round // "verdict" | tostring) | join(",")')" \
		'"1,2,verdict"'
	# rounds without their verdict: nothing to judge, the gate fails
	head -n 2 bake.jsonl >rounds.jsonl
	run --separate-stderr ds gate bake --dry-run <rounds.jsonl
	assert_equal "$status" 2
	[[ $(json_get .summary) == *"only rounds of a bake on stdin, without their verdict"* ]]
	# the history shows the bake
	ds finish --result failed >/dev/null
	run --separate-stderr ds history --format json
	assert_equal "$(json_get '"\(.bake.status) \(.bake.rounds)"')" "ok 2"
}

# gate_pair INPUT_FILE ARGS...: the same input through gate --dry-run and a
# real gate; each exit status and report (without its timings and where it
# was recorded) in dry.* and real.*; the journal and the lock must not move
# under the dry run.
gate_pair() {
	local in="$1" rc
	shift
	local dir="$SHIPSHAPE_STATE_DIR/deploy/api"
	sha256sum "$dir"/*.jsonl "$dir/lock" >before.sum
	rc=0
	deploy-stage -c config.json gate "$@" --dry-run <"$in" >dry.json 2>/dev/null || rc=$?
	echo "$rc" >dry.rc
	sha256sum "$dir"/*.jsonl "$dir/lock" >after.sum
	cmp before.sum after.sum
	rc=0
	deploy-stage -c config.json gate "$@" <"$in" >real.json 2>/dev/null || rc=$?
	echo "$rc" >real.rc
	local strip='del(.started_at, .duration_ms, .checks[].duration_ms, .gate.deploy, .gate.dry_run)'
	jq -S "$strip" dry.json >dry.cmp
	jq -S "$strip" real.json >real.cmp
}

@test "gate --dry-run: the same verdict and report as the gate; nothing locked or written" {
	ds begin --release v1 >/dev/null
	{ report db-check ok; report svc-probe warning; } >pass.jsonl
	{ report db-check ok; report svc-probe critical; report svc-probe ok; } >fail.jsonl
	{ report db-check unknown; echo '{"kind":"event","x":1}'; } >unknown.jsonl
	printf '{"kind":"report",\n' >broken.jsonl
	: >empty.jsonl
	for c in "pass.jsonl pre-deploy:0" "pass.jsonl infrastructure --strict:2" "fail.jsonl application:2" \
		"unknown.jsonl post-deploy:2" "broken.jsonl readiness:2" "empty.jsonl pre-deploy:2"; do
		args=${c%:*}
		# shellcheck disable=SC2086
		gate_pair ${args%% *} ${args#* }
		assert_equal "$(<dry.rc):$(<real.rc)" "${c##*:}:${c##*:}"
		diff dry.cmp real.cmp
		assert_equal "$(jq -c .gate dry.json)" "{\"stage\":\"$(jq -r .gate.stage real.json)\",\"passed\":$(jq .gate.passed real.json),\"dry_run\":true}"
		assert_equal "$(jq .gate.deploy real.json)" 1
	done
	# the failing reports are named the same way in both
	gate_pair fail.jsonl application
	assert_equal "$(jq -c '[.checks[] | select(.status=="critical") | .name]' dry.json)" '["application.svc-probe"]'
	assert_equal "$(jq -c '[.checks[].name]' dry.json)" '["application.db-check","application.svc-probe","application.svc-probe#2"]'
	# only the real gates were recorded
	assert_equal "$(journal 1 | jq -s 'map(select(.type=="gate")) | length')" 7
}

@test "gate --dry-run needs no deploy and makes no state: no journal, no lock, no state directory" {
	export SHIPSHAPE_STATE_DIR="$BATS_TEST_TMPDIR/nothing-here"
	run --separate-stderr bash -c "{ $(declare -f report); report db-check ok; report svc-probe warning; } | deploy-stage -c config.json gate pre-deploy --dry-run"
	assert_success
	assert_equal "$(json_get .gate.passed)" true
	assert_equal "$(json_get .gate.dry_run)" true
	assert_equal "$(json_get .status)" warning
	[ ! -e "$SHIPSHAPE_STATE_DIR" ]
	run --separate-stderr bash -c "$(declare -f report); report db-check critical | deploy-stage gate pre-deploy --dry-run --format text"
	assert_equal "$status" 2
	assert_output --partial "pre-deploy gate failed: 1 report"
	[ ! -e "$SHIPSHAPE_STATE_DIR" ]
	# without --dry-run the same gate asks for a deploy
	run --separate-stderr bash -c "$(declare -f report); report db-check ok | deploy-stage -c config.json gate pre-deploy"
	assert_equal "$status" 2
	[[ $stderr == *"no deploy in progress"* ]]
	# a bad stage is still a usage error, a terminal still refused
	run --separate-stderr bash -c 'deploy-stage gate nostage --dry-run </dev/null'
	assert_equal "$status" 64
	run timeout 10 script -qec "deploy-stage gate pre-deploy --dry-run" /dev/null
	assert_equal "$status" 64
}

@test "gate: unreadable input, other kinds and no input fail the gate" {
	ds begin --release v1 >/dev/null
	run --separate-stderr bash -c 'printf "{\"kind\":\"report\",\n" | deploy-stage -c config.json gate pre-deploy'
	assert_equal "$status" 2
	[[ $stderr == *"stdin:1"* ]]
	run --separate-stderr bash -c 'echo "{\"kind\":\"event\",\"x\":1}" | deploy-stage -c config.json gate pre-deploy'
	assert_equal "$status" 2
	[[ $stderr == *'stdin:1: not a report (kind "event")'* ]]
	run --separate-stderr bash -c 'deploy-stage -c config.json gate pre-deploy </dev/null'
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[0].message')" "no reports on stdin"
	# a terminal on stdin is refused at once, never waited on
	run timeout 10 script -qec "deploy-stage -c config.json gate pre-deploy" /dev/null
	assert_equal "$status" 64
	assert_output --partial "gate reads reports (JSON Lines) on stdin: pipe them in"
	assert_equal "$(journal 1 | grep -c '"type":"gate"')" 3
}

@test "finish ok needs a successful apply (it makes the last known-good release), unless --force" {
	deploy_ok v1
	command_config '["false"]'
	ds begin --release v2 >/dev/null
	run --separate-stderr ds finish --result ok
	assert_equal "$status" 2
	[[ $stderr == *"deploy 2 (v2) has no successful apply"* ]]
	run --separate-stderr ds apply
	assert_equal "$status" 2
	run --separate-stderr ds finish --result ok
	assert_equal "$status" 2
	run --separate-stderr ds status
	assert_equal "$(json_get .last_good_release)" v1
	run --separate-stderr ds finish --result ok --force
	assert_success
	run --separate-stderr ds status
	assert_equal "$(json_get .last_good_release)" v2
}

@test "gate, apply and finish without a deploy in progress fail clearly" {
	run --separate-stderr bash -c "$(declare -f report); report db-check ok | deploy-stage -c config.json gate pre-deploy"
	assert_equal "$status" 2
	[[ $stderr == *"no deploy in progress"* ]]
	run --separate-stderr ds apply
	assert_equal "$status" 2
	run --separate-stderr ds finish --result ok
	assert_equal "$status" 2
}

@test "kill -9 at each step leaves an interrupted deploy that begin refuses until resolved" {
	command_config '["sleep","30"]'
	for step in begin gate apply; do
		rm -rf "$SHIPSHAPE_STATE_DIR"
		# a deploy script of its own process group, killed at $step
		setsid bash -c '
			export SHIPSHAPE_DEPLOY_PID=$$
			deploy-stage -c config.json begin --release v9 >/dev/null || exit 1
			[ "$1" = begin ] && { echo ready >mark; exec sleep 30; }
			echo "{\"kind\":\"report\",\"tool\":\"t\",\"status\":\"ok\",\"summary\":\"s\",\"checks\":[]}" |
				deploy-stage -c config.json gate pre-deploy >/dev/null
			[ "$1" = gate ] && { echo ready >mark; exec sleep 30; }
			echo ready >mark
			deploy-stage -c config.json apply' _ "$step" >/dev/null 2>&1 &
		victim=$!
		svc_wait 10 test -s mark
		if [ "$step" = apply ]; then
			svc_wait 10 bash -c 'jq -e "select(.type==\"apply\" and .phase==\"start\")" "$0" >/dev/null' \
				"$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl"
		fi
		kill -KILL -- "-$victim"
		wait "$victim" || true
		rm -f mark

		run --separate-stderr ds status
		assert_equal "$status" 1
		assert_equal "$(json_get .state)" interrupted
		run --separate-stderr ds begin --release v10
		assert_equal "$status" 2
		[[ $stderr == *"deploy 1 (v9) was interrupted"* ]]
		run --separate-stderr ds finish --result ok
		assert_equal "$status" 2
		run --separate-stderr ds finish --result failed
		assert_success
		assert_equal "$(json_get .reason)" interrupted
		run --separate-stderr ds begin --release v10
		assert_success
		assert_equal "$(json_get .deploy)" 2
		ds finish --result failed >/dev/null
	done
}

@test "begin --force closes an interrupted deploy as failed" {
	ds begin --release v1 >/dev/null
	ds lock release >/dev/null 2>&1
	run --separate-stderr ds begin --release v2 --force
	assert_success
	[[ $stderr == *"closing interrupted deploy 1"* ]]
	assert_equal "$(journal 1 | jq -rs 'last | .type + " " + .result')" "finish failed"
}

@test "a truncated last journal line is tolerated, reported, and dropped before the next record" {
	ds begin --release v1 >/dev/null
	printf '{"kind":"journal","type":"gate","stage":"pre-de' >>"$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl"
	run --separate-stderr ds history
	assert_success
	assert_equal "$(json_get .truncated)" true
	[[ $stderr == *"000001.jsonl: the last record was cut short"* ]]
	run --separate-stderr ds finish --result failed
	assert_success
	# the file is whole JSON Lines again: the cut record is gone
	run jq -c -s 'map(.type)' <(journal 1)
	assert_success
	assert_output '["begin","config","finish"]'
}

@test "a failing journal write is never reported as success" {
	ds begin --release v1 >/dev/null
	# grow the journal past 1 KiB, then allow no file beyond 1 KiB
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	jq -cn --arg s "$big" '{kind:"report",tool:"t",status:"ok",summary:$s,checks:[]}' | ds gate pre-deploy >/dev/null
	before=$(wc -c <"$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl")
	run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 1; $(declare -f report); report db-check ok | deploy-stage -c config.json gate infrastructure"
	assert_equal "$status" 3
	[[ $stderr == *"unable to write the journal"* ]]
	[ -z "$output" ]
	run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 1; deploy-stage -c config.json finish --result failed"
	assert_equal "$status" 3
	assert_equal "$(wc -c <"$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl")" "$before"
	run --separate-stderr ds status
	assert_equal "$(json_get .state)" in_progress
}

@test "a symlinked journal file is refused with one line; its target is untouched" {
	ds begin --release v1 >/dev/null
	dir=$SHIPSHAPE_STATE_DIR/deploy/api
	printf 'line one\nline two, no newline' >victim
	cp victim victim.orig
	mv "$dir/000001.jsonl" real.jsonl
	ln -s "$PWD/victim" "$dir/000001.jsonl"
	for cmd in status history "finish --result failed" "begin --release v2 --force"; do
		run --separate-stderr ds $cmd
		assert_equal "$status" 3
		assert_equal "$stderr" "deploy-stage: unable to read the journal $dir/000001.jsonl: a symbolic link (refused)"
		[ -z "$output" ]
	done
	run --separate-stderr rollback -c config.json --no-verify
	assert_equal "$status" 3
	assert_equal "$stderr" "rollback: unable to read the journal $dir/000001.jsonl: a symbolic link (refused)"
	cmp victim victim.orig
	# a dangling link where the next deploy's file goes is not followed either
	rm "$dir/000001.jsonl"
	mv real.jsonl "$dir/000001.jsonl"
	ds finish --result failed >/dev/null
	ln -s "$PWD/created-through-link" "$dir/000002.jsonl"
	run --separate-stderr ds begin --release v2
	assert_equal "$status" 3
	[ ! -e created-through-link ]
	cmp victim victim.orig
}

@test "an empty or headerless journal file is not a deploy" {
	deploy_ok v1
	dir=$SHIPSHAPE_STATE_DIR/deploy/api
	: >"$dir/000002.jsonl"
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .state)" idle
	assert_equal "$(json_get .deployments)" 1
	run --separate-stderr ds history
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 1
	run --separate-stderr ds begin --release v2
	assert_success
	assert_equal "$(json_get .deploy)" 2
	ds finish --result failed >/dev/null
	# a begin cut short at its first write: only a cut line, no record
	printf '{"kind":"journal","type":"begin","rel' >"$dir/000003.jsonl"
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .state)" idle
	run --separate-stderr ds begin --release v3
	assert_success
	assert_equal "$(json_get .deploy)" 3
	run jq -rs 'map(.type) | join(",")' "$dir/000003.jsonl"
	assert_output begin,config
	ds finish --result failed >/dev/null
	# records without a begin: not a deploy, named once, and its number not reused
	printf '{"kind":"journal","type":"gate","stage":"pre-deploy","passed":true}\n' >"$dir/000004.jsonl"
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .state)" idle
	[[ $stderr == *"000004.jsonl: no begin record: not a deploy (ignored)"* ]]
	run --separate-stderr ds begin --release v4
	assert_success
	assert_equal "$(json_get .deploy)" 5
}

teardown() {
	if [ -n "${TMPFS_MNT:-}" ]; then
		umount "$TMPFS_MNT" || true
	fi
}

@test "a begin on a full disk leaves no phantom deploy (a real small tmpfs)" {
	TMPFS_MNT=$BATS_TEST_TMPDIR/small
	mkdir -p "$TMPFS_MNT"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$TMPFS_MNT"
	export SHIPSHAPE_STATE_DIR=$TMPFS_MNT/state
	run --separate-stderr ds status
	assert_success
	dd if=/dev/zero of="$TMPFS_MNT/filler" bs=4k 2>/dev/null || true
	run --separate-stderr ds begin --release v1 -m "$(head -c 5000 /dev/zero | tr '\0' m)"
	assert_equal "$status" 3
	[[ $stderr == "deploy-stage: unable to write the journal "*"000001.jsonl: No space left on device" ]]
	[ -z "$output" ]
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .state)" idle
	assert_equal "$(json_get .deploy)" null
	assert_equal "$(json_get .lock.held)" false
	rm "$TMPFS_MNT/filler"
	run --separate-stderr ds begin --release v1
	assert_success
	assert_equal "$(json_get .deploy)" 1
}

# strict_utf8_jsonl FILE: every line is JSON in valid UTF-8 (jq alone would
# replace bad bytes silently)
strict_utf8_jsonl() {
	python3 -c 'import json,sys
for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines(): json.loads(l)' "$1"
}

@test "release names: valid UTF-8 without control or bidi characters, else 64 and one line" {
	for r in "$(printf 'v\377')" "$(printf 'v2\342\200\256exe.1v')" "$(printf 'v\302\2051')" "$(printf 'v\342\201\2462')" "$(printf 'v\302\2402')" "$(printf '\355\240\200')"; do
		run --separate-stderr ds begin --release "$r"
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[[ $stderr == 'deploy-stage: invalid release "'*'" (a plain name such as v2 or 2026-11-28.1)' ]]
		# the name is shown escaped, never raw
		[[ $stderr != *"$r"* ]]
		run --separate-stderr rollback -c config.json --to "$r"
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	done
	[ ! -e "$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl" ]
	run --separate-stderr ds begin --release "$(printf 'r\303\251l-1')"
	assert_success
	assert_equal "$(json_get .release)" "$(printf 'r\303\251l-1')"
}

@test "journal strings: bad UTF-8, control and bidi characters replaced; the journal stays valid JSON" {
	command_config '["sh","-c","printf \"out \\377 \\342\\200\\256 esc \\033[31m red\\n\""]'
	ds begin --release v1 -m "$(printf 'why \377 \342\200\256gnp.exe \033[2J\nsecond line')" >/dev/null
	ds apply >/dev/null
	ds finish --result ok -m "$(printf 'done \342\201\247')" >/dev/null
	strict_utf8_jsonl "$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl"
	run --separate-stderr ds history
	assert_equal "$(json_get .message)" "$(printf 'why \357\277\275 \357\277\275gnp.exe \357\277\275[2J second line')"
	assert_equal "$(json_get .finish_message)" "$(printf 'done \357\277\275')"
	run jq -r 'select(.type=="apply" and .phase=="end") | .data.output' "$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl"
	assert_output "$(printf 'out \357\277\275 \357\277\275 esc \357\277\275[31m red')"
	for cmd in "history --format text" "status --format text" "history" "lock status"; do
		ds $cmd >out 2>&1
		! grep -q "$(printf '\342\200\256\|\033\|\342\201\247')" out
		python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' out
	done
}

@test "status says where its release comes from; the symlink driver's live link is read" {
	deploy_ok v1
	run --separate-stderr ds status --format text
	assert_success
	assert_output --partial "current release: v1 (from the journal; not checked against the live target"
	[[ $stderr == *"deploy-stage: warning: not checked against the live target: the command driver has no deploy.command.status to ask"* ]]
	run --separate-stderr ds status
	assert_equal "$(json_get .live.checked)" false
	mkdir -p releases/v1 releases/v2
	jq --arg dir "$PWD/releases" '.deploy = {driver:"symlink",symlink:{releases_dir:$dir}}' config.json >c && mv c config.json
	deploy_ok v2
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .current_release_source)" journal
	assert_equal "$(json_get .live.release)" v2
	assert_equal "$(json_get .live.matches)" true
	ln -sfn "$PWD/releases/v1" current
	run --separate-stderr ds status
	assert_equal "$status" 1
	assert_equal "$(json_get .current_release)" v2
	assert_equal "$(json_get .live.release)" v1
	assert_equal "$(json_get .live.matches)" false
	run --separate-stderr rollback -c config.json --check --url "$FAULT_URL/status/200"
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .status')" critical
}

@test "a state directory that cannot be made: exit 3, one line naming it" {
	touch afile
	for cmd in status history "lock status" "begin --release v1"; do
		run --separate-stderr ds --state-dir afile/state $cmd
		assert_equal "$status" 3
		assert_equal "$stderr" "deploy-stage: unable to create the state directory afile/state: Not a directory"
		[ -z "$output" ]
	done
	mkdir st && touch st/deploy
	run --separate-stderr ds --state-dir st status
	assert_equal "$status" 3
	assert_equal "$stderr" "deploy-stage: unable to create the journal directory st/deploy/api: Not a directory"
}

@test "output to a full disk is an error" {
	run deploy-stage -c config.json status
	assert_success
	run bash -c 'deploy-stage -c config.json status >/dev/full'
	assert_failure
	run bash -c 'deploy-stage -c config.json history --format text >/dev/full'
	assert_failure
}

@test "command driver: environment, failure, timeout, bounded and redacted output" {
	deploy_ok v1
	command_config '["sh","-c","echo secret is $0 >&2; echo previous=$SHIPSHAPE_PREVIOUS_RELEASE; exit 7","jwt-secret-value-4242"]'
	ds begin --release v2 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	assert_equal "$(json_get .data.exit_code)" 7
	[[ "$(json_get .data.output)" == *"previous=v1"* ]]
	[[ "$(json_get .data.output)" == *"secret is ***"* ]]
	assert_secret_absent jwt-secret-value-4242 "$output" "$stderr" "$(journal 2)"
	ds finish --result failed >/dev/null
	command_config '["sleep","10"]'
	ds begin --release v3 >/dev/null
	run --separate-stderr ds apply -t 300ms
	assert_equal "$status" 2
	assert_equal "$(json_get .data.timed_out)" true
	[[ "$(json_get .message)" == *"timed out"* ]]
	ds finish --result failed >/dev/null
	command_config '["sh","-c","head -c 100000 /dev/zero | tr \"\\\\0\" y"]'
	ds begin --release v4 >/dev/null
	run --separate-stderr ds apply
	assert_success
	[ "$(json_get '.data.output | length')" -le 16384 ]
	[ "$(json_get .data.output_dropped)" -gt 0 ]
	run --separate-stderr ds apply --dry-run
	assert_success
	[[ "$(json_get .message)" == *"SHIPSHAPE_RELEASE=v4"* ]]
	# the argv shown as words a person can tell apart
	[[ "$(json_get .message)" == "deploy v4: run sh -c 'head -c 100000 /dev/zero | tr "* ]]
	command_config '["printf","%s\\n","it'"'"'s"]'
	run --separate-stderr ds apply --dry-run
	assert_equal "$(json_get .message)" "deploy v4: run printf '%s\\n' 'it'\\''s' with SHIPSHAPE_RELEASE=v4"
}

# symlink_config KEEP: config.json with the symlink driver over ./releases.
symlink_config() {
	jq -n --arg dir "$PWD/releases" --argjson keep "$1" \
		'{service:{name:"api"},deploy:{driver:"symlink",symlink:{releases_dir:$dir,keep_releases:$keep}}}' >config.json
}

@test "symlink driver: current switches atomically; a reader never sees it missing" {
	mkdir -p releases/a releases/b
	echo a >releases/a/id
	echo b >releases/b/id
	symlink_config 0
	deploy_ok a
	[ "$(cat current/id)" = a ]
	# a reader resolving `current` over and over while it flips 16 times
	(
		while [ ! -e stop ]; do
			[ -e current/id ] || echo missing >>misses
		done
	) &
	reader=$!
	for i in $(seq 8); do deploy_ok b; deploy_ok a; done
	touch stop
	wait "$reader"
	[ ! -e misses ]
	[ "$(readlink current)" = "$PWD/releases/a" ]
	ds begin --release nope >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ "$(json_get .message)" == *"release directory $PWD/releases/nope does not exist"* ]]
	[ "$(readlink current)" = "$PWD/releases/a" ]
}

@test "symlink driver: keep_releases prunes old releases, never the current or the last good one" {
	i=0
	for r in r1 r2 r3 r4 r5 r6; do
		mkdir -p "releases/$r"
		touch -d "@$((1700000000 + i))" "releases/$r"
		i=$((i + 1))
	done
	symlink_config 0
	deploy_ok r1 # the last good release, and the oldest
	symlink_config 2
	ds begin --release r6 >/dev/null
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get '.data.pruned | sort | join(",")')" "r2,r3,r4"
	run ls releases
	assert_output "$(printf 'r1\nr5\nr6')"
}

# render_config SERVICE_ID [TIMEOUT]
render_config() {
	jq -n --arg url "$RENDER_URL" --arg id "$1" --arg key "$RENDER_KEY" --arg t "${2:-10s}" \
		'{service:{name:"api"},deploy:{driver:"render",timeout:$t,
		  render:{api_url:$url,service_id:$id,api_key:$key,poll_interval:"20ms"}}}' >config.json
}

@test "render driver: deploy until live, the deploy id recorded, the key only as a bearer token" {
	render_config srv-ok-1
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .data.render_status)" live
	id=$(json_get .data.render_deploy_id)
	[[ $id == dep-* ]]
	assert_secret_absent "$RENDER_KEY" "$output" "$stderr" "$(journal 1)"
	run jq -s --arg id "$id" '[.[] | select(.path | contains("srv-ok-1"))] | map(.auth) | all' "$RENDER_LOG"
	assert_output true
	run jq -rs '[.[] | select(.path == "/v1/services/srv-ok-1/deploys")][0].method' "$RENDER_LOG"
	assert_output POST
}

@test "render driver: build_failed fails the apply" {
	render_config srv-buildfail-1
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	assert_equal "$(json_get .data.render_status)" build_failed
	[[ $stderr == *"ended build_failed"* ]]
}

@test "render driver: a deploy never live fails at the timeout" {
	render_config srv-never-1 400ms
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ "$(json_get .message)" == *"not live within 400ms (last status build_in_progress)"* ]]
}

@test "render driver: a 500 then success is retried" {
	render_config srv-flaky-1
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .data.post_attempts)" 2
	[ "$(json_get .data.poll_errors)" -ge 1 ]
	[[ $stderr == *"HTTP 500"* ]]
}

@test "render driver: a wrong API key is refused without retries" {
	render_config srv-ok-2
	jq '.deploy.render.api_key = "wrong-key-0000"' config.json >c && mv c config.json
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ "$(json_get .message)" == *"HTTP 401"* ]]
	assert_equal "$(json_get .data.post_attempts)" 1
}

@test "render driver: a deploy hook URL triggers the deploy" {
	jq -n --arg hook "$RENDER_URL/deploy/srv-ok-hook?key=$RENDER_KEY" \
		'{service:{name:"api"},deploy:{driver:"render",render:{deploy_hook_url:$hook}}}' >config.json
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply --dry-run
	assert_success
	assert_equal "$(json_get .message)" "deploy v1: POST the deploy hook at ${RENDER_URL#http://} (not polled: no api_key and service_id)"
	run --separate-stderr ds apply
	assert_success
	[[ "$(json_get .data.render_deploy_id)" == dep-* ]]
	assert_secret_absent "$RENDER_KEY" "$output" "$stderr" "$(journal 1)"
}

@test "an invalid config or service name is invalid input" {
	echo '{"kind":"report","checks":[]}' >bad.json
	run --separate-stderr deploy-stage -c bad.json status
	assert_equal "$status" 65
	run --separate-stderr deploy-stage --service ../x status
	assert_equal "$status" 65
	# a config document on stdin that is not JSON: 65, one line naming the place
	for cmd in "begin --release v1" apply e2e; do
		run --separate-stderr bash -c "printf '{\"service\": {\n  \"name\": api\n}}\n' | deploy-stage $cmd"
		assert_equal "$status" 65
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[[ $stderr == "deploy-stage: stdin:2:"* ]]
		[ -z "$output" ]
	done
	run --separate-stderr bash -c "printf '{\n\"deploy\": [\n' | rollback"
	assert_equal "$status" 65
	[[ $stderr == "rollback: stdin:"* ]]
	# a driver the schema does not know is an invalid config: refused at
	# load, before any deploy begins, the same from every command
	jq -n '{service:{name:"api"},deploy:{driver:"ftp"}}' >config.json
	for cmd in "begin --release v1" apply; do
		run --separate-stderr ds $cmd
		assert_equal "$status" 65
		[[ "$stderr" == *'deploy.driver: "ftp" is not one of command, symlink, render'* ]]
	done
	[ ! -e "$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl" ]
}

# e2e_config STEP2_URL [JQ_FILTER]: config.json with an end-to-end sequence
# against the fault server: an upload answered with a document id, then a
# status step polled at STEP2_URL.
e2e_config() {
	jq -n --arg base "$FAULT_URL" --arg status "$1" \
		'{service:{name:"api"},api:{base_url:($base + "/")},
		  deploy:{driver:"command",command:{deploy:["true"]},e2e:{timeout:"20s",steps:[
		    {name:"upload",method:"POST",url:"/record/upload?body=%7B%22document_id%22%3A%22doc%201%2F7%22%7D",
		     headers:{Authorization:"Bearer e2e-token-5150aa"},json_body:{filename:"e2e.txt",content:"hello"},
		     json:".document_id",capture:{document:".document_id"}},
		    {name:"status",url:$status,status:[200,202],json:".status == 200",
		     poll:{interval:"50ms",timeout:"5s",fail_if:[".status == 500"]}}]}}}' |
		jq "${2:-.}" >config.json
}

@test "e2e: upload, capture the id, poll until processed; the token never shown" {
	curl -fsS "$FAULT_URL/_ctl/reset" >/dev/null
	e2e_config '/record/status?doc={{document}}' '.deploy.e2e.steps[1].url = "/seq/proc?codes=202,202,200&doc={{document}}"'
	run --separate-stderr deploy-stage -c config.json e2e
	assert_success
	assert_equal "$(json_get .summary)" "end-to-end pipeline: 2 steps passed"
	assert_equal "$(json_get '.checks | map(.name + " " + .status) | join(", ")')" "e2e.upload ok, e2e.status ok"
	assert_equal "$(json_get '.checks[0].data.captured.document')" "doc 1/7"
	assert_equal "$(json_get '.checks[1].data.polls')" 3
	# the captured id went into the next URL, percent-encoded
	assert_equal "$(json_get '.checks[1].data.url')" "$FAULT_URL/seq/proc?codes=202,202,200&doc=doc%201%2F7"
	# the upload carried the body and the token; the report and stderr never show it
	assert_equal "$(jq -r '.json.filename + " " + .headers.authorization' "$FAULT_RECORD_DIR/upload.jsonl")" \
		"e2e.txt Bearer e2e-token-5150aa"
	assert_secret_absent e2e-token-5150aa "$output" "$stderr"
	curl -fsS "$FAULT_URL/_ctl/reset" >/dev/null
	run deploy-stage -c config.json e2e --format text
	assert_success
	assert_line --regexp '^OK +e2e\.status .*after 3 polls'
}

@test "e2e: a terminal state, a document never processed, a missing capture: critical, named, the rest not run" {
	e2e_config '/json?body=%7B%22status%22%3A500%7D&doc={{document}}'
	run --separate-stderr deploy-stage -c config.json e2e
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[1].message')" \
		"GET $FAULT_URL/json?body=%7B%22status%22%3A500%7D&doc=doc%201%2F7: failed: .status == 500 holds after 1 poll"
	e2e_config '/json?body=%7B%22status%22%3A202%7D' '.deploy.e2e.steps[1].poll.timeout = "300ms"'
	run --separate-stderr deploy-stage -c config.json e2e
	assert_equal "$status" 2
	[[ $(json_get '.checks[1].message') == *'.status == 200: got 202'*'(still, after '*' polls in '* ]]
	(($(json_get '.checks[1].data.polls') > 1))
	# the whole sequence is bounded by -t, polls or not
	e2e_config '/json?body=%7B%22status%22%3A202%7D' '.deploy.e2e.steps[1].poll.timeout = "1h"'
	run --separate-stderr deploy-stage -c config.json e2e -t 300ms
	assert_equal "$status" 2
	e2e_config '/json' '.deploy.e2e.steps[0].capture = {document: ".id"}'
	run --separate-stderr deploy-stage -c config.json e2e
	assert_equal "$status" 2
	assert_equal "$(json_get '.summary')" "end-to-end pipeline failed at upload: 0 of 2 steps passed"
	assert_equal "$(json_get '.checks | length')" 1
	[[ $(json_get '.checks[0].message') == *"capture document: .id is not in the answer" ]]
}

@test "e2e: a bad sequence is invalid input naming its key; --dry-run lists the steps and sends nothing" {
	for filter in '.deploy.e2e.steps[1].url = "/x/{{nope}}"' '.deploy.e2e.steps[1].poll.every = "1s"' \
		'del(.api)' '.deploy.e2e.steps[1].name = "upload"' '.deploy.e2e.steps = []' 'del(.deploy.e2e)' \
		'.deploy.e2e.steps[1].json = "..x =="' '.deploy.e2e.steps[0].capture = {"a b": ".x"}'; do
		e2e_config '/json' "$filter"
		run --separate-stderr deploy-stage -c config.json e2e
		echo "$filter: $stderr" >&2
		assert_equal "$status" 65
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[[ $stderr == "deploy-stage: deploy.e2e"* || $stderr == "deploy-stage: config.json: deploy.e2e"* ]]
		[ -z "$output" ]
	done
	[[ $stderr == *'deploy.e2e.steps[0].capture.a b:'* ]]
	curl -fsS "$FAULT_URL/_ctl/reset" >/dev/null
	e2e_config '/record/status?doc={{document}}'
	run --separate-stderr deploy-stage -c config.json e2e --dry-run
	assert_success
	assert_equal "$(json_get '.steps | map(.method + " " + .name) | join(", ")')" "POST upload, GET status"
	assert_equal "$(json_get '.steps[1].url')" "$FAULT_URL/record/status?doc={{document}}"
	assert_equal "$(curl -fsS "$FAULT_URL/_ctl/count/upload")" 0
	run bash -c 'deploy-stage -c config.json e2e --dry-run >/dev/full'
	assert_failure
}

@test "a URL password in the config is masked wherever it turns up bare" {
	local canary=CANARY-pw-5d1e9a77 decoded=CANARY-pw/4c2b88
	printf '%s %s\n' "$canary" "$decoded" >pw.txt
	for form in json yaml; do
		rm -rf "$SHIPSHAPE_STATE_DIR"
		jq -n '{service:{name:"api"},
		        database:{url:"postgresql://app:CANARY-pw-5d1e9a77@db.internal:5432/app"},
		        state:{url:"postgresql://st:CANARY-pw%2F4c2b88@127.0.0.1:1/state"},
		        deploy:{driver:"command",timeout:"5s",command:{deploy:["sh","-c","echo login as app with $(cat pw.txt)"]}}}' >c.json
		if [ $form = yaml ]; then jq . c.json >c.yaml; cfg=c.yaml; else cfg=c.json; fi
		run --separate-stderr deploy-stage -c $cfg begin --release v1 -m "tried $canary and $decoded"
		assert_success
		local out="$output" err="$stderr"
		[[ $(json_get .message) == "tried *** and ***" ]]
		run --separate-stderr deploy-stage -c $cfg apply
		assert_success
		[[ $(json_get .data.output) == "login as app with *** ***" ]]
		out+="$output" err+="$stderr"
		for cmd in status history; do
			run --separate-stderr deploy-stage -c $cfg $cmd
			out+="$output" err+="$stderr"
			run --separate-stderr deploy-stage -c $cfg $cmd --format text
			out+="$output" err+="$stderr"
		done
		assert_secret_absent "$canary" "$out" "$err"
		assert_secret_absent "$decoded" "$out" "$err"
		run grep -rlE "$canary|$decoded" "$SHIPSHAPE_STATE_DIR"
		assert_failure
	done
}

# big_reports N KIB: N valid reports of about KIB KiB each (a check's data).
big_reports() {
	local blob i
	blob=$(head -c "$(($2 << 10))" /dev/zero | tr '\0' a)
	for ((i = 0; i < $1; i++)); do
		printf '{"kind":"report","tool":"big","status":"ok","summary":"big ok","checks":[{"name":"big.x","status":"ok","message":"m%d","data":{"blob":"%s"}}]}\n' "$i" "$blob"
	done
}

@test "gates of large reports keep the journal within what its reader takes; finish and rollback still work" {
	deploy_ok v1
	ds begin --release v2 >/dev/null
	ds apply >/dev/null
	# 78 MiB of valid reports: 8 of 3 MiB, then twice 30 of 900 KiB
	run --separate-stderr bash -c "$(declare -f big_reports); big_reports 8 3072 | deploy-stage -c config.json gate pre-deploy"
	assert_success
	for stage in infrastructure application; do
		run --separate-stderr bash -c "$(declare -f big_reports); big_reports 30 900 | deploy-stage -c config.json gate $stage"
		assert_success
	done
	f=$SHIPSHAPE_STATE_DIR/deploy/api/000002.jsonl
	size=$(wc -c <"$f")
	[ "$size" -le $((48 << 20)) ]
	# reports up to 1 MiB are kept whole while the journal has room; past
	# its 48 MiB for reports, a gate's reports keep their status and summary
	run jq -s -c '[.[] | select(.type=="report") | [.stage, .report.truncated // false, (.report.checks | length), .report.checks_dropped // 0]] | group_by(.) | map([.[0], length])' "$f"
	assert_output '[[["application",true,0,1],30],[["infrastructure",false,1,0],30],[["pre-deploy",true,1,0],8]]'
	# a report too large is kept bounded: its checks' names, status and messages, marked
	run jq -s -c '[.[] | select(.type=="report")][0].report | [.truncated, .bytes > 3000000, .checks[0].name, .checks[0].status, .checks[0].message, (.checks[0] | has("data"))]' "$f"
	assert_success
	assert_output '[true,true,"big.x","ok","m0",false]'
	run jq -s -c '[.[] | select(.type=="gate") | .passed]' "$f"
	assert_output '[true,true,true]'
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .state)" in_progress
	run --separate-stderr ds history
	assert_success
	run --separate-stderr rollback -c config.json --no-verify
	assert_success
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .current_release)" v1
	run jq -s -c '[.[] | select(.type=="finish")] | length' "$f"
	assert_output 1
}

@test "a journal file over 64 MiB (an older version's) never blocks finish --force or rollback" {
	deploy_ok v1
	ds begin --release v2 >/dev/null
	f=$SHIPSHAPE_STATE_DIR/deploy/api/000002.jsonl
	# 24 report records of 3 MiB each, as an older version wrote them
	blob=$(head -c $((3 << 20)) /dev/zero | tr '\0' a)
	for i in $(seq 24); do
		printf '{"kind":"journal","type":"report","service":"api","deploy":2,"time":"2026-12-01T00:00:00Z","stage":"pre-deploy","report":{"kind":"report","tool":"big","status":"ok","summary":"s","checks":[{"name":"c","status":"ok","message":"m","data":{"blob":"%s"}}]}}\n' "$blob"
	done >>"$f"
	[ "$(wc -c <"$f")" -gt $((64 << 20)) ]
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .state)" in_progress
	run --separate-stderr ds finish --result ok
	assert_equal "$status" 2
	run --separate-stderr ds finish --result ok --force
	assert_success
	run --separate-stderr ds history
	assert_success
	[[ $stderr == *"000002.jsonl: "*"skipped"* ]]
	run --separate-stderr rollback -c config.json --no-verify
	assert_success
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .state)" idle
	assert_equal "$(json_get .deployments)" 3
}

@test "stages: the stages a gate takes, in order, with what each runs; no state made" {
	run --separate-stderr deploy-stage --state-dir "$BATS_TEST_TMPDIR/none" stages
	assert_success
	assert_equal "$(json_get '"\(.order) \(.name)"' | tr '\n' ,)" \
		"1 pre-deploy,2 infrastructure,3 application,4 post-deploy,5 bake,6 readiness,"
	[[ $(json_get 'select(.name == "readiness") | .runs') == *"rollback --check"* ]]
	# every stage it lists is one the gate takes
	for stage in $(json_get .name); do
		run --separate-stderr deploy-stage gate "$stage" --dry-run <<<"$(deploy-stage report t t.c ok fine)"
		assert_success
	done
	[ ! -e "$BATS_TEST_TMPDIR/none" ]
	run --separate-stderr deploy-stage stages --format text
	assert_line --regexp '^  application +deploy-stage apply'
	run --separate-stderr deploy-stage stages extra
	assert_equal "$status" 64
}

@test "report: one check from its words; reports on stdin merged, worst status, CHECK=STATUS caps a check" {
	run --separate-stderr deploy-stage report e2e e2e.configured warning "no deploy.e2e in the config"
	assert_equal "$status" 1
	assert_equal "$(json_get '[.kind, .tool, .status, .summary, .checks[0].name, .checks[0].message] | @tsv')" \
		"$(printf 'report\te2e\twarning\tno deploy.e2e in the config\te2e.configured\tno deploy.e2e in the config')"
	# merged: every check, the worst status (unknown is worse than a warning)
	deploy-stage report a a.x warning w >two.jsonl || true
	deploy-stage report b b.y unknown u >>two.jsonl || true
	run --separate-stderr deploy-stage report both - <two.jsonl
	assert_equal "$status" 3
	assert_equal "$(json_get '.tool + " " + .status + " " + ([.checks[].name] | join(","))')" "both unknown a.x,b.y"
	# a cap: a failing check counted no worse than the given status, saying so
	deploy-stage report s security.tls critical "plain http" >sec.jsonl || true
	deploy-stage report s security.hsts ok set >>sec.jsonl
	run --separate-stderr deploy-stage report svc-probe - 'security.t*=warning' <sec.jsonl
	assert_equal "$status" 1
	assert_equal "$(json_get '.checks[0].status + ": " + .checks[0].message')" \
		"warning: plain http (counted as warning here: critical)"
	assert_equal "$(json_get '.checks[1].status')" ok
	# the config's secrets are masked in messages
	run --separate-stderr deploy-stage -c config.json report t t.c critical "token jwt-secret-value-4242 refused"
	assert_equal "$status" 2
	assert_secret_absent jwt-secret-value-4242 "$output"
	# bad input
	run --separate-stderr deploy-stage report t t.c fine msg
	assert_equal "$status" 64
	[[ $stderr == *'invalid status "fine"'* ]]
	run --separate-stderr deploy-stage report t t.c ok
	assert_equal "$status" 64
	run --separate-stderr deploy-stage report t - 'nostatus' <sec.jsonl
	assert_equal "$status" 64
	run --separate-stderr deploy-stage report t - <<<'{"kind":"event","type":"state"}'
	assert_equal "$status" 65
	run --separate-stderr deploy-stage report t - </dev/null
	assert_equal "$status" 65
	[[ $stderr == *"no reports on stdin"* ]]
}

@test "gate: the summary says which reports failed it and how many only warned; data names each report's tool and verdict" {
	export SHIPSHAPE_STATE_DIR="$BATS_TEST_TMPDIR/nothing-here"
	gate_summary() { # gate_summary STAGE [--strict] < reports: the gate report's summary
		deploy-stage gate "$@" --dry-run 2>/dev/null | jq -r .summary
	}
	run gate_summary post-deploy < <(report db-check ok; report svc-probe warning; report svc-probe critical; report e2e unknown)
	assert_output "post-deploy gate failed: 2 of 4 reports failed (svc-probe critical, e2e unknown); 1 with warnings, which alone do not fail a gate"
	run gate_summary pre-deploy < <(report db-check critical)
	assert_output "pre-deploy gate failed: 1 report failed (db-check critical)"
	run gate_summary readiness < <(report db-check ok; report rollback ok)
	assert_output "readiness gate passed: 2 reports, all ok"
	run gate_summary infrastructure < <(report db-check ok; report svc-probe warning)
	assert_output "infrastructure gate passed: 2 reports; 1 with warnings, which alone do not fail a gate"
	run gate_summary infrastructure --strict < <(report db-check ok; report svc-probe warning)
	assert_output "infrastructure gate failed: 1 of 2 reports failed (svc-probe warning)"
	run gate_summary pre-deploy < <(report db-check ok; echo '{"kind":"event","x":1}')
	assert_output 'pre-deploy gate failed: 1 report; stdin:2: not a report (kind "event")'
	run gate_summary pre-deploy </dev/null
	assert_output "pre-deploy gate failed: 0 reports; no reports on stdin"
	{ report db-check ok; report svc-probe critical; report svc-probe ok; } |
		deploy-stage gate application --dry-run >out.json || true
	assert_equal "$(jq -c '[.checks[].data | [.tool, .fails_gate]]' out.json)" \
		'[["db-check",false],["svc-probe",true],["svc-probe",false]]'
	[ ! -e "$SHIPSHAPE_STATE_DIR" ]
}

# alerts [DEPLOY]: deploy-stage alert's documents, one compact line each
alerts() { ds alert "$@" | jq -c '{status, labels, summary: .annotations.summary, startsAt, endsAt}'; }

@test "alert: a failed deploy fires DeployFailed from the journal; a good one resolves the failures since the previous good one" {
	jq '.environment = "staging"' config.json >c && mv c config.json
	deploy_ok v1
	# pre-deploy fails: nothing was deployed
	ds begin --release v2 >/dev/null
	report db-check critical | ds gate pre-deploy >/dev/null || true
	ds finish --result failed >/dev/null
	run --separate-stderr alerts
	assert_success
	assert_equal "$(json_get .status)" firing
	assert_equal "$(json_get '.labels | tojson')" \
		'{"alertname":"DeployFailed","severity":"critical","service":"api","environment":"staging","release":"v2","deploy":"2"}'
	assert_equal "$(json_get .summary)" "deploy of v2 to api failed at pre-deploy (the pre-deploy gate failed); nothing was deployed"
	assert_equal "$(json_get .startsAt)" "$(journal 2 | jq -r 'select(.type == "finish") | .time')"
	# the driver fails, and nothing rolls back
	command_config '["sh","-c","echo workers did not start >&2; exit 3"]'
	jq '.environment = "staging"' config.json >c && mv c config.json
	ds begin --release v3 >/dev/null
	ds apply >/dev/null 2>&1 || true
	ds finish --result failed >/dev/null
	run --separate-stderr alerts 3
	assert_equal "$(json_get .summary)" "deploy of v3 to api failed at application (the deploy driver failed: sh exited with status 3: workers did not start); v3 may be partly in place (not rolled back)"
	# a post-deploy gate fails, and the rollback returns to v1
	command_config
	jq '.environment = "staging"' config.json >c && mv c config.json
	ds begin --release v4 >/dev/null
	ds apply >/dev/null
	report svc-probe critical | ds gate post-deploy >/dev/null || true
	rollback -c config.json --no-verify >/dev/null
	run --separate-stderr alerts 4
	assert_equal "$(json_get .summary)" "deploy of v4 to api failed at post-deploy (the post-deploy gate failed); rolled back to v1 by deploy 5"
	# the last deploy is 4, not the rollback (5)
	assert_equal "$(ds alert | jq -r .labels.deploy)" 4
	run --separate-stderr ds alert 5
	assert_equal "$status" 2
	[[ $stderr == *"deploy 5 is a rollback"* ]]
	# a good deploy resolves 2, 3 and 4 (not 1, good), with their labels
	deploy_ok v6
	run --separate-stderr alerts
	assert_success
	assert_equal "$(printf '%s\n' "$output" | jq -r '"\(.status) \(.labels.deploy) \(.labels.release)"' | paste -sd, -)" \
		"resolved 2 v2,resolved 3 v3,resolved 4 v4"
	assert_equal "$(printf '%s\n' "$output" | jq -r .endsAt | sort -u)" "$(journal 6 | jq -r 'select(.type == "finish") | .time')"
	[ "$(ds alert 2 | jq -c .labels)" = "$(printf '%s\n' "$output" | head -n 1 | jq -c .labels)" ]
	# the next good deploy has nothing left to resolve
	deploy_ok v7
	run --separate-stderr ds alert
	assert_success
	assert_output ""
	# a deploy still open, or unknown: refused
	ds begin --release v8 >/dev/null
	run --separate-stderr ds alert
	assert_equal "$status" 2
	[[ $stderr == *"deploy 8 is not finished"* ]]
	run --separate-stderr ds alert 99
	assert_equal "$status" 2
	run --separate-stderr ds alert x
	assert_equal "$status" 64
	ds finish --result failed >/dev/null
}

@test "alert --dry-run: the alert a failure of --release would fire, without a deploy or any state" {
	export SHIPSHAPE_STATE_DIR="$BATS_TEST_TMPDIR/nothing-here"
	run --separate-stderr ds alert --dry-run --release v9
	assert_success
	assert_equal "$(json_get '[.kind, .status, .labels] | tojson')" \
		'["alert","firing",{"alertname":"DeployFailed","severity":"critical","service":"api","release":"v9"}]'
	[[ $(json_get .annotations.summary) == "a failed deploy of v9 to api alerts here"* ]]
	[ ! -e "$SHIPSHAPE_STATE_DIR" ]
	run --separate-stderr ds alert --dry-run
	assert_equal "$status" 64
	run --separate-stderr ds alert 3 --dry-run --release v9
	assert_equal "$status" 64
}
