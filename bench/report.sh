#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/report.sh - bench/guest.sh's raw numbers as results: a Markdown
# report, CSVs and a PNG chart. bench/run.sh calls it; it can be rerun on
# an old VM output directory.
#
#   bench/report.sh VMOUT RESULTS BASE COMMAND TIMING
#
#   VMOUT    the VM's --out dir: raw.csv, control.csv, env.txt
#   RESULTS  where to write BASE.md, BASE.csv (throughput), BASE-load.csv
#            (loads and memory), BASE-raw.csv (every measurement), BASE.png
#   COMMAND, TIMING  how the run was made, for the report's header
#
# Statistics: for every row, workload and configuration, the median over
# the repetitions, their spread ((max - min) / median), and the median of
# the per-repetition ratio to `none` (the `none` cell of the same row,
# workload and repetition).
#
# Two views of each cell:
#   end to end  packets/s as measured: trafgen and the router share the
#               VM's one CPU, so each packet's time is the sender's plus
#               the router's;
#   router      the router's own: the sender's time per packet (the floor,
#               measured into a link that drops on arrival, see guest.sh)
#               taken away: 1 / (1/pps - 1/floor). This is what a router
#               whose traffic comes from elsewhere would forward, and what
#               the targets are judged on.

set -uo pipefail

[ $# -eq 5 ] || { echo "usage: report.sh VMOUT RESULTS BASE COMMAND TIMING" >&2; exit 2; }
VM=$1 RES=$2 BASE=$3 CMD=$4 TIMING=$5
for f in raw.csv control.csv env.txt; do
	[ -r "$VM/$f" ] || { echo "report.sh: no $VM/$f" >&2; exit 1; }
done
mkdir -p "$RES" || exit 1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cp "$VM/raw.csv" "$RES/$BASE-raw.csv"
cp "$VM/control.csv" "$RES/$BASE-load.csv"

HEADER="phase,family,relays,campus,workload,config,reps,median_pps,min_pps,max_pps,spread_pct,ratio_to_none,router_pps,router_spread_pct,router_ratio_to_none,forwarded_pct,check"

# The summary: one line per phase/row/workload/config, columns as HEADER.
awk -F, '
function sorted(s, a,    n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n
}
function median(s,    a, n) {
	n = sorted(s, a)
	if (n == 0) return ""
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function spread(s,    a, n, m) {
	n = sorted(s, a)
	m = median(s)
	return n && m > 0 ? sprintf("%.2f", 100 * (a[n] - a[1]) / m) : ""
}
function lo(s,    a) { return sorted(s, a) ? a[1] : "" }
function hi(s,    a, n) { n = sorted(s, a); return n ? a[n] : "" }
function fmt(x, f) { return x == "" ? "" : sprintf(f, x) }
NR == 1 { next }
{
	key = $1 "," $2 "," $3 "," $4 "," $5 "," $6
	pps = $10 > 0 ? $8 * 1000000 / $10 : 0
	PPS[key, $7] = pps
	REPS[key] = REPS[key] " " $7
	SENT[key] += $8
	FWD[key] += $9
	if (!(key in SEEN)) { SEEN[key] = 1; ORDER[++n] = key }
	if ($1 == "calib" && $6 == "sink") FLOOR_S[$2, $5] = FLOOR_S[$2, $5] " " pps
}
# router RATE FLOOR: the router'"'"'s own packets/s, "" if not defined.
function router(p, f) { return f > p && p > 0 ? p * f / (f - p) : "" }
END {
	for (i = 1; i <= n; i++) {
		key = ORDER[i]
		split(key, k, ",")
		floor = median(FLOOR_S[k[2], k[5]])
		base = k[1] "," k[2] "," k[3] "," k[4] "," k[5] "," (k[1] == "calib" ? "sb" : "none")
		all = ""; rall = ""; ratios = ""; rratios = ""
		nr = split(REPS[key], reps, " ")
		for (j = 1; j <= nr; j++) {
			p = PPS[key, reps[j]]
			r = k[6] == "sink" ? "" : router(p, floor)
			all = all " " p
			if (r != "") rall = rall " " r
			if ((base, reps[j]) in PPS && PPS[base, reps[j]] > 0 && base != key) {
				b = PPS[base, reps[j]]
				ratios = ratios " " p / b
				rb = router(b, floor)
				if (r != "" && rb != "") rratios = rratios " " r / rb
			}
		}
		fwd = SENT[key] ? 100 * FWD[key] / SENT[key] : 0
		# What must have happened to the packets: a filter drops `block`
		# and passes the rest; `none` passes everything, the sink nothing.
		if (k[6] == "sink") check = "ok"
		else if (k[1] == "matrix" && k[5] == "block" && k[6] != "none") check = fwd < 1 ? "ok" : "WRONG"
		else check = fwd > 99 ? "ok" : "WRONG"
		printf "%s,%d,%.0f,%.0f,%.0f,%s,%s,%s,%s,%s,%.1f,%s\n", key, nr,
			median(all), lo(all), hi(all), spread(all), fmt(median(ratios), "%.4f"),
			fmt(median(rall), "%.0f"), spread(rall), fmt(median(rratios), "%.4f"), fwd, check
	}
}' "$VM/raw.csv" >"$TMP/summary"
{ echo "$HEADER"; cat "$TMP/summary"; } >"$RES/$BASE.csv"

# table WORKLOAD end|router: the Markdown table of one workload.
table() {
	awk -F, -v w="$1" -v view="$2" '
	function commas(x,    s, r) {
		s = sprintf("%.0f", x); r = ""
		while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
		return s r
	}
	BEGIN {
		split("none sb nft ipset lin", CFG, " ")
		print "| family | relays | campus | none | smtpblock | nft | ipset | iptables-linear |"
		print "|---|--:|--:|--:|--:|--:|--:|--:|"
	}
	$1 == "matrix" && $5 == w {
		row = $2 "," $3 "," $4
		if (!(row in SEEN)) { SEEN[row] = 1; ROWS[++n] = row }
		pps = view == "end" ? $8 : $13; sp = view == "end" ? $11 : $14
		ratio = view == "end" ? $12 : $15
		c = pps == "" ? "n/a" : commas(pps) " ±" sp "%"
		if ($6 != "none" && ratio != "") c = "**" sprintf("%.3f", ratio) "** · " c
		if ($17 != "ok") c = c " (WRONG VERDICTS: " $16 "% forwarded)"
		CELL[row, $6] = c
	}
	END {
		for (i = 1; i <= n; i++) {
			split(ROWS[i], r, ",")
			line = "| IPv" r[1] " | " commas(r[2]) " | " commas(r[3])
			for (j = 1; j <= 5; j++) line = line " | " ((ROWS[i], CFG[j]) in CELL ? CELL[ROWS[i], CFG[j]] : "—")
			print line " |"
		}
	}' "$TMP/summary"
}

# value PHASE WORKLOAD FAMILY RELAYS CAMPUS CONFIG COLUMN: one summary field.
value() {
	awk -F, -v p="$1" -v w="$2" -v f="$3" -v r="$4" -v c="$5" -v g="$6" -v k="$7" \
		'$1 == p && $2 == f && $3 == r && $4 == c && $5 == w && $6 == g { print $k }' "$TMP/summary"
}

# load CONFIG LIST COLUMN(4 = usec, 5 = bytes): one line of control.csv.
load() { awk -F, -v c="$1" -v l="$2" -v k="$3" '$1 == c && $2 == l { print $k }' "$VM/control.csv"; }

# verdict EXPR TEXT: "met"/"NOT met" by bc, "not measured" when a value
# is missing (bc then fails or prints nothing).
verdict() {
	case $(echo "$1" | bc -l 2>/dev/null) in
	1) echo "met: $2" ;;
	0) echo "**NOT met**: $2" ;;
	*) echo "not measured: $2" ;;
	esac
}

# div A B [SCALE]: A / B, or "?" when either is missing.
div() {
	if [ -z "$1" ] || [ -z "$2" ]; then echo "?"; return; fi
	echo "scale=${3:-2}; $1 / $2" | bc -l 2>/dev/null || echo "?"
}

workload_title() {
	case $1 in
	pass) echo "pass: TCP SYNs to port 443 from 65,536 campus sources (what every packet pays)" ;;
	block) echo "block: SYNs to port 25 from 65,536 campus sources (a bot flood, dropped)" ;;
	relay) echo "relay: SYNs to port 25 from a relay in the list (allowed)" ;;
	esac
}

targets() {
	local f rc r c ratio nratio s n i lo hi w big=1000000 sbl nftl ipl sbm sbn ns_none ns_sb ns_nft hook
	for f in 4 6; do
		# shellcheck disable=SC2013  # RELAYS:CAMPUS words, no blanks
		for rc in $(awk -F, -v f="$f" '$1 == "matrix" && $2 == f && $5 == "pass" && $6 == "sb" { print $3 ":" $4 }' "$TMP/summary"); do
			r=${rc%:*} c=${rc#*:}
			ratio=$(value matrix pass "$f" "$r" "$c" sb 15)
			nratio=$(value matrix pass "$f" "$r" "$c" nft 15)
			echo "- pass, IPv$f, $r relays: $(verdict "$ratio >= 0.97" "smtpblock $ratio × none (≥ 0.97; end to end $(value matrix pass "$f" "$r" "$c" sb 12))"); $(verdict "$ratio >= $nratio" "nft $nratio × none")"
			ns_none=$(div 1000000000 "$(value matrix pass "$f" "$r" "$c" none 13)" 0)
			ns_sb=$(div 1000000000 "$(value matrix pass "$f" "$r" "$c" sb 13)" 0)
			ns_nft=$(div 1000000000 "$(value matrix pass "$f" "$r" "$c" nft 13)" 0)
			echo "  (router time per packet, guest ns = instructions under icount: none $ns_none, smtpblock $ns_sb, nft $ns_nft)"
		done
		# shellcheck disable=SC2013  # as above
		for rc in $(awk -F, -v f="$f" '$1 == "matrix" && $2 == f && $5 == "block" && $6 == "sb" { print $3 ":" $4 }' "$TMP/summary"); do
			r=${rc%:*} c=${rc#*:}
			s=$(value matrix block "$f" "$r" "$c" sb 13)
			n=$(value matrix block "$f" "$r" "$c" nft 13)
			i=$(value matrix block "$f" "$r" "$c" ipset 13)
			echo "- block, IPv$f, $r relays, $c campus: $(verdict "$s >= 1.5 * $n" "smtpblock/nft = $(div "$s" "$n") (≥ 1.5; end to end $(div "$(value matrix block "$f" "$r" "$c" sb 8)" "$(value matrix block "$f" "$r" "$c" nft 8)"))"); $(verdict "$s >= 2 * $i" "smtpblock/ipset = $(div "$s" "$i") (≥ 2; end to end $(div "$(value matrix block "$f" "$r" "$c" sb 8)" "$(value matrix block "$f" "$r" "$c" ipset 8)"))")"
		done
	done
	hook=$(value calib pass 4 0 0 hook 15)
	[ -z "$hook" ] || echo "- for scale: an empty nftables forward chain alone gives $hook × none (IPv4 pass, calibration)"
	for w in pass block relay; do
		lo=$(value matrix "$w" 4 10 10 sb 13) hi=$(value matrix "$w" 4 "$big" 10 sb 13)
		if [ -n "$lo" ] && [ -n "$hi" ]; then
			echo "- scaling, $w: $(verdict "$hi >= 0.9 * $lo" "smtpblock at 1,000,000 relays = $(div "$hi" "$lo" 3) × at 10 (≥ 0.9; end to end $(div "$(value matrix "$w" 4 "$big" 10 sb 8)" "$(value matrix "$w" 4 10 10 sb 8)" 3))")"
		fi
	done
	sbl=$(load sb "r4_$big+r6_10" 4) nftl=$(load nft "r4_$big" 4) ipl=$(load ipset "r4_$big" 4)
	sbm=$(load sb "r4_$big+r6_10" 5) sbn=$(load sb "r4_$big+r6_10" 3)
	if [ -n "$sbl" ]; then
		echo "- load of 1,000,000 IPv4 relays: $(verdict "$nftl >= 10 * $sbl" "nft -f takes $(div "$nftl" "$sbl" 1)× as long as smtpblock's bulk load (≥ 10×)"); ipset restore $(div "$ipl" "$sbl" 1)×"
		echo "- memory: $(verdict "$sbm <= 16 * $sbn" "smtpblock $(div "$sbm" "$sbn" 1) bytes per entry (≤ 16; stats/memory_bytes after the load over the $sbn entries of both lists, i.e. everything smtpblock holds)")"
	else
		echo "- load and memory of 1,000,000 relays: not measured in this run"
	fi
}

report() {
	local w reps
	reps=$(awk -F, 'NR > 1 { print $7 }' "$VM/raw.csv" | sort -n | tail -n 1)
	echo "# smtpblock benchmark: $(sed -n 's/^kernel: \([^ ]*\).*/\1/p' "$VM/env.txt"), $(date +%Y-%m-%d)"
	echo
	echo "Made by \`$CMD\` (what \`make bench\` runs). Timing: $TIMING."
	echo "Packets per second of guest time. Each cell: **median ratio to \`none\`** ·"
	echo "median packets/s ±spread ((max − min) / median) over $reps repetitions; the"
	echo "configurations alternate within each repetition. \`—\`: not measured."
	echo
	echo "## The router's own throughput (the sender's cost per packet subtracted)"
	echo
	for w in pass block relay; do
		grep -q "^matrix,[^,]*,[^,]*,[^,]*,$w," "$TMP/summary" || continue
		echo "### $(workload_title "$w")"
		echo
		table "$w" router
		echo
	done
	echo "IPv4 rows keep 10 IPv6 relays and campus prefixes, the IPv6 row 10 IPv4 ones."
	echo "iptables-linear (two rules per relay and per campus prefix) only where that"
	echo "is at most 10,000 rules."
	echo
	echo "## Targets (judged on the router's own throughput)"
	echo
	targets
	echo
	echo "![the router's throughput against the relay list size]($BASE.png)"
	echo
	echo "## End to end, as measured (sender and router on the VM's one CPU)"
	echo
	for w in pass block relay; do
		grep -q "^matrix,[^,]*,[^,]*,[^,]*,$w," "$TMP/summary" || continue
		echo "### $w"
		echo
		table "$w" end
		echo
	done
	echo "## Calibration"
	echo
	echo "The floor: packets/s into a link that drops on arrival, i.e. what sending"
	echo "alone costs. \`none\` in a child namespace (the router of every"
	echo "configuration but smtpblock) and an empty nftables forward chain (what any"
	echo "hook costs before it filters), both as the ratio of the router's own"
	echo "throughput to \`none\` in the VM's own namespace (smtpblock's router, before"
	echo "smtpblock is loaded):"
	echo
	echo "| workload | floor | none, own namespace | none, child namespace | empty nft hook |"
	echo "|---|--:|--:|--:|--:|"
	awk -F, '$1 == "calib" {
		k = $5 $2
		if (!(k in S)) { S[k] = 1; K[++n] = k }
		if ($6 == "sink") F[k] = $8 " ±" $11 "%"
		if ($6 == "sb") O[k] = $8 " ±" $11 "% (router " $13 ")"
		if ($6 == "none") C[k] = "**" $15 "** · router " $13 " ±" $14 "%"
		if ($6 == "hook") H[k] = "**" $15 "** · router " $13 " ±" $14 "%"
	}
	END { for (i = 1; i <= n; i++) printf "| %s | %s | %s | %s | %s |\n", K[i], F[K[i]], \
		K[i] in O ? O[K[i]] : "—", K[i] in C ? C[K[i]] : "—", K[i] in H ? H[K[i]] : "—" }' "$TMP/summary"
	echo
	echo "## Loads and memory"
	echo
	echo "Every list load of the run (lists of 1,000 entries and more), into sets that"
	echo "did not exist before (nft, ipset) or replacing smtpblock's list (a bulk load"
	echo "of both families). Memory: smtpblock's own gauge, ipset's \`Size in memory\`,"
	echo "or (nft, iptables) the kernel memory charged to a memory cgroup of the"
	echo "load's own, as it stands once the load's leftovers are freed."
	echo
	echo "| configuration | list | entries | time (s) | memory (bytes) | bytes/entry | memory measured as |"
	echo "|---|---|--:|--:|--:|--:|---|"
	awk -F, 'NR > 1 && $3 >= 1000 {
		printf "| %s | %s | %d | %.2f | %d | %.1f | %s |\n", $1, $2, $3, $4 / 1e6, $5, $5 / $3, $6 }' \
		"$VM/control.csv" | sed 's/^| sb /| smtpblock /; s/^| lin /| iptables-linear /'
	echo
	echo "## Environment"
	echo
	echo '```'
	cat "$VM/env.txt"
	echo '```'
}

report >"$RES/$BASE.md"

# The chart: the router's packets/s against the relay list size (IPv4, 10
# campus prefixes), one panel per workload, one line per configuration.
chart() {
	local w g ws=() plots title
	for w in pass block relay; do
		grep -q "^matrix,4,[^,]*,10,$w," "$TMP/summary" && ws+=("$w")
	done
	[ ${#ws[@]} -gt 0 ] || return 0
	for w in "${ws[@]}"; do
		for g in none sb nft ipset lin; do
			# relays, median, and the median -/+ half the spread: the
			# summary keeps the router's spread, not its min and max.
			awk -F, -v w="$w" -v g="$g" '$1 == "matrix" && $2 == 4 && $4 == 10 && $5 == w &&
				$6 == g && $13 != "" { print $3, $13, $13 * (1 - $14 / 200), $13 * (1 + $14 / 200) }' \
				"$TMP/summary" | sort -n >"$TMP/$w-$g.dat"
		done
	done
	{
		echo "set terminal pngcairo size $((440 * ${#ws[@]} + 60)),520 font 'sans,10'"
		echo "set output '$RES/$BASE.png'"
		# shellcheck disable=SC2028  # the \n is for gnuplot, not for echo
		echo "set multiplot layout 1,${#ws[@]} title \"smtpblock benchmark, $BASE\\nthe router's packets/s (guest time, sender subtracted), IPv4, 10 campus prefixes\""
		echo "set logscale x 10; set xrange [3:3000000]; set format x '10^{%L}'"
		echo "set yrange [0:*]; set grid; set key below"
		echo "set xlabel 'relays in the list'; set ylabel 'packets/s'"
		for w in "${ws[@]}"; do
			echo "set title '$w'"
			plots=""
			for g in none sb nft ipset lin; do
				[ -s "$TMP/$w-$g.dat" ] || continue
				case $g in sb) title=smtpblock ;; lin) title=iptables-linear ;; *) title=$g ;; esac
				plots+="${plots:+, }'$TMP/$w-$g.dat' using 1:2:3:4 with yerrorlines lw 2 title '$title'"
			done
			echo "plot $plots"
		done
		echo "unset multiplot"
	} >"$TMP/plot.gp"
	gnuplot "$TMP/plot.gp" || echo "report.sh: gnuplot failed; no chart" >&2
}
chart
echo "report.sh: wrote $RES/$BASE.md, .csv, -load.csv, -raw.csv, .png" >&2
