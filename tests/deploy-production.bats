#!/usr/bin/env bats
# scripts/deploy_production.sh end to end against real services: PostgreSQL
# with the upload_pipeline schema, nginx serving the stub app's releases
# (scripts/demo), and the fault server recording the alert webhook.
load helpers/common
load helpers/services

setup_file() {
	start_postgres
	pg_superuser_psql -q -f "$REPO_ROOT/scripts/demo/schema.sql" >/dev/null
	mkdir -p "$BATS_FILE_TMPDIR/nginx"
	cp -R "$REPO_ROOT/scripts/demo/releases" "$BATS_FILE_TMPDIR/nginx/releases"
	cp -R "$REPO_ROOT/scripts/demo/stubs" "$BATS_FILE_TMPDIR/nginx/stubs"
	start_nginx "$REPO_ROOT/scripts/demo/nginx.conf" --dir "$BATS_FILE_TMPDIR/nginx"
	start_faultsrv
	export REDIS_PASSWORD="redis-demo-pw-$RANDOM$RANDOM"
	start_redis --password "$REDIS_PASSWORD"
	export DEMO_RELEASES_DIR="$BATS_FILE_TMPDIR/nginx/releases" DEMO_CURRENT="$BATS_FILE_TMPDIR/nginx/current"
	export SHIPSHAPE_STATE_DIR="$BATS_FILE_TMPDIR/state"
}

teardown_file() {
	stop_all_services
}

# the storage stand-in answers 500 without its bucket list: put it back
teardown() {
	cp "$REPO_ROOT/scripts/demo/stubs/storage-buckets.json" "$BATS_FILE_TMPDIR/nginx/stubs/"
	if [ -n "${MIN_PG_DATA:-}" ]; then # the minimal config's own database
		svc_pg_stop "$MIN_PG_DATA"
		svc_dir_cleanup "$MIN_PG_DIR"
	fi
}

# infra_checks JOURNAL: "name status" of every check the infrastructure gate
# recorded in JOURNAL, sorted.
infra_checks() {
	jq -r 'select(.type == "report" and .stage == "infrastructure") | .report.checks[] | "\(.name) \(.status)"' "$1" | sort
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_STATE_DIR="$BATS_FILE_TMPDIR/state"
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR"
	write_env "$PGTEST_URL"
}

write_env() { # write_env DATABASE_URL [REDIS_URL]
	cat >demo.env <<-E
	REDIS_URL=${2:-redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0}
	DATABASE_URL=$1
	API_BASE_URL=$NGINX_URL
	SUPABASE_URL=$NGINX_URL/supabase
	LLAMAPARSE_API_URL=$NGINX_URL/llamaparse
	OPENAI_API_URL=$NGINX_URL/openai/v1
	SLACK_WEBHOOK_URL=$FAULT_URL/record/slack
	E
}

deploy() {
	"$REPO_ROOT/scripts/deploy_production.sh" -c "$REPO_ROOT/config/local.yaml" \
		-c "$REPO_ROOT/scripts/demo/demo.yaml" -e demo.env --requests 5 --security headers \
		--health-timeout 5s "$@"
}
current() { basename "$(readlink "$DEMO_CURRENT")"; }
# shim_tools DIR: a wrapper per tool (and jq) in DIR that logs its argv to
# DIR/argv.log, then runs the real one; SHIPSHAPE_BUILD=DIR puts them first.
shim_tools() {
	local t real
	mkdir -p "$1"
	for t in cfg-resolve db-check svc-probe deploy-stage health-watch alert-send rollback jq; do
		real=$(command -v "$t")
		cat >"$1/$t" <<-S
		#!/bin/sh
		printf '%s\n' "$t \$*" >>"$1/argv.log"
		exec "$real" "\$@"
		S
		chmod +x "$1/$t"
	done
}
history() { deploy-stage --service accessa-api-demo history --format json; }
alerts() { cat "$FAULT_RECORD_DIR/slack.jsonl" 2>/dev/null || true; }

# assert_no_secret_shown TOOL...: each TOOL ran (through shim_tools), and no
# secret (the database password, the webhook URL, the API keys) is in any
# tool's argv, in what the operator saw ($output, $stderr) or in the journal.
assert_no_secret_shown() {
	local journal argv tool secret
	journal=$(cat "$SHIPSHAPE_STATE_DIR"/deploy/accessa-api-demo/*.jsonl)
	argv=$(cat "$BATS_TEST_TMPDIR/shims/argv.log")
	for tool in "$@"; do
		[[ $argv == *"$tool "* ]] || { echo "never ran: $tool" >&2; return 1; }
	done
	for secret in "$PGTEST_PASSWORD" "$REDIS_PASSWORD" "$FAULT_URL/record/slack" demo-not-a-secret; do
		assert_secret_absent "$secret" "$argv" "$output" "$stderr" "$journal" || return 1
	done
}

@test "usage: --help, bad options and values are one line and 64, before anything runs" {
	S="$REPO_ROOT/scripts/deploy_production.sh"
	run "$S" --help
	assert_success
	assert_output --partial "usage: deploy_production.sh"
	for args in "-r v1" "-c $REPO_ROOT/config/local.yaml" "-c" "-r v1 -c" "--bogus -r v1" \
		"-c x -r v1 stray" "-c x -r v1 --requests many" "-c x -r v1 -m"; do
		run --separate-stderr "$S" $args
		echo "args: $args: $stderr" >&2
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[[ $stderr == deploy_production:* ]]
	done
	[[ $stderr == *'option -m needs a value'* ]]
	run --separate-stderr "$S" --bogus
	[[ $stderr == *'unknown option "--bogus"'* ]]
	# values used only after the release is applied are checked first
	before=$(history | wc -l)
	run --separate-stderr deploy -r v1 --yes --health-timeout 5x
	assert_equal "$status" 64
	[[ $stderr == *'invalid --health-timeout "5x"'* ]]
	run --separate-stderr deploy -r v1 --yes --security headrs
	assert_equal "$status" 64
	[[ $stderr == *'invalid --security "headrs"'* ]]
	[ "$(history | wc -l)" = "$before" ]
	# --name=value works like --name value
	run --separate-stderr deploy --release=v1 --requests=x
	assert_equal "$status" 64
	[[ $stderr == *'invalid --requests "x"'* ]]
	# a config that does not resolve: 65, the message without the status glued on
	run --separate-stderr "$S" -c /nonexistent.yaml -r v1 --yes
	assert_equal "$status" 65
	[[ $stderr == *"(cfg-resolve exited 65)" ]]
}

@test "--commit and --image: checked first (64), then given to deploy-stage begin and recorded" {
	S="$REPO_ROOT/scripts/deploy_production.sh"
	before=$(history | wc -l)
	for args in "--commit 12345" "--commit not-a-sha" "--commit abcdef1 --image a/b:c" "--image"; do
		# shellcheck disable=SC2086
		run --separate-stderr deploy -r v1 --yes $args
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[[ $stderr == deploy_production:* ]]
	done
	[ "$(history | wc -l)" = "$before" ]
	shim_tools "$BATS_TEST_TMPDIR/shims"
	sha=0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d
	SHIPSHAPE_BUILD="$BATS_TEST_TMPDIR/shims" run --separate-stderr deploy -r v1 --yes --commit "$sha"
	assert_success
	grep -q "^deploy-stage .* begin --release v1 --commit $sha " "$BATS_TEST_TMPDIR/shims/argv.log"
	run jq -r 'select(.type == "begin").commit' "$(ls "$SHIPSHAPE_STATE_DIR"/deploy/accessa-api-demo/*.jsonl | tail -n 1)"
	assert_output "$sha"
}

@test "without --yes: a terminal is asked; no terminal on stdin is refused at once, never waited on" {
	S="$REPO_ROOT/scripts/deploy_production.sh"
	args="-c $REPO_ROOT/config/local.yaml -c $REPO_ROOT/scripts/demo/demo.yaml -e demo.env -r v1"
	before=$(history | wc -l)
	run --separate-stderr "$S" $args </dev/null
	assert_equal "$status" 64
	[[ $stderr == *"pass --yes"* ]]
	# a controlling terminal exists, but stdin is not it: still refused, no hang
	run timeout 20 script -qec "$S $args </dev/null" /dev/null
	assert_equal "$status" 64
	assert_output --partial "pass --yes"
	# on a terminal the question is asked; anything but y deploys nothing
	run timeout 20 script -qec "$S $args" /dev/null <<<"n"
	assert_equal "$status" 2
	assert_output --partial "Deploy v1 to accessa-api-demo (development)? [y/N]"
	assert_output --partial "not confirmed"
	[ "$(history | wc -l)" = "$before" ]
}

@test "a healthy release passes every stage and is recorded as good" {
	shim_tools "$BATS_TEST_TMPDIR/shims"
	SHIPSHAPE_BUILD="$BATS_TEST_TMPDIR/shims" run --separate-stderr deploy -r v1 --yes -m "first"
	assert_success
	assert_no_secret_shown cfg-resolve db-check svc-probe deploy-stage health-watch alert-send rollback jq
	# the alert channels were validated by a dry run: nothing reached the receiver
	[ -z "$(alerts)" ]
	for stage in begin pre-deploy infrastructure application post-deploy bake readiness finish; do
		assert_line --regexp "^  $stage +(ok|passed) "
	done
	assert_line --regexp '^  infrastructure +passed +5 reports; [1-5] with warnings, which alone do not fail a gate$'
	# plain ASCII, whatever the locale (no dash a C locale cannot show)
	! printf '%s' "$output" | LC_ALL=C grep -q '[^[:print:][:space:]]'
	assert_output --partial "shipshape deploy of v1 to accessa-api-demo: OK"
	[ "$(current)" = v1 ]
	# post-deploy ran the end-to-end pipeline: upload, then polled until processed
	run jq -r 'select(.type == "report" and .stage == "post-deploy") | .report.checks[] |
		select(.name | startswith("e2e.")) | "\(.name) \(.status)"' "$SHIPSHAPE_STATE_DIR/deploy/accessa-api-demo/000001.jsonl"
	assert_output $'e2e.upload ok\ne2e.processed ok'
	# infrastructure: the schema, storage, monitoring set-up; nothing was live
	# yet, so the live service's security configuration waits (a warning)
	run infra_checks "$SHIPSHAPE_STATE_DIR/deploy/accessa-api-demo/000001.jsonl"
	assert_line "http.supabase-storage.status ok"
	assert_line "db.migrations ok"
	assert_line "alert-send.channels ok"
	assert_line "health.api warning"
	assert_line "security.live warning"
	[ "$(current)" = v1 ]
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'last | "\(.release) \(.result) \(.stages | length)"')" "v1 ok 6"
	# the resolved config (with the database password) went to a temporary file, now gone
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "--dry-run checks the first two stages and changes nothing" {
	before=$(history | wc -l)
	run deploy -r v2 --dry-run
	assert_success
	assert_line --regexp '^  pre-deploy +would pass '
	assert_line --regexp '^  infrastructure +would pass +db-check ok, svc-probe ok, alert-send ok, health-watch ok, svc-probe warning$'
	assert_line --regexp '^  application +would run '
	assert_line --regexp '^  post-deploy +would run +the end-to-end steps upload, processed'
	# the plan: what would change, against the last good deploy's config snapshot
	assert_line "plan: deploy v2 to accessa-api-demo, replacing v1"
	assert_line --regexp '^config: against deploy [0-9]+ \(v1\): [0-9]+ changed, [0-9]+ added, [0-9]+ removed; secrets: [0-9]+ changed, [1-9][0-9]* unchanged$'
	assert_line --regexp '^migration: expects [^ ]+: applied \(applied: [^ ]+; from the reports given\)$'
	assert_line --regexp '^driver: symlink: '
	[ "$(history | wc -l)" = "$before" ]
	[ "$(current)" = v1 ]
	# not even a state directory is made
	run deploy -r v2 --dry-run --state-dir "$BATS_TEST_TMPDIR/fresh-state"
	assert_success
	[ ! -e "$BATS_TEST_TMPDIR/fresh-state" ]
}

@test "pre-deploy checks a Render Blueprint: --render FILE, render/render.yaml beside a render-driver config, none otherwise" {
	shim_tools "$BATS_TEST_TMPDIR/shims"
	export SHIPSHAPE_BUILD="$BATS_TEST_TMPDIR/shims"
	# the demo service's Blueprint, with a secret written in it
	cat >bp.yaml <<-'Y'
	services:
	  - type: web
	    name: accessa-api-demo
	    healthCheckPath: /health
	    envVars:
	      - key: JWT_SECRET
	        value: demo-blueprint-literal-secret
	Y
	run --separate-stderr deploy -r v2 --dry-run --render bp.yaml
	assert_equal "$status" 2
	assert_line --regexp '^  pre-deploy +would FAIL '
	assert_line --regexp 'critical: render\.secrets: bp\.yaml:7:[0-9]+: JWT_SECRET is a secret with a literal value in the Blueprint'
	assert_secret_absent demo-blueprint-literal-secret "$output" "$stderr" "$(cat shims/argv.log)"
	grep -q -- '^cfg-resolve .* --check --render bp\.yaml --format json ' shims/argv.log
	# the demo's symlink driver: no Blueprint looked for; --render none: none
	: >shims/argv.log
	run --separate-stderr deploy -r v2 --dry-run --render none
	assert_success
	grep -q -- '^cfg-resolve .* --check ' shims/argv.log
	! grep -q -- '--render' shims/argv.log
	# the render driver: render/render.yaml beside the first config is checked
	mkdir -p site/render
	cp "$REPO_ROOT/config/local.yaml" site/local.yaml
	cp bp.yaml site/render/render.yaml
	printf 'deploy:\n  driver: render\n' >render-driver.yaml
	: >shims/argv.log
	run --separate-stderr "$REPO_ROOT/scripts/deploy_production.sh" -c site/local.yaml \
		-c "$REPO_ROOT/scripts/demo/demo.yaml" -c render-driver.yaml -e demo.env -r v2 --dry-run
	assert_equal "$status" 2
	grep -q -- '^cfg-resolve .* --check --render site/render/render\.yaml ' shims/argv.log
	assert_line --regexp 'critical: render\.secrets: site/render/render\.yaml:7:'
	# a --render FILE that is not there: refused before anything runs
	run --separate-stderr deploy -r v2 --dry-run --render missing.yaml
	assert_equal "$status" 64
	[[ $stderr == *"--render missing.yaml: not a readable file"* ]]
}

@test "a failed pre-deploy gate deploys nothing, alerts, exits 2" {
	[ "$(current)" = v1 ]
	port=$(free_port)
	write_env "postgresql://app:wrong@127.0.0.1:$port/appdb"
	run --separate-stderr deploy -r v2 --yes
	assert_equal "$status" 2
	assert_line --regexp '^  pre-deploy +FAILED '
	refute_line --regexp '^  application '
	assert_line --regexp '^  alert +sent '
	[ "$(current)" = v1 ]
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'last | "\(.release) \(.result) \(.apply // "none")"')" "v2 failed none"
	run alerts
	assert_output --partial "failed at pre-deploy"
	assert_output --partial "nothing was deployed"
	assert_secret_absent "$PGTEST_PASSWORD" "$output"
}

@test "the cache is probed before a deploy: a redis down fails the pre-deploy gate, its password shown nowhere" {
	local live
	live=$(current)
	port=$(free_port)
	write_env "$PGTEST_URL" "redis://:$REDIS_PASSWORD@127.0.0.1:$port/0"
	shim_tools "$BATS_TEST_TMPDIR/shims"
	SHIPSHAPE_BUILD="$BATS_TEST_TMPDIR/shims" run --separate-stderr deploy -r v2 --yes
	assert_equal "$status" 2
	assert_line --regexp '^  pre-deploy +FAILED +1 of [0-9]+ reports failed \(svc-probe critical\)'
	assert_line --regexp "^ +critical: redis.cache: 127.0.0.1:$port: connection refused\$"
	refute_line --regexp '^  application '
	[ "$(current)" = "$live" ]
	grep -q -- "svc-probe -c .* --only cache --format json" "$BATS_TEST_TMPDIR/shims/argv.log"
	run jq -r 'select(.type == "report" and .stage == "pre-deploy") | .report.checks[] |
		select(.name == "redis.cache") | "\(.status) \(.message)"' "$(ls "$SHIPSHAPE_STATE_DIR"/deploy/accessa-api-demo/*.jsonl | tail -n 1)"
	assert_output "critical 127.0.0.1:$port: connection refused"
	assert_no_secret_shown svc-probe
	# the right URL: the cache passes (and the first test's deploy saw it ok)
	write_env "$PGTEST_URL"
	run --separate-stderr deploy -r v2 --dry-run
	assert_success
	assert_line --regexp '^  pre-deploy +would pass '
}

@test "a failed infrastructure check (the storage API answers 500) deploys nothing, alerts, exits 2" {
	[ "$(current)" = v1 ]
	rm "$BATS_FILE_TMPDIR/nginx/stubs/storage-buckets.json"
	run --separate-stderr deploy -r v2 --yes
	assert_equal "$status" 2
	assert_line --regexp '^  pre-deploy +passed '
	assert_line --regexp '^  infrastructure +FAILED '
	assert_line --regexp 'critical: http\.supabase-storage\.status: HTTP 500'
	refute_line --regexp '^  application '
	assert_line --regexp '^  alert +sent '
	[ "$(current)" = v1 ]
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'last | "\(.release) \(.result) \(.apply // "none")"')" "v2 failed none"
	run alerts
	assert_output --partial "failed at infrastructure"
	assert_output --partial "nothing was deployed"
	# a dry run stops there too
	run deploy -r v2 --dry-run
	assert_equal "$status" 2
	assert_line --regexp '^  infrastructure +would FAIL +svc-probe: '
}

@test "an alert channel that is not valid fails the infrastructure gate (alert-send --check), nothing sent" {
	cat >bad-channel.yaml <<-Y
	alerts:
	  email: {from: ops@example.com, recipients: [oncall@example.com], smtp: {url: "smtp://127.0.0.1:$(free_port)"}, repeat_interval: soon}
	Y
	before=$(alerts | wc -l)
	run --separate-stderr deploy -c bad-channel.yaml -r v2 --dry-run
	assert_equal "$status" 2
	assert_line --regexp '^  infrastructure +would FAIL +alert-send: 1 check: 1 critical \(alert-send\.channels\)$'
	assert_line --regexp '^ +critical: alert-send\.channels: the alert channels are not valid: email: .*alerts\.email\.repeat_interval: expected a duration, got "soon"$'
	assert_equal "$(alerts | wc -l)" "$before"
}

@test "a failed post-deploy rolls back to the last good release and alerts" {
	deploy -r v2 --yes >/dev/null
	[ "$(current)" = v2 ]
	shim_tools "$BATS_TEST_TMPDIR/shims"
	SHIPSHAPE_BUILD="$BATS_TEST_TMPDIR/shims" run --separate-stderr deploy -r v3 --yes
	assert_equal "$status" 2
	assert_line --regexp '^  application +ok '
	assert_line --regexp '^  post-deploy +FAILED '
	# the stage's line says which reports failed
	assert_line --regexp '^  post-deploy +FAILED +[1-4] of 4 reports failed \((.*, )?svc-probe critical(, .*)?\)$'
	refute_output --partial "warnings pass"
	assert_line --regexp '^  rollback +ok +back to v2'
	assert_line --regexp '^  alert +sent '
	[ "$(current)" = v2 ]
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[-2:] | map("\(.action) \(.release) \(.result)") | join(", ")')" \
		"deploy v3 failed, rollback v2 ok"
	assert_no_secret_shown cfg-resolve db-check svc-probe deploy-stage alert-send rollback
	# with v2 live, infrastructure probed its security headers (only those
	# checks: its health is not this stage's business) and health-watch saw it up
	j=$(ls "$SHIPSHAPE_STATE_DIR/deploy/accessa-api-demo/"*.jsonl | tail -n 2 | head -n 1)
	run infra_checks "$j"
	assert_line "health.api ok"
	assert_line "security.headers.content_type_options ok"
	assert_line "security.headers.hsts warning"
	refute_line --regexp '^http\.api\.'
	refute_line --regexp '^security\.live '
	run alerts
	assert_output --partial "failed at post-deploy"
	assert_output --partial "rolled back to v2"
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "a failed apply (the restart after the switch) rolls back and alerts" {
	[ "$(current)" = v2 ]
	# the switch to v1 succeeds, its restart fails; the rollback's restart works
	cat >restart.yaml <<-'Y'
	deploy:
	  symlink:
	    restart: [sh, -c, 'test "$$SHIPSHAPE_ACTION" = rollback || { echo "workers did not start" >&2; exit 3; }']
	Y
	run --separate-stderr deploy -r v1 --yes -c restart.yaml
	assert_equal "$status" 2
	assert_line --regexp '^  application +FAILED .*workers did not start'
	refute_line --regexp '^  post-deploy '
	assert_line --regexp '^  rollback +ok +back to v2'
	assert_line --regexp '^  alert +sent '
	[ "$(current)" = v2 ]
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -sr '.[-2:] | map("\(.action) \(.release) \(.result) \(.apply)") | join(", ")')" \
		"deploy v1 failed failed, rollback v2 ok ok"
	run alerts
	assert_output --partial "deploy of v1 to accessa-api-demo failed at application"
	assert_output --partial "rolled back to v2"
}

@test "a healthy release whose pipeline fails end to end (deploy.e2e) is rolled back" {
	[ "$(current)" = v2 ]
	run --separate-stderr deploy -r v5 --yes
	assert_equal "$status" 2
	assert_line --regexp '^  application +ok '
	assert_line --regexp '^  post-deploy +FAILED '
	# what failed it, and apart from that that its warnings did not
	assert_line --regexp '^  post-deploy +FAILED +1 of 4 reports failed \(deploy-stage critical\); 1 with warnings, which alone do not fail a gate$'
	refute_output --partial "warnings pass"
	assert_line --regexp 'critical: e2e\.processed: .*\.status == "failed" holds'
	refute_line --regexp 'critical: http\.api'
	assert_line --regexp '^  rollback +ok +back to v2'
	[ "$(current)" = v2 ]
	run alerts
	assert_output --partial "deploy of v5 to accessa-api-demo failed at post-deploy"
	# the post-deploy gate recorded the end-to-end report: the upload passed, processing failed
	j=$(ls "$SHIPSHAPE_STATE_DIR/deploy/accessa-api-demo/"*.jsonl | tail -n 2 | head -n 1)
	run jq -r 'select(.type == "report" and .stage == "post-deploy") | .report.checks[] |
		select(.name | startswith("e2e.")) | "\(.name) \(.status)"' "$j"
	assert_output $'e2e.upload ok\ne2e.processed critical'
}

@test "an invalid deploy.e2e is invalid input before anything is deployed" {
	before=$(history | wc -l)
	printf 'deploy:\n  e2e:\n    steps:\n      - {name: status, url: "/api/v1/documents/{{doc}}/status"}\n' >bad-e2e.yaml
	run --separate-stderr deploy -r v1 --yes -c bad-e2e.yaml
	assert_equal "$status" 65
	[[ $stderr == *'{{doc}} is not captured by an earlier step'* ]]
	[ "$(history | wc -l)" = "$before" ]
	[ "$(current)" = v2 ]
}

@test "--no-rollback leaves a failed release in place, still alerts" {
	run --separate-stderr deploy -r v5 --yes --no-rollback
	assert_equal "$status" 2
	assert_line --regexp '^  rollback +skipped '
	[ "$(current)" = v5 ]
	run history
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'last | "\(.release) \(.result)"')" "v5 failed"
	rollback -c <(cfg-resolve -e demo.env "$REPO_ROOT/config/local.yaml" "$REPO_ROOT/scripts/demo/demo.yaml") >/dev/null
	[ "$(current)" = v2 ]
}

@test "interrupted mid-deploy: says what is left open; the deploy shows interrupted until resolved" {
	[ "$(current)" = v2 ]
	# the end-to-end step hangs: the deploy sits in post-deploy, v1 applied
	curl -fsS "$FAULT_URL/_ctl/mode/e2e-hang?hang=1" >/dev/null
	printf 'deploy:\n  e2e:\n    steps:\n      - {name: hang, url: "%s/record/e2e-hang", timeout: 60s}\n' "$FAULT_URL" >hang.yaml
	# the script itself leads a process group of its own, as at a terminal
	setsid "$REPO_ROOT/scripts/deploy_production.sh" -c "$REPO_ROOT/config/local.yaml" \
		-c "$REPO_ROOT/scripts/demo/demo.yaml" -c hang.yaml -e demo.env --requests 5 --security headers \
		-r v1 --yes >out 2>err &
	victim=$!
	svc_wait 30 test -s "$FAULT_RECORD_DIR/e2e-hang.jsonl"
	kill -TERM -- "-$victim"
	status=0
	wait "$victim" || status=$?
	assert_equal "$status" 143
	run cat err
	assert_output --regexp "deploy_production: interrupted during post-deploy: deploy [0-9]+ \(v1\) is left open"
	run deploy-stage --service accessa-api-demo status --format json
	assert_equal "$status" 1
	assert_equal "$(json_get .state)" interrupted
	[ "$(current)" = v1 ]
	# resolved as the message says
	rollback -c <(cfg-resolve -e demo.env "$REPO_ROOT/config/local.yaml" "$REPO_ROOT/scripts/demo/demo.yaml") >/dev/null
	[ "$(current)" = v2 ]
	curl -fsS "$FAULT_URL/_ctl/mode/e2e-hang" >/dev/null
}

@test "another deploy in progress: exit 75, nothing changed" {
	sleep 60 &
	holder=$!
	SHIPSHAPE_DEPLOY_PID=$holder deploy-stage --service accessa-api-demo lock acquire -m "maintenance" >/dev/null
	run --separate-stderr deploy -r v1 --yes
	assert_equal "$status" 75
	[[ $stderr == *"lock held by"*"maintenance"* ]]
	[ "$(current)" = v2 ]
	kill "$holder"
	wait "$holder" || true
	deploy-stage --service accessa-api-demo lock release >/dev/null 2>&1
}

@test "stdout that cannot be written: refused before anything starts; a reader that stops early never cuts a deploy short" {
	before=$(history | wc -l)
	run --separate-stderr bash -c "$(declare -f deploy); REPO_ROOT=$REPO_ROOT; deploy -r v1 --yes >/dev/full"
	assert_equal "$status" 3
	[[ $stderr == *"unable to write to stdout"* ]]
	[ "$(history | wc -l)" = "$before" ]
	# `| head -n 1` closes the pipe after the first line: the deploy still runs to its end
	run bash -c "$(declare -f deploy); REPO_ROOT=$REPO_ROOT; deploy -r v1 --yes | head -n 1; exit \${PIPESTATUS[0]}"
	assert_success
	assert_output "shipshape: deploying v1 to accessa-api-demo (development) with the symlink driver"
	[ "$(current)" = v1 ]
	assert_equal "$(history | jq -sr 'last | "\(.release) \(.result)"')" "v1 ok"
}

@test "a second, different failure notifies only itself; the next good deploy resolves both, under one groupKey" {
	cat >alerts.yaml <<-Y
	alerts:
	  webhook: {url: "$FAULT_URL/record/deployhook"}
	  group_by: [alertname, service, environment]
	  group_wait: 0s
	  escalation:
	    levels:
	      - {level: 1, after: 0s, channels: [slack, webhook]}
	      - {level: 2, after: 1s, channels: [slack, webhook]}
	Y
	hook() { jq -c '.json' "$FAULT_RECORD_DIR/deployhook.jsonl" 2>/dev/null || true; }
	# v2 is healthy; the good deploy's readiness wants a known-good release to return to
	history | jq -se 'any(.result == "ok")' >/dev/null || deploy -r v1 --yes >/dev/null
	good=v2
	port=$(free_port)
	write_env "postgresql://app:wrong@127.0.0.1:$port/appdb"
	run --separate-stderr deploy -r v2 --yes -c alerts.yaml
	assert_equal "$status" 2
	first=$(history | jq -sr 'last.deploy')
	sleep 1.1 # the first failure's level 2 falls due
	run --separate-stderr deploy -r v3 --yes -c alerts.yaml
	assert_equal "$status" 2
	second=$(history | jq -sr 'last.deploy')
	[ "$first" != "$second" ]
	# each failure's message carries that failure only, never the earlier ones
	assert_equal "$(hook | jq -r '.status + " " + (.alerts | map(.labels.deploy) | join(","))' | tr '\n' '|')" \
		"firing $first|firing $second|"
	assert_equal "$(alerts | tail -n 1 | jq '.json.attachments | length')" 1
	# a good deploy resolves both, in the same group as their firing
	write_env "$PGTEST_URL"
	run --separate-stderr deploy -r "$good" --yes -c alerts.yaml
	assert_success
	assert_line --regexp '^  alert +resolved '
	assert_equal "$(hook | tail -n 1 | jq -r '.status + " " + (.alerts | map(.status + ":" + .labels.deploy) | sort | join(","))')" \
		"resolved $(printf 'resolved:%s\n' "$first" "$second" | sort | paste -sd,)"
	assert_equal "$(hook | jq -r .groupKey | sort -u)" '{}:{alertname="DeployFailed", environment="development", service="accessa-api-demo"}'
}

# health_gets: the GET /health requests nginx has logged so far.
health_gets() {
	grep -c '"GET /health HTTP' "$NGINX_DIR/logs/access.log" || true
}
# stage_checks STAGE: "name status" of every check the STAGE gate of the
# latest deploy recorded, sorted.
stage_checks() {
	local j
	j=$(ls "$SHIPSHAPE_STATE_DIR/deploy/accessa-api-demo/"*.jsonl | tail -n 1)
	jq -r --arg s "$1" 'select(.type == "report" and .stage == $s) | .report.checks[] | "\(.name) \(.status)"' "$j" | sort
}

@test "staging over plain http: the TLS check is a warning, as cfg-resolve --check says, not a failed infrastructure gate" {
	to=v1
	[ "$(current)" != v1 ] || to=v2
	printf 'environment: staging\n' >staging.yaml
	run --separate-stderr deploy -c staging.yaml -r "$to" --yes --security headers,tls
	assert_success
	assert_line --regexp '^  infrastructure +passed '
	[ "$(current)" = "$to" ]
	run stage_checks pre-deploy
	assert_line "policy.urls warning"
	run stage_checks infrastructure
	assert_line "security.tls warning"
	run stage_checks post-deploy
	assert_line "security.tls warning"
	refute_line --regexp ' critical$'
}

@test "the rate-limit burst is sent only where the config enables it (deploy.security.rate_limit_burst)" {
	from=$(current) to=v1
	[ "$from" != v1 ] || to=v2
	printf 'environment: staging\n' >staging.yaml
	before=$(health_gets)
	run --separate-stderr deploy -c staging.yaml -r "$to" --yes --security headers,rate-limit
	assert_success
	[ "$(current)" = "$to" ]
	# the deploy's own health probes, no burst (100/min + 200 burst: 330 requests)
	sent=$(($(health_gets) - before))
	echo "GET /health: $sent" >&2
	((sent < 100))
	run stage_checks post-deploy
	assert_line "security.rate_limit warning"
	refute_line --regexp ' critical$'
	# enabled: the burst goes out; the demo's nginx has no limit_req, so it fails
	printf 'deploy:\n  security:\n    rate_limit_burst: true\n' >burst.yaml
	before=$(health_gets)
	run --separate-stderr deploy -c staging.yaml -c burst.yaml -r "$from" --yes --security rate-limit
	assert_equal "$status" 2
	sent=$(($(health_gets) - before))
	echo "GET /health: $sent" >&2
	((sent >= 330))
	assert_line --regexp 'critical: security\.rate_limit: no 429 in a burst of 330 requests'
	assert_line --regexp "^  rollback +ok +back to $to"
	[ "$(current)" = "$to" ]
}

# help_options / man_options: the options --help and shipshape-deploy(1)'s
# OPTIONS list, one a line, sorted.
help_options() {
	"$REPO_ROOT/scripts/deploy_production.sh" --help | grep -E '^ {2,6}-' | cut -c1-25 |
		grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort -u
}
man_options() {
	sed -n '/^\.SH OPTIONS/,/^\.SH [^O]/p' "$REPO_ROOT/man/man1/shipshape-deploy.1" |
		awk 'prev == ".TP" { print } { prev = $0 }' | sed 's/\\-/-/g' | grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort -u
}

@test "--help and shipshape-deploy(1) list the same options, both ways" {
	run help_options
	assert_success
	help=$output
	run man_options
	assert_success
	# both lists are real: the options every deploy uses are in them
	for opt in -c --config -r --release --dry-run --yes --health-timeout --help; do
		grep -qx -- "$opt" <<<"$help" || { echo "--help lacks $opt" >&2; return 1; }
	done
	diff <(printf '%s\n' "$help") <(printf '%s\n' "$output")
	# and the man page is valid roff
	run mandoc -Tlint -W warning "$REPO_ROOT/man/man1/shipshape-deploy.1"
	assert_success
}

# on_tty COLS CMD: CMD on a pseudo-terminal of COLS columns (\n kept as \n),
# stdout to out.txt; what the terminal showed (stderr) in tty.txt.
on_tty() {
	status=0
	timeout 120 script -qfec "stty cols $1 rows 24 -onlcr; $2 >out.txt" /dev/null </dev/null >tty.txt || status=$?
}

@test "on a terminal: each stage as it runs with its time, a passed stage's warnings named; stdout as in a pipe; none with -q" {
	export TERM=xterm LC_ALL=C.UTF-8
	unset NO_COLOR
	S="$REPO_ROOT/scripts/deploy_production.sh -c $REPO_ROOT/config/local.yaml -c $REPO_ROOT/scripts/demo/demo.yaml"
	S+=" -e demo.env --requests 5 --security headers --health-timeout 5s --yes"
	on_tty 100 "$S -r v1 -m tty"
	assert_equal "$status" 0
	# the stage, its time and the check it runs, redrawn in place
	grep -q $'\rpre-deploy [0-9]*s: db-check\e\\[K' tty.txt
	grep -q $'\rpost-deploy [0-9]*s: svc-probe-performance\e\\[K' tty.txt
	# each stage's time; infrastructure passed with warnings, each named, in colour
	run bash -c "tr '\r' '\n' <tty.txt | sed 's/\x1b\[K//g' | grep -c '^                  took [0-9]*s'"
	[ "$output" -ge 5 ]
	grep -q $'\e\\[33m                    warning: policy.jwt: security.jwt_secret looks like a placeholder' tty.txt
	grep -q '                    warning: security.headers.hsts: ' tty.txt
	# stdout is what a pipe gets: the summary, no \r, no escape
	grep -qE '^  infrastructure +passed +5 reports; [1-5] with warnings' out.txt
	grep -q 'shipshape deploy of v1 to accessa-api-demo: OK' out.txt
	! LC_ALL=C grep -q $'[\r\e]' out.txt
	! grep -q 'took [0-9]*s' out.txt
	# NO_COLOR, a C locale, 40 columns: no colour, ASCII only, lines that fit
	on_tty 40 "NO_COLOR=1 LC_ALL=C $S -r v2"
	assert_equal "$status" 0
	grep -q $'\rpre-deploy [0-9]*s: db-check\e\\[K' tty.txt
	! grep -q $'\e\\[[0-9;]*m' tty.txt
	[ "$(LC_ALL=C tr -d '\000-\177' <tty.txt | wc -c)" -eq 0 ]
	run bash -c "tr '\r' '\n' <tty.txt | sed 's/\x1b\[K//g' | awk '{ if (length > m) m = length } END { print m }'"
	[ "$output" -le 40 ]
	[ "$output" -ge 30 ]
	# -q: the terminal gets nothing of it
	on_tty 100 "$S -q -r v1"
	assert_equal "$status" 0
	! LC_ALL=C grep -q $'[\r\e]' tty.txt
	! grep -q 'took [0-9]*s' tty.txt
}

@test "on the postgres backend (state.backend): the same deploy, its rollback, and a fresh machine's history" {
	pg_superuser_psql -q -v "pw=state-pw-91c2" <<<"CREATE ROLE deployer LOGIN PASSWORD :'pw';"
	STATE_URL=$PGTEST_URL deploy-stage --state-url-env STATE_URL state init --grant deployer >/dev/null
	echo "STATE_DATABASE_URL=postgresql://deployer:state-pw-91c2@127.0.0.1:$PGTEST_PORT/appdb" >>demo.env
	state_dir=$BATS_TEST_TMPDIR/runner-1
	pgdeploy() { SHIPSHAPE_STATE_DIR=$state_dir deploy -c "$REPO_ROOT/scripts/demo/state.yaml" --yes "$@"; }
	run --separate-stderr pgdeploy -r v2
	assert_success
	run --separate-stderr pgdeploy -r v3
	assert_equal "$status" 2
	assert_line --regexp '^  rollback +ok +back to v2'
	[ "$(current)" = v2 ]
	# the runner kept no journal of its own: it is in PostgreSQL
	[[ -z "$(ls "$state_dir/deploy/accessa-api-demo/" | grep jsonl)" ]]
	run pg_superuser_psql -At -c "SELECT string_agg(DISTINCT record->>'action', ',') FROM shipshape.journal
		WHERE service = 'accessa-api-demo' AND record->>'type' = 'begin'"
	assert_output "deploy,rollback"
	# another runner, its state directory empty, reads the same history
	run env SHIPSHAPE_STATE_DIR="$BATS_TEST_TMPDIR/runner-2" STATE_DATABASE_URL="postgresql://deployer:state-pw-91c2@127.0.0.1:$PGTEST_PORT/appdb" \
		deploy-stage --state-url-env STATE_DATABASE_URL --service accessa-api-demo history --format json
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'map("\(.action) \(.release) \(.result)") | join(", ")')" \
		"deploy v2 ok, deploy v3 failed, rollback v2 ok"
	! pg_superuser_psql -At -c "SELECT string_agg(record::text, ' ') FROM shipshape.journal" | grep -q state-pw-91c2
	pg_superuser_psql -q -c "DROP SCHEMA shipshape CASCADE; DROP ROLE deployer"
}

# switch.sh: a command driver for any app: points DEMO_CURRENT at the
# release directory SHIPSHAPE_RELEASE names (deploy and rollback alike).
write_switch() {
	cat >switch.sh <<-'S'
	#!/bin/sh
	set -eu
	[ -d "$DEMO_RELEASES_DIR/$SHIPSHAPE_RELEASE" ] || { echo "no release $SHIPSHAPE_RELEASE" >&2; exit 1; }
	ln -sfn "$DEMO_RELEASES_DIR/$SHIPSHAPE_RELEASE" "$DEMO_CURRENT.new"
	mv -T "$DEMO_CURRENT.new" "$DEMO_CURRENT"
	printf '%s %s\n' "$SHIPSHAPE_ACTION" "$SHIPSHAPE_RELEASE" >>"$DEMO_RELEASES_DIR/../switch.log"
	S
	chmod +x switch.sh
}

@test "a minimal config (config/minimal.yaml: no services, no security, no monitoring) resolves, passes --check in staging, deploys and rolls back" {
	write_switch
	# the app's own database: an empty one, over TLS (database.require_ssl
	# defaults to true), nothing in it but PostgreSQL's public schema; a
	# second server (start_postgres would stop the file's: it is forgotten
	# here, and teardown stops this one)
	unset PGTEST_DATA PGTEST_DIR
	start_postgres --ssl --dir "$BATS_TEST_TMPDIR/pg"
	MIN_PG_DATA=$PGTEST_DATA MIN_PG_DIR=$PGTEST_DIR
	cat >app.env <<-E
	SERVICE_NAME=notes-api
	DATABASE_URL=$PGTEST_URL
	API_BASE_URL=$NGINX_URL
	DEPLOY_COMMAND=$BATS_TEST_TMPDIR/switch.sh
	E
	min=$REPO_ROOT/config/minimal.yaml
	run --separate-stderr cfg-resolve --strict -e app.env -s "$REPO_ROOT/config/schema.yaml" "$min"
	assert_success
	assert_equal "$(json_get '.environment, .database.schema, (.services // "none")')" $'staging\npublic\nnone'
	# --check: nothing critical (the warnings: the test's plain-http API, and
	# no alert channel); what it had nothing to check is said, not passed over
	run --separate-stderr cfg-resolve -e app.env -s "$REPO_ROOT/config/schema.yaml" --check --format json "$min"
	assert_equal "$status" 1
	assert_equal "$(json_get '[.checks[] | select(.status != "ok") | .name] | join(" ")')" "policy.urls policy.alerts"
	assert_equal "$(json_get '.checks[] | select(.name == "policy.jwt") | .message')" \
		"no security block: the JWT secret and expiry are not checked"
	mindeploy() {
		"$REPO_ROOT/scripts/deploy_production.sh" -c "$min" -e app.env --yes --requests 5 --health-timeout 5s "$@"
	}
	for to in v1 v2; do
		run --separate-stderr mindeploy -r "$to"
		assert_success
		assert_output --partial "shipshape deploy of $to to notes-api: OK"
		for stage in begin pre-deploy infrastructure application post-deploy bake readiness finish; do
			assert_line --regexp "^  $stage +(ok|passed) "
		done
		[ "$(current)" = "$to" ]
	done
	# the API's health is watched without a monitoring section (api.base_url + /health)
	run jq -r 'select(.type == "report" and .stage == "readiness") | .report.checks[] | select(.name == "health.api") | .status' \
		"$SHIPSHAPE_STATE_DIR/deploy/notes-api/000002.jsonl"
	assert_output ok
	# v3 has no health endpoint: post-deploy fails, and the same command brings v2 back
	run --separate-stderr mindeploy -r v3
	assert_equal "$status" 2
	assert_line --regexp '^  rollback +ok '
	[ "$(current)" = v2 ]
	assert_equal "$(tail -n 2 "$DEMO_RELEASES_DIR/../switch.log" | paste -sd, -)" "deploy v3,rollback v2"
	run deploy-stage --service notes-api history --format json
	assert_equal "$(printf '%s\n' "$output" | jq -sr 'map("\(.action) \(.release) \(.result)") | join(", ")')" \
		"deploy v1 ok, deploy v2 ok, deploy v3 failed, rollback v2 ok"
}

# deploy_silences: the silences deploy_production.sh made, one line each:
# "STATE MATCH" with the comment's release.
deploy_silences() {
	alert-send silence list | jq -r 'select(.createdBy | startswith("shipshape-deploy@")) | "\(.state) \(.match) \(.comment | capture("of (?<r>[^ ]+) to").r)"'
}

@test "the deploy window: the service's health alerts silenced from apply to the end of post-deploy, expired whatever the outcome" {
	rm -rf "$SHIPSHAPE_STATE_DIR/alert-send/silences" # the earlier tests' deploys made theirs
	# svc-probe runs in pre-deploy and in post-deploy: each run notes the
	# deploy silences active then
	mkdir shims
	cat >shims/svc-probe <<-S
	#!/bin/sh
	alert-send silence list | jq -r 'select(.state == "active" and (.createdBy | startswith("shipshape-deploy@"))) | .id' |
		sed 's/^/active /' >>"$BATS_TEST_TMPDIR/during.log"
	echo "svc-probe \$*" >>"$BATS_TEST_TMPDIR/during.log"
	exec "$(command -v svc-probe)" "\$@"
	S
	chmod +x shims/svc-probe
	to=v1
	[ "$(current)" != v1 ] || to=v2
	SHIPSHAPE_BUILD="$BATS_TEST_TMPDIR/shims" run --separate-stderr deploy -r "$to" --yes
	assert_success
	# none before apply; active in post-deploy (its first probe is of the API, retried while it starts)
	run grep -B1 -m1 -- '--only api --retries' during.log
	assert_line --regexp '^active [0-9a-f-]{36}$'
	[ "$(sed -n 1p during.log | cut -c1-9)" = "svc-probe" ]
	run deploy_silences
	assert_output "expired {alertname=\"HealthCheckFailed\", target=~\"api\", environment=\"development\"} $to"
	# expired when post-deploy ended, not left to run out its hour
	local ends finished
	ends=$(alert-send silence list | jq -r 'select(.createdBy | startswith("shipshape-deploy@")) | .endsAt' | jq -Rr 'sub("\\.[0-9]+Z$";"Z") | fromdate')
	finished=$(date +%s)
	[ $((finished - ends)) -ge 0 ] && [ $((finished - ends)) -lt 120 ]
	# a failed post-deploy (v3 has no health endpoint): rolled back, and the silence expired too
	run --separate-stderr deploy -r v3 --yes
	assert_equal "$status" 2
	run deploy_silences
	assert_line "expired {alertname=\"HealthCheckFailed\", target=~\"api\", environment=\"development\"} v3"
	refute_line --regexp '^active '
	# off: no silence
	local before
	before=$(deploy_silences | wc -l)
	printf 'alerts: {deploy_silence: {enabled: false}}\n' >nosilence.yaml
	to=v1
	[ "$(current)" != v1 ] || to=v2
	run --separate-stderr deploy -c nosilence.yaml -r "$to" --yes
	assert_success
	assert_equal "$(deploy_silences | wc -l)" "$before"
}

# notices: the deploy notices the webhook recorded, one line each:
# "EVENT RELEASE PREVIOUS BY CHECKS".
notices() {
	[ -f "$FAULT_RECORD_DIR/notice-hook.jsonl" ] || return 0
	jq -r '.json | select(.kind == "notice") | "\(.event) \(.release) \(.previous) \(.by) \([.checks[].name] | join(","))"' \
		"$FAULT_RECORD_DIR/notice-hook.jsonl"
}

@test "deploy notices (alerts.notices.channels): started, live; started, failed with its checks, rolled back; who is the CI's actor" {
	rm -f "$FAULT_RECORD_DIR/notice-hook.jsonl" "$FAULT_RECORD_DIR/slack.jsonl"
	printf 'alerts: {webhook: {url: "%s"}, notices: {channels: [slack, webhook]}}\n' "$FAULT_URL/record/notice-hook" >notices.yaml
	local to=v1 prev
	[ "$(current)" != v1 ] || to=v2
	prev=$(current)
	run --separate-stderr env GITHUB_ACTOR=octo GITHUB_RUN_ID=4242 "$REPO_ROOT/scripts/deploy_production.sh" \
		-c "$REPO_ROOT/config/local.yaml" -c "$REPO_ROOT/scripts/demo/demo.yaml" -c notices.yaml -e demo.env \
		--requests 5 --security headers --health-timeout 5s -r "$to" --yes
	assert_success
	assert_equal "$(notices)" "$(printf '%s\n' "started $to $prev octo (GitHub Actions, run 4242) " "live $to $prev octo (GitHub Actions, run 4242) ")"
	# the live notice has the time it took; Slack had them as readable messages
	[ "$(jq -r '.json | select(.kind == "notice" and .event == "live") | .duration_ms' "$FAULT_RECORD_DIR/notice-hook.jsonl")" -ge 0 ]
	jq -r '.json.text' "$FAULT_RECORD_DIR/slack.jsonl" | grep -qx "\[DEPLOY LIVE\] $to to accessa-api-demo (development)"
	# v3 fails post-deploy (no health endpoint): its failing check named, then the rollback
	: >"$FAULT_RECORD_DIR/notice-hook.jsonl"
	run --separate-stderr deploy -c notices.yaml -r v3 --yes
	assert_equal "$status" 2
	run notices
	assert_equal "${#lines[@]}" 3
	[[ ${lines[0]} == "started v3 $to "*@* ]]
	[[ ${lines[1]} == "failed v3 $to "*@*" "*http.api.status* ]]
	[[ ${lines[2]} == "rolled_back v3 $to "* ]]
	assert_equal "$(jq -r '.json | select(.kind == "notice" and .event == "rolled_back") | .message' "$FAULT_RECORD_DIR/notice-hook.jsonl")" "back to $to"
	assert_equal "$(jq -r '.json | select(.kind == "notice" and .event == "failed") | .message' "$FAULT_RECORD_DIR/notice-hook.jsonl")" "post-deploy failed: the post-deploy gate failed"
	# notices are not alerts: none is in alert-send's book
	! grep -q '"event":"' "$SHIPSHAPE_STATE_DIR/alert-send/state.json" 2>/dev/null
}

@test "alert-send notice: bad input is one line and 65; email as a notice channel is refused" {
	printf 'environment: production\nservice: {name: x}\nalerts: {webhook: {url: "%s"}, notices: {channels: [webhook]}}\n' "$FAULT_URL/record/n2" >n.yaml
	local bad
	for bad in '' 'nope' '[]' '{"kind":"alert"}' '{"kind":"notice","event":"exploded","release":"v1"}' '{"kind":"notice","event":"live"}'; do
		run --separate-stderr alert-send -c n.yaml notice <<<"$bad"
		assert_equal "$status" 65 "input: $bad"
		assert_equal "${#stderr_lines[@]}" 1 "input: $bad"
	done
	run --separate-stderr alert-send -c n.yaml notice <<<'{"kind":"notice","event":"live","release":"v9","service":"x","environment":"production"}'
	assert_success
	assert_equal "$(json_get '.status, .channel, .notice')" $'delivered\nwebhook\nlive'
	# Slack has the failing checks with their measured values
	sed -i "s|alerts: {|alerts: {slack: {webhook_url: \"$FAULT_URL/record/n2slack\"}, |; s|channels: \[webhook\]|channels: [slack]|" n.yaml
	run --separate-stderr alert-send -c n.yaml notice <<<'{"kind":"notice","event":"failed","release":"v9","checks":[{"name":"db.pool.headroom","status":"critical","message":"2 slots left","perf":[{"label":"headroom","value":2,"uom":"","warn":10,"crit":5}]}]}'
	assert_success
	jq -r '.json.attachments[0].text' "$FAULT_RECORD_DIR/n2slack.jsonl" | grep -qxF '• db.pool.headroom (critical): 2 slots left [headroom=2 warn 10 crit 5]'
	printf 'environment: production\nservice: {name: x}\nalerts:\n  email: {from: a@b.c, recipients: [o@b.c], smtp: {url: "smtp://127.0.0.1:1"}}\n  notices: {channels: [email]}\n' >e.yaml
	run --separate-stderr alert-send -c e.yaml notice <<<'{"kind":"notice","event":"live","release":"v9"}'
	assert_equal "$status" 65
	[[ $stderr == *"alerts.notices.channels: deploy notices go to slack or webhook"* ]]
}

@test "deploy notices: --no-rollback is started then failed, never rolled back; a notice channel down is said and changes nothing" {
	printf 'alerts: {webhook: {url: "%s"}, notices: {channels: [webhook]}}\n' "$FAULT_URL/record/notice-hook" >notices.yaml
	: >"$FAULT_RECORD_DIR/notice-hook.jsonl"
	local good
	good=$(current)
	run --separate-stderr deploy -c notices.yaml -r v3 --yes --no-rollback
	assert_equal "$status" 2
	run notices
	assert_equal "${#lines[@]}" 2
	[[ ${lines[0]} == "started v3 $good "* ]]
	[[ ${lines[1]} == "failed v3 $good "*http.api.status* ]]
	# the webhook is a closed port: the deploy of the good release still succeeds, and says so
	printf 'alerts: {webhook: {url: "http://127.0.0.1:1/hook"}, notices: {channels: [webhook]}}\n' >down.yaml
	run --separate-stderr deploy -c down.yaml -r "$good" --yes
	assert_success
	assert_line --regexp '^  notice +FAILED +the started notice: alert-send notice exited 2: webhook: connect error'
	assert_line --regexp '^  notice +FAILED +the live notice: '
	[ "$(current)" = "$good" ]
}
