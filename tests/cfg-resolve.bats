#!/usr/bin/env bats
# cfg-resolve: templates, env files, YAML, schema, policy, output, bad input.
load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
	# the tests decide which variables exist
	unset DATABASE_URL JWT_SECRET SUPABASE_URL SUPABASE_ANON_KEY SUPABASE_SERVICE_ROLE_KEY \
		LLAMAPARSE_API_KEY OPENAI_API_KEY SLACK_WEBHOOK_URL SMTP_PASSWORD REDIS_URL \
		RENDER_SERVICE_ID RENDER_API_KEY API_BASE_URL
	CFG=$REPO_ROOT/config
	PROD_ENV=$REPO_ROOT/tests/data/cfg/prod.env
}

teardown() {
	[ -z "${RO_DIR:-}" ] || rm -rf "$RO_DIR"
}

# resolve VALUE: runs cfg-resolve on a one-key file `v: VALUE`.
resolve() {
	printf 'v: %s\n' "$1" > t.yaml
	run --separate-stderr cfg-resolve t.yaml
}

@test "--help prints the synopsis on stdout and exits 0" {
	run --separate-stderr cfg-resolve --help
	assert_success
	assert_output --partial "usage: cfg-resolve"
	[ -z "$stderr" ]
}

@test "--help, the man page's SYNOPSIS and OPTIONS, and the parser agree" {
	local man=$REPO_ROOT/man/man1/cfg-resolve.1 opt
	# the option lines of --help and the .TP headings of OPTIONS
	help_opts=$(cfg-resolve --help | grep -E '^  +-' | grep -oE -- '(^| )--?[a-zA-Z][a-z-]*' | tr -d ' ' | sort -u)
	man_opts=$(sed -n '/^\.SH OPTIONS/,/^\.SH POLICY/p' "$man" | awk 'p {print; p = 0} /^\.TP/ {p = 1}' |
		sed 's/\\-/-/g' | grep -oE -- '(^|[ "])--?[a-zA-Z][a-z-]*' | tr -d ' "' | sort -u)
	assert_equal "$help_opts" "$man_opts"
	# the usage lines and SYNOPSIS
	help_syn=$(cfg-resolve --help | sed -n '1,/^$/p' | grep -oE -- '(^|[ [])--?[a-zA-Z][a-z-]*' | tr -d ' [' | sort -u)
	man_syn=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$man" | sed 's/\\-/-/g' |
		grep -oE -- '(^|[ "])--?[a-zA-Z][a-z-]*' | tr -d ' "' | sort -u)
	assert_equal "$help_syn" "$man_syn"
	# every option documented is one the parser takes
	printf 'a: 1\n' > t.yaml
	for opt in $help_opts; do
		run --separate-stderr cfg-resolve "$opt" t.yaml t.yaml
		[[ $stderr != *"unrecognized option"* && $stderr != *"invalid option"* ]] ||
			{ echo "$opt: $stderr"; return 1; }
	done
	[ "$(echo "$help_opts" | wc -l)" -ge 20 ]
}

@test "usage errors exit 64" {
	run --separate-stderr cfg-resolve
	assert_equal "$status" 64
	run --separate-stderr cfg-resolve --bogus x.yaml
	assert_equal "$status" 64
	# nagios mode: the misuse is an UNKNOWN status line, exit 3 (see tests/nagios.bats)
	run --separate-stderr cfg-resolve --format nagios x.yaml
	assert_equal "$status" 3
	[[ $output == "cfg-resolve UNKNOWN - --format nagios goes with --check" ]]
	[[ $stderr == "cfg-resolve: "* ]]
	for mode in --check "--get a" --explain; do
		run --separate-stderr cfg-resolve $mode --format env x.yaml
		assert_equal "$status" 64
	done
	run --separate-stderr cfg-resolve --check --get a x.yaml
	assert_equal "$status" 64
	[ -z "$output" ]
}

@test "a YAML file resolves to a JSON document with typed scalars" {
	cat > t.yaml <<-'Y'
	name: api
	port: 8000
	ratio: 0.5
	on: true
	quoted: "8000"
	nothing: ~
	list: [a, b]
	Y
	run --separate-stderr cfg-resolve t.yaml
	assert_success
	assert_equal "$(json_get .port)" 8000
	assert_equal "$(json_get '.port|type')" number
	assert_equal "$(json_get '.quoted|type')" string
	assert_equal "$(json_get .on)" true
	assert_equal "$(json_get .nothing)" null
	assert_equal "$(json_get '.list|length')" 2
}

@test "a FILE of - is standard input, named stdin in messages" {
	printf 'db:\n  host: a\n' > base.yaml
	run --separate-stderr bash -c "printf 'db:\n  port: 5\n' | cfg-resolve base.yaml -"
	assert_success
	assert_equal "$(json_get .db.host)/$(json_get .db.port)" a/5
	run --separate-stderr bash -c "printf 'a: [\n' | cfg-resolve -"
	assert_equal "$status" 65
	[[ $stderr == "cfg-resolve: stdin:2:1: "* ]]
}

@test "later files deep-merge: maps merge, sequences replace" {
	printf 'db:\n  host: a\n  port: 1\nlist: [1, 2, 3]\n' > base.yaml
	printf 'db:\n  port: 2\nlist: [9]\n' > over.yaml
	run --separate-stderr cfg-resolve base.yaml over.yaml
	assert_success
	assert_equal "$(json_get .db.host)" a
	assert_equal "$(json_get .db.port)" 2
	assert_equal "$(json_get "[.list[]] | map(tostring) | join(\",\")")" "9"
}

@test "template operators follow Docker Compose" {
	export SET=value EMPTY=
	while IFS='|' read -r template expected; do
		resolve "\"$template\""
		assert_success
		[ "$(json_get .v)" = "$expected" ] || { echo "$template gave '$(json_get .v)', expected '$expected'"; return 1; }
	done <<-'T'
	${SET}|value
	$SET|value
	pre-${SET}-post|pre-value-post
	${SET:-d}|value
	${EMPTY:-d}|d
	${UNSET_X:-d}|d
	${EMPTY-d}|
	${UNSET_X-d}|d
	${SET:+r}|r
	${EMPTY:+r}|
	${EMPTY+r}|r
	${UNSET_X+r}|
	${UNSET_X:-${SET}}|value
	${UNSET_X:-${UNSET_Y:-deep}}|deep
	$$SET|$SET
	cost $5|cost $5
	T
}

@test "a value from the environment is never expanded again" {
	export OUTER='${INNER}' INNER=wrong
	resolve '${OUTER}'
	assert_success
	assert_equal "$(json_get .v)" '${INNER}'
}

@test "an unset variable warns and becomes empty; --strict makes it an error" {
	resolve '${NOT_SET_ANYWHERE}'
	assert_success
	assert_equal "$(json_get .v)" ""
	[[ $stderr == *NOT_SET_ANYWHERE* ]]
	run --separate-stderr cfg-resolve --strict t.yaml
	assert_equal "$status" 65
	[[ $stderr == *NOT_SET_ANYWHERE* ]]
}

@test "a missing required variable names the variable and its message" {
	resolve '${NEEDED:?set NEEDED to the API token}'
	assert_equal "$status" 65
	[[ $stderr == *NEEDED* ]]
	[[ $stderr == *"set NEEDED to the API token"* ]]
	export EMPTY=
	resolve '${EMPTY:?must not be empty}'
	assert_equal "$status" 65
	resolve '${EMPTY?only unset fails}'
	assert_success
	# a message written over several lines is still one line on stderr
	printf 'v: |\n  ${NEEDED?first line\n  second line}\n' > t.yaml
	run --separate-stderr cfg-resolve t.yaml
	assert_equal "$status" 65
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == *'first line\nsecond line'* ]]
	# and a control character in a key cannot drive the terminal
	printf 'version: 1\nroot: {type: map, keys: {a: {type: int}}}\n' > s.yaml
	printf 'a: 1\n"\\e[2Jevil": 2\n' > t.yaml
	run --separate-stderr cfg-resolve -s s.yaml t.yaml
	assert_success
	[[ $stderr != *$'\e'* ]]
	[[ $stderr == *'\x1b[2Jevil: unknown key'* ]]
}

@test "invalid templates are errors naming file:line:column" {
	for bad in '${' '${}' '${ foo}' '${foo!}' 'abc ${unterminated'; do
		printf 'a: 1\nv: "%s"\n' "$bad" > t.yaml
		run --separate-stderr cfg-resolve t.yaml
		[ "$status" -eq 65 ] || { echo "'$bad' exited $status"; return 1; }
		[[ $stderr == *"t.yaml:2:"* ]] || { echo "'$bad': $stderr"; return 1; }
	done
}

@test "templates in keys are left alone" {
	printf '"${KEY}": 1\n' > t.yaml
	KEY=x run --separate-stderr cfg-resolve t.yaml
	assert_success
	assert_equal "$(json_get '.["${KEY}"]')" 1
}

@test "env files: syntax forms, and the real environment wins" {
	cat > a.env <<-'E'
	# comment

	export A=plain   # trailing comment
	B='single $A \n kept'
	C="double\tescape ${A}"
	D=
	E=from-file
	E
	printf 'a: ${A}\nb: ${B}\nc: ${C}\nd: "${D-unset}"\ne: ${E}\n' > t.yaml
	E=from-env run --separate-stderr cfg-resolve -e a.env t.yaml
	assert_success
	assert_equal "$(json_get .a)" plain
	assert_equal "$(json_get .b)" 'single $A \n kept'
	assert_equal "$(json_get .c)" "$(printf 'double\tescape plain')"
	assert_equal "$(json_get .d)" ""
	assert_equal "$(json_get .e)" from-env
}

@test "a later env file overrides an earlier one" {
	echo 'X=first' > 1.env
	echo 'X=second' > 2.env
	printf 'x: ${X}\n' > t.yaml
	run --separate-stderr cfg-resolve -e 1.env -e 2.env t.yaml
	assert_success
	assert_equal "$(json_get .x)" second
}

@test "malformed env-file lines are errors naming file:line" {
	printf 'GOOD=1\n=novalue\nBAD KEY=1\nQ="unterminated\n' > bad.env
	printf 'x: 1\n' > t.yaml
	run --separate-stderr cfg-resolve -e bad.env t.yaml
	assert_equal "$status" 65
	[[ $stderr == *"bad.env:2"* ]]
	[[ $stderr == *"bad.env:3"* ]]
}

@test "anchors, aliases and merge keys" {
	cat > t.yaml <<-'Y'
	defaults: &defaults
	  timeout: 10
	  retries: 3
	svc:
	  <<: *defaults
	  retries: 5
	copy: *defaults
	Y
	run --separate-stderr cfg-resolve t.yaml
	assert_success
	assert_equal "$(json_get .svc.timeout)" 10
	assert_equal "$(json_get .svc.retries)" 5
	assert_equal "$(json_get .copy.retries)" 3
}

@test "duplicate keys and multiple documents are errors with locations" {
	printf 'a: 1\nb: 2\na: 3\n' > dup.yaml
	run --separate-stderr cfg-resolve dup.yaml
	assert_equal "$status" 65
	[[ $stderr == *"dup.yaml:3:"* ]]
	printf 'a: 1\n---\nb: 2\n' > multi.yaml
	run --separate-stderr cfg-resolve multi.yaml
	assert_equal "$status" 65
	[[ $stderr == *"multi.yaml:2:"* ]]
}

# assert_one_error WHERE: the last run failed with 65, printed nothing on
# stdout and exactly one line on stderr: "cfg-resolve: WHERE..." (WHERE is a
# file, file:line or file:line:col).
assert_one_error() {
	[ "$status" -eq 65 ] || { echo "$1: exited $status; stderr: $stderr"; return 1; }
	[ -z "$output" ] || { echo "$1: partial stdout: $output"; return 1; }
	[ "${#stderr_lines[@]}" -eq 1 ] || { echo "$1: ${#stderr_lines[@]} lines: $stderr"; return 1; }
	[[ $stderr == "cfg-resolve: $1"* ]] || { echo "expected 'cfg-resolve: $1...', got: $stderr"; return 1; }
}

@test "bad input: one clear line naming the place, exit 65, nothing on stdout" {
	mkdir adir
	: > empty.yaml
	printf '# only a comment\n' > comments.yaml
	head -c 4096 "$(command -v cfg-resolve)" > binary.yaml
	printf 'a: "\xff\xfe"\n' > utf8.yaml
	head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' > big.yaml
	printf 'a: [1, 2\nb: 3\n' > syntax.yaml
	printf 'a: 1\nb: {c: 1\n' > unclosed.yaml
	printf 'a:\n\tb: 1\n' > tab.yaml
	printf 'a: 1\nv: "x ${UNTERMINATED"\n' > tmpl.yaml
	printf 'a: 1\nv: ${}\n' > empty-tmpl.yaml
	printf 'A=1\nB="never closed\n' > unterminated.env
	printf 'A=1\n1BAD=2\n' > badname.env
	printf 'a: 1\n' > t.yaml
	run --separate-stderr cfg-resolve missing.yaml;   assert_one_error "missing.yaml: "
	run --separate-stderr cfg-resolve adir;           assert_one_error "adir: "
	run --separate-stderr cfg-resolve empty.yaml;     assert_one_error "empty.yaml: "
	run --separate-stderr cfg-resolve comments.yaml;  assert_one_error "comments.yaml: "
	run --separate-stderr cfg-resolve binary.yaml;    assert_one_error "binary.yaml:1:"
	run --separate-stderr cfg-resolve utf8.yaml;      assert_one_error "utf8.yaml:1:5: "
	run --separate-stderr cfg-resolve big.yaml;       assert_one_error "big.yaml: "
	run --separate-stderr cfg-resolve syntax.yaml;    assert_one_error "syntax.yaml:2:"
	run --separate-stderr cfg-resolve unclosed.yaml;  assert_one_error "unclosed.yaml:3:"
	run --separate-stderr cfg-resolve tab.yaml;       assert_one_error "tab.yaml:2:1: "
	run --separate-stderr cfg-resolve tmpl.yaml;      assert_one_error "tmpl.yaml:2:7: "
	run --separate-stderr cfg-resolve empty-tmpl.yaml; assert_one_error "empty-tmpl.yaml:2:4: "
	run --separate-stderr cfg-resolve -e unterminated.env t.yaml; assert_one_error "unterminated.env:2:3: "
	run --separate-stderr cfg-resolve -e badname.env t.yaml;      assert_one_error "badname.env:2:1: "
	run --separate-stderr cfg-resolve -e missing.env t.yaml;      assert_one_error "missing.env: "
	run --separate-stderr cfg-resolve -s missing-schema.yaml t.yaml; assert_one_error "missing-schema.yaml: "
	# the same in every output mode: no mode prints a partial document
	for mode in "--format text" "--format env" "--get a" "--explain" "--check"; do
		run --separate-stderr cfg-resolve $mode syntax.yaml
		assert_one_error "syntax.yaml:2:"
	done
}

@test "deep nesting and an alias bomb are one-line errors too" {
	# (one printf each: a loop of 10,000 commands is slow under bats)
	{ printf 'a: '; printf '{b: %.0s' $(seq 10000); printf '1'; printf '}%.0s' $(seq 10000); echo; } > deepmap.yaml
	run --separate-stderr cfg-resolve deepmap.yaml
	assert_one_error "deepmap.yaml:1:"
	{ printf 'a: '; printf '[%.0s' $(seq 10000); printf ']%.0s' $(seq 10000); echo; } > deep.yaml
	run --separate-stderr cfg-resolve deep.yaml
	assert_one_error "deep.yaml:1:"
	{
		echo 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'
		prev=a
		for n in b c d e f g h i j; do
			echo "$n: &$n [*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev]"
			prev=$n
		done
	} > bomb.yaml
	run --separate-stderr cfg-resolve bomb.yaml
	assert_one_error "bomb.yaml:"
}

@test "output to a full disk exits 3 in every output mode" {
	for mode in "" "--format json" "--format text" "--format env" "--get database.schema" \
		"--get security" "--explain" "--explain --format text" "--check" "--check --format text" \
		"--check --format nagios"; do
		run --separate-stderr bash -c "cfg-resolve -e '$PROD_ENV' -s '$CFG/schema.yaml' $mode '$CFG/production.yaml' >/dev/full"
		[ "$status" -eq 3 ] || { echo "[$mode] exited $status: $stderr"; return 1; }
		[[ $stderr == *"unable to write output"* ]] || { echo "[$mode]: $stderr"; return 1; }
		assert_secret_absent jwt-test-secret "$stderr"
	done
}

@test "-o onto an unwritable place fails cleanly and leaves nothing behind" {
	printf 'a: 1\n' > t.yaml
	mkdir adir
	# a read-only directory; root ignores the mode bits, so be someone else
	# there, in a directory everyone can reach
	local as=()
	[ "$(id -u)" -ne 0 ] || as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	RO_DIR=$(mktemp -d /tmp/cfg-resolve-test.XXXXXX)
	cp t.yaml "$RO_DIR/t.yaml"
	mkdir "$RO_DIR/ro"
	echo keep > "$RO_DIR/ro/out.json"
	chmod 755 "$RO_DIR"
	chmod 555 "$RO_DIR/ro"
	run --separate-stderr "${as[@]}" "$(command -v cfg-resolve)" -o "$RO_DIR/ro/out.json" "$RO_DIR/t.yaml"
	assert_equal "$status" 3
	assert_equal "$stderr" "cfg-resolve: unable to write $RO_DIR/ro/out.json: Permission denied"
	assert_equal "$(cat "$RO_DIR/ro/out.json")" keep
	assert_equal "$(ls -A "$RO_DIR/ro")" out.json
	for target in missing-dir/out.json t.yaml/out.json /proc/self/out.json; do
		run --separate-stderr cfg-resolve -o "$target" t.yaml
		assert_equal "$status" 3
		assert_equal "${#stderr_lines[@]}" 1
		[[ $stderr == "cfg-resolve: unable to write $target: "* ]]
		[ -z "$output" ]
	done
	[ -z "$(ls -A adir)" ]
	[ -z "$(ls -A | grep '\.tmp\.')" ]
	# a device or FIFO would be replaced by the rename: refused before any work
	mkfifo fifo
	# a character device of the test's own (a null device), never the
	# machine's /dev/null: a regression here must not break the host
	devices=()
	if mknod nulldev c 1 3 2>/dev/null; then devices=(nulldev); fi
	for target in "${devices[@]}" fifo adir; do
		run --separate-stderr cfg-resolve -o "$target" t.yaml
		[ "$status" -eq 64 ] || { echo "$target: exited $status: $stderr"; ls -la "$target"; return 1; }
		[[ $stderr == *"$target: not a regular file"* ]]
	done
	[ -p fifo ] && [ -d adir ]
	[ "${#devices[@]}" -eq 0 ] || [ -c nulldev ]
	# the --check report goes to -o too, as JSON
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check -o report.json "$CFG/production.yaml"
	assert_success
	[ -z "$output" ]
	assert_equal "$(jq -r .kind report.json)" report
	assert_equal "$(stat -c %a report.json)" 600
}

@test "schema: coercion of substituted strings, defaults, all errors in one run" {
	cat > s.yaml <<-'S'
	version: 1
	root:
	  type: map
	  keys:
	    port: {type: int, min: 1, max: 65535}
	    debug: {type: bool, default: false}
	    mode: {type: enum, values: [a, b]}
	    url: {type: url, schemes: [https]}
	    timeout: {type: duration, default: 30s}
	S
	printf 'port: ${PORT}\nmode: a\nurl: https://x.example\n' > t.yaml
	PORT=8000 run --separate-stderr cfg-resolve -s s.yaml t.yaml
	assert_success
	assert_equal "$(json_get .port)" 8000
	assert_equal "$(json_get '.port|type')" number
	assert_equal "$(json_get .debug)" false
	assert_equal "$(json_get .timeout)" 30
	printf 'port: 70000\nmode: c\nurl: ftp://x\nextra: 1\n' > bad.yaml
	run --separate-stderr cfg-resolve -s s.yaml bad.yaml
	assert_equal "$status" 65
	[[ $stderr == *port* ]]
	[[ $stderr == *mode* ]]
	[[ $stderr == *url* ]]
	[[ $stderr == *extra* ]]
	[[ $stderr == *"bad.yaml:1:"* ]]
}

@test "schema: unknown keys warn, and are errors with --strict" {
	printf 'version: 1\nroot:\n  type: map\n  keys:\n    a: {type: int}\n' > s.yaml
	printf 'a: 1\nzzz: 2\n' > t.yaml
	run --separate-stderr cfg-resolve -s s.yaml t.yaml
	assert_success
	[[ $stderr == *zzz* ]]
	run --separate-stderr cfg-resolve --strict -s s.yaml t.yaml
	assert_equal "$status" 65
}

@test "production config resolves against the schema with its variables" {
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" "$CFG/production.yaml"
	assert_success
	assert_equal "$(json_get .database.schema)" upload_pipeline
	assert_equal "$(json_get .database.pool_size)" 20
	assert_equal "$(json_get .database.max_overflow)" 30
	assert_equal "$(json_get .api.port)" 8000
	assert_equal "$(json_get .security.rate_limit.requests_per_minute)" 100
	assert_equal "$(json_get .security.rate_limit.burst)" 200
	assert_equal "$(json_get .scaling.min_instances)" 2
	assert_equal "$(json_get .scaling.max_instances)" 10
	# into a pipe the next tool gets the secret in clear
	assert_equal "$(json_get .security.jwt_secret)" 'jwt-test-secret-0123456789abcdef-XYZ'
}

@test "production config without JWT_SECRET names the variable and its message" {
	grep -v JWT_SECRET "$PROD_ENV" > no-jwt.env
	run --separate-stderr cfg-resolve -e no-jwt.env -s "$CFG/schema.yaml" "$CFG/production.yaml"
	assert_equal "$status" 65
	[[ $stderr == *JWT_SECRET* ]]
	[[ $stderr == *"JWT secret is required"* ]]
}

@test "local demo config resolves with no variables at all" {
	run --separate-stderr cfg-resolve --strict -s "$CFG/schema.yaml" "$CFG/local.yaml"
	assert_success
	assert_equal "$(json_get .environment)" development
}

@test "--check: production policy passes on the production config" {
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check "$CFG/production.yaml"
	assert_success
	assert_equal "$(json_get .kind)" report
	assert_equal "$(json_get .status)" ok
	assert_equal "$(json_get '[.checks[] | select(.status != "ok")] | length')" 0
	# every policy check the code runs is documented in the man page, and the
	# reverse (with -e the report has env.unused too: cfg-resolve-render.bats)
	assert_equal "$(json_get '.checks[].name' | grep -vx env.unused | sort)" \
		"$(sed -n '/^\.SH POLICY CHECKS/,/^\.SH EXIT/p' "$REPO_ROOT/man/man1/cfg-resolve.1" | grep -oE '^\.B policy\.[a-z_]+' | cut -c4- | sort)"
}

@test "--check: each production violation is caught" {
	cat > bad.yaml <<-'Y'
	debug: true
	api: {reload: true, base_url: "http://api.example"}
	security:
	  jwt_secret: ${SHORT_JWT}
	  jwt_expiry: 30d
	  cors_origins: ["*", "http://app.example"]
	  trusted_hosts: []
	scaling: {min_instances: 5, max_instances: 2, scale_up_threshold: 30, scale_down_threshold: 70}
	database: {url: "postgresql://u:p@h/d?sslmode=disable", pool_size: 0}
	Y
	SHORT_JWT=tooshort run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check "$CFG/production.yaml" bad.yaml
	assert_equal "$status" 2
	for c in policy.flags policy.jwt policy.cors policy.trusted_hosts policy.scaling policy.database policy.urls; do
		[ "$(json_get ".checks[] | select(.name == \"$c\") | .status")" = critical ] ||
			{ echo "$c: $(json_get ".checks[] | select(.name == \"$c\")")"; return 1; }
	done
	# the short secret itself is never printed
	assert_secret_absent tooshort "$output" "$stderr"
}

@test "--check: every policy rule catches its failing case" {
	local failures=0 check want message yaml got
	while IFS='|' read -r check want message yaml; do
		[ -n "$check" ] || continue
		printf '%b\n' "$yaml" > over.yaml
		run --separate-stderr cfg-resolve -e "$PROD_ENV" --check "$CFG/production.yaml" over.yaml
		got=$(json_get ".checks[] | select(.name == \"$check\") | .status + \" \" + .message")
		if [[ $got != "$want "*"$message"* ]]; then
			echo "$yaml: $check: expected $want with \"$message\", got: $got ($stderr)"
			failures=$((failures + 1))
		fi
		assert_secret_absent jwt-test-secret "$output" "$stderr"
		assert_secret_absent db-pass-0123456789 "$output" "$stderr"
		assert_secret_absent pw-literal "$output" "$stderr"
	done <<-'T'
	policy.environment|warning|environment is not set: production rules applied|environment: ~
	policy.environment|warning|unknown environment "prod"|environment: prod
	policy.flags|critical|debug is on in production|environment: Production\ndebug: true
	policy.flags|critical|testing is on in production|testing: "true"
	policy.flags|critical|api.reload is on in production|api: {reload: "yes"}
	policy.flags|ok|debug is on (allowed outside production)|environment: staging\ndebug: true
	policy.jwt|critical|at least 32 required|security: {jwt_secret: "${SHORT:-tooshort}"}
	policy.jwt|critical|looks like a placeholder|security: {jwt_secret: "${J:-changeme-changeme-changeme-changeme-0000}"}
	policy.jwt|critical|over 7 days|security: {jwt_expiry: 30d}
	policy.jwt|warning|over 24 hours|security: {jwt_expiry: 2d}
	policy.jwt|warning|under a minute|security: {jwt_expiry: 10s}
	policy.jwt|critical|not a positive duration|security: {jwt_expiry: soon}
	policy.cors|critical|"*" allows any site|security: {cors_origins: ["*"]}
	policy.cors|critical|allows any site|security: {cors_origins: ["https://*.example.com"]}
	policy.cors|critical|"http://app.accessa.ai" is not https|security: {cors_origins: ["http://app.accessa.ai"]}
	policy.cors|critical|"null" allows sandboxed pages|security: {cors_origins: ["null"]}
	policy.cors|warning|has a path|security: {cors_origins: ["https://app.accessa.ai/"]}
	policy.cors|critical|is this machine, in production|security: {cors_origins: ["https://localhost:3000"]}
	policy.cors|warning|is empty|security: {cors_origins: []}
	policy.trusted_hosts|critical|is not set|security: {trusted_hosts: []}
	policy.trusted_hosts|critical|trusts any Host header|security: {trusted_hosts: ["*", api.accessa.ai]}
	policy.trusted_hosts|critical|is not a host name|security: {trusted_hosts: ["https://api.accessa.ai", "*.accessa.ai"]}
	policy.trusted_hosts|critical|host api.accessa.ai is not in security.trusted_hosts|security: {trusted_hosts: [render.com]}
	policy.database|critical|database.url has sslmode=disable|database: {url: "postgresql://app@db.example.com/app?sslmode=disable"}
	policy.database|critical|database.url has sslmode=allow|database: {url: "postgresql://app@db.example.com/app?sslmode=allow"}
	policy.database|warning|sslmode=prefer|database: {url: "postgresql://app@db.example.com/app?sslmode=prefer", require_ssl: ~}
	policy.database|critical|database.require_ssl is off in production|database: {require_ssl: false}
	policy.database|critical|points at this machine (127.0.0.1)|database: {url: "postgresql://app@127.0.0.1/app?sslmode=require"}
	policy.database|critical|points at this machine (localhost)|database: {url: "${D:-postgresql://app:p@ss@localhost/app?sslmode=require}"}
	policy.database|warning|bypasses row-level security|database: {url: "postgresql://postgres@db.example.com/app?sslmode=require"}
	policy.database|critical|pool_size must be positive|database: {pool_size: 0}
	policy.database|critical|max_overflow must not be negative|database: {max_overflow: -1}
	policy.database|critical|pool_timeout must be a positive duration|database: {pool_timeout: 0s}
	policy.database|critical|pool_recycle must be a positive duration|database: {pool_recycle: 0}
	policy.database|critical|database.url is empty|database: {url: ""}
	policy.urls|critical|api.base_url is not https|api: {base_url: "http://api.accessa.ai"}
	policy.urls|critical|services.openai.url points at this machine|services: {openai: {url: "https://localhost:8443/v1"}}
	policy.urls|critical|services.llamaparse.url is not https|services: {llamaparse: {url: "http://api.cloud.llamaindex.ai"}}
	policy.urls|critical|services.openai.url is empty|services: {openai: {url: ""}}
	policy.urls|critical|api.health_path "health" does not start with /|api: {health_path: health}
	policy.urls|critical|services.supabase.health_path "rest/v1/" does not start with /|services: {supabase: {health_path: rest/v1/}}
	policy.urls|critical|endpoints[0].url is not https|monitoring: {health_check: {endpoints: [{name: api, url: "http://api.accessa.ai/health"}]}}
	policy.urls|critical|alerts.slack.webhook_url is not https|alerts: {slack: {webhook_url: "${HOOK:-http://hooks.example.com/x}"}}
	policy.urls|critical|deploy.render.api_url is not https|deploy: {render: {api_url: "http://api.render.com"}}
	policy.urls|warning|STARTTLS is not required|alerts: {email: {smtp: {url: "smtp://smtp.accessa.ai:25", tls: try}}}
	policy.urls|critical|STARTTLS is off: the SMTP password goes in clear|alerts: {email: {smtp: {url: "smtp://smtp.accessa.ai:25", tls: none}}}
	policy.urls|critical|alerts.email.smtp.tls_verify is off|alerts: {email: {smtp: {tls_verify: false}}}
	policy.urls|critical|probes[0].tls_verify is off|probes: [{name: x, url: "https://x.accessa.ai", tls_verify: "false"}]
	policy.api|critical|api.port 70000 is not a TCP port|api: {port: 70000}
	policy.api|critical|api.workers must be at least 1|api: {workers: "0"}
	policy.api|warning|listens on loopback only|api: {host: 127.0.0.1}
	policy.api|critical|the rate limit must be positive|security: {rate_limit: {requests_per_minute: 0}}
	policy.api|warning|no rate limit configured|security: {rate_limit: ~}
	policy.scaling|critical|min_instances 5 > max_instances 2|scaling: {min_instances: 5, max_instances: 2}
	policy.scaling|critical|scale-down threshold 70% is not below scale-up 30%|scaling: {scale_up_threshold: 30, scale_down_threshold: 70}
	policy.scaling|critical|within 0-100%|scaling: {scale_up_threshold: 150}
	policy.scaling|critical|min_instances must be at least 1|scaling: {min_instances: 0}
	policy.scaling|warning|no redundancy|scaling: {min_instances: 1}
	policy.compliance|critical|security.encryption.enabled is off|security: {encryption: {enabled: false}}
	policy.compliance|critical|security.rls_enabled is off|security: {rls_enabled: "false"}
	policy.compliance|critical|security.audit_logging is off|security: {audit_logging: no}
	policy.compliance|warning|is not AES-256-GCM|security: {encryption: {algorithm: AES-128-GCM}}
	policy.monitoring|critical|must be positive durations|monitoring: {health_check: {interval: 0s}}
	policy.monitoring|warning|timeout is not below its interval|monitoring: {health_check: {timeout: 60s}}
	policy.monitoring|critical|failure_threshold must be at least 1|monitoring: {health_check: {failure_threshold: 0}}
	policy.monitoring|critical|success_threshold must be at least 1|monitoring: {health_check: {success_threshold: 0}}
	policy.monitoring|warning|nothing is watched|monitoring: {health_check: {endpoints: []}}
	policy.monitoring|critical|monitoring.health_check is not configured|monitoring: {health_check: ~}
	policy.monitoring|warning|retention is shorter than the metrics interval|monitoring: {metrics: {interval: 1h, retention: 30m}}
	policy.alerts|critical|no alert channel|alerts: {slack: {webhook_url: ""}, email: {recipients: []}}
	policy.alerts|critical|"oncall" is not an address|alerts: {email: {recipients: [oncall]}}
	policy.alerts|critical|level 2 uses email, which is not configured|alerts: {email: {recipients: []}}
	policy.alerts|critical|unknown channel "pager"|alerts: {escalation: {levels: [{level: 1, after: 0s, channels: [pager]}]}}
	policy.alerts|warning|level 2 comes sooner than the level before it|alerts: {escalation: {levels: [{level: 1, after: 30m, channels: [slack]}, {level: 2, after: 15m, channels: [slack]}]}}
	policy.alerts|critical|level 1 has no channels|alerts: {escalation: {levels: [{level: 1, after: 0s, channels: []}]}}
	policy.alerts|critical|alerts.repeat_interval must be a positive duration|alerts: {repeat_interval: 0s}
	policy.cache|warning|cache.redis_url is not TLS|cache: {redis_url: "${R:-redis://cache.internal:6379/0}"}
	policy.cache|critical|cache.ttl must be a positive duration|cache: {ttl: 0}
	policy.deploy|critical|deploy.driver is not set|deploy: {driver: ""}
	policy.deploy|critical|deploy.timeout must be a positive duration|deploy: {timeout: 0s}
	policy.secrets|critical|secret security.jwt_secret is written in|security: {jwt_secret: literal-jwt-0123456789abcdef0123456789}
	policy.secrets|critical|alerts.email.smtp.url holds a credential, written in|alerts: {email: {smtp: {url: "smtps://alerts:pw-literal@smtp.accessa.ai:465"}}}
	policy.secrets|critical|secret services.openai.api_key is empty|services: {openai: {api_key: ""}}
	T
	[ "$failures" -eq 0 ]
}

@test "--check --format nagios prints one status line with the exit status" {
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check --format nagios "$CFG/production.yaml"
	assert_success
	assert_output --regexp '^cfg-resolve OK - '
	assert_equal "${#lines[@]}" 1
}

@test "--check flags a secret written literally in a file" {
	printf 'security:\n  jwt_secret: literal-secret-0123456789abcdef0123456789\n' > lit.yaml
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --check "$CFG/production.yaml" lit.yaml
	assert_equal "$status" 2
	[[ "$(json_get '.checks[] | select(.name == "policy.secrets") | .message')" == *"security.jwt_secret"*lit.yaml* ]]
	assert_secret_absent literal-secret-0123456789abcdef0123456789 "$output" "$stderr"
}

@test "--format text redacts secrets unless --reveal" {
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --format text "$CFG/production.yaml"
	assert_success
	assert_line 'database.schema = upload_pipeline'
	assert_line 'security.jwt_secret = ***'
	assert_secret_absent db-pass-0123456789 "$output"
	assert_secret_absent slack-test-secret "$output"
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --format text --reveal "$CFG/production.yaml"
	assert_line 'security.jwt_secret = jwt-test-secret-0123456789abcdef-XYZ'
}

@test "URL passwords are masked on a terminal and in text, even unencoded" {
	printf 'smtp: "smtps://alerts:p@ss/w0rd-secret@smtp.example:465"\ncache: "redis://:tok#en-secret@cache:6379/0"\n' > t.yaml
	run --separate-stderr cfg-resolve --format text t.yaml
	assert_success
	assert_line 'smtp = smtps://alerts:***@smtp.example:465'
	assert_line 'cache = redis://:***@cache:6379/0'
	assert_secret_absent secret "$output" "$stderr"
	run --separate-stderr script -qec "cfg-resolve --explain t.yaml" /dev/null
	assert_success
	assert_secret_absent secret "$output"
	# into a pipe the next tool gets it in clear
	run --separate-stderr cfg-resolve t.yaml
	assert_equal "$(json_get .smtp)" 'smtps://alerts:p@ss/w0rd-secret@smtp.example:465'
}

@test "on a terminal every output mode redacts secrets, unless --reveal" {
	local args="-e $PROD_ENV -s $CFG/schema.yaml" secret
	for mode in "" "--format json" "--format text" "--format env" "--explain" "--explain --format json" \
		"--get security.jwt_secret" "--get services" "--check" "--check --format json"; do
		run script -qec "cfg-resolve $args $mode $CFG/production.yaml" /dev/null
		[ "$status" -eq 0 ] || { echo "[$mode] exited $status: $output"; return 1; }
		for secret in jwt-test-secret db-pass-0123456789 anon-test-key service-role-test-key llx-test-key \
			sk-test-key slack-test-secret smtp-test-password rnd-test-key cache.internal; do
			assert_secret_absent "$secret" "$output" || { echo "[$mode]"; return 1; }
		done
	done
	run script -qec "cfg-resolve $args --get security.jwt_secret $CFG/production.yaml" /dev/null
	assert_output --partial '***'
	run script -qec "cfg-resolve $args --reveal --get security.jwt_secret $CFG/production.yaml" /dev/null
	assert_output --partial 'jwt-test-secret-0123456789abcdef-XYZ'
	# into a pipe, the next tool gets them in clear
	run --separate-stderr cfg-resolve $args --format env "$CFG/production.yaml"
	assert_line "SECURITY_JWT_SECRET='jwt-test-secret-0123456789abcdef-XYZ'"
}

@test "-v names the files, env files and schema read; -q silences warnings" {
	printf 'a: ${UNSET_FOR_Q}\n' > t.yaml
	printf 'X=1\nY=2\n' > v.env
	run --separate-stderr cfg-resolve -v -e v.env -s "$CFG/schema.yaml" "$CFG/local.yaml"
	assert_success
	[[ $stderr == *"read env file v.env: 2 new variables"* ]]
	[[ $stderr == *"read $CFG/local.yaml"* ]]
	[[ $stderr == *"applied schema $CFG/schema.yaml"* ]]
	run --separate-stderr cfg-resolve t.yaml
	[[ $stderr == *UNSET_FOR_Q* ]]
	run --separate-stderr cfg-resolve -q t.yaml
	assert_success
	[ -z "$stderr" ]
}

@test "--format env prints shell-safe lines that a shell reads back" {
	printf "name: \"it's \$(not run) \\\\\"q\\\\\"\"\nnested:\n  key-a: [x, y]\n" > t.yaml
	run --separate-stderr cfg-resolve --format env t.yaml
	assert_success
	eval "$output"
	assert_equal "$NAME" "it's \$(not run) \"q\""
	assert_equal "$NESTED_KEY_A_0" x
	assert_equal "$NESTED_KEY_A_1" y
	# a name never starts with a digit; a multi-line value survives
	printf '"2fa":\n  issuer: x\nmulti: |-\n  line 1\n  line 2\n' > t.yaml
	run --separate-stderr cfg-resolve --format env t.yaml
	assert_success
	assert_line "_2FA_ISSUER='x'"
	eval "$output"
	assert_equal "$MULTI" "$(printf 'line 1\nline 2')"
	# two keys that would share a name are an error, not a silent override
	printf 'api-key: 1\napi_key: 2\n' > t.yaml
	run --separate-stderr cfg-resolve --format env t.yaml
	assert_equal "$status" 65
	[ -z "$output" ]
	assert_equal "$stderr" "cfg-resolve: --format env: api-key and api_key both become API_KEY"
}

@test "--format text and --explain keep one key per line: control characters are escaped" {
	printf 'multi: |\n  line 1\n  line 2\nesc: "\\e[2Jx"\nplain: a b\n' > t.yaml
	run --separate-stderr cfg-resolve --format text t.yaml
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_line 'multi = "line 1\nline 2\n"'
	assert_line 'esc = "\u001b[2Jx"'
	assert_line 'plain = a b'
	run --separate-stderr cfg-resolve --explain --format text t.yaml
	assert_success
	assert_equal "${#lines[@]}" 3
	[[ $output != *$'\e'* ]]
}

@test "--get prints one value; a missing path is an error" {
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --get database.schema "$CFG/production.yaml"
	assert_success
	assert_output upload_pipeline
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --get security.cors_origins "$CFG/production.yaml"
	assert_equal "$(json_get '.[0]')" https://accessa.ai
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --get database.nope "$CFG/production.yaml"
	assert_equal "$status" 65
	[[ $stderr == *database.nope* ]]
}

@test "--explain names file:line, environment, env-file:line and schema defaults" {
	printf 'FROM_FILE=1\n' > e.env
	printf 'a: 1\nb: ${FROM_ENV}\nc: ${FROM_FILE}\n' > t.yaml
	printf 'version: 1\nroot:\n  type: map\n  keys:\n    a: {type: int}\n    b: {type: string}\n    c: {type: string}\n    d: {type: int, default: 7}\n' > s.yaml
	FROM_ENV=x run --separate-stderr cfg-resolve --explain --format text -e e.env -s s.yaml t.yaml
	assert_success
	assert_line --regexp '^a = 1 .*t\.yaml:1'
	assert_line --regexp '^b = x .*environment variable FROM_ENV'
	assert_line --regexp '^c = 1 .*e\.env:1'
	assert_line --regexp '^d = 7 .*schema default'
	# the explanation never carries a secret, in any format, unless --reveal
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --explain "$CFG/production.yaml"
	assert_success
	assert_equal "$(json_get '."security.jwt_secret".value')" '***'
	[[ $(json_get '."security.jwt_secret".source') =~ ^$CFG/production\.yaml:[0-9]+,\ JWT_SECRET\ from\ $PROD_ENV:3$ ]]
	assert_secret_absent jwt-test-secret "$output"
	assert_secret_absent db-pass-0123456789 "$output"
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" --explain --reveal "$CFG/production.yaml"
	assert_equal "$(json_get '."security.jwt_secret".value')" 'jwt-test-secret-0123456789abcdef-XYZ'
}

@test "-o writes atomically with mode 0600, secrets in clear" {
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" -o out.json "$CFG/production.yaml"
	assert_success
	[ -z "$output" ]
	assert_equal "$(stat -c %a out.json)" 600
	assert_equal "$(jq -r .security.jwt_secret out.json)" 'jwt-test-secret-0123456789abcdef-XYZ'
	[ -z "$(ls -A | grep '\.tmp\.')" ]
}

@test "secrets never appear in error messages" {
	printf 'version: 1\nroot:\n  type: map\n  keys:\n    token: {type: int, secret: true}\n    url: {type: url}\n' > s.yaml
	printf 'token: ${TOKEN}\nurl: "postgresql://u:pw-in-url-123@h/d ${BROKEN"\n' > t.yaml
	TOKEN=not-a-number-secret-value run --separate-stderr cfg-resolve -s s.yaml t.yaml
	assert_equal "$status" 65
	assert_secret_absent not-a-number-secret-value "$output" "$stderr"
	assert_secret_absent pw-in-url-123 "$output" "$stderr"
}

@test "a template error in a secret never quotes it; elsewhere it quotes the template" {
	# database.url is secret by the schema, jwt_secret by the schema and its name
	printf 'database:\n  url: "postgresql://app:${secret-part-1"\nsecurity:\n  jwt_secret: "${2secret-part}"\n' > bad.yaml
	run --separate-stderr cfg-resolve -e "$PROD_ENV" -s "$CFG/schema.yaml" "$CFG/production.yaml" bad.yaml
	assert_equal "$status" 65
	assert_secret_absent secret-part "$output" "$stderr"
	[[ $stderr == *"bad.yaml:2:26: invalid template (no closing brace; the value is secret, not shown)"* ]]
	[[ $stderr == *"bad.yaml:4:16: invalid template ("* ]]
	# a .env value is never quoted either
	printf 'DB_PASSWORD="hunter2${secret-part"\n' > bad.env
	printf 'a: 1\n' > t.yaml
	run --separate-stderr cfg-resolve -e bad.env t.yaml
	assert_equal "$status" 65
	assert_secret_absent secret-part "$output" "$stderr"
	assert_secret_absent hunter2 "$output" "$stderr"
	[[ $stderr == "cfg-resolve: bad.env:1:21: invalid template ("* ]]
	# an ordinary value quotes the template
	printf 'api:\n  host: "${oops"\n' > bad.yaml
	run --separate-stderr cfg-resolve bad.yaml
	[[ $stderr == *'bad.yaml:2:10: invalid template: "${oops" (no closing brace)'* ]]
}

# run_canary ARGS...: runs cfg-resolve, expects exit 65 and no trace of the
# canary secret on stdout or stderr.
run_canary() {
	run --separate-stderr cfg-resolve "$@"
	assert_equal "$status" 65
	[ -n "$stderr" ]
	assert_secret_absent "$CANARY" "$output" "$stderr"
	assert_secret_absent "${CANARY:0:12}" "$output" "$stderr"
}

@test "no error message quotes a value that came from a secret's variable" {
	export CANARY=sk-canary-7f3a9d2e41b8c6 OPENAI_API_KEY=sk-canary-7f3a9d2e41b8c6
	local s=$CFG/schema.yaml
	# a variable named like a secret, in a field that is not secret: type,
	# enum, range and length errors
	printf 'api:\n  port: "${OPENAI_API_KEY}"\n' > t.yaml
	run_canary -e "$PROD_ENV" -s "$s" "$CFG/production.yaml" t.yaml
	[[ $stderr == *"api.port: expected an int, got "* ]]
	printf 'environment: "${OPENAI_API_KEY}"\n' > t.yaml
	run_canary -e "$PROD_ENV" -s "$s" "$CFG/production.yaml" t.yaml
	[[ $stderr == *"environment: "*"is not one of"* ]]
	printf 'api:\n  port: "${OPENAI_API_KEY}"\n' > t.yaml
	OPENAI_API_KEY=99999871 CANARY=99999871 run_canary -e "$PROD_ENV" -s "$s" "$CFG/production.yaml" t.yaml
	[[ $stderr == *"api.port: "*"above the maximum 65535"* ]]
	# a variable with an ordinary name that a secret uses elsewhere, before
	# the secret comes in the file
	printf 'version: 1\nroot:\n  type: map\n  keys:\n    port: {type: int}\n    mode: {type: enum, values: [a, b]}\n    token: {type: string, secret: true}\n' > s.yaml
	printf 'port: "${PLAIN}"\nmode: "${PLAIN}"\ntoken: "${PLAIN}"\n' > t.yaml
	PLAIN=$CANARY run_canary -s s.yaml t.yaml
	[[ $stderr == *"port: expected an int"* && $stderr == *"mode: "*"is not one of a, b"* ]]
	# a secret named so by its key and no schema type error is the same
	printf 'port: "${P}"\napi_key: "${P}"\n' > t.yaml
	P=$CANARY run_canary -s s.yaml t.yaml
	# nor does a --check report that names the value
	printf 'environment: "${OPENAI_API_KEY}"\n' > t.yaml
	run --separate-stderr cfg-resolve --check t.yaml
	assert_equal "$(json_get '.checks[] | select(.name == "policy.environment") | .message')" 'unknown environment "***" (development, staging or production): production rules applied'
	assert_secret_absent "$CANARY" "$output" "$stderr"
}

@test "a required variable's message never expands a secret" {
	export CANARY=sk-canary-7f3a9d2e41b8c6
	# named like a secret
	printf 'v: "${MISSING?set MISSING (the key is ${OPENAI_API_KEY})}"\n' > t.yaml
	OPENAI_API_KEY=$CANARY run_canary t.yaml
	[[ $stderr == *"required variable MISSING is missing a value: set MISSING (the key is ***)"* ]]
	# used by a secret further down
	printf 'v: "${MISSING?T is ${T}}"\nsecurity:\n  jwt_secret: "${T}"\n' > t.yaml
	T=$CANARY run_canary t.yaml
	[[ $stderr == *"required variable MISSING is missing a value: T is ***"* ]]
	# one whose value is a secret the schema marks
	printf 'version: 1\nroot:\n  type: map\n  keys:\n    v: {type: string}\n    pin: {type: string, secret: true}\n' > s.yaml
	printf 'v: "${MISSING:?see ${PIN_CODE}}"\npin: "${PIN_CODE}"\n' > t.yaml
	PIN_CODE=$CANARY run_canary -s s.yaml t.yaml
	[[ $stderr == *"missing a value: see ***"* ]]
	# an ordinary variable is still expanded
	printf 'v: "${MISSING?ask ${WHO}}"\n' > t.yaml
	WHO=ops run --separate-stderr cfg-resolve t.yaml
	assert_equal "$status" 65
	[[ $stderr == *"required variable MISSING is missing a value: ask ops"* ]]
}

@test "a report, an event, a journal or delivery record is not a config document" {
	local kind want
	while read -r kind want; do
		printf '{"kind":"%s","tool":"db-check","status":"ok","checks":[]}\n' "$kind" > doc.json
		run --separate-stderr cfg-resolve doc.json
		assert_equal "$status" 65
		[ -z "$output" ]
		assert_equal "$stderr" "cfg-resolve: doc.json:1:9: expected a config document, got $want"
		# the same on stdin and in YAML
		run --separate-stderr cfg-resolve - < doc.json
		assert_equal "$status" 65
		assert_equal "$stderr" "cfg-resolve: stdin:1:9: expected a config document, got $want"
		printf 'a: 1\nkind: %s\n' "$kind" > doc.yaml
		run --separate-stderr cfg-resolve --check doc.yaml
		assert_equal "$status" 65
		assert_equal "$stderr" "cfg-resolve: doc.yaml:2:7: expected a config document, got $want"
	done <<-'T'
	report a report
	event an event
	alert an alert
	journal a journal record
	delivery a delivery record
	T
	# every tool's -c says the same, with the right article
	printf '{"kind":"event","labels":{}}\n' > doc.json
	printf 'kind: event\n' > doc.yaml
	for tool in db-check svc-probe "deploy-stage status" "rollback --check"; do
		run --separate-stderr $tool -c doc.json
		assert_equal "$status" 65
		assert_equal "$stderr" "${tool%% *}: doc.json: expected a config document, got an event"
		run --separate-stderr $tool -c doc.yaml
		assert_equal "$status" 65
		assert_equal "${stderr%%$'\n'*}" "${tool%% *}: doc.yaml:1:7: expected a config document, got an event"
	done
	# a config with another kind is a config
	printf 'kind: service\n' > doc.yaml
	run --separate-stderr cfg-resolve doc.yaml
	assert_success
	assert_equal "$(json_get .kind)" service
}

@test "--check: policy.cache says when no cache is configured" {
	printf 'environment: production\n' > t.yaml
	run --separate-stderr cfg-resolve --check t.yaml
	assert_equal "$(json_get '.checks[] | select(.name == "policy.cache") | .status + ": " + .message')" \
		"ok: no cache configured (cache.redis_url is not set)"
	# a TTL without a cache is still judged
	printf 'environment: production\ncache: {ttl: 0s}\n' > t.yaml
	run --separate-stderr cfg-resolve --check t.yaml
	assert_equal "$(json_get '.checks[] | select(.name == "policy.cache") | .status + ": " + .message')" \
		"critical: no cache configured (cache.redis_url is not set); cache.ttl must be a positive duration"
	# a configured cache that passes says what was checked
	printf 'environment: production\ncache: {redis_url: "rediss://cache.example:6380/0", ttl: 5m}\n' > t.yaml
	run --separate-stderr cfg-resolve --check t.yaml
	assert_equal "$(json_get '.checks[] | select(.name == "policy.cache") | .status + ": " + .message')" \
		"ok: the cache uses TLS and a positive TTL"
}

@test "the man page is clean under mandoc -Tlint (warnings and style, long lines aside)" {
	run --separate-stderr mandoc -Tlint -Wstyle "$REPO_ROOT/man/man1/cfg-resolve.1"
	printf '%s\n' "$output" "$stderr" | grep -v 'input text line longer than 80 bytes' | grep . && return 1
	true
}
