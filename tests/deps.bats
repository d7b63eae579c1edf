#!/usr/bin/env bats
# Dependencies: `make deps` installs them (scripts/install-deps.sh); check,
# demo, bench and fuzz only verify that theirs are present: no apt, no sudo,
# no network, one line naming what is missing and how to install it.
load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
	unset MAKEFLAGS MFLAGS MAKELEVEL
	# stand-ins that record any call: a check must never reach them
	mkdir -p bin
	for c in apt-get apt sudo; do
		printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\nexit 0\n' "$c" "$BATS_TEST_TMPDIR" >"bin/$c"
		chmod +x "bin/$c"
	done
	# dpkg-query: every package installed except those in $MISSING
	cat >bin/dpkg-query <<'EOF'
#!/bin/sh
for p; do :; done
case " $MISSING " in *" $p "*) exit 1 ;; esac
echo "install ok installed"
EOF
	chmod +x bin/dpkg-query
	export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

@test "--check with everything present exits 0, silent, and calls neither apt nor sudo" {
	MISSING="" run --separate-stderr "$REPO_ROOT/scripts/install-deps.sh" --check build test
	assert_success
	[ -z "$output" ] && [ -z "$stderr" ]
	[ ! -e calls ]
}

@test "--check names what is missing in one line with the command to install it, as any user" {
	MISSING="bats libyaml-dev" run --separate-stderr "$REPO_ROOT/scripts/install-deps.sh" --check build test
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[[ "$stderr" == *"libyaml-dev"* && "$stderr" == *"bats"* ]]
	[[ "$stderr" == *"make deps"* ]]
	[ ! -e calls ]
}

@test "--check of one group ignores another group's packages" {
	MISSING="hyperfine clang-14" run --separate-stderr "$REPO_ROOT/scripts/install-deps.sh" --check build test
	assert_success
	MISSING="hyperfine" run --separate-stderr "$REPO_ROOT/scripts/install-deps.sh" --check bench
	[ "$status" -eq 1 ]
	[[ "$stderr" == *hyperfine* ]]
}

@test "an unknown group is a usage error" {
	run --separate-stderr "$REPO_ROOT/scripts/install-deps.sh" --check nosuchgroup
	[ "$status" -eq 64 ]
	[[ "$stderr" == *"nosuchgroup"* ]]
}

@test "installing with everything present does nothing" {
	MISSING="" run --separate-stderr "$REPO_ROOT/scripts/install-deps.sh"
	assert_success
	[ ! -e calls ]
}

@test "make check, demo, bench and fuzz verify their packages and never install them" {
	for target in check demo bench fuzz; do
		run make -n --no-print-directory -C "$REPO_ROOT" "$target"
		assert_success
		assert_line --regexp "^scripts/install-deps.sh --check build (test|demo|bench|fuzz)$"
		refute_line --regexp '^scripts/install-deps.sh( |$)(build|test|demo|bench|fuzz|$)'
	done
}

@test "make deps check installs first, then checks" {
	run make -n --no-print-directory -C "$REPO_ROOT" -j2 deps check
	assert_success
	[ "${lines[0]}" = "scripts/install-deps.sh" ]
	[ "${lines[1]}" = "scripts/install-deps.sh --check build test" ]
}

@test "make check with a package missing stops before building and names it" {
	MISSING="libcmocka-dev" run --separate-stderr make --no-print-directory -C "$REPO_ROOT" \
		BUILD="$BATS_TEST_TMPDIR/b" check
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"missing Debian packages (build test): libcmocka-dev; install them with: make deps"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/b" ]
	[ ! -e calls ]
}

@test "debian/control's Build-Depends are the build and test packages (build-essential implied), tests marked <!nocheck>" {
	control=$REPO_ROOT/debian/control
	bd=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$control" | sed '$d' | sed 's/^Build-Depends://' | tr ',' '\n' |
		sed 's/^ *//; s/ *$//' | grep -v '^$')
	diff <(printf '%s\n' "$bd" | grep -v '^debhelper-compat' | sed 's/ .*//' | sort) \
		<("$REPO_ROOT/scripts/install-deps.sh" --list build test | grep -vx build-essential)
	# a build needs no test package: each test-only one is <!nocheck>
	for p in $("$REPO_ROOT/scripts/install-deps.sh" --list test); do
		"$REPO_ROOT/scripts/install-deps.sh" --list build | grep -qx "$p" && continue
		printf '%s\n' "$bd" | grep -qx "$p <!nocheck>" || { echo "$p is not <!nocheck>" >&2; false; }
	done
}
