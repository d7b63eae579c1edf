# exits.awk — who ends the process, from `objdump -dr` over object files or
# an archive (libcommon.a): prints "OBJECT FUNCTION CALLEE" once for each
# function that calls (or jumps to, or takes the address of) exit, _exit,
# _Exit, quick_exit, abort, assert's __assert_fail, err, errx, verr, verrx,
# error, error_at_line, die or a die_*() helper. OBJECT is the file's base
# name; FUNCTION is the symbol the code sits in, a compiler's clone of it
# (f.cold, f.part.0, f.constprop.0) taken for f.
#   -v allow="OBJECT FUNCTION CALLEE ..."  lines not to print: each field an
#        awk regular expression matched whole; "#" starts a comment
BEGIN {
	n_allow = split(allow, lines, "\n")
	for (i = 1; i <= n_allow; i++) {
		sub(/#.*/, "", lines[i])
		if (split(lines[i], w, " ") != 3)
			continue
		n_rules++
		rule_obj[n_rules] = "^(" w[1] ")$"
		rule_fn[n_rules] = "^(" w[2] ")$"
		rule_callee[n_rules] = "^(" w[3] ")$"
	}
}
/: +file format / {
	obj = $1
	sub(/:$/, "", obj)
	sub(/.*\//, "", obj)
	fn = ""
	next
}
/^[0-9a-f]+ <.*>:$/ {
	fn = $2
	gsub(/^<|>:$/, "", fn)
	sub(/\..*/, "", fn)
	next
}
$2 ~ /^R_/ {
	callee = $3
	sub(/[-+]0x[0-9a-f]+$/, "", callee)
	sub(/@.*/, "", callee)
	if (callee !~ /^(exit|_exit|_Exit|quick_exit|abort|__assert_fail|err|errx|verr|verrx|error|error_at_line|die|die_[A-Za-z0-9_]+)$/)
		next
	if ((obj, fn, callee) in seen || allowed(obj, fn, callee))
		next
	seen[obj, fn, callee] = 1
	print obj, fn, callee
}
function allowed(o, f, c,   i) {
	for (i = 1; i <= n_rules; i++)
		if (o ~ rule_obj[i] && f ~ rule_fn[i] && c ~ rule_callee[i])
			return 1
	return 0
}
