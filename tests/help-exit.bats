#!/usr/bin/env bats
# --help against the man pages: the exit statuses a tool's --help names
# ("Exit: 0 ..., 2 ...") are the ones its man page's EXIT STATUS lists.
load helpers/common

# help_codes TOOL: the exit codes in the Exit paragraph of TOOL --help.
help_codes() {
	"$1" --help | sed -n '/^Exit/,$p' | grep -oE '(^|[ ,(:])(0|1|2|3|64|65|75)\b' | grep -oE '[0-9]+' | sort -nu | paste -sd' ' -
}

# man_codes TOOL: the codes the EXIT STATUS section of TOOL(1) lists.
man_codes() {
	sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$REPO_ROOT/man/man1/$1.1" | grep -A1 '^\.TP' |
		grep -oE '^\.B [0-9]+' | awk '{ print $2 }' | sort -nu | paste -sd' ' -
}

@test "each tool's --help names the exit statuses of its man page" {
	local t bad=()
	for t in alert-send cfg-resolve db-check deploy-stage health-watch metric-check rollback svc-probe; do
		[ -n "$(man_codes "$t")" ] || bad+=("$t: no EXIT STATUS in $t.1")
		[ "$(help_codes "$t")" = "$(man_codes "$t")" ] ||
			bad+=("$t: --help says exit $(help_codes "$t"), $t.1 says $(man_codes "$t")")
	done
	[ ${#bad[@]} -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}
