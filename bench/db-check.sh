#!/usr/bin/env bash
# bench/db-check.sh — db-check with every default check beside pg_isready
# (the real binary, not Debian's wrapper) and monitoring-plugins'
# check_pgsql, in one run against one throwaway local cluster (127.0.0.1,
# SSL on, scram-sha-256), then peak memory with /usr/bin/time -v.
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
PG_ISREADY=/usr/lib/postgresql/15/bin/pg_isready
CHECK_PGSQL=/usr/lib/nagios/plugins/check_pgsql
PSQL=/usr/lib/postgresql/15/bin/psql
for b in "$PG_ISREADY" "$CHECK_PGSQL" "$BUILD/db-check" "$BUILD/helpers/faultsrv"; do
	[ -x "$b" ] || { echo "bench/db-check.sh: $b is missing (make; apt-get install monitoring-plugins-standard)" >&2; exit 1; }
done

export SHIPSHAPE_BUILD=$BUILD
# shellcheck source=../tests/helpers/services.bash
. "$REPO_ROOT/tests/helpers/services.bash"
work=$(mktemp -d)
trap 'stop_postgres; rm -rf "$work"' EXIT
set +e
start_postgres --ssl --dir "$work" || exit 1
pg_superuser_psql -q -f tests/helpers/pg_fixtures.sql >/dev/null || exit 1
set -e

# the config document: everything right, the password only in this 0600 file
umask 077
jq -n --arg url "$PGTEST_URL" '{environment: "production", service: {name: "bench"},
  database: {url: $url, schema: "upload_pipeline", pool_size: 5, max_overflow: 5, require_ssl: true,
    min_server_version: "15", tables: ["documents", "upload_jobs", "document_chunks", "audit_log"],
    extensions: [{name: "pgcrypto"}, {name: "uuid-ossp"}],
    migrations: {table: "schema_migrations", version: "20250601000000"}},
  scaling: {max_instances: 2}}' >"$work/cfg.json"
# check_pgsql and psql find the password where libpq looks, never in argv
export PGPASSWORD=$PGTEST_PASSWORD PGAPPNAME=bench
export DB_URL=$PGTEST_URL

db-check -c "$work/cfg.json" >"$work/report.json" || { echo "db-check is not ok on the bench cluster:" >&2; cat "$work/report.json" >&2; exit 1; }
echo "db-check ran $(jq '.checks | length' "$work/report.json") checks: $(jq -r '[.checks[].name] | join(" ")' "$work/report.json")"

# compare TITLE NAME CMD [NAME CMD]...: hyperfine side by side (the first
# command is db-check), each one's mean, and db-check's time over each peer's.
compare() {
	local title=$1 json args=()
	shift
	while (($#)); do
		args+=(-n "$1" "$2")
		shift 2
	done
	json=$(mktemp)
	hyperfine --warmup 5 --runs "$RUNS" --style basic --export-json "$json" "${args[@]}" >&2
	echo "## $title"
	# medians: a shared machine's stray load skews means
	jq -r '.results as $r | $r[0].median as $ours | $r[] |
	  "\(.command)\tmedian \((.median*1000*100|round)/100) ms\tmean \((.mean*1000*100|round)/100) ± \((.stddev*1000*100|round)/100)\tdb-check = \(($ours/.median*100|round)/100)x"' "$json" |
		column -t -s "$(printf '\t')"
	rm -f "$json"
}

compare "TLS + scram-sha-256 (the application's way in; pg_isready stops at the password request)" \
	"db-check (all checks)" "db-check -c $work/cfg.json" \
	"pg_isready" "$PG_ISREADY -h 127.0.0.1 -p $PGTEST_PORT -d appdb -U app" \
	"check_pgsql" "$CHECK_PGSQL -H 127.0.0.1 -P $PGTEST_PORT -d appdb -l app" \
	"db-check --only connect" "db-check --url-env DB_URL --only connect" \
	"psql -c 'SELECT 1'" "$PSQL -X -q -h 127.0.0.1 -p $PGTEST_PORT -U app -d appdb -c 'SELECT 1'"

# The same server with a trust entry for one role: now pg_isready, too, gets
# a whole session, so the difference is what db-check does with it.
pg_superuser_psql -q -c "CREATE ROLE bench_trust LOGIN IN ROLE app" >/dev/null
sed -i '/^host .*127.0.0.1\/32/i host all bench_trust 127.0.0.1/32 trust' "$PGTEST_DATA/pg_hba.conf"
pg_superuser_psql -q -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
jq --arg url "postgresql://bench_trust@127.0.0.1:$PGTEST_PORT/appdb" '.database.url = $url' "$work/cfg.json" >"$work/trust.json"
db-check -c "$work/trust.json" >/dev/null || { echo "db-check is not ok as bench_trust" >&2; exit 1; }
compare "TLS, trust (every tool gets a whole session)" \
	"db-check (all checks)" "db-check -c $work/trust.json" \
	"pg_isready" "$PG_ISREADY -h 127.0.0.1 -p $PGTEST_PORT -d appdb -U bench_trust" \
	"check_pgsql" "$CHECK_PGSQL -H 127.0.0.1 -P $PGTEST_PORT -d appdb -l bench_trust" \
	"psql -c 'SELECT 1'" "$PSQL -X -q -h 127.0.0.1 -p $PGTEST_PORT -U bench_trust -d appdb -c 'SELECT 1'"

# interleaved NAME CMD [NAME CMD]...: the commands taken in turn, RUNS rounds,
# so that load drifting on a shared machine falls on all of them alike;
# median wall time of each and db-check's over each peer's.
interleaved() {
	local title=$1 i j n times
	shift
	local names=() cmds=()
	while (($#)); do
		names+=("$1")
		cmds+=("$2")
		shift 2
	done
	n=${#cmds[@]}
	times=$(mktemp)
	for ((i = 0; i < RUNS; i++)); do
		for ((j = 0; j < n; j++)); do
			local t0=$EPOCHREALTIME t1
			eval "${cmds[j]}" >/dev/null 2>&1 || true
			t1=$EPOCHREALTIME
			printf '%d\t%s\t%s\n' "$j" "$t0" "$t1" >>"$times"
		done
	done
	echo "## $title (interleaved, $RUNS rounds)"
	for ((j = 0; j < n; j++)); do
		printf '%s\t' "${names[j]}"
		awk -F'\t' -v j="$j" '$1 == j {printf "%.6f\n", $3 - $2}' "$times" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
	done | awk -F'\t' 'NR == 1 {ours = $2} {printf "%s\tmedian %.2f ms\tdb-check = %.2fx\n", $1, $2 * 1000, ours / $2}' |
		column -t -s "$(printf '\t')"
	rm -f "$times"
}

interleaved "TLS + scram-sha-256" \
	"db-check (all checks)" "db-check -c $work/cfg.json" \
	"pg_isready" "$PG_ISREADY -h 127.0.0.1 -p $PGTEST_PORT -d appdb -U app" \
	"check_pgsql" "$CHECK_PGSQL -H 127.0.0.1 -P $PGTEST_PORT -d appdb -l app"
interleaved "TLS, trust" \
	"db-check (all checks)" "db-check -c $work/trust.json" \
	"pg_isready" "$PG_ISREADY -h 127.0.0.1 -p $PGTEST_PORT -d appdb -U bench_trust" \
	"check_pgsql" "$CHECK_PGSQL -H 127.0.0.1 -P $PGTEST_PORT -d appdb -l bench_trust"

echo "## peak memory (max RSS, /usr/bin/time -v)"
for cmd in "db-check -c $work/cfg.json" \
	"$PG_ISREADY -h 127.0.0.1 -p $PGTEST_PORT -d appdb -U app" \
	"$CHECK_PGSQL -H 127.0.0.1 -P $PGTEST_PORT -d appdb -l app"; do
	# shellcheck disable=SC2086
	rss=$(/usr/bin/time -v $cmd 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}')
	name=${cmd%% *}
	printf '%s\t%s KiB\n' "${name##*/}" "$rss"
done | column -t -s "$(printf '\t')"
