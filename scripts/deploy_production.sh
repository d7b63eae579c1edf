#!/usr/bin/env bash
# deploy_production.sh (installed as shipshape-deploy) — a production deploy
# through the stages of `deploy-stage stages`, composing the shipshape tools.
# Each stage's checks print reports and `deploy-stage gate` decides; where a
# verdict is the script's own, `deploy-stage report` makes its report. A
# failure after apply rolls back (unless --no-rollback) and alerts
# (DeployFailed, resolved by the next good deploy). The resolved config is a
# 0600 temporary file; secrets never reach argv. See shipshape-deploy(1).
set -euo pipefail

prog=deploy_production
# The tools: $SHIPSHAPE_BUILD, ../build of a source tree, beside this script, PATH.
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH="$script_dir:$PATH"
[[ -d "$script_dir/../build" ]] && PATH="$script_dir/../build:$PATH"
[[ -n "${SHIPSHAPE_BUILD:-}" ]] && PATH="$SHIPSHAPE_BUILD:$PATH"
export PATH

usage() {
	cat <<'EOF'
usage: deploy_production.sh -c CONFIG [-c CONFIG]... [-e ENV_FILE]... -r RELEASE
                            [--commit SHA | --image REF] [--schema FILE] [--state-dir DIR] [--baseline REPORT]
                            [--render FILE] [--security LIST] [--requests N] [--health-timeout DUR]
                            [--bake DUR] [-m MESSAGE] [--dry-run] [--yes] [--no-rollback]
                            [-q] [-v]

  -c, --config FILE      a YAML config (repeatable: later files merge over earlier)
  -e, --env-file FILE    variables for ${VAR} templates (repeatable)
  -r, --release ID       the release to deploy
      --commit SHA       the exact commit the release is (7-40 hex digits),
                         recorded at begin; the render driver deploys it
      --image REF        the exact image the release is (the same, for an
                         image-backed service)
      --schema FILE      the config schema (default: config/schema.yaml beside
                         this script, or the installed one)
      --state-dir DIR    the journal, locks and alert state
      --baseline REPORT  a saved svc-probe report to compare against (pre-deploy)
      --render FILE      the Render Blueprint pre-deploy checks against the config
                         (default: render/render.yaml beside the first config,
                         with the render driver; "none": no Blueprint check)
      --security LIST    svc-probe security checks after the deploy (default all;
                         "none" to skip); rate-limit only where the config sets
                         deploy.security.rate_limit_burst: true (see below)
      --requests N       requests of the post-deploy performance probe (default 50;
                         0 to skip)
      --health-timeout D how long the rollback waits for health (default 60s)
      --bake DUR         how long the release bakes after post-deploy (default
                         the config's deploy.bake.duration; 0: no bake)
  -m, --message TEXT     why, recorded in the journal
      --dry-run          run the checks of the first two stages, show the plan
                         (deploy-stage plan: the config's changes, the migration,
                         the driver's actions); change nothing
  -y, --yes              no confirmation prompt (CI)
      --no-rollback      on failure after apply, leave the release in place
  -q, --quiet            no progress on the terminal (stdout is the same)
  -v, --verbose          show the tools' diagnostics as they run
  -h, --help             this help

Stages (each one's reports go to `deploy-stage gate STAGE`: a critical or
unknown report fails it; warnings alone do not):
EOF
	deploy-stage stages --format text 2>/dev/null || echo "  (see deploy-stage stages)"
	cat <<'EOF'

Outside production (development, staging) an API over plain http makes
security.tls a warning. The rate-limit check's burst (330 requests for 100/min
with a burst of 200) is sent only where the config sets
deploy.security.rate_limit_burst: true; otherwise it is a warning.
EOF
}

# die MESSAGE [STATUS]: one line on stderr, then exit (default 64, usage).
die() { unshow; printf '%s: %s\n' "$prog" "$1" >&2; exit "${2:-64}"; }

# The progress on a terminal (below); nothing until the options are read.
show() { :; } && unshow() { :; } && stage_done() { :; }

configs=() env_files=() release="" commit="" image="" schema="" state_dir="" baseline="" message="" bake="" render=""
security=all requests=50 health_timeout=60s dry_run=0 yes=0 no_rollback=0 quiet=0 verbose=0
declare -A value_of=([-r]=release [--release]=release [--commit]=commit [--image]=image [--schema]=schema [--state-dir]=state_dir
	[--baseline]=baseline [--security]=security [--requests]=requests [--health-timeout]=health_timeout
	[--bake]=bake [-m]=message [--message]=message [--render]=render)
while (($#)); do
	[[ "$1" == --*=* ]] && set -- "${1%%=*}" "${1#*=}" "${@:2}" # --name=value is --name value
	case "$1" in
	-c | --config | -e | --env-file | -r | --release | --commit | --image | --schema | --state-dir | --baseline | \
		--security | --requests | --health-timeout | --bake | -m | --message | --render)
		(($# >= 2)) && [[ -n "$2" ]] || die "option $1 needs a value (see --help)"
		case "$1" in
		-c | --config) configs+=("$2") ;;
		-e | --env-file) env_files+=("$2") ;;
		*) printf -v "${value_of[$1]}" '%s' "$2" ;;
		esac
		shift ;;
	--dry-run) dry_run=1 ;;
	--yes | -y) yes=1 ;;
	--no-rollback) no_rollback=1 ;;
	-q | --quiet) quiet=1 ;;
	-v | --verbose) verbose=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option \"$1\" (see --help)" ;;
	*) die "unexpected argument \"$1\" (see --help)" ;;
	esac
	shift
done
((${#configs[@]})) || die "no config given (-c FILE; see --help)"
[[ -n "$release" ]] || die "no release given (-r ID; see --help)"
[[ -z "$commit" || -z "$image" ]] || die "give --commit or --image, not both"
[[ -z "$commit" || "$commit" =~ ^[0-9a-fA-F]{7,40}$ ]] || die "invalid --commit \"$commit\" (a commit SHA: 7 to 40 hex digits)"
[[ -z "$image" || "$image" =~ ^[^[:space:][:cntrl:]]{1,512}$ ]] || die "invalid --image (an image reference: 1 to 512 bytes, no whitespace)"
[[ "$requests" =~ ^[0-9]+$ ]] || die "invalid --requests \"$requests\" (expected a number)"
# a duration as the tools take one: 0, or numbers with units (10m, 1h30m, 500ms)
[[ -z "$bake" || "$bake" =~ ^(0|([0-9]+(ms|s|m|h|d))+)$ ]] || die "invalid --bake \"$bake\" (expected a duration: 0, 30s, 10m, 1h)"
[[ -z "$baseline" || -r "$baseline" ]] || die "--baseline $baseline: not a readable file"
[[ -z "$render" || "$render" == none || -r "$render" ]] || die "--render $render: not a readable file"
for s in "$script_dir/../config/schema.yaml" "$script_dir/../share/shipshape/config/schema.yaml"; do
	[[ -z "$schema" && -r "$s" ]] && schema="$s"
done
[[ -n "$state_dir" ]] && export SHIPSHAPE_STATE_DIR="$state_dir"
export SHIPSHAPE_DEPLOY_PID=$$ # the deploy lock follows this script's life

# ---- progress: only when stderr is a terminal and not -q (never in a pipe) ----
# The stage running, its elapsed time and its check, redrawn in place on
# stderr; after each gate the stage's time and its warnings. Colour unless
# NO_COLOR or a dumb terminal; ASCII only outside a UTF-8 locale; cut to
# the terminal's width (stty, else $COLUMNS, else 80). stdout never changes.
drawn=0 cols=80 eol="" warn_on="" warn_off="" ascii=0 stage_start=$SECONDS ticker=""
if [[ -t 2 ]] && ((!quiet)); then
	cols=$(stty size <&2 2>/dev/null | cut -d' ' -f2) || cols=""
	[[ "$cols" =~ ^[0-9]+$ && "$cols" -gt 0 ]] || cols=${COLUMNS:-80}
	[[ "$cols" =~ ^[0-9]+$ ]] || cols=80
	((cols >= 20)) || cols=20
	if [[ -n "${TERM:-}" && "$TERM" != dumb ]]; then
		eol=$'\e[K'
		[[ -n "${NO_COLOR:-}" ]] || warn_on=$'\e[33m' warn_off=$'\e[0m'
	fi
	locale_name=${LC_ALL:-${LC_CTYPE:-${LANG:-}}}
	[[ "${locale_name,,}" == *utf-8* || "${locale_name,,}" == *utf8* ]] || ascii=1
	# fitted TEXT: TEXT on one line of the terminal (non-ASCII as ? outside UTF-8)
	fitted() {
		local t=$1
		((!ascii)) || t=$(LC_ALL=C tr -c '\040-\176' '?' <<<"$t" | head -c -1)
		printf '%s' "${t:0:cols-1}"
	}
	# show TEXT: the progress line: the stage, its time, TEXT; redrawn each
	# second by a ticker while the stage's tool runs (it ends with this
	# script, at the latest after an hour)
	line() { printf '\r%s%s' "$(fitted "$at $((SECONDS - stage_start))s: $1")" "$eol" >&2 || true; }
	show() {
		unshow
		line "$1" && drawn=1
		(for ((i = 0; i < 3600; i++)); do sleep 1 && kill -0 $$ 2>/dev/null && line "$1" || exit 0; done) &
		ticker=$!
	}
	unshow() {
		[[ -z "$ticker" ]] || { kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true; ticker=""; }
		((drawn)) || return 0
		if [[ -n "$eol" ]]; then printf '\r%s' "$eol" >&2; else printf '\r%*s\r' "$((cols - 1))" '' >&2; fi || true
		drawn=0
	}
	# stage_done REPORTS RC: the stage's time; passed, each warning in its reports
	stage_done() {
		local w="" n=0 l
		unshow
		((${2:-0})) || w=$(jq -r 'select(.status? != "ok") | .checks[]? | select(.status == "warning") |
			"\(.name): \(.message)"' "$1" 2>/dev/null | sort -u | head -n 20) || w=""
		[[ -z "$w" ]] || n=$(grep -c . <<<"$w")
		l="took $((SECONDS - stage_start))s${w:+, $n warning$( ((n == 1)) || echo s):}"
		{
			printf '%s\n' "$(fitted "                  $l")"
			while IFS= read -r l; do
				[[ -z "$l" ]] || printf '%s%s%s\n' "$warn_on" "$(fitted "                    warning: $l")" "$warn_off"
			done <<<"$w"
		} >&2 || true
	}
fi

have() { command -v "$1" >/dev/null 2>&1; }
for t in cfg-resolve deploy-stage rollback; do have "$t" || die "$t is not installed (make, or put the shipshape tools on PATH)" 3; done
# accepts TOOL OPTION VALUE: a value used only after apply goes to its tool
# now, which parses its options before it reads any input (none here): its
# refusal (64, its message) stops the deploy before it starts.
accepts() {
	local err rc=0
	err=$("$1" "$2" "$3" </dev/null 2>&1 >/dev/null) || rc=$?
	((rc != 64)) || die "${err#*: }"
}
accepts rollback --health-timeout "$health_timeout"
[[ "$security" == none ]] || ! have svc-probe || accepts svc-probe --security "$security"

# The deploy window (alerts.deploy_silence, on by default): the service's own
# health alerts (health-watch's HealthCheckFailed on its endpoints, in its
# environment) are silenced from apply to the end of post-deploy, and the
# silence is expired when that stage ends or the deploy does, whatever the
# outcome; with the alertmanager channel Alertmanager gets it too. Should this
# script be killed outright, the silence still ends by itself after
# alerts.deploy_silence.max. A silence that cannot be made is said in the log
# and never fails the deploy.
silence_id=""
mute_health() {
	local targets max out
	jq -e '.alerts.deploy_silence.enabled != false' "$cfg" >/dev/null && have alert-send || return 0
	# the endpoint names as a regular expression in a quoted matcher value
	targets=$(jq -r '[.monitoring.health_check.endpoints[]?.name // empty] | if length == 0 then ["api"] else . end
		| map(gsub("(?<c>[\\.^$*+?()\\[\\]{}|])"; "\\\\\(.c)")) | join("|")' "$cfg")
	max=$(jq -r '.alerts.deploy_silence.max // "1h" | if type == "number" then "\(.)s" else . end' "$cfg")
	out=$(alert-send -c "$cfg" silence add 'alertname="HealthCheckFailed"' "target=~\"$targets\"" \
		"environment=\"$environment\"" --for "$max" --by "shipshape-deploy@$(hostname)" --format json \
		-m "deploy $deploy_id of $release to $service: its health alerts are muted from apply to the end of post-deploy" \
		2>>"$log") || true
	silence_id=$(jq -r '.id // empty' <<<"$out" 2>/dev/null || true)
	[[ -n "$silence_id" ]] || printf '%s: no deploy-window silence: alert-send silence add failed (health alerts are not muted)\n' "$prog" >>"$log"
}
unmute_health() {
	[[ -n "${silence_id:-}" ]] || return 0
	alert-send -c "$cfg" silence expire "$silence_id" >/dev/null 2>>"$log" || true
	silence_id=""
}

work=$(mktemp -d "${TMPDIR:-/tmp}/shipshape-deploy.XXXXXX") && chmod 700 "$work"
trap 'unshow; unmute_health; rm -rf -- "$work"' EXIT
open_deploy="" at="" cfg="$work/config.json" log="$work/tools.log"
: >"$log"
# Interrupted (the tools running get the signal too): say what is left open.
on_signal() {
	[[ -z "$open_deploy" ]] || printf '%s: interrupted during %s: deploy %s (%s) is left open; return to the last good release with rollback, or close it with deploy-stage finish --result failed\n' \
		"$prog" "${at:-?}" "$open_deploy" "$release" >&2
	exit "$1"
}
trap 'on_signal 130' INT && trap 'on_signal 143' TERM

# ---- output: for the operator; it never decides the deploy -------------------
summary=() started=$(date +%s) out_ok=1
trap '' PIPE # a reader gone (| head) fails writes, never kills the deploy half way
say() { unshow; printf '%s\n' "$@" 2>/dev/null || out_ok=0; }
# note STAGE RESULT DETAIL: one line of the final summary, printed now too.
note() { summary+=("$(printf '  %-15s %-9s %s' "$1" "$2" "$3")") && say "${summary[-1]}"; }
# print_summary RESULT: the closing line; after a failure the stages again.
print_summary() {
	say "" "shipshape deploy of $release to ${service:-?}: $1 ($(($(date +%s) - started))s)"
	[[ "$1" == OK || "$1" == dry* ]] || ((!${#summary[@]})) || say "${summary[@]}"
}
# new_stderr OFFSET: the tools' first lines in the log after OFFSET, joined.
new_stderr() { tail -c +"$(($1 + 1))" "$log" | head -n 3 | paste -sd ' ' - || true; }

# ---- checks: each appends reports to a stage's file ---------------------------
# verdict REPORTS TOOL CHECK STATUS MESSAGE: a report of the script's own verdict.
verdict() { deploy-stage -c "$cfg" report "$2" "$3" "$4" -- "$5" >>"$1" || true; }
# check REPORTS NAME CMD...: runs a check tool and keeps its reports; a tool
# missing is a warning, one that printed no report is unknown (the gate fails
# rather than pass on silence).
check() {
	local file="$1" name="$2" out rc=0
	shift 2
	have "$1" || { verdict "$file" "$name" "$name.installed" warning "$1 is not installed: $name not checked"; return 0; }
	show "$name"
	if ((verbose)); then out=$("$@" 2> >(tee -a "$log" >&2)) || rc=$?; else out=$("$@" 2>>"$log") || rc=$?; fi
	out=$(jq -c 'select(.kind? == "report")' <<<"$out" 2>/dev/null) || out=""
	[[ -z "$out" ]] || { printf '%s\n' "$out" >>"$file"; return 0; }
	verdict "$file" "$name" "$name.run" unknown "$1 exited $rc without a report (see its message above or with -v)"
}

# check_storage REPORTS: the storage API (services.supabase.url + storage_path)
# with the service's anon_key headers, as check http.supabase-storage.*.
check_storage() {
	local path
	path=$(jq -r '.services.supabase | select(.url != null) | .storage_path // "/storage/v1/bucket"' "$cfg" 2>/dev/null) || path=""
	[[ -z "$path" ]] || check "$1" svc-probe-storage svc-probe -c "$cfg" --only supabase --path "$path" --name supabase-storage --format json
}

# check_alert_channels REPORTS: alert-send --check tries every channel the
# alert of a failed deploy (deploy-stage alert --dry-run) would reach; it
# sends and stores nothing, so nobody is paged.
check_alert_channels() {
	deploy-stage -c "$cfg" alert --dry-run --release "$release" >"$work/alert.jsonl" 2>>"$log" ||
		{ verdict "$1" alert-send alert-send.channels critical "deploy-stage alert --dry-run failed: no alert to try the channels with"; return 0; }
	check "$1" alert-send alert-send -c "$cfg" --check --format json <"$work/alert.jsonl"
}

# check_security REPORTS LIST [live]: svc-probe's security checks (plain
# http a warning outside production, the rate-limit burst only where the
# config allows it: svc-probe follows the config). live: only the security
# checks count (a live release in trouble must not block the deploy that fixes it).
check_security() {
	check "$1" svc-probe-security svc-probe -c "$cfg" ${3:+--only api --check security} --security "$2" --format json
}

# gate STAGE REPORTS: the gate decides (a dry run's records nothing); its
# summary is the stage's line; a dry run's line is each report's status, or
# the summaries of those that fail it. Then the failing reports' failing checks.
gate() {
	local out rc=0 off line verb=(passed FAILED) dry=()
	((!dry_run)) || dry=(--dry-run) verb=("would pass" "would FAIL")
	off=$(wc -c <"$log")
	out=$(deploy-stage -c "$cfg" gate "$1" ${dry[@]+"${dry[@]}"} <"$2" 2>>"$log") || rc=$?
	line=$(jq -r --argjson dry "$dry_run" 'if $dry == 0 then .summary | sub("^[^:]*: "; "") else
		[.checks[] | select(.data.tool)] | (map(select(.data.fails_gate) | "\(.data.tool): \(.message)") | join("; ")) as $f |
		if $f != "" then $f else map("\(.data.tool) \(.status)") | join(", ") end end' <<<"$out" 2>/dev/null) || line=""
	note "$1" "${verb[rc != 0]}" "${line:-deploy-stage gate exited $rc: $(new_stderr "$off")}"
	stage_done "$2" "$rc"
	((rc != 0)) || return 0
	jq -r 'select(.status != "ok") | .checks[]? | select(.status != "ok") |
		"                            \(.status): \(.name): \(.message)"' "$2" 2>/dev/null | sort -u | head -n 20 || true
	return 1
}

# alert RESULT: the alerts of the deploy's outcome (deploy-stage alert: a
# failure fires DeployFailed, a good deploy resolves those of the failures
# since the previous good one) to alert-send; --only-input: this run tells
# of these alerts only, never again of earlier ones.
alert() {
	local out rc=0
	have alert-send || { note alert skipped "alert-send is not installed: nobody was told"; return 0; }
	out=$(deploy-stage -c "$cfg" alert "$deploy_id" 2>>"$log" | alert-send -c "$cfg" --only-input 2>>"$log") || rc=$?
	if ((rc != 0)); then
		note alert FAILED "deploy-stage alert | alert-send exited $rc: $(tail -n 1 "$log")"
	elif [[ -n "$out" || "$1" != resolved ]]; then
		note alert "$1" "$(jq -rs 'map(.channel // empty) | unique | join(", ") | if . == "" then "delivered" else "via " + . end' <<<"$out" 2>/dev/null || echo delivered)"
	fi
}

# who: the CI's actor when a CI runs this, else user@host.
who() {
	if [[ -n "${GITHUB_ACTOR:-}" ]]; then
		printf '%s (GitHub Actions%s)' "$GITHUB_ACTOR" "${GITHUB_RUN_ID:+, run $GITHUB_RUN_ID}"
	elif [[ -n "${GITLAB_USER_LOGIN:-}" ]]; then
		printf '%s (GitLab CI%s)' "$GITLAB_USER_LOGIN" "${CI_PIPELINE_ID:+, pipeline $CI_PIPELINE_ID}"
	elif [[ -n "${BUILDKITE_BUILD_CREATOR:-}" ]]; then
		printf '%s (Buildkite)' "$BUILDKITE_BUILD_CREATOR"
	else
		printf '%s@%s' "$(id -un 2>/dev/null || echo "uid $(id -u)")" "$(hostname)"
	fi
}

# notice EVENT [REPORTS] [MESSAGE]: a deploy notice (alert-send notice) to
# alerts.notices.channels: started, live, failed (the failing checks of
# REPORTS), rolled_back. Not an alert: sent once; a notice that cannot go out
# is said in the summary and never changes the deploy's outcome.
notice() {
	local out rc=0 why
	jq -e '(.alerts.notices.channels // []) | length > 0' "$cfg" >/dev/null && have alert-send || return 0
	out=$(jq -cn --arg event "$1" --arg service "$service" --arg environment "$environment" --arg release "$release" \
		--arg previous "$live" --arg deploy "$deploy_id" --arg by "$(who)" --argjson ms "$((($(date +%s) - started) * 1000))" \
		--arg message "${3:-}" --slurpfile checks <(jq -c '.checks[]? | select(.status == "critical" or .status == "unknown")
			| {name, status, message, perf: [.perf[]? | {"label": .label, value, uom, warn, crit} | del(..|nulls)]}' \
			"${2:-/dev/null}" 2>>"$log") \
		'{kind: "notice", event: $event, service: $service, environment: $environment, release: $release,
		  previous: $previous, deploy: $deploy, by: $by, duration_ms: $ms, message: $message, checks: $checks}' |
		alert-send -c "$cfg" notice --format json 2>>"$log") || rc=$?
	((rc == 0)) && return 0
	why=$(jq -r 'select(.status == "failed") | "\(.channel): \(.error)"' <<<"$out" 2>/dev/null | paste -sd';' -)
	note notice FAILED "the $1 notice: alert-send notice exited $rc: ${why:-$(tail -n 1 "$log")}"
}

# bake REPORTS: the release bakes (deploy.bake, --bake over its duration):
# metric-check --bake's rounds and verdict on Prometheus (the gate judges
# the verdict and journals every round) while health-watch probes the
# targets; a target going down stops the rounds and fails the stage. No
# bake configured is a warning: the release is judged by post-deploy alone.
bake() {
	local file=$1 hw_out="$work/bake-health.jsonl" mc_out="$work/bake-metrics.jsonl" hw mc rc=0 down="" off
	if [[ "$bake_duration" =~ ^0+(ms|s|m|h|d)?$ ]]; then
		verdict "$file" metric-check metric.bake warning "no bake: deploy.bake.duration is 0, the release is judged by the post-deploy probes alone"
		return 0
	fi
	have metric-check || { verdict "$file" metric-check metric.bake warning "metric-check is not installed: no bake"; return 0; }
	have health-watch || verdict "$file" health-watch health.bake warning "health-watch is not installed: no health during the bake"
	show "metric-check rounds for $bake_duration, health-watch beside them"
	off=$(wc -c <"$log")
	: >"$hw_out"
	if have health-watch; then
		health-watch -c "$cfg" --count 1000000000 -t "$bake_duration" --format json >"$hw_out" 2>>"$log" &
		hw=$!
	fi
	metric-check -c "$cfg" --bake --watch "$bake_duration" --release "$release" ${live:+--previous-release "$live"} \
		--format json >"$mc_out" 2>>"$log" &
	mc=$!
	# until the rounds end (metric-check bounds them: its duration, -t a round)
	while kill -0 "$mc" 2>/dev/null; do
		down=$(jq -c 'select(.kind? == "event" and .type == "state" and .to == "down")' "$hw_out" 2>/dev/null | head -n 1) || down=""
		[[ -z "$down" ]] || { kill -TERM "$mc" 2>/dev/null || true; break; }
		sleep 1
	done
	wait "$mc" || rc=$?
	jq -c 'select(.kind? == "report")' "$mc_out" >>"$file" 2>/dev/null || true
	jq -e 'select(.verdict? == true)' "$mc_out" >/dev/null 2>&1 ||
		verdict "$file" metric-check metric.bake unknown "metric-check exited $rc without a verdict: $(new_stderr "$off")"
	[[ -n "${hw:-}" ]] || return 0
	if kill -0 "$hw" 2>/dev/null; then # the rounds ended first: it watched the whole bake
		kill -TERM "$hw" 2>/dev/null || true
		wait "$hw" || true
	elif ! wait "$hw" && ! grep -q '"kind":"report"' "$hw_out"; then
		verdict "$file" health-watch health.bake unknown "health-watch did not watch the bake: $(new_stderr "$off")"
		return 0
	fi
	[[ -n "$down" ]] || down=$(jq -c 'select(.kind? == "event" and .type == "state" and .to == "down")' "$hw_out" 2>/dev/null | head -n 1) || down=""
	if [[ -n "$down" ]]; then
		verdict "$file" health-watch health.bake critical "$(jq -r '"\(.target) went down during the bake at \(.time): \(.error // "its probes failed")"' <<<"$down")"
	else
		verdict "$file" health-watch health.bake ok "no target went down during the bake"
	fi
}

# show_plan: what the deploy would change (deploy-stage plan: the config
# against the last good deploy's, the migration from the infrastructure
# stage's db-check report, the driver's actions), when there is a journal to
# read: a dry run makes no state directory.
show_plan() {
	[[ -z "${SHIPSHAPE_STATE_DIR:-}" || -d "$SHIPSHAPE_STATE_DIR/deploy" ]] || return 0
	local text
	text=$(deploy-stage -c "$cfg" plan --release "$release" --format text "$work/infrastructure.jsonl" 2>>"$log") ||
		{ note plan FAILED "deploy-stage plan: $(tail -n 1 "$log")"; return 0; }
	say "" "$text" ""
}

# fail STAGE REASON APPLIED: stops the deploy: rollback when it was applied,
# otherwise close the deploy as failed; then the alert; then exit.
fail() {
	local status=2 out rc=0
	((!dry_run)) || { print_summary "dry run: would stop at $1"; exit 2; }
	local reports=${r:-} # a gate's; an apply that failed has none
	[[ "$1" != application ]] || reports=""
	notice failed "$reports" "$1 failed: $2"
	if (($3)) && ((!no_rollback)); then
		at=rollback stage_start=$SECONDS && show "back to the last good release, then its health"
		out=$(rollback -c "$cfg" --health-timeout "$health_timeout" -m "automatic: $1 failed for $release" 2>>"$log") || rc=$?
		if ((rc == 0)); then
			note rollback ok "$(jq -r '"back to \(.to): \(.message)"' <<<"$out" 2>/dev/null)"
			notice rolled_back "" "back to $(jq -r '.to // "the last good release"' <<<"$out" 2>/dev/null)"
		else
			note rollback FAILED "$(jq -r '.message // empty' <<<"$out" 2>/dev/null || true) $(tail -n 1 "$log")"
			status=3
			deploy-stage -c "$cfg" finish --result failed -m "$1 failed; rollback failed" >/dev/null 2>>"$log" || true
		fi
	else
		deploy-stage -c "$cfg" finish --result failed -m "$1 failed: $2" >/dev/null 2>>"$log" || true
		((!$3)) || note rollback skipped "--no-rollback: $release stays in place"
	fi
	open_deploy=""
	alert sent
	print_summary "FAILED at $1"
	exit "$status"
}

# ---- config --------------------------------------------------------------------
resolve_args=()
for e in ${env_files[@]+"${env_files[@]}"}; do resolve_args+=(-e "$e"); done
[[ -n "$schema" ]] && resolve_args+=(-s "$schema")
rc=0
cfg-resolve -q "${resolve_args[@]}" -o "$cfg" "${configs[@]}" || rc=$?
((rc == 0)) || die "the config does not resolve (cfg-resolve exited $rc)" 65
IFS=$'\t' read -r service environment driver bake_duration < <(jq -r '[.service.name // "default", .environment // "?",
	.deploy.driver // "none", (.deploy.bake.duration // 0 | if type == "number" then "\(.)s" else . end)] | @tsv' "$cfg")
bake_duration=${bake:-$bake_duration}
say "shipshape: deploying $release to $service ($environment) with the $driver driver"
((out_ok)) || die "unable to write to stdout: nothing was started" 3
# The end-to-end steps run only after apply: a mistake in them is found now.
e2e=0
! jq -e '.deploy.e2e != null' "$cfg" >/dev/null ||
	{ deploy-stage -c "$cfg" e2e --dry-run >/dev/null && e2e=1; } || die "deploy.e2e is not valid (see above)" 65
# Ask only someone who can answer (stdin a terminal), never wait on anything else.
if ((!yes && !dry_run)); then
	[[ -t 0 ]] || die "stdin is not a terminal to confirm on: pass --yes to deploy without a prompt" 64
	printf 'Deploy %s to %s (%s)? [y/N] ' "$release" "$service" "$environment" >&2
	read -r answer || answer=""
	[[ "$answer" == [yY]* ]] || die "not confirmed: nothing deployed" 2
fi

# The live release: begin says; a dry run reads the history (the last release
# that finished ok) when there is one: a dry run makes no state directory.
applied=0 deploy_id="" live=""
if ((dry_run)) && [[ -z "${SHIPSHAPE_STATE_DIR:-}" || -d "$SHIPSHAPE_STATE_DIR/deploy" ]]; then
	live=$(deploy-stage -c "$cfg" history --format json 2>/dev/null |
		jq -rs '[.[] | select(.result == "ok")] | last | .release // empty' 2>/dev/null || true)
elif ((!dry_run)); then
	rc=0
	out=$(deploy-stage -c "$cfg" begin --release "$release" ${commit:+--commit "$commit"} ${image:+--image "$image"} \
		-m "${message:-deploy_production.sh}" 2>&1) || rc=$?
	if ((rc != 0)); then
		printf '%s\n' "$out" >&2
		note begin FAILED "${out##*: }"
		print_summary "not started"
		exit "$rc"
	fi
	IFS=$'\t' read -r deploy_id live < <(jq -r '[.deploy, .previous // ""] | @tsv' <<<"$out")
	open_deploy=$deploy_id
	note begin ok "deploy $deploy_id replacing ${live:-nothing}"
	notice started
fi
# stage NAME: the reports of stage NAME go to a file of their own, $r.
stage() { at=$1 r="$work/$1.jsonl" stage_start=$SECONDS; : >"$r"; }

stage pre-deploy # config policy, database connectivity, services, the cache, the baseline
# The Blueprint: --render FILE, else render/render.yaml beside the first config
# when the deploy goes to Render; "none": none (cfg-resolve(1), BLUEPRINT CHECKS).
[[ -n "$render" || "$driver" != render || ! -f "$(dirname -- "${configs[0]}")/render/render.yaml" ]] ||
	render="$(dirname -- "${configs[0]}")/render/render.yaml"
render_args=() && [[ -z "$render" || "$render" == none ]] || render_args=(--render "$render")
check "$r" cfg-resolve cfg-resolve -q "${resolve_args[@]}" --check ${render_args[@]+"${render_args[@]}"} --format json "${configs[@]}"
check "$r" db-check db-check -c "$cfg" --only connect,version,role,ssl,latency,pool --format json
services=$(jq -r '(.services // {}) | keys | join(",")' "$cfg")
[[ -z "$services" ]] || check "$r" svc-probe svc-probe -c "$cfg" --only "$services" --format json
[[ $(jq '.cache.redis_url != null' "$cfg") != true ]] || check "$r" svc-probe-cache svc-probe -c "$cfg" --only cache --format json
[[ -z "$baseline" ]] || check "$r" svc-probe-baseline svc-probe -c "$cfg" --only api --baseline "$baseline" --format json
gate "$at" "$r" || fail "$at" "the $at gate failed" 0

stage infrastructure # schema, storage, monitoring, the live release's security
check "$r" db-check db-check -c "$cfg" --only schema,tables,rls,extensions,migrations --format json
check_storage "$r"
check_alert_channels "$r"
# health-watch takes the config and probes each endpoint once; one down now
# (nothing is live yet) only warns: deploy-stage report caps its health.*
# checks. A config it refuses gives no report: unknown.
check "$work/health.jsonl" health-watch health-watch -c "$cfg" --count 1 --failure-threshold 1 --success-threshold 1 --format json
deploy-stage -c "$cfg" report health-watch - 'health.*=warning' <"$work/health.jsonl" >>"$r" || true
live_list=$security
[[ "$security" == all ]] && live_list=headers,tls
live_list=$(tr ',' '\n' <<<"$live_list" | grep -xE 'headers|tls' | paste -sd, - || true)
if [[ -n "$live_list" && -z "$live" ]]; then
	verdict "$r" svc-probe-security security.live warning "no release is live yet: the service's security configuration ($live_list) is checked after the deploy"
elif [[ -n "$live_list" ]]; then
	check_security "$r" "$live_list" live
fi
gate "$at" "$r" || fail "$at" "the $at gate failed" 0

if ((dry_run)); then
	show_plan
	note application "would run" "the $driver driver for $release"
	((!e2e)) || note post-deploy "would run" "the end-to-end steps $(deploy-stage -c "$cfg" e2e --dry-run --format json | jq -r '[.steps[].name] | join(", ")')"
	[[ "$bake_duration" =~ ^0+(ms|s|m|h|d)?$ ]] || note bake "would run" "metric-check rounds for $bake_duration beside health-watch"
	print_summary "dry run: nothing changed"
	exit 0
fi

at=application rc=0 stage_start=$SECONDS
mute_health
show "the $driver driver"
out=$(deploy-stage -c "$cfg" apply 2>>"$log") || rc=$?
if ((rc != 0)); then # the driver may have switched part of the way: roll back
	note application FAILED "$(jq -r '.message // empty' <<<"$out" 2>/dev/null || tail -n 1 "$log")"
	fail application "the deploy driver failed" 1
fi
applied=1
note application ok "$(jq -r '.message' <<<"$out")"
stage_done /dev/null 1

stage post-deploy # health (retried while it starts), end to end, performance, security
check "$r" svc-probe svc-probe -c "$cfg" --only api --retries 3 --retry-backoff 500ms --format json
((e2e)) && check "$r" e2e deploy-stage -c "$cfg" e2e --format json ||
	verdict "$r" e2e e2e.configured warning "the end-to-end pipeline is not checked: no deploy.e2e in the config"
((requests == 0)) || check "$r" svc-probe-performance svc-probe -c "$cfg" --only api --requests "$requests" --concurrency 4 --format json
[[ "$security" == none ]] || check_security "$r" "$security"
gate "$at" "$r" || fail "$at" "the $at gate failed" "$applied"
unmute_health # the deploy window ends with post-deploy: the bake and readiness hear every alert

stage bake # metric-check rounds on Prometheus beside health-watch (deploy.bake)
bake "$r"
gate "$at" "$r" || fail "$at" "the $at gate failed" "$applied"

stage readiness # monitoring works, rollback is possible, compliance
check "$r" rollback rollback -c "$cfg" --check --format json
! have health-watch || check "$r" health-watch health-watch -c "$cfg" --until up -t 20s -i 1s --success-threshold 1 --format json
check "$r" db-check db-check -c "$cfg" --only rls --format json
gate "$at" "$r" || fail "$at" "the $at gate failed" "$applied"

at=finish
deploy-stage -c "$cfg" finish --result ok -m "all stages passed" >/dev/null 2>>"$log" ||
	die "the deploy passed every stage but could not be recorded as finished" 3
open_deploy=""
note finish ok "$release is live and recorded as good"
notice live
alert resolved
print_summary "OK"
