#!/usr/bin/env bats
# deploy-stage report [DEPLOY | --last]: the deploy report built from a real
# journal (a deploy through every stage's gate with real svc-probe and
# health-watch reports, the symlink driver, a failed post-deploy, a
# rollback), as JSON (jq), text, and HTML checked by a strict XML parser and
# rendered by a real browser (Debian's chromium, headless). Canary secrets
# in every input never reach an output. history --format html. -o FILE.
load helpers/common
load helpers/services

export CANARY_JWT=canary-jwt-5f1e0b77d2 CANARY_DB_PW=canary-dbpw-9c3a11 CANARY_URL_PW=canary-urlpw-44d0e2
CANARIES=("$CANARY_JWT" "$CANARY_DB_PW" "$CANARY_URL_PW")

# build_journal DIR: config.yaml, releases/ and the journal under DIR:
# deploy 1 (v1, ok); deploy 2 (v2): pre-deploy (a load run against a saved
# baseline, a report quoting secrets), infrastructure (health-watch: worker
# down), apply, post-deploy fails (the API answers 503; five metric-check
# rounds; health-watch: worker up); deploy 3: the rollback to v1.
build_journal() {
	local dir=$1 i c
	mkdir -p "$dir/releases/v1" "$dir/releases/v2"
	cat >"$dir/config.yaml" <<EOF
service: {name: api}
api: {base_url: "$FAULT_URL", health_path: /status/200}
security: {jwt_secret: "\${CANARY_JWT}"}
database: {url: "postgresql://app:\${CANARY_DB_PW}@127.0.0.1:1/app"}
monitoring:
  health_check:
    timeout: 1s
    success_threshold: 1
    failure_threshold: 1
    endpoints:
      - {name: api, url: "$FAULT_URL/status/200"}
      - {name: worker, url: "$FAULT_URL/seq/report-worker?codes=503,200"}
deploy: {driver: symlink, symlink: {releases_dir: "$dir/releases"}}
EOF
	c=(-c "$dir/config.yaml")
	deploy-stage "${c[@]}" begin --release v1 -m "initial" >/dev/null
	deploy-stage "${c[@]}" apply >/dev/null
	deploy-stage "${c[@]}" finish --result ok >/dev/null
	deploy-stage "${c[@]}" begin --release v2 -m "upload retries <b>&\"x\"</b> 'q' $CANARY_JWT" >/dev/null
	svc-probe --name api --requests 20 --concurrency 2 "$FAULT_URL/status/200" --format json >"$dir/baseline.json" || true
	{
		svc-probe --name api --requests 20 --concurrency 2 --baseline "$dir/baseline.json" \
			--regression-warning 10000 --regression-critical 10000 "$FAULT_URL/status/200" --format json || true
		deploy-stage report hand hand.compare ok "compared with $CANARY_JWT at postgresql://u:$CANARY_URL_PW@127.0.0.1:1/db"
	} | deploy-stage "${c[@]}" gate pre-deploy >/dev/null
	health-watch "${c[@]}" --count 1 -i 200ms --format json | jq -c 'select(.kind == "report")' |
		deploy-stage "${c[@]}" report health-watch - 'health.*=warning' |
		deploy-stage "${c[@]}" gate infrastructure >/dev/null
	deploy-stage "${c[@]}" apply >/dev/null
	{
		svc-probe --name api "$FAULT_URL/status/503" --format json || true
		for i in 1 2 3 4 5; do
			jq -cn --argjson i "$i" --arg c "$CANARY_JWT" '{kind:"report",tool:"metric-check",status:"ok",
				summary:"bake round \($i)",started_at:"2026-12-01T10:0\($i):00Z",
				checks:[{name:"metric.error_rate",status:"ok",message:"error rate ok (token \($c))",
				  data:{metric:"error_rate",query:"q \($c)",series:[{labels:{},value:(0.01 * $i),
				  time:"2026-12-01T10:0\($i):00Z"}]}}]}'
		done
		health-watch "${c[@]}" --count 1 -i 200ms --format json | jq -c 'select(.kind == "report")'
	} | deploy-stage "${c[@]}" gate post-deploy >/dev/null && return 1
	rollback "${c[@]}" -m "post-deploy failed" >/dev/null
}

setup_file() {
	start_faultsrv
	export SHIPSHAPE_DEPLOY_PID=$$ JOURNAL_DIR=$BATS_FILE_TMPDIR/deploys
	export SHIPSHAPE_STATE_DIR=$JOURNAL_DIR/state
	build_journal "$JOURNAL_DIR"
}

teardown_file() {
	stop_all_services
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export SHIPSHAPE_STATE_DIR=$JOURNAL_DIR/state
}

teardown() {
	if [ -n "${TMPFS_MNT:-}" ]; then
		umount "$TMPFS_MNT" || true
	fi
	if [ -n "${CHROMIUM_PGID:-}" ]; then
		kill -KILL -- "-$CHROMIUM_PGID" 2>/dev/null || true
	fi
}

ds() { deploy-stage -c "$JOURNAL_DIR/config.yaml" "$@"; }

# chromium_run ARGS...: headless chromium with a fresh profile under the
# test's directory, in a process group of its own, bounded to 60 s; the
# group is killed after (and by teardown should the test fail first).
chromium_run() {
	mkdir -p chromium-profile
	setsid timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$PWD/chromium-profile" \
		--no-first-run --disable-extensions "$@" 2>>chromium.log &
	CHROMIUM_PGID=$!
	local rc=0
	wait "$CHROMIUM_PGID" || rc=$?
	kill -KILL -- "-$CHROMIUM_PGID" 2>/dev/null || true
	CHROMIUM_PGID=
	return "$rc"
}

@test "the operands choose the form: none, --last or one number is the deploy report; the check forms stay" {
	run --separate-stderr ds report
	assert_success
	assert_equal "$(json_get '.type + " " + (.deploy | tostring)')" "deploy-report 2"
	run --separate-stderr ds report --last
	assert_equal "$(json_get .deploy)" 2
	# a rollback is reported when named
	run --separate-stderr ds report 3
	assert_success
	assert_equal "$(json_get '.deployment.action + " " + (.deployment.rollback_of | tostring)')" "rollback 2"
	# the check forms are untouched
	run --separate-stderr deploy-stage report t t.c warning "a message"
	assert_equal "$status" 1
	assert_equal "$(json_get '.checks[0].name')" t.c
	run --separate-stderr deploy-stage report both - <<<"$(deploy-stage report a a.x ok fine)"
	assert_success
	assert_equal "$(json_get .tool)" both
}

@test "an unknown deploy is one line and exit 2 (as alert's); misuse is 64" {
	run --separate-stderr ds report 99
	assert_equal "$status" 2
	[[ $stderr == "deploy-stage: report: no deploy 99 in the journal "* ]]
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	[ -z "$output" ]
	run --separate-stderr ds alert 99
	assert_equal "$status" 2
	for args in "report 0" "report --last 2" "report t --format html" "report t c ok m -o x.html" \
		"report t - --last" "status --format html" "history -o x.json" "history --last" "lock status -o f"; do
		run --separate-stderr ds $args
		echo "$args: $stderr" >&2
		assert_equal "$status" 64
		assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
		[ -z "$output" ]
	done
	[ ! -e x.html ] && [ ! -e x.json ] && [ ! -e f ]
}

@test "json: the timeline of every stage with its gate and checks, the rollback, latency against the baseline, metrics, health" {
	run --separate-stderr ds report 2 --format json
	assert_success
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 1
	assert_equal "$(json_get '[.timeline[] | .stage // .step] | join(" ")')" \
		"pre-deploy infrastructure application post-deploy finish"
	assert_equal "$(json_get '[.timeline[] | select(.step == "gate") | .passed] | map(tostring) | join(" ")')" \
		"true true false"
	# every check with its status, message and the duration stored
	assert_equal "$(json_get '.timeline[] | select(.stage == "post-deploy") | .reports[] | select(.tool == "svc-probe") |
		.checks[0] | [.name, .status, (.duration_ms | type)] | join(" ")')" "http.api.status critical number"
	json_get '.timeline[] | select(.stage == "post-deploy") | .reports[0].checks[0].message' | grep -q 503
	assert_equal "$(json_get '.timeline[] | select(.step == "apply") | .driver + " " + .status')" "symlink ok"
	# the rollback: its outcome and its own deploy's records
	assert_equal "$(json_get '.rollback | .outcome, .to, .deploy' | paste -sd' ' -)" "rolled back to v1 by deploy 3 v1 3"
	assert_equal "$(json_get '[.rollback.timeline[].step] | join(" ")')" "apply health finish"
	assert_equal "$(json_get .deployment.finish_message)" "rolled back to v1 by deploy 3"
	# the load run against the baseline: percentiles of both
	assert_equal "$(json_get '.latency | length')" 1
	assert_equal "$(json_get '.latency[0] | .check + " " + .stage')" "perf.api pre-deploy"
	assert_equal "$(json_get '.latency[0].current | keys_unsorted | join(" ")')" "p50 p90 p95 p99 max"
	assert_equal "$(json_get '.latency[0].baseline | keys_unsorted | join(" ")')" "p50 p95 p99"
	local want
	want=$(jq -r '.checks[] | select(.name == "perf.api") | .data.latency_ms.p95' "$JOURNAL_DIR/baseline.json")
	assert_equal "$(json_get '.latency[0].baseline.p95')" "$want"
	# the bake's values over time, in time order
	assert_equal "$(json_get '.metrics | map(.name + ":" + (.points | map(.value | tostring) | join(","))) | join(" ")')" \
		"metric.error_rate:0.01,0.02,0.03,0.04,0.05"
	assert_equal "$(json_get '.metrics[0].points[0].time')" "2026-12-01T10:01:00.000Z"
	# health-watch: worker down in infrastructure, up in post-deploy
	assert_equal "$(json_get '.health[] | select(.target == "worker") | .transitions[] | .from + ">" + .to + "@" + .stage')" \
		"down>up@post-deploy"
	assert_equal "$(json_get '[.health[] | select(.target == "api") | .observations[].state] | join(" ")')" "up up"
	# no config digest in a document meant to be shared
	assert_equal "$(json_get '[.. | objects | select(has("config_digest"))] | length')" 0
}

@test "text: the stages, the failing check, the rollback, latency, metrics and health" {
	run --separate-stderr ds report 2 --format text
	assert_success
	assert_line --regexp '^  \+[0-9.a-z]+ +pre-deploy gate passed \((ok|warning)\)$'
	assert_line --regexp '^  \+[0-9.a-z]+ +post-deploy gate FAILED \(critical\)$'
	assert_line --regexp '^ +critical http\.api\.status +HTTP 503'
	assert_line "rollback: rolled back to v1 by deploy 3"
	assert_line --regexp '^  baseline +[0-9.]+ +- +[0-9.]+ +[0-9.]+ +-$'
	assert_line "  metric.error_rate (ok): 0.01 0.02 0.03 0.04 0.05"
	assert_line "  worker: down (infrastructure) -> up (post-deploy)"
}

@test "html: well-formed XML for a strict parser, self-contained, no script, every string escaped" {
	run --separate-stderr ds report 2 --format html
	assert_success
	printf '%s\n' "$output" >report.html
	run xmllint --noout report.html
	assert_success
	[ -z "$output" ]
	# nothing fetched, nothing run: no script, no URL-valued attribute, no CSS url()
	! grep -qi '<script' report.html
	! grep -qiE '(src|href|xlink:href|action|data)=' report.html
	! grep -qiE 'url\(|@import' report.html
	grep -q '<svg xmlns="http://www.w3.org/2000/svg"' report.html
	# the message's markup is text, escaped, not markup
	grep -qF 'upload retries &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt; &#39;q&#39; ***' report.html
	! grep -q '<b>&' report.html
	# xmllint reads the escaped message back as the text it was
	assert_equal "$(xmllint --xpath 'string(//*[local-name()="dt" and .="Why"]/following-sibling::*[1])' report.html)" \
		"upload retries <b>&\"x\"</b> 'q' ***"
	# only the report that failed its gate is unfolded (<details>: no script)
	assert_equal "$(xmllint --xpath 'count(//*[local-name()="details"][@open])' report.html)" 1
	assert_equal "$(xmllint --xpath 'string(//*[local-name()="details"][@open]//*[local-name()="td"][1])' report.html)" \
		http.api.status
	# the latency bars and the metric line are inline SVG
	[ "$(xmllint --xpath 'count(//*[local-name()="section"][@id="latency"]//*[local-name()="rect"])' report.html)" -ge 8 ]
	[ "$(xmllint --xpath 'count(//*[local-name()="section"][@id="metrics"]//*[local-name()="circle"])' report.html)" -eq 5 ]
	# a deploy without load run, bake or health-watch has none of their sections
	run --separate-stderr ds report 1 --format html
	assert_success
	[[ $output != *'id="latency"'* && $output != *'id="metrics"'* && $output != *'id="health"'* ]]
	printf '%s\n' "$output" | xmllint --noout -
}

@test "html in a real browser: chromium renders a non-blank page and its DOM names each stage, the failing check and the rollback" {
	ds report 2 -o "$PWD/report.html"
	chromium_run --screenshot="$PWD/report.png" --window-size=1200,1600 "file://$PWD/report.html" >/dev/null ||
		{ tail -n 5 chromium.log; false; }
	[ -s report.png ]
	local w h ink size
	read -r w h ink < <(python3 "$REPO_ROOT/tests/helpers/pngstat.py" report.png)
	size=$(stat -c %s report.png)
	echo "png ${w}x$h, ink $ink per mille, $size bytes" >&2
	assert_equal "$w $h" "1200 1600"
	[ "$size" -gt 20000 ]
	[ "$ink" -ge 5 ]
	# the check itself: a blank page has no ink
	printf '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head><body></body></html>\n' >blank.html
	chromium_run --screenshot="$PWD/blank.png" --window-size=1200,1600 "file://$PWD/blank.html" >/dev/null
	read -r w h ink < <(python3 "$REPO_ROOT/tests/helpers/pngstat.py" blank.png)
	assert_equal "$ink" 0
	chromium_run --dump-dom "file://$PWD/report.html" >dom.html
	local s
	for s in pre-deploy infrastructure application post-deploy "http.api.status" "HTTP 503 (expected 2xx)" \
		"rolled back to v1 by deploy 3" "Rollback deploy 3 to v1"; do
		grep -qF "$s" dom.html || fail "the DOM lacks \"$s\""
	done
	! grep -qi '<script' dom.html
}

@test "no canary secret in any output: json, text, html, history, stderr, the journal" {
	local out="" err="" f
	for f in json text html; do
		for cfg in "" "-c $JOURNAL_DIR/config.yaml"; do
			run --separate-stderr deploy-stage $cfg --service api report 2 --format "$f"
			assert_success
			out+="$output" err+="$stderr"
			run --separate-stderr deploy-stage $cfg --service api report 3 --format "$f"
			out+="$output" err+="$stderr"
		done
	done
	run --separate-stderr ds history --format html
	assert_success
	out+="$output" err+="$stderr"
	ds report 2 -o "$PWD/r.html"
	out+="$(cat r.html)"
	for f in "${CANARIES[@]}"; do
		assert_secret_absent "$f" "$out" "$err"
	done
	# where each canary was, the mask is
	[[ $out == *"compared with *** at postgresql://u:***@127.0.0.1:1/db"* ]]
	[[ $out == *"error rate ok (token ***)"* ]]
	run grep -rlE "${CANARIES[0]}|${CANARIES[1]}|${CANARIES[2]}" "$SHIPSHAPE_STATE_DIR"
	assert_failure
}

@test "-o FILE: atomic, 0644, .html means html; a symlink is refused; a full disk leaves no partial file" {
	run --separate-stderr ds report 2 -o "$PWD/out.html"
	assert_success
	[ -z "$output" ]
	assert_equal "$(stat -c %a out.html)" 644
	xmllint --noout out.html
	ds report 2 -o "$PWD/out.json"
	assert_equal "$(jq -r .type out.json)" deploy-report
	ds report 2 -o "$PWD/out.txt"
	grep -q '^timeline$' out.txt
	ds report 2 --format json -o "$PWD/forced.html"
	assert_equal "$(jq -r .deploy forced.html)" 2
	# never through a symbolic link: refused, its target untouched
	echo keep >target
	ln -s target link.html
	run --separate-stderr ds report 2 -o "$PWD/link.html"
	assert_equal "$status" 3
	assert_equal "$stderr" "deploy-stage: unable to write $PWD/link.html: a symbolic link (refused)"
	assert_equal "$(cat target)" keep
	[ -L link.html ]
	# a full disk: one line, exit 3, the old file kept whole, no temporary left
	TMPFS_MNT=$BATS_TEST_TMPDIR/small
	mkdir -p "$TMPFS_MNT"
	mount -t tmpfs -o size=16k tmpfs "$TMPFS_MNT"
	echo old >"$TMPFS_MNT/report.html"
	dd if=/dev/zero of="$TMPFS_MNT/filler" bs=4k 2>/dev/null || true
	run --separate-stderr ds report 2 -o "$TMPFS_MNT/report.html"
	assert_equal "$status" 3
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	[[ $stderr == "deploy-stage: unable to write $TMPFS_MNT/report.html: No space left on device" ]]
	assert_equal "$(cat "$TMPFS_MNT/report.html")" old
	assert_equal "$(ls "$TMPFS_MNT" | paste -sd' ' -)" "filler report.html"
	# and stdout to a full device is not success either
	run bash -c 'deploy-stage --service api report 2 --format html >/dev/full'
	assert_equal "$status" 3
}

@test "history --format html: every deploy, escaped, well formed, no script" {
	run --separate-stderr ds history --format html
	assert_success
	printf '%s\n' "$output" >history.html
	xmllint --noout history.html
	! grep -qi '<script' history.html
	assert_equal "$(xmllint --xpath 'count(//*[local-name()="tbody"]/*[local-name()="tr"])' history.html)" 3
	grep -qF 'upload retries &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;' history.html
	grep -qF 'rolled back to v1 by deploy 3' history.html
	run --separate-stderr ds history --limit 1 -o "$PWD/h.html"
	assert_success
	assert_equal "$(xmllint --xpath 'count(//*[local-name()="tbody"]/*[local-name()="tr"])' h.html)" 1
	# the JSON and text history are as they were
	run --separate-stderr ds history --format json
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 3
}

@test "install-deps: the test group names chromium and libxml2-utils, and --check names them when missing" {
	run "$REPO_ROOT/scripts/install-deps.sh" --list test
	assert_success
	assert_line chromium
	assert_line libxml2-utils
	mkdir -p bin
	cat >bin/dpkg-query <<'EOF'
#!/bin/sh
for p; do :; done
case " chromium libxml2-utils " in *" $p "*) exit 1 ;; esac
echo "install ok installed"
EOF
	chmod +x bin/dpkg-query
	PATH="$PWD/bin:$PATH" run --separate-stderr "$REPO_ROOT/scripts/install-deps.sh" --check build test
	assert_equal "$status" 1
	[[ $stderr == *" chromium"* && $stderr == *" libxml2-utils"* ]]
}
