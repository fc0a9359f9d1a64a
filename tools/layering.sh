#!/bin/sh
# tools/layering.sh — check that the code keeps its layers (see HACKING):
#
#   lib/ includes nothing of cmd/; a client (cmd/imX/) includes lib/ and its
#   own directory, nothing of imd; in imd each module uses only the modules
#   its line in the table below names, both in its #include lines and in the
#   symbols its object file takes from the others (nm); and no header
#   includes itself round a circle.
#
# Run from the top after a build (make check does): ./tools/layering.sh
# Prints each offending edge and exits 1; silent and 0 when all is well.
set -eu
cd "$(dirname "$0")/.."

# imd's modules, lowest first; a module may use those on its line and,
# through them, nothing else. A file's module is its name without .c/.h;
# store_*.c belong to store. HANDLERS stands for the handler files.
allowed='
loop
fiber
log		loop
metrics
metrics_vfs	metrics
quota		loop
work
cert
backup
conn		loop metrics
http		conn loop log quota metrics fiber
hub		http conn loop metrics
store
timeheap
timers		store timeheap log
blob		work
auth		work
health		loop log store work metrics
presence	hub store loop log
api_util	http conn loop log store auth blob
api_commit	api_util api_read http conn loop log store hub work health metrics blob fiber
api_read	api_util http store auth work
api_int		api_util api_commit http conn loop store
HANDLERS	api_int api_util api_commit api_read http conn loop log store auth hub quota blob work metrics health timers presence
api		api_int HANDLERS api_util api_commit api_read hub http conn loop store health presence fiber
metrics_serve	conn health hub log loop metrics metrics_vfs
main		*
'
handlers='api_account api_changes api_files api_groups api_health api_messages api_send api_stream api_timed'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the table, one "module allowed..." line each, HANDLERS spelled out
printf '%s\n' "$allowed" | awk -v h="$handlers" '
	NF == 0 { next }
	{
		line = ""
		for (i = 1; i <= NF; i++)
			line = line " " ($i == "HANDLERS" ? h : $i)
		sub(/^ /, "", line)
		if ($1 == "HANDLERS") {
			n = split(h, hs, " ")
			rest = substr(line, length(h) + 2)
			for (j = 1; j <= n; j++)
				print hs[j], rest
		} else {
			print line
		}
	}' >"$tmp/allowed"

module() {
	case $1 in
	store_*) echo store ;;
	*) echo "$1" ;;
	esac
}

# every quoted #include: FILE HEADER
for f in lib/*.[ch] cmd/*/*.[ch]; do
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
	    while read -r h; do echo "$f $h"; done
done >"$tmp/includes"

fail=0
bad() {
	echo "layering: $*" >&2
	fail=1
}

# lib/ is below everything: it includes only lib/ headers
while read -r f h; do
	case $f in lib/*) ;; *) continue ;; esac
	case $h in
	*/*) bad "$f includes \"$h\": lib/ includes nothing outside lib/" ;;
	*) test -e "lib/$h" || bad "$f includes \"$h\", which is not in lib/" ;;
	esac
done <"$tmp/includes"

# a client includes lib/ and its own directory; imd's headers never
while read -r f h; do
	case $f in cmd/imd/*|lib/*) continue ;; esac
	d=${f%/*}
	case $h in
	*/*) bad "$f includes \"$h\": a client includes lib/ and its own directory only" ;;
	*) test -e "lib/$h" || test -e "$d/$h" ||
	    bad "$f includes \"$h\": a client includes lib/ and its own directory only" ;;
	esac
done <"$tmp/includes"

# imd: module -> module edges from the includes, then from the objects
check_edge() {	# from to how
	test "$1" = "$2" && return 0
	awk -v a="$1" -v b="$2" '
		$1 == a { known = 1; for (i = 2; i <= NF; i++) if ($i == b || $i == "*") ok = 1 }
		END { exit known ? (ok ? 0 : 1) : 2 }' "$tmp/allowed" && return 0
	case $? in
	2) bad "$3: imd module '$1' has no line in tools/layering.sh's table; add one" ;;
	*) bad "$3: '$1' may not use '$2' (it may use: $(awk -v a="$1" '
		$1 == a { $1 = ""; sub(/^ /, ""); print length($0) ? $0 : "nothing" }' "$tmp/allowed"))" ;;
	esac
}

while read -r f h; do
	case $f in cmd/imd/*) ;; *) continue ;; esac
	case $h in */*) bad "$f includes \"$h\": include by name, from cmd/imd/ or lib/"; continue ;; esac
	test -e "cmd/imd/$h" || continue	# a lib/ header: lib is below all
	from=$(module "$(basename "${f%.[ch]}")")
	to=$(module "${h%.h}")
	check_edge "$from" "$to" "$f includes \"$h\""
	echo "$from $to" >>"$tmp/edges"
done <"$tmp/includes"

set -- cmd/imd/*.o
if test ! -e "$1"; then
	bad "no cmd/imd/*.o: build first (make), then run this"
else
	# SYMBOL OBJECT for what each object defines; OBJECT SYMBOL for what it takes
	for o in cmd/imd/*.o; do
		nm -g --defined-only "$o" | awk -v o="$o" 'NF == 3 { print $3, o }'
	done | sort >"$tmp/defs"
	for o in cmd/imd/*.o; do
		nm -u "$o" | awk -v o="$o" '{ print $NF, o }'
	done | sort >"$tmp/uses"
	join "$tmp/uses" "$tmp/defs" >"$tmp/calls"
	while read -r sym user def; do
		test "$user" = "$def" && continue
		from=$(module "$(basename "${user%.o}")")
		to=$(module "$(basename "${def%.o}")")
		check_edge "$from" "$to" "$user uses $sym of $def"
		echo "$from $to" >>"$tmp/edges"
	done <"$tmp/calls"
fi

circle() {	# the first loop tsort found, as "a -> b -> a"
	awk '/input contains a loop/ { if (n) exit; next }
		{ sub(/^tsort: /, ""); c[n++] = $0 }
		END { for (i = 0; i < n; i++) printf "%s -> ", c[i]; print c[0] }' "$tmp/tsort"
}

# no circles: between headers (file level), and between modules
awk '{ h = $1; sub(/.*\//, "", h); if (h ~ /\.h$/) print h, $2 }' "$tmp/includes" |
    tsort >/dev/null 2>"$tmp/tsort" || true
test -s "$tmp/tsort" && bad "headers include each other in a circle: $(circle)"
if test -s "$tmp/edges"; then
	awk '$1 != "main" && $1 != $2' "$tmp/edges" | sort -u | tsort >/dev/null 2>"$tmp/tsort" || true
	test -s "$tmp/tsort" && bad "imd's modules use each other in a circle: $(circle)"
fi

exit $fail
