# bench/lib.sh — shared by the benchmarks: hyperfine side by side, ratios.
# Sourced by bench/*.sh; BUILD names the build folder (default build).
set -eu
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO_ROOT/$BUILD ;; esac
export PATH="$BUILD:$PATH"
RUNS=${RUNS:-50}

# hyperfine_compare NAME CMD...: runs the commands side by side in one run
# (the first is ours; hyperfine subtracts the shell start-up) and prints each one's mean and its ratio to ours.
hyperfine_compare() {
	local name=$1 json
	shift
	json=$(mktemp)
	hyperfine --warmup 5 --runs "$RUNS" --style basic --export-json "$json" "$@" >&2
	echo "## $name"
	jq -r '.results as $r | $r[0].mean as $base |
	  $r[] | "\(.command)\t\((.mean*1000*1000|round)/1000) ms\t\((.mean/$base*100|round)/100)x ours"' "$json" |
	  column -t -s "$(printf '\t')"
	rm -f "$json"
}
