# SPDX-License-Identifier: GPL-2.0
#
# The test topology and small helpers, shared by tests/smtpblock.sh (the
# VM suite) and tests/demo.sh. See the picture at the top of smtpblock.sh.
# Callers set KO (the module to load) before calling load.

TOOLS=$HERE/tools
SYS=/sys/kernel/smtpblock
RND=$(mktemp -u XXXXXX)
TMP=$(mktemp -d)
CAMPUS="10.0.0.0/8,2001:db8:c::/48"
RELAYS="10.0.2.25,2001:db8:c:2::25,203.0.113.25,2001:db8:e:2::25"
CL4=10.0.1.2 CL6=2001:db8:c:1::2
RL4=10.0.2.25 RL6=2001:db8:c:2::25
MX4=198.51.100.25 MX6=2001:db8:e:1::25
SH4=203.0.113.25 SH6=2001:db8:e:2::25
STATS="syn_seen allowed_external allowed_internal allowed_relay blocked dropped rejected monitored"

ns() { echo "$1-$RND"; }
# on HOST CMD...: runs CMD in HOST's namespace ("router": here).
on() {
	local h=$1
	shift
	if [ "$h" = router ]; then
		"$@"
	else
		ip netns exec "$(ns "$h")" "$@"
	fi
}
# Prints, then runs: the log shows what was done.
pp() { echo "# $*"; "$@"; }

counter() { cat "$SYS/stats/$1"; }

# probe TIMEOUT_MS HOST [-b SRC] ADDR PORT: connected, refused, timeout...
probe() {
	local t=$1 h=$2
	shift 2
	on "$h" "$TOOLS/tcpprobe" connect -t "$t" "$@" | cut -d' ' -f1
}

load() {
	modprobe -q nf_reject_ipv4 && modprobe -q nf_reject_ipv6 || return 1
	insmod "$KO" "$@"
}
load_default() { load campus="$CAMPUS" relays="$RELAYS" "$@"; }
unload() { rmmod smtpblock 2>/dev/null; true; }

wait_for_file() {
	local i
	for i in $(seq 200); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# link HOST V4NET V6NET ID: a veth from the router to namespace HOST.
link() {
	local h=$1 n4=$2 n6=$3 id=$4
	ip netns add "$(ns "$h")" &&
	on "$h" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 &&
	ip link add "r_$h" type veth peer name eth0 netns "$(ns "$h")" &&
	ip addr add "$n4.1/24" dev "r_$h" &&
	ip addr add "$n6::1/64" dev "r_$h" nodad &&
	ip link set "r_$h" up &&
	on "$h" ip link set lo up &&
	on "$h" ip link set eth0 up &&
	on "$h" ip addr add "$n4.$id/24" dev eth0 &&
	on "$h" ip addr add "$n6::$id/64" dev eth0 nodad &&
	on "$h" ip route add default via "$n4.1" &&
	on "$h" ip -6 route add default via "$n6::1"
}

# listen HOST ADDR PORT...: a listener that accepts and closes, until cleanup.
listen() {
	local h=$1 addr=$2
	shift 2
	# Not through on(): a backgrounded function is a subshell, whose
	# death would leave the listener holding our stdout open.
	ip netns exec "$(ns "$h")" "$TOOLS/tcpprobe" listen \
		-r "$TMP/$h-$addr.ready" "$addr" "$@" &
	wait_for_file "$TMP/$h-$addr.ready"
}

setup() {
	sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 &&
	sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
	link cl 10.0.1 2001:db8:c:1 2 &&
	link rl 10.0.2 2001:db8:c:2 25 &&
	link mx 198.51.100 2001:db8:e:1 25 &&
	link sh 203.0.113 2001:db8:e:2 25 &&
	listen mx $MX4 25 587 2525 && listen mx $MX6 25 587 2525 &&
	listen sh $SH4 25 && listen sh $SH6 25 &&
	listen rl $RL4 25 && listen rl $RL6 25
}

cleanup() {
	local h
	unload
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for h in cl rl mx sh; do
		ip netns pids "$(ns "$h")" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$(ns "$h")" 2>/dev/null
		ip link del "r_$h" 2>/dev/null
	done
	rm -rf "$TMP"
}
