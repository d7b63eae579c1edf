#!/usr/bin/env bats
# rollback: target selection, the journal, health verification with the
# shared HTTP engine (against the fault server), --check, --dry-run, the
# symlink and render drivers, the lock.
load helpers/common
load helpers/services

setup_file() {
	start_faultsrv
	start_fakerender render-test-key-77aa01
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_DEPLOY_PID=$$
	mkdir -p releases/v1 releases/v2 releases/v3
	symlink_config /status/200
}

# symlink_config HEALTH_PATH: the fault server answers health
symlink_config() {
	jq -n --arg dir "$PWD/releases" --arg url "$FAULT_URL" --arg path "$1" \
		'{service:{name:"api"},api:{base_url:$url,health_path:$path},
		  monitoring:{health_check:{timeout:"1s",success_threshold:2}},
		  deploy:{driver:"symlink",symlink:{releases_dir:$dir}}}' >config.json
}

ds() { deploy-stage -c config.json "$@"; }
deploy() { # deploy RELEASE RESULT
	ds begin --release "$1" >/dev/null
	ds apply >/dev/null
	ds finish --result "$2" >/dev/null
}
journal() { cat "$SHIPSHAPE_STATE_DIR/deploy/api/$(printf '%06d' "$1").jsonl"; }

@test "--help and usage errors" {
	run --separate-stderr rollback --help
	assert_success
	assert_output --partial "usage: rollback"
	run --separate-stderr rollback -c config.json --dry-run --check
	assert_equal "$status" 64
	run --separate-stderr rollback -c config.json --health-timeout soon
	assert_equal "$status" 64
	run --separate-stderr rollback -c config.json extra
	assert_equal "$status" 64
	# nagios mode: the misuse is an UNKNOWN status line, exit 3 (see tests/nagios.bats)
	run --separate-stderr rollback -c config.json --format nagios
	assert_equal "$status" 3
	[[ $output == "rollback UNKNOWN - --format nagios goes with --check" ]]
	# a release that is not a plain name is a usage error, before anything is journaled
	for to in ../etc .hidden "a b" "$(printf 'v\001')"; do
		run --separate-stderr rollback -c config.json --to "$to"
		assert_equal "$status" 64
		[[ $stderr == "rollback: invalid --to "* ]]
	done
	[ ! -e "$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl" ]
	# a bad flag is one line naming it, never the whole usage
	for args in --bogus -Z --to --no-verify=yes "--dry-run=yes" -m; do
		run --separate-stderr rollback $args
		echo "$args: $stderr" >&2
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[[ $stderr == "rollback: "*"(see rollback --help)" ]]
		[ -z "$output" ]
	done
}

@test "--help, the man page and the parser name the same options" {
	help=$(rollback --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
	man=$(sed '/^\.SH EXAMPLES/,$d' "$REPO_ROOT/man/man1/rollback.1" | grep -oE -- '\\-\\-[a-z]+(\\-[a-z]+)*' | sed 's/\\//g' | sort -u)
	assert_equal "$man" "$help"
	for o in $help; do
		run --separate-stderr rollback "$o"
		[[ $stderr != *"unknown or ambiguous option"* ]]
	done
	# the SYNOPSIS line of --help is the man page's
	for o in $(rollback --help | sed -n '1,/^$/p' | grep -oE -- '--?[a-zA-Z][a-z-]*' | sort -u); do
		grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$REPO_ROOT/man/man1/rollback.1" || { echo "SYNOPSIS: $o" >&2; false; }
	done
}

@test "no known-good release is a clear error, exit 2" {
	run --separate-stderr rollback -c config.json
	assert_equal "$status" 2
	[[ $stderr == "rollback: no known-good release to roll back to"* ]]
	deploy v1 ok
	run --separate-stderr rollback -c config.json
	assert_equal "$status" 2
	[[ $stderr == *"no deploy other than v1 finished ok"* ]]
	[ "$(readlink current)" = "$PWD/releases/v1" ]
}

@test "rolls back to the last good release, journals it, verifies health" {
	deploy v1 ok
	deploy v2 ok
	ds begin --release v3 >/dev/null
	ds apply >/dev/null
	run --separate-stderr rollback -c config.json -m "v3 is broken" --interval 100ms
	assert_success
	assert_equal "$(json_get '"\(.from) -> \(.to) \(.status)"')" "v3 -> v2 ok"
	assert_equal "$(json_get .health.attempts)" 2
	[ "$(readlink current)" = "$PWD/releases/v2" ]
	# the open deploy closed as failed, the rollback a deployment of its own
	assert_equal "$(journal 3 | jq -rs 'last | "\(.result) \(.rollback_to) \(.rollback_deploy)"')" "failed v2 4"
	run --separate-stderr ds history
	assert_equal "$(printf '%s\n' "$output" | jq -rs '.[2].finish_message')" "rolled back to v2 by deploy 4"
	assert_equal "$(journal 4 | jq -rs 'map(.type) | join(",")')" "begin,config,apply,apply,health,finish"
	run --separate-stderr ds status
	assert_equal "$(json_get .state)" idle
	assert_equal "$(json_get .current_release)" v2
	assert_equal "$(json_get .lock.held)" false
	# history says why (-m) and how it ended
	run --separate-stderr ds history --format text
	assert_line --index 4 --regexp '^4 +.* rollback +v2 +v3 +ok +.*  v3 is broken; .*now points at v2$'
	# from v2 (good), back once more: to v1
	run --separate-stderr rollback -c config.json --format text --interval 100ms
	assert_success
	assert_output --partial "rollback ok: v2 -> v1"
}

@test "an unhealthy release after the rollback: exit 2 with the reason" {
	deploy v1 ok
	deploy v2 failed
	symlink_config /status/503
	run --separate-stderr rollback -c config.json --health-timeout 600ms --interval 100ms
	assert_equal "$status" 2
	assert_equal "$(json_get .status)" failed
	[[ "$(json_get .message)" == *"not healthy within 600ms"*"503"* ]]
	[[ $stderr == *"rollback to v1 failed"* ]]
	assert_equal "$(journal 3 | jq -rs 'last | .result')" failed
}

@test "history says rolled back only when the rollback succeeded" {
	deploy v1 ok
	ds begin --release v2 >/dev/null
	ds apply >/dev/null
	symlink_config /status/503
	run --separate-stderr rollback -c config.json --health-timeout 300ms --interval 100ms
	assert_equal "$status" 2
	run --separate-stderr ds history
	assert_equal "$(printf '%s\n' "$output" | jq -rs '.[1] | "\(.result): \(.finish_message)"')" \
		"failed: rollback to v1 failed (deploy 3)"
	run --separate-stderr ds history --format text
	assert_line --index 2 --regexp '^2 +.* deploy +v2 +v1 +failed .*rollback to v1 failed \(deploy 3\)$'
	refute_output --partial "rolled back to"
}

@test "health verification needs a URL unless --no-verify" {
	deploy v1 ok
	deploy v2 ok
	jq 'del(.api)' config.json >c && mv c config.json
	run --separate-stderr rollback -c config.json
	assert_equal "$status" 65
	[[ $stderr == *"no health URL"* ]]
	run --separate-stderr rollback -c config.json --no-verify
	assert_success
	[ "$(readlink current)" = "$PWD/releases/v1" ]
}

@test "--to RELEASE and --dry-run" {
	deploy v1 ok
	deploy v2 ok
	deploy v3 ok
	before=$(ls "$SHIPSHAPE_STATE_DIR/deploy/api")
	run --separate-stderr rollback -c config.json --to v1 --dry-run
	assert_success
	assert_equal "$(json_get .dry_run)" true
	assert_equal "$(json_get .to)" v1
	[ "$(ls "$SHIPSHAPE_STATE_DIR/deploy/api")" = "$before" ]
	[ "$(readlink current)" = "$PWD/releases/v3" ]
	run --separate-stderr rollback -c config.json --to v1 --interval 100ms
	assert_success
	[ "$(readlink current)" = "$PWD/releases/v1" ]
}

@test "--to takes a revision or a release, unambiguously" {
	mkdir -p releases/1
	deploy v1 ok # revision 1
	deploy v2 ok # revision 2
	deploy 1 ok  # revision 3: a release named "1"
	deploy v3 ok # revision 4
	# a bare number that is only a revision: that deploy's release
	run --separate-stderr rollback -c config.json --to 2 --dry-run
	assert_success
	assert_equal "$(json_get .to)" v2
	# a bare number that is both a revision and another release: refused, both forms named
	run --separate-stderr rollback -c config.json --to 1 --dry-run
	assert_equal "$status" 64
	assert_equal "$stderr" "rollback: --to 1 is ambiguous: revision 1 (release v1) and release 1; say --to revision:1 or --to release:1"
	run --separate-stderr rollback -c config.json --to revision:1 --dry-run
	assert_success
	assert_equal "$(json_get .to)" v1
	run --separate-stderr rollback -c config.json --to release:1 --dry-run
	assert_success
	assert_equal "$(json_get .to)" 1
	# a revision the journal does not have; a malformed one
	run --separate-stderr rollback -c config.json --to revision:9
	assert_equal "$status" 2
	assert_equal "$stderr" "rollback: no revision 9 in the journal (see deploy-stage history)"
	for bad in revision:x revision:0 revision: release:../etc; do
		run --separate-stderr rollback -c config.json --to "$bad"
		assert_equal "$status" 64
		[[ $stderr == "rollback: invalid --to "* ]]
	done
	[ "$(ls "$SHIPSHAPE_STATE_DIR/deploy/api"/*.jsonl | wc -l)" = 4 ]
	# the real thing, by revision
	run --separate-stderr rollback -c config.json --to revision:2 --interval 100ms
	assert_success
	[ "$(readlink current)" = "$PWD/releases/v2" ]
	assert_equal "$(json_get .to)" v2
}

@test "--dry-run checks through the driver that the target exists, and says what it could not check" {
	deploy v1 ok
	deploy v2 ok
	# symlink: the release directory
	run --separate-stderr rollback -c config.json --to r9 --dry-run
	assert_equal "$status" 2
	assert_equal "$(json_get .target_check.status)" critical
	assert_equal "$(printf '%s\n' "$stderr" | tail -n 1)" "rollback: release directory $PWD/releases/r9 does not exist"
	run --separate-stderr rollback -c config.json --dry-run --format text
	assert_success
	assert_output --partial "release directory $PWD/releases/v1 exists"
	[ "$(readlink current)" = "$PWD/releases/v2" ]
	# command: what it cannot see, it says
	jq '.deploy = {driver:"command",command:{deploy:["true"]}}' config.json >c && mv c config.json
	run --separate-stderr rollback -c config.json --to v1 --dry-run
	assert_success
	assert_equal "$(json_get .target_check.status)" unknown
	[[ "$(json_get .target_check.message)" == "not checked: the command driver cannot see whether release v1 exists" ]]
	[[ $stderr == *"not checked: the command driver cannot see whether release v1 exists"* ]]
	# render: the recorded deploy id the rollback needs
	jq --arg url "$RENDER_URL" --arg key "$RENDER_KEY" \
		'.deploy = {driver:"render",render:{api_url:$url,service_id:"srv-ok-dry",api_key:$key}}' config.json >c && mv c config.json
	run --separate-stderr rollback -c config.json --to v1 --dry-run
	assert_equal "$status" 2
	assert_equal "$(json_get .target_check.status)" critical
	[[ $stderr == *"no Render deploy id is recorded for release v1"* ]]
}

@test "--check probes the health URL before it says verified" {
	deploy v1 ok
	deploy v2 ok
	run --separate-stderr rollback -c config.json --check
	assert_success
	[[ "$(json_get '.checks[] | select(.name=="rollback.health") | .message')" == "health verified at $FAULT_URL/status/200: "*"200"* ]]
	symlink_config /status/503
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.health") | .status')" critical
	[[ "$(json_get '.checks[] | select(.name=="rollback.health") | .message')" == *"503"* ]]
	[[ "$(json_get '.checks[] | select(.name=="rollback.health") | .message')" == "health not verified: "* ]]
}

@test "--check: an unreachable health URL is not verified; -t bounds the probe" {
	deploy v1 ok
	deploy v2 ok
	local port
	port=$(free_port)
	run --separate-stderr rollback -c config.json --check --url "http://127.0.0.1:$port/health"
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.health") | .status')" critical
	[[ "$(json_get '.checks[] | select(.name=="rollback.health") | .message')" == "health not verified: the probe of http://127.0.0.1:$port/health failed: "* ]]
	# a health URL that never answers: the probe ends with -t, not later
	jq '.monitoring.health_check.timeout = "30s"' config.json >c && mv c config.json
	SECONDS=0
	run --separate-stderr rollback -c config.json --check -t 1s --url "$FAULT_URL/hang"
	((SECONDS < 10))
	assert_equal "$status" 2
	[[ "$(json_get '.checks[] | select(.name=="rollback.health") | .message')" != *verified\ at* ]]
}

@test "--check compares the journal with what is live; a driver that cannot tell is not checked" {
	deploy v1 ok
	deploy v2 ok
	run --separate-stderr rollback -c config.json --check
	assert_success
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .status')" ok
	[[ "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" == *"points at v2, as the journal says" ]]
	# current pointed elsewhere by hand: the journal's plan is wrong
	ln -sfn "$PWD/releases/v3" current
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .status')" critical
	[[ "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" == *"points at v3, but the journal says v2" ]]
	# the command driver cannot say what is live: a warning, never ok
	jq '.deploy = {driver:"command",command:{deploy:["true"]}}' config.json >c && mv c config.json
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 1
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .status')" warning
	[[ "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" == "not checked against the live target: the command driver has no deploy.command.status to ask" ]]
	# with a status argv it can: its last line is what is live
	jq '.deploy.command.status = ["sh","-c","echo checking >&2; cat live.txt"]' config.json >c && mv c config.json
	echo v2 >live.txt
	run --separate-stderr rollback -c config.json --check
	assert_success
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" "sh says v2 is live, as the journal says"
	echo v1 >live.txt
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" "sh says v1 is live, but the journal says v2"
	# a status command that fails or prints no release name: not checked, never ok
	for out in "exit 3" "echo '../etc'" "true"; do
		jq --arg s "$out" '.deploy.command.status = ["sh","-c",$s]' config.json >c && mv c config.json
		run --separate-stderr rollback -c config.json --check
		assert_equal "$status" 1
		assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .status')" warning
		[[ "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" == "not checked against the live target: "* ]]
	done
}

@test "render: --check reads Render's live deploy and its commit; a deploy made outside the journal is drift" {
	jq -n --arg url "$RENDER_URL" --arg key "$RENDER_KEY" --arg h "$FAULT_URL" \
		'{service:{name:"api"},api:{base_url:$h,health_path:"/status/200"},
		  deploy:{driver:"render",render:{api_url:$url,service_id:"srv-ok-drift",api_key:$key,poll_interval:"20ms"}}}' >config.json
	deploy v1 ok
	deploy v2 ok
	v2_id=$(journal 2 | jq -r 'select(.type=="apply" and .phase=="end").data.render_deploy_id')
	run --separate-stderr rollback -c config.json --check
	assert_success
	[[ "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" == "Render's live deploy $v2_id (commit c0mm17"*") is release v2's, as the journal says" ]]
	run --separate-stderr ds status
	assert_success
	assert_equal "$(json_get .live.release)" v2
	# someone deploys from Render's dashboard: a deploy no journal record made
	printf 'Authorization: Bearer %s\n' "$RENDER_KEY" >auth.hdr
	id=$(curl -sf -H @auth.hdr -X POST "$RENDER_URL/v1/services/srv-ok-drift/deploys" | jq -r .id)
	for i in 1 2; do curl -sf -H @auth.hdr "$RENDER_URL/v1/services/srv-ok-drift/deploys/$id" >/dev/null; done
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .status')" critical
	[[ "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" == "Render's live deploy $id (commit "*") was not made by any deploy in the journal, but the journal says v2" ]]
	run --separate-stderr ds status
	assert_equal "$status" 1
	[[ $stderr == *"the journal's release v2 is not what is live"* ]]
	# Render unreachable: not checked, a warning
	jq '.deploy.render.api_url = "http://127.0.0.1:9"' config.json >c && mv c config.json
	run --separate-stderr rollback -c config.json --check -t 5s
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.live") | .status')" warning
	[[ "$(json_get '.checks[] | select(.name=="rollback.live") | .message')" == "not checked against the live target: Render: "* ]]
	assert_secret_absent "$RENDER_KEY" "$output$stderr"
}

@test "--check: a report of the rollback capability" {
	deploy v1 ok
	deploy v2 ok
	run --separate-stderr rollback -c config.json --check
	assert_success
	assert_equal "$(json_get .kind)" report
	assert_equal "$(json_get '[.checks[].name] | join(",")')" \
		"rollback.target,rollback.driver,rollback.credentials,rollback.artifact,rollback.live,rollback.health"
	rm -r releases/v1
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 2
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.artifact") | .status')" critical
	run --separate-stderr rollback -c config.json --check --format nagios
	assert_equal "$status" 2
	[[ $output == *CRITICAL* ]]
}

@test "--check on a first deploy warns; without a driver it is critical" {
	ds begin --release v1 >/dev/null
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 1
	assert_equal "$(json_get '.checks[] | select(.name=="rollback.target") | .status')" warning
	jq 'del(.deploy)' config.json >c && mv c config.json
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 2
	[[ "$(json_get '.checks[] | select(.name=="rollback.driver") | .message')" == *"deploy.driver is not set"* ]]
}

@test "a lock held by another live deploy: 75" {
	deploy v1 ok
	deploy v2 ok
	sleep 60 &
	holder=$!
	SHIPSHAPE_DEPLOY_PID=$holder ds begin --release v3 >/dev/null
	run --separate-stderr rollback -c config.json
	assert_equal "$status" 75
	[[ $stderr == *"lock held by"*"(pid $holder)"* ]]
	kill "$holder"
	wait "$holder" || true
	# its holder gone, the deploy is interrupted: rollback resolves it
	run --separate-stderr rollback -c config.json --interval 100ms
	assert_success
	[[ $stderr == *"reclaiming a stale lock"* ]]
	run --separate-stderr ds begin --release v4
	assert_success
}

@test "render: rollback posts the recorded deployId, then polls until live" {
	jq -n --arg url "$RENDER_URL" --arg key "$RENDER_KEY" --arg h "$FAULT_URL" \
		'{service:{name:"api"},api:{base_url:$h,health_path:"/status/200"},
		  deploy:{driver:"render",render:{api_url:$url,service_id:"srv-ok-rb",api_key:$key,poll_interval:"20ms"}}}' >config.json
	deploy v1 ok
	v1_id=$(journal 1 | jq -r 'select(.type=="apply" and .phase=="end").data.render_deploy_id')
	deploy v2 failed
	run --separate-stderr rollback -c config.json
	assert_success
	run jq -r 'select(.path == "/v1/services/srv-ok-rb/rollback") | "\(.auth) \(.json.deployId)"' "$RENDER_LOG"
	assert_output "true $v1_id"
	run jq -rs 'last | .data | "\(.rollback_to_deploy_id) \(.render_status)"' <(journal 3 | jq -c 'select(.type=="apply")')
	assert_output "$v1_id live"
	assert_secret_absent "$RENDER_KEY" "$(journal 3)"
}

@test "render: a release with no recorded deploy id cannot be rolled back to" {
	jq -n --arg url "$RENDER_URL" --arg key "$RENDER_KEY" \
		'{service:{name:"api"},deploy:{driver:"command",command:{deploy:["true"]}}}' >config.json
	deploy v1 ok
	deploy v2 ok
	jq -n --arg url "$RENDER_URL" --arg key "$RENDER_KEY" --arg h "$FAULT_URL" \
		'{service:{name:"api"},api:{base_url:$h,health_path:"/status/200"},
		  deploy:{driver:"render",render:{api_url:$url,service_id:"srv-ok-rb2",api_key:$key}}}' >config.json
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 2
	[[ "$(json_get '.checks[] | select(.name=="rollback.artifact") | .message')" == *"no Render deploy id is recorded for release v1"* ]]
	run --separate-stderr rollback -c config.json
	assert_equal "$status" 2
	[[ $stderr == *"no Render deploy id is recorded for release v1"* ]]
}

@test "output to a full disk is an error" {
	deploy v1 ok
	deploy v2 ok
	run bash -c 'rollback -c config.json --check >/dev/full'
	assert_failure
}

@test "a state directory that cannot be made: exit 3, one line naming it" {
	touch afile
	run --separate-stderr rollback -c config.json --state-dir afile/state
	assert_equal "$status" 3
	assert_equal "$stderr" "rollback: unable to create the state directory afile/state: Not a directory"
	SHIPSHAPE_STATE_DIR=afile/env run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 3
	[[ $stderr == *"state directory afile/env: Not a directory" ]]
	mkdir st && touch st/deploy
	run --separate-stderr rollback -c config.json --state-dir st
	assert_equal "$status" 3
	assert_equal "$stderr" "rollback: unable to create the journal directory st/deploy/api: Not a directory"
	[ -z "$output" ]
}

@test "a journal write that fails: exit 3, one line naming the file, nothing printed" {
	deploy v1 ok
	deploy v2 ok
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	# the open deploy's file past 1 KiB, then no file may grow beyond 1 KiB
	ds begin --release v3 -m "$big" >/dev/null
	before=$(journal 3 | wc -c)
	run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 1; rollback -c config.json --no-verify"
	assert_equal "$status" 3
	[[ $stderr == *"unable to write the journal $SHIPSHAPE_STATE_DIR/deploy/api/000003.jsonl: File too large"* ]]
	[ -z "$output" ]
	assert_equal "$(journal 3 | wc -c)" "$before"
	[ ! -e "$SHIPSHAPE_STATE_DIR/deploy/api/000004.jsonl" ]
	# the journal unreadable: exit 3, named, before anything is done
	ln -s /etc/hostname "$SHIPSHAPE_STATE_DIR/deploy/api/000009.jsonl"
	run --separate-stderr rollback -c config.json --no-verify
	assert_equal "$status" 3
	[[ $stderr == *"unable to read the journal $SHIPSHAPE_STATE_DIR/deploy/api/000009.jsonl: a symbolic link (refused)"* ]]
	run --separate-stderr rollback -c config.json --check
	assert_equal "$status" 3
}
