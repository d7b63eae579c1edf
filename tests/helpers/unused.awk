# unused.awk — the global functions of a library that nothing calls, from
# `objdump -t -dr` followed by `objdump -r` over the library's object files
# and its callers' (the tools'), compiled without inlining (-O0), so that a
# call inside a file is still a call: prints "FUNCTION OBJECT" for each
# global function defined in an object whose path matches -v lib (default
# "^obj/libcommon/") that no relocation names, in the code of another
# function (of any object) or in data (a table of function pointers). A
# function that calls itself is not used by that.
#   -v allow="NAME ..."  names not to print, one a line; "#" starts a comment
BEGIN {
	if (lib == "")
		lib = "^obj/libcommon/"
	n = split(allow, lines, "\n")
	for (i = 1; i <= n; i++) {
		sub(/#.*/, "", lines[i])
		if (split(lines[i], w, " ") == 1)
			allowed[w[1]] = 1
	}
}
/: +file format / {
	obj = $1
	sub(/:$/, "", obj)
	fn = section = ""
	next
}
# objdump -t: "ADDRESS g     F .text SIZE NAME"
/^[0-9a-f]+ g +F / && obj ~ lib {
	defined[$NF] = obj
	next
}
/^Disassembly of section / {
	section = ""
	next
}
/^[0-9a-f]+ <.*>:$/ {
	fn = $2
	gsub(/^<|>:$/, "", fn)
	next
}
# objdump -r: the relocations of each section; those of code were read
# above, with the function they sit in
/^RELOCATION RECORDS FOR \[/ {
	section = $4
	gsub(/^\[|\]:$/, "", section)
	fn = ""
	next
}
$2 ~ /^R_/ {
	sym = $3
	sub(/[-+]0x[0-9a-f]+$/, "", sym)
	sub(/@.*/, "", sym)
	if (section == "" && fn != "" && sym != fn)
		used[sym] = 1
	else if (section != "" && section !~ /^\.(text|eh_frame|debug|rela)/)
		used[sym] = 1
}
END {
	for (f in defined)
		if (!(f in used) && !(f in allowed))
			print f, defined[f]
}
