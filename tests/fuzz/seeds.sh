#!/usr/bin/env bash
# tests/fuzz/seeds.sh OUT — makes the seed corpus of each fuzz target under
# OUT/NAME from the test data: whole files (YAML, schemas, .env, JSON Lines)
# and one seed per line of tests/data/fuzz/*.txt. Run from the source tree.
set -euo pipefail
out=$1
data=tests/data

# lines FILE TARGET: each line of FILE as one seed of TARGET
lines() {
	local n=0 line
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		printf '%s' "$line" >"$out/$2/$(basename "$1" .txt)-$n"
	done <"$1"
}

# files TARGET FILE...: each FILE as one seed of TARGET
files() {
	local t=$1 f
	shift
	for f in "$@"; do
		[ -f "$f" ] && cp "$f" "$out/$t/$(basename "$(dirname "$f")")-$(basename "$f")"
	done
	return 0
}

rm -rf "$out"
for t in units range rfc3339 json_path tmpl redact jsonl yaml schema schema_load envfile prom redis_url ratelimit blueprint matcher interval; do
	mkdir -p "$out/$t"
done
lines $data/fuzz/durations.txt units
lines $data/fuzz/ranges.txt range
lines $data/fuzz/times.txt rfc3339
lines $data/fuzz/json_path.txt json_path
lines $data/fuzz/templates.txt tmpl
lines $data/fuzz/redact.txt redact
lines $data/fuzz/ratelimit.txt ratelimit
lines $data/fuzz/intervals.txt interval
files jsonl $data/fuzz/*.jsonl
lines $data/fuzz/alerts.jsonl jsonl
files yaml $data/schema/*.yaml config/*.yaml
files schema config/*.yaml $data/schema/*.yaml
files schema_load $data/schema/*.yaml config/schema.yaml
files envfile $data/cfg/*.env $data/fuzz/*.env
files prom $data/fuzz/prom/*.json
lines $data/fuzz/redis_urls.txt redis_url
files blueprint config/render/*.yaml $data/fuzz/blueprint/*.yaml
lines $data/fuzz/matchers.txt matcher
