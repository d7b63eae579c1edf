#!/usr/bin/env bash
# bench/deploy-state.sh — a deploy's steps (begin, gate, apply with the
# command driver running `true`, finish) on the file backend beside the
# postgres backend (a throwaway local cluster, 127.0.0.1, scram-sha-256, a
# role that may only read and append), interleaved deploy by deploy so that
# drift falls on both alike: each step's median wall time (a process start
# each) and what the postgres backend adds.
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
DEPLOYS=${DEPLOYS:-40}
for b in "$BUILD/deploy-stage" /usr/lib/postgresql/15/bin/initdb; do
	[ -x "$b" ] || { echo "bench/deploy-state.sh: $b is missing (make; make deps)" >&2; exit 1; }
done

export SHIPSHAPE_BUILD=$BUILD
# shellcheck source=../tests/helpers/services.bash
. "$REPO_ROOT/tests/helpers/services.bash"
work=$(mktemp -d)
trap 'kill "${owner:-}" 2>/dev/null; stop_postgres; rm -rf "$work"' EXIT
set +e
start_postgres --dir "$work" || exit 1
pw=$(openssl rand -hex 12)
pg_superuser_psql -q -v "pw=$pw" <<<"CREATE ROLE deployer LOGIN PASSWORD :'pw';" || exit 1
STATE_URL=$PGTEST_URL deploy-stage --state-url-env STATE_URL state init --grant deployer >/dev/null || exit 1
set -e

# the configs: the password only in this 0600 file
umask 077
jq -n '{service: {name: "bench"}, deploy: {driver: "command", command: {deploy: ["true"]}}}' >"$work/file.json"
jq --arg url "postgresql://deployer:$pw@127.0.0.1:$PGTEST_PORT/appdb" '.state = {backend: "postgres", url: $url}' \
	"$work/file.json" >"$work/pg.json"
jq -cn '{kind: "report", tool: "bench", status: "ok", summary: "ok", checks: [{name: "bench.x", status: "ok", message: "ok"}]}' \
	>"$work/report.jsonl"
# the deploying process the lock follows (a deploy script's shell)
sleep 3600 &
owner=$!
export SHIPSHAPE_DEPLOY_PID=$owner SHIPSHAPE_STATE_DIR=$work/state

# step BACKEND NAME CMD...: runs one step, appending its wall time (µs).
step() {
	local backend=$1 name=$2 t0 t1
	shift 2
	t0=$EPOCHREALTIME
	"$@" >/dev/null
	t1=$EPOCHREALTIME
	echo $(((${t1/./} - ${t0/./}))) >>"$work/times/$backend.$name"
}

deploy() {
	local b=$1 n=$2 c="$work/$1.json"
	step "$b" begin deploy-stage -c "$c" begin --release "v$n"
	step "$b" gate deploy-stage -c "$c" gate pre-deploy <"$work/report.jsonl"
	step "$b" apply deploy-stage -c "$c" apply
	step "$b" finish deploy-stage -c "$c" finish --result ok
}

mkdir "$work/times"
for ((i = 1; i <= 3; i++)); do deploy file "w$i"; deploy pg "w$i"; done # warm-up
rm -f "$work"/times/*
for ((i = 1; i <= DEPLOYS; i++)); do deploy file "$i"; deploy pg "$i"; done

median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000}'; }
echo "## deploy-stage steps, file vs postgres backend ($DEPLOYS deploys each, interleaved; median ms)"
{
	printf 'step\tfile\tpostgres\tadded\tratio\n'
	for s in begin gate apply finish; do
		f=$(median "$work/times/file.$s") p=$(median "$work/times/pg.$s")
		printf '%s\t%.2f ms\t%.2f ms\t%+.2f ms\t%.2fx\n' "$s" "$f" "$p" "$(echo "$p - $f" | bc -l)" "$(echo "$p / $f" | bc -l)"
	done
} | column -t -s "$(printf '\t')"
echo "target: the postgres backend adds at most 20 ms per step"
