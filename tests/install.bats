#!/usr/bin/env bats
# make install / make uninstall into a DESTDIR: the tree install lays down,
# the installed tools run (the schema found where they look for it), the
# installed man pages open, and uninstall removes exactly what install put
# there.
load helpers/common

TOOL_NAMES="alert-send cfg-resolve db-check deploy-stage health-watch metric-check rollback svc-probe"

setup() {
	cd "$BATS_TEST_TMPDIR"
	D=$BATS_TEST_TMPDIR/dest
	P=/opt/ss
	# The suite may run under `make check`: its jobserver and command-line
	# variables are not this make's.
	unset MAKEFLAGS MFLAGS MAKELEVEL
}

# mk TARGET [VAR=VALUE...]: the project's make on the already built tools.
mk() {
	make -s --no-print-directory -C "$REPO_ROOT" BUILD="$SHIPSHAPE_BUILD" \
		DESTDIR="$D" PREFIX="$P" "$@"
}

# expected_files: every file install should lay down under $D, sorted.
expected_files() {
	local t f
	for t in $TOOL_NAMES shipshape-deploy; do echo "$D$P/bin/$t"; done
	for f in "$REPO_ROOT"/man/man[157]/*.[157]; do
		echo "$D$P/share/man/${f#"$REPO_ROOT"/man/}"
	done
	echo "$D$P/share/shipshape/config/schema.yaml"
	echo "$D$P/share/doc/shipshape/examples/production.yaml"
	echo "$D$P/share/doc/shipshape/examples/local.yaml"
	echo "$D$P/share/doc/shipshape/examples/minimal.yaml"
	echo "$D$P/lib/systemd/system/shipshape-watch.service"
}

@test "install lays down exactly the tools, shipshape-deploy, schema, man pages, unit and examples" {
	run mk install
	assert_success
	diff <(expected_files | sort) <(find "$D" -type f | sort)
	# executables where they run, documents not executable
	for t in $TOOL_NAMES shipshape-deploy; do [ -x "$D$P/bin/$t" ]; done
	[ "$(stat -c %a "$D$P/share/shipshape/config/schema.yaml")" = 644 ]
	[ "$(stat -c %a "$D$P/lib/systemd/system/shipshape-watch.service")" = 644 ]
	# the company's configs are examples, not the package's config
	[ ! -e "$D$P/share/shipshape/config/production.yaml" ]
	[ ! -e "$D$P/share/shipshape/config/local.yaml" ]
	[ ! -e "$D$P/bin/deploy_production.sh" ]
	cmp "$REPO_ROOT/config/production.yaml" "$D$P/share/doc/shipshape/examples/production.yaml"
}

@test "the installed systemd unit runs the installed tools" {
	run mk install
	assert_success
	unit=$D$P/lib/systemd/system/shipshape-watch.service
	run grep '^ExecStart=' "$unit"
	assert_output --partial "'$P/bin/health-watch -c "
	assert_output --partial "| $P/bin/alert-send -c "
	run grep '^ExecStartPre=' "$unit"
	assert_output --partial "$P/bin/alert-send -c "
	# no path of the source tree's default prefix is left in a directive
	run grep -v '^#' "$unit"
	assert_success
	refute_output --partial '/usr/local'
	assert_output --partial '[Service]'
}

@test "the installed tools run: --version and --help" {
	run mk install
	assert_success
	for t in $TOOL_NAMES; do
		run --separate-stderr "$D$P/bin/$t" --version
		assert_success
		assert_output --partial "0.1.0"
		run --separate-stderr "$D$P/bin/$t" --help
		assert_success
		assert_output --partial "usage: $t"
	done
	run --separate-stderr "$D$P/bin/shipshape-deploy" --help
	assert_success
	assert_output --partial "usage:"
	run --separate-stderr "$D$P/bin/shipshape-deploy" --no-such-option
	[ "$status" -eq 64 ]
}

@test "installed cfg-resolve checks the example production config with the installed schema" {
	run mk install
	assert_success
	schema=$D$P/share/shipshape/config/schema.yaml
	run --separate-stderr "$D$P/bin/cfg-resolve" -e "$REPO_ROOT/tests/data/cfg/prod.env" \
		-s "$schema" --check --format nagios "$D$P/share/doc/shipshape/examples/production.yaml"
	assert_success
	assert_output --regexp '^cfg-resolve OK - '
	# and the schema is the one that rejects: a pool size that is not a number
	printf 'database:\n  pool_size: eighty\n' >bad.yaml
	run --separate-stderr "$D$P/bin/cfg-resolve" -e "$REPO_ROOT/tests/data/cfg/prod.env" \
		-s "$schema" "$D$P/share/doc/shipshape/examples/production.yaml" bad.yaml
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"database.pool_size"* ]]
}

@test "the installed man pages open with man -l" {
	run mk install
	assert_success
	n=0
	for f in "$D$P"/share/man/man[157]/*; do
		name=$(basename "$f")
		name=${name%.*}
		run --separate-stderr env MANWIDTH=80 MAN_KEEP_FORMATTING= man -l "$f"
		assert_success
		assert_output --partial "NAME"
		assert_output --partial "$name"
		n=$((n + 1))
	done
	[ "$n" -ge 9 ]
}

@test "uninstall removes everything install put there and nothing else" {
	run mk install
	assert_success
	mkdir -p "$D$P/share/man/man1"
	echo mine >"$D$P/bin/other-tool"
	echo mine >"$D$P/share/man/man1/other-tool.1"
	run mk uninstall
	assert_success
	run bash -c "find '$D' -type f | sort"
	assert_output "$(printf '%s\n' "$D$P/bin/other-tool" "$D$P/share/man/man1/other-tool.1" | sort)"
	# shipshape's own folders are gone, the shared ones stay
	[ ! -e "$D$P/share/shipshape" ]
	[ ! -e "$D$P/share/doc/shipshape" ]
	[ -d "$D$P/bin" ]
}

@test "uninstall of a tree that has nothing installed succeeds and removes nothing" {
	mkdir -p "$D$P/bin"
	echo mine >"$D$P/bin/keep"
	run mk uninstall
	assert_success
	[ -f "$D$P/bin/keep" ]
}

@test "install into a DESTDIR that cannot hold folders fails and says so" {
	echo file >"$D"
	run --separate-stderr mk install
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"$D"* ]]
	[ "$(cat "$D")" = file ]
}

@test "a command-line CFLAGS, CPPFLAGS and LDFLAGS add to the project's flags instead of replacing them" {
	b=$BATS_TEST_TMPDIR/b
	run make -n --no-print-directory -C "$REPO_ROOT" BUILD="$b" CFLAGS="-O0 -fno-common" \
		CPPFLAGS="-DSS_TEST_CPP=1" LDFLAGS="-Wl,-z,now" "$b/cfg-resolve"
	assert_success
	compile=$(printf '%s\n' "$output" | grep -m1 -- ' -c -o .*common\.o ')
	for f in -Iinclude -D_GNU_SOURCE -std=c11 -Wall -DSHIPSHAPE_VERSION -O0 -fno-common -DSS_TEST_CPP=1; do
		[[ "$compile" == *" $f"* ]] || { echo "compile line lacks $f: $compile" >&2; false; }
	done
	link=$(printf '%s\n' "$output" | grep -m1 -- "-o $b/cfg-resolve ")
	for f in -Wl,--as-needed -Wl,-z,now -lyaml -lm; do
		[[ "$link" == *" $f"* ]] || { echo "link line lacks $f: $link" >&2; false; }
	done
	# and it compiles: one object for real
	run make -s --no-print-directory -C "$REPO_ROOT" BUILD="$b" CFLAGS="-O1" CPPFLAGS="-D_FORTIFY_SOURCE=2" \
		"$b/obj/libcommon/base/common.o"
	assert_success
	[ -s "$b/obj/libcommon/base/common.o" ]
}
