# libdeps.awk — libcommon's file-level call graph, from `nm -A` over its
# object files (build/obj/libcommon/FOLDER/FILE.o): a file calls another when
# it has a symbol undefined that the other defines.
#   -v mode=edges   prints "FROM TO SYMBOL" for each call (FOLDER/FILE names)
#   -v mode=cycles  prints each circle of two or more files, one line:
#                   "FOLDER/A FOLDER/B ..."
#   -v mode=layers  prints "FROM TO SYMBOL" for each call into a folder that
#                   FROM's folder may not use: base <- config <- http <-
#                   deploy, base <- alert (see the README's Layout)
function unit(path) {
	sub(/:.*/, "", path)
	sub(/.*\/obj\/libcommon\//, "", path)
	sub(/\.o$/, "", path)
	return path
}
{
	f = unit($1)
	files[f] = 1
	if (NF == 3 && $2 ~ /^[TDBRCWVG]$/)
		def[$3] = f
	else if ($(NF - 1) == "U" || $(NF - 1) == "w")
		undef[f, $NF] = 1
}
BEGIN {
	split("base:|config:base|http:base,config|deploy:base,config,http|alert:base", rules, "|")
	for (i in rules) {
		split(rules[i], kv, ":")
		uses[kv[1], kv[1]] = 1
		n = split(kv[2], to, ",")
		for (j = 1; j <= n; j++)
			uses[kv[1], to[j]] = 1
	}
}
END {
	for (key in undef) {
		split(key, fs, SUBSEP)
		callee = def[fs[2]]
		if (callee == "" || callee == fs[1])
			continue
		edge[fs[1], callee] = 1
		if (mode == "edges")
			print fs[1], callee, fs[2]
		split(fs[1], from, "/")
		split(callee, to, "/")
		if (mode == "layers" && !((from[1], to[1]) in uses))
			print fs[1], callee, fs[2]
	}
	if (mode != "cycles")
		exit
	# reach[a, b]: a calls b, directly or through other files (Warshall)
	for (key in edge)
		reach[key] = 1
	for (k in files)
		for (i in files)
			if ((i, k) in reach)
				for (j in files)
					if ((k, j) in reach)
						reach[i, j] = 1
	for (i in files) {
		if (i in done)
			continue
		n = 0
		for (j in files)
			if ((i, j) in reach && (j, i) in reach) {
				member[++n] = j
				done[j] = 1
			}
		# sorted, so that a circle reads the same in every run
		for (x = 2; x <= n; x++)
			for (y = x; y > 1 && member[y - 1] > member[y]; y--) {
				t = member[y]; member[y] = member[y - 1]; member[y - 1] = t
			}
		line = ""
		for (x = 1; x <= n; x++)
			line = line (x > 1 ? " " : "") member[x]
		if (n)
			print line
	}
}
