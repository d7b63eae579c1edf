# tests/helpers/common.bash — loaded by every bats file: paths, assertions,
# and small helpers shared by the CLI tests.
REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
SHIPSHAPE_BUILD=${SHIPSHAPE_BUILD:-$REPO_ROOT/build}
case $SHIPSHAPE_BUILD in /*) ;; *) SHIPSHAPE_BUILD=$REPO_ROOT/$SHIPSHAPE_BUILD ;; esac
export SHIPSHAPE_BUILD
PATH="$SHIPSHAPE_BUILD:$PATH"

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# A state directory of the test's own, so no test touches the user's.
export SHIPSHAPE_STATE_DIR="$BATS_TEST_TMPDIR/state"

# json_get FILTER: jq on $output (the last `run`'s stdout).
json_get() {
	printf '%s\n' "$output" | jq -r "$1"
}

# assert_secret_absent SECRET TEXT...: fails when SECRET appears in any TEXT.
assert_secret_absent() {
	local secret=$1
	shift
	local t
	for t in "$@"; do
		if [[ $t == *"$secret"* ]]; then
			echo "secret leaked: $t" >&2
			return 1
		fi
	done
}
