#!/usr/bin/env bats
# config docs: shipshape.yaml(5) names every key config/schema.yaml declares,
# with its type, marks and default; the maps that accept unknown keys are the
# ones the schema says; the shipped configs resolve strictly; the page is
# clean roff.
load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
	SCHEMA=$REPO_ROOT/config/schema.yaml
	MAN5=$REPO_ROOT/man/man5/shipshape.yaml.5
	PROD_ENV=$REPO_ROOT/tests/data/cfg/prod.env
	# the variables the configs name: each test decides which exist
	unset DATABASE_URL DATABASE_SCHEMA DATABASE_REQUIRE_SSL JWT_SECRET API_BASE_URL API_PORT \
		SUPABASE_URL SUPABASE_ANON_KEY SUPABASE_SERVICE_ROLE_KEY LLAMAPARSE_API_URL \
		LLAMAPARSE_API_KEY OPENAI_API_URL OPENAI_API_KEY SLACK_WEBHOOK_URL SMTP_URL \
		SMTP_USERNAME SMTP_PASSWORD REDIS_URL RENDER_API_URL RENDER_SERVICE_ID RENDER_API_KEY
}

# schema_specs: one TSV line per spec in the schema, depth first:
# path type default(JSON text, ~ when none) required secret accepts-unknown.
# A map's members are path.NAME, its further entries path.*, a list's
# elements path[].
schema_specs() {
	cfg-resolve "$SCHEMA" | jq -r '
		def specs(p):
			{path: p, spec: .},
			(if .keys then .keys | to_entries[] | .key as $k | .value
				| specs(if p == "" then $k else p + "." + $k end) else empty end),
			(if .entries then .entries | specs(p + ".*") else empty end),
			(if .items then .items | specs(p + "[]") else empty end);
		.root | specs("") | select(.path != "")
		| [.path, .spec.type,
		   (if .spec | has("default") then (.spec.default | if type == "string" then . else tojson end) else "~" end),
		   (.spec.required // false), (.spec.secret // false),
		   (.spec.type == "map" and ((.spec.allow_unknown // false) or (.spec.keys == null and .spec.entries == null)))]
		| @tsv'
}

# schema_key_paths: the key paths a config writes (not the bare element
# specs path[] or path.*).
schema_key_paths() {
	schema_specs | cut -f1 | grep -vE '(\[\]|\.\*)$'
}

# man_text: the page's source with roff escapes undone (\- \& \e \(en \(dq, fonts).
man_text() {
	sed -e 's/\\&//g' -e 's/\\-/-/g' -e 's/\\(en/-/g' -e 's/\\(dq/"/g' -e 's/\\f[BIRP]//g' \
		-e 's/\\e/\\/g' "$MAN5"
}

# man_entries: the tag lines of CONFIGURATION KEYS (the line after .TP/.TQ),
# as "PATH (type, marks) [default]".
man_entries() {
	man_text | sed -n '/^\.SH CONFIGURATION KEYS/,/^\.SH /p' |
		awk 'tag { print; tag = 0; next } /^\.T[PQ]$/ { tag = 1 }' |
		grep -E '^\.BR? ' | sed -E -e 's/^\.BR? //' -e 's/"//g' -e 's/ +/ /g'
}

@test "the schema yields its key paths (the extraction itself works)" {
	run schema_key_paths
	assert_success
	# a handful the page must then carry, from every tool's part of the schema
	for k in environment state_dir database.url 'database.extensions[].min_version' \
		database.latency.count svc_probe.auth_paths probes 'services.*.timeout' \
		monitoring.health_check.endpoints alerts.email.smtp.tls_verify \
		'deploy.e2e.steps[].poll.fail_if' deploy.symlink.keep_releases; do
		printf '%s\n' "$output" | grep -qxF -- "$k" || fail "no key path $k in the schema"
	done
	[ "$(printf '%s\n' "$output" | wc -l)" -gt 150 ]
}

@test "every key path of the schema appears in shipshape.yaml(5)" {
	local text missing=() k
	text=$(man_text)
	while IFS= read -r k; do
		[[ $text == *"$k"* ]] || missing+=("$k")
	done < <(schema_key_paths)
	[ ${#missing[@]} -eq 0 ] || fail "not in man/man5/shipshape.yaml.5: ${missing[*]}"
}

@test "every key has an entry giving its type, required and secret marks and default" {
	local entries bad=() path type def req sec unk e
	entries=$(man_entries)
	[ -n "$entries" ] || fail "no entries found under CONFIGURATION KEYS"
	while IFS=$'\t' read -r path type def req sec unk; do
		case $path in *'[]' | *.\*) continue ;; esac
		e=$(printf '%s\n' "$entries" | grep -F -- "$path (" | awk -v p="$path (" 'index($0, p) == 1' | head -n 1)
		if [ -z "$e" ]; then
			bad+=("$path: no entry")
			continue
		fi
		[[ $e == "$path ($type"* ]] || bad+=("$path: type is not $type: $e")
		[ "$req" = false ] || [[ $e == *required* ]] || bad+=("$path: not marked required: $e")
		[ "$sec" = false ] || [[ $e == *secret* ]] || bad+=("$path: not marked secret: $e")
		if [ "$def" != "~" ]; then
			[[ $e == *"[$def]"* ]] || bad+=("$path: default is not [$def]: $e")
		else
			[[ ! $e =~ \)\ \[ ]] || bad+=("$path: a default the schema does not have: $e")
		fi
	done < <(schema_specs)
	[ ${#bad[@]} -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "every entry of the page names a key the schema declares" {
	local paths stale=() p
	paths=$(schema_key_paths)
	while IFS= read -r p; do
		printf '%s\n' "$paths" | grep -qxF -- "$p" || stale+=("$p")
	done < <(man_entries | cut -d' ' -f1)
	[ ${#stale[@]} -eq 0 ] || fail "entries for keys not in the schema: ${stale[*]}"
}

@test "the maps listed as accepting unknown keys are exactly the schema's" {
	local want have
	want=$(schema_specs | awk -F'\t' '$6 == "true" { print $1 }' | sort)
	have=$(man_text | sed -n '/^\.SS Maps that accept unknown keys/,/^\.S[HS] /p' |
		sed -n '/^\.nf/,/^\.fi/p' | grep -v '^\.' | sort)
	[ -n "$want" ]
	assert_equal "$have" "$want"
}

@test "config/production.yaml resolves strictly against the schema with the production variables" {
	run --separate-stderr cfg-resolve --strict -e "$PROD_ENV" -s "$SCHEMA" "$REPO_ROOT/config/production.yaml"
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	[ "$(json_get .environment)" = production ]
	[ "$(json_get .database.pool_timeout)" = 30 ]
	[ "$(json_get .deploy.driver)" = render ]
	[ "$(json_get .services.openai.api_key)" = sk-test-key-abcdef ]
}

@test "config/production.yaml without its variables is refused with --strict, naming one" {
	run --separate-stderr cfg-resolve --strict -s "$SCHEMA" "$REPO_ROOT/config/production.yaml"
	assert_failure 65
	[[ $stderr == *production.yaml:* ]]
	[[ $stderr == *DATABASE_URL* ]]
}

@test "config/local.yaml resolves strictly against the schema with no variable set" {
	run --separate-stderr cfg-resolve --strict -s "$SCHEMA" "$REPO_ROOT/config/local.yaml"
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	[ "$(json_get .environment)" = development ]
	[ "$(json_get .alerts.email.smtp.tls)" = none ]
}

@test "a key the schema does not declare in a closed map is refused with --strict" {
	# the check above could pass with a schema that accepts anything
	sed 's/^  pool_size: 5$/  pool_sise: 5/' "$REPO_ROOT/config/local.yaml" > local.yaml
	grep -q pool_sise local.yaml
	run --separate-stderr cfg-resolve --strict -s "$SCHEMA" local.yaml
	assert_failure 65
	[[ $stderr == *database.pool_sise* ]]
}

@test "shipshape.yaml(5) formats without troff warnings" {
	run --separate-stderr env MANWIDTH=80 man --warnings -l "$MAN5"
	assert_success
	[ -z "$stderr" ] || fail "troff: $stderr"
	[[ $output == *"CONFIGURATION KEYS"* ]]
}
