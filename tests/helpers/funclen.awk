# funclen.awk — the length of every function in C files written in this
# codebase's style (the return type and name start at column 0, the body's
# "{" and "}" stand alone at column 0): prints "LENGTH FILE:LINE NAME", the
# length counted from the "{" line to the "}" line, both included. A body
# opened on its signature's line ("int f(void) {") counts from there.
FNR == 1 { start = 0; sig = "" }
/^[A-Za-z_][A-Za-z0-9_ \t*]*\(/ && !start {
	sig = $0
	sigline = FNR
	if ($0 ~ /\)[ \t]*\{[ \t]*$/)
		begin()
	next
}
/^\{/ && sig != "" && !start { begin(); next }
/^\}/ && start { print FNR - start + 1, FILENAME ":" sigline, name; start = 0; sig = "" }
/^[^ \t\/#*}{]/ && !start && !/\(/ && !/^[A-Za-z_].*[,)]/ { sig = "" }
function begin(   w, n) {
	start = FNR
	name = sig
	# an attribute before the name (its parentheses nest once) is not it
	gsub(/__attribute__[ \t]*\(\([^()]*(\([^()]*\)[^()]*)*\)\)/, "", name)
	sub(/[ \t]*\(.*/, "", name)
	n = split(name, w, /[ \t*]+/)
	name = w[n]
}
