#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/lists.sh - the campus and relay lists the benchmark loads, in the
# formats each configuration reads. Runs on the host (native speed: under
# the VM's software emulation awk would spend minutes on a million lines).
#
#   bench/lists.sh DIR LIST...
#
# A LIST is KIND FAMILY _ SIZE, e.g. r4_1000000 (relays, IPv4, 1,000,000
# entries) or c6_10 (campus, IPv6, 10 prefixes). For each, DIR gets:
#
#   LIST.txt     one entry per line (smtpblock's bulk/data format; the
#                source of the iptables-linear rules)
#   LIST.nft     an interval set named LIST in table inet sbb (nft -f)
#   LIST.ipset   a hash:net set named LIST (ipset restore)
#
# The addresses the traffic uses (bench/guest.sh) and how they relate:
#
#   campus  10.0.0.0/8 and 2001:db8:c::/48 first, then /24s from 20.0.0.0
#           and /48s from 2001:db8:1000:: with a gap after each, so that
#           no two entries are adjacent and no tool can merge them
#   relays  10.0.2.25 and 2001:db8:c:2::25 (the `relay` workload's
#           senders, in campus) in the middle of the list (the average
#           case for a linear rule list), the others outside the campus
#           and 13 addresses apart: 11.0.0.0, 11.0.0.13, ...
#
# The `block` workload's sources, 10.1.0.0/16 and 2001:db8:c:0-ffff::2,
# are campus and in no relay list; its destination, 198.51.100.25 or
# 2001:db8:e:1::25, is in neither list.

set -uo pipefail

die() { echo "lists.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: lists.sh DIR LIST..."
DIR=$1
shift
mkdir -p "$DIR" || die "cannot create $DIR"

# entries KIND FAMILY SIZE: the list, one entry per line.
entries() {
	awk -v kind="$1" -v fam="$2" -v n="$3" '
	function v4(a) {
		return sprintf("%d.%d.%d.%d", int(a / 16777216), int(a / 65536) % 256,
			int(a / 256) % 256, a % 256)
	}
	BEGIN {
		if (kind == "c" && fam == 4) {
			print "10.0.0.0/8"
			for (i = 0; i < n - 1; i++)
				print v4(20 * 16777216 + i * 512) "/24"
		} else if (kind == "c") {
			print "2001:db8:c::/48"
			for (i = 0; i < n - 1; i++)
				printf "2001:db8:%x::/48\n", 4096 + 2 * i
		} else {
			mid = int(n / 2)
			for (i = 0; i < n - 1; i++) {
				if (i == mid)
					print (fam == 4 ? "10.0.2.25" : "2001:db8:c:2::25")
				if (fam == 4)
					print v4(11 * 16777216 + 13 * i)
				else
					printf "2001:db8:ff:%x:%x::25\n", int(i / 65536), i % 65536
			}
			if (mid >= n - 1)
				print (fam == 4 ? "10.0.2.25" : "2001:db8:c:2::25")
		}
	}'
}

# The hash size a site would give a set of N entries: the next power of
# two, so that ipset never grows the table during the load.
ipset_hashsize() {
	local h=1024
	while [ "$h" -lt "$1" ]; do h=$((h * 2)); done
	echo "$h"
}

for list in "$@"; do
	[[ $list =~ ^([cr])([46])_([0-9]+)$ ]] || die "bad list name '$list'"
	kind=${BASH_REMATCH[1]} fam=${BASH_REMATCH[2]} size=${BASH_REMATCH[3]}
	[ "$size" -ge 1 ] || die "$list: empty list"
	txt=$DIR/$list.txt
	entries "$kind" "$fam" "$size" >"$txt.tmp" || die "$list: awk failed"
	[ "$(wc -l <"$txt.tmp")" -eq "$size" ] || die "$list: wrong number of entries"
	if [ "$fam" = 4 ]; then type=ipv4_addr family=inet; else type=ipv6_addr family=inet6; fi
	{
		printf 'table inet sbb {\n\tset %s {\n\t\ttype %s\n\t\tflags interval\n\t\telements = {\n' \
			"$list" "$type"
		sed 's/^/\t\t\t/; s/$/,/' "$txt.tmp"
		printf '\t\t}\n\t}\n}\n'
	} >"$DIR/$list.nft"
	{
		echo "create $list hash:net family $family hashsize $(ipset_hashsize "$size") maxelem $((size > 65536 ? size : 65536))"
		sed "s/^/add $list /" "$txt.tmp"
	} >"$DIR/$list.ipset"
	mv "$txt.tmp" "$txt"
done
