#!/usr/bin/env bash
# deploy_production.sh — a production deploy through the five stages
# (pre-deploy, infrastructure, application, post-deploy, readiness),
# composing the shipshape tools: cfg-resolve, db-check, svc-probe,
# deploy-stage, health-watch, alert-send and rollback.
#
# Each stage runs its checks, feeds their reports to `deploy-stage gate`,
# and stops the deploy when the gate fails. A failure after the release was
# applied rolls back automatically (unless --no-rollback); every failure
# sends an alert through alert-send (DeployFailed, one per deploy), which the
# next good deploy resolves. The resolved config lives in a 0600
# temporary file removed on exit; secrets never reach argv.
#
# Exit: 0 deployed; 2 a gate or the deploy failed (rolled back when it had
# been applied); 3 the rollback failed too, or stdout cannot be written (then
# nothing starts); 64 usage; 65 invalid config; 75 another deploy holds the
# lock. Without --yes it asks on a terminal; with stdin not a terminal it
# refuses (64) rather than wait.
set -euo pipefail

prog=deploy_production
usage() {
	cat <<'EOF'
usage: deploy_production.sh -c CONFIG [-c CONFIG]... [-e ENV_FILE]... -r RELEASE
                            [--schema FILE] [--state-dir DIR] [--baseline REPORT]
                            [--security LIST] [--requests N] [--health-timeout DUR]
                            [-m MESSAGE] [--dry-run] [--yes] [--no-rollback] [-v]

  -c, --config FILE      a YAML config (repeatable: later files merge over earlier)
  -e, --env-file FILE    variables for ${VAR} templates (repeatable)
  -r, --release ID       the release to deploy
      --schema FILE      the config schema (default: config/schema.yaml beside
                         this script, or the installed one)
      --state-dir DIR    the journal, locks and alert state
      --baseline REPORT  a saved svc-probe report to compare against (pre-deploy)
      --security LIST    svc-probe security checks after the deploy (default all;
                         "none" to skip); rate-limit only where the config sets
                         deploy.security.rate_limit_burst: true (see below)
      --requests N       requests of the post-deploy performance probe (default 50;
                         0 to skip)
      --health-timeout D how long the rollback waits for health (default 60s)
  -m, --message TEXT     why, recorded in the journal
      --dry-run          run the checks of the first two stages, show what would
                         be deployed; change nothing
      --yes              no confirmation prompt (CI)
      --no-rollback      on failure after apply, leave the release in place
  -v, --verbose          show the tools' diagnostics as they run
  -h, --help             this help

Stages (each one's reports go to `deploy-stage gate STAGE`: a critical or
unknown report fails it; warnings alone do not):
  pre-deploy      cfg-resolve --check; db-check connectivity; svc-probe of the
                  API and services (and --baseline)
  infrastructure  db-check schema, tables, RLS, extensions, migrations;
                  svc-probe of the Supabase storage API (services.supabase.url
                  + storage_path, default /storage/v1/bucket, anon_key headers);
                  alert-send --dry-run (the alert channels, nothing sent);
                  health-watch --count 1 (accepts the config; an endpoint down
                  is a warning); svc-probe --security headers,tls (those of
                  --security) against the live release (none live: a warning)
  application     deploy-stage apply (the deploy.driver)
  post-deploy     health, deploy.e2e, performance (--requests), --security
  readiness       rollback --check; health-watch until up; db-check rls

The security checks follow the environment, as cfg-resolve --check does:
production is every environment but development and staging. Outside
production an API served over plain http makes security.tls a warning, not a
failure. The rate-limit check sends a burst past the configured limit (100/min
with a burst of 200: 330 requests) at the live API, so it runs only where the
environment's config sets deploy.security.rate_limit_burst: true (default
false); otherwise security.rate_limit is a warning saying it was not checked.
EOF
}

# die MESSAGE [STATUS]: one line on stderr, then exit (default 64, usage).
die() {
	printf '%s: %s\n' "$prog" "$1" >&2
	exit "${2:-64}"
}

configs=() env_files=() release="" schema="" state_dir="" baseline="" message=""
security=all requests=50 health_timeout=60s dry_run=0 yes=0 no_rollback=0 verbose=0
while (($#)); do
	# --name=value is --name value
	if [[ "$1" == --*=* ]]; then
		set -- "${1%%=*}" "${1#*=}" "${@:2}"
	fi
	case "$1" in
	-c | --config | -e | --env-file | -r | --release | --schema | --state-dir | --baseline | \
		--security | --requests | --health-timeout | -m | --message)
		(($# >= 2)) && [[ -n "$2" ]] || die "option $1 needs a value (see --help)"
		;;
	esac
	case "$1" in
	-c | --config) configs+=("$2"); shift ;;
	-e | --env-file) env_files+=("$2"); shift ;;
	-r | --release) release="$2"; shift ;;
	--schema) schema="$2"; shift ;;
	--state-dir) state_dir="$2"; shift ;;
	--baseline) baseline="$2"; shift ;;
	--security) security="$2"; shift ;;
	--requests) requests="$2"; shift ;;
	--health-timeout) health_timeout="$2"; shift ;;
	-m | --message) message="$2"; shift ;;
	--dry-run) dry_run=1 ;;
	--yes | -y) yes=1 ;;
	--no-rollback) no_rollback=1 ;;
	-v | --verbose) verbose=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option \"$1\" (see --help)" ;;
	*) die "unexpected argument \"$1\" (see --help)" ;;
	esac
	shift
done
((${#configs[@]})) || die "no config given (-c FILE; see --help)"
[[ -n "$release" ]] || die "no release given (-r ID; see --help)"
[[ "$requests" =~ ^[0-9]+$ ]] || die "invalid --requests \"$requests\" (expected a number)"
[[ -z "$baseline" || -r "$baseline" ]] || die "--baseline $baseline: not a readable file"

# The tools: beside this script when installed, in $SHIPSHAPE_BUILD in a
# source tree, else on PATH.
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH="$script_dir:$PATH"
[[ -d "$script_dir/../build" ]] && PATH="$script_dir/../build:$PATH"
[[ -n "${SHIPSHAPE_BUILD:-}" ]] && PATH="$SHIPSHAPE_BUILD:$PATH"
export PATH
if [[ -z "$schema" ]]; then
	for s in "$script_dir/../config/schema.yaml" "$script_dir/../share/shipshape/config/schema.yaml"; do
		[[ -r "$s" ]] && { schema="$s"; break; }
	done
fi
[[ -n "$state_dir" ]] && export SHIPSHAPE_STATE_DIR="$state_dir"
# The deploy lock follows this script's life: a crash leaves it reclaimable.
export SHIPSHAPE_DEPLOY_PID=$$

have() { command -v "$1" >/dev/null 2>&1; }
for t in cfg-resolve deploy-stage rollback; do
	have "$t" || die "$t is not installed (make, or put the shipshape tools on PATH)" 3
done
# Values the script hands on only after the deploy was applied are checked
# now: a typo must not turn into a failed post-deploy stage and a rollback.
# (Each tool checks its options, in order, before acting on --help.)
rollback --health-timeout "$health_timeout" --help >/dev/null 2>&1 ||
	die "invalid --health-timeout \"$health_timeout\" (expected a duration such as 60s)"
if [[ "$security" != none ]] && have svc-probe; then
	svc-probe --security "$security" --help >/dev/null 2>&1 ||
		die "invalid --security \"$security\" (all, none, or a list of cors, trusted-host, rate-limit, headers, tls, auth)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shipshape-deploy.XXXXXX")
chmod 700 "$work"
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
# Interrupted (Ctrl-C, TERM): the tools running get the signal too; say what
# is left open and how to resolve it, then exit.
open_deploy="" at=""
on_signal() {
	if [[ -n "$open_deploy" ]]; then
		printf '%s: interrupted during %s: deploy %s (%s) is left open; return to the last good release with rollback, or close it with deploy-stage finish --result failed\n' \
			"$prog" "${at:-?}" "$open_deploy" "$release" >&2
	fi
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
cfg="$work/config.json"
log="$work/tools.log"
: >"$log"

# ---- output ---------------------------------------------------------------

summary=()
started=$(date +%s)
# Output is for the operator; it never decides the deploy. A reader that
# goes away (| head) makes writes fail instead of killing this script half
# way through a deploy; a stdout that cannot be written at all is refused
# before anything starts (see the banner below).
trap '' PIPE
out_ok=1
say() { printf '%s\n' "$*" 2>/dev/null || out_ok=0; }
# note STAGE RESULT DETAIL: one line of the final summary, printed now too.
note() {
	local line
	line=$(printf '  %-15s %-9s %s' "$1" "$2" "$3")
	summary+=("$line")
	say "$line"
}
# print_summary RESULT: the closing line; after a failure the stages again,
# without the detail lines between them.
print_summary() {
	say ""
	say "shipshape deploy of $release to ${service:-?}: $1 ($(($(date +%s) - started))s)"
	local l
	if [[ "$1" != OK && "$1" != dry* ]]; then
		for l in "${summary[@]}"; do say "$l"; done
	fi
}

# ---- checks ---------------------------------------------------------------

# check REPORTS NAME CMD...: runs a check tool and appends its report to
# REPORTS; a tool that printed no report (it could not run) counts as an
# unknown report, so the gate fails rather than passing on silence.
check() {
	local file="$1" name="$2" out rc=0
	shift 2
	if ! have "$1"; then
		jq -cn --arg t "$name" --arg m "$1 is not installed: $name not checked" \
			'{kind:"report",tool:$t,status:"warning",summary:$m,checks:[{name:($t+".installed"),status:"warning",message:$m}]}' >>"$file"
		return 0
	fi
	if ((verbose)); then
		out=$("$@" 2> >(tee -a "$log" >&2)) || rc=$?
	else
		out=$("$@" 2>>"$log") || rc=$?
	fi
	if [[ -n "$out" ]] && jq -e -s 'length > 0 and all(.kind == "report")' <<<"$out" >/dev/null 2>&1; then
		printf '%s\n' "$out" >>"$file"
	else
		jq -cn --arg t "$name" --arg m "$1 exited $rc without a report (see its message above or with -v)" \
			'{kind:"report",tool:$t,status:"unknown",summary:$m,checks:[{name:($t+".run"),status:"unknown",message:$m}]}' >>"$file"
	fi
}

# check_exit REPORTS NAME CMD...: a tool that answers by its exit status and
# prints events, not a report (health-watch): its status becomes a report.
check_exit() {
	local file="$1" name="$2" out rc=0 st msg
	shift 2
	if ! have "$1"; then
		check "$file" "$name" "$@"
		return 0
	fi
	out=$("$@" 2>>"$log") || rc=$?
	case $rc in
	0) st=ok msg="$name: every target up" ;;
	1) st=warning msg="$name: exit 1" ;;
	*) st=critical msg="$name exited $rc: $(tail -n 1 <<<"$out" | jq -r '.summary // .annotations.summary // .message // .state // empty' 2>/dev/null || true)" ;;
	esac
	jq -cn --arg t "$name" --arg s "$st" --arg m "$msg" \
		'{kind:"report",tool:$t,status:$s,summary:$m,checks:[{name:($t+".exit"),status:$s,message:$m}]}' >>"$file"
}

# report REPORTS TOOL STATUS CHECK MESSAGE: a one-check report of the script's
# own making, for tools that answer with records or an exit status.
report() {
	jq -cn --arg t "$2" --arg s "$3" --arg c "$4" --arg m "$5" \
		'{kind:"report",tool:$t,status:$s,summary:$m,checks:[{name:$c,status:$s,message:$m}]}' >>"$1"
}

# new_stderr OFFSET: what the tools wrote to the log after OFFSET (bytes),
# its first lines joined: the reason a tool gave for its exit status.
new_stderr() {
	tail -c +"$(($1 + 1))" "$log" | head -n 3 | paste -sd ' ' - || true
}

# check_storage REPORTS: the Supabase storage API (services.supabase.url +
# storage_path, default /storage/v1/bucket) answers with the service's
# anon_key headers: svc-probe over a copy of the config whose only service
# is "supabase-storage" with storage_path as its health path. The copy holds
# the keys: 0600, in the private work directory.
check_storage() {
	jq -e '.services.supabase.url != null' "$cfg" >/dev/null 2>&1 || return 0
	local storage_cfg="$work/storage.json"
	(umask 077 && jq '.services = {"supabase-storage": (.services.supabase +
		{health_path: (.services.supabase.storage_path // "/storage/v1/bucket")})} | del(.probes)' \
		"$cfg" >"$storage_cfg")
	check "$1" svc-probe-storage svc-probe -c "$storage_cfg" --only supabase-storage --format json
}

# check_alert_channels REPORTS: alert-send --dry-run with a critical alert
# validates every channel the config routes it to and prints what it would
# send; it sends and stores nothing (its state directory is a throwaway one),
# so nobody is paged. (--test would post a notification to every channel on
# every deploy.)
check_alert_channels() {
	local out rc=0 off channels
	have alert-send || { check "$1" alert-send alert-send; return 0; }
	off=$(wc -c <"$log")
	out=$(jq -cn --arg s "$service" --arg e "$environment" \
		'{kind:"alert",status:"firing",
		  labels:{alertname:"ShipshapeDeployCheck",severity:"critical",service:$s,environment:$e},
		  annotations:{summary:"deploy infrastructure check of the alert channels (a dry run: nothing is sent)"}}' |
		alert-send -c "$cfg" --dry-run --state-dir "$work/alert-state" --format json 2>>"$log") || rc=$?
	channels=$(jq -rs '[.[] | select(.status? == "dry_run") | .channel] | unique | join(", ")' <<<"$out" 2>/dev/null || true)
	if ((rc == 0)) && [[ -n "$channels" ]]; then
		report "$1" alert-send ok alert-send.channels "the alert channels are valid: $channels (dry run, nothing sent)"
	elif ((rc == 0)); then
		report "$1" alert-send warning alert-send.channels "no alert channel would be notified: a failed deploy would alert nobody"
	else
		report "$1" alert-send critical alert-send.channels "the alert channels are not valid (alert-send exited $rc): $(new_stderr "$off")"
	fi
}

# check_health_watch REPORTS: health-watch accepts the config (monitoring.
# health_check: its durations, thresholds and endpoints) and probes every
# endpoint once. An endpoint down now (before the first deploy nothing is
# live) is a warning; a config it refuses is critical.
check_health_watch() {
	local out rc=0 off down
	have health-watch || { check "$1" health-watch health-watch; return 0; }
	off=$(wc -c <"$log")
	out=$(health-watch -c "$cfg" --count 1 --failure-threshold 1 --success-threshold 1 --format json 2>>"$log") || rc=$?
	case $rc in
	0) report "$1" health-watch ok health-watch.config "health-watch accepts the config; every endpoint is up" ;;
	2 | 3)
		down=$(jq -rs '[.[] | select(.type? == "state" and .to != "up") | .target] | unique | join(", ")' <<<"$out" 2>/dev/null || true)
		report "$1" health-watch warning health-watch.config "health-watch accepts the config; not up now: ${down:-some endpoints}" ;;
	*) report "$1" health-watch critical health-watch.config "health-watch refuses the config (exit $rc): $(new_stderr "$off")" ;;
	esac
}

# security_by_environment: a filter (stdin to stdout) over svc-probe's
# reports: outside production, the API not being served over https
# (security.tls) is a warning, as cfg-resolve --check has it (policy.urls);
# the report's status and summary then follow its checks.
security_by_environment() {
	jq -c --argjson production "$production" --arg env "$environment" '
		if .tool == "svc-probe" and ($production | not) and
			any(.checks[]?; .name == "security.tls" and .status == "critical") then
			.checks |= map(if .name == "security.tls" and .status == "critical" then
					.status = "warning" |
					.message += " (a warning in \($env); critical in production)"
				else . end) |
			.status = ([.checks[].status] | max_by({ok: 0, warning: 1, unknown: 2, critical: 3}[.])) |
			.summary = "\(.checks | length) check(s), \(.status) (plain http is a warning in \($env))"
		else . end'
}

# check_live_security REPORTS: the security configuration of the running
# service: the headers and tls checks of --security (all: both) against the
# live release. Only the security checks count: a live release in trouble
# must not block the deploy that fixes it. Nothing live yet: a warning.
check_live_security() {
	local list="" tmp="$work/security.jsonl"
	[[ "$security" == none ]] && return 0
	if [[ "$security" == all ]]; then
		list=headers,tls
	else
		list=$(tr ',' '\n' <<<"$security" | grep -xE 'headers|tls' | paste -sd, - || true)
	fi
	[[ -n "$list" ]] || return 0
	if [[ -z "$live" ]]; then
		report "$1" svc-probe-security warning security.live "no release is live yet: the service's security configuration ($list) is checked after the deploy"
		return 0
	fi
	: >"$tmp"
	check "$tmp" svc-probe-security svc-probe -c "$cfg" --only api --security "$list" --format json
	jq -c 'if .tool == "svc-probe" then
			(.checks |= map(select(.name | startswith("security.")))) |
			.status = ([.checks[].status] | if length == 0 then "unknown" else
				max_by({ok: 0, warning: 1, unknown: 2, critical: 3}[.]) end) |
			.summary = "the security configuration of \(.checks | length) check(s) on the live release: \(.status)"
		else . end' "$tmp" | security_by_environment >>"$1"
}

# gate STAGE REPORTS: the gate's decision; prints the failing checks.
# gate_summary STAGE: the gate's report (stdin) in a line: which reports
# failed it, and apart from that how many only warned (which never fails a
# gate): "2 of 4 reports failed (svc-probe critical, e2e critical); 1 with
# warnings, which alone do not fail a gate".
gate_summary() {
	jq -r --arg stage "$1" '
		[.checks[] | select(.name != "input")] as $reports |
		[$reports[] | select(.status == "critical" or .status == "unknown")] as $failed |
		([$reports[] | select(.status == "warning")] | length) as $warned |
		($reports | length) as $n |
		"\($n) report\(if $n == 1 then "" else "s" end)" as $count |
		(if ($failed | length) > 0 then
			"\($failed | length) of \($count) failed (\($failed |
				map((.name | ltrimstr($stage + ".")) + " " + .status) | join(", ")))"
		elif $warned == 0 and $n > 0 then "\($count), all ok"
		else $count end) +
		([.checks[] | select(.name == "input") | "; " + .message] | join("")) +
		(if $warned > 0 then "; \($warned) with warnings, which alone do not fail a gate" else "" end)'
}

gate() {
	local stage="$1" file="$2" out rc=0 off line
	off=$(wc -c <"$log")
	out=$(deploy-stage -c "$cfg" gate "$stage" <"$file" 2>>"$log") || rc=$?
	line=$(gate_summary "$stage" <<<"$out" 2>/dev/null) || line=""
	[[ -n "$line" ]] || line="deploy-stage gate exited $rc: $(new_stderr "$off")"
	if ((rc == 0)); then
		note "$stage" passed "$line"
		return 0
	fi
	note "$stage" FAILED "$line"
	# the failing reports' failing checks, one line each
	jq -r 'select(.status != "ok") | .checks[]? | select(.status != "ok") |
		"                            \(.status): \(.name): \(.message)"' "$file" 2>/dev/null | sort -u | head -n 20 || true
	return 1
}

# alert SUMMARY: a critical report to alert-send (its channels: slack, email,
# webhook, alertmanager per the config's alerts section).
alert() {
	local text="$1" out rc=0
	if ! have alert-send; then
		note alert skipped "alert-send is not installed: $text"
		return 0
	fi
	# one alert per deploy (the deploy number is a label), so a second failure
	# within the repeat interval is not taken for the first; --only-input: this
	# run tells of this failure only, never again of earlier ones (their
	# repeats and escalations are for a long-running alert-send or a flush)
	out=$(jq -cn --arg s "$service" --arg r "$release" --arg m "$text" --arg e "$environment" \
		--arg d "${deploy_id:-0}" --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		'{kind:"alert",status:"firing",startsAt:$t,
		  labels:{alertname:"DeployFailed",severity:"critical",service:$s,environment:$e,release:$r,deploy:$d},
		  annotations:{summary:$m}}' |
		alert-send -c "$cfg" --only-input 2>>"$log") || rc=$?
	if ((rc == 0)); then
		note alert sent "$(jq -rs 'map(.channel // empty) | unique | join(", ") | if . == "" then "delivered" else "via " + . end' <<<"$out" 2>/dev/null || echo delivered)"
	else
		note alert FAILED "alert-send exited $rc: $(tail -n 1 "$log")"
	fi
}

# resolve_failures: after a good deploy, the DeployFailed alerts of the
# deploys that failed since the previous good one are resolved (alert-send
# tells only the channels that were told they fired; one it never heard of
# is no news).
resolve_failures() {
	local lines out rc=0
	have alert-send || return 0
	lines=$(deploy-stage -c "$cfg" history --format json 2>>"$log" |
		jq -c -s --arg s "$service" --arg e "$environment" --arg cur "$deploy_id" \
			--arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
			[.[] | select(.action == "deploy" and (.deploy | tostring) != $cur)]
			| (map(.result == "ok") | indices(true) | last) as $k
			| .[(if $k == null then 0 else $k + 1 end):][] | select(.result != "ok")
			| {kind:"alert",status:"resolved",endsAt:$t,
			   labels:{alertname:"DeployFailed",severity:"critical",service:$s,environment:$e,
			           release:(.release // "?"),deploy:(.deploy | tostring)}}' 2>>"$log") || true
	[[ -n "$lines" ]] || return 0
	out=$(alert-send -c "$cfg" --only-input <<<"$lines" 2>>"$log") || rc=$?
	if ((rc == 0)); then
		[[ -z "$out" ]] || note alert resolved "the earlier failures of $service: $(jq -rs 'map(.channel // empty) | unique | join(", ") | "via " + .' <<<"$out" 2>/dev/null || echo sent)"
	else
		note alert FAILED "resolving the earlier failures: alert-send exited $rc: $(tail -n 1 "$log")"
	fi
}

# fail STAGE REASON APPLIED: stops the deploy: rollback when it was applied,
# otherwise close the deploy as failed; then the alert; then exit.
fail() {
	local stage="$1" reason="$2" applied="$3" status=2 out rc=0 text
	if ((dry_run)); then
		print_summary "dry run: would stop at $stage"
		exit 2
	fi
	if ((applied)) && ((!no_rollback)); then
		out=$(rollback -c "$cfg" --health-timeout "$health_timeout" \
			-m "automatic: $stage failed for $release" 2>>"$log") || rc=$?
		if ((rc == 0)); then
			note rollback ok "$(jq -r '"back to \(.to): \(.message)"' <<<"$out" 2>/dev/null)"
			text="deploy of $release to $service failed at $stage ($reason); rolled back to $(jq -r .to <<<"$out")"
		else
			note rollback FAILED "$(jq -r '.message // empty' <<<"$out" 2>/dev/null || true) $(tail -n 1 "$log")"
			text="deploy of $release to $service failed at $stage ($reason); the ROLLBACK FAILED too"
			status=3
			deploy-stage -c "$cfg" finish --result failed -m "$stage failed; rollback failed" >/dev/null 2>>"$log" || true
		fi
	else
		deploy-stage -c "$cfg" finish --result failed -m "$stage failed: $reason" >/dev/null 2>>"$log" || true
		if ((applied)); then
			note rollback skipped "--no-rollback: $release stays in place"
			text="deploy of $release to $service failed at $stage ($reason); left in place (--no-rollback)"
		else
			text="deploy of $release to $service failed at $stage ($reason); nothing was deployed"
		fi
	fi
	open_deploy=""
	alert "$text"
	print_summary "FAILED at $stage"
	exit "$status"
}

# ---- config -----------------------------------------------------------------

resolve_args=()
for e in ${env_files[@]+"${env_files[@]}"}; do resolve_args+=(-e "$e"); done
[[ -n "$schema" ]] && resolve_args+=(-s "$schema")
rc=0
cfg-resolve -q "${resolve_args[@]}" -o "$cfg" "${configs[@]}" || rc=$?
((rc == 0)) || die "the config does not resolve (cfg-resolve exited $rc)" 65
service=$(jq -r '.service.name // "default"' "$cfg")
environment=$(jq -r '.environment // "?"' "$cfg")
# Production is every environment but development and staging, a missing or
# unknown one included: cfg-resolve --check's rule (tools/cfg-resolve/policy.c).
production=true
case $environment in development | staging) production=false ;; esac
# svc-probe's rate-limit check sends a burst past the configured limit (for
# 100/min and a burst of 200: 330 requests) at the live API: only where the
# environment's config asks for it.
rate_limit_burst=$(jq -r '.deploy.security.rate_limit_burst // false' "$cfg")
driver=$(jq -r '.deploy.driver // "none"' "$cfg")
say "shipshape: deploying $release to $service ($environment) with the $driver driver"
((out_ok)) || die "unable to write to stdout: nothing was started" 3
# The end-to-end steps run only after the release is applied: a mistake in
# them is found now (65), not by failing the post-deploy stage.
e2e=0
if jq -e '.deploy.e2e != null' "$cfg" >/dev/null; then
	deploy-stage -c "$cfg" e2e --dry-run >/dev/null || die "deploy.e2e is not valid (see above)" 65
	e2e=1
fi

# Ask only someone who can answer: stdin a terminal. Anything else (CI, a
# pipe, cron, </dev/null) without --yes is refused at once, never left
# waiting for an answer that cannot come.
if ((!yes && !dry_run)); then
	if [[ -t 0 ]]; then
		printf 'Deploy %s to %s (%s)? [y/N] ' "$release" "$service" "$environment" >&2
		read -r answer || answer=""
		[[ "$answer" == [yY]* ]] || die "not confirmed: nothing deployed" 2
	else
		die "stdin is not a terminal to confirm on: pass --yes to deploy without a prompt" 64
	fi
fi

applied=0 deploy_id="" live=""
# the live release (the one this deploy replaces): begin says; a dry run
# reads it from the history (the last release that finished ok), when there
# is a history: a dry run makes no state directory
if ((dry_run)) && [[ -z "${SHIPSHAPE_STATE_DIR:-}" || -d "$SHIPSHAPE_STATE_DIR/deploy" ]]; then
	live=$(deploy-stage -c "$cfg" history --format json 2>/dev/null |
		jq -rs '[.[] | select(.result == "ok")] | last | .release // empty' 2>/dev/null || true)
fi
if ((!dry_run)); then
	rc=0
	out=$(deploy-stage -c "$cfg" begin --release "$release" -m "${message:-deploy_production.sh}" 2>&1) || rc=$?
	if ((rc != 0)); then
		printf '%s\n' "$out" >&2
		note begin FAILED "${out##*: }"
		print_summary "not started"
		exit "$rc"
	fi
	deploy_id=$(jq -r '.deploy' <<<"$out")
	live=$(jq -r '.previous // empty' <<<"$out")
	open_deploy=$deploy_id
	note begin ok "deploy $deploy_id replacing $(jq -r '.previous // "nothing"' <<<"$out")"
fi

# In a dry run there is no deploy to gate: the stage reports are judged here.
judge() {
	local stage="$1" file="$2"
	if ((!dry_run)); then
		gate "$stage" "$file"
		return
	fi
	if jq -e -s 'all(.status == "ok" or .status == "warning")' "$file" >/dev/null; then
		note "$stage" "would pass" "$(jq -rs 'map(.tool + " " + .status) | join(", ")' "$file")"
	else
		note "$stage" "would FAIL" "$(jq -rs 'map(select(.status != "ok" and .status != "warning") | .tool + ": " + .summary) | join("; ")' "$file")"
		return 1
	fi
}

# ---- stage 1: pre-deploy ---------------------------------------------------
at=pre-deploy
# config policy, database connectivity, external services, the baseline.
r="$work/pre-deploy.jsonl"
: >"$r"
check "$r" cfg-resolve cfg-resolve -q "${resolve_args[@]}" --check --format json "${configs[@]}"
check "$r" db-check db-check -c "$cfg" --only connect,version,role,ssl,latency,pool --format json
services=$(jq -r '(.services // {}) | keys | join(",")' "$cfg")
if [[ -n "$services" ]]; then
	check "$r" svc-probe svc-probe -c "$cfg" --only "$services" --format json
fi
if [[ -n "$baseline" ]]; then
	check "$r" svc-probe-baseline svc-probe -c "$cfg" --only api --baseline "$baseline" --format json
fi
judge pre-deploy "$r" || fail pre-deploy "the pre-deploy gate failed" 0

# ---- stage 2: infrastructure -----------------------------------------------
at=infrastructure
# database schema (tables, RLS, extensions, migrations); storage configuration
# (the Supabase storage API); monitoring set-up (the alert channels and
# health-watch's view of the config); security configuration of the running
# service (svc-probe --security headers,tls against the live release).
r="$work/infrastructure.jsonl"
: >"$r"
check "$r" db-check db-check -c "$cfg" --only schema,tables,rls,extensions,migrations --format json
check_storage "$r"
check_alert_channels "$r"
check_health_watch "$r"
check_live_security "$r"
judge infrastructure "$r" || fail infrastructure "the infrastructure gate failed" 0

if ((dry_run)); then
	note application "would run" "the $driver driver for $release"
	if ((e2e)); then
		note post-deploy "would run" "the end-to-end steps $(deploy-stage -c "$cfg" e2e --dry-run --format json | jq -r '[.steps[].name] | join(", ")')"
	fi
	print_summary "dry run: nothing changed"
	exit 0
fi

# ---- stage 3: application --------------------------------------------------
at=application
rc=0
out=$(deploy-stage -c "$cfg" apply 2>>"$log") || rc=$?
if ((rc != 0)); then
	note application FAILED "$(jq -r '.message // empty' <<<"$out" 2>/dev/null || tail -n 1 "$log")"
	# a failed driver may have switched part of the way: roll back
	fail application "the deploy driver failed" 1
fi
applied=1
note application ok "$(jq -r '.message' <<<"$out")"

# ---- stage 4: post-deploy --------------------------------------------------
at=post-deploy
# health (with retries while the release starts), the end-to-end pipeline
# (deploy.e2e: upload a document, poll it until processed), performance,
# security.
r="$work/post-deploy.jsonl"
: >"$r"
check "$r" svc-probe svc-probe -c "$cfg" --only api --retries 3 --retry-backoff 500ms --format json
if ((e2e)); then
	check "$r" e2e deploy-stage -c "$cfg" e2e --format json
else
	jq -cn '{kind:"report",tool:"e2e",status:"warning",summary:"the end-to-end pipeline is not checked: no deploy.e2e in the config",
		checks:[{name:"e2e.configured",status:"warning",message:"no deploy.e2e in the config"}]}' >>"$r"
fi
if ((requests > 0)); then
	check "$r" svc-probe-performance svc-probe -c "$cfg" --only api --requests "$requests" --concurrency 4 --format json
fi
if [[ "$security" != none ]]; then
	list=$security
	[[ "$list" == all ]] && list=cors,trusted-host,rate-limit,headers,tls,auth
	if [[ "$rate_limit_burst" != true ]] && grep -qx rate-limit <<<"${list//,/$'\n'}"; then
		list=$(tr ',' '\n' <<<"$list" | grep -vx rate-limit | paste -sd, - || true)
		report "$r" svc-probe-security warning security.rate_limit \
			"the rate limit is not checked: its burst of requests at the API is off in $environment (deploy.security.rate_limit_burst)"
	fi
	if [[ -n "$list" ]]; then
		: >"$work/security.jsonl"
		check "$work/security.jsonl" svc-probe-security svc-probe -c "$cfg" --security "$list" --format json
		security_by_environment <"$work/security.jsonl" >>"$r"
	fi
fi
judge post-deploy "$r" || fail post-deploy "the post-deploy gate failed" "$applied"

# ---- stage 5: readiness ----------------------------------------------------
at=readiness
# monitoring works, rollback is possible, compliance (encryption, RLS, audit).
r="$work/readiness.jsonl"
: >"$r"
check "$r" rollback rollback -c "$cfg" --check --format json
if have health-watch; then
	check_exit "$r" health-watch health-watch -c "$cfg" --until up --deadline 20s -i 1s \
		--success-threshold 1 --format json
fi
check "$r" db-check db-check -c "$cfg" --only rls --format json
judge readiness "$r" || fail readiness "the readiness gate failed" "$applied"

at=finish
deploy-stage -c "$cfg" finish --result ok -m "all stages passed" >/dev/null 2>>"$log" ||
	die "the deploy passed every stage but could not be recorded as finished" 3
open_deploy=""
note finish ok "$release is live and recorded as good"
resolve_failures
print_summary "OK"
