#!/usr/bin/env bats
# --help against the man page, both directions: every option a tool's --help
# names is in its man page's SYNOPSIS and OPTIONS, and every option those
# name is in --help. The man page is read as mandoc renders it, so roff
# markup (\-, .BR, .TQ, fonts) does not matter.
load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
	export LC_ALL=C # one collation for sort and comm
}

TOOLS=(alert-send cfg-resolve db-check deploy-stage health-watch metric-check rollback svc-probe)

# render TOOL: TOOL(1) as plain text, one line per paragraph line
render() {
	mandoc -Tascii -O width=400 "$REPO_ROOT/man/man1/$1.1" | col -bx
}

# names: the option names (-x, --long-name) in stdin, one a line, sorted
names() {
	grep -oE -- '(^|[^[:alnum:]-])--?[[:alpha:]][[:alnum:]-]*' | grep -oE -- '--?[[:alpha:]][[:alnum:]-]*' | sort -u
}

# heading TEXT: the heading of an option entry, up to the two spaces before
# its text ("-c, --config FILE     the config" gives "-c, --config FILE")
heading() {
	sed -E 's/^ +//; s/   *.*//'
}

# help_list TOOL: the headings of TOOL --help's option lines (indented by
# at most 6: more is a description's continuation)
help_list() {
	"$1" --help | grep -E '^ {1,6}-' | heading
}

# help_usage TOOL: the usage lines of TOOL --help (up to the first blank line)
help_usage() {
	"$1" --help | sed '/^$/q'
}

# man_section TOOL NAME: the lines of section NAME of TOOL(1)
man_section() {
	render "$1" | awk -v name="$2" '/^[A-Z]/ { on = ($0 == name) ; next } on'
}

# man_list TOOL: the headings of the entries of OPTIONS (indented by 7)
man_list() {
	man_section "$1" OPTIONS | grep -E '^ {7}-' | heading
}

# pairs: "-x --long" for each heading in stdin that names both
pairs() {
	sed -nE 's/^(-[[:alnum:]]), (--[[:alnum:]-]+).*/\1 \2/p'
}

# canonical PAIRS: stdin's names, a short one replaced by its long name
canonical() {
	awk 'NR == FNR { long[$1] = $2; next } { print ($0 in long) ? long[$0] : $0 }' "$1" - | sort -u
}

@test "mandoc renders every man page this test reads" {
	local t
	for t in "${TOOLS[@]}"; do
		[ -n "$(man_section "$t" SYNOPSIS)" ] || fail "$t.1: no SYNOPSIS"
		[ -n "$(man_list "$t")" ] || fail "$t.1: no option in OPTIONS"
		[ -n "$(help_list "$t")" ] || fail "$t --help: no option list"
	done
}

@test "each tool's --help options are its man page's OPTIONS, short and long names alike" {
	local t bad=() only_help only_man
	for t in "${TOOLS[@]}"; do
		only_help=$(comm -23 <(help_list "$t" | names) <(man_list "$t" | names) | paste -sd' ' -)
		only_man=$(comm -13 <(help_list "$t" | names) <(man_list "$t" | names) | paste -sd' ' -)
		[ -z "$only_help" ] || bad+=("$t: in --help, not in the OPTIONS of $t.1: $only_help")
		[ -z "$only_man" ] || bad+=("$t: in the OPTIONS of $t.1, not in --help: $only_man")
		# the usage lines name only options of the list
		only_help=$(comm -23 <(help_usage "$t" | names) <(help_list "$t" | names) | paste -sd' ' -)
		[ -z "$only_help" ] || bad+=("$t: in the usage of --help, not in its option list: $only_help")
	done
	[ ${#bad[@]} -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "each tool's --help options are in its man page's SYNOPSIS, and the SYNOPSIS names no other" {
	local t bad=() only_help only_man
	for t in "${TOOLS[@]}"; do
		{ help_list "$t" | pairs; man_list "$t" | pairs; } >pairs.txt
		# an option is in the SYNOPSIS by either of its names ([-q] for -q, --quiet)
		only_help=$(comm -23 <(help_list "$t" | names | canonical pairs.txt) \
			<(man_section "$t" SYNOPSIS | names | canonical pairs.txt) | paste -sd' ' -)
		only_man=$(comm -13 <(help_list "$t" | names) <(man_section "$t" SYNOPSIS | names) | paste -sd' ' -)
		[ -z "$only_help" ] || bad+=("$t: in --help, not in the SYNOPSIS of $t.1: $only_help")
		[ -z "$only_man" ] || bad+=("$t: in the SYNOPSIS of $t.1, not in --help: $only_man")
	done
	[ ${#bad[@]} -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "the comparison itself: an option missing from either side is found" {
	# a man page without -q's entry, and a --help without --format's line
	printf '       -c, --config FILE\n       --format FMT\n' >man.txt
	printf '  -c, --config FILE  the config\n  -q, --quiet        no warnings\n' | heading >help.txt
	assert_equal "$(comm -23 <(names <help.txt) <(grep -E '^ {7}-' man.txt | heading | names) | paste -sd' ' -)" "--quiet -q"
	assert_equal "$(comm -13 <(names <help.txt) <(grep -E '^ {7}-' man.txt | heading | names) | paste -sd' ' -)" "--format"
	# an option named in a description is not an option line
	assert_equal "$(printf '  -t DUR  bound it\n                 --count: exit 3\n' | grep -E '^ {1,6}-' | heading | names)" "-t"
	# a short name stands for its long one in the SYNOPSIS
	printf '%s\n' '-q --quiet' >pairs.txt
	assert_equal "$(printf '%s\n' -q --format | canonical pairs.txt | paste -sd' ' -)" "--format --quiet"
}
