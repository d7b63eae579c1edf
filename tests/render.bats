#!/usr/bin/env bats
# The render driver as it really runs, against the project's fake Render
# server (tests/helpers/fakerender.c): the exact commit or image deployed
# and checked, 429s waited out, the poll interval's floor, the cancel at the
# deadline, every documented status, auto-deploy after a rollback. The
# assertions read what the fake server received (its request log).
load helpers/common
load helpers/services

SHA=3f2a9c1d7e6b5a4f3e2d1c0b9a8f7e6d5c4b3a21

setup_file() {
	start_fakerender render-test-key-5b7d19
}

teardown_file() {
	stop_fakerender
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_DEPLOY_PID=$$
}

# render_config SERVICE_ID [TIMEOUT [EXTRA_RENDER_KEYS_JSON]]
render_config() {
	jq -n --arg url "$RENDER_URL" --arg id "$1" --arg key "$RENDER_KEY" --arg t "${2:-20s}" \
		--argjson extra "${3:-{\}}" \
		'{service:{name:"api"},deploy:{driver:"render",timeout:$t,
		  render:({api_url:$url,service_id:$id,api_key:$key,poll_interval:"20ms"} + $extra)}}' >config.json
}

ds() { deploy-stage -c config.json "$@"; }
journal() { cat "$SHIPSHAPE_STATE_DIR/deploy/api/$(printf '%06d' "$1").jsonl"; }
# requests SERVICE_ID JQ: the fake server's log of that service, through jq -s
requests() { jq -sc --arg s "/v1/services/$1" "[.[] | select(.path | startswith(\$s))] | $2" "$RENDER_LOG"; }

@test "--commit: recorded at begin, the trigger carries exactly that commitId, the live deploy is checked" {
	render_config srv-ok-exact
	run --separate-stderr ds begin --release v1 --commit "$SHA"
	assert_success
	assert_equal "$(json_get .commit)" "$SHA"
	run --separate-stderr ds apply --dry-run
	assert_success
	[[ "$(json_get .message)" == *"with commitId $SHA, then poll until live and check it is that commit"* ]]
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .data.commit)" "$SHA"
	assert_equal "$(json_get .data.render_commit)" "$SHA"
	[[ "$(json_get .message)" == *"of v1 at $SHA is live"* ]]
	run requests srv-ok-exact '[.[] | select(.method == "POST" and .path == "/v1/services/srv-ok-exact/deploys") | .json]'
	assert_output "[{\"clearCache\":\"do_not_clear\",\"commitId\":\"$SHA\"}]"
	assert_equal "$(journal 1 | jq -r 'select(.type == "begin").commit')" "$SHA"
	assert_secret_absent "$RENDER_KEY" "$output" "$stderr" "$(journal 1)"
}

@test "--commit: a short SHA names the full commit Render reports" {
	render_config srv-ok-short
	ds begin --release v1 --commit 3f2a9c1 >/dev/null
	run --separate-stderr ds apply
	assert_success
	run requests srv-ok-short '[.[] | select(.method == "POST") | .json.commitId]'
	assert_output '["3f2a9c1"]'
}

@test "--image: the trigger carries exactly that imageUrl, the live deploy's image is checked" {
	render_config srv-ok-image
	ds begin --release v1 --image registry.example/api:2026.12.03 >/dev/null
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .data.render_image)" registry.example/api:2026.12.03
	run requests srv-ok-image '[.[] | select(.method == "POST") | .json]'
	assert_output '[{"clearCache":"do_not_clear","imageUrl":"registry.example/api:2026.12.03"}]'
}

@test "a commit or image Render did not deploy fails the apply, naming both" {
	render_config srv-mismatch-1
	ds begin --release v1 --commit "$SHA" >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	assert_equal "$(json_get .message)" "Render deploy $(json_get .data.render_deploy_id) is commit 0123456789abcdef0123456789abcdef01234567, not the requested commit $SHA"
	[[ $stderr == *"not the requested commit $SHA"* ]]
	ds finish --result failed >/dev/null
	ds begin --release v2 --image registry.example/api:v2 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ "$(json_get .message)" == *"is image registry.example/other:latest, not the requested image registry.example/api:v2" ]]
}

@test "--commit and --image are checked: usage errors, one line, exit 64" {
	render_config srv-ok-usage
	for bad in "--commit 3f2a9c" "--commit $SHA"0 "--commit 3f2a9cz1" "--commit $SHA --image a/b:c"; do
		# shellcheck disable=SC2086
		run --separate-stderr ds begin --release v1 $bad
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[ -z "$output" ]
	done
	[[ $stderr == *"give --commit or --image, not both"* ]]
	run --separate-stderr ds begin --release v1 --commit 3f2a9c
	[[ $stderr == *'invalid --commit "3f2a9c" (a commit SHA: 7 to 40 hex digits)'* ]]
	run --separate-stderr ds begin --release v1 --image "a/b: c"
	assert_equal "$status" 64
	[[ $stderr == *"invalid --image (an image reference: 1 to 512 bytes, no whitespace)"* ]]
	run --separate-stderr ds begin --release v1 --image ""
	assert_equal "$status" 64
	run --separate-stderr ds apply --commit "$SHA"
	assert_equal "$status" 64
	[[ $stderr == *"apply: --commit and --image go with begin"* ]]
	[ ! -d "$SHIPSHAPE_STATE_DIR/deploy/api" ] || [ -z "$(ls "$SHIPSHAPE_STATE_DIR/deploy/api")" ]
}

@test "require_exact_release: a begin without a commit or image is refused (64), an apply of one too (2)" {
	render_config srv-ok-req 20s '{"require_exact_release":true}'
	run --separate-stderr ds begin --release v1
	assert_equal "$status" 64
	assert_equal "$stderr" "deploy-stage: begin: deploy.render.require_exact_release is set: give --commit SHA or --image REF"
	[ ! -e "$SHIPSHAPE_STATE_DIR/deploy/api/000001.jsonl" ]
	# begun before the key was set: the apply refuses, nothing is triggered
	render_config srv-ok-req
	ds begin --release v1 >/dev/null
	render_config srv-ok-req 20s '{"require_exact_release":true}'
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ "$(json_get .message)" == *"require_exact_release is set, but this deploy was begun without --commit or --image" ]]
	run requests srv-ok-req 'length'
	assert_output 0
	ds finish --result failed >/dev/null
	ds begin --release v2 --commit "$SHA" >/dev/null
	run --separate-stderr ds apply
	assert_success
}

@test "the command driver gets SHIPSHAPE_COMMIT and SHIPSHAPE_IMAGE" {
	jq -n '{service:{name:"api"},deploy:{driver:"command",timeout:"5s",
		command:{deploy:["sh","-c","echo commit=$SHIPSHAPE_COMMIT image=$SHIPSHAPE_IMAGE"]}}}' >config.json
	ds begin --release v1 --commit "$SHA" >/dev/null
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .data.output)" "commit=$SHA image="
	ds finish --result ok >/dev/null
	ds begin --release v2 --image registry.example/api:v2 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$(json_get .data.output)" "commit= image=registry.example/api:v2"
}

@test "a 429 is waited out: the trigger after Retry-After, the poll after Ratelimit-Reset" {
	render_config srv-ratelimit-1
	ds begin --release v1 --commit "$SHA" >/dev/null
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .data.post_attempts)" 2
	assert_equal "$(json_get .data.rate_limited)" 1
	# the second trigger came no sooner than Retry-After: 1 allowed
	run requests srv-ratelimit-1 '[.[] | select(.method == "POST") | .t_ms] | .[1] - .[0]'
	[ "$output" -ge 1000 ]
	# the poll answered 429 (Ratelimit-Remaining: 0, Ratelimit-Reset: 1) was not repeated sooner
	run requests srv-ratelimit-1 '[.[] | select(.method == "GET") | .t_ms] | .[1] - .[0]'
	[ "$output" -ge 1000 ]
	run requests srv-ratelimit-1 '[.[] | select(.method == "POST") | .json.commitId] | unique'
	assert_output "[\"$SHA\"]"
}

@test "polls are never closer than 600ms, whatever poll_interval says" {
	render_config srv-final-live-floor
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_success
	assert_equal "$(json_get .data.polls)" 5
	run requests srv-final-live-floor '[.[] | select(.method == "GET") | .t_ms] | [range(1; length) as $i | .[$i] - .[$i - 1]] | min'
	[ "$output" -ge 590 ]
}

@test "a deploy not live within deploy.timeout is cancelled, and the cancel recorded" {
	render_config srv-never-cancel 1500ms
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	id=$(json_get .data.render_deploy_id)
	assert_equal "$(json_get .message)" "deploy $id not live within 1500ms (last status build_in_progress); cancelled it"
	assert_equal "$(json_get '.data.cancel | [.requested, .ok, .code] | @csv')" 'true,true,200'
	run requests srv-never-cancel "[.[] | select(.method == \"POST\" and .path == \"/v1/services/srv-never-cancel/deploys/$id/cancel\")] | length"
	assert_output 1
	assert_equal "$(journal 1 | jq -r 'select(.type == "apply" and .phase == "end").data.cancel.ok')" true
}

@test "a cancel that fails is said and recorded" {
	render_config srv-nocancel-1 1s
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ "$(json_get .message)" == *"(last status build_in_progress); the cancel failed: HTTP 500: cancel failed" ]]
	assert_equal "$(json_get '.data.cancel | [.requested, .ok, .code] | @csv')" 'true,false,500'
	run requests srv-nocancel-1 '[.[] | select(.path | endswith("/cancel"))] | length'
	[ "$output" -ge 1 ]
}

@test "each status Render documents: the in-progress ones polled through, live succeeds, the failed ones fail" {
	render_config srv-final-live-steps
	ds begin --release v1 >/dev/null
	run --separate-stderr ds -v apply
	assert_success
	id=$(json_get .data.render_deploy_id)
	assert_equal "$(printf '%s\n' "$stderr" | sed -n "s/^deploy-stage: Render deploy $id: //p" | paste -sd' ' -)" \
		"queued build_in_progress pre_deploy_in_progress update_in_progress live"
	assert_equal "$(json_get .data.polls)" 5
	ds finish --result ok >/dev/null
	# created is the trigger's answer; each failed status fails the apply, named
	for st in build_failed update_failed pre_deploy_failed canceled deactivated; do
		render_config "srv-final-$st-each"
		ds begin --release "v-$st" >/dev/null
		run --separate-stderr ds apply
		assert_equal "$status:$st" "2:$st"
		assert_equal "$(json_get .data.render_status)" "$st"
		[[ "$(json_get .message)" == "Render deploy "*" ended $st" ]]
		ds finish --result failed >/dev/null
	done
}

@test "a status Render does not document is never success: named, polled to the deadline, cancelled" {
	render_config srv-final-exploding-1 2s
	ds begin --release v1 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ $stderr == *'reports status "exploding", not one Render documents: not taken for success'* ]]
	[[ "$(json_get .message)" == *"not live within 2s (last status exploding); cancelled it" ]]
	assert_equal "$(json_get .data.render_status)" exploding
}

# deployed RELEASE [BEGIN_ARGS...]: a whole deploy that finishes ok.
deployed() {
	ds begin --release "$@" >/dev/null
	ds apply >/dev/null
	ds finish --result ok >/dev/null
}

@test "rollback: auto-deploy on is warned about and recorded; the rollback deploys the target's commit" {
	render_config srv-ok-auto-rb1
	deployed v1 --commit "$SHA"
	deployed v2 --commit 1111111111111111111111111111111111111111
	run --separate-stderr rollback -c config.json --no-verify
	assert_success
	[[ $stderr == *"Render's auto-deploy is on for srv-ok-auto-rb1: the next push to its branch redeploys over this rollback"* ]]
	[[ "$(json_get .message)" == "Render deploy "*" of v1 at $SHA is live; auto-deploy is still on" ]]
	run jq -c 'select(.type == "apply" and .phase == "end").data.autodeploy' <(journal 3)
	assert_output '{"was":"yes","disabled":false}'
	assert_equal "$(journal 3 | jq -r 'select(.type == "begin").commit')" "$SHA"
	assert_equal "$(journal 3 | jq -r 'select(.type == "apply" and .phase == "end").data.render_commit')" "$SHA"
	run requests srv-ok-auto-rb1 '[.[] | select(.method == "PATCH")] | length'
	assert_output 0
}

@test "rollback: disable_autodeploy_on_rollback turns auto-deploy off (PATCH autoDeploy no), recorded" {
	render_config srv-ok-auto-rb2 20s '{"disable_autodeploy_on_rollback":true}'
	deployed v1
	deployed v2
	run --separate-stderr rollback -c config.json --no-verify
	assert_success
	[[ "$(json_get .message)" == *" of v1 is live; auto-deploy turned off" ]]
	run requests srv-ok-auto-rb2 '[.[] | select(.method == "PATCH") | [.path, .json, .auth]]'
	assert_output '[["/v1/services/srv-ok-auto-rb2",{"autoDeploy":"no"},true]]'
	run jq -c 'select(.type == "apply" and .phase == "end").data.autodeploy' <(journal 3)
	assert_output '{"was":"yes","disabled":true}'
	printf 'Authorization: Bearer %s\n' "$RENDER_KEY" >auth.hdr
	assert_equal "$(curl -sf -H @auth.hdr "$RENDER_URL/v1/services/srv-ok-auto-rb2" | jq -r .autoDeploy)" no
	# a second rollback finds it off: nothing to turn off, no warning
	run --separate-stderr rollback -c config.json --no-verify --to v2
	assert_success
	[[ $stderr != *"auto-deploy"* ]]
	run requests srv-ok-auto-rb2 '[.[] | select(.method == "PATCH")] | length'
	assert_output 1
	assert_secret_absent "$RENDER_KEY" "$output" "$stderr" "$(journal 3)" "$(journal 4)"
}

@test "rollback --check: rollback.autodeploy warns when on and kept, ok when off or to be turned off, unknown unread" {
	autodeploy_check() { # SERVICE [EXTRA]: the status and message of rollback.autodeploy
		render_config "$@"
		run --separate-stderr rollback -c config.json --check --no-verify
		json_get '.checks[] | select(.name == "rollback.autodeploy") | "\(.status): \(.message)"'
	}
	render_config srv-ok-auto-chk
	deployed v1
	deployed v2
	before=$(requests srv-ok-auto-chk '[.[] | select(.method != "GET")] | length')
	run autodeploy_check srv-ok-auto-chk
	assert_output "warning: auto-deploy is on for srv-ok-auto-chk: the next push redeploys over a rollback (set deploy.render.disable_autodeploy_on_rollback)"
	run autodeploy_check srv-ok-auto-chk 20s '{"disable_autodeploy_on_rollback":true}'
	assert_output "ok: auto-deploy is on for srv-ok-auto-chk; a rollback turns it off (deploy.render.disable_autodeploy_on_rollback)"
	run autodeploy_check srv-ok-chk
	assert_output "ok: auto-deploy is off for srv-ok-chk"
	run autodeploy_check srv-ok-autoerr-chk
	assert_output "unknown: unable to read the service's autoDeploy: HTTP 500: internal error"
	# the check changes nothing
	run requests srv-ok-auto-chk '[.[] | select(.method != "GET")] | length'
	assert_output "$before"
}

@test "never more deploy triggers a minute per service than Render allows (10), counted from the journal" {
	render_config srv-ok-limit 3s
	for i in $(seq 10); do
		ds begin --release "v$i" >/dev/null
		ds apply >/dev/null
		ds finish --result ok >/dev/null
	done
	ds begin --release v11 >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	[[ "$(json_get .message)" == "not triggered: Render allows 10 deploy triggers a minute per service, and the journal has 10 in the last minute; the next may go in "*s ]]
	run requests srv-ok-limit '[.[] | select(.method == "POST")] | length'
	assert_output 10
}

@test "an exact release goes through the API even where a deploy hook is configured; a hook alone refuses it" {
	hook="$RENDER_URL/deploy/srv-ok-hookx?key=$RENDER_KEY"
	render_config srv-ok-hookx 20s "$(jq -cn --arg h "$hook" '{deploy_hook_url:$h}')"
	ds begin --release v1 --commit "$SHA" >/dev/null
	run --separate-stderr ds apply
	assert_success
	run jq -sc '[.[] | select(.path | contains("srv-ok-hookx")) | select(.method == "POST") | .path]' "$RENDER_LOG"
	assert_output '["/v1/services/srv-ok-hookx/deploys"]'
	ds finish --result ok >/dev/null
	jq -n --arg h "$hook" '{service:{name:"api"},deploy:{driver:"render",render:{deploy_hook_url:$h}}}' >config.json
	ds begin --release v2 --commit "$SHA" >/dev/null
	run --separate-stderr ds apply
	assert_equal "$status" 2
	assert_equal "$(json_get .message)" "deploying an exact commit needs Render's API (service_id and api_key): a deploy hook cannot name one"
	assert_secret_absent "$RENDER_KEY" "$output" "$stderr" "$(journal 2)"
}
