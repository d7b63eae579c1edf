#!/usr/bin/env bats
# cfg-resolve: the Render Blueprint against the config (--check --render),
# the variables of the templates (--list-vars, config/env.production.example)
# and the env-file variables nothing refers to (env.unused).
load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
	unset DATABASE_URL JWT_SECRET SUPABASE_URL SUPABASE_ANON_KEY SUPABASE_SERVICE_ROLE_KEY \
		LLAMAPARSE_API_KEY OPENAI_API_KEY SLACK_WEBHOOK_URL SMTP_PASSWORD REDIS_URL \
		RENDER_SERVICE_ID RENDER_API_KEY API_BASE_URL
	CFG=$REPO_ROOT/config
	PROD_ENV=$REPO_ROOT/tests/data/cfg/prod.env
	cp "$CFG/render/render.yaml" render.yaml
}

# check_render [ARG...]: --check of the production config with the
# Blueprint render.yaml of the test's directory.
check_render() {
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check --render render.yaml \
		"$@" "$CFG/production.yaml"
}

# check_of NAME: "status message" of the check NAME in the report.
check_of() {
	json_get ".checks[] | select(.name == \"$1\") | .status + \" \" + .message"
}

@test "the shipped Blueprint agrees with the production config; its checks are the man page's" {
	check_render
	assert_success
	assert_equal "$(json_get .status)" ok
	assert_equal "$(json_get '[.checks[] | select(.name | startswith("render.")) | select(.status == "ok")] | length')" 7
	assert_equal "$(json_get '.checks[].name | select(startswith("render."))' | sort)" \
		"$(sed -n '/^\.SH BLUEPRINT CHECKS/,/^\.SH /p' "$REPO_ROOT/man/man1/cfg-resolve.1" | grep -oE '^\.B render\.[a-z_]+' | cut -c4- | sort)"
}

# Each row: a sed script applied to the shipped Blueprint | the check | its
# status | an extended regexp its message matches.
blueprint_cases() {
	cat <<-'T'
	s|healthCheckPath: /health|healthCheckPath: /healthz|	render.health_path	critical	^render\.yaml:[0-9]+:[0-9]+: healthCheckPath /healthz is not api\.health_path /health$
	/healthCheckPath/d	render.health_path	warning	^render\.yaml:12:[0-9]+: no healthCheckPath
	s|^    healthCheckPath:|    healtCheckPath:|	render.blueprint	warning	^render\.yaml:[0-9]+:[0-9]+: services\[0\]\.healtCheckPath: not a Blueprint key \(did you mean healthCheckPath\?\)
	s|^services:|bogusKey: 1\nservices:|	render.blueprint	warning	^render\.yaml:11:[0-9]+: bogusKey: not a Blueprint key$
	0,/^        sync: false$/s//        syncc: false/	render.blueprint	warning	envVars\[[0-9]+\]\.syncc: not a Blueprint key \(did you mean sync\?\)
	s|name: accessa-api #|name: accessa-web #|	render.service	critical	: no service named accessa-api \(service\.name\) in the Blueprint \(it has: accessa-web\)$
	s|type: web|type: worker|	render.service	critical	^render\.yaml:12:[0-9]+: service accessa-api is of type worker, not web$
	s|minInstances: 2|minInstances: 1|	render.scaling	critical	^render\.yaml:[0-9]+:[0-9]+: scaling\.minInstances is 1, the config's scaling\.min_instances is 2$
	s|maxInstances: 10|maxInstances: 4|	render.scaling	critical	scaling\.maxInstances is 4, the config's scaling\.max_instances is 10$
	s|targetCPUPercent: 70|targetCPUPercent: 85|	render.scaling	warning	scaling\.targetCPUPercent is 85, the config's scaling\.scale_up_threshold is 70$
	/target[CM][a-zA-Z]*Percent/d	render.scaling	critical	scaling has neither targetCPUPercent nor targetMemoryPercent$
	s|^    scaling:.*|    numInstances: 3|;/[mM][ai][nx]Instances\|targetC\|targetM/d	render.scaling	critical	numInstances 3 is fixed where the config scales from 2 to 10 instances$
	/^      - key: DATABASE_URL/{n;s|sync: false|value: postgresql://app:hunter2-bp-secret@db/app|}	render.secrets	critical	^render\.yaml:[0-9]+:[0-9]+: DATABASE_URL is a secret with a literal value in the Blueprint \(value not shown\)
	s|^      - key: PORT|      - key: EXTRA_API_TOKEN\n        value: hunter2-bp-secret\n      - key: PORT|	render.secrets	critical	EXTRA_API_TOKEN is a secret with a literal value
	s|value: https://api.accessa.ai|value: https://user:hunter2-bp-secret@api.accessa.ai|	render.secrets	critical	^render\.yaml:[0-9]+:[0-9]+: API_BASE_URL holds a URL with a credential in the Blueprint \(not shown\)
	/^      - key: JWT_SECRET/{n;d}	render.secrets	warning	^render\.yaml:[0-9]+:[0-9]+: secret JWT_SECRET \(security\.jwt_secret\) has no sync: false nor any other source$
	/^      - key: OPENAI_API_KEY/{N;d}	render.secrets	critical	secret OPENAI_API_KEY \(services\.openai\.api_key\) is not declared: add it with sync: false$
	/^      - key: SUPABASE_URL/{N;d}	render.env	warning	SUPABASE_URL \(services\.supabase\.url\) is required by the config but not declared$
	/preDeployCommand/d	render.pre_deploy	warning	^render\.yaml:12:[0-9]+: no preDeployCommand: the migrations
	s|      - fromGroup: accessa-api-settings|      - fromGroup: other-group|	render.env	warning	^render\.yaml:[0-9]+:[0-9]+: fromGroup other-group is not among the Blueprint's envVarGroups: its variables are not seen; .*SUPABASE_URL .* is required by the config but not declared
	T
}

@test "each Blueprint disagreement is its check's finding, naming file:line, never a secret's value" {
	local n=0 script name want regexp got
	while IFS=$'\t' read -r script name want regexp; do
		n=$((n + 1))
		sed -e "$script" "$CFG/render/render.yaml" >render.yaml
		! cmp -s render.yaml "$CFG/render/render.yaml" || { echo "case $n: the script changed nothing" >&2; return 1; }
		check_render
		got=$(check_of "$name")
		[[ ${got%% *} == "$want" ]] || { echo "case $n ($name): got '$got', want $want" >&2; return 1; }
		[[ ${got#* } =~ $regexp ]] || { echo "case $n ($name): '${got#* }' !~ $regexp" >&2; return 1; }
		# the report's status and exit are the worst check's
		[ "$status" -ge "$([ "$want" = critical ] && echo 2 || echo 1)" ]
		assert_secret_absent hunter2-bp-secret "$output" "$stderr"
	done < <(blueprint_cases)
	[ "$n" -eq 20 ]
}

@test "a Blueprint without the config's service: the checks of the service say unknown, not ok" {
	printf 'services:\n  - type: web\n    name: other\n' >render.yaml
	check_render
	assert_equal "$status" 2
	assert_equal "$(check_of render.service)" \
		"critical render.yaml:2:3: no service named accessa-api (service.name) in the Blueprint (it has: other)"
	assert_equal "$(json_get '[.checks[] | select(.status == "unknown") | .name] | join(",")')" \
		render.health_path,render.scaling,render.secrets,render.env,render.pre_deploy
}

@test "the Blueprint's checks in text and nagios, as the rest of --check" {
	sed 's|healthCheckPath: /health|healthCheckPath: /ready|' "$CFG/render/render.yaml" >render.yaml
	check_render --format nagios
	assert_equal "$status" 2
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^cfg-resolve CRITICAL - .*render\.health_path'
	check_render --format text
	assert_equal "$status" 2
	assert_line --regexp '^CRITICAL +render\.health_path .*render\.yaml:[0-9]+:[0-9]+: healthCheckPath /ready is not'
}

@test "a Blueprint that does not parse, is not a map or is missing: exit 65, one line naming it; --render needs --check" {
	local f
	printf 'services: [\n' >broken.yaml
	printf -- '- type: web\n' >list.yaml
	printf 'a: 1\na: 2\n' >dup.yaml
	for f in broken.yaml list.yaml dup.yaml; do
		run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check --render "$f" "$CFG/production.yaml"
		assert_equal "$status" 65
		[ -z "$output" ]
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "$f: $stderr" >&2; return 1; }
		[[ $stderr =~ ^cfg-resolve:\ $f:[0-9]+:[0-9]+:\  ]] || { echo "$f: $stderr" >&2; return 1; }
	done
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check --render nowhere.yaml "$CFG/production.yaml"
	assert_equal "$status" 65
	[[ $stderr == *nowhere.yaml* ]]
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --render render.yaml "$CFG/production.yaml"
	assert_equal "$status" 64
	[[ $stderr == "cfg-resolve: --render goes with --check" ]]
}

# Each row: a YAML line | the variable | required | secret | default (- for
# none) | message (- for none).
template_cases() {
	cat <<-'T'
	a: ${PLAIN}	PLAIN	true	false	-	-
	b: $BARE and more	BARE	true	false	-	-
	c: ${WITH_DEFAULT:-https://x.example}	WITH_DEFAULT	false	false	https://x.example	-
	d: ${UNSET_ONLY-fallback}	UNSET_ONLY	false	false	fallback	-
	e: ${NEEDED:?set NEEDED please}	NEEDED	true	false	-	set NEEDED please
	f: ${PLUS:+yes}	PLUS	false	false	-	-
	g: ${OUTER:-${INNER}}	INNER	false	false	-	-
	g2: ${OUTER2:-${INNER2}}	OUTER2	false	false	${INNER2}	-
	h: ${MY_API_TOKEN}	MY_API_TOKEN	true	true	-	-
	password: ${PW:-literal-default}	PW	false	true	***	-
	i: "$$NOT_A_VAR ${AFTER}"	AFTER	true	false	-	-
	j: ${URL_DEFAULT:-postgres://app:pw-in-default@db/app}	URL_DEFAULT	false	false	postgres://app:***@db/app	-
	T
}

@test "--list-vars: every template's variable, required or with its default, secret or not, and where" {
	local line name req sec def msg n=0
	while IFS=$'\t' read -r line name req sec def msg; do
		n=$((n + 1))
		printf '%s\n' "$line" >t.yaml
		run --separate-stderr cfg-resolve --list-vars t.yaml
		assert_success
		got=$(printf '%s\n' "$output" | jq -c --arg n "$name" 'select(.name == $n) |
			[.required, .secret, (.default // "-"), (.message // "-"), (.uses[0] | "\(.path) \(.file):\(.line)")]')
		want=$(jq -cn --argjson r "$req" --argjson s "$sec" --arg d "$def" --arg m "$msg" --arg p "${line%%:*} t.yaml:1" \
			'[$r, $s, $d, $m, $p]')
		assert_equal "$got" "$want"
	done < <(template_cases)
	[ "$n" -eq 12 ]
	# $$ is a literal dollar, no variable
	printf 'a: $$NOPE\n' >t.yaml
	run --separate-stderr cfg-resolve --list-vars t.yaml
	assert_success
	[ -z "$output" ]
}

@test "--list-vars of the production config needs no variable set: secrets by the schema, places by file:line" {
	run --separate-stderr cfg-resolve --list-vars -s "$CFG/schema.yaml" "$CFG/production.yaml"
	assert_success
	[ -z "$stderr" ]
	assert_equal "$(printf '%s\n' "$output" | jq -s length)" 18
	# schema-secret, required, at the line it is written
	line=$(grep -n 'url: ${DATABASE_URL}' "$CFG/production.yaml" | cut -d: -f1)
	assert_equal "$(json_get 'select(.name == "DATABASE_URL") | "\(.required) \(.secret) \(.uses[0].path) \(.uses[0].line)"')" \
		"true true database.url $line"
	# used twice, with a default: both places
	assert_equal "$(json_get 'select(.name == "API_BASE_URL") | "\(.required) \(.default) \([.uses[].path] | join(","))"')" \
		"false https://api.accessa.ai api.base_url,monitoring.health_check.endpoints[0].url"
	assert_equal "$(json_get 'select(.name == "JWT_SECRET") | .message')" "JWT secret is required"
	# redis_url is secret by the schema alone (its name is not a secret's)
	assert_equal "$(json_get 'select(.name == "REDIS_URL") | .secret')" true
	run --separate-stderr cfg-resolve --list-vars "$CFG/production.yaml"
	assert_equal "$(json_get 'select(.name == "REDIS_URL") | .secret')" false
	# text: one line a variable
	run --separate-stderr cfg-resolve --list-vars --format text -s "$CFG/schema.yaml" "$CFG/production.yaml"
	assert_success
	assert_equal "${#lines[@]}" 18
	assert_line --regexp "^DATABASE_URL +required, secret  database\.url \(.*production\.yaml:$line\)$"
}

@test "--list-vars: an invalid template is exit 65 naming file:line:col; --format nagios is refused" {
	printf 'a: ok\nb: x ${BAD\n' >t.yaml
	run --separate-stderr cfg-resolve --list-vars t.yaml
	assert_equal "$status" 65
	[ -z "$output" ]
	[[ $stderr == "cfg-resolve: t.yaml:2:6: invalid template"* ]]
	run --separate-stderr cfg-resolve --list-vars --format nagios t.yaml
	assert_equal "$status" 3
	run --separate-stderr cfg-resolve --list-vars --check t.yaml
	assert_equal "$status" 64
}

@test "config/env.production.example is what --list-vars --format env makes of the production config" {
	# the way its header says to regenerate it
	cmd=$(sed -n '2s/^#   //p' "$CFG/env.production.example")
	[[ $cmd == "cfg-resolve --list-vars --format env -s config/schema.yaml config/production.yaml" ]]
	run --separate-stderr bash -c "cd '$REPO_ROOT' && $cmd"
	assert_success
	diff -u "$CFG/env.production.example" <(printf '%s\n' "$output")
	# one NAME= line a variable; secrets never with a value
	assert_equal "$(grep -cE '^#?[A-Z_]+=' "$CFG/env.production.example")" 18
	! grep -E '^#?(DATABASE_URL|JWT_SECRET|[A-Z_]*(KEY|PASSWORD|WEBHOOK_URL|REDIS_URL))=.' "$CFG/env.production.example"
	# a shell and cfg-resolve -e read it
	bash -n "$CFG/env.production.example"
	printf 'a: ${DATABASE_URL}\n' >t.yaml
	run --separate-stderr cfg-resolve -e "$CFG/env.production.example" t.yaml
	assert_success
	assert_equal "$(json_get .a)" ""
}

@test "--check -e: a variable of an env file no template refers to is a warning naming file:line, with the closest name" {
	{ cat "$PROD_ENV"; printf 'JWT_SECRT=typo-0123456789\nCOMPLETELY_UNRELATED=1\n'; } >typo.env
	n=$(wc -l <typo.env)
	run --separate-stderr cfg-resolve -e typo.env -s "$CFG/schema.yaml" --check "$CFG/production.yaml"
	assert_equal "$status" 1
	assert_equal "$(check_of env.unused)" \
		"warning typo.env:$((n - 1)): JWT_SECRT is set but no template refers to it (did you mean JWT_SECRET?); typo.env:$n: COMPLETELY_UNRELATED is set but no template refers to it"
	assert_secret_absent typo-0123456789 "$output" "$stderr"
	# every variable used: ok; no env file: no such check
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check "$CFG/production.yaml"
	assert_success
	assert_equal "$(check_of env.unused)" "ok every variable of the env files is referred to by a template"
	set -a
	. "$PROD_ENV"
	set +a
	run --separate-stderr cfg-resolve -s "$CFG/schema.yaml" --check "$CFG/production.yaml"
	assert_success
	assert_equal "$(json_get '[.checks[] | select(.name == "env.unused")] | length')" 0
}
